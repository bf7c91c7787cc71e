/*
 * bench_redis.c - five ways for N threads to share Redis, measured against
 * the ceiling of one connection, on a real server ($REDIS_URL; `make bench`
 * starts a throwaway one).
 *
 * Every strategy does the same work: N threads (1, 8, 64, 256), each doing
 * an equal share of SET key value / GET key pairs on keys of its own, with
 * values of 16 bytes or 1 KiB, and checking that every GET returns what the
 * thread just SET.
 *
 *   per-thread  a connection per thread: no sharing at all, and no batching
 *               across callers; Redis holds a client per thread.
 *   mutex       one connection behind a mutex, as in chapter 02: one
 *               request in flight, every other thread waits for the lock.
 *   manager     one connection owned by a manager thread (chapter 04 after
 *               its parallel rework): commands arrive over an mpsc, each is
 *               executed with one blocking round trip and answered through
 *               its oneshot.  It takes what is queued in one go
 *               (mpsc_recv_many) so it does not sleep between commands, but
 *               has ONE request in flight.
 *   pipelined   chapter 06: the manager takes everything queued (up to
 *               PIPELINE_BATCH), appends it all to the connection's output
 *               buffer, then reads the replies in order: one round trip,
 *               one write and (mostly) one read serve the whole batch.
 *   pool        chapter 07: POOL_SIZE pipelined managers, each with its own
 *               connection and mpsc; a command goes to the manager chosen by
 *               a hash of its key, so commands on one key stay in order.
 *
 * And one different workload on the pipelined manager, not a sixth design:
 *
 *   pipelined-k16  each caller sends IN_FLIGHT (16) commands, each with its
 *               own oneshot, before it waits for the first answer, then
 *               waits for the 16 answers in order (chapter 04's client_send
 *               / client_wait split).  Every other strategy's caller blocks
 *               on each command; this one blocks once per 16, which shows
 *               what the wake-up of a caller per command costs.
 *
 * The ceiling: redis-benchmark on the same server with ONE connection, at
 * pipeline depths 1, 16 and 64 - what the server and the loopback give a
 * single client that does nothing else.  Each strategy's throughput is shown
 * as a fraction of the -P 64 ceiling of the same value size.
 *
 * Repetitions are interleaved: repetition 1 of every case, then repetition
 * 2, and so on, so a burst of load from elsewhere on the machine spreads
 * over all cases instead of sinking one.  Tables show the median and the
 * min-max over the repetitions.
 *
 * The shared-connection helpers here are written for this file on purpose,
 * mirroring the chapters' designs, rather than linked from solutions/: a
 * learner's edits there never change the benchmark.
 *
 * Exit status: 0; 1 if any operation failed or a GET returned the wrong
 * value; 2 if Redis could not be reached or an option was bad.
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

static const char usage[] =
    "usage: bench_redis [--out DIR] [--quick | --smoke] [--only STRATEGY]\n"
    "Runs redis-benchmark (the ceiling) and five ways of sharing Redis between\n"
    "threads, plus the pipelined one with 16 commands in flight per caller,\n"
    "against $REDIS_URL; prints markdown tables, writes ceiling.csv,\n"
    "strategies.csv and strategies.md to DIR (default build/bench).\n"
    "STRATEGY: per-thread, mutex, manager, pipelined, pool, pipelined-k16.\n";

enum {
    KEYS_PER_THREAD = 64,
    KEY_MAX = 48,
    /* The smallest channel: at least as many slots as producers, no convoy
     * (pipelined-k16 gets one slot per command it can have in flight). */
    CHANNEL_CAPACITY = 256,
    ONE_AT_A_TIME_BATCH = 64,
    PIPELINE_BATCH = 256,
    /* Four connections: enough that Redis always has a batch to work on
     * while one manager is between batches, few enough that each manager
     * still finds several commands queued at 8 threads.  More managers than
     * cores mostly adds threads competing for the same two CPUs. */
    POOL_SIZE = 4,
    /* pipelined-k16: commands a caller sends before it waits (the 16 in
     * its name).  Even, so a group is whole SET/GET pairs. */
    IN_FLIGHT = 16,
};
_Static_assert(IN_FLIGHT % 2 == 0, "a group of commands in flight is whole SET/GET pairs");

static const size_t thread_counts[] = { 1, 8, 64, 256 };
#define THREAD_COUNTS (sizeof thread_counts / sizeof thread_counts[0])
static const size_t value_sizes[] = { 16, 1024 };
#define VALUE_SIZES (sizeof value_sizes / sizeof value_sizes[0])
static const int pipeline_depths[] = { 1, 16, 64 };
#define PIPELINE_DEPTHS (sizeof pipeline_depths / sizeof pipeline_depths[0])
#define CEILING_DEPTH_INDEX 2 /* -P 64: the one the fractions compare with */

