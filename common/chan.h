/*
 * chan.h - what every channel in common/ shares: the status codes their
 * operations return, the element callbacks, and deadline helpers.
 *
 * The four channels (mpsc.h, oneshot.h, broadcast.h, watch.h) follow
 * tokio::sync.  Where C forces a choice, they choose what never loses data
 * and never leaves a waiter hanging:
 *
 *   - An ordinary condition (full, empty, closed, timed out, lagged, out of
 *     memory) is a return value, never an abort.  Misuse a peer can cause
 *     (sending after the receiver closed, closing twice) is an ordinary
 *     condition.
 *   - A send that fails leaves the value with the caller: nothing was copied
 *     in, so the caller still owns it and decides what to do with it.
 *   - Values still inside a channel when it dies are passed, once each, to
 *     the destructor given when the channel was made.
 *   - Every blocking call has a timed variant.  Timeouts are relative, in
 *     milliseconds, and are measured on CLOCK_MONOTONIC so that a change of
 *     the wall clock cannot stretch or shorten them.
 */
#ifndef CHAN_H
#define CHAN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum chan_status {
    CHAN_OK = 0,  /* done */
    CHAN_CLOSED,  /* the other side is gone or closed: nothing more will come */
    CHAN_FULL,    /* try_send: no room now; the value is still yours */
    CHAN_EMPTY,   /* try_recv: nothing now, but the channel is open */
    CHAN_TIMEOUT, /* a timed call ran out of time; a value is still yours */
    CHAN_LAGGED,  /* broadcast: this receiver missed values (see broadcast.h) */
    CHAN_NO_MEMORY, /* the channel could not get the memory it needed; a value
                       is still yours, and the channel still works */
};

/* "ok", "closed", "full", ..., "out of memory" for messages and test output. */
const char *chan_status_name(enum chan_status status);

/*
 * Called on an element that a channel still holds when it is destroyed
 * (or overwrites, for broadcast and watch).  `elem` points to the channel's
 * copy of the element; free what it owns, not `elem` itself.  NULL means
 * the elements own nothing.
 */
typedef void (*chan_drop_fn)(void *elem);

/*
 * Copies an element out of a channel that keeps it for several readers
 * (broadcast, watch).  `dst` and `src` are elem_size bytes.  NULL means a
 * plain memcpy is a correct copy.
 */
typedef void (*chan_clone_fn)(void *dst, const void *src);

/* --- Deadlines: helpers the channels use, public for "build your own". --- */

/* Initialises `cond` to time its waits on CLOCK_MONOTONIC.  Returns 0 or an
 * errno value. */
int chan_cond_init(pthread_cond_t *cond);

/* The CLOCK_MONOTONIC time `timeout_ms` milliseconds from now. */
struct timespec chan_deadline_after_ms(unsigned timeout_ms);

/* pthread_cond_timedwait against a deadline from chan_deadline_after_ms.
 * Returns true while there is time left, false once the deadline passed.
 * Like any condition wait it may return early: callers loop on their
 * predicate. */
bool chan_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mutex,
                          const struct timespec *deadline);

/*
 * Spins briefly until *events differs from `seen`, the way a thread about to
 * sleep on a condition variable gives its partner a chance first.  Putting
 * a thread to sleep and waking it costs tens of microseconds; if what it
 * waits for arrives within a few microseconds, spinning is far cheaper.
 * Spins with a CPU pause hint, then yields the CPU a few times (so that on
 * a busy 2-core machine the thread it waits for can run), then gives up.
 * Returns true if *events changed.  Call it WITHOUT holding the mutex.
 */
bool chan_spin_until_changed(const atomic_uint *events, unsigned seen);

/* The CPU's spin-wait hint (x86 PAUSE, ARM YIELD; nothing elsewhere): tells
 * the core this is a busy-wait, which saves power and lets a sibling
 * hyper-thread run.  For channels that spin their own way (oneshot.c). */
void chan_cpu_relax(void);

#endif
