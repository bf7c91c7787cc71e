/*
 * test_10.c - chapter 10: the pool on a Redis Cluster.  Keys are routed by
 * hash slot to one manager per master; MOVED and ASK replies are followed;
 * slots move and a master dies while threads keep working.
 *
 * Run with `make test-10` (your code in chapters/) or `make test-10
 * SOLUTION=1`.  A failure says what was expected, what happened, and which
 * section of docs/10-redis-cluster.md explains it.
 *
 * Every cluster here is real (common/redis_harness.h): one shared cluster
 * of three masters, started once by main() for the tests that leave it as
 * it is; a private one for the resharding tests (they move its slots); one
 * of their own, with replicas, for the tests that kill a master.  Every
 * wait is bounded, so a broken solution fails instead of hanging.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "cluster.h"
#include "command.h"
#include "program_runner.h"
#include "redis_client.h"
#include "redis_harness.h"
#include "slot.h"
#include "test_support.h"

/* How long one answer may take before the test calls it a hang. */
#define ANSWER_BOUND_MS 10000
/* How long a failover (or a redirection being noticed) may take. */
#define SETTLE_BOUND_MS 30000
#define PROGRAM_BOUND_MS 60000

/* The cluster main() starts for the tests that do not change it. */
static struct redis_cluster shared;
/* The resharding tests' own cluster (an unchecked fixture: started once,
 * in the runner's process, before those tests). */
static struct redis_cluster moving;

/* ---- Helpers ------------------------------------------------------------------- */

static struct cluster *open_cluster(const char *url, FILE *log)
{
    struct cluster_options opts = { .log = log };
    struct cluster *c;
    char err[1024] = "";
    ck_assert_msg(cluster_open(url, &opts, &c, err, sizeof err) == 0,
                  "expected cluster_open(%s) to succeed, got: %s" CHAPTER_HINT("The slot map"),
                  url, err, chapter_doc());
    return c;
}

/* The harness node that listens at "127.0.0.1:PORT" (a client node's
 * address); -1 if none. */
static int harness_node(const struct redis_cluster *rc, const char *address)
{
    const char *colon = strrchr(address, ':');
    int port = colon != NULL ? atoi(colon + 1) : -1;
    for (size_t i = 0; i < rc->node_count; i++)
        if (rc->nodes[i].port == port)
            return (int)i;
    return -1;
}

/* The harness node the client sends `slot` to now; -1 if none. */
static int client_target(struct cluster *c, const struct redis_cluster *rc, unsigned slot)
{
    int node = cluster_slot_node(c, slot);
    return node < 0 ? -1 : harness_node(rc, cluster_node_address(c, (size_t)node));
}

/* Writes into key[len] a key "<prefix>:<j>" whose slot harness node
 * `node` serves. */
static void key_on(const struct redis_cluster *rc, size_t node, const char *prefix, char *key,
                   size_t len)
{
    for (int j = 0; j < 20000; j++) {
        snprintf(key, len, "%s:%d", prefix, j);
        if (redis_cluster_slot_owner(rc, (int)key_slot(key, strlen(key))) == (int)node)
            return;
    }
    ck_abort_msg("expected some key \"%s:<j>\" to have a slot on node %zu"
                 CHAPTER_HINT("Hash slots"), prefix, node, chapter_doc());
}

/* One command on a connection of the test's own; the reply as a tree. */
static struct redis_tree direct(const char *url, int argc, const char *const *argv,
                                const size_t *len)
{
    char err[512] = "";
    struct redis_client *rc = redis_client_connect(url, NULL, err, sizeof err);
    ck_assert_msg(rc != NULL, "the test could not connect to %s: %s", url, err);
    struct redis_tree t = redis_client_command_tree(rc, argc, argv, len);
    redis_client_free(rc);
    return t;
}

static bool is_timeout(const struct redis_result *r)
{
    return r->kind == REDIS_RESULT_IO_ERROR && r->data != NULL &&
           strstr(r->data, "no answer within") != NULL;
}

static struct redis_result bounded(struct cluster *c, struct command *cmd)
{
    struct client_pending p = client_send(c, cmd);
    return client_wait_timeout(&p, ANSWER_BOUND_MS);
}

static struct redis_result set_bounded(struct cluster *c, const char *key, const char *value)
{
    struct command cmd;
    ck_assert(command_set(&cmd, key, strlen(key), value, strlen(value)) == 0);
    return bounded(c, &cmd);
}

static struct redis_result get_bounded(struct cluster *c, const char *key)
{
    struct command cmd;
    ck_assert(command_get(&cmd, key, strlen(key)) == 0);
    return bounded(c, &cmd);
}

static const char *text_of(const struct redis_result *r)
{
    return r->data != NULL ? r->data : redis_result_kind_name(r->kind);
}

static void expect_value(struct cluster *c, const char *key, const char *value,
                         const char *section)
{
    struct redis_result r = get_bounded(c, key);
    ck_assert_msg(r.kind == REDIS_RESULT_VALUE && strcmp(r.data, value) == 0,
                  "expected GET %s to return \"%s\", got %s: %s" CHAPTER_HINT("%s"), key, value,
                  redis_result_kind_name(r.kind), text_of(&r), section, chapter_doc());
    redis_result_free(&r);
}

