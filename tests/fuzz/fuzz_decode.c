/* SPDX-License-Identifier: MIT
 * libFuzzer driver for `tracebridge decode` (proxy/decode.c): any bytes as
 * header lines, through every extractor, the merge, the per-format inject
 * preview and the proxy's rewrite, printed as the human table and as JSON
 * to /dev/null. The first input byte picks the output form and the policy
 * (every format injected, add mode, a restricted --extract list), so all are
 * reached; the rest is the input. tb_decode must return 0 or 2, never crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tb.h"
#include "propagators/policy.h"
#include "proxy/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static FILE *fuzz_null;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t span[8] = {0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81};
    static const uint8_t trace[16] = {0xc0, 0xff, 0xee, 0, 0xc0, 0xff, 0xee, 0,
                                      0xc0, 0xff, 0xee, 0, 0xc0, 0xff, 0xee, 1};
    struct tb_decode_options opts;
    struct tb_iov bad;
    uint8_t mode = size > 0 ? data[0] : 0;
    char *input;
    int status;

    if (fuzz_null == NULL) {
        fuzz_null = fopen("/dev/null", "w");
        FUZZ_CHECK(fuzz_null != NULL);
    }
    memset(&opts, 0, sizeof(opts));
    FUZZ_CHECK(tb_prop_policy_defaults(&opts.policy, NULL, &bad) == TB_OK);
    if (mode & 2) {
        for (size_t f = 0; f < TB_FORMAT_NUM; f++)
            opts.policy.inject[f] = (enum tb_format)(TB_FORMAT_NUM - 1 - f);
        opts.policy.num_inject = TB_FORMAT_NUM;
    }
    if (mode & 4)
        opts.policy.mode = TB_INJECT_ADD;
    if (mode & 8) {
        /* Only a few formats read, in another order than the registry's. */
        opts.policy.extract[0] = TB_FORMAT_SW8;
        opts.policy.extract[1] = TB_FORMAT_B3MULTI;
        opts.policy.extract[2] = TB_FORMAT_TRACECONTEXT;
        opts.policy.num_extract = 3;
    }
    if (mode & 16)
        opts.policy.clear = TB_FORMAT_BIT(TB_FORMAT_B3) | TB_FORMAT_BIT(TB_FORMAT_BAGGAGE);
    opts.json = mode & 1;
    memcpy(opts.span_id, span, sizeof(span));
    memcpy(opts.trace_id, trace, sizeof(trace));
    opts.service = "frontend";
    opts.instance = "frontend-1@10.0.0.1";
    opts.method = "GET";
    opts.path = (mode & 32) ? "/a/very/long/path/that/goes/on/and/on/for/more/than/the/150/"
                              "bytes/sw8/allows/in/its/endpoint/field/so/that/the/cut/is/"
                              "exercised/as/well/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                            : "/api/orders";
    opts.target = "orders:8080";

    /* An exact-size copy: a read past the input is caught. */
    size = size > 0 ? size - 1 : 0;
    input = malloc(size ? size : 1);
    FUZZ_CHECK(input != NULL);
    if (size > 0)
        memcpy(input, data + 1, size);
    status = tb_decode(input, size, &opts, fuzz_null, fuzz_null);
    FUZZ_CHECK(status == 0 || status == 2);
    free(input);
    return 0;
}
