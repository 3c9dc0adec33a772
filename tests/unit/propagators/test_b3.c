/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/b3.c: the `b3` and `b3multi` codecs. Extraction
 * is table-driven over protocols.md §16 vectors 22-28 and one case per rule
 * of §3 (syntax, widths, sampling states, first value wins, single/multi
 * precedence); injection asserts the exact headers for every sampling state
 * and width; round trips check that what we write we read back.
 */
#include <stdlib.h>
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

#define T "4bf92f3577b34da6a3ce929d0e0e4736"
#define S "00f067aa0ba902b7"
#define P "b7ad6b7169203331"
#define HOP "e457b5a2e4d86bd1" /* S', the hop's new span id */
#define ZERO32 "00000000000000000000000000000000"

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
    struct guard guards[64];
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

/* Runs `codec`'s extract over the NULL-terminated name/value list `pairs`
 * (each string a guarded copy) into fx->ctx. */
static int extract(struct fx *fx, const struct tb_propagator *codec, const char *const *pairs)
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
    tb_ctx_init(&fx->ctx, codec->format);
    fx->why = NULL;
    rc = codec->extract(&fx->in, fx->arena, &fx->ctx, &fx->why);
    if (rc == TB_EINVAL)
        assert_non_null(fx->why);
    return rc;
}

#define EXTRACT(fx, codec, ...) extract((fx), (codec), (const char *const[]){__VA_ARGS__, NULL})

/* Fails unless the `n` bytes at `id` are the hex digits `hex`. */
static void assert_id(const uint8_t *id, size_t n, const char *hex)
{
    char buf[33];

    tb_hex_encode(id, n, buf);
    buf[2 * n] = '\0';
    assert_string_equal(buf, hex);
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

static struct tb_hop hop_new(void)
{
    struct tb_hop hop;

    memset(&hop, 0, sizeof(hop));
    assert_true(tb_lex_hex(TB_IOV_LIT(HOP), hop.span_id, 8, false));
    return hop;
}

/* Injects `ctx` with `codec` into an emptied fx->out. */
static int inject(struct fx *fx, const struct tb_propagator *codec, const struct tb_trace_ctx *ctx)
{
    struct tb_hop hop = hop_new();
    size_t dropped = 0;
    int rc;

    tb_headers_init(&fx->out);
    rc = codec->inject(ctx, &hop, fx->arena, &fx->out, &dropped);
    assert_int_equal(dropped, 0); /* B3 has no baggage carrier: nothing counted */
    return rc;
}

/* ------------------------------------------------------------------------ */
/* table-driven extraction                                                  */

struct extract_case {
    const char *name;
    const struct tb_propagator *codec;
    const char *hdrs[14]; /* name, value, ..., NULL */
    int rc;
    const char *trace; /* 32 hex; NULL: all zero (sampling-only) */
    const char *span;  /* 16 hex; NULL: all zero */
    uint8_t width;
    enum tb_sampling sampling;
    const char *parent; /* kept ParentSpanId, NULL: none */
};

#define B3 (&tb_propagator_b3)
#define MULTI (&tb_propagator_b3multi)
#define OK TB_OK
#define INVAL TB_EINVAL
#define NOTFOUND TB_ENOTFOUND
#define DEFER TB_SAMPLING_DEFER
#define ACCEPT TB_SAMPLING_ACCEPT
#define DENY TB_SAMPLING_DENY
#define DEBUG TB_SAMPLING_DEBUG
#define T64 "0000000000000000a3ce929d0e0e4736"

/* Fails the running case, naming it, unless `cond` holds. */
#define CHECK(c, cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("case \"%s\": %s\n", (c)->name, #cond);                                    \
            _fail(__FILE__, __LINE__);                                                             \
        }                                                                                          \
    } while (0)

/* True when the `n` bytes at `id` are the hex digits `hex`. */
static bool id_is(const uint8_t *id, size_t n, const char *hex)
{
    char buf[33];

    tb_hex_encode(id, n, buf);
    buf[2 * n] = '\0';
    return strcmp(buf, hex) == 0;
}

