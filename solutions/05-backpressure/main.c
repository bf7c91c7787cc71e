/*
 * main.c - chapter 05, and the finished program of the tutorial: a
 * producer floods a paused Redis with SETs through the manager, and the
 * channel between them decides what happens to the surplus.
 *
 *     05-backpressure [--mode block|try|unbounded] [--count N] [--value-size N]
 *                     [--capacity N] [--pause-ms N] [--timing] [--verbose]
 *
 * The work is done by flood_run (producer.c); this file reads the options
 * and prints the report.  Output is deterministic: numbers that depend on
 * timing - how many commands try mode refused, how long the queue grew,
 * time spent blocked, peak memory - appear only with --timing, and the
 * live log of every command only with --verbose.
 * Exit status: 0 every command was accounted for and none failed; 1 the
 * counts do not add up, commands failed, or the connection was lost (a
 * message on stderr says which); 2 it could not start (bad option, Redis
 * unreachable).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "producer.h"
#include "redis_client.h"

enum { EXIT_ALL_RIGHT = 0, EXIT_WRONG_RESULTS = 1, EXIT_CANNOT_START = 2 };

#define MAX_COUNT 10000000UL
#define MAX_VALUE_SIZE (16UL * 1024 * 1024)
#define MAX_CAPACITY 1000000UL
/* Well below the manager's 10 s command timeout: a longer pause would make
 * its connection give up on a reply that is merely late. */
#define MAX_PAUSE_MS 5000UL

struct options {
    struct flood_options flood;
    bool timing;
    bool verbose;
};

/* ---- Options ------------------------------------------------------------------ */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: 05-backpressure [--mode block|try|unbounded] [--count N] [--value-size N]\n"
            "                       [--capacity N] [--pause-ms N] [--timing] [--verbose]\n"
            "Pauses Redis, then floods it with SETs through the manager's channel, and\n"
            "reports what the channel did with the surplus.\n"
            "  --mode block      a full channel makes mpsc_send wait (the default)\n"
            "  --mode try        a full channel makes mpsc_try_send refuse the command\n"
            "  --mode unbounded  no limit: every send succeeds, the queue grows\n"
            "  --count N         SETs to send (default 2000)\n"
            "  --value-size N    bytes per value (default 256)\n"
            "  --capacity N      the channel's capacity in the bounded modes (default %d)\n"
            "  --pause-ms N      pause Redis this long first, 0 for no pause (default 200,\n"
            "                    at most %lu)\n"
            "  --timing          also print what depends on timing: refusals, how long the\n"
            "                    queue grew, time blocked, peak memory (peak_rss_kib=...)\n"
            "  --verbose         log every command and every wait or refusal, to stdout\n"
            "Redis: $REDIS_URL (default " REDIS_DEFAULT_URL "); `make run` starts one.\n",
            FLOOD_DEFAULT_CAPACITY, MAX_PAUSE_MS);
}

/* Returns 0 to run, 1 when --help was answered, -1 on a bad option (with a
 * message on stderr). */
static int parse_options(int argc, char **argv, struct options *opts)
{
    *opts = (struct options){
        .flood = { .mode = FLOOD_BLOCK, .count = 2000, .value_size = 256,
                   .capacity = FLOOD_DEFAULT_CAPACITY, .pause_ms = 200 },
    };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(stdout);
            return 1;
        } else if (strcmp(arg, "--timing") == 0) {
            opts->timing = true;
        } else if (strcmp(arg, "--verbose") == 0) {
            opts->verbose = true;
        } else if (strcmp(arg, "--mode") == 0) {
            if (next == NULL || !flood_mode_parse(next, &opts->flood.mode)) {
                fprintf(stderr, "05-backpressure: --mode needs block, try or unbounded\n");
                return -1;
            }
            i++;
        } else if (strcmp(arg, "--count") == 0 || strcmp(arg, "--value-size") == 0 ||
                   strcmp(arg, "--capacity") == 0 || strcmp(arg, "--pause-ms") == 0) {
            bool value_size = strcmp(arg, "--value-size") == 0;
            bool pause = strcmp(arg, "--pause-ms") == 0;
            long min = value_size || pause ? 0 : 1;
            long max = value_size              ? MAX_VALUE_SIZE
                                : pause                 ? MAX_PAUSE_MS
                                : strcmp(arg, "--capacity") == 0 ? MAX_CAPACITY
                                                        : MAX_COUNT;
            if (next == NULL || !cli_parse_count(next, min, max, &n)) {
                fprintf(stderr, "05-backpressure: %s needs a number from %ld to %ld\n", arg,
                        min, max);
                return -1;
            }
            if (value_size)
                opts->flood.value_size = (size_t)n;
            else if (pause)
                opts->flood.pause_ms = (unsigned)n;
            else if (strcmp(arg, "--capacity") == 0)
                opts->flood.capacity = (size_t)n;
            else
                opts->flood.count = (size_t)n;
            i++;
        } else {
            fprintf(stderr, "05-backpressure: unknown option '%s'\n", arg);
            print_usage(stderr);
            return -1;
        }
    }
    return 0;
}

/* ---- The report --------------------------------------------------------------- */

