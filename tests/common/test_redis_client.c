/*
 * test_redis_client.c - the Redis client wrapper against a real server.
 *
 * Most tests use the shared server (test_redis_url(): the throwaway server
 * `make test` starts).  Every key starts with the test's name and our pid,
 * so tests - and test runs sharing a server through `with-redis --reuse` -
 * never see each other's keys.  Tests that break the server on purpose
 * (kill it, pause it) start a private one with the harness.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis_client.h"
#include "redis_harness.h"
#include "test_support.h"

/* ---- Helpers -------------------------------------------------------------- */

/* Writes "test_redis_client:NAME:PID" to buf and returns its length. */
static size_t key_for(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "test_redis_client:%s:%ld", name, (long)getpid());
    ck_assert_int_gt(n, 0);
    ck_assert_uint_lt((size_t)n, size);
    return (size_t)n;
}

static struct redis_client *connect_to(const char *url,
                                       const struct redis_client_options *options)
{
    char err[512] = "";
    struct redis_client *c = redis_client_connect(url, options, err, sizeof err);
    ck_assert_msg(c != NULL, "connect to %s: %s", url, err);
    return c;
}

static struct redis_client *connect_shared(void)
{
    return connect_to(test_redis_url(), NULL);
}

static struct redis_result command2(struct redis_client *c, const char *cmd,
                                    const void *arg, size_t arg_len)
{
    const char *argv[] = { cmd, arg };
    const size_t len[] = { strlen(cmd), arg_len };
    return redis_client_command(c, 2, argv, len);
}

/* DEL key, so a leftover from an earlier run cannot make a test pass. */
static void forget(struct redis_client *c, const void *key, size_t key_len)
{
    struct redis_result r = command2(c, "DEL", key, key_len);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER, "DEL: %s %s",
                  redis_result_kind_name(r.kind), r.data ? r.data : "");
    redis_result_free(&r);
}

static void assert_ok(struct redis_result r)
{
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "expected ok, got %s: %s",
                  redis_result_kind_name(r.kind), r.data ? r.data : "");
    redis_result_free(&r);
}

static void assert_value(struct redis_result r, const void *expected, size_t len)
{
    ck_assert_msg(r.kind == REDIS_RESULT_VALUE, "expected a value, got %s: %s",
                  redis_result_kind_name(r.kind), r.data ? r.data : "");
    ck_assert_uint_eq(r.len, len);
    ck_assert_msg(memcmp(r.data, expected, len) == 0, "the bytes differ");
    ck_assert_int_eq(r.data[len], '\0');
    redis_result_free(&r);
}

static void start_private_server(struct redis_harness *h)
{
    char err[512];
    ck_assert_msg(redis_harness_start(h, err, sizeof err) == 0, "%s", err);
}

/* The shared URL with the database number replaced by `db`. */
static void url_with_db(char *out, size_t size, int db)
{
    struct redis_url u;
    char err[512];
    ck_assert_msg(redis_url_parse(test_redis_url(), &u, err, sizeof err) == 0, "%s", err);
    if (u.password[0] != '\0')
        snprintf(out, size, "redis://:%s@%s:%d/%d", u.password, u.host, u.port, db);
    else
        snprintf(out, size, "redis://%s:%d/%d", u.host, u.port, db);
}

/* ---- Values ----------------------------------------------------------------- */

START_TEST(set_then_get_returns_the_value)
{
    struct redis_client *c = connect_shared();
    char key[128];
    size_t key_len = key_for(key, sizeof key, "set_then_get");
    forget(c, key, key_len);

    assert_ok(redis_client_set(c, key, key_len, "hello", 5));
    assert_value(redis_client_get(c, key, key_len), "hello", 5);
    /* SET replaces. */
    assert_ok(redis_client_set(c, key, key_len, "", 0));
    assert_value(redis_client_get(c, key, key_len), "", 0);

    forget(c, key, key_len);
    redis_client_free(c);
}
END_TEST

