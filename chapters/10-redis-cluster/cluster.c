/*
 * cluster.c - one manager per master, and the slot map (see cluster.h).
 *
 * Two locks, for two different things:
 *   map_lock      a read-write lock around the slot map and the node
 *                 count.  Every send takes it for reading, for the time of
 *                 one array lookup; only a new map or a new node takes it
 *                 for writing.  Many senders, rare writers: that is what a
 *                 read-write lock is for.
 *   refresh_lock  one refresh (or one new node) at a time.  A refresh talks
 *                 to Redis, which takes a round trip or a connect: it is
 *                 done without map_lock, so that sends go on meanwhile.
 * Nodes are never removed before cluster_close, so a sender found under
 * map_lock stays valid after it is released.
 */
#include "cluster.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_client.h"
#include "slot.h"

struct cluster_node {
    char address[64];        /* "host:port" */
    struct manager manager;
    struct mpsc_sender *tx;  /* the manager's channel */
};

struct cluster {
    pthread_rwlock_t map_lock;
    short owner[SLOT_COUNT];       /* the node that serves each slot; -1: none known */
    size_t node_count;             /* nodes[0 .. node_count) are running */
    struct cluster_node nodes[CLUSTER_MAX_NODES];
    pthread_mutex_t refresh_lock;
    char password[256];            /* the seed URL's: every node wants it */
    size_t capacity;
    FILE *log;
    atomic_size_t moved, asked, refreshes;
    atomic_llong last_refresh_ms;  /* when the map was last read (or tried) */
};

/* After an error, the map is read again at most this often: a dead master
 * fails every command sent to it, and one CLUSTER SLOTS per failure would
 * only add load to the nodes that live. */
#define REFRESH_AFTER_ERROR_GAP_MS 100

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Nodes ------------------------------------------------------------------ */

/* redis://host:port, with the seed URL's password if it had one. */
static void node_url(const struct cluster *c, const char *address, char *url, size_t len)
{
    snprintf(url, len, "redis://%s%s%s%s", c->password[0] ? ":" : "", c->password,
             c->password[0] ? "@" : "", address);
}

/* The node at `address`, started if new.  Call with refresh_lock held:
 * node_count only grows under it. */
static int find_or_add_node(struct cluster *c, const char *address, char *err, size_t errlen)
{
    size_t n = c->node_count;
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->nodes[i].address, address) == 0)
            return (int)i;
    if (n == CLUSTER_MAX_NODES) {
        snprintf(err, errlen, "more than %d cluster nodes", CLUSTER_MAX_NODES);
        return -1;
    }
    struct cluster_node *node = &c->nodes[n];
    snprintf(node->address, sizeof node->address, "%s", address);
    char url[400];
    node_url(c, address, url, sizeof url);
    node->manager.id = (unsigned)n;
    node->manager.log = c->log;
    if (manager_start(&node->manager, url, c->capacity, &node->tx, err, errlen) != 0)
        return -1;
    pthread_rwlock_wrlock(&c->map_lock); /* publish it: senders read node_count */
    c->node_count = n + 1;
    pthread_rwlock_unlock(&c->map_lock);
    return (int)n;
}

int cluster_node_at(struct cluster *c, const char *address, char *err, size_t errlen)
{
    pthread_mutex_lock(&c->refresh_lock);
    int node = find_or_add_node(c, address, err, errlen);
    pthread_mutex_unlock(&c->refresh_lock);
    return node;
}

/* ---- The slot map ------------------------------------------------------------- */

/*
 * Reads the slot map from the node at `url` into owner[], starting a
 * manager for each master not met before.  CLUSTER SLOTS answers
 *     [ [first, last, [host, port, id], [replica host, port, id] ...], ... ]
 * and only the master (the third element) matters here.  Returns 0, or -1
 * with the message when the node gives no map; *unreachable counts the
 * masters that could not be connected (their slots stay -1).  Call with
 * refresh_lock held.
 */
