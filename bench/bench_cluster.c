/*
 * bench_cluster.c - chapter 10's pool on a Redis Cluster next to chapter
 * 07's pool on one server, in the same run.
 *
 * Both are measured as the chapters ship them: this program runs the plain
 * builds of the two chapter programs from solutions/ (a learner's edits in
 * chapters/ never change the figures) with --timing, and reads the
 * "requests/s" they print.  The workload is the programs' own and the same
 * for both: THREADS threads, each doing SET key value / GET key pairs on
 * keys of its own, every GET checked against the value just SET.
 *
 *   pool-1-server   07-connection-pool, 4 managers, on $REDIS_URL (the one
 *                   server `make bench` starts)
 *   cluster-3-masters  10-redis-cluster, one manager per master, on a
 *                   throwaway cluster of 3 masters this program starts
 *
 * On one machine the cluster's masters share the cores the single server
 * has, so this measures what the routing and the extra servers cost, not
 * what a cluster on several machines gains.  Repetitions are interleaved,
 * as in bench_redis.
 *
 * Exit status: 0; 1 if a run failed (its program exited non-zero: a wrong
 * or failed reply); 2 if the cluster could not start or an option was bad.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "redis_harness.h"

static const char usage[] =
    "usage: bench_cluster [--out DIR] [--quick | --smoke]\n"
    "Runs chapter 07's pool on $REDIS_URL and chapter 10's cluster pool on a\n"
    "throwaway Redis Cluster of 3 masters, 64 threads each, and writes\n"
    "cluster.csv and cluster.md to DIR (default build/bench).\n";

enum { CASES = 2, MAX_REPS = 3 };

static const char *const case_names[CASES] = { "pool-1-server", "cluster-3-masters" };
static const char *const case_programs[CASES] = {
    "build/plain/solutions/07-connection-pool/07-connection-pool",
    "build/plain/solutions/10-redis-cluster/10-redis-cluster",
};

/* Runs one case with REDIS_URL=url; returns its requests/s, or -1 (and says
 * why) if the program failed or printed no rate. */
static double run_case(int c, const char *url, size_t threads, size_t requests)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s --threads %zu --requests %zu --timing", case_programs[c],
             threads, requests);
    if (setenv("REDIS_URL", url, 1) != 0)
        return -1;
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        perror("bench_cluster: popen");
        return -1;
    }
    char line[512];
    double seconds, rate = -1;
    /* The --timing line of common/report.c ("time: 0.004 s for 160 requests
     * (39921 requests/s)"), or the shorter one some chapters print. */
    while (fgets(line, sizeof line, p) != NULL)
        if (sscanf(line, "time: %lf s for %*s %*s (%lf requests/s)", &seconds, &rate) != 2)
            (void)sscanf(line, "time: %lf s, %lf requests/s", &seconds, &rate);
    int status = pclose(p);
    if (status != 0 || rate < 0) {
        fprintf(stderr, "bench_cluster: '%s' failed (status %d) or printed no rate\n", cmd,
                status);
        return -1;
    }
    return rate;
}

int main(int argc, char **argv)
{
    struct bench_options opts;
    bench_parse_options(argc, argv, usage, &opts);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    redis_harness_stop_all_on_signal();
    const char *env = getenv("REDIS_URL");
    if (env == NULL || env[0] == '\0') {
        fprintf(stderr, "bench_cluster: needs REDIS_URL (run it under build/plain/bin/with-redis)\n");
        return 2;
    }
    char server_url[256];
    snprintf(server_url, sizeof server_url, "%s", env);
    static struct redis_cluster cluster;
    char err[1024];
    if (redis_cluster_start(&cluster, 3, 0, err, sizeof err) != 0) {
        fprintf(stderr, "bench_cluster: cannot start a Redis Cluster: %s\n", err);
        return 2;
    }
    /* Smoke: a few threads and requests, to prove it runs; the others: 64. */
    size_t threads = opts.mode == BENCH_SMOKE ? 8 : 64;
    size_t requests = (size_t)bench_by_mode(&opts, 2000, 300, 20);
    const char *urls[CASES] = { server_url, cluster.url };
    double rates[CASES][MAX_REPS];
    int failed = 0;
    printf("bench_cluster: %zu threads x %zu requests, %d repetitions\n", threads, requests,
           opts.reps);
    for (int rep = 0; rep < opts.reps && rep < MAX_REPS; rep++)
        for (int c = 0; c < CASES; c++) {
            rates[c][rep] = run_case(c, urls[c], threads, requests);
            failed += rates[c][rep] < 0;
        }
    redis_cluster_stop(&cluster);
    if (failed > 0)
        return 1;

    bench_report_open(&opts, "cluster.md");
    bench_report("\n### The pool on one server and on a Redis Cluster\n\n"
                 "%zu threads, SET/GET pairs on keys of their own, every GET checked; the "
                 "chapters' own programs. Median of %d interleaved repetitions, min-max in "
                 "brackets. All servers on this one machine.\n\n"
                 "| pool | servers | ops/s (min-max) |\n|:---|---:|---:|\n",
                 threads, opts.reps);
    FILE *csv = bench_open_output(&opts, "cluster.csv");
    fprintf(csv, "pool,threads,reps,ops_per_s,ops_min,ops_max\n");
    for (int c = 0; c < CASES; c++) {
        struct bench_stat st = bench_stat_of(rates[c], (size_t)opts.reps);
        char m[16], lo[16], hi[16];
        bench_report("| %s | %s | %s (%s-%s) |\n", case_names[c],
                     c == 0 ? "1 server, 4 managers" : "3 masters, 1 manager each",
                     bench_si(st.median, m, sizeof m), bench_si(st.min, lo, sizeof lo),
                     bench_si(st.max, hi, sizeof hi));
        fprintf(csv, "%s,%zu,%d,%.0f,%.0f,%.0f\n", case_names[c], threads, opts.reps, st.median,
                st.min, st.max);
    }
    fclose(csv);
    bench_report_close();
    return 0;
}
