/* SPDX-License-Identifier: MIT
 * Fatal-error reporting and the control-path allocator declared in tb.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/tb.h"

void tb_bug_at(const char *file, int line, const char *msg)
{
    fprintf(stderr, "tracebridge: bug at %s:%d: %s\n", file, line, msg);
    abort();
}

void tb_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("tracebridge: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *tb_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        tb_fatal("out of memory allocating %zu bytes", size);
    return p;
}

void *tb_xcalloc(size_t num, size_t size)
{
    void *p = calloc(num ? num : 1, size ? size : 1);

    if (p == NULL)
        tb_fatal("out of memory allocating %zu x %zu bytes", num, size);
    return p;
}

void tb_free(void *p)
{
    free(p);
}

int tb_memcaseeq(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

        if ((unsigned)(x - 'A') < 26u)
            x += 'a' - 'A';
        if ((unsigned)(y - 'A') < 26u)
            y += 'a' - 'A';
        if (x != y)
            return 0;
    }
    return 1;
}
