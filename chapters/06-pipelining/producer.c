/*
 * producer.c - the flood of chapter 05 (see producer.h).
 *
 * Read it in the order flood_run works:
 *   flood_run       start the manager, pause Redis, produce, wait, report
 *   produce         build each SET and hand it to the channel
 *   send_waiting    mpsc_send: wait while the channel is full (block and
 *                   unbounded modes; an unbounded channel is never full)
 *   send_or_reject  mpsc_try_send: never wait; a full channel refuses
 * and then flood_print_report and flood_judge, which say what happened.
 *
 * What to notice: the producer never looks at Redis.  All it sees is the
 * channel - how full it is, and whether a send waits or is refused - and
 * that alone is how a slow Redis reaches back to slow it down.
 */
#include "producer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "manager.h"
#include "mpsc.h"
#include "redis_client.h"
#include "report.h"

/* The longest key prefix accepted; keys are "<prefix>:<n>". */
#define MAX_KEY_PREFIX 200

/* The producer's working state during one flood. */
struct flood {
    const struct flood_options *opts;
    struct flood_report *report;
    struct mpsc_sender *tx;   /* the producer's one handle to the channel */
    const char *value;        /* opts->value_size bytes, the same for every SET */
    double blocked_s;         /* time spent inside mpsc_send so far */
    bool stopped;             /* the channel refused for good: issue nothing more */
};

const char *const flood_mode_names[] = { "block", "try", "unbounded", NULL };

const char *flood_mode_name(enum flood_mode mode)
{
    return mode <= FLOOD_UNBOUNDED ? flood_mode_names[mode] : "?";
}

bool flood_report_balanced(const struct flood_report *r)
{
    return r->rejected <= r->issued && r->sent == r->issued - r->rejected &&
           r->completed + r->failed + r->rejected == r->issued;
}

/* Records the first problem of the run; later ones only repeat it. */
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
}

/* CHAN_CLOSED: the manager has stopped (it lost its connection), so no
 * later send can succeed either.  Refuse this one and stop producing. */
static void channel_closed(struct flood *f, struct command *cmd)
{
    reject(f, cmd);
    f->stopped = true;
    set_problem(f, "the manager stopped taking commands");
}

/* CHAN_NO_MEMORY: the unbounded channel could not grow to take `cmd`.  The
 * manager is fine; it is the flood that cannot go on. */
static void out_of_memory(struct flood *f, struct command *cmd)
{
    reject(f, cmd);
    f->stopped = true;
    set_problem(f, "out of memory: the unbounded channel could not grow");
}

/* FLOOD_BLOCK and FLOOD_UNBOUNDED: hand `cmd` over, waiting for room if the
 * channel is full.  Waiting is the backpressure: while Redis is stalled,
 * the producer is held here instead of piling up commands in memory. */
static void send_waiting(struct flood *f, struct command *cmd)
{
    double started = report_seconds_now();
    enum chan_status status = mpsc_send(f->tx, cmd);
    double waited = report_seconds_now() - started;
    f->blocked_s += waited; /* ~0 unless the channel was full */
    if (status == CHAN_NO_MEMORY) {
        out_of_memory(f, cmd);
        return;
    }
    if (status != CHAN_OK) {
        channel_closed(f, cmd);
        return;
    }
    f->report->sent++; /* the command is the manager's now */
    if (f->opts->log != NULL && waited >= 0.001) {
        flockfile(f->opts->log);
        fprintf(f->opts->log, "producer: waited %ld ms for room to send command %zu\n",
                (long)(waited * 1000), f->report->issued - 1);
        funlockfile(f->opts->log);
    }
}

/* FLOOD_TRY: offer `cmd` without ever waiting. */
static void send_or_reject(struct flood *f, struct command *cmd)
{
    enum chan_status status = mpsc_try_send(f->tx, cmd);
    if (status == CHAN_OK) {
        f->report->sent++;
    } else if (status == CHAN_FULL) {
        /* No room right now.  The channel did not take the command, so it
         * is still ours.  A real program would retry later, shed the load
         * on purpose, or tell its own caller "busy"; here we count it. */
        reject(f, cmd);
    } else {
        channel_closed(f, cmd); /* CHAN_CLOSED */
    }
}

/* With a log: one line when a run of refusals starts and one when it ends,
 * rather than a line per refused command.  *run counts the current run. */
static void log_refusals(FILE *log, size_t n, bool refused, size_t *run)
{
    if (log == NULL)
        return;
    if (refused && *run == 0) {
        flockfile(log);
        fprintf(log, "producer: channel full at command %zu: refusing until there is room\n", n);
        funlockfile(log);
    } else if (!refused && *run > 0) {
        flockfile(log);
        fprintf(log, "producer: room again at command %zu, after %zu refused\n", n, *run);
        funlockfile(log);
    }
    *run = refused ? *run + 1 : 0;
}

