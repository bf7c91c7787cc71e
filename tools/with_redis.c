/*
 * with_redis.c - runs a command with a Redis server at $REDIS_URL.
 *
 *     with-redis [--reuse | --cluster] [--quiet] -- COMMAND [ARGS...]
 *     with-redis --check
 *     with-redis --version
 *
 * `make test` runs the test binaries through this tool, so tests never
 * depend on a Redis that happens to be running, and two test runs at once
 * never share one.  By default it starts a throwaway redis-server
 * (common/redis_harness.c: a free port, a temporary folder, no
 * persistence), sets REDIS_URL to it, runs the command, stops the server
 * and exits with the command's exit status (128+N if it died of signal N).
 *
 * --reuse   use the Redis at $REDIS_URL (default redis://127.0.0.1:6379) if
 *           it answers within a second.  A throwaway one is started only when
 *           nothing is there: the connection is refused, or nothing
 *           answers in time.  A URL that does not parse, a wrong or missing
 *           password, a database out of range or anything else that
 *           answers wrongly is a mistake to fix, not a reason to quietly
 *           use another server: with-redis says what is wrong and exits 2.
 * --cluster start a throwaway Redis Cluster of three masters instead
 *           (common/redis_harness.h: redis_cluster_start) and set
 *           REDIS_URL to one of its nodes; always a new one.
 * --quiet   do not say which server is used.
 * --check   only say what --reuse would do, on stdout, and exit: 0 a Redis
 *           answers at $REDIS_URL, 1 nothing is there (a throwaway server
 *           would be started), 2 $REDIS_URL is wrong (the message says
 *           why).  `make doctor` uses it, so that the URL is read by the
 *           same code as everywhere else and never appears on a command
 *           line.
 * --version the version of hiredis it was built with.
 *
 * A password in $REDIS_URL is never printed: every message shows the URL
 * as redis://:***@host:port.
 *
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP are passed on to the command; the
 * server is stopped once the command has ended.  If with-redis itself dies
 * (even by SIGKILL), the kernel kills the command and the server with it
 * (Linux: PR_SET_PDEATHSIG), so neither runs on alone.  Exit status 127
 * means the command could not be run, 125 that with-redis itself failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "redis_client.h"
#include "redis_harness.h"

enum { EXIT_BAD_SETUP = 2, EXIT_TOOL_FAILED = 125, EXIT_CANNOT_RUN = 127 };
/* Long enough for a busy machine's own Redis; a refused connection, the
 * usual case when none runs, is known at once. */
enum { PROBE_TIMEOUT_MS = 1000 };

/* Written by the signal handler, read by main: volatile sig_atomic_t is the
 * one type C guarantees is safe for that. */
static volatile sig_atomic_t command_pid;
static volatile sig_atomic_t got_signal;

static void pass_signal_on(int sig)
{
    got_signal = sig;
    if (command_pid > 0)
        kill((pid_t)command_pid, sig);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: with-redis [--reuse | --cluster] [--quiet] -- COMMAND [ARGS...]\n"
            "       with-redis --check | --version\n"
            "Runs COMMAND with REDIS_URL set to a throwaway redis-server, stopped\n"
            "when COMMAND ends.\n"
            "  --reuse    use the Redis at $REDIS_URL (default " REDIS_DEFAULT_URL ")\n"
            "             if it answers; start a throwaway one if nothing is there;\n"
            "             exit 2 if the URL or the password is wrong\n"
            "  --cluster  start a throwaway Redis Cluster (3 masters) instead; REDIS_URL\n"
            "             is one of its nodes\n"
            "  --quiet    do not say which server is used\n"
            "  --check    only say what --reuse would do (exit 0 it answers, 1 nothing\n"
            "             there, 2 REDIS_URL is wrong)\n"
            "  --version  the hiredis version it was built with\n");
}

/* What --reuse finds at the URL. */
enum probe_result {
    PROBE_ANSWERS,   /* a Redis answered: use it */
    PROBE_NOTHING,   /* nothing there: start a throwaway server */
    PROBE_WRONG,     /* the URL or what answers is wrong: stop, say why */
};

/*
 * Connects to `url` as a program would, and names the connection
 * (CLIENT SETNAME) while connecting: the name is a command the server must
 * answer, after the password and database are checked, all within
 * PROBE_TIMEOUT_MS.  Writes to why[whylen] a short reason (PROBE_NOTHING)
 * or the wrapper's whole message (PROBE_WRONG); the password is hidden in
 * both.
 */
static enum probe_result probe(const char *url, char *why, size_t whylen)
{
    struct redis_client_options opts = { .connect_timeout_ms = PROBE_TIMEOUT_MS,
                                         .command_timeout_ms = PROBE_TIMEOUT_MS,
                                         .name = "with-redis-probe" };
    enum redis_connect_error error;
    struct redis_client *c = redis_client_connect_why(url, &opts, &error, why, whylen);
    redis_client_free(c);
    switch (error) {
    case REDIS_CONNECT_OK:
        return PROBE_ANSWERS;
    case REDIS_CONNECT_NOTHING_LISTENS:
        snprintf(why, whylen, "connection refused");
        return PROBE_NOTHING;
    case REDIS_CONNECT_TIMED_OUT:
        snprintf(why, whylen, "no answer within %d ms", PROBE_TIMEOUT_MS);
        return PROBE_NOTHING;
    case REDIS_CONNECT_BAD_URL:
    case REDIS_CONNECT_SERVER_ERROR:
    case REDIS_CONNECT_OTHER:
        break;
    }
    return PROBE_WRONG;
}

