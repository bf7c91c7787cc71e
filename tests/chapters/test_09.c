/*
 * test_09.c - chapter 09: one subscriber connection fans Redis Pub/Sub
 * messages out to consumers over a broadcast channel and reports its state
 * over a watch channel; it reconnects and subscribes again after a loss,
 * tells the consumers of the gap, and stops without hanging.
 *
 * Run with `make test-09` (your code in chapters/) or `make test-09
 * SOLUTION=1`.  A failure says what was expected, what happened, and which
 * section of docs/09-pubsub-fan-out.md explains it.
 *
 * Nothing here waits for time to pass.  The tests wait for what they can
 * observe: the watch saying SUBSCRIBED or that N messages were received, a
 * consumer's progress saying it ended.  Every wait is bounded (generously:
 * the bound decides only how long a failure takes).  The two checks that
 * something does NOT happen - no SUBSCRIBED while the server is stopped -
 * give it a fixed time to go wrong.  Faults are real: CLIENT KILL, a server
 * killed, restarted, or stopped with SIGSTOP.
 */
#define _GNU_SOURCE /* fopencookie, for a log that acts on what it reads */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broadcast.h"
#include "consumer.h"
#include "message.h"
#include "oneshot.h"
#include "program_faults.h"
#include "program_runner.h"
#include "redis_client.h"
#include "redis_harness.h"
#include "subscriber.h"
#include "test_support.h"
#include "wait.h"
#include "watch.h"

/* How long anything the tests wait for may take before it counts as never. */
#define BOUND_MS 10000
/* How long a program run may take before it counts as hung. */
#define PROGRAM_BOUND_MS 60000

/* ---- Helpers ------------------------------------------------------------------- */

/* Two channel names of this test's own, "t09:<pid>:<name>:a" and the same
 * with ":b" and NUL, CR/LF and a non-UTF-8 byte: names are bytes. */
struct channels {
    char names[2][96];
    const char *at[2];
    size_t lens[2];
};

static void make_channels(struct channels *c, const char *name)
{
    for (int i = 0; i < 2; i++) {
        c->lens[i] = (size_t)snprintf(c->names[i], sizeof c->names[i] - 4, "t09:%ld:%s:%c",
                                      (long)getpid(), name, 'a' + i);
        c->at[i] = c->names[i];
    }
    memcpy(c->names[1] + c->lens[1], "\0\r\n\xff", 4);
    c->lens[1] += 4;
}

static struct subscriber *start_subscriber(const char *url, const struct channels *c,
                                           size_t capacity, FILE *log)
{
    const struct subscriber_options options = { c->at, c->lens, 2, capacity, log };
    struct subscriber *sub = NULL;
    char err[1024] = "";
    ck_assert_msg(subscriber_start(&sub, url, &options, err, sizeof err) == 0,
                  "expected subscriber_start(%s) to succeed, got: %s"
                  CHAPTER_HINT("A connection in subscribe mode"), url, err, chapter_doc());
    return sub;
}

static struct redis_client *connect_or_fail(const char *url)
{
    char err[512] = "";
    struct redis_client *c = redis_client_connect(url, NULL, err, sizeof err);
    ck_assert_msg(c != NULL, "the test could not connect to %s: %s", url, err);
    return c;
}

static void start_private_server(struct redis_harness *h)
{
    char err[512];
    ck_assert_msg(redis_harness_start(h, err, sizeof err) == 0,
                  "the test could not start a private Redis: %s", err);
}

/* PUBLISH "<number>" on channel number % 2; returns how many subscribers
 * Redis delivered it to. */
static long long publish_number(struct redis_client *pub, const struct channels *c,
                                uint64_t number)
{
    char payload[24];
    int n = snprintf(payload, sizeof payload, "%" PRIu64, number);
    const char *argv[] = { "PUBLISH", c->at[number % 2], payload };
    const size_t len[] = { 7, c->lens[number % 2], (size_t)n };
    struct redis_result r = redis_client_command(pub, 3, argv, len);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER, "PUBLISH %s: %s %s", payload,
                  redis_result_kind_name(r.kind), r.data != NULL ? r.data : "");
    return r.integer;
}

/* Publishes first..last, each of which must reach exactly one subscriber:
 * ours. */
static void publish_numbers(struct redis_client *pub, const struct channels *c, uint64_t first,
                            uint64_t last, const char *section)
{
    for (uint64_t i = first; i <= last; i++) {
        long long heard = publish_number(pub, c, i);
        ck_assert_msg(heard == 1,
                      "expected PUBLISH of message %" PRIu64 " to reach the one subscribed "
                      "connection, Redis says it reached %lld" CHAPTER_HINT("%s"),
                      i, heard, section, chapter_doc());
    }
}

/* What a status test looks for; `why` names it in messages. */
struct wanted {
    const char *why;
    bool (*test)(const struct subscriber_status *s, uint64_t n);
    uint64_t n;
};

static bool is_subscribed(const struct subscriber_status *s, uint64_t times)
{
    return s->state == SUBSCRIBER_SUBSCRIBED && s->subscriptions >= times;
}

