/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/tracecontext.c: every W3C traceparent and
 * tracestate vector of protocols.md §16 (1-21), the tracebridge member moved
 * in and out of tracestate, and byte-exact injected headers for each
 * sampling state, the random flag and the 32-member cap. The codec is called
 * through tb_propagator_tracecontext directly; input values sit right before
 * a PROT_NONE page so that an over-read faults.
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
#define TV "12345678901234567890123456789012" /* the harness's trace id */
#define SV "1234567890123456"
#define HOP "b7ad6b7169203331" /* S': the hop's span id */

#define MAX_GUARDED 128

struct fx {
    struct tb_arena *arena;
    struct tb_headers in;
    struct tb_headers out;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    char *guarded[MAX_GUARDED];
    size_t guarded_len[MAX_GUARDED];
    size_t num_guarded;
};

static int setup(void **state)
{
    struct fx *fx = test_calloc(1, sizeof(*fx));

    fx->arena = tb_arena_new(4096, 1 << 20);
    tb_headers_init(&fx->in);
    tb_headers_init(&fx->out);
    tb_ctx_init(&fx->ctx, TB_FORMAT_TRACECONTEXT);
    assert_true(tb_lex_hex(TB_IOV_LIT(HOP), fx->hop.span_id, 8, false));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    for (size_t i = 0; i < fx->num_guarded; i++)
        tb_test_guarded_free(fx->guarded[i], fx->guarded_len[i]);
    tb_arena_free(fx->arena);
    test_free(fx);
    return 0;
}

/* Adds `name: value` to the input table, the value in a guarded copy. */
static void add(struct fx *fx, const char *name, const char *value)
{
    size_t n = strlen(value);
    char *p = tb_test_guarded(value, n);

    assert_true(fx->num_guarded < MAX_GUARDED);
    fx->guarded[fx->num_guarded] = p;
    fx->guarded_len[fx->num_guarded++] = n;
    assert_int_equal(tb_headers_add(fx->arena, &fx->in, (struct tb_iov){name, strlen(name)},
                                    (struct tb_iov){p, n}),
                     TB_OK);
}

static int extract(struct fx *fx, const char **why)
{
    *why = NULL;
    tb_ctx_init(&fx->ctx, TB_FORMAT_NUM);
    return tb_propagator_tracecontext.extract(&fx->in, fx->arena, &fx->ctx, why);
}

static void assert_hex(const uint8_t *bytes, size_t n, const char *hex)
{
    char buf[33];

    tb_hex_encode(bytes, n, buf);
    buf[2 * n] = '\0';
    assert_string_equal(buf, hex);
}

/* Extract must succeed with exactly these ids, flags and sampling. */
static void assert_extracted(struct fx *fx, const char *trace, const char *span, uint8_t flags,
                             enum tb_sampling sampling)
{
    const char *why;

    assert_int_equal(extract(fx, &why), TB_OK);
    assert_hex(fx->ctx.trace_id, 16, trace);
    assert_hex(fx->ctx.span_id, 8, span);
    assert_int_equal(fx->ctx.w3c_flags, flags);
    assert_int_equal(fx->ctx.sampling, sampling);
    assert_int_equal(fx->ctx.id_width, 128);
    assert_int_equal(fx->ctx.format, TB_FORMAT_TRACECONTEXT);
    assert_true(fx->ctx.extras & TB_FORMAT_BIT(TB_FORMAT_TRACECONTEXT));
}

static void assert_rejected(struct fx *fx)
{
    const char *why;

    assert_int_equal(extract(fx, &why), TB_EINVAL);
    assert_non_null(why);
}

/* Injects fx->ctx for fx->hop and checks baggage was left alone. */
static void inject(struct fx *fx)
{
    size_t dropped = 7;

    assert_int_equal(
        tb_propagator_tracecontext.inject(&fx->ctx, &fx->hop, fx->arena, &fx->out, &dropped),
        TB_OK);
    assert_int_equal(dropped, 7);
}

