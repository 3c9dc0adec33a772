/* SPDX-License-Identifier: MIT
 * The exporters' POST client (http_client.h) on libevent's evhttp: it keeps
 * one evhttp_connection per endpoint, which libevent keeps alive between
 * requests and reconnects when the peer closed it.
 */
#include "spans/http_client.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/tb.h"
#include "spans/exporter.h"

struct tb_http_client {
    struct evhttp_connection *conn;
    char *host_header;           /* owned: "host" or "host:port" */
    char *request_uri;           /* owned: "/path?query" */
    struct evhttp_request *req;  /* in flight (libevent owns it), or NULL */
    tb_http_client_done_cb done; /* of the request in flight */
    void *done_arg;
};

static char *client_strdup(const char *s)
{
    size_t len = strlen(s);
    char *copy = tb_xmalloc(len + 1);

    memcpy(copy, s, len + 1);
    return copy;
}

struct tb_http_client *tb_http_client_new(struct event_base *base, const char *url,
                                          uint64_t timeout_ms, char *err, size_t err_size)
{
    struct evhttp_uri *uri = evhttp_uri_parse(url);
    struct tb_http_client *c = NULL;
    const char *scheme, *host, *path, *query;
    char connect_host[256];
    size_t host_len;
    int port;
    struct timeval tv;

    if (uri == NULL) {
        snprintf(err, err_size, "cannot parse URL \"%s\"", url);
        goto fail;
    }
    scheme = evhttp_uri_get_scheme(uri);
    if (scheme != NULL && strlen(scheme) == 5 && tb_memcaseeq(scheme, "https", 5)) {
        snprintf(err, err_size,
                 "\"%s\": https is not supported yet (no TLS for exporters): use "
                 "http://",
                 url);
        goto fail;
    }
    if (scheme == NULL || strlen(scheme) != 4 || !tb_memcaseeq(scheme, "http", 4)) {
        snprintf(err, err_size, "\"%s\": not an http:// URL", url);
        goto fail;
    }
    host = evhttp_uri_get_host(uri);
    host_len = host != NULL ? strlen(host) : 0;
    if (host_len == 0 || host_len >= sizeof(connect_host)) {
        snprintf(err, err_size, "\"%s\": no host", url);
        goto fail;
    }
    /* An IPv6 literal keeps its brackets in Host (RFC 9110 §7.2) but not in
     * the address we connect to. */
    if (host[0] == '[' && host[host_len - 1] == ']') {
        memcpy(connect_host, host + 1, host_len - 2);
        connect_host[host_len - 2] = '\0';
    } else {
        memcpy(connect_host, host, host_len + 1);
    }
    port = evhttp_uri_get_port(uri);
    if (port == 0 || port > 65535) {
        snprintf(err, err_size, "\"%s\": bad port", url);
        goto fail;
    }

    c = tb_xcalloc(1, sizeof(*c));
    {
        char buf[300];

        if (port < 0)
            snprintf(buf, sizeof(buf), "%s", host);
        else
            snprintf(buf, sizeof(buf), "%s:%d", host, port);
        c->host_header = client_strdup(buf);
    }
    path = evhttp_uri_get_path(uri);
    query = evhttp_uri_get_query(uri);
    if (path == NULL || path[0] == '\0')
        path = "/";
    {
        size_t path_len = strlen(path), query_len = query != NULL ? strlen(query) : 0;

        c->request_uri = tb_xmalloc(path_len + 1 + query_len + 1);
        memcpy(c->request_uri, path, path_len);
        if (query != NULL) {
            c->request_uri[path_len] = '?';
            memcpy(c->request_uri + path_len + 1, query, query_len + 1);
        } else {
            c->request_uri[path_len] = '\0';
        }
    }
    /* No dns base: a host name is resolved with getaddrinfo on the exporter
     * thread, which blocks only that thread. */
    c->conn = evhttp_connection_base_new(base, NULL, connect_host,
                                         (unsigned short)(port < 0 ? 80 : port));
    if (c->conn == NULL) {
        snprintf(err, err_size, "\"%s\": cannot create an HTTP connection", url);
        goto fail;
    }
    tv.tv_sec = (time_t)(timeout_ms / 1000);
    tv.tv_usec = (suseconds_t)(timeout_ms % 1000 * 1000);
    evhttp_connection_set_timeout_tv(c->conn, &tv);
    /* Retries are the pipeline's (with backoff and counting), never libevent's. */
    evhttp_connection_set_retries(c->conn, 0);
    evhttp_uri_free(uri);
    return c;

fail:
    if (uri != NULL)
        evhttp_uri_free(uri);
    tb_http_client_free(c);
    return NULL;
}

void tb_http_client_free(struct tb_http_client *c)
{
    if (c == NULL)
        return;
    tb_http_client_cancel(c);
    if (c->conn != NULL)
        evhttp_connection_free(c->conn);
    tb_free(c->host_header);
    tb_free(c->request_uri);
    tb_free(c);
}

void tb_http_client_cancel(struct tb_http_client *c)
{
    if (c->req == NULL)
        return;
    /* libevent frees the request and does not call it back. */
    evhttp_cancel_request(c->req);
    c->req = NULL;
}

