/* SPDX-License-Identifier: MIT
 * The per-connection state machine. Callbacks stay thin: each one switches on
 * the connection state and calls one step function. After any call that may
 * free the connection (conn_free, conn_reply_error, conn_abort, and the steps
 * that call them) the caller returns at once; such calls are marked
 * "conn may be freed".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/arena.h"
#include "common/list.h"
#include "common/reason.h"
#include "common/tb.h"
#include "parsers/http1.h"
#include "proxy/access_log.h"
#include "proxy/config.h"
#include "proxy/cluster.h"
#include "proxy/conn.h"
#include "proxy/gen.h"
#include "proxy/route.h"
#include "proxy/hop.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

/* Output beyond this stops reading the other side until it drains to half. */
#define CONN_BACKPRESSURE_HIGH (256 * 1024)
#define CONN_BACKPRESSURE_LOW (CONN_BACKPRESSURE_HIGH / 2)

enum tb_conn_state {
    TB_CONN_IDLE = 0,     /* waiting for the first byte of a request; no arena */
    TB_CONN_HEAD = 1,     /* receiving a request head */
    TB_CONN_EXCHANGE = 2, /* request forwarded (its body may still stream), response due */
    TB_CONN_TUNNEL = 3,   /* after 101 Switching Protocols: bytes both ways */
    TB_CONN_FLUSH = 4,    /* sending the last bytes, then a lingering close */
};

/* flags of struct tb_conn */
#define TB_CONN_F_REQ_DONE 0x0001      /* the whole request went upstream */
#define TB_CONN_F_RESP_HEAD 0x0002     /* the final response head was parsed */
#define TB_CONN_F_RESP_STARTED 0x0004  /* response bytes (maybe interim) went to the client */
#define TB_CONN_F_KEEP_ALIVE 0x0008    /* the client connection may carry another request */
#define TB_CONN_F_CLIENT_PAUSED 0x0010 /* client reads stopped: upstream output full */
#define TB_CONN_F_UP_PAUSED 0x0020     /* upstream reads stopped: client output full */
#define TB_CONN_F_DECHUNK 0x0040       /* chunked response decoded for an HTTP/1.0 client */
#define TB_CONN_F_HEAD_METHOD 0x0080   /* request method is HEAD */
#define TB_CONN_F_UPGRADE 0x0100       /* request asks for a protocol upgrade */
#define TB_CONN_F_RETRIED 0x0200       /* request already re-sent on a fresh connection */
#define TB_CONN_F_REQ_BODY_SENT 0x0400 /* some request body bytes went upstream */
#define TB_CONN_F_CLIENT_EOF 0x0800    /* tunnel: client finished sending */
#define TB_CONN_F_SERVED 0x1000        /* at least one request was served (idle timeout applies) */
#define TB_CONN_F_SHUT_WR 0x2000       /* flush: our side of the socket is shut down */

/* Per-request state, allocated from the request arena so an idle connection
 * holds none of it. */
struct conn_request {
    struct tb_http1_parser req_parser;
    struct tb_http1_parser resp_parser;
    struct tb_http_msg req;
    struct tb_http_msg resp;
    size_t head_scanned;                    /* bytes of input already searched for the head's end */
    struct tb_hop_state *hop;               /* trace context in and out, in the request arena */
    struct tb_gen *gen;                     /* the generation the request began on */
    const struct tb_route_config *route;    /* the route matched by the request head */
    struct tb_cluster *cluster;             /* the route's cluster, NULL until routed */
    struct tb_endpoint *endpoint;           /* the endpoint of the current upstream attempt */
    uint64_t endpoints_tried;               /* bit per endpoint index: connect attempts made */
    struct timeval tv_connect, tv_upstream; /* the route's timeouts */
    uint64_t start_ns;                      /* wall clock at the first request byte, for the span */
    uint64_t error_body_bytes;              /* body of the proxy's own error response */
    bool upstream_reached;                  /* a connected upstream socket carried this request */
    const struct tb_reason *proxy_error;    /* why the proxy answered or closed on its own */
    /* For the access log: its line is due once the head parsed; the
     * upstream start is stamped only while a log is on (0 otherwise). */
    bool head_parsed;
    uint64_t upstream_start_ns;
};

struct tb_conn {
    struct tb_list link; /* in worker->conns */
    struct tb_worker *worker;
    struct tb_worker_listener *wl;             /* the worker's listener that accepted it */
    const struct tb_listener_config *listener; /* its configuration for the current request */
    unsigned listener_slot;                    /* metrics slot of the accepting listener */
    struct bufferevent *client;
    struct tb_upstream *up;    /* attached upstream connection, or NULL */
    struct tb_arena *arena;    /* NULL while idle */
    struct conn_request *r;    /* in `arena`, NULL while idle */
    uint64_t head_deadline_ms; /* monotonic, while TB_CONN_HEAD */
    enum tb_conn_state state;
    uint32_t flags; /* TB_CONN_F_* */
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } peer;
};

static void conn_on_client_read(struct bufferevent *bev, void *arg);
static void conn_on_client_write(struct bufferevent *bev, void *arg);
static void conn_on_client_event(struct bufferevent *bev, short events, void *arg);
static void conn_on_upstream_read(struct bufferevent *bev, void *arg);
static void conn_on_upstream_write(struct bufferevent *bev, void *arg);
static void conn_on_upstream_event(struct bufferevent *bev, short events, void *arg);
static void conn_read_head(struct tb_conn *c);
static void conn_on_upstream_closed(struct tb_conn *c);
static int conn_read_response(struct tb_conn *c);

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */

static const char *const conn_state_names[] = {"idle", "head", "exchange", "tunnel", "flush"};

static void conn_set_state(struct tb_conn *c, enum tb_conn_state state)
{
    if (tb_log_enabled(TB_LOG_DEBUG))
        tb_log(TB_LOG_DEBUG, "conn_state", " conn=%p from=%s to=%s", (void *)c,
               conn_state_names[c->state], conn_state_names[state]);
    c->state = state;
}

static void conn_format_peer(const struct tb_conn *c, char *buf, size_t buf_size)
{
    if (c->peer.sa.sa_family == AF_INET6)
        inet_ntop(AF_INET6, &c->peer.v6.sin6_addr, buf, (socklen_t)buf_size);
    else if (c->peer.sa.sa_family == AF_INET)
        inet_ntop(AF_INET, &c->peer.v4.sin_addr, buf, (socklen_t)buf_size);
    else
        snprintf(buf, buf_size, "unknown");
}

static unsigned conn_peer_port(const struct tb_conn *c)
{
    return ntohs(c->peer.sa.sa_family == AF_INET6 ? c->peer.v6.sin6_port : c->peer.v4.sin_port);
}

