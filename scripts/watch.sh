#!/bin/sh
# watch.sh - `make watch CH=02`: re-runs chapter 02's tests every time a file
# in chapters/02-*/ is saved.  Uses inotifywait when it is installed
# (package inotify-tools), and otherwise looks for changes once a second.
set -u
num=${1:-}
if [ -z "$num" ]; then
    echo "usage: make watch CH=NN   (for example: make watch CH=02)" >&2
    exit 2
fi
dir=$(ls -d chapters/"$num"-* 2>/dev/null | head -n 1)
if [ -z "$dir" ]; then
    echo "watch: there is no chapters/$num-* folder; chapters are: $(ls chapters | tr '\n' ' ')" >&2
    exit 2
fi
fingerprint() { ls -l --time-style=+%s.%N "$dir" 2>/dev/null | cksum; }
echo "watch: running 'make test-$num' now and whenever a file in $dir/ changes (Ctrl-C to stop)"
while :; do
    make --no-print-directory "test-$num"
    echo "watch: waiting for changes in $dir/ ..."
    if command -v inotifywait >/dev/null 2>&1; then
        inotifywait -qq -e close_write,moved_to,create "$dir" || exit 0
    else
        before=$(fingerprint)
        while [ "$(fingerprint)" = "$before" ]; do sleep 1; done
    fi
done
