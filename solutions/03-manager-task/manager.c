/*
 * manager.c - the thread that owns the Redis connection (see manager.h).
 *
 * Notice what is NOT here: no mutex around the connection.  The connection
 * and the receiving end of the channel are handed to the manager thread
 * when it starts, and no other thread ever sees them again.  The channel
 * does all the synchronisation.
 */
#include "manager.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "report.h"

/* ---- Logging (only with a log stream, i.e. --verbose) -------------------- */

/* One line per command, key and result quoted (common/report.h). */
static void log_result(const struct manager *m, const struct command *cmd,
                       const struct redis_result *result)
{
    report_log_result(m->log, "manager", command_name(cmd->kind), cmd->key, cmd->key_len,
                      result);
}

/* ---- Running one command -------------------------------------------------- */

/* The only place a command meets the connection.  Commands go through the
 * wrapper as argument vectors, so a key is never mistaken for syntax. */
static struct redis_result run_command(struct redis_client *client,
                                       const struct command *cmd)
{
    switch (cmd->kind) {
    case COMMAND_GET:
        return redis_client_get(client, cmd->key, cmd->key_len);
    case COMMAND_SET:
        return redis_client_set(client, cmd->key, cmd->key_len,
                                cmd->value, cmd->value_len);
    }
    return redis_result_error(REDIS_RESULT_ERROR, "unknown command kind %d", (int)cmd->kind);
}

/* ---- The manager thread --------------------------------------------------- */

/* Receives and runs commands until the channel is closed and empty, which
 * happens when the LAST sender has been dropped. */
static void receive_loop(struct manager *m)
{
    //> snippet manager_loop
    //> exercise 03
    struct command cmd;
    while (mpsc_recv(m->rx, &cmd) == CHAN_OK) {
        /* The command is ours now: the channel copied it out to `cmd`. */
        struct redis_result result = run_command(m->client, &cmd);
        m->executed++;
        if (redis_result_is_error(&result))
            m->failed++;
        log_result(m, &cmd, &result);
        /* Nobody waits for the result in this chapter: free it here.
         * Chapter 04 sends it back to the worker instead. */
        redis_result_free(&result);
        //> pitfall loop-leaks-command
        command_free(&cmd);
        //| mistake
        //| /* the command is never freed: its key and value copies leak */
        //< pitfall loop-leaks-command
    }
    /* CHAN_CLOSED: every sender is gone and the queue is empty.  Nothing
     * can ever arrive again, so the manager is done. */
    //| starter
    //| // TODO(03): receive commands with mpsc_recv(m->rx, &cmd) until it
    //| // returns CHAN_CLOSED (every sender dropped, queue empty).  For each
    //| // one: run_command, count it in m->executed (and m->failed if the
    //| // result is an error), log_result, then redis_result_free and
    //| // command_free.
    //| (void)m;
    //| (void)run_command;
    //| (void)log_result;
    //| fprintf(stderr, "manager: not implemented yet: the manager loop "
    //|                 "(TODO(03) in chapters/03-manager-task/manager.c)\n");
    //< exercise 03
    //< snippet manager_loop
}

static void *manager_main(void *arg)
{
    struct manager *m = arg;
    //> snippet manager_main
    receive_loop(m);
    /* The manager owns the connection, so the manager closes it. */
    redis_client_free(m->client);
    m->client = NULL;
    /* Destroys anything still queued through command_drop (nothing, after
     * a complete loop) and makes any late send fail with CHAN_CLOSED. */
    mpsc_receiver_drop(m->rx);
    m->rx = NULL;
    /* The very last step: after this the thread touches nothing of *m. */
    atomic_store(&m->finished, true);
    //< snippet manager_main
    return NULL;
}

int manager_start(struct manager *m, const char *url, size_t capacity,
                  struct mpsc_sender **tx, char *err, size_t errlen)
{
    *tx = NULL;
    m->executed = 0;
    m->failed = 0;
    atomic_init(&m->finished, false);

    //> snippet manager_start
    /* 1. Connect here, on the caller's thread: a bad URL or a server that is
     *    not running is reported to the caller now, with the wrapper's
     *    message, instead of killing a thread nobody is watching yet. */
    m->client = redis_client_connect(url, NULL, err, errlen);
    if (m->client == NULL)
        return -1;

    /* 2. The channel.  command_drop frees commands still queued if the
     *    channel dies with some inside. */
    int rc = mpsc_channel(capacity, sizeof(struct command), command_drop, tx, &m->rx);
    if (rc != 0) {
        snprintf(err, errlen, "cannot make the command channel: %s", strerror(rc));
        redis_client_free(m->client);
        m->client = NULL;
        return -1;
    }

    /* 3. The thread.  From here on only it touches m->client and m->rx. */
    rc = pthread_create(&m->thread, NULL, manager_main, m);
    //< snippet manager_start
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the manager thread: %s", strerror(rc));
        mpsc_sender_drop(*tx);
        *tx = NULL;
        mpsc_receiver_drop(m->rx);
        m->rx = NULL;
        redis_client_free(m->client);
        m->client = NULL;
        return -1;
    }
    return 0;
}

void manager_join(struct manager *m)
{
    pthread_join(m->thread, NULL);
}

bool manager_finished(const struct manager *m)
{
    return atomic_load(&m->finished);
}

bool manager_wait(const struct manager *m, unsigned timeout_ms)
{
    for (unsigned waited = 0; waited < timeout_ms && !manager_finished(m); waited += 10) {
        struct timespec ten_ms = { 0, 10 * 1000000L };
        while (nanosleep(&ten_ms, &ten_ms) != 0 && errno == EINTR)
            ;
    }
    return manager_finished(m);
}
