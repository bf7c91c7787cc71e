/*
 * test_08.c - chapter 08: the mpsc channel you built from one mutex and two
 * condition variables, held to the same tests as common's.
 *
 * Run with `make test-08` (your mpsc.c in chapters/) or `make test-08
 * SOLUTION=1`.  This binary runs two suites, the second only once the
 * first passes (main() says why):
 *
 *   - "mpsc": common's own mpsc suite (tests/common/test_mpsc.c), linked
 *     with the chapter's mpsc.c in place of common/mpsc.c.  Its tests are
 *     named after the behaviour they check; its stress tests are what
 *     catch a wait written with `if` instead of `while`.
 *   - "08-build-your-own-channel": a few tests of this chapter's own,
 *     whose failures point to the section of docs/08-build-your-own-channel.md
 *     to reread, and a run of the chapter's program.
 *
 * A thread that should wake up is given a generous bound (WAKE_BOUND_MS) to
 * do so: a correct channel wakes it at once, and the bound only decides how
 * long a broken one takes to fail, with a message, instead of hanging.
 */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/test_mpsc.h"
#include "mpsc.h"
#include "program_runner.h"
#include "test_support.h"

#define WAKE_BOUND_MS 10000
#define PROGRAM_BOUND_MS 60000

/* ---- A thread blocked in one channel call --------------------------------- */

enum op_kind { OP_SEND, OP_RECV, OP_WAIT_CLOSED, OP_RESERVE_MANY };

struct op {
    pthread_t thread;
    enum op_kind kind;
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    int value;              /* OP_RESERVE_MANY: how many slots */
    struct mpsc_permit permit; /* OP_RESERVE_MANY's, on CHAN_OK */
    enum chan_status status;
    bool done;              /* under done_lock */
};

/* One lock and condition for every op's `done`, so the test can wait for
 * "these ops have returned" with a bound, without polling. */
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond; /* on CLOCK_MONOTONIC: made in main() */

static void *run_op(void *arg)
{
    struct op *op = arg;
    enum chan_status st = CHAN_OK;
    switch (op->kind) {
    case OP_SEND:
        st = mpsc_send(op->tx, &op->value);
        break;
    case OP_RECV:
        st = mpsc_recv(op->rx, &op->value);
        break;
    case OP_WAIT_CLOSED:
        st = mpsc_sender_wait_closed_timeout(op->tx, 60000);
        break;
    case OP_RESERVE_MANY:
        st = mpsc_reserve_many(op->tx, (size_t)op->value, &op->permit);
        break;
    }
    pthread_mutex_lock(&done_lock);
    op->status = st;
    op->done = true;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&done_lock);
    return NULL;
}

static void start_op(struct op *op, enum op_kind kind, struct mpsc_sender *tx,
                     struct mpsc_receiver *rx, int value)
{
    *op = (struct op){ .kind = kind, .tx = tx, .rx = rx, .value = value };
    ck_assert_int_eq(pthread_create(&op->thread, NULL, run_op, op), 0);
}

static bool op_done(struct op *op)
{
    pthread_mutex_lock(&done_lock);
    bool done = op->done;
    pthread_mutex_unlock(&done_lock);
    return done;
}

/* Gives the thread time to reach its wait; true if it is still there,
 * which holds however threads are scheduled when what it waits for has
 * not happened. */
static bool still_blocked_after_50ms(struct op *op)
{
    test_sleep_ms(50);
    return !op_done(op);
}

/* Starts `op` and checks that it waits, as it must: what it waits for has
 * not happened. */
static void start_waiting_op(struct op *op, enum op_kind kind, struct mpsc_sender *tx,
                             struct mpsc_receiver *rx, int value)
{
    static const char *const call[] = {
        [OP_SEND] = "mpsc_send on a full channel",
        [OP_RECV] = "mpsc_recv on an empty, open channel",
        [OP_WAIT_CLOSED] = "mpsc_sender_wait_closed_timeout on an open channel",
        [OP_RESERVE_MANY] = "mpsc_reserve_many of more slots than are free",
    };
    static const char *const section[] = {
        [OP_SEND] = "Waiting for room",
        [OP_RECV] = "Waiting for an element",
        [OP_WAIT_CLOSED] = "Close must wake everyone",
        [OP_RESERVE_MANY] = "Waiting for room",
    };
    start_op(op, kind, tx, rx, value);
    ck_assert_msg(still_blocked_after_50ms(op), "expected %s to wait, it returned %s"
                  CHAPTER_HINT("%s"),
                  call[kind], chan_status_name(op->status), section[kind], chapter_doc());
}

