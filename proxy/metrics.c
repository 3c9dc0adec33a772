/* SPDX-License-Identifier: MIT
 * The metrics registry: slots by name, per-worker counter blocks, and the
 * Prometheus text rendering (exposition format 0.0.4). Workers only ever
 * touch their own block; everything else here runs on the main or admin
 * thread under the registry's lock.
 */
#include "proxy/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common/counter.h"
#include "common/reason.h"
#include "common/tb.h"
#include "propagators/propagator.h"
#include "proxy/config.h"
#include "proxy/hop.h"
#include "spans/exporter.h"

/* ------------------------------------------------------------------------ */
/* counter blocks                                                            */

enum {
    CODE_NONE = 0, /* classes 1..5 are 1xx..5xx */
    CODE_CLASSES = 6,
};

/* Upper bounds of the duration buckets in nanoseconds, and the same as the
 * `le` label: written out so the label is exact, not a float's rendering. */
static const uint64_t duration_bounds_ns[] = {
    1000000,   2500000,   5000000,    10000000,   25000000,   50000000,    100000000,
    250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
static const char *const duration_le[] = {"0.001", "0.0025", "0.005", "0.01", "0.025",
                                          "0.05",  "0.1",    "0.25",  "0.5",  "1",
                                          "2.5",   "5",      "10"};
#define DURATION_BUCKETS TB_ARRAY_SIZE(duration_bounds_ns)

/* One (listener, route) pair's requests. Buckets are not cumulative here
 * (one increment per request); the renderer accumulates. */
struct request_counters {
    struct tb_counter by_class[CODE_CLASSES];
    struct tb_counter buckets[DURATION_BUCKETS + 1]; /* the last: above 10 s */
    struct tb_counter sum_ns;
};

struct cluster_counters {
    struct tb_counter refused, unreachable, connect_timeouts, response_timeouts, ejections;
};

struct tb_metrics_worker {
    struct request_counters routes[TB_METRICS_MAX_ROUTES];
    struct request_counters no_route[TB_METRICS_MAX_LISTENERS]; /* by listener slot */
    struct tb_counter client_connections[TB_METRICS_MAX_LISTENERS];
    struct cluster_counters clusters[TB_METRICS_MAX_CLUSTERS];
    struct tb_counter upstream_open, upstream_idle;
    const struct tb_hop_counters *hop; /* under tb_metrics.lock */
};

struct route_name {
    char listener[TB_CONFIG_ID_MAX];
    char route[TB_CONFIG_ID_MAX];
};

struct tb_metrics {
    pthread_mutex_t lock; /* names, counts, pipeline, hop pointers */
    unsigned num_workers;
    struct tb_metrics_worker **workers;
    char listeners[TB_METRICS_MAX_LISTENERS][TB_CONFIG_ID_MAX];
    struct route_name routes[TB_METRICS_MAX_ROUTES];
    char clusters[TB_METRICS_MAX_CLUSTERS][TB_CONFIG_ID_MAX];
    unsigned num_listeners, num_routes, num_clusters;
    const struct tb_pipeline *pipeline;
    uint32_t exporters_enabled;
    double start_time;
    _Atomic uint64_t reloads_ok, reloads_failed;
    _Atomic uint64_t last_reload_ok_ms; /* Unix epoch */
    _Atomic unsigned degradation_level;
    _Atomic uint64_t degradation_transitions[TB_METRICS_MAX_DEGRADATION_LEVEL + 1];
};

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct tb_metrics *tb_metrics_new(unsigned num_workers)
{
    struct tb_metrics *m = tb_xcalloc(1, sizeof(*m));
    uint64_t now = wall_ms();

    pthread_mutex_init(&m->lock, NULL);
    m->num_workers = num_workers;
    m->workers = tb_xcalloc(num_workers, sizeof(*m->workers));
    /* About 100 KiB per worker, nearly all rows never used. Anonymous pages
     * are zero and cost no resident memory until written; calloc would
     * take this size from the heap and may clear it page by page. */
    for (unsigned i = 0; i < num_workers; i++) {
        void *p = mmap(NULL, sizeof(*m->workers[i]), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED)
            tb_fatal("out of memory mapping %zu bytes of metrics", sizeof(*m->workers[i]));
        m->workers[i] = p;
    }
    m->start_time = (double)now / 1000.0;
    atomic_init(&m->last_reload_ok_ms, now);
    return m;
}

void tb_metrics_free(struct tb_metrics *m)
{
    if (m == NULL)
        return;
    for (unsigned i = 0; i < m->num_workers; i++)
        munmap(m->workers[i], sizeof(*m->workers[i]));
    tb_free(m->workers);
    pthread_mutex_destroy(&m->lock);
    tb_free(m);
}

struct tb_metrics_worker *tb_metrics_worker(struct tb_metrics *m, unsigned worker,
                                            const struct tb_hop_counters *hop)
{
    TB_ASSERT(worker < m->num_workers);
    pthread_mutex_lock(&m->lock);
    m->workers[worker]->hop = hop;
    pthread_mutex_unlock(&m->lock);
    return m->workers[worker];
}

void tb_metrics_set_pipeline(struct tb_metrics *m, const struct tb_pipeline *p, uint32_t enabled)
{
    pthread_mutex_lock(&m->lock);
    m->pipeline = p;
    m->exporters_enabled = p != NULL ? enabled : 0;
    pthread_mutex_unlock(&m->lock);
}

void tb_metrics_reload(struct tb_metrics *m, bool success)
{
    if (success) {
        atomic_fetch_add(&m->reloads_ok, 1);
        atomic_store(&m->last_reload_ok_ms, wall_ms());
    } else {
        atomic_fetch_add(&m->reloads_failed, 1);
    }
}

void tb_metrics_set_degradation(struct tb_metrics *m, unsigned level)
{
    if (level > TB_METRICS_MAX_DEGRADATION_LEVEL)
        level = TB_METRICS_MAX_DEGRADATION_LEVEL;
    /* The exchange tells the one caller that changed the level, so two
     * controllers racing cannot count one transition twice. */
    if (atomic_exchange(&m->degradation_level, level) != level)
        atomic_fetch_add(&m->degradation_transitions[level], 1);
}

/* ------------------------------------------------------------------------ */
/* slots                                                                     */

/* Index of `name` among the first `n` names of a table, or -1. */
static int find_name(const char (*names)[TB_CONFIG_ID_MAX], unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

static int find_route(const struct route_name *routes, unsigned n, const char *listener,
                      const char *route)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(routes[i].listener, listener) == 0 && strcmp(routes[i].route, route) == 0)
            return (int)i;
    return -1;
}

