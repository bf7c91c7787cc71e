/*
 * test_with_redis.c - tools/with_redis.c, which `make test`, `make run` and
 * `make doctor` run through: which server it picks, what it says (never a
 * password), its exit codes, and that nothing it started outlives it.
 *
 * The real with-redis binary ($WITH_REDIS_PROGRAM, set by `make
 * test-common`) runs against real servers that the tests start with the
 * harness and give a password (CONFIG SET requirepass), freeze or leave
 * closed.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "program_runner.h"
#include "redis_client.h"
#include "redis_harness.h"
#include "test_support.h"

/* The password the servers get, and the part of it that must never show. */
#define PASSWORD "s3cr3t@pw"
#define PASSWORD_ESCAPED "s3cr3t%40pw"
#define SECRET "s3cr3t"
/* How long one with-redis run may take before it counts as hung. */
#define RUN_BOUND_MS 30000

/* ---- Helpers -------------------------------------------------------------- */

static const char *with_redis(void)
{
    const char *path = getenv("WITH_REDIS_PROGRAM");
    ck_assert_msg(path != NULL && path[0] != '\0',
                  "WITH_REDIS_PROGRAM is not set: run these tests with `make test-common`");
    return path;
}

static void start_server(struct redis_harness *h)
{
    char err[1024];
    ck_assert_msg(redis_harness_start(h, err, sizeof err) == 0, "%s", err);
}

/* A server whose password is PASSWORD. */
static void start_server_with_password(struct redis_harness *h)
{
    start_server(h);
    struct redis_client *admin = redis_client_connect(h->url, NULL, NULL, 0);
    ck_assert_ptr_nonnull(admin);
    const char *argv[] = { "CONFIG", "SET", "requirepass", PASSWORD };
    const size_t len[] = { 6, 3, 11, strlen(PASSWORD) };
    struct redis_result r = redis_client_command(admin, 4, argv, len);
    ck_assert_int_eq(r.kind, REDIS_RESULT_OK);
    redis_result_free(&r);
    redis_client_free(admin);
}

/* Runs `with-redis ARGS...` with REDIS_URL=url, and EXPECTED_URL=url for a
 * command that compares the two. */
