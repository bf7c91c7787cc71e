/*
 * mpsc.c - the multi-producer, single-consumer channel (see mpsc.h).
 *
 * One mutex guards everything; the interesting part is who sleeps where and
 * who wakes whom, because on a small machine a wake-up costs about as much
 * as a Redis round trip.
 *
 *   - The receiver sleeps on `rx_cond`, and says so in `rx_sleeping`.  A
 *     sender signals it only if it is sleeping; a receiver that is busy
 *     draining is never signalled, however many elements arrive.
 *
 *   - A sender that finds no room joins a FIFO queue of `struct waiter`s,
 *     each with its own condition variable.  Whoever frees slots (a receive,
 *     a dropped permit) hands them to the waiters at the head of the queue
 *     in order - "granting" them, as a reservation - and signals just those.
 *     No thundering herd, and no late sender can overtake an earlier one.
 *
 *   - Slots are counted three ways: `len` elements queued, `reserved` slots
 *     promised to permits and granted waiters, and the rest free.  A
 *     reserved slot is never lost: sending through it cannot find the
 *     channel full, and the receiver does not report CHAN_CLOSED while any
 *     reservation is outstanding.
 *
 * Storage is a ring buffer of elem_size-byte slots.  A bounded channel
 * allocates all of its slots up front (so it can never fail to allocate
 * later, and its memory stays flat); an unbounded one doubles its ring when
 * it fills.
 */
#include "mpsc.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNBOUNDED SIZE_MAX
#define UNBOUNDED_INITIAL_SLOTS 64

/* A sender waiting for room, queued in arrival order. */
struct waiter {
    pthread_cond_t cond;
    size_t need;         /* slots it waits for */
    bool granted;        /* the slots were reserved for it by someone else */
    struct waiter *prev, *next;
};

struct mpsc_chan {
    pthread_mutex_t lock;
    pthread_cond_t rx_cond;     /* the receiver sleeps here */
    pthread_cond_t closed_cond; /* senders in wait_closed sleep here */

    size_t elem_size;
    size_t capacity;            /* UNBOUNDED or 1..MPSC_MAX_CAPACITY */
    chan_drop_fn drop;

    unsigned char *ring;        /* `slots` elements */
    size_t slots;
    size_t head;                /* index of the oldest element */
    size_t len;                 /* elements queued */
    size_t reserved;            /* slots held by permits and granted waiters */

    size_t senders;             /* live sender handles */
    size_t refs;                /* senders + receiver + live permits */
    bool rx_alive;
    bool closed;                /* no new sends: receiver closed or dropped,
                                   or the last sender went */
    bool rx_sleeping;
    atomic_uint events;         /* bumped on every change a waiter may be
                                   waiting for; read without the lock by
                                   threads spinning before they sleep */

    struct waiter *wait_head, *wait_tail;
};

struct mpsc_sender {
    struct mpsc_chan *chan;
};

struct mpsc_receiver {
    struct mpsc_chan *chan;
};

/* ---- Ring buffer ---------------------------------------------------------- */

static unsigned char *slot_at(struct mpsc_chan *c, size_t i)
{
    return c->ring + ((c->head + i) % c->slots) * c->elem_size;
}

/* Doubles an unbounded channel's ring, unwrapping it so the oldest element
 * is at index 0.  Returns false if memory ran out. */
static bool grow_ring(struct mpsc_chan *c)
{
    if (c->slots > SIZE_MAX / 2 / c->elem_size)
        return false;
    size_t new_slots = c->slots * 2;
    unsigned char *bigger = malloc(new_slots * c->elem_size);
    if (bigger == NULL)
        return false;
    size_t first = c->slots - c->head; /* elements from head to the end */
    if (first > c->len)
        first = c->len;
    memcpy(bigger, c->ring + c->head * c->elem_size, first * c->elem_size);
    memcpy(bigger + first * c->elem_size, c->ring, (c->len - first) * c->elem_size);
    free(c->ring);
    c->ring = bigger;
    c->slots = new_slots;
    c->head = 0;
    return true;
}

static bool push(struct mpsc_chan *c, const void *elem)
{
    if (c->len == c->slots && !grow_ring(c))
        return false;
    memcpy(slot_at(c, c->len), elem, c->elem_size);
    c->len++;
    return true;
}

static void pop(struct mpsc_chan *c, void *out)
{
    memcpy(out, slot_at(c, 0), c->elem_size);
    c->head = (c->head + 1) % c->slots;
    c->len--;
}

