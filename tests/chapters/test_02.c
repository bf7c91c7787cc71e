/*
 * test_02.c - chapter 02: one connection behind a mutex.
 *
 * Links the chapter's locked_client.c (the learner's, the solution's or the
 * generated starter's, whichever `make` builds) and checks:
 *   - many threads through one locked client each get their own replies;
 *   - the wrapper's results come through unchanged (nil, Redis errors);
 *   - the lock is held for the whole round trip, so only one request is on
 *     its way at a time (seen with a paused private server);
 *   - the chapter's program runs clean.
 *
 * Threads started here never call ck_assert: they record what they saw, and
 * the test's own thread checks it after the join.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "locked_client.h"
#include "program_faults.h"
#include "program_runner.h"
#include "redis_client.h"
#include "redis_harness.h"
#include "test_support.h"

/* ---- Helpers -------------------------------------------------------------- */

/* Writes "test_02:NAME:PID" to buf and returns its length: keys of their
 * own, so a leftover from another run or test cannot make a test pass. */
static size_t key_for(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "test_02:%s:%ld", name, (long)getpid());
    ck_assert(n > 0 && (size_t)n < size);
    return (size_t)n;
}

static struct redis_client *connect_to(const char *url)
{
    char err[512] = "";
    struct redis_client *c = redis_client_connect(url, NULL, err, sizeof err);
    ck_assert_msg(c != NULL, "cannot connect to %s: %s", url, err);
    return c;
}

/* A locked client on its own connection to `url`. */
static void open_locked(struct locked_client *lc, const char *url)
{
    struct redis_client *c = connect_to(url);
    int rc = locked_client_init(lc, c);
    ck_assert_msg(rc == 0, "locked_client_init failed: %s", strerror(rc));
}

/* `ok "OK"`, `value "..."`, `nil`, `error "..."`: for messages. */
static const char *describe(const struct redis_result *r, char *buf, size_t size)
{
    if (r->kind == REDIS_RESULT_INTEGER)
        snprintf(buf, size, "integer %lld", r->integer);
    else if (r->data == NULL)
        snprintf(buf, size, "%s", redis_result_kind_name(r->kind));
    else
        snprintf(buf, size, "%s \"%.200s\"", redis_result_kind_name(r->kind), r->data);
    return buf;
}

static bool is_value(const struct redis_result *r, const char *expected, size_t len)
{
    return r->kind == REDIS_RESULT_VALUE && r->len == len && memcmp(r->data, expected, len) == 0;
}

/* Runs NAME KEY [ARG] (DEL, RPUSH) on a plain client and returns the
 * result: for setting up what a test needs, outside the locked client. */
static struct redis_result command(struct redis_client *c, const char *name,
                                   const char *key, size_t key_len,
                                   const char *arg /* may be NULL */)
{
    const char *argv[] = { name, key, arg };
    const size_t len[] = { strlen(name), key_len, arg ? strlen(arg) : 0 };
    return redis_client_command(c, arg ? 3 : 2, argv, len);
}

static void forget(struct redis_client *c, const char *key, size_t key_len)
{
    struct redis_result r = command(c, "DEL", key, key_len, NULL);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER, "DEL %s failed: %s", key,
                  r.data ? r.data : redis_result_kind_name(r.kind));
    redis_result_free(&r);
}

/* True if the lock is free at this moment (it is taken and let go at once). */
static bool lock_is_free(struct locked_client *lc)
{
    if (pthread_mutex_trylock(&lc->lock) != 0)
        return false;
    pthread_mutex_unlock(&lc->lock);
    return true;
}

/* Called right after `function` returned, with no other thread using lc:
 * the lock must be free again, or the next call would wait forever. */
static void assert_lock_released(struct locked_client *lc, const char *function)
{
    ck_assert_msg(lock_is_free(lc),
                  "expected %s to release lc->lock before it returns, on every path out (an "
                  "early return too); it was still taken, so the next call would wait forever"
                  CHAPTER_HINT("Why the whole round trip"),
                  function, chapter_doc());
}

/* locked_client_set(key, value) must return OK and release the lock. */
static void set_through(struct locked_client *lc, const char *key, const char *value)
{
    struct redis_result r = locked_client_set(lc, key, strlen(key), value, strlen(value));
    char got[300];
    ck_assert_msg(r.kind == REDIS_RESULT_OK,
                  "expected locked_client_set(\"%s\", \"%s\") to return ok, got %s"
                  CHAPTER_HINT("The fix"),
                  key, value, describe(&r, got, sizeof got), chapter_doc());
    redis_result_free(&r);
    assert_lock_released(lc, "locked_client_set");
}

