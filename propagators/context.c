/* SPDX-License-Identifier: MIT
 * The context helpers every codec shares. Kept apart from the registry so a
 * codec links without every other codec.
 */
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

void tb_ctx_init(struct tb_trace_ctx *ctx, enum tb_format format)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->sampling = TB_SAMPLING_DEFER;
    ctx->id_width = 128;
    ctx->format = format;
}

bool tb_ctx_has_ids(const struct tb_trace_ctx *ctx)
{
    return !tb_is_zero(ctx->trace_id, sizeof(ctx->trace_id)) &&
           !tb_is_zero(ctx->span_id, sizeof(ctx->span_id));
}

ptrdiff_t tb_baggage_find(const struct tb_baggage *bag, struct tb_iov key)
{
    for (size_t i = 0; i < bag->num; i++)
        if (bag->items[i].key.len == key.len &&
            memcmp(bag->items[i].key.base, key.base, key.len) == 0)
            return (ptrdiff_t)i;
    return -1;
}

int tb_baggage_put(struct tb_arena *arena, struct tb_baggage *bag, struct tb_iov key,
                   struct tb_iov value, struct tb_iov props)
{
    size_t size = key.len + value.len + props.len;
    ptrdiff_t at = tb_baggage_find(bag, key);

    if (at >= 0) {
        struct tb_baggage_item *old = &bag->items[at];
        size_t old_size = old->key.len + old->value.len + old->props.len;

        if (bag->bytes - old_size + size > TB_BAGGAGE_MAX_BYTES) {
            bag->dropped++;
            return TB_OK;
        }
        bag->bytes = bag->bytes - old_size + size;
        *old = (struct tb_baggage_item){key, value, props};
        return TB_OK;
    }
    if (bag->num >= TB_BAGGAGE_MAX_ITEMS || bag->bytes + size > TB_BAGGAGE_MAX_BYTES) {
        bag->dropped++;
        return TB_OK;
    }
    if (bag->num == bag->cap) {
        size_t cap = bag->cap ? bag->cap * 2 : 8;
        struct tb_baggage_item *items;

        if (cap > TB_BAGGAGE_MAX_ITEMS)
            cap = TB_BAGGAGE_MAX_ITEMS;
        items = tb_arena_alloc(arena, cap * sizeof(*items));
        if (items == NULL)
            return TB_ENOSPC;
        if (bag->num > 0)
            memcpy(items, bag->items, bag->num * sizeof(*items));
        bag->items = items;
        bag->cap = cap;
    }
    bag->items[bag->num++] = (struct tb_baggage_item){key, value, props};
    bag->bytes += size;
    return TB_OK;
}

int tb_ctx_emit(struct tb_arena *arena, struct tb_headers *out, enum tb_hdr_token token,
                struct tb_iov value)
{
    return tb_headers_add_known(arena, out, token, tb_hdr_name(token)->name, value);
}