/* Names are copied bounded: config names fit, but a truncated copy must
 * still be a string. */
static void copy_name(char *dst, const char *src)
{
    snprintf(dst, TB_CONFIG_ID_MAX, "%s", src);
}

/* The slot of `name` in a table of `*n` names, appended (and `*n` grown)
 * when new; -1 when the table already holds `max` names. */
static int name_slot(char (*names)[TB_CONFIG_ID_MAX], unsigned *n, unsigned max, const char *name)
{
    int slot = find_name((const char(*)[TB_CONFIG_ID_MAX])names, *n, name);

    if (slot >= 0)
        return slot;
    if (*n == max)
        return -1;
    copy_name(names[*n], name);
    return (int)(*n)++;
}

int tb_metrics_bind(struct tb_metrics *m, struct tb_config *cfg, char *err, size_t err_size)
{
    /* New names go past the committed counts and become visible only when
     * every name fits, so a refused configuration leaves no trace. */
    unsigned nl = m->num_listeners, nr = m->num_routes, nc = m->num_clusters;
    int ret = TB_ENOSPC;

    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < cfg->num_listeners; i++) {
        struct tb_listener_config *l = &cfg->listeners[i];
        int slot = name_slot(m->listeners, &nl, TB_METRICS_MAX_LISTENERS, l->name);

        if (slot < 0) {
            snprintf(err, err_size,
                     "metrics: more than %d distinct listener names since startup "
                     "(listener '%s')",
                     TB_METRICS_MAX_LISTENERS, l->name);
            goto out;
        }
        l->metrics_slot = (unsigned)slot;
        for (size_t j = 0; j < l->num_routes; j++) {
            struct tb_route_config *r = &l->routes[j];

            slot = find_route(m->routes, nr, l->name, r->name);
            if (slot < 0) {
                if (nr == TB_METRICS_MAX_ROUTES) {
                    snprintf(err, err_size,
                             "metrics: more than %d distinct (listener, route) names since "
                             "startup (listener '%s', route '%s')",
                             TB_METRICS_MAX_ROUTES, l->name, r->name);
                    goto out;
                }
                copy_name(m->routes[nr].listener, l->name);
                copy_name(m->routes[nr].route, r->name);
                slot = (int)nr++;
            }
            r->metrics_slot = (unsigned)slot;
        }
    }
    for (size_t k = 0; k < cfg->num_clusters; k++) {
        struct tb_cluster_config *c = &cfg->clusters[k];
        int slot = name_slot(m->clusters, &nc, TB_METRICS_MAX_CLUSTERS, c->name);

        if (slot < 0) {
            snprintf(err, err_size,
                     "metrics: more than %d distinct cluster names since startup "
                     "(cluster '%s')",
                     TB_METRICS_MAX_CLUSTERS, c->name);
            goto out;
        }
        c->metrics_slot = (unsigned)slot;
    }
    m->num_listeners = nl;
    m->num_routes = nr;
    m->num_clusters = nc;
    ret = TB_OK;