static void conn_log_close(const struct tb_conn *c, const struct tb_reason *reason)
{
    char ip[INET6_ADDRSTRLEN];

    if (!tb_log_enabled(TB_LOG_DEBUG))
        return;
    conn_format_peer(c, ip, sizeof(ip));
    tb_log(TB_LOG_DEBUG, "conn_close", " reason=%s state=%s client=%s:%u", reason->code,
           conn_state_names[c->state], ip, conn_peer_port(c));
}

static void conn_set_client_timeouts(struct tb_conn *c, const struct timeval *read_tv)
{
    bufferevent_set_timeouts(c->client, read_tv, &c->worker->tv_idle);
}

static void conn_detach_upstream(struct tb_conn *c)
{
    if (c->up != NULL) {
        tb_upstream_free(c->up);
        c->up = NULL;
    }
}

/* The status the client saw: the upstream's once its head went out (a
 * truncated 200 is still a 200), else the proxy's own, else none (0). */
static int conn_client_status(const struct tb_conn *c)
{
    if (c->flags & TB_CONN_F_RESP_HEAD)
        return c->r->resp.status;
    return c->r->proxy_error != NULL ? c->r->proxy_error->status : 0;
}

/* The hop's span, once per request that reached the upstream step, and
 * the access log line, once per request whose head parsed. */
static void conn_finish_hop(struct tb_conn *c, uint64_t end_ns, int status)
{
    struct conn_request *r = c->r;
    struct tb_hop_outcome o;

    if (!r->head_parsed)
        return;
    o.start_ns = r->start_ns;
    o.end_ns = end_ns;
    o.proxy_error = r->proxy_error;
    o.status = status;
    o.request_body_bytes = r->req_parser.body_bytes;
    o.response_body_bytes =
        r->error_body_bytes != 0 ? r->error_body_bytes : r->resp_parser.body_bytes;
    o.client = &c->peer.sa;
    o.upstream_reached = r->upstream_reached;
    o.upstream = r->endpoint != NULL ? (const struct sockaddr *)&r->endpoint->addr : NULL;
    o.upstream_start_ns = r->upstream_start_ns;
    if (r->hop != NULL)
        tb_hop_finish(c->worker, &r->req, r->hop, &o);
    if (c->worker->access_log != NULL)
        tb_access_log_request(c->worker->access_log, &r->req, r->hop, &o, c->listener, r->route);
    r->hop = NULL;
    r->head_parsed = false;
}

/* Counts the request that ends, routed or not, with the status the client
 * got, as the span and the access log tell it. */
static void conn_count_request(struct tb_conn *c, uint64_t end_ns, int status)
{
    const struct conn_request *r = c->r;

    tb_metrics_request_done(c->worker->metrics, c->listener->metrics_slot,
                            r->route != NULL ? r->route->metrics_slot : TB_METRICS_NO_ROUTE, status,
                            end_ns > r->start_ns ? end_ns - r->start_ns : 0);
}

/* Counts an upstream failure against the cluster of the request's route, at
 * the point it is detected (so a failure followed by a retry counts too). */
static void conn_count_upstream_failure(struct tb_conn *c, const struct tb_reason *reason)
{
    const struct tb_route_config *route = c->r != NULL ? c->r->route : NULL;

    if (route != NULL)
        tb_metrics_upstream_failure(c->worker->metrics, c->r->cluster->cfg->metrics_slot, reason);
}

/* Ends the current request: the arena goes back to the worker's cache. */
static void conn_end_request(struct tb_conn *c)
{
    struct tb_gen *gen = c->r != NULL ? c->r->gen : NULL;

    if (c->r != NULL) {
        /* One clock read and one status for the metrics, span and log. */
        uint64_t end_ns = tb_hop_now_ns();
        int status = conn_client_status(c);

        conn_count_request(c, end_ns, status);
        conn_finish_hop(c, end_ns, status);
    }
    if (c->arena != NULL) {
        tb_worker_arena_put(c->worker, c->arena);
        c->arena = NULL;
    }
    c->r = NULL;
    /* Last: this may free the generation the request's route lives in. */
    if (gen != NULL)
        tb_worker_request_end(c->worker, gen);
}

/* No new request on this connection: the proxy drains, or a reload removed
 * its listener. */
static bool conn_must_close(const struct tb_conn *c)
{
    return c->worker->draining || c->wl->removed;
}

/* The only function that frees a connection. Idempotence is not needed: a
 * freed connection is never reachable again (callers return at once). */
static void conn_free(struct tb_conn *c, const struct tb_reason *reason)
{
    struct tb_worker *w = c->worker;

    conn_log_close(c, reason);
    if (c->r != NULL && c->r->proxy_error == NULL && reason != &tb_reason_done)
        c->r->proxy_error = reason;
    conn_detach_upstream(c);
    conn_end_request(c);
    bufferevent_free(c->client);
    c->client = NULL;
    tb_list_unlink(&c->link);
    w->num_conns--;
    tb_metrics_client_connection(w->metrics, c->listener_slot, -1);
    tb_worker_listener_conn_closed(c->wl);
    tb_free(c);
}

/* Closes the connection now, dropping unsent output: used when the client
 * must not take what it has as a complete response. Conn is freed. */
static void conn_abort(struct tb_conn *c, const struct tb_reason *reason)
{
    if (reason->status == 0 && reason != &tb_reason_client_closed &&
        reason != &tb_reason_idle_timeout) {
        char ip[INET6_ADDRSTRLEN];

        conn_format_peer(c, ip, sizeof(ip));
        tb_log(TB_LOG_INFO, "conn_abort", " reason=%s client=%s:%u", reason->code, ip,
               conn_peer_port(c));
    }
    conn_free(c, reason);
}

/* Sends what is queued, then shuts our side down and waits briefly for the
 * client's EOF before closing (a lingering close, as nginx does): closing with
 * unread input would make the kernel reset the connection and could destroy
 * the response before the client read it. */
static void conn_flush_and_close(struct tb_conn *c)
{
    struct tb_worker *w = c->worker;

    conn_detach_upstream(c);
    conn_end_request(c);
    conn_set_state(c, TB_CONN_FLUSH);
    bufferevent_setwatermark(c->client, EV_WRITE, 0, 0);
    bufferevent_set_timeouts(c->client, &w->tv_linger, &w->tv_idle);
    bufferevent_enable(c->client, EV_READ | EV_WRITE);
    if (evbuffer_get_length(bufferevent_get_output(c->client)) == 0)
        conn_on_client_write(c->client, c); /* conn may be freed */
}

