/*
 * test_03.c - chapter 03: a manager thread owns the connection, workers
 * send it commands over a bounded mpsc channel.
 *
 * Run with `make test-03` (your code in chapters/) or `make test-03
 * SOLUTION=1`.  Each test names the behaviour it checks; a failure says
 * what was expected, what happened, and which section of
 * docs/03-manager-task.md explains it.
 *
 * The tests talk to the real Redis at test_redis_url(); the connection
 * count test uses a private server so that no other connection is counted.
 * Every key starts with "test_03:<pid>:<test>" so runs never collide.
 */
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "manager.h"
#include "mpsc.h"
#include "program_faults.h"
#include "program_runner.h"
#include "redis_client.h"
#include "redis_harness.h"
#include "test_support.h"

#define CAPACITY 32
/* Generous bounds: they only decide how long a broken solution takes to
 * fail, never whether a correct one passes. */
#define END_TIMEOUT_MS 10000u

/* ---- Helpers ------------------------------------------------------------------ */

static int key_for(char *buf, size_t size, const char *test, int thread, long i)
{
    int n = snprintf(buf, size, "test_03:%ld:%s:%d:%ld", (long)getpid(), test, thread, i);
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
    ck_assert_msg(rc == 0 && *tx != NULL,
                  "expected manager_start(%s) to return 0 and a sender, got %d (%s)"
                  CHAPTER_HINT("Spawning the manager"),
                  url, rc, err, chapter_doc());
}

/* Waits (bounded) until the manager thread has ended, then joins it.  A
 * manager that never ends fails the test instead of hanging it. */
static void expect_manager_ends(struct manager *m, const char *why)
{
    int64_t deadline = test_now_ms() + END_TIMEOUT_MS;
    while (!manager_finished(m) && test_now_ms() < deadline)
        test_sleep_ms(5);
    ck_assert_msg(manager_finished(m),
                  "expected the manager to end %s, but it was still running %u ms later"
                  CHAPTER_HINT("When the manager never ends"),
                  why, END_TIMEOUT_MS, chapter_doc());
    manager_join(m);
}

/* The number of clients connected to the server, counted in the output of
 * CLIENT LIST (one line each; this connection included). */
static long connected_clients(struct redis_client *c)
{
    const char *argv[] = { "CLIENT", "LIST" };
    const size_t len[] = { 6, 4 };
    struct redis_result r = redis_client_command(c, 2, argv, len);
    ck_assert_msg(r.kind == REDIS_RESULT_VALUE, "CLIENT LIST: %s %s",
                  redis_result_kind_name(r.kind), r.data ? r.data : "");
    long lines = 0;
    for (size_t i = 0; i < r.len; i++)
        lines += r.data[i] == '\n';
    redis_result_free(&r);
    return lines;
}

/* The server notices connects and closes on its own schedule: poll until
 * the count is `expected`, the bound runs out, or (if `m` is not NULL) the
 * manager has ended; return the last count. */
static long wait_for_clients(struct redis_client *c, long expected, const struct manager *m)
{
    int64_t deadline = test_now_ms() + 5000;
    long n;
    while ((n = connected_clients(c)) != expected && test_now_ms() < deadline &&
           (m == NULL || !manager_finished(m)))
        test_sleep_ms(10);
    return n;
}

/* Once a test's manager has ended and everything is freed: no command may
 * be left allocated.  Only a build with LeakSanitizer (SAN=address, the
 * default for `make test-03`) can tell; its report above names where each
 * leaked block was allocated. */
static void expect_no_leak(const char *after)
{
    ck_assert_msg(!test_leaks_found(),
                  "expected every command to be freed once the manager had run it (%s), but "
                  "LeakSanitizer found memory nobody frees (its report is above).  The "
                  "manager owns each command mpsc_recv gives it: does the receive loop "
                  "command_free it, and redis_result_free the result?"
                  CHAPTER_HINT("The receive loop"),
                  after, chapter_doc());
}

/* A thread that sends `n` SETs of its own keys through its own sender, then
 * drops it. */
struct sender_thread {
    pthread_t thread;
    struct mpsc_sender *tx;
    const char *test;
    int id;
    long n;
    long sent; /* sends that returned CHAN_OK */
};

