/*
 * main.c - chapter 04: threads SET and GET keys of their own through the
 * manager, and each checks the answers it gets back.
 *
 *     04-responses [--threads N] [--iterations N] [--verbose] [--timing]
 *
 * Unlike chapter 03 nobody has to read the keys back afterwards: every
 * thread gets the result of each of its own commands, as it happens,
 * through client_set / client_get (client.c).
 *
 * Output is deterministic: per-thread lines are collected while running and
 * printed in thread order after the join.  --verbose adds the manager's log
 * of every command, --timing the elapsed time and the commands per second.
 * Exit status: 0 every answer was right; 1 wrong values or errors (a lost
 * connection is named on stderr); 2 it could not start (bad option, Redis
 * unreachable).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "manager.h"
#include "mpsc.h"
#include "redis_client.h"

enum { EXIT_ALL_RIGHT = 0, EXIT_WRONG_RESULTS = 1, EXIT_CANNOT_START = 2 };

#define MAX_THREADS 1024L
#define MAX_ITERATIONS 100000000L

/* As in chapter 03; chapter 05 looks at this number closely. */
#define CHANNEL_CAPACITY 32

struct options {
    long threads;
    long iterations;
    bool verbose;
    bool timing;
};

struct worker {
    /* Set by main() before the thread starts. */
    int id;                    /* 1, 2, ...: names the keys and the values */
    long iterations;
    const char *run_tag;       /* makes this run's values unique */
    struct mpsc_sender *tx;    /* this thread's own handle to the channel */

    /* Written by the thread, read by main() after the join. */
    long rounds;               /* SET + GET pairs that came back right */
    char problem[400];         /* what stopped it; "" if nothing did */
};

/* ---- The worker ------------------------------------------------------------ */

/* "SET ch04:thread:1:17 gave i/o error: connection lost: ..." */
static void describe(char *buf, size_t size, const char *what, const char *key,
                     const struct redis_result *r)
{
    snprintf(buf, size, "%s %s gave %s%s%.200s", what, key, redis_result_kind_name(r->kind),
             r->data != NULL ? ": " : "", r->data != NULL ? r->data : "");
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    //> snippet worker_round
    for (long i = 1; i <= w->iterations && w->problem[0] == '\0'; i++) {
        char key[64], value[128];
        int key_len = snprintf(key, sizeof key, "ch04:thread:%d:%ld", w->id, i);
        int value_len = snprintf(value, sizeof value, "thread %d iteration %ld (run %s)",
                                 w->id, i, w->run_tag);

        /* Each call sends one command and waits for its own answer. */
        struct redis_result set = client_set(w->tx, key, (size_t)key_len,
                                             value, (size_t)value_len);
        if (set.kind != REDIS_RESULT_OK)
            describe(w->problem, sizeof w->problem, "SET", key, &set);
        redis_result_free(&set);
        if (w->problem[0] != '\0')
            break;

        struct redis_result got = client_get(w->tx, key, (size_t)key_len);
        if (got.kind != REDIS_RESULT_VALUE)
            describe(w->problem, sizeof w->problem, "GET", key, &got);
        else if (got.len != (size_t)value_len || memcmp(got.data, value, got.len) != 0)
            snprintf(w->problem, sizeof w->problem, "GET %s returned \"%.100s\", not \"%s\"",
                     key, got.data, value);
        else
            w->rounds++;
        redis_result_free(&got);
    }
    //< snippet worker_round
    mpsc_sender_drop(w->tx); /* done sending: the manager may end without us */
    w->tx = NULL;
    return NULL;
}

static void print_report(const struct worker *w, FILE *out)
{
    if (w->problem[0] == '\0')
        fprintf(out, "thread %d: %ld rounds, every value matched\n", w->id, w->rounds);
    else
        fprintf(out, "thread %d: %ld of %ld rounds; stopped: %s\n", w->id, w->rounds,
                w->iterations, w->problem);
}

/* ---- Options ------------------------------------------------------------------ */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: 04-responses [--threads N] [--iterations N] [--verbose] [--timing]\n"
            "Starts N threads that SET keys of their own and GET them back through one\n"
            "manager thread, which owns the Redis connection and answers each request over\n"
            "a oneshot channel.\n"
            "  --threads N     threads sending requests (default 4)\n"
            "  --iterations N  SET + GET rounds per thread (default 100)\n"
            "  --verbose       the manager logs every command it runs, to stdout\n"
            "  --timing        also print how long the run took, and commands per second\n"
            "Redis: $REDIS_URL (default " REDIS_DEFAULT_URL "); `make run-04` starts one.\n");
}

/* Returns 0 to run, 1 when --help was answered, -1 on a bad option (with a
 * message on stderr). */