static bool is_reconnecting(const struct subscriber_status *s, uint64_t unused)
{
    (void)unused;
    return s->state == SUBSCRIBER_RECONNECTING;
}

static bool has_received(const struct subscriber_status *s, uint64_t count)
{
    return s->received >= count;
}

/* Waits (with the watch's own calls, not the chapter's wait_for, so that
 * a mistake there does not fail every test) until the status passes.  A
 * status that says "not implemented yet" (the starter's) never will. */
static enum chan_status await_status(struct watch_receiver *rx, const struct wanted *w,
                                     unsigned bound_ms, struct subscriber_status *seen)
{
    int64_t deadline = test_now_ms() + bound_ms;
    for (;;) {
        watch_borrow_and_update(rx, seen);
        if (w->test(seen, w->n))
            return CHAN_OK;
        if (strstr(seen->why, "not implemented yet") != NULL)
            return CHAN_CLOSED;
        int64_t left = deadline - test_now_ms();
        enum chan_status st = watch_changed_timeout(rx, left > 0 ? (unsigned)left : 0);
        if (st != CHAN_OK)
            return st;
    }
}

static void expect_status(struct watch_receiver *rx, const struct wanted *w,
                          const char *section, struct subscriber_status *seen)
{
    enum chan_status st = await_status(rx, w, BOUND_MS, seen);
    ck_assert_msg(st == CHAN_OK,
                  "expected the watch to say %s within %d ms; it says %s (subscribed %u times, "
                  "%" PRIu64 " messages received, %u gaps%s%s)" CHAPTER_HINT("%s"),
                  w->why, BOUND_MS, subscriber_state_name(seen->state), seen->subscriptions,
                  seen->received, seen->gaps, seen->why[0] != '\0' ? ": " : "", seen->why,
                  section, chapter_doc());
}

/* A consumer on a thread of its own, as the program starts them. */
static void start_consumer(struct consumer *c, pthread_t *thread, struct broadcast_receiver *rx)
{
    ck_assert_int_eq(consumer_init(c, rx), 0);
    ck_assert_int_eq(pthread_create(thread, NULL, consumer_main, c), 0);
}

/* Waits until the consumer's progress says it ended (consumer_main sends
 * UINT64_MAX after consumer_run returns), then joins it. */
static void expect_consumer_ends(struct consumer *c, pthread_t *thread, size_t number,
                                 const char *section)
{
    int64_t deadline = test_now_ms() + BOUND_MS;
    uint64_t progress = 0;
    for (;;) {
        watch_borrow_and_update(c->progress_rx, &progress);
        int64_t left = deadline - test_now_ms();
        if (progress == UINT64_MAX || left <= 0 ||
            watch_changed_timeout(c->progress_rx, (unsigned)left) != CHAN_OK)
            break;
    }
    ck_assert_msg(progress == UINT64_MAX,
                  "expected consumer %zu to end within %d ms of the subscriber's stop (its "
                  "broadcast_recv returns CHAN_CLOSED); it had read up to value %" PRIu64
                  CHAPTER_HINT("%s"), number, BOUND_MS, progress, section, chapter_doc());
    pthread_join(*thread, NULL);
    consumer_free(c);
}

static void expect_report(const struct consumer_report *r, size_t number,
                          const struct consumer_report *want, const char *section)
{
    ck_assert_msg(r->received == want->received && r->missed == want->missed &&
                      r->lags == want->lags && r->gaps == want->gaps &&
                      r->out_of_order == 0 && r->first == want->first && r->last == want->last,
                  "expected consumer %zu to read %" PRIu64 " messages (%" PRIu64 " to %" PRIu64
                  ") in order, lagging %u times for %" PRIu64 " missed, with %u gap notices; "
                  "it read %" PRIu64 " (%" PRIu64 " to %" PRIu64 "), %" PRIu64 " out of order, "
                  "lagged %u times for %" PRIu64 " missed, %u gap notices" CHAPTER_HINT("%s"),
                  number, want->received, want->first, want->last, want->lags, want->missed,
                  want->gaps, r->received, r->first, r->last, r->out_of_order, r->lags,
                  r->missed, r->gaps, section, chapter_doc());
}

/* Stops the subscriber on another thread, so that a stop that never
 * returns fails the test instead of hanging it. */
struct stopper {
    struct subscriber *sub;
    struct subscriber_status last;
    struct oneshot_sender *done;
};

static void *stop_main(void *arg)
{
    struct stopper *s = arg;
    subscriber_stop(s->sub, &s->last);
    int yes = 1;
    oneshot_send(s->done, &yes);
    return NULL;
}

static void expect_stop_returns(struct subscriber *sub, const char *when,
                                struct subscriber_status *last)
{
    struct stopper stopper = { .sub = sub };
    struct oneshot_receiver *done;
    ck_assert_int_eq(oneshot_channel(sizeof(int), NULL, &stopper.done, &done), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, stop_main, &stopper), 0);
    int yes;
    enum chan_status st = oneshot_recv_timeout(done, &yes, BOUND_MS);
    ck_assert_msg(st == CHAN_OK,
                  "expected subscriber_stop to return while %s; it did not within %d ms"
                  CHAPTER_HINT("Stopping"), when, BOUND_MS, chapter_doc());
    pthread_join(thread, NULL);
    oneshot_receiver_drop(done);
    *last = stopper.last;
    ck_assert_msg(last->state == SUBSCRIBER_STOPPED,
                  "expected the last status to be stopped, got %s" CHAPTER_HINT("Stopping"),
                  subscriber_state_name(last->state), chapter_doc());
}