static void expect_set_ok(struct cluster *c, const char *key, const char *value,
                          const char *section)
{
    struct redis_result r = set_bounded(c, key, value);
    ck_assert_msg(r.kind == REDIS_RESULT_OK, "expected SET %s to be OK, got %s: %s"
                  CHAPTER_HINT("%s"), key, redis_result_kind_name(r.kind), text_of(&r),
                  section, chapter_doc());
    redis_result_free(&r);
}

/* ---- Hash slots -------------------------------------------------------------------- */

START_TEST(key_slot_agrees_with_cluster_keyslot_on_every_kind_of_key)
{
    /* CRC16-XMODEM's check value, which Redis's own docs quote. */
    ck_assert_msg(slot_crc16("123456789", 9) == 0x31c3, "slot_crc16(\"123456789\") is %#x, "
                  "expected 0x31c3", slot_crc16("123456789", 9));
    static const char *const edge[] = {
        "", "a", "{", "}", "{}", "{}a", "a{}", "{{a}}", "{a}{b}", "a{}b{c}", "}{a}",
        "{user1}:a", "{user1}:b", "user1", "{user1", "user1}", "{ }", "{a}", "a{a}a",
        "foo{bar}{zap}", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}}",
    };
    enum { EDGE = sizeof edge / sizeof edge[0], GENERATED = 2000, TOTAL = EDGE + GENERATED };
    char err[512] = "";
    struct redis_client *rc = redis_client_connect(shared.url, NULL, err, sizeof err);
    ck_assert_msg(rc != NULL, "%s", err);
    /* Keys of every length and byte, braces and NULs often among them. */
    static char keys[GENERATED][24];
    static size_t lens[GENERATED];
    uint32_t seed = 12345;
    static const char alphabet[] = "ab{}\0:x{}";
    for (int i = 0; i < GENERATED; i++) {
        lens[i] = (size_t)i % 20;
        for (size_t b = 0; b < lens[i]; b++) {
            seed = seed * 1103515245u + 12345u;
            keys[i][b] = (i % 3 == 0) ? (char)(seed >> 16) : alphabet[(seed >> 16) % 9];
        }
    }
    /* Pipelined: 2000 round trips would be slow under valgrind. */
    for (int i = 0; i < TOTAL; i++) {
        const char *key = i < EDGE ? edge[i] : keys[i - EDGE];
        size_t key_len = i < EDGE ? strlen(edge[i]) : lens[i - EDGE];
        const char *argv[] = { "CLUSTER", "KEYSLOT", key };
        const size_t len[] = { 7, 7, key_len };
        ck_assert(redis_client_append(rc, 3, argv, len) == 0);
    }
    for (int i = 0; i < TOTAL; i++) {
        const char *key = i < EDGE ? edge[i] : keys[i - EDGE];
        size_t key_len = i < EDGE ? strlen(edge[i]) : lens[i - EDGE];
        struct redis_result r = redis_client_read_reply(rc);
        ck_assert_msg(r.kind == REDIS_RESULT_INTEGER, "CLUSTER KEYSLOT gave %s",
                      text_of(&r));
        char quoted[REDIS_QUOTE_BUFSIZE];
        unsigned ours = key_slot(key, key_len);
        ck_assert_msg(ours == (unsigned)r.integer,
                      "expected key_slot(%s) to be %lld, as CLUSTER KEYSLOT says, got %u"
                      CHAPTER_HINT("Hash slots"),
                      redis_quote_bytes(key, key_len, quoted, sizeof quoted), r.integer, ours,
                      chapter_doc());
        redis_result_free(&r);
    }
    redis_client_free(rc);
}
END_TEST

START_TEST(hash_tags_keep_related_keys_in_one_slot_and_crossslot_refuses_the_rest)
{
    unsigned a = key_slot("{user1}:a", 9), b = key_slot("{user1}:b", 9);
    ck_assert_msg(a == b && a == key_slot("user1", 5),
                  "expected {user1}:a, {user1}:b and user1 to share a slot, got %u, %u, %u"
                  CHAPTER_HINT("Hash tags and multi-key commands"),
                  a, b, key_slot("user1", 5), chapter_doc());
    ck_assert(key_slot("a", 1) != key_slot("b", 1));
    struct cluster *c = open_cluster(shared.url, NULL);
    int node = client_target(c, &shared, a);
    ck_assert_msg(node >= 0, "no node for slot %u" CHAPTER_HINT("The slot map"), a,
                  chapter_doc());
    /* On the master of that slot, one MSET writes both: one slot, one node. */
    const char *tagged[] = { "MSET", "{user1}:a", "1", "{user1}:b", "2" };
    const size_t tagged_len[] = { 4, 9, 1, 9, 1 };
    struct redis_tree t = direct(shared.nodes[node].url, 5, tagged, tagged_len);
    ck_assert_msg(!t.is_array && t.value.kind == REDIS_RESULT_OK,
                  "expected MSET {user1}:a 1 {user1}:b 2 to be OK on the master of slot %u, "
                  "got %s" CHAPTER_HINT("Hash tags and multi-key commands"),
                  a, text_of(&t.value), chapter_doc());
    redis_tree_free(&t);
    /* Two keys in two slots: no node may run it, whichever is asked. */
    const char *plain[] = { "MSET", "a", "1", "b", "2" };
    const size_t plain_len[] = { 4, 1, 1, 1, 1 };
    for (size_t i = 0; i < shared.node_count; i++) {
        t = direct(shared.nodes[i].url, 5, plain, plain_len);
        ck_assert_msg(!t.is_array && t.value.kind == REDIS_RESULT_ERROR &&
                          strncmp(t.value.data, "CROSSSLOT", 9) == 0,
                      "expected MSET a 1 b 2 to fail with CROSSSLOT on node %zu, got %s",
                      i, text_of(&t.value));
        redis_tree_free(&t);
    }
    /* Through the cluster client, the tagged keys read back. */
    expect_value(c, "{user1}:a", "1", "Hash tags and multi-key commands");
    expect_value(c, "{user1}:b", "2", "Hash tags and multi-key commands");
    cluster_close(c);
}
END_TEST

