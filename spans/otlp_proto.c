/* SPDX-License-Identifier: MIT
 * OTLP/HTTP protobuf encoder: one ExportTraceServiceRequest holding one
 * ResourceSpans (the process resource) with one ScopeSpans (scope
 * "tracebridge", TB_VERSION) and every span of the batch
 * (opentelemetry-proto: collector/trace/v1/trace_service.proto,
 * trace/v1/trace.proto, common/v1/common.proto).
 *
 * A hand-written writer, not generated code: each span reserves its worst-case
 * size once and is then written through a raw pointer with no bounds checks
 * and no allocation per field. Lengths of leaf messages (KeyValue, AnyValue,
 * Link) are computed before they are written; a span's own length goes into
 * a 2-byte gap that is fixed up (shrunk to 1 byte by a short memmove only for
 * tiny spans); the two outer lengths get gaps sized from an estimate and are
 * patched at the end, with one memmove only when the estimate was wrong.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/tb.h"
#include "propagators/propagator.h"
#include "spans/encode.h"
#include "spans/utf8.h"

/* --- wire format ---------------------------------------------------------- */

/* Tags are (field number << 3) | wire type; every field used here is below
 * 16, so a tag is one byte, except Span.flags (16) which takes two. */
#define PB_VARINT 0
#define PB_I64 1
#define PB_LEN 2
#define PB_I32 5
#define PB_TAG(field, type) ((uint8_t)((field) << 3 | (type)))

/* ExportTraceServiceRequest / ResourceSpans / ScopeSpans */
#define TAG_REQUEST_RESOURCE_SPANS PB_TAG(1, PB_LEN)
#define TAG_RS_RESOURCE PB_TAG(1, PB_LEN)
#define TAG_RS_SCOPE_SPANS PB_TAG(2, PB_LEN)
#define TAG_RESOURCE_ATTRIBUTES PB_TAG(1, PB_LEN)
#define TAG_SS_SCOPE PB_TAG(1, PB_LEN)
#define TAG_SS_SPANS PB_TAG(2, PB_LEN)
#define TAG_SCOPE_NAME PB_TAG(1, PB_LEN)
#define TAG_SCOPE_VERSION PB_TAG(2, PB_LEN)
/* Span */
#define TAG_SPAN_TRACE_ID PB_TAG(1, PB_LEN)
#define TAG_SPAN_SPAN_ID PB_TAG(2, PB_LEN)
#define TAG_SPAN_TRACE_STATE PB_TAG(3, PB_LEN)
#define TAG_SPAN_PARENT_SPAN_ID PB_TAG(4, PB_LEN)
#define TAG_SPAN_NAME PB_TAG(5, PB_LEN)
#define TAG_SPAN_KIND PB_TAG(6, PB_VARINT)
#define TAG_SPAN_START PB_TAG(7, PB_I64)
#define TAG_SPAN_END PB_TAG(8, PB_I64)
#define TAG_SPAN_ATTRIBUTES PB_TAG(9, PB_LEN)
#define TAG_SPAN_LINKS PB_TAG(13, PB_LEN)
#define TAG_SPAN_STATUS PB_TAG(15, PB_LEN)
#define TAG_SPAN_FLAGS_0 0x85 /* field 16, fixed32: varint 133 */
#define TAG_SPAN_FLAGS_1 0x01
/* Span.Link, Status */
#define TAG_LINK_TRACE_ID PB_TAG(1, PB_LEN)
#define TAG_LINK_SPAN_ID PB_TAG(2, PB_LEN)
#define TAG_LINK_ATTRIBUTES PB_TAG(4, PB_LEN)
#define TAG_STATUS_CODE PB_TAG(3, PB_VARINT)
/* KeyValue, AnyValue, ArrayValue */
#define TAG_KV_KEY PB_TAG(1, PB_LEN)
#define TAG_KV_VALUE PB_TAG(2, PB_LEN)
#define TAG_ANY_STRING PB_TAG(1, PB_LEN)
#define TAG_ANY_INT PB_TAG(3, PB_VARINT)
#define TAG_ANY_ARRAY PB_TAG(5, PB_LEN)
#define TAG_ARRAY_VALUES PB_TAG(1, PB_LEN)

