/*
 * test_cli.c - the chapter programs' number parsing.
 */
#include <check.h>
#include <limits.h>

#include "cli.h"

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
    TCase *tc = tcase_create("parse_count");
    tcase_add_test(tc, a_number_in_range_is_accepted);
    tcase_add_test(tc, anything_else_is_refused_and_leaves_the_output_alone);
    suite_add_tcase(s, tc);
    return s;
}
