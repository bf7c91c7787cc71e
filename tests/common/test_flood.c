/*
 * test_flood.c - the report of chapters 05 and 06's flood: the counts add
 * up or they do not, what a run prints with and without --timing, and the
 * exit status and message each way a run can go wrong.
 */
#define _GNU_SOURCE /* open_memstream */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flood.h"
#include "report.h"
#include "test_support.h"

/* ---- Helpers ------------------------------------------------------------------ */

/* A block flood of 2000 commands that all completed, as chapter 05's
 * program reports it. */
static struct flood_report all_completed(void)
{
    return (struct flood_report){
        .mode = FLOOD_BLOCK, .capacity = 32, .issued = 2000, .sent = 2000, .completed = 2000,
        .max_queue_len_seen = 32, .blocked_s = 0.125, .elapsed_ms = 250, .peak_rss_kib = 3072,
    };
}

/* What flood_print_report prints for `r` (free it). */
static char *printed(const struct flood_report *r, bool timing)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ck_assert(out != NULL);
    flood_print_report(r, timing, out);
    fclose(out);
    return text;
}

static struct flood_report judged;
static int judged_status;

static void judge(void *advice)
{
    judged_status = flood_judge("05-backpressure", &judged, advice);
}

/* Judges `r` with `advice`: its exit status, and what it said on stderr
 * in *said (free it). */
static int judge_of(struct flood_report r, const char *advice, char **said)
{
    judged = r;
    *said = test_stderr_of(judge, (void *)advice);
    return judged_status;
}

/* ---- Tests -------------------------------------------------------------------- */

START_TEST(the_modes_are_named_in_order_for_the_option_table)
{
    ck_assert_str_eq(flood_mode_names[FLOOD_BLOCK], "block");
    ck_assert_str_eq(flood_mode_names[FLOOD_TRY], "try");
    ck_assert_str_eq(flood_mode_names[FLOOD_UNBOUNDED], "unbounded");
    ck_assert_ptr_null(flood_mode_names[FLOOD_UNBOUNDED + 1]);
    ck_assert_str_eq(flood_mode_name(FLOOD_TRY), "try");
    ck_assert_str_eq(flood_mode_name((enum flood_mode)3), "?");
}
END_TEST

START_TEST(counts_balance_only_when_every_command_ended_one_way)
{
    struct flood_report r = all_completed();
    ck_assert(flood_report_balanced(&r));
    r = (struct flood_report){ .issued = 10, .sent = 6, .rejected = 4, .completed = 5,
                               .failed = 1 };
    ck_assert(flood_report_balanced(&r));
    r.completed = 4; /* one command lost between the channel and Redis */
    ck_assert(!flood_report_balanced(&r));
    r = (struct flood_report){ .issued = 10, .sent = 10, .rejected = 4, .completed = 6 };
    ck_assert(!flood_report_balanced(&r)); /* refused and sent at once */
    r = (struct flood_report){ .issued = 2, .sent = SIZE_MAX, .rejected = 3 };
    ck_assert(!flood_report_balanced(&r)); /* more refused than issued */
}
END_TEST

START_TEST(a_plain_report_shows_only_what_does_not_depend_on_timing)
{
    struct flood_report r = all_completed();
    char *text = printed(&r, false);
    ck_assert_str_eq(text,
                     "mode block: when the channel (capacity 32) is full, mpsc_send waits for "
                     "room,\nso the producer slows down to the pace of Redis.\n"
                     "producer: issued 2000, sent 2000, rejected 0\n"
                     "manager: completed 2000, failed 0\n"
                     "every command is accounted for: completed + failed + rejected = issued\n"
                     "the queue never held more than its capacity of 32\n");
    free(text);

    /* Try mode: how many were refused depends on timing, so it is not said. */
    r = (struct flood_report){ .mode = FLOOD_TRY, .capacity = 4, .issued = 100, .sent = 7,
                               .rejected = 93, .completed = 7, .max_queue_len_seen = 4 };
    text = printed(&r, false);
    ck_assert_str_eq(text,
                     "mode try: when the channel (capacity 4) is full, mpsc_try_send refuses "
                     "the\ncommand at once, and the producer counts it as rejected.\n"
                     "producer: issued 100; the full channel refused some of them (how many "
                     "varies from run to run: add --timing)\n"
                     "every command is accounted for: completed + failed + rejected = issued\n"
                     "the queue never held more than its capacity of 4\n");
    free(text);

    /* Unbounded: no capacity to keep, and the queue's length is timing. */
    r = (struct flood_report){ .mode = FLOOD_UNBOUNDED, .capacity = SIZE_MAX, .issued = 5,
                               .sent = 5, .completed = 5, .max_queue_len_seen = 5 };
    text = printed(&r, false);
    ck_assert_ptr_nonnull(strstr(text, "mode unbounded: every send succeeds at once"));
    ck_assert_ptr_nonnull(strstr(text, "the queue had no limit (add --timing"));
    ck_assert_ptr_null(strstr(text, "capacity"));
    free(text);
}
END_TEST

