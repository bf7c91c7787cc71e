/*
 * bridge.c - threads to the loop and back (see bridge.h).
 *
 * Read it in the order a call travels:
 *   bridge_command  (a thread) a call on its stack: mpsc_send it, wake the
 *                   loop, wait on the oneshot
 *   on_wake         (the loop) take everything queued, send each command
 *                   on the loop's connection
 *   answer_call     (the loop) the call's continuation: the result goes
 *                   back through the oneshot, and wakes that thread
 * and then thread_run, the threads of chapter 11's threads mode.
 */
#include "bridge.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "oneshot.h"

/* The most calls on_wake takes from the channel per mpsc_recv_many. */
#define DRAIN_BATCH 256

/* One command from a thread.  It lives on that thread's stack: the thread
 * waits for the answer, so the call, and the arguments it points to, stay
 * put until the loop has answered - the last thing the loop does with it. */
struct bridge_call {
    struct loop_request req;
    struct oneshot_sender *reply; /* one struct redis_result */
};

/* For the channel: a call still queued when it dies is answered with
 * CHAN_CLOSED. */
static void call_drop(void *elem)
{
    oneshot_sender_drop((*(struct bridge_call **)elem)->reply);
}

static void result_drop(void *elem)
{
    redis_result_free(elem);
}

/* ---- The loop's side --------------------------------------------------------- */

/* A bridged call's continuation: the result goes home.  oneshot_send wakes
 * the waiting thread: here, and only here, a command costs a system call.
 * After it, the call may be gone with its thread's stack frame. */
static void answer_call(struct loop_request *req, struct redis_result result)
{
    struct bridge_call *call = (struct bridge_call *)((char *)req - offsetof(struct bridge_call, req));
    if (oneshot_send(call->reply, &result) != CHAN_OK)
        redis_result_free(&result); /* its thread left */
}

static void on_wake(uv_async_t *wake)
{
    struct bridge *b = wake->data;
    b->wakeups++;
    struct bridge_call *calls[DRAIN_BATCH];
    size_t n;
    /* Only the loop receives, so a queue that is not empty now stays so
     * until we take from it: mpsc_recv_many returns at once.  On an empty
     * queue it would wait - and stop the whole loop. */
    while (mpsc_len(b->rx) > 0 && (n = mpsc_recv_many(b->rx, calls, DRAIN_BATCH)) > 0) {
        for (size_t i = 0; i < n; i++)
            loop_client_send(&b->client, &calls[i]->req);
    }
    /* The sender is gone and the queue is drained: nothing more can come. */
    if (mpsc_is_closed(b->rx) && mpsc_len(b->rx) == 0) {
        uv_close((uv_handle_t *)wake, NULL);
        loop_client_close(&b->client);
    }
}

static void *loop_main(void *arg)
{
    struct bridge *b = arg;
    b->client.owner = pthread_self(); /* the loop, and hiredis, are this thread's now */
    /* Returns when the wake handle and the connection are both closed. */
    uv_run(&b->loop, UV_RUN_DEFAULT);
    return NULL;
}

int bridge_start(struct bridge *b, const char *url, size_t window, size_t capacity, char *err,
                 size_t errlen)
{
    *b = (struct bridge){ .wakeups = 0 };
    int rc = mpsc_channel(capacity, sizeof(struct bridge_call *), call_drop, &b->tx, &b->rx);
    if (rc == 0 && (rc = uv_loop_init(&b->loop)) == 0 &&
        loop_client_connect(&b->client, &b->loop, url, window, 10000, err, errlen) != 0) {
        uv_loop_close(&b->loop);
        rc = -1; /* err says why */
    } else if (rc == 0) {
        uv_async_init(&b->loop, &b->wake, on_wake);
        b->wake.data = b;
        if ((rc = pthread_create(&b->thread, NULL, loop_main, b)) == 0)
            return 0;
        /* The loop never ran: close what it has, here. */
        uv_close((uv_handle_t *)&b->wake, NULL);
        loop_client_close(&b->client);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        uv_loop_close(&b->loop);
    }
    if (rc > 0)
        snprintf(err, errlen, "cannot start the loop: %s", strerror(rc));
    mpsc_sender_drop(b->tx);
    mpsc_receiver_drop(b->rx);
    return -1;
}

void bridge_stop(struct bridge *b)
{
    /* The channel closes; one last wake-up makes the loop see it. */
    mpsc_sender_drop(b->tx);
    b->tx = NULL;
    uv_async_send(&b->wake);
    pthread_join(b->thread, NULL);
    mpsc_receiver_drop(b->rx);
    uv_loop_close(&b->loop);
}

