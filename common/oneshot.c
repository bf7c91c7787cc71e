/*
 * oneshot.c - the single-value channel (see oneshot.h).
 *
 * Chapter 04 makes one oneshot per request, so this file keeps it cheap:
 * ONE allocation holds the shared state, both handles and the slot for the
 * value.  A handle is just a pointer back to the block it lives in, and the
 * block is freed when the second handle is given up.  (The price: a handle
 * used after it was given up points into a block the other handle may keep
 * alive, so ASan cannot always catch that mistake.)
 *
 * The whole protocol is three facts, all guarded by one mutex:
 *
 *     sender_gone      the sender sent or was dropped: no value can come
 *     receiver_closed  the receiver closed or was dropped: no send can land
 *     value            NONE -> STORED (sent) -> TAKEN (received or destroyed)
 *
 * Each end waits on the same condition variable for a fact the OTHER end
 * sets: the receiver for a value or for sender_gone, the sender (in
 * oneshot_sender_wait_closed_timeout) for receiver_closed.  With at most
 * two waiters, one condition variable and a broadcast is simpler than two
 * and costs nothing extra.
 *
 * A receiver may spin for up to 10 microseconds before it sleeps, watching
 * `events` (bumped, under the lock, whenever one of the three facts
 * changes).  When the answer comes from a thread that is not busy, the
 * spin turns a sleep and a wake-up - several microseconds each - into
 * nothing; `make bench` shows a request/answer round trip going from
 * about 10 us to well under 1 us.  When the answer is a Redis round trip
 * away the spin only burns CPU, so each thread stops spinning after a
 * spin that found nothing (see spin_worth_trying).
 */
#include "oneshot.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum value_state {
    VALUE_NONE,   /* nothing sent yet */
    VALUE_STORED, /* sent, waiting in `value` to be received */
    VALUE_TAKEN,  /* received, or destroyed when the receiver went */
};

struct oneshot_sender {
    struct oneshot_chan *chan;
};

struct oneshot_receiver {
    struct oneshot_chan *chan;
};

struct oneshot_chan {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* both ends wait here (see the top) */
    unsigned waiting;           /* threads waiting on `cond` right now */
    atomic_uint events;         /* bumped whenever a fact above changes; read
                                   without the lock by a receiver spinning
                                   before it sleeps */
    atomic_uint handles;        /* 2, then 1, then 0: the last one frees.
                                   Atomic, because a handle is given up
                                   after the lock is released (see
                                   wake_and_release) */
    bool sender_gone;
    bool receiver_closed;
    enum value_state value_state;
    size_t elem_size;
    chan_drop_fn drop;
    struct oneshot_sender sender;
    struct oneshot_receiver receiver;
    /* The value itself.  Aligned like malloc's memory so that `drop` may
     * treat the pointer it is given as the caller's own type. */
    _Alignas(max_align_t) unsigned char value[];
};

/* Wakes whoever waits on the other side.  A broadcast with nobody waiting is
 * cheap but not free, so skip it when we know nobody is.  Called with the
 * lock held. */
static void wake_waiters(struct oneshot_chan *c)
{
    atomic_fetch_add_explicit(&c->events, 1, memory_order_relaxed);
    if (c->waiting > 0)
        pthread_cond_broadcast(&c->cond);
}

/* Waits on the condition variable once, counted in `waiting`.  Returns false
 * once `deadline` (NULL: none) has passed.  Called with the lock held. */
static bool wait_once(struct oneshot_chan *c, const struct timespec *deadline)
{
    bool time_left = true;
    c->waiting++;
    if (deadline == NULL)
        pthread_cond_wait(&c->cond, &c->lock);
    else
        time_left = chan_cond_wait_until(&c->cond, &c->lock, deadline);
    c->waiting--;
    return time_left;
}

/*
 * For the last step of a send or a drop: releases the lock, THEN wakes
 * whoever waits, then gives up this side's handle; the last handle destroys
 * a value nobody received and frees the block.  Called with the lock held.
 *
 * Why wake after unlocking: a thread woken while the lock is still held
 * runs, finds the lock taken, and goes back to sleep on it until the
 * unlock wakes it a second time - two wake-ups for one answer, on the
 * answering thread's path.  Waking after the unlock is safe here because
 * (1) a waiter counted in `waiting` is already inside pthread_cond_wait,
 * and one that comes later checks the state under the lock before it
 * waits, so no wake-up is lost; and (2) the block cannot be freed under
 * the broadcast, because this side's handle is given up only after it.
 */