static int parse_options(int argc, char **argv, struct options *opts)
{
    *opts = (struct options){ .threads = 4, .iterations = 100 };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(stdout);
            return 1;
        } else if (strcmp(arg, "--verbose") == 0) {
            opts->verbose = true;
        } else if (strcmp(arg, "--timing") == 0) {
            opts->timing = true;
        } else if (strcmp(arg, "--threads") == 0 || strcmp(arg, "--iterations") == 0) {
            bool threads = strcmp(arg, "--threads") == 0;
            long max = threads ? MAX_THREADS : MAX_ITERATIONS;
            if (i + 1 == argc || !cli_parse_count(argv[i + 1], 1, max, threads ? &opts->threads
                                                                        : &opts->iterations)) {
                fprintf(stderr, "04-responses: %s needs a number from 1 to %ld\n", arg, max);
                return -1;
            }
            i++;
        } else {
            fprintf(stderr, "04-responses: unknown option '%s'\n", arg);
            print_usage(stderr);
            return -1;
        }
    }
    return 0;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True if a worker was stopped by an error containing `text`. */
static bool stopped_by(const struct worker *workers, long count, const char *text)
{
    for (long i = 0; i < count; i++)
        if (strstr(workers[i].problem, text) != NULL)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    struct options opts;
    int parsed = parse_options(argc, argv, &opts);
    if (parsed != 0)
        return parsed > 0 ? EXIT_ALL_RIGHT : EXIT_CANNOT_START;

    /* A write to a connection Redis has closed must fail with EPIPE, not
     * kill the process (see redis_client.h). */
    signal(SIGPIPE, SIG_IGN);

    char run_tag[48];
    snprintf(run_tag, sizeof run_tag, "%ld.%ld", (long)getpid(), (long)time(NULL));

    struct manager manager = { .log = opts.verbose ? stdout : NULL };
    struct mpsc_sender *tx;
    char err[512];
    if (manager_start(&manager, redis_url_from_env(), CHANNEL_CAPACITY, &tx, err,
                      sizeof err) != 0) {
        fprintf(stderr, "04-responses: %s\n", err);
        return EXIT_CANNOT_START;
    }

    struct worker *workers = calloc((size_t)opts.threads, sizeof *workers);
    pthread_t *threads = calloc((size_t)opts.threads, sizeof *threads);
    if (workers == NULL || threads == NULL) {
        fprintf(stderr, "04-responses: out of memory\n");
        return EXIT_CANNOT_START; /* exiting ends the manager thread too */
    }
    printf("%ld %s SET and GET keys of their own through one manager thread: %ld rounds "
           "each\n", opts.threads, opts.threads == 1 ? "thread" : "threads", opts.iterations);
    fflush(stdout);

    double started_at = seconds_now();
    long running = 0;
    for (long i = 0; i < opts.threads; i++) {
        struct worker *w = &workers[i];
        *w = (struct worker){ .id = (int)i + 1, .iterations = opts.iterations,
                              .run_tag = run_tag };
        w->tx = mpsc_sender_clone(tx); /* one handle per thread, as in chapter 03 */
        int rc = w->tx == NULL ? ENOMEM : pthread_create(&threads[i], NULL, worker_main, w);
        if (rc != 0) {
            fprintf(stderr, "04-responses: cannot start thread %ld: %s\n", i + 1, strerror(rc));
            mpsc_sender_drop(w->tx);
            break;
        }
        running++;
    }
    mpsc_sender_drop(tx); /* main sends nothing: only the threads' handles remain */
    for (long i = 0; i < running; i++)
        pthread_join(threads[i], NULL);
    /* Every sender is gone now, so the manager ends once it has answered
     * what is queued (or it has ended already, after losing Redis). */
    manager_join(&manager);
    double elapsed = seconds_now() - started_at;

    long stopped = 0;
    for (long i = 0; i < running; i++) {
        print_report(&workers[i], stdout);
        stopped += workers[i].problem[0] != '\0';
    }
    printf("manager: executed %zu commands, %zu failed\n", manager.executed, manager.failed);
    if (opts.timing)
        printf("time: %.3f s for %zu commands (%.0f commands/s), one round trip each\n",
               elapsed, manager.executed,
               elapsed > 0 ? (double)manager.executed / elapsed : 0.0);

    int status = EXIT_ALL_RIGHT;
    if (manager.connection_lost) {
        status = EXIT_WRONG_RESULTS;
        fprintf(stderr, "04-responses: lost the connection to %s: %s\n", manager.url,
                manager.failure);
    } else if (running < opts.threads) {
        status = EXIT_CANNOT_START;
    } else if (stopped > 0 || manager.failed > 0) {
        status = EXIT_WRONG_RESULTS;
        fprintf(stderr, "04-responses: %ld %s stopped by a wrong value or an error (see the "
                        "report above).\n", stopped, stopped == 1 ? "thread" : "threads");
        if (stopped_by(workers, running, "not implemented yet"))
            fprintf(stderr, "\"not implemented yet\": write client_send and client_wait "
                            "(TODO(04) in chapters/04-responses/client.c);\n"
                            "see docs/04-responses.md, \"The client functions\".\n");
        else if (stopped_by(workers, running, "dropped the request"))
            fprintf(stderr, "The manager never answered: send each result through cmd->reply "
                            "(TODO(04) in\nchapters/04-responses/manager.c); see "
                            "docs/04-responses.md, \"The manager answers\".\n");
    }
    free(threads);
    free(workers);
    return status;
}
