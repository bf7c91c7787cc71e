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

/* ---- A throwaway Redis Cluster --------------------------------------------------- */

static void start_cluster(struct redis_cluster *c, size_t masters, size_t replicas)
{
    char err[1024] = "";
    ck_assert_msg(redis_cluster_start(c, masters, replicas, err, sizeof err) == 0,
                  "redis_cluster_start(%zu, %zu): %s", masters, replicas, err);
}

/* One command on a connection of its own; the reply as a tree (to free). */
static struct redis_tree run_on(const char *url, const char *const *argv, int argc)
{
    size_t len[8];
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    struct redis_client *c = redis_client_connect(url, NULL, NULL, 0);
    ck_assert_msg(c != NULL, "cannot connect to %s", url);
    struct redis_tree t = redis_client_command_tree(c, argc, argv, len);
    redis_client_free(c);
    return t;
}

/* The text of a reply that is one value ("" otherwise), into out. */
static const char *reply_text(const char *url, const char *const *argv, int argc, char *out,
                              size_t size)
{
    struct redis_tree t = run_on(url, argv, argc);
    snprintf(out, size, "%s", !t.is_array && t.value.data != NULL ? t.value.data : "");
    redis_tree_free(&t);
    return out;
}

/* A key whose slot node `node` serves (CLUSTER KEYSLOT asks Redis). */
static void key_served_by(const struct redis_cluster *c, size_t node, char *key, size_t size)
{
    for (int i = 0; i < 100000; i++) {
        snprintf(key, size, "harness:%d", i);
        const char *argv[] = { "CLUSTER", "KEYSLOT", key };
        struct redis_tree t = run_on(c->url, argv, 3);
        long long slot = t.value.integer;
        redis_tree_free(&t);
        if (redis_cluster_slot_owner(c, (int)slot) == (int)node)
            return;
    }
    ck_abort_msg("no key found on node %zu", node);
}

START_TEST(a_cluster_starts_agreed_on_its_slots_and_stops_leaving_nothing)
{
    struct redis_cluster c;
    start_cluster(&c, 3, 0);
    ck_assert_uint_eq(c.node_count, 3);
    ck_assert_str_eq(c.url, c.nodes[0].url);
    char text[4096];
    for (size_t i = 0; i < c.node_count; i++) {
        const char *info[] = { "CLUSTER", "INFO" };
        ck_assert_msg(strstr(reply_text(c.nodes[i].url, info, 2, text, sizeof text),
                             "cluster_state:ok") != NULL, "node %zu: %s", i, text);
        /* Its own bus port, and its config file in its own folder. */
        ck_assert_int_gt(c.bus_ports[i], 0);
        for (size_t j = 0; j < c.node_count; j++)
            ck_assert(c.bus_ports[i] != c.nodes[j].port && (i == j || c.bus_ports[i] != c.bus_ports[j]));
        char conf[512];
        snprintf(conf, sizeof conf, "%s/nodes-cluster.conf", c.nodes[i].dir);
        struct stat st;
        ck_assert_msg(stat(conf, &st) == 0, "expected %s to exist", conf);
    }
    /* The slots split evenly, in order. */
    ck_assert_int_eq(redis_cluster_slot_owner(&c, 0), 0);
    ck_assert_int_eq(redis_cluster_slot_owner(&c, 5460), 0);
    ck_assert_int_eq(redis_cluster_slot_owner(&c, 5461), 1);
    ck_assert_int_eq(redis_cluster_slot_owner(&c, 16383), 2);
    ck_assert_int_eq(redis_cluster_slot_owner(&c, 16384), -1);
    /* A key sent to a node that does not serve its slot is redirected. */
    char key[64], reply[256];
    key_served_by(&c, 1, key, sizeof key);
    const char *set[] = { "SET", key, "v" };
    ck_assert_msg(strncmp(reply_text(c.nodes[0].url, set, 3, reply, sizeof reply), "MOVED ", 6) == 0,
                  "expected MOVED from node 0, got %s", reply);
    ck_assert_str_eq(reply_text(c.nodes[1].url, set, 3, reply, sizeof reply), "OK");

    pid_t pids[REDIS_CLUSTER_MAX_NODES];
    char dirs[REDIS_CLUSTER_MAX_NODES][256];
    for (size_t i = 0; i < c.node_count; i++) {
        pids[i] = c.nodes[i].pid;
        memcpy(dirs[i], c.nodes[i].dir, sizeof dirs[i]);
    }
    size_t n = c.node_count;
    redis_cluster_stop(&c);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(test_process_is_gone(pids[i]), "node %zu (pid %ld) still runs", i, (long)pids[i]);
        ck_assert_msg(!folder_exists(dirs[i]), "node %zu left %s", i, dirs[i]);
    }
    redis_cluster_stop(&c); /* twice is harmless */
}
END_TEST

