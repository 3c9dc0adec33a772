/* SPDX-License-Identifier: MIT
 * Apache SkyWalking v3 propagation (protocols.md §8): `sw8` (the context),
 * `sw8-x` (the extension header, passed through) and `sw8-correlation`
 * (SkyWalking's baggage). Ids map to the 128-bit model with the collector
 * algorithm of propagators/idmap.h; docs/formats/sw8.md is the user contract.
 */
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/idmap.h"
#include "propagators/propagator.h"
#include "propagators/sw8.h"

#define SW8_NUM_FIELDS 8

/* SkyWalking agent defaults for sw8-correlation (§8.3):
 * SW_CORRELATION_ELEMENT_MAX_NUMBER and SW_CORRELATION_VALUE_MAX_LENGTH. */
#define SW8_CORRELATION_MAX_ITEMS 3
#define SW8_CORRELATION_VALUE_MAX 128

/* Stand-ins that keep an sw8 header valid when the hop left a field empty:
 * the protocol requires all seven string fields to be non-empty (§8.1). */
#define SW8_DEFAULT_SERVICE "tracebridge"
#define SW8_DEFAULT_INSTANCE "tracebridge"
#define SW8_DEFAULT_ENDPOINT "/"
#define SW8_DEFAULT_TARGET "-"

static const enum tb_hdr_token sw8_tokens[] = {
    TB_HDR_SW8,
    TB_HDR_SW8_X,
    TB_HDR_SW8_CORRELATION,
};

/* --- shared helpers ------------------------------------------------------- */

/* True when `s` has no control byte (C0 or DEL). */
static bool sw8_is_printable(struct tb_iov s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];

        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* True for an sw8-x value we pass on: visible ASCII and spaces only. */
static bool sw8_is_ext_value(struct tb_iov s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];

        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

/* The length of UTF-8 `s` in UTF-16 code units: what the Java agent's
 * String.length() compares with SW_CORRELATION_VALUE_MAX_LENGTH. */
static size_t sw8_utf16_len(struct tb_iov s)
{
    size_t n = 0;

    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];

        if ((c & 0xc0) == 0x80)
            continue;           /* continuation byte */
        n += c >= 0xf0 ? 2 : 1; /* 4-byte sequences are surrogate pairs */
    }
    return n;
}

/* Decodes standard base64 (padding optional) into the arena. Returns TB_OK,
 * TB_EINVAL on a bad encoding, TB_ENOSPC when the arena is full. */
static int sw8_b64_decode(struct tb_arena *arena, struct tb_iov in, struct tb_iov *out)
{
    char *buf;
    size_t len;

    if (in.len == 0) {
        *out = (struct tb_iov){"", 0};
        return TB_OK;
    }
    buf = tb_arena_alloc(arena, TB_BASE64_DECODED_MAX(in.len));
    if (buf == NULL)
        return TB_ENOSPC;
    if (!tb_base64_decode(TB_BASE64_STD, in, buf, &len))
        return TB_EINVAL;
    *out = (struct tb_iov){buf, len};
    return TB_OK;
}

/* --- extract -------------------------------------------------------------- */

/* Why a field of sw8 was refused, by field index (static strings). */
static const char *const sw8_why_field[SW8_NUM_FIELDS] = {
    "sw8: sample must be 0 or 1",
    "sw8: trace id is not non-empty base64 text",
    "sw8: parent segment id is not non-empty base64 text",
    "sw8: parent span id is not a decimal int32",
    "sw8: parent service is not non-empty base64 text",
    "sw8: parent service instance is not non-empty base64 text",
    "sw8: parent endpoint is not non-empty base64 text",
    "sw8: target address is not non-empty base64 text",
};

