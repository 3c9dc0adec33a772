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

#include "common/counter.h"
#include "propagators/context.h"
#include "propagators/policy.h"

struct sockaddr;
struct tb_arena;
struct tb_reason;
struct tb_http_msg;
struct tb_listener_config;
struct tb_route_config;
struct tb_worker;

/* Per-worker propagation counters (rendered by proxy/metrics.c). The worker
 * thread writes them, the admin thread reads them: tb_counter_add only. */
struct tb_hop_counters {
    struct tb_counter extracted[TB_FORMAT_NUM]; /* requests where the format gave a valid context */
    struct tb_counter
        invalid[TB_FORMAT_NUM]; /* requests where the format was present but invalid */
    struct tb_counter injected[TB_FORMAT_NUM];
    /* [from][to]: requests whose winning extracted format `from` (TB_FORMAT_NUM
     * when no context came) went downstream as format `to` */
    struct tb_counter conversions[TB_FORMAT_NUM + 1][TB_FORMAT_NUM];
    struct tb_counter conflicts;       /* requests whose formats disagreed on the trace id */
    struct tb_counter no_context;      /* requests that started a new trace */
    struct tb_counter baggage_dropped; /* baggage items dropped on extract or inject */
    struct tb_counter rewrite_failed;  /* header table or arena full while rewriting */
    struct tb_counter spans_started;   /* hops that reached the span step */
    struct tb_counter
        spans_sampled; /* of those, sampled and not shed: handed to the export queue */
    struct tb_counter roots_limited; /* new roots denied by --max-root-spans-per-second */
    struct tb_counter edge_restarts; /* contexts an untrusting listener replaced with a new root */
    /* Degradation (spans/degrade.h). spans_started >= spans_sampled + spans_shed. */
    struct tb_counter spans_shed;    /* sampled, but no span made: level 1's thinning, or level 3 */
    struct tb_counter spans_reduced; /* of spans_sampled, made with the essential attributes only */
};

/* The outcome for one request, kept in the request arena for the span and
 * the access log. */
struct tb_hop_state {
    struct tb_extraction ext;
    struct tb_hop hop;
    /* The policy applied: its inject list gives the order of `injected`. */
    const struct tb_prop_policy *policy;
    uint32_t injected; /* TB_FORMAT_BITs written */
    bool sampled;      /* the decision carried downstream: a span is exported, unless degradation
                          sheds it (which never changes this decision) */
    char sw8_segment_id[33]; /* the hop's SkyWalking segment when that exporter is on */
    const struct tb_listener_config *listener; /* role: the span kind */
    const struct tb_route_config *route;       /* name: the span name */
    /* restart-and-link: the incoming context the new root links to */
    bool edge_link;
    int8_t edge_link_format;
    uint8_t edge_link_trace_id[16];
    uint8_t edge_link_span_id[8];
};

/* What the connection knows when the request ends. */
struct tb_hop_outcome {
    uint64_t start_ns, end_ns;           /* Unix epoch: first request byte, last response byte */
    int status;                          /* status the client got, 0 when none */
    const struct tb_reason *proxy_error; /* set when the proxy answered or closed on its own */
    uint64_t request_body_bytes, response_body_bytes; /* payload, framing excluded */
    const struct sockaddr *client;
    const struct sockaddr *upstream; /* the endpoint's address when upstream_reached */
    bool upstream_reached;           /* the request went over a connected upstream socket */
    /* Unix epoch: the request head went upstream (its last attempt); 0 when
     * not measured, which is when no access log asks for it. */
    uint64_t upstream_start_ns;
};

/**
 * Runs extraction and injection over `req`'s headers for a request of worker
 * `w` that `listener` accepted and `route` leads to the endpoint named
 * `target` ("host:port"): the route's propagation policy and sampler, the
 * listener's trust. Allocates the state in `arena` and returns it through
 * `*state`; the state keeps `listener` and `route`, which must outlive it.
 * Returns TB_OK, or TB_ENOSPC when the arena or header table is full (the
 * caller answers with an error; the counters record it).
 */
int tb_hop_rewrite(struct tb_worker *w, const struct tb_listener_config *listener,
                   const struct tb_route_config *route, const char *target, struct tb_arena *arena,
                   struct tb_http_msg *req, struct tb_hop_state **state);

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
