/* SPDX-License-Identifier: MIT
 * Unit tests for proxy/metrics.c: slots by name across rebinding, the bounds,
 * and the Prometheus text rendering (sums over workers, cumulative histogram
 * buckets, label escaping, a HELP and TYPE line for every family).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/counter.h"
#include "common/reason.h"
#include "common/tb.h"
#include "propagators/context.h"
#include "proxy/config.h"
#include "proxy/hop.h"
#include "proxy/metrics.h"

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */

/* A configuration shape: "listener:route,route;listener:route" and
 * "cluster,cluster". Only names matter to the registry. */
struct shape {
    struct tb_config cfg;
};

static void shape_make(struct shape *s, const char *listeners, const char *clusters)
{
    char buf[4096], *save1 = NULL;

    memset(s, 0, sizeof(*s));
    snprintf(buf, sizeof(buf), "%s", listeners);
    for (char *l = strtok_r(buf, ";", &save1); l != NULL; l = strtok_r(NULL, ";", &save1)) {
        struct tb_listener_config *lc;
        char *colon = strchr(l, ':'), *save2 = NULL;

        s->cfg.listeners =
            realloc(s->cfg.listeners, (s->cfg.num_listeners + 1) * sizeof(*s->cfg.listeners));
        lc = &s->cfg.listeners[s->cfg.num_listeners++];
        memset(lc, 0, sizeof(*lc));
        assert_non_null(colon);
        *colon = '\0';
        snprintf(lc->name, sizeof(lc->name), "%s", l);
        for (char *r = strtok_r(colon + 1, ",", &save2); r != NULL;
             r = strtok_r(NULL, ",", &save2)) {
            lc->routes = realloc(lc->routes, (lc->num_routes + 1) * sizeof(*lc->routes));
            memset(&lc->routes[lc->num_routes], 0, sizeof(*lc->routes));
            snprintf(lc->routes[lc->num_routes].name, sizeof(lc->routes->name), "%s",
                     strcmp(r, "-") == 0 ? "" : r);
            lc->num_routes++;
        }
    }
    snprintf(buf, sizeof(buf), "%s", clusters);
    for (char *c = strtok_r(buf, ",", &save1); c != NULL; c = strtok_r(NULL, ",", &save1)) {
        s->cfg.clusters =
            realloc(s->cfg.clusters, (s->cfg.num_clusters + 1) * sizeof(*s->cfg.clusters));
        memset(&s->cfg.clusters[s->cfg.num_clusters], 0, sizeof(*s->cfg.clusters));
        snprintf(s->cfg.clusters[s->cfg.num_clusters].name, sizeof(s->cfg.clusters->name), "%s", c);
        s->cfg.num_clusters++;
    }
}

static void shape_free(struct shape *s)
{
    for (size_t i = 0; i < s->cfg.num_listeners; i++)
        free(s->cfg.listeners[i].routes);
    free(s->cfg.listeners);
    free(s->cfg.clusters);
}

static const struct tb_route_config *route_of(const struct shape *s, const char *listener,
                                              const char *route)
{
    for (size_t i = 0; i < s->cfg.num_listeners; i++) {
        const struct tb_listener_config *l = &s->cfg.listeners[i];

        for (size_t j = 0; strcmp(l->name, listener) == 0 && j < l->num_routes; j++)
            if (strcmp(l->routes[j].name, route) == 0)
                return &l->routes[j];
    }
    fail_msg("no route %s/%s", listener, route);
    return NULL;
}

static const struct tb_listener_config *listener_of(const struct shape *s, const char *name)
{
    for (size_t i = 0; i < s->cfg.num_listeners; i++)
        if (strcmp(s->cfg.listeners[i].name, name) == 0)
            return &s->cfg.listeners[i];
    fail_msg("no listener %s", name);
    return NULL;
}

static unsigned cluster_slot(const struct shape *s, const char *name)
{
    for (size_t i = 0; i < s->cfg.num_clusters; i++)
        if (strcmp(s->cfg.clusters[i].name, name) == 0)
            return s->cfg.clusters[i].metrics_slot;
    fail_msg("no cluster %s", name);
    return 0;
}

/* The rendering of `m`, NUL-terminated; free() it. */
static char *render(struct tb_metrics *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(out);
    tb_metrics_render(m, out);
    assert_int_equal(fclose(out), 0);
    return text;
}

/* Fails unless `text` has the line `line` exactly. */
static void assert_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    fail_msg("line not rendered: %s", line);
}

