#!/bin/sh
# check-rust-refused.sh - chapter 01 says Rust refuses to compile a program
# that shares one client between two threads.  This compiles that program
# and passes only if rustc refuses it for the reasons the text gives
# (E0373: the closure may outlive the borrowed client; E0499: two mutable
# borrows at once).  Without rustc it says so plainly: the claim is then
# unchecked on this machine, not silently passed.
set -u
src=$1
if ! command -v rustc >/dev/null 2>&1; then
    echo "check-rust-refused: NOT CHECKED - rustc is not installed, so $src was not compiled."
    exit 0
fi
out=$(mktemp -d)
log="$out/rustc.log"
if rustc --edition 2021 --error-format short -o "$out/refused" "$src" >"$log" 2>&1; then
    echo "check-rust-refused: rustc ACCEPTED $src, but docs/01-shared-client.md says it is refused" >&2
    rm -rf "$out"
    exit 1
fi
for code in E0373 E0499; do
    if ! grep -q "error\[$code\]" "$log"; then
        echo "check-rust-refused: rustc refused $src, but without error[$code], which the text quotes:" >&2
        cat "$log" >&2
        rm -rf "$out"
        exit 1
    fi
done
echo "check-rust-refused: rustc refuses $src with E0373 and E0499, as docs/01-shared-client.md says"
rm -rf "$out"
