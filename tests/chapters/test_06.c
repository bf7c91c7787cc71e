/*
 * test_06.c - chapter 06: the manager pipelines every batch of waiting
 * commands - appends them all, then reads the replies in order - and each
 * reply still reaches exactly its own caller, errors included.
 *
 * Run with `make test-06` (your code in chapters/) or `make test-06
 * SOLUTION=1`.  A failure says what was expected, what happened, and which
 * section of docs/06-pipelining.md explains it.
 *
 * Batches are made certain, not likely, with a private server that is
 * stopped (SIGSTOP) for a moment: the manager takes one request, writes it
 * and waits for a reply that cannot come; the test queues the batch behind
 * it, checks that all of it is still in the channel, and lets the server go
 * on (SIGCONT).  The manager's next mpsc_recv_many then takes exactly that
 * batch.  Every wait for an answer is bounded, so a broken solution fails
 * a test instead of hanging it.  Keys start with "test_06:<pid>:".
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

/* One test below makes the connection unable to queue a command, the way
 * running out of memory would: it asks for a command larger than any
 * allocation can be.  (The sanitizers' allocators fail such a request as
 * the C library's malloc does: tests/support/test_support.c.)  hiredis
 * 0.14 then leaks the empty string it started formatting the command in
 * (redisFormatSdsCommandArgv).  That leak is the library's, made on purpose
 * by that one test: it is not reported.  tests/valgrind.supp says the same
 * to valgrind. */
#if defined(__SANITIZE_ADDRESS__)
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:sdsnewlen\n";
}
#endif

#define CAPACITY 32
/* Bounds only decide how long a broken solution takes to fail. */
#define BOUND_MS 10000
#define PROGRAM_BOUND_MS 60000

/* ---- Helpers ------------------------------------------------------------------ */

static int key_for(char *buf, size_t size, const char *test, int thread, long i)
{
    int n = snprintf(buf, size, "test_06:%ld:%s:%d:%ld", (long)getpid(), test, thread, i);
    ck_assert(n > 0 && (size_t)n < size);
    return n;
}

static int value_for(char *buf, size_t size, int thread, long i)
{
    int n = snprintf(buf, size, "value %ld of thread %d from %ld", i, thread, (long)getpid());
    ck_assert(n > 0 && (size_t)n < size);
    return n;
}

static const char *text_of(const struct redis_result *r)
{
    return r->data != NULL ? r->data : "";
}

/* Which section to point at when a request failed with `text`. */
static const char *section_for(const char *text, const char *otherwise)
{
    if (strstr(text, "not implemented yet") != NULL)
        return "Pipelining the batch";
    return otherwise;
}

static struct redis_client *connect_to(const char *url)
{
    char err[512] = "";
    struct redis_client *c = redis_client_connect(url, NULL, err, sizeof err);
    ck_assert_msg(c != NULL, "the test could not connect to %s: %s", url, err);
    return c;
}

/* Runs a command on the test's own connection and returns its result. */
static struct redis_result command_on(struct redis_client *c, int argc, const char *const *argv)
{
    size_t len[8];
    ck_assert(argc <= 8);
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    return redis_client_command(c, argc, argv, len);
}

static void start_private_server(struct redis_harness *h)
{
    char err[512];
    ck_assert_msg(redis_harness_start(h, err, sizeof err) == 0,
                  "the test could not start a private Redis: %s", err);
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
                  CHAPTER_HINT("When the connection breaks mid-batch"),
                  why, BOUND_MS, chapter_doc());
    manager_join(m);
}

/* client_wait with a bound: the answer, or an error result if the reply
 * sender was dropped; a request still unanswered after BOUND_MS fails the
 * test (`what` names it). */
static struct redis_result wait_bounded(struct client_pending *p, const char *what)
{
    if (p->reply == NULL)
        return client_wait(p); /* it never left: the reason */
    struct redis_result result;
    enum chan_status status = oneshot_recv_timeout(p->reply, &result, BOUND_MS);
    ck_assert_msg(status != CHAN_TIMEOUT,
                  "expected %s to be answered (a value or an error), but its caller was still "
                  "waiting after %d ms"
                  CHAPTER_HINT("Pipelining the batch"),
                  what, BOUND_MS, chapter_doc());
    oneshot_receiver_drop(p->reply);
    p->reply = NULL;
    if (status != CHAN_OK)
        return redis_result_error(REDIS_RESULT_IO_ERROR,
                                  "the manager dropped the request without answering");
    return result;
}

