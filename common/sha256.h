/* SPDX-License-Identifier: MIT
 * SHA-256 (FIPS 180-4), one-shot. The only digest tracebridge needs (stable
 * fallback ids): a small local implementation keeps libcrypto, and the
 * megabytes of resident memory its mapping costs, out of the process.
 */
#ifndef TB_COMMON_SHA256_H
#define TB_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define TB_SHA256_DIGEST_LEN 32

/** Writes the SHA-256 digest of `len` bytes at `data` (may be NULL when len is 0). */
void tb_sha256(const void *data, size_t len, uint8_t digest[TB_SHA256_DIGEST_LEN]);

#endif
