/*
 * bench_channels.c - what the channels in common/ cost, without Redis.
 *
 * The chapters make three claims about cost; this program measures them.
 *
 *   a. Putting a thread to sleep and waking it is expensive - the chapters
 *      compare it to a Redis round trip.  Two threads play ping-pong, first
 *      through condition variables (each message puts the other thread to
 *      sleep and wakes it), then through two mpsc channels of capacity 1
 *      (which spin briefly before sleeping).  Then the wake-up alone: the
 *      time from a signal to the sleeping thread running.
 *
 *   b. An mpsc channel moves messages without a sleep and a wake-up per
 *      message - as long as it has at least as many slots as producers.
 *      Throughput against capacity for 1, 4 and 16 producers, with the
 *      receiver taking batches (mpsc_recv_many) or one message at a time
 *      (mpsc_recv).  Below "capacity = producers" the senders queue up in
 *      FIFO order and each send costs a sleep and a wake-up (mpsc.h): the
 *      cliff.
 *
 *   c. What a chapter-04 request costs besides Redis: the command over an
 *      mpsc channel, the answer over a fresh oneshot.  A server thread
 *      answers at once, so all that is measured is the channels.
 *
 * Every run is bounded by a message count AND a time limit, whichever
 * comes first, so the whole program stays under about a minute even where
 * a configuration is slow (the cliff).  Tables go to stdout, plots (SVG)
 * to the output folder.  Exit status 1 means a channel lost, duplicated or
 * reordered a message; 2 a bad option or a failure to start.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "mpsc.h"
#include "oneshot.h"
#include "svg_plot.h"

static const char usage[] =
    "usage: bench_channels [--out DIR] [--quick]\n"
    "Measures wake-up cost, mpsc throughput and oneshot round trips; prints\n"
    "tables and writes SVG plots to DIR (default build/bench).\n"
    "  --quick  runs ten times shorter: a smoke test, not a measurement\n";

/* Limits per run; --quick divides each by QUICK_DIVISOR. */
enum {
    PINGPONG_ROUND_TRIPS = 20000,
    PINGPONG_MAX_MS = 1500,
    TP_MAX_MESSAGES = 1000000,
    TP_MAX_MS = 150,
    RPC_MAX_REQUESTS = 20000,
    RPC_MAX_MS = 600,
    IDLE_WAKE_SAMPLES = 2000,
    IDLE_WAKE_MAX_MS = 400,
    QUICK_DIVISOR = 10,
};

/* Batch limit for mpsc_recv_many: what chapter 04's manager uses too. */
enum { RECV_BATCH = 64 };

static const size_t capacities[] = { 1, 2, 4, 8, 16, 32, 64, 256, 1024 };
#define CAPACITY_COUNT (sizeof capacities / sizeof capacities[0])
static const size_t producer_counts[] = { 1, 4, 16 };
#define PRODUCER_COUNTS (sizeof producer_counts / sizeof producer_counts[0])
static const unsigned idle_gaps_us[] = { 20, 100, 1000 };
static const size_t requester_counts[] = { 1, 8 };
#define REQUESTER_COUNTS (sizeof requester_counts / sizeof requester_counts[0])

static unsigned divisor = 1; /* QUICK_DIVISOR with --quick */

/* Set when a channel hands over something it should not have. */
static atomic_ulong channel_errors;

static void die_errno(const char *what, int err)
{
    fprintf(stderr, "bench_channels: %s: %s\n", what, strerror(err));
    exit(2);
}

static void start_thread(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    int err = pthread_create(thread, NULL, fn, arg);
    if (err != 0)
        die_errno("pthread_create", err);
}

static uint64_t ms_to_ns(unsigned ms)
{
    return (uint64_t)ms * 1000000u;
}

/* ==== a. Wake-up cost: ping-pong ========================================= */

/* A one-way signal through a mutex and a condition variable: the textbook
 * way: the waiting thread goes straight to sleep in the kernel, no spin. */
struct mailbox {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned long posted; /* signals so far */
    bool stop;            /* set with the last post: the game is over */
};

static void mailbox_init(struct mailbox *m)
{
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    m->posted = 0;
    m->stop = false;
}

