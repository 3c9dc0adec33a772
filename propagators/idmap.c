/* SPDX-License-Identifier: MIT
 * Identifier mappings for formats whose ids are strings: SkyWalking (the
 * OpenTelemetry collector's skywalkingreceiver algorithm, protocols.md §8.4,
 * reproduced edge case for edge case so that our ids agree with the spans the
 * collector converts), EagleEye (§11), and the SHA-256 fallback used when no
 * mapping applies.
 */
#include "propagators/idmap.h"

#include <string.h>

#include "common/sha256.h"
#include "parsers/lex.h"

/* The value of one hex digit of either case, or -1 (Go's encoding/hex and
 * google/uuid both accept upper and lower case). */
static int idmap_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One byte from two hex digits at `p`; false when either is not hex. */
static bool idmap_hex_byte(const char *p, uint8_t *out)
{
    int hi = idmap_hex_value((unsigned char)p[0]);
    int lo = idmap_hex_value((unsigned char)p[1]);

    if (hi < 0 || lo < 0)
        return false;
    *out = (uint8_t)(hi << 4 | lo);
    return true;
}

/*
 * google/uuid Parse restricted to the lengths the collector lets through
 * (it only calls it for ids of at most 36 characters): 32 hex digits, or the
 * dashed 8-4-4-4-12 form. The version and variant bits are not checked.
 */
static bool idmap_uuid_parse(struct tb_iov s, uint8_t out[16])
{
    static const uint8_t dashed_at[16] = {0,  2,  4,  6,  9,  11, 14, 16,
                                          19, 21, 24, 26, 28, 30, 32, 34};

    if (s.len == 32) {
        for (size_t i = 0; i < 16; i++)
            if (!idmap_hex_byte(s.base + 2 * i, &out[i]))
                return false;
        return true;
    }
    if (s.len != 36 || s.base[8] != '-' || s.base[13] != '-' || s.base[18] != '-' ||
        s.base[23] != '-')
        return false;
    for (size_t i = 0; i < 16; i++)
        if (!idmap_hex_byte(s.base + dashed_at[i], &out[i]))
            return false;
    return true;
}

/*
 * Go's strconv.Atoi on a 64-bit platform: an optional '+' or '-', then one or
 * more decimal digits, the value within int64. No spaces, no underscores
 * (those need base 0). The result is returned as its two's complement bits.
 */
