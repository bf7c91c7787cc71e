/*
 * loop_client.c - the connection on the loop, and its window (see
 * loop_client.h).
 *
 * Read it in the order a command lives:
 *   loop_client_send   room in the window: hand it to hiredis; else: wait in line
 *   on_reply           hiredis calls back with the reply: a slot is free
 *                      again, the next in line goes, then the continuation
 *   connection_lost    no reply will ever come: every request, handed over
 *                      or waiting, gets the error
 * and around them: the watchdog timer, closing, connecting.
 */
#include "loop_client.h"

#include <stdarg.h>
#include <stdio.h>

#include <hiredis/adapters/libuv.h>

/* Records the first reason the connection became unusable; later ones
 * only repeat it. */
static void record_failure(struct loop_client *lc, const char *fmt, ...)
{
    if (lc->failure[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lc->failure, sizeof lc->failure, fmt, ap);
    va_end(ap);
}

static struct redis_result failure_result(const struct loop_client *lc)
{
    return redis_result_error(REDIS_RESULT_IO_ERROR, "%s", lc->failure);
}

/* ---- The waiting line ------------------------------------------------------ */

static void line_push(struct loop_client *lc, struct loop_request *req)
{
    req->next = NULL;
    if (lc->last_waiting != NULL)
        lc->last_waiting->next = req;
    else
        lc->first_waiting = req;
    lc->last_waiting = req;
    if (++lc->waiting > lc->max_waiting)
        lc->max_waiting = lc->waiting;
}

static struct loop_request *line_pop(struct loop_client *lc)
{
    struct loop_request *req = lc->first_waiting;
    if (req == NULL)
        return NULL;
    lc->first_waiting = req->next;
    if (lc->first_waiting == NULL)
        lc->last_waiting = NULL;
    lc->waiting--;
    return req;
}

/* No reply will come: everyone still in line gets the error.  A request
 * answered here may send again; loop_client_send answers it at once. */
static void fail_waiting(struct loop_client *lc)
{
    struct loop_request *req;
    while ((req = line_pop(lc)) != NULL)
        req->done(req, failure_result(lc));
}

/* ---- Sending ---------------------------------------------------------------- */

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Hands req's command to hiredis: appended to its output buffer, written
 * when the loop next finds the socket writable, with on_reply registered
 * for its reply.  Takes a slot of the window. */
static void issue(struct loop_client *lc, struct loop_request *req)
{
    if (redisAsyncCommandArgv(lc->ac, on_reply, req, req->argc, req->argv, req->argv_len) !=
        REDIS_OK) {
        req->done(req, redis_result_error(REDIS_RESULT_IO_ERROR,
                                          "hiredis refused the command (out of memory?)"));
        return;
    }
    lc->sent++;
    if (++lc->in_flight > lc->max_in_flight)
        lc->max_in_flight = lc->in_flight;
}

/* After a reply freed a slot: the requests at the head of the line go, as
 * long as the window has room. */
//> snippet admit_waiting
static void admit_waiting(struct loop_client *lc)
{
    //> exercise 11
    while (lc->in_flight < lc->window && lc->first_waiting != NULL)
        issue(lc, line_pop(lc));
    //| starter
    //| // TODO(11): a reply has freed a slot of the window.  While there is
    //| // room (lc->in_flight < lc->window) and someone waits in line, take
    //| // the first one (line_pop) and issue it.
    //| (void)lc;
    //< exercise 11
}
//< snippet admit_waiting

//> snippet loop_client_send
void loop_client_send(struct loop_client *lc, struct loop_request *req)
{
    /* hiredis is not thread-safe, and C cannot refuse the call at compile
     * time the way Rust refuses a value that is not Send: check instead. */
    if (!pthread_equal(lc->owner, pthread_self())) {
        req->done(req, redis_result_error(REDIS_RESULT_IO_ERROR,
                                          "loop_client_send was called from a thread that does "
                                          "not run the loop (hiredis is not thread-safe)"));
        return;
    }
    if (lc->failure[0] != '\0') { /* the connection is gone: answer now */
        req->done(req, failure_result(lc));
        return;
    }
    //> exercise 11
    //> pitfall unbounded-window
    if (lc->in_flight < lc->window)
        issue(lc, req);
    else
        line_push(lc, req); /* its turn comes in admit_waiting */
    //| mistake
    //| if (lc->first_waiting == NULL) /* "nobody waits, so go": nobody ever does */
    //|     issue(lc, req);
    //| else
    //|     line_push(lc, req);
    //< pitfall unbounded-window
    //| starter
    //| // TODO(11): bound what hiredis holds.  If fewer than lc->window
    //| // commands are in flight, issue the request; otherwise line_push it:
    //| // admit_waiting issues it when a reply frees a slot.  Until then
    //| // every command goes to hiredis at once, with no bound at all.
    //| (void)line_push;
    //| issue(lc, req);
    //< exercise 11
}
//< snippet loop_client_send

/* ---- Replies and failures --------------------------------------------------- */

/* Closes what is ours once the connection is gone (the adapter closes its
 * own poll handle). */
static void close_handles(struct loop_client *lc)
{
    if (!uv_is_closing((uv_handle_t *)&lc->timer))
        uv_close((uv_handle_t *)&lc->timer, NULL);
    if (!uv_is_closing((uv_handle_t *)&lc->check))
        uv_close((uv_handle_t *)&lc->check, NULL);
}

/* Closes the connection once nothing is owed to anyone (loop_client_close). */
static void disconnect_when_done(struct loop_client *lc)
{
    if (lc->closing && lc->ac != NULL && lc->failure[0] == '\0' && lc->in_flight == 0 &&
        lc->waiting == 0)
        redisAsyncDisconnect(lc->ac); /* on_disconnect follows */
}

/* hiredis gives up on the connection: it calls on_reply with NULL for every
 * command in flight, then on_disconnect. */
static void connection_lost(struct loop_client *lc, const redisAsyncContext *ac)
{
    record_failure(lc, "connection lost: %s (talking to %s)",
                   ac->errstr != NULL && ac->errstr[0] != '\0' ? ac->errstr : "closed", lc->url);
    fail_waiting(lc);
}

//> snippet on_reply
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct loop_client *lc = ac->data;
    struct loop_request *req = privdata;
    lc->in_flight--;
    struct redis_result result;
    if (reply == NULL) { /* no reply will come, for this one or any other */
        connection_lost(lc, ac);
        result = failure_result(lc);
    } else {
        lc->answered++;
        /* hiredis frees the reply when we return: keep a copy. */
        result = redis_result_from_reply(reply);
        admit_waiting(lc);
    }
    req->done(req, result); /* the task's next step: a function call */
    disconnect_when_done(lc);
}
//< snippet on_reply

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct loop_client *lc = ac->data;
    if (status != REDIS_OK)
        connection_lost(lc, ac);
    record_failure(lc, "the connection to %s was closed", lc->url);
    lc->ac = NULL; /* hiredis frees the context after this returns */
    fail_waiting(lc);
    close_handles(lc);
}

