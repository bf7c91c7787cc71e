/*
 * test_01.c - chapter 01: threads sharing one client without a lock.
 *
 * This chapter's program is broken on purpose, so this test does not check
 * that it works; it checks the three things the chapter claims:
 *   - with one thread the program is right (the control);
 *   - ThreadSanitizer sees the data race on the shared client;
 *   - with eight threads the program breaks: wrong replies, a crash or a
 *     hang.  Which one, and after how many runs, is a matter of luck, so
 *     the test runs the program until it sees one, within a bound, and
 *     prints what it saw.
 *
 * Every run of the program is a child process (tests/support/program_runner):
 * the race happens there, never in this test binary, which stays
 * single-threaded and itself race-free.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "program_runner.h"
#include "redis_harness.h"
#include "test_support.h"

/* How hard sharing_the_client_breaks_the_program tries before it gives up. */
#define BREAK_MAX_RUNS 20
#define BREAK_MAX_TOTAL_MS 90000L
#define BREAK_RUN_TIMEOUT_MS 10000u

/* How often tsan_reports_a_data_race_on_the_shared_client tries. */
#define TSAN_MAX_RUNS 5
#define TSAN_RUN_TIMEOUT_MS 60000u

/* The exit codes the Makefile gives sanitizer reports (ASAN_OPTIONS,
 * UBSAN_OPTIONS, TSAN_OPTIONS there). */
#define ASAN_EXIT_CODE 23
#define TSAN_EXIT_CODE 66

/* ---- Helpers -------------------------------------------------------------- */

/* The last `max` bytes of text, so that a message quotes the end of a long
 * output (where the summary and the error are) and stays readable. */
static const char *tail(const char *text, size_t max)
{
    size_t len = strlen(text);
    return len > max ? text + len - max : text;
}

/* Runs argv with REDIS_URL pointing at the test's server, plus `more_env`
 * (one "NAME=value" or NULL). */
static void run_program(const char *const *argv, const char *more_env, unsigned timeout_ms,
                        struct program_run *run)
{
    char url_env[512];
    snprintf(url_env, sizeof url_env, "REDIS_URL=%s", test_redis_url());
    const char *env[] = { url_env, more_env, NULL };
    int rc = program_run(argv, env, timeout_ms, run);
    ck_assert_msg(rc == 0, "could not start %s: %s", argv[0], strerror(errno));
}

/* ---- The control ------------------------------------------------------------ */

START_TEST(one_thread_alone_gets_every_reply_right)
{
    const char *argv[] = { chapter_program(), "--threads", "1", "--iterations", "200", NULL };
    struct program_run run;
    run_program(argv, NULL, 30000, &run);

    char outcome[128];
    bool clean = run.exit_code == 0 &&
                 strstr(run.out, "thread 1: 200 rounds, 0 wrong replies\n") != NULL &&
                 strstr(run.out, "all threads: 200 rounds, 0 wrong replies") != NULL;
    ck_assert_msg(clean,
                  "expected `%s --threads 1 --iterations 200` to exit 0 and report 200 rounds "
                  "with 0 wrong replies: one thread alone owns the connection.  It %s.\n"
                  "--- stdout (end) ---\n%s\n--- stderr (end) ---\n%s"
                  CHAPTER_HINT("The control: one thread"),
                  argv[0], program_run_outcome(&run, outcome, sizeof outcome),
                  tail(run.out, 1500), tail(run.err, 1500), chapter_doc());
    program_run_free(&run);
}
END_TEST

/* ---- ThreadSanitizer ---------------------------------------------------------- */

START_TEST(tsan_reports_a_data_race_on_the_shared_client)
{
    const char *program = getenv("CHAPTER_TSAN_PROGRAM");
    ck_assert_msg(program != NULL && access(program, X_OK) == 0,
                  "expected a ThreadSanitizer build of the program at %s; `make test-01` "
                  "builds it (or: make SAN=thread %s)" CHAPTER_HINT("ThreadSanitizer sees it"),
                  program ? program : "$CHAPTER_TSAN_PROGRAM (not set)",
                  program ? program : "build/thread/chapters/01-shared-client/01-shared-client",
                  chapter_doc());

    /* halt_on_error=0: report every race and run on, so a run is whole. */
    const char *argv[] = { program, "--threads", "8", "--iterations", "100", NULL };
    struct program_run run = { 0 };
    bool seen = false;
    int runs = 0;
    char outcome[128] = "not run";
    while (!seen && runs < TSAN_MAX_RUNS) {
        program_run_free(&run);
        run_program(argv, "TSAN_OPTIONS=halt_on_error=0:exitcode=66", TSAN_RUN_TIMEOUT_MS, &run);
        runs++;
        seen = strstr(run.err, "WARNING: ThreadSanitizer: data race") != NULL;
        program_run_outcome(&run, outcome, sizeof outcome);
    }
    if (seen) {
        printf("tsan_reports_a_data_race_on_the_shared_client: ThreadSanitizer reported a "
               "data race in run %d\n", runs);
        fflush(stdout);
    }
    ck_assert_msg(seen,
                  "expected ThreadSanitizer to report \"WARNING: ThreadSanitizer: data race\" "
                  "for 8 threads sharing one client; in %d runs it never did (last run %s).\n"
                  "--- stderr (end) ---\n%s" CHAPTER_HINT("ThreadSanitizer sees it"),
                  runs, outcome, tail(run.err, 2000), chapter_doc());
    program_run_free(&run);
}
END_TEST

