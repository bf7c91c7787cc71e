/*
 * worker.h - the worker thread of chapter 02: chapter 01's worker, now
 * sharing a `struct locked_client` instead of a bare `struct redis_client`.
 *
 * Each worker owns a key ("ch02:thread:<id>") and runs rounds: SET the key
 * to a value naming the thread and the round, then GET it back.  Nobody else
 * writes that key, so the GET must return exactly what the SET just stored;
 * with the lock in place, it always does.
 *
 * A worker writes only to its own `struct worker` and its own report slot,
 * and main() reads them only after pthread_join(): the results need no
 * lock.  The connection, which the workers do share, is behind the lock in
 * locked_client.c.
 */
#ifndef WORKER_H
#define WORKER_H

#include <stdbool.h>
#include <stdio.h>

#include "locked_client.h"
#include "report.h"

struct worker {
    /* Set by main() before the thread starts. */
    int id;                       /* 1, 2, ...: names the key and the values */
    struct locked_client *client; /* the one locked client ALL workers share */
    long iterations;              /* rounds to run */
    bool verbose;                 /* log every command and reply to stderr */
    struct report_slot *out;      /* where the thread's line and counts go */

    /* Written by the worker's thread, read by main() after the join. */
    long rounds;                  /* rounds completed */
    long wrong_replies;           /* replies that were not the answer to our command */
    char first_wrong[1024];       /* the first of them, described; "" if none */
    char error[512];              /* the error that stopped the worker; "" if none */
};

/* The thread body: pthread_create(&t, NULL, worker_thread, &worker).
 * Runs worker->iterations rounds, or stops at the first error.  Then it
 * fills its report slot: rounds done, wrong replies, the error if one
 * stopped it, and a line saying how it did, e.g.
 *   2000 rounds, 17 wrong replies (first in round 5: GET expected value
 *   "thread 3 iteration 5", got ok "OK")
 * with "; stopped: ..." at the end if an error stopped it. */
void *worker_thread(void *worker);

#endif
