/*
 * redis_harness.h - a throwaway redis-server for tests and for `make run`.
 *
 * Tests talk to a real Redis, never a mock.  The harness starts
 * `redis-server` bound to 127.0.0.1 on a port the kernel picks, with no
 * persistence and its files in a fresh temporary folder, waits until it
 * answers PING, and stops it again.  Two test runs at once get two servers
 * on two ports and two folders, so they cannot collide.
 *
 * The server always goes away with its owner:
 *   - redis_harness_stop() on the normal path;
 *   - on Linux the server is started with PR_SET_PDEATHSIG, so the kernel
 *     kills it if the process that started it dies for any reason (a crash,
 *     SIGKILL, a failed assertion in a forked Check test);
 *   - at exit(), every server the process still runs is killed and its
 *     folder removed (a program that exits early, or a CK_FORK=no test run
 *     in which a failed assertion skipped a test's redis_harness_stop);
 *   - redis_harness_stop_all_on_signal() installs SIGINT/SIGTERM/SIGHUP
 *     handlers that stop every live server and remove its folder before the
 *     process dies of the signal (Ctrl-C).
 *
 * Faults are made with the same real server: kill it (SIGKILL), restart it
 * on the same port, pause it (CLIENT PAUSE), freeze it (SIGSTOP), or use
 * redis_harness_closed_port_url() for a port where nothing listens.
 */
#ifndef REDIS_HARNESS_H
#define REDIS_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

struct redis_harness {
    pid_t pid;          /* the redis-server process, 0 when not running */
    int port;
    char url[64];       /* redis://127.0.0.1:PORT */
    char dir[256];      /* its temporary folder (config, log) */
    int frozen;         /* 1 between redis_harness_freeze and _thaw */
    pid_t owner;        /* the process that started it.  Only that process
                           stops or kills the server: a Check test forked
                           after the start holds a copy of this struct, and
                           its exit must not take the server with it. */
};

/* Starts a server and waits (at most 10 s) until it answers PING.  Returns 0,
 * or -1 with a message in err[errlen] (redis-server missing, would not
 * start: the message quotes the end of its log). */
int redis_harness_start(struct redis_harness *h, char *err, size_t errlen);

/* SIGTERM, wait for it to exit, remove its folder.  Safe to call twice.
 * In any process other than `owner` it only forgets this copy. */
void redis_harness_stop(struct redis_harness *h);

/* SIGKILL, as a crash would: clients see the connection drop.  The folder is
 * kept until redis_harness_stop.  Does nothing outside `owner`. */
void redis_harness_kill(struct redis_harness *h);

/* Kills the server (SIGKILL, as kill does, if it still runs) and starts a
 * new, empty one on the SAME port, in the same folder: for testing clients
 * that must survive a server restart.  Their old connections drop; new
 * connections to h->url reach the new server.  Waits (at most 10 s) until
 * it answers PING.  Returns 0, or -1 with a message in err[errlen]: the port
 * was taken by someone else meanwhile, or the server would not start.  After
 * -1 no server runs; redis_harness_stop still removes the folder.  The new
 * server has every guarantee the first one had (stopped at exit, on a
 * signal, and - PR_SET_PDEATHSIG - when the thread that restarted it
 * ends: restart from the thread that started it).  Outside `owner` it
 * fails and changes nothing. */
int redis_harness_restart(struct redis_harness *h, char *err, size_t errlen);

/* CLIENT PAUSE for `ms` milliseconds: the server holds every client's
 * commands unanswered until then.  Returns 0 or -1. */
int redis_harness_pause(struct redis_harness *h, unsigned ms);

/* SIGSTOP: the server stops dead, as a hung or swapped-out machine would.
 * Unlike CLIENT PAUSE it does not even accept commands to hold them: the
 * kernel still completes new TCP connections (from the listen backlog), but
 * nothing is read or answered until redis_harness_thaw.  Waits until the
 * server is stopped.  Returns 0, or -1 when it is not running or the caller
 * is not `owner` (then nothing changes).  redis_harness_stop, kill and
 * restart work on a frozen server. */
int redis_harness_freeze(struct redis_harness *h);

/* SIGCONT: a frozen server goes on where it stopped, and answers what was
 * sent meanwhile.  Waits until it runs again.  0, or -1 as for freeze. */
int redis_harness_thaw(struct redis_harness *h);

/* Writes a redis:// URL for a loopback port where nothing listens (a port
 * the kernel just handed out and took back). */
void redis_harness_closed_port_url(char *url, size_t len);