/* Answers the proxy's own error response and closes. Conn may be freed. */
static void conn_reply_error(struct tb_conn *c, const struct tb_reason *reason)
{
    char ip[INET6_ADDRSTRLEN];
    struct evbuffer *out = bufferevent_get_output(c->client);

    conn_format_peer(c, ip, sizeof(ip));
    tb_log(TB_LOG_WARN, "http_error", " status=%d reason=%s client=%s:%u", reason->status,
           reason->code, ip, conn_peer_port(c));
    if (c->r != NULL && c->r->proxy_error == NULL)
        c->r->proxy_error = reason;
    if (c->flags & TB_CONN_F_RESP_STARTED) {
        conn_abort(c, reason); /* conn may be freed */
        return;
    }
    if (c->r != NULL)
        c->r->error_body_bytes = strlen(reason->code) + 2 + strlen(reason->text) + 1;
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %zu\r\n"
                        "Connection: close\r\n"
                        "\r\n"
                        "%s: %s\n",
                        reason->status, tb_status_phrase(reason->status),
                        strlen(reason->code) + 2 + strlen(reason->text) + 1, reason->code,
                        reason->text);
    c->flags |= TB_CONN_F_RESP_STARTED;
    conn_flush_and_close(c); /* conn may be freed */
}

/* Writes a serialized head straight into `out`'s free space, without a copy. */
static int conn_write_head(struct evbuffer *out, const struct tb_http_msg *msg, int is_request)
{
    size_t size = is_request ? tb_http1_request_head_size(msg) : tb_http1_response_head_size(msg);
    struct evbuffer_iovec vec;
    char *end;

    if (evbuffer_reserve_space(out, (ev_ssize_t)size, &vec, 1) != 1)
        return TB_ENOSPC;
    end = is_request ? tb_http1_format_request_head(msg, vec.iov_base)
                     : tb_http1_format_response_head(msg, vec.iov_base);
    TB_ASSERT((size_t)(end - (char *)vec.iov_base) == size);
    vec.iov_len = size;
    return evbuffer_commit_space(out, &vec, 1) == 0 ? TB_OK : TB_ENOSPC;
}

/* Stops reading `from` when `to_output` passed the high mark; the write
 * callback of the other side resumes it (libevent's le-proxy pattern). */
