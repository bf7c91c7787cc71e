/*
 * test_redis_harness.c - the throwaway redis-server: it starts, answers,
 * stops, and never outlives the process that started it.
 *
 * Several tests fork a child process that starts a server and then dies in
 * some way; the test (the parent) checks from outside that the server and
 * its folder are gone.  Children leave with _exit(), so they never run the
 * exit handlers they inherited from the test runner.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redis_client.h"
#include "redis_harness.h"
#include "test_support.h"

/* ---- Helpers -------------------------------------------------------------- */

static void start(struct redis_harness *h)
{
    char err[1024];
    ck_assert_msg(redis_harness_start(h, err, sizeof err) == 0, "%s", err);
}

static bool answers_ping(const char *url)
{
    struct redis_client *c = redis_client_connect(url, NULL, NULL, 0);
    if (c == NULL)
        return false;
    const char *argv[] = { "PING" };
    const size_t len[] = { 4 };
    struct redis_result r = redis_client_command(c, 1, argv, len);
    bool ok = r.kind == REDIS_RESULT_OK && strcmp(r.data, "PONG") == 0;
    redis_result_free(&r);
    redis_client_free(c);
    return ok;
}

static bool folder_exists(const char *dir)
{
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Removes a folder a test left behind on purpose (the server only writes
 * its log there). */
static void remove_server_folder(const char *dir)
{
    char log[512];
    snprintf(log, sizeof log, "%s/redis.log", dir);
    unlink(log);
    rmdir(dir);
}

/* What a forked child tells the test about the server it started. */
struct report {
    pid_t pid; /* 0: the start failed */
    char dir[256];
};

static void write_report(int fd, const struct redis_harness *h, bool started)
{
    struct report rep;
    memset(&rep, 0, sizeof rep);
    if (started) {
        rep.pid = h->pid;
        memcpy(rep.dir, h->dir, sizeof rep.dir);
    }
    /* Smaller than PIPE_BUF, so written in one piece. */
    if (write(fd, &rep, sizeof rep) != (ssize_t)sizeof rep)
        _exit(3);
}

static struct report read_report(int fd)
{
    struct report rep;
    memset(&rep, 0, sizeof rep);
    ssize_t n;
    while ((n = read(fd, &rep, sizeof rep)) == -1 && errno == EINTR)
        ;
    ck_assert_int_eq(n, (ssize_t)sizeof rep);
    ck_assert_msg(rep.pid > 0, "the child could not start a server");
    return rep;
}

/* Reaps a forked child, giving it 10 s.  A child stuck (say, in a broken
 * signal handler) is killed, so its servers die with it (PDEATHSIG) rather
 * than outlive the test. */
static int wait_for_child(pid_t pid)
{
    int status = 0;
    int64_t deadline = test_now_ms() + 10000;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && test_now_ms() < deadline)
        test_sleep_ms(10);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    ck_assert_msg(r == pid, "the child process did not end within 10 s");
    return status;
}

/* ---- Starting and stopping ---------------------------------------------------- */

START_TEST(start_gives_a_url_that_answers_ping)
{
    struct redis_harness h;
    start(&h);
    ck_assert_int_gt(h.pid, 0);
    ck_assert_int_eq(h.owner, getpid());
    ck_assert(h.port > 0 && h.port <= 65535);
    char expected_url[64];
    snprintf(expected_url, sizeof expected_url, "redis://127.0.0.1:%d", h.port);
    ck_assert_str_eq(h.url, expected_url);
    ck_assert_ptr_nonnull(strstr(h.dir, "/channels-redis-"));
    ck_assert(folder_exists(h.dir));
    ck_assert(answers_ping(h.url));
    redis_harness_stop(&h);
}
END_TEST

