/* SPDX-License-Identifier: MIT
 * Unit tests for spans/pipeline.c against a tiny HTTP/1.1 server in this
 * process (a thread on 127.0.0.1, port 0) that records every request and
 * answers scripted statuses, or never answers. They check batching by size
 * and by delay, the request headers, retries (503 then 200 delivered once,
 * Retry-After as the minimum wait), non-retryable statuses, a receiver that
 * is down or hangs, the bound on batches waiting per exporter, a full queue,
 * the shutdown flush and its deadline, and the file exporter.
 *
 * The encoders are stubbed here with weak definitions that write the
 * sequence numbers of the spans ("otlp_proto[0,1,2]"), so the bodies are
 * exact and independent of the real encoders.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tb_test.h"

#include <signal.h>
#include <zlib.h>

#include "spans/buf.h"
#include "spans/encode.h"
#include "spans/exporter.h"
#include "spans/span.h"

/* ------------------------------------------------------------------------ */
/* Encoder stubs                                                            */

/* "tag[seq,seq,...]": the sequence numbers tests store in request_body_size. */
static int stub_encode(const char *tag, const struct tb_span *const *spans, size_t num,
                       struct tb_buf *out)
{
    char item[32];

    tb_buf_append_str(out, tag);
    tb_buf_append_byte(out, '[');
    for (size_t i = 0; i < num; i++) {
        snprintf(item, sizeof(item), "%s%llu", i > 0 ? "," : "",
                 (unsigned long long)spans[i]->request_body_size);
        tb_buf_append_str(out, item);
    }
    tb_buf_append_byte(out, ']');
    return TB_OK;
}

__attribute__((weak)) int tb_encode_otlp_proto(const struct tb_resource *res,
                                               const struct tb_span *const *spans, size_t num,
                                               struct tb_buf *out)
{
    (void)res;
    return stub_encode("otlp_proto", spans, num, out);
}

__attribute__((weak)) int tb_encode_otlp_json(const struct tb_resource *res,
                                              const struct tb_span *const *spans, size_t num,
                                              struct tb_buf *out)
{
    (void)res;
    return stub_encode("otlp_json", spans, num, out);
}

__attribute__((weak)) int tb_encode_zipkin(const struct tb_resource *res,
                                           const struct tb_span *const *spans, size_t num,
                                           struct tb_buf *out)
{
    (void)res;
    return stub_encode("zipkin", spans, num, out);
}

__attribute__((weak)) int tb_encode_skywalking(const struct tb_resource *res,
                                               const struct tb_span *const *spans, size_t num,
                                               struct tb_buf *out)
{
    (void)res;
    return stub_encode("skywalking", spans, num, out);
}

/* One line per span, like the real JSON-lines encoder. */
__attribute__((weak)) int tb_encode_file_json(const struct tb_resource *res,
                                              const struct tb_span *const *spans, size_t num,
                                              struct tb_buf *out)
{
    char line[64];

    (void)res;
    for (size_t i = 0; i < num; i++) {
        snprintf(line, sizeof(line), "{\"seq\":%llu,\"service\":\"%s\"}\n",
                 (unsigned long long)spans[i]->request_body_size,
                 res->service_name != NULL ? res->service_name : "");
        tb_buf_append_str(out, line);
    }
    return TB_OK;
}

/* ------------------------------------------------------------------------ */
/* Clock                                                                    */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------------------ */
/* The test HTTP server                                                     */

#define SRV_MAX_REQS 64
#define SRV_MAX_CONNS 16
#define SRV_MAX_SCRIPT 16

struct srv_req {
    char method[16];
    char target[256];
    char headers[4096]; /* the header lines, CRLF-separated */
    char *body;         /* owned */
    size_t body_len;
    uint64_t at_ms; /* when the request was complete */
};

struct srv_conn {
    int fd;
    char *buf;
    size_t len, cap;
};

struct srv {
    int listen_fd;
    uint16_t port;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct srv_conn conns[SRV_MAX_CONNS];

    /* under mu */
    struct srv_req reqs[SRV_MAX_REQS];
    size_t num_reqs;
    size_t num_accepts;         /* connections accepted */
    int script[SRV_MAX_SCRIPT]; /* statuses answered in order, then 200 */
    size_t script_len, script_pos;
    const char *retry_after; /* sent with every non-2xx answer when set */
    bool hang;               /* record requests, never answer */
};

static const char *srv_find_header_end(const char *p, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0)
            return p + i;
    return NULL;
}

/* Value of header `name` in a CRLF-separated block, copied into `out`; NULL when absent. */
static const char *header_value(const char *block, const char *name, char *out, size_t out_size)
{
    size_t name_len = strlen(name);

    for (const char *line = block; *line != '\0';) {
        const char *eol = strstr(line, "\r\n");
        size_t line_len = eol != NULL ? (size_t)(eol - line) : strlen(line);

        if (line_len > name_len && line[name_len] == ':' &&
            strncasecmp(line, name, name_len) == 0) {
            const char *v = line + name_len + 1;
            size_t v_len = line_len - name_len - 1;

            while (v_len > 0 && *v == ' ') {
                v++;
                v_len--;
            }
            snprintf(out, out_size, "%.*s", (int)v_len, v);
            return out;
        }
        if (eol == NULL)
            break;
        line = eol + 2;
    }
    return NULL;
}

