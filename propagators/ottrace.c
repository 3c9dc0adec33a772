/* SPDX-License-Identifier: MIT
 * OpenTracing basic tracer / Lightstep propagation (protocols.md §5):
 * `ot-tracer-traceid`, `ot-tracer-spanid`, `ot-tracer-sampled`, and baggage
 * as raw `ot-baggage-<key>` headers, which travel only with a valid span
 * context. The format is 64-bit: a 128-bit trace id leaves as its right half.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

#define BAGGAGE_PREFIX "ot-baggage-"
#define BAGGAGE_PREFIX_LEN (sizeof(BAGGAGE_PREFIX) - 1)

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_token(struct tb_iov s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!tb_lex_is_tchar((unsigned char)s.base[i]))
            return false;
    return true;
}

/* True when every byte of `s` can stand in a header value as is: no
 * control byte (CR, LF, NUL, HTAB, ...) and no DEL. Bytes >= 0x80 pass as
 * RFC 9110 obs-text, so UTF-8 values travel unchanged. */
static bool is_header_safe(struct tb_iov s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.base[i] < 0x20 || (unsigned char)s.base[i] == 0x7f)
            return false;
    return true;
}

/* The first value of `token`, as every header of this format is single. */
static bool first_value(const struct tb_headers *in, enum tb_hdr_token token, struct tb_iov *value)
{
    ptrdiff_t at = tb_headers_find_token(in, token, 0);

    if (at < 0)
        return false;
    *value = in->entries[at].value;
    return true;
}

/* ------------------------------------------------------------------------ */
/* extract                                                                  */

/* Adds every `ot-baggage-<key>` header: key = lower-cased suffix (§5), value
 * raw. A suffix that is not a token is dropped and counted. */
static int extract_baggage(const struct tb_headers *in, struct tb_arena *arena,
                           struct tb_trace_ctx *out)
{
    for (size_t i = 0; i < in->num; i++) {
        const struct tb_header *h = &in->entries[i];
        struct tb_iov key;
        char *key_buf;
        int rc;

        if (h->token != TB_HDR_UNKNOWN || h->name.len < BAGGAGE_PREFIX_LEN ||
            !tb_memcaseeq(h->name.base, BAGGAGE_PREFIX, BAGGAGE_PREFIX_LEN))
            continue;
        key = (struct tb_iov){h->name.base + BAGGAGE_PREFIX_LEN, h->name.len - BAGGAGE_PREFIX_LEN};
        if (!is_token(key)) {
            out->baggage.dropped++;
            continue;
        }
        key_buf = tb_arena_memdup(arena, key.base, key.len);
        if (key_buf == NULL)
            return TB_ENOSPC;
        for (size_t k = 0; k < key.len; k++)
            key_buf[k] = lower(key_buf[k]);
        rc = tb_baggage_put(arena, &out->baggage, (struct tb_iov){key_buf, key.len}, h->value,
                            (struct tb_iov){"", 0});
        if (rc != TB_OK)
            return rc;
    }
    return TB_OK;
}

static int ottrace_extract(const struct tb_headers *in, struct tb_arena *arena,
                           struct tb_trace_ctx *out, const char **why)
{
    struct tb_iov trace, span, sampled;
    bool has_trace = first_value(in, TB_HDR_OT_TRACER_TRACEID, &trace);
    bool has_span = first_value(in, TB_HDR_OT_TRACER_SPANID, &span);
    bool has_sampled = first_value(in, TB_HDR_OT_TRACER_SAMPLED, &sampled);

