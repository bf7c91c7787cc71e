/*
 * main.c - chapter 03: worker threads send SET commands to a manager thread
 * that owns the one Redis connection.
 *
 *     03-manager-task [--threads N] [--iterations N] [--verbose] [--timing]
 *
 * The manager is in manager.c, the workers and who holds which sender in
 * worker.c.  This file starts the manager, hands its sender to the
 * workers, waits for everything to end, and has the keys read back.
 * --verbose adds the manager's log of every command, --timing the time.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "manager.h"
#include "redis_client.h"
#include "report.h"
#include "worker.h"

/* Why 32: enough room that workers rarely wait for the manager, small
 * enough that a slow Redis makes them wait (backpressure, chapter 05)
 * instead of piling up commands in memory.  It is Tokio's number too. */
#define CHANNEL_CAPACITY 32

/* How long main waits for the manager after the last worker finished.  A
 * correct program needs a few milliseconds (at most 32 queued commands are
 * left); a program that forgot to drop a sender would wait for ever. */
#define MANAGER_END_TIMEOUT_MS 10000

int main(int argc, char **argv)
{
    size_t threads = 4, iterations = 100;
    bool verbose = false, timing = false;
    const struct cli_option options[] = {
        { .name = "threads", .count = &threads, .min = 1, .max = 1024,
          .help = "threads sending commands" },
        { .name = "iterations", .count = &iterations, .min = 1, .max = 100000000,
          .help = "SET commands per thread" },
        { .name = "verbose", .flag = &verbose, .help = "the manager logs every command, to stdout" },
        { .name = "timing", .flag = &timing, .help = "also print how long the run took" },
    };
    const struct cli_program program = {
        .name = "03-manager-task",
        .summary = "Starts N threads that send SET commands for keys of their own to one manager\n"
                   "thread, which owns the Redis connection; then reads every key back through a\n"
                   "second connection.",
        .epilog = REPORT_REDIS_HELP("make run-03"), CLI_OPTIONS(options),
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
    printf("%zu %s send SET commands to one manager thread, which owns the connection: "
           "%zu each\n", threads, report_plural(threads, "thread", "threads"), iterations);
    fflush(stdout);
    for (size_t i = 0; i < threads; i++)
        workers[i] = (struct worker){ .id = (int)i + 1, .iterations = (long)iterations,
                                      .run_tag = run_tag, .out = &report.slots[i] };
    report.started = workers_start(workers, threads, tx); /* tx is theirs now */
    workers_join(workers, report.started);
    report_print_lines(&report, stdout);

    /* Not manager_join at once: a forgotten sender would keep it waiting
     * for ever, and a learner is better served by a message. */
    if (!manager_wait(&manager, MANAGER_END_TIMEOUT_MS)) {
        fflush(stdout); /* exit, not return: the manager is stuck, and main leaves it there */
        exit(report_error(program.name, EXIT_WRONG_RESULTS, "every thread has finished, "
                            "but the manager is still waiting for commands %d s later.\n"
                            "Some sender was never dropped: each thread must drop its own, and "
                            "main the one manager_start gave it.\nSee docs/03-manager-task.md, "
                            "\"When the manager never ends\".", MANAGER_END_TIMEOUT_MS / 1000));
    }
    manager_join(&manager);
    //> pitfall main-drops-late
    //| mistake
    //| mpsc_sender_drop(tx); /* main's own sender, dropped only at the end */
    //< pitfall main-drops-late
    report_stop_clock(&report);
    printf("manager: executed %zu commands, %zu failed\n", manager.executed, manager.failed);
    if (timing)
        report_print_timing(&report, stdout, manager.executed, "commands");
    int status = report_status(&report);
    int verified = workers_verify(url, workers, report.started, err, sizeof err);
    if (verified < 0) /* the server went away during the run */
        status = report_error(program.name, EXIT_WRONG_RESULTS, "cannot read the keys back: %s",
                              err);
    else if (manager.failed > 0) /* Redis's doing, not the program's */
        status = report_error(program.name, EXIT_WRONG_RESULTS, "%zu SET commands failed "
                              "(--verbose shows Redis's answers)", manager.failed);
    else if (status == EXIT_WRONG_RESULTS || verified > 0)
        status = report_error(program.name, EXIT_WRONG_RESULTS, "not every SET reached Redis "
                              "(%s).\nSee docs/03-manager-task.md, \"The receive loop\" and "
                              "\"One sender per thread\".", verified > 0 ? err : "see above");
    report_free(&report);
    return status;
}
