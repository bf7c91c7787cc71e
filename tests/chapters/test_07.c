/*
 * test_07.c - chapter 07: a pool of managers routes each key to one
 * manager, so the commands for a key stay in order; a manager whose
 * connection breaks answers every caller, reconnects, and serves again.
 *
 * Run with `make test-07` (your code in chapters/) or `make test-07
 * SOLUTION=1`.  A failure says what was expected, what happened, and which
 * section of docs/07-connection-pool.md explains it.
 *
 * Faults are real: a connection killed with CLIENT KILL, a server killed
 * and restarted on the same port (redis_harness_restart).  Those tests use
 * a private server.  Every wait is bounded (client_wait_timeout, or a
 * bounded retry loop), so a broken solution fails instead of hanging; the
 * bounds are generous and decide only how long a failure takes.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "command.h"
#include "mpsc.h"
#include "oneshot.h"
#include "pool.h"
#include "program_faults.h"
#include "program_runner.h"
#include "redis_client.h"
#include "redis_harness.h"
#include "test_support.h"

/* How long one answer may take before the test calls it a hang. */
#define ANSWER_BOUND_MS 10000
/* How long a manager may take to be back after its connection broke. */
#define RECONNECT_BOUND_MS 10000
/* How long a program run may take before it counts as hung. */
#define PROGRAM_BOUND_MS 60000

/* ---- Helpers ------------------------------------------------------------------ */

static void start_private_server(struct redis_harness *h)
{
    char err[512];
    ck_assert_msg(redis_harness_start(h, err, sizeof err) == 0,
                  "the test could not start a private Redis: %s", err);
}

/* A pool whose connections are named "<name>-<i>", unique to this test
 * process.  `log` may be NULL. */
static struct pool *open_pool(const char *url, size_t n, const char *name, FILE *log,
                              char *full_name, size_t full_name_len)
{
    snprintf(full_name, full_name_len, "t07-%ld-%s", (long)getpid(), name);
    struct pool_options opts = { .name = full_name, .log = log };
    struct pool *pool;
    char err[512] = "";
    ck_assert_msg(pool_open(url, n, &opts, &pool, err, sizeof err) == 0,
                  "expected pool_open(%s, %zu) to succeed, got: %s" CHAPTER_HINT("The pool"),
                  url, n, err, chapter_doc());
    return pool;
}

/* Writes into key[len] a key "<prefix>:<j>" that the pool routes to
 * manager `target`. */
static void key_for_manager(const struct pool *pool, size_t target, const char *prefix,
                            char *key, size_t len)
{
    for (int j = 0; j < 10000; j++) {
        snprintf(key, len, "%s:%d", prefix, j);
        if (pool_route(pool, key, strlen(key)) == target)
            return;
    }
    ck_abort_msg("expected some of 10000 keys \"%s:<j>\" to go to manager %zu of %zu, none did "
                 "(does pool_route spread keys over every manager?)"
                 CHAPTER_HINT("Which manager gets a command"),
                 prefix, target, pool_size(pool), chapter_doc());
}

/* SET through the pool, waiting at most ANSWER_BOUND_MS. */
static struct redis_result set_bounded(struct pool *pool, const char *key, const char *value)
{
    struct command cmd;
    ck_assert(command_set(&cmd, key, strlen(key), value, strlen(value)) == 0);
    struct client_pending pending = client_send(pool, &cmd);
    return client_wait_timeout(&pending, ANSWER_BOUND_MS);
}

/* An answer is "no hang" when it came: a result, or an error from the pool;
 * the only answer that is not one is client_wait_timeout's own. */
static bool is_timeout(const struct redis_result *r)
{
    return r->kind == REDIS_RESULT_IO_ERROR && r->data != NULL &&
           strstr(r->data, "no answer within") != NULL;
}

static void expect_set_ok(struct pool *pool, const char *key, const char *value,
                          const char *section)
{
    struct redis_result r = set_bounded(pool, key, value);
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "expected SET %s to be OK, got %s %s"
                  CHAPTER_HINT("%s"),
                  key, redis_result_kind_name(r.kind), r.data != NULL ? r.data : "", section,
                  chapter_doc());
    redis_result_free(&r);
}

/* Retries SET key until Redis says OK, for at most RECONNECT_BOUND_MS: the
 * manager may still be waiting out its back-off.  (The pause between tries
 * only keeps the loop from spinning; what it waits for is the manager.)
 * Returns true once OK; *errors counts the failed tries. */
static bool set_until_ok(struct pool *pool, const char *key, size_t *errors)
{
    int64_t deadline = test_now_ms() + RECONNECT_BOUND_MS;
    *errors = 0;
    for (;;) {
        struct redis_result r = set_bounded(pool, key, "again");
        bool ok = r.kind == REDIS_RESULT_OK;
        bool hung = is_timeout(&r);
        redis_result_free(&r);
        ck_assert_msg(!hung, "expected every SET %s to be answered, one waited %d ms"
                      CHAPTER_HINT("While disconnected: an error at once"),
                      key, ANSWER_BOUND_MS, chapter_doc());
        if (ok)
            return true;
        (*errors)++;
        if (test_now_ms() > deadline)
            return false;
        test_sleep_ms(10);
    }
}