out:
    pthread_mutex_unlock(&m->lock);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* worker hooks                                                              */

void tb_metrics_request_done(struct tb_metrics_worker *mw, unsigned listener, unsigned route,
                             int status, uint64_t duration_ns)
{
    struct request_counters *rc;
    unsigned b = 0;

    if (mw == NULL)
        return;
    if (route != TB_METRICS_NO_ROUTE) {
        TB_ASSERT(route < TB_METRICS_MAX_ROUTES);
        rc = &mw->routes[route];
    } else {
        TB_ASSERT(listener < TB_METRICS_MAX_LISTENERS);
        rc = &mw->no_route[listener];
    }
    tb_counter_inc(&rc->by_class[status >= 100 && status <= 599 ? status / 100 : CODE_NONE]);
    while (b < DURATION_BUCKETS && duration_ns > duration_bounds_ns[b])
        b++;
    tb_counter_inc(&rc->buckets[b]);
    tb_counter_add(&rc->sum_ns, duration_ns);
}

void tb_metrics_upstream_failure(struct tb_metrics_worker *mw, unsigned cluster,
                                 const struct tb_reason *reason)
{
    struct cluster_counters *cc;

    if (mw == NULL)
        return;
    TB_ASSERT(cluster < TB_METRICS_MAX_CLUSTERS);
    cc = &mw->clusters[cluster];
    if (reason == &tb_reason_upstream_refused)
        tb_counter_inc(&cc->refused);
    else if (reason == &tb_reason_upstream_unreachable)
        tb_counter_inc(&cc->unreachable);
    else if (reason == &tb_reason_upstream_connect_timeout)
        tb_counter_inc(&cc->connect_timeouts);
    else if (reason == &tb_reason_upstream_timeout)
        tb_counter_inc(&cc->response_timeouts);
}

void tb_metrics_endpoint_ejected(struct tb_metrics_worker *mw, unsigned cluster)
{
    if (mw == NULL)
        return;
    TB_ASSERT(cluster < TB_METRICS_MAX_CLUSTERS);
    tb_counter_inc(&mw->clusters[cluster].ejections);
}

static void gauge_move(struct tb_counter *g, int delta)
{
    if (delta > 0)
        tb_counter_inc(g);
    else if (delta < 0)
        tb_counter_dec(g);
}

void tb_metrics_client_connection(struct tb_metrics_worker *mw, unsigned listener, int delta)
{
    if (mw == NULL)
        return;
    TB_ASSERT(listener < TB_METRICS_MAX_LISTENERS);
    gauge_move(&mw->client_connections[listener], delta);
}

void tb_metrics_upstream_connection(struct tb_metrics_worker *mw, int open_delta, int idle_delta)
{
    if (mw == NULL)
        return;
    gauge_move(&mw->upstream_open, open_delta);
    gauge_move(&mw->upstream_idle, idle_delta);
}

