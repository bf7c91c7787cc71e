/*
 * worker.h - chapter 03's worker threads: each sends SET commands for keys
 * of its own to the manager, through a sender of its own.
 *
 * The workers never touch the connection; the manager does (manager.h).
 * Who holds a sender, and when each is given up, is the part of this
 * chapter that lives here: workers_start gives every worker a clone of the
 * caller's sender and drops the caller's, and each worker drops its clone
 * when it is done.  The manager ends only when the LAST sender is gone.
 *
 * The workers get no reply (that is chapter 04), so once everything has
 * ended, workers_verify checks the result the only way it can: it opens a
 * SEPARATE connection and reads every key back.
 */
#ifndef WORKER_H
#define WORKER_H

#include <pthread.h>
#include <stddef.h>

#include "mpsc.h"
#include "report.h"

struct worker {
    /* Set by main() before workers_start. */
    int id;                    /* 1, 2, ...: names the keys and the values */
    long iterations;           /* SET commands to send */
    const char *run_tag;       /* makes this run's values unique */
    struct report_slot *out;   /* the thread's line and counts */

    /* Set by workers_start; the sender is the thread's once it runs. */
    pthread_t thread;
    struct mpsc_sender *tx;    /* this worker's own handle to the channel */
    long sent;                 /* commands the channel accepted */
};

/* Gives each of workers[0..count) its own clone of `tx` and starts its
 * thread, then drops `tx`: the caller hands its sender over.  Returns how
 * many threads started (all of them, unless one could not be started: then
 * it says so on stderr and starts no more). */
size_t workers_start(struct worker *workers, size_t count, struct mpsc_sender *tx);

/* Waits for the first `running` workers' threads to end. */
void workers_join(struct worker *workers, size_t running);

/* Reads every key the workers SET back through a connection of its own to
 * `url` and compares it with the value they sent.  Prints "verified N keys
 * through a separate connection", or how many were missing or wrong.
 * Returns 0 (all there), 1 (some missing or wrong: the first is described
 * in err[errlen]) or -1 (no connection: the reason is in err[errlen]). */
int workers_verify(const char *url, const struct worker *workers, size_t count, char *err,
                   size_t errlen);

#endif
