/*
 * test_report.c - what every chapter program prints around its step:
 * per-thread slots printed in thread order, totals and the exit status
 * they mean, the timing line, messages, and server text made safe to show.
 */
#define _GNU_SOURCE /* open_memstream */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "test_support.h"

/* ---- Helpers ----------------------------------------------------------------- */

struct captured {
    char *text;
    size_t len;
    FILE *stream;
};

static void capture_start(struct captured *c)
{
    c->stream = open_memstream(&c->text, &c->len);
    ck_assert(c->stream != NULL);
}

static const char *capture_end(struct captured *c)
{
    fclose(c->stream);
    return c->text;
}

/* ---- Slots and threads --------------------------------------------------------- */

enum { THREADS = 6 };

/* Each worker finishes only after the next-numbered one has, so the
 * threads end in reverse order: the report must still print them 1..N. */
struct ordered_worker {
    size_t index;
    struct report_slot *out;
    atomic_int *finished_up_to; /* the lowest index that has finished */
};

static void *finish_in_reverse(void *arg)
{
    struct ordered_worker *w = arg;
    while ((size_t)atomic_load(w->finished_up_to) != w->index + 1)
        test_sleep_ms(1);
    w->out->done = w->index * 10;
    report_line(w->out, "worker with index %zu", w->index);
    atomic_store(w->finished_up_to, (int)w->index);
    return NULL;
}

START_TEST(lines_print_in_thread_order_whatever_order_the_threads_end_in)
{
    struct report r;
    report_init(&r, "demo", THREADS, sizeof(struct ordered_worker));
    atomic_int finished_up_to = THREADS;
    struct ordered_worker *workers = r.workers;
    for (size_t i = 0; i < THREADS; i++)
        workers[i] = (struct ordered_worker){ i, &r.slots[i], &finished_up_to };
    ck_assert_uint_eq(report_start_threads(&r, finish_in_reverse), THREADS);
    report_join_threads(&r);
    ck_assert_int_eq(atomic_load(&finished_up_to), 0);

    struct captured c;
    capture_start(&c);
    report_print_lines(&r, c.stream);
    ck_assert_str_eq(capture_end(&c), "thread 1: worker with index 0\n"
                                      "thread 2: worker with index 1\n"
                                      "thread 3: worker with index 2\n"
                                      "thread 4: worker with index 3\n"
                                      "thread 5: worker with index 4\n"
                                      "thread 6: worker with index 5\n");
    free(c.text);
    ck_assert_uint_eq(report_totals(&r).done, 10 * (0 + 1 + 2 + 3 + 4 + 5));
    report_free(&r);
}
END_TEST

START_TEST(a_new_report_has_empty_slots_and_counts_threads)
{
    struct report r;
    report_init(&r, "demo", 3, 0);
    ck_assert_ptr_null(r.workers); /* none asked for */
    ck_assert_str_eq(r.program, "demo");
    ck_assert_str_eq(r.unit, "thread");
    ck_assert_uint_eq(r.count, 3);
    ck_assert_uint_eq(r.started, 0);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(r.slots[i].done + r.slots[i].wrong + r.slots[i].errors, 0);
        ck_assert(!r.slots[i].stopped);
        ck_assert_str_eq(r.slots[i].line, "");
        ck_assert_str_eq(r.slots[i].problem, "");
    }
    report_free(&r);
    report_free(&r); /* twice is harmless */
}
END_TEST

START_TEST(empty_lines_are_skipped_and_the_unit_names_the_lines)
{
    struct report r;
    report_init(&r, "demo", 3, 0);
    r.unit = "producer";
    r.started = 3;
    report_line(&r.slots[0], "first");
    report_line(&r.slots[2], "third, %d", 3);
    struct captured c;
    capture_start(&c);
    report_print_lines(&r, c.stream);
    ck_assert_str_eq(capture_end(&c), "producer 1: first\nproducer 3: third, 3\n");
    free(c.text);
    report_free(&r);
}
END_TEST