/* The watchdog: commands were in flight at the last tick, and not one
 * reply came since.  hiredis (0.14) has no command timeout of its own. */
static void on_tick(uv_timer_t *timer)
{
    struct loop_client *lc = timer->data;
    if (lc->ac != NULL && lc->in_flight_at_tick > 0 && lc->answered == lc->answered_at_tick)
        record_failure(lc, "no reply from %s within %u ms (the command timeout)", lc->url,
                       lc->command_timeout_ms);
    else if (lc->ac != NULL && lc->waiting > 0 && lc->in_flight == 0) /* a bug, never a wait */
        record_failure(lc, "%zu requests wait in line with none in flight: nothing will "
                       "let them go (admit_waiting)", lc->waiting);
    if (lc->ac != NULL && lc->failure[0] != '\0') {
        redisAsyncFree(lc->ac); /* NULL replies for all in flight, then on_disconnect */
        return;
    }
    lc->answered_at_tick = lc->answered;
    lc->in_flight_at_tick = lc->in_flight;
}

/* hiredis 0.14's libuv adapter drops an error on the socket (a reset, say,
 * from a server killed with commands still unread) on the floor: libuv
 * stops watching the socket and reports the error, the adapter ignores the
 * report, and nobody would ever look at the connection again (hiredis 1.x
 * fixed it).  So after every turn of the loop: a connection whose socket
 * is no longer watched is handed to hiredis, which reads, finds the error
 * and gives up the connection the usual way. */
