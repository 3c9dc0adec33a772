/* SPDX-License-Identifier: MIT
 * Unit tests for proxy/config_file.c and the load in proxy/config.c: a
 * complete file read into every field, one exact FILE:LINE:COLUMN message
 * per error class, precedence (file < environment < flag), route
 * inheritance of the top-level policy, duration units, check-config's JSON.
 */
#include <stdlib.h>
#include <unistd.h>

#include "spans/json_check.h"

#include "proxy/config.h"
#include "proxy/config_file.h"

/* Reads `yaml` over the defaults; the errors land in `err`. */
static int read_yaml(struct tb_config *cfg, const char *yaml, char *err, size_t err_size)
{
    FILE *f = fmemopen(err, err_size, "w");
    int status;

    memset(err, 0, err_size);
    tb_config_defaults(cfg);
    status = tb_config_file_parse(cfg, "t.yaml", yaml, strlen(yaml), f);
    fclose(f);
    return status;
}

static const char full_yaml[] =
    "workers: 2\n"
    "log_level: debug\n"
    "role: outbound\n"
    "trust: ignore\n"
    "service: {name: checkout, instance: checkout-1}\n"
    "resource: {attributes: {deployment.environment: prod, team: a b}}\n"
    "admin: {address: \"[::1]:9902\"}\n"
    "access_log: {path: /var/log/tb.log, format: '$status $path', buffer_size: 64k,\n"
    "             flush_interval: 250ms}\n"
    "timeouts: {connect: 2s, header: 1.5, upstream: 1m, idle: 1h}\n"
    "shutdown: {delay: 5s, drain_timeout: 45}\n"
    "limits: {max_header_size: 32k, max_request_line: 4096, max_idle_upstream: 7}\n"
    "propagation: {extract: [sw8, tracecontext], inject: 'b3multi, baggage', clear: [jaeger],\n"
    "              mode: add}\n"
    "sampling: {sampler: parentbased_traceidratio, arg: 0.25, max_root_spans_per_second: 100}\n"
    "export:\n"
    "  exporters: [otlp, zipkin, skywalking, file]\n"
    "  timeout: 3s\n"
    "  otlp: {endpoint: 'http://c:4318/v1/traces', protocol: http/json, compression: gzip,\n"
    "         headers: {x-api-key: 's3cr,t=1'}}\n"
    "  zipkin: {endpoint: 'http://z:9411/api/v2/spans'}\n"
    "  skywalking: {endpoint: 'http://oap:12800'}\n"
    "  file: {path: /tmp/spans.jsonl}\n"
    "  batch: {max_queue_size: 4096, max_export_batch_size: 128, schedule_delay: 500ms}\n"
    "degradation: {enabled: false, queue_high: 70, loop_lag: 50ms, recover_after: 10s}\n"
    "listeners:\n"
    "  - name: inbound\n"
    "    address: 0.0.0.0:8080\n"
    "    role: inbound\n"
    "    routes:\n"
    "      - name: api\n"
    "        match: {host: '*.example.com', path_prefix: /api/}\n"
    "        cluster: app\n"
    "        propagation: {inject: [b3]}\n"
    "        sampling: {sampler: always_off}\n"
    "        timeouts: {connect: 1s, upstream: 30s}\n"
    "      - cluster: legacy\n"
    "  - name: outbound\n"
    "    address: 127.0.0.1:15001\n"
    "    trust: restart-and-link\n"
    "    routes: [{name: all, cluster: app, sampling: {arg: 0.5}}]\n"
    "clusters:\n"
    "  - name: app\n"
    "    endpoints: [127.0.0.1:8081, '[::1]:8082']\n"
    "    ejection: {consecutive_failures: 3, base: 2s, max: 1m}\n"
    "  - name: legacy\n"
    "    endpoints: '10.0.0.1:80, 10.0.0.2:81'\n";

