/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/eagleeye.c: protocols.md §16 vector 57, a full
 * header set as ARMS agents send it, every validation rule, the span id and
 * sampling encodings chosen in docs/formats/eagleeye.md, RpcId descent, and
 * the "stale never poisons" cases. Header values are guarded copies.
 */
#include <stdlib.h>
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"
#include "parsers/lex.h"
#include "propagators/idmap.h"
#include "propagators/propagator.h"

#define IOV(s) ((struct tb_iov){(s), strlen(s)})

#define V57 "eac0a8020216868084400006973d000a"
/* Headers an ARMS-instrumented gateway sent (EDAS Spring Cloud Gateway demo). */
#define ARMS_TRACE "eac0a8020116974429411421021d0001"
#define ARMS_SPAN "-1207596966212570593"  /* ef3dc0f5150f721f */
#define ARMS_PSPAN "-7254661991881594415" /* 9b52435af05ea9d1 */
#define ARMS_USERDATA "__microservice_match_result__=[]"
#define T "4bf92f3577b34da6a3ce929d0e0e4736"
#define S "00f067aa0ba902b7"      /* 67667974448284343 */
#define CALLER "b7ad6b7169203331" /* -5211391058958601423 */

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

static void release_guarded(struct fixture *f)
{
    for (size_t i = 0; i < f->num_guarded; i++)
        tb_test_guarded_free(f->guarded[i], f->guarded_len[i]);
    f->num_guarded = 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    release_guarded(f);
    tb_arena_free(f->arena);
    free(f);
    return 0;
}

/* Replaces the request headers with a NULL-terminated name/value list; each
 * value is a guarded copy that lives until the next call or teardown. */
static void set_in(struct fixture *f, const char *const *pairs)
{
    release_guarded(f);
    tb_headers_init(&f->in);
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
#define IN(f, ...) set_in((f), (const char *const[]){__VA_ARGS__, NULL})

static int extract(struct fixture *f, struct tb_trace_ctx *ctx, const char **why)
{
    *why = NULL;
    tb_ctx_init(ctx, TB_FORMAT_EAGLEEYE);
    return tb_propagator_eagleeye.extract(&f->in, f->arena, ctx, why);
}

static int inject(struct fixture *f, const struct tb_trace_ctx *ctx, const struct tb_hop *hop)
{
    size_t dropped = 0;
    int ret;

    tb_headers_init(&f->out);
    ret = tb_propagator_eagleeye.inject(ctx, hop, f->arena, &f->out, &dropped);
    assert_int_equal(dropped, 0);
    return ret;
}

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

/* A W3C-born context: trace T, caller span CALLER. */
static void ctx_t(struct tb_trace_ctx *ctx, enum tb_sampling sampling)
{
    tb_ctx_init(ctx, TB_FORMAT_TRACECONTEXT);
    assert_true(tb_lex_hex(IOV(T), ctx->trace_id, 16, false));
    assert_true(tb_lex_hex(IOV(CALLER), ctx->span_id, 8, false));
    ctx->sampling = sampling;
}

static struct tb_hop hop_s(void)
{
    struct tb_hop hop = {.service = IOV("frontend")};

    assert_true(tb_lex_hex(IOV(S), hop.span_id, 8, false));
    return hop;
}

static void arena_exhaust(struct tb_arena *arena)
{
    while (tb_arena_alloc(arena, 1) != NULL)
        ;
}

/* --- descriptor -------------------------------------------------------------- */

static void test_eagleeye_descriptor(void **state)
{
    static const enum tb_hdr_token expected[] = {
        TB_HDR_EAGLEEYE_TRACEID, TB_HDR_EAGLEEYE_RPCID,    TB_HDR_EAGLEEYE_SPANID,
        TB_HDR_EAGLEEYE_PSPANID, TB_HDR_EAGLEEYE_SAMPLED,  TB_HDR_EAGLEEYE_PAPPNAME,
        TB_HDR_EAGLEEYE_PRPC,    TB_HDR_EAGLEEYE_USERDATA,
    };

    (void)state;
    assert_string_equal(tb_propagator_eagleeye.name, "eagleeye");
    assert_int_equal(tb_propagator_eagleeye.format, TB_FORMAT_EAGLEEYE);
    assert_int_equal(tb_propagator_eagleeye.num_tokens, TB_ARRAY_SIZE(expected));
    assert_memory_equal(tb_propagator_eagleeye.tokens, expected, sizeof(expected));
    assert_null(tb_propagator_eagleeye.baggage_prefix);
}

/* --- extract --------------------------------------------------------------- */

static void test_eagleeye_extract__vector57(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    IN(f, "EagleEye-TraceId", V57);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.format, TB_FORMAT_EAGLEEYE);
    assert_hex(ctx.trace_id, 16, V57);
    /* No SpanId, no RpcId: SHA-256 of "<trace id>/". */
    assert_hex(ctx.span_id, 8, "d2739594a475cf1d");
    assert_int_equal(ctx.sampling, TB_SAMPLING_DEFER);
    assert_int_equal(ctx.w3c_flags, 0);
    assert_int_equal(ctx.id_width, 128);
    assert_int_equal(ctx.extras, TB_FORMAT_BIT(TB_FORMAT_EAGLEEYE));
    assert_iov_equal(ctx.eagleeye.trace_id, V57);
    assert_int_equal(ctx.eagleeye.rpc_id.len, 0);
    assert_int_equal(ctx.eagleeye.user_data.len, 0);
    assert_int_equal(ctx.baggage.num, 0);
}

