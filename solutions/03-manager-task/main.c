/*
 * main.c - chapter 03: worker threads send SET commands to a manager thread
 * that owns the one Redis connection.
 *
 *     03-manager-task [--threads N] [--iterations N] [--verbose] [--timing]
 *
 * Each worker SETs keys of its own through the channel.  The workers get no
 * reply yet (that is chapter 04), so once everything has ended main checks
 * the result the only way it can: it opens a SEPARATE connection and reads
 * every key back.
 *
 * Output is deterministic: per-thread lines are collected while running and
 * printed in thread order after the join.  --verbose adds the manager's log
 * of every command, --timing the elapsed time.
 * Exit status: 0 all went well, 1 wrong results or errors, 2 could not
 * start (bad option, Redis unreachable).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "command.h"
#include "manager.h"
#include "mpsc.h"
#include "redis_client.h"

enum { EXIT_ALL_RIGHT = 0, EXIT_WRONG_RESULTS = 1, EXIT_CANNOT_START = 2 };

#define MAX_THREADS 1024L
#define MAX_ITERATIONS 100000000L

/* Why 32: enough room that workers rarely wait for the manager, small
 * enough that a slow Redis makes them wait (backpressure, chapter 05)
 * instead of piling up commands in memory.  It is Tokio's number too. */
#define CHANNEL_CAPACITY 32

/* How long main waits for the manager after the last worker finished.  A
 * correct program needs a few milliseconds (at most 32 queued commands are
 * left); a program that forgot to drop a sender would wait for ever. */
#define MANAGER_END_TIMEOUT_MS 10000

struct options {
    long threads;
    long iterations;
    bool verbose;
    bool timing;
};

struct worker {
    int id;                    /* 1, 2, ...: names the keys and the values */
    long iterations;
    const char *run_tag;       /* makes this run's values unique */
    struct mpsc_sender *tx;    /* this worker's own handle to the channel */
    long sent;                 /* commands the channel accepted */
    bool ok;
    char line[256];            /* the summary main prints after the join */
};

/* ---- Keys and values ------------------------------------------------------ */

static int key_of(char *buf, size_t size, int thread, long i)
{
    return snprintf(buf, size, "ch03:thread:%d:%ld", thread, i);
}

/* The run tag (pid and start time) keeps a key written by an earlier run
 * from passing the check of this one. */
static int value_of(char *buf, size_t size, const char *run_tag, int thread, long i)
{
    return snprintf(buf, size, "thread %d iteration %ld (run %s)", thread, i, run_tag);
}

/* ---- The worker ------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->ok = true;
    if (w->tx == NULL) {
        w->ok = false;
        snprintf(w->line, sizeof w->line,
                 "thread %d: sent nothing: it has no sender of its own (mpsc_sender_clone "
                 "failed or was never called)", w->id);
        return NULL;
    }
    //> snippet worker_loop
    for (long i = 1; i <= w->iterations; i++) {
        char key[64], value[128];
        int key_len = key_of(key, sizeof key, w->id, i);
        int value_len = value_of(value, sizeof value, w->run_tag, w->id, i);
        struct command cmd;
        if (command_set(&cmd, key, (size_t)key_len, value, (size_t)value_len) != 0) {
            w->ok = false;
            snprintf(w->line, sizeof w->line, "thread %d: sent %ld of %ld SET commands; "
                     "stopped: out of memory", w->id, w->sent, w->iterations);
            break;
        }
        if (mpsc_send(w->tx, &cmd) != CHAN_OK) {
            /* CHAN_CLOSED: the manager is gone.  A failed send leaves the
             * command with us, so we free it. */
            command_free(&cmd);
            w->ok = false;
            snprintf(w->line, sizeof w->line,
                     "thread %d: sent %ld of %ld SET commands; stopped: the manager is gone "
                     "(the channel is closed)", w->id, w->sent, w->iterations);
            break;
        }
        w->sent++; /* the channel owns the command now; `cmd` is a stale copy */
    }
    //< snippet worker_loop
    if (w->ok)
        snprintf(w->line, sizeof w->line, "thread %d: sent %ld SET commands", w->id, w->sent);
    //> snippet worker_drop
    //> exercise 03
    //> pitfall worker-keeps-sender
    /* Done sending: give up our handle.  Until every handle is gone the
     * manager must assume more commands may come. */
    mpsc_sender_drop(w->tx);
    w->tx = NULL;
    //| mistake
    //| /* the worker ends without dropping its sender */
    //< pitfall worker-keeps-sender
    //| starter
    //| // TODO(03): this worker is done sending: drop its sender
    //| // (mpsc_sender_drop), or the manager will wait for it for ever.
    //< exercise 03
    //< snippet worker_drop
    return NULL;
}