/* What most tests start with: a subscriber on two channels of the test's
 * own, `consumers` consumer threads, and a watch receiver of its status. */
struct fixture {
    struct channels ch;
    struct subscriber *sub;
    struct watch_receiver *status;
    struct consumer consumers[4];
    pthread_t threads[4];
    size_t count;
    struct subscriber_status seen; /* the last status a wait looked at */
    struct redis_client *pub;      /* the test's publisher, once connected */
};

static void fixture_start(struct fixture *f, const char *url, const char *name,
                          size_t capacity, size_t consumers, FILE *log)
{
    *f = (struct fixture){ .count = consumers };
    make_channels(&f->ch, name);
    f->sub = start_subscriber(url, &f->ch, capacity, log);
    for (size_t i = 0; i < consumers; i++)
        start_consumer(&f->consumers[i], &f->threads[i], subscriber_messages(f->sub));
    f->status = subscriber_watch(f->sub);
    ck_assert_ptr_nonnull(f->status);
}

static void fixture_await(struct fixture *f, const char *why,
                          bool (*test)(const struct subscriber_status *, uint64_t), uint64_t n,
                          const char *section)
{
    expect_status(f->status, &(struct wanted){ why, test, n }, section, &f->seen);
}

/* Waits until subscribed, then connects the test's publisher to `url`. */
static void fixture_subscribed(struct fixture *f, const char *url)
{
    fixture_await(f, "subscribed", is_subscribed, 1, "Subscribed means confirmed");
    f->pub = connect_or_fail(url);
}

/* Stops the subscriber (bounded), checks that every consumer ends and, if
 * `want` is not NULL, read what it says; *last gets the last status. */
static void fixture_stop(struct fixture *f, const char *when, const struct consumer_report *want,
                         const char *section, struct subscriber_status *last)
{
    expect_stop_returns(f->sub, when, last);
    for (size_t i = 0; i < f->count; i++) {
        expect_consumer_ends(&f->consumers[i], &f->threads[i], i + 1, "Stopping");
        if (want != NULL)
            expect_report(&f->consumers[i].report, i + 1, want, section);
    }
    watch_receiver_drop(f->status);
    redis_client_free(f->pub);
}

/* ---- Fan-out --------------------------------------------------------------------- */

START_TEST(every_consumer_receives_every_message_in_publish_order)
{
    enum { K = 4, N = 200, CAPACITY = 256 }; /* N <= CAPACITY: nobody can lag */
    struct fixture f;
    fixture_start(&f, test_redis_url(), "every", CAPACITY, K, NULL);
    struct broadcast_receiver *raw = subscriber_messages(f.sub);
    fixture_subscribed(&f, test_redis_url());
    ck_assert_msg(f.seen.channels == 2, "expected 2 channels subscribed, the watch says %zu"
                  CHAPTER_HINT("Subscribed means confirmed"), f.seen.channels, chapter_doc());
    publish_numbers(f.pub, &f.ch, 1, N, "Subscribed means confirmed");
    fixture_await(&f, "200 messages received", has_received, N,
                  "Fanning out: the broadcast channel");
    struct subscriber_status last;
    const struct consumer_report all = { .received = N, .first = 1, .last = N };
    fixture_stop(&f, "idle", &all, "A consumer that falls behind", &last);
    ck_assert_msg(last.received == N && last.sent == N,
                  "expected the last status to count %d messages received and sent, got %"
                  PRIu64 " and %" PRIu64 CHAPTER_HINT("Fanning out: the broadcast channel"),
                  N, last.received, last.sent, chapter_doc());

    /* What the subscriber put on the channel, read directly: the payloads
     * in publish order, on the channel each was published to. */
    for (uint64_t i = 1; i <= N; i++) {
        struct message *m = NULL;
        enum chan_status st = broadcast_try_recv(raw, &m, NULL);
        ck_assert_msg(st == CHAN_OK, "expected message %" PRIu64 " on the broadcast channel, "
                      "got %s" CHAPTER_HINT("Fanning out: the broadcast channel"),
                      i, chan_status_name(st), chapter_doc());
        char expected[24];
        snprintf(expected, sizeof expected, "%" PRIu64, i);
        ck_assert_msg(m->kind == MESSAGE_PUBLISHED && m->seq == i &&
                          strcmp(m->payload, expected) == 0 &&
                          m->channel_len == f.ch.lens[i % 2] &&
                          memcmp(m->channel, f.ch.at[i % 2], m->channel_len) == 0,
                      "expected value %" PRIu64 " on the broadcast channel to be message \"%s\" "
                      "of %s, got seq %" PRIu64 ", \"%s\" of %s"
                      CHAPTER_HINT("Fanning out: the broadcast channel"),
                      i, expected, f.ch.at[i % 2], m->seq, m->payload, m->channel, chapter_doc());
        message_release(m);
    }
    struct message *m = NULL;
    ck_assert_int_eq(broadcast_try_recv(raw, &m, NULL), CHAN_CLOSED);
    broadcast_receiver_drop(raw);
}
END_TEST