enum strategy {
    S_PER_THREAD, S_MUTEX, S_MANAGER, S_PIPELINED, S_POOL,
    S_PIPELINED_K, /* the pipelined manager, IN_FLIGHT commands per caller */
    STRATEGIES
};

static const char *const strategy_names[STRATEGIES] = {
    "per-thread", "mutex", "manager", "pipelined", "pool", "pipelined-k16",
};

static const char *const strategy_explained[STRATEGIES] = {
    "a connection per thread (no sharing, no batching across callers; one Redis client per thread)",
    "one connection behind a mutex (chapter 02)",
    "manager thread, one request in flight (chapter 04)",
    "pipelining manager thread (chapter 06)",
    "4 pipelining managers, routed by key hash (chapter 07)",
    "the pipelining manager, each caller sending 16 commands before it waits "
    "for their answers (a different workload, not a sixth design)",
};

static struct bench_options opts;
static size_t total_ops_per_run; /* all threads together */
static uint64_t run_time_cap_ns; /* a slow strategy stops early */
static atomic_size_t failures;   /* errors and wrong values, all runs */
static size_t threads_measured;  /* how many of thread_counts this mode runs */

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_redis: %s: %s\n", what, strerror(err));
    exit(2);
}

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

static struct redis_result error_result(const char *msg)
{
    return redis_result_error(REDIS_RESULT_IO_ERROR, "%s", msg);
}

/* ==== The commands, as chapter 04 sends them ============================= */

/* A command owns private copies of its key and value, like chapter 04's
 * struct command, and carries the sender of its reply oneshot. */
struct command {
    bool is_set;
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    struct oneshot_sender *reply; /* one struct redis_result; NULL: nobody waits */
};

static void command_free(struct command *cmd)
{
    free(cmd->key);
    free(cmd->value);
    oneshot_sender_drop(cmd->reply); /* NULL is fine; a waiter gets CLOSED */
    *cmd = (struct command){ 0 };
}

/* For the channel: commands still queued when it dies are freed. */
static void command_drop(void *elem)
{
    command_free(elem);
}

static void result_drop(void *elem)
{
    redis_result_free(elem);
}

/* Hands the result to whoever waits, or frees it if nobody does. */
static void command_answer(struct command *cmd, struct redis_result r)
{
    if (cmd->reply == NULL || oneshot_send(cmd->reply, &r) != CHAN_OK)
        redis_result_free(&r);
    cmd->reply = NULL; /* consumed by oneshot_send either way */
    command_free(cmd);
}

static int command_argv(const struct command *cmd, const char *argv[3], size_t argv_len[3])
{
    argv[0] = cmd->is_set ? "SET" : "GET";
    argv_len[0] = 3;
    argv[1] = cmd->key;
    argv_len[1] = cmd->key_len;
    argv[2] = cmd->value;
    argv_len[2] = cmd->value_len;
    return cmd->is_set ? 3 : 2;
}

/* ==== The managers ======================================================== */

struct manager {
    struct redis_client *client;
    struct mpsc_receiver *rx;
    bool pipelined;
    pthread_t thread;
    size_t batches, commands; /* read after the join: average batch */
};

/* Chapter 04's loop: one blocking round trip per command. */
static void execute_one_at_a_time(struct manager *m, struct command *batch, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *argv[3];
        size_t argv_len[3];
        int argc = command_argv(&batch[i], argv, argv_len);
        command_answer(&batch[i], redis_client_command(m->client, argc, argv, argv_len));
    }
}

/* Chapter 06's loop: append everything, then read the replies in order.
 * A command that could not be appended is answered at once; the others'
 * replies come back in the order they were appended. */
static void execute_pipelined(struct manager *m, struct command *batch, size_t n)
{
    bool appended[PIPELINE_BATCH];
    for (size_t i = 0; i < n; i++) {
        const char *argv[3];
        size_t argv_len[3];
        int argc = command_argv(&batch[i], argv, argv_len);
        appended[i] = redis_client_append(m->client, argc, argv, argv_len) == 0;
    }
    for (size_t i = 0; i < n; i++)
        command_answer(&batch[i], appended[i] ? redis_client_read_reply(m->client)
                                              : error_result("the connection is broken"));
}

