/* SPDX-License-Identifier: MIT */
#include "spans/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/tb.h"

void tb_sampler_default(struct tb_sampler *s)
{
    s->kind = TB_SAMPLER_PARENTBASED_ALWAYS_ON;
    s->ratio = 1.0;
    s->bound = UINT64_C(1) << 63;
}

int tb_sampler_parse(struct tb_sampler *s, const char *name, const char *arg, const char **why)
{
    static const struct {
        const char *name;
        enum tb_sampler_kind kind;
    } names[] = {
        {"always_on", TB_SAMPLER_ALWAYS_ON},
        {"always_off", TB_SAMPLER_ALWAYS_OFF},
        {"traceidratio", TB_SAMPLER_TRACEIDRATIO},
        {"parentbased_always_on", TB_SAMPLER_PARENTBASED_ALWAYS_ON},
        {"parentbased_always_off", TB_SAMPLER_PARENTBASED_ALWAYS_OFF},
        {"parentbased_traceidratio", TB_SAMPLER_PARENTBASED_TRACEIDRATIO},
    };
    double ratio = 1.0;

    for (size_t i = 0; i < TB_ARRAY_SIZE(names); i++) {
        if (strcmp(name, names[i].name) != 0)
            continue;
        if ((names[i].kind == TB_SAMPLER_TRACEIDRATIO ||
             names[i].kind == TB_SAMPLER_PARENTBASED_TRACEIDRATIO) &&
            arg != NULL && arg[0] != '\0') {
            char *end;

            ratio = strtod(arg, &end);
            if (*end != '\0' || !isfinite(ratio) || ratio < 0 || ratio > 1) {
                *why = "a ratio from 0 to 1 in OTEL_TRACES_SAMPLER_ARG";
                return TB_EINVAL;
            }
        }
        s->kind = names[i].kind;
        s->ratio = ratio;
        /* 2^63 * ratio, exact at both ends. */
        s->bound = ratio >= 1.0 ? UINT64_C(1) << 63 : (uint64_t)(ratio * 9223372036854775808.0);
        return TB_OK;
    }
    *why = "always_on, always_off, traceidratio, parentbased_always_on, "
           "parentbased_always_off or parentbased_traceidratio";
    return TB_EINVAL;
}

/* The OpenTelemetry TraceIdRatioBased rule: the low 63 bits of the trace id
 * against the bound, so every service with the same ratio agrees. */
static bool ratio_says_yes(const struct tb_sampler *s, const uint8_t trace_id[16])
{
    uint64_t low = 0;

    for (int i = 8; i < 16; i++)
        low = low << 8 | trace_id[i];
    return (low >> 1) < s->bound;
}

enum tb_sampling tb_sampler_decide(const struct tb_sampler *s, const uint8_t trace_id[16],
                                   enum tb_sampling parent, bool continues)
{
    bool parent_decided = continues && parent != TB_SAMPLING_DEFER;
    bool yes;

    if (parent_decided && parent == TB_SAMPLING_DENY)
        return TB_SAMPLING_DENY; /* never upgraded */
    switch (s->kind) {
    case TB_SAMPLER_PARENTBASED_ALWAYS_ON:
    case TB_SAMPLER_PARENTBASED_ALWAYS_OFF:
    case TB_SAMPLER_PARENTBASED_TRACEIDRATIO:
        if (parent_decided)
            return parent;
        break;
    default:
        break;
    }
    switch (s->kind) {
    case TB_SAMPLER_ALWAYS_ON:
    case TB_SAMPLER_PARENTBASED_ALWAYS_ON:
        yes = true;
        break;
    case TB_SAMPLER_ALWAYS_OFF:
    case TB_SAMPLER_PARENTBASED_ALWAYS_OFF:
        yes = false;
        break;
    default:
        yes = ratio_says_yes(s, trace_id);
        break;
    }
    if (!yes)
        return TB_SAMPLING_DENY;
    return parent_decided && parent == TB_SAMPLING_DEBUG ? TB_SAMPLING_DEBUG : TB_SAMPLING_ACCEPT;
}
