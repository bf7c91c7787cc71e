/*
 * main.c - chapter 06: chapter 05's flood, drained by a pipelining
 * manager.
 *
 *     06-pipelining [--mode block|try|unbounded] [--count N] [--value-size N]
 *                   [--capacity N] [--pause-ms N] [--timing] [--verbose]
 *
 * The flood is chapter 05's (producer.c, its report common/flood.c);
 * what chapter 06 changes is the manager (manager.c), which writes each
 * batch of waiting commands in one go.  Compare `06-pipelining --pause-ms 0
 * --timing` with chapter 05's program run the same way: the same flood,
 * one round trip per batch instead of per command.
 */
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "producer.h"
#include "redis_client.h"
#include "report.h"

int main(int argc, char **argv)
{
    /* A capacity of 32, as since chapter 03. */
    size_t count = 2000, value_size = 256, capacity = 32, pause_ms = 200;
    int mode = FLOOD_BLOCK;
    bool timing = false, verbose = false;
    const struct cli_option options[] = {
        { .name = "mode", .choice = &mode, .choices = flood_mode_names,
          .help = "when the channel is full: wait for room (block), refuse the command\n"
                  "(try), or have no limit at all (unbounded)" },
        { .name = "count", .count = &count, .min = 1, .max = 10000000, .help = "SETs to send" },
        { .name = "value-size", .count = &value_size, .min = 0, .max = 16 * 1024 * 1024,
          .help = "bytes per value" },
        { .name = "capacity", .count = &capacity, .min = 1, .max = 1000000,
          .help = "the channel's capacity in the bounded modes" },
        /* Well below the manager's 10 s command timeout: a longer pause
         * would make its connection give up on a reply that is merely late. */
        { .name = "pause-ms", .count = &pause_ms, .min = 0, .max = 5000,
          .help = "pause Redis this long first, 0 for no pause" },
        { .name = "timing", .flag = &timing,
          .help = "also print what depends on timing: refusals, how long the\nqueue grew, "
                  "time, batches, peak memory (peak_rss_kib=...)" },
        { .name = "verbose", .flag = &verbose,
          .help = "log every command and every wait or refusal, to stdout" },
    };
    const struct cli_program program = {
        .name = "06-pipelining",
        .summary = "Pauses Redis, then floods it with SETs through the manager's channel; the\n"
                   "manager pipelines every batch of waiting commands.  Reports what happened.",
        .epilog = REPORT_REDIS_HELP("make run-06"), CLI_OPTIONS(options),
    };
    cli_parse_or_exit(&program, argc, argv);
    /* A write to a connection Redis has closed must fail with EPIPE, not
     * kill the process (see redis_client.h). */
    signal(SIGPIPE, SIG_IGN);

    const struct flood_options flood = {
        .url = redis_url_from_env(), .mode = (enum flood_mode)mode, .count = count,
        .value_size = value_size, .capacity = capacity, .pause_ms = (unsigned)pause_ms,
        .log = verbose ? stdout : NULL,
    };
    printf("Flooding Redis with %zu SETs of %zu bytes%s", count, value_size,
           pause_ms > 0 ? " while it is paused for " : ".\n");
    if (pause_ms > 0)
        printf("%zu ms.\n", pause_ms);
    fflush(stdout);
    struct flood_report report;
    char err[512];
    if (flood_run(&flood, &report, err, sizeof err) != 0)
        return report_error(program.name, EXIT_CANNOT_START, "%s", err);
    flood_print_report(&report, timing, stdout);
    if (argc == 1)
        printf("(Try --pause-ms 0 --timing, here and with chapter 05's program; "
               "docs/06-pipelining.md explains the difference.)\n");
    return flood_judge(program.name, &report,
                       "Is run_batch written (TODO(06) in chapters/06-pipelining/manager.c)?\n"
                       "See docs/06-pipelining.md, \"Pipelining the batch\".");
}
