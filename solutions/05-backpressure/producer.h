/*
 * producer.h - chapter 05's experiment: one producer floods the manager
 * with SETs while Redis is paused, and the channel between them decides
 * what happens to the surplus.
 *
 *     producer ──SET, SET, SET, ...──► [ channel ] ──► manager ──► Redis (paused)
 *      fast                             capacity?        slow        stalled
 *
 * Three ways to send, one per mode:
 *
 *   FLOOD_BLOCK      bounded channel, mpsc_send: when the channel is full
 *                    the producer waits for room.  It slows down to the
 *                    pace of Redis; memory stays flat.  That is backpressure.
 *   FLOOD_TRY        bounded channel, mpsc_try_send: when the channel is
 *                    full the command is refused at once (CHAN_FULL) and
 *                    the producer decides what to do; here it counts it as
 *                    rejected and frees it.  Memory stays flat, work is lost
 *                    - visibly.
 *   FLOOD_UNBOUNDED  unbounded channel: every send succeeds at once, and
 *                    every command Redis cannot take yet waits in memory.
 *
 * Every command is fire and forget (reply NULL): nobody waits for its
 * answer, so the manager's counters say how each one ended.
 */
#ifndef PRODUCER_H
#define PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum flood_mode {
    FLOOD_BLOCK,
    FLOOD_TRY,
    FLOOD_UNBOUNDED,
};

/* Chapter 03's capacity, still the default. */
#define FLOOD_DEFAULT_CAPACITY 32

struct flood_options {
    const char *url;        /* NULL: $REDIS_URL */
    enum flood_mode mode;
    size_t count;           /* SETs to issue, at least 1 */
    size_t value_size;      /* bytes per value */
    size_t capacity;        /* the channel's, in the bounded modes; 0 means
                               FLOOD_DEFAULT_CAPACITY; ignored when unbounded */
    unsigned pause_ms;      /* CLIENT PAUSE Redis this long before the flood
                               (0: no pause).  Keep it well below the
                               manager's 10 s command timeout. */
    const char *key_prefix; /* keys are "<prefix>:<n>", n = 0..count-1;
                               NULL means "ch05:flood" */
    FILE *log;              /* live log (producer and manager), or NULL */
};

struct flood_report {
    /* The producer's side. */
    size_t issued;             /* commands built and offered to the channel */
    size_t sent;               /* ...that the channel took */
    size_t rejected;           /* ...that it refused: full (FLOOD_TRY), or
                                  closed because the manager had stopped */
    /* The manager's side, read after it ended. */
    size_t completed;          /* Redis answered OK */
    size_t failed;             /* an error reply, or the connection was lost */
    /* What the flood did to the queue and to the producer. */
    size_t capacity;           /* the channel's; SIZE_MAX when unbounded */
    size_t max_queue_len_seen; /* mpsc_sender_len, sampled after each send */
    long blocked_ms;           /* time spent inside mpsc_send, in total */
    long elapsed_ms;           /* from the first send to the manager's end */
    long peak_rss_kib;         /* this process's peak resident memory (VmHWM) */
    char problem[1024];        /* what went wrong during the run; "" if nothing */
};

/* "block", "try", "unbounded", in the order of enum flood_mode, then NULL:
 * the choices of a --mode option (cli.h). */
extern const char *const flood_mode_names[];
const char *flood_mode_name(enum flood_mode mode);

/* The report's bookkeeping: every command issued was either refused by the
 * channel or taken and then completed or failed.
 *     completed + failed + rejected == issued,  sent == issued - rejected */
bool flood_report_balanced(const struct flood_report *report);

/*
 * Starts a manager on `opts->url`, pauses Redis if asked, sends
 * `opts->count` SETs of `opts->value_size` bytes in the chosen mode, drops
 * the sender, waits for the manager to end and fills *report.
 * Returns 0 when the flood ran (failures during the run are in the report:
 * `failed`, `problem`), or -1 with a message in err[errlen] when it could
 * not start (bad options, Redis unreachable, the pause refused).
 */
int flood_run(const struct flood_options *opts, struct flood_report *report, char *err,
              size_t errlen);

/* Prints what the flood did, on `out`: the same on every run unless
 * `timing` adds what depends on timing (refusals in try mode, how long the
 * queue grew, time blocked, peak memory as peak_rss_kib=N). */
void flood_print_report(const struct flood_options *opts, const struct flood_report *report,
                        bool timing, FILE *out);

/* Says on stderr, after "PROGRAM: ", what went wrong with the run, if
 * anything: a problem, counts that do not add up, failed commands, a
 * queue longer than its capacity.  Returns the exit status (report.h). */
int flood_judge(const char *program, const struct flood_options *opts,
                const struct flood_report *report);

#endif
