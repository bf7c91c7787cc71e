/*
 * test_04.c - chapter 04: the manager answers every request through a
 * oneshot channel, one command at a time, and never leaves a caller
 * waiting - not even when Redis dies.  (Pipelining, and the order of
 * replies within a batch, are chapter 06's: tests/chapters/test_06.c.)
 *
 * Run with `make test-04` (your code in chapters/) or `make test-04
 * SOLUTION=1`.  A failure says what was expected, what happened, and which
 * section of docs/04-responses.md explains it.
 *
 * Tests use the real Redis at test_redis_url(); the ones that kill or pause
 * a server start a private one.  A call that could hang if the code were
 * wrong runs on a helper thread and is waited for with a bound, so a broken
 * solution fails the test instead of hanging it.  Keys start with
 * "test_04:<pid>:" so runs never collide.
 */
#include <check.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "command.h"
#include "manager.h"
#include "mpsc.h"
#include "oneshot.h"
#include "program_faults.h"
#include "program_runner.h"
#include "redis_client.h"
#include "redis_harness.h"
#include "test_support.h"

#define CAPACITY 32
/* Bounds only decide how long a broken solution takes to fail. */
#define BOUND_MS 10000

/* ---- Helpers ------------------------------------------------------------------ */

static int key_for(char *buf, size_t size, const char *test, int thread, long i)
{
    int n = snprintf(buf, size, "test_04:%ld:%s:%d:%ld", (long)getpid(), test, thread, i);
    ck_assert(n > 0 && (size_t)n < size);
    return n;
}

static int value_for(char *buf, size_t size, int thread, long i)
{
    int n = snprintf(buf, size, "value %ld of thread %d from %ld", i, thread, (long)getpid());
    ck_assert(n > 0 && (size_t)n < size);
    return n;
}

static struct redis_client *connect_to(const char *url)
{
    char err[512] = "";
    struct redis_client *c = redis_client_connect(url, NULL, err, sizeof err);
    ck_assert_msg(c != NULL, "the test could not connect to %s: %s", url, err);
    return c;
}

static void start_manager(struct manager *m, const char *url, struct mpsc_sender **tx)
{
    char err[512] = "";
    *m = (struct manager){ .log = NULL };
    int rc = manager_start(m, url, CAPACITY, tx, err, sizeof err);
    ck_assert_msg(rc == 0 && *tx != NULL, "manager_start(%s) failed: %d (%s)", url, rc, err);
}

/* Waits (bounded) until the manager thread has ended, then joins it. */
static void expect_manager_ends(struct manager *m, const char *why)
{
    int64_t deadline = test_now_ms() + BOUND_MS;
    while (!manager_finished(m) && test_now_ms() < deadline)
        test_sleep_ms(5);
    ck_assert_msg(manager_finished(m),
                  "expected the manager to end %s, but it was still running %d ms later"
                  CHAPTER_HINT("Nothing hangs"),
                  why, BOUND_MS, chapter_doc());
    manager_join(m);
}

static const char *text_of(const struct redis_result *r)
{
    return r->data != NULL ? r->data : "";
}

/* Which section to point at when a request failed with `text`: the error a
 * starter or a half-done exercise gives says which part is missing. */
static const char *section_for(const char *text, const char *otherwise)
{
    /* The reply sender was dropped unused (the program says so in its own
     * words, naming the section). */
    if (strstr(text, "dropped the request") != NULL ||
        strstr(text, "\"The manager answers\"") != NULL)
        return "The manager answers";
    if (strstr(text, "not implemented yet") != NULL) /* client.c's starters */
        return "The client functions";
    return otherwise;
}

/* client_get on a helper thread, so that the test can wait for it with a
 * bound: a call that never returns fails the test instead of hanging it. */
struct bounded_call {
    pthread_t thread;
    struct mpsc_sender *tx;
    char key[96];
    size_t key_len;
    struct redis_result result;
    atomic_bool done;
};

static void *run_call(void *arg)
{
    struct bounded_call *c = arg;
    c->result = client_get(c->tx, c->key, c->key_len);
    atomic_store(&c->done, true);
    return NULL;
}