/* Sets fx->ctx to trace T, parent S, `sampling`, `flags`. */
static void ctx_set(struct fx *fx, enum tb_sampling sampling, uint8_t flags)
{
    tb_ctx_init(&fx->ctx, TB_FORMAT_TRACECONTEXT);
    assert_true(tb_lex_hex(TB_IOV_LIT(T), fx->ctx.trace_id, 16, false));
    assert_true(tb_lex_hex(TB_IOV_LIT(S), fx->ctx.span_id, 8, false));
    fx->ctx.sampling = sampling;
    fx->ctx.w3c_flags = flags;
}

/* A NUL-terminated string of `n` copies of `c` in the arena. */
static char *repeat(struct fx *fx, char c, size_t n)
{
    char *s = tb_arena_alloc(fx->arena, n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* "bar01=01,bar02=02,…" with `n` members, in the arena. */
static char *members(struct fx *fx, const char *prefix, size_t n)
{
    char *s = tb_arena_alloc(fx->arena, n * 16 + 1);
    size_t o = 0;

    for (size_t i = 1; i <= n; i++)
        o += (size_t)sprintf(s + o, "%s%s%02zu=%02zu", i > 1 ? "," : "", prefix, i, i);
    return s;
}

/* ------------------------------------------------------------------------ */
/* traceparent: accepted                                                    */

struct tp_valid_case {
    const char *value;
    const char *trace;
    const char *span;
    uint8_t flags; /* expected ctx->w3c_flags */
    enum tb_sampling sampling;
};

static const struct tp_valid_case tp_valid_cases[] = {
    /* §16.1 */
    {"00-" TV "-" SV "-01", TV, SV, 0x01, TB_SAMPLING_ACCEPT},
    /* §16.2: the random flag survives */
    {"00-" TV "-" SV "-02", TV, SV, 0x02, TB_SAMPLING_DENY},
    {"00-" TV "-" SV "-03", TV, SV, 0x03, TB_SAMPLING_ACCEPT},
    {"00-" T "-" S "-00", T, S, 0x00, TB_SAMPLING_DENY},
    /* §16.4: future versions, parsed positionally */
    {"cc-" TV "-" SV "-01", TV, SV, 0x01, TB_SAMPLING_ACCEPT},
    {"cc-" TV "-" SV "-01-what-the-future-will-be-like", TV, SV, 0x01, TB_SAMPLING_ACCEPT},
    {"01-" TV "-" SV "-00-", TV, SV, 0x00, TB_SAMPLING_DENY},
    {"fe-" TV "-" SV "-01-x", TV, SV, 0x01, TB_SAMPLING_ACCEPT},
    /* §16.9: OWS around the value */
    {" 00-" TV "-" SV "-01", TV, SV, 0x01, TB_SAMPLING_ACCEPT},
    {"\t00-" TV "-" SV "-01", TV, SV, 0x01, TB_SAMPLING_ACCEPT},
    {"00-" TV "-" SV "-01 \t", TV, SV, 0x01, TB_SAMPLING_ACCEPT},
    /* §16.12: any flags accepted, only bits 0 and 1 kept */
    {"00-" T "-" S "-09", T, S, 0x01, TB_SAMPLING_ACCEPT},
    {"00-" T "-" S "-ff", T, S, 0x03, TB_SAMPLING_ACCEPT},
    {"00-" T "-" S "-fc", T, S, 0x00, TB_SAMPLING_DENY},
    /* ids are non-zero as soon as one bit is */
    {"00-00000000000000000000000000000001-0000000000000001-01", "00000000000000000000000000000001",
     "0000000000000001", 0x01, TB_SAMPLING_ACCEPT},
};

static void test_extract__valid_traceparent(void **state)
{
    for (size_t i = 0; i < TB_ARRAY_SIZE(tp_valid_cases); i++) {
        const struct tp_valid_case *c = &tp_valid_cases[i];

        teardown(state);
        setup(state);
        print_message("case %zu: \"%s\"\n", i, c->value);
        add(*state, "traceparent", c->value);
        assert_extracted(*state, c->trace, c->span, c->flags, c->sampling);
        assert_int_equal(((struct fx *)*state)->ctx.tracestate.len, 0);
        assert_int_equal(((struct fx *)*state)->ctx.tbstate.len, 0);
    }
}

static void test_extract__header_name_any_case(void **state)
{
    add(*state, "TraceParent", "00-" T "-" S "-01");
    assert_extracted(*state, T, S, 0x01, TB_SAMPLING_ACCEPT);
}

/* ------------------------------------------------------------------------ */
/* traceparent: rejected                                                    */

static const char *const tp_invalid_cases[] = {
    /* §16.3: version 00 with trailing data */
    "00-" TV "-" SV "-01.",
    "00-" TV "-" SV "-01-what-the-future-will-be-like",
    "00-" TV "-" SV "-01-",
    /* §16.5 */
    "cc-" TV "-" SV "-01.what-the-future-will-be-like",
    /* §16.6 */
    "ff-" TV "-" SV "-01",
    "ff-" TV "-" SV "-01-what-the-future-will-be-like",
    ".0-" TV "-" SV "-01",
    "0.-" TV "-" SV "-01",
    "000-" TV "-" SV "-01",
    "0-" TV "-" SV "-01",
    /* §16.7 */
    "00-00000000000000000000000000000000-" SV "-01",
    "00-" TV "-0000000000000000-01",
    /* §16.8 */
    "00-1234567890123456789012345678901-" SV "-01",
    "00-123456789012345678901234567890123-" SV "-01",
    "00-" TV "-123456789012345-01",
    "00-" TV "-12345678901234567-01",
    "00-" TV "-" SV "-1",
    "00-" TV "-" SV "-001",
    "00-" TV "-" SV "-.0",
    "00-" TV "-" SV "-0.",
    "cc-" TV "-" SV "-001",
    /* §16.11: uppercase hex anywhere */
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    "00-" T "-00F067AA0BA902B7-01",
    "00-" T "-" S "-0A",
    "CC-" T "-" S "-01",
    /* wrong delimiters, non-hex */
    "00_" T "-" S "-01",
    "00-" T "_" S "-01",
    "00-" T "-" S "_01",
    "00-" T "-" S "-01\r",
    "00-4bf92f3577b34da6a3ce929d0e0e473g-" S "-01",
    "00-" T "-00f067aa0ba902bg-01",
    "00-" T "-" S "-0g",
    "00--" T "-" S "-01",
    /* a comma-joined duplicate is trailing data */
    "00-" T "-" S "-01, 00-" T "-" S "-01",
    "",
    "00",
    " \t ",
};

static void test_extract__invalid_traceparent(void **state)
{
    for (size_t i = 0; i < TB_ARRAY_SIZE(tp_invalid_cases); i++) {
        teardown(state);
        setup(state);
        print_message("case %zu: \"%s\"\n", i, tp_invalid_cases[i]);
        add(*state, "traceparent", tp_invalid_cases[i]);
        /* a valid tracestate does not rescue it (§1.2) */
        add(*state, "tracestate", "foo=1");
        assert_rejected(*state);
    }
}

/* §16.10: two traceparent fields: neither is used. */
static void test_extract__duplicated_traceparent(void **state)
{
    struct fx *fx = *state;
    const char *why;

    add(fx, "traceparent", "00-12345678901234567890123456789011-" SV "-01");
    add(fx, "traceparent", "00-" TV "-" SV "-01");
    assert_int_equal(extract(fx, &why), TB_EINVAL);
    assert_string_equal(why, "duplicated traceparent");
}

static void test_extract__duplicated_identical_traceparent(void **state)
{
    struct fx *fx = *state;
    const char *why;

    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "x-other", "1");
    add(fx, "traceparent", "00-" T "-" S "-01");
    assert_int_equal(extract(fx, &why), TB_EINVAL);
    assert_string_equal(why, "duplicated traceparent");
}

static void test_extract__absent(void **state)
{
    struct fx *fx = *state;
    const char *why;

    add(fx, "trace-parent", "00-" T "-" S "-01"); /* §1.1: not an alias */
    add(fx, "b3", T "-" S "-1");
    assert_int_equal(extract(fx, &why), TB_ENOTFOUND);
}

/* §16.21: a tracestate without a traceparent is discarded. */
static void test_extract__tracestate_without_traceparent(void **state)
{
    struct fx *fx = *state;
    const char *why;

    add(fx, "tracestate", "foo=1,tracebridge=w:64");
    assert_int_equal(extract(fx, &why), TB_ENOTFOUND);
}

/* ------------------------------------------------------------------------ */
/* tracestate                                                               */

struct ts_case {
    const char *values[5]; /* tracestate fields, NULL-terminated */
    const char *expect;    /* ctx->tracestate; "" when dropped */
};

static const struct ts_case ts_cases[] = {
    /* §16.13 */
    {{"foo=1 \t , \t bar=2, \t baz=3"}, "foo=1,bar=2,baz=3"},
    /* §16.14: fields join in arrival order */
    {{"foo=1,bar=2", "rojo=1,congo=2", "baz=3"}, "foo=1,bar=2,rojo=1,congo=2,baz=3"},
    /* §16.15 */
    {{"", "foo=1"}, "foo=1"},
    {{" ", ",,", "foo=1", ", ,"}, "foo=1"},
    {{""}, ""},
    /* §16.16: duplicates keep the first */
    {{"foo=1,foo=2"}, "foo=1"},
    {{"foo=1,foo=1"}, "foo=1"},
    {{"foo=1", "bar=2,foo=3"}, "foo=1,bar=2"},
    /* §16.17 */
    {{"@foo=1,bar=2"}, ""},
    {{"foo@=1,bar=2"}, "foo@=1,bar=2"},
    {{"foo@@bar=1,bar=2"}, "foo@@bar=1,bar=2"},
    {{"foo@bar@baz=1,bar=2"}, "foo@bar@baz=1,bar=2"},
    /* §16.20 */
    {{"foo=bar=baz"}, ""},
    {{"foo=,bar=3"}, ""},
    {{"FOO=1"}, ""},
    {{"foo.bar=1"}, ""},
    {{"foo =1"}, ""},
    {{"bar=2", "FOO=1"}, ""}, /* one bad member in any field drops all */
    /* other key rules: first char a letter or digit; _-*\/ allowed after */
    {{"0foo=1,a_-*/b=2"}, "0foo=1,a_-*/b=2"},
    {{"_foo=1"}, ""},
    {{"=1"}, ""},
    {{"foo"}, ""},
    /* value rules (§1.4): leading spaces belong to it, trailing are OWS */
    {{"foo= bar,baz=1 "}, "foo= bar,baz=1"},
    {{"foo=a b"}, "foo=a b"},
    {{"foo=\x7e!"}, "foo=\x7e!"},
    {{"foo=a\tb"}, ""},
    {{"foo=a\x7f"}, ""},
    {{"foo=\xc3\xa9"}, ""},
    {{"foo=  "}, ""},
};

static void test_extract__tracestate(void **state)
{
    for (size_t i = 0; i < TB_ARRAY_SIZE(ts_cases); i++) {
        const struct ts_case *c = &ts_cases[i];
        struct fx *fx;

        teardown(state);
        setup(state);
        fx = *state;
        print_message("case %zu: expect \"%s\"\n", i, c->expect);
        add(fx, "traceparent", "00-" T "-" S "-01");
        for (size_t j = 0; c->values[j] != NULL; j++)
            add(fx, "tracestate", c->values[j]);
        /* an invalid tracestate never invalidates traceparent (§1.4) */
        assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
        assert_iov_equal(fx->ctx.tracestate, c->expect);
        assert_int_equal(fx->ctx.tbstate.len, 0);
    }
}

/* tracestate fields before the traceparent count as well. */
static void test_extract__tracestate_before_traceparent(void **state)
{
    struct fx *fx = *state;

    add(fx, "tracestate", "a=1");
    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", "b=2");
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "a=1,b=2");
}