START_TEST(channel_names_and_payloads_arrive_byte_exact)
{
    struct fixture f;
    fixture_start(&f, test_redis_url(), "bytes", 16, 0, NULL);
    struct broadcast_receiver *rx = subscriber_messages(f.sub);
    fixture_subscribed(&f, test_redis_url());
    /* The second channel's name holds NUL and CR/LF too (make_channels). */
    static const char payload[] = "a\0b\r\n\x80 c";
    const char *argv[] = { "PUBLISH", f.ch.at[1], payload };
    const size_t len[] = { 7, f.ch.lens[1], sizeof payload - 1 };
    struct redis_result r = redis_client_command(f.pub, 3, argv, len);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER && r.integer == 1,
                  "expected the PUBLISH on the binary channel name to reach our subscriber"
                  CHAPTER_HINT("A connection in subscribe mode"), chapter_doc());
    struct message *m = NULL;
    ck_assert_int_eq(broadcast_recv_timeout(rx, &m, NULL, BOUND_MS), CHAN_OK);
    ck_assert_msg(m->channel_len == f.ch.lens[1] &&
                      memcmp(m->channel, f.ch.at[1], m->channel_len) == 0 &&
                      m->payload_len == sizeof payload - 1 &&
                      memcmp(m->payload, payload, m->payload_len) == 0,
                  "expected the channel name and payload byte for byte, NULs and CR/LF "
                  "included" CHAPTER_HINT("Fanning out: the broadcast channel"), chapter_doc());
    message_release(m);
    struct subscriber_status last;
    fixture_stop(&f, "idle", NULL, NULL, &last);
    broadcast_receiver_drop(rx);
}
END_TEST

START_TEST(a_consumer_held_back_past_the_capacity_learns_exactly_how_many_it_missed)
{
    enum { CAPACITY = 16, N = 40 };
    struct fixture f;
    fixture_start(&f, test_redis_url(), "lag", CAPACITY, 0, NULL);
    /* Subscribed now, read only once all N are on the channel: the test
     * holds it back, no clock involved. */
    struct broadcast_receiver *held = subscriber_messages(f.sub);
    fixture_subscribed(&f, test_redis_url());
    publish_numbers(f.pub, &f.ch, 1, N, "Subscribed means confirmed");
    fixture_await(&f, "40 messages received", has_received, N,
                  "Fanning out: the broadcast channel");
    struct subscriber_status last;
    fixture_stop(&f, "idle", NULL, NULL, &last);

    struct consumer late;
    pthread_t thread;
    start_consumer(&late, &thread, held);
    expect_consumer_ends(&late, &thread, 1, "A consumer that falls behind");
    /* The channel holds the last 16: messages 1 to 24 were overwritten. */
    const struct consumer_report want = { .received = CAPACITY, .missed = N - CAPACITY,
                                          .lags = 1, .first = N - CAPACITY + 1, .last = N };
    expect_report(&late.report, 1, &want, "A consumer that falls behind");
}
END_TEST

/* ---- The watch ------------------------------------------------------------------- */

/* The subscriber's log, read as it is written: the line that says the
 * connection is up and SUBSCRIBE about to go out freezes the server, on the
 * subscriber's own thread, so that SUBSCRIBE reaches a server that cannot
 * answer it.  The connection itself needed a reply (the connect checks the
 * server with PING), so the freeze could come no earlier. */
struct freezing_log {
    struct redis_harness *server;
    bool froze;
};

static ssize_t freezing_log_write(void *cookie, const char *buf, size_t size)
{
    struct freezing_log *log = cookie;
    if (!log->froze && memmem(buf, size, "subscribing to", 14) != NULL)
        log->froze = redis_harness_freeze(log->server) == 0;
    return (ssize_t)size;
}

START_TEST(the_watch_says_subscribed_only_once_redis_confirmed)
{
    struct redis_harness h;
    start_private_server(&h);
    struct freezing_log freezer = { .server = &h };
    FILE *log = fopencookie(&freezer, "w", (cookie_io_functions_t){ .write = freezing_log_write });
    ck_assert_ptr_nonnull(log);
    setvbuf(log, NULL, _IOLBF, 0); /* each line reaches freezing_log_write as it ends */
    struct fixture f;
    fixture_start(&f, h.url, "confirm", 16, 1, log);
    ck_assert_msg(freezer.froze, "the test could not freeze its server before SUBSCRIBE");
    struct subscriber_status seen;
    enum chan_status early = await_status(
        f.status, &(struct wanted){ "subscribed", is_subscribed, 1 }, 300, &seen);
    redis_harness_thaw(&h);
    ck_assert_msg(early == CHAN_TIMEOUT && seen.state == SUBSCRIBER_CONNECTING,
                  "expected the watch to stay at connecting while Redis could not confirm the "
                  "SUBSCRIBE (the server was stopped); it said %s"
                  CHAPTER_HINT("Subscribed means confirmed"),
                  subscriber_state_name(seen.state), chapter_doc());

    fixture_subscribed(&f, h.url);
    publish_numbers(f.pub, &f.ch, 1, 1, "Subscribed means confirmed");
    fixture_await(&f, "1 message received", has_received, 1,
                  "Fanning out: the broadcast channel");
    const struct consumer_report one = { .received = 1, .first = 1, .last = 1 };
    fixture_stop(&f, "idle", &one, "A consumer that falls behind", &seen);
    fclose(log);
    redis_harness_stop(&h);
}
END_TEST

