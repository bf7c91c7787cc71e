/*
 * manager.c - the thread that owns the Redis connection and pipelines
 * every batch of requests (see manager.h).
 *
 * Read it in the order the manager works:
 *   receive_loop   take every command waiting (a batch), run it, repeat
 *                  until the channel closes
 *   run_batch      pipeline the batch: append all, then read all replies
 *   answer         send one result back to its requester (chapter 04's)
 *   refuse_rest    after a lost connection: answer everything else with
 *                  the error, then stop
 *
 * Only receive_loop and run_batch differ from chapter 05's manager.
 */
#include "manager.h"

#include <stdio.h>
#include <string.h>

#include "command.h"
#include "report.h"
#include "oneshot.h"

/* ---- Logging (only with a log stream, i.e. --verbose) -------------------- */

/* One line per command, key and result quoted (common/report.h). */
static void log_result(const struct manager *m, const struct command *cmd,
                       const struct redis_result *result)
{
    report_log_result(m->log, "manager", command_name(cmd->kind), cmd->key, cmd->key_len,
                      result);
}

/* ---- Answering ------------------------------------------------------------ */

/* Sends `result` to whoever sent `cmd`, and frees the command.  The result
 * is consumed: it ends up with the requester, or freed here. */
static void answer(struct command *cmd, struct redis_result result)
{
    if (cmd->reply == NULL) {
        redis_result_free(&result); /* fire and forget: nobody waits */
    } else {
        /* oneshot_send consumes the sender whatever it returns.  On
         * CHAN_CLOSED the requester has left and the result is still ours:
         * free it, or it leaks. */
        if (oneshot_send(cmd->reply, &result) != CHAN_OK)
            redis_result_free(&result);
        cmd->reply = NULL;
    }
    /* Drops cmd->reply if it is still set: the requester then gets
     * CHAN_CLOSED instead of waiting for ever. */
    command_free(cmd);
}

/* Records the first connection failure; later ones only repeat it. */
static void record_failure(struct manager *m, const char *why)
{
    if (m->connection_lost)
        return;
    m->connection_lost = true;
    snprintf(m->failure, sizeof m->failure, "%s", why);
}

/* Answers `cmd` with the recorded connection failure. */
static void answer_with_failure(struct manager *m, struct command *cmd)
{
    struct redis_result error = redis_result_error(REDIS_RESULT_IO_ERROR, "%s", m->failure);
    m->failed++;
    log_result(m, cmd, &error);
    answer(cmd, error);
}

/* ---- Running a batch ------------------------------------------------------ */

/* A GET whose requester has gone is work nobody wants: skip it.  A SET is
 * run even then: leaving does not take back a write. */
static bool nobody_waits_for(const struct command *cmd)
{
    return cmd->kind == COMMAND_GET && cmd->reply != NULL &&
           oneshot_sender_is_closed(cmd->reply);
}

/* Queues `cmd` in the connection's output buffer without sending it:
 * chapter 05's execute, minus the wait for the reply.  0, or -1 if it
 * could not be queued (see redis_client_append). */
static int append_command(struct redis_client *client, const struct command *cmd)
{
    if (cmd->kind == COMMAND_SET)
        return redis_client_append_set(client, cmd->key, cmd->key_len, cmd->value, cmd->value_len);
    return redis_client_append_get(client, cmd->key, cmd->key_len);
}

/* Counts, logs and delivers the reply to one command of the batch. */
static void answer_reply(struct manager *m, struct command *cmd, struct redis_result result)
{
    if (result.kind == REDIS_RESULT_IO_ERROR)
        record_failure(m, result.data); /* the rest of the batch gets it too */
    else
        m->executed++;
    if (redis_result_is_error(&result))
        m->failed++;
    else
        m->succeeded++;
    log_result(m, cmd, &result);
    answer(cmd, result);
}

/*
 * Runs batch[0..n) as one pipeline and answers every command.  Returns
 * false if the connection broke (every command has been answered anyway,
 * the unlucky ones with the error).
 *
 * Chapter 05's manager paid a whole round trip - write, wait for Redis,
 * read - per command.  Here the batch is written in ONE go and the replies
 * are read back as one stream: the round trip is paid once per batch.
 * Redis answers a connection's commands in the order it received them, so
 * reply i belongs to command i; nothing else is needed to match them up.
 */
