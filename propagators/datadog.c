/* SPDX-License-Identifier: MIT
 * The Datadog codec (protocols.md §7): x-datadog-trace-id / -parent-id as
 * decimal 64-bit ids, the upper half of a 128-bit trace id as the _dd.p.tid
 * tag of x-datadog-tags, the sampling priority, and the origin. The `dd=`
 * member of W3C tracestate is not handled here: it rides inside tracestate
 * untouched. Datadog's baggage (ot-baggage-*) belongs to the ottrace codec.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

static const enum tb_hdr_token datadog_tokens[] = {
    TB_HDR_X_DATADOG_TRACE_ID, TB_HDR_X_DATADOG_PARENT_ID, TB_HDR_X_DATADOG_SAMPLING_PRIORITY,
    TB_HDR_X_DATADOG_ORIGIN,   TB_HDR_X_DATADOG_TAGS,
};

/* §7: the default DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH of current tracers. */
#define DATADOG_TAGS_MAX_LEN 512
#define DATADOG_TID_KEY "_dd.p.tid"
/* "_dd.p.tid=" + 16 hex */
#define DATADOG_TID_TAG_LEN (sizeof(DATADOG_TID_KEY) - 1 + 1 + 16)
/* An int32 in decimal: sign and 10 digits. */
#define DATADOG_PRIORITY_MAX_LEN 11

/* ------------------------------------------------------------------------ */
/* lexing                                                                   */

/* The value of the first header carrying `token`, or false when absent. */
static bool datadog_find(const struct tb_headers *in, enum tb_hdr_token token, struct tb_iov *v)
{
    ptrdiff_t at = tb_headers_find_token(in, token, 0);

    if (at < 0)
        return false;
    *v = in->entries[at].value;
    return true;
}

/* A decimal uint64, or a negative int64 taken as its two's complement
 * (§7, §12.1: dd-trace-go parses "-N" with ParseInt and casts). */
static bool datadog_parse_id(struct tb_iov s, uint64_t *out)
{
    uint64_t mag;

    if (s.len > 0 && s.base[0] == '-') {
        if (!tb_lex_u64_dec((struct tb_iov){s.base + 1, s.len - 1}, &mag) ||
            mag > (UINT64_C(1) << 63))
            return false;
        *out = UINT64_C(0) - mag;
        return true;
    }
    return tb_lex_u64_dec(s, out);
}

/* A signed decimal that fits int32 (strconv.Atoi accepts a leading sign). */
static bool datadog_parse_priority(struct tb_iov s, int32_t *out)
{
    bool neg = false;
    uint64_t mag;

    if (s.len > 0 && (s.base[0] == '-' || s.base[0] == '+')) {
        neg = s.base[0] == '-';
        s.base++;
        s.len--;
    }
    if (!tb_lex_u64_dec(s, &mag) || mag > (neg ? UINT64_C(2147483648) : UINT64_C(2147483647)))
        return false;
    *out = neg ? (int32_t)(-(int64_t)mag) : (int32_t)mag;
    return true;
}

/* Visible ASCII: what we forward as x-datadog-origin. */
static bool datadog_is_visible(struct tb_iov s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.base[i] < 0x21 || (unsigned char)s.base[i] > 0x7e)
            return false;
    return true;
}

/* Printable ASCII: what tag values (and joined tags) may hold. */
static bool datadog_is_printable(struct tb_iov s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.base[i] < 0x20 || (unsigned char)s.base[i] > 0x7e)
            return false;
    return true;
}

/* §7 tag rules: key non-empty printable ASCII without space, '=' or ','. */
static bool datadog_tag_key_ok(struct tb_iov k)
{
    if (k.len == 0)
        return false;
    for (size_t i = 0; i < k.len; i++) {
        unsigned char c = (unsigned char)k.base[i];

        if (c < 0x21 || c > 0x7e || c == '=' || c == ',')
            return false;
    }
    return true;
}

/* Value non-empty printable ASCII without ','. */
static bool datadog_tag_value_ok(struct tb_iov v)
{
    return v.len > 0 && datadog_is_printable(v) && memchr(v.base, ',', v.len) == NULL;
}

