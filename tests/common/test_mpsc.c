/*
 * test_mpsc.c - the mpsc channel against the behaviour list
 * (docs/channels.md says where its items come from).
 *
 * Each test is named after the behaviour it checks: `bNN_` is the item's
 * number in that list.  Item 29 (weak senders) is not built; mpsc.h says
 * why.  No test here depends on timing to pass:
 *   - A test that needs a thread to be blocked before it goes on (to queue
 *     senders in a known order, or to close under their feet) waits until
 *     the thread is seen asleep in its condition-variable wait
 *     (test_assert_asleep_in_wait), however long that takes.
 *   - Other tests give a thread 50 ms to block and then check that it has
 *     NOT returned, which is true however the threads are scheduled,
 *     because nothing it waits for has happened yet.
 *   - A thread that must wake is given TEST_WAKE_BOUND_MS, far more than any
 *     wake-up takes even under valgrind, so that a lost wake-up fails with
 *     a message instead of hanging the suite.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mpsc.h"
#include "test_mpsc.h"
#include "test_support.h"

/* ---- Helpers --------------------------------------------------------------- */

static struct mpsc_sender *tx;
static struct mpsc_receiver *rx;

static void make_bounded(size_t cap)
{
    ck_assert_int_eq(mpsc_channel(cap, sizeof(int), NULL, &tx, &rx), 0);
}

static void drop_both(void)
{
    mpsc_sender_drop(tx);
    mpsc_receiver_drop(rx);
    tx = NULL;
    rx = NULL;
}

static void send_ints(int from, int to)
{
    for (int i = from; i < to; i++)
        ck_assert_int_eq(mpsc_send(tx, &i), CHAN_OK);
}

/* Receives from..to-1, in order. */
static void recv_ints(int from, int to)
{
    for (int i = from; i < to; i++) {
        int v = -1;
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
        ck_assert_int_eq(v, i);
    }
}

/* A thread that runs one blocking operation and records how it ended. */
struct blocked_op {
    pthread_t thread;
    atomic_long tid;             /* the thread's id, for wait_until_blocked */
    atomic_bool done;
    enum chan_status status;
    int value;                   /* sent, received, or slots to reserve */
    struct mpsc_permit permit;   /* what a reservation got */
    int64_t returned_at_ms;
};

static void op_begins(struct blocked_op *op)
{
    atomic_store(&op->tid, test_thread_id());
}

static void op_ends(struct blocked_op *op, enum chan_status st)
{
    op->status = st;
    op->returned_at_ms = test_now_ms();
    atomic_store(&op->done, true);
}

static void *recv_op(void *arg)
{
    struct blocked_op *op = arg;
    op_begins(op);
    op_ends(op, mpsc_recv(rx, &op->value));
    return NULL;
}

static void *send_op(void *arg)
{
    struct blocked_op *op = arg;
    op_begins(op);
    op_ends(op, mpsc_send(tx, &op->value));
    return NULL;
}

static void *reserve_op(void *arg)
{
    struct blocked_op *op = arg;
    op_begins(op);
    op_ends(op, op->value == 1 ? mpsc_reserve(tx, &op->permit)
                               : mpsc_reserve_many(tx, (size_t)op->value, &op->permit));
    return NULL;
}

static void *wait_closed_op(void *arg)
{
    struct blocked_op *op = arg;
    op_begins(op);
    op_ends(op, mpsc_sender_wait_closed_timeout(tx, 60000));
    return NULL;
}

static void start_op(struct blocked_op *op, void *(*fn)(void *), int value)
{
    memset(op, 0, sizeof *op);
    op->value = value;
    ck_assert_int_eq(pthread_create(&op->thread, NULL, fn, op), 0);
}

/* Gives the thread time to reach its wait, then checks it is still there. */
static void assert_still_blocked(struct blocked_op *op)
{
    test_sleep_ms(50);
    ck_assert_msg(!atomic_load(&op->done), "the operation returned (%s) but should still be blocked",
                  chan_status_name(op->status));
}

/* Waits until the thread is asleep in the channel, waiting for what its
 * operation needs: from then on it is queued (or counted) as a waiter. */
static void wait_until_blocked(struct blocked_op *op)
{
    test_assert_asleep_in_wait(&op->tid, &op->done, "the operation");
}

static void join_op(struct blocked_op *op)
{
    ck_assert_int_eq(pthread_join(op->thread, NULL), 0);
    ck_assert(atomic_load(&op->done));
}

/* Joins a thread that must have been woken, failing (rather than hanging)
 * if it is still blocked TEST_WAKE_BOUND_MS from now. */
static void join_woken_op(struct blocked_op *op, const char *what)
{
    test_assert_returns(&op->done, what);
    join_op(op);
}

/* Elements that own heap memory, with counters, so that a lost or doubly
 * destroyed element shows up as a wrong count (and under ASan/valgrind). */
struct owned {
    int *payload;
};
static atomic_int owned_made, owned_destroyed;

static struct owned make_owned(int v)
{
    struct owned o = { malloc(sizeof(int)) };
    ck_assert_ptr_nonnull(o.payload);
    *o.payload = v;
    atomic_fetch_add(&owned_made, 1);
    return o;
}

static void destroy_owned(void *elem)
{
    struct owned *o = elem;
    free(o->payload);
    o->payload = NULL;
    atomic_fetch_add(&owned_destroyed, 1);
}

/* ---- Construction and metadata ------------------------------------------------- */

START_TEST(b01_new_channel_reports_capacity_and_is_empty_and_open)
{
    make_bounded(7);
    ck_assert_uint_eq(mpsc_capacity(rx), 7);
    ck_assert_uint_eq(mpsc_sender_max_capacity(tx), 7);
    ck_assert_uint_eq(mpsc_sender_capacity(tx), 7);
    ck_assert_uint_eq(mpsc_len(rx), 0);
    ck_assert(mpsc_is_empty(rx));
    ck_assert(!mpsc_is_full(rx));
    ck_assert(!mpsc_is_closed(rx));
    ck_assert(!mpsc_sender_is_closed(tx));
    drop_both();
}
END_TEST

START_TEST(b02_capacity_zero_is_refused_with_einval)
{
    struct mpsc_sender *t = (void *)1;
    struct mpsc_receiver *r = (void *)1;
    ck_assert_int_eq(mpsc_channel(0, sizeof(int), NULL, &t, &r), EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(b02_oversized_capacity_and_zero_elem_size_are_refused)
{
    struct mpsc_sender *t;
    struct mpsc_receiver *r;
    ck_assert_int_eq(mpsc_channel(MPSC_MAX_CAPACITY + 1, sizeof(int), NULL, &t, &r), EINVAL);
    ck_assert_int_eq(mpsc_channel(SIZE_MAX, 1, NULL, &t, &r), EINVAL);
    ck_assert_int_eq(mpsc_channel(4, 0, NULL, &t, &r), EINVAL);
    ck_assert_int_eq(mpsc_unbounded_channel(0, NULL, &t, &r), EINVAL);
}
END_TEST

START_TEST(b03_len_is_exact_after_each_send_and_recv_and_unchanged_by_close)
{
    make_bounded(5);
    int v;
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(mpsc_len(rx), (size_t)i);
        ck_assert_int_eq(mpsc_send(tx, &i), CHAN_OK);
        ck_assert_uint_eq(mpsc_sender_len(tx), (size_t)i + 1);
    }
    mpsc_receiver_close(rx);
    ck_assert_uint_eq(mpsc_len(rx), 5);
    for (int i = 5; i > 0; i--) {
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
        ck_assert_uint_eq(mpsc_len(rx), (size_t)i - 1);
    }
    /* The close is not an element: len stays 0 and recv says closed. */
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);
    ck_assert_uint_eq(mpsc_len(rx), 0);
    drop_both();
}
END_TEST

START_TEST(b04_is_full_and_is_empty_flip_exactly_at_the_boundaries)
{
    make_bounded(3);
    int v = 1;
    ck_assert(mpsc_is_empty(rx));
    mpsc_send(tx, &v);
    ck_assert(!mpsc_is_empty(rx));
    ck_assert(!mpsc_is_full(rx));
    mpsc_send(tx, &v);
    ck_assert(!mpsc_is_full(rx));
    mpsc_send(tx, &v);
    ck_assert(mpsc_is_full(rx));
    ck_assert_uint_eq(mpsc_sender_capacity(tx), 0);
    mpsc_recv(rx, &v);
    ck_assert(!mpsc_is_full(rx));
    ck_assert_uint_eq(mpsc_sender_capacity(tx), 1);
    mpsc_recv(rx, &v);
    mpsc_recv(rx, &v);
    ck_assert(mpsc_is_empty(rx));
    drop_both();
}
END_TEST

