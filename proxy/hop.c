/* SPDX-License-Identifier: MIT
 * The hop's propagation step on the data path.
 */
#include "proxy/hop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/arena.h"
#include "common/rand.h"
#include "parsers/http1.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"
#include "proxy/cluster.h"
#include "proxy/config.h"
#include "proxy/log.h"
#include "proxy/worker.h"
#include "common/reason.h"
#include "propagators/idmap.h"
#include "propagators/sw8.h"
#include "spans/degrade.h"
#include "spans/exporter.h"
#include "spans/sampler.h"

/* "METHOD:/path" without the query, cut as tb_sw8_endpoint_path_len says. */
static struct tb_iov hop_endpoint(struct tb_arena *arena, const struct tb_http_msg *req)
{
    struct tb_iov path = req->target;
    const char *query = memchr(path.base, '?', path.len);
    size_t len;
    char *buf;

    if (query != NULL)
        path.len = (size_t)(query - path.base);
    path.len = tb_sw8_endpoint_path_len(req->method.len, path.base, path.len);
    len = req->method.len + 1 + path.len;
    buf = tb_arena_alloc(arena, len);
    if (buf == NULL)
        return (struct tb_iov){NULL, 0};
    memcpy(buf, req->method.base, req->method.len);
    buf[req->method.len] = ':';
    memcpy(buf + req->method.len + 1, path.base, path.len);
    return (struct tb_iov){buf, len};
}

static void hop_count(struct tb_hop_counters *n, const struct tb_hop_state *s,
                      size_t baggage_dropped)
{
    unsigned from = s->ext.winner >= 0 ? (unsigned)s->ext.winner : TB_FORMAT_NUM;

    /* Walk set bits only: each update is a load and a store, so a request
     * pays for the formats it carried, not for every format. */
    for (uint32_t m = s->ext.valid; m != 0; m &= m - 1)
        tb_counter_inc(&n->extracted[__builtin_ctz(m)]);
    for (uint32_t m = s->ext.invalid; m != 0; m &= m - 1)
        tb_counter_inc(&n->invalid[__builtin_ctz(m)]);
    for (uint32_t m = s->injected; m != 0; m &= m - 1) {
        tb_counter_inc(&n->injected[__builtin_ctz(m)]);
        tb_counter_inc(&n->conversions[from][__builtin_ctz(m)]);
    }
    if (s->ext.conflicts != 0)
        tb_counter_inc(&n->conflicts);
    /* A context an untrusting edge replaced did arrive. */
    if (s->ext.new_root && s->ext.valid == 0)
        tb_counter_inc(&n->no_context);
    if (baggage_dropped + s->ext.ctx.baggage.dropped != 0)
        tb_counter_add(&n->baggage_dropped, baggage_dropped + s->ext.ctx.baggage.dropped);
}

static void hop_log(const struct tb_hop_state *s)
{
    char trace[33], parent[17], span[17];

    tb_hex_encode(s->ext.ctx.trace_id, 16, trace);
    tb_hex_encode(s->ext.ctx.span_id, 8, parent);
    tb_hex_encode(s->hop.span_id, 8, span);
    trace[32] = parent[16] = span[16] = '\0';
    tb_log(TB_LOG_DEBUG, "hop",
           " trace_id=%s parent_id=%s span_id=%s extracted=%s valid=%#x "
           "invalid=%#x conflicts=%#x injected=%#x",
           trace, tb_is_zero(s->ext.ctx.span_id, 8) ? "-" : parent, span,
           s->ext.winner >= 0 ? tb_propagator_get((enum tb_format)s->ext.winner)->name : "none",
           s->ext.valid, s->ext.invalid, s->ext.conflicts, s->injected);
}

