/* SPDX-License-Identifier: MIT
 * W3C Baggage (`baggage`), protocols.md §2 and §12.3. Extract splits every
 * baggage field into list members, drops the malformed ones one by one and
 * keeps the rest with percent-decoded values (ill-formed UTF-8 replaced by
 * U+FFFD); inject writes the context's baggage back percent-encoded within
 * the W3C limits. The format carries no trace ids: it only moves baggage.
 */
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

static const enum tb_hdr_token baggage_tokens[] = {TB_HDR_BAGGAGE};

/* §2 baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E, i.e.
 * visible ASCII except '"', ',', ';' and '\'. */
static bool bg_is_octet(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

/* What inject leaves unencoded: '%' is a baggage-octet but must be encoded
 * itself, or the receiver would decode it (§2). */
static bool bg_keep_unencoded(unsigned char c)
{
    return bg_is_octet(c) && c != '%';
}

static bool bg_is_token(struct tb_iov s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!tb_lex_is_tchar((unsigned char)s.base[i]))
            return false;
    return true;
}

static bool bg_is_octets(struct tb_iov s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!bg_is_octet((unsigned char)s.base[i]))
            return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* UTF-8                                                                    */

/* Length of the well-formed UTF-8 sequence at `s[0..n)` (Unicode Table 3-7),
 * or 0 when it is ill-formed; then `*bad` is the length of its maximal
 * subpart: the bytes one U+FFFD stands for (Unicode §3.9 best practice, also
 * what the WHATWG decoder does). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t need, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    for (i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return need + 1;
}

static bool utf8_is_valid(const char *s, size_t n)
{
    size_t bad, len;

    for (size_t i = 0; i < n; i += len) {
        len = utf8_seq((const unsigned char *)s + i, n - i, &bad);
        if (len == 0)
            return false;
    }
    return true;
}

/* Copies `s[0..n)` to `out` (room for 3 * n bytes) with every maximal
 * ill-formed subpart replaced by U+FFFD; returns the output length. */
