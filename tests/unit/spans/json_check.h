/* SPDX-License-Identifier: MIT
 * Test helpers shared by the JSON encoder tests: a strict RFC 8259 validator
 * (grammar, valid UTF-8, no raw control characters, no duplicate keys in an
 * object), a byte comparison that shows where two outputs part, and the
 * span fixtures the encoder tests encode. Header-only; test code only.
 */
#ifndef TB_TESTS_UNIT_SPANS_JSON_CHECK_H
#define TB_TESTS_UNIT_SPANS_JSON_CHECK_H

#include <stdbool.h>
#include <string.h>

#include "tb_test.h"

#include "spans/buf.h"
#include "spans/span.h"

/* ------------------------------------------------------------------------ */
/* Validator                                                                */

struct jc {
    const unsigned char *p, *end, *start;
    const char *why;
    int depth;
};

static bool jc_value(struct jc *c);

static bool jc_fail(struct jc *c, const char *why)
{
    if (c->why == NULL)
        c->why = why;
    return false;
}

static void jc_ws(struct jc *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int jc_hex(unsigned char h)
{
    if (h >= '0' && h <= '9')
        return h - '0';
    if (h >= 'a' && h <= 'f')
        return h - 'a' + 10;
    if (h >= 'A' && h <= 'F')
        return h - 'A' + 10;
    return -1;
}

/* One UTF-8 sequence (Unicode Table 3-7) at c->p; advances past it. */
static bool jc_utf8(struct jc *c)
{
    unsigned char b = *c->p, lo = 0x80, hi = 0xbf;
    int need;

    if (b >= 0xc2 && b <= 0xdf)
        need = 1;
    else if (b >= 0xe0 && b <= 0xef)
        need = 2, lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
    else if (b >= 0xf0 && b <= 0xf4)
        need = 3, lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
    else
        return jc_fail(c, "invalid UTF-8 lead byte");
    c->p++;
    for (int i = 0; i < need; i++, c->p++) {
        if (c->p >= c->end || *c->p < lo || *c->p > hi)
            return jc_fail(c, "invalid UTF-8 continuation");
        lo = 0x80, hi = 0xbf;
    }
    return true;
}

static bool jc_string(struct jc *c)
{
    if (c->p >= c->end || *c->p != '"')
        return jc_fail(c, "expected a string");
    c->p++;
    while (c->p < c->end && *c->p != '"') {
        unsigned char b = *c->p;

        if (b < 0x20)
            return jc_fail(c, "raw control character in a string");
        if (b == '\\') {
            c->p++;
            if (c->p >= c->end)
                return jc_fail(c, "unterminated escape");
            if (*c->p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (c->p + i >= c->end || jc_hex(c->p[i]) < 0)
                        return jc_fail(c, "bad \\u escape");
                c->p += 5;
            } else if (strchr("\"\\/bfnrt", *c->p) != NULL && *c->p != '\0') {
                c->p++;
            } else {
                return jc_fail(c, "bad escape");
            }
        } else if (b >= 0x80) {
            if (!jc_utf8(c))
                return false;
        } else {
            c->p++;
        }
    }
    if (c->p >= c->end)
        return jc_fail(c, "unterminated string");
    c->p++;
    return true;
}

static bool jc_digits(struct jc *c)
{
    const unsigned char *s = c->p;

    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > s;
}

static bool jc_number(struct jc *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0') {
        c->p++;
    } else if (!jc_digits(c)) {
        return jc_fail(c, "bad number");
    }
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!jc_digits(c))
            return jc_fail(c, "bad fraction");
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (!jc_digits(c))
            return jc_fail(c, "bad exponent");
    }
    return true;
}

static bool jc_literal(struct jc *c, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return jc_fail(c, "unexpected character");
    c->p += n;
    return true;
}

#define JC_MAX_KEYS 64

static bool jc_object(struct jc *c)
{
    const unsigned char *keys[JC_MAX_KEYS];
    size_t key_lens[JC_MAX_KEYS];
    size_t num_keys = 0;

    c->p++;
    jc_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return true;
    }
    for (;;) {
        const unsigned char *k;

        jc_ws(c);
        k = c->p;
        if (!jc_string(c))
            return false;
        for (size_t i = 0; i < num_keys; i++)
            if (key_lens[i] == (size_t)(c->p - k) && memcmp(keys[i], k, key_lens[i]) == 0)
                return jc_fail(c, "duplicate key");
        if (num_keys < JC_MAX_KEYS) {
            keys[num_keys] = k;
            key_lens[num_keys++] = (size_t)(c->p - k);
        }
        jc_ws(c);
        if (c->p >= c->end || *c->p != ':')
            return jc_fail(c, "expected ':'");
        c->p++;
        if (!jc_value(c))
            return false;
        jc_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return true;
        }
        return jc_fail(c, "expected ',' or '}'");
    }
}

