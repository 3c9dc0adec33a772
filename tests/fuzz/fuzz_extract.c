/* SPDX-License-Identifier: MIT
 * libFuzzer driver for one codec's extractor, compiled once per format with
 * -DFUZZ_FORMAT=<codec name> (tests/fuzz/run.sh builds extract_<name>).
 * The input is header lines "Name: value" (LF or CRLF); lines the HTTP
 * parser would never deliver (no colon, a name that is not a token, a
 * control byte in the value) are skipped. Each name and value is its own
 * exact-size allocation, so AddressSanitizer sees a read one byte past it.
 *
 * Checked on every input:
 *   - the extractor returns a documented status, with a reason on TB_EINVAL;
 *   - a context it returns is well-formed (flags, width, baggage limits);
 *   - that context re-injects through EVERY format into headers with
 *     lower-case token names and values free of control bytes, which the
 *     same format's extractor reads back with the same trace id;
 *   - the policy (extract every format, inject every format, replace or
 *     add mode) over the same headers does not crash, writes clean headers,
 *     and its output extracts again to the same trace.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/tb.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/policy.h"
#include "propagators/propagator.h"
#include "propagators/tbstate.h"

#ifndef FUZZ_FORMAT
#error "build with -DFUZZ_FORMAT=<codec name>, e.g. -DFUZZ_FORMAT=tracecontext"
#endif
#define FUZZ_STR2(x) #x
#define FUZZ_STR(x) FUZZ_STR2(x)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FUZZ_ARENA_CAP (1u << 20)

static const uint8_t fuzz_hop_span[8] = {0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81};
static const uint8_t fuzz_root[16] = {0xc0, 0xff, 0xee, 0, 0xc0, 0xff, 0xee, 0,
                                      0xc0, 0xff, 0xee, 0, 0xc0, 0xff, 0xee, 1};

static bool fuzz_is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* Where the input's header names live: a name outside it was written by a
 * codec. Values get one allocation each. */
static char *fuzz_names;
static size_t fuzz_names_len;

static bool fuzz_is_input_name(struct tb_iov name)
{
    return name.base >= fuzz_names && name.base < fuzz_names + fuzz_names_len;
}

/* Splits the input into a header table as the HTTP/1 parser would give it. */
static void fuzz_headers(struct tb_arena *arena, const char *in, size_t len,
                         struct tb_headers *hdrs)
{
    const char *p = in, *end = in + len;
    size_t names_used = 0;

    tb_headers_init(hdrs);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct tb_iov line = {p, (size_t)((nl ? nl : end) - p)}, name, value;
        const char *colon;
        bool ok = true;
        char *n, *v;

        p = nl ? nl + 1 : end;
        if (line.len > 0 && line.base[line.len - 1] == '\r')
            line.len--;
        colon = memchr(line.base, ':', line.len);
        if (colon == NULL || colon == line.base)
            continue;
        name = (struct tb_iov){line.base, (size_t)(colon - line.base)};
        for (size_t i = 0; i < name.len && ok; i++)
            ok = tb_lex_is_tchar((unsigned char)name.base[i]);
        value =
            tb_lex_trim_ows((struct tb_iov){colon + 1, (size_t)(line.base + line.len - colon - 1)});
        /* RFC 9110 §5.5: field values hold no CTL other than HTAB (llhttp's
         * strict mode rejects them). */
        for (size_t i = 0; i < value.len && ok; i++) {
            unsigned char c = (unsigned char)value.base[i];

            ok = !((c < 0x20 && c != '\t') || c == 0x7f);
        }
        if (!ok)
            continue;
        n = fuzz_names + names_used;
        memcpy(n, name.base, name.len);
        names_used += name.len;
        v = tb_arena_memdup(arena, value.base, value.len);
        FUZZ_CHECK(v != NULL || value.len == 0);
        if (tb_headers_add(arena, hdrs, (struct tb_iov){n, name.len},
                           (struct tb_iov){v, value.len}) != TB_OK)
            return;
    }
}

