/*
 * subscriber.h - one thread owns one Redis connection in subscribe mode and
 * fans every message it receives out to any number of consumer threads.
 *
 *                      ┌─────────────── watch: its status ───────────────┐
 *                      │   connecting → subscribed → reconnecting → ...  ▼
 *   Redis ══SUBSCRIBE══► subscriber ──► broadcast ──► consumer 1      main, tests,
 *        (pushed       (the one        (every       ├► consumer 2     anyone: "is it
 *         messages)     owner)          receiver     └► consumer 3     subscribed yet?"
 *                                       sees all)
 *
 * A connection that has sent SUBSCRIBE can do nothing else: it only
 * receives.  So, as chapter 03's manager owned the command connection, the
 * subscriber thread owns this one, and others talk to it through channels:
 *
 *   - messages go out on a BROADCAST channel (tokio::sync::broadcast): each
 *     consumer gets every message, in the order Redis sent them.  A
 *     consumer that falls more than `capacity` messages behind loses the
 *     oldest and is told how many (CHAN_LAGGED); the subscriber never waits.
 *   - its status goes out on a WATCH channel (tokio::sync::watch): anyone
 *     can read the latest state, or wait for one, without a queue of every
 *     change.
 *   - it is told to stop over a ONESHOT channel (tokio::sync::oneshot):
 *     subscriber_stop drops the sender.
 *
 * When the connection is lost it reconnects (at once, then after 10, 20,
 * 40 ... ms, at most 1 s apart, as chapter 07's manager does) and
 * subscribes again.  Redis Pub/Sub is at-most-once: what was published
 * while no connection was subscribed is gone, so the subscriber puts a
 * MESSAGE_GAP notice on the broadcast channel the moment it notices.
 */
#ifndef SUBSCRIBER_H
#define SUBSCRIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "broadcast.h"
#include "watch.h"

/* How long the thread waits for a message before it checks whether it was
 * told to stop: the longest subscriber_stop waits for an idle subscriber. */
#define SUBSCRIBER_POLL_MS 50
/* The reconnect back-off: the first retry after this long, each later one
 * twice as long as the one before, never more than the cap. */
#define SUBSCRIBER_BACKOFF_FIRST_MS 10
#define SUBSCRIBER_BACKOFF_MAX_MS 1000

enum subscriber_state {
    SUBSCRIBER_CONNECTING,   /* the first SUBSCRIBE is not confirmed yet */
    SUBSCRIBER_SUBSCRIBED,   /* Redis confirmed every channel */
    SUBSCRIBER_RECONNECTING, /* the connection was lost; `why` says how */
    SUBSCRIBER_STOPPED,      /* subscriber_stop was called; `why` says when */
};

/* "connecting", "subscribed", "reconnecting", "stopped". */
const char *subscriber_state_name(enum subscriber_state state);

/* The value on the watch channel.  Plain data: copying it is a memcpy. */
struct subscriber_status {
    enum subscriber_state state;
    size_t channels;         /* SUBSCRIBED: how many Redis confirmed */
    unsigned subscriptions;  /* times it became SUBSCRIBED: 1, +1 per reconnect */
    unsigned gaps;           /* subscribed connections lost: gap notices sent */
    uint64_t received;       /* messages received from Redis so far */
    uint64_t sent;           /* values put on the broadcast channel, messages
                                and gap notices: the `seq` of the latest */
    char address[64];        /* the connection's address, for CLIENT KILL ADDR;
                                "" while there is none */
    char why[320];           /* RECONNECTING, STOPPED: what happened */
};

struct subscriber_options {
    const char *const *channels;  /* the channels' names: bytes, channel_lens[i]
                                     each; both arrays must stay valid until
                                     subscriber_stop */
    const size_t *channel_lens;
    size_t channel_count;         /* at least 1, all different */
    size_t capacity;              /* the broadcast channel's (rounded up to a
                                     power of two) */
    FILE *log;                    /* connection events as they happen, or NULL */
};

struct subscriber;

/*
 * Connects to `url` (NULL: $REDIS_URL) on the caller's thread, so that a bad
 * URL or a server that is not running is reported now, sends SUBSCRIBE and
 * starts the thread.  The status starts as CONNECTING; wait for SUBSCRIBED
 * (wait_for) before publishing anything that must arrive.
 * Returns 0 with *out set, or -1 with a message in err[errlen].
 */
int subscriber_start(struct subscriber **out, const char *url,
                     const struct subscriber_options *options, char *err, size_t errlen);

/* A new receiver of the messages sent from now on (broadcast_subscribe):
 * subscribe every consumer BEFORE publishing.  Drop it with
 * broadcast_receiver_drop.  Call before subscriber_stop; NULL when out of
 * memory. */
struct broadcast_receiver *subscriber_messages(struct subscriber *s);

/* A new receiver of the status (watch_subscribe).  Drop it with
 * watch_receiver_drop; it may outlive the subscriber (it then reads
 * STOPPED).  Call before subscriber_stop; NULL when out of memory. */
struct watch_receiver *subscriber_watch(struct subscriber *s);

/*
 * Tells the thread to stop and waits for it (at most SUBSCRIBER_POLL_MS
 * while it reads, or one connection attempt while it reconnects): it sets
 * the status to STOPPED and drops the broadcast sender, so every consumer
 * reads what it has not read yet and then gets CHAN_CLOSED.  Writes the
 * last status to *last (may be NULL) and frees everything.
 */
void subscriber_stop(struct subscriber *s, struct subscriber_status *last);

/* A test for wait_for (wait.h) on the status: SUBSCRIBED, and subscribed
 * at least *(const unsigned *)at_least times (at_least NULL: once). */
bool subscriber_is_subscribed(const void *status, const void *at_least);

#endif