START_TEST(a_line_is_replaced_and_cut_to_its_slot)
{
    struct report_slot slot = { 0 };
    report_line(&slot, "old");
    report_line(&slot, "new");
    ck_assert_str_eq(slot.line, "new");
    char big[3 * REPORT_LINE_SIZE];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    report_line(&slot, "%s", big);
    ck_assert_uint_eq(strlen(slot.line), REPORT_LINE_SIZE - 1);
}
END_TEST

START_TEST(only_the_first_problem_is_kept)
{
    struct report_slot slot = { 0 };
    report_problem(&slot, "first: %d", 1);
    report_problem(&slot, "second");
    ck_assert_str_eq(slot.problem, "first: 1");
}
END_TEST

struct sleeper {
    unsigned ms;
    struct report_slot *out;
};

static void *sleep_then_count(void *arg)
{
    struct sleeper *s = arg;
    test_sleep_ms(s->ms);
    s->out->done = s->ms;
    return NULL;
}

START_TEST(each_thread_gets_its_own_worker_and_the_clock_covers_the_run)
{
    struct report r;
    report_init(&r, "demo", 3, sizeof(struct sleeper));
    struct sleeper *workers = r.workers;
    const unsigned ms[3] = { 60, 20, 40 };
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(workers[i].ms, 0); /* zeroed */
        workers[i] = (struct sleeper){ ms[i], &r.slots[i] };
    }
    ck_assert_uint_eq(report_start_threads(&r, sleep_then_count), 3);
    ck_assert_uint_eq(r.started, 3);
    report_join_threads(&r);
    ck_assert_uint_eq(r.slots[0].done, 60);
    ck_assert_uint_eq(r.slots[1].done, 20);
    ck_assert_uint_eq(r.slots[2].done, 40);
    /* The run lasts at least as long as its longest thread slept. */
    ck_assert_msg(r.seconds >= 0.060, "the clock says %.3f s for a run of at least 0.060 s",
                  r.seconds);
    double at_join = r.seconds;
    test_sleep_ms(30);
    report_stop_clock(&r);
    ck_assert_msg(r.seconds >= at_join + 0.030,
                  "stopping the clock again should count the 30 ms after the join: "
                  "%.3f s, then %.3f s", at_join, r.seconds);
    report_free(&r);
}
END_TEST

/* ---- Totals and status --------------------------------------------------------- */

START_TEST(totals_sum_the_threads_that_started)
{
    struct report r;
    report_init(&r, "demo", 4, 0);
    r.started = 3;
    r.slots[0] = (struct report_slot){ .done = 5, .wrong = 1 };
    r.slots[1] = (struct report_slot){ .done = 7, .errors = 2, .stopped = true };
    r.slots[2] = (struct report_slot){ .done = 1 };
    r.slots[3] = (struct report_slot){ .done = 100, .errors = 100, .stopped = true };
    struct report_totals t = report_totals(&r);
    ck_assert_uint_eq(t.done, 13);
    ck_assert_uint_eq(t.wrong, 1);
    ck_assert_uint_eq(t.errors, 2);
    ck_assert_uint_eq(t.stopped, 1);
    report_free(&r);
}
END_TEST

START_TEST(the_status_says_whether_all_went_well_went_wrong_or_could_not_start)
{
    struct report r;
    report_init(&r, "demo", 2, 0);
    r.started = 2;
    ck_assert_int_eq(report_status(&r), EXIT_ALL_RIGHT);
    r.slots[1].wrong = 1;
    ck_assert_int_eq(report_status(&r), EXIT_WRONG_RESULTS);
    r.slots[1] = (struct report_slot){ .errors = 1 };
    ck_assert_int_eq(report_status(&r), EXIT_WRONG_RESULTS);
    r.slots[1] = (struct report_slot){ .stopped = true };
    ck_assert_int_eq(report_status(&r), EXIT_WRONG_RESULTS);
    r.slots[1] = (struct report_slot){ 0 };
    r.started = 1; /* the second thread could not be started */
    ck_assert_int_eq(report_status(&r), EXIT_CANNOT_START);
    ck_assert_int_eq(EXIT_ALL_RIGHT, 0);
    ck_assert_int_eq(EXIT_WRONG_RESULTS, 1);
    ck_assert_int_eq(EXIT_CANNOT_START, 2);
    report_free(&r);
}
END_TEST