START_TEST(two_harnesses_at_once_get_different_ports_and_folders)
{
    struct redis_harness a, b;
    start(&a);
    start(&b);
    ck_assert_int_ne(a.port, b.port);
    ck_assert_str_ne(a.dir, b.dir);
    ck_assert_int_ne(a.pid, b.pid);

    /* Two servers, not one answering twice: a key set in one is not in the other. */
    struct redis_client *ca = redis_client_connect(a.url, NULL, NULL, 0);
    struct redis_client *cb = redis_client_connect(b.url, NULL, NULL, 0);
    ck_assert_ptr_nonnull(ca);
    ck_assert_ptr_nonnull(cb);
    struct redis_result r = redis_client_set(ca, "only-in-a", 9, "1", 1);
    ck_assert_int_eq(r.kind, REDIS_RESULT_OK);
    redis_result_free(&r);
    r = redis_client_get(cb, "only-in-a", 9);
    ck_assert_int_eq(r.kind, REDIS_RESULT_NIL);
    redis_result_free(&r);
    redis_client_free(ca);
    redis_client_free(cb);

    redis_harness_stop(&a);
    ck_assert(answers_ping(b.url)); /* stopping one leaves the other alone */
    redis_harness_stop(&b);
}
END_TEST

START_TEST(start_removes_folders_left_by_owners_that_died)
{
    /* A pid that surely belongs to no process: a child we made and reaped. */
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);

    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    char orphan[512], log[600];
    snprintf(orphan, sizeof orphan, "%s/channels-redis-%ld-test01", tmp, (long)child);
    snprintf(log, sizeof log, "%s/redis.log", orphan);
    ck_assert_int_eq(mkdir(orphan, 0700), 0);
    FILE *f = fopen(log, "w");
    ck_assert_ptr_nonnull(f);
    fputs("left behind\n", f);
    fclose(f);

    struct redis_harness h;
    char err[512];
    ck_assert_msg(redis_harness_start(&h, err, sizeof err) == 0, "start: %s", err);
    struct stat st;
    ck_assert_msg(stat(orphan, &st) != 0 && errno == ENOENT,
                  "%s should have been removed: its owner %ld is dead", orphan, (long)child);
    /* Our own live folder is not swept by our own start. */
    ck_assert_int_eq(stat(h.dir, &st), 0);
    redis_harness_stop(&h);
}
END_TEST

START_TEST(stop_removes_the_folder_and_the_port_stops_answering)
{
    struct redis_harness h;
    start(&h);
    char url[64], dir[256];
    snprintf(url, sizeof url, "%s", h.url);
    snprintf(dir, sizeof dir, "%s", h.dir);
    pid_t pid = h.pid;

    redis_harness_stop(&h);

    ck_assert_msg(!folder_exists(dir), "%s is still there", dir);
    ck_assert(test_process_is_gone(pid));
    char err[512] = "";
    ck_assert_ptr_null(redis_client_connect(url, NULL, err, sizeof err));
    ck_assert_msg(strstr(err, "refused") != NULL, "got: %s", err);
}
END_TEST

START_TEST(stop_twice_is_safe)
{
    struct redis_harness h;
    start(&h);
    redis_harness_stop(&h);
    ck_assert_int_eq(h.pid, 0);
    ck_assert_str_eq(h.dir, "");
    redis_harness_stop(&h);
    redis_harness_kill(&h);
    ck_assert_int_eq(h.pid, 0);

    struct redis_harness never_started;
    memset(&never_started, 0, sizeof never_started);
    redis_harness_stop(&never_started);
    redis_harness_stop(NULL);
}
END_TEST

START_TEST(start_without_redis_server_on_path_fails_clearly_and_leaves_nothing)
{
    /* An empty folder as PATH, and another as TMPDIR so we can see that
     * the failed start left nothing behind. */
    char empty_bin[] = "/tmp/channels-test-bin-XXXXXX";
    char tmp[] = "/tmp/channels-test-tmp-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(empty_bin));
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    char old_path[4096] = "", old_tmpdir[4096] = "";
    const char *p = getenv("PATH"), *t = getenv("TMPDIR");
    snprintf(old_path, sizeof old_path, "%s", p ? p : "");
    snprintf(old_tmpdir, sizeof old_tmpdir, "%s", t ? t : "");
    setenv("PATH", empty_bin, 1);
    setenv("TMPDIR", tmp, 1);

    struct redis_harness h;
    char err[1024] = "";
    int rc = redis_harness_start(&h, err, sizeof err);

    /* Put the environment back before any assertion can end the test. */
    setenv("PATH", old_path, 1);
    if (t != NULL)
        setenv("TMPDIR", old_tmpdir, 1);
    else
        unsetenv("TMPDIR");
    bool tmp_was_empty = rmdir(tmp) == 0; /* rmdir fails on a non-empty folder */
    rmdir(empty_bin);

    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(h.pid, 0);
    ck_assert_msg(strstr(err, "redis-server") != NULL && strstr(err, "not on PATH") != NULL,
                  "got: %s", err);
    ck_assert_msg(tmp_was_empty, "the failed start left files in %s", tmp);
}
END_TEST

