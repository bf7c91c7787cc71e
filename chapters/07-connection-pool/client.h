/*
 * client.h - what a requester calls: a command through the pool, with the
 * answer coming back on a oneshot channel.
 *
 *     requester ──command{GET key, reply: tx}──► pool_send ──► [ mpsc i ] ──► manager i
 *         ▲                                                                      │
 *         └──── oneshot_recv(rx) ◄──── oneshot ◄── result ───────────────────────┘
 *
 * The promise of every function here: the caller always gets an answer or
 * an error, never a hang.  If the manager has stopped, the send fails at
 * once; if the manager drops the request without answering, the oneshot
 * says so (CHAN_CLOSED) and the caller gets an error result.
 *
 * client_send does not wait for the answer, client_wait does: a thread can
 * have many requests in flight at once and collect the answers later, in
 * any order.
 *
 * Chapter 04's client, with two changes: client_send takes the pool rather
 * than one manager's sender, and client_wait_timeout bounds the wait.  A
 * caller never needs to know which manager answers: the pool picks it from
 * the key.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <stddef.h>

#include "command.h"
#include "oneshot.h"
#include "pool.h"
#include "redis_client.h"

/* A request on its way.  Exactly one of the two is set: `reply`, the end to
 * wait on, or - when the request never left - `error`, which says why. */
struct client_pending {
    struct oneshot_receiver *reply;
    struct redis_result error;
};

/* Sends `cmd` to its key's manager with a fresh reply channel.  Consumes `cmd`
 * whatever happens: on success it belongs to the manager, on failure it has
 * been freed.  Never waits for the answer (it may wait for room in a full
 * channel: that is backpressure). */
struct client_pending client_send(struct pool *pool, struct command *cmd);

/* Waits for the answer to `pending` and returns it, or the error if there
 * will be no answer: VALUE, NIL or OK; ERROR for an error reply from Redis;
 * IO_ERROR when the connection was lost, the manager is reconnecting, or it
 * has stopped.  Consumes `pending` (wait for it once).  The result is the
 * caller's: free it with redis_result_free. */
struct redis_result client_wait(struct client_pending *pending);

/* client_wait, giving up after `timeout_ms`: then the result is an
 * IO_ERROR saying so, and a late answer is freed by the reply channel.
 * Consumes `pending` either way. */
struct redis_result client_wait_timeout(struct client_pending *pending, unsigned timeout_ms);

#endif
