/*
 * main.c - chapter 07: many threads send GETs and SETs through a pool of
 * connections, and every reply is checked.
 *
 *     07-connection-pool [--connections N] [--threads T] [--requests R]
 *                        [--keys K] [--timing]
 *
 * Each thread owns K keys and makes R requests: SET a key to a new value,
 * then GET it back and check it is that value, and so on over its keys.
 * (After a SET that failed, the GET is not checked: a SET whose connection
 * broke may or may not have run.)
 * The check is exact because only this thread writes these keys and the
 * pool keeps the commands for one key in order: a GET can only see the SET
 * sent just before it.
 *
 * Output on stdout is deterministic; what depends on timing or on the
 * process (requests per second, how the keys spread over the connections)
 * appears only with --timing.  The managers' connection events (lost,
 * reconnecting, reconnected) go to stderr as they happen.
 * Exit status: 0 every reply was right; 1 some were wrong or failed (stderr
 * says which); 2 it could not start (bad option, bad URL, Redis unreachable).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "pool.h"
#include "redis_client.h"

enum { EXIT_ALL_RIGHT = 0, EXIT_WRONG_RESULTS = 1, EXIT_CANNOT_START = 2 };

#define MAX_THREADS 256L
#define MAX_REQUESTS 10000000L
#define MAX_KEYS 4096L

struct options {
    size_t connections, threads, requests, keys;
    bool timing;
};

/* One thread's work and what it saw. */
struct worker {
    struct pool *pool;
    const struct options *opts;
    size_t index;
    pthread_t thread;
    size_t right, wrong, errors;
    char first_problem[600]; /* "" when there was none */
};

/* ---- Options ------------------------------------------------------------------ */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: 07-connection-pool [--connections N] [--threads T] [--requests R]\n"
            "                          [--keys K] [--timing]\n"
            "Threads send SETs and GETs through a pool of connections; every GET must\n"
            "return the value its thread SET just before.\n"
            "  --connections N  managers in the pool, each with its own connection\n"
            "                   (default %d, at most %d)\n"
            "  --threads T      threads sending at once (default 8)\n"
            "  --requests R     requests per thread (default 1000)\n"
            "  --keys K         keys per thread (default 16)\n"
            "  --timing         also print requests per second and how the keys spread\n"
            "                   over the connections\n"
            "Redis: $REDIS_URL (default " REDIS_DEFAULT_URL "); `make run` starts one.\n",
            POOL_DEFAULT_CONNECTIONS, POOL_MAX_CONNECTIONS);
}

/* 0 to run, 1 when --help was answered, -1 on a bad option (message on
 * stderr). */
static int parse_options(int argc, char **argv, struct options *opts)
{
    *opts = (struct options){ .connections = POOL_DEFAULT_CONNECTIONS, .threads = 8,
                              .requests = 1000, .keys = 16 };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        size_t *target = NULL;
        long max = 0;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(stdout);
            return 1;
        } else if (strcmp(arg, "--timing") == 0) {
            opts->timing = true;
            continue;
        } else if (strcmp(arg, "--connections") == 0) {
            target = &opts->connections;
            max = POOL_MAX_CONNECTIONS;
        } else if (strcmp(arg, "--threads") == 0) {
            target = &opts->threads;
            max = MAX_THREADS;
        } else if (strcmp(arg, "--requests") == 0) {
            target = &opts->requests;
            max = MAX_REQUESTS;
        } else if (strcmp(arg, "--keys") == 0) {
            target = &opts->keys;
            max = MAX_KEYS;
        } else {
            fprintf(stderr, "07-connection-pool: unknown option '%s'\n", arg);
            print_usage(stderr);
            return -1;
        }
        long n;
        if (next == NULL || !cli_parse_count(next, 1, max, &n)) {
            fprintf(stderr, "07-connection-pool: %s needs a number from 1 to %ld\n", arg, max);
            return -1;
        }
        *target = (size_t)n;
        i++;
    }
    return 0;
}

/* ---- The threads ---------------------------------------------------------------- */

static void note_problem(struct worker *w, const char *fmt, const char *a, const char *b)
{
    if (w->first_problem[0] == '\0')
        snprintf(w->first_problem, sizeof w->first_problem, fmt, a, b);
}

