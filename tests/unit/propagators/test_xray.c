/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/xray.c: X-Amzn-Trace-Id extraction (protocols.md
 * §6, vectors 36, 38, 39) with every validation rule, byte-exact injection
 * (vector 37) for each sampling state, verbatim forwarding of the fields we
 * do not interpret, and extract∘inject round trips. Header values sit right
 * before a guard page so that an over-read faults.
 */
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

#define MAX_GUARDED 8

struct fx {
    struct tb_arena *arena;
    struct tb_headers in;
    struct tb_headers out;
    struct tb_trace_ctx ctx;
    const char *why;
    char *guarded[MAX_GUARDED];
    size_t guarded_len[MAX_GUARDED];
    size_t num_guarded;
};

static int setup(void **state)
{
    struct fx *fx = test_calloc(1, sizeof(*fx));

    fx->arena = tb_arena_new(1024, 1 << 16);
    tb_headers_init(&fx->in);
    tb_headers_init(&fx->out);
    *state = fx;
    return 0;
}

static void fx_release_guarded(struct fx *fx)
{
    for (size_t i = 0; i < fx->num_guarded; i++)
        tb_test_guarded_free(fx->guarded[i], fx->guarded_len[i]);
    fx->num_guarded = 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    fx_release_guarded(fx);
    tb_arena_free(fx->arena);
    test_free(fx);
    return 0;
}

/* Adds `name: value` to the input table, the value in a guarded copy. */
static void fx_add(struct fx *fx, const char *name, const char *value)
{
    size_t n = strlen(value);
    char *g = tb_test_guarded(value, n);

    assert_true(fx->num_guarded < MAX_GUARDED);
    fx->guarded[fx->num_guarded] = g;
    fx->guarded_len[fx->num_guarded++] = n;
    assert_int_equal(tb_headers_add(fx->arena, &fx->in, (struct tb_iov){name, strlen(name)},
                                    (struct tb_iov){g, n}),
                     TB_OK);
}

/* Empties the input table and runs extract on it; returns its status. */
static int fx_extract_with(struct fx *fx, struct tb_arena *arena)
{
    int rc;

    tb_ctx_init(&fx->ctx, TB_FORMAT_XRAY);
    fx->why = NULL;
    rc = tb_propagator_xray.extract(&fx->in, arena, &fx->ctx, &fx->why);
    if (rc == TB_EINVAL)
        assert_non_null(fx->why);
    return rc;
}

static int fx_extract(struct fx *fx)
{
    return fx_extract_with(fx, fx->arena);
}

/* Extracts a single X-Amzn-Trace-Id `value`. */
static int fx_extract_value(struct fx *fx, const char *value)
{
    fx_release_guarded(fx);
    tb_headers_init(&fx->in);
    fx_add(fx, "X-Amzn-Trace-Id", value);
    return fx_extract(fx);
}

/* Fails unless the `len` bytes at `p` are the hex string `hex`. */
static void assert_bytes_hex(const uint8_t *p, size_t len, const char *hex)
{
    char buf[64];

    assert_true(2 * len < sizeof(buf));
    tb_hex_encode(p, len, buf);
    assert_iov_equal(((struct tb_iov){buf, 2 * len}), hex);
}

/* A context as another format would hand it over: ids from hex. */
static void ctx_make(struct tb_trace_ctx *ctx, const char *trace_hex, const char *span_hex,
                     enum tb_sampling sampling)
{
    tb_ctx_init(ctx, TB_FORMAT_TRACECONTEXT);
    assert_true(tb_lex_hex((struct tb_iov){trace_hex, 32}, ctx->trace_id, 16, false));
    assert_true(tb_lex_hex((struct tb_iov){span_hex, 16}, ctx->span_id, 8, false));
    ctx->sampling = sampling;
}

static void hop_make(struct tb_hop *hop, const char *span_hex)
{
    memset(hop, 0, sizeof(*hop));
    assert_true(tb_lex_hex((struct tb_iov){span_hex, 16}, hop->span_id, 8, false));
}

