/*
 * test_oneshot.c - the oneshot channel against the behaviour list
 * (docs/channels.md says where its items come from).
 *
 * Each test is named after the behaviour it checks: `bNN_` is the item's
 * number in that list.  Item 40 is the oneshot's own; the general items
 * that make sense for a channel of one value (try_recv, timeouts, close,
 * ownership, stress, publication) are checked too.  Items about capacity,
 * queues and several senders do not apply: a oneshot has one sender and
 * one slot.
 *
 * Tests that involve a blocked thread give it 50 ms to block and then check
 * that it has NOT returned - true however the threads are scheduled,
 * because nothing it waits for has happened yet - so no test here depends
 * on timing to pass.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oneshot.h"
#include "test_support.h"

/* ---- Helpers --------------------------------------------------------------- */

/* A stress loop's size `n`, divided by the stress divisor (see
 * test_support.h) for slow runs such as valgrind, but at least 1. */
static int scaled(int n)
{
    long s = n / test_stress_divisor();
    return s > 0 ? (int)s : 1;
}

static struct oneshot_sender *tx;
static struct oneshot_receiver *rx;

static void make_int_channel(void)
{
    ck_assert_int_eq(oneshot_channel(sizeof(int), NULL, &tx, &rx), 0);
}

/* A thread that runs one blocking operation and records how it ended. */
struct blocked_op {
    pthread_t thread;
    atomic_long tid; /* the thread's id, for test_assert_asleep_in_wait */
    atomic_bool done;
    enum chan_status status;
    int value;
};

static void *recv_op(void *arg)
{
    struct blocked_op *op = arg;
    atomic_store(&op->tid, test_thread_id());
    op->status = oneshot_recv(rx, &op->value);
    atomic_store(&op->done, true);
    return NULL;
}

static void *recv_timeout_op(void *arg)
{
    struct blocked_op *op = arg;
    atomic_store(&op->tid, test_thread_id());
    op->status = oneshot_recv_timeout(rx, &op->value, 10000);
    atomic_store(&op->done, true);
    return NULL;
}

/* Its timeout is far beyond TEST_WAKE_BOUND_MS: a close that forgets to
 * wake it is seen as a thread still waiting, not as a timeout that happens
 * to find the receiver closed. */
static void *wait_closed_op(void *arg)
{
    struct blocked_op *op = arg;
    atomic_store(&op->tid, test_thread_id());
    op->status = oneshot_sender_wait_closed_timeout(tx, 60000);
    atomic_store(&op->done, true);
    return NULL;
}

static void start_op(struct blocked_op *op, void *(*fn)(void *))
{
    memset(op, 0, sizeof *op);
    op->value = -1;
    ck_assert_int_eq(pthread_create(&op->thread, NULL, fn, op), 0);
}

/* Gives the thread time to reach its wait, then checks it is still there. */
static void assert_still_blocked(struct blocked_op *op)
{
    test_sleep_ms(50);
    ck_assert_msg(!atomic_load(&op->done), "the operation returned (%s) but should still be blocked",
                  chan_status_name(op->status));
}

static void join_op(struct blocked_op *op)
{
    ck_assert_int_eq(pthread_join(op->thread, NULL), 0);
    ck_assert(atomic_load(&op->done));
}

/* Values that own heap memory, with counters, so that a lost or doubly
 * destroyed value shows up as a wrong count (and under ASan/valgrind). */
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

static void destroy_owned(void *elem)
{
    struct owned *o = elem;
    free(o->payload);
    o->payload = NULL;
    atomic_fetch_add(&owned_destroyed, 1);
}

static void make_owned_channel(void)
{
    ck_assert_int_eq(oneshot_channel(sizeof(struct owned), destroy_owned, &tx, &rx), 0);
}

/* ---- Construction -------------------------------------------------------------- */

