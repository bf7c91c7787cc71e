/*
 * test_cli.c - the chapter programs' command line: the option table read
 * by cli_parse, its usage text, and strict number parsing.
 */
#define _GNU_SOURCE /* open_memstream */
#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

/* ---- A small program's options, and a way to run the parser on them ---- */

static const char *const modes[] = { "block", "try", "unbounded", NULL };

struct parsed {
    size_t threads;
    int mode;
    bool timing;
    int status;
    char *out;
    char *err;
};

/* Parses the NULL-terminated words after the program name. */
static struct parsed parse(const char *first, ...)
{
    struct parsed p = { .threads = 4, .mode = 0, .timing = false };
    const struct cli_option options[] = {
        { .name = "threads", .count = &p.threads, .min = 1, .max = 1024,
          .help = "threads sharing the connection" },
        { .name = "mode", .choice = &p.mode, .choices = modes,
          .help = "what a full channel does\nwith a second line" },
        { .name = "timing", .flag = &p.timing, .help = "also print timings" },
    };
    const struct cli_program program = { .name = "demo", .summary = "Does a demo.",
                                         CLI_OPTIONS(options) };
    char *argv[16] = { "demo" };
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w != NULL && argc < 15; w = va_arg(ap, const char *))
        argv[argc++] = (char *)w;
    va_end(ap);
    argv[argc] = NULL;

    size_t out_len, err_len;
    FILE *out = open_memstream(&p.out, &out_len);
    FILE *err = open_memstream(&p.err, &err_len);
    ck_assert(out != NULL && err != NULL);
    p.status = cli_parse(&program, argc, argv, out, err);
    fclose(out);
    fclose(err);
    return p;
}

static void parsed_free(struct parsed *p)
{
    free(p->out);
    free(p->err);
}

/* ---- cli_parse ------------------------------------------------------------------ */

START_TEST(options_not_given_keep_their_defaults_and_the_program_runs)
{
    struct parsed p = parse(NULL);
    ck_assert_int_eq(p.status, -1);
    ck_assert_uint_eq(p.threads, 4);
    ck_assert_int_eq(p.mode, 0);
    ck_assert(!p.timing);
    ck_assert_str_eq(p.out, "");
    ck_assert_str_eq(p.err, "");
    parsed_free(&p);
}
END_TEST

START_TEST(each_kind_of_option_stores_its_value)
{
    struct parsed p = parse("--threads", "8", "--mode", "unbounded", "--timing", NULL);
    ck_assert_int_eq(p.status, -1);
    ck_assert_uint_eq(p.threads, 8);
    ck_assert_int_eq(p.mode, 2);
    ck_assert(p.timing);
    parsed_free(&p);

    p = parse("--threads=1024", "--mode=try", NULL);
    ck_assert_int_eq(p.status, -1);
    ck_assert_uint_eq(p.threads, 1024);
    ck_assert_int_eq(p.mode, 1);
    parsed_free(&p);
}
END_TEST

START_TEST(a_bad_number_is_an_error_that_names_the_range_and_what_was_given)
{
    const char *bad[] = { "0", "1025", "-1", "8x", "", " 8", "+8", "0x10", "1e3",
                          "99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct parsed p = parse("--threads", bad[i], NULL);
        ck_assert_msg(p.status == 2, "\"%s\" gave status %d", bad[i], p.status);
        ck_assert_uint_eq(p.threads, 4);
        char want[128];
        snprintf(want, sizeof want, "demo: --threads needs a number from 1 to 1024 (got \"%s\")\n",
                 bad[i]);
        ck_assert_str_eq(p.err, want);
        parsed_free(&p);
    }
}
END_TEST

START_TEST(a_missing_value_is_an_error)
{
    struct parsed p = parse("--threads", NULL);
    ck_assert_int_eq(p.status, 2);
    ck_assert_str_eq(p.err, "demo: --threads needs a number from 1 to 1024 (got nothing)\n");
    parsed_free(&p);

    p = parse("--mode", NULL);
    ck_assert_int_eq(p.status, 2);
    ck_assert_str_eq(p.err, "demo: --mode needs block, try or unbounded (got nothing)\n");
    parsed_free(&p);
}
END_TEST

START_TEST(a_choice_not_in_the_list_is_an_error_that_lists_the_choices)
{
    struct parsed p = parse("--mode", "fast", NULL);
    ck_assert_int_eq(p.status, 2);
    ck_assert_int_eq(p.mode, 0);
    ck_assert_str_eq(p.err, "demo: --mode needs block, try or unbounded (got \"fast\")\n");
    parsed_free(&p);
}
END_TEST