#define STATUS_CODE_ERROR 2
/* trace.proto SpanFlags: bits 0-7 are the W3C trace flags; bit 8 says the
 * parent's remoteness is known, bit 9 that the parent is remote. */
#define SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE 0x100u
#define SPAN_FLAGS_CONTEXT_IS_REMOTE 0x200u

#define SCOPE_NAME "tracebridge"

/* Worst case of one encoded span: every string can triple when each of its
 * bytes is an ill-formed sequence replaced by U+FFFD (3 bytes); everything
 * else (ids, times, keys, format names, links, tags and lengths) fits in the
 * fixed allowance. Below 16384, so a span's length is at most a 2-byte varint. */
#define SPAN_FIELD_SIZE(f) sizeof(((struct tb_span *)0)->f)
#define SPAN_STRING_BYTES                                                                          \
    (SPAN_FIELD_SIZE(name) + SPAN_FIELD_SIZE(tracestate) + SPAN_FIELD_SIZE(method) +               \
     SPAN_FIELD_SIZE(path) + SPAN_FIELD_SIZE(server_address) + SPAN_FIELD_SIZE(client_address) +   \
     SPAN_FIELD_SIZE(peer_address) + SPAN_FIELD_SIZE(user_agent) + SPAN_FIELD_SIZE(error_type))
#define SPAN_MAX_BYTES (3 * SPAN_STRING_BYTES + 4096)
_Static_assert(SPAN_MAX_BYTES < 16384, "a span's length must fit a 2-byte varint");

/* What a typical proxied-request span encodes to, to guess how many bytes the
 * batch-wide lengths take before the spans are written. */
#define SPAN_TYPICAL_BYTES 600

static inline size_t pb_varint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/** Bytes of a length-delimited field with a one-byte tag and an `n`-byte body. */
static inline size_t pb_field_size(size_t n)
{
    return 1 + pb_varint_size(n) + n;
}

static inline uint8_t *pb_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Fixed-width fields are little-endian on the wire whatever the host. */
static inline uint8_t *pb_fixed64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

static inline uint8_t *pb_fixed32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

/** Writes a tag and the length `n` of the body that follows. */
static inline uint8_t *pb_len(uint8_t *p, uint8_t tag, size_t n)
{
    *p++ = tag;
    return pb_varint(p, n);
}

static inline uint8_t *pb_bytes(uint8_t *p, uint8_t tag, const void *b, size_t n)
{
    p = pb_len(p, tag, n);
    memcpy(p, b, n);
    return p + n;
}

/*
 * Rewrites the length of the message whose body runs from `gap_off` +
 * `gap_width` to the end of `buf`: `gap_width` bytes were left for it. When
 * the real length needs another width, the body moves once.
 */
static void pb_patch_len(struct tb_buf *buf, size_t gap_off, size_t gap_width)
{
    size_t body_off = gap_off + gap_width, body_len = buf->len - body_off;
    size_t width = pb_varint_size(body_len);

    if (width != gap_width) {
        if (width > gap_width)
            tb_buf_reserve(buf, width - gap_width);
        memmove(buf->data + gap_off + width, buf->data + body_off, body_len);
        buf->len = gap_off + width + body_len;
    }
    pb_varint((uint8_t *)buf->data + gap_off, body_len);
}

/* --- strings ---------------------------------------------------------------- */

/* A string field's source bytes and what it encodes to: protobuf `string`
 * must be UTF-8, so ill-formed input is repaired (spans/utf8.h). */
struct pb_str {
    const char *s;
    size_t len;
    size_t valid;   /* well-formed prefix; == len in the common case */
    size_t out_len; /* bytes on the wire */
};

