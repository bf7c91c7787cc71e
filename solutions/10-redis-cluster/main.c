/*
 * main.c - chapter 10: many threads send GETs and SETs through a pool of
 * managers, one per master of a Redis Cluster, routed by hash slot; every
 * reply is checked.
 *
 *     10-redis-cluster [--threads T] [--requests R] [--keys K] [--timing] [--verbose]
 *
 * REDIS_URL names any node of the cluster (`make run-10` starts a
 * throwaway cluster of three masters).  The routing is in cluster.c, the
 * redirections in client.c; the threads and their checks are chapter 07's
 * (worker.c).  Output on stdout is deterministic; rates and each master's
 * address and load appear only with --timing, the managers' connection
 * events only with --verbose.
 */
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "cluster.h"
#include "report.h"
#include "worker.h"

int main(int argc, char **argv)
{
    size_t threads = 8, requests = 1000, keys = 16;
    bool timing = false, verbose = false;
    const struct cli_option options[] = {
        { .name = "threads", .count = &threads, .min = 1, .max = 256, .value_name = "T",
          .help = "threads sending at once" },
        { .name = "requests", .count = &requests, .min = 1, .max = 10000000, .value_name = "R",
          .help = "requests per thread" },
        { .name = "keys", .count = &keys, .min = 1, .max = 4096, .value_name = "K",
          .help = "keys per thread" },
        { .name = "timing", .flag = &timing,
          .help = "also print requests per second and each master's load" },
        { .name = "verbose", .flag = &verbose,
          .help = "log the managers' connection events to stderr" },
    };
    const struct cli_program program = {
        .name = "10-redis-cluster",
        .summary = "Threads send SETs and GETs through one manager per master of the Redis\n"
                   "Cluster at $REDIS_URL (any node), routed by hash slot; every GET must\n"
                   "return the value its thread SET just before.",
        .epilog = REPORT_REDIS_HELP("make run-10"), CLI_OPTIONS(options),
    };
    cli_parse_or_exit(&program, argc, argv);
    /* A write to a connection Redis has closed must fail with EPIPE, not
     * kill the process (see redis_client.h): with a pool that survives lost
     * connections, this is no longer a corner case. */
    signal(SIGPIPE, SIG_IGN);

    struct cluster *cluster;
    char err[512];
    if (cluster_open(NULL, &(struct cluster_options){ .log = verbose ? stderr : NULL }, &cluster,
                     err, sizeof err) != 0)
        return report_error(program.name, EXIT_CANNOT_START, "%s", err);
    struct cluster_stats stats;
    cluster_stats(cluster, &stats);
    printf("Cluster of %zu masters; %zu threads each send %zu requests (SET a key, then\n"
           "GET it back) on %zu keys of their own, routed by hash slot.\n", stats.nodes,
           threads, requests, keys);
    fflush(stdout);
    struct report report;
    report_init(&report, program.name, threads, sizeof(struct worker));
    struct worker *workers = report.workers;
    for (size_t i = 0; i < threads; i++)
        workers[i] = (struct worker){ .pool = cluster, .prefix = "ch10", .index = i + 1,
                                      .requests = requests, .keys = keys,
                                      .out = &report.slots[i] };
    report_start_threads(&report, worker_main);
    report_join_threads(&report);

    /* Every thread is done with the cluster: read the counters, then close. */
    struct report_totals t = report_totals(&report);
    printf("requests: %zu sent, %zu answered as expected, %zu wrong, %zu errors\n",
           report.started * requests, t.done, t.wrong, t.errors);
    int status = report_status(&report);
    if (status == EXIT_ALL_RIGHT)
        printf("every GET returned the value its thread had just SET\n");
    size_t busy = 0;
    cluster_stats(cluster, &stats);
    for (size_t i = 0; i < stats.nodes; i++) {
        struct manager_stats m;
        cluster_node_stats(cluster, i, &m);
        busy += m.succeeded + m.failed > 0;
        if (timing)
            printf("master %s: %zu commands (%zu failed)\n", cluster_node_address(cluster, i),
                   m.succeeded + m.failed, m.failed);
    }
    if (busy == stats.nodes)
        printf("all %zu masters carried commands\n", stats.nodes);
    printf("redirections followed: %zu MOVED, %zu ASK\n", stats.moved, stats.asked);
    if (timing)
        report_print_timing(&report, stdout, report.started * requests, "requests");
    cluster_close(cluster);
    /* The first problem lives in the report: say it before freeing it. */
    const char *first = report_first_problem(&report);
    if (status == EXIT_WRONG_RESULTS)
        report_error(program.name, status, "%zu wrong replies and %zu errors; the first: %s",
                     t.wrong, t.errors, first != NULL ? first : "(none recorded)");
    report_free(&report);
    return status;
}
