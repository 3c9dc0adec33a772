/* SPDX-License-Identifier: MIT
 * Small lexers the trace-context formats share: hex and decimal ids, base64,
 * percent-encoding and OWS trimming. Pure functions over byte views: nothing
 * here allocates; callers provide output buffers of the documented size.
 */
#ifndef TB_PARSERS_LEX_H
#define TB_PARSERS_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tb.h"

/** `s` without leading and trailing SP / HTAB. */
struct tb_iov tb_lex_trim_ows(struct tb_iov s);

/**
 * Decodes exactly `2 * out_len` hex digits of `s` into `out` (big-endian).
 * With `allow_upper` false only [0-9a-f] is accepted. Returns false (and
 * leaves `out` unspecified) on a wrong length or a non-hex byte.
 */
bool tb_lex_hex(struct tb_iov s, uint8_t *out, size_t out_len, bool allow_upper);

/**
 * Decodes 1 to `2 * out_len` hex digits of `s` into `out`, left-padded with
 * zeros (the Jaeger and B3 rule for short ids). Returns false on an empty,
 * too long or non-hex `s`.
 */
bool tb_lex_hex_padded(struct tb_iov s, uint8_t *out, size_t out_len, bool allow_upper);

/** Writes `2 * len` lowercase hex digits of `in` to `out` (not NUL-terminated). */
void tb_hex_encode(const uint8_t *in, size_t len, char *out);

/**
 * Parses an unsigned decimal of 1 to 20 digits without sign, spaces or
 * leading '+'. Returns false on anything else or on overflow of uint64_t.
 */
bool tb_lex_u64_dec(struct tb_iov s, uint64_t *out);

/** Longest output of tb_u64_to_dec. */
#define TB_U64_DEC_MAX 20

/** Writes `v` in decimal to `out` (at least TB_U64_DEC_MAX bytes); returns the length. */
size_t tb_u64_to_dec(uint64_t v, char *out);

/** The 8 big-endian bytes at `p` as an integer, and the reverse. */
uint64_t tb_be64_load(const uint8_t *p);
void tb_be64_store(uint64_t v, uint8_t *p);

/** True when all `len` bytes of `p` are zero. */
bool tb_is_zero(const uint8_t *p, size_t len);

/** Bytes needed to decode `in_len` base64 characters (an upper bound). */
#define TB_BASE64_DECODED_MAX(in_len) (((in_len) + 3) / 4 * 3)
/** Characters produced by tb_base64_encode for `len` bytes, with padding. */
#define TB_BASE64_ENCODED_LEN(len) (((len) + 2) / 3 * 4)

enum tb_base64_alphabet {
    TB_BASE64_STD, /* RFC 4648 §4, '+' '/', '=' padding on output */
    TB_BASE64_URL, /* RFC 4648 §5, '-' '_', no padding on output */
};

/**
 * Decodes `in` into `out` (room for TB_BASE64_DECODED_MAX(in.len) bytes) and
 * stores the decoded length in `*out_len`. Padding is optional; when present
 * it must be correct and last. Returns false on any byte outside the alphabet,
 * a lone trailing character, or non-zero bits left over in the last symbol.
 */
bool tb_base64_decode(enum tb_base64_alphabet alphabet, struct tb_iov in, char *out,
                      size_t *out_len);

/**
 * Encodes `len` bytes of `in` into `out` (room for TB_BASE64_ENCODED_LEN(len)
 * bytes); returns the number of characters written. TB_BASE64_URL omits the
 * padding.
 */
size_t tb_base64_encode(enum tb_base64_alphabet alphabet, const void *in, size_t len, char *out);

/**
 * Percent-decodes `in` into `out` (room for in.len bytes); stores the length.
 * With `plus_is_space` a '+' decodes to a space (form encoding). Returns
 * false on a '%' not followed by two hex digits.
 */
bool tb_percent_decode(struct tb_iov in, char *out, size_t *out_len, bool plus_is_space);

/**
 * Percent-encodes every byte of `in` for which `keep(byte)` is false, with
 * uppercase hex digits, into `out` (room for 3 * in.len bytes); returns the
 * encoded length.
 */
size_t tb_percent_encode(struct tb_iov in, char *out, bool (*keep)(unsigned char c));

/** RFC 9110 tchar: the bytes a token (a header name, a baggage key) may hold. */
bool tb_lex_is_tchar(unsigned char c);

#endif