static void run_cases(struct fx *fx, const struct extract_case *cases, size_t num)
{
    for (size_t i = 0; i < num; i++) {
        const struct extract_case *c = &cases[i];
        int rc = extract(fx, c->codec, c->hdrs);

        if (rc != c->rc)
            print_error("rc %d, expected %d (why: %s)\n", rc, c->rc, fx->why ? fx->why : "-");
        CHECK(c, rc == c->rc);
        if (rc != TB_OK)
            continue;
        CHECK(c, id_is(fx->ctx.trace_id, 16, c->trace ? c->trace : ZERO32));
        CHECK(c, id_is(fx->ctx.span_id, 8, c->span ? c->span : "0000000000000000"));
        CHECK(c, fx->ctx.id_width == (c->width ? c->width : 128));
        CHECK(c, fx->ctx.sampling == c->sampling);
        CHECK(c,
              fx->ctx.w3c_flags == (tb_sampling_is_sampled(c->sampling) ? TB_W3C_FLAG_SAMPLED : 0));
        CHECK(c, fx->ctx.format == c->codec->format);
        CHECK(c, fx->ctx.b3.has_parent_span_id == (c->parent != NULL));
        CHECK(c, ((fx->ctx.extras & TB_FORMAT_BIT(c->codec->format)) != 0) == (c->parent != NULL));
        CHECK(c, c->parent == NULL || id_is(fx->ctx.b3.parent_span_id, 8, c->parent));
        CHECK(c, fx->ctx.baggage.num == 0);
    }
}

/* A case that must fail with `rc`, and one that must succeed with these
 * ids (NULL: zero), width, sampling and kept parent (NULL: none). */
#define BAD(n, codec, rc, ...)                                                                     \
    {                                                                                              \
        n, codec, {__VA_ARGS__}, rc, NULL, NULL, 0, DEFER, NULL                                    \
    }
#define GOOD(n, codec, trace, span, width, sampling, parent, ...)                                  \
    {                                                                                              \
        n, codec, {__VA_ARGS__}, OK, trace, span, width, sampling, parent                          \
    }

/* §16 vectors 22-27. */
static const struct extract_case vector_cases[] = {
    GOOD("22 T-S-1", B3, T, S, 128, ACCEPT, NULL, "b3", T "-" S "-1"),
    GOOD("22 T-S-d", B3, T, S, 128, DEBUG, NULL, "b3", T "-" S "-d"),
    GOOD("22 T-S", B3, T, S, 128, DEFER, NULL, "b3", T "-" S),
    GOOD("23 64-bit", B3, T64, S, 64, ACCEPT, NULL, "b3", "a3ce929d0e0e4736-" S "-1"),
    GOOD("24 invalid single falls back", B3, T, S, 128, DENY, NULL, "b3", T "-" S "-",
         "X-B3-TraceId", T, "X-B3-SpanId", S, "X-B3-Sampled", "0"),
    GOOD("25 single wins over bad multi", B3, T, S, 128, ACCEPT, NULL, "b3", T "-" S "-1",
         "X-B3-Sampled", "invalid"),
    GOOD("26 Flags 1 overrides Sampled 0", MULTI, T, S, 128, DEBUG, NULL, "X-B3-TraceId", T,
         "X-B3-SpanId", S, "X-B3-Sampled", "0", "X-B3-Flags", "1"),
    GOOD("26 Flags 2 ignored", MULTI, T, S, 128, DEFER, NULL, "X-B3-TraceId", T, "X-B3-SpanId", S,
         "X-B3-Flags", "2"),
    GOOD("26 Flags 2 ignored, Sampled 0 kept", MULTI, T, S, 128, DENY, NULL, "X-B3-TraceId", T,
         "X-B3-SpanId", S, "X-B3-Sampled", "0", "X-B3-Flags", "2"),
    BAD("27 traceparent-like", B3, INVAL, "b3",
        "00-ab000000000000000000000000000000-cd00000000000000-01"),
    BAD("27 long parent", B3, INVAL, "b3",
        "ab000000000000000000000000000000-cd00000000000000-1-cd0000000000000000"),
    BAD("27 state q", B3, INVAL, "b3", "ab000000000000000000000000000000-cd00000000000000-q"),
    BAD("27 state true", B3, INVAL, "b3", "ab000000000000000000000000000000-cd00000000000000-true"),
    BAD("27 upper case", B3, INVAL, "b3", "AB000000000000000000000000000000-cd00000000000000-1"),
    BAD("27 zero trace", B3, INVAL, "b3", ZERO32 "-cd00000000000000-1"),
    BAD("27 zero span", B3, INVAL, "b3", "ab000000000000000000000000000000-0000000000000000-1"),
    BAD("27 multi trace 14", MULTI, INVAL, "X-B3-TraceId", "ab000000000000", "X-B3-SpanId", S),
    BAD("27 multi trace 30", MULTI, INVAL, "X-B3-TraceId", "ab0000000000000000000000000000",
        "X-B3-SpanId", S),
    BAD("27 multi trace 34", MULTI, INVAL, "X-B3-TraceId", "ab000000000000000000000000000000cd",
        "X-B3-SpanId", S),
};

