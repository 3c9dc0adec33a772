/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/ottrace.c. Extraction is table-driven over
 * protocols.md §16 vector 34 and one case per rule of §5 (id lengths, both
 * or neither, sampled values, baggage only with a valid context); injection
 * asserts exact headers (vector 35: right-most 16 hex), sampling, raw
 * baggage and what is dropped; round trips read back what we write.
 */
#include <stdlib.h>
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

#define T "4bf92f3577b34da6a3ce929d0e0e4736"
#define T_LOW "a3ce929d0e0e4736"
#define T64 "0000000000000000a3ce929d0e0e4736"
#define S "00f067aa0ba902b7"
#define HOP "e457b5a2e4d86bd1" /* S', the hop's new span id */
#define ZERO32 "00000000000000000000000000000000"
#define ZERO16 "0000000000000000"

/* ------------------------------------------------------------------------ */
/* fixture                                                                  */

struct guard {
    char *p;
    size_t n;
};

struct fx {
    struct tb_arena *arena;
    struct tb_headers in;
    struct tb_headers out;
    struct tb_trace_ctx ctx;
    const char *why;
    size_t dropped; /* baggage_dropped of the last inject */
    struct guard guards[160];
    size_t num_guards;
};

static int setup(void **state)
{
    struct fx *fx = test_calloc(1, sizeof(*fx));

    fx->arena = tb_arena_new(4096, 1 << 20);
    *state = fx;
    return 0;
}

static void release_guards(struct fx *fx)
{
    for (size_t i = 0; i < fx->num_guards; i++)
        tb_test_guarded_free(fx->guards[i].p, fx->guards[i].n);
    fx->num_guards = 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    release_guards(fx);
    tb_arena_free(fx->arena);
    test_free(fx);
    return 0;
}

/* A guarded copy of `s`: reading past its end faults. */
static struct tb_iov guarded(struct fx *fx, const char *s)
{
    size_t n = strlen(s);
    char *p = tb_test_guarded(s, n);

    assert_true(fx->num_guards < TB_ARRAY_SIZE(fx->guards));
    fx->guards[fx->num_guards++] = (struct guard){p, n};
    return (struct tb_iov){p, n};
}

/* Runs the ottrace extract over the NULL-terminated name/value list `pairs`
 * (each string a guarded copy) into fx->ctx. */
static int extract(struct fx *fx, const char *const *pairs)
{
    int rc;

    release_guards(fx);
    tb_arena_reset(fx->arena);
    tb_headers_init(&fx->in);
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        struct tb_iov name = guarded(fx, pairs[i]);
        struct tb_iov value = guarded(fx, pairs[i + 1]);

        assert_int_equal(tb_headers_add(fx->arena, &fx->in, name, value), TB_OK);
    }
    tb_ctx_init(&fx->ctx, TB_FORMAT_OTTRACE);
    fx->why = NULL;
    rc = tb_propagator_ottrace.extract(&fx->in, fx->arena, &fx->ctx, &fx->why);
    if (rc == TB_EINVAL)
        assert_non_null(fx->why);
    return rc;
}

/* True when the `n` bytes at `id` are the hex digits `hex`. */
static bool id_is(const uint8_t *id, size_t n, const char *hex)
{
    char buf[33];

    tb_hex_encode(id, n, buf);
    buf[2 * n] = '\0';
    return strcmp(buf, hex) == 0;
}

/* The baggage as "k=v|k=v" (empty: none), in a static buffer. */
static const char *bag_str(const struct tb_baggage *bag)
{
    static char buf[4096];
    size_t n = 0;

    for (size_t i = 0; i < bag->num; i++) {
        const struct tb_baggage_item *it = &bag->items[i];

        assert_true(n + it->key.len + it->value.len + 3 < sizeof(buf));
        if (i > 0)
            buf[n++] = '|';
        memcpy(buf + n, it->key.base, it->key.len);
        n += it->key.len;
        buf[n++] = '=';
        memcpy(buf + n, it->value.base, it->value.len);
        n += it->value.len;
    }
    buf[n] = '\0';
    return buf;
}

