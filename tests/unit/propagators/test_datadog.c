/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/datadog.c: x-datadog-* extraction (protocols.md
 * §7, vectors 40 and 42) with negative decimal ids, the Synthetics parent
 * rule, sampling priorities, origin and trace tags (_dd.p.tid, the 512-byte
 * limit, malformed tags); byte-exact injection (vector 41) for each sampling
 * state; and extract∘inject round trips for 64- and 128-bit trace ids.
 * Header values sit right before a guard page so that an over-read faults.
 */
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

#define MAX_GUARDED 8

#define TID "x-datadog-trace-id"
#define PID "x-datadog-parent-id"
#define PRIO "x-datadog-sampling-priority"
#define ORIGIN "x-datadog-origin"
#define TAGS "x-datadog-tags"

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

/* Replaces the input table with the NULL-terminated name/value list `pairs`,
 * each value in a guarded copy. */
static void fx_set_input(struct fx *fx, const char *const *pairs)
{
    fx_release_guarded(fx);
    tb_headers_init(&fx->in);
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        size_t n = strlen(pairs[i + 1]);
        char *g = tb_test_guarded(pairs[i + 1], n);

        assert_true(fx->num_guarded < MAX_GUARDED);
        fx->guarded[fx->num_guarded] = g;
        fx->guarded_len[fx->num_guarded++] = n;
        assert_int_equal(tb_headers_add(fx->arena, &fx->in,
                                        (struct tb_iov){pairs[i], strlen(pairs[i])},
                                        (struct tb_iov){g, n}),
                         TB_OK);
    }
}

static int fx_extract_with(struct fx *fx, struct tb_arena *arena)
{
    int rc;

    tb_ctx_init(&fx->ctx, TB_FORMAT_DATADOG);
    fx->why = NULL;
    rc = tb_propagator_datadog.extract(&fx->in, arena, &fx->ctx, &fx->why);
    if (rc == TB_EINVAL)
        assert_non_null(fx->why);
    return rc;
}

static int fx_extract_pairs(struct fx *fx, const char *const *pairs)
{
    fx_set_input(fx, pairs);
    return fx_extract_with(fx, fx->arena);
}

/* EXTRACT(fx, "name", "value", ...): sets the input and extracts it. */
#define EXTRACT(fx, ...) fx_extract_pairs((fx), (const char *const[]){__VA_ARGS__, NULL})

static void assert_bytes_hex(const uint8_t *p, size_t len, const char *hex)
{
    char buf[64];

    assert_true(2 * len < sizeof(buf));
    tb_hex_encode(p, len, buf);
    assert_iov_equal(((struct tb_iov){buf, 2 * len}), hex);
}

static void ctx_make(struct tb_trace_ctx *ctx, const char *trace_hex, enum tb_sampling sampling)
{
    tb_ctx_init(ctx, TB_FORMAT_TRACECONTEXT);
    assert_true(tb_lex_hex((struct tb_iov){trace_hex, 32}, ctx->trace_id, 16, false));
    memset(ctx->span_id, 0x11, sizeof(ctx->span_id));
    ctx->sampling = sampling;
    ctx->w3c_flags = tb_sampling_is_sampled(sampling) ? TB_W3C_FLAG_SAMPLED : 0;
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
    rc = tb_propagator_datadog.inject(ctx, hop, fx->arena, &fx->out, &dropped);
    assert_int_equal(dropped, 0);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* descriptor                                                               */

static void test_datadog__descriptor(void **state)
{
    static const enum tb_hdr_token expected[] = {
        TB_HDR_X_DATADOG_TRACE_ID, TB_HDR_X_DATADOG_PARENT_ID, TB_HDR_X_DATADOG_SAMPLING_PRIORITY,
        TB_HDR_X_DATADOG_ORIGIN,   TB_HDR_X_DATADOG_TAGS,
    };

    (void)state;
    assert_string_equal(tb_propagator_datadog.name, "datadog");
    assert_int_equal(tb_propagator_datadog.format, TB_FORMAT_DATADOG);
    assert_int_equal(tb_propagator_datadog.num_tokens, TB_ARRAY_SIZE(expected));
    for (size_t i = 0; i < TB_ARRAY_SIZE(expected); i++)
        assert_int_equal(tb_propagator_datadog.tokens[i], expected[i]);
    assert_null(tb_propagator_datadog.baggage_prefix);
}

/* ------------------------------------------------------------------------ */
/* extract: ids                                                             */

static void test_datadog_extract__vector_40(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(EXTRACT(fx, TID, "1234567890123456789", PID, "987654321", TAGS,
                             "_dd.p.tid=640cfd8d00000000"),
                     TB_OK);
    assert_bytes_hex(fx->ctx.trace_id, 16, "640cfd8d00000000112210f47de98115");
    assert_bytes_hex(fx->ctx.span_id, 8, "000000003ade68b1");
    assert_int_equal(fx->ctx.id_width, 128);
    assert_int_equal(fx->ctx.format, TB_FORMAT_DATADOG);
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DEFER);
    assert_int_equal(fx->ctx.w3c_flags, 0);
    assert_int_equal(fx->ctx.extras, TB_FORMAT_BIT(TB_FORMAT_DATADOG));
    assert_int_equal(fx->ctx.datadog.tags.len, 0); /* the tid is not kept as a tag */
    assert_int_equal(fx->ctx.datadog.origin.len, 0);
    assert_false(fx->ctx.datadog.has_priority);
}

