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
 * and restarted on the same port (redis_harness_restart), a server frozen
 * with SIGSTOP (redis_harness_freeze).  Those tests use a private server.  Every wait is bounded (client_wait_timeout, or a
 * bounded retry loop), so a broken solution fails instead of hanging; the
 * bounds are generous and decide only how long a failure takes.
 *
 * The back-off is measured, not guessed: the managers' log goes to a
 * stream of the test's own that notes when each line was written, and the
 * waits between reconnect attempts are checked against the delays the log
 * announces - from below only, so that a slow machine can never fail them.
 * Which batch a command travels in is made certain with a server stopped by
 * SIGSTOP (it accepts bytes but answers nothing) and the kernel's count of
 * the bytes it has not read (/proc/net/tcp).
 */
#define _GNU_SOURCE /* fopencookie, for the timed log */
#include <check.h>
#include <errno.h>
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
        if (pool_route(pool, key, strlen(key)) != target)
            continue;
        /* The tests send this key's commands to `target`'s manager: they
         * mean nothing unless the key goes there every time. */
        for (int again = 0; again < 3; again++) {
            size_t m = pool_route(pool, key, strlen(key));
            ck_assert_msg(m == target,
                          "expected pool_route to send the key %s to the same manager every "
                          "time; it said %zu, then %zu.  The manager must depend on the key "
                          "and nothing else"
                          CHAPTER_HINT("Which manager gets a command"),
                          key, target, m, chapter_doc());
        }
        return;
    }
    ck_abort_msg("expected some of 10000 keys \"%s:<j>\" to go to manager %zu, none did "
                 "(does pool_route spread keys over every manager?)"
                 CHAPTER_HINT("Which manager gets a command"),
                 prefix, target, chapter_doc());
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
                  line, program_output_tail(log, 1500), chapter_doc());
}

/* pool_close on a thread of its own, so that a pool_close that never
 * returns fails the test instead of hanging it.  `c` must outlive the
 * thread: the caller's own frame, which a failed assertion never leaves
 * while the thread is stuck. */
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

/* True if pool_close returned within RECONNECT_BOUND_MS. */
static bool close_within_bound(struct closer *c, struct pool *pool)
{
    *c = (struct closer){ .pool = pool };
    struct oneshot_receiver *done;
    ck_assert_int_eq(oneshot_channel(sizeof(int), NULL, &c->done, &done), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, close_pool_main, c), 0);
    int yes;
    bool closed = oneshot_recv_timeout(done, &yes, RECONNECT_BOUND_MS) == CHAN_OK;
    oneshot_receiver_drop(done);
    if (closed)
        pthread_join(thread, NULL);
    else
        pthread_detach(thread); /* stuck in pool_close: the test fails */
    return closed;
}

static void expect_closed(bool closed)
{
    ck_assert_msg(closed,
                  "expected pool_close to return, its managers having answered what was "
                  "queued; it did not within %d ms.  A manager that is reconnecting must stop "
                  "when refuse_for says the pool was closed"
                  CHAPTER_HINT("Closing the pool"),
                  RECONNECT_BOUND_MS, chapter_doc());
}

/* client_wait_timeout with what is left until `deadline_ms` (test_now_ms):
 * several answers waited for in turn share one bound. */
static struct redis_result wait_until(struct client_pending *p, int64_t deadline_ms)
{
    int64_t left = deadline_ms - test_now_ms();
    return client_wait_timeout(p, left > 0 ? (unsigned)left : 0);
}

/* ---- A log that notes when each line was written ----------------------------------- */

/* The manager flushes each line as it logs it (report_log), so each write
 * that ends a line is that line, at that moment. */
struct timed_log {
    pthread_mutex_t lock;
    char text[32 * 1024];
    size_t len;
    int64_t line_us[256]; /* when line i was written (test_now_us) */
    size_t lines;
};

static ssize_t timed_log_write(void *cookie, const char *buf, size_t size)
{
    struct timed_log *log = cookie;
    int64_t now = test_now_us();
    pthread_mutex_lock(&log->lock);
    for (size_t i = 0; i < size && log->len + 1 < sizeof log->text; i++) {
        log->text[log->len++] = buf[i];
        if (buf[i] == '\n' && log->lines < sizeof log->line_us / sizeof log->line_us[0])
            log->line_us[log->lines++] = now;
    }
    log->text[log->len] = '\0';
    pthread_mutex_unlock(&log->lock);
    return (ssize_t)size;
}