START_TEST(b02_zero_elem_size_is_refused_with_einval)
{
    struct oneshot_sender *t = (void *)1;
    struct oneshot_receiver *r = (void *)1;
    ck_assert_int_eq(oneshot_channel(0, NULL, &t, &r), EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(oneshot_channel(SIZE_MAX, NULL, &t, &r), EINVAL);
    ck_assert_int_eq(oneshot_channel(sizeof(int), NULL, NULL, &r), EINVAL);
    ck_assert_int_eq(oneshot_channel(sizeof(int), NULL, &t, NULL), EINVAL);
}
END_TEST

/* ---- Item 40: the oneshot's own behaviour ------------------------------------ */

START_TEST(b40_value_sent_is_received)
{
    make_int_channel();
    //> snippet oneshot_round_trip
    ck_assert(!oneshot_sender_is_closed(tx));
    ck_assert_int_eq(oneshot_send(tx, &(int){ 42 }), CHAN_OK);
    int v = 0;
    ck_assert_int_eq(oneshot_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 42);
    //< snippet oneshot_round_trip
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b40_a_larger_value_arrives_whole)
{
    struct big { char text[100]; double d; long n; };
    struct big sent = { "the reply", 2.5, 1234567 };
    ck_assert_int_eq(oneshot_channel(sizeof sent, NULL, &tx, &rx), 0);
    ck_assert_int_eq(oneshot_send(tx, &sent), CHAN_OK);
    struct big got;
    memset(&got, 0, sizeof got);
    ck_assert_int_eq(oneshot_recv(rx, &got), CHAN_OK);
    ck_assert_str_eq(got.text, "the reply");
    ck_assert(got.d == 2.5);
    ck_assert_int_eq(got.n, 1234567);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b40_second_receive_after_taking_the_value_is_closed)
{
    make_int_channel();
    ck_assert_int_eq(oneshot_send(tx, &(int){ 5 }), CHAN_OK);
    int v = 0;
    ck_assert_int_eq(oneshot_try_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 5);
    v = -1;
    ck_assert_int_eq(oneshot_try_recv(rx, &v), CHAN_CLOSED);
    ck_assert_int_eq(oneshot_recv(rx, &v), CHAN_CLOSED);
    ck_assert_int_eq(oneshot_recv_timeout(rx, &v, 1000), CHAN_CLOSED);
    ck_assert_int_eq(v, -1); /* a failed receive leaves *out alone */
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b40_recv_blocked_before_send_is_woken_by_the_send)
{
    make_int_channel();
    struct blocked_op op;
    start_op(&op, recv_op);
    assert_still_blocked(&op);
    ck_assert_int_eq(oneshot_send(tx, &(int){ 77 }), CHAN_OK);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_OK);
    ck_assert_int_eq(op.value, 77);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b40_send_after_receiver_dropped_fails_and_leaves_the_value)
{
    reset_owned_counts();
    make_owned_channel();
    oneshot_receiver_drop(rx);
    ck_assert(oneshot_sender_is_closed(tx));
    struct owned o = make_owned(9);
    ck_assert_int_eq(oneshot_send(tx, &o), CHAN_CLOSED); /* consumes tx */
    /* Not taken, not destroyed: still ours. */
    ck_assert_int_eq(destroyed_count(), 0);
    ck_assert_int_eq(*o.payload, 9);
    destroy_owned(&o);
}
END_TEST

START_TEST(b40_send_after_receiver_close_fails_and_leaves_the_value)
{
    reset_owned_counts();
    make_owned_channel();
    oneshot_receiver_close(rx);
    ck_assert(oneshot_sender_is_closed(tx));
    struct owned o = make_owned(3);
    ck_assert_int_eq(oneshot_send(tx, &o), CHAN_CLOSED);
    ck_assert_int_eq(destroyed_count(), 0);
    ck_assert_int_eq(*o.payload, 3);
    struct owned got = { NULL };
    ck_assert_int_eq(oneshot_recv(rx, &got), CHAN_CLOSED);
    ck_assert_ptr_null(got.payload);
    oneshot_receiver_drop(rx);
    ck_assert_int_eq(destroyed_count(), 0);
    destroy_owned(&o);
}
END_TEST