/* Handles every complete request in `c`'s buffer. Returns false when the
 * connection must close. */
static bool srv_process(struct srv *s, struct srv_conn *c)
{
    for (;;) {
        const char *end = srv_find_header_end(c->buf, c->len);
        const char *line_end;
        char head[4096 + 512], value[32];
        size_t head_len, body_len = 0, total;
        struct srv_req *r;
        int status = 200;
        bool answer;
        char resp[256];
        int resp_len;

        if (end == NULL)
            return c->len < sizeof(head) - 1;
        head_len = (size_t)(end - c->buf);
        if (head_len >= sizeof(head))
            return false;
        memcpy(head, c->buf, head_len);
        head[head_len] = '\0';
        line_end = strstr(head, "\r\n");
        if (header_value(line_end != NULL ? line_end + 2 : "", "Content-Length", value,
                         sizeof(value)) != NULL)
            body_len = strtoul(value, NULL, 10);
        total = head_len + 4 + body_len;
        if (c->len < total)
            return true;

        pthread_mutex_lock(&s->mu);
        if (s->num_reqs < SRV_MAX_REQS) {
            r = &s->reqs[s->num_reqs++];
            sscanf(head, "%15s %255s", r->method, r->target);
            snprintf(r->headers, sizeof(r->headers), "%s", line_end != NULL ? line_end + 2 : "");
            r->body = malloc(body_len + 1);
            memcpy(r->body, c->buf + head_len + 4, body_len);
            r->body[body_len] = '\0';
            r->body_len = body_len;
            r->at_ms = now_ms();
        }
        answer = !s->hang;
        if (s->script_pos < s->script_len)
            status = s->script[s->script_pos++];
        if ((status >= 200 && status < 300) || s->retry_after == NULL)
            resp_len = snprintf(resp, sizeof(resp),
                                "HTTP/1.1 %d Scripted\r\nContent-Length: 2\r\n\r\n{}", status);
        else
            resp_len = snprintf(resp, sizeof(resp),
                                "HTTP/1.1 %d Scripted\r\nRetry-After: %s\r\nContent-Length: "
                                "2\r\n\r\n{}",
                                status, s->retry_after);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);

        if (answer && send(c->fd, resp, (size_t)resp_len, MSG_NOSIGNAL) != resp_len)
            return false;
        memmove(c->buf, c->buf + total, c->len - total);
        c->len -= total;
    }
}