static FILE *timed_log_open(struct timed_log *log)
{
    memset(log, 0, sizeof *log);
    ck_assert_int_eq(pthread_mutex_init(&log->lock, NULL), 0);
    cookie_io_functions_t io = { .write = timed_log_write };
    FILE *stream = fopencookie(log, "w", io);
    ck_assert_ptr_nonnull(stream);
    return stream;
}

/* One "manager 0: reconnect attempt N failed (...); next in D ms" line. */
struct logged_attempt {
    unsigned number;
    unsigned delay_ms;
    int64_t at_us;
};

/* The failed attempts logged so far, at most `max` of them; how many.  A
 * copy of the log text goes to text[len]. */
static size_t attempts_logged(struct timed_log *log, struct logged_attempt *out, size_t max,
                              char *text, size_t len)
{
    size_t n = 0;
    pthread_mutex_lock(&log->lock);
    snprintf(text, len, "%s", log->text);
    const char *line = log->text;
    for (size_t i = 0; i < log->lines && n < max; i++) {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            break;
        unsigned number, delay;
        const char *next_in = NULL;
        for (const char *p = line; p != NULL && p < end; p = strstr(p + 1, "; next in "))
            if (p > line)
                next_in = p;
        if (sscanf(line, "manager 0: reconnect attempt %u failed (", &number) == 1 &&
            next_in != NULL && next_in < end &&
            sscanf(next_in, "; next in %u ms", &delay) == 1)
            out[n++] = (struct logged_attempt){ number, delay, log->line_us[i] };
        line = end + 1;
    }
    pthread_mutex_unlock(&log->lock);
    return n;
}

/* ---- Which batch a command travels in --------------------------------------------- */

/* Bytes sent to the server on `port` that it has not read yet, over all its
 * connections: the receive queues the kernel shows in /proc/net/tcp (the
 * harness's servers listen on 127.0.0.1).  While the server is stopped
 * (SIGSTOP) nothing is read, so more than 0 means a client has written. */
static long bytes_unread_by_server(int port)
{
    FILE *tcp = fopen("/proc/net/tcp", "r");
    ck_assert_msg(tcp != NULL, "cannot read /proc/net/tcp: %s", strerror(errno));
    char line[512];
    long total = 0;
    while (fgets(line, sizeof line, tcp) != NULL) {
        unsigned local_port, state;
        unsigned long tx_queue, rx_queue;
        if (sscanf(line, " %*u: %*x:%x %*x:%*x %x %lx:%lx", &local_port, &state, &tx_queue,
                   &rx_queue) == 4 &&
            local_port == (unsigned)port && state == 1 /* ESTABLISHED */)
            total += (long)rx_queue;
    }
    fclose(tcp);
    return total;
}

/* A private server, and a pool of one manager on it (connections named
 * after `name`), through which `key` has been SET to "before": the
 * manager is connected and idle. */
struct lone_manager {
    struct redis_harness h;
    struct pool *pool;
    char name[64];
    char key[96];
};

static void start_lone_manager(struct lone_manager *lm, const char *name, FILE *log)
{
    start_private_server(&lm->h);
    lm->pool = open_pool(lm->h.url, 1, name, log, lm->name, sizeof lm->name);
    snprintf(lm->key, sizeof lm->key, "%s:k", lm->name);
    expect_set_ok(lm->pool, lm->key, "before", "The pool");
}

/* Stops the server and sends a GET of the key: once the manager has
 * written it (the server holds unread bytes), the manager is waiting for a
 * reply that cannot come, and whatever is sent next waits in its channel -
 * in one batch, taken together once it is free again. */
static void stop_server_with_a_get_in_flight(struct lone_manager *lm,
                                             struct client_pending *in_flight)
{
    ck_assert_int_eq(kill(lm->h.pid, SIGSTOP), 0);
    struct command cmd;
    ck_assert(command_get(&cmd, lm->key, strlen(lm->key)) == 0);
    *in_flight = client_send(lm->pool, &cmd);
    int64_t deadline = test_now_ms() + ANSWER_BOUND_MS;
    while (bytes_unread_by_server(lm->h.port) == 0 && test_now_ms() < deadline)
        test_sleep_ms(1);
    ck_assert_msg(bytes_unread_by_server(lm->h.port) > 0,
                  "expected the manager to write a GET to the server within %d ms"
                  CHAPTER_HINT("The pool"),
                  ANSWER_BOUND_MS, chapter_doc());
}

static struct client_pending send_get(struct pool *pool, const char *key)
{
    struct command cmd;
    ck_assert(command_get(&cmd, key, strlen(key)) == 0);
    return client_send(pool, &cmd);
}

