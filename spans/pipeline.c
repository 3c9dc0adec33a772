/* SPDX-License-Identifier: MIT
 * The export pipeline of exporter.h. Workers fill their own SPSC ring
 * (spans/queue.h); one exporter thread with its own event base wakes on a
 * timer, copies up to max_batch spans out of the rings into a staging array
 * (so the slots go back to the workers at once), encodes the batch for each
 * enabled exporter and sends it: HTTP exporters through spans/http_client.h,
 * one request in flight each, with a short bounded queue of encoded batches
 * behind it and retries with jittered exponential backoff; the file exporter
 * writes at once. Nothing on the workers' side makes a system call.
 * See docs/export.md for the behaviour as users see it.
 */
#include "spans/exporter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <zlib.h>

#include "common/list.h"
#include "common/rand.h"
#include "common/tb.h"
#include "spans/buf.h"
#include "spans/encode.h"
#include "spans/http_client.h"
#include "spans/queue.h"

/* Encoded batches that may wait behind the request in flight, per exporter:
 * when a receiver hangs, older batches are dropped (and counted as failed)
 * rather than letting memory grow. Lifted during the shutdown flush, which is
 * bounded by the queues' capacity anyway. */
#define PIPELINE_MAX_PENDING 4
/* The exporter thread checks the queues at least this often. */
/* A worker's ring (2048 spans by default) fills in about 50 ms at 40,000
 * requests/s: the exporter looks at least this often. */
#define PIPELINE_MAX_TICK_MS 20

#define PIPELINE_DEFAULT_QUEUE 2048
#define PIPELINE_DEFAULT_BATCH 512
#define PIPELINE_DEFAULT_TIMEOUT_MS 10000

/* One worker's ring, and the drops only that worker counts. */
struct pl_worker {
    struct tb_queue *queue;
    _Atomic uint64_t dropped_full; /* written by the worker only */
    char pad[64];                  /* keeps workers' counters off each other's cache lines */
};

/* One encoded request body for one exporter. */
struct pl_batch {
    struct tb_list link; /* in pl_exporter.pending */
    struct tb_buf body;
    size_t num_spans;
};

struct pl_stats {
    _Atomic uint64_t exported, failed, requests, retries, errors;
};

struct pl_exporter {
    struct tb_pipeline *p;
    enum tb_exporter_kind kind;
    bool enabled;
    const char *name;

    /* HTTP exporters */
    struct tb_http_client *http;
    const char *content_type;
    const char *content_encoding; /* "gzip" or NULL */
    struct tb_list pending;       /* waiting batches: newest at next, oldest at prev */
    size_t num_pending;
    struct pl_batch *current; /* in flight, or waiting on `timer` for its retry */
    unsigned attempts;        /* requests made for `current` so far */
    struct event *timer;      /* sends `current` (a retry) or the oldest pending batch */

    /* file exporter */
    FILE *file;
    bool file_owned; /* false for stdout */

    struct pl_stats stats;
};

struct tb_pipeline {
    struct tb_export_config cfg; /* copy, with defaults filled in */
    struct tb_resource res;      /* deep copy: owns attrs and strings */

    unsigned num_workers;
    struct pl_worker *workers;

    struct event_base *base;
    struct event *tick;     /* the batching timer */
    struct event *wake;     /* reads wake_fds[0]: tb_pipeline_stop's signal */
    struct event *deadline; /* ends the shutdown flush */
    int wake_fds[2];
    pthread_t thread;
    bool thread_started;

    /* exporter thread only */
    struct tb_span *staging;             /* max_batch records, allocated once */
    const struct tb_span **staging_ptrs; /* points into `staging`, for the encoders */
    unsigned next_worker;                /* round-robin start of the next gather */
    uint64_t last_export_ms;
    bool stopping;
    struct tb_rng rng; /* retry jitter */
    struct tb_buf scratch;

