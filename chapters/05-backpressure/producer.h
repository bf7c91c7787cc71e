/*
 * producer.h - chapter 05's experiment: one producer floods the manager
 * with SETs while Redis is paused, and the channel between them decides
 * what happens to the surplus.
 *
 *     producer ──SET, SET, SET, ...──► [ channel ] ──► manager ──► Redis (paused)
 *      fast                             capacity?        slow        stalled
 *
 * Three ways to send, one per mode (enum flood_mode, common/flood.h):
 *
 *   FLOOD_BLOCK      bounded channel, mpsc_send: when the channel is full
 *                    the producer waits for room.  It slows down to the
 *                    pace of Redis; memory stays flat.  That is backpressure.
 *   FLOOD_TRY        bounded channel, mpsc_try_send: when the channel is
 *                    full the command is refused at once (CHAN_FULL) and
 *                    the producer decides what to do; here it counts it as
 *                    rejected and frees it.  Memory stays flat, work is lost
 *                    - visibly.
 *   FLOOD_UNBOUNDED  unbounded channel: every send succeeds at once, and
 *                    every command Redis cannot take yet waits in memory.
 *
 * Every command is fire and forget (reply NULL): nobody waits for its
 * answer, so the counters of struct flood_report (common/flood.h) say how
 * each one ended, and flood_print_report and flood_judge say what they mean.
 */
#ifndef PRODUCER_H
#define PRODUCER_H

#include <stddef.h>
#include <stdio.h>

#include "flood.h"

struct flood_options {
    const char *url;        /* NULL: $REDIS_URL */
    enum flood_mode mode;
    size_t count;           /* SETs to issue, to keys "ch05:flood:<n>" */
    size_t value_size;      /* bytes per value */
    size_t capacity;        /* the channel's, in the bounded modes */
    unsigned pause_ms;      /* CLIENT PAUSE Redis this long before the flood
                               (0: no pause).  Keep it well below the
                               manager's 10 s command timeout. */
    FILE *log;              /* live log (producer and manager), or NULL */
};

/*
 * Starts a manager on `opts->url`, pauses Redis if asked, sends
 * `opts->count` SETs of `opts->value_size` bytes in the chosen mode, drops
 * the sender, waits for the manager to end and fills *report.
 * Returns 0 when the flood ran (failures during the run are in the report:
 * `failed`, `problem`), or -1 with a message in err[errlen] when it could
 * not start (Redis unreachable, the pause refused, no memory).
 */
int flood_run(const struct flood_options *opts, struct flood_report *report, char *err,
              size_t errlen);

#endif
