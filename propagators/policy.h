/* SPDX-License-Identifier: MIT
 * The composite policy over all codecs: which formats are read and in what
 * precedence, how several arriving formats are merged or ranked, which
 * headers are removed, and which formats are written for the hop. Pure: the
 * caller supplies the hop's ids (random numbers come from proxy/), and gets
 * back counts it may aggregate into metrics.
 *
 * Extraction: every enabled format present in the request is read. The
 * first valid one in precedence order wins. Formats that carry the same
 * trace id merge their extras into the winner (tracestate, baggage, native
 * ids); formats with another trace id are conflicts, kept for span links.
 * W3C baggage and id-less inputs (a lone `b3: 0`, sw8-correlation without
 * sw8) contribute baggage, and their sampling decision when nothing valid
 * arrived. Invalid input in one format never affects another.
 */
#ifndef TB_PROPAGATORS_POLICY_H
#define TB_PROPAGATORS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tb.h"
#include "parsers/hdr_names.h"
#include "propagators/context.h"

struct tb_arena;
struct tb_headers;

enum tb_inject_mode {
    TB_INJECT_REPLACE = 0, /* remove every incoming context header, emit exactly the list */
    TB_INJECT_ADD,         /* refresh what came, and add the list */
};

struct tb_prop_policy {
    enum tb_format extract[TB_FORMAT_NUM]; /* enabled formats, highest precedence first */
    size_t num_extract;
    enum tb_format inject[TB_FORMAT_NUM]; /* formats written for the hop, in this order */
    size_t num_inject;
    uint32_t clear; /* TB_FORMAT_BIT set: removed and never written */
    enum tb_inject_mode mode;
    /* Filled by tb_prop_policy_defaults from the registry, so finding the
     * format of a header is one table read: format + 1 per header token
     * (0: none), and the first bytes of the baggage-header prefixes. */
    uint8_t _token_format[TB_HDR_NUM_TOKENS];
    uint8_t _prefix_first[256];
    bool _ready;
};

/**
 * Parses a comma-separated list of format names (OTEL_PROPAGATORS style,
 * spaces around names allowed, duplicates ignored) into `out` / `*num`.
 * "none" alone gives an empty list. Returns TB_OK, or TB_EINVAL with the
 * offending name in `*bad` (unknown name, empty element, or "none" combined
 * with other names).
 */
int tb_prop_parse_list(const char *list, enum tb_format out[TB_FORMAT_NUM], size_t *num,
                       struct tb_iov *bad);

/**
 * The defaults: extract every format in registry order, inject
 * "tracecontext,baggage" (or `otel_propagators` when it is non-NULL and
 * parses), replace mode, nothing cleared. Returns TB_OK, or TB_EINVAL with
 * `*bad` set when `otel_propagators` does not parse (the defaults stay).
 */
int tb_prop_policy_defaults(struct tb_prop_policy *policy, const char *otel_propagators,
                            struct tb_iov *bad);

/** Per format outcome of one extraction. */
struct tb_prop_format_result {
    int status;              /* TB_OK, TB_ENOTFOUND (absent or not enabled), TB_EINVAL */
    const char *why;         /* for TB_EINVAL */
    struct tb_trace_ctx ctx; /* valid for TB_OK only */
};

struct tb_extraction {
    struct tb_prop_format_result formats[TB_FORMAT_NUM];
    struct tb_trace_ctx ctx; /* the merged context, or a new root after tb_prop_start_root */
    int winner;         /* enum tb_format of the context continued (it has a trace id), or -1 */
    uint32_t present;   /* formats with at least one header in the request */
    uint32_t valid;     /* formats that extracted a context (ids or not) */
    uint32_t invalid;   /* formats present but invalid */
    uint32_t merged;    /* valid formats with ids that agreed with the winner */
    uint32_t conflicts; /* valid formats with ids that disagreed: span links */
    bool new_root;      /* no valid ids arrived: tb_prop_start_root made a root */
};

/**
 * Runs every enabled extractor over `in`. Decoded values live in `arena` or
 * borrow from `in`. Afterwards ext->ctx holds the merged context (winner >= 0)
 * or only what id-less inputs said (winner == -1): call tb_prop_start_root
 * then. Returns TB_OK or TB_ENOSPC (arena full; ext is then "nothing
 * extracted").
 */
int tb_prop_extract(const struct tb_prop_policy *policy, const struct tb_headers *in,
                    struct tb_arena *arena, struct tb_extraction *ext);

/**
 * Makes ext->ctx a new root when no valid ids arrived: `trace_id` (16 random
 * bytes from the caller) becomes the trace id, the W3C random flag is set,
 * there is no parent span, and the sampling state stays what id-less inputs
 * said (DEFER when nothing: the hop's sampler decides, spans/sampler.h).
 * Does nothing when a context was extracted.
 */
void tb_prop_start_root(struct tb_extraction *ext, const uint8_t trace_id[16]);

/**
 * Rewrites `hdrs` for the hop: removes the context headers the policy
 * replaces or clears, then appends every format to write, each naming
 * `hop->span_id` as the parent of ext->ctx's trace. In replace mode the
 * formats written are exactly the inject list; in add mode they are the list
 * plus every format that arrived (so no stale copy survives), minus `clear`.
 * `*written` receives the TB_FORMAT_BITs written, `*baggage_dropped` the
 * baggage items a carrier could not hold. Returns TB_OK or TB_ENOSPC (the
 * table may then be partly rewritten: the caller fails the request).
 */
int tb_prop_inject(const struct tb_prop_policy *policy, struct tb_extraction *ext,
                   const struct tb_hop *hop, struct tb_arena *arena, struct tb_headers *hdrs,
                   uint32_t *written, size_t *baggage_dropped);

/** The formats tb_prop_inject would write for `ext` (TB_FORMAT_BITs, in no order). */
uint32_t tb_prop_inject_set(const struct tb_prop_policy *policy, const struct tb_extraction *ext);

/**
 * Lists the formats of `formats` (TB_FORMAT_BITs, e.g. what tb_prop_inject
 * wrote) in the order tb_prop_inject writes them: the inject list first, then
 * the others (formats refreshed in add mode) in registry order. Fills `out`
 * and returns how many it holds. Never allocates.
 */
size_t tb_prop_inject_order(const struct tb_prop_policy *policy, uint32_t formats,
                            enum tb_format out[TB_FORMAT_NUM]);

#endif
