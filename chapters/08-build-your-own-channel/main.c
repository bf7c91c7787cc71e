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
 * producer's order, and prints a summary that is the same on every run.
 * Exit status: 0 all arrived; 1 something was lost, duplicated, reordered,
 * or a send failed (stderr says which); 2 a bad option.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mpsc.h"

enum { EXIT_ALL_RIGHT = 0, EXIT_WRONG_RESULTS = 1, EXIT_CANNOT_START = 2 };

#define MAX_PRODUCERS 64
#define MAX_MESSAGES 10000000L
#define MAX_CAPACITY 1000000L
/* How long the consumer waits for a message or the close before it gives
 * up.  A correct channel never comes near it; a channel whose last sender
 * forgets to close it would otherwise leave the program waiting for ever. */
#define STALL_MS 10000

struct message {
    int producer;
    long seq;
};

struct producer {
    pthread_t thread;
    struct mpsc_sender *tx;
    int id;
    long messages;
    long sent;                  /* sends that returned CHAN_OK */
    enum chan_status failure;   /* what the first failed send returned */
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (long seq = 0; seq < p->messages; seq++) {
        struct message m = { p->id, seq };
        enum chan_status st = mpsc_send(p->tx, &m);
        if (st != CHAN_OK) {
            p->failure = st;
            break;
        }
        p->sent++;
    }
    /* The last producer to get here closes the channel. */
    mpsc_sender_drop(p->tx);
    p->tx = NULL;
    return NULL;
}

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: 08-build-your-own-channel [--producers N] [--messages N] [--capacity N]\n"
            "Producer threads send numbered messages through the channel of mpsc.c to one\n"
            "consumer, which checks that each arrives exactly once and in order.\n"
            "  --producers N  producer threads (default 4, at most %d)\n"
            "  --messages N   messages per producer (default 10000)\n"
            "  --capacity N   the channel's capacity (default 8)\n",
            MAX_PRODUCERS);
}

/* Reads one numeric option's value; false (with a message) if it is bad. */
static bool read_number(const char *opt, const char *text, long max, long *out)
{
    if (text == NULL || !cli_parse_count(text, 1, max, out)) {
        fprintf(stderr, "08-build-your-own-channel: %s needs a number from 1 to %ld\n", opt,
                max);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    long producers = 4, messages = 10000, capacity = 8;
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout);
            return EXIT_ALL_RIGHT;
        } else if (strcmp(argv[i], "--producers") == 0) {
            ok = read_number(argv[i], next, MAX_PRODUCERS, &producers);
        } else if (strcmp(argv[i], "--messages") == 0) {
            ok = read_number(argv[i], next, MAX_MESSAGES, &messages);
        } else if (strcmp(argv[i], "--capacity") == 0) {
            ok = read_number(argv[i], next, MAX_CAPACITY, &capacity);
        } else {
            fprintf(stderr, "08-build-your-own-channel: unknown option '%s'\n", argv[i]);
            print_usage(stderr);
            return EXIT_CANNOT_START;
        }
        if (!ok)
            return EXIT_CANNOT_START;
        i++;
    }

    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    int err = mpsc_channel((size_t)capacity, sizeof(struct message), NULL, &tx, &rx);
    if (err != 0) {
        fprintf(stderr, "08-build-your-own-channel: mpsc_channel failed: %s\n", strerror(err));
        return EXIT_CANNOT_START;
    }

    struct producer prod[MAX_PRODUCERS] = { 0 };
    long next_seq[MAX_PRODUCERS] = { 0 };
    for (int p = 0; p < producers; p++) {
        prod[p] = (struct producer){ .tx = mpsc_sender_clone(tx), .id = p,
                                     .messages = messages, .failure = CHAN_OK };
        if (prod[p].tx == NULL || pthread_create(&prod[p].thread, NULL, produce, &prod[p]) != 0) {
            fprintf(stderr, "08-build-your-own-channel: cannot start producer %d\n", p);
            return EXIT_CANNOT_START;
        }
    }
    /* Only the producers hold senders now: when the last one finishes, the
     * channel closes and the loop below ends. */
    mpsc_sender_drop(tx);

    long received = 0, wrong = 0;
    enum chan_status st;
    struct message m;
    while ((st = mpsc_recv_timeout(rx, &m, STALL_MS)) == CHAN_OK) {
        received++;
        /* Exactly the next number from that producer: nothing lost,
         * duplicated or reordered. */
        if (m.producer < 0 || m.producer >= producers || m.seq != next_seq[m.producer])
            wrong++;
        else
            next_seq[m.producer]++;
    }
    if (st == CHAN_TIMEOUT) {
        fprintf(stderr,
                "08-build-your-own-channel: no message and no close for %d s after %ld "
                "messages: does dropping the last sender close the channel and wake the "
                "receiver? (docs/08-build-your-own-channel.md, \"Close and drop\")\n",
                STALL_MS / 1000, received);
        return EXIT_WRONG_RESULTS; /* the producers may be stuck: do not join */
    }
    /* Dropped before the join: a producer still blocked on a full channel
     * (a broken channel can do that) wakes with CHAN_CLOSED instead of
     * keeping the join waiting for ever. */
    mpsc_receiver_drop(rx);
    for (int p = 0; p < producers; p++)
        pthread_join(prod[p].thread, NULL);

    printf("%ld producers sent %ld messages each through a channel of capacity %ld.\n",
           producers, messages, capacity);
    int status = EXIT_ALL_RIGHT;
    for (int p = 0; p < producers; p++) {
        printf("producer %d: sent %ld, received %ld in order\n", p, prod[p].sent, next_seq[p]);
        if (prod[p].failure != CHAN_OK) {
            fprintf(stderr,
                    "08-build-your-own-channel: producer %d's send number %ld returned %s "
                    "(not implemented yet? docs/08-build-your-own-channel.md, \"Waiting "
                    "for room\")\n",
                    p, prod[p].sent, chan_status_name(prod[p].failure));
            status = EXIT_WRONG_RESULTS;
        }
        if (next_seq[p] != prod[p].sent)
            status = EXIT_WRONG_RESULTS;
    }
    if (wrong > 0) {
        fprintf(stderr, "08-build-your-own-channel: %ld of %ld messages arrived out of order, "
                        "twice, or garbled\n", wrong, received);
        status = EXIT_WRONG_RESULTS;
    }
    if (status == EXIT_ALL_RIGHT)
        printf("the consumer received all %ld, each exactly once and in its producer's order,\n"
               "then CHAN_CLOSED: the last producer's mpsc_sender_drop closed the channel.\n",
               received);
    return status;
}
