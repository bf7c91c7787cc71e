/*
 * steps.c - a chapter is the previous chapter plus its step.
 *
 * solutions/steps.txt says, for each chapter, which chapter it builds on
 * and which of its files the step may change.  This tool holds the
 * chapters to it and measures them:
 *
 *   steps check MANIFEST   exit 1, naming each problem, if a chapter breaks
 *                          its line of the manifest or a size target
 *   steps stats MANIFEST   the table of sizes (also printed by check)
 *   steps pairs MANIFEST NN  the files of chapter NN with the base file each
 *                          is compared with (for a diff of the step)
 *
 * The manifest, one line per chapter (# starts a comment):
 *
 *   07-connection-pool  base=06-pipelining  teaches=pool.c,pool.h,...  adapts=main.c,...
 *                       drops=producer.c,producer.h  max-code=550
 *
 *   base=CHAPTER     the chapter this one builds on; "-" for none (then
 *                    every file is the chapter's own).
 *   teaches=FILES    the files the chapter introduces or teaches: they
 *                    may differ from the base's as much as the step needs.
 *   adapts=FILES     files the step adapts to the new code without
 *                    teaching them; all of them together may change at most
 *                    MAX_ADAPTED lines.  FILE:OLD compares FILE with the
 *                    base's OLD (a renamed file).
 *   drops=FILES      files of the base this chapter leaves out.
 *   max-code=N       the chapter's lines of code may not exceed N.
 *
 * Every other file of the chapter must be byte for byte the base's file of
 * the same name: inherited, untouched.  Every file of the base must be
 * kept, renamed or dropped.  A file listed but not there, or listed as
 * changed but identical, is an error too, so the manifest stays true.
 *
 * Sizes: "lines of code" leave out comments and blank lines (the comments
 * are there to teach and may be as long as they need).  "Changed lines" are
 * the lines added plus the lines removed by a line diff, comments
 * included: what a learner reads in the step's diff.  Every main.c may hold
 * at most MAX_MAIN_CODE lines of code.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A problem that stops the tool (a bad manifest, an unreadable file). */
#define DIE_PREFIX "steps: "
#include "die.h"

#define MAX_MAIN_CODE 80
#define MAX_ADAPTED 60
#define MAX_FILES 64
#define MAX_CHAPTERS 64
#define NAME_SIZE 128

/* ---- Small helpers ------------------------------------------------------------ */