static struct client_pending send_get(struct mpsc_sender *tx, const char *key)
{
    struct command cmd;
    ck_assert_int_eq(command_get(&cmd, key, strlen(key)), 0);
    return client_send(tx, &cmd);
}

static struct client_pending send_set(struct mpsc_sender *tx, const char *key, const char *value)
{
    struct command cmd;
    ck_assert_int_eq(command_set(&cmd, key, strlen(key), value, strlen(value)), 0);
    return client_send(tx, &cmd);
}

/* ---- Holding the manager, so that a batch is certain --------------------------- */

/* A server stopped with SIGSTOP still accepts bytes on its connections (the
 * kernel buffers them) but answers nothing until SIGCONT. */
struct hold {
    struct redis_harness *h;
    struct client_pending first; /* the request the manager is stuck on */
    bool manager_took_it;
};

/* Stops the server, sends one GET and waits (bounded) until the manager has
 * taken it: the manager is now waiting for a reply that cannot come, and
 * whatever is sent next stays in the channel. */
static void hold_manager(struct hold *hold, struct redis_harness *h, struct mpsc_sender *tx)
{
    char key[96];
    key_for(key, sizeof key, "hold", 0, 0);
    *hold = (struct hold){ .h = h };
    ck_assert_int_eq(kill(h->pid, SIGSTOP), 0);
    hold->first = send_get(tx, key);
    int64_t deadline = test_now_ms() + BOUND_MS;
    while (mpsc_sender_len(tx) > 0 && test_now_ms() < deadline)
        test_sleep_ms(1);
    hold->manager_took_it = mpsc_sender_len(tx) == 0;
}

/* Lets the server go on; the manager gets its reply and takes the batch.
 * Checked here, after SIGCONT, so that a failure never leaves the server
 * stopped: `queued` is what the channel held just before. */
static void release_manager(struct hold *hold, size_t queued, size_t expected)
{
    ck_assert_int_eq(kill(hold->h->pid, SIGCONT), 0);
    struct redis_result first = wait_bounded(&hold->first,
                                             "the GET sent while Redis was stopped");
    ck_assert_msg(hold->manager_took_it,
                  "expected the manager to take a GET from the channel while Redis was "
                  "stopped (SIGSTOP), but it was still queued %d ms later"
                  CHAPTER_HINT("Taking the batch"),
                  BOUND_MS, chapter_doc());
    ck_assert_msg(first.kind == REDIS_RESULT_NIL,
                  "expected the GET of a missing key that the manager took while Redis was "
                  "stopped (SIGSTOP) to give nil once Redis went on, got %s \"%s\""
                  CHAPTER_HINT("%s"),
                  redis_result_kind_name(first.kind), text_of(&first),
                  section_for(text_of(&first), "Pipelining the batch"), chapter_doc());
    redis_result_free(&first);
    ck_assert_msg(queued == expected,
                  "expected all %zu requests of the batch to wait in the channel while the "
                  "manager waited for Redis, but %zu did"
                  CHAPTER_HINT("Taking the batch"),
                  expected, queued, chapter_doc());
}

/* Asserts the manager's own report: the held request alone, then the
 * batch in one go. */
static void expect_two_batches(const struct manager *m, size_t batch)
{
    ck_assert_msg(m->batches == 2 && m->largest_batch == batch,
                  "expected 2 batches: the GET the manager took while Redis was stopped, "
                  "then the %zu requests queued behind it, in one mpsc_recv_many; got %zu "
                  "batches, the largest %zu"
                  CHAPTER_HINT("Taking the batch"),
                  batch, m->batches, m->largest_batch, chapter_doc());
}

/* ---- Many threads, each its own values ------------------------------------------ */

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

