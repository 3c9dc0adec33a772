/* SPDX-License-Identifier: MIT
 * The hop: for one proxied request, extract the incoming trace context,
 * give the hop its span id, and rewrite the request's context headers for
 * the upstream (propagators/policy.h does the work; this module supplies the
 * random ids, the hop's names and the per-worker counters).
 */
#ifndef TB_PROXY_HOP_H
#define TB_PROXY_HOP_H

#include <stddef.h>
#include <stdint.h>

#include "propagators/context.h"
#include "propagators/policy.h"

struct tb_arena;
struct tb_http_msg;
struct tb_worker;

/* Per-worker propagation counters (exposed by the metrics endpoint). */
struct tb_hop_counters {
    uint64_t extracted[TB_FORMAT_NUM]; /* requests where the format gave a valid context */
    uint64_t invalid[TB_FORMAT_NUM];   /* requests where the format was present but invalid */
    uint64_t injected[TB_FORMAT_NUM];
    uint64_t conflicts;       /* requests whose formats disagreed on the trace id */
    uint64_t no_context;      /* requests that started a new trace */
    uint64_t baggage_dropped; /* baggage items dropped on extract or inject */
    uint64_t rewrite_failed;  /* header table or arena full while rewriting */
};

/* The outcome for one request, kept in the request arena for the span and
 * the access log. */
struct tb_hop_state {
    struct tb_extraction ext;
    struct tb_hop hop;
    uint32_t injected; /* TB_FORMAT_BITs written */
};

/**
 * Runs extraction and injection over `req`'s headers for a request of worker
 * `w`; allocates its state in `arena` and returns it through `*state`.
 * Returns TB_OK, or TB_ENOSPC when the arena or header table is full (the
 * caller answers with an error; the counters record it).
 */
int tb_hop_rewrite(struct tb_worker *w, struct tb_arena *arena, struct tb_http_msg *req,
                   struct tb_hop_state **state);

#endif
