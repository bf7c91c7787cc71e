#!/bin/sh
# test-docs-drift.sh - proof that `make docs-check` catches drift.
#
#   scripts/test-docs-drift.sh SNIP     (make docs-drift-test)
#
# Each case copies one doc into a scratch copy of the repository (every
# other file is a symlink to the real one), breaks it in one way, runs the
# checker there, and asserts that it fails and that its message names the
# place: the doc's line, and for a snippet the source region.  The unchanged
# copies must pass first, or the failures below would prove nothing.
set -u
snip=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
repo=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT INT TERM
failures=0
cases=0

# A scratch repository: symlinks to everything, docs/ as a real folder.
mkdir -p "$scratch/docs"
for entry in "$repo"/* "$repo"/.[!.]*; do
    [ -e "$entry" ] || continue
    name=$(basename "$entry")
    case "$name" in docs | .git) continue ;; esac
    ln -s "$entry" "$scratch/$name"
done
for entry in "$repo"/docs/*; do ln -s "$entry" "$scratch/docs/$(basename "$entry")"; done
# Replace the symlink of a doc by a private copy that may be edited.
own_copy() { rm -f "$scratch/docs/$1"; cp "$repo/docs/$1" "$scratch/docs/$1"; }
restore() { rm -f "$scratch/docs/$1"; ln -s "$repo/docs/$1" "$scratch/docs/$1"; }
# The line number of the first line of docs/$1 that equals $2 exactly.
line_of() { grep -n -x -F -- "$2" "$scratch/docs/$1" | head -n 1 | cut -d: -f1; }
# Replace line $2 of docs/$1 by $3.
set_line() {
    awk -v n="$2" -v text="$3" 'NR == n { print text; next } { print }' "$scratch/docs/$1" > "$scratch/edit.tmp" &&
        cat "$scratch/edit.tmp" > "$scratch/docs/$1"
}
check() { (cd "$scratch" && "$snip" check-docs "docs/$1") > "$scratch/out.log" 2>&1; }
check_api() { (cd "$scratch" && "$snip" check-api docs/channels.md common/chan.h common/mpsc.h common/oneshot.h common/broadcast.h common/watch.h) > "$scratch/out.log" 2>&1; }
pass() { echo "docs-drift-test: ok   $*"; }
fail() { echo "docs-drift-test: FAIL $*" >&2; sed 's/^/    | /' "$scratch/out.log" >&2; failures=$((failures + 1)); }
# Asserts the last check failed and its output holds every given string.
expect_caught() { # $1: status, $2: what the case is, then the strings
    status=$1 what=$2
    shift 2
    cases=$((cases + 1))
    if [ "$status" = 0 ]; then fail "$what: the checker passed it"; return; fi
    for s in "$@"; do
        if ! grep -q -F -- "$s" "$scratch/out.log"; then fail "$what: caught, but the message does not name '$s'"; return; fi
    done
    # Quote the line that names the first expected string: other lines may
    # be about something else (an output block needs a Redis, say).
    pass "$what: caught: $(grep -F -- "$1" "$scratch/out.log" | head -n 1 | cut -c1-160)"
}

# ---- Controls: the docs used below pass as they are ----
for doc in channels.md tokio-to-c.md; do
    cases=$((cases + 1))
    if check "$doc"; then pass "unchanged docs/$doc passes"; else fail "unchanged docs/$doc does not pass"; fi
done
cases=$((cases + 1))
if check_api; then pass "unchanged docs/channels.md names every channel function"; else fail "check-api fails on the unchanged docs/channels.md"; fi

# docs/02-mutex.md folds its exercises' solutions (its output block needs a
# Redis, which this script does not start: only the fold is looked at).
cases=$((cases + 1))
(cd "$scratch" && "$snip" check-docs --folded-solutions=all docs/02-mutex.md) > "$scratch/out.log" 2>&1
if grep -q "outside a folded solution" "$scratch/out.log"; then
    fail "unchanged docs/02-mutex.md shows a solution outside its fold"
else
    pass "unchanged docs/02-mutex.md keeps every exercise's solution folded"
fi

# ---- 1. One line of a quoted snippet changed ----
own_copy channels.md
n=$(line_of channels.md 'ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);')
set_line channels.md "$n" 'ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_EMPTY);'
check channels.md
status=$?
begin=$(grep -n '//> snippet drain_then_closed' "$repo/tests/common/test_mpsc.c" | cut -d: -f1)
end=$(grep -n '//< snippet drain_then_closed' "$repo/tests/common/test_mpsc.c" | cut -d: -f1)
expect_caught $status "a changed line in a snippet" "docs/channels.md:$n:" \
    "tests/common/test_mpsc.c#drain_then_closed" "tests/common/test_mpsc.c lines $begin-$end"
restore channels.md

# Cases 2 and 3 quote a region in a doc of their own, so that they hold
# whatever the texts happen to quote.
region_file=tests/common/test_mpsc.c
region=drain_then_closed
case_doc() { # writes docs/drift-case.md: a comment line, then the block from stdin
    { printf '# Drift case\n\n%s\n```c\n' "$1"; cat; printf '```\n'; } > "$scratch/docs/drift-case.md"
}

# ---- 2. A partial snippet whose kept lines drifted ----
{ "$snip" region "$repo/$region_file" "$region" | head -n 2; echo '...'
  "$snip" region "$repo/$region_file" "$region" | tail -n 1; } | case_doc "<!-- snippet: $region_file#$region partial -->"
cases=$((cases + 1))
if check drift-case.md; then pass "a partial snippet of $region_file#$region passes"; else fail "a partial snippet of $region_file#$region does not pass"; fi
n=$(grep -n -x -F -- '...' "$scratch/docs/drift-case.md" | cut -d: -f1)
n=$((n + 1))
set_line drift-case.md "$n" 'int drifted = 1;'
check drift-case.md
expect_caught $? "a changed line in a partial snippet" "docs/drift-case.md:$n:" \
    "partial block is not a part of $region_file#$region"

# ---- 3. A wrong-on-purpose snippet changed outside its WRONG line ----
{ "$snip" region "$repo/$region_file" "$region"; echo 'mpsc_sender_drop(tx); /* WRONG: dropped twice */'; } |
    case_doc "<!-- snippet: $region_file#$region wrong-on-purpose -->"