static void assert_no_line_starting(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);

    for (const char *p = text; (p = strstr(p, prefix)) != NULL; p += n)
        if (p == text || p[-1] == '\n')
            fail_msg("unexpected line starting with: %s", prefix);
}

/* ------------------------------------------------------------------------ */
/* bind                                                                      */

static void test_tb_metrics_bind__names_keep_their_slots(void **state)
{
    struct tb_metrics *m = tb_metrics_new(1);
    struct shape a, b;
    char err[256];

    (void)state;
    shape_make(&a, "main:default,api;side:default", "default,payments");
    assert_int_equal(tb_metrics_bind(m, &a.cfg, err, sizeof(err)), TB_OK);
    /* Routes are keyed by (listener, route): side/default is not main/default. */
    assert_int_not_equal(route_of(&a, "main", "default")->metrics_slot,
                         route_of(&a, "side", "default")->metrics_slot);
    assert_int_not_equal(listener_of(&a, "main")->metrics_slot,
                         listener_of(&a, "side")->metrics_slot);
    assert_int_not_equal(cluster_slot(&a, "default"), cluster_slot(&a, "payments"));

    /* Reordered, one route renamed (api → api-v2), one added, one listener
     * gone and one new, one cluster renamed. */
    shape_make(&b, "edge:x;main:extra,api-v2,default", "payments,billing");
    assert_int_equal(tb_metrics_bind(m, &b.cfg, err, sizeof(err)), TB_OK);
    assert_int_equal(listener_of(&b, "main")->metrics_slot, listener_of(&a, "main")->metrics_slot);
    assert_int_equal(route_of(&b, "main", "default")->metrics_slot,
                     route_of(&a, "main", "default")->metrics_slot);
    assert_int_equal(cluster_slot(&b, "payments"), cluster_slot(&a, "payments"));
    /* New names get slots no earlier name had (the first shape held 3
     * routes, 2 listeners, 2 clusters), each its own. */
    {
        unsigned extra = route_of(&b, "main", "extra")->metrics_slot;
        unsigned v2 = route_of(&b, "main", "api-v2")->metrics_slot;
        unsigned x = route_of(&b, "edge", "x")->metrics_slot;

        assert_true(extra >= 3 && v2 >= 3 && x >= 3);
        assert_true(extra != v2 && v2 != x && extra != x);
    }
    assert_true(listener_of(&b, "edge")->metrics_slot >= 2);
    assert_true(cluster_slot(&b, "billing") >= 2);

    /* Back to the first shape: the renamed route's old name still has its slot. */
    {
        struct shape c;

        shape_make(&c, "main:api", "default");
        assert_int_equal(tb_metrics_bind(m, &c.cfg, err, sizeof(err)), TB_OK);
        assert_int_equal(route_of(&c, "main", "api")->metrics_slot,
                         route_of(&a, "main", "api")->metrics_slot);
        assert_int_equal(cluster_slot(&c, "default"), cluster_slot(&a, "default"));
        shape_free(&c);
    }
    shape_free(&a);
    shape_free(&b);
    tb_metrics_free(m);
}

static void test_tb_metrics_bind__refuses_past_the_bound_and_changes_nothing(void **state)
{
    struct tb_metrics *m = tb_metrics_new(1);
    struct shape a, big, after;
    char names[TB_METRICS_MAX_ROUTES * 8 + 64], err[256] = "";
    size_t n = 0;

    (void)state;
    shape_make(&a, "main:default", "default");
    assert_int_equal(tb_metrics_bind(m, &a.cfg, err, sizeof(err)), TB_OK);
    /* One route too many, counting the one already held. */
    n += (size_t)snprintf(names + n, sizeof(names) - n, "main:");
    for (unsigned i = 0; i < TB_METRICS_MAX_ROUTES; i++)
        n += (size_t)snprintf(names + n, sizeof(names) - n, "%sr%u", i ? "," : "", i);
    shape_make(&big, names, "default");
    assert_int_equal(tb_metrics_bind(m, &big.cfg, err, sizeof(err)), TB_ENOSPC);
    assert_non_null(strstr(err, "512"));
    assert_non_null(strstr(err, "route"));
    /* Nothing of the refused configuration was kept: its first new name
     * gets the slot right after the names bound before. */
    shape_make(&after, "main:r0,default", "default");
    assert_int_equal(tb_metrics_bind(m, &after.cfg, err, sizeof(err)), TB_OK);
    assert_int_equal(route_of(&after, "main", "default")->metrics_slot, 0);
    assert_int_equal(route_of(&after, "main", "r0")->metrics_slot, 1);
    {
        char *text = render(m);

        assert_no_line_starting(text, "tracebridge_requests_total{listener=\"main\",route=\"r1\"");
        free(text);
    }
    shape_free(&a);
    shape_free(&big);
    shape_free(&after);
    tb_metrics_free(m);
}

