/* SPDX-License-Identifier: MIT
 * Jaeger propagation (protocols.md §4): `uber-trace-id`, `jaeger-debug-id`,
 * and baggage in `uberctx-<key>` headers (URL-encoded values) and the ad-hoc
 * `jaeger-baggage: k1=v1, k2=v2` header. Writes `uber-trace-id`, the debug
 * id when one is known, and one `uberctx-` header per baggage item.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

#define BAGGAGE_PREFIX "uberctx-"
#define BAGGAGE_PREFIX_LEN (sizeof(BAGGAGE_PREFIX) - 1)

/* Longest `uber-trace-id` we write: 32 hex ':' 16 hex ":0:" flag. */
#define UBER_TRACE_ID_MAX (32 + 1 + 16 + 3 + 1)

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static void set_sampling(struct tb_trace_ctx *out, enum tb_sampling sampling)
{
    out->sampling = sampling;
    out->w3c_flags = tb_sampling_is_sampled(sampling) ? TB_W3C_FLAG_SAMPLED : 0;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* `s` lower-cased into the arena (`s` non-empty), or NULL when full. */
static char *lower_dup(struct tb_arena *arena, struct tb_iov s)
{
    char *p = tb_arena_memdup(arena, s.base, s.len);

    if (p != NULL)
        for (size_t i = 0; i < s.len; i++)
            p[i] = lower(p[i]);
    return p;
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

/* A debug id we accept and re-emit: printable ASCII (space inside only, as
 * header values are trimmed), so that it can never break a header. */
static bool is_debug_id(struct tb_iov s)
{
    if (s.len == 0 || s.base[0] == ' ' || s.base[s.len - 1] == ' ')
        return false;
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.base[i] < 0x20 || (unsigned char)s.base[i] > 0x7e)
            return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* extract                                                                  */

/* Splits `s` at the first `sep`: `*head` before it, `s` after it. False when
 * there is no `sep`. */
static bool split(struct tb_iov *s, char sep, struct tb_iov *head)
{
    const char *at = s->len > 0 ? memchr(s->base, sep, s->len) : NULL;

    if (at == NULL)
        return false;
    *head = (struct tb_iov){s->base, (size_t)(at - s->base)};
    s->len -= head->len + 1;
    s->base = at + 1;
    return true;
}

/* Parses an `uber-trace-id` value (§4) into `out`. */
static int parse_uber_trace_id(struct tb_iov v, struct tb_arena *arena, struct tb_trace_ctx *out,
                               const char **why)
{
    struct tb_iov trace, span, parent;
    uint8_t flags;

    /* Some clients URL-encode the value (`%3A` for ':'); Java decodes only
     * when no ':' is present, which never alters a plain value (§4). */
    if (v.len > 0 && memchr(v.base, ':', v.len) == NULL) {
        char *buf = tb_arena_alloc(arena, v.len);
        size_t n;

        if (buf == NULL)
            return TB_ENOSPC;
        if (!tb_percent_decode(v, buf, &n, false)) {
            *why = "uber-trace-id: bad percent-encoding";
            return TB_EINVAL;
        }
        v = (struct tb_iov){buf, n};
    }
    /* Exactly four ':'-separated parts: the last part must hold no ':'. */
    if (!split(&v, ':', &trace) || !split(&v, ':', &span) || !split(&v, ':', &parent) ||
        memchr(v.base, ':', v.len) != NULL) {
        *why = "uber-trace-id: not four ':'-separated fields";
        return TB_EINVAL;
    }
    /* 1 to 32 hex digits of any case, left-padded: legacy clients print
     * ids with %x and parse them with ParseUint (§4, §12.1). */
    if (!tb_lex_hex_padded(trace, out->trace_id, 16, true) ||
        tb_is_zero(out->trace_id, sizeof(out->trace_id))) {
        *why = "uber-trace-id: trace id is not 1 to 32 hex digits, or is zero";
        return TB_EINVAL;
    }
    out->id_width = trace.len <= 16 ? 64 : 128;
    if (!tb_lex_hex_padded(span, out->span_id, 8, true) ||
        tb_is_zero(out->span_id, sizeof(out->span_id))) {
        *why = "uber-trace-id: span id is not 1 to 16 hex digits, or is zero";
        return TB_EINVAL;
    }
    /* The parent field is deprecated and ignored whatever it holds (§4). The
     * flags are one byte as one or two hex digits; the values anyone sends
     * (0 to 3) read the same as decimal, which some parsers use. */
    (void)parent;
    if (!tb_lex_hex_padded(v, &flags, 1, true)) {
        *why = "uber-trace-id: flags are not one or two hex digits";
        return TB_EINVAL;
    }
    /* 0x01 sampled, 0x02 debug, which counts only with sampled (§4, §16 #30). */
    if (flags & 0x01)
        set_sampling(out, flags & 0x02 ? TB_SAMPLING_DEBUG : TB_SAMPLING_ACCEPT);
    else
        set_sampling(out, TB_SAMPLING_DENY);
    return TB_OK;
}

/* Adds the baggage of every `uberctx-<key>` header, in arrival order: the key
 * is the lower-cased name suffix, the value is URL-decoded. Jaeger's own
 * clients (Go url.QueryEscape, Java URLEncoder) write a space as '+', so '+'
 * decodes to a space; our own output encodes '+' as %2B. */
static int extract_uberctx(const struct tb_headers *in, struct tb_arena *arena,
                           struct tb_trace_ctx *out)
{
    for (size_t i = 0; i < in->num; i++) {
        const struct tb_header *h = &in->entries[i];
        struct tb_iov key;
        struct tb_iov value = {"", 0};
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
        if (h->value.len > 0) {
            char *buf = tb_arena_alloc(arena, h->value.len);
            size_t n;

            if (buf == NULL)
                return TB_ENOSPC;
            if (!tb_percent_decode(h->value, buf, &n, true)) {
                out->baggage.dropped++;
                continue;
            }
            value = (struct tb_iov){buf, n};
        }
        key_buf = lower_dup(arena, key);
        if (key_buf == NULL)
            return TB_ENOSPC;
        rc = tb_baggage_put(arena, &out->baggage, (struct tb_iov){key_buf, key.len}, value,
                            (struct tb_iov){"", 0});
        if (rc != TB_OK)
            return rc;
    }
    return TB_OK;
}

/* Adds the items of every `jaeger-baggage: k1=v1, k2=v2` header (§4): split
 * on ',' then on the first '=', spaces around both trimmed, values raw. An
 * item without '=' or whose key is not a token is dropped and counted. */
static int extract_jaeger_baggage(const struct tb_headers *in, struct tb_arena *arena,
                                  struct tb_trace_ctx *out)
{
    for (ptrdiff_t at = tb_headers_find_token(in, TB_HDR_JAEGER_BAGGAGE, 0); at >= 0;
         at = tb_headers_find_token(in, TB_HDR_JAEGER_BAGGAGE, (size_t)at + 1)) {
        struct tb_iov rest = in->entries[at].value;

        while (rest.len > 0) {
            struct tb_iov item, key;
            int rc;

            if (!split(&rest, ',', &item)) {
                item = rest;
                rest.len = 0;
            }
            item = tb_lex_trim_ows(item);
            if (item.len == 0)
                continue;
            if (!split(&item, '=', &key)) {
                out->baggage.dropped++;
                continue;
            }
            key = tb_lex_trim_ows(key);
            if (!is_token(key)) {
                out->baggage.dropped++;
                continue;
            }
            rc = tb_baggage_put(arena, &out->baggage, key, tb_lex_trim_ows(item),
                                (struct tb_iov){"", 0});
            if (rc != TB_OK)
                return rc;
        }
    }
    return TB_OK;
}

static int jaeger_extract(const struct tb_headers *in, struct tb_arena *arena,
                          struct tb_trace_ctx *out, const char **why)
{
    ptrdiff_t trace_at = tb_headers_find_token(in, TB_HDR_UBER_TRACE_ID, 0);
    ptrdiff_t debug_at = tb_headers_find_token(in, TB_HDR_JAEGER_DEBUG_ID, 0);
    int rc;

    if (trace_at >= 0) {
        rc = parse_uber_trace_id(in->entries[trace_at].value, arena, out, why);
        if (rc != TB_OK)
            return rc;
    }
    if (debug_at >= 0) {
        struct tb_iov debug_id = in->entries[debug_at].value;

        if (is_debug_id(debug_id)) {
            out->jaeger.debug_id = debug_id;
            out->extras |= TB_FORMAT_BIT(TB_FORMAT_JAEGER);
            /* Without a trace, the debug id asks for a new debug trace (§4). */
            if (trace_at < 0)
                set_sampling(out, TB_SAMPLING_DEBUG);
        } else if (trace_at < 0) {
            *why = "jaeger-debug-id: empty or not printable ASCII";
            return TB_EINVAL;
        }
        /* Next to a valid uber-trace-id a bad debug id is only ignored. */
    }
    rc = extract_uberctx(in, arena, out);
    if (rc != TB_OK)
        return rc;
    rc = extract_jaeger_baggage(in, arena, out);
    if (rc != TB_OK)
        return rc;
    if (trace_at < 0 && debug_at < 0 && out->baggage.num == 0 && out->baggage.dropped == 0)
        return TB_ENOTFOUND;
    out->format = TB_FORMAT_JAEGER;
    return TB_OK;
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

/* What encodeURIComponent leaves as is: ALPHA DIGIT - _ . ! ~ * ' ( ). */
static bool uri_component_keep(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("-_.!~*'()", c) != NULL;
}

/* True when an earlier item of `bag` than `index` has the same key ignoring
 * case: both would travel in the same `uberctx-` header name. */
static bool key_taken(const struct tb_baggage *bag, size_t index)
{
    struct tb_iov key = bag->items[index].key;

    for (size_t i = 0; i < index; i++)
        if (bag->items[i].key.len == key.len &&
            tb_memcaseeq(bag->items[i].key.base, key.base, key.len))
            return true;
    return false;
}

/* One `uberctx-<lower-case key>: <encodeURIComponent(value)>` per item. W3C
 * properties have no place in this carrier and are left out. */
static int inject_baggage(const struct tb_baggage *bag, struct tb_arena *arena,
                          struct tb_headers *out, size_t *baggage_dropped)
{
    for (size_t i = 0; i < bag->num; i++) {
        const struct tb_baggage_item *item = &bag->items[i];
        char *name, *value = NULL;
        size_t value_len = 0;
        int rc;

        if (!is_token(item->key) || key_taken(bag, i)) {
            (*baggage_dropped)++;
            continue;
        }
        name = tb_arena_alloc(arena, BAGGAGE_PREFIX_LEN + item->key.len);
        if (name == NULL)
            return TB_ENOSPC;
        memcpy(name, BAGGAGE_PREFIX, BAGGAGE_PREFIX_LEN);
        for (size_t k = 0; k < item->key.len; k++)
            name[BAGGAGE_PREFIX_LEN + k] = lower(item->key.base[k]);
        if (item->value.len > 0) {
            value = tb_arena_alloc(arena, 3 * item->value.len);
            if (value == NULL)
                return TB_ENOSPC;
            value_len = tb_percent_encode(item->value, value, uri_component_keep);
        }
        /* A runtime name: tb_headers_add looks its token up. */
        rc = tb_headers_add(arena, out, (struct tb_iov){name, BAGGAGE_PREFIX_LEN + item->key.len},
                            (struct tb_iov){value != NULL ? value : "", value_len});
        if (rc != TB_OK)
            return rc;
    }
    return TB_OK;
}

/* Flags for §12.2: 1 accept, 3 debug (sampled + debug), 0 deny or defer. */
static char flags_char(enum tb_sampling sampling)
{
    switch (sampling) {
    case TB_SAMPLING_DEFER:
    case TB_SAMPLING_DENY:
        return '0';
    case TB_SAMPLING_ACCEPT:
        return '1';
    case TB_SAMPLING_DEBUG:
        return '3';
    }
    tb_bug("illegal sampling state");
}

static int jaeger_inject(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                         struct tb_arena *arena, struct tb_headers *out, size_t *baggage_dropped)
{
    int rc;

    /* An all-zero id is invalid on the wire (§12.1): no uber-trace-id then. */
    if (!tb_is_zero(ctx->trace_id, sizeof(ctx->trace_id)) &&
        !tb_is_zero(hop->span_id, sizeof(hop->span_id))) {
        char *buf = tb_arena_alloc(arena, UBER_TRACE_ID_MAX);
        size_t n;

        if (buf == NULL)
            return TB_ENOSPC;
        /* 16 digits for a 64-bit id (senders SHOULD send 16 or 32, §4). */
        if (ctx->id_width == 64 && tb_is_zero(ctx->trace_id, 8)) {
            tb_hex_encode(ctx->trace_id + 8, 8, buf);
            n = 16;
        } else {
            tb_hex_encode(ctx->trace_id, 16, buf);
            n = 32;
        }
        buf[n++] = ':';
        tb_hex_encode(hop->span_id, 8, buf + n);
        n += 16;
        memcpy(buf + n, ":0:", 3);
        n += 3;
        buf[n++] = flags_char(ctx->sampling);
        rc = tb_ctx_emit(arena, out, TB_HDR_UBER_TRACE_ID, (struct tb_iov){buf, n});
        if (rc != TB_OK)
            return rc;
    }
    if (is_debug_id(ctx->jaeger.debug_id)) {
        rc = tb_ctx_emit(arena, out, TB_HDR_JAEGER_DEBUG_ID, ctx->jaeger.debug_id);
        if (rc != TB_OK)
            return rc;
    }
    return inject_baggage(&ctx->baggage, arena, out, baggage_dropped);
}

/* ------------------------------------------------------------------------ */
/* codec                                                                    */

static const enum tb_hdr_token jaeger_tokens[] = {
    TB_HDR_UBER_TRACE_ID,
    TB_HDR_JAEGER_DEBUG_ID,
    TB_HDR_JAEGER_BAGGAGE,
};

/* `jaeger`: uber-trace-id, jaeger-debug-id and uberctx- baggage. */
const struct tb_propagator tb_propagator_jaeger = {
    .name = "jaeger",
    .format = TB_FORMAT_JAEGER,
    .tokens = jaeger_tokens,
    .num_tokens = TB_ARRAY_SIZE(jaeger_tokens),
    .baggage_prefix = BAGGAGE_PREFIX,
    .extract = jaeger_extract,
    .inject = jaeger_inject,
};