static void srv_close_conn(struct srv_conn *c)
{
    close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static void *srv_thread(void *arg)
{
    struct srv *s = arg;

    for (;;) {
        struct pollfd pfds[2 + SRV_MAX_CONNS];
        int map[2 + SRV_MAX_CONNS];
        nfds_t n = 0;

        pfds[n] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        map[n++] = -2;
        pfds[n] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
        map[n++] = -1;
        for (int i = 0; i < SRV_MAX_CONNS; i++)
            if (s->conns[i].fd >= 0) {
                pfds[n] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
                map[n++] = i;
            }
        if (poll(pfds, n, -1) < 0)
            continue;
        if (pfds[0].revents != 0)
            break;
        if (pfds[1].revents & POLLIN) {
            int fd = accept(s->listen_fd, NULL, NULL);

            if (fd >= 0) {
                pthread_mutex_lock(&s->mu);
                s->num_accepts++;
                pthread_mutex_unlock(&s->mu);
            }

            for (int i = 0; fd >= 0 && i < SRV_MAX_CONNS; i++)
                if (s->conns[i].fd < 0) {
                    s->conns[i].fd = fd;
                    fd = -1;
                }
            if (fd >= 0)
                close(fd);
        }
        for (nfds_t k = 2; k < n; k++) {
            struct srv_conn *c = &s->conns[map[k]];
            ssize_t got;

            if (pfds[k].revents == 0)
                continue;
            if (c->cap - c->len < 4096) {
                c->cap = c->cap ? c->cap * 2 : 16384;
                c->buf = realloc(c->buf, c->cap);
            }
            got = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
            if (got <= 0) {
                srv_close_conn(c);
                continue;
            }
            c->len += (size_t)got;
            if (!srv_process(s, c))
                srv_close_conn(c);
        }
    }
    return NULL;
}

/* Binds 127.0.0.1:0; returns the socket and its port. */
static int listen_loopback(uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sa_len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;

    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sa_len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A port nothing listens on: connections are refused. */
static uint16_t closed_port(void)
{
    uint16_t port;

    close(listen_loopback(&port));
    return port;
}

static struct srv *srv_start(void)
{
    struct srv *s = calloc(1, sizeof(*s));

    s->listen_fd = listen_loopback(&s->port);
    assert_int_equal(pipe(s->wake), 0);
    for (int i = 0; i < SRV_MAX_CONNS; i++)
        s->conns[i].fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    assert_int_equal(pthread_create(&s->thread, NULL, srv_thread, s), 0);
    return s;
}

static void srv_stop(struct srv *s)
{
    assert_int_equal(write(s->wake[1], "x", 1), 1);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < SRV_MAX_CONNS; i++)
        if (s->conns[i].fd >= 0)
            srv_close_conn(&s->conns[i]);
    close(s->listen_fd);
    close(s->wake[0]);
    close(s->wake[1]);
    for (size_t i = 0; i < s->num_reqs; i++)
        free(s->reqs[i].body);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static void srv_script(struct srv *s, const int *statuses, size_t num, const char *retry_after,
                       bool hang)
{
    pthread_mutex_lock(&s->mu);
    if (num > 0)
        memcpy(s->script, statuses, num * sizeof(*statuses));
    s->script_len = num;
    s->script_pos = 0;
    s->retry_after = retry_after;
    s->hang = hang;
    pthread_mutex_unlock(&s->mu);
}

static size_t srv_num_reqs(struct srv *s)
{
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = s->num_reqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static size_t srv_num_accepts(struct srv *s)
{
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = s->num_accepts;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Waits until the server has recorded at least `n` requests; fails the test
 * after `timeout_ms`. */
static void srv_wait(struct srv *s, size_t n, unsigned timeout_ms)
{
    uint64_t deadline = now_ms() + timeout_ms;

    pthread_mutex_lock(&s->mu);
    while (s->num_reqs < n && now_ms() < deadline) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    if (s->num_reqs < n) {
        size_t got = s->num_reqs;

        pthread_mutex_unlock(&s->mu);
        print_error("server: %zu requests after %u ms, expected %zu\n", got, timeout_ms, n);
        fail();
    }
    pthread_mutex_unlock(&s->mu);
}

/* Request `i` (the server must have it). Read only once the client side is
 * idle or stopped: the server thread appends, never rewrites. */
static const struct srv_req *srv_req(struct srv *s, size_t i)
{
    assert_true(i < srv_num_reqs(s));
    return &s->reqs[i];
}

static void assert_header(const struct srv_req *r, const char *name, const char *expected)
{
    char value[600];

    if (header_value(r->headers, name, value, sizeof(value)) == NULL) {
        if (expected == NULL)
            return;
        print_error("header %s missing; headers:\n%s\n", name, r->headers);
        fail();
    }
    if (expected == NULL || strcmp(value, expected) != 0) {
        print_error("header %s: \"%s\", expected \"%s\"\n", name, value,
                    expected != NULL ? expected : "(absent)");
        fail();
    }
}

static void assert_body(const struct srv_req *r, const char *expected)
{
    if (r->body_len != strlen(expected) || memcmp(r->body, expected, r->body_len) != 0) {
        tb_test_print_bytes("  actual:   ", r->body, r->body_len);
        tb_test_print_bytes("  expected: ", expected, strlen(expected));
        fail();
    }
}

/* ------------------------------------------------------------------------ */
/* Pipeline helpers                                                         */

static struct tb_export_config cfg_otlp(uint16_t port)
{
    struct tb_export_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.enabled = TB_EXPORTER_BIT(TB_EXPORTER_OTLP);
    snprintf(cfg.otlp_url, sizeof(cfg.otlp_url), "http://127.0.0.1:%u/v1/traces", port);
    cfg.export_timeout_ms = 3000;
    cfg.max_queue = 64;
    cfg.max_batch = 4;
    cfg.schedule_delay_ms = 60000; /* only size, or stop, triggers an export */
    cfg.max_retries = 3;
    cfg.retry_initial_ms = 10;
    cfg.retry_max_ms = 40;
    return cfg;
}

static const struct tb_resource_attr test_attrs[] = {{"service.name", "checkout"},
                                                     {"service.instance.id", "i-1"}};
static const struct tb_resource test_res = {test_attrs, 2, "checkout", "i-1"};

static struct tb_pipeline *start(const struct tb_export_config *cfg, unsigned num_workers)
{
    char err[256] = "";
    struct tb_pipeline *p = tb_pipeline_start(cfg, &test_res, num_workers, err, sizeof(err));

    if (p == NULL) {
        print_error("tb_pipeline_start: %s\n", err);
        fail();
    }
    return p;
}

/* Commits spans numbered `from`.. `from + n - 1` on `worker`. */
static void commit(struct tb_pipeline *p, unsigned worker, uint64_t from, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct tb_span *s = tb_pipeline_reserve(p, worker);

        assert_non_null(s);
        memset(s, 0, sizeof(*s));
        s->request_body_size = from + i;
        tb_pipeline_commit(p, worker);
    }
}

static struct tb_export_stats exporter_stats(const struct tb_pipeline *p,
                                             enum tb_exporter_kind kind)
{
    struct tb_pipeline_stats st;

    tb_pipeline_stats(p, &st);
    return st.exporters[kind];
}

static struct tb_export_stats otlp_stats(const struct tb_pipeline *p)
{
    return exporter_stats(p, TB_EXPORTER_OTLP);
}

/* Waits until exporter `kind` has settled `n` spans (exported + failed). */
static struct tb_export_stats wait_settled_kind(const struct tb_pipeline *p,
                                                enum tb_exporter_kind kind, uint64_t n,
                                                unsigned timeout_ms)
{
    uint64_t deadline = now_ms() + timeout_ms;
    struct tb_export_stats st = exporter_stats(p, kind);

    while (st.exported + st.failed < n && now_ms() < deadline) {
        sleep_ms(2);
        st = exporter_stats(p, kind);
    }
    if (st.exported + st.failed < n) {
        print_error("%llu exported + %llu failed after %u ms, expected %llu\n",
                    (unsigned long long)st.exported, (unsigned long long)st.failed, timeout_ms,
                    (unsigned long long)n);
        fail();
    }
    return st;
}

static struct tb_export_stats wait_settled(const struct tb_pipeline *p, uint64_t n,
                                           unsigned timeout_ms)
{
    return wait_settled_kind(p, TB_EXPORTER_OTLP, n, timeout_ms);
}

static void assert_stats(struct tb_export_stats st, uint64_t exported, uint64_t failed,
                         uint64_t requests, uint64_t retries, uint64_t errors)
{
    if (st.exported != exported || st.failed != failed || st.requests != requests ||
        st.retries != retries || st.errors != errors) {
        print_error("stats: exported %llu failed %llu requests %llu retries %llu errors %llu\n"
                    "expected: exported %llu failed %llu requests %llu retries %llu errors %llu\n",
                    (unsigned long long)st.exported, (unsigned long long)st.failed,
                    (unsigned long long)st.requests, (unsigned long long)st.retries,
                    (unsigned long long)st.errors, (unsigned long long)exported,
                    (unsigned long long)failed, (unsigned long long)requests,
                    (unsigned long long)retries, (unsigned long long)errors);
        fail();
    }
}

/* ------------------------------------------------------------------------ */
/* Batching and requests                                                    */

static void test_tb_pipeline__batches_by_size_then_flushes_on_stop(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    struct tb_pipeline_stats st;
    char host[32];
    const struct srv_req *r;

    (void)state;
    snprintf(cfg.otlp_headers[0].name, sizeof(cfg.otlp_headers[0].name), "x-api-key");
    snprintf(cfg.otlp_headers[0].value, sizeof(cfg.otlp_headers[0].value), "secret");
    snprintf(cfg.otlp_headers[1].name, sizeof(cfg.otlp_headers[1].name), "X-Tenant");
    snprintf(cfg.otlp_headers[1].value, sizeof(cfg.otlp_headers[1].value), "a b=c");
    cfg.num_otlp_headers = 2;
    p = start(&cfg, 1);
    commit(p, 0, 0, 10);
    wait_settled(p, 8, 3000);
    /* The last 2 wait for the delay (a minute) or the stop. */
    sleep_ms(250);
    assert_int_equal(srv_num_reqs(s), 2);
    assert_stats(otlp_stats(p), 8, 0, 2, 0, 0);
    tb_pipeline_stats(p, &st);
    assert_int_equal(st.enqueued, 10);
    assert_int_equal(st.queue_depth, 2);
    assert_int_equal(st.dropped_full, 0);
    tb_pipeline_stop(p, 3000, NULL);

    assert_int_equal(srv_num_reqs(s), 3);
    /* Keep-alive: one connection for the three requests. */
    assert_int_equal(srv_num_accepts(s), 1);
    snprintf(host, sizeof(host), "127.0.0.1:%u", s->port);
    for (size_t i = 0; i < 3; i++) {
        r = srv_req(s, i);
        assert_string_equal(r->method, "POST");
        assert_string_equal(r->target, "/v1/traces");
        assert_header(r, "Host", host);
        assert_header(r, "Content-Type", "application/x-protobuf");
        assert_header(r, "Content-Encoding", NULL);
        assert_header(r, "x-api-key", "secret");
        assert_header(r, "X-Tenant", "a b=c");
    }
    assert_body(srv_req(s, 0), "otlp_proto[0,1,2,3]");
    assert_header(srv_req(s, 0), "Content-Length", "19");
    assert_body(srv_req(s, 1), "otlp_proto[4,5,6,7]");
    assert_body(srv_req(s, 2), "otlp_proto[8,9]");
    srv_stop(s);
}

static void test_tb_pipeline__exports_after_schedule_delay(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    uint64_t t0;

    (void)state;
    cfg.max_batch = 100;
    cfg.schedule_delay_ms = 300;
    p = start(&cfg, 1);
    /* The delay counts from the last export, here the start: wait it out once. */
    sleep_ms(350);
    t0 = now_ms();
    commit(p, 0, 0, 3);
    srv_wait(s, 1, 3000);
    assert_body(srv_req(s, 0), "otlp_proto[0,1,2]");
    assert_stats(wait_settled(p, 3, 3000), 3, 0, 1, 0, 0);
    /* Picked up by the next tick (every 100 ms at most), not by the size. */
    assert_true(now_ms() - t0 < 1000);

    /* Right after an export the next spans wait for the delay again. */
    t0 = now_ms();
    commit(p, 0, 3, 2);
    srv_wait(s, 2, 3000);
    assert_true(srv_req(s, 1)->at_ms - t0 >= 150);
    assert_body(srv_req(s, 1), "otlp_proto[3,4]");
    tb_pipeline_stop(p, 1000, NULL);
    assert_int_equal(srv_num_reqs(s), 2);
    srv_stop(s);
}

static void test_tb_pipeline__gathers_from_every_worker(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    const char *body;

    (void)state;
    cfg.max_batch = 512;
    p = start(&cfg, 3);
    commit(p, 0, 0, 2);
    commit(p, 1, 10, 3);
    commit(p, 2, 20, 1);
    tb_pipeline_stop(p, 3000, NULL);
    assert_int_equal(srv_num_reqs(s), 1);
    /* One batch; the workers in turn, each one's spans in order. */
    body = srv_req(s, 0)->body;
    if (strcmp(body, "otlp_proto[0,1,10,11,12,20]") != 0 &&
        strcmp(body, "otlp_proto[10,11,12,20,0,1]") != 0 &&
        strcmp(body, "otlp_proto[20,0,1,10,11,12]") != 0) {
        print_error("body %s\n", body);
        fail();
    }
    srv_stop(s);
}

static void test_tb_pipeline__otlp_json_gzip(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    const struct srv_req *r;
    char plain[256];
    uLongf plain_len = sizeof(plain);
    z_stream zs;

    (void)state;
    cfg.otlp_json = true;
    cfg.otlp_gzip = true;
    p = start(&cfg, 1);
    commit(p, 0, 5, 2);
    tb_pipeline_stop(p, 3000, NULL);
    assert_int_equal(srv_num_reqs(s), 1);
    r = srv_req(s, 0);
    assert_header(r, "Content-Type", "application/json");
    assert_header(r, "Content-Encoding", "gzip");
    /* A gzip member (RFC 1952): magic 1f 8b, deflate. */
    assert_true(r->body_len > 10);
    assert_int_equal((unsigned char)r->body[0], 0x1f);
    assert_int_equal((unsigned char)r->body[1], 0x8b);
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 16 + 15), Z_OK);
    zs.next_in = (Bytef *)r->body;
    zs.avail_in = (uInt)r->body_len;
    zs.next_out = (Bytef *)plain;
    zs.avail_out = (uInt)plain_len;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    plain_len = zs.total_out;
    inflateEnd(&zs);
    assert_int_equal(plain_len, strlen("otlp_json[5,6]"));
    assert_memory_equal(plain, "otlp_json[5,6]", plain_len);
    srv_stop(s);
}

static bool file_equals(const char *path, const char *expected)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (strcmp(buf, expected) != 0) {
        print_error("file: \"%s\"\nexpected: \"%s\"\n", buf, expected);
        return false;
    }
    return true;
}

