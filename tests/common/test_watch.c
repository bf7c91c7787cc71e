/*
 * test_watch.c - the watch channel against the behaviour list
 * (docs/channels.md says where its items come from).
 *
 * Each test is named after the behaviour it checks: `bNN_` is the item's
 * number in that list.  Item 44 is the watch's own (the initial value is
 * not a change, sends coalesce, changed/has_changed after the senders go,
 * sending with no receivers); the general items that make sense for a
 * channel holding one value are checked too.  Items about queues and
 * capacity do not apply: a watch holds exactly one value.
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

#include "test_support.h"
#include "watch.h"

/* ---- Helpers --------------------------------------------------------------- */

/* A stress loop's size `n`, divided by the stress divisor (see
 * test_support.h) for slow runs such as valgrind, but at least 1. */
static int scaled(int n)
{
    long s = n / test_stress_divisor();
    return s > 0 ? (int)s : 1;
}

static struct watch_sender *tx;
static struct watch_receiver *rx;

static void make_int_channel(int initial)
{
    ck_assert_int_eq(watch_channel(sizeof(int), &initial, NULL, NULL, &tx, &rx), 0);
}

static int borrow_int(struct watch_receiver *r)
{
    int v = -1;
    watch_borrow(r, &v);
    return v;
}

/* has_changed, asserting the channel is open. */
static bool has_changed(struct watch_receiver *r)
{
    bool changed = false;
    ck_assert_int_eq(watch_has_changed(r, &changed), CHAN_OK);
    return changed;
}

/* A thread that waits in watch_changed and records how it ended. */
struct blocked_op {
    pthread_t thread;
    struct watch_receiver *rx;
    atomic_bool done;
    enum chan_status status;
};

static void *changed_op(void *arg)
{
    struct blocked_op *op = arg;
    op->status = watch_changed(op->rx);
    atomic_store(&op->done, true);
    return NULL;
}

static void *changed_timeout_op(void *arg)
{
    struct blocked_op *op = arg;
    op->status = watch_changed_timeout(op->rx, 10000);
    atomic_store(&op->done, true);
    return NULL;
}

static void start_op(struct blocked_op *op, void *(*fn)(void *), struct watch_receiver *r)
{
    memset(op, 0, sizeof *op);
    op->rx = r;
    ck_assert_int_eq(pthread_create(&op->thread, NULL, fn, op), 0);
}

