/*
 * guide.c - runs a chapter's tests and, when one crashes, says in words what
 * happened, where in the learner's code, and which section to reread.
 *
 *   guide --chapter NN-name --doc docs/NN-name.md --sections FILE [--stop-at TEXT] -- COMMAND...
 *
 * `make test-NN` runs the chapter's test binary through this tool (and
 * `make test-pitfalls` runs every planted mistake the same way).  Everything
 * COMMAND writes, on stdout or stderr, is passed through as it comes; this
 * tool only adds a few lines at the end, and only when the run failed with
 * a crash: a test that Check reports as "Received signal N" or "Early exit
 * with return value N", or a sanitizer report anywhere in the output (the
 * test's own, or its program's, quoted in a failure message).
 *
 * What it adds, read from the first report in the output:
 *   - what happened, in words: crashed, freed twice, used after free,
 *     leaked N bytes in M blocks, undefined behaviour, a data race;
 *   - the first frame of the report in the chapter's own folder (any path
 *     with an "NN-name/" component: chapters/, solutions/ or a planted
 *     copy), as function and file:line;
 *   - the section that teaches the function to blame, from sections.txt
 *     ("NN | function | Section title"), in the words the tests' own hints
 *     use: `hint: reread "Section title" in docs/NN-name.md`.
 * The function to blame is the first frame of the report (innermost first)
 * that sections.txt lists for this chapter.  A leak is reported where the
 * memory was allocated, which is often not a function the learner wrote;
 * then the functions of the stack are read in the learner's source, and the
 * ones they call that sections.txt lists (where the memory went next) are
 * named instead.  The hints of other failures in the same run are never
 * repeated: they may only be consequences of the crash.
 *
 * The exit status is COMMAND's.  Signals (Ctrl-C, SIGTERM, SIGHUP) are passed
 * on to COMMAND, which stops what it started; this tool waits for it.
 *
 * --stop-at TEXT (for `make test-pitfalls`): once the output holds TEXT -
 * the hint `reread "Section"` a planted mistake must be caught with, which
 * only a failed test prints - COMMAND is stopped with SIGTERM and the exit
 * status is 1, as the whole run's would have been.  The tests still to run
 * could not change that verdict, and some wait out long bounds.  The same
 * at the first test that crashes (Check's "Early exit" or "Received
 * signal"): what happened is then said from the output so far.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIE_PREFIX "guide: "
#include "die.h"

/* ---- Small helpers ---------------------------------------------------------- */


static void *grow(void *p, size_t size)
{
    p = realloc(p, size);
    if (p == NULL)
        die("out of memory");
    return p;
}

/* A growable array of strings. */
struct strings {
    char **at;
    size_t count;
};

static void strings_add(struct strings *s, const char *text, size_t len)
{
    s->at = grow(s->at, (s->count + 1) * sizeof *s->at);
    char *copy = grow(NULL, len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    s->at[s->count++] = copy;
}

static bool strings_has(const struct strings *s, const char *text)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->at[i], text) == 0)
            return true;
    return false;
}

static void strings_free(struct strings *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->at[i]);
    free(s->at);
    s->at = NULL;
    s->count = 0;
}

/* Text with surrounding blanks removed, copied into out. */
static void trimmed(const char *text, size_t len, char *out, size_t out_len)
{
    while (len > 0 && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    snprintf(out, out_len, "%.*s", (int)len, text);
}

/* ---- sections.txt: which section teaches which function ---------------------- */

struct section_map {
    struct strings functions; /* of this chapter */
    struct strings sections;  /* same index */
};

/* Reads the rows "NN | function | Section title" of `path` for chapter NN. */
static void read_sections(const char *path, const char *number, struct section_map *map)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return; /* no map: the guidance names no section */
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        const char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        const char *bar1 = strchr(p, '|');
        const char *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
        if (bar2 == NULL)
            continue;
        char nn[16], fn[256], section[512];
        trimmed(p, (size_t)(bar1 - p), nn, sizeof nn);
        trimmed(bar1 + 1, (size_t)(bar2 - bar1 - 1), fn, sizeof fn);
        trimmed(bar2 + 1, strlen(bar2 + 1), section, sizeof section);
        if (strcmp(nn, number) != 0 || fn[0] == '\0' || section[0] == '\0')
            continue;
        strings_add(&map->functions, fn, strlen(fn));
        strings_add(&map->sections, section, strlen(section));
    }
    free(line);
    fclose(f);
}

