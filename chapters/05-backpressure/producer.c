/*
 * producer.c - the flood of chapter 05 (see producer.h).
 *
 * Read it in the order flood_run works:
 *   flood_run       start the manager, pause Redis, produce, wait, count
 *   produce         build each SET and hand it to the channel
 *   send_waiting    mpsc_send: wait while the channel is full (block and
 *                   unbounded modes; an unbounded channel is never full)
 *   send_or_reject  mpsc_try_send: never wait; a full channel refuses
 *
 * What to notice: the producer never looks at Redis.  All it sees is the
 * channel - how full it is, and whether a send waits or is refused - and
 * that alone is how a slow Redis reaches back to slow it down.
 */
#include "producer.h"

#include <stdlib.h>

#include "command.h"
#include "manager.h"
#include "mpsc.h"
#include "redis_client.h"
#include "report.h"

/* The producer's working state during one flood. */
struct flood {
    const struct flood_options *opts;
    struct flood_report *report;
    struct mpsc_sender *tx;   /* the producer's one handle to the channel */
    const char *value;        /* opts->value_size bytes, the same for every SET */
};

/* Records the first problem of the run, which also stops the producing. */
static void set_problem(struct flood *f, const char *what)
{
    if (f->report->problem[0] == '\0')
        snprintf(f->report->problem, sizeof f->report->problem, "%s", what);
}

/* ---- Sending --------------------------------------------------------------- */

/* The channel refused `cmd`, so it is still ours: free it, and count it.
 * A refused command is never dropped silently - the report says how many. */
static void reject(struct flood *f, struct command *cmd)
{
    command_free(cmd);
    f->report->rejected++;
    if (f->opts->log != NULL)
        fprintf(f->opts->log, "producer: command %zu refused\n", f->report->issued - 1);
}

/* CHAN_CLOSED: the manager has stopped (it lost its connection), so no
 * later send can succeed either.  Refuse this one and stop producing. */
static void channel_closed(struct flood *f, struct command *cmd)
{
    reject(f, cmd);
    set_problem(f, "the manager stopped taking commands");
}

/* FLOOD_BLOCK and FLOOD_UNBOUNDED: hand `cmd` over, waiting for room if the
 * channel is full.  Waiting is the backpressure: while Redis is stalled,
 * the producer is held here instead of piling up commands in memory. */
static void send_waiting(struct flood *f, struct command *cmd)
{
    double started = report_seconds_now();
    enum chan_status status = mpsc_send(f->tx, cmd);
    double waited = report_seconds_now() - started;
    f->report->blocked_s += waited; /* ~0 unless the channel was full */
    if (status == CHAN_NO_MEMORY) { /* the unbounded ring could not grow */
        reject(f, cmd);
        set_problem(f, "out of memory: the unbounded channel could not grow");
    } else if (status != CHAN_OK) {
        channel_closed(f, cmd);
    } else {
        f->report->sent++; /* the command is the manager's now */
    }
    if (f->opts->log != NULL && waited >= 0.001)
        fprintf(f->opts->log, "producer: waited %ld ms for room to send command %zu\n",
                (long)(waited * 1000), f->report->issued - 1);
}

/* FLOOD_TRY: offer `cmd` without ever waiting. */
static void send_or_reject(struct flood *f, struct command *cmd)
{
    // TODO(05): offer the command with mpsc_try_send, which never waits.
    //   CHAN_OK:     count it as sent (f->report->sent++).
    //   CHAN_FULL:   the channel did not take it, so it is still yours:
    //                free it and count it as rejected - reject() does both.
    //   CHAN_CLOSED: the manager has stopped - channel_closed() says so.
    // For now the command is rejected without being offered at all.
    reject(f, cmd);
    set_problem(f, "not implemented yet: mpsc_try_send in send_or_reject "
                   "(TODO(05) in chapters/05-backpressure/producer.c); see "
                   "docs/05-backpressure.md, \"Refusing when full\"");
}

/* Builds and sends opts->count SETs, sampling the queue after each, until
 * they are all sent or a problem stops the flood. */
static void produce(struct flood *f)
{
    const struct flood_options *o = f->opts;
    for (size_t n = 0; n < o->count && f->report->problem[0] == '\0'; n++) {
        char key[48];
        int key_len = snprintf(key, sizeof key, "ch05:flood:%zu", n);
        struct command cmd;
        if (command_set(&cmd, key, (size_t)key_len, f->value, o->value_size) != 0) {
            set_problem(f, "out of memory building a command");
            break;
        }
        f->report->issued++;
        switch (o->mode) {
        case FLOOD_BLOCK:
        case FLOOD_UNBOUNDED:
            send_waiting(f, &cmd);
            break;
        case FLOOD_TRY:
            send_or_reject(f, &cmd);
            break;
        }
        /* How full is the channel right now?  In the bounded modes this
         * can never exceed the capacity; unbounded, it grows while Redis
         * is slow. */
        size_t queued = mpsc_sender_len(f->tx);
        if (queued > f->report->max_queue_len_seen)
            f->report->max_queue_len_seen = queued;
    }
}

/* ---- The run ------------------------------------------------------------------ */

int flood_run(const struct flood_options *opts, struct flood_report *report, char *err,
              size_t errlen)
{
    size_t capacity = opts->mode == FLOOD_UNBOUNDED ? MANAGER_UNBOUNDED : opts->capacity;
    *report = (struct flood_report){ .mode = opts->mode, .capacity = capacity };
    char *value = calloc(opts->value_size + 1, 1); /* the same bytes in every SET */
    if (value == NULL) {
        snprintf(err, errlen, "out of memory for a value of %zu bytes", opts->value_size);
        return -1;
    }
    struct manager m = { .log = opts->log };
    struct mpsc_sender *tx;
    if (manager_start(&m, opts->url, capacity, &tx, err, errlen) != 0) {
        free(value);
        return -1;
    }
    /* Pause only once the manager is connected: its connection set-up
     * would otherwise wait for the pause too. */
    if (opts->pause_ms > 0 && redis_pause_server(opts->url, opts->pause_ms, err, errlen) != 0) {
        mpsc_sender_drop(tx);
        manager_join(&m);
        free(value);
        return -1;
    }

    struct flood f = { .opts = opts, .report = report, .tx = tx, .value = value };
    double started = report_seconds_now();
    produce(&f);
    /* The last sender goes: the manager runs what is still queued, then
     * ends.  Joining it makes its counters safe to read. */
    mpsc_sender_drop(tx);
    manager_join(&m);
    report->elapsed_ms = (long)((report_seconds_now() - started) * 1000);
    report->peak_rss_kib = report_peak_rss_kib();
    report->completed = m.succeeded;
    report->failed = m.failed;
    if (m.connection_lost) /* the manager's own words beat "it stopped" */
        snprintf(report->problem, sizeof report->problem, "lost the connection to %s: %s",
                 m.url, m.failure);
    free(value);
    return 0;
}
