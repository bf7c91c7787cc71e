/*
 * broadcast.h - a multi-producer, multi-consumer channel where EVERY
 * receiver sees EVERY value, after tokio::sync::broadcast.
 *
 * The channel keeps the last `capacity` values in a ring.  Each value gets
 * a sequence number as it is sent; each receiver remembers the number of the
 * next value it wants.  Sending never waits for slow receivers: it
 * overwrites the oldest value, and a receiver that had not read it yet
 * learns, on its next receive, how many values it lost (CHAN_LAGGED).
 *
 *     sender ─┐                   slot:  0     1     2     3
 *     sender ─┴─► send #8 ──► ring: [ #8  | #5  | #6  | #7  ]   next send: #9
 *
 *     receiver A  wants #7   reads #7, then #8, then waits for #9
 *     receiver B  wants #5   reads #5 .. #8: it is behind, but nothing lost
 *     receiver C  wants #3   #3 and #4 were overwritten: CHAN_LAGGED with
 *                            missed = 2, then #5 .. #8
 *
 * Lifetime:
 *   - Send fails with CHAN_CLOSED when there are no receivers: nobody could
 *     ever read the value, so it is not stored and stays the caller's.
 *     A new broadcast_subscribe makes sends work again.
 *   - When the last sender goes, each receiver still reads what it has not
 *     read (if it is retained), then gets CHAN_CLOSED.
 *   - When the last receiver goes, the retained values are destroyed at
 *     once (nobody can read them any more; a later subscriber starts at the
 *     next send).  The memory goes when the last handle of either kind goes.
 *
 * Choices C forced on us, or that we made differently from Tokio:
 *   - Values are copied by value (`elem_size` bytes).  A receiver gets its
 *     OWN copy, made by `clone` (Rust's Clone), while the channel keeps the
 *     original for the other receivers.  If values own memory (a pointer to
 *     a string...), give a `clone` that deep-copies it and a `drop` that
 *     frees it, and free each received copy yourself.  With `clone` NULL a
 *     receiver gets a plain memcpy: right for plain data only.
 *   - `clone` and `drop` run while the channel's lock is held, so they
 *     must be quick and must not call into this channel.  Tokio gives each
 *     slot its own lock; one lock is simpler to read and enough here.
 *   - Tokio destroys a value as soon as every receiver has seen it; we keep
 *     it until it is overwritten (or the last receiver goes).  Simpler, at
 *     the cost of holding `capacity` values' memory for longer.
 *   - Tokio reports lag as Err(Lagged(n)); here it is the status
 *     CHAN_LAGGED with n in *missed.
 *   - The capacity is rounded UP to a power of two, as Tokio does, so that
 *     "which slot holds value #n" is n & (capacity - 1) rather than a
 *     division.  broadcast_capacity tells you the rounded value; it is the
 *     number that decides when a receiver lags.
 *   - Sequence numbers are 64 bits: at a billion sends a second they last
 *     five centuries, so they are never checked for wrapping.
 *   - Receivers waiting for a send are woken with one broadcast, and only
 *     when some are actually waiting: a wake-up costs tens of microseconds.
 *
 * Not built: Tokio's WeakSender and Sender::closed() (waiting for the last
 * receiver to go); no chapter needs them.  broadcast_receiver_count()
 * answers "is anybody listening?".
 */
#ifndef BROADCAST_H
#define BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#include "chan.h"

/* The largest capacity accepted (after rounding).  Larger requests are
 * refused with EINVAL rather than reserving an absurd amount of memory. */
#define BROADCAST_MAX_CAPACITY ((size_t)1 << 24)

struct broadcast_sender;
struct broadcast_receiver;

/*
 * Makes a channel that retains the last `capacity` values (rounded up to a
 * power of two) of `elem_size` bytes, and returns a sender and one receiver
 * in *tx and *rx.  `clone` (may be NULL: memcpy) copies a value out to a
 * receiver; `drop` (may be NULL) destroys a value the channel overwrites or
 * still holds when it dies.
 * Returns 0, EINVAL (capacity 0 or, rounded, above BROADCAST_MAX_CAPACITY,
 * elem_size 0) or ENOMEM.
 */
int broadcast_channel(size_t capacity, size_t elem_size, chan_clone_fn clone,
                      chan_drop_fn drop, struct broadcast_sender **tx,
                      struct broadcast_receiver **rx);

/* ---- Senders ---- */

/* A new sender for the same channel; receivers see CHAN_CLOSED only after
 * every sender is dropped.  NULL only when out of memory. */
struct broadcast_sender *broadcast_sender_clone(struct broadcast_sender *tx);

/* Gives up this sender.  Dropping the last one lets receivers finish: they
 * read what is retained, then get CHAN_CLOSED.  NULL is ignored. */
void broadcast_sender_drop(struct broadcast_sender *tx);

/*
 * Copies *value into the ring for every receiver, destroying (with `drop`)
 * the oldest value if the ring is full.  Never waits for receivers.
 * CHAN_OK, with *receivers set to the number of receivers that will see it;
 * or CHAN_CLOSED when there are no receivers (the value was not stored: it
 * is still the caller's, and *receivers is 0).  `receivers` may be NULL.
 */
enum chan_status broadcast_send(struct broadcast_sender *tx, const void *value,
                                size_t *receivers);

/* A new receiver that will see the values sent from now on, not earlier
 * ones.  NULL only when out of memory. */
struct broadcast_receiver *broadcast_subscribe(struct broadcast_sender *tx);

/* Receivers alive right now.  0 means a send would fail. */
size_t broadcast_receiver_count(const struct broadcast_sender *tx);

/* The capacity after rounding up to a power of two. */
size_t broadcast_capacity(const struct broadcast_sender *tx);

/* ---- Receivers ---- */

/*
 * Takes the next value this receiver has not read:
 *   CHAN_OK      *out holds a copy (made by `clone`): free what it owns.
 *   CHAN_LAGGED  values this receiver had not read were overwritten;
 *                *missed is how many.  The receiver now points at the
 *                oldest value retained, and the next call returns it.
 *                *out is untouched.
 *   CHAN_CLOSED  every sender is gone and this receiver has read all that
 *                is retained.
 * Waits while there is nothing new.  `missed` may be NULL.
 */
enum chan_status broadcast_recv(struct broadcast_receiver *rx, void *out,
                                uint64_t *missed);

/* broadcast_recv giving up with CHAN_TIMEOUT after `timeout_ms`.  A value
 * already there is returned even with a timeout of 0. */
enum chan_status broadcast_recv_timeout(struct broadcast_receiver *rx, void *out,
                                        uint64_t *missed, unsigned timeout_ms);

/* Never waits: as broadcast_recv, or CHAN_EMPTY when nothing new has been
 * sent and a sender is still alive. */
enum chan_status broadcast_try_recv(struct broadcast_receiver *rx, void *out,
                                    uint64_t *missed);

/* A new receiver for the same channel, starting at the NEXT send, like
 * broadcast_subscribe; it does not inherit rx's unread values (Tokio's
 * resubscribe).  Works after the senders are gone too (it is closed at
 * once).  NULL only when out of memory. */
struct broadcast_receiver *broadcast_receiver_resubscribe(const struct broadcast_receiver *rx);

/* Gives up this receiver.  When the last one goes, retained values are
 * destroyed and sends fail until someone subscribes.  NULL is ignored. */
void broadcast_receiver_drop(struct broadcast_receiver *rx);

/* Values sent that this receiver has not read yet, at most the capacity:
 * after a lag, the number it can still read is the capacity. */
size_t broadcast_len(const struct broadcast_receiver *rx);

#endif
