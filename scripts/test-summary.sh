#!/bin/sh
# test-summary.sh - the screen `make test` ends with: each part, what it
# checked, how long it took, and whether it passed.  Each part wrote
# "SECONDS<TAB>what it checked" into SUMMARY_DIR/PART when it passed (the
# time it finished); a part without a line failed or did not run (make
# stops at the first failure, whose own message is above).
#
#   scripts/test-summary.sh SUMMARY_DIR STATUS STARTED_AT PART...
set -u
dir=$1 status=$2 started=$3
shift 3
now=$(date +%s)
elapsed=$((now - started))
echo
if [ "$status" = 0 ]; then
    echo "== make test: every part passed, in $((elapsed / 60)) min $((elapsed % 60)) s =="
else
    echo "== make test: a part FAILED (its message is above), after $((elapsed / 60)) min $((elapsed % 60)) s =="
fi
failed_seen=0
previous=$started
tab=$(printf '\t')
for part in "$@"; do
    if [ -f "$dir/$part" ]; then
        IFS="$tab" read -r finished what < "$dir/$part"
        case "$finished" in
        '' | *[!0-9]*) took="?" ;;
        *)
            took=$((finished - previous))
            [ "$took" -ge 0 ] || took=0
            previous=$finished
            ;;
        esac
        printf '  %-16s %4s s  %-7s  %s\n' "$part" "$took" "passed" "$what"
    elif [ "$failed_seen" = 0 ] && [ "$status" != 0 ]; then
        printf '  %-16s %4s    %-7s  %s\n' "$part" "" "FAILED" "(see its message above)"
        failed_seen=1
    else
        printf '  %-16s %4s    %-7s\n' "$part" "" "not run"
    fi
done
