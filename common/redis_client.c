/*
 * redis_client.c - see redis_client.h.
 *
 * Every call goes through the same three steps:
 *   1. refuse at once if an earlier I/O error broke the connection;
 *   2. send the command as an argument vector with explicit lengths;
 *   3. turn hiredis's reply - or the lack of one - into a
 *      `struct redis_result` that owns a copy of the bytes, so the
 *      hiredis reply can be freed straight away.
 *
 * Why "broken" is final: after a lost connection or a timed-out reply we no
 * longer know where the byte stream stands.  A late reply to command N would
 * be read as the reply to command N+1, so the only safe move is to stop using
 * the connection and open a new one.
 */
#include "redis_client.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 2000u
#define DEFAULT_COMMAND_TIMEOUT_MS 10000u
#define URL_FORM "redis://[:password@]host[:port][/db], e.g. redis://127.0.0.1:6379"

struct redis_client {
    redisContext *ctx;
    char *url;                   /* as given but with the password hidden, for messages */
    unsigned command_timeout_ms;
    char broken[256];            /* why the connection is unusable; "" while it is fine */
};

/* ---- Results ------------------------------------------------------------ */

/* When not even a copy of a reply can be allocated, the result points at this
 * static text instead, and redis_result_free knows not to free it. */
static char out_of_memory_text[] = "out of memory while copying a Redis reply";

/* A result owning a NUL-terminated copy of bytes[0..len). */
static struct redis_result make_result(enum redis_result_kind kind,
                                       const void *bytes, size_t len)
{
    struct redis_result r = { .kind = kind };
    r.data = malloc(len + 1);
    if (r.data == NULL) {
        r.kind = REDIS_RESULT_IO_ERROR;
        r.data = out_of_memory_text;
        r.len = strlen(out_of_memory_text);
        return r;
    }
    if (len > 0)
        memcpy(r.data, bytes, len);
    r.data[len] = '\0';
    r.len = len;
    return r;
}

static struct redis_result make_message(enum redis_result_kind kind, const char *text)
{
    return make_result(kind, text, strlen(text));
}

void redis_result_free(struct redis_result *result)
{
    if (result == NULL)
        return;
    if (result->data != out_of_memory_text)
        free(result->data);
    *result = (struct redis_result){ .kind = REDIS_RESULT_NIL };
}

struct redis_result redis_result_error(enum redis_result_kind kind, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(text, sizeof text, "(unprintable error message)");
    return make_message(kind, text);
}

const char *redis_quote_bytes(const void *bytes, size_t len, char *out, size_t size)
{
    const unsigned char *b = bytes;
    /* Room for the longest piece (\xNN), the closing quote and the NUL. */
    const size_t piece = 4 + 1 + 1;
    size_t used = 0, i = 0;
    if (size < piece + 1) {
        if (size > 0)
            out[0] = '\0';
        return out;
    }
    out[used++] = '"';
    for (; i < len && i < REDIS_QUOTE_SHOWN && used + piece <= size; i++) {
        if (b[i] == '"' || b[i] == '\\')
            used += (size_t)snprintf(out + used, size - used, "\\%c", b[i]);
        else if (b[i] >= 0x20 && b[i] < 0x7f)
            out[used++] = (char)b[i];
        else
            used += (size_t)snprintf(out + used, size - used, "\\x%02x", b[i]);
    }
    out[used++] = '"';
    out[used] = '\0';
    if (i < len)
        snprintf(out + used, size - used, "...(%zu bytes)", len);
    return out;
}

bool redis_result_is_error(const struct redis_result *result)
{
    return result->kind == REDIS_RESULT_ERROR || result->kind == REDIS_RESULT_IO_ERROR;
}

const char *redis_result_kind_name(enum redis_result_kind kind)
{
    switch (kind) {
    case REDIS_RESULT_OK:       return "ok";
    case REDIS_RESULT_VALUE:    return "value";
    case REDIS_RESULT_INTEGER:  return "integer";
    case REDIS_RESULT_NIL:      return "nil";
    case REDIS_RESULT_ERROR:    return "error";
    case REDIS_RESULT_IO_ERROR: return "i/o error";
    }
    return "unknown result kind";
}

/* ---- URLs --------------------------------------------------------------- */

/* Copies `url` to out[outlen] with the password (everything between "://"
 * and the last '@') replaced by "***": messages end up in logs and CI
 * output, passwords must not.  Needs at most strlen(url) + 4 bytes. */
static void hide_password(const char *url, char *out, size_t outlen)
{
    const char *start = strstr(url, "://");
    const char *at = strrchr(url, '@');
    if (start == NULL || at == NULL || at < start) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    start += 3;
    if (*start == ':') /* keep the ':' of ":password" */
        start++;
    snprintf(out, outlen, "%.*s***%s", (int)(start - url), url, at);
}

