/*
 * main.c - chapter 02: N threads share one Redis connection behind a mutex.
 *
 *     02-mutex [--threads N] [--iterations N] [--verbose] [--timing]
 *
 * Chapter 01's program with the connection put behind a lock
 * (locked_client.c): now every thread gets its own replies back, whatever
 * the number of threads.  --timing shows the price: the threads take turns,
 * so only one request is ever on its way to Redis.
 *
 * This file only reads the options, connects, starts and joins the threads
 * and prints what they saw; the thread body is in worker.c, the lock in
 * locked_client.c.
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
#include "locked_client.h"
#include "worker.h"

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
            "usage: 02-mutex [--threads N] [--iterations N] [--verbose] [--timing]\n"
            "Starts N threads that share ONE Redis connection behind a mutex.  Each thread\n"
            "SETs its own key and GETs it back, and counts the replies that were not its own.\n"
            "  --threads N     threads sharing the connection (default 4)\n"
            "  --iterations N  SET + GET rounds per thread (default 1000)\n"
            "  --verbose       log every command's reply to stderr as it arrives\n"
            "  --timing        also print how long the run took and the round trips per second\n"
            "Redis: $REDIS_URL (default " REDIS_DEFAULT_URL "); `make run-02` starts one.\n");
}

/* Returns 0 to run, 1 when --help was answered, -1 on a bad option (with a
 * message on stderr). */
static int parse_options(int argc, char **argv, struct options *opts)
{
    *opts = (struct options){ .threads = 4, .iterations = 1000 };
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
                fprintf(stderr, "02-mutex: %s needs a number from 1 to %ld\n", arg, max);
                return -1;
            }
            i++;
        } else {
            fprintf(stderr, "02-mutex: unknown option '%s'\n", arg);
            print_usage(stderr);
            return -1;
        }
    }
    return 0;
}

/* True if a worker was stopped by a starter's "not implemented yet" error. */
static bool not_implemented_yet(const struct worker *workers, long count)
{
    for (long i = 0; i < count; i++)
        if (strstr(workers[i].error, "not implemented yet") != NULL)
            return true;
    return false;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts opts->threads workers on `shared`, joins them, prints what each
 * saw and a summary.  Returns the exit status. */
static int run_workers(const struct options *opts, struct locked_client *shared)
{
    struct worker *workers = calloc((size_t)opts->threads, sizeof *workers);
    pthread_t *threads = calloc((size_t)opts->threads, sizeof *threads);
    if (workers == NULL || threads == NULL) {
        fprintf(stderr, "02-mutex: out of memory\n");
        free(workers);
        free(threads);
        return EXIT_CANNOT_START;
    }
    printf("%ld %s on one connection behind a mutex: each runs %ld rounds of SET + GET on "
           "its own key\n", opts->threads, opts->threads == 1 ? "thread" : "threads",
           opts->iterations);
    fflush(stdout);

    double started = seconds_now();
    long running = 0;
    for (long i = 0; i < opts->threads; i++) {
        workers[i] = (struct worker){
            .id = (int)i + 1,
            .client = shared, /* the same locked client for every thread */
            .iterations = opts->iterations,
            .verbose = opts->verbose,
        };
        int rc = pthread_create(&threads[i], NULL, worker_thread, &workers[i]);
        if (rc != 0) {
            fprintf(stderr, "02-mutex: cannot start thread %ld: %s\n", i + 1, strerror(rc));
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
    if (opts->timing) {
        long round_trips = 2 * rounds;
        printf("time: %.3f s for %ld round trips (%.0f round trips/s)\n", elapsed, round_trips,
               elapsed > 0 ? (double)round_trips / elapsed : 0.0);
        /* The lock lets one round trip through at a time, so their times
         * add up, however many threads are waiting. */
        double us_per_round_trip = round_trips > 0 ? elapsed * 1e6 / (double)round_trips : 0.0;
        if (opts->threads > 1)
            printf("one request in flight at a time: the %ld threads took turns, %.1f us per "
                   "round trip\n", opts->threads, us_per_round_trip);
        else
            printf("one request in flight at a time: %.1f us per round trip\n", us_per_round_trip);
    }

    int status = EXIT_ALL_RIGHT;
    if (running < opts->threads) {
        status = EXIT_CANNOT_START;
    } else if (wrong > 0 || errors > 0) {
        status = EXIT_WRONG_RESULTS;
        fprintf(stderr, "02-mutex: %ld wrong %s, %ld %s stopped by an error (see the report).\n",
                wrong, wrong == 1 ? "reply" : "replies", errors, errors == 1 ? "thread" : "threads");
        if (not_implemented_yet(workers, running))
            fprintf(stderr, "\"not implemented yet\": write locked_client_get and locked_client_set "
                            "(TODO(02) in\nchapters/02-mutex/locked_client.c); see docs/02-mutex.md\n");
        else if (wrong > 0)
            fprintf(stderr, "A reply went to the wrong thread: does the lock cover the whole round "
                            "trip?\nSee docs/02-mutex.md, \"Why the whole round trip\".\n");
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

    char err[512];
    struct redis_client *client = redis_client_connect(redis_url_from_env(), NULL, err, sizeof err);
    if (client == NULL) {
        fprintf(stderr, "02-mutex: %s\n", err);
        return EXIT_CANNOT_START;
    }
    struct locked_client shared;
    int rc = locked_client_init(&shared, client);
    if (rc != 0) {
        fprintf(stderr, "02-mutex: cannot create the lock: %s\n", strerror(rc));
        redis_client_free(client);
        return EXIT_CANNOT_START;
    }
    /* From here on `shared` owns the client: only locked_client_* use it,
     * and locked_client_destroy frees it. */
    int status = run_workers(&opts, &shared);
    locked_client_destroy(&shared);
    return status;
}