bool tb_http_client_is_busy(const struct tb_http_client *c)
{
    return c->req != NULL;
}

/* libevent calls this with `req` NULL, or with status 0, when no response
 * came; it frees `req` after we return. */
static void client_on_done(struct evhttp_request *req, void *arg)
{
    struct tb_http_client *c = arg;
    struct tb_http_result result = {.status = 0, .retry_after_ms = -1};

    c->req = NULL;
    if (req != NULL)
        result.status = evhttp_request_get_response_code(req);
    if (result.status != 0) {
        const char *retry_after =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Retry-After");

        result.retry_after_ms = tb_http_parse_retry_after(retry_after, time(NULL));
    }
    c->done(&result, c->done_arg);
}

int tb_http_client_post(struct tb_http_client *c, const char *content_type,
                        const char *content_encoding, const struct tb_export_header *headers,
                        size_t num_headers, const void *body, size_t body_len,
                        tb_http_client_done_cb done, void *arg)
{
    struct evhttp_request *req;
    struct evkeyvalq *out;
    char length[24];

    if (c->req != NULL)
        return TB_EIO;
    req = evhttp_request_new(client_on_done, c);
    if (req == NULL)
        return TB_EIO;
    out = evhttp_request_get_output_headers(req);
    snprintf(length, sizeof(length), "%zu", body_len);
    /* The configured headers go first so that ours win on a clash: a wrong
     * Content-Length or Host would break the connection, not just the batch. */
    for (size_t i = 0; i < num_headers; i++)
        evhttp_add_header(out, headers[i].name, headers[i].value);
    evhttp_remove_header(out, "Host");
    evhttp_remove_header(out, "Content-Length");
    evhttp_remove_header(out, "Content-Type");
    evhttp_remove_header(out, "Content-Encoding");
    evhttp_add_header(out, "Host", c->host_header);
    evhttp_add_header(out, "User-Agent", "tracebridge/" TB_VERSION);
    evhttp_add_header(out, "Content-Type", content_type);
    if (content_encoding != NULL)
        evhttp_add_header(out, "Content-Encoding", content_encoding);
    evhttp_add_header(out, "Content-Length", length);
    if (body_len > 0 && evbuffer_add(evhttp_request_get_output_buffer(req), body, body_len) != 0) {
        evhttp_request_free(req);
        return TB_EIO;
    }
    /* On failure libevent has already freed the request. */
    if (evhttp_make_request(c->conn, req, EVHTTP_REQ_POST, c->request_uri) != 0)
        return TB_EIO;
    c->req = req;
    c->done = done;
    c->done_arg = arg;
    return TB_OK;
}

/* ------------------------------------------------------------------------ */
/* Retry-After                                                              */

/* Reads exactly `n` digits at `*p`; returns -1 unless they are all digits. */
static int parse_digits(const char **p, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];

        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    return v;
}

static int expect(const char **p, const char *lit)
{
    size_t n = strlen(lit);

    if (strncmp(*p, lit, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* IMF-fixdate (RFC 9110 §5.6.7), the only HTTP-date form senders may
 * generate; the obsolete RFC 850 and asctime forms are refused. */
static int64_t parse_imf_fixdate(const char *p, const char *end, time_t now)
{
    static const char days[7][4] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    int day, year, hour, min, sec, mon = -1;
    time_t t;
    size_t i;

    if (end - p != 29)
        return -1;
    for (i = 0; i < 7; i++)
        if (memcmp(p, days[i], 3) == 0)
            break;
    if (i == 7)
        return -1;
    p += 3;
    if (!expect(&p, ", ") || (day = parse_digits(&p, 2)) < 1 || !expect(&p, " "))
        return -1;
    for (i = 0; i < 12; i++)
        if (memcmp(p, months[i], 3) == 0)
            mon = (int)i;
    if (mon < 0)
        return -1;
    p += 3;
    if (!expect(&p, " ") || (year = parse_digits(&p, 4)) < 0 || !expect(&p, " ") ||
        (hour = parse_digits(&p, 2)) < 0 || !expect(&p, ":") || (min = parse_digits(&p, 2)) < 0 ||
        !expect(&p, ":") || (sec = parse_digits(&p, 2)) < 0 || !expect(&p, " GMT"))
        return -1;
    if (day > 31 || hour > 23 || min > 59 || sec > 60)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = mon;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    return t <= now ? 0 : (int64_t)(t - now) * 1000;
}

int64_t tb_http_parse_retry_after(const char *value, time_t now)
{
    /* A day is plenty: anything longer is as good as "not now" and must not
     * overflow when converted to ms. */
    const int64_t max_seconds = 86400;
    const char *end;
    int64_t seconds = 0;

    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    end = value + strlen(value);
    while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end == value)
        return -1;
    if (*value >= '0' && *value <= '9') {
        /* delta-seconds = 1*DIGIT (RFC 9110 §10.2.3) */
        for (const char *p = value; p < end; p++) {
            if (*p < '0' || *p > '9')
                return -1;
            if (seconds < max_seconds)
                seconds = seconds * 10 + (*p - '0');
        }
        return (seconds < max_seconds ? seconds : max_seconds) * 1000;
    }
    return parse_imf_fixdate(value, end, now);
}
