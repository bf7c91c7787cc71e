/*
 * cluster.c - one manager per master, and the slot map (see cluster.h).
 *
 * One read-write lock guards the slot map and the nodes.  Every send takes
 * it for reading, for the time of one array lookup; only a change takes it
 * for writing: a MOVED, a map read again, a new node.  Many readers, rare
 * writers: that is what a read-write lock is for.  A writer keeps it while
 * it asks Redis for the map (a connect and a round trip, and a connect to
 * each new master), so sends wait that long; it happens only when the
 * cluster changes.  Nodes are never removed before cluster_close, so a
 * sender found under the lock stays valid after it is released.
 */
#include "cluster.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "redis_client.h"
#include "report.h"
#include "slot.h"

struct cluster_node {
    char address[64]; /* "host:port" */
    char url[400];    /* redis://[:password@]host:port, for its manager */
    struct manager manager;
};

struct cluster {
    pthread_rwlock_t lock;   /* over everything below but the counters */
    short owner[SLOT_COUNT]; /* the node that serves each slot; -1: none known */
    size_t node_count;       /* nodes[0 .. node_count) are running */
    struct cluster_node nodes[CLUSTER_MAX_NODES];
    char password[256];      /* the seed URL's: every node wants it */
    FILE *log;
    double last_refresh;     /* when the map was last read, or tried */
    atomic_size_t moved, asked, refreshes;
};

/* After an error, the map is read again at most this often: a dead master
 * fails every command sent to it, and one CLUSTER SLOTS per failure would
 * only add load to the nodes that live. */
#define REFRESH_AFTER_ERROR_GAP_S 0.1

/* ---- Nodes, and the slot map (call these with the lock held for writing) ---- */

/* The node at `address`, its manager started if it is new; or -1. */
static int find_or_add_node(struct cluster *c, const char *address, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->node_count; i++)
        if (strcmp(c->nodes[i].address, address) == 0)
            return (int)i;
    if (c->node_count == CLUSTER_MAX_NODES) {
        snprintf(err, errlen, "more than %d cluster nodes", CLUSTER_MAX_NODES);
        return -1;
    }
    struct cluster_node *node = &c->nodes[c->node_count];
    snprintf(node->address, sizeof node->address, "%s", address);
    snprintf(node->url, sizeof node->url, "redis://%s%s%s%s", c->password[0] ? ":" : "",
             c->password, c->password[0] ? "@" : "", address);
    node->manager.id = (unsigned)c->node_count;
    node->manager.log = c->log;
    node->manager.url = node->url;
    if (manager_start(&node->manager, CLUSTER_CAPACITY, err, errlen) != 0)
        return -1;
    return (int)c->node_count++;
}

/*
 * Reads the slot map from the node at `url` into c->owner, starting a
 * manager for each master not met before.  CLUSTER SLOTS answers
 *     [ [first, last, [host, port, id], [replica host, port, id] ...], ... ]
 * and only the master (the third element) matters here.  Returns 0, or -1
 * with the message, the map unchanged, when the node gives no map or a
 * master in it cannot be reached.
 */
static int read_slot_map(struct cluster *c, const char *url, char *err, size_t errlen)
{
    struct redis_client_options opts = { .connect_timeout_ms = 1000 };
    struct redis_client *client = redis_client_connect(url, &opts, err, errlen);
    if (client == NULL)
        return -1;
    const char *argv[] = { "CLUSTER", "SLOTS" };
    const size_t len[] = { 7, 5 };
    struct redis_tree map = redis_client_command_tree(client, 2, argv, len);
    int rc = map.is_array ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "CLUSTER SLOTS on %s failed: %s. Is it a node of a Redis "
                 "Cluster? (`make run-10` starts one.)", redis_client_url(client),
                 map.value.data != NULL ? map.value.data : "no reply");
    redis_client_free(client);
    short owner[SLOT_COUNT];
    for (size_t s = 0; s < SLOT_COUNT; s++)
        owner[s] = -1;
    for (size_t k = 0; rc == 0 && k < map.count; k++) {
        const struct redis_tree *range = &map.elements[k];
        if (!range->is_array || range->count < 3 || !range->elements[2].is_array ||
            range->elements[2].count < 2)
            continue;
        const struct redis_tree *master = range->elements[2].elements;
        char address[64];
        snprintf(address, sizeof address, "%s:%lld",
                 master[0].value.data != NULL ? master[0].value.data : "", master[1].value.integer);
        int node = find_or_add_node(c, address, err, errlen);
        if (node < 0)
            rc = -1;
        for (long long s = range->elements[0].value.integer;
             node >= 0 && s >= 0 && s <= range->elements[1].value.integer && s < SLOT_COUNT; s++)
            owner[s] = (short)node;
    }
    if (rc == 0)
        memcpy(c->owner, owner, sizeof owner);
    redis_tree_free(&map);
    return rc;
}

