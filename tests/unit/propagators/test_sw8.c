/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/sw8.c: SkyWalking sw8 / sw8-x / sw8-correlation
 * extraction and injection, protocols.md §16 vectors 47-50, every validation
 * rule of §8.1, the id mapping and its hash fallbacks, the correlation limits
 * and the "stale never poisons" cases. Header values are guarded copies: an
 * over-read faults.
 */
#include <stdlib.h>
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"
#include "parsers/lex.h"
#include "propagators/idmap.h"
#include "propagators/propagator.h"

#define IOV(s) ((struct tb_iov){(s), strlen(s)})

/* Vector 47. */
#define V47                                                                                        \
    "1-ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMQ==-"                  \
    "ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMA==-2-c3ZjLWE=-"         \
    "aW5zdC1hQDEwLjAuMC41-L2EvZ2V0-MTAuMC4wLjY6ODA4MA=="
/* Vector 48. */
#define V48 "1" V48_TAIL
#define V48_TAIL                                                                                   \
    "-NGJmOTJmMzU3N2IzNGRhNmEzY2U5MjlkMGUwZTQ3MzY=-"                                               \
    "MDBmMDY3YWEwYmE5MDJiNzAwMDAwMDAwMDAwMDAwMDA=-0-ZnJvbnRlbmQ=-ZnJvbnRlbmQtMUAxMC4wLjAuMQ==-"    \
    "R0VUOi9hcGkvb3JkZXJz-b3JkZXJzOjgwODA="
#define T "4bf92f3577b34da6a3ce929d0e0e4736"
#define S "00f067aa0ba902b7"
/* A valid sw8 with the given first, second and fourth fields. */
#define SW8_WITH(sample, trace_b64, span)                                                          \
    sample "-" trace_b64 "-c2VnLTE=-" span "-cw==-cw==-cw==-cw=="

#define MAX_GUARDED 32

struct fixture {
    struct tb_arena *arena;
    struct tb_headers in, out;
    char *guarded[MAX_GUARDED];
    size_t guarded_len[MAX_GUARDED];
    size_t num_guarded;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->arena = tb_arena_new(4096, 1 << 20);
    tb_headers_init(&f->in);
    tb_headers_init(&f->out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < f->num_guarded; i++)
        tb_test_guarded_free(f->guarded[i], f->guarded_len[i]);
    tb_arena_free(f->arena);
    free(f);
    return 0;
}

/* Adds request headers from a NULL-terminated name/value list, each value a
 * guarded copy that lives until teardown. */
static void add_in(struct fixture *f, const char *const *pairs)
{
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        size_t len = strlen(pairs[i + 1]);
        char *v = tb_test_guarded(pairs[i + 1], len);

        assert_true(f->num_guarded < MAX_GUARDED);
        f->guarded[f->num_guarded] = v;
        f->guarded_len[f->num_guarded++] = len;
        assert_int_equal(tb_headers_add(f->arena, &f->in, IOV(pairs[i]), (struct tb_iov){v, len}),
                         TB_OK);
    }
}
#define IN(f, ...) add_in((f), (const char *const[]){__VA_ARGS__, NULL})

static int extract(struct fixture *f, struct tb_trace_ctx *ctx, const char **why)
{
    *why = NULL;
    tb_ctx_init(ctx, TB_FORMAT_SW8);
    return tb_propagator_sw8.extract(&f->in, f->arena, ctx, why);
}

/* Extracts a lone sw8 `value` (a guarded copy) and expects TB_EINVAL with a reason. */
static void expect_invalid(struct fixture *f, const char *value, const char *file, int line)
{
    size_t len = strlen(value);
    char *v = tb_test_guarded(value, len);
    struct tb_trace_ctx ctx;
    const char *why;
    int ret;

    tb_headers_init(&f->in);
    assert_int_equal(tb_headers_add(f->arena, &f->in, IOV("sw8"), (struct tb_iov){v, len}), TB_OK);
    ret = extract(f, &ctx, &why);
    tb_test_guarded_free(v, len);
    if (ret != TB_EINVAL || why == NULL) {
        tb_test_print_bytes("  sw8 accepted: ", value, len);
        _fail(file, line);
    }
}
#define EXPECT_INVALID(f, v) expect_invalid((f), (v), __FILE__, __LINE__)