static void *manager_main(void *arg)
{
    struct manager *m = arg;
    struct command batch[PIPELINE_BATCH];
    size_t limit = m->pipelined ? PIPELINE_BATCH : ONE_AT_A_TIME_BATCH;
    size_t n;
    /* Ends when the last sender is dropped and the queue is drained. */
    while ((n = mpsc_recv_many(m->rx, batch, limit)) > 0) {
        m->batches++;
        m->commands += n;
        if (m->pipelined)
            execute_pipelined(m, batch, n);
        else
            execute_one_at_a_time(m, batch, n);
    }
    return NULL;
}

/* Starts a manager with its own connection and a channel of `capacity`
 * commands; *tx is the channel's sender. */
static void manager_start(struct manager *m, bool pipelined, size_t capacity,
                          struct mpsc_sender **tx)
{
    *m = (struct manager){ .client = connect_or_die(), .pipelined = pipelined };
    int err = mpsc_channel(capacity, sizeof(struct command), command_drop, tx, &m->rx);
    if (err != 0)
        die("mpsc_channel", err);
    if ((err = pthread_create(&m->thread, NULL, manager_main, m)) != 0)
        die("pthread_create", err);
}

/* Call after every sender is dropped: the manager drains and stops. */
static void manager_join(struct manager *m)
{
    pthread_join(m->thread, NULL);
    mpsc_receiver_drop(m->rx);
    redis_client_free(m->client);
}

/* A request on its way, as chapter 04's struct client_pending: the end to
 * wait on, or (when the request never left) the error that says why. */
struct pending {
    struct oneshot_receiver *reply;
    struct redis_result error;
};

/* What a requester does first (chapter 04's client_send): copy the command,
 * make a reply oneshot, send.  Does not wait for the answer. */
static struct pending manager_send(struct mpsc_sender *tx, bool is_set, const char *key,
                                   size_t key_len, const char *value, size_t value_len)
{
    struct command cmd = { .is_set = is_set, .key_len = key_len, .value_len = value_len };
    struct pending p = { 0 };
    cmd.key = malloc(key_len);
    cmd.value = is_set ? malloc(value_len) : NULL;
    if (cmd.key == NULL || (is_set && cmd.value == NULL) ||
        oneshot_channel(sizeof(struct redis_result), result_drop, &cmd.reply, &p.reply) != 0) {
        command_free(&cmd);
        p.error = error_result("out of memory");
        return p;
    }
    memcpy(cmd.key, key, key_len);
    if (is_set)
        memcpy(cmd.value, value, value_len);
    if (mpsc_send(tx, &cmd) != CHAN_OK) {
        command_free(&cmd); /* not taken: still ours */
        oneshot_receiver_drop(p.reply);
        p.reply = NULL;
        p.error = error_result("the manager has stopped");
    }
    return p;
}

/* Then (chapter 04's client_wait): the answer, or the error if none will
 * come.  Consumes *p. */
static struct redis_result manager_wait(struct pending *p)
{
    if (p->reply == NULL)
        return p->error;
    struct redis_result r;
    if (oneshot_recv(p->reply, &r) != CHAN_OK)
        r = error_result("no answer from the manager");
    oneshot_receiver_drop(p->reply);
    p->reply = NULL;
    return r;
}

/* Both halves, back to back (chapter 04's client_get/client_set). */
static struct redis_result manager_call(struct mpsc_sender *tx, bool is_set, const char *key,
                                        size_t key_len, const char *value, size_t value_len)
{
    struct pending p = manager_send(tx, is_set, key, key_len, value, value_len);
    return manager_wait(&p);
}

/* FNV-1a: cheap, and spreads "bench:7:12"-like keys well enough. */
static size_t key_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211u;
    return (size_t)h;
}

/* ==== One run: a strategy, N threads, a value size ======================== */

struct run {
    enum strategy strategy;
    size_t value_size;
    pthread_mutex_t lock;         /* mutex */
    struct redis_client *shared;  /* mutex */
    pthread_barrier_t start;
    uint64_t deadline_ns;         /* set by the main thread before the start */
};

struct worker {
    struct run *run;
    size_t index;
    size_t share;                         /* operations to do */
    struct redis_client *own;             /* per-thread */
    struct mpsc_sender *tx[POOL_SIZE];    /* manager (tx[0]), pipelined, pool */
    double *latency_us;                   /* `share` entries */
    size_t done;
};