static void *send_sets(void *arg)
{
    struct sender_thread *s = arg;
    for (long i = 0; i < s->n; i++) {
        char key[96], value[96];
        int kl = key_for(key, sizeof key, s->test, s->id, i);
        int vl = value_for(value, sizeof value, s->id, i);
        struct command cmd;
        if (command_set(&cmd, key, (size_t)kl, value, (size_t)vl) != 0)
            break;
        if (mpsc_send(s->tx, &cmd) != CHAN_OK) {
            command_free(&cmd); /* a failed send leaves it with us */
            break;
        }
        s->sent++;
    }
    mpsc_sender_drop(s->tx);
    s->tx = NULL;
    return NULL;
}

/* ---- Tests ------------------------------------------------------------------- */

START_TEST(every_set_from_every_thread_is_visible_afterwards)
{
    enum { THREADS = 8 };
    const long n = 200 / test_stress_divisor() > 0 ? 200 / test_stress_divisor() : 1;
    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, test_redis_url(), &tx);

    struct sender_thread threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        threads[t] = (struct sender_thread){ .test = "every", .id = t + 1, .n = n };
        threads[t].tx = mpsc_sender_clone(tx);
        ck_assert(threads[t].tx != NULL);
        ck_assert_int_eq(pthread_create(&threads[t].thread, NULL, send_sets, &threads[t]), 0);
    }
    mpsc_sender_drop(tx); /* ours: only the threads' clones remain */
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t].thread, NULL);
    expect_manager_ends(&m, "after every sender was dropped");

    for (int t = 0; t < THREADS; t++)
        ck_assert_msg(threads[t].sent == n,
                      "expected thread %d to send all %ld commands, but the channel refused "
                      "one after %ld (CHAN_CLOSED: the manager had stopped receiving)"
                      CHAPTER_HINT("The receive loop"),
                      threads[t].id, n, threads[t].sent, chapter_doc());
    ck_assert_msg(m.executed == (size_t)(THREADS * n) && m.failed == 0,
                  "expected the manager to execute %ld commands with 0 failed, got %zu "
                  "executed and %zu failed"
                  CHAPTER_HINT("The receive loop"),
                  THREADS * n, m.executed, m.failed, chapter_doc());

    /* The proof that counts: read every key back on a second connection. */
    struct redis_client *check = connect_to(test_redis_url());
    for (int t = 0; t < THREADS; t++) {
        for (long i = 0; i < n; i++) {
            char key[96], value[96];
            int kl = key_for(key, sizeof key, "every", t + 1, i);
            int vl = value_for(value, sizeof value, t + 1, i);
            struct redis_result r = redis_client_get(check, key, (size_t)kl);
            ck_assert_msg(r.kind == REDIS_RESULT_VALUE && r.len == (size_t)vl &&
                              memcmp(r.data, value, r.len) == 0,
                          "expected key %s to hold \"%s\", got %s %s"
                          CHAPTER_HINT("The receive loop"),
                          key, value, redis_result_kind_name(r.kind), r.data ? r.data : "",
                          chapter_doc());
            redis_result_free(&r);
        }
    }
    redis_client_free(check);
    expect_no_leak("8 threads x 200 SETs");
}
END_TEST

START_TEST(the_manager_ends_when_the_last_sender_is_dropped)
{
    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, test_redis_url(), &tx);
    struct mpsc_sender *extra = mpsc_sender_clone(tx);
    ck_assert(extra != NULL);
    mpsc_sender_drop(tx);

    /* One sender is still alive: more commands may come, so the manager
     * must keep waiting.  (Correct code never ends here, however long we
     * wait; 200 ms just keeps the test short.) */
    test_sleep_ms(200);
    bool ended_early = manager_finished(&m);
    bool closed_early = mpsc_sender_is_closed(extra);

    mpsc_sender_drop(extra); /* the last one */
    expect_manager_ends(&m, "once the last sender was dropped");
    /* Checked after the clean-up, so that a failure leaves no thread behind. */
    ck_assert_msg(!ended_early && !closed_early,
                  "expected the manager to keep running while a sender is still alive, "
                  "but it had already ended"
                  CHAPTER_HINT("The receive loop"),
                  chapter_doc());
}
END_TEST

