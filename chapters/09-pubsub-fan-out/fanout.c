/*
 * fanout.c - the program's run (see fanout.h).
 */
#include "fanout.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consumer.h"
#include "redis_client.h"
#include "report.h"
#include "subscriber.h"
#include "wait.h"

#define PROGRAM "09-pubsub-fan-out"

/* ---- Publishing, one message at a time ------------------------------------------ */

/* For wait_for: the subscriber has received `received` messages, and is
 * subscribed, at least `subscriptions` times; or it lost a connection we
 * did not cut (more than `gaps`): a message Redis had accepted may have
 * gone with it, unsent, and no wait would bring it back. */
static bool caught_up(const void *status, const void *target)
{
    const struct subscriber_status *now = status, *want = target;
    return (now->received >= want->received &&
            subscriber_is_subscribed(now, &want->subscriptions)) ||
           now->gaps > want->gaps;
}

/* For wait_for: a consumer has read up to value `seq`. */
static bool read_up_to(const void *progress, const void *seq)
{
    return *(const uint64_t *)progress >= *(const uint64_t *)seq;
}

/* PUBLISHes message `number`, after CLIENT KILL ADDR `kill` in the same
 * pipeline unless it is NULL (Redis runs a connection's commands in order:
 * the kill comes first).  Returns how many subscribers it reached, or -1
 * with the reason in err[errlen]. */
static long long publish(struct redis_client *pub, const char *channel, uint64_t number,
                         const char *kill, char *err, size_t errlen)
{
    char payload[24];
    const char *argv[] = { "CLIENT", "KILL", "ADDR", kill, "PUBLISH", channel, payload };
    const size_t len[] = { 6, 4, 4, kill != NULL ? strlen(kill) : 0, 7, strlen(channel),
                           (size_t)snprintf(payload, sizeof payload, "%" PRIu64, number) };
    if (kill != NULL)
        redis_client_append(pub, 4, argv, len);
    redis_client_append(pub, 3, argv + 4, len + 4); /* a failure shows in the reply */
    long long reached = -1;
    for (int i = kill != NULL ? 0 : 1; i < 2; i++) {
        struct redis_result reply = redis_client_read_reply(pub);
        char got[REPORT_RESULT_SIZE];
        if (reply.kind != REDIS_RESULT_INTEGER || (i == 0 && reply.integer != 1))
            snprintf(err, errlen, "%s failed: %s", i == 0 ? "CLIENT KILL" : "PUBLISH",
                     report_describe_result(&reply, got, sizeof got));
        else if (i == 1)
            reached = reply.integer;
        redis_result_free(&reply);
    }
    return reached;
}

/* Waits until subscribed, then publishes messages 1 to `messages`; after
 * each, waits until the subscriber has received it (and, after a kill, has
 * subscribed again) or lost it with a connection, and each of the `count`
 * consumers has read up to it.  Prints what it did; false, with the reason
 * in err[errlen], if it could not. */
static bool publish_paced(struct redis_client *pub, const char *const *channels,
                          size_t messages, bool drop_connection, struct watch_receiver *status,
                          struct consumer *consumers, size_t count, char *err, size_t errlen)
{
    struct subscriber_status now = { .state = SUBSCRIBER_CONNECTING };
    if (wait_for(status, subscriber_is_subscribed, NULL, FANOUT_WAIT_MS, &now) != CHAN_OK) {
        snprintf(err, errlen, "not subscribed within %d ms (it is %s%s%s)", FANOUT_WAIT_MS,
                 subscriber_state_name(now.state), now.why[0] != '\0' ? ": " : "", now.why);
        return false;
    }
    printf("watch: subscribed to %zu channels\n", now.channels);
    struct subscriber_status want = { .subscriptions = 1 };
    uint64_t i, unheard = 0, seq = 0;
    enum chan_status st = CHAN_OK;
    for (i = 1; i <= messages && st == CHAN_OK; i++) {
        bool kill = drop_connection && i == messages / 2 + 1;
        if (kill)
            printf("killed the subscriber's connection just before message %" PRIu64 "\n", i);
        long long reached = publish(pub, channels[i % 2], i, kill ? now.address : NULL, err,
                                    errlen);
        if (reached < 0)
            break;
        unheard += reached == 0;
        want.received += reached > 0;
        want.subscriptions += kill;
        want.gaps += kill;
        st = wait_for(status, caught_up, &want, FANOUT_WAIT_MS, &now);
        for (size_t k = 0; st == CHAN_OK && k < count; k++)
            st = wait_for(consumers[k].progress_rx, read_up_to, &now.sent, FANOUT_WAIT_MS, &seq);
        want.received = now.received; /* fewer than published if one was lost */
        want.gaps = now.gaps;
        if (st != CHAN_OK)
            snprintf(err, errlen, "message %" PRIu64 " was not read within %d ms (the "
                     "subscriber is %s; a consumer read up to value %" PRIu64 ")", i,
                     FANOUT_WAIT_MS, subscriber_state_name(now.state), seq);
    }
    printf("published %" PRIu64 " messages%s", i - 1, unheard > 0 ? ", " : "\n");
    if (unheard > 0)
        printf("%" PRIu64 " reached no subscriber (Redis Pub/Sub is at-most-once)\n", unheard);
    return i > messages && st == CHAN_OK;
}