/* ---- FIFO and delivery ----------------------------------------------------------------- */

START_TEST(b05_single_thread_send_n_then_recv_n_in_order)
{
    make_bounded(100);
    send_ints(0, 100);
    for (int i = 0; i < 100; i++) {
        int v = -1;
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
        ck_assert_int_eq(v, i);
    }
    drop_both();
}
END_TEST

enum { SPSC_COUNT = 100000 };

static void *spsc_producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < SPSC_COUNT; i++)
        mpsc_send(tx, &i);
    mpsc_sender_drop(tx);
    return NULL;
}

START_TEST(b06_spsc_across_threads_100k_in_order_then_closed)
{
    make_bounded(16);
    pthread_t p;
    pthread_create(&p, NULL, spsc_producer, NULL);
    int v, expected = 0, out_of_order = 0;
    while (mpsc_recv(rx, &v) == CHAN_OK) {
        if (v != expected)
            out_of_order++;
        expected++;
    }
    ck_assert_int_eq(out_of_order, 0);
    ck_assert_int_eq(expected, SPSC_COUNT);
    pthread_join(p, NULL);
    mpsc_receiver_drop(rx);
}
END_TEST

/* Each message says who sent it and its sequence number for that sender. */
struct tagged {
    int producer;
    int seq;
};

struct producer_arg {
    struct mpsc_sender *tx;
    int id;
    int count;
    int failed_sends;
};

/* Hot loops check with plain comparisons and report once: every
 * ck_assert also records a checkpoint (a write to Check's log), which
 * would cost more than the channel operation being tested. */
static void *tagged_producer(void *arg)
{
    struct producer_arg *a = arg;
    for (int i = 0; i < a->count; i++) {
        struct tagged t = { a->id, i };
        if (mpsc_send(a->tx, &t) != CHAN_OK)
            a->failed_sends++;
    }
    mpsc_sender_drop(a->tx);
    return NULL;
}

/* Runs `producers` threads of `count` messages each through a channel of
 * `cap` and checks every message arrives exactly once, in per-sender order.
 * Receives in batches of `batch` (1 = plain mpsc_recv). */
static void run_many_producers(int producers, int count, size_t cap, size_t batch)
{
    struct mpsc_sender *t;
    struct mpsc_receiver *r;
    ck_assert_int_eq(mpsc_channel(cap, sizeof(struct tagged), NULL, &t, &r), 0);
    pthread_t *threads = calloc((size_t)producers, sizeof *threads);
    struct producer_arg *args = calloc((size_t)producers, sizeof *args);
    int *next_seq = calloc((size_t)producers, sizeof *next_seq);
    for (int p = 0; p < producers; p++) {
        args[p] = (struct producer_arg){ mpsc_sender_clone(t), p, count, 0 };
        pthread_create(&threads[p], NULL, tagged_producer, &args[p]);
    }
    mpsc_sender_drop(t); /* only the producers keep it open now */

    struct tagged buf[64];
    long received = 0;
    for (;;) {
        size_t n;
        if (batch == 1)
            n = mpsc_recv(r, &buf[0]) == CHAN_OK ? 1 : 0;
        else
            n = mpsc_recv_many(r, buf, batch);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            int p = buf[i].producer;
            /* Per-sender order: exactly the next number, so nothing was
             * lost, duplicated or reordered. */
            if (p < 0 || p >= producers || buf[i].seq != next_seq[p]) {
                ck_abort_msg("message %ld: producer %d seq %d, expected seq %d",
                             received + (long)i, p, buf[i].seq,
                             p >= 0 && p < producers ? next_seq[p] : -1);
            }
            next_seq[p]++;
        }
        received += (long)n;
    }
    ck_assert_int_eq(received, (long)producers * count);
    for (int p = 0; p < producers; p++) {
        pthread_join(threads[p], NULL);
        ck_assert_int_eq(args[p].failed_sends, 0);
        ck_assert_int_eq(next_seq[p], count);
    }
    mpsc_receiver_drop(r);
    free(next_seq);
    free(args);
    free(threads);
}

START_TEST(b07_many_producers_every_message_once_in_per_producer_order)
{
    run_many_producers(4, 1000, 8, 1);
    run_many_producers(8, 5000, 3, 16);
}
END_TEST

START_TEST(b08_ring_wraps_around_for_odd_capacities_and_many_cycles)
{
    const size_t caps[] = { 1, 2, 3, 7, 33 };
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        make_bounded(caps[k]);
        int next_in = 0, next_out = 0;
        for (int cycle = 0; cycle < 200; cycle++) {
            /* Fill partly or fully, drain partly: the head walks round. */
            size_t fill = 1 + (size_t)cycle % caps[k];
            for (size_t i = 0; i < fill && mpsc_try_send(tx, &next_in) == CHAN_OK; i++)
                next_in++;
            int v;
            size_t drain = 1 + (size_t)(cycle * 7) % caps[k];
            for (size_t i = 0; i < drain && mpsc_try_recv(rx, &v) == CHAN_OK; i++) {
                ck_assert_int_eq(v, next_out);
                next_out++;
            }
        }
        int v;
        while (mpsc_try_recv(rx, &v) == CHAN_OK)
            ck_assert_int_eq(v, next_out++);
        ck_assert_int_eq(next_in, next_out);
        drop_both();
    }
}
END_TEST

START_TEST(b08_unbounded_ring_grows_across_a_wrapped_head_in_order)
{
    ck_assert_int_eq(mpsc_unbounded_channel(sizeof(int), NULL, &tx, &rx), 0);
    ck_assert_uint_eq(mpsc_capacity(rx), SIZE_MAX);
    int next_out = 0, v;
    send_ints(0, 40);
    for (int i = 0; i < 30; i++) { /* move the head to the middle */
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
        ck_assert_int_eq(v, next_out++);
    }
    send_ints(40, 5000); /* forces several doublings of a wrapped ring */
    ck_assert(!mpsc_is_full(rx));
    while (mpsc_try_recv(rx, &v) == CHAN_OK)
        ck_assert_int_eq(v, next_out++);
    ck_assert_int_eq(next_out, 5000);
    drop_both();
}
END_TEST

/* ---- Backpressure: the sending side -------------------------------------------- */

START_TEST(b09_try_send_on_full_returns_full_and_leaves_the_value)
{
    make_bounded(1);
    int v = 1;
    ck_assert_int_eq(mpsc_try_send(tx, &v), CHAN_OK);
    int second = 2;
    ck_assert_int_eq(mpsc_try_send(tx, &second), CHAN_FULL);
    ck_assert_int_eq(second, 2);
    ck_assert_uint_eq(mpsc_len(rx), 1);
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 1); /* the rejected value did not replace anything */
    drop_both();
}
END_TEST

START_TEST(b10_send_on_full_blocks_until_a_slot_frees)
{
    make_bounded(1);
    send_ints(10, 11);
    struct blocked_op op;
    start_op(&op, send_op, 11);
    assert_still_blocked(&op);
    int v;
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 10);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_OK);
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 11);
    drop_both();
}
END_TEST

/* Counts completed sends, so a test can wait for "two sends done" without
 * polling. */
static sem_t sends_done;

static void *send_op_then_post(void *arg)
{
    send_op(arg);
    sem_post(&sends_done);
    return NULL;
}

START_TEST(b10_senders_woken_together_never_overfill_the_channel)
{
    /* Four senders wait on a full channel of 2; one receive frees both
     * slots at once.  Exactly two sends can complete.  The other two must
     * see that the channel is full again and go on waiting, however they
     * were woken: a channel may wake them all and rely on each one checking
     * again (chapter 08's does), so a sender that waits with `if` instead
     * of `while` overfills the channel here, every time. */
    make_bounded(2);
    send_ints(0, 2);
    ck_assert_int_eq(sem_init(&sends_done, 0, 0), 0);
    struct blocked_op ops[4];
    for (int i = 0; i < 4; i++) {
        start_op(&ops[i], send_op_then_post, 100 + i);
        assert_still_blocked(&ops[i]);
    }
    int buf[2];
    ck_assert_uint_eq(mpsc_recv_many(rx, buf, 2), 2);
    for (int i = 0; i < 2; i++)
        while (sem_wait(&sends_done) != 0)
            ; /* EINTR */
    /* Two sends filled the two slots.  The other two have had 50 ms to
     * return: they must not have, since nothing made room for them. */
    test_sleep_ms(50);
    int completed = 0;
    for (int i = 0; i < 4; i++)
        completed += atomic_load(&ops[i].done);
    ck_assert_msg(completed == 2, "%d senders completed into 2 free slots", completed);
    ck_assert_uint_eq(mpsc_len(rx), 2);
    /* Receiving lets the other two in: every value arrives exactly once. */
    int seen[4] = { 0 };
    for (int i = 0; i < 4; i++) {
        int v = -1;
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
        ck_assert_int_ge(v, 100);
        ck_assert_int_lt(v, 104);
        seen[v - 100]++;
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(seen[i], 1);
        join_op(&ops[i]);
    }
    sem_destroy(&sends_done);
    drop_both();
}
END_TEST