/* A status the test sends itself, on a watch of its own. */
static void send_status(struct watch_sender *tx, enum subscriber_state state,
                        unsigned subscriptions)
{
    struct subscriber_status s = { .state = state, .subscriptions = subscriptions };
    ck_assert_int_eq(watch_send(tx, &s), CHAN_OK);
}

struct late_sender {
    struct watch_sender *tx;
};

static void *send_later_main(void *arg)
{
    struct late_sender *l = arg;
    send_status(l->tx, SUBSCRIBER_RECONNECTING, 1);
    send_status(l->tx, SUBSCRIBER_SUBSCRIBED, 2);
    return NULL;
}

START_TEST(wait_for_looks_at_the_latest_value_before_it_waits)
{
    struct subscriber_status initial = { .state = SUBSCRIBER_CONNECTING }, out;
    struct watch_sender *tx;
    struct watch_receiver *rx;
    ck_assert_int_eq(watch_channel(sizeof initial, &initial, NULL, NULL, &tx, &rx), 0);

    /* Subscribed already, and already seen: no change is coming. */
    send_status(tx, SUBSCRIBER_SUBSCRIBED, 1);
    watch_borrow_and_update(rx, &out);
    /* The bound only decides how long a wait_for that sleeps first takes to
     * fail: a right one returns without waiting at all. */
    int64_t start = test_now_ms();
    enum chan_status st = wait_for(rx, subscriber_is_subscribed, NULL, 100, &out);
    ck_assert_msg(st == CHAN_OK && out.state == SUBSCRIBER_SUBSCRIBED,
                  "expected wait_for to return CHAN_OK at once for a value that already "
                  "passes, got %s after %" PRId64 " ms" CHAPTER_HINT("Waiting on a watch"),
                  chan_status_name(st), test_now_ms() - start, chapter_doc());

    /* A value that does not pass: CHAN_TIMEOUT, with the latest value. */
    unsigned twice = 2;
    st = wait_for(rx, subscriber_is_subscribed, &twice, 100, &out);
    ck_assert_msg(st == CHAN_TIMEOUT && out.subscriptions == 1,
                  "expected CHAN_TIMEOUT and the latest value (subscribed once), got %s and "
                  "%u" CHAPTER_HINT("Waiting on a watch"),
                  chan_status_name(st), out.subscriptions, chapter_doc());

    /* Values sent while it waits: it wakes, and sees the latest. */
    struct late_sender later = { tx };
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, send_later_main, &later), 0);
    st = wait_for(rx, subscriber_is_subscribed, &twice, BOUND_MS, &out);
    pthread_join(thread, NULL);
    ck_assert_msg(st == CHAN_OK && out.subscriptions == 2,
                  "expected CHAN_OK once the watch says subscribed twice, got %s (%u)"
                  CHAPTER_HINT("Waiting on a watch"),
                  chan_status_name(st), out.subscriptions, chapter_doc());

    /* Every sender gone, and the value does not pass: it never will. */
    watch_sender_drop(tx);
    unsigned thrice = 3;
    start = test_now_ms();
    st = wait_for(rx, subscriber_is_subscribed, &thrice, BOUND_MS, &out);
    ck_assert_msg(st == CHAN_CLOSED,
                  "expected CHAN_CLOSED once every sender is gone, got %s after %" PRId64 " ms"
                  CHAPTER_HINT("Waiting on a watch"),
                  chan_status_name(st), test_now_ms() - start, chapter_doc());
    watch_receiver_drop(rx);
}
END_TEST

/* ---- Faults ------------------------------------------------------------------------ */

START_TEST(a_killed_connection_is_subscribed_again_and_consumers_get_a_gap_notice)
{
    struct fixture f;
    fixture_start(&f, test_redis_url(), "killed", 64, 2, NULL);
    fixture_subscribed(&f, test_redis_url());
    publish_numbers(f.pub, &f.ch, 1, 10, "Subscribed means confirmed");
    fixture_await(&f, "10 messages received", has_received, 10,
                  "Fanning out: the broadcast channel");

    /* Kill exactly the subscriber's connection, by the address it reports. */
    ck_assert_msg(f.seen.address[0] != '\0', "expected the status to carry the address");
    const char *argv[] = { "CLIENT", "KILL", "ADDR", f.seen.address };
    const size_t len[] = { 6, 4, 4, strlen(f.seen.address) };
    struct redis_result r = redis_client_command(f.pub, 4, argv, len);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER && r.integer == 1,
                  "CLIENT KILL ADDR %s: %s", f.seen.address, redis_result_kind_name(r.kind));
    fixture_await(&f, "subscribed a second time", is_subscribed, 2, "Subscribing again");
    publish_numbers(f.pub, &f.ch, 11, 20, "Subscribing again");
    fixture_await(&f, "20 messages received", has_received, 20,
                  "Fanning out: the broadcast channel");

    struct subscriber_status last;
    const struct consumer_report want = { .received = 20, .gaps = 1, .first = 1, .last = 20 };
    fixture_stop(&f, "idle", &want, "Losing the connection: at most once", &last);
    ck_assert_msg(last.gaps == 1 && last.sent == 21,
                  "expected 1 connection lost and 21 values sent (20 messages, 1 gap notice), "
                  "got %u and %" PRIu64 CHAPTER_HINT("Losing the connection: at most once"),
                  last.gaps, last.sent, chapter_doc());
}
END_TEST

