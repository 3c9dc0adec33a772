/* SPDX-License-Identifier: MIT
 * The JSON writer of the span encoders, and the span attribute list they
 * share. UTF-8 repair follows spans/utf8.h, as the protobuf encoder's does.
 */
#include "spans/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/tb.h"
#include "propagators/propagator.h"
#include "spans/utf8.h"

static const char hex_digits[] = "0123456789abcdef";

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */

/* Length of the well-formed UTF-8 sequence at `s[0..n)` whose lead byte is
 * not ASCII, or 0 when it is ill-formed (then tb_utf8_invalid_len says how
 * many bytes one U+FFFD replaces). One sequence only: the ASCII after it may
 * need escaping. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t need = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;

    if (need > n)
        need = n;
    return tb_utf8_valid_prefix((const char *)s, need) == need && need >= 2 ? need : 0;
}

void tb_json_escape(struct tb_buf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* p[run..i) is valid and needs no escaping */

    while (i < len) {
        unsigned char c = p[i];
        size_t n;

        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80 && (n = utf8_seq(p + i, len - i)) != 0) {
            i += n;
            continue;
        }
        tb_buf_append(out, p + run, i - run);
        if (c >= 0x80) {
            tb_buf_append(out, TB_UTF8_REPLACEMENT, TB_UTF8_REPLACEMENT_LEN);
            i += tb_utf8_invalid_len((const char *)p + i, len - i);
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};

            tb_buf_append(out, esc, 2);
            i++;
        } else {
            /* RFC 8259 §7: control characters must be escaped; the \u form
             * is used for all of them so there is one rule to read. */
            char esc[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 15]};

            tb_buf_append(out, esc, 6);
            i++;
        }
        run = i;
    }
    tb_buf_append(out, p + run, len - run);
}

/* ------------------------------------------------------------------------ */
/* Structure                                                                */

void tb_json_init(struct tb_json *j, struct tb_buf *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
}

/* Everything that starts a value goes through here: the comma before an
 * array element, nothing after a key or at the top level. */
static void json_value_prefix(struct tb_json *j)
{
    TB_ASSERT(!j->in_string);
    if (j->depth == 0)
        return;
    if (j->is_object & (1u << j->depth)) {
        TB_ASSERT(j->after_key);
        j->after_key = false;
        return;
    }
    if (j->has_items & (1u << j->depth))
        tb_buf_append_byte(j->out, ',');
    j->has_items |= 1u << j->depth;
}

static void json_open(struct tb_json *j, char c, bool object)
{
    json_value_prefix(j);
    TB_ASSERT(j->depth + 1 < TB_JSON_MAX_DEPTH);
    j->depth++;
    j->has_items &= ~(1u << j->depth);
    if (object)
        j->is_object |= 1u << j->depth;
    else
        j->is_object &= ~(1u << j->depth);
    tb_buf_append_byte(j->out, (uint8_t)c);
}

static void json_close(struct tb_json *j, char c, bool object)
{
    TB_ASSERT(j->depth > 0 && !j->after_key && !j->in_string);
    TB_ASSERT(((j->is_object >> j->depth) & 1) == (object ? 1u : 0u));
    j->depth--;
    tb_buf_append_byte(j->out, (uint8_t)c);
}

void tb_json_object_begin(struct tb_json *j)
{
    json_open(j, '{', true);
}

void tb_json_object_end(struct tb_json *j)
{
    json_close(j, '}', true);
}

void tb_json_array_begin(struct tb_json *j)
{
    json_open(j, '[', false);
}

void tb_json_array_end(struct tb_json *j)
{
    json_close(j, ']', false);
}

void tb_json_key_n(struct tb_json *j, const char *key, size_t len)
{
    TB_ASSERT(j->depth > 0 && (j->is_object & (1u << j->depth)) && !j->after_key && !j->in_string);
    if (j->has_items & (1u << j->depth))
        tb_buf_append_byte(j->out, ',');
    j->has_items |= 1u << j->depth;
    tb_buf_append_byte(j->out, '"');
    tb_json_escape(j->out, key, len);
    tb_buf_append(j->out, "\":", 2);
    j->after_key = true;
}

