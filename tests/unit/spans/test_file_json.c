/* SPDX-License-Identifier: MIT
 * Unit tests for spans/file_json.c: the exact line of the reference span
 * (the documented, stable schema of docs/spans.md), roots with a null
 * parent, errors, links, typed attributes, escaping that keeps one span per
 * line, several lines, and the empty batch.
 */
#include <string.h>

#include "json_check.h"

#include "spans/encode.h"

static struct tb_buf encode(const struct tb_resource *res, const struct tb_span *const *spans,
                            size_t n)
{
    struct tb_buf buf = {0};

    assert_int_equal(tb_encode_file_json(res, spans, n, &buf), TB_OK);
    return buf;
}

static struct tb_buf encode1(const struct tb_span *s)
{
    const struct tb_span *spans[] = {s};

    return encode(&fix_res, spans, 1);
}

static void test_tb_encode_file_json__reference_span_exact(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    buf = encode1(&s);
    assert_buf_equal(&buf, "{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                           "\"span_id\":\"00f067aa0ba902b7\","
                           "\"parent_span_id\":\"53ce929d0e0e4736\","
                           "\"trace_flags\":\"01\","
                           "\"trace_state\":\"\","
                           "\"name\":\"GET\","
                           "\"kind\":\"server\","
                           "\"start_time_unix_nano\":1700000000123456789,"
                           "\"end_time_unix_nano\":1700000000173456789,"
                           "\"status\":\"unset\","
                           "\"attributes\":{"
                           "\"http.request.method\":\"GET\","
                           "\"url.path\":\"/api/items\","
                           "\"url.scheme\":\"http\","
                           "\"server.address\":\"shop.example\","
                           "\"server.port\":8080,"
                           "\"client.address\":\"10.0.0.5\","
                           "\"client.port\":51000,"
                           "\"network.peer.address\":\"10.0.0.7\","
                           "\"network.peer.port\":9000,"
                           "\"http.response.status_code\":200,"
                           "\"user_agent.original\":\"curl/8.0\","
                           "\"network.protocol.version\":\"1.1\","
                           "\"http.request.body.size\":12,"
                           "\"http.response.body.size\":345,"
                           "\"tracebridge.extracted_format\":\"b3\","
                           "\"tracebridge.injected_formats\":[\"tracecontext\",\"b3\"]},"
                           "\"links\":[],"
                           "\"resource\":{\"service.name\":\"shop-proxy\","
                           "\"service.instance.id\":\"node-1\","
                           "\"deployment.environment\":\"prod\"}}\n");
    assert_json_lines_valid(&buf, 1);
    tb_buf_free(&buf);
}

static void test_tb_encode_file_json__root_error_links(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span_root_error(&s);
    FIX_SET(s.tracestate, "rojo=00f067aa0ba902b7");
    s.w3c_flags = 0x03;
    fix_add_link(&s, "0000000000000000000000000000abcd", "1111111111111111", TB_FORMAT_B3);
    fix_add_link(&s, "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", TB_FORMAT_SW8);
    buf = encode1(&s);
    assert_json_lines_valid(&buf, 1);
    assert_buf_contains(&buf, "\"span_id\":\"00f067aa0ba902b7\",\"parent_span_id\":null,"
                              "\"trace_flags\":\"03\",\"trace_state\":\"rojo=00f067aa0ba902b7\",");
    assert_buf_contains(&buf, "\"kind\":\"client\",");
    assert_buf_contains(&buf, "\"status\":\"error\",");
    assert_buf_contains(&buf, "\"http.response.status_code\":502,");
    assert_buf_contains(&buf, "\"tracebridge.extracted_format\":\"none\","
                              "\"tracebridge.injected_formats\":[\"tracecontext\"],"
                              "\"error.type\":\"connect_refused\"},");
    assert_buf_contains(&buf, "\"links\":["
                              "{\"trace_id\":\"0000000000000000000000000000abcd\","
                              "\"span_id\":\"1111111111111111\","
                              "\"attributes\":{\"tracebridge.link.format\":\"b3\"}},"
                              "{\"trace_id\":\"5b8efff798038103d269b633813fc60c\","
                              "\"span_id\":\"eee19b7ec3c1b174\","
                              "\"attributes\":{\"tracebridge.link.format\":\"sw8\"}}],");
    assert_buf_lacks(&buf, "network.peer");
    tb_buf_free(&buf);
}

