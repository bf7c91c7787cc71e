/*
 * test_redis_client.c - the Redis client wrapper against a real server.
 *
 * Most tests use the shared server (test_redis_url(): the throwaway server
 * `make test` starts).  Every key starts with the test's name and our pid,
 * so tests - and test runs sharing a server through `with-redis --reuse` -
 * never see each other's keys.  Tests that break the server on purpose
 * (kill it, pause it) start a private one with the harness.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

    /* An IPv6 address goes in brackets; the host is the address alone. */
    ck_assert_msg(redis_url_parse("redis://[::1]:6380/3", &u, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.port, 6380);
    ck_assert_int_eq(u.db, 3);
    ck_assert_msg(redis_url_parse("redis://:pw@[fe80::1:2]", &u, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_str_eq(u.host, "fe80::1:2");
    ck_assert_str_eq(u.password, "pw");
    ck_assert_int_eq(u.port, 6379);

    /* %XX in the password is the byte XX, as in any URL. */
    ck_assert_msg(redis_url_parse("redis://:s3cr3t%40pw%25%3a%2F@h", &u, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_str_eq(u.password, "s3cr3t@pw%:/");
    ck_assert_str_eq(u.host, "h");
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
    assert_rejected("redis://h:0", "port must be a number from 1 to 65535 (got \"0\")");
    assert_rejected("redis://h:70000", "port");
    assert_rejected("redis://h:abc", "port");
    assert_rejected("redis://h:", "port");
    assert_rejected("redis://h:6379x", "unexpected \"x\"");
    assert_rejected("redis://h:6379/abc", "database");
    assert_rejected("redis://h/1x", "unexpected \"x\"");
    assert_rejected("redis://user:pw@h", "only a password");
    assert_rejected("redis://::1:6379", "an IPv6 address goes in brackets");
    assert_rejected("redis://[::1:6379", "closing ']'");
    assert_rejected("redis://[]:6379", "no host between the brackets");
    assert_rejected("redis://[::1]x", "unexpected \"x\"");
    assert_rejected("redis://:100%@h", "escape like %40");
    assert_rejected("redis://:%4@h", "escape like %40");
    assert_rejected("redis://:%zz@h", "escape like %40");
    assert_rejected("redis://:a%00b@h", "%00");

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

START_TEST(hiding_the_password_leaves_the_rest_of_any_url)
{
    const struct {
        const char *url, *shown;
    } cases[] = {
        { "redis://127.0.0.1:6379", "redis://127.0.0.1:6379" },
        { "redis://:s3cr3t@h:1/2", "redis://:***@h:1/2" },
        { "redis://:s3cr3t@pw@h", "redis://:***@h" },     /* the last '@' ends it */
        { "redis://user:s3cr3t@h", "redis://***@h" },
        { "http://:s3cr3t@h", "http://:***@h" },
        { "redis//:s3cr3t@h:6379", "***@h:6379" },        /* no "://": hide it all */
        { ":s3cr3t@h", ":***@h" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[128];
        const char *got = redis_url_hide_password(cases[i].url, out, sizeof out);
        ck_assert_ptr_eq(got, out);
        ck_assert_msg(strcmp(out, cases[i].shown) == 0, "%s shown as %s, expected %s",
                      cases[i].url, out, cases[i].shown);
    }
    char tiny[8];
    redis_url_hide_password("redis://:s3cr3t@h", tiny, sizeof tiny);
    ck_assert_msg(strstr(tiny, "s3") == NULL, "a short buffer shows %s", tiny);
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

/* Connects a client of its own to `h` and sets its password. */
static void require_password(const struct redis_harness *h, const char *password)
{
    struct redis_client *admin = connect_to(h->url, NULL);
    const char *argv[] = { "CONFIG", "SET", "requirepass", password };
    const size_t len[] = { 6, 3, 11, strlen(password) };
    assert_ok(redis_client_command(admin, 4, argv, len));
    redis_client_free(admin);
}

/* Connects to `url` expecting a failure of the kind `expected`, whose message
 * names `mentions` and never `secret`. */
static void assert_connect_fails(const char *url, enum redis_connect_error expected,
                                 const char *mentions, const char *secret)
{
    char err[1024] = "";
    enum redis_connect_error why = REDIS_CONNECT_OK;
    ck_assert_ptr_null(redis_client_connect_why(url, NULL, &why, err, sizeof err));
    ck_assert_msg(why == expected, "connecting to %s: expected failure kind %d, got %d: %s", url,
                  (int)expected, (int)why, err);
    ck_assert_msg(strstr(err, mentions) != NULL, "connecting to %s: message lacks \"%s\": %s",
                  url, mentions, err);
    ck_assert_msg(secret == NULL || strstr(err, secret) == NULL, "the password shows: %s", err);
}

START_TEST(a_failed_connect_says_which_kind_of_failure_it_was)
{
    struct redis_harness h;
    start_private_server(&h);
    require_password(&h, "s3cr3t");
    char closed[64], url[128];
    redis_harness_closed_port_url(closed, sizeof closed);

    assert_connect_fails("redis://127.0.0.1:0", REDIS_CONNECT_BAD_URL, "(got \"0\")", NULL);
    assert_connect_fails(closed, REDIS_CONNECT_NOTHING_LISTENS, "refused", NULL);
    assert_connect_fails("redis://nonexistent.invalid:6379", REDIS_CONNECT_OTHER,
                         "Check the host", NULL);
    snprintf(url, sizeof url, "redis://:wrong-s3cr3t@127.0.0.1:%d", h.port);
    assert_connect_fails(url, REDIS_CONNECT_SERVER_ERROR, "AUTH failed", "wrong-s3cr3t");
    /* Without a password every set-up command fails with NOAUTH; the hint
     * says what is missing, whichever command it was. */
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/1", h.port);
    assert_connect_fails(url, REDIS_CONNECT_SERVER_ERROR, "wants a password", NULL);
    snprintf(url, sizeof url, "redis://:s3cr3t@127.0.0.1:%d/100000", h.port);
    assert_connect_fails(url, REDIS_CONNECT_SERVER_ERROR, "out of range", "s3cr3t");

    enum redis_connect_error why = REDIS_CONNECT_BAD_URL;
    snprintf(url, sizeof url, "redis://:s3cr3t@127.0.0.1:%d", h.port);
    struct redis_client *c = redis_client_connect_why(url, NULL, &why, NULL, 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(why, REDIS_CONNECT_OK);
    redis_client_free(c);
    redis_harness_stop(&h);
}
END_TEST

START_TEST(a_percent_escape_in_the_password_is_decoded_before_auth)
{
    struct redis_harness h;
    start_private_server(&h);
    require_password(&h, "s3cr3t@pw%");
    char url[128];
    snprintf(url, sizeof url, "redis://:s3cr3t%%40pw%%25@127.0.0.1:%d", h.port);
    struct redis_client *c = connect_to(url, NULL);
    assert_ok(redis_client_set(c, "k", 1, "v", 1));
    redis_client_free(c);
    redis_harness_stop(&h);
}
END_TEST

/* A peer that is not Redis: it answers whatever it is sent with one RESP
 * bulk string holding terminal escape sequences, as a hostile or confused
 * server could.  No Redis can be made to answer PING so, which is why this
 * one test talks to a socket of its own. */
struct not_redis {
    int listener;
    int port;
    pthread_t thread;
};

static void *not_redis_main(void *arg)
{
    struct not_redis *nr = arg;
    int conn = accept(nr->listener, NULL, NULL);
    if (conn < 0)
        return NULL;
    char buf[512];
    static const char answer[] = "$12\r\n\x1b[31mRED\x1b[0m\r\n";
    while (read(conn, buf, sizeof buf) > 0)
        if (write(conn, answer, sizeof answer - 1) < 0)
            break;
    close(conn);
    return NULL;
}

static void not_redis_start(struct not_redis *nr)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    nr->listener = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(nr->listener, 0);
    ck_assert_int_eq(bind(nr->listener, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(nr->listener, 1), 0);
    ck_assert_int_eq(getsockname(nr->listener, (struct sockaddr *)&addr, &len), 0);
    nr->port = ntohs(addr.sin_port);
    ck_assert_int_eq(pthread_create(&nr->thread, NULL, not_redis_main, nr), 0);
}

START_TEST(what_a_peer_that_is_not_redis_said_is_quoted_in_the_connect_error)
{
    struct not_redis nr;
    not_redis_start(&nr);
    char url[64], err[512] = "";
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", nr.port);
    enum redis_connect_error why;
    ck_assert_ptr_null(redis_client_connect_why(url, NULL, &why, err, sizeof err));
    pthread_join(nr.thread, NULL); /* it ends when the failed client hangs up */
    close(nr.listener);
    ck_assert_msg(why == REDIS_CONNECT_OTHER && strchr(err, '\x1b') == NULL &&
                      strstr(err, "RED") != NULL && strstr(err, "Is it a Redis server") != NULL,
                  "expected the answer quoted, with no raw escape byte; got %d: %s", (int)why,
                  err);
}
END_TEST

START_TEST(a_name_in_the_options_names_the_connection)
{
    struct redis_client_options opts = { .name = "test-named-connection" };
    struct redis_client *c = connect_to(test_redis_url(), &opts);
    const char *argv[] = { "CLIENT", "GETNAME" };
    const size_t len[] = { 6, 7 };
    assert_value(redis_client_command(c, 2, argv, len), "test-named-connection", 21);
    redis_client_free(c);

    char err[512] = "";
    enum redis_connect_error why;
    struct redis_client_options bad = { .name = "two words" };
    ck_assert_ptr_null(redis_client_connect_why(test_redis_url(), &bad, &why, err, sizeof err));
    ck_assert_msg(why == REDIS_CONNECT_SERVER_ERROR && strstr(err, "CLIENT SETNAME") != NULL,
                  "got %d: %s", (int)why, err);
}
END_TEST

START_TEST(an_ipv6_address_in_brackets_reaches_a_server_there)
{
    struct redis_harness h;
    start_private_server(&h);
    /* The harness listens on 127.0.0.1; ask it to listen on ::1 too. */
    struct redis_client *admin = connect_to(h.url, NULL);
    const char *argv[] = { "CONFIG", "SET", "bind", "127.0.0.1 ::1" };
    const size_t len[] = { 6, 3, 4, 13 };
    struct redis_result r = redis_client_command(admin, 4, argv, len);
    redis_client_free(admin);
    char url[128], err[512] = "";
    snprintf(url, sizeof url, "redis://[::1]:%d", h.port);
    if (r.kind != REDIS_RESULT_OK) {
        /* Said out loud, not skipped quietly: the parsing is tested above. */
        fprintf(stderr, "note: this machine has no IPv6 loopback (Redis: %s); %s is "
                "checked for a clear connect error only\n", r.data, url);
        redis_result_free(&r);
        ck_assert_ptr_null(redis_client_connect(url, NULL, err, sizeof err));
        ck_assert_msg(strstr(err, "cannot connect to redis://[::1]:") != NULL, "got: %s", err);
        redis_harness_stop(&h);
        return;
    }
    redis_result_free(&r);
    struct redis_client *c = connect_to(url, NULL);
    ck_assert_str_eq(redis_client_url(c), url);
    assert_ok(redis_client_set(c, "over-ipv6", 9, "yes", 3));
    redis_client_free(c);
    /* The same server, as seen over IPv4. */
    c = connect_to(h.url, NULL);
    assert_value(redis_client_get(c, "over-ipv6", 9), "yes", 3);
    redis_client_free(c);
    redis_harness_stop(&h);
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

START_TEST(a_paused_server_holds_the_commands_of_every_other_connection)
{
    /* The pause outlasts the command timeout ten times over: a GET that is
     * answered at all, however slow the machine, was not held. */
    struct redis_harness h;
    start_private_server(&h);
    struct redis_client_options opts = { .command_timeout_ms = 300 };
    struct redis_client *c = connect_to(h.url, &opts);
    char err[512] = "";
    ck_assert_msg(redis_pause_server(h.url, 3000, err, sizeof err) == 0, "%s", err);
    struct redis_result r = redis_client_get(c, "k", 1);
    ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR && strstr(r.data, "timed out") != NULL,
                  "expected the GET to be held past its timeout, got %s %s",
                  redis_result_kind_name(r.kind), r.data != NULL ? r.data : "");
    redis_result_free(&r);
    redis_client_free(c);
    redis_harness_stop(&h);
}
END_TEST

START_TEST(pausing_a_server_that_is_not_there_fails_with_the_connect_message)
{
    char url[128], err[512] = "";
    redis_harness_closed_port_url(url, sizeof url);
    ck_assert_int_eq(redis_pause_server(url, 100, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "refused") != NULL, "expected the connect's message, got: %s", err);
    ck_assert_int_eq(redis_pause_server(url, 100, NULL, 0), -1); /* no room for a message */
}
END_TEST

START_TEST(a_server_that_stopped_answering_fails_the_connect_within_the_connect_timeout)
{
    /* A stopped server still completes TCP connects from its listen backlog:
     * only the set-up commands can tell.  They get the connect timeout, so
     * the connect fails in about 500 ms here, not in the 10 s command
     * timeout the commands get afterwards. */
    struct redis_harness h;
    start_private_server(&h);
    require_password(&h, "s3cr3t");
    ck_assert_int_eq(redis_harness_freeze(&h), 0);
    char url[128], err[1024] = "";
    snprintf(url, sizeof url, "redis://:s3cr3t@127.0.0.1:%d", h.port);
    struct redis_client_options opts = { .connect_timeout_ms = 500, .command_timeout_ms = 10000,
                                         .name = "frozen" };
    enum redis_connect_error why;
    int64_t start = test_now_ms();
    struct redis_client *c = redis_client_connect_why(url, &opts, &why, err, sizeof err);
    int64_t elapsed = test_now_ms() - start;
    ck_assert_int_eq(redis_harness_thaw(&h), 0);
    ck_assert_ptr_null(c);
    ck_assert_msg(why == REDIS_CONNECT_TIMED_OUT, "expected a timeout, got %d: %s", (int)why,
                  err);
    ck_assert_msg(strstr(err, "no reply to AUTH within the connect timeout (500 ms)") != NULL,
                  "got: %s", err);
    ck_assert_msg(elapsed < 5000, "the connect took %lld ms: the set-up waited for the "
                  "command timeout (10000 ms), not the connect timeout (500 ms)",
                  (long long)elapsed);
    /* Thawed, the same options connect, and commands get the longer timeout. */
    c = connect_to(url, &opts);
    assert_ok(redis_client_set(c, "k", 1, "v", 1));
    redis_client_free(c);
    redis_harness_stop(&h);
}
END_TEST

/* ---- Which hiredis --------------------------------------------------------------- */

#ifndef HIREDIS_EXPECTED
#define HIREDIS_EXPECTED "(not set: build with the Makefile)"
#define HIREDIS_STATIC 0
#endif

START_TEST(the_tests_run_on_the_hiredis_the_build_chose)
{
    /* HIREDIS_EXPECTED is what the Makefile chose: the system's hiredis
     * (pkg-config's version), or the one HIREDIS=1.2 built in build/. */
    ck_assert_msg(strcmp(redis_client_hiredis_version(), HIREDIS_EXPECTED) == 0,
                  "compiled against hiredis %s, but the build chose %s",
                  redis_client_hiredis_version(), HIREDIS_EXPECTED);
#ifdef __linux__
    /* And the library is that one too: the system's is a shared library,
     * the built one is linked in statically, so it must not be loaded. */
    FILE *maps = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(maps);
    char line[1024];
    bool shared_loaded = false;
    while (fgets(line, sizeof line, maps) != NULL)
        shared_loaded = shared_loaded || strstr(line, "libhiredis.so") != NULL;
    fclose(maps);
    ck_assert_msg(shared_loaded == !HIREDIS_STATIC,
                  "expected the %s hiredis, but libhiredis.so is %sloaded",
                  HIREDIS_STATIC ? "built-in (static)" : "system's (shared)",
                  shared_loaded ? "" : "not ");
#endif
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

START_TEST(a_set_and_a_get_queued_by_name_are_answered_in_order)
{
    struct redis_client *c = connect_shared();
    char key[128], missing[128];
    size_t key_len = key_for(key, sizeof key, "append set\r\nget");
    size_t missing_len = key_for(missing, sizeof missing, "append missing");
    forget(c, missing, missing_len);
    const char value[] = "v\0with a NUL";
    ck_assert_int_eq(redis_client_append_set(c, key, key_len, value, sizeof value), 0);
    ck_assert_int_eq(redis_client_append_get(c, key, key_len), 0);
    ck_assert_int_eq(redis_client_append_get(c, missing, missing_len), 0);
    assert_ok(redis_client_read_reply(c));
    assert_value(redis_client_read_reply(c), value, sizeof value);
    struct redis_result r = redis_client_read_reply(c);
    ck_assert_msg(r.kind == REDIS_RESULT_NIL, "expected nil, got %s",
                  redis_result_kind_name(r.kind));
    forget(c, key, key_len);
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

/* ---- Pub/Sub: subscribing and reading pushed messages ------------------------ */

/* PUBLISH channel payload from `c`; returns how many subscribers got it. */
static long long publish(struct redis_client *c, const void *channel, size_t channel_len,
                         const void *payload, size_t payload_len)
{
    const char *argv[] = { "PUBLISH", channel, payload };
    const size_t len[] = { 7, channel_len, payload_len };
    struct redis_result r = redis_client_command(c, 3, argv, len);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER, "PUBLISH: %s %s",
                  redis_result_kind_name(r.kind), r.data ? r.data : "");
    return r.integer;
}

/* Reads the next push, which must come within 10 s. */
static void read_push_or_fail(struct redis_client *c, struct redis_push *push)
{
    char err[512] = "";
    int got = redis_client_read_push(c, 10000, push, err, sizeof err);
    ck_assert_msg(got == 1, "expected a push within 10 s, got %d (%s)", got, err);
}

static void expect_confirmation(struct redis_client *c, const void *channel, size_t len,
                                long long count)
{
    struct redis_push push;
    read_push_or_fail(c, &push);
    ck_assert_int_eq(push.kind, REDIS_PUSH_SUBSCRIBE);
    ck_assert_uint_eq(push.channel_len, len);
    ck_assert(memcmp(push.channel, channel, len) == 0);
    ck_assert_int_eq(push.count, count);
    ck_assert_ptr_null(push.payload);
    redis_push_free(&push);
}

/* A connection subscribed to a channel of the test's own (its confirmation
 * read), and a second one to publish from. */
struct pubsub_pair {
    char channel[128];
    size_t channel_len;
    struct redis_client *sub, *pub;
};

static void pair_open(struct pubsub_pair *p, const char *name)
{
    p->channel_len = key_for(p->channel, sizeof p->channel, name);
    p->sub = connect_shared();
    const char *channels[] = { p->channel };
    char err[512] = "";
    ck_assert_msg(redis_client_subscribe(p->sub, 1, channels, &p->channel_len, err,
                                         sizeof err) == 0, "%s", err);
    expect_confirmation(p->sub, p->channel, p->channel_len, 1);
    p->pub = connect_shared();
}

static void pair_close(struct pubsub_pair *p)
{
    redis_client_free(p->sub);
    redis_client_free(p->pub);
}

START_TEST(subscribe_confirms_each_channel_then_messages_arrive_byte_exact)
{
    struct redis_client *sub = connect_shared();
    struct redis_client *pub = connect_shared();
    char plain[128];
    size_t plain_len = key_for(plain, sizeof plain, "pubsub_plain");
    /* A channel name and a payload with NUL, CR/LF and non-UTF-8 bytes. */
    char binary[160];
    size_t binary_len = key_for(binary, sizeof binary, "pubsub_bin");
    memcpy(binary + binary_len, "\0\r\n\xff", 4);
    binary_len += 4;
    static const char payload[] = "pay\0load\r\n\x80";
    const size_t payload_len = sizeof payload - 1;

    const char *channels[] = { plain, binary };
    const size_t lens[] = { plain_len, binary_len };
    char err[512] = "";
    ck_assert_msg(redis_client_subscribe(sub, 2, channels, lens, err, sizeof err) == 0, "%s",
                  err);
    expect_confirmation(sub, plain, plain_len, 1);
    expect_confirmation(sub, binary, binary_len, 2);

    ck_assert_int_eq(publish(pub, binary, binary_len, payload, payload_len), 1);
    ck_assert_int_eq(publish(pub, plain, plain_len, "", 0), 1);
    struct redis_push push;
    read_push_or_fail(sub, &push);
    ck_assert_int_eq(push.kind, REDIS_PUSH_MESSAGE);
    ck_assert_uint_eq(push.channel_len, binary_len);
    ck_assert(memcmp(push.channel, binary, binary_len) == 0);
    ck_assert_uint_eq(push.payload_len, payload_len);
    ck_assert(memcmp(push.payload, payload, payload_len) == 0);
    ck_assert_int_eq(push.payload[payload_len], '\0');
    redis_push_free(&push);
    redis_push_free(&push); /* twice is safe */
    read_push_or_fail(sub, &push);
    ck_assert_int_eq(push.kind, REDIS_PUSH_MESSAGE);
    ck_assert_uint_eq(push.payload_len, 0);
    redis_push_free(&push);

    redis_client_free(sub);
    redis_client_free(pub);
}
END_TEST

START_TEST(a_push_read_gives_up_after_its_timeout_and_the_connection_stays_usable)
{
    struct pubsub_pair p;
    pair_open(&p, "pubsub_timeout");

    struct redis_push push;
    char err[512] = "";
    int64_t start = test_now_ms();
    int got = redis_client_read_push(p.sub, 150, &push, err, sizeof err);
    int64_t elapsed = test_now_ms() - start;
    ck_assert_msg(got == 0, "expected 0 (nothing yet), got %d (%s)", got, err);
    ck_assert_int_ge(elapsed, 140);
    ck_assert(!redis_client_is_broken(p.sub));
    ck_assert_int_eq(redis_client_read_push(p.sub, 0, &push, err, sizeof err), 0);

    /* The same connection still delivers. */
    ck_assert_int_eq(publish(p.pub, p.channel, p.channel_len, "after", 5), 1);
    read_push_or_fail(p.sub, &push);
    ck_assert_str_eq(push.payload, "after");
    redis_push_free(&push);

    pair_close(&p);
}
END_TEST

START_TEST(a_large_message_read_in_pieces_between_timeouts_arrives_whole)
{
    struct pubsub_pair p;
    pair_open(&p, "pubsub_large");
    const size_t size = (size_t)4 << 20;
    char *payload = malloc(size);
    ck_assert_ptr_nonnull(payload);
    for (size_t i = 0; i < size; i++)
        payload[i] = (char)(i * 31 + i / 7);
    ck_assert_int_eq(publish(p.pub, p.channel, p.channel_len, payload, size), 1);

    /* Reads that never wait: most find only part of the message, give up,
     * and leave it buffered for the next. */
    struct redis_push push;
    char err[512] = "";
    int got = 0;
    long empty = 0;
    int64_t deadline = test_now_ms() + 10000;
    while ((got = redis_client_read_push(p.sub, 0, &push, err, sizeof err)) == 0 &&
           test_now_ms() < deadline)
        empty++;
    ck_assert_msg(got == 1, "expected the message within 10 s, got %d (%s) after %ld empty reads",
                  got, err, empty);
    ck_assert_uint_eq(push.payload_len, size);
    ck_assert_msg(memcmp(push.payload, payload, size) == 0, "the 4 MiB payload differs");
    redis_push_free(&push);
    free(payload);
    pair_close(&p);
}
END_TEST

START_TEST(a_reply_that_is_not_a_push_is_an_error_and_the_connection_stays_usable)
{
    struct pubsub_pair p;
    pair_open(&p, "pubsub_pong");
    /* PING on a subscribed connection answers ["pong", ""]: not a message. */
    const char *ping[] = { "PING" };
    const size_t ping_len[] = { 4 };
    ck_assert_int_eq(redis_client_append(p.sub, 1, ping, ping_len), 0);
    struct redis_push push;
    char err[512] = "";
    ck_assert_int_eq(redis_client_read_push(p.sub, 10000, &push, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "\"pong\"") != NULL, "got: %s", err);
    ck_assert(!redis_client_is_broken(p.sub));

    ck_assert_int_eq(publish(p.pub, p.channel, p.channel_len, "still here", 10), 1);
    read_push_or_fail(p.sub, &push);
    ck_assert_str_eq(push.payload, "still here");
    redis_push_free(&push);

    const char *none[] = { NULL };
    const size_t none_len[] = { 0 };
    ck_assert_int_eq(redis_client_subscribe(p.sub, 0, none, none_len, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "at least one channel") != NULL, "got: %s", err);
    pair_close(&p);
}
END_TEST

START_TEST(a_killed_connection_ends_a_push_read_and_breaks_the_client)
{
    signal(SIGPIPE, SIG_IGN);
    struct pubsub_pair p;
    pair_open(&p, "pubsub_kill");

    /* CLIENT KILL ADDR finds the connection by the address we report. */
    char addr[64];
    ck_assert_int_eq(redis_client_local_address(p.sub, addr, sizeof addr), 0);
    ck_assert_msg(strncmp(addr, "127.0.0.1:", 10) == 0 || addr[0] == '[', "got: %s", addr);
    const char *argv[] = { "CLIENT", "KILL", "ADDR", addr };
    const size_t len[] = { 6, 4, 4, strlen(addr) };
    struct redis_result r = redis_client_command(p.pub, 4, argv, len);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER && r.integer == 1,
                  "CLIENT KILL ADDR %s: %s %lld", addr, redis_result_kind_name(r.kind), r.integer);

    struct redis_push push;
    char err[512] = "";
    ck_assert_int_eq(redis_client_read_push(p.sub, 10000, &push, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "connection lost") != NULL, "got: %s", err);
    ck_assert(redis_client_is_broken(p.sub));

    /* From now on both calls fail at once. */
    int64_t start = test_now_ms();
    ck_assert_int_eq(redis_client_read_push(p.sub, 10000, &push, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "is broken") != NULL, "got: %s", err);
    const char *channels[] = { p.channel };
    ck_assert_int_eq(redis_client_subscribe(p.sub, 1, channels, &p.channel_len, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "is broken") != NULL, "got: %s", err);
    ck_assert_int_lt(test_now_ms() - start, 1000);
    pair_close(&p);
}
END_TEST

/* ---- Replies that are arrays, as trees ------------------------------------- */

static struct redis_tree tree3(struct redis_client *c, const char *a, const char *b,
                               const void *arg, size_t arg_len)
{
    const char *argv[] = { a, b, arg };
    const size_t len[] = { strlen(a), strlen(b), arg_len };
    return redis_client_command_tree(c, 3, argv, len);
}

START_TEST(a_nested_array_reply_comes_back_as_a_tree)
{
    struct redis_client *c = connect_shared();
    /* A script returns exactly the shape we ask for: [7, ["a", "b\0c"], "last"]. */
    const char *script = "return {7, {'a', 'b\\0c'}, 'last'}";
    const char *argv[] = { "EVAL", script, "0" };
    const size_t len[] = { 4, strlen(script), 1 };
    struct redis_tree t = redis_client_command_tree(c, 3, argv, len);
    ck_assert_msg(t.is_array && t.count == 3, "expected an array of 3, got %s (%zu)",
                  t.is_array ? "an array" : redis_result_kind_name(t.value.kind), t.count);
    ck_assert(!t.elements[0].is_array);
    ck_assert_int_eq(t.elements[0].value.kind, REDIS_RESULT_INTEGER);
    ck_assert_int_eq(t.elements[0].value.integer, 7);
    const struct redis_tree *inner = &t.elements[1];
    ck_assert(inner->is_array && inner->count == 2);
    ck_assert_int_eq(inner->elements[0].value.kind, REDIS_RESULT_VALUE);
    ck_assert_str_eq(inner->elements[0].value.data, "a");
    /* Binary-safe: the NUL inside is kept, and counted. */
    ck_assert_uint_eq(inner->elements[1].value.len, 3);
    ck_assert(memcmp(inner->elements[1].value.data, "b\0c", 3) == 0);
    ck_assert_str_eq(t.elements[2].value.data, "last");
    redis_tree_free(&t);
    ck_assert(!t.is_array && t.count == 0 && t.elements == NULL);
    redis_tree_free(&t); /* twice is harmless */
    redis_client_free(c);
}
END_TEST

START_TEST(an_empty_array_a_single_value_and_an_error_are_trees_too)
{
    struct redis_client *c = connect_shared();
    char key[96];
    size_t key_len = key_for(key, sizeof key, "tree");
    forget(c, key, key_len);

    struct redis_tree t = tree3(c, "LRANGE", key, "0", 1);
    /* LRANGE key 0 needs a stop index: Redis says so with an error. */
    ck_assert_msg(!t.is_array && t.value.kind == REDIS_RESULT_ERROR,
                  "expected an ERROR for a wrong number of arguments, got %s",
                  t.is_array ? "an array" : redis_result_kind_name(t.value.kind));
    redis_tree_free(&t);

    const char *lrange[] = { "LRANGE", key, "0", "-1" };
    const size_t lrange_len[] = { 6, key_len, 1, 2 };
    t = redis_client_command_tree(c, 4, lrange, lrange_len);
    ck_assert_msg(t.is_array && t.count == 0 && t.elements == NULL,
                  "expected an empty array for a missing list");
    redis_tree_free(&t);

    t = tree3(c, "SET", key, "v", 1);
    ck_assert(!t.is_array && t.value.kind == REDIS_RESULT_OK);
    redis_tree_free(&t);
    const char *get[] = { "GET", key };
    const size_t get_len[] = { 3, key_len };
    t = redis_client_command_tree(c, 2, get, get_len);
    ck_assert(!t.is_array && t.value.kind == REDIS_RESULT_VALUE);
    ck_assert_str_eq(t.value.data, "v");
    redis_tree_free(&t);
    forget(c, key, key_len);
    redis_client_free(c);
}
END_TEST

START_TEST(a_tree_command_on_a_dead_server_is_an_io_error)
{
    signal(SIGPIPE, SIG_IGN);
    struct redis_harness h;
    char err[512];
    ck_assert_msg(redis_harness_start(&h, err, sizeof err) == 0, "%s", err);
    struct redis_client *c = connect_to(h.url, NULL);
    redis_harness_kill(&h);
    const char *argv[] = { "CLUSTER", "SLOTS" };
    const size_t len[] = { 7, 5 };
    struct redis_tree t = redis_client_command_tree(c, 2, argv, len);
    ck_assert(!t.is_array && t.value.kind == REDIS_RESULT_IO_ERROR);
    redis_tree_free(&t);
    ck_assert(redis_client_is_broken(c));
    redis_client_free(c);
    redis_harness_stop(&h);
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
    tcase_add_test(values, a_set_and_a_get_queued_by_name_are_answered_in_order);
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

    TCase *arrays = tcase_create("arrays");
    tcase_set_timeout(arrays, 30);
    tcase_add_test(arrays, a_nested_array_reply_comes_back_as_a_tree);
    tcase_add_test(arrays, an_empty_array_a_single_value_and_an_error_are_trees_too);
    tcase_add_test(arrays, a_tree_command_on_a_dead_server_is_an_io_error);
    suite_add_tcase(s, arrays);

    TCase *urls = tcase_create("urls");
    tcase_add_test(urls, url_parsing_accepts_the_documented_forms);
    tcase_add_test(urls, url_parsing_rejects_bad_urls_naming_the_problem);
    tcase_add_test(urls, url_from_env_prefers_redis_url_and_falls_back_to_the_default);
    tcase_add_test(urls, hiding_the_password_leaves_the_rest_of_any_url);
    suite_add_tcase(s, urls);

    TCase *connect = tcase_create("connect");
    tcase_set_timeout(connect, 30);
    tcase_add_test(connect, connecting_to_a_closed_port_fails_with_refused_and_a_hint);
    tcase_add_test(connect, connecting_to_a_bad_url_fails_with_a_clear_message);
    tcase_add_test(connect, the_database_in_the_url_is_selected);
    tcase_add_test(connect, a_database_out_of_range_fails_at_connect);
    tcase_add_test(connect, a_wrong_password_fails_at_connect);
    tcase_add_test(connect, a_password_in_the_url_is_sent_with_auth_and_one_missing_fails_at_connect);
    tcase_add_test(connect, a_failed_connect_says_which_kind_of_failure_it_was);
    tcase_add_test(connect, a_percent_escape_in_the_password_is_decoded_before_auth);
    tcase_add_test(connect, a_name_in_the_options_names_the_connection);
    tcase_add_test(connect, what_a_peer_that_is_not_redis_said_is_quoted_in_the_connect_error);
    tcase_add_test(connect, an_ipv6_address_in_brackets_reaches_a_server_there);
    tcase_add_test(connect, the_tests_run_on_the_hiredis_the_build_chose);
    suite_add_tcase(s, connect);

    TCase *faults = tcase_create("faults");
    tcase_set_timeout(faults, 30);
    tcase_add_test(faults, a_killed_server_breaks_the_client_for_good);
    tcase_add_test(faults, a_reply_slower_than_the_command_timeout_is_an_io_error);
    tcase_add_test(faults, a_paused_server_holds_the_commands_of_every_other_connection);
    tcase_add_test(faults, pausing_a_server_that_is_not_there_fails_with_the_connect_message);
    tcase_add_test(faults, a_server_that_stopped_answering_fails_the_connect_within_the_connect_timeout);
    suite_add_tcase(s, faults);

    TCase *pubsub = tcase_create("pubsub");
    tcase_set_timeout(pubsub, 30);
    tcase_add_test(pubsub, subscribe_confirms_each_channel_then_messages_arrive_byte_exact);
    tcase_add_test(pubsub, a_push_read_gives_up_after_its_timeout_and_the_connection_stays_usable);
    tcase_add_test(pubsub, a_large_message_read_in_pieces_between_timeouts_arrives_whole);
    tcase_add_test(pubsub, a_reply_that_is_not_a_push_is_an_error_and_the_connection_stays_usable);
    tcase_add_test(pubsub, a_killed_connection_ends_a_push_read_and_breaks_the_client);
    suite_add_tcase(s, pubsub);
    return s;
}
