/* SPDX-License-Identifier: MIT
 * The known-header table. A lookup first filters on length, then compares
 * case-insensitively against the few names of that length.
 */
#include "parsers/hdr_names.h"

static const struct tb_hdr_name hdr_table[TB_HDR_NUM_TOKENS] = {
    [TB_HDR_UNKNOWN] = {{"", 0}, 0},
    [TB_HDR_CONNECTION] = {TB_IOV_LIT("connection"), TB_HDR_F_HOP_BY_HOP},
    [TB_HDR_CONTENT_LENGTH] = {TB_IOV_LIT("content-length"), 0},
    [TB_HDR_EXPECT] = {TB_IOV_LIT("expect"), 0},
    [TB_HDR_HOST] = {TB_IOV_LIT("host"), 0},
    [TB_HDR_KEEP_ALIVE] = {TB_IOV_LIT("keep-alive"), TB_HDR_F_HOP_BY_HOP},
    [TB_HDR_PROXY_CONNECTION] = {TB_IOV_LIT("proxy-connection"), TB_HDR_F_HOP_BY_HOP},
    [TB_HDR_TE] = {TB_IOV_LIT("te"), TB_HDR_F_HOP_BY_HOP},
    [TB_HDR_TRAILER] = {TB_IOV_LIT("trailer"), TB_HDR_F_HOP_BY_HOP},
    /* Transfer-Encoding is hop-by-hop in principle, but chunked bodies are
     * forwarded with their framing, so the header travels with them. */
    [TB_HDR_TRANSFER_ENCODING] = {TB_IOV_LIT("transfer-encoding"), 0},
    [TB_HDR_UPGRADE] = {TB_IOV_LIT("upgrade"), TB_HDR_F_HOP_BY_HOP},
    [TB_HDR_X_FORWARDED_FOR] = {TB_IOV_LIT("x-forwarded-for"), 0},
    [TB_HDR_X_FORWARDED_PROTO] = {TB_IOV_LIT("x-forwarded-proto"), 0},
};

enum tb_hdr_token tb_hdr_lookup(const char *name, size_t name_len)
{
    /* Linear over a small table, but the length check rejects almost every
     * entry before a byte is compared. */
    for (int t = 1; t < TB_HDR_NUM_TOKENS; t++) {
        const struct tb_iov *known = &hdr_table[t].name;

        if (known->len == name_len && tb_memcaseeq(known->base, name, name_len))
            return (enum tb_hdr_token)t;
    }
    return TB_HDR_UNKNOWN;
}

const struct tb_hdr_name *tb_hdr_name(enum tb_hdr_token token)
{
    TB_ASSERT((unsigned)token < TB_HDR_NUM_TOKENS);
    return &hdr_table[token];
}
