/*
 * fanout.c - the program's run (see fanout.h).
 */
#include "fanout.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "consumer.h"
#include "redis_client.h"
#include "subscriber.h"
#include "wait.h"

/* ---- Publishing in paced rounds --------------------------------------------- */

struct published {
    uint64_t count;      /* PUBLISHes Redis answered */
    uint64_t unheard;    /* of them, how many reached no subscriber */
    uint64_t dropped_at; /* drop_connection: the first message after the kill */
};

/* The subscriber received what Redis delivered to it this round, or lost
 * its connection meanwhile (then part of the round may never come). */
static bool round_received(const void *status, const void *target)
{
    const struct subscriber_status *now = status, *want = target;
    return now->received >= want->received || now->gaps != want->gaps;
}

static bool read_up_to(const void *progress, const void *seq)
{
    return *(const uint64_t *)progress >= *(const uint64_t *)seq;
}

/* Sends messages first..last as one pipeline, after CLIENT KILL ADDR `kill`
 * unless it is NULL, and reads the replies; *heard counts the PUBLISHes
 * that reached a subscriber. */
static int publish_round(struct redis_client *pub, const struct fanout_config *c,
                         uint64_t first, uint64_t last, const char *kill,
                         struct published *done, uint64_t *heard, char *err, size_t errlen)
{
    if (kill != NULL) {
        const char *argv[] = { "CLIENT", "KILL", "ADDR", kill };
        const size_t len[] = { 6, 4, 4, strlen(kill) };
        redis_client_append(pub, 4, argv, len);
    }
    for (uint64_t i = first; i <= last; i++) {
        char number[24];
        int n = snprintf(number, sizeof number, "%" PRIu64, i);
        size_t ch = (size_t)(i % c->channel_count);
        const char *argv[] = { "PUBLISH", c->channels[ch], number };
        const size_t len[] = { 7, c->channel_lens[ch], (size_t)n };
        redis_client_append(pub, 3, argv, len); /* a failure shows in the reply */
    }
    *heard = 0;
    for (uint64_t i = kill != NULL ? first - 1 : first; i <= last; i++) {
        struct redis_result reply = redis_client_read_reply(pub);
        bool ok = reply.kind == REDIS_RESULT_INTEGER && (i >= first || reply.integer == 1);
        if (!ok)
            snprintf(err, errlen, "%s failed: %s", i < first ? "CLIENT KILL" : "PUBLISH",
                     reply.data != NULL ? reply.data : "no such connection");
        else if (i >= first) {
            done->count++;
            done->unheard += reply.integer == 0;
            *heard += reply.integer > 0;
        }
        redis_result_free(&reply);
        if (!ok)
            return -1;
    }
    return 0;
}

static int publish_paced(struct redis_client *pub, const struct fanout_config *c,
                         struct watch_receiver *status, struct consumer *consumers,
                         struct published *done, char *err, size_t errlen)
{
    const uint64_t round = c->capacity / 2, rounds = (c->messages + round - 1) / round;
    for (uint64_t k = 0; k < rounds; k++) {
        uint64_t first = k * round + 1, heard;
        uint64_t last = first + round - 1 < c->messages ? first + round - 1 : c->messages;
        struct subscriber_status want, now;
        watch_borrow(status, &want);
        bool drop = c->drop_connection && k == rounds / 2;
        if (publish_round(pub, c, first, last, drop ? want.address : NULL, done, &heard, err,
                          errlen) != 0)
            return -1;
        enum chan_status st;
        if (drop) {
            done->dropped_at = first;
            unsigned again = want.subscriptions + 1;
            st = wait_for(status, subscriber_is_subscribed, &again, FANOUT_WAIT_MS, &now);
        } else {
            want.received += heard;
            st = wait_for(status, round_received, &want, FANOUT_WAIT_MS, &now);
        }
        for (size_t i = 0; st == CHAN_OK && i < c->consumers; i++) {
            uint64_t seq;
            st = wait_for(consumers[i].progress_rx, read_up_to, &now.sent, FANOUT_WAIT_MS, &seq);
            if (st != CHAN_OK)
                snprintf(now.why, sizeof now.why, "consumer %zu read up to %" PRIu64 " of %"
                         PRIu64, i + 1, seq, now.sent);
        }
        if (st != CHAN_OK) {
            snprintf(err, errlen, "messages %" PRIu64 " to %" PRIu64 " were not read within %d ms "
                     "(%s; the subscriber is %s)", first, last, FANOUT_WAIT_MS, now.why,
                     subscriber_state_name(now.state));
            return -1;
        }
    }
    return 0;
}

/* ---- Reporting ------------------------------------------------------------------ */