    /* Baggage alone is not a context: it travels only with one (§5). */
    if (!has_trace && !has_span && !has_sampled)
        return TB_ENOTFOUND;
    if (has_sampled) {
        /* `true`/`false` in any case (Java), and `1`/`0` (Go). */
        if (tb_iov_caseeq(sampled, TB_STRLIT("true")) || tb_iov_caseeq(sampled, TB_STRLIT("1")))
            out->sampling = TB_SAMPLING_ACCEPT;
        else if (tb_iov_caseeq(sampled, TB_STRLIT("false")) ||
                 tb_iov_caseeq(sampled, TB_STRLIT("0")))
            out->sampling = TB_SAMPLING_DENY;
        else {
            *why = "ot-tracer-sampled: not true, false, 1 or 0";
            return TB_EINVAL;
        }
        out->w3c_flags = tb_sampling_is_sampled(out->sampling) ? TB_W3C_FLAG_SAMPLED : 0;
    }
    if (has_trace != has_span) {
        *why = "ot-tracer-traceid and ot-tracer-spanid must come together";
        return TB_EINVAL;
    }
    out->format = TB_FORMAT_OTTRACE;
    if (!has_trace)
        return TB_OK; /* sampling-only */
    /* 16 or 32 lower-case hex (§5; Go and Java reject upper case); 16 digits
     * are a 64-bit id, left-padded (§12.1). */
    memset(out->trace_id, 0, sizeof(out->trace_id));
    if (trace.len == 16 && tb_lex_hex(trace, out->trace_id + 8, 8, false)) {
        out->id_width = 64;
    } else if (trace.len != 32 || !tb_lex_hex(trace, out->trace_id, 16, false)) {
        *why = "ot-tracer-traceid: not 16 or 32 lower-case hex digits";
        return TB_EINVAL;
    }
    if (tb_is_zero(out->trace_id, sizeof(out->trace_id))) {
        *why = "ot-tracer-traceid: zero";
        return TB_EINVAL;
    }
    if (!tb_lex_hex(span, out->span_id, 8, false) ||
        tb_is_zero(out->span_id, sizeof(out->span_id))) {
        *why = "ot-tracer-spanid: not 16 lower-case hex digits, or zero";
        return TB_EINVAL;
    }
    return extract_baggage(in, arena, out);
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

/* True when an earlier item of `bag` than `index` has the same key ignoring
 * case: both would travel in the same `ot-baggage-` header name. */
static bool key_taken(const struct tb_baggage *bag, size_t index)
{
    struct tb_iov key = bag->items[index].key;

    for (size_t i = 0; i < index; i++)
        if (bag->items[i].key.len == key.len &&
            tb_memcaseeq(bag->items[i].key.base, key.base, key.len))
            return true;
    return false;
}

/* One `ot-baggage-<lower-case key>: <raw value>` per item; W3C properties
 * have no place in this carrier and are left out. */
static int inject_baggage(const struct tb_baggage *bag, struct tb_arena *arena,
                          struct tb_headers *out, size_t *baggage_dropped)
{
    for (size_t i = 0; i < bag->num; i++) {
        const struct tb_baggage_item *item = &bag->items[i];
        char *name;
        int rc;

        if (!is_token(item->key) || !is_header_safe(item->value) || key_taken(bag, i)) {
            (*baggage_dropped)++;
            continue;
        }
        name = tb_arena_alloc(arena, BAGGAGE_PREFIX_LEN + item->key.len);
        if (name == NULL)
            return TB_ENOSPC;
        memcpy(name, BAGGAGE_PREFIX, BAGGAGE_PREFIX_LEN);
        for (size_t k = 0; k < item->key.len; k++)
            name[BAGGAGE_PREFIX_LEN + k] = lower(item->key.base[k]);
        /* A runtime name: tb_headers_add looks its token up. */
        rc = tb_headers_add(arena, out, (struct tb_iov){name, BAGGAGE_PREFIX_LEN + item->key.len},
                            item->value);
        if (rc != TB_OK)
            return rc;
    }
    return TB_OK;
}

/* traceid = the right-most 16 hex digits (§5, as Go, Java and JS), spanid =
 * the hop's span, sampled true for ACCEPT and DEBUG, false otherwise. */
static int ottrace_inject(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                          struct tb_arena *arena, struct tb_headers *out, size_t *baggage_dropped)
{
    char *buf;
    size_t trace_len = 16;
    int rc;

    /* Without a valid context nothing is sent, baggage included (§5). */
    if (tb_is_zero(ctx->trace_id, sizeof(ctx->trace_id)) ||
        tb_is_zero(hop->span_id, sizeof(hop->span_id)))
        return TB_OK;
    buf = tb_arena_alloc(arena, 32 + 16);
    if (buf == NULL)
        return TB_ENOSPC;
    /* A trace id whose right half is zero would truncate to an invalid id;
     * the 32-digit form, which OT readers accept, keeps it valid. */
    if (tb_is_zero(ctx->trace_id + 8, 8)) {
        tb_hex_encode(ctx->trace_id, 16, buf);
        trace_len = 32;
    } else {
        tb_hex_encode(ctx->trace_id + 8, 8, buf);
    }
    tb_hex_encode(hop->span_id, 8, buf + trace_len);
    rc = tb_ctx_emit(arena, out, TB_HDR_OT_TRACER_TRACEID, (struct tb_iov){buf, trace_len});
    if (rc != TB_OK)
        return rc;
    rc = tb_ctx_emit(arena, out, TB_HDR_OT_TRACER_SPANID, (struct tb_iov){buf + trace_len, 16});
    if (rc != TB_OK)
        return rc;
    rc = tb_ctx_emit(arena, out, TB_HDR_OT_TRACER_SAMPLED,
                     tb_sampling_is_sampled(ctx->sampling) ? TB_IOV_LIT("true")
                                                           : TB_IOV_LIT("false"));
    if (rc != TB_OK)
        return rc;
    return inject_baggage(&ctx->baggage, arena, out, baggage_dropped);
}

/* ------------------------------------------------------------------------ */
/* codec                                                                    */

static const enum tb_hdr_token ottrace_tokens[] = {
    TB_HDR_OT_TRACER_TRACEID,
    TB_HDR_OT_TRACER_SPANID,
    TB_HDR_OT_TRACER_SAMPLED,
};

/* `ottrace`: ot-tracer-* ids (64-bit on output) and ot-baggage- baggage. */
const struct tb_propagator tb_propagator_ottrace = {
    .name = "ottrace",
    .format = TB_FORMAT_OTTRACE,
    .tokens = ottrace_tokens,
    .num_tokens = TB_ARRAY_SIZE(ottrace_tokens),
    .baggage_prefix = BAGGAGE_PREFIX,
    .extract = ottrace_extract,
    .inject = ottrace_inject,
};