/* Gives the thread time to reach its wait, then checks it is still there. */
static void assert_still_blocked(struct blocked_op *op)
{
    test_sleep_ms(50);
    ck_assert_msg(!atomic_load(&op->done), "changed() returned (%s) but should still be waiting",
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
    if (to->payload != NULL) /* the borrowing test asserts non-NULL */
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

static void make_owned_channel(int initial)
{
    struct owned first = make_owned(initial);
    ck_assert_int_eq(watch_channel(sizeof first, &first, clone_owned, destroy_owned, &tx, &rx), 0);
}

/* Borrows an owned value, returns its payload and destroys the copy. */
static int borrow_owned(struct watch_receiver *r, bool and_update)
{
    struct owned copy = { NULL };
    if (and_update)
        watch_borrow_and_update(r, &copy);
    else
        watch_borrow(r, &copy);
    ck_assert_ptr_nonnull(copy.payload);
    int v = *copy.payload;
    destroy_owned(&copy);
    return v;
}

/* ---- Construction -------------------------------------------------------------- */

START_TEST(b02_zero_elem_size_or_no_initial_value_is_refused_with_einval)
{
    struct watch_sender *t = (void *)1;
    struct watch_receiver *r = (void *)1;
    int initial = 1;
    ck_assert_int_eq(watch_channel(0, &initial, NULL, NULL, &t, &r), EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(watch_channel(sizeof initial, NULL, NULL, NULL, &t, &r), EINVAL);
    ck_assert_int_eq(watch_channel(SIZE_MAX, &initial, NULL, NULL, &t, &r), EINVAL);
    ck_assert_int_eq(watch_channel(sizeof initial, &initial, NULL, NULL, NULL, &r), EINVAL);
}
END_TEST

START_TEST(b44_initial_value_is_readable_and_is_not_a_change)
{
    make_int_channel(10);
    ck_assert_int_eq(borrow_int(rx), 10);
    ck_assert(!has_changed(rx));
    ck_assert_uint_eq(watch_receiver_count(tx), 1);
    int64_t start = test_now_ms();
    ck_assert_int_eq(watch_changed_timeout(rx, 50), CHAN_TIMEOUT);
    ck_assert_int_ge(test_now_ms() - start, 49);
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
}
END_TEST

/* ---- Item 44: changes, coalescing, closing --------------------------------------- */

START_TEST(b44_a_send_is_a_change_until_marked_seen)
{
    make_int_channel(0);
    ck_assert_int_eq(watch_send(tx, &(int){ 1 }), CHAN_OK);
    ck_assert(has_changed(rx));
    /* borrow reads the new value but does not mark it seen... */
    ck_assert_int_eq(borrow_int(rx), 1);
    ck_assert(has_changed(rx));
    /* ...borrow_and_update does. */
    int v = -1;
    watch_borrow_and_update(rx, &v);
    ck_assert_int_eq(v, 1);
    ck_assert(!has_changed(rx));
    /* changed() marks seen too. */
    ck_assert_int_eq(watch_send(tx, &(int){ 2 }), CHAN_OK);
    ck_assert_int_eq(watch_changed(rx), CHAN_OK);
    ck_assert(!has_changed(rx));
    ck_assert_int_eq(borrow_int(rx), 2);
    ck_assert_int_eq(watch_changed_timeout(rx, 0), CHAN_TIMEOUT);
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b44_several_sends_before_a_read_coalesce_to_the_latest)
{
    make_int_channel(0);
    //> snippet coalesce
    for (int i = 1; i <= 5; i++)
        ck_assert_int_eq(watch_send(tx, &i), CHAN_OK);
    ck_assert_int_eq(watch_changed(rx), CHAN_OK);      /* one notification... */
    ck_assert_int_eq(borrow_int(rx), 5);                /* ...for the latest value */
    ck_assert_int_eq(watch_changed_timeout(rx, 0), CHAN_TIMEOUT); /* and only one */
    //< snippet coalesce
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b44_changed_after_last_sender_drop_is_ok_if_unseen_then_closed)
{
    /* Tokio changed_succeeds_on_closed_channel_with_unseen_value. */
    make_int_channel(0);
    ck_assert_int_eq(watch_send(tx, &(int){ 7 }), CHAN_OK);
    watch_sender_drop(tx);
    ck_assert_int_eq(watch_changed(rx), CHAN_OK);
    ck_assert_int_eq(borrow_int(rx), 7);
    ck_assert_int_eq(watch_changed(rx), CHAN_CLOSED);
    ck_assert_int_eq(watch_changed_timeout(rx, 1000), CHAN_CLOSED);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b44_changed_after_last_sender_drop_is_closed_if_seen)
{
    /* Tokio changed_errors_on_closed_channel_with_seen_value. */
    make_int_channel(0);
    ck_assert_int_eq(watch_send(tx, &(int){ 7 }), CHAN_OK);
    int v;
    watch_borrow_and_update(rx, &v);
    watch_sender_drop(tx);
    ck_assert_int_eq(watch_changed(rx), CHAN_CLOSED);
    ck_assert_int_eq(borrow_int(rx), 7); /* the value outlives the senders */
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b44_has_changed_reports_closed_if_and_only_if_every_sender_is_gone)
{
    /* Tokio has_changed_errors_on_closed_channel_with_(un)seen_value. */
    make_int_channel(0);
    struct watch_sender *second = watch_sender_clone(tx);
    ck_assert_ptr_nonnull(second);
    ck_assert_int_eq(watch_send(second, &(int){ 1 }), CHAN_OK);
    watch_sender_drop(tx);
    ck_assert(has_changed(rx)); /* one sender left: still open */
    watch_sender_drop(second);
    bool changed = false;
    ck_assert_int_eq(watch_has_changed(rx, &changed), CHAN_CLOSED); /* unseen, but closed */
    ck_assert_int_eq(watch_changed(rx), CHAN_OK);                   /* changed drains it */
    ck_assert_int_eq(watch_has_changed(rx, &changed), CHAN_CLOSED); /* seen, closed */
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b44_send_with_no_receivers_fails_and_does_not_store)
{
    /* Tokio reopened_after_subscribe, with owned values to check nothing
     * was taken. */
    reset_owned_counts();
    make_owned_channel(1);
    watch_receiver_drop(rx);
    ck_assert_uint_eq(watch_receiver_count(tx), 0);
    struct owned refused = make_owned(2);
    ck_assert_int_eq(watch_send(tx, &refused), CHAN_CLOSED);
    ck_assert_int_eq(destroyed_count(), 0); /* the old value was not replaced */
    ck_assert_int_eq(*refused.payload, 2);              /* and ours was not taken */
    destroy_owned(&refused);

    rx = watch_subscribe(tx);
    ck_assert_ptr_nonnull(rx);
    ck_assert_int_eq(borrow_owned(rx, false), 1);
    struct owned accepted = make_owned(3);
    ck_assert_int_eq(watch_send(tx, &accepted), CHAN_OK); /* reopened */
    ck_assert_int_eq(borrow_owned(rx, true), 3);
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
    ck_assert_int_eq(made_count(), destroyed_count());
}
END_TEST

START_TEST(b44_subscribe_counts_the_current_value_as_seen)
{
    make_int_channel(0);
    ck_assert_int_eq(watch_send(tx, &(int){ 1 }), CHAN_OK);
    struct watch_receiver *late = watch_subscribe(tx);
    ck_assert_ptr_nonnull(late);
    ck_assert(!has_changed(late));
    ck_assert(has_changed(rx));
    ck_assert_int_eq(borrow_int(late), 1);
    ck_assert_int_eq(watch_send(tx, &(int){ 2 }), CHAN_OK);
    ck_assert(has_changed(late));
    watch_receiver_drop(late);
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b44_receiver_clone_has_seen_what_the_original_has_seen)
{
    make_int_channel(0);
    ck_assert_int_eq(watch_send(tx, &(int){ 1 }), CHAN_OK);
    struct watch_receiver *unseen_copy = watch_receiver_clone(rx);
    ck_assert(has_changed(unseen_copy));
    ck_assert_int_eq(watch_changed(rx), CHAN_OK);
    struct watch_receiver *seen_copy = watch_receiver_clone(rx);
    ck_assert(!has_changed(seen_copy));
    ck_assert(has_changed(unseen_copy)); /* each receiver tracks its own */
    ck_assert_uint_eq(watch_receiver_count(tx), 3);
    watch_receiver_drop(unseen_copy);
    watch_receiver_drop(seen_copy);
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
}
END_TEST

struct pair {
    long a, b; /* always equal in a value that did not tear */
};

static void *send_pairs(void *arg)
{
    int n = *(int *)arg;
    for (long i = 1; i <= n; i++)
        watch_send(tx, &(struct pair){ i, i });
    watch_sender_drop(tx);
    return NULL;
}

START_TEST(b44_borrow_never_tears_while_a_sender_writes)
{
    struct pair initial = { 0, 0 };
    ck_assert_int_eq(watch_channel(sizeof initial, &initial, NULL, NULL, &tx, &rx), 0);
    int n = scaled(20000);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, send_pairs, &n), 0);
    long last = 0;
    for (;;) {
        struct pair p;
        watch_borrow(rx, &p);
        ck_assert_int_eq(p.a, p.b);
        ck_assert_int_ge(p.a, last); /* never goes back in time */
        last = p.a;
        bool changed;
        if (watch_has_changed(rx, &changed) == CHAN_CLOSED)
            break;
    }
    pthread_join(t, NULL);
    struct pair final;
    watch_borrow(rx, &final);
    ck_assert_int_eq(final.a, n);
    watch_receiver_drop(rx);
}
END_TEST

struct version_reader {
    pthread_t thread;
    struct watch_receiver *rx;
    int last;
    int notifications;
    int went_backwards;
};

static void *read_latest_until_closed(void *arg)
{
    struct version_reader *r = arg;
    while (watch_changed(r->rx) == CHAN_OK) {
        int v;
        watch_borrow(r->rx, &v);
        if (v < r->last)
            r->went_backwards++;
        r->last = v;
        r->notifications++;
    }
    watch_receiver_drop(r->rx);
    return NULL;
}

START_TEST(b44_readers_in_threads_see_increasing_values_ending_with_the_last)
{
    /* A sender much faster than its readers: they miss values (that is the
     * point of a watch) but never see one go backwards, are told of at
     * most one change per send, and always end on the last value sent - it
     * is unseen when the sender goes, so changed() reports it before
     * CHAN_CLOSED. */
    enum { READERS = 3 };
    int n = scaled(20000);
    make_int_channel(0);
    struct version_reader readers[READERS];
    for (int i = 0; i < READERS; i++) {
        memset(&readers[i], 0, sizeof readers[i]);
        readers[i].rx = i == 0 ? rx : watch_subscribe(tx);
        ck_assert_ptr_nonnull(readers[i].rx);
    }
    rx = NULL;
    for (int i = 0; i < READERS; i++)
        ck_assert_int_eq(pthread_create(&readers[i].thread, NULL, read_latest_until_closed,
                                        &readers[i]), 0);
    for (int i = 1; i <= n; i++)
        ck_assert_int_eq(watch_send(tx, &i), CHAN_OK);
    watch_sender_drop(tx);
    for (int i = 0; i < READERS; i++) {
        pthread_join(readers[i].thread, NULL);
        ck_assert_int_eq(readers[i].went_backwards, 0);
        ck_assert_int_eq(readers[i].last, n);
        ck_assert_int_ge(readers[i].notifications, 1);
        ck_assert_int_le(readers[i].notifications, n);
    }
}
END_TEST

/* ---- Waiting (items 16, 17, 20-22, 27) ------------------------------------------- */

START_TEST(b16_changed_blocks_until_a_send)
{
    make_int_channel(0);
    struct blocked_op op;
    start_op(&op, changed_op, rx);
    assert_still_blocked(&op);
    ck_assert_int_eq(watch_send(tx, &(int){ 5 }), CHAN_OK);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_OK);
    ck_assert_int_eq(borrow_int(rx), 5);
    ck_assert(!has_changed(rx)); /* changed() marked it seen */
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b16_one_send_wakes_every_waiting_receiver)
{
    enum { WAITERS = 3 };
    make_int_channel(0);
    struct watch_receiver *receivers[WAITERS] = { rx, watch_subscribe(tx), watch_receiver_clone(rx) };
    struct blocked_op ops[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        start_op(&ops[i], i == 1 ? changed_timeout_op : changed_op, receivers[i]);
    for (int i = 0; i < WAITERS; i++)
        assert_still_blocked(&ops[i]);
    ck_assert_int_eq(watch_send(tx, &(int){ 8 }), CHAN_OK);
    for (int i = 0; i < WAITERS; i++) {
        join_op(&ops[i]);
        ck_assert_int_eq(ops[i].status, CHAN_OK);
        ck_assert_int_eq(borrow_int(receivers[i]), 8);
        watch_receiver_drop(receivers[i]);
    }
    watch_sender_drop(tx);
}
END_TEST

START_TEST(b17_changed_timeout_times_out_after_the_timeout)
{
    make_int_channel(0);
    int64_t start = test_now_ms();
    ck_assert_int_eq(watch_changed_timeout(rx, 100), CHAN_TIMEOUT);
    int64_t took = test_now_ms() - start;
    ck_assert_int_ge(took, 99);
    ck_assert_int_lt(took, 2000);
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b17_changed_timeout_zero_reports_an_unseen_change)
{
    make_int_channel(0);
    ck_assert_int_eq(watch_send(tx, &(int){ 1 }), CHAN_OK);
    ck_assert_int_eq(watch_changed_timeout(rx, 0), CHAN_OK);
    ck_assert_int_eq(watch_changed_timeout(rx, 0), CHAN_TIMEOUT);
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b20_closed_is_sticky_and_immediate_on_every_later_call)
{
    make_int_channel(3);
    watch_sender_drop(tx);
    int64_t start = test_now_ms();
    bool changed;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(watch_changed(rx), CHAN_CLOSED);
        ck_assert_int_eq(watch_changed_timeout(rx, 1000), CHAN_CLOSED);
        ck_assert_int_eq(watch_has_changed(rx, &changed), CHAN_CLOSED);
    }
    ck_assert_int_lt(test_now_ms() - start, 500);
    ck_assert_int_eq(borrow_int(rx), 3);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b21_waiting_receivers_wake_closed_when_the_last_sender_goes)
{
    make_int_channel(0);
    struct watch_receiver *other = watch_receiver_clone(rx);
    struct blocked_op a, b;
    start_op(&a, changed_op, rx);
    start_op(&b, changed_timeout_op, other); /* 10 s timeout */
    assert_still_blocked(&a);
    assert_still_blocked(&b);
    int64_t start = test_now_ms();
    watch_sender_drop(tx);
    join_op(&a);
    join_op(&b);
    ck_assert_int_eq(a.status, CHAN_CLOSED);
    ck_assert_int_eq(b.status, CHAN_CLOSED);
    ck_assert_int_lt(test_now_ms() - start, 5000);
    watch_receiver_drop(other);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b22_dropping_one_of_several_senders_does_not_close)
{
    /* Tokio receiver_is_notified_when_last_sender_is_dropped, first half. */
    make_int_channel(0);
    struct watch_sender *second = watch_sender_clone(tx);
    struct blocked_op op;
    start_op(&op, changed_op, rx);
    watch_sender_drop(second);
    assert_still_blocked(&op); /* not woken with CHAN_CLOSED */
    ck_assert(!has_changed(rx));
    watch_sender_drop(tx);
    join_op(&op);
    ck_assert_int_eq(op.status, CHAN_CLOSED);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b27_receiver_count_follows_subscribe_clone_and_drop)
{
    make_int_channel(0);
    ck_assert_uint_eq(watch_receiver_count(tx), 1);
    struct watch_receiver *a = watch_subscribe(tx);
    struct watch_receiver *b = watch_receiver_clone(a);
    struct watch_sender *second = watch_sender_clone(tx);
    ck_assert_uint_eq(watch_receiver_count(tx), 3);
    ck_assert_uint_eq(watch_receiver_count(second), 3);
    watch_receiver_drop(a);
    watch_receiver_drop(rx);
    ck_assert_uint_eq(watch_receiver_count(tx), 1);
    watch_receiver_drop(b);
    ck_assert_uint_eq(watch_receiver_count(second), 0);
    ck_assert_int_eq(watch_send(second, &(int){ 1 }), CHAN_CLOSED);
    watch_sender_drop(second);
    watch_sender_drop(tx);
    watch_sender_drop(NULL);   /* ignored, like free(NULL) */
    watch_receiver_drop(NULL);
}
END_TEST