/* A connection of the test's own, to look at (and break) the pool's. */
static struct redis_client *connect_or_fail(const char *url)
{
    char err[512] = "";
    struct redis_client *c = redis_client_connect(url, NULL, err, sizeof err);
    ck_assert_msg(c != NULL, "the test could not connect to %s: %s", url, err);
    return c;
}

/* The CLIENT ID of the connection named `name`, from CLIENT LIST; -1 if no
 * connection has that name. */
static long long client_id_named(const char *url, const char *name)
{
    struct redis_client *c = connect_or_fail(url);
    const char *argv[] = { "CLIENT", "LIST" };
    const size_t len[] = { 6, 4 };
    struct redis_result r = redis_client_command(c, 2, argv, len);
    ck_assert_msg(r.kind == REDIS_RESULT_VALUE, "CLIENT LIST gave %s",
                  redis_result_kind_name(r.kind));
    char wanted[128];
    snprintf(wanted, sizeof wanted, " name=%s ", name);
    long long id = -1;
    /* One line per connection: "id=7 addr=... name=ch07-1 age=...". */
    for (char *line = r.data; line != NULL && id < 0;) {
        char *end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        if (strstr(line, wanted) != NULL)
            sscanf(line, "id=%lld", &id);
        line = end != NULL ? end + 1 : NULL;
    }
    redis_result_free(&r);
    redis_client_free(c);
    return id;
}

static void kill_client(const char *url, long long id)
{
    struct redis_client *c = connect_or_fail(url);
    char id_text[32];
    int n = snprintf(id_text, sizeof id_text, "%lld", id);
    const char *argv[] = { "CLIENT", "KILL", "ID", id_text };
    const size_t len[] = { 6, 4, 2, (size_t)n };
    struct redis_result r = redis_client_command(c, 4, argv, len);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER && r.integer == 1,
                  "CLIENT KILL ID %s gave %s", id_text, redis_result_kind_name(r.kind));
    redis_result_free(&r);
    redis_client_free(c);
}

/* Everything written to `log` so far, as a string to free. */
static char *read_log(FILE *log)
{
    fflush(log);
    long size = ftell(log);
    ck_assert(size >= 0);
    char *text = calloc(1, (size_t)size + 1);
    ck_assert_ptr_nonnull(text);
    rewind(log);
    size_t got = fread(text, 1, (size_t)size, log);
    text[got] = '\0';
    return text;
}

static void expect_logged(const char *log, const char *what, unsigned manager)
{
    char line[96];
    snprintf(line, sizeof line, "manager %u: %s", manager, what);
    ck_assert_msg(strstr(log, line) != NULL,
                  "expected the log to say \"%s...\"; the log was:\n%s"
                  CHAPTER_HINT("Reconnecting, with back-off"),
                  line, log, chapter_doc());
}

/* ---- Which manager gets a command --------------------------------------------- */

START_TEST(every_key_goes_to_one_manager_and_keys_spread_over_all)
{
    enum { N = 4, KEYS = 1000 };
    char name[64];
    struct pool *pool = open_pool(test_redis_url(), N, "route", NULL, name, sizeof name);
    size_t per_manager[N] = { 0 };
    for (int i = 0; i < KEYS; i++) {
        char key[32];
        snprintf(key, sizeof key, "user:%d", i);
        size_t m = pool_route(pool, key, strlen(key));
        ck_assert_msg(m < N, "pool_route gave manager %zu of a pool of %d", m, N);
        ck_assert_msg(pool_route(pool, key, strlen(key)) == m,
                      "expected the key %s to go to the same manager every time"
                      CHAPTER_HINT("Which manager gets a command"),
                      key, chapter_doc());
        per_manager[m]++;
    }
    /* An even spread gives each 250; a hash of the key stays well within
     * half of that for these keys.  Any fixed or lopsided choice does not. */
    for (size_t m = 0; m < N; m++)
        ck_assert_msg(per_manager[m] >= KEYS / N / 2,
                      "expected %d keys to spread over all %d managers, but manager %zu got "
                      "%zu of them (0: %zu, 1: %zu, 2: %zu, 3: %zu)"
                      CHAPTER_HINT("Which manager gets a command"),
                      KEYS, N, m, per_manager[m], per_manager[0], per_manager[1],
                      per_manager[2], per_manager[3], chapter_doc());
    /* Keys are bytes: one with a NUL inside routes like any other. */
    const char binary[] = { 'a', '\0', 'b' };
    ck_assert(pool_route(pool, binary, sizeof binary) ==
              pool_route(pool, binary, sizeof binary));
    pool_close(pool);
}
END_TEST

