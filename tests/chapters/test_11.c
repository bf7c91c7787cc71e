/*
 * test_11.c - chapter 11: tasks on one event loop share one connection;
 * hiredis never holds more than the window; a connection that goes fails
 * every task that still waits, and the loop ends; threads reach the loop
 * through the bridge and each gets its own answers.
 *
 * Run with `make test-11` (your code in chapters/) or `make test-11
 * SOLUTION=1`.  A failure says what was expected, what happened, and which
 * section of docs/11-event-loop-tasks.md explains it.
 *
 * The tests run the loop themselves, with two handles of their own beside
 * the connection: a probe (uv_check) that looks after every turn of the
 * loop at what hiredis holds - its list of callbacks, one per command it
 * has taken and not answered - and makes a fault happen when asked; and a
 * guard timer that stops a loop still running after BOUND_MS, so a broken
 * solution fails instead of hanging.  Both are unreferenced: they never
 * keep the loop alive by themselves.  Faults are real (kill, SIGSTOP,
 * CLIENT KILL, a restart), on a private server.  Keys start with
 * "test_11:<pid>:".
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "loop_client.h"
#include "mpsc.h"
#include "program_faults.h"
#include "program_runner.h"
#include "redis_client.h"
#include "redis_harness.h"
#include "task.h"
#include "test_support.h"

/* In an AddressSanitizer build, LeakSanitizer can be asked mid-test
 * whether memory was lost; valgrind checks the same in the plain build
 * (make valgrind-11). */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_LEAK_CHECK 1
#endif
#endif
#ifdef TEST_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

/* Bounds only decide how long a broken solution takes to fail. */
#define BOUND_MS 10000
#define PROGRAM_BOUND_MS 60000
#define VALUE_SIZE 40

/* ---- Helpers ------------------------------------------------------------------ */

static const char *text_of(const struct redis_result *r)
{
    return r->data != NULL ? r->data : "";
}

/* Which section to point at when a task or thread failed with `text`. */
static const char *section_for(const char *text, const char *otherwise)
{
    if (strstr(text, "not implemented yet") != NULL)
        return "The task's steps";
    if (strstr(text, "wait in line") != NULL)
        return "The window";
    if (strstr(text, "does not run the loop") != NULL)
        return "Threads and the loop";
    return otherwise;
}

static void start_private_server(struct redis_harness *h)
{
    char err[512];
    ck_assert_msg(redis_harness_start(h, err, sizeof err) == 0,
                  "the test could not start a private Redis: %s", err);
}

static struct redis_client *connect_to(const char *url)
{
    char err[512] = "";
    struct redis_client *c = redis_client_connect(url, NULL, err, sizeof err);
    ck_assert_msg(c != NULL, "the test could not connect to %s: %s", url, err);
    return c;
}

static struct redis_result command_on(struct redis_client *c, int argc, const char *const *argv)
{
    size_t len[8];
    ck_assert(argc <= 8);
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    return redis_client_command(c, argc, argv, len);
}

/* A number from an INFO group (Redis calls them sections): "total_commands_processed", say. */
static long long info_field(struct redis_client *c, const char *group, const char *field)
{
    const char *argv[] = { "INFO", group };
    struct redis_result r = command_on(c, 2, argv);
    ck_assert_msg(r.kind == REDIS_RESULT_VALUE, "INFO %s gave %s %s", group,
                  redis_result_kind_name(r.kind), text_of(&r));
    char wanted[96];
    snprintf(wanted, sizeof wanted, "%s:", field);
    const char *at = strstr(r.data, wanted);
    long long value = at != NULL ? atoll(at + strlen(wanted)) : -1;
    redis_result_free(&r);
    ck_assert_msg(value >= 0, "INFO %s has no %s", group, field);
    return value;
}

/* Waits (bounded) until Redis has processed at least `n` commands, or
 * whatever sends them has ended (*done). */
static void wait_for_commands(struct redis_client *c, long long n, const atomic_bool *done)
{
    int64_t deadline = test_now_ms() + BOUND_MS;
    while (!atomic_load(done) && info_field(c, "stats", "total_commands_processed") < n &&
           test_now_ms() < deadline)
        test_sleep_ms(2);
}

