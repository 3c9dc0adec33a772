/* SPDX-License-Identifier: MIT
 * Unit tests for parsers/headers.c: the ordered header table keeps order,
 * repetitions and casing through add/find/remove, append_list joins list
 * values, each_list_item splits them, and arena exhaustion leaves the table as
 * it was.
 */
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"
#include "parsers/headers.h"

#define IOV(s) ((struct tb_iov){(s), strlen(s)})

static int setup_arena(void **state)
{
    *state = tb_arena_new(1024, 1 << 16);
    return 0;
}

static int teardown_arena(void **state)
{
    tb_arena_free(*state);
    return 0;
}

/* Fills the arena until it refuses even one byte. */
static void arena_exhaust(struct tb_arena *arena)
{
    while (tb_arena_alloc(arena, 1) != NULL)
        ;
}

/* Empties `hdrs` and adds the NULL-terminated name/value list `pairs`. */
static void build(struct tb_arena *arena, struct tb_headers *hdrs, const char *const *pairs)
{
    tb_headers_init(hdrs);
    tb_test_headers_build(arena, hdrs, pairs);
}

#define BUILD(arena, hdrs, ...) build((arena), (hdrs), (const char *const[]){__VA_ARGS__, NULL})

/* Adds headers "n0: v", "n1: v", … until the table's array is full, so that
 * the next insertion must grow it. Returns how many were added. */
static size_t fill_to_capacity(struct tb_arena *arena, struct tb_headers *hdrs, char (*names)[24],
                               size_t max)
{
    size_t n = 0;

    tb_headers_init(hdrs);
    do {
        snprintf(names[n], 24, "n%zu", n);
        assert_int_equal(tb_headers_add(arena, hdrs, IOV(names[n]), TB_IOV_LIT("v")), TB_OK);
        n++;
    } while (hdrs->num < hdrs->cap && n < max);
    assert_int_equal(hdrs->num, hdrs->cap);
    return n;
}

/* ------------------------------------------------------------------------ */
/* add / init                                                               */

static void test_tb_headers_init__empty(void **state)
{
    struct tb_headers h;

    (void)state;
    memset(&h, 0xa5, sizeof(h));
    tb_headers_init(&h);
    assert_int_equal(h.num, 0);
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("host"), 0), -1);
}

static void test_tb_headers_add__keeps_order_casing_and_repeats(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "Host", "a", "X-Custom", "1", "x-CUSTOM", "2", "Accept", "*/*", "X-Custom",
          "3");
    assert_headers(&h, "Host", "a", "X-Custom", "1", "x-CUSTOM", "2", "Accept", "*/*", "X-Custom",
                   "3");
}

static void test_tb_headers_add__borrows_name_and_value(void **state)
{
    static const char name[] = "X-Borrowed", value[] = "v";
    struct tb_headers h;

    tb_headers_init(&h);
    assert_int_equal(tb_headers_add(*state, &h, IOV(name), IOV(value)), TB_OK);
    assert_ptr_equal(h.entries[0].name.base, name);
    assert_ptr_equal(h.entries[0].value.base, value);
}

static void test_tb_headers_add__sets_token(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "CONTENT-length", "5", "X-Other", "y", "host", "h");
    assert_int_equal(h.entries[0].token, TB_HDR_CONTENT_LENGTH);
    assert_int_equal(h.entries[1].token, TB_HDR_UNKNOWN);
    assert_int_equal(h.entries[2].token, TB_HDR_HOST);
}

static void test_tb_headers_add__grows_past_initial_capacity(void **state)
{
    static char names[200][24];
    struct tb_headers h;

    tb_headers_init(&h);
    for (size_t i = 0; i < TB_ARRAY_SIZE(names); i++) {
        snprintf(names[i], sizeof(names[i]), "h%zu", i);
        assert_int_equal(tb_headers_add(*state, &h, IOV(names[i]), IOV(names[i])), TB_OK);
    }
    assert_int_equal(h.num, TB_ARRAY_SIZE(names));
    for (size_t i = 0; i < TB_ARRAY_SIZE(names); i++) {
        assert_iov_equal(h.entries[i].name, names[i]);
        assert_iov_equal(h.entries[i].value, names[i]);
    }
}

static void test_tb_headers_add__empty_value(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "X-Empty", "");
    assert_int_equal(h.num, 1);
    assert_int_equal(h.entries[0].value.len, 0);
}