cases=$((cases + 1))
if check drift-case.md; then pass "a wrong-on-purpose snippet of $region_file#$region passes"; else fail "a wrong-on-purpose snippet of $region_file#$region does not pass"; fi
n=5
set_line drift-case.md "$n" 'int drifted = 1;'
check drift-case.md
expect_caught $? "a changed line in a wrong-on-purpose snippet" "docs/drift-case.md:$n:" \
    "$region_file#$region"
rm -f "$scratch/docs/drift-case.md"

# ---- 4. A link to a heading that does not exist ----
own_copy tokio-to-c.md
n=$(grep -n '(03-manager-task.md#the-receive-loop)' "$scratch/docs/tokio-to-c.md" | head -n 1 | cut -d: -f1)
sed "${n}s/#the-receive-loop/#the-receive-lop/" "$repo/docs/tokio-to-c.md" > "$scratch/docs/tokio-to-c.md"
check tokio-to-c.md
expect_caught $? "a link to a missing #anchor" "docs/tokio-to-c.md:$n:" "#the-receive-lop"
restore tokio-to-c.md

# ---- 5. A link to a file that does not exist ----
own_copy channels.md
n=$(grep -n '(benchmarks.md)' "$scratch/docs/channels.md" | head -n 1 | cut -d: -f1)
sed "${n}s/(benchmarks.md)/(benchmark.md)/" "$repo/docs/channels.md" > "$scratch/docs/channels.md"
check channels.md
expect_caught $? "a link to a missing file" "docs/channels.md:$n:" "broken link 'benchmark.md'"
restore channels.md

