/* SPDX-License-Identifier: MIT
 * The metrics registry: one per process, made by main before the workers.
 * Each worker updates its own block of counters (one writer, no locks, no
 * read-modify-write; common/counter.h); the admin thread sums the blocks and
 * renders them in the Prometheus text format (docs/admin.md lists every
 * family). Listeners, routes and clusters get their counter slots by name, so
 * a series keeps counting across configuration reloads.
 */
#ifndef TB_PROXY_METRICS_H
#define TB_PROXY_METRICS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct tb_config;
struct tb_hop_counters;
struct tb_pipeline;
struct tb_reason;

/* Distinct names the registry holds over the process's life. Slots are never
 * reused: a request still in flight under an old configuration may count
 * into its slot after a reload. */
#define TB_METRICS_MAX_LISTENERS 64
#define TB_METRICS_MAX_ROUTES 512 /* (listener name, route name) pairs */
#define TB_METRICS_MAX_CLUSTERS 256
#define TB_METRICS_MAX_DEGRADATION_LEVEL 7

/* The `route` of tb_metrics_request_done for a request that ended before a
 * route was chosen (a malformed head, a header timeout, no route matched):
 * rendered as route="(none)". */
#define TB_METRICS_NO_ROUTE UINT_MAX

struct tb_metrics;
struct tb_metrics_worker;

/**
 * Makes the registry for `num_workers` workers (fixed for the process).
 * Allocates (tb_xcalloc: never NULL); free with tb_metrics_free. Records the
 * process start time, which is also the first "last successful reload".
 */
struct tb_metrics *tb_metrics_new(unsigned num_workers);

/** Frees `m` (may be NULL). Nothing may use it or its worker blocks afterwards. */
void tb_metrics_free(struct tb_metrics *m);

/**
 * Gives every listener, route and cluster of `cfg` its counter slot, writing
 * their `metrics_slot` fields. A name seen by an earlier bind keeps its slot;
 * a route is keyed by its listener's name and its own (unnamed routes of one
 * listener share route=""). Main thread, at startup and again for the new
 * configuration of each reload, before any worker uses it; safe while the
 * admin thread renders. Returns TB_OK, or TB_ENOSPC with a message in `err`
 * (`err_size` bytes) when the new names would pass a TB_METRICS_MAX_* bound:
 * then the registry is unchanged, `cfg`'s slots are meaningless, and the
 * caller refuses that configuration. Allocates nothing.
 */
int tb_metrics_bind(struct tb_metrics *m, struct tb_config *cfg, char *err, size_t err_size);

/**
 * The counter block of worker `worker` (< num_workers), for struct
 * tb_worker.metrics, and registers `hop`, the worker's propagation counters
 * (may be NULL), for rendering. `hop` must stay valid until tb_metrics_free
 * or a later call with NULL. Main thread.
 */
struct tb_metrics_worker *tb_metrics_worker(struct tb_metrics *m, unsigned worker,
                                            const struct tb_hop_counters *hop);

/**
 * Names the export pipeline whose counters are rendered (NULL: none) and
 * which exporters are on (TB_EXPORTER_BITs). Main thread; call with NULL
 * before tb_pipeline_stop frees it. Blocks while a render is in progress.
 */
void tb_metrics_set_pipeline(struct tb_metrics *m, const struct tb_pipeline *p, uint32_t enabled);

/**
 * Counts a configuration reload: tracebridge_config_reloads_total{result}
 * and, on success, the last-success timestamp (now). Any thread.
 */
void tb_metrics_reload(struct tb_metrics *m, bool success);

/**
 * The degradation controller's hook: sets tracebridge_degradation_level to
 * `level` (0 = normal service; larger = more shed; at most
 * TB_METRICS_MAX_DEGRADATION_LEVEL, larger values are clamped) and, when it
 * differs from the previous level, counts one transition into `level` in
 * tracebridge_degradation_transitions_total{level}. Any thread; lock-free.
 */
void tb_metrics_set_degradation(struct tb_metrics *m, unsigned level);

/**
 * Writes every metric family in the Prometheus text exposition format 0.0.4
 * to `out`: sums of the worker blocks, the propagation and span counters,
 * the pipeline's, the process's. Any thread (the admin thread); takes the
 * registry's lock, never a worker's. Allocates nothing beyond stdio's.
 */
void tb_metrics_render(struct tb_metrics *m, FILE *out);

/* ------------------------------------------------------------------------ */
/* Worker hooks. Only the block's worker thread may call them; `mw` may be NULL
 * (nothing is counted). Slots are the `metrics_slot` fields bind wrote. */

/**
 * A request ended: counts it by listener, route (TB_METRICS_NO_ROUTE when
 * none was chosen) and the class of `status`, the status the client got (0:
 * none; outside 100..599 counts as none), and its duration in the histogram.
 */
void tb_metrics_request_done(struct tb_metrics_worker *mw, unsigned listener, unsigned route,
                             int status, uint64_t duration_ns);

/**
 * An upstream connect or response failed, as `reason` says: refused and
 * unreachable count as connect errors, upstream_connect_timeout as a connect
 * timeout, upstream_timeout as a response timeout; other reasons are
 * ignored. Counted by cluster slot, each time one is detected (retries too).
 */
void tb_metrics_upstream_failure(struct tb_metrics_worker *mw, unsigned cluster,
                                 const struct tb_reason *reason);

/** Counts one passive ejection of an endpoint of `cluster` (a slot). */
void tb_metrics_endpoint_ejected(struct tb_metrics_worker *mw, unsigned cluster);

/** A client connection opened (`delta` 1) or closed (-1) on listener slot `listener`. */
void tb_metrics_client_connection(struct tb_metrics_worker *mw, unsigned listener, int delta);

/**
 * Upstream connections: `open_delta` when one is created (1) or freed (-1),
 * `idle_delta` when one enters (1) or leaves (-1) the idle pool.
 */
void tb_metrics_upstream_connection(struct tb_metrics_worker *mw, int open_delta, int idle_delta);

#endif
