/*
 * test_support.c - see test_support.h.
 */
#include "test_support.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "redis_harness.h"

/* AddressSanitizer brings LeakSanitizer with it.  GCC says so with
 * __SANITIZE_ADDRESS__, clang with __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_HAVE_LSAN 1
#endif
#endif
#ifdef TEST_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static struct redis_harness own_server;
static char own_url[64];

static void stop_own_server(void)
{
    redis_harness_stop(&own_server);
}

const char *test_redis_url(void)
{
    const char *url = getenv("REDIS_URL");
    if (url != NULL && url[0] != '\0')
        return url;
    if (own_url[0] == '\0') {
        char err[512];
        redis_harness_stop_all_on_signal();
        if (redis_harness_start(&own_server, err, sizeof err) != 0) {
            fprintf(stderr, "tests: could not start a Redis server: %s\n", err);
            exit(2);
        }
        atexit(stop_own_server);
        snprintf(own_url, sizeof own_url, "%s", own_server.url);
    }
    return own_url;
}

int64_t test_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t test_now_ms(void)
{
    return test_now_us() / 1000;
}

void test_sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

long test_stress_divisor(void)
{
    const char *s = getenv("TEST_STRESS_SCALE");
    long d = s ? strtol(s, NULL, 10) : 1;
    return d >= 1 ? d : 1;
}

bool test_process_is_gone(pid_t pid)
{
#ifdef __linux__
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* "pid (comm) STATE ..." */
    if (paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'))
        return true;
#endif
    return kill(pid, 0) == -1 && errno == ESRCH;
}

bool test_wait_until_gone(pid_t pid, unsigned ms)
{
    int64_t deadline = test_now_ms() + ms;
    while (!test_process_is_gone(pid)) {
        if (test_now_ms() > deadline)
            return false;
        test_sleep_ms(10);
    }
    return true;
}

/* Check runs each test in a child of its own, in a process group of its
 * own, so a signal that stops the runner never reaches a test in progress,
 * which would run on (with its private servers) until its own time limit.
 * Each test child therefore asks to be sent SIGTERM when the runner dies;
 * its handler (redis_harness_stop_all_on_signal) stops what it started.
 * Only the first fork below the runner does this: the children a test
 * forks in its turn (the chapter's program, a redis-server) have their own
 * arrangements. */
static bool in_test_child;

static void test_child_dies_with_the_runner(void)
{
    if (in_test_child)
        return;
    in_test_child = true;
    pid_t runner = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != runner) /* the runner died before prctl */
        raise(SIGTERM);
}

int test_run_chapter_suite(Suite *suite)
{
    redis_harness_stop_all_on_signal();
    signal(SIGPIPE, SIG_IGN);
    pthread_atfork(NULL, NULL, test_child_dies_with_the_runner);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

bool test_leaks_found(void)
{
#ifdef TEST_HAVE_LSAN
    /* Unlike the check at exit, this one returns, so the test can say what
     * leaked in its own words.  It honours detect_leaks=0. */
    return __lsan_do_recoverable_leak_check() != 0;
#else
    return false;
#endif
}
