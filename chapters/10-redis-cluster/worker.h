/*
 * worker.h - chapter 07's worker threads: each sends SETs and GETs for keys
 * of its own through the cluster's managers, and checks every answer.
 *
 * Each thread owns `keys` keys and makes `requests` requests: SET a key to
 * a new value, then GET it back and check it is that value, and so on over
 * its keys.  The check is exact because only this thread writes these
 * keys and the pool keeps the commands for one key in order: a GET can
 * only see the SET sent just before it.  After a SET that failed the GET
 * is not checked: a SET whose connection broke may or may not have run.
 *
 * Unlike chapter 04's workers, these go on after an error: a pool's
 * managers reconnect, and the requests after the outage must succeed.
 */
#ifndef WORKER_H
#define WORKER_H

#include <stddef.h>

#include "cluster.h"
#include "report.h"

struct worker {
    /* Set by main() before the thread starts. */
    struct cluster *pool;    /* the pool of managers, one per master: shared by
                                every worker, cluster_send is thread-safe */
    const char *prefix;      /* its keys are "<prefix>:<pid>:t<index>:k<n>" */
    size_t index;            /* 1, 2, ...: names the keys and the values */
    size_t requests;         /* to send, SET and GET in turn */
    size_t keys;             /* keys of its own */
    struct report_slot *out; /* right answers (done), wrong ones, errors */
};

/* The thread body: report_start_threads(&report, worker_main). */
void *worker_main(void *worker);

#endif