static void test_tb_pipeline__every_exporter_gets_every_batch(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    char path[] = "/tmp/tb-test-pipeline-XXXXXX";
    int fd = mkstemp(path);
    bool seen[3] = {false, false, false};

    (void)state;
    assert_true(fd >= 0);
    /* Appended to, never truncated. */
    assert_int_equal(write(fd, "old\n", 4), 4);
    close(fd);
    cfg.enabled = TB_EXPORTER_BIT(TB_EXPORTER_OTLP) | TB_EXPORTER_BIT(TB_EXPORTER_ZIPKIN) |
                  TB_EXPORTER_BIT(TB_EXPORTER_SKYWALKING) | TB_EXPORTER_BIT(TB_EXPORTER_FILE);
    snprintf(cfg.zipkin_url, sizeof(cfg.zipkin_url), "http://127.0.0.1:%u/api/v2/spans", s->port);
    snprintf(cfg.skywalking_url, sizeof(cfg.skywalking_url), "http://127.0.0.1:%u/", s->port);
    snprintf(cfg.file_path, sizeof(cfg.file_path), "%s", path);
    cfg.max_batch = 3;
    p = start(&cfg, 1);
    commit(p, 0, 0, 3);
    srv_wait(s, 3, 3000);
    /* Written per batch, not at the stop. */
    assert_true(file_equals(path, "old\n{\"seq\":0,\"service\":\"checkout\"}\n"
                                  "{\"seq\":1,\"service\":\"checkout\"}\n"
                                  "{\"seq\":2,\"service\":\"checkout\"}\n"));
    tb_pipeline_stop(p, 3000, NULL);
    assert_int_equal(srv_num_reqs(s), 3);
    for (size_t i = 0; i < 3; i++) {
        const struct srv_req *r = srv_req(s, i);

        assert_header(r, "Content-Type",
                      strcmp(r->target, "/v1/traces") == 0 ? "application/x-protobuf"
                                                           : "application/json");
        /* The OTLP headers go to OTLP only. */
        if (strcmp(r->target, "/v1/traces") == 0) {
            assert_body(r, "otlp_proto[0,1,2]");
            seen[0] = true;
        } else if (strcmp(r->target, "/api/v2/spans") == 0) {
            assert_body(r, "zipkin[0,1,2]");
            seen[1] = true;
        } else if (strcmp(r->target, "/v3/segments") == 0) {
            assert_body(r, "skywalking[0,1,2]");
            seen[2] = true;
        } else {
            print_error("unexpected target %s\n", r->target);
            fail();
        }
    }
    assert_true(seen[0] && seen[1] && seen[2]);
    unlink(path);
    srv_stop(s);
}

