/* SPDX-License-Identifier: MIT
 * Unit tests for spans/json.c: commas and nesting, RFC 8259 escaping,
 * replacement of ill-formed UTF-8 by U+FFFD (maximal subparts), numbers and
 * ids, and the span attribute list every JSON encoder shares. The validator
 * of json_check.h is tested here too, so that its verdicts can be trusted.
 */
#include <stdint.h>
#include <string.h>

#include "json_check.h"

#include "spans/json.h"

/* Writes `s[0..n)` as one JSON string value and compares the bytes. */
static void check_string(const char *s, size_t n, const char *expected)
{
    struct tb_buf buf = {0};
    struct tb_json j;

    tb_json_init(&j, &buf);
    tb_json_string(&j, s, n);
    assert_buf_equal(&buf, expected);
    assert_json_valid(&buf);
    tb_buf_free(&buf);
}

#define CHECK_STRING(lit, expected) check_string((lit), sizeof(lit) - 1, (expected))

/* ------------------------------------------------------------------------ */
/* structure                                                                */

static void test_tb_json__nesting_and_commas(void **state)
{
    struct tb_buf buf = {0};
    struct tb_json j;

    (void)state;
    tb_json_init(&j, &buf);
    tb_json_object_begin(&j);
    tb_json_key(&j, "a");
    tb_json_array_begin(&j);
    tb_json_uint(&j, 1);
    tb_json_object_begin(&j);
    tb_json_object_end(&j);
    tb_json_array_begin(&j);
    tb_json_array_end(&j);
    tb_json_null(&j);
    tb_json_array_end(&j);
    tb_json_key(&j, "b");
    tb_json_object_begin(&j);
    tb_json_key(&j, "c");
    tb_json_bool(&j, true);
    tb_json_key(&j, "d");
    tb_json_bool(&j, false);
    tb_json_object_end(&j);
    tb_json_key(&j, "e");
    tb_json_cstr(&j, "x");
    tb_json_object_end(&j);
    assert_buf_equal(&buf, "{\"a\":[1,{},[],null],\"b\":{\"c\":true,\"d\":false},\"e\":\"x\"}");
    assert_json_valid(&buf);
    tb_buf_free(&buf);
}

static void test_tb_json__appends_after_existing_bytes(void **state)
{
    struct tb_buf buf = {0};
    struct tb_json j;

    (void)state;
    tb_buf_append_str(&buf, "x=");
    tb_json_init(&j, &buf);
    tb_json_array_begin(&j);
    tb_json_array_end(&j);
    assert_buf_equal(&buf, "x=[]");
    tb_buf_free(&buf);
}

static void test_tb_json__top_level_scalars_and_empty_containers(void **state)
{
    struct tb_buf buf = {0};
    struct tb_json j;

    (void)state;
    tb_json_init(&j, &buf);
    tb_json_object_begin(&j);
    tb_json_object_end(&j);
    assert_buf_equal(&buf, "{}");
    buf.len = 0;
    tb_json_init(&j, &buf);
    tb_json_uint(&j, 0);
    assert_buf_equal(&buf, "0");
    tb_buf_free(&buf);
}

static void test_tb_json__keys_are_escaped(void **state)
{
    struct tb_buf buf = {0};
    struct tb_json j;

    (void)state;
    tb_json_init(&j, &buf);
    tb_json_object_begin(&j);
    tb_json_key_n(&j, "a\"b\n\xff", 5);
    tb_json_uint(&j, 1);
    tb_json_object_end(&j);
    assert_buf_equal(&buf, "{\"a\\\"b\\u000a\xef\xbf\xbd\":1}");
    assert_json_valid(&buf);
    tb_buf_free(&buf);
}

static void test_tb_json__deep_nesting(void **state)
{
    struct tb_buf buf = {0};
    struct tb_json j;
    char expected[2 * (TB_JSON_MAX_DEPTH - 1) + 1];

    (void)state;
    tb_json_init(&j, &buf);
    for (int i = 0; i < TB_JSON_MAX_DEPTH - 1; i++)
        tb_json_array_begin(&j);
    for (int i = 0; i < TB_JSON_MAX_DEPTH - 1; i++)
        tb_json_array_end(&j);
    memset(expected, '[', TB_JSON_MAX_DEPTH - 1);
    memset(expected + TB_JSON_MAX_DEPTH - 1, ']', TB_JSON_MAX_DEPTH - 1);
    expected[2 * (TB_JSON_MAX_DEPTH - 1)] = '\0';
    assert_buf_equal(&buf, expected);
    tb_buf_free(&buf);
}