/* Every leak LeakSanitizer can see, as a failure of this test. */
static void expect_nothing_leaked(void)
{
#ifdef TEST_LEAK_CHECK
    ck_assert_msg(__lsan_do_recoverable_leak_check() == 0,
                  "expected every task to have freed its reply copies and its own state by the "
                  "time it ended, but LeakSanitizer found memory nobody can free any more "
                  "(its report is above)"
                  CHAPTER_HINT("Who owns what"),
                  chapter_doc());
#endif
}

/* ---- Running tasks on a loop the test watches ----------------------------------- */

enum fault { FAULT_NONE, FAULT_KILL, FAULT_CLIENT_KILL, FAULT_RESTART };

struct run {
    uv_loop_t loop;
    struct loop_client lc;
    struct task_group group;
    struct report_slot out;      /* what the tasks counted */
    char prefix[64];
    uv_check_t probe;
    uv_timer_t guard;
    size_t hiredis_max;          /* the most commands hiredis held at once */
    bool hung;                   /* the guard had to stop the loop */
    /* A fault the probe makes once `fault_after` replies have come. */
    enum fault fault;
    size_t fault_after;
    struct redis_harness *h;
    struct redis_client *killer; /* FAULT_CLIENT_KILL's own connection */
    bool fault_made;
};

/* hiredis's own view: one callback per command it has taken and not yet
 * answered (the window counts the same thing from outside). */
static size_t hiredis_in_flight(const redisAsyncContext *ac)
{
    size_t n = 0;
    for (const redisCallback *cb = ac->replies.head; cb != NULL; cb = cb->next)
        n++;
    return n;
}

static void make_fault(struct run *r)
{
    r->fault_made = true;
    if (r->fault == FAULT_KILL) {
        redis_harness_kill(r->h);
    } else if (r->fault == FAULT_CLIENT_KILL) {
        /* Every client but the one asking: the loop's connection. */
        const char *argv[] = { "CLIENT", "KILL", "TYPE", "normal" };
        struct redis_result res = command_on(r->killer, 4, argv);
        redis_result_free(&res);
    } else if (r->fault == FAULT_RESTART) {
        char err[512];
        if (redis_harness_restart(r->h, err, sizeof err) != 0)
            fprintf(stderr, "test_11: the restart failed: %s\n", err);
    }
}

static void on_probe(uv_check_t *probe)
{
    struct run *r = probe->data;
    if (r->lc.ac != NULL) {
        size_t n = hiredis_in_flight(r->lc.ac);
        if (n > r->hiredis_max)
            r->hiredis_max = n;
    }
    if (r->fault != FAULT_NONE && !r->fault_made && r->lc.answered >= r->fault_after)
        make_fault(r);
}

static void on_guard(uv_timer_t *guard)
{
    struct run *r = guard->data;
    r->hung = true;
    uv_stop(&r->loop);
}

static struct run *run_connect(const char *url, size_t window, unsigned timeout_ms)
{
    struct run *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(uv_loop_init(&r->loop), 0);
    char err[512] = "";
    ck_assert_msg(loop_client_connect(&r->lc, &r->loop, url, window, timeout_ms, err,
                                      sizeof err) == 0,
                  "loop_client_connect(%s) failed: %s", url, err);
    return r;
}

/* Spawns the tasks and runs the loop until it ends (or the guard stops it);
 * then checks that the loop ended by itself with nothing left open. */
