/*
 * test_support.h - small helpers shared by the Check suites.
 */
#ifndef TEST_SUPPORT_H
#define TEST_SUPPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>

/* The Redis server the tests talk to: $REDIS_URL, which `make test` sets to
 * a throwaway server (tools/with_redis.c).  When a suite binary is run by
 * hand without REDIS_URL, a server is started for it on first use and
 * stopped at exit. */
const char *test_redis_url(void);

/* CLOCK_MONOTONIC now, in milliseconds and in microseconds. */
int64_t test_now_ms(void);
int64_t test_now_us(void);

/* Sleeps `ms` milliseconds (nanosleep, resumed after signals). */
void test_sleep_ms(unsigned ms);

/* How long a thread that must wake up may take to return.  Far more than a
 * wake-up costs on a loaded machine or under valgrind: reaching it means
 * the wake-up was lost. */
enum { TEST_WAKE_BOUND_MS = 10000 };

/* The calling thread's id as the kernel knows it (Linux's gettid), for
 * test_assert_asleep_in_wait; 0 where there is none. */
long test_thread_id(void);

/*
 * Waits until the thread whose id is (or will be) stored in *tid is asleep
 * inside pthread_cond_wait or pthread_cond_timedwait: it has checked what it
 * waits for, found it missing, and gone to sleep.  Fails the test, naming
 * `what`, if *done becomes true first (the thread returned instead of
 * waiting) or if TEST_WAKE_BOUND_MS pass.
 *
 * How: Linux shows in /proc/self/task/TID/syscall the system call a thread
 * is blocked in.  A condition-variable wait is a futex FUTEX_WAIT_BITSET; a
 * thread blocked on a mutex (or inside a sanitizer's own locks) uses
 * FUTEX_WAIT, so it does not count: it has not reached its wait yet.
 * Elsewhere this falls back to giving the thread 50 ms.
 */
void test_assert_asleep_in_wait(const atomic_long *tid, const atomic_bool *done,
                                const char *what);

/* Fails the test, naming `what`, unless *done becomes true within
 * TEST_WAKE_BOUND_MS: for a thread that must have been woken. */
void test_assert_returns(const atomic_bool *done, const char *what);

/* For a timed call that has just timed out, started at `started_us`
 * (test_now_us): fails the test, naming `what`, unless it waited at least
 * its whole `timeout_ms` - a wait that ends early is the sign of a
 * condition variable timing on the wrong clock - and at most
 * TEST_WAKE_BOUND_MS more. */
void test_assert_waited(int64_t started_us, unsigned timeout_ms, const char *what);

/*
 * A thread that asks one question of a channel (a query such as mpsc_len)
 * over and over while other threads change the channel.  ThreadSanitizer
 * reports a query that reads shared state without the channel's lock only
 * when such a change happens during the read, so every query needs a test
 * like this.  `query` makes one call and returns false if the answer is one
 * no state of the channel allows; `state` is its own, for answers that
 * depend on earlier ones (a channel that said "closed" never reopens).
 */
struct test_querier {
    pthread_t thread;
    const char *name;
    bool (*query)(void *state);
    void *state;
    atomic_bool stop;
    atomic_long calls;
    atomic_long wrong;
};

/* Starts the thread and returns once it has answered a first time. */
void test_querier_start(struct test_querier *q, const char *name, bool (*query)(void *state),
                        void *state);

/* Waits (at most TEST_WAKE_BOUND_MS) until the querier has answered `more`
 * more times: with more >= 2, at least one call began after this one. */
void test_querier_wait_for_calls(struct test_querier *q, long more);

/* Stops and joins the querier; fails the test if it made no call or got
 * an impossible answer. */
void test_querier_stop(struct test_querier *q);

/* How much to scale the size of stress loops: $TEST_STRESS_SCALE as a
 * divisor (default 1).  valgrind runs use a larger divisor because it runs
 * threads one at a time, 20-50 times slower; the loops stay as they are in
 * every other run. */
long test_stress_divisor(void);

/* True if process `pid` has ended: no such process, or a zombie nobody has
 * reaped yet (a process whose parent died is reparented, and its new parent
 * may be slow to reap it). */
bool test_process_is_gone(pid_t pid);

/* Waits until test_process_is_gone(pid), for at most `ms`; false if it is
 * still there then. */
bool test_wait_until_gone(pid_t pid, unsigned ms);
/* Runs LeakSanitizer's check now, in a build that has it (SAN=address):
 * true if memory has leaked so far in this process - the report, with
 * where each leaked block was allocated, is already on stderr.  Other
 * builds cannot tell, and always say false (valgrind reports leaks on its
 * own).  A test calls it once its scenario is over and everything it
 * made is freed, so that a leak fails the test with a message naming the
 * section that says who frees what. */
bool test_leaks_found(void);

/* Runs fn(arg) with stderr going to a temporary file; returns what it
 * wrote (free it). */
char *test_stderr_of(void (*fn)(void *), void *arg);

/* A chapter test binary's whole main(): makes Ctrl-C stop any private
 * server a test started and a write to a dead connection an error result
 * rather than SIGPIPE, runs `suite`, and returns the exit status. */
int test_run_chapter_suite(Suite *suite);

#endif
