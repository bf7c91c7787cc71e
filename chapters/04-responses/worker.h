/*
 * worker.h - chapter 04's worker threads: each SETs keys of its own and
 * GETs them back through the manager, and checks every answer it gets.
 *
 * The workers never touch the connection; the manager does (manager.h).
 * Who holds a sender, and when each is given up, is the part of this
 * chapter that lives here: workers_start gives every worker a clone of the
 * caller's sender and drops the caller's, and each worker drops its clone
 * when it is done.  The manager ends only when the LAST sender is gone.
 *
 * Unlike chapter 03's, these workers get the result of each of their own
 * commands (client.h), so nobody has to read the keys back afterwards.
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
    long iterations;           /* SET + GET rounds to run */
    const char *run_tag;       /* makes this run's values unique */
    struct report_slot *out;   /* the thread's line and counts */

    /* Set by workers_start; the sender is the thread's once it runs. */
    pthread_t thread;
    struct mpsc_sender *tx;    /* this worker's own handle to the channel */
    long rounds;               /* rounds whose answers were all right */
};

/* Gives each of workers[0..count) its own clone of `tx` and starts its
 * thread, then drops `tx`: the caller hands its sender over.  Returns how
 * many threads started (all of them, unless one could not be started: then
 * it says so on stderr and starts no more). */
size_t workers_start(struct worker *workers, size_t count, struct mpsc_sender *tx);

/* Waits for the first `running` workers' threads to end. */
void workers_join(struct worker *workers, size_t running);

#endif
