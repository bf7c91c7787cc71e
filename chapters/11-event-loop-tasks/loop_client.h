/*
 * loop_client.h - one Redis connection on a libuv event loop, shared by any
 * number of tasks, with a bounded number of commands in flight.
 *
 * Chapters 03-07 gave the connection to a manager THREAD, and every caller
 * was a thread too, asleep in oneshot_recv until its answer came.  Here
 * nobody sleeps on a command.  One thread runs an event loop (libuv): it
 * waits for the socket to become readable or writable, and calls back.
 * hiredis's asynchronous API (redisAsyncContext, attached to the loop by
 * hiredis's own adapter, hiredis/adapters/libuv.h) writes the commands and
 * reads the replies in those callbacks, and calls each command's callback
 * with its reply:
 *
 *     task ─ loop_client_send ─┐                      ┌─ reply 1 ─► task's done()
 *     task ─ loop_client_send ─┼─► [hiredis buffer] ──┼─ reply 2 ─► task's done()
 *     task ─ (window full: waits in line)             └─ ...  one thread, no sleeping
 *
 * Every command a task sends goes onto the ONE connection behind the
 * others, so commands from many tasks are pipelined with no manager and no
 * batching code: replies come back in order, and hiredis hands each to the
 * callback registered with its command.
 *
 * hiredis itself puts no limit on that: redisAsyncCommand appends to an
 * output buffer and a list of callbacks that grow without bound.  This
 * client bounds them: at most `window` commands are handed to hiredis at a
 * time, and a request sent while the window is full waits in a line of its
 * own (first come, first served) until a reply frees a slot.
 *
 * Everything here runs on the loop's thread, and only there: hiredis is
 * not thread-safe.  Other threads go through bridge.h.
 */
#ifndef LOOP_CLIENT_H
#define LOOP_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <hiredis/async.h>
#include <uv.h>

#include "redis_client.h"

struct loop_request;

/* A request's continuation: called exactly once, on the loop, with the
 * result, which the callee then owns (free it with redis_result_free). */
typedef void (*loop_request_done_fn)(struct loop_request *req, struct redis_result result);

/* One command on its way.  It lives inside whoever sends it (a task, a
 * bridged call): sending allocates nothing, and the waiting line is a list
 * threaded through the requests themselves.  argv must stay valid until
 * `done` is called. */
struct loop_request {
    int argc;
    const char *argv[3];
    size_t argv_len[3];
    loop_request_done_fn done;
    struct loop_request *next;    /* the waiting line: loop_client's alone */
};

struct loop_client {
    /* Set by loop_client_connect. */
    uv_loop_t *loop;
    size_t window;                /* the most commands handed to hiredis at once */
    unsigned command_timeout_ms;  /* no reply for that long: the connection is dropped */
    char url[320];                /* for messages; a password shows as *** */
    pthread_t owner;              /* the thread that runs the loop (bridge.c
                                     hands it to a thread of its own) */

    /* The loop's own state. */
    redisAsyncContext *ac;        /* NULL once the connection is gone */
    size_t in_flight;             /* handed to hiredis, not answered yet */
    struct loop_request *first_waiting, *last_waiting;
    size_t waiting;
    bool closing;                 /* loop_client_close was called */
    char failure[512];            /* why no command can be sent any more; "" while fine */
    uv_timer_t timer;             /* the connect deadline, then the watchdog */
    uv_check_t check;             /* after each turn of the loop: see on_check */
    size_t answered_at_tick, in_flight_at_tick;

    /* Counters, for reports and tests. */
    size_t sent;                  /* commands handed to hiredis */
    size_t answered;              /* replies that came back */
    size_t max_in_flight;         /* never more than `window` */
    size_t max_waiting;
};

/*
 * Checks `url` (NULL: $REDIS_URL) with a blocking connection first, so a
 * bad URL, a server that is not there or a wrong password is reported
 * here, before any task runs; then opens the loop's own connection on
 * `loop` (AUTH and SELECT if the URL asks for them), which comes up once
 * the loop runs.  Requests can be sent at once.  `window` is at least 1.
 * Call it on the thread that will run the loop.  Returns 0, or -1 with the
 * message in err[errlen].
 */
int loop_client_connect(struct loop_client *lc, uv_loop_t *loop, const char *url,
                        size_t window, unsigned command_timeout_ms, char *err, size_t errlen);

/* Sends req's command if the window has room, or puts it in the line.
 * req->done is called once with the result: later, from the loop - or at
 * once, with an error, when the connection is already gone. */
void loop_client_send(struct loop_client *lc, struct loop_request *req);

/* Nothing more will be sent: once every request has been answered, the
 * connection is closed and the loop can end.  Safe to call again. */
void loop_client_close(struct loop_client *lc);

#endif
