#!/bin/sh
# bench/run.sh - what `make bench` runs, under build/plain/bin/with-redis
# (which starts a throwaway redis-server and sets REDIS_URL).
#
#   bench/run.sh full|quick|smoke OUT_DIR
#
# Says which machine and Redis the numbers come from, runs the four
# benchmark programs (each writes CSV and a markdown table into OUT_DIR),
# draws the plots with gnuplot (bench/plots.gp), and gathers everything
# into OUT_DIR/results.md, the table `make bench-publish` copies into
# docs/benchmarks.md.  How the figures compare with the maintainers' goals
# goes to OUT_DIR/targets.md, which is printed but never published.
set -eu

mode=${1:?usage: bench/run.sh full|quick|smoke OUT_DIR}
out=${2:?usage: bench/run.sh full|quick|smoke OUT_DIR}
bin=${BENCH_BIN:-build/plain/bench}
case "$mode" in
full) flag= ; how="make bench" ;;
quick) flag=--quick ; how="make bench QUICK=1 (quick)" ;;
smoke) flag=--smoke ; how="make bench-smoke (smoke)" ;;
*) echo "bench/run.sh: mode must be full, quick or smoke (got '$mode')" >&2; exit 2 ;;
esac
: "${REDIS_URL:?bench/run.sh needs REDIS_URL: run it through build/plain/bin/with-redis}"

mkdir -p "$out"
rm -f "$out"/*.csv "$out"/*.md "$out"/bench-*.svg "$out"/bench-*.png
started=$(date +%s)

# The machine: every figure below depends on it.
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
[ -n "$cpu" ] || cpu=$(uname -m)
redis_version=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
{
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`$how\` on"
    echo "$(nproc) CPUs ($cpu), $(uname -sr), redis-server $redis_version on loopback;"
    echo "load average at the start: $load."
} > "$out/machine.md"
echo "== machine"
cat "$out/machine.md"

echo
echo "== channels (no Redis)"
"$bin/bench_channels" $flag --out "$out"
echo
echo "== Redis: the ceiling, five strategies, and pipelined with 16 in flight per caller"
"$bin/bench_redis" $flag --out "$out"
echo
echo "== Redis: tasks on an event loop, and threads sending through it (chapter 11)"
# After bench_redis: it reads the ceiling and the pipelined rows that run wrote.
"$bin/bench_eventloop" $flag --out "$out"
echo
echo "== backpressure"
"$bin/bench_backpressure" $flag --out "$out"
echo
echo "== Pub/Sub fan-out (chapter 09): one publisher, 1, 4 and 16 consumers, and redis-benchmark PUBLISH"
"$bin/bench_pubsub" $flag --out "$out"

echo
echo "== the pool on one server and on a Redis Cluster (chapters 07 and 10)"
"$bin/bench_cluster" $flag --out "$out"

echo
echo "== plots"
gnuplot -e "dir='$out'" bench/plots.gp
ls "$out"/bench-*.svg "$out"/bench-*.png

{
    cat "$out/machine.md"
    echo
    cat "$out/strategies.md" "$out/eventloop.md" "$out/channels.md" "$out/backpressure.md" "$out/pubsub.md" "$out/cluster.md"
} > "$out/results.md"
if [ -s "$out/targets.md" ]; then
    echo
    echo "== the maintainers' goals (bench/README.md; not published)"
    cat "$out/targets.md"
fi
echo
echo "results: $out/results.md, CSV and plots in $out/ ($(( $(date +%s) - started )) s)"
