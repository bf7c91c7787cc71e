/*
 * mpsc.h - a multi-producer, single-consumer channel, after tokio::sync::mpsc.
 *
 * Many threads send, exactly one thread holds the `struct mpsc_receiver *`.
 * Elements are copied in and out by value (`elem_size` bytes), so sending a
 * `struct command` costs no allocation.
 *
 * One `struct mpsc_sender *` may be used by several threads at once: every
 * sender call takes the channel's lock.  Cloning a sender is about
 * lifetime, not safety: the channel closes when the last clone is dropped,
 * so give a clone to each party that decides on its own when it is done
 * sending (as Tokio's Sender is Sync, and cloned to be moved into tasks).
 *
 *     sender ─┐
 *     sender ─┼──► [ e0 | e1 | e2 | .. capacity .. ] ──► receiver
 *     sender ─┘      oldest first
 *
 * Lifetime, the part that makes programs hang when it is got wrong:
 *   - The channel closes when the LAST sender is dropped.  The receiver then
 *     gets every element still queued, and after that CHAN_CLOSED.  A
 *     receiver loop `while (mpsc_recv(rx, &cmd) == CHAN_OK)` therefore ends
 *     only when every sender has been dropped: a sender forgotten in main()
 *     keeps it waiting for ever.
 *   - The receiver can close early (mpsc_receiver_close): sends fail from
 *     then on, queued elements stay receivable.
 *   - Dropping the receiver destroys the queued elements (through `drop`)
 *     and makes every later send fail.
 *
 * Bounded channels hold at most `capacity` elements; a sender that finds the
 * channel full blocks (mpsc_send), gives up after a time (mpsc_send_timeout)
 * or is told CHAN_FULL at once (mpsc_try_send).  That is backpressure.
 * Blocked senders are admitted in the order they blocked.
 *
 * Wake-ups are expensive (tens of microseconds each on a small machine), so
 * the channel signals the receiver only when it is actually asleep, a
 * thread about to sleep first spins for a few microseconds in case what it
 * waits for is about to happen, and mpsc_recv_many takes everything queued
 * in one go: a busy receiver drains batches without sleeping between
 * elements.
 *
 * How many slots?  It depends on the producers.  A producer with at most
 * one request outstanding (it sends, then waits for the reply before it
 * sends again) never finds the channel full if the channel has at least as
 * many slots as there are such producers: mpsc_send then never blocks.
 * Producers that send without waiting fill any capacity once the receiver
 * falls behind, and from then on they block whatever the capacity; more
 * slots only make each wake-up worth more.  With P producers keeping C
 * slots full, a producer that wakes up finds about C/P slots for itself,
 * so the channel costs about P/C wake-ups per element - never more than
 * one, since a freed slot wakes exactly one sender.
 *
 * Not built: Tokio's WeakSender.  A weak handle exists to let a task refer to
 * its own channel without keeping it open; no chapter needs that, and a C
 * reader gains more from seeing the strong-handle rule alone.
 */
#ifndef MPSC_H
#define MPSC_H

#include <stdbool.h>
#include <stddef.h>

#include "chan.h"

/* The largest capacity a bounded channel accepts.  Larger requests are
 * refused with EINVAL rather than reserving an absurd amount of memory. */
#define MPSC_MAX_CAPACITY ((size_t)1 << 28)

struct mpsc_sender;
struct mpsc_receiver;

/*
 * Makes a bounded channel of `capacity` elements of `elem_size` bytes and
 * returns its two ends in *tx and *rx.  `drop` (may be NULL) is called on
 * each element still queued when the channel dies.
 * Returns 0, EINVAL (capacity 0 or above MPSC_MAX_CAPACITY, elem_size 0) or
 * ENOMEM.
 */
int mpsc_channel(size_t capacity, size_t elem_size, chan_drop_fn drop,
                 struct mpsc_sender **tx, struct mpsc_receiver **rx);

/* Like mpsc_channel with no capacity limit: sends never block and never see
 * CHAN_FULL, and memory grows with the queue.  Chapter 05 shows the cost. */
int mpsc_unbounded_channel(size_t elem_size, chan_drop_fn drop,
                           struct mpsc_sender **tx, struct mpsc_receiver **rx);

/* ---- Senders ---- */

/* A new handle to the same channel; the channel stays open until every
 * handle is dropped.  NULL only when out of memory. */
struct mpsc_sender *mpsc_sender_clone(struct mpsc_sender *tx);

/* Gives up this handle.  Dropping the last one closes the channel. */
void mpsc_sender_drop(struct mpsc_sender *tx);

/* Copies *elem into the channel, waiting while it is full.  CHAN_OK; or,
 * with the element not taken (it is still the caller's):
 *   CHAN_CLOSED     the receiver closed or was dropped, before the send or
 *                   while it waited for room;
 *   CHAN_NO_MEMORY  the channel could not get the memory the send needs:
 *                   an unbounded channel whose queue cannot grow.  The
 *                   channel itself is fine; later sends may succeed. */
enum chan_status mpsc_send(struct mpsc_sender *tx, const void *elem);

/* mpsc_send, giving up with CHAN_TIMEOUT after `timeout_ms`. */
enum chan_status mpsc_send_timeout(struct mpsc_sender *tx, const void *elem,
                                   unsigned timeout_ms);

/* Never waits: CHAN_OK, CHAN_FULL, CHAN_CLOSED or CHAN_NO_MEMORY. */
enum chan_status mpsc_try_send(struct mpsc_sender *tx, const void *elem);