/* ---- Checking the result through a second connection ---------------------- */

/* Reads every key back and compares.  Returns 0 (all there), 1 (some wrong
 * or missing, reported on stderr) or 2 (could not connect). */
static int verify(const char *url, const struct options *opts, const char *run_tag)
{
    char err[512];
    struct redis_client *check = redis_client_connect(url, NULL, err, sizeof err);
    if (check == NULL) {
        fprintf(stderr, "03-manager-task: cannot open the checking connection: %s\n", err);
        return EXIT_CANNOT_START;
    }
    long total = opts->threads * opts->iterations, wrong = 0;
    for (int t = 1; t <= opts->threads; t++) {
        for (long i = 1; i <= opts->iterations; i++) {
            char key[64], value[128];
            int key_len = key_of(key, sizeof key, t, i);
            int value_len = value_of(value, sizeof value, run_tag, t, i);
            struct redis_result r = redis_client_get(check, key, (size_t)key_len);
            bool same = r.kind == REDIS_RESULT_VALUE && r.len == (size_t)value_len &&
                        memcmp(r.data, value, r.len) == 0;
            if (!same && wrong++ == 0)
                fprintf(stderr, "03-manager-task: key %s should hold \"%s\" but GET gave %s%s%s\n",
                        key, value, redis_result_kind_name(r.kind),
                        r.data != NULL ? " " : "", r.data != NULL ? r.data : "");
            redis_result_free(&r);
        }
    }
    redis_client_free(check);
    if (wrong > 0) {
        printf("verification: %ld of %ld keys missing or wrong\n", wrong, total);
        return EXIT_WRONG_RESULTS;
    }
    printf("verified %ld keys through a separate connection\n", total);
    return EXIT_ALL_RIGHT;
}

/* ---- Options ------------------------------------------------------------------ */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: 03-manager-task [--threads N] [--iterations N] [--verbose] [--timing]\n"
            "Starts N threads that send SET commands for keys of their own to one manager\n"
            "thread, which owns the Redis connection; then reads every key back through a\n"
            "second connection.\n"
            "  --threads N     threads sending commands (default 4)\n"
            "  --iterations N  SET commands per thread (default 100)\n"
            "  --verbose       the manager logs every command it runs, to stdout\n"
            "  --timing        also print how long the run took\n"
            "Redis: $REDIS_URL (default " REDIS_DEFAULT_URL "); `make run-03` starts one.\n");
}

/* Returns 0 to run, 1 when --help was answered, -1 on a bad option (with a
 * message on stderr). */
static int parse_options(int argc, char **argv, struct options *opts)
{
    *opts = (struct options){ .threads = 4, .iterations = 100 };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(stdout);
            return 1;
        } else if (strcmp(arg, "--verbose") == 0) {
            opts->verbose = true;
        } else if (strcmp(arg, "--timing") == 0) {
            opts->timing = true;
        } else if (strcmp(arg, "--threads") == 0 || strcmp(arg, "--iterations") == 0) {
            bool threads = strcmp(arg, "--threads") == 0;
            long max = threads ? MAX_THREADS : MAX_ITERATIONS;
            if (i + 1 == argc || !cli_parse_count(argv[i + 1], 1, max, threads ? &opts->threads
                                                                        : &opts->iterations)) {
                fprintf(stderr, "03-manager-task: %s needs a number from 1 to %ld\n", arg, max);
                return -1;
            }
            i++;
        } else {
            fprintf(stderr, "03-manager-task: unknown option '%s'\n", arg);
            print_usage(stderr);
            return -1;
        }
    }
    return 0;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Waits for the manager thread to end, but not for ever: a forgotten
 * sender would keep it waiting for commands that never come, and a learner
 * is better served by a message than by a terminal that just sits there. */