START_TEST(the_totals_line_counts_rounds_wrong_replies_and_stopped_threads)
{
    struct report r;
    report_init(&r, "demo", 3, 0);
    r.started = 3;
    r.slots[0] = (struct report_slot){ .done = 10, .wrong = 1 };
    r.slots[1] = (struct report_slot){ .done = 4, .errors = 1, .stopped = true };
    struct captured c;
    capture_start(&c);
    report_print_totals(&r, c.stream, "rounds");
    r.slots[2] = (struct report_slot){ .wrong = 1, .errors = 1, .stopped = true };
    report_print_totals(&r, c.stream, "rounds");
    ck_assert_str_eq(capture_end(&c),
                     "all threads: 14 rounds, 1 wrong reply, 1 thread stopped by an error\n"
                     "all threads: 14 rounds, 2 wrong replies, 2 threads stopped by an error\n");
    free(c.text);
    report_free(&r);
}
END_TEST

START_TEST(the_first_problem_is_the_lowest_numbered_threads)
{
    struct report r;
    report_init(&r, "demo", 3, 0);
    r.started = 3;
    ck_assert_ptr_null(report_first_problem(&r));
    report_problem(&r.slots[2], "third's");
    report_problem(&r.slots[1], "second's");
    ck_assert_str_eq(report_first_problem(&r), "second's");
    report_free(&r);
}
END_TEST

/* ---- Timing, messages ------------------------------------------------------------- */

START_TEST(the_timing_line_gives_time_count_and_rate)
{
    struct report r;
    report_init(&r, "demo", 1, 0);
    r.seconds = 0.25;
    struct captured c;
    capture_start(&c);
    report_print_timing(&r, c.stream, 4000, "round trips");
    ck_assert_str_eq(capture_end(&c), "time: 0.250 s for 4000 round trips (16000 round trips/s)\n");
    free(c.text);
    r.seconds = 0;
    capture_start(&c);
    report_print_timing(&r, c.stream, 5, "commands");
    ck_assert_str_eq(capture_end(&c), "time: 0.000 s for 5 commands (0 commands/s)\n");
    free(c.text);
    report_free(&r);
}
END_TEST

static int error_status;

static void say_error(void *arg)
{
    (void)arg;
    error_status = report_error("02-mutex", EXIT_CANNOT_START, "cannot connect: %s", "refused");
}

START_TEST(an_error_is_one_line_on_stderr_and_returns_its_status)
{
    char *text = test_stderr_of(say_error, NULL);
    ck_assert_str_eq(text, "02-mutex: cannot connect: refused\n");
    ck_assert_int_eq(error_status, EXIT_CANNOT_START);
    free(text);
}
END_TEST

static void explain_two_ways(void *arg)
{
    struct report *r = arg;
    report_explain(r, NULL);
    report_explain(r, "Reread \"The fix\".");
}

START_TEST(a_failed_run_is_explained_with_its_counts_and_the_advice)
{
    struct report r;
    report_init(&r, "02-mutex", 2, 0);
    r.started = 2;
    r.slots[0] = (struct report_slot){ .wrong = 3 };
    r.slots[1] = (struct report_slot){ .errors = 1, .stopped = true };
    char *text = test_stderr_of(explain_two_ways, &r);
    ck_assert_str_eq(text, "02-mutex: 3 wrong replies, 1 thread stopped by an error (see the "
                           "report above).\n"
                           "02-mutex: 3 wrong replies, 1 thread stopped by an error (see the "
                           "report above).\nReread \"The fix\".\n");
    free(text);
    report_free(&r);
}
END_TEST

START_TEST(plural_picks_the_word_for_the_count)
{
    ck_assert_str_eq(report_plural(0, "thread", "threads"), "threads");
    ck_assert_str_eq(report_plural(1, "thread", "threads"), "thread");
    ck_assert_str_eq(report_plural(2, "reply", "replies"), "replies");
}
END_TEST

