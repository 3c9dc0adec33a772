/* SPDX-License-Identifier: MIT
 * HTTP/1.x messages on llhttp: strict parsing of a complete request or response
 * head into a struct tb_http_msg, resumable parsing of the body that follows
 * (to find its end and validate its framing), and serialization of a head.
 * Pure code over bytes: no sockets, no event loop.
 */
#ifndef TB_PARSERS_HTTP1_H
#define TB_PARSERS_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "common/tb.h"
#include "parsers/headers.h"

struct tb_arena;
struct tb_reason;

enum tb_http1_kind {
    TB_HTTP1_REQUEST = 0,
    TB_HTTP1_RESPONSE = 1,
};

/* flags of struct tb_http_msg */
#define TB_MSG_F_CHUNKED 0x0001         /* Transfer-Encoding: chunked framing */
#define TB_MSG_F_CONTENT_LENGTH 0x0002  /* Content-Length framing */
#define TB_MSG_F_KEEP_ALIVE 0x0004      /* the sender allows another message after this one */
#define TB_MSG_F_UPGRADE 0x0008         /* request asks for, or 101 response grants, an upgrade */
#define TB_MSG_F_EXPECT_CONTINUE 0x0010 /* request carries Expect: 100-continue */
#define TB_MSG_F_NO_BODY 0x0020         /* the message ended with its head */
#define TB_MSG_F_BODY_UNTIL_EOF 0x0040  /* response body delimited by connection close */
#define TB_MSG_F_ABSOLUTE_FORM 0x0080   /* request target was absolute-form */

struct tb_http_msg {
    struct tb_iov method;    /* request: as received */
    struct tb_iov target;    /* request: origin-form (absolute-form converted), or "*" */
    struct tb_iov authority; /* request: authority of an absolute-form target, else empty */
    struct tb_iov reason;    /* response: reason phrase, possibly empty */
    int status;              /* response: status code */
    uint8_t version_major;
    uint8_t version_minor;
    uint8_t method_id;       /* request: llhttp_method_t */
    uint32_t flags;          /* TB_MSG_F_* */
    uint64_t content_length; /* valid with TB_MSG_F_CONTENT_LENGTH */
    struct tb_headers headers;
};

/** Receives decoded body bytes (chunk framing removed); return 0, or -1 to abort. */
typedef int (*tb_http1_body_cb)(void *arg, const char *data, size_t len);

/* flags for tb_http1_parse_head */
#define TB_HTTP1_F_RESPONSE_TO_HEAD 0x01 /* response: the request was HEAD, so no body */

/** Parser state. Embed it; initialize with tb_http1_parser_init before each message. */
struct tb_http1_parser {
    llhttp_t llhttp;
    struct tb_arena *_arena;       /* head parsing only */
    struct tb_http_msg *_msg;      /* head parsing only */
    const struct tb_reason *error; /* why the last call failed, set with TB_EINVAL */
    tb_http1_body_cb on_body;      /* optional, set after tb_http1_parser_init */
    void *on_body_arg;
    uint64_t body_bytes; /* payload bytes parsed so far, chunk framing excluded */
    struct tb_iov _name, _value;
    uint16_t _num_cl, _num_te, _num_host;
    uint64_t _trailer_value_end; /* stream offset after the last trailer value piece, or 0 */
    uint64_t _exec_offset;       /* stream offset of `_exec_data` (body bytes fed so far) */
    const char *_exec_data;      /* buffer of the llhttp_execute call in progress */
    uint8_t _name_token;         /* enum tb_hdr_token of _name */
    uint8_t _kind;               /* enum tb_http1_kind */
    uint8_t _in_head;            /* head callbacks record into _msg */
    uint8_t _skip_body;          /* response to HEAD */
    uint8_t _done;               /* message complete */
    uint8_t _nospace;            /* the arena ran out during the head */
};

/** Prepares `p` for the next message of `kind`. Never allocates. */
void tb_http1_parser_init(struct tb_http1_parser *p, enum tb_http1_kind kind);