/* ------------------------------------------------------------------------ */
/* Retries                                                                  */

static void test_tb_pipeline__503_then_200_delivered_exactly_once(void **state)
{
    static const int script[] = {503, 200};
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;

    (void)state;
    srv_script(s, script, 2, NULL, false);
    p = start(&cfg, 1);
    commit(p, 0, 0, 4);
    assert_stats(wait_settled(p, 4, 3000), 4, 0, 2, 1, 1);
    /* No duplicate after the 2xx, even after the stop. */
    sleep_ms(200);
    tb_pipeline_stop(p, 1000, NULL);
    assert_int_equal(srv_num_reqs(s), 2);
    assert_body(srv_req(s, 0), "otlp_proto[0,1,2,3]");
    assert_body(srv_req(s, 1), "otlp_proto[0,1,2,3]");
    srv_stop(s);
}

static void test_tb_pipeline__retryable_statuses(void **state)
{
    static const int retryable[] = {429, 502, 503, 504};

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(retryable); i++) {
        struct srv *s = srv_start();
        struct tb_export_config cfg = cfg_otlp(s->port);
        struct tb_pipeline *p;
        int script[3] = {retryable[i], retryable[i], 204};

        srv_script(s, script, 3, NULL, false);
        p = start(&cfg, 1);
        commit(p, 0, 0, 4);
        assert_stats(wait_settled(p, 4, 3000), 4, 0, 3, 2, 2);
        tb_pipeline_stop(p, 1000, NULL);
        assert_int_equal(srv_num_reqs(s), 3);
        srv_stop(s);
    }
}

