/*
 * worker.c - see worker.h.
 *
 * Read it in the order a run goes:
 *   workers_start   a sender of its own for each worker, then give up ours
 *   worker_main     send every SET, then drop the sender
 *   workers_verify  read every key back through a second connection
 */
#include "worker.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "redis_client.h"

/* ---- Keys and values ------------------------------------------------------ */

static int key_of(char *buf, size_t size, int thread, long i)
{
    return snprintf(buf, size, "ch03:thread:%d:%ld", thread, i);
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
    w->out->done = (size_t)w->sent;
    w->out->stopped = stopped_by != NULL;
    if (stopped_by == NULL) {
        report_line(w->out, "sent %ld SET commands", w->sent);
    } else {
        report_problem(w->out, "%s", stopped_by);
        report_line(w->out, "sent %ld of %ld SET commands; stopped: %s", w->sent,
                    w->iterations, stopped_by);
    }
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
    const char *stopped_by = NULL;
    for (long i = 1; i <= w->iterations; i++) {
        char key[64], value[128];
        int key_len = key_of(key, sizeof key, w->id, i);
        int value_len = value_of(value, sizeof value, w->run_tag, w->id, i);
        struct command cmd;
        if (command_set(&cmd, key, (size_t)key_len, value, (size_t)value_len) != 0) {
            stopped_by = "out of memory";
            break;
        }
        if (mpsc_send(w->tx, &cmd) != CHAN_OK) {
            /* CHAN_CLOSED: the manager is gone.  A failed send leaves the
             * command with us, so we free it. */
            command_free(&cmd);
            stopped_by = "the manager is gone (the channel is closed)";
            break;
        }
        w->sent++; /* the channel owns the command now; `cmd` is a stale copy */
    }
    report_worker(w, stopped_by);
    // TODO(03): this worker is done sending: drop its sender
    // (mpsc_sender_drop), or the manager will wait for it for ever.
    return NULL;
}

size_t workers_start(struct worker *workers, size_t count, struct mpsc_sender *tx)
{
    size_t running = 0;
    for (size_t i = 0; i < count; i++) {
        struct worker *w = &workers[i];
        // TODO(03): give each worker a sender of its own (mpsc_sender_clone).
        w->tx = NULL;
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            fprintf(stderr, "cannot start thread %zu: %s\n", i + 1, strerror(rc));
            mpsc_sender_drop(w->tx);
            break;
        }
        running++;
    }
    // TODO(03): the caller sends nothing itself: drop its sender here,
    // once every worker has its own clone.
    (void)tx;
    return running;
}

void workers_join(struct worker *workers, size_t running)
{
    for (size_t i = 0; i < running; i++)
        pthread_join(workers[i].thread, NULL);
}

/* ---- Checking the result through a second connection ---------------------- */

int workers_verify(const char *url, const struct worker *workers, size_t count, char *err,
                   size_t errlen)
{
    struct redis_client *check = redis_client_connect(url, NULL, err, errlen);
    if (check == NULL)
        return -1;
    long total = 0, wrong = 0;
    for (size_t t = 0; t < count; t++) {
        const struct worker *w = &workers[t];
        for (long i = 1; i <= w->iterations; i++, total++) {
            char key[64], value[128], got[REPORT_RESULT_SIZE];
            int key_len = key_of(key, sizeof key, w->id, i);
            int value_len = value_of(value, sizeof value, w->run_tag, w->id, i);
            struct redis_result r = redis_client_get(check, key, (size_t)key_len);
            bool same = r.kind == REDIS_RESULT_VALUE && r.len == (size_t)value_len &&
                        memcmp(r.data, value, r.len) == 0;
            if (!same && wrong++ == 0)
                snprintf(err, errlen, "the first: key %s should hold \"%s\" but GET gave %s",
                         key, value, report_describe_result(&r, got, sizeof got));
            redis_result_free(&r);
        }
    }
    redis_client_free(check);
    if (wrong > 0) {
        printf("verification: %ld of %ld keys missing or wrong\n", wrong, total);
        return 1;
    }
    printf("verified %ld keys through a separate connection\n", total);
    return 0;
}
