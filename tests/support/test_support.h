/*
 * test_support.h - small helpers shared by the Check suites.
 */
#ifndef TEST_SUPPORT_H
#define TEST_SUPPORT_H

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

/* A chapter test binary's whole main(): makes Ctrl-C stop any private
 * server a test started and a write to a dead connection an error result
 * rather than SIGPIPE, runs `suite`, and returns the exit status. */
int test_run_chapter_suite(Suite *suite);

#endif