/* ------------------------------------------------------------------------ */
/* rendering                                                                 */

static const char *const exporter_names[TB_EXPORTER_NUM] = {"otlp", "zipkin", "skywalking", "file"};
static const char *const class_names[CODE_CLASSES] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

/* Sums one counter over every worker block: `offset` is its byte offset in
 * struct tb_metrics_worker. */
static uint64_t sum_workers(const struct tb_metrics *m, size_t offset)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < m->num_workers; i++)
        total += tb_counter_get((const struct tb_counter *)((const char *)m->workers[i] + offset));
    return total;
}

/* The same over the registered hop counters. */
static uint64_t sum_hop(const struct tb_metrics *m, size_t offset)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < m->num_workers; i++)
        if (m->workers[i]->hop != NULL)
            total += tb_counter_get(
                (const struct tb_counter *)((const char *)m->workers[i]->hop + offset));
    return total;
}

#define WORKER_AT(field) offsetof(struct tb_metrics_worker, field)
#define HOP_AT(field) offsetof(struct tb_hop_counters, field)

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the text format wants it: backslash, double quote and
 * line feed escaped; every other byte as is. */
static void label_value(FILE *out, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\')
            fputs("\\\\", out);
        else if (*v == '"')
            fputs("\\\"", out);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

static void label(FILE *out, const char *sep, const char *name, const char *value)
{
    fprintf(out, "%s%s=\"", sep, name);
    label_value(out, value);
    fputc('"', out);
}

static void sample_u64(FILE *out, uint64_t v)
{
    fprintf(out, " %llu\n", (unsigned long long)v);
}

static void render_requests(FILE *out, const struct tb_metrics *m, const char *listener,
                            const char *route, size_t offset)
{
    for (unsigned c = 0; c < CODE_CLASSES; c++) {
        fputs("tracebridge_requests_total", out);
        label(out, "{", "listener", listener);
        label(out, ",", "route", route);
        label(out, ",", "code_class", class_names[c]);
        fputc('}', out);
        sample_u64(out, sum_workers(m, offset + offsetof(struct request_counters, by_class) +
                                           c * sizeof(struct tb_counter)));
    }
}

static void render_durations(FILE *out, const struct tb_metrics *m, const char *listener,
                             const char *route, size_t offset)
{
    uint64_t cumulative = 0, sum_ns;

    for (unsigned b = 0; b <= DURATION_BUCKETS; b++) {
        cumulative += sum_workers(m, offset + offsetof(struct request_counters, buckets) +
                                         b * sizeof(struct tb_counter));
        fputs("tracebridge_request_duration_seconds_bucket", out);
        label(out, "{", "listener", listener);
        label(out, ",", "route", route);
        label(out, ",", "le", b < DURATION_BUCKETS ? duration_le[b] : "+Inf");
        fputc('}', out);
        sample_u64(out, cumulative);
    }
    sum_ns = sum_workers(m, offset + offsetof(struct request_counters, sum_ns));
    fputs("tracebridge_request_duration_seconds_sum", out);
    label(out, "{", "listener", listener);
    label(out, ",", "route", route);
    fprintf(out, "} %llu.%09llu\n", (unsigned long long)(sum_ns / 1000000000u),
            (unsigned long long)(sum_ns % 1000000000u));
    fputs("tracebridge_request_duration_seconds_count", out);
    label(out, "{", "listener", listener);
    label(out, ",", "route", route);
    fputc('}', out);
    sample_u64(out, cumulative);
}

/* Calls `fn` for every (listener, route) row: the named routes, then each
 * listener's requests that ended before a route was chosen. */
static void each_request_row(FILE *out, const struct tb_metrics *m,
                             void (*fn)(FILE *, const struct tb_metrics *, const char *,
                                        const char *, size_t))
{
    for (unsigned r = 0; r < m->num_routes; r++)
        fn(out, m, m->routes[r].listener, m->routes[r].route,
           WORKER_AT(routes) + r * sizeof(struct request_counters));
    for (unsigned l = 0; l < m->num_listeners; l++)
        fn(out, m, m->listeners[l], "(none)",
           WORKER_AT(no_route) + l * sizeof(struct request_counters));
}

/* One sample of a cluster counter; `reason` may be NULL (no such label). */
static void cluster_sample(FILE *out, const struct tb_metrics *m, const char *name, unsigned c,
                           const char *reason, size_t field)
{
    fputs(name, out);
    label(out, "{", "cluster", m->clusters[c]);
    if (reason != NULL)
        label(out, ",", "reason", reason);
    fputc('}', out);
    sample_u64(out,
               sum_workers(m, WORKER_AT(clusters) + c * sizeof(struct cluster_counters) + field));
}

static void render_connections(FILE *out, const struct tb_metrics *m)
{
    static const char errors[] = "tracebridge_upstream_connect_errors_total";
    static const char connect_timeouts[] = "tracebridge_upstream_connect_timeouts_total";
    static const char response_timeouts[] = "tracebridge_upstream_response_timeouts_total";

    family(out, "tracebridge_client_connections", "gauge", "Open client connections, by listener.");
    for (unsigned l = 0; l < m->num_listeners; l++) {
        fputs("tracebridge_client_connections", out);
        label(out, "{", "listener", m->listeners[l]);
        fputc('}', out);
        sample_u64(out,
                   sum_workers(m, WORKER_AT(client_connections) + l * sizeof(struct tb_counter)));
    }
    family(out, "tracebridge_upstream_connections", "gauge",
           "Open upstream connections, idle pooled ones included.");
    fputs("tracebridge_upstream_connections", out);
    sample_u64(out, sum_workers(m, WORKER_AT(upstream_open)));
    family(out, "tracebridge_upstream_idle_connections", "gauge",
           "Idle upstream connections kept in the pools for reuse.");
    fputs("tracebridge_upstream_idle_connections", out);
    sample_u64(out, sum_workers(m, WORKER_AT(upstream_idle)));

    family(out, errors, "counter",
           "Upstream connects that failed, by cluster and reason (refused, unreachable).");
    for (unsigned c = 0; c < m->num_clusters; c++) {
        cluster_sample(out, m, errors, c, "refused", offsetof(struct cluster_counters, refused));
        cluster_sample(out, m, errors, c, "unreachable",
                       offsetof(struct cluster_counters, unreachable));
    }
    family(out, connect_timeouts, "counter",
           "Upstream connects not completed within the connect timeout, by cluster.");
    for (unsigned c = 0; c < m->num_clusters; c++)
        cluster_sample(out, m, connect_timeouts, c, NULL,
                       offsetof(struct cluster_counters, connect_timeouts));
    family(out, response_timeouts, "counter",
           "Upstream connections silent past the upstream timeout while a response was due, by "
           "cluster.");
    for (unsigned c = 0; c < m->num_clusters; c++)
        cluster_sample(out, m, response_timeouts, c, NULL,
                       offsetof(struct cluster_counters, response_timeouts));
    family(out, "tracebridge_upstream_ejections_total", "counter",
           "Endpoints taken out of rotation after failed connects (passive ejection), by cluster.");
    for (unsigned c = 0; c < m->num_clusters; c++)
        cluster_sample(out, m, "tracebridge_upstream_ejections_total", c, NULL,
                       offsetof(struct cluster_counters, ejections));
}

static void render_by_format(FILE *out, const struct tb_metrics *m, const char *name,
                             const char *help, size_t offset)
{
    family(out, name, "counter", help);
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        fputs(name, out);
        label(out, "{", "format", tb_propagator_get((enum tb_format)f)->name);
        fputc('}', out);
        sample_u64(out, sum_hop(m, offset + f * sizeof(struct tb_counter)));
    }
}

