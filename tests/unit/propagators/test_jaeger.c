/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/jaeger.c. Extraction is table-driven over
 * protocols.md §16 vectors 29-33 and one case per rule of §4 (fields, id
 * widths and padding, flags, percent-encoded values, the debug id, both
 * baggage carriers); injection asserts exact headers for every sampling
 * state, width and baggage encoding; round trips read back what we write.
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
#define HOP "e457b5a2e4d86bd1" /* S', the hop's new span id */
#define ZERO32 "00000000000000000000000000000000"
#define ZERO16 "0000000000000000"

#define JAEGER (&tb_propagator_jaeger)

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

/* Runs the jaeger extract over the NULL-terminated name/value list `pairs`
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
    tb_ctx_init(&fx->ctx, TB_FORMAT_JAEGER);
    fx->why = NULL;
    rc = tb_propagator_jaeger.extract(&fx->in, fx->arena, &fx->ctx, &fx->why);
    if (rc == TB_EINVAL)
        assert_non_null(fx->why);
    return rc;
}

#define EXTRACT(fx, ...) extract((fx), (const char *const[]){__VA_ARGS__, NULL})

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
    return tb_propagator_jaeger.inject(ctx, &hop, fx->arena, &fx->out, &fx->dropped);
}

/* ------------------------------------------------------------------------ */
/* table-driven extraction                                                  */

struct extract_case {
    const char *name;
    const char *hdrs[20]; /* name, value, ..., NULL */
    int rc;
    const char *trace; /* 32 hex; NULL: all zero */
    const char *span;  /* 16 hex; NULL: all zero */
    uint8_t width;
    enum tb_sampling sampling;
    const char *debug_id; /* NULL: none */
    const char *baggage;  /* bag_str form; NULL: none */
    size_t dropped;
};

#define OK TB_OK
#define INVAL TB_EINVAL
#define NOTFOUND TB_ENOTFOUND
#define DEFER TB_SAMPLING_DEFER
#define ACCEPT TB_SAMPLING_ACCEPT
#define DENY TB_SAMPLING_DENY
#define DEBUG TB_SAMPLING_DEBUG
#define UTI "uber-trace-id"
#define T_V29 "000000000000000003ce929d0e0e4736"
#define T_V30 "a1ce929d0e0e4736a3ce929d0e0e4736"

/* A case that fails with `rc`; one that succeeds with these ids (NULL:
 * zero), width, sampling; one that also checks debug id and baggage. */
#define BAD(n, rc, ...)                                                                            \
    {                                                                                              \
        n, {__VA_ARGS__}, rc, NULL, NULL, 0, DEFER, NULL, NULL, 0                                  \
    }
#define GOOD(n, trace, span, width, sampling, ...)                                                 \
    {                                                                                              \
        n, {__VA_ARGS__}, OK, trace, span, width, sampling, NULL, NULL, 0                          \
    }
#define FULL(n, trace, span, width, sampling, debug, bag, dropped, ...)                            \
    {                                                                                              \
        n, {__VA_ARGS__}, OK, trace, span, width, sampling, debug, bag, dropped                    \
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
        CHECK(c, x->format == TB_FORMAT_JAEGER);
        CHECK(c, ((x->extras & TB_FORMAT_BIT(TB_FORMAT_JAEGER)) != 0) == (c->debug_id != NULL));
        CHECK(c, tb_test_iov_eq(x->jaeger.debug_id, c->debug_id ? c->debug_id : ""));
        if (strcmp(bag_str(&x->baggage), c->baggage ? c->baggage : "") != 0)
            print_error("baggage \"%s\"\n", bag_str(&x->baggage));
        CHECK(c, strcmp(bag_str(&x->baggage), c->baggage ? c->baggage : "") == 0);
        CHECK(c, x->baggage.dropped == c->dropped);
    }
}