START_TEST(a_command_runs_on_the_manager_its_key_routes_to)
{
    enum { N = 3, PER_MANAGER = 20 };
    char name[64];
    struct pool *pool = open_pool(test_redis_url(), N, "where", NULL, name, sizeof name);
    for (size_t target = 0; target < N; target++) {
        struct manager_stats before[N], after[N];
        for (size_t m = 0; m < N; m++)
            pool_stats(pool, m, &before[m]);
        char prefix[96], key[128];
        snprintf(prefix, sizeof prefix, "%s:m%zu", name, target);
        key_for_manager(pool, target, prefix, key, sizeof key);
        for (int i = 0; i < PER_MANAGER; i++)
            expect_set_ok(pool, key, "v", "Which manager gets a command");
        /* Counted before answered, so these counts are exact now. */
        for (size_t m = 0; m < N; m++) {
            pool_stats(pool, m, &after[m]);
            size_t ran = after[m].succeeded - before[m].succeeded;
            size_t expected = m == target ? PER_MANAGER : 0;
            ck_assert_msg(ran == expected,
                          "expected the %d SETs of %s (routed to manager %zu) to run on "
                          "manager %zu only; manager %zu ran %zu of them"
                          CHAPTER_HINT("Which manager gets a command"),
                          PER_MANAGER, key, target, target, m, ran, chapter_doc());
        }
    }
    pool_close(pool);
}
END_TEST

/* ---- Commands for one key stay in order ----------------------------------------- */

enum { ORDER_THREADS = 4, ORDER_KEYS = 6, ORDER_STEPS = 150 };

struct order_worker {
    struct pool *pool;
    const char *name;
    int index;
    size_t steps;
    pthread_t thread;
    /* What it found; checked by the test thread after the join. */
    size_t managers_used; /* how many managers its keys route to */
    size_t checked;
    char problem[512];
};

/* Sends SET k v0, GET k, SET k v1, GET k, ... on each of its keys WITHOUT
 * waiting in between - many in flight at once - then collects every answer.
 * Each GET must return the value of the SET just before it: true only if
 * nothing overtook anything on the way. */
static void *order_worker_main(void *arg)
{
    struct order_worker *w = arg;
    size_t total = w->steps * ORDER_KEYS * 2;
    struct client_pending *pending = calloc(total, sizeof *pending);
    if (pending == NULL) {
        snprintf(w->problem, sizeof w->problem, "out of memory");
        return NULL;
    }
    char keys[ORDER_KEYS][96];
    bool used[POOL_MAX_CONNECTIONS] = { false };
    for (int k = 0; k < ORDER_KEYS; k++) {
        snprintf(keys[k], sizeof keys[k], "%s:t%d:k%d", w->name, w->index, k);
        size_t m = pool_route(w->pool, keys[k], strlen(keys[k]));
        if (m < POOL_MAX_CONNECTIONS && !used[m]) {
            used[m] = true;
            w->managers_used++;
        }
    }
    size_t sent = 0;
    for (size_t step = 0; step < w->steps; step++) {
        for (int k = 0; k < ORDER_KEYS; k++) {
            char value[32];
            snprintf(value, sizeof value, "v%zu", step);
            struct command set, get;
            if (command_set(&set, keys[k], strlen(keys[k]), value, strlen(value)) != 0 ||
                command_get(&get, keys[k], strlen(keys[k])) != 0)
                abort(); /* out of memory in a test */
            pending[sent++] = client_send(w->pool, &set);
            pending[sent++] = client_send(w->pool, &get);
        }
    }
    for (size_t i = 0; i < sent; i++) {
        struct redis_result r = client_wait_timeout(&pending[i], ANSWER_BOUND_MS);
        size_t step = i / (ORDER_KEYS * 2);
        const char *key = keys[(i / 2) % ORDER_KEYS];
        char expected[32];
        snprintf(expected, sizeof expected, "v%zu", step);
        bool is_set = i % 2 == 0;
        bool right = is_set ? r.kind == REDIS_RESULT_OK
                            : r.kind == REDIS_RESULT_VALUE && strcmp(r.data, expected) == 0;
        if (right) {
            w->checked++;
        } else if (w->problem[0] == '\0') {
            char quoted[REDIS_QUOTE_BUFSIZE];
            snprintf(w->problem, sizeof w->problem,
                     "%s %s (request %zu of thread %d): expected %s, got %s %s",
                     is_set ? "SET" : "GET", key, i, w->index, is_set ? "OK" : expected,
                     redis_result_kind_name(r.kind),
                     r.data != NULL ? redis_quote_bytes(r.data, r.len, quoted, sizeof quoted)
                                    : "");
        }
        redis_result_free(&r);
    }
    free(pending);
    return NULL;
}