static void test_tb_config_file_parse__every_field(void **state)
{
    struct tb_config cfg;
    char err[1024];
    const struct tb_route_config *api, *legacy, *all;

    (void)state;
    assert_int_equal(read_yaml(&cfg, full_yaml, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(tb_config_finish(&cfg, stderr), 0);
    assert_int_equal(cfg.workers, 2);
    assert_int_equal(cfg.log_level, 0);
    assert_int_equal(cfg.role, TB_SPAN_KIND_CLIENT);
    assert_int_equal(cfg.trust, TB_TRUST_IGNORE);
    assert_string_equal(cfg.service_name, "checkout");
    assert_string_equal(cfg.service_instance, "checkout-1");
    assert_string_equal(cfg.resource_attributes, "deployment.environment=prod,team=a%20b");
    assert_int_equal(cfg.admin_enabled, 1);
    assert_string_equal(cfg.admin.host, "::1");
    assert_string_equal(cfg.admin.port, "9902");
    assert_string_equal(cfg.access_log, "/var/log/tb.log");
    assert_int_equal(cfg.access_log_format, TB_ACCESS_LOG_TEMPLATE);
    assert_string_equal(cfg.access_log_template, "$status $path");
    assert_int_equal(cfg.access_log_buffer, 65536);
    assert_int_equal(cfg.access_log_flush_ms, 250);
    assert_int_equal(cfg.connect_timeout_ms, 2000);
    assert_int_equal(cfg.header_timeout_ms, 1500);
    assert_int_equal(cfg.upstream_timeout_ms, 60000);
    assert_int_equal(cfg.idle_timeout_ms, 3600000);
    assert_int_equal(cfg.shutdown_delay_ms, 5000);
    assert_int_equal(cfg.drain_timeout_ms, 45000);
    assert_int_equal(cfg.max_header_size, 32768);
    assert_int_equal(cfg.max_request_line, 4096);
    assert_int_equal(cfg.max_idle_upstream, 7);
    assert_int_equal(cfg.propagation.num_extract, 2);
    assert_int_equal(cfg.propagation.extract[0], TB_FORMAT_SW8);
    assert_int_equal(cfg.propagation.extract[1], TB_FORMAT_TRACECONTEXT);
    assert_int_equal(cfg.propagation.num_inject, 2);
    assert_int_equal(cfg.propagation.inject[0], TB_FORMAT_B3MULTI);
    assert_int_equal(cfg.propagation.inject[1], TB_FORMAT_BAGGAGE);
    assert_int_equal(cfg.propagation.clear, TB_FORMAT_BIT(TB_FORMAT_JAEGER));
    assert_int_equal(cfg.propagation.mode, TB_INJECT_ADD);
    assert_int_equal(cfg.sampler.kind, TB_SAMPLER_PARENTBASED_TRACEIDRATIO);
    assert_true(cfg.sampler.ratio == 0.25);
    assert_int_equal(cfg.max_root_spans_per_second, 100);
    assert_int_equal(cfg.export.enabled, 0xf);
    assert_int_equal(cfg.export.export_timeout_ms, 3000);
    assert_string_equal(cfg.export.otlp_url, "http://c:4318/v1/traces");
    assert_true(cfg.export.otlp_json);
    assert_true(cfg.export.otlp_gzip);
    assert_int_equal(cfg.export.num_otlp_headers, 1);
    assert_string_equal(cfg.export.otlp_headers[0].name, "x-api-key");
    assert_string_equal(cfg.export.otlp_headers[0].value, "s3cr,t=1");
    assert_string_equal(cfg.export.zipkin_url, "http://z:9411/api/v2/spans");
    assert_string_equal(cfg.export.skywalking_url, "http://oap:12800");
    assert_string_equal(cfg.export.file_path, "/tmp/spans.jsonl");
    assert_int_equal(cfg.export.max_queue, 4096);
    assert_int_equal(cfg.export.max_batch, 128);
    assert_int_equal(cfg.export.schedule_delay_ms, 500);
    assert_int_equal(cfg.degrade_enabled, 0);
    assert_int_equal(cfg.degrade_queue_high, 70);
    assert_int_equal(cfg.degrade_lag_ms, 50);
    assert_int_equal(cfg.degrade_recover_ms, 10000);

    assert_int_equal(cfg.num_listeners, 2);
    assert_string_equal(cfg.listeners[0].name, "inbound");
    assert_string_equal(cfg.listeners[0].address.host, "0.0.0.0");
    assert_string_equal(cfg.listeners[0].address.port, "8080");
    assert_int_equal(cfg.listeners[0].role, TB_SPAN_KIND_SERVER);
    assert_int_equal(cfg.listeners[0].trust, TB_TRUST_IGNORE); /* the top level's */
    assert_int_equal(cfg.listeners[0].source_line, 27);
    assert_int_equal(cfg.listeners[0].num_routes, 2);
    assert_int_equal(cfg.listeners[1].role, TB_SPAN_KIND_CLIENT); /* the top level's */
    assert_int_equal(cfg.listeners[1].trust, TB_TRUST_RESTART_LINK);
    api = &cfg.listeners[0].routes[0];
    legacy = &cfg.listeners[0].routes[1];
    all = &cfg.listeners[1].routes[0];
    assert_string_equal(api->name, "api");
    assert_string_equal(api->host, "*.example.com");
    assert_string_equal(api->path_prefix, "/api/");
    assert_string_equal(api->cluster_name, "app");
    assert_int_equal(api->cluster, 0);
    assert_int_equal(api->connect_timeout_ms, 1000);
    assert_int_equal(api->upstream_timeout_ms, 30000);
    assert_int_equal(api->sampler.kind, TB_SAMPLER_ALWAYS_OFF);
    assert_int_equal(api->source_line, 31);
    assert_string_equal(legacy->name, "");
    assert_string_equal(legacy->host, "");
    assert_string_equal(legacy->path_prefix, "/");
    assert_int_equal(legacy->cluster, 1);
    assert_int_equal(legacy->connect_timeout_ms, 2000);
    assert_int_equal(legacy->upstream_timeout_ms, 60000);
    assert_int_equal(all->sampler.kind, TB_SAMPLER_PARENTBASED_TRACEIDRATIO);
    assert_true(all->sampler.ratio == 0.5);

    assert_int_equal(cfg.num_clusters, 2);
    assert_int_equal(cfg.clusters[0].num_endpoints, 2);
    assert_string_equal(cfg.clusters[0].endpoints[1].host, "::1");
    assert_string_equal(cfg.clusters[0].endpoints[1].port, "8082");
    assert_int_equal(cfg.clusters[0].eject_after, 3);
    assert_int_equal(cfg.clusters[0].eject_base_ms, 2000);
    assert_int_equal(cfg.clusters[0].eject_max_ms, 60000);
    assert_int_equal(cfg.clusters[1].num_endpoints, 2);
    assert_string_equal(cfg.clusters[1].endpoints[1].host, "10.0.0.2");
    assert_string_equal(cfg.clusters[1].endpoints[1].port, "81");
    assert_int_equal(cfg.clusters[1].eject_after, 1);
    assert_int_equal(cfg.clusters[1].eject_base_ms, 1000);
    assert_int_equal(cfg.clusters[1].eject_max_ms, 30000);
    /* Callers that serve one listener see the first one. */
    assert_string_equal(cfg.listen.port, "8080");
    assert_string_equal(cfg.upstream.port, "8081");
    tb_config_free(&cfg);
}

static void test_tb_config_file_parse__route_inherits_key_by_key(void **state)
{
    static const char yaml[] = "propagation: {extract: [b3, sw8], inject: [tracecontext],\n"
                               "              clear: [jaeger], mode: add}\n"
                               "sampling: {sampler: traceidratio, arg: 0.1}\n"
                               "listeners:\n"
                               "  - name: l\n"
                               "    address: 127.0.0.1:1\n"
                               "    routes:\n"
                               "      - {cluster: c, propagation: {inject: [b3multi, sw8]}}\n"
                               "      - {cluster: c, propagation: {mode: replace, clear: []}}\n"
                               "      - {cluster: c}\n"
                               "clusters: [{name: c, endpoints: [127.0.0.1:2]}]\n";
    struct tb_config cfg;
    const struct tb_prop_policy *p;
    char err[512];

    (void)state;
    assert_int_equal(read_yaml(&cfg, yaml, err, sizeof(err)), 0);
    assert_int_equal(tb_config_finish(&cfg, stderr), 0);
    p = &cfg.listeners[0].routes[0].propagation;
    assert_int_equal(cfg.listeners[0].routes[0].set, TB_ROUTE_SET_INJECT);
    assert_int_equal(p->num_inject, 2);
    assert_int_equal(p->inject[0], TB_FORMAT_B3MULTI);
    assert_int_equal(p->inject[1], TB_FORMAT_SW8);
    assert_int_equal(p->num_extract, 2); /* inherited */
    assert_int_equal(p->extract[0], TB_FORMAT_B3);
    assert_int_equal(p->clear, TB_FORMAT_BIT(TB_FORMAT_JAEGER));
    assert_int_equal(p->mode, TB_INJECT_ADD);
    p = &cfg.listeners[0].routes[1].propagation;
    assert_int_equal(p->num_inject, 1);
    assert_int_equal(p->inject[0], TB_FORMAT_TRACECONTEXT);
    assert_int_equal(p->clear, 0);
    assert_int_equal(p->mode, TB_INJECT_REPLACE);
    p = &cfg.listeners[0].routes[2].propagation;
    assert_int_equal(p->num_inject, 1);
    assert_int_equal(p->mode, TB_INJECT_ADD);
    assert_int_equal(cfg.listeners[0].routes[2].sampler.kind, TB_SAMPLER_TRACEIDRATIO);
    assert_true(cfg.listeners[0].routes[2].sampler.ratio == 0.1);
    tb_config_free(&cfg);
}

/* One error per class, with the exact first line printed. */
static void test_tb_config_file_parse__errors_name_file_line_column(void **state)
{
    static const struct {
        const char *yaml;
        const char *expected;
    } cases[] = {
        {"timeouts: {conect: 5}\n",
         "tracebridge: t.yaml:1:12: timeouts: unknown key 'conect' (expected one of: connect, "
         "header, upstream, idle)\n"},
        {"workers: 2\nfrobnicate: 1\n",
         "tracebridge: t.yaml:2:1: unknown key 'frobnicate' (expected one of: role, trust, "
         "workers, log_level, timeouts, shutdown, limits, propagation, sampling, service, "
         "resource, export, admin, access_log, degradation, listeners, clusters)\n"},
        {"workers: [1]\n", "tracebridge: t.yaml:1:10: workers: expected a scalar (N), found a "
                           "sequence\n"},
        {"timeouts: 5\n", "tracebridge: t.yaml:1:11: timeouts: expected a mapping with keys "
                          "connect, header, upstream, idle, found a scalar\n"},
        {"timeouts:\n  connect: 5x\n",
         "tracebridge: t.yaml:2:12: timeouts.connect: invalid value '5x': expected seconds, or a "
         "number with a unit ms, s, m or h (e.g. 5, 0.25, 250ms, 2m)\n"},
        {"workers: 0\n",
         "tracebridge: t.yaml:1:10: workers: invalid value '0': expected a value from 1 to 256\n"},
        {"workers:\n", "tracebridge: t.yaml:1:9: workers: a value is required: a scalar (N)\n"},
        {"workers: 1\nworkers: 2\n",
         "tracebridge: t.yaml:2:1: workers: duplicate key (first at line 1)\n"},
        {"admin: {address: 'localhost'}\n",
         "tracebridge: t.yaml:1:18: admin.address: invalid value 'localhost': expected "
         "HOST:PORT, [IPv6]:PORT or off\n"},
        {"propagation: {inject: [b3, w3c]}\n",
         "tracebridge: t.yaml:1:23: propagation.inject: invalid value 'b3,w3c': expected a "
         "comma-separated list of tracecontext, baggage, b3, b3multi, jaeger, xray, ottrace, "
         "datadog, sw8, eagleeye, or none alone ('w3c' is not one)\n"},
        {"a: [1, 2\n", "tracebridge: t.yaml:2:1: did not find expected ',' or ']' while parsing "
                       "a flow sequence (line 1)\n"},
        {"a: &x 1\nb: *x\n",
         "tracebridge: t.yaml:2:4: aliases are not supported: repeat the value\n"},
        {"- 1\n", "tracebridge: t.yaml:1:1: the file must be a mapping of settings (workers: 2, "
                  "listeners: [...]), not a sequence\n"},
        {"a: 1\n---\nb: 2\n",
         "tracebridge: t.yaml:2:1: one YAML document expected; a second starts here\n"},
        {"listeners:\n"
         "  - name: a\n"
         "    address: 127.0.0.1:8080\n"
         "    routes:\n"
         "      - cluster: app\n"
         "      - cluster: ap\n"
         "clusters:\n"
         "  - {name: app, endpoints: [127.0.0.1:1]}\n"
         "  - {name: legacy, endpoints: [127.0.0.1:2]}\n",
         "tracebridge: t.yaml:6:18: listeners[0].routes[1].cluster: unknown cluster 'ap' "
         "(clusters: app, legacy)\n"},
        {"listeners:\n"
         "  - {name: a, address: 127.0.0.1:1, routes: [{cluster: c}]}\n"
         "  - {name: a, address: 127.0.0.1:2, routes: [{cluster: c}]}\n"
         "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n",
         "tracebridge: t.yaml:3:12: listeners[1].name: duplicate listener name 'a' (first at "
         "line 2)\n"},
        {"listeners:\n"
         "  - {name: a, address: 127.0.0.1:1, routes: [{cluster: c}]}\n"
         "  - {name: b, address: 127.0.0.1:1, routes: [{cluster: c}]}\n"
         "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n",
         "tracebridge: t.yaml:3:24: listeners[1].address: listeners 'a' and 'b' use the same "
         "address\n"},
        {"listeners:\n"
         "  - {name: a, address: 127.0.0.1:1, routes: [{name: r, cluster: c},\n"
         "                                             {name: r, cluster: c}]}\n"
         "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n",
         "tracebridge: t.yaml:3:53: listeners[0].routes[1].name: duplicate route name 'r' in "
         "this listener (first at line 2)\n"},
        {"listeners:\n"
         "  - {name: a, address: 127.0.0.1:1, routes: [{cluster: c}]}\n"
         "clusters: [{name: c, endpoints: [127.0.0.1:1]}, {name: c, endpoints: [127.0.0.1:2]}]\n",
         "tracebridge: t.yaml:3:56: clusters[1].name: duplicate cluster name 'c' (first at line "
         "3)\n"},
        {"clusters:\n  - name: c\n    endpoints: []\n",
         "tracebridge: t.yaml:3:16: clusters[0]: 'endpoints' is empty: a cluster needs at least "
         "one endpoint: [HOST:PORT, ...]\n"},
        {"clusters:\n  - name: c\n",
         "tracebridge: t.yaml:2:5: clusters[0]: missing key 'endpoints' (a cluster needs at "
         "least one endpoint: [HOST:PORT, ...])\n"},
        {"listeners:\n  - name: a\n    address: 127.0.0.1:8080\n    routes: []\n",
         "tracebridge: t.yaml:4:13: listeners[0]: 'routes' is empty: a listener needs at least "
         "one route\n"},
        {"listeners:\n  - name: a\n    address: 127.0.0.1:99999\n    routes: [{cluster: c}]\n"
         "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n",
         "tracebridge: t.yaml:3:14: listeners[0].address: invalid value '127.0.0.1:99999': "
         "expected HOST:PORT with a port from 0 to 65535\n"},
        {"clusters: [{name: c, endpoints: '127.0.0.1:0'}]\n",
         "tracebridge: t.yaml:1:33: clusters[0].endpoints: invalid endpoint '127.0.0.1:0': "
         "expected HOST:PORT with a port from 1 to 65535\n"},
        {"listeners:\n  - name: 'a b'\n",
         "tracebridge: t.yaml:2:11: listeners[0].name: invalid name 'a b': expected a name of 1 "
         "to 63 letters, digits, '_', '-' or '.'\n"},
        {"listeners: {a: 1}\n",
         "tracebridge: t.yaml:1:12: listeners: expected a sequence of listeners, found a "
         "mapping\n"},
        {"listeners:\n  - name: a\n    address: 127.0.0.1:1\n    routes:\n"
         "      - {cluster: c, match: {path_prefix: api}}\n"
         "clusters: [{name: c, endpoints: [127.0.0.1:1]}]\n",
         "tracebridge: t.yaml:5:43: listeners[0].routes[0].match.path_prefix: invalid path prefix "
         "'api': expected a path starting with '/', without spaces\n"},
        {"listeners:\n  - name: a\n    address: 127.0.0.1:1\n    routes:\n"
         "      - {name: x}\n",
         "tracebridge: t.yaml:5:9: listeners[0].routes[0]: missing key 'cluster' (the name of a "
         "cluster)\n"},
        {"clusters: [{name: c, endpoints: [1.2.3.4:5], ejection: {base: 5s, max: 1s}}]\n",
         "tracebridge: t.yaml:1:56: clusters[0]: ejection.max must not be below ejection.base\n"},
        {"degradation: {enabled: maybe}\n",
         "tracebridge: t.yaml:1:24: degradation.enabled: invalid value 'maybe': expected true, "
         "false, on or off\n"},
        {"a: \xff\n", "tracebridge: t.yaml:1:4: invalid leading UTF-8 octet (byte 0xff)\n"},
    };

    int failed = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tb_config cfg;
        char err[2048];
        size_t first_len;

        if (read_yaml(&cfg, cases[i].yaml, err, sizeof(err)) != -1) {
            print_error("case %zu: read, expected an error\n", i);
            failed = 1;
        }
        first_len = strcspn(err, "\n") + 1;
        if (strncmp(err, cases[i].expected, strlen(cases[i].expected)) != 0 ||
            (cases[i].expected[strlen(cases[i].expected) - 1] == '\n' &&
             first_len != strlen(cases[i].expected))) {
            print_error("case %zu:\n got      %s expected %s", i, err, cases[i].expected);
            failed = 1;
        }
        tb_config_free(&cfg);
    }
    assert_false(failed);
}

static void test_tb_config_file_parse__never_more_than_the_error_cap(void **state)
{
    char yaml[4096], err[16384];
    size_t used = 0, lines = 0;
    struct tb_config cfg;

    (void)state;
    for (int i = 0; i < 100; i++)
        used += (size_t)snprintf(yaml + used, sizeof(yaml) - used, "k%d: 1\n", i);
    assert_int_equal(read_yaml(&cfg, yaml, err, sizeof(err)), -1);
    for (const char *p = err; *p != '\0'; p++)
        lines += *p == '\n';
    assert_int_equal(lines, TB_CONFIG_MAX_ERRORS + 1);
    assert_non_null(strstr(err, "too many errors"));
    tb_config_free(&cfg);
}

/* ------------------------------------------------------------------------ */
/* the load: precedence, flags, environment                                  */

static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
    for (const char *const *e = fake_env; e != NULL && *e != NULL; e += 2)
        if (strcmp(e[0], name) == 0)
            return e[1];
    return NULL;
}

