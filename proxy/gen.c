/* SPDX-License-Identifier: MIT
 * Configuration generations.
 */
#include <stdlib.h>
#include <string.h>

#include "common/tb.h"
#include "proxy/gen.h"

struct tb_gen *tb_gen_new(struct tb_config *cfg, unsigned num_workers, uint64_t id, char *err,
                          size_t err_size)
{
    struct tb_gen *gen = tb_xcalloc(1, sizeof(*gen));

    gen->cfg = *cfg;
    gen->clusters = tb_clusters_resolve(&gen->cfg, err, err_size);
    if (gen->clusters == NULL) {
        tb_free(gen);
        return NULL;
    }
    /* aligned_alloc: each worker's part sits on its own cache line. */
    gen->workers = aligned_alloc(64, sizeof(*gen->workers) * (num_workers ? num_workers : 1));
    if (gen->workers == NULL)
        tb_fatal("out of memory");
    memset(gen->workers, 0, sizeof(*gen->workers) * (num_workers ? num_workers : 1));
    for (unsigned i = 0; i < num_workers; i++)
        gen->workers[i].rr_cursors =
            tb_xcalloc(cfg->num_clusters ? cfg->num_clusters : 1, sizeof(unsigned));
    gen->num_workers = num_workers;
    gen->id = id;
    atomic_init(&gen->refs, 1);
    memset(cfg, 0, sizeof(*cfg));
    return gen;
}

void tb_gen_ref(struct tb_gen *gen)
{
    atomic_fetch_add_explicit(&gen->refs, 1, memory_order_relaxed);
}

void tb_gen_unref(struct tb_gen *gen)
{
    /* acq_rel: the freeing thread must see every write made through the
     * other references before they were dropped. */
    if (atomic_fetch_sub_explicit(&gen->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (unsigned i = 0; i < gen->num_workers; i++)
        tb_free(gen->workers[i].rr_cursors);
    free(gen->workers);
    tb_clusters_free(gen->clusters, gen->cfg.num_clusters);
    tb_config_free(&gen->cfg);
    tb_free(gen);
}