static void test_eagleeye_extract__arms_headers(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    IN(f, "Eagleeye-Pappname", "5ae05114-bc80-4a32-9048-209b3a93d723", "Eagleeye-Prpc",
       "/httpbin/get", "Eagleeye-Pspanid", ARMS_PSPAN, "Eagleeye-Rpcid", "0.2.1",
       "Eagleeye-Sampled", "s0", "Eagleeye-Spanid", ARMS_SPAN, "Eagleeye-Traceid", ARMS_TRACE,
       "Eagleeye-Userdata", ARMS_USERDATA);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_hex(ctx.trace_id, 16, ARMS_TRACE);
    assert_hex(ctx.span_id, 8, "ef3dc0f5150f721f");
    assert_int_equal(ctx.sampling, TB_SAMPLING_DENY);
    assert_int_equal(ctx.w3c_flags, 0);
    assert_iov_equal(ctx.eagleeye.rpc_id, "0.2.1");
    assert_iov_equal(ctx.eagleeye.user_data, ARMS_USERDATA);
}

static void test_eagleeye_extract__sampled_values(void **state)
{
    static const struct {
        const char *value;
        enum tb_sampling sampling;
    } cases[] = {
        {"s1", TB_SAMPLING_ACCEPT},  {"S1", TB_SAMPLING_ACCEPT}, {"1", TB_SAMPLING_ACCEPT},
        {"s0", TB_SAMPLING_DENY},    {"0", TB_SAMPLING_DENY},    {"s2", TB_SAMPLING_DEFER},
        {"true", TB_SAMPLING_DEFER}, {"", TB_SAMPLING_DEFER},    {"s10", TB_SAMPLING_DEFER},
    };
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        IN(f, "EagleEye-TraceId", V57, "EagleEye-Sampled", cases[i].value);
        assert_int_equal(extract(f, &ctx, &why), TB_OK);
        if (ctx.sampling != cases[i].sampling) {
            print_error("EagleEye-Sampled \"%s\": sampling %d\n", cases[i].value, ctx.sampling);
            fail();
        }
        assert_int_equal(ctx.w3c_flags,
                         cases[i].sampling == TB_SAMPLING_ACCEPT ? TB_W3C_FLAG_SAMPLED : 0);
    }
}

