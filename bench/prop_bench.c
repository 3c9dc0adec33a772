/* SPDX-License-Identifier: MIT
 * Micro-benchmark of the propagation step of the data path: what
 * proxy/hop.c does per request between parsing the head and connecting
 * upstream. Each iteration resets the request arena, restores the parsed
 * header table (about 12 ordinary headers plus the context headers), runs
 * tb_prop_extract, starts a root when nothing arrived, draws the hop's span
 * id and runs tb_prop_inject. The table is restored with one memcpy, which
 * the "base" column measures alone; the figures reported are the median
 * over several runs of (iteration - base), in ns, with the extract part
 * (tb_prop_extract and the root) measured apart.
 *
 * usage: prop_bench [-r RUNS] [-t MS_PER_RUN] [-s SCENARIO_SUBSTRING] [-v]
 * Built and run pinned to one core by bench/prop.sh (`make bench`).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/rand.h"
#include "common/tb.h"
#include "parsers/headers.h"
#include "propagators/policy.h"
#include "propagators/propagator.h"

#define MAX_RUNS 31

/* An ordinary browser/API request: 12 headers. */
#define ORDINARY                                                                                   \
    "Host", "orders.internal:8080", "User-Agent",                                                  \
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "                  \
        "Chrome/120.0 Safari/537.36",                                                              \
        "Accept", "application/json, text/plain, */*", "Accept-Encoding", "gzip, deflate, br",     \
        "Accept-Language", "en-US,en;q=0.9", "Content-Type", "application/json", "Content-Length", \
        "348", "Authorization",                                                                    \
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",          \
        "Cookie", "session=6f1c2e9a7b; theme=dark; lang=en", "X-Request-Id",                       \
        "9f0c3c3e-2f1b-4b1e-9d0a-1c2d3e4f5a6b", "X-Forwarded-For", "203.0.113.7", "Cache-Control", \
        "no-cache"

#define T "4bf92f3577b34da6a3ce929d0e0e4736"
#define S "00f067aa0ba902b7"

/* protocols.md §16 vector 47: a Java agent's sw8. */
#define SW8_47                                                                                     \
    "1-ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMQ==-"                  \
    "ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMA==-2-c3ZjLWE=-"         \
    "aW5zdC1hQDEwLjAuMC41-L2EvZ2V0-MTAuMC4wLjY6ODA4MA=="
/* §16 vector 48: sw8 for trace T (what another tracebridge sends). */
#define SW8_T                                                                                      \
    "1-NGJmOTJmMzU3N2IzNGRhNmEzY2U5MjlkMGUwZTQ3MzY=-"                                              \
    "MDBmMDY3YWEwYmE5MDJiNzAwMDAwMDAwMDAwMDAwMDA=-0-ZnJvbnRlbmQ=-ZnJvbnRlbmQtMUAxMC4wLjAuMQ==-"    \
    "R0VUOi9hcGkvb3JkZXJz-b3JkZXJzOjgwODA="

static const char *const req_sw8[] = {ORDINARY, "sw8", SW8_47, NULL};
static const char *const req_w3c[] = {ORDINARY,
                                      "traceparent",
                                      "00-" T "-" S "-01",
                                      "tracestate",
                                      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
                                      "baggage",
                                      "userId=alice,serverNode=DF%2028,isProduction=false",
                                      NULL};
static const char *const req_b3[] = {ORDINARY, "X-B3-TraceId", T,   "X-B3-SpanId",
                                     S,        "X-B3-Sampled", "1", NULL};
static const char *const req_none[] = {ORDINARY, NULL};
static const char *const req_all[] = {
    ORDINARY,
    "traceparent",
    "00-" T "-" S "-01",
    "tracestate",
    "congo=t61rcWkgMzE",
    "baggage",
    "userId=alice",
    "b3",
    T "-" S "-1",
    "X-B3-TraceId",
    T,
    "X-B3-SpanId",
    S,
    "X-B3-Sampled",
    "1",
    "uber-trace-id",
    T ":" S ":0:1",
    "uberctx-tenant",
    "acme",
    "X-Amzn-Trace-Id",
    "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=" S ";Sampled=1",
    "ot-tracer-traceid",
    "a3ce929d0e0e4736",
    "ot-tracer-spanid",
    S,
    "ot-tracer-sampled",
    "true",
    "x-datadog-trace-id",
    "11803532876627986230",
    "x-datadog-parent-id",
    "67667974448284343",
    "x-datadog-sampling-priority",
    "1",
    "x-datadog-tags",
    "_dd.p.tid=4bf92f3577b34da6",
    "sw8",
    SW8_T,
    "EagleEye-TraceId",
    T,
    "EagleEye-RpcId",
    "0.1",
    NULL,
};

struct scenario {
    const char *name;
    const char *const *request;
    const char *inject; /* --propagators */
    int winner;         /* expected, checked once: a bench must measure the right thing */
    double target_ns;   /* 0: none */
};

