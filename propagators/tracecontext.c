/* SPDX-License-Identifier: MIT
 * W3C Trace Context (`traceparent`, `tracestate`), protocols.md §1. Extract
 * validates traceparent strictly (lowercase hex, version rules, zero ids) and
 * tracestate with the Level 2 key grammar, dropping the whole tracestate on
 * any invalid member; tracebridge's own member is split out into
 * ctx->tbstate. Inject always writes version 00 with only the flags we
 * understand, and puts our member left-most. Nothing here decodes the
 * tracebridge member itself: that is the policy layer's job (tbstate.h).
 */
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"
#include "propagators/tbstate.h"

/* §1.2: "vv-" + 32 + "-" + 16 + "-" + 2. */
#define TP_LEN 55
#define TP_TRACE_AT 3
#define TP_SPAN_AT 36
#define TP_FLAGS_AT 53

/* §1.4: at most 32 list members; keys and values at most 256 characters. */
#define TS_MAX_MEMBERS 32
#define TS_MAX_KEY 256
#define TS_MAX_VALUE 256

static const enum tb_hdr_token tracecontext_tokens[] = {TB_HDR_TRACEPARENT, TB_HDR_TRACESTATE};

/* ------------------------------------------------------------------------ */
/* traceparent                                                              */

/* Parses one traceparent value (already OWS-trimmed) into `out`. Returns NULL
 * on success, else the rule broken. */
static const char *tp_parse(struct tb_iov v, struct tb_trace_ctx *out)
{
    uint8_t version, flags;

    /* §1.2: every version is at least the 55 characters of version 00. */
    if (v.len < TP_LEN)
        return "traceparent: too short";
    if (!tb_lex_hex((struct tb_iov){v.base, 2}, &version, 1, false))
        return "traceparent: bad version";
    if (version == 0xff)
        return "traceparent: version ff is invalid";
    /* Version 00 is exactly 55 characters; a future version may append
     * fields, but only after a '-' at position 55 (§1.2). */
    if (version == 0x00 && v.len != TP_LEN)
        return "traceparent: version 00 with trailing data";
    if (v.len > TP_LEN && v.base[TP_LEN] != '-')
        return "traceparent: bad delimiter after trace-flags";
    if (v.base[2] != '-' || v.base[TP_SPAN_AT - 1] != '-' || v.base[TP_FLAGS_AT - 1] != '-')
        return "traceparent: bad delimiter";
    /* Lowercase hex only: the spec requires it and Go rejects A-F (§1.2). */
    if (!tb_lex_hex((struct tb_iov){v.base + TP_TRACE_AT, 32}, out->trace_id, 16, false))
        return "traceparent: bad trace-id";
    if (!tb_lex_hex((struct tb_iov){v.base + TP_SPAN_AT, 16}, out->span_id, 8, false))
        return "traceparent: bad parent-id";
    if (!tb_lex_hex((struct tb_iov){v.base + TP_FLAGS_AT, 2}, &flags, 1, false))
        return "traceparent: bad trace-flags";
    if (tb_is_zero(out->trace_id, sizeof(out->trace_id)))
        return "traceparent: all-zero trace-id";
    if (tb_is_zero(out->span_id, sizeof(out->span_id)))
        return "traceparent: all-zero parent-id";
    /* Any flags are accepted on input; only sampled and random survive
     * (§1.2 implementation quirks, §1.3). */
    out->w3c_flags = flags & (TB_W3C_FLAG_SAMPLED | TB_W3C_FLAG_RANDOM);
    out->sampling = (flags & TB_W3C_FLAG_SAMPLED) ? TB_SAMPLING_ACCEPT : TB_SAMPLING_DENY;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* tracestate                                                               */

/* §1.4 Level 2 key: [a-z0-9] then up to 255 of [a-z0-9_-*\/@]. */
static bool ts_key_ok(struct tb_iov k)
{
    if (k.len == 0 || k.len > TS_MAX_KEY)
        return false;
    for (size_t i = 0; i < k.len; i++) {
        unsigned char c = (unsigned char)k.base[i];

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            continue;
        if (i > 0 && (c == '_' || c == '-' || c == '*' || c == '/' || c == '@'))
            continue;
        return false;
    }
    return true;
}

/* §1.4 value: 1 to 256 of 0x20-0x7E except ',' and '=', not ending in a space. */
static bool ts_value_ok(struct tb_iov v)
{
    if (v.len == 0 || v.len > TS_MAX_VALUE || v.base[v.len - 1] == ' ')
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];

        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return true;
}

/* Splits an OWS-trimmed, non-empty member into key and value at the first
 * '=' and validates both. Leading spaces after '=' belong to the value. */
static bool ts_member_parse(struct tb_iov m, struct tb_iov *key, struct tb_iov *value)
{
    const char *eq = memchr(m.base, '=', m.len);

    if (eq == NULL)
        return false;
    *key = (struct tb_iov){m.base, (size_t)(eq - m.base)};
    *value = (struct tb_iov){eq + 1, m.len - key->len - 1};
    return ts_key_ok(*key) && ts_value_ok(*value);
}