/* Queries, each asked by its own test_querier thread while other threads
 * send, subscribe and drop, and the last sender goes.  The channel always
 * has the querying receiver and at most one more; that receiver never
 * marks anything seen, so has_changed can only move forward: unchanged,
 * then changed, then closed. */
enum has_changed_answer { ANSWER_UNCHANGED, ANSWER_CHANGED, ANSWER_CLOSED };

static bool query_receiver_count(void *state)
{
    (void)state;
    size_t n = watch_receiver_count(tx);
    return n >= 1 && n <= 2;
}

static bool query_has_changed_moves_forward(void *last_answer)
{
    enum has_changed_answer *last = last_answer;
    bool changed = false;
    enum has_changed_answer now = watch_has_changed(rx, &changed) == CHAN_CLOSED ? ANSWER_CLOSED
                                  : changed                                    ? ANSWER_CHANGED
                                                                               : ANSWER_UNCHANGED;
    bool possible = now >= *last;
    *last = now;
    return possible;
}

struct value_sender {
    struct watch_sender *tx;
    int count;
};

static void *send_values_then_drop(void *arg)
{
    struct value_sender *v = arg;
    for (int i = 1; i <= v->count; i++)
        ck_assert_int_eq(watch_send(v->tx, &i), CHAN_OK);
    watch_sender_drop(v->tx);
    return NULL;
}

