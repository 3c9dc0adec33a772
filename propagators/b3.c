/* SPDX-License-Identifier: MIT
 * Zipkin B3 propagation (protocols.md §3) as two codecs that share their
 * parsing: `b3` reads the single `b3` header and falls back to the X-B3-*
 * headers when it is absent or invalid (§3.3), and writes the single header;
 * `b3multi` reads and writes only the X-B3-* headers. B3 has no baggage.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

/* Longest `b3` value we write: 32 hex, '-', 16 hex, '-', state. */
#define B3_SINGLE_MAX (32 + 1 + 16 + 2)

/* ------------------------------------------------------------------------ */
/* parsing shared by both codecs                                            */

/* The first value of `token` (§3.1: "first value wins" when a header repeats). */
static bool first_value(const struct tb_headers *in, enum tb_hdr_token token, struct tb_iov *value)
{
    ptrdiff_t at = tb_headers_find_token(in, token, 0);

    if (at < 0)
        return false;
    *value = in->entries[at].value;
    return true;
}

/* A B3 trace id: exactly 16 or 32 lower-case hex digits (§3.1, §3.2; Go and
 * Java reject upper case), not all zero (§12.1). A 16-digit id fills the low
 * half and makes the width 64. */
static bool parse_trace_id(struct tb_iov s, struct tb_trace_ctx *out)
{
    memset(out->trace_id, 0, sizeof(out->trace_id));
    if (s.len == 32) {
        if (!tb_lex_hex(s, out->trace_id, 16, false))
            return false;
        out->id_width = 128;
    } else if (s.len == 16) {
        if (!tb_lex_hex(s, out->trace_id + 8, 8, false))
            return false;
        out->id_width = 64;
    } else {
        return false;
    }
    return !tb_is_zero(out->trace_id, sizeof(out->trace_id));
}

/* A span id: exactly 16 lower-case hex digits, not all zero. */
static bool parse_span_id(struct tb_iov s, uint8_t out[8])
{
    return tb_lex_hex(s, out, 8, false) && !tb_is_zero(out, 8);
}

/* ParentSpanId: junk makes the whole header malformed (§3.1, as Go does),
 * but an all-zero parent names no span, so it is accepted and not kept. */
static bool parse_parent(struct tb_iov s, struct tb_b3_extras *b3)
{
    uint8_t id[8];

    if (!tb_lex_hex(s, id, sizeof(id), false))
        return false;
    if (!tb_is_zero(id, sizeof(id))) {
        memcpy(b3->parent_span_id, id, sizeof(id));
        b3->has_parent_span_id = true;
    }
    return true;
}

static void set_sampling(struct tb_trace_ctx *out, enum tb_sampling sampling)
{
    out->sampling = sampling;
    out->w3c_flags = tb_sampling_is_sampled(sampling) ? TB_W3C_FLAG_SAMPLED : 0;
}

/* The SamplingState of the single header (§3.2): `1`, `0` or `d` only. */
static bool parse_state(char c, enum tb_sampling *sampling)
{
    switch (c) {
    case '1':
        *sampling = TB_SAMPLING_ACCEPT;
        return true;
    case '0':
        *sampling = TB_SAMPLING_DENY;
        return true;
    case 'd':
        *sampling = TB_SAMPLING_DEBUG;
        return true;
    default:
        return false;
    }
}

/* Parses a `b3` value (§3.2):
 *   {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]  or  {SamplingState}
 * into `out` (already initialised). A state-only value leaves the ids zero. */
