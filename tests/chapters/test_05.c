/*
 * test_05.c - chapter 05: a bounded channel holds back a producer that is
 * faster than Redis; try_send refuses instead, and says so; an unbounded
 * channel lets memory grow with the backlog.
 *
 * Run with `make test-05` (your code in chapters/) or `make test-05
 * SOLUTION=1`.  A failure says what was expected, what happened, and which
 * section of docs/05-backpressure.md explains it.
 *
 * Every test pauses Redis (CLIENT PAUSE), so every test uses a private
 * server: a pause never slows down other tests sharing test_redis_url().
 * The pause is what makes the results certain rather than likely: while it
 * lasts, nothing leaves the channel, so a bounded channel must fill up and
 * a blocking producer must wait.  Bounds on time are generous; they only
 * decide how long a broken solution takes to fail.
 *
 * Memory is measured by running the chapter's program: each process can
 * only measure its own peak (getrusage), and a fresh process per run keeps
 * one run's peak from hiding the next one's.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "producer.h"
#include "program_faults.h"
#include "program_runner.h"
#include "redis_client.h"
#include "redis_harness.h"
#include "test_support.h"

/* How long a program run may take before it counts as hung. */
#define PROGRAM_BOUND_MS 60000

/* ---- Helpers ------------------------------------------------------------------ */

static void start_private_server(struct redis_harness *h)
{
    char err[512];
    ck_assert_msg(redis_harness_start(h, err, sizeof err) == 0,
                  "the test could not start a private Redis: %s", err);
}

/* Which section to point at for a problem or an error a run reported: the
 * starter's "not implemented yet" messages say which part is missing. */
static const char *section_for(const char *text, const char *otherwise)
{
    if (strstr(text, "not implemented yet: an unbounded") != NULL)
        return "Three ways to send";
    if (strstr(text, "not implemented yet: mpsc_try_send") != NULL)
        return "Refusing when full";
    return otherwise;
}

/* Runs flood_run against the private server and checks that it ran at all
 * and that nothing went wrong during the run. */
static void flood(const struct redis_harness *h, enum flood_mode mode, size_t count,
                  size_t capacity, unsigned pause_ms, struct flood_report *report)
{
    struct flood_options opts = {
        .url = h->url, .mode = mode, .count = count, .value_size = 256,
        .capacity = capacity, .pause_ms = pause_ms,
    };
    char err[512] = "";
    int rc = flood_run(&opts, report, err, sizeof err);
    ck_assert_msg(rc == 0,
                  "expected flood_run in mode %s to run, it returned %d: %s"
                  CHAPTER_HINT("%s"),
                  flood_mode_name(mode), rc, err, section_for(err, "The experiment"),
                  chapter_doc());
    ck_assert_msg(report->problem[0] == '\0',
                  "expected a %s flood of %zu commands to run without a problem, got: %s"
                  CHAPTER_HINT("%s"),
                  flood_mode_name(mode), count, report->problem,
                  section_for(report->problem, "The experiment"), chapter_doc());
}

/* Where the learner's code decides what a mode does: the channel (made in
 * manager_start) for block and unbounded, send_or_reject for try. */
static const char *section_of_mode(enum flood_mode mode)
{
    return mode == FLOOD_TRY ? "Refusing when full" : "Three ways to send";
}

static void expect_balanced(const struct flood_report *r, enum flood_mode mode)
{
    ck_assert_msg(flood_report_balanced(r),
                  "expected every command of the %s flood to be accounted for "
                  "(completed + failed + rejected == issued, sent == issued - rejected); got "
                  "issued %zu, sent %zu, rejected %zu, completed %zu, failed %zu%s"
                  CHAPTER_HINT("%s"),
                  flood_mode_name(mode), r->issued, r->sent, r->rejected, r->completed,
                  r->failed,
                  mode == FLOOD_TRY ? ".  Is every refused command counted as rejected?" : "",
                  section_of_mode(mode), chapter_doc());
}

/* After a flood of `mode` has ended: no command may be left allocated.
 * Only a build with LeakSanitizer (SAN=address, the default for `make
 * test-05`) can tell; its report above says where each leaked block was
 * allocated. */
