/* SPDX-License-Identifier: MIT
 * libFuzzer driver for upstream responses through parsers/http1.c: head
 * detection, strict head parsing (with and without a HEAD request),
 * re-serialization, body framing and close-delimited bodies.
 */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz_http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_http1_one(TB_HTTP1_RESPONSE, data, size);
    return 0;
}
