/* SPDX-License-Identifier: MIT
 * The export pipeline: per-worker bounded span queues feeding one exporter
 * thread with its own event base, which batches spans (OTEL_BSP_*), encodes
 * them for every enabled exporter and sends them: OTLP/HTTP, Zipkin and
 * SkyWalking over HTTP POST (libevent's HTTP client) with retries, and the
 * file exporter as JSON lines. The data path only ever touches its own
 * queue: reserving a slot never blocks and never takes a lock; a full queue
 * drops the span and counts it.
 */
#ifndef TB_SPANS_EXPORTER_H
#define TB_SPANS_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spans/span.h"

enum tb_exporter_kind {
    TB_EXPORTER_OTLP = 0,
    TB_EXPORTER_ZIPKIN,
    TB_EXPORTER_SKYWALKING,
    TB_EXPORTER_FILE,
    TB_EXPORTER_NUM,
};
#define TB_EXPORTER_BIT(k) (1u << (unsigned)(k))

#define TB_EXPORT_MAX_HEADERS 16

struct tb_export_header {
    char name[64];
    char value[512];
};

struct tb_export_config {
    uint32_t enabled; /* TB_EXPORTER_BITs */

    /* otlp: full URL of the traces endpoint (…/v1/traces) */
    char otlp_url[512];
    bool otlp_json; /* OTEL_EXPORTER_OTLP_PROTOCOL=http/json */
    bool otlp_gzip; /* OTEL_EXPORTER_OTLP_COMPRESSION=gzip */
    struct tb_export_header otlp_headers[TB_EXPORT_MAX_HEADERS]; /* OTEL_EXPORTER_OTLP_HEADERS */
    size_t num_otlp_headers;
    char zipkin_url[512];     /* full URL of /api/v2/spans */
    char skywalking_url[512]; /* base URL; /v3/segments is appended */
    char file_path[512];      /* "-" or "" = stdout */

    uint64_t
        export_timeout_ms; /* per request: OTEL_EXPORTER_OTLP_TIMEOUT / OTEL_BSP_EXPORT_TIMEOUT */
    size_t max_queue;      /* OTEL_BSP_MAX_QUEUE_SIZE, per worker (default 2048) */
    size_t max_batch;      /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE (default 512) */
    uint64_t schedule_delay_ms; /* OTEL_BSP_SCHEDULE_DELAY (default 5000) */
    unsigned max_retries;       /* attempts after the first, per batch (default 5) */
    uint64_t retry_initial_ms;  /* first backoff (default 1000), doubled, jittered */
    uint64_t retry_max_ms;      /* backoff cap (default 30000) */
};

/* Counters per exporter, read with tb_exporter_stats (any thread). */
struct tb_export_stats {
    uint64_t exported; /* spans accepted by the receiver (2xx) or written */
    uint64_t failed;   /* spans given up on: non-retryable status, retries exhausted, deadline */
    uint64_t requests; /* requests sent, retries included */
    uint64_t retries;
    uint64_t errors; /* failed requests: connection errors, timeouts, non-2xx */
};

struct tb_pipeline_stats {
    uint64_t enqueued;     /* spans committed by the workers */
    uint64_t dropped_full; /* spans dropped because a worker's queue was full */
    uint64_t queue_depth;  /* spans waiting now, all workers */
    struct tb_export_stats exporters[TB_EXPORTER_NUM];
};

struct tb_pipeline;

/**
 * Starts the exporter thread for `num_workers` producers. `cfg` and `res`
 * are copied (res->attrs strings included). Returns NULL and writes a reason
 * to `err` (a buffer of `err_size` bytes) when a URL does not parse or the
 * thread cannot start. Free with tb_pipeline_stop.
 */
struct tb_pipeline *tb_pipeline_start(const struct tb_export_config *cfg,
                                      const struct tb_resource *res, unsigned num_workers,
                                      char *err, size_t err_size);

/**
 * Reserves the next span slot of `worker`'s queue, or returns NULL when the
 * queue is full (the drop is counted). Only `worker`'s thread may call it;
 * the slot is uninitialised and stays the caller's until
 * tb_pipeline_commit. Never blocks, never allocates.
 */
struct tb_span *tb_pipeline_reserve(struct tb_pipeline *p, unsigned worker);

/** Publishes the slot returned by the last tb_pipeline_reserve of `worker`. */
void tb_pipeline_commit(struct tb_pipeline *p, unsigned worker);

/**
 * Flushes what is queued, waits at most `deadline_ms` for the exports in
 * flight, stops the thread and frees everything. Spans still unsent at the
 * deadline are counted as failed. The final counters go to `*final` (may be
 * NULL). `p` may be NULL.
 */
void tb_pipeline_stop(struct tb_pipeline *p, uint64_t deadline_ms, struct tb_pipeline_stats *final);

/** A consistent-enough snapshot of the counters (relaxed atomic reads). */
void tb_pipeline_stats(const struct tb_pipeline *p, struct tb_pipeline_stats *out);

#endif
