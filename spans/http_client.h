/* SPDX-License-Identifier: MIT
 * A minimal asynchronous HTTP/1.1 POST client for the exporters, on
 * libevent's evhttp client: one keep-alive connection to one endpoint, one
 * request at a time, a per-request timeout, and the facts the retry policy
 * needs (status, Retry-After). It runs on the exporter thread's event base.
 * It does not retry, queue, or speak TLS (http:// only).
 */
#ifndef TB_SPANS_HTTP_CLIENT_H
#define TB_SPANS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;
struct tb_export_header;
struct tb_http_client;

/* How one POST ended. */
struct tb_http_result {
    int status; /* the HTTP status; 0 when no response came (connect error, reset, timeout) */
    int64_t retry_after_ms; /* Retry-After of the response in ms, -1 when absent or unparsable */
};

/** Called once per tb_http_client_post that returned TB_OK, unless cancelled. */
typedef void (*tb_http_client_done_cb)(const struct tb_http_result *result, void *arg);

/**
 * Creates a client for `url` (http://host[:port][/path][?query]) on `base`.
 * Nothing connects until the first post. `timeout_ms` bounds each request
 * (connect, write and read inactivity). Returns NULL and writes a reason
 * naming the URL to `err` (`err_size` bytes) when the URL does not parse, is
 * not http (https is refused: no TLS yet) or has no host. Allocates; free
 * with tb_http_client_free.
 */
struct tb_http_client *tb_http_client_new(struct event_base *base, const char *url,
                                          uint64_t timeout_ms, char *err, size_t err_size);

/**
 * Cancels the request in flight (its callback is not called), closes the
 * connection and frees `c`. `c` may be NULL.
 */
void tb_http_client_free(struct tb_http_client *c);

/**
 * Starts a POST of `body[0..body_len)` (copied: the caller may free it at
 * once) with Content-Type `content_type`, Content-Encoding
 * `content_encoding` unless NULL, and the `num_headers` extra `headers`.
 * `done` is called from the event loop when the request ends, never from
 * inside this call. Returns TB_OK, or TB_EIO when a request is already in
 * flight or libevent refuses the request (then `done` is not called).
 */
int tb_http_client_post(struct tb_http_client *c, const char *content_type,
                        const char *content_encoding, const struct tb_export_header *headers,
                        size_t num_headers, const void *body, size_t body_len,
                        tb_http_client_done_cb done, void *arg);

/** True while a request is in flight. */
bool tb_http_client_is_busy(const struct tb_http_client *c);

/** Cancels the request in flight, if any, without calling its callback. */
void tb_http_client_cancel(struct tb_http_client *c);

/**
 * Parses a Retry-After value (RFC 9110 §10.2.3): delta-seconds, or an
 * IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") compared with `now`.
 * Returns the wait in ms (0 for a date in the past), or -1 when `value` is
 * NULL or malformed. Pure; never allocates.
 */
int64_t tb_http_parse_retry_after(const char *value, time_t now);

#endif
