/* SPDX-License-Identifier: MIT
 * The access log: one line per request that got a parsed head, as JSON (the
 * stable schema of docs/access-log.md) or as a user template of $variables,
 * to standard output or to a file. Each worker owns one writer and its
 * buffer, so the data path takes no lock; every write(2) carries whole lines
 * only, so O_APPEND keeps lines whole across workers. Rotation is not done
 * here: the reload code calls tb_access_log_reopen after a SIGHUP.
 */
#ifndef TB_PROXY_ACCESS_LOG_H
#define TB_PROXY_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tb.h"
#include "propagators/context.h"

struct event_base;
struct sockaddr;
struct tb_buf;
struct tb_config;
struct tb_hop_outcome;
struct tb_hop_state;
struct tb_http_msg;
struct tb_listener_config;
struct tb_route_config;

/* What one line says. Filled by tb_access_log_request from the connection's
 * state, or by hand in tests. Strings borrow from the caller for the
 * duration of the call that takes the record. */
struct tb_access_record {
    uint64_t start_ns; /* Unix epoch: the request's first byte */
    uint64_t end_ns;   /* Unix epoch: the last response byte, or the proxy's answer or close */
    /* Unix epoch: the request head went to the upstream connection (a new
     * one may still be connecting); 0 when the upstream was not reached. */
    uint64_t upstream_start_ns;
    uint8_t trace_id[16]; /* all zero: none (no hop) */
    uint8_t span_id[8];   /* the hop's span id; all zero: none (no hop) */
    uint8_t parent_id[8]; /* the incoming parent span id; all zero: a root */
    bool sampled;
    int extracted;                          /* enum tb_format of the context continued, or -1 */
    enum tb_format injected[TB_FORMAT_NUM]; /* formats written, in injection order */
    size_t num_injected;
    struct tb_iov listener, route;   /* names; empty when unknown */
    const struct sockaddr *client;   /* AF_INET or AF_INET6; NULL or another family: "" */
    const struct sockaddr *upstream; /* the endpoint used; NULL: none ("") */
    struct tb_iov method, path;      /* as received */
    uint8_t version_major, version_minor;
    int status;                          /* what the client got; 0: no status */
    uint64_t bytes_received, bytes_sent; /* body bytes, framing excluded */
    const char *error;                   /* the proxy's reason code, NULL when none */
};

/* ------------------------------------------------------------------------ */
/* Line formats                                                              */

struct tb_access_format;

/**
 * Compiles a line format once, for every line to come: the JSON schema when
 * `tmpl` is NULL, else the template `tmpl` (NUL-terminated, not retained):
 * `$name` or `${name}` for a field of docs/access-log.md, `$$` for a `$`,
 * anything else copied as it is. Returns the format, owned by the caller
 * (tb_access_format_free), or NULL with `why` (NUL-terminated, truncated to
 * `why_size`) naming the offending variable or character. Allocates.
 */
struct tb_access_format *tb_access_format_new(const char *tmpl, char *why, size_t why_size);

/** Frees `fmt`; NULL is allowed. */
void tb_access_format_free(struct tb_access_format *fmt);

/**
 * Appends the line of `rec`, newline included, to `out`. String values are
 * escaped as in a JSON string (quotes, backslash, control characters) with
 * ill-formed UTF-8 replaced by U+FFFD, in templates too, so a line never
 * holds a raw newline. `fmt` caches the formatted second of `time`, hence not
 * const. Allocates only to grow `out`.
 */
void tb_access_format_line(struct tb_access_format *fmt, const struct tb_access_record *rec,
                           struct tb_buf *out);

/**
 * Checks the template `tmpl` as tb_access_format_new would compile it.
 * Returns 0 when it is valid, else -1 with the reason in `why` (which names
 * an unknown variable, a lone `$`, an unterminated `${`, or a control
 * character). For configuration checks at load time; allocates transiently.
 */
int tb_access_log_template_check(const char *tmpl, char *why, size_t why_size);

/* ------------------------------------------------------------------------ */
/* The per-worker writer                                                     */

struct tb_access_log;

/** Per-writer counters, since it was opened. */
struct tb_access_log_stats {
    uint64_t lines;         /* lines formatted */
    uint64_t lines_dropped; /* lines lost to failed or short writes */
    uint64_t write_errors;  /* write(2) calls that failed or wrote short */
};

/** True when `cfg` turns the access log on (`access_log` neither "" nor "off"). */
bool tb_access_log_enabled(const struct tb_config *cfg);

/**
 * Startup check of `cfg`'s access log: compiles the template and opens the
 * file (creating it) once, then closes it. Returns TB_OK (also when the log
 * is off), TB_EINVAL for a bad template, or TB_EIO when the file cannot be
 * opened; `why` then holds a message for the operator.
 */
int tb_access_log_check_config(const struct tb_config *cfg, char *why, size_t why_size);

/**
 * Opens worker `worker_id`'s writer as `cfg` says, with its flush timer on
 * `base`: sets `*out` to the writer (owned by the caller: tb_access_log_close)
 * or to NULL when the log is off. Nothing of `cfg` is retained. Returns TB_OK,
 * TB_EINVAL (bad template) or TB_EIO (the file cannot be opened), with a
 * message in `why`. Allocates the buffer up front (`access_log_buffer` bytes
 * and room for a line).
 */
int tb_access_log_open(struct tb_access_log **out, struct event_base *base,
                       const struct tb_config *cfg, unsigned worker_id, char *why, size_t why_size);

/**
 * Switches `*log` to what `cfg` says (a new file, path, format, buffer size,
 * or off), for SIGHUP: log rotation reopens the same path. Call it on the
 * worker's thread, from an event callback: no request is between two of its
 * steps then, so no line is cut. The new file and format are prepared first;
 * if that fails `*log` is left as it was and the error is returned as by
 * tb_access_log_open. On success the old writer's buffered lines go to the
 * old file before it is closed, and `*log` is the new writer (NULL when off).
 */
int tb_access_log_reopen(struct tb_access_log **log, struct event_base *base,
                         const struct tb_config *cfg, unsigned worker_id, char *why,
                         size_t why_size);

/**
 * Writes the line of one finished request: `req` is its parsed head, `hop`
 * its trace state (NULL when the proxy answered before the hop got its ids),
 * `outcome` what the connection saw; `listener` and `route` may be NULL.
 * Nothing is retained. Never blocks on a lock; writes at once without a
 * buffer, else when the buffer fills or its timer fires. A failed write is
 * counted and reported at most once a minute (per writer), never fatal.
 */
void tb_access_log_request(struct tb_access_log *log, const struct tb_http_msg *req,
                           const struct tb_hop_state *hop, const struct tb_hop_outcome *outcome,
                           const struct tb_listener_config *listener,
                           const struct tb_route_config *route);

/** Formats and writes (or buffers) the line of `rec`, as tb_access_log_request. */
void tb_access_log_write(struct tb_access_log *log, const struct tb_access_record *rec);

/** Writes the buffered lines now (one write(2), or a few on a pipe). */
void tb_access_log_flush(struct tb_access_log *log);

/** Copies `log`'s counters into `out`. */
void tb_access_log_get_stats(const struct tb_access_log *log, struct tb_access_log_stats *out);

/**
 * Flushes, reports lost lines if there were any, closes the file (never
 * standard output) and frees `log`; NULL is allowed. Call before the event
 * base of its timer is freed.
 */
void tb_access_log_close(struct tb_access_log *log);

#endif