static const struct scenario scenarios[] = {
    {"sw8 in -> tracecontext + b3", req_sw8, "tracecontext,b3", TB_FORMAT_SW8, 300},
    {"W3C in -> W3C + baggage", req_w3c, "tracecontext,baggage", TB_FORMAT_TRACECONTEXT, 0},
    {"B3 (X-B3-*) in -> W3C", req_b3, "tracecontext", TB_FORMAT_B3, 0},
    {"no context -> W3C (new root)", req_none, "tracecontext", -1, 0},
    {"all formats in -> W3C + baggage", req_all, "tracecontext,baggage", TB_FORMAT_TRACECONTEXT, 0},
    {"all formats in -> all formats", req_all,
     "tracecontext,baggage,b3,b3multi,jaeger,xray,ottrace,datadog,sw8,eagleeye",
     TB_FORMAT_TRACECONTEXT, 0},
};

struct bench {
    struct tb_arena *arena;
    struct tb_prop_policy policy;
    struct tb_header *tmpl; /* the parsed request, restored each iteration */
    size_t num, cap;
    struct tb_rng rng;
    struct tb_hop hop;
    uint64_t sink;
};

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The parsed head as the proxy holds it: an arena-owned table. */
static struct tb_headers *restore(struct bench *b)
{
    struct tb_headers *h = tb_arena_alloc(b->arena, sizeof(*h));

    h->entries = tb_arena_alloc(b->arena, b->cap * sizeof(*h->entries));
    memcpy(h->entries, b->tmpl, b->num * sizeof(*h->entries));
    h->num = b->num;
    h->cap = b->cap;
    return h;
}

enum work {
    WORK_BASE,    /* arena reset and table restore only */
    WORK_EXTRACT, /* ... and tb_prop_extract (+ a root when nothing arrived) */
    WORK_ALL,     /* ... and the hop's span id and tb_prop_inject */
};

static void iteration(struct bench *b, enum work work, uint32_t *written_out, int *winner_out)
{
    struct tb_headers *h;
    struct tb_extraction *ext;
    uint32_t written = 0;
    size_t dropped = 0;

    tb_arena_reset(b->arena);
    h = restore(b);
    if (work == WORK_BASE) {
        b->sink += h->num;
        return;
    }
    ext = tb_arena_alloc(b->arena, sizeof(*ext));
    if (tb_prop_extract(&b->policy, h, b->arena, ext) != TB_OK)
        tb_fatal("extract failed");
    if (winner_out != NULL)
        *winner_out = ext->winner;
    if (ext->winner < 0) {
        uint8_t trace_id[16];

        tb_rng_trace_id(&b->rng, trace_id);
        tb_prop_start_root(ext, trace_id);
    }
    if (work == WORK_EXTRACT) {
        b->sink += ext->ctx.trace_id[15];
        return;
    }
    tb_rng_span_id(&b->rng, b->hop.span_id);
    if (tb_prop_inject(&b->policy, ext, &b->hop, b->arena, h, &written, &dropped) != TB_OK)
        tb_fatal("inject failed");
    if (written_out != NULL)
        *written_out = written;
    b->sink += h->num + written;
}

