/*
 * manager.c - a manager that survives a lost connection (see manager.h).
 *
 * Chapter 07's manager, one per master of the cluster, with one thing
 * more: a command that follows an ASK redirection goes out right after an
 * ASKING (append_command), whose reply is read and dropped (run_batch).
 *
 * Read it in the order the manager works:
 *   manager_main   take a batch, run it; after a loss, reconnect; repeat
 *   run_batch      pipeline the batch (chapter 06); false if the connection broke
 *   reconnect      try again and again, waiting longer each time
 *   refuse_for     the waiting: answer whatever arrives with an error
 */
#include "manager.h"

#include <string.h>

#include "command.h"
#include "oneshot.h"
#include "report.h"

/* ---- Answering ------------------------------------------------------------ */

/* Counts `result`, sends it to whoever sent `cmd` and frees the command.
 * Counting comes first, so a requester that has its answer also finds it
 * counted (pool_stats). */
static void answer(struct manager *m, struct command *cmd, struct redis_result result)
{
    atomic_fetch_add(redis_result_is_error(&result) ? &m->failed : &m->succeeded, 1);
    /* No reply sender: fire and forget.  A failed send (the requester has
     * left) leaves the result ours.  Either way, we free it. */
    if (cmd->reply == NULL || oneshot_send(cmd->reply, &result) != CHAN_OK)
        redis_result_free(&result);
    cmd->reply = NULL; /* oneshot_send consumed it, whatever it returned */
    command_free(cmd);
}

/* Answers `cmd` with an I/O error: what became of it, and why the
 * connection is gone (m->failure). */
static void answer_error(struct manager *m, struct command *cmd, const char *what)
{
    answer(m, cmd, redis_result_error(REDIS_RESULT_IO_ERROR, "manager %u %s (%s)", m->id, what,
                                      m->failure));
}

/* ---- Running a batch (chapter 06) ------------------------------------------ */

/* A GET whose requester has gone is work nobody wants: skip it.  A SET is
 * run even then: leaving does not take back a write. */
static bool nobody_waits_for(const struct command *cmd)
{
    return cmd->kind == COMMAND_GET && cmd->reply != NULL &&
           oneshot_sender_is_closed(cmd->reply);
}

/* Queues `cmd` on the connection without sending it: GET key, or SET key
 * value, right after an ASKING if it follows an ASK redirection (ASKING
 * lasts for the one command after it).  0 or -1. */
static int append_command(struct redis_client *client, const struct command *cmd)
{
    const char *argv[] = { command_name(cmd->kind), cmd->key, cmd->value };
    const size_t len[] = { 3, cmd->key_len, cmd->value_len };
    const char *asking[] = { "ASKING" };
    if (cmd->asking && redis_client_append(client, 1, asking, (const size_t[]){ 6 }) != 0)
        return -1;
    return redis_client_append(client, cmd->kind == COMMAND_SET ? 3 : 2, argv, len);
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
    size_t queued = 0;
    while (queued < live && append_command(m->client, &batch[queued]) == 0)
        queued++;
    bool lost = queued < live; /* out of memory: the connection is unusable */
    if (lost)
        snprintf(m->failure, sizeof m->failure, "cannot queue a command (out of memory?)");

    //> snippet read_replies
    /* The first read writes the whole batch; then one reply per command,
     * in the order they were queued. */
    size_t done = 0;
    for (; done < queued && !lost; done++) {
        struct redis_result result = redis_client_read_reply(m->client);
        if (batch[done].asking && result.kind != REDIS_RESULT_IO_ERROR) {
            redis_result_free(&result); /* ASKING's +OK; the command's reply is next */
            result = redis_client_read_reply(m->client);
        }
        if (result.kind == REDIS_RESULT_IO_ERROR) {
            lost = true;
            snprintf(m->failure, sizeof m->failure, "%s", result.data);
        }
        answer(m, &batch[done], result);
    }
    /* The replies still owed will never come. */
    //> pitfall lost-not-answered
    for (; done < live; done++)
        answer_error(m, &batch[done], "lost its connection before the reply came: the "
                                      "command may or may not have run");
    //| mistake
    //| /* the commands whose replies were lost get no answer */
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
    struct redis_client_options options = { .name = m->name };
    m->client = redis_client_connect(m->url, &options, why, whylen);
    atomic_store(&m->connected, m->client != NULL);
    return m->client != NULL;
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
    double deadline = report_seconds_now() + ms / 1000.0;
    for (;;) {
        double left_ms = (deadline - report_seconds_now()) * 1000;
        /* Rounded up: the wait is never shorter than asked. */
        unsigned wait_ms = left_ms > 0 ? (unsigned)left_ms + 1 : 0;
        enum chan_status status;
        size_t n = mpsc_recv_many_timeout(m->rx, batch, MANAGER_BATCH_LIMIT, wait_ms, &status);
        for (size_t i = 0; i < n; i++)
            answer_error(m, &batch[i], "is reconnecting: the command was not sent");
        if (n == 0)
            return status != CHAN_CLOSED; /* CHAN_TIMEOUT: time to try again */
    }
    //< snippet refuse_for
}

