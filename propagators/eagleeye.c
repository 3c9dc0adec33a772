/* SPDX-License-Identifier: MIT
 * Alibaba EagleEye (ARMS) propagation (protocols.md §11): EagleEye-TraceId,
 * -RpcId, -SpanId, -pSpanId, -Sampled, -pAppName, -pRpc, -UserData. The
 * format is proprietary and sparsely documented: every choice made here and
 * the evidence for it are in docs/formats/eagleeye.md.
 */
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/idmap.h"
#include "propagators/propagator.h"

/* Accepted trace id length: ARMS documents 32 characters and 30 are seen in
 * the wild; the margin tolerates other generators without accepting junk. */
#define EE_TRACE_ID_MIN 16
#define EE_TRACE_ID_MAX 64
/* Longest RpcId we accept and emit (a call depth of about 30). */
#define EE_RPC_ID_MAX 64
/* Longest UserData we carry: the W3C baggage budget. */
#define EE_USER_DATA_MAX TB_BAGGAGE_MAX_BYTES
/* "-9223372036854775808" */
#define EE_I64_DEC_MAX (1 + TB_U64_DEC_MAX)

static const enum tb_hdr_token ee_tokens[] = {
    TB_HDR_EAGLEEYE_TRACEID, TB_HDR_EAGLEEYE_RPCID,    TB_HDR_EAGLEEYE_SPANID,
    TB_HDR_EAGLEEYE_PSPANID, TB_HDR_EAGLEEYE_SAMPLED,  TB_HDR_EAGLEEYE_PAPPNAME,
    TB_HDR_EAGLEEYE_PRPC,    TB_HDR_EAGLEEYE_USERDATA,
};

/* --- validation ----------------------------------------------------------- */

