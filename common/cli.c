/*
 * cli.c - see cli.h.
 *
 * getopt_long does the scanning (long options, "--name value" and
 * "--name=value", "--" to end the options); everything it cannot know -
 * ranges, choices, the wording of each error - is checked here against the
 * table, so a program's own code never sees an unchecked value.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long tells options apart by the `val` it returns: the table index
 * plus this, well clear of any character it might return ('?', ':', 'h'). */
#define OPTION_VAL_BASE 0x100
#define USAGE_WIDTH 80

bool cli_parse_count(const char *text, long min, long max, long *out)
{
    /* strtol would skip leading white space and accept a '+': be strict. */
    if (!(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')))
        return false;
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return false;
    *out = value;
    return true;
}

/* The same for a size_t range: digits only, no sign, no overflow. */
static bool parse_size(const char *text, size_t min, size_t max, size_t *out)
{
    if (text[0] < '0' || text[0] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || value > SIZE_MAX || value < min || value > max)
        return false;
    *out = (size_t)value;
    return true;
}

static const char *value_name(const struct cli_option *o)
{
    if (o->value_name != NULL)
        return o->value_name;
    return o->flag != NULL ? "" : "N";
}

/* "block|try|unbounded" into buf. */
static const char *choice_list(const struct cli_option *o, const char *sep, const char *last_sep,
                               char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; o->choices[i] != NULL && used < len; i++) {
        const char *s = i == 0 ? "" : o->choices[i + 1] == NULL ? last_sep : sep;
        int n = snprintf(buf + used, len - used, "%s%s", s, o->choices[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

/* "--threads N", "--mode block|try|unbounded", "--timing" into buf. */
static const char *option_synopsis(const struct cli_option *o, char *buf, size_t len)
{
    if (o->flag != NULL) {
        snprintf(buf, len, "--%s", o->name);
    } else if (o->choice != NULL && o->value_name == NULL) {
        char list[256];
        snprintf(buf, len, "--%s %s", o->name, choice_list(o, "|", "|", list, sizeof list));
    } else {
        snprintf(buf, len, "--%s %s", o->name, value_name(o));
    }
    return buf;
}

void cli_print_usage(const struct cli_program *program, FILE *out)
{
    /* The usage line, wrapped under the program's name. */
    int indent = fprintf(out, "usage: %s", program->name);
    int column = indent;
    char synopsis[320];
    for (size_t i = 0; i < program->option_count; i++) {
        option_synopsis(&program->options[i], synopsis, sizeof synopsis);
        int width = (int)strlen(synopsis) + 3;
        if (column + width > USAGE_WIDTH && column > indent)
            column = fprintf(out, "\n%*s", indent, "") - 1;
        column += fprintf(out, " [%s]", synopsis);
    }
    fputc('\n', out);
    if (program->summary != NULL)
        fprintf(out, "%s\n", program->summary);

    /* One line per option, the help in a column of its own. */
    int help_column = (int)strlen("  --help") + 2;
    for (size_t i = 0; i < program->option_count; i++) {
        int w = 2 + (int)strlen(option_synopsis(&program->options[i], synopsis, sizeof synopsis)) + 2;
        if (w > help_column)
            help_column = w;
    }
    if (help_column > 32)
        help_column = 32;
    for (size_t i = 0; i < program->option_count; i++) {
        const struct cli_option *o = &program->options[i];
        int w = fprintf(out, "  %s", option_synopsis(o, synopsis, sizeof synopsis));
        if (w + 2 > help_column)
            fprintf(out, "\n%*s", help_column, "");
        else
            fprintf(out, "%*s", help_column - w, "");
        for (const char *h = o->help ? o->help : ""; *h != '\0'; h++) {
            fputc(*h, out);
            if (*h == '\n')
                fprintf(out, "%*s", help_column, "");
        }
        if (o->count != NULL)
            fprintf(out, " (%zu to %zu; default %zu)", o->min, o->max, *o->count);
        else if (o->choice != NULL && *o->choice >= 0)
            fprintf(out, " (default %s)", o->choices[*o->choice]);
        fputc('\n', out);
    }
    fprintf(out, "  --help%*sprint this help\n", help_column - 8, "");
    if (program->epilog != NULL)
        fprintf(out, "%s\n", program->epilog);
}

/* Stores `arg` into option o, or says on err why it cannot. */
static bool take_value(const struct cli_program *program, const struct cli_option *o,
                       const char *arg, FILE *err)
{
    if (o->count != NULL) {
        if (arg != NULL && parse_size(arg, o->min, o->max, o->count))
            return true;
        fprintf(err, "%s: --%s needs a number from %zu to %zu", program->name, o->name, o->min,
                o->max);
    } else {
        for (int i = 0; arg != NULL && o->choices[i] != NULL; i++) {
            if (strcmp(arg, o->choices[i]) == 0) {
                *o->choice = i;
                return true;
            }
        }
        char list[256];
        fprintf(err, "%s: --%s needs %s", program->name, o->name,
                choice_list(o, ", ", " or ", list, sizeof list));
    }
    if (arg == NULL)
        fprintf(err, " (got nothing)\n");
    else
        fprintf(err, " (got \"%s\")\n", arg);
    return false;
}

int cli_parse(const struct cli_program *program, int argc, char **argv, FILE *out, FILE *err)
{
    struct option *longopts = calloc(program->option_count + 2, sizeof *longopts);
    if (longopts == NULL) {
        fprintf(err, "%s: out of memory reading the options\n", program->name);
        return 2;
    }
    for (size_t i = 0; i < program->option_count; i++) {
        const struct cli_option *o = &program->options[i];
        longopts[i] = (struct option){ o->name, o->flag ? no_argument : required_argument, NULL,
                                       OPTION_VAL_BASE + (int)i };
    }
    longopts[program->option_count] = (struct option){ "help", no_argument, NULL, 'h' };

    /* "+": stop at the first argument that is not an option (it is then an
     * error below) instead of reordering argv; ":": report a missing value
     * as ':' so it gets its own message.  opterr = 0: every message is
     * ours.  optind = 0 makes glibc start afresh (tests parse many times). */
    opterr = 0;
    optind = 0;
    int status = -1;
    int c;
    while (status < 0 && (c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cli_print_usage(program, out);
            status = 0;
        } else if (c >= OPTION_VAL_BASE) {
            const struct cli_option *o = &program->options[c - OPTION_VAL_BASE];
            if (o->flag != NULL)
                *o->flag = true;
            else if (!take_value(program, o, optarg, err))
                status = 2;
        } else if (c == ':' && optopt >= OPTION_VAL_BASE) {
            take_value(program, &program->options[optopt - OPTION_VAL_BASE], NULL, err);
            status = 2;
        } else if (optopt >= OPTION_VAL_BASE || optopt == 'h') {
            /* A flag given a value: --timing=yes. */
            const char *name = optopt == 'h' ? "help" : program->options[optopt - OPTION_VAL_BASE].name;
            fprintf(err, "%s: --%s takes no value\n", program->name, name);
            status = 2;
        } else {
            /* Unknown, or an abbreviation that fits more than one. */
            if (optopt > 0)
                fprintf(err, "%s: unknown option '-%c'\n", program->name, optopt);
            else
                fprintf(err, "%s: unknown option '%s'\n", program->name, argv[optind - 1]);
            cli_print_usage(program, err);
            status = 2;
        }
    }
    if (status < 0 && optind < argc) {
        fprintf(err, "%s: unexpected argument '%s' (every option starts with --)\n",
                program->name, argv[optind]);
        cli_print_usage(program, err);
        status = 2;
    }
    free(longopts);
    return status;
}

void cli_parse_or_exit(const struct cli_program *program, int argc, char **argv)
{
    int status = cli_parse(program, argc, argv, stdout, stderr);
    if (status >= 0)
        exit(status);
}