/* §16.18: key lengths under the Level 2 grammar. */
static void test_extract__tracestate_key_lengths(void **state)
{
    struct fx *fx = *state;
    const char *ok[5], *bad;
    char *buf;

    ok[0] = repeat(fx, 'z', 256);
    buf = tb_arena_alloc(fx->arena, 300);
    sprintf(buf, "%s@%s", repeat(fx, 't', 241), repeat(fx, 'v', 14));
    ok[1] = buf;
    buf = tb_arena_alloc(fx->arena, 300);
    sprintf(buf, "%s@v", repeat(fx, 't', 242));
    ok[2] = buf;
    buf = tb_arena_alloc(fx->arena, 300);
    sprintf(buf, "t@%s", repeat(fx, 'v', 15));
    ok[3] = buf;
    ok[4] = NULL;
    bad = repeat(fx, 'z', 257);

    for (size_t i = 0; ok[i] != NULL; i++) {
        char *value = tb_arena_alloc(fx->arena, 600), *expect = tb_arena_alloc(fx->arena, 600);

        sprintf(value, "%s=1,bar=2", ok[i]);
        strcpy(expect, value);
        tb_headers_init(&fx->in);
        add(fx, "traceparent", "00-" T "-" S "-01");
        add(fx, "tracestate", value);
        assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
        assert_iov_equal(fx->ctx.tracestate, expect);
    }
    buf = tb_arena_alloc(fx->arena, 600);
    sprintf(buf, "%s=1,bar=2", bad);
    tb_headers_init(&fx->in);
    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", buf);
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "");
}