START_TEST(b11_blocked_senders_are_admitted_in_the_order_they_blocked)
{
    make_bounded(1);
    send_ints(0, 1);
    struct blocked_op ops[4];
    for (int i = 0; i < 4; i++) {
        start_op(&ops[i], send_op, 100 + i);
        wait_until_blocked(&ops[i]); /* queued before the next one starts */
    }
    for (int i = 0; i < 5; i++) {
        int v;
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
        ck_assert_int_eq(v, i == 0 ? 0 : 100 + i - 1);
    }
    for (int i = 0; i < 4; i++)
        join_op(&ops[i]);
    drop_both();
}
END_TEST

START_TEST(b12_send_timeout_on_full_times_out_and_keeps_the_value)
{
    make_bounded(1);
    send_ints(0, 1);
    int v = 42;
    int64_t start = test_now_ms();
    ck_assert_int_eq(mpsc_send_timeout(tx, &v, 100), CHAN_TIMEOUT);
    int64_t took = test_now_ms() - start;
    ck_assert_int_ge(took, 99);
    ck_assert_int_lt(took, 2000);
    ck_assert_int_eq(v, 42);
    ck_assert_uint_eq(mpsc_len(rx), 1);
    /* The timed-out sender left the queue: the next one is not stuck
     * behind a ghost. */
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(mpsc_try_send(tx, &v), CHAN_OK);
    drop_both();
}
END_TEST

static void *recv_after_100ms(void *arg)
{
    (void)arg;
    test_sleep_ms(100);
    int v;
    mpsc_recv(rx, &v);
    return NULL;
}

START_TEST(b12_send_timeout_succeeds_when_a_slot_frees_in_time)
{
    make_bounded(1);
    send_ints(0, 1);
    pthread_t t;
    pthread_create(&t, NULL, recv_after_100ms, NULL);
    int v = 7;
    ck_assert_int_eq(mpsc_send_timeout(tx, &v, 5000), CHAN_OK);
    pthread_join(t, NULL);
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 7);
    drop_both();
}
END_TEST

START_TEST(b13_reserve_takes_capacity_and_dropping_the_permit_gives_it_back)
{
    make_bounded(2);
    struct mpsc_permit p1, p2, p3;
    ck_assert_int_eq(mpsc_reserve(tx, &p1), CHAN_OK);
    ck_assert_uint_eq(mpsc_sender_capacity(tx), 1);
    ck_assert_int_eq(mpsc_reserve(tx, &p2), CHAN_OK);
    ck_assert_uint_eq(mpsc_sender_capacity(tx), 0);
    ck_assert_int_eq(mpsc_try_reserve(tx, &p3), CHAN_FULL);
    int v = 5;
    ck_assert_int_eq(mpsc_try_send(tx, &v), CHAN_FULL);

    /* A sender blocked behind the permits is woken by a permit's drop. */
    struct blocked_op op;
    start_op(&op, send_op, 9);
    assert_still_blocked(&op);
    mpsc_permit_drop(&p1);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_OK);

    ck_assert_int_eq(mpsc_permit_send(&p2, &v), CHAN_OK);
    ck_assert_int_eq(mpsc_permit_send(&p2, &v), CHAN_CLOSED); /* used up */
    mpsc_permit_drop(&p2); /* harmless after use */
    int got;
    ck_assert_int_eq(mpsc_recv(rx, &got), CHAN_OK);
    ck_assert_int_eq(got, 9);
    ck_assert_int_eq(mpsc_recv(rx, &got), CHAN_OK);
    ck_assert_int_eq(got, 5);
    ck_assert_uint_eq(mpsc_sender_capacity(tx), 2);
    drop_both();
}
END_TEST

START_TEST(b14_reserve_many_above_capacity_fails_at_once)
{
    make_bounded(4);
    struct mpsc_permit p;
    int64_t start = test_now_ms();
    ck_assert_int_eq(mpsc_reserve_many(tx, 5, &p), CHAN_FULL);
    ck_assert_int_lt(test_now_ms() - start, 1000);
    ck_assert_ptr_null(p.chan);
    ck_assert_int_eq(mpsc_reserve_many(tx, 4, &p), CHAN_OK);
    ck_assert_uint_eq(p.count, 4);
    ck_assert_uint_eq(mpsc_sender_capacity(tx), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(mpsc_permit_send(&p, &i), CHAN_OK);
    ck_assert_ptr_null(p.chan);
    ck_assert_uint_eq(mpsc_len(rx), 4);
    drop_both();
}
END_TEST

START_TEST(b14_reserve_many_zero_succeeds_even_when_full)
{
    make_bounded(1);
    send_ints(0, 1);
    struct mpsc_permit p;
    ck_assert_int_eq(mpsc_reserve_many(tx, 0, &p), CHAN_OK);
    ck_assert_int_eq(mpsc_try_reserve_many(tx, 0, &p), CHAN_OK);
    ck_assert_uint_eq(p.count, 0);
    mpsc_permit_drop(&p);
    drop_both();
}
END_TEST

#ifdef __linux__
/* The address space this process uses now, in bytes. */
static size_t address_space_in_use(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

enum { HEADROOM_MIB = 64 };
struct big_elem {
    int seq;
    unsigned char bytes[4096 - sizeof(int)];
};

START_TEST(out_of_memory_is_no_memory_not_closed_and_the_channel_keeps_working)
{
    /* An unbounded channel grows its queue as it fills.  With the address
     * space limited to what the process uses now plus 64 MiB, it soon
     * cannot: the send that needs more room must say CHAN_NO_MEMORY - not
     * CHAN_CLOSED, the receiver is still there - keep the element out, and
     * leave the channel working. */
    ck_assert_int_eq(mpsc_unbounded_channel(sizeof(struct big_elem), NULL, &tx, &rx), 0);
    static struct big_elem elem;
    struct rlimit before, limited;
    ck_assert_int_eq(getrlimit(RLIMIT_AS, &before), 0);
    limited = before;
    rlim_t cap = (rlim_t)address_space_in_use() + ((rlim_t)HEADROOM_MIB << 20);
    if (limited.rlim_cur == RLIM_INFINITY || cap < limited.rlim_cur)
        limited.rlim_cur = cap;
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &limited), 0);
    /* No ck_assert until the limit is lifted: Check needs memory too. */
    const int most = 4 * (HEADROOM_MIB << 20) / (int)sizeof elem;
    int sent = 0;
    enum chan_status st;
    for (;;) {
        elem.seq = sent;
        st = mpsc_send(tx, &elem);
        if (st != CHAN_OK || ++sent == most)
            break;
    }
    setrlimit(RLIMIT_AS, &before);
    ck_assert_msg(st == CHAN_NO_MEMORY,
                  "mpsc_send into an unbounded channel that cannot grow returned %s after %d "
                  "sends, expected %s", chan_status_name(st), sent,
                  chan_status_name(CHAN_NO_MEMORY));
    ck_assert_uint_eq(mpsc_len(rx), (size_t)sent); /* the refused one is not queued */
    ck_assert(!mpsc_is_closed(rx));
    ck_assert(!mpsc_sender_is_closed(tx));
    /* With memory again, the same send succeeds, and all come out in order. */
    ck_assert_int_eq(mpsc_send(tx, &elem), CHAN_OK);
    for (int i = 0; i <= sent; i++) {
        ck_assert_int_eq(mpsc_try_recv(rx, &elem), CHAN_OK);
        ck_assert_int_eq(elem.seq, i);
    }
    drop_both();
}
END_TEST
#endif

/* ---- The receiving side --------------------------------------------------------------- */

START_TEST(b15_try_recv_on_an_empty_open_channel_is_empty)
{
    make_bounded(2);
    int v;
    ck_assert_int_eq(mpsc_try_recv(rx, &v), CHAN_EMPTY);
    ck_assert(!mpsc_is_closed(rx));
    drop_both();
}
END_TEST

/* The two threads take turns through two semaphores: "send i completed"
 * and "receiver checked i".  A semaphore (not a busy-wait) so the test
 * costs nothing under valgrind, which runs one thread at a time. */
static sem_t handoff_sent, handoff_checked;

