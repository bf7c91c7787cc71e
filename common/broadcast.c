/*
 * broadcast.c - the every-receiver-sees-every-value channel (see broadcast.h).
 *
 * The shared state is a ring of `capacity` slots and one counter, `tail`:
 * the sequence number the next send will get.  Value #n lives in slot
 * n & mask, and each slot also records the number of the value it holds.
 * A receiver is nothing but the number of the next value it wants, `next`:
 *
 *   - next == tail                  nothing new: wait (or EMPTY / CLOSED)
 *   - slot[next & mask] holds #next its value is still there: copy it out
 *   - slot[next & mask] holds more  it was overwritten: the receiver lagged,
 *                                   and the oldest value still retained is
 *                                   #(tail - capacity)
 *
 * (A slot is emptied only when the last receiver goes, so a receiver never
 * finds an empty slot where it expects a value.)
 *
 * Senders never wait, so the only waiters are receivers, all on one
 * condition variable.  A send wakes them with one broadcast - each of them
 * wants the new value - and skips even that when `sleeping` says nobody is
 * waiting, which on a busy channel is most of the time.
 *
 * One mutex guards everything, receivers' `next` included.  A receive holds
 * it for a few comparisons and one copy, so the per-slot locks Tokio uses
 * would buy little here and cost a lot of reading.
 */
#include "broadcast.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The sequence number of a slot that holds no value.  Never a real one:
 * 2^64 sends would take centuries. */
#define SLOT_EMPTY UINT64_MAX

struct broadcast_chan {
    pthread_mutex_t lock;
    pthread_cond_t rx_cond;     /* receivers wait here for a send or a close */
    unsigned sleeping;          /* receivers waiting on rx_cond right now */

    size_t elem_size;
    size_t capacity;            /* a power of two */
    size_t mask;                /* capacity - 1: value #n is in slot n & mask */
    chan_clone_fn clone;
    chan_drop_fn drop;

    uint64_t *seqs;             /* seqs[i]: the number of the value in slot i,
                                   or SLOT_EMPTY */
    unsigned char *values;      /* `capacity` values of elem_size bytes */
    uint64_t tail;              /* the number the next send gets */

    size_t senders;             /* live sender handles */
    size_t receivers;           /* live receiver handles */
};

struct broadcast_sender {
    struct broadcast_chan *chan;
};

struct broadcast_receiver {
    struct broadcast_chan *chan;
    uint64_t next;              /* the number of the next value it wants */
};

/* ---- The ring ----------------------------------------------------------------- */

static unsigned char *value_in_slot(const struct broadcast_chan *c, size_t slot)
{
    return c->values + slot * c->elem_size;
}

/* Destroys every value the ring holds.  Called with the lock held when the
 * last receiver goes, and again (finding nothing) when the memory goes. */
static void drop_retained(struct broadcast_chan *c)
{
    for (size_t i = 0; i < c->capacity; i++) {
        if (c->seqs[i] == SLOT_EMPTY)
            continue;
        if (c->drop != NULL)
            c->drop(value_in_slot(c, i));
        c->seqs[i] = SLOT_EMPTY;
    }
}

static void wake_receivers(struct broadcast_chan *c)
{
    if (c->sleeping > 0)
        pthread_cond_broadcast(&c->rx_cond);
}

/* The caller has just given up a handle.  If it was the last of both kinds,
 * free everything.  Called with the lock held; returns with it released. */