START_TEST(an_unknown_option_is_an_error_followed_by_the_usage)
{
    struct parsed p = parse("--bogus", NULL);
    ck_assert_int_eq(p.status, 2);
    const char *want = "demo: unknown option '--bogus'\nusage: demo ";
    ck_assert_msg(strncmp(p.err, want, strlen(want)) == 0, "stderr was: %s", p.err);
    ck_assert_str_eq(p.out, "");
    parsed_free(&p);

    p = parse("-t", NULL);
    ck_assert_int_eq(p.status, 2);
    ck_assert_msg(strncmp(p.err, "demo: unknown option '-t'\n", 26) == 0, "stderr was: %s", p.err);
    parsed_free(&p);
}
END_TEST

START_TEST(a_stray_argument_is_an_error_and_nothing_after_it_is_read)
{
    struct parsed p = parse("8", "--threads", "2", NULL);
    ck_assert_int_eq(p.status, 2);
    ck_assert_uint_eq(p.threads, 4);
    ck_assert_msg(strstr(p.err, "demo: unexpected argument '8'") == p.err, "stderr was: %s", p.err);
    parsed_free(&p);
}
END_TEST

START_TEST(a_flag_given_a_value_is_an_error)
{
    struct parsed p = parse("--timing=yes", NULL);
    ck_assert_int_eq(p.status, 2);
    ck_assert(!p.timing);
    ck_assert_str_eq(p.err, "demo: --timing takes no value\n");
    parsed_free(&p);
}
END_TEST

START_TEST(help_prints_the_usage_on_out_and_returns_0)
{
    const char *forms[] = { "--help", "-h" };
    for (size_t i = 0; i < 2; i++) {
        struct parsed p = parse(forms[i], "--threads", "9999", NULL);
        ck_assert_int_eq(p.status, 0);
        ck_assert_msg(strncmp(p.out, "usage: demo ", 12) == 0, "stdout was: %s", p.out);
        ck_assert_str_eq(p.err, "");
        parsed_free(&p);
    }
}
END_TEST

START_TEST(parsing_again_starts_afresh)
{
    struct parsed p = parse("--threads", "2", NULL);
    parsed_free(&p);
    p = parse("--threads", "3", NULL);
    ck_assert_int_eq(p.status, -1);
    ck_assert_uint_eq(p.threads, 3);
    parsed_free(&p);
}
END_TEST

/* ---- cli_parse_or_exit: run in a child, whose exit status says what it did ---- */

/* Runs cli_parse_or_exit on { "demo", word } in a child process and
 * returns the child's exit status: cli_parse_or_exit's own, or 42 if it
 * returned with --threads set to 3, 43 if it returned otherwise. */
static int exit_status_of_parse_or_exit(char *word)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        size_t threads = 4;
        const struct cli_option options[] = {
            { .name = "threads", .count = &threads, .min = 1, .max = 8, .help = "threads" },
        };
        const struct cli_program program = { .name = "demo", CLI_OPTIONS(options) };
        char *argv[] = { "demo", word, NULL };
        /* Quiet: the usage and the message are cli_parse's, tested above. */
        if (freopen("/dev/null", "w", stdout) == NULL || freopen("/dev/null", "w", stderr) == NULL)
            _exit(99);
        cli_parse_or_exit(&program, 2, argv);
        _exit(threads == 3 ? 42 : 43);
    }
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFEXITED(status), "the child did not exit normally");
    return WEXITSTATUS(status);
}

START_TEST(parse_or_exit_returns_when_the_program_should_run)
{
    ck_assert_int_eq(exit_status_of_parse_or_exit("--threads=3"), 42);
}
END_TEST

START_TEST(parse_or_exit_exits_0_after_help_and_2_after_a_bad_option)
{
    ck_assert_int_eq(exit_status_of_parse_or_exit("--help"), 0);
    ck_assert_int_eq(exit_status_of_parse_or_exit("--threads=9"), 2);
    ck_assert_int_eq(exit_status_of_parse_or_exit("--bogus"), 2);
}
END_TEST

/* ---- cli_print_usage ---------------------------------------------------------------- */

START_TEST(the_usage_shows_every_option_with_its_range_choices_and_default)
{
    struct parsed p = parse("--help", NULL);
    const char *want =
        "usage: demo [--threads N] [--mode block|try|unbounded] [--timing]\n"
        "Does a demo.\n"
        "  --threads N                 threads sharing the connection (1 to 1024; default 4)\n"
        "  --mode block|try|unbounded  what a full channel does\n"
        "                              with a second line (default block)\n"
        "  --timing                    also print timings\n"
        "  --help                      print this help\n";
    ck_assert_str_eq(p.out, want);
    parsed_free(&p);
}
END_TEST