static int parse_single(struct tb_iov v, struct tb_trace_ctx *out, const char **why)
{
    enum tb_sampling sampling = TB_SAMPLING_DEFER;
    const char *dash;
    struct tb_iov rest;

    if (v.len == 1) {
        if (!parse_state(v.base[0], &sampling)) {
            *why = "b3: sampling state is not 1, 0 or d";
            return TB_EINVAL;
        }
        set_sampling(out, sampling);
        return TB_OK;
    }
    dash = v.len > 0 ? memchr(v.base, '-', v.len) : NULL;
    if (dash == NULL) {
        *why = "b3: not {TraceId}-{SpanId} nor a sampling state";
        return TB_EINVAL;
    }
    if (!parse_trace_id((struct tb_iov){v.base, (size_t)(dash - v.base)}, out)) {
        *why = "b3: trace id is not 16 or 32 lower-case hex digits, or is zero";
        return TB_EINVAL;
    }
    rest = (struct tb_iov){dash + 1, v.len - (size_t)(dash - v.base) - 1};
    if (rest.len < 16 || !parse_span_id((struct tb_iov){rest.base, 16}, out->span_id) ||
        (rest.len > 16 && rest.base[16] != '-')) {
        *why = "b3: span id is not 16 lower-case hex digits, or is zero";
        return TB_EINVAL;
    }
    rest.base += 16;
    rest.len -= 16;
    if (rest.len > 0) {
        /* "-{state}" exactly one character, then optionally "-{parent}";
         * a trailing '-' or a parent without a state is invalid (§3.2). */
        if (rest.len < 2 || !parse_state(rest.base[1], &sampling) ||
            (rest.len > 2 && rest.base[2] != '-')) {
            *why = "b3: sampling state is not 1, 0 or d";
            return TB_EINVAL;
        }
        if (rest.len > 2 && !parse_parent((struct tb_iov){rest.base + 3, rest.len - 3}, &out->b3)) {
            *why = "b3: parent span id is not 16 lower-case hex digits";
            return TB_EINVAL;
        }
    }
    set_sampling(out, sampling);
    return TB_OK;
}

/* Parses the X-B3-* headers (§3.1) into `out` (already initialised).
 * TB_ENOTFOUND when none is present. Without TraceId and SpanId the result
 * is sampling-only (a lone `X-B3-Sampled: 0` carries a deny). */
static int parse_multi(const struct tb_headers *in, struct tb_trace_ctx *out, const char **why)
{
    struct tb_iov trace, span, parent, sampled, flags;
    bool has_trace = first_value(in, TB_HDR_X_B3_TRACEID, &trace);
    bool has_span = first_value(in, TB_HDR_X_B3_SPANID, &span);
    bool has_parent = first_value(in, TB_HDR_X_B3_PARENTSPANID, &parent);
    bool has_sampled = first_value(in, TB_HDR_X_B3_SAMPLED, &sampled);
    bool has_flags = first_value(in, TB_HDR_X_B3_FLAGS, &flags);
    enum tb_sampling sampling = TB_SAMPLING_DEFER;

    if (!has_trace && !has_span && !has_parent && !has_sampled && !has_flags)
        return TB_ENOTFOUND;
    if (has_sampled) {
        /* `1` / `0`, and the lenient `true` / `false` older clients send
         * (any case, as Java's Boolean.parseBoolean reads them). */
        if (tb_iov_caseeq(sampled, TB_STRLIT("1")) || tb_iov_caseeq(sampled, TB_STRLIT("true")))
            sampling = TB_SAMPLING_ACCEPT;
        else if (tb_iov_caseeq(sampled, TB_STRLIT("0")) ||
                 tb_iov_caseeq(sampled, TB_STRLIT("false")))
            sampling = TB_SAMPLING_DENY;
        else {
            *why = "X-B3-Sampled: not 1, 0, true or false";
            return TB_EINVAL;
        }
    }
    /* Flags 1 means debug and overrides Sampled (§3.3); any other value is
     * ignored (§3.1). */
    if (has_flags && flags.len == 1 && flags.base[0] == '1')
        sampling = TB_SAMPLING_DEBUG;
    if (has_trace != has_span) {
        *why = "X-B3-TraceId and X-B3-SpanId must come together";
        return TB_EINVAL;
    }
    if (has_trace) {
        if (!parse_trace_id(trace, out)) {
            *why = "X-B3-TraceId: not 16 or 32 lower-case hex digits, or zero";
            return TB_EINVAL;
        }
        if (!parse_span_id(span, out->span_id)) {
            *why = "X-B3-SpanId: not 16 lower-case hex digits, or zero";
            return TB_EINVAL;
        }
    }
    if (has_parent) {
        if (!has_trace) {
            *why = "X-B3-ParentSpanId without X-B3-TraceId and X-B3-SpanId";
            return TB_EINVAL;
        }
        if (!parse_parent(parent, &out->b3)) {
            *why = "X-B3-ParentSpanId: not 16 lower-case hex digits";
            return TB_EINVAL;
        }
    }
    set_sampling(out, sampling);
    return TB_OK;
}

