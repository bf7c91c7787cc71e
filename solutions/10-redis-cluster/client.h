/*
 * client.h - what a requester calls: a command through the cluster, with
 * the answer coming back on a oneshot channel, and redirections followed.
 *
 *     client_send ──► cluster_send (slot map) ──► manager of node A ──► node A
 *     client_wait ◄── oneshot ◄── "-MOVED 866 127.0.0.1:7001"
 *         │ cluster_moved: the map says node B now
 *         └─► the same command again ──► manager of node B ──► node B ──► "OK"
 *
 * Chapter 07's client, with one thing more: a reply that says the key is
 * elsewhere (MOVED, ASK) is not the answer.  client_wait follows it, at
 * most CLIENT_MAX_REDIRECTIONS times, and hands the caller the answer of
 * the node that really has the key - or an error, never a hang.  To send a
 * command again it keeps a copy of it in the pending request.
 *
 * client_send does not wait for the answer, client_wait does: a thread can
 * have many requests in flight at once and collect the answers later, in
 * any order.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <stddef.h>

#include "cluster.h"
#include "command.h"
#include "oneshot.h"
#include "redis_client.h"

/* How many redirections one command follows before its caller gets an
 * error: a slot moves once, and may be asked about once more on the way. */
#define CLIENT_MAX_REDIRECTIONS 5

/* A request on its way: `reply` to wait on, or - when the request never
 * left - `error`, which says why; and the command, to send it again. */
struct client_pending {
    struct cluster *cluster;
    struct oneshot_receiver *reply;
    struct redis_result error;
    struct command copy; /* without a reply sender: each attempt has its own */
};

/* Sends `cmd` to the node that serves its key's slot.  Consumes `cmd`
 * whatever happens.  Never waits for the answer (it may wait for room in a
 * full channel: that is backpressure). */
struct client_pending client_send(struct cluster *cluster, struct command *cmd);

/* Waits for the answer to `pending`, following MOVED and ASK, and returns
 * it, or the error if there will be no answer: VALUE, NIL or OK; ERROR for
 * an error reply from Redis; IO_ERROR when the connection was lost, the
 * manager is reconnecting, or no node serves the slot.  Consumes `pending`
 * (wait for it once).  The result is the caller's: free it with
 * redis_result_free. */
struct redis_result client_wait(struct client_pending *pending);

/* client_wait, giving up on an attempt after `timeout_ms`: then the result
 * is an IO_ERROR saying so, and a late answer is freed by the reply channel.
 * Consumes `pending` either way. */
struct redis_result client_wait_timeout(struct client_pending *pending, unsigned timeout_ms);

#endif