START_TEST(missing_key_is_nil)
{
    struct redis_client *c = connect_shared();
    char key[128];
    size_t key_len = key_for(key, sizeof key, "missing");
    forget(c, key, key_len);

    struct redis_result r = redis_client_get(c, key, key_len);
    ck_assert_str_eq(redis_result_kind_name(r.kind), "nil");
    ck_assert_ptr_null(r.data);
    ck_assert(!redis_result_is_error(&r));
    redis_result_free(&r);
    redis_client_free(c);
}
END_TEST

START_TEST(binary_keys_and_values_round_trip_exactly)
{
    struct redis_client *c = connect_shared();
    /* NUL, CR/LF (the protocol's own line end), a space, UTF-8 and bytes
     * that are not UTF-8 at all. */
    static const char tail[] = "a\0b \r\n\xc3\xa9\xff\x80";
    const size_t tail_len = sizeof tail - 1;
    char key[256];
    size_t key_len = key_for(key, sizeof key, "binary:");
    memcpy(key + key_len, tail, tail_len);
    key_len += tail_len;
    static const char value[] = "\0v\r\nal ue\0\xfe\xff\r";
    const size_t value_len = sizeof value - 1;
    forget(c, key, key_len);

    assert_ok(redis_client_set(c, key, key_len, value, value_len));
    assert_value(redis_client_get(c, key, key_len), value, value_len);

    /* The key really contains the NUL: its truncation at the NUL ("...:a")
     * is a different key, which does not exist. */
    size_t truncated_len = key_len - tail_len + 1;
    struct redis_result r = redis_client_get(c, key, truncated_len);
    ck_assert_str_eq(redis_result_kind_name(r.kind), "nil");
    redis_result_free(&r);

    forget(c, key, key_len);
    redis_client_free(c);
}
END_TEST

START_TEST(a_16_mib_value_round_trips_byte_exact)
{
    struct redis_client *c = connect_shared();
    char key[128];
    size_t key_len = key_for(key, sizeof key, "big");
    const size_t size = 16u << 20;
    unsigned char *value = malloc(size);
    ck_assert_ptr_nonnull(value);
    for (size_t i = 0; i < size; i++) /* every byte value, never periodic in 256 */
        value[i] = (unsigned char)(i * 31 + (i >> 9));

    assert_ok(redis_client_set(c, key, key_len, value, size));
    assert_value(redis_client_get(c, key, key_len), value, size);

    forget(c, key, key_len);
    free(value);
    redis_client_free(c);
}
END_TEST

START_TEST(integer_replies_come_back_as_integers)
{
    struct redis_client *c = connect_shared();
    char key[128];
    size_t key_len = key_for(key, sizeof key, "counter");
    forget(c, key, key_len);

    for (long long expected = 1; expected <= 3; expected++) {
        struct redis_result r = command2(c, "INCR", key, key_len);
        ck_assert_str_eq(redis_result_kind_name(r.kind), "integer");
        ck_assert_int_eq(r.integer, expected);
        ck_assert_ptr_null(r.data);
        redis_result_free(&r);
    }
    struct redis_result r = command2(c, "DEL", key, key_len);
    ck_assert_int_eq(r.kind, REDIS_RESULT_INTEGER);
    ck_assert_int_eq(r.integer, 1);
    redis_result_free(&r);
    redis_client_free(c);
}
END_TEST

/* ---- Errors Redis reports ----------------------------------------------------- */

START_TEST(get_on_a_list_is_a_wrongtype_error_and_the_client_stays_usable)
{
    struct redis_client *c = connect_shared();
    char key[128];
    size_t key_len = key_for(key, sizeof key, "list");
    forget(c, key, key_len);
    const char *argv[] = { "RPUSH", key, "x" };
    const size_t len[] = { 5, key_len, 1 };
    struct redis_result r = redis_client_command(c, 3, argv, len);
    ck_assert_int_eq(r.kind, REDIS_RESULT_INTEGER);
    redis_result_free(&r);

    r = redis_client_get(c, key, key_len);
    ck_assert_str_eq(redis_result_kind_name(r.kind), "error");
    ck_assert(redis_result_is_error(&r));
    ck_assert_str_eq(r.data, "WRONGTYPE Operation against a key holding the wrong kind of value");
    ck_assert_uint_eq(r.len, strlen(r.data));
    redis_result_free(&r);

    /* An error reply is an answer: the connection is still in step. */
    ck_assert(!redis_client_is_broken(c));
    const char *ping[] = { "PING" };
    const size_t ping_len[] = { 4 };
    r = redis_client_command(c, 1, ping, ping_len);
    ck_assert_int_eq(r.kind, REDIS_RESULT_OK);
    ck_assert_str_eq(r.data, "PONG");
    redis_result_free(&r);

    forget(c, key, key_len);
    redis_client_free(c);
}
END_TEST