/* Builds and sends opts->count SETs, sampling the queue after each. */
static void produce(struct flood *f)
{
    const struct flood_options *o = f->opts;
    const char *prefix = o->key_prefix != NULL ? o->key_prefix : "ch05:flood";
    size_t refusal_run = 0;
    for (size_t n = 0; n < o->count && !f->stopped; n++) {
        char key[MAX_KEY_PREFIX + 32];
        int key_len = snprintf(key, sizeof key, "%s:%zu", prefix, n);
        struct command cmd;
        if (command_set(&cmd, key, (size_t)key_len, f->value, o->value_size) != 0) {
            set_problem(f, "out of memory building a command");
            break;
        }
        size_t rejected_before = f->report->rejected;
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
        log_refusals(o->log, n, f->report->rejected > rejected_before, &refusal_run);
    }
    if (o->log != NULL && refusal_run > 0)
        fprintf(o->log, "producer: the last %zu commands were refused\n", refusal_run);
}

/* ---- The run ------------------------------------------------------------------ */

/* CLIENT PAUSE on a connection of its own: Redis holds every client's
 * commands for `ms` milliseconds - a stand-in for a server that is slow,
 * busy with a snapshot, or far away. */
static int pause_server(const char *url, unsigned ms, char *err, size_t errlen)
{
    struct redis_client *c = redis_client_connect(url, NULL, err, errlen);
    if (c == NULL)
        return -1;
    char ms_text[16];
    int n = snprintf(ms_text, sizeof ms_text, "%u", ms);
    const char *argv[] = { "CLIENT", "PAUSE", ms_text };
    const size_t len[] = { 6, 5, (size_t)n };
    struct redis_result r = redis_client_command(c, 3, argv, len);
    int rc = 0;
    if (r.kind != REDIS_RESULT_OK) {
        /* An error reply is a refusal; an i/o error (a timeout, a lost
         * connection) means the server did not answer at all. */
        char described[REPORT_RESULT_SIZE];
        snprintf(err, errlen, "Redis at %s %s CLIENT PAUSE %s: %s", redis_client_url(c),
                 r.kind == REDIS_RESULT_IO_ERROR ? "did not answer" : "refused", ms_text,
                 report_describe_result(&r, described, sizeof described));
        rc = -1;
    }
    redis_result_free(&r);
    redis_client_free(c);
    return rc;
}

static int check_options(const struct flood_options *o, char *err, size_t errlen)
{
    if (o->count == 0) {
        snprintf(err, errlen, "the count of commands must be at least 1");
        return -1;
    }
    if (o->mode != FLOOD_BLOCK && o->mode != FLOOD_TRY && o->mode != FLOOD_UNBOUNDED) {
        snprintf(err, errlen, "unknown flood mode %d", (int)o->mode);
        return -1;
    }
    if (o->mode != FLOOD_UNBOUNDED && o->capacity > MPSC_MAX_CAPACITY) {
        snprintf(err, errlen, "a capacity of %zu is more than a channel accepts (%zu)",
                 o->capacity, MPSC_MAX_CAPACITY);
        return -1;
    }
    if (o->key_prefix != NULL && strlen(o->key_prefix) > MAX_KEY_PREFIX) {
        snprintf(err, errlen, "the key prefix is longer than %d bytes", MAX_KEY_PREFIX);
        return -1;
    }
    return 0;
}

/* value_size bytes of letters: the same value for every SET. */
static char *make_value(size_t size)
{
    char *value = malloc(size > 0 ? size : 1);
    if (value != NULL)
        for (size_t i = 0; i < size; i++)
            value[i] = (char)('a' + i % 26);
    return value;
}