static struct client_pending send_set(struct pool *pool, const char *key, const char *value)
{
    struct command cmd;
    ck_assert(command_set(&cmd, key, strlen(key), value, strlen(value)) == 0);
    return client_send(pool, &cmd);
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

START_TEST(keys_that_differ_only_in_the_high_bits_of_a_byte_spread_too)
{
    /* "k:?:x" with ? one of 0x00, 0x04, 0x08, ... 0xfc: the keys differ only
     * in bits above the lowest two of one byte.  FNV-1a's lowest bits depend
     * only on the lowest bits of each byte, and `% 4` keeps only the lowest
     * bits: without the fold (hash ^ (hash >> 32)) these 64 keys all go to
     * one manager.  With it they spread (13, 18, 20 and 13 of them). */
    enum { N = 4, KEYS = 64 };
    char name[64];
    struct pool *pool = open_pool(test_redis_url(), N, "fold", NULL, name, sizeof name);
    size_t per_manager[N] = { 0 };
    for (int i = 0; i < KEYS; i++) {
        const char key[] = { 'k', ':', (char)(unsigned char)(4 * i), ':', 'x' };
        size_t m = pool_route(pool, key, sizeof key);
        ck_assert_msg(m < N, "pool_route gave manager %zu of a pool of %d", m, N);
        per_manager[m]++;
    }
    pool_close(pool);
    for (size_t m = 0; m < N; m++)
        ck_assert_msg(per_manager[m] >= KEYS / N / 2,
                      "expected the %d keys \"k:\\x00:x\", \"k:\\x04:x\", ... \"k:\\xfc:x\" (they "
                      "differ only in the high bits of one byte) to spread over all %d "
                      "managers, but manager %zu got %zu of them (0: %zu, 1: %zu, 2: %zu, 3: "
                      "%zu).  FNV-1a's low bits ignore the high bits of every byte, and the "
                      "modulo keeps only low bits: fold the high half in first"
                      CHAPTER_HINT("Which manager gets a command"),
                      KEYS, N, m, per_manager[m], per_manager[0], per_manager[1],
                      per_manager[2], per_manager[3], chapter_doc());
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
            ck_assert_msg(!is_timeout(&r),
                          "expected SET %s with the server down to be answered at once with an "
                          "I/O error, but it was not answered within %d ms: %s"
                          CHAPTER_HINT("%s"),
                          keys[m], ANSWER_BOUND_MS,
                          attempt == 0 ? "the command that finds the connection broken must "
                                         "be answered with the error"
                                       : "a command sent while the manager reconnects must "
                                         "be refused at once (refuse_for), not held",
                          attempt == 0 ? "When a connection breaks"
                                       : "While disconnected: an error at once",
                          chapter_doc());
            ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR,
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

START_TEST(every_command_of_a_broken_batch_is_answered)
{
    /* A batch [SET, GET x5] in flight when the connection breaks: Redis
     * holds the SET (CLIENT PAUSE ... WRITE), and the GETs behind it on the
     * connection, when the server is killed.  The SET's read returns the
     * error; the five GETs never get a reply, and each must still be
     * answered.  The batch is made certain: the server is stopped with a
     * GET in flight while the six queue up behind it, so they leave the
     * channel together once it goes on. */
    enum { GETS = 5 };
    struct lone_manager lm;
    start_lone_manager(&lm, "lost", NULL);
    struct redis_client *admin = connect_or_fail(lm.h.url);
    const char *pause[] = { "CLIENT", "PAUSE", "60000", "WRITE" };
    const size_t pause_len[] = { 6, 5, 5, 5 };
    struct redis_result r = redis_client_command(admin, 4, pause, pause_len);
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "CLIENT PAUSE 60000 WRITE gave %s",
                  redis_result_kind_name(r.kind));
    redis_result_free(&r);
    redis_client_free(admin);

    struct client_pending first, set, gets[GETS];
    stop_server_with_a_get_in_flight(&lm, &first);
    set = send_set(lm.pool, lm.key, "held by the pause");
    for (int i = 0; i < GETS; i++)
        gets[i] = send_get(lm.pool, lm.key);
    ck_assert_int_eq(kill(lm.h.pid, SIGCONT), 0);
    struct redis_result first_r = client_wait_timeout(&first, ANSWER_BOUND_MS);
    redis_harness_kill(&lm.h);
    int64_t deadline = test_now_ms() + ANSWER_BOUND_MS;
    struct redis_result set_r = wait_until(&set, deadline);
    struct redis_result gets_r[GETS];
    for (int i = 0; i < GETS; i++)
        gets_r[i] = wait_until(&gets[i], deadline);
    struct closer closer;
    bool closed = close_within_bound(&closer, lm.pool);
    redis_harness_stop(&lm.h);

    ck_assert_msg(first_r.kind == REDIS_RESULT_VALUE && strcmp(first_r.data, "before") == 0,
                  "expected the GET sent while the server was stopped to give \"before\" once "
                  "it went on, got %s %s" CHAPTER_HINT("The pool"),
                  redis_result_kind_name(first_r.kind), first_r.data != NULL ? first_r.data : "",
                  chapter_doc());
    ck_assert_msg(set_r.kind == REDIS_RESULT_IO_ERROR && !is_timeout(&set_r),
                  "expected the SET that Redis was still keeping back (CLIENT PAUSE ... WRITE) "
                  "when it was killed to be answered with an I/O error, got %s %s"
                  CHAPTER_HINT("When a connection breaks"),
                  redis_result_kind_name(set_r.kind), set_r.data != NULL ? set_r.data : "",
                  chapter_doc());
    for (int i = 0; i < GETS; i++) {
        ck_assert_msg(gets_r[i].kind == REDIS_RESULT_IO_ERROR && !is_timeout(&gets_r[i]),
                      "expected GET %d of 5, behind that SET in the same batch, to be "
                      "answered with an I/O error once the connection broke, got %s %s.  Its "
                      "reply will never come: every command of the batch still owed a reply "
                      "must be answered (answer_error)"
                      CHAPTER_HINT("When a connection breaks"),
                      i + 1, redis_result_kind_name(gets_r[i].kind),
                      gets_r[i].data != NULL ? gets_r[i].data : "", chapter_doc());
        redis_result_free(&gets_r[i]);
    }
    redis_result_free(&first_r);
    redis_result_free(&set_r);
    expect_closed(closed);
}
END_TEST

START_TEST(the_first_reconnect_attempt_comes_at_once)
{
    /* Three GETs wait in the channel while the manager waits for a reply
     * from a stopped server; then the server is killed.  The manager answers
     * the GET in flight with the loss and starts reconnecting.  The three
     * queued GETs can only be answered by refuse_for, which quotes
     * m->failure.  A first attempt made at once fails first ("cannot
     * connect"), so they quote that attempt; a reconnect that waits before
     * its first attempt refuses them quoting the lost connection. */
    enum { QUEUED = 3 };
    struct lone_manager lm;
    start_lone_manager(&lm, "first", NULL);
    struct client_pending lost, queued[QUEUED];
    stop_server_with_a_get_in_flight(&lm, &lost);
    for (int i = 0; i < QUEUED; i++)
        queued[i] = send_get(lm.pool, lm.key);
    redis_harness_kill(&lm.h); /* SIGKILL ends a stopped process too */
    int64_t deadline = test_now_ms() + ANSWER_BOUND_MS;
    struct redis_result lost_r = wait_until(&lost, deadline);
    struct redis_result queued_r[QUEUED];
    for (int i = 0; i < QUEUED; i++)
        queued_r[i] = wait_until(&queued[i], deadline);
    struct closer closer;
    bool closed = close_within_bound(&closer, lm.pool);
    redis_harness_stop(&lm.h);

    ck_assert_msg(lost_r.kind == REDIS_RESULT_IO_ERROR && !is_timeout(&lost_r) &&
                      lost_r.data != NULL && lost_r.data[0] != '\0',
                  "expected the GET in flight when the server was killed to be answered with "
                  "an I/O error, got %s %s" CHAPTER_HINT("When a connection breaks"),
                  redis_result_kind_name(lost_r.kind), lost_r.data != NULL ? lost_r.data : "",
                  chapter_doc());
    for (int i = 0; i < QUEUED; i++) {
        const char *text = queued_r[i].data != NULL ? queued_r[i].data : "";
        ck_assert_msg(queued_r[i].kind == REDIS_RESULT_IO_ERROR && !is_timeout(&queued_r[i]) &&
                          strstr(text, "reconnecting") != NULL,
                      "expected GET %d of %d, queued while the connection broke, to be refused "
                      "at once saying the manager is reconnecting, got %s %s"
                      CHAPTER_HINT("While disconnected: an error at once"),
                      i + 1, QUEUED, redis_result_kind_name(queued_r[i].kind), text,
                      chapter_doc());
        char quoted_loss[600];
        snprintf(quoted_loss, sizeof quoted_loss, "(%s)", lost_r.data);
        ck_assert_msg(strstr(text, quoted_loss) == NULL,
                      "expected the GETs queued when the connection broke to be refused after a "
                      "first reconnect attempt made at once, quoting why that attempt failed "
                      "(kept in m->failure); GET %d was refused quoting the lost connection "
                      "instead:\n  %s\nDoes reconnect wait before its first attempt (or never "
                      "try)?"
                      CHAPTER_HINT("Reconnecting, with back-off"),
                      i + 1, text, chapter_doc());
        redis_result_free(&queued_r[i]);
    }
    redis_result_free(&lost_r);
    expect_closed(closed);
}
END_TEST

START_TEST(the_reconnect_waits_double_from_10_ms_up_to_1_s)
{
    /* With the server gone for good, the manager's failed attempts are
     * logged with the wait before the next: 10, 20, 40, 80, 160, 320, 640,
     * then 1000 ms (the cap).  The log says it, and the time between the
     * lines shows that each wait was at least that long.  About 1.3 s. */
    enum { ATTEMPTS = 8 };
    struct timed_log timed;
    FILE *log = timed_log_open(&timed);
    struct lone_manager lm;
    start_lone_manager(&lm, "backoff", log);
    redis_harness_kill(&lm.h);
    /* The manager notices when it next uses the connection. */
    struct redis_result r = set_bounded(lm.pool, lm.key, "after");
    bool answered = r.kind == REDIS_RESULT_IO_ERROR && !is_timeout(&r);
    redis_result_free(&r);
    struct logged_attempt seen[ATTEMPTS];
    static char text[sizeof timed.text];
    size_t n = 0;
    /* About 1.3 s of waits; a starter that never tries says so at once. */
    int64_t deadline = test_now_ms() + RECONNECT_BOUND_MS;
    while ((n = attempts_logged(&timed, seen, ATTEMPTS, text, sizeof text)) < ATTEMPTS &&
           strstr(text, "not implemented yet") == NULL && test_now_ms() < deadline)
        test_sleep_ms(10);
    struct closer closer;
    bool closed = close_within_bound(&closer, lm.pool);
    expect_closed(closed);
    fclose(log);
    pthread_mutex_destroy(&timed.lock);
    redis_harness_stop(&lm.h);

    ck_assert_msg(answered,
                  "expected the SET that found the connection broken to be answered with an "
                  "I/O error" CHAPTER_HINT("When a connection breaks"), chapter_doc());
    ck_assert_msg(n == ATTEMPTS,
                  "expected the manager to log %d failed reconnect attempts, each as "
                  "\"manager 0: reconnect attempt N failed (...); next in D ms\", within %d ms "
                  "of losing a server that never came back; the log had %zu:\n%s"
                  CHAPTER_HINT("Reconnecting, with back-off"),
                  ATTEMPTS, RECONNECT_BOUND_MS, n, program_output_tail(text, 1500),
                  chapter_doc());
    unsigned expected = MANAGER_BACKOFF_FIRST_MS;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(seen[i].number == i + 1 && seen[i].delay_ms == expected,
                      "expected attempt %zu to be logged as \"reconnect attempt %zu failed "
                      "(...); next in %u ms\": the waits double from %d ms up to at most %d ms "
                      "(10, 20, 40, ... 640, 1000, 1000).  The log said attempt %u, next in "
                      "%u ms:\n%s"
                      CHAPTER_HINT("Reconnecting, with back-off"),
                      i + 1, i + 1, expected, MANAGER_BACKOFF_FIRST_MS, MANAGER_BACKOFF_MAX_MS,
                      seen[i].number, seen[i].delay_ms, program_output_tail(text, 1500),
                      chapter_doc());
        if (i + 1 < n) {
            /* From below only: a busy machine makes waits longer, never
             * shorter.  refuse_for's deadline is in whole milliseconds. */
            int64_t waited_us = seen[i + 1].at_us - seen[i].at_us;
            ck_assert_msg(waited_us >= (int64_t)expected * 1000 - 2000,
                          "expected attempt %zu to come at least %u ms after attempt %zu, as "
                          "its log line announced; it came %.1f ms after.  Does reconnect wait "
                          "with refuse_for(m, delay_ms)?"
                          CHAPTER_HINT("Reconnecting, with back-off"),
                          i + 2, expected, i + 1, (double)waited_us / 1000, chapter_doc());
        }
        expected = expected >= MANAGER_BACKOFF_MAX_MS / 2 ? MANAGER_BACKOFF_MAX_MS : expected * 2;
    }
}
END_TEST