uint64_t tb_hop_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A token bucket per worker, its share of --max-root-spans-per-second. */
static bool hop_root_allowed(struct tb_worker *w)
{
    double rate = (double)w->cfg->max_root_spans_per_second / w->cfg->workers;
    uint64_t now = tb_worker_now_ms();

    if (w->cfg->max_root_spans_per_second == 0)
        return true;
    w->root_tokens += (double)(now - w->root_tokens_ms) * rate / 1000.0;
    w->root_tokens_ms = now;
    /* Burst of one second's worth, at least one span. */
    if (w->root_tokens > (rate > 1 ? rate : 1))
        w->root_tokens = rate > 1 ? rate : 1;
    if (w->root_tokens < 1.0)
        return false;
    w->root_tokens -= 1.0;
    return true;
}

/* The sampling decision every injected format carries downstream. */
static void hop_sample(struct tb_worker *w, const struct tb_sampler *sampler,
                       struct tb_hop_state *s)
{
    struct tb_trace_ctx *ctx = &s->ext.ctx;
    /* An id-less decision (a lone `b3: 0`) counts as the parent's. */
    bool continues = !s->ext.new_root || ctx->sampling != TB_SAMPLING_DEFER;
    enum tb_sampling d = tb_sampler_decide(sampler, ctx->trace_id, ctx->sampling, continues);

    if (d != TB_SAMPLING_DENY && (!continues || ctx->sampling == TB_SAMPLING_DEFER) &&
        !hop_root_allowed(w)) {
        d = TB_SAMPLING_DENY;
        tb_counter_inc(&w->hop_counters.roots_limited);
    }
    ctx->sampling = d;
    s->sampled = tb_sampling_is_sampled(d);
}

/* Edge trust: a listener that does not trust its clients starts a new root
 * whatever arrived, so a public client can neither join an internal trace
 * nor force sampling; restart-and-link keeps a link to what arrived. The
 * incoming baggage is dropped with the context. */
static void hop_distrust(struct tb_worker *w, const struct tb_listener_config *listener,
                         struct tb_hop_state *s)
{
    struct tb_extraction *ext = &s->ext;
    uint8_t trace_id[16];

    s->edge_link = false;
    if (ext->winner >= 0 && listener->trust == TB_TRUST_RESTART_LINK) {
        s->edge_link = true;
        s->edge_link_format = (int8_t)ext->winner;
        memcpy(s->edge_link_trace_id, ext->ctx.trace_id, 16);
        memcpy(s->edge_link_span_id, ext->ctx.span_id, 8);
    }
    if (ext->winner >= 0 || ext->valid != 0)
        tb_counter_inc(&w->hop_counters.edge_restarts);
    tb_ctx_init(&ext->ctx, TB_FORMAT_TRACECONTEXT);
    ext->winner = -1;
    ext->merged = 0;
    ext->conflicts = 0;
    ext->new_root = false;
    tb_rng_trace_id(&w->rng, trace_id);
    tb_prop_start_root(ext, trace_id);
}

int tb_hop_rewrite(struct tb_worker *w, const struct tb_listener_config *listener,
                   const struct tb_route_config *route, const char *target, struct tb_arena *arena,
                   struct tb_http_msg *req, struct tb_hop_state **state)
{
    const struct tb_config *cfg = w->cfg;
    const struct tb_prop_policy *policy = &route->propagation;
    struct tb_prop_policy edge_policy;
    struct tb_hop_state *s = tb_arena_alloc(arena, sizeof(*s));
    size_t baggage_dropped = 0;

