/* SPDX-License-Identifier: MIT
 * Shared lexers for the trace-context formats. Table-free where a comparison
 * is as fast; every function is bounded by its input length.
 */
#include "parsers/lex.h"

#include <string.h>

struct tb_iov tb_lex_trim_ows(struct tb_iov s)
{
    while (s.len > 0 && (s.base[0] == ' ' || s.base[0] == '\t')) {
        s.base++;
        s.len--;
    }
    while (s.len > 0 && (s.base[s.len - 1] == ' ' || s.base[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* The value of one hex digit, or -1. */
static int hex_value(unsigned char c, bool allow_upper)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (allow_upper && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool tb_lex_hex(struct tb_iov s, uint8_t *out, size_t out_len, bool allow_upper)
{
    if (s.len != 2 * out_len)
        return false;
    for (size_t i = 0; i < out_len; i++) {
        int hi = hex_value((unsigned char)s.base[2 * i], allow_upper);
        int lo = hex_value((unsigned char)s.base[2 * i + 1], allow_upper);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool tb_lex_hex_padded(struct tb_iov s, uint8_t *out, size_t out_len, bool allow_upper)
{
    if (s.len == 0 || s.len > 2 * out_len)
        return false;
    memset(out, 0, out_len);
    /* Fill from the right end, one nibble at a time. */
    for (size_t i = 0; i < s.len; i++) {
        int v = hex_value((unsigned char)s.base[s.len - 1 - i], allow_upper);

        if (v < 0)
            return false;
        out[out_len - 1 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
    }
    return true;
}

void tb_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
}

bool tb_lex_u64_dec(struct tb_iov s, uint64_t *out)
{
    uint64_t v = 0;

    if (s.len == 0 || s.len > TB_U64_DEC_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.base[i] - '0';

        if (d > 9)
            return false;
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

size_t tb_u64_to_dec(uint64_t v, char *out)
{
    char tmp[TB_U64_DEC_MAX];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

uint64_t tb_be64_load(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void tb_be64_store(uint64_t v, uint8_t *p)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

bool tb_is_zero(const uint8_t *p, size_t len)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < len; i++)
        acc |= p[i];
    return acc == 0;
}

/* The 6-bit value of each byte in the two alphabets, -1 outside them: one
 * table read per symbol, as every request with sw8 decodes six fields. */
static const int8_t base64_std[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static const int8_t base64_url[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

bool tb_base64_decode(enum tb_base64_alphabet alphabet, struct tb_iov in, char *out,
                      size_t *out_len)
{
    const int8_t *values = alphabet == TB_BASE64_STD ? base64_std : base64_url;
    const unsigned char *p = (const unsigned char *)in.base;
    size_t len = in.len, n = 0, i = 0;

    /* Padding, when present, completes the last quantum exactly. */
    if (len > 0 && p[len - 1] == '=') {
        if (len % 4 != 0)
            return false;
        len--;
        if (p[len - 1] == '=')
            len--;
    }
    if (len % 4 == 1)
        return false;
    for (; i + 4 <= len; i += 4) {
        int a = values[p[i]], b = values[p[i + 1]], c = values[p[i + 2]], d = values[p[i + 3]];
        uint32_t v;

        if ((a | b | c | d) < 0)
            return false;
        v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[n++] = (char)(v >> 16);
        out[n++] = (char)(v >> 8);
        out[n++] = (char)v;
    }
    if (len - i >= 2) {
        int a = values[p[i]], b = values[p[i + 1]], c = len - i == 3 ? values[p[i + 2]] : 0;

        if ((a | b | c) < 0)
            return false;
        /* Canonical encodings leave the unused low bits of the last symbol zero. */
        if (len - i == 2 ? (b & 0x0f) != 0 : (c & 0x03) != 0)
            return false;
        out[n++] = (char)(a << 2 | b >> 4);
        if (len - i == 3)
            out[n++] = (char)((b & 0x0f) << 4 | c >> 2);
    }
    *out_len = n;
    return true;
}

size_t tb_base64_encode(enum tb_base64_alphabet alphabet, const void *in, size_t len, char *out)
{
    const char *symbols = alphabet == TB_BASE64_STD
                              ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                              : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const uint8_t *p = in;
    size_t n = 0, i = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        out[n++] = symbols[v >> 18];
        out[n++] = symbols[(v >> 12) & 63];
        out[n++] = symbols[(v >> 6) & 63];
        out[n++] = symbols[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);

        out[n++] = symbols[v >> 18];
        out[n++] = symbols[(v >> 12) & 63];
        if (i + 1 < len)
            out[n++] = symbols[(v >> 6) & 63];
        if (alphabet == TB_BASE64_STD) {
            if (i + 1 >= len)
                out[n++] = '=';
            out[n++] = '=';
        }
    }
    return n;
}

bool tb_percent_decode(struct tb_iov in, char *out, size_t *out_len, bool plus_is_space)
{
    size_t n = 0;

    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.base[i];

        if (c == '%') {
            int hi, lo;

            if (in.len - i < 3)
                return false;
            hi = hex_value((unsigned char)in.base[i + 1], true);
            lo = hex_value((unsigned char)in.base[i + 2], true);
            if (hi < 0 || lo < 0)
                return false;
            out[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out[n++] = ' ';
        } else {
            out[n++] = (char)c;
        }
    }
    *out_len = n;
    return true;
}

size_t tb_percent_encode(struct tb_iov in, char *out, bool (*keep)(unsigned char c))
{
    static const char digits[] = "0123456789ABCDEF";
    size_t n = 0;

    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.base[i];

        if (keep(c)) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = digits[c >> 4];
            out[n++] = digits[c & 0x0f];
        }
    }
    return n;
}

bool tb_lex_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}
