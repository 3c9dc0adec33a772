/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/tbstate.c: which fields the tracebridge
 * tracestate member carries (and in which order, within 256 characters), and
 * that restoring it only accepts ids that still name ctx->trace_id, so a stale
 * or forged member never poisons the context.
 */
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"
#include "parsers/lex.h"
#include "propagators/idmap.h"
#include "propagators/tbstate.h"

#define IOV(s) ((struct tb_iov){(s), strlen(s)})

#define JAVA_ID "de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001"
#define JAVA_ID_B64 "ZGU1OTgwYjhmY2UzNGEzN2FhYjliNGFjM2FmN2VlZGQuMS4xNjU2MzQ3NDI5NjQzMDAwMQ"
#define JAVA_TRACE "de5980b8fde34a371be41bcd5e2fd4dd"
#define EE30 "ac11000117422788513302623e007d"
#define EE30_B64 "YWMxMTAwMDExNzQyMjc4ODUxMzMwMjYyM2UwMDdk"
#define EE30_TRACE "00ac11000117422788513302623e007d"
/* Both map to 0000000000000000a3ce929d0e0e4736. */
#define SW_UUID64 "00000000-0000-0000-a3ce-929d0e0e4736"
#define SW_UUID64_B64 "MDAwMDAwMDAtMDAwMC0wMDAwLWEzY2UtOTI5ZDBlMGU0NzM2"
#define EE16 "a3ce929d0e0e4736"
#define EE16_B64 "YTNjZTkyOWQwZTBlNDczNg"
#define TRACE64 "0000000000000000a3ce929d0e0e4736"

static int setup_arena(void **state)
{
    *state = tb_arena_new(4096, 1 << 16);
    return 0;
}

static int teardown_arena(void **state)
{
    tb_arena_free(*state);
    return 0;
}

/* A context as a codec leaves it before filling it (tb_ctx_init, which
 * lives in the registry and is not linked here). */
static void ctx_with_trace(struct tb_trace_ctx *ctx, const char *trace_hex)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->id_width = 128;
    assert_true(tb_lex_hex(IOV(trace_hex), ctx->trace_id, 16, false));
}

static void arena_exhaust(struct tb_arena *arena)
{
    while (tb_arena_alloc(arena, 1) != NULL)
        ;
}

/* True when `v` is a valid W3C tracestate member value (§1.4). */
static bool is_w3c_value(struct tb_iov v)
{
    if (v.len == 0 || v.len > 256 || v.base[v.len - 1] == ' ')
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];

        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return true;
}

/* --- encode ---------------------------------------------------------------- */

static void test_tb_tbstate_encode__nothing_to_carry(void **state)
{
    struct tb_trace_ctx ctx;
    struct tb_iov v;

    ctx_with_trace(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);
    assert_int_equal(v.len, 0);
    /* Plain lower-case hex ids re-emit from the 128 bits alone. */
    ctx.sw8.trace_id = IOV("4bf92f3577b34da6a3ce929d0e0e4736");
    ctx.eagleeye.trace_id = IOV("4bf92f3577b34da6a3ce929d0e0e4736");
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);
    assert_int_equal(v.len, 0);
    /* A 64-bit width whose high half is not zero cannot be re-emitted as such. */
    ctx.id_width = 64;
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);
    assert_int_equal(v.len, 0);
}

static void test_tb_tbstate_encode__sw_java_id(void **state)
{
    struct tb_trace_ctx ctx;
    struct tb_iov v;

    ctx_with_trace(&ctx, JAVA_TRACE);
    ctx.sw8.trace_id = IOV(JAVA_ID);
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);
    assert_iov_equal(v, "sw:" JAVA_ID_B64);
    assert_true(is_w3c_value(v));
}

static void test_tb_tbstate_encode__all_fields_in_order(void **state)
{
    struct tb_trace_ctx ctx;
    struct tb_iov v;

    ctx_with_trace(&ctx, TRACE64);
    ctx.id_width = 64;
    ctx.sw8.trace_id = IOV(SW_UUID64);
    ctx.eagleeye.trace_id = IOV(EE16);
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);
    assert_iov_equal(v, "sw:" SW_UUID64_B64 ";ee:" EE16_B64 ";w:64");
    assert_true(is_w3c_value(v));
}

static void test_tb_tbstate_encode__base64url_alphabet(void **state)
{
    struct tb_trace_ctx ctx;
    uint8_t mapped[16];
    struct tb_iov v;
    bool hashed;

    /* "~~~a\xfb\xff" is "fn5+Yfv/" in standard base64: the URL alphabet. */
    tb_sw_trace_id_map(IOV("~~~a\xfb\xff"), mapped, &hashed);
    assert_true(hashed);
    memset(&ctx, 0, sizeof(ctx));
    memcpy(ctx.trace_id, mapped, 16);
    ctx.sw8.trace_id = IOV("~~~a\xfb\xff");
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);
    assert_iov_equal(v, "sw:fn5-Yfv_");
}