/* locked_client_get(key) must return `value` and release the lock. */
static void get_through(struct locked_client *lc, const char *key, const char *value)
{
    struct redis_result r = locked_client_get(lc, key, strlen(key));
    char got[300];
    ck_assert_msg(is_value(&r, value, strlen(value)),
                  "expected locked_client_get(\"%s\") to return value \"%s\", got %s"
                  CHAPTER_HINT("The fix"),
                  key, value, describe(&r, got, sizeof got), chapter_doc());
    redis_result_free(&r);
    assert_lock_released(lc, "locked_client_get");
}

/* ---- Many threads, one locked client --------------------------------------- */

#define STRESS_THREADS 32
#define STRESS_ROUNDS 1000L
/* A lock that is never released leaves the threads stuck for good: the
 * test gives up on them after this long, which is many times what the
 * work takes even under a sanitizer. */
#define STRESS_LIMIT_MS 60000

struct stress_thread {
    struct locked_client *lc;
    atomic_int *finished;      /* threads done, shared by all */
    int id;
    long rounds;               /* to do */
    long done;                 /* done */
    long wrong;                /* replies that were not this thread's */
    char first_wrong[512];     /* the first of them; "" if none */
    char error[512];           /* the error reply that stopped it; "" if none */
};

/* Records a reply that is not the expected one; returns false if it was an
 * error, which ends the thread (a starter's "not implemented yet"). */
static bool note_problem(struct stress_thread *t, long round, const char *command_name,
                         const struct redis_result *got, const char *expected)
{
    char got_text[300];
    describe(got, got_text, sizeof got_text);
    if (redis_result_is_error(got)) {
        snprintf(t->error, sizeof t->error, "round %ld: %s expected %s, got %s",
                 round, command_name, expected, got_text);
        return false;
    }
    if (t->wrong++ == 0)
        snprintf(t->first_wrong, sizeof t->first_wrong, "round %ld: %s expected %s, got %s",
                 round, command_name, expected, got_text);
    return true;
}

static void run_stress_rounds(struct stress_thread *t)
{
    char key[64];
    int key_len = snprintf(key, sizeof key, "test_02:stress:%ld:%d", (long)getpid(), t->id);
    for (long round = 1; round <= t->rounds; round++) {
        char value[64], expected[96];
        int value_len = snprintf(value, sizeof value, "thread %d round %ld", t->id, round);

        struct redis_result r = locked_client_set(t->lc, key, (size_t)key_len, value, (size_t)value_len);
        bool go_on = r.kind == REDIS_RESULT_OK || note_problem(t, round, "SET", &r, "ok");
        redis_result_free(&r);
        if (!go_on)
            return;

        r = locked_client_get(t->lc, key, (size_t)key_len);
        if (!is_value(&r, value, (size_t)value_len)) {
            snprintf(expected, sizeof expected, "value \"%s\"", value);
            go_on = note_problem(t, round, "GET", &r, expected);
        }
        redis_result_free(&r);
        if (!go_on)
            return;
        t->done = round;
    }
}

static void *stress_thread_body(void *arg)
{
    struct stress_thread *t = arg;
    run_stress_rounds(t);
    atomic_fetch_add(t->finished, 1);
    return NULL;
}