static void test_tb_headers_add_known__uses_given_token(void **state)
{
    struct tb_headers h;

    tb_headers_init(&h);
    assert_int_equal(tb_headers_add_known(*state, &h, TB_HDR_HOST, TB_IOV_LIT("Host"),
                                          TB_IOV_LIT("example.com")),
                     TB_OK);
    assert_int_equal(tb_headers_add_known(*state, &h, TB_HDR_X_FORWARDED_FOR,
                                          TB_IOV_LIT("X-Forwarded-For"), TB_IOV_LIT("192.0.2.1")),
                     TB_OK);
    assert_int_equal(h.num, 2);
    assert_int_equal(h.entries[0].token, TB_HDR_HOST);
    assert_int_equal(h.entries[1].token, TB_HDR_X_FORWARDED_FOR);
    assert_int_equal(tb_headers_find_token(&h, TB_HDR_X_FORWARDED_FOR, 0), 1);
    assert_headers(&h, "Host", "example.com", "X-Forwarded-For", "192.0.2.1");
}

static void test_tb_headers_add__exhausted_arena_leaves_table(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 4096);
    struct tb_headers h;
    struct tb_header *entries;
    char names[64][24];
    size_t n, cap;

    (void)state;
    n = fill_to_capacity(arena, &h, names, TB_ARRAY_SIZE(names));
    arena_exhaust(arena);
    entries = h.entries;
    cap = h.cap;
    assert_int_equal(tb_headers_add(arena, &h, TB_IOV_LIT("X-Late"), TB_IOV_LIT("1")), TB_ENOSPC);
    assert_int_equal(
        tb_headers_add_known(arena, &h, TB_HDR_HOST, TB_IOV_LIT("Host"), TB_IOV_LIT("h")),
        TB_ENOSPC);
    assert_int_equal(h.num, n);
    assert_int_equal(h.cap, cap);
    assert_ptr_equal(h.entries, entries);
    for (size_t i = 0; i < n; i++) {
        assert_iov_equal(h.entries[i].name, names[i]);
        assert_iov_equal(h.entries[i].value, "v");
    }
    tb_arena_free(arena);
}

/* ------------------------------------------------------------------------ */
/* find / count                                                             */

static void test_tb_headers_find__case_insensitive_and_from(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "Host", "a", "X-A", "1", "x-b", "2", "x-a", "3", "X-A", "4");
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("x-a"), 0), 1);
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("X-A"), 1), 1);
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("X-a"), 2), 3);
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("x-A"), 4), 4);
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("x-a"), 5), -1);
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("x-a"), 100), -1);
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("HOST"), 0), 0);
}

static void test_tb_headers_find__exact_length_only(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "Hostname", "a", "Hos", "b", "X-Ab", "c");
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("host"), 0), -1);
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("x-a"), 0), -1);
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("hos"), 0), 1);
}

static void test_tb_headers_find__empty_table(void **state)
{
    struct tb_headers h;

    (void)state;
    tb_headers_init(&h);
    assert_int_equal(tb_headers_find(&h, TB_STRLIT("host"), 0), -1);
    assert_int_equal(tb_headers_find_token(&h, TB_HDR_HOST, 0), -1);
    assert_int_equal(tb_headers_count_token(&h, TB_HDR_HOST), 0);
}

static void test_tb_headers_find_token__from(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "Connection", "a", "Host", "h", "CONNECTION", "b", "X", "y", "connection",
          "c");
    assert_int_equal(tb_headers_find_token(&h, TB_HDR_CONNECTION, 0), 0);
    assert_int_equal(tb_headers_find_token(&h, TB_HDR_CONNECTION, 1), 2);
    assert_int_equal(tb_headers_find_token(&h, TB_HDR_CONNECTION, 3), 4);
    assert_int_equal(tb_headers_find_token(&h, TB_HDR_CONNECTION, 5), -1);
    assert_int_equal(tb_headers_find_token(&h, TB_HDR_HOST, 0), 1);
    assert_int_equal(tb_headers_find_token(&h, TB_HDR_TE, 0), -1);
}

static void test_tb_headers_count_token__counts_repeats(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "Connection", "a", "Host", "h", "CONNECTION", "b", "X", "y", "connection",
          "c");
    assert_int_equal(tb_headers_count_token(&h, TB_HDR_CONNECTION), 3);
    assert_int_equal(tb_headers_count_token(&h, TB_HDR_HOST), 1);
    assert_int_equal(tb_headers_count_token(&h, TB_HDR_TE), 0);
}