/* A header a codec or the policy wrote: lower-case token name, no control
 * byte in the value (CR, LF and NUL included). */
static void fuzz_check_written(const struct tb_header *h)
{
    FUZZ_CHECK(h->name.len > 0);
    for (size_t k = 0; k < h->name.len; k++) {
        unsigned char c = (unsigned char)h->name.base[k];

        FUZZ_CHECK(tb_lex_is_tchar(c) && !(c >= 'A' && c <= 'Z'));
    }
    FUZZ_CHECK(h->value.len == 0 || h->value.base != NULL);
    for (size_t k = 0; k < h->value.len; k++) {
        unsigned char c = (unsigned char)h->value.base[k];

        FUZZ_CHECK(c >= 0x20 && c != 0x7f);
    }
}

static void fuzz_check_ctx(const struct tb_trace_ctx *ctx)
{
    FUZZ_CHECK((unsigned)ctx->sampling <= TB_SAMPLING_DEBUG);
    FUZZ_CHECK(ctx->id_width == 64 || ctx->id_width == 128);
    if (ctx->id_width == 64)
        FUZZ_CHECK(fuzz_is_zero(ctx->trace_id, 8));
    FUZZ_CHECK((ctx->w3c_flags & ~(TB_W3C_FLAG_SAMPLED | TB_W3C_FLAG_RANDOM)) == 0);
    FUZZ_CHECK(ctx->baggage.num <= TB_BAGGAGE_MAX_ITEMS);
    FUZZ_CHECK(ctx->baggage.num <= ctx->baggage.cap || ctx->baggage.num == 0);
    FUZZ_CHECK(ctx->baggage.bytes <= TB_BAGGAGE_MAX_BYTES);
    for (size_t i = 0; i < ctx->baggage.num; i++) {
        const struct tb_baggage_item *it = &ctx->baggage.items[i];

        FUZZ_CHECK(it->key.len > 0);
        /* Touch every byte: ASan catches a view past its allocation. */
        for (size_t k = 0; k < it->key.len; k++)
            FUZZ_CHECK(tb_lex_is_tchar((unsigned char)it->key.base[k]));
        for (size_t k = 0; k < it->value.len; k++)
            (void)*(volatile const char *)&it->value.base[k];
    }
}

/* The trace id `f` hands on: OT sends the low half unless it is zero. */
static void fuzz_expect_trace(enum tb_format f, const uint8_t in[16], uint8_t out[16])
{
    memcpy(out, in, 16);
    if (f == TB_FORMAT_OTTRACE && !fuzz_is_zero(in + 8, 8))
        memset(out, 0, 8);
}

