/*
 * bench_redis.c - three ways for many threads to share Redis, measured
 * against a real server ($REDIS_URL; `make bench` starts a throwaway one).
 *
 *   mutex        one connection behind a pthread mutex, as in chapter 02.
 *                Correct, but only one request is ever in flight: every
 *                other thread waits for the lock through a whole round trip.
 *   manager      one connection owned by a manager thread, as in chapters
 *                03-04: threads send commands over an mpsc channel and wait
 *                on a oneshot for the answer.  The manager takes everything
 *                queued (mpsc_recv_many) and pipelines it - writes all the
 *                commands, then reads all the replies - so one round trip
 *                serves a whole batch.
 *   per thread   one connection per thread: the reference point, what you
 *                pay for in connections (Redis holds one per client).
 *
 * Each thread alternates SET key value / GET key on keys of its own and
 * checks that the GET returns what it just set, for 1 to 32 threads.  The
 * table gives operations per second and the latency each caller saw (p50,
 * p99), plus the average batch the manager pipelined.  Exit status 1 means
 * a wrong answer or an error from Redis, 2 that Redis could not be reached
 * or an option was bad.
 *
 * Both helpers here (locked_client, manager) are written for this file on
 * purpose - small and self-contained - rather than linked from solutions/,
 * so that a learner's edits there never change the benchmark.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "mpsc.h"
#include "oneshot.h"
#include "redis_client.h"
#include "svg_plot.h"

static const char usage[] =
    "usage: bench_redis [--out DIR] [--quick]\n"
    "GET/SET throughput and latency against $REDIS_URL for 1-32 threads, through\n"
    "a mutex, a pipelining manager thread, and a connection per thread; prints a\n"
    "table and writes SVG plots to DIR (default build/bench).\n"
    "  --quick  runs ten times shorter: a smoke test, not a measurement\n";

enum {
    RUN_MS = 400,            /* per run (each point runs BENCH_REPEATS times) */
    MAX_OPS_PER_RUN = 200000, /* all threads together; bounds the memory too */
    QUICK_DIVISOR = 10,
    KEYS_PER_THREAD = 64,
    MANAGER_CAPACITY = 256,  /* more slots than threads: no convoy */
    MANAGER_BATCH = 64,
    KEY_MAX = 32,
    VALUE_MAX = 32,
};

static const size_t thread_counts[] = { 1, 2, 4, 8, 16, 32 };
#define THREAD_COUNTS (sizeof thread_counts / sizeof thread_counts[0])

enum strategy { STRATEGY_MUTEX, STRATEGY_MANAGER, STRATEGY_PER_THREAD, STRATEGY_COUNT };

static const char *const strategy_names[STRATEGY_COUNT] = {
    "mutex (1 connection)",
    "manager (1 connection, pipelined)",
    "1 connection per thread",
};

/* Shorter names for the plots' legends. */
static const char *const strategy_short_names[STRATEGY_COUNT] = {
    "mutex",
    "manager, pipelined",
    "connection per thread",
};

static unsigned divisor = 1;

static struct redis_client *connect_or_die(void)
{
    char err[512];
    struct redis_client *c = redis_client_connect(NULL, NULL, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "bench_redis: %s\n(`make bench` runs this under "
                        "build/plain/bin/with-redis, which starts a Redis)\n", err);
        exit(2);
    }
    return c;
}

static void die_errno(const char *what, int err)
{
    fprintf(stderr, "bench_redis: %s: %s\n", what, strerror(err));
    exit(2);
}

/* ==== (i) One connection behind a mutex, like chapter 02 ================= */

struct locked_client {
    pthread_mutex_t lock;
    struct redis_client *client;
};

/* The lock is held for the whole round trip: that is what makes it correct
 * (one reply can never be read by the wrong thread) and what makes it slow
 * (one request in flight, whatever the number of threads). */
static struct redis_result locked_get(struct locked_client *lc, const char *key, size_t key_len)
{
    pthread_mutex_lock(&lc->lock);
    struct redis_result r = redis_client_get(lc->client, key, key_len);
    pthread_mutex_unlock(&lc->lock);
    return r;
}

