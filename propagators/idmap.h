/* SPDX-License-Identifier: MIT
 * Identifier mappings between formats whose ids do not fit 128/64 bits and
 * the 128-bit model: SkyWalking trace and segment ids (protocols.md §8.4,
 * the OpenTelemetry collector's skywalkingreceiver algorithm, so that our ids
 * agree with it), EagleEye trace ids (§11) and the stable hash fallback used
 * when no mapping applies. Pure functions; the hash is OpenSSL's SHA-256.
 */
#ifndef TB_PROPAGATORS_IDMAP_H
#define TB_PROPAGATORS_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/tb.h"

/**
 * swTraceIDToTraceID: a 36-character UUID or 32 hex digits (any case) parse as
 * such; a longer id goes through swStringToUUID(id, 0). Writes `out` and
 * returns true when the result is non-zero; returns false (out all zero)
 * when the collector would produce the invalid all-zero id.
 */
bool tb_sw_trace_id_to_128(struct tb_iov sw_trace_id, uint8_t out[16]);

/**
 * segmentIDToSpanID(segment_id, span_id) of the collector. Returns true and
 * writes `out` when non-zero; false (out all zero) otherwise.
 */
bool tb_sw_segment_to_span_id(struct tb_iov segment_id, int32_t span_id, uint8_t out[8]);

/** The first 16 bytes of SHA-256(`s`): the fallback for ids no mapping covers. */
void tb_hash_trace_id(struct tb_iov s, uint8_t out[16]);

/** The first 8 bytes of SHA-256(`s`), forced non-zero: a fallback span id. */
void tb_hash_span_id(struct tb_iov s, uint8_t out[8]);

/**
 * The 128-bit trace id tracebridge uses for a SkyWalking trace id: the
 * collector mapping, else the hash fallback (then `*hashed` is set, and the
 * W3C random flag must be 0). Never yields zero for a non-empty id.
 */
void tb_sw_trace_id_map(struct tb_iov sw_trace_id, uint8_t out[16], bool *hashed);

/**
 * The 128-bit trace id for an EagleEye trace id: 1 to 32 hex digits (any
 * case) left-padded with zeros, else the hash fallback (`*hashed` set).
 */
void tb_eagleeye_trace_id_map(struct tb_iov ee_trace_id, uint8_t out[16], bool *hashed);

/**
 * True when `native` is exactly the 32 lower-case hex digits of `trace_id`:
 * re-emitting the id from the 128 bits then gives back the same string, so
 * it need not travel in tracestate.
 */
bool tb_native_id_is_plain_hex(struct tb_iov native, const uint8_t trace_id[16]);

/**
 * The SkyWalking segment id tracebridge gives a hop whose span id is
 * `span_id`: 32 lower-case hex digits (not NUL-terminated) chosen so that
 * segmentIDToSpanID(segment, 1) — the hop's Exit span — is `span_id` itself
 * (protocols.md §8.5).
 */
void tb_sw_hop_segment_id(const uint8_t span_id[8], char out[32]);

#endif