/*
 * Parses x-datadog-tags `tags`: on success `*kept` holds every tag but
 * _dd.p.tid, joined with ',' in arena memory, and `tid` the upper trace-id
 * half (zero when absent or invalid). A malformed header yields no tags and
 * no tid (dd-trace-go's decoding_error), a too long one too
 * (extract_max_size). Returns TB_OK or TB_ENOSPC.
 */
static int datadog_parse_tags(struct tb_arena *arena, struct tb_iov tags, struct tb_iov *kept,
                              uint8_t tid[8])
{
    char *buf = NULL;
    size_t len = 0, pos = 0;

    *kept = (struct tb_iov){NULL, 0};
    memset(tid, 0, 8);
    if (tags.len == 0 || tags.len > DATADOG_TAGS_MAX_LEN)
        return TB_OK;
    /* First pass: validate everything, so a bad tag late in the header
     * cannot leave half the tags behind. */
    while (pos <= tags.len) {
        const char *comma = memchr(tags.base + pos, ',', tags.len - pos);
        size_t end = comma != NULL ? (size_t)(comma - tags.base) : tags.len;
        struct tb_iov item = {tags.base + pos, end - pos};
        const char *eq = memchr(item.base, '=', item.len);

        if (eq == NULL ||
            !datadog_tag_key_ok((struct tb_iov){item.base, (size_t)(eq - item.base)}) ||
            !datadog_tag_value_ok((struct tb_iov){eq + 1, item.len - (size_t)(eq - item.base) - 1}))
            return TB_OK;
        pos = end + 1;
    }
    pos = 0;
    while (pos <= tags.len) {
        const char *comma = memchr(tags.base + pos, ',', tags.len - pos);
        size_t end = comma != NULL ? (size_t)(comma - tags.base) : tags.len;
        struct tb_iov item = {tags.base + pos, end - pos};
        const char *eq = memchr(item.base, '=', item.len);
        struct tb_iov key = {item.base, (size_t)(eq - item.base)};
        struct tb_iov val = {eq + 1, item.len - key.len - 1};

        pos = end + 1;
        if (key.len == sizeof(DATADOG_TID_KEY) - 1 &&
            memcmp(key.base, DATADOG_TID_KEY, key.len) == 0) {
            /* §7: 16 lower-case hex, else ignored; the last one wins, as
             * in dd-trace-go's tag map. A zero tid is no upper half. */
            if (!tb_lex_hex(val, tid, 8, false))
                memset(tid, 0, 8);
            continue;
        }
        if (buf == NULL) {
            buf = tb_arena_alloc(arena, tags.len);
            if (buf == NULL)
                return TB_ENOSPC;
        }
        if (len > 0)
            buf[len++] = ',';
        memcpy(buf + len, item.base, item.len);
        len += item.len;
    }
    *kept = (struct tb_iov){buf, len};
    return TB_OK;
}

/* ------------------------------------------------------------------------ */
/* extract / inject                                                         */

static int datadog_extract(const struct tb_headers *in, struct tb_arena *arena,
                           struct tb_trace_ctx *out, const char **why)
{
    struct tb_iov trace_v = {NULL, 0}, parent_v = {NULL, 0}, prio_v = {NULL, 0},
                  origin_v = {NULL, 0}, tags_v = {NULL, 0};
    bool has_trace = datadog_find(in, TB_HDR_X_DATADOG_TRACE_ID, &trace_v);
    bool has_parent = datadog_find(in, TB_HDR_X_DATADOG_PARENT_ID, &parent_v);
    bool has_prio = datadog_find(in, TB_HDR_X_DATADOG_SAMPLING_PRIORITY, &prio_v);
    bool has_origin = datadog_find(in, TB_HDR_X_DATADOG_ORIGIN, &origin_v);
    bool has_tags = datadog_find(in, TB_HDR_X_DATADOG_TAGS, &tags_v);
    uint64_t trace_lo, parent = 0;
    uint8_t tid[8];
    int ret;

    if (!has_trace && !has_parent && !has_prio && !has_origin && !has_tags)
        return TB_ENOTFOUND;
    out->format = TB_FORMAT_DATADOG;

