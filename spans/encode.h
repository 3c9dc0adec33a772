/* SPDX-License-Identifier: MIT
 * The span encoders: each appends one export request body for a batch of
 * spans that share a resource. Pure functions (no I/O, no globals); they
 * only append to `out`, which grows as needed. All return TB_OK.
 *
 * Attribute names and semantics follow the OpenTelemetry HTTP semantic
 * conventions (see docs/spans.md); every encoder carries the same facts.
 */
#ifndef TB_SPANS_ENCODE_H
#define TB_SPANS_ENCODE_H

#include <stddef.h>

#include "spans/buf.h"
#include "spans/span.h"

/** OTLP/HTTP protobuf: an ExportTraceServiceRequest (spans/otlp_proto.c). */
int tb_encode_otlp_proto(const struct tb_resource *res, const struct tb_span *const *spans,
                         size_t num, struct tb_buf *out);

/** OTLP/HTTP JSON (the protobuf JSON mapping, hex ids): spans/otlp_json.c. */
int tb_encode_otlp_json(const struct tb_resource *res, const struct tb_span *const *spans,
                        size_t num, struct tb_buf *out);

/** Zipkin v2 JSON: an array of spans for POST /api/v2/spans (spans/zipkin.c). */
int tb_encode_zipkin(const struct tb_resource *res, const struct tb_span *const *spans, size_t num,
                     struct tb_buf *out);

/**
 * SkyWalking native segments: a JSON array of SegmentObject for POST
 * /v3/segments, one segment per span with an Entry and an Exit span
 * (spans/skywalking.c).
 */
int tb_encode_skywalking(const struct tb_resource *res, const struct tb_span *const *spans,
                         size_t num, struct tb_buf *out);

/** JSON lines, one object per span (the `file` exporter): spans/file_json.c. */
int tb_encode_file_json(const struct tb_resource *res, const struct tb_span *const *spans,
                        size_t num, struct tb_buf *out);

#endif