static void on_check(uv_check_t *check)
{
    struct loop_client *lc = check->data;
    const redisLibuvEvents *events = lc->ac != NULL ? lc->ac->ev.data : NULL;
    if (events != NULL && !uv_is_active((const uv_handle_t *)&events->handle))
        redisAsyncHandleRead(lc->ac);
}

/* hiredis 0.14's adapter also restarts libuv's watch of the socket every
 * time hiredis asks for it - for every command - and each restart costs
 * an epoll_ctl system call (a third of the client's time in `perf`).
 * hiredis 1.x returns at once when the socket is already watched for that
 * event; so do these, around the adapter's own functions. */
static void add_read_once(void *privdata)
{
    if (!(((redisLibuvEvents *)privdata)->events & UV_READABLE))
        redisLibuvAddRead(privdata);
}

static void add_write_once(void *privdata)
{
    if (!(((redisLibuvEvents *)privdata)->events & UV_WRITABLE))
        redisLibuvAddWrite(privdata);
}

void loop_client_close(struct loop_client *lc)
{
    lc->closing = true;
    disconnect_when_done(lc);
}

/* ---- Connecting ---------------------------------------------------------------- */

/* The loop's connection failed to come up after all (the server went
 * between the check and here): hiredis answers what was queued with NULL,
 * then frees the context. */
static void on_connect(const redisAsyncContext *ac, int status)
{
    struct loop_client *lc = ac->data;
    if (status == REDIS_OK)
        return;
    record_failure(lc, "cannot connect to %s: %s", lc->url, ac->c.errstr);
    lc->ac = NULL;
    close_handles(lc);
}

/* AUTH and SELECT go first on the connection, ahead of every task's
 * command.  The check in loop_client_connect passed them, so an error here
 * is rare; it ends the connection like any other failure. */
static void on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    const redisReply *r = reply;
    (void)privdata;
    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        record_failure(ac->data, "AUTH or SELECT failed: %s", r->str);
        redisAsyncDisconnect(ac);
    }
}

int loop_client_connect(struct loop_client *lc, uv_loop_t *loop, const char *url,
                        size_t window, unsigned command_timeout_ms, char *err, size_t errlen)
{
    *lc = (struct loop_client){ .loop = loop, .window = window > 0 ? window : 1,
                                .command_timeout_ms = command_timeout_ms,
                                .owner = pthread_self() };
    /* First the wrapper's blocking connect: it checks the URL, the server
     * and the password, and says what to fix, as in every chapter.  Then
     * the loop's own connection, which connects while the loop runs. */
    struct redis_client *check = redis_client_connect(url, NULL, err, errlen);
    if (check == NULL)
        return -1;
    snprintf(lc->url, sizeof lc->url, "%s", redis_client_url(check));
    redis_client_free(check);
    struct redis_url u;
    redis_url_parse(url != NULL ? url : redis_url_from_env(), &u, err, errlen);
    lc->ac = redisAsyncConnect(u.host, u.port);
    if (lc->ac != NULL && lc->ac->err == 0)
        lc->ac->data = lc;
    if (lc->ac == NULL || lc->ac->err != 0 || redisLibuvAttach(lc->ac, loop) != REDIS_OK) {
        snprintf(err, errlen, "cannot connect to %s: %s", lc->url,
                 lc->ac != NULL && lc->ac->err != 0 ? lc->ac->errstr : "out of memory");
        if (lc->ac != NULL)
            redisAsyncFree(lc->ac);
        return -1;
    }
    lc->ac->ev.addRead = add_read_once;
    lc->ac->ev.addWrite = add_write_once;
    redisAsyncSetConnectCallback(lc->ac, on_connect);
    redisAsyncSetDisconnectCallback(lc->ac, on_disconnect);
    if (u.password[0] != '\0')
        redisAsyncCommand(lc->ac, on_setup_reply, NULL, "AUTH %s", u.password);
    if (u.db != 0)
        redisAsyncCommand(lc->ac, on_setup_reply, NULL, "SELECT %d", u.db);

    uv_timer_init(loop, &lc->timer);
    lc->timer.data = lc;
    if (command_timeout_ms > 0)
        uv_timer_start(&lc->timer, on_tick, command_timeout_ms, command_timeout_ms);
    uv_check_init(loop, &lc->check);
    lc->check.data = lc;
    uv_check_start(&lc->check, on_check);
    uv_unref((uv_handle_t *)&lc->check); /* it never keeps the loop alive by itself */
    return 0;
}
