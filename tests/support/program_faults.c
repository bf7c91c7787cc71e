/*
 * program_faults.c - see program_faults.h.
 */
#include "program_faults.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_client.h"
#include "redis_harness.h"
#include "test_support.h"

const char *program_fault_name(enum program_fault fault)
{
    switch (fault) {
    case FAULT_KILL_SERVER:
        return "the server is killed";
    case FAULT_KILL_CONNECTIONS:
        return "its connections are killed (CLIENT KILL)";
    case FAULT_RESTART_SERVER:
        return "the server is restarted";
    }
    return "?";
}

/* How many times the server has run `command`, from INFO commandstats
 * ("cmdstat_set:calls=123,..."); -1 if it cannot tell. */
static long calls_of(struct redis_client *admin, const char *command)
{
    const char *argv[] = { "INFO", "commandstats" };
    const size_t len[] = { 4, 12 };
    struct redis_result r = redis_client_command(admin, 2, argv, len);
    long calls = -1;
    if (r.kind == REDIS_RESULT_VALUE) {
        char field[64];
        snprintf(field, sizeof field, "cmdstat_%s:calls=", command);
        const char *at = strstr(r.data, field);
        calls = at != NULL ? strtol(at + strlen(field), NULL, 10) : 0;
    }
    redis_result_free(&r);
    return calls;
}

/* CLIENT KILL TYPE normal SKIPME yes: every connection but the admin's. */
static bool kill_connections(struct redis_client *admin, char *why, size_t whylen)
{
    const char *argv[] = { "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes" };
    const size_t len[] = { 6, 4, 4, 6, 6, 3 };
    struct redis_result r = redis_client_command(admin, 6, argv, len);
    bool killed = r.kind == REDIS_RESULT_INTEGER && r.integer > 0;
    if (!killed)
        snprintf(why, whylen, "CLIENT KILL killed no connection (%s)",
                 redis_result_kind_name(r.kind));
    redis_result_free(&r);
    return killed;
}

/* A private server for one program run, and the test's own connection to
 * it (not the program's: CLIENT KILL ... SKIPME yes spares it). */
static struct redis_client *start_private_server(struct redis_harness *h)
{
    char err[512];
    ck_assert_msg(redis_harness_start(h, err, sizeof err) == 0,
                  "the test could not start a private Redis: %s", err);
    struct redis_client *admin = redis_client_connect(h->url, NULL, err, sizeof err);
    ck_assert_msg(admin != NULL, "the test could not connect to its Redis: %s", err);
    return admin;
}

void program_run_with_fault(const char *const *argv, enum program_fault fault,
                            const char *command, long after_calls, unsigned timeout_ms,
                            struct fault_run *out)
{
    memset(out, 0, sizeof *out);
    struct redis_harness h;
    char err[512];
    struct redis_client *admin = start_private_server(&h);

    char env_url[128];
    snprintf(env_url, sizeof env_url, "REDIS_URL=%s", h.url);
    const char *env[] = { env_url, NULL };
    struct program_child child;
    ck_assert_msg(program_start(argv, env, &child) == 0, "cannot run %s", argv[0]);

    /* Wait until the program is busy: the server has run enough of its
     * commands.  Its output is read meanwhile. */
    long calls = 0;
    bool running = true;
    while (running && (calls = calls_of(admin, command)) >= 0 && calls < after_calls &&
           test_now_ms() - child.started_ms < (long)timeout_ms)
        running = program_pump(&child, 5);
    if (!running)
        snprintf(out->why_not, sizeof out->why_not, "the program ended after %ld %s commands, "
                 "before the fault", calls, command);
    else if (calls < after_calls)
        snprintf(out->why_not, sizeof out->why_not, "the server ran only %ld %s commands "
                 "(of %ld) before the time ran out", calls, command, after_calls);

    if (out->why_not[0] == '\0') {
        out->calls_at_fault = calls;
        switch (fault) {
        case FAULT_KILL_SERVER:
            redis_harness_kill(&h);
            out->faulted = true;
            break;
        case FAULT_KILL_CONNECTIONS:
            out->faulted = kill_connections(admin, out->why_not, sizeof out->why_not);
            break;
        case FAULT_RESTART_SERVER:
            out->faulted = redis_harness_restart(&h, err, sizeof err) == 0;
            if (!out->faulted)
                snprintf(out->why_not, sizeof out->why_not, "restart failed: %s", err);
            break;
        }
    }
    int64_t fault_at = test_now_ms();
    program_finish(&child, timeout_ms, &out->run);
    out->ms_after_fault = (long)(test_now_ms() - fault_at);
    redis_client_free(admin);
    redis_harness_stop(&h);
}

void fault_run_free(struct fault_run *fr)
{
    program_run_free(&fr->run);
}

bool program_run_has_sanitizer_report(const struct program_run *run)
{
    return strstr(run->err, "Sanitizer") != NULL || strstr(run->err, "runtime error:") != NULL;
}

/* At most the first (or the last) CLIP_CHARS of a long text, so that a
 * failure message stays within what Check can carry: a program that logs
 * every reconnect attempt writes a lot to stderr. */
