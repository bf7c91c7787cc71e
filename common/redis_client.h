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
 * Only API that hiredis 0.14 (Debian 12) and 1.x (Debian 13, Ubuntu 24.04)
 * share is used; `make test-code HIREDIS=1.2` runs the tests against 1.2.
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

/*
 * REDIS_URL, the one way every program is told where Redis is:
 *
 *     redis://host                       port 6379, database 0, no password
 *     redis://host:port/db               e.g. redis://127.0.0.1:6380/2
 *     redis://:password@host:port/db     the password is sent with AUTH
 *     redis://[::1]:6379                 an IPv6 address goes in brackets
 *
 * In the password, %XX stands for the byte with hex code XX, as in any URL:
 * write '%' as %25, and '@', ':' or '/' as %40, %3A, %2F if you like.  A
 * literal '@' works too, because the LAST '@' ends the password.  Not
 * supported, and rejected with a message saying so: a user name
 * (redis://user:password@...), rediss:// (TLS), unix sockets and ?options.
 */
struct redis_url {
    char host[256];     /* a name, an IPv4 address, or an IPv6 address
                           without its brackets */
    int port;           /* 6379 when absent */
    char password[256]; /* decoded; "" when absent */
    int db;             /* 0 when absent */
};

/* Parses `url`.  Returns 0, or -1 with a message naming the problem and the
 * expected form written to err[errlen] (a password never shows in it). */
int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen);

/* $REDIS_URL if set and not empty, else REDIS_DEFAULT_URL. */
const char *redis_url_from_env(void);

/* Writes `url` to out[size] with its password shown as *** - everything
 * between "://" (or the start, if there is none) and the last '@' - so a
 * URL can be printed in a log or a message, even one that does not parse.
 * Returns out.  strlen(url) + 4 bytes always hold the result. */
const char *redis_url_hide_password(const char *url, char *out, size_t size);

struct redis_client_options {
    unsigned connect_timeout_ms; /* 0 means the default, 2000.  It bounds
                                    the whole connect: the TCP connect and
                                    the set-up commands (AUTH, SELECT,
                                    CLIENT SETNAME), so a server that
                                    accepts connections but never answers
                                    (stopped, hung) fails the connect in
                                    this time, not in the command timeout */
    unsigned command_timeout_ms; /* 0 means the default, 10000; a reply
                                    that takes longer is an IO_ERROR */
    const char *name;            /* NULL or "": none.  Otherwise the
                                    connection is named with CLIENT SETNAME
                                    while connecting, so that CLIENT LIST on
                                    the server shows whose it is */
};

/* Why a connect failed, for a caller that acts on the kind of failure
 * (with-redis starts a throwaway server only when nothing is there, and
 * stops with an error on a wrong URL or password). */
enum redis_connect_error {
    REDIS_CONNECT_OK,              /* connected */
    REDIS_CONNECT_BAD_URL,         /* the URL does not parse */
    REDIS_CONNECT_NOTHING_LISTENS, /* connection refused: no server there */
    REDIS_CONNECT_TIMED_OUT,       /* no answer within the connect timeout:
                                      to the TCP connect, or to a set-up
                                      command */
    REDIS_CONNECT_SERVER_ERROR,    /* the server answered a set-up command
                                      with an error: a wrong or missing
                                      password, a database out of range */
    REDIS_CONNECT_OTHER,           /* anything else: an unknown host, a
                                      connection closed during the set-up,
                                      out of memory */
};

struct redis_client;

/*
 * Connects to `url` (NULL means redis_url_from_env()), authenticates,
 * selects the database and names the connection if the URL and `options`
 * say so.  `options` may be NULL.  Returns the client, or NULL with a
 * message in err[errlen] that says what failed and what to try next (bad
 * URL, connection refused, timeout, wrong password).
 */
struct redis_client *redis_client_connect(const char *url,
                                          const struct redis_client_options *options,
                                          char *err, size_t errlen);

/* redis_client_connect that also tells which kind of failure it was: *why
 * is REDIS_CONNECT_OK with a client, another value with NULL. */
struct redis_client *redis_client_connect_why(const char *url,
                                              const struct redis_client_options *options,
                                              enum redis_connect_error *why,
                                              char *err, size_t errlen);

/* The version of hiredis this program was compiled against, e.g. "0.14.1". */
const char *redis_client_hiredis_version(void);

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

/* Connects to `url` (NULL: $REDIS_URL) on a connection of its own, sends
 * CLIENT PAUSE `ms` and disconnects: for the next `ms` milliseconds the
 * server holds every client's commands unanswered - a stand-in for a
 * server that is slow, busy with a snapshot, or far away.  Returns 0, or
 * -1 with a message in err[errlen] (which may be NULL): the connect
 * failed, or the server refused the pause or did not answer it. */
int redis_pause_server(const char *url, unsigned ms, char *err, size_t errlen);

/* ---- Pipelining: queue several commands, then read their replies in order.
 * redis_client_append only buffers; the first redis_client_read_reply writes
 * everything buffered in one go and then reads one reply per call.
 * redis_client_append returns 0, or -1 when the client is broken or out of
 * memory (the command was not queued and the client is marked broken). */
int redis_client_append(struct redis_client *client, int argc,
                        const char *const *argv, const size_t *argv_len);
struct redis_result redis_client_read_reply(struct redis_client *client);

/* SET and GET queued as redis_client_append does (same return values): the
 * pipelined forms of redis_client_set and redis_client_get. */