static size_t utf8_sanitize(const char *s, size_t n, char *out)
{
    size_t o = 0, bad, len;

    for (size_t i = 0; i < n; i += len) {
        len = utf8_seq((const unsigned char *)s + i, n - i, &bad);
        if (len > 0) {
            memcpy(out + o, s + i, len);
            o += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            len = bad;
        }
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* extract                                                                  */

/* §2 property = key OWS "=" OWS value / key OWS. `p` is OWS-trimmed. */
static bool bg_property_ok(struct tb_iov p)
{
    const char *eq = memchr(p.base, '=', p.len);

    if (eq == NULL)
        return bg_is_token(p);
    return bg_is_token(tb_lex_trim_ows((struct tb_iov){p.base, (size_t)(eq - p.base)})) &&
           bg_is_octets(
               tb_lex_trim_ows((struct tb_iov){eq + 1, p.len - (size_t)(eq - p.base) - 1}));
}

/* Checks the properties `props` (the trimmed text after the member's first
 * ';'), and returns in `*out` the form to keep: `props` itself, or, when it
 * holds a HTAB (legal OWS, but not a byte inject may send), the properties
 * re-joined with ';' and their OWS removed. Returns TB_OK, TB_EINVAL for a
 * malformed property, or TB_ENOSPC. */
static int bg_props_parse(struct tb_iov props, struct tb_arena *arena, struct tb_iov *out)
{
    bool has_tab = memchr(props.base, '\t', props.len) != NULL;
    char *buf = NULL, *p = NULL;
    size_t pos = 0;

    *out = props;
    if (has_tab) {
        buf = tb_arena_alloc(arena, props.len);
        if (buf == NULL)
            return TB_ENOSPC;
        p = buf;
    }
    while (pos <= props.len) {
        const char *start = props.base + pos;
        const char *semi = memchr(start, ';', props.len - pos);
        size_t len = semi != NULL ? (size_t)(semi - start) : props.len - pos;
        struct tb_iov prop = tb_lex_trim_ows((struct tb_iov){start, len});
        const char *eq;

        if (!bg_property_ok(prop))
            return TB_EINVAL;
        pos += len + 1;
        if (!has_tab)
            continue;
        if (p != buf)
            *p++ = ';';
        eq = memchr(prop.base, '=', prop.len);
        if (eq == NULL) {
            memcpy(p, prop.base, prop.len);
            p += prop.len;
        } else {
            struct tb_iov k = tb_lex_trim_ows((struct tb_iov){prop.base, (size_t)(eq - prop.base)});
            struct tb_iov v =
                tb_lex_trim_ows((struct tb_iov){eq + 1, prop.len - (size_t)(eq - prop.base) - 1});

            memcpy(p, k.base, k.len);
            p += k.len;
            *p++ = '=';
            memcpy(p, v.base, v.len);
            p += v.len;
        }
    }
    if (has_tab)
        *out = (struct tb_iov){buf, (size_t)(p - buf)};
    return TB_OK;
}

/* Percent-decodes `raw` (baggage-octets) into `*out`: borrowed when there is
 * nothing to decode, else built in the arena, with ill-formed UTF-8 replaced
 * by U+FFFD (§2). Returns TB_OK, TB_EINVAL on a bad escape, or TB_ENOSPC. */
static int bg_value_decode(struct tb_iov raw, struct tb_arena *arena, struct tb_iov *out)
{
    char *dec, *clean;
    size_t dec_len;

    /* Baggage-octets are ASCII, so only decoded bytes can be ill-formed. */
    if (memchr(raw.base, '%', raw.len) == NULL) {
        *out = raw;
        return TB_OK;
    }
    dec = tb_arena_alloc(arena, raw.len);
    if (dec == NULL)
        return TB_ENOSPC;
    /* Percent-encoding, not form encoding: '+' stays '+'. */
    if (!tb_percent_decode(raw, dec, &dec_len, false))
        return TB_EINVAL;
    if (utf8_is_valid(dec, dec_len)) {
        *out = (struct tb_iov){dec, dec_len};
        return TB_OK;
    }
    clean = tb_arena_alloc(arena, 3 * dec_len);
    if (clean == NULL)
        return TB_ENOSPC;
    *out = (struct tb_iov){clean, utf8_sanitize(dec, dec_len, clean)};
    return TB_OK;
}

/* Parses one OWS-trimmed, non-empty list member and puts it into `bag`.
 * Returns TB_OK, TB_EINVAL (member malformed: the caller drops it) or
 * TB_ENOSPC. */
static int bg_member_parse(struct tb_iov m, struct tb_arena *arena, struct tb_baggage *bag)
{
    const char *semi = memchr(m.base, ';', m.len);
    struct tb_iov kv = {m.base, semi != NULL ? (size_t)(semi - m.base) : m.len};
    struct tb_iov key, raw, value, props = {NULL, 0};
    const char *eq = memchr(kv.base, '=', kv.len);
    int ret;

    /* list-member = key OWS "=" OWS value; split on the first '=' since a
     * value may hold more of them (§2). */
    if (eq == NULL)
        return TB_EINVAL;
    key = tb_lex_trim_ows((struct tb_iov){kv.base, (size_t)(eq - kv.base)});
    raw = tb_lex_trim_ows((struct tb_iov){eq + 1, kv.len - (size_t)(eq - kv.base) - 1});
    if (!bg_is_token(key) || !bg_is_octets(raw))
        return TB_EINVAL;
    if (semi != NULL) {
        struct tb_iov rest = {semi + 1, m.len - kv.len - 1};

        ret = bg_props_parse(tb_lex_trim_ows(rest), arena, &props);
        if (ret != TB_OK)
            return ret;
    }
    ret = bg_value_decode(raw, arena, &value);
    if (ret != TB_OK)
        return ret;
    /* tb_baggage_put applies the 64-member / 8192-byte limits, dropping
     * whole members only (§2). */
    return tb_baggage_put(arena, bag, key, value, props);
}

static int baggage_extract(const struct tb_headers *in, struct tb_arena *arena,
                           struct tb_trace_ctx *out, const char **why)
{
    ptrdiff_t first = tb_headers_find_token(in, TB_HDR_BAGGAGE, 0);
    size_t num_valid = 0;

    if (first < 0)
        return TB_ENOTFOUND;
    out->format = TB_FORMAT_BAGGAGE;
    /* Several baggage fields are one list (§2): walk them in order. */
    for (ptrdiff_t i = first; i >= 0;
         i = tb_headers_find_token(in, TB_HDR_BAGGAGE, (size_t)i + 1)) {
        struct tb_iov list = in->entries[i].value;
        size_t pos = 0;

        while (pos < list.len) {
            const char *start = list.base + pos;
            const char *comma = memchr(start, ',', list.len - pos);
            size_t len = comma != NULL ? (size_t)(comma - start) : list.len - pos;
            struct tb_iov member = tb_lex_trim_ows((struct tb_iov){start, len});
            int ret;

            pos += len + 1;
            /* An empty element of the list carries nothing to drop. */
            if (member.len == 0)
                continue;
            ret = bg_member_parse(member, arena, &out->baggage);
            if (ret == TB_ENOSPC)
                return ret;
            /* §2 leaves malformed lists undefined; like Go and Java we drop
             * only the offending member. */
            if (ret == TB_EINVAL) {
                out->baggage.dropped++;
                continue;
            }
            num_valid++;
        }
    }
    if (num_valid == 0) {
        *why = "baggage: no valid list member";
        return TB_EINVAL;
    }
    out->extras |= TB_FORMAT_BIT(TB_FORMAT_BAGGAGE);
    return TB_OK;
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

/* Length of `v` once percent-encoded by inject. */
static size_t bg_encoded_len(struct tb_iov v)
{
    size_t n = v.len;

    for (size_t i = 0; i < v.len; i++)
        if (!bg_keep_unencoded((unsigned char)v.base[i]))
            n += 2;
    return n;
}

/* Properties are re-emitted raw: they must already be wire-safe. */
static bool bg_props_sendable(struct tb_iov props)
{
    for (size_t i = 0; i < props.len; i++) {
        unsigned char c = (unsigned char)props.base[i];

        if (c < 0x20 || c > 0x7e || c == ',')
            return false;
    }
    return true;
}

static int baggage_inject(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                          struct tb_arena *arena, struct tb_headers *out, size_t *baggage_dropped)
{
    const struct tb_baggage *bag = &ctx->baggage;
    /* Indices of the items that fit: never more than the member limit. */
    size_t kept[TB_BAGGAGE_MAX_ITEMS];
    size_t total = 0, num = 0, dropped = 0;
    char *buf, *p;

    (void)hop; /* baggage names no span */
    for (size_t i = 0; i < bag->num; i++) {
        const struct tb_baggage_item *it = &bag->items[i];
        size_t len;

        if (!bg_is_token(it->key) || !bg_props_sendable(it->props)) {
            dropped++;
            continue;
        }
        /* key "=" value [";" props], plus the ',' before all but the first. */
        len = it->key.len + 1 + bg_encoded_len(it->value) +
              (it->props.len > 0 ? 1 + it->props.len : 0) + (num > 0);
        /* §2: beyond 64 members or 8192 bytes whole members are dropped,
         * never cut; a later, smaller item may still fit. The bag's own
         * limits count decoded bytes, so a bag within them can still be too
         * large once encoded. */
        if (num >= TB_BAGGAGE_MAX_ITEMS || total + len > TB_BAGGAGE_MAX_BYTES) {
            dropped++;
            continue;
        }
        kept[num++] = i;
        total += len;
    }
    *baggage_dropped += dropped;
    if (num == 0)
        return TB_OK;

    buf = tb_arena_alloc(arena, total);
    if (buf == NULL)
        return TB_ENOSPC;
    p = buf;
    for (size_t k = 0; k < num; k++) {
        const struct tb_baggage_item *it = &bag->items[kept[k]];

        if (k > 0)
            *p++ = ',';
        memcpy(p, it->key.base, it->key.len);
        p += it->key.len;
        *p++ = '=';
        p += tb_percent_encode(it->value, p, bg_keep_unencoded);
        if (it->props.len > 0) {
            *p++ = ';';
            memcpy(p, it->props.base, it->props.len);
            p += it->props.len;
        }
    }
    TB_ASSERT((size_t)(p - buf) == total);
    return tb_ctx_emit(arena, out, TB_HDR_BAGGAGE, (struct tb_iov){buf, total});
}

const struct tb_propagator tb_propagator_baggage = {
    .name = "baggage",
    .format = TB_FORMAT_BAGGAGE,
    .tokens = baggage_tokens,
    .num_tokens = TB_ARRAY_SIZE(baggage_tokens),
    .baggage_prefix = NULL,
    .extract = baggage_extract,
    .inject = baggage_inject,
};