static struct redis_result get_within_bound(struct mpsc_sender *tx, const char *key,
                                            const char *when)
{
    struct bounded_call c = { .tx = tx };
    c.key_len = (size_t)snprintf(c.key, sizeof c.key, "%s", key);
    atomic_init(&c.done, false);
    ck_assert_int_eq(pthread_create(&c.thread, NULL, run_call, &c), 0);
    int64_t deadline = test_now_ms() + BOUND_MS;
    while (!atomic_load(&c.done) && test_now_ms() < deadline)
        test_sleep_ms(5);
    ck_assert_msg(atomic_load(&c.done),
                  "expected client_get %s to return (an answer or an error), but it was "
                  "still waiting after %d ms"
                  CHAPTER_HINT("Nothing hangs"),
                  when, BOUND_MS, chapter_doc());
    pthread_join(c.thread, NULL);
    return c.result;
}

/* ---- Many threads, each its own values ---------------------------------------- */

struct round_thread {
    pthread_t thread;
    struct mpsc_sender *tx;
    int id;
    long n;
    long rounds;       /* SET + GET pairs that came back right */
    char problem[400]; /* the first thing that went wrong */
};

static void *set_and_get(void *arg)
{
    struct round_thread *t = arg;
    for (long i = 0; i < t->n && t->problem[0] == '\0'; i++) {
        char key[96], value[96];
        int kl = key_for(key, sizeof key, "own", t->id, i);
        int vl = value_for(value, sizeof value, t->id, i);
        struct redis_result set = client_set(t->tx, key, (size_t)kl, value, (size_t)vl);
        if (set.kind != REDIS_RESULT_OK)
            snprintf(t->problem, sizeof t->problem, "SET %s gave %s %s", key,
                     redis_result_kind_name(set.kind), text_of(&set));
        redis_result_free(&set);
        if (t->problem[0] != '\0')
            break;
        struct redis_result get = client_get(t->tx, key, (size_t)kl);
        if (get.kind != REDIS_RESULT_VALUE || get.len != (size_t)vl ||
            memcmp(get.data, value, get.len) != 0)
            snprintf(t->problem, sizeof t->problem, "GET %s gave %s \"%.150s\", not \"%s\"",
                     key, redis_result_kind_name(get.kind), text_of(&get), value);
        else
            t->rounds++;
        redis_result_free(&get);
    }
    mpsc_sender_drop(t->tx);
    t->tx = NULL;
    return NULL;
}

START_TEST(sixty_four_threads_each_get_exactly_their_own_values)
{
    enum { THREADS = 64 };
    const long n = 50 / test_stress_divisor() > 0 ? 50 / test_stress_divisor() : 1;
    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, test_redis_url(), &tx);
    static struct round_thread threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        threads[i] = (struct round_thread){ .id = i + 1, .n = n, .tx = mpsc_sender_clone(tx) };
        ck_assert(threads[i].tx != NULL);
        ck_assert_int_eq(pthread_create(&threads[i].thread, NULL, set_and_get, &threads[i]), 0);
    }
    mpsc_sender_drop(tx);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i].thread, NULL);
    expect_manager_ends(&m, "after every sender was dropped");

    for (int i = 0; i < THREADS; i++)
        ck_assert_msg(threads[i].problem[0] == '\0' && threads[i].rounds == n,
                      "expected thread %d to get back exactly its own %ld values, but after "
                      "%ld rounds: %s"
                      CHAPTER_HINT("%s"),
                      threads[i].id, n, threads[i].rounds, threads[i].problem,
                      section_for(threads[i].problem, "The client functions"), chapter_doc());
    ck_assert_msg(m.executed == (size_t)(2 * THREADS * n) && m.failed == 0,
                  "expected the manager to execute %ld commands, 0 failed; got %zu and %zu"
                  CHAPTER_HINT("The manager answers"),
                  2 * THREADS * n, m.executed, m.failed, chapter_doc());
}
END_TEST

/* ---- Errors reach the caller --------------------------------------------------- */