static void expect_no_leak(enum flood_mode mode)
{
    ck_assert_msg(!test_leaks_found(),
                  "expected every command of the %s flood to be freed by whoever held it "
                  "last, but LeakSanitizer found memory nobody frees (its report is above)%s"
                  CHAPTER_HINT("%s"),
                  flood_mode_name(mode),
                  mode == FLOOD_TRY ? ".  A command the channel refused is still the "
                                      "producer's: is it freed?"
                                    : "",
                  section_of_mode(mode), chapter_doc());
}

/* ---- Waiting when full -------------------------------------------------------- */

START_TEST(the_queue_never_holds_more_than_its_capacity)
{
    enum { CAPACITY = 8, COUNT = 2000 };
    struct redis_harness h;
    start_private_server(&h);
    struct flood_report r;
    flood(&h, FLOOD_BLOCK, COUNT, CAPACITY, 300, &r);
    ck_assert_msg(r.max_queue_len_seen <= CAPACITY,
                  "expected the queue of a channel of capacity %d never to hold more than %d "
                  "commands, but %zu were seen at once: was the channel made with "
                  "mpsc_channel and that capacity?"
                  CHAPTER_HINT("Three ways to send"),
                  CAPACITY, CAPACITY, r.max_queue_len_seen, chapter_doc());
    ck_assert_msg(r.max_queue_len_seen > 0,
                  "expected commands to pile up in the queue while Redis was paused, but the "
                  "producer never saw a single one queued (is it sampling mpsc_sender_len "
                  "after each send?)"
                  CHAPTER_HINT("Waiting when full"),
                  chapter_doc());
    ck_assert_msg(r.issued == COUNT && r.sent == COUNT && r.completed == COUNT,
                  "expected all %d commands to be sent and completed (a blocking send never "
                  "gives up), got issued %zu, sent %zu, completed %zu"
                  CHAPTER_HINT("Waiting when full"),
                  COUNT, r.issued, r.sent, r.completed, chapter_doc());
    redis_harness_stop(&h);
}
END_TEST

START_TEST(a_blocking_producer_waits_while_the_server_is_paused)
{
    /* Redis holds everything for 300 ms, so the channel fills within
     * microseconds and mpsc_send must wait until Redis answers again.  Only
     * a third of the pause is asked for: the pause, not luck, guarantees
     * it, and the rest is slack for a busy machine. */
    enum { PAUSE_MS = 300, AT_LEAST_MS = 100 };
    struct redis_harness h;
    start_private_server(&h);
    struct flood_report r;
    flood(&h, FLOOD_BLOCK, 2000, 8, PAUSE_MS, &r);
    ck_assert_msg(r.blocked_s * 1000 >= AT_LEAST_MS,
                  "expected the producer to spend at least %d ms waiting in mpsc_send while "
                  "Redis was paused for %d ms, but it spent %ld ms%s"
                  CHAPTER_HINT("%s"),
                  AT_LEAST_MS, PAUSE_MS, (long)(r.blocked_s * 1000),
                  r.max_queue_len_seen > 8 ? ", and the queue grew past the capacity of 8: "
                                             "was the channel made bounded?"
                                           : "",
                  r.max_queue_len_seen > 8 ? "Three ways to send" : "Waiting when full",
                  chapter_doc());
    redis_harness_stop(&h);
}
END_TEST

/* ---- Refusing when full ------------------------------------------------------- */

/* How many of the keys "<prefix>:0" .. "<prefix>:<count-1>" exist, asked
 * with one EXISTS over all of them on a connection of the test's own. */
static long long keys_that_exist(const char *url, const char *prefix, size_t count)
{
    char err[512] = "";
    struct redis_client *c = redis_client_connect(url, NULL, err, sizeof err);
    ck_assert_msg(c != NULL, "the test could not connect to %s: %s", url, err);
    const char **argv = calloc(count + 1, sizeof *argv);
    size_t *len = calloc(count + 1, sizeof *len);
    char *keys = calloc(count, 128);
    ck_assert(argv != NULL && len != NULL && keys != NULL);
    argv[0] = "EXISTS";
    len[0] = 6;
    for (size_t i = 0; i < count; i++) {
        char *key = keys + i * 128;
        len[i + 1] = (size_t)snprintf(key, 128, "%s:%zu", prefix, i);
        argv[i + 1] = key;
    }
    struct redis_result r = redis_client_command(c, (int)count + 1, argv, len);
    ck_assert_msg(r.kind == REDIS_RESULT_INTEGER, "EXISTS gave %s %s",
                  redis_result_kind_name(r.kind), r.data != NULL ? r.data : "");
    long long n = r.integer;
    redis_result_free(&r);
    redis_client_free(c);
    free(keys);
    free(len);
    free(argv);
    return n;
}