int redis_client_append_set(struct redis_client *client, const void *key, size_t key_len,
                            const void *value, size_t value_len);
int redis_client_append_get(struct redis_client *client, const void *key, size_t key_len);

/* ---- Pub/Sub: a connection the server pushes messages down ----------------
 *
 * After SUBSCRIBE a connection stops answering commands one to one: the
 * server PUSHES a message down it whenever someone publishes on one of its
 * channels, and it accepts nothing but (UN)SUBSCRIBE, PING and QUIT.  So it
 * needs an owner of its own (chapter 09's subscriber thread), and that owner
 * reads without knowing when the next message comes, if ever.
 *
 * Why redis_client_read_push waits with poll(2) rather than relying on the
 * command timeout: a blocking hiredis read that times out leaves the
 * connection broken (we no longer know where the byte stream stands), so a
 * socket timeout cannot say "nothing yet, ask again".  Here the wait happens
 * BEFORE any byte is read, and bytes are read only once poll says they are
 * there; a timeout is then an ordinary answer, even half-way through a
 * message (the bytes read so far stay buffered for the next call), and the
 * caller gets its thread back at least every timeout_ms - to notice that it
 * should stop, say.
 *
 * Channel names and payloads are bytes: they may hold NULs or CR/LF. */

enum redis_push_kind {
    REDIS_PUSH_MESSAGE,   /* someone PUBLISHed on `channel`: `payload` */
    REDIS_PUSH_SUBSCRIBE, /* SUBSCRIBE confirmed for `channel`; `count` is the
                             number of channels this connection is subscribed
                             to now */
};

struct redis_push {
    enum redis_push_kind kind;
    char *channel;        /* NUL-terminated as a convenience; use channel_len */
    size_t channel_len;
    char *payload;        /* MESSAGE: the bytes published (NUL-terminated as a
                             convenience; use payload_len).  Otherwise NULL. */
    size_t payload_len;
    long long count;      /* SUBSCRIBE only */
};

/* Frees what the push owns and empties it; safe to call twice. */
void redis_push_free(struct redis_push *push);

/*
 * Sends SUBSCRIBE channels[0] ... channels[count-1] (channel_lens[i] bytes
 * each) and returns without waiting for Redis: the confirmations arrive
 * through redis_client_read_push as REDIS_PUSH_SUBSCRIBE, one per channel, in
 * order.  Until they have all arrived the subscription is not in place, and
 * a message published meanwhile does not reach this connection.
 * Returns 0, or -1 with a message in err[errlen] (no channel given, or the
 * connection failed: the client is then broken).
 */
int redis_client_subscribe(struct redis_client *client, size_t count,
                           const char *const *channels, const size_t *channel_lens,
                           char *err, size_t errlen);

/*
 * Waits at most timeout_ms (0: do not wait) for the next thing the server
 * pushes down a subscribed connection, after writing anything queued with
 * redis_client_append (a PING, say).
 *    1  *push is filled: free it with redis_push_free.
 *    0  nothing complete arrived in time; the connection is fine.
 *   -1  err[errlen] says why.  The connection was lost (or its bytes made no
 *       sense) when redis_client_is_broken() is true; otherwise Redis
 *       answered with an error or with a reply this wrapper does not read
 *       (e.g. "pong"), and the connection is still usable.
 */
int redis_client_read_push(struct redis_client *client, unsigned timeout_ms,
                           struct redis_push *push, char *err, size_t errlen);

/* Writes this connection's own address, as the server sees it on loopback
 * and as CLIENT LIST and CLIENT KILL ADDR spell it ("127.0.0.1:53211",
 * "[::1]:53211"), into out[len].  Returns 0, or -1 (and "" in out). */
int redis_client_local_address(const struct redis_client *client, char *out, size_t len);
/* ---- Replies that are arrays (CLUSTER SLOTS, CLUSTER GETKEYSINSLOT, MGET)
 * redis_client_command reports an array reply as an error; this keeps the
 * whole reply, arrays inside arrays included, as a tree:
 *
 *     CLUSTER SLOTS -> array [ array [ 0, 5460, array [ "127.0.0.1", 7000, "id" ] ], ... ]
 *
 * A node is either an array of `count` child nodes (`is_array`), or one
 * value in `value` (any kind of struct redis_result).  When the command
 * fails, the root is not an array and its value is the ERROR or IO_ERROR. */
struct redis_tree {
    bool is_array;
    size_t count;                /* is_array: how many elements */
    struct redis_tree *elements; /* is_array: elements[0..count) */
    struct redis_result value;   /* not is_array: the value */
};

/* Runs a command, as redis_client_command does, and returns its reply as a
 * tree.  Free it with redis_tree_free. */
struct redis_tree redis_client_command_tree(struct redis_client *client, int argc,
                                            const char *const *argv, const size_t *argv_len);

/* Frees the tree's elements and values and empties it; safe to call twice. */
void redis_tree_free(struct redis_tree *tree);
/* ---- Replies that arrive by callback (hiredis's async API, chapter 11) ----
 * An asynchronous client gets each reply in a callback, and hiredis frees
 * the reply as soon as that callback returns.  This copies it into a result
 * the caller owns, the way every call above does: same kinds, same texts.
 * `reply` must not be NULL (a NULL reply means the connection is gone: the
 * caller says why).  Not freed here. */
struct redisReply;
struct redis_result redis_result_from_reply(const struct redisReply *reply);

#endif