static void test_datadog_extract__vector_42_bad_tid(void **state)
{
    static const char *const tags[] = {
        "_dd.p.tid=XXXXXXXXXXXXXXXX",  /* vector 42 */
        "_dd.p.tid=640CFD8D00000000",  /* upper-case */
        "_dd.p.tid=640cfd8d0000000",   /* 15 hex */
        "_dd.p.tid=640cfd8d000000000", /* 17 hex */
        "_dd.p.tid=0000000000000000",  /* zero: no upper half */
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(tags); i++) {
        assert_int_equal(EXTRACT(fx, TID, "1234567890123456789", PID, "987654321", TAGS, tags[i]),
                         TB_OK);
        assert_bytes_hex(fx->ctx.trace_id, 16, "0000000000000000112210f47de98115");
        assert_int_equal(fx->ctx.id_width, 64);
        assert_int_equal(fx->ctx.datadog.tags.len, 0); /* an invalid tid is dropped */
    }
}

static void test_datadog_extract__64_bit_without_tags(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(EXTRACT(fx, TID, "18446744073709551615", PID, "1"), TB_OK);
    assert_bytes_hex(fx->ctx.trace_id, 16, "0000000000000000ffffffffffffffff");
    assert_bytes_hex(fx->ctx.span_id, 8, "0000000000000001");
    assert_int_equal(fx->ctx.id_width, 64);
}

static void test_datadog_extract__negative_decimal_ids(void **state)
{
    static const struct {
        const char *dec;
        const char *hex;
    } cases[] = {
        {"-1", "ffffffffffffffff"},
        {"-2", "fffffffffffffffe"},
        {"-9223372036854775808", "8000000000000000"}, /* INT64_MIN */
        {"-1234567890123456789", "eeddef0b82167eeb"},
        {"-00000000000000000001", "ffffffffffffffff"},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        char trace_hex[33];

        assert_int_equal(EXTRACT(fx, TID, cases[i].dec, PID, cases[i].dec), TB_OK);
        snprintf(trace_hex, sizeof(trace_hex), "0000000000000000%s", cases[i].hex);
        assert_bytes_hex(fx->ctx.trace_id, 16, trace_hex);
        assert_bytes_hex(fx->ctx.span_id, 8, cases[i].hex);
    }
}

static void test_datadog_extract__absent(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(EXTRACT(fx, "ot-baggage-k", "v", "x-b3-traceid", "a3ce929d0e0e4736"),
                     TB_ENOTFOUND);
}

