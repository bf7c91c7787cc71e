/*
 * bench_channels.c - what the channels of common/ cost, without Redis,
 * next to the plainest way two threads can talk: a pipe(2).
 *
 * Cases (each a few hundred thousand messages or round trips, bounded by a
 * time limit too, so a slow case cannot stretch the run):
 *
 *   pipe round trip      one byte there and back through two pipes: two
 *                        system calls each way and, usually, a sleep and a
 *                        wake-up each way.  The reference.
 *   condvar ping-pong    the textbook hand-off with a mutex and a condition
 *                        variable: each message puts the other thread to
 *                        sleep and wakes it.
 *   mpsc ping-pong       the same game over two mpsc channels of capacity
 *                        1.  A thread about to sleep in common/ first spins
 *                        for a few microseconds: compare the sleeps column.
 *   mpsc P->1, cap C     P producers stream 16-byte messages to a receiver
 *                        that takes batches (mpsc_recv_many).  It checks
 *                        each producer's messages arrive complete and in
 *                        order.
 *   mpsc 16->1, cap 4, 16, 32
 *                        what mpsc.h says about slots and producers, one
 *                        thing changed at a time: 16 producers against
 *                        three capacities, and 16 against 4 producers
 *                        (4->1) at capacity 32.  Producers that never wait
 *                        for an answer keep any channel full; each wake-up
 *                        of one then buys about capacity/producers sends.
 *   oneshot round trip   chapter 04's request without Redis: a fresh
 *                        oneshot, the request over an mpsc to a server
 *                        thread that answers at once, the wait for the
 *                        answer.
 *   broadcast 1->4       one sender, four receivers that each get every
 *                        message (the sender never lets itself get more
 *                        than half the ring ahead, so nobody lags).
 *
 * Figures are nanoseconds per message (or per round trip), the median of
 * the interleaved repetitions with their range, and sleeps (voluntary
 * context switches of the process) per message: the thing the channels are
 * designed to keep well below one.
 *
 * Exit status: 0; 1 if a channel lost, duplicated or reordered a message;
 * 2 on a bad option or a failure to start.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "broadcast.h"
#include "mpsc.h"
#include "oneshot.h"

static const char usage[] =
    "usage: bench_channels [--out DIR] [--quick | --smoke] [--only CASE]\n"
    "Measures mpsc, oneshot and broadcast against a pipe(2) round trip; prints a\n"
    "markdown table, writes channels.csv and channels.md to DIR (default build/bench).\n";

enum { RECV_BATCH = 64, BROADCAST_RECEIVERS = 4, BROADCAST_CAPACITY = 1024, MAX_PRODUCERS = 16 };

static struct bench_options opts;
static size_t round_trips; /* per ping-pong or request run */
static size_t messages;    /* per streaming run */
static uint64_t cap_ns;    /* time limit of one run */
static atomic_ulong channel_errors;

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_channels: %s: %s\n", what, strerror(err));
    exit(2);
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    int err = pthread_create(t, NULL, fn, arg);
    if (err != 0)
        die("pthread_create", err);
}

/* What one run measured: units done (messages or round trips), time. */
struct measured {
    size_t units;
    uint64_t ns;
    long sleeps;
};

/* Every case starts the clock the same way, after its threads exist. */
struct clock_start {
    uint64_t t0;
    long sleeps0;
};

static struct clock_start clock_begin(void)
{
    return (struct clock_start){ bench_now_ns(), bench_sleeps() };
}

static struct measured clock_end(struct clock_start c, size_t units)
{
    return (struct measured){ units, bench_now_ns() - c.t0, bench_sleeps() - c.sleeps0 };
}

/* ==== Round trips between two threads ==================================== */

/* The far side of a ping-pong: echo until told to stop (a 0 message). */
struct echo {
    int pipe_in, pipe_out;                 /* pipe case */
    pthread_mutex_t lock;                  /* condvar case */
    pthread_cond_t cond;
    unsigned long ping, pong;              /* condvar case: counters */
    struct mpsc_receiver *rx;              /* mpsc case */
    struct mpsc_sender *tx;
};

static void *pipe_echo(void *arg)
{
    struct echo *e = arg;
    char b;
    while (read(e->pipe_in, &b, 1) == 1 && b != 0)
        if (write(e->pipe_out, &b, 1) != 1)
            break;
    return NULL;
}