static void assert_hex_at(const uint8_t *p, size_t n, const char *hex, const char *file, int line)
{
    char got[64];

    tb_hex_encode(p, n, got);
    if (strlen(hex) == 2 * n && memcmp(got, hex, 2 * n) == 0)
        return;
    tb_test_print_bytes("  actual:   ", got, 2 * n);
    tb_test_print_bytes("  expected: ", hex, strlen(hex));
    _fail(file, line);
}
#define assert_hex(p, n, hex) assert_hex_at((p), (n), (hex), __FILE__, __LINE__)

/* A context with trace id T and the given sampling, as the policy hands it. */
static void ctx_t(struct tb_trace_ctx *ctx, enum tb_sampling sampling)
{
    tb_ctx_init(ctx, TB_FORMAT_TRACECONTEXT);
    assert_true(tb_lex_hex(IOV(T), ctx->trace_id, 16, false));
    assert_true(tb_lex_hex(IOV("b7ad6b7169203331"), ctx->span_id, 8, false));
    ctx->sampling = sampling;
}

/* The hop of vector 48. */
static struct tb_hop hop48(void)
{
    struct tb_hop hop = {
        .service = IOV("frontend"),
        .instance = IOV("frontend-1@10.0.0.1"),
        .endpoint = IOV("GET:/api/orders"),
        .target = IOV("orders:8080"),
    };

    assert_true(tb_lex_hex(IOV(S), hop.span_id, 8, false));
    return hop;
}

static int inject(struct fixture *f, const struct tb_trace_ctx *ctx, const struct tb_hop *hop,
                  size_t *dropped)
{
    *dropped = 0;
    tb_headers_init(&f->out);
    return tb_propagator_sw8.inject(ctx, hop, f->arena, &f->out, dropped);
}

static void put_baggage(struct fixture *f, struct tb_trace_ctx *ctx, const char *key,
                        const char *value, const char *props)
{
    assert_int_equal(tb_baggage_put(f->arena, &ctx->baggage, IOV(key), IOV(value), IOV(props)),
                     TB_OK);
}

static void arena_exhaust(struct tb_arena *arena)
{
    while (tb_arena_alloc(arena, 1) != NULL)
        ;
}

/* --- descriptor -------------------------------------------------------------- */

static void test_sw8_descriptor(void **state)
{
    (void)state;
    assert_string_equal(tb_propagator_sw8.name, "sw8");
    assert_int_equal(tb_propagator_sw8.format, TB_FORMAT_SW8);
    assert_int_equal(tb_propagator_sw8.num_tokens, 3);
    assert_int_equal(tb_propagator_sw8.tokens[0], TB_HDR_SW8);
    assert_int_equal(tb_propagator_sw8.tokens[1], TB_HDR_SW8_X);
    assert_int_equal(tb_propagator_sw8.tokens[2], TB_HDR_SW8_CORRELATION);
    assert_null(tb_propagator_sw8.baggage_prefix);
}

/* --- extract --------------------------------------------------------------- */

static void test_sw8_extract__vector47(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    IN(f, "sw8", V47);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.format, TB_FORMAT_SW8);
    assert_hex(ctx.trace_id, 16, "de5980b8fde34a371be41bcd5e2fd4dd");
    assert_hex(ctx.span_id, 8, "c6bd9b75a3cc9eea");
    assert_int_equal(ctx.sampling, TB_SAMPLING_ACCEPT);
    assert_int_equal(ctx.w3c_flags, TB_W3C_FLAG_SAMPLED);
    assert_int_equal(ctx.id_width, 128);
    assert_int_equal(ctx.extras, TB_FORMAT_BIT(TB_FORMAT_SW8));
    assert_int_equal(ctx.sw8.sample, 1);
    assert_iov_equal(ctx.sw8.trace_id, "de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001");
    assert_iov_equal(ctx.sw8.segment_id, "de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430000");
    assert_int_equal(ctx.sw8.span_id, 2);
    assert_iov_equal(ctx.sw8.service, "svc-a");
    assert_iov_equal(ctx.sw8.instance, "inst-a@10.0.0.5");
    assert_iov_equal(ctx.sw8.endpoint, "/a/get");
    assert_iov_equal(ctx.sw8.target, "10.0.0.6:8080");
    assert_int_equal(ctx.sw8.ext.len, 0);
    assert_int_equal(ctx.baggage.num, 0);
}

