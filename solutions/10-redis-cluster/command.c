/*
 * command.c - building and freeing the messages of command.h.
 *
 * Two rules.  A command owns its bytes: a requester may build a command
 * from a buffer on its stack, send it, and reuse the buffer straight away;
 * the manager reads the copy, later, on another thread.  And freeing a
 * command that still has its reply sender drops that sender: the requester
 * learns that no answer will come.
 */
#include "command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "redis_client.h"

/* A heap copy of bytes[0..len) with a NUL after it (a convenience for logs:
 * the bytes themselves may contain NULs, so the length is what counts). */
static char *copy_bytes(const void *bytes, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    if (len > 0)
        memcpy(copy, bytes, len);
    copy[len] = '\0';
    return copy;
}

int command_get(struct command *cmd, const void *key, size_t key_len)
{
    *cmd = (struct command){ .kind = COMMAND_GET };
    cmd->key = copy_bytes(key, key_len);
    if (cmd->key == NULL)
        return ENOMEM;
    cmd->key_len = key_len;
    return 0;
}

int command_set(struct command *cmd, const void *key, size_t key_len,
                const void *value, size_t value_len)
{
    *cmd = (struct command){ .kind = COMMAND_SET };
    cmd->key = copy_bytes(key, key_len);
    cmd->value = copy_bytes(value, value_len);
    if (cmd->key == NULL || cmd->value == NULL) {
        command_free(cmd);
        return ENOMEM;
    }
    cmd->key_len = key_len;
    cmd->value_len = value_len;
    return 0;
}

void command_free(struct command *cmd)
{
    free(cmd->key);
    free(cmd->value);
    /* Still set means nobody answered: say so to whoever waits. */
    oneshot_sender_drop(cmd->reply);
    *cmd = (struct command){ .kind = COMMAND_GET };
}

void command_drop(void *elem)
{
    command_free(elem);
}

void command_reply_drop(void *result)
{
    redis_result_free(result);
}

const char *command_name(enum command_kind kind)
{
    return kind == COMMAND_SET ? "SET" : "GET";
}
