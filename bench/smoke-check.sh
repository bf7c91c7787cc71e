#!/bin/sh
# bench/smoke-check.sh - checks what a `bench/run.sh smoke DIR` run left in
# DIR: every CSV file with its header and one row per case, the markdown
# results, and every plot in both formats.  Behaviour only: no timing is
# judged here (the run itself already failed if a GET returned the wrong
# value or a channel lost a message).
set -u
dir=${1:?usage: bench/smoke-check.sh DIR}
bad=0
fail() { echo "bench-smoke: $*" >&2; bad=1; }

# check_csv FILE HEADER ROWS
check_csv() {
    f="$dir/$1"
    if [ ! -s "$f" ]; then fail "$f is missing or empty"; return; fi
    [ "$(head -n 1 "$f")" = "$2" ] || fail "$f: header is '$(head -n 1 "$f")', expected '$2'"
    rows=$(($(wc -l < "$f") - 1))
    [ "$rows" = "$3" ] || fail "$f: $rows rows, expected $3 (one per case)"
}

# Smoke sizes: 12 channel cases; 6 strategies (the five designs and
# pipelined-k16) x threads {1, 8} x values {16, 1024}; 3 pipeline depths x
# 2 values; bounded and unbounded x 10^3.
check_csv channels.csv "case,unit,reps,median_ns,min_ns,max_ns,sleeps_per_unit,target_ns" 12
check_csv strategies.csv "strategy,threads,value_bytes,reps,ops_per_s,ops_min,ops_max,p50_us,p99_us,fraction_of_ceiling,avg_batch,sleeps_per_op" 24
check_csv ceiling.csv "pipeline,value_bytes,reps,set_ops_per_s,get_ops_per_s,mix_ops_per_s,mix_min,mix_max" 6
check_csv backpressure.csv "queue,commands,reps,peak_rss_kib,rss_min_kib,rss_max_kib,seconds" 2
# Pub/Sub fan-out: 1, 4 and 16 consumers.
check_csv pubsub.csv "consumers,messages,reps,delivered_per_s,delivered_min,delivered_max,deliveries_per_s,publish_ceiling_per_s,fraction_of_ceiling,missed" 3

# The pool on one server and on a cluster: one row each.
check_csv cluster.csv "pool,threads,reps,ops_per_s,ops_min,ops_max" 2

# Chapter 11: event-loop x tasks {8, 64} and threads-to-loop x threads {8},
# x values {16, 1024}.
check_csv eventloop.csv "strategy,callers,value_bytes,reps,ops_per_s,ops_min,ops_max,fraction_of_ceiling,sleeps_per_op,cpu_us_per_op,peak_rss_kib,window" 6

# Every measured throughput, time and RSS is a positive number.
for spec in strategies.csv:5 ceiling.csv:6 channels.csv:4 backpressure.csv:4 pubsub.csv:4 pubsub.csv:8 cluster.csv:4 eventloop.csv:5; do
    f="$dir/${spec%:*}"; col=${spec#*:}
    [ -s "$f" ] || continue
    awk -F, -v c="$col" -v f="$f" 'NR > 1 && !($c + 0 > 0) { print "bench-smoke: " f ", row " NR ": column " c " is \"" $c "\", not a positive number"; bad = 1 } END { exit bad }' "$f" >&2 || bad=1
done

for name in machine.md results.md pubsub.md; do
    [ -s "$dir/$name" ] || fail "$dir/$name is missing or empty"
done
for plot in redis-throughput redis-latency channels backpressure event-loop; do
    svg="$dir/bench-$plot.svg"; png="$dir/bench-$plot.png"
    grep -q '<svg' "$svg" 2>/dev/null || fail "$svg is missing or not an SVG"
    [ "$(head -c 4 "$png" 2>/dev/null | tail -c 3)" = "PNG" ] || fail "$png is missing or not a PNG"
done

if [ "$bad" = 0 ]; then
    echo "bench-smoke: the benchmarks ran, every GET returned what was SET, CSV files, tables and plots are complete ($dir)"
fi
exit "$bad"
