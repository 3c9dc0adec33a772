/* SPDX-License-Identifier: MIT
 * OTLP/HTTP JSON: an ExportTraceServiceRequest in the protobuf JSON mapping
 * with OTLP's exceptions (OTLP specification, "JSON Protobuf Encoding"):
 * lowerCamelCase field names, trace and span ids as lower-case hex rather
 * than base64, enums as integers. 64-bit integers are decimal strings, as
 * the proto3 JSON mapping writes int64/uint64/fixed64. Fields at their
 * default value are left out, as protobuf JSON printers do.
 */
#include <string.h>

#include "common/tb.h"
#include "spans/encode.h"
#include "spans/json.h"

/* trace.proto SpanFlags: bits 0-7 are the W3C trace flags; bit 8 says
 * whether bit 9 (the parent is remote) is known. */
#define OTLP_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE 0x100u
#define OTLP_SPAN_FLAGS_CONTEXT_IS_REMOTE 0x200u

/* trace.proto Status.StatusCode */
#define OTLP_STATUS_CODE_ERROR 2

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* {"key": key, "value": {"stringValue": s}}: a KeyValue of a string. */
static void kv_string(struct tb_json *j, const char *key, const char *s, size_t len)
{
    tb_json_object_begin(j);
    tb_json_key(j, "key");
    tb_json_cstr(j, key);
    tb_json_key(j, "value");
    tb_json_object_begin(j);
    tb_json_key(j, "stringValue");
    tb_json_string(j, s, len);
    tb_json_object_end(j);
    tb_json_object_end(j);
}

/* A KeyValue whose AnyValue has the attribute's type: stringValue, intValue
 * (int64, so a string), or arrayValue of stringValues. */
static void kv_attr(struct tb_json *j, const struct tb_span_attr *attr)
{
    tb_json_object_begin(j);
    tb_json_key(j, "key");
    tb_json_cstr(j, attr->key);
    tb_json_key(j, "value");
    tb_json_object_begin(j);
    switch (attr->type) {
    case TB_SPAN_ATTR_STRING:
        tb_json_key(j, "stringValue");
        tb_json_string(j, attr->str, attr->len);
        break;
    case TB_SPAN_ATTR_INT:
        /* intValue is int64: a JSON string. Every value here is >= 0. */
        tb_json_key(j, "intValue");
        tb_json_uint_string(j, attr->num < 0 ? 0 : (uint64_t)attr->num);
        break;
    case TB_SPAN_ATTR_FORMATS:
        tb_json_key(j, "arrayValue");
        tb_json_object_begin(j);
        tb_json_key(j, "values");
        tb_json_array_begin(j);
        for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
            if (!(attr->formats & TB_FORMAT_BIT(f)))
                continue;
            tb_json_object_begin(j);
            tb_json_key(j, "stringValue");
            tb_json_cstr(j, tb_span_format_name((int)f));
            tb_json_object_end(j);
        }
        tb_json_array_end(j);
        tb_json_object_end(j);
        break;
    }
    tb_json_object_end(j);
    tb_json_object_end(j);
}

