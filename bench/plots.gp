# bench/plots.gp - draws the benchmark plots from the CSV files that
# bench/run.sh collects, as SVG (for the docs) and PNG.
#
#   gnuplot -e "dir='build/bench'" bench/plots.gp
#
# Reads dir/strategies.csv, ceiling.csv, channels.csv, backpressure.csv,
# eventloop.csv; writes dir/bench-{redis-throughput,redis-latency,channels,
# backpressure,event-loop}.{svg,png}.  Rows are filtered by their first columns (strcol), and the
# programs write each line's rows next to each other, because gnuplot
# breaks a line at every row a filter leaves out.

if (!exists("dir")) dir = "build/bench"
set datafile separator ","
strategies = "per-thread mutex manager pipelined pool"
# The pipelined manager again, but each caller has 16 commands in flight:
# a different workload, not a sixth design, so it is drawn dash-dot with
# open points in the pipelined line's colour.  Throughput plot only: on the
# latency plot a dashed line means p99, and its latency (16 answers queued
# behind each other) is not comparable with one blocking call's.
in_flight = "pipelined-k16"
sizes = "16 1024"
size_name(v) = (v == 16 ? "16-byte values" : "1 KiB values")

# The ceiling of one connection (-P 1 and -P 64 mix) for a value size.
do for [v in sizes] {
    do for [p in "1 64"] {
        stats dir."/ceiling.csv" using (($1 == p+0 && $2 == v+0) ? $6 : NaN) nooutput
        eval sprintf("ceiling_%s_%s = STATS_max", p, v)
    }
}