static void mailbox_destroy(struct mailbox *m)
{
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
}

static void mailbox_post(struct mailbox *m, bool stop)
{
    pthread_mutex_lock(&m->lock);
    m->posted++;
    m->stop = stop;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

/* Waits until `count` signals have been posted; returns false on stop. */
static bool mailbox_wait(struct mailbox *m, unsigned long count)
{
    pthread_mutex_lock(&m->lock);
    while (m->posted < count)
        pthread_cond_wait(&m->cond, &m->lock);
    bool stop = m->stop;
    pthread_mutex_unlock(&m->lock);
    return !stop;
}

struct pingpong {
    struct mailbox ping, pong;                /* condvar version */
    struct mpsc_sender *ping_tx, *pong_tx;    /* mpsc version */
    struct mpsc_receiver *ping_rx, *pong_rx;
};

static void *condvar_ponger(void *arg)
{
    struct pingpong *pp = arg;
    for (unsigned long n = 1; mailbox_wait(&pp->ping, n); n++)
        mailbox_post(&pp->pong, false);
    return NULL;
}

static void *mpsc_ponger(void *arg)
{
    struct pingpong *pp = arg;
    uint32_t ball;
    /* Ends when the pinger drops its sender: the channel closes. */
    while (mpsc_recv(pp->ping_rx, &ball) == CHAN_OK)
        mpsc_send(pp->pong_tx, &ball);
    mpsc_sender_drop(pp->pong_tx);
    return NULL;
}

struct pingpong_result {
    size_t round_trips;
    double p50_us, p90_us, p99_us;
    double sleeps_per_rt;
    double preempts_per_rt;
};

/* One run: the calling thread pings, a second thread pongs. */
static struct pingpong_result run_pingpong(bool use_mpsc)
{
    size_t max_rt = PINGPONG_ROUND_TRIPS / divisor;
    uint64_t max_ns = ms_to_ns(PINGPONG_MAX_MS / divisor);
    double *rtt_us = malloc(max_rt * sizeof *rtt_us);
    if (rtt_us == NULL)
        die_errno("malloc", ENOMEM);

    struct pingpong pp;
    pthread_t ponger;
    if (use_mpsc) {
        int err = mpsc_channel(1, sizeof(uint32_t), NULL, &pp.ping_tx, &pp.ping_rx);
        if (err == 0)
            err = mpsc_channel(1, sizeof(uint32_t), NULL, &pp.pong_tx, &pp.pong_rx);
        if (err != 0)
            die_errno("mpsc_channel", err);
        start_thread(&ponger, mpsc_ponger, &pp);
    } else {
        mailbox_init(&pp.ping);
        mailbox_init(&pp.pong);
        start_thread(&ponger, condvar_ponger, &pp);
    }

    long sleeps_before = bench_sleeps();
    long preempts_before = bench_preemptions();
    uint64_t start = bench_now_ns();
    size_t n = 0;
    while (n < max_rt && bench_now_ns() - start < max_ns) {
        uint64_t t0 = bench_now_ns();
        if (use_mpsc) {
            uint32_t ball = (uint32_t)n;
            mpsc_send(pp.ping_tx, &ball);
            if (mpsc_recv(pp.pong_rx, &ball) != CHAN_OK || ball != (uint32_t)n)
                atomic_fetch_add(&channel_errors, 1);
        } else {
            mailbox_post(&pp.ping, false);
            mailbox_wait(&pp.pong, n + 1);
        }
        rtt_us[n++] = (double)(bench_now_ns() - t0) / 1e3;
    }
    long sleeps = bench_sleeps() - sleeps_before;
    long preempts = bench_preemptions() - preempts_before;

    if (use_mpsc) {
        mpsc_sender_drop(pp.ping_tx);
        pthread_join(ponger, NULL);
        mpsc_receiver_drop(pp.ping_rx);
        mpsc_receiver_drop(pp.pong_rx);
    } else {
        mailbox_post(&pp.ping, true);
        pthread_join(ponger, NULL);
        mailbox_destroy(&pp.ping);
        mailbox_destroy(&pp.pong);
    }

    bench_sort(rtt_us, n);
    struct pingpong_result r = {
        .round_trips = n,
        .p50_us = bench_percentile(rtt_us, n, 50),
        .p90_us = bench_percentile(rtt_us, n, 90),
        .p99_us = bench_percentile(rtt_us, n, 99),
        .sleeps_per_rt = n ? (double)sleeps / (double)n : NAN,
        .preempts_per_rt = n ? (double)preempts / (double)n : NAN,
    };
    free(rtt_us);
    return r;
}

/*
 * How long a sleeping thread takes to run again once signalled, when it
 * has slept for `gap_us`.  Ping-pong wakes a thread that went to sleep a
 * few microseconds earlier; a thread waiting for a Redis reply has slept
 * ~100 us, long enough for an idle virtual CPU to be halted, and waking a
 * halted CPU can cost more.  The waker sleeps `gap_us`, then signals,
 * noting the time; the sleeper notes when it runs.
 */
struct idle_wake {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned long posted;
    uint64_t signalled_at;   /* bench_now_ns() just before the signal */
    bool sleeper_waiting;    /* the sleeper is inside pthread_cond_wait */
    bool signalled_sleeping; /* the latest signal found it there */
    bool stop;
    unsigned gap_us;
};

static void *idle_waker(void *arg)
{
    struct idle_wake *w = arg;
    struct timespec gap = { .tv_sec = 0, .tv_nsec = (long)w->gap_us * 1000 };
    for (;;) {
        nanosleep(&gap, NULL);
        pthread_mutex_lock(&w->lock);
        bool stop = w->stop;
        w->posted++;
        w->signalled_sleeping = w->sleeper_waiting;
        w->signalled_at = bench_now_ns();
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (stop)
            return NULL;
    }
}

struct idle_wake_result {
    size_t samples;
    double p50_us, p90_us, p99_us;
};

static struct idle_wake_result run_idle_wake(unsigned gap_us)
{
    size_t max_samples = IDLE_WAKE_SAMPLES / divisor;
    uint64_t max_ns = ms_to_ns(IDLE_WAKE_MAX_MS / divisor);
    double *lat_us = malloc(max_samples * sizeof *lat_us);
    if (lat_us == NULL)
        die_errno("malloc", ENOMEM);
    struct idle_wake w = { .gap_us = gap_us };
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    pthread_t waker;
    start_thread(&waker, idle_waker, &w);

    size_t n = 0;
    uint64_t start = bench_now_ns();
    pthread_mutex_lock(&w.lock);
    for (unsigned long seen = 0; n < max_samples && bench_now_ns() - start < max_ns;) {
        w.sleeper_waiting = true;
        while (w.posted == seen)
            pthread_cond_wait(&w.cond, &w.lock);
        uint64_t woke = bench_now_ns();
        w.sleeper_waiting = false;
        /* Count it only if this thread was asleep when signalled, and the
         * waker has not lapped it (then signalled_at is a later signal's). */
        if (w.signalled_sleeping && w.posted == seen + 1)
            lat_us[n++] = (double)(woke - w.signalled_at) / 1e3;
        seen = w.posted;
    }
    w.stop = true;
    pthread_mutex_unlock(&w.lock);
    pthread_join(waker, NULL);
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);

    bench_sort(lat_us, n);
    struct idle_wake_result r = {
        .samples = n,
        .p50_us = bench_percentile(lat_us, n, 50),
        .p90_us = bench_percentile(lat_us, n, 90),
        .p99_us = bench_percentile(lat_us, n, 99),
    };
    free(lat_us);
    return r;
}

