/* SPDX-License-Identifier: MIT
 * libFuzzer driver for client requests through parsers/http1.c: head
 * detection, strict head parsing, re-serialization and body framing.
 */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz_http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_http1_one(TB_HTTP1_REQUEST, data, size);
    return 0;
}