START_TEST(thirty_two_threads_each_get_their_own_values_back)
{
    struct locked_client lc;
    open_locked(&lc, test_redis_url());
    /* One round trip alone first: a missing unlock shows here at once,
     * rather than as 32 threads stuck until the time limit. */
    char key[128];
    key_for(key, sizeof key, "alone");
    set_through(&lc, key, "alone");
    get_through(&lc, key, "alone");

    static struct stress_thread threads[STRESS_THREADS];
    pthread_t ids[STRESS_THREADS];
    atomic_int finished;
    atomic_init(&finished, 0);
    long rounds = STRESS_ROUNDS / test_stress_divisor();

    for (int i = 0; i < STRESS_THREADS; i++) {
        threads[i] = (struct stress_thread){
            .lc = &lc, .finished = &finished, .id = i + 1, .rounds = rounds,
        };
        int rc = pthread_create(&ids[i], NULL, stress_thread_body, &threads[i]);
        ck_assert_msg(rc == 0, "pthread_create: %s", strerror(rc));
    }
    /* Joining a thread stuck on a lock nobody releases would hang the test:
     * wait for them with a limit instead, and only then join. */
    int64_t limit = test_now_ms() + STRESS_LIMIT_MS;
    while (atomic_load(&finished) < STRESS_THREADS && test_now_ms() < limit)
        test_sleep_ms(10);
    ck_assert_msg(atomic_load(&finished) == STRESS_THREADS,
                  "expected %d threads x %ld SET/GET pairs to finish; after %d s, %d threads "
                  "were still stuck.  Is there a path where the lock is not released?"
                  CHAPTER_HINT("The fix"),
                  STRESS_THREADS, rounds, STRESS_LIMIT_MS / 1000,
                  STRESS_THREADS - atomic_load(&finished), chapter_doc());
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(ids[i], NULL);

    for (int i = 0; i < STRESS_THREADS; i++) {
        const struct stress_thread *t = &threads[i];
        ck_assert_msg(t->wrong == 0,
                      "expected each of %d threads sharing one locked client to get its own reply "
                      "to each of its SET/GET pairs; thread %d got %ld wrong replies (first: %s)%s%s."
                      "  Is the lock held for the whole round trip?"
                      CHAPTER_HINT("Why the whole round trip"),
                      STRESS_THREADS, t->id, t->wrong, t->first_wrong,
                      t->error[0] ? ", then stopped at " : "", t->error, chapter_doc());
        ck_assert_msg(t->error[0] == '\0' && t->done == rounds,
                      "expected every SET and GET through the locked client to succeed; thread %d "
                      "stopped at %s" CHAPTER_HINT("The fix"),
                      t->id, t->error, chapter_doc());
    }
    locked_client_destroy(&lc);
}
END_TEST

/* ---- Results come through unchanged ------------------------------------------ */

START_TEST(get_of_a_missing_key_is_nil)
{
    struct redis_client *plain = connect_to(test_redis_url());
    char key[128];
    size_t key_len = key_for(key, sizeof key, "missing");
    forget(plain, key, key_len);

    struct locked_client lc;
    open_locked(&lc, test_redis_url());
    struct redis_result r = locked_client_get(&lc, key, key_len);
    char got[300];
    ck_assert_msg(r.kind == REDIS_RESULT_NIL,
                  "expected locked_client_get of a key that does not exist to return nil (what "
                  "redis_client_get returns), got %s" CHAPTER_HINT("The fix"),
                  describe(&r, got, sizeof got), chapter_doc());
    redis_result_free(&r);
    assert_lock_released(&lc, "locked_client_get");
    locked_client_destroy(&lc);
    redis_client_free(plain);
}
END_TEST

START_TEST(a_redis_error_reply_comes_back_as_an_error)
{
    /* A list key: GET on it makes Redis answer with a WRONGTYPE error. */
    struct redis_client *plain = connect_to(test_redis_url());
    char list_key[128], string_key[128];
    size_t list_key_len = key_for(list_key, sizeof list_key, "a-list");
    size_t string_key_len = key_for(string_key, sizeof string_key, "after-an-error");
    forget(plain, list_key, list_key_len);
    struct redis_result pushed = command(plain, "RPUSH", list_key, list_key_len, "item");
    ck_assert_msg(pushed.kind == REDIS_RESULT_INTEGER && pushed.integer == 1,
                  "RPUSH %s failed", list_key);
    redis_result_free(&pushed);

    struct locked_client lc;
    open_locked(&lc, test_redis_url());
    struct redis_result r = locked_client_get(&lc, list_key, list_key_len);
    char got[300];
    ck_assert_msg(r.kind == REDIS_RESULT_ERROR && r.data != NULL &&
                      strstr(r.data, "WRONGTYPE") != NULL,
                  "expected locked_client_get of a list to return Redis's error (kind error, "
                  "\"WRONGTYPE ...\"), got %s" CHAPTER_HINT("The fix"),
                  describe(&r, got, sizeof got), chapter_doc());
    redis_result_free(&r);
    assert_lock_released(&lc, "locked_client_get");

    /* An error reply is an answer like any other: the connection, and the
     * lock, are free for the next command. */
    set_through(&lc, string_key, "still works");
    get_through(&lc, string_key, "still works");

    forget(plain, list_key, list_key_len);
    forget(plain, string_key, string_key_len);
    locked_client_destroy(&lc);
    redis_client_free(plain);
}
END_TEST

