/*
 * watch.c - the latest-value channel (see watch.h).
 *
 * The state is one value and a version number that every send bumps.  A
 * receiver is a pointer to the channel plus the version it has seen; "has
 * it changed?" is just `seen != version`.  That is why sends coalesce: ten
 * sends move the version by ten, but a receiver asks only whether it moved.
 *
 * Only receivers ever wait (for the version to move, or for the last
 * sender to go), all on one condition variable, and a send broadcasts to
 * them only when `sleeping` says someone is there.
 */
#include "watch.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct watch_chan {
    pthread_mutex_t lock;
    pthread_cond_t changed_cond; /* receivers wait here for a send or close */
    unsigned sleeping;           /* receivers waiting on changed_cond now */
    uint64_t version;            /* bumped by every successful send */
    size_t senders;              /* live sender handles */
    size_t receivers;            /* live receiver handles */
    size_t elem_size;
    chan_clone_fn clone;
    chan_drop_fn drop;
    /* The value.  Aligned like malloc's memory so that `clone` and `drop`
     * may treat the pointer as the caller's own type. */
    _Alignas(max_align_t) unsigned char value[];
};

struct watch_sender {
    struct watch_chan *chan;
};

struct watch_receiver {
    struct watch_chan *chan;
    uint64_t seen;               /* the version this receiver has seen */
};

/* The caller has just given up a handle.  If it was the last of both kinds,
 * destroy the value and free the channel.  Called with the lock held;
 * returns with it released. */