/* Re-injects `src` through every format and reads each result back. */
static void fuzz_reinject_all(struct tb_arena *arena, const struct tb_trace_ctx *src)
{
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        const struct tb_propagator *prop = tb_propagator_get((enum tb_format)f);
        struct tb_trace_ctx ctx = *src, back;
        struct tb_headers out;
        struct tb_hop hop;
        const char *why = NULL;
        size_t dropped = 0;
        uint8_t expect[16];
        int rc;

        memset(&hop, 0, sizeof(hop));
        memcpy(hop.span_id, fuzz_hop_span, 8);
        hop.service = TB_IOV_LIT("svc");
        hop.instance = TB_IOV_LIT("svc-1@10.0.0.1");
        hop.endpoint = TB_IOV_LIT("GET:/");
        hop.target = TB_IOV_LIT("up:80");
        /* As the policy does before injecting. */
        ctx.w3c_flags &= TB_W3C_FLAG_RANDOM;
        if (tb_sampling_is_sampled(ctx.sampling))
            ctx.w3c_flags |= TB_W3C_FLAG_SAMPLED;
        if (tb_tbstate_encode(&ctx, &hop, arena, &ctx.tbstate) != TB_OK)
            return;
        tb_headers_init(&out);
        rc = prop->inject(&ctx, &hop, arena, &out, &dropped);
        FUZZ_CHECK(rc == TB_OK || rc == TB_ENOSPC);
        if (rc != TB_OK)
            return;
        for (size_t i = 0; i < out.num; i++)
            fuzz_check_written(&out.entries[i]);
        /* What a codec writes, its own extractor accepts. */
        tb_ctx_init(&back, (enum tb_format)f);
        rc = prop->extract(&out, arena, &back, &why);
        if (rc == TB_ENOSPC)
            return;
        if (rc != TB_OK && out.num != 0) {
            fprintf(stderr, "%s rejects its own output (%d: %s):\n", prop->name, rc,
                    why ? why : "?");
            for (size_t i = 0; i < out.num; i++)
                fprintf(stderr, "  %.*s: %.*s\n", (int)out.entries[i].name.len,
                        out.entries[i].name.base, (int)out.entries[i].value.len,
                        out.entries[i].value.base);
        }
        FUZZ_CHECK(rc == TB_OK || out.num == 0);
        if (rc != TB_OK || fuzz_is_zero(src->trace_id, 16) || fuzz_is_zero(back.trace_id, 16))
            continue;
        fuzz_check_ctx(&back);
        fuzz_expect_trace((enum tb_format)f, src->trace_id, expect);
        if (memcmp(back.trace_id, expect, 16) != 0)
            fprintf(stderr, "%s changed the trace id\n", prop->name);
        FUZZ_CHECK(memcmp(back.trace_id, expect, 16) == 0);
        FUZZ_CHECK(memcmp(back.span_id, fuzz_hop_span, 8) == 0);
    }
}

/* Copies `in` into a fresh table as the next hop would receive it. */
static void fuzz_transmit(struct tb_arena *arena, const struct tb_headers *in,
                          struct tb_headers *out)
{
    tb_headers_init(out);
    for (size_t i = 0; i < in->num; i++)
        if (tb_headers_add(arena, out, in->entries[i].name, in->entries[i].value) != TB_OK)
            return;
}