/* Waits up to WAKE_BOUND_MS for all `n` ops to return; how many did. */
static int wait_for_ops(struct op *ops, int n)
{
    struct timespec deadline = chan_deadline_after_ms(WAKE_BOUND_MS);
    bool time_left = true;
    int finished;
    pthread_mutex_lock(&done_lock);
    for (;;) {
        finished = 0;
        for (int i = 0; i < n; i++)
            finished += ops[i].done;
        if (finished == n || !time_left)
            break;
        time_left = chan_cond_wait_until(&done_cond, &done_lock, &deadline);
    }
    pthread_mutex_unlock(&done_lock);
    return finished;
}

/* mpsc_send on a channel that has room: it must not wait, and succeed. */
static void expect_send_ok(struct mpsc_sender *tx, int value)
{
    enum chan_status st = mpsc_send(tx, &value);
    ck_assert_msg(st == CHAN_OK,
                  "expected mpsc_send on an open channel with room to return CHAN_OK at once, "
                  "got %s" CHAPTER_HINT("Waiting for room"),
                  chan_status_name(st), chapter_doc());
}

/* mpsc_recv on a channel that holds an element: the oldest, at once. */
static int expect_recv_ok(struct mpsc_receiver *rx)
{
    int v = -1;
    enum chan_status st = mpsc_recv(rx, &v);
    ck_assert_msg(st == CHAN_OK,
                  "expected mpsc_recv on a channel holding an element to return CHAN_OK at "
                  "once, got %s" CHAPTER_HINT("Waiting for an element"),
                  chan_status_name(st), chapter_doc());
    return v;
}

/* After a close: every op must have returned, or the close woke nobody. */
static void expect_ops_end_after_close(struct op *ops, int n)
{
    int ended = wait_for_ops(ops, n);
    ck_assert_msg(ended == n,
                  "expected all %d threads still waiting to return once the channel was "
                  "closed, only %d did within %d ms: does close_channel wake everyone?"
                  CHAPTER_HINT("Close must wake everyone"),
                  n, ended, WAKE_BOUND_MS, chapter_doc());
}

/* ---- The chapter's own tests ---------------------------------------------- */

START_TEST(send_on_a_full_channel_waits_until_the_receiver_makes_room)
{
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(1, sizeof(int), NULL, &tx, &rx), 0);
    expect_send_ok(tx, 1);
    struct op sender;
    start_waiting_op(&sender, OP_SEND, tx, NULL, 2);
    expect_recv_ok(rx);
    ck_assert_msg(wait_for_ops(&sender, 1) == 1,
                  "expected the waiting sender to wake once mpsc_recv freed a slot, it was "
                  "still asleep after %d ms: does a receive wake a sender (room_made)?"
                  CHAPTER_HINT("Waiting for room"), WAKE_BOUND_MS, chapter_doc());
    pthread_join(sender.thread, NULL);
    int v = expect_recv_ok(rx);
    ck_assert_msg(sender.status == CHAN_OK && v == 2,
                  "expected the woken sender to get CHAN_OK and its 2 to be received next, got "
                  "%s and %d" CHAPTER_HINT("Waiting for room"),
                  chan_status_name(sender.status), v, chapter_doc());
    mpsc_sender_drop(tx);
    mpsc_receiver_drop(rx);
}
END_TEST