START_TEST(the_manager_closes_its_connection_when_it_ends)
{
    struct redis_harness h;
    char err[512];
    ck_assert_msg(redis_harness_start(&h, err, sizeof err) == 0, "%s", err);
    struct redis_client *check = connect_to(h.url);
    long alone = wait_for_clients(check, 1, NULL);
    ck_assert_msg(alone == 1, "a fresh server should have only the test's connection, has %ld",
                  alone);

    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, h.url, &tx);
    long running = wait_for_clients(check, 2, &m);
    /* With our sender alive a correct manager never ends; a moment's wait
     * lets one that ends too early show it. */
    test_sleep_ms(100);
    bool ended_early = manager_finished(&m);

    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after its only sender was dropped");
    long after = wait_for_clients(check, 1, NULL);
    redis_client_free(check);
    redis_harness_stop(&h);
    /* manager_start is given, and opens the connection; a manager that
     * ended before its sender was dropped closed it early: its loop did not
     * wait for commands. */
    ck_assert_msg(running == 2 && !ended_early,
                  "expected 2 connections while the manager runs (the test's and the "
                  "manager's), got %ld%s.  The manager must keep its connection, receiving, "
                  "until its last sender is dropped"
                  CHAPTER_HINT("The receive loop"),
                  running, ended_early ? ", and the manager had already ended" : "",
                  chapter_doc());
    ck_assert_msg(after == 1,
                  "expected the manager's connection to be closed once the manager ended, "
                  "but the server still counts %ld connections"
                  CHAPTER_HINT("The receive loop"),
                  after, chapter_doc());
}
END_TEST

static atomic_int drops;

static void counting_drop(void *elem)
{
    atomic_fetch_add(&drops, 1);
    command_drop(elem);
}

START_TEST(queued_commands_are_freed_when_the_channel_dies)
{
    /* The manager gives command_drop to its channel; here a counting
     * wrapper around it shows it is called once per queued command, and
     * valgrind / ASan (`make test-03 SAN=address`) show it frees them. */
    atomic_store(&drops, 0);
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(CAPACITY, sizeof(struct command), counting_drop, &tx, &rx), 0);

    char big[4096];
    memset(big, 'v', sizeof big);
    for (int i = 0; i < 10; i++) {
        char key[96];
        int kl = key_for(key, sizeof key, "queued", 0, i);
        struct command cmd;
        int rc = i % 2 ? command_get(&cmd, key, (size_t)kl)
                       : command_set(&cmd, key, (size_t)kl, big, sizeof big);
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(mpsc_send(tx, &cmd), CHAN_OK);
    }
    /* Take three out and free them the way the manager does... */
    for (int i = 0; i < 3; i++) {
        struct command cmd;
        ck_assert_int_eq(mpsc_recv(rx, &cmd), CHAN_OK);
        command_free(&cmd);
        command_free(&cmd); /* twice is harmless */
    }
    /* ...then the receiver dies with seven still queued. */
    mpsc_receiver_drop(rx);
    ck_assert_msg(atomic_load(&drops) == 7,
                  "expected the channel to destroy the 7 commands still queued, "
                  "it destroyed %d"
                  CHAPTER_HINT("The command message"),
                  atomic_load(&drops), chapter_doc());

    /* A send to a dead channel leaves the command with the sender. */
    struct command late;
    ck_assert_int_eq(command_set(&late, "k", 1, big, sizeof big), 0);
    ck_assert_int_eq(mpsc_send(tx, &late), CHAN_CLOSED);
    ck_assert_msg(late.key != NULL && late.value_len == sizeof big,
                  "expected a failed send to leave the command intact with its sender"
                  CHAPTER_HINT("The command message"),
                  chapter_doc());
    command_free(&late);
    mpsc_sender_drop(tx);
    ck_assert_int_eq(atomic_load(&drops), 7);
}
END_TEST

