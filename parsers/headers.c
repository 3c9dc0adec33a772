/* SPDX-License-Identifier: MIT
 * Header table operations. Removal shifts the tail to keep order; tables are
 * small (tens of entries), so this beats any linked structure in practice.
 */
#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"

#define HEADERS_INITIAL_CAP 16

void tb_headers_init(struct tb_headers *hdrs)
{
    hdrs->entries = NULL;
    hdrs->num = 0;
    hdrs->cap = 0;
}

int tb_headers_add(struct tb_arena *arena, struct tb_headers *hdrs, struct tb_iov name,
                   struct tb_iov value)
{
    return tb_headers_add_known(arena, hdrs, tb_hdr_lookup(name.base, name.len), name, value);
}

int tb_headers_add_known(struct tb_arena *arena, struct tb_headers *hdrs, enum tb_hdr_token token,
                         struct tb_iov name, struct tb_iov value)
{
    if (hdrs->num == hdrs->cap) {
        size_t new_cap = hdrs->cap ? hdrs->cap * 2 : HEADERS_INITIAL_CAP;
        struct tb_header *grown = tb_arena_alloc(arena, new_cap * sizeof(*grown));

        if (grown == NULL)
            return TB_ENOSPC;
        if (hdrs->num != 0)
            memcpy(grown, hdrs->entries, hdrs->num * sizeof(*grown));
        hdrs->entries = grown;
        hdrs->cap = new_cap;
    }
    hdrs->entries[hdrs->num++] = (struct tb_header){
        .name = name,
        .value = value,
        .token = token,
    };
    return TB_OK;
}

ptrdiff_t tb_headers_find_token(const struct tb_headers *hdrs, enum tb_hdr_token token, size_t from)
{
    for (size_t i = from; i < hdrs->num; i++)
        if (hdrs->entries[i].token == token)
            return (ptrdiff_t)i;
    return -1;
}

ptrdiff_t tb_headers_find(const struct tb_headers *hdrs, const char *name, size_t name_len,
                          size_t from)
{
    for (size_t i = from; i < hdrs->num; i++)
        if (tb_iov_caseeq(hdrs->entries[i].name, name, name_len))
            return (ptrdiff_t)i;
    return -1;
}

size_t tb_headers_count_token(const struct tb_headers *hdrs, enum tb_hdr_token token)
{
    size_t n = 0;

    for (size_t i = 0; i < hdrs->num; i++)
        n += hdrs->entries[i].token == token;
    return n;
}

void tb_headers_remove_at(struct tb_headers *hdrs, size_t index)
{
    TB_ASSERT(index < hdrs->num);
    memmove(&hdrs->entries[index], &hdrs->entries[index + 1],
            (hdrs->num - index - 1) * sizeof(hdrs->entries[0]));
    hdrs->num--;
}

size_t tb_headers_remove(struct tb_headers *hdrs, const char *name, size_t name_len)
{
    size_t kept = 0, removed;

    for (size_t i = 0; i < hdrs->num; i++)
        if (!tb_iov_caseeq(hdrs->entries[i].name, name, name_len))
            hdrs->entries[kept++] = hdrs->entries[i];
    removed = hdrs->num - kept;
    hdrs->num = kept;
    return removed;
}

size_t tb_headers_remove_token(struct tb_headers *hdrs, enum tb_hdr_token token)
{
    size_t kept = 0, removed;

    for (size_t i = 0; i < hdrs->num; i++)
        if (hdrs->entries[i].token != token)
            hdrs->entries[kept++] = hdrs->entries[i];
    removed = hdrs->num - kept;
    hdrs->num = kept;
    return removed;
}

int tb_headers_append_list(struct tb_arena *arena, struct tb_headers *hdrs, enum tb_hdr_token token,
                           struct tb_iov name, struct tb_iov suffix)
{
    ptrdiff_t last = -1;

    for (size_t i = 0; i < hdrs->num; i++)
        if (hdrs->entries[i].token == token)
            last = (ptrdiff_t)i;
    if (last < 0 || hdrs->entries[last].value.len == 0) {
        char *copy = tb_arena_memdup(arena, suffix.base, suffix.len);

        if (copy == NULL)
            return TB_ENOSPC;
        if (last >= 0) {
            hdrs->entries[last].value = (struct tb_iov){copy, suffix.len};
            return TB_OK;
        }
        return tb_headers_add_known(arena, hdrs, token, name, (struct tb_iov){copy, suffix.len});
    }
    {
        struct tb_iov old = hdrs->entries[last].value;
        size_t len = old.len + 2 + suffix.len;
        char *joined = tb_arena_alloc(arena, len);

        if (joined == NULL)
            return TB_ENOSPC;
        memcpy(joined, old.base, old.len);
        memcpy(joined + old.len, ", ", 2);
        memcpy(joined + old.len + 2, suffix.base, suffix.len);
        hdrs->entries[last].value = (struct tb_iov){joined, len};
    }
    return TB_OK;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

void tb_headers_each_list_item(struct tb_iov value, void (*cb)(struct tb_iov item, void *arg),
                               void *arg)
{
    const char *p = value.base, *end = value.base + value.len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        const char *s = p, *e = item_end;

        while (s < e && is_ows(*s))
            s++;
        while (e > s && is_ows(e[-1]))
            e--;
        if (e > s)
            cb((struct tb_iov){s, (size_t)(e - s)}, arg);
        p = comma ? comma + 1 : end;
    }
}
