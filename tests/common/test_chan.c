/*
 * test_chan.c - the pieces every channel shares: status names and
 * CLOCK_MONOTONIC deadlines.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "chan.h"
#include "test_support.h"

START_TEST(every_status_has_its_own_name)
{
    const enum chan_status all[] = { CHAN_OK,      CHAN_CLOSED, CHAN_FULL,     CHAN_EMPTY,
                                     CHAN_TIMEOUT, CHAN_LAGGED, CHAN_NO_MEMORY };
    const size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_ne(chan_status_name(all[i]), "unknown status");
        for (size_t j = i + 1; j < n; j++)
            ck_assert_str_ne(chan_status_name(all[i]), chan_status_name(all[j]));
    }
    ck_assert_str_eq(chan_status_name(CHAN_CLOSED), "closed");
    ck_assert_str_eq(chan_status_name(CHAN_NO_MEMORY), "out of memory");
    ck_assert_str_eq(chan_status_name((enum chan_status)99), "unknown status");
}
END_TEST

START_TEST(deadline_is_the_given_time_ahead_with_nanoseconds_normalised)
{
    struct timespec before, after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    struct timespec d = chan_deadline_after_ms(1999);
    clock_gettime(CLOCK_MONOTONIC, &after);
    ck_assert_int_ge(d.tv_nsec, 0);
    ck_assert_int_lt(d.tv_nsec, 1000000000L);
    int64_t d_us = (int64_t)d.tv_sec * 1000000 + d.tv_nsec / 1000;
    int64_t lo = (int64_t)before.tv_sec * 1000000 + before.tv_nsec / 1000 + 1999000;
    int64_t hi = (int64_t)after.tv_sec * 1000000 + after.tv_nsec / 1000 + 1999000;
    ck_assert_int_ge(d_us, lo);
    ck_assert_int_le(d_us, hi);
}
END_TEST

START_TEST(cond_wait_until_reports_no_time_left_after_the_deadline)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    ck_assert_int_eq(chan_cond_init(&c), 0);
    struct timespec deadline = chan_deadline_after_ms(30);
    int64_t start = test_now_us();
    pthread_mutex_lock(&m);
    /* Loop as real callers do: an early return must say "time left". */
    while (chan_cond_wait_until(&c, &m, &deadline))
        ck_assert_int_lt(test_now_us() - start, 30000);
    pthread_mutex_unlock(&m);
    ck_assert_int_ge(test_now_us() - start, 29000);
    pthread_cond_destroy(&c);
}
END_TEST

START_TEST(cond_init_makes_timed_waits_measure_on_the_monotonic_clock)
{
    /* pthread_cond_timedwait itself, on a deadline from
     * chan_deadline_after_ms: it must sleep until then.  A condition
     * variable left on the default wall clock would see that deadline as
     * decades past and return ETIMEDOUT at once. */
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    ck_assert_int_eq(chan_cond_init(&c), 0);
    int64_t start = test_now_us();
    struct timespec deadline = chan_deadline_after_ms(50);
    pthread_mutex_lock(&m);
    int err;
    while ((err = pthread_cond_timedwait(&c, &m, &deadline)) == 0)
        ; /* a spurious wake-up: wait on */
    pthread_mutex_unlock(&m);
    ck_assert_int_eq(err, ETIMEDOUT);
    test_assert_waited(start, 50, "pthread_cond_timedwait on a chan_cond_init condition variable");
    pthread_cond_destroy(&c);
}
END_TEST

Suite *chan_suite(void);
Suite *chan_suite(void)
{
    Suite *s = suite_create("chan");
    TCase *tc = tcase_create("shared");
    tcase_add_test(tc, every_status_has_its_own_name);
    tcase_add_test(tc, deadline_is_the_given_time_ahead_with_nanoseconds_normalised);
    tcase_add_test(tc, cond_wait_until_reports_no_time_left_after_the_deadline);
    tcase_add_test(tc, cond_init_makes_timed_waits_measure_on_the_monotonic_clock);
    suite_add_tcase(s, tc);
    return s;
}