static void test_datadog_extract__invalid(void **state)
{
    static const struct {
        const char *pairs[8];
        const char *why;
    } cases[] = {
        {{PID, "987654321"}, "x-datadog-trace-id missing"},
        {{ORIGIN, "synthetics"}, "x-datadog-trace-id missing"},
        {{PRIO, "1"}, "x-datadog-trace-id missing"},
        {{TAGS, "_dd.p.tid=640cfd8d00000000"}, "x-datadog-trace-id missing"},
        {{TID, "", PID, "1"}, "x-datadog-trace-id is not a 64-bit decimal"},
        {{TID, "abc", PID, "1"}, "x-datadog-trace-id is not a 64-bit decimal"},
        {{TID, "0x10", PID, "1"}, "x-datadog-trace-id is not a 64-bit decimal"},
        {{TID, "+1", PID, "1"}, "x-datadog-trace-id is not a 64-bit decimal"},
        {{TID, "1.0", PID, "1"}, "x-datadog-trace-id is not a 64-bit decimal"},
        {{TID, "1 2", PID, "1"}, "x-datadog-trace-id is not a 64-bit decimal"},
        {{TID, "-", PID, "1"}, "x-datadog-trace-id is not a 64-bit decimal"},
        {{TID, "--1", PID, "1"}, "x-datadog-trace-id is not a 64-bit decimal"},
        {{TID, "18446744073709551616", PID, "1"}, "x-datadog-trace-id is not a 64-bit decimal"},
        {{TID, "-9223372036854775809", PID, "1"}, "x-datadog-trace-id is not a 64-bit decimal"},
        {{TID, "0", PID, "1"}, "x-datadog-trace-id is zero"},
        {{TID, "-0", PID, "1"}, "x-datadog-trace-id is zero"},
        {{TID, "000", PID, "1"}, "x-datadog-trace-id is zero"},
        {{TID, "1"}, "x-datadog-parent-id missing"},
        {{TID, "1", PID, "0"}, "x-datadog-parent-id is zero"},
        {{TID, "1", PID, "x"}, "x-datadog-parent-id is not a 64-bit decimal"},
        {{TID, "1", PID, "18446744073709551616"}, "x-datadog-parent-id is not a 64-bit decimal"},
        /* a corrupted parent is corrupted for Synthetics too */
        {{TID, "1", PID, "x", ORIGIN, "synthetics"}, "x-datadog-parent-id is not a 64-bit decimal"},
        /* the Synthetics exception is exact (dd-trace-go compares with ==) */
        {{TID, "1", PID, "0", ORIGIN, "Synthetics"}, "x-datadog-parent-id is zero"},
        {{TID, "1", ORIGIN, "synthetics-browser"}, "x-datadog-parent-id missing"},
        {{TID, "1", PID, "2", PRIO, "keep"}, "x-datadog-sampling-priority is not an integer"},
        {{TID, "1", PID, "2", PRIO, ""}, "x-datadog-sampling-priority is not an integer"},
        {{TID, "1", PID, "2", PRIO, "1.5"}, "x-datadog-sampling-priority is not an integer"},
        {{TID, "1", PID, "2", PRIO, "2147483648"}, "x-datadog-sampling-priority is not an integer"},
        {{TID, "1", PID, "2", PRIO, "-2147483649"},
         "x-datadog-sampling-priority is not an integer"},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        int rc = fx_extract_pairs(fx, cases[i].pairs);

        if (rc != TB_EINVAL || strcmp(fx->why, cases[i].why) != 0) {
            print_error("case %zu: rc %d why \"%s\", expected \"%s\"\n", i, rc,
                        fx->why ? fx->why : "(null)", cases[i].why);
            fail();
        }
    }
}

static void test_datadog_extract__synthetics_without_parent(void **state)
{
    struct fx *fx = *state;

    /* §7: a Synthetics request starts the trace: the trace id is kept, the
     * span id stays zero (the hop becomes the root span). */
    assert_int_equal(
        EXTRACT(fx, TID, "1234567890123456789", PID, "0", ORIGIN, "synthetics", PRIO, "1"), TB_OK);
    assert_bytes_hex(fx->ctx.trace_id, 16, "0000000000000000112210f47de98115");
    assert_true(tb_is_zero(fx->ctx.span_id, 8));
    assert_iov_equal(fx->ctx.datadog.origin, "synthetics");
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_ACCEPT);

    assert_int_equal(EXTRACT(fx, TID, "1234567890123456789", ORIGIN, "synthetics"), TB_OK);
    assert_true(tb_is_zero(fx->ctx.span_id, 8));
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DEFER);
}

static void test_datadog_extract__first_header_wins(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(EXTRACT(fx, TID, "5", "X-Datadog-Trace-Id", "junk", PID, "7", PID, "0"),
                     TB_OK);
    assert_bytes_hex(fx->ctx.trace_id, 16, "00000000000000000000000000000005");
    assert_bytes_hex(fx->ctx.span_id, 8, "0000000000000007");
}

/* ------------------------------------------------------------------------ */
/* extract: sampling, origin, tags                                          */

