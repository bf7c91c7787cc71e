#!/bin/sh
# progress.sh - `make progress`: which chapters your code in chapters/
# passes, and what to do next.  "passes" means `make test-NN` passes, in the
# same strict build (AddressSanitizer, UBSan, LeakSanitizer) it uses.
#
#   scripts/progress.sh "SAN=..." "FLAGS" CHAPTER...
#
# The first argument is the SAN the learner gave `make progress` (or ""),
# the second the build settings that change what is built.
#
# A chapter's last result is reused while nothing it is built from has
# changed: a checksum of its folder in chapters/, its test, tests/support/,
# common/, the Makefile, the tools, the build settings and the compiler
# (contents, not times, so a touched file or a fresh clone changes nothing).
# The chapters that must run again are built by one make, then tested
# PROGRESS_JOBS (default 2) at a time.  Results live in build/progress/.
set -u
san_arg=$1
flags=$2
shift 2
dir=build/progress
jobs=${PROGRESS_JOBS:-2}
mkdir -p "$dir"

compiler=$(${CC:-cc} --version 2>/dev/null | head -n 1)
learner=$(scripts/learner-san.sh "${CC:-cc}")

# The checksum of everything chapter $1's result depends on.
key_of() {
    ch=$1
    num=${ch%%-*}
    {
        printf '%s\n' "$ch" "$san_arg" "$flags" "$compiler" "$learner"
        for f in chapters/"$ch"/* tests/chapters/test_"$num".c tests/support/* common/* \
            tests/common/test_mpsc.c tests/common/test_mpsc.h Makefile tools/*.c \
            tests/chapters/sections.txt scripts/learner-san.sh; do
            [ -f "$f" ] || continue
            printf '%s\n' "$f"
            cat "$f"
        done
    } | cksum
}

# The chapters whose result must be made again.
stale=""
for ch in "$@"; do
    key=$(key_of "$ch")
    if [ -f "$dir/$ch.state" ] && [ "$(cat "$dir/$ch.key" 2>/dev/null)" = "$key" ]; then
        continue
    fi
    rm -f "$dir/$ch.state"
    echo "$key" > "$dir/$ch.key.new"
    stale="$stale $ch"
done

if [ -n "$stale" ]; then
    if [ "$(echo $stale | wc -w)" = "$#" ]; then
        echo "progress: testing every chapter (later calls test only what changed)"
    else
        echo "progress: testing$stale (the others are unchanged since their last run)"
    fi
    # What every chapter test shares is built once, so that the chapters
    # can then build and run side by side.
    # shellcheck disable=SC2086
    make --no-print-directory -s learner-deps $san_arg >"$dir/deps.log" 2>&1 || {
        cat "$dir/deps.log"
        echo "progress: the tools and common/ did not build (see above)" >&2
        exit 1
    }
    run_one() {
        ch=$1
        num=${ch%%-*}
        # shellcheck disable=SC2086
        make --no-print-directory -s "test-$num" $san_arg >"$dir/$ch.log" 2>&1
        rc=$?
        if [ "$rc" = 0 ]; then
            state="passes"
        elif ! grep -q '^== chapter ' "$dir/$ch.log"; then
            state="does not build"
        else
            state="not yet"
        fi
        # Check's summary of each suite; chapter 08 runs two.
        checks=$(grep -E '^[0-9]+%: Checks' "$dir/$ch.log")
        case "$state" in
        "does not build") detail="see: make test-$num" ;;
        *)
            if [ -z "$checks" ]; then
                detail="did not finish: see make test-$num"
            elif [ -n "$(grep -l 'Running suite(s): mpsc' "$dir/$ch.log")" ]; then
                detail="$(echo "$checks" | sed -n 1p); mpsc suite: $(echo "$checks" | sed -n 2p)"
            elif grep -q "mpsc suite runs once" "$dir/$ch.log"; then
                detail="$checks; mpsc suite: runs once these pass"
            else
                detail=$(echo "$checks" | tail -n 1)
            fi
            ;;
        esac
        if grep -q '^== what happened ==' "$dir/$ch.log"; then
            detail="$detail; a crash or a leak: make test-$num explains"
        fi
        printf '%s\n%s\n' "$state" "$detail" > "$dir/$ch.state"
        mv "$dir/$ch.key.new" "$dir/$ch.key"
    }
    n=0
    for ch in $stale; do
        run_one "$ch" &
        n=$((n + 1))
        [ $((n % jobs)) = 0 ] && wait
    done
    wait
    echo
fi

next=""
printf '%-27s %-15s %s\n' "chapter" "your code" "tests"
for ch in "$@"; do
    state=$(sed -n 1p "$dir/$ch.state" 2>/dev/null)
    detail=$(sed -n 2p "$dir/$ch.state" 2>/dev/null)
    [ -n "$state" ] || { state="not run"; detail="make test-${ch%%-*} was stopped"; }
    printf '%-27s %-15s %s\n' "$ch" "$state" "$detail"
    if [ -z "$next" ] && [ "$state" != "passes" ]; then
        next=$ch
    fi
done
echo
case "$learner$san_arg" in
*SAN=none*) echo "(plain build: leaks, double frees and use after free are not caught here; make doctor says why)" ;;
esac
if [ -z "$next" ]; then
    echo "Every chapter passes. Well done! What comes next: make bench measures everything you built against redis-benchmark; docs/benchmarks.md explains the figures."
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
