/*
 * fanout.h - the chapter program's run, from starting the subscriber to
 * the report.
 *
 *   1. start the subscriber; subscribe `consumers` consumer threads and one
 *      more receiver, the late one, to its broadcast channel;
 *   2. wait until the watch says SUBSCRIBED: anything published earlier
 *      would reach nobody;
 *   3. publish "1" to "<messages>" on a connection of its own, in rounds of
 *      capacity / 2, and after each round wait - on the watch channels -
 *      until the subscriber has received it and every consumer has read it,
 *      so that no consumer that keeps reading can lag;
 *   4. stop the subscriber, which ends every consumer; only then read the
 *      late receiver, which finds all but the last `capacity` overwritten;
 *   5. print one line per consumer and the last status.
 *
 * With drop_connection, before the middle round the publisher kills the
 * subscriber's connection (CLIENT KILL ADDR, in the same pipeline as the
 * round, so Redis runs it first): the round is published while nobody is
 * subscribed, which is what "at most once" means.
 */
#ifndef FANOUT_H
#define FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct fanout_config {
    const char *const *channels; /* message i goes to channels[i % count] */
    const size_t *channel_lens;
    size_t channel_count;
    size_t consumers;            /* at most FANOUT_MAX_CONSUMERS */
    size_t messages;
    size_t capacity;             /* the broadcast channel's, at least 2 */
    bool drop_connection;
    FILE *log;                   /* the subscriber's events, or NULL */
};

#define FANOUT_MAX_CONSUMERS 64
#define FANOUT_WAIT_MS 10000     /* the longest wait for anyone to catch up */

/* Runs it against $REDIS_URL; the report goes to stdout, problems to
 * stderr.  Returns the exit status: 0 every consumer read what it should,
 * 1 something was lost, out of order or failed, 2 it could not start. */
int fanout_run(const struct fanout_config *config);

#endif
