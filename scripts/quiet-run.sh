#!/bin/sh
# quiet-run.sh - runs one test binary with its output kept in a log, and says
# in one line what it checked.  The whole log is shown when it fails (and
# always with V=1), so nothing is hidden that matters.
#
#   scripts/quiet-run.sh LABEL LOG COUNT_FILE -- COMMAND...
#
# On success prints "LABEL: N checks passed", N being the sum of Check's
# "Checks: N" lines in LOG, and adds N to COUNT_FILE ("-": none).  On
# failure prints LOG and "LABEL: FAILED", and exits with COMMAND's status.
set -u
label=$1 log=$2 counts=$3
shift 3
[ "${1:-}" = "--" ] && shift
mkdir -p "$(dirname "$log")"
"$@" > "$log" 2>&1
rc=$?
checks=$(sed -n 's/^[0-9]*%: Checks: \([0-9]*\).*/\1/p' "$log" | awk '{ n += $1 } END { print n + 0 }')
if [ "$rc" != 0 ]; then
    cat "$log"
    echo "$label: FAILED (exit status $rc; the output above is also in $log)" >&2
    exit "$rc"
fi
[ -n "${V:-}" ] && cat "$log"
[ "$counts" != "-" ] && echo "$checks" >> "$counts"
echo "$label: $checks checks passed"