static void wake_and_release(struct oneshot_chan *c)
{
    atomic_fetch_add_explicit(&c->events, 1, memory_order_relaxed);
    bool wake = c->waiting > 0;
    pthread_mutex_unlock(&c->lock);
    if (wake)
        pthread_cond_broadcast(&c->cond);
    /* acq_rel: the last side sees everything the other side wrote. */
    if (atomic_fetch_sub_explicit(&c->handles, 1, memory_order_acq_rel) != 1)
        return;
    /* No other handle exists, so nobody else can touch the block now. */
    if (c->value_state == VALUE_STORED && c->drop != NULL)
        c->drop(c->value);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int oneshot_channel(size_t elem_size, chan_drop_fn drop,
                    struct oneshot_sender **tx, struct oneshot_receiver **rx)
{
    if (tx == NULL || rx == NULL)
        return EINVAL;
    *tx = NULL;
    *rx = NULL;
    if (elem_size == 0 || elem_size > SIZE_MAX - sizeof(struct oneshot_chan))
        return EINVAL;

    struct oneshot_chan *c = malloc(sizeof *c + elem_size);
    if (c == NULL)
        return ENOMEM;
    int err = pthread_mutex_init(&c->lock, NULL);
    if (err == 0 && (err = chan_cond_init(&c->cond)) != 0)
        pthread_mutex_destroy(&c->lock);
    if (err != 0) {
        free(c);
        return err;
    }
    c->waiting = 0;
    atomic_init(&c->events, 0);
    atomic_init(&c->handles, 2);
    c->sender_gone = false;
    c->receiver_closed = false;
    c->value_state = VALUE_NONE;
    c->elem_size = elem_size;
    c->drop = drop;
    c->sender.chan = c;
    c->receiver.chan = c;
    *tx = &c->sender;
    *rx = &c->receiver;
    return 0;
}

/* ---- The sender ------------------------------------------------------------ */

enum chan_status oneshot_send(struct oneshot_sender *tx, const void *value)
{
    struct oneshot_chan *c = tx->chan;
    enum chan_status st = CHAN_CLOSED;
    pthread_mutex_lock(&c->lock);
    /* Checked under the same lock the receiver closes under: either the
     * close came first and the value stays with the caller, or the send
     * came first and the value is receivable (or destroyed by the
     * receiver's drop).  There is no moment where it could be lost. */
    if (!c->receiver_closed) {
        memcpy(c->value, value, c->elem_size);
        c->value_state = VALUE_STORED;
        st = CHAN_OK;
    }
    c->sender_gone = true; /* consumed, whatever happened */
    wake_and_release(c);
    return st;
}

void oneshot_sender_drop(struct oneshot_sender *tx)
{
    if (tx == NULL)
        return;
    struct oneshot_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    c->sender_gone = true;
    wake_and_release(c); /* a receiver waiting now learns nothing will come */
}

bool oneshot_sender_is_closed(const struct oneshot_sender *tx)
{
    struct oneshot_chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    bool closed = c->receiver_closed;
    pthread_mutex_unlock(&c->lock);
    return closed;
}

enum chan_status oneshot_sender_wait_closed_timeout(struct oneshot_sender *tx,
                                                    unsigned timeout_ms)
{
    struct oneshot_chan *c = tx->chan;
    struct timespec deadline = chan_deadline_after_ms(timeout_ms);
    pthread_mutex_lock(&c->lock);
    bool time_left = true;
    while (!c->receiver_closed && time_left)
        time_left = wait_once(c, &deadline);
    enum chan_status st = c->receiver_closed ? CHAN_CLOSED : CHAN_TIMEOUT;
    pthread_mutex_unlock(&c->lock);
    return st;
}

/* ---- The receiver ------------------------------------------------------------ */

/*
 * Whether to spin before sleeping is decided per thread, from how spinning
 * went for it lately.  A requester whose answers come from a thread with
 * nothing else to do gets them within the spin, every time: it keeps
 * spinning and never sleeps.  A requester whose answers are a Redis round
 * trip away (tens of microseconds) never sees one within the spin: after a
 * miss it sleeps at once, and tries a spin again only every SPIN_RETRY
 * receives, in case things changed.  Without this, 64 requesters spinning
 * for answers that cannot have arrived burn the CPU the manager and Redis
 * need (`make bench` shows both sides).
 */
enum { SPIN_RETRY = 32, SPIN_NS = 10000 };
static _Thread_local unsigned spin_misses; /* receives since a spin paid off */

/*
 * Watches *events for up to SPIN_NS, with the CPU's pause hint between
 * looks.  Unlike chan_spin_until_changed it never calls sched_yield: on a
 * machine with more runnable threads than cores a yield can hand the core
 * to another process for a whole time slice, and a thread that spins
 * instead of sleeping also loses the head start the scheduler gives a
 * thread it wakes.  If the answer is not there within a few microseconds,
 * sleeping is the better bet.  Returns true if *events changed.
 */
static bool spin_briefly(const atomic_uint *events, unsigned seen)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(events, memory_order_relaxed) != seen)
            return true;
        chan_cpu_relax();
        if (i % 32 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long long ns = (long long)(now.tv_sec - start.tv_sec) * 1000000000LL +
                           (now.tv_nsec - start.tv_nsec);
            if (ns > SPIN_NS)
                return atomic_load_explicit(events, memory_order_relaxed) != seen;
        }
    }
}