static int conn_apply_backpressure(struct tb_conn *c, struct bufferevent *from,
                                   struct evbuffer *to_output, uint32_t paused_flag)
{
    if (evbuffer_get_length(to_output) < CONN_BACKPRESSURE_HIGH)
        return 0;
    bufferevent_disable(from, EV_READ);
    c->flags |= paused_flag;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* request                                                                   */

static void conn_begin_request(struct tb_conn *c)
{
    struct tb_worker *w = c->worker;

    c->arena = tb_worker_arena_get(w);
    c->r = tb_arena_alloc(c->arena, sizeof(*c->r));
    TB_ASSERT(c->r != NULL); /* the first block always holds it */
    memset(c->r, 0, sizeof(*c->r));
    c->r->gen = tb_worker_request_begin(w);
    c->listener = c->wl->cfg;
    c->r->start_ns = tb_hop_now_ns();
    tb_http1_parser_init(&c->r->req_parser, TB_HTTP1_REQUEST);
    c->flags &= TB_CONN_F_SERVED;
    c->head_deadline_ms = tb_worker_now_ms() + w->cfg->header_timeout_ms;
    conn_set_state(c, TB_CONN_HEAD);
}

/* The request line ends at the first LF; beyond the limit it is 414 even if
 * the whole head is within the header limit (nginx's large header buffers). */
static int conn_request_line_too_long(const struct tb_conn *c, const char *buf, size_t len)
{
    size_t limit = c->worker->cfg->max_request_line;
    const char *lf = memchr(buf, '\n', len < limit + 2 ? len : limit + 2);

    /* The line's content is what precedes its CR LF. */
    if (lf == NULL)
        return len >= limit + 2;
    return (size_t)(lf - buf) > limit + 1;
}

static int conn_send_request_head(struct tb_conn *c)
{
    if (c->worker->access_log != NULL)
        c->r->upstream_start_ns = tb_hop_now_ns();
    return conn_write_head(bufferevent_get_output(c->up->bev), &c->r->req, 1);
}

/* Rewrites the request head for the upstream: hop-by-hop headers out, Host
 * for absolute-form and HTTP/1.0, X-Forwarded-For and -Proto appended, and
 * the trace-context headers rewritten for the hop. */
static int conn_rewrite_request(struct tb_conn *c)
{
    struct tb_http_msg *req = &c->r->req;
    struct tb_headers *h = &req->headers;
    char ip[INET6_ADDRSTRLEN];
    int upgrade = (c->flags & TB_CONN_F_UPGRADE) != 0;

    tb_http1_remove_hop_by_hop(req, upgrade);
    if (upgrade && tb_headers_add_known(c->arena, h, TB_HDR_CONNECTION, TB_IOV_LIT("Connection"),
                                        TB_IOV_LIT("upgrade")) != TB_OK)
        return TB_ENOSPC;
    if (req->flags & TB_MSG_F_ABSOLUTE_FORM) {
        /* RFC 9112 §3.2.2: the target's authority replaces Host. */
        ptrdiff_t i = tb_headers_find_token(h, TB_HDR_HOST, 0);

        if (i >= 0)
            h->entries[i].value = req->authority;
        else if (tb_headers_add_known(c->arena, h, TB_HDR_HOST, TB_IOV_LIT("Host"),
                                      req->authority) != TB_OK)
            return TB_ENOSPC;
    } else if (tb_headers_find_token(h, TB_HDR_HOST, 0) < 0) {
        /* HTTP/1.0 without Host: the upstream speaks HTTP/1.1, which needs one. */
        const char *name = c->r->endpoint->authority;
        struct tb_iov authority = {name, strlen(name)};

        if (tb_headers_add_known(c->arena, h, TB_HDR_HOST, TB_IOV_LIT("Host"), authority) != TB_OK)
            return TB_ENOSPC;
    }
    conn_format_peer(c, ip, sizeof(ip));
    if (tb_headers_append_list(c->arena, h, TB_HDR_X_FORWARDED_FOR, TB_IOV_LIT("X-Forwarded-For"),
                               (struct tb_iov){ip, strlen(ip)}) != TB_OK ||
        tb_headers_append_list(c->arena, h, TB_HDR_X_FORWARDED_PROTO,
                               TB_IOV_LIT("X-Forwarded-Proto"), TB_IOV_LIT("http")) != TB_OK)
        return TB_ENOSPC;
    return tb_hop_rewrite(c->worker, c->listener, c->r->route, c->r->endpoint->authority, c->arena,
                          req, &c->r->hop);
}

static void conn_attach_upstream(struct tb_conn *c, struct tb_upstream *up)
{
    struct tb_worker *w = c->worker;

    c->up = up;
    bufferevent_setcb(up->bev, conn_on_upstream_read, conn_on_upstream_write,
                      conn_on_upstream_event, c);
    bufferevent_setwatermark(up->bev, EV_WRITE, CONN_BACKPRESSURE_LOW, 0);
    bufferevent_setwatermark(up->bev, EV_READ, 0,
                             w->cfg->max_header_size + 1 > 65536 ? w->cfg->max_header_size + 1
                                                                 : 65536);
    if (up->is_connected && c->r != NULL)
        c->r->upstream_reached = true;
    if (up->is_connected)
        bufferevent_set_timeouts(up->bev, NULL, &c->r->tv_upstream);
    else
        bufferevent_set_timeouts(up->bev, NULL, &c->r->tv_connect);
    bufferevent_enable(up->bev, EV_READ | EV_WRITE);
}

/* Chooses the request's next endpoint: round-robin over the cluster, skipping
 * ejected endpoints and those this request already tried. Returns false when
 * every endpoint was tried. */
static bool conn_pick_endpoint(struct tb_conn *c)
{
    struct conn_request *r = c->r;
    unsigned *cursor = &r->gen->workers[c->worker->id].rr_cursors[r->route->cluster];
    size_t index;
    struct tb_endpoint *ep =
        tb_cluster_pick(r->cluster, cursor, r->endpoints_tried, tb_worker_now_ms(), &index);

    if (ep == NULL)
        return false;
    r->endpoint = ep;
    r->endpoints_tried |= UINT64_C(1) << index;
    return true;
}

/* Records a failed connect to the current endpoint; logs an ejection. */
static void conn_report_connect_failure(struct tb_conn *c, const struct tb_reason *reason)
{
    struct conn_request *r = c->r;

    conn_count_upstream_failure(c, reason);
    if (tb_endpoint_report(r->cluster, r->endpoint, false, tb_worker_now_ms())) {
        tb_metrics_endpoint_ejected(c->worker->metrics, r->cluster->cfg->metrics_slot);
        tb_log(TB_LOG_WARN, "endpoint_ejected", " cluster=%s endpoint=%s reason=%s",
               r->cluster->cfg->name, r->endpoint->authority, reason->code);
    }
}

/* Attaches a pooled connection to the request's endpoint or starts a new
 * one; a connect that fails at once moves on to the next endpoint. Conn may
 * be freed. */
static int conn_open_upstream(struct tb_conn *c, int allow_pooled)
{
    struct tb_upstream *up = allow_pooled ? tb_upstream_take_idle(c->worker, c->r->endpoint) : NULL;

    while (up == NULL) {
        const struct tb_reason *reason;

        up = tb_upstream_connect(c->worker, c->r->endpoint);
        if (up != NULL)
            break;
        reason =
            errno == ECONNREFUSED ? &tb_reason_upstream_refused : &tb_reason_upstream_unreachable;
        conn_report_connect_failure(c, reason);
        if (!conn_pick_endpoint(c)) {
            conn_reply_error(c, reason);
            return TB_EIO; /* conn may be freed */
        }
        up = tb_upstream_take_idle(c->worker, c->r->endpoint);
    }
    conn_attach_upstream(c, up);
    return TB_OK;
}

/* A connect failed or timed out: nothing reached that endpoint, so the
 * request moves, with the bytes already queued for it, to the next endpoint
 * it has not tried (nginx's proxy_next_upstream error timeout). Conn may be
 * freed. */
static void conn_connect_failed(struct tb_conn *c, const struct tb_reason *reason)
{
    struct tb_upstream *failed = c->up;

    conn_report_connect_failure(c, reason);
    if (!conn_pick_endpoint(c)) {
        conn_reply_error(c, reason); /* conn may be freed */
        return;
    }
    c->up = NULL;
    if (conn_open_upstream(c, 1) != TB_OK) {
        tb_upstream_free(failed); /* conn may be freed */
        return;
    }
    evbuffer_add_buffer(bufferevent_get_output(c->up->bev), bufferevent_get_output(failed->bev));
    tb_upstream_free(failed);
}

/* Finds the request's route and its first endpoint. Returns false when no
 * route matches. */
static bool conn_route_request(struct tb_conn *c)
{
    struct conn_request *r = c->r;
    const struct tb_http_msg *req = &r->req;
    struct tb_iov host = req->authority;

    if (!(req->flags & TB_MSG_F_ABSOLUTE_FORM)) {
        ptrdiff_t i = tb_headers_find_token(&req->headers, TB_HDR_HOST, 0);

        host = i >= 0 ? req->headers.entries[i].value : (struct tb_iov){"", 0};
    }
    r->route = tb_route_match(c->listener, host, req->target);
    if (r->route == NULL)
        return false;
    r->cluster = &r->gen->clusters[r->route->cluster];
    tb_ms_to_timeval(r->route->connect_timeout_ms, &r->tv_connect);
    tb_ms_to_timeval(r->route->upstream_timeout_ms, &r->tv_upstream);
    return conn_pick_endpoint(c); /* a cluster has at least one endpoint */
}

/* From now on a silent upstream is an error: the whole request is out. */
static void conn_on_request_done(struct tb_conn *c)
{
    c->flags |= TB_CONN_F_REQ_DONE;
    /* Keep reading the client to notice a disconnect; pipelined bytes wait
     * in the input buffer, bounded by the read watermark. */
    conn_set_client_timeouts(c, NULL);
    if (c->up != NULL && c->up->is_connected)
        bufferevent_set_timeouts(c->up->bev, &c->r->tv_upstream, &c->r->tv_upstream);
}

/* Streams request body bytes from the client input to the upstream output,
 * validating the framing first so no invalid byte is forwarded. */
static void conn_forward_request_body(struct tb_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->client);
    struct evbuffer *out = bufferevent_get_output(c->up->bev);

    while (!(c->flags & TB_CONN_F_REQ_DONE) && evbuffer_get_length(in) != 0) {
        struct evbuffer_iovec vec;
        size_t consumed;
        int ret;

        if (conn_apply_backpressure(c, c->client, out, TB_CONN_F_CLIENT_PAUSED))
            return;
        evbuffer_peek(in, -1, NULL, &vec, 1);
        ret = tb_http1_parse_body(&c->r->req_parser, vec.iov_base, vec.iov_len, &consumed);
        if (ret == TB_EINVAL) {
            conn_reply_error(c, c->r->req_parser.error); /* conn may be freed */
            return;
        }
        if (consumed != 0) {
            evbuffer_remove_buffer(in, out, consumed);
            c->flags |= TB_CONN_F_REQ_BODY_SENT;
        }
        if (ret == TB_OK)
            conn_on_request_done(c);
    }
}