static void say(const char *fmt, va_list ap)
{
    fprintf(stderr, "steps: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}


/* A chapter that breaks its line of the manifest or a target: counted,
 * and the check goes on to find the others. */
static int problems;

static void problem(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void problem(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
    problems++;
}

/* A whole file, or NULL (errno set) if it cannot be read. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, used = 0;
    char *text = malloc(cap);
    size_t n;
    while (text != NULL && (n = fread(text + used, 1, cap - used - 1, f)) > 0) {
        used += n;
        if (cap - used < 2) {
            cap *= 2;
            char *bigger = realloc(text, cap);
            if (bigger == NULL)
                free(text);
            text = bigger;
        }
    }
    fclose(f);
    if (text == NULL)
        die("out of memory reading %s", path);
    text[used] = '\0';
    *len = used;
    return text;
}

static bool exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f != NULL)
        fclose(f);
    return f != NULL;
}

/* ---- Lines of code -------------------------------------------------------------- */

/* Lines of C that hold something besides comments and white space.  String
 * and character literals are skipped whole, so a comment opener inside one is not a
 * comment. */
static size_t code_lines(const char *text)
{
    enum { CODE, LINE_COMMENT, BLOCK_COMMENT, STRING, CHAR } state = CODE;
    size_t lines = 0;
    bool has_code = false;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\n') {
            lines += has_code;
            has_code = false;
            if (state == LINE_COMMENT)
                state = CODE;
            continue;
        }
        switch (state) {
        case CODE:
            if (p[0] == '/' && p[1] == '/') {
                state = LINE_COMMENT;
                p++;
            } else if (p[0] == '/' && p[1] == '*') {
                state = BLOCK_COMMENT;
                p++;
            } else if (!isspace((unsigned char)*p)) {
                has_code = true;
                if (*p == '"')
                    state = STRING;
                else if (*p == '\'')
                    state = CHAR;
            }
            break;
        case LINE_COMMENT:
            break;
        case BLOCK_COMMENT:
            if (p[0] == '*' && p[1] == '/') {
                state = CODE;
                p++;
            }
            break;
        case STRING:
        case CHAR:
            if (*p == '\\' && p[1] != '\0' && p[1] != '\n')
                p++;
            else if (*p == (state == STRING ? '"' : '\''))
                state = CODE;
            break;
        }
    }
    return lines + has_code;
}

/* ---- Changed lines: a line diff ------------------------------------------------- */

struct text_lines {
    char *text;
    const char **at;
    size_t count;
};

static void split_lines(char *text, size_t len, struct text_lines *out)
{
    out->text = text;
    out->count = 0;
    size_t cap = 64;
    out->at = malloc(cap * sizeof *out->at);
    for (size_t i = 0; out->at != NULL && i < len;) {
        if (out->count == cap) {
            cap *= 2;
            const char **bigger = realloc(out->at, cap * sizeof *out->at);
            if (bigger == NULL)
                free(out->at);
            out->at = bigger;
            if (bigger == NULL)
                break;
        }
        out->at[out->count++] = text + i;
        char *nl = memchr(text + i, '\n', len - i);
        if (nl == NULL)
            break;
        *nl = '\0';
        i = (size_t)(nl - text) + 1;
    }
    if (out->at == NULL)
        die("out of memory splitting lines");
}

/* Lines added plus lines removed to turn `a` into `b`: the lengths minus
 * twice their longest common subsequence of lines. */
static size_t changed_lines(const struct text_lines *a, const struct text_lines *b)
{
    size_t start = 0, end_a = a->count, end_b = b->count;
    while (start < end_a && start < end_b && strcmp(a->at[start], b->at[start]) == 0)
        start++;
    while (end_a > start && end_b > start && strcmp(a->at[end_a - 1], b->at[end_b - 1]) == 0) {
        end_a--;
        end_b--;
    }
    size_t n = end_a - start, m = end_b - start;
    /* One row of the LCS table at a time. */
    size_t *prev = calloc(m + 1, sizeof *prev), *row = calloc(m + 1, sizeof *row);
    if (prev == NULL || row == NULL)
        die("out of memory comparing files");
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            if (strcmp(a->at[start + i - 1], b->at[start + j - 1]) == 0)
                row[j] = prev[j - 1] + 1;
            else
                row[j] = prev[j] > row[j - 1] ? prev[j] : row[j - 1];
        }
        size_t *t = prev;
        prev = row;
        row = t;
    }
    size_t common = prev[m];
    free(prev);
    free(row);
    return n + m - 2 * common;
}

/* Changed lines between two files; a missing `old` counts every line of
 * `new` as added. */
static size_t changed_between(const char *old_path, const char *new_path, bool *identical)
{
    size_t old_len = 0, new_len;
    char *old_text = old_path != NULL ? read_file(old_path, &old_len) : NULL;
    char *new_text = read_file(new_path, &new_len);
    if (new_text == NULL)
        die("cannot read %s: %s", new_path, strerror(errno));
    *identical = old_text != NULL && old_len == new_len && memcmp(old_text, new_text, new_len) == 0;
    struct text_lines a = { 0 }, b;
    if (old_text != NULL)
        split_lines(old_text, old_len, &a);
    split_lines(new_text, new_len, &b);
    size_t changed = changed_lines(&a, &b);
    free(a.at);
    free(old_text);
    free(b.at);
    free(new_text);
    return changed;
}

/* ---- The manifest ----------------------------------------------------------------- */

struct listed {
    char name[NAME_SIZE];
    char old[NAME_SIZE]; /* the base's file it is compared with */
};

struct chapter {
    char name[NAME_SIZE];
    char base[NAME_SIZE]; /* "" for none */
    struct listed teaches[MAX_FILES], adapts[MAX_FILES], drops[MAX_FILES];
    size_t n_teaches, n_adapts, n_drops;
    long max_code;        /* -1: no bound */
    int line;             /* in the manifest, for messages */
};

/* "a.c,b.c:old.c" into list[]. */
static size_t parse_list(const char *text, struct listed *list, const char *where)
{
    size_t n = 0;
    while (*text != '\0') {
        size_t len = strcspn(text, ",");
        if (n == MAX_FILES || len == 0 || len >= NAME_SIZE)
            die("%s: a bad file list", where);
        struct listed *l = &list[n++];
        snprintf(l->name, sizeof l->name, "%.*s", (int)len, text);
        char *colon = strchr(l->name, ':');
        if (colon != NULL) {
            *colon = '\0';
            snprintf(l->old, sizeof l->old, "%s", colon + 1);
        } else {
            snprintf(l->old, sizeof l->old, "%s", l->name);
        }
        text += len + (text[len] == ',');
    }
    return n;
}