/* Reads the map again from the first node that gives it, asking node
 * `first` first, then the others in turn. */
static void refresh(struct cluster *c, size_t first)
{
    c->last_refresh = report_seconds_now();
    size_t n = c->node_count;
    for (size_t k = 0; k < n; k++) {
        char err[512];
        if (read_slot_map(c, c->nodes[(first + k) % n].url, err, sizeof err) == 0) {
            atomic_fetch_add(&c->refreshes, 1);
            return;
        }
    }
}

/* ---- What the client calls ------------------------------------------------------- */

int cluster_node_at(struct cluster *c, const char *address, char *err, size_t errlen)
{
    pthread_rwlock_wrlock(&c->lock);
    int node = find_or_add_node(c, address, err, errlen);
    pthread_rwlock_unlock(&c->lock);
    return node;
}

void cluster_moved(struct cluster *c, unsigned slot, int node)
{
    size_t seen = atomic_load(&c->refreshes);
    atomic_fetch_add(&c->moved, 1);
    pthread_rwlock_wrlock(&c->lock);
    c->owner[slot % SLOT_COUNT] = (short)node;
    /* Unless another thread read the map while this one waited for the
     * lock: a burst of MOVED replies for one change costs one CLUSTER
     * SLOTS, not one each.  The node that said MOVED knows best. */
    if (atomic_load(&c->refreshes) == seen)
        refresh(c, (size_t)node);
    pthread_rwlock_unlock(&c->lock);
}

void cluster_asked(struct cluster *c)
{
    atomic_fetch_add(&c->asked, 1);
}

void cluster_refresh(struct cluster *c)
{
    pthread_rwlock_wrlock(&c->lock);
    if (report_seconds_now() - c->last_refresh >= REFRESH_AFTER_ERROR_GAP_S)
        refresh(c, 0);
    pthread_rwlock_unlock(&c->lock);
}

int cluster_slot_node(struct cluster *c, unsigned slot)
{
    pthread_rwlock_rdlock(&c->lock);
    int node = c->owner[slot % SLOT_COUNT];
    pthread_rwlock_unlock(&c->lock);
    return node;
}

enum chan_status cluster_send(struct cluster *c, const struct command *cmd, int node)
{
    pthread_rwlock_rdlock(&c->lock);
    if (node < 0)
        node = c->owner[key_slot(cmd->key, cmd->key_len)];
    struct mpsc_sender *tx = node >= 0 && (size_t)node < c->node_count ? c->nodes[node].manager.tx
                                                                       : NULL;
    pthread_rwlock_unlock(&c->lock);
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
    struct cluster *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory opening the cluster");
        return -1;
    }
    pthread_rwlock_init(&c->lock, NULL);
    snprintf(c->password, sizeof c->password, "%s", u.password);
    c->log = options->log;
    int rc = read_slot_map(c, url, err, errlen); /* nobody else has c yet: no lock */
    if (rc == 0 && c->node_count == 0) {
        snprintf(err, errlen, "the cluster serves no slot yet (CLUSTER SLOTS is empty)");
        rc = -1;
    }
    if (rc != 0) {
        cluster_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

void cluster_stats(struct cluster *c, struct cluster_stats *out)
{
    pthread_rwlock_rdlock(&c->lock);
    *out = (struct cluster_stats){ c->node_count, atomic_load(&c->moved), atomic_load(&c->asked),
                                   atomic_load(&c->refreshes) };
    pthread_rwlock_unlock(&c->lock);
}

const char *cluster_node_address(struct cluster *c, size_t i)
{
    return c->nodes[i].address; /* written before the node was counted */
}

void cluster_node_stats(struct cluster *c, size_t i, struct manager_stats *out)
{
    const struct manager *m = &c->nodes[i].manager;
    *out = (struct manager_stats){
        .succeeded = atomic_load(&m->succeeded),
        .failed = atomic_load(&m->failed),
        .connections_lost = atomic_load(&m->connections_lost),
        .reconnects = atomic_load(&m->reconnects),
        .connected = atomic_load(&m->connected),
    };
}

/* Dropping every manager's sender before joining any lets them drain side
 * by side (as pool_close does). */
void cluster_close(struct cluster *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->node_count; i++)
        mpsc_sender_drop(c->nodes[i].manager.tx);
    for (size_t i = 0; i < c->node_count; i++)
        pthread_join(c->nodes[i].manager.thread, NULL);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}
