/* SPDX-License-Identifier: MIT
 * Unit tests for spans/otlp_json.c: the exact ExportTraceServiceRequest of
 * the reference span (protobuf JSON mapping with hex ids, int64 as strings),
 * roots and errors, tracestate, links, flags, escaping of raw bytes, several
 * spans, and the empty batch.
 */
#include <string.h>

#include "json_check.h"

#include "spans/encode.h"

/* Encodes `n` spans with `res` into a fresh buffer the caller frees. */
static struct tb_buf encode(const struct tb_resource *res, const struct tb_span *const *spans,
                            size_t n)
{
    struct tb_buf buf = {0};

    assert_int_equal(tb_encode_otlp_json(res, spans, n, &buf), TB_OK);
    return buf;
}

/* The resource and scope of every batch, up to the "spans" key. */
#define EXPECTED_RESOURCE                                                                          \
    "{\"resource\":{\"attributes\":["                                                              \
    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"shop-proxy\"}},"                       \
    "{\"key\":\"service.instance.id\",\"value\":{\"stringValue\":\"node-1\"}},"                    \
    "{\"key\":\"deployment.environment\",\"value\":{\"stringValue\":\"prod\"}}]},"                 \
    "\"scopeSpans\":[{\"scope\":{\"name\":\"tracebridge\",\"version\":\"" TB_VERSION "\"},"

static void test_tb_encode_otlp_json__reference_span_exact(void **state)
{
    struct tb_span s;
    const struct tb_span *spans[] = {&s};
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    buf = encode(&fix_res, spans, 1);
    assert_buf_equal(
        &buf, "{\"resourceSpans\":[" EXPECTED_RESOURCE "\"spans\":[{"
              "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
              "\"spanId\":\"00f067aa0ba902b7\","
              "\"parentSpanId\":\"53ce929d0e0e4736\","
              "\"flags\":769,"
              "\"name\":\"GET\","
              "\"kind\":2,"
              "\"startTimeUnixNano\":\"1700000000123456789\","
              "\"endTimeUnixNano\":\"1700000000173456789\","
              "\"attributes\":["
              "{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}}"
              ",{\"key\":\"url.path\",\"value\":{\"stringValue\":\"/api/items\"}}"
              ",{\"key\":\"url.scheme\",\"value\":{\"stringValue\":\"http\"}}"
              ",{\"key\":\"server.address\",\"value\":{\"stringValue\":\"shop.example\"}}"
              ",{\"key\":\"server.port\",\"value\":{\"intValue\":\"8080\"}}"
              ",{\"key\":\"client.address\",\"value\":{\"stringValue\":\"10.0.0.5\"}}"
              ",{\"key\":\"client.port\",\"value\":{\"intValue\":\"51000\"}}"
              ",{\"key\":\"network.peer.address\",\"value\":{\"stringValue\":\"10.0.0.7\"}}"
              ",{\"key\":\"network.peer.port\",\"value\":{\"intValue\":\"9000\"}}"
              ",{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"200\"}}"
              ",{\"key\":\"user_agent.original\",\"value\":{\"stringValue\":\"curl/8.0\"}}"
              ",{\"key\":\"network.protocol.version\",\"value\":{\"stringValue\":\"1.1\"}}"
              ",{\"key\":\"http.request.body.size\",\"value\":{\"intValue\":\"12\"}}"
              ",{\"key\":\"http.response.body.size\",\"value\":{\"intValue\":\"345\"}}"
              ",{\"key\":\"tracebridge.extracted_format\",\"value\":{\"stringValue\":\"b3\"}}"
              ",{\"key\":\"tracebridge.injected_formats\",\"value\":{\"arrayValue\":{\"values\":["
              "{\"stringValue\":\"tracecontext\"},{\"stringValue\":\"b3\"}]}}}"
              "]}]}]}]}");
    assert_json_valid(&buf);
    tb_buf_free(&buf);
}

