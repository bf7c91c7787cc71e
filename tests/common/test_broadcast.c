/*
 * test_broadcast.c - the broadcast channel against the behaviour list
 * (docs/channels.md says where its items come from).
 *
 * Each test is named after the behaviour it checks: `bNN_` is the item's
 * number in that list.  Items 41-43 are broadcast's own (every receiver
 * sees every value, lag, draining after the senders go); the general items
 * that make sense for it are checked too.  Items about a full channel
 * (backpressure, permits, try_send) do not apply: a broadcast send never
 * waits, it overwrites.
 *
 * Tests that involve a blocked thread give it 50 ms to block and then check
 * that it has NOT returned - true however the threads are scheduled,
 * because nothing it waits for has happened yet - so no test here depends
 * on timing to pass.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broadcast.h"
#include "test_support.h"

/* ---- Helpers --------------------------------------------------------------- */

/* A stress loop's size `n`, divided by the stress divisor (see
 * test_support.h) for slow runs such as valgrind, but at least 1. */
static int scaled(int n)
{
    long s = n / test_stress_divisor();
    return s > 0 ? (int)s : 1;
}

static struct broadcast_sender *tx;
static struct broadcast_receiver *rx;

static void make_int_channel(size_t capacity)
{
    ck_assert_int_eq(broadcast_channel(capacity, sizeof(int), NULL, NULL, &tx, &rx), 0);
}

static void send_ints(int from, int to)
{
    for (int i = from; i < to; i++)
        ck_assert_int_eq(broadcast_send(tx, &i, NULL), CHAN_OK);
}

/* Receives one value from `r` and checks it is `expected`. */
static void expect_value(struct broadcast_receiver *r, int expected)
{
    int v = -1;
    uint64_t missed = 12345;
    ck_assert_int_eq(broadcast_try_recv(r, &v, &missed), CHAN_OK);
    ck_assert_int_eq(v, expected);
}

/* Receives from `r` and checks it reports a lag of exactly `n` values. */
static void expect_lag(struct broadcast_receiver *r, uint64_t n)
{
    int v = -1;
    uint64_t missed = 0;
    ck_assert_int_eq(broadcast_try_recv(r, &v, &missed), CHAN_LAGGED);
    ck_assert_uint_eq(missed, n);
    ck_assert_int_eq(v, -1); /* a lag delivers no value */
}

/* A thread that runs one blocking receive and records how it ended. */
struct blocked_op {
    pthread_t thread;
    struct broadcast_receiver *rx;
    atomic_bool done;
    enum chan_status status;
    int value;
};

static void *recv_op(void *arg)
{
    struct blocked_op *op = arg;
    op->status = broadcast_recv(op->rx, &op->value, NULL);
    atomic_store(&op->done, true);
    return NULL;
}

static void start_recv(struct blocked_op *op, struct broadcast_receiver *r)
{
    memset(op, 0, sizeof *op);
    op->rx = r;
    op->value = -1;
    ck_assert_int_eq(pthread_create(&op->thread, NULL, recv_op, op), 0);
}

/* Gives the thread time to reach its wait, then checks it is still there. */
static void assert_still_blocked(struct blocked_op *op)
{
    test_sleep_ms(50);
    ck_assert_msg(!atomic_load(&op->done), "the receive returned (%s) but should still be blocked",
                  chan_status_name(op->status));
}

static void join_op(struct blocked_op *op)
{
    ck_assert_int_eq(pthread_join(op->thread, NULL), 0);
    ck_assert(atomic_load(&op->done));
}

/* Values that own heap memory, with a clone that deep-copies them.  Every
 * original and every copy is counted when made and when destroyed, so a
 * lost or doubly destroyed value shows up as a wrong count (and under
 * ASan/valgrind). */
struct owned {
    int *payload;
};
static atomic_int owned_made, owned_destroyed;

static void reset_owned_counts(void)
{
    atomic_store(&owned_made, 0);
    atomic_store(&owned_destroyed, 0);
}

/* Plain ints, so that a failed assertion prints the counts readably. */
static int made_count(void)
{
    return atomic_load(&owned_made);
}

static int destroyed_count(void)
{
    return atomic_load(&owned_destroyed);
}

static struct owned make_owned(int v)
{
    struct owned o = { malloc(sizeof(int)) };
    ck_assert_ptr_nonnull(o.payload);
    *o.payload = v;
    atomic_fetch_add(&owned_made, 1);
    return o;
}

static void clone_owned(void *dst, const void *src)
{
    const struct owned *from = src;
    struct owned *to = dst;
    to->payload = malloc(sizeof(int));
    if (to->payload != NULL) /* the receiving test asserts non-NULL */
        *to->payload = *from->payload;
    atomic_fetch_add(&owned_made, 1);
}

static void destroy_owned(void *elem)
{
    struct owned *o = elem;
    free(o->payload);
    o->payload = NULL;
    atomic_fetch_add(&owned_destroyed, 1);
}

static void make_owned_channel(size_t capacity)
{
    ck_assert_int_eq(broadcast_channel(capacity, sizeof(struct owned), clone_owned,
                                       destroy_owned, &tx, &rx), 0);
}

/* ---- Construction and metadata ------------------------------------------------- */

