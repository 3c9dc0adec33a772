/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/idmap.c: the collector's SkyWalking algorithms
 * (protocols.md §16 vectors 43-46 and the Go edge cases: uuid.Parse forms,
 * Atoi, partial hex decode), the SHA-256 fallbacks, the EagleEye mapping and
 * tb_native_id_is_plain_hex. Expected values were computed with an
 * independent Python port of the collector code and hashlib.
 */
#include <string.h>

#include "tb_test.h"

#include "parsers/lex.h"
#include "propagators/idmap.h"

#define IOV(s) ((struct tb_iov){(s), strlen(s)})

/* Fails unless the `n` bytes at `p` are the hex string `hex`. */
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

/* Runs tb_sw_trace_id_to_128 and checks the result and return value. */
static void check_sw_trace(const char *id, const char *hex, bool nonzero, const char *file,
                           int line)
{
    uint8_t out[16];

    memset(out, 0xa5, sizeof(out));
    if (tb_sw_trace_id_to_128(IOV(id), out) != nonzero) {
        print_error("tb_sw_trace_id_to_128(\"%s\") returned %d\n", id, !nonzero);
        _fail(file, line);
    }
    assert_hex_at(out, 16, hex, file, line);
}
#define CHECK_SW_TRACE(id, hex, nonzero) check_sw_trace((id), (hex), (nonzero), __FILE__, __LINE__)

#define ZERO128 "00000000000000000000000000000000"

/* --- swTraceIDToTraceID ---------------------------------------------------- */

static void test_tb_sw_trace_id_to_128__vector43_uuid_forms(void **state)
{
    (void)state;
    CHECK_SW_TRACE("de5980b8-fce3-4a37-aab9-b4ac3af7eedd", "de5980b8fce34a37aab9b4ac3af7eedd",
                   true);
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd", "de5980b8fce34a37aab9b4ac3af7eedd", true);
    /* uuid.Parse takes either case. */
    CHECK_SW_TRACE("DE5980B8FCE34A37AAB9B4AC3AF7EEDD", "de5980b8fce34a37aab9b4ac3af7eedd", true);
    CHECK_SW_TRACE("DE5980B8-FCE3-4A37-AAB9-B4AC3AF7EEDD", "de5980b8fce34a37aab9b4ac3af7eedd",
                   true);
}

static void test_tb_sw_trace_id_to_128__vector44_java_agent_id(void **state)
{
    (void)state;
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001",
                   "de5980b8fde34a371be41bcd5e2fd4dd", true);
}

static void test_tb_sw_trace_id_to_128__vector45_invalid_is_zero(void **state)
{
    (void)state;
    CHECK_SW_TRACE("de59", ZERO128, false);
    CHECK_SW_TRACE(".,<>?/-=+MNop", ZERO128, false);
    CHECK_SW_TRACE("", ZERO128, false);
    /* The nil UUID parses, but the collector's result is the invalid id. */
    CHECK_SW_TRACE("00000000-0000-0000-0000-000000000000", ZERO128, false);
}

static void test_tb_sw_trace_id_to_128__uuid_parse_edges(void **state)
{
    (void)state;
    /* Dashes elsewhere than 8-4-4-4-12, or a non-hex digit: uuid.Parse fails. */
    CHECK_SW_TRACE("de5980b8f-ce3-4a37-aab9-b4ac3af7eedd", ZERO128, false);
    CHECK_SW_TRACE("de5980b8-fce3-4a37-aab9-b4ac3af7eedg", ZERO128, false);
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eed", ZERO128, false);   /* 31 */
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd0", ZERO128, false); /* 33 */
    /* 36 characters that are not a dashed UUID never reach swStringToUUID. */
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.1.2", ZERO128, false);
    /* {uuid} and urn:uuid: are longer than 36: swStringToUUID, first byte bad. */
    CHECK_SW_TRACE("{de5980b8-fce3-4a37-aab9-b4ac3af7eedd}", ZERO128, false);
    CHECK_SW_TRACE("urn:uuid:de5980b8-fce3-4a37-aab9-b4ac3af7eedd", ZERO128, false);
}

static void test_tb_sw_trace_id_to_128__atoi_edges(void **state)
{
    (void)state;
    /* Atoi takes a sign; mid -1 flips bytes 4..7 entirely. */
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.-1.+5", "de5980b8031cb5c8afb9b4ac3af7eedd",
                   true);
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.1.-9223372036854775808",
                   "de5980b8fde34a37aab9b4ac3af7ee5d", true);
    /* Out of int64, not a number, empty, a middle with a dot, a lone dot. */
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.1.9223372036854775808", ZERO128, false);
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.x.1", ZERO128, false);
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd..1", ZERO128, false);
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.1.", ZERO128, false);
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.1.2.3", ZERO128, false);
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.1 .2", ZERO128, false);
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.1_0.2", ZERO128, false);
    /* One dot only: the collector would slice s[33:32] and panic. */
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd.16563474296430001", ZERO128, false);
    /* The first dot must be at index 32. */
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eedd0.1.2", ZERO128, false);
}

