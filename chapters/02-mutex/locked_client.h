/*
 * locked_client.h - one Redis connection that many threads may share,
 * because a mutex lets only one of them use it at a time.
 *
 * Chapter 01 showed that a `struct redis_client` shared by threads mixes up
 * their requests and replies.  The fix here is the simplest one: every
 * command takes the lock, does its whole round trip - send the request AND
 * read its reply - and only then lets go.  Correct, and slow: only one
 * request is ever on the way (docs/02-mutex.md, "The cost").
 */
#ifndef LOCKED_CLIENT_H
#define LOCKED_CLIENT_H

#include <pthread.h>
#include <stddef.h>

#include "redis_client.h"

struct locked_client {
    pthread_mutex_t lock;          /* held for each whole round trip */
    struct redis_client *client;   /* only used with `lock` held */
};

/* Puts `client` behind a new lock.  On success (0) the locked client owns
 * `client`: locked_client_destroy frees it.  On failure it returns the
 * error number from pthread_mutex_init and the caller still owns `client`. */
int locked_client_init(struct locked_client *lc, struct redis_client *client);

/* Destroys the lock AND frees the client.  Call it once, after every thread
 * that used `lc` has finished (joined). */
void locked_client_destroy(struct locked_client *lc);

/* redis_client_get / redis_client_set, one thread at a time: safe to call
 * from any number of threads at once.  The results are the wrapper's. */
struct redis_result locked_client_get(struct locked_client *lc,
                                      const void *key, size_t key_len);
struct redis_result locked_client_set(struct locked_client *lc,
                                      const void *key, size_t key_len,
                                      const void *value, size_t value_len);

#endif
