/* SPDX-License-Identifier: MIT
 * Unit tests for spans/skywalking.c: the exact SegmentObject of the
 * reference span (Entry 0 and Exit 1, milliseconds, SkyWalking's tag keys),
 * the CrossProcess ref only when sw8 arrived, errors, links as tags, peers
 * for IPv6 and a missing upstream, the endpoint cut at 150 bytes, escaping,
 * several segments, and the empty list.
 */
#include <string.h>

#include "json_check.h"

#include "spans/encode.h"

static struct tb_buf encode(const struct tb_resource *res, const struct tb_span *const *spans,
                            size_t n)
{
    struct tb_buf buf = {0};

    assert_int_equal(tb_encode_skywalking(res, spans, n, &buf), TB_OK);
    return buf;
}

static struct tb_buf encode1(const struct tb_span *s)
{
    const struct tb_span *spans[] = {s};

    return encode(&fix_res, spans, 1);
}

/* The sw8 facts of a request that carried the sw8 of protocols.md §13 #47. */
static void add_sw8_ref(struct tb_span *s)
{
    s->sw8.has_ref = true;
    FIX_SET(s->sw8.trace_id, "de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001");
    FIX_SET(s->sw8.parent_segment_id, "de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430000");
    s->sw8.parent_span_id = 2;
    FIX_SET(s->sw8.parent_service, "svc-a");
    FIX_SET(s->sw8.parent_instance, "inst-a@10.0.0.5");
    FIX_SET(s->sw8.parent_endpoint, "/a/get");
    FIX_SET(s->sw8.target, "10.0.0.6:8080");
}

static void test_tb_encode_skywalking__reference_span_exact(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    buf = encode1(&s);
    assert_buf_equal(&buf,
                     "[{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                     "\"traceSegmentId\":\"01f067aa0ba902b70000000000000000\","
                     "\"service\":\"shop-proxy\","
                     "\"serviceInstance\":\"node-1\","
                     "\"spans\":["
                     /* Entry */
                     "{\"spanId\":0,\"parentSpanId\":-1,"
                     "\"startTime\":1700000000123,\"endTime\":1700000000173,"
                     "\"operationName\":\"GET:/api/items\","
                     "\"peer\":\"10.0.0.5:51000\","
                     "\"spanType\":\"Entry\",\"spanLayer\":\"Http\",\"componentId\":49,"
                     "\"isError\":false,"
                     "\"tags\":["
                     "{\"key\":\"http.method\",\"value\":\"GET\"},"
                     "{\"key\":\"url\",\"value\":\"http://shop.example:8080/api/items\"},"
                     "{\"key\":\"http.status_code\",\"value\":\"200\"},"
                     "{\"key\":\"server.address\",\"value\":\"shop.example\"},"
                     "{\"key\":\"server.port\",\"value\":\"8080\"},"
                     "{\"key\":\"client.address\",\"value\":\"10.0.0.5\"},"
                     "{\"key\":\"client.port\",\"value\":\"51000\"},"
                     "{\"key\":\"network.peer.address\",\"value\":\"10.0.0.7\"},"
                     "{\"key\":\"network.peer.port\",\"value\":\"9000\"},"
                     "{\"key\":\"user_agent.original\",\"value\":\"curl/8.0\"},"
                     "{\"key\":\"network.protocol.version\",\"value\":\"1.1\"},"
                     "{\"key\":\"http.request.body.size\",\"value\":\"12\"},"
                     "{\"key\":\"http.response.body.size\",\"value\":\"345\"},"
                     "{\"key\":\"tracebridge.extracted_format\",\"value\":\"b3\"},"
                     "{\"key\":\"tracebridge.injected_formats\",\"value\":\"tracecontext,b3\"}"
                     "]},"
                     /* Exit */
                     "{\"spanId\":1,\"parentSpanId\":0,"
                     "\"startTime\":1700000000123,\"endTime\":1700000000173,"
                     "\"operationName\":\"GET:/api/items\","
                     "\"peer\":\"10.0.0.7:9000\","
                     "\"spanType\":\"Exit\",\"spanLayer\":\"Http\",\"componentId\":49,"
                     "\"isError\":false,"
                     "\"tags\":["
                     "{\"key\":\"http.method\",\"value\":\"GET\"},"
                     "{\"key\":\"url\",\"value\":\"http://shop.example:8080/api/items\"},"
                     "{\"key\":\"http.status_code\",\"value\":\"200\"}"
                     "]}"
                     "],\"isSizeLimited\":false}]");
    assert_json_valid(&buf);
    tb_buf_free(&buf);
}