static void test_sw8_extract__vector48_back(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    /* Header names match case-insensitively. */
    IN(f, "SW8", V48);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_hex(ctx.trace_id, 16, T);
    assert_hex(ctx.span_id, 8, S);
    assert_iov_equal(ctx.sw8.segment_id, "00f067aa0ba902b70000000000000000");
    assert_int_equal(ctx.sw8.span_id, 0);
}

static void test_sw8_extract__not_found(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    assert_int_equal(extract(f, &ctx, &why), TB_ENOTFOUND);
    /* sw8-x alone extends nothing. */
    IN(f, "sw8-x", "1-1656347429643", "sw6", "x");
    assert_int_equal(extract(f, &ctx, &why), TB_ENOTFOUND);
}

static void test_sw8_extract__vector50_invalid(void **state)
{
    struct fixture *f = *state;

    /* 7 fields, a '!' in a base64 field, parent span "x". */
    EXPECT_INVALID(f, "1-YWJj-c2VnLTE=-0-cw==-cw==-cw==");
    EXPECT_INVALID(f, "1-YW!j-c2VnLTE=-0-cw==-cw==-cw==-cw==");
    EXPECT_INVALID(f, SW8_WITH("1", "YWJj", "x"));
}

static void test_sw8_extract__field_rules(void **state)
{
    struct fixture *f = *state;

    EXPECT_INVALID(f, "");
    EXPECT_INVALID(f, SW8_WITH("1", "YWJj", "0") "-cw==");  /* 9 fields */
    EXPECT_INVALID(f, SW8_WITH("1", "YWJj", "0") "-");      /* empty 9th */
    EXPECT_INVALID(f, SW8_WITH("2", "YWJj", "0"));          /* sample */
    EXPECT_INVALID(f, SW8_WITH("", "YWJj", "0"));           /* sample */
    EXPECT_INVALID(f, SW8_WITH("01", "YWJj", "0"));         /* sample */
    EXPECT_INVALID(f, SW8_WITH("1", "", "0"));              /* empty trace id */
    EXPECT_INVALID(f, SW8_WITH("1", "YQpi", "0"));          /* "a\nb": control byte */
    EXPECT_INVALID(f, SW8_WITH("1", "YWJj=", "0"));         /* bad padding */
    EXPECT_INVALID(f, SW8_WITH("1", "YWJ", "0"));           /* non-zero spare bits */
    EXPECT_INVALID(f, SW8_WITH("1", "YWJj", ""));           /* empty span */
    EXPECT_INVALID(f, SW8_WITH("1", "YWJj", "+1"));         /* sign */
    EXPECT_INVALID(f, SW8_WITH("1", "YWJj", " 1"));         /* space */
    EXPECT_INVALID(f, SW8_WITH("1", "YWJj", "2147483648")); /* > int32 */
    EXPECT_INVALID(f, SW8_WITH("1", "YWJj", "1.5"));
    /* Every string field must be non-empty. */
    EXPECT_INVALID(f, "1-YWJj--0-cw==-cw==-cw==-cw==");
    EXPECT_INVALID(f, "1-YWJj-c2VnLTE=-0--cw==-cw==-cw==");
    EXPECT_INVALID(f, "1-YWJj-c2VnLTE=-0-cw==--cw==-cw==");
    EXPECT_INVALID(f, "1-YWJj-c2VnLTE=-0-cw==-cw==--cw==");
    EXPECT_INVALID(f, "1-YWJj-c2VnLTE=-0-cw==-cw==-cw==-");
    /* URL-safe base64 is not the sw8 alphabet. */
    EXPECT_INVALID(f, "1-YWJj-c2VnLTE=-0-cw==-cw==-cw==-_w==");
}

static void test_sw8_extract__accepted_forms(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    /* Padding optional; the largest int32 span id; sample 0 is DENY. */
    IN(f, "sw8", "0-YWJj-c2VnLTE-2147483647-cw-cw-cw-cw");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_iov_equal(ctx.sw8.trace_id, "abc");
    assert_iov_equal(ctx.sw8.segment_id, "seg-1");
    assert_int_equal(ctx.sw8.span_id, INT32_MAX);
    assert_int_equal(ctx.sw8.sample, 0);
    assert_int_equal(ctx.sampling, TB_SAMPLING_DENY);
    assert_int_equal(ctx.w3c_flags, 0);
}