START_TEST(b40_sender_dropped_without_sending_gives_closed)
{
    make_int_channel();
    oneshot_sender_drop(tx);
    int v;
    ck_assert_int_eq(oneshot_try_recv(rx, &v), CHAN_CLOSED);
    ck_assert_int_eq(oneshot_recv(rx, &v), CHAN_CLOSED);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b40_value_sent_before_close_is_still_received)
{
    make_int_channel();
    ck_assert_int_eq(oneshot_send(tx, &(int){ 11 }), CHAN_OK);
    oneshot_receiver_close(rx);
    int v = 0;
    ck_assert_int_eq(oneshot_try_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 11);
    ck_assert_int_eq(oneshot_try_recv(rx, &v), CHAN_CLOSED);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b40_close_with_nothing_sent_ends_receiving_at_once)
{
    /* Tokio explicit_close_try_recv: the sender is still alive, but after
     * the close it can never deliver, so waiting would be for ever. */
    make_int_channel();
    oneshot_receiver_close(rx);
    int v;
    int64_t start = test_now_ms();
    ck_assert_int_eq(oneshot_try_recv(rx, &v), CHAN_CLOSED);
    ck_assert_int_eq(oneshot_recv(rx, &v), CHAN_CLOSED);
    ck_assert_int_eq(oneshot_recv_timeout(rx, &v, 5000), CHAN_CLOSED);
    ck_assert_int_lt(test_now_ms() - start, 1000);
    oneshot_sender_drop(tx);
    oneshot_receiver_drop(rx);
}
END_TEST

/* ---- Receiving: try, timeouts, closed -------------------------------------- */

START_TEST(b15_try_recv_before_the_send_is_empty)
{
    make_int_channel();
    int v = -1;
    ck_assert_int_eq(oneshot_try_recv(rx, &v), CHAN_EMPTY);
    ck_assert_int_eq(oneshot_try_recv(rx, &v), CHAN_EMPTY);
    ck_assert_int_eq(v, -1);
    ck_assert_int_eq(oneshot_send(tx, &(int){ 1 }), CHAN_OK);
    /* A completed send is visible at once, never a spurious EMPTY. */
    ck_assert_int_eq(oneshot_try_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 1);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b17_recv_timeout_times_out_after_the_timeout_and_the_channel_still_works)
{
    make_int_channel();
    int v;
    int64_t start = test_now_ms();
    ck_assert_int_eq(oneshot_recv_timeout(rx, &v, 100), CHAN_TIMEOUT);
    int64_t took = test_now_ms() - start;
    ck_assert_int_ge(took, 99);
    ck_assert_int_lt(took, 2000);
    /* A timeout consumes nothing: the value can still come. */
    ck_assert_int_eq(oneshot_send(tx, &(int){ 6 }), CHAN_OK);
    ck_assert_int_eq(oneshot_recv_timeout(rx, &v, 100), CHAN_OK);
    ck_assert_int_eq(v, 6);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b17_recv_timeout_zero_returns_a_value_already_sent)
{
    make_int_channel();
    int v = 0;
    ck_assert_int_eq(oneshot_recv_timeout(rx, &v, 0), CHAN_TIMEOUT);
    ck_assert_int_eq(oneshot_send(tx, &(int){ 8 }), CHAN_OK);
    ck_assert_int_eq(oneshot_recv_timeout(rx, &v, 0), CHAN_OK);
    ck_assert_int_eq(v, 8);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b20_closed_is_sticky_and_immediate_on_every_later_call)
{
    make_int_channel();
    oneshot_sender_drop(tx);
    int v;
    int64_t start = test_now_ms();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(oneshot_recv(rx, &v), CHAN_CLOSED);
        ck_assert_int_eq(oneshot_try_recv(rx, &v), CHAN_CLOSED);
        ck_assert_int_eq(oneshot_recv_timeout(rx, &v, 1000), CHAN_CLOSED);
    }
    ck_assert_int_lt(test_now_ms() - start, 500);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b21_recv_blocked_wakes_closed_when_the_sender_is_dropped)
{
    make_int_channel();
    struct blocked_op op;
    start_op(&op, recv_op);
    assert_still_blocked(&op);
    oneshot_sender_drop(tx);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_CLOSED);
    ck_assert_int_eq(op.value, -1);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b21_recv_timeout_blocked_wakes_closed_long_before_its_timeout)
{
    make_int_channel();
    struct blocked_op op;
    start_op(&op, recv_timeout_op); /* 10 s timeout */
    assert_still_blocked(&op);
    int64_t start = test_now_ms();
    oneshot_sender_drop(tx);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_CLOSED);
    ck_assert_int_lt(test_now_ms() - start, 5000);
    oneshot_receiver_drop(rx);
}
END_TEST

/* ---- The sender learns the receiver is gone (item 27) and close (item 28) ---- */

