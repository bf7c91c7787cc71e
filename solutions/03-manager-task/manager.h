/*
 * manager.h - a thread that owns the Redis connection.
 *
 * Chapter 02 shared one connection between threads by locking it.  Here no
 * thread but the manager ever touches the connection: the others send it
 * `struct command` messages over a bounded mpsc channel, and it runs them
 * one after the other.  Nothing is shared, so nothing needs a lock.
 *
 *     worker ─┐
 *     worker ─┼──► [ command | command | .. 32 .. ] ──► manager ──► Redis
 *     worker ─┘            mpsc channel                 (owns the connection)
 *
 * The manager runs until the LAST sender is dropped: then mpsc_recv returns
 * CHAN_CLOSED once the queue is empty, the loop ends, and the thread closes
 * the connection.  A sender that is never dropped - the classic one is the
 * sender main() got from manager_start and kept "just in case" - keeps the
 * manager waiting for ever, and manager_join with it.
 *
 * In this chapter the workers get nothing back; the manager counts and
 * (with a log stream) prints the results.  Chapter 04 adds replies.
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

struct manager {
    /* Set by the caller before manager_start; everything else is set by
     * manager_start. */
    FILE *log;                    /* a line per command, or NULL for quiet */

    pthread_t thread;
    struct mpsc_receiver *rx;     /* the manager thread's alone */
    struct redis_client *client;  /* the manager thread's alone */

    /* Written by the manager thread only.  Read them after manager_join:
     * the join is what makes the thread's writes visible to the caller. */
    size_t executed;              /* commands run, whatever the result */
    size_t failed;                /* of those, how many got an error */

    atomic_bool finished;         /* see manager_finished */
};

/*
 * Connects to `url` (NULL: $REDIS_URL), makes a channel of `capacity`
 * commands and starts the manager thread, which owns both the connection
 * and the receiver.  The one sender is returned in *tx: clone it for each
 * thread that sends, and drop every handle when done.
 *
 * Connecting comes first, on the caller's thread, so that a bad URL or a
 * server that is not running is reported here, with the wrapper's message
 * in err[errlen], rather than discovered later inside the thread.
 * Returns 0, or -1 with the message (and *tx set to NULL).
 */
int manager_start(struct manager *m, const char *url, size_t capacity,
                  struct mpsc_sender **tx, char *err, size_t errlen);

/* Waits for the manager thread to end.  It ends when every sender has been
 * dropped and every queued command has run; by then it has closed the
 * connection and freed the receiver. */
void manager_join(struct manager *m);

/* True once the manager thread has finished its very last step, so that a
 * caller (a test) can wait for the end with a time limit instead of calling
 * manager_join and possibly waiting for ever. */
bool manager_finished(const struct manager *m);

/* Waits at most timeout_ms for manager_finished; returns it.  The manager
 * still has to be joined. */
bool manager_wait(const struct manager *m, unsigned timeout_ms);

#endif