START_TEST(a_set_that_redis_refuses_comes_back_as_an_error_and_frees_the_lock)
{
    /* A private server with a memory limit of one byte refuses every write
     * ("OOM command not allowed ..."): an error reply to SET, made by the
     * real server.  After it the lock must be free, as after any answer. */
    struct redis_harness server;
    char err[512];
    ck_assert_msg(redis_harness_start(&server, err, sizeof err) == 0, "%s", err);
    struct redis_client *admin = connect_to(server.url);
    const char *limit[] = { "CONFIG", "SET", "maxmemory", "1" };
    const size_t limit_len[] = { 6, 3, 9, 1 };
    struct redis_result r = redis_client_command(admin, 4, limit, limit_len);
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "CONFIG SET maxmemory 1 failed");
    redis_result_free(&r);

    struct locked_client lc;
    open_locked(&lc, server.url);
    static const char key[] = "test_02:refused";
    r = locked_client_set(&lc, key, sizeof key - 1, "v", 1);
    char got[300];
    ck_assert_msg(r.kind == REDIS_RESULT_ERROR && r.data != NULL && strstr(r.data, "OOM") != NULL,
                  "expected locked_client_set on a server out of memory to return Redis's "
                  "error (kind error, \"OOM ...\"), got %s" CHAPTER_HINT("The fix"),
                  describe(&r, got, sizeof got), chapter_doc());
    redis_result_free(&r);
    assert_lock_released(&lc, "locked_client_set, after an error reply,");

    const char *unlimit[] = { "CONFIG", "SET", "maxmemory", "0" };
    r = redis_client_command(admin, 4, unlimit, limit_len);
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "CONFIG SET maxmemory 0 failed");
    redis_result_free(&r);
    set_through(&lc, key, "after the error");
    get_through(&lc, key, "after the error");

    locked_client_destroy(&lc);
    redis_client_free(admin);
    redis_harness_stop(&server);
}
END_TEST

/* ---- One request in flight ----------------------------------------------------- */

/*
 * The first thread's GET goes to a server that is paused (CLIENT PAUSE), so
 * its reply cannot come before the pause ends.  While it waits:
 *   - the lock must stay taken (pthread_mutex_trylock fails), because the
 *     request is out and its reply not yet read;
 *   - a second thread's GET, started meanwhile, must not complete: it has
 *     to wait for the lock, i.e. for the first round trip to finish.
 * Both are checked only inside a window that ends well before the pause
 * does, so a slow machine makes the test look less, never fail wrongly.
 */
#define PAUSE_MS 1500
#define WINDOW_MS 1000      /* checks stop this long after the pause began */
#define FINISH_LIMIT_MS 15000
#define ATTEMPTS 3

struct timed_get {
    struct locked_client *lc;
    const char *key;
    size_t key_len;
    struct redis_result result; /* written before `done` is set */
    int64_t done_us;            /* likewise */
    atomic_bool done;
};

static void *timed_get_body(void *arg)
{
    struct timed_get *g = arg;
    g->result = locked_client_get(g->lc, g->key, g->key_len);
    g->done_us = test_now_us();
    atomic_store(&g->done, true);
    return NULL;
}

/* Waits (bounded) for g to finish; true if it did, and then joins it. */
static bool finish(struct timed_get *g, pthread_t thread)
{
    int64_t limit = test_now_ms() + FINISH_LIMIT_MS;
    while (!atomic_load(&g->done) && test_now_ms() < limit)
        test_sleep_ms(5);
    if (!atomic_load(&g->done))
        return false; /* a thread stuck on the lock: leave it, the test fails */
    pthread_join(thread, NULL);
    return true;
}

enum attempt_result { SAW_IT_RIGHT, SAW_IT_WRONG, INCONCLUSIVE };

