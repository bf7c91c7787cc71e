/*
 * main.c - chapter 04: threads SET and GET keys of their own through the
 * manager, and each checks the answers it gets back.
 *
 *     04-responses [--threads N] [--iterations N] [--verbose] [--timing]
 *
 * The manager answers in manager.c, the threads wait for their answers
 * through client.c, and check them in worker.c.  This file starts the
 * manager, hands its sender to the workers and reports: unlike chapter 03
 * nobody has to read the keys back afterwards.
 * --verbose adds the manager's log of every command, --timing the time.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "manager.h"
#include "redis_client.h"
#include "report.h"
#include "worker.h"

/* As in chapter 03; chapter 05 looks at this number closely. */
#define CHANNEL_CAPACITY 32

int main(int argc, char **argv)
{
    size_t threads = 4, iterations = 100;
    bool verbose = false, timing = false;
    const struct cli_option options[] = {
        { .name = "threads", .count = &threads, .min = 1, .max = 1024,
          .help = "threads sending requests" },
        { .name = "iterations", .count = &iterations, .min = 1, .max = 100000000,
          .help = "SET + GET rounds per thread" },
        { .name = "verbose", .flag = &verbose, .help = "the manager logs every command, to stdout" },
        { .name = "timing", .flag = &timing, .help = "also print how long the run took" },
    };
    const struct cli_program program = {
        .name = "04-responses",
        .summary = "Starts N threads that SET keys of their own and GET them back through one\n"
                   "manager thread, which owns the Redis connection and answers each request over\n"
                   "a oneshot channel.",
        .epilog = REPORT_REDIS_HELP("make run-04"), CLI_OPTIONS(options),
    };
    cli_parse_or_exit(&program, argc, argv);
    /* A write to a connection Redis has closed must fail with EPIPE, not
     * kill the process (see redis_client.h). */
    signal(SIGPIPE, SIG_IGN);

    const char *url = redis_url_from_env();
    char run_tag[48], err[512];
    snprintf(run_tag, sizeof run_tag, "%ld.%ld", (long)getpid(), (long)time(NULL));
    struct manager manager = { .log = verbose ? stdout : NULL };
    struct mpsc_sender *tx;
    if (manager_start(&manager, url, CHANNEL_CAPACITY, &tx, err, sizeof err) != 0)
        return report_error(program.name, EXIT_CANNOT_START, "%s", err);
    struct report report;
    report_init(&report, program.name, threads, sizeof(struct worker));
    struct worker *workers = report.workers;
    printf("%zu %s SET and GET keys of their own through one manager thread: %zu rounds "
           "each\n", threads, report_plural(threads, "thread", "threads"), iterations);
    fflush(stdout);
    for (size_t i = 0; i < threads; i++)
        workers[i] = (struct worker){ .id = (int)i + 1, .iterations = (long)iterations,
                                      .run_tag = run_tag, .out = &report.slots[i] };
    report.started = workers_start(workers, threads, tx); /* tx is theirs now */
    workers_join(workers, report.started);
    /* Every sender is gone now, so the manager ends once it has answered
     * what is queued (or it has ended already, after losing Redis). */
    manager_join(&manager);
    report_stop_clock(&report);
    report_print_lines(&report, stdout);
    printf("manager: executed %zu commands, %zu failed\n", manager.executed, manager.failed);
    if (timing)
        report_print_timing(&report, stdout, manager.executed, "commands");
    int status = report_status(&report);
    const char *problem = report_first_problem(&report);
    if (manager.connection_lost)
        status = report_error(program.name, EXIT_WRONG_RESULTS, "lost the connection to %s: %s",
                              manager.url, manager.failure);
    else if (status == EXIT_WRONG_RESULTS)
        report_error(program.name, status, "%zu %s stopped by a wrong value or an error (see "
                     "the report above).%s", report_totals(&report).stopped,
                     report_plural(report_totals(&report).stopped, "thread", "threads"),
                     problem != NULL && strstr(problem, "dropped the request") != NULL
                         ? "\nThe manager never answered: send each result through cmd->reply "
                           "(TODO(04) in\nchapters/04-responses/manager.c); see "
                           "docs/04-responses.md, \"The manager answers\"."
                         : "");
    report_free(&report);
    return status;
}