/* ------------------------------------------------------------------------ */
/* extract                                                                  */

/* Marks the b3 extras of a successful extraction. */
static void finish(struct tb_trace_ctx *out, enum tb_format format)
{
    out->format = format;
    if (out->b3.has_parent_span_id)
        out->extras |= TB_FORMAT_BIT(format);
}

/* `b3`: the single header wins when it carries ids; otherwise the multi
 * headers are tried (§3.3, Go "invalid single" case). A valid state-only
 * single header still wins over multi headers without ids, and fills in the
 * decision when the multi headers carry ids but no sampling state. */
static int b3_extract(const struct tb_headers *in, struct tb_arena *arena, struct tb_trace_ctx *out,
                      const char **why)
{
    struct tb_iov single;
    int single_rc = TB_ENOTFOUND;
    int multi_rc;
    const char *single_why = NULL;
    const char *multi_why = NULL;
    enum tb_sampling single_sampling = TB_SAMPLING_DEFER;

    (void)arena;
    if (first_value(in, TB_HDR_B3, &single)) {
        single_rc = parse_single(single, out, &single_why);
        if (single_rc == TB_OK && tb_ctx_has_ids(out)) {
            finish(out, TB_FORMAT_B3);
            return TB_OK;
        }
        single_sampling = out->sampling;
    }
    tb_ctx_init(out, TB_FORMAT_B3);
    multi_rc = parse_multi(in, out, &multi_why);
    if (multi_rc == TB_OK && tb_ctx_has_ids(out)) {
        if (single_rc == TB_OK && out->sampling == TB_SAMPLING_DEFER)
            set_sampling(out, single_sampling);
        finish(out, TB_FORMAT_B3);
        return TB_OK;
    }
    if (single_rc == TB_OK) {
        tb_ctx_init(out, TB_FORMAT_B3);
        set_sampling(out, single_sampling);
        return TB_OK;
    }
    if (multi_rc == TB_OK) {
        finish(out, TB_FORMAT_B3);
        return TB_OK;
    }
    if (single_rc == TB_EINVAL) {
        *why = single_why;
        return TB_EINVAL;
    }
    if (multi_rc == TB_EINVAL)
        *why = multi_why;
    return multi_rc;
}

static int b3multi_extract(const struct tb_headers *in, struct tb_arena *arena,
                           struct tb_trace_ctx *out, const char **why)
{
    int rc;