/* ---- The report ------------------------------------------------------------------- */

/* What a consumer read, in words: "lagged once, missed 24, then 16
 * messages (25 to 40) in publish order". */
static void describe(char *line, size_t size, const struct consumer_report *r)
{
    char lag[96] = "", times[32] = "once";
    if (r->lags > 1)
        snprintf(times, sizeof times, "%u times", r->lags);
    if (r->lags > 0)
        snprintf(lag, sizeof lag, "lagged %s, missed %" PRIu64 ", then ", times, r->missed);
    snprintf(line, size, "%s%" PRIu64 " messages (%" PRIu64 " to %" PRIu64 ") %s%s", lag,
             r->received, r->first, r->last,
             r->out_of_order == 0 ? "in publish order" : "OUT OF ORDER",
             r->missed == 0 ? ", missed none" : "");
    if (r->gaps > 0)
        snprintf(line + strlen(line), size - strlen(line), ", %u gap notice%s", r->gaps,
                 report_plural(r->gaps, "", "s"));
}

/* Whether a consumer accounted for every value the subscriber sent, in
 * order: each one read, or lost to lag, or a gap notice read. */
static bool read_all(const struct consumer_report *r, const struct subscriber_status *end)
{
    return r->out_of_order == 0 && r->received + r->missed + r->gaps == end->sent;
}

/* ---- The run ---------------------------------------------------------------------- */

int fanout_run(size_t count, size_t messages, size_t capacity, bool drop_connection, FILE *log)
{
    /* Channel names of this run's own: several runs may share a server. */
    char names[2][64], err[1024];
    const char *channels[2] = { names[0], names[1] };
    size_t lens[2];
    for (int i = 0; i < 2; i++)
        lens[i] = (size_t)snprintf(names[i], sizeof names[i], "ch09:%ld:%s", (long)getpid(),
                                   i == 0 ? "news" : "alerts");
    const struct subscriber_options options = { channels, lens, 2, capacity, log };
    struct subscriber *sub;
    struct redis_client *pub = NULL;
    if (subscriber_start(&sub, NULL, &options, err, sizeof err) != 0 ||
        (pub = redis_client_connect(NULL, NULL, err, sizeof err)) == NULL) {
        if (sub != NULL)
            subscriber_stop(sub, NULL);
        return report_error(PROGRAM, EXIT_CANNOT_START, "%s", err);
    }
    /* Every receiver subscribes BEFORE anything is published: a broadcast
     * receiver sees only what is sent after it subscribed. */
    struct report report;
    report_init(&report, PROGRAM, count, sizeof(struct consumer));
    report.unit = "consumer";
    struct consumer *consumers = report.workers;
    bool made = true;
    for (size_t i = 0; i < count; i++)
        made = consumer_init(&consumers[i], subscriber_messages(sub)) == 0 && made;
    struct broadcast_receiver *late = subscriber_messages(sub);
    struct watch_receiver *status = subscriber_watch(sub);
    /* Without them the program cannot start; exit() ends every thread. */
    if (!made || late == NULL || status == NULL)
        exit(report_error(PROGRAM, EXIT_CANNOT_START, "out of memory"));
    if (report_start_threads(&report, consumer_main) < count)
        exit(EXIT_CANNOT_START); /* report_start_threads said why */
    bool published = publish_paced(pub, channels, messages, drop_connection, status, consumers,
                                   count, err, sizeof err);

    /* Stopping closes the broadcast channel: the consumers read what is
     * left, then end.  The late one starts reading only now. */
    struct subscriber_status end;
    subscriber_stop(sub, &end);
    report_join_threads(&report);
    struct consumer_report late_read;
    consumer_run(late, NULL, &late_read);
    for (size_t i = 0; i < count; i++) {
        describe(report.slots[i].line, sizeof report.slots[i].line, &consumers[i].report);
        report.slots[i].wrong = !read_all(&consumers[i].report, &end);
        consumer_free(&consumers[i]);
    }
    report_print_lines(&report, stdout);
    char line[REPORT_LINE_SIZE];
    describe(line, sizeof line, &late_read);
    printf("consumer %zu (late): %s\n", count + 1, line);
    printf("watch: %s after %" PRIu64 " messages, %u connection%s lost\n",
           subscriber_state_name(end.state), end.received, end.gaps,
           report_plural(end.gaps, "", "s"));
    int exit_status = report_status(&report);
    if (!published)
        exit_status = report_error(PROGRAM, EXIT_WRONG_RESULTS, "%s", err);
    else if (exit_status != EXIT_ALL_RIGHT || !read_all(&late_read, &end))
        exit_status = report_error(PROGRAM, EXIT_WRONG_RESULTS, "a consumer did not read what "
                                   "it should have (see above)");
    report_free(&report);
    broadcast_receiver_drop(late);
    watch_receiver_drop(status);
    redis_client_free(pub);
    return exit_status;
}