static void test_datadog_extract__sampling_priority(void **state)
{
    static const struct {
        const char *prio; /* NULL: header absent */
        enum tb_sampling sampling;
        int32_t priority;
    } cases[] = {
        {"2", TB_SAMPLING_ACCEPT, 2},
        {"1", TB_SAMPLING_ACCEPT, 1},
        {"+1", TB_SAMPLING_ACCEPT, 1},
        {"0", TB_SAMPLING_DENY, 0},
        {"-1", TB_SAMPLING_DENY, -1},
        {"-0", TB_SAMPLING_DENY, 0},
        {"2147483647", TB_SAMPLING_ACCEPT, 2147483647},
        {"-2147483648", TB_SAMPLING_DENY, INT32_MIN},
        {NULL, TB_SAMPLING_DEFER, 0},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        if (cases[i].prio != NULL)
            assert_int_equal(EXTRACT(fx, TID, "1", PID, "2", PRIO, cases[i].prio), TB_OK);
        else
            assert_int_equal(EXTRACT(fx, TID, "1", PID, "2"), TB_OK);
        assert_int_equal(fx->ctx.sampling, cases[i].sampling);
        assert_int_equal(fx->ctx.w3c_flags,
                         cases[i].sampling == TB_SAMPLING_ACCEPT ? TB_W3C_FLAG_SAMPLED : 0);
        assert_int_equal(fx->ctx.datadog.has_priority, cases[i].prio != NULL);
        assert_int_equal(fx->ctx.datadog.priority, cases[i].priority);
    }
}

static void test_datadog_extract__origin(void **state)
{
    static const struct {
        const char *origin;
        const char *kept;
    } cases[] = {
        {"rum", "rum"},
        {"synthetics-browser", "synthetics-browser"},
        {"lambda", "lambda"},
        {"a b", ""}, /* space: not visible ASCII, dropped */
        {"caf\xc3\xa9", ""},
        {"x\ty", ""},
        {"", ""},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        assert_int_equal(EXTRACT(fx, TID, "1", PID, "2", ORIGIN, cases[i].origin), TB_OK);
        assert_iov_equal(fx->ctx.datadog.origin, cases[i].kept);
    }
}

static void test_datadog_extract__tags(void **state)
{
    static const struct {
        const char *tags;
        const char *kept;
        const char *trace_hex;
    } cases[] = {
        {"_dd.p.dm=-4", "_dd.p.dm=-4", "0000000000000000000000000000000a"},
        {"_dd.p.dm=-4,_dd.p.tid=640cfd8d00000000,_dd.p.usr.id=a b=c",
         "_dd.p.dm=-4,_dd.p.usr.id=a b=c", "640cfd8d00000000000000000000000a"},
        {"_dd.p.tid=640cfd8d00000000,_dd.p.dm=-1", "_dd.p.dm=-1",
         "640cfd8d00000000000000000000000a"},
        /* the last tid wins, as in dd-trace-go's tag map */
        {"_dd.p.tid=1111111111111111,_dd.p.tid=2222222222222222", "",
         "2222222222222222000000000000000a"},
        {"_dd.p.tid=1111111111111111,_dd.p.tid=bad", "", "0000000000000000000000000000000a"},
        /* keys other than _dd.p.* are kept too (verbatim, as received) */
        {"custom=1", "custom=1", "0000000000000000000000000000000a"},
        {"", "", "0000000000000000000000000000000a"},
        /* malformed: every tag, tid included, is ignored; the context stays */
        {"_dd.p.tid=640cfd8d00000000,_dd.p.dm", "", "0000000000000000000000000000000a"},
        {"_dd.p.tid=640cfd8d00000000,", "", "0000000000000000000000000000000a"},
        {",_dd.p.tid=640cfd8d00000000", "", "0000000000000000000000000000000a"},
        {"_dd.p.tid=640cfd8d00000000,,_dd.p.dm=-4", "", "0000000000000000000000000000000a"},
        {"_dd.p.tid=640cfd8d00000000,_dd.p.dm=", "", "0000000000000000000000000000000a"},
        {"_dd.p.tid=640cfd8d00000000,=x", "", "0000000000000000000000000000000a"},
        {"_dd.p.tid=640cfd8d00000000, _dd.p.dm=-4", "", "0000000000000000000000000000000a"},
        {"_dd.p.tid=640cfd8d00000000,_dd.p.dm=-4\x01", "", "0000000000000000000000000000000a"},
        {"_dd.p.tid=640cfd8d00000000,_dd.p.x=\xc3\xa9", "", "0000000000000000000000000000000a"},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        int rc = EXTRACT(fx, TID, "10", PID, "2", TAGS, cases[i].tags);

        if (rc != TB_OK)
            print_error("case %zu\n", i);
        assert_int_equal(rc, TB_OK);
        assert_iov_equal(fx->ctx.datadog.tags, cases[i].kept);
        assert_bytes_hex(fx->ctx.trace_id, 16, cases[i].trace_hex);
        assert_int_equal(fx->ctx.id_width, cases[i].trace_hex[0] == '0' ? 64 : 128);
    }
}