START_TEST(replies_reach_exactly_their_callers_under_256_threads)
{
    enum { THREADS = 256 };
    const long n = 20 / test_stress_divisor() > 0 ? 20 / test_stress_divisor() : 1;
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
                      section_for(threads[i].problem, "Replies in order"), chapter_doc());
    ck_assert_msg(m.executed == (size_t)(2 * THREADS * n) && m.failed == 0,
                  "expected the manager to execute %ld commands, 0 failed; got %zu and %zu"
                  CHAPTER_HINT("Pipelining the batch"),
                  2 * THREADS * n, m.executed, m.failed, chapter_doc());
    /* Not a timing claim: 256 callers and one manager, so while it waits
     * for one pipeline the next callers queue up.  A manager that never
     * took more than one command at a time would show 1 here. */
    ck_assert_msg(m.largest_batch > 1,
                  "expected 256 busy callers to make the manager take more than one command "
                  "per batch at least once, its largest batch was %zu"
                  CHAPTER_HINT("Taking the batch"),
                  m.largest_batch, chapter_doc());
}
END_TEST

START_TEST(replies_come_back_in_order_under_pipelining)
{
    /* One thread, many requests in flight: SET i, GET i for every i, all
     * sent before any answer is collected.  Each GET must see its own SET:
     * replies are matched to requests by order alone. */
    enum { N = 300 };
    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, test_redis_url(), &tx);
    static struct client_pending pending[2 * N];
    for (long i = 0; i < N; i++) {
        char key[96], value[96];
        key_for(key, sizeof key, "order", 0, i);
        value_for(value, sizeof value, 0, i);
        pending[2 * i] = send_set(tx, key, value);
        pending[2 * i + 1] = send_get(tx, key);
    }
    for (long i = 0; i < N; i++) {
        char value[96];
        int vl = value_for(value, sizeof value, 0, i);
        struct redis_result set = wait_bounded(&pending[2 * i], "a SET sent ahead");
        struct redis_result get = wait_bounded(&pending[2 * i + 1], "a GET sent ahead");
        ck_assert_msg(set.kind == REDIS_RESULT_OK && get.kind == REDIS_RESULT_VALUE &&
                          get.len == (size_t)vl && memcmp(get.data, value, get.len) == 0,
                      "request pair %ld: expected OK and \"%s\", got %s \"%s\" and %s \"%s\""
                      CHAPTER_HINT("%s"),
                      i, value, redis_result_kind_name(set.kind), text_of(&set),
                      redis_result_kind_name(get.kind), text_of(&get),
                      section_for(text_of(&set), "Replies in order"), chapter_doc());
        redis_result_free(&set);
        redis_result_free(&get);
    }
    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after its only sender was dropped");
    ck_assert_msg(m.executed == 2 * N,
                  "expected the manager to execute %d commands, got %zu"
                  CHAPTER_HINT("Pipelining the batch"),
                  2 * N, m.executed, chapter_doc());
}
END_TEST

/* ---- One batch, one write -------------------------------------------------------- */

/* Redis's own count of the times it read from a client socket. */
static long long reads_processed(struct redis_client *c)
{
    const char *argv[] = { "INFO", "stats" };
    struct redis_result r = command_on(c, 2, argv);
    const char *at = r.kind == REDIS_RESULT_VALUE ? strstr(r.data, "total_reads_processed:")
                                                  : NULL;
    ck_assert_msg(at != NULL, "INFO stats has no total_reads_processed: %s %s",
                  redis_result_kind_name(r.kind), text_of(&r));
    long long n = strtoll(at + strlen("total_reads_processed:"), NULL, 10);
    redis_result_free(&r);
    return n;
}