/* ---- One manager per master ---------------------------------------------------------- */

START_TEST(every_command_goes_to_the_master_that_serves_its_slot)
{
    enum { KEYS = 300 };
    struct cluster *c = open_cluster(shared.url, NULL);
    struct cluster_stats st;
    cluster_stats(c, &st);
    ck_assert_msg(st.nodes == 3, "expected one manager per master (3), got %zu"
                  CHAPTER_HINT("The slot map"), st.nodes, chapter_doc());
    size_t per_node[3] = { 0 };
    for (int i = 0; i < KEYS; i++) {
        char key[64];
        snprintf(key, sizeof key, "t10:%ld:route:%d", (long)getpid(), i);
        /* Where Redis says the key lives, against where the client sends it. */
        const char *keyslot[] = { "CLUSTER", "KEYSLOT", key };
        const size_t keyslot_len[] = { 7, 7, strlen(key) };
        struct redis_tree real = direct(shared.url, 3, keyslot, keyslot_len);
        int owner = redis_cluster_slot_owner(&shared, (int)real.value.integer);
        redis_tree_free(&real);
        int ours = client_target(c, &shared, key_slot(key, strlen(key)));
        ck_assert_msg(ours == owner,
                      "expected %s to go to node %d, which serves its slot; the cluster sends "
                      "it to node %d" CHAPTER_HINT("Hash slots"), key, owner, ours,
                      chapter_doc());
        expect_set_ok(c, key, key, "One manager per master");
        /* It is really there: its master answers a GET itself. */
        const char *argv[] = { "GET", key };
        const size_t len[] = { 3, strlen(key) };
        struct redis_tree t = direct(shared.nodes[owner].url, 2, argv, len);
        ck_assert_msg(t.value.kind == REDIS_RESULT_VALUE && strcmp(t.value.data, key) == 0,
                      "expected node %d to hold %s, it answered %s", owner, key,
                      text_of(&t.value));
        redis_tree_free(&t);
        per_node[owner]++;
    }
    cluster_stats(c, &st);
    ck_assert_msg(st.moved == 0 && st.asked == 0,
                  "expected no redirection on a cluster whose slots stay put, got %zu MOVED "
                  "and %zu ASK" CHAPTER_HINT("Hash slots"), st.moved, st.asked, chapter_doc());
    for (size_t n = 0; n < 3; n++)
        ck_assert_msg(per_node[n] > KEYS / 6, "expected %d keys to spread over the 3 masters, "
                      "node %zu got %zu" CHAPTER_HINT("Hash slots"), KEYS, n, per_node[n],
                      chapter_doc());
    cluster_close(c);
}
END_TEST

enum { ORDER_THREADS = 4, ORDER_KEYS = 6, ORDER_STEPS = 120 };

struct order_worker {
    struct cluster *cluster;
    int index;
    pthread_t thread;
    size_t checked;
    char problem[512];
};

/* SET k v0, GET k, SET k v1, GET k ... on each key WITHOUT waiting in
 * between, then every answer collected in order: each GET must see the SET
 * just before it. */
static void *order_worker_main(void *arg)
{
    struct order_worker *w = arg;
    size_t steps = ORDER_STEPS / (size_t)test_stress_divisor() + 2;
    struct client_pending *pending = calloc(steps * 2, sizeof *pending);
    for (int k = 0; k < ORDER_KEYS && w->problem[0] == '\0'; k++) {
        char key[64];
        snprintf(key, sizeof key, "t10:%ld:order:%d:%d", (long)getpid(), w->index, k);
        for (size_t s = 0; s < steps; s++) {
            char value[32];
            snprintf(value, sizeof value, "v%zu", s);
            struct command set, get;
            if (command_set(&set, key, strlen(key), value, strlen(value)) != 0 ||
                command_get(&get, key, strlen(key)) != 0)
                abort();
            pending[2 * s] = client_send(w->cluster, &set);
            pending[2 * s + 1] = client_send(w->cluster, &get);
        }
        for (size_t s = 0; s < steps; s++) {
            struct redis_result r = client_wait_timeout(&pending[2 * s], ANSWER_BOUND_MS);
            struct redis_result g = client_wait_timeout(&pending[2 * s + 1], ANSWER_BOUND_MS);
            char value[32];
            snprintf(value, sizeof value, "v%zu", s);
            if (w->problem[0] == '\0' &&
                (r.kind != REDIS_RESULT_OK || g.kind != REDIS_RESULT_VALUE ||
                 strcmp(g.data, value) != 0))
                snprintf(w->problem, sizeof w->problem,
                         "%s: SET %s gave %s, the GET after it gave %s", key, value,
                         text_of(&r), text_of(&g));
            w->checked++;
            redis_result_free(&r);
            redis_result_free(&g);
        }
    }
    free(pending);
    return NULL;
}

