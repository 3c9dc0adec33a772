/* SPDX-License-Identifier: MIT
 * xoshiro256** (Blackman and Vigna) seeded from the kernel with getrandom(2):
 * OpenSSL's RAND_bytes would do, but initialising its generator costs a
 * sidecar megabytes of resident memory for 32 bytes of seed.
 */
#include "common/rand.h"

#include <errno.h>
#include <sys/random.h>

#include "common/tb.h"

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

int tb_rng_seed(struct tb_rng *rng)
{
    do {
        size_t got = 0;

        while (got < sizeof(rng->s)) {
            ssize_t n = getrandom((char *)rng->s + got, sizeof(rng->s) - got, 0);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return TB_EIO;
            got += (size_t)n;
        }
        /* The all-zero state is the one the generator never leaves. */
    } while ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0);
    return TB_OK;
}

uint64_t tb_rng_next(struct tb_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void store_be64(uint64_t v, uint8_t *p)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

void tb_rng_trace_id(struct tb_rng *rng, uint8_t out[16])
{
    uint64_t hi, lo;

    do {
        hi = tb_rng_next(rng);
        lo = tb_rng_next(rng);
    } while ((hi | lo) == 0);
    store_be64(hi, out);
    store_be64(lo, out + 8);
}

void tb_rng_span_id(struct tb_rng *rng, uint8_t out[8])
{
    uint64_t v;

    do {
        v = tb_rng_next(rng);
    } while (v == 0);
    store_be64(v, out);
}
