/*
 * redis_harness.c - see redis_harness.h.
 *
 * What to notice:
 *   - The port.  We ask the kernel for a free one (bind to port 0, read it
 *     back, close) and hand it to redis-server.  Between our close() and
 *     redis-server's bind() another program may take it; the server then
 *     exits with "Address already in use" and we simply try another port.
 *   - Between fork() and exec() the child only calls async-signal-safe
 *     functions: the parent may have other threads, and one of them may
 *     have held a lock (malloc's, stdio's) at the moment of the fork.
 *   - PR_SET_PDEATHSIG (Linux) asks the kernel to SIGKILL the server when
 *     the thread that forked it exits.  Start harnesses from a thread that
 *     lives as long as they do - normally the main thread.
 *   - The server gets its own process group, so a Ctrl-C typed in the
 *     terminal reaches us and not it: we stop it in order, then exit.
 *   - The signal handler cannot call malloc, printf or opendir.  It walks a
 *     fixed table of live servers whose paths were worked out in advance.
 */
#include "redis_harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "redis_client.h"

enum {
    START_ATTEMPTS = 5,       /* ports tried when another program wins the race */
    START_TIMEOUT_MS = 10000, /* until the server must answer PING */
    POLL_MS = 10,
    STOP_GRACE_MS = 5000,     /* after SIGTERM, before SIGKILL */
    MAX_LIVE = 16,            /* servers one process may run at once */
    MAX_FD_TO_CLOSE = 65536,
};

#define LOG_NAME "redis.log"
/* A cluster node's config file (cluster-config-file), in the node's folder.
 * Every folder gets the name in the registry, so the signal handler can
 * remove it without knowing what kind of server the folder belonged to. */
#define CLUSTER_CONF_NAME "nodes-cluster.conf"

/* ---- Small helpers ------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static pid_t wait_for(pid_t pid, int *status, int flags)
{
    pid_t r;
    while ((r = waitpid(pid, status, flags)) == -1 && errno == EINTR)
        ;
    return r;
}

/* Asks the kernel for a loopback port that is free right now. */
static int pick_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0; /* "any free port" */
    socklen_t addr_len = sizeof addr;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &addr_len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

/* Removes the files in `dir` (the server writes no subfolders), then dir. */
static void remove_folder(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/*
 * Folders are named channels-redis-<owner pid>-XXXXXX.  When an owner dies
 * without cleaning up (a Check test that failed in its forked child, a
 * SIGKILL), the kernel kills its server but its folder stays behind; the
 * next start removes every such folder whose owner no longer exists.
 */
#define FOLDER_PREFIX "channels-redis-"

static void sweep_orphaned_folders(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, FOLDER_PREFIX, strlen(FOLDER_PREFIX)) != 0)
            continue;
        char *end;
        long pid = strtol(e->d_name + strlen(FOLDER_PREFIX), &end, 10);
        if (pid <= 0 || *end != '-')
            continue; /* not one of ours, or from an older naming */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* the owner is alive (or not ours to judge) */
        char path[512];
        snprintf(path, sizeof path, "%s/%s", tmp, e->d_name);
        remove_folder(path);
    }
    closedir(d);
}

/* The last few lines of the server's log, for error messages. */
static void read_log_tail(const char *path, char *out, size_t outlen)
{
    char buf[1024];
    snprintf(out, outlen, "(no log)");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t start = size > (off_t)sizeof buf - 1 ? size - (off_t)(sizeof buf - 1) : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, start);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    /* Keep the last three lines. */
    char *tail = buf;
    int lines = 0;
    for (char *p = buf + n; p > buf; p--) {
        if (p[-1] == '\n' && ++lines == 3) {
            tail = p;
            break;
        }
    }
    snprintf(out, outlen, "%s", tail);
}

/* ---- The registry the signal handler walks --------------------------------
 *
 * A slot is FREE, BUSY (being written: the handler skips it) or LIVE.  The
 * state is a lock-free atomic, the only kind of shared variable a signal
 * handler may read; everything else in the slot is written before the state
 * becomes LIVE and only read after it is seen LIVE. */

enum { SLOT_FREE, SLOT_BUSY, SLOT_LIVE };

struct live_server {
    atomic_int state;
    pid_t owner;          /* only this process cleans the slot up */
    pid_t pid;            /* 0 once killed: only the folder is left */
    char dir[256];
    char log_path[300];
    char conf_path[300];  /* a cluster node's config file (may not exist) */
};

static struct live_server live[MAX_LIVE];

static struct live_server *registry_add(const struct redis_harness *h)
{
    for (int i = 0; i < MAX_LIVE; i++) {
        int expected = SLOT_FREE;
        if (atomic_compare_exchange_strong(&live[i].state, &expected, SLOT_BUSY)) {
            live[i].owner = h->owner;
            live[i].pid = 0;
            snprintf(live[i].dir, sizeof live[i].dir, "%s", h->dir);
            snprintf(live[i].log_path, sizeof live[i].log_path, "%s/" LOG_NAME, h->dir);
            snprintf(live[i].conf_path, sizeof live[i].conf_path, "%s/" CLUSTER_CONF_NAME,
                     h->dir);
            atomic_store(&live[i].state, SLOT_LIVE);
            return &live[i];
        }
    }
    return NULL;
}