START_TEST(commands_for_one_key_stay_in_order_under_concurrency)
{
    enum { N = 4 };
    char name[64];
    struct pool *pool = open_pool(test_redis_url(), N, "order", NULL, name, sizeof name);
    size_t steps = (size_t)(ORDER_STEPS / test_stress_divisor()) + 2;
    struct order_worker workers[ORDER_THREADS];
    for (int t = 0; t < ORDER_THREADS; t++) {
        workers[t] = (struct order_worker){ .pool = pool, .name = name, .index = t + 1,
                                            .steps = steps };
        ck_assert_int_eq(pthread_create(&workers[t].thread, NULL, order_worker_main,
                                        &workers[t]), 0);
    }
    for (int t = 0; t < ORDER_THREADS; t++)
        pthread_join(workers[t].thread, NULL);
    pool_close(pool);

    for (int t = 0; t < ORDER_THREADS; t++) {
        struct order_worker *w = &workers[t];
        /* The test means something only if a thread's keys really are on
         * several managers at once. */
        ck_assert_msg(w->managers_used >= 2,
                      "expected the %d keys of thread %d to go to at least 2 of the %d "
                      "managers, they all went to %zu"
                      CHAPTER_HINT("Which manager gets a command"),
                      ORDER_KEYS, w->index, N, w->managers_used, chapter_doc());
        ck_assert_msg(w->problem[0] == '\0',
                      "expected every GET to return the value SET just before it on the "
                      "same key; %s"
                      CHAPTER_HINT("Commands for one key stay in order"),
                      w->problem, chapter_doc());
        ck_assert_uint_eq(w->checked, steps * ORDER_KEYS * 2);
    }
}
END_TEST

/* ---- When a connection breaks ------------------------------------------------------ */

START_TEST(a_killed_connection_is_replaced_while_the_others_keep_serving)
{
    enum { N = 3, VICTIM = 1, OTHERS_SETS = 20 };
    struct redis_harness h;
    start_private_server(&h);
    FILE *log = tmpfile();
    ck_assert_ptr_nonnull(log);
    char name[64];
    struct pool *pool = open_pool(h.url, N, "kill", log, name, sizeof name);
    char keys[N][96];
    for (size_t m = 0; m < N; m++) {
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s:m%zu", name, m);
        key_for_manager(pool, m, prefix, keys[m], sizeof keys[m]);
        expect_set_ok(pool, keys[m], "before", "The pool");
    }

    /* Find manager 1's connection by its name, and kill it. */
    char victim_name[96];
    snprintf(victim_name, sizeof victim_name, "%s-%d", name, VICTIM);
    long long old_id = client_id_named(h.url, victim_name);
    ck_assert_msg(old_id >= 0,
                  "expected CLIENT LIST to show a connection named %s (each manager names its "
                  "connection with CLIENT SETNAME)" CHAPTER_HINT("The pool"),
                  victim_name, chapter_doc());
    kill_client(h.url, old_id);

    /* The other managers never notice. */
    for (size_t m = 0; m < N; m++)
        if (m != VICTIM)
            for (int i = 0; i < OTHERS_SETS; i++)
                expect_set_ok(pool, keys[m], "during", "When a connection breaks");

    /* The victim's next command finds the connection dead; the manager
     * answers it with an error, reconnects, and serves again. */
    size_t errors;
    bool back = set_until_ok(pool, keys[VICTIM], &errors);
    ck_assert_msg(back,
                  "expected manager %d to reconnect after its connection was killed and serve "
                  "SETs again within %d ms; %zu tries failed"
                  CHAPTER_HINT("Reconnecting, with back-off"),
                  VICTIM, RECONNECT_BOUND_MS, errors, chapter_doc());

    struct manager_stats st[N];
    for (size_t m = 0; m < N; m++)
        pool_stats(pool, m, &st[m]);
    ck_assert_msg(st[VICTIM].connections_lost == 1 && st[VICTIM].reconnects == 1 &&
                      st[VICTIM].connected,
                  "expected manager %d to have lost its connection once and reconnected once, "
                  "got lost %zu, reconnects %zu, connected %d"
                  CHAPTER_HINT("Reconnecting, with back-off"),
                  VICTIM, st[VICTIM].connections_lost, st[VICTIM].reconnects,
                  st[VICTIM].connected, chapter_doc());
    for (size_t m = 0; m < N; m++)
        if (m != VICTIM)
            ck_assert_msg(st[m].connections_lost == 0 && st[m].failed == 0,
                          "expected manager %zu, whose connection was left alone, to lose "
                          "nothing; it lost its connection %zu times and failed %zu commands"
                          CHAPTER_HINT("When a connection breaks"),
                          m, st[m].connections_lost, st[m].failed, chapter_doc());
    long long new_id = client_id_named(h.url, victim_name);
    ck_assert_msg(new_id >= 0 && new_id != old_id,
                  "expected a new connection named %s after the reconnect, found id %lld "
                  "(the killed one was %lld)" CHAPTER_HINT("Reconnecting, with back-off"),
                  victim_name, new_id, old_id, chapter_doc());

    pool_close(pool);
    char *text = read_log(log);
    expect_logged(text, "connection lost (", VICTIM);
    expect_logged(text, "reconnected after ", VICTIM);
    for (unsigned m = 0; m < N; m++)
        if (m != VICTIM) {
            char other[32];
            snprintf(other, sizeof other, "manager %u:", m);
            ck_assert_msg(strstr(text, other) == NULL,
                          "expected nothing logged by manager %u, got:\n%s", m, text);
        }
    free(text);
    fclose(log);
    redis_harness_stop(&h);
}
END_TEST