static void test_sw8_extract__hash_fallbacks(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    /* Trace "abc" and segment "seg-1" have no collector mapping: SHA-256 of
     * the trace id, and of "seg-1/4" for the span; no random flag. */
    IN(f, "sw8", SW8_WITH("1", "YWJj", "4"));
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_hex(ctx.trace_id, 16, "ba7816bf8f01cfea414140de5dae2223");
    assert_hex(ctx.span_id, 8, "8b227b57fead6414");
    assert_int_equal(ctx.w3c_flags, TB_W3C_FLAG_SAMPLED);
    assert_int_equal(ctx.id_width, 128);
}

static void test_sw8_extract__first_sw8_wins(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    IN(f, "sw8", V48, "sw8", V47);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_hex(ctx.trace_id, 16, T);
}

static void test_sw8_extract__ext(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    IN(f, "sw8", V47, "sw8-x", "1- 1656347429643");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_iov_equal(ctx.sw8.ext, "1- 1656347429643");

    /* A byte that could not be forwarded drops sw8-x, not sw8. */
    tb_headers_init(&f->in);
    IN(f, "sw8", V47, "sw8-x", "1-\x01");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.sw8.ext.len, 0);
    tb_headers_init(&f->in);
    IN(f, "sw8", V47, "sw8-x", "0-\xc3\xa9");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.sw8.ext.len, 0);
}

static void test_sw8_extract__vector49_correlation(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    IN(f, "sw8", V47, "sw8-correlation", "dGVuYW50:YWNtZQ==,Y2FuYXJ5:dHJ1ZQ==");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.baggage.num, 2);
    assert_iov_equal(ctx.baggage.items[0].key, "tenant");
    assert_iov_equal(ctx.baggage.items[0].value, "acme");
    assert_iov_equal(ctx.baggage.items[0].props, "");
    assert_iov_equal(ctx.baggage.items[1].key, "canary");
    assert_iov_equal(ctx.baggage.items[1].value, "true");
    assert_int_equal(ctx.baggage.dropped, 0);
}

static void test_sw8_extract__correlation_only(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    IN(f, "sw8-correlation", "dGVuYW50:YWNtZQ==");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_false(tb_ctx_has_ids(&ctx));
    assert_true(tb_is_zero(ctx.trace_id, 16));
    assert_int_equal(ctx.sampling, TB_SAMPLING_DEFER);
    assert_int_equal(ctx.extras, 0);
    assert_int_equal(ctx.baggage.num, 1);
    assert_iov_equal(ctx.baggage.items[0].value, "acme");
}

static void test_sw8_extract__invalid_sw8_with_correlation(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    /* A broken context is invalid even when its baggage is fine. */
    IN(f, "sw8", "1-YWJj", "sw8-correlation", "dGVuYW50:YWNtZQ==");
    assert_int_equal(extract(f, &ctx, &why), TB_EINVAL);
    assert_non_null(why);
}

static void test_sw8_extract__correlation_rules(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    /* Skipped and counted: no ':', two ':', bad base64, empty value, empty
     * key, a key that is not a token ("bad key"). Empty elements are not pairs. */
    IN(f, "sw8-correlation",
       "azE=,azE=:dg==:dg==,azE=:d!==,azE=:,:dg==,YmFkIGtleQ==:dg==, , azE=:dg== ,");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.baggage.num, 1);
    assert_iov_equal(ctx.baggage.items[0].key, "k1");
    assert_int_equal(ctx.baggage.dropped, 6);
}

static void test_sw8_extract__correlation_limits(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;
    char value[1024], *p;
    char long_b64[1024];
    size_t n;

    /* Three keys at most; a repeated key replaces and does not count. */
    IN(f, "sw8-correlation", "azE=:dg==,azI=:dg==,azE=:dzI=,azM=:dg==,azQ=:dg==,azU=:dg==");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.baggage.num, 3);
    assert_iov_equal(ctx.baggage.items[0].key, "k1");
    assert_iov_equal(ctx.baggage.items[0].value, "w2");
    assert_iov_equal(ctx.baggage.items[2].key, "k3");
    assert_int_equal(ctx.baggage.dropped, 2);

    /* Values up to 128 UTF-16 units: 128 'é' (256 bytes) pass, 129 do not. */
    p = value;
    for (int i = 0; i < 129; i++) {
        memcpy(p, "\xc3\xa9", 2);
        p += 2;
    }
    n = tb_base64_encode(TB_BASE64_STD, value, 256, long_b64);
    memcpy(value, "azE=:", 5);
    memcpy(value + 5, long_b64, n);
    value[5 + n] = '\0';
    tb_headers_init(&f->in);
    IN(f, "sw8-correlation", value);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.baggage.num, 1);
    assert_int_equal(ctx.baggage.items[0].value.len, 256);

    p = value;
    for (int i = 0; i < 129; i++) {
        memcpy(p, "\xc3\xa9", 2);
        p += 2;
    }
    n = tb_base64_encode(TB_BASE64_STD, value, 258, long_b64);
    memcpy(value, "azE=:", 5);
    memcpy(value + 5, long_b64, n);
    value[5 + n] = '\0';
    tb_headers_init(&f->in);
    IN(f, "sw8-correlation", value);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.baggage.num, 0);
    assert_int_equal(ctx.baggage.dropped, 1);
}