static const char *section_of(const struct section_map *map, const char *function)
{
    for (size_t i = 0; i < map->functions.count; i++)
        if (strcmp(map->functions.at[i], function) == 0)
            return map->sections.at[i];
    return NULL;
}

/* ---- Running the command, passing its output through ---------------------- */

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t got_signal;
/* The output held the --stop-at text, or a test's crash, and the run was
 * ended there. */
static bool stopped_early, stopped_at_crash;

static void pass_signal_on(int sig)
{
    got_signal = sig;
    if (child_pid > 0)
        kill(-(pid_t)child_pid, sig); /* its whole group (see run_and_capture) */
}

/* Runs argv with stdout and stderr on one pipe, copies everything it writes
 * to our stdout, and keeps it in *out (NUL-terminated).  Returns the exit
 * status the way a shell reports it (128+N for death by signal N). */
static int run_and_capture(char **argv, const char *stop_at, char **out, size_t *out_len)
{
    int fds[2];
    if (pipe(fds) != 0)
        die("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* A process group of its own: Check's runner, stopped by a signal,
         * passes it on to its whole group (killpg(getpgrp())), and that must
         * not reach whoever ran us - make, and the other tests make runs
         * beside this one (make -j).  We pass signals on ourselves. */
        setpgid(0, 0);
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "guide: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* as the child does: whichever runs first */
    child_pid = pid;
    if (got_signal != 0) /* arrived before child_pid was set */
        kill(-pid, got_signal);
    close(fds[1]);

    /* Keep at most this much for reading: the first report is what matters,
     * and it comes early. */
    const size_t keep_max = 32u << 20;
    size_t len = 0, cap = 1 << 16;
    char *buf = grow(NULL, cap);
    char chunk[1 << 14];
    for (;;) {
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(STDOUT_FILENO, chunk + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break; /* our reader went away: keep draining for the child */
            done += w;
        }
        if (len + (size_t)n + 1 > keep_max)
            continue;
        while (len + (size_t)n + 1 > cap)
            cap *= 2;
        buf = grow(buf, cap);
        memcpy(buf + len, chunk, (size_t)n);
        len += (size_t)n;
        if (stop_at != NULL && !stopped_early && !stopped_at_crash) {
            buf[len] = '\0';
            /* Search the new bytes, and enough before them for a match that
             * straddles two reads. */
            size_t from = len - (size_t)n, back = strlen(stop_at);
            from = from > back ? from - back : 0;
            if (strstr(buf + from, stop_at) != NULL) {
                stopped_early = true;
                kill(-pid, SIGTERM);
            } else if (strstr(buf + from, "Early exit with return value") != NULL ||
                       strstr(buf + from, "Received signal") != NULL) {
                /* A test crashed: what to say about it is already here. */
                stopped_at_crash = true;
                kill(-pid, SIGTERM);
            }
        }
    }
    close(fds[0]);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;

    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    }
    child_pid = 0;
    if (stopped_early || stopped_at_crash)
        return 1; /* what the whole run would have ended with: a test failed */
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

/* ---- Reading the output ------------------------------------------------------ */

struct frame {
    char function[256];
    char file[1024];
    long line;
};

struct report {
    bool found;
    const char *what;       /* in words */
    char detail[512];       /* the sanitizer's own words, or "" */
    bool leak;
    unsigned long leaked_bytes, leaked_blocks;
    struct frame frames[64];
    size_t nframes;
    char ub_location[1100]; /* UBSan: "file:line" of the runtime error */
};

/* The lines of `text`, split in place. */
static struct strings split_lines(const char *text, size_t len)
{
    struct strings l = { NULL, 0 };
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        strings_add(&l, p, n);
        p += n + 1;
    }
    return l;
}

/* "    #3 0x55a7bf6b2522 in produce chapters/05-backpressure/producer.c:203:9"
 * -> function, file, line.  False for frames without a source place. */