START_TEST(a_redis_error_reply_reaches_the_caller_with_its_text)
{
    char list_key[96], key[96];
    int ll = key_for(list_key, sizeof list_key, "wrongtype", 0, 0);
    int kl = key_for(key, sizeof key, "wrongtype", 0, 1);
    struct redis_client *check = connect_to(test_redis_url());
    const char *argv[] = { "RPUSH", list_key, "an element" };
    const size_t len[] = { 5, (size_t)ll, 10 };
    struct redis_result r = redis_client_command(check, 3, argv, len);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER, "RPUSH: %s", text_of(&r));
    redis_result_free(&r);
    redis_client_free(check);

    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, test_redis_url(), &tx);
    r = client_get(tx, list_key, (size_t)ll);
    ck_assert_msg(r.kind == REDIS_RESULT_ERROR && strstr(text_of(&r), "WRONGTYPE") != NULL,
                  "expected GET of a list to give an error result with Redis's WRONGTYPE "
                  "text, got %s \"%s\""
                  CHAPTER_HINT("%s"),
                  redis_result_kind_name(r.kind), text_of(&r),
                  section_for(text_of(&r), "Errors reach the caller"), chapter_doc());
    redis_result_free(&r);

    /* An error reply is an answer like any other: the connection is fine. */
    r = client_set(tx, key, (size_t)kl, "still fine", 10);
    ck_assert_msg(r.kind == REDIS_RESULT_OK,
                  "expected a SET after an error reply to succeed (an error reply does not "
                  "break the connection), got %s \"%s\""
                  CHAPTER_HINT("Errors reach the caller"),
                  redis_result_kind_name(r.kind), text_of(&r), chapter_doc());
    redis_result_free(&r);
    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after its only sender was dropped");
    ck_assert_msg(!m.connection_lost && m.failed == 1,
                  "expected 1 failed command and no lost connection, got %zu failed, "
                  "connection_lost=%d (%s)"
                  CHAPTER_HINT("Errors reach the caller"),
                  m.failed, (int)m.connection_lost, m.failure, chapter_doc());
}
END_TEST

/* Callers looping client_get until they see an error. */
struct looping_caller {
    pthread_t thread;
    struct mpsc_sender *tx;
    int id;
    atomic_long answers;  /* answers that were not errors */
    atomic_bool done;
    struct redis_result error; /* the error that ended the loop */
};

static void *get_until_error(void *arg)
{
    struct looping_caller *c = arg;
    char key[96];
    int kl = key_for(key, sizeof key, "killed", c->id, 0);
    for (;;) {
        struct redis_result r = client_get(c->tx, key, (size_t)kl);
        if (redis_result_is_error(&r)) {
            c->error = r;
            break;
        }
        redis_result_free(&r);
        atomic_fetch_add(&c->answers, 1);
    }
    atomic_store(&c->done, true);
    return NULL;
}