static void conn_start_exchange(struct tb_conn *c)
{
    struct tb_worker *w = c->worker;
    struct tb_http_msg *req = &c->r->req;

    if (req->method_id == HTTP_HEAD)
        c->flags |= TB_CONN_F_HEAD_METHOD;
    if (req->flags & TB_MSG_F_UPGRADE)
        c->flags |= TB_CONN_F_UPGRADE;
    if ((req->flags & TB_MSG_F_KEEP_ALIVE) && !conn_must_close(c))
        c->flags |= TB_CONN_F_KEEP_ALIVE;
    if (!conn_route_request(c)) {
        conn_reply_error(c, &tb_reason_no_route); /* conn may be freed */
        return;
    }
    if (conn_rewrite_request(c) != TB_OK) {
        conn_reply_error(c, &tb_reason_header_too_large); /* conn may be freed */
        return;
    }
    conn_set_state(c, TB_CONN_EXCHANGE);
    tb_http1_parser_init(&c->r->resp_parser, TB_HTTP1_RESPONSE);
    if (conn_open_upstream(c, 1) != TB_OK)
        return; /* conn may be freed */
    if (conn_send_request_head(c) != TB_OK) {
        conn_reply_error(c, &tb_reason_upstream_unreachable); /* conn may be freed */
        return;
    }
    if (req->flags & TB_MSG_F_NO_BODY) {
        conn_on_request_done(c);
        return;
    }
    conn_set_client_timeouts(c, &w->tv_idle);
    conn_forward_request_body(c); /* conn may be freed */
}

static void conn_read_head(struct tb_conn *c)
{
    struct tb_worker *w = c->worker;
    struct evbuffer *in = bufferevent_get_input(c->client);
    size_t len = evbuffer_get_length(in), window, head_len;
    size_t max = w->cfg->max_header_size;
    const char *buf;
    char *head;
    int ret;

    if (len == 0)
        return;
    if (c->state == TB_CONN_IDLE)
        conn_begin_request(c);
    /* Only the head is made contiguous, and never more than the limit. */
    window = len < max + 1 ? len : max + 1;
    buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)window);
    head_len = tb_http1_find_head_end(buf, window, c->r->head_scanned);
    if (conn_request_line_too_long(c, buf, head_len != 0 ? head_len : window)) {
        conn_reply_error(c, &tb_reason_request_line_too_long); /* conn may be freed */
        return;
    }
    if (head_len == 0) {
        uint64_t now, left;
        struct timeval tv;

        if (window > max) {
            conn_reply_error(c, &tb_reason_header_too_large); /* conn may be freed */
            return;
        }
        c->r->head_scanned = window > 3 ? window - 3 : 0;
        /* The header timeout bounds the whole head, not the gap between two
         * reads, so a client trickling bytes cannot hold the connection. */
        now = tb_worker_now_ms();
        left = c->head_deadline_ms > now ? c->head_deadline_ms - now : 1;
        tv.tv_sec = (time_t)(left / 1000);
        tv.tv_usec = (suseconds_t)(left % 1000 * 1000);
        conn_set_client_timeouts(c, &tv);
        return;
    }
    if (head_len > max) {
        conn_reply_error(c, &tb_reason_header_too_large); /* conn may be freed */
        return;
    }
    head = tb_arena_alloc(c->arena, head_len);
    if (head == NULL) {
        conn_reply_error(c, &tb_reason_header_too_large); /* conn may be freed */
        return;
    }
    evbuffer_remove(in, head, head_len);
    c->r->head_scanned = 0; /* the response head is searched from its start */
    ret = tb_http1_parse_head(&c->r->req_parser, c->arena, head, head_len, 0, &c->r->req);
    if (ret != TB_OK) {
        conn_reply_error(c, c->r->req_parser.error); /* conn may be freed */
        return;
    }
    c->r->head_parsed = true;
    conn_start_exchange(c); /* conn may be freed */
}

/* ------------------------------------------------------------------------ */
/* response                                                                  */

/* The exchange is over: pool the upstream if it can carry another request,
 * then serve the next request or close. Conn may be freed. */
static void conn_finish_exchange(struct tb_conn *c)
{
    struct tb_worker *w = c->worker;
    const struct tb_http_msg *resp = &c->r->resp;
    int req_done = (c->flags & TB_CONN_F_REQ_DONE) != 0;

    if (req_done && (resp->flags & TB_MSG_F_KEEP_ALIVE) &&
        !(resp->flags & TB_MSG_F_BODY_UNTIL_EOF) && !(c->flags & TB_CONN_F_UP_PAUSED)) {
        tb_upstream_release(c->up);
        c->up = NULL;
    } else {
        conn_detach_upstream(c);
    }
    /* A response that ended before its request did leaves the rest of the
     * request body unread: the next request's start cannot be found. */
    if (!req_done || !(c->flags & TB_CONN_F_KEEP_ALIVE) || conn_must_close(c)) {
        conn_flush_and_close(c); /* conn may be freed */
        return;
    }
    conn_end_request(c);
    c->flags = TB_CONN_F_SERVED;
    conn_set_state(c, TB_CONN_IDLE);
    conn_set_client_timeouts(c, &w->tv_idle);
    bufferevent_enable(c->client, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(c->client)) != 0)
        conn_read_head(c); /* pipelined request; conn may be freed */
}

static int conn_dechunk_body(void *arg, const char *data, size_t len)
{
    struct tb_conn *c = arg;

    return evbuffer_add(bufferevent_get_output(c->client), data, len);
}

/* Hop-by-hop headers out, and the client connection's fate announced. */
static int conn_rewrite_response(struct tb_conn *c)
{
    struct conn_request *r = c->r;
    struct tb_http_msg *resp = &r->resp;
    int client_is_http10 = r->req.version_major == 1 && r->req.version_minor == 0;

    tb_http1_remove_hop_by_hop(resp, 0);
    if (resp->flags & TB_MSG_F_BODY_UNTIL_EOF)
        c->flags &= ~(uint32_t)TB_CONN_F_KEEP_ALIVE;
    if (client_is_http10 && (resp->flags & TB_MSG_F_CHUNKED)) {
        /* HTTP/1.0 has no chunked coding (RFC 9112 §7.1): send the decoded
         * body delimited by the close. */
        tb_headers_remove_token(&resp->headers, TB_HDR_TRANSFER_ENCODING);
        r->resp_parser.on_body = conn_dechunk_body;
        r->resp_parser.on_body_arg = c;
        c->flags = (c->flags | TB_CONN_F_DECHUNK) & ~(uint32_t)TB_CONN_F_KEEP_ALIVE;
    }
    if (conn_must_close(c))
        c->flags &= ~(uint32_t)TB_CONN_F_KEEP_ALIVE;
    if (!(c->flags & TB_CONN_F_KEEP_ALIVE))
        return tb_headers_add_known(c->arena, &resp->headers, TB_HDR_CONNECTION,
                                    TB_IOV_LIT("Connection"), TB_IOV_LIT("close"));
    if (client_is_http10)
        return tb_headers_add_known(c->arena, &resp->headers, TB_HDR_CONNECTION,
                                    TB_IOV_LIT("Connection"), TB_IOV_LIT("keep-alive"));
    return TB_OK;
}

