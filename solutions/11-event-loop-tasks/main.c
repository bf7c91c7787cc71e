/*
 * main.c - chapter 11: many tasks on one event loop share one Redis
 * connection (task.c, loop_client.c); or, with --mode threads, OS threads
 * send their commands into that loop through a channel (bridge.c).
 *
 *     11-event-loop-tasks [--mode tasks|threads] [--count N] [--rounds N]
 *                         [--window N] [--value-size N] [--timing] [--verbose]
 *
 * Output is deterministic; what depends on timing (time, CPU and sleeps
 * per command, memory, how long the line grew) appears only with --timing.
 * Exit status: 0 every task or thread made every round right; 1 some
 * failed, a GET returned another value, or the window was exceeded (a
 * message on stderr says which); 2 it could not start (bad option, Redis
 * unreachable).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "bridge.h"
#include "cli.h"
#include "task.h"

enum { EXIT_ALL_RIGHT = 0, EXIT_WRONG_RESULTS = 1, EXIT_CANNOT_START = 2 };
enum { MODE_TASKS, MODE_THREADS };

/* Time, client CPU and sleeps per command, memory: what --timing adds. */
static void print_timing(const struct task_report *r)
{
    double n = r->commands > 0 ? (double)r->commands : 1;
    printf("time: %.3f s, %.0f commands/s\nclient CPU: %.2f us per command; sleeps (voluntary "
           "context switches): %.3f per command\n", r->seconds, n / r->seconds,
           r->cpu_seconds * 1e6 / n, (double)r->sleeps / n);
    printf("in flight at most %zu, waiting in line at most %zu; loop woken %zu times by "
           "threads\npeak memory: %.1f MiB (peak_rss_kib=%ld)\n", r->max_in_flight,
           r->max_waiting, r->wakeups, (double)r->peak_rss_kib / 1024, r->peak_rss_kib);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a dropped connection is an error, not death */
    static const char *const modes[] = { "tasks", "threads", NULL };
    int mode = MODE_TASKS;
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
          .help = "also print time, CPU and sleeps per command, memory" },
        { .name = "verbose", .flag = &verbose, .help = "a line per task or thread as it ends" },
    };
    const struct cli_program program = {
        .name = "11-event-loop-tasks", CLI_OPTIONS(options),
        .summary = "Tasks on one event loop share one Redis connection: each SETs its own key\n"
                   "and GETs it back, round after round.  Redis: $REDIS_URL (default "
                   REDIS_DEFAULT_URL ")." };
    int status = cli_parse(&program, argc, argv, stdout, stderr);
    if (status >= 0)
        return status;
    const char *who = mode == MODE_TASKS ? "tasks" : "threads";
    struct task_options opts = { .tasks = count, .rounds = rounds, .value_size = value_size,
                                 .key_prefix = "ch11", .log = verbose ? stdout : NULL };
    struct task_report r;
    char err[1024];
    printf("%zu %s %s one event loop and one connection, at most %zu commands in flight.\n"
           "Each makes %zu rounds: SET its own key, GET it back, check the value.\n",
           count, who, mode == MODE_TASKS ? "share" : "send through", window, rounds);
    fflush(stdout); /* --verbose lines of threads follow */
    if ((mode == MODE_TASKS ? task_run(NULL, window, &opts, &r, err, sizeof err)
                            : thread_run(NULL, window, &opts, &r, err, sizeof err)) != 0) {
        fprintf(stderr, "11-event-loop-tasks: %s\n", err);
        return EXIT_CANNOT_START;
    }
    bool window_held = r.max_in_flight <= window;
    printf("%s: %zu succeeded, %zu failed\ncommands: %zu answered, %zu wrong values\n", who,
           r.succeeded, r.failed, r.commands, r.wrong_values);
    printf("the window %s: %s %zu commands in flight\n", window_held ? "held" : "WAS EXCEEDED",
           window_held ? "never more than" : "more than", window);
    if (timing)
        print_timing(&r);
    if (r.succeeded == count && r.wrong_values == 0 && window_held)
        return EXIT_ALL_RIGHT;
    fprintf(stderr, "11-event-loop-tasks: %s\n",
            r.problem[0] != '\0' ? r.problem : "the window was exceeded");
    return EXIT_WRONG_RESULTS;
}
