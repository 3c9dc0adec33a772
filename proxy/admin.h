/* SPDX-License-Identifier: MIT
 * The admin listener: /healthz, /readyz, /config and /metrics over HTTP/1.1
 * (libevent's evhttp), on its own thread and event base, so nothing it does
 * touches a worker's loop. main owns it: starts it before the workers, says
 * when the proxy is ready, hands it each new configuration, stops it at exit.
 * docs/admin.md describes the endpoints.
 */
#ifndef TB_PROXY_ADMIN_H
#define TB_PROXY_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

struct tb_address;
struct tb_config;
struct tb_metrics;

struct tb_admin;

/**
 * Binds `addr` (port 0 picks a free one) and starts the admin thread.
 * `metrics` (rendered by /metrics) must outlive the admin; `cfg` (shown by
 * /config; may be NULL until tb_admin_set_config) must stay valid until it
 * is replaced or the admin stops. Starts not ready: /readyz answers 503
 * until tb_admin_set_ready(admin, true). Call it where no signal the main
 * thread waits for is unblocked (the thread inherits the mask). Returns the
 * admin (free with tb_admin_stop), or NULL with a reason in `err`
 * (`err_size` bytes) when the address cannot be bound or the thread cannot
 * start: a startup error.
 */
struct tb_admin *tb_admin_start(const struct tb_address *addr, struct tb_metrics *metrics,
                                const struct tb_config *cfg, char *err, size_t err_size);

/** The port the admin listens on (what port 0 became). */
unsigned tb_admin_port(const struct tb_admin *admin);

/**
 * Sets what /readyz answers: 200 when `ready` (every listener bound, not
 * draining), else 503. Any thread, lock-free; `admin` may be NULL (no-op).
 */
void tb_admin_set_ready(struct tb_admin *admin, bool ready);

/**
 * Makes /config show `cfg` from now on. Returns only once the admin thread
 * no longer reads the previous configuration, which the caller may then
 * free. Main thread; `admin` may be NULL (no-op).
 */
void tb_admin_set_config(struct tb_admin *admin, const struct tb_config *cfg);

/**
 * Stops the admin thread, waits for it, closes the listener and frees
 * `admin` (may be NULL). Requests in progress are cut.
 */
void tb_admin_stop(struct tb_admin *admin);

#endif
