/* SPDX-License-Identifier: MIT
 * The trace-context model every codec produces and consumes (types only).
 * One value holds what a request carried in one format, or the merged result
 * of several: the 128-bit trace id, the caller's span id, the sampling state,
 * W3C flags and tracestate, baggage, and each format's native extras so that
 * they can be re-emitted faithfully. All views borrow from the request's
 * header table or from the arena the codec was given; the model owns nothing.
 */
#ifndef TB_PROPAGATORS_CONTEXT_H
#define TB_PROPAGATORS_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tb.h"

/* Formats in registry order (propagators/formats.def), which is also the
 * default extraction precedence. */
enum tb_format {
#define TB_FORMAT_DEF(name, enum_name) TB_FORMAT_##enum_name,
#include "propagators/formats.def"
#undef TB_FORMAT_DEF
    TB_FORMAT_NUM,
};
#define TB_FORMAT_BIT(f) (1u << (unsigned)(f))

/* The four sampling states of B3 and Jaeger; W3C can express only two. */
enum tb_sampling {
    TB_SAMPLING_DEFER = 0, /* no decision arrived: downstream decides */
    TB_SAMPLING_ACCEPT,
    TB_SAMPLING_DENY,
    TB_SAMPLING_DEBUG, /* accept, and ask every hop to record */
};

#define TB_W3C_FLAG_SAMPLED 0x01
#define TB_W3C_FLAG_RANDOM 0x02 /* right-most 7 bytes of the trace id are random (Level 2) */

/* W3C baggage limits, applied to every carrier (protocols.md §2, §12.3). */
#define TB_BAGGAGE_MAX_ITEMS 64
#define TB_BAGGAGE_MAX_BYTES 8192

struct tb_baggage_item {
    struct tb_iov key;   /* as it travels in W3C baggage (an RFC 9110 token) */
    struct tb_iov value; /* decoded bytes (percent / URL / base64 encodings removed) */
    struct tb_iov props; /* raw W3C properties after the first ';', empty if none */
};

struct tb_baggage {
    struct tb_baggage_item *items; /* arena-owned array */
    size_t num;
    size_t cap;
    size_t bytes;   /* sum of key + value + props lengths, for the 8192 limit */
    size_t dropped; /* items that could not be kept (limits, bad encodings) */
};

/* SkyWalking sw8 (protocols.md §8): every field decoded from base64. */
struct tb_sw8_extras {
    struct tb_iov trace_id;   /* the native SkyWalking trace id (arbitrary string) */
    struct tb_iov segment_id; /* parent segment id; empty when only the trace id is known */
    int32_t span_id;          /* parent span id, >= 0 */
    struct tb_iov service;
    struct tb_iov instance;
    struct tb_iov endpoint;
    struct tb_iov target;
    uint8_t sample;    /* field 1 as received: 0 or 1 */
    struct tb_iov ext; /* raw sw8-x value, empty when absent */
};

struct tb_b3_extras {
    uint8_t parent_span_id[8]; /* X-B3-ParentSpanId / 4th field of b3 */
    bool has_parent_span_id;
};

struct tb_jaeger_extras {
    struct tb_iov debug_id; /* jaeger-debug-id, empty when absent */
};

struct tb_xray_extras {
    /* Every field other than Root, Parent and Sampled, in arrival order and
     * joined with ';' (Self=..., Lineage=..., custom k=v); empty if none. */
    struct tb_iov fields;
};

struct tb_datadog_extras {
    struct tb_iov origin; /* x-datadog-origin, empty when absent */
    struct tb_iov tags;   /* x-datadog-tags without _dd.p.tid, empty when none */
    int32_t priority;     /* x-datadog-sampling-priority when has_priority */
    bool has_priority;
};

struct tb_eagleeye_extras {
    struct tb_iov trace_id;  /* the native EagleEye trace id */
    struct tb_iov rpc_id;    /* EagleEye-RpcId, e.g. "0.1", empty when absent */
    struct tb_iov user_data; /* EagleEye-UserData, opaque, empty when absent */
};

struct tb_trace_ctx {
    uint8_t trace_id[16]; /* big-endian; 64-bit formats fill the low half */
    uint8_t span_id[8];   /* the caller's span: the parent of the hop */
    uint8_t w3c_flags;    /* TB_W3C_FLAG_*; other bits are never kept */
    enum tb_sampling sampling;
    uint8_t id_width;         /* 64 or 128: the trace id's width where it came from */
    enum tb_format format;    /* the format that produced the trace id */
    uint32_t extras;          /* TB_FORMAT_BIT(f) set when that format's extras below are filled */
    struct tb_iov tracestate; /* validated W3C tracestate without our own member, or empty */
    /* The value of tracebridge's own tracestate member (propagators/tbstate.h):
     * as received on extract; on inject, the value to emit left-most (empty:
     * none). The tracecontext codec moves it in and out of tracestate. */
    struct tb_iov tbstate;
    struct tb_baggage baggage;
    struct tb_b3_extras b3;
    struct tb_jaeger_extras jaeger;
    struct tb_xray_extras xray;
    struct tb_datadog_extras datadog;
    struct tb_sw8_extras sw8;
    struct tb_eagleeye_extras eagleeye;
};

/* What the hop contributes to every injected format. */
struct tb_hop {
    uint8_t span_id[8];     /* the hop's span id: every format names it as parent */
    struct tb_iov service;  /* sw8 parent service (--service-name) */
    struct tb_iov instance; /* sw8 parent instance (--service-instance) */
    struct tb_iov endpoint; /* sw8 parent endpoint "METHOD:/path", at most 150 bytes */
    struct tb_iov target;   /* sw8 target address: the upstream authority host:port */
    /* The sw8 parent segment. Empty segment_id: the convention of protocols.md
     * §8.5 (hex of span_id + 16 zeros, span 0), which maps back to span_id.
     * The SkyWalking exporter sets its own segment and Exit span here. */
    struct tb_iov sw8_segment_id;
    int32_t sw8_span_id;
};

#endif
