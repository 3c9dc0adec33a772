/* SPDX-License-Identifier: MIT
 * Route matching: the first route of a listener whose Host and path prefix
 * match the request wins (Envoy's virtual hosts and nginx's locations, in
 * the simplest form operators read top to bottom).
 */
#ifndef TB_PROXY_ROUTE_H
#define TB_PROXY_ROUTE_H

#include "common/tb.h"
#include "proxy/config.h"

/**
 * The route of `listener` for a request to `host` (the Host header or the
 * absolute-form authority, port included or not) and `path` (the origin-form
 * target, query included). Returns NULL when no route matches (the caller
 * answers 404). Pure: no allocation, no side effect.
 */
const struct tb_route_config *tb_route_match(const struct tb_listener_config *listener,
                                             struct tb_iov host, struct tb_iov path);

/** The host part of a Host value: the port and IPv6 brackets removed. */
struct tb_iov tb_route_host_name(struct tb_iov host);

#endif
