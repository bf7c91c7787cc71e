#!/bin/sh
# learner-san.sh - which build `make test-NN` gives the learner's code in
# chapters/: the strict one where this machine supports it.
#
#   scripts/learner-san.sh CC            prints the make variables to use:
#                                          "SAN=address"                  strict
#                                          "SAN=address DETECT_LEAKS=0"   no LeakSanitizer here
#                                          "SAN=none"                     plain
#   scripts/learner-san.sh CC --explain  prints one sentence for people instead
#
# The strict build is AddressSanitizer + UndefinedBehaviorSanitizer with
# LeakSanitizer on: a leak, a double free or a use after free then fails the
# chapter, with the file and line.  The answer is probed once (a tiny
# program that leaks on purpose must be caught) and kept in
# build/.learner-san until the compiler changes.
set -u
cc=${1:-cc}
explain=${2:-}
cache=build/.learner-san
version=$("$cc" --version 2>/dev/null | head -n 1)

probe() {
    tmp=$(mktemp -d) || { echo "SAN=none"; return; }
    printf '#include <stdlib.h>\nint main(void){ char *p = malloc(7); p[0] = 1; p = 0; return 0; }\n' > "$tmp/leak.c"
    printf 'int main(void){ return 0; }\n' > "$tmp/ok.c"
    flags="-fsanitize=address,undefined -fno-omit-frame-pointer -g"
    if ! "$cc" $flags "$tmp/ok.c" -o "$tmp/ok" >/dev/null 2>&1 ||
        ! ASAN_OPTIONS=detect_leaks=0 "$tmp/ok" >/dev/null 2>&1; then
        echo "SAN=none"
    elif "$cc" $flags -O0 "$tmp/leak.c" -o "$tmp/leak" >/dev/null 2>&1 &&
        ! ASAN_OPTIONS=detect_leaks=1:exitcode=23 "$tmp/leak" >"$tmp/out" 2>&1 &&
        grep -q 'LeakSanitizer: detected memory leaks' "$tmp/out"; then
        echo "SAN=address"
    else
        echo "SAN=address DETECT_LEAKS=0"
    fi
    rm -rf "$tmp"
}

answer=""
if [ -f "$cache" ] && [ "$(head -n 1 "$cache")" = "$version" ]; then
    answer=$(sed -n 2p "$cache")
fi
if [ -z "$answer" ]; then
    answer=$(probe)
    mkdir -p build && printf '%s\n%s\n' "$version" "$answer" > "$cache"
fi

if [ "$explain" != "--explain" ]; then
    echo "$answer"
    exit 0
fi
case "$answer" in
"SAN=address")
    echo "make test-NN builds your code with AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer (strict: leaks, double frees and use after free fail the chapter); SAN=none gives a plain build" ;;
"SAN=address DETECT_LEAKS=0")
    echo "make test-NN builds your code with AddressSanitizer and UndefinedBehaviorSanitizer, but LeakSanitizer does not work here (often: running under ptrace or in a restricted container), so leaks are not caught" ;;
*)
    echo "make test-NN builds your code plain: this compiler cannot build and run with -fsanitize=address,undefined, so leaks, double frees and use after free are not caught (install the sanitizer runtime, e.g. libasan and libubsan, then make clean)" ;;
esac