static void *subscribe_and_drop(void *arg)
{
    int count = *(int *)arg;
    for (int i = 0; i < count; i++)
        watch_receiver_drop(watch_subscribe(tx));
    return NULL;
}

START_TEST(b27_queries_answer_sanely_while_other_threads_send_subscribe_and_close)
{
    make_int_channel(0);
    enum has_changed_answer last = ANSWER_UNCHANGED;
    struct test_querier count_q, changed_q;
    test_querier_start(&count_q, "watch_receiver_count", query_receiver_count, NULL);
    test_querier_start(&changed_q, "watch_has_changed", query_has_changed_moves_forward, &last);
    struct value_sender v = { watch_sender_clone(tx), scaled(3000) };
    pthread_t sender, churner;
    ck_assert_int_eq(pthread_create(&sender, NULL, send_values_then_drop, &v), 0);
    ck_assert_int_eq(pthread_create(&churner, NULL, subscribe_and_drop, &v.count), 0);
    pthread_join(sender, NULL);
    pthread_join(churner, NULL);
    test_querier_stop(&count_q);
    /* The last sender goes while has_changed is being asked. */
    watch_sender_drop(tx);
    test_querier_wait_for_calls(&changed_q, 2);
    test_querier_stop(&changed_q);
    ck_assert_int_eq(last, ANSWER_CLOSED);
    ck_assert_int_eq(borrow_int(rx), v.count);
    watch_receiver_drop(rx);
}
END_TEST

