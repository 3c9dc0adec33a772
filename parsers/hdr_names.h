/* SPDX-License-Identifier: MIT
 * The table of header names tracebridge knows: one token per name, with flags
 * saying how the proxy treats it. Header names appear in code only through
 * these tokens; matching is ASCII case-insensitive and done once per header.
 */
#ifndef TB_PARSERS_HDR_NAMES_H
#define TB_PARSERS_HDR_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "common/tb.h"

enum tb_hdr_token {
    TB_HDR_UNKNOWN = 0, /* not in the table */
    TB_HDR_CONNECTION,
    TB_HDR_CONTENT_LENGTH,
    TB_HDR_EXPECT,
    TB_HDR_HOST,
    TB_HDR_KEEP_ALIVE,
    TB_HDR_PROXY_CONNECTION,
    TB_HDR_TE,
    TB_HDR_TRAILER,
    TB_HDR_TRANSFER_ENCODING,
    TB_HDR_UPGRADE,
    TB_HDR_X_FORWARDED_FOR,
    TB_HDR_X_FORWARDED_PROTO,
    /* trace-context headers (propagators/): TB_HDR_F_TRACE_CONTEXT */
    TB_HDR_TRACEPARENT,
    TB_HDR_TRACESTATE,
    TB_HDR_BAGGAGE,
    TB_HDR_B3,
    TB_HDR_X_B3_TRACEID,
    TB_HDR_X_B3_SPANID,
    TB_HDR_X_B3_PARENTSPANID,
    TB_HDR_X_B3_SAMPLED,
    TB_HDR_X_B3_FLAGS,
    TB_HDR_UBER_TRACE_ID,
    TB_HDR_JAEGER_DEBUG_ID,
    TB_HDR_JAEGER_BAGGAGE,
    TB_HDR_X_AMZN_TRACE_ID,
    TB_HDR_OT_TRACER_TRACEID,
    TB_HDR_OT_TRACER_SPANID,
    TB_HDR_OT_TRACER_SAMPLED,
    TB_HDR_X_DATADOG_TRACE_ID,
    TB_HDR_X_DATADOG_PARENT_ID,
    TB_HDR_X_DATADOG_SAMPLING_PRIORITY,
    TB_HDR_X_DATADOG_ORIGIN,
    TB_HDR_X_DATADOG_TAGS,
    TB_HDR_SW8,
    TB_HDR_SW8_X,
    TB_HDR_SW8_CORRELATION,
    TB_HDR_EAGLEEYE_TRACEID,
    TB_HDR_EAGLEEYE_RPCID,
    TB_HDR_EAGLEEYE_SPANID,
    TB_HDR_EAGLEEYE_PSPANID,
    TB_HDR_EAGLEEYE_SAMPLED,
    TB_HDR_EAGLEEYE_PAPPNAME,
    TB_HDR_EAGLEEYE_PRPC,
    TB_HDR_EAGLEEYE_USERDATA,
    TB_HDR_NUM_TOKENS,
};

/* flags of struct tb_hdr_name */
#define TB_HDR_F_HOP_BY_HOP 0x01    /* removed before forwarding (RFC 9110 §7.6.1) */
#define TB_HDR_F_TRACE_CONTEXT 0x02 /* read or written by a propagator */

struct tb_hdr_name {
    struct tb_iov name; /* lower-case canonical spelling */
    uint32_t flags;     /* TB_HDR_F_* */
};

/** Returns the token of `name` (any case), or TB_HDR_UNKNOWN. Never allocates. */
enum tb_hdr_token tb_hdr_lookup(const char *name, size_t name_len);

/** Returns the table entry of a known token; `token` must be < TB_HDR_NUM_TOKENS. */
const struct tb_hdr_name *tb_hdr_name(enum tb_hdr_token token);

#endif