static void encode_span(struct tb_json *j, const struct tb_span *s)
{
    struct tb_span_attrs attrs;
    uint32_t flags = s->w3c_flags | OTLP_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE;
    bool has_parent = !all_zero(s->parent_span_id, sizeof(s->parent_span_id));
    size_t num_links = tb_span_num_links(s);

    /* The parent always comes from the request's headers: another process. */
    if (has_parent)
        flags |= OTLP_SPAN_FLAGS_CONTEXT_IS_REMOTE;

    tb_json_object_begin(j);
    tb_json_key(j, "traceId");
    tb_json_hex(j, s->trace_id, sizeof(s->trace_id));
    tb_json_key(j, "spanId");
    tb_json_hex(j, s->span_id, sizeof(s->span_id));
    if (s->tracestate_len > 0) {
        tb_json_key(j, "traceState");
        tb_json_string(j, TB_SPAN_FIELD(s, tracestate));
    }
    if (has_parent) {
        tb_json_key(j, "parentSpanId");
        tb_json_hex(j, s->parent_span_id, sizeof(s->parent_span_id));
    }
    tb_json_key(j, "flags"); /* fixed32: a JSON number */
    tb_json_uint(j, flags);
    tb_json_key(j, "name");
    tb_json_string(j, TB_SPAN_FIELD(s, name));
    tb_json_key(j, "kind");
    tb_json_uint(j, (uint64_t)s->kind);
    tb_json_key(j, "startTimeUnixNano");
    tb_json_uint_string(j, s->start_ns);
    tb_json_key(j, "endTimeUnixNano");
    tb_json_uint_string(j, s->end_ns);

    tb_span_attrs_fill(&attrs, s);
    tb_json_key(j, "attributes");
    tb_json_array_begin(j);
    for (size_t i = 0; i < attrs.num; i++)
        kv_attr(j, &attrs.a[i]);
    tb_json_array_end(j);

    if (num_links > 0) {
        tb_json_key(j, "links");
        tb_json_array_begin(j);
        for (size_t i = 0; i < num_links; i++) {
            const struct tb_span_link *l = &s->links[i];
            const char *format = tb_span_format_name((int)l->format);

            tb_json_object_begin(j);
            tb_json_key(j, "traceId");
            tb_json_hex(j, l->trace_id, sizeof(l->trace_id));
            tb_json_key(j, "spanId");
            tb_json_hex(j, l->span_id, sizeof(l->span_id));
            tb_json_key(j, "attributes");
            tb_json_array_begin(j);
            kv_string(j, "tracebridge.link.format", format, strlen(format));
            tb_json_array_end(j);
            tb_json_object_end(j);
        }
        tb_json_array_end(j);
    }

    /* UNSET is the default Status: left out. ERROR carries no message. */
    if (s->is_error) {
        tb_json_key(j, "status");
        tb_json_object_begin(j);
        tb_json_key(j, "code");
        tb_json_uint(j, OTLP_STATUS_CODE_ERROR);
        tb_json_object_end(j);
    }
    tb_json_object_end(j);
}

int tb_encode_otlp_json(const struct tb_resource *res, const struct tb_span *const *spans,
                        size_t num, struct tb_buf *out)
{
    struct tb_json j;

    tb_json_init(&j, out);
    tb_json_object_begin(&j);
    tb_json_key(&j, "resourceSpans");
    tb_json_array_begin(&j);
    if (num > 0) {
        tb_json_object_begin(&j);
        tb_json_key(&j, "resource");
        tb_json_object_begin(&j);
        tb_json_key(&j, "attributes");
        tb_json_array_begin(&j);
        for (size_t i = 0; i < res->num_attrs; i++)
            kv_string(&j, res->attrs[i].key, res->attrs[i].value,
                      res->attrs[i].value != NULL ? strlen(res->attrs[i].value) : 0);
        tb_json_array_end(&j);
        tb_json_object_end(&j);

        tb_json_key(&j, "scopeSpans");
        tb_json_array_begin(&j);
        tb_json_object_begin(&j);
        tb_json_key(&j, "scope");
        tb_json_object_begin(&j);
        tb_json_key(&j, "name");
        tb_json_cstr(&j, "tracebridge");
        tb_json_key(&j, "version");
        tb_json_cstr(&j, TB_VERSION);
        tb_json_object_end(&j);
        tb_json_key(&j, "spans");
        tb_json_array_begin(&j);
        for (size_t i = 0; i < num; i++)
            encode_span(&j, spans[i]);
        tb_json_array_end(&j);
        tb_json_object_end(&j);
        tb_json_array_end(&j);

        tb_json_object_end(&j);
    }
    tb_json_array_end(&j);
    tb_json_object_end(&j);
    return TB_OK;
}