/* A context to inject: trace `trace` (32 hex), `width`, `sampling`. */
static void ctx_set(struct tb_trace_ctx *ctx, const char *trace, uint8_t width,
                    enum tb_sampling sampling)
{
    tb_ctx_init(ctx, TB_FORMAT_TRACECONTEXT);
    assert_true(tb_lex_hex((struct tb_iov){trace, 32}, ctx->trace_id, 16, false));
    assert_true(tb_lex_hex(TB_IOV_LIT(S), ctx->span_id, 8, false));
    ctx->id_width = width;
    ctx->sampling = sampling;
    ctx->w3c_flags = tb_sampling_is_sampled(sampling) ? TB_W3C_FLAG_SAMPLED : 0;
}

/* Adds baggage `key`=`value` (C strings, kept by the caller) to `ctx`. */
static void bag_add(struct fx *fx, struct tb_trace_ctx *ctx, const char *key, const char *value)
{
    assert_int_equal(tb_baggage_put(fx->arena, &ctx->baggage, (struct tb_iov){key, strlen(key)},
                                    (struct tb_iov){value, strlen(value)}, TB_IOV_LIT("")),
                     TB_OK);
}

static struct tb_hop hop_new(void)
{
    struct tb_hop hop;

    memset(&hop, 0, sizeof(hop));
    assert_true(tb_lex_hex(TB_IOV_LIT(HOP), hop.span_id, 8, false));
    return hop;
}

/* Injects `ctx` into an emptied fx->out; fx->dropped counts dropped items. */
static int inject(struct fx *fx, const struct tb_trace_ctx *ctx)
{
    struct tb_hop hop = hop_new();

    tb_headers_init(&fx->out);
    fx->dropped = 0;
    return tb_propagator_ottrace.inject(ctx, &hop, fx->arena, &fx->out, &fx->dropped);
}

/* ------------------------------------------------------------------------ */
/* table-driven extraction                                                  */

struct extract_case {
    const char *name;
    const char *hdrs[16]; /* name, value, ..., NULL */
    int rc;
    const char *trace; /* 32 hex; NULL: all zero */
    const char *span;  /* 16 hex; NULL: all zero */
    uint8_t width;
    enum tb_sampling sampling;
    const char *baggage; /* bag_str form; NULL: none */
    size_t dropped;
};

#define OK TB_OK
#define INVAL TB_EINVAL
#define NOTFOUND TB_ENOTFOUND
#define DEFER TB_SAMPLING_DEFER
#define ACCEPT TB_SAMPLING_ACCEPT
#define DENY TB_SAMPLING_DENY
#define TID "ot-tracer-traceid"
#define SID "ot-tracer-spanid"
#define SMP "ot-tracer-sampled"
#define IDS TID, T, SID, S

/* A case that fails with `rc`; one that succeeds with these ids (NULL:
 * zero), width, sampling, baggage and drop count. */
#define BAD(n, rc, ...)                                                                            \
    {                                                                                              \
        n, {__VA_ARGS__}, rc, NULL, NULL, 0, DEFER, NULL, 0                                        \
    }
#define GOOD(n, trace, span, width, sampling, bag, dropped, ...)                                   \
    {                                                                                              \
        n, {__VA_ARGS__}, OK, trace, span, width, sampling, bag, dropped                           \
    }

/* Fails the running case, naming it, unless `cond` holds. */
#define CHECK(c, cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("case \"%s\": %s\n", (c)->name, #cond);                                    \
            _fail(__FILE__, __LINE__);                                                             \
        }                                                                                          \
    } while (0)