static void bench_wakeup(void)
{
    printf("\n== a. Wake-up cost: ping-pong between two threads ==\n"
           "up to %d round trips or %d ms per run; a round trip is two messages,\n"
           "one each way\n\n",
           PINGPONG_ROUND_TRIPS / (int)divisor, PINGPONG_MAX_MS / (int)divisor);
    printf("%-36s %11s %10s %10s %10s %10s %10s\n", "mechanism", "round trips", "median us",
           "p90 us", "p99 us", "sleeps/rt", "preempt/rt");
    static const char *const names[] = {
        "condvar+mutex pair (sleep per msg)",
        "mpsc capacity 1 (spins first)",
    };
    for (int use_mpsc = 0; use_mpsc <= 1; use_mpsc++) {
        double rts[BENCH_REPEATS], p50[BENCH_REPEATS], p90[BENCH_REPEATS], p99[BENCH_REPEATS],
            sl[BENCH_REPEATS], pre[BENCH_REPEATS];
        for (int rep = 0; rep < BENCH_REPEATS; rep++) {
            struct pingpong_result r = run_pingpong(use_mpsc);
            rts[rep] = (double)r.round_trips;
            p50[rep] = r.p50_us;
            p90[rep] = r.p90_us;
            p99[rep] = r.p99_us;
            sl[rep] = r.sleeps_per_rt;
            pre[rep] = r.preempts_per_rt;
        }
        printf("%-36s %11.0f %10.1f %10.1f %10.1f %10.2f %10.2f\n", names[use_mpsc],
               bench_median(rts, BENCH_REPEATS), bench_median(p50, BENCH_REPEATS),
               bench_median(p90, BENCH_REPEATS), bench_median(p99, BENCH_REPEATS),
               bench_median(sl, BENCH_REPEATS), bench_median(pre, BENCH_REPEATS));
    }
    printf("(preempt: involuntary context switches - a sched_yield that gave the CPU\n"
           "away, or preemption - per round trip)\n");

    printf("\nsignal to running: one thread sleeps in pthread_cond_wait, the other\n"
           "sleeps (nanosleep) for a gap, then signals it; up to %d wake-ups or\n"
           "%d ms per run\n\n",
           IDLE_WAKE_SAMPLES / (int)divisor, IDLE_WAKE_MAX_MS / (int)divisor);
    printf("%-36s %11s %10s %10s %10s\n", "gap before the signal", "wake-ups", "median us",
           "p90 us", "p99 us");
    for (size_t g = 0; g < sizeof idle_gaps_us / sizeof idle_gaps_us[0]; g++) {
        double samples[BENCH_REPEATS], p50[BENCH_REPEATS], p90[BENCH_REPEATS],
            p99[BENCH_REPEATS];
        for (int rep = 0; rep < BENCH_REPEATS; rep++) {
            struct idle_wake_result r = run_idle_wake(idle_gaps_us[g]);
            samples[rep] = (double)r.samples;
            p50[rep] = r.p50_us;
            p90[rep] = r.p90_us;
            p99[rep] = r.p99_us;
        }
        char label[64];
        snprintf(label, sizeof label, "%u us", idle_gaps_us[g]);
        printf("%-36s %11.0f %10.1f %10.1f %10.1f\n", label,
               bench_median(samples, BENCH_REPEATS), bench_median(p50, BENCH_REPEATS),
               bench_median(p90, BENCH_REPEATS), bench_median(p99, BENCH_REPEATS));
    }
}