/* Builds "_dd.p.tid=640cfd8d00000000,_dd.p.x=aaa…" of exactly `len` bytes. */
static void tags_of_len(char *buf, size_t len)
{
    static const char head[] = "_dd.p.tid=640cfd8d00000000,_dd.p.x=";

    assert_true(len > sizeof(head));
    memcpy(buf, head, sizeof(head) - 1);
    memset(buf + sizeof(head) - 1, 'a', len - (sizeof(head) - 1));
    buf[len] = '\0';
}

static void test_datadog_extract__tags_max_length(void **state)
{
    struct fx *fx = *state;
    char tags[600];

    /* §7: 512 bytes are accepted... */
    tags_of_len(tags, 512);
    assert_int_equal(EXTRACT(fx, TID, "10", PID, "2", TAGS, tags), TB_OK);
    assert_int_equal(fx->ctx.datadog.tags.len, 512 - 27);
    assert_int_equal(fx->ctx.id_width, 128);
    /* ...one more and the whole header is ignored, tid included. */
    tags_of_len(tags, 513);
    assert_int_equal(EXTRACT(fx, TID, "10", PID, "2", TAGS, tags), TB_OK);
    assert_int_equal(fx->ctx.datadog.tags.len, 0);
    assert_bytes_hex(fx->ctx.trace_id, 16, "0000000000000000000000000000000a");
    assert_int_equal(fx->ctx.id_width, 64);
}

static void test_datadog_extract__exhausted_arena(void **state)
{
    struct fx *fx = *state;
    struct tb_arena *tiny = tb_arena_new(64, 64);

    while (tb_arena_alloc(tiny, 1) != NULL)
        ;
    /* A lone tid needs no copy... */
    fx_set_input(
        fx, (const char *const[]){TID, "1", PID, "2", TAGS, "_dd.p.tid=640cfd8d00000000", NULL});
    assert_int_equal(fx_extract_with(fx, tiny), TB_OK);
    /* ...other tags are copied into the arena. */
    fx_set_input(fx, (const char *const[]){TID, "1", PID, "2", TAGS, "_dd.p.dm=-4", NULL});
    assert_int_equal(fx_extract_with(fx, tiny), TB_ENOSPC);
    tb_arena_free(tiny);
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

static void test_datadog_inject__vector_41(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;

    ctx_make(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736", TB_SAMPLING_ACCEPT);
    hop_make(&hop, "00f067aa0ba902b7");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, TID, "11803532876627986230", PID, "67667974448284343", PRIO, "1", TAGS,
                   "_dd.p.tid=4bf92f3577b34da6");
}

static void test_datadog_inject__vector_40_reinjected(void **state)
{
    struct fx *fx = *state;
    struct tb_hop hop;
    struct tb_trace_ctx ctx;

    assert_int_equal(EXTRACT(fx, TID, "1234567890123456789", PID, "987654321", TAGS,
                             "_dd.p.tid=640cfd8d00000000"),
                     TB_OK);
    ctx = fx->ctx;
    hop_make(&hop, "00f067aa0ba902b7");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, TID, "1234567890123456789", PID, "67667974448284343", TAGS,
                   "_dd.p.tid=640cfd8d00000000");
}