START_TEST(every_waiting_caller_gets_an_error_when_the_server_is_killed)
{
    enum { CALLERS = 16 };
    struct redis_harness h;
    char err[512];
    ck_assert_msg(redis_harness_start(&h, err, sizeof err) == 0, "%s", err);
    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, h.url, &tx);

    static struct looping_caller callers[CALLERS];
    for (int i = 0; i < CALLERS; i++) {
        callers[i] = (struct looping_caller){ .id = i + 1, .tx = mpsc_sender_clone(tx) };
        atomic_init(&callers[i].answers, 0);
        atomic_init(&callers[i].done, false);
        ck_assert(callers[i].tx != NULL);
        ck_assert_int_eq(pthread_create(&callers[i].thread, NULL, get_until_error, &callers[i]), 0);
    }
    /* Kill the server once every caller is in full swing (has had an
     * answer), so that requests are queued and in flight at that moment.
     * A caller that fails before is noted, and reported after the clean-up
     * so that a failing test leaves no thread behind. */
    int failed_early = -1;
    int64_t deadline = test_now_ms() + BOUND_MS;
    for (int i = 0; i < CALLERS && failed_early < 0; i++) {
        while (atomic_load(&callers[i].answers) == 0 && !atomic_load(&callers[i].done) &&
               test_now_ms() < deadline)
            test_sleep_ms(2);
        if (atomic_load(&callers[i].done) || atomic_load(&callers[i].answers) == 0)
            failed_early = i;
    }
    if (failed_early < 0)
        test_sleep_ms(100);
    redis_harness_kill(&h);

    deadline = test_now_ms() + BOUND_MS;
    for (int i = 0; i < CALLERS; i++) {
        while (!atomic_load(&callers[i].done) && test_now_ms() < deadline)
            test_sleep_ms(5);
        ck_assert_msg(atomic_load(&callers[i].done),
                      "expected caller %d to get an error once Redis was killed, but it was "
                      "still waiting %d ms later"
                      CHAPTER_HINT("When the connection breaks"),
                      i, BOUND_MS, chapter_doc());
    }
    for (int i = 0; i < CALLERS; i++)
        pthread_join(callers[i].thread, NULL);
    if (failed_early >= 0) {
        const struct looping_caller *c = &callers[failed_early];
        ck_abort_msg("expected caller %d to get answers while Redis was up, got %s%s"
                     CHAPTER_HINT("%s"),
                     failed_early, c->error.data != NULL ? "the error: " : "no answer at all",
                      text_of(&c->error), section_for(text_of(&c->error), "The client functions"),
                      chapter_doc());
    }
    for (int i = 0; i < CALLERS; i++) {
        ck_assert_msg(callers[i].error.kind == REDIS_RESULT_IO_ERROR,
                      "expected caller %d to see an i/o error (connection lost, or manager "
                      "stopped), got %s \"%s\""
                      CHAPTER_HINT("When the connection breaks"),
                      i, redis_result_kind_name(callers[i].error.kind),
                      text_of(&callers[i].error), chapter_doc());
        redis_result_free(&callers[i].error);
        mpsc_sender_drop(callers[i].tx);
    }
    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after losing its connection");
    ck_assert_msg(m.connection_lost && m.failure[0] != '\0',
                  "expected the manager to record the lost connection, got connection_lost=%d "
                  "\"%s\""
                  CHAPTER_HINT("When the connection breaks"),
                  (int)m.connection_lost, m.failure, chapter_doc());
    redis_harness_stop(&h);
}
END_TEST

START_TEST(a_request_after_the_manager_stopped_gets_an_error_not_a_hang)
{
    struct redis_harness h;
    char err[512];
    ck_assert_msg(redis_harness_start(&h, err, sizeof err) == 0, "%s", err);
    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, h.url, &tx);
    char key[96];
    key_for(key, sizeof key, "stopped", 0, 0);

    struct redis_result up = get_within_bound(tx, key, "while Redis is up");
    redis_harness_kill(&h);
    /* The first request finds the connection dead, which ends the manager
     * although our sender is still alive... */
    struct redis_result dead = get_within_bound(tx, key, "right after Redis was killed");
    int64_t deadline = test_now_ms() + BOUND_MS;
    while (dead.kind == REDIS_RESULT_IO_ERROR && !manager_finished(&m) &&
           test_now_ms() < deadline)
        test_sleep_ms(5);
    bool ended = manager_finished(&m);
    /* ...and a request after that is refused at once. */
    struct redis_result late = get_within_bound(tx, key, "after the manager stopped");
    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after it lost its connection and its last sender was dropped");
    redis_harness_stop(&h);

    /* Checked after the clean-up, so that a failure leaves no thread behind. */
    ck_assert_msg(up.kind == REDIS_RESULT_NIL,
                  "expected GET of a missing key to give nil, got %s \"%s\""
                  CHAPTER_HINT("%s"),
                  redis_result_kind_name(up.kind), text_of(&up),
                  section_for(text_of(&up), "The client functions"), chapter_doc());
    ck_assert_msg(dead.kind == REDIS_RESULT_IO_ERROR,
                  "expected the request that found Redis dead to get an i/o error, got %s "
                  "\"%s\""
                  CHAPTER_HINT("When the connection breaks"),
                  redis_result_kind_name(dead.kind), text_of(&dead), chapter_doc());
    ck_assert_msg(ended,
                  "expected the manager to end after it lost its connection (while a sender "
                  "was still alive)"
                  CHAPTER_HINT("When the connection breaks"),
                  chapter_doc());
    ck_assert_msg(late.kind == REDIS_RESULT_IO_ERROR && strstr(text_of(&late), "stopped") != NULL,
                  "expected a request to a stopped manager to get an i/o error saying the "
                  "manager has stopped, got %s \"%s\""
                  CHAPTER_HINT("Nothing hangs"),
                  redis_result_kind_name(late.kind), text_of(&late), chapter_doc());
    redis_result_free(&up);
    redis_result_free(&dead);
    redis_result_free(&late);
}
END_TEST

