#!/bin/sh
# progress.sh - `make progress`: which chapters your code in chapters/
# passes, and what to do next.  Each chapter's tests are built from your
# copy and run quietly against a throwaway Redis; nothing is changed.
#
#   scripts/progress.sh BUILD_DIR CHAPTER...
set -u
build=$1
shift
next=""
printf '%-27s %-10s %s\n' "chapter" "your code" "tests"
for ch in "$@"; do
    num=${ch%%-*}
    log="$build/chapters/$ch/progress.log"
    mkdir -p "$build/chapters/$ch"
    if ! make --no-print-directory -s "$build/chapters/$ch/test_chapter" "$build/chapters/$ch/$ch" >"$log" 2>&1; then
        state="does not build"
        detail="see: make test-$num"
    elif CHAPTER_PROGRAM="$build/chapters/$ch/$ch" CHAPTER_TSAN_PROGRAM="build/thread/chapters/$ch/$ch" \
            CHAPTER_DOC="docs/$ch.md" CHAPTER_KIND=chapters CK_VERBOSITY=minimal CK_DEFAULT_TIMEOUT=30 \
            "$build/bin/with-redis" --quiet -- "$build/chapters/$ch/test_chapter" >"$log" 2>&1; then
        state="passes"
        detail=$(grep -E '^[0-9]+%: Checks' "$log" | tail -n 1)
    else
        state="not yet"
        detail=$(grep -E '^[0-9]+%: Checks' "$log" | tail -n 1)
        [ -n "$detail" ] || detail="did not finish: see make test-$num"
    fi
    printf '%-27s %-10s %s\n' "$ch" "$state" "$detail"
    if [ -z "$next" ] && [ "$state" != "passes" ]; then
        next=$ch
    fi
done
echo
if [ -z "$next" ]; then
    echo "Every chapter passes. Well done! What comes next: \"Going further\" at the end of docs/08-build-your-own-channel.md, and make bench."
else
    num=${next%%-*}
    echo "Next: chapter $next"
    echo "  read  docs/$next.md"
    if grep -rqs "TODO($num)" "chapters/$next"; then
        echo "  edit  chapters/$next/ (look for TODO($num))"
    else
        echo "  run   make run-$num (nothing to write in this chapter: run it and watch it break)"
    fi
    echo "  check make test-$num     (or: make watch CH=$num, to re-run on every save)"
fi
