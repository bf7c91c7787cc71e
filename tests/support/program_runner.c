/*
 * program_runner.c - see program_runner.h.
 *
 * fork + exec with the child's stdout and stderr on pipes, read with poll()
 * until both close or the deadline passes.  The child gets its own process
 * group so that a timeout can kill everything it started.
 */
#include "program_runner.h"

#include <stdbool.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void append(struct program_output *b, const char *bytes, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *bigger = realloc(b->data, cap);
        if (bigger == NULL)
            return; /* keep what we have: the test will see truncated output */
        b->data = bigger;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
}

int program_start(const char *const *argv, const char *const *extra_env,
                  struct program_child *child)
{
    memset(child, 0, sizeof *child);
    child->run.exit_code = -1;
    child->fds[0] = child->fds[1] = -1;
    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) != 0)
        return -1;
    if (pipe(err_pipe) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return -1;
    }
    child->started_ms = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        for (int i = 0; i < 2; i++) {
            close(out_pipe[i]);
            close(err_pipe[i]);
        }
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        dup2(out_pipe[1], STDOUT_FILENO);
        dup2(err_pipe[1], STDERR_FILENO);
        close(out_pipe[0]);
        close(out_pipe[1]);
        close(err_pipe[0]);
        close(err_pipe[1]);
        for (const char *const *e = extra_env; e && *e; e++) {
            char name[256];
            const char *eq = strchr(*e, '=');
            if (eq == NULL || (size_t)(eq - *e) >= sizeof name)
                continue;
            snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
            setenv(name, eq + 1, 1);
        }
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also here, so there is no window before the child's own call */
    close(out_pipe[1]);
    close(err_pipe[1]);
    child->pid = pid;
    child->fds[0] = out_pipe[0];
    child->fds[1] = err_pipe[0];
    append(&child->output[0], "", 0);
    append(&child->output[1], "", 0);
    child->run.out = child->output[0].data;
    child->run.err = child->output[1].data;
    return 0;
}

bool program_pump(struct program_child *child, unsigned wait_ms)
{
    long deadline = now_ms() + (long)wait_ms;
    for (;;) {
        struct pollfd fds[2] = { { child->fds[0], POLLIN, 0 }, { child->fds[1], POLLIN, 0 } };
        if (child->fds[0] < 0 && child->fds[1] < 0)
            break;
        long left = deadline - now_ms();
        int ready = poll(fds, 2, left > 0 ? (int)left : 0);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            char chunk[8192];
            ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
            if (n > 0) {
                append(&child->output[i], chunk, (size_t)n);
            } else {
                close(fds[i].fd);
                child->fds[i] = -1;
            }
        }
        if (left <= 0)
            break;
    }
    child->run.out = child->output[0].data;
    child->run.err = child->output[1].data;
    return child->fds[0] >= 0 || child->fds[1] >= 0;
}

void program_finish(struct program_child *child, unsigned timeout_ms, struct program_run *run)
{
    for (;;) {
        long left = (long)timeout_ms - (now_ms() - child->started_ms);
        if (left <= 0) {
            child->run.timed_out = true;
            break;
        }
        if (!program_pump(child, (unsigned)(left < 100 ? left : 100)))
            break;
    }
    if (child->run.timed_out)
        kill(-child->pid, SIGKILL);
    int status = 0;
    while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR)
        ;
    for (int i = 0; i < 2; i++)
        if (child->fds[i] >= 0)
            close(child->fds[i]);
    child->run.elapsed_ms = now_ms() - child->started_ms;
    if (WIFEXITED(status))
        child->run.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        child->run.signal = WTERMSIG(status);
    *run = child->run;
}

int program_run(const char *const *argv, const char *const *extra_env,
                unsigned timeout_ms, struct program_run *run)
{
    struct program_child child;
    if (program_start(argv, extra_env, &child) != 0) {
        memset(run, 0, sizeof *run);
        run->exit_code = -1;
        return -1;
    }
    program_finish(&child, timeout_ms, run);
    return 0;
}

void program_run_free(struct program_run *run)
{
    free(run->out);
    free(run->err);
    run->out = run->err = NULL;
}

const char *program_run_outcome(const struct program_run *run, char *buf, size_t len)
{
    if (run->timed_out)
        snprintf(buf, len, "hung (killed after %ld ms)", run->elapsed_ms);
    else if (run->signal != 0)
        snprintf(buf, len, "killed by signal %d (%s)", run->signal, strsignal(run->signal));
    else
        snprintf(buf, len, "exited with %d", run->exit_code);
    return buf;
}

const char *program_output_tail(const char *text, size_t max)
{
    size_t len = strlen(text);
    return len > max ? text + len - max : text;
}

const char *chapter_program(void)
{
    const char *p = getenv("CHAPTER_PROGRAM");
    return p ? p : "(CHAPTER_PROGRAM not set: run this test through `make test-NN`)";
}

const char *chapter_doc(void)
{
    const char *d = getenv("CHAPTER_DOC");
    return d ? d : "the chapter's text in docs/";
}