START_TEST(the_clock_only_moves_forward)
{
    double a = report_seconds_now();
    test_sleep_ms(20);
    double b = report_seconds_now();
    ck_assert_msg(b - a >= 0.020, "20 ms of sleep measured as %.4f s", b - a);
}
END_TEST

START_TEST(peak_memory_grows_when_memory_is_touched)
{
    long before = report_peak_rss_kib();
    ck_assert_msg(before > 0, "peak RSS %ld KiB", before);
    size_t size = 64u << 20;
    /* volatile: the writes must happen, so that the pages become
     * resident (a compiler may drop a memset of memory freed unread). */
    volatile char *block = malloc(size);
    ck_assert(block != NULL);
    for (size_t i = 0; i < size; i += 1024)
        block[i] = 1;
    long after = report_peak_rss_kib();
    /* The peak rises by most of the 64 MiB (some of it may have been
     * reached before, by memory freed since). */
    ck_assert_msg(after >= before + 32 * 1024 || after >= 64 * 1024,
                  "peak RSS went from %ld to %ld KiB after touching 64 MiB", before, after);
    free((void *)block);
}
END_TEST

/* ---- Server text ------------------------------------------------------------------- */

START_TEST(each_kind_of_result_is_described_with_its_text_quoted)
{
    char out[REPORT_RESULT_SIZE];
    struct redis_result ok = { .kind = REDIS_RESULT_OK, .data = "OK", .len = 2 };
    struct redis_result nil = { .kind = REDIS_RESULT_NIL };
    struct redis_result number = { .kind = REDIS_RESULT_INTEGER, .integer = -3 };
    struct redis_result value = { .kind = REDIS_RESULT_VALUE, .data = "a\0b", .len = 3 };
    ck_assert_str_eq(report_describe_result(&ok, out, sizeof out), "ok \"OK\"");
    ck_assert_str_eq(report_describe_result(&nil, out, sizeof out), "nil");
    ck_assert_str_eq(report_describe_result(&number, out, sizeof out), "integer -3");
    ck_assert_str_eq(report_describe_result(&value, out, sizeof out), "value \"a\\x00b\"");
}
END_TEST

START_TEST(terminal_escapes_from_the_server_are_shown_not_obeyed)
{
    /* A hostile server's error: clear the screen, then red text. */
    char text[] = "ERR \x1b[2J\x1b[31mred\r\n";
    struct redis_result error = { .kind = REDIS_RESULT_ERROR, .data = text, .len = strlen(text) };
    char out[REPORT_RESULT_SIZE];
    report_describe_result(&error, out, sizeof out);
    ck_assert_str_eq(out, "error \"ERR \\x1b[2J\\x1b[31mred\\x0d\\x0a\"");
    for (const char *p = out; *p != '\0'; p++)
        ck_assert_msg(*p >= 0x20 && *p < 0x7f, "byte 0x%02x reached the text", (unsigned char)*p);
}
END_TEST

START_TEST(a_log_line_quotes_the_key_and_the_result)
{
    struct redis_result r = { .kind = REDIS_RESULT_VALUE, .data = "v\n", .len = 2 };
    struct captured c;
    capture_start(&c);
    report_log_result(c.stream, "manager 2", "GET", "k\x1b", 2, &r);
    ck_assert_str_eq(capture_end(&c), "manager 2: GET \"k\\x1b\" -> value \"v\\x0a\"\n");
    free(c.text);
    report_log_result(NULL, "manager", "GET", "k", 1, &r); /* no log: nothing happens */
}
END_TEST

struct logger {
    FILE *log;
    int id;
};

static void *log_many(void *arg)
{
    struct logger *l = arg;
    struct redis_result r = { .kind = REDIS_RESULT_OK, .data = "OK", .len = 2 };
    char key[32];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(key, sizeof key, "key-%d-%d", l->id, i);
        report_log_result(l->log, "manager", "SET", key, (size_t)n, &r);
        report_log(l->log, "manager %d: event %d", l->id, i);
    }
    return NULL;
}

