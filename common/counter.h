/* SPDX-License-Identifier: MIT
 * A counter with one writer thread and any number of reader threads: the
 * per-worker statistics the admin thread reads while the worker updates them.
 * Header only; never allocates.
 */
#ifndef TB_COMMON_COUNTER_H
#define TB_COMMON_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

/* A struct, not a bare _Atomic: `x++` on an _Atomic compiles to a locked
 * read-modify-write, which the data path must not pay for. The wrapper makes
 * every update go through tb_counter_add. */
struct tb_counter {
    _Atomic uint64_t v;
};

/**
 * Adds `n` to `c`. Only the counter's one writer thread may call it. The
 * relaxed load and store are plain moves on x86-64 and AArch64: no lock, no
 * fence. Readers see each store whole (no torn 64-bit values), which is all a
 * metrics reader needs; ordering between counters is not promised.
 */
static inline void tb_counter_add(struct tb_counter *c, uint64_t n)
{
    atomic_store_explicit(&c->v, atomic_load_explicit(&c->v, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/** tb_counter_add(c, 1). */
static inline void tb_counter_inc(struct tb_counter *c)
{
    tb_counter_add(c, 1);
}

/**
 * Subtracts 1, for a gauge kept per writer (open connections). The value
 * wraps below zero like any unsigned integer, so a sum over writers stays
 * right even when one writer's share is transiently "negative".
 */
static inline void tb_counter_dec(struct tb_counter *c)
{
    tb_counter_add(c, UINT64_MAX);
}

/** The current value; any thread. */
static inline uint64_t tb_counter_get(const struct tb_counter *c)
{
    return atomic_load_explicit(&c->v, memory_order_relaxed);
}

#endif