static void drop_all_queued(struct mpsc_chan *c)
{
    while (c->len > 0) {
        if (c->drop != NULL)
            c->drop(slot_at(c, 0));
        c->head = (c->head + 1) % c->slots;
        c->len--;
    }
}

/* ---- Slots and waking ----------------------------------------------------- */

/* Reservations are counted on unbounded channels too, so that the receiver
 * waits for their elements before reporting CHAN_CLOSED; they just never
 * limit anything there. */
static size_t free_slots(const struct mpsc_chan *c)
{
    if (c->capacity == UNBOUNDED)
        return UNBOUNDED;
    return c->capacity - c->len - c->reserved;
}

/* Tells spinning threads that something changed.  Called with the lock. */
static void note_event(struct mpsc_chan *c)
{
    atomic_fetch_add_explicit(&c->events, 1, memory_order_relaxed);
}

/* Releases the lock, spins briefly for a change, takes the lock again.
 * The caller must re-check its predicate afterwards: anything may have
 * happened while the lock was free. */
static void spin_for_event(struct mpsc_chan *c)
{
    unsigned seen = atomic_load_explicit(&c->events, memory_order_relaxed);
    pthread_mutex_unlock(&c->lock);
    chan_spin_until_changed(&c->events, seen);
    pthread_mutex_lock(&c->lock);
}

static void wake_receiver(struct mpsc_chan *c)
{
    note_event(c);
    if (c->rx_sleeping)
        pthread_cond_signal(&c->rx_cond);
}

static void unlink_waiter(struct mpsc_chan *c, struct waiter *w)
{
    if (w->prev) w->prev->next = w->next; else c->wait_head = w->next;
    if (w->next) w->next->prev = w->prev; else c->wait_tail = w->prev;
    w->prev = w->next = NULL;
}

/* Hands free slots to waiting senders, strictly in arrival order: if the
 * head waiter needs more than is free, everyone behind it waits too.
 * Once the channel is closed nobody is granted anything: a sender still
 * waiting then was blocked when the close came, and must wake with
 * CHAN_CLOSED even if a receive frees its slot before it gets to run.
 * (Slots granted before the close stay granted, like permits.) */
static void grant_waiters(struct mpsc_chan *c)
{
    if (c->closed)
        return;
    while (c->wait_head != NULL && free_slots(c) >= c->wait_head->need) {
        struct waiter *w = c->wait_head;
        c->reserved += w->need;
        w->granted = true;
        note_event(c);
        unlink_waiter(c, w);
        pthread_cond_signal(&w->cond);
    }
}

/* Called when the channel closes for sending: every waiting sender wakes
 * and sees CHAN_CLOSED; the receiver wakes to drain and then see it too. */
static void wake_everyone_on_close(struct mpsc_chan *c)
{
    note_event(c);
    for (struct waiter *w = c->wait_head; w != NULL; w = w->next)
        pthread_cond_signal(&w->cond);
    pthread_cond_broadcast(&c->closed_cond);
    wake_receiver(c);
}

/* The receiver's end condition: nothing queued, nothing more can come. */
static bool closed_and_drained(const struct mpsc_chan *c)
{
    return c->closed && c->len == 0 && c->reserved == 0;
}

/* Drops one reference; the last one frees the channel.  Called with the
 * lock held; returns with it released. */