/**
 * Finds the end of a message head in `buf`: returns the length of the head
 * including its terminating empty line, or 0 when it is not complete yet.
 * Accepts CRLF and bare-LF line endings (tb_http1_parse_head decides whether a
 * bare LF is allowed). Scanning restarts at `from`, which callers set to a
 * little before the previous end of data (it is clamped to the buffer).
 */
size_t tb_http1_find_head_end(const char *buf, size_t len, size_t from);

/**
 * Parses the complete head `head[0..head_len)` (as found by
 * tb_http1_find_head_end) into `msg`. `msg` and its header table borrow from
 * `head`, which must stay valid (and unmodified) as long as `msg` is used;
 * new values are allocated from `arena`.
 *
 * Requests are strict (RFC 9112): a bare CR or LF, obs-fold, a control
 * character in a field, CL with TE, repeated CL, any TE but a single
 * `chunked`, a missing or repeated Host on HTTP/1.1, or anything llhttp
 * rejects fails; so does a field name that is not a token. Responses follow the
 * same byte rules and fail with upstream_bad_response, as do a status code
 * that is not three digits from 100 and any version but HTTP/1.x (requests
 * fail with version_not_supported). Transfer-Encoding, Connection and
 * Content-Length values containing a tab are refused: llhttp does not trim
 * tabs when it interprets them.
 *
 * Returns TB_OK; TB_EINVAL with `p->error` naming the reason (for responses,
 * always upstream_bad_response); or TB_ENOSPC when `arena` is exhausted.
 * After TB_OK, TB_MSG_F_NO_BODY says whether a body follows; if it does, feed
 * it with tb_http1_parse_body.
 */
int tb_http1_parse_head(struct tb_http1_parser *p, struct tb_arena *arena, const char *head,
                        size_t head_len, unsigned flags, struct tb_http_msg *msg);

/**
 * Feeds body bytes that follow the head. Returns TB_EAGAIN when all `len`
 * bytes belong to the body and more are needed; TB_OK when the message ended,
 * with `*consumed` the number of bytes (possibly 0) that belong to it;
 * TB_EINVAL with `p->error` set (bad_chunk for a bad chunk size) when the
 * framing is invalid or `on_body` aborted. Never allocates.
 */
int tb_http1_parse_body(struct tb_http1_parser *p, const char *data, size_t len, size_t *consumed);

/**
 * Tells the parser the peer closed the connection. Returns TB_OK when that
 * completes the message (a response delimited by close), else TB_EINVAL.
 */
int tb_http1_finish(struct tb_http1_parser *p);

/**
 * Removes hop-by-hop headers (RFC 9110 §7.6.1): every Connection header, every
 * header a Connection option names (except Content-Length, Transfer-Encoding
 * and Host, which frame and route the message and are never dropped), Keep-Alive,
 * Proxy-Connection, TE, Trailer, and Upgrade unless `keep_upgrade`. Connection
 * is removed even with `keep_upgrade`: the caller adds `Connection: upgrade`
 * back. Keeps the order of the rest; never allocates.
 */
void tb_http1_remove_hop_by_hop(struct tb_http_msg *msg, int keep_upgrade);

/** Bytes tb_http1_format_request_head will write for `msg` (sent as HTTP/1.1). */
size_t tb_http1_request_head_size(const struct tb_http_msg *msg);

/** Writes `METHOD target HTTP/1.1`, the headers and the empty line; returns the end. */
char *tb_http1_format_request_head(const struct tb_http_msg *msg, char *out);

/** Bytes tb_http1_format_response_head will write for `msg` (sent as HTTP/1.1). */
size_t tb_http1_response_head_size(const struct tb_http_msg *msg);

/** Writes `HTTP/1.1 status reason`, the headers and the empty line; returns the end. */
char *tb_http1_format_response_head(const struct tb_http_msg *msg, char *out);

#endif
