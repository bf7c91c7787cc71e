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
 * and prints what they saw; the thread body is in worker.c, and
 * what every program prints (the report, the exit status) in
 * common/report.h.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "redis_client.h"
#include "report.h"
#include "worker.h"

/* Starts one worker per slot of the report, all on `client`, and joins
 * them. */
static void run_workers(struct report *report, struct locked_client *client, size_t iterations,
                        bool verbose)
{
    struct worker *workers = report->workers;
    for (size_t i = 0; i < report->count; i++)
        workers[i] = (struct worker){
            .id = (int)i + 1,
            .client = client, /* the same locked client for every thread */
            .iterations = (long)iterations,
            .verbose = verbose,
            .out = &report->slots[i],
        };
    report_start_threads(report, worker_thread);
    report_join_threads(report);
}

int main(int argc, char **argv)
{
    size_t threads = 8, iterations = 2000;
    bool verbose = false, timing = false;
    const struct cli_option options[] = {
        { .name = "threads", .count = &threads, .min = 1, .max = 1024,
          .help = "threads sharing the connection" },
        { .name = "iterations", .count = &iterations, .min = 1, .max = 100000000,
          .help = "SET + GET rounds per thread" },
        { .name = "verbose", .flag = &verbose, .help = "log every reply to stderr as it arrives" },
        { .name = "timing", .flag = &timing, .help = "also print the time per round trip" },
    };
    const struct cli_program program = {
        .name = "02-mutex",
        .summary = "Starts N threads that share ONE Redis connection behind a mutex.  Each thread\n"
                   "SETs its own key and GETs it back, and counts the replies that were not its own.",
        .epilog = REPORT_REDIS_HELP("make run-02"), CLI_OPTIONS(options),
    };
    cli_parse_or_exit(&program, argc, argv);
    /* A write to a connection Redis has closed must fail with EPIPE, not
     * kill the process (see redis_client.h). */
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    struct redis_client *client = redis_client_connect(redis_url_from_env(), NULL, err, sizeof err);
    if (client == NULL)
        return report_error(program.name, EXIT_CANNOT_START, "%s", err);
    struct report report;
    report_init(&report, program.name, threads, sizeof(struct worker));
    printf("%zu %s on one connection behind a mutex: each runs %zu rounds of SET + GET on "
           "its own key\n", threads, report_plural(threads, "thread", "threads"), iterations);
    fflush(stdout);
    struct locked_client shared;
    int rc = locked_client_init(&shared, client);
    if (rc != 0) {
        redis_client_free(client);
        report_free(&report);
        return report_error(program.name, EXIT_CANNOT_START, "cannot create the lock: %s",
                            strerror(rc));
    }
    /* From here on `shared` owns the client: only locked_client_* use it,
     * and locked_client_destroy frees it. */
    run_workers(&report, &shared, iterations, verbose);
    locked_client_destroy(&shared);

    /* Every thread has ended: reading their slots needs no lock. */
    report_print_lines(&report, stdout);
    report_print_totals(&report, stdout, "rounds");
    struct report_totals t = report_totals(&report);
    if (timing) {
        /* The lock lets one round trip through at a time, so their times
         * add up, however many threads are waiting. */
        report_print_timing(&report, stdout, 2 * t.done, "round trips");
        printf("one request in flight at a time: %.1f us per round trip\n",
               t.done > 0 ? report.seconds * 1e6 / (double)(2 * t.done) : 0.0);
    }
    int status = report_status(&report);
    if (status == EXIT_WRONG_RESULTS)
        report_explain(&report, t.wrong > 0
            ? "A reply went to the wrong thread: does the lock cover the whole round trip?\n"
              "See docs/02-mutex.md, \"Why the whole round trip\"."
            : "See docs/02-mutex.md.");
    report_free(&report);
    return status;
}