static void conn_start_tunnel(struct tb_conn *c)
{
    struct tb_worker *w = c->worker;
    struct evbuffer *up_in = bufferevent_get_input(c->up->bev);
    struct evbuffer *client_in = bufferevent_get_input(c->client);

    conn_set_state(c, TB_CONN_TUNNEL);
    c->flags |= TB_CONN_F_REQ_DONE;
    /* Idle tunnels (a quiet WebSocket) are bounded by the idle timeout. */
    bufferevent_set_timeouts(c->client, &w->tv_idle, &w->tv_idle);
    bufferevent_set_timeouts(c->up->bev, &w->tv_idle, &w->tv_idle);
    bufferevent_enable(c->client, EV_READ);
    evbuffer_add_buffer(bufferevent_get_output(c->client), up_in);
    evbuffer_add_buffer(bufferevent_get_output(c->up->bev), client_in);
}

/* Parses the response head in the upstream input, if complete. Returns 1 when
 * the head was handled and parsing should go on, 0 to wait for more bytes or
 * stop. Conn may be freed when it returns 0. */
static int conn_read_response_head(struct tb_conn *c, int *freed)
{
    struct tb_worker *w = c->worker;
    struct conn_request *r = c->r;
    struct evbuffer *in = bufferevent_get_input(c->up->bev);
    struct evbuffer *out = bufferevent_get_output(c->client);
    size_t len = evbuffer_get_length(in), max = w->cfg->max_header_size, window, head_len;
    const char *buf;
    char *head;
    unsigned flags = (c->flags & TB_CONN_F_HEAD_METHOD) ? TB_HTTP1_F_RESPONSE_TO_HEAD : 0;
    int client_is_http10 = r->req.version_major == 1 && r->req.version_minor == 0;

    *freed = 0;
    if (len == 0)
        return 0;
    window = len < max + 1 ? len : max + 1;
    buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)window);
    head_len = tb_http1_find_head_end(buf, window, r->head_scanned);
    if (head_len == 0 || head_len > max) {
        if (window > max) {
            *freed = 1;
            conn_reply_error(c, &tb_reason_upstream_header_too_large); /* conn may be freed */
            return 0;
        }
        r->head_scanned = window > 3 ? window - 3 : 0;
        return 0;
    }
    r->head_scanned = 0;
    head = tb_arena_alloc(c->arena, head_len);
    if (head == NULL) {
        *freed = 1;
        conn_reply_error(c, &tb_reason_upstream_header_too_large); /* conn may be freed */
        return 0;
    }
    evbuffer_remove(in, head, head_len);
    if (tb_http1_parse_head(&r->resp_parser, c->arena, head, head_len, flags, &r->resp) != TB_OK) {
        *freed = 1;
        conn_reply_error(c, r->resp_parser.error); /* conn may be freed */
        return 0;
    }
    if (r->resp.status == 101) {
        if (!(c->flags & TB_CONN_F_UPGRADE) || !(r->resp.flags & TB_MSG_F_UPGRADE)) {
            *freed = 1;
            conn_reply_error(c, &tb_reason_upstream_bad_response); /* conn may be freed */
            return 0;
        }
        tb_http1_remove_hop_by_hop(&r->resp, 1);
        if (tb_headers_add_known(c->arena, &r->resp.headers, TB_HDR_CONNECTION,
                                 TB_IOV_LIT("Connection"), TB_IOV_LIT("upgrade")) != TB_OK ||
            conn_write_head(out, &r->resp, 0) != TB_OK) {
            *freed = 1;
            conn_reply_error(c, &tb_reason_upstream_header_too_large); /* conn may be freed */
            return 0;
        }
        c->flags |= TB_CONN_F_RESP_STARTED | TB_CONN_F_RESP_HEAD;
        conn_start_tunnel(c);
        return 0;
    }
    if (r->resp.status / 100 == 1) {
        /* Interim response (100 Continue, 103 Early Hints): relay it to
         * HTTP/1.1 clients only (RFC 9110 §15.2), then read the next head. */
        if (!client_is_http10) {
            tb_http1_remove_hop_by_hop(&r->resp, 0);
            if (conn_write_head(out, &r->resp, 0) != TB_OK) {
                *freed = 1;
                conn_abort(c, &tb_reason_client_closed); /* conn may be freed */
                return 0;
            }
            c->flags |= TB_CONN_F_RESP_STARTED;
        }
        tb_http1_parser_init(&r->resp_parser, TB_HTTP1_RESPONSE);
        return 1;
    }
    if (conn_rewrite_response(c) != TB_OK || conn_write_head(out, &r->resp, 0) != TB_OK) {
        *freed = 1;
        conn_reply_error(c, &tb_reason_upstream_header_too_large); /* conn may be freed */
        return 0;
    }
    c->flags |= TB_CONN_F_RESP_STARTED | TB_CONN_F_RESP_HEAD;
    if (r->resp.flags & TB_MSG_F_NO_BODY) {
        *freed = 1;
        conn_finish_exchange(c); /* conn may be freed */
        return 0;
    }
    return 1;
}

/* Parses and forwards what the upstream sent. Returns 1 when the exchange
 * goes on and waits for more upstream bytes; 0 when the connection may have
 * been freed or the exchange ended (the caller must not touch `c`). */