START_TEST(a_batch_reaches_redis_in_one_write)
{
    /* A manager that runs one command per round trip makes Redis read its
     * socket once per command: it cannot send the next before the reply to
     * the last.  A pipelining one writes the batch in one go, and Redis
     * reads it in one go.  Redis counts its reads (INFO stats), so the
     * difference is observable from outside. */
    enum { N = 24 };
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client *check = connect_to(h.url);
    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, h.url, &tx);

    long long before = reads_processed(check);
    struct hold hold;
    hold_manager(&hold, &h, tx);
    static struct client_pending pending[N];
    for (int i = 0; i < N; i++) {
        char key[96];
        key_for(key, sizeof key, "write", 0, i);
        pending[i] = send_set(tx, key, "one write");
    }
    size_t queued = mpsc_sender_len(tx);
    release_manager(&hold, queued, N);
    for (int i = 0; i < N; i++) {
        struct redis_result r = wait_bounded(&pending[i], "a SET of the batch");
        ck_assert_msg(r.kind == REDIS_RESULT_OK, "SET %d of the batch: expected OK, got %s \"%s\""
                      CHAPTER_HINT("%s"),
                      i, redis_result_kind_name(r.kind), text_of(&r),
                      section_for(text_of(&r), "Pipelining the batch"), chapter_doc());
        redis_result_free(&r);
    }
    /* The reads between the two INFOs: the held GET, the batch, and the
     * second INFO itself. */
    long long reads = reads_processed(check) - before;
    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after its only sender was dropped");
    redis_client_free(check);
    redis_harness_stop(&h);

    expect_two_batches(&m, N);
    ck_assert_msg(reads < N / 2,
                  "expected Redis to read the batch of %d commands in one go (a handful of "
                  "reads in all), but it counted %lld reads: were the commands sent one round "
                  "trip at a time?"
                  CHAPTER_HINT("Pipelining the batch"),
                  N, reads, chapter_doc());
}
END_TEST

/* ---- Errors inside a batch --------------------------------------------------------- */

START_TEST(a_redis_error_in_a_batch_reaches_only_its_caller)
{
    /* A batch of 9: SETs and GETs, with a GET of a list in the middle.  The
     * WRONGTYPE error is that caller's answer; the commands before and
     * after it in the same pipeline succeed. */
    enum { N = 9, WRONG = 4 };
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client *check = connect_to(h.url);
    char list_key[96];
    key_for(list_key, sizeof list_key, "list", 0, 0);
    const char *push[] = { "RPUSH", list_key, "an element" };
    struct redis_result r = command_on(check, 3, push);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER, "RPUSH: %s", text_of(&r));
    redis_result_free(&r);

    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, h.url, &tx);
    struct hold hold;
    hold_manager(&hold, &h, tx);
    /* 0..3: SET k_i v_i; 4: GET the list; 5..8: GET k_(i-5). */
    static struct client_pending pending[N];
    char keys[N][96], values[N][96];
    for (int i = 0; i < N; i++) {
        if (i < WRONG) {
            key_for(keys[i], sizeof keys[i], "mixed", 0, i);
            value_for(values[i], sizeof values[i], 0, i);
            pending[i] = send_set(tx, keys[i], values[i]);
        } else if (i == WRONG) {
            pending[i] = send_get(tx, list_key);
        } else {
            pending[i] = send_get(tx, keys[i - WRONG - 1]);
        }
    }
    size_t queued = mpsc_sender_len(tx);
    release_manager(&hold, queued, N);

    for (int i = 0; i < N; i++) {
        r = wait_bounded(&pending[i], "a request of the batch");
        if (i == WRONG)
            ck_assert_msg(r.kind == REDIS_RESULT_ERROR && strstr(text_of(&r), "WRONGTYPE") != NULL,
                          "expected the GET of a list, in the middle of the batch, to get "
                          "Redis's WRONGTYPE error, got %s \"%s\""
                          CHAPTER_HINT("%s"),
                          redis_result_kind_name(r.kind), text_of(&r),
                          section_for(text_of(&r), "Errors inside a batch"), chapter_doc());
        else if (i < WRONG)
            ck_assert_msg(r.kind == REDIS_RESULT_OK,
                          "expected SET %d, before the error in the same batch, to give OK, "
                          "got %s \"%s\""
                          CHAPTER_HINT("%s"),
                          i, redis_result_kind_name(r.kind), text_of(&r),
                          section_for(text_of(&r), "Errors inside a batch"), chapter_doc());
        else
            ck_assert_msg(r.kind == REDIS_RESULT_VALUE &&
                              strcmp(text_of(&r), values[i - WRONG - 1]) == 0,
                          "expected GET %d, after the error in the same batch, to give \"%s\", "
                          "got %s \"%s\" (an error reply is one command's answer; the replies "
                          "after it still come, and must be read)"
                          CHAPTER_HINT("%s"),
                          i, values[i - WRONG - 1], redis_result_kind_name(r.kind), text_of(&r),
                          section_for(text_of(&r), "Errors inside a batch"), chapter_doc());
        redis_result_free(&r);
    }
    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after its only sender was dropped");
    redis_client_free(check);
    redis_harness_stop(&h);

    expect_two_batches(&m, N);
    ck_assert_msg(!m.connection_lost && m.failed == 1 && m.executed == N + 1,
                  "expected %d commands executed, 1 failed (the WRONGTYPE) and the connection "
                  "still fine, got %zu executed, %zu failed, connection_lost=%d"
                  CHAPTER_HINT("Errors inside a batch"),
                  N + 1, m.executed, m.failed, (int)m.connection_lost, chapter_doc());
}
END_TEST