static void render_propagation(FILE *out, const struct tb_metrics *m)
{
    static const struct {
        const char *name, *help;
        size_t offset;
    } totals[] = {
        {"tracebridge_context_conflicts_total",
         "Requests whose valid formats disagreed on the trace id (the others become span links).",
         HOP_AT(conflicts)},
        {"tracebridge_requests_without_context_total",
         "Requests that brought no valid trace context: the hop started a new trace.",
         HOP_AT(no_context)},
        {"tracebridge_edge_restarts_total",
         "Incoming contexts a listener with trust ignore or restart-and-link replaced with a new "
         "root.",
         HOP_AT(edge_restarts)},
        {"tracebridge_baggage_items_dropped_total",
         "Baggage items dropped on extract or inject (limits, invalid encodings).",
         HOP_AT(baggage_dropped)},
        {"tracebridge_context_rewrite_failures_total",
         "Requests refused because the rewritten head did not fit the header limits.",
         HOP_AT(rewrite_failed)},
    };

    render_by_format(out, m, "tracebridge_context_extracted_total",
                     "Requests in which the format gave a valid trace context.", HOP_AT(extracted));
    render_by_format(out, m, "tracebridge_context_invalid_total",
                     "Requests in which the format's headers were present but invalid (ignored).",
                     HOP_AT(invalid));
    render_by_format(out, m, "tracebridge_context_injected_total",
                     "Requests sent upstream with the format's headers written by the hop.",
                     HOP_AT(injected));
    family(out, "tracebridge_conversions_total", "counter",
           "Requests by the winning extracted format (from, \"none\" when no context came) and "
           "each format injected (to). Pairs never seen are not listed.");
    for (unsigned from = 0; from <= TB_FORMAT_NUM; from++) {
        for (unsigned to = 0; to < TB_FORMAT_NUM; to++) {
            uint64_t v = sum_hop(m, HOP_AT(conversions) +
                                        (from * TB_FORMAT_NUM + to) * sizeof(struct tb_counter));

            if (v == 0)
                continue;
            fputs("tracebridge_conversions_total", out);
            label(out, "{", "from",
                  from < TB_FORMAT_NUM ? tb_propagator_get((enum tb_format)from)->name : "none");
            label(out, ",", "to", tb_propagator_get((enum tb_format)to)->name);
            fputc('}', out);
            sample_u64(out, v);
        }
    }
    for (size_t k = 0; k < TB_ARRAY_SIZE(totals); k++) {
        family(out, totals[k].name, "counter", totals[k].help);
        fputs(totals[k].name, out);
        sample_u64(out, sum_hop(m, totals[k].offset));
    }
}