/* ---- Nothing leaks ------------------------------------------------------------- */

/* Sends `cmd` with a reply channel whose receiving end is dropped at once:
 * its caller has left before the manager even looks at it. */
static void send_and_leave(struct mpsc_sender *tx, struct command *cmd)
{
    struct oneshot_sender *rtx;
    struct oneshot_receiver *rrx;
    ck_assert_int_eq(oneshot_channel(sizeof(struct redis_result), command_reply_drop, &rtx,
                                     &rrx), 0);
    cmd->reply = rtx;
    oneshot_receiver_drop(rrx);
    ck_assert_int_eq(mpsc_send(tx, cmd), CHAN_OK);
}

/* Waits (bounded) until the manager has dealt with everything sent before:
 * a GET sent after it, on a reply channel of the test's own (no client
 * function involved), is answered only once those are. */
static void await_manager(struct mpsc_sender *tx, const char *key, size_t key_len)
{
    struct oneshot_sender *rtx;
    struct oneshot_receiver *rrx;
    struct command cmd;
    ck_assert_int_eq(oneshot_channel(sizeof(struct redis_result), command_reply_drop, &rtx,
                                     &rrx), 0);
    ck_assert_int_eq(command_get(&cmd, key, key_len), 0);
    cmd.reply = rtx;
    ck_assert_int_eq(mpsc_send(tx, &cmd), CHAN_OK);
    struct redis_result r;
    enum chan_status st = oneshot_recv_timeout(rrx, &r, BOUND_MS);
    ck_assert_msg(st == CHAN_OK,
                  "expected the manager to answer a GET through its reply channel, got %s "
                  "after up to %d ms"
                  CHAPTER_HINT("The manager answers"),
                  chan_status_name(st), BOUND_MS, chapter_doc());
    redis_result_free(&r);
    oneshot_receiver_drop(rrx);
}

/* After a part of a_caller_that_left_does_not_leak_its_reply: nothing may
 * have leaked so far (LeakSanitizer, in the default SAN=address build). */
static void expect_no_leak(const char *what, const char *section)
{
    ck_assert_msg(!test_leaks_found(),
                  "expected no answer to leak when %s, but LeakSanitizer found memory nobody "
                  "frees (its report is above, with where each block was allocated)"
                  CHAPTER_HINT("%s"),
                  what, section, chapter_doc());
}

