/* SPDX-License-Identifier: MIT
 * The degradation controller of degrade.h. One thread evaluates and is the
 * only writer of the atomics; the workers and a metrics reader only load
 * them, so no lock is needed anywhere.
 */
#include "spans/degrade.h"

#include <stdatomic.h>
#include <stdio.h>

#include "common/tb.h"

struct tb_degrade {
    struct tb_degrade_config cfg;
    /* evaluator only */
    bool calm;           /* the last evaluation was calm */
    uint64_t calm_since; /* when the current calm began */
    /* written by the evaluator, read anywhere */
    _Atomic unsigned level;
    _Atomic uint64_t transitions[TB_DEGRADE_NUM_LEVELS];
    _Atomic uint64_t entered_ms[TB_DEGRADE_NUM_LEVELS];
};

struct tb_degrade *tb_degrade_new(const struct tb_degrade_config *cfg, uint64_t now_ms)
{
    struct tb_degrade *d = tb_xcalloc(1, sizeof(*d));

    d->cfg = *cfg;
    atomic_init(&d->level, TB_DEGRADE_NORMAL);
    for (unsigned i = 0; i < TB_DEGRADE_NUM_LEVELS; i++) {
        atomic_init(&d->transitions[i], 0);
        atomic_init(&d->entered_ms[i], 0);
    }
    atomic_store_explicit(&d->entered_ms[TB_DEGRADE_NORMAL], now_ms, memory_order_relaxed);
    return d;
}

void tb_degrade_free(struct tb_degrade *d)
{
    tb_free(d);
}

/* Single writer: a load and a store cost less than a locked increment. */
static void bump(_Atomic uint64_t *counter)
{
    uint64_t n = atomic_load_explicit(counter, memory_order_relaxed);

    atomic_store_explicit(counter, n + 1, memory_order_relaxed);
}

static void set_level(struct tb_degrade *d, unsigned to, uint64_t now_ms)
{
    atomic_store_explicit(&d->level, to, memory_order_relaxed);
    bump(&d->transitions[to]);
    atomic_store_explicit(&d->entered_ms[to], now_ms, memory_order_relaxed);
}

bool tb_degrade_eval(struct tb_degrade *d, uint64_t now_ms, const struct tb_degrade_sample *sample,
                     struct tb_degrade_change *change)
{
    const struct tb_degrade_config *cfg = &d->cfg;
    unsigned level = atomic_load_explicit(&d->level, memory_order_relaxed);
    bool queue_high, lag_high, calm;
    bool queue_on = cfg->queue_high > 0, lag_on = cfg->lag_ms > 0;

    if (!cfg->enabled)
        return false;
    queue_high = queue_on && sample->queue_fill >= cfg->queue_high;
    lag_high = lag_on && sample->lag_ms >= cfg->lag_ms;
    /* Hysteresis: calm needs both measures well under their marks, so a
     * value hovering at a mark cannot make the level flap. */
    calm = (!queue_on || sample->queue_fill < cfg->queue_high / 2) &&
           (!lag_on || sample->lag_ms * 2 < cfg->lag_ms);
    if (queue_high || lag_high) {
        d->calm = false;
        if (level >= TB_DEGRADE_NO_SPANS)
            return false;
        set_level(d, level + 1, now_ms);
        *change = (struct tb_degrade_change){
            .from = level,
            .to = level + 1,
            /* The queue names the cause when both hold: it is the one spans fill. */
            .reason = queue_high ? TB_DEGRADE_REASON_EXPORT_QUEUE : TB_DEGRADE_REASON_LOOP_LAG,
            .sample = *sample,
        };
        return true;
    }
    if (!calm) {
        d->calm = false;
        return false;
    }
    if (!d->calm) {
        d->calm = true;
        d->calm_since = now_ms;
    }
    if (level == TB_DEGRADE_NORMAL || now_ms - d->calm_since < cfg->recover_ms)
        return false;
    set_level(d, level - 1, now_ms);
    *change = (struct tb_degrade_change){
        .from = level,
        .to = level - 1,
        .reason = TB_DEGRADE_REASON_RECOVERED,
        .sample = *sample,
        .calm_ms = now_ms - d->calm_since,
    };
    /* Each further step down needs its own full calm period. */
    d->calm_since = now_ms;
    return true;
}

unsigned tb_degrade_level(const struct tb_degrade *d)
{
    if (d == NULL)
        return TB_DEGRADE_NORMAL;
    return atomic_load_explicit(&d->level, memory_order_relaxed);
}

void tb_degrade_stats(const struct tb_degrade *d, struct tb_degrade_stats *out)
{
    out->level = atomic_load_explicit(&d->level, memory_order_relaxed);
    for (unsigned i = 0; i < TB_DEGRADE_NUM_LEVELS; i++) {
        out->transitions[i] = atomic_load_explicit(&d->transitions[i], memory_order_relaxed);
        out->entered_ms[i] = atomic_load_explicit(&d->entered_ms[i], memory_order_relaxed);
    }
}

const char *tb_degrade_reason_name(enum tb_degrade_reason reason)
{
    switch (reason) {
    case TB_DEGRADE_REASON_EXPORT_QUEUE:
        return "export_queue";
    case TB_DEGRADE_REASON_LOOP_LAG:
        return "loop_lag";
    case TB_DEGRADE_REASON_RECOVERED:
        return "recovered";
    }
    tb_bug("bad degradation reason");
}

const char *tb_degrade_describe(const struct tb_degrade_change *c, char *buf, size_t size)
{
    int n;

    if (c->reason == TB_DEGRADE_REASON_RECOVERED)
        n = snprintf(buf, size, " from=%u to=%u reason=%s calm_ms=%llu fill=%.2f lag_ms=%llu",
                     c->from, c->to, tb_degrade_reason_name(c->reason),
                     (unsigned long long)c->calm_ms, c->sample.queue_fill,
                     (unsigned long long)c->sample.lag_ms);
    else
        n = snprintf(buf, size, " from=%u to=%u reason=%s fill=%.2f lag_ms=%llu", c->from, c->to,
                     tb_degrade_reason_name(c->reason), c->sample.queue_fill,
                     (unsigned long long)c->sample.lag_ms);
    if (n < 0 && size > 0)
        buf[0] = '\0';
    return buf;
}

/* 1 in THIN_DIVISOR of the sampled traces keeps its span at level 1. */
#define THIN_DIVISOR 10

bool tb_degrade_thin_keeps(const struct tb_sampler *sampler, const uint8_t trace_id[16],
                           enum tb_sampling decision)
{
    uint64_t bound = UINT64_C(1) << 63, low = 0;

    if (decision == TB_SAMPLING_DEBUG)
        return true; /* someone asked for this trace on purpose */
    if (sampler->kind == TB_SAMPLER_TRACEIDRATIO ||
        sampler->kind == TB_SAMPLER_PARENTBASED_TRACEIDRATIO)
        bound = sampler->bound;
    /* The sampler's TraceIdRatioBased rule (spans/sampler.c): the low 63
     * bits of the trace id against ratio * 2^63, here with a tenth of the
     * bound. What it keeps is a subset of what the sampler keeps. */
    for (int i = 8; i < 16; i++)
        low = low << 8 | trace_id[i];
    return (low >> 1) < bound / THIN_DIVISOR;
}
