/*
 * bench_pubsub.c - chapter 09's fan-out under load: one publisher, one
 * subscriber connection, and 1, 4 or 16 consumer threads on its broadcast
 * channel, on a real server ($REDIS_URL; `make bench` starts a throwaway
 * one).
 *
 * A case: subscribe, wait (on the watch) until SUBSCRIBED, then publish M
 * messages of 16 bytes as fast as one connection can (pipelines of 64),
 * and wait until every consumer has read every one.  The figure is M over
 * that time: messages per second delivered to ALL consumers.  A consumer
 * that falls a whole broadcast capacity behind loses messages to lag; they
 * are counted ("missed") and left out of the rate, never hidden.
 *
 * Next to it, in the same run: redis-benchmark's PUBLISH rate, one
 * connection, the same pipelines of 64, with one subscriber listening (this
 * program's, so that Redis really delivers each message): what the server
 * and the loopback give when nobody fans anything out.
 *
 * It links the FINISHED subscriber, consumer, wait and message of chapter
 * 09 (solutions/), never a learner's chapters/: the benchmark measures the
 * chapter's design, the same code its tests check.
 *
 * Exit status: 0; 1 if a consumer read a message out of order or its counts
 * do not add up; 2 if Redis could not be reached or an option was bad.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "consumer.h"
#include "redis_client.h"
#include "subscriber.h"
#include "wait.h"

static const char usage[] =
    "usage: bench_pubsub [--out DIR] [--quick | --smoke] [--only CONSUMERS]\n"
    "Measures chapter 09's fan-out (one publisher, one subscriber connection, 1, 4\n"
    "and 16 consumers) and redis-benchmark's PUBLISH rate against $REDIS_URL;\n"
    "prints a markdown table, writes pubsub.csv and pubsub.md to DIR (default\n"
    "build/bench).  CONSUMERS: 1, 4 or 16.\n";

enum { CASES = 3, MAX_REPS = 3, PIPELINE = 64, PAYLOAD = 16 };
static const size_t consumer_counts[CASES] = { 1, 4, 16 };
/* Large enough that consumers which keep up never lag; a consumer that
 * stalls for this many messages does, and the table says so. */
#define CAPACITY 65536
#define WAIT_MS 60000

static struct bench_options opts;
static unsigned failures;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_pubsub: %s: %s\n", what, why);
    exit(2);
}

static bool has_received(const void *status, const void *count)
{
    return ((const struct subscriber_status *)status)->received >= *(const uint64_t *)count;
}

static bool read_up_to(const void *progress, const void *seq)
{
    return *(const uint64_t *)progress >= *(const uint64_t *)seq;
}

/* The subscriber and its consumers, for one case. */
struct fanout {
    char channel[64];
    const char *channels[1];  /* the subscriber's: valid until it stops */
    size_t channel_len;
    struct subscriber *sub;
    struct watch_receiver *status;
    struct consumer consumers[16];
    pthread_t threads[16];
    size_t count;
};

static void fanout_start(struct fanout *f, size_t consumers)
{
    static unsigned runs;
    f->channel_len = (size_t)snprintf(f->channel, sizeof f->channel, "bench09:%ld:%u",
                                      (long)getpid(), runs++);
    f->channels[0] = f->channel;
    const struct subscriber_options options = { f->channels, &f->channel_len, 1, CAPACITY,
                                                NULL };
    char err[1024];
    if (subscriber_start(&f->sub, NULL, &options, err, sizeof err) != 0)
        die("cannot start the subscriber", err);
    f->status = subscriber_watch(f->sub);
    f->count = consumers;
    for (size_t i = 0; i < consumers; i++)
        if (consumer_init(&f->consumers[i], subscriber_messages(f->sub)) != 0 ||
            pthread_create(&f->threads[i], NULL, consumer_main, &f->consumers[i]) != 0)
            die("cannot start a consumer", "out of memory, or no thread");
    struct subscriber_status now;
    if (f->status == NULL ||
        wait_for(f->status, subscriber_is_subscribed, NULL, WAIT_MS, &now) != CHAN_OK)
        die("the subscriber did not subscribe", "see its status");
}

/* Stops everything; returns the values the consumers lost to lag, and
 * counts a failure if anything does not add up, or (when `published` is
 * not 0: our own numbered messages) is out of order. */