/* ==== b. mpsc throughput against capacity ================================ */

/* 16 bytes, copied in and out by value like a small command.  The producer
 * and sequence number let the receiver check FIFO order per producer. */
struct message {
    uint32_t producer;
    uint32_t seq;
    uint64_t payload;
};

struct tp_shared {
    pthread_barrier_t start;
    atomic_bool stop;      /* the receiver's time limit ran out */
    uint32_t per_producer; /* message limit per producer */
};

struct tp_producer {
    struct tp_shared *shared;
    struct mpsc_sender *tx;
    uint32_t id;
};

static void *tp_producer_main(void *arg)
{
    struct tp_producer *p = arg;
    pthread_barrier_wait(&p->shared->start);
    for (uint32_t seq = 0; seq < p->shared->per_producer; seq++) {
        if (atomic_load_explicit(&p->shared->stop, memory_order_relaxed))
            break;
        struct message m = { .producer = p->id, .seq = seq, .payload = seq * 2654435761u };
        if (mpsc_send(p->tx, &m) != CHAN_OK)
            break;
    }
    mpsc_sender_drop(p->tx); /* the last drop closes the channel */
    return NULL;
}

struct tp_result {
    double messages;
    double msgs_per_s;
    double ns_per_msg;
    double sleeps_per_msg;
};