static inline struct pb_str pb_str_of(const char *s, size_t len)
{
    struct pb_str str = {s, len, tb_utf8_valid_prefix(s, len), len};

    if (str.valid != len)
        str.out_len = str.valid + tb_utf8_sanitized_len(s + str.valid, len - str.valid);
    return str;
}

/* A string known to be UTF-8 (our literals, format names): no scan. */
static inline struct pb_str pb_str_lit(const char *s, size_t len)
{
    return (struct pb_str){s, len, len, len};
}

/* Copies the repaired bytes of an ill-formed string (the rare path). */
static uint8_t *pb_str_repair(uint8_t *p, const char *s, size_t len, size_t valid)
{
    for (;;) {
        memcpy(p, s, valid);
        p += valid;
        if (valid == len)
            return p;
        memcpy(p, TB_UTF8_REPLACEMENT, TB_UTF8_REPLACEMENT_LEN);
        p += TB_UTF8_REPLACEMENT_LEN;
        valid += tb_utf8_invalid_len(s + valid, len - valid);
        s += valid;
        len -= valid;
        valid = tb_utf8_valid_prefix(s, len);
    }
}

static inline uint8_t *pb_string(uint8_t *p, uint8_t tag, const struct pb_str *str)
{
    p = pb_len(p, tag, str->out_len);
    if (str->valid == str->len) {
        memcpy(p, str->s, str->len);
        return p + str->len;
    }
    return pb_str_repair(p, str->s, str->len, str->valid);
}

/* --- attributes ------------------------------------------------------------- */

/* Body size of KeyValue{key, value: AnyValue{<any_body>}}. */
static inline size_t kv_size(size_t key_len, size_t any_body)
{
    return pb_field_size(key_len) + pb_field_size(any_body);
}

/* Writes `tag`, the KeyValue length and its key; the AnyValue comes next. */
static inline uint8_t *kv_begin(uint8_t *p, uint8_t tag, const struct pb_str *key, size_t any_body)
{
    p = pb_len(p, tag, kv_size(key->out_len, any_body));
    p = pb_string(p, TAG_KV_KEY, key);
    return pb_len(p, TAG_KV_VALUE, any_body);
}

static inline uint8_t *kv_string(uint8_t *p, uint8_t tag, const struct pb_str *key,
                                 const struct pb_str *value)
{
    p = kv_begin(p, tag, key, pb_field_size(value->out_len));
    return pb_string(p, TAG_ANY_STRING, value);
}

static inline uint8_t *kv_int(uint8_t *p, uint8_t tag, const struct pb_str *key, int64_t value)
{
    p = kv_begin(p, tag, key, 1 + pb_varint_size((uint64_t)value));
    *p++ = TAG_ANY_INT;
    return pb_varint(p, (uint64_t)value);
}

/* Span attributes under literal keys. ATTR_STR(p, key, s, len) takes a record
 * string (its last two arguments may come from SPAN_STR); ATTR_LIT a tb_iov
 * known to be UTF-8. */
#define ATTR_STR(p, key, ...)                                                                      \
    do {                                                                                           \
        struct pb_str k_ = pb_str_lit(TB_STRLIT(key)), v_ = pb_str_of(__VA_ARGS__);                \
        (p) = kv_string((p), TAG_SPAN_ATTRIBUTES, &k_, &v_);                                       \
    } while (0)
#define ATTR_LIT(p, key, iov)                                                                      \
    do {                                                                                           \
        struct pb_str k_ = pb_str_lit(TB_STRLIT(key)), v_ = pb_str_lit((iov).base, (iov).len);     \
        (p) = kv_string((p), TAG_SPAN_ATTRIBUTES, &k_, &v_);                                       \
    } while (0)
#define ATTR_INT(p, key, v)                                                                        \
    do {                                                                                           \
        struct pb_str k_ = pb_str_lit(TB_STRLIT(key));                                             \
        (p) = kv_int((p), TAG_SPAN_ATTRIBUTES, &k_, (int64_t)(v));                                 \
    } while (0)

