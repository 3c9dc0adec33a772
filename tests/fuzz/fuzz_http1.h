/* SPDX-License-Identifier: MIT
 * The body of the two HTTP/1 libFuzzer drivers (fuzz_http1_request.c and
 * fuzz_http1_response.c): find the head, parse it with a fresh arena, check
 * the invariants a forwarded head must satisfy, re-serialize and re-parse it,
 * then feed the rest of the input as body in input-dependent pieces. Every
 * buffer handed to the parser is an exact-size heap copy, so AddressSanitizer
 * sees a read one byte past it.
 */
#ifndef TB_TESTS_FUZZ_FUZZ_HTTP1_H
#define TB_TESTS_FUZZ_FUZZ_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/reason.h"
#include "common/tb.h"
#include "parsers/headers.h"
#include "parsers/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char *fuzz_copy(const char *s, size_t n)
{
    char *p = malloc(n != 0 ? n : 1);

    FUZZ_CHECK(p != NULL);
    if (n != 0)
        memcpy(p, s, n);
    return p;
}

static int fuzz_is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* What any successfully parsed head must look like before it is forwarded. */
static void fuzz_check_msg(const struct tb_http_msg *msg, enum tb_http1_kind kind)
{
    const struct tb_headers *h = &msg->headers;

    for (size_t i = 0; i < h->num; i++) {
        struct tb_iov name = h->entries[i].name, value = h->entries[i].value;

        FUZZ_CHECK(name.len > 0);
        for (size_t k = 0; k < name.len; k++)
            FUZZ_CHECK(fuzz_is_tchar((unsigned char)name.base[k]));
        FUZZ_CHECK(memchr(name.base, ':', name.len) == NULL);
        FUZZ_CHECK(value.len == 0 || value.base != NULL);
        for (size_t k = 0; k < value.len; k++)
            FUZZ_CHECK(value.base[k] != '\r' && value.base[k] != '\n' && value.base[k] != '\0');
        /* Values are OWS-trimmed (RFC 9110 §5.5). */
        if (value.len != 0) {
            FUZZ_CHECK(value.base[0] != ' ' && value.base[0] != '\t');
            FUZZ_CHECK(value.base[value.len - 1] != ' ' && value.base[value.len - 1] != '\t');
        }
        FUZZ_CHECK(h->entries[i].token == tb_hdr_lookup(name.base, name.len));
    }
    FUZZ_CHECK(!((msg->flags & TB_MSG_F_CHUNKED) && (msg->flags & TB_MSG_F_CONTENT_LENGTH)));
    FUZZ_CHECK(!((msg->flags & TB_MSG_F_NO_BODY) && (msg->flags & TB_MSG_F_BODY_UNTIL_EOF)));
    FUZZ_CHECK(!((msg->flags & TB_MSG_F_BODY_UNTIL_EOF) && (msg->flags & TB_MSG_F_KEEP_ALIVE)));
    if (kind == TB_HTTP1_REQUEST) {
        FUZZ_CHECK(msg->method.len > 0);
        FUZZ_CHECK(msg->target.len > 0);
        FUZZ_CHECK(msg->target.base[0] == '/' ||
                   (msg->target.len == 1 && msg->target.base[0] == '*'));
        FUZZ_CHECK(!(msg->flags & TB_MSG_F_BODY_UNTIL_EOF));
        FUZZ_CHECK(tb_headers_count_token(h, TB_HDR_HOST) <= 1);
        FUZZ_CHECK(tb_headers_count_token(h, TB_HDR_CONTENT_LENGTH) <= 1);
        FUZZ_CHECK(!(tb_headers_count_token(h, TB_HDR_CONTENT_LENGTH) != 0 &&
                     tb_headers_count_token(h, TB_HDR_TRANSFER_ENCODING) != 0));
    } else {
        /* RFC 9110 §15: a status code is three digits, 100 to 599 when valid;
         * the serializer needs three digits. */
        FUZZ_CHECK(msg->status >= 100 && msg->status <= 999);
        for (size_t k = 0; k < msg->reason.len; k++)
            FUZZ_CHECK(msg->reason.base[k] != '\r' && msg->reason.base[k] != '\n');
    }
}

/* Serializes `msg` into an exact-size buffer and parses the result again: it
 * must be accepted and carry the same header list. */