static void unlock_and_free_if_unused(struct broadcast_chan *c)
{
    bool unused = c->senders == 0 && c->receivers == 0;
    pthread_mutex_unlock(&c->lock);
    if (!unused)
        return;
    /* No handle is left, so nobody else can reach the channel. */
    drop_retained(c);
    free(c->values);
    free(c->seqs);
    pthread_cond_destroy(&c->rx_cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- Creation ------------------------------------------------------------------- */

/* The smallest power of two >= n (n >= 1 and <= BROADCAST_MAX_CAPACITY, so
 * this cannot overflow). */
static size_t round_up_to_power_of_two(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

int broadcast_channel(size_t capacity, size_t elem_size, chan_clone_fn clone,
                      chan_drop_fn drop, struct broadcast_sender **tx,
                      struct broadcast_receiver **rx)
{
    if (tx == NULL || rx == NULL)
        return EINVAL;
    *tx = NULL;
    *rx = NULL;
    if (capacity == 0 || capacity > BROADCAST_MAX_CAPACITY || elem_size == 0)
        return EINVAL;
    capacity = round_up_to_power_of_two(capacity);
    if (capacity > SIZE_MAX / elem_size)
        return EINVAL;

    struct broadcast_chan *c = malloc(sizeof *c);
    struct broadcast_sender *s = malloc(sizeof *s);
    struct broadcast_receiver *r = malloc(sizeof *r);
    uint64_t *seqs = malloc(capacity * sizeof *seqs);
    unsigned char *values = malloc(capacity * elem_size);
    int err = 0;
    if (c == NULL || s == NULL || r == NULL || seqs == NULL || values == NULL) {
        err = ENOMEM;
    } else if ((err = pthread_mutex_init(&c->lock, NULL)) == 0 &&
               (err = chan_cond_init(&c->rx_cond)) != 0) {
        pthread_mutex_destroy(&c->lock);
    }
    if (err != 0) {
        free(values);
        free(seqs);
        free(r);
        free(s);
        free(c);
        return err;
    }
    for (size_t i = 0; i < capacity; i++)
        seqs[i] = SLOT_EMPTY;
    c->sleeping = 0;
    c->elem_size = elem_size;
    c->capacity = capacity;
    c->mask = capacity - 1;
    c->clone = clone;
    c->drop = drop;
    c->seqs = seqs;
    c->values = values;
    c->tail = 0;
    c->senders = 1;
    c->receivers = 1;
    s->chan = c;
    r->chan = c;
    r->next = 0;
    *tx = s;
    *rx = r;
    return 0;
}

/* ---- Senders ---------------------------------------------------------------------- */

struct broadcast_sender *broadcast_sender_clone(struct broadcast_sender *tx)
{
    struct broadcast_sender *copy = malloc(sizeof *copy);
    if (copy == NULL)
        return NULL;
    struct broadcast_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    c->senders++;
    pthread_mutex_unlock(&c->lock);
    copy->chan = c;
    return copy;
}

void broadcast_sender_drop(struct broadcast_sender *tx)
{
    if (tx == NULL)
        return;
    struct broadcast_chan *c = tx->chan;
    free(tx);
    pthread_mutex_lock(&c->lock);
    if (--c->senders == 0)
        wake_receivers(c); /* those with nothing left to read see CLOSED */
    unlock_and_free_if_unused(c);
}

enum chan_status broadcast_send(struct broadcast_sender *tx, const void *value,
                                size_t *receivers)
{
    struct broadcast_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    size_t listening = c->receivers;
    if (listening == 0) {
        pthread_mutex_unlock(&c->lock);
        if (receivers != NULL)
            *receivers = 0;
        return CHAN_CLOSED; /* not stored: the value is still the caller's */
    }
    size_t slot = (size_t)(c->tail & c->mask);
    unsigned char *dst = value_in_slot(c, slot);
    /* The ring is full once `capacity` values have been sent: from then on
     * each send overwrites the oldest value, and receivers that had not
     * read it will find a newer number in its slot. */
    if (c->seqs[slot] != SLOT_EMPTY && c->drop != NULL)
        c->drop(dst);
    memcpy(dst, value, c->elem_size);
    c->seqs[slot] = c->tail;
    c->tail++;
    wake_receivers(c);
    pthread_mutex_unlock(&c->lock);
    if (receivers != NULL)
        *receivers = listening;
    return CHAN_OK;
}

/* Adds a receiver that starts at the next send.  Shared by subscribe and
 * resubscribe. */
static struct broadcast_receiver *new_receiver(struct broadcast_chan *c)
{
    struct broadcast_receiver *r = malloc(sizeof *r);
    if (r == NULL)
        return NULL;
    r->chan = c;
    pthread_mutex_lock(&c->lock);
    c->receivers++;
    r->next = c->tail;
    pthread_mutex_unlock(&c->lock);
    return r;
}

struct broadcast_receiver *broadcast_subscribe(struct broadcast_sender *tx)
{
    return new_receiver(tx->chan);
}

size_t broadcast_receiver_count(const struct broadcast_sender *tx)
{
    struct broadcast_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    size_t n = c->receivers;
    pthread_mutex_unlock(&c->lock);
    return n;
}

size_t broadcast_capacity(const struct broadcast_sender *tx)
{
    return tx->chan->capacity; /* never changes: no lock needed */
}

/* ---- Receivers -------------------------------------------------------------------- */

/* `try_only` never waits; `deadline` NULL waits for ever. */
static enum chan_status recv_common(struct broadcast_receiver *rx, void *out,
                                    uint64_t *missed, bool try_only,
                                    const struct timespec *deadline)
{
    struct broadcast_chan *c = rx->chan;
    enum chan_status st;
    bool time_left = true;
    pthread_mutex_lock(&c->lock);
    while (rx->next == c->tail) {
        /* Nothing new.  Closed only once nothing new can come either. */
        if (c->senders == 0) {
            st = CHAN_CLOSED;
            goto out;
        }
        if (try_only || !time_left) {
            st = try_only ? CHAN_EMPTY : CHAN_TIMEOUT;
            goto out;
        }
        c->sleeping++;
        if (deadline == NULL)
            pthread_cond_wait(&c->rx_cond, &c->lock);
        else
            time_left = chan_cond_wait_until(&c->rx_cond, &c->lock, deadline);
        c->sleeping--;
    }

    size_t slot = (size_t)(rx->next & c->mask);
    if (c->seqs[slot] != rx->next) {
        /* Overwritten by a later value: everything from rx->next up to
         * the oldest value still retained is gone.  Jump there, report the
         * loss, and let the next call read on from there. */
        uint64_t oldest = c->tail - c->capacity;
        if (missed != NULL)
            *missed = oldest - rx->next;
        rx->next = oldest;
        st = CHAN_LAGGED;
        goto out;
    }
    const unsigned char *src = value_in_slot(c, slot);
    if (c->clone != NULL)
        c->clone(out, src);
    else
        memcpy(out, src, c->elem_size);
    rx->next++;
    st = CHAN_OK;
out:
    pthread_mutex_unlock(&c->lock);
    return st;
}

enum chan_status broadcast_recv(struct broadcast_receiver *rx, void *out,
                                uint64_t *missed)
{
    return recv_common(rx, out, missed, false, NULL);
}

enum chan_status broadcast_recv_timeout(struct broadcast_receiver *rx, void *out,
                                        uint64_t *missed, unsigned timeout_ms)
{
    struct timespec deadline = chan_deadline_after_ms(timeout_ms);
    return recv_common(rx, out, missed, false, &deadline);
}

enum chan_status broadcast_try_recv(struct broadcast_receiver *rx, void *out,
                                    uint64_t *missed)
{
    return recv_common(rx, out, missed, true, NULL);
}

struct broadcast_receiver *broadcast_receiver_resubscribe(const struct broadcast_receiver *rx)
{
    return new_receiver(rx->chan);
}

void broadcast_receiver_drop(struct broadcast_receiver *rx)
{
    if (rx == NULL)
        return;
    struct broadcast_chan *c = rx->chan;
    free(rx);
    pthread_mutex_lock(&c->lock);
    /* With no receiver left nobody can read what is retained (a new
     * subscriber starts at the next send): free it now, not when the last
     * sender happens to go. */
    if (--c->receivers == 0)
        drop_retained(c);
    unlock_and_free_if_unused(c);
}

size_t broadcast_len(const struct broadcast_receiver *rx)
{
    struct broadcast_chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    uint64_t unread = c->tail - rx->next;
    pthread_mutex_unlock(&c->lock);
    return unread > c->capacity ? c->capacity : (size_t)unread;
}
