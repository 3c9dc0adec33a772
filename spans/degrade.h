/* SPDX-License-Identifier: MIT
 * Dynamic degradation: when span export falls behind (the export queues
 * fill up) or the workers' event loops run late, tracing sheds its own work
 * in steps so that proxying keeps its speed; propagation never stops. This
 * is the controller alone: pure logic fed with samples and the time they
 * were taken, so tests drive it with a fake clock. It measures nothing, runs
 * no thread and writes no log; proxy/monitor.h samples and logs, the hop
 * reads the level once per request, and a metrics reader takes the stats.
 * See docs/spans.md, "Degradation".
 */
#ifndef TB_SPANS_DEGRADE_H
#define TB_SPANS_DEGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "propagators/context.h"
#include "spans/sampler.h"

/* Each level keeps what the one below it cuts. */
enum tb_degrade_level {
    TB_DEGRADE_NORMAL = 0,   /* spans as configured */
    TB_DEGRADE_THIN = 1,     /* 1 in 10 of the sampled traces gets this hop's span */
    TB_DEGRADE_REDUCED = 2,  /* and the spans made carry only the essential attributes */
    TB_DEGRADE_NO_SPANS = 3, /* no spans at all */
};
#define TB_DEGRADE_NUM_LEVELS 4

enum tb_degrade_reason {
    TB_DEGRADE_REASON_EXPORT_QUEUE = 0, /* queue fill at or above the high mark */
    TB_DEGRADE_REASON_LOOP_LAG = 1,     /* event-loop lag at or above the limit */
    TB_DEGRADE_REASON_RECOVERED = 2,    /* calm for the recovery time */
};

struct tb_degrade_config {
    bool enabled;        /* false: the level stays 0 whatever the samples say */
    double queue_high;   /* fill in (0, 1] that triggers; 0 turns the queue trigger off */
    uint64_t lag_ms;     /* event-loop lag that triggers; 0 turns the lag trigger off */
    uint64_t recover_ms; /* continuous calm before stepping down one level */
};

/* What the controller sees at one evaluation. */
struct tb_degrade_sample {
    double queue_fill; /* spans waiting / queue capacity, all workers together, in [0, 1] */
    uint64_t lag_ms;   /* the worst worker's event-loop lag */
};

/* One change of level, for the log line. */
struct tb_degrade_change {
    unsigned from, to;
    enum tb_degrade_reason reason;
    struct tb_degrade_sample sample; /* the evaluation that made the change */
    uint64_t calm_ms;                /* RECOVERED: how long it had been calm */
};

/* A snapshot for metrics. Times are on the clock the evaluator passes in
 * (proxy/monitor.h: CLOCK_MONOTONIC milliseconds, tb_worker_now_ms). */
struct tb_degrade_stats {
    unsigned level;
    uint64_t transitions[TB_DEGRADE_NUM_LEVELS]; /* changes into each level; [0]: back to normal */
    uint64_t entered_ms[TB_DEGRADE_NUM_LEVELS];  /* last change into each level, 0 never;
                                                    [0] starts at tb_degrade_new's time */
};

struct tb_degrade;

/**
 * Creates a controller at level 0 with `cfg` (copied), `now_ms` being the
 * current time on the evaluator's clock. Allocates (control path: out of
 * memory is fatal); free with tb_degrade_free.
 */
struct tb_degrade *tb_degrade_new(const struct tb_degrade_config *cfg, uint64_t now_ms);

/** Frees `d`; `d` may be NULL. No thread may still read it. */
void tb_degrade_free(struct tb_degrade *d);

/**
 * One evaluation of `sample` taken at `now_ms` (never earlier than the last
 * one). A trigger — queue fill at or above queue_high, or lag at or above
 * lag_ms — raises the level by one, up to 3. Calm — fill below half of
 * queue_high and lag below half of lag_ms — that has lasted recover_ms since
 * the first calm evaluation lowers it by one, and the calm time starts over.
 * In between, the level holds and the calm time is reset. Returns true and
 * fills `*change` when the level changed (`change` is untouched otherwise).
 * Only one thread may evaluate; never blocks, never allocates.
 */
bool tb_degrade_eval(struct tb_degrade *d, uint64_t now_ms, const struct tb_degrade_sample *sample,
                     struct tb_degrade_change *change);

/**
 * The current level (enum tb_degrade_level), from any thread: one relaxed
 * atomic load, cheap enough for every request. `d` may be NULL: level 0.
 */
unsigned tb_degrade_level(const struct tb_degrade *d);

/** Fills `out` from any thread (relaxed loads: each field is exact, the set nearly so). */
void tb_degrade_stats(const struct tb_degrade *d, struct tb_degrade_stats *out);

/** "export_queue", "loop_lag" or "recovered". */
const char *tb_degrade_reason_name(enum tb_degrade_reason reason);

/**
 * Writes the logfmt fields describing `c` into `buf` (`size` bytes, always
 * NUL-terminated, cut when too small) and returns `buf`:
 * " from=1 to=2 reason=export_queue fill=0.93 lag_ms=4", and for a step
 * down " from=2 to=1 reason=recovered calm_ms=5000 fill=0.10 lag_ms=1".
 */
const char *tb_degrade_describe(const struct tb_degrade_change *c, char *buf, size_t size);

/**
 * Level 1's thinning, for a hop whose trace is sampled with `decision`: true
 * when this hop still records its span. Keeps 1 in 10 of what `sampler`
 * keeps, chosen from the trace id by the sampler's own ratio rule at a tenth
 * of its ratio (of 1 for samplers without a ratio), so every hop with the
 * same sampler keeps the same traces and those traces stay whole. A DEBUG
 * decision is always kept. Pure.
 */
bool tb_degrade_thin_keeps(const struct tb_sampler *sampler, const uint8_t trace_id[16],
                           enum tb_sampling decision);

#endif
