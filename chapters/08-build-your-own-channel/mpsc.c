/*
 * mpsc.c - chapter 08: the channel of common/mpsc.h, built again from one
 * mutex and two condition variables.
 *
 * It implements the whole header, so `make test-08` can link this file in
 * place of common/mpsc.c and run common's own mpsc test suite against it.
 * It is the small version: no spinning, no queue of waiting senders, no
 * condition variable per waiter.  What is left is the core every blocking
 * queue shares, and the four rules that make it correct:
 *
 *   1. Every field is read and written with `lock` held.
 *   2. Every wait is a `while` loop around its condition: a thread that
 *      wakes up re-checks, because another thread may have got there first,
 *      and because condition variables may wake up for no reason at all.
 *   3. Whoever changes what a waiter waits for changes it with the lock
 *      held, then wakes the waiter.  Changing it under the lock is what
 *      keeps the wake-up from being lost: the waiter checks under the same
 *      lock, and pthread_cond_wait releases it and sleeps in one atomic
 *      step, so the change cannot fall between the check and the sleep.
 *      The signal may come before or just after the unlock: both are
 *      correct.  This file signals before, the simple default
 *      (common/oneshot.c wakes after the unlock, and says what that takes).
 *   4. Signal (wake one) only when any one waiter can use what changed;
 *      otherwise broadcast (wake all), and let the loops of rule 2 send the
 *      ones who cannot proceed back to sleep.
 *
 * What to notice: where each pthread_cond_signal and pthread_cond_broadcast
 * is, and the comment beside it saying whom it wakes and why.
 * docs/08-build-your-own-channel.md walks through it.
 */
#include "mpsc.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define UNBOUNDED SIZE_MAX
#define UNBOUNDED_INITIAL_SLOTS 64

struct mpsc_chan {
    pthread_mutex_t lock;       /* guards every field below */
    pthread_cond_t not_empty;   /* the receiver waits here for an element */
    pthread_cond_t not_full;    /* senders wait here for room (or a close) */

    size_t elem_size;
    size_t capacity;            /* UNBOUNDED, or 1..MPSC_MAX_CAPACITY */
    chan_drop_fn drop;          /* for elements nobody will receive */

    unsigned char *ring;        /* `slots` elements of elem_size bytes */
    size_t slots;
    size_t head;                /* index of the oldest element */
    size_t len;                 /* elements queued */
    size_t reserved;            /* slots promised to permits */

    size_t senders;             /* live sender handles */
    size_t refs;                /* senders + receiver + permits: the last frees */
    bool rx_alive;              /* the receiver has not been dropped */
    bool closed;                /* no new sends: the last sender went, or the
                                   receiver closed or was dropped */
    size_t odd_waiters;         /* threads waiting on not_full that one free
                                   slot may not satisfy (see room_made) */
};

struct mpsc_sender {
    struct mpsc_chan *chan;
};

struct mpsc_receiver {
    struct mpsc_chan *chan;
};

/* ---- The ring buffer ------------------------------------------------------ */

/* The i-th queued element, counting from the oldest.  The ring wraps
 * around: the element after the last slot is in slot 0. */
static unsigned char *slot_at(struct mpsc_chan *c, size_t i)
{
    return c->ring + ((c->head + i) % c->slots) * c->elem_size;
}

/* Doubles an unbounded channel's ring, unwrapping it so the oldest element
 * lands in slot 0.  False if memory ran out. */
static bool grow_ring(struct mpsc_chan *c)
{
    if (c->slots > SIZE_MAX / 2 / c->elem_size)
        return false;
    unsigned char *bigger = malloc(2 * c->slots * c->elem_size);
    if (bigger == NULL)
        return false;
    for (size_t i = 0; i < c->len; i++)
        memcpy(bigger + i * c->elem_size, slot_at(c, i), c->elem_size);
    free(c->ring);
    c->ring = bigger;
    c->slots *= 2;
    c->head = 0;
    return true;
}