/* Values: 256 characters fit, 257 do not. */
static void test_extract__tracestate_value_lengths(void **state)
{
    struct fx *fx = *state;
    char *value = tb_arena_alloc(fx->arena, 600);

    sprintf(value, "foo=%s", repeat(fx, 'v', 256));
    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", value);
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, value);

    value = tb_arena_alloc(fx->arena, 600);
    sprintf(value, "foo=%s", repeat(fx, 'v', 257));
    tb_headers_init(&fx->in);
    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", value);
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "");
}

/* §16.19: 32 members are kept, 33 drop everything (not a truncation). */
static void test_extract__tracestate_32_members(void **state)
{
    struct fx *fx = *state;
    char *m32 = members(fx, "bar", 32), *m33 = members(fx, "bar", 33);

    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", m32);
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, m32);

    tb_headers_init(&fx->in);
    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", m33);
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "");

    /* the limit is over the joined list; empty members do not count */
    tb_headers_init(&fx->in);
    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", members(fx, "a", 16));
    add(fx, "tracestate", ",,");
    add(fx, "tracestate", members(fx, "b", 16));
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_int_equal(fx->ctx.tracestate.len, 32 * 6 + 31);
    add(fx, "tracestate", "c=1");
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "");
}

/* Our own member goes to ctx->tbstate and out of ctx->tracestate. */
static void test_extract__tracebridge_member(void **state)
{
    struct fx *fx = *state;

    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", "rojo=00f067aa0ba902b7, tracebridge=sw:YWJj;w:64 ,congo=t61rcWkgMzE");
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    assert_iov_equal(fx->ctx.tbstate, "sw:YWJj;w:64");
}

