/* SPDX-License-Identifier: MIT
 * Cluster endpoints: resolution, round-robin, passive ejection.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "common/tb.h"
#include "proxy/cluster.h"

struct tb_cluster *tb_clusters_resolve(const struct tb_config *cfg, char *err, size_t err_size)
{
    struct tb_cluster *clusters =
        tb_xcalloc(cfg->num_clusters ? cfg->num_clusters : 1, sizeof(*clusters));

    for (size_t i = 0; i < cfg->num_clusters; i++) {
        const struct tb_cluster_config *k = &cfg->clusters[i];
        struct tb_cluster *c = &clusters[i];

        c->cfg = k;
        c->num_endpoints = k->num_endpoints;
        c->endpoints = tb_xcalloc(k->num_endpoints ? k->num_endpoints : 1, sizeof(*c->endpoints));
        if (k->num_endpoints > TB_CLUSTER_MAX_ENDPOINTS) {
            snprintf(err, err_size, "cluster %s: more than %d endpoints", k->name,
                     TB_CLUSTER_MAX_ENDPOINTS);
            tb_clusters_free(clusters, i + 1);
            return NULL;
        }
        for (size_t j = 0; j < k->num_endpoints; j++) {
            struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
            struct addrinfo *res = NULL;
            struct tb_endpoint *ep = &c->endpoints[j];
            int e = getaddrinfo(k->endpoints[j].host, k->endpoints[j].port, &hints, &res);

            tb_address_format(&k->endpoints[j], ep->authority, sizeof(ep->authority));
            if (e != 0) {
                snprintf(err, err_size, "cluster %s: endpoint %s: %s", k->name, ep->authority,
                         gai_strerror(e));
                tb_clusters_free(clusters, i + 1);
                return NULL;
            }
            memcpy(&ep->addr, res->ai_addr, res->ai_addrlen);
            ep->addr_len = res->ai_addrlen;
            freeaddrinfo(res);
        }
    }
    return clusters;
}

void tb_clusters_free(struct tb_cluster *clusters, size_t num)
{
    if (clusters == NULL)
        return;
    for (size_t i = 0; i < num; i++)
        tb_free(clusters[i].endpoints);
    tb_free(clusters);
}

struct tb_endpoint *tb_cluster_pick(struct tb_cluster *cluster, unsigned *cursor, uint64_t tried,
                                    uint64_t now_ms, size_t *index)
{
    size_t n = cluster->num_endpoints, best = n;
    uint64_t best_until = UINT64_MAX;

    for (size_t step = 0; step < n; step++) {
        size_t i = (*cursor + step) % n;
        uint64_t until;

        if (tried & (UINT64_C(1) << i))
            continue;
        until = atomic_load_explicit(&cluster->endpoints[i].ejected_until_ms, memory_order_relaxed);
        if (until <= now_ms) {
            *cursor = (unsigned)((i + 1) % n);
            *index = i;
            return &cluster->endpoints[i];
        }
        if (until < best_until) {
            best_until = until;
            best = i;
        }
    }
    if (best == n)
        return NULL;
    *cursor = (unsigned)((best + 1) % n);
    *index = best;
    return &cluster->endpoints[best];
}

bool tb_endpoint_report(const struct tb_cluster *cluster, struct tb_endpoint *ep, bool connected,
                        uint64_t now_ms)
{
    const struct tb_cluster_config *k = cluster->cfg;
    unsigned failures, ejections;
    uint64_t backoff;

    if (connected) {
        /* Plain loads first: the common case writes nothing, so workers do
         * not bounce the endpoint's cache line on every connect. */
        if (atomic_load_explicit(&ep->failures, memory_order_relaxed) != 0)
            atomic_store_explicit(&ep->failures, 0, memory_order_relaxed);
        if (atomic_load_explicit(&ep->ejections, memory_order_relaxed) != 0)
            atomic_store_explicit(&ep->ejections, 0, memory_order_relaxed);
        return false;
    }
    failures = atomic_fetch_add_explicit(&ep->failures, 1, memory_order_relaxed) + 1;
    if (failures < (k->eject_after ? k->eject_after : 1))
        return false;
    atomic_store_explicit(&ep->failures, 0, memory_order_relaxed);
    ejections = atomic_fetch_add_explicit(&ep->ejections, 1, memory_order_relaxed);
    backoff = k->eject_base_ms;
    for (unsigned i = 0; i < ejections && backoff < k->eject_max_ms; i++)
        backoff *= 2;
    if (backoff > k->eject_max_ms)
        backoff = k->eject_max_ms;
    atomic_store_explicit(&ep->ejected_until_ms, now_ms + backoff, memory_order_relaxed);
    return true;
}

size_t tb_cluster_ejected(const struct tb_cluster *cluster, uint64_t now_ms)
{
    size_t n = 0;

    for (size_t i = 0; i < cluster->num_endpoints; i++)
        n += atomic_load_explicit(&cluster->endpoints[i].ejected_until_ms, memory_order_relaxed) >
             now_ms;
    return n;
}