/* §16 vectors 29-32. */
static const struct extract_case vector_cases[] = {
    GOOD("29 short trace id", T_V29, S, 64, ACCEPT, UTI, "3ce929d0e0e4736:" S ":0:1"),
    GOOD("30 flags 3", T_V30, S, 128, DEBUG, UTI, T_V30 ":" S ":0:3"),
    GOOD("30 flags 2: debug without sampled", T_V30, S, 128, DENY, UTI, T_V30 ":" S ":0:2"),
    GOOD("31 parent ignored", T, S, 128, ACCEPT, UTI, T ":" S ":whatever:1"),
    BAD("31 wrong separator", INVAL, UTI, T "-" S "-0-1"),
    BAD("31 flags wired", INVAL, UTI, T ":" S ":0:wired"),
    BAD("31 36-char trace", INVAL, UTI, T "abcd:" S ":0:1"),
    GOOD("32 percent-encoded", T, S, 128, ACCEPT, UTI, T "%3A" S "%3A0%3A1"),
    GOOD("32 percent-encoded, lower-case", T, S, 128, ACCEPT, UTI, T "%3a" S "%3a0%3a1"),
};

static void test_jaeger_extract__vectors(void **state)
{
    run_cases(*state, vector_cases, TB_ARRAY_SIZE(vector_cases));
}

/* One case per rule of uber-trace-id (§4). */
static const struct extract_case trace_id_cases[] = {
    GOOD("upper case accepted", T, S, 128, ACCEPT, UTI,
         "4BF92F3577B34DA6A3CE929D0E0E4736:00F067AA0BA902B7:0:1"),
    GOOD("one-digit ids", "00000000000000000000000000000001", "0000000000000002", 64, ACCEPT, UTI,
         "1:2:0:1"),
    GOOD("16 digits: 64-bit", "0000000000000000a3ce929d0e0e4736", S, 64, ACCEPT, UTI,
         "a3ce929d0e0e4736:" S ":0:1"),
    GOOD("17 digits: 128-bit", "000000000000000fa3ce929d0e0e4736", S, 128, ACCEPT, UTI,
         "fa3ce929d0e0e4736:" S ":0:1"),
    GOOD("32 digits with zero high half: 128-bit", "0000000000000000a3ce929d0e0e4736", S, 128,
         ACCEPT, UTI, "0000000000000000a3ce929d0e0e4736:" S ":0:1"),
    GOOD("short span padded", T, "0000000000000abc", 128, ACCEPT, UTI, T ":abc:0:1"),
    GOOD("empty parent ignored", T, S, 128, ACCEPT, UTI, T ":" S "::1"),
    GOOD("flags 0", T, S, 128, DENY, UTI, T ":" S ":0:0"),
    GOOD("flags 01", T, S, 128, ACCEPT, UTI, T ":" S ":0:01"),
    GOOD("flags 03", T, S, 128, DEBUG, UTI, T ":" S ":0:03"),
    GOOD("flags 5 (sampled, no debug)", T, S, 128, ACCEPT, UTI, T ":" S ":0:5"),
    GOOD("flags 8 (firehose only)", T, S, 128, DENY, UTI, T ":" S ":0:8"),
    GOOD("flags ff (hex)", T, S, 128, DEBUG, UTI, T ":" S ":0:ff"),
    GOOD("flags 0B (upper hex)", T, S, 128, DEBUG, UTI, T ":" S ":0:0B"),
    GOOD("flags 10 (hex 0x10: not sampled)", T, S, 128, DENY, UTI, T ":" S ":0:10"),
    BAD("flags 3 digits", INVAL, UTI, T ":" S ":0:001"),
    BAD("flags empty", INVAL, UTI, T ":" S ":0:"),
    BAD("flags with space", INVAL, UTI, T ":" S ":0: 1"),
    BAD("three fields", INVAL, UTI, T ":" S ":1"),
    BAD("five fields", INVAL, UTI, T ":" S ":0:1:0"),
    BAD("empty", INVAL, UTI, ""),
    BAD("trace empty", INVAL, UTI, ":" S ":0:1"),
    BAD("trace 33 digits", INVAL, UTI, "0" T ":" S ":0:1"),
    BAD("trace zero", INVAL, UTI, "0:" S ":0:1"),
    BAD("trace zero 32", INVAL, UTI, ZERO32 ":" S ":0:1"),
    BAD("trace not hex", INVAL, UTI, "4bf92f3577b34da6a3ce929d0e0e473g:" S ":0:1"),
    BAD("span empty", INVAL, UTI, T "::0:1"),
    BAD("span 17 digits", INVAL, UTI, T ":0" S ":0:1"),
    BAD("span zero", INVAL, UTI, T ":0000:0:1"),
    BAD("bad percent-encoding", INVAL, UTI, T "%3A" S "%3A0%3"),
    BAD("percent-encoding with ':' is not decoded", INVAL, UTI, T ":" S "%3A0%3A1"),
    GOOD("first uber-trace-id wins", T, S, 128, ACCEPT, UTI, T ":" S ":0:1", UTI,
         T_V30 ":" S ":0:0"),
    BAD("first uber-trace-id wins even if invalid", INVAL, UTI, "x", UTI, T ":" S ":0:1"),
    GOOD("mixed-case name", T, S, 128, ACCEPT, "Uber-Trace-Id", T ":" S ":0:1"),
    BAD("nothing", NOTFOUND, "Host", "example", "traceparent", "00-" T "-" S "-01"),
};

