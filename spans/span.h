/* SPDX-License-Identifier: MIT
 * The finished span of one hop, as the exporters see it (types only). A
 * fixed-size record: the worker fills one in place in its queue slot, so the
 * data path never allocates for a span, and strings are copied in, cut at
 * their field's size (the `*_len` fields say how much is valid).
 */
#ifndef TB_SPANS_SPAN_H
#define TB_SPANS_SPAN_H

#include <stdbool.h>
#include <stdint.h>

#include "propagators/context.h"

#define TB_SPAN_MAX_LINKS 4

/* OTLP SpanKind numbering. */
enum tb_span_kind {
    TB_SPAN_KIND_SERVER = 2, /* inbound listener: in front of the service */
    TB_SPAN_KIND_CLIENT = 3, /* outbound listener: the service's calls */
};

/* A bounded string stored in the record. */
#define TB_SPAN_STR(name, size)                                                                    \
    char name[size];                                                                               \
    uint16_t name##_len

struct tb_span_link {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    enum tb_format format; /* the format that carried the losing context */
};

/* SkyWalking facts for the skywalking exporter (protocols.md §8.5). */
struct tb_span_sw8 {
    bool has_ref;               /* an sw8 header arrived: the segment refs its parent */
    TB_SPAN_STR(trace_id, 160); /* the native SkyWalking trace id (always set) */
    TB_SPAN_STR(parent_segment_id, 160);
    int32_t parent_span_id;
    TB_SPAN_STR(parent_service, 64);
    TB_SPAN_STR(parent_instance, 64);
    TB_SPAN_STR(parent_endpoint, 160);
    TB_SPAN_STR(target, 128); /* networkAddressUsedAtPeer */
    char segment_id[33];      /* the hop's own segment: 32 lower-case hex */
    /* The Exit span's peer: the target the hop names in the sw8 it sends
     * downstream (the upstream authority), so that the OAP can join the
     * downstream segment's ref to it. Empty: the upstream's address. */
    TB_SPAN_STR(exit_peer, 128);
};

struct tb_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_span_id[8]; /* all zero for a root */
    uint8_t w3c_flags;         /* TB_W3C_FLAG_* */
    bool sampled;
    /* Degradation level 2 (docs/spans.md, "Degradation"): only the essential
     * fields were filled, and encoders write only the essential attributes —
     * no client or peer address, user agent, protocol version, body sizes,
     * tracebridge.* attributes or links. */
    bool reduced;
    enum tb_span_kind kind;
    uint64_t start_ns; /* Unix epoch ns: first request byte */
    uint64_t end_ns;   /* Unix epoch ns: last response byte */

    TB_SPAN_STR(name, 64); /* low cardinality: the method, or a route name */
    TB_SPAN_STR(tracestate, 512);
    TB_SPAN_STR(method, 24);          /* http.request.method ("_OTHER" for unknown methods) */
    TB_SPAN_STR(path, 256);           /* url.path */
    TB_SPAN_STR(server_address, 128); /* server.address: the Host the client asked for */
    uint16_t server_port;             /* server.port, 0 when unknown */
    TB_SPAN_STR(client_address, 46);  /* client.address */
    uint16_t client_port;
    TB_SPAN_STR(peer_address, 46); /* network.peer.address: the upstream */
    uint16_t peer_port;
    TB_SPAN_STR(user_agent, 256);                   /* user_agent.original */
    TB_SPAN_STR(error_type, 32);                    /* error.type when is_error */
    uint8_t http_version_major, http_version_minor; /* network.protocol.version */
    int status_code;                                /* http.response.status_code, 0 when none */
    bool is_error;                                  /* 5xx, or the proxy's own error response */
    bool proxy_error;            /* the response came from the proxy, not the upstream */
    uint64_t request_body_size;  /* http.request.body.size */
    uint64_t response_body_size; /* http.response.body.size */
    int extracted_format;        /* enum tb_format, or -1: tracebridge.extracted_format */
    uint32_t injected_formats;   /* TB_FORMAT_BITs: tracebridge.injected_formats */

    struct tb_span_link links[TB_SPAN_MAX_LINKS];
    uint8_t num_links;
    struct tb_span_sw8 sw8;
};

#undef TB_SPAN_STR

/* One resource attribute (service.name, host.name, OTEL_RESOURCE_ATTRIBUTES...). */
struct tb_resource_attr {
    const char *key;
    const char *value;
};

/* What every span of the process shares; immutable once exporters start. */
struct tb_resource {
    const struct tb_resource_attr *attrs;
    size_t num_attrs;
    const char *service_name;     /* = the service.name attribute, for Zipkin and SkyWalking */
    const char *service_instance; /* = service.instance.id */
};

#endif
