/*
 * bridge.c - threads to the loop and back (see bridge.h).
 *
 * Read it in the order a call travels:
 *   bridge_command  (a thread) copy the command, mpsc_send it, wake the
 *                   loop, wait on the oneshot
 *   on_wake         (the loop) take everything queued, send each command
 *                   on the loop's connection
 *   answer_call     (the loop) the call's continuation: the result goes
 *                   back through the oneshot, and wakes that thread
 * and then thread_run, the threads of chapter 11's threads mode.
 */
#include "bridge.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "oneshot.h"

/* The most calls on_wake takes from the channel per mpsc_recv_many. */
#define DRAIN_BATCH 256

/* One command from a thread: it travels by pointer, so its request can
 * sit in the loop client's line, and its bytes stay put, until answered. */
struct bridge_call {
    struct loop_request req;
    struct oneshot_sender *reply; /* one struct redis_result */
    char bytes[];                 /* private copies: the key, then the value */
};

static void call_free(struct bridge_call *call)
{
    oneshot_sender_drop(call->reply); /* unanswered: its thread wakes with CLOSED */
    free(call);
}

/* For the channel: calls still queued when it dies are freed. */
static void call_drop(void *elem)
{
    call_free(*(struct bridge_call **)elem);
}

static void result_drop(void *elem)
{
    redis_result_free(elem);
}

/* ---- The loop's side --------------------------------------------------------- */

/* A bridged call's continuation: the result goes home.  oneshot_send wakes
 * the waiting thread: here, and only here, a command costs a system call. */
static void answer_call(struct loop_request *req, struct redis_result result)
{
    struct bridge_call *call = (struct bridge_call *)((char *)req - offsetof(struct bridge_call, req));
    if (oneshot_send(call->reply, &result) != CHAN_OK)
        redis_result_free(&result); /* its thread left */
    call->reply = NULL;
    call_free(call);
}

static void on_wake(uv_async_t *wake)
{
    struct bridge *b = wake->data;
    b->wakeups++;
    //> snippet drain
    struct bridge_call *calls[DRAIN_BATCH];
    size_t n;
    /* Only the loop receives, so a queue that is not empty now stays so
     * until we take from it: mpsc_recv_many returns at once.  On an empty
     * queue it would wait - and stop the whole loop. */
    //> pitfall block-the-loop
    while (mpsc_len(b->rx) > 0 && (n = mpsc_recv_many(b->rx, calls, DRAIN_BATCH)) > 0) {
    //| mistake
    //| for (bool once = true; once && (n = mpsc_recv_many(b->rx, calls, DRAIN_BATCH)) > 0; once = false) {
    //< pitfall block-the-loop
        b->received += n;
        for (size_t i = 0; i < n; i++)
            loop_client_send(&b->client, &calls[i]->req);
    }
    /* Every handle is gone and the queue is drained: nothing more can come. */
    if (mpsc_is_closed(b->rx) && mpsc_len(b->rx) == 0) {
        uv_close((uv_handle_t *)wake, NULL);
        loop_client_close(&b->client);
    }
    //< snippet drain
}

static void *loop_main(void *arg)
{
    struct bridge *b = arg;
    loop_client_adopt(&b->client);
    /* Returns when the wake handle and the connection are both closed. */
    uv_run(&b->loop, UV_RUN_DEFAULT);
    return NULL;
}

int bridge_start(struct bridge *b, const char *url, size_t window, size_t capacity,
                 struct bridge_handle *h, char *err, size_t errlen)
{
    *b = (struct bridge){ .wakeups = 0 };
    *h = (struct bridge_handle){ .wake = &b->wake };
    int rc = uv_loop_init(&b->loop);
    if (rc != 0) {
        snprintf(err, errlen, "cannot make an event loop: %s", uv_strerror(rc));
        return -1;
    }
    if (loop_client_connect(&b->client, &b->loop, url, window, 10000, err, errlen) != 0) {
        uv_loop_close(&b->loop);
        return -1;
    }
    rc = mpsc_channel(capacity, sizeof(struct bridge_call *), call_drop, &h->tx, &b->rx);
    if (rc == 0) {
        uv_async_init(&b->loop, &b->wake, on_wake);
        b->wake.data = b;
        rc = pthread_create(&b->thread, NULL, loop_main, b);
        if (rc != 0)
            uv_close((uv_handle_t *)&b->wake, NULL);
    }
    if (rc != 0) { /* the loop never ran: close what it has, here */
        snprintf(err, errlen, "cannot start the loop: %s", strerror(rc));
        mpsc_sender_drop(h->tx);
        h->tx = NULL;
        mpsc_receiver_drop(b->rx);
        loop_client_close(&b->client);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        uv_loop_close(&b->loop);
        return -1;
    }
    return 0;
}

void bridge_stop(struct bridge *b)
{
    /* The channel is closed (every handle dropped): one last wake-up makes
     * the loop see it.  The loop may have seen it already and closed the
     * handle; a send to a closed handle is harmless while the loop exists. */
    uv_async_send(&b->wake);
    pthread_join(b->thread, NULL);
    mpsc_receiver_drop(b->rx);
    uv_loop_close(&b->loop);
}

/* ---- The threads' side ----------------------------------------------------------- */

int bridge_handle_clone(const struct bridge_handle *h, struct bridge_handle *out)
{
    *out = (struct bridge_handle){ .tx = mpsc_sender_clone(h->tx), .wake = h->wake };
    return out->tx != NULL ? 0 : ENOMEM;
}

void bridge_handle_drop(struct bridge_handle *h)
{
    mpsc_sender_drop(h->tx);
    h->tx = NULL;
}