static struct live_server *registry_find(const struct redis_harness *h)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (atomic_load(&live[i].state) == SLOT_LIVE && live[i].owner == h->owner &&
            strcmp(live[i].dir, h->dir) == 0)
            return &live[i];
    return NULL;
}

static void registry_set_pid(struct live_server *slot, pid_t pid)
{
    if (slot == NULL)
        return;
    atomic_store(&slot->state, SLOT_BUSY);
    slot->pid = pid;
    atomic_store(&slot->state, SLOT_LIVE);
}

static void registry_remove(struct live_server *slot)
{
    if (slot != NULL)
        atomic_store(&slot->state, SLOT_FREE);
}

/* Kills every server this process still runs and removes its folder.
 * Async-signal-safe: kill, waitpid, unlink and rmdir only.  SIGKILL, not
 * SIGTERM: the data is throwaway, and after a Ctrl-C the user is waiting. */
static void kill_all_of_ours(void)
{
    pid_t self = getpid();
    for (int i = 0; i < MAX_LIVE; i++) {
        struct live_server *s = &live[i];
        if (atomic_load(&s->state) != SLOT_LIVE || s->owner != self)
            continue;
        if (s->pid > 0) {
            kill(s->pid, SIGKILL);
            wait_for(s->pid, NULL, 0);
        }
        unlink(s->log_path);
        unlink(s->conf_path);
        rmdir(s->dir);
        atomic_store(&s->state, SLOT_FREE);
    }
}

/* At exit(): catches servers a program forgot, or a test skipped when a
 * failed assertion jumped out of it (CK_FORK=no).  Forked children inherit
 * the registration; kill_all_of_ours only touches the caller's servers.
 * (A forked Check test that fails leaves with _exit(): there PDEATHSIG
 * kills the server, and its folder - a log file - stays in $TMPDIR.) */
static void stop_all_at_exit(void)
{
    kill_all_of_ours();
}