static struct redis_result worker_call(struct worker *w, bool is_set, const char *key,
                                       size_t key_len, const char *value, size_t value_len)
{
    struct run *run = w->run;
    struct redis_result r;
    switch (run->strategy) {
    case S_PER_THREAD:
        return is_set ? redis_client_set(w->own, key, key_len, value, value_len)
                      : redis_client_get(w->own, key, key_len);
    case S_MUTEX:
        /* Held for the whole round trip: that is what makes it correct and
         * what makes it slow. */
        pthread_mutex_lock(&run->lock);
        r = is_set ? redis_client_set(run->shared, key, key_len, value, value_len)
                   : redis_client_get(run->shared, key, key_len);
        pthread_mutex_unlock(&run->lock);
        return r;
    case S_POOL:
        return manager_call(w->tx[key_hash(key, key_len) % POOL_SIZE], is_set, key, key_len,
                            value, value_len);
    case S_MANAGER:
    case S_PIPELINED:
    case S_PIPELINED_K: /* never here: worker_in_flight_main sends on its own */
    case STRATEGIES:
        break;
    }
    return manager_call(w->tx[0], is_set, key, key_len, value, value_len);
}

/* Fills value[0..size) with bytes that say which thread and which write
 * they belong to, so a GET answered with another write's value is caught. */
static void make_value(char *value, size_t size, size_t thread, size_t n)
{
    int head = snprintf(value, size, "t%zu:%zu:", thread, n);
    for (size_t i = (size_t)head; i < size; i++)
        value[i] = (char)('a' + (n + i) % 26);
}

/* The key of the n-th SET/GET pair of thread `thread`; returns its length. */
static size_t make_key(char key[KEY_MAX], size_t thread, size_t n)
{
    return (size_t)snprintf(key, KEY_MAX, "bench:%zu:%zu", thread, n % KEYS_PER_THREAD);
}

/* Counts (and reports the first few) answers that are not what the command
 * must get: OK for a SET, and for a GET exactly the value the thread SET
 * before it.  Frees r. */
static void check_answer(struct worker *w, bool is_set, struct redis_result *r,
                         const char *value)
{
    struct run *run = w->run;
    bool ok = is_set ? r->kind == REDIS_RESULT_OK
                     : r->kind == REDIS_RESULT_VALUE && r->len == run->value_size &&
                           memcmp(r->data, value, r->len) == 0;
    if (!ok && atomic_fetch_add(&failures, 1) < 5)
        fprintf(stderr, "bench_redis: %s, thread %zu: %s answered %s%s%.80s\n",
                strategy_names[run->strategy], w->index, is_set ? "SET" : "GET",
                redis_result_kind_name(r->kind), r->data ? ": " : "", r->data ? r->data : "");
    redis_result_free(r);
}

/* SET k v then GET k, share/2 times; the GET must return exactly v, since
 * only this thread writes its keys. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    char key[KEY_MAX], value[1024];
    size_t key_len = 0;
    pthread_barrier_wait(&run->start);
    while (w->done < w->share && bench_now_ns() < run->deadline_ns) {
        bool is_set = w->done % 2 == 0;
        size_t n = w->done / 2;
        if (is_set) {
            key_len = make_key(key, w->index, n);
            make_value(value, run->value_size, w->index, n);
        }
        uint64_t t0 = bench_now_ns();
        struct redis_result r = worker_call(w, is_set, key, key_len, value, run->value_size);
        w->latency_us[w->done++] = (double)(bench_now_ns() - t0) / 1e3;
        check_answer(w, is_set, &r, value);
    }
    return NULL;
}

/* pipelined-k16: the same SET/GET pairs, but sent IN_FLIGHT at a time
 * before waiting for any answer, then the answers collected in order.  A
 * GET still sees the SET just before it: one thread's commands go through
 * one FIFO channel to one manager, which writes them to one connection in
 * the order they were sent.  A command's latency runs from its send to the
 * moment its caller has its answer, so the later ones of a group include
 * the wait for the earlier ones. */
static void *worker_in_flight_main(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;
    char keys[IN_FLIGHT / 2][KEY_MAX], values[IN_FLIGHT / 2][1024]; /* one per pair */
    size_t key_lens[IN_FLIGHT / 2];
    struct pending pending[IN_FLIGHT];
    uint64_t sent_ns[IN_FLIGHT];
    pthread_barrier_wait(&run->start);
    while (w->done < w->share && bench_now_ns() < run->deadline_ns) {
        size_t group = w->share - w->done < IN_FLIGHT ? w->share - w->done : IN_FLIGHT;
        for (size_t i = 0; i < group; i++) {
            size_t pair = i / 2, n = (w->done + i) / 2;
            bool is_set = i % 2 == 0; /* w->done and group are even */
            if (is_set) {
                key_lens[pair] = make_key(keys[pair], w->index, n);
                make_value(values[pair], run->value_size, w->index, n);
            }
            sent_ns[i] = bench_now_ns();
            pending[i] = manager_send(w->tx[0], is_set, keys[pair], key_lens[pair],
                                      values[pair], run->value_size);
        }
        for (size_t i = 0; i < group; i++) {
            struct redis_result r = manager_wait(&pending[i]);
            w->latency_us[w->done + i] = (double)(bench_now_ns() - sent_ns[i]) / 1e3;
            check_answer(w, i % 2 == 0, &r, values[i / 2]);
        }
        w->done += group;
    }
    return NULL;
}