static int fx_inject(struct fx *fx, const struct tb_trace_ctx *ctx, const struct tb_hop *hop)
{
    size_t dropped = 0;
    int rc;

    tb_headers_init(&fx->out);
    rc = tb_propagator_xray.inject(ctx, hop, fx->arena, &fx->out, &dropped);
    assert_int_equal(dropped, 0);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* descriptor                                                               */

static void test_xray__descriptor(void **state)
{
    (void)state;
    assert_string_equal(tb_propagator_xray.name, "xray");
    assert_int_equal(tb_propagator_xray.format, TB_FORMAT_XRAY);
    assert_int_equal(tb_propagator_xray.num_tokens, 1);
    assert_int_equal(tb_propagator_xray.tokens[0], TB_HDR_X_AMZN_TRACE_ID);
    assert_null(tb_propagator_xray.baggage_prefix);
}

/* ------------------------------------------------------------------------ */
/* extract                                                                  */

static void test_xray_extract__vector_36(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(
        fx_extract_value(fx, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                             "Sampled=1"),
        TB_OK);
    assert_bytes_hex(fx->ctx.trace_id, 16, "5759e988bd862e3fe1be46a994272793");
    assert_bytes_hex(fx->ctx.span_id, 8, "53995c3f42cd8ad8");
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_ACCEPT);
    assert_int_equal(fx->ctx.w3c_flags, TB_W3C_FLAG_SAMPLED);
    assert_int_equal(fx->ctx.id_width, 128);
    assert_int_equal(fx->ctx.format, TB_FORMAT_XRAY);
    assert_int_equal(fx->ctx.extras, TB_FORMAT_BIT(TB_FORMAT_XRAY));
    assert_int_equal(fx->ctx.xray.fields.len, 0);
}

static void test_xray_extract__absent(void **state)
{
    struct fx *fx = *state;

    fx_add(fx, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert_int_equal(fx_extract(fx), TB_ENOTFOUND);
}

static void test_xray_extract__sampling_states(void **state)
{
    static const struct {
        const char *sampled;
        enum tb_sampling sampling;
        uint8_t flags;
    } cases[] = {
        {";Sampled=1", TB_SAMPLING_ACCEPT, TB_W3C_FLAG_SAMPLED},
        {";Sampled=0", TB_SAMPLING_DENY, 0},
        /* vector 38: '?' is valid and leaves the decision downstream */
        {";Sampled=?", TB_SAMPLING_DEFER, 0},
        {"", TB_SAMPLING_DEFER, 0},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        char value[128];

        snprintf(value, sizeof(value),
                 "Root=1-5759e988-bd862e3fe1be46a994272793;"
                 "Parent=53995c3f42cd8ad8%s",
                 cases[i].sampled);
        assert_int_equal(fx_extract_value(fx, value), TB_OK);
        assert_int_equal(fx->ctx.sampling, cases[i].sampling);
        assert_int_equal(fx->ctx.w3c_flags, cases[i].flags);
    }
}

static void test_xray_extract__any_order_trimmed_empty_parts(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(fx_extract_value(fx, " Sampled=0 ;; Parent = 53995C3F42CD8AD8\t; "
                                          "Root=1-5759E988-BD862E3FE1BE46A994272793 ;"),
                     TB_OK);
    assert_bytes_hex(fx->ctx.trace_id, 16, "5759e988bd862e3fe1be46a994272793");
    assert_bytes_hex(fx->ctx.span_id, 8, "53995c3f42cd8ad8");
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DENY);
    assert_int_equal(fx->ctx.xray.fields.len, 0);
}

static void test_xray_extract__vector_39_alb_without_parent(void **state)
{
    struct fx *fx = *state;

    /* The ALB form: no Parent, a Self whose last part is 23 hex (kept as
     * is: we never interpret Self). */
    assert_int_equal(fx_extract_value(fx, "Self=1-67891233-12456789abcdef012345678;"
                                          "Root=1-67891233-abcdef012345678912345678;"
                                          "CalledFrom=app"),
                     TB_OK);
    assert_bytes_hex(fx->ctx.trace_id, 16, "67891233abcdef012345678912345678");
    assert_true(tb_is_zero(fx->ctx.span_id, 8)); /* the hop is the trace's root span */
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DEFER);
    assert_int_equal(fx->ctx.w3c_flags, 0);
    assert_iov_equal(fx->ctx.xray.fields, "Self=1-67891233-12456789abcdef012345678;CalledFrom=app");
    assert_true(fx->ctx.extras & TB_FORMAT_BIT(TB_FORMAT_XRAY));
}

