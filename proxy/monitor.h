/* SPDX-License-Identifier: MIT
 * The degradation monitor: a small thread of its own that, four times a
 * second, samples the export queues' fill and the workers' event-loop lag,
 * feeds the controller (spans/degrade.h) and logs each change of level. It
 * stays off the data path: workers only read the level, with one relaxed
 * load per request. A dedicated thread rather than a timer on some loop,
 * because every loop it could share is one of the things it watches (the
 * exporter's, the workers'), and because it then needs nothing from main's
 * signal handling beyond start and free.
 */
#ifndef TB_PROXY_MONITOR_H
#define TB_PROXY_MONITOR_H

#include <stdint.h>

struct tb_config;
struct tb_degrade;
struct tb_pipeline;
struct tb_worker;
struct tb_worker_lag;

/* How often the controller is fed; a trigger that holds raises the level by
 * one per period. */
#define TB_MONITOR_PERIOD_MS 250

struct tb_monitor;

/**
 * Creates the monitor and its controller, at level 0, from `cfg`'s
 * degrade_* settings (`cfg` must outlive the monitor). Degradation is off
 * when degrade_enabled is 0 or no exporter is enabled (no spans, nothing to
 * shed). No thread yet. Allocates (control path: out of memory is fatal);
 * free with tb_monitor_free.
 */
struct tb_monitor *tb_monitor_new(const struct tb_config *cfg);

/**
 * The controller: give it to each worker (`tb_worker.degrade`) before the
 * worker starts, and to the metrics module, which reads it with
 * tb_degrade_level and tb_degrade_stats (its times are tb_worker_now_ms
 * milliseconds). Valid until tb_monitor_free; never NULL.
 */
const struct tb_degrade *tb_monitor_degrade(const struct tb_monitor *m);

/**
 * Starts the thread that watches `pipeline` (the queues of cfg->workers
 * workers) and `workers[0..num_workers)`, which must stay allocated until
 * tb_monitor_free. Call once, after the workers have started. Does nothing
 * and returns TB_OK when degradation is off. Returns TB_EIO (logged) when
 * the thread cannot start: the proxy then runs without degradation.
 * `metrics` (may be NULL) receives the level at every change.
 */
struct tb_metrics;

int tb_monitor_start(struct tb_monitor *m, const struct tb_pipeline *pipeline,
                     const struct tb_worker *workers, unsigned num_workers,
                     struct tb_metrics *metrics);

/**
 * Stops the thread (within one period), logs `event=degradation_stats` with
 * the level, the changes into each level and the spans the workers shed or
 * reduced, and frees `m`. Call after the workers have been joined
 * (they read the level until then; the counters are final only then) and before the pipeline is
 * stopped. `m` may be NULL.
 */
void tb_monitor_free(struct tb_monitor *m);

/**
 * A worker's event-loop lag between two snapshots of its counters, `prev`
 * and `cur` (taken at `now_ms`, tb_worker_now_ms): the mean lateness of the
 * ticks in between, or how overdue the next tick is when that is more — a
 * loop stuck in one callback fires no tick at all. 0 for a loop that is not
 * running. Pure.
 */
uint64_t tb_monitor_loop_lag(const struct tb_worker_lag *prev, const struct tb_worker_lag *cur,
                             uint64_t now_ms);

#endif