/* ---- Every caller is answered, whatever happens ---------------------------------- */

/* Callers: threads that send SETs and GETs through the pool without pause
 * while a test breaks the server, and say what they see through an mpsc. */
enum { CALLERS = 4, ANSWERS_AFTER_ERROR = 3 };

/* What a caller tells the test thread, once each. */
enum caller_event { FIRST_OK, FIRST_ERROR, OK_AFTER_ERROR, ANSWERED_AFTER_ERROR, EVENT_KINDS };

struct caller {
    struct pool *pool;
    const char *name;
    int index;
    unsigned bound_ms;            /* how long an answer may take before it is a hang */
    struct mpsc_sender *events;
    atomic_bool *stop;
    pthread_t thread;
    /* Read after the join: */
    size_t answered, hung, unexpected;
    int64_t slowest_after_error;  /* ms, of the requests sent after its first error */
};

static void *caller_main(void *arg)
{
    struct caller *w = arg;
    bool ok_seen = false, error_seen = false, back_seen = false;
    int after_error = 0;
    char key[96];
    snprintf(key, sizeof key, "%s:t%d", w->name, w->index);
    for (size_t i = 0; !atomic_load(w->stop); i++) {
        struct command cmd;
        if ((i % 2 == 0 ? command_set(&cmd, key, strlen(key), "v", 1)
                        : command_get(&cmd, key, strlen(key))) != 0)
            abort();
        int64_t sent = test_now_ms();
        struct client_pending p = client_send(w->pool, &cmd);
        struct redis_result r = client_wait_timeout(&p, w->bound_ms);
        int64_t waited = test_now_ms() - sent;
        w->answered++;
        bool ok = r.kind == REDIS_RESULT_OK || r.kind == REDIS_RESULT_VALUE ||
                  r.kind == REDIS_RESULT_NIL; /* NIL: a restarted server is empty */
        if (is_timeout(&r))
            w->hung++;
        else if (!ok && r.kind != REDIS_RESULT_IO_ERROR)
            w->unexpected++;
        redis_result_free(&r);
        if (error_seen && waited > w->slowest_after_error)
            w->slowest_after_error = waited;
        int events[2], n = 0;
        if (error_seen && ++after_error == ANSWERS_AFTER_ERROR)
            events[n++] = ANSWERED_AFTER_ERROR;
        if (ok && !ok_seen) {
            ok_seen = true;
            events[n++] = FIRST_OK;
        } else if (!ok && ok_seen && !error_seen) {
            error_seen = true;
            events[n++] = FIRST_ERROR;
        } else if (ok && error_seen && !back_seen) {
            back_seen = true;
            events[n++] = OK_AFTER_ERROR;
        }
        for (int e = 0; e < n; e++)
            mpsc_send(w->events, &events[e]);
        if (!ok)
            test_sleep_ms(1); /* as a polite client would: no hot loop of errors */
    }
    return NULL;
}

