/* SPDX-License-Identifier: MIT
 * UTF-8 validation and repair for the span encoders. Span strings are raw
 * bytes off the wire, but protobuf `string` fields and JSON text must be valid
 * UTF-8: every ill-formed sequence becomes U+FFFD (EF BF BD), one per
 * "maximal subpart" as Unicode 15 §3.9 (U+FFFD Substitution of Maximal
 * Subparts) and the WHATWG Encoding standard do. Well-formed input passes
 * through unchanged. No escaping here (JSON control characters are the JSON
 * encoders' job); never allocates beyond growing the caller's buffer.
 *
 * An encoder that escapes as it copies walks a string like this:
 *
 *     while (len > 0) {
 *         size_t n = tb_utf8_valid_prefix(s, len);
 *         emit_escaped(s, n);                         // well-formed run
 *         if (n == len)
 *             break;
 *         emit("\xEF\xBF\xBD");                       // U+FFFD
 *         n += tb_utf8_invalid_len(s + n, len - n);   // skip the bad bytes
 *         s += n, len -= n;
 *     }
 */
#ifndef TB_SPANS_UTF8_H
#define TB_SPANS_UTF8_H

#include <stddef.h>

struct tb_buf;

/** The replacement character U+FFFD in UTF-8, and its length. */
#define TB_UTF8_REPLACEMENT "\xEF\xBF\xBD"
#define TB_UTF8_REPLACEMENT_LEN 3

/**
 * Length of the longest prefix of `s[0..len)` that is well-formed UTF-8
 * (Unicode Table 3-7: no overlongs, surrogates or code points above
 * U+10FFFF; a sequence cut by the end of the input is not well-formed).
 * Returns `len` when the whole input is valid. `s` may be NULL when `len` is 0.
 */
size_t tb_utf8_valid_prefix(const char *s, size_t len);

/**
 * Given that `s[0..len)` does not start with a well-formed sequence, returns
 * how many bytes one U+FFFD replaces: the maximal subpart at `s` (1 to 3
 * bytes). Returns 0 when `len` is 0 or `s` starts with a well-formed sequence.
 */
size_t tb_utf8_invalid_len(const char *s, size_t len);

/** How many bytes tb_buf_append_utf8(`buf`, `s`, `len`) appends. */
size_t tb_utf8_sanitized_len(const char *s, size_t len);

/**
 * Appends `s[0..len)` to `buf` with every maximal subpart of an ill-formed
 * sequence replaced by U+FFFD; well-formed bytes are copied as they are.
 * Grows `buf` as needed (allocation failure is fatal, as for tb_buf).
 */
void tb_buf_append_utf8(struct tb_buf *buf, const char *s, size_t len);

#endif
