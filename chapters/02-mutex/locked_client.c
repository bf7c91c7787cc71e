/*
 * locked_client.c - see locked_client.h.
 *
 * The exercise of chapter 02 is the body of locked_client_get and
 * locked_client_set.  What to notice: the lock is held across the whole
 * call to the wrapper, because redis_client_get does two things - it writes
 * the request, then blocks until the reply has been read - and another
 * thread must touch the connection in neither step.
 */
#include "locked_client.h"

int locked_client_init(struct locked_client *lc, struct redis_client *client)
{
    /* A default mutex: no error checking, no recursion.  Its lock and unlock
     * cannot fail when used as below (always unlocked by the thread that
     * locked it, never locked twice), so their results are not checked. */
    int rc = pthread_mutex_init(&lc->lock, NULL);
    if (rc != 0)
        return rc;
    lc->client = client;
    return 0;
}

void locked_client_destroy(struct locked_client *lc)
{
    pthread_mutex_destroy(&lc->lock);
    redis_client_free(lc->client);
    lc->client = NULL;
}

struct redis_result locked_client_get(struct locked_client *lc,
                                      const void *key, size_t key_len)
{
    // TODO(02): take lc->lock, call redis_client_get(lc->client, key, key_len),
    // release the lock, and return the result.  The lock must cover the WHOLE
    // call: redis_client_get sends the request and then waits for the reply,
    // and if another thread used the connection in between it could send its
    // own request first or read the reply that is ours (docs/02-mutex.md,
    // "Why the whole round trip").  Release it on every way out, an error
    // result too: a return that skips the unlock leaves every later call
    // waiting for ever.
    (void)lc;
    (void)key;
    (void)key_len;
    return redis_result_error(REDIS_RESULT_ERROR, "not implemented yet: locked_client_get "
                              "(TODO(02) in chapters/02-mutex/locked_client.c)");
}

struct redis_result locked_client_set(struct locked_client *lc,
                                      const void *key, size_t key_len,
                                      const void *value, size_t value_len)
{
    // TODO(02): the same as locked_client_get, with
    // redis_client_set(lc->client, key, key_len, value, value_len).
    (void)lc;
    (void)key;
    (void)key_len;
    (void)value;
    (void)value_len;
    return redis_result_error(REDIS_RESULT_ERROR, "not implemented yet: locked_client_set "
                              "(TODO(02) in chapters/02-mutex/locked_client.c)");
}
