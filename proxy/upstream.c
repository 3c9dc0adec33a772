/* SPDX-License-Identifier: MIT
 * Upstream connect and idle pool. Sockets are created here (not by libevent)
 * so TCP_NODELAY is set before the first byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/tb.h"
#include "proxy/cluster.h"
#include "proxy/config.h"
#include "proxy/metrics.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

static void pool_on_read(struct bufferevent *bev, void *arg)
{
    struct tb_upstream *up = arg;

    (void)bev;
    /* An idle HTTP/1.1 connection must stay silent; bytes here are garbage or
     * a late error page, and the connection can no longer be trusted. */
    tb_list_unlink(&up->pool_link);
    up->worker->num_idle_upstreams--;
    tb_metrics_upstream_connection(up->worker->metrics, 0, -1);
    tb_upstream_free(up);
}

static void pool_on_event(struct bufferevent *bev, short events, void *arg)
{
    (void)bev;
    (void)events; /* EOF, error or idle timeout: all end a pooled connection */
    pool_on_read(NULL, arg);
}

struct tb_upstream *tb_upstream_take_idle(struct tb_worker *w, const struct tb_endpoint *ep)
{
    struct tb_upstream *up = NULL;

    /* The pool is short (max_idle_upstream per worker): a scan, most
     * recently used first, is cheaper than keeping an index per endpoint. */
    for (struct tb_list *n = w->idle_upstreams.next; n != &w->idle_upstreams; n = n->next) {
        struct tb_upstream *candidate = TB_CONTAINER_OF(n, struct tb_upstream, pool_link);

        if (candidate->addr_len == ep->addr_len &&
            memcmp(&candidate->addr, &ep->addr, ep->addr_len) == 0) {
            up = candidate;
            break;
        }
    }
    if (up == NULL)
        return NULL;
    tb_list_unlink(&up->pool_link);
    w->num_idle_upstreams--;
    tb_metrics_upstream_connection(w->metrics, 0, -1);
    up->is_reused = 1;
    bufferevent_setcb(up->bev, NULL, NULL, NULL, NULL);
    bufferevent_set_timeouts(up->bev, NULL, NULL);
    return up;
}

struct tb_upstream *tb_upstream_connect(struct tb_worker *w, const struct tb_endpoint *ep)
{
    struct tb_upstream *up;
    int fd, one = 1;

    fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return NULL;
    /* Small heads must not wait for Nagle: the proxy writes whole messages. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    up = tb_xcalloc(1, sizeof(*up));
    up->worker = w;
    tb_list_init(&up->pool_link);
    memcpy(&up->addr, &ep->addr, ep->addr_len);
    up->addr_len = ep->addr_len;
    up->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (up->bev == NULL) {
        close(fd);
        tb_free(up);
        errno = ENOMEM;
        return NULL;
    }
    /* Counted from here on: every path that ends `up` goes through tb_upstream_free. */
    tb_metrics_upstream_connection(w->metrics, 1, 0);
    if (bufferevent_socket_connect(up->bev, (const struct sockaddr *)&ep->addr,
                                   (int)ep->addr_len) != 0) {
        int saved = errno;

        tb_upstream_free(up);
        errno = saved;
        return NULL;
    }
    return up;
}

void tb_upstream_free(struct tb_upstream *up)
{
    TB_ASSERT(!tb_list_is_linked(&up->pool_link));
    tb_metrics_upstream_connection(up->worker->metrics, -1, 0);
    bufferevent_free(up->bev);
    up->bev = NULL;
    tb_free(up);
}

void tb_upstream_release(struct tb_upstream *up)
{
    struct tb_worker *w = up->worker;

    if (w->draining || up->is_closed || w->cfg->max_idle_upstream == 0 ||
        evbuffer_get_length(bufferevent_get_input(up->bev)) != 0) {
        tb_upstream_free(up);
        return;
    }
    if (w->num_idle_upstreams >= w->cfg->max_idle_upstream) {
        struct tb_upstream *oldest =
            TB_CONTAINER_OF(w->idle_upstreams.prev, struct tb_upstream, pool_link);

        tb_list_unlink(&oldest->pool_link);
        w->num_idle_upstreams--;
        tb_metrics_upstream_connection(w->metrics, 0, -1);
        tb_upstream_free(oldest);
    }
    up->is_reused = 0;
    bufferevent_setcb(up->bev, pool_on_read, NULL, pool_on_event, up);
    bufferevent_setwatermark(up->bev, EV_READ | EV_WRITE, 0, 0);
    bufferevent_set_timeouts(up->bev, &w->tv_idle, NULL);
    bufferevent_enable(up->bev, EV_READ);
    tb_list_insert_head(&w->idle_upstreams, &up->pool_link);
    w->num_idle_upstreams++;
    tb_metrics_upstream_connection(w->metrics, 0, 1);
}

void tb_upstream_pool_clear(struct tb_worker *w)
{
    while (!tb_list_is_empty(&w->idle_upstreams)) {
        struct tb_upstream *up =
            TB_CONTAINER_OF(w->idle_upstreams.next, struct tb_upstream, pool_link);

        tb_list_unlink(&up->pool_link);
        w->num_idle_upstreams--;
        tb_metrics_upstream_connection(w->metrics, 0, -1);
        tb_upstream_free(up);
    }
}
