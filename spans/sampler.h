/* SPDX-License-Identifier: MIT
 * Head sampling: the OTEL_TRACES_SAMPLER samplers. Pure functions; the rate
 * limit on new root traces needs a clock and lives with the workers.
 *
 * The decision is what every injected format carries downstream. One rule
 * differs from an SDK: a caller's "not sampled" is never upgraded, whatever
 * the sampler — a proxy must not force recording of a trace its caller
 * dropped. Debug (B3 `d`, Jaeger 0x02) stays debug unless a sampler denies.
 */
#ifndef TB_SPANS_SAMPLER_H
#define TB_SPANS_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "propagators/context.h"

enum tb_sampler_kind {
    TB_SAMPLER_ALWAYS_ON = 0,
    TB_SAMPLER_ALWAYS_OFF,
    TB_SAMPLER_TRACEIDRATIO,
    TB_SAMPLER_PARENTBASED_ALWAYS_ON, /* the default */
    TB_SAMPLER_PARENTBASED_ALWAYS_OFF,
    TB_SAMPLER_PARENTBASED_TRACEIDRATIO,
};

struct tb_sampler {
    enum tb_sampler_kind kind;
    double ratio;   /* traceidratio samplers, in [0, 1] */
    uint64_t bound; /* ratio * 2^63: compared with the trace id's low 63 bits */
};

/** The default sampler: parentbased_always_on. */
void tb_sampler_default(struct tb_sampler *s);

/**
 * Parses OTEL_TRACES_SAMPLER `name` and OTEL_TRACES_SAMPLER_ARG `arg` (NULL
 * or empty: ratio 1.0). Returns TB_OK, or TB_EINVAL with `*why` naming the
 * accepted values (`s` unchanged).
 */
int tb_sampler_parse(struct tb_sampler *s, const char *name, const char *arg, const char **why);

/**
 * The decision for a hop. `parent` is the extracted context's sampling
 * state; `continues` is true when the hop continues an incoming trace (a
 * parent's decision applies), false for a new root. Returns ACCEPT, DENY or
 * DEBUG (never DEFER).
 */
enum tb_sampling tb_sampler_decide(const struct tb_sampler *s, const uint8_t trace_id[16],
                                   enum tb_sampling parent, bool continues);

#endif
