/*
 * flood.h - the report of the flood in chapters 05 and 06: what happened
 * to every command a producer pushed through a channel faster than Redis
 * could take them, printed the same way by both programs and judged into
 * an exit status (report.h).
 *
 * The flood itself - the sends, the channel, the manager - is the
 * chapters' code (producer.c, manager.c).  They fill a struct flood_report
 * while they run; this module only reads it:
 *
 *     struct flood_report r;            filled by the chapter's flood_run
 *     flood_print_report(&r, timing, stdout);
 *     return flood_judge("05-backpressure", &r, NULL);
 *
 * What a run prints is the same on every run unless `timing` is set: the
 * counts that depend on how fast the manager happened to be (refusals in
 * try mode, how long the queue grew, time blocked, batches, peak memory)
 * appear only then.
 */
#ifndef FLOOD_H
#define FLOOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* How the producer sends when the channel is full. */
enum flood_mode {
    FLOOD_BLOCK,     /* bounded channel, mpsc_send: the producer waits for room */
    FLOOD_TRY,       /* bounded channel, mpsc_try_send: the command is refused */
    FLOOD_UNBOUNDED, /* unbounded channel: never full, the queue grows */
};

/* "block", "try", "unbounded", in the order of enum flood_mode, then NULL:
 * the choices of a --mode option (cli.h). */
extern const char *const flood_mode_names[];

/* The mode's name, or "?" for a value outside the enum. */
const char *flood_mode_name(enum flood_mode mode);

struct flood_report {
    enum flood_mode mode;
    size_t capacity;           /* the channel's; SIZE_MAX when unbounded */
    /* The producer's side. */
    size_t issued;             /* commands built and offered to the channel */
    size_t sent;               /* ...that the channel took */
    size_t rejected;           /* ...that it refused: full (FLOOD_TRY), or
                                  closed because the manager had stopped */
    /* The manager's side, read after it ended. */
    size_t completed;          /* Redis answered OK */
    size_t failed;             /* an error reply, or the connection was lost */
    /* What the flood did to the queue, the producer and the process. */
    size_t max_queue_len_seen; /* mpsc_sender_len, sampled after each send */
    size_t batches;            /* pipelines the manager wrote; 0 if it does
                                  not pipeline (chapter 05) */
    size_t largest_batch;      /* the most commands in one of them */
    double blocked_s;          /* time spent inside mpsc_send, in total */
    long elapsed_ms;           /* from the first send to the manager's end */
    long peak_rss_kib;         /* this process's peak resident memory */
    char problem[1024];        /* what went wrong during the run; "" if nothing */
};

/* The bookkeeping of a run: every command issued was either refused by
 * the channel or taken and then completed or failed.
 *     completed + failed + rejected == issued,  sent == issued - rejected */
bool flood_report_balanced(const struct flood_report *report);

/* Prints what the flood did, on `out`: the mode, the counts, whether they
 * add up and whether the queue kept its bound; with `timing`, the queue's
 * longest length, time blocked, the rate, the batches and the peak memory
 * (as peak_rss_kib=N, for a test to read). */
void flood_print_report(const struct flood_report *report, bool timing, FILE *out);

/* Says on stderr, after "PROGRAM: ", what went wrong with the run, if
 * anything: a problem, counts that do not add up, failed commands, a
 * queue longer than its capacity.  When every command sent failed, the
 * chapter's own step is the likely cause: `advice` (what to write, where
 * to read up; NULL for none) follows on the next line.  Returns the exit
 * status (report.h). */
int flood_judge(const char *program, const struct flood_report *report, const char *advice);

#endif
