#!/bin/sh
# compile-commands.sh - writes a compile_commands.json for clangd and other
# editors, so that "go to definition" and error squiggles work in every .c
# file of the tree.  Called by `make compile_commands.json`.
#
#   scripts/compile-commands.sh CC "FLAGS"   > compile_commands.json
#
# Each file gets the flags the Makefile uses, plus the include folders of
# its own kind (tests see tests/support; chapter code sees its own folder).
set -eu
cc=$1
flags=$2
top=$(pwd)

json_escape() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

printf '[\n'
first=1
for src in $(find common tools tests chapters solutions bench -name '*.c' 2>/dev/null | sort); do
    extra="-Itests/support -I$(dirname "$src")"
    [ $first = 1 ] || printf ',\n'
    first=0
    cmd="$cc $flags $extra -c $src"
    printf '  { "directory": "%s", "file": "%s", "command": "%s" }' \
        "$(json_escape "$top")" "$(json_escape "$src")" "$(json_escape "$cmd")"
done
printf '\n]\n'