static void fuzz_policy(struct tb_arena *arena, const struct tb_headers *in, bool add)
{
    struct tb_prop_policy policy;
    struct tb_extraction *ext = tb_arena_alloc(arena, sizeof(*ext));
    struct tb_headers work, again;
    struct tb_hop hop;
    struct tb_iov bad;
    uint32_t written;
    size_t dropped;
    uint8_t trace[16];

    if (ext == NULL)
        return;
    FUZZ_CHECK(tb_prop_policy_defaults(&policy, NULL, &bad) == TB_OK);
    for (size_t f = 0; f < TB_FORMAT_NUM; f++)
        policy.inject[f] = (enum tb_format)f;
    policy.num_inject = TB_FORMAT_NUM;
    policy.mode = add ? TB_INJECT_ADD : TB_INJECT_REPLACE;
    fuzz_transmit(arena, in, &work);
    if (tb_prop_extract(&policy, &work, arena, ext) != TB_OK)
        return;
    FUZZ_CHECK((ext->valid & ext->invalid) == 0);
    FUZZ_CHECK((ext->merged & ext->conflicts) == 0);
    FUZZ_CHECK(((ext->merged | ext->conflicts) & ~ext->valid) == 0);
    if (ext->winner >= 0) {
        FUZZ_CHECK(ext->valid & TB_FORMAT_BIT(ext->winner));
        FUZZ_CHECK(!fuzz_is_zero(ext->ctx.trace_id, 16));
    }
    tb_prop_start_root(ext, fuzz_root);
    FUZZ_CHECK(!fuzz_is_zero(ext->ctx.trace_id, 16));
    fuzz_check_ctx(&ext->ctx);
    memcpy(trace, ext->ctx.trace_id, 16);

    memset(&hop, 0, sizeof(hop));
    memcpy(hop.span_id, fuzz_hop_span, 8);
    hop.service = TB_IOV_LIT("svc");
    hop.instance = TB_IOV_LIT("svc-1@10.0.0.1");
    hop.endpoint = TB_IOV_LIT("GET:/");
    hop.target = TB_IOV_LIT("up:80");
    if (tb_prop_inject(&policy, ext, &hop, arena, &work, &written, &dropped) != TB_OK)
        return;
    FUZZ_CHECK(written == TB_FORMAT_BIT(TB_FORMAT_NUM) - 1);
    for (size_t i = 0; i < work.num; i++) {
        const struct tb_header *h = &work.entries[i];

        if (!fuzz_is_input_name(h->name)) {
            fuzz_check_written(h);
            continue;
        }
        /* What stays is no context header of any format (all are written). */
        if (h->token != TB_HDR_UNKNOWN && (tb_hdr_name(h->token)->flags & TB_HDR_F_TRACE_CONTEXT))
            fprintf(stderr, "context header '%.*s' left in place\n", (int)h->name.len,
                    h->name.base);
        FUZZ_CHECK(h->token == TB_HDR_UNKNOWN ||
                   !(tb_hdr_name(h->token)->flags & TB_HDR_F_TRACE_CONTEXT));
    }
    /* Every format now names the hop in one trace: the next hop continues
     * it (tracecontext has the highest precedence), and nothing conflicts
     * but OT's truncated 64-bit copy. */
    fuzz_transmit(arena, &work, &again);
    if (tb_prop_extract(&policy, &again, arena, ext) != TB_OK)
        return;
    FUZZ_CHECK(ext->winner == TB_FORMAT_TRACECONTEXT);
    FUZZ_CHECK(memcmp(ext->ctx.trace_id, trace, 16) == 0);
    FUZZ_CHECK(memcmp(ext->ctx.span_id, fuzz_hop_span, 8) == 0);
    FUZZ_CHECK((ext->conflicts & ~TB_FORMAT_BIT(TB_FORMAT_OTTRACE)) == 0);
    if (ext->invalid != 0)
        fprintf(stderr, "re-extraction found invalid formats %#x\n", ext->invalid);
    FUZZ_CHECK(ext->invalid == 0);
}

static const struct tb_propagator *fuzz_prop;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tb_arena *arena;
    struct tb_headers hdrs;
    struct tb_trace_ctx ctx;
    const char *why = NULL;
    int rc;

    if (fuzz_prop == NULL) {
        fuzz_prop = tb_propagator_find(FUZZ_STR(FUZZ_FORMAT), strlen(FUZZ_STR(FUZZ_FORMAT)));
        FUZZ_CHECK(fuzz_prop != NULL);
    }
    arena = tb_arena_new(4096, FUZZ_ARENA_CAP);
    fuzz_names = malloc(size + 1);
    fuzz_names_len = size;
    FUZZ_CHECK(fuzz_names != NULL);
    fuzz_headers(arena, (const char *)data, size, &hdrs);
    tb_ctx_init(&ctx, fuzz_prop->format);
    rc = fuzz_prop->extract(&hdrs, arena, &ctx, &why);
    FUZZ_CHECK(rc == TB_OK || rc == TB_ENOTFOUND || rc == TB_EINVAL || rc == TB_ENOSPC);
    if (rc == TB_EINVAL)
        FUZZ_CHECK(why != NULL && why[0] != '\0');
    if (rc == TB_OK) {
        fuzz_check_ctx(&ctx);
        if (fuzz_is_zero(ctx.trace_id, 16)) {
            /* Id-less: the policy would start a root; give it one. */
            memcpy(ctx.trace_id, fuzz_root, 16);
            ctx.id_width = 128;
        }
        fuzz_reinject_all(arena, &ctx);
    }
    /* The last input byte picks the mode, so both are reached. */
    fuzz_policy(arena, &hdrs, size > 0 && (data[size - 1] & 1));
    tb_arena_free(arena);
    free(fuzz_names);
    fuzz_names = NULL;
    return 0;
}
