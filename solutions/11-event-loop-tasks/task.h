/*
 * task.h - tasks on the event loop: many small state machines sharing one
 * connection (loop_client.h), with no thread of their own.
 *
 * A task is what a Tokio task is underneath: a struct that holds
 * everything the work needs between two steps (its key, its value, which
 * round it is in, what it is waiting for), and a function that takes the
 * next step when the answer it waits for arrives - its continuation.
 * Waiting costs nothing: a task that waits is just its struct, sitting
 * until the loop calls its continuation.
 *
 *     spawn ──► SET key v0 ──reply──► GET key ──reply: v0?──► SET key v1 ──► ... ──► finish
 *                (send, return)          (send, return)          (send, return)       (free)
 *
 * Each task of a run makes `rounds` rounds of SET then GET on a key of its
 * own, and checks that every GET returns the value it has just set: a
 * reply delivered to the wrong task is caught.
 */
#ifndef TASK_H
#define TASK_H

#include <stddef.h>
#include <stdio.h>

#include "loop_client.h"

/* Values are at least this long, so that each one names its task and
 * round ("t9999:r99:" and letters). */
#define TASK_MIN_VALUE_SIZE 16

struct task_options {
    size_t tasks;           /* how many, at least 1 */
    size_t rounds;          /* SET + GET rounds per task, at least 1 */
    size_t value_size;      /* bytes per value, at least TASK_MIN_VALUE_SIZE */
    const char *key_prefix; /* keys are "<prefix>:<id>"; NULL: "ch11" */
    FILE *log;              /* a line per task that ends, or NULL */
};

struct task_report {
    size_t succeeded;       /* tasks that made every round, every GET right */
    size_t failed;          /* tasks that stopped on an error or a wrong value */
    size_t commands;        /* answers the tasks received, errors included */
    size_t wrong_values;    /* GETs that did not return the task's own value */
    /* The connection's figures (loop_client), copied by task_run. */
    size_t sent, max_in_flight, max_waiting, window;
    size_t wakeups;         /* thread_run: times the threads woke the loop */
    /* What the run cost this process (all its threads), from getrusage:
     * for --timing and the benchmark. */
    double seconds, cpu_seconds;
    long sleeps;            /* voluntary context switches */
    long peak_rss_kib;
    char problem[600];      /* the first thing that went wrong; "" if nothing */
};

/* What the tasks of one run share. */
struct task_group {
    struct loop_client *client;
    struct task_options opts;
    struct task_report *report;
    size_t live;            /* tasks not finished; the last one closes the connection */
};

/*
 * Spawns opts->tasks tasks (tokio::spawn): each sends its first command at
 * once, or waits in the window's line.  They run when the loop runs, and
 * when the last one has finished, the connection is closed, so the loop
 * ends.  Returns how many were spawned (fewer only when memory ran out;
 * the report says so).
 */
size_t task_group_start(struct task_group *g, struct loop_client *client,
                        const struct task_options *opts, struct task_report *report);

/*
 * The whole run on the caller's thread: a loop, a connection to `url`
 * (NULL: $REDIS_URL) with a window of `window` commands, the tasks, and
 * the loop run until they have all finished.  Returns 0 when it ran
 * (failures are in the report), -1 with a message in err[errlen] when it
 * could not start (bad URL, no server).
 */
int task_run(const char *url, size_t window, const struct task_options *opts,
             struct task_report *report, char *err, size_t errlen);

/* Checks an answer: OK for a SET (value NULL), exactly value[0..value_size)
 * for a GET.  A wrong one is counted (wrong_values, for a GET that got
 * another value or nil) and, if it is the first problem of the run, told
 * in report->problem as "<who> <id>, round <round>: ...".  True if right.
 * (bridge.c's threads check theirs with it too.) */
bool task_check(struct task_report *report, const char *who, size_t id, size_t round,
                const struct redis_result *r, const char *value, size_t value_size);

/* Start and end of the cost figures of *report (task_run and thread_run
 * call them). */
void task_cost_begin(struct task_report *report);
void task_cost_end(struct task_report *report);

/* The key of task `id` and its value in round `round`, value_size bytes
 * (bridge.c's threads use the same ones).  task_key returns the length. */
size_t task_key(char *buf, size_t size, const char *prefix, size_t id);
void task_value(char *value, size_t value_size, size_t id, size_t round);

#endif
