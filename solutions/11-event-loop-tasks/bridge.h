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
    struct loop_client client;    /* its counters stay readable after bridge_stop */
    uv_async_t wake;              /* uv_async_send: the one call safe from any thread */
    struct mpsc_sender *tx;       /* struct bridge_call * elements: one sender,
                                     shared by every thread (mpsc.h) */
    struct mpsc_receiver *rx;     /* the loop's */
    pthread_t thread;             /* the loop's own thread */
    size_t wakeups;               /* times on_wake ran; read it after bridge_stop */
};

/*
 * Connects to `url` (NULL: $REDIS_URL) with a window of `window` commands,
 * makes a channel of `capacity` calls, and starts the loop on a thread of
 * its own.  Returns 0, or -1 with the message in err[errlen].
 */
int bridge_start(struct bridge *b, const char *url, size_t window, size_t capacity, char *err,
                 size_t errlen);

/* Runs a command (at most 3 arguments) through the loop and waits for its
 * result (the caller's to free): VALUE, NIL, OK, ERROR, or IO_ERROR when
 * the connection is gone or the loop has stopped.  From any thread but the
 * loop's, any number at once. */
struct redis_result bridge_command(struct bridge *b, int argc, const char *const *argv,
                                   const size_t *argv_len);

/* Once no thread sends any more: drops the sender, so that the loop
 * answers what is left, closes the connection and ends; joins its thread. */
void bridge_stop(struct bridge *b);

/* The most threads thread_run starts. */
#define BRIDGE_MAX_THREADS 1024

/*
 * Chapter 11's threads mode: opts->tasks OS threads (at most
 * BRIDGE_MAX_THREADS), numbered from 1, each
 * making opts->rounds rounds of SET and GET through the bridge, exactly as
 * a task does, with one command in flight at a time.  Counts go to *out as
 * task_run's do (task.h); *b keeps the loop's counters afterwards.
 * Returns 0, or -1 with a message in err[errlen] when it could not start.
 */
int thread_run(struct bridge *b, const char *url, size_t window, const struct task_options *opts,
               struct report_slot *out, char *err, size_t errlen);

#endif
