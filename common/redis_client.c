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

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 2000u
#define DEFAULT_COMMAND_TIMEOUT_MS 10000u
#define URL_FORM "redis://[:password@]host[:port][/db], e.g. redis://127.0.0.1:6379"

struct redis_client {
    redisContext *ctx;
    char *url;                   /* as given but with the password hidden, for messages */
    unsigned command_timeout_ms;
    unsigned connect_timeout_ms;
    bool connecting;             /* the set-up commands run, under the connect timeout */
    bool timed_out;              /* the connection broke because a reply did not come */
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

const char *redis_url_hide_password(const char *url, char *out, size_t size)
{
    if (size == 0)
        return out;
    /* The password is what comes before the last '@', after the scheme.
     * Without a "://" in front of it (a URL that does not parse) everything
     * before the '@' is hidden: it may still hold the password. */
    const char *at = strrchr(url, '@');
    const char *start = strstr(url, "://");
    if (at == NULL) {
        snprintf(out, size, "%s", url);
        return out;
    }
    start = start != NULL && start < at ? start + 3 : url;
    if (*start == ':') /* keep the ':' of ":password" */
        start++;
    snprintf(out, size, "%.*s***%s", (int)(start - url), url, at);
    return out;
}

static int url_error(char *err, size_t errlen, const char *url, const char *problem)
{
    char shown[256];
    redis_url_hide_password(url, shown, sizeof shown);
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

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the password text in[0..n) into out[size], turning each %XX into
 * the byte XX, as URLs do.  Returns NULL, or the problem. */
static const char *decode_password(const char *in, size_t n, char *out, size_t size)
{
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            int hi = i + 1 < n ? hex_digit(in[i + 1]) : -1;
            int lo = i + 2 < n ? hex_digit(in[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return "a '%' in the password must start an escape like %40 (write '%' itself as %25)";
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return "the password may not contain %00";
            i += 2;
        }
        if (used + 1 >= size)
            return "the password is longer than 255 bytes";
        out[used++] = c;
    }
    out[used] = '\0';
    return NULL;
}

/* The host part at *p: a name or IPv4 address up to ':' or '/', or an IPv6
 * address in brackets.  Copies it (without brackets) to out[size] and moves
 * *p past it.  Returns NULL, or the problem. */
static const char *parse_host(const char **p, char *out, size_t size)
{
    const char *s = *p;
    size_t n;
    if (*s == '[') {
        s++;
        n = strspn(s, "0123456789abcdefABCDEF:.");
        if (s[n] != ']')
            return "an IPv6 address in brackets may hold only hex digits, ':' and '.', "
                   "and needs its closing ']' (e.g. redis://[::1]:6379)";
        if (n == 0)
            return "there is no host between the brackets";
        *p = s + n + 1;
    } else {
        n = strcspn(s, ":/");
        if (n == 0)
            return s[0] == ':' && strchr(s + 1, ':') != NULL
                       ? "there is no host (an IPv6 address goes in brackets: redis://[::1]:6379)"
                       : "there is no host";
        *p = s + n;
    }
    if (n >= size)
        return "the host name is longer than 255 bytes";
    memcpy(out, s, n);
    out[n] = '\0';
    return NULL;
}

int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen)
{
    static const char scheme[] = "redis://";
    struct redis_url u = { .port = 6379 };
    char problem[160];
    const char *why;

    if (url == NULL)
        return url_error(err, errlen, "(null)", "no URL given");
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return url_error(err, errlen, url,
                         "it must start with \"redis://\" (rediss:// and unix sockets are not supported)");
    const char *p = url + sizeof scheme - 1;

    /* [:password@] - the LAST '@' ends it, so a password may contain '@'. */
    const char *at = strrchr(p, '@');
    if (at != NULL) {
        if (*p != ':')
            return url_error(err, errlen, url,
                             "only a password may come before '@' (write redis://:password@host)");
        if ((why = decode_password(p + 1, (size_t)(at - (p + 1)), u.password,
                                   sizeof u.password)) != NULL)
            return url_error(err, errlen, url, why);
        p = at + 1;
    }

    if ((why = parse_host(&p, u.host, sizeof u.host)) != NULL)
        return url_error(err, errlen, url, why);

    if (*p == ':') {
        const char *port_text = ++p;
        if (parse_number(&p, 65535, &u.port) != 0 || u.port == 0) {
            snprintf(problem, sizeof problem,
                     "the port must be a number from 1 to 65535 (got \"%.*s\")",
                     (int)strcspn(port_text, "/"), port_text);
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
        client->timed_out = true;
        if (client->connecting)
            snprintf(client->broken, sizeof client->broken,
                     "no reply within %u ms (the connect timeout)", client->connect_timeout_ms);
        else
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

/* A result owning a copy of one reply that is not an array (an array is
 * reported as an error: redis_client_command_tree keeps arrays).  Leaves
 * `reply` alone.  Public for chapter 11's asynchronous replies
 * (redis_client.h). */
struct redis_result redis_result_from_reply(const struct redisReply *reply)
{
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
    return r;
}

/* Consumes `reply` (which may be NULL: see connection_failed). */
static struct redis_result reply_to_result(struct redis_client *client,
                                           redisReply *reply, int saved_errno)
{
    if (reply == NULL)
        return connection_failed(client, saved_errno);
    struct redis_result r = redis_result_from_reply(reply);
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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs one set-up command (AUTH, SELECT, CLIENT SETNAME) while connecting.
 * On anything but OK, writes "cannot connect to URL: ..." to err, says in
 * *why which kind of failure it was, and returns false. */
static bool setup_command(struct redis_client *client, int argc, const char *const *argv,
                          const size_t *argv_len, const char *what, const char *hint,
                          enum redis_connect_error *why, char *err, size_t errlen)
{
    struct redis_result r = redis_client_command(client, argc, argv, argv_len);
    bool ok = r.kind == REDIS_RESULT_OK;
    if (r.kind == REDIS_RESULT_ERROR) {
        /* The server's own text, quoted: it may hold any byte. */
        char said[REDIS_QUOTE_BUFSIZE];
        *why = REDIS_CONNECT_SERVER_ERROR;
        if (strncmp(r.data, "NOAUTH", 6) == 0) /* whatever the command, this is the cause */
            hint = "The server wants a password: put it in the URL, as "
                   "redis://:PASSWORD@host:port.";
        snprintf(err, errlen, "cannot connect to %s: %s failed: %s. %s", client->url, what,
                 redis_quote_bytes(r.data, r.len, said, sizeof said), hint);
    } else if (r.kind == REDIS_RESULT_IO_ERROR && client->timed_out) {
        *why = REDIS_CONNECT_TIMED_OUT;
        snprintf(err, errlen, "cannot connect to %s: no reply to %s within the connect timeout "
                 "(%u ms); the server accepted the connection but does not answer (is it "
                 "stopped, or busy?)", client->url, what, client->connect_timeout_ms);
    } else if (!ok) {
        /* Something answered, but not as Redis would: whatever it sent is
         * quoted too, so a peer that is not Redis cannot write escape
         * sequences to the user's terminal. */
        char said[REDIS_QUOTE_BUFSIZE];
        *why = REDIS_CONNECT_OTHER;
        snprintf(err, errlen, "cannot connect to %s: %s failed: %s. Is it a Redis server "
                 "that listens there?", client->url, what,
                 r.data != NULL ? redis_quote_bytes(r.data, r.len, said, sizeof said)
                                : redis_result_kind_name(r.kind));
    }
    redis_result_free(&r);
    return ok;
}

static bool set_up(struct redis_client *client, const struct redis_url *u, const char *name,
                   enum redis_connect_error *why, char *err, size_t errlen)
{
    if (u->password[0] != '\0') {
        const char *argv[] = { "AUTH", u->password };
        const size_t len[] = { 4, strlen(u->password) };
        if (!setup_command(client, 2, argv, len, "AUTH", "Check the password in the URL.",
                           why, err, errlen))
            return false;
    } else {
        /* No password: make sure the server does not want one, so that a
         * missing password fails here, as "could not connect", rather than
         * every command later with NOAUTH.  PING answers PONG, a status. */
        const char *argv[] = { "PING" };
        const size_t len[] = { 4 };
        if (!setup_command(client, 1, argv, len, "PING",
                           "Check that a Redis server listens at this address.", why, err,
                           errlen))
            return false;
    }
    if (u->db != 0) {
        char db[16];
        int n = snprintf(db, sizeof db, "%d", u->db);
        const char *argv[] = { "SELECT", db };
        const size_t len[] = { 6, (size_t)n };
        if (!setup_command(client, 2, argv, len, "SELECT",
                           "Check the database number at the end of the URL.", why, err, errlen))
            return false;
    }
    if (name != NULL && name[0] != '\0') {
        const char *argv[] = { "CLIENT", "SETNAME", name };
        const size_t len[] = { 6, 7, strlen(name) };
        if (!setup_command(client, 3, argv, len, "CLIENT SETNAME",
                           "A name may not contain spaces or newlines.", why, err, errlen))
            return false;
    }
    return true;
}

/* Sets the timeout of every later blocking read and write; false (with a
 * message) if hiredis cannot. */
static bool set_timeout(struct redis_client *client, unsigned ms, char *err, size_t errlen)
{
    if (redisSetTimeout(client->ctx, timeval_from_ms(ms)) == REDIS_OK)
        return true;
    snprintf(err, errlen, "cannot connect to %s: cannot set a timeout: %s", client->url,
             client->ctx->errstr);
    return false;
}

/* Why hiredis's TCP connect failed, from its message: its error codes do
 * not tell a refused connection from an unknown host, and only 1.x has a
 * code for a timeout. */
static enum redis_connect_error tcp_connect_error(const redisContext *ctx)
{
    if (strstr(ctx->errstr, "refused") != NULL)
        return REDIS_CONNECT_NOTHING_LISTENS;
#ifdef REDIS_ERR_TIMEOUT /* hiredis 1.x only */
    if (ctx->err == REDIS_ERR_TIMEOUT)
        return REDIS_CONNECT_TIMED_OUT;
#endif
    if (strstr(ctx->errstr, "timed out") != NULL)
        return REDIS_CONNECT_TIMED_OUT;
    return REDIS_CONNECT_OTHER;
}

struct redis_client *redis_client_connect_why(const char *url,
                                              const struct redis_client_options *options,
                                              enum redis_connect_error *why,
                                              char *err, size_t errlen)
{
    char scratch[8];
    enum redis_connect_error ignored;
    if (err == NULL || errlen == 0) { /* callers may pass no buffer */
        err = scratch;
        errlen = sizeof scratch;
    }
    if (why == NULL)
        why = &ignored;
    *why = REDIS_CONNECT_BAD_URL;
    if (url == NULL)
        url = redis_url_from_env();
    struct redis_url u;
    if (redis_url_parse(url, &u, err, errlen) != 0)
        return NULL;

    *why = REDIS_CONNECT_OTHER;
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
    redis_url_hide_password(url, client->url, url_size);
    client->command_timeout_ms = command_ms;
    client->connect_timeout_ms = connect_ms;
    url = client->url; /* from here on, for messages only */

    int64_t started = now_ms();
    client->ctx = redisConnectWithTimeout(u.host, u.port, timeval_from_ms(connect_ms));
    if (client->ctx == NULL) {
        snprintf(err, errlen, "cannot connect to %s: out of memory", url);
        goto fail;
    }
    if (client->ctx->err != 0) {
        *why = tcp_connect_error(client->ctx);
        /* "Connection refused" means nothing listens there: the usual
         * cause is that no Redis server was started. */
        if (*why == REDIS_CONNECT_NOTHING_LISTENS)
            snprintf(err, errlen,
                     "cannot connect to %s: %s. Is redis-server running? Start one with "
                     "'redis-server --port %d', or set REDIS_URL.",
                     url, client->ctx->errstr, u.port);
        else if (*why == REDIS_CONNECT_TIMED_OUT)
            snprintf(err, errlen,
                     "cannot connect to %s: %s (connect timeout %u ms). Check the host and "
                     "port, and that Redis listens there, or set REDIS_URL.",
                     url, client->ctx->errstr, connect_ms);
        else
            snprintf(err, errlen, "cannot connect to %s: %s. Check the host and port, or "
                     "set REDIS_URL.", url, client->ctx->errstr);
        goto fail;
    }
    /* A TCP connect succeeds even to a server that is stopped or hung: the
     * kernel completes it from the listen backlog.  So the set-up commands
     * get what is left of the connect timeout, not the command timeout, and
     * such a server fails the connect in connect_ms, not command_ms. */
    int64_t left = (int64_t)connect_ms - (now_ms() - started);
    client->connecting = true;
    if (!set_timeout(client, left > 0 ? (unsigned)left : 1u, err, errlen) ||
        !set_up(client, &u, options != NULL ? options->name : NULL, why, err, errlen))
        goto fail;
    client->connecting = false;
    /* From here on every blocking read and write gives up after command_ms. */
    if (!set_timeout(client, command_ms, err, errlen))
        goto fail;
    *why = REDIS_CONNECT_OK;
    return client;

fail:
    redis_client_free(client);
    return NULL;
}

struct redis_client *redis_client_connect(const char *url,
                                          const struct redis_client_options *options,
                                          char *err, size_t errlen)
{
    return redis_client_connect_why(url, options, NULL, err, errlen);
}

const char *redis_client_hiredis_version(void)
{
#define VERSION_TEXT_(major, minor, patch) #major "." #minor "." #patch
#define VERSION_TEXT(major, minor, patch) VERSION_TEXT_(major, minor, patch)
    return VERSION_TEXT(HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
#undef VERSION_TEXT
#undef VERSION_TEXT_
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

int redis_pause_server(const char *url, unsigned ms, char *err, size_t errlen)
{
    /* A connection of its own: the caller's connections are the ones that
     * should find their commands held. */
    struct redis_client *c = redis_client_connect(url, NULL, err, errlen);
    if (c == NULL)
        return -1;
    char ms_text[16];
    int n = snprintf(ms_text, sizeof ms_text, "%u", ms);
    const char *argv[] = { "CLIENT", "PAUSE", ms_text };
    const size_t len[] = { 6, 5, (size_t)n };
    struct redis_result r = redis_client_command(c, 3, argv, len);
    int rc = r.kind == REDIS_RESULT_OK ? 0 : -1;
    if (rc != 0 && err != NULL) {
        /* An error reply is a refusal; an i/o error (a timeout, a lost
         * connection) means the server did not answer at all. */
        char quoted[REDIS_QUOTE_BUFSIZE] = "";
        if (r.data != NULL)
            redis_quote_bytes(r.data, r.len, quoted, sizeof quoted);
        snprintf(err, errlen, "Redis at %s %s CLIENT PAUSE %s: %s %s", redis_client_url(c),
                 r.kind == REDIS_RESULT_IO_ERROR ? "did not answer" : "refused", ms_text,
                 redis_result_kind_name(r.kind), quoted);
    }
    redis_result_free(&r);
    redis_client_free(c);
    return rc;
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

int redis_client_append_set(struct redis_client *client, const void *key, size_t key_len,
                            const void *value, size_t value_len)
{
    const char *argv[] = { "SET", key, value };
    const size_t len[] = { 3, key_len, value_len };
    return redis_client_append(client, 3, argv, len);
}

int redis_client_append_get(struct redis_client *client, const void *key, size_t key_len)
{
    const char *argv[] = { "GET", key };
    const size_t len[] = { 3, key_len };
    return redis_client_append(client, 2, argv, len);
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

/* ---- Pub/Sub ---------------------------------------------------------------
 *
 * The read path in three steps, repeated until a whole reply is there:
 *   1. a reply already complete in hiredis's buffer is taken from it at
 *      once (one read(2) often brings several messages);
 *   2. otherwise poll(2) waits, at most until the deadline, for bytes;
 *   3. the bytes that arrived are fed to hiredis's parser (redisBufferRead,
 *      which reads once and cannot block: poll said they are there).
 * Nothing here waits inside hiredis, so running out of time never leaves the
 * connection half-read in a way we cannot resume.
 */

void redis_push_free(struct redis_push *push)
{
    if (push == NULL)
        return;
    free(push->channel); /* the payload lives in the same block */
    *push = (struct redis_push){ .kind = REDIS_PUSH_MESSAGE };
}

static int push_error(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Writes the message to err (when there is one) and returns -1. */
static int push_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int push_refuse_broken(const struct redis_client *client, char *err, size_t errlen)
{
    return push_error(err, errlen, "connection to %s is broken (earlier error: %s); reconnect",
                      client->url, client->broken);
}

/* hiredis failed to read or write the socket: the connection is gone. */
static int push_connection_lost(struct redis_client *client, char *err, size_t errlen)
{
    const char *why = client->ctx->errstr[0] != '\0' ? client->ctx->errstr : "unknown error";
    mark_broken(client, why);
    return push_error(err, errlen, "connection lost: %s (talking to %s)", why, client->url);
}

int redis_client_subscribe(struct redis_client *client, size_t count,
                           const char *const *channels, const size_t *channel_lens,
                           char *err, size_t errlen)
{
    if (redis_client_is_broken(client))
        return push_refuse_broken(client, err, errlen);
    if (count == 0 || count >= INT_MAX)
        return push_error(err, errlen, "SUBSCRIBE needs at least one channel (got %zu)", count);
    const char **argv = malloc((count + 1) * sizeof *argv);
    size_t *lens = malloc((count + 1) * sizeof *lens);
    int queued = REDIS_ERR;
    if (argv != NULL && lens != NULL) {
        argv[0] = "SUBSCRIBE";
        lens[0] = strlen(argv[0]);
        for (size_t i = 0; i < count; i++) {
            argv[i + 1] = channels[i];
            lens[i + 1] = channel_lens[i];
        }
        queued = redisAppendCommandArgv(client->ctx, (int)count + 1, argv, lens);
    }
    free(argv);
    free(lens);
    if (queued != REDIS_OK) {
        mark_broken(client, "out of memory while queuing SUBSCRIBE");
        return push_error(err, errlen, "cannot subscribe on %s: %s", client->url, client->broken);
    }
    /* Write it all now: the replies are read by redis_client_read_push,
     * which never writes. */
    int done = 0;
    while (!done)
        if (redisBufferWrite(client->ctx, &done) != REDIS_OK)
            return push_connection_lost(client, err, errlen);
    return 0;
}

static bool is_bulk(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING;
}

static bool bulk_is(const redisReply *r, const char *text)
{
    return is_bulk(r) && r->len == strlen(text) && memcmp(r->str, text, r->len) == 0;
}

/* Turns one reply of a subscribed connection into *push, and frees it.
 * RESP2 sends pushes as arrays; hiredis 1.x under RESP3 has a type of its
 * own for them. */
static int push_from_reply(struct redis_client *client, redisReply *reply,
                           struct redis_push *push, char *err, size_t errlen)
{
    int rc = -1;
    bool array = reply->type == REDIS_REPLY_ARRAY;
#ifdef REDIS_REPLY_PUSH
    array = array || reply->type == REDIS_REPLY_PUSH;
#endif
    const redisReply *kind = array && reply->elements > 0 ? reply->element[0] : NULL;
    const redisReply *channel = NULL, *last = NULL;
    if (array && reply->elements == 3) {
        channel = reply->element[1];
        last = reply->element[2];
    }
    bool message = channel != NULL && bulk_is(kind, "message") && is_bulk(channel) &&
                   is_bulk(last);
    bool subscribe = channel != NULL && bulk_is(kind, "subscribe") && is_bulk(channel) &&
                     last->type == REDIS_REPLY_INTEGER;
    char quoted[REDIS_QUOTE_BUFSIZE];
    if (reply->type == REDIS_REPLY_ERROR) {
        push_error(err, errlen, "Redis answered with an error: %.*s", (int)reply->len, reply->str);
    } else if (!message && !subscribe) {
        push_error(err, errlen,
                   "unexpected reply on a subscribed connection to %s (type %d%s%s): only "
                   "messages and SUBSCRIBE confirmations are read here", client->url,
                   reply->type, kind != NULL && is_bulk(kind) ? ", kind " : "",
                   kind != NULL && is_bulk(kind)
                       ? redis_quote_bytes(kind->str, kind->len, quoted, sizeof quoted) : "");
    } else {
        size_t payload_len = message ? last->len : 0;
        char *bytes = malloc(channel->len + payload_len + 2);
        if (bytes == NULL) {
            push_error(err, errlen, "out of memory while copying a message from %s", client->url);
        } else {
            memcpy(bytes, channel->str, channel->len);
            bytes[channel->len] = '\0';
            push->channel = bytes;
            push->channel_len = channel->len;
            if (message) {
                push->kind = REDIS_PUSH_MESSAGE;
                push->payload = bytes + channel->len + 1;
                memcpy(push->payload, last->str, payload_len);
                push->payload[payload_len] = '\0';
                push->payload_len = payload_len;
            } else {
                push->kind = REDIS_PUSH_SUBSCRIBE;
                push->count = last->integer;
            }
            rc = 1;
        }
    }
    freeReplyObject(reply);
    return rc;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int redis_client_read_push(struct redis_client *client, unsigned timeout_ms,
                           struct redis_push *push, char *err, size_t errlen)
{
    *push = (struct redis_push){ .kind = REDIS_PUSH_MESSAGE };
    if (redis_client_is_broken(client))
        return push_refuse_broken(client, err, errlen);
    /* Send what redis_client_append queued (a PING, say) first. */
    int written = 0;
    while (!written)
        if (redisBufferWrite(client->ctx, &written) != REDIS_OK)
            return push_connection_lost(client, err, errlen);
    int64_t deadline = monotonic_ms() + timeout_ms;
    for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(client->ctx, &reply) != REDIS_OK) {
            mark_broken(client, client->ctx->errstr);
            return push_error(err, errlen, "unreadable reply from %s: %s", client->url,
                              client->broken);
        }
        if (reply != NULL)
            return push_from_reply(client, reply, push, err, errlen);

        int64_t left = deadline - monotonic_ms();
        struct pollfd pfd = { .fd = client->ctx->fd, .events = POLLIN };
        int ready = poll(&pfd, 1, left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0) {
            snprintf(client->broken, sizeof client->broken, "poll: %s", strerror(errno));
            return push_error(err, errlen, "cannot wait for %s: %s", client->url,
                              client->broken);
        }
        if (ready == 0)
            return 0; /* nothing yet; what was read so far stays buffered */
        /* Readable, or closed (POLLHUP / POLLERR): the read tells which. */
        if (redisBufferRead(client->ctx) != REDIS_OK)
            return push_connection_lost(client, err, errlen);
    }
}

int redis_client_local_address(const struct redis_client *client, char *out, size_t len)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof addr;
    char host[INET6_ADDRSTRLEN];
    unsigned port;
    const char *form;
    if (len > 0)
        out[0] = '\0';
    if (client->ctx == NULL ||
        getsockname(client->ctx->fd, (struct sockaddr *)&addr, &addr_len) != 0)
        return -1;
    if (addr.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&addr;
        if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof host) == NULL)
            return -1;
        port = ntohs(in->sin_port);
        form = "%s:%u";
    } else if (addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr;
        if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host) == NULL)
            return -1;
        port = ntohs(in6->sin6_port);
        form = "[%s]:%u"; /* as Redis writes an IPv6 address */
    } else {
        return -1;
    }
    int n = snprintf(out, len, form, host, port);
    if (n < 0 || (size_t)n >= len) {
        if (len > 0)
            out[0] = '\0';
        return -1;
    }
    return 0;
}

/* ---- Replies that are arrays ---------------------------------------------- */

/* Copies `reply` into *out, arrays included.  False when memory ran out
 * (then *out holds what was copied so far, for redis_tree_free). */
static bool copy_tree(const redisReply *reply, struct redis_tree *out)
{
    *out = (struct redis_tree){ .value = { .kind = REDIS_RESULT_NIL } };
    if (reply->type != REDIS_REPLY_ARRAY) {
        out->value = redis_result_from_reply(reply);
        return out->value.data != out_of_memory_text;
    }
    out->is_array = true;
    if (reply->elements == 0)
        return true;
    out->elements = calloc(reply->elements, sizeof *out->elements);
    if (out->elements == NULL)
        return false;
    for (size_t i = 0; i < reply->elements; i++) {
        out->count = i + 1; /* what redis_tree_free must free */
        if (!copy_tree(reply->element[i], &out->elements[i]))
            return false;
    }
    return true;
}

struct redis_tree redis_client_command_tree(struct redis_client *client, int argc,
                                            const char *const *argv, const size_t *argv_len)
{
    struct redis_tree tree = { .value = { .kind = REDIS_RESULT_NIL } };
    if (redis_client_is_broken(client)) {
        tree.value = refuse_broken(client);
        return tree;
    }
    if (argc < 1) {
        tree.value = make_message(REDIS_RESULT_ERROR, "no command given (argc < 1)");
        return tree;
    }
    errno = 0;
    redisReply *reply = redisCommandArgv(client->ctx, argc, (const char **)argv, argv_len);
    int saved_errno = errno;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        tree.value = reply_to_result(client, reply, saved_errno);
        return tree;
    }
    bool copied = copy_tree(reply, &tree);
    freeReplyObject(reply);
    if (!copied) {
        /* As in reply_to_result: a reply we could not keep leaves the
         * caller not knowing what happened. */
        redis_tree_free(&tree);
        mark_broken(client, out_of_memory_text);
        tree.value = (struct redis_result){ .kind = REDIS_RESULT_IO_ERROR,
                                            .data = out_of_memory_text,
                                            .len = strlen(out_of_memory_text) };
    }
    return tree;
}

void redis_tree_free(struct redis_tree *tree)
{
    if (tree == NULL)
        return;
    for (size_t i = 0; i < tree->count; i++)
        redis_tree_free(&tree->elements[i]);
    free(tree->elements);
    redis_result_free(&tree->value);
    *tree = (struct redis_tree){ .value = { .kind = REDIS_RESULT_NIL } };
}
