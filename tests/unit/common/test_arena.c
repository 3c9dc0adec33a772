/* SPDX-License-Identifier: MIT
 * Unit tests for common/arena.c: alignment, the hard cap, reset, memdup and
 * allocations larger than the first block. Run in both arena builds (the asan
 * configuration defines TB_ARENA_EMULATE), so nothing here assumes where a
 * block comes from or how much padding an allocation costs.
 */
#include <stdint.h>
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"

/* Two allocations overlap when either starts inside the other. */
static int ranges_overlap(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a < b + b_len && b < a + a_len;
}

/* Allocates one byte at a time until the cap stops it; returns how many fit. */
static size_t exhaust(struct tb_arena *arena)
{
    size_t n = 0;

    while (tb_arena_alloc(arena, 1) != NULL)
        n++;
    return n;
}

static void test_tb_arena_alloc__alignment(void **state)
{
    static const size_t sizes[] = {1, 3, 7, 8, 13, 16, 17, 31, 100, 1, 2, 500, 1};
    struct tb_arena *arena = tb_arena_new(256, 1 << 16);
    char *ptrs[TB_ARRAY_SIZE(sizes)];

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(sizes); i++) {
        ptrs[i] = tb_arena_alloc(arena, sizes[i]);
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % _Alignof(max_align_t), 0);
        memset(ptrs[i], (int)('a' + i), sizes[i]);
    }
    /* Every allocation kept its own bytes: none overlaps another. */
    for (size_t i = 0; i < TB_ARRAY_SIZE(sizes); i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(ptrs[i][j], (char)('a' + i));
        for (size_t k = i + 1; k < TB_ARRAY_SIZE(sizes); k++)
            assert_false(ranges_overlap(ptrs[i], sizes[i], ptrs[k], sizes[k]));
    }
    tb_arena_free(arena);
}

static void test_tb_arena_alloc__exact_cap_fits(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 256);
    char *p;

    (void)state;
    p = tb_arena_alloc(arena, 256);
    assert_non_null(p);
    memset(p, 'x', 256);
    assert_int_equal(tb_arena_used(arena), 256);
    tb_arena_free(arena);
}

static void test_tb_arena_alloc__over_cap_returns_null(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 256);

    (void)state;
    assert_null(tb_arena_alloc(arena, 257));
    assert_int_equal(tb_arena_used(arena), 0);
    /* Sizes whose rounding would wrap around must not slip under the cap. */
    assert_null(tb_arena_alloc(arena, SIZE_MAX));
    assert_null(tb_arena_alloc(arena, SIZE_MAX - 3));
    assert_int_equal(tb_arena_used(arena), 0);
    /* A refusal left the arena usable up to its cap. */
    assert_non_null(tb_arena_alloc(arena, 256));
    tb_arena_free(arena);
}

static void test_tb_arena_alloc__full_arena_allocates_nothing(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 1024);
    size_t used;

    (void)state;
    assert_non_null(tb_arena_alloc(arena, 1000));
    exhaust(arena);
    used = tb_arena_used(arena);
    assert_true(used <= 1024);
    assert_null(tb_arena_alloc(arena, 1));
    assert_null(tb_arena_alloc(arena, 64));
    assert_null(tb_arena_memdup(arena, "abc", 3));
    assert_int_equal(tb_arena_used(arena), used);
    tb_arena_free(arena);
}

static void test_tb_arena_alloc__cap_bounds_many_small(void **state)
{
    struct tb_arena *arena = tb_arena_new(32, 4096);
    size_t n;

    (void)state;
    n = exhaust(arena);
    /* At least one byte each was handed out, never more than the cap. */
    assert_true(n >= 1);
    assert_true(n <= 4096);
    assert_true(tb_arena_used(arena) >= n);
    assert_true(tb_arena_used(arena) <= 4096);
    tb_arena_free(arena);
}

static void test_tb_arena_alloc__large_spills_to_extra_blocks(void **state)
{
    static const size_t sizes[] = {32, 1000, 5000, 16, 70000, 24};
    struct tb_arena *arena = tb_arena_new(64, 1 << 20);
    char *ptrs[TB_ARRAY_SIZE(sizes)];
    size_t total = 0;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(sizes); i++) {
        ptrs[i] = tb_arena_alloc(arena, sizes[i]);
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % _Alignof(max_align_t), 0);
        /* Writing the whole allocation is what ASan checks in the asan build. */
        memset(ptrs[i], (int)('A' + i), sizes[i]);
        total += sizes[i];
    }
    for (size_t i = 0; i < TB_ARRAY_SIZE(sizes); i++) {
        assert_int_equal(ptrs[i][0], (char)('A' + i));
        assert_int_equal(ptrs[i][sizes[i] - 1], (char)('A' + i));
        for (size_t k = i + 1; k < TB_ARRAY_SIZE(sizes); k++)
            assert_false(ranges_overlap(ptrs[i], sizes[i], ptrs[k], sizes[k]));
    }
    assert_true(tb_arena_used(arena) >= total);
    tb_arena_free(arena);
}