static size_t read_manifest(const char *path, struct chapter *chapters)
{
    size_t len;
    char *text = read_file(path, &len);
    if (text == NULL)
        die("cannot read %s: %s", path, strerror(errno));
    size_t n = 0;
    int line_no = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        line_no++;
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        char *save, *word = strtok_r(line, " \t", &save);
        if (word == NULL)
            continue;
        if (n == MAX_CHAPTERS)
            die("%s: more than %d chapters", path, MAX_CHAPTERS);
        struct chapter *c = &chapters[n++];
        *c = (struct chapter){ .max_code = -1, .line = line_no };
        snprintf(c->name, sizeof c->name, "%s", word);
        char where[NAME_SIZE + 64];
        snprintf(where, sizeof where, "%s, chapter %s", path, c->name);
        bool has_base = false;
        while ((word = strtok_r(NULL, " \t", &save)) != NULL) {
            if (strncmp(word, "base=", 5) == 0) {
                snprintf(c->base, sizeof c->base, "%s", strcmp(word + 5, "-") == 0 ? "" : word + 5);
                has_base = true;
            } else if (strncmp(word, "teaches=", 8) == 0) {
                c->n_teaches = parse_list(word + 8, c->teaches, where);
            } else if (strncmp(word, "adapts=", 7) == 0) {
                c->n_adapts = parse_list(word + 7, c->adapts, where);
            } else if (strncmp(word, "drops=", 6) == 0) {
                c->n_drops = parse_list(word + 6, c->drops, where);
            } else if (strncmp(word, "max-code=", 9) == 0) {
                c->max_code = strtol(word + 9, NULL, 10);
            } else {
                die("%s: unknown field \"%s\"", where, word);
            }
        }
        if (!has_base)
            die("%s: no base= (write base=- for a chapter that builds on none)", where);
    }
    free(text);
    return n;
}

static const struct listed *find_listed(const struct listed *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

/* ---- A chapter's files ------------------------------------------------------------- */

struct files {
    char name[MAX_FILES][NAME_SIZE];
    size_t count;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The .c and .h files of root/chapter, sorted. */
static void list_files(const char *root, const char *chapter, struct files *out)
{
    char dir_path[2 * NAME_SIZE + 8];
    snprintf(dir_path, sizeof dir_path, "%s/%s", root, chapter);
    DIR *dir = opendir(dir_path);
    if (dir == NULL)
        die("cannot open %s: %s", dir_path, strerror(errno));
    out->count = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        bool source = len > 2 && e->d_name[len - 2] == '.' &&
                      (e->d_name[len - 1] == 'c' || e->d_name[len - 1] == 'h');
        if (!source)
            continue;
        if (out->count == MAX_FILES || len >= NAME_SIZE)
            die("%s: too many files, or a name too long", dir_path);
        snprintf(out->name[out->count++], NAME_SIZE, "%s", e->d_name);
    }
    closedir(dir);
    qsort(out->name, out->count, NAME_SIZE, by_name);
}

static bool has_file(const struct files *f, const char *name)
{
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->name[i], name) == 0)
            return true;
    return false;
}

static void path_of(char *buf, size_t size, const char *root, const char *chapter,
                    const char *file)
{
    snprintf(buf, size, "%s/%s/%s", root, chapter, file);
}

struct sizes {
    size_t code, main_code;     /* lines of code: the chapter's, its main.c's */
    size_t taught, adapted;     /* changed lines against the base */
    size_t main_changed;        /* of them, main.c's (whichever list it is in) */
    size_t inherited;           /* files taken over untouched */
};

/* Checks one chapter against its manifest line and measures it. */
static struct sizes check_chapter(const char *root, const struct chapter *c)
{
    struct sizes s = { 0 };
    struct files mine, base = { .count = 0 };
    list_files(root, c->name, &mine);
    if (c->base[0] != '\0')
        list_files(root, c->base, &base);
    char path[3 * NAME_SIZE + 8], old_path[3 * NAME_SIZE + 8];

