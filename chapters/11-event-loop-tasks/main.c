/*
 * main.c - chapter 11: many tasks on one event loop share one Redis
 * connection (task.c, loop_client.c); or, with --mode threads, OS threads
 * send their commands into that loop through a channel (bridge.c).
 *
 *     11-event-loop-tasks [--mode tasks|threads] [--count N] [--rounds N]
 *                         [--window N] [--value-size N] [--timing] [--verbose]
 *
 * Output is deterministic; what depends on timing (time and sleeps per
 * command, memory, how long the line grew) appears only with --timing.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>

#include "bridge.h"
#include "cli.h"
#include "report.h"
#include "task.h"

int main(int argc, char **argv)
{
    static const char *const modes[] = { "tasks", "threads", NULL };
    int mode = 0;
    size_t count = 1000, rounds = 10, window = 64, value_size = 32;
    bool timing = false, verbose = false;
    const struct cli_option options[] = {
        { .name = "mode", .choice = &mode, .choices = modes,
          .help = "tasks on the loop, or OS threads sending into it" },
        { .name = "count", .count = &count, .min = 1, .max = 100000,
          .help = "how many tasks (threads: at most 1024)" },
        { .name = "rounds", .count = &rounds, .min = 1, .max = 10000000,
          .help = "SET + GET rounds each one makes" },
        { .name = "window", .count = &window, .min = 1, .max = 1000000,
          .help = "the most commands in flight on the connection" },
        { .name = "value-size", .count = &value_size, .min = TASK_MIN_VALUE_SIZE,
          .max = 1 << 20, .help = "bytes per value" },
        { .name = "timing", .flag = &timing,
          .help = "also print time and sleeps per command, memory" },
        { .name = "verbose", .flag = &verbose, .help = "a line per task or thread as it ends" },
    };
    const struct cli_program program = {
        .name = "11-event-loop-tasks", CLI_OPTIONS(options),
        .summary = "Tasks on one event loop share one Redis connection: each SETs its own key\n"
                   "and GETs it back, round after round.",
        .epilog = REPORT_REDIS_HELP("make run-11") };
    cli_parse_or_exit(&program, argc, argv);
    signal(SIGPIPE, SIG_IGN); /* a dropped connection is an error, not death */

    const struct task_options opts = { count, rounds, value_size, "ch11", verbose ? stdout : NULL };
    printf("%zu %s %s one event loop and one connection, at most %zu commands in flight.\n"
           "Each makes %zu rounds: SET its own key, GET it back, check the value.\n", count,
           modes[mode], mode == 0 ? "share" : "send through", window, rounds);
    fflush(stdout); /* --verbose lines of threads follow */
    struct report report; /* one slot: the run's counts, whoever makes them */
    report_init(&report, program.name, 1, 0);
    struct loop_client tasks_client;
    struct bridge b = { .wakeups = 0 };
    const struct loop_client *lc = mode == 0 ? &tasks_client : &b.client;
    struct rusage before, after; /* sleeps: voluntary context switches, all threads */
    getrusage(RUSAGE_SELF, &before);
    char err[1024];
    if ((mode == 0 ? task_run(&tasks_client, NULL, window, &opts, report.slots, err, sizeof err)
                   : thread_run(&b, NULL, window, &opts, report.slots, err, sizeof err)) != 0) {
        report_free(&report);
        return report_error(program.name, EXIT_CANNOT_START, "%s", err);
    }
    report_stop_clock(&report);
    getrusage(RUSAGE_SELF, &after);
    const struct report_slot *r = report.slots;
    bool held = lc->max_in_flight <= window;
    printf("%s: %zu succeeded, %zu failed\ncommands: %zu answered, %zu wrong values\n"
           "the window %s: %s %zu commands in flight\n", modes[mode], r->done, count - r->done,
           lc->answered, r->wrong, held ? "held" : "WAS EXCEEDED",
           held ? "never more than" : "more than", window);
    if (timing) {
        report_print_timing(&report, stdout, lc->answered, "commands");
        printf("sleeps (voluntary context switches): %.3f per command\nin flight at most %zu, "
               "waiting in line at most %zu; loop woken %zu times by threads\npeak memory: "
               "%.1f MiB (peak_rss_kib=%ld)\n", (double)(after.ru_nvcsw - before.ru_nvcsw) /
               (double)(lc->answered > 0 ? lc->answered : 1), lc->max_in_flight,
               lc->max_waiting, b.wakeups, (double)report_peak_rss_kib() / 1024,
               report_peak_rss_kib());
    }
    int status = r->done == count && r->wrong + r->errors == 0 && held ? EXIT_ALL_RIGHT
                                                                      : EXIT_WRONG_RESULTS;
    if (status != EXIT_ALL_RIGHT)
        report_error(program.name, status, "%s",
                     r->problem[0] != '\0' ? r->problem : "the window was exceeded");
    report_free(&report);
    return status;
}