/* tracebridge.injected_formats: an ArrayValue of format names, registry order. */
static uint8_t *attr_formats(uint8_t *p, uint32_t bits, const struct tb_iov *names)
{
    static const struct pb_str key = {TB_STRLIT("tracebridge.injected_formats"),
                                      sizeof("tracebridge.injected_formats") - 1,
                                      sizeof("tracebridge.injected_formats") - 1};
    size_t array_body = 0;

    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        if (bits & TB_FORMAT_BIT(f))
            array_body += pb_field_size(pb_field_size(names[f].len));
    }
    p = kv_begin(p, TAG_SPAN_ATTRIBUTES, &key, pb_field_size(array_body));
    p = pb_len(p, TAG_ANY_ARRAY, array_body);
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        if (bits & TB_FORMAT_BIT(f)) {
            p = pb_len(p, TAG_ARRAY_VALUES, pb_field_size(names[f].len));
            p = pb_bytes(p, TAG_ANY_STRING, names[f].base, names[f].len);
        }
    }
    return p;
}

/* "major.minor" of network.protocol.version; returns its length (<= 7). */
static size_t fmt_http_version(char *out, unsigned major, unsigned minor)
{
    size_t n = 0;
    unsigned parts[2] = {major, minor};

    for (int i = 0; i < 2; i++) {
        char digits[3];
        size_t d = 0;

        do {
            digits[d++] = (char)('0' + parts[i] % 10);
            parts[i] /= 10;
        } while (parts[i] != 0);
        while (d > 0)
            out[n++] = digits[--d];
        if (i == 0)
            out[n++] = '.';
    }
    return n;
}

/* --- spans ------------------------------------------------------------------ */

/* A record string field, its length clamped to the field so that a corrupt
 * record cannot make the encoder read past it (or past SPAN_MAX_BYTES). */
#define SPAN_STR(s, f) (s)->f, ((s)->f##_len < sizeof((s)->f) ? (s)->f##_len : sizeof((s)->f))

static bool is_zero_id(const uint8_t id[8])
{
    uint64_t v;

    memcpy(&v, id, sizeof(v));
    return v == 0;
}

static uint8_t *span_link(uint8_t *p, const struct tb_span_link *link, const struct tb_iov *names,
                          struct tb_iov none)
{
    static const struct pb_str key = {TB_STRLIT("tracebridge.link.format"),
                                      sizeof("tracebridge.link.format") - 1,
                                      sizeof("tracebridge.link.format") - 1};
    struct tb_iov fmt = (unsigned)link->format < TB_FORMAT_NUM ? names[link->format] : none;
    struct pb_str value = pb_str_lit(fmt.base, fmt.len);
    size_t kv = kv_size(key.out_len, pb_field_size(value.out_len));

    p = pb_len(p, TAG_SPAN_LINKS,
               pb_field_size(sizeof(link->trace_id)) + pb_field_size(sizeof(link->span_id)) +
                   pb_field_size(kv));
    p = pb_bytes(p, TAG_LINK_TRACE_ID, link->trace_id, sizeof(link->trace_id));
    p = pb_bytes(p, TAG_LINK_SPAN_ID, link->span_id, sizeof(link->span_id));
    return kv_string(p, TAG_LINK_ATTRIBUTES, &key, &value);
}

