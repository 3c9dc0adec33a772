/* SPDX-License-Identifier: MIT
 * tracebridge's own W3C tracestate member, which carries what a 128-bit
 * trace id cannot: a SkyWalking trace id that is not 32 hex digits, an
 * EagleEye trace id, and a 64-bit origin. A tracebridge downstream reads it
 * back and re-emits the original ids exactly. The encoding is documented in
 * docs/formats/tracebridge-tracestate.md: key "tracebridge", value a ';'-separated list of
 * fields `sw:<base64url(sw8 trace id)>`, `ee:<base64url(EagleEye trace id)>`,
 * `w:64`, `sr:<base64url(service LF instance LF endpoint LF target)>` (the
 * hop reported a SkyWalking segment: a tracebridge downstream refs it), in
 * that order; unknown fields are ignored.
 */
#ifndef TB_PROPAGATORS_TBSTATE_H
#define TB_PROPAGATORS_TBSTATE_H

#include "common/tb.h"
#include "propagators/context.h"

struct tb_arena;

#define TB_TBSTATE_KEY "tracebridge"

/**
 * Builds the member value for `ctx` (and for `hop`, when it reports a
 * SkyWalking segment: hop->sw8_segment_id set; `hop` may be NULL) in `arena` into `*value`;
 * value->len is 0 when nothing needs carrying. A field that would take the value past 256
 * characters is left out. Returns TB_OK or TB_ENOSPC.
 */
int tb_tbstate_encode(const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                      struct tb_arena *arena, struct tb_iov *value);

/**
 * Restores from a member value what agrees with ctx->trace_id: a SkyWalking
 * or EagleEye id only when it maps to exactly that trace id (a stale member
 * is ignored), 64-bit width only when the high half is zero. Sets the
 * restored fields (ctx->sw8.trace_id, ctx->eagleeye.trace_id, ctx->id_width)
 * and their TB_FORMAT_BIT in ctx->extras. An `sr` field, with a non-zero
 * ctx->span_id, restores the calling hop's segment as ctx->sw8's parent
 * segment (tb_sw_hop_segment_id of ctx->span_id, span 1) with its service,
 * instance, endpoint and target. Returns TB_OK, or TB_ENOSPC when
 * the arena is full; malformed fields are skipped.
 */
int tb_tbstate_restore(struct tb_iov value, struct tb_arena *arena, struct tb_trace_ctx *ctx);

#endif