static void run_cases(struct fx *fx, const struct extract_case *cases, size_t num)
{
    for (size_t i = 0; i < num; i++) {
        const struct extract_case *c = &cases[i];
        int rc = extract(fx, c->hdrs);
        const struct tb_trace_ctx *x = &fx->ctx;

        if (rc != c->rc)
            print_error("rc %d, expected %d (why: %s)\n", rc, c->rc, fx->why ? fx->why : "-");
        CHECK(c, rc == c->rc);
        if (rc != TB_OK)
            continue;
        CHECK(c, id_is(x->trace_id, 16, c->trace ? c->trace : ZERO32));
        CHECK(c, id_is(x->span_id, 8, c->span ? c->span : ZERO16));
        CHECK(c, x->id_width == (c->width ? c->width : 128));
        CHECK(c, x->sampling == c->sampling);
        CHECK(c, x->w3c_flags == (tb_sampling_is_sampled(c->sampling) ? TB_W3C_FLAG_SAMPLED : 0));
        CHECK(c, x->format == TB_FORMAT_OTTRACE);
        CHECK(c, x->extras == 0);
        if (strcmp(bag_str(&x->baggage), c->baggage ? c->baggage : "") != 0)
            print_error("baggage \"%s\"\n", bag_str(&x->baggage));
        CHECK(c, strcmp(bag_str(&x->baggage), c->baggage ? c->baggage : "") == 0);
        CHECK(c, x->baggage.dropped == c->dropped);
    }
}

static const struct extract_case cases[] = {
    /* §16 vector 34 */
    GOOD("34", T64, S, 64, ACCEPT, "test=value123", 0, TID, T_LOW, SID, S, SMP, "true",
         "ot-baggage-test", "value123"),
    /* ids (§5) */
    GOOD("32-digit trace", T, S, 128, DEFER, NULL, 0, IDS),
    GOOD("32-digit trace, zero high half", T64, S, 128, DEFER, NULL, 0, TID, T64, SID, S),
    BAD("trace 15", INVAL, TID, "a3ce929d0e0e473", SID, S),
    BAD("trace 17", INVAL, TID, "0a3ce929d0e0e4736", SID, S),
    BAD("trace 31", INVAL, TID, "bf92f3577b34da6a3ce929d0e0e4736", SID, S),
    BAD("trace upper", INVAL, TID, "A3CE929D0E0E4736", SID, S),
    BAD("trace zero 16", INVAL, TID, ZERO16, SID, S),
    BAD("trace zero 32", INVAL, TID, ZERO32, SID, S),
    BAD("trace empty", INVAL, TID, "", SID, S),
    BAD("span 15", INVAL, TID, T, SID, "0f067aa0ba902b7"),
    BAD("span 32", INVAL, TID, T, SID, T),
    BAD("span zero", INVAL, TID, T, SID, ZERO16),
    BAD("span upper", INVAL, TID, T, SID, "00F067AA0BA902B7"),
    BAD("trace alone", INVAL, TID, T, SMP, "true"),
    BAD("span alone", INVAL, SID, S),
    GOOD("first trace id wins", T, S, 128, DEFER, NULL, 0, TID, T, TID, T_LOW, SID, S),
    GOOD("mixed-case names", T, S, 128, ACCEPT, NULL, 0, "OT-Tracer-TraceId", T, "Ot-Tracer-SpanId",
         S, "OT-TRACER-SAMPLED", "true"),
    /* sampled (§5) */
    GOOD("sampled false", T, S, 128, DENY, NULL, 0, IDS, SMP, "false"),
    GOOD("sampled TRUE", T, S, 128, ACCEPT, NULL, 0, IDS, SMP, "TRUE"),
    GOOD("sampled False", T, S, 128, DENY, NULL, 0, IDS, SMP, "False"),
    GOOD("sampled 1", T, S, 128, ACCEPT, NULL, 0, IDS, SMP, "1"),
    GOOD("sampled 0", T, S, 128, DENY, NULL, 0, IDS, SMP, "0"),
    BAD("sampled yes", INVAL, IDS, SMP, "yes"),
    BAD("sampled empty", INVAL, IDS, SMP, ""),
    BAD("sampled t", INVAL, IDS, SMP, "t"),
    GOOD("sampled alone: sampling-only", NULL, NULL, 128, DENY, NULL, 0, SMP, "false"),
    /* baggage (§5, §12.3) */
    GOOD("baggage key lower-cased, value raw", T, S, 128, ACCEPT, "userid=Am%C3 x|k2=", 0, IDS, SMP,
         "1", "OT-Baggage-UserId", "Am%C3 x", "ot-baggage-k2", ""),
    GOOD("baggage empty key dropped", T, S, 128, DEFER, "k=v", 1, IDS, "ot-baggage-", "x",
         "ot-baggage-k", "v"),
    GOOD("baggage last wins", T, S, 128, DEFER, "k=2", 0, IDS, "ot-baggage-k", "1", "ot-baggage-K",
         "2"),
    GOOD("no baggage without ids", NULL, NULL, 128, ACCEPT, NULL, 0, SMP, "true", "ot-baggage-k",
         "v"),
    BAD("baggage alone", NOTFOUND, "ot-baggage-k", "v"),
    BAD("invalid ids: baggage not taken", INVAL, TID, T, SID, ZERO16, "ot-baggage-k", "v"),
    GOOD("other prefixes ignored", T, S, 128, DEFER, NULL, 0, IDS, "ot-baggagek", "v", "uberctx-k",
         "v"),
    BAD("nothing", NOTFOUND, "Host", "example", "b3", T "-" S "-1"),
};