static void test_tb_pipeline__other_statuses_fail_at_once(void **state)
{
    static const int statuses[] = {400, 401, 404, 413, 500, 501, 505, 302};

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(statuses); i++) {
        struct srv *s = srv_start();
        struct tb_export_config cfg = cfg_otlp(s->port);
        struct tb_pipeline *p;

        srv_script(s, &statuses[i], 1, "0", false);
        p = start(&cfg, 1);
        commit(p, 0, 0, 4);
        assert_stats(wait_settled(p, 4, 3000), 0, 4, 1, 0, 1);
        tb_pipeline_stop(p, 1000, NULL);
        assert_int_equal(srv_num_reqs(s), 1);
        srv_stop(s);
    }
}

static void test_tb_pipeline__retries_exhausted(void **state)
{
    static const int script[] = {503, 503, 503, 503, 503, 503};
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;

    (void)state;
    cfg.max_retries = 2;
    srv_script(s, script, 6, NULL, false);
    p = start(&cfg, 1);
    commit(p, 0, 0, 4);
    assert_stats(wait_settled(p, 4, 3000), 0, 4, 3, 2, 3);
    tb_pipeline_stop(p, 1000, NULL);
    assert_int_equal(srv_num_reqs(s), 3);
    srv_stop(s);
}

static void test_tb_pipeline__retry_after_is_the_minimum_wait(void **state)
{
    static const int script[] = {503, 200};
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    uint64_t gap;

    (void)state;
    /* Backoff alone would retry within 20 ms. */
    cfg.retry_initial_ms = 10;
    cfg.retry_max_ms = 20;
    srv_script(s, script, 2, "1", false);
    p = start(&cfg, 1);
    commit(p, 0, 0, 4);
    assert_stats(wait_settled(p, 4, 5000), 4, 0, 2, 1, 1);
    gap = srv_req(s, 1)->at_ms - srv_req(s, 0)->at_ms;
    if (gap < 900 || gap > 3000) {
        print_error("retry after %llu ms, expected about 1000\n", (unsigned long long)gap);
        fail();
    }
    tb_pipeline_stop(p, 1000, NULL);
    srv_stop(s);
}

/* ------------------------------------------------------------------------ */
/* Receiver down or hanging                                                 */

static void test_tb_pipeline__receiver_down_counts_failed_and_never_blocks(void **state)
{
    struct tb_export_config cfg = cfg_otlp(closed_port());
    struct tb_pipeline *p;
    uint64_t t0;

    (void)state;
    cfg.max_retries = 2;
    p = start(&cfg, 1);
    t0 = now_ms();
    commit(p, 0, 0, 8);
    /* Reserving never waits on export. */
    assert_true(now_ms() - t0 < 50);
    /* 2 batches x (1 + 2 retries), each refused. */
    assert_stats(wait_settled(p, 8, 5000), 0, 8, 6, 4, 6);
    t0 = now_ms();
    commit(p, 0, 8, 8);
    assert_true(now_ms() - t0 < 50);
    tb_pipeline_stop(p, 0, NULL);
}

static void test_tb_pipeline__hanging_receiver_times_out(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    uint64_t t0;

    (void)state;
    srv_script(s, NULL, 0, NULL, true);
    cfg.export_timeout_ms = 200;
    cfg.max_retries = 1;
    p = start(&cfg, 1);
    t0 = now_ms();
    commit(p, 0, 0, 4);
    assert_stats(wait_settled(p, 4, 5000), 0, 4, 2, 1, 2);
    /* Two requests, each given up after the timeout. */
    assert_true(now_ms() - t0 >= 380);
    assert_int_equal(srv_num_reqs(s), 2);
    tb_pipeline_stop(p, 0, NULL);
    srv_stop(s);
}

/* A hanging receiver with nothing else to export to: up to 4 batches wait
 * behind the request in flight, the rest stays in the worker's ring. */
static void test_tb_pipeline__hanging_receiver_leaves_spans_in_the_ring(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    struct tb_pipeline_stats st;

    (void)state;
    srv_script(s, NULL, 0, NULL, true);
    cfg.max_batch = 1;
    cfg.export_timeout_ms = 10000;
    p = start(&cfg, 1);
    commit(p, 0, 0, 1);
    srv_wait(s, 1, 3000);
    commit(p, 0, 1, 9);
    /* A few ticks: nothing more leaves the ring, nothing is dropped. */
    sleep_ms(350);
    tb_pipeline_stats(p, &st);
    assert_int_equal(st.queue_depth, 5);
    assert_stats(st.exporters[TB_EXPORTER_OTLP], 0, 0, 1, 0, 0);
    assert_int_equal(srv_num_reqs(s), 1);
    tb_pipeline_stop(p, 0, NULL);
    srv_stop(s);
}

/* A hanging receiver next to a healthy one: the healthy one gets every
 * batch, the hanging one keeps the request in flight and the 4 newest
 * batches and drops the older ones as failed. */