static void test_eagleeye_extract__trace_id_rules(void **state)
{
    static const char *const bad[] = {
        "eac0a8020216868",                                                   /* 15 */
        "eac0a802021686808440000697-d000a",                                  /* '-' */
        "eac0a802021686808440000697 d000a",                                  /* space */
        "eac0a8020216868084400006973d000a_",                                 /* '_' */
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", /* 65 */
    };
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    for (size_t i = 0; i < TB_ARRAY_SIZE(bad); i++) {
        IN(f, "EagleEye-TraceId", bad[i]);
        if (extract(f, &ctx, &why) != TB_EINVAL || why == NULL) {
            print_error("EagleEye-TraceId \"%s\" accepted\n", bad[i]);
            fail();
        }
    }
    /* The bounds themselves. */
    IN(f, "EagleEye-TraceId", "a3ce929d0e0e4736");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_hex(ctx.trace_id, 16, "0000000000000000a3ce929d0e0e4736");
    IN(f, "EagleEye-TraceId", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
}

static void test_eagleeye_extract__missing_trace_id(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    assert_int_equal(extract(f, &ctx, &why), TB_ENOTFOUND);
    IN(f, "EagleEye-RpcId", "0.1", "EagleEye-UserData", "a=b");
    assert_int_equal(extract(f, &ctx, &why), TB_EINVAL);
    assert_non_null(why);
}

static void test_eagleeye_extract__id_mapping(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    /* 30 characters, as seen in the wild: left-padded. */
    IN(f, "EagleEye-TraceId", "ac11000117422788513302623e007d");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_hex(ctx.trace_id, 16, "00ac11000117422788513302623e007d");
    /* Not hex: hashed, lossy, no random flag. */
    IN(f, "EagleEye-TraceId", "zzc0a8020216868084400006973d000a");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_hex(ctx.trace_id, 16, "970c7d0b7760baf972c4442dcdd924f7");
    assert_int_equal(ctx.w3c_flags & TB_W3C_FLAG_RANDOM, 0);
    /* Duplicates: the first wins. */
    IN(f, "EagleEye-TraceId", V57, "EagleEye-TraceId", ARMS_TRACE);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_hex(ctx.trace_id, 16, V57);
}

static void test_eagleeye_extract__rpc_id_rules(void **state)
{
    static const char *const bad[] = {
        "",     ".1",   "0.",
        "0..1", "a",    "0.1a",
        "0-1",  " 0.1", "0.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1"};
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    for (size_t i = 0; i < TB_ARRAY_SIZE(bad); i++) {
        IN(f, "EagleEye-TraceId", V57, "EagleEye-RpcId", bad[i]);
        assert_int_equal(extract(f, &ctx, &why), TB_OK);
        if (ctx.eagleeye.rpc_id.len != 0) {
            print_error("EagleEye-RpcId \"%s\" kept\n", bad[i]);
            fail();
        }
        /* The span id falls back as if no RpcId had come. */
        assert_hex(ctx.span_id, 8, "d2739594a475cf1d");
    }
    IN(f, "EagleEye-TraceId", V57, "EagleEye-RpcId", "0.1");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_iov_equal(ctx.eagleeye.rpc_id, "0.1");
    assert_hex(ctx.span_id, 8, "f9e39ddbdb807283");
}

static void test_eagleeye_extract__span_id_rules(void **state)
{
    static const char *const bad[] = {"0",
                                      "-0",
                                      "abc",
                                      "+5",
                                      "0x10",
                                      "b7ad6b7169203331",
                                      "9223372036854775808",
                                      "-9223372036854775809",
                                      "1 ",
                                      "-"};
    static const struct {
        const char *value, *hex;
    } good[] = {
        {"67667974448284343", S},
        {"-5211391058958601423", CALLER},
        {"9223372036854775807", "7fffffffffffffff"},
        {"-9223372036854775808", "8000000000000000"},
        {"-1", "ffffffffffffffff"},
    };
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    for (size_t i = 0; i < TB_ARRAY_SIZE(bad); i++) {
        IN(f, "EagleEye-TraceId", V57, "EagleEye-SpanId", bad[i]);
        assert_int_equal(extract(f, &ctx, &why), TB_OK);
        assert_hex(ctx.span_id, 8, "d2739594a475cf1d");
    }
    for (size_t i = 0; i < TB_ARRAY_SIZE(good); i++) {
        IN(f, "EagleEye-TraceId", V57, "EagleEye-SpanId", good[i].value);
        assert_int_equal(extract(f, &ctx, &why), TB_OK);
        assert_hex(ctx.span_id, 8, good[i].hex);
    }
}

static void test_eagleeye_extract__user_data_rules(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    /* The Alibaba C++ separators 0x12 / 0x14 are control bytes: not carried. */
    IN(f, "EagleEye-TraceId", V57, "EagleEye-UserData", "k1\x14v1\x12k2\x14v2");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.eagleeye.user_data.len, 0);
    IN(f, "EagleEye-TraceId", V57, "EagleEye-UserData", "k1=v1&k2=v2");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_iov_equal(ctx.eagleeye.user_data, "k1=v1&k2=v2");
    assert_int_equal(ctx.baggage.num, 0); /* opaque: not baggage */
}