/* Appends ScopeSpans.spans entry for `s` to `out`. */
static void span_encode(struct tb_buf *out, const struct tb_span *s, const struct tb_iov *names)
{
    static const struct tb_iov none = {TB_STRLIT("none")};
    uint8_t *start = (uint8_t *)tb_buf_reserve(out, SPAN_MAX_BYTES), *p = start, *gap;
    bool has_parent = !is_zero_id(s->parent_span_id);
    uint32_t flags;
    size_t body_len;

    *p++ = TAG_SS_SPANS;
    gap = p;
    p += 2;

    p = pb_bytes(p, TAG_SPAN_TRACE_ID, s->trace_id, sizeof(s->trace_id));
    p = pb_bytes(p, TAG_SPAN_SPAN_ID, s->span_id, sizeof(s->span_id));
    if (s->tracestate_len > 0) {
        struct pb_str ts = pb_str_of(SPAN_STR(s, tracestate));

        p = pb_string(p, TAG_SPAN_TRACE_STATE, &ts);
    }
    /* trace.proto: "If this is a root span, then this field must be empty." */
    if (has_parent)
        p = pb_bytes(p, TAG_SPAN_PARENT_SPAN_ID, s->parent_span_id, sizeof(s->parent_span_id));
    if (s->name_len > 0) {
        struct pb_str name = pb_str_of(SPAN_STR(s, name));

        p = pb_string(p, TAG_SPAN_NAME, &name);
    }
    *p++ = TAG_SPAN_KIND;
    p = pb_varint(p, (uint64_t)s->kind);
    *p++ = TAG_SPAN_START;
    p = pb_fixed64(p, s->start_ns);
    *p++ = TAG_SPAN_END;
    p = pb_fixed64(p, s->end_ns);

    /* Attributes: OpenTelemetry HTTP semantic conventions (stable names). */
    ATTR_STR(p, "http.request.method", SPAN_STR(s, method));
    ATTR_STR(p, "url.path", SPAN_STR(s, path));
    ATTR_LIT(p, "url.scheme", TB_IOV_LIT("http"));
    if (s->server_address_len > 0)
        ATTR_STR(p, "server.address", SPAN_STR(s, server_address));
    if (s->server_port != 0)
        ATTR_INT(p, "server.port", s->server_port);
    /* A reduced span (degradation level 2) gets the essential attributes
     * only: the same set as tb_span_attrs_fill's, and no links. */
    if (!s->reduced) {
        if (s->client_address_len > 0)
            ATTR_STR(p, "client.address", SPAN_STR(s, client_address));
        if (s->client_port != 0)
            ATTR_INT(p, "client.port", s->client_port);
        if (s->peer_address_len > 0)
            ATTR_STR(p, "network.peer.address", SPAN_STR(s, peer_address));
        if (s->peer_port != 0)
            ATTR_INT(p, "network.peer.port", s->peer_port);
    }
    if (s->status_code != 0)
        ATTR_INT(p, "http.response.status_code", s->status_code);
    if (!s->reduced) {
        if (s->user_agent_len > 0)
            ATTR_STR(p, "user_agent.original", SPAN_STR(s, user_agent));
        if (s->http_version_major != 0 || s->http_version_minor != 0) {
            char version[8];
            struct tb_iov v = {
                version, fmt_http_version(version, s->http_version_major, s->http_version_minor)};

            ATTR_LIT(p, "network.protocol.version", v);
        }
        /* int64 on the wire; a body can't reach 2^63 bytes. */
        ATTR_INT(p, "http.request.body.size", s->request_body_size);
        ATTR_INT(p, "http.response.body.size", s->response_body_size);
        ATTR_LIT(p, "tracebridge.extracted_format",
                 s->extracted_format >= 0 && s->extracted_format < TB_FORMAT_NUM
                     ? names[s->extracted_format]
                     : none);
        p = attr_formats(p, s->injected_formats, names);
    }
    if (s->is_error && s->error_type_len > 0)
        ATTR_STR(p, "error.type", SPAN_STR(s, error_type));

    for (unsigned i = 0; !s->reduced && i < s->num_links && i < TB_SPAN_MAX_LINKS; i++)
        p = span_link(p, &s->links[i], names, none);

    /* Status: ERROR with an empty message, or UNSET, proto3's default (omitted). */
    if (s->is_error) {
        p = pb_len(p, TAG_SPAN_STATUS, 2);
        *p++ = TAG_STATUS_CODE;
        *p++ = STATUS_CODE_ERROR;
    }

    flags = s->w3c_flags | SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE;
    if (has_parent) /* the parent came in a request header: it is remote */
        flags |= SPAN_FLAGS_CONTEXT_IS_REMOTE;
    *p++ = TAG_SPAN_FLAGS_0;
    *p++ = TAG_SPAN_FLAGS_1;
    p = pb_fixed32(p, flags);

    body_len = (size_t)(p - gap - 2);
    TB_ASSERT(body_len < SPAN_MAX_BYTES);
    if (body_len < 0x80) {
        memmove(gap + 1, gap + 2, body_len);
        gap[0] = (uint8_t)body_len;
        p--;
    } else {
        gap[0] = (uint8_t)(body_len | 0x80);
        gap[1] = (uint8_t)(body_len >> 7);
    }
    out->len += (size_t)(p - start);
}

