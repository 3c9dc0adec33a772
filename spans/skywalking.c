/* SPDX-License-Identifier: MIT
 * SkyWalking native segments: a JSON array of SegmentObject
 * (skywalking-data-collect-protocol, language-agent/Tracing.proto) for the
 * OAP's HTTP receiver, POST /v3/segments, which reads the protobuf JSON
 * mapping (lowerCamelCase names, enums by name). Each hop is one segment with
 * an Entry span (0) and an Exit span (1), as an agent in a proxy reports it;
 * the downstream sw8 names the Exit span (protocols.md §8.5).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/tb.h"
#include "spans/encode.h"
#include "propagators/sw8.h"
#include "spans/json.h"

/*
 * component-libraries.yml id 49, "http": the generic HTTP component. The
 * proxy-specific ids (Nginx 6000, EnvoyProxy 9000) would name tracebridge
 * after another product, and the OAP names the conjectured node behind an
 * Exit span after its component, which here is the upstream service.
 */
#define SW_COMPONENT_HTTP 49

#define SW_ENTRY_SPAN_ID 0
#define SW_EXIT_SPAN_ID 1

/* The string "METHOD:/path", cut as the hop cut the parent endpoint of the
 * sw8 it sent downstream: the OAP joins the two segments on it. */
static void write_endpoint(struct tb_json *j, const struct tb_span *s)
{
    size_t method_len = TB_SPAN_FIELD_LEN(s, method);
    size_t path_len = tb_sw8_endpoint_path_len(method_len, s->path, TB_SPAN_FIELD_LEN(s, path));

    tb_json_string_begin(j);
    tb_json_string_append(j, s->method, method_len);
    tb_json_string_append(j, ":", 1);
    tb_json_string_append(j, s->path, path_len);
    tb_json_string_end(j);
}

/* Appends `host` to the string in progress, in brackets when it is an IPv6
 * literal (RFC 3986 §3.2.2), then ":port" when `port` is known. */
static void append_host_port(struct tb_json *j, const char *host, size_t len, uint16_t port)
{
    bool bracket = memchr(host, ':', len) != NULL && !(len > 0 && host[0] == '[');

    if (bracket)
        tb_json_string_append(j, "[", 1);
    tb_json_string_append(j, host, len);
    if (bracket)
        tb_json_string_append(j, "]", 1);
    if (port != 0) {
        char tmp[8];
        int n = snprintf(tmp, sizeof(tmp), ":%u", (unsigned)port);

        tb_json_string_append(j, tmp, (size_t)n);
    }
}

/* The "peer" member when there is an address: "host:port". */
static void write_peer(struct tb_json *j, const char *host, size_t len, uint16_t port)
{
    if (len == 0)
        return;
    tb_json_key(j, "peer");
    tb_json_string_begin(j);
    append_host_port(j, host, len, port);
    tb_json_string_end(j);
}

static void tag_begin(struct tb_json *j, const char *key)
{
    tb_json_object_begin(j);
    tb_json_key(j, "key");
    tb_json_cstr(j, key);
    tb_json_key(j, "value");
}

/*
 * The tags SkyWalking's own analysis reads (the Java agent's Tags and the
 * OAP's SpanTags): http.method, url (the request URL without the query) and
 * http.status_code (which replaced the deprecated status_code).
 */
static void write_sw_tags(struct tb_json *j, const struct tb_span *s)
{
    size_t host_len = TB_SPAN_FIELD_LEN(s, server_address);

    tag_begin(j, "http.method");
    tb_json_string(j, TB_SPAN_FIELD(s, method));
    tb_json_object_end(j);

    tag_begin(j, "url");
    tb_json_string_begin(j);
    if (host_len > 0) {
        tb_json_string_append(j, "http://", 7);
        append_host_port(j, s->server_address, host_len, s->server_port);
    }
    tb_json_string_append(j, TB_SPAN_FIELD(s, path));
    tb_json_string_end(j);
    tb_json_object_end(j);

    if (s->status_code != 0) {
        char code[16];
        int n = snprintf(code, sizeof(code), "%d", s->status_code);

        tag_begin(j, "http.status_code");
        tb_json_string(j, code, (size_t)n);
        tb_json_object_end(j);
    }
}