static int url_error(char *err, size_t errlen, const char *url, const char *problem)
{
    char shown[256];
    hide_password(url, shown, sizeof shown);
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "bad Redis URL \"%s\": %s; expected " URL_FORM,
                 shown, problem);
    return -1;
}

/* Reads the decimal digits at *p into *out and moves *p past them.  Returns
 * -1 if there is no digit or the number is larger than `max`. */
static int parse_number(const char **p, long max, int *out)
{
    const char *s = *p;
    long value = 0;
    bool too_big = false;
    while (*s >= '0' && *s <= '9') {
        value = value * 10 + (*s - '0');
        if (value > max) {
            too_big = true;
            value = max; /* keep reading the digits, but never overflow */
        }
        s++;
    }
    if (s == *p || too_big)
        return -1;
    *p = s;
    *out = (int)value;
    return 0;
}

int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen)
{
    static const char scheme[] = "redis://";
    struct redis_url u = { .port = 6379 };
    char problem[160];

    if (url == NULL)
        return url_error(err, errlen, "(null)", "no URL given");
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return url_error(err, errlen, url,
                         "it must start with \"redis://\" (rediss:// and unix sockets are not supported)");
    const char *p = url + sizeof scheme - 1;

    /* [:password@] - the LAST '@' ends it, so a password may contain '@'.
     * The password is taken literally: no %-decoding. */
    const char *at = strrchr(p, '@');
    if (at != NULL) {
        if (*p != ':')
            return url_error(err, errlen, url,
                             "only a password may come before '@' (write redis://:password@host)");
        size_t n = (size_t)(at - (p + 1));
        if (n >= sizeof u.password)
            return url_error(err, errlen, url, "the password is longer than 255 bytes");
        memcpy(u.password, p + 1, n);
        u.password[n] = '\0';
        p = at + 1;
    }

    /* host: everything up to ':' (port) or '/' (database). */
    size_t host_len = strcspn(p, ":/");
    if (host_len == 0)
        return url_error(err, errlen, url, "there is no host");
    if (host_len >= sizeof u.host)
        return url_error(err, errlen, url, "the host name is longer than 255 bytes");
    memcpy(u.host, p, host_len);
    u.host[host_len] = '\0';
    p += host_len;

    if (*p == ':') {
        p++;
        if (parse_number(&p, 65535, &u.port) != 0 || u.port == 0) {
            snprintf(problem, sizeof problem,
                     "the port must be a number from 1 to 65535 (got \"%.*s\")",
                     (int)strcspn(p, "/"), p);
            return url_error(err, errlen, url, problem);
        }
    }
    if (*p == '/') {
        p++;
        if (*p != '\0' && parse_number(&p, INT_MAX, &u.db) != 0) {
            snprintf(problem, sizeof problem,
                     "the database must be a number like /0 (got \"%.40s\")", p);
            return url_error(err, errlen, url, problem);
        }
    }
    if (*p != '\0') {
        snprintf(problem, sizeof problem,
                 "unexpected \"%.40s\" after the host, port or database", p);
        return url_error(err, errlen, url, problem);
    }
    *out = u;
    return 0;
}

const char *redis_url_from_env(void)
{
    const char *url = getenv("REDIS_URL");
    return url != NULL && url[0] != '\0' ? url : REDIS_DEFAULT_URL;
}

/* ---- Turning replies into results ---------------------------------------- */

static void mark_broken(struct redis_client *client, const char *why)
{
    snprintf(client->broken, sizeof client->broken, "%s", why);
}

static struct redis_result refuse_broken(const struct redis_client *client)
{
    char msg[512];
    snprintf(msg, sizeof msg, "connection to %s is broken (earlier error: %s); reconnect",
             client->url, client->broken);
    return make_message(REDIS_RESULT_IO_ERROR, msg);
}

/* A blocking hiredis call returned no reply.  With a command timeout set
 * (redisSetTimeout, i.e. SO_RCVTIMEO), a reply that does not come in time
 * makes read(2) fail with EAGAIN, which hiredis reports as an I/O error. */
static struct redis_result connection_failed(struct redis_client *client, int saved_errno)
{
    bool timed_out = saved_errno == EAGAIN || saved_errno == EWOULDBLOCK;
#ifdef REDIS_ERR_TIMEOUT /* hiredis 1.x only */
    timed_out = timed_out || client->ctx->err == REDIS_ERR_TIMEOUT;
#endif
    char msg[512];
    if (timed_out) {
        snprintf(client->broken, sizeof client->broken,
                 "no reply within %u ms (the command timeout)", client->command_timeout_ms);
        snprintf(msg, sizeof msg, "timed out: %s from %s", client->broken, client->url);
    } else {
        const char *why = client->ctx->errstr[0] != '\0' ? client->ctx->errstr : "unknown error";
        mark_broken(client, why);
        snprintf(msg, sizeof msg, "connection lost: %s (talking to %s)", why, client->url);
    }
    return make_message(REDIS_RESULT_IO_ERROR, msg);
}