static void test_datadog_inject__priority(void **state)
{
    static const struct {
        enum tb_sampling sampling;
        bool own;          /* the Datadog extras bit */
        bool has_priority; /* an incoming priority */
        int32_t priority;
        const char *out; /* NULL: no priority header */
    } cases[] = {
        {TB_SAMPLING_DEFER, false, false, 0, NULL},
        {TB_SAMPLING_ACCEPT, false, false, 0, "1"},
        {TB_SAMPLING_DENY, false, false, 0, "0"},
        {TB_SAMPLING_DEBUG, false, false, 0, "2"},
        /* the caller's own level survives when the decision agrees */
        {TB_SAMPLING_ACCEPT, true, true, 2, "2"},
        {TB_SAMPLING_ACCEPT, true, true, 1, "1"},
        {TB_SAMPLING_DENY, true, true, -1, "-1"},
        {TB_SAMPLING_DENY, true, true, 0, "0"},
        {TB_SAMPLING_DEBUG, true, true, 1, "2"},
        /* ...and is replaced when the decision changed on the way */
        {TB_SAMPLING_ACCEPT, true, true, -1, "1"},
        {TB_SAMPLING_DENY, true, true, 2, "0"},
        {TB_SAMPLING_DEFER, true, true, 2, NULL},
        /* large magnitudes print exactly */
        {TB_SAMPLING_DENY, true, true, INT32_MIN, "-2147483648"},
        {TB_SAMPLING_ACCEPT, true, true, INT32_MAX, "2147483647"},
        /* a priority without the extras bit is stale: ignored */
        {TB_SAMPLING_ACCEPT, false, true, 2, "1"},
        {TB_SAMPLING_DENY, false, true, -1, "0"},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        struct tb_trace_ctx ctx;
        struct tb_hop hop;

        ctx_make(&ctx, "0000000000000000000000000000000a", cases[i].sampling);
        if (cases[i].own)
            ctx.extras |= TB_FORMAT_BIT(TB_FORMAT_DATADOG);
        ctx.datadog.has_priority = cases[i].has_priority;
        ctx.datadog.priority = cases[i].priority;
        hop_make(&hop, "0000000000000002");
        assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
        if (cases[i].out != NULL)
            assert_headers(&fx->out, TID, "10", PID, "2", PRIO, cases[i].out);
        else
            assert_headers(&fx->out, TID, "10", PID, "2");
    }
}

static void test_datadog_inject__origin_and_tags(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;

    ctx_make(&ctx, "640cfd8d00000000112210f47de98115", TB_SAMPLING_ACCEPT);
    ctx.extras |= TB_FORMAT_BIT(TB_FORMAT_DATADOG);
    ctx.datadog.origin = TB_IOV_LIT("rum");
    ctx.datadog.tags = TB_IOV_LIT("_dd.p.dm=-4,_dd.p.usr.id=x");
    ctx.datadog.has_priority = true;
    ctx.datadog.priority = 2;
    hop_make(&hop, "000000003ade68b1");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, TID, "1234567890123456789", PID, "987654321", PRIO, "2", ORIGIN, "rum",
                   TAGS, "_dd.p.dm=-4,_dd.p.usr.id=x,_dd.p.tid=640cfd8d00000000");

    /* A 64-bit trace id: the kept tags alone. */
    memset(ctx.trace_id, 0, 8);
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, TID, "1234567890123456789", PID, "987654321", PRIO, "2", ORIGIN, "rum",
                   TAGS, "_dd.p.dm=-4,_dd.p.usr.id=x");
}

static void test_datadog_inject__stale_extras_never_emitted(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;

    hop_make(&hop, "0000000000000002");
    /* Without the extras bit, origin and tags are not Datadog's to send. */
    ctx_make(&ctx, "0000000000000000000000000000000a", TB_SAMPLING_DEFER);
    ctx.datadog.origin = TB_IOV_LIT("rum");
    ctx.datadog.tags = TB_IOV_LIT("_dd.p.dm=-4");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, TID, "10", PID, "2");
    /* With it, values that are unsafe on the wire are still left out. */
    ctx.extras |= TB_FORMAT_BIT(TB_FORMAT_DATADOG);
    ctx.datadog.origin = TB_IOV_LIT("r\r\num");
    ctx.datadog.tags = TB_IOV_LIT("_dd.p.dm=-4\r\nx: y");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, TID, "10", PID, "2");
}

static void test_datadog_inject__tags_over_limit_keep_tid(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    char tags[600];

    hop_make(&hop, "0000000000000002");
    ctx_make(&ctx, "640cfd8d00000000000000000000000a", TB_SAMPLING_DEFER);
    ctx.extras |= TB_FORMAT_BIT(TB_FORMAT_DATADOG);
    /* kept + ',' + 26-byte tid tag = 512: fits exactly */
    memset(tags, 'a', sizeof(tags));
    memcpy(tags, "_dd.p.x=", 8);
    ctx.datadog.tags = (struct tb_iov){tags, 512 - 27};
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_int_equal(fx->out.num, 3);
    assert_int_equal(fx->out.entries[2].value.len, 512);
    assert_memory_equal(fx->out.entries[2].value.base + 512 - 26, "_dd.p.tid=640cfd8d00000000", 26);
    /* one byte more: the other tags go, the trace id's upper half stays */
    ctx.datadog.tags = (struct tb_iov){tags, 512 - 26};
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, TID, "10", PID, "2", TAGS, "_dd.p.tid=640cfd8d00000000");
    /* 64-bit: over the limit nothing is left to send */
    memset(ctx.trace_id, 0, 8);
    ctx.datadog.tags = (struct tb_iov){tags, 513};
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_headers(&fx->out, TID, "10", PID, "2");
    ctx.datadog.tags = (struct tb_iov){tags, 512};
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_int_equal(fx->out.num, 3);
    assert_int_equal(fx->out.entries[2].value.len, 512);
}