/* Parses the sw8 value `v` into `out` (§8.1, §8.5). */
static int sw8_parse(struct tb_iov v, struct tb_arena *arena, struct tb_trace_ctx *out,
                     const char **why)
{
    struct tb_iov field[SW8_NUM_FIELDS], decoded[SW8_NUM_FIELDS];
    size_t num = 0, start = 0;
    uint64_t span;
    bool hashed;
    int ret;

    /* Exactly 8 '-'-separated fields: the base64 alphabet has no '-', so a
     * ninth field (the Java agent's split limit folds it into the eighth)
     * can only be an error. */
    for (size_t i = 0; i <= v.len; i++) {
        if (i < v.len && v.base[i] != '-')
            continue;
        if (num == SW8_NUM_FIELDS) {
            *why = "sw8: more than 8 fields";
            return TB_EINVAL;
        }
        field[num++] = (struct tb_iov){v.base + start, i - start};
        start = i + 1;
    }
    if (num != SW8_NUM_FIELDS) {
        *why = "sw8: fewer than 8 fields";
        return TB_EINVAL;
    }

    if (field[0].len != 1 || (field[0].base[0] != '0' && field[0].base[0] != '1')) {
        *why = sw8_why_field[0];
        return TB_EINVAL;
    }
    if (!tb_lex_u64_dec(field[3], &span) || span > INT32_MAX) {
        *why = sw8_why_field[3];
        return TB_EINVAL;
    }
    for (size_t i = 1; i < SW8_NUM_FIELDS; i++) {
        if (i == 3)
            continue;
        ret = sw8_b64_decode(arena, field[i], &decoded[i]);
        if (ret == TB_ENOSPC)
            return ret;
        /* The Java agent requires every string field non-empty; control
         * bytes would leak into other formats and logs. */
        if (ret != TB_OK || decoded[i].len == 0 || !sw8_is_printable(decoded[i])) {
            *why = sw8_why_field[i];
            return TB_EINVAL;
        }
    }

    out->sw8 = (struct tb_sw8_extras){
        .trace_id = decoded[1],
        .segment_id = decoded[2],
        .span_id = (int32_t)span,
        .service = decoded[4],
        .instance = decoded[5],
        .endpoint = decoded[6],
        .target = decoded[7],
        .sample = (uint8_t)(field[0].base[0] - '0'),
    };
    out->extras |= TB_FORMAT_BIT(TB_FORMAT_SW8);

    /* §8.5: the collector mapping, so that our spans share trace id and
     * parent with the collector-converted SkyWalking segments; a hashed id
     * is not random in the W3C sense, and sw8 never vouches for randomness. */
    tb_sw_trace_id_map(out->sw8.trace_id, out->trace_id, &hashed);
    out->id_width = 128;
    if (!tb_sw_segment_to_span_id(out->sw8.segment_id, out->sw8.span_id, out->span_id)) {
        /* No collector mapping: a stable hash of "segment/span". */
        size_t len = out->sw8.segment_id.len;
        char *s = tb_arena_alloc(arena, len + 1 + TB_U64_DEC_MAX);

        if (s == NULL)
            return TB_ENOSPC;
        memcpy(s, out->sw8.segment_id.base, len);
        s[len++] = '/';
        len += tb_u64_to_dec(span, s + len);
        tb_hash_span_id((struct tb_iov){s, len}, out->span_id);
    }
    out->sampling = out->sw8.sample ? TB_SAMPLING_ACCEPT : TB_SAMPLING_DENY;
    out->w3c_flags = out->sw8.sample ? TB_W3C_FLAG_SAMPLED : 0;
    return TB_OK;
}

/* Reads sw8-correlation (§8.3) into `bag`: base64(key):base64(value) pairs,
 * comma-separated. A pair that is malformed, whose key is not a W3C baggage
 * token, whose value is empty (SkyWalking's "removed") or too long, or that
 * comes after the third kept one is skipped and counted in bag->dropped. */
static int sw8_correlation_parse(struct tb_iov v, struct tb_arena *arena, struct tb_baggage *bag)
{
    size_t kept = 0, start = 0;

    for (size_t i = 0; i <= v.len; i++) {
        struct tb_iov item, key, value;
        const char *colon;
        size_t before;
        bool ok;
        int ret;

        if (i < v.len && v.base[i] != ',')
            continue;
        item = tb_lex_trim_ows((struct tb_iov){v.base + start, i - start});
        start = i + 1;
        if (item.len == 0)
            continue; /* an empty list element is not a pair */
        colon = memchr(item.base, ':', item.len);
        if (colon == NULL ||
            memchr(colon + 1, ':', (size_t)(item.base + item.len - colon - 1)) != NULL) {
            bag->dropped++;
            continue;
        }
        ret = sw8_b64_decode(arena, (struct tb_iov){item.base, (size_t)(colon - item.base)}, &key);
        if (ret == TB_OK)
            ret = sw8_b64_decode(
                arena, (struct tb_iov){colon + 1, (size_t)(item.base + item.len - colon - 1)},
                &value);
        if (ret == TB_ENOSPC)
            return ret;
        ok = ret == TB_OK && key.len > 0 && value.len > 0 &&
             sw8_utf16_len(value) <= SW8_CORRELATION_VALUE_MAX;
        for (size_t k = 0; ok && k < key.len; k++)
            ok = tb_lex_is_tchar((unsigned char)key.base[k]);
        /* A repeated key replaces the earlier value (the agent's map put);
         * only new keys count towards the limit. */
        if (ok && kept >= SW8_CORRELATION_MAX_ITEMS && tb_baggage_find(bag, key) < 0)
            ok = false;
        if (!ok) {
            bag->dropped++;
            continue;
        }
        before = bag->num;
        ret = tb_baggage_put(arena, bag, key, value, (struct tb_iov){"", 0});
        if (ret != TB_OK)
            return ret;
        if (bag->num > before)
            kept++;
    }
    return TB_OK;
}