    *state = NULL;
    if (s == NULL)
        goto no_space;
    s->listener = listener;
    s->route = route;
    s->edge_link = false;
    s->policy = policy;
    if (tb_prop_extract(policy, &req->headers, arena, &s->ext) != TB_OK)
        goto no_space;
    if (listener->trust != TB_TRUST_TRUST) {
        hop_distrust(w, listener, s);
        /* Every context header that came goes, whatever the mode says. */
        if (policy->mode != TB_INJECT_REPLACE) {
            edge_policy = *policy;
            edge_policy.mode = TB_INJECT_REPLACE;
            policy = &edge_policy;
        }
    } else if (s->ext.winner < 0) {
        uint8_t trace_id[16];

        tb_rng_trace_id(&w->rng, trace_id);
        tb_prop_start_root(&s->ext, trace_id);
    }
    hop_sample(w, &route->sampler, s);
    memset(&s->hop, 0, sizeof(s->hop));
    tb_rng_span_id(&w->rng, s->hop.span_id);
    if (cfg->export.enabled & TB_EXPORTER_BIT(TB_EXPORTER_SKYWALKING)) {
        tb_sw_hop_segment_id(s->hop.span_id, s->sw8_segment_id);
        s->sw8_segment_id[32] = '\0';
        s->hop.sw8_segment_id = (struct tb_iov){s->sw8_segment_id, 32};
        s->hop.sw8_span_id = 1; /* the Exit span */
    } else {
        s->sw8_segment_id[0] = '\0';
    }
    s->hop.service = (struct tb_iov){cfg->service_name, strlen(cfg->service_name)};
    s->hop.instance = (struct tb_iov){cfg->service_instance, strlen(cfg->service_instance)};
    s->hop.endpoint = hop_endpoint(arena, req);
    s->hop.target = (struct tb_iov){target, strlen(target)};
    if (s->hop.endpoint.base == NULL)
        goto no_space;
    if (tb_prop_inject(policy, &s->ext, &s->hop, arena, &req->headers, &s->injected,
                       &baggage_dropped) != TB_OK)
        goto no_space;
    hop_count(&w->hop_counters, s, baggage_dropped);
    if (tb_log_enabled(TB_LOG_DEBUG))
        hop_log(s);
    *state = s;
    return TB_OK;

no_space:
    tb_counter_inc(&w->hop_counters.rewrite_failed);
    return TB_ENOSPC;
}

/* Copies at most `size` bytes of `src` into a span string field. */
#define SPAN_SET(span, field, src_base, src_len)                                                   \
    do {                                                                                           \
        size_t n_ = (src_len) < sizeof((span)->field) ? (src_len) : sizeof((span)->field);         \
        if (n_ > 0)                                                                                \
            memcpy((span)->field, (src_base), n_);                                                 \
        (span)->field##_len = (uint16_t)n_;                                                        \
    } while (0)

/* Address and port of a socket address, as text. */
static void span_set_addr(const struct sockaddr *sa, char *buf, uint16_t *len, size_t size,
                          uint16_t *port)
{
    char tmp[INET6_ADDRSTRLEN] = "";

    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &v4->sin_addr, tmp, sizeof(tmp));
        *port = ntohs(v4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &v6->sin6_addr, tmp, sizeof(tmp));
        *port = ntohs(v6->sin6_port);
    }
    *len = (uint16_t)strnlen(tmp, size);
    memcpy(buf, tmp, *len);
}

/* HTTP methods the semantic conventions know; others are "_OTHER". */
static bool method_is_known(struct tb_iov m)
{
    static const char *const known[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                        "CONNECT", "OPTIONS", "TRACE", "PATCH"};

    for (size_t i = 0; i < TB_ARRAY_SIZE(known); i++)
        if (m.len == strlen(known[i]) && memcmp(m.base, known[i], m.len) == 0)
            return true;
    return false;
}

/* server.address and server.port from Host (or the absolute-form authority):
 * host, host:port, [v6] or [v6]:port. */
static void span_set_server(struct tb_span *span, const struct tb_http_msg *req)
{
    ptrdiff_t i = tb_headers_find_token(&req->headers, TB_HDR_HOST, 0);
    struct tb_iov value = i >= 0 ? req->headers.entries[i].value : req->authority;
    struct tb_iov host = value, port = {NULL, 0};
    uint64_t n = 0;

    if (value.len > 0 && value.base[0] == '[') {
        const char *close = memchr(value.base, ']', value.len);

        if (close != NULL) {
            size_t after = (size_t)(value.base + value.len - close - 1);

            host = (struct tb_iov){value.base + 1, (size_t)(close - value.base - 1)};
            if (after > 1 && close[1] == ':')
                port = (struct tb_iov){close + 2, after - 1};
        }
    } else {
        const char *colon = memchr(value.base, ':', value.len);

        if (colon != NULL) {
            host.len = (size_t)(colon - value.base);
            port = (struct tb_iov){colon + 1, (size_t)(value.base + value.len - colon - 1)};
        }
    }
    if (port.len > 0 && (!tb_lex_u64_dec(port, &n) || n > 65535))
        n = 0;
    SPAN_SET(span, server_address, host.base, host.len);
    span->server_port = (uint16_t)n;
}