/* One run: `producers` threads send, the calling thread receives. */
static struct tp_result run_throughput(size_t producers, size_t capacity, bool many)
{
    struct tp_shared shared = {
        .per_producer = (uint32_t)(TP_MAX_MESSAGES / divisor / producers),
    };
    atomic_init(&shared.stop, false);
    pthread_barrier_init(&shared.start, NULL, (unsigned)producers + 1);

    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    int err = mpsc_channel(capacity, sizeof(struct message), NULL, &tx, &rx);
    if (err != 0)
        die_errno("mpsc_channel", err);
    struct tp_producer *ps = calloc(producers, sizeof *ps);
    pthread_t *threads = calloc(producers, sizeof *threads);
    uint32_t *next_seq = calloc(producers, sizeof *next_seq);
    if (ps == NULL || threads == NULL || next_seq == NULL)
        die_errno("calloc", ENOMEM);
    for (size_t i = 0; i < producers; i++) {
        ps[i] = (struct tp_producer){ .shared = &shared, .tx = mpsc_sender_clone(tx),
                                      .id = (uint32_t)i };
        if (ps[i].tx == NULL)
            die_errno("mpsc_sender_clone", ENOMEM);
        start_thread(&threads[i], tp_producer_main, &ps[i]);
    }
    mpsc_sender_drop(tx); /* only the producers' clones keep it open */

    pthread_barrier_wait(&shared.start);
    /* After the barrier: the barrier's own sleeps are already counted. */
    long sleeps_before = bench_sleeps();
    uint64_t start = bench_now_ns();
    uint64_t max_ns = ms_to_ns(TP_MAX_MS / divisor);
    struct message batch[RECV_BATCH];
    size_t received = 0, next_clock_check = 1024;
    for (;;) {
        size_t n;
        if (many)
            n = mpsc_recv_many(rx, batch, RECV_BATCH);
        else
            n = mpsc_recv(rx, &batch[0]) == CHAN_OK ? 1 : 0;
        if (n == 0)
            break; /* closed and drained: every producer is done */
        for (size_t i = 0; i < n; i++) {
            struct message *m = &batch[i];
            if (m->producer >= producers || m->seq != next_seq[m->producer]++)
                atomic_fetch_add(&channel_errors, 1);
        }
        received += n;
        /* Reading the clock every 1024 messages keeps it off the hot path. */
        if (received >= next_clock_check) {
            next_clock_check = received + 1024;
            if (bench_now_ns() - start > max_ns)
                atomic_store(&shared.stop, true);
        }
    }
    uint64_t elapsed = bench_now_ns() - start;
    long sleeps = bench_sleeps() - sleeps_before;
    for (size_t i = 0; i < producers; i++)
        pthread_join(threads[i], NULL);
    mpsc_receiver_drop(rx);
    pthread_barrier_destroy(&shared.start);
    free(next_seq);
    free(threads);
    free(ps);

    double secs = (double)elapsed / 1e9;
    return (struct tp_result){
        .messages = (double)received,
        .msgs_per_s = (double)received / secs,
        .ns_per_msg = (double)elapsed / (double)received,
        .sleeps_per_msg = (double)sleeps / (double)received,
    };
}

