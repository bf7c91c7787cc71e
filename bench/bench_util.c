/*
 * bench_util.c - helpers the benchmark programs share (see bench_util.h).
 */
#include "bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

void bench_parse_options(int argc, char **argv, const char *usage,
                         struct bench_options *opts)
{
    opts->out_dir = "build/bench";
    opts->mode = BENCH_FULL;
    opts->only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            opts->out_dir = argv[++i];
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            opts->only = argv[++i];
        } else if (strcmp(argv[i], "--quick") == 0) {
            opts->mode = BENCH_QUICK;
        } else if (strcmp(argv[i], "--smoke") == 0) {
            opts->mode = BENCH_SMOKE;
        } else if (strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n%s", argv[0], argv[i], usage);
            exit(2);
        }
    }
    /* A median needs at least three values; the smoke test checks
     * behaviour only, so once is enough there. */
    opts->reps = opts->mode == BENCH_SMOKE ? 1 : 3;
}

bool bench_selected(const struct bench_options *opts, const char *name)
{
    return opts->only == NULL || strcmp(opts->only, name) == 0;
}

double bench_by_mode(const struct bench_options *opts, double full, double quick,
                     double smoke)
{
    switch (opts->mode) {
    case BENCH_QUICK: return quick;
    case BENCH_SMOKE: return smoke;
    case BENCH_FULL: break;
    }
    return full;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long bench_sleeps(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return usage.ru_nvcsw;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_sort(double *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, compare_doubles);
}

double bench_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    /* Nearest rank: the smallest value with at least p% at or below it. */
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

struct bench_stat bench_stat_of(double *v, size_t n)
{
    if (n == 0)
        return (struct bench_stat){ NAN, NAN, NAN };
    bench_sort(v, n);
    double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
    return (struct bench_stat){ median, v[0], v[n - 1] };
}

/* mkdir -p: each prefix of `path` that ends at a '/', and the whole path. */
static int make_dirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return errno;
        buf[i] = saved;
    }
    return 0;
}

FILE *bench_open_output(const struct bench_options *opts, const char *name)
{
    char path[4096];
    int err = make_dirs(opts->out_dir);
    FILE *f = NULL;
    if (err == 0 && snprintf(path, sizeof path, "%s/%s", opts->out_dir, name) >= (int)sizeof path)
        err = ENAMETOOLONG;
    if (err == 0 && (f = fopen(path, "w")) == NULL)
        err = errno;
    if (err != 0) {
        fprintf(stderr, "cannot write %s/%s: %s\n", opts->out_dir, name, strerror(err));
        exit(2);
    }
    return f;
}

static FILE *report_file;

void bench_report_open(const struct bench_options *opts, const char *name)
{
    report_file = bench_open_output(opts, name);
}

void bench_report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (report_file != NULL) {
        va_start(ap, fmt);
        vfprintf(report_file, fmt, ap);
        va_end(ap);
    }
}

void bench_report_close(void)
{
    if (report_file != NULL)
        fclose(report_file);
    report_file = NULL;
    fflush(stdout);
}

void bench_target(const struct bench_options *opts, const char *fmt, ...)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/targets.md", opts->out_dir);
    FILE *f = fopen(path, "a");
    va_list ap;
    printf("target: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (f == NULL)
        return; /* bench_open_output has made the folder; a failure here only
                   loses a maintainer's note */
    fprintf(f, "- ");
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

const char *bench_si(double value, char *buf, size_t size)
{
    if (isnan(value))
        snprintf(buf, size, "-");
    else if (value >= 1e6)
        snprintf(buf, size, "%.2fM", value / 1e6);
    else if (value >= 1e4)
        snprintf(buf, size, "%.0fk", value / 1e3);
    else if (value >= 1e3)
        snprintf(buf, size, "%.1fk", value / 1e3);
    else
        snprintf(buf, size, "%.0f", value);
    return buf;
}