/* The attributes the SkyWalking tags above already carry. */
static bool covered_by_sw_tags(const char *key)
{
    return strcmp(key, "http.request.method") == 0 || strcmp(key, "url.path") == 0 ||
           strcmp(key, "url.scheme") == 0 || strcmp(key, "http.response.status_code") == 0;
}

static void write_span_common(struct tb_json *j, const struct tb_span *s, int span_id,
                              int parent_span_id)
{
    tb_json_key(j, "spanId");
    tb_json_int(j, span_id);
    tb_json_key(j, "parentSpanId");
    tb_json_int(j, parent_span_id);
    /* epoch milliseconds (Tracing.proto SpanObject.startTime) */
    tb_json_key(j, "startTime");
    tb_json_uint(j, s->start_ns / 1000000);
    tb_json_key(j, "endTime");
    tb_json_uint(j, s->end_ns / 1000000);
    tb_json_key(j, "operationName");
    write_endpoint(j, s);
}

static void write_span_tail(struct tb_json *j, const struct tb_span *s)
{
    tb_json_key(j, "spanLayer");
    tb_json_cstr(j, "Http");
    tb_json_key(j, "componentId");
    tb_json_int(j, SW_COMPONENT_HTTP);
    tb_json_key(j, "isError");
    tb_json_bool(j, s->is_error);
}

static void write_ref(struct tb_json *j, const struct tb_span_sw8 *sw)
{
    tb_json_key(j, "refs");
    tb_json_array_begin(j);
    tb_json_object_begin(j);
    tb_json_key(j, "refType");
    tb_json_cstr(j, "CrossProcess");
    tb_json_key(j, "traceId");
    tb_json_string(j, TB_SPAN_FIELD(sw, trace_id));
    tb_json_key(j, "parentTraceSegmentId");
    tb_json_string(j, TB_SPAN_FIELD(sw, parent_segment_id));
    tb_json_key(j, "parentSpanId");
    tb_json_int(j, sw->parent_span_id);
    tb_json_key(j, "parentService");
    tb_json_string(j, TB_SPAN_FIELD(sw, parent_service));
    tb_json_key(j, "parentServiceInstance");
    tb_json_string(j, TB_SPAN_FIELD(sw, parent_instance));
    tb_json_key(j, "parentEndpoint");
    tb_json_string(j, TB_SPAN_FIELD(sw, parent_endpoint));
    tb_json_key(j, "networkAddressUsedAtPeer");
    tb_json_string(j, TB_SPAN_FIELD(sw, target));
    tb_json_object_end(j);
    tb_json_array_end(j);
}

/* Entry: the request as it arrived from the client; it carries every
 * attribute of the hop, and the links. */
