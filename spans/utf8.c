/* SPDX-License-Identifier: MIT
 * UTF-8 validation with U+FFFD repair (see spans/utf8.h). The ASCII fast path
 * checks eight bytes at a time: span strings (methods, paths, addresses, user
 * agents) are nearly always ASCII.
 */
#include "spans/utf8.h"

#include <stdint.h>
#include <string.h>

#include "spans/buf.h"

/*
 * Checks the sequence starting at `p` (its lead byte >= 0x80) against Unicode
 * Table 3-7 (Well-Formed UTF-8 Byte Sequences). Returns its length (2..4)
 * when well-formed; otherwise returns 0 and sets `*subpart` to the length of
 * the maximal subpart: the longest prefix of some well-formed sequence, at
 * least one byte (Unicode §3.9, "U+FFFD Substitution of Maximal Subparts").
 */
static size_t utf8_check_seq(const uint8_t *p, size_t avail, size_t *subpart)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    size_t need, i;

    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* E0 80..9F would be overlong */
        else if (c == 0xED)
            hi = 0x9F; /* ED A0..BF would be a surrogate */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        /* 80..BF (a continuation), C0/C1 (overlong) or F5..FF: never a lead. */
        *subpart = 1;
        return 0;
    }
    for (i = 1; i <= need && i < avail; i++) {
        if (p[i] < lo || p[i] > hi)
            break;
        /* Only the second byte has a narrowed range. */
        lo = 0x80;
        hi = 0xBF;
    }
    if (i == need + 1)
        return i;
    *subpart = i;
    return 0;
}

size_t tb_utf8_valid_prefix(const char *s, size_t len)
{
    const uint8_t *p, *end;
    size_t subpart;

    if (len == 0)
        return 0; /* `s` may be NULL: no pointer arithmetic on it */
    p = (const uint8_t *)s;
    end = p + len;
    while (p < end) {
        if (end - p >= 8) {
            uint64_t word;

            memcpy(&word, p, sizeof(word));
            if ((word & UINT64_C(0x8080808080808080)) == 0) {
                p += 8;
                continue;
            }
        }
        if (*p < 0x80) {
            p++;
        } else {
            size_t n = utf8_check_seq(p, (size_t)(end - p), &subpart);

            if (n == 0)
                break;
            p += n;
        }
    }
    return (size_t)(p - (const uint8_t *)s);
}

size_t tb_utf8_invalid_len(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t subpart;

    if (len == 0 || p[0] < 0x80 || utf8_check_seq(p, len, &subpart) != 0)
        return 0;
    return subpart;
}

size_t tb_utf8_sanitized_len(const char *s, size_t len)
{
    size_t out = 0;

    for (;;) {
        size_t n = tb_utf8_valid_prefix(s, len);

        out += n;
        if (n == len)
            return out;
        out += TB_UTF8_REPLACEMENT_LEN;
        n += tb_utf8_invalid_len(s + n, len - n);
        s += n;
        len -= n;
    }
}

void tb_buf_append_utf8(struct tb_buf *buf, const char *s, size_t len)
{
    for (;;) {
        size_t n = tb_utf8_valid_prefix(s, len);

        tb_buf_append(buf, s, n);
        if (n == len)
            return;
        tb_buf_append(buf, TB_UTF8_REPLACEMENT, TB_UTF8_REPLACEMENT_LEN);
        n += tb_utf8_invalid_len(s + n, len - n);
        s += n;
        len -= n;
    }
}
