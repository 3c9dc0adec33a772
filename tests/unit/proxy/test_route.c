/* SPDX-License-Identifier: MIT
 * Unit tests for proxy/route.c (Host and path-prefix matching) and
 * proxy/cluster.c (round-robin, ejection, back-off, panic mode).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/cluster.h"
#include "proxy/route.h"

#define IOV(s) ((struct tb_iov){(s), sizeof(s) - 1})

static struct tb_route_config routes[4];
static struct tb_listener_config listener = {.routes = routes, .num_routes = 4};

static void set_route(struct tb_route_config *r, const char *name, const char *host,
                      const char *prefix)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->host, sizeof(r->host), "%s", host);
    snprintf(r->path_prefix, sizeof(r->path_prefix), "%s", prefix);
}

static int setup_routes(void **state)
{
    (void)state;
    set_route(&routes[0], "api", "api.example.com", "/v1/");
    set_route(&routes[1], "wild", "*.example.com", "/");
    set_route(&routes[2], "static", "", "/static/");
    set_route(&routes[3], "rest", "", "/");
    return 0;
}

static const char *match(struct tb_iov host, struct tb_iov path)
{
    const struct tb_route_config *r = tb_route_match(&listener, host, path);

    return r != NULL ? r->name : "(none)";
}

static void test_tb_route_match__first_match_in_order(void **state)
{
    (void)state;
    assert_string_equal(match(IOV("api.example.com"), IOV("/v1/users")), "api");
    assert_string_equal(match(IOV("API.Example.COM:8080"), IOV("/v1/users?x=1")), "api");
    /* Same host, other path: falls through to the wildcard. */
    assert_string_equal(match(IOV("api.example.com"), IOV("/v2/users")), "wild");
    assert_string_equal(match(IOV("a.b.example.com"), IOV("/static/x")), "wild");
    /* The wildcard needs a label before the suffix. */
    assert_string_equal(match(IOV("example.com"), IOV("/static/x")), "static");
    assert_string_equal(match(IOV("other.org"), IOV("/v1/users")), "rest");
    assert_string_equal(match(IOV("other.org"), IOV("*")), "rest");
    /* Prefixes compare bytes: /v1 is not /v1/ */
    assert_string_equal(match(IOV("api.example.com"), IOV("/v1")), "wild");
}

static void test_tb_route_match__no_route(void **state)
{
    struct tb_listener_config only_api = {.routes = routes, .num_routes = 1};

    (void)state;
    assert_null(tb_route_match(&only_api, IOV("api.example.com"), IOV("/v2/")));
    assert_null(tb_route_match(&only_api, IOV("web.example.com"), IOV("/v1/")));
    assert_null(tb_route_match(&only_api, IOV(""), IOV("/v1/")));
    /* A trailing dot makes another name for the matcher. */
    assert_null(tb_route_match(&only_api, IOV("api.example.com."), IOV("/v1/")));
}

static void test_tb_route_host_name__ports_and_brackets(void **state)
{
    struct tb_iov h;

    (void)state;
    h = tb_route_host_name(IOV("[::1]:8080"));
    assert_int_equal(h.len, 3);
    assert_memory_equal(h.base, "::1", 3);
    h = tb_route_host_name(IOV("host:80"));
    assert_int_equal(h.len, 4);
    h = tb_route_host_name(IOV("host"));
    assert_int_equal(h.len, 4);
    h = tb_route_host_name(IOV("a:b"));
    assert_int_equal(h.len, 3); /* not a port: kept whole, matches nothing */
}

static struct tb_cluster_config cluster_cfg;
static struct tb_endpoint endpoints[3];
static struct tb_cluster cluster = {
    .cfg = &cluster_cfg, .endpoints = endpoints, .num_endpoints = 3};

static int setup_cluster(void **state)
{
    (void)state;
    memset(endpoints, 0, sizeof(endpoints));
    memset(&cluster_cfg, 0, sizeof(cluster_cfg));
    cluster_cfg.eject_after = 1;
    cluster_cfg.eject_base_ms = 1000;
    cluster_cfg.eject_max_ms = 3000;
    return 0;
}

static size_t pick(unsigned *cursor, uint64_t tried, uint64_t now)
{
    size_t index = 99;
    struct tb_endpoint *ep = tb_cluster_pick(&cluster, cursor, tried, now, &index);

    if (ep == NULL)
        return 99;
    assert_ptr_equal(ep, &endpoints[index]);
    return index;
}