//> snippet bridge_command
struct redis_result bridge_command(struct bridge_handle *h, int argc, const char *const *argv,
                                   const size_t *argv_len)
{
    size_t bytes = 0;
    for (int i = 1; i < argc && i < 3; i++)
        bytes += argv_len[i];
    struct bridge_call *call = malloc(sizeof *call + bytes);
    struct oneshot_receiver *reply_rx = NULL;
    if (call == NULL || argc < 2 || argc > 3 ||
        oneshot_channel(sizeof(struct redis_result), result_drop, &call->reply, &reply_rx) != 0) {
        free(call);
        return redis_result_error(REDIS_RESULT_IO_ERROR, "cannot make a bridged call");
    }
    /* The thread's buffers are its own to reuse at once: copy the bytes. */
    call->req = (struct loop_request){ .argc = argc, .done = answer_call };
    char *at = call->bytes;
    for (int i = 0; i < argc; i++) {
        call->req.argv_len[i] = argv_len[i];
        call->req.argv[i] = i == 0 ? argv[0] : memcpy(at, argv[i], argv_len[i]);
        at += i == 0 ? 0 : argv_len[i];
    }
    //> pitfall hiredis-off-loop
    if (mpsc_send(h->tx, &call) != CHAN_OK) {
        call_free(call);
        oneshot_receiver_drop(reply_rx);
        return redis_result_error(REDIS_RESULT_IO_ERROR, "the loop has stopped");
    }
    uv_async_send(h->wake); /* coalesces: one wake-up for many sends */
    //| mistake
    //| struct bridge *b = (struct bridge *)((char *)h->wake - offsetof(struct bridge, wake));
    //| loop_client_send(&b->client, &call->req); /* hiredis, from this thread */
    //< pitfall hiredis-off-loop
    struct redis_result result;
    if (oneshot_recv(reply_rx, &result) != CHAN_OK)
        result = redis_result_error(REDIS_RESULT_IO_ERROR, "the loop dropped the call");
    oneshot_receiver_drop(reply_rx);
    return result;
}
//< snippet bridge_command

/* ---- Chapter 11's threads mode -------------------------------------------------- */

struct worker {
    pthread_t thread;
    struct bridge_handle h;
    const struct task_options *opts;
    size_t id;
    struct task_report report; /* this thread's own counts, summed after the join */
};

/* A bridged command's answer checked (task_check), counted and freed. */
static bool right(struct worker *w, size_t round, struct redis_result r, const char *value)
{
    bool ok = task_check(&w->report, "thread", w->id, round, &r, value, w->opts->value_size);
    w->report.commands++;
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
    if (!ok)
        snprintf(w->report.problem, sizeof w->report.problem, "thread %zu: out of memory", w->id);
    for (size_t round = 0; ok && round < o->rounds; round++) {
        task_value(value, o->value_size, w->id, round);
        ok = right(w, round,
                   bridge_command(&w->h, 3, (const char *[]){ "SET", key, value },
                                  (const size_t[]){ 3, key_len, o->value_size }),
                   NULL) &&
             right(w, round,
                   bridge_command(&w->h, 2, (const char *[]){ "GET", key },
                                  (const size_t[]){ 3, key_len }),
                   value);
    }
    if (o->log != NULL)
        fprintf(o->log, "thread %zu: %s\n", w->id, ok ? "done" : "FAILED");
    w->report.succeeded = ok;
    w->report.failed = !ok;
    free(value);
    bridge_handle_drop(&w->h);
    return NULL;
}

int thread_run(const char *url, size_t window, const struct task_options *opts,
               struct task_report *report, char *err, size_t errlen)
{
    *report = (struct task_report){ .window = window };
    if (opts->tasks > BRIDGE_MAX_THREADS) {
        snprintf(err, errlen, "at most %d threads", BRIDGE_MAX_THREADS);
        return -1;
    }
    task_cost_begin(report);
    struct task_options o = *opts;
    if (o.value_size < TASK_MIN_VALUE_SIZE)
        o.value_size = TASK_MIN_VALUE_SIZE;
    struct worker *ws = calloc(o.tasks, sizeof *ws);
    struct bridge b;
    struct bridge_handle h;
    /* A slot per thread: a thread has one call in flight, so no send waits. */
    if (ws == NULL || bridge_start(&b, url, window, o.tasks, &h, err, errlen) != 0) {
        if (ws == NULL)
            snprintf(err, errlen, "out of memory for %zu threads", o.tasks);
        free(ws);
        return -1;
    }
    size_t started = 0;
    for (; started < o.tasks; started++) {
        struct worker *w = &ws[started];
        *w = (struct worker){ .opts = &o, .id = started };
        if (bridge_handle_clone(&h, &w->h) != 0 ||
            pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            bridge_handle_drop(&w->h);
            snprintf(report->problem, sizeof report->problem, "could start only %zu threads",
                     started);
            break;
        }
    }
    bridge_handle_drop(&h);
    for (size_t i = 0; i < started; i++) {
        pthread_join(ws[i].thread, NULL);
        struct task_report *r = &ws[i].report;
        report->succeeded += r->succeeded;
        report->failed += r->failed;
        report->commands += r->commands;
        report->wrong_values += r->wrong_values;
        if (report->problem[0] == '\0')
            memcpy(report->problem, r->problem, sizeof r->problem);
    }
    bridge_stop(&b);
    report->failed += o.tasks - started;
    report->sent = b.client.sent;
    report->max_in_flight = b.client.max_in_flight;
    report->max_waiting = b.client.max_waiting;
    report->wakeups = b.wakeups;
    free(ws);
    task_cost_end(report);
    return 0;
}