static void test_tb_metrics_bind__listener_and_cluster_bounds(void **state)
{
    struct tb_metrics *m = tb_metrics_new(1);
    struct shape s;
    char names[TB_METRICS_MAX_CLUSTERS * 8 + 64], err[256];
    size_t n = 0;

    (void)state;
    for (unsigned i = 0; i <= TB_METRICS_MAX_LISTENERS; i++)
        n += (size_t)snprintf(names + n, sizeof(names) - n, "%sl%u:r", i ? ";" : "", i);
    shape_make(&s, names, "c");
    assert_int_equal(tb_metrics_bind(m, &s.cfg, err, sizeof(err)), TB_ENOSPC);
    assert_non_null(strstr(err, "listener"));
    shape_free(&s);
    n = 0;
    for (unsigned i = 0; i <= TB_METRICS_MAX_CLUSTERS; i++)
        n += (size_t)snprintf(names + n, sizeof(names) - n, "%sc%u", i ? "," : "", i);
    shape_make(&s, "main:default", names);
    assert_int_equal(tb_metrics_bind(m, &s.cfg, err, sizeof(err)), TB_ENOSPC);
    assert_non_null(strstr(err, "cluster"));
    shape_free(&s);
    tb_metrics_free(m);
}

/* ------------------------------------------------------------------------ */
/* rendering                                                                 */

static void test_tb_metrics_render__requests_summed_over_workers(void **state)
{
    struct tb_metrics *m = tb_metrics_new(2);
    struct tb_metrics_worker *w0 = tb_metrics_worker(m, 0, NULL);
    struct tb_metrics_worker *w1 = tb_metrics_worker(m, 1, NULL);
    struct shape s;
    unsigned l, r;
    char err[256], *text;

    (void)state;
    shape_make(&s, "main:default", "default");
    assert_int_equal(tb_metrics_bind(m, &s.cfg, err, sizeof(err)), TB_OK);
    l = s.cfg.listeners[0].metrics_slot;
    r = s.cfg.listeners[0].routes[0].metrics_slot;
    tb_metrics_request_done(w0, l, r, 200, 1000);
    tb_metrics_request_done(w1, l, r, 204, 1000);
    tb_metrics_request_done(w1, l, r, 404, 1000);
    tb_metrics_request_done(w0, l, r, 502, 1000);
    tb_metrics_request_done(w0, l, r, 0, 1000);   /* client got nothing */
    tb_metrics_request_done(w0, l, r, 999, 1000); /* not a status class */
    tb_metrics_request_done(w1, l, TB_METRICS_NO_ROUTE, 400, 1000);
    tb_metrics_request_done(NULL, l, r, 200, 1000); /* no block: not counted */
    tb_metrics_client_connection(w0, l, 1);
    tb_metrics_client_connection(w0, l, 1);
    tb_metrics_client_connection(w1, l, 1);
    tb_metrics_client_connection(w0, l, -1);
    tb_metrics_upstream_connection(w0, 1, 0);
    tb_metrics_upstream_connection(w1, 1, 1);
    tb_metrics_upstream_connection(w1, 1, 0);
    tb_metrics_upstream_connection(w1, -1, 0);
    tb_metrics_upstream_failure(w0, s.cfg.clusters[0].metrics_slot, &tb_reason_upstream_refused);
    tb_metrics_upstream_failure(w1, s.cfg.clusters[0].metrics_slot, &tb_reason_upstream_refused);
    tb_metrics_upstream_failure(w1, s.cfg.clusters[0].metrics_slot,
                                &tb_reason_upstream_unreachable);
    tb_metrics_upstream_failure(w0, s.cfg.clusters[0].metrics_slot,
                                &tb_reason_upstream_connect_timeout);
    tb_metrics_upstream_failure(w0, s.cfg.clusters[0].metrics_slot, &tb_reason_upstream_timeout);
    tb_metrics_upstream_failure(w0, s.cfg.clusters[0].metrics_slot, &tb_reason_upstream_reset);
    text = render(m);
    assert_line(text, "# TYPE tracebridge_requests_total counter");
    assert_line(
        text,
        "tracebridge_requests_total{listener=\"main\",route=\"default\",code_class=\"2xx\"} 2");
    assert_line(
        text,
        "tracebridge_requests_total{listener=\"main\",route=\"default\",code_class=\"4xx\"} 1");
    assert_line(
        text,
        "tracebridge_requests_total{listener=\"main\",route=\"default\",code_class=\"5xx\"} 1");
    assert_line(
        text,
        "tracebridge_requests_total{listener=\"main\",route=\"default\",code_class=\"1xx\"} 0");
    assert_line(
        text,
        "tracebridge_requests_total{listener=\"main\",route=\"default\",code_class=\"none\"} 2");
    assert_line(
        text,
        "tracebridge_requests_total{listener=\"main\",route=\"(none)\",code_class=\"4xx\"} 1");
    assert_line(text, "tracebridge_client_connections{listener=\"main\"} 2");
    assert_line(text, "tracebridge_upstream_connections 2");
    assert_line(text, "tracebridge_upstream_idle_connections 1");
    assert_line(
        text,
        "tracebridge_upstream_connect_errors_total{cluster=\"default\",reason=\"refused\"} 2");
    assert_line(
        text,
        "tracebridge_upstream_connect_errors_total{cluster=\"default\",reason=\"unreachable\"} 1");
    assert_line(text, "tracebridge_upstream_connect_timeouts_total{cluster=\"default\"} 1");
    assert_line(text, "tracebridge_upstream_response_timeouts_total{cluster=\"default\"} 1");
    free(text);
    shape_free(&s);
    tb_metrics_free(m);
}