struct load_run {
    struct tb_config cfg;
    enum tb_config_cli_result result;
    char out[32768];
    char err[2048];
};

static void load(struct load_run *run, const char *const *args, const char *const *env)
{
    char *argv[64];
    int argc = 0;
    FILE *out = fmemopen(run->out, sizeof(run->out), "w");
    FILE *err = fmemopen(run->err, sizeof(run->err), "w");

    argv[argc++] = "tracebridge";
    while (*args != NULL && argc < 63)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    memset(run->out, 0, sizeof(run->out));
    memset(run->err, 0, sizeof(run->err));
    fake_env = env;
    run->result = tb_config_load(&run->cfg, argc, argv, fake_getenv, out, err);
    fclose(out);
    fclose(err);
}

/* A temporary file holding `text`; its name goes to `path`. */
static void write_temp(char *path, size_t size, const char *text)
{
    int fd;

    snprintf(path, size, "/tmp/tb-config-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static const char small_yaml[] = "service: {name: from-file}\n"
                                 "timeouts: {connect: 7s, idle: 8s}\n"
                                 "workers: 3\n"
                                 "listeners:\n"
                                 "  - {name: l, address: 127.0.0.1:1, routes: [{cluster: c}]}\n"
                                 "clusters: [{name: c, endpoints: [127.0.0.1:2]}]\n";

static void test_tb_config_load__file_env_flag_precedence(void **state)
{
    static const char *const env[] = {"TRACEBRIDGE_CONNECT_TIMEOUT",
                                      "250ms",
                                      "TRACEBRIDGE_IDLE_TIMEOUT",
                                      "9",
                                      "OTEL_SERVICE_NAME",
                                      "from-otel",
                                      NULL};
    static const char *const env_both[] = {"OTEL_SERVICE_NAME", "from-otel",
                                           "TRACEBRIDGE_SERVICE_NAME", "from-tb", NULL};
    char path[64];
    struct load_run *run = malloc(sizeof(*run));

    (void)state;
    write_temp(path, sizeof(path), small_yaml);
    {
        const char *const args[] = {"-c", path, NULL};

        load(run, args, NULL);
        assert_int_equal(run->result, TB_CONFIG_CLI_RUN);
        assert_int_equal(run->cfg.connect_timeout_ms, 7000);
        assert_string_equal(run->cfg.service_name, "from-file");
        assert_int_equal(run->cfg.workers, 3);
        assert_string_equal(run->cfg.file, path);
        tb_config_free(&run->cfg);
    }
    {
        const char *const args[] = {"--config", path, NULL};

        load(run, args, env);
        assert_int_equal(run->result, TB_CONFIG_CLI_RUN);
        assert_int_equal(run->cfg.connect_timeout_ms, 250); /* env beats file */
        assert_int_equal(run->cfg.idle_timeout_ms, 9000);
        assert_string_equal(run->cfg.service_name, "from-otel");
        assert_int_equal(run->cfg.workers, 3);
        tb_config_free(&run->cfg);
    }
    {
        const char *const args[] = {"--connect-timeout=2m", "--config=", NULL};
        const char *const args2[] = {"--connect-timeout", "1h", "-c", path, "--workers", "4", NULL};

        load(run, args, env);
        assert_int_equal(run->result, TB_CONFIG_CLI_ERROR); /* an empty file name */
        load(run, args2, env);
        assert_int_equal(run->result, TB_CONFIG_CLI_RUN);
        assert_int_equal(run->cfg.connect_timeout_ms, 3600000); /* flag beats env */
        assert_int_equal(run->cfg.idle_timeout_ms, 9000);
        assert_int_equal(run->cfg.workers, 4);
        /* route timeouts inherit the effective top-level value */
        assert_int_equal(run->cfg.listeners[0].routes[0].connect_timeout_ms, 3600000);
        tb_config_free(&run->cfg);
    }
    {
        const char *const args[] = {"-c", path, NULL};

        load(run, args, env_both);
        assert_int_equal(run->result, TB_CONFIG_CLI_RUN);
        assert_string_equal(run->cfg.service_name, "from-tb"); /* TRACEBRIDGE_ beats OTEL_ */
        tb_config_free(&run->cfg);
    }
    {
        const char *const args[] = {NULL};
        const char *e[] = {"TRACEBRIDGE_CONFIG", path, NULL};

        load(run, args, e);
        assert_int_equal(run->result, TB_CONFIG_CLI_RUN);
        assert_int_equal(run->cfg.workers, 3);
        tb_config_free(&run->cfg);
    }
    unlink(path);
    free(run);
}

static void test_tb_config_load__listen_conflicts_with_file_listeners(void **state)
{
    static const char *const env[] = {"TRACEBRIDGE_LISTEN", "127.0.0.1:5", NULL};
    char path[64];
    struct load_run *run = malloc(sizeof(*run));

    (void)state;
    write_temp(path, sizeof(path), small_yaml);
    {
        const char *const args[] = {"-c",         path,          "--listen", "127.0.0.1:3",
                                    "--upstream", "127.0.0.1:4", NULL};

        load(run, args, NULL);
        assert_int_equal(run->result, TB_CONFIG_CLI_ERROR);
        assert_non_null(strstr(run->err, "cannot be used with"));
        assert_non_null(strstr(run->err, "defines listeners"));
        assert_null(run->cfg.listeners);
    }
    {
        const char *const args[] = {"-c", path, NULL};

        load(run, args, env);
        assert_int_equal(run->result, TB_CONFIG_CLI_ERROR);
        assert_non_null(strstr(run->err, "TRACEBRIDGE_LISTEN"));
    }
    {
        const char *const args[] = {"--upstream", "127.0.0.1:4", NULL};

        load(run, args, NULL);
        assert_int_equal(run->result, TB_CONFIG_CLI_ERROR);
        assert_non_null(strstr(run->err, "--listen HOST:PORT is required"));
    }
    {
        const char *const args[] = {"--upstream", "127.0.0.1:4", NULL};

        load(run, args, env); /* the listen address from the environment */
        assert_int_equal(run->result, TB_CONFIG_CLI_RUN);
        assert_string_equal(run->cfg.listeners[0].name, "main");
        assert_string_equal(run->cfg.listeners[0].address.port, "5");
        assert_string_equal(run->cfg.clusters[0].endpoints[0].port, "4");
        tb_config_free(&run->cfg);
    }
    {
        const char *const args[] = {"-c", "/nonexistent/tb.yaml", NULL};

        load(run, args, NULL);
        assert_int_equal(run->result, TB_CONFIG_CLI_ERROR);
        assert_string_equal(run->err,
                            "tracebridge: /nonexistent/tb.yaml: cannot read: No such file or "
                            "directory\n");
    }
    {
        const char *const args[] = {"--help", "-c", "/nonexistent/tb.yaml", NULL};

        load(run, args, NULL);
        assert_int_equal(run->result, TB_CONFIG_CLI_EXIT_OK);
        assert_non_null(strstr(run->out, "check-config"));
    }
    unlink(path);
    free(run);
}

static void test_tb_config_load__durations_and_new_flags(void **state)
{
    static const char *const args[] = {"--listen",
                                       "127.0.0.1:1",
                                       "--upstream",
                                       "127.0.0.1:2",
                                       "--connect-timeout",
                                       "1.5s",
                                       "--header-timeout",
                                       "250ms",
                                       "--idle-timeout",
                                       "2m",
                                       "--upstream-timeout",
                                       "1h",
                                       "--drain-timeout",
                                       "0",
                                       "--shutdown-delay",
                                       "5",
                                       "--admin",
                                       "off",
                                       "--access-log",
                                       "-",
                                       "--access-log-format",
                                       "$method $path",
                                       "--access-log-buffer",
                                       "8k",
                                       "--access-log-flush",
                                       "0.5",
                                       "--trust",
                                       "restart-and-link",
                                       "--degrade",
                                       "off",
                                       "--degrade-queue-high",
                                       "95",
                                       "--degrade-lag",
                                       "20ms",
                                       "--degrade-recover",
                                       "1m",
                                       NULL};
    static const struct {
        const char *flag, *value, *message;
    } bad[] = {
        {"--connect-timeout", "5 s", "seconds, or a number with a unit"},
        {"--connect-timeout", "-1", "seconds, or a number with a unit"},
        {"--connect-timeout", "1e3", "seconds, or a number with a unit"},
        {"--connect-timeout", "2d", "seconds, or a number with a unit"},
        {"--connect-timeout", "0ms", "seconds from 0.001 to 86400"},
        {"--degrade-queue-high", "101", "a value from 0 to 100"},
        {"--degrade", "yes", "true, false, on or off"},
        {"--trust", "always", "trust, ignore or restart-and-link"},
        {"--access-log-format", "common", "json, or a template"},
        {"--admin", "9901", "HOST:PORT, [IPv6]:PORT or off"},
        {"--sampler-arg", "1.5", "a ratio from 0 to 1"},
    };
    struct load_run *run = malloc(sizeof(*run));

    (void)state;
    load(run, args, NULL);
    assert_int_equal(run->result, TB_CONFIG_CLI_RUN);
    assert_int_equal(run->cfg.connect_timeout_ms, 1500);
    assert_int_equal(run->cfg.header_timeout_ms, 250);
    assert_int_equal(run->cfg.idle_timeout_ms, 120000);
    assert_int_equal(run->cfg.upstream_timeout_ms, 3600000);
    assert_int_equal(run->cfg.drain_timeout_ms, 0);
    assert_int_equal(run->cfg.shutdown_delay_ms, 5000);
    assert_int_equal(run->cfg.admin_enabled, 0);
    assert_string_equal(run->cfg.access_log, "-");
    assert_int_equal(run->cfg.access_log_format, TB_ACCESS_LOG_TEMPLATE);
    assert_string_equal(run->cfg.access_log_template, "$method $path");
    assert_int_equal(run->cfg.access_log_buffer, 8192);
    assert_int_equal(run->cfg.access_log_flush_ms, 500);
    assert_int_equal(run->cfg.trust, TB_TRUST_RESTART_LINK);
    assert_int_equal(run->cfg.listeners[0].trust, TB_TRUST_RESTART_LINK);
    assert_int_equal(run->cfg.degrade_enabled, 0);
    assert_int_equal(run->cfg.degrade_queue_high, 95);
    assert_int_equal(run->cfg.degrade_lag_ms, 20);
    assert_int_equal(run->cfg.degrade_recover_ms, 60000);
    tb_config_free(&run->cfg);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *const a[] = {"--listen",  "127.0.0.1:1", "--upstream", "127.0.0.1:2",
                                 bad[i].flag, bad[i].value,  NULL};

        load(run, a, NULL);
        if (run->result != TB_CONFIG_CLI_ERROR || strstr(run->err, bad[i].message) == NULL ||
            strstr(run->err, bad[i].flag) == NULL)
            fail_msg("%s %s: got '%s'", bad[i].flag, bad[i].value, run->err);
    }
    free(run);
}

static void test_tb_config_defaults__new_settings(void **state)
{
    struct tb_config cfg;

    (void)state;
    tb_config_defaults(&cfg);
    assert_int_equal(cfg.admin_enabled, 1);
    assert_string_equal(cfg.admin.host, "127.0.0.1");
    assert_string_equal(cfg.admin.port, "9901");
    assert_string_equal(cfg.access_log, "");
    assert_int_equal(cfg.access_log_format, TB_ACCESS_LOG_JSON);
    assert_int_equal(cfg.access_log_buffer, 0);
    assert_int_equal(cfg.access_log_flush_ms, 1000);
    assert_int_equal(cfg.shutdown_delay_ms, 0);
    assert_int_equal(cfg.trust, TB_TRUST_TRUST);
    assert_int_equal(cfg.degrade_enabled, 1);
    assert_int_equal(cfg.degrade_queue_high, 80);
    assert_int_equal(cfg.degrade_lag_ms, 100);
    assert_int_equal(cfg.degrade_recover_ms, 5000);
}

/* Every flag's variable is TRACEBRIDGE_ + its name, and each one works. */
static void test_tb_config_apply_env__every_flag_has_a_variable(void **state)
{
    size_t num;
    const struct tb_directive *rows = tb_config_directives(&num);
    char name[64];

    (void)state;
    assert_string_equal(tb_directive_env_name(tb_config_directive_by_name("degrade-queue-high"),
                                              name, sizeof(name)),
                        "TRACEBRIDGE_DEGRADE_QUEUE_HIGH");
    assert_string_equal(
        tb_directive_env_name(tb_config_directive_by_name("exporter"), name, sizeof(name)),
        "TRACEBRIDGE_EXPORTERS");
    for (size_t i = 0; i < num; i++) {
        const char *env[3] = {NULL, "nonsense value", NULL};
        struct tb_config cfg;
        char err[1024] = "";
        FILE *f = fmemopen(err, sizeof(err), "w");
        int status;

        if (rows[i].kind == TB_DIRECTIVE_CONFIG || rows[i].kind == TB_DIRECTIVE_STRING ||
            rows[i].kind == TB_DIRECTIVE_PATH || rows[i].kind == TB_DIRECTIVE_ACCESS_LOG)
            continue; /* any text is a valid name or path */
        env[0] = tb_directive_env_name(&rows[i], name, sizeof(name));
        fake_env = env;
        tb_config_defaults(&cfg);
        status = tb_config_apply_env(&cfg, fake_getenv, f);
        fclose(f);
        if (status != -1 || strstr(err, name) == NULL)
            fail_msg("%s was not read (status %d, '%s')", name, status, err);
    }
}

static void test_tb_config_check_main__json_and_status(void **state)
{
    char path[64], out[32768], err[1024];
    struct tb_buf buf = {0};
    FILE *o, *e;
    int status;

    (void)state;
    write_temp(path, sizeof(path), full_yaml);
    {
        char *argv[] = {"check-config", path, "--workers", "5", NULL};

        memset(out, 0, sizeof(out));
        o = fmemopen(out, sizeof(out), "w");
        e = fmemopen(err, sizeof(err), "w");
        fake_env = NULL;
        status = tb_config_check_main(4, argv, fake_getenv, o, e);
        fclose(o);
        fclose(e);
        assert_int_equal(status, 0);
        tb_buf_append(&buf, out, strlen(out) - 1); /* the newline */
        assert_json_valid(&buf);
        assert_non_null(strstr(out, "\"workers\":5,"));
        assert_non_null(strstr(out, "\"connect\":1,\"upstream\":30"));
        assert_non_null(strstr(out, "\"flush_interval\":0.25"));
        assert_non_null(strstr(out, "\"x-api-key\":\"s3cr,t=1\""));
        tb_buf_free(&buf);
    }
    unlink(path);
    write_temp(path, sizeof(path), "workers: many\n");
    {
        char *argv[] = {"check-config", path, NULL};

        memset(err, 0, sizeof(err));
        o = fmemopen(out, sizeof(out), "w");
        e = fmemopen(err, sizeof(err), "w");
        status = tb_config_check_main(2, argv, fake_getenv, o, e);
        fclose(o);
        fclose(e);
        assert_int_equal(status, 2);
        assert_non_null(strstr(err, ":1:10: workers: invalid value 'many'"));
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_config_file_parse__every_field),
        cmocka_unit_test(test_tb_config_file_parse__route_inherits_key_by_key),
        cmocka_unit_test(test_tb_config_file_parse__errors_name_file_line_column),
        cmocka_unit_test(test_tb_config_file_parse__never_more_than_the_error_cap),
        cmocka_unit_test(test_tb_config_load__file_env_flag_precedence),
        cmocka_unit_test(test_tb_config_load__listen_conflicts_with_file_listeners),
        cmocka_unit_test(test_tb_config_load__durations_and_new_flags),
        cmocka_unit_test(test_tb_config_defaults__new_settings),
        cmocka_unit_test(test_tb_config_apply_env__every_flag_has_a_variable),
        cmocka_unit_test(test_tb_config_check_main__json_and_status),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