START_TEST(recv_on_an_empty_channel_waits_until_a_send)
{
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(2, sizeof(int), NULL, &tx, &rx), 0);
    struct op receiver;
    start_waiting_op(&receiver, OP_RECV, NULL, rx, 0);
    expect_send_ok(tx, 42);
    ck_assert_msg(wait_for_ops(&receiver, 1) == 1,
                  "expected the waiting receiver to wake when an element was sent, it was "
                  "still asleep after %d ms"
                  CHAPTER_HINT("Waiting for an element"), WAKE_BOUND_MS, chapter_doc());
    pthread_join(receiver.thread, NULL);
    ck_assert_msg(receiver.status == CHAN_OK && receiver.value == 42,
                  "expected the receiver to get CHAN_OK and 42, got %s and %d"
                  CHAPTER_HINT("Waiting for an element"),
                  chan_status_name(receiver.status), receiver.value, chapter_doc());
    mpsc_sender_drop(tx);
    mpsc_receiver_drop(rx);
}
END_TEST

START_TEST(dropping_the_last_sender_wakes_the_waiting_receiver_with_closed)
{
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(2, sizeof(int), NULL, &tx, &rx), 0);
    struct mpsc_sender *second = mpsc_sender_clone(tx);
    struct op receiver;
    start_waiting_op(&receiver, OP_RECV, NULL, rx, 0);
    mpsc_sender_drop(tx);
    ck_assert_msg(still_blocked_after_50ms(&receiver),
                  "expected the receiver to keep waiting while one sender is left, it "
                  "returned %s"
                  CHAPTER_HINT("Close and drop"), chan_status_name(receiver.status),
                  chapter_doc());
    mpsc_sender_drop(second);
    bool woke = wait_for_ops(&receiver, 1) == 1;
    /* Asleep on a closed channel: the close woke nobody.  Asleep on an
     * open one: the drop never closed it. */
    bool closed = mpsc_is_closed(rx);
    ck_assert_msg(woke,
                  "expected the waiting receiver to wake when the last sender was dropped, "
                  "it was still asleep after %d ms, and the channel was %s"
                  CHAPTER_HINT("%s"),
                  WAKE_BOUND_MS,
                  closed ? "closed: does close_channel wake the receiver (not_empty)?"
                         : "still open: does the last sender's drop close it?",
                  closed ? "Close must wake everyone" : "Close and drop", chapter_doc());
    pthread_join(receiver.thread, NULL);
    ck_assert_msg(receiver.status == CHAN_CLOSED,
                  "expected CHAN_CLOSED once the last sender was gone, got %s%s"
                  CHAPTER_HINT("%s"), chan_status_name(receiver.status),
                  receiver.status == CHAN_OK ? " with nothing sent: the receiver's wait must "
                                               "check again after waking (a `while`)"
                                             : "",
                  receiver.status == CHAN_OK ? "Waiting for an element" : "Close and drop",
                  chapter_doc());
    mpsc_receiver_drop(rx);
}
END_TEST

START_TEST(closing_wakes_every_sender_blocked_on_a_full_channel)
{
    enum { SENDERS = 4 };
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(1, sizeof(int), NULL, &tx, &rx), 0);
    expect_send_ok(tx, 0);
    struct op senders[SENDERS];
    for (int i = 0; i < SENDERS; i++) {
        start_waiting_op(&senders[i], OP_SEND, tx, NULL, i + 1);
    }
    mpsc_receiver_close(rx);
    int woke = wait_for_ops(senders, SENDERS);
    ck_assert_msg(woke == SENDERS,
                  "expected all %d blocked senders to wake with CHAN_CLOSED when the "
                  "receiver closed, only %d did within %d ms: a signal wakes one thread, "
                  "a close must wake them all"
                  CHAPTER_HINT("Close must wake everyone"),
                  SENDERS, woke, WAKE_BOUND_MS, chapter_doc());
    for (int i = 0; i < SENDERS; i++) {
        pthread_join(senders[i].thread, NULL);
        ck_assert_msg(senders[i].status == CHAN_CLOSED,
                      "expected a sender woken by the close to return CHAN_CLOSED, got %s"
                      CHAPTER_HINT("Waiting for room"),
                      chan_status_name(senders[i].status), chapter_doc());
    }
    mpsc_sender_drop(tx);
    mpsc_receiver_drop(rx);
}
END_TEST