static void test_jaeger_extract__uber_trace_id(void **state)
{
    run_cases(*state, trace_id_cases, TB_ARRAY_SIZE(trace_id_cases));
}

/* jaeger-debug-id (§4). */
static const struct extract_case debug_cases[] = {
    FULL("alone: sampling-only debug", NULL, NULL, 128, DEBUG, "corr-42", NULL, 0,
         "jaeger-debug-id", "corr-42"),
    FULL("with trace: sampling from flags", T, S, 128, DENY, "corr-42", NULL, 0, UTI,
         T ":" S ":0:0", "jaeger-debug-id", "corr-42"),
    FULL("inner space kept", NULL, NULL, 128, DEBUG, "my debug id", NULL, 0, "jaeger-debug-id",
         "my debug id"),
    BAD("alone, control byte", INVAL, "jaeger-debug-id", "a\x01b"),
    BAD("alone, empty", INVAL, "jaeger-debug-id", ""),
    BAD("alone, non-ASCII", INVAL, "jaeger-debug-id", "caf\xc3\xa9"),
    GOOD("invalid next to a valid trace: ignored", T, S, 128, ACCEPT, UTI, T ":" S ":0:1",
         "jaeger-debug-id", "a\x7f"),
    BAD("invalid trace with debug id: invalid", INVAL, UTI, "x", "jaeger-debug-id", "corr"),
};

static void test_jaeger_extract__debug_id(void **state)
{
    run_cases(*state, debug_cases, TB_ARRAY_SIZE(debug_cases));
}

#define TRACE UTI, T ":" S ":0:1"

/* Baggage carriers (§4, §12.3). */
static const struct extract_case baggage_cases[] = {
    FULL("uberctx decoded, key lower-cased", T, S, 128, ACCEPT, NULL, "key1=value 1 / blah", 0,
         TRACE, "uberctx-Key1", "value%201%20%2F%20blah"),
    FULL("uberctx '+' is a space", T, S, 128, ACCEPT, NULL, "k=a b", 0, TRACE, "uberctx-k", "a+b"),
    FULL("uberctx %2B is a plus", T, S, 128, ACCEPT, NULL, "k=a+b", 0, TRACE, "uberctx-k", "a%2Bb"),
    FULL("uberctx UTF-8", T, S, 128, ACCEPT, NULL, "user=Am\xc3\xa9lie", 0, TRACE, "uberctx-user",
         "Am%C3%A9lie"),
    FULL("uberctx empty value", T, S, 128, ACCEPT, NULL, "k=", 0, TRACE, "uberctx-k", ""),
    FULL("uberctx bad encoding dropped", T, S, 128, ACCEPT, NULL, "b=2", 1, TRACE, "uberctx-a",
         "%zz", "uberctx-b", "2"),
    FULL("uberctx empty key dropped", T, S, 128, ACCEPT, NULL, "", 1, TRACE, "uberctx-", "v"),
    FULL("uberctx order kept, last wins", T, S, 128, ACCEPT, NULL, "a=3|b=2", 0, TRACE, "uberctx-a",
         "1", "uberctx-b", "2", "UBERCTX-A", "3"),
    FULL("jaeger-baggage split and trimmed", T, S, 128, ACCEPT, NULL, "k1=v1|k2=v 2|k3=", 0, TRACE,
         "jaeger-baggage", "k1=v1, k2 = v 2 ,k3="),
    FULL("jaeger-baggage values raw", T, S, 128, ACCEPT, NULL, "k=a%20b", 0, TRACE,
         "jaeger-baggage", "k=a%20b"),
    FULL("jaeger-baggage value keeps '='", T, S, 128, ACCEPT, NULL, "k=a=b", 0, TRACE,
         "jaeger-baggage", "k=a=b"),
    FULL("jaeger-baggage bad items dropped", T, S, 128, ACCEPT, NULL, "ok=1", 3, TRACE,
         "jaeger-baggage", "noequals, =v, bad key=2,, ok=1"),
    FULL("jaeger-baggage every header", T, S, 128, ACCEPT, NULL, "a=1|b=2", 0, TRACE,
         "jaeger-baggage", "a=1", "jaeger-baggage", "b=2"),
    FULL("both carriers, uberctx first", T, S, 128, ACCEPT, NULL, "u=1|j=2", 0, TRACE,
         "jaeger-baggage", "j=2", "uberctx-u", "1"),
    FULL("baggage without a trace", NULL, NULL, 128, DEFER, NULL, "k=v", 0, "uberctx-k", "v"),
    FULL("baggage with debug id", NULL, NULL, 128, DEBUG, "d1", "k=v", 0, "jaeger-debug-id", "d1",
         "jaeger-baggage", "k=v"),
    BAD("invalid trace: baggage not taken", INVAL, UTI, T ":" S ":0", "uberctx-k", "v"),
    GOOD("other prefixes ignored", T, S, 128, ACCEPT, TRACE, "uberctxk", "v", "x-uberctx-k", "v",
         "ot-baggage-k", "v"),
};