static void print_mode(const struct flood_options *o, size_t capacity)
{
    switch (o->mode) {
    case FLOOD_BLOCK:
        printf("mode block: when the channel (capacity %zu) is full, mpsc_send waits for room,\n"
               "so the producer slows down to the pace of Redis.\n", capacity);
        break;
    case FLOOD_TRY:
        printf("mode try: when the channel (capacity %zu) is full, mpsc_try_send refuses the\n"
               "command at once, and the producer counts it as rejected.\n", capacity);
        break;
    case FLOOD_UNBOUNDED:
        printf("mode unbounded: every send succeeds at once; whatever Redis cannot take yet\n"
               "waits in memory.\n");
        break;
    }
}

static void print_report(const struct options *opts, const struct flood_report *r)
{
    const struct flood_options *o = &opts->flood;
    bool bounded = o->mode != FLOOD_UNBOUNDED;
    print_mode(o, r->capacity);

    /* In try mode the split between sent and refused depends on how fast
     * the manager happened to take its first command: timing. */
    if (o->mode == FLOOD_TRY && !opts->timing) {
        printf("producer: issued %zu; the full channel refused %s (how many varies from run "
               "to run: add --timing)\n",
               r->issued, r->rejected > 0 ? "some of them" : "none of them");
    } else {
        printf("producer: issued %zu, sent %zu, rejected %zu\n", r->issued, r->sent,
               r->rejected);
        printf("manager: completed %zu, failed %zu\n", r->completed, r->failed);
    }
    if (flood_report_balanced(r))
        printf("every command is accounted for: completed + failed + rejected = issued\n");
    if (bounded && r->max_queue_len_seen <= r->capacity)
        printf("the queue never held more than its capacity of %zu\n", r->capacity);
    else if (!bounded && !opts->timing)
        printf("the queue had no limit (add --timing to see how long it grew, and the memory "
               "it took)\n");

    if (opts->timing) {
        if (bounded)
            printf("queue: at most %zu commands seen at once (capacity %zu)\n",
                   r->max_queue_len_seen, r->capacity);
        else
            printf("queue: at most %zu commands seen at once (no limit)\n",
                   r->max_queue_len_seen);
        printf("time: %ld ms blocked in mpsc_send; the whole flood took %.3f s (%.0f "
               "commands/s)\n",
               r->blocked_ms, (double)r->elapsed_ms / 1000.0,
               r->elapsed_ms > 0 ? (double)r->sent * 1000.0 / (double)r->elapsed_ms : 0.0);
        printf("memory: peak RSS %.1f MiB (peak_rss_kib=%ld)\n",
               (double)r->peak_rss_kib / 1024.0, r->peak_rss_kib);
    }
}

/* Says on stderr what is wrong with the run, if anything; returns the exit
 * status. */
static int judge(const struct options *opts, const struct flood_report *r)
{
    if (r->problem[0] != '\0') {
        fprintf(stderr, "05-backpressure: %s\n", r->problem);
        if (strstr(r->problem, "not implemented yet") != NULL)
            fprintf(stderr, "See docs/05-backpressure.md, \"Refusing when full\".\n");
        return EXIT_WRONG_RESULTS;
    }
    if (!flood_report_balanced(r)) {
        fprintf(stderr,
                "05-backpressure: the counts do not add up: completed %zu + failed %zu + "
                "rejected %zu should be issued %zu, and sent %zu should be issued - rejected\n",
                r->completed, r->failed, r->rejected, r->issued, r->sent);
        return EXIT_WRONG_RESULTS;
    }
    if (r->failed > 0) {
        fprintf(stderr, "05-backpressure: %zu of %zu commands failed (--verbose shows "
                        "Redis's answers)\n", r->failed, r->sent);
        return EXIT_WRONG_RESULTS;
    }
    if (opts->flood.mode != FLOOD_UNBOUNDED && r->max_queue_len_seen > r->capacity) {
        fprintf(stderr, "05-backpressure: the queue held %zu commands, more than its capacity "
                        "of %zu\n", r->max_queue_len_seen, r->capacity);
        return EXIT_WRONG_RESULTS;
    }
    return EXIT_ALL_RIGHT;
}

int main(int argc, char **argv)
{
    struct options opts;
    int parsed = parse_options(argc, argv, &opts);
    if (parsed != 0)
        return parsed > 0 ? EXIT_ALL_RIGHT : EXIT_CANNOT_START;

    /* A write to a connection Redis has closed must fail with EPIPE, not
     * kill the process (see redis_client.h). */
    signal(SIGPIPE, SIG_IGN);

    opts.flood.url = redis_url_from_env();
    opts.flood.log = opts.verbose ? stdout : NULL;
    if (opts.flood.pause_ms > 0)
        printf("Flooding Redis with %zu SETs of %zu bytes while it is paused for %u ms.\n",
               opts.flood.count, opts.flood.value_size, opts.flood.pause_ms);
    else
        printf("Flooding Redis with %zu SETs of %zu bytes.\n", opts.flood.count,
               opts.flood.value_size);
    fflush(stdout);

    struct flood_report report;
    char err[512];
    if (flood_run(&opts.flood, &report, err, sizeof err) != 0) {
        fprintf(stderr, "05-backpressure: %s\n", err);
        if (strstr(err, "not implemented yet") != NULL)
            fprintf(stderr, "See docs/05-backpressure.md, \"No limit at all\".\n");
        return EXIT_CANNOT_START;
    }
    print_report(&opts, &report);
    if (argc == 1)
        printf("(Try --mode try and --mode unbounded, each with --timing; "
               "docs/05-backpressure.md explains what you see.)\n");
    return judge(&opts, &report);
}
