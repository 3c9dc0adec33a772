/* SPDX-License-Identifier: MIT
 * Unit tests for common/sha256.c: the FIPS 180-4 example vectors and every
 * padding boundary around one block.
 */
#include <stdlib.h>

#include "tb_test.h"

#include "common/sha256.h"
#include "parsers/lex.h"

static void assert_digest(const void *data, size_t len, const char *hex)
{
    uint8_t digest[TB_SHA256_DIGEST_LEN];
    char got[65];

    tb_sha256(data, len, digest);
    tb_hex_encode(digest, sizeof(digest), got);
    got[64] = '\0';
    assert_string_equal(got, hex);
}

static void test_tb_sha256__fips_examples(void **state)
{
    (void)state;
    assert_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_digest(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_tb_sha256__million_a(void **state)
{
    char *a = malloc(1000000);

    (void)state;
    assert_non_null(a);
    memset(a, 'a', 1000000);
    assert_digest(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_tb_sha256__padding_boundaries(void **state)
{
    /* 'x' repeated: one final block up to 55 bytes, two from 56, and the
     * same around the second block (digests from an independent tool). */
    static const struct {
        size_t len;
        const char *hex;
    } cases[] = {
        {55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
        {56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
        {63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
        {64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
        {65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"},
        {119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c"},
        {120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98"},
    };
    char buf[128];

    (void)state;
    memset(buf, 'x', sizeof(buf));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_digest(buf, cases[i].len, cases[i].hex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_sha256__fips_examples),
        cmocka_unit_test(test_tb_sha256__million_a),
        cmocka_unit_test(test_tb_sha256__padding_boundaries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
