/*
 * main.c - chapter 01: N threads share ONE Redis connection, with no lock.
 *
 *     01-shared-client [--threads N] [--iterations N] [--verbose] [--timing]
 *
 * The Rust compiler refuses this program; a C compiler builds it without a
 * warning.  Run it and it misbehaves: threads get each other's replies, or
 * it crashes, or it hangs.  Run it with --threads 1 and it is perfect, which
 * proves that the sharing is the bug.  docs/01-shared-client.md explains.
 *
 * This file only reads the options, connects, starts and joins the threads
 * and prints what they saw; the thread body is in shared_client.c.
 *
 * Exit status: 0 every reply was right; 1 some were wrong or failed;
 * 2 it could not start (bad option, Redis unreachable).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "redis_client.h"
#include "shared_client.h"

enum { EXIT_ALL_RIGHT = 0, EXIT_WRONG_RESULTS = 1, EXIT_CANNOT_START = 2 };

#define MAX_THREADS 1024L
#define MAX_ITERATIONS 100000000L

struct options {
    long threads;
    long iterations;
    bool verbose;
    bool timing;
};

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: 01-shared-client [--threads N] [--iterations N] [--verbose] [--timing]\n"
            "Starts N threads that share ONE Redis connection without a lock.  Each thread\n"
            "SETs its own key and GETs it back, and counts the replies that were not its own.\n"
            "  --threads N     threads sharing the connection (default 8; 1 is the control)\n"
            "  --iterations N  SET + GET rounds per thread (default 2000)\n"
            "  --verbose       log every command's reply to stderr as it arrives\n"
            "  --timing        also print how long the run took\n"
            "Redis: $REDIS_URL (default " REDIS_DEFAULT_URL "); `make run-01` starts one.\n");
}

/* Returns 0 to run, 1 when --help was answered, -1 on a bad option (with a
 * message on stderr). */
static int parse_options(int argc, char **argv, struct options *opts)
{
    *opts = (struct options){ .threads = 8, .iterations = 2000 };
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
            bool is_threads = strcmp(arg, "--threads") == 0;
            long *count = is_threads ? &opts->threads : &opts->iterations;
            long max = is_threads ? MAX_THREADS : MAX_ITERATIONS;
            if (i + 1 == argc || !cli_parse_count(argv[i + 1], 1, max, count)) {
                fprintf(stderr, "01-shared-client: %s needs a number from 1 to %ld\n", arg, max);
                return -1;
            }
            i++;
        } else {
            fprintf(stderr, "01-shared-client: unknown option '%s'\n", arg);
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

/* Starts opts->threads workers on `client`, joins them, prints what each
 * saw and a summary.  Returns the exit status. */
static int run_workers(const struct options *opts, struct redis_client *client)
{
    struct worker *workers = calloc((size_t)opts->threads, sizeof *workers);
    pthread_t *threads = calloc((size_t)opts->threads, sizeof *threads);
    if (workers == NULL || threads == NULL) {
        fprintf(stderr, "01-shared-client: out of memory\n");
        free(workers);
        free(threads);
        return EXIT_CANNOT_START;
    }
    printf("%ld %s on one connection, no lock: each runs %ld rounds of SET + GET on its own key\n",
           opts->threads, opts->threads == 1 ? "thread" : "threads", opts->iterations);
    /* If the run crashes, this line is all the learner will see on stdout;
     * without the flush it would die in the buffer with the process. */
    fflush(stdout);

    double started = seconds_now();
    long running = 0;
    for (long i = 0; i < opts->threads; i++) {
        workers[i] = (struct worker){
            .id = (int)i + 1,
            .client = client, /* the SAME client for every thread */
            .iterations = opts->iterations,
            .verbose = opts->verbose,
        };
        int rc = pthread_create(&threads[i], NULL, worker_thread, &workers[i]);
        if (rc != 0) {
            fprintf(stderr, "01-shared-client: cannot start thread %ld: %s\n", i + 1, strerror(rc));
            break;
        }
        running++;
    }
    for (long i = 0; i < running; i++)
        pthread_join(threads[i], NULL);
    double elapsed = seconds_now() - started;

    /* Every thread has ended: reading their results needs no lock. */
    long rounds = 0, wrong = 0, errors = 0;
    for (long i = 0; i < running; i++) {
        worker_print_report(&workers[i], stdout);
        rounds += workers[i].rounds;
        wrong += workers[i].wrong_replies;
        errors += workers[i].error[0] != '\0';
    }
    printf("all threads: %ld rounds, %ld wrong %s, %ld %s stopped by an error\n", rounds, wrong,
           wrong == 1 ? "reply" : "replies", errors, errors == 1 ? "thread" : "threads");
    if (opts->timing)
        printf("time: %.3f s for %ld round trips (%.0f round trips/s)\n", elapsed, 2 * rounds,
               elapsed > 0 ? (double)(2 * rounds) / elapsed : 0.0);

    int status = EXIT_ALL_RIGHT;
    if (running < opts->threads) {
        status = EXIT_CANNOT_START;
    } else if (wrong > 0 || errors > 0) {
        status = EXIT_WRONG_RESULTS;
        if (opts->threads > 1)
            fprintf(stderr,
                    "01-shared-client: %ld wrong %s, %ld %s stopped by an error.\n"
                    "The threads shared one connection without a lock: replies went to the wrong\n"
                    "thread; see docs/01-shared-client.md\n",
                    wrong, wrong == 1 ? "reply" : "replies", errors, errors == 1 ? "thread" : "threads");
        else
            fprintf(stderr,
                    "01-shared-client: a single thread saw errors, so the connection itself\n"
                    "failed (see the report above); this is not the sharing bug.\n");
    }
    free(threads);
    free(workers);
    return status;
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

    /* A thread whose reply another thread took waits for a reply that will
     * never come.  The command timeout turns that wait into an error after
     * 2 s (instead of the default 10 s), so the run ends and reports it. */
    const struct redis_client_options client_options = { .command_timeout_ms = 2000 };
    char err[512];
    struct redis_client *client =
        redis_client_connect(redis_url_from_env(), &client_options, err, sizeof err);
    if (client == NULL) {
        fprintf(stderr, "01-shared-client: %s\n", err);
        return EXIT_CANNOT_START;
    }
    int status = run_workers(&opts, client);
    redis_client_free(client);
    return status;
}