static void test_tb_encode_otlp_json__root_error(void **state)
{
    struct tb_span s;
    const struct tb_span *spans[] = {&s};
    struct tb_buf buf;

    (void)state;
    fix_span_root_error(&s);
    buf = encode(&fix_res, spans, 1);
    assert_json_valid(&buf);
    /* no parent: no parentSpanId, and IS_REMOTE clear beside HAS_IS_REMOTE */
    assert_buf_lacks(&buf, "parentSpanId");
    assert_buf_contains(&buf, "\"spanId\":\"00f067aa0ba902b7\",\"flags\":257,");
    assert_buf_contains(&buf, "\"kind\":3,");
    assert_buf_contains(&buf,
                        "{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"502\"}}");
    assert_buf_contains(
        &buf, "{\"key\":\"tracebridge.extracted_format\",\"value\":{\"stringValue\":\"none\"}}");
    assert_buf_lacks(&buf, "network.peer");
    /* error.type is the last attribute; the status has no message */
    assert_buf_contains(&buf,
                        "{\"key\":\"error.type\",\"value\":{\"stringValue\":\"connect_refused\"}}"
                        "],\"status\":{\"code\":2}}]");
    tb_buf_free(&buf);
}

static void test_tb_encode_otlp_json__unset_status_left_out(void **state)
{
    struct tb_span s;
    const struct tb_span *spans[] = {&s};
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    FIX_SET(s.error_type, "ignored"); /* only an error has an error.type */
    buf = encode(&fix_res, spans, 1);
    assert_buf_lacks(&buf, "status\"");
    assert_buf_lacks(&buf, "error.type");
    tb_buf_free(&buf);
}

static void test_tb_encode_otlp_json__unsampled_flags(void **state)
{
    struct tb_span s;
    const struct tb_span *spans[] = {&s};
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    s.w3c_flags = 0x02; /* random, not sampled */
    s.sampled = false;
    buf = encode(&fix_res, spans, 1);
    assert_buf_contains(&buf, "\"flags\":770,");
    tb_buf_free(&buf);
}

static void test_tb_encode_otlp_json__tracestate_and_links(void **state)
{
    struct tb_span s;
    const struct tb_span *spans[] = {&s};
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    FIX_SET(s.tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    fix_add_link(&s, "0000000000000000000000000000abcd", "1111111111111111", TB_FORMAT_B3);
    fix_add_link(&s, "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", TB_FORMAT_XRAY);
    buf = encode(&fix_res, spans, 1);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"spanId\":\"00f067aa0ba902b7\","
                              "\"traceState\":\"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\","
                              "\"parentSpanId\":\"53ce929d0e0e4736\",");
    assert_buf_contains(
        &buf, "]}}}],\"links\":["
              "{\"traceId\":\"0000000000000000000000000000abcd\",\"spanId\":\"1111111111111111\","
              "\"attributes\":["
              "{\"key\":\"tracebridge.link.format\",\"value\":{\"stringValue\":\"b3\"}}"
              "]},"
              "{\"traceId\":\"5b8efff798038103d269b633813fc60c\","
              "\"spanId\":\"eee19b7ec3c1b174\","
              "\"attributes\":["
              "{\"key\":\"tracebridge.link.format\",\"value\":{\"stringValue\":\"xray\"}}"
              "]}]}]}]}]}");
    tb_buf_free(&buf);
}

/* Degradation level 2: essential attributes only, no links. */
static void test_tb_encode_otlp_json__reduced_span(void **state)
{
    struct tb_span s;
    const struct tb_span *spans[] = {&s};
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    fix_add_link(&s, "0000000000000000000000000000abcd", "1111111111111111", TB_FORMAT_B3MULTI);
    s.reduced = true;
    buf = encode(&fix_res, spans, 1);
    assert_json_valid(&buf);
    assert_buf_contains(&buf,
                        "\"attributes\":["
                        "{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}}"
                        ",{\"key\":\"url.path\",\"value\":{\"stringValue\":\"/api/items\"}}"
                        ",{\"key\":\"url.scheme\",\"value\":{\"stringValue\":\"http\"}}"
                        ",{\"key\":\"server.address\",\"value\":{\"stringValue\":\"shop.example\"}}"
                        ",{\"key\":\"server.port\",\"value\":{\"intValue\":\"8080\"}}"
                        ",{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"200\"}}"
                        "]}]}]}]}");
    assert_buf_lacks(&buf, "links");
    tb_buf_free(&buf);
}