static bool ts_key_is_ours(struct tb_iov key)
{
    return key.len == sizeof(TB_TBSTATE_KEY) - 1 &&
           memcmp(key.base, TB_TBSTATE_KEY, sizeof(TB_TBSTATE_KEY) - 1) == 0;
}

static bool ts_key_seen(const struct tb_iov *keys, size_t num, struct tb_iov key)
{
    for (size_t i = 0; i < num; i++)
        if (keys[i].len == key.len && memcmp(keys[i].base, key.base, key.len) == 0)
            return true;
    return false;
}

/* Steps through the comma-separated list `list` (one header value, or
 * ctx->tracestate): stores the next non-empty member, OWS-trimmed (§1.4),
 * in `*member`. `*pos` is the cursor, 0 at first; returns false at the end. */
static bool ts_next_member(struct tb_iov list, size_t *pos, struct tb_iov *member)
{
    while (*pos < list.len) {
        const char *start = list.base + *pos;
        const char *comma = memchr(start, ',', list.len - *pos);
        size_t len = comma != NULL ? (size_t)(comma - start) : list.len - *pos;

        *pos += len + (comma != NULL);
        *member = tb_lex_trim_ows((struct tb_iov){start, len});
        if (member->len > 0)
            return true;
    }
    return false;
}

/* The members kept from the incoming tracestate, in arrival order. */
struct ts_members {
    struct tb_iov keys[TS_MAX_MEMBERS];
    struct tb_iov members[TS_MAX_MEMBERS]; /* "key=value", borrowed from the headers */
    size_t num;
    size_t bytes; /* sum of member lengths */
    struct tb_iov tbstate;
};

/* Validates every tracestate header of `in` into `ts`. Returns false when the
 * whole tracestate must be dropped (§1.4: an invalid member or more than 32
 * members; the harness at STRICT_LEVEL=2 expects nothing kept then). */
static bool ts_collect(const struct tb_headers *in, struct ts_members *ts)
{
    size_t num_members = 0;
    bool have_tbstate = false;

    memset(ts, 0, sizeof(*ts));
    /* Several tracestate fields form one list, joined in arrival order
     * (RFC 9110 §5.3); splitting each in turn is the same as joining them. */
    for (ptrdiff_t i = tb_headers_find_token(in, TB_HDR_TRACESTATE, 0); i >= 0;
         i = tb_headers_find_token(in, TB_HDR_TRACESTATE, (size_t)i + 1)) {
        struct tb_iov list = in->entries[i].value;
        struct tb_iov member, key, value;
        size_t pos = 0;

        while (ts_next_member(list, &pos, &member)) {
            if (++num_members > TS_MAX_MEMBERS)
                return false;
            if (!ts_member_parse(member, &key, &value))
                return false;
            if (ts_key_is_ours(key)) {
                /* Duplicates: the first occurrence wins, as for any key. */
                if (!have_tbstate)
                    ts->tbstate = value;
                have_tbstate = true;
                continue;
            }
            /* §1.4: a receiver may keep one of duplicate keys; we keep the
             * first, since dropping everything fails the harness. */
            if (ts_key_seen(ts->keys, ts->num, key))
                continue;
            ts->keys[ts->num] = key;
            ts->members[ts->num] = member;
            ts->bytes += member.len;
            ts->num++;
        }
    }
    return true;
}

/* Joins the kept members with ',' into the arena. */
static int ts_join(const struct ts_members *ts, struct tb_arena *arena, struct tb_iov *out)
{
    char *buf, *p;

    *out = (struct tb_iov){NULL, 0};
    if (ts->num == 0)
        return TB_OK;
    buf = tb_arena_alloc(arena, ts->bytes + ts->num - 1);
    if (buf == NULL)
        return TB_ENOSPC;
    p = buf;
    for (size_t i = 0; i < ts->num; i++) {
        if (i > 0)
            *p++ = ',';
        memcpy(p, ts->members[i].base, ts->members[i].len);
        p += ts->members[i].len;
    }
    *out = (struct tb_iov){buf, (size_t)(p - buf)};
    return TB_OK;
}

/* ------------------------------------------------------------------------ */
/* codec                                                                    */

static int tracecontext_extract(const struct tb_headers *in, struct tb_arena *arena,
                                struct tb_trace_ctx *out, const char **why)
{
    struct ts_members ts;
    ptrdiff_t at = tb_headers_find_token(in, TB_HDR_TRACEPARENT, 0);
    const char *err;

    /* §1.5: a tracestate without a traceparent is discarded, so absence of
     * traceparent is absence of the format. */
    if (at < 0)
        return TB_ENOTFOUND;
    /* §1.1: two traceparent fields make the request's context invalid
     * (harness test_traceparent_duplicated), not "first wins". */
    if (tb_headers_find_token(in, TB_HDR_TRACEPARENT, (size_t)at + 1) >= 0) {
        *why = "duplicated traceparent";
        return TB_EINVAL;
    }
    /* The table trims OWS already; trim again so the rule of §1.1 holds
     * whatever built the table. */
    err = tp_parse(tb_lex_trim_ows(in->entries[at].value), out);
    if (err != NULL) {
        *why = err;
        return TB_EINVAL;
    }
    out->format = TB_FORMAT_TRACECONTEXT;
    out->id_width = 128;
    out->extras |= TB_FORMAT_BIT(TB_FORMAT_TRACECONTEXT);