static void test_jaeger_extract__baggage(void **state)
{
    run_cases(*state, baggage_cases, TB_ARRAY_SIZE(baggage_cases));
}

/* The 64-item / 8192-byte limits apply to uberctx headers (§12.3). */
static void test_jaeger_extract__baggage_limits(void **state)
{
    static char names[66][24];
    const char *pairs[2 * 66 + 3];
    struct fx *fx = *state;
    size_t n = 0;

    pairs[n++] = UTI;
    pairs[n++] = T ":" S ":0:1";
    for (size_t i = 0; i < 65; i++) {
        snprintf(names[i], sizeof(names[i]), "uberctx-k%zu", i);
        pairs[n++] = names[i];
        pairs[n++] = "v";
    }
    pairs[n] = NULL;
    assert_int_equal(extract(fx, pairs), TB_OK);
    assert_int_equal(fx->ctx.baggage.num, 64);
    assert_int_equal(fx->ctx.baggage.dropped, 1);
    assert_true(tb_test_iov_eq(fx->ctx.baggage.items[63].key, "k63"));
}

static void test_jaeger_extract__arena_full(void **state)
{
    struct fx *fx = *state;
    struct tb_arena *small = tb_arena_new(64, 1024);
    struct tb_headers in;
    struct tb_trace_ctx ctx;
    const char *why = NULL;

    (void)fx;
    tb_headers_init(&in);
    assert_int_equal(tb_headers_add(small, &in, TB_IOV_LIT("uberctx-k"), TB_IOV_LIT("v")), TB_OK);
    while (tb_arena_alloc(small, 1) != NULL)
        ;
    tb_ctx_init(&ctx, TB_FORMAT_JAEGER);
    assert_int_equal(tb_propagator_jaeger.extract(&in, small, &ctx, &why), TB_ENOSPC);
    tb_arena_free(small);
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

/* §16 vector 33. */
static void test_jaeger_inject__vector_33(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    bag_add(fx, &ctx, "key1", "value 1 / blah");
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "uber-trace-id", T ":" HOP ":0:1", "uberctx-key1",
                   "value%201%20%2F%20blah");
    assert_int_equal(fx->out.entries[0].token, TB_HDR_UBER_TRACE_ID);
    assert_int_equal(fx->out.entries[1].token, TB_HDR_UNKNOWN);
    assert_int_equal(fx->dropped, 0);
}

/* §12.2: 1 accept, 3 debug, 0 deny and defer. */
static void test_jaeger_inject__sampling_states(void **state)
{
    static const struct {
        enum tb_sampling sampling;
        const char *value;
    } cases[] = {
        {TB_SAMPLING_ACCEPT, T ":" HOP ":0:1"},
        {TB_SAMPLING_DEBUG, T ":" HOP ":0:3"},
        {TB_SAMPLING_DENY, T ":" HOP ":0:0"},
        {TB_SAMPLING_DEFER, T ":" HOP ":0:0"},
    };
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        ctx_set(&ctx, T, 128, cases[i].sampling);
        assert_int_equal(inject(fx, &ctx), TB_OK);
        assert_headers(&fx->out, "uber-trace-id", cases[i].value);
    }
}