do for [ext in "svg png"] {
    if (ext eq "svg") {
        set terminal svg size 960,480 dynamic font "sans,12" background rgb "white"
    } else {
        set terminal pngcairo size 960,480 font "sans,10" background rgb "white"
    }

    # ---- Throughput against threads, one panel per value size ----
    set output dir."/bench-redis-throughput.".ext
    set multiplot layout 1,2 title "GET/SET throughput: five ways to share Redis, and (dash-dot) pipelined with 16 in flight per caller; median, min-max bars"
    set logscale x 2
    set logscale y 10
    set xrange [0.7:360]
    set xtics (1, 8, 64, 256)
    set format y "%.0s%c"
    set xlabel "threads"
    set ylabel "operations per second"
    set grid ytics
    set key outside below horizontal maxrows 3 font ",9"
    do for [v in sizes] {
        set title size_name(v+0)
        set yrange [5000:*]
        plot for [i=1:words(strategies)] dir."/strategies.csv" \
                using 2:((strcol(1) eq word(strategies, i) && $3 == v+0) ? $5 : NaN):6:7 \
                with yerrorlines lw 2 pt 7 ps 0.6 lc i title word(strategies, i), \
             dir."/strategies.csv" \
                using 2:((strcol(1) eq in_flight && $3 == v+0) ? $5 : NaN):6:7 \
                with yerrorlines lw 2 dt 4 pt 6 ps 0.7 lc 4 \
                title "pipelined-k16", \
             value("ceiling_64_".v) with lines dt 2 lw 2 lc rgb "black" title "redis-benchmark -P 64", \
             value("ceiling_1_".v) with lines dt 3 lw 2 lc rgb "gray40" title "redis-benchmark -P 1"
    }
    unset multiplot
    unset title
    set yrange [*:*]

    # ---- Latency against threads, 16-byte values ----
    set output dir."/bench-redis-latency.".ext
    set title "Latency one caller sees, 16-byte values: p50 (solid) and p99 (dashed)"
    set ylabel "microseconds per operation"
    set format y "%g"
    set key outside right top vertical maxrows 10 font ",9"
    plot for [i=1:words(strategies)] dir."/strategies.csv" \
            using 2:((strcol(1) eq word(strategies, i) && $3 == 16) ? $8 : NaN) \
            with linespoints lw 2 pt 7 ps 0.6 lc i title word(strategies, i)." p50", \
         for [i=1:words(strategies)] dir."/strategies.csv" \
            using 2:((strcol(1) eq word(strategies, i) && $3 == 16) ? $9 : NaN) \
            with linespoints lw 2 dt 2 pt 7 ps 0.4 lc i title word(strategies, i)." p99"
    unset logscale
    unset title

    # ---- Channels: ns per message or round trip, log scale ----
    set output dir."/bench-channels.".ext
    set title "Channels without Redis: time per message or round trip (median, min-max bars)"
    set logscale y 10
    set xrange [*:*]
    set xtics rotate by -30 font ",9"
    set ylabel "nanoseconds (log scale)"
    set xlabel ""
    set style fill solid 0.6 border -1
    set boxwidth 0.6
    set key off
    plot dir."/channels.csv" using 0:4:xtic(1) every ::1 with boxes lc rgb "#4c72b0", \
         "" using 0:4:5:6 every ::1 with yerrorbars lc rgb "black" pt 0
    unset logscale
    unset title
    set xtics norotate font ""
    set key on

    # ---- Backpressure: peak RSS against commands sent ----
    set output dir."/bench-backpressure.".ext
    set title "Peak RSS of a flood of SET commands (median, min-max bars)"
    set logscale x 10
    set logscale y 10
    set xrange [*:*]
    set xtics auto
    set format x "10^{%T}"
    set xlabel "commands sent"
    set ylabel "peak resident memory, MiB"
    set key inside top left vertical
    plot dir."/backpressure.csv" using 2:((strcol(1) eq "bounded") ? $4/1024 : NaN):($5/1024):($6/1024) \
            with yerrorlines lw 2 pt 7 lc 1 title "bounded channel (capacity 64)", \
         "" using 2:((strcol(1) eq "unbounded") ? $4/1024 : NaN):($5/1024):($6/1024) \
            with yerrorlines lw 2 pt 7 lc 2 title "unbounded channel"
    unset logscale
    unset title
    set format x "%g"

    # ---- Chapter 11: tasks on an event loop, threads through it, 16-byte values ----
    set output dir."/bench-event-loop.".ext
    set multiplot layout 1,2 title "Tasks on one event loop against threads that block on every command (16-byte values; median, min-max bars)"
    set logscale x 2
    set xrange [5:16000]
    set xtics ("8" 8, "64" 64, "256" 256, "10 000" 10000)
    set xlabel "callers: tasks, or threads"
    set key outside below horizontal maxrows 2 font ",9"
    set title "throughput"
    set logscale y 10
    set yrange [5000:*]
    set format y "%.0s%c"
    set ylabel "operations per second"
    plot dir."/eventloop.csv" using 2:((strcol(1) eq "event-loop" && $3 == 16) ? $5 : NaN):6:7 \
            with yerrorlines lw 2 pt 7 ps 0.6 lc 6 title "event-loop (tasks)", \
         dir."/eventloop.csv" using 2:((strcol(1) eq "threads-to-loop" && $3 == 16) ? $5 : NaN):6:7 \
            with yerrorlines lw 2 pt 5 ps 0.6 lc 7 title "threads-to-loop", \
         dir."/strategies.csv" using 2:((strcol(1) eq "pipelined" && $3 == 16 && $2 >= 8) ? $5 : NaN):6:7 \
            with yerrorlines lw 2 pt 7 ps 0.6 lc 4 title "pipelined (chapter 06)", \
         ceiling_64_16 with lines dt 2 lw 2 lc rgb "black" title "redis-benchmark -P 64", \
         ceiling_1_16 with lines dt 3 lw 2 lc rgb "gray40" title "redis-benchmark -P 1"
    set title "sleeps: voluntary context switches per operation"
    unset logscale y
    set yrange [0:*]
    set format y "%g"
    set ylabel "sleeps per operation"
    plot dir."/eventloop.csv" using 2:((strcol(1) eq "event-loop" && $3 == 16) ? $9 : NaN) \
            with linespoints lw 2 pt 7 ps 0.6 lc 6 title "event-loop (tasks)", \
         dir."/eventloop.csv" using 2:((strcol(1) eq "threads-to-loop" && $3 == 16) ? $9 : NaN) \
            with linespoints lw 2 pt 5 ps 0.6 lc 7 title "threads-to-loop", \
         dir."/strategies.csv" using 2:((strcol(1) eq "pipelined" && $3 == 16 && $2 >= 8) ? $12 : NaN) \
            with linespoints lw 2 pt 7 ps 0.6 lc 4 title "pipelined (chapter 06)"
    unset multiplot
    unset logscale
    unset title
    set output
}
