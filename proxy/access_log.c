/* SPDX-License-Identifier: MIT
 * Access log lines and the per-worker writer. A format, JSON or template, is
 * compiled once into literal and variable parts; a line is those parts in
 * order, values escaped with the span encoders' JSON escaping (spans/json.h).
 * The writer appends lines to its buffer and hands whole lines to write(2).
 */
#include "proxy/access_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/reason.h"
#include "parsers/http1.h"
#include "parsers/lex.h"
#include "propagators/policy.h"
#include "propagators/propagator.h"
#include "proxy/config.h"
#include "proxy/hop.h"
#include "proxy/log.h"
#include "spans/buf.h"
#include "spans/json.h"

/* ------------------------------------------------------------------------ */
/* Fields                                                                    */

/* The fields of docs/access-log.md, in the order of the JSON line. The names
 * are the JSON keys and the template variables: never rename one. */
enum alog_field {
    ALOG_TIME,
    ALOG_TRACE_ID,
    ALOG_SPAN_ID,
    ALOG_PARENT_ID,
    ALOG_SAMPLED,
    ALOG_EXTRACTED,
    ALOG_INJECTED,
    ALOG_LISTENER,
    ALOG_ROUTE,
    ALOG_CLIENT,
    ALOG_METHOD,
    ALOG_PATH,
    ALOG_PROTOCOL,
    ALOG_STATUS,
    ALOG_DURATION_MS,
    ALOG_UPSTREAM_DURATION_MS,
    ALOG_BYTES_RECEIVED,
    ALOG_BYTES_SENT,
    ALOG_ERROR,
    ALOG_UPSTREAM,
    ALOG_NUM_FIELDS,
    ALOG_LITERAL = ALOG_NUM_FIELDS, /* a part that is template text */
};

static const char *const alog_field_names[ALOG_NUM_FIELDS] = {
    "time",           "trace_id",   "span_id",     "parent_id",
    "sampled",        "extracted",  "injected",    "listener",
    "route",          "client",     "method",      "path",
    "protocol",       "status",     "duration_ms", "upstream_duration_ms",
    "bytes_received", "bytes_sent", "error",       "upstream",
};

struct alog_part {
    uint32_t field; /* enum alog_field, or ALOG_LITERAL */
    uint32_t off;   /* literal: its bytes in tb_access_format.text */
    uint32_t len;
};

struct tb_access_format {
    bool json;               /* values as JSON (quoted strings, null), else as template text */
    char *text;              /* owned: the literals' bytes */
    struct alog_part *parts; /* owned */
    size_t num_parts;
    /* `time` changes second rarely compared with lines: gmtime_r once per
     * second, not once per line. */
    int64_t cached_sec; /* -1: nothing cached */
    char cached_time[32];
};