/* True once the receiver has closed or been dropped. */
bool mpsc_sender_is_closed(const struct mpsc_sender *tx);

/* Waits until the receiver closes or is dropped: CHAN_CLOSED, or
 * CHAN_TIMEOUT after `timeout_ms`. */
enum chan_status mpsc_sender_wait_closed_timeout(struct mpsc_sender *tx,
                                                 unsigned timeout_ms);

/* Free slots right now (Tokio's Sender::capacity): max_capacity minus queued
 * elements minus reserved permits.  SIZE_MAX for an unbounded channel. */
size_t mpsc_sender_capacity(const struct mpsc_sender *tx);

/* The capacity given at creation; SIZE_MAX for an unbounded channel. */
size_t mpsc_sender_max_capacity(const struct mpsc_sender *tx);

/* Elements queued right now. */
size_t mpsc_sender_len(const struct mpsc_sender *tx);

/* ---- Permits: reserve a slot first, fill it later ----
 *
 * A permit is a slot already set aside, so sending through it cannot find
 * the channel full.  Useful when building the element is costly or has side
 * effects: reserve first, then build, then send.  A permit keeps the
 * channel from reporting CHAN_CLOSED to the receiver until it is used or
 * dropped, so an element sent through it is never lost to a close. */
struct mpsc_permit {
    struct mpsc_chan *chan; /* NULL once used up or dropped */
    size_t count;           /* slots still held */
};

/* Waits for one slot.  CHAN_OK, or CHAN_CLOSED if the receiver closed or
 * was dropped, before the call or while it waited. */
enum chan_status mpsc_reserve(struct mpsc_sender *tx, struct mpsc_permit *permit);
/* Waits for `n` slots at once.  n == 0 succeeds at once; n above the
 * capacity fails at once with CHAN_FULL (it could never succeed). */
enum chan_status mpsc_reserve_many(struct mpsc_sender *tx, size_t n,
                                   struct mpsc_permit *permit);
/* Never waits: CHAN_OK, CHAN_FULL or CHAN_CLOSED. */
enum chan_status mpsc_try_reserve(struct mpsc_sender *tx, struct mpsc_permit *permit);
enum chan_status mpsc_try_reserve_many(struct mpsc_sender *tx, size_t n,
                                       struct mpsc_permit *permit);

/* Sends *elem into one reserved slot.  It is delivered even if the receiver
 * closed after the reservation; only a dropped receiver (nobody could ever
 * read it) refuses it, with CHAN_CLOSED, and an unbounded channel whose
 * queue cannot grow, with CHAN_NO_MEMORY.  Refused, the element stays the
 * caller's and the slot is given back.  The permit's remaining slots stay
 * reserved. */
enum chan_status mpsc_permit_send(struct mpsc_permit *permit, const void *elem);

/* Releases the slots the permit still holds and wakes senders waiting for
 * them.  Safe on a used-up or already dropped permit. */
void mpsc_permit_drop(struct mpsc_permit *permit);

/* ---- The receiver ---- */

/* Copies the oldest element into *out, waiting while the channel is empty.
 * CHAN_OK, or CHAN_CLOSED once the channel is closed AND drained. */
enum chan_status mpsc_recv(struct mpsc_receiver *rx, void *out);

/* mpsc_recv giving up with CHAN_TIMEOUT after `timeout_ms`.  An element that
 * is already queued is returned even with a timeout of 0. */
enum chan_status mpsc_recv_timeout(struct mpsc_receiver *rx, void *out,
                                   unsigned timeout_ms);

/* Never waits: CHAN_OK, CHAN_EMPTY, or CHAN_CLOSED (closed and drained). */
enum chan_status mpsc_try_recv(struct mpsc_receiver *rx, void *out);

/* Waits until at least one element is queued, then moves up to `limit` of
 * them, oldest first, into `out` (an array of `limit` elements).  Returns
 * how many it moved: 0 only when `limit` is 0 or the channel is closed and
 * drained.  This is how a manager takes a whole batch per wake-up. */
size_t mpsc_recv_many(struct mpsc_receiver *rx, void *out, size_t limit);

/* mpsc_recv_many that waits at most `timeout_ms`: returns 0 with *status set
 * to CHAN_TIMEOUT or CHAN_CLOSED, or >0 with *status set to CHAN_OK.
 * `status` may be NULL. */
size_t mpsc_recv_many_timeout(struct mpsc_receiver *rx, void *out, size_t limit,
                              unsigned timeout_ms, enum chan_status *status);

/* Closes the channel from the receiving end: sends and reservations fail
 * from now on, and every one still waiting for room wakes with CHAN_CLOSED,
 * even if a slot frees before it gets to run.  Elements already queued (and
 * ones sent through permits granted before the close) can still be
 * received.  Calling it again does nothing. */
void mpsc_receiver_close(struct mpsc_receiver *rx);

/* Closes the channel, destroys every queued element through `drop`, and
 * gives up the receiver.  Senders see CHAN_CLOSED from now on. */
void mpsc_receiver_drop(struct mpsc_receiver *rx);

size_t mpsc_len(const struct mpsc_receiver *rx);
size_t mpsc_capacity(const struct mpsc_receiver *rx); /* as given; SIZE_MAX if unbounded */
bool mpsc_is_empty(const struct mpsc_receiver *rx);
bool mpsc_is_full(const struct mpsc_receiver *rx);
/* True once the channel is closed (by the receiver, or by the last sender
 * going).  Queued elements may still be waiting. */
bool mpsc_is_closed(const struct mpsc_receiver *rx);

#endif