static void test_tb_metrics_render__histogram_buckets_are_cumulative(void **state)
{
    static const struct {
        const char *le;
        unsigned count;
    } want[] = {
        {"0.001", 2}, {"0.0025", 2}, {"0.005", 4}, {"0.01", 4}, {"0.025", 4},
        {"0.05", 4},  {"0.1", 4},    {"0.25", 4},  {"0.5", 4},  {"1", 5},
        {"2.5", 5},   {"5", 5},      {"10", 5},    {"+Inf", 6},
    };
    struct tb_metrics *m = tb_metrics_new(2);
    struct tb_metrics_worker *w0 = tb_metrics_worker(m, 0, NULL);
    struct tb_metrics_worker *w1 = tb_metrics_worker(m, 1, NULL);
    struct shape s;
    unsigned l, r;
    char err[256], line[256], *text;

    (void)state;
    shape_make(&s, "main:default", "default");
    assert_int_equal(tb_metrics_bind(m, &s.cfg, err, sizeof(err)), TB_OK);
    l = s.cfg.listeners[0].metrics_slot;
    r = s.cfg.listeners[0].routes[0].metrics_slot;
    tb_metrics_request_done(w0, l, r, 200, 500000);      /* 0.5 ms */
    tb_metrics_request_done(w1, l, r, 200, 1000000);     /* 1 ms exactly: le is inclusive */
    tb_metrics_request_done(w0, l, r, 200, 3000000);     /* 3 ms */
    tb_metrics_request_done(w1, l, r, 200, 3000000);     /* 3 ms */
    tb_metrics_request_done(w0, l, r, 200, 1000000000);  /* 1 s */
    tb_metrics_request_done(w1, l, r, 200, 20000000001); /* 20 s: only +Inf */
    text = render(m);
    assert_line(text, "# TYPE tracebridge_request_duration_seconds histogram");
    for (size_t i = 0; i < TB_ARRAY_SIZE(want); i++) {
        snprintf(line, sizeof(line),
                 "tracebridge_request_duration_seconds_bucket{listener=\"main\",route=\"default\","
                 "le=\"%s\"} %u",
                 want[i].le, want[i].count);
        assert_line(text, line);
    }
    assert_line(text, "tracebridge_request_duration_seconds_count{listener=\"main\",route="
                      "\"default\"} 6");
    assert_line(text, "tracebridge_request_duration_seconds_sum{listener=\"main\",route="
                      "\"default\"} 21.007500001");
    /* The rows of requests rejected before routing are there, empty. */
    assert_line(text, "tracebridge_request_duration_seconds_count{listener=\"main\",route="
                      "\"(none)\"} 0");
    free(text);
    shape_free(&s);
    tb_metrics_free(m);
}