    /* An invalid tracestate never invalidates traceparent (§1.4). */
    if (!ts_collect(in, &ts))
        return TB_OK;
    out->tbstate = ts.tbstate;
    return ts_join(&ts, arena, &out->tracestate);
}

/* Writes "00-<trace>-<span>-<flags>" into the arena. */
static int tp_format(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                     struct tb_arena *arena, struct tb_iov *out)
{
    uint8_t flags = ctx->w3c_flags & TB_W3C_FLAG_RANDOM;
    char *buf = tb_arena_alloc(arena, TP_LEN);

    if (buf == NULL)
        return TB_ENOSPC;
    /* §12.2: DEFER and DENY both travel as "not sampled". */
    if (tb_sampling_is_sampled(ctx->sampling))
        flags |= TB_W3C_FLAG_SAMPLED;
    /* Always version 00, also when a future version arrived (§1.2). */
    memcpy(buf, "00-", 3);
    tb_hex_encode(ctx->trace_id, 16, buf + TP_TRACE_AT);
    buf[TP_SPAN_AT - 1] = '-';
    tb_hex_encode(hop->span_id, 8, buf + TP_SPAN_AT);
    buf[TP_FLAGS_AT - 1] = '-';
    tb_hex_encode(&flags, 1, buf + TP_FLAGS_AT);
    *out = (struct tb_iov){buf, TP_LEN};
    return TB_OK;
}

/* Builds the outgoing tracestate: our member left-most (§1.4 mutation
 * rules), then the others in order, at most 32 in all, dropping from the
 * right. Members that are not valid (a context built elsewhere) are left out
 * so that nothing but 0x20-0x7E reaches the wire. `out->len` is 0 when there
 * is nothing to send. */
static int ts_format(const struct tb_trace_ctx *ctx, struct tb_arena *arena, struct tb_iov *out)
{
    struct tb_iov keys[TS_MAX_MEMBERS];
    struct tb_iov member, key, value;
    size_t num = 0, pos = 0;
    char *buf, *p;

    *out = (struct tb_iov){NULL, 0};
    if (ctx->tbstate.len == 0 && ctx->tracestate.len == 0)
        return TB_OK;
    buf =
        tb_arena_alloc(arena, sizeof(TB_TBSTATE_KEY) + ctx->tbstate.len + 1 + ctx->tracestate.len);
    if (buf == NULL)
        return TB_ENOSPC;
    p = buf;
    if (ctx->tbstate.len > 0 && ts_value_ok(ctx->tbstate)) {
        memcpy(p, TB_TBSTATE_KEY "=", sizeof(TB_TBSTATE_KEY));
        p += sizeof(TB_TBSTATE_KEY);
        memcpy(p, ctx->tbstate.base, ctx->tbstate.len);
        p += ctx->tbstate.len;
        keys[num++] = TB_IOV_LIT(TB_TBSTATE_KEY);
    }
    while (num < TS_MAX_MEMBERS && ts_next_member(ctx->tracestate, &pos, &member)) {
        /* Our member is only ever the one built from ctx->tbstate; a sender
         * must not repeat a key (§1.4). */
        if (!ts_member_parse(member, &key, &value) || ts_key_is_ours(key) ||
            ts_key_seen(keys, num, key))
            continue;
        if (num > 0)
            *p++ = ',';
        memcpy(p, member.base, member.len);
        p += member.len;
        keys[num++] = key;
    }
    if (num > 0)
        *out = (struct tb_iov){buf, (size_t)(p - buf)};
    return TB_OK;
}

static int tracecontext_inject(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                               struct tb_arena *arena, struct tb_headers *out,
                               size_t *baggage_dropped)
{
    struct tb_iov value;
    int ret;

    (void)baggage_dropped; /* no baggage carrier */
    ret = tp_format(ctx, hop, arena, &value);
    if (ret != TB_OK)
        return ret;
    ret = tb_ctx_emit(arena, out, TB_HDR_TRACEPARENT, value);
    if (ret != TB_OK)
        return ret;
    ret = ts_format(ctx, arena, &value);
    if (ret != TB_OK || value.len == 0)
        return ret;
    return tb_ctx_emit(arena, out, TB_HDR_TRACESTATE, value);
}

const struct tb_propagator tb_propagator_tracecontext = {
    .name = "tracecontext",
    .format = TB_FORMAT_TRACECONTEXT,
    .tokens = tracecontext_tokens,
    .num_tokens = TB_ARRAY_SIZE(tracecontext_tokens),
    .baggage_prefix = NULL,
    .extract = tracecontext_extract,
    .inject = tracecontext_inject,
};