static void *send_and_announce(void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        mpsc_send(tx, &i);
        sem_post(&handoff_sent);
        while (sem_wait(&handoff_checked) != 0)
            ; /* EINTR */
    }
    return NULL;
}

START_TEST(b15_try_recv_is_never_empty_after_a_completed_send)
{
    make_bounded(4);
    int n = 2000 / (int)test_stress_divisor();
    ck_assert_int_eq(sem_init(&handoff_sent, 0, 0), 0);
    ck_assert_int_eq(sem_init(&handoff_checked, 0, 0), 0);
    pthread_t t;
    pthread_create(&t, NULL, send_and_announce, &n);
    int empty = 0, wrong = 0;
    for (int i = 0; i < n; i++) {
        while (sem_wait(&handoff_sent) != 0)
            ;
        int v;
        /* The send has returned: its element must be visible now. */
        if (mpsc_try_recv(rx, &v) != CHAN_OK)
            empty++;
        else if (v != i)
            wrong++;
        sem_post(&handoff_checked);
    }
    pthread_join(t, NULL);
    ck_assert_int_eq(empty, 0);
    ck_assert_int_eq(wrong, 0);
    sem_destroy(&handoff_sent);
    sem_destroy(&handoff_checked);
    drop_both();
}
END_TEST

START_TEST(b16_recv_on_empty_blocks_until_a_send)
{
    make_bounded(2);
    struct blocked_op op;
    start_op(&op, recv_op, 0);
    assert_still_blocked(&op);
    send_ints(77, 78);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_OK);
    ck_assert_int_eq(op.value, 77);
    drop_both();
}
END_TEST

START_TEST(b17_recv_timeout_on_empty_times_out_after_the_timeout)
{
    make_bounded(2);
    int v;
    int64_t start = test_now_ms();
    ck_assert_int_eq(mpsc_recv_timeout(rx, &v, 100), CHAN_TIMEOUT);
    int64_t took = test_now_ms() - start;
    ck_assert_int_ge(took, 99);
    ck_assert_int_lt(took, 2000);
    drop_both();
}
END_TEST

START_TEST(b17_recv_timeout_zero_still_returns_a_queued_message)
{
    make_bounded(2);
    send_ints(3, 4);
    int v = 0;
    ck_assert_int_eq(mpsc_recv_timeout(rx, &v, 0), CHAN_OK);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(mpsc_recv_timeout(rx, &v, 0), CHAN_TIMEOUT);
    drop_both();
}
END_TEST

START_TEST(b18_recv_many_takes_at_most_limit_in_order)
{
    make_bounded(10);
    send_ints(0, 7);
    int buf[10];
    ck_assert_uint_eq(mpsc_recv_many(rx, buf, 3), 3);
    ck_assert_int_eq(buf[0], 0);
    ck_assert_int_eq(buf[2], 2);
    ck_assert_uint_eq(mpsc_recv_many(rx, buf, 10), 4);
    ck_assert_int_eq(buf[0], 3);
    ck_assert_int_eq(buf[3], 6);
    drop_both();
}
END_TEST

START_TEST(b18_recv_many_with_limit_zero_returns_zero_without_waiting)
{
    make_bounded(2);
    int buf[1];
    ck_assert_uint_eq(mpsc_recv_many(rx, buf, 0), 0);
    enum chan_status st = CHAN_CLOSED;
    ck_assert_uint_eq(mpsc_recv_many_timeout(rx, buf, 0, 1000, &st), 0);
    ck_assert_int_eq(st, CHAN_OK);
    drop_both();
}
END_TEST

START_TEST(b18_recv_many_returns_zero_only_when_closed_and_drained)
{
    make_bounded(4);
    send_ints(0, 3);
    mpsc_sender_drop(tx);
    tx = NULL;
    int buf[8];
    ck_assert_uint_eq(mpsc_recv_many(rx, buf, 2), 2);
    ck_assert_uint_eq(mpsc_recv_many(rx, buf, 8), 1);
    ck_assert_int_eq(buf[0], 2);
    ck_assert_uint_eq(mpsc_recv_many(rx, buf, 8), 0);
    enum chan_status st;
    ck_assert_uint_eq(mpsc_recv_many_timeout(rx, buf, 8, 10, &st), 0);
    ck_assert_int_eq(st, CHAN_CLOSED);
    drop_both();
}
END_TEST

START_TEST(b18_recv_many_timeout_times_out_on_an_open_empty_channel)
{
    make_bounded(4);
    int buf[4];
    enum chan_status st;
    ck_assert_uint_eq(mpsc_recv_many_timeout(rx, buf, 4, 50, &st), 0);
    ck_assert_int_eq(st, CHAN_TIMEOUT);
    drop_both();
}
END_TEST

/* ---- Close and disconnect --------------------------------------------------------------- */

START_TEST(b19_last_sender_gone_receiver_drains_everything_then_closed)
{
    make_bounded(8);
    //> snippet drain_then_closed
    struct mpsc_sender *second = mpsc_sender_clone(tx);
    send_ints(0, 3);
    ck_assert_int_eq(mpsc_send(second, &(int){ 3 }), CHAN_OK);
    mpsc_sender_drop(tx);
    mpsc_sender_drop(second);
    tx = NULL;
    ck_assert(mpsc_is_closed(rx));
    for (int i = 0; i < 4; i++) {
        int v;
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
        ck_assert_int_eq(v, i);
    }
    int v;
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);
    //< snippet drain_then_closed
    drop_both();
}
END_TEST

START_TEST(b20_closed_is_sticky_and_immediate_on_every_later_call)
{
    make_bounded(2);
    mpsc_sender_drop(tx);
    tx = NULL;
    int v;
    int64_t start = test_now_ms();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);
        ck_assert_int_eq(mpsc_try_recv(rx, &v), CHAN_CLOSED);
        ck_assert_int_eq(mpsc_recv_timeout(rx, &v, 1000), CHAN_CLOSED);
    }
    ck_assert_int_lt(test_now_ms() - start, 500);
    drop_both();
}
END_TEST

START_TEST(b21_receiver_blocked_on_empty_wakes_closed_when_last_sender_goes)
{
    make_bounded(2);
    struct blocked_op op;
    start_op(&op, recv_op, 0);
    assert_still_blocked(&op);
    mpsc_sender_drop(tx);
    tx = NULL;
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_CLOSED);
    drop_both();
}
END_TEST

START_TEST(b22_dropping_one_of_several_senders_does_not_close)
{
    make_bounded(2);
    struct mpsc_sender *second = mpsc_sender_clone(tx);
    mpsc_sender_drop(second);
    ck_assert(!mpsc_is_closed(rx));
    int v;
    ck_assert_int_eq(mpsc_try_recv(rx, &v), CHAN_EMPTY);
    ck_assert_int_eq(mpsc_send(tx, &(int){ 1 }), CHAN_OK);
    drop_both();
}
END_TEST

START_TEST(b23_receiver_close_fails_later_sends_and_keeps_queued_values)
{
    make_bounded(4);
    send_ints(0, 2);
    mpsc_receiver_close(rx);
    ck_assert(mpsc_sender_is_closed(tx));
    int v = 99;
    ck_assert_int_eq(mpsc_send(tx, &v), CHAN_CLOSED);
    ck_assert_int_eq(mpsc_try_send(tx, &v), CHAN_CLOSED);
    ck_assert_int_eq(mpsc_send_timeout(tx, &v, 10), CHAN_CLOSED);
    ck_assert_int_eq(v, 99);
    struct mpsc_permit p;
    ck_assert_int_eq(mpsc_reserve(tx, &p), CHAN_CLOSED);
    recv_ints(0, 2);
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);
    drop_both();
}
END_TEST

START_TEST(b24_close_with_outstanding_permits_waits_for_them)
{
    make_bounded(4);
    struct mpsc_permit used, dropped;
    ck_assert_int_eq(mpsc_reserve(tx, &used), CHAN_OK);
    ck_assert_int_eq(mpsc_reserve(tx, &dropped), CHAN_OK);
    mpsc_receiver_close(rx);
    int v;
    ck_assert_int_eq(mpsc_try_recv(rx, &v), CHAN_EMPTY); /* not closed yet */

    /* A permit taken before the close still delivers. */
    ck_assert_int_eq(mpsc_permit_send(&used, &(int){ 5 }), CHAN_OK);
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 5);

    /* The receiver waits for the last permit; dropping it wakes the
     * receiver with CHAN_CLOSED. */
    struct blocked_op op;
    start_op(&op, recv_op, 0);
    assert_still_blocked(&op);
    mpsc_permit_drop(&dropped);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_CLOSED);
    drop_both();
}
END_TEST