static void write_throughput_plots(const struct bench_options *opts,
                                   struct tp_result results[2][PRODUCER_COUNTS][CAPACITY_COUNT])
{
    static double x[CAPACITY_COUNT], tput[2][PRODUCER_COUNTS][CAPACITY_COUNT],
        sleeps[2][PRODUCER_COUNTS][CAPACITY_COUNT];
    static char names[2][PRODUCER_COUNTS][64];
    struct svg_series tput_series[2 * PRODUCER_COUNTS], sleep_series[2 * PRODUCER_COUNTS];
    for (size_t c = 0; c < CAPACITY_COUNT; c++)
        x[c] = (double)capacities[c];
    size_t k = 0;
    /* Same colour per producer count; solid for recv_many, dashed for recv. */
    for (size_t p = 0; p < PRODUCER_COUNTS; p++) {
        for (int mode = 0; mode < 2; mode++, k++) {
            for (size_t c = 0; c < CAPACITY_COUNT; c++) {
                tput[mode][p][c] = results[mode][p][c].msgs_per_s;
                sleeps[mode][p][c] = results[mode][p][c].sleeps_per_msg;
            }
            snprintf(names[mode][p], sizeof names[mode][p], "%zu producer%s, %s",
                     producer_counts[p], producer_counts[p] == 1 ? "" : "s",
                     mode == 0 ? "recv_many" : "recv");
            tput_series[k] = (struct svg_series){
                .name = names[mode][p], .x = x, .y = tput[mode][p], .n = CAPACITY_COUNT,
                .color = svg_plot_color(p), .dashed = mode == 1,
            };
            sleep_series[k] = tput_series[k];
            sleep_series[k].y = sleeps[mode][p];
        }
    }
    bench_write_plot(opts, "bench-mpsc-throughput.svg",
                     &(struct svg_plot){
                         .title = "mpsc throughput against capacity",
                         .x_label = "channel capacity (slots)",
                         .y_label = "messages per second",
                         .x_scale = SVG_X_LOG2,
                         /* From 50k to 20M per second: on a linear axis the
                          * cliff at small capacities would be a flat line. */
                         .y_scale = SVG_Y_LOG10,
                         .series = tput_series,
                         .series_count = k,
                     });
    bench_write_plot(opts, "bench-mpsc-sleeps.svg",
                     &(struct svg_plot){
                         .title = "Threads put to sleep per message (mpsc)",
                         .x_label = "channel capacity (slots)",
                         .y_label = "voluntary context switches per message",
                         .x_scale = SVG_X_LOG2,
                         .series = sleep_series,
                         .series_count = k,
                     });
}

static void bench_throughput(const struct bench_options *opts)
{
    printf("\n== b. mpsc throughput against capacity ==\n"
           "16-byte messages; up to %d messages or %d ms per run (whichever comes\n"
           "first: slow points send fewer); recv_many takes batches of up to %d\n\n",
           TP_MAX_MESSAGES / (int)divisor, TP_MAX_MS / (int)divisor, RECV_BATCH);
    printf("%9s %8s | %-35s | %-35s\n", "", "", "receiver: mpsc_recv_many (batch 64)",
           "receiver: mpsc_recv (one at a time)");
    printf("%9s %8s | %9s %9s %7s %7s | %9s %9s %7s %7s\n", "producers", "capacity",
           "msgs", "Mmsg/s", "ns/msg", "sleeps", "msgs", "Mmsg/s", "ns/msg", "sleeps");

    static struct tp_result results[2][PRODUCER_COUNTS][CAPACITY_COUNT];
    for (size_t p = 0; p < PRODUCER_COUNTS; p++) {
        for (size_t c = 0; c < CAPACITY_COUNT; c++) {
            printf("%9zu %8zu", producer_counts[p], capacities[c]);
            for (int mode = 0; mode < 2; mode++) {
                double msgs[BENCH_REPEATS], tput[BENCH_REPEATS], ns[BENCH_REPEATS],
                    sl[BENCH_REPEATS];
                for (int rep = 0; rep < BENCH_REPEATS; rep++) {
                    struct tp_result r = run_throughput(producer_counts[p], capacities[c],
                                                        mode == 0);
                    msgs[rep] = r.messages;
                    tput[rep] = r.msgs_per_s;
                    ns[rep] = r.ns_per_msg;
                    sl[rep] = r.sleeps_per_msg;
                }
                struct tp_result *m = &results[mode][p][c];
                m->messages = bench_median(msgs, BENCH_REPEATS);
                m->msgs_per_s = bench_median(tput, BENCH_REPEATS);
                m->ns_per_msg = bench_median(ns, BENCH_REPEATS);
                m->sleeps_per_msg = bench_median(sl, BENCH_REPEATS);
                printf(" | %9.0f %9.2f %7.0f %7.3f", m->messages, m->msgs_per_s / 1e6,
                       m->ns_per_msg, m->sleeps_per_msg);
            }
            printf("\n");
        }
    }
    printf("(msgs: messages moved in the run; sleeps: voluntary context switches per\n"
           "message, all threads together)\n");
    write_throughput_plots(opts, results);
}