static int read_slot_map(struct cluster *c, const char *url, short owner[SLOT_COUNT],
                         size_t *unreachable, char *err, size_t errlen)
{
    for (size_t s = 0; s < SLOT_COUNT; s++)
        owner[s] = -1;
    *unreachable = 0;
    struct redis_client_options opts = { .connect_timeout_ms = 1000 };
    struct redis_client *client = redis_client_connect(url, &opts, err, errlen);
    if (client == NULL)
        return -1;
    const char *argv[] = { "CLUSTER", "SLOTS" };
    const size_t len[] = { 7, 5 };
    struct redis_tree map = redis_client_command_tree(client, 2, argv, len);
    if (!map.is_array)
        snprintf(err, errlen, "CLUSTER SLOTS on %s failed: %s. Is it a node of a Redis "
                 "Cluster? (`make run-10` starts one.)", redis_client_url(client),
                 map.value.data != NULL ? map.value.data : "no reply");
    redis_client_free(client);
    for (size_t k = 0; k < map.count; k++) {
        const struct redis_tree *range = &map.elements[k];
        if (!range->is_array || range->count < 3 || !range->elements[2].is_array ||
            range->elements[2].count < 2)
            continue;
        const struct redis_tree *master = range->elements[2].elements;
        char address[64];
        snprintf(address, sizeof address, "%s:%lld",
                 master[0].value.data != NULL ? master[0].value.data : "", master[1].value.integer);
        int node = find_or_add_node(c, address, err, errlen);
        *unreachable += node < 0;
        for (long long s = range->elements[0].value.integer;
             node >= 0 && s >= 0 && s <= range->elements[1].value.integer && s < SLOT_COUNT; s++)
            owner[s] = (short)node;
    }
    int rc = map.is_array ? 0 : -1;
    redis_tree_free(&map);
    return rc;
}

/* Reads the map again from the first node that answers, `first` (if not
 * -1) before the others.  Call with refresh_lock held. */
static void refresh_locked(struct cluster *c, int first)
{
    short owner[SLOT_COUNT];
    atomic_store(&c->last_refresh_ms, now_ms());
    for (int k = -1; k < (int)c->node_count; k++) {
        int i = k < 0 ? first : k;
        if (i < 0 || (k >= 0 && i == first))
            continue;
        char url[400], err[512];
        size_t unreachable;
        node_url(c, c->nodes[i].address, url, sizeof url);
        if (read_slot_map(c, url, owner, &unreachable, err, sizeof err) == 0) {
            pthread_rwlock_wrlock(&c->map_lock);
            memcpy(c->owner, owner, sizeof owner);
            pthread_rwlock_unlock(&c->map_lock);
            atomic_fetch_add(&c->refreshes, 1);
            return;
        }
    }
}

/* Refreshes, unless another thread did since `seen` (the refresh count
 * before this one waited for the lock): a burst of MOVED replies for the
 * same change then costs one CLUSTER SLOTS, not one each. */
static void refresh_unless_done(struct cluster *c, size_t seen, int first)
{
    pthread_mutex_lock(&c->refresh_lock);
    if (atomic_load(&c->refreshes) == seen)
        refresh_locked(c, first);
    pthread_mutex_unlock(&c->refresh_lock);
}

void cluster_refresh(struct cluster *c)
{
    if (now_ms() - atomic_load(&c->last_refresh_ms) >= REFRESH_AFTER_ERROR_GAP_MS)
        refresh_unless_done(c, atomic_load(&c->refreshes), -1);
}

void cluster_moved(struct cluster *c, unsigned slot, int node)
{
    size_t seen = atomic_load(&c->refreshes);
    atomic_fetch_add(&c->moved, 1);
    pthread_rwlock_wrlock(&c->map_lock);
    c->owner[slot % SLOT_COUNT] = (short)node;
    pthread_rwlock_unlock(&c->map_lock);
    refresh_unless_done(c, seen, node); /* the node that said MOVED knows best */
}

