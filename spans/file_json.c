/* SPDX-License-Identifier: MIT
 * The file exporter's format: JSON lines, one self-contained object per span
 * with snake_case names, attributes under their OpenTelemetry names and
 * typed (numbers as numbers), and the resource repeated on every line so
 * that each line stands alone (grep, jq). The schema is user-facing and
 * stable: docs/spans.md, "File".
 */
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

static void encode_line(struct tb_json *j, const struct tb_resource *res, const struct tb_span *s)
{
    struct tb_span_attrs attrs;
    size_t num_links = tb_span_num_links(s);

    tb_json_object_begin(j);
    tb_json_key(j, "trace_id");
    tb_json_hex(j, s->trace_id, sizeof(s->trace_id));
    tb_json_key(j, "span_id");
    tb_json_hex(j, s->span_id, sizeof(s->span_id));
    tb_json_key(j, "parent_span_id");
    if (all_zero(s->parent_span_id, sizeof(s->parent_span_id)))
        tb_json_null(j);
    else
        tb_json_hex(j, s->parent_span_id, sizeof(s->parent_span_id));
    /* W3C trace-flags as in traceparent, as OpenTelemetry's non-OTLP
     * formats record them ("trace_flags": two hex digits). */
    tb_json_key(j, "trace_flags");
    tb_json_hex(j, &s->w3c_flags, 1);
    tb_json_key(j, "trace_state");
    tb_json_string(j, TB_SPAN_FIELD(s, tracestate));
    tb_json_key(j, "name");
    tb_json_string(j, TB_SPAN_FIELD(s, name));
    tb_json_key(j, "kind");
    tb_json_cstr(j, s->kind == TB_SPAN_KIND_SERVER ? "server" : "client");
    tb_json_key(j, "start_time_unix_nano");
    tb_json_uint(j, s->start_ns);
    tb_json_key(j, "end_time_unix_nano");
    tb_json_uint(j, s->end_ns);
    tb_json_key(j, "status");
    tb_json_cstr(j, s->is_error ? "error" : "unset");

    tb_span_attrs_fill(&attrs, s);
    tb_json_key(j, "attributes");
    tb_json_object_begin(j);
    for (size_t i = 0; i < attrs.num; i++) {
        tb_json_key(j, attrs.a[i].key);
        tb_json_attr_typed(j, &attrs.a[i]);
    }
    tb_json_object_end(j);

    tb_json_key(j, "links");
    tb_json_array_begin(j);
    for (size_t i = 0; i < num_links; i++) {
        const struct tb_span_link *l = &s->links[i];

        tb_json_object_begin(j);
        tb_json_key(j, "trace_id");
        tb_json_hex(j, l->trace_id, sizeof(l->trace_id));
        tb_json_key(j, "span_id");
        tb_json_hex(j, l->span_id, sizeof(l->span_id));
        tb_json_key(j, "attributes");
        tb_json_object_begin(j);
        tb_json_key(j, "tracebridge.link.format");
        tb_json_cstr(j, tb_span_format_name((int)l->format));
        tb_json_object_end(j);
        tb_json_object_end(j);
    }
    tb_json_array_end(j);

    tb_json_key(j, "resource");
    tb_json_object_begin(j);
    for (size_t i = 0; i < res->num_attrs; i++) {
        tb_json_key(j, res->attrs[i].key != NULL ? res->attrs[i].key : "");
        tb_json_cstr(j, res->attrs[i].value);
    }
    tb_json_object_end(j);
    tb_json_object_end(j);
}

int tb_encode_file_json(const struct tb_resource *res, const struct tb_span *const *spans,
                        size_t num, struct tb_buf *out)
{
    for (size_t i = 0; i < num; i++) {
        struct tb_json j; /* one JSON text per line */

        tb_json_init(&j, out);
        encode_line(&j, res, spans[i]);
        tb_buf_append_byte(out, '\n');
    }
    return TB_OK;
}