/* ==== c. Request over mpsc, reply over oneshot =========================== */

/* A request as chapter 04 sends it, minus the Redis command: who asks, and
 * where the answer goes. */
struct rpc_request {
    uint64_t id;
    struct oneshot_sender *reply;
};

struct rpc_server {
    struct mpsc_receiver *rx;
    size_t batches, requests; /* for the average batch size */
};

/* Answers every request at once with id + 1, taking batches like the
 * chapters' manager does.  Ends when every requester has gone. */
static void *rpc_server_main(void *arg)
{
    struct rpc_server *s = arg;
    struct rpc_request batch[RECV_BATCH];
    size_t n;
    while ((n = mpsc_recv_many(s->rx, batch, RECV_BATCH)) > 0) {
        s->batches++;
        s->requests += n;
        for (size_t i = 0; i < n; i++) {
            uint64_t answer = batch[i].id + 1;
            oneshot_send(batch[i].reply, &answer); /* consumes the sender */
        }
    }
    return NULL;
}

struct rpc_requester {
    pthread_barrier_t *start;
    struct mpsc_sender *tx;
    uint64_t id_base;
    size_t max_requests;
    uint64_t max_ns;
    double *latency_us; /* max_requests entries */
    size_t done;
};

static void *rpc_requester_main(void *arg)
{
    struct rpc_requester *r = arg;
    pthread_barrier_wait(r->start);
    uint64_t start = bench_now_ns();
    while (r->done < r->max_requests && bench_now_ns() - start < r->max_ns) {
        uint64_t t0 = bench_now_ns();
        struct oneshot_sender *reply_tx;
        struct oneshot_receiver *reply_rx;
        if (oneshot_channel(sizeof(uint64_t), NULL, &reply_tx, &reply_rx) != 0)
            break;
        struct rpc_request req = { .id = r->id_base + r->done, .reply = reply_tx };
        if (mpsc_send(r->tx, &req) != CHAN_OK) {
            oneshot_sender_drop(reply_tx);
            oneshot_receiver_drop(reply_rx);
            atomic_fetch_add(&channel_errors, 1);
            break;
        }
        uint64_t answer = 0;
        if (oneshot_recv(reply_rx, &answer) != CHAN_OK || answer != req.id + 1)
            atomic_fetch_add(&channel_errors, 1);
        oneshot_receiver_drop(reply_rx);
        r->latency_us[r->done++] = (double)(bench_now_ns() - t0) / 1e3;
    }
    mpsc_sender_drop(r->tx);
    return NULL;
}

struct rpc_result {
    double requests_per_s, p50_us, p90_us, p99_us, sleeps_per_req, avg_batch;
};

static struct rpc_result run_rpc(size_t requesters)
{
    struct mpsc_sender *tx;
    struct rpc_server server = { 0 };
    /* More slots than requesters: no convoy (see b). */
    int err = mpsc_channel(RECV_BATCH, sizeof(struct rpc_request), NULL, &tx, &server.rx);
    if (err != 0)
        die_errno("mpsc_channel", err);
    pthread_t server_thread;
    start_thread(&server_thread, rpc_server_main, &server);