static int sw8_extract(const struct tb_headers *in, struct tb_arena *arena,
                       struct tb_trace_ctx *out, const char **why)
{
    ptrdiff_t sw8 = tb_headers_find_token(in, TB_HDR_SW8, 0);
    ptrdiff_t corr = tb_headers_find_token(in, TB_HDR_SW8_CORRELATION, 0);
    int ret;

    if (sw8 < 0 && corr < 0)
        return TB_ENOTFOUND;
    out->format = TB_FORMAT_SW8;
    if (sw8 >= 0) {
        ptrdiff_t ext = tb_headers_find_token(in, TB_HDR_SW8_X, 0);

        /* A repeated sw8 is not defined by the protocol: the first wins. */
        ret = sw8_parse(tb_lex_trim_ows(in->entries[sw8].value), arena, out, why);
        if (ret != TB_OK)
            return ret;
        /* §8.2: opaque, forwarded as it came; a value that could not be
         * forwarded safely is dropped rather than invalidating sw8. */
        if (ext >= 0 && sw8_is_ext_value(in->entries[ext].value))
            out->sw8.ext = in->entries[ext].value;
    }
    /* Without sw8 the correlation header still carries baggage: a context
     * with zero ids and the default DEFER. */
    if (corr >= 0) {
        ret = sw8_correlation_parse(in->entries[corr].value, arena, &out->baggage);
        if (ret != TB_OK)
            return ret;
    }
    return TB_OK;
}

/* --- inject --------------------------------------------------------------- */

/* Writes base64(`s`) at `p`; returns the end. */
static char *sw8_put_b64(char *p, struct tb_iov s)
{
    return p + tb_base64_encode(TB_BASE64_STD, s.base, s.len, p);
}

/* `s`, or the literal `fallback` when `s` is empty. */
static struct tb_iov sw8_or(struct tb_iov s, const char *fallback)
{
    return s.len > 0 ? s : (struct tb_iov){fallback, strlen(fallback)};
}

static int sw8_inject_sw8(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                          struct tb_arena *arena, struct tb_headers *out)
{
    char trace_hex[32], segment_hex[32], span_dec[TB_U64_DEC_MAX];
    struct tb_iov trace = {trace_hex, sizeof(trace_hex)};
    struct tb_iov segment = {segment_hex, sizeof(segment_hex)};
    struct tb_iov fields[4];
    size_t span_len, len;
    int32_t span = 0;
    char *buf, *p;

    /* The native trace id only when it still names this trace; otherwise
     * the 32 hex digits, which the collector maps back to the same bytes. */
    if (ctx->sw8.trace_id.len > 0) {
        uint8_t mapped[16];
        bool hashed;

        tb_sw_trace_id_map(ctx->sw8.trace_id, mapped, &hashed);
        if (memcmp(mapped, ctx->trace_id, 16) == 0)
            trace = ctx->sw8.trace_id;
    }
    if (trace.base == trace_hex)
        tb_hex_encode(ctx->trace_id, 16, trace_hex);

    /* §8.5: the hop's own segment when the SkyWalking exporter set one, else
     * hex(span) + 16 zeros with span 0, which the collector maps back to
     * exactly hop->span_id. */
    if (hop->sw8_segment_id.len > 0 && hop->sw8_span_id >= 0) {
        segment = hop->sw8_segment_id;
        span = hop->sw8_span_id;
    } else {
        tb_hex_encode(hop->span_id, 8, segment_hex);
        memset(segment_hex + 16, '0', 16);
    }
    span_len = tb_u64_to_dec((uint64_t)span, span_dec);

    fields[0] = sw8_or(hop->service, SW8_DEFAULT_SERVICE);
    fields[1] = sw8_or(hop->instance, SW8_DEFAULT_INSTANCE);
    fields[2] = sw8_or(hop->endpoint, SW8_DEFAULT_ENDPOINT);
    fields[3] = sw8_or(hop->target, SW8_DEFAULT_TARGET);

    len = 1 + TB_BASE64_ENCODED_LEN(trace.len) + TB_BASE64_ENCODED_LEN(segment.len) + span_len +
          (SW8_NUM_FIELDS - 1);
    for (size_t i = 0; i < TB_ARRAY_SIZE(fields); i++)
        len += TB_BASE64_ENCODED_LEN(fields[i].len);
    buf = tb_arena_alloc(arena, len);
    if (buf == NULL)
        return TB_ENOSPC;

    p = buf;
    /* §12.2: only an explicit DENY says 0; agents ignore the field anyway. */
    *p++ = ctx->sampling == TB_SAMPLING_DENY ? '0' : '1';
    *p++ = '-';
    p = sw8_put_b64(p, trace);
    *p++ = '-';
    p = sw8_put_b64(p, segment);
    *p++ = '-';
    memcpy(p, span_dec, span_len);
    p += span_len;
    for (size_t i = 0; i < TB_ARRAY_SIZE(fields); i++) {
        *p++ = '-';
        p = sw8_put_b64(p, fields[i]);
    }
    TB_ASSERT((size_t)(p - buf) == len);
    return tb_ctx_emit(arena, out, TB_HDR_SW8, (struct tb_iov){buf, len});
}