struct callers {
    struct caller threads[CALLERS];
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    atomic_bool stop;
    int seen[EVENT_KINDS]; /* events received so far, by kind */
};

static void callers_start(struct callers *c, struct pool *pool, const char *name,
                          unsigned bound_ms)
{
    memset(c->seen, 0, sizeof c->seen);
    /* Room for every event of every caller: a caller never blocks on it. */
    ck_assert_int_eq(mpsc_channel(CALLERS * EVENT_KINDS, sizeof(int), NULL, &c->tx, &c->rx), 0);
    atomic_init(&c->stop, false);
    for (int t = 0; t < CALLERS; t++) {
        c->threads[t] = (struct caller){ .pool = pool, .name = name, .index = t,
                                         .bound_ms = bound_ms, .events = c->tx,
                                         .stop = &c->stop };
        ck_assert_int_eq(pthread_create(&c->threads[t].thread, NULL, caller_main,
                                        &c->threads[t]), 0);
    }
}

/* Waits until every caller has said `kind`, for at most bound_ms; counts
 * the other events that arrive meanwhile (callers run at their own pace).
 * A real signal, not a sleep. */
static bool callers_await(struct callers *c, enum caller_event kind, unsigned bound_ms)
{
    int64_t deadline = test_now_ms() + bound_ms;
    while (c->seen[kind] < CALLERS) {
        int64_t left = deadline - test_now_ms();
        int event;
        if (left <= 0 || mpsc_recv_timeout(c->rx, &event, (unsigned)left) != CHAN_OK)
            return false;
        c->seen[event]++;
    }
    return true;
}