START_TEST(log_lines_of_many_threads_never_mix)
{
    /* A real file, not a memstream: a memstream grows its buffer with
     * realloc inside glibc, under a lock ThreadSanitizer cannot see. */
    FILE *log = tmpfile();
    ck_assert(log != NULL);
    pthread_t threads[4];
    struct logger loggers[4];
    for (int t = 0; t < 4; t++) {
        loggers[t] = (struct logger){ log, t };
        ck_assert_int_eq(pthread_create(&threads[t], NULL, log_many, &loggers[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(threads[t], NULL);
    rewind(log);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, log) != NULL) {
        int t, i, used = 0;
        int matched = sscanf(line, "manager: SET \"key-%d-%d\" -> ok \"OK\"\n%n", &t, &i, &used);
        if (matched != 2) /* report_log's line */
            matched = sscanf(line, "manager %d: event %d\n%n", &t, &i, &used);
        ck_assert_msg(matched == 2 && line[used] == '\0' && line[used - 1] == '\n',
                      "a mixed line: %s", line);
        lines++;
    }
    fclose(log);
    ck_assert_int_eq(lines, 4 * 300 * 2);
}
END_TEST

START_TEST(an_event_line_is_written_whole_and_flushed_at_once)
{
    /* A fully buffered stream: the line must reach the file without a
     * later fflush, or a log read while the program runs would lag. */
    FILE *log = tmpfile();
    ck_assert(log != NULL);
    static char buffer[4096];
    ck_assert_int_eq(setvbuf(log, buffer, _IOFBF, sizeof buffer), 0);
    report_log(log, "manager %u: reconnected after %u attempt%s", 2u, 3u, "s");
    char seen[128] = "";
    ssize_t got = pread(fileno(log), seen, sizeof seen - 1, 0);
    ck_assert_msg(got >= 0, "pread failed");
    seen[got] = '\0';
    ck_assert_str_eq(seen, "manager 2: reconnected after 3 attempts\n");
    fclose(log);
    report_log(NULL, "nothing %d", 1); /* no log: nothing happens */
}
END_TEST

Suite *report_suite(void);
Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("slots");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, lines_print_in_thread_order_whatever_order_the_threads_end_in);
    tcase_add_test(tc, a_new_report_has_empty_slots_and_counts_threads);
    tcase_add_test(tc, empty_lines_are_skipped_and_the_unit_names_the_lines);
    tcase_add_test(tc, a_line_is_replaced_and_cut_to_its_slot);
    tcase_add_test(tc, only_the_first_problem_is_kept);
    tcase_add_test(tc, each_thread_gets_its_own_worker_and_the_clock_covers_the_run);
    suite_add_tcase(s, tc);

    tc = tcase_create("totals");
    tcase_add_test(tc, totals_sum_the_threads_that_started);
    tcase_add_test(tc, the_status_says_whether_all_went_well_went_wrong_or_could_not_start);
    tcase_add_test(tc, the_totals_line_counts_rounds_wrong_replies_and_stopped_threads);
    tcase_add_test(tc, the_first_problem_is_the_lowest_numbered_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, the_timing_line_gives_time_count_and_rate);
    tcase_add_test(tc, an_error_is_one_line_on_stderr_and_returns_its_status);
    tcase_add_test(tc, a_failed_run_is_explained_with_its_counts_and_the_advice);
    tcase_add_test(tc, plural_picks_the_word_for_the_count);
    tcase_add_test(tc, the_clock_only_moves_forward);
    tcase_add_test(tc, peak_memory_grows_when_memory_is_touched);
    tcase_add_test(tc, each_kind_of_result_is_described_with_its_text_quoted);
    tcase_add_test(tc, terminal_escapes_from_the_server_are_shown_not_obeyed);
    tcase_add_test(tc, a_log_line_quotes_the_key_and_the_result);
    tcase_add_test(tc, log_lines_of_many_threads_never_mix);
    tcase_add_test(tc, an_event_line_is_written_whole_and_flushed_at_once);
    suite_add_tcase(s, tc);
    return s;
}
