/*
 * manager.c - a manager that survives a lost connection (see manager.h).
 *
 * Chapter 06's manager ended when its connection broke: every later send
 * failed, and the program was done for.  In a pool that would be a slow
 * leak - one manager after another lost to a server restart or a network
 * blip, until none is left - so this one reconnects instead.
 *
 * Read it in the order the manager works:
 *   manager_main   take a batch, run it; after a loss, reconnect; repeat
 *   run_batch      pipeline the batch (chapter 06); false if the connection broke
 *   reconnect      try again and again, waiting longer each time
 *   refuse_for     the waiting: answer whatever arrives with an error
 */
#include "manager.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "oneshot.h"
#include "report.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Logging (connection events only) ------------------------------------ */

static void log_event(const struct manager *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void log_event(const struct manager *m, const char *fmt, ...)
{
    if (m->log == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    /* flockfile holds the stream for the whole line: the lines of several
     * managers never mix. */
    flockfile(m->log);
    fprintf(m->log, "manager %u: ", m->id);
    vfprintf(m->log, fmt, ap);
    fputc('\n', m->log);
    fflush(m->log);
    funlockfile(m->log);
    va_end(ap);
}

/* ---- Answering ------------------------------------------------------------ */

/* Counts `result`, sends it to whoever sent `cmd` and frees the command.
 * Counting comes first, so a requester that has its answer also finds it
 * counted (manager_stats). */
static void answer(struct manager *m, struct command *cmd, struct redis_result result)
{
    atomic_fetch_add(redis_result_is_error(&result) ? &m->failed : &m->succeeded, 1);
    if (cmd->reply == NULL) {
        redis_result_free(&result); /* fire and forget: nobody waits */
    } else {
        /* oneshot_send consumes the sender whatever it returns; on
         * CHAN_CLOSED the requester has left and the result is still ours. */
        if (oneshot_send(cmd->reply, &result) != CHAN_OK)
            redis_result_free(&result);
        cmd->reply = NULL;
    }
    command_free(cmd);
}

/* A command of a batch whose connection broke before its reply came.  It
 * may or may not have run: the write may have reached Redis. */
static void answer_lost(struct manager *m, struct command *cmd)
{
    answer(m, cmd, redis_result_error(REDIS_RESULT_IO_ERROR,
                                      "manager %u lost its connection before the reply came "
                                      "(%s); the command may or may not have run",
                                      m->id, m->failure));
}

/* A command that arrived while the manager had no connection: refused at
 * once, never sent. */
static void answer_disconnected(struct manager *m, struct command *cmd)
{
    answer(m, cmd, redis_result_error(REDIS_RESULT_IO_ERROR,
                                      "manager %u is reconnecting to %s (%s); the command "
                                      "was not sent", m->id, m->shown_url, m->failure));
}

/* ---- Running a batch (chapter 06) ------------------------------------------ */

/* A GET whose requester has gone is work nobody wants: skip it.  A SET is
 * run even then: leaving does not take back a write. */
static bool nobody_waits_for(const struct command *cmd)
{
    return cmd->kind == COMMAND_GET && cmd->reply != NULL &&
           oneshot_sender_is_closed(cmd->reply);
}

/* Queues `cmd` on the connection without sending it.  0 or -1. */
static int append_command(struct redis_client *client, const struct command *cmd)
{
    if (cmd->kind == COMMAND_SET) {
        const char *argv[] = { "SET", cmd->key, cmd->value };
        const size_t len[] = { 3, cmd->key_len, cmd->value_len };
        return redis_client_append(client, 3, argv, len);
    }
    const char *argv[] = { "GET", cmd->key };
    const size_t len[] = { 3, cmd->key_len };
    return redis_client_append(client, 2, argv, len);
}

/*
 * Runs batch[0..n) as one pipeline and answers every command.  Returns
 * false if the connection broke: then every command has been answered
 * anyway, the ones whose reply never came with the error, and m->failure
 * says why.
 */
static bool run_batch(struct manager *m, struct command *batch, size_t n)
{
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (nobody_waits_for(&batch[i]))
            command_free(&batch[i]);
        else
            batch[live++] = batch[i];
    }

    bool lost = false;
    size_t queued = 0;
    while (queued < live && append_command(m->client, &batch[queued]) == 0)
        queued++;
    if (queued < live) {
        lost = true;
        snprintf(m->failure, sizeof m->failure,
                 "cannot queue a command on the connection (out of memory?)");
    }

    //> snippet read_replies
    /* The first read writes the whole batch; then one reply per command,
     * in the order they were queued. */
    size_t done = 0;
    for (; done < queued && !lost; done++) {
        struct redis_result result = redis_client_read_reply(m->client);
        if (result.kind == REDIS_RESULT_IO_ERROR) {
            lost = true;
            snprintf(m->failure, sizeof m->failure, "%s", result.data);
        }
        answer(m, &batch[done], result);
    }
    /* The replies still owed will never come. */
    //> pitfall lost-not-answered
    for (; done < live; done++)
        answer_lost(m, &batch[done]);
    //| mistake
    //| (void)answer_lost; /* the commands whose replies were lost get no answer */
    //< pitfall lost-not-answered
    //< snippet read_replies
    return !lost;
}

/* ---- Connecting -------------------------------------------------------------- */

/* One attempt: connect, and name the connection, so that CLIENT LIST on the
 * server shows which manager is which.  True with m->client set, or false
 * with the reason in why[whylen].
 *
 * The wrapper names it while connecting, under the connect timeout (2 s):
 * a server that is stopped still accepts the TCP connection, and a name
 * sent as an ordinary command would wait the whole command timeout (10 s)
 * for its reply - on every attempt, while the callers wait. */
static bool connect_once(struct manager *m, char *why, size_t whylen)
{
    struct redis_client_options options = { .name = m->connection_name };
    struct redis_client *client = redis_client_connect(m->url, &options, why, whylen);
    if (client == NULL)
        return false;
    m->client = client;
    atomic_store(&m->connected, true);
    return true;
}

/* The connection broke: let it go, and say so. */
static void drop_connection(struct manager *m)
{
    redis_client_free(m->client);
    m->client = NULL;
    atomic_store(&m->connected, false);
    atomic_fetch_add(&m->connections_lost, 1);
    log_event(m, "connection lost (%s); reconnecting", m->failure);
}

/*
 * Waits `ms` milliseconds for the next reconnect attempt, answering every
 * command that arrives meanwhile with an error.  Returns false when the
 * channel has closed and is drained (the pool was closed), true when the
 * time is up.
 *
 * Why refuse rather than hold the commands until the connection is back:
 * a held command waits for as long as the server is away - seconds, or for
 * ever - and so does its requester, with no way to know.  An error at once
 * lets the requester choose: retry, use a cached value, or give up and say
 * so.  And the channel does not fill up with commands that would all run
 * late, in a burst, once the server is back.
 */
static bool refuse_for(struct manager *m, unsigned ms)
{
    struct command batch[MANAGER_BATCH_LIMIT];
    //> snippet refuse_for
    int64_t deadline = now_ms() + ms;
    for (;;) {
        int64_t now = now_ms();
        unsigned left = now < deadline ? (unsigned)(deadline - now) : 0;
        enum chan_status status;
        size_t n = mpsc_recv_many_timeout(m->rx, batch, MANAGER_BATCH_LIMIT, left, &status);
        for (size_t i = 0; i < n; i++)
            answer_disconnected(m, &batch[i]);
        if (n == 0)
            return status != CHAN_CLOSED; /* CHAN_TIMEOUT: time to try again */
    }
    //< snippet refuse_for
}

/*
 * Connects again after a loss.  Returns true once connected, false if the
 * pool was closed first.
 *
 * The first attempt is made at once (a killed connection to a server that
 * is still up comes back straight away); after that the waits double, from
 * MANAGER_BACKOFF_FIRST_MS to at most MANAGER_BACKOFF_MAX_MS.  Doubling
 * keeps a manager from hammering a server that is down, or starting up,
 * with a connection attempt every few microseconds; the cap keeps the wait
 * after the server is back short.  It never gives up on its own: a pool
 * whose managers stopped one by one would be broken for good.
 */
static bool reconnect(struct manager *m)
{
    //> snippet reconnect
    //> exercise 07
    //> pitfall backoff-no-doubling
    unsigned delay_ms = MANAGER_BACKOFF_FIRST_MS;
    //| mistake
    //< pitfall backoff-no-doubling
    for (unsigned attempt = 1;; attempt++) {
        //> pitfall backoff-no-doubling
        //| mistake
        //| unsigned delay_ms = MANAGER_BACKOFF_FIRST_MS; /* back to the first delay every time */
        //< pitfall backoff-no-doubling
        //> pitfall backoff-waits-first
        //| mistake
        //| if (!refuse_for(m, delay_ms)) /* a wait before every attempt, the first too */
        //|     return false;
        //< pitfall backoff-waits-first
        char why[sizeof m->failure];
        if (connect_once(m, why, sizeof why)) {
            atomic_fetch_add(&m->reconnects, 1);
            log_event(m, "reconnected after %u attempt%s", attempt, attempt == 1 ? "" : "s");
            return true;
        }
        snprintf(m->failure, sizeof m->failure, "%s", why);
        log_event(m, "reconnect attempt %u failed (%s); next in %u ms", attempt, why,
                  delay_ms);
        //> pitfall hold-while-disconnected
        if (!refuse_for(m, delay_ms))
            return false; /* the pool was closed: stop trying */
        //| mistake
        //| /* sleeps instead: commands wait in the channel, unanswered */
        //| struct timespec pause = { .tv_sec = (time_t)(delay_ms / 1000),
        //|                           .tv_nsec = (long)(delay_ms % 1000) * 1000000L };
        //| (void)refuse_for;
        //| nanosleep(&pause, NULL);
        //< pitfall hold-while-disconnected
        //> pitfall backoff-no-cap
        delay_ms = delay_ms >= MANAGER_BACKOFF_MAX_MS / 2 ? MANAGER_BACKOFF_MAX_MS
                                                         : delay_ms * 2;
        //| mistake
        //| delay_ms *= 2; /* doubles for ever: no cap */
        //< pitfall backoff-no-cap
    }
    //| starter
    //| // TODO(07): reconnect with a bounded exponential back-off:
    //| //   - the first attempt comes at once, with no wait before it:
    //| //     connect_once(m, why, sizeof why).  On success count it
    //| //     (atomic_fetch_add(&m->reconnects, 1)), log it and return true;
    //| //   - on failure keep the reason in m->failure (the commands refused
    //| //     meanwhile quote it), log the attempt, and wait with
    //| //     refuse_for(m, delay_ms): it answers every command that arrives
    //| //     with an error, and returns false when the pool was closed -
    //| //     then return false;
    //| //   - double the delay, from MANAGER_BACKOFF_FIRST_MS (10 ms) up to
    //| //     at most MANAGER_BACKOFF_MAX_MS (1 s): 10, 20, 40, ... 640, 1000,
    //| //     1000 ms; and try again.
    //| // The tests read the log, and measure the waits between attempts.
    //| // Log exactly these lines (N the attempt, counting from 1):
    //| //   log_event(m, "reconnect attempt %u failed (%s); next in %u ms",
    //| //             N, why, delay_ms);
    //| //   log_event(m, "reconnected after %u attempt%s", N, N == 1 ? "" : "s");
    //| // For now the manager stays disconnected and refuses every command.
    //| log_event(m, "not implemented yet: reconnecting (TODO(07) in "
    //|              "chapters/07-connection-pool/manager.c); refusing every command");
    //| while (refuse_for(m, MANAGER_BACKOFF_MAX_MS))
    //|     ;
    //| return false;
    //< exercise 07
    //< snippet reconnect
}

/* ---- The manager thread ------------------------------------------------------ */

static void *manager_main(void *arg)
{
    struct manager *m = arg;
    struct command batch[MANAGER_BATCH_LIMIT];
    //> snippet manager_loop
    for (;;) {
        if (m->client == NULL && !reconnect(m))
            break; /* closed while disconnected: everything is answered */
        size_t n = mpsc_recv_many(m->rx, batch, MANAGER_BATCH_LIMIT);
        if (n == 0)
            break; /* every sender is gone and the queue is empty */
        if (!run_batch(m, batch, n))
            drop_connection(m); /* the batch is answered; reconnect next */
    }
    //< snippet manager_loop
    redis_client_free(m->client);
    m->client = NULL;
    atomic_store(&m->connected, false);
    mpsc_receiver_drop(m->rx); /* empty by now; wakes nobody */
    m->rx = NULL;
    atomic_store(&m->finished, true);
    return NULL;
}

int manager_start(struct manager *m, const char *url, size_t capacity,
                  struct mpsc_sender **tx, char *err, size_t errlen)
{
    *tx = NULL;
    m->rx = NULL;
    m->client = NULL;
    m->failure[0] = '\0';
    atomic_init(&m->succeeded, 0);
    atomic_init(&m->failed, 0);
    atomic_init(&m->connections_lost, 0);
    atomic_init(&m->reconnects, 0);
    atomic_init(&m->connected, false);
    atomic_init(&m->finished, false);
    if (m->name != NULL)
        snprintf(m->connection_name, sizeof m->connection_name, "%s-%u", m->name, m->id);
    else
        m->connection_name[0] = '\0';

    if (url == NULL)
        url = redis_url_from_env();
    m->url = strdup(url);
    if (m->url == NULL) {
        snprintf(err, errlen, "out of memory copying the URL");
        return -1;
    }
    /* Connect first, on the caller's thread: a bad URL or a server that is
     * not running is reported now, with the wrapper's text. */
    if (!connect_once(m, err, errlen)) {
        free(m->url);
        m->url = NULL;
        return -1;
    }
    snprintf(m->shown_url, sizeof m->shown_url, "%s", redis_client_url(m->client));

    int rc = mpsc_channel(capacity, sizeof(struct command), command_drop, tx, &m->rx);
    if (rc == 0) {
        rc = pthread_create(&m->thread, NULL, manager_main, m);
        if (rc != 0) {
            mpsc_sender_drop(*tx);
            *tx = NULL;
            mpsc_receiver_drop(m->rx);
            m->rx = NULL;
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot start manager %u: %s", m->id, strerror(rc));
        redis_client_free(m->client);
        m->client = NULL;
        free(m->url);
        m->url = NULL;
        return -1;
    }
    return 0;
}

void manager_join(struct manager *m)
{
    pthread_join(m->thread, NULL);
    free(m->url);
    m->url = NULL;
}

void manager_stats(const struct manager *m, struct manager_stats *out)
{
    *out = (struct manager_stats){
        .succeeded = atomic_load(&m->succeeded),
        .failed = atomic_load(&m->failed),
        .connections_lost = atomic_load(&m->connections_lost),
        .reconnects = atomic_load(&m->reconnects),
        .connected = atomic_load(&m->connected),
    };
}