static void test_tb_metrics_render__label_values_are_escaped(void **state)
{
    struct tb_metrics *m = tb_metrics_new(1);
    struct shape s;
    char err[256], *text;

    (void)state;
    shape_make(&s, "x:r", "c");
    snprintf(s.cfg.listeners[0].name, sizeof(s.cfg.listeners[0].name), "a\"b\\c\nd");
    snprintf(s.cfg.listeners[0].routes[0].name, sizeof(s.cfg.listeners[0].routes[0].name),
             "\\\\\"\n");
    snprintf(s.cfg.clusters[0].name, sizeof(s.cfg.clusters[0].name), "k\"");
    assert_int_equal(tb_metrics_bind(m, &s.cfg, err, sizeof(err)), TB_OK);
    tb_metrics_request_done(tb_metrics_worker(m, 0, NULL), s.cfg.listeners[0].metrics_slot,
                            s.cfg.listeners[0].routes[0].metrics_slot, 201, 1);
    text = render(m);
    assert_line(text,
                "tracebridge_requests_total{listener=\"a\\\"b\\\\c\\nd\",route=\"\\\\\\\\\\\"\\"
                "n\",code_class=\"2xx\"} 1");
    assert_line(text, "tracebridge_client_connections{listener=\"a\\\"b\\\\c\\nd\"} 0");
    assert_line(text, "tracebridge_upstream_connect_timeouts_total{cluster=\"k\\\"\"} 0");
    free(text);
    shape_free(&s);
    tb_metrics_free(m);
}

static void test_tb_metrics_render__propagation_and_spans(void **state)
{
    struct tb_metrics *m = tb_metrics_new(2);
    struct tb_hop_counters h0, h1;
    char *text;

    (void)state;
    memset(&h0, 0, sizeof(h0));
    memset(&h1, 0, sizeof(h1));
    tb_metrics_worker(m, 0, &h0);
    tb_metrics_worker(m, 1, &h1);
    tb_counter_add(&h0.extracted[TB_FORMAT_B3], 3);
    tb_counter_add(&h1.extracted[TB_FORMAT_B3], 4);
    tb_counter_add(&h1.invalid[TB_FORMAT_TRACECONTEXT], 1);
    tb_counter_add(&h0.injected[TB_FORMAT_SW8], 2);
    tb_counter_add(&h0.conversions[TB_FORMAT_B3][TB_FORMAT_TRACECONTEXT], 5);
    tb_counter_add(&h1.conversions[TB_FORMAT_B3][TB_FORMAT_TRACECONTEXT], 2);
    tb_counter_add(&h1.conversions[TB_FORMAT_NUM][TB_FORMAT_SW8], 9);
    tb_counter_add(&h0.no_context, 9);
    tb_counter_add(&h1.conflicts, 1);
    tb_counter_add(&h0.baggage_dropped, 6);
    tb_counter_add(&h0.spans_started, 10);
    tb_counter_add(&h1.spans_started, 11);
    tb_counter_add(&h1.spans_sampled, 8);
    text = render(m);
    assert_line(text, "tracebridge_context_extracted_total{format=\"b3\"} 7");
    assert_line(text, "tracebridge_context_extracted_total{format=\"sw8\"} 0");
    assert_line(text, "tracebridge_context_invalid_total{format=\"tracecontext\"} 1");
    assert_line(text, "tracebridge_context_injected_total{format=\"sw8\"} 2");
    assert_line(text, "tracebridge_conversions_total{from=\"b3\",to=\"tracecontext\"} 7");
    assert_line(text, "tracebridge_conversions_total{from=\"none\",to=\"sw8\"} 9");
    /* Pairs never seen are left out. */
    assert_no_line_starting(text, "tracebridge_conversions_total{from=\"b3\",to=\"sw8\"}");
    assert_line(text, "tracebridge_requests_without_context_total 9");
    assert_line(text, "tracebridge_context_conflicts_total 1");
    assert_line(text, "tracebridge_baggage_items_dropped_total 6");
    assert_line(text, "tracebridge_spans_started_total 21");
    assert_line(text, "tracebridge_spans_sampled_total 8");
    /* No pipeline: queue and drops are zero, no exporter is listed. */
    assert_line(text, "tracebridge_spans_dropped_total 0");
    assert_line(text, "tracebridge_export_queue_spans 0");
    assert_no_line_starting(text, "tracebridge_spans_exported_total{");
    free(text);
    tb_metrics_free(m);
}

