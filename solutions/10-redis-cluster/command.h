/*
 * command.h - the message a requester sends to the manager: one Redis
 * command, and (new in this chapter) where to send the answer.
 *
 * The command travels through the mpsc channel by value, so it must not
 * point at anything the requester will reuse or free: the key and value are
 * private heap copies.  The answer goes back through `reply`, the sending
 * end of a oneshot channel whose receiving end the requester waits on.
 *
 * Who holds a command, in order:
 *   1. the requester that built it;
 *   2. the channel, once mpsc_send returned CHAN_OK (if the send failed, the
 *      requester still holds it and must free it);
 *   3. the manager, once it received it: it sends the result through
 *      `reply` and frees the command.
 * command_free also drops a reply sender that was never used, which wakes
 * the requester with CHAN_CLOSED.  So however a command ends - answered,
 * freed by a manager that gave up, or destroyed inside a dying channel by
 * command_drop - its requester hears about it and never waits for ever.
 */
#ifndef COMMAND_H
#define COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "oneshot.h"

enum command_kind {
    COMMAND_GET,
    COMMAND_SET,
};

//> snippet command
struct command {
    enum command_kind kind;
    char *key;        /* a private copy; may contain any byte, NUL included */
    size_t key_len;
    char *value;      /* SET only (NULL for GET); a private copy too */
    size_t value_len;
    /* Where the answer goes: a oneshot of one `struct redis_result`, made
     * with command_reply_drop as its drop function.  NULL means nobody
     * waits for the answer (fire and forget). */
    struct oneshot_sender *reply;
    /* Chapter 10: send ASKING just before it, on the same connection.  The
     * node then runs it although the slot is not (yet) its own, because it
     * is importing that slot (an ASK redirection, client.c). */
    bool asking;
};
//< snippet command

/* Fill *cmd with a GET / SET of private copies of the bytes given, and no
 * reply sender yet.  Return 0, or ENOMEM with *cmd left empty. */
int command_get(struct command *cmd, const void *key, size_t key_len);
int command_set(struct command *cmd, const void *key, size_t key_len,
                const void *value, size_t value_len);

/* Frees the copies, drops `reply` if it is still set (the requester then
 * gets CHAN_CLOSED) and empties *cmd; calling it twice is harmless. */
void command_free(struct command *cmd);

/* command_free with the signature of a chan_drop_fn, for the command
 * channel: commands still queued when the channel dies are freed, and
 * their requesters woken. */
void command_drop(void *elem);

/* The drop function of every reply oneshot: frees a `struct redis_result`
 * that was sent but never received (its requester left). */
void command_reply_drop(void *result);

/* "GET" or "SET", for logs. */
const char *command_name(enum command_kind kind);

#endif
