/*
 * message.h - what the subscriber hands every consumer: one published
 * message, or the notice of a gap.
 *
 * The broadcast channel gives EVERY consumer a copy of each value.  Copying
 * the channel name and payload once per consumer would be wasteful, so the
 * value on the channel is a POINTER to one shared, read-only message with a
 * reference count: the channel's `clone` (message_clone) counts one more
 * reference instead of copying the bytes, and whoever is done with a
 * reference calls message_release.  The last release frees it.  This is
 * what Rust's Arc<Message> does for a tokio::sync::broadcast of Arc<T>.
 */
#ifndef MESSAGE_H
#define MESSAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum message_kind {
    MESSAGE_PUBLISHED, /* someone PUBLISHed `payload` on `channel` */
    MESSAGE_GAP,       /* the subscriber lost its connection: whatever was
                          published until it subscribed again is gone.
                          `payload` says why the connection was lost. */
};

struct message {
    enum message_kind kind;
    uint64_t seq;          /* its place on the broadcast channel: 1, 2, 3 ... */
    const char *channel;   /* PUBLISHED: the channel's bytes (NUL-terminated) */
    size_t channel_len;
    const char *payload;   /* the bytes (NUL-terminated as a convenience) */
    size_t payload_len;
    atomic_uint refs;      /* references still held; see message_release */
    char bytes[];          /* where channel and payload live */
};

/* A message with one reference, holding copies of the bytes given.  NULL
 * when out of memory. */
struct message *message_new(enum message_kind kind, uint64_t seq, const void *channel,
                            size_t channel_len, const void *payload, size_t payload_len);

/* Gives up one reference; the last one frees the message.  NULL is fine. */
void message_release(struct message *m);

/* The broadcast channel's callbacks for values of type `struct message *`:
 * a receiver's copy is one more reference; a value the channel overwrites
 * or still holds when it dies is one reference released. */
void message_clone(void *dst, const void *src);
void message_drop(void *elem);

#endif
