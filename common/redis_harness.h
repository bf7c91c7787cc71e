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

#endif