static void unref_and_unlock(struct mpsc_chan *c)
{
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (!last)
        return;
    drop_all_queued(c);
    free(c->ring);
    pthread_cond_destroy(&c->rx_cond);
    pthread_cond_destroy(&c->closed_cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- Creation --------------------------------------------------------------- */

static int make_channel(size_t capacity, size_t elem_size, chan_drop_fn drop,
                        struct mpsc_sender **tx, struct mpsc_receiver **rx)
{
    *tx = NULL;
    *rx = NULL;
    struct mpsc_chan *c = calloc(1, sizeof *c);
    struct mpsc_sender *s = malloc(sizeof *s);
    struct mpsc_receiver *r = malloc(sizeof *r);
    size_t slots = capacity == UNBOUNDED ? UNBOUNDED_INITIAL_SLOTS : capacity;
    unsigned char *ring = c ? malloc(slots * elem_size) : NULL;
    int err = ENOMEM;
    /* One exit path that undoes exactly what was done, in reverse. */
    if (c == NULL || s == NULL || r == NULL || ring == NULL)
        goto fail;
    if ((err = pthread_mutex_init(&c->lock, NULL)) != 0)
        goto fail;
    if ((err = chan_cond_init(&c->rx_cond)) != 0)
        goto fail_mutex;
    if ((err = chan_cond_init(&c->closed_cond)) != 0)
        goto fail_rx_cond;
    c->elem_size = elem_size;
    c->capacity = capacity;
    c->drop = drop;
    c->ring = ring;
    c->slots = slots;
    c->senders = 1;
    c->refs = 2;
    c->rx_alive = true;
    s->chan = c;
    r->chan = c;
    *tx = s;
    *rx = r;
    return 0;

fail_rx_cond:
    pthread_cond_destroy(&c->rx_cond);
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
    /* Capacity 0 would be a rendezvous channel, which Tokio's mpsc does not
     * offer either: refuse it rather than guess. */
    if (capacity == 0 || capacity > MPSC_MAX_CAPACITY || elem_size == 0 ||
        capacity > SIZE_MAX / elem_size) {
        if (tx) *tx = NULL;
        if (rx) *rx = NULL;
        return EINVAL;
    }
    return make_channel(capacity, elem_size, drop, tx, rx);
}

int mpsc_unbounded_channel(size_t elem_size, chan_drop_fn drop,
                           struct mpsc_sender **tx, struct mpsc_receiver **rx)
{
    if (elem_size == 0 || elem_size > SIZE_MAX / UNBOUNDED_INITIAL_SLOTS) {
        if (tx) *tx = NULL;
        if (rx) *rx = NULL;
        return EINVAL;
    }
    return make_channel(UNBOUNDED, elem_size, drop, tx, rx);
}

/* ---- Senders ---------------------------------------------------------------- */

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
    if (--c->senders == 0 && !c->closed) {
        /* The last sender is gone: nothing new can ever arrive.  The
         * receiver drains what is queued and then sees CHAN_CLOSED. */
        c->closed = true;
        wake_everyone_on_close(c);
    }
    unref_and_unlock(c);
}

/*
 * Waits, in FIFO order behind earlier waiters, until `need` slots are
 * reserved for this caller.  `deadline` NULL waits for ever; `try_only`
 * does not wait at all.  Returns CHAN_OK with c->reserved including the
 * caller's slots, or CHAN_CLOSED / CHAN_FULL / CHAN_TIMEOUT /
 * CHAN_NO_MEMORY with nothing reserved.  Called and returns with the lock
 * held.
 */
static enum chan_status acquire_slots(struct mpsc_chan *c, size_t need, bool try_only,
                                      const struct timespec *deadline)
{
    if (c->closed)
        return CHAN_CLOSED;
    if (c->capacity != UNBOUNDED && need > c->capacity)
        return CHAN_FULL; /* could never succeed: fail now instead of hanging */
    if (c->wait_head == NULL && free_slots(c) >= need) {
        c->reserved += need;
        return CHAN_OK;
    }
    if (try_only)
        return CHAN_FULL;

    struct waiter w = { .need = need };
    if (chan_cond_init(&w.cond) != 0)
        return CHAN_NO_MEMORY; /* fails only for lack of resources (never
                                  with glibc): nothing was reserved */
    w.prev = c->wait_tail;
    if (c->wait_tail) c->wait_tail->next = &w; else c->wait_head = &w;
    c->wait_tail = &w;

    bool time_left = true;
    bool spun = false;
    while (!w.granted && !c->closed && time_left) {
        if (!spun) {
            /* Once per wait, spin before sleeping.  Whatever the spin saw,
             * the lock was released meanwhile: re-check from the top. */
            spun = true;
            spin_for_event(c);
            continue;
        }
        if (deadline == NULL)
            pthread_cond_wait(&w.cond, &c->lock);
        else
            time_left = chan_cond_wait_until(&w.cond, &c->lock, deadline);
    }
    pthread_cond_destroy(&w.cond);

    if (w.granted) {
        /* Slots granted before a close are ours to use, exactly like a
         * permit taken before the close - unless nobody can read them. */
        if (!c->rx_alive) {
            c->reserved -= need;
            return CHAN_CLOSED;
        }
        return CHAN_OK;
    }
    unlink_waiter(c, &w);
    /* Leaving the queue may unblock waiters behind us that need fewer
     * slots than we did. */
    grant_waiters(c);
    return c->closed ? CHAN_CLOSED : CHAN_TIMEOUT;
}

/* Turns one reserved slot into a queued element.  If an unbounded ring
 * cannot grow, the slot is given up and the element stays the caller's. */
static enum chan_status fill_reserved_slot(struct mpsc_chan *c, const void *elem)
{
    c->reserved--;
    if (!push(c, elem))
        return CHAN_NO_MEMORY;
    wake_receiver(c);
    return CHAN_OK;
}

static enum chan_status send_common(struct mpsc_sender *tx, const void *elem,
                                    bool try_only, const struct timespec *deadline)
{
    struct mpsc_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    enum chan_status st = acquire_slots(c, 1, try_only, deadline);
    if (st == CHAN_OK)
        st = fill_reserved_slot(c, elem);
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
    /* This handle is a live sender, so `closed` can only have been set
     * from the receiving side. */
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
    while (!c->closed && time_left)
        time_left = chan_cond_wait_until(&c->closed_cond, &c->lock, &deadline);
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

/* ---- Permits ------------------------------------------------------------ */

static enum chan_status reserve_common(struct mpsc_sender *tx, size_t n, bool try_only,
                                       struct mpsc_permit *permit)
{
    struct mpsc_chan *c = tx->chan;
    permit->chan = NULL;
    permit->count = 0;
    pthread_mutex_lock(&c->lock);
    if (n == 0 && !c->closed) {
        pthread_mutex_unlock(&c->lock);
        return CHAN_OK; /* nothing to hold: an empty permit */
    }
    enum chan_status st = acquire_slots(c, n, try_only, NULL);
    if (st == CHAN_OK) {
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

/* Gives back `n` of the permit's slots; the last one releases the permit's
 * reference.  Called with the lock held; returns with it released. */
static void release_permit_slots(struct mpsc_permit *permit, size_t n, bool used)
{
    struct mpsc_chan *c = permit->chan;
    permit->count -= n;
    if (!used)
        c->reserved -= n;
    grant_waiters(c);
    if (c->reserved == 0 && c->closed)
        wake_receiver(c); /* it may have been waiting for us to finish */
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
    enum chan_status st;
    if (!c->rx_alive) {
        st = CHAN_CLOSED; /* nobody can ever read it: hand it back */
        release_permit_slots(permit, 1, false);
        return st;
    }
    st = fill_reserved_slot(c, elem);
    release_permit_slots(permit, 1, true);
    return st;
}

void mpsc_permit_drop(struct mpsc_permit *permit)
{
    struct mpsc_chan *c = permit->chan;
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    release_permit_slots(permit, permit->count, false);
}

/* ---- The receiver ------------------------------------------------------------ */

/*
 * Waits until an element is queued or the channel is closed and drained.
 * Returns true if there is something to take.  Called and returns with the
 * lock held.  *status says why it returned false.
 */
static bool wait_for_elements(struct mpsc_chan *c, bool try_only,
                              const struct timespec *deadline, enum chan_status *status)
{
    bool time_left = true;
    bool spun = false;
    while (c->len == 0) {
        if (closed_and_drained(c)) {
            *status = CHAN_CLOSED;
            return false;
        }
        if (try_only || !time_left) {
            *status = try_only ? CHAN_EMPTY : CHAN_TIMEOUT;
            return false;
        }
        if (!spun) {
            /* Once per wait, spin before sleeping.  Whatever the spin saw,
             * the lock was released meanwhile: re-check from the top. */
            spun = true;
            spin_for_event(c);
            continue;
        }
        c->rx_sleeping = true;
        if (deadline == NULL)
            pthread_cond_wait(&c->rx_cond, &c->lock);
        else
            time_left = chan_cond_wait_until(&c->rx_cond, &c->lock, deadline);
        c->rx_sleeping = false;
    }
    *status = CHAN_OK;
    return true;
}

static size_t recv_common(struct mpsc_receiver *rx, void *out, size_t limit,
                          bool try_only, const struct timespec *deadline,
                          enum chan_status *status)
{
    struct mpsc_chan *c = rx->chan;
    enum chan_status st = CHAN_OK;
    size_t taken = 0;
    pthread_mutex_lock(&c->lock);
    if (wait_for_elements(c, try_only, deadline, &st)) {
        unsigned char *dst = out;
        while (taken < limit && c->len > 0) {
            pop(c, dst + taken * c->elem_size);
            taken++;
        }
        grant_waiters(c); /* room was made: admit the senders waiting for it */
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
    if (!c->closed) {
        c->closed = true;
        wake_everyone_on_close(c);
    }
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
    c->closed = true;
    wake_everyone_on_close(c);
    /* Nobody will read these now.  Destroying them here, not when the last
     * sender goes, frees their memory as early as possible. */
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
