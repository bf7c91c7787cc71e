/*
 * bridge.h - OS threads that are not on the loop, sending commands into
 * it: chapter 04's mpsc in, oneshot back, with the loop as the manager.
 *
 *     thread ─┐  bridge_command: mpsc_send(call), uv_async_send(wake)
 *     thread ─┼──► [ mpsc ] ──► loop: on_wake drains the queue ──► loop_client_send
 *     thread ─┘                                                      │
 *        ▲                                                            ▼
 *        └───── oneshot_recv ◄── oneshot_send(result) ◄── the call's continuation
 *
 * A real program needs this the moment some of its work is not a task: a
 * pool of threads doing blocking work (files, a library that blocks,
 * heavy computation) that must still talk to Redis through the one
 * connection the loop owns.  Only the loop's thread touches hiredis; a
 * thread hands its command over through the channel and wakes the loop
 * with uv_async_send, whose wake-ups coalesce the way a Tokio waker's do:
 * however many threads call it before the loop gets to run, the loop wakes
 * once, and drains everything queued.
 */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <pthread.h>
#include <stddef.h>

#include <uv.h>

#include "loop_client.h"
#include "mpsc.h"
#include "task.h"

struct bridge {
    uv_loop_t loop;
    struct loop_client client;
    uv_async_t wake;              /* uv_async_send: the one call safe from any thread */
    struct mpsc_receiver *rx;     /* struct bridge_call * elements; the loop's */
    pthread_t thread;             /* the loop's own thread */
    /* The loop's counters: read them after bridge_stop. */
    size_t wakeups;               /* times on_wake ran */
    size_t received;              /* commands it took from the channel */
};

/* What a thread holds to send: clone one per thread, drop it when done. */
struct bridge_handle {
    struct mpsc_sender *tx;
    uv_async_t *wake;
};

/*
 * Connects to `url` (NULL: $REDIS_URL) with a window of `window` commands,
 * makes a channel of `capacity` calls, and starts the loop on a thread of
 * its own.  *h is the first handle.  Returns 0, or -1 with the message in
 * err[errlen].
 */
int bridge_start(struct bridge *b, const char *url, size_t window, size_t capacity,
                 struct bridge_handle *h, char *err, size_t errlen);

/* A handle of one's own for another thread: 0, or ENOMEM. */
int bridge_handle_clone(const struct bridge_handle *h, struct bridge_handle *out);
void bridge_handle_drop(struct bridge_handle *h);

/* Runs a command through the loop and waits for its result (the caller's
 * to free): VALUE, NIL, OK, ERROR, or IO_ERROR when the connection is gone
 * or the loop has stopped.  From any thread but the loop's. */
struct redis_result bridge_command(struct bridge_handle *h, int argc, const char *const *argv,
                                   const size_t *argv_len);

/* Once every handle has been dropped: the loop answers what is left,
 * closes the connection and ends; its thread is joined. */
void bridge_stop(struct bridge *b);

/* The most threads thread_run starts. */
#define BRIDGE_MAX_THREADS 1024

/*
 * chapter 11's threads mode: opts->tasks OS threads (at most
 * BRIDGE_MAX_THREADS), each making opts->rounds rounds of SET and GET
 * through the bridge, exactly as a task does, with one command in flight
 * at a time.  Fills *report like task_run, and report->wakeups.  Returns
 * 0, or -1 with a message in err[errlen] when it could not start.
 */
int thread_run(const char *url, size_t window, const struct task_options *opts,
               struct task_report *report, char *err, size_t errlen);

#endif