static void test_tb_encode_skywalking__ref_when_sw8_arrived(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    add_sw8_ref(&s);
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_contains(&buf,
                        "[{\"traceId\":\"de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001\",");
    assert_buf_contains(
        &buf, "\"operationName\":\"GET:/api/items\","
              "\"refs\":[{\"refType\":\"CrossProcess\","
              "\"traceId\":\"de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001\","
              "\"parentTraceSegmentId\":\"de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430000\","
              "\"parentSpanId\":2,"
              "\"parentService\":\"svc-a\","
              "\"parentServiceInstance\":\"inst-a@10.0.0.5\","
              "\"parentEndpoint\":\"/a/get\","
              "\"networkAddressUsedAtPeer\":\"10.0.0.6:8080\"}],"
              "\"peer\":\"10.0.0.5:51000\",\"spanType\":\"Entry\",");
    /* only the Entry span refers to the parent segment */
    assert_int_equal(json_buf_count(&buf, "\"refs\""), 1);
    tb_buf_free(&buf);
}

static void test_tb_encode_skywalking__no_ref_without_sw8(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    add_sw8_ref(&s);
    s.sw8.has_ref = false; /* the facts are there, but no sw8 header was */
    buf = encode1(&s);
    assert_buf_lacks(&buf, "refs");
    assert_buf_lacks(&buf, "svc-a");
    tb_buf_free(&buf);
}

static void test_tb_encode_skywalking__error(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span_root_error(&s);
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_lacks(&buf, "\"isError\":false");
    /* no upstream was reached: the Exit names what the client asked for */
    assert_buf_contains(&buf, "\"peer\":\"shop.example:8080\",\"spanType\":\"Exit\","
                              "\"spanLayer\":\"Http\",\"componentId\":49,\"isError\":true,"
                              "\"tags\":["
                              "{\"key\":\"http.method\",\"value\":\"GET\"},"
                              "{\"key\":\"url\",\"value\":\"http://shop.example:8080/api/items\"},"
                              "{\"key\":\"http.status_code\",\"value\":\"502\"},"
                              "{\"key\":\"error.type\",\"value\":\"connect_refused\"}"
                              "]}");
    assert_buf_contains(&buf,
                        "{\"key\":\"tracebridge.injected_formats\",\"value\":\"tracecontext\"},"
                        "{\"key\":\"error.type\",\"value\":\"connect_refused\"}"
                        "]},{\"spanId\":1,");
    tb_buf_free(&buf);
}

static void test_tb_encode_skywalking__links_as_entry_tags(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    fix_add_link(&s, "0000000000000000000000000000abcd", "1111111111111111", TB_FORMAT_B3);
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_contains(&buf,
                        "{\"key\":\"tracebridge.injected_formats\",\"value\":\"tracecontext,b3\"},"
                        "{\"key\":\"tracebridge.link.0\",\"value\":"
                        "\"0000000000000000000000000000abcd-1111111111111111-b3\"}"
                        "]},");
    tb_buf_free(&buf);
}

static void test_tb_encode_skywalking__ipv6_peers_and_no_ports(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    FIX_SET(s.client_address, "2001:db8::1");
    FIX_SET(s.peer_address, "::1");
    s.peer_port = 0;
    FIX_SET(s.server_address, "[2001:db8::2]"); /* as a Host header writes it */
    s.server_port = 0;
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"peer\":\"[2001:db8::1]:51000\",\"spanType\":\"Entry\"");
    assert_buf_contains(&buf, "\"peer\":\"[::1]\",\"spanType\":\"Exit\"");
    assert_buf_contains(&buf, "{\"key\":\"url\",\"value\":\"http://[2001:db8::2]/api/items\"}");
    tb_buf_free(&buf);

    /* nothing known about the client or the host */
    s.client_address_len = 0;
    s.server_address_len = 0;
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"operationName\":\"GET:/api/items\",\"spanType\":\"Entry\"");
    assert_buf_contains(&buf, "{\"key\":\"url\",\"value\":\"/api/items\"}");
    tb_buf_free(&buf);
}

