/*
 * subscriber.c - the thread that owns the subscribed connection (see
 * subscriber.h).
 *
 * Read it in the order the thread works:
 *   subscriber_main  read until the connection is lost; reconnect; repeat
 *   serve            read what Redis pushes, until lost or told to stop
 *   handle_push      a confirmation, or a message to fan out
 *   connection_lost  say so on the watch, and tell the consumers of the gap
 *   reconnect        back-off, connect, subscribe again
 *
 * As with chapter 07's manager, the connection and the working copy of the
 * status are the thread's alone.  Other threads see the status only through
 * the watch channel, which copies it whole under its lock.
 */
#include "subscriber.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "oneshot.h"
#include "redis_client.h"
#include "report.h"

struct subscriber {
    /* Set before the thread starts.  The channels lock themselves, so
     * subscriber_messages and subscriber_watch may use the senders. */
    struct broadcast_sender *messages;
    struct watch_sender *status_tx;
    struct watch_receiver *status_rx;  /* keeps the latest status stored: a
                                          watch refuses a send nobody can read */
    struct oneshot_sender *stop_tx;    /* dropped by subscriber_stop */
    struct oneshot_receiver *stop_rx;  /* the thread's */
    pthread_t thread;
    char *url;                         /* a copy: the caller's may change */
    struct subscriber_options options;
    /* The thread's alone. */
    struct redis_client *client;       /* NULL while disconnected */
    struct subscriber_status status;   /* the working copy; see publish_status */
    char failure[256];                 /* the last error */
};

const char *subscriber_state_name(enum subscriber_state state)
{
    static const char *const names[] = { "connecting", "subscribed", "reconnecting", "stopped" };
    return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : "unknown";
}

/* ---- Talking to the other threads ------------------------------------------- */

/* Replaces the watch's value with the working copy.  A reader that was busy
 * never sees the values in between, only the latest. */
static void publish_status(struct subscriber *s)
{
    watch_send(s->status_tx, &s->status); /* cannot fail: status_rx is alive */
}

/* Puts a new value on the broadcast channel, for every consumer. */
static void fan_out(struct subscriber *s, enum message_kind kind, const char *channel,
                    size_t channel_len, const char *payload, size_t payload_len)
{
    struct message *m = message_new(kind, s->status.sent + 1, channel, channel_len, payload,
                                    payload_len);
    if (m == NULL) {
        report_log(s->options.log, "subscriber: out of memory: a message was dropped");
        return;
    }
    s->status.sent++;
    /* CHAN_OK: the channel holds our reference now.  CHAN_CLOSED: no
     * consumer is subscribed, and the message is still ours to release. */
    if (broadcast_send(s->messages, &m, NULL) != CHAN_OK)
        message_release(m);
}

/* ---- Subscribing --------------------------------------------------------------- */

static void announce_subscribed(struct subscriber *s)
{
    s->status.state = SUBSCRIBER_SUBSCRIBED;
    s->status.channels = s->options.channel_count;
    s->status.subscriptions++;
    s->status.why[0] = '\0';
    publish_status(s);
    report_log(s->options.log, "subscriber: subscribed to %zu channels", s->status.channels);
}

/* One thing Redis pushed: a SUBSCRIBE confirmation, or a message. */
static void handle_push(struct subscriber *s, const struct redis_push *push)
{
    //> snippet handle_push
    //> exercise 09
    if (push->kind == REDIS_PUSH_SUBSCRIBE) {
        //> pitfall subscribed-too-early
        /* One confirmation per channel; `count` is how many this
         * connection is subscribed to now. */
        if ((size_t)push->count == s->options.channel_count)
            announce_subscribed(s);
        //| mistake
        //| /* (announced already, when SUBSCRIBE was sent) */
        //< pitfall subscribed-too-early
        return;
    }
    s->status.received++;
    fan_out(s, MESSAGE_PUBLISHED, push->channel, push->channel_len, push->payload,
            push->payload_len);
    /* After the message is on the channel: whoever sees `received` reach N
     * knows that message N is there for the consumers. */
    publish_status(s);
    //| starter
    //| // TODO(09): handle what Redis pushed:
    //| //   - a SUBSCRIBE confirmation (push->kind == REDIS_PUSH_SUBSCRIBE):
    //| //     when push->count equals s->options.channel_count, every channel
    //| //     is confirmed: announce_subscribed(s);
    //| //   - a message: count it (s->status.received++), put it on the
    //| //     broadcast channel with fan_out(s, MESSAGE_PUBLISHED, channel,
    //| //     channel_len, payload, payload_len), THEN publish_status(s).
    //| (void)push;
    //| (void)announce_subscribed;
    //| snprintf(s->status.why, sizeof s->status.why, "not implemented yet: handle_push "
    //|          "(TODO(09) in chapters/09-pubsub-fan-out/subscriber.c)");
    //| publish_status(s);
    //< exercise 09
    //< snippet handle_push
}

