/*
 * pool.c - N managers behind one sending side (see pool.h).
 *
 * The pool itself is small: an array of managers, the one sender of each
 * manager's channel, and the choice of which channel a command goes into.
 * That choice is the interesting part - see pool_route.
 */
#include "pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pool {
    char *url;                 /* a copy: the managers reconnect with it */
    size_t size;
    struct manager managers[]; /* size of them */
};

/*
 * Routing: which manager gets a command.
 *
 * The candidates, and why only one of them is right here:
 *
 *   - Round robin (command 0 to manager 0, command 1 to manager 1, ...)
 *     spreads the load perfectly, and breaks the one promise a single
 *     connection made for free: SET k 1 then GET k from one thread would go
 *     to two managers, on two connections, and nothing orders two
 *     connections - the GET may run first and miss the write.
 *   - Least queued (the emptiest channel, mpsc_sender_len) breaks it the
 *     same way: two commands for one key can land in two queues.
 *   - A hash of the key: every command for key k goes to manager
 *     hash(k) % N, through one FIFO channel and one connection, so the
 *     commands for one key run in the order they were sent.  Different keys
 *     spread over the managers about evenly.
 *
 * The price of hashing: one very busy key loads one manager while the others
 * idle, and changing N sends most keys to another manager (consistent
 * hashing, or Redis Cluster's 16384 slots, limit that).  Commands for
 * DIFFERENT keys are not ordered with each other any more - a caller that
 * needs that must wait for one answer before sending the next.
 */
size_t pool_route(const struct pool *pool, const void *key, size_t key_len)
{
    // TODO(07): pick the manager from a hash of the key, so that every
    // command for one key goes to the same manager and stays in order:
    // hash every byte of key[0..key_len) (FNV-1a is a few lines), fold
    // the high half of the 64-bit hash into the low half
    // (hash ^ (hash >> 32)), then take it modulo pool->size.  Without the
    // fold the low bits that `% pool->size` keeps ignore the high bits of
    // every byte, and keys such as "k0", "k4" and "k8" all go to one
    // manager.  Not round robin: read why in
    // docs/07-connection-pool.md, "Which manager gets a command".
    // For now every command goes to manager 0, and the others idle.
    (void)pool;
    (void)key;
    (void)key_len;
    return 0;
}

enum chan_status pool_send(struct pool *pool, const struct command *cmd)
{
    size_t i = pool_route(pool, cmd->key, cmd->key_len);
    return mpsc_send(pool->managers[i].tx, cmd);
}

void pool_stats(const struct pool *pool, size_t i, struct manager_stats *out)
{
    const struct manager *m = &pool->managers[i];
    *out = (struct manager_stats){
        .succeeded = atomic_load(&m->succeeded),
        .failed = atomic_load(&m->failed),
        .connections_lost = atomic_load(&m->connections_lost),
        .reconnects = atomic_load(&m->reconnects),
        .connected = atomic_load(&m->connected),
    };
}

/* Dropping a manager's only sender closes its channel, and the manager ends
 * once it has answered what was queued.  Dropping every sender before
 * joining any manager lets them all drain at the same time.  (pool->size
 * counts the managers started: pool_open stops them this way too.) */
void pool_close(struct pool *pool)
{
    if (pool == NULL)
        return;
    for (size_t i = 0; i < pool->size; i++)
        mpsc_sender_drop(pool->managers[i].tx);
    for (size_t i = 0; i < pool->size; i++)
        pthread_join(pool->managers[i].thread, NULL);
    free(pool->url);
    free(pool);
}

int pool_open(const char *url, size_t connections, const struct pool_options *options,
              struct pool **out, char *err, size_t errlen)
{
    *out = NULL;
    if (connections < 1 || connections > POOL_MAX_CONNECTIONS) {
        snprintf(err, errlen, "a pool has 1 to %d connections", POOL_MAX_CONNECTIONS);
        return -1;
    }
    struct pool *pool = calloc(1, sizeof *pool + connections * sizeof pool->managers[0]);
    if (pool == NULL || (pool->url = strdup(url != NULL ? url : redis_url_from_env())) == NULL) {
        free(pool);
        snprintf(err, errlen, "out of memory making a pool of %zu", connections);
        return -1;
    }
    for (; pool->size < connections; pool->size++) {
        struct manager *m = &pool->managers[pool->size];
        m->id = (unsigned)pool->size;
        snprintf(m->name, sizeof m->name, "%s-%zu", options->name, pool->size);
        m->log = options->log;
        m->url = pool->url;
        if (manager_start(m, POOL_CAPACITY, err, errlen) != 0) {
            pool_close(pool); /* the ones already running */
            return -1;
        }
    }
    *out = pool;
    return 0;
}
