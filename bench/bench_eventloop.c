/*
 * bench_eventloop.c - chapter 11 measured: tasks on one event loop, and
 * OS threads sending through it, next to chapter 06's pipelined manager
 * and redis-benchmark's ceiling from the same `make bench` run.
 *
 *   event-loop       N tasks (8, 64, 256, 10 000) on one libuv loop and one
 *                    connection (chapter 11's task_run).  Each task keeps
 *                    exactly one command in flight: SET key value, then GET
 *                    key, checked - the work of the `pipelined` strategy of
 *                    bench_redis.c, with tasks where it has threads.
 *   threads-to-loop  N OS threads (8, 64, 256) doing the same through the
 *                    bridge: an mpsc into the loop, a oneshot back
 *                    (chapter 11's thread_run).
 *
 * The code measured is the chapter's own (solutions/11-event-loop-tasks,
 * linked in), so the figures are those of what the chapter teaches.  Both
 * strategies use one window, BENCH_WINDOW, larger than 256 so that only
 * the 10 000-task case has tasks waiting in line.
 *
 * Besides ops/s, each run records the client's cost per command from
 * getrusage: CPU (user + system) and sleeps (voluntary context switches,
 * as the chapter's --timing prints them), and its peak resident memory.  The ceiling (redis-benchmark -c 1 -P 64) and
 * the pipelined strategy's rows are read from ceiling.csv and
 * strategies.csv, which bench_redis wrote into the same folder earlier in
 * the same run (bench/run.sh): no second measurement of the same thing.
 * Run alone, without them, the comparisons show "-".
 *
 * Exit status: 0; 1 if a task or thread failed or a GET returned the wrong
 * value; 2 if Redis could not be reached or an option was bad.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "bridge.h"
#include "report.h"
#include "task.h"

static const char usage[] =
    "usage: bench_eventloop [--out DIR] [--quick | --smoke] [--only STRATEGY]\n"
    "Runs chapter 11's tasks on one event loop (event-loop) and OS threads sending\n"
    "through it (threads-to-loop) against $REDIS_URL; reads ceiling.csv and\n"
    "strategies.csv from DIR (bench_redis's, same run) to compare; writes\n"
    "eventloop.csv and eventloop.md to DIR (default build/bench).\n";

/* The most commands in flight on the loop's connection. */
#define BENCH_WINDOW 1024
#define MAX_REPS 3

enum strategy { S_EVENT_LOOP, S_THREADS_TO_LOOP, STRATEGIES };
static const char *const strategy_names[STRATEGIES] = { "event-loop", "threads-to-loop" };
static const size_t counts[STRATEGIES][4] = { { 8, 64, 256, 10000 }, { 8, 64, 256, 0 } };
static const size_t value_sizes[] = { 16, 1024 };
#define COUNTS 4
#define VALUE_SIZES 2

enum { F_OPS, F_SLEEPS, F_CPU, F_RSS, FIELDS };
static double results[STRATEGIES][COUNTS][VALUE_SIZES][FIELDS][MAX_REPS];
static struct bench_options opts;
static size_t failures; /* runs in which a task or thread failed */

/* ---- One run ------------------------------------------------------------------- */

/* Commands per run, all callers together. */
static size_t commands_per_run(enum strategy s)
{
    return s == S_EVENT_LOOP ? (size_t)bench_by_mode(&opts, 200000, 40000, 2000)
                             : (size_t)bench_by_mode(&opts, 64000, 16000, 400);
}

/* This process's CPU time so far, user and system, in seconds. */
static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* One run, in this process: fills out[F_OPS..F_RSS] (MAX_REPS apart) and
 * returns how many tasks or threads failed or saw a wrong value. */