static void test_tb_arena_alloc__zero_sized_first_block(void **state)
{
    struct tb_arena *arena = tb_arena_new(0, 4096);
    char *a, *b;

    (void)state;
    a = tb_arena_alloc(arena, 10);
    b = tb_arena_alloc(arena, 10);
    assert_non_null(a);
    assert_non_null(b);
    memcpy(a, "0123456789", 10);
    memcpy(b, "abcdefghij", 10);
    assert_memory_equal(a, "0123456789", 10);
    assert_false(ranges_overlap(a, 10, b, 10));
    tb_arena_free(arena);
}

static void test_tb_arena_reset__forgets_allocations(void **state)
{
    struct tb_arena *arena = tb_arena_new(128, 2048);
    char *p;

    (void)state;
    assert_non_null(tb_arena_alloc(arena, 100));
    assert_non_null(tb_arena_alloc(arena, 1500)); /* beyond the first block */
    exhaust(arena);
    assert_null(tb_arena_alloc(arena, 1));
    tb_arena_reset(arena);
    assert_int_equal(tb_arena_used(arena), 0);
    /* The whole cap is available again, through a first-block allocation too. */
    p = tb_arena_alloc(arena, 2048);
    assert_non_null(p);
    memset(p, 'r', 2048);
    tb_arena_reset(arena);
    p = tb_arena_alloc(arena, 16);
    assert_non_null(p);
    memset(p, 's', 16);
    assert_int_equal(tb_arena_used(arena), 16);
    tb_arena_free(arena);
}

static void test_tb_arena_reset__repeated_cycles(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 1 << 16);

    (void)state;
    for (int round = 0; round < 50; round++) {
        char *small = tb_arena_alloc(arena, 40);
        char *big = tb_arena_alloc(arena, 3000);

        assert_non_null(small);
        assert_non_null(big);
        memset(small, round, 40);
        memset(big, round, 3000);
        tb_arena_reset(arena);
        assert_int_equal(tb_arena_used(arena), 0);
    }
    tb_arena_free(arena);
}

static void test_tb_arena_memdup__copies(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 1024);
    char src[] = "hello, world";
    char *copy;

    (void)state;
    copy = tb_arena_memdup(arena, src, sizeof(src) - 1);
    assert_non_null(copy);
    assert_ptr_not_equal(copy, src);
    assert_memory_equal(copy, "hello, world", sizeof(src) - 1);
    src[0] = 'J';
    assert_int_equal(copy[0], 'h');
    assert_true(tb_arena_used(arena) >= sizeof(src) - 1);
    tb_arena_free(arena);
}

static void test_tb_arena_memdup__large_copy(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 1 << 16);
    char src[5000];
    char *copy;

    (void)state;
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (char)(i * 7);
    copy = tb_arena_memdup(arena, src, sizeof(src));
    assert_non_null(copy);
    assert_memory_equal(copy, src, sizeof(src));
    tb_arena_free(arena);
}

static void test_tb_arena_memdup__over_cap_returns_null(void **state)
{
    struct tb_arena *arena = tb_arena_new(64, 128);
    char src[200];

    (void)state;
    memset(src, 'z', sizeof(src));
    assert_null(tb_arena_memdup(arena, src, sizeof(src)));
    assert_int_equal(tb_arena_used(arena), 0);
    tb_arena_free(arena);
}

static void test_tb_arena_used__grows_with_allocations(void **state)
{
    struct tb_arena *arena = tb_arena_new(256, 4096);
    size_t before;

    (void)state;
    assert_int_equal(tb_arena_used(arena), 0);
    assert_non_null(tb_arena_alloc(arena, 10));
    assert_true(tb_arena_used(arena) >= 10);
    before = tb_arena_used(arena);
    assert_non_null(tb_arena_alloc(arena, 6));
    assert_true(tb_arena_used(arena) >= before + 6);
    before = tb_arena_used(arena);
    assert_non_null(tb_arena_alloc(arena, 1000)); /* spills */
    assert_true(tb_arena_used(arena) >= before + 1000);
    tb_arena_free(arena);
}

static void test_tb_arena_free__accepts_null(void **state)
{
    (void)state;
    tb_arena_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_arena_alloc__alignment),
        cmocka_unit_test(test_tb_arena_alloc__exact_cap_fits),
        cmocka_unit_test(test_tb_arena_alloc__over_cap_returns_null),
        cmocka_unit_test(test_tb_arena_alloc__full_arena_allocates_nothing),
        cmocka_unit_test(test_tb_arena_alloc__cap_bounds_many_small),
        cmocka_unit_test(test_tb_arena_alloc__large_spills_to_extra_blocks),
        cmocka_unit_test(test_tb_arena_alloc__zero_sized_first_block),
        cmocka_unit_test(test_tb_arena_reset__forgets_allocations),
        cmocka_unit_test(test_tb_arena_reset__repeated_cycles),
        cmocka_unit_test(test_tb_arena_memdup__copies),
        cmocka_unit_test(test_tb_arena_memdup__large_copy),
        cmocka_unit_test(test_tb_arena_memdup__over_cap_returns_null),
        cmocka_unit_test(test_tb_arena_used__grows_with_allocations),
        cmocka_unit_test(test_tb_arena_free__accepts_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