static uint64_t fanout_stop(struct fanout *f, uint64_t published)
{
    struct subscriber_status last;
    subscriber_stop(f->sub, &last);
    watch_receiver_drop(f->status);
    uint64_t missed = 0;
    for (size_t i = 0; i < f->count; i++) {
        pthread_join(f->threads[i], NULL);
        consumer_free(&f->consumers[i]);
        const struct consumer_report *r = &f->consumers[i].report;
        missed += r->missed;
        if (r->received + r->missed != last.sent ||
            (published > 0 && (r->out_of_order != 0 || last.received != published))) {
            fprintf(stderr, "bench_pubsub: consumer %zu read %" PRIu64 " (+%" PRIu64
                    " missed, %" PRIu64 " out of order) of %" PRIu64 " sent; %" PRIu64
                    " published\n", i + 1, r->received, r->missed, r->out_of_order,
                    last.sent, published);
            failures++;
        }
    }
    return missed;
}

/* One case: messages per second delivered to every consumer. */
static double run_once(size_t consumers, uint64_t messages, uint64_t *missed)
{
    struct fanout f;
    fanout_start(&f, consumers);
    char err[512];
    struct redis_client *pub = redis_client_connect(NULL, NULL, err, sizeof err);
    if (pub == NULL)
        die("cannot connect the publisher", err);

    uint64_t start = bench_now_ns();
    for (uint64_t first = 1; first <= messages; first += PIPELINE) {
        uint64_t last = first + PIPELINE - 1 < messages ? first + PIPELINE - 1 : messages;
        for (uint64_t i = first; i <= last; i++) {
            char payload[PAYLOAD + 1];
            snprintf(payload, sizeof payload, "%0*" PRIu64, PAYLOAD, i);
            const char *argv[] = { "PUBLISH", f.channel, payload };
            const size_t len[] = { 7, f.channel_len, PAYLOAD };
            redis_client_append(pub, 3, argv, len);
        }
        for (uint64_t i = first; i <= last; i++) {
            struct redis_result r = redis_client_read_reply(pub);
            if (r.kind != REDIS_RESULT_INTEGER)
                die("PUBLISH failed", r.data != NULL ? r.data : "?");
            redis_result_free(&r);
        }
    }
    /* Wait until the subscriber has them all, then until every consumer
     * has gone through all it sent. */
    struct subscriber_status now;
    if (wait_for(f.status, has_received, &messages, WAIT_MS, &now) != CHAN_OK)
        die("the subscriber did not receive every message", now.why);
    for (size_t i = 0; i < consumers; i++) {
        uint64_t seq;
        if (wait_for(f.consumers[i].progress_rx, read_up_to, &now.sent, WAIT_MS, &seq) !=
            CHAN_OK)
            die("a consumer did not finish", "timed out");
    }
    double seconds = (double)(bench_now_ns() - start) / 1e9;
    *missed = fanout_stop(&f, messages);
    redis_client_free(pub);
    double delivered = (double)messages - (double)*missed / (double)consumers;
    return delivered / seconds;
}

/* redis-benchmark -c 1 -P PIPELINE PUBLISH, with one subscriber listening. */
static double publish_ceiling(uint64_t requests)
{
    struct fanout f;
    fanout_start(&f, 1);
    char err[256];
    struct redis_url url;
    if (redis_url_parse(redis_url_from_env(), &url, err, sizeof err) != 0)
        die("bad REDIS_URL", err);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "redis-benchmark -h '%s' -p %d -c 1 -P %d -n %" PRIu64 " --csv PUBLISH '%s' "
             "%0*d 2>&1", url.host, url.port, PIPELINE, requests, f.channel, PAYLOAD, 0);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        die("popen redis-benchmark", strerror(errno));
    double rps = NAN;
    char line[512];
    while (fgets(line, sizeof line, p) != NULL)
        if (strncmp(line, "\"PUBLISH", 8) == 0)
            sscanf(line, "\"%*[^\"]\",\"%lf\"", &rps);
    if (pclose(p) != 0 || isnan(rps))
        die(cmd, "failed or printed no PUBLISH rate (is redis-benchmark installed? "
                 "scripts/setup.sh bench)");
    fanout_stop(&f, 0);
    return rps;
}

