/*
 * producers.h - chapter 08's program around your channel: producer threads
 * that send numbered messages, and the consumer that checks them.
 *
 * Each producer sends its messages 0, 1, 2, ... through its own clone of
 * the sender, then drops the clone.  The consumer receives until
 * CHAN_CLOSED - which comes only once every sender is gone - and checks
 * that each message is exactly the next one of its producer: nothing lost,
 * duplicated or reordered.
 */
#ifndef PRODUCERS_H
#define PRODUCERS_H

#include <stddef.h>

#include "mpsc.h"
#include "report.h"

struct message {
    size_t producer; /* its index: 0, 1, ... */
    size_t seq;
};

struct producer {
    struct mpsc_sender *tx;   /* its own clone: the thread drops it when done */
    size_t index, messages;
    size_t sent;              /* sends that returned CHAN_OK: the producer's */
    size_t received;          /* of them, received in order: the consumer's */
    struct report_slot *out;  /* a failed send is its problem */
};

/* The thread body: sends p->messages messages, then drops p->tx. */
void *produce(void *producer);

/* Receives until the channel says CHAN_CLOSED, counting in order into
 * producers[i].received.  Returns CHAN_CLOSED, or CHAN_TIMEOUT when
 * neither a message nor the close came for stall_ms (a channel that never
 * closes).  *received is every message, *wrong those out of order, twice
 * or garbled. */
enum chan_status consume(struct mpsc_receiver *rx, struct producer *producers, size_t count,
                         unsigned stall_ms, size_t *received, size_t *wrong);

#endif
