/* SPDX-License-Identifier: MIT
 * The table of header names tracebridge knows: one token per name, with flags
 * saying how the proxy treats it. Header names appear in code only through
 * these tokens; matching is ASCII case-insensitive and done once per header.
 */
#ifndef TB_PARSERS_HDR_NAMES_H
#define TB_PARSERS_HDR_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "common/tb.h"

enum tb_hdr_token {
    TB_HDR_UNKNOWN = 0, /* not in the table */
    TB_HDR_CONNECTION,
    TB_HDR_CONTENT_LENGTH,
    TB_HDR_EXPECT,
    TB_HDR_HOST,
    TB_HDR_KEEP_ALIVE,
    TB_HDR_PROXY_CONNECTION,
    TB_HDR_TE,
    TB_HDR_TRAILER,
    TB_HDR_TRANSFER_ENCODING,
    TB_HDR_UPGRADE,
    TB_HDR_X_FORWARDED_FOR,
    TB_HDR_X_FORWARDED_PROTO,
    TB_HDR_NUM_TOKENS,
};

/* flags of struct tb_hdr_name */
#define TB_HDR_F_HOP_BY_HOP 0x01 /* removed before forwarding (RFC 9110 §7.6.1) */

struct tb_hdr_name {
    struct tb_iov name; /* lower-case canonical spelling */
    uint32_t flags;     /* TB_HDR_F_* */
};

/** Returns the token of `name` (any case), or TB_HDR_UNKNOWN. Never allocates. */
enum tb_hdr_token tb_hdr_lookup(const char *name, size_t name_len);

/** Returns the table entry of a known token; `token` must be < TB_HDR_NUM_TOKENS. */
const struct tb_hdr_name *tb_hdr_name(enum tb_hdr_token token);

#endif
