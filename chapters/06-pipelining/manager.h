/*
 * manager.h - the thread that owns the Redis connection, now pipelining.
 *
 * Chapters 04 and 05's manager ran one command per round trip: while Redis
 * worked on it, the connection carried nothing else and every other
 * requester waited in the channel.  This one takes every command already
 * waiting (up to MANAGER_BATCH_LIMIT) in one mpsc_recv_many, writes them
 * all to the connection, then reads the replies in order and answers each
 * requester through its oneshot:
 *
 *     requester ─┐                    ┌─ append GET a ─┐
 *     requester ─┼──► [ mpsc ] ──►────┼─ append SET b ─┼─ one write ──► Redis
 *     requester ─┘    recv_many       └─ append GET c ─┘
 *          ▲                           read, read, read (in order)
 *          └──────── oneshot ◄── result of each ◄───┘
 *
 * Everything else is chapter 05's: the channel may be bounded or unbounded
 * (MANAGER_UNBOUNDED), a requester that left is skipped, and when the
 * connection breaks every request - in the batch, queued, or sent later -
 * gets an error and the manager ends.  It also ends when the LAST sender
 * is dropped and the queue is empty.
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

/* The most commands the manager takes from the channel per wake-up, and so
 * the longest pipeline it writes.  With a bounded channel of 32 a batch is
 * never larger than 32 (one recv_many only takes what is queued); an
 * unbounded queue can hold thousands, and this limit keeps each pipeline,
 * and the memory its replies need, small. */
#define MANAGER_BATCH_LIMIT 64

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
    size_t batches;               /* recv_many calls that brought commands */
    size_t largest_batch;         /* the most commands one of them brought */
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