static void test_datadog_inject__low_half_zero_emits_nothing(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;

    hop_make(&hop, "0000000000000002");
    /* x-datadog-trace-id cannot be 0: no Datadog form exists. */
    ctx_make(&ctx, "4bf92f3577b34da60000000000000000", TB_SAMPLING_ACCEPT);
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_int_equal(fx->out.num, 0);
    /* A sampling-only context likewise. */
    tb_ctx_init(&ctx, TB_FORMAT_B3);
    ctx.sampling = TB_SAMPLING_DENY;
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_int_equal(fx->out.num, 0);
}

static void test_datadog_inject__ignores_baggage(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    size_t dropped = 3;

    ctx_make(&ctx, "0000000000000000000000000000000a", TB_SAMPLING_DEFER);
    assert_int_equal(
        tb_baggage_put(fx->arena, &ctx.baggage, TB_IOV_LIT("k"), TB_IOV_LIT("v"), TB_IOV_LIT("")),
        TB_OK);
    hop_make(&hop, "0000000000000002");
    assert_int_equal(tb_propagator_datadog.inject(&ctx, &hop, fx->arena, &fx->out, &dropped),
                     TB_OK);
    assert_int_equal(dropped, 3);
    assert_headers(&fx->out, TID, "10", PID, "2");
}

static void test_datadog_inject__appends_never_replaces(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    size_t dropped = 0;

    ctx_make(&ctx, "0000000000000000000000000000000a", TB_SAMPLING_DEFER);
    hop_make(&hop, "0000000000000002");
    tb_test_headers_build(fx->arena, &fx->out,
                          (const char *const[]){"Host", "a", "X-Datadog-Trace-Id", "9", NULL});
    assert_int_equal(tb_propagator_datadog.inject(&ctx, &hop, fx->arena, &fx->out, &dropped),
                     TB_OK);
    assert_headers(&fx->out, "Host", "a", "X-Datadog-Trace-Id", "9", TID, "10", PID, "2");
}

static void test_datadog_inject__exhausted_arena(void **state)
{
    struct tb_arena *tiny = tb_arena_new(64, 64);
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    struct tb_headers out;
    size_t dropped = 0;

    (void)state;
    while (tb_arena_alloc(tiny, 1) != NULL)
        ;
    tb_headers_init(&out);
    ctx_make(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736", TB_SAMPLING_ACCEPT);
    hop_make(&hop, "00f067aa0ba902b7");
    assert_int_equal(tb_propagator_datadog.inject(&ctx, &hop, tiny, &out, &dropped), TB_ENOSPC);
    assert_int_equal(out.num, 0);
    tb_arena_free(tiny);
}

/* ------------------------------------------------------------------------ */
/* round trips                                                              */

static void test_datadog__round_trip(void **state)
{
    static const struct {
        const char *in[12];
        const char *out[12]; /* canonical form of `in` */
    } cases[] = {
        /* 64-bit */
        {{TID, "1234567890123456789", PID, "987654321"},
         {TID, "1234567890123456789", PID, "987654321"}},
        /* 128-bit with every header */
        {{TAGS, "_dd.p.tid=640cfd8d00000000,_dd.p.dm=-4", ORIGIN, "rum", PRIO, "2", PID,
          "987654321", TID, "1234567890123456789"},
         {TID, "1234567890123456789", PID, "987654321", PRIO, "2", ORIGIN, "rum", TAGS,
          "_dd.p.dm=-4,_dd.p.tid=640cfd8d00000000"}},
        /* user reject, negative ids come back unsigned */
        {{TID, "-1", PID, "-2", PRIO, "-1"},
         {TID, "18446744073709551615", PID, "18446744073709551614", PRIO, "-1"}},
        {{TID, "7", PID, "8", PRIO, "0", TAGS, "_dd.p.dm=-3"},
         {TID, "7", PID, "8", PRIO, "0", TAGS, "_dd.p.dm=-3"}},
    };
    struct fx *fx = *state;

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        struct tb_trace_ctx first;
        struct tb_hop hop;
        const char *canon[12];
        size_t n = 0;

        assert_int_equal(fx_extract_pairs(fx, cases[i].in), TB_OK);
        first = fx->ctx;
        memset(&hop, 0, sizeof(hop));
        memcpy(hop.span_id, first.span_id, 8);
        assert_int_equal(fx_inject(fx, &first, &hop), TB_OK);
        while (cases[i].out[n] != NULL)
            n++;
        assert_int_equal(fx->out.num, n / 2);
        for (size_t j = 0; j < n / 2; j++) {
            assert_iov_equal(fx->out.entries[j].name, cases[i].out[2 * j]);
            assert_iov_equal(fx->out.entries[j].value, cases[i].out[2 * j + 1]);
        }

        memcpy(canon, cases[i].out, sizeof(canon));
        assert_int_equal(fx_extract_pairs(fx, canon), TB_OK);
        assert_memory_equal(fx->ctx.trace_id, first.trace_id, 16);
        assert_memory_equal(fx->ctx.span_id, first.span_id, 8);
        assert_int_equal(fx->ctx.sampling, first.sampling);
        assert_int_equal(fx->ctx.w3c_flags, first.w3c_flags);
        assert_int_equal(fx->ctx.id_width, first.id_width);
        assert_int_equal(fx->ctx.datadog.has_priority, first.datadog.has_priority);
        assert_int_equal(fx->ctx.datadog.priority, first.datadog.priority);
        assert_int_equal(fx->ctx.datadog.origin.len, first.datadog.origin.len);
        assert_int_equal(fx->ctx.datadog.tags.len, first.datadog.tags.len);
        if (first.datadog.tags.len > 0)
            assert_memory_equal(fx->ctx.datadog.tags.base, first.datadog.tags.base,
                                first.datadog.tags.len);
    }
}