START_TEST(b27_is_closed_and_wait_closed_fire_when_the_receiver_closes)
{
    make_int_channel();
    ck_assert(!oneshot_sender_is_closed(tx));
    struct blocked_op op;
    start_op(&op, wait_closed_op);
    test_assert_asleep_in_wait(&op.tid, &op.done, "oneshot_sender_wait_closed_timeout");
    oneshot_receiver_close(rx);
    test_assert_returns(&op.done, "oneshot_sender_wait_closed_timeout, after the close,");
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_CLOSED);
    ck_assert(oneshot_sender_is_closed(tx));
    int64_t start = test_now_ms();
    ck_assert_int_eq(oneshot_sender_wait_closed_timeout(tx, 5000), CHAN_CLOSED);
    ck_assert_int_lt(test_now_ms() - start, 1000);
    oneshot_sender_drop(tx);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b27_wait_closed_wakes_when_the_receiver_is_dropped)
{
    make_int_channel();
    struct blocked_op op;
    start_op(&op, wait_closed_op);
    test_assert_asleep_in_wait(&op.tid, &op.done, "oneshot_sender_wait_closed_timeout");
    oneshot_receiver_drop(rx);
    test_assert_returns(&op.done, "oneshot_sender_wait_closed_timeout, after the drop,");
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_CLOSED);
    ck_assert(oneshot_sender_is_closed(tx));
    oneshot_sender_drop(tx);
}
END_TEST

START_TEST(b27_wait_closed_times_out_while_the_receiver_is_open)
{
    make_int_channel();
    int64_t start = test_now_ms();
    ck_assert_int_eq(oneshot_sender_wait_closed_timeout(tx, 60), CHAN_TIMEOUT);
    int64_t took = test_now_ms() - start;
    ck_assert_int_ge(took, 59);
    ck_assert_int_lt(took, 2000);
    ck_assert(!oneshot_sender_is_closed(tx));
    ck_assert_int_eq(oneshot_send(tx, &(int){ 2 }), CHAN_OK);
    oneshot_receiver_drop(rx);
}
END_TEST

START_TEST(b28_close_twice_is_harmless)
{
    make_int_channel();
    ck_assert_int_eq(oneshot_send(tx, &(int){ 4 }), CHAN_OK);
    oneshot_receiver_close(rx);
    oneshot_receiver_close(rx);
    int v = 0;
    ck_assert_int_eq(oneshot_recv(rx, &v), CHAN_OK);
    ck_assert_int_eq(v, 4);
    oneshot_receiver_close(rx);
    ck_assert_int_eq(oneshot_recv(rx, &v), CHAN_CLOSED);
    oneshot_receiver_drop(rx);
    /* Dropping NULL handles is allowed, like free(NULL). */
    oneshot_sender_drop(NULL);
    oneshot_receiver_drop(NULL);
}
END_TEST

/* ---- Ownership (items 30-32) -------------------------------------------------- */

START_TEST(b30_every_value_is_destroyed_exactly_once)
{
    reset_owned_counts();

    /* Received: the receiver owns it and destroys it. */
    make_owned_channel();
    struct owned o = make_owned(1);
    ck_assert_int_eq(oneshot_send(tx, &o), CHAN_OK);
    struct owned got;
    ck_assert_int_eq(oneshot_recv(rx, &got), CHAN_OK);
    ck_assert_int_eq(*got.payload, 1);
    oneshot_receiver_drop(rx);
    ck_assert_int_eq(destroyed_count(), 0); /* taken: not the channel's */
    destroy_owned(&got);

    /* Sent, never received: the channel destroys it. */
    make_owned_channel();
    o = make_owned(2);
    ck_assert_int_eq(oneshot_send(tx, &o), CHAN_OK);
    oneshot_receiver_drop(rx);
    ck_assert_int_eq(destroyed_count(), 2);

    /* Refused: the caller still owns it. */
    make_owned_channel();
    oneshot_receiver_close(rx);
    o = make_owned(3);
    ck_assert_int_eq(oneshot_send(tx, &o), CHAN_CLOSED);
    oneshot_receiver_drop(rx);
    ck_assert_int_eq(destroyed_count(), 2);
    destroy_owned(&o);

    ck_assert_int_eq(made_count(), 3);
    ck_assert_int_eq(destroyed_count(), 3);
}
END_TEST

