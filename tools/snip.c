/*
 * snip.c - one source of truth for the chapters' code and the docs.
 *
 * The finished code of each chapter lives in solutions/.  Two things are
 * derived from it, never written by hand:
 *
 *   - The learner's starting code in chapters/: each exercise region of a
 *     solution file is replaced by the starter lines written beside it.
 *
 *         //> exercise 02
 *         pthread_mutex_lock(&shared->lock);          <- the solution
 *         ...
 *         //| starter
 *         //| // TODO(02): hold the lock for the whole round trip.
 *         //| return redis_result_not_implemented("locked_client_get");
 *         //< exercise 02
 *
 *   - The code blocks of docs/: a block preceded by
 *         <!-- snippet: solutions/02-mutex/locked_client.c#round_trip -->
 *     must equal the region between `//> snippet round_trip` and
 *     `//< snippet round_trip` in that file (marker lines left out).
 *
 *   - The docs' output blocks: a block preceded by
 *         <!-- output: build/plain/solutions/02-mutex/02-mutex --threads 2 -->
 *     must equal what that command prints on stdout (run with sh -c).
 *
 *   - The docs' commands: in a ```sh block, every line "$ make TARGET..." must
 *     name a real target (checked with `make -n`), and every other "$ CMD"
 *     must start with a program that exists.
 *
 * Usage:
 *   snip starter FILE            print FILE with exercises replaced by starters
 *   snip region FILE NAME        print one snippet region
 *   snip check-docs DOC...       exit 1, naming each block, if any block drifted
 *   snip sync-docs DOC...        rewrite drifted blocks from their regions
 *
 * Marker lines start (after indentation) with `//>`, `//<` or `//|`; they
 * never appear in a starter or a doc block.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Reading whole files as arrays of lines ---------------------------- */

struct lines {
    char **at;
    size_t count;
};

static void die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "snip: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static struct lines read_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        die("cannot open %s", path);
    struct lines l = { NULL, 0 };
    size_t cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t n;
    while ((n = getline(&line, &line_cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (l.count == cap) {
            cap = cap ? cap * 2 : 256;
            l.at = realloc(l.at, cap * sizeof *l.at);
            if (l.at == NULL)
                die("out of memory reading %s", path);
        }
        l.at[l.count++] = strdup(line);
    }
    free(line);
    fclose(f);
    return l;
}

static void free_lines(struct lines *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->at[i]);
    free(l->at);
}

/* ---- Markers ----------------------------------------------------------------- */

/* The text after the indentation, or NULL if the line is not a marker of
 * the given kind (">", "<" or "|"). */
static const char *marker(const char *line, char kind)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (line[0] == '/' && line[1] == '/' && line[2] == kind)
        return line + 3;
    return NULL;
}

static bool is_any_marker(const char *line)
{
    return marker(line, '>') || marker(line, '<') || marker(line, '|');
}

/* Does marker text " snippet NAME" / " exercise NN" name this? */
static bool names(const char *text, const char *kind, const char *name)
{
    while (*text == ' ')
        text++;
    size_t k = strlen(kind);
    if (strncmp(text, kind, k) != 0 || text[k] != ' ')
        return false;
    text += k + 1;
    if (name == NULL)
        return true;
    size_t n = strlen(name);
    return strncmp(text, name, n) == 0 && (text[n] == '\0' || isspace((unsigned char)text[n]));
}

/* ---- snip starter -------------------------------------------------------------- */