START_TEST(commands_for_one_key_stay_in_order_with_many_in_flight)
{
    struct cluster *c = open_cluster(shared.url, NULL);
    struct order_worker workers[ORDER_THREADS];
    for (int t = 0; t < ORDER_THREADS; t++) {
        workers[t] = (struct order_worker){ .cluster = c, .index = t };
        ck_assert_int_eq(pthread_create(&workers[t].thread, NULL, order_worker_main,
                                        &workers[t]), 0);
    }
    for (int t = 0; t < ORDER_THREADS; t++)
        pthread_join(workers[t].thread, NULL);
    cluster_close(c);
    for (int t = 0; t < ORDER_THREADS; t++)
        ck_assert_msg(workers[t].problem[0] == '\0',
                      "expected every GET to see the SET sent just before it; %s"
                      CHAPTER_HINT("One manager per master"), workers[t].problem,
                      chapter_doc());
}
END_TEST

/* ---- Following MOVED and ASK (the `moving` cluster) ----------------------------------- */

static void start_moving_cluster(void)
{
    char err[1024] = "";
    if (redis_cluster_start(&moving, 3, 0, err, sizeof err) != 0) {
        fprintf(stderr, "test_10: cannot start a cluster: %s\n", err);
        exit(2);
    }
}

static void stop_moving_cluster(void)
{
    redis_cluster_stop(&moving);
}

static unsigned slot_of(const char *key)
{
    return key_slot(key, strlen(key));
}

START_TEST(an_ask_is_followed_once_and_leaves_the_slot_map_as_it_was)
{
    struct cluster *c = open_cluster(moving.url, NULL);
    char key[64], err[1024] = "";
    snprintf(key, sizeof key, "t10:%ld:ask", (long)getpid());
    int from = redis_cluster_slot_owner(&moving, (int)slot_of(key));
    size_t to = ((size_t)from + 1) % 3;
    expect_set_ok(c, key, "before", "One manager per master");

    ck_assert_msg(redis_cluster_migration_begin(&moving, (int)slot_of(key), to, err,
                                                sizeof err) == 0, "%s", err);
    ck_assert_msg(redis_cluster_migration_move_keys(&moving, (int)slot_of(key), to, err,
                                                    sizeof err) == 0, "%s", err);
    /* The key is on `to` now, the slot still `from`'s: `from` says ASK. */
    expect_value(c, key, "before", "Following MOVED and ASK");
    expect_set_ok(c, key, "during", "Following MOVED and ASK");
    expect_value(c, key, "during", "Following MOVED and ASK");
    struct cluster_stats st;
    cluster_stats(c, &st);
    ck_assert_msg(st.asked >= 3 && st.moved == 0,
                  "expected the three commands to be ASKed to node %zu (asked >= 3) and "
                  "nothing MOVED; got %zu ASK, %zu MOVED" CHAPTER_HINT("Following MOVED and ASK"),
                  to, st.asked, st.moved, chapter_doc());
    ck_assert_msg(client_target(c, &moving, slot_of(key)) == from,
                  "expected the slot map to still send slot %u to node %d after ASK (the slot "
                  "is still moving), it sends it to node %d" CHAPTER_HINT("Following MOVED and ASK"),
                  slot_of(key), from, client_target(c, &moving, slot_of(key)), chapter_doc());

    ck_assert_msg(redis_cluster_migration_end(&moving, (int)slot_of(key), to, err,
                                              sizeof err) == 0, "%s", err);
    expect_value(c, key, "during", "Following MOVED and ASK");
    cluster_stats(c, &st);
    ck_assert_msg(st.moved >= 1, "expected a MOVED once the slot moved, got none"
                  CHAPTER_HINT("Following MOVED and ASK"), chapter_doc());
    ck_assert_msg(client_target(c, &moving, slot_of(key)) == (int)to,
                  "expected the slot map to send slot %u to node %zu after MOVED, it sends it "
                  "to node %d" CHAPTER_HINT("Following MOVED and ASK"), slot_of(key), to,
                  client_target(c, &moving, slot_of(key)), chapter_doc());
    cluster_close(c);
}
END_TEST