static int conn_read_response(struct tb_conn *c)
{
    struct evbuffer *in, *out = bufferevent_get_output(c->client);
    int freed;

    while (!(c->flags & TB_CONN_F_RESP_HEAD)) {
        if (!conn_read_response_head(c, &freed))
            return !freed && c->state == TB_CONN_EXCHANGE; /* conn may be freed */
    }
    in = bufferevent_get_input(c->up->bev);
    while (evbuffer_get_length(in) != 0) {
        struct evbuffer_iovec vec;
        size_t consumed;
        int ret;

        if (conn_apply_backpressure(c, c->up->bev, out, TB_CONN_F_UP_PAUSED))
            return 1;
        evbuffer_peek(in, -1, NULL, &vec, 1);
        ret = tb_http1_parse_body(&c->r->resp_parser, vec.iov_base, vec.iov_len, &consumed);
        if (ret == TB_EINVAL) {
            conn_abort(c, &tb_reason_upstream_bad_response); /* conn freed */
            return 0;
        }
        if (c->flags & TB_CONN_F_DECHUNK)
            evbuffer_drain(in, consumed); /* decoded bytes already went out */
        else
            evbuffer_remove_buffer(in, out, consumed);
        if (ret == TB_OK) {
            conn_finish_exchange(c); /* conn may be freed */
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* libevent callbacks                                                        */

static void conn_on_client_read(struct bufferevent *bev, void *arg)
{
    struct tb_conn *c = arg;

    switch (c->state) {
    case TB_CONN_IDLE:
    case TB_CONN_HEAD:
        conn_read_head(c); /* conn may be freed */
        return;
    case TB_CONN_EXCHANGE:
        if (!(c->flags & TB_CONN_F_REQ_DONE))
            conn_forward_request_body(c); /* conn may be freed */
        return;
    case TB_CONN_TUNNEL:
        evbuffer_add_buffer(bufferevent_get_output(c->up->bev), bufferevent_get_input(bev));
        conn_apply_backpressure(c, bev, bufferevent_get_output(c->up->bev),
                                TB_CONN_F_CLIENT_PAUSED);
        return;
    case TB_CONN_FLUSH:
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
        return;
    }
    tb_bug("illegal connection state");
}

static void conn_resume_upstream(struct tb_conn *c)
{
    if (!(c->flags & TB_CONN_F_UP_PAUSED) || c->up == NULL)
        return;
    c->flags &= ~(uint32_t)TB_CONN_F_UP_PAUSED;
    bufferevent_enable(c->up->bev, EV_READ);
}

static void conn_on_client_write(struct bufferevent *bev, void *arg)
{
    struct tb_conn *c = arg;

    switch (c->state) {
    case TB_CONN_IDLE:
    case TB_CONN_HEAD:
        return;
    case TB_CONN_EXCHANGE:
        if (c->flags & TB_CONN_F_UP_PAUSED) {
            conn_resume_upstream(c);
            /* Parse what is already buffered; if the upstream closed while
             * reads were paused, its close is handled now. */
            if (conn_read_response(c) && c->up->is_closed)
                conn_on_upstream_closed(c); /* conn may be freed */
        }
        return;
    case TB_CONN_TUNNEL:
        if (c->flags & TB_CONN_F_UP_PAUSED) {
            conn_resume_upstream(c);
            conn_on_upstream_read(c->up->bev, c);
        }
        return;
    case TB_CONN_FLUSH:
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
            !(c->flags & TB_CONN_F_SHUT_WR)) {
            c->flags |= TB_CONN_F_SHUT_WR;
            if (shutdown(bufferevent_getfd(bev), SHUT_WR) != 0) {
                conn_free(c, &tb_reason_done); /* conn may be freed */
                return;
            }
        }
        return;
    }
    tb_bug("illegal connection state");
}

static void conn_on_client_event(struct bufferevent *bev, short events, void *arg)
{
    struct tb_conn *c = arg;

    (void)bev;
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (c->state == TB_CONN_TUNNEL && (events & BEV_EVENT_EOF) && c->up != NULL &&
            evbuffer_get_length(bufferevent_get_output(c->up->bev)) != 0) {
            /* Deliver what the client sent before its close. */
            c->flags |= TB_CONN_F_CLIENT_EOF;
            bufferevent_disable(c->client, EV_READ);
            bufferevent_setwatermark(c->up->bev, EV_WRITE, 0, 0);
            return;
        }
        conn_free(c, c->state == TB_CONN_FLUSH ? &tb_reason_done : &tb_reason_client_closed);
        return; /* conn freed */
    }
    if (!(events & BEV_EVENT_TIMEOUT))
        return;
    if (events & BEV_EVENT_WRITING) {
        conn_abort(c, &tb_reason_client_timeout); /* conn freed */
        return;
    }
    switch (c->state) {
    case TB_CONN_IDLE:
        conn_free(c, &tb_reason_idle_timeout); /* conn freed */
        return;
    case TB_CONN_HEAD:
        conn_reply_error(c, &tb_reason_header_timeout); /* conn may be freed */
        return;
    case TB_CONN_EXCHANGE:
        if (!(c->flags & TB_CONN_F_REQ_DONE)) {
            conn_reply_error(c, &tb_reason_body_timeout); /* conn may be freed */
            return;
        }
        /* No read timeout is set once the request is done; a stray one
         * must not end the exchange. */
        bufferevent_enable(c->client, EV_READ);
        return;
    case TB_CONN_TUNNEL:
        conn_free(c, &tb_reason_idle_timeout); /* conn freed */
        return;
    case TB_CONN_FLUSH:
        conn_free(c, &tb_reason_done); /* conn freed */
        return;
    }
    tb_bug("illegal connection state");
}

static void conn_on_upstream_read(struct bufferevent *bev, void *arg)
{
    struct tb_conn *c = arg;

    switch (c->state) {
    case TB_CONN_EXCHANGE:
        conn_read_response(c); /* conn may be freed */
        return;
    case TB_CONN_TUNNEL:
        evbuffer_add_buffer(bufferevent_get_output(c->client), bufferevent_get_input(bev));
        conn_apply_backpressure(c, bev, bufferevent_get_output(c->client), TB_CONN_F_UP_PAUSED);
        return;
    case TB_CONN_IDLE:
    case TB_CONN_HEAD:
    case TB_CONN_FLUSH:
        break;
    }
    tb_bug("upstream read in a state without upstream");
}

static void conn_on_upstream_write(struct bufferevent *bev, void *arg)
{
    struct tb_conn *c = arg;

    if ((c->flags & TB_CONN_F_CLIENT_EOF) &&
        evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        conn_free(c, &tb_reason_done); /* conn freed */
        return;
    }
    if (!(c->flags & TB_CONN_F_CLIENT_PAUSED))
        return;
    c->flags &= ~(uint32_t)TB_CONN_F_CLIENT_PAUSED;
    bufferevent_enable(c->client, EV_READ);
    conn_on_client_read(c->client, c); /* bytes already buffered; conn may be freed */
}

/* A reused connection the upstream closed while it sat in the pool fails
 * before any response byte; resend once on a fresh connection when nothing
 * of the request body is lost (nginx and HAProxy do the same). */
static int conn_retry_on_fresh_upstream(struct tb_conn *c)
{
    if (!c->up->is_reused || (c->flags & (TB_CONN_F_RETRIED | TB_CONN_F_REQ_BODY_SENT)) ||
        evbuffer_get_length(bufferevent_get_input(c->up->bev)) != 0)
        return 0;
    c->flags |= TB_CONN_F_RETRIED;
    conn_detach_upstream(c);
    if (conn_open_upstream(c, 0) != TB_OK)
        return 1; /* conn may be freed */
    if (conn_send_request_head(c) != TB_OK) {
        conn_reply_error(c, &tb_reason_upstream_unreachable); /* conn may be freed */
        return 1;
    }
    if (!(c->flags & TB_CONN_F_REQ_DONE))
        conn_forward_request_body(c); /* conn may be freed */
    return 1;
}

static void conn_on_upstream_closed(struct tb_conn *c)
{
    struct evbuffer *client_out = bufferevent_get_output(c->client);

    if (c->state == TB_CONN_TUNNEL) {
        evbuffer_add_buffer(client_out, bufferevent_get_input(c->up->bev));
        conn_flush_and_close(c); /* conn may be freed */
        return;
    }
    if (!c->up->is_connected) {
        int err = EVUTIL_SOCKET_ERROR();
        const struct tb_reason *reason =
            err == ECONNREFUSED ? &tb_reason_upstream_refused : &tb_reason_upstream_unreachable;

        conn_connect_failed(c, reason);
        return; /* conn may be freed */
    }
    if (!(c->flags & TB_CONN_F_RESP_HEAD)) {
        if (!(c->flags & TB_CONN_F_RESP_STARTED) && conn_retry_on_fresh_upstream(c))
            return;                                     /* conn may be freed */
        conn_reply_error(c, &tb_reason_upstream_reset); /* conn may be freed */
        return;
    }
    /* Bytes that arrived with the close are still to be parsed. */
    if (!conn_read_response(c))
        return; /* conn may be freed, or the exchange finished */
    if (c->flags & TB_CONN_F_UP_PAUSED) {
        /* The client is slow: the write callback parses the rest of the
         * input later, and sees the close then. */
        return;
    }
    if (c->up->closed_by_eof && (c->r->resp.flags & TB_MSG_F_BODY_UNTIL_EOF) &&
        tb_http1_finish(&c->r->resp_parser) == TB_OK) {
        conn_flush_and_close(c); /* conn may be freed */
        return;
    }
    /* Anything else is a truncated response: the client must not see a
     * complete message, so the connection closes without finishing it. */
    conn_abort(c, &tb_reason_upstream_truncated); /* conn freed */
}

static void conn_on_upstream_event(struct bufferevent *bev, short events, void *arg)
{
    struct tb_conn *c = arg;

    if (events & BEV_EVENT_CONNECTED) {
        int one = 1;

        c->up->is_connected = 1;
        if (c->r != NULL)
            c->r->upstream_reached = true;
        (void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        bufferevent_set_timeouts(bev, (c->flags & TB_CONN_F_REQ_DONE) ? &c->r->tv_upstream : NULL,
                                 &c->r->tv_upstream);
        tb_endpoint_report(c->r->cluster, c->r->endpoint, true, tb_worker_now_ms());
        return;
    }
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        c->up->is_closed = 1;
        c->up->closed_by_eof = (events & BEV_EVENT_EOF) != 0;
        conn_on_upstream_closed(c); /* conn may be freed */
        return;
    }
    if (!(events & BEV_EVENT_TIMEOUT))
        return;
    if (c->state == TB_CONN_TUNNEL) {
        conn_free(c, &tb_reason_idle_timeout); /* conn freed */
        return;
    }
    if (!c->up->is_connected) {
        conn_connect_failed(c, &tb_reason_upstream_connect_timeout); /* conn may be freed */
        return;
    }
    conn_count_upstream_failure(c, &tb_reason_upstream_timeout);
    conn_reply_error(c, &tb_reason_upstream_timeout); /* conn may be freed */
}

/* ------------------------------------------------------------------------ */
/* accept, drain                                                             */

void tb_conn_accept(struct tb_worker_listener *wl, int fd, const struct sockaddr *peer,
                    socklen_t peer_len)
{
    struct tb_worker *w = wl->worker;
    struct tb_conn *c;
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = tb_xcalloc(1, sizeof(*c));
    c->worker = w;
    c->wl = wl;
    c->listener = wl->cfg;
    if (peer_len <= sizeof(c->peer))
        memcpy(&c->peer, peer, peer_len);
    c->client = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->client == NULL) {
        evutil_closesocket(fd);
        tb_free(c);
        return;
    }
    tb_list_insert_head(&w->conns, &c->link);
    w->num_conns++;
    wl->num_conns++;
    c->listener_slot = wl->cfg->metrics_slot;
    tb_metrics_client_connection(w->metrics, c->listener_slot, 1);
    c->state = TB_CONN_IDLE;
    bufferevent_setcb(c->client, conn_on_client_read, conn_on_client_write, conn_on_client_event,
                      c);
    bufferevent_setwatermark(c->client, EV_WRITE, CONN_BACKPRESSURE_LOW, 0);
    bufferevent_setwatermark(c->client, EV_READ, 0,
                             w->cfg->max_header_size + 1 > 65536 ? w->cfg->max_header_size + 1
                                                                 : 65536);
    /* A new connection gets the header timeout to send its first request;
     * a served one waits the idle timeout for the next. */
    conn_set_client_timeouts(c, &w->tv_header);
    bufferevent_enable(c->client, EV_READ | EV_WRITE);
}