    /* §7: the trace id is mandatory, decimal and non-zero. A corrupted id
     * aborts extraction in dd-trace (ErrSpanContextCorrupted). */
    if (!has_trace) {
        *why = "x-datadog-trace-id missing";
        return TB_EINVAL;
    }
    if (!datadog_parse_id(trace_v, &trace_lo)) {
        *why = "x-datadog-trace-id is not a 64-bit decimal";
        return TB_EINVAL;
    }
    if (trace_lo == 0) {
        *why = "x-datadog-trace-id is zero";
        return TB_EINVAL;
    }

    /* The origin is opaque but goes back on the wire: anything outside
     * visible ASCII is dropped rather than forwarded. */
    if (has_origin && origin_v.len > 0 && datadog_is_visible(origin_v))
        out->datadog.origin = origin_v;

    if (has_parent && !datadog_parse_id(parent_v, &parent)) {
        *why = "x-datadog-parent-id is not a 64-bit decimal";
        return TB_EINVAL;
    }
    /* §7: parent 0 (or none) is allowed only for Synthetics, whose request
     * starts the trace: the trace id is kept and the span id stays zero,
     * i.e. the hop becomes the root span of that trace. */
    if (parent == 0 &&
        !(out->datadog.origin.len == sizeof("synthetics") - 1 &&
          memcmp(out->datadog.origin.base, "synthetics", out->datadog.origin.len) == 0)) {
        *why = has_parent ? "x-datadog-parent-id is zero" : "x-datadog-parent-id missing";
        return TB_EINVAL;
    }

    if (has_prio) {
        if (!datadog_parse_priority(prio_v, &out->datadog.priority)) {
            *why = "x-datadog-sampling-priority is not an integer";
            return TB_EINVAL;
        }
        out->datadog.has_priority = true;
        /* §7: > 0 keep (1 auto, 2 user), <= 0 drop (0 auto, -1 user). */
        out->sampling = out->datadog.priority > 0 ? TB_SAMPLING_ACCEPT : TB_SAMPLING_DENY;
    } else {
        out->sampling = TB_SAMPLING_DEFER;
    }

    memset(tid, 0, sizeof(tid));
    if (has_tags) {
        ret = datadog_parse_tags(arena, tags_v, &out->datadog.tags, tid);
        if (ret != TB_OK)
            return ret;
    }
    memcpy(out->trace_id, tid, 8);
    tb_be64_store(trace_lo, out->trace_id + 8);
    tb_be64_store(parent, out->span_id);
    out->id_width = tb_is_zero(tid, sizeof(tid)) ? 64 : 128;
    out->w3c_flags = tb_sampling_is_sampled(out->sampling) ? TB_W3C_FLAG_SAMPLED : 0;
    out->extras |= TB_FORMAT_BIT(TB_FORMAT_DATADOG);
    return TB_OK;
}

/* Emits `v` in decimal as the value of `token`. */
static int datadog_emit_u64(struct tb_arena *arena, struct tb_headers *out, enum tb_hdr_token token,
                            uint64_t v)
{
    char *buf = tb_arena_alloc(arena, TB_U64_DEC_MAX);

    if (buf == NULL)
        return TB_ENOSPC;
    return tb_ctx_emit(arena, out, token, (struct tb_iov){buf, tb_u64_to_dec(v, buf)});
}

static int datadog_emit_priority(struct tb_arena *arena, struct tb_headers *out, int32_t prio)
{
    char *buf = tb_arena_alloc(arena, DATADOG_PRIORITY_MAX_LEN);
    size_t len = 0;
    uint64_t mag = prio < 0 ? (uint64_t)(-(int64_t)prio) : (uint64_t)prio;

    if (buf == NULL)
        return TB_ENOSPC;
    if (prio < 0)
        buf[len++] = '-';
    len += tb_u64_to_dec(mag, buf + len);
    return tb_ctx_emit(arena, out, TB_HDR_X_DATADOG_SAMPLING_PRIORITY, (struct tb_iov){buf, len});
}