static bool wait_for_manager(const struct manager *m)
{
    for (long waited = 0; waited < MANAGER_END_TIMEOUT_MS; waited += 10) {
        if (manager_finished(m))
            return true;
        sleep_ms(10);
    }
    return manager_finished(m);
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

    const char *url = redis_url_from_env();
    char run_tag[48];
    snprintf(run_tag, sizeof run_tag, "%ld.%ld", (long)getpid(), (long)time(NULL));

    struct manager manager = { .log = opts.verbose ? stdout : NULL };
    struct mpsc_sender *tx;
    char err[512];
    if (manager_start(&manager, url, CHANNEL_CAPACITY, &tx, err, sizeof err) != 0) {
        fprintf(stderr, "03-manager-task: %s\n", err);
        return EXIT_CANNOT_START;
    }

    struct worker *workers = calloc((size_t)opts.threads, sizeof *workers);
    pthread_t *threads = calloc((size_t)opts.threads, sizeof *threads);
    if (workers == NULL || threads == NULL) {
        fprintf(stderr, "03-manager-task: out of memory\n");
        return EXIT_CANNOT_START; /* exiting ends the manager thread too */
    }
    printf("%ld %s send SET commands to one manager thread, which owns the connection: "
           "%ld each\n", opts.threads, opts.threads == 1 ? "thread" : "threads", opts.iterations);
    fflush(stdout);

    double started_at = seconds_now();
    long running = 0;
    //> snippet spawn_workers
    for (long i = 0; i < opts.threads; i++) {
        struct worker *w = &workers[i];
        *w = (struct worker){ .id = (int)i + 1, .iterations = opts.iterations,
                              .run_tag = run_tag };
        //> exercise 03
        /* Each worker gets a handle of its own, and drops it when done. */
        w->tx = mpsc_sender_clone(tx);
        //| starter
        //| // TODO(03): give each worker a sender of its own (mpsc_sender_clone).
        //| w->tx = NULL;
        //< exercise 03
        int rc = pthread_create(&threads[i], NULL, worker_main, w);
        if (rc != 0) {
            fprintf(stderr, "03-manager-task: cannot start thread %ld: %s\n", i + 1,
                    strerror(rc));
            mpsc_sender_drop(w->tx);
            break;
        }
        running++;
    }
    //> exercise 03
    //> pitfall main-drops-late
    /* main sends nothing itself, so it drops the sender manager_start gave
     * it - now, not at the end: the manager runs until the LAST sender is
     * dropped, and main's own would keep it waiting for ever. */
    mpsc_sender_drop(tx);
    //| mistake
    //| /* main keeps its sender until the clean-up at the end */
    //< pitfall main-drops-late
    //| starter
    //| // TODO(03): main sends nothing itself: drop its sender here, once
    //| // every worker has its own clone.
    //< exercise 03
    //< snippet spawn_workers
    for (long i = 0; i < running; i++)
        pthread_join(threads[i], NULL);

    /* Every thread has ended: reading their results needs no lock. */
    bool all_sent = running == opts.threads;
    for (long i = 0; i < running; i++) {
        printf("%s\n", workers[i].line);
        all_sent = all_sent && workers[i].ok;
    }
    free(threads);
    free(workers);

    if (!wait_for_manager(&manager)) {
        fflush(stdout);
        fprintf(stderr,
                "03-manager-task: every thread has finished, but the manager is still waiting "
                "for commands %d s later.\n"
                "Some sender was never dropped: each thread must drop its own, and main the "
                "one manager_start gave it.\n"
                "See docs/03-manager-task.md, \"When the manager never ends\".\n",
                MANAGER_END_TIMEOUT_MS / 1000);
        return EXIT_WRONG_RESULTS; /* the manager is stuck in mpsc_recv: exit without it */
    }
    manager_join(&manager);
    //> pitfall main-drops-late
    //| mistake
    //| mpsc_sender_drop(tx); /* with the other clean-up: after the join, too late */
    //< pitfall main-drops-late
    double elapsed = seconds_now() - started_at;

    printf("manager: executed %zu commands, %zu failed\n", manager.executed, manager.failed);
    if (opts.timing)
        printf("time: %.3f s for %zu commands (%.0f commands/s)\n", elapsed, manager.executed,
               elapsed > 0 ? (double)manager.executed / elapsed : 0.0);

    int status = verify(url, &opts, run_tag);
    if (status == EXIT_CANNOT_START)
        return status;
    if (running < opts.threads)
        return EXIT_CANNOT_START;
    if (!all_sent || manager.failed > 0 || status != EXIT_ALL_RIGHT) {
        fprintf(stderr, "03-manager-task: not every SET reached Redis (see the report above).\n"
                        "See docs/03-manager-task.md, \"The receive loop\" and \"One sender "
                        "per thread\".\n");
        return EXIT_WRONG_RESULTS;
    }
    return EXIT_ALL_RIGHT;
}