START_TEST(a_moved_slot_is_learned_once_and_every_later_command_goes_straight_there)
{
    enum { KEYS = 20 };
    struct cluster *c = open_cluster(moving.url, NULL);
    char keys[KEYS][64], err[1024] = "";
    for (int i = 0; i < KEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "{t10:%ld:moved}:%d", (long)getpid(), i);
        expect_set_ok(c, keys[i], keys[i], "One manager per master");
    }
    int slot = (int)slot_of(keys[0]); /* one hash tag: one slot for all */
    size_t to = ((size_t)redis_cluster_slot_owner(&moving, slot) + 1) % 3;
    ck_assert_msg(redis_cluster_move_slots(&moving, slot, slot, to, err, sizeof err) == 0,
                  "%s", err);
    for (int i = 0; i < KEYS; i++)
        expect_value(c, keys[i], keys[i], "Following MOVED and ASK");
    struct cluster_stats st;
    cluster_stats(c, &st);
    ck_assert_msg(st.moved == 1 && st.refreshes >= 1,
                  "expected ONE MOVED (the first GET), then the map to send the rest straight "
                  "to node %zu; got %zu MOVED, %zu refreshes"
                  CHAPTER_HINT("Following MOVED and ASK"), to, st.moved, st.refreshes,
                  chapter_doc());
    cluster_close(c);
}
END_TEST

/* ---- Resharding while it runs -------------------------------------------------------- */

enum { RESHARD_THREADS = 4, RESHARD_KEYS = 12 };

struct reshard_worker {
    struct cluster *cluster;
    int index;
    atomic_bool *stop;
    atomic_size_t rounds;  /* SET+GET pairs done, watched by the test */
    pthread_t thread;
    char keys[RESHARD_KEYS][64];
    size_t last[RESHARD_KEYS]; /* the value of the last SET that was OK */
    atomic_size_t wrong, errors; /* watched by the test while it runs, too */
    char problem[512];
};

static void *reshard_worker_main(void *arg)
{
    struct reshard_worker *w = arg;
    for (size_t n = 1; !atomic_load(w->stop); n++) {
        size_t k = n % RESHARD_KEYS;
        char value[32];
        snprintf(value, sizeof value, "%zu", n);
        struct redis_result s = set_bounded(w->cluster, w->keys[k], value);
        struct redis_result g = get_bounded(w->cluster, w->keys[k]);
        if (s.kind == REDIS_RESULT_OK)
            w->last[k] = n;
        bool right = g.kind == REDIS_RESULT_VALUE && strtoull(g.data, NULL, 10) == w->last[k];
        if (s.kind != REDIS_RESULT_OK || redis_result_is_error(&g))
            w->errors++;
        else if (!right)
            w->wrong++;
        if ((s.kind != REDIS_RESULT_OK || !right) && w->problem[0] == '\0')
            snprintf(w->problem, sizeof w->problem, "%s: SET %s gave %s; GET gave %s",
                     w->keys[k], value, text_of(&s), text_of(&g));
        redis_result_free(&s);
        redis_result_free(&g);
        atomic_fetch_add(&w->rounds, 1);
    }
    return NULL;
}

/* Waits until every worker has done `more` rounds after now. */
static bool let_workers_run(struct reshard_worker *w, size_t more)
{
    size_t target[RESHARD_THREADS];
    for (int t = 0; t < RESHARD_THREADS; t++)
        target[t] = atomic_load(&w[t].rounds) + more;
    int64_t deadline = test_now_ms() + SETTLE_BOUND_MS;
    for (int t = 0; t < RESHARD_THREADS; t++)
        while (atomic_load(&w[t].rounds) < target[t])
            if (test_now_ms() > deadline)
                return false;
            else
                test_sleep_ms(5);
    return true;
}

/* Waits until the clients have followed an ASK (`ask`) or a MOVED.  False
 * at the bound, or as soon as the wait can no longer end well: a worker got
 * an error or a wrong value (a redirection handed over as the answer), or,
 * while the slot is still migrating, a MOVED was counted (an ASK taken for
 * a MOVED, or followed without ASKING).  A right client never does either,
 * so these end a wrong one's wait early, never a right one's. */
static bool wait_for_count(struct cluster *c, bool ask, struct reshard_worker *w)
{
    int64_t deadline = test_now_ms() + SETTLE_BOUND_MS;
    for (;;) {
        struct cluster_stats st;
        cluster_stats(c, &st);
        if ((ask ? st.asked : st.moved) > 0)
            return true;
        bool went_wrong = ask && st.moved > 0;
        for (int t = 0; t < RESHARD_THREADS; t++)
            went_wrong = went_wrong || atomic_load(&w[t].wrong) > 0 ||
                         atomic_load(&w[t].errors) > 0;
        if (went_wrong || test_now_ms() > deadline)
            return false;
        test_sleep_ms(5);
    }
}