int flood_run(const struct flood_options *opts, struct flood_report *report, char *err,
              size_t errlen)
{
    *report = (struct flood_report){ .issued = 0 };
    if (check_options(opts, err, errlen) != 0)
        return -1;

    size_t capacity = opts->mode == FLOOD_UNBOUNDED ? MANAGER_UNBOUNDED
                      : opts->capacity > 0          ? opts->capacity
                                                    : FLOOD_DEFAULT_CAPACITY;
    report->capacity = capacity;

    char *value = make_value(opts->value_size);
    if (value == NULL) {
        snprintf(err, errlen, "out of memory making a value of %zu bytes", opts->value_size);
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
    if (opts->pause_ms > 0 && pause_server(opts->url, opts->pause_ms, err, errlen) != 0) {
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
    report->blocked_ms = (long)(f.blocked_s * 1000);
    report->completed = m.succeeded;
    report->failed = m.failed;
    report->batches = m.batches;
    report->largest_batch = m.largest_batch;
    if (m.connection_lost) /* the manager's own words beat "it stopped" */
        snprintf(report->problem, sizeof report->problem, "lost the connection to %s: %s",
                 m.url, m.failure);
    report->peak_rss_kib = report_peak_rss_kib();
    free(value);
    return 0;
}

/* ---- What happened ------------------------------------------------------------- */

static void print_mode(const struct flood_options *o, size_t capacity, FILE *out)
{
    switch (o->mode) {
    case FLOOD_BLOCK:
        fprintf(out, "mode block: when the channel (capacity %zu) is full, mpsc_send waits for "
                     "room,\nso the producer slows down to the pace of Redis.\n", capacity);
        break;
    case FLOOD_TRY:
        fprintf(out, "mode try: when the channel (capacity %zu) is full, mpsc_try_send refuses "
                     "the\ncommand at once, and the producer counts it as rejected.\n", capacity);
        break;
    case FLOOD_UNBOUNDED:
        fprintf(out, "mode unbounded: every send succeeds at once; whatever Redis cannot take "
                     "yet\nwaits in memory.\n");
        break;
    }
}

void flood_print_report(const struct flood_options *o, const struct flood_report *r,
                        bool timing, FILE *out)
{
    bool bounded = o->mode != FLOOD_UNBOUNDED;
    print_mode(o, r->capacity, out);
    /* In try mode the split between sent and refused depends on how fast
     * the manager happened to take its first command: timing. */
    if (o->mode == FLOOD_TRY && !timing) {
        fprintf(out, "producer: issued %zu; the full channel refused %s (how many varies from "
                     "run to run: add --timing)\n",
                r->issued, r->rejected > 0 ? "some of them" : "none of them");
    } else {
        fprintf(out, "producer: issued %zu, sent %zu, rejected %zu\n", r->issued, r->sent,
                r->rejected);
        fprintf(out, "manager: completed %zu, failed %zu\n", r->completed, r->failed);
    }
    if (flood_report_balanced(r))
        fprintf(out, "every command is accounted for: completed + failed + rejected = issued\n");
    if (bounded && r->max_queue_len_seen <= r->capacity)
        fprintf(out, "the queue never held more than its capacity of %zu\n", r->capacity);
    else if (!bounded && !timing)
        fprintf(out, "the queue had no limit (add --timing to see how long it grew, and the "
                     "memory it took)\n");
    if (!timing)
        return;
    if (bounded)
        fprintf(out, "queue: at most %zu commands seen at once (capacity %zu)\n",
                r->max_queue_len_seen, r->capacity);
    else
        fprintf(out, "queue: at most %zu commands seen at once (no limit)\n",
                r->max_queue_len_seen);
    fprintf(out, "time: %ld ms blocked in mpsc_send; the whole flood took %.3f s (%.0f "
                 "commands/s)\n", r->blocked_ms, (double)r->elapsed_ms / 1000.0,
            r->elapsed_ms > 0 ? (double)r->sent * 1000.0 / (double)r->elapsed_ms : 0.0);
    if (r->batches > 0)
        fprintf(out, "batches: %zu commands in %zu pipelines, %.1f on average, at most %zu\n",
                r->completed + r->failed, r->batches,
                (double)(r->completed + r->failed) / (double)r->batches, r->largest_batch);
    fprintf(out, "memory: peak RSS %.1f MiB (peak_rss_kib=%ld)\n",
            (double)r->peak_rss_kib / 1024.0, r->peak_rss_kib);
}

int flood_judge(const char *program, const struct flood_options *o,
                const struct flood_report *r)
{
    if (r->problem[0] != '\0')
        return report_error(program, EXIT_WRONG_RESULTS, "%s", r->problem);
    if (!flood_report_balanced(r))
        return report_error(program, EXIT_WRONG_RESULTS, "the counts do not add up: completed "
                            "%zu + failed %zu + rejected %zu should be issued %zu, and sent %zu "
                            "should be issued - rejected", r->completed, r->failed, r->rejected,
                            r->issued, r->sent);
    if (r->failed > 0)
        return report_error(program, EXIT_WRONG_RESULTS, "%zu of %zu commands failed "
                            "(--verbose shows Redis's answers)", r->failed, r->sent);
    if (o->mode != FLOOD_UNBOUNDED && r->max_queue_len_seen > r->capacity)
        return report_error(program, EXIT_WRONG_RESULTS, "the queue held %zu commands, more "
                            "than its capacity of %zu", r->max_queue_len_seen, r->capacity);
    return EXIT_ALL_RIGHT;
}