    for (size_t i = 0; i < mine.count; i++) {
        const char *name = mine.name[i];
        path_of(path, sizeof path, root, c->name, name);
        size_t len;
        char *text = read_file(path, &len);
        size_t code = code_lines(text);
        free(text);
        s.code += code;
        if (strcmp(name, "main.c") == 0)
            s.main_code = code;

        const struct listed *taught = find_listed(c->teaches, c->n_teaches, name);
        const struct listed *adapted = find_listed(c->adapts, c->n_adapts, name);
        if (c->base[0] == '\0') {
            if (adapted != NULL)
                problem("%s: adapts %s, but the chapter has no base", c->name, name);
            continue; /* a chapter of its own: every file is its step */
        }
        const struct listed *l = taught != NULL ? taught : adapted;
        const char *old = l != NULL ? l->old : name;
        bool old_exists = has_file(&base, old);
        path_of(old_path, sizeof old_path, root, c->base, old);
        bool identical;
        size_t changed = changed_between(old_exists ? old_path : NULL, path, &identical);
        if (strcmp(name, "main.c") == 0)
            s.main_changed = changed;
        if (taught != NULL) {
            s.taught += changed;
            if (identical)
                problem("%s/%s is listed in teaches= but is the same as %s/%s: remove it "
                        "from the list", c->name, name, c->base, old);
        } else if (adapted != NULL) {
            s.adapted += changed;
            if (!old_exists)
                problem("%s/%s is listed in adapts= but %s has no %s to adapt: a new file "
                        "belongs in teaches=", c->name, name, c->base, old);
            else if (identical)
                problem("%s/%s is listed in adapts= but is the same as %s/%s: remove it "
                        "from the list", c->name, name, c->base, old);
        } else if (!old_exists) {
            problem("%s/%s is new, but the manifest does not say so: add it to teaches= in "
                    "its line", c->name, name);
        } else if (!identical) {
            problem("%s/%s differs from %s/%s by %zu lines, but the manifest says it is "
                    "inherited untouched: undo the drift, or add it to adapts= (or teaches=)",
                    c->name, name, c->base, name, changed);
        } else {
            s.inherited++;
        }
    }

    /* Every listed file exists; every file of the base is accounted for. */
    const struct { const struct listed *list; size_t n; const char *field; } lists[] = {
        { c->teaches, c->n_teaches, "teaches" }, { c->adapts, c->n_adapts, "adapts" } };
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < lists[k].n; i++)
            if (!has_file(&mine, lists[k].list[i].name))
                problem("%s: %s= lists %s, which is not in the chapter", c->name,
                        lists[k].field, lists[k].list[i].name);
    for (size_t i = 0; i < base.count; i++) {
        const char *name = base.name[i];
        bool kept = has_file(&mine, name) && find_listed(c->teaches, c->n_teaches, name) == NULL &&
                    find_listed(c->adapts, c->n_adapts, name) == NULL;
        bool used = kept;
        for (size_t j = 0; j < c->n_teaches; j++)
            used = used || strcmp(c->teaches[j].old, name) == 0;
        for (size_t j = 0; j < c->n_adapts; j++)
            used = used || strcmp(c->adapts[j].old, name) == 0;
        bool dropped = find_listed(c->drops, c->n_drops, name) != NULL;
        if (!used && !dropped)
            problem("%s/%s is not in %s: add it to drops= in %s's line", c->base, name,
                    c->name, c->name);
        if (used && dropped)
            problem("%s: drops= lists %s, which the chapter keeps", c->name, name);
    }

    if (s.main_code > MAX_MAIN_CODE)
        problem("%s/main.c has %zu lines of code; at most %d: move what is not particular "
                "to the chapter into common/ or the chapter's modules", c->name, s.main_code,
                MAX_MAIN_CODE);
    if (s.adapted > MAX_ADAPTED)
        problem("%s changes %zu lines outside the files it teaches (adapts=); at most %d",
                c->name, s.adapted, MAX_ADAPTED);
    if (c->max_code >= 0 && s.code > (size_t)c->max_code)
        problem("%s has %zu lines of code; its line in the manifest allows %ld", c->name,
                s.code, c->max_code);
    return s;
}

/* Every solutions/NN-* folder has a line in the manifest. */
static void check_every_chapter_listed(const char *root, const struct chapter *chapters,
                                       size_t n)
{
    DIR *dir = opendir(root);
    if (dir == NULL)
        die("cannot open %s: %s", root, strerror(errno));
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (!(isdigit((unsigned char)e->d_name[0]) && isdigit((unsigned char)e->d_name[1]) &&
              e->d_name[2] == '-'))
            continue;
        bool listed = false;
        for (size_t i = 0; i < n; i++)
            listed = listed || strcmp(chapters[i].name, e->d_name) == 0;
        if (!listed)
            problem("%s/%s has no line in the manifest: add one (see CONTRIBUTING.md, "
                    "\"A chapter is its step\")", root, e->d_name);
    }
    closedir(dir);
}