static bool spin_worth_trying(void)
{
    return spin_misses == 0 || spin_misses % SPIN_RETRY == 0;
}

static void note_spin_outcome(bool paid_off)
{
    spin_misses = paid_off ? 0 : 1;
}

/* Called for a receive that slept without spinning. */
static void note_no_spin(void)
{
    if (spin_misses != 0)
        spin_misses++;
}

/* `try_only` never waits; `deadline` NULL waits for ever. */
static enum chan_status recv_common(struct oneshot_receiver *rx, void *out,
                                    bool try_only, const struct timespec *deadline)
{
    struct oneshot_chan *c = rx->chan;
    enum chan_status st;
    bool time_left = true;
    bool spun = false;
    pthread_mutex_lock(&c->lock);
    /* Wait while a value may still come: nothing here yet, the sender can
     * still send, and we have not refused it by closing. */
    while (c->value_state == VALUE_NONE && !c->sender_gone && !c->receiver_closed) {
        if (try_only || !time_left) {
            st = try_only ? CHAN_EMPTY : CHAN_TIMEOUT;
            goto out;
        }
        if (!spun && spin_worth_trying()) {
            /* Spin a few microseconds before sleeping: an answer already on
             * its way (a manager with nothing else to do) then costs no
             * sleep and no wake-up.  The lock is free meanwhile, so
             * re-check from the top. */
            spun = true;
            unsigned seen = atomic_load_explicit(&c->events, memory_order_relaxed);
            pthread_mutex_unlock(&c->lock);
            bool changed = spin_briefly(&c->events, seen);
            pthread_mutex_lock(&c->lock);
            note_spin_outcome(changed);
            continue;
        }
        if (!spun)
            note_no_spin();
        spun = true;
        time_left = wait_once(c, deadline);
    }
    if (c->value_state == VALUE_STORED) {
        memcpy(out, c->value, c->elem_size); /* the value is now the caller's */
        c->value_state = VALUE_TAKEN;
        st = CHAN_OK;
    } else {
        st = CHAN_CLOSED; /* never sent, refused, or already taken */
    }
out:
    pthread_mutex_unlock(&c->lock);
    return st;
}

enum chan_status oneshot_recv(struct oneshot_receiver *rx, void *out)
{
    return recv_common(rx, out, false, NULL);
}

enum chan_status oneshot_recv_timeout(struct oneshot_receiver *rx, void *out,
                                      unsigned timeout_ms)
{
    struct timespec deadline = chan_deadline_after_ms(timeout_ms);
    return recv_common(rx, out, false, &deadline);
}

enum chan_status oneshot_try_recv(struct oneshot_receiver *rx, void *out)
{
    return recv_common(rx, out, true, NULL);
}

void oneshot_receiver_close(struct oneshot_receiver *rx)
{
    struct oneshot_chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    if (!c->receiver_closed) {
        c->receiver_closed = true;
        wake_waiters(c); /* a sender in wait_closed can stop working */
    }
    pthread_mutex_unlock(&c->lock);
}

void oneshot_receiver_drop(struct oneshot_receiver *rx)
{
    if (rx == NULL)
        return;
    struct oneshot_chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    c->receiver_closed = true;
    /* A value sent but not received will never be: destroy it now rather
     * than when the block is freed, so its memory goes as early as can be.
     * (A stored value means the sender is already gone, so this drop is in
     * fact the last handle; doing it here just says so plainly.) */
    if (c->value_state == VALUE_STORED) {
        if (c->drop != NULL)
            c->drop(c->value);
        c->value_state = VALUE_TAKEN;
    }
    wake_and_release(c);
}