START_TEST(b31_receiver_drop_destroys_a_value_sent_and_not_received)
{
    reset_owned_counts();
    make_owned_channel();
    struct owned o = make_owned(5);
    ck_assert_int_eq(oneshot_send(tx, &o), CHAN_OK);
    ck_assert_int_eq(destroyed_count(), 0); /* waiting in the channel */
    oneshot_receiver_close(rx);
    ck_assert_int_eq(destroyed_count(), 0); /* close keeps it receivable */
    oneshot_receiver_drop(rx);
    ck_assert_int_eq(destroyed_count(), 1);
}
END_TEST

START_TEST(b32_create_and_destroy_in_every_order_leaves_nothing_behind)
{
    reset_owned_counts();
    for (int round = 0; round < 600; round++) {
        make_owned_channel();
        struct owned o = make_owned(round), got;
        switch (round % 6) {
        case 0: /* send, receive, drop */
            ck_assert_int_eq(oneshot_send(tx, &o), CHAN_OK);
            ck_assert_int_eq(oneshot_recv(rx, &got), CHAN_OK);
            destroy_owned(&got);
            oneshot_receiver_drop(rx);
            break;
        case 1: /* send, drop the receiver unread */
            ck_assert_int_eq(oneshot_send(tx, &o), CHAN_OK);
            oneshot_receiver_drop(rx);
            break;
        case 2: /* receiver first, then a refused send */
            oneshot_receiver_drop(rx);
            ck_assert_int_eq(oneshot_send(tx, &o), CHAN_CLOSED);
            destroy_owned(&o);
            break;
        case 3: /* sender dropped unused, then the receiver */
            oneshot_sender_drop(tx);
            oneshot_receiver_drop(rx);
            destroy_owned(&o);
            break;
        case 4: /* receiver dropped, then the sender unused */
            oneshot_receiver_drop(rx);
            oneshot_sender_drop(tx);
            destroy_owned(&o);
            break;
        default: /* closed, refused, dropped */
            oneshot_receiver_close(rx);
            ck_assert_int_eq(oneshot_send(tx, &o), CHAN_CLOSED);
            destroy_owned(&o);
            oneshot_receiver_drop(rx);
            break;
        }
    }
    ck_assert_int_eq(made_count(), 600);
    ck_assert_int_eq(destroyed_count(), 600);
}
END_TEST

/* ---- Concurrency (items 33, 34, 38, 39) --------------------------------------- */

struct round_trip {
    struct oneshot_sender *tx;
    struct oneshot_receiver *rx;
    int value;
    enum chan_status status;
};

static void *send_value(void *arg)
{
    struct round_trip *rt = arg;
    rt->status = oneshot_send(rt->tx, &rt->value);
    return NULL;
}

static void *receive_value(void *arg)
{
    struct round_trip *rt = arg;
    rt->status = oneshot_recv(rt->rx, &rt->value);
    oneshot_receiver_drop(rt->rx);
    return NULL;
}

START_TEST(b33_stress_oneshot_10k_round_trips)
{
    /* crossbeam's stress_oneshot: a fresh channel every time, the value
     * crossing between two threads.  Which side reaches the channel first
     * varies from round to round, so both the "value already there" and
     * the "receiver already asleep" paths run thousands of times. */
    int rounds = scaled(10000);
    for (int i = 0; i < rounds; i++) {
        struct round_trip rt = { .value = i };
        ck_assert_int_eq(oneshot_channel(sizeof(int), NULL, &rt.tx, &rt.rx), 0);
        pthread_t t;
        if (i % 2 == 0) {
            /* Another thread sends; this one receives. */
            ck_assert_int_eq(pthread_create(&t, NULL, send_value, &rt), 0);
            int v = -1;
            ck_assert_int_eq(oneshot_recv(rt.rx, &v), CHAN_OK);
            ck_assert_int_eq(v, i);
            oneshot_receiver_drop(rt.rx);
            pthread_join(t, NULL);
            ck_assert_int_eq(rt.status, CHAN_OK);
        } else {
            /* Another thread receives; this one sends. */
            struct oneshot_sender *sender = rt.tx;
            int v = i;
            rt.value = -1;
            ck_assert_int_eq(pthread_create(&t, NULL, receive_value, &rt), 0);
            ck_assert_int_eq(oneshot_send(sender, &v), CHAN_OK);
            pthread_join(t, NULL);
            ck_assert_int_eq(rt.status, CHAN_OK);
            ck_assert_int_eq(rt.value, i);
        }
    }
}
END_TEST