static bool jc_array(struct jc *c)
{
    c->p++;
    jc_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return true;
    }
    for (;;) {
        if (!jc_value(c))
            return false;
        jc_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            return true;
        }
        return jc_fail(c, "expected ',' or ']'");
    }
}

static bool jc_value(struct jc *c)
{
    bool ok;

    jc_ws(c);
    if (c->p >= c->end)
        return jc_fail(c, "expected a value");
    if (++c->depth > 64)
        return jc_fail(c, "too deep");
    switch (*c->p) {
    case '{':
        ok = jc_object(c);
        break;
    case '[':
        ok = jc_array(c);
        break;
    case '"':
        ok = jc_string(c);
        break;
    case 't':
        ok = jc_literal(c, "true");
        break;
    case 'f':
        ok = jc_literal(c, "false");
        break;
    case 'n':
        ok = jc_literal(c, "null");
        break;
    default:
        ok = jc_number(c);
        break;
    }
    c->depth--;
    return ok;
}

/**
 * True when `p[0..n)` is exactly one JSON text (RFC 8259 §2) in valid UTF-8
 * with no duplicate object keys; otherwise prints why and where.
 */
static inline bool json_check_text(const char *p, size_t n)
{
    struct jc c = {(const unsigned char *)p, (const unsigned char *)p + n, (const unsigned char *)p,
                   NULL, 0};

    if (jc_value(&c)) {
        jc_ws(&c);
        if (c.p == c.end)
            return true;
        jc_fail(&c, "trailing bytes");
    }
    print_error("invalid JSON at offset %zu: %s\n", (size_t)(c.p - c.start), c.why);
    tb_test_print_bytes("  text: ", p, n);
    return false;
}

/** Fails the test unless `buf` holds one valid JSON text. */
#define assert_json_valid(buf)                                                                     \
    do {                                                                                           \
        if (!json_check_text((buf)->data, (buf)->len))                                             \
            _fail(__FILE__, __LINE__);                                                             \
    } while (0)

