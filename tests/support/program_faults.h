/*
 * program_faults.h - runs a chapter's program the way an unlucky user
 * would: against a Redis that dies, drops the program's connections or
 * restarts while the program is busy.
 *
 * Each run gets a private redis-server (the harness), so that the fault
 * touches nothing else.  The fault comes once the server has run a given
 * number of the program's commands - read from the server's own counters
 * (INFO commandstats), not guessed with a sleep - so it always lands in
 * the middle of the work, whatever the machine's speed.  The program's
 * output is read all along, so a chatty program never blocks on a full
 * pipe, and a program that hangs is killed at the bound and reported.
 *
 * In the sanitizer lanes chapter_program() is the sanitizer build, so the
 * same runs check that the fault paths are free of memory errors and races.
 */
#ifndef PROGRAM_FAULTS_H
#define PROGRAM_FAULTS_H

#include <check.h>
#include <stdbool.h>

#include "program_runner.h"

enum program_fault {
    FAULT_KILL_SERVER,      /* SIGKILL: every connection drops, nothing answers again */
    FAULT_KILL_CONNECTIONS, /* CLIENT KILL TYPE normal: the server stays up */
    FAULT_RESTART_SERVER,   /* SIGKILL, then a new empty server on the same port */
};

/* "the server is killed", "its connections are killed (CLIENT KILL)", ... */
const char *program_fault_name(enum program_fault fault);

struct fault_run {
    struct program_run run; /* how the program ended, and its output */
    bool faulted;           /* the fault came while the program was busy */
    long calls_at_fault;    /* the server's count of the command by then */
    long ms_after_fault;    /* how long the program ran on after it */
    char why_not[768];      /* when not faulted: why (it ended first, ...) */
};

/* How long a program on its fault path may run, from its start, before it
 * counts as hung: each test's fault comes early, and a correct program
 * ends within seconds of it (the tests check that bound themselves).  A
 * hung program costs a learner this long per fault test, three of them. */
#define PROGRAM_FAULT_HANG_MS 30000

/*
 * Runs argv (argv[0] is the program) with REDIS_URL set to a private
 * server; once the server has run `after_calls` of `command` ("set"),
 * applies `fault`; waits at most timeout_ms (from the start) for the
 * program to end.  Fails the test (ck_assert) if the server or the program
 * cannot be started.  Free with fault_run_free.
 */
void program_run_with_fault(const char *const *argv, enum program_fault fault,
                            const char *command, long after_calls, unsigned timeout_ms,
                            struct fault_run *out);

void fault_run_free(struct fault_run *fr);

/* Runs argv against a private server that wants a password, with none in
 * REDIS_URL, and checks that the program says so and exits with 2: it
 * could not start (rather than reporting every command as failed). */
void expect_exit_2_without_password(const char *const *argv, const char *args);

/* Runs argv three times with a REDIS_URL the program cannot use (a scheme
 * that is not redis://, a port nothing listens on, a password for a port
 * nothing listens on) and checks each time that it exits with 2, says why
 * on stderr, and never shows the password.  `section` is the part of the
 * chapter's text a failure points to. */
void expect_exit_2_on_unusable_urls(const char *const *argv, const char *section);

/* True if stderr holds a sanitizer's report (ASan, UBSan, TSan, LSan). */
bool program_run_has_sanitizer_report(const struct program_run *run);

/* The checks every fault run shares: the fault came mid-run, and the
 * program ended by itself (no hang), with no sanitizer report, with exit
 * status 1 (errors during the run) and `must_say` on stderr.  `args` is
 * the command line shown in messages; `section` the part of the chapter's
 * text a failure points to. */
void expect_exit_1_after_fault(const struct fault_run *fr, enum program_fault fault,
                               const char *args, const char *must_say, const char *section);

/* Adds the test case "program faults" to `suite`: one program run per
 * test, with a time limit that leaves room for the sanitizer lanes. */
void add_program_fault_tests(Suite *suite, const TTest *server_killed,
                             const TTest *connections_killed, const TTest *server_restarted,
                             const TTest *password_missing);

/* How many times `text` occurs in `haystack`. */
int count_of(const char *haystack, const char *text);

/* The last `n` bytes of text (all of it if shorter), for failure messages
 * about a program's long output. */
const char *tail_of(const char *text, size_t n);

#endif
