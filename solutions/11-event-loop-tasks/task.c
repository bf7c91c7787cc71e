/*
 * task.c - the tasks (see task.h).
 *
 * Read it in the order a task lives:
 *   task_spawn      allocate the state, take the first step
 *   send_step       build this step's command and hand it over: the step ends
 *   task_on_reply   the continuation: look at the answer, take the next step
 *   task_finish     count, log, free the state: the task is gone
 */
#include "task.h"

#include <stdlib.h>
#include <string.h>

enum task_step { TASK_SET, TASK_GET };

//> snippet task_state
struct task {
    struct loop_request req;  /* its one command: in flight, or waiting in line */
    struct task_group *group;
    size_t id;                /* 1, 2, ... */
    size_t round;             /* 0 .. rounds-1 */
    enum task_step step;      /* what the command in `req` is */
    char key[128];
    size_t key_len;
    char value[];             /* this round's value, opts.value_size bytes */
};
//< snippet task_state

/* The continuation receives the request; the task is the struct around it. */
static struct task *task_of(struct loop_request *req)
{
    return (struct task *)((char *)req - offsetof(struct task, req));
}

size_t task_key(char *buf, size_t size, const char *prefix, size_t id)
{
    int n = snprintf(buf, size, "%.96s:%zu", prefix, id);
    return (size_t)n < size ? (size_t)n : size - 1;
}

void task_value(char *value, size_t value_size, size_t id, size_t round)
{
    /* "t<id>:r<round>:", then a letter that depends on both. */
    char head[48];
    size_t n = (size_t)snprintf(head, sizeof head, "t%zu:r%zu:", id, round);
    n = n < value_size ? n : value_size;
    memcpy(value, head, n);
    memset(value + n, 'a' + (int)((id + round) % 26), value_size - n);
}

bool task_check(struct report_slot *out, const char *who, size_t id, size_t round,
                const struct redis_result *r, const char *value, size_t value_size)
{
    if (value == NULL ? r->kind == REDIS_RESULT_OK
                      : r->kind == REDIS_RESULT_VALUE && r->len == value_size &&
                            memcmp(r->data, value, value_size) == 0)
        return true;
    bool wrong = value != NULL && (r->kind == REDIS_RESULT_VALUE || r->kind == REDIS_RESULT_NIL);
    out->wrong += wrong;
    out->errors += !wrong;
    char got[REPORT_RESULT_SIZE];
    report_problem(out, "%s %zu, round %zu: %s gave %s", who, id, round,
                   value == NULL ? "SET" : "GET", report_describe_result(r, got, sizeof got));
    return false;
}

/* ---- Steps --------------------------------------------------------------------- */

/* The task is over: it counts itself, and frees its own state - nobody
 * else holds it.  The last task to finish closes the connection. */
static void task_finish(struct task *t, bool ok)
{
    struct task_group *g = t->group;
    g->out->done += ok;
    if (g->opts.log != NULL)
        fprintf(g->opts.log, "task %zu: %s after %zu rounds\n", t->id, ok ? "done" : "FAILED",
                t->round);
    //> pitfall task-leaks-state
    free(t);
    //| mistake
    //| /* the task's state is never freed */
    //< pitfall task-leaks-state
    if (--g->live == 0)
        loop_client_close(g->client);
}

/* Builds the command for the step the task is at and hands it over.  Make
 * it the LAST thing a step does: from here on the continuation may run at
 * any time - even before loop_client_send returns, when the connection is
 * already gone - and it may end the task and free it. */
static void send_step(struct task *t)
{
    struct loop_request *req = &t->req;
    size_t value_size = t->group->opts.value_size;
    req->argv[1] = t->key;
    req->argv_len[1] = t->key_len;
    if (t->step == TASK_SET) {
        task_value(t->value, value_size, t->id, t->round);
        req->argc = 3;
        req->argv[0] = "SET";
        req->argv[2] = t->value;
        req->argv_len[2] = value_size;
    } else {
        req->argc = 2;
        req->argv[0] = "GET";
    }
    req->argv_len[0] = 3;
    loop_client_send(t->group->client, req);
}