void cluster_asked(struct cluster *c)
{
    atomic_fetch_add(&c->asked, 1);
}

int cluster_slot_node(struct cluster *c, unsigned slot)
{
    pthread_rwlock_rdlock(&c->map_lock);
    int node = c->owner[slot % SLOT_COUNT];
    pthread_rwlock_unlock(&c->map_lock);
    return node;
}

/* ---- Sending ---------------------------------------------------------------------- */

enum chan_status cluster_send(struct cluster *c, const struct command *cmd, int node)
{
    pthread_rwlock_rdlock(&c->map_lock);
    if (node < 0)
        node = c->owner[key_slot(cmd->key, cmd->key_len)];
    struct mpsc_sender *tx = node >= 0 && (size_t)node < c->node_count ? c->nodes[node].tx : NULL;
    pthread_rwlock_unlock(&c->map_lock);
    /* Outside the lock: a full channel makes us wait (backpressure), and
     * nobody else should wait for that. */
    return tx != NULL ? mpsc_send(tx, cmd) : CHAN_CLOSED;
}

/* ---- Opening, statistics, closing --------------------------------------------------- */

int cluster_open(const char *url, const struct cluster_options *options, struct cluster **out,
                 char *err, size_t errlen)
{
    *out = NULL;
    struct redis_url u;
    if (url == NULL)
        url = redis_url_from_env();
    if (redis_url_parse(url, &u, err, errlen) != 0)
        return -1;
    if (u.db != 0) {
        snprintf(err, errlen, "a Redis Cluster has only database 0; drop /%d from REDIS_URL", u.db);
        return -1;
    }
    struct cluster *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory opening the cluster");
        return -1;
    }
    pthread_rwlock_init(&c->map_lock, NULL);
    pthread_mutex_init(&c->refresh_lock, NULL);
    snprintf(c->password, sizeof c->password, "%s", u.password);
    c->capacity = options != NULL && options->capacity > 0 ? options->capacity
                                                           : CLUSTER_DEFAULT_CAPACITY;
    c->log = options != NULL ? options->log : NULL;
    size_t unreachable;
    pthread_mutex_lock(&c->refresh_lock);
    int rc = read_slot_map(c, url, c->owner, &unreachable, err, errlen);
    pthread_mutex_unlock(&c->refresh_lock);
    if (rc == 0 && unreachable == 0 && c->node_count == 0) {
        snprintf(err, errlen, "the cluster serves no slot yet (CLUSTER SLOTS is empty)");
        rc = -1;
    }
    if (rc != 0 || unreachable > 0) {
        cluster_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

void cluster_stats(struct cluster *c, struct cluster_stats *out)
{
    pthread_rwlock_rdlock(&c->map_lock);
    out->nodes = c->node_count;
    pthread_rwlock_unlock(&c->map_lock);
    out->moved = atomic_load(&c->moved);
    out->asked = atomic_load(&c->asked);
    out->refreshes = atomic_load(&c->refreshes);
}

const char *cluster_node_address(struct cluster *c, size_t i)
{
    return c->nodes[i].address; /* written before the node was published */
}

void cluster_node_stats(struct cluster *c, size_t i, struct manager_stats *out)
{
    manager_stats(&c->nodes[i].manager, out);
}

void cluster_close(struct cluster *c)
{
    if (c == NULL)
        return;
    /* Close every channel first, so the managers drain side by side. */
    for (size_t i = 0; i < c->node_count; i++)
        mpsc_sender_drop(c->nodes[i].tx);
    for (size_t i = 0; i < c->node_count; i++)
        manager_join(&c->nodes[i].manager);
    pthread_rwlock_destroy(&c->map_lock);
    pthread_mutex_destroy(&c->refresh_lock);
    free(c);
}