/* ---- Faults ----------------------------------------------------------------------- */

START_TEST(kill_makes_clients_see_a_lost_connection)
{
    signal(SIGPIPE, SIG_IGN); /* hiredis writes with write(2) */
    struct redis_harness h;
    start(&h);
    struct redis_client *c = redis_client_connect(h.url, NULL, NULL, 0);
    ck_assert_ptr_nonnull(c);
    pid_t pid = h.pid;

    redis_harness_kill(&h);

    ck_assert_int_eq(h.pid, 0);
    ck_assert(test_process_is_gone(pid));
    ck_assert_msg(folder_exists(h.dir), "kill keeps the folder until stop");
    struct redis_result r = redis_client_get(c, "k", 1);
    ck_assert_int_eq(r.kind, REDIS_RESULT_IO_ERROR);
    ck_assert_msg(strstr(r.data, "connection lost") != NULL, "got: %s", r.data);
    redis_result_free(&r);
    ck_assert(!answers_ping(h.url));
    redis_client_free(c);

    char dir[256];
    snprintf(dir, sizeof dir, "%s", h.dir);
    redis_harness_stop(&h);
    ck_assert(!folder_exists(dir));
}
END_TEST

START_TEST(pause_holds_commands_for_about_the_pause_time)
{
    struct redis_harness h;
    start(&h);
    struct redis_client *c = redis_client_connect(h.url, NULL, NULL, 0);
    ck_assert_ptr_nonnull(c);

    ck_assert_int_eq(redis_harness_pause(&h, 300), 0);
    int64_t begin = test_now_ms();
    struct redis_result r = redis_client_get(c, "k", 1);
    int64_t elapsed = test_now_ms() - begin;

    ck_assert_int_eq(r.kind, REDIS_RESULT_NIL); /* held, then answered */
    redis_result_free(&r);
    ck_assert_int_ge(elapsed, 250);
    ck_assert_int_lt(elapsed, 3000);
    redis_client_free(c);
    redis_harness_stop(&h);
}
END_TEST

START_TEST(freeze_leaves_every_request_unanswered_until_thaw)
{
    struct redis_harness h;
    start(&h);
    struct redis_client_options quick = { .connect_timeout_ms = 300, .command_timeout_ms = 300 };
    struct redis_client *before = redis_client_connect(h.url, &quick, NULL, 0);
    ck_assert_ptr_nonnull(before);

    ck_assert_int_eq(redis_harness_freeze(&h), 0);
    ck_assert_int_eq(h.frozen, 1);
    ck_assert_int_eq(redis_harness_freeze(&h), 0); /* frozen already: no waiting */

    /* A connection made before the freeze gets no reply... */
    struct redis_result r = redis_client_get(before, "k", 1);
    ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR && strstr(r.data, "timed out") != NULL,
                  "expected a timeout from the frozen server, got %s %s",
                  redis_result_kind_name(r.kind), r.data != NULL ? r.data : "");
    redis_result_free(&r);
    redis_client_free(before);
    /* ...and a new one is accepted by the kernel (the listen backlog) but
     * never answered: the connect fails on its set-up, not with "refused". */
    struct redis_client_options named = { .connect_timeout_ms = 300, .name = "frozen-probe" };
    enum redis_connect_error why;
    char err[512] = "";
    ck_assert_ptr_null(redis_client_connect_why(h.url, &named, &why, err, sizeof err));
    ck_assert_msg(why == REDIS_CONNECT_TIMED_OUT, "expected a connect timeout, got %d: %s",
                  (int)why, err);

    ck_assert_int_eq(redis_harness_thaw(&h), 0);
    ck_assert_int_eq(h.frozen, 0);
    ck_assert_int_eq(redis_harness_thaw(&h), 0); /* running already: no waiting */
    ck_assert(answers_ping(h.url));
    redis_harness_stop(&h);
}
END_TEST

