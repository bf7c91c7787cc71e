/*
 * main.c - chapter 07: many threads send GETs and SETs through a pool of
 * connections, and every reply is checked.
 *
 *     07-connection-pool [--connections N] [--threads T] [--requests R]
 *                        [--keys K] [--timing]
 *
 * The pool is in pool.c, the managers that survive a lost connection in
 * manager.c, the threads and their checks in worker.c.  Output on stdout
 * is deterministic; what depends on timing or on the process (requests
 * per second, how the keys spread over the connections) appears only with
 * --timing.  The managers' connection events (lost, reconnecting,
 * reconnected) go to stderr as they happen.
 */
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "pool.h"
#include "report.h"
#include "worker.h"

int main(int argc, char **argv)
{
    size_t connections = POOL_DEFAULT_CONNECTIONS, threads = 8, requests = 1000, keys = 16;
    bool timing = false;
    const struct cli_option options[] = {
        { .name = "connections", .count = &connections, .min = 1, .max = POOL_MAX_CONNECTIONS,
          .help = "managers in the pool, each with its own connection" },
        { .name = "threads", .count = &threads, .min = 1, .max = 256, .value_name = "T",
          .help = "threads sending at once" },
        { .name = "requests", .count = &requests, .min = 1, .max = 10000000, .value_name = "R",
          .help = "requests per thread" },
        { .name = "keys", .count = &keys, .min = 1, .max = 4096, .value_name = "K",
          .help = "keys per thread" },
        { .name = "timing", .flag = &timing,
          .help = "also print requests per second and how the keys spread\nover the "
                  "connections" },
    };
    const struct cli_program program = {
        .name = "07-connection-pool",
        .summary = "Threads send SETs and GETs through a pool of connections; every GET must\n"
                   "return the value its thread SET just before.",
        .epilog = REPORT_REDIS_HELP("make run"), CLI_OPTIONS(options),
    };
    cli_parse_or_exit(&program, argc, argv);
    /* A write to a connection Redis has closed must fail with EPIPE, not
     * kill the process (see redis_client.h): with a pool that survives lost
     * connections, this is no longer a corner case. */
    signal(SIGPIPE, SIG_IGN);

    printf("Pool of %zu connection%s; %zu thread%s each send %zu requests through it\n"
           "(SET a key, then GET it back), on %zu keys of their own.\n", connections,
           report_plural(connections, "", "s"), threads, report_plural(threads, "", "s"),
           requests, keys);
    fflush(stdout);
    struct pool *pool;
    char err[512];
    if (pool_open(NULL, connections, &(struct pool_options){ .name = "ch07", .log = stderr },
                  &pool, err, sizeof err) != 0)
        return report_error(program.name, EXIT_CANNOT_START, "%s", err);
    struct report report;
    report_init(&report, program.name, threads, sizeof(struct worker));
    struct worker *workers = report.workers;
    for (size_t i = 0; i < threads; i++)
        workers[i] = (struct worker){ .pool = pool, .prefix = "ch07", .index = i + 1,
                                      .requests = requests, .keys = keys,
                                      .out = &report.slots[i] };
    report_start_threads(&report, worker_main);
    report_join_threads(&report);

    /* Every thread is done with the pool: read the counters, then close. */
    struct report_totals t = report_totals(&report);
    printf("requests: %zu sent, %zu answered as expected, %zu wrong, %zu errors\n",
           report.started * requests, t.done, t.wrong, t.errors);
    int status = report_status(&report);
    if (status == EXIT_ALL_RIGHT)
        printf("every GET returned the value its thread had just SET: the pool kept the\n"
               "commands for each key in order\n");
    size_t busy = 0;
    struct manager_stats stats;
    for (size_t i = 0; i < connections; i++) {
        pool_stats(pool, i, &stats);
        busy += stats.succeeded + stats.failed > 0;
        if (timing)
            printf("manager %zu: %zu commands (%zu failed), %zu reconnects\n", i,
                   stats.succeeded + stats.failed, stats.failed, stats.reconnects);
    }
    if (busy == connections && connections > 1)
        printf("all %zu connections carried commands\n", connections);
    if (timing)
        report_print_timing(&report, stdout, report.started * requests, "requests");
    pool_close(pool);
    /* The first problem lives in the report: say it before freeing it. */
    const char *first = report_first_problem(&report);
    if (status == EXIT_WRONG_RESULTS)
        report_error(program.name, status, "%zu wrong replies and %zu errors; the first: %s",
                     t.wrong, t.errors, first != NULL ? first : "(none recorded)");
    report_free(&report);
    return status;
}
