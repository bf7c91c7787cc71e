/*
 * message.c - shared, reference-counted messages (see message.h).
 *
 * Why atomics and no lock: a message is never changed after message_new,
 * so the only shared state is the count.  Every consumer thread releases
 * its own references; the release that brings the count to zero is the
 * only one that frees, and the acquire-release ordering makes every other
 * thread's reads of the message happen before that free.
 */
#include "message.h"

#include <stdlib.h>
#include <string.h>

/* Copies len bytes to `to`, NUL-terminates them, and returns `to`. */
static const char *copy_bytes(char *to, const void *from, size_t len)
{
    if (len > 0) /* memcpy from NULL is undefined, even for no bytes */
        memcpy(to, from, len);
    to[len] = '\0';
    return to;
}

struct message *message_new(enum message_kind kind, uint64_t seq, const void *channel,
                            size_t channel_len, const void *payload, size_t payload_len)
{
    struct message *m = malloc(sizeof *m + channel_len + payload_len + 2);
    if (m == NULL)
        return NULL;
    m->kind = kind;
    m->seq = seq;
    m->channel = copy_bytes(m->bytes, channel, channel_len);
    m->channel_len = channel_len;
    m->payload = copy_bytes(m->bytes + channel_len + 1, payload, payload_len);
    m->payload_len = payload_len;
    atomic_init(&m->refs, 1);
    return m;
}

void message_release(struct message *m)
{
    if (m != NULL && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}

void message_clone(void *dst, const void *src)
{
    struct message *m = *(struct message *const *)src;
    /* Relaxed is enough to count one more: the caller already holds a
     * reference (the channel's), so the message cannot go meanwhile. */
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    *(struct message **)dst = m;
}

void message_drop(void *elem)
{
    message_release(*(struct message **)elem);
}
