/*
 * wait.c - wait_for (see wait.h).
 *
 * The order of the two steps is the whole point:
 *   1. look at the latest value AND mark it seen (watch_borrow_and_update);
 *   2. only if it does not pass, sleep until a newer one (watch_changed).
 * Marking it seen in the same step as reading it means a send that comes
 * just after the look is a change watch_changed reports: nothing falls
 * between the two steps.  Sleeping first would miss a value that already
 * passes, and wait for a change that may never come.
 */
#include "wait.h"

#include <stdint.h>
#include <stdio.h> /* the starter's message */
#include <time.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum chan_status wait_for(struct watch_receiver *rx, wait_test_fn test, const void *arg,
                          unsigned timeout_ms, void *value)
{
    int64_t deadline = now_ms() + timeout_ms;
    // TODO(09): wait until test(value, arg) is true, for at most timeout_ms:
    //   - read the latest value and mark it seen, in one call:
    //     watch_borrow_and_update(rx, value); if test(value, arg) passes,
    //     return CHAN_OK - before any waiting;
    //   - otherwise sleep until a newer value, with the time that is left:
    //     watch_changed_timeout(rx, ms) returns CHAN_OK (look again),
    //     CHAN_TIMEOUT or CHAN_CLOSED (return those).
    (void)rx;
    (void)test;
    (void)arg;
    (void)deadline;
    (void)value;
    fprintf(stderr, "not implemented yet: wait_for (TODO(09) in "
                    "chapters/09-pubsub-fan-out/wait.c)\n");
    return CHAN_CLOSED;
}
