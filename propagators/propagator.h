/* SPDX-License-Identifier: MIT
 * The codec interface every wire format implements, the registry of formats
 * by name, and the context helpers codecs share. A codec is a pair of pure
 * functions over a header table: extract reads what one format carried into a
 * struct tb_trace_ctx, inject writes that format's headers for the hop. Codecs
 * never remove headers (the policy does), never log and never allocate outside
 * the arena they are given.
 *
 * Adding a format: one codec file defining `const struct tb_propagator
 * tb_propagator_<name>`, one line in propagators/formats.def, and its header
 * names in parsers/hdr_names (flag TB_HDR_F_TRACE_CONTEXT).
 */
#ifndef TB_PROPAGATORS_PROPAGATOR_H
#define TB_PROPAGATORS_PROPAGATOR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/tb.h"
#include "parsers/hdr_names.h"
#include "propagators/context.h"

struct tb_arena;
struct tb_headers;

struct tb_propagator {
    const char *name; /* OTEL_PROPAGATORS-style name: "tracecontext", "b3multi", ... */
    enum tb_format format;
    /* Header tokens this format reads and writes: the policy removes them
     * when the format is replaced or cleared. */
    const enum tb_hdr_token *tokens;
    size_t num_tokens;
    /* Lower-case name prefix of the format's baggage headers ("uberctx-",
     * "ot-baggage-"), or NULL: such headers also belong to the format. */
    const char *baggage_prefix;
    /* Other formats whose headers this one's extractor also reads (TB_FORMAT_BIT
     * set): `b3` falls back to the X-B3-* headers of `b3multi`. */
    uint32_t reads_also;

    /**
     * Reads this format from `in` into `out`, which the caller has zeroed
     * with tb_ctx_init. Values the context keeps (decoded strings, joined
     * tracestate, baggage) are copied into `arena` or borrow from `in`.
     * Returns:
     *   TB_OK        a context. An all-zero trace id means an id-less input
     *                (`b3: 0`, a lone `X-B3-Sampled`, `jaeger-debug-id`,
     *                baggage alone): only sampling, baggage and extras are
     *                meaningful. A trace id with an all-zero span id (X-Ray
     *                without Parent, Datadog synthetics) continues the trace
     *                with the hop as its first span;
     *   TB_ENOTFOUND none of the format's headers is present;
     *   TB_EINVAL    present but invalid; `*why` names the rule broken (a
     *                static string, never NULL on this return);
     *   TB_ENOSPC    the arena is full.
     * `out` is unspecified after any return but TB_OK.
     */
    int (*extract)(const struct tb_headers *in, struct tb_arena *arena, struct tb_trace_ctx *out,
                   const char **why);

    /**
     * Appends this format's headers for `ctx` to `out`, naming `hop->span_id`
     * as the parent. `ctx` carries the trace id, the sampling decision to
     * propagate, baggage and extras; ctx->span_id is the hop's own parent.
     * Names are lower-case literals; values are built in `arena` and never
     * contain CR, LF or NUL. Formats without a baggage carrier ignore
     * ctx->baggage; baggage a carrier cannot hold is dropped whole, and the
     * number dropped is added to `*baggage_dropped`.
     * Returns TB_OK or TB_ENOSPC (the arena or the table is full; headers
     * appended so far stay).
     */
    int (*inject)(const struct tb_trace_ctx *ctx, const struct tb_hop *hop, struct tb_arena *arena,
                  struct tb_headers *out, size_t *baggage_dropped);
};

/* The registry: formats.def in order. */
#define TB_FORMAT_DEF(name, enum_name) extern const struct tb_propagator tb_propagator_##name;
#include "propagators/formats.def"
#undef TB_FORMAT_DEF

/** The codec of `format` (< TB_FORMAT_NUM). */
const struct tb_propagator *tb_propagator_get(enum tb_format format);

/** The codec named `name` (exact, lower-case), or NULL. "none" is not a codec. */
const struct tb_propagator *tb_propagator_find(const char *name, size_t name_len);

/* --- context helpers shared by codecs ------------------------------------ */

/** Resets `ctx` to "nothing extracted": zero ids, DEFER, width 128, no extras. */
void tb_ctx_init(struct tb_trace_ctx *ctx, enum tb_format format);

/** True when both the trace id and the span id are non-zero. */
bool tb_ctx_has_ids(const struct tb_trace_ctx *ctx);

/** True for ACCEPT and DEBUG. */
static inline bool tb_sampling_is_sampled(enum tb_sampling s)
{
    return s == TB_SAMPLING_ACCEPT || s == TB_SAMPLING_DEBUG;
}

/**
 * Adds a baggage item; `key`, `value` and `props` are borrowed (copy them into
 * the arena first when they are temporary). An item whose key is already
 * present replaces it in place (last wins, as in OpenTelemetry). An item that
 * would take the baggage past TB_BAGGAGE_MAX_ITEMS or TB_BAGGAGE_MAX_BYTES is
 * dropped whole and counted in bag->dropped. Returns TB_OK (also when
 * dropped) or TB_ENOSPC when the arena is full.
 */
int tb_baggage_put(struct tb_arena *arena, struct tb_baggage *bag, struct tb_iov key,
                   struct tb_iov value, struct tb_iov props);

/** Index of the item named `key` (exact), or -1. */
ptrdiff_t tb_baggage_find(const struct tb_baggage *bag, struct tb_iov key);

/**
 * Appends a header whose name is a literal and whose value was built in
 * `arena`; a thin wrapper over tb_headers_add_known. Returns TB_OK or
 * TB_ENOSPC.
 */
int tb_ctx_emit(struct tb_arena *arena, struct tb_headers *out, enum tb_hdr_token token,
                struct tb_iov value);

#endif