START_TEST(a_freed_slot_reaches_the_sender_even_when_another_thread_waits_too)
{
    /* A thread in mpsc_sender_wait_closed_timeout waits on not_full too,
     * but wants a close, not room.  If a receive signalled (woke one
     * thread) and the one it woke was that one, the sender would sleep
     * on beside a free slot: a lost wake-up. */
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(1, sizeof(int), NULL, &tx, &rx), 0);
    expect_send_ok(tx, 0);
    struct op watcher, sender;
    start_waiting_op(&watcher, OP_WAIT_CLOSED, tx, NULL, 0);
    start_waiting_op(&sender, OP_SEND, tx, NULL, 1);
    expect_recv_ok(rx);
    ck_assert_msg(wait_for_ops(&sender, 1) == 1,
                  "expected the blocked sender to wake when a slot was freed while another "
                  "thread waited for the close, it was still asleep after %d ms"
                  CHAPTER_HINT("Signal or broadcast"), WAKE_BOUND_MS, chapter_doc());
    ck_assert_msg(!op_done(&watcher),
                  "expected mpsc_sender_wait_closed_timeout to keep waiting, since nobody "
                  "closed the channel; it returned %s"
                  CHAPTER_HINT("Signal or broadcast"), chan_status_name(watcher.status),
                  chapter_doc());
    mpsc_receiver_close(rx);
    ck_assert_msg(wait_for_ops(&watcher, 1) == 1,
                  "expected mpsc_sender_wait_closed_timeout to return when the receiver closed "
                  "the channel, it was still waiting after %d ms: does close_channel wake "
                  "every thread waiting on not_full?"
                  CHAPTER_HINT("Close must wake everyone"), WAKE_BOUND_MS, chapter_doc());
    pthread_join(sender.thread, NULL);
    pthread_join(watcher.thread, NULL);
    ck_assert_msg(sender.status == CHAN_OK && watcher.status == CHAN_CLOSED,
                  "expected the sender to get CHAN_OK and the watcher CHAN_CLOSED, got %s and "
                  "%s" CHAPTER_HINT("Signal or broadcast"),
                  chan_status_name(sender.status), chan_status_name(watcher.status),
                  chapter_doc());
    mpsc_sender_drop(tx);
    mpsc_receiver_drop(rx);
}
END_TEST

START_TEST(a_send_that_times_out_on_a_full_channel_keeps_its_element)
{
    /* Nobody receives: the wait can only end by running out of time, and
     * then the channel is as full as before.  A sender that waits with `if`
     * takes the end of its wait for room, and pushes into a full channel. */
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(1, sizeof(int), NULL, &tx, &rx), 0);
    expect_send_ok(tx, 1);
    enum chan_status st = mpsc_send_timeout(tx, &(int){ 2 }, 50);
    size_t len = mpsc_len(rx);
    ck_assert_msg(st == CHAN_TIMEOUT && len == 1,
                  "expected mpsc_send_timeout on a full channel that nobody receives from to "
                  "return CHAN_TIMEOUT and leave 1 element queued, got %s and %zu queued.  A "
                  "wake-up proves nothing: after every wait, check for room again (a "
                  "`while`, not an `if`)"
                  CHAPTER_HINT("Waiting for room"),
                  chan_status_name(st), len, chapter_doc());
    mpsc_sender_drop(tx);
    mpsc_receiver_drop(rx);
}
END_TEST

START_TEST(a_receive_that_times_out_on_an_empty_channel_returns_timeout)
{
    /* Nobody sends: the wait can only end by running out of time, and the
     * channel is still empty.  A receiver that waits with `if` takes the end
     * of its wait for an element, and "receives" from an empty channel. */
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(2, sizeof(int), NULL, &tx, &rx), 0);
    int v = -1;
    enum chan_status st = mpsc_recv_timeout(rx, &v, 50);
    ck_assert_msg(st == CHAN_TIMEOUT,
                  "expected mpsc_recv_timeout on an empty channel that nobody sends to to "
                  "return CHAN_TIMEOUT, got %s.  A wake-up proves nothing: after every wait, "
                  "check for an element again (a `while`, not an `if`)"
                  CHAPTER_HINT("Waiting for an element"),
                  chan_status_name(st), chapter_doc());
    mpsc_sender_drop(tx);
    mpsc_receiver_drop(rx);
}
END_TEST

