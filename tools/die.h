/*
 * die.h - how snip, guide and steps stop on an error they cannot go on from: a
 * message on stderr, prefixed with the tool's name, and exit status 2.
 * Each tool is one .c file; this header is included by each, before any
 * use of die(), after defining DIE_PREFIX ("snip: ").
 */
#ifndef TOOLS_DIE_H
#define TOOLS_DIE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(DIE_PREFIX, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

#endif