/* Prints "consumer N: ..." and says whether it read what it should have: a
 * consumer that kept up, every message the subscriber received and every
 * gap notice; the late one, every value sent, read or lost to lag. */
static bool print_consumer(size_t number, bool late, const struct consumer_report *r,
                           const struct subscriber_status *end)
{
    printf("consumer %zu%s: ", number, late ? " (late)" : "");
    if (r->lags == 1)
        printf("lagged once, missed %" PRIu64 ", then ", r->missed);
    else if (r->lags > 1)
        printf("lagged %u times, missed %" PRIu64 ", then ", r->lags, r->missed);
    printf("%" PRIu64 " messages (%" PRIu64 " to %" PRIu64 ")%s%s", r->received, r->first,
           r->last, r->out_of_order == 0 ? " in publish order" : ", OUT OF ORDER",
           r->missed == 0 ? ", missed none" : "");
    if (r->gaps > 0)
        printf(", %u gap notice%s", r->gaps, r->gaps == 1 ? "" : "s");
    printf("\n");
    if (late)
        return r->out_of_order == 0 && r->received + r->missed + r->gaps == end->sent;
    return r->out_of_order == 0 && r->missed == 0 && r->received == end->received &&
           r->gaps == end->gaps;
}

static void print_published(const struct fanout_config *c, const struct published *done)
{
    printf("published %" PRIu64 " messages in rounds of %zu", done->count, c->capacity / 2);
    if (done->dropped_at > 0)
        printf("; killed the subscriber's connection before message %" PRIu64, done->dropped_at);
    if (done->unheard > 0)
        printf(":\n%" PRIu64 " reached no subscriber (Redis Pub/Sub is at-most-once)",
               done->unheard);
    printf("\n");
}

/* ---- The run -------------------------------------------------------------------- */

int fanout_run(const struct fanout_config *c)
{
    struct subscriber *sub;
    struct redis_client *pub = NULL;
    char err[1024] = "out of memory";
    const struct subscriber_options options = { c->channels, c->channel_lens,
                                                c->channel_count, c->capacity, c->log };
    if (subscriber_start(&sub, NULL, &options, err, sizeof err) != 0 ||
        (pub = redis_client_connect(NULL, NULL, err, sizeof err)) == NULL) {
        fprintf(stderr, "09-pubsub-fan-out: %s\n", err);
        if (sub != NULL)
            subscriber_stop(sub, NULL);
        return 2;
    }
    /* Every consumer subscribes BEFORE anything is published: a broadcast
     * receiver sees only what is sent after it subscribed. */
    struct consumer fast[FANOUT_MAX_CONSUMERS];
    struct broadcast_receiver *late = subscriber_messages(sub);
    struct watch_receiver *status = subscriber_watch(sub);
    size_t started = 0;
    while (started < c->consumers && consumer_start(&fast[started], subscriber_messages(sub)) == 0)
        started++;
    bool ok = late != NULL && status != NULL && started == c->consumers;

    struct subscriber_status now = { .state = SUBSCRIBER_CONNECTING };
    if (ok && wait_for(status, subscriber_is_subscribed, NULL, FANOUT_WAIT_MS, &now) != CHAN_OK) {
        snprintf(err, sizeof err, "not subscribed within %d ms (it is %s%s%s)", FANOUT_WAIT_MS,
                 subscriber_state_name(now.state), now.why[0] != '\0' ? ": " : "", now.why);
        ok = false;
    }
    if (ok) {
        printf("watch: subscribed to %zu channels\n", now.channels);
        struct published done = { 0 };
        ok = publish_paced(pub, c, status, fast, &done, err, sizeof err) == 0;
        print_published(c, &done);
    }

    /* Stopping closes the broadcast channel: the consumers read what is
     * left, then end.  The late one starts reading only now. */
    subscriber_stop(sub, &now);
    struct consumer_report late_report = { 0 };
    if (late != NULL)
        consumer_run(late, NULL, &late_report);
    bool right = late != NULL;
    for (size_t i = 0; i < started; i++) {
        consumer_join(&fast[i]);
        right = print_consumer(i + 1, false, &fast[i].report, &now) && right;
    }
    right = print_consumer(c->consumers + 1, true, &late_report, &now) && right;
    printf("watch: %s after %" PRIu64 " messages, %u connection%s lost\n",
           subscriber_state_name(now.state), now.received, now.gaps, now.gaps == 1 ? "" : "s");
    if (!ok || !right)
        fprintf(stderr, "09-pubsub-fan-out: %s\n",
                !ok ? err : "a consumer did not read what it should have (see above)");
    broadcast_receiver_drop(late);
    watch_receiver_drop(status);
    redis_client_free(pub);
    return ok && right ? 0 : 1;
}
