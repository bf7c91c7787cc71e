/*
 * watch.h - a channel that holds ONE value, the latest, after
 * tokio::sync::watch.
 *
 * A watch is a shared variable that can tell you when it changed: senders
 * replace the value, receivers read the current one whenever they like and
 * can wait for the next change.  It suits state rather than events - a
 * configuration, "the connection is up", the latest price - where a reader
 * that was busy wants the newest value, not every value in between.
 *
 *     sender ─┐                          ┌─► receiver (seen: v3)  changed? no
 *     sender ─┴─► send ──► [ value, v4 ] ┼─► receiver (seen: v2)  changed? yes
 *                                        └─► receiver (seen: v4)  changed? no
 *
 * Each send bumps a version; each receiver remembers the version it has
 * seen.  So several sends before a receiver looks COALESCE: it is told of a
 * change once, and reads the latest value.
 *
 * Lifetime:
 *   - Send fails with CHAN_CLOSED when there are no receivers; the value is
 *     then not stored and stays the caller's.  A new watch_subscribe makes
 *     sends work again.
 *   - When the last sender goes, receivers can still read the value, and a
 *     change they had not seen is still reported once; after that,
 *     watch_changed returns CHAN_CLOSED.
 *   - The value is destroyed (with `drop`) when replaced, and the last one
 *     when the last handle of either kind goes.
 *
 * Choices C forced on us:
 *   - Tokio's borrow() hands out a reference that holds a read lock until it
 *     is dropped.  In C, a lock held across the caller's code is a deadlock
 *     waiting to happen, so borrowing COPIES the value out under the lock
 *     instead: with `clone` (a deep copy, for values that own memory) or a
 *     memcpy when `clone` is NULL.  The copy never tears - it is taken
 *     whole between two sends - and it is the caller's to free.
 *   - `clone` and `drop` run under the channel's lock: keep them quick, and
 *     do not call into this channel from them.
 *   - Versions are 64 bits and never wrap in practice.
 *
 * Not built: send_modify / send_if_modified (changing the value in place
 * through a callback run under the lock), Sender::borrow, and
 * Sender::closed(); watch_receiver_count() says whether anybody listens.
 */
#ifndef WATCH_H
#define WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "chan.h"

struct watch_sender;
struct watch_receiver;

/*
 * Makes a watch of `elem_size`-byte values, starting with a memcpy of
 * *initial, and returns a sender and one receiver in *tx and *rx.  On
 * success the channel owns what *initial owned; on failure nothing was
 * taken.  The initial value counts as already seen.  `clone` (may be NULL:
 * memcpy) copies the value out to readers; `drop` (may be NULL) destroys a
 * value that is replaced, and the last one when the channel dies.
 * Returns 0, EINVAL (elem_size 0, initial NULL) or ENOMEM.
 */
int watch_channel(size_t elem_size, const void *initial, chan_clone_fn clone,
                  chan_drop_fn drop, struct watch_sender **tx,
                  struct watch_receiver **rx);

/* ---- Senders ---- */

/* Replaces the value with a memcpy of *value (destroying the old one with
 * `drop`) and wakes receivers waiting for a change.  CHAN_OK, or
 * CHAN_CLOSED when there are no receivers: then nothing was stored and the
 * value is still the caller's. */
enum chan_status watch_send(struct watch_sender *tx, const void *value);

/* A new sender; the channel closes only when every sender is dropped.
 * NULL only when out of memory. */
struct watch_sender *watch_sender_clone(struct watch_sender *tx);

/* Gives up this sender.  Dropping the last one wakes receivers waiting in
 * watch_changed.  NULL is ignored. */
void watch_sender_drop(struct watch_sender *tx);

/* A new receiver; the current value counts as seen by it.  NULL only when
 * out of memory. */
struct watch_receiver *watch_subscribe(struct watch_sender *tx);

/* Receivers alive right now.  0 means a send would fail. */
size_t watch_receiver_count(const struct watch_sender *tx);

/* ---- Receivers ---- */

/* A new receiver that has seen exactly what rx has seen.  NULL only when
 * out of memory. */
struct watch_receiver *watch_receiver_clone(const struct watch_receiver *rx);

/* Gives up this receiver.  NULL is ignored. */
void watch_receiver_drop(struct watch_receiver *rx);

/* Copies the current value into *out (see "borrow" above), WITHOUT marking
 * it seen.  Works after the senders are gone too. */
void watch_borrow(struct watch_receiver *rx, void *out);

/* Copies the current value into *out and marks it seen. */
void watch_borrow_and_update(struct watch_receiver *rx, void *out);

/* CHAN_OK with *changed telling whether a value newer than the one this
 * receiver has seen was sent; CHAN_CLOSED if (and only if) every sender is
 * gone, even when there is an unseen value - use watch_changed to drain it. */
enum chan_status watch_has_changed(const struct watch_receiver *rx, bool *changed);

/* Waits until a value newer than the one seen is sent, and marks it seen
 * (read it with watch_borrow).  CHAN_OK; or CHAN_CLOSED once every sender
 * is gone and the latest value has been seen. */
enum chan_status watch_changed(struct watch_receiver *rx);

/* watch_changed giving up with CHAN_TIMEOUT after `timeout_ms`.  An unseen
 * change is reported even with a timeout of 0. */
enum chan_status watch_changed_timeout(struct watch_receiver *rx, unsigned timeout_ms);

#endif
