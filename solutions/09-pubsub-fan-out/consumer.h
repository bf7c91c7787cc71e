/*
 * consumer.h - a thread that reads every message the subscriber fans out,
 * from its own broadcast receiver, and keeps count.
 *
 * The messages of this chapter's program carry numbers ("1", "2", ...) in
 * the order they were published, so a consumer can check the order it
 * reads them in.  What it can meet on its receiver:
 *
 *   a message        count it, check its number, release it
 *   a gap notice     the subscriber lost its connection: messages published
 *                    meanwhile are gone (Redis Pub/Sub is at-most-once)
 *   CHAN_LAGGED(n)   THIS consumer fell more than the capacity behind, and
 *                    the n oldest values it had not read were overwritten;
 *                    it carries on from the oldest value still held
 *   CHAN_CLOSED      the subscriber stopped and everything is read: the end
 *
 * A consumer also says how far it has read on a watch channel of its own
 * (`progress`: the seq of the last value it went through), so a publisher
 * can wait until every consumer has caught up before it sends more.
 */
#ifndef CONSUMER_H
#define CONSUMER_H

#include <stdint.h>

#include "broadcast.h"
#include "watch.h"

/* What a consumer read; read it after consumer_join. */
struct consumer_report {
    uint64_t received;     /* messages read */
    uint64_t missed;       /* values lost to lag: the sum of every lag's count */
    unsigned lags;         /* times it lagged */
    unsigned gaps;         /* gap notices read */
    uint64_t out_of_order; /* messages whose number was not above the last one's */
    uint64_t first, last;  /* the numbers of the first and the last message read */
};

/* Reads `rx` until CHAN_CLOSED, counting into *report (zeroed first).
 * After each value it sends that value's seq on `progress` (may be NULL). */
void consumer_run(struct broadcast_receiver *rx, struct watch_sender *progress,
                  struct consumer_report *report);

/* A consumer on a thread of its own: consumer_init, then consumer_main as
 * the thread's body (pthread_create, or report_start_threads), and
 * consumer_free once the thread is joined. */
struct consumer {
    struct broadcast_receiver *rx;       /* the thread's */
    struct watch_sender *progress;       /* the thread's */
    struct watch_receiver *progress_rx;  /* for whoever waits for this consumer:
                                            a uint64_t, UINT64_MAX once it ended */
    struct consumer_report report;       /* final once the thread is joined */
};

/* Gets c ready to read `rx` (which it takes over, even on failure: NULL is
 * taken for out of memory).  Returns 0, or ENOMEM. */
int consumer_init(struct consumer *c, struct broadcast_receiver *rx);

/* The thread: consumer_run on c->rx until the channel closes, then
 * UINT64_MAX on c->progress. */
void *consumer_main(void *consumer);

/* Frees what consumer_init made. */
void consumer_free(struct consumer *c);

#endif
