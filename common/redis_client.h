/*
 * redis_client.h - a thin, binary-safe layer over hiredis for every chapter.
 *
 * Why a wrapper at all: hiredis hands back a `redisReply *` whose `type`
 * field the caller must inspect, and reports lost connections through a
 * separate `err` field on the context.  Every chapter needs the same three
 * questions answered - was there a value, was the key missing, did it fail
 * and why - so the wrapper answers them once, in `struct redis_result`.
 *
 * Every command is sent as an argument vector with explicit lengths
 * (redisCommandArgv), never built with printf-style formatting: a key may
 * contain spaces, CR/LF or NUL bytes and still arrives intact.
 *
 * Only API that hiredis 0.14 (Debian 12) and 1.x share is used.
 *
 * A `struct redis_client` is NOT thread-safe, exactly like the redisContext
 * inside it.  Chapter 01 shows what happens when two threads share one;
 * the later chapters show the ways to share it correctly.
 *
 * Programs should ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)): hiredis writes
 * with write(2), and writing to a connection the server has already reset
 * raises SIGPIPE, which kills the process by default.
 */
#ifndef REDIS_CLIENT_H
#define REDIS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define REDIS_DEFAULT_URL "redis://127.0.0.1:6379"

enum redis_result_kind {
    REDIS_RESULT_OK,       /* a status reply, e.g. +OK from SET */
    REDIS_RESULT_VALUE,    /* a bulk string: data[0..len) */
    REDIS_RESULT_INTEGER,  /* an integer reply: `integer` */
    REDIS_RESULT_NIL,      /* the key does not exist */
    REDIS_RESULT_ERROR,    /* Redis answered with an error: data is its text;
                              the connection is still usable */
    REDIS_RESULT_IO_ERROR, /* the connection failed, timed out or was lost:
                              data says what happened; the client is broken */
};

struct redis_result {
    enum redis_result_kind kind;
    char *data;        /* VALUE: the bytes (NUL-terminated as a convenience,
                          but may contain NULs: use len).  OK, ERROR,
                          IO_ERROR: a message.  NIL, INTEGER: NULL. */
    size_t len;        /* bytes in data, not counting the added NUL */
    long long integer; /* INTEGER only */
};

/* Frees what the result owns and makes it NIL; safe to call twice. */
void redis_result_free(struct redis_result *result);

/* True for REDIS_RESULT_ERROR and REDIS_RESULT_IO_ERROR. */
bool redis_result_is_error(const struct redis_result *result);

/* A result of `kind` (REDIS_RESULT_ERROR or REDIS_RESULT_IO_ERROR) whose
 * message is printf-formatted: for errors that arise outside Redis, such as
 * "the manager has stopped".  If memory runs out the message is replaced
 * by a fixed one; the kind is kept. */
struct redis_result redis_result_error(enum redis_result_kind kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* How many bytes redis_quote_bytes shows before it cuts a value short, and
 * a buffer size that always holds its output. */
#define REDIS_QUOTE_SHOWN 96
#define REDIS_QUOTE_BUFSIZE (4 * REDIS_QUOTE_SHOWN + 32)

/* Writes bytes[0..len) into out[size] as a C-like string literal, for logs
 * and messages: printable ASCII as is, '"' and '\\' escaped, any other
 * byte (NUL, CR, LF, ...) as \xNN, so a binary key cannot garble a line.
 * After REDIS_QUOTE_SHOWN bytes it stops and adds "...(N bytes)".  Returns
 * out, so it can be used inside a printf call. */
const char *redis_quote_bytes(const void *bytes, size_t len, char *out, size_t size);

/* "ok", "value", "integer", "nil", "error", "i/o error". */
const char *redis_result_kind_name(enum redis_result_kind kind);

/* A parsed redis://[:password@]host[:port][/db] URL. */
struct redis_url {
    char host[256];
    int port;           /* 6379 when absent */
    char password[256]; /* "" when absent */
    int db;             /* 0 when absent */
};

/* Parses `url`.  Returns 0, or -1 with a message naming the problem and the
 * expected form written to err[errlen]. */
int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen);

/* $REDIS_URL if set and not empty, else REDIS_DEFAULT_URL. */
const char *redis_url_from_env(void);

struct redis_client_options {
    unsigned connect_timeout_ms; /* 0 means the default, 2000 */
    unsigned command_timeout_ms; /* 0 means the default, 10000; a reply
                                    that takes longer is an IO_ERROR */
};

struct redis_client;

/*
 * Connects to `url` (NULL means redis_url_from_env()), authenticates and
 * selects the database if the URL says so.  `options` may be NULL.
 * Returns the client, or NULL with a message in err[errlen] that says what
 * failed and what to try next (bad URL, connection refused, timeout,
 * wrong password).
 */
struct redis_client *redis_client_connect(const char *url,
                                          const struct redis_client_options *options,
                                          char *err, size_t errlen);

/* Closes the connection and frees the client.  NULL is fine. */
void redis_client_free(struct redis_client *client);

/* The URL this client connected to, for messages (a password shows as ***). */
const char *redis_client_url(const struct redis_client *client);

/* True once an I/O error made the connection unusable. */
bool redis_client_is_broken(const struct redis_client *client);

/* GET key -> VALUE, NIL, ERROR (e.g. the key holds a list) or IO_ERROR. */
struct redis_result redis_client_get(struct redis_client *client,
                                     const void *key, size_t key_len);

/* SET key value -> OK, ERROR or IO_ERROR. */
struct redis_result redis_client_set(struct redis_client *client,
                                     const void *key, size_t key_len,
                                     const void *value, size_t value_len);

/* Any command, as an argument vector: argv[i] has argv_len[i] bytes.  Reply
 * types other than status, string, integer, nil and error (arrays, say) are
 * reported as REDIS_RESULT_ERROR naming the type. */
struct redis_result redis_client_command(struct redis_client *client, int argc,
                                         const char *const *argv,
                                         const size_t *argv_len);

/* ---- Pipelining: queue several commands, then read their replies in order.
 * redis_client_append only buffers; the first redis_client_read_reply writes
 * everything buffered in one go and then reads one reply per call.
 * redis_client_append returns 0, or -1 when the client is broken or out of
 * memory (the command was not queued and the client is marked broken). */
int redis_client_append(struct redis_client *client, int argc,
                        const char *const *argv, const size_t *argv_len);
struct redis_result redis_client_read_reply(struct redis_client *client);

/* ---- Replies that arrive by callback (hiredis's async API, chapter 11) ----
 * An asynchronous client gets each reply in a callback, and hiredis frees
 * the reply as soon as that callback returns.  This copies it into a result
 * the caller owns, the way every call above does: same kinds, same texts.
 * `reply` must not be NULL (a NULL reply means the connection is gone: the
 * caller says why).  Not freed here. */
struct redisReply;
struct redis_result redis_result_from_reply(const struct redisReply *reply);

#endif