static void run_tasks(struct run *r, size_t tasks, size_t rounds, const char *name)
{
    snprintf(r->prefix, sizeof r->prefix, "test_11:%ld:%s", (long)getpid(), name);
    struct task_options o = { .tasks = tasks, .rounds = rounds, .value_size = VALUE_SIZE,
                              .key_prefix = r->prefix };
    uv_check_init(&r->loop, &r->probe);
    r->probe.data = r;
    uv_check_start(&r->probe, on_probe);
    uv_unref((uv_handle_t *)&r->probe);
    uv_timer_init(&r->loop, &r->guard);
    r->guard.data = r;
    uv_timer_start(&r->guard, on_guard, BOUND_MS, 0);
    uv_unref((uv_handle_t *)&r->guard);

    task_group_start(&r->group, &r->lc, &o, &r->out);
    uv_run(&r->loop, UV_RUN_DEFAULT);

    uv_close((uv_handle_t *)&r->probe, NULL);
    uv_close((uv_handle_t *)&r->guard, NULL);
    uv_run(&r->loop, UV_RUN_NOWAIT);
    ck_assert_msg(!r->hung,
                  "expected the loop to end once every task had ended, but it still ran %d ms "
                  "later: %zu tasks unfinished, %zu commands in flight, %zu waiting in line"
                  CHAPTER_HINT("%s"),
                  BOUND_MS, r->group.live, r->lc.in_flight, r->lc.waiting,
                  r->lc.waiting > 0 ? "The window" : "The task's steps", chapter_doc());
    ck_assert_msg(uv_loop_close(&r->loop) == 0,
                  "expected every handle to be closed once the loop ended, some were left open"
                  CHAPTER_HINT("The task's steps"),
                  chapter_doc());
}

static void run_free(struct run *r)
{
    redis_client_free(r->killer);
    free(r);
}

static void expect_all_succeeded(const struct run *r, size_t tasks, size_t rounds)
{
    const struct report_slot *out = &r->out;
    ck_assert_msg(out->done == tasks && out->wrong == 0 && out->errors == 0 &&
                      r->lc.answered == 2 * tasks * rounds,
                  "expected all %zu tasks to make their %zu rounds (%zu answers, every GET its "
                  "own value), got %zu succeeded, %zu wrong values, %zu errors, %zu answers; "
                  "first problem: %s"
                  CHAPTER_HINT("%s"),
                  tasks, rounds, 2 * tasks * rounds, out->done, out->wrong, out->errors,
                  r->lc.answered, out->problem, section_for(out->problem, "The task's steps"),
                  chapter_doc());
}

/* The server's view: task i's key holds its last round's value. */
static void expect_last_values(const char *url, const char *prefix, size_t tasks, size_t rounds)
{
    struct redis_client *c = connect_to(url);
    for (size_t i = 1; i <= tasks; i++) {
        char key[128], value[VALUE_SIZE];
        size_t key_len = task_key(key, sizeof key, prefix, i);
        task_value(value, VALUE_SIZE, i, rounds - 1);
        struct redis_result got = redis_client_get(c, key, key_len);
        ck_assert_msg(got.kind == REDIS_RESULT_VALUE && got.len == VALUE_SIZE &&
                          memcmp(got.data, value, VALUE_SIZE) == 0,
                      "expected Redis to hold \"%.*s\" under %s after the run, got %s \"%s\""
                      CHAPTER_HINT("The task's steps"),
                      VALUE_SIZE, value, key, redis_result_kind_name(got.kind), text_of(&got),
                      chapter_doc());
        redis_result_free(&got);
    }
    redis_client_free(c);
}

/* ---- Tasks -------------------------------------------------------------------------- */

START_TEST(every_task_gets_back_the_value_it_set)
{
    enum { TASKS = 200, ROUNDS = 5, WINDOW = 16 };
    struct run *r = run_connect(test_redis_url(), WINDOW, 10000);
    run_tasks(r, TASKS, ROUNDS, "own");
    expect_all_succeeded(r, TASKS, ROUNDS);
    expect_last_values(test_redis_url(), r->prefix, TASKS, ROUNDS);
    ck_assert_msg(r->lc.sent == 2 * TASKS * ROUNDS && r->lc.answered == r->lc.sent,
                  "expected %d commands sent and answered, one per step, got %zu sent and %zu "
                  "answered"
                  CHAPTER_HINT("The task's steps"),
                  2 * TASKS * ROUNDS, r->lc.sent, r->lc.answered, chapter_doc());
    run_free(r);
    expect_nothing_leaked();
}
END_TEST