static void test_xray_extract__custom_fields_verbatim_in_order(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(fx_extract_value(fx, "Lineage = a87bd80c:1|68fd508a:5 ;Root=1-5759e988-"
                                          "bd862e3fe1be46a994272793;Foo=bar=baz;"
                                          "Parent=53995c3f42cd8ad8;Sampled=1;x=;root=1-2-3"),
                     TB_OK);
    /* Parts are trimmed at their ends only; Key=Value as received. "root"
     * is not "Root": keys are case-sensitive. */
    assert_iov_equal(fx->ctx.xray.fields,
                     "Lineage = a87bd80c:1|68fd508a:5;Foo=bar=baz;x=;root=1-2-3");
    /* The copy lives in the arena, not in the header value. */
    assert_true(fx->ctx.xray.fields.base < fx->guarded[0] ||
                fx->ctx.xray.fields.base >= fx->guarded[0] + fx->guarded_len[0]);
}

static void test_xray_extract__invalid(void **state)
{
    static const struct {
        const char *value;
        const char *why;
    } cases[] = {
        /* vector 38 */
        {"Root=1-abc-123;Parent=53995c3f42cd8ad8;Sampled=1",
         "X-Ray Root is not 1-<8 hex>-<24 hex>"},
        {"Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
         "X-Ray Root version is not 1"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=bad-spanid;Sampled=1",
         "X-Ray Parent is not 16 hex"},
        /* Root shape */
        {"Root=1-5759e988-bd862e3fe1be46a99427279", "X-Ray Root is not 1-<8 hex>-<24 hex>"},
        {"Root=1-5759e988-bd862e3fe1be46a9942727933", "X-Ray Root is not 1-<8 hex>-<24 hex>"},
        {"Root=1-5759e98-8bd862e3fe1be46a994272793", "X-Ray Root is not 1-<8 hex>-<24 hex>"},
        {"Root=1_5759e988-bd862e3fe1be46a994272793", "X-Ray Root is not 1-<8 hex>-<24 hex>"},
        {"Root=1-5759e98g-bd862e3fe1be46a994272793", "X-Ray Root is not 1-<8 hex>-<24 hex>"},
        {"Root=1-5759e988-bd862e3fe1be46a99427279z", "X-Ray Root is not 1-<8 hex>-<24 hex>"},
        {"Root=", "X-Ray Root is not 1-<8 hex>-<24 hex>"},
        {"Root=1-00000000-000000000000000000000000", "X-Ray Root is all zero"},
        /* Parent */
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad",
         "X-Ray Parent is not 16 hex"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8a",
         "X-Ray Parent is not 16 hex"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
         "X-Ray Parent is all zero"},
        /* Sampled */
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=2", "X-Ray Sampled is not 1, 0 or ?"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=", "X-Ray Sampled is not 1, 0 or ?"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=11", "X-Ray Sampled is not 1, 0 or ?"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=true", "X-Ray Sampled is not 1, 0 or ?"},
        /* structure */
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent", "X-Ray field without '='"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;junk", "X-Ray field without '='"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;=1", "X-Ray field with an empty key"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272793",
         "X-Ray Root repeated"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Parent=53995c3f42cd8ad8",
         "X-Ray Parent repeated"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Sampled=1", "X-Ray Sampled repeated"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Foo=a\tb", "X-Ray field holds a control byte"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Foo=a\x7f", "X-Ray field holds a control byte"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;F\x01oo=a", "X-Ray field holds a control byte"},
        /* Root is what makes a context */
        {"Parent=53995c3f42cd8ad8;Sampled=1", "X-Ray header without Root"},
        {"Self=1-67891233-12456789abcdef012345678", "X-Ray header without Root"},
        {"root=1-5759e988-bd862e3fe1be46a994272793", "X-Ray header without Root"},
        {"", "X-Ray header without Root"},
        {" ; ", "X-Ray header without Root"},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        int rc = fx_extract_value(fx, cases[i].value);

        if (rc != TB_EINVAL || strcmp(fx->why, cases[i].why) != 0) {
            tb_test_print_bytes("case: ", cases[i].value, strlen(cases[i].value));
            print_error("rc %d why \"%s\", expected \"%s\"\n", rc, fx->why ? fx->why : "(null)",
                        cases[i].why);
            fail();
        }
    }
}

static void test_xray_extract__first_header_wins(void **state)
{
    struct fx *fx = *state;

    fx_add(fx, "x-amzn-trace-id",
           "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0");
    fx_add(fx, "X-AMZN-TRACE-ID", "Root=2-garbage");
    assert_int_equal(fx_extract(fx), TB_OK);
    assert_bytes_hex(fx->ctx.trace_id, 16, "5759e988bd862e3fe1be46a994272793");
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DENY);
}