static void test_tb_pipeline__waiting_batches_are_bounded(void **state)
{
    struct srv *hanging = srv_start();
    struct srv *healthy = srv_start();
    struct tb_export_config cfg = cfg_otlp(hanging->port);
    struct tb_pipeline *p;
    struct tb_pipeline_stats st;

    (void)state;
    srv_script(hanging, NULL, 0, NULL, true);
    cfg.enabled |= TB_EXPORTER_BIT(TB_EXPORTER_ZIPKIN);
    snprintf(cfg.zipkin_url, sizeof(cfg.zipkin_url), "http://127.0.0.1:%u/api/v2/spans",
             healthy->port);
    cfg.max_batch = 1;
    cfg.export_timeout_ms = 10000;
    p = start(&cfg, 1);
    commit(p, 0, 0, 1);
    srv_wait(hanging, 1, 3000);
    commit(p, 0, 1, 9);
    assert_stats(wait_settled_kind(p, TB_EXPORTER_ZIPKIN, 10, 3000), 10, 0, 10, 0, 0);
    wait_settled(p, 5, 3000);
    sleep_ms(150);
    tb_pipeline_stats(p, &st);
    assert_int_equal(st.queue_depth, 0);
    assert_stats(st.exporters[TB_EXPORTER_OTLP], 0, 5, 1, 0, 0);
    assert_int_equal(srv_num_reqs(hanging), 1);
    tb_pipeline_stop(p, 0, NULL);
    srv_stop(hanging);
    srv_stop(healthy);
}

/* ------------------------------------------------------------------------ */
/* Queue and shutdown                                                       */

static void test_tb_pipeline_reserve__full_queue_drops_and_counts(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    struct tb_pipeline_stats st;

    (void)state;
    cfg.max_queue = 4;
    cfg.max_batch = 512; /* never reached: only the stop exports */
    p = start(&cfg, 2);
    commit(p, 0, 0, 4);
    assert_null(tb_pipeline_reserve(p, 0));
    assert_null(tb_pipeline_reserve(p, 0));
    /* Worker 1's queue is its own. */
    commit(p, 1, 100, 1);
    tb_pipeline_stats(p, &st);
    assert_int_equal(st.enqueued, 5);
    assert_int_equal(st.dropped_full, 2);
    assert_int_equal(st.queue_depth, 5);
    tb_pipeline_stop(p, 3000, NULL);
    assert_int_equal(srv_num_reqs(s), 1);
    if (strcmp(srv_req(s, 0)->body, "otlp_proto[0,1,2,3,100]") != 0 &&
        strcmp(srv_req(s, 0)->body, "otlp_proto[100,0,1,2,3]") != 0) {
        print_error("body %s\n", srv_req(s, 0)->body);
        fail();
    }
    srv_stop(s);
}

static void test_tb_pipeline_stop__flushes_more_than_the_waiting_bound(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    char expected[64];

    (void)state;
    cfg.max_batch = 2;
    cfg.max_queue = 64;
    cfg.schedule_delay_ms = 60000;
    p = start(&cfg, 1);
    /* Committed faster than a tick: 7 batches at the stop, more than the
     * 4 that may wait while running, none dropped. Any exported earlier
     * still arrive once. */
    commit(p, 0, 0, 14);
    tb_pipeline_stop(p, 3000, NULL);
    assert_int_equal(srv_num_reqs(s), 7);
    for (size_t i = 0; i < 7; i++) {
        snprintf(expected, sizeof(expected), "otlp_proto[%zu,%zu]", 2 * i, 2 * i + 1);
        assert_body(srv_req(s, i), expected);
    }
    srv_stop(s);
}

static void test_tb_pipeline_stop__nothing_queued_sends_nothing(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);

    (void)state;
    tb_pipeline_stop(start(&cfg, 1), 3000, NULL);
    tb_pipeline_stop(NULL, 0, NULL);
    assert_int_equal(srv_num_reqs(s), 0);
    srv_stop(s);
}

static void test_tb_pipeline_stop__gives_up_at_the_deadline(void **state)
{
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    uint64_t t0, took;

    (void)state;
    srv_script(s, NULL, 0, NULL, true);
    cfg.export_timeout_ms = 30000;
    p = start(&cfg, 1);
    commit(p, 0, 0, 2);
    t0 = now_ms();
    tb_pipeline_stop(p, 300, NULL);
    took = now_ms() - t0;
    if (took < 250 || took > 2000) {
        print_error("stop took %llu ms, deadline 300\n", (unsigned long long)took);
        fail();
    }
    assert_int_equal(srv_num_reqs(s), 1);
    srv_stop(s);
}

static void test_tb_pipeline_stop__retry_waiting_gets_until_the_deadline(void **state)
{
    static const int script[] = {503, 200};
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    uint64_t t0, took;

    (void)state;
    srv_script(s, script, 2, "1", false);
    p = start(&cfg, 1);
    commit(p, 0, 0, 4);
    srv_wait(s, 1, 3000);
    /* The retry is due in a second: within the deadline, so it is made. */
    t0 = now_ms();
    tb_pipeline_stop(p, 3000, NULL);
    took = now_ms() - t0;
    assert_int_equal(srv_num_reqs(s), 2);
    assert_body(srv_req(s, 1), "otlp_proto[0,1,2,3]");
    if (took < 700 || took > 2500) {
        print_error("stop took %llu ms, retry due in about 1000\n", (unsigned long long)took);
        fail();
    }
    srv_stop(s);
}