void tb_conn_drain_all(struct tb_worker *w)
{
    struct tb_list *node = w->conns.next;

    while (node != &w->conns) {
        struct tb_conn *c = TB_CONTAINER_OF(node, struct tb_conn, link);

        node = node->next;
        if (c->state == TB_CONN_IDLE)
            conn_free(c, &tb_reason_done);
        else
            c->flags &= ~(uint32_t)TB_CONN_F_KEEP_ALIVE;
    }
}

void tb_conn_drain_listener(struct tb_worker_listener *wl)
{
    struct tb_worker *w = wl->worker;
    struct tb_list *node = w->conns.next;

    /* The last connection to close frees `wl`: stop counting before that. */
    for (unsigned left = wl->num_conns; left > 0 && node != &w->conns;) {
        struct tb_conn *c = TB_CONTAINER_OF(node, struct tb_conn, link);

        node = node->next;
        if (c->wl != wl)
            continue;
        left--;
        if (c->state == TB_CONN_IDLE)
            conn_free(c, &tb_reason_done);
        else
            c->flags &= ~(uint32_t)TB_CONN_F_KEEP_ALIVE;
    }
}

void tb_conn_close_all(struct tb_worker *w)
{
    while (!tb_list_is_empty(&w->conns))
        conn_free(TB_CONTAINER_OF(w->conns.next, struct tb_conn, link), &tb_reason_drain_timeout);
}