# ---- 6. An untagged code block ----
own_copy channels.md
printf '\n```c\nint x = 1;\n```\n' >> "$scratch/docs/channels.md"
n=$(grep -n -x '```c' "$scratch/docs/channels.md" | tail -n 1 | cut -d: -f1)
check channels.md
expect_caught $? "a C block that is neither a snippet nor tagged" "docs/channels.md:$n:" "neither a checked snippet nor tagged"
restore channels.md

# ---- 7. A command that does not work as written ----
own_copy channels.md
printf '\n```sh\n$ make no-such-target-here\n```\n' >> "$scratch/docs/channels.md"
n=$(grep -n -x -F '$ make no-such-target-here' "$scratch/docs/channels.md" | cut -d: -f1)
check channels.md
expect_caught $? "a \$ command naming a missing make target" "docs/channels.md:$n:" "no-such-target-here"
restore channels.md

# ---- 8. A channel function the reference no longer names ----
own_copy channels.md
sed 's/mpsc_sender_len/mpsc_sender_length/g' "$repo/docs/channels.md" > "$scratch/docs/channels.md"
check_api
expect_caught $? "a public function missing from docs/channels.md" "does not mention mpsc_sender_len" "common/mpsc.h:"
restore channels.md

# ---- 9. A command shown above an output block that runs something else ----
own_copy 02-mutex.md
n=$(line_of 02-mutex.md '$ make run-02 ARGS="--threads 2 --iterations 3"')
set_line 02-mutex.md "$n" '$ make run-02 ARGS="--threads 3 --iterations 3"'
check 02-mutex.md
expect_caught $? "a shown command that no longer matches its output block" "docs/02-mutex.md:$n:" \
    "runs \`build/plain/solutions/02-mutex/02-mutex --threads 3 --iterations 3\`"
restore 02-mutex.md

# ---- 10. An exercise's finished code shown outside a folded solution ----
# With every doc held to it (--folded-solutions=all, the switch's final
# position), the fold taken away ...
own_copy 02-mutex.md
grep -v -x -e '<details>' -e '<summary>Show the solution</summary>' -e '</details>' \
    "$repo/docs/02-mutex.md" > "$scratch/docs/02-mutex.md"
n=$(grep -n -F '<!-- snippet: solutions/02-mutex/locked_client.c#locked_get -->' "$scratch/docs/02-mutex.md" | cut -d: -f1)
(cd "$scratch" && "$snip" check-docs --folded-solutions=all docs/02-mutex.md) > "$scratch/out.log" 2>&1
expect_caught $? "an exercise's solution no longer folded (all docs held)" "docs/02-mutex.md:$n:" \
    "solutions/02-mutex/locked_client.c#locked_get" "outside a folded solution"
restore 02-mutex.md
# ... and, with only converted docs held (what make docs-check passes until
# every chapter is converted), a second copy of it outside the fold.
own_copy 02-mutex.md
printf '\n<!-- snippet: solutions/02-mutex/locked_client.c#locked_get -->\n```c\n' >> "$scratch/docs/02-mutex.md"
"$snip" region "$repo/solutions/02-mutex/locked_client.c" locked_get >> "$scratch/docs/02-mutex.md"
printf '```\n' >> "$scratch/docs/02-mutex.md"
n=$(grep -n -F '<!-- snippet: solutions/02-mutex/locked_client.c#locked_get -->' "$scratch/docs/02-mutex.md" | tail -n 1 | cut -d: -f1)
(cd "$scratch" && "$snip" check-docs --folded-solutions=converted docs/02-mutex.md) > "$scratch/out.log" 2>&1
expect_caught $? "an exercise's solution shown again outside its fold (converted docs held)" "docs/02-mutex.md:$n:" \
    "outside a folded solution"
restore 02-mutex.md