/* ------------------------------------------------------------------------ */
/* remove                                                                   */

static void test_tb_headers_remove_at__first_middle_last(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "A", "1", "B", "2", "C", "3", "D", "4", "E", "5");
    tb_headers_remove_at(&h, 2);
    assert_headers(&h, "A", "1", "B", "2", "D", "4", "E", "5");
    tb_headers_remove_at(&h, 0);
    assert_headers(&h, "B", "2", "D", "4", "E", "5");
    tb_headers_remove_at(&h, 2);
    assert_headers(&h, "B", "2", "D", "4");
    tb_headers_remove_at(&h, 1);
    tb_headers_remove_at(&h, 0);
    assert_int_equal(h.num, 0);
}

static void test_tb_headers_remove__all_casings_keep_order(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "X-Drop", "1", "Keep", "a", "x-drop", "2", "Keep", "b", "X-DROP", "3",
          "X-Drops", "4");
    assert_int_equal(tb_headers_remove(&h, TB_STRLIT("x-Drop")), 3);
    assert_headers(&h, "Keep", "a", "Keep", "b", "X-Drops", "4");
    assert_int_equal(tb_headers_remove(&h, TB_STRLIT("absent")), 0);
    assert_headers(&h, "Keep", "a", "Keep", "b", "X-Drops", "4");
}

static void test_tb_headers_remove__everything(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "A", "1", "a", "2");
    assert_int_equal(tb_headers_remove(&h, TB_STRLIT("A")), 2);
    assert_int_equal(h.num, 0);
    /* The emptied table still takes new headers. */
    assert_int_equal(tb_headers_add(*state, &h, TB_IOV_LIT("B"), TB_IOV_LIT("3")), TB_OK);
    assert_headers(&h, "B", "3");
}

static void test_tb_headers_remove_token__keeps_order(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "te", "trailers", "Host", "h", "TE", "gzip", "X", "y", "Te", "z");
    assert_int_equal(tb_headers_remove_token(&h, TB_HDR_TE), 3);
    assert_headers(&h, "Host", "h", "X", "y");
    assert_int_equal(tb_headers_remove_token(&h, TB_HDR_TE), 0);
    assert_headers(&h, "Host", "h", "X", "y");
}

/* ------------------------------------------------------------------------ */
/* append_list                                                              */

static void test_tb_headers_append_list__joins_last_existing(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "Host", "h", "x-forwarded-for", "192.0.2.1", "Accept", "*/*");
    assert_int_equal(tb_headers_append_list(*state, &h, TB_HDR_X_FORWARDED_FOR,
                                            TB_IOV_LIT("X-Forwarded-For"), TB_IOV_LIT("10.0.0.1")),
                     TB_OK);
    /* Same place, same casing of the name. */
    assert_headers(&h, "Host", "h", "x-forwarded-for", "192.0.2.1, 10.0.0.1", "Accept", "*/*");
    assert_int_equal(h.entries[1].token, TB_HDR_X_FORWARDED_FOR);
}

static void test_tb_headers_append_list__only_last_of_repeats(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "X-Forwarded-For", "a", "Host", "h", "X-Forwarded-For", "b", "Y", "z");
    assert_int_equal(tb_headers_append_list(*state, &h, TB_HDR_X_FORWARDED_FOR,
                                            TB_IOV_LIT("X-Forwarded-For"), TB_IOV_LIT("c")),
                     TB_OK);
    assert_headers(&h, "X-Forwarded-For", "a", "Host", "h", "X-Forwarded-For", "b, c", "Y", "z");
}

static void test_tb_headers_append_list__absent_adds_at_end(void **state)
{
    char suffix[] = "https";
    struct tb_headers h;

    BUILD(*state, &h, "Host", "h", "Accept", "*/*");
    assert_int_equal(tb_headers_append_list(*state, &h, TB_HDR_X_FORWARDED_PROTO,
                                            TB_IOV_LIT("X-Forwarded-Proto"), IOV(suffix)),
                     TB_OK);
    assert_headers(&h, "Host", "h", "Accept", "*/*", "X-Forwarded-Proto", "https");
    assert_int_equal(h.entries[2].token, TB_HDR_X_FORWARDED_PROTO);
    /* The value is built in the arena: changing the caller's bytes does not
     * reach the table. */
    suffix[0] = 'X';
    assert_iov_equal(h.entries[2].value, "https");
}