static void test_extract__tracebridge_member_only(void **state)
{
    struct fx *fx = *state;

    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", "tracebridge=w:64");
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "");
    assert_iov_equal(fx->ctx.tbstate, "w:64");
}

static void test_extract__tracebridge_member_duplicated(void **state)
{
    struct fx *fx = *state;

    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", "tracebridge=w:64,a=1");
    add(fx, "tracestate", "tracebridge=ee:eA");
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "a=1");
    assert_iov_equal(fx->ctx.tbstate, "w:64");
}

/* It counts towards the 32 members and must itself be valid. */
static void test_extract__tracebridge_member_rules(void **state)
{
    struct fx *fx = *state;
    char *value = tb_arena_alloc(fx->arena, 1024);

    sprintf(value, "tracebridge=w:64,%s", members(fx, "bar", 32));
    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", value);
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "");
    assert_int_equal(fx->ctx.tbstate.len, 0);

    tb_headers_init(&fx->in);
    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", "a=1,tracebridge=,b=2");
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "");
    assert_int_equal(fx->ctx.tbstate.len, 0);

    /* a look-alike key is someone else's member */
    tb_headers_init(&fx->in);
    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", "tracebridgex=1,tracebridg=2");
    assert_extracted(fx, T, S, 0x01, TB_SAMPLING_ACCEPT);
    assert_iov_equal(fx->ctx.tracestate, "tracebridgex=1,tracebridg=2");
    assert_int_equal(fx->ctx.tbstate.len, 0);
}

