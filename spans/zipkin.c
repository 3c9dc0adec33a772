/* SPDX-License-Identifier: MIT
 * Zipkin v2 JSON (openzipkin/zipkin-api, zipkin2-api.yaml): a ListOfSpans
 * for POST /api/v2/spans. Times are epoch microseconds, ids lower-case hex,
 * tags a map of strings. Zipkin has no span links and no resource beyond the
 * service name; links become tags (docs/spans.md, "Zipkin").
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/tb.h"
#include "spans/encode.h"
#include "spans/json.h"

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/*
 * Writes the Endpoint address fields for `addr`: "ipv4" or "ipv6" when it is
 * an IP literal (the only address forms an Endpoint has; a host name is left
 * out), then "port" when known.
 */
static void endpoint_address(struct tb_json *j, const char *addr, size_t len, uint16_t port)
{
    char text[INET6_ADDRSTRLEN + 1];
    unsigned char bin[sizeof(struct in6_addr)];

    if (len > 0 && len < sizeof(text)) {
        memcpy(text, addr, len);
        text[len] = '\0';
        if (inet_pton(AF_INET, text, bin) == 1) {
            tb_json_key(j, "ipv4");
            tb_json_string(j, addr, len);
        } else if (inet_pton(AF_INET6, text, bin) == 1) {
            tb_json_key(j, "ipv6");
            tb_json_string(j, addr, len);
        }
    }
    if (port != 0) {
        tb_json_key(j, "port");
        tb_json_uint(j, port);
    }
}

static void encode_span(struct tb_json *j, const struct tb_resource *res, const struct tb_span *s)
{
    struct tb_span_attrs attrs;
    char name[sizeof(s->name)];
    size_t name_len = TB_SPAN_FIELD_LEN(s, name);
    size_t num_links = tb_span_num_links(s);
    uint64_t duration_us = s->end_ns > s->start_ns ? (s->end_ns - s->start_ns) / 1000 : 0;
    bool server = s->kind == TB_SPAN_KIND_SERVER;
    const char *remote_addr = server ? s->client_address : s->peer_address;
    size_t remote_len =
        server ? TB_SPAN_FIELD_LEN(s, client_address) : TB_SPAN_FIELD_LEN(s, peer_address);
    uint16_t remote_port = server ? s->client_port : s->peer_port;

    /* The remote side is the client or peer address a reduced span leaves out. */
    if (s->reduced) {
        remote_len = 0;
        remote_port = 0;
    }

    /* The spec calls for lower-case names; only ASCII letters change. */
    for (size_t i = 0; i < name_len; i++) {
        char c = s->name[i];

        name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }

    tb_json_object_begin(j);
    /* Always 32 hex digits: valid for every id, and a 64-bit trace id that
     * came padded stays the same id it is in the other exporters. */
    tb_json_key(j, "traceId");
    tb_json_hex(j, s->trace_id, sizeof(s->trace_id));
    tb_json_key(j, "id");
    tb_json_hex(j, s->span_id, sizeof(s->span_id));
    if (!all_zero(s->parent_span_id, sizeof(s->parent_span_id))) {
        tb_json_key(j, "parentId");
        tb_json_hex(j, s->parent_span_id, sizeof(s->parent_span_id));
    }
    tb_json_key(j, "name");
    tb_json_string(j, name, name_len);
    tb_json_key(j, "kind");
    tb_json_cstr(j, server ? "SERVER" : "CLIENT");
    tb_json_key(j, "timestamp");
    tb_json_uint(j, s->start_ns / 1000);
    /* "Durations of less than one are rounded up." */
    tb_json_key(j, "duration");
    tb_json_uint(j, duration_us > 0 ? duration_us : 1);

    /* The local endpoint is the proxy for the service. For a SERVER span the
     * address and port the client asked for are the local side; a CLIENT
     * span's server.address is the remote service, so only the name. */
    tb_json_key(j, "localEndpoint");
    tb_json_object_begin(j);
    if (res->service_name != NULL && res->service_name[0] != '\0') {
        tb_json_key(j, "serviceName");
        tb_json_cstr(j, res->service_name);
    }
    if (server)
        endpoint_address(j, TB_SPAN_FIELD(s, server_address), s->server_port);
    tb_json_object_end(j);

    /* SERVER: the client; CLIENT: the upstream (zipkin2-api.yaml, kind). */
    if (remote_len > 0 || remote_port != 0) {
        tb_json_key(j, "remoteEndpoint");
        tb_json_object_begin(j);
        endpoint_address(j, remote_addr, remote_len, remote_port);
        tb_json_object_end(j);
    }

    tb_span_attrs_fill(&attrs, s);
    tb_json_key(j, "tags");
    tb_json_object_begin(j);
    for (size_t i = 0; i < attrs.num; i++) {
        tb_json_key(j, attrs.a[i].key);
        tb_json_attr_as_string(j, &attrs.a[i]);
    }
    for (size_t i = 0; i < num_links; i++) {
        const struct tb_span_link *l = &s->links[i];
        char key[40]; /* "tracebridge.link." and a size_t */
        int n = snprintf(key, sizeof(key), "tracebridge.link.%zu", i);
        const char *format = tb_span_format_name((int)l->format);

        /* "<trace id>-<span id>-<format>" */
        tb_json_key_n(j, key, (size_t)n);
        tb_json_string_begin(j);
        tb_json_string_append_hex(j, l->trace_id, sizeof(l->trace_id));
        tb_json_string_append(j, "-", 1);
        tb_json_string_append_hex(j, l->span_id, sizeof(l->span_id));
        tb_json_string_append(j, "-", 1);
        tb_json_string_append(j, format, strlen(format));
        tb_json_string_end(j);
    }
    /* Zipkin marks a failed span with an "error" tag whose value says why:
     * error.type, else the status code. */
    if (s->is_error) {
        tb_json_key(j, "error");
        if (s->error_type_len > 0) {
            tb_json_string(j, TB_SPAN_FIELD(s, error_type));
        } else if (s->status_code != 0) {
            char code[16];
            int n = snprintf(code, sizeof(code), "%d", s->status_code);

            tb_json_string(j, code, (size_t)n);
        } else {
            tb_json_cstr(j, "true");
        }
    }
    tb_json_object_end(j);
    tb_json_object_end(j);
}

int tb_encode_zipkin(const struct tb_resource *res, const struct tb_span *const *spans, size_t num,
                     struct tb_buf *out)
{
    struct tb_json j;

    tb_json_init(&j, out);
    tb_json_array_begin(&j);
    for (size_t i = 0; i < num; i++)
        encode_span(&j, res, spans[i]);
    tb_json_array_end(&j);
    return TB_OK;
}
