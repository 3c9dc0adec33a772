/* SPDX-License-Identifier: MIT
 * The degradation monitor thread of monitor.h.
 */
#include "proxy/metrics.h"
#include "proxy/monitor.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "common/tb.h"
#include "proxy/config.h"
#include "proxy/log.h"
#include "proxy/worker.h"
#include "spans/degrade.h"
#include "spans/exporter.h"

struct tb_monitor {
    const struct tb_config *cfg;
    struct tb_degrade *degrade;
    bool enabled;

    /* monitor thread only, once started */
    const struct tb_pipeline *pipeline;
    struct tb_metrics *metrics;
    const struct tb_worker *workers;
    unsigned num_workers;
    struct tb_worker_lag *prev; /* each worker's counters at the last evaluation */
    double capacity;            /* span slots of every queue together */

    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards `stopping`; the condition wakes the thread early */
    pthread_cond_t wake;
    bool stopping;
};

struct tb_monitor *tb_monitor_new(const struct tb_config *cfg)
{
    struct tb_monitor *m = tb_xcalloc(1, sizeof(*m));
    struct tb_degrade_config dcfg = {
        .enabled = cfg->degrade_enabled && cfg->export.enabled != 0,
        .queue_high = cfg->degrade_queue_high / 100.0,
        .lag_ms = cfg->degrade_lag_ms,
        .recover_ms = cfg->degrade_recover_ms,
    };

    m->cfg = cfg;
    m->enabled = dcfg.enabled;
    m->degrade = tb_degrade_new(&dcfg, tb_worker_now_ms());
    return m;
}

const struct tb_degrade *tb_monitor_degrade(const struct tb_monitor *m)
{
    return m->degrade;
}

uint64_t tb_monitor_loop_lag(const struct tb_worker_lag *prev, const struct tb_worker_lag *cur,
                             uint64_t now_ms)
{
    uint64_t mean = 0, overdue = 0;

    if (cur->last_ms == 0)
        return 0;
    /* The mean over the period, not the worst tick: one slow callback is not
     * an overload, a loop late on every tick is. */
    if (cur->ticks > prev->ticks && cur->total_ms >= prev->total_ms)
        mean = (cur->total_ms - prev->total_ms) / (cur->ticks - prev->ticks);
    if (now_ms > cur->last_ms + TB_WORKER_LAG_TICK_MS)
        overdue = now_ms - cur->last_ms - TB_WORKER_LAG_TICK_MS;
    return mean > overdue ? mean : overdue;
}

static void monitor_evaluate(struct tb_monitor *m)
{
    struct tb_degrade_sample sample = {0};
    struct tb_degrade_change change;
    uint64_t now = tb_worker_now_ms();

    if (m->pipeline != NULL) {
        struct tb_pipeline_stats st;

        tb_pipeline_stats(m->pipeline, &st);
        sample.queue_fill = (double)st.queue_depth / m->capacity;
        if (sample.queue_fill > 1.0)
            sample.queue_fill = 1.0;
    }
    for (unsigned i = 0; i < m->num_workers; i++) {
        struct tb_worker_lag cur;
        uint64_t lag;

        tb_worker_lag(&m->workers[i], &cur);
        lag = tb_monitor_loop_lag(&m->prev[i], &cur, now);
        m->prev[i] = cur;
        if (lag > sample.lag_ms)
            sample.lag_ms = lag;
    }
    if (tb_degrade_eval(m->degrade, now, &sample, &change)) {
        char fields[160];

        tb_log(change.to > change.from ? TB_LOG_WARN : TB_LOG_INFO, "degradation", "%s",
               tb_degrade_describe(&change, fields, sizeof(fields)));
        tb_metrics_set_degradation(m->metrics, change.to);
    }
}

static void timespec_add_period(struct timespec *t)
{
    t->tv_nsec += TB_MONITOR_PERIOD_MS * 1000000L;
    t->tv_sec += t->tv_nsec / 1000000000L;
    t->tv_nsec %= 1000000000L;
}

/* The next evaluation: one period after the last one, keeping a steady
 * rhythm, but never in the past — after a stall (a suspended process) the
 * monitor does not evaluate in a burst to catch up. */
static void monitor_next_due(struct timespec *due)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    timespec_add_period(due);
    if (due->tv_sec < now.tv_sec || (due->tv_sec == now.tv_sec && due->tv_nsec < now.tv_nsec)) {
        *due = now;
        timespec_add_period(due);
    }
}

static void *monitor_main(void *arg)
{
    struct tb_monitor *m = arg;
    struct timespec due;

    clock_gettime(CLOCK_MONOTONIC, &due);
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        monitor_next_due(&due);
        while (!m->stopping && pthread_cond_timedwait(&m->wake, &m->lock, &due) != ETIMEDOUT)
            ;
        if (m->stopping)
            break;
        pthread_mutex_unlock(&m->lock);
        monitor_evaluate(m);
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

int tb_monitor_start(struct tb_monitor *m, const struct tb_pipeline *pipeline,
                     const struct tb_worker *workers, unsigned num_workers,
                     struct tb_metrics *metrics)
{
    pthread_condattr_t attr;
    size_t slots;
    int err;

    TB_ASSERT(!m->started);
    if (!m->enabled)
        return TB_OK;
    m->pipeline = pipeline;
    m->metrics = metrics;
    m->workers = workers;
    m->num_workers = num_workers;
    m->prev = tb_xcalloc(num_workers > 0 ? num_workers : 1, sizeof(*m->prev));
    slots = m->cfg->export.max_queue > 0 ? m->cfg->export.max_queue : 1;
    m->capacity = (double)slots * (m->cfg->workers > 0 ? m->cfg->workers : 1);
    m->cfg = NULL; /* the startup configuration may go with a reload */
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_init(&attr);
    /* The schedule must not jump with the wall clock. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&m->wake, &attr);
    pthread_condattr_destroy(&attr);
    err = pthread_create(&m->thread, NULL, monitor_main, m);
    if (err != 0) {
        tb_log(TB_LOG_ERROR, "degradation_start", " error=\"%s\"", strerror(err));
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->lock);
        return TB_EIO;
    }
    m->started = true;
    return TB_OK;
}

void tb_monitor_free(struct tb_monitor *m)
{
    struct tb_degrade_stats st;
    uint64_t shed = 0, reduced = 0;

    if (m == NULL)
        return;
    if (m->started) {
        pthread_mutex_lock(&m->lock);
        m->stopping = true;
        pthread_cond_signal(&m->wake);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->lock);
        tb_degrade_stats(m->degrade, &st);
        for (unsigned i = 0; i < m->num_workers; i++) {
            shed += tb_counter_get(&m->workers[i].hop_counters.spans_shed);
            reduced += tb_counter_get(&m->workers[i].hop_counters.spans_reduced);
        }
        tb_log(TB_LOG_INFO, "degradation_stats",
               " current=%u to_0=%llu to_1=%llu to_2=%llu to_3=%llu spans_shed=%llu "
               "spans_reduced=%llu",
               st.level, (unsigned long long)st.transitions[0],
               (unsigned long long)st.transitions[1], (unsigned long long)st.transitions[2],
               (unsigned long long)st.transitions[3], (unsigned long long)shed,
               (unsigned long long)reduced);
    }
    tb_free(m->prev);
    tb_degrade_free(m->degrade);
    tb_free(m);
}