static struct measured run_pipe(void)
{
    int a[2], b[2];
    if (pipe(a) != 0 || pipe(b) != 0)
        die("pipe", errno);
    struct echo e = { .pipe_in = a[0], .pipe_out = b[1] };
    pthread_t t;
    start_thread(&t, pipe_echo, &e);
    struct clock_start c = clock_begin();
    size_t n = 0;
    char x = 1, y;
    while (n < round_trips && bench_now_ns() - c.t0 < cap_ns) {
        if (write(a[1], &x, 1) != 1 || read(b[0], &y, 1) != 1 || y != x)
            atomic_fetch_add(&channel_errors, 1);
        n++;
    }
    struct measured m = clock_end(c, n);
    x = 0;
    if (write(a[1], &x, 1) != 1)
        die("write", errno);
    pthread_join(t, NULL);
    close(a[0]), close(a[1]), close(b[0]), close(b[1]);
    return m;
}

static void *condvar_echo(void *arg)
{
    struct echo *e = arg;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (e->ping == e->pong)
            pthread_cond_wait(&e->cond, &e->lock);
        if (e->ping == ULONG_MAX)
            break;
        e->pong = e->ping;
        pthread_cond_broadcast(&e->cond);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

static struct measured run_condvar(void)
{
    struct echo e = { .ping = 0, .pong = 0 };
    pthread_mutex_init(&e.lock, NULL);
    pthread_cond_init(&e.cond, NULL);
    pthread_t t;
    start_thread(&t, condvar_echo, &e);
    struct clock_start c = clock_begin();
    size_t n = 0;
    pthread_mutex_lock(&e.lock);
    while (n < round_trips && bench_now_ns() - c.t0 < cap_ns) {
        e.ping++;
        pthread_cond_broadcast(&e.cond);
        while (e.pong != e.ping)
            pthread_cond_wait(&e.cond, &e.lock);
        n++;
    }
    struct measured m = clock_end(c, n);
    e.ping = ULONG_MAX;
    pthread_cond_broadcast(&e.cond);
    pthread_mutex_unlock(&e.lock);
    pthread_join(t, NULL);
    pthread_cond_destroy(&e.cond);
    pthread_mutex_destroy(&e.lock);
    return m;
}

static void *mpsc_echo(void *arg)
{
    struct echo *e = arg;
    unsigned long v;
    while (mpsc_recv(e->rx, &v) == CHAN_OK)
        if (mpsc_send(e->tx, &v) != CHAN_OK)
            break;
    mpsc_sender_drop(e->tx); /* ends the main thread's receive */
    return NULL;
}

static struct measured run_mpsc_pingpong(void)
{
    struct mpsc_sender *ping_tx, *pong_tx;
    struct mpsc_receiver *ping_rx, *pong_rx;
    if (mpsc_channel(1, sizeof(unsigned long), NULL, &ping_tx, &ping_rx) != 0 ||
        mpsc_channel(1, sizeof(unsigned long), NULL, &pong_tx, &pong_rx) != 0)
        die("mpsc_channel", ENOMEM);
    struct echo e = { .rx = ping_rx, .tx = pong_tx };
    pthread_t t;
    start_thread(&t, mpsc_echo, &e);
    struct clock_start c = clock_begin();
    size_t n = 0;
    while (n < round_trips && bench_now_ns() - c.t0 < cap_ns) {
        unsigned long v = n, back = ~0ul;
        if (mpsc_send(ping_tx, &v) != CHAN_OK || mpsc_recv(pong_rx, &back) != CHAN_OK ||
            back != v)
            atomic_fetch_add(&channel_errors, 1);
        n++;
    }
    struct measured m = clock_end(c, n);
    mpsc_sender_drop(ping_tx); /* the echo's loop ends */
    pthread_join(t, NULL);
    mpsc_receiver_drop(ping_rx);
    mpsc_receiver_drop(pong_rx);
    return m;
}

/* ==== Streaming: P producers, one receiver ================================ */

struct message {
    uint32_t producer;
    uint32_t seq;
    char payload[8]; /* 16 bytes in all */
};

struct producer {
    struct mpsc_sender *tx;
    uint32_t index;
    size_t count;
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    for (size_t i = 0; i < p->count; i++) {
        struct message msg = { .producer = p->index, .seq = (uint32_t)i };
        if (mpsc_send(p->tx, &msg) != CHAN_OK)
            break; /* the receiver stopped early (time limit) */
    }
    mpsc_sender_drop(p->tx);
    return NULL;
}

static struct measured run_mpsc_stream(size_t producers, size_t capacity)
{
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    if (mpsc_channel(capacity, sizeof(struct message), NULL, &tx, &rx) != 0)
        die("mpsc_channel", ENOMEM);
    struct producer ps[MAX_PRODUCERS];
    pthread_t ts[MAX_PRODUCERS];
    uint32_t next[MAX_PRODUCERS] = { 0 };
    for (size_t i = 0; i < producers; i++) {
        ps[i] = (struct producer){ .tx = mpsc_sender_clone(tx), .index = (uint32_t)i,
                                   .count = messages / producers };
        if (ps[i].tx == NULL)
            die("mpsc_sender_clone", ENOMEM);
    }
    mpsc_sender_drop(tx); /* the producers hold the only senders now */
    struct clock_start c = clock_begin();
    for (size_t i = 0; i < producers; i++)
        start_thread(&ts[i], producer_main, &ps[i]);
    struct message batch[RECV_BATCH];
    size_t got = 0, n;
    bool stopped_early = false;
    while ((n = mpsc_recv_many(rx, batch, RECV_BATCH)) > 0) {
        for (size_t i = 0; i < n; i++) {
            struct message *msg = &batch[i];
            if (msg->producer >= producers || msg->seq != next[msg->producer]++)
                atomic_fetch_add(&channel_errors, 1);
        }
        got += n;
        if (bench_now_ns() - c.t0 > cap_ns) {
            mpsc_receiver_close(rx); /* producers see CLOSED and stop */
            stopped_early = true;
            break;
        }
    }
    struct measured m = clock_end(c, got);
    for (size_t i = 0; i < producers; i++)
        pthread_join(ts[i], NULL);
    if (!stopped_early && got != ps[0].count * producers)
        atomic_fetch_add(&channel_errors, 1); /* lost or duplicated messages */
    mpsc_receiver_drop(rx);
    return m;
}

/* ==== Request over mpsc, answer over a oneshot =========================== */

struct request {
    uint64_t question;
    struct oneshot_sender *reply; /* one uint64_t */
};

static void request_drop(void *elem)
{
    oneshot_sender_drop(((struct request *)elem)->reply);
}

static void *answer_main(void *arg)
{
    struct mpsc_receiver *rx = arg;
    struct request batch[RECV_BATCH];
    size_t n;
    while ((n = mpsc_recv_many(rx, batch, RECV_BATCH)) > 0)
        for (size_t i = 0; i < n; i++) {
            uint64_t answer = batch[i].question + 1;
            oneshot_send(batch[i].reply, &answer); /* consumes the sender */
        }
    return NULL;
}

static struct measured run_oneshot_rpc(void)
{
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    if (mpsc_channel(32, sizeof(struct request), request_drop, &tx, &rx) != 0)
        die("mpsc_channel", ENOMEM);
    pthread_t t;
    start_thread(&t, answer_main, rx);
    struct clock_start c = clock_begin();
    size_t n = 0;
    while (n < round_trips && bench_now_ns() - c.t0 < cap_ns) {
        struct request q = { .question = n };
        struct oneshot_receiver *reply;
        uint64_t answer = 0;
        if (oneshot_channel(sizeof answer, NULL, &q.reply, &reply) != 0)
            die("oneshot_channel", ENOMEM);
        if (mpsc_send(tx, &q) != CHAN_OK || oneshot_recv(reply, &answer) != CHAN_OK ||
            answer != n + 1)
            atomic_fetch_add(&channel_errors, 1);
        oneshot_receiver_drop(reply);
        n++;
    }
    struct measured m = clock_end(c, n);
    mpsc_sender_drop(tx);
    pthread_join(t, NULL);
    mpsc_receiver_drop(rx);
    return m;
}

/* ==== Broadcast: one sender, four receivers ============================== */

struct listener {
    struct broadcast_receiver *rx;
    atomic_size_t received; /* read by the sender for its flow control */
};

static void *listener_main(void *arg)
{
    struct listener *l = arg;
    uint64_t v, expected = 0, missed;
    enum chan_status st;
    while ((st = broadcast_recv(l->rx, &v, &missed)) != CHAN_CLOSED) {
        if (st != CHAN_OK || v != expected++)
            atomic_fetch_add(&channel_errors, 1); /* lagged or out of order */
        atomic_store_explicit(&l->received, expected, memory_order_release);
    }
    return NULL;
}

static struct measured run_broadcast(void)
{
    struct broadcast_sender *tx;
    struct broadcast_receiver *first;
    if (broadcast_channel(BROADCAST_CAPACITY, sizeof(uint64_t), NULL, NULL, &tx, &first) != 0)
        die("broadcast_channel", ENOMEM);
    struct listener ls[BROADCAST_RECEIVERS];
    pthread_t ts[BROADCAST_RECEIVERS];
    for (size_t i = 0; i < BROADCAST_RECEIVERS; i++) {
        ls[i].rx = i == 0 ? first : broadcast_subscribe(tx);
        if (ls[i].rx == NULL)
            die("broadcast_subscribe", ENOMEM);
        atomic_init(&ls[i].received, 0);
    }
    for (size_t i = 0; i < BROADCAST_RECEIVERS; i++)
        start_thread(&ts[i], listener_main, &ls[i]);
    struct clock_start c = clock_begin();
    uint64_t sent = 0;
    while (sent < messages && bench_now_ns() - c.t0 < cap_ns) {
        /* Broadcast never waits for slow receivers, it overwrites: stay at
         * most half a ring ahead of the slowest, so nothing is lost. */
        for (size_t i = 0; i < BROADCAST_RECEIVERS; i++)
            while (sent - atomic_load_explicit(&ls[i].received, memory_order_acquire) >
                   BROADCAST_CAPACITY / 2)
                sched_yield();
        if (broadcast_send(tx, &sent, NULL) != CHAN_OK)
            atomic_fetch_add(&channel_errors, 1);
        sent++;
    }
    broadcast_sender_drop(tx); /* receivers drain what is left, then stop */
    for (size_t i = 0; i < BROADCAST_RECEIVERS; i++)
        pthread_join(ts[i], NULL);
    struct measured m = clock_end(c, sent);
    for (size_t i = 0; i < BROADCAST_RECEIVERS; i++) {
        if (atomic_load(&ls[i].received) != sent)
            atomic_fetch_add(&channel_errors, 1);
        broadcast_receiver_drop(ls[i].rx);
    }
    return m;
}

/* ==== The cases and the table ============================================ */

enum case_id {
    C_PIPE, C_CONDVAR, C_MPSC_PINGPONG, C_MPSC_1_32, C_MPSC_1_1024, C_MPSC_4_32,
    C_MPSC_4_1024, C_MPSC_16_4, C_MPSC_16_16, C_MPSC_16_32, C_ONESHOT, C_BROADCAST, CASES
};

static const struct {
    const char *name;   /* CSV and plot label */
    const char *unit;   /* "round trip" or "message" */
    double target_ns;   /* a maintainers' goal (bench/README.md); 0: none */
    const char *what;
} cases[CASES] = {
    [C_PIPE] = { "pipe-roundtrip", "round trip", 0, "pipe(2) round trip between two threads (reference)" },
    [C_CONDVAR] = { "condvar-pingpong", "round trip", 0, "mutex + condvar ping-pong: sleeps on every message" },
    [C_MPSC_PINGPONG] = { "mpsc-pingpong-cap1", "round trip", 0, "mpsc ping-pong, capacity 1: spins before sleeping" },
    [C_MPSC_1_32] = { "mpsc-1to1-cap32", "message", 250, "mpsc 1->1, capacity 32, recv_many" },
    [C_MPSC_1_1024] = { "mpsc-1to1-cap1024", "message", 250, "mpsc 1->1, capacity 1024, recv_many" },
    [C_MPSC_4_32] = { "mpsc-4to1-cap32", "message", 250, "mpsc 4->1, capacity 32, recv_many" },
    [C_MPSC_4_1024] = { "mpsc-4to1-cap1024", "message", 250, "mpsc 4->1, capacity 1024, recv_many" },
    [C_MPSC_16_4] = { "mpsc-16to1-cap4", "message", 0, "mpsc 16->1, capacity 4, recv_many" },
    [C_MPSC_16_16] = { "mpsc-16to1-cap16", "message", 0, "mpsc 16->1, capacity 16, recv_many" },
    [C_MPSC_16_32] = { "mpsc-16to1-cap32", "message", 0, "mpsc 16->1, capacity 32, recv_many" },
    [C_ONESHOT] = { "oneshot-roundtrip", "round trip", 5000, "request over mpsc, answer over a fresh oneshot" },
    [C_BROADCAST] = { "broadcast-1to4", "message", 0, "broadcast 1->4, capacity 1024" },
};

static struct measured run_case(enum case_id id)
{
    switch (id) {
    case C_PIPE: return run_pipe();
    case C_CONDVAR: return run_condvar();
    case C_MPSC_PINGPONG: return run_mpsc_pingpong();
    case C_MPSC_1_32: return run_mpsc_stream(1, 32);
    case C_MPSC_1_1024: return run_mpsc_stream(1, 1024);
    case C_MPSC_4_32: return run_mpsc_stream(4, 32);
    case C_MPSC_4_1024: return run_mpsc_stream(4, 1024);
    case C_MPSC_16_4: return run_mpsc_stream(16, 4);
    case C_MPSC_16_16: return run_mpsc_stream(16, 16);
    case C_MPSC_16_32: return run_mpsc_stream(16, 32);
    case C_ONESHOT: return run_oneshot_rpc();
    case C_BROADCAST: return run_broadcast();
    case CASES: break;
    }
    abort();
}

#define MAX_REPS 3

int main(int argc, char **argv)
{
    bench_parse_options(argc, argv, usage, &opts);
    setvbuf(stdout, NULL, _IOLBF, 0);
    round_trips = (size_t)bench_by_mode(&opts, 20000, 4000, 300);
    messages = (size_t)bench_by_mode(&opts, 400000, 80000, 400);
    cap_ns = (uint64_t)bench_by_mode(&opts, 0.3e9, 0.08e9, 1e9);
    uint64_t started = bench_now_ns();

    static double ns[CASES][MAX_REPS], sleeps[CASES][MAX_REPS];
    printf("bench_channels: %zu round trips or %zu messages per run, capped at %.2f s, "
           "%d repetitions\n", round_trips, messages, (double)cap_ns / 1e9, opts.reps);
    for (int rep = 0; rep < opts.reps; rep++)
        for (int id = 0; id < CASES; id++) {
            if (!bench_selected(&opts, cases[id].name) && id != C_PIPE)
                continue;
            struct measured m = run_case((enum case_id)id);
            ns[id][rep] = (double)m.ns / (double)(m.units ? m.units : 1);
            sleeps[id][rep] = (double)m.sleeps / (double)(m.units ? m.units : 1);
        }

    bench_report_open(&opts, "channels.md");
    bench_report("\n### Channels, no Redis\n\n"
                 "Nanoseconds per message or per round trip (median of %d, min-max); "
                 "*sleeps*: voluntary context switches of the process per message or round "
                 "trip; *x pipe*: time as a multiple of a pipe(2) round trip in the same run.\n\n",
                 opts.reps);
    bench_report("| case | ns per | median (min-max) | x pipe | sleeps |\n"
                 "|:---|:---|---:|---:|---:|\n");
    FILE *csv = bench_open_output(&opts, "channels.csv");
    fprintf(csv, "case,unit,reps,median_ns,min_ns,max_ns,sleeps_per_unit,target_ns\n");
    double pipe_ns = bench_stat_of((double[MAX_REPS]){ ns[C_PIPE][0], ns[C_PIPE][1],
                                                       ns[C_PIPE][2] },
                                   (size_t)opts.reps).median;
    for (int id = 0; id < CASES; id++) {
        struct bench_stat t = bench_stat_of(ns[id], (size_t)opts.reps);
        struct bench_stat s = bench_stat_of(sleeps[id], (size_t)opts.reps);
        bench_report("| %s | %s | %.0f (%.0f-%.0f) | %.2f | %.3f |\n", cases[id].what,
                     cases[id].unit, t.median, t.min, t.max, t.median / pipe_ns, s.median);
        if (cases[id].target_ns > 0)
            bench_target(&opts, "%s: at most %.0f ns per %s; %.0f ns, %s\n", cases[id].what,
                         cases[id].target_ns, cases[id].unit, t.median,
                         t.median <= cases[id].target_ns ? "met" : "missed");
        fprintf(csv, "%s,%s,%d,%.1f,%.1f,%.1f,%.4f,%.0f\n", cases[id].name, cases[id].unit,
                opts.reps, t.median, t.min, t.max, s.median, cases[id].target_ns);
    }
    fclose(csv);
    bench_report_close();
    printf("bench_channels: %.1f s\n", (double)(bench_now_ns() - started) / 1e9);

    if (atomic_load(&channel_errors) != 0) {
        fprintf(stderr, "bench_channels: %lu messages lost, duplicated or out of order\n",
                atomic_load(&channel_errors));
        return 1;
    }
    return 0;
}