struct sample {
    double ops_per_s, p50_us, p99_us, avg_batch, sleeps_per_op;
};

static struct sample run_once(enum strategy strategy, size_t threads, size_t value_size)
{
    struct run run = { .strategy = strategy, .value_size = value_size };
    size_t share = total_ops_per_run / threads;
    share += share % 2; /* whole SET/GET pairs */
    if (share < 2)
        share = 2;
    struct worker *ws = calloc(threads, sizeof *ws);
    pthread_t *ts = calloc(threads, sizeof *ts);
    double *lat = calloc(share * threads, sizeof *lat);
    if (ws == NULL || ts == NULL || lat == NULL)
        die("calloc", ENOMEM);

    struct manager managers[POOL_SIZE];
    struct mpsc_sender *txs[POOL_SIZE] = { NULL };
    size_t manager_count = strategy == S_POOL ? POOL_SIZE
                           : strategy == S_MANAGER || strategy == S_PIPELINED ||
                                     strategy == S_PIPELINED_K
                               ? 1
                               : 0;
    /* A slot for every command that can be in flight at once, so no send
     * ever waits for room (the convoy mpsc.h warns about): one per thread,
     * or IN_FLIGHT per thread for pipelined-k16 (4096 at 256 threads). */
    size_t capacity = strategy == S_PIPELINED_K ? threads * IN_FLIGHT : threads;
    if (capacity < CHANNEL_CAPACITY)
        capacity = CHANNEL_CAPACITY;
    for (size_t k = 0; k < manager_count; k++)
        manager_start(&managers[k], strategy != S_MANAGER, capacity, &txs[k]);
    if (strategy == S_MUTEX) {
        pthread_mutex_init(&run.lock, NULL);
        run.shared = connect_or_die();
    }
    pthread_barrier_init(&run.start, NULL, (unsigned)threads + 1);
    for (size_t i = 0; i < threads; i++) {
        struct worker *w = &ws[i];
        *w = (struct worker){ .run = &run, .index = i, .share = share,
                              .latency_us = lat + i * share };
        if (strategy == S_PER_THREAD)
            w->own = connect_or_die();
        for (size_t k = 0; k < manager_count; k++)
            if ((w->tx[k] = mpsc_sender_clone(txs[k])) == NULL)
                die("mpsc_sender_clone", ENOMEM);
        int err = pthread_create(&ts[i], NULL,
                                 strategy == S_PIPELINED_K ? worker_in_flight_main : worker_main,
                                 w);
        if (err != 0)
            die("pthread_create", err);
    }

    long sleeps0 = bench_sleeps();
    uint64_t t0 = bench_now_ns();
    run.deadline_ns = t0 + run_time_cap_ns;
    pthread_barrier_wait(&run.start); /* the barrier publishes deadline_ns */
    size_t total = 0;
    for (size_t i = 0; i < threads; i++) {
        pthread_join(ts[i], NULL);
        memmove(lat + total, ws[i].latency_us, ws[i].done * sizeof *lat);
        total += ws[i].done;
    }
    uint64_t elapsed = bench_now_ns() - t0;
    long sleeps = bench_sleeps() - sleeps0;

    size_t batches = 0, commands = 0;
    for (size_t i = 0; i < threads; i++) {
        for (size_t k = 0; k < manager_count; k++)
            mpsc_sender_drop(ws[i].tx[k]);
        redis_client_free(ws[i].own);
    }
    for (size_t k = 0; k < manager_count; k++) {
        mpsc_sender_drop(txs[k]); /* the last sender: the manager stops */
        manager_join(&managers[k]);
        batches += managers[k].batches;
        commands += managers[k].commands;
    }
    if (strategy == S_MUTEX) {
        redis_client_free(run.shared);
        pthread_mutex_destroy(&run.lock);
    }
    pthread_barrier_destroy(&run.start);

