/* SPDX-License-Identifier: MIT
 * tracebridge's own tracestate member (key "tracebridge"): what a 128-bit
 * trace id cannot carry across a W3C-only stretch of the path, so that a
 * tracebridge further down can re-emit the original SkyWalking and EagleEye
 * ids byte for byte. The user-facing contract is
 * docs/formats/tracebridge-tracestate.md.
 */
#include "propagators/tbstate.h"

#include <string.h>

#include "common/arena.h"
#include "parsers/lex.h"
#include "propagators/idmap.h"
#include "propagators/propagator.h"

/* W3C tracestate: a member value holds at most 256 characters (§1.4). */
#define TBSTATE_VALUE_MAX 256

/* Longest base64url text that can still fit in a value, and its decoded size. */
#define TBSTATE_FIELD_MAX TBSTATE_VALUE_MAX
#define TBSTATE_DECODED_MAX TB_BASE64_DECODED_MAX(TBSTATE_FIELD_MAX)

/* Characters of unpadded base64url for `len` bytes. */
static size_t tbstate_b64url_len(size_t len)
{
    return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

/* True when `s` has no control byte (C0 or DEL). */
static bool tbstate_is_printable(struct tb_iov s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];

        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* Printable apart from the LF separators of the `sr` field. */
static bool tbstate_is_printable_lf(struct tb_iov s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];

        if ((c < 0x20 && c != '\n') || c == 0x7f)
            return false;
    }
    return true;
}

/* The EagleEye trace id shape the eagleeye codec accepts (docs/formats/eagleeye.md):
 * it is re-emitted raw in a header, so a restored one must pass the same test. */
