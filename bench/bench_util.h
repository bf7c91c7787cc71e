/*
 * bench_util.h - what the benchmark programs share: a clock, sleep counts,
 * percentiles and min/median/max over repetitions, the command-line
 * options, and the two outputs every program writes - a markdown report
 * (printed, and saved for docs/benchmarks.md) and CSV files for the plots.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* How long a run is: --quick and --smoke shrink every workload. */
enum bench_mode { BENCH_FULL, BENCH_QUICK, BENCH_SMOKE };

struct bench_options {
    const char *out_dir; /* CSV and markdown go here (default build/bench) */
    enum bench_mode mode;
    int reps;            /* repetitions of every case: 3, or 1 with --smoke */
    const char *only;    /* --only NAME: run just the cases of that name
                            (for perf or callgrind); NULL runs everything */
};

/* True if the case called `name` is to run (see --only). */
bool bench_selected(const struct bench_options *opts, const char *name);

/* Parses --out DIR, --quick, --smoke, --only NAME and --help.  On --help prints `usage`
 * and exits 0; on anything unknown prints it to stderr and exits 2. */
void bench_parse_options(int argc, char **argv, const char *usage,
                         struct bench_options *opts);

/* Picks the value for the current mode. */
double bench_by_mode(const struct bench_options *opts, double full, double quick,
                     double smoke);

/* CLOCK_MONOTONIC in nanoseconds: immune to changes of the wall clock. */
uint64_t bench_now_ns(void);

/* Voluntary context switches of the whole process so far (getrusage's
 * ru_nvcsw over every thread): each time a thread blocked in the kernel -
 * a condition variable, a mutex, a socket read.  Spins and sched_yield do
 * not count.  Divided by messages, it is "sleeps per message". */
long bench_sleeps(void);

/* Sorts v[0..n) ascending. */
void bench_sort(double *v, size_t n);

/* Nearest-rank p-th percentile (0 < p <= 100) of sorted[0..n); NaN if n 0. */
double bench_percentile(const double *sorted, size_t n, double p);

/* One figure over the repetitions: what the tables show. */
struct bench_stat {
    double median, min, max;
};

/* The median, min and max of v[0..n) (reorders v); NaNs when n is 0. */
struct bench_stat bench_stat_of(double *v, size_t n);

/* ---- Outputs ---- */

/* Opens out_dir/name for writing (making out_dir if needed); exits 2 with
 * a message if it cannot. */
FILE *bench_open_output(const struct bench_options *opts, const char *name);

/* The report: markdown printed on stdout and written to out_dir/<name> as
 * well, so the same tables can be published into docs/benchmarks.md. */
void bench_report_open(const struct bench_options *opts, const char *name);
void bench_report(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void bench_report_close(void);

/* One line comparing a figure with a goal the maintainers set: printed on
 * stdout and appended to out_dir/targets.md, never to the published
 * results (bench/README.md keeps the goals and what became of them). */
void bench_target(const struct bench_options *opts, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* "123k", "1.23M", "950": throughput in a narrow column. */
const char *bench_si(double value, char *buf, size_t size);

#endif
