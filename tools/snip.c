/*
 * snip.c - one source of truth for the chapters' code and the docs.
 *
 * The finished code of each chapter lives in solutions/.  Two things are
 * derived from it, never written by hand:
 *
 *   - The learner's starting code in chapters/: each exercise region of a
 *     solution file is replaced by the starter lines written beside it.
 *     Only the chapter's own exercises are: in solutions/06-x/, a region
 *     marked `exercise 05` (a file chapter 06 inherited from chapter 05)
 *     keeps its solution, because the learner did it in chapter 05.
 *
 *         //> exercise 02
 *         pthread_mutex_lock(&shared->lock);          <- the solution
 *         ...
 *         //| starter
 *         //| // TODO(02): hold the lock for the whole round trip.
 *         //| return redis_result_not_implemented("locked_client_get");
 *         //< exercise 02
 *
 *   - Planted copies, for `make test-pitfalls`: a mistake the text warns
 *     about is written next to the right code, and `snip plant FILE NAME`
 *     puts the mistake in its place (in every region of that name):
 *
 *         //> pitfall unlock-on-error
 *         pthread_mutex_unlock(&lc->lock);            <- the right code
 *         //| mistake
 *         //| if (redis_result_is_error(&result))      <- what is planted
 *         //|     return result;
 *         //< pitfall unlock-on-error
 *
 *     Starters, doc snippets and `snip solution` keep the right code; a
 *     pitfall inside an exercise goes with the exercise's solution.
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
 *   - The docs' tool reports (a sanitizer's report, a debugger's stacks, a
 *     failing test): a block preceded by
 *         <!-- report: CMD -->
 *     shows lines of what CMD prints on stdout and stderr, whatever its
 *     exit status, in order, "..." standing for lines left out; addresses,
 *     ids, frame numbers, ports, sizes and timings are normalised on both
 *     sides (report_block has the details).  Never rewritten by sync-docs.
 *
 * `snip check-docs` holds every doc to these rules:
 *
 *   - Quoted code.  A snippet comment may carry a tag after the region name:
 *         <!-- snippet: PATH#NAME partial -->           pieces of the region:
 *             the block, cut at lines that hold only "..." (alone, or in a
 *             C comment), must be runs of lines found unchanged in the
 *             region, in order;
 *         <!-- snippet: PATH#NAME wrong-on-purpose -->  the region with a
 *             mistake shown on purpose: every line that differs says WRONG,
 *             and the rest must be runs of the region, in order.
 *     Tagged blocks are still checked against their region; `sync-docs`
 *     rewrites only untagged ones.  A ```c, ```rust (or other code) block
 *     with no snippet comment must be preceded by <!-- illustrative -->,
 *     which says it is shown, not compared; otherwise it is an error.
 *     A drifted block is reported with the doc line of its first differing
 *     line and the region's place (PATH#NAME, PATH lines A-B).
 *
 *   - Commands.  Every line "$ CMD" in any fenced block is checked: a make
 *     command with a dry run (`make -n`: its targets and variables exist),
 *     any other must start with a program on PATH or an existing file.
 *     Leading VAR=value words are skipped, not trusted.  Commands in ```sh
 *     blocks are for the reader to type; a "$ " line in a ```text block is
 *     a transcript whose output is illustrative (not compared: programs'
 *     real output is shown with an output comment, which runs it).  When
 *     an output block sits right below a ```sh block, the last command
 *     shown must run the same program with the same arguments (a make
 *     command is dry-run to see what it would start after with-redis's
 *     "--"; chapters/ and solutions/ count as the same program).
 *
 *   - Links.  Every [text](target), ![alt](target) and [name]: target in
 *     the prose (not in code, nor in lines indented four spaces) must resolve: a relative path to an existing file (from the
 *     doc's folder), and an #anchor to a heading of the target doc (anchors
 *     made the way GitHub and `make docs` make them).  http(s) links are not
 *     fetched.
 *
 *   - Folded solutions.  The finished code of an exercise waits for the
 *     learner's own attempt: a snippet of a region that overlaps an exercise
 *     region may only appear inside
 *         <details>
 *         <summary>Show the solution</summary>
 *         ... the snippet comment and its block ...
 *         </details>
 *     With --folded-solutions=all every doc is held to this; =converted
 *     (what `make docs-check` passes until every chapter is converted) holds
 *     only docs that already have a "Show the solution" block; =off, the
 *     default, none.
 *   - Line numbers.  A source line cited by number (`mpsc.c:604`) outside
 *     an output or report block is an error: it goes stale with the next
 *     edit of the file, and nothing would notice.  Prose names the
 *     function or the snippet marker; a block that runs the code may show
 *     line numbers, because they come from the current code.
 *
 * `snip check-api DOC HEADER...` fails when a function declared in one of
 * the headers is not named in DOC (docs/channels.md lists them all).
 *
 * `snip check-words EACH TOTAL FIRST LAST DOC...` prints how many words of
 * prose each doc holds (outside code blocks, HTML comments and tags) and
 * fails when a chapter doc (NN-name.md) holds more than EACH, or chapters
 * FIRST to LAST more than TOTAL together.
 *
 * `snip check-hints DOCS_DIR FILE...` fails when a section title that a
 * chapter test sends the learner to (CHAPTER_HINT in tests/chapters/
 * test_NN.c, and the rows of sections.txt and pitfalls.txt), or that a
 * program or comment cites (docs/NN-name.md, "Title"), is not a heading
 * of that chapter's DOCS_DIR/NN-*.md.
 *
 * Usage:
 *   snip starter FILE            print FILE with exercises replaced by starters
 *   snip solution FILE           print FILE finished, without any marker
 *   snip plant FILE NAME         print FILE finished, with pitfall NAME planted
 *   snip pitfalls FILE...        print "FILE NAME" for every pitfall (checks markers)
 *   snip region FILE NAME        print one snippet region
 *   snip check-docs [--folded-solutions=off|converted|all] DOC...
 *                                exit 1, naming each block, if any block drifted
 *   snip sync-docs DOC...        rewrite drifted blocks from their regions
 *   snip check-api DOC HEADER... exit 1 if DOC does not name every function
 *   snip check-words EACH TOTAL FIRST LAST DOC...   exit 1 if a chapter is too long
 *   snip check-hints DOCS_DIR FILE...               exit 1 if a hint names no heading
 *
 * Marker lines start (after indentation) with `//>`, `//<` or `//|`; they
 * never appear in a starter or a doc block.  A pitfall region (`//> pitfall
 * NAME`, `//| mistake`, `//< pitfall NAME`, see CONTRIBUTING.md) keeps its
 * right code in both; its `//| ` lines are the mistake a planted copy gets.
 */
#include <ctype.h>
#include <glob.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIE_PREFIX "snip: "
#include "die.h"

/* ---- Reading whole files as arrays of lines ---------------------------- */

struct lines {
    char **at;
    size_t count;
};


/* Reads PATH into *l; false (and an empty *l) if it cannot be opened. */
static bool try_read_lines(const char *path, struct lines *out)
{
    FILE *f = fopen(path, "r");
    out->at = NULL;
    out->count = 0;
    if (f == NULL)
        return false;
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
    *out = l;
    return true;
}