static struct redis_result locked_set(struct locked_client *lc, const char *key, size_t key_len,
                                      const char *value, size_t value_len)
{
    pthread_mutex_lock(&lc->lock);
    struct redis_result r = redis_client_set(lc->client, key, key_len, value, value_len);
    pthread_mutex_unlock(&lc->lock);
    return r;
}

/* ==== (ii) A manager thread that pipelines batches ======================= */

/* A command by value: key and value live inside it, so sending one costs
 * no allocation and the requester keeps nothing the manager needs. */
struct request {
    bool is_set;
    char key[KEY_MAX];
    size_t key_len;
    char value[VALUE_MAX];
    size_t value_len;
    struct oneshot_sender *reply; /* one struct redis_result */
};

struct manager {
    struct redis_client *client;
    struct mpsc_receiver *rx;
    size_t batches, requests; /* read after the join: average batch size */
};

static void result_drop(void *result)
{
    redis_result_free(result);
}

/*
 * Takes every request queued (up to MANAGER_BATCH), writes them all, then
 * reads the replies in the same order and answers each requester.  While
 * the manager waits for one batch's replies the next batch queues up, so
 * the busier it gets, the more each round trip carries.  If the connection
 * breaks, redis_client_read_reply reports it for every request, so every
 * requester still gets an answer.  Ends when every sender has gone.
 */
static void *manager_main(void *arg)
{
    struct manager *m = arg;
    struct request batch[MANAGER_BATCH];
    size_t n;
    while ((n = mpsc_recv_many(m->rx, batch, MANAGER_BATCH)) > 0) {
        m->batches++;
        m->requests += n;
        for (size_t i = 0; i < n; i++) {
            struct request *q = &batch[i];
            const char *argv[3] = { q->is_set ? "SET" : "GET", q->key, q->value };
            size_t argv_len[3] = { 3, q->key_len, q->value_len };
            redis_client_append(m->client, q->is_set ? 3 : 2, argv, argv_len);
        }
        for (size_t i = 0; i < n; i++) {
            struct redis_result r = redis_client_read_reply(m->client);
            if (oneshot_send(batch[i].reply, &r) != CHAN_OK)
                redis_result_free(&r); /* the requester left: the result is ours */
        }
    }
    return NULL;
}

/* An I/O-error result carrying `msg`, freed by redis_result_free like any
 * other.  (Built here rather than with a helper from common/, to keep this
 * file's needs to the basic client API.) */
static struct redis_result io_error(const char *msg)
{
    char *copy = strdup(msg);
    return (struct redis_result){ .kind = REDIS_RESULT_IO_ERROR, .data = copy,
                                  .len = copy ? strlen(copy) : 0 };
}

/* What a requester calls: send the request with a fresh reply channel,
 * wait for the answer. */
static struct redis_result manager_call(struct mpsc_sender *tx, bool is_set, const char *key,
                                        size_t key_len, const char *value, size_t value_len)
{
    struct request q = { .is_set = is_set, .key_len = key_len, .value_len = value_len };
    memcpy(q.key, key, key_len);
    memcpy(q.value, value, value_len);
    struct oneshot_receiver *reply_rx;
    if (oneshot_channel(sizeof(struct redis_result), result_drop, &q.reply, &reply_rx) != 0)
        return io_error("out of memory");
    if (mpsc_send(tx, &q) != CHAN_OK) {
        oneshot_sender_drop(q.reply);
        oneshot_receiver_drop(reply_rx);
        return io_error("the manager has stopped");
    }
    struct redis_result r;
    if (oneshot_recv(reply_rx, &r) != CHAN_OK)
        r = io_error("no answer from the manager");
    oneshot_receiver_drop(reply_rx);
    return r;
}

/* ==== The workers ========================================================= */

struct run {
    enum strategy strategy;
    struct locked_client locked; /* STRATEGY_MUTEX */
    pthread_barrier_t start;
    uint64_t max_ns;
};

struct worker {
    struct run *run;
    size_t index;
    struct redis_client *own;  /* STRATEGY_PER_THREAD */
    struct mpsc_sender *tx;    /* STRATEGY_MANAGER */
    double *latency_us;        /* max_ops entries */
    size_t max_ops, done;
    size_t wrong;              /* errors and wrong answers */
};