START_TEST(every_caller_of_a_batch_gets_an_error_when_the_server_dies_mid_batch)
{
    /* Redis is paused for writes only (CLIENT PAUSE ... WRITE): in the batch
     * [GET x4, SET, GET x4] the first four GETs are answered, then Redis
     * holds the SET - and the four GETs queued behind it on the connection.
     * The manager is now half-way through reading the batch's replies.
     * Killing the server then must give the SET's caller and the four after
     * it an error, within a bound. */
    enum { BEFORE = 4, AFTER = 4, N = BEFORE + 1 + AFTER };
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client *check = connect_to(h.url);
    char keys[N][96];
    for (int i = 0; i < N; i++)
        key_for(keys[i], sizeof keys[i], "killed", 0, i);
    for (int i = 0; i < BEFORE; i++) {
        const char *set[] = { "SET", keys[i], "answered before the kill" };
        struct redis_result r = command_on(check, 3, set);
        ck_assert_msg(r.kind == REDIS_RESULT_OK, "SET: %s", text_of(&r));
        redis_result_free(&r);
    }
    /* 8 s: long enough to outlast any test machine's pace here, short of
     * the manager's 10 s command timeout. */
    const char *pause[] = { "CLIENT", "PAUSE", "8000", "WRITE" };
    struct redis_result r = command_on(check, 4, pause);
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "CLIENT PAUSE ... WRITE: %s %s",
                  redis_result_kind_name(r.kind), text_of(&r));
    redis_result_free(&r);
    redis_client_free(check);

    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, h.url, &tx);
    struct hold hold;
    hold_manager(&hold, &h, tx);
    static struct client_pending pending[N];
    for (int i = 0; i < N; i++)
        pending[i] = i == BEFORE ? send_set(tx, keys[i], "held by the pause")
                                 : send_get(tx, keys[i]);
    size_t queued = mpsc_sender_len(tx);
    release_manager(&hold, queued, N);

    /* The GETs ahead of the SET are answered: the manager is mid-batch. */
    for (int i = 0; i < BEFORE; i++) {
        r = wait_bounded(&pending[i], "a GET ahead of the paused SET");
        ck_assert_msg(r.kind == REDIS_RESULT_VALUE &&
                          strcmp(text_of(&r), "answered before the kill") == 0,
                      "expected GET %d, ahead of the paused SET in the batch, to be answered "
                      "with its value, got %s \"%s\""
                      CHAPTER_HINT("%s"),
                      i, redis_result_kind_name(r.kind), text_of(&r),
                      section_for(text_of(&r), "When the connection breaks mid-batch"),
                      chapter_doc());
        redis_result_free(&r);
    }
    redis_harness_kill(&h);
    for (int i = BEFORE; i < N; i++) {
        r = wait_bounded(&pending[i], "a request of the batch Redis never answered");
        ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR,
                      "expected request %d of the batch, still unanswered when Redis was "
                      "killed, to get an i/o error, got %s \"%s\""
                      CHAPTER_HINT("When the connection breaks mid-batch"),
                      i, redis_result_kind_name(r.kind), text_of(&r), chapter_doc());
        redis_result_free(&r);
    }
    /* A request after that is refused, not left waiting. */
    struct client_pending late = send_get(tx, keys[0]);
    r = wait_bounded(&late, "a request sent after the connection was lost");
    ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR,
                  "expected a request after the connection was lost to get an i/o error, got "
                  "%s \"%s\""
                  CHAPTER_HINT("When the connection breaks mid-batch"),
                  redis_result_kind_name(r.kind), text_of(&r), chapter_doc());
    redis_result_free(&r);
    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after losing its connection");
    redis_harness_stop(&h);

    expect_two_batches(&m, N);
    ck_assert_msg(m.connection_lost && m.failure[0] != '\0',
                  "expected the manager to record the lost connection, got connection_lost=%d "
                  "\"%s\""
                  CHAPTER_HINT("When the connection breaks mid-batch"),
                  (int)m.connection_lost, m.failure, chapter_doc());
}
END_TEST