static void fuzz_check_reformat(const struct tb_http_msg *msg, enum tb_http1_kind kind,
                                unsigned flags)
{
    int is_request = kind == TB_HTTP1_REQUEST;
    size_t size = is_request ? tb_http1_request_head_size(msg) : tb_http1_response_head_size(msg);
    char *out = malloc(size), *end;
    struct tb_arena *arena;
    struct tb_http1_parser p;
    struct tb_http_msg again;
    int ret;

    FUZZ_CHECK(out != NULL);
    end = is_request ? tb_http1_format_request_head(msg, out)
                     : tb_http1_format_response_head(msg, out);
    FUZZ_CHECK((size_t)(end - out) == size);
    FUZZ_CHECK(tb_http1_find_head_end(out, size, 0) == size);

    /* Requests are always sent as HTTP/1.1, which needs exactly one Host:
     * an HTTP/1.0 request without one cannot be re-parsed as it stands. */
    if (is_request && tb_headers_count_token(&msg->headers, TB_HDR_HOST) != 1) {
        free(out);
        return;
    }
    arena = tb_arena_new(512, 64 * 1024);
    tb_http1_parser_init(&p, kind);
    ret = tb_http1_parse_head(&p, arena, out, size, flags, &again);
    if (ret != TB_OK)
        fprintf(stderr, "re-parse failed: %s\n", p.error != NULL ? p.error->code : "?");
    FUZZ_CHECK(ret == TB_OK);
    FUZZ_CHECK(again.headers.num == msg->headers.num);
    for (size_t i = 0; i < msg->headers.num; i++) {
        const struct tb_header *a = &msg->headers.entries[i], *b = &again.headers.entries[i];

        FUZZ_CHECK(a->name.len == b->name.len &&
                   memcmp(a->name.base, b->name.base, a->name.len) == 0);
        FUZZ_CHECK(a->value.len == b->value.len &&
                   (a->value.len == 0 || memcmp(a->value.base, b->value.base, a->value.len) == 0));
    }
    if (is_request) {
        FUZZ_CHECK(again.method.len == msg->method.len &&
                   memcmp(again.method.base, msg->method.base, msg->method.len) == 0);
        FUZZ_CHECK(again.target.len == msg->target.len &&
                   memcmp(again.target.base, msg->target.base, msg->target.len) == 0);
    } else {
        FUZZ_CHECK(again.status == msg->status);
    }
    FUZZ_CHECK((again.flags & (TB_MSG_F_CHUNKED | TB_MSG_F_CONTENT_LENGTH | TB_MSG_F_NO_BODY)) ==
               (msg->flags & (TB_MSG_F_CHUNKED | TB_MSG_F_CONTENT_LENGTH | TB_MSG_F_NO_BODY)));
    tb_arena_free(arena);
    free(out);
}

struct fuzz_body {
    uint64_t decoded; /* bytes on_body received */
};

static int fuzz_on_body(void *arg, const char *data, size_t len)
{
    struct fuzz_body *b = arg;

    FUZZ_CHECK(len == 0 || data != NULL);
    b->decoded += len;
    return 0;
}

/* Feeds `rest` in pieces whose sizes come from the input itself. */
static void fuzz_feed_body(struct tb_http1_parser *p, const struct tb_http_msg *msg,
                           const char *rest, size_t rest_len)
{
    struct fuzz_body body = {0};
    uint32_t state = (uint32_t)rest_len * 2654435761u + 1;
    size_t off = 0, total = 0;
    int ret = TB_EAGAIN;

    p->on_body = fuzz_on_body;
    p->on_body_arg = &body;
    if (msg->flags & TB_MSG_F_NO_BODY) {
        /* The message ended with its head: nothing that follows is its own. */
        char *copy = fuzz_copy(rest, rest_len);
        size_t consumed = (size_t)-1;

        ret = tb_http1_parse_body(p, copy, rest_len, &consumed);
        free(copy);
        FUZZ_CHECK(ret == TB_OK && consumed == 0 && body.decoded == 0);
        return;
    }
    while (off < rest_len && ret == TB_EAGAIN) {
        size_t piece, consumed = (size_t)-1;
        char *copy;

        state = state * 1103515245u + 12345u + (unsigned char)rest[off];
        piece = 1 + (state >> 16) % 64;
        if (piece > rest_len - off)
            piece = rest_len - off;
        copy = fuzz_copy(rest + off, piece);
        ret = tb_http1_parse_body(p, copy, piece, &consumed);
        free(copy);
        if (ret == TB_EAGAIN) {
            FUZZ_CHECK(consumed == piece);
        } else if (ret == TB_OK) {
            FUZZ_CHECK(consumed <= piece);
        } else {
            FUZZ_CHECK(ret == TB_EINVAL);
            FUZZ_CHECK(p->error != NULL);
            FUZZ_CHECK(consumed == 0);
        }
        total += consumed;
        off += piece;
    }
    /* On TB_EINVAL the bytes before the error may already have reached
     * on_body, while `consumed` is 0; otherwise decoding only removes framing. */
    if (ret != TB_EINVAL)
        FUZZ_CHECK(body.decoded <= total);
    if (ret == TB_OK && (msg->flags & TB_MSG_F_CONTENT_LENGTH)) {
        FUZZ_CHECK(total == msg->content_length);
        FUZZ_CHECK(body.decoded == msg->content_length);
    }
    if (ret == TB_EAGAIN) {
        /* Everything was body and the peer now closes. */
        int fin = tb_http1_finish(p);

        if (msg->flags & TB_MSG_F_BODY_UNTIL_EOF)
            FUZZ_CHECK(fin == TB_OK);
        if (msg->flags & (TB_MSG_F_CONTENT_LENGTH | TB_MSG_F_CHUNKED))
            FUZZ_CHECK(fin == TB_EINVAL);
    }
}