static void run(const char *url, const char *const *args, struct program_run *out)
{
    const char *argv[16] = { with_redis() };
    size_t n = 1;
    for (; args[n - 1] != NULL && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    char url_env[512], expected_env[512];
    snprintf(url_env, sizeof url_env, "REDIS_URL=%s", url);
    snprintf(expected_env, sizeof expected_env, "EXPECTED_URL=%s", url);
    const char *env[] = { url_env, expected_env, NULL };
    ck_assert_msg(program_run(argv, env, RUN_BOUND_MS, out) == 0, "cannot run %s", argv[0]);
    char outcome[128];
    ck_assert_msg(!out->timed_out, "with-redis %s", program_run_outcome(out, outcome,
                                                                         sizeof outcome));
}

static void assert_password_hidden(const struct program_run *r, const char *url)
{
    ck_assert_msg(strstr(r->out, SECRET) == NULL && strstr(r->err, SECRET) == NULL,
                  "with REDIS_URL=%s with-redis showed the password:\nstdout: %s\nstderr: %s",
                  url, r->out, r->err);
}

/* The command `with-redis --reuse` runs: prints "same-url" if it got the
 * REDIS_URL it was given, "other-url" if with-redis gave it another. */
static const char *const REPORT_URL[] = {
    "--reuse", "--", "/bin/sh", "-c",
    "if [ \"$REDIS_URL\" = \"$EXPECTED_URL\" ]; then echo same-url; else echo other-url; fi",
    NULL,
};

/* ---- --reuse: which server ------------------------------------------------- */

START_TEST(reuse_runs_on_a_server_that_answers_and_never_shows_its_password)
{
    struct redis_harness h;
    start_server_with_password(&h);
    /* Both spellings of an '@' in the password: as is (the last '@' ends
     * it) and escaped. */
    const char *passwords[] = { PASSWORD, PASSWORD_ESCAPED };
    for (size_t i = 0; i < 2; i++) {
        char url[256], shown[256];
        snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d", passwords[i], h.port);
        snprintf(shown, sizeof shown, "using the Redis server at redis://:***@127.0.0.1:%d\n",
                 h.port);
        struct program_run r;
        run(url, REPORT_URL, &r);
        char outcome[128];
        ck_assert_msg(r.exit_code == 0 && strcmp(r.out, "same-url\n") == 0,
                      "expected the command to run with REDIS_URL=%s, got: %s, stdout %s"
                      "stderr %s", url, program_run_outcome(&r, outcome, sizeof outcome),
                      r.out, r.err);
        ck_assert_msg(strstr(r.err, shown) != NULL, "expected \"%s\" on stderr, got: %s", shown,
                      r.err);
        assert_password_hidden(&r, url);
        program_run_free(&r);
    }
    redis_harness_stop(&h);
}
END_TEST

START_TEST(reuse_stops_with_2_on_a_mistake_in_redis_url)
{
    struct redis_harness h;
    start_server_with_password(&h);
    char urls[10][256];
    const char *mentions[10];
    int n = 0;
#define CASE(says, ...) (snprintf(urls[n], sizeof urls[n], __VA_ARGS__), mentions[n++] = (says))
    CASE("there is no host", "redis://");
    CASE("must start with \"redis://\"", "redis//:" PASSWORD "@127.0.0.1:%d", h.port);
    CASE("must start with \"redis://\"", "http://127.0.0.1:%d", h.port);
    CASE("must start with \"redis://\"", "rediss://:" PASSWORD "@127.0.0.1:%d", h.port);
    CASE("(got \"0\")", "redis://127.0.0.1:0");
    CASE("(got \"70000\")", "redis://:" PASSWORD "@127.0.0.1:70000");
    CASE("(got \"abc\")", "redis://127.0.0.1:abc");
    CASE("AUTH failed", "redis://:wrong-" SECRET "@127.0.0.1:%d", h.port);
    CASE("wants a password", "redis://127.0.0.1:%d", h.port);
    CASE("out of range", "redis://:" PASSWORD "@127.0.0.1:%d/100000", h.port);
#undef CASE
    for (int i = 0; i < n; i++) {
        struct program_run r;
        run(urls[i], REPORT_URL, &r);
        char outcome[128];
        ck_assert_msg(r.exit_code == 2, "expected exit 2 with REDIS_URL=%s, with-redis %s; "
                      "stderr: %s", urls[i], program_run_outcome(&r, outcome, sizeof outcome),
                      r.err);
        ck_assert_msg(strcmp(r.out, "") == 0, "expected the command not to run with "
                      "REDIS_URL=%s, it printed: %s", urls[i], r.out);
        ck_assert_msg(strstr(r.err, mentions[i]) != NULL && strstr(r.err, "fix REDIS_URL"),
                      "expected with-redis to say \"%s\" and how to go on, with REDIS_URL=%s; "
                      "it said: %s", mentions[i], urls[i], r.err);
        ck_assert_msg(strstr(r.err, "throwaway redis-server at") == NULL,
                      "with REDIS_URL=%s with-redis started a throwaway server: %s", urls[i],
                      r.err);
        assert_password_hidden(&r, urls[i]);
        program_run_free(&r);
    }
    redis_harness_stop(&h);
}
END_TEST

START_TEST(reuse_starts_a_throwaway_server_only_when_nothing_is_there)
{
    char closed[64], url[256];
    redis_harness_closed_port_url(closed, sizeof closed);
    snprintf(url, sizeof url, "redis://:" PASSWORD "@%s", closed + strlen("redis://"));
    struct program_run r;
    run(url, REPORT_URL, &r);
    char expected[256], outcome[128];
    snprintf(expected, sizeof expected,
             "nothing answered at redis://:***@%s (connection refused); started a throwaway "
             "redis-server at redis://127.0.0.1:", closed + strlen("redis://"));
    ck_assert_msg(r.exit_code == 0 && strcmp(r.out, "other-url\n") == 0 &&
                      strstr(r.err, expected) != NULL,
                  "expected a throwaway server when nothing listens (\"%s\"); with-redis %s, "
                  "stdout %s stderr %s", expected,
                  program_run_outcome(&r, outcome, sizeof outcome), r.out, r.err);
    assert_password_hidden(&r, url);
    program_run_free(&r);

    /* A server that accepts connections but answers nothing in time. */
    struct redis_harness h;
    start_server(&h);
    ck_assert_int_eq(redis_harness_freeze(&h), 0);
    run(h.url, REPORT_URL, &r);
    ck_assert_int_eq(redis_harness_thaw(&h), 0);
    redis_harness_stop(&h);
    ck_assert_msg(r.exit_code == 0 && strcmp(r.out, "other-url\n") == 0 &&
                      strstr(r.err, "(no answer within 1000 ms); started a throwaway") != NULL,
                  "expected a throwaway server when the server does not answer; with-redis "
                  "%s, stdout %s stderr %s", program_run_outcome(&r, outcome, sizeof outcome),
                  r.out, r.err);
    program_run_free(&r);
}
END_TEST

/* ---- --check: what make doctor asks ------------------------------------------ */

START_TEST(check_says_what_reuse_would_do_and_runs_nothing)
{
    struct redis_harness h;
    start_server_with_password(&h);
    char good[256], wrong[256], closed[64], none[256];
    snprintf(good, sizeof good, "redis://:%s@127.0.0.1:%d", PASSWORD_ESCAPED, h.port);
    snprintf(wrong, sizeof wrong, "redis://:wrong-" SECRET "@127.0.0.1:%d", h.port);
    redis_harness_closed_port_url(closed, sizeof closed);
    snprintf(none, sizeof none, "redis://:" PASSWORD "@%s", closed + strlen("redis://"));
    const struct {
        const char *url;
        int exit_code;
        const char *says;
    } cases[] = {
        { good, 0, "a Redis server answers at redis://:***@127.0.0.1:" },
        { none, 1, "nothing answers at redis://:***@127.0.0.1:" },
        { wrong, 2, "AUTH failed" },
        { "redis://127.0.0.1:70000", 2, "(got \"70000\")" },
    };
    const char *const args[] = { "--check", NULL };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct program_run r;
        run(cases[i].url, args, &r);
        char outcome[128];
        ck_assert_msg(r.exit_code == cases[i].exit_code && strstr(r.out, cases[i].says) != NULL,
                      "expected exit %d and \"%s\" from --check with REDIS_URL=%s; with-redis "
                      "%s, stdout: %s", cases[i].exit_code, cases[i].says, cases[i].url,
                      program_run_outcome(&r, outcome, sizeof outcome), r.out);
        ck_assert_msg(strstr(r.err, "throwaway redis-server at") == NULL,
                      "--check started a server: %s", r.err);
        assert_password_hidden(&r, cases[i].url);
        program_run_free(&r);
    }
    /* --check runs no command. */
    const char *const with_command[] = { "--check", "--", "/bin/echo", "ran", NULL };
    struct program_run r;
    run(good, with_command, &r);
    ck_assert_msg(r.exit_code == 2 && strcmp(r.out, "") == 0,
                  "expected --check with a command to be refused, got exit %d, stdout %s",
                  r.exit_code, r.out);
    program_run_free(&r);
    redis_harness_stop(&h);
}
END_TEST