static void callers_stop(struct callers *c)
{
    atomic_store(&c->stop, true);
    for (int t = 0; t < CALLERS; t++)
        pthread_join(c->threads[t].thread, NULL);
    mpsc_sender_drop(c->tx);
    mpsc_receiver_drop(c->rx);
}

/* No caller waited out its bound, and each got only replies or I/O errors. */
static void expect_every_caller_answered(const struct callers *c)
{
    for (int t = 0; t < CALLERS; t++) {
        const struct caller *w = &c->threads[t];
        ck_assert_msg(w->hung == 0,
                      "expected every request to be answered; %zu of caller %d's %zu waited "
                      "%u ms.  A command sent while the manager reconnects must be refused at "
                      "once; one whose batch lost its connection, answered with the error"
                      CHAPTER_HINT("While disconnected: an error at once"),
                      w->hung, t, w->answered, w->bound_ms, chapter_doc());
        ck_assert_msg(w->unexpected == 0,
                      "expected only replies or I/O errors, caller %d got %zu other results"
                      CHAPTER_HINT("When a connection breaks"),
                      t, w->unexpected, chapter_doc());
    }
}

START_TEST(every_caller_is_answered_while_the_server_restarts)
{
    enum { N = 3 };
    struct redis_harness h;
    start_private_server(&h);
    char name[64];
    struct pool *pool = open_pool(h.url, N, "callers", NULL, name, sizeof name);
    struct callers c;
    callers_start(&c, pool, name, ANSWER_BOUND_MS);

    bool served = callers_await(&c, FIRST_OK, RECONNECT_BOUND_MS);
    bool failed = false, back = false;
    int back_while_down = 0;
    char err[1024] = "";
    if (served) {
        redis_harness_kill(&h);
        failed = callers_await(&c, FIRST_ERROR, RECONNECT_BOUND_MS);
        back_while_down = c.seen[OK_AFTER_ERROR];
    }
    int restarted = failed ? redis_harness_restart(&h, err, sizeof err) : -1;
    if (restarted == 0)
        back = callers_await(&c, OK_AFTER_ERROR, RECONNECT_BOUND_MS);

    callers_stop(&c);
    pool_close(pool);
    redis_harness_stop(&h);

    ck_assert_msg(served, "expected every caller to get an answer from the pool at first"
                  CHAPTER_HINT("The pool"), chapter_doc());
    ck_assert_msg(failed, "expected every caller to get an error once the server was killed"
                  CHAPTER_HINT("When a connection breaks"), chapter_doc());
    ck_assert_msg(back_while_down == 0, "expected no command to succeed while the server was "
                  "dead; %d callers saw one", back_while_down);
    ck_assert_msg(restarted == 0, "restart: %s", err);
    ck_assert_msg(back,
                  "expected every caller's commands to succeed again within %d ms of the "
                  "server's restart" CHAPTER_HINT("Reconnecting, with back-off"),
                  RECONNECT_BOUND_MS, chapter_doc());
    expect_every_caller_answered(&c);
}
END_TEST