    size_t per_requester = RPC_MAX_REQUESTS / divisor / requesters;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)requesters + 1);
    struct rpc_requester *rs = calloc(requesters, sizeof *rs);
    pthread_t *threads = calloc(requesters, sizeof *threads);
    double *all = calloc(per_requester * requesters, sizeof *all);
    if (rs == NULL || threads == NULL || all == NULL)
        die_errno("calloc", ENOMEM);
    for (size_t i = 0; i < requesters; i++) {
        rs[i] = (struct rpc_requester){
            .start = &start, .tx = mpsc_sender_clone(tx), .id_base = (uint64_t)i << 32,
            .max_requests = per_requester, .max_ns = ms_to_ns(RPC_MAX_MS / divisor),
            .latency_us = all + i * per_requester,
        };
        if (rs[i].tx == NULL)
            die_errno("mpsc_sender_clone", ENOMEM);
        start_thread(&threads[i], rpc_requester_main, &rs[i]);
    }
    mpsc_sender_drop(tx);

    pthread_barrier_wait(&start);
    long sleeps_before = bench_sleeps();
    uint64_t t0 = bench_now_ns();
    size_t total = 0;
    for (size_t i = 0; i < requesters; i++) {
        pthread_join(threads[i], NULL);
        /* Pack the latencies together for sorting. */
        memmove(all + total, rs[i].latency_us, rs[i].done * sizeof *all);
        total += rs[i].done;
    }
    uint64_t elapsed = bench_now_ns() - t0;
    long sleeps = bench_sleeps() - sleeps_before;
    pthread_join(server_thread, NULL);
    mpsc_receiver_drop(server.rx);
    pthread_barrier_destroy(&start);

    bench_sort(all, total);
    struct rpc_result r = {
        .requests_per_s = (double)total / ((double)elapsed / 1e9),
        .p50_us = bench_percentile(all, total, 50),
        .p90_us = bench_percentile(all, total, 90),
        .p99_us = bench_percentile(all, total, 99),
        .sleeps_per_req = (double)sleeps / (double)total,
        .avg_batch = server.batches ? (double)server.requests / (double)server.batches : NAN,
    };
    free(all);
    free(threads);
    free(rs);
    return r;
}

static void bench_rpc(void)
{
    printf("\n== c. Request over mpsc, reply over oneshot (chapter 04 without Redis) ==\n"
           "each request: a new oneshot, mpsc_send to a server thread that answers at\n"
           "once (mpsc_recv_many, batch %d), oneshot_recv; up to %d requests or %d ms\n"
           "per run\n\n",
           RECV_BATCH, RPC_MAX_REQUESTS / (int)divisor, RPC_MAX_MS / (int)divisor);
    printf("%10s %11s %9s %9s %9s %11s %9s\n", "requesters", "requests/s", "p50 us", "p90 us",
           "p99 us", "sleeps/req", "avg batch");
    for (size_t i = 0; i < REQUESTER_COUNTS; i++) {
        double v[6][BENCH_REPEATS];
        for (int rep = 0; rep < BENCH_REPEATS; rep++) {
            struct rpc_result r = run_rpc(requester_counts[i]);
            v[0][rep] = r.requests_per_s;
            v[1][rep] = r.p50_us;
            v[2][rep] = r.p90_us;
            v[3][rep] = r.p99_us;
            v[4][rep] = r.sleeps_per_req;
            v[5][rep] = r.avg_batch;
        }
        printf("%10zu %11.0f %9.1f %9.1f %9.1f %11.2f %9.2f\n", requester_counts[i],
               bench_median(v[0], BENCH_REPEATS), bench_median(v[1], BENCH_REPEATS),
               bench_median(v[2], BENCH_REPEATS), bench_median(v[3], BENCH_REPEATS),
               bench_median(v[4], BENCH_REPEATS), bench_median(v[5], BENCH_REPEATS));
    }
}

int main(int argc, char **argv)
{
    struct bench_options opts;
    bench_parse_options(argc, argv, usage, &opts);
    if (opts.quick)
        divisor = QUICK_DIVISOR;
    /* Line-buffered even into a pipe (make, tee), so progress shows. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    uint64_t t0 = bench_now_ns();
    bench_print_header(opts.quick ? "bench_channels: the channels of common/, no Redis (--quick: "
                                    "smoke test only)"
                                  : "bench_channels: the channels of common/, no Redis");
    printf("sleeps: voluntary context switches (a thread blocking in the kernel) per\n"
           "message or round trip, all threads together, counted by getrusage\n");
    bench_wakeup();
    bench_throughput(&opts);
    bench_rpc();
    printf("\ntotal time: %.1f s\n", (double)(bench_now_ns() - t0) / 1e9);

    unsigned long errors = atomic_load(&channel_errors);
    if (errors != 0) {
        fprintf(stderr, "bench_channels: %lu messages lost, duplicated or out of order\n", errors);
        return 1;
    }
    return 0;
}