static void test_tb_headers_append_list__empty_table(void **state)
{
    struct tb_headers h;

    tb_headers_init(&h);
    assert_int_equal(tb_headers_append_list(*state, &h, TB_HDR_X_FORWARDED_FOR,
                                            TB_IOV_LIT("X-Forwarded-For"), TB_IOV_LIT("::1")),
                     TB_OK);
    assert_headers(&h, "X-Forwarded-For", "::1");
}

static void test_tb_headers_append_list__empty_existing_value(void **state)
{
    struct tb_headers h;

    BUILD(*state, &h, "X-Forwarded-For", "", "Host", "h");
    assert_int_equal(tb_headers_append_list(*state, &h, TB_HDR_X_FORWARDED_FOR,
                                            TB_IOV_LIT("X-Forwarded-For"), TB_IOV_LIT("10.0.0.2")),
                     TB_OK);
    /* No leading ", " when there was nothing to join to. */
    assert_headers(&h, "X-Forwarded-For", "10.0.0.2", "Host", "h");
}

static void test_tb_headers_append_list__exhausted_arena_leaves_table(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 2048);
    struct tb_headers h;

    (void)state;
    BUILD(arena, &h, "Host", "h", "X-Forwarded-For", "192.0.2.1");
    arena_exhaust(arena);
    assert_int_equal(tb_headers_append_list(arena, &h, TB_HDR_X_FORWARDED_FOR,
                                            TB_IOV_LIT("X-Forwarded-For"), TB_IOV_LIT("10.0.0.1")),
                     TB_ENOSPC);
    assert_headers(&h, "Host", "h", "X-Forwarded-For", "192.0.2.1");
    assert_int_equal(tb_headers_append_list(arena, &h, TB_HDR_X_FORWARDED_PROTO,
                                            TB_IOV_LIT("X-Forwarded-Proto"), TB_IOV_LIT("http")),
                     TB_ENOSPC);
    assert_headers(&h, "Host", "h", "X-Forwarded-For", "192.0.2.1");
    tb_arena_free(arena);
}

static void test_tb_headers_append_list__absent_with_full_array(void **state)
{
    struct tb_headers h;
    char names[64][24];
    size_t n;

    n = fill_to_capacity(*state, &h, names, TB_ARRAY_SIZE(names));
    /* A new header needs a grown array; it lands at the end. */
    assert_int_equal(tb_headers_append_list(*state, &h, TB_HDR_X_FORWARDED_FOR,
                                            TB_IOV_LIT("X-Forwarded-For"), TB_IOV_LIT("v6")),
                     TB_OK);
    assert_int_equal(h.num, n + 1);
    assert_iov_equal(h.entries[n].name, "X-Forwarded-For");
    assert_iov_equal(h.entries[n].value, "v6");
    for (size_t i = 0; i < n; i++)
        assert_iov_equal(h.entries[i].name, names[i]);
}

static void test_tb_headers_append_list__no_room_to_grow_leaves_table(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 4096);
    struct tb_headers h;
    char names[64][24];
    size_t n, left;

    (void)state;
    n = fill_to_capacity(arena, &h, names, TB_ARRAY_SIZE(names));
    /* Leave room for the copy of the value, not for a larger array. */
    left = 4096 - tb_arena_used(arena);
    assert_true(left > 32);
    assert_non_null(tb_arena_alloc(arena, left - 32));
    assert_int_equal(tb_headers_append_list(arena, &h, TB_HDR_X_FORWARDED_FOR,
                                            TB_IOV_LIT("X-Forwarded-For"), TB_IOV_LIT("v6")),
                     TB_ENOSPC);
    assert_int_equal(h.num, n);
    for (size_t i = 0; i < n; i++) {
        assert_iov_equal(h.entries[i].name, names[i]);
        assert_iov_equal(h.entries[i].value, "v");
    }
    tb_arena_free(arena);
}

/* ------------------------------------------------------------------------ */
/* each_list_item                                                           */

struct items {
    size_t num;
    char text[8][32];
    int overflow;
};

static void items_collect(struct tb_iov item, void *arg)
{
    struct items *it = arg;

    if (it->num == TB_ARRAY_SIZE(it->text) || item.len >= sizeof(it->text[0])) {
        it->overflow = 1;
        return;
    }
    memcpy(it->text[it->num], item.base, item.len);
    it->text[it->num][item.len] = '\0';
    it->num++;
}