static void test_eagleeye_extract__enospc(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    const char *why;

    IN(f, "EagleEye-TraceId", V57);
    arena_exhaust(f->arena);
    assert_int_equal(extract(f, &ctx, &why), TB_ENOSPC);
}

/* --- inject ---------------------------------------------------------------- */

static void test_eagleeye_inject__from_w3c(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_s();

    ctx_t(&ctx, TB_SAMPLING_ACCEPT);
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_headers(&f->out, "eagleeye-traceid", T, "eagleeye-rpcid", "0.1", "eagleeye-spanid",
                   "67667974448284343", "eagleeye-pspanid", "-5211391058958601423",
                   "eagleeye-sampled", "s1", "eagleeye-pappname", "frontend");
}

static void test_eagleeye_inject__sampling(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = {.span_id = {0x80}};

    /* DENY is s0, DEBUG s1, DEFER leaves the mark out; no caller span, no
     * service: no pSpanId, no pAppName. */
    ctx_t(&ctx, TB_SAMPLING_DENY);
    memset(ctx.span_id, 0, 8);
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_headers(&f->out, "eagleeye-traceid", T, "eagleeye-rpcid", "0.1", "eagleeye-spanid",
                   "-9223372036854775808", "eagleeye-sampled", "s0");
    ctx.sampling = TB_SAMPLING_DEBUG;
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_headers(&f->out, "eagleeye-traceid", T, "eagleeye-rpcid", "0.1", "eagleeye-spanid",
                   "-9223372036854775808", "eagleeye-sampled", "s1");
    ctx.sampling = TB_SAMPLING_DEFER;
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_headers(&f->out, "eagleeye-traceid", T, "eagleeye-rpcid", "0.1", "eagleeye-spanid",
                   "-9223372036854775808");
}

static void test_eagleeye_inject__arms_round_trip(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_s();
    const char *why;

    IN(f, "EagleEye-TraceId", ARMS_TRACE, "EagleEye-RpcId", "0.2.1", "EagleEye-SpanId", ARMS_SPAN,
       "EagleEye-pSpanId", ARMS_PSPAN, "EagleEye-Sampled", "s0", "EagleEye-UserData",
       ARMS_USERDATA);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    /* The caller's SpanId becomes our pSpanId; the position descends. */
    assert_headers(&f->out, "eagleeye-traceid", ARMS_TRACE, "eagleeye-rpcid", "0.2.1.1",
                   "eagleeye-spanid", "67667974448284343", "eagleeye-pspanid", ARMS_SPAN,
                   "eagleeye-sampled", "s0", "eagleeye-pappname", "frontend", "eagleeye-userdata",
                   ARMS_USERDATA);
}

static void test_eagleeye_inject__native_id_kept(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = {.span_id = {0, 0, 0, 0, 0, 0, 0, 1}};
    const char *why;

    /* Vector 57 passes through; so do ids the 128 bits cannot spell. */
    IN(f, "EagleEye-TraceId", V57);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_headers(&f->out, "eagleeye-traceid", V57, "eagleeye-rpcid", "0.1", "eagleeye-spanid",
                   "1", "eagleeye-pspanid", "-3282115237776077027");

    IN(f, "EagleEye-TraceId", "AC11000117422788513302623E007D", "EagleEye-RpcId", "0");
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_int_equal(f->out.num, 4);
    assert_iov_equal(f->out.entries[0].value, "AC11000117422788513302623E007D");
    assert_iov_equal(f->out.entries[1].value, "0.1");
}

