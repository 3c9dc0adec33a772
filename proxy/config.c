/* SPDX-License-Identifier: MIT
 * The directive table and its generic setters (nginx's ngx_command_t idea:
 * name, value kind, offsetof the field, bounds). The YAML file reader will
 * reuse the same table.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tb.h"
#include "parsers/lex.h"
#include "proxy/config.h"
#include "proxy/log.h"

enum directive_kind {
    DIRECTIVE_ADDRESS,  /* HOST:PORT or [IPv6]:PORT */
    DIRECTIVE_UINT,     /* decimal integer in [min, max] */
    DIRECTIVE_SIZE,     /* bytes, optional k/m suffix (KiB/MiB), in [min, max] */
    DIRECTIVE_DURATION, /* seconds, fractional allowed, in [min, max] ms */
    DIRECTIVE_LOG_LEVEL,
    DIRECTIVE_EXTRACT,     /* format list: enabled extractors, in precedence order */
    DIRECTIVE_PROPAGATORS, /* format list: injected formats */
    DIRECTIVE_CLEAR,       /* format list: removed and never injected */
    DIRECTIVE_INJECT_MODE, /* replace | add */
    DIRECTIVE_STRING,      /* char[128]: visible ASCII, 1 to 127 bytes */
    DIRECTIVE_ROLE,        /* inbound | outbound */
    DIRECTIVE_EXPORTERS,   /* otlp,zipkin,skywalking,file or none */
    DIRECTIVE_URL,         /* char[512]: http://host[:port]/path */
    DIRECTIVE_PATH,        /* char[512]: a file path, or - */
};

struct directive {
    const char *name;
    enum directive_kind kind;
    size_t offset;
    uint64_t min, max;
    const char *arg;  /* placeholder shown in --help */
    const char *help; /* one line for --help, default included */
};

#define FIELD(f) offsetof(struct tb_config, f)
#define DAY_MS (24ull * 3600 * 1000)

static const struct directive directives[] = {
    {"listen", DIRECTIVE_ADDRESS, FIELD(listen), 0, 0, "HOST:PORT",
     "address to accept client connections on (required)"},
    {"upstream", DIRECTIVE_ADDRESS, FIELD(upstream), 0, 0, "HOST:PORT",
     "address of the service behind the proxy (required)"},
    {"workers", DIRECTIVE_UINT, FIELD(workers), 1, 256, "N",
     "worker threads, each with its own event loop and listener (default 1)"},
    {"connect-timeout", DIRECTIVE_DURATION, FIELD(connect_timeout_ms), 1, DAY_MS, "S",
     "upstream connect timeout in seconds, 504 when exceeded (default 5)"},
    {"header-timeout", DIRECTIVE_DURATION, FIELD(header_timeout_ms), 1, DAY_MS, "S",
     "time to receive a whole request head, 408 when exceeded (default 10)"},
    {"upstream-timeout", DIRECTIVE_DURATION, FIELD(upstream_timeout_ms), 1, DAY_MS, "S",
     "upstream silence allowed while a response is due, 504 when exceeded (default 60)"},
    {"idle-timeout", DIRECTIVE_DURATION, FIELD(idle_timeout_ms), 1, DAY_MS, "S",
     "keep-alive idle time, client and pooled upstream connections (default 60)"},
    {"drain-timeout", DIRECTIVE_DURATION, FIELD(drain_timeout_ms), 0, DAY_MS, "S",
     "on SIGTERM/SIGINT, time given to in-flight requests (default 30)"},
    {"max-header-size", DIRECTIVE_SIZE, FIELD(max_header_size), 256, 16u << 20, "BYTES",
     "largest request head, 431 beyond it (default 65536)"},
    {"max-request-line", DIRECTIVE_SIZE, FIELD(max_request_line), 64, 16u << 20, "BYTES",
     "longest request line, 414 beyond it (default 8192)"},
    {"max-idle-upstream", DIRECTIVE_UINT, FIELD(max_idle_upstream), 0, 100000, "N",
     "idle upstream connections kept per worker (default 32)"},
    {"log-level", DIRECTIVE_LOG_LEVEL, FIELD(log_level), 0, 0, "LEVEL",
     "debug, info, warn or error (default info)"},
    {"propagators", DIRECTIVE_PROPAGATORS, FIELD(propagation), 0, 0, "LIST",
     "formats injected downstream (default $OTEL_PROPAGATORS, else tracecontext,baggage)"},
    {"extract", DIRECTIVE_EXTRACT, FIELD(propagation), 0, 0, "LIST",
     "formats read, highest precedence first (default: all, registry order)"},
    {"inject-mode", DIRECTIVE_INJECT_MODE, FIELD(propagation), 0, 0, "MODE",
     "replace: only LIST goes downstream; add: keep and refresh what came (default replace)"},
    {"clear", DIRECTIVE_CLEAR, FIELD(propagation), 0, 0, "LIST",
     "formats always removed and never injected (default none)"},
    {"service-name", DIRECTIVE_STRING, FIELD(service_name), 0, 0, "NAME",
     "service name, e.g. sw8's parent service (default $OTEL_SERVICE_NAME, else tracebridge)"},
    {"service-instance", DIRECTIVE_STRING, FIELD(service_instance), 0, 0, "NAME",
     "service instance, e.g. sw8's parent instance (default PID@HOSTNAME)"},
    {"role", DIRECTIVE_ROLE, FIELD(role), 0, 0, "ROLE",
     "inbound (spans of kind SERVER) or outbound (CLIENT) (default inbound)"},
    {"exporter", DIRECTIVE_EXPORTERS, FIELD(export), 0, 0, "LIST",
     "otlp, zipkin, skywalking, file or none (default: those with an endpoint, else file)"},
    {"zipkin-endpoint", DIRECTIVE_URL, FIELD(export.zipkin_url), 0, 0, "URL",
     "Zipkin v2 spans URL, e.g. http://zipkin:9411/api/v2/spans"},
    {"skywalking-endpoint", DIRECTIVE_URL, FIELD(export.skywalking_url), 0, 0, "URL",
     "SkyWalking OAP HTTP base URL, e.g. http://oap:12800"},
    {"span-file", DIRECTIVE_PATH, FIELD(export.file_path), 0, 0, "PATH",
     "file exporter output, JSON lines (default - : standard output)"},
    {"max-root-spans-per-second", DIRECTIVE_UINT, FIELD(max_root_spans_per_second), 0, 10000000,
     "N", "new root traces sampled per second, all workers (default 0: no limit)"},
};