    bench_sort(lat, total);
    struct sample s = {
        .ops_per_s = (double)total / ((double)elapsed / 1e9),
        .p50_us = bench_percentile(lat, total, 50),
        .p99_us = bench_percentile(lat, total, 99),
        .avg_batch = batches ? (double)commands / (double)batches : NAN,
        .sleeps_per_op = (double)sleeps / (double)total,
    };
    free(lat);
    free(ts);
    free(ws);
    return s;
}

/* ==== The ceiling: redis-benchmark with one connection =================== */

/* Runs redis-benchmark -c 1 -P depth for SET and GET; returns false (and
 * says why) if it could not be run or its output not understood. */
static bool run_redis_benchmark(int depth, size_t value_size, double *set_rps, double *get_rps)
{
    char err[256];
    struct redis_url url;
    if (redis_url_parse(redis_url_from_env(), &url, err, sizeof err) != 0) {
        fprintf(stderr, "bench_redis: %s\n", err);
        exit(2);
    }
    /* Enough requests for about a third of a second at the expected rate. */
    double requests = bench_by_mode(&opts, 10000, 1000, 300) * (depth == 1 ? 1 : depth / 4 + 2);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "redis-benchmark -h '%s' -p %d -c 1 -P %d -n %.0f -d %zu -t set,get --csv 2>&1",
             url.host, url.port, depth, requests, value_size);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        die("popen redis-benchmark", errno);
    *set_rps = *get_rps = NAN;
    char line[512];
    while (fgets(line, sizeof line, p) != NULL) {
        char test[32];
        double rps;
        /* --csv prints "SET","123456.79",... (Redis 6+ adds latency columns) */
        if (sscanf(line, "\"%31[^\"]\",\"%lf\"", test, &rps) != 2)
            continue;
        if (strcmp(test, "SET") == 0)
            *set_rps = rps;
        else if (strcmp(test, "GET") == 0)
            *get_rps = rps;
    }
    int status = pclose(p);
    if (status != 0 || isnan(*set_rps) || isnan(*get_rps)) {
        fprintf(stderr, "bench_redis: '%s' failed or printed no SET/GET rates "
                        "(is redis-benchmark installed? scripts/setup.sh bench)\n", cmd);
        return false;
    }
    return true;
}

/* ==== Main: interleaved repetitions, then the tables ====================== */

#define MAX_REPS 3

enum { F_OPS, F_P50, F_P99, F_BATCH, F_SLEEPS, FIELDS };

static double results[STRATEGIES][THREAD_COUNTS][VALUE_SIZES][FIELDS][MAX_REPS];
static double ceiling[PIPELINE_DEPTHS][VALUE_SIZES][3][MAX_REPS]; /* set, get, mix */

static struct bench_stat stat_over_reps(const double *v)
{
    double copy[MAX_REPS];
    memcpy(copy, v, sizeof copy);
    return bench_stat_of(copy, (size_t)opts.reps);
}

static void print_machine_note(void)
{
    bench_report("Every figure is the median of %d interleaved repetitions, "
                 "with the min-max range in brackets.\n", opts.reps);
}

/* "12.3k (11.9k-12.8k)": a median and its range, for a table cell. */
static const char *median_range(struct bench_stat st, char *buf, size_t size)
{
    char m[16], lo[16], hi[16];
    snprintf(buf, size, "%s (%s-%s)", bench_si(st.median, m, sizeof m),
             bench_si(st.min, lo, sizeof lo), bench_si(st.max, hi, sizeof hi));
    return buf;
}

static void report_ceiling(FILE *csv)
{
    char a[16], b[16], c[64];
    bench_report("\n### The ceiling: redis-benchmark, one connection\n\n"
                 "`redis-benchmark -c 1 -P <depth> -t set,get -d <size>` on the same server, "
                 "in the same run. *mix* is the rate of an even SET/GET mix, "
                 "2 / (1/SET + 1/GET): the work the strategies do.\n\n");
    bench_report("| pipeline | value | SET ops/s | GET ops/s | mix ops/s (min-max) |\n"
                 "|---:|---:|---:|---:|---:|\n");
    fprintf(csv, "pipeline,value_bytes,reps,set_ops_per_s,get_ops_per_s,mix_ops_per_s,"
                 "mix_min,mix_max\n");
    for (size_t v = 0; v < VALUE_SIZES; v++)
        for (size_t d = 0; d < PIPELINE_DEPTHS; d++) {
            struct bench_stat set = stat_over_reps(ceiling[d][v][0]);
            struct bench_stat get = stat_over_reps(ceiling[d][v][1]);
            struct bench_stat mix = stat_over_reps(ceiling[d][v][2]);
            bench_report("| -P %d | %zu B | %s | %s | %s |\n", pipeline_depths[d],
                         value_sizes[v], bench_si(set.median, a, sizeof a),
                         bench_si(get.median, b, sizeof b), median_range(mix, c, sizeof c));
            fprintf(csv, "%d,%zu,%d,%.0f,%.0f,%.0f,%.0f,%.0f\n", pipeline_depths[d],
                    value_sizes[v], opts.reps, set.median, get.median, mix.median, mix.min,
                    mix.max);
        }
}

