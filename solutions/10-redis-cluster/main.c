/*
 * main.c - chapter 10: many threads send GETs and SETs through a pool of
 * managers, one per master of a Redis Cluster, routed by hash slot; every
 * reply is checked.
 *
 *     10-redis-cluster [--threads T] [--requests R] [--keys K] [--timing] [--verbose]
 *
 * REDIS_URL names any node of the cluster (`make run-10` starts a
 * throwaway cluster of three masters).  The threads are in worker.c, the
 * routing in cluster.c, the redirections in client.c.
 *
 * Output on stdout is deterministic; rates and each master's address and
 * load appear only with --timing, connection events only with --verbose.
 * Exit status: 0 every reply was right; 1 some were wrong or failed (stderr
 * says which); 2 it could not start (bad option, bad URL, no cluster there).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "cluster.h"
#include "redis_client.h"
#include "worker.h"

enum { EXIT_ALL_RIGHT = 0, EXIT_WRONG_RESULTS = 1, EXIT_CANNOT_START = 2 };

int main(int argc, char **argv)
{
    struct workload load = { .threads = 8, .requests = 1000, .keys = 16 };
    bool timing = false, verbose = false;
    const struct cli_option options[] = {
        { .name = "threads", .count = &load.threads, .min = 1, .max = 256,
          .help = "threads sending at once" },
        { .name = "requests", .count = &load.requests, .min = 1, .max = 10000000,
          .help = "requests per thread (a SET, then a GET of the same key, ...)" },
        { .name = "keys", .count = &load.keys, .min = 1, .max = 4096,
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
        CLI_OPTIONS(options),
    };
    int status = cli_parse(&program, argc, argv, stdout, stderr);
    if (status >= 0)
        return status;
    signal(SIGPIPE, SIG_IGN); /* a write to a dead node is an error, not death */

    struct cluster_options cluster_opts = { .log = verbose ? stderr : NULL };
    struct cluster *cluster;
    char err[1024];
    if (cluster_open(redis_url_from_env(), &cluster_opts, &cluster, err, sizeof err) != 0) {
        fprintf(stderr, "10-redis-cluster: %s\n", err);
        return EXIT_CANNOT_START;
    }
    struct cluster_stats stats;
    cluster_stats(cluster, &stats);
    printf("Cluster of %zu masters; %zu threads each send %zu requests (SET a key, then\n"
           "GET it back) on %zu keys of their own, routed by hash slot.\n",
           stats.nodes, load.threads, load.requests, load.keys);
    fflush(stdout);

    struct workload_result result;
    workload_run(cluster, &load, &result);
    cluster_stats(cluster, &stats);
    size_t busy = 0;
    for (size_t i = 0; i < stats.nodes; i++) {
        struct manager_stats m;
        cluster_node_stats(cluster, i, &m);
        busy += m.succeeded + m.failed > 0;
        if (timing)
            printf("master %s: %zu commands (%zu failed)\n", cluster_node_address(cluster, i),
                   m.succeeded + m.failed, m.failed);
    }
    printf("requests: %zu sent, %zu answered as expected, %zu wrong, %zu errors\n",
           result.sent, result.right, result.wrong, result.errors);
    if (result.wrong == 0 && result.errors == 0 && result.threads_run == load.threads)
        printf("every GET returned the value its thread had just SET\n");
    if (busy == stats.nodes)
        printf("all %zu masters carried commands\n", stats.nodes);
    printf("redirections followed: %zu MOVED, %zu ASK\n", stats.moved, stats.asked);
    if (timing)
        printf("time: %.3f s, %.0f requests/s\n", result.seconds,
               result.seconds > 0 ? (double)result.sent / result.seconds : 0.0);
    cluster_close(cluster);

    if (result.threads_run < load.threads || result.wrong > 0 || result.errors > 0) {
        fprintf(stderr, "10-redis-cluster: %zu wrong replies and %zu errors%s%s\n",
                result.wrong, result.errors, result.first_problem[0] ? "; the first: " : "",
                result.first_problem);
        return EXIT_WRONG_RESULTS;
    }
    return EXIT_ALL_RIGHT;
}