/*
 * A frozen server (SIGSTOP) is worse than a dead one: the kernel still
 * accepts TCP connections for it, so a reconnect attempt "connects" and then
 * waits for a reply that never comes.  The batch in flight when it froze
 * waits out the command timeout (10 s); after that the manager knows, and
 * every caller must hear from it within about one connect attempt - the
 * connect timeout, 2 s - not one command timeout per attempt.
 */
#define FROZEN_FIRST_ERROR_BOUND_MS 30000 /* the command timeout, and room to spare */
#define FROZEN_ANSWER_BOUND_MS 6000       /* one connect attempt, and room to spare */

START_TEST(every_caller_is_answered_soon_after_the_server_freezes)
{
    enum { N = 2 };
    struct redis_harness h;
    start_private_server(&h);
    char name[64];
    struct pool *pool = open_pool(h.url, N, "frozen", NULL, name, sizeof name);
    struct callers c;
    callers_start(&c, pool, name, FROZEN_FIRST_ERROR_BOUND_MS);

    bool served = callers_await(&c, FIRST_OK, RECONNECT_BOUND_MS);
    bool frozen = served && redis_harness_freeze(&h) == 0;
    bool noticed = frozen && callers_await(&c, FIRST_ERROR, FROZEN_FIRST_ERROR_BOUND_MS);
    bool kept_answering =
        noticed && callers_await(&c, ANSWERED_AFTER_ERROR, 2 * FROZEN_FIRST_ERROR_BOUND_MS);
    redis_harness_thaw(&h);
    callers_stop(&c);
    pool_close(pool);
    redis_harness_stop(&h);

    ck_assert_msg(served, "expected every caller to get an answer from the pool at first"
                  CHAPTER_HINT("The pool"), chapter_doc());
    ck_assert_msg(frozen, "the test could not freeze its server");
    ck_assert_msg(noticed, "expected every caller to get an error within %d ms of the freeze"
                  CHAPTER_HINT("When a connection breaks"), FROZEN_FIRST_ERROR_BOUND_MS,
                  chapter_doc());
    ck_assert_msg(kept_answering, "expected every caller to get %d more answers while the "
                  "server stayed frozen" CHAPTER_HINT("While disconnected: an error at once"),
                  ANSWERS_AFTER_ERROR, chapter_doc());
    expect_every_caller_answered(&c);
    for (int t = 0; t < CALLERS; t++)
        ck_assert_msg(c.threads[t].slowest_after_error <= FROZEN_ANSWER_BOUND_MS,
                      "expected each request sent after the freeze was noticed to be answered "
                      "within %d ms (a reconnect attempt should give up after the connect "
                      "timeout); caller %d waited %lld ms" CHAPTER_HINT("Reconnecting, with "
                      "back-off"), FROZEN_ANSWER_BOUND_MS, t,
                      (long long)c.threads[t].slowest_after_error, chapter_doc());
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
    struct closer closer;
    expect_closed(close_within_bound(&closer, pool));
    int64_t deadline = test_now_ms() + ANSWER_BOUND_MS;
    for (int i = 0; i < COMMANDS; i++) {
        struct redis_result r = wait_until(&pending[i], deadline);
        /* Sent after the kill: the first batch finds the connection broken
         * (answered with the loss), the rest are refused while the manager
         * reconnects, or by the close. */
        ck_assert_msg(!is_timeout(&r),
                      "expected SET number %d, sent after the server was killed, to be "
                      "answered with an I/O error; it was not answered within %d ms.  Every "
                      "command of a batch whose connection broke must be answered "
                      "(answer_error), and every command sent while reconnecting refused"
                      CHAPTER_HINT("When a connection breaks"),
                      i, ANSWER_BOUND_MS, chapter_doc());
        ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR,
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
                  program_run_outcome(&run, outcome, sizeof outcome),
                  program_output_tail(run.err, 2000), chapter_doc());
    /* Each line, and where to read up when it is missing. */
    const char *lines[][2] = {
        { "requests: 1200 sent, 1200 answered as expected, 0 wrong, 0 errors\n",
          "Commands for one key stay in order" },
        { "all 3 connections carried commands\n", "Which manager gets a command" },
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        ck_assert_msg(strstr(run.out, lines[i][0]) != NULL,
                      "expected the report to say \"%s\"; it said:\n%s" CHAPTER_HINT("%s"),
                      lines[i][0], program_output_tail(run.out, 2000), lines[i][1],
                      chapter_doc());
    program_run_free(&run);
}
END_TEST

START_TEST(a_bad_url_or_an_unreachable_server_exits_with_2)
{
    const char *argv[] = { chapter_program(), "--requests", "10", NULL };
    expect_exit_2_on_unusable_urls(argv, "A run");
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
    program_run_with_fault(argv, fault, "set", 2000, PROGRAM_FAULT_HANG_MS, &fr);
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
    tcase_add_test(routing, keys_that_differ_only_in_the_high_bits_of_a_byte_spread_too);
    tcase_add_test(routing, a_command_runs_on_the_manager_its_key_routes_to);
    tcase_add_test(routing, commands_for_one_key_stay_in_order_under_concurrency);
    suite_add_tcase(s, routing);

    TCase *faults = tcase_create("faults");
    tcase_set_timeout(faults, 120);
    tcase_add_test(faults, a_killed_connection_is_replaced_while_the_others_keep_serving);
    tcase_add_test(faults, the_pool_survives_a_server_restart_on_the_same_port);
    tcase_add_test(faults, every_command_of_a_broken_batch_is_answered);
    tcase_add_test(faults, the_first_reconnect_attempt_comes_at_once);
    tcase_add_test(faults, the_reconnect_waits_double_from_10_ms_up_to_1_s);
    tcase_add_test(faults, every_caller_is_answered_while_the_server_restarts);
    tcase_add_test(faults, every_caller_is_answered_soon_after_the_server_freezes);
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