static void test_b3_extract__vectors(void **state)
{
    run_cases(*state, vector_cases, TB_ARRAY_SIZE(vector_cases));
}

/* One case per rule of the single header (§3.2). */
static const struct extract_case single_cases[] = {
    GOOD("state 0 alone", B3, NULL, NULL, 128, DENY, NULL, "b3", "0"),
    GOOD("state 1 alone", B3, NULL, NULL, 128, ACCEPT, NULL, "b3", "1"),
    GOOD("state d alone", B3, NULL, NULL, 128, DEBUG, NULL, "b3", "d"),
    GOOD("state 0 with ids", B3, T, S, 128, DENY, NULL, "b3", T "-" S "-0"),
    GOOD("parent kept", B3, T, S, 128, ACCEPT, P, "b3", T "-" S "-1-" P),
    GOOD("zero parent not kept", B3, T, S, 128, DENY, NULL, "b3", T "-" S "-0-0000000000000000"),
    GOOD("64-bit with parent", B3, T64, S, 64, DEBUG, P, "b3", "a3ce929d0e0e4736-" S "-d-" P),
    BAD("empty", B3, INVAL, "b3", ""),
    BAD("state D", B3, INVAL, "b3", "D"),
    BAD("state 2", B3, INVAL, "b3", "2"),
    BAD("state true alone", B3, INVAL, "b3", "true"),
    BAD("trace only", B3, INVAL, "b3", T),
    BAD("trace dash", B3, INVAL, "b3", T "-"),
    BAD("parent without state", B3, INVAL, "b3", T "-" S "-" P),
    BAD("trailing dash after state", B3, INVAL, "b3", T "-" S "-1-"),
    BAD("state two chars", B3, INVAL, "b3", T "-" S "-01"),
    BAD("parent 15", B3, INVAL, "b3", T "-" S "-1-b7ad6b716920333"),
    BAD("parent upper", B3, INVAL, "b3", T "-" S "-1-B7AD6B7169203331"),
    BAD("parent junk", B3, INVAL, "b3", T "-" S "-1--"),
    BAD("extra field", B3, INVAL, "b3", T "-" S "-1-" P "-1"),
    BAD("span 15", B3, INVAL, "b3", T "-00f067aa0ba902b"),
    BAD("span 17", B3, INVAL, "b3", T "-00f067aa0ba902b77"),
    BAD("span upper", B3, INVAL, "b3", T "-00F067AA0BA902B7"),
    BAD("trace 31", B3, INVAL, "b3", "4bf92f3577b34da6a3ce929d0e0e473-" S),
    BAD("trace 24", B3, INVAL, "b3", "4bf92f3577b34da6a3ce929d-" S),
    BAD("zero 64-bit trace", B3, INVAL, "b3", "0000000000000000-" S),
    BAD("space inside", B3, INVAL, "b3", T "- " S),
    GOOD("first b3 wins", B3, T, S, 128, ACCEPT, NULL, "b3", T "-" S "-1", "b3", "0"),
    BAD("first b3 wins even if invalid", B3, INVAL, "b3", "x", "b3", "1"),
    BAD("b3multi ignores b3", MULTI, NOTFOUND, "b3", T "-" S "-1"),
    BAD("nothing", B3, NOTFOUND, NULL),
    BAD("unrelated headers", B3, NOTFOUND, "Host", "example", "traceparent", "00-" T "-" S "-01"),
};

static void test_b3_extract__single_rules(void **state)
{
    run_cases(*state, single_cases, TB_ARRAY_SIZE(single_cases));
}

#define TS "X-B3-TraceId", T, "X-B3-SpanId", S