static bool parse_frame(const char *line, struct frame *f)
{
    const char *p = line + strspn(line, " \t");
    if (*p != '#' || !isdigit((unsigned char)p[1]))
        return false;
    const char *in = strstr(p, " in ");
    if (in == NULL)
        return false;
    in += 4;
    size_t fn_len = strcspn(in, " ");
    if (in[fn_len] != ' ')
        return false;
    const char *loc = in + fn_len + 1;
    size_t loc_len = strcspn(loc, " \t");
    /* file:line or file:line:col; a "(binary+0x...)" has no place. */
    char place[1024];
    snprintf(place, sizeof place, "%.*s", (int)loc_len, loc);
    if (place[0] == '(')
        return false;
    char *colon = strchr(place, ':');
    if (colon == NULL || !isdigit((unsigned char)colon[1]))
        return false;
    *colon = '\0';
    snprintf(f->function, sizeof f->function, "%.*s", (int)fn_len, in);
    memcpy(f->file, place, sizeof f->file);
    f->line = strtol(colon + 1, NULL, 10);
    return true;
}

/* The stack that starts at line `from` (its "#0" frame, or the first frame
 * after it): consecutive frame lines. */
static void read_stack(const struct strings *l, size_t from, struct report *r)
{
    size_t i = from;
    while (i < l->count && i < from + 40) {
        const char *t = l->at[i] + strspn(l->at[i], " \t");
        if (t[0] == '#' && isdigit((unsigned char)t[1]))
            break;
        i++;
    }
    for (; i < l->count && r->nframes < sizeof r->frames / sizeof r->frames[0]; i++) {
        const char *t = l->at[i] + strspn(l->at[i], " \t");
        if (!(t[0] == '#' && isdigit((unsigned char)t[1])))
            break;
        struct frame f;
        if (parse_frame(l->at[i], &f))
            r->frames[r->nframes++] = f;
    }
}

/* What an AddressSanitizer error is, in words. */
static const char *asan_words(const char *kind, const char *line)
{
    static const struct {
        const char *kind, *words;
    } known[] = {
        { "heap-use-after-free", "used memory after it was freed (use after free)" },
        { "attempting double-free", "freed the same memory twice (double free)" },
        { "heap-buffer-overflow", "read or wrote past the end of a block from malloc" },
        { "stack-buffer-overflow", "read or wrote past the end of a local array" },
        { "global-buffer-overflow", "read or wrote past the end of a global array" },
        { "stack-use-after-return", "used a local variable of a function that had returned" },
        { "stack-use-after-scope", "used a local variable after its block ended" },
        { "attempting free on address which was not malloc()-ed",
          "freed memory that malloc never gave out" },
        { "alloc-dealloc-mismatch", "freed memory with the wrong function" },
        { "SEGV", "crashed: used a pointer to memory that is not there (segmentation fault)" },
        { "BUS", "crashed: a bad memory access (bus error)" },
        { "ABRT", "crashed: the program aborted" },
        { "FPE", "crashed: an arithmetic error, such as a division by zero" },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strncmp(kind, known[i].kind, strlen(known[i].kind)) == 0) {
            if (strcmp(known[i].kind, "SEGV") == 0 && strstr(line, "address 0x000000000000"))
                return "crashed: used a NULL pointer (segmentation fault)";
            return known[i].words;
        }
    return "found a memory error";
}