START_TEST(a_killed_master_without_replica_stops_only_its_own_slots)
{
    signal(SIGPIPE, SIG_IGN);
    struct redis_cluster c;
    start_cluster(&c, 3, 0);
    char on_1[64], reply[4096];
    key_served_by(&c, 1, on_1, sizeof on_1);
    redis_cluster_kill_node(&c, 0);
    ck_assert_int_eq(c.nodes[0].pid, 0);
    /* Wait for node 1 to see node 0 as failed (after cluster-node-timeout). */
    const char *nodes[] = { "CLUSTER", "NODES" };
    int64_t deadline = test_now_ms() + 20000;
    char dead_id[64];
    snprintf(dead_id, sizeof dead_id, "%s ", c.ids[0]);
    for (;;) {
        reply_text(c.nodes[1].url, nodes, 2, reply, sizeof reply);
        const char *line = strstr(reply, dead_id);
        if (line != NULL && strstr(line, ",fail") != NULL && strstr(line, ",fail") < strchr(line, '\n'))
            break;
        ck_assert_msg(test_now_ms() < deadline, "node 1 never marked node 0 failed:\n%s", reply);
        test_sleep_ms(20);
    }
    /* The cluster still serves the slots of the masters that live. */
    const char *info[] = { "CLUSTER", "INFO" };
    ck_assert_msg(strstr(reply_text(c.nodes[1].url, info, 2, reply, sizeof reply),
                         "cluster_state:ok") != NULL, "%s", reply);
    const char *set[] = { "SET", on_1, "still served" };
    ck_assert_str_eq(reply_text(c.nodes[1].url, set, 3, reply, sizeof reply), "OK");
    /* And the dead one's slots are nobody's yet: waiting for agreement fails. */
    char err[512] = "";
    ck_assert_int_eq(redis_cluster_wait_until_stable(&c, 200, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not running") != NULL, "got: %s", err);
    redis_cluster_stop(&c);
}
END_TEST

START_TEST(a_killed_master_is_replaced_by_its_replica)
{
    signal(SIGPIPE, SIG_IGN);
    struct redis_cluster c;
    start_cluster(&c, 3, 1);
    ck_assert_uint_eq(c.node_count, 6);
    char text[4096];
    const char *role[] = { "ROLE" };
    for (size_t i = 3; i < 6; i++) {
        struct redis_tree t = run_on(c.nodes[i].url, role, 1);
        ck_assert(t.is_array && t.count >= 3);
        ck_assert_str_eq(t.elements[0].value.data, "slave");
        /* Node 3 replicates master 0, node 4 master 1, node 5 master 2. */
        ck_assert_int_eq((int)t.elements[2].value.integer, c.nodes[i - 3].port);
        redis_tree_free(&t);
    }
    redis_cluster_kill_node(&c, 0);
    char err[1024] = "";
    ck_assert_msg(redis_cluster_wait_until_stable(&c, 20000, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(redis_cluster_slot_owner(&c, 0), 3);
    ck_assert_int_eq(redis_cluster_slot_owner(&c, 5461), 1);
    const char *info[] = { "CLUSTER", "INFO" };
    ck_assert(strstr(reply_text(c.nodes[3].url, info, 2, text, sizeof text), "cluster_state:ok"));
    redis_cluster_stop(&c);
}
END_TEST

START_TEST(moving_a_slot_sends_ask_during_and_moved_after)
{
    struct redis_cluster c;
    start_cluster(&c, 3, 0);
    char key[64], reply[256], err[1024] = "";
    key_served_by(&c, 0, key, sizeof key);
    const char *keyslot[] = { "CLUSTER", "KEYSLOT", key };
    struct redis_tree t = run_on(c.url, keyslot, 3);
    int slot = (int)t.value.integer;
    redis_tree_free(&t);
    const char *set[] = { "SET", key, "moving" };
    const char *get[] = { "GET", key };
    ck_assert_str_eq(reply_text(c.nodes[0].url, set, 3, reply, sizeof reply), "OK");

    ck_assert_msg(redis_cluster_migration_begin(&c, slot, 2, err, sizeof err) == 0, "%s", err);
    /* Still on node 0: it answers. */
    ck_assert_str_eq(reply_text(c.nodes[0].url, get, 2, reply, sizeof reply), "moving");
    ck_assert_msg(redis_cluster_migration_move_keys(&c, slot, 2, err, sizeof err) == 0, "%s", err);
    char expected[96];
    snprintf(expected, sizeof expected, "ASK %d 127.0.0.1:%d", slot, c.nodes[2].port);
    ck_assert_str_eq(reply_text(c.nodes[0].url, get, 2, reply, sizeof reply), expected);
    ck_assert_int_eq(redis_cluster_slot_owner(&c, slot), 0); /* ASK changes no owner */

    ck_assert_msg(redis_cluster_migration_end(&c, slot, 2, err, sizeof err) == 0, "%s", err);
    snprintf(expected, sizeof expected, "MOVED %d 127.0.0.1:%d", slot, c.nodes[2].port);
    ck_assert_str_eq(reply_text(c.nodes[0].url, get, 2, reply, sizeof reply), expected);
    ck_assert_str_eq(reply_text(c.nodes[2].url, get, 2, reply, sizeof reply), "moving");

    /* A whole range, in one call, back to node 0; every node agrees after. */
    ck_assert_msg(redis_cluster_move_slots(&c, slot - 2, slot, 0, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(redis_cluster_slot_owner(&c, slot), 0);
    ck_assert_str_eq(reply_text(c.nodes[0].url, get, 2, reply, sizeof reply), "moving");
    ck_assert_int_eq(redis_cluster_move_slots(&c, slot, slot, 7, err, sizeof err), -1);
    redis_cluster_stop(&c);
}
END_TEST

START_TEST(a_signal_stops_every_cluster_node_and_removes_its_files)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(fds[0]);
        setpgid(0, 0); /* as in a_signal_stops_every_server_and_removes_its_folder */
        redis_harness_stop_all_on_signal();
        struct redis_cluster c;
        bool started = redis_cluster_start(&c, 3, 0, NULL, 0) == 0;
        for (size_t i = 0; i < 3; i++)
            write_report(fds[1], &c.nodes[i], started);
        raise(SIGINT);
        _exit(4);
    }
    close(fds[1]);
    struct report nodes[3];
    for (size_t i = 0; i < 3; i++)
        nodes[i] = read_report(fds[0]);
    close(fds[0]);
    int status = wait_for_child(child);
    bool all_gone = true, no_folder = true;
    for (size_t i = 0; i < 3; i++) {
        all_gone = all_gone && test_process_is_gone(nodes[i].pid);
        no_folder = no_folder && !folder_exists(nodes[i].dir);
        if (!test_process_is_gone(nodes[i].pid))
            kill(nodes[i].pid, SIGKILL);
        char conf[512];
        snprintf(conf, sizeof conf, "%s/nodes-cluster.conf", nodes[i].dir);
        unlink(conf);
        remove_server_folder(nodes[i].dir);
    }
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT, "status %#x",
                  (unsigned)status);
    ck_assert_msg(all_gone, "a cluster node survived the signal");
    ck_assert_msg(no_folder, "a cluster node's folder (config file and log) survived the signal");
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

    TCase *cluster = tcase_create("cluster");
    tcase_set_timeout(cluster, 60);
    tcase_add_test(cluster, a_cluster_starts_agreed_on_its_slots_and_stops_leaving_nothing);
    tcase_add_test(cluster, a_killed_master_without_replica_stops_only_its_own_slots);
    tcase_add_test(cluster, a_killed_master_is_replaced_by_its_replica);
    tcase_add_test(cluster, moving_a_slot_sends_ask_during_and_moved_after);
    tcase_add_test(cluster, a_signal_stops_every_cluster_node_and_removes_its_files);
    suite_add_tcase(s, cluster);
    return s;
}
