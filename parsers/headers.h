/* SPDX-License-Identifier: MIT
 * The per-message header table: an ordered array of (name, value) views that
 * keeps original casing, order and repetitions. Names are matched once, at
 * insertion, against the known-name table. Storage comes from a request arena;
 * the table never frees anything itself.
 */
#ifndef TB_PARSERS_HEADERS_H
#define TB_PARSERS_HEADERS_H

#include <stddef.h>
#include <stdint.h>

#include "common/tb.h"
#include "parsers/hdr_names.h"

struct tb_arena;

struct tb_header {
    struct tb_iov name;      /* as received; borrowed, valid as long as its arena */
    struct tb_iov value;     /* OWS-trimmed; borrowed likewise */
    enum tb_hdr_token token; /* TB_HDR_UNKNOWN for names outside the table */
};

struct tb_headers {
    struct tb_header *entries; /* arena-owned array */
    size_t num;
    size_t cap;
};

/** Empties `hdrs` without allocating (the previous array stays in its arena). */
void tb_headers_init(struct tb_headers *hdrs);

/**
 * Appends a header; `name` and `value` are borrowed (not copied) and must live
 * as long as the arena. Grows the array from `arena`.
 * Returns TB_OK, or TB_ENOSPC when the arena cap is reached (table unchanged).
 */
int tb_headers_add(struct tb_arena *arena, struct tb_headers *hdrs, struct tb_iov name,
                   struct tb_iov value);

/** As tb_headers_add, for a caller that already knows the name's `token`. */
int tb_headers_add_known(struct tb_arena *arena, struct tb_headers *hdrs, enum tb_hdr_token token,
                         struct tb_iov name, struct tb_iov value);

/**
 * Index of the first header at or after `from` carrying `token`, or -1.
 * `token` must not be TB_HDR_UNKNOWN.
 */
ptrdiff_t tb_headers_find_token(const struct tb_headers *hdrs, enum tb_hdr_token token,
                                size_t from);

/** Index of the first header at or after `from` named `name` (any case), or -1. */
ptrdiff_t tb_headers_find(const struct tb_headers *hdrs, const char *name, size_t name_len,
                          size_t from);

/** Number of headers carrying `token`. */
size_t tb_headers_count_token(const struct tb_headers *hdrs, enum tb_hdr_token token);

/** Removes the header at `index`, keeping the order of the others. */
void tb_headers_remove_at(struct tb_headers *hdrs, size_t index);

/** Removes every header named `name` (any case); returns how many were removed. */
size_t tb_headers_remove(struct tb_headers *hdrs, const char *name, size_t name_len);

/** Removes every header carrying `token`; returns how many were removed. */
size_t tb_headers_remove_token(struct tb_headers *hdrs, enum tb_hdr_token token);

/**
 * Appends ", `suffix`" to the value of the last header carrying `token`, or
 * adds a new header `name: suffix` at the end when there is none (`name` is
 * borrowed: pass a literal). The joined
 * value is built in `arena`. Returns TB_OK or TB_ENOSPC (table unchanged).
 */
int tb_headers_append_list(struct tb_arena *arena, struct tb_headers *hdrs, enum tb_hdr_token token,
                           struct tb_iov name, struct tb_iov suffix);

/**
 * Calls `cb(token, arg)` for each comma-separated token of `value` (RFC 9110
 * §5.6.1 list, OWS around elements trimmed, empty elements skipped). Never
 * allocates; the token views borrow from `value`.
 */
void tb_headers_each_list_item(struct tb_iov value, void (*cb)(struct tb_iov item, void *arg),
                               void *arg);

#endif
