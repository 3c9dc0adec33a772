/* SPDX-License-Identifier: MIT
 * Unit tests for spans/utf8.c: the well-formed prefix follows Unicode Table
 * 3-7, and repair replaces each maximal subpart with one U+FFFD (Unicode
 * §3.9, including the worked example of Table 3-8).
 */
#include <string.h>

#include "tb_test.h"

#include "spans/buf.h"
#include "spans/utf8.h"

#define R "\xEF\xBF\xBD" /* U+FFFD */

struct utf8_case {
    const char *name;
    const char *in;
    size_t in_len;
    size_t valid_prefix;
    const char *repaired;
};

#define CASE(name, in, valid, repaired)                                                            \
    {                                                                                              \
        name, in, sizeof(in) - 1, valid, repaired                                                  \
    }

/* clang-format off */
static const struct utf8_case cases[] = {
    CASE("empty", "", 0, ""),
    CASE("ascii", "GET /api/orders", 15, "GET /api/orders"),
    CASE("control bytes are valid", "a\x01\x7f" "b", 4, "a\x01\x7f" "b"),
    CASE("2-byte", "caf\xc3\xa9", 5, "caf\xc3\xa9"),
    CASE("3-byte", "\xe2\x82\xac", 3, "\xe2\x82\xac"),
    CASE("4-byte", "\xf0\x9d\x84\x9e", 4, "\xf0\x9d\x84\x9e"),
    CASE("highest code point", "\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf"),
    CASE("lone continuation", "a\x80" "b", 1, "a" R "b"),
    CASE("0xff", "\xff", 0, R),
    CASE("0xf5 never leads", "\xf5\x80", 0, R R),
    CASE("overlong 2-byte", "\xc0\xaf", 0, R R),
    CASE("overlong 3-byte", "\xe0\x80\xaf", 0, R R R),
    CASE("overlong 4-byte", "\xf0\x8f\xbf\xbf", 0, R R R R),
    CASE("surrogate", "\xed\xa0\x80", 0, R R R),
    CASE("above U+10FFFF", "\xf4\x90\x80\x80", 0, R R R R),
    CASE("truncated at end", "ab\xe2\x82", 2, "ab" R),
    CASE("truncated 4-byte", "\xf0\x9f\x98", 0, R),
    CASE("truncated before ascii", "\xe2\x82x", 0, R "x"),
    CASE("ascii run then invalid", "abcdefghijklmnopqrs\xff", 19, "abcdefghijklmnopqrs" R),
    CASE("invalid after 16 ascii", "0123456789abcdef\xc3", 16, "0123456789abcdef" R),
    /* Unicode 15 Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 */
    CASE("table 3-8", "\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", 1,
         "a" R R R "b" R "c" R R "d"),
};
/* clang-format on */

static void test_utf8__table(void **state)
{
    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        const struct utf8_case *c = &cases[i];
        char *in = tb_test_guarded(c->in, c->in_len);
        struct tb_buf out = {0};
        size_t valid = tb_utf8_valid_prefix(in, c->in_len);

        tb_buf_append_utf8(&out, in, c->in_len);
        if (valid != c->valid_prefix || out.len != strlen(c->repaired) ||
            (out.len > 0 && memcmp(out.data, c->repaired, out.len) != 0) ||
            tb_utf8_sanitized_len(in, c->in_len) != out.len) {
            print_error("case \"%s\": valid prefix %zu (want %zu), sanitized_len %zu\n", c->name,
                        valid, c->valid_prefix, tb_utf8_sanitized_len(in, c->in_len));
            tb_test_print_bytes("want: ", c->repaired, strlen(c->repaired));
            tb_test_print_bytes("got:  ", out.data, out.len);
            fail();
        }
        tb_buf_free(&out);
        tb_test_guarded_free(in, c->in_len);
    }
}

static void test_utf8_invalid_len__subparts(void **state)
{
    (void)state;
    assert_int_equal(tb_utf8_invalid_len(NULL, 0), 0);
    assert_int_equal(tb_utf8_invalid_len("a", 1), 0);
    assert_int_equal(tb_utf8_invalid_len("\xc3\xa9", 2), 0);
    assert_int_equal(tb_utf8_invalid_len("\xc3", 1), 1);
    assert_int_equal(tb_utf8_invalid_len("\xe2\x82", 2), 2);
    assert_int_equal(tb_utf8_invalid_len("\xf1\x80\x80\xe1", 4), 3);
    assert_int_equal(tb_utf8_invalid_len("\xed\xa0\x80", 3), 1);
    assert_int_equal(tb_utf8_invalid_len("\x80\x80", 2), 1);
}

/* Appending keeps what the buffer already holds; NULL with length 0 is fine. */
static void test_buf_append_utf8__appends(void **state)
{
    struct tb_buf out = {0};

    (void)state;
    tb_buf_append(&out, "x=", 2);
    tb_buf_append_utf8(&out, NULL, 0);
    tb_buf_append_utf8(&out,
                       "\xff"
                       "y",
                       2);
    assert_int_equal(out.len, 6);
    assert_memory_equal(out.data, "x=" R "y", 6);
    assert_int_equal(tb_utf8_valid_prefix(NULL, 0), 0);
    assert_int_equal(tb_utf8_sanitized_len(NULL, 0), 0);
    tb_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8__table),
        cmocka_unit_test(test_utf8_invalid_len__subparts),
        cmocka_unit_test(test_buf_append_utf8__appends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