static size_t run_here(enum strategy s, size_t n, size_t value_size, double *out)
{
    size_t rounds = commands_per_run(s) / (2 * n);
    struct task_options o = { .tasks = n, .rounds = rounds > 0 ? rounds : 1,
                              .value_size = value_size, .key_prefix = "bench:loop" };
    struct report_slot r = { 0 };
    struct loop_client lc;
    struct bridge b;
    char err[512];
    double cpu = cpu_seconds(), start = report_seconds_now();
    long sleeps = bench_sleeps();
    int rc = s == S_EVENT_LOOP ? task_run(&lc, NULL, BENCH_WINDOW, &o, &r, err, sizeof err)
                               : thread_run(&b, NULL, BENCH_WINDOW, &o, &r, err, sizeof err);
    double seconds = report_seconds_now() - start;
    cpu = cpu_seconds() - cpu;
    sleeps = bench_sleeps() - sleeps;
    if (rc != 0) {
        fprintf(stderr, "bench_eventloop: %s\n(`make bench` runs this under "
                        "build/plain/bin/with-redis, which starts a Redis)\n", err);
        exit(2);
    }
    if (r.done != n || r.wrong != 0 || r.errors != 0)
        fprintf(stderr, "bench_eventloop: %s, %zu: %zu failed, %zu wrong values: %s\n",
                strategy_names[s], n, n - r.done, r.wrong, r.problem);
    double ops = (double)(s == S_EVENT_LOOP ? lc.answered : b.client.answered);
    out[F_OPS * MAX_REPS] = ops / seconds;
    out[F_SLEEPS * MAX_REPS] = (double)sleeps / ops;
    out[F_CPU * MAX_REPS] = cpu * 1e6 / ops;
    out[F_RSS * MAX_REPS] = (double)report_peak_rss_kib();
    return n - r.done + r.wrong;
}

/* Each run in a child of its own, like bench_backpressure's floods: its
 * peak memory is its own (a run of 10 000 tasks leaves no heap behind for
 * the next one to count), and the parent never has a thread to fork. */
static void run_once(enum strategy s, size_t n, size_t value_size, double *out)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("bench_eventloop: pipe");
        exit(2);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_eventloop: fork");
        exit(2);
    }
    if (pid == 0) {
        double figures[FIELDS * MAX_REPS];
        size_t failed = run_here(s, n, value_size, figures);
        for (int f = 0; f < FIELDS; f++)
            figures[f] = figures[f * MAX_REPS];
        ssize_t w = write(fds[1], figures, FIELDS * sizeof(double));
        _exit(w == (ssize_t)(FIELDS * sizeof(double)) && failed == 0 ? 0 : 1);
    }
    close(fds[1]);
    double figures[FIELDS];
    ssize_t got = read(fds[0], figures, sizeof figures);
    close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) == 2) {
        fprintf(stderr, "bench_eventloop: the run of %s with %zu failed to start\n",
                strategy_names[s], n);
        exit(2);
    }
    failures += WEXITSTATUS(status) != 0;
    for (int f = 0; f < FIELDS; f++)
        out[f * MAX_REPS] = got == (ssize_t)sizeof figures ? figures[f] : NAN;
}

/* ---- What bench_redis measured in the same run ------------------------------------ */

/* Column `col` (1-based) of the first row of DIR/name whose first columns
 * are `key` (e.g. "64,16" or "pipelined,64,16"); NaN if there is none. */
static double csv_lookup(const char *name, const char *key, int col)
{
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/%s", opts.out_dir, name);
    FILE *f = fopen(path, "r");
    double value = NAN;
    size_t key_len = strlen(key);
    while (f != NULL && isnan(value) && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, key_len) != 0 || line[key_len] != ',')
            continue;
        char *field = line;
        for (int i = 1; i < col && field != NULL; i++)
            if ((field = strchr(field, ',')) != NULL)
                field++;
        if (field != NULL)
            value = strtod(field, NULL);
    }
    if (f != NULL)
        fclose(f);
    return value;
}

static double ceiling_mix(size_t value_size)
{
    char key[32];
    snprintf(key, sizeof key, "64,%zu", value_size);
    double mix = csv_lookup("ceiling.csv", key, 6);
    return mix > 0 ? mix : NAN; /* 0: bench_redis ran with --only, no ceiling */
}

/* ops/s (column 5) or sleeps per op (column 12) of a bench_redis strategy. */
static double strategy_figure(const char *strategy, size_t threads, size_t value_size, int col)
{
    char key[64];
    snprintf(key, sizeof key, "%s,%zu,%zu", strategy, threads, value_size);
    return csv_lookup("strategies.csv", key, col);
}

/* ---- Reports ------------------------------------------------------------------------ */

static struct bench_stat field(size_t s, size_t c, size_t v, int f)
{
    double copy[MAX_REPS];
    memcpy(copy, results[s][c][v][f], sizeof copy);
    return bench_stat_of(copy, (size_t)opts.reps);
}

