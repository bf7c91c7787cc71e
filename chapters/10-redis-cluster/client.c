/*
 * client.c - requests through the cluster, answers through a oneshot,
 * redirections followed (see client.h).
 *
 * Chapter 07's client, with one thing more: a reply that says the key is
 * elsewhere (MOVED, ASK) is not the answer, so the pending request keeps
 * the command and sends a copy of it where the reply says.  Read it in
 * this order:
 *   send_copy           one attempt: a fresh copy of the command, with its
 *                       own oneshot, sent to a node (chapter 07's client_send)
 *   wait_once           the wait for that attempt's reply (chapter 07's)
 *   follow_redirection  what a MOVED or an ASK reply means, and the next
 *                       attempt it calls for
 *   wait_for_answer     attempts until the reply is not a redirection
 */
#include "client.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "slot.h"

/* Sends a fresh copy of p->copy to node `node` (-1: the node that serves
 * its slot), right after an ASKING when `asking`.  Sets p->reply, or
 * p->error when it could not be sent. */
static void send_copy(struct client_pending *p, int node, bool asking)
{
    const struct command *c = &p->copy;
    struct command cmd;
    int rc = c->kind == COMMAND_SET ? command_set(&cmd, c->key, c->key_len, c->value, c->value_len)
                                    : command_get(&cmd, c->key, c->key_len);
    p->reply = NULL;
    if (rc == 0)
        rc = oneshot_channel(sizeof(struct redis_result), command_reply_drop, &cmd.reply,
                             &p->reply);
    cmd.asking = asking;
    if (rc != 0) {
        p->error = redis_result_error(REDIS_RESULT_IO_ERROR, "out of memory sending a %s",
                                      command_name(c->kind));
    } else if (cluster_send(p->cluster, &cmd, node) != CHAN_OK) {
        oneshot_receiver_drop(p->reply);
        p->reply = NULL;
        p->error = redis_result_error(REDIS_RESULT_IO_ERROR, "no node serves slot %u, or its "
                                      "manager has stopped", key_slot(c->key, c->key_len));
    } else {
        /* The channel holds its own copy now, and the manager will free
         * it.  Empty ours so that nobody frees the same memory twice. */
        cmd = (struct command){ .kind = COMMAND_GET };
    }
    /* Not sent, the command is still ours: freeing it drops its reply
     * sender too.  Sent, it is empty, and this does nothing. */
    command_free(&cmd);
}

struct client_pending client_send(struct cluster *cluster, struct command *cmd)
{
    struct client_pending pending = { .cluster = cluster, .copy = *cmd };
    *cmd = (struct command){ .kind = COMMAND_GET }; /* its bytes are the copy's now */
    send_copy(&pending, -1, false);
    return pending;
}

/* One attempt's reply: waits forever (`bounded` false) or at most
 * timeout_ms. */
static struct redis_result wait_once(struct client_pending *pending, bool bounded,
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

/* Is `r` a redirection: "MOVED slot host:port" or "ASK slot host:port"? */
static bool is_redirection(const struct redis_result *r)
{
    return r->kind == REDIS_RESULT_ERROR &&
           (strncmp(r->data, "MOVED ", 6) == 0 || strncmp(r->data, "ASK ", 4) == 0);
}

/*
 * `r` is a redirection: makes the attempt it calls for and returns true;
 * or returns false, with *r replaced by the error that says why not.
 *   MOVED slot host:port  the slot has moved for good: the map learns it
 *                         (cluster_moved), and the command goes there.
 *   ASK slot host:port    the slot is moving, and this key may already be
 *                         at host:port: the command goes there ONCE, after
 *                         ASKING; the map does not change, since the other
 *                         keys of the slot are still where they were.
 */
static bool follow_redirection(struct client_pending *p, struct redis_result *r)
{
    // TODO(10): follow a MOVED or ASK reply (r->data is "MOVED 866
    // 127.0.0.1:7001" or "ASK 866 127.0.0.1:7001"; read them with sscanf):
    //   - find the node: cluster_node_at(p->cluster, address, why, sizeof why);
    //   - MOVED: cluster_moved(p->cluster, slot, node), then
    //     send_copy(p, node, false);
    //   - ASK: cluster_asked(p->cluster), then send_copy(p, node, true):
    //     once, after ASKING, and the slot map stays as it is;
    //   - return true once a new attempt is sent, false to hand *r over.
    // Read docs/10-redis-cluster.md, "Following MOVED and ASK".  For now
    // the caller gets an error instead of the answer.
    (void)p;
    (void)send_copy;
    redis_result_free(r);
    *r = redis_result_error(REDIS_RESULT_ERROR, "not implemented yet: following MOVED "
                            "and ASK (TODO(10) in chapters/10-redis-cluster/client.c)");
    return false;
}

static struct redis_result wait_for_answer(struct client_pending *p, bool bounded,
                                           unsigned timeout_ms)
{
    struct redis_result r = wait_once(p, bounded, timeout_ms);
    for (int followed = 0; is_redirection(&r); followed++) {
        if (followed == CLIENT_MAX_REDIRECTIONS) {
            struct redis_result last = r;
            r = redis_result_error(REDIS_RESULT_ERROR, "still redirected after %d redirections "
                                   "(last: %s)", CLIENT_MAX_REDIRECTIONS, last.data);
            redis_result_free(&last);
            break;
        }
        if (!follow_redirection(p, &r))
            break;
        redis_result_free(&r);
        r = wait_once(p, bounded, timeout_ms);
    }
    /* A lost connection may mean a master died and a replica took over:
     * read the map again, so that the next command finds the new master. */
    if (r.kind == REDIS_RESULT_IO_ERROR)
        cluster_refresh(p->cluster);
    command_free(&p->copy);
    return r;
}

struct redis_result client_wait(struct client_pending *pending)
{
    return wait_for_answer(pending, false, 0);
}

struct redis_result client_wait_timeout(struct client_pending *pending, unsigned timeout_ms)
{
    return wait_for_answer(pending, true, timeout_ms);
}