# ---- 11. A picture whose source changed but was not re-rendered ----
rm -f "$scratch/docs/diagrams"
cp -R "$repo/docs/diagrams" "$scratch/docs/diagrams"
sed 's/32 of 32 slots taken/31 of 32 slots taken/' "$repo/docs/diagrams/backpressure.dot" > "$scratch/docs/diagrams/backpressure.dot"
(cd "$scratch" && scripts/diagrams.sh check) > "$scratch/out.log" 2>&1
expect_caught $? "a diagram source edited without 'make diagrams'" "docs/img/backpressure.svg" "docs/diagrams/backpressure.dot"

# ---- 11. A source line cited by number in prose ----
own_copy channels.md
printf '\nThe receiver sleeps at `common/mpsc.c:604`.\n' >> "$scratch/docs/channels.md"
n=$(grep -n -F 'common/mpsc.c:604' "$scratch/docs/channels.md" | cut -d: -f1)
check channels.md
expect_caught $? "a line number cited in prose" "docs/channels.md:$n:" "'common/mpsc.c:604' cites a line number"
restore channels.md

# ---- 12. A report block: what varies is normalised, what drifts is caught ----
# The command prints a pid, an address, a thread id and a timing that differ
# from the block's; only its last line is made to drift.
cat > "$scratch/docs/drift-case.md" <<'CASE'
# Drift case

<!-- report: echo "WARNING: data race (pid=$$) at 0x$$ by thread T$$ after $$ ms"; echo "    #$$ run_round solutions/x.c:84" -->
```text
WARNING: data race (pid=12) at 0x7b04 by thread T2 after 0.5 ms
    #3 run_round solutions/x.c:84
```
CASE
cases=$((cases + 1))
if check drift-case.md; then pass "a report block passes whatever pid, address, thread and timing the run prints"; else fail "a report block does not pass with other pids, addresses, threads and timings"; fi
set_line drift-case.md 6 '    #3 run_round solutions/x.c:85'
check drift-case.md
expect_caught $? "a report block whose line numbers drifted" "docs/drift-case.md:6:" "does not hold the block's lines" \
    "run_round solutions/x.c:85"
rm -f "$scratch/docs/drift-case.md"

# ---- 13. A section a test hint names, renamed in the text ----
own_copy 02-mutex.md
sed 's/^## The fix$/## The remedy/' "$repo/docs/02-mutex.md" > "$scratch/docs/02-mutex.md"
(cd "$scratch" && "$snip" check-hints docs tests/chapters/test_02.c) > "$scratch/out.log" 2>&1
expect_caught $? "a heading renamed under a test's hint" "tests/chapters/test_02.c:" \
    'section "The fix", which is no heading of docs/02-mutex.md'
restore 02-mutex.md

# ... and one a program's message cites in words
own_copy 02-mutex.md
sed 's/^## Why the whole round trip$/## Why the round trip/' "$repo/docs/02-mutex.md" > "$scratch/docs/02-mutex.md"
(cd "$scratch" && "$snip" check-hints docs solutions/02-mutex/main.c) > "$scratch/out.log" 2>&1
expect_caught $? "a heading renamed under a program's citation" "solutions/02-mutex/main.c:" \
    'section "Why the whole round trip"'
restore 02-mutex.md

# ---- 14. A chapter over its word bound ----
own_copy 02-mutex.md
i=0
while [ $i -lt 200 ]; do
    echo "This sentence says again what the chapter has already said once." >> "$scratch/docs/02-mutex.md"
    i=$((i + 1))
done
(cd "$scratch" && "$snip" check-words 2000 13000 1 8 docs/02-mutex.md) > "$scratch/out.log" 2>&1
expect_caught $? "a chapter over its word bound" "docs/02-mutex.md:" "over the bound of 2000"
restore 02-mutex.md

if [ "$failures" -ne 0 ]; then
    echo "docs-drift-test: $failures of $cases case(s) FAILED" >&2
    exit 1
fi
echo "docs-drift-test: all $cases cases behaved: drifted snippets and reports, line numbers in prose, unfolded solutions, broken links, bad commands, missing functions, renamed hint sections, chapters over their word bound and stale pictures are caught"
