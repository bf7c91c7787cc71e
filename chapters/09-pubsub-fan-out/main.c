/*
 * main.c - chapter 09: one subscriber connection fans Redis Pub/Sub
 * messages out to consumer threads over a broadcast channel, and tells
 * everyone its state over a watch channel.
 *
 *     09-pubsub-fan-out [--consumers N] [--messages N] [--capacity N]
 *                       [--drop-connection] [--verbose]
 *
 * The subscriber is in subscriber.c, the consumers in consumer.c, the run
 * and its report in fanout.c (fanout.h describes it).  Output on stdout is
 * deterministic; --verbose adds the subscriber's connection events on
 * stderr as they happen.
 */
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "fanout.h"
#include "report.h"

int main(int argc, char **argv)
{
    size_t consumers = 3, messages = 40, capacity = 16;
    bool drop = false, verbose = false;
    const struct cli_option options[] = {
        { .name = "consumers", .count = &consumers, .min = 1, .max = 64,
          .help = "consumer threads that read every message as it comes" },
        { .name = "messages", .count = &messages, .min = 1, .max = 100000000,
          .help = "messages to publish" },
        { .name = "capacity", .count = &capacity, .min = 2, .max = 65536,
          .help = "values the broadcast channel holds (rounded up to a power of two)" },
        { .name = "drop-connection", .flag = &drop,
          .help = "kill the subscriber's connection half-way (CLIENT KILL)" },
        { .name = "verbose", .flag = &verbose, .help = "the subscriber's events on stderr" },
    };
    const struct cli_program program = {
        .name = "09-pubsub-fan-out",
        .summary = "One subscriber connection; its messages fan out to consumer threads.",
        .epilog = REPORT_REDIS_HELP("make run-09"), CLI_OPTIONS(options),
    };
    cli_parse_or_exit(&program, argc, argv);
    /* A write to a connection Redis has closed must fail with EPIPE, not
     * kill the process (see redis_client.h). */
    signal(SIGPIPE, SIG_IGN);

    printf("One subscriber connection, 2 channels, a broadcast channel of %zu; %zu consumer%s\n"
           "read as messages come, one more (the late one) only after the last.\n", capacity,
           consumers, report_plural(consumers, "", "s"));
    fflush(stdout);
    return fanout_run(consumers, messages, capacity, drop, verbose ? stderr : NULL);
}