/* A pool of one: this is about one manager's reconnecting, and a pool of
 * one needs no routing.  every_caller_is_answered_while_the_server_restarts
 * does the same with several managers at once. */
START_TEST(the_pool_survives_a_server_restart_on_the_same_port)
{
    enum { N = 1 };
    struct redis_harness h;
    start_private_server(&h);
    FILE *log = tmpfile();
    ck_assert_ptr_nonnull(log);
    char name[64];
    struct pool *pool = open_pool(h.url, N, "restart", log, name, sizeof name);
    char keys[N][96];
    for (size_t m = 0; m < N; m++) {
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s:m%zu", name, m);
        key_for_manager(pool, m, prefix, keys[m], sizeof keys[m]);
        expect_set_ok(pool, keys[m], "before", "The pool");
    }

    redis_harness_kill(&h);
    /* With the server gone no command can succeed; each one must still be
     * answered.  The first finds the connection dead; the next ones arrive
     * while the manager waits to retry, and are refused at once. */
    for (size_t m = 0; m < N; m++) {
        for (int attempt = 0; attempt < 2; attempt++) {
            struct redis_result r = set_bounded(pool, keys[m], "while-down");
            ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR && !is_timeout(&r),
                          "expected SET %s with the server down to be answered with an I/O "
                          "error, got %s %s" CHAPTER_HINT("When a connection breaks"),
                          keys[m], redis_result_kind_name(r.kind),
                          r.data != NULL ? r.data : "", chapter_doc());
            if (attempt == 1)
                ck_assert_msg(strstr(r.data, "reconnecting") != NULL,
                              "expected a command sent while manager %zu is disconnected to "
                              "be refused saying it is reconnecting, got: %s"
                              CHAPTER_HINT("While disconnected: an error at once"),
                              m, r.data, chapter_doc());
            redis_result_free(&r);
        }
    }

    char err[1024] = "";
    ck_assert_msg(redis_harness_restart(&h, err, sizeof err) == 0, "restart: %s", err);
    for (size_t m = 0; m < N; m++) {
        size_t errors;
        ck_assert_msg(set_until_ok(pool, keys[m], &errors),
                      "expected manager %zu to reconnect to the restarted server within %d ms; "
                      "%zu tries failed" CHAPTER_HINT("Reconnecting, with back-off"),
                      m, RECONNECT_BOUND_MS, errors, chapter_doc());
    }
    /* The data really went to the new server. */
    struct redis_client *c = connect_or_fail(h.url);
    for (size_t m = 0; m < N; m++) {
        struct redis_result r = redis_client_get(c, keys[m], strlen(keys[m]));
        ck_assert_msg(r.kind == REDIS_RESULT_VALUE && strcmp(r.data, "again") == 0,
                      "expected %s to hold \"again\" on the restarted server, got %s",
                      keys[m], redis_result_kind_name(r.kind));
        redis_result_free(&r);
    }
    redis_client_free(c);

    for (size_t m = 0; m < N; m++) {
        struct manager_stats st;
        pool_stats(pool, m, &st);
        ck_assert_msg(st.connections_lost >= 1 && st.reconnects >= 1 && st.connected,
                      "expected manager %zu to have lost its connection and reconnected, got "
                      "lost %zu, reconnects %zu, connected %d"
                      CHAPTER_HINT("Reconnecting, with back-off"),
                      m, st.connections_lost, st.reconnects, st.connected, chapter_doc());
    }
    pool_close(pool);
    char *text = read_log(log);
    for (unsigned m = 0; m < N; m++) {
        expect_logged(text, "connection lost (", m);
        expect_logged(text, "reconnect attempt 1 failed (", m);
        expect_logged(text, "reconnected after ", m);
    }
    free(text);
    fclose(log);
    redis_harness_stop(&h);
}
END_TEST

/* ---- Every caller is answered, whatever happens ---------------------------------- */

enum { RESTART_THREADS = 4 };

/* What a worker tells the test thread, once each, through an mpsc. */
enum worker_event { FIRST_OK, FIRST_ERROR, OK_AFTER_ERROR };

struct restart_worker {
    struct pool *pool;
    const char *name;
    int index;
    struct mpsc_sender *events;
    atomic_bool *stop;
    pthread_t thread;
    size_t answered, hung, unexpected; /* read after the join */
};