START_TEST(a_command_that_cannot_be_queued_fails_with_an_error_and_stops_the_manager)
{
    /* A SET whose value claims to be 4 EiB: the connection cannot even
     * format it, so append_command fails exactly as it does when memory
     * runs out (the bytes are never read).  From then on the connection is
     * unusable.  Its caller must get an error that says why, and the
     * manager must stop as after a lost connection: a request after it is
     * refused at once, not answered with an empty error by a manager that
     * carries on with a broken connection. */
    struct redis_harness h;
    start_private_server(&h);
    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, h.url, &tx);
    char key[96];
    key_for(key, sizeof key, "unqueued", 0, 0);
    struct command cmd;
    ck_assert_int_eq(command_set(&cmd, key, strlen(key), "x", 1), 0);
    cmd.value_len = (size_t)1 << 62; /* only the length lies; the value is never read */
    struct client_pending impossible = client_send(tx, &cmd);
    struct redis_result r = wait_bounded(&impossible, "a SET that cannot be queued");
    bool said_why = r.kind == REDIS_RESULT_IO_ERROR && text_of(&r)[0] != '\0';
    char what[300];
    snprintf(what, sizeof what, "%s \"%.200s\"", redis_result_kind_name(r.kind), text_of(&r));
    redis_result_free(&r);

    int64_t deadline = test_now_ms() + BOUND_MS;
    while (!manager_finished(&m) && test_now_ms() < deadline)
        test_sleep_ms(5);
    bool stopped = manager_finished(&m);
    struct client_pending late = send_get(tx, key);
    r = wait_bounded(&late, "a GET sent after the SET that could not be queued");
    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after its only sender was dropped");
    redis_harness_stop(&h);

    ck_assert_msg(said_why,
                  "expected the caller of a command that append_command could not queue to "
                  "get an i/o error saying why (record_failure), got %s"
                  CHAPTER_HINT("Pipelining the batch"),
                  what, chapter_doc());
    ck_assert_msg(stopped && m.connection_lost,
                  "expected the manager to stop after a command could not be queued (its "
                  "connection is unusable from then on), as after a lost connection; it was "
                  "still running %d ms later (connection_lost=%d)"
                  CHAPTER_HINT("Pipelining the batch"),
                  BOUND_MS, (int)m.connection_lost, chapter_doc());
    ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR,
                  "expected a request after that to be refused with an i/o error, got %s \"%s\""
                  CHAPTER_HINT("Pipelining the batch"),
                  redis_result_kind_name(r.kind), text_of(&r), chapter_doc());
    redis_result_free(&r);
}
END_TEST

/* ---- Callers that left ------------------------------------------------------------ */