START_TEST(one_request_in_flight_at_a_time)
{
    struct redis_harness server;
    char err[512];
    ck_assert_msg(redis_harness_start(&server, err, sizeof err) == 0, "%s", err);
    struct locked_client lc;
    open_locked(&lc, server.url);
    static const char key_a[] = "test_02:first", key_b[] = "test_02:second";
    set_through(&lc, key_a, "first value");
    set_through(&lc, key_b, "second value");
    get_through(&lc, key_a, "first value");

    enum attempt_result outcome = INCONCLUSIVE;
    char wrong[512] = "";
    char got[300];
    for (int attempt = 1; attempt <= ATTEMPTS && outcome == INCONCLUSIVE; attempt++) {
        struct timed_get first = { .lc = &lc, .key = key_a, .key_len = sizeof key_a - 1 };
        struct timed_get second = { .lc = &lc, .key = key_b, .key_len = sizeof key_b - 1 };
        atomic_init(&first.done, false);
        atomic_init(&second.done, false);
        pthread_t first_thread, second_thread;

        int64_t pause_start_us = test_now_us();
        int64_t window_end_us = pause_start_us + WINDOW_MS * 1000;
        ck_assert_msg(redis_harness_pause(&server, PAUSE_MS) == 0, "CLIENT PAUSE failed");
        ck_assert_int_eq(pthread_create(&first_thread, NULL, timed_get_body, &first), 0);

        /* Until the first GET is seen holding the lock, a free lock only
         * means it has not got there yet. */
        bool held = false;
        while (!held && !atomic_load(&first.done) && test_now_us() < window_end_us) {
            held = !lock_is_free(&lc);
            if (!held)
                test_sleep_ms(1);
        }
        bool second_started = false;
        if (held && test_now_us() < window_end_us) {
            ck_assert_int_eq(pthread_create(&second_thread, NULL, timed_get_body, &second), 0);
            second_started = true;
            outcome = SAW_IT_RIGHT;
            /* The first reply cannot arrive before the pause ends, so within
             * the window the first GET is still waiting for it.  Each look
             * counts only if the clock, read AFTER it, is still inside the
             * window: a test thread that was held up may look too late. */
            for (;;) {
                bool second_done = atomic_load(&second.done);
                bool lock_free = lock_is_free(&lc);
                int64_t looked_by_us = test_now_us();
                if (looked_by_us >= window_end_us)
                    break;
                if (second_done) {
                    snprintf(wrong, sizeof wrong,
                             "the second GET completed %lld ms after the pause began, while the "
                             "first was still waiting for its reply",
                             (long long)(second.done_us - pause_start_us) / 1000);
                    outcome = SAW_IT_WRONG;
                    break;
                }
                if (lock_free) {
                    snprintf(wrong, sizeof wrong,
                             "the lock was free %lld ms after the pause began, while the first "
                             "GET was still waiting for its reply",
                             (long long)(looked_by_us - pause_start_us) / 1000);
                    outcome = SAW_IT_WRONG;
                    break;
                }
                test_sleep_ms(5);
            }
        } else if (atomic_load(&first.done) &&
                   first.done_us < pause_start_us + PAUSE_MS * 1000) {
            /* It returned before the server could have answered it. */
            snprintf(wrong, sizeof wrong,
                     "the first GET returned (%s) before the paused server could answer, "
                     "without the lock ever being seen taken",
                     describe(&first.result, got, sizeof got));
            outcome = SAW_IT_WRONG;
        } else if (!held) {
            /* The whole window went by, the first GET waiting, the lock free
             * at every look: it does not hold the lock while it waits.
             * (Unless the thread never got to run: then try again.) */
            snprintf(wrong, sizeof wrong,
                     "the lock was free for the %d ms the first GET waited for its reply",
                     WINDOW_MS);
        }

        bool first_finished = finish(&first, first_thread);
        bool second_finished = !second_started || finish(&second, second_thread);
        ck_assert_msg(first_finished && second_finished,
                      "expected both GETs to finish within %d ms of the pause's end; the %s did "
                      "not.  Does locked_client_get always unlock before it returns?"
                      CHAPTER_HINT("The fix"),
                      FINISH_LIMIT_MS, first_finished ? "second" : "first", chapter_doc());
        if (outcome != SAW_IT_WRONG) {
            ck_assert_msg(is_value(&first.result, "first value", 11),
                          "expected the first GET to return value \"first value\", got %s"
                          CHAPTER_HINT("The fix"),
                          describe(&first.result, got, sizeof got), chapter_doc());
            ck_assert_msg(!second_started || is_value(&second.result, "second value", 12),
                          "expected the second GET to return value \"second value\", got %s"
                          CHAPTER_HINT("Why the whole round trip"),
                          describe(&second.result, got, sizeof got), chapter_doc());
        }
        redis_result_free(&first.result);
        redis_result_free(&second.result);
    }

    ck_assert_msg(outcome == SAW_IT_RIGHT,
                  "expected one request in flight at a time: while the first GET waits for the "
                  "paused server, it holds the lock and a second GET waits its turn.  Instead %s."
                  CHAPTER_HINT("Why the whole round trip"),
                  wrong[0] ? wrong : "the first GET was never seen holding the lock", chapter_doc());
    locked_client_destroy(&lc);
    redis_harness_stop(&server);
}
END_TEST