/* --- the request ------------------------------------------------------------ */

static size_t resource_body_size(const struct tb_resource *res)
{
    size_t n = 0;

    for (size_t i = 0; i < res->num_attrs; i++) {
        const char *k = res->attrs[i].key, *v = res->attrs[i].value;
        size_t k_len = tb_utf8_sanitized_len(k, strlen(k));
        size_t v_len = tb_utf8_sanitized_len(v, strlen(v));

        n += pb_field_size(kv_size(k_len, pb_field_size(v_len)));
    }
    return n;
}

int tb_encode_otlp_proto(const struct tb_resource *res, const struct tb_span *const *spans,
                         size_t num, struct tb_buf *out)
{
    static const struct tb_resource no_resource = {NULL, 0, NULL, NULL};
    struct tb_iov names[TB_FORMAT_NUM];
    size_t res_body, scope_body, est_scope_spans, est_resource_spans, rs_gap, ss_gap, rs_off,
        ss_off;
    uint8_t *p;

    if (res == NULL)
        res = &no_resource;
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        names[f].base = tb_propagator_get((enum tb_format)f)->name;
        names[f].len = strlen(names[f].base);
    }

    res_body = resource_body_size(res);
    scope_body = pb_field_size(sizeof(SCOPE_NAME) - 1) + pb_field_size(sizeof(TB_VERSION) - 1);
    est_scope_spans = pb_field_size(scope_body) + num * SPAN_TYPICAL_BYTES;
    est_resource_spans = pb_field_size(res_body) + pb_field_size(est_scope_spans);
    rs_gap = pb_varint_size(est_resource_spans);
    ss_gap = pb_varint_size(est_scope_spans);

    /* Everything before the first span: the resource is bounded by its
     * attributes' repaired sizes, computed above. */
    p = (uint8_t *)tb_buf_reserve(out, 1 + rs_gap + pb_field_size(res_body) + 1 + ss_gap +
                                           pb_field_size(scope_body));
    *p++ = TAG_REQUEST_RESOURCE_SPANS;
    rs_off = out->len + 1;
    p += rs_gap;
    p = pb_len(p, TAG_RS_RESOURCE, res_body);
    for (size_t i = 0; i < res->num_attrs; i++) {
        const char *k = res->attrs[i].key, *v = res->attrs[i].value;
        struct pb_str key = pb_str_of(k, strlen(k)), value = pb_str_of(v, strlen(v));

        p = kv_string(p, TAG_RESOURCE_ATTRIBUTES, &key, &value);
    }
    *p++ = TAG_RS_SCOPE_SPANS;
    ss_off = (size_t)(p - (uint8_t *)out->data);
    p += ss_gap;
    p = pb_len(p, TAG_SS_SCOPE, scope_body);
    p = pb_bytes(p, TAG_SCOPE_NAME, TB_STRLIT(SCOPE_NAME));
    p = pb_bytes(p, TAG_SCOPE_VERSION, TB_STRLIT(TB_VERSION));
    out->len = (size_t)(p - (uint8_t *)out->data);

    for (size_t i = 0; i < num; i++)
        span_encode(out, spans[i], names);

    /* Inner first: the ResourceSpans body ends where ScopeSpans ends. */
    pb_patch_len(out, ss_off, ss_gap);
    pb_patch_len(out, rs_off, rs_gap);
    return TB_OK;
}
