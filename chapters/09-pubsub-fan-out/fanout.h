/*
 * fanout.h - the chapter program's run, from starting the subscriber to
 * the report.
 *
 *   1. start the subscriber on two channels of this run's own; start
 *      `consumers` consumer threads on its broadcast channel, and subscribe
 *      one more receiver, the late one;
 *   2. wait until the watch says SUBSCRIBED: anything published earlier
 *      would reach nobody;
 *   3. publish "1" to "<messages>" on a connection of its own, one at a
 *      time, and after each wait - on the watch channels - until the
 *      subscriber has received it and every consumer has read it, so that
 *      no consumer that keeps reading can lag;
 *   4. stop the subscriber, which ends every consumer; only then read the
 *      late receiver, which finds all but the last `capacity` values
 *      overwritten;
 *   5. print one line per consumer and the last status.
 *
 * With drop_connection, the publisher kills the subscriber's connection
 * just before the middle message (CLIENT KILL ADDR, in the same pipeline
 * as that PUBLISH, so Redis runs it first): that message is published
 * while nobody is subscribed, which is what "at most once" means.
 */
#ifndef FANOUT_H
#define FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define FANOUT_WAIT_MS 10000     /* the longest wait for anyone to catch up */

/* Runs it against $REDIS_URL, with `consumers` consumer threads, a
 * broadcast channel of `capacity` (at least 2), and the subscriber's
 * connection events on `log` (NULL: none).  The report goes to stdout,
 * problems to stderr.  Returns the exit status (enum exit_status,
 * report.h). */
int fanout_run(size_t consumers, size_t messages, size_t capacity, bool drop_connection,
               FILE *log);

#endif