static void unlock_and_free_if_unused(struct watch_chan *c)
{
    bool unused = c->senders == 0 && c->receivers == 0;
    pthread_mutex_unlock(&c->lock);
    if (!unused)
        return;
    if (c->drop != NULL)
        c->drop(c->value);
    pthread_cond_destroy(&c->changed_cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void wake_receivers(struct watch_chan *c)
{
    if (c->sleeping > 0)
        pthread_cond_broadcast(&c->changed_cond);
}

/* Copies the value out with `clone` or memcpy.  Called with the lock held,
 * which is what keeps a send from changing it half-way through. */
static void copy_value_out(struct watch_chan *c, void *out)
{
    if (c->clone != NULL)
        c->clone(out, c->value);
    else
        memcpy(out, c->value, c->elem_size);
}

int watch_channel(size_t elem_size, const void *initial, chan_clone_fn clone,
                  chan_drop_fn drop, struct watch_sender **tx,
                  struct watch_receiver **rx)
{
    if (tx == NULL || rx == NULL)
        return EINVAL;
    *tx = NULL;
    *rx = NULL;
    if (elem_size == 0 || initial == NULL ||
        elem_size > SIZE_MAX - sizeof(struct watch_chan))
        return EINVAL;

    struct watch_chan *c = malloc(sizeof *c + elem_size);
    struct watch_sender *s = malloc(sizeof *s);
    struct watch_receiver *r = malloc(sizeof *r);
    int err = 0;
    if (c == NULL || s == NULL || r == NULL) {
        err = ENOMEM;
    } else if ((err = pthread_mutex_init(&c->lock, NULL)) == 0 &&
               (err = chan_cond_init(&c->changed_cond)) != 0) {
        pthread_mutex_destroy(&c->lock);
    }
    if (err != 0) {
        free(r);
        free(s);
        free(c);
        return err; /* *initial was not taken: it is still the caller's */
    }
    c->sleeping = 0;
    c->version = 0;
    c->senders = 1;
    c->receivers = 1;
    c->elem_size = elem_size;
    c->clone = clone;
    c->drop = drop;
    memcpy(c->value, initial, elem_size);
    s->chan = c;
    r->chan = c;
    r->seen = 0; /* the initial value is not a change */
    *tx = s;
    *rx = r;
    return 0;
}

/* ---- Senders ------------------------------------------------------------------ */

enum chan_status watch_send(struct watch_sender *tx, const void *value)
{
    struct watch_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    if (c->receivers == 0) {
        /* Nobody could read it.  Tokio refuses too, so that a sender can
         * notice its audience is gone; the value stays with the caller. */
        pthread_mutex_unlock(&c->lock);
        return CHAN_CLOSED;
    }
    if (c->drop != NULL)
        c->drop(c->value);
    memcpy(c->value, value, c->elem_size);
    c->version++;
    wake_receivers(c);
    pthread_mutex_unlock(&c->lock);
    return CHAN_OK;
}

struct watch_sender *watch_sender_clone(struct watch_sender *tx)
{
    struct watch_sender *copy = malloc(sizeof *copy);
    if (copy == NULL)
        return NULL;
    struct watch_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    c->senders++;
    pthread_mutex_unlock(&c->lock);
    copy->chan = c;
    return copy;
}

void watch_sender_drop(struct watch_sender *tx)
{
    if (tx == NULL)
        return;
    struct watch_chan *c = tx->chan;
    free(tx);
    pthread_mutex_lock(&c->lock);
    if (--c->senders == 0)
        wake_receivers(c); /* waiters that have seen everything: CLOSED */
    unlock_and_free_if_unused(c);
}

/* Adds a receiver that has seen what `like` has seen, or (`like` NULL) the
 * current value.  Shared by subscribe and clone. */
static struct watch_receiver *new_receiver(struct watch_chan *c,
                                           const struct watch_receiver *like)
{
    struct watch_receiver *r = malloc(sizeof *r);
    if (r == NULL)
        return NULL;
    r->chan = c;
    pthread_mutex_lock(&c->lock);
    c->receivers++;
    r->seen = like != NULL ? like->seen : c->version;
    pthread_mutex_unlock(&c->lock);
    return r;
}

struct watch_receiver *watch_subscribe(struct watch_sender *tx)
{
    return new_receiver(tx->chan, NULL);
}

size_t watch_receiver_count(const struct watch_sender *tx)
{
    struct watch_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    size_t n = c->receivers;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* ---- Receivers ------------------------------------------------------------------ */

struct watch_receiver *watch_receiver_clone(const struct watch_receiver *rx)
{
    return new_receiver(rx->chan, rx);
}

void watch_receiver_drop(struct watch_receiver *rx)
{
    if (rx == NULL)
        return;
    struct watch_chan *c = rx->chan;
    free(rx);
    pthread_mutex_lock(&c->lock);
    c->receivers--;
    /* Unlike broadcast, the value is kept: a later watch_subscribe reads
     * it as the current value. */
    unlock_and_free_if_unused(c);
}

void watch_borrow(struct watch_receiver *rx, void *out)
{
    struct watch_chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    copy_value_out(c, out);
    pthread_mutex_unlock(&c->lock);
}

void watch_borrow_and_update(struct watch_receiver *rx, void *out)
{
    struct watch_chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    copy_value_out(c, out);
    rx->seen = c->version; /* the version of exactly the value copied */
    pthread_mutex_unlock(&c->lock);
}

enum chan_status watch_has_changed(const struct watch_receiver *rx, bool *changed)
{
    struct watch_chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    bool closed = c->senders == 0;
    bool newer = c->version != rx->seen;
    pthread_mutex_unlock(&c->lock);
    if (closed)
        return CHAN_CLOSED;
    *changed = newer;
    return CHAN_OK;
}

/* `deadline` NULL waits for ever. */
static enum chan_status changed_common(struct watch_receiver *rx,
                                       const struct timespec *deadline)
{
    struct watch_chan *c = rx->chan;
    enum chan_status st;
    bool time_left = true;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        /* An unseen version wins over a close: the last value a sender
         * sent before going is still news. */
        if (c->version != rx->seen) {
            rx->seen = c->version;
            st = CHAN_OK;
            break;
        }
        if (c->senders == 0) {
            st = CHAN_CLOSED;
            break;
        }
        if (!time_left) {
            st = CHAN_TIMEOUT;
            break;
        }
        c->sleeping++;
        if (deadline == NULL)
            pthread_cond_wait(&c->changed_cond, &c->lock);
        else
            time_left = chan_cond_wait_until(&c->changed_cond, &c->lock, deadline);
        c->sleeping--;
    }
    pthread_mutex_unlock(&c->lock);
    return st;
}

enum chan_status watch_changed(struct watch_receiver *rx)
{
    return changed_common(rx, NULL);
}

enum chan_status watch_changed_timeout(struct watch_receiver *rx, unsigned timeout_ms)
{
    struct timespec deadline = chan_deadline_after_ms(timeout_ms);
    return changed_common(rx, &deadline);
}
