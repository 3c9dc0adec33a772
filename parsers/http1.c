/* SPDX-License-Identifier: MIT
 * llhttp adapter. A head is parsed in one llhttp_execute over contiguous bytes
 * after our own byte-level checks, which llhttp 8.1 does not make (it accepts a
 * bare CR as a line end, for instance). The body is then fed through the same
 * llhttp state so chunk framing is validated before any byte is forwarded.
 */
#include <string.h>

#include "common/arena.h"
#include "common/reason.h"
#include "parsers/http1.h"

/* ------------------------------------------------------------------------ */
/* byte-level head checks                                                   */

size_t tb_http1_find_head_end(const char *buf, size_t len, size_t from)
{
    const char *p = buf + (from < len ? from : len), *end = buf + len;

    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));

        if (lf == NULL)
            return 0;
        /* A head ends with an empty line: LF followed by LF, or by CR LF. */
        if (lf + 1 < end && lf[1] == '\n')
            return (size_t)(lf + 2 - buf);
        if (lf + 2 < end && lf[1] == '\r' && lf[2] == '\n')
            return (size_t)(lf + 3 - buf);
        p = lf + 1;
    }
    return 0;
}

static int is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* RFC 9110 §5.1 and §5.6.2: a field name is a non-empty token followed
 * directly by ':' (RFC 9112 §5.1 forbids whitespace before the colon). */
static int is_valid_field_name(const char *line, const char *line_end)
{
    static const char tchar_punct[] = "!#$%&'*+-.^_`|~";
    const char *c = line;

    while (c < line_end && *c != ':') {
        unsigned char u = (unsigned char)*c;

        if (!((u >= '0' && u <= '9') || ((u | 0x20) >= 'a' && (u | 0x20) <= 'z') ||
              (u != 0 && strchr(tchar_punct, u) != NULL)))
            return 0;
        c++;
    }
    return c > line && c < line_end;
}

/* RFC 9112 §2.2: a bare CR must be rejected (or replaced) and §5.2: obs-fold
 * must be rejected in requests. Field values must not hold CTLs (RFC 9110 §5.5).
 * Returns the reason to fail with, or NULL when the head is well-formed. */