    _Atomic uint64_t stop_deadline_ms; /* monotonic; set by tb_pipeline_stop before waking */

    struct pl_exporter exporters[TB_EXPORTER_NUM];
};

static const char *const pl_exporter_names[TB_EXPORTER_NUM] = {
    [TB_EXPORTER_OTLP] = "otlp",
    [TB_EXPORTER_ZIPKIN] = "zipkin",
    [TB_EXPORTER_SKYWALKING] = "skywalking",
    [TB_EXPORTER_FILE] = "file",
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timeval ms_to_tv(uint64_t ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
    return tv;
}

static void stat_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static char *pl_strdup(const char *s)
{
    size_t len;
    char *copy;

    if (s == NULL)
        return NULL;
    len = strlen(s);
    copy = tb_xmalloc(len + 1);
    memcpy(copy, s, len + 1);
    return copy;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */

static int pl_encode(struct tb_pipeline *p, enum tb_exporter_kind kind, size_t num,
                     struct tb_buf *out)
{
    const struct tb_span *const *spans = p->staging_ptrs;

    switch (kind) {
    case TB_EXPORTER_OTLP:
        return p->cfg.otlp_json ? tb_encode_otlp_json(&p->res, spans, num, out)
                                : tb_encode_otlp_proto(&p->res, spans, num, out);
    case TB_EXPORTER_ZIPKIN:
        return tb_encode_zipkin(&p->res, spans, num, out);
    case TB_EXPORTER_SKYWALKING:
        return tb_encode_skywalking(&p->res, spans, num, out);
    case TB_EXPORTER_FILE:
        return tb_encode_file_json(&p->res, spans, num, out);
    case TB_EXPORTER_NUM:
        break;
    }
    tb_bug("bad exporter kind");
}

/* Appends `in` gzip-compressed (RFC 1952 wrapper, as Content-Encoding: gzip
 * means) to `out`. */
static int pl_gzip(const char *in, size_t in_len, struct tb_buf *out)
{
    z_stream zs;
    uLong bound;
    int rc;

    if (in_len > UINT_MAX)
        return TB_ENOSPC;
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16 selects the gzip wrapper instead of zlib's. */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return TB_EIO;
    bound = deflateBound(&zs, (uLong)in_len);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = (Bytef *)tb_buf_reserve(out, bound);
    zs.avail_out = (uInt)bound;
    rc = deflate(&zs, Z_FINISH);
    if (rc == Z_STREAM_END)
        out->len += zs.total_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? TB_OK : TB_EIO;
}

/* ------------------------------------------------------------------------ */
/* HTTP exporters: one request in flight, a few batches waiting, retries     */

static void exporter_on_result(const struct tb_http_result *result, void *arg);
static void pipeline_on_tick(evutil_socket_t fd, short what, void *arg);

static void batch_free(struct pl_batch *b)
{
    tb_buf_free(&b->body);
    tb_free(b);
}

static bool pipeline_is_idle(const struct tb_pipeline *p)
{
    for (size_t k = 0; k < TB_EXPORTER_NUM; k++)
        if (p->exporters[k].current != NULL || p->exporters[k].num_pending > 0)
            return false;
    return true;
}

/* During shutdown, ends the loop as soon as every exporter is done. */
static void pipeline_check_done(struct tb_pipeline *p)
{
    if (p->stopping && pipeline_is_idle(p))
        event_base_loopbreak(p->base);
}

/* Gives up on `b`: its spans count as failed. */
static void exporter_fail_batch(struct pl_exporter *ex, struct pl_batch *b)
{
    stat_add(&ex->stats.failed, b->num_spans);
    batch_free(b);
}

/* Schedules the send of the next batch, if any, from the event loop. */
static void exporter_kick(struct pl_exporter *ex, uint64_t delay_ms)
{
    struct timeval tv = ms_to_tv(delay_ms);

    evtimer_add(ex->timer, &tv);
}

static void exporter_send_current(struct pl_exporter *ex)
{
    const struct tb_export_config *cfg = &ex->p->cfg;
    bool is_otlp = ex->kind == TB_EXPORTER_OTLP;
    struct tb_http_result refused = {.status = 0, .retry_after_ms = -1};
    int rc;

    ex->attempts++;
    stat_add(&ex->stats.requests, 1);
    if (ex->attempts > 1)
        stat_add(&ex->stats.retries, 1);
    rc =
        tb_http_client_post(ex->http, ex->content_type, ex->content_encoding,
                            is_otlp ? cfg->otlp_headers : NULL, is_otlp ? cfg->num_otlp_headers : 0,
                            ex->current->body.data, ex->current->body.len, exporter_on_result, ex);
    /* libevent refused the request outright: handle it as a connection error. */
    if (rc != TB_OK)
        exporter_on_result(&refused, ex);
}

static void exporter_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pl_exporter *ex = arg;

    (void)fd;
    (void)what;
    if (tb_http_client_is_busy(ex->http))
        return;
    if (ex->current == NULL) {
        if (ex->num_pending == 0)
            return;
        ex->current = TB_CONTAINER_OF(ex->pending.prev, struct pl_batch, link);
        tb_list_unlink(&ex->current->link);
        ex->num_pending--;
        ex->attempts = 0;
    }
    exporter_send_current(ex);
}

/* Wait before retry number `attempt` (1 = the first retry): full jitter over
 * an exponential backoff, initial * 2^(attempt-1) capped at retry_max_ms. */
static uint64_t exporter_backoff_ms(struct pl_exporter *ex, unsigned attempt)
{
    const struct tb_export_config *cfg = &ex->p->cfg;
    uint64_t backoff = cfg->retry_initial_ms;

    for (unsigned i = 1; i < attempt && backoff < cfg->retry_max_ms; i++)
        backoff *= 2;
    if (backoff > cfg->retry_max_ms)
        backoff = cfg->retry_max_ms;
    return backoff == 0 ? 0 : tb_rng_next(&ex->p->rng) % (backoff + 1);
}

/* OTLP/HTTP's retryable responses ("Retryable Response Codes" in the
 * OTLP specification), plus no response at all. */
static bool status_is_retryable(int status)
{
    return status == 0 || status == 429 || status == 502 || status == 503 || status == 504;
}

static void exporter_on_result(const struct tb_http_result *result, void *arg)
{
    struct pl_exporter *ex = arg;
    struct pl_batch *b = ex->current;
    unsigned max_retries = ex->p->cfg.max_retries;

    TB_ASSERT(b != NULL);
    if (result->status >= 200 && result->status < 300) {
        /* Delivered: the batch is freed here, so it can never go out twice. */
        stat_add(&ex->stats.exported, b->num_spans);
        batch_free(b);
        ex->current = NULL;
        /* The receiver keeps up: take what has piled up since the last tick
         * now, rather than letting the rings fill until the next one. */
        if (!ex->p->stopping && ex->num_pending == 0)
            pipeline_on_tick(-1, 0, ex->p);
    } else {
        stat_add(&ex->stats.errors, 1);
        if (status_is_retryable(result->status) && ex->attempts - 1 < max_retries) {
            uint64_t wait = exporter_backoff_ms(ex, ex->attempts);

            if (result->retry_after_ms >= 0 && wait < (uint64_t)result->retry_after_ms)
                wait = (uint64_t)result->retry_after_ms;
            exporter_kick(ex, wait);
            return;
        }
        exporter_fail_batch(ex, b);
        ex->current = NULL;
    }
    if (ex->num_pending > 0)
        exporter_kick(ex, 0);
    else
        pipeline_check_done(ex->p);
}

/* Queues an encoded batch behind the request in flight. */
static void exporter_push(struct pl_exporter *ex, struct pl_batch *b)
{
    tb_list_insert_head(&ex->pending, &b->link);
    ex->num_pending++;
    if (!ex->p->stopping && ex->num_pending > PIPELINE_MAX_PENDING) {
        struct pl_batch *oldest = TB_CONTAINER_OF(ex->pending.prev, struct pl_batch, link);

        tb_list_unlink(&oldest->link);
        ex->num_pending--;
        exporter_fail_batch(ex, oldest);
    }
    if (ex->current == NULL)
        exporter_kick(ex, 0);
}

/* Gives up on everything the exporter still holds (the shutdown deadline). */
static void exporter_abandon(struct pl_exporter *ex)
{
    if (ex->http != NULL)
        tb_http_client_cancel(ex->http);
    if (ex->timer != NULL)
        evtimer_del(ex->timer);
    if (ex->current != NULL) {
        exporter_fail_batch(ex, ex->current);
        ex->current = NULL;
    }
    while (ex->num_pending > 0) {
        struct pl_batch *b = TB_CONTAINER_OF(ex->pending.prev, struct pl_batch, link);

        tb_list_unlink(&b->link);
        ex->num_pending--;
        exporter_fail_batch(ex, b);
    }
}

/* ------------------------------------------------------------------------ */
/* Batching                                                                 */

/* Copies up to max_batch spans out of the rings into the staging array,
 * taking from the workers in turn so none starves the others. */
static size_t pipeline_gather(struct tb_pipeline *p)
{
    size_t n = 0;

    for (unsigned i = 0; i < p->num_workers && n < p->cfg.max_batch; i++) {
        struct tb_queue *q = p->workers[(p->next_worker + i) % p->num_workers].queue;
        const struct tb_span *s;

        while (n < p->cfg.max_batch && (s = tb_queue_peek(q)) != NULL) {
            memcpy(&p->staging[n++], s, sizeof(*s));
            tb_queue_release(q);
        }
    }
    if (p->num_workers > 0)
        p->next_worker = (p->next_worker + 1) % p->num_workers;
    return n;
}

static void pipeline_write_file(struct tb_pipeline *p, struct pl_exporter *ex, size_t num)
{
    p->scratch.len = 0;
    stat_add(&ex->stats.requests, 1);
    if (pl_encode(p, ex->kind, num, &p->scratch) != TB_OK ||
        fwrite(p->scratch.data, 1, p->scratch.len, ex->file) != p->scratch.len ||
        fflush(ex->file) != 0) {
        clearerr(ex->file);
        stat_add(&ex->stats.errors, 1);
        stat_add(&ex->stats.failed, num);
        return;
    }
    stat_add(&ex->stats.exported, num);
}

static void pipeline_export_one(struct tb_pipeline *p, struct pl_exporter *ex, size_t num)
{
    struct pl_batch *b;
    int rc;

    if (ex->kind == TB_EXPORTER_FILE) {
        pipeline_write_file(p, ex, num);
        return;
    }
    b = tb_xcalloc(1, sizeof(*b));
    b->num_spans = num;
    tb_list_init(&b->link);
    if (ex->content_encoding != NULL) {
        p->scratch.len = 0;
        rc = pl_encode(p, ex->kind, num, &p->scratch);
        if (rc == TB_OK)
            rc = pl_gzip(p->scratch.data, p->scratch.len, &b->body);
    } else {
        rc = pl_encode(p, ex->kind, num, &b->body);
    }
    if (rc != TB_OK) {
        stat_add(&ex->stats.errors, 1);
        exporter_fail_batch(ex, b);
        return;
    }
    exporter_push(ex, b);
}

/* Takes one batch out of the rings and hands it to every exporter. Returns
 * how many spans it took. */
static size_t pipeline_export_batch(struct tb_pipeline *p)
{
    size_t num = pipeline_gather(p);

    if (num == 0)
        return 0;
    for (size_t k = 0; k < TB_EXPORTER_NUM; k++)
        if (p->exporters[k].enabled)
            pipeline_export_one(p, &p->exporters[k], num);
    p->last_export_ms = now_ms();
    return num;
}

static size_t pipeline_depth(const struct tb_pipeline *p)
{
    size_t depth = 0;

    for (unsigned i = 0; i < p->num_workers; i++)
        depth += tb_queue_depth(p->workers[i].queue);
    return depth;
}

/* True when some exporter can take a batch without dropping an older one.
 * When none can (every receiver busy or hanging), spans stay in the rings,
 * where a full ring drops the newest and counts it as dropped_full. */
static bool pipeline_has_room(const struct tb_pipeline *p)
{
    for (size_t k = 0; k < TB_EXPORTER_NUM; k++) {
        const struct pl_exporter *ex = &p->exporters[k];

        if (ex->enabled && (ex->kind == TB_EXPORTER_FILE || ex->num_pending < PIPELINE_MAX_PENDING))
            return true;
    }
    return false;
}

static void pipeline_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct tb_pipeline *p = arg;
    /* Only what is there now: workers committing as fast as we export must
     * not keep this callback from returning to the loop. */
    size_t budget = pipeline_depth(p);

    (void)fd;
    (void)what;
    while (budget > 0) {
        size_t depth = pipeline_depth(p), taken;

        if (depth == 0 || !pipeline_has_room(p))
            break;
        if (depth < p->cfg.max_batch && now_ms() - p->last_export_ms < p->cfg.schedule_delay_ms)
            break;
        taken = pipeline_export_batch(p);
        budget = taken < budget ? budget - taken : 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Shutdown                                                                 */

static void pipeline_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct tb_pipeline *p = arg;

    (void)fd;
    (void)what;
    for (size_t k = 0; k < TB_EXPORTER_NUM; k++)
        exporter_abandon(&p->exporters[k]);
    event_base_loopbreak(p->base);
}

/* tb_pipeline_stop's signal: flush everything, then wait for the exporters
 * until the deadline. */
static void pipeline_on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct tb_pipeline *p = arg;
    uint64_t deadline = atomic_load_explicit(&p->stop_deadline_ms, memory_order_acquire);
    uint64_t now = now_ms();
    struct timeval tv;
    size_t budget;
    char byte;

    (void)what;
    if (read(fd, &byte, 1) != 1 || p->stopping)
        return;
    p->stopping = true;
    evtimer_del(p->tick);
    /* Everything queued now; a worker that still commits (it should have
     * stopped) cannot keep the flush going. */
    budget = pipeline_depth(p);
    while (budget > 0) {
        size_t taken = pipeline_export_batch(p);

        if (taken == 0)
            break;
        budget = taken < budget ? budget - taken : 0;
    }
    if (pipeline_is_idle(p)) {
        event_base_loopbreak(p->base);
        return;
    }
    tv = ms_to_tv(deadline > now ? deadline - now : 0);
    evtimer_add(p->deadline, &tv);
}