static size_t counts_measured(enum strategy s)
{
    size_t n = 0;
    while (n < COUNTS && counts[s][n] != 0 && (opts.mode != BENCH_SMOKE || counts[s][n] <= 64))
        n++;
    return s == S_THREADS_TO_LOOP && opts.mode == BENCH_SMOKE ? 1 : n;
}

static size_t count_index(enum strategy s, size_t n)
{
    for (size_t c = 0; c < counts_measured(s); c++)
        if (counts[s][c] == n)
            return c;
    return COUNTS;
}

/* "0.63" or "-" when a figure is missing. */
static const char *ratio(double x, const char *fmt, char *buf, size_t size)
{
    if (isnan(x))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, fmt, x);
    return buf;
}

static void report_tables(FILE *csv)
{
    fprintf(csv, "strategy,callers,value_bytes,reps,ops_per_s,ops_min,ops_max,"
                 "fraction_of_ceiling,sleeps_per_op,cpu_us_per_op,peak_rss_kib,window\n");
    for (size_t v = 0; v < VALUE_SIZES; v++) {
        char a[16], b[16], c[16], d[16], e[16];
        double ceiling = ceiling_mix(value_sizes[v]);
        bench_report("\n### Tasks on an event loop, %zu-byte values (chapter 11)\n\n"
                     "*callers*: tasks on the loop, or threads; a window of %d commands in "
                     "flight. *of ceiling*: ops/s as a fraction of redis-benchmark -c 1 -P 64 "
                     "(%s ops/s in this run). *sleeps* and *CPU*: voluntary context switches "
                     "and client CPU time (user + system) per operation. *pipelined* is "
                     "bench_redis's row of the same run (chapter 06).\n\n",
                     value_sizes[v], BENCH_WINDOW, bench_si(ceiling, a, sizeof a));
        bench_report("| callers | strategy | ops/s (min-max) | of ceiling | sleeps | CPU us "
                     "| peak RSS |\n|---:|:---|---:|---:|---:|---:|---:|\n");
        for (size_t n = 0; n < COUNTS; n++) {
            size_t callers = counts[S_EVENT_LOOP][n];
            double pipelined = strategy_figure("pipelined", callers, value_sizes[v], 5);
            if (!isnan(pipelined))
                bench_report("| %zu | pipelined | %s | %s | %s | - | - |\n", callers,
                             bench_si(pipelined, a, sizeof a),
                             ratio(pipelined / ceiling, "%.2f", b, sizeof b),
                             ratio(strategy_figure("pipelined", callers, value_sizes[v], 12),
                                   "%.2f", c, sizeof c));
            for (size_t s = 0; s < STRATEGIES; s++) {
                size_t k = count_index(s, callers);
                if (k == COUNTS || !bench_selected(&opts, strategy_names[s]))
                    continue;
                struct bench_stat ops = field(s, k, v, F_OPS);
                double rss = field(s, k, v, F_RSS).median;
                bench_report("| %zu | %s | %s (%s-%s) | %s | %.3f | %.2f | %s |\n", callers,
                             strategy_names[s], bench_si(ops.median, a, sizeof a),
                             bench_si(ops.min, b, sizeof b), bench_si(ops.max, c, sizeof c),
                             ratio(ops.median / ceiling, "%.2f", d, sizeof d),
                             field(s, k, v, F_SLEEPS).median, field(s, k, v, F_CPU).median,
                             ratio(rss / 1024, "%.1f MiB", e, sizeof e));
            }
        }
    }
    /* Grouped by value size, then strategy: one plot line per group. */
    for (size_t v = 0; v < VALUE_SIZES; v++)
        for (size_t s = 0; s < STRATEGIES; s++)
            for (size_t k = 0; k < counts_measured(s); k++) {
                if (!bench_selected(&opts, strategy_names[s]))
                    continue;
                struct bench_stat ops = field(s, k, v, F_OPS);
                fprintf(csv, "%s,%zu,%zu,%d,%.0f,%.0f,%.0f,%.3f,%.4f,%.3f,%.0f,%d\n",
                        strategy_names[s], counts[s][k], value_sizes[v], opts.reps, ops.median,
                        ops.min, ops.max, ops.median / ceiling_mix(value_sizes[v]),
                        field(s, k, v, F_SLEEPS).median, field(s, k, v, F_CPU).median,
                        field(s, k, v, F_RSS).median, BENCH_WINDOW);
            }
}

