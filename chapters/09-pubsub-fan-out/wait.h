/*
 * wait.h - waiting on a watch channel until its value passes a test:
 * Tokio's watch::Receiver::wait_for, built from changed() and borrow().
 *
 * "Is the subscriber subscribed yet?", "has it received 40 messages?",
 * "has consumer 2 read up to message 17?": each is a question about the
 * LATEST value of a watch.  A watch does not keep every value, only the
 * latest, so never wait for a particular change (a state that came and went
 * between two looks is simply not seen); wait until the latest value says
 * what you need.
 */
#ifndef WAIT_H
#define WAIT_H

#include <stdbool.h>

#include "watch.h"

/* A test on a watch's value (`value` points to a copy of it); `arg` is
 * whatever the caller passed to wait_for. */
typedef bool (*wait_test_fn)(const void *value, const void *arg);

/*
 * Waits until test(latest value, arg) is true, for at most timeout_ms.
 * `value` must have room for the watch's value: it receives the latest one
 * looked at, which is the one that passed on CHAN_OK.
 *   CHAN_OK       the test passed (at once, if the value already passes)
 *   CHAN_TIMEOUT  it did not pass within timeout_ms
 *   CHAN_CLOSED   every sender is gone and the last value does not pass:
 *                 it never will
 */
enum chan_status wait_for(struct watch_receiver *rx, wait_test_fn test, const void *arg,
                          unsigned timeout_ms, void *value);

#endif