/* ---- Nothing outlives with-redis ---------------------------------------------------- */

#ifdef __linux__
/* Reads a number from the file at `path` once something has written it;
 * 0 if nothing did within 10 s. */
static long wait_for_number_in(const char *path)
{
    int64_t deadline = test_now_ms() + 10000;
    while (test_now_ms() < deadline) {
        FILE *f = fopen(path, "r");
        long n = 0;
        if (f != NULL) {
            if (fscanf(f, "%ld", &n) != 1)
                n = 0;
            fclose(f);
        }
        if (n > 0)
            return n;
        test_sleep_ms(10);
    }
    return 0;
}

START_TEST(the_command_dies_when_with_redis_is_killed)
{
    char dir[] = "/tmp/channels-with-redis-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char pid_file[128], log_file[128];
    snprintf(pid_file, sizeof pid_file, "%s/command.pid", dir);
    snprintf(log_file, sizeof log_file, "%s/stderr", dir);
    char script[512];
    /* exec keeps the shell's pid: the pid written is the command's. */
    snprintf(script, sizeof script, "echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 600",
             pid_file, pid_file, pid_file);

    pid_t wrapper = fork();
    ck_assert_int_ge(wrapper, 0);
    if (wrapper == 0) {
        int log = open(log_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (log >= 0)
            dup2(log, STDERR_FILENO);
        execl(with_redis(), with_redis(), "--", "/bin/sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    long command = wait_for_number_in(pid_file);
    kill(wrapper, SIGKILL);
    waitpid(wrapper, NULL, 0);

    bool gone = command > 0 && test_wait_until_gone((pid_t)command, 5000);
    if (command > 0 && !gone)
        kill((pid_t)command, SIGKILL); /* never leave it running */
    /* The server went too: nothing answers at its URL any more. */
    char line[512] = "", url[64] = "";
    FILE *log = fopen(log_file, "r");
    if (log != NULL) {
        if (fgets(line, sizeof line, log) == NULL)
            line[0] = '\0';
        fclose(log);
    }
    const char *at = strstr(line, "redis://");
    if (at != NULL)
        sscanf(at, "%63[^ ]", url);
    enum redis_connect_error why = REDIS_CONNECT_OK;
    int64_t deadline = test_now_ms() + 5000;
    while (url[0] != '\0' && test_now_ms() < deadline) {
        struct redis_client *c = redis_client_connect_why(url, NULL, &why, NULL, 0);
        redis_client_free(c);
        if (why == REDIS_CONNECT_NOTHING_LISTENS)
            break;
        test_sleep_ms(10);
    }
    unlink(pid_file);
    unlink(log_file);
    rmdir(dir);

    ck_assert_msg(command > 0, "the command never started (with-redis said: %s)", line);
    ck_assert_msg(gone, "the command (pid %ld) still ran 5 s after with-redis was killed",
                  command);
    ck_assert_msg(url[0] != '\0', "with-redis did not say where its server was: %s", line);
    ck_assert_msg(why == REDIS_CONNECT_NOTHING_LISTENS,
                  "the server at %s still answered after with-redis was killed", url);
}
END_TEST
#endif

Suite *with_redis_suite(void);
Suite *with_redis_suite(void)
{
    Suite *s = suite_create("with_redis");

    TCase *reuse = tcase_create("reuse");
    tcase_set_timeout(reuse, 120);
    tcase_add_test(reuse, reuse_runs_on_a_server_that_answers_and_never_shows_its_password);
    tcase_add_test(reuse, reuse_stops_with_2_on_a_mistake_in_redis_url);
    tcase_add_test(reuse, reuse_starts_a_throwaway_server_only_when_nothing_is_there);
    tcase_add_test(reuse, check_says_what_reuse_would_do_and_runs_nothing);
    suite_add_tcase(s, reuse);

#ifdef __linux__
    TCase *lifetime = tcase_create("lifetime");
    tcase_set_timeout(lifetime, 60);
    tcase_add_test(lifetime, the_command_dies_when_with_redis_is_killed);
    suite_add_tcase(s, lifetime);
#endif
    return s;
}
