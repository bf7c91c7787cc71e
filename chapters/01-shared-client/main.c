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
 * and prints what they saw; the thread body is in shared_client.c, and
 * what every program prints (the report, the exit status) in
 * common/report.h.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "redis_client.h"
#include "report.h"
#include "shared_client.h"

/* Starts one worker per slot of the report, all on `client`, and joins
 * them. */
static void run_workers(struct report *report, struct redis_client *client, size_t iterations,
                        bool verbose)
{
    struct worker *workers = report->workers;
    for (size_t i = 0; i < report->count; i++)
        workers[i] = (struct worker){
            .id = (int)i + 1,
            .client = client, /* the SAME client for every thread */
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
          .help = "threads sharing the connection; 1 is the control" },
        { .name = "iterations", .count = &iterations, .min = 1, .max = 100000000,
          .help = "SET + GET rounds per thread" },
        { .name = "verbose", .flag = &verbose, .help = "log every reply to stderr as it arrives" },
        { .name = "timing", .flag = &timing, .help = "also print how long the run took" },
    };
    const struct cli_program program = {
        .name = "01-shared-client",
        .summary = "Starts N threads that share ONE Redis connection without a lock.  Each thread\n"
                   "SETs its own key and GETs it back, and counts the replies that were not its own.",
        .epilog = REPORT_REDIS_HELP("make run-01"), CLI_OPTIONS(options),
    };
    cli_parse_or_exit(&program, argc, argv);
    /* A write to a connection Redis has closed must fail with EPIPE, not
     * kill the process (see redis_client.h). */
    signal(SIGPIPE, SIG_IGN);

    /* A thread whose reply another thread took waits for a reply that will
     * never come.  The command timeout turns that wait into an error after
     * 2 s (instead of the default 10 s), so the run ends and reports it. */
    char err[512];
    struct redis_client *client = redis_client_connect(
        redis_url_from_env(), &(struct redis_client_options){ .command_timeout_ms = 2000 }, err,
        sizeof err);
    if (client == NULL)
        return report_error(program.name, EXIT_CANNOT_START, "%s", err);
    struct report report;
    report_init(&report, program.name, threads, sizeof(struct worker));
    printf("%zu %s on one connection, no lock: each runs %zu rounds of SET + GET on its own key\n",
           threads, report_plural(threads, "thread", "threads"), iterations);
    /* If the run crashes, this line is all the learner will see on stdout;
     * without the flush it would die in the buffer with the process. */
    fflush(stdout);
    run_workers(&report, client, iterations, verbose);

    /* Every thread has ended: reading their slots needs no lock. */
    report_print_lines(&report, stdout);
    report_print_totals(&report, stdout, "rounds");
    if (timing)
        report_print_timing(&report, stdout, 2 * report_totals(&report).done, "round trips");
    int status = report_status(&report);
    if (status == EXIT_WRONG_RESULTS)
        report_explain(&report, threads > 1
            ? "The threads shared one connection without a lock: replies went to the wrong\n"
              "thread; see docs/01-shared-client.md"
            : "A single thread saw errors, so the connection itself failed; this is not the\n"
              "sharing bug.");
    report_free(&report);
    redis_client_free(client);
    return status;
}
