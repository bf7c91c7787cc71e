/*
 * first_get_set.c - the smallest useful hiredis program: connect, SET a key,
 * GET it back, print both replies.
 *
 * docs/00-setup.md quotes it, and `make docs-check` builds it and runs it
 * against a throwaway Redis, so the page can never show code that does not
 * compile or output it does not print.  It talks to hiredis directly (no
 * common/redis_client wrapper) so that the reader sees the library itself
 * once; only the parsing of REDIS_URL is borrowed from common/.
 *
 * Only calls that hiredis 0.14 and 1.x share are used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis_client.h"

/* Prints one reply the way the page explains it: its type, then its text. */
static void print_reply(const char *what, const redisReply *reply)
{
    switch (reply->type) {
    case REDIS_REPLY_STATUS:
        printf("%s -> status \"%s\"\n", what, reply->str);
        break;
    case REDIS_REPLY_STRING:
        printf("%s -> string \"%.*s\" (%zu bytes)\n", what, (int)reply->len, reply->str,
               (size_t)reply->len);
        break;
    case REDIS_REPLY_NIL:
        printf("%s -> nil (no such key)\n", what);
        break;
    case REDIS_REPLY_ERROR:
        printf("%s -> error \"%s\"\n", what, reply->str);
        break;
    default:
        printf("%s -> reply of type %d\n", what, reply->type);
        break;
    }
}

int main(void)
{
    struct redis_url url;
    char err[256];
    if (redis_url_parse(redis_url_from_env(), &url, err, sizeof err) != 0) {
        fprintf(stderr, "first_get_set: %s\n", err);
        return 2;
    }

    //> snippet connect
    struct timeval timeout = { .tv_sec = 2, .tv_usec = 0 };
    redisContext *c = redisConnectWithTimeout(url.host, url.port, timeout);
    if (c == NULL || c->err) {
        /* A context with err set still has to be freed. */
        fprintf(stderr, "cannot connect to %s:%d: %s\n", url.host, url.port,
                c ? c->errstr : "out of memory");
        redisFree(c);
        return 2;
    }
    //< snippet connect

    //> snippet set_get
    /* Arguments with explicit lengths: a key or value may hold any byte. */
    const char *set_argv[] = { "SET", "greeting", "hello from C" };
    size_t set_lens[] = { 3, strlen("greeting"), strlen("hello from C") };
    redisReply *reply = redisCommandArgv(c, 3, set_argv, set_lens);
    if (reply == NULL) { /* NULL: the connection failed; c->errstr says how */
        fprintf(stderr, "SET failed: %s\n", c->errstr);
        redisFree(c);
        return 1;
    }
    print_reply("SET greeting", reply);
    freeReplyObject(reply); /* every reply is ours to free */

    const char *get_argv[] = { "GET", "greeting" };
    size_t get_lens[] = { 3, strlen("greeting") };
    reply = redisCommandArgv(c, 2, get_argv, get_lens);
    if (reply == NULL) {
        fprintf(stderr, "GET failed: %s\n", c->errstr);
        redisFree(c);
        return 1;
    }
    print_reply("GET greeting", reply);
    freeReplyObject(reply);
    //< snippet set_get

    redisFree(c);
    return 0;
}