static void test_tb_encode_otlp_json__raw_bytes_escaped(void **state)
{
    struct tb_span s;
    const struct tb_span *spans[] = {&s};
    struct tb_buf buf;
    static const struct tb_resource_attr attrs[] = {{"service.name", "caf\xc3\xa9\n"},
                                                    {"bad\"key", "\xff"}};
    const struct tb_resource res = {attrs, 2, "caf\xc3\xa9\n", NULL};

    (void)state;
    fix_span(&s);
    FIX_SET(s.path, "/a\"b\\c\x01\xc3\x28");
    FIX_SET(s.user_agent, "ua\xe2\x82");
    buf = encode(&res, spans, 1);
    assert_json_valid(&buf);
    assert_buf_contains(
        &buf,
        "{\"key\":\"url.path\",\"value\":{\"stringValue\":\"/a\\\"b\\\\c\\u0001\xef\xbf\xbd(\"}}");
    assert_buf_contains(
        &buf, "{\"key\":\"user_agent.original\",\"value\":{\"stringValue\":\"ua\xef\xbf\xbd\"}}");
    assert_buf_contains(
        &buf, "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"caf\xc3\xa9\\u000a\"}}");
    assert_buf_contains(&buf,
                        "{\"key\":\"bad\\\"key\",\"value\":{\"stringValue\":\"\xef\xbf\xbd\"}}");
    tb_buf_free(&buf);
}

static void test_tb_encode_otlp_json__several_spans(void **state)
{
    struct tb_span a, b, c;
    const struct tb_span *spans[] = {&a, &b, &c};
    struct tb_buf buf;

    (void)state;
    fix_span(&a);
    fix_span_root_error(&b);
    fix_span(&c);
    c.span_id[7] = 0xb8;
    fix_add_link(&c, "0000000000000000000000000000abcd", "1111111111111111", TB_FORMAT_JAEGER);
    buf = encode(&fix_res, spans, 3);
    assert_json_valid(&buf);
    /* one resource and one scope hold all three, in order */
    assert_buf_contains(&buf, "{\"resourceSpans\":[" EXPECTED_RESOURCE "\"spans\":[{\"traceId\"");
    assert_buf_contains(&buf, "]},{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                              "\"spanId\":\"00f067aa0ba902b7\",\"flags\":257,");
    assert_buf_contains(&buf, "}},{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                              "\"spanId\":\"00f067aa0ba902b8\",");
    assert_buf_contains(
        &buf, "{\"key\":\"tracebridge.link.format\",\"value\":{\"stringValue\":\"jaeger\"}}"
              "]}]}]}]}]}");
    tb_buf_free(&buf);
}

static void test_tb_encode_otlp_json__empty_batch_and_resource(void **state)
{
    struct tb_span s;
    const struct tb_span *spans[] = {&s};
    const struct tb_resource empty = {NULL, 0, NULL, NULL};
    struct tb_buf buf;

    (void)state;
    buf = encode(&fix_res, NULL, 0);
    assert_buf_equal(&buf, "{\"resourceSpans\":[]}");
    assert_json_valid(&buf);
    tb_buf_free(&buf);

    fix_span(&s);
    buf = encode(&empty, spans, 1);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[]},");
    tb_buf_free(&buf);
}

static void test_tb_encode_otlp_json__appends(void **state)
{
    struct tb_buf buf = {0};

    (void)state;
    tb_buf_append_str(&buf, "prefix");
    assert_int_equal(tb_encode_otlp_json(&fix_res, NULL, 0, &buf), TB_OK);
    assert_buf_equal(&buf, "prefix{\"resourceSpans\":[]}");
    tb_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_encode_otlp_json__reference_span_exact),
        cmocka_unit_test(test_tb_encode_otlp_json__root_error),
        cmocka_unit_test(test_tb_encode_otlp_json__unset_status_left_out),
        cmocka_unit_test(test_tb_encode_otlp_json__unsampled_flags),
        cmocka_unit_test(test_tb_encode_otlp_json__tracestate_and_links),
        cmocka_unit_test(test_tb_encode_otlp_json__reduced_span),
        cmocka_unit_test(test_tb_encode_otlp_json__raw_bytes_escaped),
        cmocka_unit_test(test_tb_encode_otlp_json__several_spans),
        cmocka_unit_test(test_tb_encode_otlp_json__empty_batch_and_resource),
        cmocka_unit_test(test_tb_encode_otlp_json__appends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