/* Installs the Ctrl-C cleanup described above.  Calling it again installs it
 * again (useful in a forked child whose inherited handlers were replaced);
 * a signal that is ignored (nohup, `cmd &`) stays ignored. */
void redis_harness_stop_all_on_signal(void);

/* ---- A throwaway Redis Cluster --------------------------------------------
 *
 * redis_cluster_start starts `masters` (at least 3) master nodes and
 * `replicas` replicas of each, every one a harness server as above (its own
 * free port and folder, no persistence, the same guarantees of being
 * stopped) with cluster mode on: a free cluster bus port of its own
 * (`cluster-port`, Redis 7) and its cluster config file inside its folder.
 * The nodes are joined with CLUSTER ADDSLOTSRANGE, CLUSTER MEET and CLUSTER
 * REPLICATE, the 16384 slots split evenly over the masters in order
 * (master 0 gets 0-5460 of three), and the start returns once every node's
 * CLUSTER INFO says cluster_state:ok, every node's CLUSTER SLOTS gives the
 * same slot map, and every replica's link to its master is up.
 *
 * Settings that matter to a test: cluster-node-timeout is short (1500 ms),
 * so a killed master is failed over within a few seconds; and
 * cluster-require-full-coverage is off, so when a master without a replica
 * dies only ITS slots stop being served, not the whole cluster's.
 *
 * Nodes are numbered masters first (0 .. masters-1), then the replicas of
 * master 0, of master 1, and so on.  A failover promotes a replica; the
 * numbers stay.  A killed node stays dead: redis_harness_restart on one of
 * nodes[] would bring back a plain server, not a cluster node.
 */
#define REDIS_CLUSTER_SLOTS 16384
#define REDIS_CLUSTER_MAX_NODES 12

struct redis_cluster {
    size_t masters;         /* as started */
    size_t replicas;        /* per master, as started */
    size_t node_count;      /* masters * (1 + replicas) */
    struct redis_harness nodes[REDIS_CLUSTER_MAX_NODES];
    int bus_ports[REDIS_CLUSTER_MAX_NODES];
    char ids[REDIS_CLUSTER_MAX_NODES][48]; /* each node's CLUSTER MYID */
    char url[64];           /* node 0's: any node is a way in */
};

/* Starts and joins the cluster and waits (at most 30 s) until it is ready
 * as described above.  Returns 0, or -1 with a message in err[errlen] and
 * nothing left running. */
int redis_cluster_start(struct redis_cluster *c, size_t masters, size_t replicas,
                        char *err, size_t errlen);

/* Stops every node and removes its folder; safe to call twice.  Outside
 * the process that started it, it only forgets this copy. */
void redis_cluster_stop(struct redis_cluster *c);

/* SIGKILL for node i, as a crash.  The other nodes notice after
 * cluster-node-timeout; a replica of it then takes over its slots. */
void redis_cluster_kill_node(struct redis_cluster *c, size_t i);

/* Waits (at most `timeout_ms`) until every node still running says
 * cluster_state:ok and all of them map every slot to the same running
 * master: after a failover, say.  Returns 0, or -1 with what was still
 * wrong in err[errlen]. */
int redis_cluster_wait_until_stable(struct redis_cluster *c, unsigned timeout_ms, char *err,
                                    size_t errlen);

/* The node (an index into nodes[]) that serves `slot`, as a running node's
 * CLUSTER SLOTS says; -1 if none does or no node answers. */
int redis_cluster_slot_owner(const struct redis_cluster *c, int slot);

/* Moves the slots first..last, with their keys, to master `to`, one slot
 * at a time, the way `redis-cli --cluster reshard` does: the three steps
 * below.  Returns 0, or -1 with a message. */
int redis_cluster_move_slots(struct redis_cluster *c, int first, int last, size_t to,
                             char *err, size_t errlen);

/* The steps of moving one slot, for a test that wants to stop between them:
 *   begin      CLUSTER SETSLOT IMPORTING on `to`, MIGRATING on the owner.
 *              From now on the owner answers a command for a key it does
 *              not have (any more) with -ASK slot host:port of `to`.
 *   move_keys  MIGRATE every key the owner still has in the slot to `to`.
 *   end        CLUSTER SETSLOT NODE on every master: `to` owns the slot,
 *              and the old owner answers -MOVED slot host:port. */
int redis_cluster_migration_begin(struct redis_cluster *c, int slot, size_t to, char *err,
                                  size_t errlen);
int redis_cluster_migration_move_keys(struct redis_cluster *c, int slot, size_t to, char *err,
                                      size_t errlen);
int redis_cluster_migration_end(struct redis_cluster *c, int slot, size_t to, char *err,
                                size_t errlen);

#endif
