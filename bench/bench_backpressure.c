/*
 * bench_backpressure.c - what a bounded channel buys: peak memory of a
 * chapter-05-style flood, with a bounded channel and with an unbounded one.
 *
 * Producers send SET commands as fast as they can to a manager that
 * executes them on Redis (pipelined, as in chapter 06, so a million
 * commands take a couple of seconds).  Nobody waits for answers: the
 * commands carry no reply channel.  With a bounded channel the producers
 * are held back to the manager's pace and at most CAPACITY commands exist
 * at once; with an unbounded one they run ahead and every command not yet
 * executed sits in memory, its key and value copies included.
 *
 * Each flood runs in a forked child, and its peak resident memory is read
 * with wait4(): one flood's pages never count towards another's, and the
 * parent stays small (it forks before it makes any thread).
 *
 * Exit status: 0; 1 if a flood failed (a command lost or refused by Redis);
 * 2 on a bad option or a failure to start.
 */
/* wait4() is BSD, not POSIX: ask glibc for it. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "mpsc.h"
#include "redis_client.h"

static const char usage[] =
    "usage: bench_backpressure [--out DIR] [--quick | --smoke]\n"
    "Peak RSS of a flood of SET commands through a bounded and an unbounded\n"
    "channel, against $REDIS_URL; writes backpressure.csv and backpressure.md.\n";

enum {
    PRODUCERS = 4,
    CAPACITY = 64,        /* bounded case: more slots than producers */
    BATCH = 256,          /* commands per pipelined round trip */
    VALUE_SIZE = 16,
    KEYS_PER_PRODUCER = 1024,
};

/* A command as chapter 05 sends it: private copies of key and value. */
struct command {
    char *key;
    size_t key_len;
    char *value;
};

static void command_drop(void *elem)
{
    struct command *cmd = elem;
    free(cmd->key);
    free(cmd->value);
}

struct producer {
    struct mpsc_sender *tx;
    size_t index, count;
    size_t refused; /* sends the channel did not take */
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    for (size_t i = 0; i < p->count; i++) {
        char key[48];
        int key_len = snprintf(key, sizeof key, "flood:%zu:%zu", p->index,
                               i % KEYS_PER_PRODUCER);
        struct command cmd = { .key = malloc((size_t)key_len), .key_len = (size_t)key_len,
                               .value = malloc(VALUE_SIZE) };
        if (cmd.key == NULL || cmd.value == NULL) {
            command_drop(&cmd);
            p->refused++;
            continue;
        }
        memcpy(cmd.key, key, (size_t)key_len);
        memset(cmd.value, 'a' + (int)(i % 26), VALUE_SIZE);
        if (mpsc_send(p->tx, &cmd) != CHAN_OK) {
            command_drop(&cmd); /* not taken: still ours */
            p->refused++;
        }
    }
    mpsc_sender_drop(p->tx);
    return NULL;
}

/* The child: one flood of `total` commands.  Exits 0 if every SET was
 * answered OK. */
static int flood(bool bounded, size_t total)
{
    char err[512];
    struct redis_client *client = redis_client_connect(NULL, NULL, err, sizeof err);
    if (client == NULL) {
        fprintf(stderr, "bench_backpressure: %s\n", err);
        return 2;
    }
    struct mpsc_sender *tx;
    struct mpsc_receiver *rx;
    int e = bounded ? mpsc_channel(CAPACITY, sizeof(struct command), command_drop, &tx, &rx)
                    : mpsc_unbounded_channel(sizeof(struct command), command_drop, &tx, &rx);
    if (e != 0) {
        fprintf(stderr, "bench_backpressure: channel: %s\n", strerror(e));
        return 2;
    }
    struct producer ps[PRODUCERS];
    pthread_t ts[PRODUCERS];
    for (size_t i = 0; i < PRODUCERS; i++) {
        ps[i] = (struct producer){ .tx = i + 1 < PRODUCERS ? mpsc_sender_clone(tx) : tx,
                                   .index = i, .count = total / PRODUCERS };
        if (ps[i].tx == NULL || pthread_create(&ts[i], NULL, producer_main, &ps[i]) != 0) {
            fprintf(stderr, "bench_backpressure: cannot start producer %zu\n", i);
            return 2;
        }
    }

    /* The manager, in this thread: take a batch, pipeline it, check. */
    static struct command batch[BATCH];
    size_t n, executed = 0, failed = 0;
    while ((n = mpsc_recv_many(rx, batch, BATCH)) > 0) {
        for (size_t i = 0; i < n; i++) {
            const char *argv[3] = { "SET", batch[i].key, batch[i].value };
            size_t argv_len[3] = { 3, batch[i].key_len, VALUE_SIZE };
            if (redis_client_append(client, 3, argv, argv_len) != 0)
                failed++;
        }
        for (size_t i = 0; i < n; i++) {
            struct redis_result r = redis_client_read_reply(client);
            if (r.kind != REDIS_RESULT_OK && failed++ == 0)
                fprintf(stderr, "bench_backpressure: SET answered %s\n",
                        redis_result_kind_name(r.kind));
            redis_result_free(&r);
            command_drop(&batch[i]);
        }
        executed += n;
    }
    size_t refused = 0;
    for (size_t i = 0; i < PRODUCERS; i++) {
        pthread_join(ts[i], NULL);
        refused += ps[i].refused;
    }
    mpsc_receiver_drop(rx);
    redis_client_free(client);
    if (failed != 0 || refused != 0 || executed != total / PRODUCERS * PRODUCERS) {
        fprintf(stderr, "bench_backpressure: %s flood of %zu: %zu executed, %zu failed, "
                        "%zu refused\n", bounded ? "bounded" : "unbounded", total, executed,
                failed, refused);
        return 1;
    }
    return 0;
}

