/*
 * manager.h - one manager per cluster node: chapter 07's manager (a thread
 * that owns ONE connection, pipelines the commands of its bounded channel,
 * and survives losing that connection), now talking to one master of the
 * cluster instead of one server.  New here: a command with `asking` set
 * goes out right after an ASKING (see command.h).
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
 * It gives up only when its channel closes (the cluster was closed): then it
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

/* A snapshot of a manager's counters; they may be read while it runs.
 * Each command is counted before its requester is answered, so a requester
 * that got N answers from a manager sees at least N counted. */
struct manager_stats {
    size_t succeeded;        /* commands Redis answered without an error */
    size_t failed;           /* commands answered with an error of any kind */
    size_t connections_lost; /* times the connection broke */
    size_t reconnects;       /* times it was made again */
    bool connected;          /* has a connection right now */
};

struct manager {
    /* Set by the caller before manager_start; the rest is manager_start's. */
    unsigned id;               /* its node's number in the cluster, for logs */
    FILE *log;                 /* connection events, or NULL for quiet */

    pthread_t thread;
    struct mpsc_receiver *rx;     /* the manager thread's alone */
    struct redis_client *client;  /* the manager thread's alone; NULL while
                                     disconnected */
    char *url;                    /* its own copy, password included: it
                                     connects again with it */
    char shown_url[256];          /* the same, password hidden, for messages */
    char failure[512];            /* why it is disconnected (the thread's) */

    atomic_size_t succeeded, failed, connections_lost, reconnects;
    atomic_bool connected;
    atomic_bool finished;
};

/*
 * Connects to `url` (NULL: $REDIS_URL), on the caller's thread, so that a
 * bad URL or an unreachable server is reported now, with the wrapper's
 * message; then makes a channel of `capacity` commands and starts the
 * thread.  The one sender is returned in *tx.
 * Returns 0, or -1 with the message in err[errlen] (*tx NULL).
 */
int manager_start(struct manager *m, const char *url, size_t capacity,
                  struct mpsc_sender **tx, char *err, size_t errlen);

/* Waits for the thread to end - after every sender was dropped and every
 * queued command answered - and frees what manager_start allocated. */
void manager_join(struct manager *m);

/* Reads the counters (any thread, any time). */
void manager_stats(const struct manager *m, struct manager_stats *out);

#endif