/* ns per iteration over `iters` iterations. */
static double measure(struct bench *b, enum work work, uint64_t iters)
{
    double t0 = now_ns();

    for (uint64_t i = 0; i < iters; i++)
        iteration(b, work, NULL, NULL);
    return (now_ns() - t0) / (double)iters;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void setup(struct bench *b, const struct scenario *sc)
{
    struct tb_headers h;
    struct tb_iov bad;

    tb_arena_reset(b->arena);
    tb_headers_init(&h);
    for (size_t i = 0; sc->request[i] != NULL; i += 2)
        if (tb_headers_add(b->arena, &h, (struct tb_iov){sc->request[i], strlen(sc->request[i])},
                           (struct tb_iov){sc->request[i + 1], strlen(sc->request[i + 1])}) !=
            TB_OK)
            tb_fatal("bench: header table");
    free(b->tmpl);
    b->tmpl = malloc((h.num ? h.num : 1) * sizeof(*b->tmpl));
    memcpy(b->tmpl, h.entries, h.num * sizeof(*b->tmpl));
    b->num = h.num;
    b->cap = h.cap > h.num ? h.cap : h.num + 1;
    if (tb_prop_policy_defaults(&b->policy, sc->inject, &bad) != TB_OK)
        tb_fatal("bench: bad inject list '%s'", sc->inject);
}

static void usage(void)
{
    fprintf(stderr, "usage: prop_bench [-r RUNS (1-%d)] [-t MS_PER_RUN] [-s SCENARIO] [-v]\n",
            MAX_RUNS);
    exit(2);
}

int main(int argc, char **argv)
{
    struct bench b;
    int runs = 7, ms = 200, opt;
    bool verbose = false, over_target = false;
    const char *only = NULL;

    while ((opt = getopt(argc, argv, "r:t:s:v")) != -1) {
        if (opt == 's')
            only = optarg;
        else if (opt == 'r')
            runs = atoi(optarg);
        else if (opt == 't')
            ms = atoi(optarg);
        else if (opt == 'v')
            verbose = true;
        else
            usage();
    }
    if (runs < 1 || runs > MAX_RUNS || ms < 1)
        usage();
    memset(&b, 0, sizeof(b));
    /* The proxy's request arena: 16 KiB first block, 64 KiB cap. */
    b.arena = tb_arena_new(16 * 1024, 64 * 1024);
    if (tb_rng_seed(&b.rng) != TB_OK)
        tb_fatal("no entropy");
    b.hop.service = TB_IOV_LIT("frontend");
    b.hop.instance = TB_IOV_LIT("frontend-1@10.0.0.1");
    b.hop.endpoint = TB_IOV_LIT("POST:/api/orders");
    b.hop.target = TB_IOV_LIT("orders.internal:8080");

    printf("tracebridge propagation micro-benchmark: extract + inject per request\n");
    printf("%d runs of ~%d ms per scenario, median of (iteration - base); arena reset per "
           "iteration\n\n",
           runs, ms);
    printf("%-34s %4s %8s %8s %8s %8s %8s %6s %7s\n", "scenario", "hdrs", "median", "min", "max",
           "extract", "inject", "base", "target");
    for (size_t s = 0; s < TB_ARRAY_SIZE(scenarios); s++) {
        const struct scenario *sc = &scenarios[s];
        double net[MAX_RUNS], ext[MAX_RUNS], base[MAX_RUNS], per;
        uint64_t iters;
        uint32_t written;
        int winner;

        if (only != NULL && strstr(sc->name, only) == NULL)
            continue;
        setup(&b, sc);
        /* Check once what is being measured. */
        iteration(&b, WORK_ALL, &written, &winner);
        if (winner != sc->winner)
            tb_fatal("bench: %s: winner %d, expected %d", sc->name, winner, sc->winner);
        if (verbose) {
            struct tb_headers *h;
            struct tb_extraction *ext;
            uint32_t w;
            size_t d;

            tb_arena_reset(b.arena);
            h = restore(&b);
            ext = tb_arena_alloc(b.arena, sizeof(*ext));
            tb_prop_extract(&b.policy, h, b.arena, ext);
            if (ext->winner < 0) {
                uint8_t id[16];

                tb_rng_trace_id(&b.rng, id);
                tb_prop_start_root(ext, id);
            }
            tb_prop_inject(&b.policy, ext, &b.hop, b.arena, h, &w, &d);
            printf("  %s: sent upstream\n", sc->name);
            for (size_t i = 0; i < h->num; i++)
                printf("    %.*s: %.*s\n", (int)h->entries[i].name.len, h->entries[i].name.base,
                       (int)h->entries[i].value.len, h->entries[i].value.base);
        }
        /* Calibrate: iterations for ~ms per run. */
        per = measure(&b, WORK_ALL, 2000);
        iters = (uint64_t)((double)ms * 1e6 / (per > 1 ? per : 1));
        if (iters < 1000)
            iters = 1000;
        measure(&b, WORK_ALL, iters / 4); /* warm up */
        for (int r = 0; r < runs; r++) {
            base[r] = measure(&b, WORK_BASE, iters);
            ext[r] = measure(&b, WORK_EXTRACT, iters) - base[r];
            net[r] = measure(&b, WORK_ALL, iters) - base[r];
        }
        qsort(net, (size_t)runs, sizeof(double), cmp_double);
        qsort(ext, (size_t)runs, sizeof(double), cmp_double);
        qsort(base, (size_t)runs, sizeof(double), cmp_double);
        printf("%-34s %4zu %8.0f %8.0f %8.0f %8.0f %8.0f %6.1f ", sc->name, b.num, net[runs / 2],
               net[0], net[runs - 1], ext[runs / 2], net[runs / 2] - ext[runs / 2], base[runs / 2]);
        if (sc->target_ns > 0) {
            printf("%6.0f%s\n", sc->target_ns, net[runs / 2] <= sc->target_ns ? "" : " !");
            over_target |= net[runs / 2] > sc->target_ns;
        } else {
            printf("%7s\n", "-");
        }
    }
    printf("\nns per request (extract + inject); 'extract' and 'inject' split the median;"
           "\n'base' is the arena reset and table restore alone, not included;"
           "\n'!' marks a median over its target. sink=%llu\n",
           (unsigned long long)(b.sink & 1));
    if (over_target)
        printf("warning: a scenario is over its target\n");
    free(b.tmpl);
    tb_arena_free(b.arena);
    return 0;
}