START_TEST(reserving_more_slots_than_the_capacity_fails_at_once)
{
    /* A channel of 2 can never have 3 free slots: mpsc_reserve_many(3) must
     * say CHAN_FULL at once, not wait for room that will never come. */
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(2, sizeof(int), NULL, &tx, &rx), 0);
    struct op reserver;
    start_op(&reserver, OP_RESERVE_MANY, tx, NULL, 3);
    bool returned = wait_for_ops(&reserver, 1) == 1;
    if (!returned) {
        mpsc_receiver_close(rx); /* lets it go, so the test leaves no thread behind */
        expect_ops_end_after_close(&reserver, 1);
    }
    pthread_join(reserver.thread, NULL);
    ck_assert_msg(returned && reserver.status == CHAN_FULL,
                  "expected mpsc_reserve_many of 3 slots on a channel of capacity 2 to return "
                  "CHAN_FULL at once; it %s.  More slots than the capacity can never be free: "
                  "wait_for_room says so before it waits"
                  CHAPTER_HINT("Waiting for room"),
                  returned ? chan_status_name(reserver.status) : "was still waiting after 10 s",
                  chapter_doc());
    mpsc_permit_drop(&reserver.permit);
    mpsc_sender_drop(tx);
    mpsc_receiver_drop(rx);
}
END_TEST

START_TEST(a_freed_slot_reaches_the_sender_even_when_a_reserve_many_waits_too)
{
    /* Three threads wait in mpsc_reserve_many for 2 slots each, then one in
     * mpsc_send for 1, on a full channel of 2.  One receive frees one slot:
     * only the sender can use it.  If room_made signalled (woke one waiter)
     * it would most likely wake a reserve_many, the first to wait, which
     * goes back to sleep: the sender would sleep on beside a free slot.
     * Counted in odd_waiters, the reserve_many waiters make it broadcast. */
    enum { RESERVERS = 3 };
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(2, sizeof(int), NULL, &tx, &rx), 0);
    expect_send_ok(tx, 0);
    expect_send_ok(tx, 1);
    struct op reservers[RESERVERS], sender;
    for (int i = 0; i < RESERVERS; i++) {
        start_waiting_op(&reservers[i], OP_RESERVE_MANY, tx, NULL, 2);
    }
    start_waiting_op(&sender, OP_SEND, tx, NULL, 2);
    expect_recv_ok(rx);
    bool sent = wait_for_ops(&sender, 1) == 1;
    /* One slot was freed and taken again: none of the reserve_many calls
     * can have got its two. */
    int reserved = 0;
    for (int i = 0; i < RESERVERS; i++)
        reserved += op_done(&reservers[i]);
    /* Closing lets every thread go, so the test leaves none behind. */
    mpsc_receiver_close(rx);
    expect_ops_end_after_close(reservers, RESERVERS);
    expect_ops_end_after_close(&sender, 1);
    for (int i = 0; i < RESERVERS; i++) {
        pthread_join(reservers[i].thread, NULL);
        mpsc_permit_drop(&reservers[i].permit);
    }
    pthread_join(sender.thread, NULL);
    ck_assert_msg(sent && sender.status == CHAN_OK,
                  "expected the blocked sender to get the slot a receive freed while three "
                  "mpsc_reserve_many calls for 2 slots waited too; it %s.  Is a waiter with "
                  "need != 1 counted in odd_waiters while it waits, so that room_made "
                  "broadcasts?"
                  CHAPTER_HINT("Signal or broadcast"),
                  sent ? chan_status_name(sender.status) : "was still asleep after 10 s",
                  chapter_doc());
    ck_assert_msg(reserved == 0,
                  "expected no mpsc_reserve_many of 2 slots to return while at most one slot "
                  "was free, but %d did" CHAPTER_HINT("Waiting for room"),
                  reserved, chapter_doc());
    mpsc_sender_drop(tx);
    mpsc_receiver_drop(rx);
}
END_TEST

