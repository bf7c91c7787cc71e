#!/bin/sh
# test-steps-drift.sh - proof that `make check-steps` catches a chapter
# that is not its base plus its step.
#
#   scripts/test-steps-drift.sh STEPS     (make steps-drift-test)
#
# Each case copies solutions/ (sources and manifest) to a scratch folder,
# breaks one thing, runs the checker there, and asserts that it fails with
# a message naming what broke.  The unchanged copy must pass first, or the
# failures below would prove nothing.
set -u
steps=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM
failures=0
cases=0

fresh() { rm -rf "$scratch/solutions" && cp -R solutions "$scratch/solutions"; }
check() { "$steps" check "$scratch/solutions/steps.txt" > "$scratch/out.log" 2>&1; }
pass() { echo "steps-drift-test: ok   $*"; }
fail() { echo "steps-drift-test: FAIL $*" >&2; sed 's/^/    | /' "$scratch/out.log" >&2; failures=$((failures + 1)); }
expect_caught() { # $1: status, $2: what the case is, $3: a string the message must hold
    cases=$((cases + 1))
    if [ "$1" = 0 ]; then fail "$2: the checker passed it"; return; fi
    if ! grep -q -F -- "$3" "$scratch/out.log"; then fail "$2: caught, but the message does not say '$3'"; return; fi
    pass "$2: caught: $(grep -F -- "$3" "$scratch/out.log" | head -n 1 | cut -c1-150)"
}
# The first file of chapter $1 that the manifest leaves inherited.
inherited_file() {
    for f in solutions/"$1"/*.[ch]; do
        name=$(basename "$f")
        grep -E "^$1 " solutions/steps.txt | grep -q -E "[=,]$name([,: ]|\$)" || { echo "$name"; return; }
    done
}

# ---- Control: the chapters pass as they are ----
fresh
cases=$((cases + 1))
if check; then pass "unchanged solutions/ passes"; else fail "unchanged solutions/ does not pass"; fi

# ---- An inherited file drifts by one line ----
fresh
name=$(inherited_file 06-pipelining)
sed -i '1a\ * (a drifted line)' "$scratch/solutions/06-pipelining/$name"
check; expect_caught $? "one line added to the inherited 06-pipelining/$name" "06-pipelining/$name differs from 05-backpressure/$name"

# ---- The adapted files change by more than 60 lines ----
fresh
i=0; while [ $i -lt 61 ]; do echo "/* filler $i */" >> "$scratch/solutions/06-pipelining/producer.c"; i=$((i + 1)); done
check; expect_caught $? "61 lines added to the adapted 06-pipelining/producer.c" "outside the files it teaches"

# ---- A new file the manifest does not list ----
fresh
echo "/* new */" > "$scratch/solutions/06-pipelining/extra.c"
check; expect_caught $? "a new file 06-pipelining/extra.c" "06-pipelining/extra.c is new"

# ---- A file of the base left out without drops= ----
fresh
rm "$scratch/solutions/06-pipelining/command.c"
check; expect_caught $? "06-pipelining without chapter 05's command.c" "05-backpressure/command.c is not in 06-pipelining"

# ---- A main.c over 80 lines of code ----
fresh
i=0; while [ $i -lt 81 ]; do echo "static int filler_$i;" >> "$scratch/solutions/01-shared-client/main.c"; i=$((i + 1)); done
check; expect_caught $? "81 lines of code added to 01-shared-client/main.c" "01-shared-client/main.c has"

# ---- A chapter folder without a line in the manifest ----
fresh
mkdir "$scratch/solutions/99-new" && cp solutions/01-shared-client/main.c "$scratch/solutions/99-new/"
check; expect_caught $? "a chapter 99-new without a manifest line" "99-new has no line in the manifest"

if [ $failures -gt 0 ]; then
    echo "steps-drift-test: $failures of $cases cases failed" >&2
    exit 1
fi
echo "steps-drift-test: all $cases cases behave: check-steps catches each kind of drift"