/* One case per rule of the multi headers (§3.1). */
static const struct extract_case multi_cases[] = {
    GOOD("full", MULTI, T, S, 128, ACCEPT, NULL, TS, "X-B3-Sampled", "1"),
    GOOD("lower-case names", MULTI, T, S, 128, DENY, NULL, "x-b3-traceid", T, "x-b3-spanid", S,
         "x-b3-sampled", "0"),
    GOOD("64-bit", MULTI, T64, S, 64, DEFER, NULL, "X-B3-TraceId", "a3ce929d0e0e4736",
         "X-B3-SpanId", S),
    GOOD("sampled true", MULTI, T, S, 128, ACCEPT, NULL, TS, "X-B3-Sampled", "true"),
    GOOD("sampled false", MULTI, T, S, 128, DENY, NULL, TS, "X-B3-Sampled", "false"),
    GOOD("sampled True", MULTI, T, S, 128, ACCEPT, NULL, TS, "X-B3-Sampled", "True"),
    BAD("sampled d", MULTI, INVAL, TS, "X-B3-Sampled", "d"),
    BAD("sampled empty", MULTI, INVAL, TS, "X-B3-Sampled", ""),
    BAD("sampled 2", MULTI, INVAL, TS, "X-B3-Sampled", "2"),
    GOOD("flags 1 debug", MULTI, T, S, 128, DEBUG, NULL, TS, "X-B3-Flags", "1"),
    GOOD("flags 1 with sampled 1", MULTI, T, S, 128, DEBUG, NULL, TS, "X-B3-Sampled", "1",
         "X-B3-Flags", "1"),
    BAD("flags 1 with bad sampled", MULTI, INVAL, TS, "X-B3-Sampled", "x", "X-B3-Flags", "1"),
    GOOD("sampled 0 alone", MULTI, NULL, NULL, 128, DENY, NULL, "X-B3-Sampled", "0"),
    GOOD("sampled 1 alone", MULTI, NULL, NULL, 128, ACCEPT, NULL, "X-B3-Sampled", "1"),
    GOOD("flags 1 alone", MULTI, NULL, NULL, 128, DEBUG, NULL, "X-B3-Flags", "1"),
    GOOD("flags 0 alone", MULTI, NULL, NULL, 128, DEFER, NULL, "X-B3-Flags", "0"),
    BAD("trace alone", MULTI, INVAL, "X-B3-TraceId", T),
    BAD("span alone", MULTI, INVAL, "X-B3-SpanId", S, "X-B3-Sampled", "1"),
    GOOD("parent kept", MULTI, T, S, 128, DEFER, P, TS, "X-B3-ParentSpanId", P),
    GOOD("zero parent not kept", MULTI, T, S, 128, DEFER, NULL, TS, "X-B3-ParentSpanId",
         "0000000000000000"),
    BAD("parent junk", MULTI, INVAL, TS, "X-B3-ParentSpanId", "-"),
    BAD("parent empty", MULTI, INVAL, TS, "X-B3-ParentSpanId", ""),
    BAD("parent without ids", MULTI, INVAL, "X-B3-ParentSpanId", P, "X-B3-Sampled", "1"),
    BAD("trace empty", MULTI, INVAL, "X-B3-TraceId", "", "X-B3-SpanId", S),
    BAD("trace upper", MULTI, INVAL, "X-B3-TraceId", "4BF92F3577B34DA6A3CE929D0E0E4736",
        "X-B3-SpanId", S),
    BAD("trace zero", MULTI, INVAL, "X-B3-TraceId", ZERO32, "X-B3-SpanId", S),
    BAD("span zero", MULTI, INVAL, "X-B3-TraceId", T, "X-B3-SpanId", "0000000000000000"),
    BAD("span 15", MULTI, INVAL, "X-B3-TraceId", T, "X-B3-SpanId", "00f067aa0ba902b"),
    BAD("span 32", MULTI, INVAL, "X-B3-TraceId", T, "X-B3-SpanId", T),
    GOOD("first trace id wins", MULTI, T, S, 128, DEFER, NULL, "X-B3-TraceId", T, "X-B3-TraceId",
         "a3ce929d0e0e4736", "X-B3-SpanId", S),
    BAD("first trace id wins even if invalid", MULTI, INVAL, "X-B3-TraceId", "zz", "X-B3-TraceId",
        T, "X-B3-SpanId", S),
    GOOD("first sampled wins", MULTI, T, S, 128, DENY, NULL, TS, "X-B3-Sampled", "0",
         "X-B3-Sampled", "1"),
    BAD("nothing", MULTI, NOTFOUND, "Host", "example"),
};

static void test_b3multi_extract__rules(void **state)
{
    run_cases(*state, multi_cases, TB_ARRAY_SIZE(multi_cases));
}