static void test_eagleeye_inject__stale_extras_ignored(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_s();

    /* EagleEye extras of another trace: hex id and a fresh position. */
    ctx_t(&ctx, TB_SAMPLING_ACCEPT);
    ctx.eagleeye.trace_id = IOV(V57);
    ctx.eagleeye.rpc_id = IOV("0.2.1");
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_iov_equal(f->out.entries[0].value, T);
    assert_iov_equal(f->out.entries[1].value, "0.1");

    /* A forged native id never reaches the wire raw. */
    ctx.eagleeye.trace_id = IOV(T "\r\nx");
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_iov_equal(f->out.entries[0].value, T);
}

static void test_eagleeye_inject__rpc_id_depth_limit(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_s();
    char rpc[65];
    const char *why;

    /* 62 characters grow to 64; 63 cannot take ".1" and are kept as they are. */
    memset(rpc, 0, sizeof(rpc));
    for (size_t i = 0; i < 62; i += 2)
        memcpy(rpc + i, i == 0 ? "0." : "1.", 2);
    rpc[61] = '1';
    rpc[62] = '\0';
    IN(f, "EagleEye-TraceId", V57, "EagleEye-RpcId", rpc);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_int_equal(f->out.entries[1].value.len, 64);

    strcat(rpc, "1");
    IN(f, "EagleEye-TraceId", V57, "EagleEye-RpcId", rpc);
    assert_int_equal(extract(f, &ctx, &why), TB_OK);
    assert_int_equal(ctx.eagleeye.rpc_id.len, 63);
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_iov_equal(f->out.entries[1].value, rpc);
}

static void test_eagleeye_inject__unsafe_values_left_out(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_s();

    ctx_t(&ctx, TB_SAMPLING_DEFER);
    hop.service = IOV("front\nend");
    ctx.eagleeye.user_data = IOV("a=b\r\nc");
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_headers(&f->out, "eagleeye-traceid", T, "eagleeye-rpcid", "0.1", "eagleeye-spanid",
                   "67667974448284343", "eagleeye-pspanid", "-5211391058958601423");
}

static void test_eagleeye_inject__zero_trace_id(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_s();

    tb_ctx_init(&ctx, TB_FORMAT_EAGLEEYE);
    assert_int_equal(inject(f, &ctx, &hop), TB_OK);
    assert_int_equal(f->out.num, 0);
}

static void test_eagleeye_inject__enospc(void **state)
{
    struct fixture *f = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop = hop_s();

    ctx_t(&ctx, TB_SAMPLING_ACCEPT);
    arena_exhaust(f->arena);
    assert_int_equal(inject(f, &ctx, &hop), TB_ENOSPC);
}

#define T_(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eagleeye_descriptor),
        T_(test_eagleeye_extract__vector57),
        T_(test_eagleeye_extract__arms_headers),
        T_(test_eagleeye_extract__sampled_values),
        T_(test_eagleeye_extract__trace_id_rules),
        T_(test_eagleeye_extract__missing_trace_id),
        T_(test_eagleeye_extract__id_mapping),
        T_(test_eagleeye_extract__rpc_id_rules),
        T_(test_eagleeye_extract__span_id_rules),
        T_(test_eagleeye_extract__user_data_rules),
        T_(test_eagleeye_extract__enospc),
        T_(test_eagleeye_inject__from_w3c),
        T_(test_eagleeye_inject__sampling),
        T_(test_eagleeye_inject__arms_round_trip),
        T_(test_eagleeye_inject__native_id_kept),
        T_(test_eagleeye_inject__stale_extras_ignored),
        T_(test_eagleeye_inject__rpc_id_depth_limit),
        T_(test_eagleeye_inject__unsafe_values_left_out),
        T_(test_eagleeye_inject__zero_trace_id),
        T_(test_eagleeye_inject__enospc),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