/* SET key value, then GET key: the GET must see exactly that value. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct options *o = w->opts;
    long pid = (long)getpid(); /* keys of their own, even next to another run */
    bool set_failed = false;   /* the SET of the current pair got an error */
    for (size_t r = 0; r < o->requests; r++) {
        char key[96], value[96], quoted[REDIS_QUOTE_BUFSIZE];
        size_t step = r / 2; /* the r-th request belongs to SET/GET pair `step` */
        int key_len = snprintf(key, sizeof key, "ch07:%ld:t%zu:k%zu", pid, w->index,
                               step % o->keys);
        int value_len = snprintf(value, sizeof value, "t%zu-v%zu", w->index, step);
        bool is_set = r % 2 == 0;
        struct redis_result result =
            is_set ? client_set(w->pool, key, (size_t)key_len, value, (size_t)value_len)
                   : client_get(w->pool, key, (size_t)key_len);
        if (is_set)
            set_failed = redis_result_is_error(&result);
        if (redis_result_is_error(&result)) {
            w->errors++;
            note_problem(w, "%s: %s", key, result.data);
        } else if (!is_set && set_failed) {
            /* The SET before it failed - and may or may not have run (the
             * connection broke after the write): any value is possible. */
            w->right++;
        } else if (is_set ? result.kind == REDIS_RESULT_OK
                          : result.kind == REDIS_RESULT_VALUE &&
                                result.len == (size_t)value_len &&
                                memcmp(result.data, value, result.len) == 0) {
            w->right++;
        } else {
            w->wrong++;
            char expected[sizeof value + 16];
            snprintf(expected, sizeof expected, "expected \"%s\"", value);
            note_problem(w, "%s: %s", key, expected);
            size_t used = strlen(w->first_problem);
            snprintf(w->first_problem + used, sizeof w->first_problem - used, ", got %s %s",
                     redis_result_kind_name(result.kind),
                     result.data != NULL
                         ? redis_quote_bytes(result.data, result.len, quoted, sizeof quoted)
                         : "");
        }
        redis_result_free(&result);
    }
    return NULL;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    struct options opts;
    int parsed = parse_options(argc, argv, &opts);
    if (parsed != 0)
        return parsed > 0 ? EXIT_ALL_RIGHT : EXIT_CANNOT_START;

    /* A write to a connection Redis has closed must fail with EPIPE, not
     * kill the process (see redis_client.h): with a pool that survives lost
     * connections, this is no longer a corner case. */
    signal(SIGPIPE, SIG_IGN);

    printf("Pool of %zu connection%s; %zu thread%s each send %zu requests through it\n"
           "(SET a key, then GET it back), on %zu keys of their own.\n",
           opts.connections, opts.connections == 1 ? "" : "s", opts.threads,
           opts.threads == 1 ? "" : "s", opts.requests, opts.keys);
    fflush(stdout);

    struct pool_options pool_opts = { .name = "ch07", .log = stderr };
    struct pool *pool;
    char err[512];
    if (pool_open(redis_url_from_env(), opts.connections, &pool_opts, &pool, err,
                  sizeof err) != 0) {
        fprintf(stderr, "07-connection-pool: %s\n", err);
        return EXIT_CANNOT_START;
    }

    struct worker *workers = calloc(opts.threads, sizeof *workers);
    if (workers == NULL) {
        fprintf(stderr, "07-connection-pool: out of memory\n");
        pool_close(pool);
        return EXIT_CANNOT_START;
    }
    int64_t started = now_us();
    size_t running = 0;
    for (; running < opts.threads; running++) {
        struct worker *w = &workers[running];
        *w = (struct worker){ .pool = pool, .opts = &opts, .index = running };
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fprintf(stderr, "07-connection-pool: cannot start thread %zu\n", running);
            break;
        }
    }
    for (size_t i = 0; i < running; i++)
        pthread_join(workers[i].thread, NULL);
    double seconds = (double)(now_us() - started) / 1e6;

    /* Every thread is done with the pool; read the counters, then close. */
    size_t right = 0, wrong = 0, errors = 0, busy = 0;
    const char *problem = NULL;
    for (size_t i = 0; i < running; i++) {
        right += workers[i].right;
        wrong += workers[i].wrong;
        errors += workers[i].errors;
        if (problem == NULL && workers[i].first_problem[0] != '\0')
            problem = workers[i].first_problem;
    }
    struct manager_stats *stats = calloc(opts.connections, sizeof *stats);
    for (size_t i = 0; stats != NULL && i < opts.connections; i++) {
        pool_stats(pool, i, &stats[i]);
        busy += stats[i].succeeded + stats[i].failed > 0;
    }

    size_t sent = running * opts.requests;
    printf("requests: %zu sent, %zu answered as expected, %zu wrong, %zu errors\n", sent,
           right, wrong, errors);
    if (wrong == 0 && errors == 0 && running == opts.threads)
        printf("every GET returned the value its thread had just SET: the pool kept the\n"
               "commands for each key in order\n");
    if (stats != NULL && busy == opts.connections && opts.connections > 1)
        printf("all %zu connections carried commands\n", opts.connections);
    if (opts.timing && stats != NULL) {
        printf("time: %.3f s, %.0f requests/s\n", seconds,
               seconds > 0 ? (double)sent / seconds : 0.0);
        for (size_t i = 0; i < opts.connections; i++)
            printf("manager %zu: %zu commands (%zu failed), %zu reconnects\n", i,
                   stats[i].succeeded + stats[i].failed, stats[i].failed,
                   stats[i].reconnects);
    }
    pool_close(pool);
    free(stats);
    free(workers);

    if (running < opts.threads)
        return EXIT_WRONG_RESULTS;
    if (wrong > 0 || errors > 0) {
        fprintf(stderr, "07-connection-pool: %zu wrong replies and %zu errors; the first: %s\n",
                wrong, errors, problem != NULL ? problem : "(none recorded)");
        return EXIT_WRONG_RESULTS;
    }
    return EXIT_ALL_RIGHT;
}
