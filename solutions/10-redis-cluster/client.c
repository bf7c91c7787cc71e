/*
 * client.c - requests through the cluster, answers through a oneshot,
 * redirections followed (see client.h).
 *
 * Read it in this order:
 *   send_copy           one attempt: a fresh copy of the command, its own
 *                       oneshot, sent to a node (chapter 07's client_send)
 *   wait_once           one wait for that attempt's answer
 *   follow_redirection  what a MOVED or an ASK reply means, and the next
 *                       attempt it calls for
 *   wait_for_answer     attempts until the answer is not a redirection
 */
#include "client.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "slot.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends a fresh copy of pending->copy to `node` (-1: the node of its slot),
 * preceded by ASKING when `asking`.  Sets pending->reply, or
 * pending->error when it could not be sent. */
static void send_copy(struct client_pending *p, int node, bool asking)
{
    const struct command *c = &p->copy;
    struct command cmd;
    struct oneshot_receiver *rx = NULL;
    p->reply = NULL;
    int rc = c->kind == COMMAND_SET
                 ? command_set(&cmd, c->key, c->key_len, c->value, c->value_len)
                 : command_get(&cmd, c->key, c->key_len);
    if (rc == 0)
        rc = oneshot_channel(sizeof(struct redis_result), command_reply_drop, &cmd.reply, &rx);
    if (rc != 0) {
        command_free(&cmd);
        p->error = redis_result_error(REDIS_RESULT_IO_ERROR, "out of memory sending a %s",
                                      command_name(c->kind));
        return;
    }
    cmd.asking = asking;
    if (cluster_send(p->cluster, &cmd, node) != CHAN_OK) {
        command_free(&cmd); /* not taken: still ours, and its sender with it */
        oneshot_receiver_drop(rx);
        p->error = redis_result_error(
            REDIS_RESULT_IO_ERROR, "no node serves slot %u, or its manager has stopped",
            key_slot(c->key, c->key_len));
        return;
    }
    p->reply = rx;
}

struct client_pending client_send(struct cluster *cluster, struct command *cmd)
{
    struct client_pending p = { .cluster = cluster, .copy = *cmd };
    p.copy.reply = NULL;
    p.copy.asking = false;
    oneshot_sender_drop(cmd->reply); /* a caller's sender would never be used */
    *cmd = (struct command){ .kind = COMMAND_GET }; /* its bytes are p.copy's now */
    send_copy(&p, -1, false);
    return p;
}

/* One wait for the current attempt; `deadline_ms` 0 means no limit. */
static struct redis_result wait_once(struct client_pending *p, long long deadline_ms)
{
    if (p->reply == NULL) { /* it never left: hand over the reason */
        struct redis_result error = p->error;
        p->error = (struct redis_result){ .kind = REDIS_RESULT_NIL };
        return error;
    }
    struct redis_result result;
    long long left = deadline_ms - now_ms();
    enum chan_status status =
        deadline_ms == 0 ? oneshot_recv(p->reply, &result)
                         : oneshot_recv_timeout(p->reply, &result, left > 0 ? (unsigned)left : 0);
    oneshot_receiver_drop(p->reply); /* frees a late answer, too */
    p->reply = NULL;
    if (status == CHAN_TIMEOUT)
        return redis_result_error(REDIS_RESULT_IO_ERROR, "no answer within the time given");
    if (status != CHAN_OK)
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
//> snippet follow_redirection
//> exercise 10
static bool follow_redirection(struct client_pending *p, struct redis_result *r)
{
    unsigned slot;
    char address[64], why[512];
    //> pitfall ignores-moved
    bool moved = sscanf(r->data, "MOVED %u %63s", &slot, address) == 2;
    //| mistake
    //| bool moved = false; /* a MOVED reply is handed to the caller as the answer */
    //< pitfall ignores-moved
    bool ask = !moved && sscanf(r->data, "ASK %u %63s", &slot, address) == 2;
    if (!moved && !ask)
        return false; /* the reply itself is what the caller gets */
    int node = cluster_node_at(p->cluster, address, why, sizeof why);
    if (node < 0) {
        redis_result_free(r);
        *r = redis_result_error(REDIS_RESULT_IO_ERROR, "redirected to %s, which cannot be "
                                "reached: %s", address, why);
        return false;
    }
    if (moved) {
        cluster_moved(p->cluster, slot, node);
        send_copy(p, node, false);
    } else {
        //> pitfall ask-changes-map
        cluster_asked(p->cluster);
        //| mistake
        //| cluster_moved(p->cluster, slot, node); /* ASK taken for MOVED */
        //< pitfall ask-changes-map
        //> pitfall ask-without-asking
        send_copy(p, node, true);
        //| mistake
        //| send_copy(p, node, false); /* no ASKING: the importing node says MOVED */
        //< pitfall ask-without-asking
    }
    return true;
}
//| starter
//| static bool follow_redirection(struct client_pending *p, struct redis_result *r)
//| {
//|     // TODO(10): follow a MOVED or ASK reply (r->data is "MOVED 866
//|     // 127.0.0.1:7001" or "ASK 866 127.0.0.1:7001"; read them with sscanf):
//|     //   - find the node: cluster_node_at(p->cluster, address, why, sizeof why);
//|     //   - MOVED: cluster_moved(p->cluster, slot, node), then
//|     //     send_copy(p, node, false);
//|     //   - ASK: cluster_asked(p->cluster), then send_copy(p, node, true):
//|     //     once, after ASKING, and the slot map stays as it is;
//|     //   - return true once a new attempt is sent, false to hand *r over.
//|     // Read docs/10-redis-cluster.md, "Following MOVED and ASK".  For now
//|     // the caller gets an error instead of the answer.
//|     (void)p;
//|     (void)send_copy;
//|     redis_result_free(r);
//|     *r = redis_result_error(REDIS_RESULT_ERROR, "not implemented yet: following MOVED "
//|                             "and ASK (TODO(10) in chapters/10-redis-cluster/client.c)");
//|     return false;
//| }
//< exercise 10
//< snippet follow_redirection

//> snippet wait_for_answer
static struct redis_result wait_for_answer(struct client_pending *p, long long deadline_ms)
{
    struct redis_result r = wait_once(p, deadline_ms);
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
        r = wait_once(p, deadline_ms);
    }
    /* A lost connection may mean a master died and a replica took over:
     * read the map again, so that the next command finds the new master. */
    if (r.kind == REDIS_RESULT_IO_ERROR)
        cluster_refresh(p->cluster);
    command_free(&p->copy);
    return r;
}
//< snippet wait_for_answer

struct redis_result client_wait(struct client_pending *pending)
{
    return wait_for_answer(pending, 0);
}

struct redis_result client_wait_timeout(struct client_pending *pending, unsigned timeout_ms)
{
    return wait_for_answer(pending, now_ms() + (long long)timeout_ms + 1);
}

struct redis_result client_get(struct cluster *cluster, const void *key, size_t key_len)
{
    struct command cmd;
    if (command_get(&cmd, key, key_len) != 0)
        return redis_result_error(REDIS_RESULT_IO_ERROR, "out of memory building a GET");
    struct client_pending pending = client_send(cluster, &cmd);
    return client_wait(&pending);
}

struct redis_result client_set(struct cluster *cluster, const void *key, size_t key_len,
                               const void *value, size_t value_len)
{
    struct command cmd;
    if (command_set(&cmd, key, key_len, value, value_len) != 0)
        return redis_result_error(REDIS_RESULT_IO_ERROR, "out of memory building a SET");
    struct client_pending pending = client_send(cluster, &cmd);
    return client_wait(&pending);
}