/* ------------------------------------------------------------------------ */
/* strings                                                                  */

static void test_tb_json_string__escapes(void **state)
{
    (void)state;
    CHECK_STRING("", "\"\"");
    CHECK_STRING("plain /path?q=1", "\"plain /path?q=1\"");
    CHECK_STRING("say \"hi\" \\o/", "\"say \\\"hi\\\" \\\\o/\"");
    /* RFC 8259 §7: U+0000..U+001F must be escaped; DEL need not be. */
    CHECK_STRING("\n\r\t\b\f", "\"\\u000a\\u000d\\u0009\\u0008\\u000c\"");
    CHECK_STRING("a\0b", "\"a\\u0000b\"");
    CHECK_STRING("\x1f\x7f", "\"\\u001f\x7f\"");
}

static void test_tb_json_string__valid_utf8_passes(void **state)
{
    (void)state;
    /* 2, 3 and 4-byte sequences at the edges of Table 3-7 */
    CHECK_STRING("\xc2\x80\xdf\xbf", "\"\xc2\x80\xdf\xbf\"");
    CHECK_STRING("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf",
                 "\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"");
    CHECK_STRING("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
    CHECK_STRING("caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"");
}

#define FFFD "\xef\xbf\xbd"

static void test_tb_json_string__invalid_utf8_replaced(void **state)
{
    (void)state;
    CHECK_STRING("\x80", "\"" FFFD "\"");
    CHECK_STRING("\xff\xfe", "\"" FFFD FFFD "\"");
    /* overlong forms: C0/C1 are never valid, E0 80, F0 80 neither */
    CHECK_STRING("\xc0\xaf", "\"" FFFD FFFD "\"");
    CHECK_STRING("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");
    CHECK_STRING("\xf0\x80\x80\xaf", "\"" FFFD FFFD FFFD FFFD "\"");
    /* surrogates and beyond U+10FFFF */
    CHECK_STRING("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");
    CHECK_STRING("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
    CHECK_STRING("\xf5\x80", "\"" FFFD FFFD "\"");
    /* truncated sequences: one U+FFFD for the maximal subpart */
    CHECK_STRING("a\xe2\x82", "\"a" FFFD "\"");
    CHECK_STRING("\xf0\x9f\x98"
                 "A",
                 "\"" FFFD "A\"");
    CHECK_STRING("\xc3", "\"" FFFD "\"");
    /* Unicode §3.9's own example of maximal subparts */
    CHECK_STRING("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64",
                 "\"a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d\"");
    /* a quote right after a bad lead byte is still escaped */
    CHECK_STRING("\xc3\"", "\"" FFFD "\\\"\"");
}

static void test_tb_json_string__pieces(void **state)
{
    struct tb_buf buf = {0};
    struct tb_json j;
    const uint8_t id[3] = {0x00, 0xab, 0xff};

    (void)state;
    tb_json_init(&j, &buf);
    tb_json_array_begin(&j);
    tb_json_string_begin(&j);
    tb_json_string_append(&j, "a\"", 2);
    tb_json_string_append_hex(&j, id, sizeof(id));
    tb_json_string_append(&j, "", 0);
    tb_json_string_append(&j, "\xe2\x82", 2); /* each piece is checked alone */
    tb_json_string_end(&j);
    tb_json_cstr(&j, NULL);
    tb_json_array_end(&j);
    assert_buf_equal(&buf, "[\"a\\\"00abff" FFFD "\",\"\"]");
    assert_json_valid(&buf);
    tb_buf_free(&buf);
}

static void test_tb_json_escape__without_quotes(void **state)
{
    struct tb_buf buf = {0};

    (void)state;
    tb_json_escape(&buf, "x\x01y", 3);
    assert_buf_equal(&buf, "x\\u0001y");
    tb_buf_free(&buf);
}

/* ------------------------------------------------------------------------ */
/* numbers and ids                                                          */

static void test_tb_json__numbers(void **state)
{
    struct tb_buf buf = {0};
    struct tb_json j;

    (void)state;
    tb_json_init(&j, &buf);
    tb_json_array_begin(&j);
    tb_json_uint(&j, 0);
    tb_json_uint(&j, UINT64_MAX);
    tb_json_int(&j, -1);
    tb_json_int(&j, INT64_MIN);
    tb_json_int(&j, INT64_MAX);
    tb_json_uint_string(&j, 1700000000123456789ull);
    tb_json_uint_string(&j, 0);
    tb_json_array_end(&j);
    assert_buf_equal(&buf, "[0,18446744073709551615,-1,-9223372036854775808,"
                           "9223372036854775807,\"1700000000123456789\",\"0\"]");
    assert_json_valid(&buf);
    tb_buf_free(&buf);
}

static void test_tb_json_double__short_and_valid(void **state)
{
    struct tb_buf buf = {0};
    struct tb_json j;

    (void)state;
    tb_json_init(&j, &buf);
    tb_json_array_begin(&j);
    tb_json_double(&j, 0.1);
    tb_json_double(&j, 5);
    tb_json_double(&j, 0.25);
    tb_json_double(&j, 86400);
    tb_json_double(&j, 1e300 * 1e300);
    tb_json_double(&j, -0.5);
    tb_json_array_end(&j);
    assert_buf_equal(&buf, "[0.1,5,0.25,86400,null,-0.5]");
    assert_json_valid(&buf);
    tb_buf_free(&buf);
}

static void test_tb_json_hex__lower_case(void **state)
{
    struct tb_buf buf = {0};
    struct tb_json j;
    const uint8_t id[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};

    (void)state;
    tb_json_init(&j, &buf);
    tb_json_array_begin(&j);
    tb_json_hex(&j, id, sizeof(id));
    tb_json_hex(&j, id, 0);
    tb_json_array_end(&j);
    assert_buf_equal(&buf, "[\"00f067aa0ba902b7\",\"\"]");
    tb_buf_free(&buf);
}

/* ------------------------------------------------------------------------ */
/* span attributes                                                          */

static const struct tb_span_attr *find_attr(const struct tb_span_attrs *a, const char *key)
{
    for (size_t i = 0; i < a->num; i++)
        if (strcmp(a->a[i].key, key) == 0)
            return &a->a[i];
    return NULL;
}

static void test_tb_span_attrs_fill__reference_span(void **state)
{
    static const char *const keys[] = {
        "http.request.method",
        "url.path",
        "url.scheme",
        "server.address",
        "server.port",
        "client.address",
        "client.port",
        "network.peer.address",
        "network.peer.port",
        "http.response.status_code",
        "user_agent.original",
        "network.protocol.version",
        "http.request.body.size",
        "http.response.body.size",
        "tracebridge.extracted_format",
        "tracebridge.injected_formats",
    };
    struct tb_span s;
    struct tb_span_attrs a;

    (void)state;
    fix_span(&s);
    tb_span_attrs_fill(&a, &s);
    assert_int_equal(a.num, TB_ARRAY_SIZE(keys));
    for (size_t i = 0; i < a.num; i++)
        assert_string_equal(a.a[i].key, keys[i]);
    assert_int_equal(a.a[4].type, TB_SPAN_ATTR_INT);
    assert_int_equal(a.a[4].num, 8080);
    assert_int_equal(a.a[11].len, 3);
    assert_memory_equal(a.a[11].str, "1.1", 3);
    assert_int_equal(a.a[13].num, 345);
    assert_int_equal(a.a[14].len, 2);
    assert_memory_equal(a.a[14].str, "b3", 2);
    assert_int_equal(a.a[15].type, TB_SPAN_ATTR_FORMATS);
}

static void test_tb_span_attrs_fill__omits_unknowns(void **state)
{
    struct tb_span s;
    struct tb_span_attrs a;

    (void)state;
    fix_span(&s);
    s.server_address_len = 0;
    s.server_port = 0;
    s.client_address_len = 0;
    s.client_port = 0;
    s.peer_address_len = 0;
    s.peer_port = 0;
    s.status_code = 0;
    s.user_agent_len = 0;
    s.http_version_major = s.http_version_minor = 0;
    FIX_SET(s.error_type, "timeout"); /* not an error: no error.type */
    tb_span_attrs_fill(&a, &s);
    assert_int_equal(a.num, 7);
    assert_null(find_attr(&a, "server.address"));
    assert_null(find_attr(&a, "http.response.status_code"));
    assert_null(find_attr(&a, "network.protocol.version"));
    assert_null(find_attr(&a, "error.type"));
    assert_non_null(find_attr(&a, "http.request.body.size"));

    s.is_error = true;
    tb_span_attrs_fill(&a, &s);
    assert_int_equal(a.num, 8);
    assert_string_equal(a.a[7].key, "error.type");
    assert_memory_equal(a.a[7].str, "timeout", 7);
}

/* Degradation level 2: only the essential attributes, whatever the record holds. */
static void test_tb_span_attrs_fill__reduced_keeps_the_essentials(void **state)
{
    static const char *const keys[] = {
        "http.request.method",       "url.path",   "url.scheme", "server.address", "server.port",
        "http.response.status_code", "error.type",
    };
    struct tb_span s;
    struct tb_span_attrs a;

    (void)state;
    fix_span(&s);
    s.reduced = true;
    s.status_code = 503;
    s.is_error = true;
    FIX_SET(s.error_type, "503");
    tb_span_attrs_fill(&a, &s);
    assert_int_equal(a.num, TB_ARRAY_SIZE(keys));
    for (size_t i = 0; i < a.num; i++)
        assert_string_equal(a.a[i].key, keys[i]);
    assert_int_equal(a.a[5].num, 503);

    s.reduced = false;
    tb_span_attrs_fill(&a, &s);
    assert_int_equal(a.num, 17);
}

static void test_tb_span_num_links__none_when_reduced(void **state)
{
    struct tb_span s;

    (void)state;
    fix_span(&s);
    assert_int_equal(tb_span_num_links(&s), 0);
    fix_add_link(&s, "0000000000000000000000000000abcd", "1111111111111111", TB_FORMAT_B3);
    fix_add_link(&s, "0000000000000000000000000000abce", "1111111111111112", TB_FORMAT_XRAY);
    assert_int_equal(tb_span_num_links(&s), 2);
    s.num_links = 200; /* a damaged record */
    assert_int_equal(tb_span_num_links(&s), TB_SPAN_MAX_LINKS);
    s.reduced = true;
    assert_int_equal(tb_span_num_links(&s), 0);
}

static void test_tb_span_attrs_fill__versions_and_huge_sizes(void **state)
{
    struct tb_span s;
    struct tb_span_attrs a;
    const struct tb_span_attr *v;

    (void)state;
    fix_span(&s);
    s.http_version_minor = 0;
    s.request_body_size = UINT64_MAX;
    tb_span_attrs_fill(&a, &s);
    v = find_attr(&a, "network.protocol.version");
    assert_int_equal(v->len, 3);
    assert_memory_equal(v->str, "1.0", 3);
    assert_int_equal(find_attr(&a, "http.request.body.size")->num, INT64_MAX);
    s.http_version_major = 2;
    tb_span_attrs_fill(&a, &s);
    v = find_attr(&a, "network.protocol.version");
    assert_int_equal(v->len, 1);
    assert_memory_equal(v->str, "2", 1);
}

static void test_tb_span_attrs_fill__damaged_lengths_are_clamped(void **state)
{
    struct tb_span s;
    struct tb_span_attrs a;

    (void)state;
    fix_span(&s);
    s.method_len = 60000;
    tb_span_attrs_fill(&a, &s);
    assert_int_equal(a.a[0].len, sizeof(s.method));
}

static void test_tb_span_format_name__all(void **state)
{
    (void)state;
    assert_string_equal(tb_span_format_name(TB_FORMAT_TRACECONTEXT), "tracecontext");
    assert_string_equal(tb_span_format_name(TB_FORMAT_B3MULTI), "b3multi");
    assert_string_equal(tb_span_format_name(TB_FORMAT_SW8), "sw8");
    assert_string_equal(tb_span_format_name(-1), "none");
    assert_string_equal(tb_span_format_name(TB_FORMAT_NUM), "none");
}

static void test_tb_json_attr__as_string_and_typed(void **state)
{
    struct tb_buf buf = {0};
    struct tb_json j;
    struct tb_span s;
    struct tb_span_attrs a;

    (void)state;
    fix_span(&s);
    s.injected_formats |= TB_FORMAT_BIT(TB_FORMAT_SW8);
    tb_span_attrs_fill(&a, &s);
    tb_json_init(&j, &buf);
    tb_json_array_begin(&j);
    tb_json_attr_as_string(&j, find_attr(&a, "server.port"));
    tb_json_attr_as_string(&j, find_attr(&a, "tracebridge.injected_formats"));
    tb_json_attr_as_string(&j, find_attr(&a, "url.path"));
    tb_json_attr_typed(&j, find_attr(&a, "server.port"));
    tb_json_attr_typed(&j, find_attr(&a, "tracebridge.injected_formats"));
    tb_json_attr_typed(&j, find_attr(&a, "url.path"));
    tb_json_array_end(&j);
    assert_buf_equal(&buf, "[\"8080\",\"tracecontext,b3,sw8\",\"/api/items\","
                           "8080,[\"tracecontext\",\"b3\",\"sw8\"],\"/api/items\"]");

    /* no format injected: an empty list */
    s.injected_formats = 0;
    tb_span_attrs_fill(&a, &s);
    buf.len = 0;
    tb_json_init(&j, &buf);
    tb_json_array_begin(&j);
    tb_json_attr_as_string(&j, find_attr(&a, "tracebridge.injected_formats"));
    tb_json_attr_typed(&j, find_attr(&a, "tracebridge.injected_formats"));
    tb_json_array_end(&j);
    assert_buf_equal(&buf, "[\"\",[]]");
    tb_buf_free(&buf);
}

/* ------------------------------------------------------------------------ */
/* the validator itself                                                     */

static void test_json_check__rejects_what_it_must(void **state)
{
    static const char *const bad[] = {
        "",
        "{",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "\"\x01\"",
        "\"\\x\"",
        "\"\\u12\"",
        "01",
        "1.",
        "-",
        "tru",
        "[] []",
        "\"\xff\"",
        "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"",
        "{\"a\":1,\"a\":2}",
        "\"abc",
    };
    static const char *const good[] = {
        "0", "-1.5e+3", "\"\\u00e9\\n\\/\"", " [ {} , [ ] , null ] ", "{\"a\":{\"a\":1}}",
    };

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(bad); i++) {
        struct jc c = {(const unsigned char *)bad[i],
                       (const unsigned char *)bad[i] + strlen(bad[i]),
                       (const unsigned char *)bad[i], NULL, 0};
        bool ok = jc_value(&c);

        if (ok) {
            jc_ws(&c);
            ok = c.p == c.end;
        }
        if (ok) {
            print_error("validator accepted bad case %zu\n", i);
            fail();
        }
    }
    for (size_t i = 0; i < TB_ARRAY_SIZE(good); i++)
        assert_true(json_check_text(good[i], strlen(good[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_json__nesting_and_commas),
        cmocka_unit_test(test_tb_json__appends_after_existing_bytes),
        cmocka_unit_test(test_tb_json__top_level_scalars_and_empty_containers),
        cmocka_unit_test(test_tb_json__keys_are_escaped),
        cmocka_unit_test(test_tb_json__deep_nesting),
        cmocka_unit_test(test_tb_json_string__escapes),
        cmocka_unit_test(test_tb_json_string__valid_utf8_passes),
        cmocka_unit_test(test_tb_json_string__invalid_utf8_replaced),
        cmocka_unit_test(test_tb_json_string__pieces),
        cmocka_unit_test(test_tb_json_escape__without_quotes),
        cmocka_unit_test(test_tb_json__numbers),
        cmocka_unit_test(test_tb_json_double__short_and_valid),
        cmocka_unit_test(test_tb_json_hex__lower_case),
        cmocka_unit_test(test_tb_span_attrs_fill__reference_span),
        cmocka_unit_test(test_tb_span_attrs_fill__omits_unknowns),
        cmocka_unit_test(test_tb_span_attrs_fill__reduced_keeps_the_essentials),
        cmocka_unit_test(test_tb_span_num_links__none_when_reduced),
        cmocka_unit_test(test_tb_span_attrs_fill__versions_and_huge_sizes),
        cmocka_unit_test(test_tb_span_attrs_fill__damaged_lengths_are_clamped),
        cmocka_unit_test(test_tb_span_format_name__all),
        cmocka_unit_test(test_tb_json_attr__as_string_and_typed),
        cmocka_unit_test(test_json_check__rejects_what_it_must),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