static void write_entry(struct tb_json *j, const struct tb_span *s)
{
    struct tb_span_attrs attrs;
    size_t num_links = tb_span_num_links(s);

    tb_json_object_begin(j);
    write_span_common(j, s, SW_ENTRY_SPAN_ID, -1);
    if (s->sw8.has_ref)
        write_ref(j, &s->sw8);
    if (!s->reduced)
        write_peer(j, TB_SPAN_FIELD(s, client_address), s->client_port);
    tb_json_key(j, "spanType");
    tb_json_cstr(j, "Entry");
    write_span_tail(j, s);

    tb_span_attrs_fill(&attrs, s);
    tb_json_key(j, "tags");
    tb_json_array_begin(j);
    write_sw_tags(j, s);
    for (size_t i = 0; i < attrs.num; i++) {
        if (covered_by_sw_tags(attrs.a[i].key))
            continue;
        tag_begin(j, attrs.a[i].key);
        tb_json_attr_as_string(j, &attrs.a[i]);
        tb_json_object_end(j);
    }
    /* SkyWalking refs name segments, not span ids: links stay tags, as in
     * the Zipkin exporter. */
    for (size_t i = 0; i < num_links; i++) {
        const struct tb_span_link *l = &s->links[i];
        const char *format = tb_span_format_name((int)l->format);
        char key[40]; /* "tracebridge.link." and a size_t */

        snprintf(key, sizeof(key), "tracebridge.link.%zu", i);
        tag_begin(j, key);
        tb_json_string_begin(j);
        tb_json_string_append_hex(j, l->trace_id, sizeof(l->trace_id));
        tb_json_string_append(j, "-", 1);
        tb_json_string_append_hex(j, l->span_id, sizeof(l->span_id));
        tb_json_string_append(j, "-", 1);
        tb_json_string_append(j, format, strlen(format));
        tb_json_string_end(j);
        tb_json_object_end(j);
    }
    tb_json_array_end(j);
    tb_json_object_end(j);
}

/* Exit: the same request as sent to the upstream. Its peer is required for
 * the OAP's topology (STAM); without a connected upstream, the address the
 * client asked for is the best name of the target. */
static void write_exit(struct tb_json *j, const struct tb_span *s)
{
    tb_json_object_begin(j);
    write_span_common(j, s, SW_EXIT_SPAN_ID, SW_ENTRY_SPAN_ID);
    if (s->sw8.exit_peer_len > 0 && s->sw8.exit_peer_len <= sizeof(s->sw8.exit_peer)) {
        tb_json_key(j, "peer");
        tb_json_string(j, s->sw8.exit_peer, s->sw8.exit_peer_len);
    } else if (s->peer_address_len > 0) {
        write_peer(j, TB_SPAN_FIELD(s, peer_address), s->peer_port);
    } else {
        write_peer(j, TB_SPAN_FIELD(s, server_address), s->server_port);
    }
    tb_json_key(j, "spanType");
    tb_json_cstr(j, "Exit");
    write_span_tail(j, s);
    tb_json_key(j, "tags");
    tb_json_array_begin(j);
    write_sw_tags(j, s);
    if (s->is_error && s->error_type_len > 0) {
        tag_begin(j, "error.type");
        tb_json_string(j, TB_SPAN_FIELD(s, error_type));
        tb_json_object_end(j);
    }
    tb_json_array_end(j);
    tb_json_object_end(j);
}

static void encode_segment(struct tb_json *j, const struct tb_resource *res,
                           const struct tb_span *s)
{
    tb_json_object_begin(j);
    tb_json_key(j, "traceId");
    tb_json_string(j, TB_SPAN_FIELD(&s->sw8, trace_id));
    tb_json_key(j, "traceSegmentId");
    tb_json_string(j, s->sw8.segment_id, strnlen(s->sw8.segment_id, sizeof(s->sw8.segment_id)));
    tb_json_key(j, "service");
    tb_json_cstr(j, res->service_name);
    tb_json_key(j, "serviceInstance");
    tb_json_cstr(j, res->service_instance);
    tb_json_key(j, "spans");
    tb_json_array_begin(j);
    write_entry(j, s);
    write_exit(j, s);
    tb_json_array_end(j);
    tb_json_key(j, "isSizeLimited");
    tb_json_bool(j, false);
    tb_json_object_end(j);
}

int tb_encode_skywalking(const struct tb_resource *res, const struct tb_span *const *spans,
                         size_t num, struct tb_buf *out)
{
    struct tb_json j;

    tb_json_init(&j, out);
    tb_json_array_begin(&j);
    for (size_t i = 0; i < num; i++)
        encode_segment(&j, res, spans[i]);
    tb_json_array_end(&j);
    return TB_OK;
}