static char *read_log(FILE *log)
{
    fflush(log);
    long size = ftell(log);
    ck_assert(size >= 0);
    char *text = calloc(1, (size_t)size + 1);
    ck_assert_ptr_nonnull(text);
    rewind(log);
    text[fread(text, 1, (size_t)size, log)] = '\0';
    return text;
}

START_TEST(a_server_restart_reads_subscribed_reconnecting_subscribed_on_the_watch)
{
    struct redis_harness h;
    start_private_server(&h);
    FILE *log = tmpfile();
    ck_assert_ptr_nonnull(log);
    struct fixture f;
    fixture_start(&f, h.url, "restart", 16, 1, log);
    fixture_await(&f, "subscribed", is_subscribed, 1, "Subscribed means confirmed");

    redis_harness_kill(&h);
    /* The server is down: the subscriber cannot get past reconnecting. */
    fixture_await(&f, "reconnecting", is_reconnecting, 0, "Losing the connection: at most once");
    ck_assert_msg(f.seen.gaps == 1 && f.seen.why[0] != '\0' && f.seen.channels == 0,
                  "expected reconnecting with 1 gap, a reason, and no channel, got %u gaps, "
                  "\"%s\", %zu channels" CHAPTER_HINT("Losing the connection: at most once"),
                  f.seen.gaps, f.seen.why, f.seen.channels, chapter_doc());

    char err[1024] = "";
    ck_assert_msg(redis_harness_restart(&h, err, sizeof err) == 0, "restart: %s", err);
    fixture_await(&f, "subscribed a second time", is_subscribed, 2, "Subscribing again");
    f.pub = connect_or_fail(h.url);
    publish_numbers(f.pub, &f.ch, 1, 1, "Subscribing again");
    fixture_await(&f, "1 message received", has_received, 1,
                  "Fanning out: the broadcast channel");
    struct subscriber_status last;
    const struct consumer_report want = { .received = 1, .gaps = 1, .first = 1, .last = 1 };
    fixture_stop(&f, "idle", &want, "Losing the connection: at most once", &last);

    char *text = read_log(log);
    const char *lines[] = { "subscriber: reconnect attempt 1 failed (", "subscriber: reconnected" };
    for (size_t i = 0; i < 2; i++)
        ck_assert_msg(strstr(text, lines[i]) != NULL,
                      "expected the log to say \"%s...\"; the log was:\n%s"
                      CHAPTER_HINT("Subscribing again"), lines[i], text, chapter_doc());
    free(text);
    fclose(log);
    redis_harness_stop(&h);
}
END_TEST

START_TEST(stopping_while_reconnecting_to_a_dead_server_ends_everything)
{
    struct redis_harness h;
    start_private_server(&h);
    struct fixture f;
    fixture_start(&f, h.url, "dead", 16, 1, NULL);
    fixture_await(&f, "subscribed", is_subscribed, 1, "Subscribed means confirmed");
    redis_harness_kill(&h);
    fixture_await(&f, "reconnecting", is_reconnecting, 0, "Losing the connection: at most once");
    struct subscriber_status last;
    const struct consumer_report gap = { .gaps = 1 };
    fixture_stop(&f, "it waits to reconnect to a server that is gone", &gap,
                 "Losing the connection: at most once", &last);
    ck_assert_msg(strstr(last.why, "reconnecting") != NULL,
                  "expected the stopped status to say it stopped while reconnecting, got \"%s\""
                  CHAPTER_HINT("Stopping"), last.why, chapter_doc());
    redis_harness_stop(&h);
}
END_TEST

START_TEST(stopping_does_not_wait_for_a_server_that_stopped_answering)
{
    struct redis_harness h;
    start_private_server(&h);
    struct fixture f;
    fixture_start(&f, h.url, "silent", 16, 1, NULL);
    fixture_await(&f, "subscribed", is_subscribed, 1, "Subscribed means confirmed");
    /* The connection stays up, and nothing will ever arrive on it: the
     * subscriber is waiting to read. */
    ck_assert_int_eq(kill(h.pid, SIGSTOP), 0);
    struct subscriber_status last;
    fixture_stop(&f, "it waits for a message from a server that stopped answering", NULL, NULL,
                 &last);
    kill(h.pid, SIGCONT);
    ck_assert_str_eq(last.why, "told to stop");
    redis_harness_stop(&h);
}
END_TEST

/* ---- Closing ------------------------------------------------------------------------- */