START_TEST(a_caller_that_left_is_skipped_not_waited_on)
{
    /* A batch of GET a, GET b, SET c, GET c: the callers of GET b and of the
     * SET leave before the manager takes the batch.  The GET is skipped
     * (nobody wants its answer); the SET still runs (leaving does not take
     * back a write), and its answer, refused by the closed oneshot, is freed
     * by the manager - valgrind and SAN=address would see a leak. */
    enum { N = 4 };
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client *check = connect_to(h.url);
    char a[96], b[96], c[96];
    key_for(a, sizeof a, "left", 0, 0);
    key_for(b, sizeof b, "left", 0, 1);
    key_for(c, sizeof c, "left", 0, 2);
    const char *set_a[] = { "SET", a, "a stays" };
    const char *set_b[] = { "SET", b, "b left" };
    struct redis_result r = command_on(check, 3, set_a);
    redis_result_free(&r);
    r = command_on(check, 3, set_b);
    redis_result_free(&r);

    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, h.url, &tx);
    struct hold hold;
    hold_manager(&hold, &h, tx);
    struct client_pending get_a = send_get(tx, a);
    struct client_pending get_b = send_get(tx, b);
    struct client_pending set_c = send_set(tx, c, "c was written");
    struct client_pending get_c = send_get(tx, c);
    client_abandon(&get_b);
    client_abandon(&set_c);
    size_t queued = mpsc_sender_len(tx);
    release_manager(&hold, queued, N);

    struct redis_result ra = wait_bounded(&get_a, "GET a, whose caller stayed");
    struct redis_result rc = wait_bounded(&get_c, "GET c, after the SET whose caller left");
    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after its only sender was dropped");
    redis_client_free(check);
    redis_harness_stop(&h);

    ck_assert_msg(ra.kind == REDIS_RESULT_VALUE && strcmp(text_of(&ra), "a stays") == 0,
                  "expected GET a to give \"a stays\", got %s \"%s\"" CHAPTER_HINT("%s"),
                  redis_result_kind_name(ra.kind), text_of(&ra),
                  section_for(text_of(&ra), "Callers that left"), chapter_doc());
    ck_assert_msg(rc.kind == REDIS_RESULT_VALUE && strcmp(text_of(&rc), "c was written") == 0,
                  "expected the SET whose caller left to run anyway, so that GET c gives "
                  "\"c was written\"; got %s \"%s\"" CHAPTER_HINT("%s"),
                  redis_result_kind_name(rc.kind), text_of(&rc),
                  section_for(text_of(&rc), "Callers that left"), chapter_doc());
    expect_two_batches(&m, N);
    ck_assert_msg(m.skipped == 1 && m.executed == N - 1 + 1 && m.failed == 0,
                  "expected the GET whose caller left to be skipped and the other %d commands "
                  "(and the GET taken while Redis was stopped) to run; got %zu skipped, %zu "
                  "executed, %zu failed"
                  CHAPTER_HINT("Callers that left"),
                  N - 1, m.skipped, m.executed, m.failed, chapter_doc());
    redis_result_free(&ra);
    redis_result_free(&rc);
}
END_TEST

/* ---- The program ------------------------------------------------------------------ */

static void run_program(const struct redis_harness *h, const char *const *args,
                        struct program_run *run)
{
    const char *argv[16] = { chapter_program() };
    size_t argc = 1;
    for (; args[argc - 1] != NULL; argc++) {
        ck_assert(argc + 1 < sizeof argv / sizeof argv[0]);
        argv[argc] = args[argc - 1];
    }
    argv[argc] = NULL;
    char env_url[128];
    snprintf(env_url, sizeof env_url, "REDIS_URL=%s", h->url);
    const char *env[] = { env_url, NULL };
    ck_assert_msg(program_run(argv, env, PROGRAM_BOUND_MS, run) == 0, "cannot run %s",
                  argv[0]);
}

START_TEST(the_program_reports_every_command_and_how_it_was_batched)
{
    struct redis_harness h;
    start_private_server(&h);

    /* Without --timing: only what does not depend on timing. */
    const char *plain[] = { "--count", "500", "--pause-ms", "100", NULL };
    struct program_run run;
    run_program(&h, plain, &run);
    char outcome[128];
    ck_assert_msg(run.exit_code == 0 &&
                      strstr(run.out, "manager: completed 500, failed 0") != NULL &&
                      strstr(run.out, "every command is accounted for") != NULL &&
                      strstr(run.out, "batches:") == NULL,
                  "expected `%s --count 500 --pause-ms 100` to exit with 0 and report 500 "
                  "completed, every command accounted for, and no batch figures (they depend "
                  "on timing); it %s, its output was:\n%s\nand its stderr:\n%s"
                  CHAPTER_HINT("%s"),
                  chapter_program(), program_run_outcome(&run, outcome, sizeof outcome),
                  program_output_tail(run.out, 1500), program_output_tail(run.err, 1500),
                  section_for(run.err, "Pipelining the batch"), chapter_doc());
    program_run_free(&run);

    /* With --timing: the batches.  While Redis is paused the manager is
     * stuck on its first batch, the producer fills the channel (32), and
     * the manager's next recv_many takes all of it: a batch larger than 1
     * is certain, whatever the machine's pace. */
    const char *timed[] = { "--count", "500", "--pause-ms", "300", "--timing", NULL };
    run_program(&h, timed, &run);
    size_t commands = 0, pipelines = 0, largest = 0;
    const char *at = strstr(run.out, "batches: ");
    bool parsed = at != NULL && sscanf(at, "batches: %zu commands in %zu pipelines, %*f on "
                                           "average, at most %zu", &commands, &pipelines,
                                       &largest) == 3;
    ck_assert_msg(run.exit_code == 0 && parsed && commands == 500 && pipelines >= 1 &&
                      pipelines < 500 && largest > 1 && largest <= CAPACITY,
                  "expected `%s --count 500 --pause-ms 300 --timing` to exit with 0 and report "
                  "\"batches: 500 commands in N pipelines, ..., at most M\" with 1 < M <= 32; "
                  "it %s, its output was:\n%s"
                  CHAPTER_HINT("Pipelining the batch"),
                  chapter_program(), program_run_outcome(&run, outcome, sizeof outcome),
                  program_output_tail(run.out, 2000), chapter_doc());
    program_run_free(&run);
    redis_harness_stop(&h);
}
END_TEST

