/*
 * command.h - the message a worker sends to the manager: one Redis command.
 *
 * In Tokio the message is an enum with the key and value moved inside it.
 * In C the message is a plain struct copied into the channel by value
 * (mpsc_send copies sizeof(struct command) bytes), so it must not point at
 * anything the sender will reuse or free: the key and value are private
 * heap copies that travel with the command, and whoever ends up holding the
 * command frees them.
 *
 * Who holds a command, in order:
 *   1. the worker that built it with command_get / command_set;
 *   2. the channel, once mpsc_send returned CHAN_OK (if the send failed, the
 *      worker still holds it and must free it);
 *   3. the manager, once mpsc_recv handed it over; it calls command_free
 *      when the command has run.
 * A command still queued when the channel dies is freed by command_drop,
 * which the manager gives to mpsc_channel for exactly that.
 */
#ifndef COMMAND_H
#define COMMAND_H

#include <stddef.h>

enum command_kind {
    COMMAND_GET,
    COMMAND_SET,
};

struct command {
    enum command_kind kind;
    char *key;        /* a private copy; may contain any byte, NUL included */
    size_t key_len;
    char *value;      /* SET only (NULL for GET); a private copy too */
    size_t value_len;
};

/* Fill *cmd with a GET / SET of private copies of the bytes given.
 * Return 0, or ENOMEM with *cmd left empty (command_free is still safe). */
int command_get(struct command *cmd, const void *key, size_t key_len);
int command_set(struct command *cmd, const void *key, size_t key_len,
                const void *value, size_t value_len);

/* Frees the copies and empties *cmd; calling it twice is harmless. */
void command_free(struct command *cmd);

/* command_free with the signature of a chan_drop_fn: the channel calls it
 * on every command still queued when the channel is destroyed. */
void command_drop(void *elem);

/* "GET" or "SET", for logs. */
const char *command_name(enum command_kind kind);

#endif
