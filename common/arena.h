/* SPDX-License-Identifier: MIT
 * A bump arena with a hard cap, for per-request data (the copied request head,
 * the header table, rewritten values). Reset between keep-alive requests.
 * Built with -DTB_ARENA_EMULATE every allocation is its own malloc block, so
 * AddressSanitizer sees overflows between neighbouring allocations.
 */
#ifndef TB_COMMON_ARENA_H
#define TB_COMMON_ARENA_H

#include <stddef.h>

struct tb_arena;

/**
 * Creates an arena whose first block holds `first_size` bytes and whose total
 * allocations never exceed `cap` bytes. Aborts on out-of-memory (control path).
 * Free with tb_arena_free.
 */
struct tb_arena *tb_arena_new(size_t first_size, size_t cap);

/** Frees the arena and everything allocated from it. `arena` may be NULL. */
void tb_arena_free(struct tb_arena *arena);

/**
 * Returns `size` bytes aligned for any scalar type, valid until the next
 * tb_arena_reset or tb_arena_free. Returns NULL (and allocates nothing) when
 * the cap would be exceeded or memory runs out: callers map that to TB_ENOSPC.
 */
void *tb_arena_alloc(struct tb_arena *arena, size_t size);

/** Copies `len` bytes of `src` into the arena; NULL as for tb_arena_alloc. */
char *tb_arena_memdup(struct tb_arena *arena, const char *src, size_t len);

/** Forgets every allocation; keeps the first block, frees the others. */
void tb_arena_reset(struct tb_arena *arena);

/** Bytes handed out since the last reset (for tests and limits). */
size_t tb_arena_used(const struct tb_arena *arena);

#endif