/* ---- The program on its fault paths ----------------------------------------------- */

/* The connection breaks in the middle of a batch: the commands of the
 * batch whose replies never came, and every later one, are answered with
 * the error, and every command is still accounted for. */
static void run_06_with_fault(enum program_fault fault)
{
    const char *argv[] = { chapter_program(), "--count", "2000000", "--pause-ms", "0", NULL };
    struct fault_run fr;
    program_run_with_fault(argv, fault, "set", 20000, PROGRAM_FAULT_HANG_MS, &fr);
    expect_exit_1_after_fault(&fr, fault, "--count 2000000 --pause-ms 0", "lost the connection",
                              "When the connection breaks mid-batch");
    ck_assert_msg(strstr(fr.run.out, "every command is accounted for") != NULL,
                  "expected every command to be accounted for when %s; the report was:\n%s"
                  CHAPTER_HINT("When the connection breaks mid-batch"),
                  program_fault_name(fault), fr.run.out, chapter_doc());
    fault_run_free(&fr);
}

START_TEST(the_program_exits_1_when_the_server_is_killed_mid_run)
{
    run_06_with_fault(FAULT_KILL_SERVER);
}
END_TEST

START_TEST(the_program_exits_1_when_its_connections_are_killed_mid_run)
{
    run_06_with_fault(FAULT_KILL_CONNECTIONS);
}
END_TEST

START_TEST(the_program_exits_1_when_the_server_restarts_mid_run)
{
    run_06_with_fault(FAULT_RESTART_SERVER);
}
END_TEST

START_TEST(a_server_that_wants_a_password_is_a_start_up_failure_with_exit_2)
{
    const char *argv[] = { chapter_program(), "--count", "10", "--pause-ms", "0", NULL };
    expect_exit_2_without_password(argv, "--count 10 --pause-ms 0");
}
END_TEST

static Suite *chapter_suite(void)
{
    Suite *s = suite_create("06-pipelining");
    TCase *tc = tcase_create("pipelining");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, replies_reach_exactly_their_callers_under_256_threads);
    tcase_add_test(tc, replies_come_back_in_order_under_pipelining);
    tcase_add_test(tc, a_batch_reaches_redis_in_one_write);
    tcase_add_test(tc, a_redis_error_in_a_batch_reaches_only_its_caller);
    tcase_add_test(tc, every_caller_of_a_batch_gets_an_error_when_the_server_dies_mid_batch);
    tcase_add_test(tc, a_command_that_cannot_be_queued_fails_with_an_error_and_stops_the_manager);
    tcase_add_test(tc, a_caller_that_left_is_skipped_not_waited_on);
    tcase_add_test(tc, the_program_reports_every_command_and_how_it_was_batched);
    suite_add_tcase(s, tc);

    add_program_fault_tests(s, the_program_exits_1_when_the_server_is_killed_mid_run,
                            the_program_exits_1_when_its_connections_are_killed_mid_run,
                            the_program_exits_1_when_the_server_restarts_mid_run,
                            a_server_that_wants_a_password_is_a_start_up_failure_with_exit_2);
    return s;
}

int main(void)
{
    return test_run_chapter_suite(chapter_suite());
}
