/* SPDX-License-Identifier: MIT
 * Unit tests for spans/zipkin.c: the exact Zipkin v2 span of the reference
 * span (microseconds, 32-hex trace id, endpoints, every attribute as a string
 * tag), roots, the error tag, links as tags, endpoints for IPv6 and host
 * names, durations rounded up, escaping, several spans, and the empty list.
 */
#include <string.h>

#include "json_check.h"

#include "spans/encode.h"

static struct tb_buf encode(const struct tb_resource *res, const struct tb_span *const *spans,
                            size_t n)
{
    struct tb_buf buf = {0};

    assert_int_equal(tb_encode_zipkin(res, spans, n, &buf), TB_OK);
    return buf;
}

/* Encodes one span with the fixture resource. */
static struct tb_buf encode1(const struct tb_span *s)
{
    const struct tb_span *spans[] = {s};

    return encode(&fix_res, spans, 1);
}

static void test_tb_encode_zipkin__reference_span_exact(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    buf = encode1(&s);
    assert_buf_equal(&buf, "[{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                           "\"id\":\"00f067aa0ba902b7\","
                           "\"parentId\":\"53ce929d0e0e4736\","
                           "\"name\":\"get\","
                           "\"kind\":\"SERVER\","
                           "\"timestamp\":1700000000123456,"
                           "\"duration\":50000,"
                           "\"localEndpoint\":{\"serviceName\":\"shop-proxy\",\"port\":8080},"
                           "\"remoteEndpoint\":{\"ipv4\":\"10.0.0.5\",\"port\":51000},"
                           "\"tags\":{"
                           "\"http.request.method\":\"GET\","
                           "\"url.path\":\"/api/items\","
                           "\"url.scheme\":\"http\","
                           "\"server.address\":\"shop.example\","
                           "\"server.port\":\"8080\","
                           "\"client.address\":\"10.0.0.5\","
                           "\"client.port\":\"51000\","
                           "\"network.peer.address\":\"10.0.0.7\","
                           "\"network.peer.port\":\"9000\","
                           "\"http.response.status_code\":\"200\","
                           "\"user_agent.original\":\"curl/8.0\","
                           "\"network.protocol.version\":\"1.1\","
                           "\"http.request.body.size\":\"12\","
                           "\"http.response.body.size\":\"345\","
                           "\"tracebridge.extracted_format\":\"b3\","
                           "\"tracebridge.injected_formats\":\"tracecontext,b3\"}}]");
    assert_json_valid(&buf);
    tb_buf_free(&buf);
}

static void test_tb_encode_zipkin__root_client_error(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span_root_error(&s);
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_lacks(&buf, "parentId");
    assert_buf_contains(&buf, "\"id\":\"00f067aa0ba902b7\",\"name\":\"get\",\"kind\":\"CLIENT\",");
    /* a CLIENT span's local side is only the service: server.address is
     * the remote service; no upstream was reached, so no remote endpoint */
    assert_buf_contains(&buf, "\"localEndpoint\":{\"serviceName\":\"shop-proxy\"},\"tags\":{");
    assert_buf_lacks(&buf, "remoteEndpoint");
    assert_buf_contains(&buf,
                        "\"error.type\":\"connect_refused\",\"error\":\"connect_refused\"}}]");
    tb_buf_free(&buf);
}

static void test_tb_encode_zipkin__error_tag_falls_back_to_status(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    s.is_error = true;
    s.status_code = 503;
    buf = encode1(&s);
    assert_buf_lacks(&buf, "error.type");
    assert_buf_contains(&buf, "\"tracebridge.injected_formats\":\"tracecontext,b3\","
                              "\"error\":\"503\"}}]");
    tb_buf_free(&buf);

    s.status_code = 0;
    buf = encode1(&s);
    assert_buf_contains(&buf, ",\"error\":\"true\"}}]");
    tb_buf_free(&buf);
}

static void test_tb_encode_zipkin__client_remote_is_upstream(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    s.kind = TB_SPAN_KIND_CLIENT;
    FIX_SET(s.peer_address, "2001:db8::c001");
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"localEndpoint\":{\"serviceName\":\"shop-proxy\"},"
                              "\"remoteEndpoint\":{\"ipv6\":\"2001:db8::c001\",\"port\":9000},");
    tb_buf_free(&buf);
}

static void test_tb_encode_zipkin__host_names_are_not_addresses(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    FIX_SET(s.server_address, "::1");
    s.server_port = 0;
    FIX_SET(s.client_address, "client.example");
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"localEndpoint\":{\"serviceName\":\"shop-proxy\",\"ipv6\":\"::1\"},"
                              "\"remoteEndpoint\":{\"port\":51000},");
    tb_buf_free(&buf);

    /* an address that fills the whole field */
    memset(s.client_address, '1', sizeof(s.client_address));
    s.client_address_len = sizeof(s.client_address);
    s.client_port = 0;
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"remoteEndpoint\":{},");
    tb_buf_free(&buf);
}