static const struct tb_reason *check_head_bytes(const char *head, size_t len, int is_request)
{
    const char *p = head, *end = head + len;
    int first_line = 1;

    /* The final empty line has no content to check, but must itself end
     * with CR LF; trimming it keeps the loop from reading it as a header. */
    TB_ASSERT(len >= 2 && head[len - 1] == '\n');
    if (head[len - 2] != '\r')
        return is_request ? &tb_reason_bare_lf : &tb_reason_upstream_bad_response;
    end -= 2;

    while (p < end) {
        const char *line = p, *lf = memchr(p, '\n', (size_t)(end - p));
        const char *line_end;

        TB_ASSERT(lf != NULL); /* a complete head ends with LF */
        if (lf == line || lf[-1] != '\r')
            return is_request ? &tb_reason_bare_lf : &tb_reason_upstream_bad_response;
        line_end = lf - 1;
        if (!first_line && line < line_end && (*line == ' ' || *line == '\t'))
            return is_request ? &tb_reason_obs_fold : &tb_reason_upstream_bad_response;
        for (const char *c = line; c < line_end; c++) {
            if (*c == '\r')
                return is_request ? &tb_reason_bare_cr : &tb_reason_upstream_bad_response;
            if (is_ctl((unsigned char)*c)) {
                if (!is_request)
                    return &tb_reason_upstream_bad_response;
                return first_line ? &tb_reason_bad_request : &tb_reason_control_char;
            }
        }
        if (!first_line && line < line_end && !is_valid_field_name(line, line_end))
            return is_request ? &tb_reason_bad_request : &tb_reason_upstream_bad_response;
        first_line = 0;
        p = lf + 1;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* llhttp callbacks                                                         */

static struct tb_http1_parser *parser_of(llhttp_t *llhttp)
{
    return TB_CONTAINER_OF(llhttp, struct tb_http1_parser, llhttp);
}

/* llhttp reports a span once per execute call when it is contiguous; a span
 * split across calls arrives in pieces that are adjacent in memory, because
 * heads are parsed from one buffer. */
static void iov_extend(struct tb_iov *iov, const char *at, size_t len)
{
    if (iov->base == NULL) {
        iov->base = at;
        iov->len = len;
    } else {
        TB_ASSERT(iov->base + iov->len == at);
        iov->len += len;
    }
}

static int on_method(llhttp_t *llhttp, const char *at, size_t len)
{
    struct tb_http1_parser *p = parser_of(llhttp);

    if (p->_in_head)
        iov_extend(&p->_msg->method, at, len);
    return 0;
}

static int on_url(llhttp_t *llhttp, const char *at, size_t len)
{
    struct tb_http1_parser *p = parser_of(llhttp);

    if (p->_in_head)
        iov_extend(&p->_msg->target, at, len);
    return 0;
}

static int on_status(llhttp_t *llhttp, const char *at, size_t len)
{
    struct tb_http1_parser *p = parser_of(llhttp);

    if (p->_in_head)
        iov_extend(&p->_msg->reason, at, len);
    return 0;
}

static int on_header_field(llhttp_t *llhttp, const char *at, size_t len)
{
    struct tb_http1_parser *p = parser_of(llhttp);

    if (p->_in_head)
        iov_extend(&p->_name, at, len);
    return 0;
}

static int on_header_value(llhttp_t *llhttp, const char *at, size_t len)
{
    struct tb_http1_parser *p = parser_of(llhttp);

    if (p->_in_head) {
        iov_extend(&p->_value, at, len);
        return 0;
    }
    /* Trailer fields are forwarded as received, so they get the head's rules
     * here. Pieces of one value are adjacent in the byte stream, even when
     * split across calls; a gap means a folded line (obs-fold, RFC 9112 §5.2). */
    uint64_t at_offset = p->_exec_offset + (uint64_t)(at - p->_exec_data);

    if (p->_trailer_value_end != 0 && at_offset != p->_trailer_value_end) {
        p->error =
            p->_kind == TB_HTTP1_REQUEST ? &tb_reason_obs_fold : &tb_reason_upstream_bad_response;
        return HPE_USER;
    }
    p->_trailer_value_end = at_offset + len;
    for (size_t i = 0; i < len; i++) {
        if (is_ctl((unsigned char)at[i])) {
            p->error = p->_kind == TB_HTTP1_REQUEST ? &tb_reason_control_char
                                                    : &tb_reason_upstream_bad_response;
            return HPE_USER;
        }
    }
    return 0;
}

static int on_header_value_complete(llhttp_t *llhttp)
{
    struct tb_http1_parser *p = parser_of(llhttp);
    struct tb_iov value = p->_value;

    if (!p->_in_head) {
        p->_trailer_value_end = 0;
        return 0;
    }
    if (value.base == NULL)
        value.base = "";
    /* RFC 9110 §5.5: the field value excludes surrounding whitespace. */
    while (value.len != 0 &&
           (value.base[value.len - 1] == ' ' || value.base[value.len - 1] == '\t'))
        value.len--;
    while (value.len != 0 && (value.base[0] == ' ' || value.base[0] == '\t')) {
        value.base++;
        value.len--;
    }
    /* llhttp 8.1 matches "chunked", "close" and "upgrade" without trimming a
     * tab, so "chunked<TAB>" would frame differently from what the header
     * says once forwarded. Framing headers with a tab are refused instead. */
    if ((p->_name_token == TB_HDR_TRANSFER_ENCODING || p->_name_token == TB_HDR_CONNECTION ||
         p->_name_token == TB_HDR_CONTENT_LENGTH) &&
        memchr(p->_value.base ? p->_value.base : "", '\t', p->_value.len) != NULL) {
        p->error = p->_kind == TB_HTTP1_REQUEST ? &tb_reason_bad_request
                                                : &tb_reason_upstream_bad_response;
        return HPE_USER;
    }
    if (tb_headers_add_known(p->_arena, &p->_msg->headers, p->_name_token, p->_name, value) !=
        TB_OK) {
        p->_nospace = 1;
        return HPE_USER;
    }
    p->_name = (struct tb_iov){NULL, 0};
    p->_value = (struct tb_iov){NULL, 0};
    return 0;
}

/* Framing headers are counted when their name completes, so that a conflict
 * llhttp rejects in the middle of a value is still classified precisely. */
static int on_header_field_complete(llhttp_t *llhttp)
{
    struct tb_http1_parser *p = parser_of(llhttp);
    enum tb_hdr_token token;

    if (!p->_in_head || p->_name.base == NULL)
        return 0;
    token = tb_hdr_lookup(p->_name.base, p->_name.len);
    p->_name_token = (uint8_t)token;
    p->_num_cl += token == TB_HDR_CONTENT_LENGTH;
    p->_num_te += token == TB_HDR_TRANSFER_ENCODING;
    p->_num_host += token == TB_HDR_HOST;
    return 0;
}

static int on_headers_complete(llhttp_t *llhttp)
{
    struct tb_http1_parser *p = parser_of(llhttp);
    struct tb_http_msg *msg = p->_msg;

    if (!p->_in_head)
        return 0;
    msg->version_major = llhttp_get_http_major(llhttp);
    msg->version_minor = llhttp_get_http_minor(llhttp);
    if (llhttp->flags & F_CHUNKED)
        msg->flags |= TB_MSG_F_CHUNKED;
    else if (llhttp->flags & F_CONTENT_LENGTH)
        msg->flags |= TB_MSG_F_CONTENT_LENGTH;
    msg->content_length = llhttp->content_length;
    if (llhttp->upgrade)
        msg->flags |= TB_MSG_F_UPGRADE;
    /* RFC 9112 §9.3: persistence by version and Connection options. llhttp's
     * own answer is unusable here: it clears its flags at message end. */
    if (msg->version_major == 1 && msg->version_minor >= 1
            ? !(llhttp->flags & F_CONNECTION_CLOSE)
            : (llhttp->flags & F_CONNECTION_KEEP_ALIVE) != 0)
        msg->flags |= TB_MSG_F_KEEP_ALIVE;
    if (p->_kind == TB_HTTP1_REQUEST) {
        msg->method_id = llhttp_get_method(llhttp);
        return 0;
    }
    msg->status = llhttp_get_status_code(llhttp);
    /* RFC 9110 §6.4.1: responses to HEAD, 1xx, 204 and 304 never have a body,
     * whatever their Content-Length says. */
    if (p->_skip_body || msg->status / 100 == 1 || msg->status == 204 || msg->status == 304) {
        msg->flags &= ~(uint32_t)(TB_MSG_F_CHUNKED | TB_MSG_F_CONTENT_LENGTH);
        return 1;
    }
    if (llhttp_message_needs_eof(llhttp))
        msg->flags = (msg->flags | TB_MSG_F_BODY_UNTIL_EOF) & ~(uint32_t)TB_MSG_F_KEEP_ALIVE;
    return 0;
}

static int on_body(llhttp_t *llhttp, const char *at, size_t len)
{
    struct tb_http1_parser *p = parser_of(llhttp);

    p->body_bytes += len;
    if (p->on_body != NULL && p->on_body(p->on_body_arg, at, len) != 0) {
        p->error = &tb_reason_client_closed;
        return HPE_USER;
    }
    return 0;
}

static int on_message_complete(llhttp_t *llhttp)
{
    struct tb_http1_parser *p = parser_of(llhttp);

    p->_done = 1;
    /* Stop right after this message: bytes behind it belong to the next one
     * (pipelining), which the caller parses with a fresh parser. */
    return HPE_PAUSED;
}

static const llhttp_settings_t parser_settings = {
    .on_method = on_method,
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ------------------------------------------------------------------------ */
/* parsing                                                                  */

void tb_http1_parser_init(struct tb_http1_parser *p, enum tb_http1_kind kind)
{
    llhttp_init(&p->llhttp, kind == TB_HTTP1_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE,
                &parser_settings);
    p->_arena = NULL;
    p->_msg = NULL;
    p->error = NULL;
    p->on_body = NULL;
    p->on_body_arg = NULL;
    p->body_bytes = 0;
    p->_name = p->_value = (struct tb_iov){NULL, 0};
    p->_name_token = TB_HDR_UNKNOWN;
    p->_trailer_value_end = 0;
    p->_exec_offset = 1; /* so that 0 can mean "no trailer value piece yet" */
    p->_exec_data = NULL;
    p->_num_cl = p->_num_te = p->_num_host = 0;
    p->_kind = (uint8_t)kind;
    p->_in_head = 0;
    p->_skip_body = 0;
    p->_done = 0;
    p->_nospace = 0;
}

static const struct tb_reason *classify_llhttp_error(const struct tb_http1_parser *p,
                                                     llhttp_errno_t err)
{
    if (p->_kind == TB_HTTP1_RESPONSE)
        return &tb_reason_upstream_bad_response;
    if (p->_num_cl != 0 && p->_num_te != 0)
        return &tb_reason_cl_and_te;
    if (p->_num_cl > 1)
        return &tb_reason_duplicate_content_length;
    if (err == HPE_INVALID_TRANSFER_ENCODING || p->_num_te != 0)
        return &tb_reason_bad_transfer_encoding;
    return &tb_reason_bad_request;
}

static int starts_with_nocase(struct tb_iov s, const char *prefix, size_t prefix_len)
{
    return s.len >= prefix_len && tb_memcaseeq(s.base, prefix, prefix_len);
}

/* RFC 9112 §3.2: origin-form, absolute-form (converted to origin-form, the
 * authority kept for Host), or asterisk-form for OPTIONS. */
static const struct tb_reason *normalize_target(struct tb_arena *arena, struct tb_http_msg *msg)
{
    struct tb_iov t = msg->target;
    size_t scheme_len;
    const char *auth, *end, *path;

    if (t.len != 0 && t.base[0] == '/')
        return NULL;
    if (t.len == 1 && t.base[0] == '*')
        return msg->method_id == HTTP_OPTIONS ? NULL : &tb_reason_bad_request;
    if (starts_with_nocase(t, TB_STRLIT("http://")))
        scheme_len = 7;
    else if (starts_with_nocase(t, TB_STRLIT("https://")))
        scheme_len = 8;
    else
        return &tb_reason_bad_request;
    auth = t.base + scheme_len;
    end = t.base + t.len;
    path = auth;
    while (path < end && *path != '/' && *path != '?' && *path != '#')
        path++;
    if (path == auth)
        return &tb_reason_bad_request;
    msg->authority = (struct tb_iov){auth, (size_t)(path - auth)};
    msg->flags |= TB_MSG_F_ABSOLUTE_FORM;
    if (path < end && *path == '/') {
        msg->target = (struct tb_iov){path, (size_t)(end - path)};
    } else {
        /* "http://h" or "http://h?q": the origin-form path is "/" (§3.2.1). */
        size_t rest = (size_t)(end - path);
        char *buf = tb_arena_alloc(arena, rest + 1);

        if (buf == NULL)
            return &tb_reason_request_too_large;
        buf[0] = '/';
        memcpy(buf + 1, path, rest);
        msg->target = (struct tb_iov){buf, rest + 1};
    }
    return NULL;
}

static const struct tb_reason *check_request_semantics(struct tb_http1_parser *p,
                                                       struct tb_http_msg *msg)
{
    const struct tb_headers *h = &msg->headers;

    if (msg->method_id == HTTP_CONNECT)
        return &tb_reason_connect_not_supported;
    if (p->_num_cl != 0 && p->_num_te != 0)
        return &tb_reason_cl_and_te;
    if (p->_num_cl > 1)
        return &tb_reason_duplicate_content_length;
    if (p->_num_te != 0) {
        ptrdiff_t i = tb_headers_find_token(h, TB_HDR_TRANSFER_ENCODING, 0);

        /* Only a single "chunked" coding: anything else makes the body length
         * depend on codings we would have to trust the upstream to share. */
        if (p->_num_te != 1 || !tb_iov_caseeq(h->entries[i].value, TB_STRLIT("chunked")))
            return &tb_reason_bad_transfer_encoding;
    }
    if (msg->version_major == 1 && msg->version_minor >= 1) {
        /* RFC 9112 §3.2: exactly one Host in an HTTP/1.1 request. */
        if (p->_num_host == 0)
            return &tb_reason_host_missing;
        if (p->_num_host > 1)
            return &tb_reason_host_repeated;
    } else if (p->_num_host > 1) {
        return &tb_reason_host_repeated;
    }
    for (size_t i = 0; i < h->num; i++) {
        if (h->entries[i].token == TB_HDR_EXPECT &&
            tb_iov_caseeq(h->entries[i].value, TB_STRLIT("100-continue")))
            msg->flags |= TB_MSG_F_EXPECT_CONTINUE;
    }
    return normalize_target(p->_arena, msg);
}

/* "HTTP/1.x DDD" then SP or the line end: the status has exactly 3 digits. */
static int has_three_digit_status(const char *head)
{
    const char *d = head + sizeof("HTTP/1.1 ") - 1;

    for (int i = 0; i < 3; i++)
        if (d[i] < '0' || d[i] > '9')
            return 0;
    return d[3] == ' ' || d[3] == '\r';
}

int tb_http1_parse_head(struct tb_http1_parser *p, struct tb_arena *arena, const char *head,
                        size_t head_len, unsigned flags, struct tb_http_msg *msg)
{
    int is_request = p->_kind == TB_HTTP1_REQUEST;
    llhttp_errno_t err;
    int ret = TB_EINVAL;

    memset(msg, 0, sizeof(*msg));
    tb_headers_init(&msg->headers);
    p->error = check_head_bytes(head, head_len, is_request);
    if (p->error != NULL)
        return TB_EINVAL;

    p->_arena = arena;
    p->_msg = msg;
    p->_in_head = 1;
    p->_skip_body = (flags & TB_HTTP1_F_RESPONSE_TO_HEAD) != 0;
    err = llhttp_execute(&p->llhttp, head, head_len);
    p->_in_head = 0;
    if (p->_nospace) {
        ret = TB_ENOSPC;
        p->error = is_request ? &tb_reason_header_too_large : &tb_reason_upstream_header_too_large;
        goto out;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        /* The message ended with the head (no body). */
        if (llhttp_get_error_pos(&p->llhttp) != head + head_len) {
            p->error = is_request ? &tb_reason_bad_request : &tb_reason_upstream_bad_response;
            goto out;
        }
        msg->flags |= TB_MSG_F_NO_BODY;
    } else if (err != HPE_OK) {
        if (err != HPE_USER || p->error == NULL)
            p->error = classify_llhttp_error(p, err);
        goto out;
    }
    if (msg->method.base == NULL)
        msg->method = (struct tb_iov){"", 0};
    if (msg->target.base == NULL)
        msg->target = (struct tb_iov){"", 0};
    if (msg->reason.base == NULL)
        msg->reason = (struct tb_iov){"", 0};
    /* RFC 9112 §2.3: only HTTP/1.x is spoken here; RFC 9110 §15: a status
     * code is three digits from 100 (llhttp also accepts "20" or "099"). */
    if (is_request && msg->target.len == 0) {
        p->error = &tb_reason_bad_request;
        goto out;
    }
    if (msg->version_major != 1) {
        p->error = is_request ? &tb_reason_version_not_supported : &tb_reason_upstream_bad_response;
        goto out;
    }
    if (!is_request && (msg->status < 100 || msg->status > 999 || !has_three_digit_status(head))) {
        p->error = &tb_reason_upstream_bad_response;
        goto out;
    }
    if (is_request) {
        p->error = check_request_semantics(p, msg);
        if (p->error != NULL) {
            ret = p->error == &tb_reason_request_too_large ? TB_ENOSPC : TB_EINVAL;
            goto out;
        }
    } else if (p->_num_cl > 1 || (p->_num_cl != 0 && p->_num_te != 0)) {
        /* llhttp accepts these in responses when lenient; we never are. */
        p->error = &tb_reason_upstream_bad_response;
        goto out;
    }
    ret = TB_OK;
out:
    p->_arena = NULL;
    p->_msg = NULL;
    return ret;
}

int tb_http1_parse_body(struct tb_http1_parser *p, const char *data, size_t len, size_t *consumed)
{
    llhttp_errno_t err;

    if (p->_done) {
        *consumed = 0;
        return TB_OK;
    }
    p->_exec_data = data;
    err = llhttp_execute(&p->llhttp, data, len);
    p->_exec_offset += len;
    if (err == HPE_OK) {
        *consumed = len;
        return TB_EAGAIN;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        *consumed = (size_t)(llhttp_get_error_pos(&p->llhttp) - data);
        return TB_OK;
    }
    /* After the head only the body framing can be wrong: for a request that
     * is the chunk syntax (sizes, CRLF after data, trailers). */
    if (p->error == NULL)
        p->error = p->_kind == TB_HTTP1_RESPONSE   ? &tb_reason_upstream_bad_response
                   : (p->llhttp.flags & F_CHUNKED) ? &tb_reason_bad_chunk
                                                   : &tb_reason_bad_request;
    *consumed = 0;
    return TB_EINVAL;
}

int tb_http1_finish(struct tb_http1_parser *p)
{
    if (p->_done)
        return TB_OK;
    if (llhttp_finish(&p->llhttp) == HPE_OK || p->_done)
        return TB_OK;
    return TB_EINVAL;
}

/* ------------------------------------------------------------------------ */
/* hop-by-hop headers                                                       */

/* A header marked for removal by a Connection option: its value view is
 * cleared (parsed values always have a base, possibly ""). */
#define HOP_REMOVED_BASE NULL

struct connection_scan {
    struct tb_headers *headers;
    int keep_upgrade;
};

static void mark_connection_option(struct tb_iov option, void *arg)
{
    struct connection_scan *scan = arg;
    struct tb_headers *h = scan->headers;
    enum tb_hdr_token token = tb_hdr_lookup(option.base, option.len);

    /* Options naming the message's framing or routing are ignored: dropping
     * Content-Length or Transfer-Encoding while the body is forwarded as is
     * would let the upstream read the body as another request. Connection
     * itself goes anyway, and an Upgrade being granted must go through. */
    if (token == TB_HDR_CONTENT_LENGTH || token == TB_HDR_TRANSFER_ENCODING ||
        token == TB_HDR_HOST || token == TB_HDR_CONNECTION ||
        (scan->keep_upgrade && token == TB_HDR_UPGRADE))
        return;
    for (size_t i = 0; i < h->num; i++)
        if (tb_iov_caseeq(h->entries[i].name, option.base, option.len))
            h->entries[i].value.base = HOP_REMOVED_BASE;
}

void tb_http1_remove_hop_by_hop(struct tb_http_msg *msg, int keep_upgrade)
{
    struct tb_headers *h = &msg->headers;
    struct connection_scan scan = {h, keep_upgrade};
    size_t kept = 0;

    /* Two passes: mark what the Connection options name, then compact. No
     * header moves while options are applied, so every option is seen. */
    for (size_t i = 0; i < h->num; i++)
        if (h->entries[i].token == TB_HDR_CONNECTION)
            tb_headers_each_list_item(h->entries[i].value, mark_connection_option, &scan);
    for (size_t i = 0; i < h->num; i++) {
        const struct tb_header *e = &h->entries[i];
        int hop_by_hop = (tb_hdr_name(e->token)->flags & TB_HDR_F_HOP_BY_HOP) &&
                         !(keep_upgrade && e->token == TB_HDR_UPGRADE);

        if (!hop_by_hop && e->value.base != HOP_REMOVED_BASE)
            h->entries[kept++] = *e;
    }
    h->num = kept;
}

/* ------------------------------------------------------------------------ */
/* serialization                                                            */

static size_t headers_size(const struct tb_headers *h)
{
    size_t n = 2; /* the empty line */

    for (size_t i = 0; i < h->num; i++)
        n += h->entries[i].name.len + 2 + h->entries[i].value.len + 2;
    return n;
}

static char *put(char *out, const char *s, size_t len)
{
    memcpy(out, s, len);
    return out + len;
}

static char *format_headers(const struct tb_headers *h, char *out)
{
    for (size_t i = 0; i < h->num; i++) {
        out = put(out, h->entries[i].name.base, h->entries[i].name.len);
        out = put(out, TB_STRLIT(": "));
        out = put(out, h->entries[i].value.base, h->entries[i].value.len);
        out = put(out, TB_STRLIT("\r\n"));
    }
    return put(out, TB_STRLIT("\r\n"));
}

size_t tb_http1_request_head_size(const struct tb_http_msg *msg)
{
    return msg->method.len + 1 + msg->target.len + sizeof(" HTTP/1.1\r\n") - 1 +
           headers_size(&msg->headers);
}

char *tb_http1_format_request_head(const struct tb_http_msg *msg, char *out)
{
    out = put(out, msg->method.base, msg->method.len);
    *out++ = ' ';
    out = put(out, msg->target.base, msg->target.len);
    out = put(out, TB_STRLIT(" HTTP/1.1\r\n"));
    return format_headers(&msg->headers, out);
}

size_t tb_http1_response_head_size(const struct tb_http_msg *msg)
{
    return sizeof("HTTP/1.1 000 ") - 1 + msg->reason.len + 2 + headers_size(&msg->headers);
}

char *tb_http1_format_response_head(const struct tb_http_msg *msg, char *out)
{
    int status = msg->status;

    TB_ASSERT(status >= 100 && status <= 999);
    out = put(out, TB_STRLIT("HTTP/1.1 "));
    *out++ = (char)('0' + status / 100);
    *out++ = (char)('0' + status / 10 % 10);
    *out++ = (char)('0' + status % 10);
    *out++ = ' ';
    out = put(out, msg->reason.base, msg->reason.len);
    out = put(out, TB_STRLIT("\r\n"));
    return format_headers(&msg->headers, out);
}