static struct redis_result worker_op(struct worker *w, bool is_set, const char *key,
                                     size_t key_len, const char *value, size_t value_len)
{
    switch (w->run->strategy) {
    case STRATEGY_MUTEX:
        return is_set ? locked_set(&w->run->locked, key, key_len, value, value_len)
                      : locked_get(&w->run->locked, key, key_len);
    case STRATEGY_MANAGER:
        return manager_call(w->tx, is_set, key, key_len, value, value_len);
    case STRATEGY_PER_THREAD:
    case STRATEGY_COUNT:
        break;
    }
    return is_set ? redis_client_set(w->own, key, key_len, value, value_len)
                  : redis_client_get(w->own, key, key_len);
}

/* Alternates SET k v / GET k; the GET must return the v just set, since
 * only this thread writes its keys. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(&w->run->start);
    uint64_t start = bench_now_ns();
    char key[KEY_MAX], value[VALUE_MAX];
    int key_len = 0, value_len = 0;
    while (w->done < w->max_ops && bench_now_ns() - start < w->run->max_ns) {
        bool is_set = w->done % 2 == 0;
        if (is_set) {
            size_t n = w->done / 2;
            key_len = snprintf(key, sizeof key, "bench:%zu:%zu", w->index, n % KEYS_PER_THREAD);
            value_len = snprintf(value, sizeof value, "v%zu-%zu", w->index, n);
        }
        uint64_t t0 = bench_now_ns();
        struct redis_result r = worker_op(w, is_set, key, (size_t)key_len, value, (size_t)value_len);
        w->latency_us[w->done++] = (double)(bench_now_ns() - t0) / 1e3;
        bool ok = is_set ? r.kind == REDIS_RESULT_OK
                         : r.kind == REDIS_RESULT_VALUE && r.len == (size_t)value_len &&
                               memcmp(r.data, value, r.len) == 0;
        if (!ok && w->wrong++ == 0)
            fprintf(stderr, "bench_redis: thread %zu: %s answered %s%s%s\n", w->index,
                    is_set ? "SET" : "GET", redis_result_kind_name(r.kind),
                    r.data ? ": " : "", r.data ? r.data : "");
        redis_result_free(&r);
    }
    return NULL;
}

struct point {
    double ops_per_s, p50_us, p99_us, avg_batch, sleeps_per_op;
};

static size_t total_wrong;

static struct point run_point(enum strategy strategy, size_t threads)
{
    struct run run = { .strategy = strategy, .max_ns = (uint64_t)RUN_MS / divisor * 1000000u };
    pthread_barrier_init(&run.start, NULL, (unsigned)threads + 1);
    struct manager manager = { 0 };
    pthread_t manager_thread;
    struct mpsc_sender *tx = NULL;
    if (strategy == STRATEGY_MUTEX) {
        pthread_mutex_init(&run.locked.lock, NULL);
        run.locked.client = connect_or_die();
    } else if (strategy == STRATEGY_MANAGER) {
        manager.client = connect_or_die();
        int err = mpsc_channel(MANAGER_CAPACITY, sizeof(struct request), NULL, &tx, &manager.rx);
        if (err != 0)
            die_errno("mpsc_channel", err);
        err = pthread_create(&manager_thread, NULL, manager_main, &manager);
        if (err != 0)
            die_errno("pthread_create", err);
    }

    size_t max_ops = MAX_OPS_PER_RUN / divisor / threads;
    struct worker *ws = calloc(threads, sizeof *ws);
    pthread_t *ts = calloc(threads, sizeof *ts);
    double *all = calloc(max_ops * threads, sizeof *all);
    if (ws == NULL || ts == NULL || all == NULL)
        die_errno("calloc", ENOMEM);
    for (size_t i = 0; i < threads; i++) {
        ws[i] = (struct worker){ .run = &run, .index = i, .max_ops = max_ops,
                                 .latency_us = all + i * max_ops };
        if (strategy == STRATEGY_PER_THREAD)
            ws[i].own = connect_or_die();
        if (strategy == STRATEGY_MANAGER && (ws[i].tx = mpsc_sender_clone(tx)) == NULL)
            die_errno("mpsc_sender_clone", ENOMEM);
        int err = pthread_create(&ts[i], NULL, worker_main, &ws[i]);
        if (err != 0)
            die_errno("pthread_create", err);
    }

    pthread_barrier_wait(&run.start);
    long sleeps_before = bench_sleeps();
    uint64_t t0 = bench_now_ns();
    size_t total = 0;
    for (size_t i = 0; i < threads; i++) {
        pthread_join(ts[i], NULL);
        memmove(all + total, ws[i].latency_us, ws[i].done * sizeof *all);
        total += ws[i].done;
        total_wrong += ws[i].wrong;
    }
    uint64_t elapsed = bench_now_ns() - t0;
    long sleeps = bench_sleeps() - sleeps_before;

    for (size_t i = 0; i < threads; i++) {
        mpsc_sender_drop(ws[i].tx); /* NULL is fine */
        redis_client_free(ws[i].own);
    }
    if (strategy == STRATEGY_MANAGER) {
        mpsc_sender_drop(tx); /* the last sender: the manager's loop ends */
        pthread_join(manager_thread, NULL);
        mpsc_receiver_drop(manager.rx);
        redis_client_free(manager.client);
    } else if (strategy == STRATEGY_MUTEX) {
        redis_client_free(run.locked.client);
        pthread_mutex_destroy(&run.locked.lock);
    }
    pthread_barrier_destroy(&run.start);

    bench_sort(all, total);
    struct point p = {
        .ops_per_s = (double)total / ((double)elapsed / 1e9),
        .p50_us = bench_percentile(all, total, 50),
        .p99_us = bench_percentile(all, total, 99),
        .avg_batch = manager.batches ? (double)manager.requests / (double)manager.batches : NAN,
        .sleeps_per_op = (double)sleeps / (double)total,
    };
    free(all);
    free(ts);
    free(ws);
    return p;
}