static void test_tb_tbstate_encode__stale_ids_left_out(void **state)
{
    struct tb_trace_ctx ctx;
    struct tb_iov v;

    /* Extras from another trace than the one being propagated. */
    ctx_with_trace(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736");
    ctx.sw8.trace_id = IOV(JAVA_ID);
    ctx.eagleeye.trace_id = IOV(EE30);
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);
    assert_int_equal(v.len, 0);
}

/* "<32 zeros>.<zeros>.5": the collector maps it to 0000000000000000
 * 0500000000000000 whatever the number of zeros (Atoi takes leading zeros),
 * which builds SkyWalking ids of any length for a 64-bit-clean trace id. */
static struct tb_iov long_sw_id(char *buf, size_t len)
{
    memset(buf, '0', len);
    buf[32] = '.';
    buf[len - 2] = '.';
    buf[len - 1] = '5';
    return (struct tb_iov){buf, len};
}

#define LONG_TRACE "00000000000000000500000000000000"
#define LONG_EE "0500000000000000" /* maps to LONG_TRACE too */

static void test_tb_tbstate_encode__256_limit_drops_whole_fields(void **state)
{
    char buf[200];
    struct tb_trace_ctx ctx;
    struct tb_iov v;

    /* 192 bytes are 256 base64url characters: with "sw:" they cannot fit. */
    ctx_with_trace(&ctx, LONG_TRACE);
    ctx.sw8.trace_id = long_sw_id(buf, 192);
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);
    assert_int_equal(v.len, 0);

    /* 189 bytes: "sw:" + 252 = 255 characters; neither ee (26) nor w:64 (5)
     * fits after it, and neither is cut. */
    ctx.sw8.trace_id = long_sw_id(buf, 189);
    ctx.eagleeye.trace_id = IOV(LONG_EE);
    ctx.id_width = 64;
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);
    assert_int_equal(v.len, 255);
    assert_memory_equal(v.base, "sw:MDAw", 7);
    assert_memory_equal(v.base + 252, "C41", 3);
    assert_true(is_w3c_value(v));
}

static void test_tb_tbstate_encode__exact_fit(void **state)
{
    char buf[200];
    struct tb_trace_ctx ctx;
    struct tb_iov v;

    /* 186 bytes: "sw:" + 248 = 251; ee would need 26 and is left out, the
     * later w:64 still fits, to exactly 256 characters. */
    ctx_with_trace(&ctx, LONG_TRACE);
    ctx.sw8.trace_id = long_sw_id(buf, 186);
    ctx.eagleeye.trace_id = IOV(LONG_EE);
    ctx.id_width = 64;
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);
    assert_int_equal(v.len, 256);
    assert_memory_equal(v.base + 251, ";w:64", 5);
    assert_true(is_w3c_value(v));
}

static void test_tb_tbstate_encode__enospc(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 64);
    struct tb_trace_ctx ctx;
    struct tb_iov v;

    (void)state;
    ctx_with_trace(&ctx, JAVA_TRACE);
    ctx.sw8.trace_id = IOV(JAVA_ID);
    arena_exhaust(arena);
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, arena, &v), TB_ENOSPC);
    tb_arena_free(arena);
}

/* --- restore ---------------------------------------------------------------- */

static void test_tb_tbstate_restore__round_trip(void **state)
{
    struct tb_trace_ctx ctx, back;
    struct tb_iov v;

    ctx_with_trace(&ctx, TRACE64);
    ctx.id_width = 64;
    ctx.sw8.trace_id = IOV(SW_UUID64);
    ctx.eagleeye.trace_id = IOV(EE16);
    assert_int_equal(tb_tbstate_encode(&ctx, NULL, *state, &v), TB_OK);

    ctx_with_trace(&back, TRACE64);
    assert_int_equal(tb_tbstate_restore(v, *state, &back), TB_OK);
    assert_iov_equal(back.sw8.trace_id, SW_UUID64);
    assert_iov_equal(back.eagleeye.trace_id, EE16);
    assert_int_equal(back.id_width, 64);
    assert_int_equal(back.extras, TB_FORMAT_BIT(TB_FORMAT_SW8) | TB_FORMAT_BIT(TB_FORMAT_EAGLEEYE));
}

static void test_tb_tbstate_restore__java_and_eagleeye(void **state)
{
    struct tb_trace_ctx ctx;

    ctx_with_trace(&ctx, JAVA_TRACE);
    assert_int_equal(tb_tbstate_restore(IOV("sw:" JAVA_ID_B64), *state, &ctx), TB_OK);
    assert_iov_equal(ctx.sw8.trace_id, JAVA_ID);
    assert_int_equal(ctx.extras, TB_FORMAT_BIT(TB_FORMAT_SW8));
    assert_int_equal(ctx.id_width, 128);

    ctx_with_trace(&ctx, EE30_TRACE);
    assert_int_equal(tb_tbstate_restore(IOV("ee:" EE30_B64), *state, &ctx), TB_OK);
    assert_iov_equal(ctx.eagleeye.trace_id, EE30);
    assert_int_equal(ctx.extras, TB_FORMAT_BIT(TB_FORMAT_EAGLEEYE));
}