START_TEST(stopping_ends_every_consumer_and_late_readers_see_stopped)
{
    struct fixture f;
    fixture_start(&f, test_redis_url(), "closing", 16, 3, NULL);
    struct watch_receiver *late = subscriber_watch(f.sub);
    fixture_await(&f, "subscribed", is_subscribed, 1, "Subscribed means confirmed");
    struct subscriber_status last, seen;
    fixture_stop(&f, "idle", NULL, NULL, &last);

    /* A reader that looks only now learns why: the last value stays. */
    watch_borrow(late, &seen);
    ck_assert_msg(seen.state == SUBSCRIBER_STOPPED && strcmp(seen.why, "told to stop") == 0,
                  "expected a late reader to find stopped (\"told to stop\"), got %s (\"%s\")"
                  CHAPTER_HINT("Stopping"), subscriber_state_name(seen.state), seen.why,
                  chapter_doc());
    /* ...and that nothing will change any more, once it has seen it. */
    enum chan_status st = watch_changed_timeout(late, BOUND_MS);
    if (st == CHAN_OK)
        st = watch_changed_timeout(late, BOUND_MS);
    ck_assert_int_eq(st, CHAN_CLOSED);
    watch_receiver_drop(late);
}
END_TEST

/* ---- The program ----------------------------------------------------------------------- */

static void run_program(const char *const *argv, const char *const *env,
                        struct program_run *run)
{
    ck_assert_msg(program_run(argv, env, PROGRAM_BOUND_MS, run) == 0, "cannot run %s",
                  argv[0]);
}

static void expect_output(const char *const *argv, const char *const *env, const char *out)
{
    struct program_run run;
    run_program(argv, env, &run);
    char outcome[128];
    ck_assert_msg(run.exit_code == 0 && strcmp(run.out, out) == 0,
                  "expected exit 0 and the output:\n%s\nthe program %s and printed:\n%s\n"
                  "stderr:\n%s" CHAPTER_HINT("A run"),
                  out, program_run_outcome(&run, outcome, sizeof outcome), run.out, run.err,
                  chapter_doc());
    program_run_free(&run);
}

START_TEST(the_program_fans_out_and_the_late_consumer_lags)
{
    const char *argv[] = { chapter_program(), NULL };
    expect_output(argv, NULL,
                  "One subscriber connection, 2 channels, a broadcast channel of 16; 3 "
                  "consumers\nread as messages come, one more (the late one) only after the "
                  "last.\n"
                  "watch: subscribed to 2 channels\n"
                  "published 40 messages\n"
                  "consumer 1: 40 messages (1 to 40) in publish order, missed none\n"
                  "consumer 2: 40 messages (1 to 40) in publish order, missed none\n"
                  "consumer 3: 40 messages (1 to 40) in publish order, missed none\n"
                  "consumer 4 (late): lagged once, missed 24, then 16 messages (25 to 40) "
                  "in publish order\n"
                  "watch: stopped after 40 messages, 0 connections lost\n");
}
END_TEST

START_TEST(the_program_kills_its_subscriber_connection_and_reports_the_gap)
{
    const char *argv[] = { chapter_program(), "--consumers", "2", "--drop-connection", NULL };
    expect_output(argv, NULL,
                  "One subscriber connection, 2 channels, a broadcast channel of 16; 2 "
                  "consumers\nread as messages come, one more (the late one) only after the "
                  "last.\n"
                  "watch: subscribed to 2 channels\n"
                  "killed the subscriber's connection just before message 21\n"
                  "published 40 messages, 1 reached no subscriber (Redis Pub/Sub is "
                  "at-most-once)\n"
                  "consumer 1: 39 messages (1 to 40) in publish order, missed none, 1 gap notice\n"
                  "consumer 2: 39 messages (1 to 40) in publish order, missed none, 1 gap notice\n"
                  "consumer 3 (late): lagged once, missed 24, then 16 messages (25 to 40) "
                  "in publish order\n"
                  "watch: stopped after 39 messages, 1 connection lost\n");
}
END_TEST

START_TEST(a_bad_url_or_an_unreachable_server_exits_with_2)
{
    const char *argv[] = { chapter_program(), NULL };
    expect_exit_2_on_unusable_urls(argv, "A run");
}
END_TEST

/* A long program run on a thread of its own, so that the test can break the
 * server under it. */
struct program_thread {
    char env[96];
    struct program_run run;
    atomic_bool finished;
    pthread_t thread;
};

static void *program_main(void *arg)
{
    struct program_thread *p = arg;
    const char *argv[] = { chapter_program(), "--messages", "100000000", NULL };
    const char *env[] = { p->env, NULL };
    if (program_run(argv, env, PROGRAM_BOUND_MS, &p->run) != 0)
        p->run.exit_code = -2;
    atomic_store(&p->finished, true);
    return NULL;
}