int main(int argc, char **argv)
{
    bench_parse_options(argc, argv, usage, &opts);
    signal(SIGPIPE, SIG_IGN);
    const uint64_t messages = (uint64_t)bench_by_mode(&opts, 200000, 50000, 2000);
    uint64_t started = bench_now_ns();
    double rate[CASES][MAX_REPS], ceiling[MAX_REPS];
    uint64_t missed[CASES] = { 0 };
    for (int rep = 0; rep < opts.reps; rep++) {
        printf("repetition %d/%d: redis-benchmark PUBLISH", rep + 1, opts.reps);
        fflush(stdout);
        ceiling[rep] = publish_ceiling(messages * 4); /* long enough to settle */
        printf(", consumers");
        for (size_t c = 0; c < CASES; c++) {
            char name[8];
            snprintf(name, sizeof name, "%zu", consumer_counts[c]);
            if (!bench_selected(&opts, name))
                continue;
            printf(" %zu", consumer_counts[c]);
            fflush(stdout);
            uint64_t lost;
            rate[c][rep] = run_once(consumer_counts[c], messages, &lost);
            missed[c] += lost;
        }
        printf(" (%.1f s)\n", (double)(bench_now_ns() - started) / 1e9);
    }

    struct bench_stat top = bench_stat_of(ceiling, (size_t)opts.reps);
    char a[16], b[16], c16[16], d[16];
    bench_report_open(&opts, "pubsub.md");
    bench_report("\n### Pub/Sub fan-out (chapter 09)\n\n"
                 "One publisher sends %" PRIu64 " messages of %d bytes (pipelines of %d) "
                 "to one channel; one subscriber connection puts each on a broadcast "
                 "channel of %d; every consumer reads every message. *delivered/s*: "
                 "messages per second that reached all consumers; *deliveries/s*: that "
                 "times the consumers. The ceiling, in the same run: `redis-benchmark -c 1 "
                 "-P %d PUBLISH` with one subscriber listening, %s/s (%s-%s). Median of %d "
                 "repetitions, min-max in brackets.\n\n",
                 messages, PAYLOAD, PIPELINE, CAPACITY, PIPELINE, bench_si(top.median, a, sizeof a),
                 bench_si(top.min, b, sizeof b), bench_si(top.max, c16, sizeof c16), opts.reps);
    bench_report("| consumers | delivered/s (min-max) | deliveries/s | of PUBLISH ceiling | "
                 "missed (lag) |\n|---:|---:|---:|---:|---:|\n");
    FILE *csv = bench_open_output(&opts, "pubsub.csv");
    fprintf(csv, "consumers,messages,reps,delivered_per_s,delivered_min,delivered_max,"
                 "deliveries_per_s,publish_ceiling_per_s,fraction_of_ceiling,missed\n");
    for (size_t c = 0; c < CASES; c++) {
        char name[8];
        snprintf(name, sizeof name, "%zu", consumer_counts[c]);
        if (!bench_selected(&opts, name))
            continue;
        struct bench_stat st = bench_stat_of(rate[c], (size_t)opts.reps);
        double deliveries = st.median * (double)consumer_counts[c];
        bench_report("| %zu | %s (%s-%s) | %s | %.2f | %" PRIu64 " |\n", consumer_counts[c],
                     bench_si(st.median, a, sizeof a), bench_si(st.min, b, sizeof b),
                     bench_si(st.max, c16, sizeof c16), bench_si(deliveries, d, sizeof d),
                     st.median / top.median, missed[c]);
        fprintf(csv, "%zu,%" PRIu64 ",%d,%.0f,%.0f,%.0f,%.0f,%.0f,%.3f,%" PRIu64 "\n",
                consumer_counts[c], messages, opts.reps, st.median, st.min, st.max, deliveries,
                top.median, st.median / top.median, missed[c]);
    }
    fclose(csv);
    bench_report_close();
    printf("bench_pubsub: %.1f s\n", (double)(bench_now_ns() - started) / 1e9);
    if (failures != 0) {
        fprintf(stderr, "bench_pubsub: %u consumers read out of order or lost count\n", failures);
        return 1;
    }
    return 0;
}