#define CLIP_CHARS 2500
static const char *clipped(const char *text, bool keep_start, char *buf, size_t size)
{
    size_t len = strlen(text);
    if (len <= CLIP_CHARS)
        return text;
    if (keep_start)
        snprintf(buf, size, "%.*s\n[... %zu more bytes]", CLIP_CHARS, text, len - CLIP_CHARS);
    else
        snprintf(buf, size, "[... %zu bytes before]\n%s", len - CLIP_CHARS,
                 text + len - CLIP_CHARS);
    return buf;
}

void expect_exit_1_after_fault(const struct fault_run *fr, enum program_fault fault,
                               const char *args, const char *must_say, const char *section)
{
    char outcome[128], clip[CLIP_CHARS + 64];
    ck_assert_msg(fr->faulted, "expected `%s` to be busy with Redis long enough to break the "
                  "server in the middle of its run, but %s (does it run at all?)"
                  CHAPTER_HINT("%s"),
                  args, fr->why_not, section, chapter_doc());
    ck_assert_msg(!program_run_has_sanitizer_report(&fr->run),
                  "`%s`, when %s, made a sanitizer report (it %s):\n%s"
                  CHAPTER_HINT("%s"),
                  args, program_fault_name(fault),
                  program_run_outcome(&fr->run, outcome, sizeof outcome),
                  clipped(fr->run.err, true, clip, sizeof clip), section, chapter_doc());
    ck_assert_msg(fr->run.exit_code == 1 && strstr(fr->run.err, must_say) != NULL,
                  "expected `%s` to exit with 1 (errors during the run) and say \"%s\" on "
                  "stderr when %s after %ld SETs; it %s, %ld ms after the fault, and its stderr "
                  "said:\n%s"
                  CHAPTER_HINT("%s"),
                  args, must_say, program_fault_name(fault), fr->calls_at_fault,
                  program_run_outcome(&fr->run, outcome, sizeof outcome), fr->ms_after_fault,
                  clipped(fr->run.err, false, clip, sizeof clip), section, chapter_doc());
}

int count_of(const char *haystack, const char *text)
{
    int n = 0;
    for (const char *at = strstr(haystack, text); at != NULL; at = strstr(at + 1, text))
        n++;
    return n;
}

const char *tail_of(const char *text, size_t n)
{
    size_t len = strlen(text);
    return len > n ? text + len - n : text;
}

void expect_exit_2_without_password(const char *const *argv, const char *args)
{
    struct redis_harness h;
    struct redis_client *admin = start_private_server(&h);
    const char *set[] = { "CONFIG", "SET", "requirepass", "s3cr3t" };
    const size_t set_len[] = { 6, 3, 11, 6 };
    struct redis_result r = redis_client_command(admin, 4, set, set_len);
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "CONFIG SET requirepass: %s",
                  redis_result_kind_name(r.kind));
    redis_result_free(&r);
    redis_client_free(admin);

    char env_url[128], outcome[128];
    snprintf(env_url, sizeof env_url, "REDIS_URL=%s", h.url);
    const char *env[] = { env_url, NULL };
    struct program_run run;
    ck_assert_msg(program_run(argv, env, 60000, &run) == 0, "cannot run %s", argv[0]);
    redis_harness_stop(&h);
    ck_assert_msg(run.exit_code == 2 && strstr(run.err, "redis://:PASSWORD@") != NULL,
                  "expected `%s` against a server that wants a password, with none in "
                  "REDIS_URL, to exit with 2 (it could not start) and say where the password "
                  "goes; it %s, and its stderr said:\n%s",
                  args, program_run_outcome(&run, outcome, sizeof outcome),
                  tail_of(run.err, 2000));
    program_run_free(&run);
}

void expect_exit_2_on_unusable_urls(const char *const *argv, const char *section)
{
    char closed[64], closed_env[96];
    redis_harness_closed_port_url(closed, sizeof closed);
    snprintf(closed_env, sizeof closed_env, "REDIS_URL=%s", closed);
    const struct {
        const char *env;
        const char *says;
    } cases[] = {
        { "REDIS_URL=http://127.0.0.1:6379", "bad Redis URL" },
        { closed_env, "cannot connect" },
        /* The password is hidden in the message that names the server. */
        { "REDIS_URL=redis://:not-the-password@127.0.0.1:1", "redis://:***@127.0.0.1:1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = { cases[i].env, NULL };
        struct program_run run;
        char outcome[128];
        ck_assert_msg(program_run(argv, env, 60000, &run) == 0, "cannot run %s",
                      argv[0]);
        ck_assert_msg(run.exit_code == 2 && strstr(run.err, cases[i].says) != NULL &&
                          strstr(run.err, "not-the-password") == NULL,
                      "expected exit 2 and \"%s\" on stderr (and never the password) with "
                      "%s; the program %s, stderr:\n%s" CHAPTER_HINT("%s"),
                      cases[i].says, cases[i].env,
                      program_run_outcome(&run, outcome, sizeof outcome),
                      tail_of(run.err, 2000), section, chapter_doc());
        program_run_free(&run);
    }
}

void add_program_fault_tests(Suite *suite, const TTest *server_killed,
                             const TTest *connections_killed, const TTest *server_restarted,
                             const TTest *password_missing)
{
    TCase *tc = tcase_create("program faults");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, server_killed);
    tcase_add_test(tc, connections_killed);
    tcase_add_test(tc, server_restarted);
    tcase_add_test(tc, password_missing);
    suite_add_tcase(suite, tc);
}
