/*
 * consumer.c - reading a broadcast receiver to the end (see consumer.h).
 */
#include "consumer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "message.h"

/* A published message: count it, and check that its number comes after
 * the last one's (publish order). */
static void count_message(struct consumer_report *r, const struct message *m)
{
    uint64_t number = strtoull(m->payload, NULL, 10);
    if (r->received == 0)
        r->first = number;
    else if (number <= r->last)
        r->out_of_order++;
    r->last = number;
    r->received++;
}

void consumer_run(struct broadcast_receiver *rx, struct watch_sender *progress,
                  struct consumer_report *r)
{
    *r = (struct consumer_report){ 0 };
    //> snippet consumer_run
    //> exercise 09
    for (;;) {
        struct message *m;
        uint64_t missed = 0;
        enum chan_status status = broadcast_recv(rx, &m, &missed);
        if (status == CHAN_CLOSED)
            break; /* the subscriber stopped, and nothing is left to read */
        if (status == CHAN_LAGGED) {
            //> pitfall ignore-lag
            /* Overwritten before we read them: count them, and read on
             * from the oldest value still held. */
            r->lags++;
            r->missed += missed;
            //| mistake
            //| /* (a lag is just a hiccup: read on) */
            //< pitfall ignore-lag
            continue;
        }
        if (m->kind == MESSAGE_GAP)
            r->gaps++;
        else
            count_message(r, m);
        if (progress != NULL)
            watch_send(progress, &m->seq);
        message_release(m); /* our copy is one reference: give it back */
    }
    //| starter
    //| // TODO(09): read rx until broadcast_recv(rx, &m, &missed) says
    //| // CHAN_CLOSED.  For each status:
    //| //   - CHAN_LAGGED: count the lag (r->lags++) and what it cost
    //| //     (r->missed += missed), and read on;
    //| //   - CHAN_OK: m is a `struct message *` of your own: a gap notice
    //| //     (m->kind == MESSAGE_GAP: r->gaps++) or a message
    //| //     (count_message(r, m)); then report m->seq on `progress` (if not
    //| //     NULL) with watch_send, and message_release(m).
    //| (void)rx;
    //| (void)progress;
    //| (void)count_message;
    //| fprintf(stderr, "not implemented yet: consumer_run (TODO(09) in "
    //|                 "chapters/09-pubsub-fan-out/consumer.c)\n");
    //< exercise 09
    //< snippet consumer_run
}

void *consumer_main(void *consumer)
{
    struct consumer *c = consumer;
    consumer_run(c->rx, c->progress, &c->report);
    /* Done: nobody need wait for this consumer to catch up any more. */
    uint64_t done = UINT64_MAX;
    watch_send(c->progress, &done);
    return NULL;
}

int consumer_init(struct consumer *c, struct broadcast_receiver *rx)
{
    uint64_t none = 0;
    *c = (struct consumer){ .rx = rx };
    if (rx == NULL)
        return ENOMEM;
    return watch_channel(sizeof none, &none, NULL, NULL, &c->progress, &c->progress_rx);
}

void consumer_free(struct consumer *c)
{
    broadcast_receiver_drop(c->rx);
    watch_sender_drop(c->progress);
    watch_receiver_drop(c->progress_rx);
}
