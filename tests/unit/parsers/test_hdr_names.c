/* SPDX-License-Identifier: MIT
 * Unit tests for parsers/hdr_names.c: case-insensitive lookup of the known
 * header names, exact-length matching, and the hop-by-hop flags.
 */
#include <string.h>

#include "tb_test.h"

#include "parsers/hdr_names.h"

struct lookup_case {
    const char *name;
    enum tb_hdr_token token;
};

static void test_tb_hdr_lookup__table(void **state)
{
    static const struct lookup_case cases[] = {
        {"connection", TB_HDR_CONNECTION},
        {"Connection", TB_HDR_CONNECTION},
        {"CONNECTION", TB_HDR_CONNECTION},
        {"cOnNeCtIoN", TB_HDR_CONNECTION},
        {"Content-Length", TB_HDR_CONTENT_LENGTH},
        {"CONTENT-LENGTH", TB_HDR_CONTENT_LENGTH},
        {"expect", TB_HDR_EXPECT},
        {"HOST", TB_HDR_HOST},
        {"Keep-Alive", TB_HDR_KEEP_ALIVE},
        {"Proxy-Connection", TB_HDR_PROXY_CONNECTION},
        {"TE", TB_HDR_TE},
        {"te", TB_HDR_TE},
        {"Trailer", TB_HDR_TRAILER},
        {"Transfer-Encoding", TB_HDR_TRANSFER_ENCODING},
        {"upgrade", TB_HDR_UPGRADE},
        {"X-Forwarded-For", TB_HDR_X_FORWARDED_FOR},
        {"x-forwarded-proto", TB_HDR_X_FORWARDED_PROTO},
        /* near misses */
        {"", TB_HDR_UNKNOWN},
        {"t", TB_HDR_UNKNOWN},
        {"hos", TB_HDR_UNKNOWN},
        {"hostx", TB_HDR_UNKNOWN},
        {"content-lengt", TB_HDR_UNKNOWN},
        {"content-lengths", TB_HDR_UNKNOWN},
        {"content_length", TB_HDR_UNKNOWN},
        {"content length", TB_HDR_UNKNOWN},
        {"connection:", TB_HDR_UNKNOWN},
        /* case folding only maps letters: '\r' is not '-' | 0x20 and back */
        {"content\rlength", TB_HDR_UNKNOWN},
        {"x-forwarded\rfor", TB_HDR_UNKNOWN},
        {"kEEP\x0d"
         "alive",
         TB_HDR_UNKNOWN},
        {"\xe8ost", TB_HDR_UNKNOWN}, /* high bit set: not "host" */
        {"x-custom", TB_HDR_UNKNOWN},
    };
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        const char *name = cases[i].name;
        size_t len = strlen(name);
        char *g = tb_test_guarded(name, len);
        enum tb_hdr_token got = tb_hdr_lookup(g, len);

        if (got != cases[i].token) {
            tb_test_print_bytes("tb_hdr_lookup ", name, len);
            print_error("  token %d, expected %d\n", (int)got, (int)cases[i].token);
            failed = 1;
        }
        tb_test_guarded_free(g, len);
    }
    assert_false(failed);
}

static void test_tb_hdr_lookup__prefix_of_longer_buffer(void **state)
{
    static const char buf[] = "hostile";

    (void)state;
    /* Only `name_len` bytes count. */
    assert_int_equal(tb_hdr_lookup(buf, 4), TB_HDR_HOST);
    assert_int_equal(tb_hdr_lookup(buf, 3), TB_HDR_UNKNOWN);
    assert_int_equal(tb_hdr_lookup(buf, sizeof(buf) - 1), TB_HDR_UNKNOWN);
}

static void test_tb_hdr_name__round_trips_every_token(void **state)
{
    (void)state;
    for (int t = 1; t < TB_HDR_NUM_TOKENS; t++) {
        const struct tb_hdr_name *entry = tb_hdr_name((enum tb_hdr_token)t);

        assert_non_null(entry);
        assert_true(entry->name.len > 0);
        /* Canonical spellings are lower-case. */
        for (size_t i = 0; i < entry->name.len; i++)
            assert_false(entry->name.base[i] >= 'A' && entry->name.base[i] <= 'Z');
        assert_int_equal(tb_hdr_lookup(entry->name.base, entry->name.len), t);
    }
}

static void test_tb_hdr_name__hop_by_hop_flags(void **state)
{
    static const enum tb_hdr_token hop[] = {
        TB_HDR_CONNECTION, TB_HDR_KEEP_ALIVE, TB_HDR_PROXY_CONNECTION,
        TB_HDR_TE,         TB_HDR_TRAILER,    TB_HDR_UPGRADE,
    };
    static const enum tb_hdr_token end_to_end[] = {
        TB_HDR_UNKNOWN,
        TB_HDR_CONTENT_LENGTH,
        TB_HDR_EXPECT,
        TB_HDR_HOST,
        TB_HDR_TRANSFER_ENCODING,
        TB_HDR_X_FORWARDED_FOR,
        TB_HDR_X_FORWARDED_PROTO,
    };

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(hop); i++)
        assert_true(tb_hdr_name(hop[i])->flags & TB_HDR_F_HOP_BY_HOP);
    for (size_t i = 0; i < TB_ARRAY_SIZE(end_to_end); i++)
        assert_false(tb_hdr_name(end_to_end[i])->flags & TB_HDR_F_HOP_BY_HOP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_hdr_lookup__table),
        cmocka_unit_test(test_tb_hdr_lookup__prefix_of_longer_buffer),
        cmocka_unit_test(test_tb_hdr_name__round_trips_every_token),
        cmocka_unit_test(test_tb_hdr_name__hop_by_hop_flags),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
