/*
 * client.c - requests through the manager, answers through a oneshot
 * (see client.h).
 *
 * Each request makes its own oneshot channel: the sending end travels to
 * the manager inside the command, the receiving end stays here.  Follow the
 * sending end and you can check the promise "an answer or an error, never a
 * hang": whatever happens to the command, the sender is either used
 * (oneshot_send) or dropped (command_free), and both wake the receiver.
 */
#include "client.h"

#include <string.h>

/* A request that never left: the pending holds only the reason. */
static struct client_pending not_sent(struct redis_result error)
{
    return (struct client_pending){ .reply = NULL, .error = error };
}

struct client_pending client_send(struct mpsc_sender *tx, struct command *cmd)
{
    // TODO(04): make a oneshot for one struct redis_result (drop function:
    // command_reply_drop), put its sender in cmd->reply, and mpsc_send the
    // command.  If the send fails, free the command (it is still yours)
    // and the receiver, and return an error.  If it succeeds, the channel
    // holds a copy that the manager will free: empty *cmd
    // (*cmd = (struct command){ .kind = COMMAND_GET }), so that the caller's
    // stale copy cannot free the same memory again, and return the receiver.
    (void)tx;
    (void)not_sent;
    command_free(cmd);
    return (struct client_pending){
        .error = redis_result_error(REDIS_RESULT_ERROR, "not implemented yet: client_send "
                                    "(TODO(04) in chapters/04-responses/client.c)"),
    };
}

struct redis_result client_wait(struct client_pending *pending)
{
    if (pending->reply == NULL) { /* it never left: hand over the reason */
        struct redis_result error = pending->error;
        pending->error = (struct redis_result){ .kind = REDIS_RESULT_NIL };
        return error;
    }
    // TODO(04): wait for the answer with oneshot_recv, drop the receiver,
    // and return the result - or an error if the channel says CHAN_CLOSED.
    oneshot_receiver_drop(pending->reply);
    pending->reply = NULL;
    return redis_result_error(REDIS_RESULT_ERROR, "not implemented yet: client_wait "
                              "(TODO(04) in chapters/04-responses/client.c)");
}

void client_abandon(struct client_pending *pending)
{
    /* Dropping the receiver is enough: an answer already sent is freed
     * with it (command_reply_drop), and a later one is refused, so the
     * manager frees it. */
    oneshot_receiver_drop(pending->reply);
    pending->reply = NULL;
    redis_result_free(&pending->error);
}

struct redis_result client_get(struct mpsc_sender *tx, const void *key, size_t key_len)
{
    struct command cmd;
    if (command_get(&cmd, key, key_len) != 0)
        return redis_result_error(REDIS_RESULT_IO_ERROR, "out of memory building a GET");
    struct client_pending pending = client_send(tx, &cmd);
    return client_wait(&pending);
}

struct redis_result client_set(struct mpsc_sender *tx, const void *key, size_t key_len,
                               const void *value, size_t value_len)
{
    struct command cmd;
    if (command_set(&cmd, key, key_len, value, value_len) != 0)
        return redis_result_error(REDIS_RESULT_IO_ERROR, "out of memory building a SET");
    struct client_pending pending = client_send(tx, &cmd);
    return client_wait(&pending);
}