static struct bench_stat field(size_t s, size_t t, size_t v, int f)
{
    return stat_over_reps(results[s][t][v][f]);
}

static double ceiling_mix(size_t v)
{
    return stat_over_reps(ceiling[CEILING_DEPTH_INDEX][v][2]).median;
}

static void report_strategies(FILE *csv)
{
    fprintf(csv, "strategy,threads,value_bytes,reps,ops_per_s,ops_min,ops_max,p50_us,p99_us,"
                 "fraction_of_ceiling,avg_batch,sleeps_per_op\n");
    for (size_t v = 0; v < VALUE_SIZES; v++) {
        bench_report("\n### Strategies, %zu-byte values\n\n"
                     "*of ceiling*: ops/s as a fraction of the redis-benchmark -P 64 mix "
                     "above. *batch*: commands per manager round trip. *sleeps*: voluntary "
                     "context switches of the process per operation.\n\n",
                     value_sizes[v]);
        bench_report("| threads | strategy | ops/s (min-max) | p50 us | p99 us | of ceiling "
                     "| batch | sleeps |\n|---:|:---|---:|---:|---:|---:|---:|---:|\n");
        for (size_t t = 0; t < threads_measured; t++)
            for (size_t s = 0; s < STRATEGIES; s++) {
                char cell[64];
                struct bench_stat ops = field(s, t, v, F_OPS);
                double frac = ops.median / ceiling_mix(v);
                double batch = field(s, t, v, F_BATCH).median;
                char batch_cell[16] = "-";
                if (!isnan(batch))
                    snprintf(batch_cell, sizeof batch_cell, "%.1f", batch);
                bench_report("| %zu | %s | %s | %.0f | %.0f | %.2f | %s | %.2f |\n",
                             thread_counts[t], strategy_names[s],
                             median_range(ops, cell, sizeof cell),
                             field(s, t, v, F_P50).median, field(s, t, v, F_P99).median, frac,
                             batch_cell, field(s, t, v, F_SLEEPS).median);
            }
    }
    /* Grouped by value size, then strategy, then threads: each line of a
     * plot is a run of consecutive rows (gnuplot breaks a line at a row it
     * filters out). */
    for (size_t v = 0; v < VALUE_SIZES; v++)
        for (size_t s = 0; s < STRATEGIES; s++)
            for (size_t t = 0; t < threads_measured; t++) {
                struct bench_stat ops = field(s, t, v, F_OPS);
                fprintf(csv, "%s,%zu,%zu,%d,%.0f,%.0f,%.0f,%.1f,%.1f,%.3f,%.2f,%.3f\n",
                        strategy_names[s], thread_counts[t], value_sizes[v], opts.reps,
                        ops.median, ops.min, ops.max, field(s, t, v, F_P50).median,
                        field(s, t, v, F_P99).median, ops.median / ceiling_mix(v),
                        field(s, t, v, F_BATCH).median, field(s, t, v, F_SLEEPS).median);
            }
}

static size_t thread_index(size_t threads)
{
    for (size_t t = 0; t < threads_measured; t++)
        if (thread_counts[t] == threads)
            return t;
    return 0;
}

/* The maintainers' goals (bench/README.md), measured: reported apart from
 * the published results, never enforced. */
