/*
 * main.c - chapter 09: one subscriber connection fans Redis Pub/Sub
 * messages out to consumer threads over a broadcast channel, and tells
 * everyone its state over a watch channel.  fanout.h describes the run.
 *
 * Output on stdout is deterministic; --verbose adds the subscriber's
 * connection events on stderr as they happen.  Exit status: 0 every
 * consumer read what it should; 1 something was lost, out of order or
 * failed (stderr says what); 2 it could not start.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "fanout.h"

int main(int argc, char **argv)
{
    size_t consumers = 3, messages = 40, capacity = 16;
    bool drop = false, verbose = false;
    const struct cli_option options[] = {
        { .name = "consumers", .count = &consumers, .min = 1, .max = FANOUT_MAX_CONSUMERS,
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
        .name = "09-pubsub-fan-out", CLI_OPTIONS(options),
        .summary = "One subscriber connection; its messages fan out to consumer threads." };
    int parsed = cli_parse(&program, argc, argv, stdout, stderr);
    if (parsed >= 0)
        return parsed;
    signal(SIGPIPE, SIG_IGN); /* see redis_client.h */

    /* Channel names of this run's own: several runs may share a server. */
    char names[2][64];
    const char *channels[2] = { names[0], names[1] };
    size_t lens[2];
    for (int i = 0; i < 2; i++)
        lens[i] = (size_t)snprintf(names[i], sizeof names[i], "ch09:%ld:%s", (long)getpid(),
                                   i == 0 ? "news" : "alerts");
    printf("One subscriber connection, 2 channels, a broadcast channel of %zu; %zu consumers\n"
           "read as messages come, one more (the late one) only after the last.\n",
           capacity, consumers);
    const struct fanout_config config = { channels, lens, 2, consumers, messages, capacity,
                                          drop, verbose ? stderr : NULL };
    return fanout_run(&config);
}