START_TEST(only_the_owner_freezes_and_a_frozen_server_still_stops)
{
    struct redis_harness h;
    start(&h);

    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) /* a copy of `h`, as a forked Check test holds */
        _exit(redis_harness_freeze(&h) == -1 && redis_harness_thaw(&h) == -1 ? 0 : 1);
    int status = wait_for_child(child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "freeze or thaw in a process other than the owner did not fail");
    ck_assert(answers_ping(h.url));

    ck_assert_int_eq(redis_harness_freeze(&h), 0);
    pid_t pid = h.pid;
    char dir[256];
    snprintf(dir, sizeof dir, "%s", h.dir);
    redis_harness_stop(&h);
    ck_assert(test_process_is_gone(pid));
    ck_assert_msg(!folder_exists(dir), "%s is still there after stopping a frozen server", dir);
    ck_assert_int_eq(h.frozen, 0);
    ck_assert_int_eq(redis_harness_freeze(&h), -1); /* nothing left to freeze */
}
END_TEST

/* ---- Restarting on the same port ---------------------------------------------------- */

/* SET key value on a connection of its own; true if Redis said OK. */
static bool set_key(const char *url, const char *key, const char *value)
{
    struct redis_client *c = redis_client_connect(url, NULL, NULL, 0);
    if (c == NULL)
        return false;
    struct redis_result r = redis_client_set(c, key, strlen(key), value, strlen(value));
    bool ok = r.kind == REDIS_RESULT_OK;
    redis_result_free(&r);
    redis_client_free(c);
    return ok;
}

/* GET key on a connection of its own: its kind (NIL when the key is missing). */
static enum redis_result_kind get_kind(const char *url, const char *key)
{
    struct redis_client *c = redis_client_connect(url, NULL, NULL, 0);
    if (c == NULL)
        return REDIS_RESULT_IO_ERROR;
    struct redis_result r = redis_client_get(c, key, strlen(key));
    enum redis_result_kind kind = r.kind;
    redis_result_free(&r);
    redis_client_free(c);
    return kind;
}

START_TEST(restart_gives_a_new_empty_server_on_the_same_port)
{
    signal(SIGPIPE, SIG_IGN); /* the old connection is written to after the kill */
    struct redis_harness h;
    start(&h);
    int port = h.port;
    char url[64], dir[256];
    snprintf(url, sizeof url, "%s", h.url);
    snprintf(dir, sizeof dir, "%s", h.dir);
    pid_t old_pid = h.pid;
    ck_assert(set_key(h.url, "before-restart", "1"));
    struct redis_client *old = redis_client_connect(h.url, NULL, NULL, 0);
    ck_assert_ptr_nonnull(old);

    char err[1024] = "";
    ck_assert_msg(redis_harness_restart(&h, err, sizeof err) == 0, "restart: %s", err);

    ck_assert_int_eq(h.port, port);
    ck_assert_str_eq(h.url, url);
    ck_assert_str_eq(h.dir, dir);
    ck_assert_int_gt(h.pid, 0);
    ck_assert_int_ne(h.pid, old_pid);
    ck_assert(test_process_is_gone(old_pid));
    ck_assert(answers_ping(h.url));
    /* A new server, not the old one: the data is gone (no persistence). */
    ck_assert_int_eq(get_kind(h.url, "before-restart"), REDIS_RESULT_NIL);
    /* A connection to the old server is lost, as after a crash. */
    struct redis_result r = redis_client_get(old, "k", 1);
    ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR, "the old connection got %s",
                  redis_result_kind_name(r.kind));
    redis_result_free(&r);
    redis_client_free(old);

    pid_t new_pid = h.pid;
    redis_harness_stop(&h);
    ck_assert(test_process_is_gone(new_pid));
    ck_assert_msg(!folder_exists(dir), "%s is still there after stop", dir);
}
END_TEST

START_TEST(restart_after_kill_brings_a_server_back)
{
    struct redis_harness h;
    start(&h);
    int port = h.port;
    redis_harness_kill(&h);
    ck_assert(!answers_ping(h.url));

    char err[1024] = "";
    ck_assert_msg(redis_harness_restart(&h, err, sizeof err) == 0, "restart: %s", err);
    ck_assert_int_eq(h.port, port);
    ck_assert(answers_ping(h.url));
    /* And again: a restart can follow a restart. */
    pid_t first = h.pid;
    ck_assert_msg(redis_harness_restart(&h, err, sizeof err) == 0, "second restart: %s", err);
    ck_assert_int_ne(h.pid, first);
    ck_assert(test_process_is_gone(first));
    ck_assert(answers_ping(h.url));
    redis_harness_stop(&h);
}
END_TEST