START_TEST(b24_permit_outliving_its_sender_keeps_the_receiver_waiting)
{
    make_bounded(2);
    struct mpsc_permit p;
    ck_assert_int_eq(mpsc_reserve(tx, &p), CHAN_OK);
    mpsc_sender_drop(tx); /* the last sender; the permit is still out */
    tx = NULL;
    int v;
    ck_assert_int_eq(mpsc_try_recv(rx, &v), CHAN_EMPTY);
    ck_assert_int_eq(mpsc_permit_send(&p, &(int){ 8 }), CHAN_OK);
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 8);
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);
    drop_both();
}
END_TEST

START_TEST(b25_dropped_receiver_fails_sends_and_destroys_queued_values)
{
    atomic_store(&owned_made, 0);
    atomic_store(&owned_destroyed, 0);
    ck_assert_int_eq(mpsc_channel(4, sizeof(struct owned), destroy_owned, &tx, &rx), 0);
    struct mpsc_permit p;
    ck_assert_int_eq(mpsc_reserve(tx, &p), CHAN_OK);
    for (int i = 0; i < 3; i++) {
        struct owned o = make_owned(i);
        ck_assert_int_eq(mpsc_send(tx, &o), CHAN_OK);
    }
    mpsc_receiver_drop(rx);
    rx = NULL;
    ck_assert_int_eq(atomic_load(&owned_destroyed), 3);

    struct owned late = make_owned(9);
    ck_assert_int_eq(mpsc_send(tx, &late), CHAN_CLOSED);
    ck_assert_int_eq(mpsc_try_send(tx, &late), CHAN_CLOSED);
    ck_assert_int_eq(mpsc_permit_send(&p, &late), CHAN_CLOSED);
    struct mpsc_permit p2;
    ck_assert_int_eq(mpsc_reserve(tx, &p2), CHAN_CLOSED);
    ck_assert(mpsc_sender_is_closed(tx));
    /* Handed back untouched: still ours to free. */
    ck_assert_int_eq(*late.payload, 9);
    destroy_owned(&late);
    mpsc_sender_drop(tx);
    tx = NULL;
    ck_assert_int_eq(atomic_load(&owned_made), atomic_load(&owned_destroyed));
}
END_TEST

static void *drop_receiver_after_50ms(void *arg)
{
    (void)arg;
    test_sleep_ms(50);
    mpsc_receiver_drop(rx);
    return NULL;
}

START_TEST(b26_sender_blocked_on_full_wakes_closed_when_receiver_closes)
{
    make_bounded(1);
    send_ints(0, 1);
    struct blocked_op op;
    start_op(&op, send_op, 1);
    assert_still_blocked(&op);
    mpsc_receiver_close(rx);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_CLOSED);
    drop_both();
}
END_TEST

START_TEST(b26_sender_blocked_on_full_wakes_closed_when_receiver_is_dropped)
{
    make_bounded(1);
    send_ints(0, 1);
    pthread_t t;
    pthread_create(&t, NULL, drop_receiver_after_50ms, NULL);
    ck_assert_int_eq(mpsc_send(tx, &(int){ 1 }), CHAN_CLOSED);
    pthread_join(t, NULL);
    rx = NULL;
    drop_both();
}
END_TEST

/* block_every_kind_of_waiter blocks, on a full channel of 2: */
enum {
    BLOCKED_SENDERS = 3,                  /* ops 0-2: mpsc_send */
    BLOCKED_RESERVE = BLOCKED_SENDERS,    /* op 3: mpsc_reserve */
    BLOCKED_RESERVE_MANY,                 /* op 4: mpsc_reserve_many(2) */
    BLOCKED_WAIT_CLOSED,                  /* ops 5-6: wait_closed */
    BLOCKED_WAITERS = BLOCKED_WAIT_CLOSED + 2,
};

static void block_every_kind_of_waiter(struct blocked_op ops[BLOCKED_WAITERS])
{
    make_bounded(2);
    send_ints(0, 2);
    for (int i = 0; i < BLOCKED_SENDERS; i++)
        start_op(&ops[i], send_op, 100 + i);
    start_op(&ops[BLOCKED_RESERVE], reserve_op, 1);
    start_op(&ops[BLOCKED_RESERVE_MANY], reserve_op, 2);
    for (int i = BLOCKED_WAIT_CLOSED; i < BLOCKED_WAITERS; i++)
        start_op(&ops[i], wait_closed_op, 0);
    for (int i = 0; i < BLOCKED_WAITERS; i++)
        wait_until_blocked(&ops[i]);
}

static const char *waiter_name(int i)
{
    if (i < BLOCKED_SENDERS)
        return "a blocked mpsc_send";
    if (i == BLOCKED_RESERVE)
        return "a blocked mpsc_reserve";
    if (i == BLOCKED_RESERVE_MANY)
        return "a blocked mpsc_reserve_many";
    return "a blocked mpsc_sender_wait_closed_timeout";
}

/* Each waiter must wake with CHAN_CLOSED: a sender with its element handed
 * back, a reservation with no permit. */
static void expect_every_waiter_woken_closed(struct blocked_op ops[BLOCKED_WAITERS])
{
    for (int i = 0; i < BLOCKED_WAITERS; i++) {
        join_woken_op(&ops[i], waiter_name(i));
        ck_assert_msg(ops[i].status == CHAN_CLOSED, "%s returned %s after the close, expected %s",
                      waiter_name(i), chan_status_name(ops[i].status),
                      chan_status_name(CHAN_CLOSED));
        ck_assert_ptr_null(ops[i].permit.chan);
        if (i < BLOCKED_SENDERS)
            ck_assert_int_eq(ops[i].value, 100 + i);
    }
}

START_TEST(b26_receiver_close_wakes_every_blocked_sender_and_reservation_with_closed)
{
    /* Not just the first waiter: every one, whatever it waits for. */
    struct blocked_op ops[BLOCKED_WAITERS];
    block_every_kind_of_waiter(ops);
    mpsc_receiver_close(rx);
    expect_every_waiter_woken_closed(ops);
    int v;
    recv_ints(0, 2);
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);
    drop_both();
}
END_TEST

START_TEST(b26_receiver_drop_wakes_every_blocked_sender_and_reservation_with_closed)
{
    struct blocked_op ops[BLOCKED_WAITERS];
    block_every_kind_of_waiter(ops);
    mpsc_receiver_drop(rx);
    rx = NULL;
    expect_every_waiter_woken_closed(ops);
    drop_both();
}
END_TEST

/* Fills a channel of `capacity`, blocks one waiter on it (`fn` with
 * `value`), closes, and at once receives everything queued, which frees
 * every slot.  The waiter (`what`) was blocked when the channel closed, so
 * it must wake with CHAN_CLOSED all the same, and nothing may be delivered
 * after the close. */
static void block_close_then_free_the_slots(size_t capacity, void *(*fn)(void *), int value,
                                            const char *what)
{
    make_bounded(capacity);
    send_ints(0, (int)capacity);
    struct blocked_op op;
    start_op(&op, fn, value);
    wait_until_blocked(&op);
    mpsc_receiver_close(rx);
    recv_ints(0, (int)capacity);
    join_woken_op(&op, what);
    ck_assert_msg(op.status == CHAN_CLOSED,
                  "%s, blocked before the close, returned %s once the slots freed, expected %s",
                  what, chan_status_name(op.status), chan_status_name(CHAN_CLOSED));
    ck_assert_ptr_null(op.permit.chan);
    if (fn == send_op)
        ck_assert_int_eq(op.value, value); /* handed back */
    int v;
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);
    drop_both();
}

START_TEST(b26_a_slot_freed_after_the_close_does_not_admit_a_blocked_sender)
{
    block_close_then_free_the_slots(1, send_op, 7, "mpsc_send");
}
END_TEST

START_TEST(b26_slots_freed_after_the_close_grant_no_blocked_reservation)
{
    block_close_then_free_the_slots(1, reserve_op, 1, "mpsc_reserve");
    block_close_then_free_the_slots(3, reserve_op, 3, "mpsc_reserve_many(3)");
}
END_TEST

START_TEST(b34_a_slot_freed_just_before_the_close_is_used_or_refused_never_lost)
{
    /* The receive frees a slot for the blocked sender, and the close comes
     * right after: whether the sender is admitted first or sees the close
     * first may vary, but an element that was accepted is received, and one
     * that was refused is handed back. */
    for (int round = 0; round < 20; round++) {
        make_bounded(1);
        send_ints(0, 1);
        struct blocked_op op;
        start_op(&op, send_op, 1);
        wait_until_blocked(&op);
        int v;
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
        mpsc_receiver_close(rx);
        join_woken_op(&op, "the sender");
        enum chan_status next = mpsc_recv(rx, &v);
        if (op.status == CHAN_OK) {
            ck_assert_msg(next == CHAN_OK && v == 1,
                          "the send was accepted but the receiver got %s", chan_status_name(next));
            next = mpsc_recv(rx, &v);
        } else {
            ck_assert_int_eq(op.status, CHAN_CLOSED);
            ck_assert_int_eq(op.value, 1);
        }
        ck_assert_int_eq(next, CHAN_CLOSED);
        drop_both();
    }
}
END_TEST