START_TEST(a_timing_report_adds_the_queue_the_time_the_batches_and_the_memory)
{
    struct flood_report r = all_completed();
    char *text = printed(&r, true);
    ck_assert_ptr_nonnull(strstr(text, "queue: at most 32 commands seen at once (capacity 32)\n"
                                       "time: 125 ms blocked in mpsc_send; the whole flood took "
                                       "0.250 s (8000 commands/s)\n"
                                       "memory: peak RSS 3.0 MiB (peak_rss_kib=3072)\n"));
    ck_assert_ptr_null(strstr(text, "batches")); /* a manager that does not pipeline */
    free(text);

    r.batches = 100;
    r.largest_batch = 32;
    text = printed(&r, true);
    ck_assert_ptr_nonnull(strstr(text, "batches: 2000 commands in 100 pipelines, 20.0 on "
                                       "average, at most 32\nmemory:"));
    free(text);

    r = (struct flood_report){ .mode = FLOOD_TRY, .capacity = 4, .issued = 100, .sent = 7,
                               .rejected = 93, .completed = 7, .max_queue_len_seen = 4 };
    text = printed(&r, true);
    ck_assert_ptr_nonnull(strstr(text, "producer: issued 100, sent 7, rejected 93\n"
                                       "manager: completed 7, failed 0\n"));
    free(text);
}
END_TEST

START_TEST(a_run_that_went_well_exits_0_and_says_nothing_not_even_the_advice)
{
    char *said;
    ck_assert_int_eq(judge_of(all_completed(), "advice", &said), EXIT_ALL_RIGHT);
    ck_assert_str_eq(said, "");
    free(said);
}
END_TEST

START_TEST(each_way_a_run_goes_wrong_exits_1_with_its_reason)
{
    char *said;
    struct flood_report r = all_completed();
    snprintf(r.problem, sizeof r.problem, "lost the connection to redis://x: reset");
    ck_assert_int_eq(judge_of(r, NULL, &said), EXIT_WRONG_RESULTS);
    ck_assert_str_eq(said, "05-backpressure: lost the connection to redis://x: reset\n");
    free(said);

    r = all_completed();
    r.completed = 1999;
    ck_assert_int_eq(judge_of(r, NULL, &said), EXIT_WRONG_RESULTS);
    ck_assert_ptr_nonnull(strstr(said, "the counts do not add up: completed 1999 + failed 0"));
    free(said);

    r = all_completed();
    r.completed = 1990;
    r.failed = 10;
    ck_assert_int_eq(judge_of(r, NULL, &said), EXIT_WRONG_RESULTS);
    ck_assert_str_eq(said, "05-backpressure: 10 of 2000 commands failed (--verbose shows "
                           "Redis's answers)\n");
    free(said);

    r = all_completed();
    r.max_queue_len_seen = 33;
    ck_assert_int_eq(judge_of(r, NULL, &said), EXIT_WRONG_RESULTS);
    ck_assert_str_eq(said, "05-backpressure: the queue held 33 commands, more than its "
                           "capacity of 32\n");
    free(said);

    r.mode = FLOOD_UNBOUNDED; /* no capacity to exceed */
    r.capacity = SIZE_MAX;
    ck_assert_int_eq(judge_of(r, NULL, &said), EXIT_ALL_RIGHT);
    free(said);
}
END_TEST

START_TEST(the_advice_follows_only_when_every_command_failed)
{
    char *said;
    struct flood_report r = all_completed();
    r.completed = 0;
    r.failed = 2000;
    ck_assert_int_eq(judge_of(r, "Is run_batch written?", &said), EXIT_WRONG_RESULTS);
    ck_assert_str_eq(said, "05-backpressure: 2000 of 2000 commands failed (--verbose shows "
                           "Redis's answers)\nIs run_batch written?\n");
    free(said);
    r.completed = 1;
    r.failed = 1999; /* one went through: the step is there, something else failed */
    ck_assert_int_eq(judge_of(r, "Is run_batch written?", &said), EXIT_WRONG_RESULTS);
    ck_assert_ptr_null(strstr(said, "run_batch"));
    free(said);
}
END_TEST

Suite *flood_suite(void);
Suite *flood_suite(void)
{
    Suite *s = suite_create("flood");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, the_modes_are_named_in_order_for_the_option_table);
    tcase_add_test(tc, counts_balance_only_when_every_command_ended_one_way);
    tcase_add_test(tc, a_plain_report_shows_only_what_does_not_depend_on_timing);
    tcase_add_test(tc, a_timing_report_adds_the_queue_the_time_the_batches_and_the_memory);
    tcase_add_test(tc, a_run_that_went_well_exits_0_and_says_nothing_not_even_the_advice);
    tcase_add_test(tc, each_way_a_run_goes_wrong_exits_1_with_its_reason);
    tcase_add_test(tc, the_advice_follows_only_when_every_command_failed);
    suite_add_tcase(s, tc);
    return s;
}