START_TEST(threads_keep_every_key_right_while_its_slots_move)
{
    struct cluster *c = open_cluster(moving.url, NULL);
    atomic_bool stop;
    atomic_init(&stop, false);
    static struct reshard_worker w[RESHARD_THREADS];
    /* The slots to move: every slot of the workers' keys that node 0 serves. */
    int slots[RESHARD_THREADS * RESHARD_KEYS];
    size_t slot_count = 0;
    for (int t = 0; t < RESHARD_THREADS; t++) {
        w[t] = (struct reshard_worker){ .cluster = c, .index = t, .stop = &stop };
        atomic_init(&w[t].rounds, 0);
        atomic_init(&w[t].wrong, 0);
        atomic_init(&w[t].errors, 0);
        for (int k = 0; k < RESHARD_KEYS; k++) {
            snprintf(w[t].keys[k], sizeof w[t].keys[k], "t10:%ld:reshard:%d:%d", (long)getpid(),
                     t, k);
            int slot = (int)slot_of(w[t].keys[k]);
            bool seen = false;
            for (size_t i = 0; i < slot_count; i++)
                seen = seen || slots[i] == slot;
            if (!seen && redis_cluster_slot_owner(&moving, slot) == 0)
                slots[slot_count++] = slot;
        }
    }
    ck_assert_msg(slot_count >= 2, "expected some keys on node 0, found %zu slots", slot_count);
    for (int t = 0; t < RESHARD_THREADS; t++)
        ck_assert_int_eq(pthread_create(&w[t].thread, NULL, reshard_worker_main, &w[t]), 0);

    char err[1024] = "";
    bool ran = let_workers_run(w, 20);
    /* The first slot step by step: held in the migrating state until the
     * workers have been ASKed, then given to node 1 (MOVED from then on). */
    int rc = ran ? redis_cluster_migration_begin(&moving, slots[0], 1, err, sizeof err) : -1;
    if (rc == 0)
        rc = redis_cluster_migration_move_keys(&moving, slots[0], 1, err, sizeof err);
    bool asked = rc == 0 && wait_for_count(c, true, w);
    if (rc == 0)
        rc = redis_cluster_migration_end(&moving, slots[0], 1, err, sizeof err);
    bool moved = rc == 0 && wait_for_count(c, false, w);
    /* The rest in one go, as redis-cli --cluster reshard would. */
    for (size_t i = 1; rc == 0 && i < slot_count; i++)
        rc = redis_cluster_move_slots(&moving, slots[i], slots[i], 1, err, sizeof err);
    bool ran_after = rc == 0 && let_workers_run(w, 20);
    atomic_store(&stop, true);
    for (int t = 0; t < RESHARD_THREADS; t++)
        pthread_join(w[t].thread, NULL);
    struct cluster_stats st;
    cluster_stats(c, &st);
    cluster_close(c);
    fprintf(stderr, "test_10: resharding moved %zu slots from node 0 to node 1; the clients "
            "followed %zu MOVED and %zu ASK redirections\n", slot_count, st.moved, st.asked);

    ck_assert_msg(ran, "the workers did not get going");
    ck_assert_msg(rc == 0, "moving the slots failed: %s", err);
    for (int t = 0; t < RESHARD_THREADS; t++)
        ck_assert_msg(w[t].wrong == 0 && w[t].errors == 0,
                      "expected every SET to be OK and every GET to return its thread's last "
                      "SET while slots moved; worker %d had %zu wrong and %zu errors: %s"
                      CHAPTER_HINT("Following MOVED and ASK"), t, atomic_load(&w[t].wrong),
                      atomic_load(&w[t].errors),
                      w[t].problem, chapter_doc());
    ck_assert_msg(asked, "expected the workers to be ASKed while slot %d was migrating; "
                  "no ASK was counted" CHAPTER_HINT("Following MOVED and ASK"), slots[0],
                  chapter_doc());
    ck_assert_msg(moved, "expected the workers to be told MOVED once slot %d had moved; no "
                  "MOVED was counted" CHAPTER_HINT("Following MOVED and ASK"), slots[0],
                  chapter_doc());
    ck_assert_msg(ran_after, "expected the workers to go on after the slots moved"
                  CHAPTER_HINT("Following MOVED and ASK"), chapter_doc());
    /* Nothing lost: each key's last SET is on its new master.  Nothing
     * doubled: the old master holds no key of the moved slots. */
    for (int t = 0; t < RESHARD_THREADS; t++)
        for (int k = 0; k < RESHARD_KEYS; k++) {
            int owner = redis_cluster_slot_owner(&moving, (int)slot_of(w[t].keys[k]));
            const char *argv[] = { "GET", w[t].keys[k] };
            const size_t len[] = { 3, strlen(w[t].keys[k]) };
            struct redis_tree g = direct(moving.nodes[owner].url, 2, argv, len);
            ck_assert_msg(w[t].last[k] == 0 ||
                              (g.value.kind == REDIS_RESULT_VALUE &&
                               strtoull(g.value.data, NULL, 10) == w[t].last[k]),
                          "expected %s to hold %zu on node %d, it holds %s", w[t].keys[k],
                          w[t].last[k], owner, text_of(&g.value));
            redis_tree_free(&g);
        }
    for (size_t i = 0; i < slot_count; i++) {
        char slot_text[16];
        snprintf(slot_text, sizeof slot_text, "%d", slots[i]);
        const char *argv[] = { "CLUSTER", "COUNTKEYSINSLOT", slot_text };
        const size_t len[] = { 7, 15, strlen(slot_text) };
        struct redis_tree n = direct(moving.nodes[0].url, 3, argv, len);
        ck_assert_msg(n.value.kind == REDIS_RESULT_INTEGER && n.value.integer == 0,
                      "expected node 0 to keep no key of moved slot %d, it has %lld", slots[i],
                      n.value.integer);
        redis_tree_free(&n);
    }
}
END_TEST

/* ---- When a master dies ------------------------------------------------------------------ */