START_TEST(ten_thousand_tasks_finish_and_hiredis_never_holds_more_than_the_window)
{
    const size_t tasks = 10000 / (size_t)test_stress_divisor();
    enum { ROUNDS = 2, WINDOW = 64 };
    struct run *r = run_connect(test_redis_url(), WINDOW, 10000);
    run_tasks(r, tasks, ROUNDS, "many");
    /* hiredis's buffer and callback list hold what it was given: bounded
     * by the window, however many tasks there are. */
    ck_assert_msg(r->hiredis_max <= WINDOW,
                  "expected hiredis never to hold more than the window of %d commands, but it "
                  "held %zu at once: its output buffer and callback list grew with the number "
                  "of tasks"
                  CHAPTER_HINT("The window"),
                  WINDOW, r->hiredis_max, chapter_doc());
    ck_assert_msg(r->hiredis_max == WINDOW && r->lc.max_in_flight == WINDOW,
                  "expected the window to be used to the full: %d commands in flight while "
                  "%zu tasks wait, got at most %zu in hiredis (the client counted %zu)"
                  CHAPTER_HINT("The window"),
                  WINDOW, tasks, r->hiredis_max, r->lc.max_in_flight, chapter_doc());
    ck_assert_msg(r->lc.max_waiting == tasks - WINDOW,
                  "expected the other %zu tasks to wait their turn in the client's line, at "
                  "most %zu did"
                  CHAPTER_HINT("The window"),
                  tasks - WINDOW, r->lc.max_waiting, chapter_doc());
    expect_all_succeeded(r, tasks, ROUNDS);
    run_free(r);
    expect_nothing_leaked();
}
END_TEST

/* ---- When the connection goes --------------------------------------------------------- */

static void expect_every_task_failed(const struct run *r, size_t tasks, const char *says)
{
    const struct report_slot *out = &r->out;
    ck_assert_msg(out->done == 0 && out->errors == tasks && strstr(out->problem, says) != NULL &&
                      r->lc.ac == NULL,
                  "expected all %zu tasks to fail with \"%s\", one error each, and the "
                  "connection to be gone; got %zu succeeded, %zu errors, first problem \"%s\", "
                  "connection %s"
                  CHAPTER_HINT("%s"),
                  tasks, says, out->done, out->errors, out->problem,
                  r->lc.ac == NULL ? "gone" : "still open",
                  section_for(out->problem, "When the connection goes"), chapter_doc());
}

/* Redis is stopped (SIGSTOP) before the first task sends, so no answer can
 * come; with FAULT_KILL it is also killed at the loop's first turn.  Every
 * task must fail with `says`, and the loop end. */
static void expect_stopped_server_fails_every_task(enum fault fault, unsigned timeout_ms,
                                                   size_t tasks, size_t window, const char *says)
{
    struct redis_harness h;
    start_private_server(&h);
    struct run *r = run_connect(h.url, window, timeout_ms);
    ck_assert_int_eq(kill(h.pid, SIGSTOP), 0);
    r->fault = fault;
    r->h = &h;
    run_tasks(r, tasks, 2, fault == FAULT_KILL ? "killed" : "stopped");
    if (h.pid > 0) /* not killed: let it go before stopping it */
        kill(h.pid, SIGCONT);
    redis_harness_stop(&h);
    expect_every_task_failed(r, tasks, says);
    run_free(r);
    expect_nothing_leaked();
}

START_TEST(a_killed_server_fails_every_waiting_task_and_the_loop_ends)
{
    /* 64 commands handed to hiredis and 436 tasks in line when it dies. */
    expect_stopped_server_fails_every_task(FAULT_KILL, 10000, 500, 64, "connection lost");
}
END_TEST

/* Tasks that cannot finish (a million rounds each) meet `fault` once 500
 * replies have come: every one of them must fail, and the loop end. */
static void expect_fault_fails_every_task(enum fault fault, const char *name)
{
    enum { TASKS = 50, WINDOW = 32 };
    struct redis_harness h;
    start_private_server(&h);
    struct run *r = run_connect(h.url, WINDOW, 10000);
    r->fault = fault;
    r->fault_after = 500;
    r->h = &h;
    if (fault == FAULT_CLIENT_KILL)
        r->killer = connect_to(h.url);
    run_tasks(r, TASKS, 1000000, name);
    redis_harness_stop(&h);
    expect_every_task_failed(r, TASKS, "connection lost");
    ck_assert_msg(r->lc.answered >= 500,
                  "expected the tasks to run until the fault (500 answers), got %zu answers",
                  r->lc.answered);
    run_free(r);
}