START_TEST(a_caller_that_left_does_not_leak_its_reply)
{
    /* Every way a reply can be orphaned.  A leaked reply fails the test in
     * the SAN=address build (LeakSanitizer), and under valgrind.  The GETs'
     * replies are 256 KiB each, so such a leak is not a small one.  The
     * first part involves only the manager; the second, the client
     * functions too, so that a leak names the part that made it. */
    enum { BIG = 256 * 1024 };
    char *big = malloc(BIG);
    ck_assert(big != NULL);
    memset(big, 'r', BIG);
    char key[96], left_key[96], forget_key[96];
    int kl = key_for(key, sizeof key, "left", 0, 0);
    int lkl = key_for(left_key, sizeof left_key, "left", 0, 1);
    int fkl = key_for(forget_key, sizeof forget_key, "left", 0, 2);

    struct redis_harness h;
    char err[512];
    ck_assert_msg(redis_harness_start(&h, err, sizeof err) == 0, "%s", err);
    struct redis_client *direct = connect_to(h.url);
    struct redis_result r = redis_client_set(direct, key, (size_t)kl, big, BIG);
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "SET on the test's own connection: %s", text_of(&r));
    redis_result_free(&r);
    redis_client_free(direct);
    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, h.url, &tx);

    /* 1. Left before the manager looked: a GET and a SET whose receivers are
     *    dropped before they are even sent.  The GET is skipped; the SET
     *    still runs, and its answer, refused by the closed oneshot, must be
     *    freed by the manager. */
    struct command cmd;
    ck_assert_int_eq(command_get(&cmd, key, (size_t)kl), 0);
    send_and_leave(tx, &cmd);
    ck_assert_int_eq(command_set(&cmd, left_key, (size_t)lkl, "left", 4), 0);
    send_and_leave(tx, &cmd);

    /* 2. Fire and forget: no reply channel at all. */
    ck_assert_int_eq(command_set(&cmd, forget_key, (size_t)fkl, "forgotten", 9), 0);
    ck_assert_int_eq(mpsc_send(tx, &cmd), CHAN_OK);
    await_manager(tx, key, (size_t)kl);
    expect_no_leak("the manager answers a SET whose caller has left (oneshot_send refuses "
                   "it: the result is still the manager's to free) and a fire-and-forget "
                   "SET (reply NULL)",
                   "The manager answers");

    /* 3. Left while the manager may be busy with it (Redis is paused, so
     *    the manager may be waiting for the reply when we walk away; or it
     *    sees we left and skips the GET - both must be leak-free). */
    ck_assert_int_eq(redis_harness_pause(&h, 300), 0);
    ck_assert_int_eq(command_get(&cmd, key, (size_t)kl), 0);
    struct client_pending busy = client_send(tx, &cmd);
    client_abandon(&busy);

    /* 4. Answered but never received: the answer to `stored` is sent before
     *    the answer to the client_get after it (one manager, in order). */
    ck_assert_int_eq(command_get(&cmd, key, (size_t)kl), 0);
    struct client_pending stored = client_send(tx, &cmd);
    r = client_get(tx, left_key, (size_t)lkl);
    ck_assert_msg(r.kind == REDIS_RESULT_VALUE && strcmp(text_of(&r), "left") == 0,
                  "expected the SET whose caller left to have run anyway, got %s \"%s\""
                  CHAPTER_HINT("%s"),
                  redis_result_kind_name(r.kind), text_of(&r),
                  section_for(text_of(&r), "The manager answers"), chapter_doc());
    redis_result_free(&r);
    client_abandon(&stored); /* the 256 KiB answer waits inside: freed here */

    r = client_get(tx, forget_key, (size_t)fkl);
    ck_assert_msg(r.kind == REDIS_RESULT_VALUE && strcmp(text_of(&r), "forgotten") == 0,
                  "expected the fire-and-forget SET (reply NULL) to have run, got %s \"%s\""
                  CHAPTER_HINT("The manager answers"),
                  redis_result_kind_name(r.kind), text_of(&r), chapter_doc());
    redis_result_free(&r);

    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after its only sender was dropped");
    ck_assert_msg(m.skipped >= 1 && m.failed == 0,
                  "expected the GET whose caller left first to be skipped, and nothing to "
                  "fail; got %zu skipped, %zu failed"
                  CHAPTER_HINT("The manager answers"),
                  m.skipped, m.failed, chapter_doc());
    redis_harness_stop(&h);
    free(big);
    expect_no_leak("callers wait with client_get or give up with client_abandon (client_wait "
                   "drops the receiver it waited on)",
                   "The client functions");
}
END_TEST

/* ---- What client_send leaves behind ------------------------------------------- */