START_TEST(a_dead_master_fails_only_its_keys_until_its_replica_takes_over)
{
    signal(SIGPIPE, SIG_IGN);
    struct redis_cluster rc;
    char err[1024] = "";
    ck_assert_msg(redis_cluster_start(&rc, 3, 1, err, sizeof err) == 0, "%s", err);
    struct cluster *c = open_cluster(rc.url, NULL);
    char keys[3][64];
    for (size_t m = 0; m < 3; m++) {
        char prefix[48];
        snprintf(prefix, sizeof prefix, "t10:%ld:dead:%zu", (long)getpid(), m);
        key_on(&rc, m, prefix, keys[m], sizeof keys[m]);
        expect_set_ok(c, keys[m], "before", "One manager per master");
    }
    redis_cluster_kill_node(&rc, 0);

    /* The dead master's key: an error, at once, not a hang. */
    struct redis_result r = set_bounded(c, keys[0], "after");
    ck_assert_msg(r.kind == REDIS_RESULT_IO_ERROR && !is_timeout(&r),
                  "expected a SET to the killed master to fail with an I/O error at once, "
                  "got %s: %s" CHAPTER_HINT("When a master dies"),
                  redis_result_kind_name(r.kind), text_of(&r), chapter_doc());
    redis_result_free(&r);
    /* The others' keys: served as if nothing happened. */
    for (int i = 0; i < 20; i++)
        for (size_t m = 1; m < 3; m++)
            expect_set_ok(c, keys[m], "after", "When a master dies");
    /* Then node 3, its replica, is promoted; the client finds it. */
    int64_t deadline = test_now_ms() + SETTLE_BOUND_MS;
    size_t errors = 0;
    for (;;) {
        r = set_bounded(c, keys[0], "after");
        bool ok = r.kind == REDIS_RESULT_OK, hung = is_timeout(&r);
        redis_result_free(&r);
        ck_assert_msg(!hung, "expected every SET to be answered" CHAPTER_HINT("When a master dies"),
                      chapter_doc());
        if (ok)
            break;
        errors++;
        ck_assert_msg(test_now_ms() < deadline,
                      "expected SET %s to succeed again once the replica took over, within %d "
                      "ms; %zu tries failed" CHAPTER_HINT("When a master dies"), keys[0],
                      SETTLE_BOUND_MS, errors, chapter_doc());
        test_sleep_ms(20);
    }
    int now = client_target(c, &rc, slot_of(keys[0]));
    ck_assert_msg(now == 3, "expected slot %u to be served by node 3 (the replica) after the "
                  "failover, the client sends it to node %d" CHAPTER_HINT("When a master dies"),
                  slot_of(keys[0]), now, chapter_doc());
    expect_value(c, keys[0], "after", "When a master dies");
    fprintf(stderr, "test_10: after the kill, %zu SETs to the dead master's key failed before "
            "its replica took over\n", errors + 1);
    cluster_close(c);
    redis_cluster_stop(&rc);
}
END_TEST

/* ---- The program ------------------------------------------------------------------------ */

static void run_program(const char *const *argv, const char *url, struct program_run *run)
{
    char env[128];
    snprintf(env, sizeof env, "REDIS_URL=%s", url);
    const char *envp[] = { env, NULL };
    ck_assert_msg(program_run(argv, envp, PROGRAM_BOUND_MS, run) == 0, "cannot run %s",
                  argv[0]);
}

START_TEST(the_program_checks_every_reply_and_exits_0)
{
    const char *argv[] = { chapter_program(), "--threads", "4", "--requests", "300", NULL };
    struct program_run run;
    run_program(argv, shared.url, &run);
    char outcome[128];
    ck_assert_msg(run.exit_code == 0, "expected exit 0, the program %s; stderr:\n%s"
                  CHAPTER_HINT("A run"),
                  program_run_outcome(&run, outcome, sizeof outcome), run.err, chapter_doc());
    const char *lines[] = {
        "Cluster of 3 masters;",
        "requests: 1200 sent, 1200 answered as expected, 0 wrong, 0 errors\n",
        "all 3 masters carried commands\n",
        "redirections followed: 0 MOVED, 0 ASK\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        ck_assert_msg(strstr(run.out, lines[i]) != NULL,
                      "expected the report to say \"%s\"; it said:\n%s" CHAPTER_HINT("A run"),
                      lines[i], run.out, chapter_doc());
    program_run_free(&run);
}
END_TEST

START_TEST(no_cluster_there_exits_with_2_saying_why)
{
    char closed[64];
    redis_harness_closed_port_url(closed, sizeof closed);
    struct {
        const char *url;
        const char *says;
    } cases[] = {
        { "http://127.0.0.1:6379", "bad Redis URL" },
        { closed, "cannot connect" },
        { test_redis_url(), "Is it a node of a Redis Cluster?" }, /* a plain server */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[] = { chapter_program(), "--requests", "10", NULL };
        struct program_run run;
        run_program(argv, cases[i].url, &run);
        char outcome[128];
        ck_assert_msg(run.exit_code == 2 && strstr(run.err, cases[i].says) != NULL,
                      "expected exit 2 and \"%s\" on stderr with REDIS_URL=%s; the program %s, "
                      "stderr:\n%s" CHAPTER_HINT("A run"), cases[i].says, cases[i].url,
                      program_run_outcome(&run, outcome, sizeof outcome), run.err,
                      chapter_doc());
        program_run_free(&run);
    }
}
END_TEST