static void report_targets(void)
{
    if (threads_measured < THREAD_COUNTS)
        return; /* the smoke test does not reach 64 threads */
    size_t t64 = thread_index(64);
    for (size_t v = 0; v < VALUE_SIZES; v++) {
        double pipelined = field(S_PIPELINED, t64, v, F_OPS).median;
        double mutex = field(S_MUTEX, t64, v, F_OPS).median;
        double ratio = pipelined / mutex;
        bench_target(&opts, "pipelined at least 5x mutex, 64 threads, %zu B: %.2fx, %s\n",
                     value_sizes[v], ratio, ratio >= 5 ? "met" : "missed");
        double frac = pipelined / ceiling_mix(v);
        bench_target(&opts, "pipelined at least 60%% of -c 1 -P 64, 64 threads, %zu B: %.1f%%, %s\n",
                     value_sizes[v], 100 * frac, frac >= 0.6 ? "met" : "missed");
        double worst = INFINITY;
        size_t worst_t = 0;
        for (size_t t = 0; t < threads_measured; t++) {
            double r = field(S_MANAGER, t, v, F_OPS).median / field(S_MUTEX, t, v, F_OPS).median;
            if (r < worst) {
                worst = r;
                worst_t = t;
            }
        }
        bench_target(&opts, "manager at least 0.8x mutex, worst thread count (%zu), %zu B: %.2fx, %s\n",
                     thread_counts[worst_t], value_sizes[v], worst, worst >= 0.8 ? "met" : "missed");
        frac = field(S_PIPELINED_K, t64, v, F_OPS).median / ceiling_mix(v);
        bench_target(&opts, "pipelined with 16 in flight per caller at least 60%% of -c 1 -P 64, "
                     "64 threads, %zu B: %.1f%%, %s\n",
                     value_sizes[v], 100 * frac, frac >= 0.6 ? "met" : "missed");
    }
}

int main(int argc, char **argv)
{
    bench_parse_options(argc, argv, usage, &opts);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a reset connection is an error, not death */
    redis_client_free(connect_or_die()); /* fail early, with the reason */

    total_ops_per_run = (size_t)bench_by_mode(&opts, 16000, 1500, 400);
    run_time_cap_ns = (uint64_t)bench_by_mode(&opts, 1.0e9, 0.15e9, 2.0e9);
    threads_measured = opts.mode == BENCH_SMOKE ? 2 : THREAD_COUNTS; /* smoke: 1 and 8 */
    uint64_t started = bench_now_ns();

    printf("bench_redis: %zu operations per run (capped at %.2f s), values of 16 B and 1 KiB, "
           "%d repetitions\n", total_ops_per_run, (double)run_time_cap_ns / 1e9, opts.reps);
    for (int rep = 0; rep < opts.reps; rep++) {
        printf("repetition %d/%d: ceiling", rep + 1, opts.reps);
        for (size_t v = 0; v < VALUE_SIZES && opts.only == NULL; v++)
            for (size_t d = 0; d < PIPELINE_DEPTHS; d++) {
                double set, get;
                if (!run_redis_benchmark(pipeline_depths[d], value_sizes[v], &set, &get))
                    return 2;
                ceiling[d][v][0][rep] = set;
                ceiling[d][v][1][rep] = get;
                ceiling[d][v][2][rep] = 2.0 / (1.0 / set + 1.0 / get);
            }
        printf(", strategies");
        for (size_t t = 0; t < threads_measured; t++) {
            printf(" %zu", thread_counts[t]);
            for (size_t v = 0; v < VALUE_SIZES; v++)
                for (size_t s = 0; s < STRATEGIES; s++) {
                    if (!bench_selected(&opts, strategy_names[s]))
                        continue;
                    struct sample x = run_once((enum strategy)s, thread_counts[t], value_sizes[v]);
                    double *r = &results[s][t][v][0][rep];
                    r[F_OPS * MAX_REPS] = x.ops_per_s;
                    r[F_P50 * MAX_REPS] = x.p50_us;
                    r[F_P99 * MAX_REPS] = x.p99_us;
                    r[F_BATCH * MAX_REPS] = x.avg_batch;
                    r[F_SLEEPS * MAX_REPS] = x.sleeps_per_op;
                }
        }
        printf(" threads done (%.1f s)\n", (double)(bench_now_ns() - started) / 1e9);
    }

    bench_report_open(&opts, "strategies.md");
    printf("\n");
    print_machine_note();
    FILE *csv = bench_open_output(&opts, "ceiling.csv");
    report_ceiling(csv);
    fclose(csv);
    csv = bench_open_output(&opts, "strategies.csv");
    report_strategies(csv);
    fclose(csv);
    report_targets();
    bench_report("\nStrategies: ");
    for (size_t s = 0; s < STRATEGIES; s++)
        bench_report("%s*%s*: %s", s ? "; " : "", strategy_names[s], strategy_explained[s]);
    bench_report(".\n");
    bench_report_close();
    printf("bench_redis: %.1f s\n", (double)(bench_now_ns() - started) / 1e9);

    size_t failed = atomic_load(&failures);
    if (failed != 0) {
        fprintf(stderr, "bench_redis: %zu operations failed or returned a wrong value\n", failed);
        return 1;
    }
    return 0;
}
