/*
 * worker.c - see worker.h.
 *
 * This is chapter 01's shared_client.c with one change (besides the key
 * names): the commands go through locked_client_set/get, which hold the
 * connection's lock for each round trip.  The checking is the same as in
 * chapter 01, so a reply that went to the wrong thread would still be
 * caught and counted.
 */
#include "worker.h"

#include <string.h>

/*
 * Compares the reply `got` to `command` with the reply it should have had:
 * `want_kind` holding want[0..want_len).
 *
 * A wrong reply is counted, and the first one kept for the report.  An
 * error is kept too, and stops the worker (returns false): after an i/o
 * error the client refuses every further command, and Redis hangs up on a
 * connection whose bytes it cannot parse, so going on would only repeat it.
 */
static bool check_reply(struct worker *w, long round, const char *command,
                        const struct redis_result *got, enum redis_result_kind want_kind,
                        const char *want, size_t want_len)
{
    char got_text[REPORT_RESULT_SIZE];
    report_describe_result(got, got_text, sizeof got_text);

    if (redis_result_is_error(got)) {
        snprintf(w->error, sizeof w->error, "%s in round %ld failed: %s",
                 command, round, got_text);
        if (w->verbose)
            fprintf(stderr, "[thread %d] round %ld: %s -> %s  <- ERROR, stopping\n",
                    w->id, round, command, got_text);
        return false;
    }

    bool right = got->kind == want_kind && got->len == want_len &&
                 memcmp(got->data, want, want_len) == 0;
    if (w->verbose)
        fprintf(stderr, "[thread %d] round %ld: %s -> %s%s\n", w->id, round, command,
                got_text, right ? "" : "  <- NOT OURS");
    if (right)
        return true;

    w->wrong_replies++;
    if (w->first_wrong[0] == '\0') {
        char want_text[REDIS_QUOTE_BUFSIZE];
        redis_quote_bytes(want, want_len, want_text, sizeof want_text);
        snprintf(w->first_wrong, sizeof w->first_wrong,
                 "in round %ld: %s expected %s %s, got %s", round, command,
                 redis_result_kind_name(want_kind), want_text, got_text);
    }
    return true;
}

/* One round: SET our key to a value that names this thread and this round,
 * so no other round anywhere stores the same bytes, then GET it back.
 * Returns false when an error means the worker should stop. */
static bool run_round(struct worker *w, const char *key, size_t key_len, long round)
{
    char value[64];
    int value_len = snprintf(value, sizeof value, "thread %d iteration %ld", w->id, round);

    //> snippet round
    /* w->client is the same locked client in every worker. */
    struct redis_result set = locked_client_set(w->client, key, key_len, value, (size_t)value_len);
    bool go_on = check_reply(w, round, "SET", &set, REDIS_RESULT_OK, "OK", 2);
    redis_result_free(&set);
    if (!go_on)
        return false;

    /* Nobody else writes our key: the GET must return what we just SET. */
    struct redis_result got = locked_client_get(w->client, key, key_len);
    go_on = check_reply(w, round, "GET", &got, REDIS_RESULT_VALUE, value, (size_t)value_len);
    redis_result_free(&got);
    return go_on;
    //< snippet round
}

/* What the report prints for this worker, and its counts. */
static void report_worker(const struct worker *w)
{
    struct report_slot *out = w->out;
    out->done = (size_t)w->rounds;
    out->wrong = (size_t)w->wrong_replies;
    out->errors = w->error[0] != '\0';
    out->stopped = w->error[0] != '\0';
    report_problem(out, "%s", w->error);
    char rounds[64];
    if (w->rounds == w->iterations)
        snprintf(rounds, sizeof rounds, "%ld rounds", w->rounds);
    else
        snprintf(rounds, sizeof rounds, "%ld of %ld rounds", w->rounds, w->iterations);
    report_line(out, "%s, %ld wrong %s%s%s%s%s%s", rounds, w->wrong_replies,
                report_plural((size_t)w->wrong_replies, "reply", "replies"),
                w->first_wrong[0] != '\0' ? " (first " : "", w->first_wrong,
                w->first_wrong[0] != '\0' ? ")" : "", w->error[0] != '\0' ? "; stopped: " : "",
                w->error);
}

void *worker_thread(void *arg)
{
    struct worker *w = arg;
    char key[32];
    int key_len = snprintf(key, sizeof key, "ch02:thread:%d", w->id);

    for (long round = 1; round <= w->iterations; round++) {
        if (!run_round(w, key, (size_t)key_len, round))
            break;
        w->rounds = round;
    }
    report_worker(w);
    return NULL;
}
