/* SPDX-License-Identifier: MIT
 * Bump arena: one inline first block, then extra blocks chained on demand
 * until the cap. Extra blocks are freed on reset so a one-off large request
 * does not pin memory on a keep-alive connection.
 */
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/tb.h"

#define ARENA_ALIGN 16

struct arena_block {
    struct arena_block *next;
    size_t size;
    _Alignas(ARENA_ALIGN) char data[];
};

struct tb_arena {
    char *cur, *end;           /* free space of the current block */
    struct arena_block *extra; /* chained blocks beyond the first, newest first */
    size_t used;               /* bytes handed out since reset, padding included */
    size_t cap;                /* hard limit for `used` */
    size_t first_size;
    _Alignas(ARENA_ALIGN) char first[];
};

struct tb_arena *tb_arena_new(size_t first_size, size_t cap)
{
    struct tb_arena *arena = tb_xmalloc(sizeof(*arena) + first_size);

    arena->first_size = first_size;
    arena->cap = cap;
    arena->extra = NULL;
    tb_arena_reset(arena);
    return arena;
}

static void arena_free_extra(struct tb_arena *arena)
{
    while (arena->extra != NULL) {
        struct arena_block *next = arena->extra->next;

        free(arena->extra);
        arena->extra = next;
    }
}

void tb_arena_free(struct tb_arena *arena)
{
    if (arena == NULL)
        return;
    arena_free_extra(arena);
    free(arena);
}

void tb_arena_reset(struct tb_arena *arena)
{
    arena_free_extra(arena);
    arena->cur = arena->first;
    arena->end = arena->first + arena->first_size;
    arena->used = 0;
}

size_t tb_arena_used(const struct tb_arena *arena)
{
    return arena->used;
}

void *tb_arena_alloc(struct tb_arena *arena, size_t size)
{
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

    if (rounded < size || rounded > arena->cap - arena->used)
        return NULL;
#ifndef TB_ARENA_EMULATE
    if (rounded <= (size_t)(arena->end - arena->cur)) {
        void *p = arena->cur;

        arena->cur += rounded;
        arena->used += rounded;
        return p;
    }
#endif
    {
        /* A new block at least as big as the first, so small allocations after
         * a spill do not each cost a malloc. */
#ifdef TB_ARENA_EMULATE
        size_t block_size = size;
#else
        size_t block_size = rounded < arena->first_size ? arena->first_size : rounded;
#endif
        struct arena_block *block = malloc(sizeof(*block) + block_size);

        if (block == NULL)
            return NULL;
        block->size = block_size;
        block->next = arena->extra;
        arena->extra = block;
#ifdef TB_ARENA_EMULATE
        arena->cur = arena->end = block->data + block_size;
#else
        arena->cur = block->data + rounded;
        arena->end = block->data + block_size;
#endif
        arena->used += rounded;
        return block->data;
    }
}

char *tb_arena_memdup(struct tb_arena *arena, const char *src, size_t len)
{
    char *p = tb_arena_alloc(arena, len);

    if (p != NULL && len != 0)
        memcpy(p, src, len);
    return p;
}