static struct lines read_lines(const char *path)
{
    struct lines l;
    if (!try_read_lines(path, &l))
        die("cannot open %s", path);
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

/* ---- snip starter / solution / plant: resolving the markers ----------------- */

/*
 * One pass over a solution file that decides, line by line, what a derived
 * copy keeps.  Three copies are made from the same markers:
 *
 *   STARTER   the learner's starting code: each exercise region of the file's
 *             own chapter becomes its starter lines (in solutions/06-x/, a
 *             region marked `exercise 05` - a file chapter 06 took over from
 *             chapter 05 - keeps its solution: the learner did it in 05);
 *             pitfalls keep their right code.
 *   SOLUTION  the finished code without markers (what `make diff-NN` shows):
 *             exercises keep their solution, pitfalls their right code.
 *   PLANTED   the finished code with one pitfall planted: every region of
 *             pitfall `target` becomes its mistake lines, other pitfalls keep
 *             their right code.
 *
 * A pitfall region may sit inside an exercise's solution part (then the
 * starter drops it with the rest of the solution), never inside a starter
 * part, another pitfall, or around an exercise.  Marker lines never appear
 * in any copy.
 */
enum copy_kind { COPY_STARTER, COPY_SOLUTION, COPY_PLANTED };

/* The chapter a path belongs to: NN of the first folder named "NN-...", or
 * "" when there is none. */
static void chapter_of(const char *path, char out[3])
{
    out[0] = '\0';
    for (const char *p = path; *p != '\0'; p++) {
        bool folder_start = p == path || p[-1] == '/';
        if (folder_start && isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
            p[2] == '-' && strchr(p, '/') != NULL) {
            out[0] = p[0];
            out[1] = p[1];
            out[2] = '\0';
            return;
        }
    }
}

/* The marker's argument ("NAME" of "//> pitfall NAME"), copied into out. */
static void marker_argument(const char *text, const char *kind, char *out, size_t out_len)
{
    while (*text == ' ')
        text++;
    text += strlen(kind);
    while (*text == ' ')
        text++;
    snprintf(out, out_len, "%.*s", (int)strcspn(text, " \t"), text);
}

/* Is this "//| WORD" line exactly that word (the part separators)? */
static bool is_separator(const char *m, const char *word)
{
    while (*m == ' ')
        m++;
    size_t n = strlen(word);
    return strncmp(m, word, n) == 0 && m[n + strspn(m + n, " \t")] == '\0';
}

/* Prints a "//| " line without its marker, keeping the indentation in
 * front of it. */
static void print_unmarked(FILE *out, const char *line, const char *m)
{
    int indent = (int)(strstr(line, "//|") - line);
    if (*m == ' ')
        m++;
    if (*m == '\0')
        fprintf(out, "\n");
    else
        fprintf(out, "%.*s%s\n", indent, line, m);
}

/*
 * Writes the copy of `path` of the given kind to `out` (NULL: only check
 * the markers).  For COPY_PLANTED, `target` names the pitfall.  Every
 * pitfall name met is added to `found_names` (if not NULL, once each).
 * Dies, naming the line, on badly nested or unclosed markers.
 */
static void resolve_markers(const char *path, enum copy_kind kind, const char *target,
                            FILE *out, struct lines *found_names)
{
    struct lines l = read_lines(path);
    char chapter[3];
    chapter_of(path, chapter);
    enum { OUTSIDE, SOLUTION, STARTER } exercise = OUTSIDE;
    /* This exercise is another chapter's: even a starter keeps its solution. */
    bool earlier_exercise = false;
    enum { NO_PITFALL, RIGHT, MISTAKE } pitfall = NO_PITFALL;
    char pitfall_name[256] = "";
    size_t pitfall_line = 0, exercise_line = 0;
    for (size_t i = 0; i < l.count; i++) {
        const char *line = l.at[i];
        const char *m;
        if ((m = marker(line, '>')) && names(m, "exercise", NULL)) {
            if (exercise != OUTSIDE || pitfall != NO_PITFALL)
                die("%s:%zu: an exercise opened inside another exercise or a pitfall", path, i + 1);
            exercise = SOLUTION;
            exercise_line = i + 1;
            earlier_exercise = chapter[0] != '\0' && !names(m, "exercise", chapter);
            continue;
        }
        if ((m = marker(line, '<')) && names(m, "exercise", NULL)) {
            if (exercise == OUTSIDE)
                die("%s:%zu: an exercise closed but never opened", path, i + 1);
            if (pitfall != NO_PITFALL)
                die("%s:%zu: the exercise ends inside pitfall '%s' (opened at line %zu)", path,
                    i + 1, pitfall_name, pitfall_line);
            exercise = OUTSIDE;
            continue;
        }
        if ((m = marker(line, '>')) && names(m, "pitfall", NULL)) {
            if (pitfall != NO_PITFALL)
                die("%s:%zu: a pitfall opened inside pitfall '%s'", path, i + 1, pitfall_name);
            if (exercise == STARTER)
                die("%s:%zu: a pitfall inside an exercise's starter lines (it belongs in the "
                    "solution part, above `//| starter`)", path, i + 1);
            marker_argument(m, "pitfall", pitfall_name, sizeof pitfall_name);
            if (pitfall_name[0] == '\0')
                die("%s:%zu: a pitfall needs a name: //> pitfall NAME", path, i + 1);
            pitfall = RIGHT;
            pitfall_line = i + 1;
            bool known = false;
            for (size_t k = 0; found_names != NULL && k < found_names->count && !known; k++)
                known = strcmp(found_names->at[k], pitfall_name) == 0;
            if (found_names != NULL && !known) {
                found_names->at = realloc(found_names->at,
                                          (found_names->count + 1) * sizeof *found_names->at);
                if (found_names->at == NULL)
                    die("out of memory");
                found_names->at[found_names->count++] = strdup(pitfall_name);
            }
            continue;
        }
        if ((m = marker(line, '<')) && names(m, "pitfall", NULL)) {
            char closing[256];
            marker_argument(m, "pitfall", closing, sizeof closing);
            if (pitfall == NO_PITFALL)
                die("%s:%zu: pitfall '%s' closed but never opened", path, i + 1, closing);
            if (strcmp(closing, pitfall_name) != 0)
                die("%s:%zu: `//< pitfall %s` closes pitfall '%s' (opened at line %zu)", path,
                    i + 1, closing, pitfall_name, pitfall_line);
            if (pitfall == RIGHT)
                die("%s:%zu: pitfall '%s' has no `//| mistake` line: what is planted instead?",
                    path, i + 1, pitfall_name);
            pitfall = NO_PITFALL;
            continue;
        }
        bool planting = kind == COPY_PLANTED && strcmp(pitfall_name, target) == 0;
        /* Code of the finished version: outside exercises, or in an
         * exercise's solution part when this copy keeps solutions. */
        bool keeps_solution = kind != COPY_STARTER || earlier_exercise;
        bool finished_code = exercise == OUTSIDE || (exercise == SOLUTION && keeps_solution);
        if ((m = marker(line, '|'))) {
            if (pitfall == RIGHT) {
                if (!is_separator(m, "mistake"))
                    die("%s:%zu: in pitfall '%s', a `//|` line before `//| mistake`", path, i + 1,
                        pitfall_name);
                pitfall = MISTAKE;
            } else if (pitfall == MISTAKE) {
                if (planting && finished_code && out)
                    print_unmarked(out, line, m);
            } else if (exercise == SOLUTION) {
                if (!is_separator(m, "starter"))
                    die("%s:%zu: the first `//|` line of an exercise must be `//| starter`", path,
                        i + 1);
                exercise = STARTER;
            } else if (exercise == STARTER) {
                if (!keeps_solution && out)
                    print_unmarked(out, line, m);
            } else {
                die("%s:%zu: a `//|` line outside an exercise or a pitfall", path, i + 1);
            }
            continue;
        }
        if (is_any_marker(line))
            continue; /* snippet markers: for the docs only */
        if (pitfall == MISTAKE)
            die("%s:%zu: in pitfall '%s', every line after `//| mistake` must start with `//| `",
                path, i + 1, pitfall_name);
        if (pitfall == RIGHT && planting)
            continue; /* the right code, replaced by the mistake */
        if (exercise == STARTER)
            continue; /* a starter part holds only `//| ` lines; other lines are dropped */
        if (finished_code && out)
            fprintf(out, "%s\n", line);
    }
    if (pitfall != NO_PITFALL)
        die("%s:%zu: pitfall '%s' is never closed", path, pitfall_line, pitfall_name);
    if (exercise != OUTSIDE)
        die("%s:%zu: an exercise is never closed", path, exercise_line);
    free_lines(&l);
}

static int cmd_copy(const char *path, enum copy_kind kind, const char *target)
{
    resolve_markers(path, kind, target, stdout, NULL);
    return fflush(stdout) == 0 ? 0 : 2;
}

/* `snip pitfalls FILE...`: "FILE NAME" for each pitfall of each file, once;
 * checks every file's markers on the way. */
static int cmd_pitfalls(int nfiles, char **files)
{
    for (int f = 0; f < nfiles; f++) {
        struct lines found = { NULL, 0 };
        resolve_markers(files[f], COPY_SOLUTION, "", NULL, &found);
        for (size_t k = 0; k < found.count; k++)
            printf("%s %s\n", files[f], found.at[k]);
        free_lines(&found);
    }
    return 0;
}

/* ---- Regions -------------------------------------------------------------------- */

/* Where a region sits in its file, for messages that send the reader there:
 * the line numbers of its opening and closing markers. */
struct region_place {
    size_t begin, end;
};

/* Collects the lines of region NAME of FILE (markers left out) into *out.
 * Returns false if there is no such region (or no such file).  `place` may
 * be NULL. */
static bool find_region_at(const char *path, const char *name, struct lines *out,
                           struct region_place *place)
{
    struct lines l;
    bool readable = try_read_lines(path, &l);
    out->at = calloc(l.count + 1, sizeof *out->at);
    out->count = 0;
    if (out->at == NULL)
        die("out of memory reading %s", path);
    if (!readable)
        return false;
    bool inside = false, found = false;
    for (size_t i = 0; i < l.count; i++) {
        const char *m;
        if ((m = marker(l.at[i], '>')) && names(m, "snippet", name)) {
            inside = found = true;
            if (place)
                place->begin = i + 1;
            continue;
        }
        if ((m = marker(l.at[i], '<')) && names(m, "snippet", name)) {
            inside = false;
            if (place)
                place->end = i + 1;
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

static bool find_region(const char *path, const char *name, struct lines *out)
{
    return find_region_at(path, name, out, NULL);
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

/* ---- Docs: the comments that tie a block to its source -------------------- */

/* How strictly a quoted block must match its region. */
enum snippet_mode {
    SNIPPET_EXACT,   /* the block is the region, line for line */
    SNIPPET_PARTIAL, /* pieces of the region, in order, with "..." lines between */
    SNIPPET_WRONG,   /* the region with lines changed on purpose, each marked WRONG */
};

/* "<!-- snippet: PATH#NAME [partial|wrong-on-purpose] -->" -> its parts, or
 * false.  An unknown tag is an error the caller reports (tag_ok false). */
static bool parse_snippet_comment(const char *line, char *path, size_t path_len,
                                  char *name, size_t name_len, enum snippet_mode *mode,
                                  bool *tag_ok)
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
    const char *name_end = hash + 1 + strcspn(hash + 1, " ");
    if (name_end > end)
        name_end = end;
    snprintf(path, path_len, "%.*s", (int)(hash - p), p);
    snprintf(name, name_len, "%.*s", (int)(name_end - hash - 1), hash + 1);
    const char *tag = name_end;
    while (tag < end && *tag == ' ')
        tag++;
    size_t tag_len = (size_t)(end - tag);
    *mode = SNIPPET_EXACT;
    *tag_ok = true;
    if (tag_len == 0)
        return true;
    if (tag_len == strlen("partial") && strncmp(tag, "partial", tag_len) == 0)
        *mode = SNIPPET_PARTIAL;
    else if (tag_len == strlen("wrong-on-purpose") && strncmp(tag, "wrong-on-purpose", tag_len) == 0)
        *mode = SNIPPET_WRONG;
    else
        *tag_ok = false;
    return true;
}

/* What follows a comment's keyword ("<!-- output:" ...) up to "-->",
 * without the blanks around it; false if the comment never closes. */
static bool comment_body(const char *p, char *out, size_t out_len)
{
    while (*p == ' ')
        p++;
    const char *end = strstr(p, "-->");
    if (end == NULL)
        return false;
    while (end > p && end[-1] == ' ')
        end--;
    snprintf(out, out_len, "%.*s", (int)(end - p), p);
    return true;
}

/* "<!-- output: CMD -->" -> CMD, or false. */
static bool parse_output_comment(const char *line, char *cmd, size_t cmd_len)
{
    const char *p = strstr(line, "<!-- output:");
    return p != NULL && comment_body(p + strlen("<!-- output:"), cmd, cmd_len);
}

/* "<!-- illustrative -->" alone on its line: the next block is shown, not
 * compared with anything. */
static bool is_illustrative_comment(const char *line)
{
    while (*line == ' ')
        line++;
    return strncmp(line, "<!-- illustrative -->", strlen("<!-- illustrative -->")) == 0;
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

/* ---- Docs: commands ---------------------------------------------------------- */

/*
 * Checks one "$ command" line; returns false if it is broken.  Leading
 * VAR=value words (`CI=true make test`) are skipped, so the command after
 * them is checked too.  A make command is dry-run (`make -n`), which proves
 * its targets and variables exist without running anything; any other
 * command must name a program on PATH or a file in the repository.
 */
static bool command_works(const char *doc, size_t line_no, const char *command)
{
    const char *rest = command;
    for (;;) {
        size_t word = strcspn(rest, " \t");
        const char *eq = memchr(rest, '=', word);
        if (eq == NULL || word == 0)
            break;
        /* VAR="a b": skip to the closing quote before the next word. */
        const char *q = eq + 1;
        if (*q == '"' || *q == '\'') {
            const char *close = strchr(q + 1, *q);
            if (close == NULL)
                break;
            word = (size_t)(close + 1 - rest);
        }
        rest += word;
        while (*rest == ' ' || *rest == '\t')
            rest++;
    }
    char check[4096];
    if (strncmp(rest, "make ", 5) == 0 || strcmp(rest, "make") == 0) {
        snprintf(check, sizeof check, "%s -n --no-print-directory >/dev/null 2>&1", rest);
    } else {
        size_t n = strcspn(rest, " \t|;&");
        if (n == 0) {
            fprintf(stderr, "%s:%zu: a '$' line with no command\n", doc, line_no);
            return false;
        }
        snprintf(check, sizeof check, "command -v '%.*s' >/dev/null 2>&1 || test -e '%.*s'",
                 (int)n, rest, (int)n, rest);
    }
    if (system(check) != 0) {
        fprintf(stderr, "%s:%zu: this command does not work as written: %s\n", doc, line_no, command);
        return false;
    }
    return true;
}

/* ---- Docs: headings, anchors and links ---------------------------------------- */

/*
 * The anchor a heading gets, the way GitHub makes it (pandoc's
 * gfm_auto_identifiers, which `make docs` uses, makes the same): lower
 * case; letters, digits, '-' and '_' kept; spaces become '-'; everything
 * else dropped, including the backticks of inline code and punctuation
 * such as the "·" of a chapter title.
 */
static void heading_anchor(const char *heading, char *out, size_t out_len)
{
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)heading;
    while (*s && o + 4 < out_len) {
        if (isalnum(*s) || *s == '-' || *s == '_') {
            out[o++] = (char)tolower(*s);
            s++;
        } else if (*s == ' ') {
            out[o++] = '-';
            s++;
        } else if (*s >= 0x80) {
            /* A UTF-8 sequence: keep letters, drop punctuation and symbols
             * (U+0080-U+00BF, U+2000-U+2BFF: dots, dashes, arrows, boxes). */
            size_t len = (*s >= 0xf0) ? 4 : (*s >= 0xe0) ? 3 : 2;
            bool punct = (*s == 0xc2) || (*s == 0xe2);
            for (size_t k = 0; k < len && *s; k++) {
                if (!punct)
                    out[o++] = (char)*s;
                s++;
            }
        } else {
            s++;
        }
    }
    out[o] = '\0';
}

/* The headings of a Markdown file (their text, without the #s and the
 * blanks around it), outside code blocks; false if it cannot be read. */
static bool doc_headings(const char *path, struct lines *out)
{
    struct lines l;
    out->at = NULL;
    out->count = 0;
    if (!try_read_lines(path, &l))
        return false;
    out->at = calloc(l.count + 1, sizeof *out->at);
    if (out->at == NULL)
        die("out of memory");
    bool fenced = false;
    for (size_t i = 0; i < l.count; i++) {
        const char *t = l.at[i];
        if (strncmp(t, "```", 3) == 0) {
            fenced = !fenced;
            continue;
        }
        size_t level = strspn(t, "#");
        if (fenced || level == 0 || level > 6 || t[level] != ' ')
            continue;
        const char *h = t + level;
        while (*h == ' ')
            h++;
        char *copy = strdup(h);
        if (copy == NULL)
            die("out of memory");
        for (size_t n = strlen(copy); n > 0 && copy[n - 1] == ' '; n--)
            copy[n - 1] = '\0';
        out->at[out->count++] = copy;
    }
    free_lines(&l);
    return true;
}

/* The anchors of a Markdown file: one per heading, with GitHub's -1, -2
 * suffixes for repeats. */
static bool doc_anchors(const char *path, struct lines *anchors)
{
    struct lines headings;
    anchors->at = NULL;
    anchors->count = 0;
    if (!doc_headings(path, &headings))
        return false;
    anchors->at = calloc(headings.count + 1, sizeof *anchors->at);
    if (anchors->at == NULL)
        die("out of memory");
    for (size_t i = 0; i < headings.count; i++) {
        char base[512], unique[540];
        heading_anchor(headings.at[i], base, sizeof base);
        snprintf(unique, sizeof unique, "%s", base);
        for (int n = 1;; n++) {
            bool taken = false;
            for (size_t k = 0; k < anchors->count && !taken; k++)
                taken = strcmp(anchors->at[k], unique) == 0;
            if (!taken)
                break;
            snprintf(unique, sizeof unique, "%s-%d", base, n);
        }
        anchors->at[anchors->count++] = strdup(unique);
    }
    free_lines(&headings);
    return true;
}

static bool has_anchor(const struct lines *anchors, const char *anchor)
{
    for (size_t k = 0; k < anchors->count; k++)
        if (strcmp(anchors->at[k], anchor) == 0)
            return true;
    return false;
}

/* The folder part of PATH, with its slash ("docs/"), or "" for none. */
static void dir_of(const char *path, char *out, size_t out_len)
{
    const char *slash = strrchr(path, '/');
    snprintf(out, out_len, "%.*s", slash ? (int)(slash - path + 1) : 0, path);
}

/* Checks one link target written in DOC; returns false if it is broken.
 * Web addresses are not fetched: this never leaves the machine. */
static bool link_works(const char *doc, size_t line_no, const char *target)
{
    if (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0 ||
        strncmp(target, "mailto:", 7) == 0)
        return true;
    char file[2048], anchor[512] = "";
    const char *hash = strchr(target, '#');
    char dir[1024];
    dir_of(doc, dir, sizeof dir);
    if (hash == target) {
        snprintf(file, sizeof file, "%s", doc);
    } else {
        int n = hash ? (int)(hash - target) : (int)strlen(target);
        snprintf(file, sizeof file, "%s%.*s", target[0] == '/' ? "" : dir, n, target);
    }
    if (hash)
        snprintf(anchor, sizeof anchor, "%s", hash + 1);
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "%s:%zu: broken link '%s': %s does not exist\n", doc, line_no, target, file);
        return false;
    }
    fclose(f);
    if (anchor[0] == '\0')
        return true;
    size_t len = strlen(file);
    if (len < 3 || strcmp(file + len - 3, ".md") != 0) {
        fprintf(stderr, "%s:%zu: link '%s' has an #anchor into %s, which is not a doc\n", doc,
                line_no, target, file);
        return false;
    }
    struct lines anchors;
    doc_anchors(file, &anchors);
    bool ok = has_anchor(&anchors, anchor);
    free_lines(&anchors);
    if (!ok)
        fprintf(stderr, "%s:%zu: broken link '%s': %s has no heading with anchor #%s\n", doc,
                line_no, target, file, anchor);
    return ok;
}

/* Checks every Markdown link and image on one line of prose: inline
 * `[text](target)` and `![alt](target)`, and reference definitions
 * `[name]: target`.  Inline code spans are skipped. */
static int check_links_on_line(const char *doc, size_t line_no, const char *line, int *links)
{
    int broken = 0;
    if (line[0] == '[') {
        const char *close = strstr(line, "]: ");
        if (close != NULL && strchr(line, '(') == NULL) {
            char target[1024];
            const char *t = close + 3;
            snprintf(target, sizeof target, "%.*s", (int)strcspn(t, " "), t);
            (*links)++;
            return link_works(doc, line_no, target) ? 0 : 1;
        }
    }
    for (const char *p = line; *p; p++) {
        if (*p == '`') {
            size_t ticks = strspn(p, "`");
            const char *end = p + ticks;
            for (;;) {
                end = strchr(end, '`');
                if (end == NULL || strspn(end, "`") == ticks)
                    break;
                end += strspn(end, "`");
            }
            if (end == NULL)
                break;
            p = end + ticks - 1;
            continue;
        }
        if (p[0] == ']' && p[1] == '(') {
            const char *t = p + 2;
            size_t n = strcspn(t, ") ");
            char target[1024];
            snprintf(target, sizeof target, "%.*s", (int)n, t);
            if (target[0] != '\0') {
                (*links)++;
                if (!link_works(doc, line_no, target))
                    broken++;
            }
            p = t + n - 1;
        }
    }
    return broken;
}

/* ---- Docs: comparing a block with its region ---------------------------------- */

/* A line of a partial or wrong-on-purpose block that stands for lines left
 * out: "..." alone (any indentation, optionally inside a C comment), or for
 * wrong-on-purpose, any line that says WRONG. */
static bool is_gap_line(const char *line, enum snippet_mode mode)
{
    if (mode == SNIPPET_WRONG && strstr(line, "WRONG") != NULL)
        return true;
    while (*line == ' ')
        line++;
    return strcmp(line, "...") == 0 || strcmp(line, "/* ... */") == 0 ||
           strcmp(line, "// ...") == 0;
}

/*
 * Compares block lines b[0..nb) with region lines r[0..nr).  EXACT: equal,
 * line for line.  PARTIAL / WRONG: the block, cut at its gap lines, is a
 * series of runs, and each run must appear unchanged in the region, after
 * the previous one.  Returns the index of the first block line that does
 * not fit, or nb if the block matches.
 */
static size_t first_mismatch(char *const *b, size_t nb, char *const *r, size_t nr,
                             enum snippet_mode mode)
{
    if (mode == SNIPPET_EXACT) {
        size_t k = 0;
        for (; k < nb && k < nr; k++)
            if (strcmp(b[k], r[k]) != 0)
                return k;
        return nb == nr ? nb : k;
    }
    size_t from = 0; /* where in the region the next run may start */
    size_t k = 0, matched = 0;
    while (k < nb) {
        if (is_gap_line(b[k], mode)) {
            k++;
            continue;
        }
        size_t run = 0;
        while (k + run < nb && !is_gap_line(b[k + run], mode))
            run++;
        size_t at = from;
        size_t best = 0; /* the longest start of the run found anywhere */
        bool found = false;
        for (; at + run <= nr && !found; at++) {
            size_t j = 0;
            while (j < run && strcmp(b[k + j], r[at + j]) == 0)
                j++;
            found = j == run;
            if (j > best)
                best = j;
        }
        if (!found)
            return k + best; /* the first line that fits nowhere */
        from = at - 1 + run;
        matched += run;
        k += run;
    }
    return matched > 0 ? nb : 0; /* a block of nothing but gaps quotes nothing */
}

/* ---- Docs: the check itself --------------------------------------------------- */

/* Fence languages whose blocks show code: such a block must be a checked
 * snippet or carry an explicit tag. */
static bool is_code_language(const char *info)
{
    static const char *const code[] = { "c", "h", "rust", "rs", "cpp", "python", NULL };
    char lang[32];
    snprintf(lang, sizeof lang, "%.*s", (int)strcspn(info, " {"), info);
    for (int i = 0; code[i]; i++)
        if (strcmp(lang, code[i]) == 0)
            return true;
    return false;
}

struct doc_counts {
    int snippets, outputs, commands, links, illustrative, folded, problems;
    int reports; /* report blocks (see report_block) */
};

/* Which docs must fold their exercises' finished code (see the top comment). */
enum folded_rule { FOLDED_OFF, FOLDED_CONVERTED, FOLDED_ALL };
static enum folded_rule folded_rule = FOLDED_OFF;

static const char SOLUTION_SUMMARY[] = "<summary>Show the solution</summary>";

/* Trimmed line equal to `text`? */
static bool line_is(const char *line, const char *text)
{
    line += strspn(line, " \t");
    size_t n = strlen(text);
    return strncmp(line, text, n) == 0 && line[n + strspn(line + n, " \t")] == '\0';
}

/*
 * Does the region at lines [begin, end] of PATH overlap an exercise region?
 * If so, *exercise holds the first such exercise's marker lines.
 */
static bool overlaps_exercise(const char *path, struct region_place region,
                              struct region_place *exercise)
{
    struct lines l;
    if (!try_read_lines(path, &l))
        return false;
    bool found = false;
    size_t open = 0;
    for (size_t i = 0; i < l.count && !found; i++) {
        const char *m;
        if ((m = marker(l.at[i], '>')) && names(m, "exercise", NULL))
            open = i + 1;
        else if ((m = marker(l.at[i], '<')) && names(m, "exercise", NULL) && open != 0) {
            if (open <= region.end && i + 1 >= region.begin) {
                exercise->begin = open;
                exercise->end = i + 1;
                found = true;
            }
            open = 0;
        }
    }
    free_lines(&l);
    return found;
}

/* Checks the `$ ` lines of the block l[open+1 .. close). */
static void check_block_commands(const char *doc, const struct lines *l, size_t open,
                                 size_t close, struct doc_counts *c)
{
    for (size_t k = open + 1; k < close; k++) {
        if (strncmp(l->at[k], "$ ", 2) != 0)
            continue;
        c->commands++;
        if (!command_works(doc, k + 1, l->at[k] + 2))
            c->problems++;
    }
}

/* Index of the fence that closes the block opened at `open`, or l->count. */
static size_t closing_fence(const struct lines *l, size_t open)
{
    size_t close = open + 1;
    while (close < l->count && strncmp(l->at[close], "```", 3) != 0)
        close++;
    return close;
}

static void copy_lines(FILE *out, const struct lines *l, size_t from, size_t to)
{
    for (size_t k = from; out && k < to && k < l->count; k++)
        fprintf(out, "%s\n", l->at[k]);
}

/* Checks (or, with sync, rewrites) a snippet block; returns the index of
 * its closing fence. */
static size_t snippet_block(const char *doc, const struct lines *l, size_t comment,
                            const char *path, const char *name, enum snippet_mode mode,
                            FILE *out, struct doc_counts *c)
{
    size_t open = comment + 1, close = closing_fence(l, open);
    if (close >= l->count) {
        fprintf(stderr, "%s:%zu: code block never closed\n", doc, open + 1);
        c->problems++;
        copy_lines(out, l, open, l->count);
        return l->count;
    }
    c->snippets++;
    struct lines r;
    struct region_place place = { 0, 0 };
    if (!find_region_at(path, name, &r, &place)) {
        fprintf(stderr, "%s:%zu: %s has no region '%s'\n", doc, comment + 1, path, name);
        c->problems++;
        copy_lines(out, l, open, close + 1);
        free_lines(&r);
        return close;
    }
    size_t nb = close - open - 1;
    size_t bad = first_mismatch(l->at + open + 1, nb, r.at, r.count, mode);
    bool rewrite = out != NULL && mode == SNIPPET_EXACT;
    if (bad < nb || (bad == nb && mode == SNIPPET_EXACT && nb != r.count)) {
        c->problems++;
        const char *how = mode == SNIPPET_EXACT ? "block differs from"
                          : mode == SNIPPET_PARTIAL ? "partial block is not a part of"
                                                    : "wrong-on-purpose block (outside its WRONG lines) differs from";
        size_t doc_line = bad < nb ? open + 2 + bad : close + 1;
        fprintf(stderr, "%s:%zu: %s %s#%s (%s lines %zu-%zu)%s\n", doc, doc_line, how, path,
                name, path, place.begin, place.end,
                rewrite                  ? " (rewritten)"
                : mode != SNIPPET_EXACT  ? " (a tagged block is not rewritten by docs-sync: edit it by hand)"
                                         : " (run `make docs-sync`, then reread the text around it)");
        if (bad < nb)
            fprintf(stderr, "    doc line %zu: %s\n", doc_line, l->at[open + 1 + bad]);
        else
            fprintf(stderr, "    the block has %zu line(s), the region %zu\n", nb, r.count);
    }
    if (out) {
        fprintf(out, "%s\n", l->at[open]);
        if (rewrite)
            copy_lines(out, &r, 0, r.count);
        else
            copy_lines(out, l, open + 1, close);
        fprintf(out, "%s\n", l->at[close]);
    }
    free_lines(&r);
    return close;
}

/* Checks (or rewrites) an output block; returns its closing fence. */
static size_t output_block(const char *doc, const struct lines *l, size_t comment,
                           const char *cmd, bool sync, FILE *out, struct doc_counts *c)
{
    size_t open = comment + 1, close = closing_fence(l, open);
    struct lines got;
    int status = 0;
    c->outputs++;
    if (!run_for_lines(cmd, &got, &status) || status != 0) {
        fprintf(stderr, "%s:%zu: `%s` failed (status %d)\n", doc, comment + 1, cmd, status);
        c->problems++;
    } else {
        size_t bad = first_mismatch(l->at + open + 1, close - open - 1, got.at, got.count,
                                    SNIPPET_EXACT);
        if (bad < close - open - 1 || close - open - 1 != got.count) {
            c->problems++;
            fprintf(stderr, "%s:%zu: the output of `%s` differs from the block%s\n", doc,
                    open + 2 + bad, cmd, sync ? " (rewritten)" : " (run `make docs-sync`)");
        }
    }
    if (out) {
        fprintf(out, "%s\n", l->at[open]);
        if (status == 0)
            copy_lines(out, &got, 0, got.count);
        else
            copy_lines(out, l, open + 1, close);
        if (close < l->count)
            fprintf(out, "%s\n", l->at[close]);
    }
    free_lines(&got);
    return close;
}

/* ---- Docs: tool reports ------------------------------------------------------ */

/*
 * A report block shows what a tool printed: a sanitizer's report, a
 * debugger's backtrace, a failing test.  It is preceded by
 *     <!-- report: CMD -->
 * and checked against a real run of CMD (stdout and stderr together, any
 * exit status: such commands fail on purpose).  Two things differ from
 * one run to the next and are normalised on both sides before comparing:
 * addresses, process and thread ids, frame numbers, ports, sizes and
 * timings (normalise_report_line).  A report is long and partly
 * nondeterministic, so the block shows a part of it: its lines must appear
 * in the run's output in the same order, with "..." lines standing for
 * lines left out, as in a partial snippet.  A racy program may report a
 * different stack each time, so a mismatch is retried a few times.
 * sync-docs never rewrites a report block: which lines to show is a
 * choice, so a drifted one is printed with the run's output to pick from.
 */

#define REPORT_TRIES 3

/* "<!-- report: CMD -->" alone on its line -> CMD, or false (one quoted in
 * a sentence or a table is not a block's comment). */
static bool parse_report_comment(const char *line, char *cmd, size_t cmd_len)
{
    const char *p = line + strspn(line, " ");
    if (strncmp(p, "<!-- report:", strlen("<!-- report:")) != 0)
        return false;
    return comment_body(p + strlen("<!-- report:"), cmd, cmd_len);
}

/* What varies between runs of the same program, and what it becomes.  The
 * patterns are POSIX extended regular expressions; "\1" in a replacement
 * is the first group. */
static const struct {
    const char *pattern, *replacement;
} report_normalisations[] = {
    { "0x[0-9a-fA-F]+", "0x?" },                         /* addresses */
    { "(pid|tid)=[0-9]+", "\\1=?" },                      /* TSan's pid=, tid= */
    { "(LWP|process) [0-9]+", "\\1 ?" },                  /* gdb's thread and process ids */
    { "==[0-9]+==", "==?==" },                            /* ASan's ==pid== prefix */
    { "(^|[^A-Za-z0-9_])T[0-9]+", "\\1T?" },              /* sanitizer thread names T1, T2 */
    { "^( *)#[0-9]+", "\\1#?" },                          /* stack frame numbers */
    { "(127\\.0\\.0\\.1|localhost):[0-9]+", "\\1:?" },    /* throwaway servers' ports */
    { "size [0-9]+", "size ?" },                          /* sanitizer access sizes */
    { "[0-9]+(\\.[0-9]+)?( ?(ns|us|ms|s)([^A-Za-z0-9_]|$))", "?\\2" }, /* timings */
};
#define REPORT_NORMALISATIONS (sizeof report_normalisations / sizeof report_normalisations[0])

static regex_t report_regex[REPORT_NORMALISATIONS];
static bool report_regex_ready = false;

/* IN with every match of RE replaced by REPLACEMENT; a new string. */
static char *replace_all(const char *in, const regex_t *re, const char *replacement)
{
    size_t cap = strlen(in) * 2 + 64, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        die("out of memory");
    const char *p = in;
    regmatch_t m[3];
    int flags = 0;
    for (;;) {
        bool matched = regexec(re, p, 3, m, flags) == 0 && m[0].rm_eo >= m[0].rm_so;
        size_t keep = matched ? (size_t)m[0].rm_so : strlen(p);
        size_t need = len + strlen(replacement) + 3 * strlen(p) + 16;
        if (need > cap) {
            cap = need * 2;
            out = realloc(out, cap);
            if (out == NULL)
                die("out of memory");
        }
        memcpy(out + len, p, keep);
        len += keep;
        if (!matched)
            break;
        for (const char *r = replacement; *r; r++) {
            int group = r[0] == '\\' && r[1] >= '1' && r[1] <= '2' ? r[1] - '0' : 0;
            if (group == 0) {
                out[len++] = *r;
                continue;
            }
            r++;
            if (m[group].rm_so >= 0) {
                size_t n = (size_t)(m[group].rm_eo - m[group].rm_so);
                memcpy(out + len, p + m[group].rm_so, n);
                len += n;
            }
        }
        /* An empty match must still move on, or the loop never ends. */
        if (m[0].rm_eo == m[0].rm_so) {
            if (p[m[0].rm_eo] == '\0')
                break;
            out[len++] = p[m[0].rm_eo];
            p += m[0].rm_eo + 1;
        } else {
            p += m[0].rm_eo;
        }
        flags = REG_NOTBOL;
    }
    out[len] = '\0';
    return out;
}

/* One line of a report with what varies between runs replaced by "?". */
static char *normalise_report_line(const char *line)
{
    if (!report_regex_ready) {
        for (size_t i = 0; i < REPORT_NORMALISATIONS; i++)
            if (regcomp(&report_regex[i], report_normalisations[i].pattern, REG_EXTENDED) != 0)
                die("bad report pattern %s", report_normalisations[i].pattern);
        report_regex_ready = true;
    }
    char *s = strdup(line);
    if (s == NULL)
        die("out of memory");
    /* Trailing blanks never matter. */
    for (size_t n = strlen(s); n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'); n--)
        s[n - 1] = '\0';
    for (size_t i = 0; i < REPORT_NORMALISATIONS; i++) {
        char *next = replace_all(s, &report_regex[i], report_normalisations[i].replacement);
        free(s);
        s = next;
    }
    return s;
}

static void normalise_report_lines(struct lines *l)
{
    for (size_t i = 0; i < l->count; i++) {
        char *n = normalise_report_line(l->at[i]);
        free(l->at[i]);
        l->at[i] = n;
    }
}

/* Checks a report block against runs of CMD; returns its closing fence. */
static size_t report_block(const char *doc, const struct lines *l, size_t comment,
                           const char *cmd, FILE *out, struct doc_counts *c)
{
    size_t open = comment + 1, close = closing_fence(l, open);
    c->reports++;
    if (close >= l->count) {
        fprintf(stderr, "%s:%zu: code block never closed\n", doc, open + 1);
        c->problems++;
        copy_lines(out, l, open, l->count);
        return l->count;
    }
    size_t nb = close - open - 1;
    struct lines want = { calloc(nb + 1, sizeof(char *)), nb };
    if (want.at == NULL)
        die("out of memory");
    for (size_t k = 0; k < nb; k++)
        want.at[k] = normalise_report_line(l->at[open + 1 + k]);
    char merged[4200];
    snprintf(merged, sizeof merged, "{ %s ; } 2>&1", cmd);
    struct lines got = { NULL, 0 };
    size_t bad = 0;
    int tries = 0;
    while (tries < REPORT_TRIES) {
        int status = 0;
        free_lines(&got);
        tries++;
        if (!run_for_lines(merged, &got, &status)) {
            got.at = NULL;
            got.count = 0;
        }
        normalise_report_lines(&got);
        bad = first_mismatch(want.at, nb, got.at, got.count, SNIPPET_PARTIAL);
        if (bad == nb)
            break;
    }
    if (bad < nb) {
        c->problems++;
        fprintf(stderr,
                "%s:%zu: the report of `%s` does not hold the block's lines in this order "
                "(%d run(s), addresses, ids, sizes and timings normalised); edit the block by hand\n"
                "    doc line %zu: %s\n    the last run printed (normalised):\n",
                doc, open + 2 + bad, cmd, tries, open + 2 + bad, l->at[open + 1 + bad]);
        for (size_t k = 0; k < got.count && k < 60; k++)
            fprintf(stderr, "    | %s\n", got.at[k]);
    }
    copy_lines(out, l, open, close + 1);
    free_lines(&got);
    free_lines(&want);
    return close;
}

/* ---- Docs: line numbers in prose ------------------------------------------- */

/*
 * "shared_client.c:118" in prose is true for one version of the file and
 * false from the next edit on, and nothing notices.  So a doc may cite a
 * source line only through a block that runs the code (an output or
 * report block, where the line numbers come from a real run of the
 * current code); elsewhere it names the function or the snippet marker.
 * Returns the number of such references on the line (each reported).
 */
static int check_line_numbers(const char *doc, size_t line_no, const char *line)
{
    static regex_t re;
    static bool ready = false;
    if (!ready) {
        if (regcomp(&re, "([A-Za-z0-9_./-]+\\.(c|h|rs|sh|py|gp|dot|txt)|Makefile):[0-9]+",
                    REG_EXTENDED) != 0)
            die("bad line-number pattern");
        ready = true;
    }
    int found = 0;
    regmatch_t m[1];
    for (const char *p = line; regexec(&re, p, 1, m, p == line ? 0 : REG_NOTBOL) == 0;
         p += m[0].rm_eo) {
        fprintf(stderr,
                "%s:%zu: '%.*s' cites a line number, which the next edit of that file makes "
                "wrong: name the function or snippet marker instead, or show the line in an "
                "output or report block (those run the code)\n",
                doc, line_no, (int)(m[0].rm_eo - m[0].rm_so), p + m[0].rm_so);
        found++;
    }
    return found;
}

static int check_line_numbers_in_block(const char *doc, const struct lines *l, size_t open,
                                       size_t close)
{
    int found = 0;
    for (size_t k = open + 1; k < close && k < l->count; k++)
        found += check_line_numbers(doc, k + 1, l->at[k]);
    return found;
}

/* Collapses runs of blanks and trims; "/chapters/" becomes "/solutions/",
 * because a doc shows the learner's command and runs the finished program. */
static void normalise_command(const char *in, char *out, size_t out_len)
{
    size_t o = 0;
    bool blank = true;
    for (const char *p = in; *p && o + 1 < out_len; p++) {
        if (*p == ' ' || *p == '\t') {
            blank = true;
            continue;
        }
        if (blank && o > 0)
            out[o++] = ' ';
        blank = false;
        if (strncmp(p, "/chapters/", 10) == 0 && o + 11 < out_len) {
            memcpy(out + o, "/solutions/", 11);
            o += 11;
            p += 9;
            continue;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

/*
 * A "$ command" shown right above an output block must run what that block
 * runs, or the reader types one thing and the check proves another.  A make
 * command is dry-run and the program it would start found after its last
 * " -- " (with-redis's separator); any other command, and the output
 * block's own command (`with-redis --cluster -- PROGRAM` for a program that
 * needs a cluster), is taken after its " -- " if it has one.  Returns
 * false, with a message, on a mismatch.
 */
static bool shown_command_matches(const char *doc, size_t shown_line, const char *shown,
                                  const char *output_cmd)
{
    char program[4096] = "";
    const char *rest = shown;
    if (strncmp(shown, "make ", 5) == 0 || strcmp(shown, "make") == 0) {
        char dry[4096];
        snprintf(dry, sizeof dry, "%s -n --no-print-directory 2>/dev/null", shown);
        struct lines got;
        int status = 0;
        if (run_for_lines(dry, &got, &status)) {
            for (size_t k = 0; k < got.count; k++) {
                const char *sep = strstr(got.at[k], " -- ");
                if (sep != NULL)
                    snprintf(program, sizeof program, "%s", sep + 4);
            }
            free_lines(&got);
        }
        rest = program;
    } else {
        const char *sep = strstr(shown, " -- ");
        if (sep != NULL)
            rest = sep + 4;
    }
    const char *output_sep = strstr(output_cmd, " -- ");
    if (output_sep != NULL)
        output_cmd = output_sep + 4;
    char a[4096], b[4096];
    normalise_command(rest, a, sizeof a);
    normalise_command(output_cmd, b, sizeof b);
    if (strcmp(a, b) == 0)
        return true;
    fprintf(stderr, "%s:%zu: the command shown (%s) runs `%s`, but the output block below it runs `%s`\n",
            doc, shown_line, shown, a[0] ? a : "(nothing found)", b);
    return false;
}

/* Does the ```sh block that closed at line `shown_close` (and showed the
 * command `shown`) sit right above line `at`, with only blank lines
 * between? */
static bool shown_right_above(const struct lines *l, size_t at, const char *shown,
                              size_t shown_close)
{
    bool right_above = shown != NULL && shown_close < at;
    for (size_t k = shown_close + 1; right_above && k < at; k++)
        right_above = l->at[k][0] == '\0';
    return right_above;
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
    struct doc_counts c = { 0 };
    /* Whether this doc is held to the folded-solutions rule, and whether the
     * line being read sits inside a <details> block with the solution's
     * summary. */
    bool folds = folded_rule == FOLDED_ALL;
    for (size_t i = 0; i < l.count && folded_rule == FOLDED_CONVERTED && !folds; i++)
        folds = strncmp(l.at[i], "    ", 4) != 0 && strstr(l.at[i], SOLUTION_SUMMARY) != NULL;
    bool in_details = false, solution_details = false;
    /* The last "$ " line of the latest ```sh block, and where that block
     * closed: an output comment right below it must run that command. */
    const char *shown = NULL;
    size_t shown_line = 0, shown_close = 0;
    for (size_t i = 0; i < l.count; i++) {
        const char *line = l.at[i];
        if (out)
            fprintf(out, "%s\n", line);
        /* An indented code block (four spaces) shows Markdown as text,
         * as CONTRIBUTING.md does with these very comments: skip it. */
        if (strncmp(line, "    ", 4) == 0 || line[0] == '\t')
            continue;
        char path[1024], name[256], cmd[2048];
        enum snippet_mode mode;
        bool tag_ok;
        bool next_is_fence = i + 1 < l.count && strncmp(l.at[i + 1], "```", 3) == 0;

        if (line_is(line, "<details>")) {
            in_details = true;
            solution_details = false;
        } else if (line_is(line, "</details>")) {
            in_details = false;
        } else if (in_details && strstr(line, SOLUTION_SUMMARY) != NULL) {
            solution_details = true;
        }

        if (parse_snippet_comment(line, path, sizeof path, name, sizeof name, &mode, &tag_ok)) {
            struct lines region;
            struct region_place place = { 0, 0 }, exercise = { 0, 0 };
            if (find_region_at(path, name, &region, &place) &&
                overlaps_exercise(path, place, &exercise)) {
                if (in_details && solution_details) {
                    c.folded++;
                } else if (folds) {
                    fprintf(stderr,
                            "%s:%zu: shows the finished code of an exercise outside a folded "
                            "solution (%s#%s, lines %zu-%zu, overlaps the exercise at lines "
                            "%zu-%zu): put it in <details> %s ... </details>, after the "
                            "\"check your work\" step\n",
                            doc, i + 1, path, name, place.begin, place.end, exercise.begin,
                            exercise.end, SOLUTION_SUMMARY);
                    c.problems++;
                }
            }
            free_lines(&region);
            if (!tag_ok) {
                fprintf(stderr, "%s:%zu: unknown snippet tag (known: partial, wrong-on-purpose)\n",
                        doc, i + 1);
                c.problems++;
            }
            if (!next_is_fence) {
                fprintf(stderr, "%s:%zu: a snippet comment must be followed by a ``` block\n", doc, i + 1);
                c.problems++;
                continue;
            }
            i = snippet_block(doc, &l, i, path, name, mode, out, &c);
            continue;
        }
        /* A block that runs a command: its output, or a tool's report. */
        bool is_output = parse_output_comment(line, cmd, sizeof cmd);
        if (is_output || parse_report_comment(line, cmd, sizeof cmd)) {
            if (shown_right_above(&l, i, shown, shown_close) &&
                !shown_command_matches(doc, shown_line, shown, cmd))
                c.problems++;
            if (!next_is_fence) {
                fprintf(stderr, "%s:%zu: %s comment must be followed by a ``` block\n", doc, i + 1,
                        is_output ? "an output" : "a report");
                c.problems++;
                continue;
            }
            i = is_output ? output_block(doc, &l, i, cmd, sync, out, &c)
                          : report_block(doc, &l, i, cmd, out, &c);
            continue;
        }
        if (is_illustrative_comment(line)) {
            if (!next_is_fence) {
                fprintf(stderr, "%s:%zu: an illustrative tag must be followed by a ``` block\n", doc, i + 1);
                c.problems++;
                continue;
            }
            /* Shown, not compared; its commands must still be real. */
            size_t close = closing_fence(&l, i + 1);
            c.illustrative++;
            check_block_commands(doc, &l, i + 1, close, &c);
            c.problems += check_line_numbers_in_block(doc, &l, i + 1, close);
            copy_lines(out, &l, i + 1, close + 1);
            i = close;
            continue;
        }
        if (strncmp(line, "```", 3) == 0) {
            /* An untagged block. */
            const char *info = line + 3;
            size_t close = closing_fence(&l, i);
            if (close >= l.count) {
                fprintf(stderr, "%s:%zu: code block never closed\n", doc, i + 1);
                c.problems++;
            } else if (is_code_language(info)) {
                fprintf(stderr,
                        "%s:%zu: a ```%s block that is neither a checked snippet nor tagged: "
                        "precede it with <!-- snippet: PATH#NAME [partial|wrong-on-purpose] --> "
                        "or <!-- illustrative -->\n",
                        doc, i + 1, info);
                c.problems++;
            }
            /* sh blocks hold commands to type; a text block is output or
             * a picture, whose "$ " lines must be real commands too. */
            check_block_commands(doc, &l, i, close, &c);
            c.problems += check_line_numbers_in_block(doc, &l, i, close);
            if (strncmp(info, "sh", 2) == 0 || strncmp(info, "console", 7) == 0) {
                shown = NULL;
                for (size_t k = i + 1; k < close; k++)
                    if (strncmp(l.at[k], "$ ", 2) == 0) {
                        shown = l.at[k] + 2;
                        shown_line = k + 1;
                    }
                shown_close = close;
            }
            copy_lines(out, &l, i + 1, close + 1);
            i = close;
            continue;
        }
        c.problems += check_links_on_line(doc, i + 1, line, &c.links);
        c.problems += check_line_numbers(doc, i + 1, line);
    }
    if (out) {
        fclose(out);
        if (rename(tmp_path, doc) != 0)
            die("cannot replace %s", doc);
    }
    free_lines(&l);
    if (!sync)
        printf("%s: %d snippet(s) (%d folded solution(s)), %d output block(s), %d report(s), "
               "%d command(s), %d link(s), %d illustrative block(s); %d problem(s)\n",
               doc, c.snippets, c.folded, c.outputs, c.reports, c.commands, c.links, c.illustrative,
               c.problems);
    return sync ? 0 : c.problems;
}

/* ---- snip check-api: a reference page names every public function ---------- */

/* The names of the functions HEADER declares, with their line numbers:
 * every top-level declaration `... NAME(...)` that is not a typedef or a
 * preprocessor line.  Comments are skipped. */
static void declared_functions(const char *header, struct lines *names_out, size_t **line_of)
{
    struct lines l = read_lines(header);
    names_out->at = calloc(l.count + 1, sizeof *names_out->at);
    *line_of = calloc(l.count + 1, sizeof **line_of);
    names_out->count = 0;
    if (names_out->at == NULL || *line_of == NULL)
        die("out of memory reading %s", header);
    bool in_comment = false;
    int braces = 0, parens = 0;
    bool statement_is_typedef = false;
    for (size_t i = 0; i < l.count; i++) {
        const char *s = l.at[i];
        if (!in_comment && s[strspn(s, " \t")] == '#')
            continue;
        char ident[256] = "";
        for (const char *p = s; *p; p++) {
            if (in_comment) {
                if (p[0] == '*' && p[1] == '/') {
                    in_comment = false;
                    p++;
                }
                continue;
            }
            if (p[0] == '/' && p[1] == '*') {
                in_comment = true;
                p++;
                continue;
            }
            if (p[0] == '/' && p[1] == '/')
                break;
            if (isalnum((unsigned char)*p) || *p == '_') {
                size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
                snprintf(ident, sizeof ident, "%.*s", (int)n, p);
                if (braces == 0 && parens == 0 && strcmp(ident, "typedef") == 0)
                    statement_is_typedef = true;
                p += n - 1;
                continue;
            }
            if (*p == '{')
                braces++;
            else if (*p == '}')
                braces--;
            else if (*p == '(') {
                if (braces == 0 && parens == 0 && !statement_is_typedef && ident[0] != '\0' &&
                    !isdigit((unsigned char)ident[0])) {
                    names_out->at[names_out->count] = strdup(ident);
                    (*line_of)[names_out->count++] = i + 1;
                }
                parens++;
            } else if (*p == ')')
                parens--;
            else if (*p == ';' && braces == 0 && parens == 0)
                statement_is_typedef = false;
            if (!isspace((unsigned char)*p))
                ident[0] = '\0';
        }
    }
    free_lines(&l);
}

/* Is NAME in TEXT as a whole word? */
static bool mentions(const struct lines *text, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < text->count; i++) {
        for (const char *p = strstr(text->at[i], name); p; p = strstr(p + 1, name)) {
            bool left = p == text->at[i] || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
            bool right = !(isalnum((unsigned char)p[n]) || p[n] == '_');
            if (left && right)
                return true;
        }
    }
    return false;
}

static int cmd_check_api(const char *doc, int nheaders, char **headers)
{
    struct lines text = read_lines(doc);
    int missing = 0, total = 0;
    for (int h = 0; h < nheaders; h++) {
        struct lines fns;
        size_t *line_of;
        declared_functions(headers[h], &fns, &line_of);
        for (size_t k = 0; k < fns.count; k++) {
            total++;
            if (!mentions(&text, fns.at[k])) {
                fprintf(stderr, "%s: does not mention %s, declared in %s:%zu\n", doc, fns.at[k],
                        headers[h], line_of[k]);
                missing++;
            }
        }
        free(line_of);
        free_lines(&fns);
    }
    free_lines(&text);
    printf("%s: mentions %d of the %d public functions of", doc, total - missing, total);
    for (int h = 0; h < nheaders; h++)
        printf(" %s", headers[h]);
    printf("\n");
    return missing == 0 ? 0 : 1;
}

/* ---- snip check-words: a chapter says each thing once ------------------------ */

/*
 * The words of a doc's prose: every whitespace-separated token with a
 * letter or a digit in it, outside fenced code blocks, HTML comments and
 * HTML tags (a table's "|" or a "->" is not a word).  Code, program
 * output and the comments that tie blocks to their sources are not prose.
 */
static size_t prose_words(const char *path)
{
    struct lines l = read_lines(path);
    size_t words = 0;
    bool fenced = false, in_comment = false;
    for (size_t i = 0; i < l.count; i++) {
        const char *t = l.at[i];
        if (!in_comment && strncmp(t, "```", 3) == 0) {
            fenced = !fenced;
            continue;
        }
        if (fenced)
            continue;
        bool in_word = false, counted = false, in_tag = false;
        for (const char *p = t;; p++) {
            if (in_comment) {
                if (*p == '\0')
                    break;
                if (strncmp(p, "-->", 3) == 0) {
                    in_comment = false;
                    p += 2;
                }
                continue;
            }
            if (strncmp(p, "<!--", 4) == 0) {
                in_comment = true;
                in_word = false;
                p += 3;
                continue;
            }
            if (!in_tag && p[0] == '<' && (isalpha((unsigned char)p[1]) || p[1] == '/')) {
                in_tag = true;
                in_word = false;
                continue;
            }
            if (in_tag) {
                if (*p == '\0')
                    break;
                if (*p == '>')
                    in_tag = false;
                continue;
            }
            if (*p == '\0' || isspace((unsigned char)*p)) {
                in_word = false;
                if (*p == '\0')
                    break;
                continue;
            }
            if (!in_word) {
                in_word = true;
                counted = false;
            }
            if (!counted && (isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80)) {
                words++;
                counted = true;
            }
        }
    }
    free_lines(&l);
    return words;
}

/* NN of ".../NN-name.md", or -1. */
static int chapter_number_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (isdigit((unsigned char)base[0]) && isdigit((unsigned char)base[1]) && base[2] == '-')
        return (base[0] - '0') * 10 + (base[1] - '0');
    return -1;
}

/*
 * snip check-words EACH TOTAL FIRST LAST DOC...
 * Every chapter doc (NN-name.md) holds at most EACH words of prose, and the
 * chapters FIRST to LAST at most TOTAL together.  Prints every count.
 */
static int cmd_check_words(char **argv, int ndocs, char **docs)
{
    long each = atol(argv[0]), total_max = atol(argv[1]);
    int first = atoi(argv[2]), last = atoi(argv[3]);
    size_t total = 0;
    int over = 0;
    for (int i = 0; i < ndocs; i++) {
        int n = chapter_number_of(docs[i]);
        size_t words = prose_words(docs[i]);
        bool too_long = n >= 0 && (long)words > each;
        printf("%s: %zu words of prose%s\n", docs[i], words,
               n >= 0 ? "" : " (not a chapter: no bound)");
        if (too_long) {
            fprintf(stderr,
                    "%s: %zu words of prose, over the bound of %ld for a chapter: say each "
                    "thing once, where it is first needed, and link to it elsewhere\n",
                    docs[i], words, each);
            over++;
        }
        if (n >= first && n <= last)
            total += words;
    }
    printf("chapters %02d-%02d: %zu words of prose in all (at most %ld)\n", first, last, total,
           total_max);
    if ((long)total > total_max) {
        fprintf(stderr, "chapters %02d-%02d: %zu words of prose in all, over the bound of %ld\n",
                first, last, total, total_max);
        over++;
    }
    return over == 0 ? 0 : 1;
}

/* ---- snip check-hints: the sections the tests send learners to exist ------- */

/* docs/NN-*.md for chapter NN, into `out`; false if there is none. */
static bool chapter_doc_path(const char *docs_dir, int chapter, char *out, size_t out_len)
{
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/%02d-*.md", docs_dir, chapter);
    glob_t g;
    bool found = glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc == 1;
    if (found)
        snprintf(out, out_len, "%s", g.gl_pathv[0]);
    globfree(&g);
    return found;
}

/* Could this string literal be a section title?  One line of words that
 * starts with a capital letter and is no format or message. */
static bool title_like(const char *s, size_t n)
{
    if (n == 0 || n > 80 || !isupper((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '%' || s[i] == '\\')
            return false;
    return s[n - 1] != '.' && s[n - 1] != ' ' && s[n - 1] != ':';
}

struct hint_check {
    int checked, missing;
};

/* One title a test or a table names for chapter NN: is it a heading? */
static void check_one_hint(const char *docs_dir, int chapter, const char *title, size_t len,
                           const char *where, size_t line_no, struct hint_check *h)
{
    char doc[1024];
    h->checked++;
    if (!chapter_doc_path(docs_dir, chapter, doc, sizeof doc)) {
        fprintf(stderr, "%s:%zu: names section \"%.*s\" of chapter %02d, which has no %s/%02d-*.md\n",
                where, line_no, (int)len, title, chapter, docs_dir, chapter);
        h->missing++;
        return;
    }
    struct lines headings;
    doc_headings(doc, &headings);
    bool ok = false;
    for (size_t k = 0; k < headings.count && !ok; k++)
        ok = strlen(headings.at[k]) == len && strncmp(headings.at[k], title, len) == 0;
    free_lines(&headings);
    if (!ok) {
        fprintf(stderr,
                "%s:%zu: sends the learner to section \"%.*s\", which is no heading of %s "
                "(rename the hint with the heading, in the same commit)\n",
                where, line_no, (int)len, title, doc);
        h->missing++;
    }
}

/* A file's text in one string, lines joined by '\n'. */
static char *whole_text(const struct lines *l)
{
    size_t total = 1;
    for (size_t i = 0; i < l->count; i++)
        total += strlen(l->at[i]) + 1;
    char *text = malloc(total);
    if (text == NULL)
        die("out of memory");
    size_t o = 0;
    for (size_t i = 0; i < l->count; i++) {
        size_t n = strlen(l->at[i]);
        memcpy(text + o, l->at[i], n);
        text[o + n] = '\n';
        o += n + 1;
    }
    text[o] = '\0';
    return text;
}

/* Reads the C string literal at *p, with any literals that follow it after
 * blanks or newlines ("a " "b" is "a b"), into out; moves *p past it and
 * counts the newlines crossed in *line.  False if *p is no literal. */
static bool read_literal(const char **p, char *out, size_t out_len, size_t *line)
{
    const char *q = *p;
    size_t o = 0;
    if (*q != '"')
        return false;
    while (*q == '"') {
        for (q++; *q && *q != '"'; q++) {
            if (*q == '\\' && q[1] != '\0')
                q++;
            if (o + 1 < out_len)
                out[o++] = *q;
        }
        if (*q != '"')
            break;
        const char *after = q + 1;
        size_t crossed = 0;
        while (*after == ' ' || *after == '\t' || *after == '\n')
            crossed += *after++ == '\n';
        if (*after != '"') {
            q++;
            break;
        }
        *line += crossed;
        q = after;
    }
    out[o] = '\0';
    *p = q;
    return true;
}

/*
 * The section titles of a chapter test: every CHAPTER_HINT("...") literal,
 * and, where a hint's section is chosen at run time (CHAPTER_HINT("%s")),
 * the title-like literals on lines that name a section (`section = "..."`,
 * `section_for(text, "...")`) and those returned by a function whose name
 * has "section" in it.
 */
static void check_test_hints(const char *docs_dir, const char *path, struct hint_check *h)
{
    int chapter = -1;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (sscanf(base, "test_%2d.c", &chapter) != 1)
        die("%s: a chapter test is named test_NN.c", path);
    struct lines l = read_lines(path);
    /* The whole file in one string, for literals split over lines. */
    char *text = whole_text(&l), title[512];
    bool chosen_at_run_time = strstr(text, "CHAPTER_HINT(\"%s\")") != NULL;
    size_t line_no = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            line_no++;
            continue;
        }
        if (strncmp(p, "CHAPTER_HINT(", 13) != 0)
            continue;
        const char *q = p + 13;
        size_t at = line_no;
        if (read_literal(&q, title, sizeof title, &line_no) && strcmp(title, "%s") != 0)
            check_one_hint(docs_dir, chapter, title, strlen(title), path, at, h);
        p = q - 1;
    }
    bool in_section_function = false;
    for (size_t i = 0; chosen_at_run_time && i < l.count; i++) {
        const char *t = l.at[i];
        if (t[0] == '}')
            in_section_function = false;
        if (t[0] != ' ' && t[0] != '}' && strchr(t, '(') != NULL && strstr(t, "section") != NULL)
            in_section_function = true;
        bool names_section = strstr(t, "section") != NULL ||
                             (in_section_function && strstr(t, "return \"") != NULL);
        if (!names_section || strstr(t, "CHAPTER_HINT(") != NULL)
            continue;
        for (const char *q = strchr(t, '"'); q != NULL; q = strchr(q, '"')) {
            size_t ignored = 0;
            const char *start = q;
            read_literal(&q, title, sizeof title, &ignored);
            if (title_like(title, strlen(title)))
                check_one_hint(docs_dir, chapter, title, strlen(title), path, i + 1, h);
            if (q == start)
                q++;
        }
    }
    free(text);
    free_lines(&l);
}

/*
 * Programs, tests and comments also cite sections in words:
 *     See docs/03-manager-task.md, "When the manager never ends".
 * (in a C string the quotes are \", and the title may run on into the next
 * literal).  The title after every such citation must be a heading of that
 * doc.
 */
static void check_source_citations(const char *docs_dir, const char *path,
                                   struct hint_check *h)
{
    struct lines l = read_lines(path);
    char *text = whole_text(&l);
    size_t line_no = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            line_no++;
        int chapter;
        if (strncmp(p, "docs/", 5) != 0 || !isdigit((unsigned char)p[5]) ||
            !isdigit((unsigned char)p[6]) || p[7] != '-' || sscanf(p + 5, "%2d", &chapter) != 1)
            continue;
        const char *q = p + 8 + strspn(p + 8, "abcdefghijklmnopqrstuvwxyz0123456789-");
        if (strncmp(q, ".md,", 4) != 0)
            continue;
        q += 4;
        q += strspn(q, " ");
        bool in_literal = q[0] == '\\' && q[1] == '"';
        if (!in_literal && q[0] != '"')
            continue;
        q += in_literal ? 2 : 1;
        char title[256];
        size_t n = 0, at = line_no;
        while (*q && n + 1 < sizeof title) {
            if (in_literal && q[0] == '\\' && q[1] == '"')
                break; /* the closing \" */
            if (!in_literal && q[0] == '"')
                break;
            if (in_literal && q[0] == '\\' && q[1] == 'n') {
                title[n++] = ' ';
                q += 2;
                continue;
            }
            if (in_literal && q[0] == '"') {
                /* "...Testing\n" "your work\"": the literal goes on. */
                q++;
                while (*q == ' ' || *q == '\t' || *q == '\n')
                    line_no += *q++ == '\n';
                if (*q == '"')
                    q++;
                continue;
            }
            if (*q == '\n')
                break; /* a comment's title ends with its line */
            title[n++] = *q++;
        }
        title[n] = '\0';
        /* A title cut across a line in a comment, or a C string, keeps a
         * blank at the seam: fold runs of blanks into one. */
        size_t o = 0;
        for (size_t k = 0; k < n; k++)
            if (!(title[k] == ' ' && o > 0 && title[o - 1] == ' '))
                title[o++] = title[k];
        title[o] = '\0';
        if (title_like(title, strlen(title)))
            check_one_hint(docs_dir, chapter, title, strlen(title), path, at, h);
        p = q > p ? q - 1 : p;
    }
    free(text);
    free_lines(&l);
}

/* The rows of tests/chapters/sections.txt and pitfalls.txt:
 * "NN | name | section title | ...", comments after '#'. */
static void check_table_hints(const char *docs_dir, const char *path, struct hint_check *h)
{
    struct lines l;
    if (!try_read_lines(path, &l))
        return; /* a table that does not exist names nothing */
    for (size_t i = 0; i < l.count; i++) {
        const char *t = l.at[i];
        t += strspn(t, " \t");
        if (*t == '#' || *t == '\0')
            continue;
        int chapter;
        if (sscanf(t, "%d", &chapter) != 1)
            continue;
        const char *bar1 = strchr(t, '|');
        const char *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
        if (bar2 == NULL)
            continue;
        const char *s = bar2 + 1;
        while (*s == ' ')
            s++;
        const char *e = strchr(s, '|');
        if (e == NULL)
            e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        check_one_hint(docs_dir, chapter, s, (size_t)(e - s), path, i + 1, h);
    }
    free_lines(&l);
}

/* snip check-hints DOCS_DIR FILE...: test_NN.c files, the .txt tables,
 * and any other source that cites a section in words. */
static int cmd_check_hints(const char *docs_dir, int nfiles, char **files)
{
    struct hint_check h = { 0, 0 };
    for (int i = 0; i < nfiles; i++) {
        size_t n = strlen(files[i]);
        const char *base = strrchr(files[i], '/');
        base = base ? base + 1 : files[i];
        if (n > 4 && strcmp(files[i] + n - 4, ".txt") == 0) {
            check_table_hints(docs_dir, files[i], &h);
            continue;
        }
        if (strncmp(base, "test_", 5) == 0 && isdigit((unsigned char)base[5]))
            check_test_hints(docs_dir, files[i], &h);
        check_source_citations(docs_dir, files[i], &h);
    }
    printf("check-hints: %d section title(s) named by hints, tables and sources, %d not a "
           "heading of its chapter\n", h.checked, h.missing);
    return h.missing == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "starter") == 0)
        return cmd_copy(argv[2], COPY_STARTER, "");
    if (argc == 3 && strcmp(argv[1], "solution") == 0)
        return cmd_copy(argv[2], COPY_SOLUTION, "");
    if (argc == 4 && strcmp(argv[1], "plant") == 0)
        return cmd_copy(argv[2], COPY_PLANTED, argv[3]);
    if (argc >= 3 && strcmp(argv[1], "pitfalls") == 0)
        return cmd_pitfalls(argc - 2, argv + 2);
    if (argc == 4 && strcmp(argv[1], "region") == 0)
        return cmd_region(argv[2], argv[3]);
    if (argc >= 4 && strcmp(argv[1], "check-api") == 0)
        return cmd_check_api(argv[2], argc - 3, argv + 3);
    if (argc >= 6 && strcmp(argv[1], "check-words") == 0)
        return cmd_check_words(argv + 2, argc - 6, argv + 6);
    if (argc >= 3 && strcmp(argv[1], "check-hints") == 0)
        return cmd_check_hints(argv[2], argc - 3, argv + 3);
    if (argc >= 2 && (strcmp(argv[1], "check-docs") == 0 || strcmp(argv[1], "sync-docs") == 0)) {
        bool sync = argv[1][0] == 's';
        int bad = 0, first = 2;
        const char *opt = "--folded-solutions=";
        if (argc > 2 && strncmp(argv[2], opt, strlen(opt)) == 0) {
            const char *v = argv[2] + strlen(opt);
            if (strcmp(v, "all") == 0)
                folded_rule = FOLDED_ALL;
            else if (strcmp(v, "converted") == 0)
                folded_rule = FOLDED_CONVERTED;
            else if (strcmp(v, "off") == 0)
                folded_rule = FOLDED_OFF;
            else
                die("--folded-solutions takes off, converted or all (got '%s')", v);
            first = 3;
        }
        for (int i = first; i < argc; i++)
            bad += check_or_sync_doc(argv[i], sync);
        return bad == 0 ? 0 : 1;
    }
    fprintf(stderr,
            "usage: snip starter FILE | snip solution FILE | snip plant FILE NAME |\n"
            "       snip pitfalls FILE... | snip region FILE NAME |\n"
            "       snip check-docs DOC... | snip sync-docs DOC... |\n"
            "       snip check-api DOC HEADER... |\n"
            "       snip check-words EACH TOTAL FIRST LAST DOC... |\n"
            "       snip check-hints DOCS_DIR TEST_OR_TABLE...\n");
    return 2;
}