START_TEST(b27_sender_sees_is_closed_and_wait_closed_fire_on_receiver_close)
{
    make_bounded(1);
    ck_assert(!mpsc_sender_is_closed(tx));
    ck_assert_int_eq(mpsc_sender_wait_closed_timeout(tx, 20), CHAN_TIMEOUT);
    pthread_t t;
    pthread_create(&t, NULL, drop_receiver_after_50ms, NULL);
    ck_assert_int_eq(mpsc_sender_wait_closed_timeout(tx, 5000), CHAN_CLOSED);
    ck_assert(mpsc_sender_is_closed(tx));
    pthread_join(t, NULL);
    rx = NULL;
    drop_both();
}
END_TEST

START_TEST(b28_close_twice_is_harmless)
{
    make_bounded(2);
    send_ints(0, 1);
    mpsc_receiver_close(rx);
    mpsc_receiver_close(rx);
    int v;
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);
    drop_both();
}
END_TEST

/* ---- Ownership and resources ---------------------------------------------------------- */

START_TEST(b30_every_value_is_destroyed_exactly_once)
{
    atomic_store(&owned_made, 0);
    atomic_store(&owned_destroyed, 0);
    ck_assert_int_eq(mpsc_channel(3, sizeof(struct owned), destroy_owned, &tx, &rx), 0);
    /* Three fates: received (we destroy it), rejected (handed back: we
     * destroy it), left queued (the channel destroys it). */
    for (int i = 0; i < 3; i++) {
        struct owned o = make_owned(i);
        ck_assert_int_eq(mpsc_send(tx, &o), CHAN_OK);
    }
    struct owned rejected = make_owned(3);
    ck_assert_int_eq(mpsc_try_send(tx, &rejected), CHAN_FULL);
    destroy_owned(&rejected);
    struct owned got;
    ck_assert_int_eq(mpsc_recv(rx, &got), CHAN_OK);
    ck_assert_int_eq(*got.payload, 0);
    destroy_owned(&got);
    drop_both(); /* two still queued */
    ck_assert_int_eq(atomic_load(&owned_made), 4);
    ck_assert_int_eq(atomic_load(&owned_destroyed), 4);
}
END_TEST

START_TEST(b31_destroy_with_queued_values_runs_the_destructor_for_each)
{
    atomic_store(&owned_made, 0);
    atomic_store(&owned_destroyed, 0);
    ck_assert_int_eq(mpsc_unbounded_channel(sizeof(struct owned), destroy_owned, &tx, &rx), 0);
    for (int i = 0; i < 100; i++) {
        struct owned o = make_owned(i);
        ck_assert_int_eq(mpsc_send(tx, &o), CHAN_OK);
    }
    /* Order of drops must not matter: sender first this time. */
    mpsc_sender_drop(tx);
    tx = NULL;
    ck_assert_int_eq(atomic_load(&owned_destroyed), 0);
    mpsc_receiver_drop(rx);
    rx = NULL;
    ck_assert_int_eq(atomic_load(&owned_destroyed), 100);
}
END_TEST

START_TEST(b32_create_and_destroy_loops_leave_nothing_behind)
{
    /* Run under ASan or valgrind, a leak or use-after-free here fails the
     * run; the loop alternates which end goes first and what is queued. */
    for (int i = 0; i < 2000 / (int)test_stress_divisor(); i++) {
        atomic_store(&owned_made, 0);
        atomic_store(&owned_destroyed, 0);
        ck_assert_int_eq(mpsc_channel(1 + (size_t)i % 5, sizeof(struct owned), destroy_owned, &tx, &rx), 0);
        struct mpsc_sender *extra = mpsc_sender_clone(tx);
        for (int k = 0; k < i % 4; k++) {
            struct owned o = make_owned(k);
            if (mpsc_try_send(k % 2 ? extra : tx, &o) != CHAN_OK)
                destroy_owned(&o);
        }
        if (i % 2) {
            mpsc_receiver_drop(rx);
            mpsc_sender_drop(extra);
            mpsc_sender_drop(tx);
        } else {
            mpsc_sender_drop(tx);
            mpsc_sender_drop(extra);
            mpsc_receiver_drop(rx);
        }
        ck_assert_int_eq(atomic_load(&owned_made), atomic_load(&owned_destroyed));
    }
    tx = NULL;
    rx = NULL;
}
END_TEST

/* ---- Concurrency and stress ------------------------------------------------------------- */

struct race_arg {
    struct mpsc_sender *tx;
    int id;
    int sent_ok;   /* how many sends returned CHAN_OK */
    int rejected;  /* how many returned CHAN_CLOSED */
};

static void *send_until_closed(void *arg)
{
    struct race_arg *a = arg;
    for (int i = 0;; i++) {
        struct tagged t = { a->id, i };
        enum chan_status st = mpsc_send(a->tx, &t);
        if (st == CHAN_CLOSED) {
            a->rejected++;
            break;
        }
        ck_assert_int_eq(st, CHAN_OK);
        a->sent_ok++;
    }
    mpsc_sender_drop(a->tx);
    return NULL;
}

START_TEST(b34_close_racing_with_sends_loses_nothing_and_delivers_nothing_twice)
{
    for (int round = 0; round < 20; round++) {
        struct mpsc_sender *t;
        struct mpsc_receiver *r;
        ck_assert_int_eq(mpsc_channel(4, sizeof(struct tagged), NULL, &t, &r), 0);
        enum { P = 4 };
        pthread_t threads[P];
        struct race_arg args[P];
        for (int p = 0; p < P; p++) {
            args[p] = (struct race_arg){ mpsc_sender_clone(t), p, 0, 0 };
            pthread_create(&threads[p], NULL, send_until_closed, &args[p]);
        }
        mpsc_sender_drop(t);
        int received[P] = { 0 };
        struct tagged m;
        for (int i = 0; i < 50 + round * 10; i++) {
            ck_assert_int_eq(mpsc_recv(r, &m), CHAN_OK);
            ck_assert_int_eq(m.seq, received[m.producer]++);
        }
        mpsc_receiver_close(r); /* races with the producers' sends */
        while (mpsc_recv(r, &m) == CHAN_OK)
            ck_assert_int_eq(m.seq, received[m.producer]++);
        for (int p = 0; p < P; p++) {
            pthread_join(threads[p], NULL);
            /* Every send that said OK was received, and only those. */
            ck_assert_int_eq(received[p], args[p].sent_ok);
            ck_assert_int_eq(args[p].rejected, 1);
        }
        mpsc_receiver_drop(r);
    }
}
END_TEST

static void *drop_sender(void *arg)
{
    mpsc_sender_drop(arg);
    return NULL;
}

START_TEST(b35_concurrent_drops_of_many_senders_close_exactly_once)
{
    for (int round = 0; round < 50; round++) {
        make_bounded(2);
        enum { N = 16 };
        struct mpsc_sender *clones[N];
        for (int i = 0; i < N; i++)
            clones[i] = mpsc_sender_clone(tx);
        mpsc_sender_drop(tx);
        tx = NULL;
        pthread_t threads[N];
        for (int i = 0; i < N; i++)
            pthread_create(&threads[i], NULL, drop_sender, clones[i]);
        int v;
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);
        for (int i = 0; i < N; i++)
            pthread_join(threads[i], NULL);
        ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_CLOSED);
        drop_both();
    }
}
END_TEST

enum { TIMEOUT_LOOP_COUNT = 300 };

static void *timed_sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < TIMEOUT_LOOP_COUNT; i++) {
        if (i % 50 == 0)
            test_sleep_ms(5);
        while (mpsc_send_timeout(tx, &i, 1) == CHAN_TIMEOUT)
            ;
    }
    mpsc_sender_drop(tx);
    return NULL;
}

START_TEST(b36_timeout_loops_with_sleeps_deliver_everything_in_order)
{
    make_bounded(2);
    pthread_t t;
    pthread_create(&t, NULL, timed_sender, NULL);
    int expected = 0, v;
    for (;;) {
        if (expected % 40 == 0)
            test_sleep_ms(5);
        enum chan_status st = mpsc_recv_timeout(rx, &v, 1);
        if (st == CHAN_TIMEOUT)
            continue;
        if (st == CHAN_CLOSED)
            break;
        ck_assert_int_eq(v, expected);
        expected++;
    }
    ck_assert_int_eq(expected, TIMEOUT_LOOP_COUNT);
    pthread_join(t, NULL);
    tx = NULL;
    drop_both();
}
END_TEST