/* ---- Ownership (items 30-32) ------------------------------------------------------ */

START_TEST(b30_every_value_and_every_copy_is_destroyed_exactly_once)
{
    reset_owned_counts();
    make_owned_channel(0);
    for (int i = 1; i <= 4; i++) {
        struct owned o = make_owned(i);
        ck_assert_int_eq(watch_send(tx, &o), CHAN_OK);
        /* Each send destroys the value it replaces, at once. */
        ck_assert_int_eq(destroyed_count(), i);
    }
    ck_assert_int_eq(borrow_owned(rx, false), 4); /* a copy, destroyed by us */
    ck_assert_int_eq(borrow_owned(rx, true), 4);
    ck_assert_int_eq(destroyed_count(), 6);
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
    /* 1 initial + 4 sent + 2 copies, and the channel destroyed the last. */
    ck_assert_int_eq(made_count(), 7);
    ck_assert_int_eq(destroyed_count(), 7);
}
END_TEST

START_TEST(b31_the_value_lives_until_the_last_handle_of_either_kind_goes)
{
    reset_owned_counts();
    make_owned_channel(5);
    watch_sender_drop(tx);
    ck_assert_int_eq(destroyed_count(), 0);
    ck_assert_int_eq(borrow_owned(rx, false), 5); /* readable after the senders */
    ck_assert_int_eq(destroyed_count(), 1); /* just our copy */
    watch_receiver_drop(rx);
    ck_assert_int_eq(destroyed_count(), 2);

    /* The other order: receivers gone first, the value stays for a later
     * subscriber until the last sender goes. */
    make_owned_channel(6);
    watch_receiver_drop(rx);
    ck_assert_int_eq(destroyed_count(), 2);
    watch_sender_drop(tx);
    ck_assert_int_eq(destroyed_count(), 3);
    ck_assert_int_eq(made_count(), 3);
}
END_TEST