START_TEST(a_bad_url_is_reported_by_manager_start)
{
    char url[64];
    redis_harness_closed_port_url(url, sizeof url);
    struct manager m = { .log = NULL };
    /* Any non-NULL pointer: a failing manager_start must overwrite it. */
    struct mpsc_sender *tx = (struct mpsc_sender *)(void *)&m;
    char err[512] = "";
    int rc = manager_start(&m, url, CAPACITY, &tx, err, sizeof err);
    ck_assert_msg(rc != 0 && strstr(err, "refused") != NULL,
                  "expected manager_start(%s) (nothing listens there) to fail with the "
                  "wrapper's \"connection refused\" message, got %d and \"%s\""
                  CHAPTER_HINT("Spawning the manager"),
                  url, rc, err, chapter_doc());
    ck_assert_msg(tx == NULL, "expected a failed manager_start to set *tx to NULL"
                  CHAPTER_HINT("Spawning the manager"), chapter_doc());

    err[0] = '\0';
    rc = manager_start(&m, "http://127.0.0.1:6379", CAPACITY, &tx, err, sizeof err);
    ck_assert_msg(rc != 0 && strstr(err, "redis://") != NULL,
                  "expected a malformed URL to fail with a message showing the expected "
                  "form, got %d and \"%s\""
                  CHAPTER_HINT("Spawning the manager"),
                  rc, err, chapter_doc());
}
END_TEST

START_TEST(binary_keys_and_values_survive_the_trip)
{
    /* NUL, CR/LF, RESP's own syntax characters and a non-ASCII byte. */
    char key[64];
    int prefix = snprintf(key, sizeof key, "test_03:%ld:bin", (long)getpid());
    static const char key_tail[] = { '\0', 'k', '\r', '\n', ' ', '*', '3', '\xff' };
    memcpy(key + prefix, key_tail, sizeof key_tail);
    size_t key_len = (size_t)prefix + sizeof key_tail;
    static const char value[] = { '\0', '\r', '\n', '$', '-', '1', '\r', '\n', 'x', '\0', '\xfe' };

    struct manager m;
    struct mpsc_sender *tx;
    start_manager(&m, test_redis_url(), &tx);

    /* Build the command from buffers we then scribble over: the command
     * must carry copies, not pointers to the caller's memory. */
    char key_buf[64], value_buf[sizeof value];
    memcpy(key_buf, key, key_len);
    memcpy(value_buf, value, sizeof value);
    struct command cmd;
    ck_assert_int_eq(command_set(&cmd, key_buf, key_len, value_buf, sizeof value), 0);
    memset(key_buf, '#', sizeof key_buf);
    memset(value_buf, '#', sizeof value_buf);
    bool sent = mpsc_send(tx, &cmd) == CHAN_OK;
    if (!sent)
        command_free(&cmd); /* refused: still ours */

    mpsc_sender_drop(tx);
    expect_manager_ends(&m, "after its only sender was dropped");
    ck_assert_msg(sent,
                  "expected the channel to take the command, but mpsc_send said CHAN_CLOSED: "
                  "the manager had stopped receiving"
                  CHAPTER_HINT("The receive loop"),
                  chapter_doc());
    ck_assert_msg(m.executed == 1 && m.failed == 0,
                  "expected 1 command executed and 0 failed, got %zu and %zu"
                  CHAPTER_HINT("The receive loop"),
                  m.executed, m.failed, chapter_doc());

    struct redis_client *check = connect_to(test_redis_url());
    struct redis_result r = redis_client_get(check, key, key_len);
    ck_assert_msg(r.kind == REDIS_RESULT_VALUE && r.len == sizeof value &&
                      memcmp(r.data, value, sizeof value) == 0,
                  "expected the binary key to hold the %zu-byte binary value, got %s of "
                  "%zu bytes"
                  CHAPTER_HINT("The command message"),
                  sizeof value, redis_result_kind_name(r.kind), r.len, chapter_doc());
    redis_result_free(&r);
    redis_client_free(check);
}
END_TEST

