/*
 * report.h - what every chapter program prints around its own step, and
 * how it ends.
 *
 * Each chapter's main.c shows the step it teaches; the rest is the same
 * everywhere and lives here, once:
 *
 *   - the exit status, one meaning for every program (below);
 *   - one slot per thread, which only that thread writes while it runs:
 *     its counts, its first problem and the line the report prints for it.
 *     main reads the slots after the join, so they need no lock, and
 *     prints the lines in thread order: the output is the same on every
 *     run, whatever order the threads finished in;
 *   - starting and joining the threads, timed for the --timing block;
 *   - the totals, and the exit status they mean;
 *   - quoting what the server sent before it reaches a terminal.
 *
 * Threads are numbered from 1 in everything a program prints ("thread 1",
 * "producer 1"); slot i belongs to thread i + 1.
 *
 *     struct report report;
 *     report_init(&report, "02-mutex", threads, sizeof(struct worker));
 *     struct worker *workers = report.workers;
 *     ... workers[i].out = &report.slots[i] ...
 *     report_start_threads(&report, worker_thread);
 *     report_join_threads(&report);
 *     report_print_lines(&report, stdout);
 *     int status = report_status(&report);
 *     report_free(&report);
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "redis_client.h"

/* The exit status of every chapter program. */
enum exit_status {
    EXIT_ALL_RIGHT = 0,     /* every result was right */
    EXIT_WRONG_RESULTS = 1, /* the run saw wrong results or errors; stderr says which */
    EXIT_CANNOT_START = 2,  /* it could not start: a bad option, a bad URL, Redis
                               unreachable, no memory or no thread for the run */
};

/* The last lines of a Redis program's --help (a cli_program's epilog):
 * REPORT_REDIS_HELP("make run-02"). */
#define REPORT_REDIS_HELP(make_target) \
    "Redis: $REDIS_URL (default " REDIS_DEFAULT_URL "); `" make_target "` starts one."

#define REPORT_PROBLEM_SIZE 512
#define REPORT_LINE_SIZE 2048

/* One thread's part of the report.  Written by that thread alone while it
 * runs, read by main after the join. */
struct report_slot {
    size_t done;                     /* work that came out right: rounds, requests */
    size_t wrong;                    /* answers that were not the expected ones */
    size_t errors;                   /* errors (a failed command, a lost connection) */
    bool stopped;                    /* it ended before doing all its work */
    char problem[REPORT_PROBLEM_SIZE]; /* the first problem it met; "" if none */
    char line[REPORT_LINE_SIZE];     /* what the report prints for it; "" for nothing */
};

struct report {
    const char *program;        /* "02-mutex": the first word of every message */
    const char *unit;           /* what a slot is, in the lines: "thread" unless set */
    size_t count;               /* slots, and threads report_start_threads starts */
    struct report_slot *slots;  /* count of them, zeroed */
    void *workers;              /* count workers of worker_size bytes, zeroed: what
                                   each thread is given (NULL if worker_size is 0) */
    size_t worker_size;
    size_t started;             /* threads that did start */
    double seconds;             /* the run's time: see report_stop_clock */

    /* Private: the threads and when the clock started. */
    void *threads;
    double clock_started;
};

/* Makes `count` empty slots, and `count` zeroed workers of worker_size
 * bytes for the threads (none if worker_size is 0), and starts the clock.
 * Without the memory for them the program cannot start: it says
 * "PROGRAM: out of memory" on stderr and exits with EXIT_CANNOT_START. */
void report_init(struct report *r, const char *program, size_t count, size_t worker_size);

/* Frees the slots and the workers.  Call it after the last use of a slot's
 * text or a worker: every pointer into the report dies with it. */
void report_free(struct report *r);