START_TEST(b32_create_and_destroy_loops_leave_nothing_behind)
{
    reset_owned_counts();
    for (int round = 0; round < 300; round++) {
        make_owned_channel(round);
        struct watch_sender *second = watch_sender_clone(tx);
        struct watch_receiver *other = round % 2 ? watch_subscribe(tx) : watch_receiver_clone(rx);
        for (int i = 0; i < round % 4; i++) {
            struct owned o = make_owned(i);
            ck_assert_int_eq(watch_send(i % 2 ? tx : second, &o), CHAN_OK);
        }
        if (round % 3 == 0)
            borrow_owned(other, true);
        if (round % 2) {
            watch_sender_drop(tx);
            watch_receiver_drop(rx);
            watch_sender_drop(second);
            watch_receiver_drop(other);
        } else {
            watch_receiver_drop(other);
            watch_receiver_drop(rx);
            watch_sender_drop(second);
            watch_sender_drop(tx);
        }
    }
    ck_assert_int_eq(made_count(), destroyed_count());
}
END_TEST

/* ---- Concurrency (items 35, 38, 39) --------------------------------------------- */

static void *drop_sender(void *arg)
{
    watch_sender_drop(arg);
    return NULL;
}

START_TEST(b35_concurrent_drops_of_many_senders_close_exactly_once)
{
    enum { SENDERS = 16 };
    int rounds = scaled(50);
    for (int round = 0; round < rounds; round++) {
        make_int_channel(0);
        struct watch_sender *clones[SENDERS];
        for (int i = 0; i < SENDERS; i++)
            clones[i] = watch_sender_clone(tx);
        ck_assert_int_eq(watch_send(tx, &round), CHAN_OK);
        watch_sender_drop(tx);
        pthread_t threads[SENDERS];
        for (int i = 0; i < SENDERS; i++)
            ck_assert_int_eq(pthread_create(&threads[i], NULL, drop_sender, clones[i]), 0);
        /* The change made before the drops is reported once, then the
         * close, once all sixteen are gone. */
        ck_assert_int_eq(watch_changed(rx), CHAN_OK);
        ck_assert_int_eq(borrow_int(rx), round);
        ck_assert_int_eq(watch_changed(rx), CHAN_CLOSED);
        for (int i = 0; i < SENDERS; i++)
            pthread_join(threads[i], NULL);
        ck_assert_int_eq(watch_changed(rx), CHAN_CLOSED);
        watch_receiver_drop(rx);
    }
}
END_TEST

