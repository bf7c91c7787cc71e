/*
 * worker.c - see worker.h.
 */
#include "worker.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

/* SET key value, then GET key: the GET must see exactly that value. */
void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct report_slot *out = w->out;
    long pid = (long)getpid(); /* keys of their own, even next to another run */
    bool set_failed = false;   /* the SET of the current pair got an error */
    for (size_t r = 0; r < w->requests; r++) {
        char key[96], value[96], got[REPORT_RESULT_SIZE];
        size_t step = r / 2; /* the r-th request belongs to SET/GET pair `step` */
        int key_len = snprintf(key, sizeof key, "%s:%ld:t%zu:k%zu", w->prefix, pid, w->index,
                               step % w->keys);
        int value_len = snprintf(value, sizeof value, "t%zu-v%zu", w->index, step);
        bool is_set = r % 2 == 0;
        struct command cmd;
        struct redis_result result;
        if ((is_set ? command_set(&cmd, key, (size_t)key_len, value, (size_t)value_len)
                    : command_get(&cmd, key, (size_t)key_len)) != 0) {
            result = redis_result_error(REDIS_RESULT_IO_ERROR, "out of memory");
        } else {
            struct client_pending pending = client_send(w->pool, &cmd);
            result = client_wait(&pending);
        }
        if (is_set)
            set_failed = redis_result_is_error(&result);
        bool right = is_set ? result.kind == REDIS_RESULT_OK
                            : result.kind == REDIS_RESULT_VALUE &&
                                  result.len == (size_t)value_len &&
                                  memcmp(result.data, value, result.len) == 0;
        if (redis_result_is_error(&result)) {
            out->errors++;
            report_problem(out, "%s: %s", key, report_describe_result(&result, got, sizeof got));
        } else if (right || set_failed) {
            /* After a failed SET (which may or may not have run) any value
             * is possible: the GET counts as answered. */
            out->done++;
        } else {
            out->wrong++;
            report_problem(out, "%s: expected \"%s\", got %s", key, value,
                           report_describe_result(&result, got, sizeof got));
        }
        redis_result_free(&result);
    }
    return NULL;
}
