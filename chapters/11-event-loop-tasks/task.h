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
 * reply delivered to the wrong task is caught.  Tasks are numbered from 1.
 *
 * What a run counts goes into one report slot (report.h): `done`, the tasks
 * that made every round right; `wrong`, the GETs that returned another
 * value; `errors`, the commands that failed; `problem`, the first thing
 * that went wrong.  A task stops at its first wrong answer or error.
 */
#ifndef TASK_H
#define TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "loop_client.h"
#include "report.h"

/* Values are at least this long, so that each one names its task and
 * round ("t9999:r99:" and letters). */
#define TASK_MIN_VALUE_SIZE 16

struct task_options {
    size_t tasks;           /* how many, at least 1 */
    size_t rounds;          /* SET + GET rounds per task, at least 1 */
    size_t value_size;      /* bytes per value, at least TASK_MIN_VALUE_SIZE */
    const char *key_prefix; /* keys are "<prefix>:<id>" */
    FILE *log;              /* a line per task that ends, or NULL */
};

/* What the tasks of one run share. */
struct task_group {
    struct loop_client *client;
    struct task_options opts;
    struct report_slot *out;
    size_t live;            /* tasks not finished; the last one closes the connection */
};

/*
 * Spawns opts->tasks tasks (tokio::spawn): each sends its first command at
 * once, or waits in the window's line.  They run when the loop runs, and
 * when the last one has finished, the connection is closed, so the loop
 * ends.  Counts go to *out (see above).
 */
void task_group_start(struct task_group *g, struct loop_client *client,
                      const struct task_options *opts, struct report_slot *out);

/*
 * The whole run on the caller's thread: a loop, a connection to `url`
 * (NULL: $REDIS_URL) with a window of `window` commands, the tasks, and
 * the loop run until they have all finished.  *lc keeps the connection's
 * counters afterwards.  Returns 0 when it ran (failures are in *out), -1
 * with a message in err[errlen] when it could not start (bad URL, no
 * server).
 */
int task_run(struct loop_client *lc, const char *url, size_t window,
             const struct task_options *opts, struct report_slot *out, char *err, size_t errlen);

/* Checks an answer: OK for a SET (value NULL), exactly value[0..value_size)
 * for a GET.  A wrong one is counted in *out (`wrong` for a GET that got
 * another value or nil, `errors` otherwise) and told as the problem, if it
 * is the first: "<who> <id>, round <round>: ...".  True if right.
 * (bridge.c's threads check theirs with it too.) */
bool task_check(struct report_slot *out, const char *who, size_t id, size_t round,
                const struct redis_result *r, const char *value, size_t value_size);

/* The key of task `id` and its value in round `round`, value_size bytes
 * (bridge.c's threads use the same ones).  task_key returns the length. */
size_t task_key(char *buf, size_t size, const char *prefix, size_t id);
void task_value(char *value, size_t value_size, size_t id, size_t round);

#endif
