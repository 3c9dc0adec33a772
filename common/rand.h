/* SPDX-License-Identifier: MIT
 * Trace and span id generation. Each worker owns a struct tb_rng seeded from
 * the kernel (getrandom), so the data path takes no lock and makes no
 * system call per id. The generator is xoshiro256**: ids need uniqueness and
 * uniform bits (the W3C random flag promises that), not secrecy.
 */
#ifndef TB_COMMON_RAND_H
#define TB_COMMON_RAND_H

#include <stddef.h>
#include <stdint.h>

struct tb_rng {
    uint64_t s[4];
};

/** Seeds `rng` from the OS. Returns TB_OK, or TB_EIO when no entropy is available. */
int tb_rng_seed(struct tb_rng *rng);

/** The next 64 random bits. */
uint64_t tb_rng_next(struct tb_rng *rng);

/** A new non-zero 128-bit trace id, big-endian. */
void tb_rng_trace_id(struct tb_rng *rng, uint8_t out[16]);

/** A new non-zero 64-bit span id, big-endian. */
void tb_rng_span_id(struct tb_rng *rng, uint8_t out[8]);

#endif
