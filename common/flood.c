/*
 * flood.c - see flood.h.
 */
#include "flood.h"

#include "report.h"

const char *const flood_mode_names[] = { "block", "try", "unbounded", NULL };

const char *flood_mode_name(enum flood_mode mode)
{
    return mode <= FLOOD_UNBOUNDED ? flood_mode_names[mode] : "?";
}

bool flood_report_balanced(const struct flood_report *r)
{
    //> snippet balanced
    return r->rejected <= r->issued && r->sent == r->issued - r->rejected &&
           r->completed + r->failed + r->rejected == r->issued;
    //< snippet balanced
}

/* What the mode does with a full channel, in two lines. */
static void print_mode(const struct flood_report *r, FILE *out)
{
    switch (r->mode) {
    case FLOOD_BLOCK:
        fprintf(out, "mode block: when the channel (capacity %zu) is full, mpsc_send waits for "
                     "room,\nso the producer slows down to the pace of Redis.\n", r->capacity);
        break;
    case FLOOD_TRY:
        fprintf(out, "mode try: when the channel (capacity %zu) is full, mpsc_try_send refuses "
                     "the\ncommand at once, and the producer counts it as rejected.\n",
                r->capacity);
        break;
    case FLOOD_UNBOUNDED:
        fprintf(out, "mode unbounded: every send succeeds at once; whatever Redis cannot take "
                     "yet\nwaits in memory.\n");
        break;
    }
}

void flood_print_report(const struct flood_report *r, bool timing, FILE *out)
{
    bool bounded = r->mode != FLOOD_UNBOUNDED;
    print_mode(r, out);
    /* In try mode the split between sent and refused depends on how fast
     * the manager happened to take its first command: timing. */
    if (r->mode == FLOOD_TRY && !timing) {
        fprintf(out, "producer: issued %zu; the full channel refused %s (how many varies from "
                     "run to run: add --timing)\n",
                r->issued, r->rejected > 0 ? "some of them" : "none of them");
    } else {
        fprintf(out, "producer: issued %zu, sent %zu, rejected %zu\n", r->issued, r->sent,
                r->rejected);
        fprintf(out, "manager: completed %zu, failed %zu\n", r->completed, r->failed);
    }
    if (flood_report_balanced(r))
        fprintf(out, "every command is accounted for: completed + failed + rejected = issued\n");
    if (bounded && r->max_queue_len_seen <= r->capacity)
        fprintf(out, "the queue never held more than its capacity of %zu\n", r->capacity);
    else if (!bounded && !timing)
        fprintf(out, "the queue had no limit (add --timing to see how long it grew, and the "
                     "memory it took)\n");
    if (!timing)
        return;
    if (bounded)
        fprintf(out, "queue: at most %zu commands seen at once (capacity %zu)\n",
                r->max_queue_len_seen, r->capacity);
    else
        fprintf(out, "queue: at most %zu commands seen at once (no limit)\n",
                r->max_queue_len_seen);
    fprintf(out, "time: %ld ms blocked in mpsc_send; the whole flood took %.3f s (%.0f "
                 "commands/s)\n", (long)(r->blocked_s * 1000), (double)r->elapsed_ms / 1000.0,
            r->elapsed_ms > 0 ? (double)r->sent * 1000.0 / (double)r->elapsed_ms : 0.0);
    if (r->batches > 0)
        fprintf(out, "batches: %zu commands in %zu pipelines, %.1f on average, at most %zu\n",
                r->completed + r->failed, r->batches,
                (double)(r->completed + r->failed) / (double)r->batches, r->largest_batch);
    fprintf(out, "memory: peak RSS %.1f MiB (peak_rss_kib=%ld)\n",
            (double)r->peak_rss_kib / 1024.0, r->peak_rss_kib);
}

int flood_judge(const char *program, const struct flood_report *r, const char *advice)
{
    if (r->problem[0] != '\0')
        return report_error(program, EXIT_WRONG_RESULTS, "%s", r->problem);
    if (!flood_report_balanced(r))
        return report_error(program, EXIT_WRONG_RESULTS, "the counts do not add up: completed "
                            "%zu + failed %zu + rejected %zu should be issued %zu, and sent %zu "
                            "should be issued - rejected", r->completed, r->failed, r->rejected,
                            r->issued, r->sent);
    if (r->failed > 0)
        return report_error(program, EXIT_WRONG_RESULTS, "%zu of %zu commands failed "
                            "(--verbose shows Redis's answers)%s%s", r->failed, r->sent,
                            r->failed == r->sent && advice != NULL ? "\n" : "",
                            r->failed == r->sent && advice != NULL ? advice : "");
    if (r->mode != FLOOD_UNBOUNDED && r->max_queue_len_seen > r->capacity)
        return report_error(program, EXIT_WRONG_RESULTS, "the queue held %zu commands, more "
                            "than its capacity of %zu", r->max_queue_len_seen, r->capacity);
    return EXIT_ALL_RIGHT;
}