static void stop_all_and_reraise(int sig)
{
    kill_all_of_ours();
    /* Die of the same signal, so our parent (a shell, make) sees that we
     * were interrupted.  The signal is blocked while this handler runs, so
     * it is delivered - with the default action - as soon as we return. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

void redis_harness_stop_all_on_signal(void)
{
    static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
    enum { N = sizeof signals / sizeof signals[0] };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_all_and_reraise;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N; i++) /* one cleanup at a time */
        sigaddset(&sa.sa_mask, signals[i]);
    for (int i = 0; i < N; i++) {
        struct sigaction old;
        if (sigaction(signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue; /* ignored on purpose (nohup, `cmd &`): leave it so */
        sigaction(signals[i], &sa, NULL);
    }
}

/* ---- Starting -------------------------------------------------------------- */

/* In the child, between fork and exec: async-signal-safe calls only. */
static void exec_server(char *const argv[], int null_fd, int log_fd, pid_t parent, int max_fd)
{
    setpgid(0, 0); /* out of the terminal's process group: Ctrl-C is ours to handle */
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* If the parent died before prctl, nobody would ever stop us. */
    if (getppid() != parent)
        _exit(1);
#else
    (void)parent;
#endif
    sigset_t none; /* the signal mask survives exec: do not pass ours on */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    /* Do not let the server hold copies of our descriptors: a pipe's write
     * end kept open by it would stop the reader from ever seeing EOF. */
    for (int fd = STDERR_FILENO + 1; fd < max_fd; fd++)
        close(fd);
    execvp(argv[0], argv);
    static const char msg[] = "redis-harness: cannot execute redis-server\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
}

/* True if the server at `url` answers PING and is process `pid`: after our
 * probe, the port may have been taken by someone else's Redis. */
static bool server_answers(const char *url, pid_t pid)
{
    struct redis_client_options opts = { .connect_timeout_ms = 200, .command_timeout_ms = 2000 };
    struct redis_client *c = redis_client_connect(url, &opts, NULL, 0);
    if (c == NULL)
        return false;
    const char *ping[] = { "PING" };
    const size_t ping_len[] = { 4 };
    struct redis_result r = redis_client_command(c, 1, ping, ping_len);
    bool ok = r.kind == REDIS_RESULT_OK && strcmp(r.data, "PONG") == 0;
    redis_result_free(&r);
    if (ok) {
        const char *info[] = { "INFO", "server" };
        const size_t info_len[] = { 4, 6 };
        char expect[48];
        snprintf(expect, sizeof expect, "\nprocess_id:%ld\r", (long)pid);
        r = redis_client_command(c, 2, info, info_len);
        ok = r.kind == REDIS_RESULT_VALUE && strstr(r.data, expect) != NULL;
        redis_result_free(&r);
    }
    redis_client_free(c);
    return ok;
}

/* Waits until the child answers.  On failure reaps it and says why; sets
 * *port_taken when it lost the race for the port. */
static int wait_until_ready(const struct redis_harness *h, pid_t pid, const char *log_path,
                            bool *port_taken, char *err, size_t errlen)
{
    int64_t deadline = now_ms() + START_TIMEOUT_MS;
    for (;;) {
        int status;
        if (wait_for(pid, &status, WNOHANG) == pid) {
            char tail[1024];
            read_log_tail(log_path, tail, sizeof tail);
            *port_taken = strstr(tail, "Address already in use") != NULL;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                snprintf(err, errlen,
                         "cannot run redis-server: it is not installed or not on PATH. "
                         "Install it with 'make setup' (Debian/Ubuntu: apt-get install "
                         "redis-server).");
            else
                snprintf(err, errlen, "redis-server on port %d exited during startup; "
                         "the end of its log:\n%s", h->port, tail);
            return -1;
        }
        if (server_answers(h->url, pid))
            return 0;
        if (now_ms() > deadline) {
            char tail[1024];
            read_log_tail(log_path, tail, sizeof tail);
            kill(pid, SIGKILL);
            wait_for(pid, NULL, 0);
            snprintf(err, errlen, "redis-server on port %d did not answer PING within %d s; "
                     "the end of its log:\n%s", h->port, START_TIMEOUT_MS / 1000, tail);
            return -1;
        }
        sleep_ms(POLL_MS);
    }
}

/* One attempt on one port: h->port if `port_given`, else a free one the
 * kernel picks.  `extra` (NULL, or NULL-terminated) is added to the
 * server's arguments: a cluster node's settings. */
static int start_once(struct redis_harness *h, struct live_server *slot, bool port_given,
                      const char *const *extra, bool *port_taken, char *err, size_t errlen)
{
    *port_taken = false;
    if (!port_given)
        h->port = pick_free_port();
    if (h->port < 0) {
        snprintf(err, errlen, "cannot find a free port on 127.0.0.1: %s", strerror(errno));
        return -1;
    }
    snprintf(h->url, sizeof h->url, "redis://127.0.0.1:%d", h->port);

    char port_text[16], log_path[300];
    snprintf(port_text, sizeof port_text, "%d", h->port);
    snprintf(log_path, sizeof log_path, "%s/" LOG_NAME, h->dir);
    unlink(log_path); /* each attempt starts a fresh log */

    /* `--save ""` turns RDB snapshots off, `--appendonly no` the AOF: the
     * data is throwaway, and nothing but the log is written to the folder. */
    char *argv[48] = {
        "redis-server", "--port", port_text, "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", h->dir, "--logfile", log_path,
        "--daemonize", "no", "--protected-mode", "yes", NULL,
    };
    for (size_t n = 17; extra != NULL && *extra != NULL && n + 1 < sizeof argv / sizeof *argv;)
        argv[n++] = (char *)*extra++; /* execvp takes char *const[]; none is changed */

    /* Opened before fork, so failures are reported here, with errno. */
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) {
        snprintf(err, errlen, "cannot open %s or /dev/null: %s", log_path, strerror(errno));
        if (log_fd >= 0)
            close(log_fd);
        if (null_fd >= 0)
            close(null_fd);
        return -1;
    }
    long max_fd = sysconf(_SC_OPEN_MAX);
    if (max_fd < 0 || max_fd > MAX_FD_TO_CLOSE)
        max_fd = MAX_FD_TO_CLOSE;

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        exec_server(argv, null_fd, log_fd, parent, (int)max_fd);
    int fork_errno = errno;
    close(log_fd);
    close(null_fd);
    if (pid < 0) {
        snprintf(err, errlen, "cannot start redis-server: fork: %s", strerror(fork_errno));
        return -1;
    }
    h->pid = pid;
    registry_set_pid(slot, pid);
    if (wait_until_ready(h, pid, log_path, port_taken, err, errlen) != 0) {
        h->pid = 0;
        registry_set_pid(slot, 0);
        return -1;
    }
    return 0;
}

/* Settings a cluster node adds, chosen per attempt (its bus port too). */
struct cluster_node_args;
static const char *const *cluster_node_args(struct cluster_node_args *a, const char *dir);

/* redis_harness_start, for a plain server (`cluster` NULL) or a cluster
 * node (see the cluster section at the end). */
static int start_server(struct redis_harness *h, struct cluster_node_args *cluster, char *err,
                        size_t errlen)
{
    char scratch[8];
    if (err == NULL || errlen == 0) {
        err = scratch;
        errlen = sizeof scratch;
    }
    memset(h, 0, sizeof *h);
    h->owner = getpid();

    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    sweep_orphaned_folders(tmp);
    int n = snprintf(h->dir, sizeof h->dir, "%s/" FOLDER_PREFIX "%ld-XXXXXX", tmp, (long)h->owner);
    if (n < 0 || (size_t)n >= sizeof h->dir) {
        snprintf(err, errlen, "TMPDIR is too long: %s", tmp);
        memset(h, 0, sizeof *h);
        return -1;
    }
    if (mkdtemp(h->dir) == NULL) {
        snprintf(err, errlen, "cannot create a temporary folder in %s: %s (set TMPDIR to "
                 "a writable folder)", tmp, strerror(errno));
        memset(h, 0, sizeof *h);
        return -1;
    }
    static bool exit_handler_installed;
    if (!exit_handler_installed)
        exit_handler_installed = atexit(stop_all_at_exit) == 0;
    struct live_server *slot = registry_add(h);
    if (slot == NULL) {
        snprintf(err, errlen, "more than %d Redis servers at once in one process", MAX_LIVE);
        rmdir(h->dir);
        memset(h, 0, sizeof *h);
        return -1;
    }
    for (int attempt = 1;; attempt++) {
        bool port_taken;
        const char *const *extra = cluster != NULL ? cluster_node_args(cluster, h->dir) : NULL;
        if (start_once(h, slot, false, extra, &port_taken, err, errlen) == 0)
            return 0;
        if (!port_taken || attempt == START_ATTEMPTS)
            break;
    }
    registry_remove(slot);
    remove_folder(h->dir);
    memset(h, 0, sizeof *h);
    return -1;
}

int redis_harness_start(struct redis_harness *h, char *err, size_t errlen)
{
    return start_server(h, NULL, err, errlen);
}

/* ---- Stopping and faults -------------------------------------------------- */

void redis_harness_stop(struct redis_harness *h)
{
    if (h == NULL || (h->pid == 0 && h->dir[0] == '\0'))
        return;
    if (h->owner != getpid()) {
        /* A copy inherited through fork: the server belongs to the process
         * that started it, which will stop it.  Forget this copy only. */
        h->pid = 0;
        h->dir[0] = '\0';
        return;
    }
    struct live_server *slot = registry_find(h);
    if (h->pid > 0) {
        /* SIGTERM lets Redis shut down cleanly; it normally takes one tick
         * of its timer (100 ms).  SIGKILL if it takes unreasonably long.
         * SIGCONT after it: a frozen server handles SIGTERM only once it
         * runs again. */
        kill(h->pid, SIGTERM);
        kill(h->pid, SIGCONT);
        int64_t deadline = now_ms() + STOP_GRACE_MS;
        while (wait_for(h->pid, NULL, WNOHANG) == 0) {
            if (now_ms() > deadline) {
                kill(h->pid, SIGKILL);
                wait_for(h->pid, NULL, 0);
                break;
            }
            sleep_ms(POLL_MS);
        }
        h->pid = 0;
        h->frozen = 0;
        registry_set_pid(slot, 0);
    }
    remove_folder(h->dir);
    registry_remove(slot);
    h->dir[0] = '\0';
}

/* Sends `sig` (SIGSTOP or SIGCONT) and waits until the server is in the
 * state it asks for: waitpid reports a stop (WUNTRACED) and a continue
 * (WCONTINUED) to the parent, which the owner is.  A state change is
 * reported once, so asking for the state it is already in must not wait. */
static int stop_or_continue(struct redis_harness *h, int sig)
{
    if (h == NULL || h->pid <= 0 || h->owner != getpid())
        return -1;
    int want_frozen = sig == SIGSTOP;
    if (h->frozen == want_frozen)
        return 0;
    if (kill(h->pid, sig) != 0)
        return -1;
    int status;
    if (wait_for(h->pid, &status, want_frozen ? WUNTRACED : WCONTINUED) != h->pid)
        return -1;
    if (WIFEXITED(status) || WIFSIGNALED(status)) { /* it died meanwhile: reaped now */
        h->pid = 0;
        h->frozen = 0;
        registry_set_pid(registry_find(h), 0);
        return -1;
    }
    h->frozen = want_frozen;
    return 0;
}

int redis_harness_freeze(struct redis_harness *h)
{
    return stop_or_continue(h, SIGSTOP);
}

int redis_harness_thaw(struct redis_harness *h)
{
    return stop_or_continue(h, SIGCONT);
}

void redis_harness_kill(struct redis_harness *h)
{
    if (h == NULL || h->pid <= 0 || h->owner != getpid())
        return;
    kill(h->pid, SIGKILL);
    wait_for(h->pid, NULL, 0);
    h->pid = 0;
    h->frozen = 0;
    registry_set_pid(registry_find(h), 0);
}

int redis_harness_restart(struct redis_harness *h, char *err, size_t errlen)
{
    char scratch[8];
    if (err == NULL || errlen == 0) {
        err = scratch;
        errlen = sizeof scratch;
    }
    if (h == NULL || h->dir[0] == '\0' || h->owner != getpid()) {
        snprintf(err, errlen, "redis_harness_restart: no server of this process to restart "
                 "(never started, already stopped, or started by another process)");
        return -1;
    }
    redis_harness_kill(h); /* as a crash would: no chance to say goodbye */

    /* The same port again.  Redis binds with SO_REUSEADDR, so connections of
     * the old server lingering in TIME_WAIT do not stand in its way; what
     * can, is another program that took the port in the moment it was free.
     * Wait a little and try again, then give up: the port is what the
     * clients know, so another one would be no restart at all. */
    struct live_server *slot = registry_find(h);
    for (int attempt = 1;; attempt++) {
        bool port_taken;
        if (start_once(h, slot, true, NULL, &port_taken, err, errlen) == 0)
            return 0;
        if (!port_taken || attempt == START_ATTEMPTS)
            return -1;
        sleep_ms(100u * (unsigned)attempt);
    }
}

int redis_harness_pause(struct redis_harness *h, unsigned ms)
{
    return redis_pause_server(h->url, ms, NULL, 0);
}

void redis_harness_closed_port_url(char *url, size_t len)
{
    /* Nothing listens on a port the kernel just handed out and took back.
     * (Port 1 is the fallback: it is closed on any ordinary machine.) */
    int port = pick_free_port();
    snprintf(url, len, "redis://127.0.0.1:%d", port > 0 ? port : 1);
}

/* ---- A throwaway Redis Cluster ------------------------------------------------
 *
 * Why the nodes are joined by hand (CLUSTER ADDSLOTSRANGE, MEET, REPLICATE)
 * rather than with `redis-cli --cluster create`: redis-cli checks whether
 * the nodes agree once a second, so it never takes less than a second or
 * two more than the nodes need, and it cannot say which node is slow to
 * agree.  Here every step is a command whose reply we check, and the wait
 * polls every CLUSTER_POLL_MS.  What cannot be shortened: a master stays
 * in cluster_state:fail for two seconds after it starts (Redis gives the
 * cluster a chance to reconfigure a rebooted master before it takes
 * writes), so every node is started before any is joined, and those two
 * seconds pass while the others start.
 */

enum {
    CLUSTER_NODE_TIMEOUT_MS = 1500,
    CLUSTER_READY_MS = 30000,   /* start: until every node agrees */
    CLUSTER_MOVED_MS = 10000,   /* move_slots: until every node agrees again */
    CLUSTER_POLL_MS = 20,
    MIGRATE_BATCH = 100,        /* keys per MIGRATE */
    NO_OWNER = 0xff,
};

/* The arguments that make a server a cluster node.  The bus port is picked
 * anew on each attempt, like the port. */
struct cluster_node_args {
    int bus_port;
    char bus_text[16], timeout_text[16], conf[300];
    const char *argv[28];
};

static const char *const *cluster_node_args(struct cluster_node_args *a, const char *dir)
{
    a->bus_port = pick_free_port();
    snprintf(a->bus_text, sizeof a->bus_text, "%d", a->bus_port);
    snprintf(a->timeout_text, sizeof a->timeout_text, "%d", CLUSTER_NODE_TIMEOUT_MS);
    snprintf(a->conf, sizeof a->conf, "%s/" CLUSTER_CONF_NAME, dir);
    const char *const args[] = {
        "--cluster-enabled", "yes",
        "--cluster-config-file", a->conf,  /* in the folder, removed with it */
        "--cluster-port", a->bus_text,     /* not port + 10000: free as well */
        "--cluster-node-timeout", a->timeout_text,
        /* A dead master without a replica stops only its own slots. */
        "--cluster-require-full-coverage", "no",
        /* A replica may take over however long it was cut off. */
        "--cluster-replica-validity-factor", "0",
        "--cluster-allow-replica-migration", "no",
        /* Replication through the socket: no RDB file in the folder. */
        "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
        "--repl-diskless-load", "on-empty-db", "--rdb-del-sync-files", "yes",
        /* CLUSTER SLOTS lists a replica once its replication offset is
         * above 0, which an idle master's pings to its replicas make it:
         * every 10 s by default, every second here. */
        "--repl-ping-replica-period", "1",
        /* SIGTERM stops a master at once, without waiting for replicas. */
        "--shutdown-timeout", "0",
        NULL,
    };
    _Static_assert(sizeof args / sizeof *args <= sizeof a->argv / sizeof *a->argv,
                   "room for the cluster arguments");
    memcpy(a->argv, args, sizeof args);
    return a->argv;
}

/* Runs one command (a NULL-terminated argv of strings) on its own short
 * connection to `url`, and returns the reply as a tree. */
static struct redis_tree node_run(const char *url, const char *const *argv)
{
    size_t len[128];
    int argc = 0;
    for (; argv[argc] != NULL && argc < 128; argc++)
        len[argc] = strlen(argv[argc]);
    struct redis_client_options opts = { .connect_timeout_ms = 1000, .command_timeout_ms = 5000 };
    char why[512];
    struct redis_client *client = redis_client_connect(url, &opts, why, sizeof why);
    if (client == NULL)
        return (struct redis_tree){ .value = redis_result_error(REDIS_RESULT_IO_ERROR, "%s", why) };
    struct redis_tree reply = redis_client_command_tree(client, argc, argv, len);
    redis_client_free(client);
    return reply;
}

/* node_run, for a reply that must be +OK (or bulk text containing `want`,
 * when `want` is set).  0, or -1 with the reply in err. */
static int node_expect(const char *url, const char *const *argv, const char *want, char *err,
                       size_t errlen)
{
    struct redis_tree r = node_run(url, argv);
    bool ok = !r.is_array &&
              (want == NULL ? r.value.kind == REDIS_RESULT_OK
                            : r.value.kind == REDIS_RESULT_VALUE && strstr(r.value.data, want));
    if (!ok)
        snprintf(err, errlen, "%s %s on %s gave %s%s%s", argv[0], argv[1], url,
                 r.is_array ? "an array" : redis_result_kind_name(r.value.kind),
                 r.value.data != NULL ? ": " : "", r.value.data != NULL ? r.value.data : "");
    redis_tree_free(&r);
    return ok ? 0 : -1;
}

static bool node_running(const struct redis_cluster *c, size_t i)
{
    return i < c->node_count && c->nodes[i].pid > 0;
}

/* Which of our nodes has CLUSTER MYID `id`: an index, or NO_OWNER. */
static unsigned node_with_id(const struct redis_cluster *c, const char *id, size_t len)
{
    for (size_t i = 0; i < c->node_count; i++)
        if (strlen(c->ids[i]) == len && memcmp(c->ids[i], id, len) == 0)
            return (unsigned)i;
    return NO_OWNER;
}

/* Node i's view of the slot map, from its CLUSTER SLOTS: owners[slot] is a
 * node index or NO_OWNER.  *replicas_short is set when some range lists
 * fewer than c->replicas replicas.  False if node i did not answer. */
static bool read_slot_map(const struct redis_cluster *c, size_t i,
                          unsigned char owners[REDIS_CLUSTER_SLOTS], bool *replicas_short)
{
    memset(owners, NO_OWNER, REDIS_CLUSTER_SLOTS);
    *replicas_short = false;
    const char *argv[] = { "CLUSTER", "SLOTS", NULL };
    struct redis_tree r = node_run(c->nodes[i].url, argv);
    /* [ [start, end, [host, port, id, ...], replica..., ], ... ] */
    for (size_t k = 0; r.is_array && k < r.count; k++) {
        const struct redis_tree *range = &r.elements[k];
        if (!range->is_array || range->count < 3 || !range->elements[2].is_array ||
            range->elements[2].count < 3)
            continue;
        const struct redis_result *id = &range->elements[2].elements[2].value;
        long long first = range->elements[0].value.integer;
        long long last = range->elements[1].value.integer;
        unsigned owner = id->kind == REDIS_RESULT_VALUE ? node_with_id(c, id->data, id->len)
                                                        : NO_OWNER;
        for (long long s = first; s >= 0 && s <= last && s < REDIS_CLUSTER_SLOTS; s++)
            owners[s] = (unsigned char)owner;
        if (range->count - 3 < c->replicas)
            *replicas_short = true;
    }
    bool answered = r.is_array;
    redis_tree_free(&r);
    return answered;
}

/* The master that serves `slot` when the cluster starts. */
static size_t initial_owner(const struct redis_cluster *c, int slot)
{
    size_t m = 0;
    while ((m + 1) * REDIS_CLUSTER_SLOTS / c->masters <= (size_t)slot)
        m++;
    return m;
}

/* Is the cluster in the state the caller waits for?  Every running node
 * says cluster_state:ok and has the same slot map, every slot served by a
 * running node; when `as_started`, that map is the initial one and every
 * replica is linked to its master.  If not, says why. */
static bool cluster_is_stable(const struct redis_cluster *c, bool as_started, char *why,
                              size_t whylen)
{
    static const char *const info[] = { "CLUSTER", "INFO", NULL };
    static const char *const replication[] = { "INFO", "replication", NULL };
    unsigned char first_view[REDIS_CLUSTER_SLOTS], view[REDIS_CLUSTER_SLOTS];
    bool have_first = false;
    for (size_t i = 0; i < c->node_count; i++) {
        if (!node_running(c, i))
            continue;
        if (node_expect(c->nodes[i].url, info, "cluster_state:ok", why, whylen) != 0)
            return false;
        bool replicas_short;
        if (!read_slot_map(c, i, have_first ? view : first_view, &replicas_short)) {
            snprintf(why, whylen, "node %zu does not answer CLUSTER SLOTS", i);
            return false;
        }
        if (as_started && replicas_short) {
            snprintf(why, whylen, "node %zu does not list every replica yet", i);
            return false;
        }
        if (have_first && memcmp(view, first_view, sizeof view) != 0) {
            snprintf(why, whylen, "node %zu has another slot map than the first node", i);
            return false;
        }
        have_first = true;
        if (as_started && i >= c->masters &&
            node_expect(c->nodes[i].url, replication, "master_link_status:up", why,
                        whylen) != 0)
            return false;
    }
    for (int s = 0; have_first && s < REDIS_CLUSTER_SLOTS; s++) {
        unsigned owner = first_view[s];
        if (owner == NO_OWNER || !node_running(c, owner) ||
            (as_started && owner != initial_owner(c, s))) {
            snprintf(why, whylen, "slot %d is served by %s", s,
                     owner == NO_OWNER ? "no node" : "a node that is not running or not its own");
            return false;
        }
    }
    if (!have_first)
        snprintf(why, whylen, "no node is running");
    return have_first;
}

static int wait_until(struct redis_cluster *c, bool as_started, unsigned timeout_ms, char *err,
                      size_t errlen)
{
    int64_t deadline = now_ms() + timeout_ms;
    char why[512] = "";
    while (!cluster_is_stable(c, as_started, why, sizeof why)) {
        if (now_ms() > deadline) {
            snprintf(err, errlen, "the cluster did not settle within %u ms: %s", timeout_ms, why);
            return -1;
        }
        sleep_ms(CLUSTER_POLL_MS);
    }
    return 0;
}

int redis_cluster_wait_until_stable(struct redis_cluster *c, unsigned timeout_ms, char *err,
                                    size_t errlen)
{
    return wait_until(c, false, timeout_ms, err, errlen);
}

/* True once every node lists every other one, handshakes done. */
static bool every_node_knows_all(const struct redis_cluster *c)
{
    static const char *const nodes[] = { "CLUSTER", "NODES", NULL };
    for (size_t i = 0; i < c->node_count; i++) {
        struct redis_tree r = node_run(c->nodes[i].url, nodes);
        size_t lines = 0;
        bool settled = r.value.kind == REDIS_RESULT_VALUE &&
                       strstr(r.value.data, "handshake") == NULL &&
                       strstr(r.value.data, "noaddr") == NULL;
        for (const char *p = r.value.data; settled && p != NULL && *p != '\0'; lines++) {
            p = strchr(p, '\n');
            p = p != NULL ? p + 1 : NULL;
        }
        redis_tree_free(&r);
        if (!settled || lines != c->node_count)
            return false;
    }
    return true;
}

/* Gives every master its slots, meets every node, makes the replicas. */
static int join_nodes(struct redis_cluster *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->node_count; i++) {
        const char *argv[] = { "CLUSTER", "MYID", NULL };
        struct redis_tree r = node_run(c->nodes[i].url, argv);
        bool ok = r.value.kind == REDIS_RESULT_VALUE && r.value.len < sizeof c->ids[i];
        if (ok)
            memcpy(c->ids[i], r.value.data, r.value.len + 1);
        redis_tree_free(&r);
        if (!ok) {
            snprintf(err, errlen, "CLUSTER MYID failed on %s", c->nodes[i].url);
            return -1;
        }
    }
    for (size_t m = 0; m < c->masters; m++) {
        char first[16], last[16];
        snprintf(first, sizeof first, "%zu", m * REDIS_CLUSTER_SLOTS / c->masters);
        snprintf(last, sizeof last, "%zu", (m + 1) * REDIS_CLUSTER_SLOTS / c->masters - 1);
        const char *argv[] = { "CLUSTER", "ADDSLOTSRANGE", first, last, NULL };
        if (node_expect(c->nodes[m].url, argv, NULL, err, errlen) != 0)
            return -1;
    }
    for (size_t i = 1; i < c->node_count; i++) {
        char port[16], bus[16];
        snprintf(port, sizeof port, "%d", c->nodes[i].port);
        snprintf(bus, sizeof bus, "%d", c->bus_ports[i]);
        const char *argv[] = { "CLUSTER", "MEET", "127.0.0.1", port, bus, NULL };
        if (node_expect(c->nodes[0].url, argv, NULL, err, errlen) != 0)
            return -1;
    }
    int64_t deadline = now_ms() + CLUSTER_READY_MS;
    while (!every_node_knows_all(c)) {
        if (now_ms() > deadline) {
            snprintf(err, errlen, "the nodes did not all meet within %d ms", CLUSTER_READY_MS);
            return -1;
        }
        sleep_ms(CLUSTER_POLL_MS);
    }
    for (size_t i = c->masters; i < c->node_count; i++) {
        const char *argv[] = { "CLUSTER", "REPLICATE", c->ids[(i - c->masters) / c->replicas],
                               NULL };
        if (node_expect(c->nodes[i].url, argv, NULL, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int redis_cluster_start(struct redis_cluster *c, size_t masters, size_t replicas, char *err,
                        size_t errlen)
{
    char scratch[8];
    if (err == NULL || errlen == 0) {
        err = scratch;
        errlen = sizeof scratch;
    }
    memset(c, 0, sizeof *c);
    if (masters < 3 || masters * (1 + replicas) > REDIS_CLUSTER_MAX_NODES) {
        snprintf(err, errlen, "a cluster here has at least 3 masters and at most %d nodes "
                 "(asked for %zu masters with %zu replicas each)", REDIS_CLUSTER_MAX_NODES,
                 masters, replicas);
        return -1;
    }
    c->masters = masters;
    c->replicas = replicas;
    c->node_count = masters * (1 + replicas);
    for (size_t i = 0; i < c->node_count; i++) {
        struct cluster_node_args args;
        if (start_server(&c->nodes[i], &args, err, errlen) != 0) {
            redis_cluster_stop(c);
            return -1;
        }
        c->bus_ports[i] = args.bus_port;
    }
    snprintf(c->url, sizeof c->url, "%s", c->nodes[0].url);
    if (join_nodes(c, err, errlen) != 0 ||
        wait_until(c, true, CLUSTER_READY_MS, err, errlen) != 0) {
        redis_cluster_stop(c);
        return -1;
    }
    return 0;
}

void redis_cluster_stop(struct redis_cluster *c)
{
    if (c == NULL)
        return;
    /* SIGTERM to all first, so they shut down side by side; then
     * redis_harness_stop waits for each and removes its folder. */
    for (size_t i = 0; i < c->node_count; i++)
        if (c->nodes[i].pid > 0 && c->nodes[i].owner == getpid())
            kill(c->nodes[i].pid, SIGTERM);
    for (size_t i = 0; i < c->node_count; i++)
        redis_harness_stop(&c->nodes[i]);
    c->node_count = 0;
}

void redis_cluster_kill_node(struct redis_cluster *c, size_t i)
{
    if (i < c->node_count)
        redis_harness_kill(&c->nodes[i]);
}

int redis_cluster_slot_owner(const struct redis_cluster *c, int slot)
{
    if (slot < 0 || slot >= REDIS_CLUSTER_SLOTS)
        return -1;
    for (size_t i = 0; i < c->node_count; i++) {
        unsigned char owners[REDIS_CLUSTER_SLOTS];
        bool replicas_short;
        if (node_running(c, i) && read_slot_map(c, i, owners, &replicas_short))
            return owners[slot] == NO_OWNER ? -1 : owners[slot];
    }
    return -1;
}

/* The owner of `slot`, which must be another running node than `to`; and
 * the slot as text, for the commands. */
static int migration_source(const struct redis_cluster *c, int slot, size_t to,
                            char slot_text[16], char *err, size_t errlen)
{
    snprintf(slot_text, 16, "%d", slot);
    int from = redis_cluster_slot_owner(c, slot);
    if (from < 0 || !node_running(c, to) || (size_t)from == to) {
        snprintf(err, errlen, "cannot move slot %d from node %d to node %zu", slot, from, to);
        return -1;
    }
    return from;
}

int redis_cluster_migration_begin(struct redis_cluster *c, int slot, size_t to, char *err,
                                  size_t errlen)
{
    char slot_text[16];
    int from = migration_source(c, slot, to, slot_text, err, errlen);
    if (from < 0)
        return -1;
    /* Importing first: by the time the owner starts sending clients to
     * `to` with ASK, `to` accepts them. */
    const char *importing[] = { "CLUSTER", "SETSLOT", slot_text, "IMPORTING", c->ids[from], NULL };
    const char *migrating[] = { "CLUSTER", "SETSLOT", slot_text, "MIGRATING", c->ids[to], NULL };
    if (node_expect(c->nodes[to].url, importing, NULL, err, errlen) != 0 ||
        node_expect(c->nodes[from].url, migrating, NULL, err, errlen) != 0)
        return -1;
    return 0;
}

int redis_cluster_migration_move_keys(struct redis_cluster *c, int slot, size_t to, char *err,
                                      size_t errlen)
{
    char slot_text[16], batch[16], port[16];
    int from = migration_source(c, slot, to, slot_text, err, errlen);
    if (from < 0)
        return -1;
    snprintf(batch, sizeof batch, "%d", MIGRATE_BATCH);
    snprintf(port, sizeof port, "%d", c->nodes[to].port);
    struct redis_client *client = redis_client_connect(c->nodes[from].url, NULL, err, errlen);
    if (client == NULL)
        return -1;
    int rc = 0;
    for (;;) {
        const char *get[] = { "CLUSTER", "GETKEYSINSLOT", slot_text, batch };
        const size_t get_len[] = { 7, 13, strlen(slot_text), strlen(batch) };
        struct redis_tree keys = redis_client_command_tree(client, 4, get, get_len);
        if (!keys.is_array || keys.count == 0) {
            if (!keys.is_array) {
                snprintf(err, errlen, "CLUSTER GETKEYSINSLOT %d: %s", slot,
                         keys.value.data != NULL ? keys.value.data : "no array");
                rc = -1;
            }
            redis_tree_free(&keys);
            break;
        }
        /* MIGRATE host port "" 0 timeout REPLACE KEYS key... : the keys are
         * bytes, so every argument goes with its length. */
        const char *argv[8 + MIGRATE_BATCH] = { "MIGRATE", "127.0.0.1", port, "", "0", "5000",
                                                "REPLACE", "KEYS" };
        size_t len[8 + MIGRATE_BATCH] = { 7, 9, strlen(port), 0, 1, 4, 7, 4 };
        size_t argc = 8;
        for (size_t k = 0; k < keys.count && k < MIGRATE_BATCH; k++, argc++) {
            argv[argc] = keys.elements[k].value.data;
            len[argc] = keys.elements[k].value.len;
        }
        struct redis_result r = redis_client_command(client, (int)argc, argv, len);
        redis_tree_free(&keys);
        if (r.kind != REDIS_RESULT_OK) {
            snprintf(err, errlen, "MIGRATE of slot %d to %s: %s", slot, c->nodes[to].url,
                     r.data != NULL ? r.data : redis_result_kind_name(r.kind));
            rc = -1;
        }
        redis_result_free(&r);
        if (rc != 0)
            break;
    }
    redis_client_free(client);
    return rc;
}

int redis_cluster_migration_end(struct redis_cluster *c, int slot, size_t to, char *err,
                                size_t errlen)
{
    char slot_text[16];
    int from = migration_source(c, slot, to, slot_text, err, errlen);
    if (from < 0)
        return -1;
    const char *argv[] = { "CLUSTER", "SETSLOT", slot_text, "NODE", c->ids[to], NULL };
    /* The new owner first, then the old one (which from then on answers
     * MOVED), then the rest; gossip would tell them too, only later.  A
     * replica refuses SETSLOT, and learns it from its master. */
    if (node_expect(c->nodes[to].url, argv, NULL, err, errlen) != 0 ||
        node_expect(c->nodes[from].url, argv, NULL, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < c->node_count; i++) {
        char ignored[256];
        if (node_running(c, i) && i != to && i != (size_t)from)
            node_expect(c->nodes[i].url, argv, NULL, ignored, sizeof ignored);
    }
    return 0;
}

int redis_cluster_move_slots(struct redis_cluster *c, int first, int last, size_t to,
                             char *err, size_t errlen)
{
    char scratch[8];
    if (err == NULL || errlen == 0) {
        err = scratch;
        errlen = sizeof scratch;
    }
    for (int slot = first; slot <= last; slot++) {
        if (redis_cluster_slot_owner(c, slot) == (int)to)
            continue; /* already there */
        if (redis_cluster_migration_begin(c, slot, to, err, errlen) != 0 ||
            redis_cluster_migration_move_keys(c, slot, to, err, errlen) != 0 ||
            redis_cluster_migration_end(c, slot, to, err, errlen) != 0)
            return -1;
    }
    return wait_until(c, false, CLUSTER_MOVED_MS, err, errlen);
}