static void test_tb_cluster_pick__round_robin_skips_ejected(void **state)
{
    unsigned cursor = 0;

    (void)state;
    assert_int_equal(pick(&cursor, 0, 100), 0);
    assert_int_equal(pick(&cursor, 0, 100), 1);
    assert_int_equal(pick(&cursor, 0, 100), 2);
    assert_int_equal(pick(&cursor, 0, 100), 0);
    assert_true(tb_endpoint_report(&cluster, &endpoints[1], false, 100));
    assert_int_equal(tb_cluster_ejected(&cluster, 100), 1);
    assert_int_equal(pick(&cursor, 0, 100), 2);
    assert_int_equal(pick(&cursor, 0, 100), 0);
    assert_int_equal(pick(&cursor, 0, 100), 2);
    /* Back after the back-off. */
    assert_int_equal(tb_cluster_ejected(&cluster, 1100), 0);
    assert_int_equal(pick(&cursor, 0, 1100), 0);
    assert_int_equal(pick(&cursor, 0, 1100), 1);
    /* A retry skips the endpoints already tried, then gives up. */
    cursor = 0;
    assert_int_equal(pick(&cursor, 1u << 0, 1100), 1);
    assert_int_equal(pick(&cursor, 7u, 1100), 99);
}

static void test_tb_endpoint_report__backoff_doubles_to_the_cap_and_resets(void **state)
{
    (void)state;
    assert_true(tb_endpoint_report(&cluster, &endpoints[0], false, 0));
    assert_int_equal(endpoints[0].ejected_until_ms, 1000);
    assert_true(tb_endpoint_report(&cluster, &endpoints[0], false, 1000));
    assert_int_equal(endpoints[0].ejected_until_ms, 3000);
    assert_true(tb_endpoint_report(&cluster, &endpoints[0], false, 3000));
    assert_int_equal(endpoints[0].ejected_until_ms, 6000); /* capped at 3000 */
    assert_false(tb_endpoint_report(&cluster, &endpoints[0], true, 6000));
    assert_true(tb_endpoint_report(&cluster, &endpoints[0], false, 7000));
    assert_int_equal(endpoints[0].ejected_until_ms, 8000);
}

static void test_tb_endpoint_report__consecutive_failures_threshold(void **state)
{
    (void)state;
    cluster_cfg.eject_after = 3;
    assert_false(tb_endpoint_report(&cluster, &endpoints[2], false, 0));
    assert_false(tb_endpoint_report(&cluster, &endpoints[2], false, 0));
    assert_false(tb_endpoint_report(&cluster, &endpoints[2], true, 0)); /* resets the run */
    assert_false(tb_endpoint_report(&cluster, &endpoints[2], false, 0));
    assert_false(tb_endpoint_report(&cluster, &endpoints[2], false, 0));
    assert_true(tb_endpoint_report(&cluster, &endpoints[2], false, 0));
}

static void test_tb_cluster_pick__all_ejected_panics_to_soonest(void **state)
{
    unsigned cursor = 0;

    (void)state;
    tb_endpoint_report(&cluster, &endpoints[0], false, 0);   /* until 1000 */
    tb_endpoint_report(&cluster, &endpoints[1], false, 0);   /* until 1000 */
    tb_endpoint_report(&cluster, &endpoints[1], false, 500); /* until 2500 */
    tb_endpoint_report(&cluster, &endpoints[2], false, 200); /* until 1200 */
    assert_int_equal(pick(&cursor, 0, 600), 0);
    assert_int_equal(pick(&cursor, 1u << 0, 600), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_tb_route_match__first_match_in_order, setup_routes),
        cmocka_unit_test_setup(test_tb_route_match__no_route, setup_routes),
        cmocka_unit_test(test_tb_route_host_name__ports_and_brackets),
        cmocka_unit_test_setup(test_tb_cluster_pick__round_robin_skips_ejected, setup_cluster),
        cmocka_unit_test_setup(test_tb_endpoint_report__backoff_doubles_to_the_cap_and_resets,
                               setup_cluster),
        cmocka_unit_test_setup(test_tb_endpoint_report__consecutive_failures_threshold,
                               setup_cluster),
        cmocka_unit_test_setup(test_tb_cluster_pick__all_ejected_panics_to_soonest, setup_cluster),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