static void *restart_worker_main(void *arg)
{
    struct restart_worker *w = arg;
    bool ok_seen = false, error_seen = false, back_seen = false;
    char key[96];
    snprintf(key, sizeof key, "%s:t%d", w->name, w->index);
    for (size_t i = 0; !atomic_load(w->stop); i++) {
        struct redis_result r;
        if (i % 2 == 0) {
            r = set_bounded(w->pool, key, "v");
        } else {
            struct command cmd;
            if (command_get(&cmd, key, strlen(key)) != 0)
                abort();
            struct client_pending p = client_send(w->pool, &cmd);
            r = client_wait_timeout(&p, ANSWER_BOUND_MS);
        }
        w->answered++;
        bool ok = r.kind == REDIS_RESULT_OK || r.kind == REDIS_RESULT_VALUE ||
                  r.kind == REDIS_RESULT_NIL; /* NIL: the restarted server is empty */
        if (is_timeout(&r))
            w->hung++;
        else if (!ok && r.kind != REDIS_RESULT_IO_ERROR)
            w->unexpected++;
        redis_result_free(&r);
        if (!ok)
            test_sleep_ms(1); /* as a polite client would: no hot loop of errors */
        enum worker_event event;
        bool tell = false;
        if (ok && !ok_seen) {
            ok_seen = tell = true;
            event = FIRST_OK;
        } else if (!ok && ok_seen && !error_seen) {
            error_seen = tell = true;
            event = FIRST_ERROR;
        } else if (ok && error_seen && !back_seen) {
            back_seen = tell = true;
            event = OK_AFTER_ERROR;
        }
        if (tell) {
            int message = (int)event;
            mpsc_send(w->events, &message);
        }
    }
    return NULL;
}

/* Waits for `count` events of kind `expected` (any other kind is a bug). */
static bool await_events(struct mpsc_receiver *rx, int count, enum worker_event expected)
{
    for (int i = 0; i < count; i++) {
        int event;
        if (mpsc_recv_timeout(rx, &event, RECONNECT_BOUND_MS) != CHAN_OK)
            return false;
        ck_assert_int_eq(event, (int)expected);
    }
    return true;
}

START_TEST(every_caller_is_answered_while_the_server_restarts)
{
    enum { N = 3 };
    struct redis_harness h;
    start_private_server(&h);
    char name[64];
    struct pool *pool = open_pool(h.url, N, "callers", NULL, name, sizeof name);
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    ck_assert_int_eq(mpsc_channel(RESTART_THREADS * 3, sizeof(int), NULL, &tx, &rx), 0);
    atomic_bool stop;
    atomic_init(&stop, false);
    struct restart_worker workers[RESTART_THREADS];
    for (int t = 0; t < RESTART_THREADS; t++) {
        workers[t] = (struct restart_worker){ .pool = pool, .name = name, .index = t,
                                              .events = tx, .stop = &stop };
        ck_assert_int_eq(pthread_create(&workers[t].thread, NULL, restart_worker_main,
                                        &workers[t]), 0);
    }

    /* Each step waits for every worker to have seen what the step is
     * about: a real signal, not a sleep. */
    bool served = await_events(rx, RESTART_THREADS, FIRST_OK);
    bool failed = false, back = false;
    char err[1024] = "";
    if (served) {
        redis_harness_kill(&h);
        failed = await_events(rx, RESTART_THREADS, FIRST_ERROR);
    }
    int restarted = failed ? redis_harness_restart(&h, err, sizeof err) : -1;
    if (restarted == 0)
        back = await_events(rx, RESTART_THREADS, OK_AFTER_ERROR);

    atomic_store(&stop, true);
    for (int t = 0; t < RESTART_THREADS; t++)
        pthread_join(workers[t].thread, NULL);
    pool_close(pool);
    mpsc_sender_drop(tx);
    mpsc_receiver_drop(rx);
    redis_harness_stop(&h);

    ck_assert_msg(served, "expected every worker to get an answer from the pool at first");
    ck_assert_msg(failed, "expected every worker to get an error once the server was killed"
                  CHAPTER_HINT("When a connection breaks"), chapter_doc());
    ck_assert_msg(restarted == 0, "restart: %s", err);
    ck_assert_msg(back,
                  "expected every worker's commands to succeed again within %d ms of the "
                  "server's restart" CHAPTER_HINT("Reconnecting, with back-off"),
                  RECONNECT_BOUND_MS, chapter_doc());
    for (int t = 0; t < RESTART_THREADS; t++) {
        ck_assert_msg(workers[t].hung == 0,
                      "expected every request to be answered; %zu of worker %d's %zu waited "
                      "%d ms" CHAPTER_HINT("While disconnected: an error at once"),
                      workers[t].hung, t, workers[t].answered, ANSWER_BOUND_MS, chapter_doc());
        ck_assert_msg(workers[t].unexpected == 0,
                      "expected only replies or I/O errors, worker %d got %zu other results",
                      t, workers[t].unexpected);
    }
}
END_TEST

/* ---- Closing the pool ------------------------------------------------------------ */