static void test_jaeger_inject__widths(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, "0000000000000000a3ce929d0e0e4736", 64, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "uber-trace-id", "a3ce929d0e0e4736:" HOP ":0:1");
    ctx_set(&ctx, "0000000000000000a3ce929d0e0e4736", 128, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "uber-trace-id", "0000000000000000a3ce929d0e0e4736:" HOP ":0:1");
    ctx_set(&ctx, T, 64, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "uber-trace-id", T ":" HOP ":0:1");
}

static void test_jaeger_inject__debug_id(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T, 128, TB_SAMPLING_DEBUG);
    ctx.jaeger.debug_id = TB_IOV_LIT("corr-42");
    ctx.extras |= TB_FORMAT_BIT(TB_FORMAT_JAEGER);
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "uber-trace-id", T ":" HOP ":0:3", "jaeger-debug-id", "corr-42");
    assert_int_equal(fx->out.entries[1].token, TB_HDR_JAEGER_DEBUG_ID);

    /* A debug id that would break the header is never written. */
    ctx.jaeger.debug_id = TB_IOV_LIT("a\r\nx: y");
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "uber-trace-id", T ":" HOP ":0:3");
}

/* encodeURIComponent: only ALPHA DIGIT - _ . ! ~ * ' ( ) stay as they are. */
static void test_jaeger_inject__baggage_encoding(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    bag_add(fx, &ctx, "kept", "AZaz09-_.!~*'()");
    bag_add(fx, &ctx, "reserved", "a+b&c=d/e?f#g,h;i:j@k$l%m");
    bag_add(fx, &ctx, "utf8", "Am\xc3\xa9lie");
    bag_add(fx, &ctx, "ctl", "a\r\nb\x7f\t");
    bag_add(fx, &ctx, "empty", "");
    bag_add(fx, &ctx, "MixedCase", "1");
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "uber-trace-id", T ":" HOP ":0:1", "uberctx-kept", "AZaz09-_.!~*'()",
                   "uberctx-reserved", "a%2Bb%26c%3Dd%2Fe%3Ff%23g%2Ch%3Bi%3Aj%40k%24l%25m",
                   "uberctx-utf8", "Am%C3%A9lie", "uberctx-ctl", "a%0D%0Ab%7F%09", "uberctx-empty",
                   "", "uberctx-mixedcase", "1");
    assert_int_equal(fx->dropped, 0);
}

/* Keys that cannot be header names are dropped and counted; so is a second
 * key that folds to the same header name; properties are left out. */
static void test_jaeger_inject__baggage_dropped(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    bag_add(fx, &ctx, "Key", "1");
    bag_add(fx, &ctx, "bad(key)", "2");
    bag_add(fx, &ctx, "key", "3");
    bag_add(fx, &ctx, "caf\xc3\xa9", "4");
    assert_int_equal(tb_baggage_put(fx->arena, &ctx.baggage, TB_IOV_LIT("p"), TB_IOV_LIT("5"),
                                    TB_IOV_LIT("prop=1")),
                     TB_OK);
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "uber-trace-id", T ":" HOP ":0:1", "uberctx-key", "1", "uberctx-p",
                   "5");
    assert_int_equal(fx->dropped, 3);
}

/* Without a trace id: no uber-trace-id, never an all-zero id; the debug id
 * and baggage still travel. */
static void test_jaeger_inject__no_trace(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    tb_ctx_init(&ctx, TB_FORMAT_JAEGER);
    ctx.sampling = TB_SAMPLING_DEBUG;
    ctx.jaeger.debug_id = TB_IOV_LIT("corr");
    bag_add(fx, &ctx, "k", "v");
    assert_int_equal(inject(fx, &ctx), TB_OK);
    assert_headers(&fx->out, "jaeger-debug-id", "corr", "uberctx-k", "v");
}

static void test_jaeger_inject__appends(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_new();
    size_t dropped = 7;

    ctx_set(&ctx, T, 128, TB_SAMPLING_ACCEPT);
    bag_add(fx, &ctx, "bad key", "x");
    tb_headers_init(&fx->out);
    assert_int_equal(tb_headers_add(fx->arena, &fx->out, TB_IOV_LIT("Host"), TB_IOV_LIT("a")),
                     TB_OK);
    assert_int_equal(tb_propagator_jaeger.inject(&ctx, &hop, fx->arena, &fx->out, &dropped), TB_OK);
    assert_headers(&fx->out, "Host", "a", "uber-trace-id", T ":" HOP ":0:1");
    assert_int_equal(dropped, 8); /* added to, not reset */
}

