/* SPDX-License-Identifier: MIT
 * The composite policy: list parsing, extraction with precedence and merge,
 * and the header rewrite for the hop. See policy.h for the rules.
 */
#include "propagators/policy.h"

#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"
#include "propagators/tbstate.h"

#define NO_FORMAT 0xff

int tb_prop_parse_list(const char *list, enum tb_format out[TB_FORMAT_NUM], size_t *num,
                       struct tb_iov *bad)
{
    const char *p = list, *end = list + strlen(list);
    uint32_t seen = 0;
    bool none = false;
    size_t n = 0, names = 0;

    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        struct tb_iov name = {p, (size_t)((comma ? comma : end) - p)};
        const struct tb_propagator *prop;

        name = tb_lex_trim_ows(name);
        names++;
        if (name.len == 0) {
            *bad = name;
            return TB_EINVAL;
        }
        if (name.len == 4 && memcmp(name.base, "none", 4) == 0) {
            none = true;
        } else if ((prop = tb_propagator_find(name.base, name.len)) == NULL) {
            *bad = name;
            return TB_EINVAL;
        } else if (!(seen & TB_FORMAT_BIT(prop->format))) {
            seen |= TB_FORMAT_BIT(prop->format);
            out[n++] = prop->format;
        }
        if (none && names > 1) {
            *bad = TB_IOV_LIT("none");
            return TB_EINVAL;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    *num = n;
    return TB_OK;
}

int tb_prop_policy_defaults(struct tb_prop_policy *policy, const char *otel_propagators,
                            struct tb_iov *bad)
{
    memset(policy, 0, sizeof(*policy));
    for (size_t f = 0; f < TB_FORMAT_NUM; f++)
        policy->extract[f] = (enum tb_format)f;
    policy->num_extract = TB_FORMAT_NUM;
    policy->inject[0] = TB_FORMAT_TRACECONTEXT;
    policy->inject[1] = TB_FORMAT_BAGGAGE;
    policy->num_inject = 2;
    policy->mode = TB_INJECT_REPLACE;
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        const struct tb_propagator *prop = tb_propagator_get((enum tb_format)f);

        for (size_t i = 0; i < prop->num_tokens; i++)
            policy->_token_format[prop->tokens[i]] = (uint8_t)(f + 1);
        if (prop->baggage_prefix != NULL) {
            unsigned char c = (unsigned char)prop->baggage_prefix[0];

            policy->_prefix_first[c] = 1;
            policy->_prefix_first[c >= 'a' && c <= 'z' ? c - 32 : c] = 1;
        }
    }
    policy->_ready = true;
    if (otel_propagators != NULL && otel_propagators[0] != '\0') {
        enum tb_format list[TB_FORMAT_NUM];
        size_t num;

        if (tb_prop_parse_list(otel_propagators, list, &num, bad) != TB_OK)
            return TB_EINVAL;
        memcpy(policy->inject, list, sizeof(list));
        policy->num_inject = num;
    }
    return TB_OK;
}

/* The format owning header `h`, or NO_FORMAT. */
static unsigned header_format(const struct tb_prop_policy *policy, const struct tb_header *h)
{
    TB_ASSERT(policy->_ready); /* built by tb_prop_policy_defaults */
    if (h->token != TB_HDR_UNKNOWN)
        return policy->_token_format[h->token] != 0 ? policy->_token_format[h->token] - 1u
                                                    : NO_FORMAT;
    if (h->name.len == 0 || !policy->_prefix_first[(unsigned char)h->name.base[0]])
        return NO_FORMAT;
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        const char *prefix = tb_propagator_get((enum tb_format)f)->baggage_prefix;
        size_t len;

        if (prefix == NULL)
            continue;
        len = strlen(prefix);
        if (h->name.len > len && tb_memcaseeq(h->name.base, prefix, len))
            return f;
    }
    return NO_FORMAT;
}

/* Copies into `dst` what `src`, an agreeing context, adds: extras of formats
 * the winner lacks, tracestate, and sampling when the winner deferred.
 * Baggage is merged separately, in precedence order. */
static int merge_into(struct tb_trace_ctx *dst, const struct tb_trace_ctx *src)
{
    uint32_t add = src->extras & ~dst->extras;

    if (add & TB_FORMAT_BIT(TB_FORMAT_B3))
        dst->b3 = src->b3;
    if (add & TB_FORMAT_BIT(TB_FORMAT_JAEGER))
        dst->jaeger = src->jaeger;
    if (add & TB_FORMAT_BIT(TB_FORMAT_XRAY))
        dst->xray = src->xray;
    if (add & TB_FORMAT_BIT(TB_FORMAT_DATADOG))
        dst->datadog = src->datadog;
    if (add & TB_FORMAT_BIT(TB_FORMAT_SW8))
        dst->sw8 = src->sw8;
    if (add & TB_FORMAT_BIT(TB_FORMAT_EAGLEEYE))
        dst->eagleeye = src->eagleeye;
    dst->extras |= add;
    if (dst->tracestate.len == 0)
        dst->tracestate = src->tracestate;
    if (dst->tbstate.len == 0)
        dst->tbstate = src->tbstate;
    /* The random flag is a fact about the trace id, which both share. */
    dst->w3c_flags |= src->w3c_flags & TB_W3C_FLAG_RANDOM;
    if (dst->sampling == TB_SAMPLING_DEFER && src->sampling != TB_SAMPLING_DEFER)
        dst->sampling = src->sampling;
    return TB_OK;
}