/* The joined tracestate lives in the arena; a full arena is reported. */
static void test_extract__arena_full(void **state)
{
    struct fx *fx = *state;
    const char *why;

    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", "a=1,b=2");
    while (tb_arena_alloc(fx->arena, 1) != NULL)
        ;
    assert_int_equal(extract(fx, &why), TB_ENOSPC);
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

struct inject_case {
    enum tb_sampling sampling;
    uint8_t w3c_flags;
    const char *flags; /* expected trace-flags */
};

static const struct inject_case inject_cases[] = {
    {TB_SAMPLING_ACCEPT, 0x00, "01"},
    {TB_SAMPLING_ACCEPT, 0x01, "01"},
    {TB_SAMPLING_DEBUG, 0x00, "01"},
    /* §12.2: DEFER travels as not sampled */
    {TB_SAMPLING_DEFER, 0x00, "00"},
    {TB_SAMPLING_DENY, 0x00, "00"},
    /* the sampling state decides, not a stale sampled flag */
    {TB_SAMPLING_DENY, 0x01, "00"},
    {TB_SAMPLING_DEFER, 0x01, "00"},
    /* §1.3: the random flag is copied unchanged */
    {TB_SAMPLING_ACCEPT, 0x02, "03"},
    {TB_SAMPLING_DEBUG, 0x03, "03"},
    {TB_SAMPLING_DENY, 0x02, "02"},
    {TB_SAMPLING_DEFER, 0x03, "02"},
    /* bits a hand-built context might carry are never sent */
    {TB_SAMPLING_ACCEPT, 0xfc, "01"},
};

static void test_inject__sampling_and_flags(void **state)
{
    for (size_t i = 0; i < TB_ARRAY_SIZE(inject_cases); i++) {
        const struct inject_case *c = &inject_cases[i];
        struct fx *fx;
        char expect[64];

        teardown(state);
        setup(state);
        fx = *state;
        print_message("case %zu\n", i);
        ctx_set(fx, c->sampling, c->w3c_flags);
        inject(fx);
        snprintf(expect, sizeof(expect), "00-" T "-" HOP "-%s", c->flags);
        assert_headers(&fx->out, "traceparent", expect);
    }
}

/* Inject appends after what the table holds, and removes nothing. */
static void test_inject__appends(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(tb_headers_add(fx->arena, &fx->out, TB_IOV_LIT("Host"), TB_IOV_LIT("a")),
                     TB_OK);
    assert_int_equal(
        tb_headers_add(fx->arena, &fx->out, TB_IOV_LIT("traceparent"), TB_IOV_LIT("old")), TB_OK);
    ctx_set(fx, TB_SAMPLING_ACCEPT, 0);
    fx->ctx.tracestate = TB_IOV_LIT("rojo=1");
    inject(fx);
    assert_headers(&fx->out, "Host", "a", "traceparent", "old", "traceparent",
                   "00-" T "-" HOP "-01", "tracestate", "rojo=1");
    assert_int_equal(fx->out.entries[2].token, TB_HDR_TRACEPARENT);
    assert_int_equal(fx->out.entries[3].token, TB_HDR_TRACESTATE);
}

/* A 64-bit origin still travels as 32 hex digits (W3C has no short form). */
static void test_inject__64bit_trace_id(void **state)
{
    struct fx *fx = *state;

    tb_ctx_init(&fx->ctx, TB_FORMAT_B3);
    assert_true(
        tb_lex_hex(TB_IOV_LIT("0000000000000000a3ce929d0e0e4736"), fx->ctx.trace_id, 16, false));
    fx->ctx.id_width = 64;
    fx->ctx.sampling = TB_SAMPLING_ACCEPT;
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-0000000000000000a3ce929d0e0e4736-" HOP "-01");
}

struct roundtrip_case {
    const char *in;
    const char *out;
};

/* §16.1, 16.2, 16.4, 16.12: extract then inject keeps the trace id, names the
 * hop as parent, downgrades to version 00 and keeps only flags 0x03. */
static const struct roundtrip_case roundtrip_cases[] = {
    {"00-" TV "-" SV "-01", "00-" TV "-" HOP "-01"},
    {"00-" TV "-" SV "-02", "00-" TV "-" HOP "-02"},
    {"00-" TV "-" SV "-03", "00-" TV "-" HOP "-03"},
    {"00-" TV "-" SV "-00", "00-" TV "-" HOP "-00"},
    {"cc-" TV "-" SV "-01", "00-" TV "-" HOP "-01"},
    {"cc-" TV "-" SV "-01-what-the-future-will-be-like", "00-" TV "-" HOP "-01"},
    {"00-" T "-" S "-09", "00-" T "-" HOP "-01"},
    {"00-" T "-" S "-fe", "00-" T "-" HOP "-02"},
};

static void test_inject__roundtrip(void **state)
{
    for (size_t i = 0; i < TB_ARRAY_SIZE(roundtrip_cases); i++) {
        struct fx *fx;
        const char *why;

        teardown(state);
        setup(state);
        fx = *state;
        print_message("case %zu: \"%s\"\n", i, roundtrip_cases[i].in);
        add(fx, "traceparent", roundtrip_cases[i].in);
        assert_int_equal(extract(fx, &why), TB_OK);
        inject(fx);
        assert_headers(&fx->out, "traceparent", roundtrip_cases[i].out);
    }
}

/* Our member and the others survive a hop: ours left-most, the rest in order. */
static void test_inject__roundtrip_tracestate(void **state)
{
    struct fx *fx = *state;
    const char *why;

    add(fx, "traceparent", "00-" T "-" S "-01");
    add(fx, "tracestate", "rojo=00f067aa0ba902b7 , tracebridge=w:64");
    add(fx, "tracestate", "congo=t61rcWkgMzE");
    assert_int_equal(extract(fx, &why), TB_OK);
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01", "tracestate",
                   "tracebridge=w:64,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
}

static void test_inject__tbstate_left_most(void **state)
{
    struct fx *fx = *state;

    ctx_set(fx, TB_SAMPLING_DENY, 0);
    fx->ctx.tracestate = TB_IOV_LIT("rojo=1,congo=2");
    fx->ctx.tbstate = TB_IOV_LIT("sw:YWJj;ee:ZGVm");
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-00", "tracestate",
                   "tracebridge=sw:YWJj;ee:ZGVm,rojo=1,congo=2");
}