START_TEST(a_server_killed_mid_run_fails_every_unfinished_task)
{
    expect_fault_fails_every_task(FAULT_KILL, "kill");
}
END_TEST

START_TEST(a_connection_killed_by_the_server_fails_every_unfinished_task)
{
    expect_fault_fails_every_task(FAULT_CLIENT_KILL, "client-kill");
}
END_TEST

START_TEST(a_server_restarted_mid_run_fails_every_unfinished_task)
{
    expect_fault_fails_every_task(FAULT_RESTART, "restart");
}
END_TEST

START_TEST(a_stopped_server_fails_every_task_after_the_command_timeout)
{
    /* The connection stays up, nothing answers: the watchdog gives up
     * after 300-600 ms. */
    expect_stopped_server_fails_every_task(FAULT_NONE, 300, 40, 16, "no reply");
}
END_TEST

/* ---- Threads and the loop --------------------------------------------------------------- */

/* thread_run on a thread of its own, so that a loop that stops answering
 * fails the test (within BOUND_MS) instead of hanging it. */
struct thread_run_call {
    const char *url;
    size_t window;
    struct task_options opts;
    struct bridge b;
    struct report_slot out;
    int rc;
    char err[512];
    atomic_bool done;
    pthread_t thread;
};

static void *call_thread_run(void *arg)
{
    struct thread_run_call *t = arg;
    t->rc = thread_run(&t->b, t->url, t->window, &t->opts, &t->out, t->err, sizeof t->err);
    atomic_store(&t->done, true);
    return NULL;
}

static void start_thread_run(struct thread_run_call *t)
{
    atomic_init(&t->done, false);
    ck_assert_int_eq(pthread_create(&t->thread, NULL, call_thread_run, t), 0);
}

/* Waits (bounded) until thread_run has returned, then joins it. */
static void expect_thread_run_ends(struct thread_run_call *t, const char *when)
{
    int64_t deadline = test_now_ms() + BOUND_MS;
    while (!atomic_load(&t->done) && test_now_ms() < deadline)
        test_sleep_ms(5);
    ck_assert_msg(atomic_load(&t->done),
                  "expected every thread to get its answers and the bridge to stop %s, but it "
                  "still ran %d ms later: does the loop wait somewhere (mpsc_recv_many on an "
                  "empty channel)?"
                  CHAPTER_HINT("Threads and the loop"),
                  when, BOUND_MS, chapter_doc());
    pthread_join(t->thread, NULL);
    ck_assert_msg(t->rc == 0, "thread_run could not start: %s", t->err);
}

struct caller {
    pthread_t thread;
    struct bridge *b;
    char key[96];
    struct redis_result result;
    atomic_bool done;
};

static void *call_set(void *arg)
{
    struct caller *c = arg;
    const char *argv[] = { "SET", c->key, "held" };
    const size_t len[] = { 3, strlen(c->key), 4 };
    c->result = bridge_command(c->b, 3, argv, len);
    atomic_store(&c->done, true);
    return NULL;
}