enum { LINEARIZABLE_THREADS = 4 };

static void *send_then_try_recv(void *arg)
{
    (void)arg;
    for (int i = 0; i < 500; i++) {
        ck_assert_int_eq(mpsc_send(tx, &i), CHAN_OK);
        int v;
        /* Every thread sends before it takes, so whenever this try_recv
         * runs, completed sends outnumber completed receives: an element
         * must be there.  CHAN_EMPTY would mean a send that returned was
         * not yet visible. */
        ck_assert_int_eq(mpsc_try_recv(rx, &v), CHAN_OK);
    }
    return NULL;
}

START_TEST(b37_send_then_try_recv_from_many_threads_always_succeeds)
{
    /* crossbeam's test shares the receiving end between threads.  Ours is
     * meant for one consumer, but every receiver call runs under the
     * channel's mutex, so try_recv from several threads is safe and shows
     * the same property. */
    make_bounded(LINEARIZABLE_THREADS);
    pthread_t threads[LINEARIZABLE_THREADS];
    for (int i = 0; i < LINEARIZABLE_THREADS; i++)
        pthread_create(&threads[i], NULL, send_then_try_recv, NULL);
    for (int i = 0; i < LINEARIZABLE_THREADS; i++)
        pthread_join(threads[i], NULL);
    ck_assert(mpsc_is_empty(rx));
    drop_both();
}
END_TEST

struct published {
    int *data; /* written before the send, read after the receive */
    size_t n;
};

static void *publish(void *arg)
{
    (void)arg;
    for (int round = 0; round < 200; round++) {
        struct published p = { malloc(64 * sizeof(int)), 64 };
        for (size_t i = 0; i < p.n; i++)
            p.data[i] = round * 1000 + (int)i; /* plain, unsynchronised writes */
        ck_assert_int_eq(mpsc_send(tx, &p), CHAN_OK);
    }
    mpsc_sender_drop(tx);
    return NULL;
}

START_TEST(b38_data_written_before_send_is_visible_after_recv)
{
    ck_assert_int_eq(mpsc_channel(2, sizeof(struct published), NULL, &tx, &rx), 0);
    pthread_t t;
    pthread_create(&t, NULL, publish, NULL);
    struct published p;
    int round = 0;
    while (mpsc_recv(rx, &p) == CHAN_OK) {
        /* Under TSan, reading without the channel's happens-before edge
         * would be reported as a race. */
        for (size_t i = 0; i < p.n; i++)
            ck_assert_int_eq(p.data[i], round * 1000 + (int)i);
        free(p.data);
        round++;
    }
    ck_assert_int_eq(round, 200);
    pthread_join(t, NULL);
    tx = NULL;
    drop_both();
}
END_TEST

START_TEST(b39_every_timed_wait_lasts_its_whole_timeout_and_not_much_more)
{
    /* Timed waits must sleep on a CLOCK_MONOTONIC condition variable: on
     * the wall clock, the monotonic deadline is long past and each of these
     * would return at once. */
    make_bounded(1);
    send_ints(0, 1);
    int v = 5, buf[2];
    enum chan_status st;
    for (int i = 0; i < 3; i++) {
        int64_t start = test_now_us();
        ck_assert_int_eq(mpsc_send_timeout(tx, &v, 20), CHAN_TIMEOUT);
        test_assert_waited(start, 20, "mpsc_send_timeout on a full channel");
        ck_assert_int_eq(v, 5);
        start = test_now_us();
        ck_assert_int_eq(mpsc_sender_wait_closed_timeout(tx, 20), CHAN_TIMEOUT);
        test_assert_waited(start, 20, "mpsc_sender_wait_closed_timeout on an open channel");
    }
    ck_assert_int_eq(mpsc_recv(rx, &v), CHAN_OK);
    for (int i = 0; i < 3; i++) {
        int64_t start = test_now_us();
        ck_assert_int_eq(mpsc_recv_timeout(rx, &v, 20), CHAN_TIMEOUT);
        test_assert_waited(start, 20, "mpsc_recv_timeout on an empty channel");
        start = test_now_us();
        ck_assert_uint_eq(mpsc_recv_many_timeout(rx, buf, 2, 20, &st), 0);
        ck_assert_int_eq(st, CHAN_TIMEOUT);
        test_assert_waited(start, 20, "mpsc_recv_many_timeout on an empty channel");
    }
    drop_both();
}
END_TEST

/* ---- Queries while other threads change the channel ---------------------------------- */

/* Each query, called by its own test_querier thread; false for an answer
 * no state of a channel of QUERIED_CAPACITY allows.  mpsc_is_empty and
 * mpsc_is_full may say either; they are called so that ThreadSanitizer
 * sees what they read. */
enum { QUERIED_CAPACITY = 4 };

static bool query_len(void *state)
{
    (void)state;
    return mpsc_len(rx) <= QUERIED_CAPACITY;
}

static bool query_sender_len(void *state)
{
    (void)state;
    return mpsc_sender_len(tx) <= QUERIED_CAPACITY;
}

static bool query_sender_capacity(void *state)
{
    /* Free slots: capacity - queued - reserved, read together.  Queued and
     * reserved read at different moments can add up to more than the
     * capacity, and the difference wraps to a huge number. */
    (void)state;
    return mpsc_sender_capacity(tx) <= QUERIED_CAPACITY;
}

static bool query_sender_max_capacity(void *state)
{
    (void)state;
    return mpsc_sender_max_capacity(tx) == QUERIED_CAPACITY;
}

static bool query_capacity(void *state)
{
    (void)state;
    return mpsc_capacity(rx) == QUERIED_CAPACITY;
}

static bool query_is_empty(void *state)
{
    (void)state;
    (void)mpsc_is_empty(rx);
    return true;
}

static bool query_is_full(void *state)
{
    (void)state;
    (void)mpsc_is_full(rx);
    return true;
}

/* A channel that said "closed" never reopens.  *seen_closed: said so. */
static bool still_closed_once_closed(bool closed, bool *seen_closed)
{
    bool possible = closed || !*seen_closed;
    *seen_closed = *seen_closed || closed;
    return possible;
}

static bool query_is_closed(void *seen_closed)
{
    return still_closed_once_closed(mpsc_is_closed(rx), seen_closed);
}

static bool query_sender_is_closed(void *seen_closed)
{
    return still_closed_once_closed(mpsc_sender_is_closed(tx), seen_closed);
}

struct mixed_sender {
    struct mpsc_sender *tx;
    int count;
    int refused;
};

/* Sends `count` elements three ways in turn: mpsc_send, mpsc_try_send
 * (falling back to mpsc_send when full) and a permit, so that the queued,
 * reserved and free counts all move. */
static void *send_three_ways(void *arg)
{
    struct mixed_sender *m = arg;
    for (int i = 0; i < m->count; i++) {
        enum chan_status st;
        if (i % 3 == 0) {
            st = mpsc_send(m->tx, &i);
        } else if (i % 3 == 1) {
            st = mpsc_try_send(m->tx, &i);
            if (st == CHAN_FULL)
                st = mpsc_send(m->tx, &i);
        } else {
            struct mpsc_permit p;
            st = mpsc_reserve(m->tx, &p);
            if (st == CHAN_OK)
                st = mpsc_permit_send(&p, &i);
        }
        m->refused += st != CHAN_OK;
    }
    mpsc_sender_drop(m->tx);
    return NULL;
}