/* A value that owns a block of ints, deep-copied by clone_block. */
struct block {
    int round;
    int *data;
};

enum { BLOCK_INTS = 500, BLOCK_ROUNDS = 300 };

static void clone_block(void *dst, const void *src)
{
    const struct block *from = src;
    struct block *to = dst;
    to->round = from->round;
    to->data = malloc(BLOCK_INTS * sizeof(int));
    if (to->data != NULL)
        memcpy(to->data, from->data, BLOCK_INTS * sizeof(int));
}

static void destroy_block(void *elem)
{
    free(((struct block *)elem)->data);
}

static void *publish_blocks(void *arg)
{
    (void)arg;
    for (int round = 1; round <= BLOCK_ROUNDS; round++) {
        struct block b = { round, malloc(BLOCK_INTS * sizeof(int)) };
        if (b.data == NULL)
            break; /* out of memory: the reader's final check fails */
        /* Plain writes, no atomics: the channel is what orders them before
         * the reader's reads. */
        for (int i = 0; i < BLOCK_INTS; i++)
            b.data[i] = round * 1000 + i;
        watch_send(tx, &b);
    }
    watch_sender_drop(tx);
    return NULL;
}

START_TEST(b38_data_written_before_send_is_visible_after_changed)
{
    struct block initial = { 0, malloc(BLOCK_INTS * sizeof(int)) };
    ck_assert_ptr_nonnull(initial.data);
    for (int i = 0; i < BLOCK_INTS; i++)
        initial.data[i] = i; /* round 0 */
    ck_assert_int_eq(watch_channel(sizeof initial, &initial, clone_block, destroy_block, &tx, &rx), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, publish_blocks, NULL), 0);
    int last_round = 0;
    while (watch_changed(rx) == CHAN_OK) {
        struct block b;
        watch_borrow(rx, &b);
        ck_assert_ptr_nonnull(b.data);
        /* Under TSan, reading without the channel's happens-before edge
         * would be reported as a race; a torn copy would mix rounds. */
        for (int i = 0; i < BLOCK_INTS; i++)
            ck_assert_int_eq(b.data[i], b.round * 1000 + i);
        ck_assert_int_gt(b.round, last_round);
        last_round = b.round;
        free(b.data);
    }
    pthread_join(t, NULL);
    ck_assert_int_eq(last_round, BLOCK_ROUNDS);
    watch_receiver_drop(rx);
}
END_TEST