struct list_case {
    const char *value;
    const char *items[8]; /* NULL-terminated */
};

static void test_tb_headers_each_list_item__table(void **state)
{
    static const struct list_case cases[] = {
        {"close", {"close", NULL}},
        {"a,b,c", {"a", "b", "c", NULL}},
        {"a, b ,\tc", {"a", "b", "c", NULL}},
        {" \t keep-alive \t ", {"keep-alive", NULL}},
        {", , a,,b ,", {"a", "b", NULL}},
        {"a b, c\t d", {"a b", "c\t d", NULL}},
        {"", {NULL}},
        {" ", {NULL}},
        {",", {NULL}},
        {" , \t, ", {NULL}},
        {"Upgrade, X-Foo,x-bar", {"Upgrade", "X-Foo", "x-bar", NULL}},
    };
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        const struct list_case *c = &cases[i];
        size_t len = strlen(c->value);
        char *g = tb_test_guarded(c->value, len);
        struct items it = {0};
        size_t n = 0;
        int ok;

        tb_headers_each_list_item((struct tb_iov){g, len}, items_collect, &it);
        while (c->items[n] != NULL)
            n++;
        ok = !it.overflow && it.num == n;
        for (size_t k = 0; ok && k < n; k++)
            ok = strcmp(it.text[k], c->items[k]) == 0;
        if (!ok) {
            tb_test_print_bytes("each_list_item ", c->value, len);
            for (size_t k = 0; k < it.num; k++)
                tb_test_print_bytes("  got item:      ", it.text[k], strlen(it.text[k]));
            for (size_t k = 0; k < n; k++)
                tb_test_print_bytes("  expected item: ", c->items[k], strlen(c->items[k]));
            failed = 1;
        }
        tb_test_guarded_free(g, len);
    }
    assert_false(failed);
}

struct borrowed {
    struct tb_iov seen[4];
    size_t num;
};

static void borrowed_collect(struct tb_iov item, void *arg)
{
    struct borrowed *b = arg;

    if (b->num < TB_ARRAY_SIZE(b->seen))
        b->seen[b->num] = item;
    b->num++;
}

static void test_tb_headers_each_list_item__items_borrow_value(void **state)
{
    static const char value[] = " a , bc ";
    struct borrowed b = {.num = 0};

    (void)state;
    tb_headers_each_list_item(TB_IOV_LIT(value), borrowed_collect, &b);
    assert_int_equal(b.num, 2);
    assert_ptr_equal(b.seen[0].base, value + 1);
    assert_int_equal(b.seen[0].len, 1);
    assert_ptr_equal(b.seen[1].base, value + 5);
    assert_int_equal(b.seen[1].len, 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_arena, teardown_arena)
    const struct CMUnitTest tests[] = {
        T(test_tb_headers_init__empty),
        T(test_tb_headers_add__keeps_order_casing_and_repeats),
        T(test_tb_headers_add__borrows_name_and_value),
        T(test_tb_headers_add__sets_token),
        T(test_tb_headers_add__grows_past_initial_capacity),
        T(test_tb_headers_add__empty_value),
        T(test_tb_headers_add_known__uses_given_token),
        T(test_tb_headers_add__exhausted_arena_leaves_table),
        T(test_tb_headers_find__case_insensitive_and_from),
        T(test_tb_headers_find__exact_length_only),
        T(test_tb_headers_find__empty_table),
        T(test_tb_headers_find_token__from),
        T(test_tb_headers_count_token__counts_repeats),
        T(test_tb_headers_remove_at__first_middle_last),
        T(test_tb_headers_remove__all_casings_keep_order),
        T(test_tb_headers_remove__everything),
        T(test_tb_headers_remove_token__keeps_order),
        T(test_tb_headers_append_list__joins_last_existing),
        T(test_tb_headers_append_list__only_last_of_repeats),
        T(test_tb_headers_append_list__absent_adds_at_end),
        T(test_tb_headers_append_list__empty_table),
        T(test_tb_headers_append_list__empty_existing_value),
        T(test_tb_headers_append_list__exhausted_arena_leaves_table),
        T(test_tb_headers_append_list__absent_with_full_array),
        T(test_tb_headers_append_list__no_room_to_grow_leaves_table),
        T(test_tb_headers_each_list_item__table),
        T(test_tb_headers_each_list_item__items_borrow_value),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