/* Degradation: true when this sampled hop makes no span. What was sent
 * downstream is untouched: a hop that sheds its span still propagated the
 * sampler's decision, so the services behind it record as they would have. */
static bool hop_shed(struct tb_worker *w, const struct tb_hop_state *s, unsigned level)
{
    const struct tb_trace_ctx *ctx = &s->ext.ctx;

    if (level >= TB_DEGRADE_NO_SPANS ||
        (level >= TB_DEGRADE_THIN &&
         !tb_degrade_thin_keeps(&s->route->sampler, ctx->trace_id, ctx->sampling))) {
        tb_counter_inc(&w->hop_counters.spans_shed);
        return true;
    }
    return false;
}

/* The fields a reduced span leaves empty (spans/span.h `reduced`): the
 * addresses, the user agent, sizes, formats and links. */
static void span_set_details(const struct tb_http_msg *req, const struct tb_hop_state *s,
                             const struct tb_hop_outcome *o, struct tb_span *span)
{
    ptrdiff_t ua;

    span_set_addr(o->client, span->client_address, &span->client_address_len,
                  sizeof(span->client_address), &span->client_port);
    if (o->upstream_reached && o->upstream != NULL)
        span_set_addr(o->upstream, span->peer_address, &span->peer_address_len,
                      sizeof(span->peer_address), &span->peer_port);
    ua = tb_headers_find(&req->headers, TB_STRLIT("user-agent"), 0);
    if (ua >= 0)
        SPAN_SET(span, user_agent, req->headers.entries[ua].value.base,
                 req->headers.entries[ua].value.len);
    span->http_version_major = req->version_major;
    span->http_version_minor = req->version_minor;
    span->request_body_size = o->request_body_bytes;
    span->response_body_size = o->response_body_bytes;
    span->extracted_format = s->ext.winner;
    span->injected_formats = s->injected;
    if (s->edge_link) {
        struct tb_span_link *link = &span->links[span->num_links++];

        memcpy(link->trace_id, s->edge_link_trace_id, 16);
        memcpy(link->span_id, s->edge_link_span_id, 8);
        link->format = (enum tb_format)s->edge_link_format;
    }
    for (unsigned f = 0; f < TB_FORMAT_NUM && span->num_links < TB_SPAN_MAX_LINKS; f++) {
        struct tb_span_link *link;

        if (!(s->ext.conflicts & TB_FORMAT_BIT(f)))
            continue;
        link = &span->links[span->num_links++];
        memcpy(link->trace_id, s->ext.formats[f].ctx.trace_id, 16);
        memcpy(link->span_id, s->ext.formats[f].ctx.span_id, 8);
        link->format = (enum tb_format)f;
    }
}

