/*
 * producers.c - see producers.h.
 */
#include "producers.h"

void *produce(void *arg)
{
    struct producer *p = arg;
    for (size_t seq = 0; seq < p->messages; seq++) {
        struct message m = { p->index, seq };
        enum chan_status st = mpsc_send(p->tx, &m);
        if (st != CHAN_OK) {
            report_problem(p->out, "send number %zu returned %s", p->sent, chan_status_name(st));
            p->out->stopped = true;
            break;
        }
        p->sent++;
    }
    /* The last producer to get here closes the channel. */
    mpsc_sender_drop(p->tx);
    p->tx = NULL;
    return NULL;
}

enum chan_status consume(struct mpsc_receiver *rx, struct producer *producers, size_t count,
                         unsigned stall_ms, size_t *received, size_t *wrong)
{
    enum chan_status st;
    struct message m;
    *received = *wrong = 0;
    while ((st = mpsc_recv_timeout(rx, &m, stall_ms)) == CHAN_OK) {
        ++*received;
        /* Exactly the next number from that producer: nothing lost,
         * duplicated or reordered. */
        if (m.producer >= count || m.seq != producers[m.producer].received)
            ++*wrong;
        else
            producers[m.producer].received++;
    }
    return st;
}