static void test_ottrace_extract__cases(void **state)
{
    run_cases(*state, cases, TB_ARRAY_SIZE(cases));
}

static void test_ottrace_extract__baggage_limits(void **state)
{
    static char names[66][24];
    const char *pairs[2 * 66 + 5];
    struct fx *fx = *state;
    size_t n = 0;

    pairs[n++] = TID;
    pairs[n++] = T;
    pairs[n++] = SID;
    pairs[n++] = S;
    for (size_t i = 0; i < 65; i++) {
        snprintf(names[i], sizeof(names[i]), "ot-baggage-k%zu", i);
        pairs[n++] = names[i];
        pairs[n++] = "v";
    }
    pairs[n] = NULL;
    /* the item limit: 64 kept, the 65th dropped and counted */
    assert_int_equal(extract(fx, pairs), TB_OK);
    assert_int_equal(fx->ctx.baggage.num, 64);
    assert_int_equal(fx->ctx.baggage.dropped, 1);
    assert_true(tb_test_iov_eq(fx->ctx.baggage.items[63].key, "k63"));

    /* the byte limit: one value of 8000 bytes and one of 200 */
    {
        static char big[8001], medium[201];

        memset(big, 'x', 8000);
        memset(medium, 'y', 200);
        n = 4;
        pairs[n++] = "ot-baggage-big";
        pairs[n++] = big;
        pairs[n++] = "ot-baggage-medium";
        pairs[n++] = medium;
        pairs[n] = NULL;
        assert_int_equal(extract(fx, pairs), TB_OK);
        assert_int_equal(fx->ctx.baggage.num, 1);
        assert_int_equal(fx->ctx.baggage.dropped, 1);
        assert_true(tb_test_iov_eq(fx->ctx.baggage.items[0].key, "big"));
    }
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

/* §16 vector 35: the right-most 16 hex digits. */
static void test_ottrace_inject__vector_35(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, "a1ce929d0e0e4736a3ce929d0e0e4736", 128, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "ot-tracer-traceid", "a3ce929d0e0e4736", "ot-tracer-spanid", HOP,
                   "ot-tracer-sampled", "true");
    assert_int_equal(fx->out.entries[0].token, TB_HDR_OT_TRACER_TRACEID);
    assert_int_equal(fx->out.entries[1].token, TB_HDR_OT_TRACER_SPANID);
    assert_int_equal(fx->out.entries[2].token, TB_HDR_OT_TRACER_SAMPLED);
}

static void test_ottrace_inject__sampling_states(void **state)
{
    static const struct {
        enum tb_sampling sampling;
        const char *value;
    } states[] = {
        {TB_SAMPLING_ACCEPT, "true"},
        {TB_SAMPLING_DEBUG, "true"},
        {TB_SAMPLING_DENY, "false"},
        {TB_SAMPLING_DEFER, "false"},
    };
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    for (size_t i = 0; i < TB_ARRAY_SIZE(states); i++) {
        ctx_set(&ctx, T, 128, states[i].sampling);
        assert_int_equal(inject(fx, &ctx), TB_OK);
        assert_headers(&fx->out, "ot-tracer-traceid", T_LOW, "ot-tracer-spanid", HOP,
                       "ot-tracer-sampled", states[i].value);
    }
}