/* Adds the items of `src` whose keys `dst` lacks: called in precedence
 * order, so the higher-precedence format wins each key. */
static int merge_baggage(struct tb_arena *arena, struct tb_baggage *dst,
                         const struct tb_baggage *src)
{
    for (size_t i = 0; i < src->num; i++) {
        const struct tb_baggage_item *item = &src->items[i];

        if (tb_baggage_find(dst, item->key) >= 0)
            continue;
        if (tb_baggage_put(arena, dst, item->key, item->value, item->props) != TB_OK)
            return TB_ENOSPC;
    }
    dst->dropped += src->dropped;
    return TB_OK;
}

/* A context continues a trace when it has a trace id; a zero parent (X-Ray
 * without Parent, Datadog synthetics) makes the hop the trace's first span. */
static bool has_trace_id(const struct tb_trace_ctx *ctx)
{
    return !tb_is_zero(ctx->trace_id, sizeof(ctx->trace_id));
}

static void sync_sampled_flag(struct tb_trace_ctx *ctx)
{
    ctx->w3c_flags &= TB_W3C_FLAG_RANDOM;
    if (tb_sampling_is_sampled(ctx->sampling))
        ctx->w3c_flags |= TB_W3C_FLAG_SAMPLED;
}

int tb_prop_extract(const struct tb_prop_policy *policy, const struct tb_headers *in,
                    struct tb_arena *arena, struct tb_extraction *ext)
{
    uint32_t present = 0;

    ext->winner = -1;
    ext->valid = ext->invalid = ext->merged = ext->conflicts = 0;
    ext->new_root = false;
    tb_ctx_init(&ext->ctx, TB_FORMAT_TRACECONTEXT);
    for (size_t i = 0; i < in->num; i++) {
        unsigned f = header_format(policy, &in->entries[i]);

        if (f != NO_FORMAT)
            present |= TB_FORMAT_BIT(f);
    }
    ext->present = present;
    for (size_t f = 0; f < TB_FORMAT_NUM; f++) {
        ext->formats[f].status = TB_ENOTFOUND;
        ext->formats[f].why = NULL;
    }

    for (size_t i = 0; i < policy->num_extract; i++) {
        enum tb_format f = policy->extract[i];
        const struct tb_propagator *prop = tb_propagator_get(f);
        struct tb_prop_format_result *r = &ext->formats[f];

        if (!(present & (TB_FORMAT_BIT(f) | prop->reads_also)))
            continue;
        tb_ctx_init(&r->ctx, f);
        r->status = prop->extract(in, arena, &r->ctx, &r->why);
        if (r->status == TB_ENOSPC)
            goto no_space;
        if (r->status == TB_EINVAL) {
            ext->invalid |= TB_FORMAT_BIT(f);
            if (r->why == NULL)
                r->why = "invalid";
            continue;
        }
        if (r->status != TB_OK) {
            r->status = TB_ENOTFOUND;
            continue;
        }
        ext->valid |= TB_FORMAT_BIT(f);
        if (!has_trace_id(&r->ctx))
            continue;
        if (ext->winner < 0) {
            ext->winner = (int)f;
            ext->ctx = r->ctx;
        } else if (memcmp(r->ctx.trace_id, ext->ctx.trace_id, sizeof(ext->ctx.trace_id)) == 0) {
            ext->merged |= TB_FORMAT_BIT(f);
            if (merge_into(&ext->ctx, &r->ctx) != TB_OK)
                goto no_space;
        } else {
            ext->conflicts |= TB_FORMAT_BIT(f);
        }
    }
    /* Id-less inputs: their decision and extras only for a new root. */
    for (size_t i = 0; i < policy->num_extract && ext->winner < 0; i++) {
        enum tb_format f = policy->extract[i];
        struct tb_trace_ctx *c = &ext->formats[f].ctx;

        if ((ext->valid & TB_FORMAT_BIT(f)) && !has_trace_id(c) &&
            merge_into(&ext->ctx, c) != TB_OK)
            goto no_space;
    }
    /* Baggage from the winner, the formats that agree with it and the
     * id-less inputs, each key from the highest-precedence format. */
    memset(&ext->ctx.baggage, 0, sizeof(ext->ctx.baggage));
    for (size_t i = 0; i < policy->num_extract; i++) {
        enum tb_format f = policy->extract[i];
        const struct tb_trace_ctx *c = &ext->formats[f].ctx;

        if (!(ext->valid & TB_FORMAT_BIT(f)))
            continue;
        if ((int)f != ext->winner && !(ext->merged & TB_FORMAT_BIT(f)) && has_trace_id(c))
            continue;
        if (merge_baggage(arena, &ext->ctx.baggage, &c->baggage) != TB_OK)
            goto no_space;
    }
    if (ext->ctx.tbstate.len > 0) {
        if (tb_tbstate_restore(ext->ctx.tbstate, arena, &ext->ctx) != TB_OK)
            goto no_space;
        ext->ctx.tbstate = (struct tb_iov){NULL, 0};
    }
    sync_sampled_flag(&ext->ctx);
    return TB_OK;

no_space:
    ext->winner = -1;
    ext->valid = ext->merged = ext->conflicts = 0;
    tb_ctx_init(&ext->ctx, TB_FORMAT_TRACECONTEXT);
    return TB_ENOSPC;
}

