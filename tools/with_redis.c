/*
 * with_redis.c - runs a command with a Redis server at $REDIS_URL.
 *
 *     with-redis [--reuse | --cluster] [--quiet] -- COMMAND [ARGS...]
 *
 * `make test` runs the test binaries through this tool, so tests never
 * depend on a Redis that happens to be running, and two test runs at once
 * never share one.  By default it starts a throwaway redis-server
 * (common/redis_harness.c: a free port, a temporary folder, no
 * persistence), sets REDIS_URL to it, runs the command, stops the server
 * and exits with the command's exit status (128+N if it died of signal N).
 *
 * --reuse   use the Redis at $REDIS_URL (default redis://127.0.0.1:6379) if
 *           one answers PING within 300 ms; start a throwaway one otherwise.
 * --cluster start a throwaway Redis Cluster of three masters instead
 *           (common/redis_harness.h: redis_cluster_start) and set
 *           REDIS_URL to one of its nodes; always a new one.
 * --quiet   do not say which server is used.
 *
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP are passed on to the command; the
 * server is stopped once the command has ended.  Exit status 127 means the
 * command could not be run, 125 that with-redis itself failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redis_client.h"
#include "redis_harness.h"

enum { EXIT_TOOL_FAILED = 125, EXIT_CANNOT_RUN = 127 };

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
            "Runs COMMAND with REDIS_URL set to a throwaway redis-server, stopped\n"
            "when COMMAND ends.\n"
            "  --reuse  use the Redis at $REDIS_URL (default " REDIS_DEFAULT_URL ")\n"
            "           if it answers PING; start a throwaway one otherwise\n"
            "  --cluster  start a throwaway Redis Cluster (3 masters) instead; REDIS_URL\n"
            "           is one of its nodes\n"
            "  --quiet  do not say which server is used\n");
}

/* True if a Redis at `url` answers PING within about 300 ms. */
static bool redis_answers(const char *url)
{
    struct redis_client_options opts = { .connect_timeout_ms = 300, .command_timeout_ms = 300 };
    struct redis_client *c = redis_client_connect(url, &opts, NULL, 0);
    if (c == NULL)
        return false;
    const char *argv[] = { "PING" };
    const size_t len[] = { 4 };
    struct redis_result r = redis_client_command(c, 1, argv, len);
    bool ok = r.kind == REDIS_RESULT_OK;
    redis_result_free(&r);
    redis_client_free(c);
    return ok;
}

/* Runs argv as a child and returns its exit status the way a shell reports
 * it: the exit code, or 128+N for death by signal N. */
static int run_command(char **argv)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "with-redis: cannot start '%s': fork: %s\n", argv[0], strerror(errno));
        return EXIT_TOOL_FAILED;
    }
    if (pid == 0) {
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
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_SUCCESS;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            fprintf(stderr, "with-redis: unknown option '%s' (the command goes after '--')\n",
                    argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "with-redis: no command given\n");
        usage(stderr);
        return 2;
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
    if (reuse && redis_answers(url)) {
        if (!quiet)
            fprintf(stderr, "with-redis: using the Redis server at %s\n", url);
    } else {
        char err[1024];
        if (redis_harness_start(&server, err, sizeof err) != 0) {
            fprintf(stderr, "with-redis: could not start a throwaway redis-server: %s\n", err);
            return EXIT_TOOL_FAILED;
        }
        if (!quiet)
            fprintf(stderr, "with-redis: %s%s%sstarted a throwaway redis-server at %s "
                    "(stopped when the command ends)\n", reuse ? "nothing answered at " : "",
                    reuse ? url : "", reuse ? "; " : "", server.url);
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