START_TEST(an_unknown_command_is_an_error_with_redis_text)
{
    struct redis_client *c = connect_shared();
    const char *argv[] = { "NO-SUCH-COMMAND", "x" };
    const size_t len[] = { 15, 1 };
    struct redis_result r = redis_client_command(c, 2, argv, len);
    ck_assert_int_eq(r.kind, REDIS_RESULT_ERROR);
    ck_assert_msg(strstr(r.data, "unknown command") != NULL, "got: %s", r.data);
    ck_assert_ptr_nonnull(strstr(r.data, "NO-SUCH-COMMAND"));
    redis_result_free(&r);
    ck_assert(!redis_client_is_broken(c));
    redis_client_free(c);
}
END_TEST

START_TEST(an_array_reply_is_an_error_naming_the_type)
{
    struct redis_client *c = connect_shared();
    char key[128];
    size_t key_len = key_for(key, sizeof key, "array");
    const char *argv[] = { "LRANGE", key, "0", "-1" };
    const size_t len[] = { 6, key_len, 1, 2 };
    struct redis_result r = redis_client_command(c, 4, argv, len);
    ck_assert_int_eq(r.kind, REDIS_RESULT_ERROR);
    ck_assert_msg(strstr(r.data, "array") != NULL, "got: %s", r.data);
    redis_result_free(&r);
    ck_assert(!redis_client_is_broken(c));
    redis_client_free(c);
}
END_TEST

/* ---- URLs --------------------------------------------------------------------- */