static void test_tb_sw_trace_id_to_128__partial_hex_decode(void **state)
{
    (void)state;
    /* Go's hex.Decode stops at "XX": the collector keeps 15 bytes, no XOR. */
    CHECK_SW_TRACE("de5980b8fce34a37aab9b4ac3af7eeXX.1.16563474296430001",
                   "de5980b8fce34a37aab9b4ac3af7ee00", true);
}

/* --- segmentIDToSpanID ----------------------------------------------------- */

static void check_segment(const char *segment, int32_t span, const char *hex, bool nonzero,
                          const char *file, int line)
{
    uint8_t out[8];

    memset(out, 0xa5, sizeof(out));
    if (tb_sw_segment_to_span_id(IOV(segment), span, out) != nonzero) {
        print_error("tb_sw_segment_to_span_id(\"%s\", %d) returned %d\n", segment, (int)span,
                    !nonzero);
        _fail(file, line);
    }
    assert_hex_at(out, 8, hex, file, line);
}
#define CHECK_SEGMENT(seg, span, hex, nonzero)                                                     \
    check_segment((seg), (span), (hex), (nonzero), __FILE__, __LINE__)

static void test_tb_sw_segment_to_span_id__vector46(void **state)
{
    (void)state;
    CHECK_SEGMENT("4f2f27748b8e44ecaf18fe0347194e86.33.16560607369950066", 123, "e9c455a82542306a",
                  true);
    CHECK_SEGMENT("4f2f27748b8e44ecaf18fe0347194e86", 123, "9b37d977cc970a6a", true);
    CHECK_SEGMENT("16560607369950066", 12, "0000000000000000", false);
}

static void test_tb_sw_segment_to_span_id__vectors47_48(void **state)
{
    (void)state;
    CHECK_SEGMENT("de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430000", 2, "c6bd9b75a3cc9eea",
                  true);
    /* Our own convention: hex(span) + 16 zeros, span 0, maps back exactly. */
    CHECK_SEGMENT("00f067aa0ba902b70000000000000000", 0, "00f067aa0ba902b7", true);
}

static void test_tb_sw_segment_to_span_id__edges(void **state)
{
    (void)state;
    /* A dashed UUID segment: hex decode stops at the first dash, 4 bytes kept
     * and the span id is never mixed in. */
    CHECK_SEGMENT("de5980b8-fce3-4a37-aab9-b4ac3af7eedd", 5, "de5980b800000000", true);
    CHECK_SEGMENT("de5980b8fce34a37aab9b4ac3af7eeXX", 7, "74e03414c614a437", true);
    CHECK_SEGMENT("zz5980b8fce34a37aab9b4ac3af7eedd", 7, "0000000000000000", false);
    /* Same hex in both halves cancels out. */
    CHECK_SEGMENT("0123456789abcdef0123456789abcdef", 0, "0000000000000000", false);
}

/* --- hashes ---------------------------------------------------------------- */

static void test_tb_hash__sha256_prefixes(void **state)
{
    uint8_t t[16], s[8];

    (void)state;
    tb_hash_trace_id(IOV("de59"), t);
    assert_hex(t, 16, "90066ff1db31c7070442d68818ec433c");
    tb_hash_span_id(IOV("x/0"), s);
    assert_hex(s, 8, "04e622c795ad08e5");
    tb_hash_trace_id((struct tb_iov){NULL, 0}, t);
    assert_hex(t, 16, "e3b0c44298fc1c149afbf4c8996fb924"); /* SHA-256 of nothing */
}

/* --- tb_sw_trace_id_map ---------------------------------------------------- */

static void check_sw_map(const char *id, const char *hex, bool hashed_expected, const char *file,
                         int line)
{
    uint8_t out[16];
    bool hashed = !hashed_expected;

    tb_sw_trace_id_map(IOV(id), out, &hashed);
    if (hashed != hashed_expected) {
        print_error("tb_sw_trace_id_map(\"%s\"): hashed %d\n", id, hashed);
        _fail(file, line);
    }
    assert_hex_at(out, 16, hex, file, line);
}
#define CHECK_SW_MAP(id, hex, hashed) check_sw_map((id), (hex), (hashed), __FILE__, __LINE__)

static void test_tb_sw_trace_id_map__collector_then_hash(void **state)
{
    (void)state;
    CHECK_SW_MAP("de5980b8-fce3-4a37-aab9-b4ac3af7eedd", "de5980b8fce34a37aab9b4ac3af7eedd", false);
    CHECK_SW_MAP("de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001",
                 "de5980b8fde34a371be41bcd5e2fd4dd", false);
    /* Vector 45: the fallback is SHA-256's first 16 bytes. */
    CHECK_SW_MAP("de59", "90066ff1db31c7070442d68818ec433c", true);
    CHECK_SW_MAP(".,<>?/-=+MNop", "0bdadc1a17aae26c9b78c6113cb62441", true);
    CHECK_SW_MAP("00000000-0000-0000-0000-000000000000", "12b9377cbe7e5c94e8a70d9d23929523", true);
    CHECK_SW_MAP("", ZERO128, false);
}

