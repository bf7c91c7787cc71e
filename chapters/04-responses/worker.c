/*
 * worker.c - see worker.h.
 *
 * Read it in the order a run goes:
 *   workers_start   a sender of its own for each worker, then give up ours
 *   worker_main     SET and GET every key, checking each answer, then drop
 *                   the sender
 */
#include "worker.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "redis_client.h"

/* ---- Keys and values ------------------------------------------------------ */

static int key_of(char *buf, size_t size, int thread, long i)
{
    return snprintf(buf, size, "ch04:thread:%d:%ld", thread, i);
}

/* The run tag (pid and start time) keeps a key written by an earlier run
 * from passing the check of this one. */
static int value_of(char *buf, size_t size, const char *run_tag, int thread, long i)
{
    return snprintf(buf, size, "thread %d iteration %ld (run %s)", thread, i, run_tag);
}

/* ---- The worker ------------------------------------------------------------ */

/* Says in the worker's report slot how it did. */
static void report_worker(const struct worker *w, const char *stopped_by)
{
    w->out->done = (size_t)w->rounds;
    w->out->stopped = stopped_by != NULL;
    if (stopped_by == NULL)
        report_line(w->out, "%ld rounds, every value matched", w->rounds);
    else
        report_line(w->out, "%ld of %ld rounds; stopped: %s", w->rounds, w->iterations,
                    stopped_by);
}

/* Checks one answer: true if it is `want` (a kind, and for a value its
 * bytes); else describes it in w->out->problem and counts it. */
static bool answer_is(struct worker *w, const char *what, const char *key,
                      const struct redis_result *got, enum redis_result_kind want,
                      const char *value, size_t value_len)
{
    if (got->kind == want && (want != REDIS_RESULT_VALUE ||
                              (got->len == value_len && memcmp(got->data, value, value_len) == 0)))
        return true;
    char described[REPORT_RESULT_SIZE];
    w->out->errors += redis_result_is_error(got);
    w->out->wrong += !redis_result_is_error(got);
    report_problem(w->out, "%s %s gave %s%s%s", what, key,
                   report_describe_result(got, described, sizeof described),
                   redis_result_is_error(got) ? "" : ", not ", redis_result_is_error(got) ? "" : value);
    return false;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    if (w->tx == NULL) {
        w->out->stopped = true;
        report_problem(w->out, "it has no sender of its own");
        report_line(w->out, "sent nothing: it has no sender of its own (mpsc_sender_clone "
                    "failed or was never called)");
        return NULL;
    }
    for (long i = 1; i <= w->iterations; i++) {
        char key[64], value[128];
        int key_len = key_of(key, sizeof key, w->id, i);
        int value_len = value_of(value, sizeof value, w->run_tag, w->id, i);

        /* Each call sends one command and waits for its own answer. */
        struct redis_result set = client_set(w->tx, key, (size_t)key_len,
                                             value, (size_t)value_len);
        bool right = answer_is(w, "SET", key, &set, REDIS_RESULT_OK, NULL, 0);
        redis_result_free(&set);
        if (!right)
            break;

        struct redis_result got = client_get(w->tx, key, (size_t)key_len);
        right = answer_is(w, "GET", key, &got, REDIS_RESULT_VALUE, value, (size_t)value_len);
        redis_result_free(&got);
        if (!right)
            break;
        w->rounds++;
    }
    const char *stopped_by = w->out->problem[0] != '\0' ? w->out->problem : NULL;
    report_worker(w, stopped_by);
    /* Done sending: give up our handle.  Until every handle is gone the
     * manager must assume more commands may come. */
    mpsc_sender_drop(w->tx);
    w->tx = NULL;
    return NULL;
}

size_t workers_start(struct worker *workers, size_t count, struct mpsc_sender *tx)
{
    size_t running = 0;
    for (size_t i = 0; i < count; i++) {
        struct worker *w = &workers[i];
        /* Each worker gets a handle of its own, and drops it when done. */
        w->tx = mpsc_sender_clone(tx);
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            fprintf(stderr, "cannot start thread %zu: %s\n", i + 1, strerror(rc));
            mpsc_sender_drop(w->tx);
            break;
        }
        running++;
    }
    /* The caller sends nothing itself, so its sender goes now, not at the
     * end: the manager runs until the LAST sender is dropped, and the
     * caller's own would keep it waiting for ever. */
    mpsc_sender_drop(tx);
    return running;
}

void workers_join(struct worker *workers, size_t running)
{
    for (size_t i = 0; i < running; i++)
        pthread_join(workers[i].thread, NULL);
}