static void test_inject__tbstate_alone(void **state)
{
    struct fx *fx = *state;

    ctx_set(fx, TB_SAMPLING_ACCEPT, 0);
    fx->ctx.tbstate = TB_IOV_LIT("w:64");
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01", "tracestate",
                   "tracebridge=w:64");
}

/* A stray member with our key in ctx->tracestate is never sent: the only
 * tracebridge member is the one built from ctx->tbstate. */
static void test_inject__stray_tracebridge_member(void **state)
{
    struct fx *fx = *state;

    ctx_set(fx, TB_SAMPLING_ACCEPT, 0);
    fx->ctx.tracestate = TB_IOV_LIT("a=1,tracebridge=ee:old,b=2");
    fx->ctx.tbstate = TB_IOV_LIT("w:64");
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01", "tracestate",
                   "tracebridge=w:64,a=1,b=2");

    tb_headers_init(&fx->out);
    fx->ctx.tbstate = (struct tb_iov){NULL, 0};
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01", "tracestate", "a=1,b=2");

    /* nothing left to send: no tracestate field at all */
    tb_headers_init(&fx->out);
    fx->ctx.tracestate = TB_IOV_LIT("tracebridge=ee:old");
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01");
}

static void test_inject__no_tracestate(void **state)
{
    struct fx *fx = *state;

    ctx_set(fx, TB_SAMPLING_ACCEPT, 0);
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01");
}

