/*
 * cli.c - see cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>

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
