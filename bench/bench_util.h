/*
 * bench_util.h - what both benchmark programs share: a clock, a count of
 * how often the process went to sleep, percentiles, the header that says
 * which machine the numbers come from, the command-line options, and
 * writing a plot into the output folder.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svg_plot.h"

/* Every point is run this many times; tables show the median. */
#define BENCH_REPEATS 3

/* CLOCK_MONOTONIC in nanoseconds: immune to changes of the wall clock. */
uint64_t bench_now_ns(void);

/*
 * How many times this process's threads have gone to sleep so far: the
 * voluntary context switches the kernel counted (getrusage's ru_nvcsw,
 * summed over every thread, live or finished).  A thread blocking in
 * pthread_cond_wait counts one; a spin or a sched_yield counts none.  The
 * difference across a run, divided by the messages sent, is "sleeps per
 * message": the number the channels are designed to keep well below 1.
 */
long bench_sleeps(void);

/* How many times this process's threads were switched out while still
 * runnable (ru_nivcsw): preempted, or a sched_yield that handed the CPU to
 * another thread.  Not a sleep, but not free either: the thread waits for
 * its next turn on the CPU. */
long bench_preemptions(void);

/* Sorts v[0..n) ascending. */
void bench_sort(double *v, size_t n);

/* The nearest-rank p-th percentile (0 < p <= 100) of sorted[0..n);
 * NaN when n is 0. */
double bench_percentile(const double *sorted, size_t n, double p);

/* The median of v[0..n) (sorts v); NaN when n is 0. */
double bench_median(double *v, size_t n);

struct bench_options {
    const char *out_dir; /* where the SVG plots go */
    bool quick;          /* shorter runs: a smoke test, not a measurement */
};

/* Parses --out DIR, --quick and --help.  On --help prints `usage` and
 * exits 0; on anything else unknown prints it to stderr and exits 2. */
void bench_parse_options(int argc, char **argv, const char *usage,
                         struct bench_options *opts);

/* Prints the header every table set starts with: what runs, on how many
 * cores, which kernel, when, and the load average (other work on the
 * machine makes the numbers noisy, so it belongs next to them). */
void bench_print_header(const char *title);

/* Creates out_dir (and its parents) if needed and writes the plot to
 * out_dir/file_name, saying where.  Returns 0 or an errno value (the
 * message is printed). */
int bench_write_plot(const struct bench_options *opts, const char *file_name,
                     const struct svg_plot *plot);

#endif