/* ---- Sharing breaks it ---------------------------------------------------------- */

enum run_verdict {
    RAN_CLEAN,       /* exit 0: lucky this time, try again */
    BROKE,           /* wrong replies, a crash, a hang, a sanitizer report */
    COULD_NOT_RUN,   /* bad setup (Redis unreachable, ...): no point trying again */
};

/* What one run of the program shows; `what` says it in words. */
static enum run_verdict judge(const struct program_run *run, char *what, size_t size)
{
    char outcome[128];
    program_run_outcome(run, outcome, sizeof outcome);
    if (run->timed_out) {
        snprintf(what, size, "hung: a thread waited for a reply that never came (%s)", outcome);
        return BROKE;
    }
    if (run->signal != 0) {
        snprintf(what, size, "crashed: %s", outcome);
        return BROKE;
    }
    /* Under `make test SAN=address` the program is an ASan build: a heap
     * corruption that would crash a plain build is caught and reported. */
    if (run->exit_code == ASAN_EXIT_CODE && strstr(run->err, "Sanitizer") != NULL) {
        const char *report = strstr(run->err, "ERROR: ");
        int report_len = 7;
        if (report != NULL) { /* its first line, without the addresses */
            const char *at_pc = strstr(report, " at pc ");
            report_len = (int)strcspn(report, "\n");
            if (at_pc != NULL && at_pc - report < report_len)
                report_len = (int)(at_pc - report);
        }
        snprintf(what, size, "crashed: a sanitizer stopped it (%.*s)", report_len,
                 report ? report : "exit 23");
        return BROKE;
    }
    if (run->exit_code == TSAN_EXIT_CODE && strstr(run->err, "ThreadSanitizer") != NULL) {
        snprintf(what, size, "stopped by ThreadSanitizer: it saw the data race");
        return BROKE;
    }
    if (run->exit_code == 1) {
        const char *summary = strstr(run->out, "all threads:");
        snprintf(what, size, "exited 1 reporting wrong replies or errors (%.*s)",
                 summary ? (int)strcspn(summary, "\n") : 8, summary ? summary : "no summary");
        return BROKE;
    }
    snprintf(what, size, "%s", outcome);
    return run->exit_code == 0 ? RAN_CLEAN : COULD_NOT_RUN;
}

START_TEST(sharing_the_client_breaks_the_program)
{
    const char *argv[] = { chapter_program(), NULL }; /* the defaults: 8 threads */
    struct program_run run = { 0 };
    enum run_verdict verdict = RAN_CLEAN;
    char what[512] = "";
    int runs = 0;
    int64_t started = test_now_ms();

    while (verdict == RAN_CLEAN && runs < BREAK_MAX_RUNS &&
           test_now_ms() - started < BREAK_MAX_TOTAL_MS) {
        program_run_free(&run);
        run_program(argv, NULL, BREAK_RUN_TIMEOUT_MS, &run);
        runs++;
        verdict = judge(&run, what, sizeof what);
    }
    ck_assert_msg(verdict != COULD_NOT_RUN,
                  "expected `%s` to run (and misbehave); it %s.\n--- stderr (end) ---\n%s"
                  CHAPTER_HINT("Run it"),
                  argv[0], what, tail(run.err, 1500), chapter_doc());
    if (verdict == BROKE) {
        printf("sharing_the_client_breaks_the_program: run %d %s\n", runs, what);
        fflush(stdout);
    }
    ck_assert_msg(verdict == BROKE,
                  "expected 8 threads sharing one client without a lock to break the program "
                  "(wrong replies, a crash or a hang) at least once; it ran clean %d times in "
                  "%lld ms.  Did a lock sneak in, or does each thread have its own client?"
                  CHAPTER_HINT("One connection, one byte stream"),
                  runs, (long long)(test_now_ms() - started), chapter_doc());
    program_run_free(&run);
}
END_TEST

/* ---- The suite ---------------------------------------------------------------- */

static Suite *chapter_01_suite(void)
{
    Suite *s = suite_create("01-shared-client");
    TCase *tc = tcase_create("shared client");
    /* Generous: each test runs the program several times, maybe as a
     * sanitizer build, on a machine that may be busy. */
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, one_thread_alone_gets_every_reply_right);
    tcase_add_test(tc, tsan_reports_a_data_race_on_the_shared_client);
    tcase_add_test(tc, sharing_the_client_breaks_the_program);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Ctrl-C during a run stops any server a test started. */
    redis_harness_stop_all_on_signal();

    SRunner *runner = srunner_create(chapter_01_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
