/* SPDX-License-Identifier: MIT
 * `tracebridge decode`: reads HTTP header lines and shows what every format
 * extracts (or why it rejects its headers), the winning context, and the
 * exact headers each format would inject for a hop — the tool to run when a
 * trace breaks. A human table by default, JSON with --json.
 */
#ifndef TB_PROXY_DECODE_H
#define TB_PROXY_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "propagators/policy.h"
#include "spans/sampler.h"

struct tb_decode_options {
    struct tb_prop_policy policy; /* extraction precedence and the proxy's inject list */
    struct tb_sampler sampler;    /* OTEL_TRACES_SAMPLER: the decision sent downstream */
    bool json;
    uint8_t span_id[8];   /* the hop's span id */
    uint8_t trace_id[16]; /* used when no context arrived */
    const char *service, *instance, *method, *path, *target;
};

/**
 * Decodes `input` (header lines "Name: value", LF or CRLF; an optional
 * request line first; an empty line ends the headers) and prints the report
 * to `out`. Returns 0, or 2 after printing "line N: why" to `err` when the
 * input is not header lines. Allocates only from its own arena.
 */
int tb_decode(const char *input, size_t len, const struct tb_decode_options *opts, FILE *out,
              FILE *err);

/** The `decode` subcommand: argv[0] is "decode". Returns the exit status. */
int tb_decode_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);

#endif
