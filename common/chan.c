/*
 * chan.c - status names and CLOCK_MONOTONIC deadlines for the channels.
 *
 * Why CLOCK_MONOTONIC: pthread_cond_timedwait measures against the clock the
 * condition variable was created with, CLOCK_REALTIME by default.  If the
 * wall clock is stepped back an hour, a 100 ms timeout on CLOCK_REALTIME
 * becomes an hour and 100 ms.  The monotonic clock never steps.
 */
#include "chan.h"

#include <errno.h>
#include <sched.h>

const char *chan_status_name(enum chan_status status)
{
    switch (status) {
    case CHAN_OK:      return "ok";
    case CHAN_CLOSED:  return "closed";
    case CHAN_FULL:    return "full";
    case CHAN_EMPTY:   return "empty";
    case CHAN_TIMEOUT: return "timed out";
    case CHAN_LAGGED:  return "lagged";
    case CHAN_NO_MEMORY: return "out of memory";
    }
    return "unknown status";
}

int chan_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err != 0)
        return err;
    err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (err == 0)
        err = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return err;
}

struct timespec chan_deadline_after_ms(unsigned timeout_ms)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    now.tv_sec += (time_t)(timeout_ms / 1000u);
    now.tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
    if (now.tv_nsec >= 1000000000L) {
        now.tv_sec += 1;
        now.tv_nsec -= 1000000000L;
    }
    return now;
}

bool chan_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mutex,
                          const struct timespec *deadline)
{
    /* ETIMEDOUT means the condition variable's clock has reached the
     * deadline: for one made by chan_cond_init, CLOCK_MONOTONIC, the clock
     * the deadline was computed on.  (A wake-up racing with the timeout is
     * no problem: callers re-check their predicate before believing it.)
     * Trusting ETIMEDOUT, rather than reading the clock again, also makes a
     * condition variable made WITHOUT chan_cond_init show at once: on the
     * wall clock a monotonic deadline lies decades in the past, so every
     * timed wait on it ends immediately - which a test sees - instead of
     * spinning, unseen, until the deadline. */
    return pthread_cond_timedwait(cond, mutex, deadline) != ETIMEDOUT;
}

/* How long to spin before sleeping: about what a wake-up costs, no more.
 * These counts are a few microseconds on current x86 and ARM machines. */
enum { SPIN_PAUSES = 200, SPIN_YIELDS = 8 };

void chan_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

bool chan_spin_until_changed(const atomic_uint *events, unsigned seen)
{
    for (int i = 0; i < SPIN_PAUSES; i++) {
        if (atomic_load_explicit(events, memory_order_relaxed) != seen)
            return true;
        chan_cpu_relax();
    }
    for (int i = 0; i < SPIN_YIELDS; i++) {
        if (atomic_load_explicit(events, memory_order_relaxed) != seen)
            return true;
        sched_yield();
    }
    return atomic_load_explicit(events, memory_order_relaxed) != seen;
}