static void test_tb_tbstate_restore__stale_ignored(void **state)
{
    struct tb_trace_ctx ctx;

    /* A downstream W3C service restarted the trace but forwarded the member. */
    ctx_with_trace(&ctx, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_int_equal(
        tb_tbstate_restore(IOV("sw:" JAVA_ID_B64 ";ee:" EE30_B64 ";w:64"), *state, &ctx), TB_OK);
    assert_int_equal(ctx.sw8.trace_id.len, 0);
    assert_int_equal(ctx.eagleeye.trace_id.len, 0);
    assert_int_equal(ctx.extras, 0);
    /* w:64 needs a zero high half. */
    assert_int_equal(ctx.id_width, 128);
}

static void test_tb_tbstate_restore__unknown_and_malformed_skipped(void **state)
{
    struct tb_trace_ctx ctx;

    ctx_with_trace(&ctx, TRACE64);
    assert_int_equal(tb_tbstate_restore(IOV(";x:1;sw:!!!;sw:;ee:" EE16_B64 "=;w:32;W:64;w:64x;"
                                            "sw:" SW_UUID64_B64 ";future;ee:" EE16_B64),
                                        *state, &ctx),
                     TB_OK);
    /* The malformed sw fields are skipped, the valid one restored. */
    assert_iov_equal(ctx.sw8.trace_id, SW_UUID64);
    /* "ee:...=" is bad base64url padding: the later valid ee is used. */
    assert_iov_equal(ctx.eagleeye.trace_id, EE16);
    assert_int_equal(ctx.id_width, 128);
}

static void test_tb_tbstate_restore__first_valid_wins(void **state)
{
    struct tb_trace_ctx ctx;

    ctx_with_trace(&ctx, TRACE64);
    /* "0000000000000000a3ce929d0e0e4736" (plain hex) also maps to TRACE64. */
    assert_int_equal(tb_tbstate_restore(
                         IOV("sw:" SW_UUID64_B64 ";sw:MDAwMDAwMDAwMDAwMDAwMGEzY2U5MjlkMGUwZTQ3MzY"),
                         *state, &ctx),
                     TB_OK);
    assert_iov_equal(ctx.sw8.trace_id, SW_UUID64);
}

static void test_tb_tbstate_restore__forged_ids_refused(void **state)
{
    struct tb_trace_ctx ctx;
    uint8_t mapped[16];
    bool hashed;

    /* An EagleEye id is re-emitted raw: CR LF must never get through, even
     * when the forger made the hash agree. */
    tb_eagleeye_trace_id_map(IOV("eac0a8020216868084400006973d000a\r\n"), mapped, &hashed);
    memset(&ctx, 0, sizeof(ctx));
    memcpy(ctx.trace_id, mapped, 16);
    assert_int_equal(
        tb_tbstate_restore(IOV("ee:ZWFjMGE4MDIwMjE2ODY4MDg0NDAwMDA2OTczZDAwMGENCg"), *state, &ctx),
        TB_OK);
    assert_int_equal(ctx.eagleeye.trace_id.len, 0);
    assert_int_equal(ctx.extras, 0);

    /* SkyWalking ids with control bytes are refused as sw8 refuses them. */
    tb_sw_trace_id_map(IOV("abc\n"), mapped, &hashed);
    memcpy(ctx.trace_id, mapped, 16);
    assert_int_equal(tb_tbstate_restore(IOV("sw:YWJjCg"), *state, &ctx), TB_OK);
    assert_int_equal(ctx.sw8.trace_id.len, 0);
}

static void test_tb_tbstate_restore__zero_trace_id(void **state)
{
    struct tb_trace_ctx ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.id_width = 128;
    assert_int_equal(tb_tbstate_restore(IOV("w:64"), *state, &ctx), TB_OK);
    assert_int_equal(ctx.id_width, 128);
}

static void test_tb_tbstate_restore__enospc(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 64);
    struct tb_trace_ctx ctx;

    (void)state;
    ctx_with_trace(&ctx, JAVA_TRACE);
    arena_exhaust(arena);
    assert_int_equal(tb_tbstate_restore(IOV("sw:" JAVA_ID_B64), arena, &ctx), TB_ENOSPC);
    tb_arena_free(arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tb_tbstate_encode__nothing_to_carry, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_encode__sw_java_id, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_encode__all_fields_in_order, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_encode__base64url_alphabet, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_encode__stale_ids_left_out, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_encode__256_limit_drops_whole_fields,
                                        setup_arena, teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_encode__exact_fit, setup_arena,
                                        teardown_arena),
        cmocka_unit_test(test_tb_tbstate_encode__enospc),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_restore__round_trip, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_restore__java_and_eagleeye, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_restore__stale_ignored, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_restore__unknown_and_malformed_skipped,
                                        setup_arena, teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_restore__first_valid_wins, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_restore__forged_ids_refused, setup_arena,
                                        teardown_arena),
        cmocka_unit_test_setup_teardown(test_tb_tbstate_restore__zero_trace_id, setup_arena,
                                        teardown_arena),
        cmocka_unit_test(test_tb_tbstate_restore__enospc),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