START_TEST(restart_of_a_stopped_or_foreign_harness_fails_and_changes_nothing)
{
    struct redis_harness h;
    start(&h);

    /* A forked child holds a copy: the server is not its to restart. */
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        char err[256] = "";
        int rc = redis_harness_restart(&h, err, sizeof err);
        _exit(rc == -1 && strstr(err, "another process") != NULL ? 0 : 1);
    }
    int status = wait_for_child(child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pid_t pid = h.pid;
    ck_assert(answers_ping(h.url));
    ck_assert(!test_process_is_gone(pid));

    redis_harness_stop(&h);
    char err[256] = "";
    ck_assert_int_eq(redis_harness_restart(&h, err, sizeof err), -1);
    ck_assert_int_eq(h.pid, 0);
    ck_assert_msg(strstr(err, "no server") != NULL, "got: %s", err);
}
END_TEST

/* A child starts a server, restarts it, reports the NEW server and ends:
 * with exit() (`clean_exit`), or with _exit() as a crash would. */
static struct report restart_in_child_and_end(bool clean_exit, int *status)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(fds[0]);
        struct redis_harness h;
        char err[1024];
        bool started = redis_harness_start(&h, err, sizeof err) == 0 &&
                       redis_harness_restart(&h, err, sizeof err) == 0;
        write_report(fds[1], &h, started);
        if (clean_exit)
            exit(0); /* without redis_harness_stop: the exit handler must */
        _exit(1);
    }
    close(fds[1]);
    struct report rep = read_report(fds[0]);
    close(fds[0]);
    *status = wait_for_child(child);
    return rep;
}

START_TEST(a_restarted_server_is_still_stopped_at_exit)
{
    int status;
    struct report rep = restart_in_child_and_end(true, &status);
    bool gone = test_wait_until_gone(rep.pid, 2000);
    bool folder = folder_exists(rep.dir);
    if (!gone)
        kill(rep.pid, SIGKILL);
    remove_server_folder(rep.dir);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_msg(gone, "the restarted redis-server %ld outlived exit()", (long)rep.pid);
    ck_assert_msg(!folder, "exit() left the restarted server's folder %s", rep.dir);
}
END_TEST

#ifdef __linux__
START_TEST(a_restarted_server_dies_when_its_owner_dies)
{
    int status;
    struct report rep = restart_in_child_and_end(false, &status);
    bool gone = test_wait_until_gone(rep.pid, 2000);
    if (!gone)
        kill(rep.pid, SIGKILL);
    remove_server_folder(rep.dir);
    ck_assert_msg(gone, "the restarted redis-server %ld outlived the process that started it",
                  (long)rep.pid);
}
END_TEST
#endif

/* ---- The server never outlives its owner ---------------------------------------------- */

START_TEST(stop_in_another_process_leaves_the_server_running)
{
    struct redis_harness h;
    start(&h);

    /* A forked child holds a copy of `h`, as a forked Check test would. */
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        redis_harness_kill(&h);
        redis_harness_stop(&h);
        _exit(h.pid == 0 && h.dir[0] == '\0' ? 0 : 1); /* the copy is forgotten */
    }
    int status = wait_for_child(child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    ck_assert(answers_ping(h.url));
    ck_assert(folder_exists(h.dir));
    redis_harness_stop(&h);
}
END_TEST

#ifdef __linux__
START_TEST(the_server_dies_when_the_process_that_started_it_dies)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(fds[0]);
        struct redis_harness h;
        char err[1024];
        bool started = redis_harness_start(&h, err, sizeof err) == 0;
        write_report(fds[1], &h, started);
        _exit(1); /* die without stopping it, as a crash would */
    }
    close(fds[1]);
    struct report rep = read_report(fds[0]);
    close(fds[0]);
    wait_for_child(child);

    bool gone = test_wait_until_gone(rep.pid, 2000);
    if (!gone) /* do not leave it running when the test fails */
        kill(rep.pid, SIGKILL);
    remove_server_folder(rep.dir);
    ck_assert_msg(gone, "redis-server %ld outlived the process that started it", (long)rep.pid);
}
END_TEST
#endif