/* Consumes `reply` (which may be NULL: see connection_failed). */
static struct redis_result reply_to_result(struct redis_client *client,
                                           redisReply *reply, int saved_errno)
{
    if (reply == NULL)
        return connection_failed(client, saved_errno);

    struct redis_result r;
    char msg[128];
    switch (reply->type) {
    case REDIS_REPLY_STATUS:
        r = make_result(REDIS_RESULT_OK, reply->str, reply->len);
        break;
    case REDIS_REPLY_STRING:
        r = make_result(REDIS_RESULT_VALUE, reply->str, reply->len);
        break;
    case REDIS_REPLY_ERROR:
        r = make_result(REDIS_RESULT_ERROR, reply->str, reply->len);
        break;
    case REDIS_REPLY_INTEGER:
        r = (struct redis_result){ .kind = REDIS_RESULT_INTEGER, .integer = reply->integer };
        break;
    case REDIS_REPLY_NIL:
        r = (struct redis_result){ .kind = REDIS_RESULT_NIL };
        break;
    case REDIS_REPLY_ARRAY:
        snprintf(msg, sizeof msg,
                 "unexpected array reply (%zu elements): this client returns single values only",
                 reply->elements);
        r = make_message(REDIS_RESULT_ERROR, msg);
        break;
    default:
        snprintf(msg, sizeof msg, "unexpected reply type %d", reply->type);
        r = make_message(REDIS_RESULT_ERROR, msg);
        break;
    }
    freeReplyObject(reply);
    /* Only an allocation failure gets here with IO_ERROR.  The reply is lost,
     * so the caller cannot know what happened: treat it as a broken link. */
    if (r.kind == REDIS_RESULT_IO_ERROR)
        mark_broken(client, r.data);
    return r;
}

/* ---- Connecting ---------------------------------------------------------- */

static struct timeval timeval_from_ms(unsigned ms)
{
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    return tv;
}

/* Runs AUTH or SELECT while connecting; on anything but OK writes
 * "cannot connect to URL: WHAT failed: REASON. HINT" to err. */
static bool setup_command(struct redis_client *client, int argc, const char *const *argv,
                          const size_t *argv_len, const char *what, const char *hint,
                          char *err, size_t errlen)
{
    struct redis_result r = redis_client_command(client, argc, argv, argv_len);
    bool ok = r.kind == REDIS_RESULT_OK;
    if (!ok && r.kind == REDIS_RESULT_ERROR && strncmp(r.data, "NOAUTH", 6) == 0)
        hint = "The server wants a password: put it in the URL, "
               "redis://:PASSWORD@host:port.";
    /* The server's words are quoted: they may hold any byte. */
    char quoted[REDIS_QUOTE_BUFSIZE];
    if (!ok)
        snprintf(err, errlen, "cannot connect to %s: %s failed: %s. %s", client->url, what,
                 r.data != NULL ? redis_quote_bytes(r.data, r.len, quoted, sizeof quoted)
                                : redis_result_kind_name(r.kind),
                 hint);
    redis_result_free(&r);
    return ok;
}

static bool authenticate_and_select(struct redis_client *client, const struct redis_url *u,
                                    char *err, size_t errlen)
{
    if (u->password[0] != '\0') {
        const char *argv[] = { "AUTH", u->password };
        const size_t len[] = { 4, strlen(u->password) };
        if (!setup_command(client, 2, argv, len, "AUTH",
                           "Check the password in the URL.", err, errlen))
            return false;
    } else {
        /* No password: make sure the server does not want one, so that a
         * missing password fails here, as "could not connect", rather than
         * every command later with NOAUTH.  PING answers PONG, a status. */
        const char *argv[] = { "PING" };
        const size_t len[] = { 4 };
        if (!setup_command(client, 1, argv, len, "PING",
                           "Check that a Redis server listens at this address.", err, errlen))
            return false;
    }
    if (u->db != 0) {
        char db[16];
        int n = snprintf(db, sizeof db, "%d", u->db);
        const char *argv[] = { "SELECT", db };
        const size_t len[] = { 6, (size_t)n };
        if (!setup_command(client, 2, argv, len, "SELECT",
                           "Check the database number at the end of the URL.", err, errlen))
            return false;
    }
    return true;
}