static void target(const char *what, size_t value_size, double measured, const char *fmt,
                   bool met)
{
    char m[32];
    bench_target(&opts, "%s, %zu B: %s, %s\n", what, value_size,
                 ratio(measured, fmt, m, sizeof m),
                 isnan(measured) ? "not measured" : met ? "met" : "missed");
}

/* The maintainers' goals for chapter 11 (bench/README.md), next to the
 * figures: printed and kept in targets.md, never published, never enforced. */
static void report_targets(void)
{
    if (opts.mode == BENCH_SMOKE || opts.only != NULL)
        return; /* the smoke run reaches neither 256 callers nor 10 000 tasks */
    for (size_t v = 0; v < VALUE_SIZES; v++) {
        size_t size = value_sizes[v];
        double ceiling = ceiling_mix(size);
        double f64 = field(S_EVENT_LOOP, 1, v, F_OPS).median / ceiling;
        double f256 = field(S_EVENT_LOOP, 2, v, F_OPS).median / ceiling;
        double f10k = field(S_EVENT_LOOP, 3, v, F_OPS).median / ceiling;
        double rss10k = field(S_EVENT_LOOP, 3, v, F_RSS).median / 1024;
        double cpu64 = field(S_EVENT_LOOP, 1, v, F_CPU).median;
        double sleeps64 = field(S_EVENT_LOOP, 1, v, F_SLEEPS).median;
        double vs_pipelined = field(S_THREADS_TO_LOOP, 1, v, F_OPS).median /
                              strategy_figure("pipelined", 64, size, 5);
        target("event-loop >= 60% of -c 1 -P 64, 64 tasks", size, 100 * f64, "%.1f%%", f64 >= 0.6);
        target("event-loop >= 60% of -c 1 -P 64, 256 tasks", size, 100 * f256, "%.1f%%", f256 >= 0.6);
        target("event-loop >= 75% of -c 1 -P 64, 256 tasks", size, 100 * f256, "%.1f%%", f256 >= 0.75);
        target("event-loop >= 100% of -c 1 -P 64, 10000 tasks", size, 100 * f10k, "%.1f%%", f10k >= 1);
        target("event-loop peak RSS < 64 MiB, 10000 tasks", size, rss10k, "%.1f MiB", rss10k < 64);
        target("event-loop client CPU <= 2 us/op, 64 tasks", size, cpu64, "%.2f us", cpu64 <= 2);
        target("event-loop sleeps <= 0.05/op, 64 tasks", size, sleeps64, "%.3f", sleeps64 <= 0.05);
        target("threads-to-loop >= 1.2x pipelined, 64 threads", size, vs_pipelined, "%.2fx",
               vs_pipelined >= 1.2);
    }
}

int main(int argc, char **argv)
{
    bench_parse_options(argc, argv, usage, &opts);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a reset connection is an error, not death */
    uint64_t started = bench_now_ns();
    printf("bench_eventloop: %zu commands per event-loop run, %zu per threads-to-loop run, "
           "window %d, %d repetitions\n", commands_per_run(S_EVENT_LOOP),
           commands_per_run(S_THREADS_TO_LOOP), BENCH_WINDOW, opts.reps);
    for (int rep = 0; rep < opts.reps; rep++) {
        printf("repetition %d/%d:", rep + 1, opts.reps);
        for (size_t s = 0; s < STRATEGIES; s++) {
            if (!bench_selected(&opts, strategy_names[s]))
                continue;
            printf(" %s", strategy_names[s]);
            for (size_t k = 0; k < counts_measured(s); k++)
                for (size_t v = 0; v < VALUE_SIZES; v++)
                    run_once((enum strategy)s, counts[s][k], value_sizes[v],
                             &results[s][k][v][0][rep]);
        }
        printf(" (%.1f s)\n", (double)(bench_now_ns() - started) / 1e9);
    }

    bench_report_open(&opts, "eventloop.md");
    FILE *csv = bench_open_output(&opts, "eventloop.csv");
    report_tables(csv);
    fclose(csv);
    report_targets();
    bench_report_close();
    printf("bench_eventloop: %.1f s\n", (double)(bench_now_ns() - started) / 1e9);
    if (failures != 0) {
        fprintf(stderr, "bench_eventloop: in %zu runs a task or thread failed or saw a wrong "
                        "value\n", failures);
        return 1;
    }
    return 0;
}
