/*
 * manager.c - the thread that owns the Redis connection and answers every
 * request (see manager.h).  Chapter 04's manager; what chapter 05 changes
 * is in manager_start, where the command channel is made bounded or
 * unbounded, and the `succeeded` count in answer_reply.
 *
 * Read it in the order the manager works:
 *   receive_loop   take one command, run it, repeat until the channel
 *                  closes
 *   run_command    one blocking round trip to Redis, then answer
 *   answer         send the result back to its requester
 *   refuse_rest    after a lost connection: answer everything else with
 *                  the error, then stop
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
    //> snippet answer
    //> exercise 04
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
    //| starter
    //| // TODO(04): send `result` through cmd->reply (oneshot_send; then set
    //| // cmd->reply to NULL: the send used it up).  If the send fails, or
    //| // cmd->reply is NULL (nobody waits), free the result instead.
    //| // For now the result is thrown away, and command_free below drops the
    //| // reply sender, so the requester at least hears "no answer".
    //| redis_result_free(&result);
    //< exercise 04
    /* Drops cmd->reply if it is still set: the requester then gets
     * CHAN_CLOSED instead of waiting for ever. */
    command_free(cmd);
    //< snippet answer
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

/* ---- Running one command -------------------------------------------------- */

/* A GET whose requester has gone is work nobody wants: skip it.  A SET is
 * run even then: leaving does not take back a write. */
static bool nobody_waits_for(const struct command *cmd)
{
    return cmd->kind == COMMAND_GET && cmd->reply != NULL &&
           oneshot_sender_is_closed(cmd->reply);
}

/* One round trip through the wrapper: write the command, wait for Redis,
 * read its reply.  Nothing else happens on the connection meanwhile. */
static struct redis_result execute(struct redis_client *client, const struct command *cmd)
{
    if (cmd->kind == COMMAND_SET)
        return redis_client_set(client, cmd->key, cmd->key_len, cmd->value, cmd->value_len);
    return redis_client_get(client, cmd->key, cmd->key_len);
}

/* Counts, logs and delivers the reply to `cmd`.  Every command Redis
 * accepted counts as `succeeded`: fire-and-forget commands (reply NULL)
 * have no requester to tell, so the counts are all that records them. */
//> snippet answer_reply
static void answer_reply(struct manager *m, struct command *cmd, struct redis_result result)
{
    if (result.kind == REDIS_RESULT_IO_ERROR)
        record_failure(m, result.data); /* the manager stops after this one */
    else
        m->executed++;
    if (redis_result_is_error(&result))
        m->failed++;
    else
        m->succeeded++;
    log_result(m, cmd, &result);
    answer(cmd, result);
}
//< snippet answer_reply

/*
 * Runs `cmd` and answers its requester.  Returns false if the connection
 * broke (the command has been answered anyway, with the error).
 *
 * Exactly what Tokio's manager does: `let res = client.get(&key).await;
 * let _ = resp.send(res);`.  One request is in flight at a time: while
 * Redis works on it, the connection carries nothing else, and every other
 * requester waits in the channel.  Chapter 06 fills that gap.
 */
static bool run_command(struct manager *m, struct command *cmd)
{
    //> snippet run_command
    if (nobody_waits_for(cmd)) {
        m->skipped++;
        command_free(cmd); /* drops nothing: the requester is gone */
        return true;
    }
    answer_reply(m, cmd, execute(m->client, cmd));
    return !m->connection_lost;
    //< snippet run_command
}

/* ---- The manager thread --------------------------------------------------- */

/* After a lost connection: refuse new requests and answer the queued ones. */
static void refuse_rest(struct manager *m)
{
    //> snippet refuse_rest
    /* From now on mpsc_send fails at once (CHAN_CLOSED), so no requester
     * can start waiting for a manager that is going away. */
    mpsc_receiver_close(m->rx);
    /* What was queued before the close is still there: answer it. */
    struct command cmd;
    while (mpsc_recv(m->rx, &cmd) == CHAN_OK)
        answer_with_failure(m, &cmd);
    //< snippet refuse_rest
}

static void receive_loop(struct manager *m)
{
    //> snippet manager_loop
    struct command cmd;
    /* One command at a time: receive it, run it, answer it, then the next.
     * mpsc_recv sleeps only when the queue is empty. */
    while (mpsc_recv(m->rx, &cmd) == CHAN_OK) {
        if (!run_command(m, &cmd)) {
            refuse_rest(m);
            break;
        }
    }
    /* CHAN_CLOSED: every sender is gone and the queue is empty, or we
     * closed it after losing the connection. */
    //< snippet manager_loop
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
    //> snippet make_channel
    //> exercise 05
    //> pitfall unbounded-always
    int rc = capacity == MANAGER_UNBOUNDED
                 ? mpsc_unbounded_channel(sizeof(struct command), command_drop, tx, &m->rx)
                 : mpsc_channel(capacity, sizeof(struct command), command_drop, tx, &m->rx);
    //| mistake
    //| (void)capacity; /* unbounded, whatever was asked */
    //| int rc = mpsc_unbounded_channel(sizeof(struct command), command_drop, tx, &m->rx);
    //< pitfall unbounded-always
    //| starter
    //| // TODO(05): for capacity == MANAGER_UNBOUNDED make the channel with
    //| // mpsc_unbounded_channel (same arguments, minus the capacity).
    //| if (capacity == MANAGER_UNBOUNDED) {
    //|     snprintf(err, errlen, "not implemented yet: an unbounded command channel "
    //|              "(TODO(05) in chapters/05-backpressure/manager.c); see "
    //|              "docs/05-backpressure.md, \"Three ways to send\"");
    //|     redis_client_free(m->client);
    //|     m->client = NULL;
    //|     return -1;
    //| }
    //| int rc = mpsc_channel(capacity, sizeof(struct command), command_drop, tx, &m->rx);
    //< exercise 05
    //< snippet make_channel
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