/* Copies *elem in after the newest element.  A bounded channel's caller
 * has made sure there is room; an unbounded ring grows, and false means
 * it could not. */
static bool push(struct mpsc_chan *c, const void *elem)
{
    if (c->len == c->slots && !grow_ring(c))
        return false;
    memcpy(slot_at(c, c->len), elem, c->elem_size);
    c->len++;
    return true;
}

/* Moves the oldest element out into *out. */
static void pop(struct mpsc_chan *c, void *out)
{
    memcpy(out, slot_at(c, 0), c->elem_size);
    c->head = (c->head + 1) % c->slots;
    c->len--;
}

/* Destroys every queued element: nobody will ever receive them. */
static void drop_all_queued(struct mpsc_chan *c)
{
    while (c->len > 0) {
        if (c->drop != NULL)
            c->drop(slot_at(c, 0));
        c->head = (c->head + 1) % c->slots;
        c->len--;
    }
}

/* ---- Waiting and waking --------------------------------------------------- */

static size_t free_slots(const struct mpsc_chan *c)
{
    if (c->capacity == UNBOUNDED)
        return UNBOUNDED;
    return c->capacity - c->len - c->reserved;
}

/* The receiver's end: nothing queued, and nothing more can come (no new
 * sends, and no permit left that could still deliver one). */
static bool closed_and_drained(const struct mpsc_chan *c)
{
    return c->closed && c->len == 0 && c->reserved == 0;
}

/* One wait on `cond`, for ever if `deadline` is NULL.  Returns false once
 * the deadline has passed.  Either way the caller re-checks its condition:
 * a wait can end without anything having changed. */
static bool wait_on(pthread_cond_t *cond, struct mpsc_chan *c, const struct timespec *deadline)
{
    if (deadline == NULL) {
        pthread_cond_wait(cond, &c->lock);
        return true;
    }
    return chan_cond_wait_until(cond, &c->lock, deadline);
}

/* `n` slots have just become free: wake the senders who may use them. */
static void room_made(struct mpsc_chan *c, size_t n)
{
    if (n == 0 || c->capacity == UNBOUNDED)
        return; /* nobody ever waits for room in an unbounded channel */
    if (n == 1 && c->odd_waiters == 0) {
        /* One slot, and every waiter wants exactly one: any waiter can use
         * it, so waking one is enough.  Waking all would only send the
         * others back to sleep. */
        pthread_cond_signal(&c->not_full);
    } else {
        /* Several slots, or a waiter that one slot does not satisfy (a
         * reserve_many, or a wait_closed that wants a close, not room).
         * A signal might wake just that waiter, which goes back to sleep,
         * and the sender who could have used the slot would never hear of
         * it: a lost wake-up.  Wake everyone; each one's `while` decides. */
        pthread_cond_broadcast(&c->not_full);
    }
}

/* Nothing new can be sent from now on.  Every waiter must hear of it. */
static void close_channel(struct mpsc_chan *c)
{
    // TODO(08): mark the channel closed, then wake every thread that waits
    // for something a closed channel will never give it: all the senders
    // blocked on not_full, and the receiver on not_empty.
    (void)c;
}

/* Drops one reference; the last one frees the channel.  Called with the
 * lock held; returns with it released. */