void tb_hop_finish(struct tb_worker *w, const struct tb_http_msg *req, const struct tb_hop_state *s,
                   const struct tb_hop_outcome *o)
{
    const struct tb_trace_ctx *ctx = &s->ext.ctx;
    struct tb_span *span;
    struct tb_iov path = req->target;
    const char *q;
    uint16_t n = 0;
    unsigned level;

    tb_counter_inc(&w->hop_counters.spans_started);
    if (!s->sampled || w->pipeline == NULL)
        return;
    level = tb_degrade_level(w->degrade);
    if (hop_shed(w, s, level))
        return;
    tb_counter_inc(&w->hop_counters.spans_sampled);
    span = tb_pipeline_reserve(w->pipeline, w->id);
    if (span == NULL)
        return;
    span->reduced = level >= TB_DEGRADE_REDUCED;
    if (span->reduced)
        tb_counter_inc(&w->hop_counters.spans_reduced);
    memcpy(span->trace_id, ctx->trace_id, 16);
    memcpy(span->span_id, s->hop.span_id, 8);
    memcpy(span->parent_span_id, ctx->span_id, 8);
    span->w3c_flags = ctx->w3c_flags;
    span->sampled = true;
    span->kind = (enum tb_span_kind)s->listener->role;
    span->start_ns = o->start_ns;
    span->end_ns = o->end_ns > o->start_ns ? o->end_ns : o->start_ns;
    if (method_is_known(req->method)) {
        SPAN_SET(span, name, req->method.base, req->method.len);
        SPAN_SET(span, method, req->method.base, req->method.len);
    } else {
        SPAN_SET(span, name, "HTTP", 4);
        SPAN_SET(span, method, "_OTHER", 6);
    }
    /* A route from the configuration file names the span; the route that
     * --listen/--upstream make leaves the method-based name. */
    if (s->route->source_line != 0 && s->route->name[0] != '\0')
        SPAN_SET(span, name, s->route->name, strlen(s->route->name));
    SPAN_SET(span, tracestate, ctx->tracestate.base, ctx->tracestate.len);
    if ((q = memchr(path.base, '?', path.len)) != NULL)
        path.len = (size_t)(q - path.base);
    SPAN_SET(span, path, path.base, path.len);
    span_set_server(span, req);
    /* The slot holds an older span's bytes: clear what the details may not set. */
    span->client_address_len = span->peer_address_len = span->user_agent_len = 0;
    span->client_port = span->peer_port = 0;
    span->http_version_major = span->http_version_minor = 0;
    span->request_body_size = span->response_body_size = 0;
    span->extracted_format = -1;
    span->injected_formats = 0;
    span->num_links = 0;
    if (!span->reduced)
        span_set_details(req, s, o, span);
    span->status_code = o->status;
    span->proxy_error = o->proxy_error != NULL;
    span->is_error = o->status >= 500 || o->proxy_error != NULL;
    span->error_type_len = 0;
    if (o->proxy_error != NULL) {
        SPAN_SET(span, error_type, o->proxy_error->code, strlen(o->proxy_error->code));
    } else if (span->is_error) {
        char code[8];

        n = (uint16_t)snprintf(code, sizeof(code), "%d", o->status);
        SPAN_SET(span, error_type, code, n);
    }

    /* SkyWalking: the native trace id, the hop's segment, the caller's ref. */
    span->sw8.has_ref = false;
    if (ctx->sw8.trace_id.len > 0 && ctx->sw8.trace_id.len <= sizeof(span->sw8.trace_id)) {
        SPAN_SET(span, sw8.trace_id, ctx->sw8.trace_id.base, ctx->sw8.trace_id.len);
    } else {
        tb_hex_encode(ctx->trace_id, 16, span->sw8.trace_id);
        span->sw8.trace_id_len = 32;
    }
    memcpy(span->sw8.segment_id, s->sw8_segment_id, sizeof(span->sw8.segment_id));
    span->sw8.exit_peer_len = 0;
    if (o->upstream_reached)
        SPAN_SET(span, sw8.exit_peer, s->hop.target.base, s->hop.target.len);
    if ((ctx->extras & TB_FORMAT_BIT(TB_FORMAT_SW8)) && ctx->sw8.segment_id.len > 0) {
        span->sw8.has_ref = true;
        SPAN_SET(span, sw8.parent_segment_id, ctx->sw8.segment_id.base, ctx->sw8.segment_id.len);
        span->sw8.parent_span_id = ctx->sw8.span_id;
        SPAN_SET(span, sw8.parent_service, ctx->sw8.service.base, ctx->sw8.service.len);
        SPAN_SET(span, sw8.parent_instance, ctx->sw8.instance.base, ctx->sw8.instance.len);
        SPAN_SET(span, sw8.parent_endpoint, ctx->sw8.endpoint.base, ctx->sw8.endpoint.len);
        SPAN_SET(span, sw8.target, ctx->sw8.target.base, ctx->sw8.target.len);
    }
    tb_pipeline_commit(w->pipeline, w->id);
}