static void test_tb_pipeline_stop__retry_due_after_the_deadline_is_abandoned(void **state)
{
    static const int script[] = {503, 200};
    struct srv *s = srv_start();
    struct tb_export_config cfg = cfg_otlp(s->port);
    struct tb_pipeline *p;
    uint64_t t0, took;

    (void)state;
    srv_script(s, script, 2, "5", false);
    p = start(&cfg, 1);
    commit(p, 0, 0, 4);
    srv_wait(s, 1, 3000);
    t0 = now_ms();
    tb_pipeline_stop(p, 200, NULL);
    took = now_ms() - t0;
    assert_int_equal(srv_num_reqs(s), 1);
    if (took < 150 || took > 2000) {
        print_error("stop took %llu ms, deadline 200\n", (unsigned long long)took);
        fail();
    }
    srv_stop(s);
}

/* ------------------------------------------------------------------------ */
/* Start                                                                    */

static void test_tb_pipeline_start__refuses_bad_config(void **state)
{
    static const struct {
        enum tb_exporter_kind kind;
        const char *url;
        const char *err_part;
    } cases[] = {
        {TB_EXPORTER_OTLP, "https://collector:4318/v1/traces",
         "otlp exporter: \"https://collector:4318/v1/traces\": https is not supported"},
        {TB_EXPORTER_OTLP, "", "otlp exporter: no URL configured"},
        {TB_EXPORTER_SKYWALKING, "", "skywalking exporter: no URL configured"},
        {TB_EXPORTER_ZIPKIN, "zipkin:9411", "zipkin exporter: \"zipkin:9411\": not an http:// URL"},
        {TB_EXPORTER_ZIPKIN, "http://a b/", "zipkin exporter: cannot parse URL \"http://a b/\""},
        {TB_EXPORTER_SKYWALKING, "grpc://oap:11800",
         "skywalking exporter: \"grpc://oap:11800/v3/segments\": not an http:// URL"},
        {TB_EXPORTER_FILE, "/nonexistent-dir/spans.jsonl",
         "file exporter: cannot open \"/nonexistent-dir/spans.jsonl\""},
    };

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        struct tb_export_config cfg = cfg_otlp(1);
        char err[256] = "";
        struct tb_pipeline *p;

        cfg.enabled |= TB_EXPORTER_BIT(cases[i].kind);
        switch (cases[i].kind) {
        case TB_EXPORTER_OTLP:
            snprintf(cfg.otlp_url, sizeof(cfg.otlp_url), "%s", cases[i].url);
            break;
        case TB_EXPORTER_ZIPKIN:
            snprintf(cfg.zipkin_url, sizeof(cfg.zipkin_url), "%s", cases[i].url);
            break;
        case TB_EXPORTER_SKYWALKING:
            snprintf(cfg.skywalking_url, sizeof(cfg.skywalking_url), "%s", cases[i].url);
            break;
        default:
            snprintf(cfg.file_path, sizeof(cfg.file_path), "%s", cases[i].url);
            break;
        }
        p = tb_pipeline_start(&cfg, &test_res, 1, err, sizeof(err));
        if (p != NULL || strstr(err, cases[i].err_part) == NULL) {
            print_error("case %zu: pipeline %p, err \"%s\"\n", i, (void *)p, err);
            tb_pipeline_stop(p, 0, NULL);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_pipeline__batches_by_size_then_flushes_on_stop),
        cmocka_unit_test(test_tb_pipeline__exports_after_schedule_delay),
        cmocka_unit_test(test_tb_pipeline__gathers_from_every_worker),
        cmocka_unit_test(test_tb_pipeline__otlp_json_gzip),
        cmocka_unit_test(test_tb_pipeline__every_exporter_gets_every_batch),
        cmocka_unit_test(test_tb_pipeline__503_then_200_delivered_exactly_once),
        cmocka_unit_test(test_tb_pipeline__retryable_statuses),
        cmocka_unit_test(test_tb_pipeline__other_statuses_fail_at_once),
        cmocka_unit_test(test_tb_pipeline__retries_exhausted),
        cmocka_unit_test(test_tb_pipeline__retry_after_is_the_minimum_wait),
        cmocka_unit_test(test_tb_pipeline__receiver_down_counts_failed_and_never_blocks),
        cmocka_unit_test(test_tb_pipeline__hanging_receiver_times_out),
        cmocka_unit_test(test_tb_pipeline__hanging_receiver_leaves_spans_in_the_ring),
        cmocka_unit_test(test_tb_pipeline__waiting_batches_are_bounded),
        cmocka_unit_test(test_tb_pipeline_reserve__full_queue_drops_and_counts),
        cmocka_unit_test(test_tb_pipeline_stop__flushes_more_than_the_waiting_bound),
        cmocka_unit_test(test_tb_pipeline_stop__nothing_queued_sends_nothing),
        cmocka_unit_test(test_tb_pipeline_stop__gives_up_at_the_deadline),
        cmocka_unit_test(test_tb_pipeline_stop__retry_waiting_gets_until_the_deadline),
        cmocka_unit_test(test_tb_pipeline_stop__retry_due_after_the_deadline_is_abandoned),
        cmocka_unit_test(test_tb_pipeline_start__refuses_bad_config),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