static int cmd_starter(const char *path)
{
    struct lines l = read_lines(path);
    enum { OUTSIDE, SOLUTION, STARTER } state = OUTSIDE;
    for (size_t i = 0; i < l.count; i++) {
        const char *line = l.at[i];
        const char *m;
        if ((m = marker(line, '>')) && names(m, "exercise", NULL)) {
            if (state != OUTSIDE)
                die("%s:%zu: an exercise opened inside another", path, i + 1);
            state = SOLUTION;
            continue;
        }
        if ((m = marker(line, '<')) && names(m, "exercise", NULL)) {
            if (state == OUTSIDE)
                die("%s:%zu: an exercise closed but never opened", path, i + 1);
            state = OUTSIDE;
            continue;
        }
        if ((m = marker(line, '|'))) {
            if (state == OUTSIDE)
                die("%s:%zu: a starter line outside an exercise", path, i + 1);
            if (state == SOLUTION) {
                state = STARTER; /* the "//| starter" line itself */
                continue;
            }
            /* Keep the indentation in front of the marker, drop "//| ". */
            int indent = (int)(strstr(line, "//|") - line);
            if (*m == ' ')
                m++;
            if (*m == '\0')
                printf("\n");
            else
                printf("%.*s%s\n", indent, line, m);
            continue;
        }
        if (is_any_marker(line))
            continue; /* snippet markers: not for the learner's copy */
        if (state == OUTSIDE)
            printf("%s\n", line);
    }
    if (state != OUTSIDE)
        die("%s: an exercise is never closed", path);
    free_lines(&l);
    return 0;
}

/* ---- Regions -------------------------------------------------------------------- */

/* Collects the lines of region NAME of FILE (markers left out) into *out.
 * Returns false if there is no such region. */
static bool find_region(const char *path, const char *name, struct lines *out)
{
    struct lines l = read_lines(path);
    out->at = calloc(l.count + 1, sizeof *out->at);
    out->count = 0;
    bool inside = false, found = false;
    for (size_t i = 0; i < l.count; i++) {
        const char *m;
        if ((m = marker(l.at[i], '>')) && names(m, "snippet", name)) {
            inside = found = true;
            continue;
        }
        if ((m = marker(l.at[i], '<')) && names(m, "snippet", name)) {
            inside = false;
            continue;
        }
        if (inside && !is_any_marker(l.at[i]))
            out->at[out->count++] = strdup(l.at[i]);
    }
    free_lines(&l);
    /* Quote the code flush left: drop the indentation all its lines share. */
    size_t common = (size_t)-1;
    for (size_t i = 0; i < out->count; i++) {
        const char *t = out->at[i];
        size_t n = strspn(t, " ");
        if (t[n] != '\0' && n < common)
            common = n;
    }
    for (size_t i = 0; common != (size_t)-1 && common > 0 && i < out->count; i++) {
        char *t = out->at[i];
        size_t n = strspn(t, " ");
        memmove(t, t + (n < common ? n : common), strlen(t + (n < common ? n : common)) + 1);
    }
    return found;
}

static int cmd_region(const char *path, const char *name)
{
    struct lines r;
    if (!find_region(path, name, &r))
        die("%s has no region named '%s'", path, name);
    for (size_t i = 0; i < r.count; i++)
        printf("%s\n", r.at[i]);
    free_lines(&r);
    return 0;
}

/* ---- Docs -------------------------------------------------------------------------- */

/* "<!-- snippet: PATH#NAME -->" -> path and name, or false. */
static bool parse_snippet_comment(const char *line, char *path, size_t path_len,
                                  char *name, size_t name_len)
{
    const char *p = strstr(line, "<!-- snippet:");
    if (p == NULL)
        return false;
    p += strlen("<!-- snippet:");
    while (*p == ' ')
        p++;
    const char *hash = strchr(p, '#');
    const char *end = strstr(p, "-->");
    if (hash == NULL || end == NULL || hash > end)
        return false;
    while (end > hash && end[-1] == ' ')
        end--;
    snprintf(path, path_len, "%.*s", (int)(hash - p), p);
    snprintf(name, name_len, "%.*s", (int)(end - hash - 1), hash + 1);
    return true;
}