static void test_datadog__round_trip_from_128_bit_context(void **state)
{
    struct fx *fx = *state;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    const char *pairs[12];

    /* W3C → Datadog → back: the 128 bits survive through _dd.p.tid. */
    ctx_make(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736", TB_SAMPLING_DENY);
    hop_make(&hop, "00f067aa0ba902b7");
    assert_int_equal(fx_inject(fx, &ctx, &hop), TB_OK);
    assert_int_equal(fx->out.num, 4);
    for (size_t j = 0; j < 4; j++) {
        /* the injected values live in the arena: NUL-terminate copies */
        char *name = tb_arena_memdup(fx->arena, fx->out.entries[j].name.base,
                                     fx->out.entries[j].name.len + 1);
        char *value = tb_arena_alloc(fx->arena, fx->out.entries[j].value.len + 1);

        assert_non_null(name);
        assert_non_null(value);
        name[fx->out.entries[j].name.len] = '\0';
        memcpy(value, fx->out.entries[j].value.base, fx->out.entries[j].value.len);
        value[fx->out.entries[j].value.len] = '\0';
        pairs[2 * j] = name;
        pairs[2 * j + 1] = value;
    }
    pairs[8] = NULL;
    assert_int_equal(fx_extract_pairs(fx, pairs), TB_OK);
    assert_bytes_hex(fx->ctx.trace_id, 16, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_bytes_hex(fx->ctx.span_id, 8, "00f067aa0ba902b7");
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DENY);
    assert_int_equal(fx->ctx.id_width, 128);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_datadog__descriptor),
        T(test_datadog_extract__vector_40),
        T(test_datadog_extract__vector_42_bad_tid),
        T(test_datadog_extract__64_bit_without_tags),
        T(test_datadog_extract__negative_decimal_ids),
        T(test_datadog_extract__absent),
        T(test_datadog_extract__invalid),
        T(test_datadog_extract__synthetics_without_parent),
        T(test_datadog_extract__first_header_wins),
        T(test_datadog_extract__sampling_priority),
        T(test_datadog_extract__origin),
        T(test_datadog_extract__tags),
        T(test_datadog_extract__tags_max_length),
        T(test_datadog_extract__exhausted_arena),
        T(test_datadog_inject__vector_41),
        T(test_datadog_inject__vector_40_reinjected),
        T(test_datadog_inject__priority),
        T(test_datadog_inject__origin_and_tags),
        T(test_datadog_inject__stale_extras_never_emitted),
        T(test_datadog_inject__tags_over_limit_keep_tid),
        T(test_datadog_inject__low_half_zero_emits_nothing),
        T(test_datadog_inject__ignores_baggage),
        T(test_datadog_inject__appends_never_replaces),
        T(test_datadog_inject__exhausted_arena),
        T(test_datadog__round_trip),
        T(test_datadog__round_trip_from_128_bit_context),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