/* Kills node 0 of `rc` once it has run `commands` more commands: the
 * program is then surely in the middle of its run. */
struct killer {
    struct redis_cluster *rc;
    long long commands;
    bool killed;
};

static long long commands_processed(const char *url)
{
    const char *argv[] = { "INFO", "stats" };
    const size_t len[] = { 4, 5 };
    char err[256];
    struct redis_client *c = redis_client_connect(url, NULL, err, sizeof err);
    if (c == NULL)
        return -1;
    struct redis_result r = redis_client_command(c, 2, argv, len);
    const char *at = r.kind == REDIS_RESULT_VALUE ? strstr(r.data, "total_commands_processed:")
                                                  : NULL;
    long long n = at != NULL ? atoll(at + 25) : -1;
    redis_result_free(&r);
    redis_client_free(c);
    return n;
}

static void *killer_main(void *arg)
{
    struct killer *k = arg;
    long long start = commands_processed(k->rc->nodes[0].url);
    int64_t deadline = test_now_ms() + PROGRAM_BOUND_MS;
    while (test_now_ms() < deadline) {
        long long n = commands_processed(k->rc->nodes[0].url);
        if (start >= 0 && n >= start + k->commands) {
            redis_cluster_kill_node(k->rc, 0);
            k->killed = true;
            break;
        }
        test_sleep_ms(5);
    }
    return NULL;
}

START_TEST(the_program_reports_the_errors_of_a_dead_master_and_exits_1)
{
    struct redis_cluster rc;
    char err[1024] = "";
    ck_assert_msg(redis_cluster_start(&rc, 3, 0, err, sizeof err) == 0, "%s", err);
    struct killer k = { .rc = &rc, .commands = 300 };
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, killer_main, &k), 0);
    const char *argv[] = { chapter_program(), "--threads", "4", "--requests", "10000", NULL };
    struct program_run run;
    char url[64];
    snprintf(url, sizeof url, "%s", rc.nodes[1].url); /* a node that lives */
    run_program(argv, url, &run);
    pthread_join(thread, NULL);
    redis_cluster_stop(&rc);
    char outcome[128];
    ck_assert_msg(k.killed, "the test could not kill node 0 during the run (the program %s)",
                  program_run_outcome(&run, outcome, sizeof outcome));
    ck_assert_msg(run.exit_code == 1 && strstr(run.err, " errors; the first: ") != NULL &&
                      strstr(run.out, "requests: 40000 sent") != NULL,
                  "expected exit 1, every request answered, and the errors counted and shown "
                  "once a master died; the program %s, stdout:\n%s\nstderr:\n%s"
                  CHAPTER_HINT("When a master dies"),
                  program_run_outcome(&run, outcome, sizeof outcome), run.out, run.err,
                  chapter_doc());
    program_run_free(&run);
}
END_TEST

static Suite *chapter_suite(void)
{
    Suite *s = suite_create("10-redis-cluster");

    TCase *slots = tcase_create("slots");
    tcase_set_timeout(slots, 60);
    tcase_add_test(slots, key_slot_agrees_with_cluster_keyslot_on_every_kind_of_key);
    tcase_add_test(slots, hash_tags_keep_related_keys_in_one_slot_and_crossslot_refuses_the_rest);
    tcase_add_test(slots, every_command_goes_to_the_master_that_serves_its_slot);
    tcase_add_test(slots, commands_for_one_key_stay_in_order_with_many_in_flight);
    suite_add_tcase(s, slots);

    TCase *redirections = tcase_create("redirections");
    tcase_set_timeout(redirections, 120);
    tcase_add_unchecked_fixture(redirections, start_moving_cluster, stop_moving_cluster);
    tcase_add_test(redirections, an_ask_is_followed_once_and_leaves_the_slot_map_as_it_was);
    tcase_add_test(redirections, a_moved_slot_is_learned_once_and_every_later_command_goes_straight_there);
    tcase_add_test(redirections, threads_keep_every_key_right_while_its_slots_move);
    suite_add_tcase(s, redirections);

    TCase *failover = tcase_create("failover");
    tcase_set_timeout(failover, 120);
    tcase_add_test(failover, a_dead_master_fails_only_its_keys_until_its_replica_takes_over);
    suite_add_tcase(s, failover);

    TCase *program = tcase_create("program");
    tcase_set_timeout(program, 120);
    tcase_add_test(program, the_program_checks_every_reply_and_exits_0);
    tcase_add_test(program, no_cluster_there_exits_with_2_saying_why);
    tcase_add_test(program, the_program_reports_the_errors_of_a_dead_master_and_exits_1);
    suite_add_tcase(s, program);
    return s;
}

int main(void)
{
    /* The shared cluster, started before any test and stopped after all;
     * the harness stops it on Ctrl-C or a crash as well. */
    redis_harness_stop_all_on_signal();
    char err[1024] = "";
    if (redis_cluster_start(&shared, 3, 0, err, sizeof err) != 0) {
        fprintf(stderr, "test_10: cannot start a Redis Cluster: %s\n", err);
        return 2;
    }
    int status = test_run_chapter_suite(chapter_suite());
    redis_cluster_stop(&shared);
    return status;
}