static int alog_is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int alog_field_find(const char *name, size_t len)
{
    for (int f = 0; f < ALOG_NUM_FIELDS; f++)
        if (strlen(alog_field_names[f]) == len && memcmp(alog_field_names[f], name, len) == 0)
            return f;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */

static void alog_put_u64(struct tb_buf *out, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof(tmp);

    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    tb_buf_append(out, tmp + n, sizeof(tmp) - n);
}

/* Milliseconds with microsecond precision ("12.345"), from nanoseconds. */
static void alog_put_ms(struct tb_buf *out, uint64_t ns)
{
    uint64_t us = ns / 1000;
    char frac[4] = {'.', (char)('0' + us % 1000 / 100), (char)('0' + us % 100 / 10),
                    (char)('0' + us % 10)};

    alog_put_u64(out, us / 1000);
    tb_buf_append(out, frac, sizeof(frac));
}

static void alog_put_string(struct tb_buf *out, const char *s, size_t len, bool json)
{
    if (json)
        tb_buf_append_byte(out, '"');
    tb_json_escape(out, s, len);
    if (json)
        tb_buf_append_byte(out, '"');
}

/* An id as lower-case hex, or "" when it is all zero (absent). */
static void alog_put_id(struct tb_buf *out, const uint8_t *id, size_t n, bool json)
{
    char hex[32];

    if (json)
        tb_buf_append_byte(out, '"');
    if (!tb_is_zero(id, n)) {
        tb_hex_encode(id, n, hex);
        tb_buf_append(out, hex, 2 * n);
    }
    if (json)
        tb_buf_append_byte(out, '"');
}

static void alog_put_null(struct tb_buf *out, bool json)
{
    /* Templates say "-" for a missing value, as nginx does. */
    if (json)
        tb_buf_append(out, "null", 4);
    else
        tb_buf_append_byte(out, '-');
}

/* RFC 3339 UTC with milliseconds: 2023-11-14T22:13:20.123Z. */
static void alog_put_time(struct tb_access_format *fmt, struct tb_buf *out, uint64_t ns, bool json)
{
    int64_t sec = (int64_t)(ns / 1000000000u);
    unsigned ms = (unsigned)(ns % 1000000000u / 1000000u);
    char frac[6] = {
        '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z', '"'};

    if (sec != fmt->cached_sec) {
        time_t t = (time_t)sec;
        struct tm tm;

        if (gmtime_r(&t, &tm) == NULL)
            memset(&tm, 0, sizeof(tm));
        if (strftime(fmt->cached_time, sizeof(fmt->cached_time), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            fmt->cached_time[0] = '\0';
        fmt->cached_sec = sec;
    }
    if (json)
        tb_buf_append_byte(out, '"');
    tb_buf_append_str(out, fmt->cached_time);
    tb_buf_append(out, frac, json ? 6 : 5);
}

/* ip:port, [v6]:port. */
static void alog_put_client(struct tb_buf *out, const struct sockaddr *sa, bool json)
{
    char ip[INET6_ADDRSTRLEN] = "";
    unsigned port = 0;
    bool v6 = false;

    if (json)
        tb_buf_append_byte(out, '"');
    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        port = ntohs(v4->sin_port);
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
        v6 = true;
    }
    if (ip[0] != '\0') {
        if (v6)
            tb_buf_append_byte(out, '[');
        tb_buf_append_str(out, ip);
        tb_buf_append(out, v6 ? "]:" : ":", v6 ? 2 : 1);
        alog_put_u64(out, port);
    }
    if (json)
        tb_buf_append_byte(out, '"');
}

static void alog_put_injected(struct tb_buf *out, const struct tb_access_record *r, bool json)
{
    if (json)
        tb_buf_append_byte(out, '[');
    for (size_t i = 0; i < r->num_injected; i++) {
        if (i > 0)
            tb_buf_append_byte(out, ',');
        if (json)
            tb_buf_append_byte(out, '"');
        tb_buf_append_str(out, tb_propagator_get(r->injected[i])->name);
        if (json)
            tb_buf_append_byte(out, '"');
    }
    if (json)
        tb_buf_append_byte(out, ']');
}

static void alog_put_field(struct tb_access_format *fmt, struct tb_buf *out, enum alog_field f,
                           const struct tb_access_record *r)
{
    bool json = fmt->json;

    switch (f) {
    case ALOG_TIME:
        alog_put_time(fmt, out, r->start_ns, json);
        return;
    case ALOG_TRACE_ID:
        alog_put_id(out, r->trace_id, sizeof(r->trace_id), json);
        return;
    case ALOG_SPAN_ID:
        alog_put_id(out, r->span_id, sizeof(r->span_id), json);
        return;
    case ALOG_PARENT_ID:
        alog_put_id(out, r->parent_id, sizeof(r->parent_id), json);
        return;
    case ALOG_SAMPLED:
        tb_buf_append_str(out, r->sampled ? "true" : "false");
        return;
    case ALOG_EXTRACTED: {
        const char *name = r->extracted >= 0 && r->extracted < (int)TB_FORMAT_NUM
                               ? tb_propagator_get((enum tb_format)r->extracted)->name
                               : "";

        alog_put_string(out, name, strlen(name), json);
        return;
    }
    case ALOG_INJECTED:
        alog_put_injected(out, r, json);
        return;
    case ALOG_LISTENER:
        alog_put_string(out, r->listener.base, r->listener.len, json);
        return;
    case ALOG_ROUTE:
        alog_put_string(out, r->route.base, r->route.len, json);
        return;
    case ALOG_CLIENT:
        alog_put_client(out, r->client, json);
        return;
    case ALOG_METHOD:
        alog_put_string(out, r->method.base, r->method.len, json);
        return;
    case ALOG_PATH:
        alog_put_string(out, r->path.base, r->path.len, json);
        return;
    case ALOG_PROTOCOL: {
        char proto[10] = {'"',
                          'H',
                          'T',
                          'T',
                          'P',
                          '/',
                          (char)('0' + r->version_major % 10),
                          '.',
                          (char)('0' + r->version_minor % 10),
                          '"'};

        tb_buf_append(out, json ? proto : proto + 1, json ? 10 : 8);
        return;
    }
    case ALOG_STATUS:
        alog_put_u64(out, r->status > 0 ? (uint64_t)r->status : 0);
        return;
    case ALOG_DURATION_MS:
        alog_put_ms(out, r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0);
        return;
    case ALOG_UPSTREAM_DURATION_MS:
        if (r->upstream_start_ns == 0)
            alog_put_null(out, json);
        else
            alog_put_ms(out,
                        r->end_ns > r->upstream_start_ns ? r->end_ns - r->upstream_start_ns : 0);
        return;
    case ALOG_BYTES_RECEIVED:
        alog_put_u64(out, r->bytes_received);
        return;
    case ALOG_BYTES_SENT:
        alog_put_u64(out, r->bytes_sent);
        return;
    case ALOG_ERROR:
        alog_put_string(out, r->error != NULL ? r->error : "",
                        r->error != NULL ? strlen(r->error) : 0, json);
        return;
    case ALOG_UPSTREAM:
        alog_put_client(out, r->upstream, json);
        return;
    case ALOG_NUM_FIELDS:
        break;
    }
    tb_bug("illegal access log field");
}

/* ------------------------------------------------------------------------ */
/* Formats                                                                   */

static void alog_why(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void alog_why(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
}

static void alog_add_part(struct alog_part *parts, size_t *num, uint32_t field, size_t off,
                          size_t len)
{
    if (parts != NULL)
        parts[*num] = (struct alog_part){field, (uint32_t)off, (uint32_t)len};
    (*num)++;
}

/* Parses `tmpl` into parts (when `parts` is not NULL) and counts them.
 * Returns 0, or -1 with `why` set. */
static int alog_parse_template(const char *tmpl, struct alog_part *parts, size_t *num, char *why,
                               size_t why_size)
{
    size_t i = 0;

    *num = 0;
    if (tmpl[0] == '\0') {
        alog_why(why, why_size, "the access log template is empty");
        return -1;
    }
    if (strlen(tmpl) > UINT32_MAX / 2) {
        alog_why(why, why_size, "the access log template is too long");
        return -1;
    }
    while (tmpl[i] != '\0') {
        size_t start = i, name, name_len;
        int f;

        while (tmpl[i] != '\0' && tmpl[i] != '$') {
            unsigned char c = (unsigned char)tmpl[i];

            /* A raw newline would split a request over two lines. */
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                alog_why(why, why_size,
                         "control character 0x%02x at offset %zu of the access log template", c, i);
                return -1;
            }
            i++;
        }
        if (i > start)
            alog_add_part(parts, num, ALOG_LITERAL, start, i - start);
        if (tmpl[i] == '\0')
            break;
        if (tmpl[i + 1] == '$') {
            alog_add_part(parts, num, ALOG_LITERAL, i + 1, 1);
            i += 2;
            continue;
        }
        if (tmpl[i + 1] == '{') {
            name = i + 2;
            for (i = name; alog_is_name_char(tmpl[i]); i++)
                ;
            name_len = i - name;
            if (tmpl[i] != '}' || name_len == 0) {
                alog_why(why, why_size,
                         "'${' at offset %zu of the access log template needs a variable name "
                         "and '}'",
                         name - 2);
                return -1;
            }
            i++;
        } else {
            name = i + 1;
            for (i = name; alog_is_name_char(tmpl[i]); i++)
                ;
            name_len = i - name;
            if (name_len == 0) {
                alog_why(why, why_size,
                         "'$' at offset %zu of the access log template is not followed by a "
                         "variable name (write $$ for a '$')",
                         name - 1);
                return -1;
            }
        }
        f = alog_field_find(tmpl + name, name_len);
        if (f < 0) {
            alog_why(why, why_size,
                     "unknown variable '$%.*s' in the access log template (the variables are "
                     "the JSON keys of docs/access-log.md)",
                     (int)(name_len > 64 ? 64 : name_len), tmpl + name);
            return -1;
        }
        alog_add_part(parts, num, (uint32_t)f, 0, 0);
    }
    return 0;
}

/* The JSON line as parts: `{"time":` value `,"trace_id":` value ... `}`. */
static void alog_build_json(struct tb_access_format *fmt)
{
    struct tb_buf text = {0};

    fmt->parts = tb_xcalloc(2 * ALOG_NUM_FIELDS + 1, sizeof(*fmt->parts));
    for (uint32_t f = 0; f < ALOG_NUM_FIELDS; f++) {
        size_t off = text.len;

        tb_buf_append_str(&text, f == 0 ? "{\"" : ",\"");
        tb_buf_append_str(&text, alog_field_names[f]);
        tb_buf_append_str(&text, "\":");
        alog_add_part(fmt->parts, &fmt->num_parts, ALOG_LITERAL, off, text.len - off);
        alog_add_part(fmt->parts, &fmt->num_parts, f, 0, 0);
    }
    alog_add_part(fmt->parts, &fmt->num_parts, ALOG_LITERAL, text.len, 1);
    tb_buf_append_byte(&text, '}');
    fmt->text = text.data;
}

struct tb_access_format *tb_access_format_new(const char *tmpl, char *why, size_t why_size)
{
    struct tb_access_format *fmt;
    size_t num;

    if (tmpl != NULL && alog_parse_template(tmpl, NULL, &num, why, why_size) != 0)
        return NULL;
    fmt = tb_xcalloc(1, sizeof(*fmt));
    fmt->cached_sec = -1;
    if (tmpl == NULL) {
        fmt->json = true;
        alog_build_json(fmt);
        return fmt;
    }
    fmt->text = tb_xmalloc(strlen(tmpl) + 1);
    memcpy(fmt->text, tmpl, strlen(tmpl) + 1);
    fmt->parts = tb_xcalloc(num, sizeof(*fmt->parts));
    if (alog_parse_template(tmpl, fmt->parts, &fmt->num_parts, why, why_size) != 0)
        tb_bug("a template that parsed once must parse again");
    return fmt;
}

void tb_access_format_free(struct tb_access_format *fmt)
{
    if (fmt == NULL)
        return;
    tb_free(fmt->text);
    tb_free(fmt->parts);
    tb_free(fmt);
}

void tb_access_format_line(struct tb_access_format *fmt, const struct tb_access_record *rec,
                           struct tb_buf *out)
{
    for (size_t i = 0; i < fmt->num_parts; i++) {
        const struct alog_part *p = &fmt->parts[i];

        if (p->field == ALOG_LITERAL)
            tb_buf_append(out, fmt->text + p->off, p->len);
        else
            alog_put_field(fmt, out, (enum alog_field)p->field, rec);
    }
    tb_buf_append_byte(out, '\n');
}

int tb_access_log_template_check(const char *tmpl, char *why, size_t why_size)
{
    size_t num;

    return alog_parse_template(tmpl, NULL, &num, why, why_size) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* The writer                                                                */

/* One minute between two reports of failed writes. */
#define ALOG_REPORT_INTERVAL_MS 60000

struct tb_access_log {
    struct tb_access_format *fmt;
    int fd;
    bool own_fd;         /* false for standard output */
    size_t atomic_max;   /* largest write that keeps lines whole: PIPE_BUF on a pipe or socket */
    size_t buffer_size;  /* 0: one write(2) per line */
    struct event *timer; /* flush timer; NULL without a buffer or a base */
    bool timer_armed;
    struct timeval flush_tv;
    struct tb_buf out;    /* whole lines waiting for write(2) */
    size_t pending_lines; /* lines in `out` */
    unsigned worker_id;
    char path[512];
    struct tb_access_log_stats stats;
    bool reported;           /* a failure was reported at `last_report_ms` */
    uint64_t last_report_ms; /* monotonic */
};

bool tb_access_log_enabled(const struct tb_config *cfg)
{
    return cfg->access_log[0] != '\0' && strcmp(cfg->access_log, "off") != 0;
}

static uint64_t alog_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int alog_open_target(const char *path, bool *own, char *why, size_t why_size)
{
    int fd;

    *own = false;
    if (strcmp(path, "-") == 0)
        return STDOUT_FILENO;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        char err[128];

        if (strerror_r(errno, err, sizeof(err)) != 0)
            snprintf(err, sizeof(err), "error %d", errno);
        alog_why(why, why_size, "cannot open the access log '%s': %s", path, err);
        return -1;
    }
    *own = true;
    return fd;
}

static struct tb_access_format *alog_format_of(const struct tb_config *cfg, char *why,
                                               size_t why_size)
{
    return tb_access_format_new(
        cfg->access_log_format == TB_ACCESS_LOG_TEMPLATE ? cfg->access_log_template : NULL, why,
        why_size);
}

int tb_access_log_check_config(const struct tb_config *cfg, char *why, size_t why_size)
{
    bool own;
    int fd;

    if (cfg->access_log_format == TB_ACCESS_LOG_TEMPLATE &&
        tb_access_log_template_check(cfg->access_log_template, why, why_size) != 0)
        return TB_EINVAL;
    if (!tb_access_log_enabled(cfg))
        return TB_OK;
    fd = alog_open_target(cfg->access_log, &own, why, why_size);
    if (fd == -1)
        return TB_EIO;
    if (own)
        close(fd);
    return TB_OK;
}

static void alog_report(struct tb_access_log *log, int err)
{
    uint64_t now = alog_now_ms();
    char msg[128] = "short write";

    if (log->reported && now - log->last_report_ms < ALOG_REPORT_INTERVAL_MS)
        return;
    log->reported = true;
    log->last_report_ms = now;
    if (err != 0 && strerror_r(err, msg, sizeof(msg)) != 0)
        snprintf(msg, sizeof(msg), "error %d", err);
    tb_log(TB_LOG_ERROR, "access_log_write_failed",
           " worker=%u path=\"%s\" error=\"%s\" write_errors=%llu lines_dropped=%llu "
           "next_report_in_s=%u",
           log->worker_id, log->path, msg, (unsigned long long)log->stats.write_errors,
           (unsigned long long)log->stats.lines_dropped, ALOG_REPORT_INTERVAL_MS / 1000);
}

static size_t alog_count_lines(const char *p, size_t len)
{
    size_t n = 0;
    const char *nl;

    while (len > 0 && (nl = memchr(p, '\n', len)) != NULL) {
        n++;
        len -= (size_t)(nl + 1 - p);
        p = nl + 1;
    }
    return n;
}

/* Writes `len` bytes of whole lines (`lines` of them) with one write(2):
 * another worker's write to the same file never lands inside them. */
static void alog_write_lines(struct tb_access_log *log, const char *p, size_t len, size_t lines)
{
    ssize_t n;
    int err = 0;

    do {
        n = write(log->fd, p, len);
    } while (n == -1 && errno == EINTR);
    if (n == (ssize_t)len)
        return;
    if (n == -1) {
        err = errno;
        log->stats.lines_dropped += lines;
    } else {
        /* Short (a full disk): the rest is not sent in a second write,
         * which could land after another worker's line; the cut line is
         * ended so the next one starts whole. */
        log->stats.lines_dropped += lines - alog_count_lines(p, (size_t)n);
        if (n > 0 && write(log->fd, "\n", 1) != 1)
            err = errno;
    }
    log->stats.write_errors++;
    alog_report(log, err);
}

/* Writes every buffered line, in pieces of whole lines no longer than
 * `atomic_max` where the target only keeps that much in one piece. */
static void alog_flush_out(struct tb_access_log *log)
{
    const char *p = log->out.data;
    size_t left = log->out.len;

    if (left <= log->atomic_max) {
        if (left > 0)
            alog_write_lines(log, p, left, log->pending_lines);
    } else {
        while (left > 0) {
            size_t chunk = left;

            if (left > log->atomic_max) {
                /* The last newline that fits; a longer line goes alone. */
                const char *nl = NULL;

                for (size_t i = log->atomic_max; i > 0 && nl == NULL; i--)
                    if (p[i - 1] == '\n')
                        nl = p + i - 1;
                if (nl == NULL)
                    nl = memchr(p + log->atomic_max, '\n', left - log->atomic_max);
                chunk = nl != NULL ? (size_t)(nl + 1 - p) : left;
            }
            alog_write_lines(log, p, chunk, alog_count_lines(p, chunk));
            p += chunk;
            left -= chunk;
        }
    }
    log->out.len = 0;
    log->pending_lines = 0;
}

static void alog_on_timer(evutil_socket_t fd, short events, void *arg)
{
    struct tb_access_log *log = arg;

    (void)fd;
    (void)events;
    log->timer_armed = false;
    alog_flush_out(log);
}

int tb_access_log_open(struct tb_access_log **out, struct event_base *base,
                       const struct tb_config *cfg, unsigned worker_id, char *why, size_t why_size)
{
    struct tb_access_log *log;
    struct tb_access_format *fmt;
    struct stat st;
    bool own;
    int fd;

    *out = NULL;
    if (!tb_access_log_enabled(cfg))
        return TB_OK;
    fmt = alog_format_of(cfg, why, why_size);
    if (fmt == NULL)
        return TB_EINVAL;
    fd = alog_open_target(cfg->access_log, &own, why, why_size);
    if (fd == -1) {
        tb_access_format_free(fmt);
        return TB_EIO;
    }
    log = tb_xcalloc(1, sizeof(*log));
    log->fmt = fmt;
    log->fd = fd;
    log->own_fd = own;
    log->worker_id = worker_id;
    snprintf(log->path, sizeof(log->path), "%s", cfg->access_log);
    /* POSIX keeps a write whole on a pipe up to PIPE_BUF bytes only; a
     * regular file opened O_APPEND keeps any write whole. */
    log->atomic_max = SIZE_MAX;
    if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        log->atomic_max = PIPE_BUF;
    log->buffer_size = cfg->access_log_buffer;
    log->flush_tv.tv_sec = (time_t)(cfg->access_log_flush_ms / 1000);
    log->flush_tv.tv_usec = (suseconds_t)(cfg->access_log_flush_ms % 1000 * 1000);
    if (log->buffer_size > 0 && base != NULL)
        log->timer = evtimer_new(base, alog_on_timer, log);
    /* Room for the buffer and a typical line, so requests do not allocate. */
    tb_buf_reserve(&log->out, log->buffer_size + 4096);
    *out = log;
    return TB_OK;
}

int tb_access_log_reopen(struct tb_access_log **log, struct event_base *base,
                         const struct tb_config *cfg, unsigned worker_id, char *why,
                         size_t why_size)
{
    struct tb_access_log *fresh;
    int ret = tb_access_log_open(&fresh, base, cfg, worker_id, why, why_size);

    if (ret != TB_OK)
        return ret;
    tb_access_log_close(*log);
    *log = fresh;
    return TB_OK;
}

void tb_access_log_write(struct tb_access_log *log, const struct tb_access_record *rec)
{
    size_t start = log->out.len;

    tb_access_format_line(log->fmt, rec, &log->out);
    log->stats.lines++;
    if (log->buffer_size == 0) {
        alog_write_lines(log, log->out.data, log->out.len, 1);
        log->out.len = 0;
        return;
    }
    if (log->out.len > log->buffer_size && start > 0) {
        /* The new line does not fit: the lines before it go first. */
        size_t line_len = log->out.len - start;

        log->out.len = start;
        alog_flush_out(log);
        memmove(log->out.data, log->out.data + start, line_len);
        log->out.len = line_len;
    }
    log->pending_lines++;
    if (log->out.len >= log->buffer_size) {
        alog_flush_out(log);
        return;
    }
    if (log->timer != NULL && !log->timer_armed) {
        /* Armed by the first line of an empty buffer, so no line waits
         * longer than the flush interval, and an idle worker has no timer. */
        evtimer_add(log->timer, &log->flush_tv);
        log->timer_armed = true;
    }
}

void tb_access_log_request(struct tb_access_log *log, const struct tb_http_msg *req,
                           const struct tb_hop_state *hop, const struct tb_hop_outcome *outcome,
                           const struct tb_listener_config *listener,
                           const struct tb_route_config *route)
{
    /* No policy (a hand-made hop state): registry order. */
    static const struct tb_prop_policy no_policy;
    struct tb_access_record rec;

    memset(&rec, 0, sizeof(rec));
    rec.start_ns = outcome->start_ns;
    rec.end_ns = outcome->end_ns;
    rec.upstream_start_ns = outcome->upstream_reached ? outcome->upstream_start_ns : 0;
    rec.extracted = -1;
    if (hop != NULL) {
        /* The same bytes the span and the injected headers carry. */
        memcpy(rec.trace_id, hop->ext.ctx.trace_id, sizeof(rec.trace_id));
        memcpy(rec.span_id, hop->hop.span_id, sizeof(rec.span_id));
        memcpy(rec.parent_id, hop->ext.ctx.span_id, sizeof(rec.parent_id));
        rec.sampled = hop->sampled;
        rec.extracted = hop->ext.winner;
        rec.num_injected = tb_prop_inject_order(hop->policy != NULL ? hop->policy : &no_policy,
                                                hop->injected, rec.injected);
    }
    if (listener != NULL)
        rec.listener = (struct tb_iov){listener->name, strlen(listener->name)};
    if (route != NULL)
        rec.route = (struct tb_iov){route->name, strlen(route->name)};
    rec.client = outcome->client;
    rec.upstream = outcome->upstream_reached ? outcome->upstream : NULL;
    rec.method = req->method;
    rec.path = req->target;
    rec.version_major = req->version_major;
    rec.version_minor = req->version_minor;
    rec.status = outcome->status;
    rec.bytes_received = outcome->request_body_bytes;
    rec.bytes_sent = outcome->response_body_bytes;
    rec.error = outcome->proxy_error != NULL ? outcome->proxy_error->code : NULL;
    tb_access_log_write(log, &rec);
}

void tb_access_log_flush(struct tb_access_log *log)
{
    alog_flush_out(log);
}

void tb_access_log_get_stats(const struct tb_access_log *log, struct tb_access_log_stats *out)
{
    *out = log->stats;
}

void tb_access_log_close(struct tb_access_log *log)
{
    if (log == NULL)
        return;
    alog_flush_out(log);
    if (log->stats.lines_dropped != 0)
        tb_log(TB_LOG_WARN, "access_log_lost",
               " worker=%u path=\"%s\" lines=%llu lines_dropped=%llu write_errors=%llu",
               log->worker_id, log->path, (unsigned long long)log->stats.lines,
               (unsigned long long)log->stats.lines_dropped,
               (unsigned long long)log->stats.write_errors);
    if (log->timer != NULL)
        event_free(log->timer);
    if (log->own_fd)
        close(log->fd);
    tb_access_format_free(log->fmt);
    tb_buf_free(&log->out);
    tb_free(log);
}