static void test_ottrace_inject__widths(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T64, 64, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "ot-tracer-traceid", T_LOW, "ot-tracer-spanid", HOP,
                   "ot-tracer-sampled", "true");
    /* Truncation would give an all-zero id: the 32-digit form instead. */
    ctx_set(&ctx, "a1ce929d0e0e47360000000000000000", 128, TB_SAMPLING_DENY);
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "ot-tracer-traceid", "a1ce929d0e0e47360000000000000000",
                   "ot-tracer-spanid", HOP, "ot-tracer-sampled", "false");
}

/* Raw values; lower-cased keys; properties left out. */
static void test_ottrace_inject__baggage(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    bag_add(fx, &ctx, "key1", "value 1 / blah");
    bag_add(fx, &ctx, "UserId", "Am\xc3\xa9lie");
    bag_add(fx, &ctx, "pct", "a%20b,c=d;e");
    bag_add(fx, &ctx, "empty", "");
    assert_int_equal(tb_baggage_put(fx->arena, &ctx.baggage, TB_IOV_LIT("p"), TB_IOV_LIT("5"),
                                    TB_IOV_LIT("prop=1")),
                     TB_OK);
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "ot-tracer-traceid", T_LOW, "ot-tracer-spanid", HOP,
                   "ot-tracer-sampled", "true", "ot-baggage-key1", "value 1 / blah",
                   "ot-baggage-userid", "Am\xc3\xa9lie", "ot-baggage-pct", "a%20b,c=d;e",
                   "ot-baggage-empty", "", "ot-baggage-p", "5");
    assert_int_equal(fx->out.entries[3].token, TB_HDR_UNKNOWN);
    assert_int_equal(fx->dropped, 0);
}

/* What a header cannot carry is dropped whole and counted. */
static void test_ottrace_inject__baggage_dropped(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    bag_add(fx, &ctx, "crlf", "a\r\nx-injected: 1");
    bag_add(fx, &ctx, "nul", "a");
    ctx.baggage.items[1].value = (struct tb_iov){"a\0b", 3};
    bag_add(fx, &ctx, "tab", "a\tb");
    bag_add(fx, &ctx, "del", "a\x7f");
    bag_add(fx, &ctx, "bad key", "v");
    bag_add(fx, &ctx, "Dup", "1");
    bag_add(fx, &ctx, "dup", "2");
    bag_add(fx, &ctx, "ok", "v");
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "ot-tracer-traceid", T_LOW, "ot-tracer-spanid", HOP,
                   "ot-tracer-sampled", "true", "ot-baggage-dup", "1", "ot-baggage-ok", "v");
    assert_int_equal(fx->dropped, 6);
}

/* No valid context: nothing at all, baggage included (§5). */
static void test_ottrace_inject__no_trace(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    tb_ctx_init(&ctx, TB_FORMAT_OTTRACE);
    ctx.sampling = TB_SAMPLING_ACCEPT;
    bag_add(fx, &ctx, "k", "v");
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_int_equal(fx->out.num, 0);
    assert_int_equal(fx->dropped, 0);
}

static void test_ottrace_inject__appends(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_new();
    size_t dropped = 2;

    ctx_set(&ctx, T, 128, TB_SAMPLING_DENY);
    bag_add(fx, &ctx, "k", "\x01");
    tb_headers_init(&fx->out);
    assert_int_equal(tb_headers_add(fx->arena, &fx->out, TB_IOV_LIT("Host"), TB_IOV_LIT("a")),
                     TB_OK);
    assert_int_equal(tb_propagator_ottrace.inject(&ctx, &hop, fx->arena, &fx->out, &dropped),
                     TB_OK);
    assert_headers(&fx->out, "Host", "a", "ot-tracer-traceid", T_LOW, "ot-tracer-spanid", HOP,
                   "ot-tracer-sampled", "false");
    assert_int_equal(dropped, 3);
}

