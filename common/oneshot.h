/*
 * oneshot.h - a channel for exactly one value, after tokio::sync::oneshot.
 *
 * The reply path of chapter 04: a requester makes a oneshot, puts the sender
 * inside its command, sends the command to the manager and waits on the
 * receiver.  The manager answers through the sender.
 *
 *     requester ──command{..., reply: tx}──► manager
 *         ▲                                     │
 *         └──────────── oneshot ◄── value ──────┘
 *
 * Both ends are single-use handles.  oneshot_send consumes the sender
 * whatever it returns, and so does oneshot_sender_drop: in every case the
 * sender is gone afterwards, and the receiver learns of it.
 *
 *   - A value sent is received once.  A second receive returns CHAN_CLOSED.
 *   - If the sender is dropped without sending, the receiver gets
 *     CHAN_CLOSED: a requester can never wait for ever on a manager that
 *     died or gave up.
 *   - If the receiver is gone (dropped or closed) the send fails with
 *     CHAN_CLOSED and the value stays with the caller, so it is not leaked.
 *     The sender can ask beforehand (oneshot_sender_is_closed) and skip work
 *     nobody waits for.
 */
#ifndef ONESHOT_H
#define ONESHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "chan.h"

struct oneshot_sender;
struct oneshot_receiver;

/* Makes a oneshot for one value of `elem_size` bytes.  `drop` (may be NULL)
 * destroys a value sent but never received.  Returns 0, EINVAL (elem_size
 * 0) or ENOMEM. */
int oneshot_channel(size_t elem_size, chan_drop_fn drop,
                    struct oneshot_sender **tx, struct oneshot_receiver **rx);

/* Copies *value across and gives up the sender.  CHAN_OK, or CHAN_CLOSED if
 * the receiver is gone or closed (the value was not taken). */
enum chan_status oneshot_send(struct oneshot_sender *tx, const void *value);

/* Gives up the sender without sending: the receiver gets CHAN_CLOSED. */
void oneshot_sender_drop(struct oneshot_sender *tx);

/* True once the receiver has been dropped or closed. */
bool oneshot_sender_is_closed(const struct oneshot_sender *tx);

/* Waits until the receiver is dropped or closed: CHAN_CLOSED, or
 * CHAN_TIMEOUT after `timeout_ms`. */
enum chan_status oneshot_sender_wait_closed_timeout(struct oneshot_sender *tx,
                                                    unsigned timeout_ms);

/* Waits for the value: CHAN_OK with *out filled, or CHAN_CLOSED if the sender
 * went without sending (or the value was already taken). */
enum chan_status oneshot_recv(struct oneshot_receiver *rx, void *out);

/* oneshot_recv giving up with CHAN_TIMEOUT after `timeout_ms`. */
enum chan_status oneshot_recv_timeout(struct oneshot_receiver *rx, void *out,
                                      unsigned timeout_ms);

/* Never waits: CHAN_OK, CHAN_EMPTY (nothing yet) or CHAN_CLOSED. */
enum chan_status oneshot_try_recv(struct oneshot_receiver *rx, void *out);

/* Refuses any later send.  A value sent before the close can still be
 * received.  Calling it again does nothing. */
void oneshot_receiver_close(struct oneshot_receiver *rx);

/* Gives up the receiver; a value sent and not received is destroyed with
 * `drop`. */
void oneshot_receiver_drop(struct oneshot_receiver *rx);

#endif