void tb_json_key(struct tb_json *j, const char *key)
{
    tb_json_key_n(j, key, strlen(key));
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */

void tb_json_string_begin(struct tb_json *j)
{
    json_value_prefix(j);
    tb_buf_append_byte(j->out, '"');
    j->in_string = true;
}

void tb_json_string_append(struct tb_json *j, const char *s, size_t len)
{
    TB_ASSERT(j->in_string);
    tb_json_escape(j->out, s, len);
}

void tb_json_string_end(struct tb_json *j)
{
    TB_ASSERT(j->in_string);
    tb_buf_append_byte(j->out, '"');
    j->in_string = false;
}

void tb_json_string(struct tb_json *j, const char *s, size_t len)
{
    tb_json_string_begin(j);
    tb_json_string_append(j, s, len);
    tb_json_string_end(j);
}

void tb_json_cstr(struct tb_json *j, const char *s)
{
    tb_json_string(j, s, s != NULL ? strlen(s) : 0);
}

/* Writes the decimal digits of `v` at the end of `out`. */
static void append_uint(struct tb_buf *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    tb_buf_append(out, tmp + sizeof(tmp) - n, n);
}

void tb_json_uint(struct tb_json *j, uint64_t v)
{
    json_value_prefix(j);
    append_uint(j->out, v);
}

void tb_json_int(struct tb_json *j, int64_t v)
{
    json_value_prefix(j);
    if (v < 0) {
        tb_buf_append_byte(j->out, '-');
        /* negate in unsigned arithmetic: -INT64_MIN overflows int64_t */
        append_uint(j->out, (uint64_t)0 - (uint64_t)v);
    } else {
        append_uint(j->out, (uint64_t)v);
    }
}

void tb_json_uint_string(struct tb_json *j, uint64_t v)
{
    json_value_prefix(j);
    tb_buf_append_byte(j->out, '"');
    append_uint(j->out, v);
    tb_buf_append_byte(j->out, '"');
}

static void append_hex(struct tb_buf *out, const uint8_t *bytes, size_t n)
{
    char *p = tb_buf_reserve(out, 2 * n);

    for (size_t i = 0; i < n; i++) {
        *p++ = hex_digits[bytes[i] >> 4];
        *p++ = hex_digits[bytes[i] & 15];
    }
    out->len += 2 * n;
}

void tb_json_string_append_hex(struct tb_json *j, const uint8_t *bytes, size_t n)
{
    TB_ASSERT(j->in_string);
    append_hex(j->out, bytes, n);
}

void tb_json_hex(struct tb_json *j, const uint8_t *bytes, size_t n)
{
    json_value_prefix(j);
    tb_buf_append_byte(j->out, '"');
    append_hex(j->out, bytes, n);
    tb_buf_append_byte(j->out, '"');
}

void tb_json_bool(struct tb_json *j, bool v)
{
    json_value_prefix(j);
    if (v)
        tb_buf_append(j->out, "true", 4);
    else
        tb_buf_append(j->out, "false", 5);
}

void tb_json_null(struct tb_json *j)
{
    json_value_prefix(j);
    tb_buf_append(j->out, "null", 4);
}

void tb_json_double(struct tb_json *j, double v)
{
    char text[32];
    int n;

    /* JSON has no NaN or infinity; 15 digits print 0.1 as 0.1, not 0.1000...01. */
    if (!isfinite(v)) {
        tb_json_null(j);
        return;
    }
    n = snprintf(text, sizeof(text), "%.15g", v);
    json_value_prefix(j);
    tb_buf_append(j->out, text, (size_t)n);
}

/* ------------------------------------------------------------------------ */
/* Span attributes                                                          */

const char *tb_span_format_name(int f)
{
    if (f < 0 || f >= (int)TB_FORMAT_NUM)
        return "none";
    return tb_propagator_get((enum tb_format)f)->name;
}

static void attr_str(struct tb_span_attrs *out, const char *key, const char *s, size_t len)
{
    struct tb_span_attr *a;

    TB_ASSERT(out->num < TB_SPAN_MAX_ATTRS);
    a = &out->a[out->num++];
    memset(a, 0, sizeof(*a));
    a->key = key;
    a->type = TB_SPAN_ATTR_STRING;
    a->str = s;
    a->len = len;
}

/* Strings that are empty are unknown: the attribute is left out. */
static void attr_str_opt(struct tb_span_attrs *out, const char *key, const char *s, size_t len)
{
    if (len > 0)
        attr_str(out, key, s, len);
}

static void attr_int(struct tb_span_attrs *out, const char *key, int64_t v)
{
    struct tb_span_attr *a;

    TB_ASSERT(out->num < TB_SPAN_MAX_ATTRS);
    a = &out->a[out->num++];
    memset(a, 0, sizeof(*a));
    a->key = key;
    a->type = TB_SPAN_ATTR_INT;
    a->num = v;
}

/* OTLP integers are signed 64-bit: a size beyond that cannot happen, but
 * must not wrap to a negative value if it did. */
static int64_t clamp_int64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* The attributes after the status code that a reduced span leaves out. */
static void attrs_fill_details(struct tb_span_attrs *out, const struct tb_span *s)
{
    struct tb_span_attr *a;

    attr_str_opt(out, "user_agent.original", TB_SPAN_FIELD(s, user_agent));
    if (s->http_version_major != 0 || s->http_version_minor != 0) {
        /* semconv: "1.0", "1.1"; HTTP/2 and later are written "2", "3" */
        int n;

        if (s->http_version_major >= 2 && s->http_version_minor == 0)
            n = snprintf(out->version, sizeof(out->version), "%u", (unsigned)s->http_version_major);
        else
            n = snprintf(out->version, sizeof(out->version), "%u.%u",
                         (unsigned)s->http_version_major, (unsigned)s->http_version_minor);
        attr_str(out, "network.protocol.version", out->version, (size_t)n);
    }
    attr_int(out, "http.request.body.size", clamp_int64(s->request_body_size));
    attr_int(out, "http.response.body.size", clamp_int64(s->response_body_size));
    attr_str(out, "tracebridge.extracted_format", tb_span_format_name(s->extracted_format),
             strlen(tb_span_format_name(s->extracted_format)));
    TB_ASSERT(out->num < TB_SPAN_MAX_ATTRS);
    a = &out->a[out->num++];
    memset(a, 0, sizeof(*a));
    a->key = "tracebridge.injected_formats";
    a->type = TB_SPAN_ATTR_FORMATS;
    a->formats = s->injected_formats;
}

void tb_span_attrs_fill(struct tb_span_attrs *out, const struct tb_span *s)
{
    out->num = 0;
    attr_str(out, "http.request.method", TB_SPAN_FIELD(s, method));
    attr_str(out, "url.path", TB_SPAN_FIELD(s, path));
    attr_str(out, "url.scheme", "http", 4);
    attr_str_opt(out, "server.address", TB_SPAN_FIELD(s, server_address));
    if (s->server_port != 0)
        attr_int(out, "server.port", s->server_port);
    if (!s->reduced) {
        attr_str_opt(out, "client.address", TB_SPAN_FIELD(s, client_address));
        if (s->client_port != 0)
            attr_int(out, "client.port", s->client_port);
        attr_str_opt(out, "network.peer.address", TB_SPAN_FIELD(s, peer_address));
        if (s->peer_port != 0)
            attr_int(out, "network.peer.port", s->peer_port);
    }
    if (s->status_code != 0)
        attr_int(out, "http.response.status_code", s->status_code);
    if (!s->reduced)
        attrs_fill_details(out, s);
    if (s->is_error)
        attr_str_opt(out, "error.type", TB_SPAN_FIELD(s, error_type));
}

size_t tb_span_num_links(const struct tb_span *s)
{
    if (s->reduced)
        return 0;
    return s->num_links < TB_SPAN_MAX_LINKS ? s->num_links : TB_SPAN_MAX_LINKS;
}

void tb_json_attr_as_string(struct tb_json *j, const struct tb_span_attr *attr)
{
    switch (attr->type) {
    case TB_SPAN_ATTR_STRING:
        tb_json_string(j, attr->str, attr->len);
        break;
    case TB_SPAN_ATTR_INT: {
        char tmp[24];
        int n = snprintf(tmp, sizeof(tmp), "%" PRId64, attr->num);

        tb_json_string(j, tmp, (size_t)n);
        break;
    }
    case TB_SPAN_ATTR_FORMATS: {
        bool first = true;

        tb_json_string_begin(j);
        for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
            if (!(attr->formats & TB_FORMAT_BIT(f)))
                continue;
            if (!first)
                tb_json_string_append(j, ",", 1);
            first = false;
            tb_json_string_append(j, tb_span_format_name((int)f),
                                  strlen(tb_span_format_name((int)f)));
        }
        tb_json_string_end(j);
        break;
    }
    }
}

void tb_json_attr_typed(struct tb_json *j, const struct tb_span_attr *attr)
{
    switch (attr->type) {
    case TB_SPAN_ATTR_STRING:
        tb_json_string(j, attr->str, attr->len);
        break;
    case TB_SPAN_ATTR_INT:
        tb_json_int(j, attr->num);
        break;
    case TB_SPAN_ATTR_FORMATS:
        tb_json_array_begin(j);
        for (unsigned f = 0; f < TB_FORMAT_NUM; f++)
            if (attr->formats & TB_FORMAT_BIT(f))
                tb_json_cstr(j, tb_span_format_name((int)f));
        tb_json_array_end(j);
        break;
    }
}