static void test_tb_encode_skywalking__endpoint_cut_at_150(void **state)
{
    struct tb_span s;
    struct tb_buf buf;
    char path[256], expected[200];

    (void)state;
    fix_span(&s);
    /* "GET:" is 4 bytes: the path may keep 146; the 2-byte é at 145..146
     * would be cut in half, so the cut moves before it */
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    path[145] = '\xc3';
    path[146] = '\xa9';
    memcpy(s.path, path, 200);
    s.path_len = 200;
    buf = encode1(&s);
    assert_json_valid(&buf);
    memcpy(expected, "\"operationName\":\"GET:", 21);
    memcpy(expected + 21, path, 145);
    memcpy(expected + 21 + 145, "\",", 3);
    assert_buf_contains(&buf, expected);

    /* a path that fits exactly is kept whole */
    s.path_len = 146;
    s.path[145] = 'z';
    tb_buf_free(&buf);
    buf = encode1(&s);
    memcpy(expected + 21, s.path, 146);
    memcpy(expected + 21 + 146, "\",", 3);
    assert_buf_contains(&buf, expected);
    tb_buf_free(&buf);
}

/* Degradation level 2: the Entry span has no client peer and only the
 * essential tags; the Exit span keeps its peer, which the OAP joins on. */
static void test_tb_encode_skywalking__reduced_span(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    add_sw8_ref(&s);
    fix_add_link(&s, "0000000000000000000000000000abcd", "1111111111111111", TB_FORMAT_B3MULTI);
    s.reduced = true;
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"refs\":[{\"refType\":\"CrossProcess\"");
    assert_buf_contains(&buf, "\"spanType\":\"Entry\",\"spanLayer\":\"Http\",\"componentId\":49,"
                              "\"isError\":false,"
                              "\"tags\":["
                              "{\"key\":\"http.method\",\"value\":\"GET\"},"
                              "{\"key\":\"url\",\"value\":\"http://shop.example:8080/api/items\"},"
                              "{\"key\":\"http.status_code\",\"value\":\"200\"},"
                              "{\"key\":\"server.address\",\"value\":\"shop.example\"},"
                              "{\"key\":\"server.port\",\"value\":\"8080\"}"
                              "]}");
    assert_buf_lacks(&buf, "\"peer\":\"10.0.0.5");
    assert_buf_lacks(&buf, "client.address");
    assert_buf_lacks(&buf, "tracebridge.");
    assert_buf_contains(&buf, "\"peer\":\"10.0.0.7:9000\",\"spanType\":\"Exit\"");
    tb_buf_free(&buf);
}

static void test_tb_encode_skywalking__raw_bytes_escaped(void **state)
{
    struct tb_span s;
    struct tb_buf buf;

    (void)state;
    fix_span(&s);
    add_sw8_ref(&s);
    FIX_SET(s.sw8.parent_endpoint, "/x\"\x01\xfe");
    FIX_SET(s.path, "/p\\\xe2\x82");
    buf = encode1(&s);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"parentEndpoint\":\"/x\\\"\\u0001\xef\xbf\xbd\"");
    assert_buf_contains(&buf, "\"operationName\":\"GET:/p\\\\\xef\xbf\xbd\"");
    tb_buf_free(&buf);
}

static void test_tb_encode_skywalking__several_and_empty(void **state)
{
    struct tb_span a, b;
    const struct tb_span *spans[] = {&a, &b};
    const struct tb_resource res = {NULL, 0, NULL, NULL};
    struct tb_buf buf;

    (void)state;
    fix_span(&a);
    fix_span_root_error(&b);
    memcpy(b.sw8.segment_id, "0000000000000000000000000000beef", 33);
    buf = encode(&fix_res, spans, 2);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "],\"isSizeLimited\":false},{\"traceId\":");
    assert_buf_contains(&buf, "\"traceSegmentId\":\"0000000000000000000000000000beef\",");
    tb_buf_free(&buf);

    buf = encode(&fix_res, NULL, 0);
    assert_buf_equal(&buf, "[]");
    tb_buf_free(&buf);

    /* no service configured: empty strings, still valid JSON */
    buf = encode(&res, spans, 1);
    assert_json_valid(&buf);
    assert_buf_contains(&buf, "\"service\":\"\",\"serviceInstance\":\"\",");
    tb_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_encode_skywalking__reference_span_exact),
        cmocka_unit_test(test_tb_encode_skywalking__ref_when_sw8_arrived),
        cmocka_unit_test(test_tb_encode_skywalking__no_ref_without_sw8),
        cmocka_unit_test(test_tb_encode_skywalking__error),
        cmocka_unit_test(test_tb_encode_skywalking__links_as_entry_tags),
        cmocka_unit_test(test_tb_encode_skywalking__ipv6_peers_and_no_ports),
        cmocka_unit_test(test_tb_encode_skywalking__endpoint_cut_at_150),
        cmocka_unit_test(test_tb_encode_skywalking__reduced_span),
        cmocka_unit_test(test_tb_encode_skywalking__raw_bytes_escaped),
        cmocka_unit_test(test_tb_encode_skywalking__several_and_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
