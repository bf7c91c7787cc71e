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
    //> snippet client_send
    //> exercise 04
    struct oneshot_sender *reply_tx;
    struct oneshot_receiver *reply_rx;
    int rc = oneshot_channel(sizeof(struct redis_result), command_reply_drop,
                             &reply_tx, &reply_rx);
    if (rc != 0) {
        command_free(cmd);
        return not_sent(redis_result_error(REDIS_RESULT_IO_ERROR,
                                           "cannot make a reply channel: %s", strerror(rc)));
    }
    cmd->reply = reply_tx; /* the manager answers through this */

    if (mpsc_send(tx, cmd) != CHAN_OK) {
        /* CHAN_CLOSED: the manager has stopped.  The channel did not take
         * the command, so it is still ours: freeing it drops reply_tx too. */
        command_free(cmd);
        oneshot_receiver_drop(reply_rx);
        return not_sent(redis_result_error(
            REDIS_RESULT_IO_ERROR,
            "the manager has stopped: it takes no more commands (was the connection lost?)"));
    }
    /* The channel holds its own copy now, and the manager will free it.
     * Empty ours so that nobody frees the same memory twice. */
    //> pitfall cmd-not-emptied
    *cmd = (struct command){ .kind = COMMAND_GET };
    //| mistake
    //| /* *cmd still points at the key, value and reply the manager now owns */
    //< pitfall cmd-not-emptied
    return (struct client_pending){ .reply = reply_rx, .error = { .kind = REDIS_RESULT_NIL } };
    //| starter
    //| // TODO(04): make a oneshot for one struct redis_result (drop function:
    //| // command_reply_drop), put its sender in cmd->reply, and mpsc_send the
    //| // command.  If the send fails, free the command (it is still yours)
    //| // and the receiver, and return an error.  If it succeeds, the channel
    //| // holds a copy that the manager will free: empty *cmd
    //| // (*cmd = (struct command){ .kind = COMMAND_GET }), so that the caller's
    //| // stale copy cannot free the same memory again, and return the receiver.
    //| (void)tx;
    //| (void)not_sent;
    //| command_free(cmd);
    //| return (struct client_pending){
    //|     .error = redis_result_error(REDIS_RESULT_ERROR, "not implemented yet: client_send "
    //|                                 "(TODO(04) in chapters/04-responses/client.c)"),
    //| };
    //< exercise 04
    //< snippet client_send
}

struct redis_result client_wait(struct client_pending *pending)
{
    if (pending->reply == NULL) { /* it never left: hand over the reason */
        struct redis_result error = pending->error;
        pending->error = (struct redis_result){ .kind = REDIS_RESULT_NIL };
        return error;
    }
    //> snippet client_wait
    //> exercise 04
    struct redis_result result;
    enum chan_status status = oneshot_recv(pending->reply, &result);
    oneshot_receiver_drop(pending->reply);
    pending->reply = NULL;
    if (status != CHAN_OK) {
        /* CHAN_CLOSED: the reply sender was dropped without a word - the
         * manager gave up on the request, or it died in the channel. */
        return redis_result_error(REDIS_RESULT_IO_ERROR,
                                  "the manager dropped the request without answering");
    }
    return result;
    //| starter
    //| // TODO(04): wait for the answer with oneshot_recv, drop the receiver,
    //| // and return the result - or an error if the channel says CHAN_CLOSED.
    //| oneshot_receiver_drop(pending->reply);
    //| pending->reply = NULL;
    //| return redis_result_error(REDIS_RESULT_ERROR, "not implemented yet: client_wait "
    //|                           "(TODO(04) in chapters/04-responses/client.c)");
    //< exercise 04
    //< snippet client_wait
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

//> snippet client_get
struct redis_result client_get(struct mpsc_sender *tx, const void *key, size_t key_len)
{
    struct command cmd;
    if (command_get(&cmd, key, key_len) != 0)
        return redis_result_error(REDIS_RESULT_IO_ERROR, "out of memory building a GET");
    struct client_pending pending = client_send(tx, &cmd);
    return client_wait(&pending);
}
//< snippet client_get

struct redis_result client_set(struct mpsc_sender *tx, const void *key, size_t key_len,
                               const void *value, size_t value_len)
{
    struct command cmd;
    if (command_set(&cmd, key, key_len, value, value_len) != 0)
        return redis_result_error(REDIS_RESULT_IO_ERROR, "out of memory building a SET");
    struct client_pending pending = client_send(tx, &cmd);
    return client_wait(&pending);
}