START_TEST(closing_the_pool_runs_every_queued_command_first)
{
    enum { N = 3, COMMANDS = 300 };
    char name[64];
    struct pool *pool = open_pool(test_redis_url(), N, "close", NULL, name, sizeof name);
    struct client_pending pending[COMMANDS];
    for (int i = 0; i < COMMANDS; i++) {
        char key[96];
        snprintf(key, sizeof key, "%s:%d", name, i);
        struct command cmd;
        ck_assert(command_set(&cmd, key, strlen(key), "queued", 6) == 0);
        pending[i] = client_send(pool, &cmd);
    }
    pool_close(pool); /* with most of them still queued */
    for (int i = 0; i < COMMANDS; i++) {
        struct redis_result r = client_wait_timeout(&pending[i], ANSWER_BOUND_MS);
        ck_assert_msg(r.kind == REDIS_RESULT_OK,
                      "expected SET number %d, sent before pool_close, to be run and answered "
                      "OK, got %s %s" CHAPTER_HINT("Closing the pool"),
                      i, redis_result_kind_name(r.kind), r.data != NULL ? r.data : "",
                      chapter_doc());
        redis_result_free(&r);
    }
}
END_TEST

struct closer {
    struct pool *pool;
    struct oneshot_sender *done;
};

static void *close_pool_main(void *arg)
{
    struct closer *c = arg;
    pool_close(c->pool);
    int yes = 1;
    oneshot_send(c->done, &yes);
    return NULL;
}

START_TEST(closing_a_pool_whose_server_is_gone_answers_everyone_and_ends)
{
    enum { N = 3, COMMANDS = 60 };
    struct redis_harness h;
    start_private_server(&h);
    char name[64];
    struct pool *pool = open_pool(h.url, N, "gone", NULL, name, sizeof name);
    redis_harness_kill(&h);
    struct client_pending pending[COMMANDS];
    for (int i = 0; i < COMMANDS; i++) {
        char key[96];
        snprintf(key, sizeof key, "%s:%d", name, i);
        struct command cmd;
        ck_assert(command_set(&cmd, key, strlen(key), "x", 1) == 0);
        pending[i] = client_send(pool, &cmd);
    }
    /* Close on another thread, so that a pool_close that never returns
     * fails the test instead of hanging it. */
    struct closer closer = { .pool = pool };
    struct oneshot_receiver *done;
    ck_assert_int_eq(oneshot_channel(sizeof(int), NULL, &closer.done, &done), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, close_pool_main, &closer), 0);
    int yes;
    enum chan_status closed = oneshot_recv_timeout(done, &yes, RECONNECT_BOUND_MS);
    ck_assert_msg(closed == CHAN_OK,
                  "expected pool_close to return while its managers wait to reconnect to a "
                  "server that is gone; it did not within %d ms"
                  CHAPTER_HINT("Closing the pool"),
                  RECONNECT_BOUND_MS, chapter_doc());
    pthread_join(thread, NULL);
    oneshot_receiver_drop(done);
    for (int i = 0; i < COMMANDS; i++) {
        struct redis_result r = client_wait_timeout(&pending[i], ANSWER_BOUND_MS);
        ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR && !is_timeout(&r),
                      "expected SET number %d to be answered with an I/O error, got %s %s"
                      CHAPTER_HINT("Closing the pool"),
                      i, redis_result_kind_name(r.kind), r.data != NULL ? r.data : "",
                      chapter_doc());
        redis_result_free(&r);
    }
    redis_harness_stop(&h);
}
END_TEST

/* ---- The program ------------------------------------------------------------------- */

static void run_program(const char *const *argv, const char *const *env, struct program_run *run)
{
    ck_assert_msg(program_run(argv, env, PROGRAM_BOUND_MS, run) == 0, "cannot run %s",
                  argv[0]);
}

START_TEST(the_program_checks_every_reply_and_exits_0)
{
    const char *argv[] = { chapter_program(), "--connections", "3", "--threads", "4",
                           "--requests", "300", NULL };
    struct program_run run;
    run_program(argv, NULL, &run);
    char outcome[128];
    ck_assert_msg(run.exit_code == 0, "expected exit 0, the program %s; stderr:\n%s"
                  CHAPTER_HINT("A run"),
                  program_run_outcome(&run, outcome, sizeof outcome), run.err, chapter_doc());
    const char *lines[] = {
        "requests: 1200 sent, 1200 answered as expected, 0 wrong, 0 errors\n",
        "all 3 connections carried commands\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        ck_assert_msg(strstr(run.out, lines[i]) != NULL,
                      "expected the report to say \"%s\"; it said:\n%s" CHAPTER_HINT("A run"),
                      lines[i], run.out, chapter_doc());
    program_run_free(&run);
}
END_TEST