static int datadog_inject(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                          struct tb_arena *arena, struct tb_headers *out, size_t *baggage_dropped)
{
    bool own = (ctx->extras & TB_FORMAT_BIT(TB_FORMAT_DATADOG)) != 0;
    uint64_t trace_lo = tb_be64_load(ctx->trace_id + 8);
    bool has_tid = !tb_is_zero(ctx->trace_id, 8);
    struct tb_iov kept = {NULL, 0};
    size_t tags_len;
    int32_t prio;
    bool send_prio = true;
    int ret;

    (void)baggage_dropped; /* ot-baggage-* is the ottrace codec's carrier */
    /* §7: x-datadog-trace-id is the low half and must be non-zero; a trace
     * id whose low 64 bits are zero (or a sampling-only context) has no
     * Datadog form. */
    if (trace_lo == 0)
        return TB_OK;

    switch (ctx->sampling) {
    case TB_SAMPLING_DEBUG:
        prio = 2; /* §12.2: user-keep, our choice (Datadog has no debug) */
        break;
    case TB_SAMPLING_ACCEPT:
        /* Keep the caller's own "keep" level (1 auto, 2 user). */
        prio = own && ctx->datadog.has_priority && ctx->datadog.priority > 0 ? ctx->datadog.priority
                                                                             : 1;
        break;
    case TB_SAMPLING_DENY:
        prio = own && ctx->datadog.has_priority && ctx->datadog.priority <= 0
                   ? ctx->datadog.priority
                   : 0;
        break;
    case TB_SAMPLING_DEFER:
        send_prio = false; /* §12.2: omit the header, downstream decides */
        prio = 0;
        break;
    default:
        tb_bug("illegal sampling state");
    }

    if ((ret = datadog_emit_u64(arena, out, TB_HDR_X_DATADOG_TRACE_ID, trace_lo)) != TB_OK)
        return ret;
    if ((ret = datadog_emit_u64(arena, out, TB_HDR_X_DATADOG_PARENT_ID,
                                tb_be64_load(hop->span_id))) != TB_OK)
        return ret;
    if (send_prio && (ret = datadog_emit_priority(arena, out, prio)) != TB_OK)
        return ret;
    if (own && ctx->datadog.origin.len > 0 && datadog_is_visible(ctx->datadog.origin) &&
        (ret = tb_ctx_emit(arena, out, TB_HDR_X_DATADOG_ORIGIN, ctx->datadog.origin)) != TB_OK)
        return ret;

    if (own && datadog_is_printable(ctx->datadog.tags))
        kept = ctx->datadog.tags;
    tags_len = kept.len + (has_tid ? (kept.len > 0 ? 1 : 0) + DATADOG_TID_TAG_LEN : 0);
    if (tags_len > DATADOG_TAGS_MAX_LEN) {
        /* Over the limit a Datadog tracer would refuse the whole header;
         * the trace id must survive, so only the other tags go. */
        kept = (struct tb_iov){NULL, 0};
        tags_len = has_tid ? DATADOG_TID_TAG_LEN : 0;
    }
    if (tags_len > 0) {
        char *buf = tb_arena_alloc(arena, tags_len);
        char *p = buf;

        if (buf == NULL)
            return TB_ENOSPC;
        if (kept.len > 0) {
            memcpy(p, kept.base, kept.len);
            p += kept.len;
            if (has_tid)
                *p++ = ',';
        }
        if (has_tid) {
            memcpy(p, DATADOG_TID_KEY "=", sizeof(DATADOG_TID_KEY));
            p += sizeof(DATADOG_TID_KEY);
            tb_hex_encode(ctx->trace_id, 8, p);
            p += 16;
        }
        TB_ASSERT((size_t)(p - buf) == tags_len);
        if ((ret = tb_ctx_emit(arena, out, TB_HDR_X_DATADOG_TAGS,
                               (struct tb_iov){buf, tags_len})) != TB_OK)
            return ret;
    }
    return TB_OK;
}

const struct tb_propagator tb_propagator_datadog = {
    .name = "datadog",
    .format = TB_FORMAT_DATADOG,
    .tokens = datadog_tokens,
    .num_tokens = TB_ARRAY_SIZE(datadog_tokens),
    .baggage_prefix = NULL,
    .extract = datadog_extract,
    .inject = datadog_inject,
};