struct owned_send {
    struct oneshot_sender *tx;
    struct owned value;
    enum chan_status status;
};

static void *send_owned_or_destroy(void *arg)
{
    struct owned_send *s = arg;
    s->status = oneshot_send(s->tx, &s->value);
    if (s->status == CHAN_CLOSED)
        destroy_owned(&s->value); /* refused: ours to destroy */
    return NULL;
}

START_TEST(b34_send_racing_receiver_drop_never_loses_or_double_destroys)
{
    /* Whichever wins, the value is destroyed exactly once: by the channel
     * (sent, then the receiver dropped it unread) or by the sender (its send
     * was refused).  A lost value would leak; a double destroy would be a
     * double free - and either shows in the counts. */
    reset_owned_counts();
    int rounds = scaled(2000);
    int delivered = 0, refused = 0;
    for (int i = 0; i < rounds; i++) {
        struct owned_send s;
        ck_assert_int_eq(oneshot_channel(sizeof(struct owned), destroy_owned, &s.tx, &rx), 0);
        s.value = make_owned(i);
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, send_owned_or_destroy, &s), 0);
        oneshot_receiver_drop(rx);
        pthread_join(t, NULL);
        if (s.status == CHAN_OK)
            delivered++;
        else
            refused++;
    }
    ck_assert_int_eq(delivered + refused, rounds);
    ck_assert_int_eq(made_count(), rounds);
    ck_assert_int_eq(destroyed_count(), rounds);
}
END_TEST

START_TEST(b34_send_racing_close_is_received_if_and_only_if_the_send_succeeded)
{
    /* The receiver closes, then receives: it gets the value exactly when the
     * send came first and was told CHAN_OK; otherwise both sides see
     * CHAN_CLOSED.  Never "sent OK but lost", never "refused but delivered". */
    int rounds = scaled(2000);
    for (int i = 0; i < rounds; i++) {
        struct round_trip rt = { .value = i };
        ck_assert_int_eq(oneshot_channel(sizeof(int), NULL, &rt.tx, &rt.rx), 0);
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, send_value, &rt), 0);
        oneshot_receiver_close(rt.rx);
        int v = -1;
        enum chan_status got = oneshot_recv(rt.rx, &v);
        pthread_join(t, NULL);
        ck_assert_int_eq(got, rt.status);
        if (got == CHAN_OK)
            ck_assert_int_eq(v, i);
        else
            ck_assert_int_eq(got, CHAN_CLOSED);
        oneshot_receiver_drop(rt.rx);
    }
}
END_TEST

/* The sender asks oneshot_sender_is_closed over and over while the
 * receiver closes or is dropped; once it says "closed", a send must fail. */
struct asking_sender {
    struct oneshot_sender *tx;
    atomic_long asked;
    atomic_bool done;
    enum chan_status send_status;
    int value;
};

static void *ask_until_closed_then_send(void *arg)
{
    struct asking_sender *a = arg;
    while (!oneshot_sender_is_closed(a->tx))
        atomic_fetch_add(&a->asked, 1);
    a->send_status = oneshot_send(a->tx, &a->value);
    atomic_store(&a->done, true);
    return NULL;
}

START_TEST(b27_is_closed_asked_while_the_receiver_closes_sees_it_and_the_send_then_fails)
{
    /* ThreadSanitizer reports an is_closed that reads without the lock only
     * when the receiver's close runs during the read: here it always
     * might. */
    int rounds = scaled(300);
    for (int i = 0; i < rounds; i++) {
        struct asking_sender a = { .value = i };
        ck_assert_int_eq(oneshot_channel(sizeof(int), NULL, &a.tx, &rx), 0);
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, ask_until_closed_then_send, &a), 0);
        for (int64_t give_up = test_now_ms() + TEST_WAKE_BOUND_MS; atomic_load(&a.asked) == 0;)
            ck_assert_msg(test_now_ms() <= give_up, "oneshot_sender_is_closed never answered");
        if (i % 2 == 0)
            oneshot_receiver_close(rx);
        else
            oneshot_receiver_drop(rx);
        test_assert_returns(&a.done, "a sender asking oneshot_sender_is_closed");
        pthread_join(t, NULL);
        ck_assert_int_eq(a.send_status, CHAN_CLOSED);
        ck_assert_int_eq(a.value, i);
        if (i % 2 == 0)
            oneshot_receiver_drop(rx);
    }
}
END_TEST

