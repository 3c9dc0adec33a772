/* SPDX-License-Identifier: MIT
 * The hop: for one proxied request, extract the incoming trace context,
 * give the hop its span id, and rewrite the request's context headers for
 * the upstream (propagators/policy.h does the work; this module supplies the
 * random ids, the hop's names and the per-worker counters).
 */
#ifndef TB_PROXY_HOP_H
#define TB_PROXY_HOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "propagators/context.h"
#include "propagators/policy.h"

struct sockaddr;
struct tb_arena;
struct tb_reason;
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
    uint64_t spans_started;   /* hops that reached the span step */
    uint64_t spans_sampled;   /* of those, sampled and not shed: handed to the export queue */
    uint64_t roots_limited;   /* new roots denied by --max-root-spans-per-second */
    /* Degradation (spans/degrade.h). spans_started >= spans_sampled + spans_shed. */
    uint64_t spans_shed;    /* sampled, but no span made: level 1's thinning, or level 3 */
    uint64_t spans_reduced; /* of spans_sampled, made with the essential attributes only */
};

/* The outcome for one request, kept in the request arena for the span and
 * the access log. */
struct tb_hop_state {
    struct tb_extraction ext;
    struct tb_hop hop;
    uint32_t injected; /* TB_FORMAT_BITs written */
    bool sampled;      /* the decision carried downstream: a span is exported, unless degradation
                          sheds it (which never changes this decision) */
    char sw8_segment_id[33]; /* the hop's SkyWalking segment when that exporter is on */
};

/* What the connection knows when the request ends. */
struct tb_hop_outcome {
    uint64_t start_ns, end_ns;           /* Unix epoch: first request byte, last response byte */
    int status;                          /* status the client got, 0 when none */
    const struct tb_reason *proxy_error; /* set when the proxy answered or closed on its own */
    uint64_t request_body_bytes, response_body_bytes; /* payload, framing excluded */
    const struct sockaddr *client;
    bool upstream_reached; /* the request went over a connected upstream socket */
};

/**
 * Runs extraction and injection over `req`'s headers for a request of worker
 * `w`; allocates its state in `arena` and returns it through `*state`.
 * Returns TB_OK, or TB_ENOSPC when the arena or header table is full (the
 * caller answers with an error; the counters record it).
 */
int tb_hop_rewrite(struct tb_worker *w, struct tb_arena *arena, struct tb_http_msg *req,
                   struct tb_hop_state **state);

/**
 * Finishes the hop of a request that went through tb_hop_rewrite: when it is
 * sampled, fills a span in the worker's export queue (a full queue drops it;
 * the pipeline counts). The degradation level, read once here, may shed the
 * span or reduce it (docs/spans.md, "Degradation"; counted in
 * hop_counters). `req` must still be valid (its arena not yet reset).
 * Never blocks, never allocates.
 */
void tb_hop_finish(struct tb_worker *w, const struct tb_http_msg *req,
                   const struct tb_hop_state *state, const struct tb_hop_outcome *outcome);

/** Wall-clock time in nanoseconds since the Unix epoch. */
uint64_t tb_hop_now_ns(void);

#endif