/* PUBLISH calls the server has run so far (INFO commandstats). */
static long publishes_seen(const char *url)
{
    struct redis_client *c = connect_or_fail(url);
    const char *argv[] = { "INFO", "commandstats" };
    const size_t len[] = { 4, 12 };
    struct redis_result r = redis_client_command(c, 2, argv, len);
    long calls = 0;
    const char *at = r.kind == REDIS_RESULT_VALUE ? strstr(r.data, "cmdstat_publish:calls=") : NULL;
    if (at != NULL)
        calls = strtol(at + strlen("cmdstat_publish:calls="), NULL, 10);
    redis_result_free(&r);
    redis_client_free(c);
    return calls;
}

/* Runs the program against a private server and, once it is publishing,
 * kills the server (and restarts it when `restart`): the program's
 * publisher loses its connection, so it must report it and exit 1 - with
 * its subscriber reconnecting meanwhile, which must not hold it up. */
static void break_the_server_under_the_program(bool restart)
{
    struct redis_harness h;
    start_private_server(&h);
    struct program_thread p = { .run = { .exit_code = -1 } };
    atomic_init(&p.finished, false);
    snprintf(p.env, sizeof p.env, "REDIS_URL=%s", h.url);
    ck_assert_int_eq(pthread_create(&p.thread, NULL, program_main, &p), 0);
    int64_t deadline = test_now_ms() + BOUND_MS;
    long calls = 0;
    while ((calls = publishes_seen(h.url)) == 0 && !atomic_load(&p.finished) &&
           test_now_ms() < deadline)
        test_sleep_ms(5); /* only keeps the loop from spinning */
    char err[1024] = "";
    if (restart)
        ck_assert_msg(redis_harness_restart(&h, err, sizeof err) == 0, "restart: %s", err);
    else
        redis_harness_kill(&h);
    pthread_join(p.thread, NULL);
    redis_harness_stop(&h);
    char outcome[128];
    ck_assert_msg(calls > 0, "expected the program to publish within %d ms; the server saw no "
                  "PUBLISH, and the program %s.\nstderr:\n%s" CHAPTER_HINT("A run"), BOUND_MS,
                  program_run_outcome(&p.run, outcome, sizeof outcome), p.run.err, chapter_doc());
    ck_assert_msg(p.run.exit_code == 1 && strstr(p.run.err, "PUBLISH failed") != NULL &&
                      strstr(p.run.out, "watch: stopped after") != NULL,
                  "expected the program to report the lost connection (\"PUBLISH failed\"), "
                  "print its report and exit 1 when the server was %s; it %s.\nstdout:\n%s\n"
                  "stderr:\n%s" CHAPTER_HINT("Stopping"),
                  restart ? "restarted" : "killed",
                  program_run_outcome(&p.run, outcome, sizeof outcome), p.run.out, p.run.err,
                  chapter_doc());
    program_run_free(&p.run);
}

START_TEST(the_program_exits_1_when_the_server_dies_under_it)
{
    break_the_server_under_the_program(false);
}
END_TEST

START_TEST(the_program_exits_1_when_the_server_restarts_under_it)
{
    break_the_server_under_the_program(true);
}
END_TEST

static Suite *chapter_suite(void)
{
    Suite *s = suite_create("09-pubsub-fan-out");

    TCase *fanout = tcase_create("fan-out");
    tcase_set_timeout(fanout, 60);
    tcase_add_test(fanout, every_consumer_receives_every_message_in_publish_order);
    tcase_add_test(fanout, channel_names_and_payloads_arrive_byte_exact);
    tcase_add_test(fanout, a_consumer_held_back_past_the_capacity_learns_exactly_how_many_it_missed);
    suite_add_tcase(s, fanout);

    TCase *watch = tcase_create("watch");
    tcase_set_timeout(watch, 60);
    tcase_add_test(watch, the_watch_says_subscribed_only_once_redis_confirmed);
    tcase_add_test(watch, wait_for_looks_at_the_latest_value_before_it_waits);
    suite_add_tcase(s, watch);

    TCase *faults = tcase_create("faults");
    tcase_set_timeout(faults, 120);
    tcase_add_test(faults, a_killed_connection_is_subscribed_again_and_consumers_get_a_gap_notice);
    tcase_add_test(faults, a_server_restart_reads_subscribed_reconnecting_subscribed_on_the_watch);
    tcase_add_test(faults, stopping_while_reconnecting_to_a_dead_server_ends_everything);
    tcase_add_test(faults, stopping_does_not_wait_for_a_server_that_stopped_answering);
    suite_add_tcase(s, faults);

    TCase *closing = tcase_create("closing");
    tcase_set_timeout(closing, 60);
    tcase_add_test(closing, stopping_ends_every_consumer_and_late_readers_see_stopped);
    suite_add_tcase(s, closing);

    TCase *program = tcase_create("program");
    tcase_set_timeout(program, 150);
    tcase_add_test(program, the_program_fans_out_and_the_late_consumer_lags);
    tcase_add_test(program, the_program_kills_its_subscriber_connection_and_reports_the_gap);
    tcase_add_test(program, a_bad_url_or_an_unreachable_server_exits_with_2);
    tcase_add_test(program, the_program_exits_1_when_the_server_dies_under_it);
    tcase_add_test(program, the_program_exits_1_when_the_server_restarts_under_it);
    suite_add_tcase(s, program);
    return s;
}

int main(void)
{
    return test_run_chapter_suite(chapter_suite());
}