static const char *parse_uint(const char *value, uint64_t multiplier_ok, uint64_t *out);
static const char *apply_directive(struct tb_config *cfg, const struct directive *d,
                                   const char *value, char *hint, size_t hint_size);

/* Environment variables that set a directive (flags win: applied first). */
static const struct {
    const char *env;
    const char *directive;
} env_directives[] = {
    {"TRACEBRIDGE_EXPORTERS", "exporter"},
    {"TRACEBRIDGE_ZIPKIN_ENDPOINT", "zipkin-endpoint"},
    {"TRACEBRIDGE_SKYWALKING_ENDPOINT", "skywalking-endpoint"},
    {"TRACEBRIDGE_SPAN_FILE", "span-file"},
    {"TRACEBRIDGE_MAX_ROOT_SPANS_PER_SECOND", "max-root-spans-per-second"},
    {"TRACEBRIDGE_ROLE", "role"},
};

void tb_config_defaults(struct tb_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->workers = 1;
    cfg->connect_timeout_ms = 5000;
    cfg->header_timeout_ms = 10000;
    cfg->upstream_timeout_ms = 60000;
    cfg->idle_timeout_ms = 60000;
    cfg->drain_timeout_ms = 30000;
    cfg->max_header_size = 65536;
    cfg->max_request_line = 8192;
    cfg->max_idle_upstream = 32;
    cfg->log_level = TB_LOG_INFO;
    if (tb_prop_policy_defaults(&cfg->propagation, NULL, NULL) != TB_OK)
        tb_bug("the default propagation policy must parse");
    snprintf(cfg->service_name, sizeof(cfg->service_name), "tracebridge");
    cfg->role = TB_SPAN_KIND_SERVER;
    cfg->export.export_timeout_ms = 10000;
    cfg->export.max_queue = 2048;
    cfg->export.max_batch = 512;
    cfg->export.schedule_delay_ms = 5000;
    cfg->export.max_retries = 5;
    cfg->export.retry_initial_ms = 1000;
    cfg->export.retry_max_ms = 30000;
    tb_sampler_default(&cfg->sampler);
}