/* ---- The program --------------------------------------------------------------- */

START_TEST(the_program_runs_clean)
{
    const char *argv[] = { chapter_program(), "--threads", "4", "--iterations", "200", NULL };
    char url_env[512];
    snprintf(url_env, sizeof url_env, "REDIS_URL=%s", test_redis_url());
    const char *env[] = { url_env, NULL };
    struct program_run run;
    ck_assert_msg(program_run(argv, env, 30000, &run) == 0, "could not start %s: %s", argv[0],
                  strerror(errno));

    char outcome[128];
    bool clean = run.exit_code == 0 &&
                 strstr(run.out, "all threads: 800 rounds, 0 wrong replies, 0 threads stopped") != NULL;
    ck_assert_msg(clean,
                  "expected `%s --threads 4 --iterations 200` to exit 0 with all 800 rounds "
                  "right; it %s.\n--- stdout (end) ---\n%s\n--- stderr (end) ---\n%s"
                  CHAPTER_HINT("Run it"),
                  argv[0], program_run_outcome(&run, outcome, sizeof outcome),
                  program_output_tail(run.out, 1500), program_output_tail(run.err, 1500), chapter_doc());
    program_run_free(&run);
}
END_TEST

/* ---- The suite -------------------------------------------------------------------- */

/* ---- The program on its fault paths ----------------------------------------------- */

/* The lock cannot help a connection that is gone: every thread stops at
 * its first error, and none ever gets another thread's reply. */
static void run_02_with_fault(enum program_fault fault)
{
    const char *argv[] = { chapter_program(), "--threads", "4", "--iterations", "20000", NULL };
    struct fault_run fr;
    program_run_with_fault(argv, fault, "set", 200, PROGRAM_FAULT_HANG_MS, &fr);
    expect_exit_1_after_fault(&fr, fault, "--threads 4 --iterations 20000",
                              "4 threads stopped by an error", "Run it");
    ck_assert_msg(strstr(fr.run.out, ", 0 wrong replies, 4 threads stopped by an error\n") &&
                      count_of(fr.run.out, "; stopped: ") == 4 &&
                      count_of(fr.run.out, "i/o error") == 4,
                  "expected each of the 4 threads to stop at an i/o error with no wrong reply "
                  "when %s; the report was:\n%s" CHAPTER_HINT("The fix"),
                  program_fault_name(fault), fr.run.out, chapter_doc());
    fault_run_free(&fr);
}

START_TEST(the_program_exits_1_when_the_server_is_killed_mid_run)
{
    run_02_with_fault(FAULT_KILL_SERVER);
}
END_TEST

START_TEST(the_program_exits_1_when_its_connections_are_killed_mid_run)
{
    run_02_with_fault(FAULT_KILL_CONNECTIONS);
}
END_TEST

START_TEST(the_program_exits_1_when_the_server_restarts_mid_run)
{
    run_02_with_fault(FAULT_RESTART_SERVER);
}
END_TEST

START_TEST(a_server_that_wants_a_password_is_a_start_up_failure_with_exit_2)
{
    const char *argv[] = { chapter_program(), "--threads", "2", "--iterations", "5", NULL };
    expect_exit_2_without_password(argv, "--threads 2 --iterations 5");
}
END_TEST

static Suite *chapter_02_suite(void)
{
    Suite *s = suite_create("02-mutex");
    TCase *tc = tcase_create("locked client");
    /* Generous: sanitizer and valgrind runs are many times slower. */
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, get_of_a_missing_key_is_nil);
    tcase_add_test(tc, a_redis_error_reply_comes_back_as_an_error);
    tcase_add_test(tc, a_set_that_redis_refuses_comes_back_as_an_error_and_frees_the_lock);
    tcase_add_test(tc, thirty_two_threads_each_get_their_own_values_back);
    tcase_add_test(tc, one_request_in_flight_at_a_time);
    tcase_add_test(tc, the_program_runs_clean);
    suite_add_tcase(s, tc);

    add_program_fault_tests(s, the_program_exits_1_when_the_server_is_killed_mid_run,
                            the_program_exits_1_when_its_connections_are_killed_mid_run,
                            the_program_exits_1_when_the_server_restarts_mid_run,
                            a_server_that_wants_a_password_is_a_start_up_failure_with_exit_2);
    return s;
}

int main(void)
{
    /* Ctrl-C during a run stops any server a test started. */
    redis_harness_stop_all_on_signal();

    SRunner *runner = srunner_create(chapter_02_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