START_TEST(a_wake_up_that_finds_the_channel_empty_never_blocks_the_loop)
{
    /* Redis holds writes (CLIENT PAUSE ... WRITE), so a thread's SET stays
     * unanswered on the connection, and Redis says so (blocked_clients).
     * Then the loop is woken with nothing queued, as coalesced wake-ups
     * often do.  When Redis lets the SET go, the loop must still be free
     * to read the reply. */
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client *c = connect_to(h.url);
    static struct bridge b;
    char err[512] = "";
    ck_assert_msg(bridge_start(&b, h.url, 16, 16, err, sizeof err) == 0,
                  "bridge_start failed: %s", err);
    const char *pause[] = { "CLIENT", "PAUSE", "20000", "WRITE" };
    struct redis_result r = command_on(c, 4, pause);
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "CLIENT PAUSE: %s", text_of(&r));
    redis_result_free(&r);

    static struct caller caller;
    caller = (struct caller){ .b = &b, .result = { .kind = REDIS_RESULT_NIL } };
    atomic_init(&caller.done, false);
    snprintf(caller.key, sizeof caller.key, "test_11:%ld:held", (long)getpid());
    ck_assert_int_eq(pthread_create(&caller.thread, NULL, call_set, &caller), 0);
    int64_t deadline = test_now_ms() + BOUND_MS;
    while (info_field(c, "clients", "blocked_clients") < 1 && !atomic_load(&caller.done) &&
           test_now_ms() < deadline)
        test_sleep_ms(2);
    bool held = info_field(c, "clients", "blocked_clients") == 1;

    uv_async_send(&b.wake); /* the loop wakes; the channel is empty */
    const char *unpause[] = { "CLIENT", "UNPAUSE" };
    r = command_on(c, 2, unpause);
    redis_result_free(&r);
    deadline = test_now_ms() + BOUND_MS;
    while (!atomic_load(&caller.done) && test_now_ms() < deadline)
        test_sleep_ms(2);
    ck_assert_msg(held, "expected the thread's SET to reach Redis and wait there; it was "
                  "answered with %s %s instead" CHAPTER_HINT("Threads and the loop"),
                  redis_result_kind_name(caller.result.kind), text_of(&caller.result),
                  chapter_doc());
    ck_assert_msg(atomic_load(&caller.done),
                  "expected the SET to be answered once Redis let it go, but its thread still "
                  "waited %d ms later: after a wake-up that found the channel empty, the loop "
                  "no longer runs (is it waiting in mpsc_recv_many?)"
                  CHAPTER_HINT("Threads and the loop"),
                  BOUND_MS, chapter_doc());
    pthread_join(caller.thread, NULL);
    ck_assert_msg(caller.result.kind == REDIS_RESULT_OK, "expected OK for the SET, got %s %s"
                  CHAPTER_HINT("Threads and the loop"),
                  redis_result_kind_name(caller.result.kind), text_of(&caller.result),
                  chapter_doc());
    redis_result_free(&caller.result);
    bridge_stop(&b);
    redis_client_free(c);
    redis_harness_stop(&h);
}
END_TEST

START_TEST(every_bridged_answer_reaches_the_thread_that_asked)
{
    enum { THREADS = 64, WINDOW = 16 };
    const size_t rounds = 20 / (size_t)test_stress_divisor() + 1;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "test_11:%ld:threads", (long)getpid());
    static struct thread_run_call t;
    t = (struct thread_run_call){ .url = test_redis_url(), .window = WINDOW,
                                  .opts = { .tasks = THREADS, .rounds = rounds,
                                            .value_size = VALUE_SIZE, .key_prefix = prefix } };
    start_thread_run(&t);
    expect_thread_run_ends(&t, "after their last round");
    const struct report_slot *out = &t.out;
    ck_assert_msg(out->done == THREADS && out->wrong == 0 && out->errors == 0 &&
                      t.b.client.answered == 2 * THREADS * rounds,
                  "expected all %d threads to get back their own values through the loop, %zu "
                  "answers; got %zu succeeded, %zu wrong values, %zu errors, %zu answers; first "
                  "problem: %s"
                  CHAPTER_HINT("%s"),
                  THREADS, 2 * THREADS * rounds, out->done, out->wrong, out->errors,
                  t.b.client.answered, out->problem,
                  section_for(out->problem, "Threads and the loop"), chapter_doc());
    ck_assert_msg(t.b.client.max_in_flight <= WINDOW,
                  "expected the loop's window (%d) to hold for the threads too, %zu were in "
                  "flight at once"
                  CHAPTER_HINT("The window"),
                  WINDOW, t.b.client.max_in_flight, chapter_doc());
    /* One wake-up per send at most, plus bridge_stop's own: they coalesce,
     * they are never lost and never multiplied. */
    ck_assert_msg(t.b.wakeups >= 1 && t.b.wakeups <= t.b.client.answered + 1,
                  "expected between 1 and %zu wake-ups of the loop, got %zu",
                  t.b.client.answered + 1, t.b.wakeups);
    expect_last_values(test_redis_url(), prefix, THREADS, rounds);
}
END_TEST

