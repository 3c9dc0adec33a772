/* SPDX-License-Identifier: MIT
 * Helpers shared by the unit tests: guarded copies of parser input (an
 * over-read faults on a PROT_NONE page), header-table builders and comparisons
 * of byte views that print both sides escaped. Header-only; test code only.
 */
#ifndef TB_TESTS_UNIT_TB_TEST_H
#define TB_TESTS_UNIT_TB_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/tb.h"
#include "parsers/headers.h"

/**
 * Returns a writable copy of `s[0..n)` placed so that its last byte sits right
 * before a PROT_NONE page: reading past the end faults. With `n` == 0 the
 * pointer is the guard page itself. Fails the running test if mmap fails.
 * Free with tb_test_guarded_free(p, n), passing the same `n`.
 */
static inline char *tb_test_guarded(const char *s, size_t n);

/** Unmaps a buffer returned by tb_test_guarded(…, `n`). `p` may be NULL. */
static inline void tb_test_guarded_free(char *p, size_t n);

/**
 * Prints `label`, then `p[0..n)` with non-printable bytes as \xNN, through
 * cmocka's error output (used to explain a failed comparison).
 */
static inline void tb_test_print_bytes(const char *label, const char *p, size_t n);

/** True when `iov` holds exactly the bytes of the C string `s`. */
static inline int tb_test_iov_eq(struct tb_iov iov, const char *s);

/** Fails the test at `file`:`line` unless `iov` equals the C string `s`. */
static inline void tb_test_assert_iov(struct tb_iov iov, const char *s, const char *file, int line);
#define assert_iov_equal(iov, s) tb_test_assert_iov((iov), (s), __FILE__, __LINE__)

/**
 * Appends the headers of the NULL-terminated list `pairs` ("Name", "value",
 * "Name", "value", …, NULL) to `hdrs` with tb_headers_add. The strings are
 * borrowed. Fails the test if the arena is exhausted.
 */
static inline void tb_test_headers_build(struct tb_arena *arena, struct tb_headers *hdrs,
                                         const char *const *pairs);

/**
 * Compares `hdrs` (names exactly, casing included, and values) with the
 * NULL-terminated list `pairs`. Returns 1 when equal; else prints the
 * difference prefixed with `what` and returns 0.
 */
static inline int tb_test_headers_match(const char *what, const struct tb_headers *hdrs,
                                        const char *const *pairs);

/** Fails the test unless `hdrs` equals `pairs`, as tb_test_headers_match. */
#define assert_headers(hdrs, ...)                                                                  \
    do {                                                                                           \
        if (!tb_test_headers_match("headers", (hdrs), (const char *const[]){__VA_ARGS__, NULL}))   \
            _fail(__FILE__, __LINE__);                                                             \
    } while (0)

/* inline definitions */

static inline size_t tb_test_page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static inline char *tb_test_guarded(const char *s, size_t n)
{
    size_t page = tb_test_page_size();
    size_t data_pages = (n + page - 1) / page;
    char *base = mmap(NULL, (data_pages + 1) * page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *p;

    if (base == MAP_FAILED) {
        print_error("tb_test_guarded: mmap of %zu bytes failed\n", (data_pages + 1) * page);
        fail();
    }
    if (mprotect(base + data_pages * page, page, PROT_NONE) != 0) {
        print_error("tb_test_guarded: mprotect failed\n");
        fail();
    }
    p = base + data_pages * page - n;
    if (n != 0)
        memcpy(p, s, n);
    return p;
}

static inline void tb_test_guarded_free(char *p, size_t n)
{
    size_t page = tb_test_page_size();
    size_t data_pages = (n + page - 1) / page;

    if (p == NULL)
        return;
    munmap(p + n - data_pages * page, (data_pages + 1) * page);
}

static inline void tb_test_print_bytes(const char *label, const char *p, size_t n)
{
    char out[1024];
    size_t o = 0;

    for (size_t i = 0; i < n && o + 8 < sizeof(out); i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '\r') {
            out[o++] = '\\';
            out[o++] = 'r';
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    print_error("%s\"%s\" (%zu bytes)\n", label, out, n);
}

static inline int tb_test_iov_eq(struct tb_iov iov, const char *s)
{
    size_t n = strlen(s);

    return iov.len == n && (n == 0 || memcmp(iov.base, s, n) == 0);
}

static inline void tb_test_assert_iov(struct tb_iov iov, const char *s, const char *file, int line)
{
    if (tb_test_iov_eq(iov, s))
        return;
    tb_test_print_bytes("  actual:   ", iov.base, iov.len);
    tb_test_print_bytes("  expected: ", s, strlen(s));
    _fail(file, line);
}

static inline void tb_test_headers_build(struct tb_arena *arena, struct tb_headers *hdrs,
                                         const char *const *pairs)
{
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        struct tb_iov name = {pairs[i], strlen(pairs[i])};
        struct tb_iov value = {pairs[i + 1], strlen(pairs[i + 1])};

        assert_int_equal(tb_headers_add(arena, hdrs, name, value), TB_OK);
    }
}

static inline int tb_test_headers_match(const char *what, const struct tb_headers *hdrs,
                                        const char *const *pairs)
{
    size_t n = 0;

    while (pairs[2 * n] != NULL)
        n++;
    if (hdrs->num == n) {
        size_t i;

        for (i = 0; i < n; i++)
            if (!tb_test_iov_eq(hdrs->entries[i].name, pairs[2 * i]) ||
                !tb_test_iov_eq(hdrs->entries[i].value, pairs[2 * i + 1]))
                break;
        if (i == n)
            return 1;
    }
    print_error("%s: %zu entries, expected %zu\n", what, hdrs->num, n);
    for (size_t i = 0; i < hdrs->num; i++) {
        tb_test_print_bytes("  actual name:    ", hdrs->entries[i].name.base,
                            hdrs->entries[i].name.len);
        tb_test_print_bytes("  actual value:   ", hdrs->entries[i].value.base,
                            hdrs->entries[i].value.len);
    }
    for (size_t i = 0; i < n; i++) {
        tb_test_print_bytes("  expected name:  ", pairs[2 * i], strlen(pairs[2 * i]));
        tb_test_print_bytes("  expected value: ", pairs[2 * i + 1], strlen(pairs[2 * i + 1]));
    }
    return 0;
}

#endif