struct fuzz_hop_scan {
    const struct tb_headers *h;
};

static void fuzz_check_option_gone(struct tb_iov option, void *arg)
{
    const struct fuzz_hop_scan *scan = arg;

    /* Framing headers named as options are left to the unit tests, which
     * state what must happen to them. */
    if (tb_iov_caseeq(option, TB_STRLIT("content-length")) ||
        tb_iov_caseeq(option, TB_STRLIT("transfer-encoding")))
        return;
    FUZZ_CHECK(tb_headers_find(scan->h, option.base, option.len, 0) < 0);
}

/* After hop-by-hop removal no hop-by-hop header and no header named by a
 * Connection option is left (RFC 9110 §7.6.1). Consumes `msg`'s table. */
static void fuzz_check_hop_by_hop(struct tb_http_msg *msg)
{
    struct tb_iov options[32];
    size_t num_options = 0;
    struct fuzz_hop_scan scan = {&msg->headers};

    for (size_t i = 0; i < msg->headers.num && num_options < TB_ARRAY_SIZE(options); i++)
        if (msg->headers.entries[i].token == TB_HDR_CONNECTION)
            options[num_options++] = msg->headers.entries[i].value;
    tb_http1_remove_hop_by_hop(msg, 0);
    for (size_t i = 0; i < msg->headers.num; i++)
        FUZZ_CHECK(!(tb_hdr_name(msg->headers.entries[i].token)->flags & TB_HDR_F_HOP_BY_HOP));
    for (size_t i = 0; i < num_options; i++)
        tb_headers_each_list_item(options[i], fuzz_check_option_gone, &scan);
}

static void fuzz_http1_one(enum tb_http1_kind kind, const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t head_len = tb_http1_find_head_end(in, size, 0);
    unsigned flags = 0;
    struct tb_http1_parser p;
    struct tb_http_msg msg;
    struct tb_arena *arena;
    char *head;
    int ret;

    if (head_len == 0)
        return;
    FUZZ_CHECK(head_len <= size);
    /* A response answers HEAD when the head's length is a multiple of 5: the
     * fuzzer reaches both by adding or dropping a byte. */
    if (kind == TB_HTTP1_RESPONSE && head_len % 5 == 0)
        flags |= TB_HTTP1_F_RESPONSE_TO_HEAD;
    head = fuzz_copy(in, head_len);
    arena = tb_arena_new(512, 64 * 1024);
    tb_http1_parser_init(&p, kind);
    ret = tb_http1_parse_head(&p, arena, head, head_len, flags, &msg);
    if (ret == TB_OK) {
        fuzz_check_msg(&msg, kind);
        fuzz_check_reformat(&msg, kind, flags);
        fuzz_feed_body(&p, &msg, in + head_len, size - head_len);
        fuzz_check_hop_by_hop(&msg);
    } else {
        FUZZ_CHECK(ret == TB_EINVAL || ret == TB_ENOSPC);
        FUZZ_CHECK(p.error != NULL);
        if (kind == TB_HTTP1_RESPONSE)
            FUZZ_CHECK(p.error == &tb_reason_upstream_bad_response ||
                       p.error == &tb_reason_upstream_header_too_large);
    }
    tb_arena_free(arena);
    free(head);
}

#endif