/* "<!-- output: CMD -->" -> CMD, or false. */
static bool parse_output_comment(const char *line, char *cmd, size_t cmd_len)
{
    const char *p = strstr(line, "<!-- output:");
    if (p == NULL)
        return false;
    p += strlen("<!-- output:");
    while (*p == ' ')
        p++;
    const char *end = strstr(p, "-->");
    if (end == NULL)
        return false;
    while (end > p && end[-1] == ' ')
        end--;
    snprintf(cmd, cmd_len, "%.*s", (int)(end - p), p);
    return true;
}

/* Runs CMD with sh -c and collects its stdout as lines. */
static bool run_for_lines(const char *cmd, struct lines *out, int *status)
{
    FILE *p = popen(cmd, "r");
    out->at = NULL;
    out->count = 0;
    if (p == NULL)
        return false;
    size_t cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t n;
    while ((n = getline(&line, &line_cap, p)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (out->count == cap) {
            cap = cap ? cap * 2 : 64;
            out->at = realloc(out->at, cap * sizeof *out->at);
            if (out->at == NULL)
                die("out of memory running %s", cmd);
        }
        out->at[out->count++] = strdup(line);
    }
    free(line);
    *status = pclose(p);
    return true;
}

/* Checks one "$ command" line of a shell block; returns false if broken. */
static bool command_works(const char *doc, size_t line_no, const char *command)
{
    char check[2048];
    if (strncmp(command, "make ", 5) == 0 || strcmp(command, "make") == 0) {
        /* A dry run proves the target and its variables exist, without
         * running anything. */
        snprintf(check, sizeof check, "%s -n --no-print-directory >/dev/null 2>&1", command);
    } else {
        char first[512];
        size_t n = strcspn(command, " \t|;&");
        snprintf(first, sizeof first, "%.*s", (int)n, command);
        if (strchr(first, '=') != NULL)
            return true; /* VAR=value cmd: too many forms to check; rare */
        snprintf(check, sizeof check, "command -v '%s' >/dev/null 2>&1 || test -e '%s'", first, first);
    }
    if (system(check) != 0) {
        fprintf(stderr, "%s:%zu: this command does not work as written: %s\n", doc, line_no, command);
        return false;
    }
    return true;
}

static int check_or_sync_doc(const char *doc, bool sync)
{
    struct lines l = read_lines(doc);
    FILE *out = NULL;
    char tmp_path[4096];
    if (sync) {
        snprintf(tmp_path, sizeof tmp_path, "%s.snip-tmp", doc);
        out = fopen(tmp_path, "w");
        if (out == NULL)
            die("cannot write %s", tmp_path);
    }
    int drifted = 0, blocks = 0, outputs = 0, commands = 0;
    for (size_t i = 0; i < l.count; i++) {
        char path[1024], name[256];
        if (out)
            fprintf(out, "%s\n", l.at[i]);
        if (strncmp(l.at[i], "```sh", 5) == 0 || strncmp(l.at[i], "```console", 10) == 0) {
            size_t k = i + 1;
            for (; k < l.count && strncmp(l.at[k], "```", 3) != 0; k++) {
                if (out)
                    fprintf(out, "%s\n", l.at[k]);
                if (strncmp(l.at[k], "$ ", 2) == 0) {
                    commands++;
                    if (!command_works(doc, k + 1, l.at[k] + 2))
                        drifted++;
                }
            }
            if (out && k < l.count)
                fprintf(out, "%s\n", l.at[k]);
            i = k;
            continue;
        }
        char cmd[2048];
        if (parse_output_comment(l.at[i], cmd, sizeof cmd)) {
            if (i + 1 >= l.count || strncmp(l.at[i + 1], "```", 3) != 0) {
                fprintf(stderr, "%s:%zu: an output comment must be followed by a ``` block\n", doc, i + 1);
                drifted++;
                continue;
            }
            size_t open = i + 1, close = open + 1;
            while (close < l.count && strncmp(l.at[close], "```", 3) != 0)
                close++;
            struct lines got;
            int status = 0;
            outputs++;
            if (!run_for_lines(cmd, &got, &status) || status != 0) {
                fprintf(stderr, "%s:%zu: `%s` failed (status %d)\n", doc, i + 1, cmd, status);
                drifted++;
            } else {
                bool same = got.count == close - open - 1;
                for (size_t k = 0; same && k < got.count; k++)
                    same = strcmp(got.at[k], l.at[open + 1 + k]) == 0;
                if (!same) {
                    drifted++;
                    fprintf(stderr, "%s:%zu: the output of `%s` differs from the block%s\n", doc,
                            open + 1, cmd, sync ? " (rewritten)" : " (run `make docs-sync`)");
                }
            }
            if (out) {
                fprintf(out, "%s\n", l.at[open]);
                if (status == 0)
                    for (size_t k = 0; k < got.count; k++)
                        fprintf(out, "%s\n", got.at[k]);
                else
                    for (size_t k = open + 1; k < close; k++)
                        fprintf(out, "%s\n", l.at[k]);
                if (close < l.count)
                    fprintf(out, "%s\n", l.at[close]);
            }
            free_lines(&got);
            i = close;
            continue;
        }
        if (!parse_snippet_comment(l.at[i], path, sizeof path, name, sizeof name))
            continue;
        /* The next line opens the fence; the block runs to the closing one. */
        if (i + 1 >= l.count || strncmp(l.at[i + 1], "```", 3) != 0) {
            fprintf(stderr, "%s:%zu: a snippet comment must be followed by a ``` block\n", doc, i + 1);
            drifted++;
            continue;
        }
        size_t open = i + 1, close = open + 1;
        while (close < l.count && strncmp(l.at[close], "```", 3) != 0)
            close++;
        if (close >= l.count) {
            fprintf(stderr, "%s:%zu: code block never closed\n", doc, open + 1);
            drifted++;
            break;
        }
        blocks++;
        struct lines r;
        if (!find_region(path, name, &r)) {
            fprintf(stderr, "%s:%zu: %s has no region '%s'\n", doc, i + 1, path, name);
            drifted++;
            if (out)
                for (size_t k = open; k <= close; k++)
                    fprintf(out, "%s\n", l.at[k]);
            i = close;
            continue;
        }
        bool same = r.count == close - open - 1;
        for (size_t k = 0; same && k < r.count; k++)
            same = strcmp(r.at[k], l.at[open + 1 + k]) == 0;
        if (!same) {
            drifted++;
            fprintf(stderr, "%s:%zu: block differs from %s#%s%s\n", doc, open + 1, path, name,
                    sync ? " (rewritten)" : " (run `make docs-sync`, then reread the text around it)");
        }
        if (out) {
            fprintf(out, "%s\n", l.at[open]);
            for (size_t k = 0; k < r.count; k++)
                fprintf(out, "%s\n", r.at[k]);
            fprintf(out, "%s\n", l.at[close]);
        }
        free_lines(&r);
        i = close;
    }
    if (out) {
        fclose(out);
        if (rename(tmp_path, doc) != 0)
            die("cannot replace %s", doc);
    }
    free_lines(&l);
    if (!sync)
        printf("%s: %d snippet(s), %d output block(s), %d command(s); %d problem(s)\n", doc,
               blocks, outputs, commands, drifted);
    return sync ? 0 : drifted;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "starter") == 0)
        return cmd_starter(argv[2]);
    if (argc == 4 && strcmp(argv[1], "region") == 0)
        return cmd_region(argv[2], argv[3]);
    if (argc >= 2 && (strcmp(argv[1], "check-docs") == 0 || strcmp(argv[1], "sync-docs") == 0)) {
        bool sync = argv[1][0] == 's';
        int bad = 0;
        for (int i = 2; i < argc; i++)
            bad += check_or_sync_doc(argv[i], sync);
        return bad == 0 ? 0 : 1;
    }
    fprintf(stderr,
            "usage: snip starter FILE | snip region FILE NAME |\n"
            "       snip check-docs DOC... | snip sync-docs DOC...\n");
    return 2;
}
