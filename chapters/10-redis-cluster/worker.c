/*
 * worker.c - the threads of the program (see worker.h).
 */
#include "worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

struct worker {
    struct cluster *cluster;
    const struct workload *load;
    size_t index;
    pthread_t thread;
    size_t right, wrong, errors;
    char problem[600];
};

static void note(struct worker *w, const char *key, const char *what, const char *detail)
{
    if (w->problem[0] == '\0')
        snprintf(w->problem, sizeof w->problem, "%s: %s%s", key, what, detail);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    long pid = (long)getpid(); /* keys of their own, even next to another run */
    bool set_failed = false;   /* the SET of the current pair got an error */
    for (size_t r = 0; r < w->load->requests; r++) {
        char key[96], value[96], quoted[REDIS_QUOTE_BUFSIZE];
        size_t step = r / 2; /* the r-th request belongs to SET/GET pair `step` */
        int key_len = snprintf(key, sizeof key, "ch10:%ld:t%zu:k%zu", pid, w->index,
                               step % w->load->keys);
        int value_len = snprintf(value, sizeof value, "t%zu-v%zu", w->index, step);
        bool is_set = r % 2 == 0;
        struct redis_result res =
            is_set ? client_set(w->cluster, key, (size_t)key_len, value, (size_t)value_len)
                   : client_get(w->cluster, key, (size_t)key_len);
        if (is_set)
            set_failed = redis_result_is_error(&res);
        if (redis_result_is_error(&res)) {
            w->errors++;
            note(w, key, res.data, "");
        } else if (set_failed || (is_set ? res.kind == REDIS_RESULT_OK
                                         : res.kind == REDIS_RESULT_VALUE &&
                                               res.len == (size_t)value_len &&
                                               memcmp(res.data, value, res.len) == 0)) {
            w->right++;
        } else {
            w->wrong++;
            note(w, key, is_set ? "expected OK, got " : "expected the value just SET, got ",
                 res.data != NULL ? redis_quote_bytes(res.data, res.len, quoted, sizeof quoted)
                                  : redis_result_kind_name(res.kind));
        }
        redis_result_free(&res);
    }
    return NULL;
}

void workload_run(struct cluster *cluster, const struct workload *load,
                  struct workload_result *out)
{
    *out = (struct workload_result){ .threads_run = 0 };
    struct worker *workers = calloc(load->threads, sizeof *workers);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; workers != NULL && i < load->threads; i++, out->threads_run++) {
        workers[i] = (struct worker){ .cluster = cluster, .load = load, .index = i };
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
            break;
    }
    for (size_t i = 0; i < out->threads_run; i++) {
        pthread_join(workers[i].thread, NULL);
        out->right += workers[i].right;
        out->wrong += workers[i].wrong;
        out->errors += workers[i].errors;
        if (out->first_problem[0] == '\0')
            memcpy(out->first_problem, workers[i].problem, sizeof out->first_problem);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    out->sent = out->threads_run * load->requests;
    free(workers);
}