/* ---- Reading ----------------------------------------------------------------------- */

/* Reads what Redis pushes until the connection is lost (false) or the
 * subscriber is told to stop (true).  A read gives up after
 * SUBSCRIBER_POLL_MS, so an idle subscriber still looks for the stop. */
static bool serve(struct subscriber *s)
{
    //> snippet serve
    int unused;
    while (oneshot_try_recv(s->stop_rx, &unused) == CHAN_EMPTY) {
        struct redis_push push;
        int got = redis_client_read_push(s->client, SUBSCRIBER_POLL_MS, &push, s->failure,
                                         sizeof s->failure);
        if (got == 1) {
            handle_push(s, &push);
            redis_push_free(&push);
        } else if (got < 0 && redis_client_is_broken(s->client)) {
            return false;
        } else if (got < 0) {
            /* refused, but still connected */
            report_log(s->options.log, "subscriber: %s", s->failure);
        }
    }
    return true; /* the stop sender was dropped: CHAN_CLOSED */
    //< snippet serve
}

/* ---- Losing the connection, and getting it back ------------------------------------ */

static void connection_lost(struct subscriber *s)
{
    //> snippet connection_lost
    bool was_subscribed = s->status.state == SUBSCRIBER_SUBSCRIBED;
    redis_client_free(s->client);
    s->client = NULL;
    s->status.state = SUBSCRIBER_RECONNECTING;
    s->status.channels = 0;
    s->status.address[0] = '\0';
    snprintf(s->status.why, sizeof s->status.why, "%s", s->failure);
    /* Whatever is published from now until the next subscription is gone
     * for good; the consumers learn it in order, between the messages.
     * (A connection lost before it was subscribed again is the same gap.) */
    if (was_subscribed) {
        s->status.gaps++;
        fan_out(s, MESSAGE_GAP, NULL, 0, s->status.why, strlen(s->status.why));
    }
    publish_status(s);
    //< snippet connection_lost
    report_log(s->options.log, "subscriber: %s; reconnecting", s->status.why);
}

/* Connects, and sends SUBSCRIBE: the start of every connection.  The
 * confirmations come later, through handle_push.  A short command timeout:
 * the connection's checks (PING, and AUTH or SELECT if the URL asks for
 * them) are its only round trips, and a stop may have to wait for them. */
static bool connect_and_subscribe(struct subscriber *s, char *err, size_t errlen)
{
    const struct redis_client_options options = { .connect_timeout_ms = 1000,
                                                  .command_timeout_ms = 2000 };
    const struct subscriber_options *o = &s->options;
    s->client = redis_client_connect(s->url, &options, err, errlen);
    if (s->client == NULL)
        return false;
    redis_client_local_address(s->client, s->status.address, sizeof s->status.address);
    report_log(s->options.log, "subscriber: connected to %s; subscribing to %zu channels",
               redis_client_url(s->client), o->channel_count);
    //> snippet resubscribe
    //> pitfall forget-resubscribe
    /* A new connection starts with no subscription at all. */
    int rc = redis_client_subscribe(s->client, o->channel_count, o->channels, o->channel_lens,
                                    err, errlen);
    //| mistake
    //| int rc = s->status.subscriptions > 0 ? 0 /* first time only */
    //|          : redis_client_subscribe(s->client, o->channel_count, o->channels,
    //|                                   o->channel_lens, err, errlen);
    //< pitfall forget-resubscribe
    //< snippet resubscribe
    if (rc != 0) {
        redis_client_free(s->client);
        s->client = NULL;
        return false;
    }
    //> pitfall subscribed-too-early
    //| mistake
    //| announce_subscribed(s); /* sent is not confirmed */
    //< pitfall subscribed-too-early
    return true;
}

/* Connects and subscribes again, waiting longer after each failure.  True
 * once done; false if told to stop first. */
