#!/bin/sh
# diagrams.sh - the docs' pictures, drawn with graphviz from docs/diagrams/*.dot.
#
#   scripts/diagrams.sh render   write docs/img/NAME.svg for every NAME.dot
#                                (commit them), and build/diagrams/NAME.png
#                                to look at
#   scripts/diagrams.sh check    fail if a committed SVG is missing or is not
#                                what its .dot renders to today
#
# The SVGs are committed so that the docs show pictures on GitHub and in the
# site without graphviz.  `check` keeps them honest: edit a .dot and forget
# `make diagrams`, and `make docs-check` says which picture is stale.
# Rendering is deterministic for one graphviz version; the check compares
# with what this machine's `dot` makes.
set -u
mode=${1:-}
src=docs/diagrams
img=docs/img
if ! command -v dot >/dev/null 2>&1; then
    echo "diagrams: graphviz's dot is not installed; run 'scripts/setup.sh docs'" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

bad=0
count=0
for dotfile in "$src"/*.dot; do
    [ -e "$dotfile" ] || continue
    name=$(basename "$dotfile" .dot)
    count=$((count + 1))
    if ! dot -Tsvg "$dotfile" -o "$tmp/$name.svg" 2>"$tmp/$name.log"; then
        echo "diagrams: dot could not render $dotfile:" >&2
        cat "$tmp/$name.log" >&2
        bad=1
        continue
    fi
    case "$mode" in
    render)
        mkdir -p "$img" build/diagrams
        cp "$tmp/$name.svg" "$img/$name.svg"
        dot -Tpng -Gdpi=110 "$dotfile" -o "build/diagrams/$name.png" 2>/dev/null
        echo "diagrams: $dotfile -> $img/$name.svg (and build/diagrams/$name.png)"
        ;;
    check)
        if ! cmp -s "$tmp/$name.svg" "$img/$name.svg"; then
            echo "diagrams: $img/$name.svg is missing or older than $dotfile: run 'make diagrams' and commit it" >&2
            bad=1
        fi
        ;;
    *)
        echo "usage: scripts/diagrams.sh render|check" >&2
        exit 2
        ;;
    esac
done
if [ "$count" = 0 ]; then
    echo "diagrams: no .dot files in $src" >&2
    exit 1
fi
[ "$bad" = 0 ] && [ "$mode" = check ] && echo "diagrams: $count picture(s) in $img match their sources in $src"
exit "$bad"
