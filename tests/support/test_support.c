/*
 * test_support.c - see test_support.h.
 */
#define _GNU_SOURCE /* syscall(), for gettid */
#include "test_support.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "redis_harness.h"

/* The sanitizers' allocators abort the program when an allocation fails.
 * The channel tests make allocations fail on purpose (an unbounded channel
 * under a limit on the address space) to check the code's own answer, so
 * in the sanitizer builds malloc returns NULL, as the C library's does. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

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

long test_thread_id(void)
{
#ifdef __linux__
    return (long)syscall(SYS_gettid);
#else
    return 0;
#endif
}

#ifdef __linux__
/* True if thread `tid` of this process is blocked in a futex wait of the
 * kind pthread_cond_wait makes (see test_support.h). */
static bool asleep_in_cond_wait(long tid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", tid);
    FILE *f = fopen(path, "r");
    if (f == NULL && errno == ENOENT)
        return false; /* the thread has just ended: the caller sees it done */
    ck_assert_msg(f != NULL, "cannot read %s: %s", path, strerror(errno));
    /* "NR arg1 arg2 ...", or "running" / "-1 ..." outside a system call. */
    bool in_wait = false;
    long nr;
    unsigned long addr, op;
    if (fgets(line, sizeof line, f) != NULL &&
        sscanf(line, "%ld %lx %lx", &nr, &addr, &op) == 3) {
        bool futex = nr == SYS_futex;
#ifdef SYS_futex_time64
        futex = futex || nr == SYS_futex_time64;
#endif
        in_wait = futex && (op & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET;
    }
    fclose(f);
    return in_wait;
}
#endif

void test_assert_asleep_in_wait(const atomic_long *tid, const atomic_bool *done,
                                const char *what)
{
#ifdef __linux__
    int64_t give_up = test_now_ms() + TEST_WAKE_BOUND_MS;
    for (;;) {
        ck_assert_msg(!atomic_load(done), "%s returned, but should be waiting", what);
        long id = atomic_load(tid);
        if (id != 0 && asleep_in_cond_wait(id))
            break;
        ck_assert_msg(test_now_ms() <= give_up, "%s was not asleep in a wait after %d ms", what,
                      TEST_WAKE_BOUND_MS);
        test_sleep_ms(1);
    }
#else
    (void)tid;
    test_sleep_ms(50);
#endif
    ck_assert_msg(!atomic_load(done), "%s returned, but should be waiting", what);
}

void test_assert_returns(const atomic_bool *done, const char *what)
{
    int64_t give_up = test_now_ms() + TEST_WAKE_BOUND_MS;
    while (!atomic_load(done) && test_now_ms() <= give_up)
        test_sleep_ms(1);
    ck_assert_msg(atomic_load(done), "%s was still blocked %d ms later: it was never woken", what,
                  TEST_WAKE_BOUND_MS);
}

void test_assert_waited(int64_t started_us, unsigned timeout_ms, const char *what)
{
    int64_t took_us = test_now_us() - started_us;
    ck_assert_msg(took_us >= (int64_t)timeout_ms * 1000,
                  "%s timed out after %lld us, before its timeout of %u ms", what,
                  (long long)took_us, timeout_ms);
    ck_assert_msg(took_us <= ((int64_t)timeout_ms + TEST_WAKE_BOUND_MS) * 1000,
                  "%s took %lld ms to time out after %u ms", what, (long long)(took_us / 1000),
                  timeout_ms);
}

static void *querier_loop(void *arg)
{
    struct test_querier *q = arg;
    while (!atomic_load(&q->stop)) {
        if (!q->query(q->state))
            atomic_fetch_add(&q->wrong, 1);
        atomic_fetch_add(&q->calls, 1);
        sched_yield(); /* ask often, but leave the channel to its users */
    }
    return NULL;
}

void test_querier_start(struct test_querier *q, const char *name, bool (*query)(void *state),
                        void *state)
{
    q->name = name;
    q->query = query;
    q->state = state;
    atomic_init(&q->stop, false);
    atomic_init(&q->calls, 0);
    atomic_init(&q->wrong, 0);
    ck_assert_int_eq(pthread_create(&q->thread, NULL, querier_loop, q), 0);
    /* Running before the caller starts changing the channel, even where
     * threads take turns (valgrind). */
    test_querier_wait_for_calls(q, 1);
}

void test_querier_wait_for_calls(struct test_querier *q, long more)
{
    long target = atomic_load(&q->calls) + more;
    int64_t give_up = test_now_ms() + TEST_WAKE_BOUND_MS;
    while (atomic_load(&q->calls) < target) {
        ck_assert_msg(test_now_ms() <= give_up, "%s: no answer for %d ms", q->name,
                      TEST_WAKE_BOUND_MS);
        test_sleep_ms(1);
    }
}

void test_querier_stop(struct test_querier *q)
{
    atomic_store(&q->stop, true);
    ck_assert_int_eq(pthread_join(q->thread, NULL), 0);
    ck_assert_msg(atomic_load(&q->calls) > 0, "%s was never called", q->name);
    ck_assert_msg(atomic_load(&q->wrong) == 0, "%s gave %ld impossible answers in %ld calls",
                  q->name, atomic_load(&q->wrong), atomic_load(&q->calls));
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

char *test_stderr_of(void (*fn)(void *), void *arg)
{
    FILE *tmp = tmpfile();
    ck_assert(tmp != NULL);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    ck_assert(saved >= 0);
    ck_assert(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    fn(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    long size = ftell(tmp);
    char *text = calloc((size_t)(size > 0 ? size : 0) + 1, 1);
    ck_assert(text != NULL);
    rewind(tmp);
    size_t got = fread(text, 1, (size_t)(size > 0 ? size : 0), tmp);
    text[got] = '\0';
    fclose(tmp);
    return text;
}