START_TEST(every_thread_gets_an_error_when_the_server_dies_under_the_bridge)
{
    enum { THREADS = 8 };
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client *c = connect_to(h.url);
    static struct thread_run_call t;
    t = (struct thread_run_call){ .url = h.url, .window = 16,
                                  .opts = { .tasks = THREADS, .rounds = 1000000,
                                            .value_size = VALUE_SIZE, .key_prefix = "test_11" } };
    start_thread_run(&t);
    wait_for_commands(c, 500, &t.done);
    redis_client_free(c);
    redis_harness_kill(&h);
    expect_thread_run_ends(&t, "once the server was killed");
    redis_harness_stop(&h);
    ck_assert_msg(t.out.done == 0 && t.out.errors == THREADS &&
                      strstr(t.out.problem, "connection lost") != NULL,
                  "expected all %d threads to stop with \"connection lost\", one error each; got "
                  "%zu succeeded, %zu errors, first problem \"%s\""
                  CHAPTER_HINT("%s"),
                  THREADS, t.out.done, t.out.errors, t.out.problem,
                  section_for(t.out.problem, "Threads and the loop"), chapter_doc());
}
END_TEST

/* ---- The program ------------------------------------------------------------------------ */

struct program_call {
    const char *const *argv;
    const char *const *env;
    struct program_run run;
    int rc;
    atomic_bool done;
};

static void *call_program(void *arg)
{
    struct program_call *p = arg;
    p->rc = program_run(p->argv, p->env, PROGRAM_BOUND_MS, &p->run);
    atomic_store(&p->done, true);
    return NULL;
}

START_TEST(the_program_reports_every_task_and_the_window)
{
    const char *tasks[] = { chapter_program(), "--count", "300", "--rounds", "4", "--window",
                            "32", "--timing", NULL };
    const char *threads[] = { chapter_program(), "--mode", "threads", "--count", "8",
                              "--rounds", "20", NULL };
    struct {
        const char *const *argv;
        const char *says[4];
    } cases[] = {
        { tasks, { "tasks: 300 succeeded, 0 failed\n", "commands: 2400 answered, 0 wrong values\n",
                   "the window held: never more than 32 commands in flight\n",
                   "in flight at most 32, waiting in line at most 268;" } },
        { threads, { "threads: 8 succeeded, 0 failed\n", "commands: 320 answered, 0 wrong values\n",
                     "the window held: never more than 64 commands in flight\n", "" } },
    };
    char env_url[128];
    snprintf(env_url, sizeof env_url, "REDIS_URL=%s", test_redis_url());
    const char *env[] = { env_url, NULL };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct program_run run;
        char outcome[128];
        ck_assert_msg(program_run(cases[i].argv, env, PROGRAM_BOUND_MS, &run) == 0,
                      "cannot run %s", cases[i].argv[0]);
        bool said = true;
        for (size_t k = 0; k < 4; k++)
            said = said && strstr(run.out, cases[i].says[k]) != NULL;
        ck_assert_msg(run.exit_code == 0 && said,
                      "expected `%s %s %s ...` to exit with 0 and say \"%s%s%s%s\"; it %s, its "
                      "output was:\n%s\nand its stderr:\n%s"
                      CHAPTER_HINT("%s"),
                      cases[i].argv[0], cases[i].argv[1], cases[i].argv[2], cases[i].says[0],
                      cases[i].says[1], cases[i].says[2], cases[i].says[3],
                      program_run_outcome(&run, outcome, sizeof outcome), run.out, run.err,
                      section_for(run.err, "Try it"), chapter_doc());
        program_run_free(&run);
    }
}
END_TEST

/* Runs the program (64 tasks that cannot finish) against a private
 * server, makes `fault` once Redis has processed 3000 commands, and
 * checks that it says so and exits with 1. */