static bool run_batch(struct manager *m, struct command *batch, size_t n)
{
    // TODO(06): pipeline the batch.
    //  1. Skip (command_free, m->skipped++) each GET whose caller has left:
    //     nobody_waits_for(&batch[i]).  Keep the others, in order.
    //  2. append_command each one: queued, nothing written yet.  If one
    //     cannot be queued (append_command returns -1: out of memory, and
    //     the connection is unusable from then on), stop appending and say
    //     so with record_failure(m, "cannot queue a command ..."): then no
    //     reply is read, step 4 gives every caller of the batch that error,
    //     and the manager stops, as after a lost connection.
    //  3. Read one reply per queued command with redis_client_read_reply
    //     (the first read writes the whole batch) and hand each to
    //     answer_reply, in the same order.  An error reply (WRONGTYPE) is
    //     one caller's answer: keep reading.  Stop only once
    //     m->connection_lost is set: no more replies will come.
    //  4. Answer every command left over with answer_with_failure.
    // Return !m->connection_lost.  For now every command is answered with
    // an error, so every caller hears "not implemented yet".
    (void)nobody_waits_for;
    (void)append_command;
    for (size_t i = 0; i < n; i++)
        answer_reply(m, &batch[i],
                     redis_result_error(REDIS_RESULT_ERROR,
                                        "not implemented yet: run_batch (TODO(06) in "
                                        "chapters/06-pipelining/manager.c); see "
                                        "docs/06-pipelining.md, "
                                        "\"Pipelining the batch\""));
    return true;
}

/* ---- The manager thread --------------------------------------------------- */

/* After a lost connection: refuse new requests and answer the queued ones. */
static void refuse_rest(struct manager *m)
{
    /* From now on mpsc_send fails at once (CHAN_CLOSED), so no requester
     * can start waiting for a manager that is going away. */
    mpsc_receiver_close(m->rx);
    /* What was queued before the close is still there: answer it. */
    struct command cmd;
    while (mpsc_recv(m->rx, &cmd) == CHAN_OK)
        answer_with_failure(m, &cmd);
}

static void receive_loop(struct manager *m)
{
    struct command batch[MANAGER_BATCH_LIMIT];
    size_t n;
    /* One wake-up brings every command already waiting (up to the limit),
     * not one: a busy manager drains whole batches without sleeping. */
    while ((n = mpsc_recv_many(m->rx, batch, MANAGER_BATCH_LIMIT)) > 0) {
        m->batches++;
        if (n > m->largest_batch)
            m->largest_batch = n;
        if (!run_batch(m, batch, n)) {
            refuse_rest(m);
            break;
        }
    }
    /* 0: every sender is gone and the queue is empty, or we closed it. */
}

static void *manager_main(void *arg)
{
    struct manager *m = arg;
    receive_loop(m);
    redis_client_free(m->client);
    m->client = NULL;
    /* Anything still queued is destroyed through command_drop, which drops
     * its reply sender: its requester wakes with CHAN_CLOSED. */
    mpsc_receiver_drop(m->rx);
    m->rx = NULL;
    /* The very last step: after this the thread touches nothing of *m. */
    atomic_store(&m->finished, true);
    return NULL;
}

int manager_start(struct manager *m, const char *url, size_t capacity,
                  struct mpsc_sender **tx, char *err, size_t errlen)
{
    *tx = NULL;
    *m = (struct manager){ .log = m->log }; /* every count at 0 */
    atomic_init(&m->finished, false);

    /* Connect first, on the caller's thread: a bad URL or a server that is
     * not running is reported to the caller now, with the wrapper's text. */
    m->client = redis_client_connect(url, NULL, err, errlen);
    if (m->client == NULL)
        return -1;
    snprintf(m->url, sizeof m->url, "%s", redis_client_url(m->client));

    /* The one difference between the modes of chapter 05: a channel that
     * holds at most `capacity` commands, or one that holds any number. */
    int rc = capacity == MANAGER_UNBOUNDED
                 ? mpsc_unbounded_channel(sizeof(struct command), command_drop, tx, &m->rx)
                 : mpsc_channel(capacity, sizeof(struct command), command_drop, tx, &m->rx);
    if (rc != 0) {
        snprintf(err, errlen, "cannot make the command channel: %s", strerror(rc));
    } else if ((rc = pthread_create(&m->thread, NULL, manager_main, m)) != 0) {
        snprintf(err, errlen, "cannot start the manager thread: %s", strerror(rc));
        mpsc_sender_drop(*tx);
        mpsc_receiver_drop(m->rx);
        *tx = NULL;
    }
    if (rc != 0) /* nothing runs on the connection: close it */
        redis_client_free(m->client);
    return rc != 0 ? -1 : 0;
}

void manager_join(struct manager *m)
{
    pthread_join(m->thread, NULL);
}

bool manager_finished(const struct manager *m)
{
    return atomic_load(&m->finished);
}