/* ==== Output ============================================================== */

static void write_plots(const struct bench_options *opts,
                        struct point results[STRATEGY_COUNT][THREAD_COUNTS])
{
    static double x[THREAD_COUNTS], ops[STRATEGY_COUNT][THREAD_COUNTS],
        p50[STRATEGY_COUNT][THREAD_COUNTS], p99[STRATEGY_COUNT][THREAD_COUNTS];
    static char p50_names[STRATEGY_COUNT][80], p99_names[STRATEGY_COUNT][80];
    struct svg_series ops_series[STRATEGY_COUNT], lat_series[2 * STRATEGY_COUNT];
    for (size_t t = 0; t < THREAD_COUNTS; t++)
        x[t] = (double)thread_counts[t];
    for (size_t s = 0; s < STRATEGY_COUNT; s++) {
        for (size_t t = 0; t < THREAD_COUNTS; t++) {
            ops[s][t] = results[s][t].ops_per_s;
            p50[s][t] = results[s][t].p50_us;
            p99[s][t] = results[s][t].p99_us;
        }
        ops_series[s] = (struct svg_series){ .name = strategy_short_names[s], .x = x, .y = ops[s],
                                             .n = THREAD_COUNTS };
        snprintf(p50_names[s], sizeof p50_names[s], "%s, p50", strategy_short_names[s]);
        snprintf(p99_names[s], sizeof p99_names[s], "%s, p99", strategy_short_names[s]);
        lat_series[2 * s] = (struct svg_series){ .name = p50_names[s], .x = x, .y = p50[s],
                                                 .n = THREAD_COUNTS, .color = svg_plot_color(s) };
        lat_series[2 * s + 1] = lat_series[2 * s];
        lat_series[2 * s + 1].name = p99_names[s];
        lat_series[2 * s + 1].y = p99[s];
        lat_series[2 * s + 1].dashed = true;
    }
    bench_write_plot(opts, "bench-redis-throughput.svg",
                     &(struct svg_plot){
                         .title = "Redis GET/SET throughput: sharing one connection",
                         .x_label = "threads",
                         .y_label = "operations per second",
                         .x_scale = SVG_X_LOG2,
                         .series = ops_series,
                         .series_count = STRATEGY_COUNT,
                     });
    bench_write_plot(opts, "bench-redis-latency.svg",
                     &(struct svg_plot){
                         .title = "Redis GET/SET latency seen by each caller",
                         .x_label = "threads",
                         .y_label = "microseconds per operation",
                         .x_scale = SVG_X_LOG2,
                         /* 100 us to several ms: only a log axis shows both. */
                         .y_scale = SVG_Y_LOG10,
                         .series = lat_series,
                         .series_count = 2 * STRATEGY_COUNT,
                     });
}