START_TEST(try_send_reports_every_rejected_command)
{
    enum { CAPACITY = 4, COUNT = 2000 };
    struct redis_harness h;
    start_private_server(&h);
    struct flood_report r;
    flood(&h, FLOOD_TRY, COUNT, CAPACITY, 300, &r);
    expect_balanced(&r, FLOOD_TRY);
    ck_assert_msg(r.issued == COUNT,
                  "expected the producer to offer all %d commands (a refusal does not stop "
                  "it), it offered %zu"
                  CHAPTER_HINT("Refusing when full"),
                  COUNT, r.issued, chapter_doc());
    /* The channel starts empty, so the first CAPACITY offers find room. */
    ck_assert_msg(r.sent >= CAPACITY,
                  "expected at least the first %d commands to be taken (the channel starts "
                  "empty, with room for %d), but only %zu were sent"
                  CHAPTER_HINT("Refusing when full"),
                  CAPACITY, CAPACITY, r.sent, chapter_doc());
    /* A queue longer than the capacity means the channel itself was not
     * bounded: then nothing can be refused, whatever send_or_reject does. */
    bool bounded = r.max_queue_len_seen <= CAPACITY;
    ck_assert_msg(r.rejected > 0,
                  "expected some of %d commands to be refused by a channel of %d while Redis "
                  "was paused, but none were%s"
                  CHAPTER_HINT("%s"),
                  COUNT, CAPACITY,
                  bounded ? ": does send_or_reject use mpsc_try_send, which never waits?"
                          : ", and the queue grew past the capacity: was the channel made "
                            "bounded?",
                  bounded ? "Refusing when full" : "Three ways to send", chapter_doc());
    ck_assert_msg(r.completed == r.sent && r.failed == 0,
                  "expected every command the channel took to complete, got sent %zu, "
                  "completed %zu, failed %zu"
                  CHAPTER_HINT("Every command is accounted for"),
                  r.sent, r.completed, r.failed, chapter_doc());

    /* The report is not just bookkeeping: exactly the completed commands
     * reached Redis, and none of the rejected ones did. */
    long long stored = keys_that_exist(h.url, "ch05:flood", COUNT);
    ck_assert_msg(stored == (long long)r.completed,
                  "expected exactly the %zu completed commands' keys in Redis, found %lld of "
                  "the %d keys (a rejected command must never be sent)"
                  CHAPTER_HINT("What a rejected command means"),
                  r.completed, stored, COUNT, chapter_doc());
    redis_harness_stop(&h);
    expect_no_leak(FLOOD_TRY);
}
END_TEST

/* ---- Every command is accounted for ------------------------------------------- */

START_TEST(every_command_is_either_completed_or_rejected)
{
    const enum flood_mode modes[] = { FLOOD_BLOCK, FLOOD_TRY, FLOOD_UNBOUNDED };
    struct redis_harness h;
    start_private_server(&h);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        struct flood_report r;
        flood(&h, modes[i], 1000, 16, 200, &r);
        expect_no_leak(modes[i]);
        expect_balanced(&r, modes[i]);
        ck_assert_msg(r.issued == 1000 && r.failed == 0,
                      "expected mode %s to issue all 1000 commands with none failed, got "
                      "issued %zu, failed %zu"
                      CHAPTER_HINT("Every command is accounted for"),
                      flood_mode_name(modes[i]), r.issued, r.failed, chapter_doc());
        if (modes[i] != FLOOD_TRY)
            ck_assert_msg(r.rejected == 0 && r.completed == 1000,
                          "expected mode %s to refuse nothing and complete all 1000 "
                          "commands, got rejected %zu, completed %zu"
                          CHAPTER_HINT("Three ways to send"),
                          flood_mode_name(modes[i]), r.rejected, r.completed, chapter_doc());
    }
    redis_harness_stop(&h);
}
END_TEST