START_TEST(url_parsing_accepts_the_documented_forms)
{
    struct redis_url u;
    char err[512] = "";

    ck_assert_msg(redis_url_parse("redis://localhost", &u, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(u.host, "localhost");
    ck_assert_int_eq(u.port, 6379);
    ck_assert_str_eq(u.password, "");
    ck_assert_int_eq(u.db, 0);

    ck_assert_msg(redis_url_parse("redis://127.0.0.1:6380", &u, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_int_eq(u.port, 6380);

    ck_assert_msg(redis_url_parse("redis://:s3cret@example.com:7000/2", &u, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_str_eq(u.password, "s3cret");
    ck_assert_str_eq(u.host, "example.com");
    ck_assert_int_eq(u.port, 7000);
    ck_assert_int_eq(u.db, 2);

    /* The last '@' ends the password, so the password may contain one. */
    ck_assert_msg(redis_url_parse("redis://:p@ss@h/15", &u, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(u.password, "p@ss");
    ck_assert_str_eq(u.host, "h");
    ck_assert_int_eq(u.port, 6379);
    ck_assert_int_eq(u.db, 15);

    ck_assert_msg(redis_url_parse("redis://h:65535/", &u, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(u.port, 65535);
    ck_assert_int_eq(u.db, 0);
}
END_TEST

static void assert_rejected(const char *url, const char *mentions)
{
    struct redis_url u;
    char err[512] = "";
    ck_assert_msg(redis_url_parse(url, &u, err, sizeof err) == -1, "accepted %s", url);
    ck_assert_msg(strstr(err, mentions) != NULL, "%s: message lacks \"%s\": %s", url, mentions, err);
    ck_assert_msg(strstr(err, "expected redis://") != NULL, "no expected form: %s", err);
}

START_TEST(url_parsing_rejects_bad_urls_naming_the_problem)
{
    assert_rejected("http://localhost:6379", "must start with \"redis://\"");
    assert_rejected("localhost:6379", "must start with \"redis://\"");
    assert_rejected("redis://", "no host");
    assert_rejected("redis://:6379", "no host");
    assert_rejected("redis://:pw@/1", "no host");
    assert_rejected("redis://h:0", "port");
    assert_rejected("redis://h:70000", "port");
    assert_rejected("redis://h:abc", "port");
    assert_rejected("redis://h:", "port");
    assert_rejected("redis://h:6379x", "unexpected \"x\"");
    assert_rejected("redis://h:6379/abc", "database");
    assert_rejected("redis://h/1x", "unexpected \"x\"");
    assert_rejected("redis://user:pw@h", "only a password");

    /* Messages never show a password, even in a URL that is rejected. */
    struct redis_url u;
    char err[512] = "";
    ck_assert_int_eq(redis_url_parse("redis://:s3cret@h:0", &u, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "s3cret") == NULL, "the password shows: %s", err);
    ck_assert_msg(strstr(err, "redis://:***@h:0") != NULL, "got: %s", err);
}
END_TEST

START_TEST(url_from_env_prefers_redis_url_and_falls_back_to_the_default)
{
    /* test_redis_url() may return the environment's own string: keep a
     * copy and put it back, so later tests in this process still find it. */
    const char *before = getenv("REDIS_URL");
    char saved[512] = "";
    bool had = before != NULL;
    if (had)
        snprintf(saved, sizeof saved, "%s", before);

    ck_assert_int_eq(setenv("REDIS_URL", "redis://example.org:1234", 1), 0);
    ck_assert_str_eq(redis_url_from_env(), "redis://example.org:1234");
    ck_assert_int_eq(setenv("REDIS_URL", "", 1), 0);
    ck_assert_str_eq(redis_url_from_env(), REDIS_DEFAULT_URL);
    ck_assert_int_eq(unsetenv("REDIS_URL"), 0);
    ck_assert_str_eq(redis_url_from_env(), REDIS_DEFAULT_URL);

    if (had)
        ck_assert_int_eq(setenv("REDIS_URL", saved, 1), 0);
}
END_TEST

/* ---- Connecting --------------------------------------------------------------- */

START_TEST(connecting_to_a_closed_port_fails_with_refused_and_a_hint)
{
    char url[64], err[512] = "";
    redis_harness_closed_port_url(url, sizeof url);
    struct redis_client *c = redis_client_connect(url, NULL, err, sizeof err);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "refused") != NULL, "got: %s", err);
    ck_assert_msg(strstr(err, url) != NULL, "message does not name the URL: %s", err);
    ck_assert_msg(strstr(err, "redis-server") != NULL, "no next step: %s", err);
}
END_TEST

START_TEST(connecting_to_a_bad_url_fails_with_a_clear_message)
{
    char err[512] = "";
    struct redis_client *c = redis_client_connect("redis://localhost:99999", NULL, err, sizeof err);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "bad Redis URL") != NULL, "got: %s", err);
    ck_assert_msg(strstr(err, "port") != NULL, "got: %s", err);
}
END_TEST

START_TEST(the_database_in_the_url_is_selected)
{
    char url0[640], url1[640];
    url_with_db(url0, sizeof url0, 0);
    url_with_db(url1, sizeof url1, 1);
    struct redis_client *db0 = connect_to(url0, NULL);
    struct redis_client *db1 = connect_to(url1, NULL);
    char key[128];
    size_t key_len = key_for(key, sizeof key, "select");
    forget(db0, key, key_len);
    forget(db1, key, key_len);

    assert_ok(redis_client_set(db1, key, key_len, "in db 1", 7));
    assert_value(redis_client_get(db1, key, key_len), "in db 1", 7);
    struct redis_result r = redis_client_get(db0, key, key_len);
    ck_assert_str_eq(redis_result_kind_name(r.kind), "nil");
    redis_result_free(&r);

    forget(db1, key, key_len);
    redis_client_free(db0);
    redis_client_free(db1);
}
END_TEST

START_TEST(a_database_out_of_range_fails_at_connect)
{
    char url[640], err[512] = "";
    url_with_db(url, sizeof url, 100000);
    ck_assert_ptr_null(redis_client_connect(url, NULL, err, sizeof err));
    ck_assert_msg(strstr(err, "SELECT") != NULL && strstr(err, "out of range") != NULL,
                  "got: %s", err);
}
END_TEST

START_TEST(a_wrong_password_fails_at_connect)
{
    struct redis_url u;
    char url[640], err[512] = "";
    ck_assert_int_eq(redis_url_parse(test_redis_url(), &u, err, sizeof err), 0);
    snprintf(url, sizeof url, "redis://:not-the-password@%s:%d", u.host, u.port);
    ck_assert_ptr_null(redis_client_connect(url, NULL, err, sizeof err));
    ck_assert_msg(strstr(err, "AUTH failed") != NULL, "got: %s", err);
    ck_assert_msg(strstr(err, "password") != NULL, "got: %s", err);
    ck_assert_msg(strstr(err, "not-the-password") == NULL, "the password shows: %s", err);
    ck_assert_msg(strstr(err, "redis://:***@") != NULL, "got: %s", err);
}
END_TEST

START_TEST(a_password_in_the_url_is_sent_with_auth_and_one_missing_fails_at_connect)
{
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client *admin = connect_to(h.url, NULL);
    const char *argv[] = { "CONFIG", "SET", "requirepass", "s3cret pass" };
    const size_t len[] = { 6, 3, 11, 11 };
    assert_ok(redis_client_command(admin, 4, argv, len));
    redis_client_free(admin);

    /* Without the password, connecting fails (the server would refuse
     * every command), and the message says where the password goes... */
    char err[512] = "";
    ck_assert_ptr_null(redis_client_connect(h.url, NULL, err, sizeof err));
    ck_assert_msg(strstr(err, "NOAUTH") != NULL && strstr(err, "redis://:PASSWORD@") != NULL,
                  "got: %s", err);

    /* ...with it in the URL (a space in it, too), they work. */
    char url[128];
    snprintf(url, sizeof url, "redis://:s3cret pass@127.0.0.1:%d", h.port);
    struct redis_client *c = connect_to(url, NULL);
    char shown[128];
    snprintf(shown, sizeof shown, "redis://:***@127.0.0.1:%d", h.port);
    ck_assert_str_eq(redis_client_url(c), shown);
    assert_ok(redis_client_set(c, "k", 1, "v", 1));
    assert_value(redis_client_get(c, "k", 1), "v", 1);
    redis_client_free(c);
    redis_harness_stop(&h);
}
END_TEST

/* ---- Faults --------------------------------------------------------------------- */

START_TEST(a_killed_server_breaks_the_client_for_good)
{
    /* hiredis writes with write(2): never let SIGPIPE end the test. */
    signal(SIGPIPE, SIG_IGN);
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client *c = connect_to(h.url, NULL);
    assert_ok(redis_client_set(c, "k", 1, "v", 1));

    redis_harness_kill(&h);

    struct redis_result r = redis_client_get(c, "k", 1);
    ck_assert_str_eq(redis_result_kind_name(r.kind), "i/o error");
    ck_assert(redis_result_is_error(&r));
    ck_assert_msg(strstr(r.data, "connection lost") != NULL, "got: %s", r.data);
    redis_result_free(&r);
    ck_assert(redis_client_is_broken(c));

    /* From now on every call fails at once, without touching the socket. */
    int64_t start = test_now_ms();
    r = redis_client_set(c, "k", 1, "v", 1);
    ck_assert_int_eq(r.kind, REDIS_RESULT_IO_ERROR);
    ck_assert_msg(strstr(r.data, "is broken") != NULL && strstr(r.data, "reconnect") != NULL,
                  "got: %s", r.data);
    ck_assert_ptr_nonnull(strstr(r.data, h.url));
    redis_result_free(&r);
    const char *ping[] = { "PING" };
    const size_t ping_len[] = { 4 };
    ck_assert_int_eq(redis_client_append(c, 1, ping, ping_len), -1);
    r = redis_client_read_reply(c);
    ck_assert_int_eq(r.kind, REDIS_RESULT_IO_ERROR);
    redis_result_free(&r);
    ck_assert_int_lt(test_now_ms() - start, 100);

    redis_client_free(c);
    redis_harness_stop(&h);
}
END_TEST

START_TEST(a_reply_slower_than_the_command_timeout_is_an_io_error)
{
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client_options opts = { .command_timeout_ms = 200 };
    struct redis_client *c = connect_to(h.url, &opts);
    ck_assert_int_eq(redis_harness_pause(&h, 1500), 0);

    int64_t start = test_now_ms();
    struct redis_result r = redis_client_get(c, "k", 1);
    int64_t elapsed = test_now_ms() - start;
    ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR, "got %s", redis_result_kind_name(r.kind));
    ck_assert_msg(strstr(r.data, "timed out") != NULL, "got: %s", r.data);
    ck_assert_ptr_nonnull(strstr(r.data, "200 ms"));
    redis_result_free(&r);
    ck_assert_int_ge(elapsed, 150);
    ck_assert_int_lt(elapsed, 1000); /* gave up well before the pause ended */
    ck_assert(redis_client_is_broken(c));

    redis_client_free(c);
    redis_harness_stop(&h);
}
END_TEST

/* ---- Pipelining and results ------------------------------------------------------ */

START_TEST(pipelined_commands_get_their_replies_in_order)
{
    enum { N = 100 };
    struct redis_client *c = connect_shared();
    char keys[N][128], values[N][32];
    size_t key_len[N], value_len[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "pipeline:%d", i);
        key_len[i] = key_for(keys[i], sizeof keys[i], name);
        value_len[i] = (size_t)snprintf(values[i], sizeof values[i], "value %d", i * 7);
    }

    for (int i = 0; i < N; i++) {
        const char *argv[] = { "SET", keys[i], values[i] };
        const size_t len[] = { 3, key_len[i], value_len[i] };
        ck_assert_int_eq(redis_client_append(c, 3, argv, len), 0);
    }
    for (int i = 0; i < N; i++)
        assert_ok(redis_client_read_reply(c));

    for (int i = 0; i < N; i++) {
        const char *argv[] = { "GET", keys[i] };
        const size_t len[] = { 3, key_len[i] };
        ck_assert_int_eq(redis_client_append(c, 2, argv, len), 0);
    }
    for (int i = 0; i < N; i++)
        assert_value(redis_client_read_reply(c), values[i], value_len[i]);

    for (int i = 0; i < N; i++)
        forget(c, keys[i], key_len[i]);
    redis_client_free(c);
}
END_TEST

START_TEST(an_error_result_carries_its_formatted_message_and_kind)
{
    struct redis_result r = redis_result_error(REDIS_RESULT_IO_ERROR, "the manager has stopped (%d queued)", 3);
    ck_assert_int_eq(r.kind, REDIS_RESULT_IO_ERROR);
    ck_assert(redis_result_is_error(&r));
    ck_assert_str_eq(r.data, "the manager has stopped (3 queued)");
    ck_assert_uint_eq(r.len, strlen("the manager has stopped (3 queued)"));
    redis_result_free(&r);
    ck_assert_ptr_null(r.data);
}
END_TEST

START_TEST(quoting_bytes_escapes_what_would_garble_a_line)
{
    char out[REDIS_QUOTE_BUFSIZE];
    ck_assert_str_eq(redis_quote_bytes("a\0b\r\n\"\\\xff", 8, out, sizeof out),
                     "\"a\\x00b\\x0d\\x0a\\\"\\\\\\xff\"");
    ck_assert_str_eq(redis_quote_bytes("", 0, out, sizeof out), "\"\"");
    char big[300];
    memset(big, 'v', sizeof big);
    redis_quote_bytes(big, sizeof big, out, sizeof out);
    ck_assert_uint_eq(strlen(out), 1 + REDIS_QUOTE_SHOWN + 1 + strlen("...(300 bytes)"));
    ck_assert_ptr_nonnull(strstr(out, "\"...(300 bytes)"));
    /* A buffer too small for even one escaped byte gets an empty string,
     * never an overflow. */
    char tiny[4] = "xyz";
    ck_assert_str_eq(redis_quote_bytes("abc", 3, tiny, sizeof tiny), "");
}
END_TEST

START_TEST(freeing_a_result_twice_is_safe)
{
    struct redis_client *c = connect_shared();
    char key[128];
    size_t key_len = key_for(key, sizeof key, "free_twice");
    assert_ok(redis_client_set(c, key, key_len, "v", 1));

    struct redis_result r = redis_client_get(c, key, key_len);
    ck_assert_int_eq(r.kind, REDIS_RESULT_VALUE);
    redis_result_free(&r);
    ck_assert_int_eq(r.kind, REDIS_RESULT_NIL);
    ck_assert_ptr_null(r.data);
    ck_assert_uint_eq(r.len, 0);
    redis_result_free(&r);
    redis_result_free(NULL);

    forget(c, key, key_len);
    redis_client_free(c);
    redis_client_free(NULL);
}
END_TEST

START_TEST(every_result_kind_has_its_own_name)
{
    const enum redis_result_kind all[] = { REDIS_RESULT_OK, REDIS_RESULT_VALUE,
                                           REDIS_RESULT_INTEGER, REDIS_RESULT_NIL,
                                           REDIS_RESULT_ERROR, REDIS_RESULT_IO_ERROR };
    const size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            ck_assert_str_ne(redis_result_kind_name(all[i]), redis_result_kind_name(all[j]));
    ck_assert_str_eq(redis_result_kind_name(REDIS_RESULT_IO_ERROR), "i/o error");
    ck_assert_str_eq(redis_result_kind_name((enum redis_result_kind)99), "unknown result kind");
}
END_TEST

Suite *redis_client_suite(void);
Suite *redis_client_suite(void)
{
    Suite *s = suite_create("redis_client");

    TCase *values = tcase_create("values");
    tcase_set_timeout(values, 30);
    tcase_add_test(values, set_then_get_returns_the_value);
    tcase_add_test(values, missing_key_is_nil);
    tcase_add_test(values, binary_keys_and_values_round_trip_exactly);
    tcase_add_test(values, a_16_mib_value_round_trips_byte_exact);
    tcase_add_test(values, integer_replies_come_back_as_integers);
    tcase_add_test(values, pipelined_commands_get_their_replies_in_order);
    tcase_add_test(values, an_error_result_carries_its_formatted_message_and_kind);
    tcase_add_test(values, quoting_bytes_escapes_what_would_garble_a_line);
    tcase_add_test(values, freeing_a_result_twice_is_safe);
    tcase_add_test(values, every_result_kind_has_its_own_name);
    suite_add_tcase(s, values);

    TCase *errors = tcase_create("errors");
    tcase_set_timeout(errors, 30);
    tcase_add_test(errors, get_on_a_list_is_a_wrongtype_error_and_the_client_stays_usable);
    tcase_add_test(errors, an_unknown_command_is_an_error_with_redis_text);
    tcase_add_test(errors, an_array_reply_is_an_error_naming_the_type);
    suite_add_tcase(s, errors);

    TCase *urls = tcase_create("urls");
    tcase_add_test(urls, url_parsing_accepts_the_documented_forms);
    tcase_add_test(urls, url_parsing_rejects_bad_urls_naming_the_problem);
    tcase_add_test(urls, url_from_env_prefers_redis_url_and_falls_back_to_the_default);
    suite_add_tcase(s, urls);

    TCase *connect = tcase_create("connect");
    tcase_set_timeout(connect, 30);
    tcase_add_test(connect, connecting_to_a_closed_port_fails_with_refused_and_a_hint);
    tcase_add_test(connect, connecting_to_a_bad_url_fails_with_a_clear_message);
    tcase_add_test(connect, the_database_in_the_url_is_selected);
    tcase_add_test(connect, a_database_out_of_range_fails_at_connect);
    tcase_add_test(connect, a_wrong_password_fails_at_connect);
    tcase_add_test(connect, a_password_in_the_url_is_sent_with_auth_and_one_missing_fails_at_connect);
    suite_add_tcase(s, connect);

    TCase *faults = tcase_create("faults");
    tcase_set_timeout(faults, 30);
    tcase_add_test(faults, a_killed_server_breaks_the_client_for_good);
    tcase_add_test(faults, a_reply_slower_than_the_command_timeout_is_an_io_error);
    suite_add_tcase(s, faults);
    return s;
}
