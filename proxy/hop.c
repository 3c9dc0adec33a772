/* SPDX-License-Identifier: MIT
 * The hop's propagation step on the data path.
 */
#include "proxy/hop.h"

#include <string.h>

#include "common/arena.h"
#include "common/rand.h"
#include "parsers/http1.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"
#include "proxy/config.h"
#include "proxy/log.h"
#include "proxy/worker.h"

/* sw8 limits the parent endpoint to 150 characters. */
#define HOP_ENDPOINT_MAX 150

/* "METHOD:/path" without the query, cut at HOP_ENDPOINT_MAX bytes (never
 * inside a UTF-8 sequence). */
static struct tb_iov hop_endpoint(struct tb_arena *arena, const struct tb_http_msg *req)
{
    struct tb_iov path = req->target;
    const char *query = memchr(path.base, '?', path.len);
    size_t len;
    char *buf;

    if (query != NULL)
        path.len = (size_t)(query - path.base);
    len = req->method.len + 1 + path.len;
    if (len > HOP_ENDPOINT_MAX) {
        len = HOP_ENDPOINT_MAX;
        while (len > req->method.len + 1 &&
               ((unsigned char)path.base[len - req->method.len - 1] & 0xc0) == 0x80)
            len--;
    }
    buf = tb_arena_alloc(arena, len);
    if (buf == NULL)
        return (struct tb_iov){NULL, 0};
    memcpy(buf, req->method.base, req->method.len);
    buf[req->method.len] = ':';
    memcpy(buf + req->method.len + 1, path.base, len - req->method.len - 1);
    return (struct tb_iov){buf, len};
}

static void hop_count(struct tb_hop_counters *n, const struct tb_hop_state *s,
                      size_t baggage_dropped)
{
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        n->extracted[f] += (s->ext.valid >> f) & 1;
        n->invalid[f] += (s->ext.invalid >> f) & 1;
        n->injected[f] += (s->injected >> f) & 1;
    }
    n->conflicts += s->ext.conflicts != 0;
    n->no_context += s->ext.new_root;
    n->baggage_dropped += baggage_dropped + s->ext.ctx.baggage.dropped;
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

int tb_hop_rewrite(struct tb_worker *w, struct tb_arena *arena, struct tb_http_msg *req,
                   struct tb_hop_state **state)
{
    const struct tb_config *cfg = w->cfg;
    struct tb_hop_state *s = tb_arena_alloc(arena, sizeof(*s));
    size_t baggage_dropped = 0;

    *state = NULL;
    if (s == NULL)
        goto no_space;
    if (tb_prop_extract(&cfg->propagation, &req->headers, arena, &s->ext) != TB_OK)
        goto no_space;
    if (s->ext.winner < 0) {
        uint8_t trace_id[16];

        tb_rng_trace_id(&w->rng, trace_id);
        tb_prop_start_root(&s->ext, trace_id);
    }
    memset(&s->hop, 0, sizeof(s->hop));
    tb_rng_span_id(&w->rng, s->hop.span_id);
    s->hop.service = (struct tb_iov){cfg->service_name, strlen(cfg->service_name)};
    s->hop.instance = (struct tb_iov){cfg->service_instance, strlen(cfg->service_instance)};
    s->hop.endpoint = hop_endpoint(arena, req);
    s->hop.target = (struct tb_iov){w->upstream_authority, strlen(w->upstream_authority)};
    if (s->hop.endpoint.base == NULL)
        goto no_space;
    if (tb_prop_inject(&cfg->propagation, &s->ext, &s->hop, arena, &req->headers, &s->injected,
                       &baggage_dropped) != TB_OK)
        goto no_space;
    hop_count(&w->hop_counters, s, baggage_dropped);
    if (tb_log_enabled(TB_LOG_DEBUG))
        hop_log(s);
    *state = s;
    return TB_OK;

no_space:
    w->hop_counters.rewrite_failed++;
    return TB_ENOSPC;
}