/* ---- Measuring memory ----------------------------------------------------------- */

/* Runs the chapter's program against `h` with `args` (NULL-terminated,
 * after the program's name, starting with "--mode MODE"); checks that it
 * exited 0. */
static void run_program(const struct redis_harness *h, const char *const *args,
                        struct program_run *run)
{
    ck_assert(args[0] != NULL && strcmp(args[0], "--mode") == 0 && args[1] != NULL);
    enum flood_mode mode = FLOOD_BLOCK;
    while (flood_mode_names[mode] != NULL && strcmp(flood_mode_names[mode], args[1]) != 0)
        mode++;
    ck_assert_msg(flood_mode_names[mode] != NULL, "no mode named %s", args[1]);
    const char *argv[16] = { chapter_program() };
    size_t argc = 1;
    for (; args[argc - 1] != NULL; argc++) {
        ck_assert(argc + 1 < sizeof argv / sizeof argv[0]);
        argv[argc] = args[argc - 1];
    }
    argv[argc] = NULL;
    char command[512] = "";
    for (size_t i = 0; i < argc; i++) {
        strncat(command, i == 0 ? "" : " ", sizeof command - strlen(command) - 1);
        strncat(command, argv[i], sizeof command - strlen(command) - 1);
    }

    char env_url[128], env_asan[512];
    snprintf(env_url, sizeof env_url, "REDIS_URL=%s", h->url);
    /* AddressSanitizer keeps freed memory aside for a while (its quarantine,
     * 256 MiB by default) to catch use after free.  Here that would count
     * every command ever freed as still held, and make the bounded runs
     * look as if they grew.  So the quarantine is switched off for these
     * runs; other builds ignore the variable. */
    const char *asan = getenv("ASAN_OPTIONS");
    snprintf(env_asan, sizeof env_asan, "ASAN_OPTIONS=%s%squarantine_size_mb=0",
             asan != NULL ? asan : "", asan != NULL && asan[0] != '\0' ? ":" : "");
    const char *env[] = { env_url, env_asan, NULL };

    ck_assert_msg(program_run(argv, env, PROGRAM_BOUND_MS, run) == 0, "cannot run %s",
                  argv[0]);
    char outcome[128];
    ck_assert_msg(run->exit_code == 0,
                  "expected `%s` to exit with 0; it %s, and its stderr said:\n%s"
                  CHAPTER_HINT("%s"),
                  command, program_run_outcome(run, outcome, sizeof outcome),
                  program_output_tail(run->err, 2000),
                  section_for(run->err, section_of_mode(mode)), chapter_doc());
}

/* The peak RSS a --timing run printed ("peak_rss_kib=N"), in KiB. */
static long peak_rss_of(const struct program_run *run, const char *what)
{
    const char *at = strstr(run->out, "peak_rss_kib=");
    ck_assert_msg(at != NULL,
                  "expected the %s run's --timing report to include a line with "
                  "\"peak_rss_kib=\", its output was:\n%s"
                  CHAPTER_HINT("Measuring memory"),
                  what, program_output_tail(run->out, 2000), chapter_doc());
    long kib = strtol(at + strlen("peak_rss_kib="), NULL, 10);
    ck_assert_msg(kib > 0,
                  "expected a positive peak_rss_kib in the %s run's report, got %ld"
                  CHAPTER_HINT("Measuring memory"),
                  what, kib, chapter_doc());
    return kib;
}

static long measure(const struct redis_harness *h, const char *mode, const char *count)
{
    const char *args[] = { "--mode", mode, "--count", count, "--value-size", "4096",
                           "--pause-ms", "1000", "--timing", NULL };
    struct program_run run;
    run_program(h, args, &run);
    char what[64];
    snprintf(what, sizeof what, "%s --count %s", mode, count);
    long kib = peak_rss_of(&run, what);
    program_run_free(&run);

    /* Each run writes up to 40 MB to Redis: empty it between runs. */
    struct redis_client *c = redis_client_connect(h->url, NULL, NULL, 0);
    ck_assert(c != NULL);
    const char *argv[] = { "FLUSHALL" };
    const size_t len[] = { 8 };
    struct redis_result r = redis_client_command(c, 1, argv, len);
    redis_result_free(&r);
    redis_client_free(c);
    return kib;
}