static void test_xray_extract__exhausted_arena(void **state)
{
    struct fx *fx = *state;
    struct tb_arena *tiny = tb_arena_new(64, 64);

    while (tb_arena_alloc(tiny, 1) != NULL)
        ;
    /* Without extra fields nothing is copied: the arena is not needed. */
    fx_add(fx, "X-Amzn-Trace-Id",
           "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8");
    assert_int_equal(fx_extract_with(fx, tiny), TB_OK);
    tb_headers_init(&fx->in);
    fx_add(fx, "X-Amzn-Trace-Id",
           "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Lineage=x");
    assert_int_equal(fx_extract_with(fx, tiny), TB_ENOSPC);
    tb_arena_free(tiny);
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

static void test_xray_inject__vector_37(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;

    ctx_make(&ctx, "fedcba098765432100fedcba09876543", "1111111111111111", TB_SAMPLING_ACCEPT);
    hop_make(&hop, "fedcba0987654321");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, "x-amzn-trace-id",
                   "Root=1-fedcba09-8765432100fedcba09876543;Parent=fedcba0987654321;Sampled=1");
}

static void test_xray_inject__sampling_states(void **state)
{
    static const struct {
        enum tb_sampling sampling;
        const char *value;
    } cases[] = {
        {TB_SAMPLING_ACCEPT,
         "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"},
        {TB_SAMPLING_DEBUG,
         "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"},
        {TB_SAMPLING_DENY,
         "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=0"},
        {TB_SAMPLING_DEFER,
         "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=?"},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        struct tb_trace_ctx ctx;
        struct tb_hop hop;

        ctx_make(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736", "1111111111111111", cases[i].sampling);
        hop_make(&hop, "00f067aa0ba902b7");
        assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
        assert_headers(&fx->out, "x-amzn-trace-id", cases[i].value);
    }
}

static void test_xray_inject__64_bit_trace_id(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;

    /* X-Ray has only the 128-bit form: a 64-bit id goes out zero-padded. */
    ctx_make(&ctx, "0000000000000000a3ce929d0e0e4736", "1111111111111111", TB_SAMPLING_ACCEPT);
    ctx.id_width = 64;
    hop_make(&hop, "00f067aa0ba902b7");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, "x-amzn-trace-id",
                   "Root=1-00000000-00000000a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1");
}

static void test_xray_inject__fields_forwarded_without_self(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;

    ctx_make(&ctx, "67891233abcdef012345678912345678", "1111111111111111", TB_SAMPLING_DEFER);
    ctx.xray.fields = TB_IOV_LIT("Self=1-67891233-12456789abcdef012345678;CalledFrom=app");
    ctx.extras |= TB_FORMAT_BIT(TB_FORMAT_XRAY);
    hop_make(&hop, "00f067aa0ba902b7");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, "x-amzn-trace-id",
                   "Root=1-67891233-abcdef012345678912345678;Parent=00f067aa0ba902b7;Sampled=?;"
                   "Self=1-67891233-12456789abcdef012345678;CalledFrom=app");
}

static void test_xray_inject__stale_fields_never_emitted(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;

    hop_make(&hop, "00f067aa0ba902b7");
    /* Fields without the X-Ray extras bit are not X-Ray's to send. */
    ctx_make(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736", "1111111111111111", TB_SAMPLING_DENY);
    ctx.xray.fields = TB_IOV_LIT("Lineage=x");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, "x-amzn-trace-id",
                   "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=0");
    /* Fields that would put a control byte on the wire are left out. */
    ctx.xray.fields = TB_IOV_LIT("Lineage=x\r\nEvil: 1");
    ctx.extras |= TB_FORMAT_BIT(TB_FORMAT_XRAY);
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, "x-amzn-trace-id",
                   "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=0");
}

static void test_xray_inject__zero_trace_id_emits_nothing(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;

    tb_ctx_init(&ctx, TB_FORMAT_B3);
    ctx.sampling = TB_SAMPLING_DENY; /* a sampling-only context, e.g. `b3: 0` */
    hop_make(&hop, "00f067aa0ba902b7");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_int_equal(fx->out.num, 0);
}