START_TEST(the_program_sends_every_command_and_verifies_it)
{
    const char *argv[] = { chapter_program(), "--threads", "3", "--iterations", "20", NULL };
    char env_url[600];
    snprintf(env_url, sizeof env_url, "REDIS_URL=%s", test_redis_url());
    const char *env[] = { env_url, NULL };
    struct program_run run;
    ck_assert_msg(program_run(argv, env, 60000, &run) == 0, "cannot run %s", argv[0]);

    static const char expected[] =
        "3 threads send SET commands to one manager thread, which owns the connection: "
        "20 each\n"
        "thread 1: sent 20 SET commands\n"
        "thread 2: sent 20 SET commands\n"
        "thread 3: sent 20 SET commands\n"
        "manager: executed 60 commands, 0 failed\n"
        "verified 60 keys through a separate connection\n";
    char outcome[128];
    const char *section = "One sender per thread";
    if (strstr(run.err, "not implemented yet") != NULL)
        section = "The receive loop";
    else if (run.timed_out || strstr(run.err, "still waiting") != NULL)
        section = "When the manager never ends";
    else if (strstr(run.err, "LeakSanitizer") != NULL)
        section = "The receive loop"; /* the commands the manager ran, never freed */
    ck_assert_msg(run.exit_code == 0 && strcmp(run.out, expected) == 0,
                  "expected `%s --threads 3 --iterations 20` to exit 0 printing\n%s"
                  "it %s and printed\n%s%s"
                  CHAPTER_HINT("%s"),
                  argv[0], expected, program_run_outcome(&run, outcome, sizeof outcome),
                  program_output_tail(run.out, 1000), program_output_tail(run.err, 1500),
                  section, chapter_doc());
    program_run_free(&run);
}
END_TEST

/* ---- The program on its fault paths ----------------------------------------------- */

/* The manager runs every command the workers sent, failed or not, and the
 * program says what went wrong: the keys cannot be read back (the server
 * is gone), or SETs failed (it came back empty, or only the connection
 * died).  Exit status 1 in every case: errors during the run. */
static void run_03_with_fault(enum program_fault fault)
{
    const char *argv[] = { chapter_program(), "--threads", "4", "--iterations", "10000", NULL };
    struct fault_run fr;
    program_run_with_fault(argv, fault, "set", 500, PROGRAM_FAULT_HANG_MS, &fr);
    /* A restart is a kill, then a new, empty server on the same port.  A
     * restart that lands once every SET has run (a slow test, under
     * valgrind, sees the 500th late) finds the program reading the keys
     * back.  Either way, a program that reads back while the server is
     * still down (its failed SETs go fast, and under valgrind the new
     * server is slow to start) cannot read them at all. */
    bool late_restart = fault == FAULT_RESTART_SERVER &&
                        strstr(fr.run.out, "manager: executed 40000 commands, 0 failed") != NULL;
    const char *says = fault == FAULT_KILL_SERVER ? "cannot read the keys back"
                       : late_restart             ? "not every SET reached Redis"
                                                  : "SET commands failed";
    if (fault == FAULT_RESTART_SERVER && strstr(fr.run.err, "cannot read the keys back") != NULL)
        says = "cannot read the keys back"; /* read back while the server was down */
    expect_exit_1_after_fault(&fr, fault, "--threads 4 --iterations 10000", says,
                              "The receive loop");
    ck_assert_msg(count_of(fr.run.out, ": sent 10000 SET commands\n") == 4 &&
                      strstr(fr.run.out, "manager: executed 40000 commands, ") != NULL &&
                      (late_restart ||
                       strstr(fr.run.out, "manager: executed 40000 commands, 0 failed") == NULL),
                  "expected every worker to send its 10000 SETs and the manager to execute all "
                  "40000, some failed, when %s; the report was:\n%s"
                  CHAPTER_HINT("The receive loop"),
                  program_fault_name(fault), fr.run.out, chapter_doc());
    fault_run_free(&fr);
}

START_TEST(the_program_exits_1_when_the_server_is_killed_mid_run)
{
    run_03_with_fault(FAULT_KILL_SERVER);
}
END_TEST

START_TEST(the_program_exits_1_when_its_connections_are_killed_mid_run)
{
    run_03_with_fault(FAULT_KILL_CONNECTIONS);
}
END_TEST

START_TEST(the_program_exits_1_when_the_server_restarts_mid_run)
{
    run_03_with_fault(FAULT_RESTART_SERVER);
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
    Suite *s = suite_create("03-manager-task");
    TCase *tc = tcase_create("manager");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_set_from_every_thread_is_visible_afterwards);
    tcase_add_test(tc, the_manager_ends_when_the_last_sender_is_dropped);
    tcase_add_test(tc, the_manager_closes_its_connection_when_it_ends);
    tcase_add_test(tc, queued_commands_are_freed_when_the_channel_dies);
    tcase_add_test(tc, a_bad_url_is_reported_by_manager_start);
    tcase_add_test(tc, binary_keys_and_values_survive_the_trip);
    tcase_add_test(tc, the_program_sends_every_command_and_verifies_it);
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