/* §1.4: at most 32 members; adding ours removes the right-most. */
static void test_inject__32_member_cap(void **state)
{
    struct fx *fx = *state;
    char *m32 = members(fx, "bar", 32), *m33 = members(fx, "bar", 33);
    char *expect = tb_arena_alloc(fx->arena, 1024);

    ctx_set(fx, TB_SAMPLING_ACCEPT, 0);
    fx->ctx.tracestate = (struct tb_iov){m32, strlen(m32)};
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01", "tracestate", m32);

    tb_headers_init(&fx->out);
    fx->ctx.tbstate = TB_IOV_LIT("w:64");
    inject(fx);
    sprintf(expect, "tracebridge=w:64,%s", members(fx, "bar", 31));
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01", "tracestate", expect);

    /* a hand-built context over the limit is cut from the right */
    tb_headers_init(&fx->out);
    fx->ctx.tbstate = (struct tb_iov){NULL, 0};
    fx->ctx.tracestate = (struct tb_iov){m33, strlen(m33)};
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01", "tracestate", m32);
}

/* What does not pass the §1.4 grammar never reaches the wire: no control
 * bytes, no duplicate keys, no malformed tbstate. */
static void test_inject__invalid_members_dropped(void **state)
{
    struct fx *fx = *state;

    ctx_set(fx, TB_SAMPLING_ACCEPT, 0);
    fx->ctx.tracestate = TB_IOV_LIT("a=1\r\nx: y, B=2,,c=,d=3, e=4 ,d=5,f");
    fx->ctx.tbstate = TB_IOV_LIT("w:64,evil=1");
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01", "tracestate", "d=3,e=4");

    /* a value never ends in a space (§1.4) */
    tb_headers_init(&fx->out);
    fx->ctx.tbstate = TB_IOV_LIT("w:64 ");
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01", "tracestate", "d=3,e=4");

    tb_headers_init(&fx->out);
    fx->ctx.tracestate = TB_IOV_LIT("a=\x01");
    fx->ctx.tbstate = TB_IOV_LIT("w:64\n");
    inject(fx);
    assert_headers(&fx->out, "traceparent", "00-" T "-" HOP "-01");
}

static void test_inject__arena_full(void **state)
{
    struct fx *fx = *state;
    size_t dropped = 0;

    ctx_set(fx, TB_SAMPLING_ACCEPT, 0);
    while (tb_arena_alloc(fx->arena, 1) != NULL)
        ;
    assert_int_equal(
        tb_propagator_tracecontext.inject(&fx->ctx, &fx->hop, fx->arena, &fx->out, &dropped),
        TB_ENOSPC);
    assert_int_equal(fx->out.num, 0);
}

static void test_propagator__descriptor(void **state)
{
    const struct tb_propagator *p = &tb_propagator_tracecontext;

    (void)state;
    assert_string_equal(p->name, "tracecontext");
    assert_int_equal(p->format, TB_FORMAT_TRACECONTEXT);
    assert_int_equal(p->num_tokens, 2);
    assert_int_equal(p->tokens[0], TB_HDR_TRACEPARENT);
    assert_int_equal(p->tokens[1], TB_HDR_TRACESTATE);
    assert_null(p->baggage_prefix);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_extract__valid_traceparent),
        TEST(test_extract__header_name_any_case),
        TEST(test_extract__invalid_traceparent),
        TEST(test_extract__duplicated_traceparent),
        TEST(test_extract__duplicated_identical_traceparent),
        TEST(test_extract__absent),
        TEST(test_extract__tracestate_without_traceparent),
        TEST(test_extract__tracestate),
        TEST(test_extract__tracestate_before_traceparent),
        TEST(test_extract__tracestate_key_lengths),
        TEST(test_extract__tracestate_value_lengths),
        TEST(test_extract__tracestate_32_members),
        TEST(test_extract__tracebridge_member),
        TEST(test_extract__tracebridge_member_only),
        TEST(test_extract__tracebridge_member_duplicated),
        TEST(test_extract__tracebridge_member_rules),
        TEST(test_extract__arena_full),
        TEST(test_inject__sampling_and_flags),
        TEST(test_inject__appends),
        TEST(test_inject__64bit_trace_id),
        TEST(test_inject__roundtrip),
        TEST(test_inject__roundtrip_tracestate),
        TEST(test_inject__tbstate_left_most),
        TEST(test_inject__tbstate_alone),
        TEST(test_inject__stray_tracebridge_member),
        TEST(test_inject__no_tracestate),
        TEST(test_inject__32_member_cap),
        TEST(test_inject__invalid_members_dropped),
        TEST(test_inject__arena_full),
        cmocka_unit_test(test_propagator__descriptor),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