static void *pipeline_thread(void *arg)
{
    struct tb_pipeline *p = arg;

    event_base_dispatch(p->base);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                           */

static void pipeline_free(struct tb_pipeline *p)
{
    for (size_t k = 0; k < TB_EXPORTER_NUM; k++) {
        struct pl_exporter *ex = &p->exporters[k];

        if (ex->pending.next != NULL)
            exporter_abandon(ex);
        if (ex->timer != NULL)
            event_free(ex->timer);
        if (ex->file != NULL && ex->file_owned)
            fclose(ex->file);
    }
    if (p->tick != NULL)
        event_free(p->tick);
    if (p->wake != NULL)
        event_free(p->wake);
    if (p->deadline != NULL)
        event_free(p->deadline);
    for (size_t k = 0; k < TB_EXPORTER_NUM; k++)
        tb_http_client_free(p->exporters[k].http);
    if (p->base != NULL) {
        /* libevent finishes freeing a connection from the loop; none of our
         * events is left to run. */
        event_base_loop(p->base, EVLOOP_NONBLOCK);
        event_base_free(p->base);
    }
    for (int i = 0; i < 2; i++)
        if (p->wake_fds[i] >= 0)
            close(p->wake_fds[i]);
    if (p->workers != NULL)
        for (unsigned i = 0; i < p->num_workers; i++)
            tb_queue_free(p->workers[i].queue);
    tb_free(p->workers);
    tb_free(p->staging);
    tb_free(p->staging_ptrs);
    tb_buf_free(&p->scratch);
    for (size_t i = 0; i < p->res.num_attrs; i++) {
        tb_free((char *)p->res.attrs[i].key);
        tb_free((char *)p->res.attrs[i].value);
    }
    tb_free((void *)p->res.attrs);
    tb_free((char *)p->res.service_name);
    tb_free((char *)p->res.service_instance);
    tb_free(p);
}

static void pipeline_copy_resource(struct tb_pipeline *p, const struct tb_resource *res)
{
    struct tb_resource_attr *attrs;

    if (res == NULL)
        return;
    attrs = tb_xcalloc(res->num_attrs, sizeof(*attrs));
    for (size_t i = 0; i < res->num_attrs; i++) {
        attrs[i].key = pl_strdup(res->attrs[i].key);
        attrs[i].value = pl_strdup(res->attrs[i].value);
    }
    p->res.attrs = attrs;
    p->res.num_attrs = res->num_attrs;
    p->res.service_name = pl_strdup(res->service_name);
    p->res.service_instance = pl_strdup(res->service_instance);
}

/* Sets up exporter `kind`; returns TB_OK or TB_EINVAL with a reason in `err`. */
static int pipeline_setup_exporter(struct tb_pipeline *p, enum tb_exporter_kind kind, char *err,
                                   size_t err_size)
{
    struct pl_exporter *ex = &p->exporters[kind];
    const struct tb_export_config *cfg = &p->cfg;
    char reason[700];
    char url[600];

    ex->p = p;
    ex->kind = kind;
    ex->name = pl_exporter_names[kind];
    tb_list_init(&ex->pending);
    ex->enabled = (cfg->enabled & TB_EXPORTER_BIT(kind)) != 0;
    if (!ex->enabled)
        return TB_OK;

    switch (kind) {
    case TB_EXPORTER_FILE:
        if (cfg->file_path[0] == '\0' || strcmp(cfg->file_path, "-") == 0) {
            ex->file = stdout;
            return TB_OK;
        }
        ex->file = fopen(cfg->file_path, "a");
        if (ex->file == NULL) {
            snprintf(err, err_size, "file exporter: cannot open \"%s\": %s", cfg->file_path,
                     strerror(errno));
            return TB_EINVAL;
        }
        ex->file_owned = true;
        return TB_OK;
    case TB_EXPORTER_OTLP:
        snprintf(url, sizeof(url), "%s", cfg->otlp_url);
        ex->content_type = cfg->otlp_json ? "application/json" : "application/x-protobuf";
        ex->content_encoding = cfg->otlp_gzip ? "gzip" : NULL;
        break;
    case TB_EXPORTER_ZIPKIN:
        snprintf(url, sizeof(url), "%s", cfg->zipkin_url);
        ex->content_type = "application/json";
        break;
    case TB_EXPORTER_SKYWALKING: {
        size_t len = strlen(cfg->skywalking_url);

        /* The configured URL is the collector's base: one slash between it
         * and the segments path, whether or not it ends with one. */
        while (len > 0 && cfg->skywalking_url[len - 1] == '/')
            len--;
        snprintf(url, sizeof(url), "%.*s/v3/segments", (int)len, cfg->skywalking_url);
        ex->content_type = "application/json";
        break;
    }
    case TB_EXPORTER_NUM:
        tb_bug("bad exporter kind");
    }
    if ((kind == TB_EXPORTER_OTLP && cfg->otlp_url[0] == '\0') ||
        (kind == TB_EXPORTER_ZIPKIN && cfg->zipkin_url[0] == '\0') ||
        (kind == TB_EXPORTER_SKYWALKING && cfg->skywalking_url[0] == '\0')) {
        snprintf(err, err_size, "%s exporter: no URL configured", ex->name);
        return TB_EINVAL;
    }
    ex->http = tb_http_client_new(p->base, url, cfg->export_timeout_ms, reason, sizeof(reason));
    if (ex->http == NULL) {
        snprintf(err, err_size, "%s exporter: %s", ex->name, reason);
        return TB_EINVAL;
    }
    ex->timer = evtimer_new(p->base, exporter_on_timer, ex);
    if (ex->timer == NULL) {
        snprintf(err, err_size, "%s exporter: cannot create a timer", ex->name);
        return TB_EIO;
    }
    return TB_OK;
}

struct tb_pipeline *tb_pipeline_start(const struct tb_export_config *cfg,
                                      const struct tb_resource *res, unsigned num_workers,
                                      char *err, size_t err_size)
{
    struct tb_pipeline *p = tb_xcalloc(1, sizeof(*p));
    uint64_t tick_ms;
    struct timeval tv;

    p->wake_fds[0] = p->wake_fds[1] = -1;
    p->cfg = *cfg;
    if (p->cfg.max_queue == 0)
        p->cfg.max_queue = PIPELINE_DEFAULT_QUEUE;
    if (p->cfg.max_batch == 0)
        p->cfg.max_batch = PIPELINE_DEFAULT_BATCH;
    if (p->cfg.export_timeout_ms == 0)
        p->cfg.export_timeout_ms = PIPELINE_DEFAULT_TIMEOUT_MS;
    if (p->cfg.retry_max_ms < p->cfg.retry_initial_ms)
        p->cfg.retry_max_ms = p->cfg.retry_initial_ms;
    if (p->cfg.num_otlp_headers > TB_EXPORT_MAX_HEADERS)
        p->cfg.num_otlp_headers = TB_EXPORT_MAX_HEADERS;
    pipeline_copy_resource(p, res);

    p->num_workers = num_workers;
    p->workers = tb_xcalloc(num_workers, sizeof(*p->workers));
    for (unsigned i = 0; i < num_workers; i++) {
        p->workers[i].queue = tb_queue_new(p->cfg.max_queue);
        atomic_init(&p->workers[i].dropped_full, 0);
    }
    p->staging = tb_xcalloc(p->cfg.max_batch, sizeof(*p->staging));
    p->staging_ptrs = tb_xcalloc(p->cfg.max_batch, sizeof(*p->staging_ptrs));
    for (size_t i = 0; i < p->cfg.max_batch; i++)
        p->staging_ptrs[i] = &p->staging[i];
    if (tb_rng_seed(&p->rng) != TB_OK) {
        snprintf(err, err_size, "export pipeline: no entropy for the retry jitter");
        goto fail;
    }
    atomic_init(&p->stop_deadline_ms, 0);

    p->base = event_base_new();
    if (p->base == NULL || pipe(p->wake_fds) != 0) {
        snprintf(err, err_size, "export pipeline: cannot create the event loop");
        goto fail;
    }
    for (int i = 0; i < 2; i++)
        fcntl(p->wake_fds[i], F_SETFD, FD_CLOEXEC);
    for (size_t k = 0; k < TB_EXPORTER_NUM; k++)
        if (pipeline_setup_exporter(p, (enum tb_exporter_kind)k, err, err_size) != TB_OK)
            goto fail;

    p->tick = event_new(p->base, -1, EV_PERSIST, pipeline_on_tick, p);
    p->wake = event_new(p->base, p->wake_fds[0], EV_READ | EV_PERSIST, pipeline_on_wake, p);
    p->deadline = evtimer_new(p->base, pipeline_on_deadline, p);
    if (p->tick == NULL || p->wake == NULL || p->deadline == NULL) {
        snprintf(err, err_size, "export pipeline: cannot create events");
        goto fail;
    }
    tick_ms = p->cfg.schedule_delay_ms < PIPELINE_MAX_TICK_MS ? p->cfg.schedule_delay_ms
                                                              : PIPELINE_MAX_TICK_MS;
    tv = ms_to_tv(tick_ms > 0 ? tick_ms : 1);
    event_add(p->tick, &tv);
    event_add(p->wake, NULL);
    p->last_export_ms = now_ms();

    if (pthread_create(&p->thread, NULL, pipeline_thread, p) != 0) {
        snprintf(err, err_size, "export pipeline: cannot start the exporter thread");
        goto fail;
    }
    p->thread_started = true;
    return p;

fail:
    pipeline_free(p);
    return NULL;
}

struct tb_span *tb_pipeline_reserve(struct tb_pipeline *p, unsigned worker)
{
    struct pl_worker *w;
    struct tb_span *s;

    TB_ASSERT(worker < p->num_workers);
    w = &p->workers[worker];
    s = tb_queue_reserve(w->queue);
    if (s == NULL) {
        /* Only this worker writes its counter: a plain load and store is
         * enough and cheaper than a locked increment. */
        uint64_t n = atomic_load_explicit(&w->dropped_full, memory_order_relaxed);

        atomic_store_explicit(&w->dropped_full, n + 1, memory_order_relaxed);
    }
    return s;
}

void tb_pipeline_commit(struct tb_pipeline *p, unsigned worker)
{
    TB_ASSERT(worker < p->num_workers);
    tb_queue_commit(p->workers[worker].queue);
}

void tb_pipeline_stop(struct tb_pipeline *p, uint64_t deadline_ms, struct tb_pipeline_stats *final)
{
    char byte = 1;
    size_t left;

    if (final != NULL)
        memset(final, 0, sizeof(*final));
    if (p == NULL)
        return;
    if (p->thread_started) {
        atomic_store_explicit(&p->stop_deadline_ms, now_ms() + deadline_ms, memory_order_release);
        while (write(p->wake_fds[1], &byte, 1) != 1 && errno == EINTR)
            ;
        pthread_join(p->thread, NULL);
    }
    /* Spans committed after the flush (a worker still running) were never
     * sent: they count as failed too. */
    left = pipeline_depth(p);
    for (size_t k = 0; k < TB_EXPORTER_NUM; k++)
        if (p->exporters[k].enabled)
            stat_add(&p->exporters[k].stats.failed, left);
    if (final != NULL)
        tb_pipeline_stats(p, final);
    pipeline_free(p);
}

void tb_pipeline_stats(const struct tb_pipeline *p, struct tb_pipeline_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < p->num_workers; i++) {
        const struct pl_worker *w = &p->workers[i];

        out->enqueued += tb_queue_num_committed(w->queue);
        out->dropped_full += atomic_load_explicit(&w->dropped_full, memory_order_relaxed);
        out->queue_depth += tb_queue_depth(w->queue);
    }
    for (size_t k = 0; k < TB_EXPORTER_NUM; k++) {
        const struct pl_stats *s = &p->exporters[k].stats;
        struct tb_export_stats *o = &out->exporters[k];

        o->exported = atomic_load_explicit(&s->exported, memory_order_relaxed);
        o->failed = atomic_load_explicit(&s->failed, memory_order_relaxed);
        o->requests = atomic_load_explicit(&s->requests, memory_order_relaxed);
        o->retries = atomic_load_explicit(&s->retries, memory_order_relaxed);
        o->errors = atomic_load_explicit(&s->errors, memory_order_relaxed);
    }
}