static bool tbstate_is_eagleeye_id(struct tb_iov s)
{
    if (s.len < 16 || s.len > 64)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

/* Appends ";<name><base64url(id)>" (no ';' first) to buf[0..*len) unless
 * that would pass TBSTATE_VALUE_MAX. */
static void tbstate_append(char *buf, size_t *len, const char *name, struct tb_iov id)
{
    size_t name_len = strlen(name);
    size_t need = (*len > 0 ? 1 : 0) + name_len + tbstate_b64url_len(id.len);

    if (need > TBSTATE_VALUE_MAX - *len)
        return;
    if (*len > 0)
        buf[(*len)++] = ';';
    memcpy(buf + *len, name, name_len);
    *len += name_len;
    *len += tb_base64_encode(TB_BASE64_URL, id.base, id.len, buf + *len);
}

/* True when the native id `id` is worth carrying: it maps to `trace_id` (a
 * stale id would be refused on restore anyway) and is not simply its hex. */
static bool tbstate_wants(struct tb_iov id, const uint8_t trace_id[16],
                          void (*map)(struct tb_iov, uint8_t[16], bool *))
{
    uint8_t mapped[16];
    bool hashed;

    if (id.len == 0 || tb_native_id_is_plain_hex(id, trace_id))
        return false;
    map(id, mapped, &hashed);
    return memcmp(mapped, trace_id, 16) == 0;
}

int tb_tbstate_encode(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                      struct tb_arena *arena, struct tb_iov *value)
{
    char buf[TBSTATE_VALUE_MAX];
    size_t len = 0;
    char *copy;

    *value = (struct tb_iov){NULL, 0};
    if (tbstate_wants(ctx->sw8.trace_id, ctx->trace_id, tb_sw_trace_id_map))
        tbstate_append(buf, &len, "sw:", ctx->sw8.trace_id);
    if (tbstate_wants(ctx->eagleeye.trace_id, ctx->trace_id, tb_eagleeye_trace_id_map))
        tbstate_append(buf, &len, "ee:", ctx->eagleeye.trace_id);
    /* w:64 only where re-emission could use it: a zero high half. */
    if (ctx->id_width == 64 && tb_is_zero(ctx->trace_id, 8))
        tbstate_append(buf, &len, "w:64", (struct tb_iov){"", 0});
    if (hop != NULL && hop->sw8_segment_id.len > 0) {
        char sr[TBSTATE_VALUE_MAX];
        size_t n = 0;
        const struct tb_iov parts[4] = {hop->service, hop->instance, hop->endpoint, hop->target};

        for (size_t i = 0; i < 4; i++) {
            if (n + parts[i].len + 1 > sizeof(sr)) {
                n = 0; /* too long for the member: leave the field out */
                break;
            }
            if (i > 0)
                sr[n++] = '\n';
            memcpy(sr + n, parts[i].base, parts[i].len);
            n += parts[i].len;
        }
        if (n > 0)
            tbstate_append(buf, &len, "sr:", (struct tb_iov){sr, n});
    }
    if (len == 0)
        return TB_OK;
    copy = tb_arena_memdup(arena, buf, len);
    if (copy == NULL)
        return TB_ENOSPC;
    *value = (struct tb_iov){copy, len};
    return TB_OK;
}

/* Decodes the base64url `text` of a field into `out` (TBSTATE_DECODED_MAX
 * bytes); false when it is too long, empty or not base64url. */
static bool tbstate_decode(struct tb_iov text, char *out, size_t *out_len)
{
    if (text.len == 0 || text.len > TBSTATE_FIELD_MAX)
        return false;
    return tb_base64_decode(TB_BASE64_URL, text, out, out_len) && *out_len > 0;
}

/* Restores one native id field: decoded, shaped right for where it will be
 * re-emitted, and mapping to exactly ctx->trace_id. Sets *done on success. */
static int tbstate_restore_id(struct tb_iov text, struct tb_arena *arena,
                              const uint8_t trace_id[16],
                              void (*map)(struct tb_iov, uint8_t[16], bool *),
                              bool (*shape_ok)(struct tb_iov), struct tb_iov *dst, bool *done)
{
    char decoded[TBSTATE_DECODED_MAX];
    size_t decoded_len;
    uint8_t mapped[16];
    bool hashed;
    struct tb_iov id;
    char *copy;

    if (!tbstate_decode(text, decoded, &decoded_len))
        return TB_OK;
    id = (struct tb_iov){decoded, decoded_len};
    if (!shape_ok(id))
        return TB_OK;
    map(id, mapped, &hashed);
    if (memcmp(mapped, trace_id, 16) != 0)
        return TB_OK; /* stale: belongs to another trace */
    copy = tb_arena_memdup(arena, decoded, decoded_len);
    if (copy == NULL)
        return TB_ENOSPC;
    *dst = (struct tb_iov){copy, decoded_len};
    *done = true;
    return TB_OK;
}

/* The `sr` field: the calling tracebridge hop reported a SkyWalking segment
 * whose Exit span (1) is ctx->span_id; it becomes ctx->sw8's parent. */
static int tbstate_restore_ref(struct tb_iov text, struct tb_arena *arena, struct tb_trace_ctx *ctx)
{
    char decoded[TBSTATE_DECODED_MAX];
    size_t decoded_len, start = 0, n = 0;
    struct tb_iov parts[4];
    char *copy, *segment;

    if (!tbstate_decode(text, decoded, &decoded_len) ||
        !tbstate_is_printable_lf((struct tb_iov){decoded, decoded_len}))
        return TB_OK;
    copy = tb_arena_memdup(arena, decoded, decoded_len);
    segment = tb_arena_alloc(arena, 32);
    if (copy == NULL || segment == NULL)
        return TB_ENOSPC;
    for (size_t i = 0; i <= decoded_len && n < 4; i++) {
        if (i < decoded_len && copy[i] != '\n')
            continue;
        parts[n++] = (struct tb_iov){copy + start, i - start};
        start = i + 1;
    }
    if (n != 4 || start != decoded_len + 1)
        return TB_OK;
    for (size_t i = 0; i < 4; i++)
        if (parts[i].len == 0)
            return TB_OK;
    tb_sw_hop_segment_id(ctx->span_id, segment);
    ctx->sw8.segment_id = (struct tb_iov){segment, 32};
    ctx->sw8.span_id = 1;
    ctx->sw8.service = parts[0];
    ctx->sw8.instance = parts[1];
    ctx->sw8.endpoint = parts[2];
    ctx->sw8.target = parts[3];
    ctx->sw8.sample = tb_sampling_is_sampled(ctx->sampling) ? 1 : 0;
    if (ctx->sw8.trace_id.len == 0) {
        char *hex = tb_arena_alloc(arena, 32);

        if (hex == NULL)
            return TB_ENOSPC;
        tb_hex_encode(ctx->trace_id, 16, hex);
        ctx->sw8.trace_id = (struct tb_iov){hex, 32};
    }
    ctx->extras |= TB_FORMAT_BIT(TB_FORMAT_SW8);
    return TB_OK;
}

int tb_tbstate_restore(struct tb_iov value, struct tb_arena *arena, struct tb_trace_ctx *ctx)
{
    bool have_sw = false, have_ee = false;
    size_t start = 0;

    if (tb_is_zero(ctx->trace_id, 16))
        return TB_OK;
    /* Fields are ';'-separated; the first well-formed one of each kind wins
     * and anything unknown is skipped, so newer writers stay readable. */
    for (size_t i = 0; i <= value.len; i++) {
        struct tb_iov field;
        int ret = TB_OK;

        if (i < value.len && value.base[i] != ';')
            continue;
        field = (struct tb_iov){value.base + start, i - start};
        start = i + 1;
        if (field.len > 3 && memcmp(field.base, "sw:", 3) == 0 && !have_sw) {
            ret = tbstate_restore_id((struct tb_iov){field.base + 3, field.len - 3}, arena,
                                     ctx->trace_id, tb_sw_trace_id_map, tbstate_is_printable,
                                     &ctx->sw8.trace_id, &have_sw);
            if (have_sw)
                ctx->extras |= TB_FORMAT_BIT(TB_FORMAT_SW8);
        } else if (field.len > 3 && memcmp(field.base, "ee:", 3) == 0 && !have_ee) {
            ret = tbstate_restore_id((struct tb_iov){field.base + 3, field.len - 3}, arena,
                                     ctx->trace_id, tb_eagleeye_trace_id_map,
                                     tbstate_is_eagleeye_id, &ctx->eagleeye.trace_id, &have_ee);
            if (have_ee)
                ctx->extras |= TB_FORMAT_BIT(TB_FORMAT_EAGLEEYE);
        } else if (field.len > 3 && memcmp(field.base, "sr:", 3) == 0 &&
                   !tb_is_zero(ctx->span_id, 8)) {
            ret = tbstate_restore_ref((struct tb_iov){field.base + 3, field.len - 3}, arena, ctx);
        } else if (field.len == 4 && memcmp(field.base, "w:64", 4) == 0) {
            if (tb_is_zero(ctx->trace_id, 8))
                ctx->id_width = 64;
        }
        if (ret != TB_OK)
            return ret;
    }
    return TB_OK;
}