/* ---- The threads' side ----------------------------------------------------------- */

struct redis_result bridge_command(struct bridge *b, int argc, const char *const *argv,
                                   const size_t *argv_len)
{
    struct bridge_call call = { .req = { .argc = argc, .done = answer_call } };
    struct bridge_call *sent = &call;
    struct oneshot_receiver *reply_rx;
    if (argc < 1 || argc > 3 ||
        oneshot_channel(sizeof(struct redis_result), result_drop, &call.reply, &reply_rx) != 0)
        return redis_result_error(REDIS_RESULT_IO_ERROR, "cannot make a bridged call");
    memcpy(call.req.argv, argv, (size_t)argc * sizeof *argv);
    memcpy(call.req.argv_len, argv_len, (size_t)argc * sizeof *argv_len);
    if (mpsc_send(b->tx, &sent) != CHAN_OK) {
        oneshot_sender_drop(call.reply);
        oneshot_receiver_drop(reply_rx);
        return redis_result_error(REDIS_RESULT_IO_ERROR, "the loop has stopped");
    }
    uv_async_send(&b->wake); /* coalesces: one wake-up for many sends */
    struct redis_result result;
    if (oneshot_recv(reply_rx, &result) != CHAN_OK)
        result = redis_result_error(REDIS_RESULT_IO_ERROR, "the loop dropped the call");
    oneshot_receiver_drop(reply_rx);
    return result;
}

/* ---- Chapter 11's threads mode -------------------------------------------------- */

struct worker {
    struct bridge *b;
    const struct task_options *opts;
    size_t id;                /* 1, 2, ... */
    struct report_slot *out;  /* this thread's own counts */
};

/* A bridged command's answer, checked (task_check) and freed. */
static bool right(struct worker *w, size_t round, struct redis_result r, const char *value)
{
    bool ok = task_check(w->out, "thread", w->id, round, &r, value, w->opts->value_size);
    redis_result_free(&r);
    return ok;
}

/* A task's rounds, written as a thread: a blocking call per command. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct task_options *o = w->opts;
    char key[128], *value = malloc(o->value_size);
    size_t key_len = task_key(key, sizeof key, o->key_prefix, w->id);
    bool ok = value != NULL;
    if (!ok) {
        w->out->errors++;
        report_problem(w->out, "thread %zu: out of memory", w->id);
    }
    for (size_t round = 0; ok && round < o->rounds; round++) {
        task_value(value, o->value_size, w->id, round);
        ok = right(w, round,
                   bridge_command(w->b, 3, (const char *[]){ "SET", key, value },
                                  (const size_t[]){ 3, key_len, o->value_size }),
                   NULL) &&
             right(w, round,
                   bridge_command(w->b, 2, (const char *[]){ "GET", key },
                                  (const size_t[]){ 3, key_len }),
                   value);
    }
    w->out->done = ok;
    if (o->log != NULL)
        fprintf(o->log, "thread %zu: %s\n", w->id, ok ? "done" : "FAILED");
    free(value);
    return NULL;
}

int thread_run(struct bridge *b, const char *url, size_t window, const struct task_options *opts,
               struct report_slot *out, char *err, size_t errlen)
{
    if (opts->tasks > BRIDGE_MAX_THREADS) {
        snprintf(err, errlen, "at most %d threads", BRIDGE_MAX_THREADS);
        return -1;
    }
    struct task_options o = *opts;
    if (o.value_size < TASK_MIN_VALUE_SIZE)
        o.value_size = TASK_MIN_VALUE_SIZE;
    /* A slot per thread: a thread has one call in flight, so no send waits. */
    if (bridge_start(b, url, window, o.tasks, err, errlen) != 0)
        return -1;
    struct report threads;
    report_init(&threads, "11-event-loop-tasks", o.tasks, sizeof(struct worker));
    struct worker *workers = threads.workers;
    for (size_t i = 0; i < o.tasks; i++)
        workers[i] = (struct worker){ .b = b, .opts = &o, .id = i + 1, .out = &threads.slots[i] };
    report_start_threads(&threads, worker_main);
    report_join_threads(&threads);
    bridge_stop(b);

    struct report_totals t = report_totals(&threads);
    out->done += t.done;
    out->wrong += t.wrong;
    out->errors += t.errors + (o.tasks - threads.started);
    const char *first = report_first_problem(&threads);
    if (first != NULL || threads.started < o.tasks)
        report_problem(out, "%s", first != NULL ? first : "not every thread could start");
    report_free(&threads);
    return 0;
}