/* Finds the first sanitizer report in the output, and counts them all. */
static int first_report(const struct strings *l, struct report *r)
{
    int reports = 0;
    for (size_t i = 0; i < l->count; i++) {
        const char *t = l->at[i];
        const char *m;
        bool starts = false;
        struct report here = { 0 };
        if ((m = strstr(t, "ERROR: LeakSanitizer: detected memory leaks")) != NULL) {
            starts = true;
            here.leak = true;
            here.what = "leaked memory: it was never freed";
            /* The first direct leak's stack (else the first leak's), and
             * the totals from the SUMMARY line. */
            size_t stack_at = 0;
            for (size_t k = i + 1; k < l->count; k++) {
                if (stack_at == 0 && strstr(l->at[k], "Direct leak of") != NULL)
                    stack_at = k;
                if (strstr(l->at[k], "SUMMARY: AddressSanitizer:") != NULL ||
                    strstr(l->at[k], "SUMMARY: LeakSanitizer:") != NULL) {
                    sscanf(strstr(l->at[k], "Sanitizer:") + 10, " %lu byte(s) leaked in %lu",
                           &here.leaked_bytes, &here.leaked_blocks);
                    break;
                }
            }
            if (stack_at == 0)
                for (size_t k = i + 1; k < l->count && stack_at == 0; k++)
                    if (strstr(l->at[k], "leak of") != NULL)
                        stack_at = k;
            if (stack_at != 0)
                read_stack(l, stack_at + 1, &here);
        } else if ((m = strstr(t, "ERROR: AddressSanitizer: ")) != NULL) {
            starts = true;
            m += strlen("ERROR: AddressSanitizer: ");
            here.what = asan_words(m, t);
            /* "heap-use-after-free on address 0x... at pc 0x... bp ...":
             * the registers say nothing to a learner. */
            const char *pc = strstr(m, " at pc ");
            snprintf(here.detail, sizeof here.detail, "%.*s",
                     (int)(pc != NULL ? (size_t)(pc - m) : strlen(m)), m);
            read_stack(l, i + 1, &here);
        } else if ((m = strstr(t, ": runtime error: ")) != NULL) {
            starts = true;
            here.what = "ran into undefined behaviour";
            snprintf(here.detail, sizeof here.detail, "%s", m + strlen(": runtime error: "));
            snprintf(here.ub_location, sizeof here.ub_location, "%.*s", (int)(m - t), t);
            read_stack(l, i + 1, &here);
        } else if ((m = strstr(t, "WARNING: ThreadSanitizer: ")) != NULL) {
            starts = true;
            m += strlen("WARNING: ThreadSanitizer: ");
            here.what = strncmp(m, "data race", 9) == 0
                            ? "has a data race: two threads used the same memory at once, "
                              "at least one writing, with no lock between them"
                            : "made a threading error that ThreadSanitizer caught";
            snprintf(here.detail, sizeof here.detail, "%s", m);
            read_stack(l, i + 1, &here);
        }
        if (!starts)
            continue;
        reports++;
        if (!r->found) {
            *r = here;
            r->found = true;
        }
    }
    return reports;
}

/* glibc's own last words before an abort, e.g. "free(): double free
 * detected in tcache 2"; NULL if there are none. */
static const char *glibc_complaint(const struct strings *l)
{
    static const char *const known[] = { "double free", "corrupted", "free(): invalid",
                                         "malloc(): ", "realloc(): invalid" };
    for (size_t i = 0; i < l->count; i++)
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strstr(l->at[i], known[k]) != NULL && strstr(l->at[i], ":E:") == NULL &&
                strstr(l->at[i], ":F:") == NULL && strlen(l->at[i]) < 200)
                return l->at[i];
    return NULL;
}

/* Check's lines for tests that died: "file:line:E:tcase:test:0: (after
 * this point) Received signal 6 (Aborted)" or "... Early exit with return
 * value 23".  Collects the tests' names and the first cause. */
static void crashed_tests(const struct strings *l, struct strings *names, char *cause,
                          size_t cause_len, int *exit_value, int *signal_number)
{
    for (size_t i = 0; i < l->count; i++) {
        const char *t = l->at[i];
        const char *e = strstr(t, ":E:");
        if (e == NULL)
            continue;
        const char *sig = strstr(e, "Received signal ");
        const char *early = strstr(e, "Early exit with return value ");
        if (sig == NULL && early == NULL)
            continue;
        /* E:tcase:test:0: */
        const char *tcase_end = strchr(e + 3, ':');
        const char *test = tcase_end ? tcase_end + 1 : NULL;
        const char *test_end = test ? strchr(test, ':') : NULL;
        if (test_end != NULL) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(test_end - test), test);
            if (!strings_has(names, name))
                strings_add(names, name, strlen(name));
        }
        if (cause[0] == '\0') {
            if (sig != NULL) {
                snprintf(cause, cause_len, "%s", sig);
                *signal_number = atoi(sig + strlen("Received signal "));
            } else {
                snprintf(cause, cause_len, "%s", early);
                *exit_value = atoi(early + strlen("Early exit with return value "));
            }
        }
    }
}

/* ---- Reading the learner's source: whom a function hands things to --------- */

/*
 * The functions of `map` that FUNCTION's body (in FILE) calls, in the order
 * of their first call.  The body is found as the first line that names the
 * function at its start or after its return type and does not end with ';',
 * then its braces.  Good enough for the chapters' plain C.
 */