/* 16 to 64 ASCII letters and digits: every documented and observed id. */
static bool ee_is_trace_id(struct tb_iov s)
{
    if (s.len < EE_TRACE_ID_MIN || s.len > EE_TRACE_ID_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

/* A dotted position "0", "0.1", "0.1.1": digits separated by single dots,
 * no empty component, at most EE_RPC_ID_MAX characters. */
static bool ee_is_rpc_id(struct tb_iov s)
{
    bool digit_before = false;

    if (s.len == 0 || s.len > EE_RPC_ID_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];

        if (c >= '0' && c <= '9') {
            digit_before = true;
        } else if (c == '.' && digit_before) {
            digit_before = false;
        } else {
            return false;
        }
    }
    return digit_before;
}

/* True when `s` has no control byte (C0 or DEL). */
static bool ee_is_printable(struct tb_iov s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];

        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* A Java long in decimal ("-1207596966212570593"), as ARMS agents send
 * SpanId and pSpanId; stored as its 8 two's complement bytes. Zero is not
 * a span id. */
static bool ee_parse_span_id(struct tb_iov s, uint8_t out[8])
{
    bool negative = s.len > 0 && s.base[0] == '-';
    uint64_t v;

    if (negative) {
        s.base++;
        s.len--;
    }
    if (!tb_lex_u64_dec(s, &v) || v > (negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX) ||
        v == 0)
        return false;
    tb_be64_store(negative ? ~v + 1 : v, out);
    return true;
}

/* Writes the 8 bytes of `id` as a signed decimal Java long; returns the length. */
static size_t ee_format_span_id(const uint8_t id[8], char *out)
{
    uint64_t v = tb_be64_load(id);

    if (v >> 63) {
        out[0] = '-';
        return 1 + tb_u64_to_dec(~v + 1, out + 1);
    }
    return tb_u64_to_dec(v, out);
}

/* True when the native id `native` maps to `trace_id`: it still names this
 * trace and may be re-emitted in place of the hex form. */
static bool ee_native_matches(struct tb_iov native, const uint8_t trace_id[16])
{
    uint8_t mapped[16];
    bool hashed;

    if (!ee_is_trace_id(native))
        return false;
    tb_eagleeye_trace_id_map(native, mapped, &hashed);
    return memcmp(mapped, trace_id, 16) == 0;
}

/* --- extract -------------------------------------------------------------- */

/* The first value of `token`, or an empty view with *present false. */
static struct tb_iov ee_first(const struct tb_headers *in, enum tb_hdr_token token, bool *present)
{
    ptrdiff_t at = tb_headers_find_token(in, token, 0);

    *present = at >= 0;
    return at >= 0 ? in->entries[at].value : (struct tb_iov){"", 0};
}

static int ee_extract(const struct tb_headers *in, struct tb_arena *arena, struct tb_trace_ctx *out,
                      const char **why)
{
    struct tb_iov trace_id, rpc_id, span_id, sampled, user_data;
    bool present, hashed, any = false;

    for (size_t i = 0; i < TB_ARRAY_SIZE(ee_tokens); i++)
        any |= tb_headers_find_token(in, ee_tokens[i], 0) >= 0;
    if (!any)
        return TB_ENOTFOUND;
    trace_id = ee_first(in, TB_HDR_EAGLEEYE_TRACEID, &present);
    if (!present) {
        *why = "EagleEye: EagleEye-TraceId missing";
        return TB_EINVAL;
    }
    if (!ee_is_trace_id(trace_id)) {
        *why = "EagleEye: EagleEye-TraceId is not 16 to 64 letters and digits";
        return TB_EINVAL;
    }

    out->format = TB_FORMAT_EAGLEEYE;
    out->eagleeye.trace_id = trace_id;
    out->extras |= TB_FORMAT_BIT(TB_FORMAT_EAGLEEYE);
    /* Hex ids keep their bits (left-padded); others hash. Neither is random
     * in the W3C sense, so the random flag stays 0. */
    tb_eagleeye_trace_id_map(trace_id, out->trace_id, &hashed);
    out->id_width = 128;

    /* A malformed RpcId or UserData is dropped alone: the trace id stands. */
    rpc_id = ee_first(in, TB_HDR_EAGLEEYE_RPCID, &present);
    if (present && ee_is_rpc_id(rpc_id))
        out->eagleeye.rpc_id = rpc_id;
    user_data = ee_first(in, TB_HDR_EAGLEEYE_USERDATA, &present);
    if (present && user_data.len > 0 && user_data.len <= EE_USER_DATA_MAX &&
        ee_is_printable(user_data))
        out->eagleeye.user_data = user_data;

    span_id = ee_first(in, TB_HDR_EAGLEEYE_SPANID, &present);
    if (!present || !ee_parse_span_id(span_id, out->span_id)) {
        /* Classic EagleEye sends no SpanId: the caller is named by its
         * position in the trace, so hash "traceid/rpcid" into a stable id. */
        size_t len = trace_id.len + 1 + out->eagleeye.rpc_id.len;
        char *s = tb_arena_alloc(arena, len);

        if (s == NULL)
            return TB_ENOSPC;
        memcpy(s, trace_id.base, trace_id.len);
        s[trace_id.len] = '/';
        if (out->eagleeye.rpc_id.len > 0)
            memcpy(s + trace_id.len + 1, out->eagleeye.rpc_id.base, out->eagleeye.rpc_id.len);
        tb_hash_span_id((struct tb_iov){s, len}, out->span_id);
    }

    /* ARMS documents s1 (sampled) and s0 (not sampled); bare 1/0 are taken
     * too. Anything else leaves the decision to us. */
    sampled = ee_first(in, TB_HDR_EAGLEEYE_SAMPLED, &present);
    if (tb_iov_caseeq(sampled, TB_STRLIT("s1")) || tb_iov_caseeq(sampled, TB_STRLIT("1")))
        out->sampling = TB_SAMPLING_ACCEPT;
    else if (tb_iov_caseeq(sampled, TB_STRLIT("s0")) || tb_iov_caseeq(sampled, TB_STRLIT("0")))
        out->sampling = TB_SAMPLING_DENY;
    else
        out->sampling = TB_SAMPLING_DEFER;
    out->w3c_flags = tb_sampling_is_sampled(out->sampling) ? TB_W3C_FLAG_SAMPLED : 0;
    return TB_OK;
}

/* --- inject --------------------------------------------------------------- */

/* Emits a copy of `len` bytes of `s` (a stack buffer) under `token`. */
static int ee_emit_copy(struct tb_arena *arena, struct tb_headers *out, enum tb_hdr_token token,
                        const char *s, size_t len)
{
    char *copy = tb_arena_memdup(arena, s, len);

    if (copy == NULL)
        return TB_ENOSPC;
    return tb_ctx_emit(arena, out, token, (struct tb_iov){copy, len});
}

static int ee_inject(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                     struct tb_arena *arena, struct tb_headers *out, size_t *baggage_dropped)
{
    bool native = ee_native_matches(ctx->eagleeye.trace_id, ctx->trace_id);
    char rpc[EE_RPC_ID_MAX], dec[EE_I64_DEC_MAX], hex[32];
    size_t rpc_len;
    int ret;

    (void)baggage_dropped; /* UserData is opaque: ctx->baggage has no EagleEye carrier */
    if (tb_is_zero(ctx->trace_id, sizeof(ctx->trace_id)))
        return TB_OK;

    if (native) {
        ret = tb_ctx_emit(arena, out, TB_HDR_EAGLEEYE_TRACEID, ctx->eagleeye.trace_id);
    } else {
        tb_hex_encode(ctx->trace_id, 16, hex);
        ret = ee_emit_copy(arena, out, TB_HDR_EAGLEEYE_TRACEID, hex, sizeof(hex));
    }
    if (ret != TB_OK)
        return ret;

    /* The hop is the callee at the incoming position; its call upstream is
     * that position's first child. A position from another trace is stale
     * and restarts at the root's first child. */
    if (native && ee_is_rpc_id(ctx->eagleeye.rpc_id)) {
        struct tb_iov in = ctx->eagleeye.rpc_id;

        memcpy(rpc, in.base, in.len);
        rpc_len = in.len;
        if (in.len + 2 <= EE_RPC_ID_MAX) {
            memcpy(rpc + rpc_len, ".1", 2);
            rpc_len += 2;
        }
    } else {
        memcpy(rpc, "0.1", 3);
        rpc_len = 3;
    }
    ret = ee_emit_copy(arena, out, TB_HDR_EAGLEEYE_RPCID, rpc, rpc_len);
    if (ret != TB_OK)
        return ret;

    ret =
        ee_emit_copy(arena, out, TB_HDR_EAGLEEYE_SPANID, dec, ee_format_span_id(hop->span_id, dec));
    if (ret != TB_OK)
        return ret;
    if (!tb_is_zero(ctx->span_id, sizeof(ctx->span_id))) {
        ret = ee_emit_copy(arena, out, TB_HDR_EAGLEEYE_PSPANID, dec,
                           ee_format_span_id(ctx->span_id, dec));
        if (ret != TB_OK)
            return ret;
    }

    switch (ctx->sampling) {
    case TB_SAMPLING_ACCEPT:
    case TB_SAMPLING_DEBUG:
        ret = tb_ctx_emit(arena, out, TB_HDR_EAGLEEYE_SAMPLED, TB_IOV_LIT("s1"));
        break;
    case TB_SAMPLING_DENY:
        ret = tb_ctx_emit(arena, out, TB_HDR_EAGLEEYE_SAMPLED, TB_IOV_LIT("s0"));
        break;
    case TB_SAMPLING_DEFER:
        break; /* no mark: the downstream agent decides */
    }
    if (ret != TB_OK)
        return ret;

    if (hop->service.len > 0 && ee_is_printable(hop->service)) {
        ret = tb_ctx_emit(arena, out, TB_HDR_EAGLEEYE_PAPPNAME, hop->service);
        if (ret != TB_OK)
            return ret;
    }
    if (ctx->eagleeye.user_data.len > 0 && ee_is_printable(ctx->eagleeye.user_data))
        ret = tb_ctx_emit(arena, out, TB_HDR_EAGLEEYE_USERDATA, ctx->eagleeye.user_data);
    return ret;
}

const struct tb_propagator tb_propagator_eagleeye = {
    .name = "eagleeye",
    .format = TB_FORMAT_EAGLEEYE,
    .tokens = ee_tokens,
    .num_tokens = TB_ARRAY_SIZE(ee_tokens),
    .baggage_prefix = NULL,
    .extract = ee_extract,
    .inject = ee_inject,
};
