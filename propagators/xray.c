/* SPDX-License-Identifier: MIT
 * The AWS X-Ray codec (protocols.md §6): one header, X-Amzn-Trace-Id, holding
 * ';'-separated Key=Value fields. Root, Parent and Sampled map onto the
 * context; every other field (Self, Lineage, CalledFrom, custom) is carried
 * verbatim in ctx->xray.fields and re-emitted after ours. X-Ray has no
 * baggage carrier here: ctx->baggage is ignored.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

static const enum tb_hdr_token xray_tokens[] = {TB_HDR_X_AMZN_TRACE_ID};

/* "1-" + 8 hex + "-" + 24 hex (§6). */
#define XRAY_ROOT_LEN 35
/* "Root=" ROOT ";Parent=" 16 hex ";Sampled=" 1 char. */
#define XRAY_OWN_LEN (5 + XRAY_ROOT_LEN + 8 + 16 + 9 + 1)

/* Header-value bytes that may never be forwarded: C0 controls and DEL. */
static bool xray_is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static bool xray_has_ctl(struct tb_iov s)
{
    for (size_t i = 0; i < s.len; i++)
        if (xray_is_ctl((unsigned char)s.base[i]))
            return true;
    return false;
}

static bool xray_key_is(struct tb_iov key, const char *lit, size_t lit_len)
{
    /* Keys are case-sensitive, as in the AWS SDKs and the OTel propagators;
     * unlike those we require the whole key (no prefix match). */
    return key.len == lit_len && memcmp(key.base, lit, lit_len) == 0;
}

/* Parses `v` as a Root value into `trace_id`; returns NULL or the rule broken. */
static const char *xray_parse_root(struct tb_iov v, uint8_t trace_id[16])
{
    /* §6: version "1", then the 8-hex epoch and 24 hex of randomness, which
     * together are the 128-bit trace id. Hex of any case is accepted (JS
     * does; ids are bytes once parsed and go out lower-case). */
    if (v.len >= 2 && v.base[1] == '-' && v.base[0] != '1')
        return "X-Ray Root version is not 1";
    if (v.len != XRAY_ROOT_LEN || v.base[0] != '1' || v.base[1] != '-' || v.base[10] != '-')
        return "X-Ray Root is not 1-<8 hex>-<24 hex>";
    if (!tb_lex_hex((struct tb_iov){v.base + 2, 8}, trace_id, 4, true) ||
        !tb_lex_hex((struct tb_iov){v.base + 11, 24}, trace_id + 4, 12, true))
        return "X-Ray Root is not 1-<8 hex>-<24 hex>";
    if (tb_is_zero(trace_id, 16))
        return "X-Ray Root is all zero";
    return NULL;
}

static int xray_extract(const struct tb_headers *in, struct tb_arena *arena,
                        struct tb_trace_ctx *out, const char **why)
{
    ptrdiff_t at = tb_headers_find_token(in, TB_HDR_X_AMZN_TRACE_ID, 0);
    struct tb_iov value;
    bool has_root = false, has_parent = false, has_sampled = false;
    char *fields = NULL; /* arena copy of the kept fields, joined with ';' */
    size_t fields_len = 0;
    size_t pos = 0;

    if (at < 0)
        return TB_ENOTFOUND;
    /* A repeated header: the first one is the context (protocols.md has no
     * special rule for X-Ray). */
    value = in->entries[at].value;
    out->format = TB_FORMAT_XRAY;
    out->id_width = 128;
    out->sampling = TB_SAMPLING_DEFER; /* §6: absent Sampled = not decided */

