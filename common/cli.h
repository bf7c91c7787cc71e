/*
 * cli.h - the small pieces every chapter program's command line needs.
 *
 * Each chapter's main.c reads its own options (they differ from chapter to
 * chapter); what they share is reading a number strictly, so that
 * "--threads 8x" or "--count -1" is an error with a message, never a
 * silently different run.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>

/* Parses `text` as a whole decimal number from min to max into *out.
 * False (and *out untouched) for anything else: empty, trailing junk,
 * out of range, too large for a long. */
bool cli_parse_count(const char *text, long min, long max, long *out);

#endif