static void listed_callees(const char *file, const char *function, const struct section_map *map,
                           struct strings *out)
{
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return;
    char *line = NULL;
    size_t cap = 0;
    int depth = 0;
    bool in_body = false, found = false;
    size_t fn_len = strlen(function);
    while (getline(&line, &cap, f) >= 0) {
        if (!found) {
            if (line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '/')
                continue;
            const char *p = strstr(line, function);
            while (p != NULL && ((p > line && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) ||
                                 p[fn_len] != '('))
                p = strstr(p + 1, function);
            if (p == NULL || strchr(line, ';') != NULL)
                continue;
            found = true;
        }
        for (const char *p = line; *p; p++) {
            if (p[0] == '/' && p[1] == '/')
                break;
            if (*p == '{') {
                depth++;
                in_body = true;
            } else if (*p == '}') {
                depth--;
            } else if (in_body && (isalpha((unsigned char)*p) || *p == '_') &&
                       (p == line || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
                size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789_");
                const char *after = p + n + strspn(p + n, " ");
                char ident[256];
                snprintf(ident, sizeof ident, "%.*s", (int)n, p);
                if (*after == '(' && strcmp(ident, function) != 0 && section_of(map, ident) &&
                    !strings_has(out, ident))
                    strings_add(out, ident, strlen(ident));
                p += n - 1;
            }
        }
        if (in_body && depth <= 0)
            break;
    }
    free(line);
    fclose(f);
}

/* ---- The guidance ---------------------------------------------------------------- */

struct options {
    const char *chapter;  /* "04-responses" */
    char number[8];       /* "04" */
    const char *doc;      /* "docs/04-responses.md" */
    const char *sections; /* "tests/chapters/sections.txt" */
    const char *stop_at;  /* --stop-at: end the run once the output holds it */
};

/* Is FILE in the chapter's own folder (a path component "NN-name/")? */
static bool in_chapter(const char *file, const char *chapter)
{
    size_t n = strlen(chapter);
    for (const char *p = strstr(file, chapter); p; p = strstr(p + 1, chapter))
        if ((p == file || p[-1] == '/') && p[n] == '/')
            return true;
    return false;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void print_hint(const struct options *o, const char *section)
{
    printf("    hint: reread \"%s\" in %s\n", section, o->doc);
}

static void explain(const struct options *o, const char *output, size_t len)
{
    struct strings l = split_lines(output, len);
    struct report r = { 0 };
    int reports = first_report(&l, &r);
    struct strings died = { NULL, 0 };
    char cause[256] = "";
    int exit_value = -1, signal_number = 0;
    crashed_tests(&l, &died, cause, sizeof cause, &exit_value, &signal_number);
    if (!r.found && died.count == 0) {
        strings_free(&l);
        return; /* failures, but no crash: the tests' own messages say it all */
    }

    struct section_map map = { { NULL, 0 }, { NULL, 0 } };
    read_sections(o->sections, o->number, &map);

    printf("\n== what happened ==\n");
    if (r.found && r.leak) {
        printf("Your code leaked memory: %lu byte%s in %lu block%s were never freed",
               r.leaked_bytes, r.leaked_bytes == 1 ? "" : "s", r.leaked_blocks,
               r.leaked_blocks == 1 ? "" : "s");
    } else if (r.found) {
        printf("Your code %s", r.what);
    } else if (signal_number != 0) {
        printf("A test crashed (%s)", cause);
    } else if (exit_value == 23 || exit_value == 66) {
        printf("A test ended early with exit status %d, a sanitizer's: its report should be "
               "above", exit_value);
    } else {
        printf("A test's process ended in the middle of the test (%s): something called exit()",
               cause);
    }
    if (reports > 1)
        printf(" (the first of %d reports in this run)", reports);
    printf(".\n");
    if (r.found && r.detail[0] != '\0' && !r.leak)
        printf("  the sanitizer says: %.200s\n", r.detail);

    /* Where: the first frame in the chapter's folder, and the function to
     * blame: the first one sections.txt lists. */
    const struct frame *place = NULL, *blamed = NULL;
    for (size_t i = 0; i < r.nframes; i++) {
        if (!in_chapter(r.frames[i].file, o->chapter))
            continue;
        if (place == NULL)
            place = &r.frames[i];
        if (blamed == NULL && section_of(&map, r.frames[i].function))
            blamed = &r.frames[i];
    }
    if (r.ub_location[0] != '\0' && place == NULL)
        printf("  where: %s\n", r.ub_location);
    if (place != NULL) {
        printf("  where: %s, %s:%ld", place->function, place->file, place->line);
        for (size_t i = (size_t)(place - r.frames) + 1, shown = 0; i < r.nframes && shown < 3;
             i++) {
            if (!in_chapter(r.frames[i].file, o->chapter))
                continue;
            printf("%s %s (%s:%ld)", shown == 0 ? ", called from" : " <-", r.frames[i].function,
                   base_name(r.frames[i].file), r.frames[i].line);
            shown++;
        }
        printf("\n");
    } else if (r.found) {
        printf("  where: no frame of the report is in your %s/ folder; read the report's "
               "stack above from the top\n", o->chapter);
    }
    if (r.leak)
        printf("  A leak is reported where the memory was allocated, not where it should have "
               "been freed: follow it from there to its last owner, who must free it.\n");
    if (died.count > 0) {
        printf("  tests that ended early with it:");
        for (size_t i = 0; i < died.count && i < 6; i++)
            printf("%s %s", i == 0 ? "" : ",", died.at[i]);
        if (died.count > 6)
            printf(" and %zu more", died.count - 6);
        printf("\n");
    }
    if (!r.found) {
        const char *glibc = glibc_complaint(&l);
        if (glibc != NULL)
            printf("  the C library said \"%s\": memory was damaged, most often by a double "
                   "free or a use after free.\n", glibc);
        printf("  This build has no sanitizer to say where. Run make test-%s without SAN=none "
               "(the default build, with AddressSanitizer): it names the file and line.\n",
               o->number);
    }

    struct strings callees = { NULL, 0 };
    if (blamed != NULL) {
        printf("  Fix this first: other failures in this run may only be its consequences.\n");
        if (blamed != place)
            printf("  %s is yours to write, and the report's stack goes through it.\n",
                   blamed->function);
        print_hint(o, section_of(&map, blamed->function));
    } else if (place != NULL && r.leak) {
        /* Nothing on a leak's stack is listed: read where the memory went next,
         * the listed functions called by the innermost function of the stack
         * that calls any. */
        for (size_t i = 0; i < r.nframes && callees.count == 0; i++)
            if (in_chapter(r.frames[i].file, o->chapter))
                listed_callees(r.frames[i].file, r.frames[i].function, &map, &callees);
        if (callees.count > 0) {
            printf("  Fix this first: other failures in this run may only be its consequences.\n");
            printf("  From there it goes to %s, which you wrote%s:\n", callees.at[0],
                   callees.count > 1 ? " (or one of the others named below)" : "");
            for (size_t i = 0; i < callees.count; i++) {
                if (i > 0)
                    printf("  or %s:\n", callees.at[i]);
                print_hint(o, section_of(&map, callees.at[i]));
            }
        }
    }
    if (blamed == NULL && callees.count == 0 && map.functions.count > 0) {
        /* No clue to a section: name what the chapter has the learner write,
         * without pretending to know which one is at fault. */
        printf("  The functions you write in this chapter:");
        for (size_t i = 0; i < map.functions.count; i++)
            printf("%s %s (section \"%s\")", i == 0 ? "" : ",", map.functions.at[i],
                   map.sections.at[i]);
        printf(" in %s.\n", o->doc);
    }
    strings_free(&callees);
    strings_free(&map.functions);
    strings_free(&map.sections);
    strings_free(&died);
    strings_free(&l);
}

static void usage(void)
{
    fprintf(stderr, "usage: guide --chapter NN-name --doc DOC --sections FILE [--stop-at TEXT] -- COMMAND [ARG...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct options o = { NULL, "", NULL, "tests/chapters/sections.txt", NULL };
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--chapter") == 0)
            o.chapter = argv[++i];
        else if (strcmp(argv[i], "--doc") == 0)
            o.doc = argv[++i];
        else if (strcmp(argv[i], "--sections") == 0)
            o.sections = argv[++i];
        else if (strcmp(argv[i], "--stop-at") == 0)
            o.stop_at = argv[++i];
        else
            usage();
    }
    if (o.chapter == NULL || o.doc == NULL || i >= argc)
        usage();
    snprintf(o.number, sizeof o.number, "%.*s", (int)strcspn(o.chapter, "-"), o.chapter);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pass_signal_on;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char *output;
    size_t len;
    int status = run_and_capture(argv + i, o.stop_at, &output, &len);
    if (stopped_early) {
        printf("guide: stopped the run here: a test has failed and said \"%s\" (--stop-at), "
               "and the rest cannot change that\n", o.stop_at);
    } else if (stopped_at_crash) {
        printf("guide: stopped the run at its first crash (--stop-at)\n");
        explain(&o, output, len);
    } else if (status != 0 && got_signal == 0) {
        explain(&o, output, len);
    }
    free(output);
    fflush(stdout);
    return status;
}
