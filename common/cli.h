/*
 * cli.h - a chapter program's command line, read from a table.
 *
 * Every chapter program takes a few options: counts with a range
 * (--threads 8), a choice among names (--mode try) and flags (--timing).
 * Instead of a hand-written loop per program, main() declares a table that
 * says, once, for each option: its name, where its value goes, its range or
 * its choices, and one line of help.  cli_parse reads argv with glibc's
 * getopt_long from that table, and the usage text is printed from the same
 * table, so the two can never disagree.
 *
 *     size_t threads = 4;                 // the value before parsing is the default
 *     bool timing = false;
 *     const struct cli_option options[] = {
 *         { .name = "threads", .count = &threads, .min = 1, .max = 1024,
 *           .help = "threads sharing the connection" },
 *         { .name = "timing", .flag = &timing, .help = "also print timings" },
 *     };
 *     const struct cli_program program = {
 *         .name = "02-mutex", .summary = "...", CLI_OPTIONS(options) };
 *     int status = cli_parse(&program, argc, argv, stdout, stderr);
 *     if (status >= 0)
 *         return status;                  // --help (0) or a bad option (2)
 *
 * or, in one line, cli_parse_or_exit(&program, argc, argv).
 *
 * Strict on purpose: "--threads 8x", "--threads -1", "--threads" with no
 * value, an unknown option and a stray argument are each an error with a
 * message that gives the allowed range or choices, never a silently
 * different run.  --help (and -h) prints the usage and exits 0.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One option.  Set exactly one of `flag`, `count` and `choice`: that makes
 * it a flag (--timing), a number from min to max (--threads N) or one of
 * `choices` (--mode block|try).  The value the target holds before
 * cli_parse is the default, and the usage text shows it. */
struct cli_option {
    const char *name;        /* without the dashes: "threads" */
    bool *flag;              /* set to true when the option is given */
    size_t *count;           /* a whole number from min to max */
    size_t min, max;
    int *choice;             /* the index in `choices` of the name given */
    const char *const *choices; /* NULL-terminated: { "block", "try", NULL } */
    const char *value_name;  /* "N" when NULL, in the usage text */
    const char *help;        /* one line; a '\n' starts an indented line */
};

struct cli_program {
    const char *name;        /* "02-mutex": the first word of every message */
    const char *summary;     /* what the program does; printed by --help */
    const char *epilog;      /* printed after the options, or NULL */
    const struct cli_option *options;
    size_t option_count;
};

/* Fills .options and .option_count from an array. */
#define CLI_OPTIONS(array) .options = (array), .option_count = sizeof(array) / sizeof((array)[0])

/* Reads argv into the table's targets.  Returns -1 when the program should
 * run; otherwise the exit status main() should return at once: 0 after
 * --help (the usage went to `out`), 2 after a bad option or argument (a
 * message naming it and the usage went to `err`).  Targets of options not
 * given keep their defaults. */
int cli_parse(const struct cli_program *program, int argc, char **argv, FILE *out, FILE *err);

/* cli_parse on stdout and stderr, for main(): returns when the program
 * should run, and otherwise exits at once with cli_parse's status (0 after
 * --help, 2 after a bad option). */
void cli_parse_or_exit(const struct cli_program *program, int argc, char **argv);

/* Prints the usage text: a usage line made from the table, the summary,
 * and one line per option with its help, range or choices, and default. */
void cli_print_usage(const struct cli_program *program, FILE *out);

/* Parses `text` as a whole decimal number from min to max into *out.
 * False (and *out untouched) for anything else: empty, white space, a '+',
 * trailing junk, out of range, too large for a long. */
bool cli_parse_count(const char *text, long min, long max, long *out);

#endif