START_TEST(a_signal_stops_every_server_and_removes_its_folder)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(fds[0]);
        /* A process group of our own: the handler Check installed, which we
         * inherited, signals its whole group - never let it reach the test. */
        setpgid(0, 0);
        redis_harness_stop_all_on_signal();
        struct redis_harness a, b;
        char err[1024];
        bool started = redis_harness_start(&a, err, sizeof err) == 0 &&
                       redis_harness_start(&b, err, sizeof err) == 0;
        write_report(fds[1], &a, started);
        write_report(fds[1], &b, started);
        raise(SIGINT); /* as if Ctrl-C were pressed */
        _exit(4);      /* not reached when the handler works */
    }
    close(fds[1]);
    struct report a = read_report(fds[0]);
    struct report b = read_report(fds[0]);
    close(fds[0]);
    int status = wait_for_child(child);

    /* Check everything, clean up, then assert - a failure leaves nothing. */
    bool a_gone = test_process_is_gone(a.pid), b_gone = test_process_is_gone(b.pid);
    bool a_folder = folder_exists(a.dir), b_folder = folder_exists(b.dir);
    if (!a_gone)
        kill(a.pid, SIGKILL);
    if (!b_gone)
        kill(b.pid, SIGKILL);
    remove_server_folder(a.dir);
    remove_server_folder(b.dir);

    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT,
                  "the child should die of SIGINT (status %#x)", (unsigned)status);
    ck_assert_msg(a_gone && b_gone, "a server survived the signal");
    ck_assert_msg(!a_folder && !b_folder, "a server folder survived the signal");
}
END_TEST

Suite *redis_harness_suite(void);
Suite *redis_harness_suite(void)
{
    Suite *s = suite_create("redis_harness");

    TCase *lifecycle = tcase_create("lifecycle");
    tcase_set_timeout(lifecycle, 30);
    tcase_add_test(lifecycle, start_gives_a_url_that_answers_ping);
    tcase_add_test(lifecycle, two_harnesses_at_once_get_different_ports_and_folders);
    tcase_add_test(lifecycle, stop_removes_the_folder_and_the_port_stops_answering);
    tcase_add_test(lifecycle, start_removes_folders_left_by_owners_that_died);
    tcase_add_test(lifecycle, stop_twice_is_safe);
    tcase_add_test(lifecycle, start_without_redis_server_on_path_fails_clearly_and_leaves_nothing);
    suite_add_tcase(s, lifecycle);

    TCase *faults = tcase_create("faults");
    tcase_set_timeout(faults, 30);
    tcase_add_test(faults, kill_makes_clients_see_a_lost_connection);
    tcase_add_test(faults, pause_holds_commands_for_about_the_pause_time);
    tcase_add_test(faults, freeze_leaves_every_request_unanswered_until_thaw);
    tcase_add_test(faults, only_the_owner_freezes_and_a_frozen_server_still_stops);
    suite_add_tcase(s, faults);

    TCase *restart = tcase_create("restart");
    tcase_set_timeout(restart, 30);
    tcase_add_test(restart, restart_gives_a_new_empty_server_on_the_same_port);
    tcase_add_test(restart, restart_after_kill_brings_a_server_back);
    tcase_add_test(restart, restart_of_a_stopped_or_foreign_harness_fails_and_changes_nothing);
    tcase_add_test(restart, a_restarted_server_is_still_stopped_at_exit);
#ifdef __linux__
    tcase_add_test(restart, a_restarted_server_dies_when_its_owner_dies);
#endif
    suite_add_tcase(s, restart);

    TCase *owner = tcase_create("owner");
    tcase_set_timeout(owner, 30);
    tcase_add_test(owner, stop_in_another_process_leaves_the_server_running);
#ifdef __linux__
    tcase_add_test(owner, the_server_dies_when_the_process_that_started_it_dies);
#endif
    tcase_add_test(owner, a_signal_stops_every_server_and_removes_its_folder);
    suite_add_tcase(s, owner);
    return s;
}