START_TEST(a_sent_command_is_left_empty_for_its_caller)
{
    /* Once the channel has taken the command, its copy is the manager's: the
     * caller's struct must no longer point at the key, the value or the
     * reply sender, or a caller that tidies up with command_free (which is
     * harmless on an empty command) would free the manager's memory. */
    char key[96];
    int kl = key_for(key, sizeof key, "emptied", 0, 0);
    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, test_redis_url(), &tx);
    struct command cmd;
    ck_assert_int_eq(command_set(&cmd, key, (size_t)kl, "v", 1), 0);
    struct client_pending pending = client_send(tx, &cmd);
    bool emptied = cmd.key == NULL && cmd.value == NULL && cmd.reply == NULL;
    struct redis_result r = client_wait(&pending);
    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after its only sender was dropped");
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "expected the SET to give OK, got %s \"%s\""
                  CHAPTER_HINT("%s"),
                  redis_result_kind_name(r.kind), text_of(&r),
                  section_for(text_of(&r), "The client functions"), chapter_doc());
    redis_result_free(&r);
    ck_assert_msg(emptied,
                  "expected client_send to empty *cmd once mpsc_send had taken it (key, value "
                  "and reply NULL): the channel's copy belongs to the manager now, and the "
                  "caller's copy must not free it a second time"
                  CHAPTER_HINT("The client functions"),
                  chapter_doc());
}
END_TEST

/* ---- The program on its fault paths ----------------------------------------------- */

/* When the connection breaks, the manager answers every request with the
 * error and ends; every thread stops at that answer, and the program says
 * that it lost the connection: exit status 1, errors during the run.  It
 * ends by itself, soon after the fault: nothing hangs. */
static void run_04_with_fault(enum program_fault fault)
{
    const char *argv[] = { chapter_program(), "--threads", "4", "--iterations", "10000", NULL };
    struct fault_run fr;
    program_run_with_fault(argv, fault, "set", 500, PROGRAM_FAULT_HANG_MS, &fr);
    expect_exit_1_after_fault(&fr, fault, "--threads 4 --iterations 10000",
                              "lost the connection", "When the connection breaks");
    ck_assert_msg(count_of(fr.run.out, "; stopped: ") == 4,
                  "expected each of the 4 threads to report that it stopped when %s; the "
                  "report was:\n%s" CHAPTER_HINT("Nothing hangs"),
                  program_fault_name(fault), fr.run.out, chapter_doc());
    ck_assert_msg(fr.ms_after_fault <= BOUND_MS,
                  "expected the program to end within %d ms of the fault (%s), it took %ld ms"
                  CHAPTER_HINT("Nothing hangs"),
                  BOUND_MS, program_fault_name(fault), fr.ms_after_fault, chapter_doc());
    fault_run_free(&fr);
}

START_TEST(the_program_exits_nonzero_with_a_clear_message_when_the_server_dies)
{
    run_04_with_fault(FAULT_KILL_SERVER);
}
END_TEST

START_TEST(the_program_exits_1_when_its_connection_is_killed_mid_run)
{
    run_04_with_fault(FAULT_KILL_CONNECTIONS);
}
END_TEST

START_TEST(the_program_exits_1_when_the_server_restarts_mid_run)
{
    run_04_with_fault(FAULT_RESTART_SERVER);
}
END_TEST

START_TEST(a_server_that_wants_a_password_is_a_start_up_failure_with_exit_2)
{
    const char *argv[] = { chapter_program(), "--threads", "2", "--iterations", "5", NULL };
    expect_exit_2_without_password(argv, "--threads 2 --iterations 5");
}
END_TEST

static Suite *chapter_suite(void)
{
    Suite *s = suite_create("04-responses");
    TCase *tc = tcase_create("responses");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sixty_four_threads_each_get_exactly_their_own_values);
    tcase_add_test(tc, a_redis_error_reply_reaches_the_caller_with_its_text);
    tcase_add_test(tc, every_waiting_caller_gets_an_error_when_the_server_is_killed);
    tcase_add_test(tc, a_request_after_the_manager_stopped_gets_an_error_not_a_hang);
    tcase_add_test(tc, a_caller_that_left_does_not_leak_its_reply);
    tcase_add_test(tc, a_sent_command_is_left_empty_for_its_caller);
    suite_add_tcase(s, tc);

    add_program_fault_tests(s, the_program_exits_nonzero_with_a_clear_message_when_the_server_dies,
                            the_program_exits_1_when_its_connection_is_killed_mid_run,
                            the_program_exits_1_when_the_server_restarts_mid_run,
                            a_server_that_wants_a_password_is_a_start_up_failure_with_exit_2);
    return s;
}

int main(void)
{
    return test_run_chapter_suite(chapter_suite());
}