START_TEST(the_program_delivers_every_message_in_order_then_ends)
{
    const char *argv[] = { chapter_program(), "--producers", "4", "--messages", "2000",
                           "--capacity", "2", NULL };
    struct program_run run;
    ck_assert_msg(program_run(argv, NULL, PROGRAM_BOUND_MS, &run) == 0, "cannot run %s",
                  argv[0]);
    char outcome[128];
    ck_assert_msg(run.exit_code == 0 &&
                      strstr(run.out, "the consumer received all 8000, each exactly once") !=
                          NULL,
                  "expected `%s --producers 4 --messages 2000 --capacity 2` to exit with 0 "
                  "and report all 8000 messages received; it %s.\nstdout:\n%s\nstderr:\n%s"
                  CHAPTER_HINT("The program"),
                  argv[0], program_run_outcome(&run, outcome, sizeof outcome), run.out,
                  run.err, chapter_doc());
    program_run_free(&run);
}
END_TEST

START_TEST(a_bad_option_exits_with_2)
{
    const char *argv[] = { chapter_program(), "--capacity", "0", NULL };
    struct program_run run;
    ck_assert_msg(program_run(argv, NULL, PROGRAM_BOUND_MS, &run) == 0, "cannot run %s",
                  argv[0]);
    char outcome[128];
    ck_assert_msg(run.exit_code == 2 && run.err[0] != '\0',
                  "expected `%s --capacity 0` to exit with 2 and say why on stderr; it %s"
                  CHAPTER_HINT("The program"),
                  argv[0], program_run_outcome(&run, outcome, sizeof outcome), chapter_doc());
    program_run_free(&run);
}
END_TEST

static Suite *chapter_suite(void)
{
    Suite *s = suite_create("08-build-your-own-channel");
    TCase *tc = tcase_create("build-your-own-channel");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, send_on_a_full_channel_waits_until_the_receiver_makes_room);
    tcase_add_test(tc, recv_on_an_empty_channel_waits_until_a_send);
    tcase_add_test(tc, dropping_the_last_sender_wakes_the_waiting_receiver_with_closed);
    tcase_add_test(tc, closing_wakes_every_sender_blocked_on_a_full_channel);
    tcase_add_test(tc, a_freed_slot_reaches_the_sender_even_when_another_thread_waits_too);
    tcase_add_test(tc, a_send_that_times_out_on_a_full_channel_keeps_its_element);
    tcase_add_test(tc, a_receive_that_times_out_on_an_empty_channel_returns_timeout);
    tcase_add_test(tc, reserving_more_slots_than_the_capacity_fails_at_once);
    tcase_add_test(tc, a_freed_slot_reaches_the_sender_even_when_a_reserve_many_waits_too);
    tcase_add_test(tc, the_program_delivers_every_message_in_order_then_ends);
    tcase_add_test(tc, a_bad_option_exits_with_2);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs one suite; how many of its tests failed. */
static int run_suite(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed;
}

int main(void)
{
    if (chan_cond_init(&done_cond) != 0) {
        fprintf(stderr, "test_08: cannot make a condition variable\n");
        return EXIT_FAILURE;
    }
    /* The chapter's own tests first.  Each waits a bounded time and says
     * which section to reread.  The mpsc suite runs only once they pass:
     * many of its tests wait for a close or a wake-up without a bound of
     * their own, so a channel that never closes would make each of them
     * wait for its Check timeout (up to two minutes apiece). */
    int failed = run_suite(chapter_suite());
    if (failed > 0) {
        fprintf(stderr,
                "\nFix these first: common's mpsc suite runs once the chapter's own tests "
                "pass.\n");
        return EXIT_FAILURE;
    }
    failed = run_suite(mpsc_contract_suite());
    if (failed > 0)
        fprintf(stderr,
                "\nThe \"mpsc\" tests are common's own (tests/common/test_mpsc.c), each named\n"
                "after the behaviour it checks. docs/08-build-your-own-channel.md, \"Check\n"
                "your work\", says which part of mpsc.c each group exercises.\n");
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
