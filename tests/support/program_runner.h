/*
 * program_runner.h - runs a chapter's program the way a learner would, and
 * tells the test what happened: its output, its exit, a crash, or a hang.
 *
 * Chapter 01's test needs all four outcomes (its program is broken on
 * purpose and may crash or hang), and later chapters check the program's
 * own exit status and messages, so the runner never lets a child outlive
 * its deadline: a hang becomes `timed_out` after a SIGKILL.
 */
#ifndef PROGRAM_RUNNER_H
#define PROGRAM_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

struct program_run {
    int exit_code;      /* when it exited normally, else -1 */
    int signal;         /* the signal that killed it, else 0 (SIGKILL after a timeout) */
    bool timed_out;     /* it did not finish within the deadline */
    char *out;          /* everything it wrote to stdout, NUL-terminated */
    char *err;          /* everything it wrote to stderr, NUL-terminated */
    long elapsed_ms;
};

/* Runs argv[0] (a path) with argv, with `extra_env` (NULL-terminated
 * "NAME=value" strings, may be NULL) added to the environment, and waits at
 * most `timeout_ms`.  Returns 0, or -1 if it could not be started. */
int program_run(const char *const *argv, const char *const *extra_env,
                unsigned timeout_ms, struct program_run *run);

/* The same in steps, for a test that acts while the program runs (see
 * program_faults.h): start it, keep reading its output while waiting for
 * something else, then finish. */
struct program_output {
    char *data;          /* NUL-terminated */
    size_t len, cap;
};

struct program_child {
    int pid;
    int fds[2];          /* its stdout and stderr, -1 once closed */
    long started_ms;
    struct program_output output[2]; /* what it wrote so far: stdout, stderr */
    struct program_run run;
};

/* Starts the program as program_run does.  0, or -1 if it could not be
 * started. */
int program_start(const char *const *argv, const char *const *extra_env,
                  struct program_child *child);

/* Reads whatever output comes within wait_ms (the pipes must not fill up
 * while the test waits for something else).  False once the program has
 * closed its output, i.e. it has ended. */
bool program_pump(struct program_child *child, unsigned wait_ms);

/* Waits for the end: reads the rest of the output, kills the program (and
 * what it started) if it is still running `timeout_ms` after its start,
 * and fills *run, which the caller frees with program_run_free. */
void program_finish(struct program_child *child, unsigned timeout_ms, struct program_run *run);

void program_run_free(struct program_run *run);

/* "exited with 3", "killed by SIGSEGV", "hung (killed after 5000 ms)". */
const char *program_run_outcome(const struct program_run *run, char *buf, size_t len);

/* The last `max` bytes of `text` (all of it if shorter).  A failure message
 * quotes a program's output through this: the end is where its summary and
 * its error are, and Check refuses a message longer than a few KiB (a
 * sanitizer's report alone can be longer). */
const char *program_output_tail(const char *text, size_t max);

/* $CHAPTER_PROGRAM, set by `make test-NN`: the chapter's program. */
const char *chapter_program(void);

/* $CHAPTER_DOC, e.g. "docs/02-mutex.md": where a failing test sends the
 * learner.  Use in messages through CHAPTER_HINT. */
const char *chapter_doc(void);

/* A failing chapter assertion's message ends with where to read up:
 *   ck_assert_msg(ok, "expected ..., got ..." CHAPTER_HINT("Holding the lock"), ...)
 * CHAPTER_HINT's %s is filled by chapter_doc(): pass it as the last
 * argument. */
#define CHAPTER_HINT(section) "\n    hint: reread \"" section "\" in %s"

#endif