/* Spins until *flag is set.  Now and then it yields, so that under
 * valgrind, which runs one thread at a time, the thread that will set the
 * flag gets to run. */
static void spin_until_set(const atomic_bool *flag)
{
    for (unsigned n = 1; !atomic_load(flag); n++) {
        if (n % 256 == 0)
            sched_yield();
        else
            chan_cpu_relax();
    }
}

struct racing_send {
    struct oneshot_sender *tx;
    int value;
    atomic_bool ready, go;
    enum chan_status status;
};

static void *send_on_go(void *arg)
{
    struct racing_send *s = arg;
    atomic_store(&s->ready, true);
    spin_until_set(&s->go);
    s->status = oneshot_send(s->tx, &s->value);
    return NULL;
}

START_TEST(b34_send_racing_a_polling_receiver_that_closes_is_received_iff_it_succeeded)
{
    /* The same promise as above, made hard to keep by chance.  Both threads
     * start together; the receiver polls with try_recv a different number
     * of times each round, then closes and receives.  The polls keep the
     * channel's lock busy, so the send often has to wait for the lock -
     * and a send that looked at the receiver's state BEFORE taking the
     * lock is caught in the act: it saw "open", the close and the receive
     * go by while it waited, and the value it then stores is reported sent
     * (CHAN_OK) but never received. */
    int rounds = scaled(20000), mismatches = 0;
    enum chan_status first_sent = CHAN_OK, first_got = CHAN_OK;
    for (int i = 0; i < rounds; i++) {
        struct racing_send s = { .value = i };
        ck_assert_int_eq(oneshot_channel(sizeof(int), NULL, &s.tx, &rx), 0);
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, send_on_go, &s), 0);
        spin_until_set(&s.ready);
        atomic_store(&s.go, true);
        int v = -1;
        enum chan_status got = CHAN_EMPTY;
        for (int poll = 0; poll < i % 64 && got == CHAN_EMPTY; poll++)
            got = oneshot_try_recv(rx, &v);
        oneshot_receiver_close(rx);
        if (got == CHAN_EMPTY)
            got = oneshot_recv(rx, &v);
        pthread_join(t, NULL);
        if ((got != s.status || (got == CHAN_OK && v != i)) && mismatches++ == 0) {
            first_sent = s.status;
            first_got = got;
        }
        oneshot_receiver_drop(rx);
    }
    ck_assert_msg(mismatches == 0,
                  "%d of %d sends racing a close disagreed with the receiver; the first: "
                  "the send said %s, the receiver got %s",
                  mismatches, rounds, chan_status_name(first_sent), chan_status_name(first_got));
}
END_TEST

enum { PUBLISHED_INTS = 1000, PUBLISH_ROUNDS = 100 };

static void *publish_through_oneshot(void *arg)
{
    struct oneshot_sender *sender = arg;
    int *data = malloc(PUBLISHED_INTS * sizeof *data);
    /* Plain writes, no atomics: the channel is what orders them before the
     * reader's reads.  (Out of memory: send NULL, the reader fails.) */
    for (int i = 0; data != NULL && i < PUBLISHED_INTS; i++)
        data[i] = i * 3;
    oneshot_send(sender, &data);
    return NULL;
}

START_TEST(b38_data_written_before_send_is_visible_after_recv)
{
    for (int round = 0; round < PUBLISH_ROUNDS; round++) {
        ck_assert_int_eq(oneshot_channel(sizeof(int *), NULL, &tx, &rx), 0);
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, publish_through_oneshot, tx), 0);
        int *data = NULL;
        ck_assert_int_eq(oneshot_recv(rx, &data), CHAN_OK);
        ck_assert_ptr_nonnull(data);
        /* Under TSan, reading without the channel's happens-before edge
         * would be reported as a race. */
        for (int i = 0; i < PUBLISHED_INTS; i++)
            ck_assert_int_eq(data[i], i * 3);
        free(data);
        pthread_join(t, NULL);
        oneshot_receiver_drop(rx);
    }
}
END_TEST