static void test_jaeger_inject__arena_full(void **state)
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
    assert_int_equal(tb_propagator_jaeger.inject(&ctx, &hop, small, &out, &dropped), TB_ENOSPC);
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
    assert_memory_equal(fx->ctx.trace_id, ctx->trace_id, 16);
    assert_true(id_is(fx->ctx.span_id, 8, HOP));
}

static void test_jaeger__round_trips(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    /* DEFER leaves as 0 and comes back as DENY: Jaeger has no "absent". */
    static const enum tb_sampling in[] = {TB_SAMPLING_ACCEPT, TB_SAMPLING_DEBUG, TB_SAMPLING_DENY,
                                          TB_SAMPLING_DEFER};
    static const enum tb_sampling back[] = {TB_SAMPLING_ACCEPT, TB_SAMPLING_DEBUG, TB_SAMPLING_DENY,
                                            TB_SAMPLING_DENY};

    for (size_t i = 0; i < TB_ARRAY_SIZE(in); i++) {
        ctx_set(&ctx, T, 128, in[i]);
        round_trip(fx, &ctx);
        assert_int_equal(fx->ctx.sampling, back[i]);
        assert_int_equal(fx->ctx.id_width, 128);
    }

    ctx_set(&ctx, T, 128, TB_SAMPLING_DEBUG);
    ctx.jaeger.debug_id = TB_IOV_LIT("corr-42");
    bag_add(fx, &ctx, "key1", "value 1 / blah");
    bag_add(fx, &ctx, "plus", "a+b c%20");
    bag_add(fx, &ctx, "utf8", "Am\xc3\xa9lie");
    round_trip(fx, &ctx);
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DEBUG);
    assert_true(tb_test_iov_eq(fx->ctx.jaeger.debug_id, "corr-42"));
    assert_string_equal(bag_str(&fx->ctx.baggage),
                        "key1=value 1 / blah|plus=a+b c%20|utf8=Am\xc3\xa9lie");
    assert_int_equal(fx->ctx.baggage.dropped, 0);
}

static void test_jaeger__round_trip_64_bit(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;

    ctx_set(&ctx, "0000000000000000a3ce929d0e0e4736", 64, TB_SAMPLING_ACCEPT);
    round_trip(fx, &ctx);
    assert_int_equal(fx->ctx.id_width, 64);
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_ACCEPT);
}

static void test_jaeger__codec_table(void **state)
{
    (void)state;
    assert_string_equal(tb_propagator_jaeger.name, "jaeger");
    assert_int_equal(tb_propagator_jaeger.format, TB_FORMAT_JAEGER);
    assert_int_equal(tb_propagator_jaeger.num_tokens, 3);
    assert_int_equal(tb_propagator_jaeger.tokens[0], TB_HDR_UBER_TRACE_ID);
    assert_int_equal(tb_propagator_jaeger.tokens[1], TB_HDR_JAEGER_DEBUG_ID);
    assert_int_equal(tb_propagator_jaeger.tokens[2], TB_HDR_JAEGER_BAGGAGE);
    assert_string_equal(tb_propagator_jaeger.baggage_prefix, "uberctx-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T_(test_jaeger_extract__vectors),         T_(test_jaeger_extract__uber_trace_id),
        T_(test_jaeger_extract__debug_id),        T_(test_jaeger_extract__baggage),
        T_(test_jaeger_extract__baggage_limits),  T_(test_jaeger_extract__arena_full),
        T_(test_jaeger_inject__vector_33),        T_(test_jaeger_inject__sampling_states),
        T_(test_jaeger_inject__widths),           T_(test_jaeger_inject__debug_id),
        T_(test_jaeger_inject__baggage_encoding), T_(test_jaeger_inject__baggage_dropped),
        T_(test_jaeger_inject__no_trace),         T_(test_jaeger_inject__appends),
        T_(test_jaeger_inject__arena_full),       T_(test_jaeger__round_trips),
        T_(test_jaeger__round_trip_64_bit),       T_(test_jaeger__codec_table),
#undef T_
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