static void test_tb_encode_zipkin__duration_at_least_one(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    s.end_ns = s.start_ns + 999; /* under a microsecond */
    buf = encode1(&s);
    assert_buf_contains(&buf, "\"timestamp\":1700000000123456,\"duration\":1,");
    tb_buf_free(&buf);

    s.end_ns = s.start_ns - 5; /* a clock step must not wrap */
    buf = encode1(&s);
    assert_buf_contains(&buf, "\"duration\":1,");
    tb_buf_free(&buf);

    s.end_ns = s.start_ns + 2500;
    buf = encode1(&s);
    assert_buf_contains(&buf, "\"duration\":2,");
    tb_buf_free(&buf);
}

static void test_tb_encode_zipkin__links_as_tags(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    fix_add_link(&s, "0000000000000000000000000000abcd", "1111111111111111", TB_FORMAT_B3MULTI);
    fix_add_link(&s, "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", TB_FORMAT_DATADOG);
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_contains(
        &buf,
        "\"tracebridge.injected_formats\":\"tracecontext,b3\","
        "\"tracebridge.link.0\":\"0000000000000000000000000000abcd-1111111111111111-b3multi\","
        "\"tracebridge.link.1\":\"5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-datadog\""
        "}}]");
    tb_buf_free(&buf);
}

/* Degradation level 2: no remote endpoint, essential tags only, no links. */
static void test_tb_encode_zipkin__reduced_span_exact(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    fix_add_link(&s, "0000000000000000000000000000abcd", "1111111111111111", TB_FORMAT_B3MULTI);
    s.reduced = true;
    buf = encode1(&s);
    assert_buf_equal(&buf, "[{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                           "\"id\":\"00f067aa0ba902b7\","
                           "\"parentId\":\"53ce929d0e0e4736\","
                           "\"name\":\"get\","
                           "\"kind\":\"SERVER\","
                           "\"timestamp\":1700000000123456,"
                           "\"duration\":50000,"
                           "\"localEndpoint\":{\"serviceName\":\"shop-proxy\",\"port\":8080},"
                           "\"tags\":{"
                           "\"http.request.method\":\"GET\","
                           "\"url.path\":\"/api/items\","
                           "\"url.scheme\":\"http\","
                           "\"server.address\":\"shop.example\","
                           "\"server.port\":\"8080\","
                           "\"http.response.status_code\":\"200\"}}]");
    assert_json_valid(&buf);
    tb_buf_free(&buf);
}

static void test_tb_encode_zipkin__name_lower_cased_and_escaped(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    FIX_SET(s.name, "POST /Cart\t\xc3\x89\xff");
    FIX_SET(s.method, "POST");
    buf = encode1(&s);
    assert_json_valid(&buf);
    /* only ASCII letters change case; raw bytes are still made valid */
    assert_buf_contains(&buf, "\"name\":\"post /cart\\u0009\xc3\x89\xef\xbf\xbd\",");
    tb_buf_free(&buf);
}

static void test_tb_encode_zipkin__service_name_absent(void **state)
{
    struct tb_span s;
    const struct tb_span *spans[] = {&s};
    const struct tb_resource res = {NULL, 0, NULL, NULL};
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    buf = encode(&res, spans, 1);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"localEndpoint\":{\"port\":8080},");
    tb_buf_free(&buf);
}

static void test_tb_encode_zipkin__several_and_empty(void **state)
{
    struct tb_span a, b;
    const struct tb_span *spans[] = {&a, &b};
    struct tb_buf buf;

    (void)state;
    fix_span(&a);
    fix_span_root_error(&b);
    buf = encode(&fix_res, spans, 2);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"tracebridge.injected_formats\":\"tracecontext,b3\"}},"
                              "{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",");
    tb_buf_free(&buf);

    buf = encode(&fix_res, NULL, 0);
    assert_buf_equal(&buf, "[]");
    tb_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_encode_zipkin__reference_span_exact),
        cmocka_unit_test(test_tb_encode_zipkin__root_client_error),
        cmocka_unit_test(test_tb_encode_zipkin__error_tag_falls_back_to_status),
        cmocka_unit_test(test_tb_encode_zipkin__client_remote_is_upstream),
        cmocka_unit_test(test_tb_encode_zipkin__host_names_are_not_addresses),
        cmocka_unit_test(test_tb_encode_zipkin__duration_at_least_one),
        cmocka_unit_test(test_tb_encode_zipkin__links_as_tags),
        cmocka_unit_test(test_tb_encode_zipkin__reduced_span_exact),
        cmocka_unit_test(test_tb_encode_zipkin__name_lower_cased_and_escaped),
        cmocka_unit_test(test_tb_encode_zipkin__service_name_absent),
        cmocka_unit_test(test_tb_encode_zipkin__several_and_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
