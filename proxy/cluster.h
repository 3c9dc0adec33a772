/* SPDX-License-Identifier: MIT
 * Upstream clusters at run time: resolved endpoints, round-robin choice and
 * passive ejection (an endpoint that fails to connect sits out a back-off
 * that doubles while it keeps failing, as Envoy's outlier detection does).
 * Ejection state is shared by all workers through relaxed atomics: a worker
 * that sees a failure spares the others the same timeout.
 */
#ifndef TB_PROXY_CLUSTER_H
#define TB_PROXY_CLUSTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/config.h"

struct tb_endpoint {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char authority[300]; /* "host:port" as configured: Host for requests that lack one */
    _Atomic uint64_t ejected_until_ms; /* monotonic; 0 or past: in rotation */
    _Atomic unsigned failures;         /* consecutive connect failures */
    _Atomic unsigned ejections;        /* consecutive ejections: the back-off exponent */
};

struct tb_cluster {
    const struct tb_cluster_config *cfg;
    struct tb_endpoint *endpoints; /* cfg->num_endpoints */
    size_t num_endpoints;
};

/**
 * Resolves every endpoint of every cluster of `cfg` (getaddrinfo: blocking,
 * main thread only) into a new array of cfg->num_clusters clusters. Returns
 * it, or NULL with a message naming the cluster and endpoint in `err`.
 * Free with tb_clusters_free. `cfg` must outlive the clusters.
 */
struct tb_cluster *tb_clusters_resolve(const struct tb_config *cfg, char *err, size_t err_size);

/** Frees what tb_clusters_resolve returned (NULL is fine). */
void tb_clusters_free(struct tb_cluster *clusters, size_t num);

/**
 * The next endpoint after `*cursor` that is in rotation and not in
 * `tried` (a bit per endpoint index, for retries within one request);
 * advances `*cursor`. When every untried endpoint is ejected, the one whose
 * ejection ends first is returned anyway (a cluster never refuses work only
 * because all of its endpoints failed once: Envoy's panic mode). Returns
 * NULL only when every endpoint was tried. Sets `*index`.
 */
struct tb_endpoint *tb_cluster_pick(struct tb_cluster *cluster, unsigned *cursor, uint64_t tried,
                                    uint64_t now_ms, size_t *index);

/**
 * Records the outcome of a connect to `ep`. A success clears its failure
 * and ejection history; a failure may eject it. Returns true when this call
 * ejected the endpoint (the caller logs and counts it).
 */
bool tb_endpoint_report(const struct tb_cluster *cluster, struct tb_endpoint *ep, bool connected,
                        uint64_t now_ms);

/** How many endpoints of `cluster` are ejected at `now_ms`. */
size_t tb_cluster_ejected(const struct tb_cluster *cluster, uint64_t now_ms);

/* Retries within one request are tracked in a 64-bit mask. */
#define TB_CLUSTER_MAX_ENDPOINTS 64

#endif