/*
 * The connection broke (the batch is answered): lets it go, and connects
 * again.  Returns true once connected, false if the pool was closed first.
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
    redis_client_free(m->client);
    m->client = NULL;
    atomic_store(&m->connected, false);
    atomic_fetch_add(&m->connections_lost, 1);
    report_log(m->log, "manager %u: connection lost (%s); reconnecting", m->id, m->failure);
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
        if (connect_once(m, m->failure, sizeof m->failure)) {
            atomic_fetch_add(&m->reconnects, 1);
            report_log(m->log, "manager %u: reconnected after %u attempt%s", m->id, attempt,
                       attempt == 1 ? "" : "s");
            return true;
        }
        report_log(m->log, "manager %u: reconnect attempt %u failed (%s); next in %u ms",
                   m->id, attempt, m->failure, delay_ms);
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
    //| //     connect_once(m, m->failure, sizeof m->failure).  On success
    //| //     count it (atomic_fetch_add(&m->reconnects, 1)), log it and
    //| //     return true;
    //| //   - on failure the reason is in m->failure (the commands refused
    //| //     meanwhile quote it): log the attempt, and wait with
    //| //     refuse_for(m, delay_ms): it answers every command that arrives
    //| //     with an error, and returns false when the pool was closed -
    //| //     then return false;
    //| //   - double the delay, from MANAGER_BACKOFF_FIRST_MS (10 ms) up to
    //| //     at most MANAGER_BACKOFF_MAX_MS (1 s): 10, 20, 40, ... 640, 1000,
    //| //     1000 ms; and try again.
    //| // The tests read the log, and measure the waits between attempts.
    //| // Log exactly these lines (N the attempt, counting from 1):
    //| //   report_log(m->log, "manager %u: reconnect attempt %u failed (%s); "
    //| //              "next in %u ms", m->id, N, m->failure, delay_ms);
    //| //   report_log(m->log, "manager %u: reconnected after %u attempt%s",
    //| //              m->id, N, N == 1 ? "" : "s");
    //| // For now the manager stays disconnected and refuses every command.
    //| report_log(m->log, "manager %u: not implemented yet: reconnecting (TODO(07) in "
    //|            "chapters/07-connection-pool/manager.c); refusing every command", m->id);
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
    size_t n;
    /* 0 commands: every sender is gone and the queue is empty. */
    while ((n = mpsc_recv_many(m->rx, batch, MANAGER_BATCH_LIMIT)) > 0)
        if (!run_batch(m, batch, n) && !reconnect(m))
            break; /* closed while disconnected: everything is answered */
    //< snippet manager_loop
    redis_client_free(m->client);
    mpsc_receiver_drop(m->rx); /* empty by now; wakes nobody */
    return NULL;
}

int manager_start(struct manager *m, size_t capacity, char *err, size_t errlen)
{
    if (!connect_once(m, err, errlen))
        return -1;
    int rc = mpsc_channel(capacity, sizeof(struct command), command_drop, &m->tx, &m->rx);
    if (rc == 0 && (rc = pthread_create(&m->thread, NULL, manager_main, m)) != 0) {
        mpsc_sender_drop(m->tx);
        mpsc_receiver_drop(m->rx);
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot start manager %u: %s", m->id, strerror(rc));
        redis_client_free(m->client);
        return -1;
    }
    return 0;
}
