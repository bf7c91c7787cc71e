#!/bin/sh
# bench/publish.sh - what `make bench-publish` runs: copies the plots and
# the results table of the last `make bench` (in DIR, build/bench by
# default) into the docs:
#
#   DIR/bench-*.svg, DIR/bench-*.png  ->  docs/img/
#   DIR/results.md  ->  docs/benchmarks.md, between the lines
#                       <!-- bench:results begin --> and <!-- bench:results end -->
#
# It refuses a smoke run (one repetition: not a measurement) and warns
# about a quick one.  Review the diff and commit it.
set -eu
dir=${1:-build/bench}
doc=docs/benchmarks.md
begin='<!-- bench:results begin -->'
end='<!-- bench:results end -->'

[ -s "$dir/results.md" ] || { echo "bench-publish: no $dir/results.md: run 'make bench' first" >&2; exit 1; }
if grep -q '(smoke)' "$dir/machine.md"; then
    echo "bench-publish: $dir holds a smoke run, not a measurement: run 'make bench'" >&2
    exit 1
fi
grep -q '(quick)' "$dir/machine.md" && echo "bench-publish: warning: publishing a QUICK run (short runs, noisier figures)" >&2
[ "$(grep -cxF "$begin" "$doc")" = 1 ] && [ "$(grep -cxF "$end" "$doc")" = 1 ] || {
    echo "bench-publish: $doc must have exactly one '$begin' line and one '$end' line" >&2
    exit 1
}
for plot in redis-throughput redis-latency channels backpressure event-loop; do
    for ext in svg png; do
        [ -s "$dir/bench-$plot.$ext" ] || { echo "bench-publish: $dir/bench-$plot.$ext is missing" >&2; exit 1; }
    done
done

tmp="$doc.tmp.$$"
awk -v begin="$begin" -v end="$end" -v results="$dir/results.md" '
    $0 == begin { print; print ""; while ((getline line < results) > 0) print line; print ""; skipping = 1; next }
    $0 == end { skipping = 0 }
    !skipping { print }
' "$doc" > "$tmp"
mv "$tmp" "$doc"
mkdir -p docs/img
for plot in redis-throughput redis-latency channels backpressure event-loop; do
    cp "$dir/bench-$plot.svg" "$dir/bench-$plot.png" docs/img/
done
echo "bench-publish: updated $doc (between the bench:results markers) and docs/img/bench-*.{svg,png}"
