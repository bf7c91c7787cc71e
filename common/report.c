/*
 * report.c - see report.h.
 */
#include "report.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

void report_init(struct report *r, const char *program, size_t count, size_t worker_size)
{
    *r = (struct report){ .program = program, .unit = "thread", .count = count,
                          .worker_size = worker_size };
    r->slots = calloc(count > 0 ? count : 1, sizeof *r->slots);
    r->threads = calloc(count > 0 ? count : 1, sizeof(pthread_t));
    if (worker_size > 0)
        r->workers = calloc(count > 0 ? count : 1, worker_size);
    if (r->slots == NULL || r->threads == NULL || (worker_size > 0 && r->workers == NULL)) {
        report_free(r);
        exit(report_error(program, EXIT_CANNOT_START, "out of memory"));
    }
    r->clock_started = report_seconds_now();
}

void report_free(struct report *r)
{
    free(r->slots);
    free(r->threads);
    free(r->workers);
    r->slots = NULL;
    r->threads = NULL;
    r->workers = NULL;
}

void report_line(struct report_slot *slot, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(slot->line, sizeof slot->line, fmt, ap);
    va_end(ap);
}

void report_problem(struct report_slot *slot, const char *fmt, ...)
{
    if (slot->problem[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(slot->problem, sizeof slot->problem, fmt, ap);
    va_end(ap);
}

size_t report_start_threads(struct report *r, void *(*body)(void *))
{
    char *workers = r->workers;
    pthread_t *threads = r->threads;
    r->started = 0;
    r->clock_started = report_seconds_now();
    for (size_t i = 0; i < r->count; i++) {
        int rc = pthread_create(&threads[i], NULL, body, workers + i * r->worker_size);
        if (rc != 0) {
            fprintf(stderr, "%s: cannot start %s %zu: %s\n", r->program, r->unit, i + 1,
                    strerror(rc));
            break;
        }
        r->started++;
    }
    return r->started;
}

void report_join_threads(struct report *r)
{
    pthread_t *threads = r->threads;
    for (size_t i = 0; i < r->started; i++)
        pthread_join(threads[i], NULL);
    report_stop_clock(r);
}

void report_stop_clock(struct report *r)
{
    r->seconds = report_seconds_now() - r->clock_started;
}

void report_print_lines(const struct report *r, FILE *out)
{
    for (size_t i = 0; i < r->started; i++)
        if (r->slots[i].line[0] != '\0')
            fprintf(out, "%s %zu: %s\n", r->unit, i + 1, r->slots[i].line);
}

struct report_totals report_totals(const struct report *r)
{
    struct report_totals t = { 0 };
    for (size_t i = 0; i < r->started; i++) {
        const struct report_slot *s = &r->slots[i];
        t.done += s->done;
        t.wrong += s->wrong;
        t.errors += s->errors;
        t.stopped += s->stopped;
    }
    return t;
}

void report_print_totals(const struct report *r, FILE *out, const char *what)
{
    struct report_totals t = report_totals(r);
    fprintf(out, "all %ss: %zu %s, %zu wrong %s, %zu %s%s stopped by an error\n", r->unit,
            t.done, what, t.wrong, report_plural(t.wrong, "reply", "replies"), t.stopped,
            r->unit, report_plural(t.stopped, "", "s"));
}

void report_explain(const struct report *r, const char *advice)
{
    struct report_totals t = report_totals(r);
    report_error(r->program, EXIT_WRONG_RESULTS,
                 "%zu wrong %s, %zu %s%s stopped by an error (see the report above).%s%s", t.wrong,
                 report_plural(t.wrong, "reply", "replies"), t.stopped, r->unit,
                 report_plural(t.stopped, "", "s"), advice != NULL ? "\n" : "",
                 advice != NULL ? advice : "");
}

const char *report_first_problem(const struct report *r)
{
    for (size_t i = 0; i < r->started; i++)
        if (r->slots[i].problem[0] != '\0')
            return r->slots[i].problem;
    return NULL;
}

int report_status(const struct report *r)
{
    if (r->started < r->count)
        return EXIT_CANNOT_START;
    struct report_totals t = report_totals(r);
    if (t.wrong > 0 || t.errors > 0 || t.stopped > 0)
        return EXIT_WRONG_RESULTS;
    return EXIT_ALL_RIGHT;
}

void report_print_timing(const struct report *r, FILE *out, size_t count, const char *what)
{
    fprintf(out, "time: %.3f s for %zu %s (%.0f %s/s)\n", r->seconds, count, what,
            r->seconds > 0 ? (double)count / r->seconds : 0.0, what);
}

int report_error(const char *program, int status, const char *fmt, ...)
{
    /* One write of the whole line, so that it never mixes with a line of
     * another thread. */
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", program, message);
    return status;
}

const char *report_plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

double report_seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long report_peak_rss_kib(void)
{
    FILE *status = fopen("/proc/self/status", "r");
    if (status != NULL) {
        char line[256];
        long kib = -1;
        while (kib < 0 && fgets(line, sizeof line, status) != NULL)
            if (sscanf(line, "VmHWM: %ld kB", &kib) != 1)
                kib = -1;
        fclose(status);
        if (kib > 0)
            return kib;
    }
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return -1;
#if defined(__APPLE__)
    return usage.ru_maxrss / 1024; /* bytes on macOS, KiB on Linux */
#else
    return usage.ru_maxrss;
#endif
}

const char *report_describe_result(const struct redis_result *r, char *out, size_t size)
{
    char quoted[REDIS_QUOTE_BUFSIZE];
    if (r->kind == REDIS_RESULT_INTEGER)
        snprintf(out, size, "integer %lld", r->integer);
    else if (r->data == NULL)
        snprintf(out, size, "%s", redis_result_kind_name(r->kind));
    else
        snprintf(out, size, "%s %s", redis_result_kind_name(r->kind),
                 redis_quote_bytes(r->data, r->len, quoted, sizeof quoted));
    return out;
}

void report_log_result(FILE *log, const char *who, const char *command, const void *key,
                       size_t key_len, const struct redis_result *result)
{
    if (log == NULL)
        return;
    char quoted_key[REDIS_QUOTE_BUFSIZE], described[REPORT_RESULT_SIZE];
    redis_quote_bytes(key, key_len, quoted_key, sizeof quoted_key);
    report_describe_result(result, described, sizeof described);
    /* flockfile holds the stream for the whole line, so a line never mixes
     * with output of other threads. */
    flockfile(log);
    fprintf(log, "%s: %s %s -> %s\n", who, command, quoted_key, described);
    funlockfile(log);
}

void report_log(FILE *log, const char *fmt, ...)
{
    if (log == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    flockfile(log); /* the whole line, or nothing, between other threads' lines */
    vfprintf(log, fmt, ap);
    fputc('\n', log);
    fflush(log);
    funlockfile(log);
    va_end(ap);
}
