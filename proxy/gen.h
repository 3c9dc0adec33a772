/* SPDX-License-Identifier: MIT
 * A configuration generation: one loaded configuration with its resolved
 * clusters, shared read-only by the workers. SIGHUP makes a new one; a
 * request keeps the generation it started with to its end, so in-flight
 * requests finish on the configuration that routed them.
 *
 * References: the main thread holds one on the current generation; each
 * worker holds one on every generation it still uses (its current one, and
 * older ones while requests that began on them are in flight). Each worker
 * counts its own in-flight requests per generation, so the data path never
 * touches a shared counter.
 */
#ifndef TB_PROXY_GEN_H
#define TB_PROXY_GEN_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "proxy/cluster.h"
#include "proxy/config.h"

/* One worker's private part of a generation, on its own cache line. */
struct tb_gen_worker {
    alignas(64) unsigned inflight; /* requests of this worker that began on the generation */
    unsigned *rr_cursors;          /* per cluster: the worker's round-robin position */
};

struct tb_gen {
    struct tb_config cfg; /* owned */
    struct tb_cluster *clusters;
    struct tb_gen_worker *workers; /* num_workers */
    unsigned num_workers;
    uint64_t id; /* 1 for the startup configuration, +1 per reload */
    _Atomic unsigned refs;
};

/**
 * Makes a generation of `cfg` (moved in: on success the generation owns what
 * it points to and `*cfg` must not be freed by the caller) for `num_workers`
 * workers, resolving every cluster endpoint. Returns it with one reference,
 * or NULL with the reason in `err` (then `cfg` still belongs to the caller).
 */
struct tb_gen *tb_gen_new(struct tb_config *cfg, unsigned num_workers, uint64_t id, char *err,
                          size_t err_size);

/** Takes a reference (any thread). */
void tb_gen_ref(struct tb_gen *gen);

/** Drops a reference (any thread); the last one frees the generation. */
void tb_gen_unref(struct tb_gen *gen);

#endif