/* sw8-correlation from ctx->baggage: the first SW8_CORRELATION_MAX_ITEMS
 * items SkyWalking can hold; the others are counted as dropped. */
static int sw8_inject_correlation(const struct tb_trace_ctx *ctx, struct tb_arena *arena,
                                  struct tb_headers *out, size_t *dropped)
{
    size_t pick[SW8_CORRELATION_MAX_ITEMS], num = 0, len = 0;
    char *buf, *p;

    for (size_t i = 0; i < ctx->baggage.num; i++) {
        const struct tb_baggage_item *item = &ctx->baggage.items[i];

        /* An empty value means "remove the key" to SkyWalking; W3C
         * properties have no place in the carrier and are lost. */
        if (num == SW8_CORRELATION_MAX_ITEMS || item->key.len == 0 || item->value.len == 0 ||
            sw8_utf16_len(item->value) > SW8_CORRELATION_VALUE_MAX) {
            (*dropped)++;
            continue;
        }
        pick[num++] = i;
        len += (len > 0 ? 1 : 0) + TB_BASE64_ENCODED_LEN(item->key.len) + 1 +
               TB_BASE64_ENCODED_LEN(item->value.len);
    }
    if (num == 0)
        return TB_OK;
    buf = tb_arena_alloc(arena, len);
    if (buf == NULL)
        return TB_ENOSPC;
    p = buf;
    for (size_t i = 0; i < num; i++) {
        const struct tb_baggage_item *item = &ctx->baggage.items[pick[i]];

        if (i > 0)
            *p++ = ',';
        p = sw8_put_b64(p, item->key);
        *p++ = ':';
        p = sw8_put_b64(p, item->value);
    }
    TB_ASSERT((size_t)(p - buf) == len);
    return tb_ctx_emit(arena, out, TB_HDR_SW8_CORRELATION, (struct tb_iov){buf, len});
}

static int sw8_inject(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                      struct tb_arena *arena, struct tb_headers *out, size_t *baggage_dropped)
{
    size_t dropped = 0;
    int ret;

    /* No trace id, no context to send (the policy starts a trace before
     * injecting); baggage still travels. */
    if (!tb_is_zero(ctx->trace_id, sizeof(ctx->trace_id))) {
        ret = sw8_inject_sw8(ctx, hop, arena, out);
        if (ret != TB_OK)
            return ret;
        if (ctx->sw8.ext.len > 0 && sw8_is_ext_value(ctx->sw8.ext)) {
            ret = tb_ctx_emit(arena, out, TB_HDR_SW8_X, ctx->sw8.ext);
            if (ret != TB_OK)
                return ret;
        }
    }
    ret = sw8_inject_correlation(ctx, arena, out, &dropped);
    if (baggage_dropped != NULL)
        *baggage_dropped += dropped;
    return ret;
}

const struct tb_propagator tb_propagator_sw8 = {
    .name = "sw8",
    .format = TB_FORMAT_SW8,
    .tokens = sw8_tokens,
    .num_tokens = TB_ARRAY_SIZE(sw8_tokens),
    .baggage_prefix = NULL,
    .extract = sw8_extract,
    .inject = sw8_inject,
};

size_t tb_sw8_endpoint_path_len(size_t method_len, const char *path, size_t path_len)
{
    if (method_len + 1 + path_len <= TB_SW8_ENDPOINT_MAX)
        return path_len;
    path_len = method_len + 1 < TB_SW8_ENDPOINT_MAX ? TB_SW8_ENDPOINT_MAX - method_len - 1 : 0;
    /* Back off continuation bytes, so the cut falls before a lead byte. */
    while (path_len > 0 && ((unsigned char)path[path_len] & 0xc0) == 0x80)
        path_len--;
    return path_len;
}