static void test_tb_encode_file_json__newlines_stay_escaped(void **state)
{
    struct tb_span s;
    struct tb_buf buf;
    static const struct tb_resource_attr attrs[] = {{"k\n", "v\r\n\xff"}};
    const struct tb_resource res = {attrs, 1, NULL, NULL};
    const struct tb_span *spans[] = {&s, &s};

    (void)state;
    fix_span(&s);
    FIX_SET(s.user_agent, "evil\nagent\x85");
    FIX_SET(s.name, "GET\r\n");
    buf = encode(&res, spans, 2);
    /* two spans, two lines: no raw newline escapes a string */
    assert_json_lines_valid(&buf, 2);
    assert_buf_contains(&buf, "\"name\":\"GET\\u000d\\u000a\",");
    assert_buf_contains(&buf, "\"user_agent.original\":\"evil\\u000aagent\xef\xbf\xbd\",");
    assert_buf_contains(&buf, "\"resource\":{\"k\\u000a\":\"v\\u000d\\u000a\xef\xbf\xbd\"}}\n");
    tb_buf_free(&buf);
}

/* Degradation level 2: essential attributes only, no links. */
static void test_tb_encode_file_json__reduced_span_exact(void **state)
{
    struct tb_span s;
    struct tb_buf buf;
    const struct tb_resource res = {NULL, 0, NULL, NULL};
    const struct tb_span *spans[] = {&s};

    (void)state;
    fix_span(&s);
    fix_add_link(&s, "0000000000000000000000000000abcd", "1111111111111111", TB_FORMAT_B3MULTI);
    s.reduced = true;
    buf = encode(&res, spans, 1);
    assert_buf_equal(&buf, "{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                           "\"span_id\":\"00f067aa0ba902b7\","
                           "\"parent_span_id\":\"53ce929d0e0e4736\","
                           "\"trace_flags\":\"01\","
                           "\"trace_state\":\"\","
                           "\"name\":\"GET\","
                           "\"kind\":\"server\","
                           "\"start_time_unix_nano\":1700000000123456789,"
                           "\"end_time_unix_nano\":1700000000173456789,"
                           "\"status\":\"unset\","
                           "\"attributes\":{"
                           "\"http.request.method\":\"GET\","
                           "\"url.path\":\"/api/items\","
                           "\"url.scheme\":\"http\","
                           "\"server.address\":\"shop.example\","
                           "\"server.port\":8080,"
                           "\"http.response.status_code\":200},"
                           "\"links\":[],"
                           "\"resource\":{}}\n");
    assert_json_lines_valid(&buf, 1);
    tb_buf_free(&buf);
}

static void test_tb_encode_file_json__several_and_empty(void **state)
{
    struct tb_span a, b, c;
    const struct tb_span *spans[] = {&a, &b, &c};
    const struct tb_resource res = {NULL, 0, NULL, NULL};
    struct tb_buf buf;

    (void)state;
    fix_span(&a);
    fix_span_root_error(&b);
    fix_span(&c);
    c.injected_formats = 0;
    buf = encode(&res, spans, 3);
    assert_json_lines_valid(&buf, 3);
    assert_buf_contains(&buf, "\"tracebridge.injected_formats\":[]},");
    assert_int_equal(json_buf_count(&buf, "\"resource\":{}}\n"), 3);
    tb_buf_free(&buf);

    buf = encode(&fix_res, NULL, 0);
    assert_int_equal(buf.len, 0);
    tb_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_encode_file_json__reference_span_exact),
        cmocka_unit_test(test_tb_encode_file_json__root_error_links),
        cmocka_unit_test(test_tb_encode_file_json__newlines_stay_escaped),
        cmocka_unit_test(test_tb_encode_file_json__reduced_span_exact),
        cmocka_unit_test(test_tb_encode_file_json__several_and_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