START_TEST(a_bad_url_or_an_unreachable_server_exits_with_2)
{
    char closed[64], closed_env[96];
    redis_harness_closed_port_url(closed, sizeof closed);
    snprintf(closed_env, sizeof closed_env, "REDIS_URL=%s", closed);
    struct {
        const char *env;
        const char *says;
    } cases[] = {
        { "REDIS_URL=http://127.0.0.1:6379", "bad Redis URL" },
        { closed_env, "cannot connect" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[] = { chapter_program(), "--requests", "10", NULL };
        const char *env[] = { cases[i].env, NULL };
        struct program_run run;
        run_program(argv, env, &run);
        char outcome[128];
        ck_assert_msg(run.exit_code == 2 && strstr(run.err, cases[i].says) != NULL,
                      "expected exit 2 and \"%s\" on stderr with %s; the program %s, "
                      "stderr:\n%s" CHAPTER_HINT("A run"),
                      cases[i].says, cases[i].env,
                      program_run_outcome(&run, outcome, sizeof outcome), run.err,
                      chapter_doc());
        program_run_free(&run);
    }
}
END_TEST

/* ---- The program on its fault paths ----------------------------------------------- */

/* The managers reconnect (or keep trying, while the server is gone), the
 * threads go on, and every request is answered: right, or with an error -
 * never a wrong value.  The summary names the first error: exit status 1. */
static void run_07_with_fault(enum program_fault fault)
{
    const char *argv[] = { chapter_program(), "--requests", "20000", NULL };
    struct fault_run fr;
    program_run_with_fault(argv, fault, "set", 2000, PROGRAM_BOUND_MS, &fr);
    expect_exit_1_after_fault(&fr, fault, "--requests 20000", "0 wrong replies and ",
                              "When a connection breaks");
    size_t sent = 0, right = 0, wrong = 0, errors = 0;
    const char *line = strstr(fr.run.out, "requests: ");
    int got = line == NULL ? 0
                           : sscanf(line, "requests: %zu sent, %zu answered as expected, %zu "
                                          "wrong, %zu errors", &sent, &right, &wrong, &errors);
    ck_assert_msg(got == 4 && sent == 8 * 20000 && right + wrong + errors == sent &&
                      wrong == 0 && errors > 0 && strstr(fr.run.err, "the first: ch07:") != NULL,
                  "expected all %d requests to be answered, right or with an error (some), "
                  "never wrong, and the first error named, when %s; the report was:\n%s\n"
                  "and stderr ended with:\n%s"
                  CHAPTER_HINT("When a connection breaks"),
                  8 * 20000, program_fault_name(fault), fr.run.out, tail_of(fr.run.err, 2000),
                  chapter_doc());
    /* With the server up, a manager's first attempt comes at once and
     * succeeds, before it takes another command, so the line is always
     * there.  (After a restart, the threads may finish on errors during
     * the back-off, before any manager is back: nothing to check then.) */
    if (fault == FAULT_KILL_CONNECTIONS)
        ck_assert_msg(strstr(fr.run.err, "reconnected after") != NULL,
                      "expected the managers to reconnect when %s; stderr ended with:\n%s"
                      CHAPTER_HINT("Reconnecting, with back-off"),
                      program_fault_name(fault), tail_of(fr.run.err, 2000), chapter_doc());
    fault_run_free(&fr);
}

START_TEST(the_program_exits_1_when_the_server_is_killed_mid_run)
{
    run_07_with_fault(FAULT_KILL_SERVER);
}
END_TEST

START_TEST(the_program_exits_1_when_its_connections_are_killed_mid_run)
{
    run_07_with_fault(FAULT_KILL_CONNECTIONS);
}
END_TEST

START_TEST(the_program_exits_1_when_the_server_restarts_mid_run)
{
    run_07_with_fault(FAULT_RESTART_SERVER);
}
END_TEST

START_TEST(a_server_that_wants_a_password_is_a_start_up_failure_with_exit_2)
{
    const char *argv[] = { chapter_program(), "--requests", "10", NULL };
    expect_exit_2_without_password(argv, "--requests 10");
}
END_TEST

static Suite *chapter_suite(void)
{
    Suite *s = suite_create("07-connection-pool");

    TCase *routing = tcase_create("routing");
    tcase_set_timeout(routing, 60);
    tcase_add_test(routing, every_key_goes_to_one_manager_and_keys_spread_over_all);
    tcase_add_test(routing, a_command_runs_on_the_manager_its_key_routes_to);
    tcase_add_test(routing, commands_for_one_key_stay_in_order_under_concurrency);
    suite_add_tcase(s, routing);

    TCase *faults = tcase_create("faults");
    tcase_set_timeout(faults, 120);
    tcase_add_test(faults, a_killed_connection_is_replaced_while_the_others_keep_serving);
    tcase_add_test(faults, the_pool_survives_a_server_restart_on_the_same_port);
    tcase_add_test(faults, every_caller_is_answered_while_the_server_restarts);
    suite_add_tcase(s, faults);

    TCase *closing = tcase_create("closing");
    tcase_set_timeout(closing, 60);
    tcase_add_test(closing, closing_the_pool_runs_every_queued_command_first);
    tcase_add_test(closing, closing_a_pool_whose_server_is_gone_answers_everyone_and_ends);
    suite_add_tcase(s, closing);

    TCase *program = tcase_create("program");
    tcase_set_timeout(program, 120);
    tcase_add_test(program, the_program_checks_every_reply_and_exits_0);
    tcase_add_test(program, a_bad_url_or_an_unreachable_server_exits_with_2);
    suite_add_tcase(s, program);

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
