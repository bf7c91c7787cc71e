/*
 * manager.h - the thread that owns the Redis connection, now answering.
 *
 * As in chapter 03, requesters send `struct command` messages over a bounded
 * mpsc channel and only the manager touches the connection.  New here:
 *
 *   - every command may carry a oneshot sender, and the manager sends the
 *     command's result back through it;
 *   - when the connection breaks, every request - the one running, the
 *     queued ones, and the ones sent later - gets an error, and the manager
 *     ends.
 *
 * The manager works like Tokio's: one command at a time, one round trip
 * each (chapter 06 pipelines them).
 *
 *     requester ─┐
 *     requester ─┼──► [ mpsc ] ──► manager ──GET a──► Redis
 *     requester ─┘     recv         │    ◄──reply──┘
 *          ▲                        │
 *          └──── oneshot ◄── result ┘
 *
 * The manager ends when the LAST sender is dropped (as in chapter 03), or
 * when the connection is lost.
 *
 * Chapter 05 adds an unbounded command channel (capacity MANAGER_UNBOUNDED),
 * to measure what a queue without a limit costs, and counts the commands
 * Redis accepted (`succeeded`), so that fire-and-forget commands (reply
 * NULL) are still accounted for.
 */
#ifndef MANAGER_H
#define MANAGER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mpsc.h"
#include "redis_client.h"

/* The capacity that asks manager_start for an unbounded channel. */
#define MANAGER_UNBOUNDED SIZE_MAX

struct manager {
    /* Set by the caller before manager_start; everything else is set by
     * manager_start. */
    FILE *log;                    /* a line per command, or NULL for quiet */

    pthread_t thread;
    struct mpsc_receiver *rx;     /* the manager thread's alone */
    struct redis_client *client;  /* the manager thread's alone */
    char url[256];                /* where it is connected, password hidden */

    /* Written by the manager thread only.  Read them after manager_join:
     * the join is what makes the thread's writes visible to the caller. */
    size_t executed;              /* commands that got a reply from Redis */
    size_t succeeded;             /* ...and the reply was not an error */
    size_t failed;                /* commands answered with an error of any
                                     kind (error reply, lost connection) */
    size_t skipped;               /* GETs not run: their requester had left */
    bool connection_lost;         /* the manager ended because of it */
    char failure[512];            /* the wrapper's message when it did */

    atomic_bool finished;         /* see manager_finished */
};

/*
 * Connects to `url` (NULL: $REDIS_URL), makes a channel of `capacity`
 * commands (MANAGER_UNBOUNDED: no limit) and starts the manager thread.
 * The one sender is returned in *tx: clone it for each thread that sends,
 * drop every handle when done.
 * Connecting comes first, on the caller's thread, so that a bad URL or an
 * unreachable server is reported here with the wrapper's message.
 * Returns 0, or -1 with the message in err[errlen] (and *tx set to NULL).
 */
int manager_start(struct manager *m, const char *url, size_t capacity,
                  struct mpsc_sender **tx, char *err, size_t errlen);

/* Waits for the manager thread to end: after the last sender was dropped
 * and everything queued was answered, or after the connection was lost and
 * every request was answered with the error. */
void manager_join(struct manager *m);

/* True once the manager thread has finished its very last step (for
 * waiting with a time limit). */
bool manager_finished(const struct manager *m);

#endif