static void expect_program_fails_on(enum fault fault)
{
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client *c = connect_to(h.url);
    char env_url[128];
    snprintf(env_url, sizeof env_url, "REDIS_URL=%s", h.url);
    const char *env[] = { env_url, NULL };
    const char *argv[] = { chapter_program(), "--count", "64", "--rounds", "10000000", NULL };
    static struct program_call p;
    p = (struct program_call){ .argv = argv, .env = env };
    atomic_init(&p.done, false);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, call_program, &p), 0);
    wait_for_commands(c, 3000, &p.done);
    if (fault == FAULT_CLIENT_KILL) {
        const char *kill_all[] = { "CLIENT", "KILL", "TYPE", "normal" };
        struct redis_result r = command_on(c, 4, kill_all);
        redis_result_free(&r);
    }
    redis_client_free(c);
    char err[512];
    if (fault == FAULT_KILL)
        redis_harness_kill(&h);
    else if (fault == FAULT_RESTART)
        ck_assert_msg(redis_harness_restart(&h, err, sizeof err) == 0, "restart: %s", err);
    pthread_join(thread, NULL); /* program_run has its own bound */
    redis_harness_stop(&h);
    ck_assert_msg(p.rc == 0, "cannot run %s", argv[0]);
    char outcome[128];
    ck_assert_msg(p.run.exit_code == 1 && strstr(p.run.err, "connection lost") != NULL &&
                      strstr(p.run.out, "tasks: 0 succeeded, 64 failed\n") != NULL,
                  "expected the program to report \"tasks: 0 succeeded, 64 failed\", say "
                  "\"connection lost\" on stderr and exit with 1; it %s, its output was:\n%s\n"
                  "and its stderr:\n%s"
                  CHAPTER_HINT("%s"),
                  program_run_outcome(&p.run, outcome, sizeof outcome), p.run.out, p.run.err,
                  section_for(p.run.err, "When the connection goes"), chapter_doc());
    program_run_free(&p.run);
}

START_TEST(the_program_exits_1_when_the_server_is_killed)
{
    expect_program_fails_on(FAULT_KILL);
}
END_TEST

START_TEST(the_program_exits_1_when_its_connection_is_killed)
{
    expect_program_fails_on(FAULT_CLIENT_KILL);
}
END_TEST

START_TEST(the_program_exits_1_when_the_server_restarts)
{
    expect_program_fails_on(FAULT_RESTART);
}
END_TEST

START_TEST(a_bad_url_or_an_unreachable_server_exits_with_2)
{
    const char *argv[] = { chapter_program(), "--count", "10", NULL };
    expect_exit_2_on_unusable_urls(argv, "Try it");
}
END_TEST

static Suite *chapter_suite(void)
{
    Suite *s = suite_create("11-event-loop-tasks");
    TCase *tasks = tcase_create("tasks");
    tcase_set_timeout(tasks, 60);
    tcase_add_test(tasks, every_task_gets_back_the_value_it_set);
    tcase_add_test(tasks, ten_thousand_tasks_finish_and_hiredis_never_holds_more_than_the_window);
    suite_add_tcase(s, tasks);

    TCase *faults = tcase_create("faults");
    tcase_set_timeout(faults, 60);
    tcase_add_test(faults, a_killed_server_fails_every_waiting_task_and_the_loop_ends);
    tcase_add_test(faults, a_server_killed_mid_run_fails_every_unfinished_task);
    tcase_add_test(faults, a_connection_killed_by_the_server_fails_every_unfinished_task);
    tcase_add_test(faults, a_server_restarted_mid_run_fails_every_unfinished_task);
    tcase_add_test(faults, a_stopped_server_fails_every_task_after_the_command_timeout);
    suite_add_tcase(s, faults);

    TCase *bridge = tcase_create("bridge");
    tcase_set_timeout(bridge, 60);
    tcase_add_test(bridge, a_wake_up_that_finds_the_channel_empty_never_blocks_the_loop);
    tcase_add_test(bridge, every_bridged_answer_reaches_the_thread_that_asked);
    tcase_add_test(bridge, every_thread_gets_an_error_when_the_server_dies_under_the_bridge);
    suite_add_tcase(s, bridge);

    TCase *program = tcase_create("program");
    tcase_set_timeout(program, 120);
    tcase_add_test(program, the_program_reports_every_task_and_the_window);
    tcase_add_test(program, the_program_exits_1_when_the_server_is_killed);
    tcase_add_test(program, the_program_exits_1_when_its_connection_is_killed);
    tcase_add_test(program, the_program_exits_1_when_the_server_restarts);
    tcase_add_test(program, a_bad_url_or_an_unreachable_server_exits_with_2);
    suite_add_tcase(s, program);
    return s;
}

int main(void)
{
    return test_run_chapter_suite(chapter_suite());
}