START_TEST(b39_every_timed_wait_lasts_its_whole_timeout_and_not_much_more)
{
    /* On a condition variable timing on the wall clock, the monotonic
     * deadline is long past: each of these would return at once. */
    make_int_channel();
    int v;
    for (int i = 0; i < 5; i++) {
        int64_t start = test_now_us();
        ck_assert_int_eq(oneshot_recv_timeout(rx, &v, 20), CHAN_TIMEOUT);
        test_assert_waited(start, 20, "oneshot_recv_timeout");
        start = test_now_us();
        ck_assert_int_eq(oneshot_sender_wait_closed_timeout(tx, 20), CHAN_TIMEOUT);
        test_assert_waited(start, 20, "oneshot_sender_wait_closed_timeout");
    }
    oneshot_sender_drop(tx);
    oneshot_receiver_drop(rx);
}
END_TEST

Suite *oneshot_suite(void);
Suite *oneshot_suite(void)
{
    Suite *s = suite_create("oneshot");

    TCase *tc = tcase_create("construction");
    tcase_add_test(tc, b02_zero_elem_size_is_refused_with_einval);
    suite_add_tcase(s, tc);

    tc = tcase_create("delivery");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b40_value_sent_is_received);
    tcase_add_test(tc, b40_a_larger_value_arrives_whole);
    tcase_add_test(tc, b40_second_receive_after_taking_the_value_is_closed);
    tcase_add_test(tc, b40_recv_blocked_before_send_is_woken_by_the_send);
    tcase_add_test(tc, b40_send_after_receiver_dropped_fails_and_leaves_the_value);
    tcase_add_test(tc, b40_send_after_receiver_close_fails_and_leaves_the_value);
    tcase_add_test(tc, b40_sender_dropped_without_sending_gives_closed);
    tcase_add_test(tc, b40_value_sent_before_close_is_still_received);
    tcase_add_test(tc, b40_close_with_nothing_sent_ends_receiving_at_once);
    suite_add_tcase(s, tc);

    tc = tcase_create("recv");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b15_try_recv_before_the_send_is_empty);
    tcase_add_test(tc, b17_recv_timeout_times_out_after_the_timeout_and_the_channel_still_works);
    tcase_add_test(tc, b17_recv_timeout_zero_returns_a_value_already_sent);
    tcase_add_test(tc, b20_closed_is_sticky_and_immediate_on_every_later_call);
    tcase_add_test(tc, b21_recv_blocked_wakes_closed_when_the_sender_is_dropped);
    tcase_add_test(tc, b21_recv_timeout_blocked_wakes_closed_long_before_its_timeout);
    suite_add_tcase(s, tc);

    tc = tcase_create("close");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b27_is_closed_and_wait_closed_fire_when_the_receiver_closes);
    tcase_add_test(tc, b27_wait_closed_wakes_when_the_receiver_is_dropped);
    tcase_add_test(tc, b27_wait_closed_times_out_while_the_receiver_is_open);
    tcase_add_test(tc, b27_is_closed_asked_while_the_receiver_closes_sees_it_and_the_send_then_fails);
    tcase_add_test(tc, b28_close_twice_is_harmless);
    suite_add_tcase(s, tc);

    tc = tcase_create("ownership");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b30_every_value_is_destroyed_exactly_once);
    tcase_add_test(tc, b31_receiver_drop_destroys_a_value_sent_and_not_received);
    tcase_add_test(tc, b32_create_and_destroy_in_every_order_leaves_nothing_behind);
    suite_add_tcase(s, tc);

    tc = tcase_create("stress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, b33_stress_oneshot_10k_round_trips);
    tcase_add_test(tc, b34_send_racing_receiver_drop_never_loses_or_double_destroys);
    tcase_add_test(tc, b34_send_racing_close_is_received_if_and_only_if_the_send_succeeded);
    tcase_add_test(tc, b34_send_racing_a_polling_receiver_that_closes_is_received_iff_it_succeeded);
    tcase_add_test(tc, b38_data_written_before_send_is_visible_after_recv);
    tcase_add_test(tc, b39_every_timed_wait_lasts_its_whole_timeout_and_not_much_more);
    suite_add_tcase(s, tc);

    return s;
}
