/*
 * client.h - what a requester calls: GET and SET through the manager, with
 * the answer coming back on a oneshot channel.
 *
 *     requester ──command{GET key, reply: tx}──► [ mpsc ] ──► manager ──► Redis
 *         ▲                                                     │
 *         └──── oneshot_recv(rx) ◄──── oneshot ◄── result ──────┘
 *
 * The promise of every function here: the caller always gets an answer or
 * an error, never a hang.  If the manager has stopped, the send fails at
 * once; if the manager drops the request without answering, the oneshot
 * says so (CHAN_CLOSED) and the caller gets an error result.
 *
 * client_get / client_set wait for their answer.  client_send and
 * client_wait split that in two, so one thread can have many requests in
 * flight at once and collect the answers later, in any order.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <stddef.h>

#include "command.h"
#include "mpsc.h"
#include "oneshot.h"
#include "redis_client.h"

/* A request on its way.  Exactly one of the two is set: `reply`, the end to
 * wait on, or - when the request never left - `error`, which says why. */
struct client_pending {
    struct oneshot_receiver *reply;
    struct redis_result error;
};

/* Sends `cmd` to the manager with a fresh reply channel.  Consumes `cmd`
 * whatever happens: on success it belongs to the manager, on failure it has
 * been freed.  Never waits for the answer (it may wait for room in a full
 * channel: that is backpressure). */
struct client_pending client_send(struct mpsc_sender *tx, struct command *cmd);

/* Waits for the answer to `pending` and returns it; or the error, if there
 * will be no answer.  Consumes `pending`.  The result is the caller's: free
 * it with redis_result_free. */
struct redis_result client_wait(struct client_pending *pending);

/* Gives up on a request without waiting.  An answer that arrives later is
 * freed by the reply channel; none is leaked. */
void client_abandon(struct client_pending *pending);

/* GET / SET through the manager, waiting for the answer: VALUE, NIL or OK;
 * ERROR for an error reply from Redis (text included); IO_ERROR when the
 * connection was lost or the manager has stopped. */
struct redis_result client_get(struct mpsc_sender *tx, const void *key, size_t key_len);
struct redis_result client_set(struct mpsc_sender *tx, const void *key, size_t key_len,
                               const void *value, size_t value_len);

#endif