struct redis_client *redis_client_connect(const char *url,
                                          const struct redis_client_options *options,
                                          char *err, size_t errlen)
{
    char scratch[8];
    if (err == NULL || errlen == 0) { /* callers may pass no buffer */
        err = scratch;
        errlen = sizeof scratch;
    }
    if (url == NULL)
        url = redis_url_from_env();
    struct redis_url u;
    if (redis_url_parse(url, &u, err, errlen) != 0)
        return NULL;

    unsigned connect_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    unsigned command_ms = DEFAULT_COMMAND_TIMEOUT_MS;
    if (options != NULL && options->connect_timeout_ms != 0)
        connect_ms = options->connect_timeout_ms;
    if (options != NULL && options->command_timeout_ms != 0)
        command_ms = options->command_timeout_ms;

    struct redis_client *client = calloc(1, sizeof *client);
    size_t url_size = strlen(url) + 4;
    if (client == NULL || (client->url = malloc(url_size)) == NULL) {
        snprintf(err, errlen, "cannot connect to Redis: out of memory");
        free(client);
        return NULL;
    }
    hide_password(url, client->url, url_size);
    client->command_timeout_ms = command_ms;
    url = client->url; /* from here on, for messages only */

    client->ctx = redisConnectWithTimeout(u.host, u.port, timeval_from_ms(connect_ms));
    if (client->ctx == NULL) {
        snprintf(err, errlen, "cannot connect to %s: out of memory", url);
        goto fail;
    }
    if (client->ctx->err != 0) {
        /* "Connection refused" means nothing listens there: the usual
         * cause is that no Redis server was started. */
        if (strstr(client->ctx->errstr, "refused") != NULL)
            snprintf(err, errlen,
                     "cannot connect to %s: %s. Is redis-server running? Start one with "
                     "'redis-server --port %d', or set REDIS_URL.",
                     url, client->ctx->errstr, u.port);
        else
            snprintf(err, errlen,
                     "cannot connect to %s: %s (connect timeout %u ms). Check the host and "
                     "port, and that Redis listens there, or set REDIS_URL.",
                     url, client->ctx->errstr, connect_ms);
        goto fail;
    }
    /* From here on every blocking read and write gives up after command_ms. */
    if (redisSetTimeout(client->ctx, timeval_from_ms(command_ms)) != REDIS_OK) {
        snprintf(err, errlen, "cannot connect to %s: cannot set the command timeout: %s",
                 url, client->ctx->errstr);
        goto fail;
    }
    if (!authenticate_and_select(client, &u, err, errlen))
        goto fail;
    return client;

fail:
    redis_client_free(client);
    return NULL;
}

void redis_client_free(struct redis_client *client)
{
    if (client == NULL)
        return;
    if (client->ctx != NULL)
        redisFree(client->ctx);
    free(client->url);
    free(client);
}

const char *redis_client_url(const struct redis_client *client)
{
    return client->url;
}

bool redis_client_is_broken(const struct redis_client *client)
{
    return client->broken[0] != '\0';
}

/* ---- Commands ------------------------------------------------------------ */

struct redis_result redis_client_command(struct redis_client *client, int argc,
                                         const char *const *argv,
                                         const size_t *argv_len)
{
    if (redis_client_is_broken(client))
        return refuse_broken(client);
    if (argc < 1)
        return make_message(REDIS_RESULT_ERROR, "no command given (argc < 1)");
    /* hiredis declares argv as `const char **` but does not change it. */
    errno = 0;
    redisReply *reply = redisCommandArgv(client->ctx, argc, (const char **)argv, argv_len);
    int saved_errno = errno;
    return reply_to_result(client, reply, saved_errno);
}

struct redis_result redis_client_get(struct redis_client *client,
                                     const void *key, size_t key_len)
{
    const char *argv[] = { "GET", key };
    const size_t len[] = { 3, key_len };
    return redis_client_command(client, 2, argv, len);
}

struct redis_result redis_client_set(struct redis_client *client,
                                     const void *key, size_t key_len,
                                     const void *value, size_t value_len)
{
    const char *argv[] = { "SET", key, value };
    const size_t len[] = { 3, key_len, value_len };
    return redis_client_command(client, 3, argv, len);
}

int redis_client_append(struct redis_client *client, int argc,
                        const char *const *argv, const size_t *argv_len)
{
    if (redis_client_is_broken(client) || argc < 1)
        return -1;
    /* Only buffers the command in memory: nothing is sent yet. */
    if (redisAppendCommandArgv(client->ctx, argc, (const char **)argv, argv_len) != REDIS_OK) {
        mark_broken(client, "out of memory while queuing a command");
        return -1;
    }
    return 0;
}

struct redis_result redis_client_read_reply(struct redis_client *client)
{
    if (redis_client_is_broken(client))
        return refuse_broken(client);
    void *reply = NULL;
    errno = 0;
    if (redisGetReply(client->ctx, &reply) != REDIS_OK)
        reply = NULL;
    int saved_errno = errno;
    return reply_to_result(client, reply, saved_errno);
}
