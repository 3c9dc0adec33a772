/* SPDX-License-Identifier: MIT
 * Leaf definitions every layer shares: byte views, status codes, assertions and
 * the allocation policy. No I/O here beyond what tb_fatal needs to report.
 */
#ifndef TB_COMMON_TB_H
#define TB_COMMON_TB_H

#include <stddef.h>
#include <stdint.h>

#define TB_VERSION "0.1.0"

/** A borrowed, non-owning byte view; not NUL-terminated. Never frees. */
struct tb_iov {
    const char *base;
    size_t len;
};

/** `TB_STRLIT("x")` expands to `"x", 1`: a literal and its length. */
#define TB_STRLIT(s) (s), (sizeof(s) - 1)
/** A `struct tb_iov` compound literal over a string literal. */
#define TB_IOV_LIT(s) ((struct tb_iov){(s), sizeof(s) - 1})

#define TB_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define TB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/** Return values: TB_OK or a negative status. Absent is never the same as malformed. */
enum tb_status {
    TB_OK = 0,
    TB_EAGAIN = -1,    /* need more input */
    TB_ENOTFOUND = -2, /* not applicable, e.g. no such header */
    TB_EINVAL = -3,    /* malformed input */
    TB_ENOSPC = -4,    /* arena or configured limit exceeded */
    TB_EIO = -5,       /* socket failure */
};

/** Prints `msg` with its location to stderr and aborts. Used for broken invariants. */
_Noreturn void tb_bug_at(const char *file, int line, const char *msg);
/** Prints a formatted fatal error to stderr and exits with status 1. */
_Noreturn void tb_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define tb_bug(msg) tb_bug_at(__FILE__, __LINE__, (msg))
/* Assertions stay on in every build: a broken invariant in a proxy must stop it
 * loudly rather than corrupt another connection's bytes. */
#define TB_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tb_bug_at(__FILE__, __LINE__, "assertion failed: " #cond);                             \
    } while (0)

/**
 * Control-path allocation: never returns NULL. Running out of memory here calls
 * tb_fatal (the data path is bounded by arenas instead). Free with tb_free.
 */
void *tb_xmalloc(size_t size);
void *tb_xcalloc(size_t num, size_t size);
void tb_free(void *p);

/** ASCII case-insensitive equality of two byte ranges of the same length `len`. */
int tb_memcaseeq(const char *a, const char *b, size_t len);

/** True when `a` equals `b` ignoring ASCII case. */
static inline int tb_iov_caseeq(struct tb_iov a, const char *b, size_t b_len)
{
    return a.len == b_len && tb_memcaseeq(a.base, b, b_len);
}

#endif