static bool idmap_go_atoi(struct tb_iov s, uint64_t *out)
{
    bool negative = false;
    uint64_t v = 0, limit;
    size_t i = 0;

    if (s.len > 0 && (s.base[0] == '+' || s.base[0] == '-')) {
        negative = s.base[0] == '-';
        i = 1;
    }
    if (i == s.len)
        return false;
    limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < s.len; i++) {
        unsigned d = (unsigned char)s.base[i] - '0';

        if (d > 9 || v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = negative ? ~v + 1 : v;
    return true;
}

enum idmap_sw_result {
    IDMAP_SW_ZERO,    /* the collector returns the all-zero id */
    IDMAP_SW_PARTIAL, /* the hex prefix stopped early: only a prefix was decoded */
    IDMAP_SW_FULL,    /* the whole algorithm ran */
};

/*
 * swStringToUUID(s, extra) of the collector:
 *   s = "<32 hex>" or "<32 hex>.<mid>.<last>";
 *   uid = hexdecode(s[0:32]) XOR (LE32(extra) . LE32(mid) . LE64(last)).
 * Edge behaviour reproduced:
 * - fewer than 32 characters: zero;
 * - a non-hex byte in the first 32: Go's hex.Decode stops there and the
 *   collector returns the bytes decoded so far, without any XOR (PARTIAL);
 * - exactly 32: the prefix XOR extra;
 * - longer: the first '.' must be at index 32 and both numbers must pass
 *   Atoi, else zero. With a single '.', the collector slices s[33:32] and
 *   panics; we answer zero.
 */
static enum idmap_sw_result idmap_sw_string_to_uuid(struct tb_iov s, uint32_t extra,
                                                    uint8_t out[16])
{
    const char *first_dot, *last_dot = NULL;
    uint64_t mid, last;

    memset(out, 0, 16);
    if (s.len < 32)
        return IDMAP_SW_ZERO;
    for (size_t i = 0; i < 16; i++)
        if (!idmap_hex_byte(s.base + 2 * i, &out[i]))
            return i == 0 ? IDMAP_SW_ZERO : IDMAP_SW_PARTIAL;
    for (size_t i = 0; i < 4; i++)
        out[i] ^= (uint8_t)(extra >> (8 * i));
    if (s.len == 32)
        return IDMAP_SW_FULL;

    first_dot = memchr(s.base, '.', s.len);
    for (size_t i = s.len; i > 0; i--) {
        if (s.base[i - 1] == '.') {
            last_dot = s.base + i - 1;
            break;
        }
    }
    if (first_dot != s.base + 32 || last_dot == first_dot)
        goto zero;
    if (!idmap_go_atoi((struct tb_iov){first_dot + 1, (size_t)(last_dot - first_dot - 1)}, &mid))
        goto zero;
    if (!idmap_go_atoi((struct tb_iov){last_dot + 1, (size_t)(s.base + s.len - last_dot - 1)},
                       &last))
        goto zero;
    /* Little-endian bytes: the low 4 of mid, all 8 of last. */
    for (size_t i = 0; i < 4; i++)
        out[4 + i] ^= (uint8_t)(mid >> (8 * i));
    for (size_t i = 0; i < 8; i++)
        out[8 + i] ^= (uint8_t)(last >> (8 * i));
    return IDMAP_SW_FULL;

zero:
    memset(out, 0, 16);
    return IDMAP_SW_ZERO;
}

bool tb_sw_trace_id_to_128(struct tb_iov sw_trace_id, uint8_t out[16])
{
    /* 36 is the dashed UUID length: the collector's cut between uuid.Parse
     * and its own string algorithm. */
    if (sw_trace_id.len <= 36) {
        if (!idmap_uuid_parse(sw_trace_id, out))
            memset(out, 0, 16);
    } else {
        idmap_sw_string_to_uuid(sw_trace_id, 0, out);
    }
    return !tb_is_zero(out, 16);
}

bool tb_sw_segment_to_span_id(struct tb_iov segment_id, int32_t span_id, uint8_t out[8])
{
    uint8_t uid[16];

    memset(out, 0, 8);
    if (segment_id.len < 32)
        return false;
    /* The collector converts the protobuf int32 span id with uint32(). */
    idmap_sw_string_to_uuid(segment_id, (uint32_t)span_id, uid);
    for (size_t i = 0; i < 8; i++)
        out[i] = uid[i] ^ uid[i + 8];
    return !tb_is_zero(out, 8);
}

static void idmap_sha256(struct tb_iov s, uint8_t digest[TB_SHA256_DIGEST_LEN])
{
    tb_sha256(s.base, s.len, digest);
}

void tb_hash_trace_id(struct tb_iov s, uint8_t out[16])
{
    uint8_t digest[TB_SHA256_DIGEST_LEN];

    idmap_sha256(s, digest);
    memcpy(out, digest, 16);
}

void tb_hash_span_id(struct tb_iov s, uint8_t out[8])
{
    uint8_t digest[TB_SHA256_DIGEST_LEN];

    idmap_sha256(s, digest);
    memcpy(out, digest, 8);
    if (tb_is_zero(out, 8))
        out[7] = 1;
}

/* The hash fallback for a non-empty id, never zero. */
static void idmap_hash_fallback(struct tb_iov s, uint8_t out[16], bool *hashed)
{
    tb_hash_trace_id(s, out);
    if (tb_is_zero(out, 16))
        out[15] = 1;
    *hashed = true;
}

void tb_sw_trace_id_map(struct tb_iov sw_trace_id, uint8_t out[16], bool *hashed)
{
    *hashed = false;
    memset(out, 0, 16);
    if (sw_trace_id.len == 0)
        return;
    if (sw_trace_id.len <= 36) {
        if (tb_sw_trace_id_to_128(sw_trace_id, out))
            return;
    } else if (idmap_sw_string_to_uuid(sw_trace_id, 0, out) == IDMAP_SW_FULL &&
               !tb_is_zero(out, 16)) {
        return;
    }
    /* A partial decode (a long id whose first 32 characters are not all hex)
     * is left to the hash on purpose: the collector's answer keeps only the
     * hex prefix, so unrelated traces sharing a prefix would merge into one
     * trace id downstream. */
    idmap_hash_fallback(sw_trace_id, out, hashed);
}

void tb_eagleeye_trace_id_map(struct tb_iov ee_trace_id, uint8_t out[16], bool *hashed)
{
    *hashed = false;
    memset(out, 0, 16);
    if (ee_trace_id.len == 0)
        return;
    if (tb_lex_hex_padded(ee_trace_id, out, 16, true) && !tb_is_zero(out, 16))
        return;
    idmap_hash_fallback(ee_trace_id, out, hashed);
}

bool tb_native_id_is_plain_hex(struct tb_iov native, const uint8_t trace_id[16])
{
    char hex[32];

    if (native.len != sizeof(hex))
        return false;
    tb_hex_encode(trace_id, 16, hex);
    return memcmp(native.base, hex, sizeof(hex)) == 0;
}

void tb_sw_hop_segment_id(const uint8_t span_id[8], char out[32])
{
    uint8_t first[8];

    /* segmentIDToSpanID XORs the little-endian span index into byte 0 and the
     * two halves together: a zero second half leaves the first, minus the 1. */
    memcpy(first, span_id, 8);
    first[0] ^= 0x01;
    tb_hex_encode(first, 8, out);
    memset(out + 16, '0', 16);
}