    (void)arena;
    rc = parse_multi(in, out, why);
    if (rc == TB_OK)
        finish(out, TB_FORMAT_B3MULTI);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

/* True when the context has ids to send: without them B3 can still carry a
 * sampling decision alone (§3.1, §3.2), never an all-zero id. */
static bool can_send_ids(const struct tb_trace_ctx *ctx, const struct tb_hop *hop)
{
    return !tb_is_zero(ctx->trace_id, sizeof(ctx->trace_id)) &&
           !tb_is_zero(hop->span_id, sizeof(hop->span_id));
}

/* Writes the trace id in hex: 16 digits for a 64-bit id whose high half is
 * zero (§12.1, B3 allows 64-bit ids), else 32. Returns the length. */
static size_t put_trace_id(const struct tb_trace_ctx *ctx, char *p)
{
    if (ctx->id_width == 64 && tb_is_zero(ctx->trace_id, 8)) {
        tb_hex_encode(ctx->trace_id + 8, 8, p);
        return 16;
    }
    tb_hex_encode(ctx->trace_id, 16, p);
    return 32;
}

/* The single-header SamplingState for §12.2, or 0 on DEFER (no field). */
static char state_char(enum tb_sampling sampling)
{
    switch (sampling) {
    case TB_SAMPLING_DEFER:
        return 0;
    case TB_SAMPLING_ACCEPT:
        return '1';
    case TB_SAMPLING_DENY:
        return '0';
    case TB_SAMPLING_DEBUG:
        return 'd';
    }
    tb_bug("illegal sampling state");
}

/* `b3: {trace}-{hop span}[-{1|0|d}]`; never the ParentSpanId (as OTel). */
static int b3_inject(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                     struct tb_arena *arena, struct tb_headers *out, size_t *baggage_dropped)
{
    char state = state_char(ctx->sampling);
    char *buf;
    size_t n = 0;

    (void)baggage_dropped;
    if (!can_send_ids(ctx, hop) && state == 0)
        return TB_OK;
    buf = tb_arena_alloc(arena, B3_SINGLE_MAX);
    if (buf == NULL)
        return TB_ENOSPC;
    if (can_send_ids(ctx, hop)) {
        n = put_trace_id(ctx, buf);
        buf[n++] = '-';
        tb_hex_encode(hop->span_id, 8, buf + n);
        n += 16;
        if (state != 0)
            buf[n++] = '-';
    }
    if (state != 0)
        buf[n++] = state;
    return tb_ctx_emit(arena, out, TB_HDR_B3, (struct tb_iov){buf, n});
}

/* x-b3-traceid, x-b3-spanid, then x-b3-sampled (1|0, none on DEFER) or, for
 * DEBUG, x-b3-flags: 1 alone (B3 says not to send both; Go does the same). */
static int b3multi_inject(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                          struct tb_arena *arena, struct tb_headers *out, size_t *baggage_dropped)
{
    int rc;

    (void)baggage_dropped;
    if (can_send_ids(ctx, hop)) {
        char *buf = tb_arena_alloc(arena, 32 + 16);
        size_t n;

        if (buf == NULL)
            return TB_ENOSPC;
        n = put_trace_id(ctx, buf);
        tb_hex_encode(hop->span_id, 8, buf + n);
        rc = tb_ctx_emit(arena, out, TB_HDR_X_B3_TRACEID, (struct tb_iov){buf, n});
        if (rc != TB_OK)
            return rc;
        rc = tb_ctx_emit(arena, out, TB_HDR_X_B3_SPANID, (struct tb_iov){buf + n, 16});
        if (rc != TB_OK)
            return rc;
    }
    switch (ctx->sampling) {
    case TB_SAMPLING_DEFER:
        return TB_OK;
    case TB_SAMPLING_ACCEPT:
        return tb_ctx_emit(arena, out, TB_HDR_X_B3_SAMPLED, TB_IOV_LIT("1"));
    case TB_SAMPLING_DENY:
        return tb_ctx_emit(arena, out, TB_HDR_X_B3_SAMPLED, TB_IOV_LIT("0"));
    case TB_SAMPLING_DEBUG:
        return tb_ctx_emit(arena, out, TB_HDR_X_B3_FLAGS, TB_IOV_LIT("1"));
    }
    tb_bug("illegal sampling state");
}

/* ------------------------------------------------------------------------ */
/* codecs                                                                   */

static const enum tb_hdr_token b3_tokens[] = {TB_HDR_B3};

static const enum tb_hdr_token b3multi_tokens[] = {
    TB_HDR_X_B3_TRACEID, TB_HDR_X_B3_SPANID, TB_HDR_X_B3_PARENTSPANID,
    TB_HDR_X_B3_SAMPLED, TB_HDR_X_B3_FLAGS,
};

/* `b3`: reads the single header, else the X-B3-* headers; writes `b3`. */
const struct tb_propagator tb_propagator_b3 = {
    .name = "b3",
    .format = TB_FORMAT_B3,
    .tokens = b3_tokens,
    .num_tokens = TB_ARRAY_SIZE(b3_tokens),
    .baggage_prefix = NULL,
    .reads_also = TB_FORMAT_BIT(TB_FORMAT_B3MULTI),
    .extract = b3_extract,
    .inject = b3_inject,
};

/* `b3multi`: reads and writes the X-B3-* headers only. */
const struct tb_propagator tb_propagator_b3multi = {
    .name = "b3multi",
    .format = TB_FORMAT_B3MULTI,
    .tokens = b3multi_tokens,
    .num_tokens = TB_ARRAY_SIZE(b3multi_tokens),
    .baggage_prefix = NULL,
    .extract = b3multi_extract,
    .inject = b3multi_inject,
};
