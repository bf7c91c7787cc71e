/*
 * main.c - chapter 08's program: a few producer threads and one consumer,
 * talking through the channel you built in mpsc.c.
 *
 *     08-build-your-own-channel [--producers N] [--messages N] [--capacity N]
 *
 * Each producer sends N numbered messages through its own clone of the
 * sender and then drops it; the consumer (the main thread) receives until
 * the channel says CHAN_CLOSED, which happens only once every sender is
 * gone.  It checks that every message arrived exactly once and in each
 * producer's order (producers.c), and prints a summary that is the same on
 * every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mpsc.h"
#include "producers.h"
#include "report.h"

/* How long the consumer waits for a message or the close before it gives
 * up.  A correct channel never comes near it; a channel whose last sender
 * forgets to close it would otherwise leave the program waiting for ever. */
#define STALL_MS 10000

int main(int argc, char **argv)
{
    size_t producers = 4, messages = 10000, capacity = 8;
    const struct cli_option options[] = {
        { .name = "producers", .count = &producers, .min = 1, .max = 64,
          .help = "producer threads" },
        { .name = "messages", .count = &messages, .min = 1, .max = 10000000,
          .help = "messages per producer" },
        { .name = "capacity", .count = &capacity, .min = 1, .max = 1000000,
          .help = "the channel's capacity" },
    };
    const struct cli_program program = {
        .name = "08-build-your-own-channel",
        .summary = "Producer threads send numbered messages through the channel of mpsc.c to one\n"
                   "consumer, which checks that each arrives exactly once and in order.",
        CLI_OPTIONS(options),
    };
    cli_parse_or_exit(&program, argc, argv);

    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    int err = mpsc_channel(capacity, sizeof(struct message), NULL, &tx, &rx);
    if (err != 0)
        return report_error(program.name, EXIT_CANNOT_START, "mpsc_channel failed: %s",
                            strerror(err));
    struct report report;
    report_init(&report, program.name, producers, sizeof(struct producer));
    report.unit = "producer";
    struct producer *prod = report.workers;
    for (size_t p = 0; p < producers; p++) {
        prod[p] = (struct producer){ .tx = mpsc_sender_clone(tx), .index = p,
                                     .messages = messages, .out = &report.slots[p] };
        if (prod[p].tx == NULL)
            exit(report_error(program.name, EXIT_CANNOT_START, "cannot clone the sender"));
    }
    report_start_threads(&report, produce);
    for (size_t p = report.started; p < producers; p++)
        mpsc_sender_drop(prod[p].tx); /* it never started: its clone is still ours */
    /* Only the producers hold senders now: when the last one finishes, the
     * channel closes and the loop below ends. */
    mpsc_sender_drop(tx);

    size_t received, wrong;
    enum chan_status st = consume(rx, prod, report.started, STALL_MS, &received, &wrong);
    if (st == CHAN_TIMEOUT) /* the producers may be stuck: exit without joining them */
        exit(report_error(program.name, EXIT_WRONG_RESULTS, "no message and no close for %d s "
                          "after %zu messages: does dropping the last sender close the channel "
                          "and wake the receiver? (docs/08-build-your-own-channel.md, \"Close "
                          "and drop\")", STALL_MS / 1000, received));
    /* Dropped before the join: a producer still blocked on a full channel
     * (a broken channel can do that) wakes with CHAN_CLOSED instead of
     * keeping the join waiting for ever. */
    mpsc_receiver_drop(rx);
    report_join_threads(&report);

    printf("%zu producers sent %zu messages each through a channel of capacity %zu.\n",
           producers, messages, capacity);
    for (size_t p = 0; p < report.started; p++) {
        report_line(prod[p].out, "sent %zu, received %zu in order", prod[p].sent,
                    prod[p].received);
        prod[p].out->wrong = prod[p].sent - prod[p].received;
    }
    report_print_lines(&report, stdout);
    int status = report_status(&report);
    if (wrong > 0)
        status = report_error(program.name, EXIT_WRONG_RESULTS, "%zu of %zu messages arrived "
                              "out of order, twice, or garbled", wrong, received);
    else if (report_first_problem(&report) != NULL)
        report_error(program.name, status, "a producer's %s (not implemented yet? "
                     "docs/08-build-your-own-channel.md, \"Waiting for room\")",
                     report_first_problem(&report));
    else if (status == EXIT_ALL_RIGHT)
        printf("the consumer received all %zu, each exactly once and in its producer's order,\n"
               "then CHAN_CLOSED: the last producer's mpsc_sender_drop closed the channel.\n",
               received);
    report_free(&report);
    return status;
}
