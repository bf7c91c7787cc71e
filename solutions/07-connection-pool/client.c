/*
 * client.c - requests through the pool, answers through a oneshot
 * (see client.h).
 *
 * Each request makes its own oneshot channel: the sending end travels to
 * the manager inside the command, the receiving end stays here.  Follow the
 * sending end and you can check the promise "an answer or an error, never a
 * hang": whatever happens to the command, the sender is either used
 * (oneshot_send) or dropped (command_free), and both wake the receiver.
 */
#include "client.h"

#include <stdbool.h>
#include <string.h>

struct client_pending client_send(struct pool *pool, struct command *cmd)
{
    struct client_pending pending = { .reply = NULL };
    int rc = oneshot_channel(sizeof(struct redis_result), command_reply_drop, &cmd->reply,
                             &pending.reply);
    if (rc != 0) {
        pending.error = redis_result_error(REDIS_RESULT_IO_ERROR,
                                           "cannot make a reply channel: %s", strerror(rc));
    } else if (pool_send(pool, cmd) != CHAN_OK) { /* CHAN_CLOSED: the manager has stopped */
        oneshot_receiver_drop(pending.reply);
        pending.reply = NULL;
        pending.error = redis_result_error(REDIS_RESULT_IO_ERROR, "the manager has stopped: it "
                                           "takes no more commands (was the pool closed?)");
    } else {
        /* The channel holds its own copy now, and the manager will free
         * it.  Empty ours so that nobody frees the same memory twice. */
        *cmd = (struct command){ .kind = COMMAND_GET };
    }
    /* Not sent, the command is still ours: freeing it drops its reply
     * sender too.  Sent, it is empty, and this does nothing. */
    command_free(cmd);
    return pending;
}

/* Both waits: forever (`bounded` false) or at most timeout_ms. */
static struct redis_result wait_for_answer(struct client_pending *pending, bool bounded,
                                           unsigned timeout_ms)
{
    if (pending->reply == NULL) /* it never left: hand over the reason */
        return pending->error;
    struct redis_result result;
    enum chan_status status = bounded ? oneshot_recv_timeout(pending->reply, &result, timeout_ms)
                                      : oneshot_recv(pending->reply, &result);
    /* Dropping the receiver also frees an answer that comes after a
     * timeout (command_reply_drop): a late answer is never leaked. */
    oneshot_receiver_drop(pending->reply);
    pending->reply = NULL;
    if (status == CHAN_TIMEOUT)
        return redis_result_error(REDIS_RESULT_IO_ERROR, "no answer within %u ms", timeout_ms);
    if (status != CHAN_OK) /* the manager dropped the reply sender without a word */
        return redis_result_error(REDIS_RESULT_IO_ERROR,
                                  "the manager dropped the request without answering");
    return result;
}

struct redis_result client_wait(struct client_pending *pending)
{
    return wait_for_answer(pending, false, 0);
}

struct redis_result client_wait_timeout(struct client_pending *pending, unsigned timeout_ms)
{
    return wait_for_answer(pending, true, timeout_ms);
}
