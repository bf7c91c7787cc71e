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
 * kernel picks. */
static int start_once(struct redis_harness *h, struct live_server *slot, bool port_given,
                      bool *port_taken, char *err, size_t errlen)
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
    char *const argv[] = {
        "redis-server", "--port", port_text, "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", h->dir, "--logfile", log_path,
        "--daemonize", "no", "--protected-mode", "yes", NULL,
    };

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

int redis_harness_start(struct redis_harness *h, char *err, size_t errlen)
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
        if (start_once(h, slot, false, &port_taken, err, errlen) == 0)
            return 0;
        if (!port_taken || attempt == START_ATTEMPTS)
            break;
    }
    registry_remove(slot);
    remove_folder(h->dir);
    memset(h, 0, sizeof *h);
    return -1;
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
        if (start_once(h, slot, true, &port_taken, err, errlen) == 0)
            return 0;
        if (!port_taken || attempt == START_ATTEMPTS)
            return -1;
        sleep_ms(100u * (unsigned)attempt);
    }
}

int redis_harness_pause(struct redis_harness *h, unsigned ms)
{
    /* A connection of its own: the caller's connections are the ones that
     * should find their commands held. */
    struct redis_client *c = redis_client_connect(h->url, NULL, NULL, 0);
    if (c == NULL)
        return -1;
    char ms_text[16];
    int n = snprintf(ms_text, sizeof ms_text, "%u", ms);
    const char *argv[] = { "CLIENT", "PAUSE", ms_text };
    const size_t len[] = { 6, 5, (size_t)n };
    struct redis_result r = redis_client_command(c, 3, argv, len);
    int rc = r.kind == REDIS_RESULT_OK ? 0 : -1;
    redis_result_free(&r);
    redis_client_free(c);
    return rc;
}

void redis_harness_closed_port_url(char *url, size_t len)
{
    /* Nothing listens on a port the kernel just handed out and took back.
     * (Port 1 is the fallback: it is closed on any ordinary machine.) */
    int port = pick_free_port();
    snprintf(url, len, "redis://127.0.0.1:%d", port > 0 ? port : 1);
}
