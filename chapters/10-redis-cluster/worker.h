/*
 * worker.h - the program's load: threads that SET keys of their own
 * through the cluster and GET them back, checking every answer.
 *
 * Each thread owns `keys` keys and makes `requests` requests: SET a key to
 * a new value, then GET it back, and so on over its keys.  The check is
 * exact because only this thread writes these keys and a command is
 * answered only once the node that has the key ran it: a GET sees the SET
 * sent just before it, wherever the key's slot is, even while it moves.
 * (After a SET that failed, the GET is not checked: a SET whose connection
 * broke may or may not have run.)
 */
#ifndef WORKER_H
#define WORKER_H

#include <stddef.h>

#include "cluster.h"

struct workload {
    size_t threads, requests, keys;
};

struct workload_result {
    size_t threads_run;            /* < threads if some could not start */
    size_t sent, right, wrong, errors;
    char first_problem[600];       /* "" when there was none */
    double seconds;
};

/* Runs the workload on `cluster` and waits for every thread. */
void workload_run(struct cluster *cluster, const struct workload *w,
                  struct workload_result *out);

#endif