/* --check: what --reuse would do, for `make doctor`. */
static int check_only(const char *url)
{
    char shown[1024], why[1024];
    redis_url_hide_password(url, shown, sizeof shown);
    switch (probe(url, why, sizeof why)) {
    case PROBE_ANSWERS:
        printf("a Redis server answers at %s: make run and make run-NN use it\n", shown);
        return 0;
    case PROBE_NOTHING:
        printf("nothing answers at %s (%s): make run and make run-NN start a throwaway "
               "server instead (that is fine)\n", shown, why);
        return 1;
    case PROBE_WRONG:
        break;
    }
    printf("%s\n", why);
    return EXIT_BAD_SETUP;
}

/* Runs argv as a child and returns its exit status the way a shell reports
 * it: the exit code, or 128+N for death by signal N. */
static int run_command(char **argv)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "with-redis: cannot start '%s': fork: %s\n", argv[0], strerror(errno));
        return EXIT_TOOL_FAILED;
    }
    if (pid == 0) {
#ifdef __linux__
        /* If with-redis dies, even by SIGKILL, the kernel kills the command
         * too: the server dies with us (the harness asks for the same), and
         * a program left running against no server would only pile up
         * errors.  If we died before prctl, no signal will ever come. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(EXIT_TOOL_FAILED);
#endif
        /* exec resets our handler to the default action in the command. */
        execvp(argv[0], argv);
        fprintf(stderr, "with-redis: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(EXIT_CANNOT_RUN);
    }
    command_pid = pid;
    if (got_signal != 0) /* arrived before command_pid was set */
        kill(pid, got_signal);

    int status;
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            fprintf(stderr, "with-redis: waitpid: %s\n", strerror(errno));
            return EXIT_TOOL_FAILED;
        }
    }
    command_pid = 0;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_TOOL_FAILED;
}

/* --cluster: the same, with a throwaway cluster instead of one server. */
static int run_with_cluster(char **command, bool quiet)
{
    static struct redis_cluster cluster; /* large: not on the stack */
    char err[1024];
    if (redis_cluster_start(&cluster, 3, 0, err, sizeof err) != 0) {
        fprintf(stderr, "with-redis: could not start a throwaway Redis Cluster: %s\n", err);
        return EXIT_TOOL_FAILED;
    }
    if (!quiet)
        fprintf(stderr, "with-redis: started a throwaway Redis Cluster of 3 masters; REDIS_URL=%s "
                "(stopped when the command ends)\n", cluster.url);
    int status = EXIT_TOOL_FAILED;
    if (setenv("REDIS_URL", cluster.url, 1) != 0)
        fprintf(stderr, "with-redis: setenv: %s\n", strerror(errno));
    else
        status = got_signal != 0 ? 128 + got_signal : run_command(command);
    redis_cluster_stop(&cluster);
    return status;
}

int main(int argc, char **argv)
{
    bool reuse = false, quiet = false, cluster = false;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--reuse") == 0) {
            reuse = true;
        } else if (strcmp(argv[i], "--cluster") == 0) {
            cluster = true;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(argv[i], "--check") == 0 && argc == 2) {
            return check_only(redis_url_from_env());
        } else if (strcmp(argv[i], "--version") == 0 && argc == 2) {
            printf("with-redis, built with hiredis %s\n", redis_client_hiredis_version());
            return EXIT_SUCCESS;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_SUCCESS;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            fprintf(stderr, "with-redis: unknown option '%s' (the command goes after '--'; "
                    "--check and --version come alone)\n", argv[i]);
            usage(stderr);
            return EXIT_BAD_SETUP;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "with-redis: no command given\n");
        usage(stderr);
        return EXIT_BAD_SETUP;
    }
    char **command = &argv[i];

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pass_signal_on;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    if (cluster && reuse) {
        fprintf(stderr, "with-redis: --cluster always starts a new cluster; drop --reuse\n");
        return 2;
    }
    if (cluster)
        return run_with_cluster(command, quiet);

    struct redis_harness server = { 0 };
    const char *url = redis_url_from_env();
    char shown[1024], why[1024] = "";
    redis_url_hide_password(url, shown, sizeof shown);
    enum probe_result found = reuse ? probe(url, why, sizeof why) : PROBE_NOTHING;
    if (found == PROBE_WRONG) {
        fprintf(stderr, "with-redis: %s\n"
                "with-redis: fix REDIS_URL, or unset it to run against a throwaway server\n",
                why);
        return EXIT_BAD_SETUP;
    }
    if (found == PROBE_ANSWERS) {
        if (!quiet)
            fprintf(stderr, "with-redis: using the Redis server at %s\n", shown);
    } else {
        char err[1024];
        if (redis_harness_start(&server, err, sizeof err) != 0) {
            fprintf(stderr, "with-redis: could not start a throwaway redis-server: %s\n", err);
            return EXIT_TOOL_FAILED;
        }
        if (!quiet && reuse)
            fprintf(stderr, "with-redis: nothing answered at %s (%s); started a throwaway "
                    "redis-server at %s (stopped when the command ends)\n",
                    shown, why, server.url);
        else if (!quiet)
            fprintf(stderr, "with-redis: started a throwaway redis-server at %s (stopped "
                    "when the command ends)\n", server.url);
        url = server.url;
    }
    if (setenv("REDIS_URL", url, 1) != 0) {
        fprintf(stderr, "with-redis: setenv: %s\n", strerror(errno));
        redis_harness_stop(&server);
        return EXIT_TOOL_FAILED;
    }

    int status = got_signal != 0 ? 128 + got_signal : run_command(command);
    redis_harness_stop(&server); /* does nothing when the server was reused */
    return status;
}