static void test_sw8_extract__enospc(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    IN(f, "sw8", V47);
    arena_exhaust(f->arena);
    assert_int_equal(extract(f, &ctx, &why), TB_ENOSPC);
}

/* --- inject ---------------------------------------------------------------- */

static void test_sw8_inject__vector48(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop48();
    size_t dropped;

    ctx_t(&ctx, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8", V48);
    assert_int_equal(dropped, 0);
}

static void test_sw8_inject__sampling(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop48();
    size_t dropped;

    /* §12.2: DENY is 0; DEFER and DEBUG are 1. */
    ctx_t(&ctx, TB_SAMPLING_DENY);
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8", "0" V48_TAIL);
    ctx_t(&ctx, TB_SAMPLING_DEFER);
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8", V48);
    ctx_t(&ctx, TB_SAMPLING_DEBUG);
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8", V48);
}

static void test_sw8_inject__native_trace_id_round_trip(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop48();
    const char *why;
    size_t dropped;

    /* Vector 47 in, our hop out: the Java agent's id travels on unchanged. */
    IN(f, "sw8", V47, "sw8-x", "1- 1656347429643");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8",
                   "1-ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMQ==-"
                   "MDBmMDY3YWEwYmE5MDJiNzAwMDAwMDAwMDAwMDAwMDA=-0-ZnJvbnRlbmQ=-"
                   "ZnJvbnRlbmQtMUAxMC4wLjAuMQ==-R0VUOi9hcGkvb3JkZXJz-b3JkZXJzOjgwODA=",
                   "sw8-x", "1- 1656347429643");
}

static void test_sw8_inject__hashed_trace_id_round_trip(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx, back;
    struct tb_hop hop = hop48();
    const char *why;
    size_t dropped;

    /* A non-hex id hashes, and still re-emits exactly because the native
     * string maps to the hashed trace id; the next hop gets the same ids. */
    IN(f, "sw8", SW8_WITH("1", "YWJj", "4"));
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8",
                   "1-YWJj-MDBmMDY3YWEwYmE5MDJiNzAwMDAwMDAwMDAwMDAwMDA=-0-ZnJvbnRlbmQ=-"
                   "ZnJvbnRlbmQtMUAxMC4wLjAuMQ==-R0VUOi9hcGkvb3JkZXJz-b3JkZXJzOjgwODA=");
    tb_headers_init(&f->in);
    assert_int_equal(tb_headers_add(f->arena, &f->in, IOV("sw8"), f->out.entries[0].value), TB_OK);
    assert_int_equal(extract(f, &back, &why), TB_OK);
    assert_memory_equal(back.trace_id, ctx.trace_id, 16);
    assert_hex(back.span_id, 8, S);
    assert_iov_equal(back.sw8.trace_id, "abc");
}

static void test_sw8_inject__stale_native_id_not_used(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop48();
    size_t dropped;

    /* sw8 extras of another trace must not name this one. */
    ctx_t(&ctx, TB_SAMPLING_ACCEPT);
    ctx.sw8.trace_id = IOV("de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001");
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8", V48);
}

static void test_sw8_inject__hop_segment_and_placeholders(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = {.sw8_segment_id = IOV("seg-own"), .sw8_span_id = 1};
    size_t dropped;

    /* The exporter's own segment and Exit span; empty names get stand-ins. */
    ctx_t(&ctx, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8",
                   "1-NGJmOTJmMzU3N2IzNGRhNmEzY2U5MjlkMGUwZTQ3MzY=-c2VnLW93bg==-1-"
                   "dHJhY2VicmlkZ2U=-dHJhY2VicmlkZ2U=-Lw==-LQ==");

    /* A negative span id is not sw8: the convention is used instead. */
    hop.sw8_span_id = -1;
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8",
                   "1-NGJmOTJmMzU3N2IzNGRhNmEzY2U5MjlkMGUwZTQ3MzY=-"
                   "MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=-0-"
                   "dHJhY2VicmlkZ2U=-dHJhY2VicmlkZ2U=-Lw==-LQ==");
}

