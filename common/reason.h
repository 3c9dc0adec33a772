/* SPDX-License-Identifier: MIT
 * Why a request ended in an error or a connection closed: one constant per
 * reason, carrying the HTTP status to answer, a stable code for logs and
 * metrics, and a short human text for the response body. Compared by pointer.
 */
#ifndef TB_COMMON_REASON_H
#define TB_COMMON_REASON_H

struct tb_reason {
    int status;       /* HTTP status answered to the client; 0 = close without answering */
    const char *code; /* stable snake_case code, logged as reason=<code> */
    const char *text; /* short explanation sent in the plain-text body */
};

/* Client request rejected while parsing (400 unless noted) */
extern const struct tb_reason tb_reason_bad_request;
extern const struct tb_reason tb_reason_cl_and_te;
extern const struct tb_reason tb_reason_duplicate_content_length;
extern const struct tb_reason tb_reason_bad_transfer_encoding;
extern const struct tb_reason tb_reason_bare_cr;
extern const struct tb_reason tb_reason_bare_lf;
extern const struct tb_reason tb_reason_obs_fold;
extern const struct tb_reason tb_reason_control_char;
extern const struct tb_reason tb_reason_bad_chunk;
extern const struct tb_reason tb_reason_host_missing;
extern const struct tb_reason tb_reason_host_repeated;
extern const struct tb_reason tb_reason_connect_not_supported; /* 405 */
extern const struct tb_reason tb_reason_request_line_too_long; /* 414 */
extern const struct tb_reason tb_reason_header_too_large;      /* 431 */
extern const struct tb_reason tb_reason_header_timeout;        /* 408 */
extern const struct tb_reason tb_reason_body_timeout;          /* 408 */
extern const struct tb_reason tb_reason_request_too_large;     /* 500: arena exhausted */
extern const struct tb_reason tb_reason_no_route;             /* 404: no route matched */
extern const struct tb_reason tb_reason_version_not_supported; /* 505 */

/* Upstream failures (502 / 504) */
extern const struct tb_reason tb_reason_upstream_refused;
extern const struct tb_reason tb_reason_upstream_unreachable;
extern const struct tb_reason tb_reason_upstream_reset;
extern const struct tb_reason tb_reason_upstream_bad_response;
extern const struct tb_reason tb_reason_upstream_header_too_large;
extern const struct tb_reason tb_reason_upstream_connect_timeout;
extern const struct tb_reason tb_reason_upstream_timeout;

/* Closes that answer nothing (status 0) */
extern const struct tb_reason tb_reason_client_closed;
extern const struct tb_reason tb_reason_client_timeout;
extern const struct tb_reason tb_reason_idle_timeout;
extern const struct tb_reason tb_reason_upstream_truncated;
extern const struct tb_reason tb_reason_drain_timeout;
extern const struct tb_reason tb_reason_done;

/** Standard reason phrase for `status` ("Bad Request"), or "Unknown" for others. */
const char *tb_status_phrase(int status);

#endif
