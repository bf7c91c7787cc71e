/*
 * cluster.h - chapter 07's pool on a Redis Cluster: one manager per
 * master, and a slot map where the pool had a hash modulo.
 *
 *                                      slot map                ┌─► [ mpsc 0 ] ──► manager 0 ──► master A
 *     requesters ──► cluster_send ──► key_slot(key) ──► node ──┼─► [ mpsc 1 ] ──► manager 1 ──► master B
 *                                                              └─► [ mpsc 2 ] ──► manager 2 ──► master C
 *
 * The pool sent key k to manager hash(k) % N.  Here the cluster decides
 * where a key lives: its slot (slot.h) is served by one master, and the
 * slot map, learned from CLUSTER SLOTS, says which.  Every command for one
 * key still goes through one channel to one connection, so the commands
 * for a key stay in order - as long as the slot stays where it is.
 *
 * The slot map changes when the cluster does (slots moved, a replica
 * promoted).  A node then answers -MOVED; client.c calls cluster_moved,
 * which records the new owner and reads the whole map again.  A node met
 * that way gets its manager then and there.
 *
 * Any thread may call any function here at once, except cluster_close: call
 * it once, after every thread is done with the cluster.
 */
#ifndef CLUSTER_H
#define CLUSTER_H

#include <stddef.h>
#include <stdio.h>

#include "chan.h"
#include "command.h"
#include "manager.h"

/* Managers (so, nodes) a cluster may have over its life: every master it
 * ever sent commands to, including dead ones. */
#define CLUSTER_MAX_NODES 16
/* Each manager's channel holds this many commands, as in chapter 07. */
#define CLUSTER_CAPACITY 32

struct cluster_options {
    FILE *log; /* the managers' connection events, or NULL */
};

/* What the cluster has seen: managers started, MOVED and ASK redirections
 * followed, and times the slot map was read again. */
struct cluster_stats {
    size_t nodes, moved, asked, refreshes;
};

struct cluster;

/*
 * Reads the slot map from the node at `url` (NULL: $REDIS_URL; any node of
 * the cluster will do) and starts a manager for every master it names,
 * each connected before this returns.  Returns 0 with *out set, or -1 with
 * the message in err[errlen] (a server that is not a cluster node is told
 * apart from one that cannot be reached).
 */
int cluster_open(const char *url, const struct cluster_options *options,
                 struct cluster **out, char *err, size_t errlen);

/* The node (manager) that serves `slot` now, or -1 if none is known. */
int cluster_slot_node(struct cluster *c, unsigned slot);

/* Sends `cmd` to node `node`, or, when `node` is -1, to the node that
 * serves its key's slot; waits while that channel is full.  CHAN_OK: the
 * command is the manager's.  CHAN_CLOSED: no node serves the slot or its
 * manager has stopped; the command is still the caller's. */
enum chan_status cluster_send(struct cluster *c, const struct command *cmd, int node);

/* The node at `address` ("host:port", as in a MOVED or ASK reply), with a
 * manager started for it if it is new.  Returns its number, or -1 with the
 * message in err[errlen]. */
int cluster_node_at(struct cluster *c, const char *address, char *err, size_t errlen);

/* A node answered MOVED: `slot` is `node`'s now.  Records it, then reads
 * the whole slot map again from that node (unless another thread did while
 * this one waited), since a slot seldom moves alone. */
void cluster_moved(struct cluster *c, unsigned slot, int node);

/* Counts an ASK redirection followed (the map does not change). */
void cluster_asked(struct cluster *c);

/* Reads the slot map again, asking the nodes it knows in turn: after a
 * connection error, a master may have died and a replica taken over.  At
 * most once per 100 ms, however many errors there are. */
void cluster_refresh(struct cluster *c);

void cluster_stats(struct cluster *c, struct cluster_stats *out);
/* Node i's "host:port", and its manager's counters. */
const char *cluster_node_address(struct cluster *c, size_t i);
void cluster_node_stats(struct cluster *c, size_t i, struct manager_stats *out);

/* Every manager answers what is queued and ends; frees the cluster.  NULL
 * is fine. */
void cluster_close(struct cluster *c);

#endif