START_TEST(b39_every_timed_wait_lasts_its_whole_timeout_and_not_much_more)
{
    /* On a condition variable timing on the wall clock, the monotonic
     * deadline is long past: each wait would return at once. */
    make_int_channel(0);
    for (int i = 0; i < 10; i++) {
        int64_t start = test_now_us();
        ck_assert_int_eq(watch_changed_timeout(rx, 20), CHAN_TIMEOUT);
        test_assert_waited(start, 20, "watch_changed_timeout");
    }
    watch_sender_drop(tx);
    watch_receiver_drop(rx);
}
END_TEST

Suite *watch_suite(void);
Suite *watch_suite(void)
{
    Suite *s = suite_create("watch");

    TCase *tc = tcase_create("construction");
    tcase_add_test(tc, b02_zero_elem_size_or_no_initial_value_is_refused_with_einval);
    tcase_add_test(tc, b44_initial_value_is_readable_and_is_not_a_change);
    suite_add_tcase(s, tc);

    tc = tcase_create("changes");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b44_a_send_is_a_change_until_marked_seen);
    tcase_add_test(tc, b44_several_sends_before_a_read_coalesce_to_the_latest);
    tcase_add_test(tc, b44_changed_after_last_sender_drop_is_ok_if_unseen_then_closed);
    tcase_add_test(tc, b44_changed_after_last_sender_drop_is_closed_if_seen);
    tcase_add_test(tc, b44_has_changed_reports_closed_if_and_only_if_every_sender_is_gone);
    tcase_add_test(tc, b44_send_with_no_receivers_fails_and_does_not_store);
    tcase_add_test(tc, b44_subscribe_counts_the_current_value_as_seen);
    tcase_add_test(tc, b44_receiver_clone_has_seen_what_the_original_has_seen);
    tcase_add_test(tc, b44_borrow_never_tears_while_a_sender_writes);
    tcase_add_test(tc, b44_readers_in_threads_see_increasing_values_ending_with_the_last);
    suite_add_tcase(s, tc);

    tc = tcase_create("waiting");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b16_changed_blocks_until_a_send);
    tcase_add_test(tc, b16_one_send_wakes_every_waiting_receiver);
    tcase_add_test(tc, b17_changed_timeout_times_out_after_the_timeout);
    tcase_add_test(tc, b17_changed_timeout_zero_reports_an_unseen_change);
    tcase_add_test(tc, b20_closed_is_sticky_and_immediate_on_every_later_call);
    tcase_add_test(tc, b21_waiting_receivers_wake_closed_when_the_last_sender_goes);
    tcase_add_test(tc, b22_dropping_one_of_several_senders_does_not_close);
    tcase_add_test(tc, b27_receiver_count_follows_subscribe_clone_and_drop);
    suite_add_tcase(s, tc);

    tc = tcase_create("ownership");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, b30_every_value_and_every_copy_is_destroyed_exactly_once);
    tcase_add_test(tc, b31_the_value_lives_until_the_last_handle_of_either_kind_goes);
    tcase_add_test(tc, b32_create_and_destroy_loops_leave_nothing_behind);
    suite_add_tcase(s, tc);

    tc = tcase_create("stress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, b35_concurrent_drops_of_many_senders_close_exactly_once);
    tcase_add_test(tc, b38_data_written_before_send_is_visible_after_changed);
    tcase_add_test(tc, b39_every_timed_wait_lasts_its_whole_timeout_and_not_much_more);
    tcase_add_test(tc, b27_queries_answer_sanely_while_other_threads_send_subscribe_and_close);
    suite_add_tcase(s, tc);

    return s;
}
