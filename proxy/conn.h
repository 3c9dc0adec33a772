/* SPDX-License-Identifier: MIT
 * A client connection and the exchanges it carries: read a request head, forward
 * it and stream its body to an upstream connection, stream the response back.
 * One exchange at a time per connection, so pipelined requests are answered in
 * order. An idle connection holds no buffers and no arena.
 */
#ifndef TB_PROXY_CONN_H
#define TB_PROXY_CONN_H

#include <sys/socket.h>

struct tb_worker;
struct tb_worker_listener;

/** Takes ownership of the socket `fd` accepted on `wl` and starts serving it. */
void tb_conn_accept(struct tb_worker_listener *wl, int fd, const struct sockaddr *peer,
                    socklen_t peer_len);

/**
 * A reload removed `wl`: its idle connections close now, busy ones after
 * their current response.
 */
void tb_conn_drain_listener(struct tb_worker_listener *wl);

/**
 * Starts a drain on every connection of `w`: idle ones close now, busy ones
 * close after their current response.
 */
void tb_conn_drain_all(struct tb_worker *w);

/** Closes every connection of `w` at once (drain deadline, shutdown). */
void tb_conn_close_all(struct tb_worker *w);

#endif
