/*
 * main.c - runs every Check suite for common/.
 *
 * One binary, one suite per module.  Check itself narrows a run:
 * CK_RUN_SUITE=mpsc runs one suite, CK_RUN_CASE=close one test case
 * (`make test-common SUITE=mpsc CASE=close` sets them for you).
 */
#include <check.h>
#include <stdlib.h>

#include "redis_harness.h"

Suite *chan_suite(void);
Suite *cli_suite(void);
Suite *mpsc_suite(void);
Suite *oneshot_suite(void);
Suite *broadcast_suite(void);
Suite *watch_suite(void);
Suite *redis_client_suite(void);
Suite *redis_harness_suite(void);
Suite *with_redis_suite(void);
Suite *report_suite(void);
Suite *flood_suite(void);

int main(void)
{
    /* Ctrl-C during a run stops any server a test started. */
    redis_harness_stop_all_on_signal();

    SRunner *runner = srunner_create(chan_suite());
    srunner_add_suite(runner, cli_suite());
    srunner_add_suite(runner, mpsc_suite());
    srunner_add_suite(runner, oneshot_suite());
    srunner_add_suite(runner, broadcast_suite());
    srunner_add_suite(runner, watch_suite());
    srunner_add_suite(runner, redis_client_suite());
    srunner_add_suite(runner, redis_harness_suite());
    srunner_add_suite(runner, with_redis_suite());
    srunner_add_suite(runner, report_suite());
    srunner_add_suite(runner, flood_suite());

    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