START_TEST(b01_new_channel_has_one_receiver_and_nothing_unread)
{
    make_int_channel(8);
    ck_assert_uint_eq(broadcast_capacity(tx), 8);
    ck_assert_uint_eq(broadcast_receiver_count(tx), 1);
    ck_assert_uint_eq(broadcast_len(rx), 0);
    int v;
    ck_assert_int_eq(broadcast_try_recv(rx, &v, NULL), CHAN_EMPTY);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b02_capacity_zero_is_refused_with_einval)
{
    struct broadcast_sender *t = (void *)1;
    struct broadcast_receiver *r = (void *)1;
    ck_assert_int_eq(broadcast_channel(0, sizeof(int), NULL, NULL, &t, &r), EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(b02_oversized_capacity_and_zero_elem_size_are_refused)
{
    struct broadcast_sender *t;
    struct broadcast_receiver *r;
    ck_assert_int_eq(broadcast_channel(BROADCAST_MAX_CAPACITY + 1, sizeof(int), NULL, NULL, &t, &r),
                     EINVAL);
    ck_assert_int_eq(broadcast_channel(SIZE_MAX, 1, NULL, NULL, &t, &r), EINVAL);
    ck_assert_int_eq(broadcast_channel(4, 0, NULL, NULL, &t, &r), EINVAL);
    /* capacity x elem_size would overflow size_t */
    ck_assert_int_eq(broadcast_channel(BROADCAST_MAX_CAPACITY, SIZE_MAX / 4, NULL, NULL, &t, &r),
                     EINVAL);
    ck_assert_int_eq(broadcast_channel(4, sizeof(int), NULL, NULL, NULL, &r), EINVAL);
}
END_TEST

START_TEST(b42_capacity_is_rounded_up_to_a_power_of_two)
{
    const size_t asked[] = { 1, 2, 3, 4, 5, 7, 8, 9, 100, 1000, 1024, 1025 };
    const size_t given[] = { 1, 2, 4, 4, 8, 8, 8, 16, 128, 1024, 1024, 2048 };
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        make_int_channel(asked[i]);
        ck_assert_uint_eq(broadcast_capacity(tx), given[i]);
        broadcast_sender_drop(tx);
        broadcast_receiver_drop(rx);
    }
}
END_TEST

START_TEST(b03_len_counts_unread_values_per_receiver_capped_at_capacity)
{
    make_int_channel(4);
    struct broadcast_receiver *other = broadcast_subscribe(tx);
    ck_assert_ptr_nonnull(other);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(broadcast_len(rx), (size_t)i);
        send_ints(i, i + 1);
    }
    ck_assert_uint_eq(broadcast_len(rx), 4);
    expect_value(other, 0);
    expect_value(other, 1);
    ck_assert_uint_eq(broadcast_len(other), 2); /* per receiver */
    ck_assert_uint_eq(broadcast_len(rx), 4);
    send_ints(4, 7);                            /* rx is now 3 behind */
    ck_assert_uint_eq(broadcast_len(rx), 4);    /* 7 unread, capped */
    ck_assert_uint_eq(broadcast_len(other), 4); /* 5 unread, capped */
    expect_lag(rx, 3);
    ck_assert_uint_eq(broadcast_len(rx), 4);
    for (int i = 3; i < 7; i++)
        expect_value(rx, i);
    ck_assert_uint_eq(broadcast_len(rx), 0);
    broadcast_receiver_drop(other);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

/* ---- Delivery (items 5, 8, 41) ------------------------------------------------- */

START_TEST(b08_ring_wraps_around_many_times_in_order)
{
    make_int_channel(3); /* rounded to 4 */
    for (int round = 0; round < 500; round++) {
        send_ints(round * 3, round * 3 + 3);
        for (int i = round * 3; i < round * 3 + 3; i++)
            expect_value(rx, i);
    }
    int v;
    ck_assert_int_eq(broadcast_try_recv(rx, &v, NULL), CHAN_EMPTY);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b41_every_receiver_gets_every_value_in_order)
{
    make_int_channel(16);
    struct broadcast_receiver *second = broadcast_subscribe(tx);
    struct broadcast_receiver *third = broadcast_receiver_resubscribe(rx);
    ck_assert_ptr_nonnull(second);
    ck_assert_ptr_nonnull(third);
    send_ints(0, 10);
    /* Interleaved on purpose: one receiver reading does not consume the
     * value for the others. */
    for (int i = 0; i < 10; i++) {
        expect_value(third, i);
        expect_value(rx, i);
        expect_value(second, i);
    }
    broadcast_receiver_drop(second);
    broadcast_receiver_drop(third);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b41_send_returns_the_number_of_receivers)
{
    make_int_channel(4);
    size_t n = 0;
    ck_assert_int_eq(broadcast_send(tx, &(int){ 1 }, &n), CHAN_OK);
    ck_assert_uint_eq(n, 1);
    struct broadcast_receiver *second = broadcast_subscribe(tx);
    struct broadcast_receiver *third = broadcast_subscribe(tx);
    ck_assert_int_eq(broadcast_send(tx, &(int){ 2 }, &n), CHAN_OK);
    ck_assert_uint_eq(n, 3);
    broadcast_receiver_drop(second);
    ck_assert_int_eq(broadcast_send(tx, &(int){ 3 }, &n), CHAN_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(broadcast_send(tx, &(int){ 4 }, NULL), CHAN_OK); /* NULL allowed */
    broadcast_receiver_drop(third);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b41_send_with_no_receivers_fails_and_leaves_the_value)
{
    reset_owned_counts();
    make_owned_channel(4);
    broadcast_receiver_drop(rx);
    ck_assert_uint_eq(broadcast_receiver_count(tx), 0);
    struct owned o = make_owned(7);
    size_t n = 99;
    ck_assert_int_eq(broadcast_send(tx, &o, &n), CHAN_CLOSED);
    ck_assert_uint_eq(n, 0);
    /* Not stored, not destroyed: still ours. */
    ck_assert_int_eq(destroyed_count(), 0);
    ck_assert_int_eq(*o.payload, 7);
    destroy_owned(&o);
    broadcast_sender_drop(tx);
    ck_assert_int_eq(destroyed_count(), 1);
}
END_TEST

START_TEST(b41_subscriber_sees_only_values_sent_after_it_subscribed)
{
    make_int_channel(8);
    send_ints(0, 3);
    struct broadcast_receiver *late = broadcast_subscribe(tx);
    ck_assert_ptr_nonnull(late);
    ck_assert_uint_eq(broadcast_len(late), 0);
    int v;
    ck_assert_int_eq(broadcast_try_recv(late, &v, NULL), CHAN_EMPTY);
    send_ints(3, 5);
    expect_value(late, 3);
    expect_value(late, 4);
    ck_assert_int_eq(broadcast_try_recv(late, &v, NULL), CHAN_EMPTY);
    for (int i = 0; i < 5; i++)
        expect_value(rx, i); /* the original receiver saw them all */
    broadcast_receiver_drop(late);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b41_resubscribe_starts_at_the_tail_not_at_the_original_position)
{
    make_int_channel(8);
    send_ints(0, 4);
    expect_value(rx, 0); /* rx still has 1, 2, 3 unread */
    struct broadcast_receiver *fresh = broadcast_receiver_resubscribe(rx);
    ck_assert_ptr_nonnull(fresh);
    ck_assert_uint_eq(broadcast_receiver_count(tx), 2);
    int v;
    ck_assert_int_eq(broadcast_try_recv(fresh, &v, NULL), CHAN_EMPTY);
    send_ints(4, 5);
    expect_value(fresh, 4);
    expect_value(rx, 1);
    broadcast_receiver_drop(fresh);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b41_subscribe_after_every_receiver_is_gone_makes_sends_work_again)
{
    make_int_channel(4);
    broadcast_receiver_drop(rx);
    ck_assert_int_eq(broadcast_send(tx, &(int){ 1 }, NULL), CHAN_CLOSED);
    rx = broadcast_subscribe(tx);
    ck_assert_ptr_nonnull(rx);
    ck_assert_int_eq(broadcast_send(tx, &(int){ 2 }, NULL), CHAN_OK);
    expect_value(rx, 2); /* the refused 1 was never stored */
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

struct ordered_reader {
    pthread_t thread;
    struct broadcast_receiver *rx;
    int received;
    int out_of_order; /* values that were not the one expected */
    int lags;
};

static void *read_every_value_in_order(void *arg)
{
    struct ordered_reader *r = arg;
    int v;
    for (;;) {
        enum chan_status st = broadcast_recv(r->rx, &v, NULL);
        if (st == CHAN_CLOSED)
            break;
        if (st == CHAN_LAGGED) {
            r->lags++;
            continue;
        }
        if (v != r->received)
            r->out_of_order++;
        r->received++;
    }
    broadcast_receiver_drop(r->rx);
    return NULL;
}

START_TEST(b41_receivers_in_several_threads_each_see_every_value_in_order)
{
    /* The ring holds all N values, so no receiver can lag however slowly it
     * is scheduled; each must see 0, 1, ..., N-1 and then CHAN_CLOSED. */
    enum { READERS = 4 };
    int n = scaled(20000);
    make_int_channel((size_t)n);
    struct ordered_reader readers[READERS];
    for (int i = 0; i < READERS; i++) {
        memset(&readers[i], 0, sizeof readers[i]);
        readers[i].rx = i == 0 ? rx : broadcast_subscribe(tx);
        ck_assert_ptr_nonnull(readers[i].rx);
    }
    rx = NULL;
    for (int i = 0; i < READERS; i++)
        ck_assert_int_eq(pthread_create(&readers[i].thread, NULL, read_every_value_in_order,
                                        &readers[i]), 0);
    for (int i = 0; i < n; i++) {
        size_t listening = 0;
        ck_assert_int_eq(broadcast_send(tx, &i, &listening), CHAN_OK);
        ck_assert_uint_eq(listening, READERS);
    }
    broadcast_sender_drop(tx);
    for (int i = 0; i < READERS; i++) {
        pthread_join(readers[i].thread, NULL);
        ck_assert_int_eq(readers[i].received, n);
        ck_assert_int_eq(readers[i].out_of_order, 0);
        ck_assert_int_eq(readers[i].lags, 0);
    }
}
END_TEST

/* ---- Receiving (items 15-17) ------------------------------------------------------ */

START_TEST(b15_try_recv_on_an_empty_open_channel_is_empty)
{
    make_int_channel(4);
    int v = -1;
    uint64_t missed = 77;
    ck_assert_int_eq(broadcast_try_recv(rx, &v, &missed), CHAN_EMPTY);
    ck_assert_int_eq(v, -1);
    send_ints(5, 6);
    /* A completed send is visible at once, never a spurious EMPTY. */
    ck_assert_int_eq(broadcast_try_recv(rx, &v, &missed), CHAN_OK);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(broadcast_try_recv(rx, &v, &missed), CHAN_EMPTY);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b16_recv_blocks_until_a_send)
{
    make_int_channel(4);
    struct blocked_op op;
    start_recv(&op, rx);
    assert_still_blocked(&op);
    send_ints(42, 43);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_OK);
    ck_assert_int_eq(op.value, 42);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b16_one_send_wakes_every_blocked_receiver)
{
    enum { WAITERS = 3 };
    make_int_channel(4);
    struct broadcast_receiver *receivers[WAITERS] = { rx, broadcast_subscribe(tx),
                                                      broadcast_subscribe(tx) };
    struct blocked_op ops[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        start_recv(&ops[i], receivers[i]);
    for (int i = 0; i < WAITERS; i++)
        assert_still_blocked(&ops[i]);
    send_ints(9, 10);
    for (int i = 0; i < WAITERS; i++) {
        join_op(&ops[i]);
        ck_assert_int_eq(ops[i].status, CHAN_OK);
        ck_assert_int_eq(ops[i].value, 9);
        broadcast_receiver_drop(receivers[i]);
    }
    broadcast_sender_drop(tx);
}
END_TEST

START_TEST(b17_recv_timeout_times_out_after_the_timeout)
{
    make_int_channel(4);
    int v;
    int64_t start = test_now_ms();
    ck_assert_int_eq(broadcast_recv_timeout(rx, &v, NULL, 100), CHAN_TIMEOUT);
    int64_t took = test_now_ms() - start;
    ck_assert_int_ge(took, 99);
    ck_assert_int_lt(took, 2000);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b17_recv_timeout_zero_returns_a_value_already_sent)
{
    make_int_channel(4);
    send_ints(3, 4);
    int v = 0;
    ck_assert_int_eq(broadcast_recv_timeout(rx, &v, NULL, 0), CHAN_OK);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(broadcast_recv_timeout(rx, &v, NULL, 0), CHAN_TIMEOUT);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

/* ---- Lag (item 42) ---------------------------------------------------------------- */

START_TEST(b42_lag_count_matches_overwritten_values)
{
    /* Tokio lagged_count_matches_number_of_overwritten_messages. */
    //> snippet lag
    make_int_channel(2);
    send_ints(0, 10);
    expect_lag(rx, 8);
    expect_value(rx, 8);
    expect_value(rx, 9);
    int v;
    ck_assert_int_eq(broadcast_try_recv(rx, &v, NULL), CHAN_EMPTY);
    //< snippet lag
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b42_after_a_lag_the_next_recv_returns_the_oldest_retained_value)
{
    make_int_channel(4);
    send_ints(0, 6); /* 0 and 1 overwritten; 2..5 retained */
    int v = -1;
    uint64_t missed = 0;
    ck_assert_int_eq(broadcast_recv(rx, &v, &missed), CHAN_LAGGED);
    ck_assert_uint_eq(missed, 2);
    ck_assert_int_eq(broadcast_recv(rx, &v, &missed), CHAN_OK);
    ck_assert_int_eq(v, 2);
    /* Read part-way, fall behind again: the count is from where it was. */
    send_ints(6, 11); /* rx wants 3; 3..6 overwritten; 7..10 retained */
    expect_lag(rx, 4);
    for (int i = 7; i < 11; i++)
        expect_value(rx, i);
    /* `missed` may be NULL. */
    send_ints(11, 20);
    ck_assert_int_eq(broadcast_recv(rx, &v, NULL), CHAN_LAGGED);
    expect_value(rx, 16);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b42_lag_is_per_receiver)
{
    /* Tokio lag_is_per_receiver: a receiver that keeps up never lags,
     * whatever the others do. */
    make_int_channel(4);
    struct broadcast_receiver *fast = broadcast_subscribe(tx);
    struct broadcast_receiver *medium = broadcast_subscribe(tx);
    for (int i = 0; i < 12; i++) {
        send_ints(i, i + 1);
        expect_value(fast, i);
        if (i % 2 == 1) {
            expect_value(medium, i - 1);
            expect_value(medium, i);
        }
    }
    expect_lag(rx, 8); /* the slow one: 12 sent, 4 retained */
    for (int i = 8; i < 12; i++)
        expect_value(rx, i);
    int v;
    ck_assert_int_eq(broadcast_try_recv(fast, &v, NULL), CHAN_EMPTY);
    ck_assert_int_eq(broadcast_try_recv(medium, &v, NULL), CHAN_EMPTY);
    broadcast_receiver_drop(fast);
    broadcast_receiver_drop(medium);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b42_lag_uses_the_rounded_up_capacity)
{
    /* Tokio lag_uses_power_of_two_buffer_length: asked for 3, holds 4. */
    make_int_channel(3);
    send_ints(0, 4);
    for (int i = 0; i < 4; i++)
        expect_value(rx, i); /* 4 values fit: no lag */
    send_ints(4, 9);          /* 5 values into 4 slots */
    expect_lag(rx, 1);
    for (int i = 5; i < 9; i++)
        expect_value(rx, i);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b42_recv_timeout_and_blocking_recv_report_lag_too)
{
    make_int_channel(1);
    send_ints(0, 3);
    int v = -1;
    uint64_t missed = 0;
    ck_assert_int_eq(broadcast_recv_timeout(rx, &v, &missed, 0), CHAN_LAGGED);
    ck_assert_uint_eq(missed, 2);
    ck_assert_int_eq(broadcast_recv_timeout(rx, &v, &missed, 0), CHAN_OK);
    ck_assert_int_eq(v, 2);
    send_ints(3, 6);
    ck_assert_int_eq(broadcast_recv(rx, &v, &missed), CHAN_LAGGED);
    ck_assert_uint_eq(missed, 2);
    ck_assert_int_eq(broadcast_recv(rx, &v, &missed), CHAN_OK);
    ck_assert_int_eq(v, 5);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

struct lagging_reader {
    pthread_t thread;
    struct broadcast_receiver *rx;
    uint64_t expected;  /* the number of the next value it should get */
    uint64_t received;
    uint64_t missed;
    int wrong;          /* values that were not the one expected */
};

static void *read_with_lag_accounting(void *arg)
{
    struct lagging_reader *r = arg;
    int v;
    for (;;) {
        uint64_t missed = 0;
        enum chan_status st = broadcast_recv(r->rx, &v, &missed);
        if (st == CHAN_CLOSED)
            break;
        if (st == CHAN_LAGGED) {
            r->missed += missed;
            r->expected += missed; /* the next value is the oldest retained */
            continue;
        }
        if ((uint64_t)v != r->expected)
            r->wrong++;
        r->expected++;
        r->received++;
    }
    broadcast_receiver_drop(r->rx);
    return NULL;
}

START_TEST(b42_lagging_receivers_in_threads_account_for_every_value)
{
    /* A small ring and a sender that never waits: the readers fall behind
     * as the scheduler pleases.  Whatever happens, each reader's values are
     * exactly the ones sent, in order, with the gaps the lags announced:
     * received + missed == sent, and nothing unexpected. */
    enum { READERS = 3 };
    int n = scaled(50000);
    make_int_channel(16);
    struct lagging_reader readers[READERS];
    for (int i = 0; i < READERS; i++) {
        memset(&readers[i], 0, sizeof readers[i]);
        readers[i].rx = i == 0 ? rx : broadcast_subscribe(tx);
        ck_assert_ptr_nonnull(readers[i].rx);
    }
    rx = NULL;
    for (int i = 0; i < READERS; i++)
        ck_assert_int_eq(pthread_create(&readers[i].thread, NULL, read_with_lag_accounting,
                                        &readers[i]), 0);
    send_ints(0, n);
    broadcast_sender_drop(tx);
    for (int i = 0; i < READERS; i++) {
        pthread_join(readers[i].thread, NULL);
        ck_assert_int_eq(readers[i].wrong, 0);
        ck_assert_uint_eq(readers[i].received + readers[i].missed, (uint64_t)n);
        ck_assert_uint_eq(readers[i].expected, (uint64_t)n);
        ck_assert_uint_ge(readers[i].received, 1); /* at least the retained tail */
    }
}
END_TEST

/* ---- Close (items 20-22, 25, 27, 43) ---------------------------------------------- */

START_TEST(b43_last_sender_gone_receivers_drain_retained_values_then_closed)
{
    make_int_channel(8);
    struct broadcast_sender *second = broadcast_sender_clone(tx);
    struct broadcast_receiver *other = broadcast_subscribe(tx);
    send_ints(0, 3);
    ck_assert_int_eq(broadcast_send(second, &(int){ 3 }, NULL), CHAN_OK);
    expect_value(other, 0);
    broadcast_sender_drop(tx);
    broadcast_sender_drop(second);
    for (int i = 0; i < 4; i++)
        expect_value(rx, i);
    for (int i = 1; i < 4; i++)
        expect_value(other, i);
    int v;
    ck_assert_int_eq(broadcast_recv(rx, &v, NULL), CHAN_CLOSED);
    ck_assert_int_eq(broadcast_recv(other, &v, NULL), CHAN_CLOSED);
    broadcast_receiver_drop(other);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b43_capacity_one_after_sender_drop_reports_lag_then_value_then_closed)
{
    /* Tokio single_capacity_recvs_after_drop_1 and _2. */
    make_int_channel(1);
    send_ints(1, 2);
    broadcast_sender_drop(tx);
    int v;
    ck_assert_int_eq(broadcast_recv(rx, &v, NULL), CHAN_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(broadcast_recv(rx, &v, NULL), CHAN_CLOSED);
    broadcast_receiver_drop(rx);

    make_int_channel(1);
    send_ints(1, 3);
    broadcast_sender_drop(tx);
    uint64_t missed = 0;
    ck_assert_int_eq(broadcast_recv(rx, &v, &missed), CHAN_LAGGED);
    ck_assert_uint_eq(missed, 1);
    ck_assert_int_eq(broadcast_recv(rx, &v, NULL), CHAN_OK);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(broadcast_recv(rx, &v, NULL), CHAN_CLOSED);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b43_dropping_the_sender_does_not_overwrite_a_retained_value)
{
    /* Tokio dropping_sender_does_not_overwrite: the close is not a value
     * and takes no slot, so a full ring loses nothing to it. */
    make_int_channel(2);
    send_ints(1, 3);
    broadcast_sender_drop(tx);
    expect_value(rx, 1);
    expect_value(rx, 2);
    int v;
    ck_assert_int_eq(broadcast_try_recv(rx, &v, NULL), CHAN_CLOSED);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b20_closed_is_sticky_and_immediate_on_every_later_call)
{
    make_int_channel(2);
    broadcast_sender_drop(tx);
    int v;
    int64_t start = test_now_ms();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(broadcast_recv(rx, &v, NULL), CHAN_CLOSED);
        ck_assert_int_eq(broadcast_try_recv(rx, &v, NULL), CHAN_CLOSED);
        ck_assert_int_eq(broadcast_recv_timeout(rx, &v, NULL, 1000), CHAN_CLOSED);
    }
    /* A receiver made after the close is closed as well. */
    struct broadcast_receiver *late = broadcast_receiver_resubscribe(rx);
    ck_assert_int_eq(broadcast_recv(late, &v, NULL), CHAN_CLOSED);
    ck_assert_int_lt(test_now_ms() - start, 500);
    broadcast_receiver_drop(late);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b21_blocked_receivers_wake_closed_when_the_last_sender_goes)
{
    make_int_channel(4);
    struct broadcast_receiver *other = broadcast_subscribe(tx);
    struct blocked_op a, b;
    start_recv(&a, rx);
    start_recv(&b, other);
    assert_still_blocked(&a);
    assert_still_blocked(&b);
    broadcast_sender_drop(tx);
    join_op(&a);
    join_op(&b);
    ck_assert_int_eq(a.status, CHAN_CLOSED);
    ck_assert_int_eq(b.status, CHAN_CLOSED);
    broadcast_receiver_drop(other);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b22_dropping_one_of_several_senders_does_not_close)
{
    make_int_channel(4);
    struct broadcast_sender *second = broadcast_sender_clone(tx);
    ck_assert_ptr_nonnull(second);
    struct blocked_op op;
    start_recv(&op, rx);
    broadcast_sender_drop(second);
    assert_still_blocked(&op); /* not woken with CHAN_CLOSED */
    send_ints(6, 7);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_OK);
    ck_assert_int_eq(op.value, 6);
    int v;
    ck_assert_int_eq(broadcast_try_recv(rx, &v, NULL), CHAN_EMPTY);
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(b25_dropping_every_receiver_destroys_retained_values_and_fails_sends)
{
    reset_owned_counts();
    make_owned_channel(4);
    struct broadcast_receiver *other = broadcast_subscribe(tx);
    for (int i = 0; i < 3; i++) {
        struct owned o = make_owned(i);
        ck_assert_int_eq(broadcast_send(tx, &o, NULL), CHAN_OK);
    }
    broadcast_receiver_drop(other);
    ck_assert_int_eq(destroyed_count(), 0); /* rx can still read them */
    broadcast_receiver_drop(rx);
    ck_assert_int_eq(destroyed_count(), 3); /* nobody can: gone now */
    struct owned late = make_owned(9);
    ck_assert_int_eq(broadcast_send(tx, &late, NULL), CHAN_CLOSED);
    ck_assert_int_eq(*late.payload, 9);
    destroy_owned(&late);
    broadcast_sender_drop(tx);
    ck_assert_int_eq(made_count(), 4);
    ck_assert_int_eq(destroyed_count(), 4);
}
END_TEST

START_TEST(b27_receiver_count_follows_subscribes_and_drops)
{
    make_int_channel(4);
    ck_assert_uint_eq(broadcast_receiver_count(tx), 1);
    struct broadcast_receiver *a = broadcast_subscribe(tx);
    struct broadcast_receiver *b = broadcast_receiver_resubscribe(a);
    ck_assert_uint_eq(broadcast_receiver_count(tx), 3);
    struct broadcast_sender *second = broadcast_sender_clone(tx);
    ck_assert_uint_eq(broadcast_receiver_count(second), 3);
    broadcast_receiver_drop(a);
    broadcast_receiver_drop(rx);
    ck_assert_uint_eq(broadcast_receiver_count(tx), 1);
    broadcast_receiver_drop(b);
    ck_assert_uint_eq(broadcast_receiver_count(tx), 0);
    ck_assert_uint_eq(broadcast_receiver_count(second), 0);
    broadcast_sender_drop(second);
    broadcast_sender_drop(tx);
    broadcast_sender_drop(NULL);   /* ignored, like free(NULL) */
    broadcast_receiver_drop(NULL);
}
END_TEST

/* Queries, each asked by its own test_querier thread while other threads
 * send, subscribe and drop.  The querying receiver never receives, so its
 * count of unread values can only grow, up to the capacity; the channel
 * always has that receiver and at most one more. */
enum { QUERIED_CAPACITY = 8 };

static bool query_receiver_count(void *state)
{
    (void)state;
    size_t n = broadcast_receiver_count(tx);
    return n >= 1 && n <= 2;
}

static bool query_capacity(void *state)
{
    (void)state;
    return broadcast_capacity(tx) == QUERIED_CAPACITY;
}

static bool query_len_never_shrinks(void *last_len)
{
    size_t *last = last_len;
    size_t n = broadcast_len(rx);
    bool possible = n >= *last && n <= QUERIED_CAPACITY;
    *last = n;
    return possible;
}

static void *send_values(void *arg)
{
    int count = *(int *)arg;
    for (int i = 0; i < count; i++)
        ck_assert_int_eq(broadcast_send(tx, &i, NULL), CHAN_OK);
    return NULL;
}

static void *subscribe_and_drop(void *arg)
{
    int count = *(int *)arg;
    for (int i = 0; i < count; i++)
        broadcast_receiver_drop(broadcast_subscribe(tx));
    return NULL;
}

START_TEST(b27_queries_answer_sanely_while_other_threads_send_subscribe_and_drop)
{
    make_int_channel(QUERIED_CAPACITY);
    size_t last_len = 0;
    struct test_querier count_q, capacity_q, len_q;
    test_querier_start(&count_q, "broadcast_receiver_count", query_receiver_count, NULL);
    test_querier_start(&capacity_q, "broadcast_capacity", query_capacity, NULL);
    test_querier_start(&len_q, "broadcast_len", query_len_never_shrinks, &last_len);
    int count = scaled(3000);
    pthread_t sender, churner;
    ck_assert_int_eq(pthread_create(&sender, NULL, send_values, &count), 0);
    ck_assert_int_eq(pthread_create(&churner, NULL, subscribe_and_drop, &count), 0);
    pthread_join(sender, NULL);
    pthread_join(churner, NULL);
    test_querier_wait_for_calls(&len_q, 2);
    test_querier_stop(&count_q);
    test_querier_stop(&capacity_q);
    test_querier_stop(&len_q);
    ck_assert_uint_eq(last_len, QUERIED_CAPACITY); /* it saw the last sends */
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

/* ---- Ownership (items 30-32) ------------------------------------------------------ */

START_TEST(b30_every_value_and_every_copy_is_destroyed_exactly_once)
{
    reset_owned_counts();
    make_owned_channel(2);
    struct broadcast_receiver *other = broadcast_subscribe(tx);
    for (int i = 0; i < 5; i++) {
        struct owned o = make_owned(i);
        ck_assert_int_eq(broadcast_send(tx, &o, NULL), CHAN_OK);
    }
    /* Received copies belong to the receiver: a deep copy each. */
    struct owned got = { NULL };
    uint64_t missed;
    ck_assert_int_eq(broadcast_recv(other, &got, &missed), CHAN_LAGGED);
    ck_assert_int_eq(broadcast_recv(other, &got, &missed), CHAN_OK);
    ck_assert_ptr_nonnull(got.payload);
    ck_assert_int_eq(*got.payload, 3);
    destroy_owned(&got);
    /* A refused send stays with the caller. */
    broadcast_receiver_drop(other);
    broadcast_receiver_drop(rx);
    struct owned refused = make_owned(9);
    ck_assert_int_eq(broadcast_send(tx, &refused, NULL), CHAN_CLOSED);
    destroy_owned(&refused);
    broadcast_sender_drop(tx);
    /* 5 sent + 1 copy + 1 refused; the channel destroyed the 5. */
    ck_assert_int_eq(made_count(), 7);
    ck_assert_int_eq(destroyed_count(), 7);
}
END_TEST

START_TEST(b31_overwritten_values_are_destroyed_when_overwritten)
{
    reset_owned_counts();
    make_owned_channel(2);
    for (int i = 0; i < 6; i++) {
        struct owned o = make_owned(i);
        ck_assert_int_eq(broadcast_send(tx, &o, NULL), CHAN_OK);
        /* Two slots: from the third send on, each send destroys one. */
        ck_assert_int_eq(destroyed_count(), i < 2 ? 0 : i - 1);
    }
    broadcast_sender_drop(tx);
    ck_assert_int_eq(destroyed_count(), 4);
    broadcast_receiver_drop(rx);
    ck_assert_int_eq(destroyed_count(), 6);
}
END_TEST

START_TEST(b31_retained_values_live_until_the_last_receiver_goes)
{
    reset_owned_counts();
    make_owned_channel(8);
    struct broadcast_receiver *other = broadcast_subscribe(tx);
    for (int i = 0; i < 3; i++) {
        struct owned o = make_owned(i);
        ck_assert_int_eq(broadcast_send(tx, &o, NULL), CHAN_OK);
    }
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
    ck_assert_int_eq(destroyed_count(), 0);
    /* The survivor still reads every retained value after the sender and
     * the other receiver have gone. */
    for (int i = 0; i < 3; i++) {
        struct owned got = { NULL };
        ck_assert_int_eq(broadcast_recv(other, &got, NULL), CHAN_OK);
        ck_assert_int_eq(*got.payload, i);
        destroy_owned(&got);
    }
    ck_assert_int_eq(destroyed_count(), 3); /* only the copies */
    broadcast_receiver_drop(other);
    ck_assert_int_eq(destroyed_count(), 6);
    ck_assert_int_eq(made_count(), 6);
}
END_TEST

START_TEST(b32_create_and_destroy_loops_leave_nothing_behind)
{
    reset_owned_counts();
    for (int round = 0; round < 300; round++) {
        make_owned_channel((size_t)(round % 5) + 1);
        struct broadcast_sender *second = broadcast_sender_clone(tx);
        struct broadcast_receiver *other = broadcast_subscribe(second);
        for (int i = 0; i < round % 9; i++) {
            struct owned o = make_owned(i);
            ck_assert_int_eq(broadcast_send(i % 2 ? tx : second, &o, NULL), CHAN_OK);
        }
        struct owned got;
        if (broadcast_try_recv(other, &got, NULL) == CHAN_OK)
            destroy_owned(&got);
        /* Drop the four handles in an order that changes every round. */
        if (round % 2) {
            broadcast_sender_drop(tx);
            broadcast_receiver_drop(rx);
            broadcast_sender_drop(second);
            broadcast_receiver_drop(other);
        } else {
            broadcast_receiver_drop(other);
            broadcast_receiver_drop(rx);
            broadcast_sender_drop(second);
            broadcast_sender_drop(tx);
        }
    }
    ck_assert_int_eq(made_count(), destroyed_count());
}
END_TEST

/* ---- Concurrency (items 35, 38, 39) --------------------------------------------- */

static void *drop_sender(void *arg)
{
    broadcast_sender_drop(arg);
    return NULL;
}

static void *drop_receiver(void *arg)
{
    broadcast_receiver_drop(arg);
    return NULL;
}

START_TEST(b35_concurrent_drops_of_many_senders_close_exactly_once)
{
    enum { SENDERS = 16 };
    int rounds = scaled(50);
    for (int round = 0; round < rounds; round++) {
        make_int_channel(2);
        struct broadcast_sender *clones[SENDERS];
        for (int i = 0; i < SENDERS; i++)
            clones[i] = broadcast_sender_clone(tx);
        send_ints(round, round + 1);
        broadcast_sender_drop(tx);
        pthread_t threads[SENDERS];
        for (int i = 0; i < SENDERS; i++)
            ck_assert_int_eq(pthread_create(&threads[i], NULL, drop_sender, clones[i]), 0);
        /* The value sent before the drops is still delivered, then the
         * close, once all sixteen are gone - and only then. */
        int v;
        ck_assert_int_eq(broadcast_recv(rx, &v, NULL), CHAN_OK);
        ck_assert_int_eq(v, round);
        ck_assert_int_eq(broadcast_recv(rx, &v, NULL), CHAN_CLOSED);
        for (int i = 0; i < SENDERS; i++)
            pthread_join(threads[i], NULL);
        ck_assert_int_eq(broadcast_recv(rx, &v, NULL), CHAN_CLOSED);
        broadcast_receiver_drop(rx);
    }
}
END_TEST

START_TEST(b35_concurrent_drops_of_many_receivers_destroy_retained_values_once)
{
    enum { RECEIVERS = 16 };
    reset_owned_counts();
    int rounds = scaled(50);
    for (int round = 0; round < rounds; round++) {
        make_owned_channel(4);
        struct broadcast_receiver *receivers[RECEIVERS];
        receivers[0] = rx;
        for (int i = 1; i < RECEIVERS; i++)
            receivers[i] = broadcast_subscribe(tx);
        for (int i = 0; i < 3; i++) {
            struct owned o = make_owned(i);
            ck_assert_int_eq(broadcast_send(tx, &o, NULL), CHAN_OK);
        }
        int before = destroyed_count();
        pthread_t threads[RECEIVERS];
        for (int i = 0; i < RECEIVERS; i++)
            ck_assert_int_eq(pthread_create(&threads[i], NULL, drop_receiver, receivers[i]), 0);
        for (int i = 0; i < RECEIVERS; i++)
            pthread_join(threads[i], NULL);
        ck_assert_int_eq(destroyed_count() - before, 3);
        ck_assert_uint_eq(broadcast_receiver_count(tx), 0);
        broadcast_sender_drop(tx);
    }
    ck_assert_int_eq(made_count(), destroyed_count());
}
END_TEST

enum { PUBLISHED_INTS = 500, PUBLISH_ROUNDS = 200, PUBLISH_READERS = 2 };

struct publication_reader {
    pthread_t thread;
    struct broadcast_receiver *rx;
    int rounds_ok;
};

static void *read_publications(void *arg)
{
    struct publication_reader *r = arg;
    int *data;
    int round = 0;
    while (broadcast_recv(r->rx, &data, NULL) == CHAN_OK) {
        /* Under TSan, reading without the channel's happens-before edge
         * would be reported as a race. */
        bool intact = data != NULL;
        for (int i = 0; intact && i < PUBLISHED_INTS; i++)
            intact = data[i] == round * 1000 + i;
        if (intact)
            r->rounds_ok++;
        round++;
    }
    broadcast_receiver_drop(r->rx);
    return NULL;
}

START_TEST(b38_data_written_before_send_is_visible_after_recv)
{
    /* The ring holds every round, so no reader lags; each block is written
     * with plain stores before its pointer is sent, and freed only after
     * both readers are done. */
    ck_assert_int_eq(broadcast_channel(PUBLISH_ROUNDS, sizeof(int *), NULL, NULL, &tx, &rx), 0);
    struct publication_reader readers[PUBLISH_READERS];
    for (int i = 0; i < PUBLISH_READERS; i++) {
        readers[i].rx = i == 0 ? rx : broadcast_subscribe(tx);
        readers[i].rounds_ok = 0;
    }
    rx = NULL;
    for (int i = 0; i < PUBLISH_READERS; i++)
        ck_assert_int_eq(pthread_create(&readers[i].thread, NULL, read_publications, &readers[i]), 0);
    int *blocks[PUBLISH_ROUNDS];
    for (int round = 0; round < PUBLISH_ROUNDS; round++) {
        blocks[round] = malloc(PUBLISHED_INTS * sizeof(int));
        ck_assert_ptr_nonnull(blocks[round]);
        for (int i = 0; i < PUBLISHED_INTS; i++)
            blocks[round][i] = round * 1000 + i;
        ck_assert_int_eq(broadcast_send(tx, &blocks[round], NULL), CHAN_OK);
    }
    broadcast_sender_drop(tx);
    for (int i = 0; i < PUBLISH_READERS; i++) {
        pthread_join(readers[i].thread, NULL);
        ck_assert_int_eq(readers[i].rounds_ok, PUBLISH_ROUNDS);
    }
    for (int round = 0; round < PUBLISH_ROUNDS; round++)
        free(blocks[round]);
}
END_TEST

START_TEST(b39_every_timed_wait_lasts_its_whole_timeout_and_not_much_more)
{
    /* On a condition variable timing on the wall clock, the monotonic
     * deadline is long past: each receive would return at once. */
    make_int_channel(2);
    int v;
    for (int i = 0; i < 10; i++) {
        int64_t start = test_now_us();
        ck_assert_int_eq(broadcast_recv_timeout(rx, &v, NULL, 20), CHAN_TIMEOUT);
        test_assert_waited(start, 20, "broadcast_recv_timeout");
    }
    broadcast_sender_drop(tx);
    broadcast_receiver_drop(rx);
}
END_TEST

Suite *broadcast_suite(void);
Suite *broadcast_suite(void)
{
    Suite *s = suite_create("broadcast");

    TCase *tc = tcase_create("construction");
    tcase_add_test(tc, b01_new_channel_has_one_receiver_and_nothing_unread);
    tcase_add_test(tc, b02_capacity_zero_is_refused_with_einval);
    tcase_add_test(tc, b02_oversized_capacity_and_zero_elem_size_are_refused);
    tcase_add_test(tc, b42_capacity_is_rounded_up_to_a_power_of_two);
    tcase_add_test(tc, b03_len_counts_unread_values_per_receiver_capped_at_capacity);
    suite_add_tcase(s, tc);

    tc = tcase_create("delivery");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b08_ring_wraps_around_many_times_in_order);
    tcase_add_test(tc, b41_every_receiver_gets_every_value_in_order);
    tcase_add_test(tc, b41_send_returns_the_number_of_receivers);
    tcase_add_test(tc, b41_send_with_no_receivers_fails_and_leaves_the_value);
    tcase_add_test(tc, b41_subscriber_sees_only_values_sent_after_it_subscribed);
    tcase_add_test(tc, b41_resubscribe_starts_at_the_tail_not_at_the_original_position);
    tcase_add_test(tc, b41_subscribe_after_every_receiver_is_gone_makes_sends_work_again);
    tcase_add_test(tc, b41_receivers_in_several_threads_each_see_every_value_in_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("recv");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b15_try_recv_on_an_empty_open_channel_is_empty);
    tcase_add_test(tc, b16_recv_blocks_until_a_send);
    tcase_add_test(tc, b16_one_send_wakes_every_blocked_receiver);
    tcase_add_test(tc, b17_recv_timeout_times_out_after_the_timeout);
    tcase_add_test(tc, b17_recv_timeout_zero_returns_a_value_already_sent);
    suite_add_tcase(s, tc);

    tc = tcase_create("lag");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b42_lag_count_matches_overwritten_values);
    tcase_add_test(tc, b42_after_a_lag_the_next_recv_returns_the_oldest_retained_value);
    tcase_add_test(tc, b42_lag_is_per_receiver);
    tcase_add_test(tc, b42_lag_uses_the_rounded_up_capacity);
    tcase_add_test(tc, b42_recv_timeout_and_blocking_recv_report_lag_too);
    tcase_add_test(tc, b42_lagging_receivers_in_threads_account_for_every_value);
    suite_add_tcase(s, tc);

    tc = tcase_create("close");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b43_last_sender_gone_receivers_drain_retained_values_then_closed);
    tcase_add_test(tc, b43_capacity_one_after_sender_drop_reports_lag_then_value_then_closed);
    tcase_add_test(tc, b43_dropping_the_sender_does_not_overwrite_a_retained_value);
    tcase_add_test(tc, b20_closed_is_sticky_and_immediate_on_every_later_call);
    tcase_add_test(tc, b21_blocked_receivers_wake_closed_when_the_last_sender_goes);
    tcase_add_test(tc, b22_dropping_one_of_several_senders_does_not_close);
    tcase_add_test(tc, b25_dropping_every_receiver_destroys_retained_values_and_fails_sends);
    tcase_add_test(tc, b27_receiver_count_follows_subscribes_and_drops);
    suite_add_tcase(s, tc);

    tc = tcase_create("ownership");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b30_every_value_and_every_copy_is_destroyed_exactly_once);
    tcase_add_test(tc, b31_overwritten_values_are_destroyed_when_overwritten);
    tcase_add_test(tc, b31_retained_values_live_until_the_last_receiver_goes);
    tcase_add_test(tc, b32_create_and_destroy_loops_leave_nothing_behind);
    suite_add_tcase(s, tc);

    tc = tcase_create("stress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, b35_concurrent_drops_of_many_senders_close_exactly_once);
    tcase_add_test(tc, b35_concurrent_drops_of_many_receivers_destroy_retained_values_once);
    tcase_add_test(tc, b38_data_written_before_send_is_visible_after_recv);
    tcase_add_test(tc, b39_every_timed_wait_lasts_its_whole_timeout_and_not_much_more);
    tcase_add_test(tc, b27_queries_answer_sanely_while_other_threads_send_subscribe_and_drop);
    suite_add_tcase(s, tc);

    return s;
}