int main(int argc, char **argv)
{
    struct bench_options opts;
    bench_parse_options(argc, argv, usage, &opts);
    if (opts.quick)
        divisor = QUICK_DIVISOR;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a reset connection is an error, not death */

    /* Fail early, with the reason, if there is no Redis. */
    redis_client_free(connect_or_die());

    uint64_t t0 = bench_now_ns();
    bench_print_header(opts.quick ? "bench_redis: sharing one Redis connection between threads "
                                    "(--quick: smoke test only)"
                                  : "bench_redis: sharing one Redis connection between threads");
    printf("server: %s (loopback)\n", redis_url_from_env());
    printf("\n== GET/SET round trips from N threads ==\n"
           "each thread alternates SET key value / GET key and checks the value; %d ms\n"
           "per run, at most %d operations per run; latency = one call as its caller\n"
           "saw it (lock or queue wait included); batch = requests per manager round trip\n\n",
           RUN_MS / (int)divisor, MAX_OPS_PER_RUN / (int)divisor);
    printf("%7s | %-26s | %-36s | %s\n", "", strategy_names[STRATEGY_MUTEX],
           strategy_names[STRATEGY_MANAGER], strategy_names[STRATEGY_PER_THREAD]);
    printf("%7s | %8s %8s %8s | %8s %8s %8s %9s | %8s %8s %8s\n", "threads", "ops/s", "p50 us",
           "p99 us", "ops/s", "p50 us", "p99 us", "avg batch", "ops/s", "p50 us", "p99 us");

    static struct point results[STRATEGY_COUNT][THREAD_COUNTS];
    for (size_t t = 0; t < THREAD_COUNTS; t++) {
        printf("%7zu", thread_counts[t]);
        for (size_t s = 0; s < STRATEGY_COUNT; s++) {
            double v[5][BENCH_REPEATS];
            for (int rep = 0; rep < BENCH_REPEATS; rep++) {
                struct point p = run_point((enum strategy)s, thread_counts[t]);
                v[0][rep] = p.ops_per_s;
                v[1][rep] = p.p50_us;
                v[2][rep] = p.p99_us;
                v[3][rep] = p.avg_batch;
                v[4][rep] = p.sleeps_per_op;
            }
            struct point *m = &results[s][t];
            m->ops_per_s = bench_median(v[0], BENCH_REPEATS);
            m->p50_us = bench_median(v[1], BENCH_REPEATS);
            m->p99_us = bench_median(v[2], BENCH_REPEATS);
            m->avg_batch = bench_median(v[3], BENCH_REPEATS);
            m->sleeps_per_op = bench_median(v[4], BENCH_REPEATS);
            printf(" | %8.0f %8.0f %8.0f", m->ops_per_s, m->p50_us, m->p99_us);
            if (s == STRATEGY_MANAGER)
                printf(" %9.2f", m->avg_batch);
        }
        printf("\n");
    }

    /* Where the time goes: every blocking wait - for the lock, for a
     * socket read, for the manager's answer - is a sleep and a wake-up. */
    printf("\nsleeps per operation (voluntary context switches of all threads: waiting\n"
           "for a lock, a socket read, a channel, each counts one)\n\n");
    printf("%7s | %-26s | %-36s | %s\n", "threads", strategy_names[STRATEGY_MUTEX],
           strategy_names[STRATEGY_MANAGER], strategy_names[STRATEGY_PER_THREAD]);
    for (size_t t = 0; t < THREAD_COUNTS; t++)
        printf("%7zu | %26.2f | %36.2f | %23.2f\n", thread_counts[t],
               results[STRATEGY_MUTEX][t].sleeps_per_op, results[STRATEGY_MANAGER][t].sleeps_per_op,
               results[STRATEGY_PER_THREAD][t].sleeps_per_op);
    write_plots(&opts, results);
    printf("\ntotal time: %.1f s\n", (double)(bench_now_ns() - t0) / 1e9);

    if (total_wrong != 0) {
        fprintf(stderr, "bench_redis: %zu operations failed or returned a wrong value\n",
                total_wrong);
        return 1;
    }
    return 0;
}