static const struct directive *find_directive(const char *name, size_t name_len)
{
    for (size_t k = 0; k < TB_ARRAY_SIZE(directives); k++)
        if (strlen(directives[k].name) == name_len &&
            memcmp(directives[k].name, name, name_len) == 0)
            return &directives[k];
    return NULL;
}

/* Copies a visible-ASCII value into a char[128] field. */
static const char *set_string(char *field, size_t size, const char *value)
{
    size_t len = strlen(value);

    if (len == 0 || len >= size)
        return "1 to 127 characters";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)value[i] <= 0x20 || (unsigned char)value[i] >= 0x7f)
            return "visible ASCII characters without spaces";
    memcpy(field, value, len + 1);
    return NULL;
}

static const char *set_url(char *field, size_t size, const char *value)
{
    size_t len = strlen(value);

    if (strncmp(value, "http://", 7) != 0 || len <= 7 || len >= size)
        return "an http:// URL (TLS is not supported yet) of at most 511 characters";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)value[i] <= 0x20 || (unsigned char)value[i] >= 0x7f)
            return "a URL without spaces or control characters";
    memcpy(field, value, len + 1);
    return NULL;
}

static const char *set_exporters(struct tb_export_config *export, const char *value)
{
    static const char *const names[TB_EXPORTER_NUM] = {"otlp", "zipkin", "skywalking", "file"};
    const char *p = value;
    uint32_t set = 0;
    int none = 0, count = 0;

    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int found = 0;

        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        while (len > 0 && p[len - 1] == ' ')
            len--;
        count++;
        if (len == 4 && memcmp(p, "none", 4) == 0) {
            none = found = 1;
        }
        for (unsigned k = 0; k < TB_EXPORTER_NUM && !found; k++) {
            if (strlen(names[k]) == len && memcmp(names[k], p, len) == 0) {
                set |= TB_EXPORTER_BIT(k);
                found = 1;
            }
        }
        if (!found || (none && count > 1))
            return "a comma-separated list of otlp, zipkin, skywalking, file, or none alone";
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    export->enabled = set;
    return NULL;
}

static const char *set_format_list(struct tb_prop_policy *policy, enum directive_kind kind,
                                   const char *value, char *hint, size_t hint_size)
{
    enum tb_format list[TB_FORMAT_NUM];
    struct tb_iov bad;
    size_t num;

    if (tb_prop_parse_list(value, list, &num, &bad) != TB_OK) {
        snprintf(hint, hint_size,
                 "a comma-separated list of tracecontext, baggage, b3, b3multi, jaeger, xray, "
                 "ottrace, datadog, sw8, eagleeye, or none alone ('%.*s' is not one)",
                 (int)(bad.len > 40 ? 40 : bad.len), bad.base);
        return hint;
    }
    switch (kind) {
    case DIRECTIVE_EXTRACT:
        memcpy(policy->extract, list, sizeof(list));
        policy->num_extract = num;
        break;
    case DIRECTIVE_PROPAGATORS:
        memcpy(policy->inject, list, sizeof(list));
        policy->num_inject = num;
        break;
    default:
        policy->clear = 0;
        for (size_t i = 0; i < num; i++)
            policy->clear |= TB_FORMAT_BIT(list[i]);
        break;
    }
    return NULL;
}