static void test_tb_sw_trace_id_map__partial_decode_hashes(void **state)
{
    (void)state;
    /* The collector's partial answer would merge traces sharing a prefix. */
    CHECK_SW_MAP("de5980b8fce34a37aab9b4ac3af7eeXX.1.16563474296430001",
                 "839b19ec4f9fea6b8e482bd68fb8bc8c", true);
}

/* --- EagleEye ---------------------------------------------------------------- */

static void check_ee_map(const char *id, const char *hex, bool hashed_expected, const char *file,
                         int line)
{
    uint8_t out[16];
    bool hashed = !hashed_expected;

    tb_eagleeye_trace_id_map(IOV(id), out, &hashed);
    if (hashed != hashed_expected) {
        print_error("tb_eagleeye_trace_id_map(\"%s\"): hashed %d\n", id, hashed);
        _fail(file, line);
    }
    assert_hex_at(out, 16, hex, file, line);
}
#define CHECK_EE_MAP(id, hex, hashed) check_ee_map((id), (hex), (hashed), __FILE__, __LINE__)

static void test_tb_eagleeye_trace_id_map__hex_and_hash(void **state)
{
    (void)state;
    /* Vector 57: the documented id is all hex. */
    CHECK_EE_MAP("eac0a8020216868084400006973d000a", "eac0a8020216868084400006973d000a", false);
    CHECK_EE_MAP("EAC0A8020216868084400006973D000A", "eac0a8020216868084400006973d000a", false);
    /* 30-character ids seen in the wild: left-padded. */
    CHECK_EE_MAP("ac11000117422788513302623e007d", "00ac11000117422788513302623e007d", false);
    CHECK_EE_MAP("ac11000117422788513302623e007dZZ", "9c743cba4ef7564ad500808ebe03ca7a", true);
    /* 33 hex digits do not fit; all zeros is no id. */
    CHECK_EE_MAP("eac0a8020216868084400006973d000a0", "15b06d76fc80a4b9635660ead86bd89e", true);
    CHECK_EE_MAP("0000000000000000", "fcdb4b423f4e5283afa249d762ef6aef", true);
    CHECK_EE_MAP("", ZERO128, false);
}

/* --- tb_native_id_is_plain_hex ------------------------------------------------ */

static void test_tb_native_id_is_plain_hex(void **state)
{
    uint8_t id[16];

    (void)state;
    assert_true(tb_lex_hex(IOV("4bf92f3577b34da6a3ce929d0e0e4736"), id, 16, false));
    assert_true(tb_native_id_is_plain_hex(IOV("4bf92f3577b34da6a3ce929d0e0e4736"), id));
    assert_false(tb_native_id_is_plain_hex(IOV("4BF92F3577B34DA6A3CE929D0E0E4736"), id));
    assert_false(tb_native_id_is_plain_hex(IOV("4bf92f35-77b3-4da6-a3ce-929d0e0e4736"), id));
    assert_false(tb_native_id_is_plain_hex(IOV("4bf92f3577b34da6a3ce929d0e0e473"), id));
    assert_false(tb_native_id_is_plain_hex(IOV("4bf92f3577b34da6a3ce929d0e0e4737"), id));
    assert_false(tb_native_id_is_plain_hex(IOV(""), id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_sw_trace_id_to_128__vector43_uuid_forms),
        cmocka_unit_test(test_tb_sw_trace_id_to_128__vector44_java_agent_id),
        cmocka_unit_test(test_tb_sw_trace_id_to_128__vector45_invalid_is_zero),
        cmocka_unit_test(test_tb_sw_trace_id_to_128__uuid_parse_edges),
        cmocka_unit_test(test_tb_sw_trace_id_to_128__atoi_edges),
        cmocka_unit_test(test_tb_sw_trace_id_to_128__partial_hex_decode),
        cmocka_unit_test(test_tb_sw_segment_to_span_id__vector46),
        cmocka_unit_test(test_tb_sw_segment_to_span_id__vectors47_48),
        cmocka_unit_test(test_tb_sw_segment_to_span_id__edges),
        cmocka_unit_test(test_tb_hash__sha256_prefixes),
        cmocka_unit_test(test_tb_sw_trace_id_map__collector_then_hash),
        cmocka_unit_test(test_tb_sw_trace_id_map__partial_decode_hashes),
        cmocka_unit_test(test_tb_eagleeye_trace_id_map__hex_and_hash),
        cmocka_unit_test(test_tb_native_id_is_plain_hex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
