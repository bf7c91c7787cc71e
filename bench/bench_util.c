/*
 * bench_util.c - helpers both benchmark programs share (see bench_util.h).
 */
#include "bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

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

long bench_preemptions(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return usage.ru_nivcsw;
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
    /* Nearest rank: the smallest value with at least p% of the values at
     * or below it. */
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

double bench_median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    bench_sort(v, n);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

void bench_parse_options(int argc, char **argv, const char *usage,
                         struct bench_options *opts)
{
    opts->out_dir = "build/bench";
    opts->quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            opts->out_dir = argv[++i];
        } else if (strcmp(argv[i], "--quick") == 0) {
            opts->quick = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n%s", argv[0], argv[i], usage);
            exit(2);
        }
    }
}

/* The 1-minute load average from /proc/loadavg, or NaN where there is no
 * such file (it is Linux's; POSIX has no portable way to ask). */
static double load_average(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double load = NAN;
    if (f != NULL) {
        if (fscanf(f, "%lf", &load) != 1)
            load = NAN;
        fclose(f);
    }
    return load;
}

void bench_print_header(const char *title)
{
    struct utsname uts;
    char when[64] = "?";
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%d %H:%M %Z", &tm);
    printf("%s\n", title);
    if (uname(&uts) != 0)
        memset(&uts, 0, sizeof uts);
    printf("machine: %ld online CPU cores, %s %s %s; %s; load average %.2f at start\n",
           sysconf(_SC_NPROCESSORS_ONLN), uts.sysname, uts.release, uts.machine, when,
           load_average());
    printf("every number is the median of %d runs\n", BENCH_REPEATS);
}

/* mkdir -p: each prefix of `path` that ends at a '/' and the whole path. */
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

int bench_write_plot(const struct bench_options *opts, const char *file_name,
                     const struct svg_plot *plot)
{
    char path[4096];
    int err = make_dirs(opts->out_dir);
    if (err == 0 && snprintf(path, sizeof path, "%s/%s", opts->out_dir, file_name) >= (int)sizeof path)
        err = ENAMETOOLONG;
    if (err == 0)
        err = svg_plot_write(plot, path);
    if (err != 0)
        fprintf(stderr, "cannot write plot %s/%s: %s\n", opts->out_dir, file_name, strerror(err));
    else
        printf("plot: %s\n", path);
    return err;
}