static const char *env_first(const char *(*get)(const char *name), const char *a, const char *b,
                             const char **which)
{
    const char *v = get(a);

    *which = a;
    if (v != NULL && v[0] != '\0')
        return v;
    *which = b;
    v = b != NULL ? get(b) : NULL;
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static const char *parse_env_ms(const char *value, uint64_t *out)
{
    uint64_t n;
    const char *form = parse_uint(value, 0, &n);

    if (form != NULL || n == 0 || n > DAY_MS)
        return "milliseconds from 1 to 86400000";
    *out = n;
    return NULL;
}

/* OTEL_EXPORTER_OTLP_HEADERS: "k=v,k2=v2", values percent-encoded. */
static const char *parse_otlp_headers(struct tb_export_config *export, const char *value)
{
    const char *p = value;

    export->num_otlp_headers = 0;
    while (*p != '\0') {
        const char *comma = strchr(p, ','), *eq;
        size_t len = comma ? (size_t)(comma - p) : strlen(p), nlen, vlen, out_len;
        struct tb_export_header *h;
        struct tb_iov name, val;

        eq = memchr(p, '=', len);
        if (eq == NULL)
            return "a comma-separated list of name=value";
        name = tb_lex_trim_ows((struct tb_iov){p, (size_t)(eq - p)});
        val = tb_lex_trim_ows((struct tb_iov){eq + 1, len - (size_t)(eq - p) - 1});
        nlen = name.len;
        vlen = val.len;
        if (export->num_otlp_headers == TB_EXPORT_MAX_HEADERS)
            return "at most 16 headers";
        h = &export->otlp_headers[export->num_otlp_headers];
        if (nlen == 0 || nlen >= sizeof(h->name) || vlen >= sizeof(h->value))
            return "header names of 1 to 63 and values of at most 511 characters";
        for (size_t i = 0; i < nlen; i++)
            if (!tb_lex_is_tchar((unsigned char)name.base[i]))
                return "header names made of token characters";
        if (!tb_percent_decode(val, h->value, &out_len, false))
            return "percent-encoded values";
        for (size_t i = 0; i < out_len; i++)
            if ((unsigned char)h->value[i] < 0x20 || (unsigned char)h->value[i] == 0x7f)
                return "values without control characters";
        memcpy(h->name, name.base, nlen);
        h->name[nlen] = '\0';
        h->value[out_len] = '\0';
        export->num_otlp_headers++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return NULL;
}

/* OTEL_RESOURCE_ATTRIBUTES: "k=v,k2=v2" with non-empty keys. */
static const char *check_resource_attributes(const char *value, size_t max)
{
    const char *p = value;

    if (strlen(value) >= max)
        return "at most 2047 characters";
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);

        if (eq == NULL || eq == p)
            return "a comma-separated list of key=value";
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return NULL;
}

int tb_config_apply_env(struct tb_config *cfg, const char *(*get)(const char *name), FILE *err)
{
    struct tb_export_config *ex = &cfg->export;
    const char *value, *which, *form = NULL;
    char hint[256];
    uint64_t n;

    for (size_t i = 0; i < TB_ARRAY_SIZE(env_directives); i++) {
        const struct directive *d;

        value = get(env_directives[i].env);
        if (value == NULL || value[0] == '\0')
            continue;
        d = find_directive(env_directives[i].directive, strlen(env_directives[i].directive));
        form = apply_directive(cfg, d, value, hint, sizeof(hint));
        if (form != NULL) {
            which = env_directives[i].env;
            goto bad;
        }
    }
    which = "OTEL_PROPAGATORS";
    value = get(which);
    if (value != NULL && value[0] != '\0' &&
        (form = set_format_list(&cfg->propagation, DIRECTIVE_PROPAGATORS, value, hint,
                                sizeof(hint))) != NULL)
        goto bad;
    which = "OTEL_SERVICE_NAME";
    value = get(which);
    if (value != NULL && value[0] != '\0' &&
        (form = set_string(cfg->service_name, sizeof(cfg->service_name), value)) != NULL)
        goto bad;

    value = env_first(get, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", NULL, &which);
    if (value != NULL) {
        if ((form = set_url(ex->otlp_url, sizeof(ex->otlp_url), value)) != NULL)
            goto bad;
    } else if ((value = env_first(get, "OTEL_EXPORTER_OTLP_ENDPOINT", NULL, &which)) != NULL) {
        size_t len = strlen(value);

        while (len > 0 && value[len - 1] == '/')
            len--;
        snprintf(hint, sizeof(hint), "%.*s/v1/traces", (int)(len > 200 ? 200 : len), value);
        if (len > 200 || (form = set_url(ex->otlp_url, sizeof(ex->otlp_url), hint)) != NULL) {
            form = "an http:// URL of at most 200 characters";
            goto bad;
        }
    }
    value =
        env_first(get, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", &which);
    if (value != NULL) {
        if (strcmp(value, "http/protobuf") == 0)
            ex->otlp_json = false;
        else if (strcmp(value, "http/json") == 0)
            ex->otlp_json = true;
        else if ((form = "http/protobuf or http/json (grpc is not supported)") != NULL)
            goto bad;
    }
    value =
        env_first(get, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", &which);
    if (value != NULL && (form = parse_otlp_headers(ex, value)) != NULL)
        goto bad;
    value = env_first(get, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                      "OTEL_EXPORTER_OTLP_COMPRESSION", &which);
    if (value != NULL) {
        if (strcmp(value, "gzip") == 0)
            ex->otlp_gzip = true;
        else if (strcmp(value, "none") == 0)
            ex->otlp_gzip = false;
        else if ((form = "gzip or none") != NULL)
            goto bad;
    }
    value = env_first(get, "OTEL_BSP_EXPORT_TIMEOUT", NULL, &which);
    if (value != NULL && (form = parse_env_ms(value, &ex->export_timeout_ms)) != NULL)
        goto bad;
    value =
        env_first(get, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", &which);
    if (value != NULL && (form = parse_env_ms(value, &ex->export_timeout_ms)) != NULL)
        goto bad;
    value = env_first(get, "OTEL_BSP_SCHEDULE_DELAY", NULL, &which);
    if (value != NULL && (form = parse_env_ms(value, &ex->schedule_delay_ms)) != NULL)
        goto bad;
    value = env_first(get, "OTEL_BSP_MAX_QUEUE_SIZE", NULL, &which);
    if (value != NULL) {
        if ((form = parse_uint(value, 0, &n)) != NULL || n < 1 || n > 1000000) {
            form = "an integer from 1 to 1000000";
            goto bad;
        }
        ex->max_queue = (size_t)n;
    }
    value = env_first(get, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", NULL, &which);
    if (value != NULL) {
        if ((form = parse_uint(value, 0, &n)) != NULL || n < 1 || n > 1000000) {
            form = "an integer from 1 to 1000000";
            goto bad;
        }
        ex->max_batch = (size_t)n;
    }
    if (ex->max_batch > ex->max_queue)
        ex->max_batch = ex->max_queue; /* as the OpenTelemetry SDKs do */
    value = env_first(get, "OTEL_TRACES_SAMPLER", NULL, &which);
    if (value != NULL &&
        tb_sampler_parse(&cfg->sampler, value, get("OTEL_TRACES_SAMPLER_ARG"), &form) != TB_OK)
        goto bad;
    value = env_first(get, "OTEL_RESOURCE_ATTRIBUTES", NULL, &which);
    if (value != NULL) {
        if ((form = check_resource_attributes(value, sizeof(cfg->resource_attributes))) != NULL)
            goto bad;
        snprintf(cfg->resource_attributes, sizeof(cfg->resource_attributes), "%s", value);
    }
    return 0;

bad:
    fprintf(err, "tracebridge: invalid %s '%s': expected %s\n", which, value, form);
    return -1;
}

/* --listen and --upstream alone make listener "main" with route "default"
 * (every Host, every path) to cluster "default" of one endpoint. */
static void synthesize_flag_listener(struct tb_config *cfg)
{
    struct tb_listener_config *l;
    struct tb_route_config *r;
    struct tb_cluster_config *k;

    cfg->listeners = l = tb_xcalloc(1, sizeof(*l));
    cfg->num_listeners = 1;
    snprintf(l->name, sizeof(l->name), "main");
    l->address = cfg->listen;
    l->role = cfg->role;
    l->trust = cfg->trust;
    l->routes = r = tb_xcalloc(1, sizeof(*r));
    l->num_routes = 1;
    snprintf(r->name, sizeof(r->name), "default");
    snprintf(r->path_prefix, sizeof(r->path_prefix), "/");
    snprintf(r->cluster_name, sizeof(r->cluster_name), "default");
    cfg->clusters = k = tb_xcalloc(1, sizeof(*k));
    cfg->num_clusters = 1;
    snprintf(k->name, sizeof(k->name), "default");
    k->endpoints = tb_xcalloc(1, sizeof(*k->endpoints));
    k->endpoints[0] = cfg->upstream;
    k->num_endpoints = 1;
    k->eject_after = 1;
    k->eject_base_ms = 1000;
    k->eject_max_ms = 30000;
}

/* Every route gets its cluster index, its effective policy, sampler and
 * timeouts, so the data path never looks anything up. */
static void resolve_routes(struct tb_config *cfg)
{
    for (size_t i = 0; i < cfg->num_listeners; i++) {
        struct tb_listener_config *l = &cfg->listeners[i];

        for (size_t j = 0; j < l->num_routes; j++) {
            struct tb_route_config *r = &l->routes[j];

            for (size_t k = 0; k < cfg->num_clusters; k++)
                if (strcmp(cfg->clusters[k].name, r->cluster_name) == 0)
                    r->cluster = (unsigned)k;
            if (!(r->set & (TB_ROUTE_SET_EXTRACT | TB_ROUTE_SET_INJECT | TB_ROUTE_SET_CLEAR |
                            TB_ROUTE_SET_MODE)))
                r->propagation = cfg->propagation;
            if (!(r->set & TB_ROUTE_SET_SAMPLER))
                r->sampler = cfg->sampler;
            if (r->connect_timeout_ms == 0)
                r->connect_timeout_ms = cfg->connect_timeout_ms;
            if (r->upstream_timeout_ms == 0)
                r->upstream_timeout_ms = cfg->upstream_timeout_ms;
        }
    }
}

void tb_config_free(struct tb_config *cfg)
{
    for (size_t i = 0; i < cfg->num_listeners; i++)
        tb_free(cfg->listeners[i].routes);
    for (size_t i = 0; i < cfg->num_clusters; i++)
        tb_free(cfg->clusters[i].endpoints);
    tb_free(cfg->listeners);
    tb_free(cfg->clusters);
    cfg->listeners = NULL;
    cfg->clusters = NULL;
    cfg->num_listeners = cfg->num_clusters = 0;
}

int tb_config_finish(struct tb_config *cfg, FILE *err)
{
    struct tb_export_config *ex = &cfg->export;

    if (cfg->num_listeners == 0 && cfg->have_listen && cfg->have_upstream)
        synthesize_flag_listener(cfg);
    resolve_routes(cfg);

    if (!cfg->exporters_named) {
        ex->enabled = 0;
        if (ex->otlp_url[0] != '\0')
            ex->enabled |= TB_EXPORTER_BIT(TB_EXPORTER_OTLP);
        if (ex->zipkin_url[0] != '\0')
            ex->enabled |= TB_EXPORTER_BIT(TB_EXPORTER_ZIPKIN);
        if (ex->skywalking_url[0] != '\0')
            ex->enabled |= TB_EXPORTER_BIT(TB_EXPORTER_SKYWALKING);
        if (ex->enabled == 0)
            ex->enabled = TB_EXPORTER_BIT(TB_EXPORTER_FILE);
        return 0;
    }
    if ((ex->enabled & TB_EXPORTER_BIT(TB_EXPORTER_OTLP)) && ex->otlp_url[0] == '\0') {
        fprintf(err, "tracebridge: the otlp exporter needs OTEL_EXPORTER_OTLP_TRACES_ENDPOINT "
                     "or OTEL_EXPORTER_OTLP_ENDPOINT\n");
        return -1;
    }
    if ((ex->enabled & TB_EXPORTER_BIT(TB_EXPORTER_ZIPKIN)) && ex->zipkin_url[0] == '\0') {
        fprintf(err, "tracebridge: the zipkin exporter needs --zipkin-endpoint URL\n");
        return -1;
    }
    if ((ex->enabled & TB_EXPORTER_BIT(TB_EXPORTER_SKYWALKING)) && ex->skywalking_url[0] == '\0') {
        fprintf(err, "tracebridge: the skywalking exporter needs --skywalking-endpoint URL\n");
        return -1;
    }
    return 0;
}

void tb_address_format(const struct tb_address *addr, char *buf, size_t buf_size)
{
    int v6 = strchr(addr->host, ':') != NULL;

    snprintf(buf, buf_size, "%s%s%s:%s", v6 ? "[" : "", addr->host, v6 ? "]" : "", addr->port);
}

/* ------------------------------------------------------------------------ */
/* setters: return NULL on success, else the accepted form                   */

static const char *set_address(struct tb_address *addr, const char *value)
{
    const char *host = value, *host_end, *port;
    char *end;
    unsigned long n;

    if (value[0] == '[') {
        host = value + 1;
        host_end = strchr(host, ']');
        if (host_end == NULL || host_end[1] != ':')
            return "HOST:PORT or [IPv6]:PORT";
        port = host_end + 2;
    } else {
        host_end = strrchr(value, ':');
        if (host_end == NULL || memchr(value, ':', (size_t)(host_end - value)) != NULL)
            return "HOST:PORT or [IPv6]:PORT";
        port = host_end + 1;
    }
    if (host_end == host || (size_t)(host_end - host) >= sizeof(addr->host))
        return "HOST:PORT with a non-empty host";
    errno = 0;
    n = strtoul(port, &end, 10);
    if (*port < '0' || *port > '9' || *end != '\0' || errno != 0 || n > 65535)
        return "HOST:PORT with a port from 0 to 65535";
    memcpy(addr->host, host, (size_t)(host_end - host));
    addr->host[host_end - host] = '\0';
    snprintf(addr->port, sizeof(addr->port), "%lu", n);
    return NULL;
}

static const char *parse_uint(const char *value, uint64_t multiplier_ok, uint64_t *out)
{
    char *end;
    unsigned long long n;

    errno = 0;
    if (*value < '0' || *value > '9')
        return "a non-negative integer";
    n = strtoull(value, &end, 10);
    if (errno != 0)
        return "a smaller number";
    if (multiplier_ok && (*end == 'k' || *end == 'K')) {
        n *= 1024;
        end++;
    } else if (multiplier_ok && (*end == 'm' || *end == 'M')) {
        n *= 1024 * 1024;
        end++;
    }
    if (*end != '\0')
        return multiplier_ok ? "a byte count, optionally with a k or m suffix"
                             : "a non-negative integer";
    *out = n;
    return NULL;
}

static const char *parse_duration(const char *value, uint64_t *ms)
{
    char *end;
    double seconds;

    if ((*value < '0' || *value > '9') && *value != '.')
        return "seconds, e.g. 5 or 0.25";
    errno = 0;
    seconds = strtod(value, &end);
    if (*end != '\0' || errno != 0 || !isfinite(seconds) || seconds < 0 || seconds > 1e9)
        return "seconds, e.g. 5 or 0.25";
    *ms = (uint64_t)llround(seconds * 1000.0);
    return NULL;
}

static const char *apply_directive(struct tb_config *cfg, const struct directive *d,
                                   const char *value, char *hint, size_t hint_size)
{
    char *field = (char *)cfg + d->offset;
    const char *form;
    uint64_t n = 0;

    switch (d->kind) {
    case DIRECTIVE_ADDRESS:
        return set_address((struct tb_address *)field, value);
    case DIRECTIVE_UINT:
    case DIRECTIVE_SIZE:
        form = parse_uint(value, d->kind == DIRECTIVE_SIZE, &n);
        if (form != NULL)
            return form;
        break;
    case DIRECTIVE_DURATION:
        form = parse_duration(value, &n);
        if (form != NULL)
            return form;
        break;
    case DIRECTIVE_LOG_LEVEL: {
        static const char *const levels[] = {"debug", "info", "warn", "error"};

        for (unsigned i = 0; i < TB_ARRAY_SIZE(levels); i++) {
            if (strcmp(value, levels[i]) == 0) {
                *(unsigned *)field = i;
                return NULL;
            }
        }
        return "one of debug, info, warn, error";
    }
    case DIRECTIVE_EXTRACT:
    case DIRECTIVE_PROPAGATORS:
    case DIRECTIVE_CLEAR:
        return set_format_list((struct tb_prop_policy *)field, d->kind, value, hint, hint_size);
    case DIRECTIVE_INJECT_MODE: {
        struct tb_prop_policy *policy = (struct tb_prop_policy *)field;

        if (strcmp(value, "replace") == 0)
            policy->mode = TB_INJECT_REPLACE;
        else if (strcmp(value, "add") == 0)
            policy->mode = TB_INJECT_ADD;
        else
            return "replace or add";
        return NULL;
    }
    case DIRECTIVE_STRING:
        return set_string(field, TB_CONFIG_NAME_MAX, value);
    case DIRECTIVE_ROLE:
        if (strcmp(value, "inbound") == 0)
            *(unsigned *)field = TB_SPAN_KIND_SERVER;
        else if (strcmp(value, "outbound") == 0)
            *(unsigned *)field = TB_SPAN_KIND_CLIENT;
        else
            return "inbound or outbound";
        return NULL;
    case DIRECTIVE_EXPORTERS:
        cfg->exporters_named = 1;
        return set_exporters((struct tb_export_config *)field, value);
    case DIRECTIVE_URL:
        return set_url(field, sizeof(cfg->export.zipkin_url), value);
    case DIRECTIVE_PATH:
        if (value[0] == '\0' || strlen(value) >= sizeof(cfg->export.file_path))
            return "a path of 1 to 511 characters";
        memcpy(field, value, strlen(value) + 1);
        return NULL;
    }
    if (n < d->min || n > d->max) {
        if (d->kind == DIRECTIVE_DURATION)
            snprintf(hint, hint_size, "seconds from %g to %g", (double)d->min / 1000,
                     (double)d->max / 1000);
        else
            snprintf(hint, hint_size, "a value from %llu to %llu", (unsigned long long)d->min,
                     (unsigned long long)d->max);
        return hint;
    }
    switch (d->kind) {
    case DIRECTIVE_UINT:
        *(unsigned *)field = (unsigned)n;
        break;
    case DIRECTIVE_SIZE:
        *(size_t *)field = (size_t)n;
        break;
    case DIRECTIVE_DURATION:
        *(uint64_t *)field = n;
        break;
    default:
        tb_bug("directive kind already handled");
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* command line                                                              */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: tracebridge --listen HOST:PORT --upstream HOST:PORT [options]\n"
            "       tracebridge decode [options] < headers   (see tracebridge decode --help)\n\n"
            "A transparent HTTP/1.1 reverse proxy that keeps distributed traces connected.\n\n"
            "options:\n");
    for (size_t i = 0; i < TB_ARRAY_SIZE(directives); i++) {
        char flag[64];

        snprintf(flag, sizeof(flag), "--%s %s", directives[i].name, directives[i].arg);
        fprintf(out, "  %-28s %s\n", flag, directives[i].help);
    }
    fprintf(out, "  %-28s %s\n  %-28s %s\n", "--help", "print this help and exit", "--version",
            "print the version and exit");
}

static enum tb_config_cli_result parse_args(struct tb_config *cfg, int argc, char **argv, FILE *out,
                                            FILE *err, int *have_listen, int *have_upstream)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *name, *value, *eq, *form;
        const struct directive *d = NULL;
        char hint[256];
        size_t name_len;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(out);
            return TB_CONFIG_CLI_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            fprintf(out, "tracebridge %s\n", TB_VERSION);
            return TB_CONFIG_CLI_EXIT_OK;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(err, "tracebridge: unexpected argument '%s' (see --help)\n", arg);
            return TB_CONFIG_CLI_ERROR;
        }
        name = arg + 2;
        eq = strchr(name, '=');
        name_len = eq ? (size_t)(eq - name) : strlen(name);
        for (size_t k = 0; k < TB_ARRAY_SIZE(directives); k++) {
            if (strlen(directives[k].name) == name_len &&
                memcmp(directives[k].name, name, name_len) == 0)
                d = &directives[k];
        }
        if (d == NULL) {
            fprintf(err, "tracebridge: unknown option '--%.*s' (see --help)\n", (int)name_len,
                    name);
            return TB_CONFIG_CLI_ERROR;
        }
        if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            fprintf(err, "tracebridge: option '--%s' needs a value: %s\n", d->name, d->arg);
            return TB_CONFIG_CLI_ERROR;
        }
        form = apply_directive(cfg, d, value, hint, sizeof(hint));
        if (form != NULL) {
            fprintf(err, "tracebridge: invalid value '%s' for '--%s': expected %s\n", value,
                    d->name, form);
            return TB_CONFIG_CLI_ERROR;
        }
        *have_listen |= d->offset == FIELD(listen);
        *have_upstream |= d->offset == FIELD(upstream);
    }
    return TB_CONFIG_CLI_RUN;
}

enum tb_config_cli_result tb_config_parse_flags(struct tb_config *cfg, int argc, char **argv,
                                                FILE *out, FILE *err)
{
    int have_listen = 0, have_upstream = 0;

    return parse_args(cfg, argc, argv, out, err, &have_listen, &have_upstream);
}

enum tb_config_cli_result tb_config_parse_cli(struct tb_config *cfg, int argc, char **argv,
                                              FILE *out, FILE *err)
{
    int have_listen = 0, have_upstream = 0;
    enum tb_config_cli_result r =
        parse_args(cfg, argc, argv, out, err, &have_listen, &have_upstream);

    if (r != TB_CONFIG_CLI_RUN)
        return r;
    cfg->have_listen = have_listen;
    cfg->have_upstream = have_upstream;
    if (!have_listen || !have_upstream) {
        fprintf(err, "tracebridge: %s is required (see --help)\n",
                !have_listen ? "--listen HOST:PORT" : "--upstream HOST:PORT");
        return TB_CONFIG_CLI_ERROR;
    }
    return TB_CONFIG_CLI_RUN;
}
