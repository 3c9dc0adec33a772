/* SPDX-License-Identifier: MIT
 * What the sw8 codec shares with the rest of the program: the rule that
 * shapes the parent endpoint "METHOD:/path". The hop that sends an sw8 and
 * the SkyWalking exporter that reports its Entry span must cut it the same
 * way, or the OAP cannot join the two segments.
 */
#ifndef TB_PROPAGATORS_SW8_H
#define TB_PROPAGATORS_SW8_H

#include <stddef.h>

/* sw8 limits the parent endpoint to 150 characters. */
#define TB_SW8_ENDPOINT_MAX 150

/**
 * How many bytes of `path` to keep so that "METHOD:" + path fits in
 * TB_SW8_ENDPOINT_MAX bytes, never cutting inside a UTF-8 sequence.
 * `method_len` is the method's length; pure, never fails.
 */
size_t tb_sw8_endpoint_path_len(size_t method_len, const char *path, size_t path_len);

#endif