static void render_exporters(FILE *out, const struct tb_metrics *m,
                             const struct tb_pipeline_stats *st, const char *name, const char *help,
                             size_t offset)
{
    family(out, name, "counter", help);
    for (unsigned k = 0; k < TB_EXPORTER_NUM; k++) {
        if (!(m->exporters_enabled & TB_EXPORTER_BIT(k)))
            continue;
        fputs(name, out);
        label(out, "{", "exporter", exporter_names[k]);
        fputc('}', out);
        sample_u64(out, *(const uint64_t *)((const char *)&st->exporters[k] + offset));
    }
}

static void render_spans(FILE *out, const struct tb_metrics *m)
{
    struct tb_pipeline_stats st;

    memset(&st, 0, sizeof(st));
    if (m->pipeline != NULL)
        tb_pipeline_stats(m->pipeline, &st);
    family(out, "tracebridge_spans_started_total", "counter",
           "Hop spans started: requests that reached the span step.");
    fputs("tracebridge_spans_started_total", out);
    sample_u64(out, sum_hop(m, HOP_AT(spans_started)));
    family(out, "tracebridge_spans_sampled_total", "counter",
           "Hop spans sampled: handed to the export queue.");
    fputs("tracebridge_spans_sampled_total", out);
    sample_u64(out, sum_hop(m, HOP_AT(spans_sampled)));
    family(out, "tracebridge_spans_root_limited_total", "counter",
           "New root traces not sampled because of max-root-spans-per-second.");
    fputs("tracebridge_spans_root_limited_total", out);
    sample_u64(out, sum_hop(m, HOP_AT(roots_limited)));
    family(out, "tracebridge_spans_shed_total", "counter",
           "Sampled hops that made no span because of degradation (thinning or level 3).");
    fputs("tracebridge_spans_shed_total", out);
    sample_u64(out, sum_hop(m, HOP_AT(spans_shed)));
    family(out, "tracebridge_spans_reduced_total", "counter",
           "Spans made with the essential attributes only (degradation level 2).");
    fputs("tracebridge_spans_reduced_total", out);
    sample_u64(out, sum_hop(m, HOP_AT(spans_reduced)));
    family(out, "tracebridge_spans_dropped_total", "counter",
           "Sampled spans dropped because a worker's export queue was full.");
    fputs("tracebridge_spans_dropped_total", out);
    sample_u64(out, st.dropped_full);
    family(out, "tracebridge_export_queue_spans", "gauge",
           "Spans waiting in the export queues, all workers.");
    fputs("tracebridge_export_queue_spans", out);
    sample_u64(out, st.queue_depth);
    render_exporters(out, m, &st, "tracebridge_spans_exported_total",
                     "Spans accepted by the receiver (2xx) or written, by exporter.",
                     offsetof(struct tb_export_stats, exported));
    render_exporters(out, m, &st, "tracebridge_spans_failed_total",
                     "Spans given up on (non-retryable status, retries exhausted, deadline), by "
                     "exporter.",
                     offsetof(struct tb_export_stats, failed));
    render_exporters(out, m, &st, "tracebridge_export_requests_total",
                     "Export requests sent, retries included, by exporter.",
                     offsetof(struct tb_export_stats, requests));
    render_exporters(out, m, &st, "tracebridge_export_retries_total",
                     "Export requests that were retries, by exporter.",
                     offsetof(struct tb_export_stats, retries));
    render_exporters(out, m, &st, "tracebridge_export_errors_total",
                     "Export requests that failed (connection error, timeout, non-2xx), by "
                     "exporter.",
                     offsetof(struct tb_export_stats, errors));
}