static void test_ottrace_inject__arena_full(void **state)
{
    struct fx *fx = *state;
    struct tb_arena *small = tb_arena_new(64, 64);
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_new();
    struct tb_headers out;
    size_t dropped = 0;

    (void)fx;
    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    while (tb_arena_alloc(small, 1) != NULL)
        ;
    tb_headers_init(&out);
    assert_int_equal(tb_propagator_ottrace.inject(&ctx, &hop, small, &out, &dropped), TB_ENOSPC);
    tb_arena_free(small);
}

/* ------------------------------------------------------------------------ */
/* round trips                                                              */

/* Injects `ctx`, feeds the output back to extract. */
static void round_trip(struct fx *fx, const struct tb_trace_ctx *ctx)
{
    const char *pairs[2 * 16 + 1];
    size_t n = 0;

    assert_int_equal(inject(fx, ctx), TB_OK);
    assert_true(fx->out.num * 2 < TB_ARRAY_SIZE(pairs));
    for (size_t i = 0; i < fx->out.num; i++) {
        const struct tb_header *h = &fx->out.entries[i];
        char *name = test_calloc(1, h->name.len + 1);
        char *value = test_calloc(1, h->value.len + 1);

        memcpy(name, h->name.base, h->name.len);
        memcpy(value, h->value.base, h->value.len);
        pairs[n++] = name;
        pairs[n++] = value;
    }
    pairs[n] = NULL;
    assert_int_equal(extract(fx, pairs), TB_OK);
    for (size_t i = 0; i < n; i++)
        test_free((void *)pairs[i]);
    assert_true(id_is(fx->ctx.span_id, 8, HOP));
}

static void test_ottrace__round_trips(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    /* 128 bits leave as the right half and come back 64-bit (lossy, §5). */
    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    bag_add(fx, &ctx, "key1", "value 1 / blah");
    bag_add(fx, &ctx, "utf8", "Am\xc3\xa9lie");
    round_trip(fx, &ctx);
    assert_true(id_is(fx->ctx.trace_id, 16, T64));
    assert_int_equal(fx->ctx.id_width, 64);
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_ACCEPT);
    assert_string_equal(bag_str(&fx->ctx.baggage), "key1=value 1 / blah|utf8=Am\xc3\xa9lie");

    /* DEBUG and DEFER do not survive: OT has only true and false. */
    ctx_set(&ctx, T, 128, TB_SAMPLING_DEBUG);
    round_trip(fx, &ctx);
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_ACCEPT);
    ctx_set(&ctx, T, 128, TB_SAMPLING_DEFER);
    round_trip(fx, &ctx);
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DENY);
}

static void test_ottrace__round_trip_64_bit(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T64, 64, TB_SAMPLING_DENY);
    round_trip(fx, &ctx);
    assert_memory_equal(fx->ctx.trace_id, ctx.trace_id, 16);
    assert_int_equal(fx->ctx.id_width, 64);
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DENY);
}

static void test_ottrace__codec_table(void **state)
{
    (void)state;
    assert_string_equal(tb_propagator_ottrace.name, "ottrace");
    assert_int_equal(tb_propagator_ottrace.format, TB_FORMAT_OTTRACE);
    assert_int_equal(tb_propagator_ottrace.num_tokens, 3);
    assert_int_equal(tb_propagator_ottrace.tokens[0], TB_HDR_OT_TRACER_TRACEID);
    assert_int_equal(tb_propagator_ottrace.tokens[1], TB_HDR_OT_TRACER_SPANID);
    assert_int_equal(tb_propagator_ottrace.tokens[2], TB_HDR_OT_TRACER_SAMPLED);
    assert_string_equal(tb_propagator_ottrace.baggage_prefix, "ot-baggage-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T_(test_ottrace_extract__cases),
        T_(test_ottrace_extract__baggage_limits),
        T_(test_ottrace_inject__vector_35),
        T_(test_ottrace_inject__sampling_states),
        T_(test_ottrace_inject__widths),
        T_(test_ottrace_inject__baggage),
        T_(test_ottrace_inject__baggage_dropped),
        T_(test_ottrace_inject__no_trace),
        T_(test_ottrace_inject__appends),
        T_(test_ottrace_inject__arena_full),
        T_(test_ottrace__round_trips),
        T_(test_ottrace__round_trip_64_bit),
        T_(test_ottrace__codec_table),
#undef T_
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