/* `b3` codec: the single header against the multi headers (§3.3). */
static const struct extract_case precedence_cases[] = {
    GOOD("single wins over valid multi", B3, T, S, 128, DENY, NULL, "b3", T "-" S "-0",
         "X-B3-TraceId", "a3ce929d0e0e4736", "X-B3-SpanId", P, "X-B3-Sampled", "1"),
    GOOD("multi alone through b3", B3, T, S, 128, ACCEPT, P, TS, "X-B3-Sampled", "1",
         "X-B3-ParentSpanId", P),
    BAD("invalid single, no multi", B3, INVAL, "b3", T "-" S "-x"),
    BAD("invalid single, invalid multi", B3, INVAL, "b3", "junk", "X-B3-TraceId", T),
    GOOD("invalid single, sampling-only multi", B3, NULL, NULL, 128, DENY, NULL, "b3", "junk",
         "X-B3-Sampled", "0"),
    GOOD("state-only single, multi ids: ids from multi, state fills in", B3, T, S, 128, DENY, NULL,
         "b3", "0", TS),
    GOOD("state-only single, multi ids with own state", B3, T, S, 128, ACCEPT, NULL, "b3", "0", TS,
         "X-B3-Sampled", "1"),
    GOOD("state-only single, invalid multi: single state kept", B3, NULL, NULL, 128, DEBUG, NULL,
         "b3", "d", "X-B3-TraceId", T),
    GOOD("state-only single beats state-only multi", B3, NULL, NULL, 128, ACCEPT, NULL, "b3", "1",
         "X-B3-Sampled", "0"),
    GOOD("multi 64-bit after invalid single", B3, T64, S, 64, DEFER, NULL, "b3", T "-" S "-",
         "X-B3-TraceId", "a3ce929d0e0e4736", "X-B3-SpanId", S),
};

static void test_b3_extract__single_multi_precedence(void **state)
{
    run_cases(*state, precedence_cases, TB_ARRAY_SIZE(precedence_cases));
}

/* A failed single parse must not leave its ids or parent in the result. */
static void test_b3_extract__invalid_single_never_poisons(void **state)
{
    struct fx *fx = *state;

    /* Valid ids and parent, bad state: falls back to multi. */
    assert_int_equal(
        EXTRACT(fx, B3, "b3", "a3ce929d0e0e4736-" P "-x-" S, "X-B3-TraceId", T, "X-B3-SpanId", S),
        TB_OK);
    assert_id(fx->ctx.trace_id, 16, T);
    assert_id(fx->ctx.span_id, 8, S);
    assert_int_equal(fx->ctx.id_width, 128);
    assert_false(fx->ctx.b3.has_parent_span_id);
    assert_int_equal(fx->ctx.extras, 0);
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DEFER);
}

static void test_b3_extract__why_names_the_rule(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(EXTRACT(fx, MULTI, "X-B3-TraceId", T), TB_EINVAL);
    assert_string_equal(fx->why, "X-B3-TraceId and X-B3-SpanId must come together");
    assert_int_equal(EXTRACT(fx, B3, "b3", T "-" S "-"), TB_EINVAL);
    assert_string_equal(fx->why, "b3: sampling state is not 1, 0 or d");
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

/* §16 vector 28. */
static void test_b3_inject__vector_28(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", T "-" HOP "-1");
    assert_int_equal(fx->out.entries[0].token, TB_HDR_B3);
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_headers(&fx->out, "x-b3-traceid", T, "x-b3-spanid", HOP, "x-b3-sampled", "1");
    assert_int_equal(fx->out.entries[0].token, TB_HDR_X_B3_TRACEID);
    assert_int_equal(fx->out.entries[1].token, TB_HDR_X_B3_SPANID);
    assert_int_equal(fx->out.entries[2].token, TB_HDR_X_B3_SAMPLED);
}

static void test_b3_inject__sampling_states(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T, 128, TB_SAMPLING_DENY);
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", T "-" HOP "-0");
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_headers(&fx->out, "x-b3-traceid", T, "x-b3-spanid", HOP, "x-b3-sampled", "0");

    ctx_set(&ctx, T, 128, TB_SAMPLING_DEBUG);
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", T "-" HOP "-d");
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_headers(&fx->out, "x-b3-traceid", T, "x-b3-spanid", HOP, "x-b3-flags", "1");

    ctx_set(&ctx, T, 128, TB_SAMPLING_DEFER);
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", T "-" HOP);
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_headers(&fx->out, "x-b3-traceid", T, "x-b3-spanid", HOP);
}