static void render_process(FILE *out, const struct tb_metrics *m)
{
    uint64_t ok_ms = atomic_load(&m->last_reload_ok_ms);
    unsigned level = atomic_load(&m->degradation_level);

    family(out, "tracebridge_config_reloads_total", "counter",
           "Configuration reloads (SIGHUP), by result.");
    fprintf(out, "tracebridge_config_reloads_total{result=\"success\"} %llu\n",
            (unsigned long long)atomic_load(&m->reloads_ok));
    fprintf(out, "tracebridge_config_reloads_total{result=\"failure\"} %llu\n",
            (unsigned long long)atomic_load(&m->reloads_failed));
    family(out, "tracebridge_config_last_reload_success_timestamp_seconds", "gauge",
           "When the configuration in force was loaded (startup or the last good reload), "
           "Unix time.");
    fprintf(out, "tracebridge_config_last_reload_success_timestamp_seconds %llu.%03llu\n",
            (unsigned long long)(ok_ms / 1000), (unsigned long long)(ok_ms % 1000));
    family(out, "tracebridge_degradation_level", "gauge",
           "Current degradation level: 0 is full service, higher levels shed more work.");
    fprintf(out, "tracebridge_degradation_level %u\n", level);
    family(out, "tracebridge_degradation_transitions_total", "counter",
           "Changes of the degradation level, by the level entered.");
    for (unsigned l = 0; l <= TB_METRICS_MAX_DEGRADATION_LEVEL; l++)
        fprintf(out, "tracebridge_degradation_transitions_total{level=\"%u\"} %llu\n", l,
                (unsigned long long)atomic_load(&m->degradation_transitions[l]));
    family(out, "tracebridge_build_info", "gauge",
           "Always 1; the labels describe the running build.");
    fprintf(out, "tracebridge_build_info{version=\"%s\"} 1\n", TB_VERSION);
    family(out, "process_start_time_seconds", "gauge", "Start time of the process, Unix time.");
    fprintf(out, "process_start_time_seconds %.3f\n", m->start_time);
}

void tb_metrics_render(struct tb_metrics *m, FILE *out)
{
    pthread_mutex_lock(&m->lock);
    family(out, "tracebridge_requests_total", "counter",
           "Requests ended, by listener, route (\"(none)\" when rejected before routing) and "
           "class of the status the client got (\"none\" when it got none).");
    each_request_row(out, m, render_requests);
    family(out, "tracebridge_request_duration_seconds", "histogram",
           "Time from a request's first byte to its end (last response byte or close), by "
           "listener and route.");
    each_request_row(out, m, render_durations);
    render_connections(out, m);
    render_propagation(out, m);
    render_spans(out, m);
    render_process(out, m);
    pthread_mutex_unlock(&m->lock);
}
