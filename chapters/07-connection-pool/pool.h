/*
 * pool.h - N managers, each with its own connection and its own bounded
 * channel, behind one sending side.
 *
 *                         ┌─► [ mpsc 0 ] ──► manager 0 ──► connection 0 ─┐
 *     requesters ──► pool_send (hash of the key)                         ├─► Redis
 *                         ├─► [ mpsc 1 ] ──► manager 1 ──► connection 1 ─┤
 *                         └─► [ mpsc 2 ] ──► manager 2 ──► connection 2 ─┘
 *
 * Every command for one key goes to the same manager (pool_route), so the
 * commands for one key stay in the order they were sent - as with a single
 * connection - while commands for different keys spread over N pipes.
 *
 * A pool is shared by every thread that sends: pool_send is safe to call
 * from any number of threads at once.  pool_close is not: call it once,
 * after every thread that uses the pool is done with it (as you would free
 * any shared object).
 */
#ifndef POOL_H
#define POOL_H

#include <stddef.h>
#include <stdio.h>

#include "chan.h"
#include "command.h"
#include "manager.h"

#define POOL_DEFAULT_CONNECTIONS 4
#define POOL_MAX_CONNECTIONS 64
/* Each manager's channel holds this many commands, as in chapters 03-06. */
#define POOL_CAPACITY 32

struct pool_options {
    const char *name; /* connections are named "<name>-<i>" (CLIENT SETNAME,
                         shown by CLIENT LIST) */
    FILE *log;        /* the managers' connection events, or NULL */
};

struct pool;

/*
 * Opens `connections` managers (1 to POOL_MAX_CONNECTIONS) on `url` (NULL:
 * $REDIS_URL).  Each connection is made before pool_open returns, so a bad
 * URL or an unreachable server is reported here.  Returns 0 with *pool set,
 * or -1 with the message in err[errlen].
 */
int pool_open(const char *url, size_t connections, const struct pool_options *options,
              struct pool **pool, char *err, size_t errlen);

/* Which manager (0 to connections - 1) every command for `key` goes to.  The
 * same key always gives the same answer. */
size_t pool_route(const struct pool *pool, const void *key, size_t key_len);

/* Sends `cmd` to the manager of its key, waiting while that manager's
 * channel is full (backpressure, as in chapter 05).  CHAN_OK: the command
 * is the manager's now.  CHAN_CLOSED: the manager has stopped; the command
 * is still the caller's. */
enum chan_status pool_send(struct pool *pool, const struct command *cmd);

/* Manager i's counters, at any time. */
void pool_stats(const struct pool *pool, size_t i, struct manager_stats *out);

/* Closes the pool: every manager answers what is still queued, then ends;
 * waits for all of them and frees the pool.  NULL is fine. */
void pool_close(struct pool *pool);

#endif