/* 16 hex only for a 64-bit id whose high half is zero (§12.1). */
static void test_b3_inject__widths(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T64, 64, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", "a3ce929d0e0e4736-" HOP "-1");
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_headers(&fx->out, "x-b3-traceid", "a3ce929d0e0e4736", "x-b3-spanid", HOP, "x-b3-sampled",
                   "1");

    /* 128-bit origin with a zero high half stays 32 hex. */
    ctx_set(&ctx, T64, 128, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", T64 "-" HOP "-1");

    /* width 64 claimed but the high half is set: the full id, never truncated. */
    ctx_set(&ctx, T, 64, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", T "-" HOP "-1");
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_headers(&fx->out, "x-b3-traceid", T, "x-b3-spanid", HOP, "x-b3-sampled", "1");
}

/* ParentSpanId is never emitted (OTel); ctx->span_id is not the parent. */
static void test_b3_inject__never_parent(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    assert_true(tb_lex_hex(TB_IOV_LIT(P), ctx.b3.parent_span_id, 8, false));
    ctx.b3.has_parent_span_id = true;
    ctx.extras |= TB_FORMAT_BIT(TB_FORMAT_B3);
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_headers(&fx->out, "x-b3-traceid", T, "x-b3-spanid", HOP, "x-b3-sampled", "1");
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", T "-" HOP "-1");
}

/* Without a trace id only the decision travels: never an all-zero id. */
static void test_b3_inject__sampling_only(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    tb_ctx_init(&ctx, TB_FORMAT_B3);
    ctx.sampling = TB_SAMPLING_DENY;
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", "0");
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_headers(&fx->out, "x-b3-sampled", "0");
    ctx.sampling = TB_SAMPLING_DEBUG;
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", "d");
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_headers(&fx->out, "x-b3-flags", "1");
    ctx.sampling = TB_SAMPLING_DEFER;
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_int_equal(fx->out.num, 0);
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_int_equal(fx->out.num, 0);
}

/* Inject appends: what the table held stays, in place. */
static void test_b3_inject__appends(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_new();
    size_t dropped = 0;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    tb_headers_init(&fx->out);
    assert_int_equal(tb_headers_add(fx->arena, &fx->out, TB_IOV_LIT("Host"), TB_IOV_LIT("a")),
                     TB_OK);
    assert_int_equal(tb_propagator_b3.inject(&ctx, &hop, fx->arena, &fx->out, &dropped), TB_OK);
    assert_headers(&fx->out, "Host", "a", "b3", T "-" HOP "-1");
}

/* Baggage has no B3 carrier: ignored, not counted. */
static void test_b3_inject__ignores_baggage(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    assert_int_equal(
        tb_baggage_put(fx->arena, &ctx.baggage, TB_IOV_LIT("k"), TB_IOV_LIT("v"), TB_IOV_LIT("")),
        TB_OK);
    assert_int_equal(inject(fx, B3, &ctx), TB_OK);
    assert_headers(&fx->out, "b3", T "-" HOP "-1");
    assert_int_equal(inject(fx, MULTI, &ctx), TB_OK);
    assert_headers(&fx->out, "x-b3-traceid", T, "x-b3-spanid", HOP, "x-b3-sampled", "1");
}

static void test_b3_inject__arena_full(void **state)
{
    struct fx *fx = *state;
    struct tb_arena *small = tb_arena_new(64, 64);
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_new();
    struct tb_headers out;
    size_t dropped = 0;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    while (tb_arena_alloc(small, 1) != NULL)
        ;
    tb_headers_init(&out);
    assert_int_equal(tb_propagator_b3.inject(&ctx, &hop, small, &out, &dropped), TB_ENOSPC);
    assert_int_equal(tb_propagator_b3multi.inject(&ctx, &hop, small, &out, &dropped), TB_ENOSPC);
    tb_arena_free(small);
    (void)fx;
}

/* ------------------------------------------------------------------------ */
/* round trips                                                              */

/* Injects `ctx` with `codec`, feeds the output back to its extract. */
static void round_trip(struct fx *fx, const struct tb_propagator *codec,
                       const struct tb_trace_ctx *ctx)
{
    struct tb_headers out;
    const char *pairs[16];
    size_t n = 0;

    assert_int_equal(inject(fx, codec, ctx), TB_OK);
    out = fx->out;
    assert_true(out.num * 2 < TB_ARRAY_SIZE(pairs));
    for (size_t i = 0; i < out.num; i++) {
        /* NUL-terminated copies for extract(): names and values are arena views. */
        char *name = test_calloc(1, out.entries[i].name.len + 1);
        char *value = test_calloc(1, out.entries[i].value.len + 1);

        memcpy(name, out.entries[i].name.base, out.entries[i].name.len);
        memcpy(value, out.entries[i].value.base, out.entries[i].value.len);
        pairs[n++] = name;
        pairs[n++] = value;
    }
    pairs[n] = NULL;
    assert_int_equal(extract(fx, codec, pairs), TB_OK);
    for (size_t i = 0; i < n; i++)
        test_free((void *)pairs[i]);
    assert_memory_equal(fx->ctx.trace_id, ctx->trace_id, 16);
    assert_id(fx->ctx.span_id, 8, HOP);
    assert_int_equal(fx->ctx.sampling, ctx->sampling);
    assert_int_equal(fx->ctx.w3c_flags, ctx->w3c_flags);
}

static void test_b3__round_trips(void **state)
{
    static const enum tb_sampling states[] = {TB_SAMPLING_DEFER, TB_SAMPLING_ACCEPT,
                                              TB_SAMPLING_DENY, TB_SAMPLING_DEBUG};
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    for (size_t i = 0; i < TB_ARRAY_SIZE(states); i++) {
        ctx_set(&ctx, T, 128, states[i]);
        round_trip(fx, B3, &ctx);
        assert_int_equal(fx->ctx.id_width, 128);
        round_trip(fx, MULTI, &ctx);
        assert_int_equal(fx->ctx.id_width, 128);
    }
}

/* A 64-bit trace id leaves as 16 hex and comes back 64-bit, same bits. */
static void test_b3__round_trip_64_bit(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T64, 64, TB_SAMPLING_ACCEPT);
    round_trip(fx, B3, &ctx);
    assert_int_equal(fx->ctx.id_width, 64);
    round_trip(fx, MULTI, &ctx);
    assert_int_equal(fx->ctx.id_width, 64);
}

static void test_b3__codec_tables(void **state)
{
    (void)state;
    assert_string_equal(tb_propagator_b3.name, "b3");
    assert_int_equal(tb_propagator_b3.format, TB_FORMAT_B3);
    assert_int_equal(tb_propagator_b3.num_tokens, 1);
    assert_int_equal(tb_propagator_b3.tokens[0], TB_HDR_B3);
    assert_null(tb_propagator_b3.baggage_prefix);
    assert_string_equal(tb_propagator_b3multi.name, "b3multi");
    assert_int_equal(tb_propagator_b3multi.format, TB_FORMAT_B3MULTI);
    assert_int_equal(tb_propagator_b3multi.num_tokens, 5);
    assert_int_equal(tb_propagator_b3multi.tokens[0], TB_HDR_X_B3_TRACEID);
    assert_int_equal(tb_propagator_b3multi.tokens[1], TB_HDR_X_B3_SPANID);
    assert_int_equal(tb_propagator_b3multi.tokens[2], TB_HDR_X_B3_PARENTSPANID);
    assert_int_equal(tb_propagator_b3multi.tokens[3], TB_HDR_X_B3_SAMPLED);
    assert_int_equal(tb_propagator_b3multi.tokens[4], TB_HDR_X_B3_FLAGS);
    assert_null(tb_propagator_b3multi.baggage_prefix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T_(test_b3_extract__vectors),
        T_(test_b3_extract__single_rules),
        T_(test_b3multi_extract__rules),
        T_(test_b3_extract__single_multi_precedence),
        T_(test_b3_extract__invalid_single_never_poisons),
        T_(test_b3_extract__why_names_the_rule),
        T_(test_b3_inject__vector_28),
        T_(test_b3_inject__sampling_states),
        T_(test_b3_inject__widths),
        T_(test_b3_inject__never_parent),
        T_(test_b3_inject__sampling_only),
        T_(test_b3_inject__appends),
        T_(test_b3_inject__ignores_baggage),
        T_(test_b3_inject__arena_full),
        T_(test_b3__round_trips),
        T_(test_b3__round_trip_64_bit),
        T_(test_b3__codec_tables),
#undef T_
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