static bool reconnect(struct subscriber *s)
{
    unsigned delay_ms = SUBSCRIBER_BACKOFF_FIRST_MS;
    for (unsigned attempt = 1; !connect_and_subscribe(s, s->failure, sizeof s->failure);
         attempt++) {
        report_log(s->options.log, "subscriber: reconnect attempt %u failed (%s); next in %u ms",
                   attempt, s->failure, delay_ms);
        /* The back-off is a wait for the stop signal, too. */
        int unused;
        if (oneshot_recv_timeout(s->stop_rx, &unused, delay_ms) != CHAN_TIMEOUT)
            return false;
        delay_ms = delay_ms * 2 < SUBSCRIBER_BACKOFF_MAX_MS ? delay_ms * 2
                                                            : SUBSCRIBER_BACKOFF_MAX_MS;
    }
    report_log(s->options.log, "subscriber: reconnected");
    return true;
}

/* ---- The thread -------------------------------------------------------------------- */

static void *subscriber_main(void *arg)
{
    struct subscriber *s = arg;
    //> snippet subscriber_loop
    while (!serve(s)) {
        connection_lost(s);
        if (!reconnect(s))
            break; /* told to stop while reconnecting */
    }
    s->status.state = SUBSCRIBER_STOPPED;
    s->status.channels = 0;
    snprintf(s->status.why, sizeof s->status.why, "told to stop%s%s",
             s->client == NULL ? " while reconnecting: " : "",
             s->client == NULL ? s->failure : "");
    publish_status(s);
    /* The last broadcast sender goes: each consumer reads what it has not
     * read yet, then gets CHAN_CLOSED. */
    broadcast_sender_drop(s->messages);
    watch_sender_drop(s->status_tx);
    //< snippet subscriber_loop
    s->messages = NULL;
    s->status_tx = NULL;
    report_log(s->options.log, "subscriber: stopped");
    return NULL;
}

/* ---- Starting and stopping ------------------------------------------------------- */

static void free_subscriber(struct subscriber *s)
{
    redis_client_free(s->client);
    broadcast_sender_drop(s->messages);
    watch_sender_drop(s->status_tx);
    watch_receiver_drop(s->status_rx);
    oneshot_sender_drop(s->stop_tx);
    oneshot_receiver_drop(s->stop_rx);
    free(s->url);
    free(s);
}

int subscriber_start(struct subscriber **out, const char *url,
                     const struct subscriber_options *options, char *err, size_t errlen)
{
    struct subscriber *s = calloc(1, sizeof *s);
    struct broadcast_receiver *unused = NULL;
    *out = NULL;
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = broadcast_channel(options->capacity, sizeof(struct message *), message_clone,
                               message_drop, &s->messages, &unused);
    broadcast_receiver_drop(unused); /* consumers come through subscriber_messages */
    if (rc == 0)
        rc = watch_channel(sizeof s->status, &s->status, NULL, NULL, &s->status_tx,
                           &s->status_rx);
    if (rc == 0)
        rc = oneshot_channel(sizeof(int), NULL, &s->stop_tx, &s->stop_rx);
    if (rc == 0 && (s->url = strdup(url != NULL ? url : redis_url_from_env())) == NULL)
        rc = ENOMEM;
    s->options = *options;
    /* Connect on the caller's thread: a bad URL or a server that is not
     * there is reported now, with the wrapper's message. */
    if (rc != 0)
        snprintf(err, errlen, "cannot make the subscriber: %s", strerror(rc));
    else if (connect_and_subscribe(s, err, errlen) &&
             (rc = pthread_create(&s->thread, NULL, subscriber_main, s)) == 0)
        *out = s;
    else if (rc != 0)
        snprintf(err, errlen, "cannot start the subscriber thread: %s", strerror(rc));
    if (*out == NULL)
        free_subscriber(s);
    return *out != NULL ? 0 : -1;
}

struct broadcast_receiver *subscriber_messages(struct subscriber *s)
{
    return broadcast_subscribe(s->messages);
}

struct watch_receiver *subscriber_watch(struct subscriber *s)
{
    return watch_subscribe(s->status_tx);
}

void subscriber_stop(struct subscriber *s, struct subscriber_status *last)
{
    oneshot_sender_drop(s->stop_tx); /* the thread's next look finds CHAN_CLOSED */
    s->stop_tx = NULL;
    pthread_join(s->thread, NULL);
    if (last != NULL)
        watch_borrow(s->status_rx, last);
    free_subscriber(s);
}

bool subscriber_is_subscribed(const void *status, const void *at_least)
{
    const struct subscriber_status *now = status;
    unsigned wanted = at_least != NULL ? *(const unsigned *)at_least : 1;
    return now->state == SUBSCRIBER_SUBSCRIBED && now->subscriptions >= wanted;
}