START_TEST(a_long_usage_line_wraps_under_the_program_name)
{
    size_t a = 1, b = 1, c = 1, d = 1, e = 1;
    const struct cli_option options[] = {
        { .name = "connections", .count = &a, .min = 1, .max = 9 },
        { .name = "threads-per-connection", .count = &b, .min = 1, .max = 9 },
        { .name = "requests", .count = &c, .min = 1, .max = 9 },
        { .name = "keys", .count = &d, .min = 1, .max = 9 },
        { .name = "value-size", .count = &e, .min = 1, .max = 9 },
    };
    const struct cli_program program = { .name = "07-pool", CLI_OPTIONS(options) };
    char *text;
    size_t len;
    FILE *out = open_memstream(&text, &len);
    cli_print_usage(&program, out);
    fclose(out);
    const char *first_line_end = strchr(text, '\n');
    ck_assert_msg(first_line_end - text <= 80, "usage line too long: %s", text);
    /* "usage: 07-pool [" puts the first '[' in column 15; so does the next line. */
    ck_assert_msg(strncmp(first_line_end + 1, "               [", 16) == 0,
                  "the second line is not indented under the name: %s", text);
    free(text);
}
END_TEST

START_TEST(the_epilog_follows_the_options)
{
    size_t n = 2;
    const struct cli_option options[] = { { .name = "n", .count = &n, .min = 1, .max = 9 } };
    const struct cli_program program = { .name = "demo", .summary = "Does a demo.",
                                         .epilog = "Redis: see $REDIS_URL.",
                                         CLI_OPTIONS(options) };
    char *text;
    size_t len;
    FILE *out = open_memstream(&text, &len);
    cli_print_usage(&program, out);
    fclose(out);
    const char *want_end = "  --help  print this help\nRedis: see $REDIS_URL.\n";
    ck_assert_msg(len >= strlen(want_end) && strcmp(text + len - strlen(want_end), want_end) == 0,
                  "expected the usage to end with\n%sgot\n%s", want_end, text);
    free(text);
}
END_TEST

/* ---- cli_parse_count ----------------------------------------------------------------- */

START_TEST(a_number_in_range_is_accepted)
{
    long n = 0;
    ck_assert(cli_parse_count("8", 1, 64, &n));
    ck_assert_int_eq(n, 8);
    ck_assert(cli_parse_count("1", 1, 64, &n));
    ck_assert(cli_parse_count("64", 1, 64, &n));
    ck_assert_int_eq(n, 64);
    ck_assert(cli_parse_count("0", 0, 5, &n));
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(anything_else_is_refused_and_leaves_the_output_alone)
{
    const char *bad[] = { "", "8x", "x8", " 8", "0", "65", "-1", "1.5",
                          "99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long n = 42;
        ck_assert_msg(!cli_parse_count(bad[i], 1, 64, &n), "\"%s\" was accepted", bad[i]);
        ck_assert_int_eq(n, 42);
    }
    long n = 42;
    ck_assert(!cli_parse_count("-5", 0, LONG_MAX, &n));
}
END_TEST

Suite *cli_suite(void);
Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, options_not_given_keep_their_defaults_and_the_program_runs);
    tcase_add_test(tc, each_kind_of_option_stores_its_value);
    tcase_add_test(tc, a_bad_number_is_an_error_that_names_the_range_and_what_was_given);
    tcase_add_test(tc, a_missing_value_is_an_error);
    tcase_add_test(tc, a_choice_not_in_the_list_is_an_error_that_lists_the_choices);
    tcase_add_test(tc, an_unknown_option_is_an_error_followed_by_the_usage);
    tcase_add_test(tc, a_stray_argument_is_an_error_and_nothing_after_it_is_read);
    tcase_add_test(tc, a_flag_given_a_value_is_an_error);
    tcase_add_test(tc, help_prints_the_usage_on_out_and_returns_0);
    tcase_add_test(tc, parsing_again_starts_afresh);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse_or_exit");
    tcase_add_test(tc, parse_or_exit_returns_when_the_program_should_run);
    tcase_add_test(tc, parse_or_exit_exits_0_after_help_and_2_after_a_bad_option);
    suite_add_tcase(s, tc);

    tc = tcase_create("usage");
    tcase_add_test(tc, the_usage_shows_every_option_with_its_range_choices_and_default);
    tcase_add_test(tc, a_long_usage_line_wraps_under_the_program_name);
    tcase_add_test(tc, the_epilog_follows_the_options);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse_count");
    tcase_add_test(tc, a_number_in_range_is_accepted);
    tcase_add_test(tc, anything_else_is_refused_and_leaves_the_output_alone);
    suite_add_tcase(s, tc);
    return s;
}