static void test_sw8_inject__ext_only_when_valid(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop48();
    size_t dropped;

    ctx_t(&ctx, TB_SAMPLING_ACCEPT);
    ctx.sw8.ext = IOV("0-\r\nx: y");
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8", V48);
}

static void test_sw8_inject__vector49_correlation(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop48();
    size_t dropped;

    ctx_t(&ctx, TB_SAMPLING_ACCEPT);
    put_baggage(f, &ctx, "tenant", "acme", "");
    put_baggage(f, &ctx, "canary", "true", "p=1"); /* properties are lost */
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8", V48, "sw8-correlation", "dGVuYW50:YWNtZQ==,Y2FuYXJ5:dHJ1ZQ==");
    assert_int_equal(dropped, 0);
}

static void test_sw8_inject__correlation_limits(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop48();
    char v128[129], v129[130];
    size_t dropped;

    memset(v128, 'a', 128);
    v128[128] = '\0';
    memset(v129, 'a', 129);
    v129[129] = '\0';
    ctx_t(&ctx, TB_SAMPLING_ACCEPT);
    put_baggage(f, &ctx, "k1", "", "");   /* empty: SkyWalking's "removed" */
    put_baggage(f, &ctx, "k2", v129, ""); /* too long */
    put_baggage(f, &ctx, "k3", "v", "");
    put_baggage(f, &ctx, "k4", v128, "");
    put_baggage(f, &ctx, "k5", "v", "");
    put_baggage(f, &ctx, "k6", "v", ""); /* a fourth item */
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_int_equal(f->out.num, 2);
    assert_iov_equal(f->out.entries[1].name, "sw8-correlation");
    assert_memory_equal(f->out.entries[1].value.base, "azM=:dg==,azQ=:YWFh", 19);
    assert_int_equal(f->out.entries[1].value.len, 10 + 5 + 172 + 10);
    assert_memory_equal(f->out.entries[1].value.base + 187, ",azU=:dg==", 10);
    assert_int_equal(dropped, 3);
}

static void test_sw8_inject__zero_trace_id(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop48();
    size_t dropped;

    /* No context to send; the baggage still travels. */
    tb_ctx_init(&ctx, TB_FORMAT_SW8);
    ctx.sw8.ext = IOV("1");
    put_baggage(f, &ctx, "tenant", "acme", "");
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_OK);
    assert_headers(&f->out, "sw8-correlation", "dGVuYW50:YWNtZQ==");
}

static void test_sw8_inject__enospc(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop48();
    size_t dropped;

    ctx_t(&ctx, TB_SAMPLING_ACCEPT);
    arena_exhaust(f->arena);
    assert_int_equal(inject(f, &ctx, &hop, &dropped), TB_ENOSPC);
}

#define T_(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sw8_descriptor),
        T_(test_sw8_extract__vector47),
        T_(test_sw8_extract__vector48_back),
        T_(test_sw8_extract__not_found),
        T_(test_sw8_extract__vector50_invalid),
        T_(test_sw8_extract__field_rules),
        T_(test_sw8_extract__accepted_forms),
        T_(test_sw8_extract__hash_fallbacks),
        T_(test_sw8_extract__first_sw8_wins),
        T_(test_sw8_extract__ext),
        T_(test_sw8_extract__vector49_correlation),
        T_(test_sw8_extract__correlation_only),
        T_(test_sw8_extract__invalid_sw8_with_correlation),
        T_(test_sw8_extract__correlation_rules),
        T_(test_sw8_extract__correlation_limits),
        T_(test_sw8_extract__enospc),
        T_(test_sw8_inject__vector48),
        T_(test_sw8_inject__sampling),
        T_(test_sw8_inject__native_trace_id_round_trip),
        T_(test_sw8_inject__hashed_trace_id_round_trip),
        T_(test_sw8_inject__stale_native_id_not_used),
        T_(test_sw8_inject__hop_segment_and_placeholders),
        T_(test_sw8_inject__ext_only_when_valid),
        T_(test_sw8_inject__vector49_correlation),
        T_(test_sw8_inject__correlation_limits),
        T_(test_sw8_inject__zero_trace_id),
        T_(test_sw8_inject__enospc),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