    while (pos <= value.len) {
        const char *semi = memchr(value.base + pos, ';', value.len - pos);
        size_t end = semi != NULL ? (size_t)(semi - value.base) : value.len;
        struct tb_iov part = tb_lex_trim_ows((struct tb_iov){value.base + pos, end - pos});
        const char *eq;
        struct tb_iov key, val;

        pos = end + 1;
        if (part.len == 0)
            continue; /* empty parts (";;", a trailing ';') carry nothing */
        eq = memchr(part.base, '=', part.len);
        if (eq == NULL) {
            /* Go, Java: a part without '=' makes the whole header invalid. */
            *why = "X-Ray field without '='";
            return TB_EINVAL;
        }
        key = tb_lex_trim_ows((struct tb_iov){part.base, (size_t)(eq - part.base)});
        val = tb_lex_trim_ows((struct tb_iov){eq + 1, part.len - (size_t)(eq - part.base) - 1});
        if (key.len == 0) {
            *why = "X-Ray field with an empty key";
            return TB_EINVAL;
        }
        if (xray_key_is(key, TB_STRLIT("Root"))) {
            const char *bad;

            if (has_root) {
                *why = "X-Ray Root repeated";
                return TB_EINVAL;
            }
            if ((bad = xray_parse_root(val, out->trace_id)) != NULL) {
                *why = bad;
                return TB_EINVAL;
            }
            has_root = true;
        } else if (xray_key_is(key, TB_STRLIT("Parent"))) {
            if (has_parent) {
                *why = "X-Ray Parent repeated";
                return TB_EINVAL;
            }
            if (!tb_lex_hex(val, out->span_id, sizeof(out->span_id), true)) {
                *why = "X-Ray Parent is not 16 hex";
                return TB_EINVAL;
            }
            if (tb_is_zero(out->span_id, sizeof(out->span_id))) {
                *why = "X-Ray Parent is all zero";
                return TB_EINVAL;
            }
            has_parent = true;
        } else if (xray_key_is(key, TB_STRLIT("Sampled"))) {
            if (has_sampled) {
                *why = "X-Ray Sampled repeated";
                return TB_EINVAL;
            }
            /* §6, §12.2: 1 accept, 0 deny, '?' asks downstream to decide. */
            if (val.len == 1 && val.base[0] == '1')
                out->sampling = TB_SAMPLING_ACCEPT;
            else if (val.len == 1 && val.base[0] == '0')
                out->sampling = TB_SAMPLING_DENY;
            else if (val.len == 1 && val.base[0] == '?')
                out->sampling = TB_SAMPLING_DEFER;
            else {
                *why = "X-Ray Sampled is not 1, 0 or ?";
                return TB_EINVAL;
            }
            has_sampled = true;
        } else {
            /* Self, Lineage, CalledFrom and custom fields travel on
             * untouched (§6: ALB preserves them); they must still be safe
             * to put back on the wire. */
            if (xray_has_ctl(part)) {
                *why = "X-Ray field holds a control byte";
                return TB_EINVAL;
            }
            if (fields == NULL) {
                /* The kept fields never outgrow the header value. */
                fields = tb_arena_alloc(arena, value.len);
                if (fields == NULL)
                    return TB_ENOSPC;
            }
            if (fields_len > 0)
                fields[fields_len++] = ';';
            memcpy(fields + fields_len, part.base, part.len);
            fields_len += part.len;
        }
    }

    if (!has_root) {
        *why = "X-Ray header without Root";
        return TB_EINVAL;
    }
    /* §6: Parent is optional at the edge. An ALB sends Root alone (vector
     * 39); the AWS SDKs then continue that trace with a segment that has no
     * parent. We do the same: the span id stays zero and the hop becomes the
     * root span of the trace. (The OTel Go/Java/JS propagators drop such a
     * header, losing the ALB's trace id.) */
    out->w3c_flags = tb_sampling_is_sampled(out->sampling) ? TB_W3C_FLAG_SAMPLED : 0;
    out->xray.fields = (struct tb_iov){fields, fields_len};
    out->extras |= TB_FORMAT_BIT(TB_FORMAT_XRAY);
    return TB_OK;
}

static int xray_inject(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                       struct tb_arena *arena, struct tb_headers *out, size_t *baggage_dropped)
{
    struct tb_iov fields = {NULL, 0};
    char *buf, *p;
    char flag;

    (void)baggage_dropped; /* no baggage carrier */
    /* A sampling-only context has no Root to give: X-Ray cannot say
     * "sampled" without a trace id. */
    if (tb_is_zero(ctx->trace_id, sizeof(ctx->trace_id)))
        return TB_OK;
    if ((ctx->extras & TB_FORMAT_BIT(TB_FORMAT_XRAY)) != 0 && !xray_has_ctl(ctx->xray.fields))
        fields = ctx->xray.fields;

    switch (ctx->sampling) {
    case TB_SAMPLING_ACCEPT:
    case TB_SAMPLING_DEBUG: /* §12.2: X-Ray has no debug; it records */
        flag = '1';
        break;
    case TB_SAMPLING_DENY:
        flag = '0';
        break;
    case TB_SAMPLING_DEFER:
        flag = '?';
        break;
    default:
        tb_bug("illegal sampling state");
    }

    buf = tb_arena_alloc(arena, XRAY_OWN_LEN + (fields.len > 0 ? 1 + fields.len : 0));
    if (buf == NULL)
        return TB_ENOSPC;
    p = buf;
    memcpy(p, "Root=1-", 7);
    p += 7;
    tb_hex_encode(ctx->trace_id, 4, p);
    p += 8;
    *p++ = '-';
    tb_hex_encode(ctx->trace_id + 4, 12, p);
    p += 24;
    memcpy(p, ";Parent=", 8);
    p += 8;
    tb_hex_encode(hop->span_id, sizeof(hop->span_id), p);
    p += 16;
    memcpy(p, ";Sampled=", 9);
    p += 9;
    *p++ = flag;
    /* We are not a load balancer: the fields go back as received and no
     * Self is added (§6). */
    if (fields.len > 0) {
        *p++ = ';';
        memcpy(p, fields.base, fields.len);
        p += fields.len;
    }
    return tb_ctx_emit(arena, out, TB_HDR_X_AMZN_TRACE_ID, (struct tb_iov){buf, (size_t)(p - buf)});
}

const struct tb_propagator tb_propagator_xray = {
    .name = "xray",
    .format = TB_FORMAT_XRAY,
    .tokens = xray_tokens,
    .num_tokens = TB_ARRAY_SIZE(xray_tokens),
    .baggage_prefix = NULL,
    .extract = xray_extract,
    .inject = xray_inject,
};