/** Fails the test unless `buf` holds lines that each are one valid JSON text. */
#define assert_json_lines_valid(buf, expect_lines)                                                 \
    do {                                                                                           \
        size_t jl_start = 0, jl_lines = 0;                                                         \
        for (size_t jl_i = 0; jl_i < (buf)->len; jl_i++) {                                         \
            if ((buf)->data[jl_i] != '\n')                                                         \
                continue;                                                                          \
            if (!json_check_text((buf)->data + jl_start, jl_i - jl_start))                         \
                _fail(__FILE__, __LINE__);                                                         \
            jl_lines++;                                                                            \
            jl_start = jl_i + 1;                                                                   \
        }                                                                                          \
        assert_int_equal(jl_start, (buf)->len); /* the last line ends in '\n' */                   \
        assert_int_equal(jl_lines, (expect_lines));                                                \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Comparisons                                                              */

/** True when `buf` holds exactly the C string `s`; else prints where they part. */
static inline bool json_buf_matches(const struct tb_buf *buf, const char *s)
{
    size_t n = strlen(s), i = 0;

    if (buf->len == n && (n == 0 || memcmp(buf->data, s, n) == 0))
        return true;
    while (i < n && i < buf->len && buf->data[i] == s[i])
        i++;
    print_error("output differs at byte %zu (%zu bytes, expected %zu)\n", i, buf->len, n);
    i = i > 60 ? i - 60 : 0;
    tb_test_print_bytes("  actual:   ...", buf->data + i, buf->len - i < 400 ? buf->len - i : 400);
    tb_test_print_bytes("  expected: ...", s + i, n - i < 400 ? n - i : 400);
    return false;
}

#define assert_buf_equal(buf, s)                                                                   \
    do {                                                                                           \
        if (!json_buf_matches((buf), (s)))                                                         \
            _fail(__FILE__, __LINE__);                                                             \
    } while (0)

/** How many times the C string `s` occurs in `buf` (overlaps counted). */
static inline size_t json_buf_count(const struct tb_buf *buf, const char *s)
{
    size_t n = strlen(s), count = 0;

    for (size_t i = 0; i + n <= buf->len; i++)
        if (memcmp(buf->data + i, s, n) == 0)
            count++;
    return count;
}

/** True when `buf` contains the C string `s`. */
static inline bool json_buf_contains(const struct tb_buf *buf, const char *s)
{
    return json_buf_count(buf, s) > 0;
}

#define assert_buf_contains(buf, s)                                                                \
    do {                                                                                           \
        if (!json_buf_contains((buf), (s))) {                                                      \
            print_error("output lacks \"%s\"\n", (s));                                             \
            tb_test_print_bytes("  output: ", (buf)->data, (buf)->len);                            \
            _fail(__FILE__, __LINE__);                                                             \
        }                                                                                          \
    } while (0)

#define assert_buf_lacks(buf, s)                                                                   \
    do {                                                                                           \
        if (json_buf_contains((buf), (s))) {                                                       \
            print_error("output has \"%s\"\n", (s));                                               \
            _fail(__FILE__, __LINE__);                                                             \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */

#define FIX_SET(field, s)                                                                          \
    do {                                                                                           \
        memcpy((field), (s), strlen(s));                                                           \
        field##_len = (uint16_t)strlen(s);                                                         \
    } while (0)

static inline void fix_hex(uint8_t *out, const char *hex)
{
    for (size_t i = 0; hex[2 * i] != '\0'; i++)
        out[i] = (uint8_t)(jc_hex((unsigned char)hex[2 * i]) << 4 |
                           jc_hex((unsigned char)hex[2 * i + 1]));
}

/*
 * The reference span: an inbound (SERVER) child span of a B3 parent, 50 ms
 * long, with every attribute known, sampled, no error, no links; its sw8
 * facts have no ref.
 */
static inline void fix_span(struct tb_span *s)
{
    memset(s, 0, sizeof(*s));
    fix_hex(s->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    fix_hex(s->span_id, "00f067aa0ba902b7");
    fix_hex(s->parent_span_id, "53ce929d0e0e4736");
    s->w3c_flags = 0x01;
    s->sampled = true;
    s->kind = TB_SPAN_KIND_SERVER;
    s->start_ns = 1700000000123456789ull;
    s->end_ns = 1700000000173456789ull;
    FIX_SET(s->name, "GET");
    FIX_SET(s->method, "GET");
    FIX_SET(s->path, "/api/items");
    FIX_SET(s->server_address, "shop.example");
    s->server_port = 8080;
    FIX_SET(s->client_address, "10.0.0.5");
    s->client_port = 51000;
    FIX_SET(s->peer_address, "10.0.0.7");
    s->peer_port = 9000;
    FIX_SET(s->user_agent, "curl/8.0");
    s->http_version_major = 1;
    s->http_version_minor = 1;
    s->status_code = 200;
    s->request_body_size = 12;
    s->response_body_size = 345;
    s->extracted_format = TB_FORMAT_B3;
    s->injected_formats = TB_FORMAT_BIT(TB_FORMAT_TRACECONTEXT) | TB_FORMAT_BIT(TB_FORMAT_B3);
    FIX_SET(s->sw8.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    memcpy(s->sw8.segment_id, "01f067aa0ba902b70000000000000000", 33);
}

/* The reference span as a root (no parent) outbound (CLIENT) span that
 * failed: the proxy answered 502 with error.type "connect_refused". */
static inline void fix_span_root_error(struct tb_span *s)
{
    fix_span(s);
    memset(s->parent_span_id, 0, sizeof(s->parent_span_id));
    s->kind = TB_SPAN_KIND_CLIENT;
    s->status_code = 502;
    s->is_error = true;
    s->proxy_error = true;
    FIX_SET(s->error_type, "connect_refused");
    s->extracted_format = -1;
    s->injected_formats = TB_FORMAT_BIT(TB_FORMAT_TRACECONTEXT);
    s->peer_address_len = 0;
    s->peer_port = 0;
}

/* Adds a link to the context a format carried that lost to the parent. */
static inline void fix_add_link(struct tb_span *s, const char *trace_hex, const char *span_hex,
                                enum tb_format f)
{
    struct tb_span_link *l = &s->links[s->num_links++];

    fix_hex(l->trace_id, trace_hex);
    fix_hex(l->span_id, span_hex);
    l->format = f;
}

static const struct tb_resource_attr fix_res_attrs[] = {
    {"service.name", "shop-proxy"},
    {"service.instance.id", "node-1"},
    {"deployment.environment", "prod"},
};

static const struct tb_resource fix_res = {
    fix_res_attrs,
    3,
    "shop-proxy",
    "node-1",
};

#endif