START_TEST(bounded_memory_stays_flat_while_unbounded_grows)
{
    /* 1000 and then 10000 SETs of 4 KiB, while Redis is paused for 1 s:
     * the producer has queued them all (or nearly all) before Redis takes
     * the first.  Ten times the commands: an unbounded queue must hold ten
     * times the backlog; a bounded one holds 32 commands either way.  (The
     * manager runs one command per round trip, so the counts are kept
     * small and the values large: 10000 round trips take about a second.) */
    struct redis_harness h;
    start_private_server(&h);
    long bounded_small = measure(&h, "block", "1000");
    long bounded_large = measure(&h, "block", "10000");
    long unbounded_small = measure(&h, "unbounded", "1000");
    long unbounded_large = measure(&h, "unbounded", "10000");
    printf("peak RSS of %s, 4 KiB values, Redis paused 1 s:\n"
           "                  1000 commands   10000 commands\n"
           "  block (32)      %8.1f MiB    %8.1f MiB\n"
           "  unbounded       %8.1f MiB    %8.1f MiB\n",
           chapter_program(), (double)bounded_small / 1024, (double)bounded_large / 1024,
           (double)unbounded_small / 1024, (double)unbounded_large / 1024);
    fflush(stdout);

    /* The limits leave room for a sanitizer's own memory: ASan and TSan
     * raise every figure, but not the shape. */
    ck_assert_msg(bounded_large <= bounded_small * 3 / 2 + 2048,
                  "expected the bounded channel's peak memory to stay flat with 10x the "
                  "commands, got %ld KiB for 1000 and %ld KiB for 10000"
                  CHAPTER_HINT("Three ways to send"),
                  bounded_small, bounded_large, chapter_doc());
    ck_assert_msg(unbounded_large >= 3 * unbounded_small &&
                      unbounded_large - unbounded_small >= 20 * 1024,
                  "expected the unbounded queue's peak memory to grow with the backlog (at "
                  "least 3x and 20 MiB more for 10x the commands), got %ld KiB for 1000 and "
                  "%ld KiB for 10000: is the channel of --mode unbounded made with "
                  "mpsc_unbounded_channel?"
                  CHAPTER_HINT("Three ways to send"),
                  unbounded_small, unbounded_large, chapter_doc());
    redis_harness_stop(&h);
}
END_TEST

/* ---- The program ---------------------------------------------------------------- */

START_TEST(the_program_runs_clean_in_every_mode)
{
    const char *modes[] = { "block", "try", "unbounded" };
    struct redis_harness h;
    start_private_server(&h);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        const char *args[] = { "--mode", modes[i], "--count", "500", "--pause-ms", "100",
                               NULL };
        struct program_run run;
        run_program(&h, args, &run);
        ck_assert_msg(strstr(run.out, "every command is accounted for") != NULL,
                      "expected `--mode %s` to report \"every command is accounted for\", "
                      "its output was:\n%s"
                      CHAPTER_HINT("%s"),
                      modes[i], program_output_tail(run.out, 2000),
                      strcmp(modes[i], "try") == 0 ? "Refusing when full" : "Three ways to send",
                      chapter_doc());
        if (strcmp(modes[i], "unbounded") != 0)
            ck_assert_msg(strstr(run.out, "the queue never held more than its capacity of 32") !=
                              NULL,
                          "expected `--mode %s` to report that the queue never held more "
                          "than its capacity of 32, its output was:\n%s"
                          CHAPTER_HINT("Three ways to send"),
                          modes[i], program_output_tail(run.out, 2000), chapter_doc());
        program_run_free(&run);
    }
    redis_harness_stop(&h);
}
END_TEST