/* Runs one flood in a child; returns its peak RSS in KiB, *seconds its
 * duration, or NaN (and says why) if it failed. */
static double measure(bool bounded, size_t total, double *seconds)
{
    fflush(stdout);
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_backpressure: fork");
        exit(2);
    }
    if (pid == 0)
        _exit(flood(bounded, total));
    int status;
    struct rusage child;
    if (wait4(pid, &status, 0, &child) != pid) {
        perror("bench_backpressure: wait4");
        exit(2);
    }
    *seconds = (double)(bench_now_ns() - t0) / 1e9;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return NAN;
    return (double)child.ru_maxrss; /* KiB on Linux */
}

#define MAX_REPS 3
#define MAX_SIZES 3

int main(int argc, char **argv)
{
    struct bench_options opts;
    bench_parse_options(argc, argv, usage, &opts);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    static const size_t full_sizes[] = { 10000, 100000, 1000000 };
    static const size_t quick_sizes[] = { 10000, 100000 };
    static const size_t smoke_sizes[] = { 1000 };
    const size_t *sizes = opts.mode == BENCH_FULL ? full_sizes
                          : opts.mode == BENCH_QUICK ? quick_sizes : smoke_sizes;
    size_t size_count = opts.mode == BENCH_FULL ? 3 : opts.mode == BENCH_QUICK ? 2 : 1;

    static double rss[2][MAX_SIZES][MAX_REPS], secs[2][MAX_SIZES][MAX_REPS];
    bool failed = false;
    uint64_t started = bench_now_ns();
    printf("bench_backpressure: %d producers flood a pipelined manager; bounded capacity %d; "
           "%d repetitions\n", PRODUCERS, CAPACITY, opts.reps);
    for (int rep = 0; rep < opts.reps; rep++)
        for (size_t s = 0; s < size_count; s++)
            for (int b = 1; b >= 0; b--) {
                rss[b][s][rep] = measure(b, sizes[s], &secs[b][s][rep]);
                failed |= isnan(rss[b][s][rep]);
            }

    bench_report_open(&opts, "backpressure.md");
    bench_report("\n### Backpressure: peak memory of a flood\n\n"
                 "%d producers send SET commands (16-byte values, private key and value "
                 "copies) as fast as they can to a pipelining manager; each flood runs in "
                 "its own process and its peak RSS is read with wait4(). Median of %d, "
                 "min-max.\n\n", PRODUCERS, opts.reps);
    bench_report("| commands | bounded (capacity %d) peak RSS | unbounded peak RSS | bounded s "
                 "| unbounded s |\n|---:|---:|---:|---:|---:|\n", CAPACITY);
    FILE *csv = bench_open_output(&opts, "backpressure.csv");
    fprintf(csv, "queue,commands,reps,peak_rss_kib,rss_min_kib,rss_max_kib,seconds\n");
    struct bench_stat st[2][MAX_SIZES];
    for (size_t s = 0; s < size_count; s++) {
        double t[2];
        for (int b = 0; b < 2; b++) {
            st[b][s] = bench_stat_of(rss[b][s], (size_t)opts.reps);
            t[b] = bench_stat_of(secs[b][s], (size_t)opts.reps).median;
        }
        bench_report("| %zu | %.1f MiB (%.1f-%.1f) | %.1f MiB (%.1f-%.1f) | %.2f | %.2f |\n",
                     sizes[s], st[1][s].median / 1024, st[1][s].min / 1024,
                     st[1][s].max / 1024, st[0][s].median / 1024, st[0][s].min / 1024,
                     st[0][s].max / 1024, t[1], t[0]);
    }
    /* Bounded rows first, then unbounded: one plot line each. */
    for (int b = 1; b >= 0; b--)
        for (size_t s = 0; s < size_count; s++)
            fprintf(csv, "%s,%zu,%d,%.0f,%.0f,%.0f,%.3f\n", b ? "bounded" : "unbounded",
                    sizes[s], opts.reps, st[b][s].median, st[b][s].min, st[b][s].max,
                    bench_stat_of(secs[b][s], (size_t)opts.reps).median);
    fclose(csv);
    if (size_count > 1) {
        double growth = st[1][size_count - 1].median / st[1][0].median - 1;
        bench_target(&opts, "bounded peak RSS flat within 10%% from %zu to %zu commands: "
                     "%+.1f%%, %s\n", sizes[0], sizes[size_count - 1], 100 * growth,
                     fabs(growth) <= 0.10 ? "met" : "missed");
    }
    bench_report_close();
    printf("bench_backpressure: %.1f s\n", (double)(bench_now_ns() - started) / 1e9);
    if (failed) {
        fprintf(stderr, "bench_backpressure: a flood failed (see above)\n");
        return 1;
    }
    return 0;
}