START_TEST(b03_every_query_answers_sanely_while_other_threads_send_receive_and_close)
{
    make_bounded(QUERIED_CAPACITY);
    bool seen_closed[2] = { false, false };
    struct test_querier q[] = {
        { .name = "mpsc_len" }, { .name = "mpsc_sender_len" },
        { .name = "mpsc_sender_capacity" }, { .name = "mpsc_sender_max_capacity" },
        { .name = "mpsc_capacity" }, { .name = "mpsc_is_empty" }, { .name = "mpsc_is_full" },
        { .name = "mpsc_is_closed" }, { .name = "mpsc_sender_is_closed" },
    };
    bool (*const queries[])(void *) = {
        query_len, query_sender_len, query_sender_capacity, query_sender_max_capacity,
        query_capacity, query_is_empty, query_is_full, query_is_closed, query_sender_is_closed,
    };
    enum { QUERIES = sizeof q / sizeof q[0], SENDERS = 2 };
    for (size_t i = 0; i < QUERIES; i++)
        test_querier_start(&q[i], q[i].name, queries[i],
                           i >= QUERIES - 2 ? &seen_closed[i - (QUERIES - 2)] : NULL);

    int per_sender = 3000 / (int)test_stress_divisor();
    pthread_t threads[SENDERS];
    struct mixed_sender senders[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        senders[i] = (struct mixed_sender){ mpsc_sender_clone(tx), per_sender, 0 };
        ck_assert_int_eq(pthread_create(&threads[i], NULL, send_three_ways, &senders[i]), 0);
    }
    int received = 0, buf[3];
    while (received < SENDERS * per_sender) {
        if (received % 2 == 0) {
            ck_assert_int_eq(mpsc_recv(rx, buf), CHAN_OK);
            received++;
        } else {
            received += (int)mpsc_recv_many(rx, buf, 3);
        }
    }
    for (int i = 0; i < SENDERS; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(senders[i].refused, 0);
    }

    /* The close, while they ask: each must then say "closed". */
    mpsc_receiver_close(rx);
    for (size_t i = 0; i < QUERIES; i++)
        test_querier_wait_for_calls(&q[i], 2);
    for (size_t i = 0; i < QUERIES; i++)
        test_querier_stop(&q[i]);
    ck_assert_msg(seen_closed[0], "mpsc_is_closed never said closed after the close");
    ck_assert_msg(seen_closed[1], "mpsc_sender_is_closed never said closed after the close");
    drop_both();
}
END_TEST

START_TEST(stress_16_producers_1m_messages_through_capacity_16)
{
    /* None lost, none duplicated, per-producer order kept, with the
     * receiver taking batches the way a pipelining manager does. */
    int per_producer = 1000000 / 16 / (int)test_stress_divisor();
    run_many_producers(16, per_producer, 16, 32);
}
END_TEST

START_TEST(stress_16_producers_one_at_a_time_receives_capacity_1)
{
    int per_producer = 100000 / 16 / (int)test_stress_divisor();
    run_many_producers(16, per_producer, 1, 1);
}
END_TEST

/* Everything a channel behind mpsc.h must do, plus, when `fifo_admission`,
 * the promise that blocked senders are admitted in the order they blocked,
 * which takes a queue of waiters (common/mpsc.c has one; chapter 08's
 * channel, built from two condition variables, does not: a condition
 * variable wakes its waiters in no promised order). */
static Suite *make_mpsc_suite(bool fifo_admission)
{
    Suite *s = suite_create("mpsc");

    TCase *tc = tcase_create("construction");
    tcase_add_test(tc, b01_new_channel_reports_capacity_and_is_empty_and_open);
    tcase_add_test(tc, b02_capacity_zero_is_refused_with_einval);
    tcase_add_test(tc, b02_oversized_capacity_and_zero_elem_size_are_refused);
    tcase_add_test(tc, b03_len_is_exact_after_each_send_and_recv_and_unchanged_by_close);
    tcase_add_test(tc, b04_is_full_and_is_empty_flip_exactly_at_the_boundaries);
    suite_add_tcase(s, tc);

    tc = tcase_create("delivery");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, b05_single_thread_send_n_then_recv_n_in_order);
    tcase_add_test(tc, b06_spsc_across_threads_100k_in_order_then_closed);
    tcase_add_test(tc, b07_many_producers_every_message_once_in_per_producer_order);
    tcase_add_test(tc, b08_ring_wraps_around_for_odd_capacities_and_many_cycles);
    tcase_add_test(tc, b08_unbounded_ring_grows_across_a_wrapped_head_in_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("send");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b09_try_send_on_full_returns_full_and_leaves_the_value);
    tcase_add_test(tc, b10_send_on_full_blocks_until_a_slot_frees);
    tcase_add_test(tc, b10_senders_woken_together_never_overfill_the_channel);
    if (fifo_admission)
        tcase_add_test(tc, b11_blocked_senders_are_admitted_in_the_order_they_blocked);
    tcase_add_test(tc, b12_send_timeout_on_full_times_out_and_keeps_the_value);
    tcase_add_test(tc, b12_send_timeout_succeeds_when_a_slot_frees_in_time);
    tcase_add_test(tc, b13_reserve_takes_capacity_and_dropping_the_permit_gives_it_back);
    tcase_add_test(tc, b14_reserve_many_above_capacity_fails_at_once);
    tcase_add_test(tc, b14_reserve_many_zero_succeeds_even_when_full);
#ifdef __linux__
    tcase_add_test(tc, out_of_memory_is_no_memory_not_closed_and_the_channel_keeps_working);
#endif
    suite_add_tcase(s, tc);

    tc = tcase_create("recv");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b15_try_recv_on_an_empty_open_channel_is_empty);
    tcase_add_test(tc, b15_try_recv_is_never_empty_after_a_completed_send);
    tcase_add_test(tc, b16_recv_on_empty_blocks_until_a_send);
    tcase_add_test(tc, b17_recv_timeout_on_empty_times_out_after_the_timeout);
    tcase_add_test(tc, b17_recv_timeout_zero_still_returns_a_queued_message);
    tcase_add_test(tc, b18_recv_many_takes_at_most_limit_in_order);
    tcase_add_test(tc, b18_recv_many_with_limit_zero_returns_zero_without_waiting);
    tcase_add_test(tc, b18_recv_many_returns_zero_only_when_closed_and_drained);
    tcase_add_test(tc, b18_recv_many_timeout_times_out_on_an_open_empty_channel);
    suite_add_tcase(s, tc);

    tc = tcase_create("close");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b19_last_sender_gone_receiver_drains_everything_then_closed);
    tcase_add_test(tc, b20_closed_is_sticky_and_immediate_on_every_later_call);
    tcase_add_test(tc, b21_receiver_blocked_on_empty_wakes_closed_when_last_sender_goes);
    tcase_add_test(tc, b22_dropping_one_of_several_senders_does_not_close);
    tcase_add_test(tc, b23_receiver_close_fails_later_sends_and_keeps_queued_values);
    tcase_add_test(tc, b24_close_with_outstanding_permits_waits_for_them);
    tcase_add_test(tc, b24_permit_outliving_its_sender_keeps_the_receiver_waiting);
    tcase_add_test(tc, b25_dropped_receiver_fails_sends_and_destroys_queued_values);
    tcase_add_test(tc, b26_sender_blocked_on_full_wakes_closed_when_receiver_closes);
    tcase_add_test(tc, b26_sender_blocked_on_full_wakes_closed_when_receiver_is_dropped);
    tcase_add_test(tc, b26_receiver_close_wakes_every_blocked_sender_and_reservation_with_closed);
    tcase_add_test(tc, b26_receiver_drop_wakes_every_blocked_sender_and_reservation_with_closed);
    tcase_add_test(tc, b26_a_slot_freed_after_the_close_does_not_admit_a_blocked_sender);
    tcase_add_test(tc, b26_slots_freed_after_the_close_grant_no_blocked_reservation);
    tcase_add_test(tc, b34_a_slot_freed_just_before_the_close_is_used_or_refused_never_lost);
    tcase_add_test(tc, b27_sender_sees_is_closed_and_wait_closed_fire_on_receiver_close);
    tcase_add_test(tc, b28_close_twice_is_harmless);
    suite_add_tcase(s, tc);

    tc = tcase_create("ownership");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, b30_every_value_is_destroyed_exactly_once);
    tcase_add_test(tc, b31_destroy_with_queued_values_runs_the_destructor_for_each);
    tcase_add_test(tc, b32_create_and_destroy_loops_leave_nothing_behind);
    suite_add_tcase(s, tc);

    tc = tcase_create("stress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, b34_close_racing_with_sends_loses_nothing_and_delivers_nothing_twice);
    tcase_add_test(tc, b35_concurrent_drops_of_many_senders_close_exactly_once);
    tcase_add_test(tc, b36_timeout_loops_with_sleeps_deliver_everything_in_order);
    tcase_add_test(tc, b37_send_then_try_recv_from_many_threads_always_succeeds);
    tcase_add_test(tc, b38_data_written_before_send_is_visible_after_recv);
    tcase_add_test(tc, b39_every_timed_wait_lasts_its_whole_timeout_and_not_much_more);
    tcase_add_test(tc, b03_every_query_answers_sanely_while_other_threads_send_receive_and_close);
    tcase_add_test(tc, stress_16_producers_1m_messages_through_capacity_16);
    tcase_add_test(tc, stress_16_producers_one_at_a_time_receives_capacity_1);
    suite_add_tcase(s, tc);
    return s;
}

Suite *mpsc_suite(void)
{
    return make_mpsc_suite(true);
}

Suite *mpsc_contract_suite(void)
{
    return make_mpsc_suite(false);
}