/* True if `r` is the right answer to the task's command: OK for its SET,
 * for its GET exactly the value it has just set.  If not, the report says
 * what was wrong. */
static bool answer_is_right(struct task *t, const struct redis_result *r)
{
    return task_check(t->group->out, "task", t->id, t->round, r,
                      t->step == TASK_GET ? t->value : NULL, t->group->opts.value_size);
}

/* The continuation: the loop calls it with the answer to the task's
 * command, and it takes the task's next step. */
//> snippet task_on_reply
static void task_on_reply(struct loop_request *req, struct redis_result result)
{
    struct task *t = task_of(req);
    //> exercise 11
    bool ok = answer_is_right(t, &result);
    //> pitfall task-leaks-reply
    redis_result_free(&result); /* the task's copy of the reply */
    //| mistake
    //| /* the result is never freed */
    //< pitfall task-leaks-reply
    if (!ok) {
        task_finish(t, false);
    } else if (t->step == TASK_SET) {
        t->step = TASK_GET;
        send_step(t);
    } else if (++t->round == t->group->opts.rounds) {
        task_finish(t, true);
    } else {
        t->step = TASK_SET;
        send_step(t);
    }
    //| starter
    //| // TODO(11): the task's next step.  `result` is the answer to the
    //| // command of step t->step, and it is yours to free.
    //| //  - check it: answer_is_right(t, &result);
    //| //  - free it (redis_result_free);
    //| //  - a wrong answer ends the task: task_finish(t, false);
    //| //  - after the SET: t->step = TASK_GET, send_step(t);
    //| //  - after the GET: next round (t->round++, t->step = TASK_SET,
    //| //    send_step), or, after the last round, task_finish(t, true).
    //| // send_step and task_finish come last: after them, t may be gone.
    //| (void)send_step;
    //| redis_result_free(&result);
    //| result = redis_result_error(REDIS_RESULT_ERROR, "not implemented yet: task_on_reply "
    //|                             "(TODO(11) in chapters/11-event-loop-tasks/task.c)");
    //| answer_is_right(t, &result); /* records it as the run's problem */
    //| redis_result_free(&result);
    //| task_finish(t, false);
    //< exercise 11
}
//< snippet task_on_reply

/* tokio::spawn: the task's state on the heap, and its first step. */
static bool task_spawn(struct task_group *g, size_t id)
{
    struct task *t = malloc(sizeof *t + g->opts.value_size);
    if (t == NULL)
        return false;
    *t = (struct task){ .req = { .done = task_on_reply }, .group = g, .id = id,
                        .step = TASK_SET };
    t->key_len = task_key(t->key, sizeof t->key, g->opts.key_prefix, id);
    g->live++;
    send_step(t);
    return true;
}

void task_group_start(struct task_group *g, struct loop_client *client,
                      const struct task_options *opts, struct report_slot *out)
{
    *g = (struct task_group){ .client = client, .opts = *opts, .out = out };
    if (g->opts.value_size < TASK_MIN_VALUE_SIZE)
        g->opts.value_size = TASK_MIN_VALUE_SIZE;
    /* One count for the spawning itself, so that tasks that end at once
     * (the connection is gone) cannot close the connection before the
     * last task is spawned. */
    g->live = 1;
    for (size_t id = 1; id <= opts->tasks; id++)
        if (!task_spawn(g, id)) {
            out->errors++;
            report_problem(out, "out of memory after spawning %zu tasks of %zu", id - 1,
                           opts->tasks);
            break;
        }
    if (--g->live == 0)
        loop_client_close(client);
}

int task_run(struct loop_client *lc, const char *url, size_t window,
             const struct task_options *opts, struct report_slot *out, char *err, size_t errlen)
{
    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc != 0) {
        snprintf(err, errlen, "cannot make an event loop: %s", uv_strerror(rc));
        return -1;
    }
    if (loop_client_connect(lc, &loop, url, window, 10000, err, errlen) != 0) {
        uv_loop_close(&loop);
        return -1;
    }
    struct task_group g;
    task_group_start(&g, lc, opts, out);
    /* The whole run: the loop returns once the last task has finished and
     * the connection is closed. */
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
