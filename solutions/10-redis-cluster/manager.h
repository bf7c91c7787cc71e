/*
 * manager.h - one manager of the pool: a thread that owns ONE Redis
 * connection and pipelines the commands of its own bounded channel, as in
 * chapter 06, and that now SURVIVES losing that connection.
 *
 *     [ mpsc ] ──► manager ──► connection ──► Redis
 *                    │  connection lost?
 *                    ▼
 *        1. every command of the batch in flight gets the error
 *        2. reconnect: at once, then after 10, 20, 40 ... ms (at most 1 s
 *           apart); while it waits, each command that arrives is answered
 *           at once with an error - nobody queues behind a dead connection
 *        3. connected again: commands run as before
 *
 * It gives up only when its channel closes (the pool was closed): then it
 * answers what is still queued and ends.
 *
 * What it says on its log stream (the program passes stderr), one line per
 * event:
 *     manager 2: connection lost (connection lost: ...); reconnecting
 *     manager 2: reconnect attempt 1 failed (cannot connect to ...); next in 10 ms
 *     manager 2: reconnected after 3 attempts
 */
#ifndef MANAGER_H
#define MANAGER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mpsc.h"
#include "redis_client.h"

/* The most commands the manager takes from its channel per wake-up, and so
 * the longest pipeline it writes in one go (chapter 06). */
#define MANAGER_BATCH_LIMIT 64

/* The reconnect back-off: the first retry waits this long, each later one
 * twice as long as the one before, never more than the cap. */
#define MANAGER_BACKOFF_FIRST_MS 10
#define MANAGER_BACKOFF_MAX_MS 1000

/* A snapshot of a manager's counters (pool_stats): commands that Redis
 * answered without an error, commands answered with an error of any kind,
 * times the connection broke and was made again, and whether it has one
 * now.  Each command is counted before its requester is answered, so a
 * requester that got N answers from a manager sees at least N counted. */
struct manager_stats {
    size_t succeeded, failed, connections_lost, reconnects;
    bool connected;
};

/* Zeroed (calloc), then these four set by the caller before manager_start;
 * the rest is the manager's.  The counters may be read at any time. */
struct manager {
    unsigned id;     /* its number, in logs and messages */
    char name[80];   /* its connection's name (CLIENT SETNAME), or "" */
    FILE *log;       /* connection events, or NULL for quiet */
    const char *url; /* password included: it reconnects with it; must
                        outlive the manager */

    pthread_t thread;            /* the caller joins it, once tx is dropped */
    struct mpsc_sender *tx;      /* its channel's sending side: the caller's to
                                    use, and to drop to stop the manager */
    struct mpsc_receiver *rx;    /* the manager thread's alone */
    struct redis_client *client; /* the thread's alone; NULL while disconnected */
    char failure[512];           /* why it is disconnected (the thread's) */
    atomic_size_t succeeded, failed, connections_lost, reconnects;
    atomic_bool connected;
};

/*
 * Connects to m->url on the caller's thread, so that a bad URL or an
 * unreachable server is reported now, with the wrapper's message; then
 * makes a channel of `capacity` commands (its sender in m->tx) and starts
 * the thread.  Returns 0, or -1 with the message in err[errlen].
 *
 * To stop it, drop m->tx and join m->thread: the manager answers every
 * command still queued, then ends.
 */
int manager_start(struct manager *m, size_t capacity, char *err, size_t errlen);

#endif
