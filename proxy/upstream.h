/* SPDX-License-Identifier: MIT
 * Upstream connections and the worker's pool of idle keep-alive ones. A pooled
 * connection is watched only for close, unexpected bytes and its idle timeout.
 * The exchange logic that drives an attached connection lives in conn.c.
 */
#ifndef TB_PROXY_UPSTREAM_H
#define TB_PROXY_UPSTREAM_H

#include <sys/socket.h>

#include "common/list.h"

struct bufferevent;
struct tb_endpoint;
struct tb_worker;

struct tb_upstream {
    struct bufferevent *bev; /* owns the socket */
    struct tb_worker *worker;
    struct tb_list pool_link;     /* in worker->idle_upstreams while pooled */
    struct sockaddr_storage addr; /* the endpoint: pooled connections are found by it */
    socklen_t addr_len;
    unsigned is_reused : 1; /* came from the pool for the current exchange */
    unsigned is_connected : 1;
    unsigned is_closed : 1;     /* EOF or error seen: never pooled */
    unsigned closed_by_eof : 1; /* the close was an orderly EOF, not an error */
};

/**
 * Takes the most recently pooled idle connection to `ep`, or returns NULL
 * when there is none. The caller owns it and must set its callbacks and
 * timeouts.
 */
struct tb_upstream *tb_upstream_take_idle(struct tb_worker *w, const struct tb_endpoint *ep);

/**
 * Starts a non-blocking connect to `ep`'s address. Returns the
 * connecting upstream (owned by the caller; completion or failure is reported
 * to the callbacks the caller sets right away), or NULL when the socket could
 * not even be created (errno set).
 */
struct tb_upstream *tb_upstream_connect(struct tb_worker *w, const struct tb_endpoint *ep);

/**
 * Gives a cleanly finished connection to the pool (its input must be empty),
 * evicting the least recently used one when the pool is full. Frees it
 * instead when pooling is off or the worker is draining.
 */
void tb_upstream_release(struct tb_upstream *up);

/** Closes and frees `up`, which must not be pooled. */
void tb_upstream_free(struct tb_upstream *up);

/** Closes every pooled connection of `w`. */
void tb_upstream_pool_clear(struct tb_worker *w);

#endif