static void test_tb_metrics_render__process_reloads_degradation(void **state)
{
    struct tb_metrics *m = tb_metrics_new(1);
    char *text;

    (void)state;
    tb_metrics_reload(m, true);
    tb_metrics_reload(m, false);
    tb_metrics_reload(m, false);
    tb_metrics_set_degradation(m, 2);
    tb_metrics_set_degradation(m, 2); /* no change: no transition */
    tb_metrics_set_degradation(m, 3);
    tb_metrics_set_degradation(m, 0);
    tb_metrics_set_degradation(m, 99); /* clamped to the highest level */
    text = render(m);
    assert_line(text, "tracebridge_config_reloads_total{result=\"success\"} 1");
    assert_line(text, "tracebridge_config_reloads_total{result=\"failure\"} 2");
    assert_line(text, "tracebridge_degradation_level 7");
    assert_line(text, "tracebridge_degradation_transitions_total{level=\"2\"} 1");
    assert_line(text, "tracebridge_degradation_transitions_total{level=\"3\"} 1");
    assert_line(text, "tracebridge_degradation_transitions_total{level=\"0\"} 1");
    assert_line(text, "tracebridge_degradation_transitions_total{level=\"7\"} 1");
    assert_line(text, "tracebridge_build_info{version=\"" TB_VERSION "\"} 1");
    assert_non_null(strstr(text, "\nprocess_start_time_seconds 1"));
    assert_non_null(strstr(text, "\ntracebridge_config_last_reload_success_timestamp_seconds 1"));
    free(text);
    tb_metrics_free(m);
}

/* Every sample line belongs to a family announced by # HELP and # TYPE
 * before it, and every family is announced once. */
static void test_tb_metrics_render__every_family_has_help_and_type(void **state)
{
    struct tb_metrics *m = tb_metrics_new(1);
    struct shape s;
    char err[256], *text, *save = NULL, family[128] = "", type[32] = "";
    static char seen[64][128];
    unsigned families = 0, samples = 0;

    (void)state;
    shape_make(&s, "main:default", "default");
    assert_int_equal(tb_metrics_bind(m, &s.cfg, err, sizeof(err)), TB_OK);
    text = render(m);
    assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char name[128];
        size_t n = strcspn(line, "{ ");

        if (strncmp(line, "# HELP ", 7) == 0) {
            size_t k = strcspn(line + 7, " ");

            assert_true(k < sizeof(family));
            memcpy(family, line + 7, k);
            family[k] = '\0';
            type[0] = '\0';
            /* Announced once: a family never comes back later. */
            for (unsigned i = 0; i < families; i++)
                assert_string_not_equal(seen[i], family);
            assert_true(families < TB_ARRAY_SIZE(seen));
            snprintf(seen[families++], sizeof(seen[0]), "%s", family);
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            assert_true(strncmp(line + 7, family, strlen(family)) == 0);
            snprintf(type, sizeof(type), "%s", line + 7 + strlen(family) + 1);
            continue;
        }
        assert_true(type[0] != '\0');
        assert_true(n < sizeof(name));
        memcpy(name, line, n);
        name[n] = '\0';
        if (strcmp(type, "histogram") == 0) {
            size_t fl = strlen(family);

            assert_true(strncmp(name, family, fl) == 0);
            assert_true(strcmp(name + fl, "_bucket") == 0 || strcmp(name + fl, "_sum") == 0 ||
                        strcmp(name + fl, "_count") == 0);
        } else {
            assert_string_equal(name, family);
        }
        if (strcmp(type, "counter") == 0)
            assert_true(strlen(family) > 6 && strcmp(family + strlen(family) - 6, "_total") == 0);
        samples++;
    }
    assert_true(families >= 30);
    assert_true(samples > families);
    free(text);
    shape_free(&s);
    tb_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_metrics_bind__names_keep_their_slots),
        cmocka_unit_test(test_tb_metrics_bind__refuses_past_the_bound_and_changes_nothing),
        cmocka_unit_test(test_tb_metrics_bind__listener_and_cluster_bounds),
        cmocka_unit_test(test_tb_metrics_render__requests_summed_over_workers),
        cmocka_unit_test(test_tb_metrics_render__histogram_buckets_are_cumulative),
        cmocka_unit_test(test_tb_metrics_render__label_values_are_escaped),
        cmocka_unit_test(test_tb_metrics_render__propagation_and_spans),
        cmocka_unit_test(test_tb_metrics_render__process_reloads_degradation),
        cmocka_unit_test(test_tb_metrics_render__every_family_has_help_and_type),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
