/* SPDX-License-Identifier: MIT
 * Span encoding throughput: encodes batches of realistic proxied-request spans
 * (every attribute filled, a tracestate, some links) as OTLP protobuf, as the
 * exporter thread does, for a fixed time per run, and reports spans encoded
 * per second on one core: each run, then the median. bench/spans.sh builds it
 * against build/release/libtracebridge.a and pins it to one core.
 *
 * usage: span_bench [SECONDS_PER_RUN [RUNS [BATCH]]]   (defaults 2 5 512)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/tb.h"
#include "propagators/context.h"
#include "spans/buf.h"
#include "spans/encode.h"
#include "spans/span.h"

#define MAX_RUNS 64

static const char *const paths[] = {
    "/api/orders",        "/api/orders/123456/items",       "/api/v2/users/me",
    "/checkout/confirm",  "/static/js/app.9f8e7d.js",       "/healthz",
    "/api/cart?limit=50", "/api/search?q=red+shoes&page=2",
};
static const char *const agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
};
static const char *const methods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng_next(void)
{
    /* xorshift64*: ids only need to look random. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng_next();
}

#define SET(f, str)                                                                                \
    do {                                                                                           \
        size_t n_ = strlen(str);                                                                   \
        if (n_ > sizeof(s->f))                                                                     \
            n_ = sizeof(s->f);                                                                     \
        memcpy(s->f, (str), n_);                                                                   \
        s->f##_len = (uint16_t)n_;                                                                 \
    } while (0)

/* What a worker fills in for one proxied request. */
static void make_span(struct tb_span *s, size_t i)
{
    const char *method = methods[i % TB_ARRAY_SIZE(methods)];
    char client[46];

    memset(s, 0, sizeof(*s));
    fill_random(s->trace_id, sizeof(s->trace_id));
    fill_random(s->span_id, sizeof(s->span_id));
    fill_random(s->parent_span_id, sizeof(s->parent_span_id));
    s->w3c_flags = TB_W3C_FLAG_SAMPLED;
    s->sampled = true;
    s->kind = i % 2 ? TB_SPAN_KIND_CLIENT : TB_SPAN_KIND_SERVER;
    s->start_ns = UINT64_C(1700000000000000000) + i * 1000003;
    s->end_ns = s->start_ns + 1500000 + (rng_next() % 5000000);
    SET(name, method);
    SET(tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    SET(method, method);
    SET(path, paths[i % TB_ARRAY_SIZE(paths)]);
    SET(server_address, "shop.example.com");
    s->server_port = 8080;
    snprintf(client, sizeof(client), "10.%u.%u.%u", (unsigned)(i >> 16) & 255,
             (unsigned)(i >> 8) & 255, (unsigned)i & 255);
    SET(client_address, client);
    s->client_port = (uint16_t)(32768 + i % 28000);
    SET(peer_address, "127.0.0.1");
    s->peer_port = 9000;
    SET(user_agent, agents[i % TB_ARRAY_SIZE(agents)]);
    s->http_version_major = 1;
    s->http_version_minor = 1;
    s->status_code = i % 50 == 0 ? 503 : 200;
    s->is_error = s->status_code >= 500;
    if (s->is_error)
        SET(error_type, "503");
    s->request_body_size = strcmp(method, "GET") == 0 ? 0 : 512 + i % 4096;
    s->response_body_size = 1024 + (rng_next() % 65536);
    s->extracted_format = TB_FORMAT_TRACECONTEXT;
    s->injected_formats = TB_FORMAT_BIT(TB_FORMAT_TRACECONTEXT) | TB_FORMAT_BIT(TB_FORMAT_B3MULTI) |
                          TB_FORMAT_BIT(TB_FORMAT_DATADOG);
    if (i % 4 == 0) { /* a second format carried another context */
        s->num_links = 1;
        fill_random(s->links[0].trace_id, sizeof(s->links[0].trace_id));
        fill_random(s->links[0].span_id, sizeof(s->links[0].span_id));
        s->links[0].format = TB_FORMAT_B3MULTI;
    }
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

struct run_result {
    double spans_per_s;
    double bytes_per_s;
};

/* Encodes batches of `batch` spans for `seconds`; `out` is reused. */
static struct run_result run(const struct tb_resource *res, const struct tb_span *const *spans,
                             size_t batch, double seconds, struct tb_buf *out)
{
    double start = now_s(), elapsed;
    uint64_t num = 0, bytes = 0;

    do {
        out->len = 0;
        tb_encode_otlp_proto(res, spans, batch, out);
        num += batch;
        bytes += out->len;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    return (struct run_result){(double)num / elapsed, (double)bytes / elapsed};
}

int main(int argc, char **argv)
{
    static const struct tb_resource_attr attrs[] = {
        {"service.name", "checkout"},
        {"service.instance.id", "checkout-7d9f8b6c5-x2kqp"},
        {"host.name", "node-17.prod.example.com"},
        {"deployment.environment.name", "production"},
    };
    const struct tb_resource res = {attrs, TB_ARRAY_SIZE(attrs), "checkout",
                                    "checkout-7d9f8b6c5-x2kqp"};
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    long batch = argc > 3 ? atol(argv[3]) : 512;
    double rates[MAX_RUNS];
    struct tb_span *span_store;
    const struct tb_span **spans;
    struct tb_buf out = {0};

    if (seconds <= 0 || runs < 1 || runs > MAX_RUNS || batch < 1) {
        fprintf(stderr, "usage: %s [SECONDS_PER_RUN [RUNS (1-%d) [BATCH]]]\n", argv[0], MAX_RUNS);
        return 2;
    }
    span_store = calloc((size_t)batch, sizeof(*span_store));
    spans = calloc((size_t)batch, sizeof(*spans));
    if (span_store == NULL || spans == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (long i = 0; i < batch; i++) {
        make_span(&span_store[i], (size_t)i);
        spans[i] = &span_store[i];
    }

    run(&res, spans, (size_t)batch, seconds / 4, &out); /* warm caches and the buffer */
    printf("OTLP protobuf encoding, batches of %ld spans, %.1f s per run, one core\n", batch,
           seconds);
    printf("%-5s %16s %10s %12s\n", "run", "spans/s/core", "MB/s", "bytes/span");
    for (int r = 0; r < runs; r++) {
        struct run_result rr = run(&res, spans, (size_t)batch, seconds, &out);

        rates[r] = rr.spans_per_s;
        printf("%-5d %16.0f %10.1f %12.1f\n", r + 1, rr.spans_per_s, rr.bytes_per_s / 1e6,
               rr.bytes_per_s / rr.spans_per_s);
    }
    qsort(rates, (size_t)runs, sizeof(rates[0]), cmp_double);
    printf("median: %.0f spans/s/core (target >= 1000000): %s\n", rates[runs / 2],
           rates[runs / 2] >= 1e6 ? "ok" : "BELOW TARGET");
    tb_buf_free(&out);
    free(spans);
    free(span_store);
    return 0;
}