void tb_prop_start_root(struct tb_extraction *ext, const uint8_t trace_id[16])
{
    struct tb_trace_ctx *ctx = &ext->ctx;

    if (ext->winner >= 0)
        return;
    ext->new_root = true;
    memcpy(ctx->trace_id, trace_id, sizeof(ctx->trace_id));
    memset(ctx->span_id, 0, sizeof(ctx->span_id));
    ctx->id_width = 128;
    /* A tracestate or tbstate without a valid traceparent is discarded. */
    ctx->tracestate = (struct tb_iov){NULL, 0};
    ctx->tbstate = (struct tb_iov){NULL, 0};
    /* Native ids name another trace: only the request-level extras survive. */
    ctx->extras &= TB_FORMAT_BIT(TB_FORMAT_JAEGER);
    ctx->w3c_flags = TB_W3C_FLAG_RANDOM;
    sync_sampled_flag(ctx);
}

uint32_t tb_prop_inject_set(const struct tb_prop_policy *policy, const struct tb_extraction *ext)
{
    uint32_t set = 0;

    for (size_t i = 0; i < policy->num_inject; i++)
        set |= TB_FORMAT_BIT(policy->inject[i]);
    if (policy->mode == TB_INJECT_ADD)
        set |= ext->present;
    return set & ~policy->clear;
}

int tb_prop_inject(const struct tb_prop_policy *policy, struct tb_extraction *ext,
                   const struct tb_hop *hop, struct tb_arena *arena, struct tb_headers *hdrs,
                   uint32_t *written, size_t *baggage_dropped)
{
    uint32_t set = tb_prop_inject_set(policy, ext), remove, done = 0;
    struct tb_trace_ctx *ctx = &ext->ctx;
    enum tb_format order[TB_FORMAT_NUM];
    size_t kept = 0, num;

    *written = 0;
    *baggage_dropped = 0;
    remove = policy->mode == TB_INJECT_REPLACE ? ~0u : set | policy->clear;
    for (size_t i = 0; i < hdrs->num; i++) {
        unsigned f = header_format(policy, &hdrs->entries[i]);

        if (f != NO_FORMAT && (remove & TB_FORMAT_BIT(f)))
            continue;
        hdrs->entries[kept++] = hdrs->entries[i];
    }
    hdrs->num = kept;

    sync_sampled_flag(ctx);
    if (tb_tbstate_encode(ctx, hop, arena, &ctx->tbstate) != TB_OK)
        return TB_ENOSPC;
    num = tb_prop_inject_order(policy, set, order);
    for (size_t i = 0; i < num; i++) {
        done |= TB_FORMAT_BIT(order[i]);
        if (tb_propagator_get(order[i])->inject(ctx, hop, arena, hdrs, baggage_dropped) != TB_OK)
            return TB_ENOSPC;
    }
    *written = done;
    return TB_OK;
}

size_t tb_prop_inject_order(const struct tb_prop_policy *policy, uint32_t formats,
                            enum tb_format out[TB_FORMAT_NUM])
{
    uint32_t done = 0;
    size_t num = 0;

    /* The configured order first, then formats refreshed in add mode. */
    for (size_t pass = 0; pass < 2; pass++) {
        size_t n = pass == 0 ? policy->num_inject : TB_FORMAT_NUM;

        for (size_t i = 0; i < n; i++) {
            enum tb_format f = pass == 0 ? policy->inject[i] : (enum tb_format)i;

            if (!(formats & TB_FORMAT_BIT(f)) || (done & TB_FORMAT_BIT(f)))
                continue;
            done |= TB_FORMAT_BIT(f);
            out[num++] = f;
        }
    }
    return num;
}