START_TEST(a_bad_option_or_an_unreachable_server_exits_with_2)
{
    char closed[128], env_url[160];
    redis_harness_closed_port_url(closed, sizeof closed);
    snprintf(env_url, sizeof env_url, "REDIS_URL=%s", closed);
    const char *env[] = { env_url, NULL };
    const char *bad_mode[] = { chapter_program(), "--mode", "sideways", NULL };
    const char *bad_count[] = { chapter_program(), "--count", "0", NULL };
    const char *no_server[] = { chapter_program(), "--count", "10", NULL };
    const char *const *runs[] = { bad_mode, bad_count, no_server };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        struct program_run run;
        ck_assert_msg(program_run(runs[i], env, PROGRAM_BOUND_MS, &run) == 0, "cannot run %s",
                      runs[i][0]);
        char outcome[128];
        ck_assert_msg(run.exit_code == 2 && run.err[0] != '\0',
                      "expected `%s %s %s` to exit with 2 and say why on stderr; it %s, and "
                      "its stderr said:\n%s"
                      CHAPTER_HINT("The experiment"),
                      runs[i][0], runs[i][1], runs[i][2],
                      program_run_outcome(&run, outcome, sizeof outcome),
                      program_output_tail(run.err, 2000),
                      chapter_doc());
        program_run_free(&run);
    }
}
END_TEST

/* ---- The program on its fault paths ----------------------------------------------- */

/* A lost connection stops the manager; the producer's next send is
 * refused, and every command is still accounted for. */
static void run_05_with_fault(enum program_fault fault)
{
    const char *argv[] = { chapter_program(), "--count", "200000", "--pause-ms", "0", NULL };
    struct fault_run fr;
    program_run_with_fault(argv, fault, "set", 2000, PROGRAM_FAULT_HANG_MS, &fr);
    expect_exit_1_after_fault(&fr, fault, "--count 200000 --pause-ms 0", "lost the connection",
                              "Every command is accounted for");
    ck_assert_msg(strstr(fr.run.out, "every command is accounted for") != NULL,
                  "expected every command to be accounted for when %s; the report was:\n%s"
                  CHAPTER_HINT("Every command is accounted for"),
                  program_fault_name(fault), fr.run.out, chapter_doc());
    fault_run_free(&fr);
}

START_TEST(the_program_exits_1_when_the_server_is_killed_mid_run)
{
    run_05_with_fault(FAULT_KILL_SERVER);
}
END_TEST

START_TEST(the_program_exits_1_when_its_connections_are_killed_mid_run)
{
    run_05_with_fault(FAULT_KILL_CONNECTIONS);
}
END_TEST

START_TEST(the_program_exits_1_when_the_server_restarts_mid_run)
{
    run_05_with_fault(FAULT_RESTART_SERVER);
}
END_TEST

START_TEST(a_server_that_wants_a_password_is_a_start_up_failure_with_exit_2)
{
    const char *argv[] = { chapter_program(), "--count", "10", "--pause-ms", "0", NULL };
    expect_exit_2_without_password(argv, "--count 10 --pause-ms 0");
}
END_TEST

static Suite *chapter_suite(void)
{
    Suite *s = suite_create("05-backpressure");
    TCase *tc = tcase_create("backpressure");
    /* The memory test runs the program four times with a 1 s pause; a
     * sanitizer build needs a few seconds more for each. */
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, the_queue_never_holds_more_than_its_capacity);
    tcase_add_test(tc, a_blocking_producer_waits_while_the_server_is_paused);
    tcase_add_test(tc, try_send_reports_every_rejected_command);
    tcase_add_test(tc, every_command_is_either_completed_or_rejected);
    tcase_add_test(tc, bounded_memory_stays_flat_while_unbounded_grows);
    tcase_add_test(tc, the_program_runs_clean_in_every_mode);
    tcase_add_test(tc, a_bad_option_or_an_unreachable_server_exits_with_2);
    suite_add_tcase(s, tc);

    add_program_fault_tests(s, the_program_exits_1_when_the_server_is_killed_mid_run,
                            the_program_exits_1_when_its_connections_are_killed_mid_run,
                            the_program_exits_1_when_the_server_restarts_mid_run,
                            a_server_that_wants_a_password_is_a_start_up_failure_with_exit_2);
    return s;
}

int main(void)
{
    return test_run_chapter_suite(chapter_suite());
}