static void unref_and_unlock(struct mpsc_chan *c)
{
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (!last)
        return;
    /* The receiver's drop already destroyed what was queued, and nothing
     * can be queued after it: the ring is empty here. */
    free(c->ring);
    pthread_cond_destroy(&c->not_empty);
    pthread_cond_destroy(&c->not_full);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- Creation ------------------------------------------------------------- */

static int make_channel(size_t capacity, size_t elem_size, chan_drop_fn drop,
                        struct mpsc_sender **tx, struct mpsc_receiver **rx)
{
    *tx = NULL;
    *rx = NULL;
    size_t slots = capacity == UNBOUNDED ? UNBOUNDED_INITIAL_SLOTS : capacity;
    struct mpsc_chan *c = calloc(1, sizeof *c);
    struct mpsc_sender *s = malloc(sizeof *s);
    struct mpsc_receiver *r = malloc(sizeof *r);
    unsigned char *ring = malloc(slots * elem_size);
    int err = ENOMEM;
    if (c == NULL || s == NULL || r == NULL || ring == NULL)
        goto fail;
    if ((err = pthread_mutex_init(&c->lock, NULL)) != 0)
        goto fail;
    /* On CLOCK_MONOTONIC, so that timed waits ignore wall-clock changes. */
    if ((err = chan_cond_init(&c->not_empty)) != 0)
        goto fail_mutex;
    if ((err = chan_cond_init(&c->not_full)) != 0)
        goto fail_not_empty;
    c->elem_size = elem_size;
    c->capacity = capacity;
    c->drop = drop;
    c->ring = ring;
    c->slots = slots;
    c->senders = 1;
    c->refs = 2; /* the sender and the receiver */
    c->rx_alive = true;
    s->chan = c;
    r->chan = c;
    *tx = s;
    *rx = r;
    return 0;

fail_not_empty:
    pthread_cond_destroy(&c->not_empty);
fail_mutex:
    pthread_mutex_destroy(&c->lock);
fail:
    free(ring);
    free(r);
    free(s);
    free(c);
    return err;
}

int mpsc_channel(size_t capacity, size_t elem_size, chan_drop_fn drop,
                 struct mpsc_sender **tx, struct mpsc_receiver **rx)
{
    if (capacity == 0 || capacity > MPSC_MAX_CAPACITY || elem_size == 0 ||
        capacity > SIZE_MAX / elem_size) {
        *tx = NULL;
        *rx = NULL;
        return EINVAL;
    }
    return make_channel(capacity, elem_size, drop, tx, rx);
}

int mpsc_unbounded_channel(size_t elem_size, chan_drop_fn drop,
                           struct mpsc_sender **tx, struct mpsc_receiver **rx)
{
    if (elem_size == 0 || elem_size > SIZE_MAX / UNBOUNDED_INITIAL_SLOTS) {
        *tx = NULL;
        *rx = NULL;
        return EINVAL;
    }
    return make_channel(UNBOUNDED, elem_size, drop, tx, rx);
}

/* ---- Senders -------------------------------------------------------------- */

struct mpsc_sender *mpsc_sender_clone(struct mpsc_sender *tx)
{
    struct mpsc_sender *copy = malloc(sizeof *copy);
    if (copy == NULL)
        return NULL;
    struct mpsc_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    c->senders++;
    c->refs++;
    pthread_mutex_unlock(&c->lock);
    copy->chan = c;
    return copy;
}

void mpsc_sender_drop(struct mpsc_sender *tx)
{
    if (tx == NULL)
        return;
    struct mpsc_chan *c = tx->chan;
    free(tx);
    pthread_mutex_lock(&c->lock);
    // TODO(08): one sender fewer.  When it was the last one, nothing can
    // ever arrive again: close the channel (close_channel), which must wake
    // the receiver.
    c->senders--;
    unref_and_unlock(c);
}

/*
 * Waits until `need` slots are free, or the channel is closed.  Returns
 * CHAN_OK (the slots are free: the caller takes them before unlocking),
 * CHAN_CLOSED, CHAN_FULL (`try_only`, or `need` above the capacity, which
 * could never succeed) or CHAN_TIMEOUT.  Called with the lock held.
 */
static enum chan_status wait_for_room(struct mpsc_chan *c, size_t need, bool try_only,
                                      const struct timespec *deadline)
{
    // TODO(08): first, a bounded channel asked for more slots than it has
    // (need > c->capacity) while open can never give them: return CHAN_FULL
    // at once (mpsc_reserve_many of too many says so instead of waiting
    // for ever).  Then wait on c->not_full while the channel is open and
    // has fewer than `need` free slots (free_slots), in a `while` loop, not
    // an `if` (a wake-up proves nothing): return CHAN_FULL at once when
    // try_only, CHAN_TIMEOUT once wait_on says the deadline passed and the
    // loop found no room.  After the loop: CHAN_CLOSED if the channel is
    // closed, else CHAN_OK.  While a waiter with need != 1 waits, count it
    // in c->odd_waiters: room_made then broadcasts rather than signals, so
    // one freed slot cannot wake only a reserve_many that has no use for it.
    (void)c; (void)need; (void)try_only; (void)deadline;
    return CHAN_CLOSED; /* not implemented yet */
}

static enum chan_status send_common(struct mpsc_sender *tx, const void *elem,
                                    bool try_only, const struct timespec *deadline)
{
    struct mpsc_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    enum chan_status st = wait_for_room(c, 1, try_only, deadline);
    if (st == CHAN_OK && !push(c, elem))
        st = CHAN_NO_MEMORY; /* an unbounded ring could not grow: still yours */
    if (st == CHAN_OK) {
        /* The receiver may be asleep waiting for exactly this.  The element
         * was queued under the lock the receiver checks `len` under, so it
         * is either asleep already or has yet to look: either way, not
         * lost.  (Signalling after the unlock would be correct too.) */
        pthread_cond_signal(&c->not_empty);
    }
    pthread_mutex_unlock(&c->lock);
    return st;
}

enum chan_status mpsc_send(struct mpsc_sender *tx, const void *elem)
{
    return send_common(tx, elem, false, NULL);
}

enum chan_status mpsc_send_timeout(struct mpsc_sender *tx, const void *elem,
                                   unsigned timeout_ms)
{
    struct timespec deadline = chan_deadline_after_ms(timeout_ms);
    return send_common(tx, elem, false, &deadline);
}

enum chan_status mpsc_try_send(struct mpsc_sender *tx, const void *elem)
{
    return send_common(tx, elem, true, NULL);
}

bool mpsc_sender_is_closed(const struct mpsc_sender *tx)
{
    struct mpsc_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    bool closed = c->closed;
    pthread_mutex_unlock(&c->lock);
    return closed;
}

enum chan_status mpsc_sender_wait_closed_timeout(struct mpsc_sender *tx,
                                                 unsigned timeout_ms)
{
    struct mpsc_chan *c = tx->chan;
    struct timespec deadline = chan_deadline_after_ms(timeout_ms);
    pthread_mutex_lock(&c->lock);
    bool time_left = true;
    while (!c->closed && time_left) {
        /* close_channel broadcasts not_full, so this is where to wait.  But
         * it shares not_full with senders waiting for room: count it as an
         * odd waiter, so that a freed slot is broadcast, not signalled to
         * this thread, which has no use for it. */
        c->odd_waiters++;
        time_left = wait_on(&c->not_full, c, &deadline);
        c->odd_waiters--;
    }
    enum chan_status st = c->closed ? CHAN_CLOSED : CHAN_TIMEOUT;
    pthread_mutex_unlock(&c->lock);
    return st;
}

size_t mpsc_sender_capacity(const struct mpsc_sender *tx)
{
    struct mpsc_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    size_t n = free_slots(c);
    pthread_mutex_unlock(&c->lock);
    return n;
}

size_t mpsc_sender_max_capacity(const struct mpsc_sender *tx)
{
    return tx->chan->capacity; /* never changes: no lock needed */
}

size_t mpsc_sender_len(const struct mpsc_sender *tx)
{
    struct mpsc_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    size_t n = c->len;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* ---- Permits -------------------------------------------------------------- */

static enum chan_status reserve_common(struct mpsc_sender *tx, size_t n, bool try_only,
                                       struct mpsc_permit *permit)
{
    struct mpsc_chan *c = tx->chan;
    permit->chan = NULL;
    permit->count = 0;
    pthread_mutex_lock(&c->lock);
    enum chan_status st = wait_for_room(c, n, try_only, NULL);
    if (st == CHAN_OK && n > 0) {
        c->reserved += n;
        c->refs++; /* the permit keeps the channel's memory alive */
        permit->chan = c;
        permit->count = n;
    }
    pthread_mutex_unlock(&c->lock);
    return st;
}

enum chan_status mpsc_reserve(struct mpsc_sender *tx, struct mpsc_permit *permit)
{
    return reserve_common(tx, 1, false, permit);
}

enum chan_status mpsc_reserve_many(struct mpsc_sender *tx, size_t n,
                                   struct mpsc_permit *permit)
{
    return reserve_common(tx, n, false, permit);
}

enum chan_status mpsc_try_reserve(struct mpsc_sender *tx, struct mpsc_permit *permit)
{
    return reserve_common(tx, 1, true, permit);
}

enum chan_status mpsc_try_reserve_many(struct mpsc_sender *tx, size_t n,
                                       struct mpsc_permit *permit)
{
    return reserve_common(tx, n, true, permit);
}

/* Gives `n` of the permit's slots back unused: they become free room.
 * Called with the lock held. */
static void give_back_slots(struct mpsc_permit *permit, size_t n)
{
    struct mpsc_chan *c = permit->chan;
    permit->count -= n;
    c->reserved -= n;
    room_made(c, n);
    /* The receiver of a closed channel waits for outstanding permits before
     * it reports CHAN_CLOSED, since they may still deliver.  If this was
     * the last one, that wait is over. */
    if (closed_and_drained(c))
        pthread_cond_signal(&c->not_empty);
}

/* Releases the lock, and the permit's reference once it holds no slot. */
static void permit_unlock(struct mpsc_permit *permit)
{
    struct mpsc_chan *c = permit->chan;
    if (permit->count > 0) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    permit->chan = NULL;
    unref_and_unlock(c);
}

enum chan_status mpsc_permit_send(struct mpsc_permit *permit, const void *elem)
{
    struct mpsc_chan *c = permit->chan;
    if (c == NULL || permit->count == 0)
        return CHAN_CLOSED; /* used up: there is no slot to send into */
    pthread_mutex_lock(&c->lock);
    enum chan_status st = CHAN_OK;
    if (!c->rx_alive)
        st = CHAN_CLOSED;    /* nobody can ever read it */
    else if (!push(c, elem))
        st = CHAN_NO_MEMORY; /* an unbounded ring could not grow */
    if (st != CHAN_OK) {
        /* The element stays the caller's, and the slot goes back. */
        give_back_slots(permit, 1);
    } else {
        /* The reserved slot has become a queued element. */
        permit->count--;
        c->reserved--;
        pthread_cond_signal(&c->not_empty);
    }
    permit_unlock(permit);
    return st;
}

void mpsc_permit_drop(struct mpsc_permit *permit)
{
    struct mpsc_chan *c = permit->chan;
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    give_back_slots(permit, permit->count);
    permit_unlock(permit);
}

/* ---- The receiver --------------------------------------------------------- */

/*
 * Waits until an element is queued, or the channel is closed and drained.
 * Returns CHAN_OK (there is at least one element), CHAN_CLOSED, CHAN_EMPTY
 * (`try_only`) or CHAN_TIMEOUT.  Called with the lock held.
 */
static enum chan_status wait_for_element(struct mpsc_chan *c, bool try_only,
                                         const struct timespec *deadline)
{
    // TODO(08): wait on c->not_empty while nothing is queued, in a `while`
    // loop: return CHAN_CLOSED once the channel is closed and drained
    // (closed_and_drained), CHAN_EMPTY at once when try_only, CHAN_TIMEOUT
    // once wait_on says the deadline passed, CHAN_OK when c->len > 0.
    (void)c; (void)try_only; (void)deadline;
    return CHAN_CLOSED; /* not implemented yet */
}

static size_t recv_common(struct mpsc_receiver *rx, void *out, size_t limit, bool try_only,
                          const struct timespec *deadline, enum chan_status *status)
{
    struct mpsc_chan *c = rx->chan;
    size_t taken = 0;
    pthread_mutex_lock(&c->lock);
    enum chan_status st = wait_for_element(c, try_only, deadline);
    if (st == CHAN_OK) {
        unsigned char *dst = out;
        while (taken < limit && c->len > 0) {
            pop(c, dst + taken * c->elem_size);
            taken++;
        }
        room_made(c, taken); /* senders may be waiting for these slots */
    }
    pthread_mutex_unlock(&c->lock);
    if (status != NULL)
        *status = st;
    return taken;
}

enum chan_status mpsc_recv(struct mpsc_receiver *rx, void *out)
{
    enum chan_status st;
    recv_common(rx, out, 1, false, NULL, &st);
    return st;
}

enum chan_status mpsc_recv_timeout(struct mpsc_receiver *rx, void *out,
                                   unsigned timeout_ms)
{
    struct timespec deadline = chan_deadline_after_ms(timeout_ms);
    enum chan_status st;
    recv_common(rx, out, 1, false, &deadline, &st);
    return st;
}

enum chan_status mpsc_try_recv(struct mpsc_receiver *rx, void *out)
{
    enum chan_status st;
    recv_common(rx, out, 1, true, NULL, &st);
    return st;
}

size_t mpsc_recv_many(struct mpsc_receiver *rx, void *out, size_t limit)
{
    if (limit == 0)
        return 0;
    return recv_common(rx, out, limit, false, NULL, NULL);
}

size_t mpsc_recv_many_timeout(struct mpsc_receiver *rx, void *out, size_t limit,
                              unsigned timeout_ms, enum chan_status *status)
{
    if (limit == 0) {
        if (status != NULL)
            *status = CHAN_OK;
        return 0;
    }
    struct timespec deadline = chan_deadline_after_ms(timeout_ms);
    return recv_common(rx, out, limit, false, &deadline, status);
}

void mpsc_receiver_close(struct mpsc_receiver *rx)
{
    struct mpsc_chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    close_channel(c); /* queued elements stay receivable */
    pthread_mutex_unlock(&c->lock);
}

void mpsc_receiver_drop(struct mpsc_receiver *rx)
{
    if (rx == NULL)
        return;
    struct mpsc_chan *c = rx->chan;
    free(rx);
    pthread_mutex_lock(&c->lock);
    c->rx_alive = false;
    close_channel(c);
    /* Nobody will ever receive these: destroy them now, once each.  The
     * channel's memory lives on until the last sender and permit go, but
     * what the elements own is freed at once. */
    drop_all_queued(c);
    unref_and_unlock(c);
}

size_t mpsc_len(const struct mpsc_receiver *rx)
{
    struct mpsc_chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    size_t n = c->len;
    pthread_mutex_unlock(&c->lock);
    return n;
}

size_t mpsc_capacity(const struct mpsc_receiver *rx)
{
    return rx->chan->capacity;
}

bool mpsc_is_empty(const struct mpsc_receiver *rx)
{
    return mpsc_len(rx) == 0;
}

bool mpsc_is_full(const struct mpsc_receiver *rx)
{
    struct mpsc_chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    bool full = c->capacity != UNBOUNDED && c->len >= c->capacity;
    pthread_mutex_unlock(&c->lock);
    return full;
}

bool mpsc_is_closed(const struct mpsc_receiver *rx)
{
    struct mpsc_chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    bool closed = c->closed;
    pthread_mutex_unlock(&c->lock);
    return closed;
}