static void test_xray_inject__ignores_baggage(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    size_t dropped = 7;

    ctx_make(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736", "1111111111111111", TB_SAMPLING_ACCEPT);
    assert_int_equal(
        tb_baggage_put(fx->arena, &ctx.baggage, TB_IOV_LIT("k"), TB_IOV_LIT("v"), TB_IOV_LIT("")),
        TB_OK);
    hop_make(&hop, "00f067aa0ba902b7");
    assert_int_equal(tb_propagator_xray.inject(&ctx, &hop, fx->arena, &fx->out, &dropped), TB_OK);
    assert_int_equal(dropped, 7);
    assert_headers(&fx->out, "x-amzn-trace-id",
                   "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1");
}

static void test_xray_inject__appends_never_replaces(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    size_t dropped = 0;

    ctx_make(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736", "1111111111111111", TB_SAMPLING_ACCEPT);
    hop_make(&hop, "00f067aa0ba902b7");
    tb_test_headers_build(fx->arena, &fx->out,
                          (const char *const[]){"Host", "a", "X-Amzn-Trace-Id", "old", NULL});
    assert_int_equal(tb_propagator_xray.inject(&ctx, &hop, fx->arena, &fx->out, &dropped), TB_OK);
    assert_headers(&fx->out, "Host", "a", "X-Amzn-Trace-Id", "old", "x-amzn-trace-id",
                   "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1");
}

static void test_xray_inject__exhausted_arena(void **state)
{
    struct fx *fx = *state;
    struct tb_arena *tiny = tb_arena_new(64, 64);
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    struct tb_headers out;
    size_t dropped = 0;

    while (tb_arena_alloc(tiny, 1) != NULL)
        ;
    (void)fx;
    tb_headers_init(&out);
    ctx_make(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736", "1111111111111111", TB_SAMPLING_ACCEPT);
    hop_make(&hop, "00f067aa0ba902b7");
    assert_int_equal(tb_propagator_xray.inject(&ctx, &hop, tiny, &out, &dropped), TB_ENOSPC);
    assert_int_equal(out.num, 0);
    tb_arena_free(tiny);
}

/* ------------------------------------------------------------------------ */
/* round trips                                                              */

static void test_xray__round_trip(void **state)
{
    static const struct {
        const char *in;
        const char *out; /* canonical form of `in` */
    } cases[] = {
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
         "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
        {"Sampled=0;Parent=53995C3F42CD8AD8;Root=1-5759E988-BD862E3FE1BE46A994272793;Lineage=a:1",
         "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1"},
        {"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?;A=1;B=2",
         "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?;A=1;B=2"},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        struct tb_trace_ctx first;
        struct tb_hop hop;

        assert_int_equal(fx_extract_value(fx, cases[i].in), TB_OK);
        first = fx->ctx;
        /* Re-emitting with the caller's own span as the parent. */
        memset(&hop, 0, sizeof(hop));
        memcpy(hop.span_id, first.span_id, 8);
        assert_int_equal(fx_inject(fx, &first, &hop), TB_OK);
        assert_headers(&fx->out, "x-amzn-trace-id", cases[i].out);

        assert_int_equal(fx_extract_value(fx, cases[i].out), TB_OK);
        assert_memory_equal(fx->ctx.trace_id, first.trace_id, 16);
        assert_memory_equal(fx->ctx.span_id, first.span_id, 8);
        assert_int_equal(fx->ctx.sampling, first.sampling);
        assert_int_equal(fx->ctx.w3c_flags, first.w3c_flags);
        assert_int_equal(fx->ctx.id_width, first.id_width);
        assert_int_equal(fx->ctx.xray.fields.len, first.xray.fields.len);
        if (first.xray.fields.len > 0)
            assert_memory_equal(fx->ctx.xray.fields.base, first.xray.fields.base,
                                first.xray.fields.len);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_xray__descriptor),
        T(test_xray_extract__vector_36),
        T(test_xray_extract__absent),
        T(test_xray_extract__sampling_states),
        T(test_xray_extract__any_order_trimmed_empty_parts),
        T(test_xray_extract__vector_39_alb_without_parent),
        T(test_xray_extract__custom_fields_verbatim_in_order),
        T(test_xray_extract__invalid),
        T(test_xray_extract__first_header_wins),
        T(test_xray_extract__exhausted_arena),
        T(test_xray_inject__vector_37),
        T(test_xray_inject__sampling_states),
        T(test_xray_inject__64_bit_trace_id),
        T(test_xray_inject__fields_forwarded_without_self),
        T(test_xray_inject__stale_fields_never_emitted),
        T(test_xray_inject__zero_trace_id_emits_nothing),
        T(test_xray_inject__ignores_baggage),
        T(test_xray_inject__appends_never_replaces),
        T(test_xray_inject__exhausted_arena),
        T(test_xray__round_trip),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