static void print_table(const struct chapter *chapters, const struct sizes *sizes, size_t n)
{
    printf("%-26s %-18s %5s %5s %7s %7s %6s %9s\n", "chapter", "base", "code", "main",
           "taught", "adapted", "main+-", "inherited");
    for (size_t i = 0; i < n; i++) {
        const struct chapter *c = &chapters[i];
        const struct sizes *s = &sizes[i];
        char code[32];
        if (c->max_code >= 0)
            snprintf(code, sizeof code, "%zu%s", s->code, s->code > (size_t)c->max_code ? "!" : "");
        else
            snprintf(code, sizeof code, "%zu", s->code);
        printf("%-26s %-18s %5s %4zu%s", c->name, c->base[0] ? c->base : "-", code,
               s->main_code, s->main_code > MAX_MAIN_CODE ? "!" : " ");
        if (c->base[0] != '\0')
            printf(" %7zu %6zu%s %6zu %9zu\n", s->taught, s->adapted,
                   s->adapted > MAX_ADAPTED ? "!" : " ", s->main_changed, s->inherited);
        else
            printf(" %7s %7s %6s %9s\n", "-", "-", "-", "-");
    }
    printf("code: lines of code without comments and blank lines (bound: max-code= in the "
           "manifest); main: main.c's (at most %d)\n"
           "taught, adapted: lines changed against the base in the files the chapter "
           "teaches, and in the others (at most %d)\n"
           "main+-: of those, main.c's; inherited: files taken over byte for byte\n"
           "! marks a target missed\n",
           MAX_MAIN_CODE, MAX_ADAPTED);
}

/* `steps pairs MANIFEST CHAPTER`: for each file of the chapter and each
 * file of its base it drops, one line "KIND CHAPTER-FILE BASE-FILE", with
 * "-" for a side that does not exist; KIND is teaches, adapts, inherited
 * or drops.  What a diff of the step (make diff-NN) compares. */
static int print_pairs(const char *root, const struct chapter *c)
{
    struct files mine, base = { .count = 0 };
    list_files(root, c->name, &mine);
    if (c->base[0] != '\0')
        list_files(root, c->base, &base);
    for (size_t i = 0; i < mine.count; i++) {
        const char *name = mine.name[i];
        const struct listed *t = find_listed(c->teaches, c->n_teaches, name);
        const struct listed *a = find_listed(c->adapts, c->n_adapts, name);
        const char *old = t != NULL ? t->old : a != NULL ? a->old : name;
        const char *kind = c->base[0] == '\0' || t != NULL ? "teaches" : a != NULL ? "adapts"
                                                                                 : "inherited";
        printf("%s %s/%s/%s ", kind, root, c->name, name);
        if (has_file(&base, old))
            printf("%s/%s/%s\n", root, c->base, old);
        else
            printf("-\n");
    }
    for (size_t i = 0; i < c->n_drops; i++)
        printf("drops - %s/%s/%s\n", root, c->base, c->drops[i].name);
    return 0;
}

int main(int argc, char **argv)
{
    bool pairs = argc == 4 && strcmp(argv[1], "pairs") == 0;
    if (!pairs && (argc != 3 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "stats") != 0)))
        die("usage: steps check|stats MANIFEST, or steps pairs MANIFEST CHAPTER");
    /* The chapters sit next to the manifest. */
    char root[NAME_SIZE];
    const char *slash = strrchr(argv[2], '/');
    snprintf(root, sizeof root, "%.*s", slash ? (int)(slash - argv[2]) : 1,
             slash ? argv[2] : ".");

    static struct chapter chapters[MAX_CHAPTERS];
    struct sizes sizes[MAX_CHAPTERS];
    size_t n = read_manifest(argv[2], chapters);
    for (size_t i = 0; pairs && i < n; i++)
        if (strcmp(chapters[i].name, argv[3]) == 0 ||
            strncmp(chapters[i].name, argv[3], strlen(argv[3])) == 0)
            return print_pairs(root, &chapters[i]);
    if (pairs)
        die("%s has no line for chapter %s", argv[2], argv[3]);
    for (size_t i = 0; i < n; i++) {
        char dir[2 * NAME_SIZE];
        snprintf(dir, sizeof dir, "%s/%s/main.c", root, chapters[i].name);
        if (!exists(dir))
            die("%s, line %d: %s/%s has no main.c (is the name right?)", argv[2],
                chapters[i].line, root, chapters[i].name);
        sizes[i] = check_chapter(root, &chapters[i]);
    }
    check_every_chapter_listed(root, chapters, n);
    print_table(chapters, sizes, n);
    if (strcmp(argv[1], "stats") == 0)
        return 0;
    if (problems > 0) {
        fprintf(stderr, "steps: %d problem%s (the manifest is %s; CONTRIBUTING.md says how "
                        "it works)\n", problems, problems == 1 ? "" : "s", argv[2]);
        return 1;
    }
    printf("steps: every chapter is its base plus its step\n");
    return 0;
}