/* Sets the slot's line (printf-style), replacing what it held. */
void report_line(struct report_slot *slot, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Keeps the first problem a thread meets; later ones are dropped (they
 * usually repeat it). */
void report_problem(struct report_slot *slot, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * Starts one thread per worker: body(worker i) for i from 0 to r->count - 1.
 * Restarts the clock first.  If a thread cannot be started, it says so on
 * stderr and starts no more.  Returns (and keeps in r->started) how many
 * started; join exactly those with report_join_threads, even after a
 * failure.
 */
size_t report_start_threads(struct report *r, void *(*body)(void *));

/* Joins every thread report_start_threads started, then stops the clock. */
void report_join_threads(struct report *r);

/* Sets r->seconds to the time since the clock started (report_init or
 * report_start_threads).  report_join_threads calls it; call it again to
 * count what comes after the join, such as a manager draining its queue. */
void report_stop_clock(struct report *r);

/* Prints "thread 1: LINE", "thread 2: LINE", ... for the threads that
 * started, in that order, skipping empty lines. */
void report_print_lines(const struct report *r, FILE *out);

struct report_totals {
    size_t done, wrong, errors; /* summed over the threads that started */
    size_t stopped;             /* threads that stopped early */
};

struct report_totals report_totals(const struct report *r);

/* The totals line of programs whose threads run rounds and check each
 * reply: "all threads: 300 rounds, 2 wrong replies, 1 thread stopped by
 * an error" (`what` names the work: "rounds"). */
void report_print_totals(const struct report *r, FILE *out, const char *what);

/* Says on stderr why a run of round-checking threads went wrong:
 * "PROGRAM: 3 wrong replies, 1 thread stopped by an error (see the report
 * above)." and, on the next line, `advice` (what to reread), if not NULL. */
void report_explain(const struct report *r, const char *advice);

/* The first problem of the lowest-numbered thread that met one, or NULL.
 * It points into the report: use it before report_free. */
const char *report_first_problem(const struct report *r);

/* EXIT_CANNOT_START if a thread could not start, else EXIT_WRONG_RESULTS if
 * any thread saw a wrong result or an error or stopped early, else
 * EXIT_ALL_RIGHT. */
int report_status(const struct report *r);

/* The --timing line: "time: 0.250 s for 4000 round trips (16000 round
 * trips/s)", from r->seconds. */
void report_print_timing(const struct report *r, FILE *out, size_t count, const char *what);

/* Prints "PROGRAM: MESSAGE" on stderr and returns `status`, so that a
 * failure reads `return report_error(name, EXIT_CANNOT_START, "%s", err);`. */
int report_error(const char *program, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* `one` when n is 1, else `many`: "1 thread", "2 threads". */
const char *report_plural(size_t n, const char *one, const char *many);

/* Seconds on CLOCK_MONOTONIC, for measuring a run. */
double report_seconds_now(void);

/* This process's peak resident memory so far, in KiB, or -1: the
 * high-water mark the kernel keeps, not what is resident now.  On Linux it is VmHWM in /proc/self/status, the peak of this program alone.
 * getrusage's ru_maxrss, the portable answer used elsewhere, survives exec
 * on Linux: a program started by a big process (a test under valgrind)
 * would report at least its parent's size. */
long report_peak_rss_kib(void);

/* A result as a learner reads it, quoted: `ok "OK"`, `value "t1-v3"`,
 * `nil`, `integer 3`, `error "WRONGTYPE ..."`, `i/o error "connection
 * lost ..."`.  Whatever the server sent goes through redis_quote_bytes, so
 * no byte of it can act on the terminal.  Returns out. */
const char *report_describe_result(const struct redis_result *result, char *out, size_t size);

/* A buffer that always holds report_describe_result's text. */
#define REPORT_RESULT_SIZE (REDIS_QUOTE_BUFSIZE + 16)

/* With a log stream, one line "WHO: COMMAND KEY -> RESULT", key and result
 * quoted, written whole even when other threads log too; nothing when log
 * is NULL. */
void report_log_result(FILE *log, const char *who, const char *command, const void *key,
                       size_t key_len, const struct redis_result *result);

/* With a log stream, one line of printf-style text (the newline is added):
 * written whole even when other threads log too, and flushed at once, so
 * that it shows when it happened; nothing when log is NULL.  For events
 * such as "manager 2: connection lost (...); reconnecting". */
void report_log(FILE *log, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
