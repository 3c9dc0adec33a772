/* SPDX-License-Identifier: MIT
 * The directive table and its generic setters (nginx's ngx_command_t idea:
 * name, value kind, offsetof the field, bounds). Flags, environment
 * variables and the YAML file (proxy/config_file.c) all go through this one
 * table, so a setting's names, range and parser exist once.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tb.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"
#include "proxy/access_log.h"
#include "proxy/config.h"
#include "proxy/config_file.h"
#include "proxy/log.h"
#include "spans/buf.h"
#include "spans/json.h"

#define FIELD(f) offsetof(struct tb_config, f)
#define DAY_MS (24ull * 3600 * 1000)

/* clang-format off */
static const struct tb_directive directives[] = {
    {"config", NULL, NULL, TB_DIRECTIVE_CONFIG, FIELD(file), 0, 0, "FILE",
     "YAML configuration file; the environment and flags override it (-c FILE)",
     "configuration"},
    {"listen", NULL, NULL, TB_DIRECTIVE_ADDRESS, FIELD(listen), 0, 0, "HOST:PORT",
     "accept clients here (with --upstream: listener main; required without a file)", NULL},
    {"upstream", NULL, NULL, TB_DIRECTIVE_ENDPOINT, FIELD(upstream), 0, 0, "HOST:PORT",
     "the service behind the proxy (with --listen: cluster default)", NULL},
    {"role", "role", NULL, TB_DIRECTIVE_ROLE, FIELD(role), 0, 0, "ROLE",
     "default listener role: inbound (SERVER spans) or outbound (CLIENT) (default inbound)", NULL},
    {"trust", "trust", NULL, TB_DIRECTIVE_TRUST, FIELD(trust), 0, 0, "MODE",
     "default incoming context: trust, ignore or restart-and-link (default trust)", NULL},
    {"workers", "workers", NULL, TB_DIRECTIVE_UINT, FIELD(workers), 1, 256, "N",
     "worker threads, each with its own event loop and listener (default 1)", NULL},
    {"log-level", "log_level", NULL, TB_DIRECTIVE_LOG_LEVEL, FIELD(log_level), 0, 0, "LEVEL",
     "debug, info, warn or error (default info)", NULL},

    {"connect-timeout", "timeouts.connect", NULL, TB_DIRECTIVE_DURATION,
     FIELD(connect_timeout_ms), 1, DAY_MS, "S",
     "upstream connect timeout, 504 when exceeded (default 5)", "timeouts and limits"},
    {"header-timeout", "timeouts.header", NULL, TB_DIRECTIVE_DURATION, FIELD(header_timeout_ms),
     1, DAY_MS, "S", "time to receive a whole request head, 408 when exceeded (default 10)", NULL},
    {"upstream-timeout", "timeouts.upstream", NULL, TB_DIRECTIVE_DURATION,
     FIELD(upstream_timeout_ms), 1, DAY_MS, "S",
     "upstream silence allowed while a response is due, 504 when exceeded (default 60)", NULL},
    {"idle-timeout", "timeouts.idle", NULL, TB_DIRECTIVE_DURATION, FIELD(idle_timeout_ms), 1,
     DAY_MS, "S", "keep-alive idle time, client and pooled upstream connections (default 60)",
     NULL},
    {"shutdown-delay", "shutdown.delay", NULL, TB_DIRECTIVE_DURATION, FIELD(shutdown_delay_ms), 0,
     DAY_MS, "S", "on SIGTERM, /readyz answers 503 this long before the drain (default 0)", NULL},
    {"drain-timeout", "shutdown.drain_timeout", NULL, TB_DIRECTIVE_DURATION,
     FIELD(drain_timeout_ms), 0, DAY_MS, "S",
     "on SIGTERM/SIGINT, time given to in-flight requests (default 30)", NULL},
    {"max-header-size", "limits.max_header_size", NULL, TB_DIRECTIVE_SIZE, FIELD(max_header_size),
     256, 16u << 20, "BYTES", "largest request head, 431 beyond it (default 64k)", NULL},
    {"max-request-line", "limits.max_request_line", NULL, TB_DIRECTIVE_SIZE,
     FIELD(max_request_line), 64, 16u << 20, "BYTES",
     "longest request line, 414 beyond it (default 8k)", NULL},
    {"max-idle-upstream", "limits.max_idle_upstream", NULL, TB_DIRECTIVE_UINT,
     FIELD(max_idle_upstream), 0, 100000, "N",
     "idle upstream connections kept per worker (default 32)", NULL},

    {"extract", "propagation.extract", NULL, TB_DIRECTIVE_EXTRACT, FIELD(propagation), 0, 0,
     "LIST", "formats read, highest precedence first (default: all, registry order)",
     "propagation"},
    {"propagators", "propagation.inject", NULL, TB_DIRECTIVE_PROPAGATORS, FIELD(propagation), 0,
     0, "LIST", "formats injected downstream (default tracecontext,baggage)", NULL},
    {"clear", "propagation.clear", NULL, TB_DIRECTIVE_CLEAR, FIELD(propagation), 0, 0, "LIST",
     "formats always removed and never injected (default none)", NULL},
    {"inject-mode", "propagation.mode", NULL, TB_DIRECTIVE_INJECT_MODE, FIELD(propagation), 0, 0,
     "MODE", "replace: only the list goes downstream; add: keep and refresh what came "
     "(default replace)", NULL},

    {"sampler", "sampling.sampler", NULL, TB_DIRECTIVE_SAMPLER, FIELD(sampler), 0, 0, "NAME",
     "an OTEL_TRACES_SAMPLER name (default parentbased_always_on)", "sampling"},
    {"sampler-arg", "sampling.arg", NULL, TB_DIRECTIVE_RATIO, FIELD(sampler), 0, 0, "RATIO",
     "the traceidratio samplers' ratio, 0 to 1 (default 1)", NULL},
    {"max-root-spans-per-second", "sampling.max_root_spans_per_second", NULL, TB_DIRECTIVE_UINT,
     FIELD(max_root_spans_per_second), 0, 10000000, "N",
     "new root traces sampled per second, all workers (default 0: no limit)", NULL},

    {"service-name", "service.name", NULL, TB_DIRECTIVE_STRING, FIELD(service_name), 0, 0, "NAME",
     "service name, e.g. sw8's parent service (default tracebridge)", "service"},
    {"service-instance", "service.instance", NULL, TB_DIRECTIVE_STRING, FIELD(service_instance),
     0, 0, "NAME", "service instance, e.g. sw8's parent instance (default PID@HOSTNAME)", NULL},
    {"resource-attributes", "resource.attributes", NULL, TB_DIRECTIVE_ATTRIBUTES,
     FIELD(resource_attributes), 0, 0, "K=V,...",
     "resource attributes of the exported spans (default none)", NULL},

    {"exporter", "export.exporters", "TRACEBRIDGE_EXPORTERS", TB_DIRECTIVE_EXPORTERS,
     FIELD(export), 0, 0, "LIST",
     "otlp, zipkin, skywalking, file or none (default: those with an endpoint, else file)",
     "export"},
    {"otlp-endpoint", "export.otlp.endpoint", NULL, TB_DIRECTIVE_URL, FIELD(export.otlp_url), 0, 0,
     "URL", "OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces", NULL},
    {"otlp-protocol", "export.otlp.protocol", NULL, TB_DIRECTIVE_OTLP_PROTOCOL,
     FIELD(export.otlp_json), 0, 0, "PROTO", "http/protobuf or http/json (default http/protobuf)",
     NULL},
    {"otlp-compression", "export.otlp.compression", NULL, TB_DIRECTIVE_COMPRESSION,
     FIELD(export.otlp_gzip), 0, 0, "ALG", "gzip or none (default none)", NULL},
    {"otlp-headers", "export.otlp.headers", NULL, TB_DIRECTIVE_HEADERS, FIELD(export), 0, 0,
     "K=V,...", "extra OTLP request headers, values percent-encoded (default none)", NULL},
    {"zipkin-endpoint", "export.zipkin.endpoint", NULL, TB_DIRECTIVE_URL,
     FIELD(export.zipkin_url), 0, 0, "URL",
     "Zipkin v2 spans URL, e.g. http://zipkin:9411/api/v2/spans", NULL},
    {"skywalking-endpoint", "export.skywalking.endpoint", NULL, TB_DIRECTIVE_URL,
     FIELD(export.skywalking_url), 0, 0, "URL",
     "SkyWalking OAP HTTP base URL, e.g. http://oap:12800", NULL},
    {"span-file", "export.file.path", NULL, TB_DIRECTIVE_PATH, FIELD(export.file_path), 0, 0,
     "PATH", "file exporter output, JSON lines (default - : standard output)", NULL},
    {"export-timeout", "export.timeout", NULL, TB_DIRECTIVE_DURATION,
     FIELD(export.export_timeout_ms), 1, DAY_MS, "S",
     "time allowed for one export request (default 10)", NULL},
    {"export-max-queue-size", "export.batch.max_queue_size", NULL, TB_DIRECTIVE_COUNT,
     FIELD(export.max_queue), 1, 1000000, "N", "spans queued per worker (default 2048)", NULL},
    {"export-max-batch-size", "export.batch.max_export_batch_size", NULL, TB_DIRECTIVE_COUNT,
     FIELD(export.max_batch), 1, 1000000, "N", "spans per export request (default 512)", NULL},
    {"export-schedule-delay", "export.batch.schedule_delay", NULL, TB_DIRECTIVE_DURATION,
     FIELD(export.schedule_delay_ms), 1, DAY_MS, "S",
     "longest wait before a partial batch is sent (default 5)", NULL},

    {"admin", "admin.address", NULL, TB_DIRECTIVE_ADMIN, FIELD(admin), 0, 0, "HOST:PORT|off",
     "admin endpoints /healthz /readyz /config /metrics (default 127.0.0.1:9901)",
     "admin and access log"},
    {"access-log", "access_log.path", NULL, TB_DIRECTIVE_ACCESS_LOG, FIELD(access_log), 0, 0,
     "PATH|-|off", "access log file, - for standard output (default off)", NULL},
    {"access-log-format", "access_log.format", NULL, TB_DIRECTIVE_ACCESS_LOG_FORMAT,
     FIELD(access_log_format), 0, 0, "json|TEMPLATE",
     "json, or a template with $variables (default json)", NULL},
    {"access-log-buffer", "access_log.buffer_size", NULL, TB_DIRECTIVE_SIZE,
     FIELD(access_log_buffer), 0, 64u << 20, "BYTES",
     "bytes buffered per worker before a write (default 0: every line)", NULL},
    {"access-log-flush", "access_log.flush_interval", NULL, TB_DIRECTIVE_DURATION,
     FIELD(access_log_flush_ms), 1, DAY_MS, "S",
     "longest time a buffered line waits (default 1)", NULL},

    {"degrade", "degradation.enabled", NULL, TB_DIRECTIVE_BOOL, FIELD(degrade_enabled), 0, 0,
     "on|off", "shed tracing work under overload (default on)", "degradation"},
    {"degrade-queue-high", "degradation.queue_high", NULL, TB_DIRECTIVE_UINT,
     FIELD(degrade_queue_high), 0, 100, "PCT",
     "export queue fill, percent, that counts as saturated; 0 turns it off (default 80)", NULL},
    {"degrade-lag", "degradation.loop_lag", NULL, TB_DIRECTIVE_DURATION, FIELD(degrade_lag_ms), 0,
     DAY_MS, "S", "event-loop lag that counts as overload; 0 turns it off (default 0.1)", NULL},
    {"degrade-recover", "degradation.recover_after", NULL, TB_DIRECTIVE_DURATION,
     FIELD(degrade_recover_ms), 1, DAY_MS, "S",
     "calm time before stepping back one level (default 5)", NULL},
};
/* clang-format on */

/* OpenTelemetry variables, applied before the TRACEBRIDGE_ ones so those win.
 * `fallback` is the signal-less variable the specific one overrides. */
#define OTEL_MS 0x1u         /* the value is milliseconds (the OpenTelemetry unit) */
#define OTEL_BASE_URL 0x2u   /* from `fallback`: a base URL, /v1/traces appended */
#define OTEL_RATIO_ONLY 0x4u /* ignored unless the sampler takes a ratio */

static const struct {
    const char *env, *fallback, *directive;
    unsigned how;
} otel_env[] = {
    {"OTEL_PROPAGATORS", NULL, "propagators", 0},
    {"OTEL_SERVICE_NAME", NULL, "service-name", 0},
    {"OTEL_RESOURCE_ATTRIBUTES", NULL, "resource-attributes", 0},
    {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "otlp-endpoint",
     OTEL_BASE_URL},
    {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", "otlp-protocol", 0},
    {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", "otlp-headers", 0},
    {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION", "otlp-compression",
     0},
    {"OTEL_BSP_EXPORT_TIMEOUT", NULL, "export-timeout", OTEL_MS},
    {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", "export-timeout", OTEL_MS},
    {"OTEL_BSP_SCHEDULE_DELAY", NULL, "export-schedule-delay", OTEL_MS},
    {"OTEL_BSP_MAX_QUEUE_SIZE", NULL, "export-max-queue-size", 0},
    {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", NULL, "export-max-batch-size", 0},
    {"OTEL_TRACES_SAMPLER", NULL, "sampler", 0},
    {"OTEL_TRACES_SAMPLER_ARG", NULL, "sampler-arg", OTEL_RATIO_ONLY},
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
    cfg->shutdown_delay_ms = 0;
    cfg->max_header_size = 65536;
    cfg->max_request_line = 8192;
    cfg->max_idle_upstream = 32;
    cfg->log_level = TB_LOG_INFO;
    if (tb_prop_policy_defaults(&cfg->propagation, NULL, NULL) != TB_OK)
        tb_bug("the default propagation policy must parse");
    snprintf(cfg->service_name, sizeof(cfg->service_name), "tracebridge");
    cfg->role = TB_SPAN_KIND_SERVER;
    cfg->trust = TB_TRUST_TRUST;
    cfg->export.export_timeout_ms = 10000;
    cfg->export.max_queue = 2048;
    cfg->export.max_batch = 512;
    cfg->export.schedule_delay_ms = 5000;
    cfg->export.max_retries = 5;
    cfg->export.retry_initial_ms = 1000;
    cfg->export.retry_max_ms = 30000;
    tb_sampler_default(&cfg->sampler);
    cfg->admin_enabled = 1;
    snprintf(cfg->admin.host, sizeof(cfg->admin.host), "127.0.0.1");
    snprintf(cfg->admin.port, sizeof(cfg->admin.port), "9901");
    cfg->access_log_format = TB_ACCESS_LOG_JSON;
    cfg->access_log_buffer = 0;
    cfg->access_log_flush_ms = 1000;
    cfg->degrade_enabled = 1;
    cfg->degrade_queue_high = 80;
    cfg->degrade_lag_ms = 100;
    cfg->degrade_recover_ms = 5000;
}

const struct tb_directive *tb_config_directives(size_t *num)
{
    *num = TB_ARRAY_SIZE(directives);
    return directives;
}

const struct tb_directive *tb_config_directive_by_key(const char *key, size_t len)
{
    for (size_t k = 0; k < TB_ARRAY_SIZE(directives); k++) {
        const char *fk = directives[k].file_key;

        if (fk != NULL && strlen(fk) == len && memcmp(fk, key, len) == 0)
            return &directives[k];
    }
    return NULL;
}

static const struct tb_directive *find_flag(const char *name, size_t name_len)
{
    for (size_t k = 0; k < TB_ARRAY_SIZE(directives); k++)
        if (strlen(directives[k].name) == name_len &&
            memcmp(directives[k].name, name, name_len) == 0)
            return &directives[k];
    return NULL;
}

const struct tb_directive *tb_config_directive_by_name(const char *name)
{
    return find_flag(name, strlen(name));
}

const char *tb_directive_env_name(const struct tb_directive *d, char *buf, size_t buf_size)
{
    size_t n = 0;

    if (d->env != NULL) {
        snprintf(buf, buf_size, "%s", d->env);
        return buf;
    }
    n = (size_t)snprintf(buf, buf_size, "TRACEBRIDGE_");
    for (const char *p = d->name; *p != '\0' && n + 1 < buf_size; p++)
        buf[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    buf[n] = '\0';
    return buf;
}

/* ------------------------------------------------------------------------ */
/* value parsers and setters: NULL on success, else the accepted form        */

static const char *parse_uint(const char *value, int multiplier_ok, uint64_t *out)
{
    char *end;
    unsigned long long n;

    errno = 0;
    if (*value < '0' || *value > '9')
        return multiplier_ok ? "a byte count, optionally with a k or m suffix"
                             : "a non-negative integer";
    n = strtoull(value, &end, 10);
    if (errno != 0 || n > UINT64_MAX / (1024 * 1024))
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

/* Plain seconds as the flags always took them, or a number with a unit. The
 * number is digits with an optional fraction: no sign, exponent or hex,
 * which strtod alone would let through. */
static const char *parse_duration(const char *value, uint64_t *ms)
{
    static const char form[] = "seconds, or a number with a unit ms, s, m or h "
                               "(e.g. 5, 0.25, 250ms, 2m)";
    static const struct {
        const char *suffix;
        double ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    const char *p = value;
    int digits = 0, dots = 0;
    double number;
    char *end;

    while ((*p >= '0' && *p <= '9') || *p == '.') {
        digits += *p != '.';
        dots += *p == '.';
        p++;
    }
    if (digits == 0 || dots > 1 || p - value > 30)
        return form;
    errno = 0;
    number = strtod(value, &end);
    if (end != p || errno != 0 || !isfinite(number) || number > 1e9)
        return form;
    for (size_t i = 0; i < TB_ARRAY_SIZE(units); i++) {
        if (strcmp(p, units[i].suffix) == 0) {
            *ms = (uint64_t)llround(number * units[i].ms);
            return NULL;
        }
    }
    return form;
}

static const char *set_address(struct tb_address *addr, const char *value, int port_zero_ok)
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
    for (const char *c = host; c < host_end; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '/' || *c == '[')
            return "HOST:PORT with a host name or IP literal";
    errno = 0;
    n = strtoul(port, &end, 10);
    if (*port < '0' || *port > '9' || *end != '\0' || errno != 0 || n > 65535)
        return port_zero_ok ? "HOST:PORT with a port from 0 to 65535"
                            : "HOST:PORT with a port from 1 to 65535";
    if (n == 0 && !port_zero_ok)
        return "HOST:PORT with a port from 1 to 65535";
    memcpy(addr->host, host, (size_t)(host_end - host));
    addr->host[host_end - host] = '\0';
    snprintf(addr->port, sizeof(addr->port), "%lu", n);
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

static const char *set_path(char *field, size_t size, const char *value)
{
    size_t len = strlen(value);

    if (len == 0 || len >= size)
        return "a path of 1 to 511 characters";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] == 0x7f)
            return "a path without control characters";
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

static const char *set_format_list(struct tb_prop_policy *policy, enum tb_directive_kind kind,
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
    case TB_DIRECTIVE_EXTRACT:
        memcpy(policy->extract, list, sizeof(list));
        policy->num_extract = num;
        break;
    case TB_DIRECTIVE_PROPAGATORS:
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

/* "k=v,k2=v2", values percent-encoded (OTEL_EXPORTER_OTLP_HEADERS). Parsed
 * into a copy, so a bad list leaves the headers as they were. */
static const char *set_otlp_headers(struct tb_export_config *export, const char *value)
{
    struct tb_export_header parsed[TB_EXPORT_MAX_HEADERS];
    size_t num = 0;
    const char *p = value;

    while (*p != '\0') {
        const char *comma = strchr(p, ','), *eq;
        size_t len = comma ? (size_t)(comma - p) : strlen(p), out_len;
        struct tb_export_header *h;
        struct tb_iov name, val;

        eq = memchr(p, '=', len);
        if (eq == NULL)
            return "a comma-separated list of name=value";
        name = tb_lex_trim_ows((struct tb_iov){p, (size_t)(eq - p)});
        val = tb_lex_trim_ows((struct tb_iov){eq + 1, len - (size_t)(eq - p) - 1});
        if (num == TB_EXPORT_MAX_HEADERS)
            return "at most 16 headers";
        h = &parsed[num];
        if (name.len == 0 || name.len >= sizeof(h->name) || val.len >= sizeof(h->value))
            return "header names of 1 to 63 and values of at most 511 characters";
        for (size_t i = 0; i < name.len; i++)
            if (!tb_lex_is_tchar((unsigned char)name.base[i]))
                return "header names made of token characters";
        if (!tb_percent_decode(val, h->value, &out_len, false))
            return "percent-encoded values";
        for (size_t i = 0; i < out_len; i++)
            if ((unsigned char)h->value[i] < 0x20 || (unsigned char)h->value[i] == 0x7f)
                return "values without control characters";
        memcpy(h->name, name.base, name.len);
        h->name[name.len] = '\0';
        h->value[out_len] = '\0';
        num++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    memcpy(export->otlp_headers, parsed, num * sizeof(parsed[0]));
    export->num_otlp_headers = num;
    return NULL;
}

/* OTEL_RESOURCE_ATTRIBUTES: "k=v,k2=v2" with non-empty keys. */
static const char *set_resource_attributes(char *field, size_t size, const char *value)
{
    const char *p = value;

    if (strlen(value) >= size)
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
    memcpy(field, value, strlen(value) + 1);
    return NULL;
}

static int word_in(const char *value, const char *const *words, size_t num)
{
    for (size_t i = 0; i < num; i++)
        if (strcmp(value, words[i]) == 0)
            return (int)i;
    return -1;
}

const char *tb_directive_apply(struct tb_config *cfg, const struct tb_directive *d, void *field,
                               const char *value, char *hint, size_t hint_size)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    static const char *const trusts[] = {"trust", "ignore", "restart-and-link"};
    static const char *const bools[] = {"false", "true", "off", "on"};
    const char *form;
    uint64_t n = 0;
    int i;

    switch (d->kind) {
    case TB_DIRECTIVE_CONFIG:
        return set_path(field, sizeof(cfg->file), value);
    case TB_DIRECTIVE_ADDRESS:
        return set_address(field, value, 1);
    case TB_DIRECTIVE_ENDPOINT:
        return set_address(field, value, 0);
    case TB_DIRECTIVE_UINT:
    case TB_DIRECTIVE_COUNT:
    case TB_DIRECTIVE_SIZE:
        form = parse_uint(value, d->kind == TB_DIRECTIVE_SIZE, &n);
        if (form != NULL)
            return form;
        break;
    case TB_DIRECTIVE_DURATION:
        form = parse_duration(value, &n);
        if (form != NULL)
            return form;
        break;
    case TB_DIRECTIVE_BOOL:
        if ((i = word_in(value, bools, TB_ARRAY_SIZE(bools))) < 0)
            return "true, false, on or off";
        *(int *)field = i & 1;
        return NULL;
    case TB_DIRECTIVE_LOG_LEVEL:
        if ((i = word_in(value, levels, TB_ARRAY_SIZE(levels))) < 0)
            return "one of debug, info, warn, error";
        *(unsigned *)field = (unsigned)i;
        return NULL;
    case TB_DIRECTIVE_EXTRACT:
    case TB_DIRECTIVE_PROPAGATORS:
    case TB_DIRECTIVE_CLEAR:
        return set_format_list(field, d->kind, value, hint, hint_size);
    case TB_DIRECTIVE_INJECT_MODE: {
        struct tb_prop_policy *policy = field;

        if (strcmp(value, "replace") == 0)
            policy->mode = TB_INJECT_REPLACE;
        else if (strcmp(value, "add") == 0)
            policy->mode = TB_INJECT_ADD;
        else
            return "replace or add";
        return NULL;
    }
    case TB_DIRECTIVE_STRING:
        return set_string(field, TB_CONFIG_NAME_MAX, value);
    case TB_DIRECTIVE_ROLE:
        if (strcmp(value, "inbound") == 0)
            *(unsigned *)field = TB_SPAN_KIND_SERVER;
        else if (strcmp(value, "outbound") == 0)
            *(unsigned *)field = TB_SPAN_KIND_CLIENT;
        else
            return "inbound or outbound";
        return NULL;
    case TB_DIRECTIVE_TRUST:
        if ((i = word_in(value, trusts, TB_ARRAY_SIZE(trusts))) < 0)
            return "trust, ignore or restart-and-link";
        *(enum tb_trust *)field = (enum tb_trust)i;
        return NULL;
    case TB_DIRECTIVE_SAMPLER: {
        struct tb_sampler parsed, *s = field;

        /* Only the kind: the ratio has its own directive, so the order in
         * which the two arrive does not matter. */
        if (tb_sampler_parse(&parsed, value, NULL, &form) != TB_OK)
            return form;
        s->kind = parsed.kind;
        return NULL;
    }
    case TB_DIRECTIVE_RATIO: {
        struct tb_sampler parsed, *s = field;

        if (value[0] == '\0' || tb_sampler_parse(&parsed, "traceidratio", value, &form) != TB_OK)
            return "a ratio from 0 to 1";
        s->ratio = parsed.ratio;
        s->bound = parsed.bound;
        return NULL;
    }
    case TB_DIRECTIVE_EXPORTERS:
        form = set_exporters(field, value);
        if (form == NULL)
            cfg->exporters_named = 1;
        return form;
    case TB_DIRECTIVE_URL:
        return set_url(field, sizeof(cfg->export.zipkin_url), value);
    case TB_DIRECTIVE_PATH:
        return set_path(field, sizeof(cfg->export.file_path), value);
    case TB_DIRECTIVE_OTLP_PROTOCOL:
        if (strcmp(value, "http/protobuf") == 0)
            *(bool *)field = false;
        else if (strcmp(value, "http/json") == 0)
            *(bool *)field = true;
        else
            return "http/protobuf or http/json (grpc is not supported)";
        return NULL;
    case TB_DIRECTIVE_COMPRESSION:
        if (strcmp(value, "gzip") == 0)
            *(bool *)field = true;
        else if (strcmp(value, "none") == 0)
            *(bool *)field = false;
        else
            return "gzip or none";
        return NULL;
    case TB_DIRECTIVE_HEADERS:
        return set_otlp_headers(field, value);
    case TB_DIRECTIVE_ATTRIBUTES:
        return set_resource_attributes(field, sizeof(cfg->resource_attributes), value);
    case TB_DIRECTIVE_ADMIN:
        if (strcmp(value, "off") == 0) {
            cfg->admin_enabled = 0;
            return NULL;
        }
        if ((form = set_address(field, value, 1)) != NULL)
            return "HOST:PORT, [IPv6]:PORT or off";
        cfg->admin_enabled = 1;
        return NULL;
    case TB_DIRECTIVE_ACCESS_LOG:
        if (strcmp(value, "off") == 0) {
            ((char *)field)[0] = '\0';
            return NULL;
        }
        return set_path(field, sizeof(cfg->access_log), value);
    case TB_DIRECTIVE_ACCESS_LOG_FORMAT:
        if (strcmp(value, "json") == 0) {
            cfg->access_log_format = TB_ACCESS_LOG_JSON;
            return NULL;
        }
        if (strchr(value, '$') == NULL || strlen(value) >= sizeof(cfg->access_log_template))
            return "json, or a template of at most 1023 characters with $variables";
        for (const char *c = value; *c != '\0'; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t')
                return "a template without control characters";
        memcpy(cfg->access_log_template, value, strlen(value) + 1);
        cfg->access_log_format = TB_ACCESS_LOG_TEMPLATE;
        return NULL;
    }
    if (n < d->min || n > d->max) {
        if (d->kind == TB_DIRECTIVE_DURATION)
            snprintf(hint, hint_size, "seconds from %g to %g", (double)d->min / 1000,
                     (double)d->max / 1000);
        else
            snprintf(hint, hint_size, "a value from %llu to %llu", (unsigned long long)d->min,
                     (unsigned long long)d->max);
        return hint;
    }
    switch (d->kind) {
    case TB_DIRECTIVE_UINT:
        *(unsigned *)field = (unsigned)n;
        break;
    case TB_DIRECTIVE_COUNT:
    case TB_DIRECTIVE_SIZE:
        *(size_t *)field = (size_t)n;
        break;
    case TB_DIRECTIVE_DURATION:
        *(uint64_t *)field = n;
        break;
    default:
        tb_bug("directive kind already handled");
    }
    return NULL;
}

/* The member of `cfg` a top-level row describes. */
static void *cfg_field(struct tb_config *cfg, const struct tb_directive *d)
{
    return (char *)cfg + d->offset;
}

/* Marks --listen and --upstream as given, wherever they came from. */
static void note_given(struct tb_config *cfg, const struct tb_directive *d)
{
    if (d->offset == FIELD(listen) && d->kind == TB_DIRECTIVE_ADDRESS)
        cfg->have_listen = 1;
    if (d->offset == FIELD(upstream) && d->kind == TB_DIRECTIVE_ENDPOINT)
        cfg->have_upstream = 1;
}

/* ------------------------------------------------------------------------ */
/* environment                                                               */

static int is_ratio_sampler(enum tb_sampler_kind kind)
{
    return kind == TB_SAMPLER_TRACEIDRATIO || kind == TB_SAMPLER_PARENTBASED_TRACEIDRATIO;
}

int tb_config_apply_env(struct tb_config *cfg, const char *(*get)(const char *name), FILE *err)
{
    const char *value = NULL, *which = NULL, *form = NULL;
    char hint[256], buf[600], env_name[64];

    for (size_t i = 0; i < TB_ARRAY_SIZE(otel_env); i++) {
        const struct tb_directive *d = tb_config_directive_by_name(otel_env[i].directive);
        const char *apply;
        uint64_t n;

        which = otel_env[i].env;
        value = get(which);
        if ((value == NULL || value[0] == '\0') && otel_env[i].fallback != NULL) {
            which = otel_env[i].fallback;
            value = get(which);
        }
        if (value == NULL || value[0] == '\0')
            continue;
        if ((otel_env[i].how & OTEL_RATIO_ONLY) && !is_ratio_sampler(cfg->sampler.kind))
            continue; /* OpenTelemetry ignores the argument of other samplers */
        apply = value;
        if (otel_env[i].how & OTEL_MS) {
            if (parse_uint(value, 0, &n) != NULL || n < 1 || n > DAY_MS) {
                form = "milliseconds from 1 to 86400000";
                goto bad;
            }
            snprintf(buf, sizeof(buf), "%llums", (unsigned long long)n);
            apply = buf;
        } else if ((otel_env[i].how & OTEL_BASE_URL) && which == otel_env[i].fallback) {
            size_t len = strlen(value);

            while (len > 0 && value[len - 1] == '/')
                len--;
            if (len > 200) {
                form = "an http:// URL of at most 200 characters";
                goto bad;
            }
            snprintf(buf, sizeof(buf), "%.*s/v1/traces", (int)len, value);
            apply = buf;
        }
        form = tb_directive_apply(cfg, d, cfg_field(cfg, d), apply, hint, sizeof(hint));
        if (form != NULL)
            goto bad;
    }
    /* TRACEBRIDGE_<FLAG> for every flag, after the OTEL_ ones: it wins. */
    for (size_t i = 0; i < TB_ARRAY_SIZE(directives); i++) {
        const struct tb_directive *d = &directives[i];

        if (d->kind == TB_DIRECTIVE_CONFIG)
            continue; /* read by tb_config_load before the file */
        which = tb_directive_env_name(d, env_name, sizeof(env_name));
        value = get(which);
        if (value == NULL || value[0] == '\0')
            continue;
        form = tb_directive_apply(cfg, d, cfg_field(cfg, d), value, hint, sizeof(hint));
        if (form != NULL)
            goto bad;
        note_given(cfg, d);
    }
    return 0;

bad:
    fprintf(err, "tracebridge: invalid %s '%s': expected %s\n", which, value, form);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* finishing: listeners, routes, exporters                                   */

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

/* Every listener gets its role and trust, every route its cluster index and
 * its effective policy, sampler and timeouts, so the data path never looks
 * anything up. A route's keys override the top level one by one. */
static void resolve_listeners(struct tb_config *cfg)
{
    for (size_t i = 0; i < cfg->num_listeners; i++) {
        struct tb_listener_config *l = &cfg->listeners[i];

        if (!(l->set & TB_LISTENER_SET_ROLE))
            l->role = cfg->role;
        if (!(l->set & TB_LISTENER_SET_TRUST))
            l->trust = cfg->trust;
        for (size_t j = 0; j < l->num_routes; j++) {
            struct tb_route_config *r = &l->routes[j];
            struct tb_prop_policy p = cfg->propagation;
            struct tb_sampler s = cfg->sampler;

            for (size_t k = 0; k < cfg->num_clusters; k++)
                if (strcmp(cfg->clusters[k].name, r->cluster_name) == 0)
                    r->cluster = (unsigned)k;
            if (r->set & TB_ROUTE_SET_EXTRACT) {
                memcpy(p.extract, r->propagation.extract, sizeof(p.extract));
                p.num_extract = r->propagation.num_extract;
            }
            if (r->set & TB_ROUTE_SET_INJECT) {
                memcpy(p.inject, r->propagation.inject, sizeof(p.inject));
                p.num_inject = r->propagation.num_inject;
            }
            if (r->set & TB_ROUTE_SET_CLEAR)
                p.clear = r->propagation.clear;
            if (r->set & TB_ROUTE_SET_MODE)
                p.mode = r->propagation.mode;
            r->propagation = p;
            if (r->set & TB_ROUTE_SET_SAMPLER)
                s.kind = r->sampler.kind;
            if (r->set & TB_ROUTE_SET_SAMPLER_ARG) {
                s.ratio = r->sampler.ratio;
                s.bound = r->sampler.bound;
            }
            r->sampler = s;
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
    resolve_listeners(cfg);
    if (cfg->access_log_format == TB_ACCESS_LOG_TEMPLATE) {
        char why[256];

        /* Here rather than when the log opens, so check-config and a
         * reload refuse it too. */
        if (tb_access_log_template_check(cfg->access_log_template, why, sizeof(why)) != 0) {
            fprintf(err, "tracebridge: invalid access log format: %s\n", why);
            return -1;
        }
    }
    if (!cfg->have_listen && cfg->num_listeners > 0) {
        const struct tb_listener_config *l = &cfg->listeners[0];

        cfg->listen = l->address;
        if (l->num_routes > 0 && l->routes[0].cluster < cfg->num_clusters &&
            cfg->clusters[l->routes[0].cluster].num_endpoints > 0)
            cfg->upstream = cfg->clusters[l->routes[0].cluster].endpoints[0];
    }
    if (ex->max_batch > ex->max_queue)
        ex->max_batch = ex->max_queue; /* as the OpenTelemetry SDKs do */

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
        fprintf(err, "tracebridge: the otlp exporter needs --otlp-endpoint URL "
                     "(export.otlp.endpoint, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or "
                     "OTEL_EXPORTER_OTLP_ENDPOINT)\n");
        return -1;
    }
    if ((ex->enabled & TB_EXPORTER_BIT(TB_EXPORTER_ZIPKIN)) && ex->zipkin_url[0] == '\0') {
        fprintf(err, "tracebridge: the zipkin exporter needs --zipkin-endpoint URL "
                     "(export.zipkin.endpoint)\n");
        return -1;
    }
    if ((ex->enabled & TB_EXPORTER_BIT(TB_EXPORTER_SKYWALKING)) && ex->skywalking_url[0] == '\0') {
        fprintf(err, "tracebridge: the skywalking exporter needs --skywalking-endpoint URL "
                     "(export.skywalking.endpoint)\n");
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
/* command line                                                              */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: tracebridge -c FILE [options]\n"
            "       tracebridge --listen HOST:PORT --upstream HOST:PORT [options]\n"
            "       tracebridge check-config FILE [options]\n"
            "       tracebridge decode [options] < headers   (see tracebridge decode --help)\n"
            "\n"
            "A transparent HTTP/1.1 reverse proxy that keeps distributed traces connected.\n"
            "Precedence: flags > environment (TRACEBRIDGE_<FLAG>, OTEL_*) > file > defaults.\n"
            "Durations (S) are seconds or take a unit: 250ms, 5s, 2m, 1h. Sizes take k or m.\n"
            "\n"
            "commands:\n"
            "  %-34s %s\n"
            "  %-34s %s\n",
            "check-config FILE [options]",
            "load the configuration, print it as JSON, exit 0 (2 on errors)", "decode [options]",
            "show the trace context in header lines read from standard input");
    for (size_t i = 0; i < TB_ARRAY_SIZE(directives); i++) {
        char flag[64];

        if (directives[i].group != NULL)
            fprintf(out, "\n%s:\n", directives[i].group);
        snprintf(flag, sizeof(flag), "%s--%s %s",
                 directives[i].kind == TB_DIRECTIVE_CONFIG ? "-c, " : "", directives[i].name,
                 directives[i].arg);
        fprintf(out, "  %-34s %s\n", flag, directives[i].help);
    }
    fprintf(out, "\nother:\n  %-34s %s\n  %-34s %s\n", "-h, --help", "print this help and exit",
            "--version", "print the version and exit");
}

static enum tb_config_cli_result parse_args(struct tb_config *cfg, int argc, char **argv, FILE *out,
                                            FILE *err)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *name, *value, *eq, *form;
        const struct tb_directive *d = NULL;
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
        if (strcmp(arg, "-c") == 0) {
            name = "config";
            name_len = strlen(name);
            eq = NULL;
        } else if (strncmp(arg, "--", 2) == 0) {
            name = arg + 2;
            eq = strchr(name, '=');
            name_len = eq ? (size_t)(eq - name) : strlen(name);
        } else {
            fprintf(err, "tracebridge: unexpected argument '%s' (see --help)\n", arg);
            return TB_CONFIG_CLI_ERROR;
        }
        d = find_flag(name, name_len);
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
        form = tb_directive_apply(cfg, d, cfg_field(cfg, d), value, hint, sizeof(hint));
        if (form != NULL) {
            fprintf(err, "tracebridge: invalid value '%s' for '--%s': expected %s\n", value,
                    d->name, form);
            return TB_CONFIG_CLI_ERROR;
        }
        note_given(cfg, d);
    }
    return TB_CONFIG_CLI_RUN;
}

enum tb_config_cli_result tb_config_parse_flags(struct tb_config *cfg, int argc, char **argv,
                                                FILE *out, FILE *err)
{
    return parse_args(cfg, argc, argv, out, err);
}

enum tb_config_cli_result tb_config_parse_cli(struct tb_config *cfg, int argc, char **argv,
                                              FILE *out, FILE *err)
{
    enum tb_config_cli_result r = parse_args(cfg, argc, argv, out, err);

    if (r != TB_CONFIG_CLI_RUN)
        return r;
    if (!cfg->have_listen || !cfg->have_upstream) {
        fprintf(err, "tracebridge: %s is required (see --help)\n",
                !cfg->have_listen ? "--listen HOST:PORT" : "--upstream HOST:PORT");
        return TB_CONFIG_CLI_ERROR;
    }
    return TB_CONFIG_CLI_RUN;
}

/* The first pass over argv: the file to read (the last -c / --config wins,
 * as with any flag), and whether --help or --version asks for no file at
 * all. Values of other flags are skipped, never taken for -c. */
static int find_config_flag(int argc, char **argv, const char **file)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "--version") == 0)
            return 1;
        if (strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) {
            if (i + 1 < argc)
                *file = argv[++i];
        } else if (strncmp(arg, "--config=", 9) == 0) {
            *file = arg + 9;
        } else if (strncmp(arg, "--", 2) == 0 && strchr(arg, '=') == NULL) {
            i++;
        }
    }
    return 0;
}

enum tb_config_cli_result tb_config_load(struct tb_config *cfg, int argc, char **argv,
                                         const char *(*get)(const char *name), FILE *out, FILE *err)
{
    const struct tb_directive *config_row = tb_config_directive_by_name("config");
    const char *file = NULL, *form;
    enum tb_config_cli_result r;
    char hint[128];

    tb_config_defaults(cfg);
    if (find_config_flag(argc, argv, &file))
        return parse_args(cfg, argc, argv, out, err); /* prints help or the version */
    if (file == NULL) {
        file = get("TRACEBRIDGE_CONFIG");
        if (file != NULL && file[0] == '\0')
            file = NULL;
    }
    if (file != NULL) {
        form = tb_directive_apply(cfg, config_row, cfg->file, file, hint, sizeof(hint));
        if (form != NULL) {
            fprintf(err, "tracebridge: invalid configuration file name '%s': expected %s\n", file,
                    form);
            goto fail;
        }
        if (tb_config_file_read(cfg, cfg->file, err) != 0)
            goto fail;
    }
    if (tb_config_apply_env(cfg, get, err) != 0)
        goto fail;
    r = parse_args(cfg, argc, argv, out, err);
    if (r != TB_CONFIG_CLI_RUN) {
        tb_config_free(cfg);
        return r;
    }
    if (cfg->num_listeners > 0 && (cfg->have_listen || cfg->have_upstream)) {
        fprintf(err,
                "tracebridge: --listen and --upstream (or TRACEBRIDGE_LISTEN and "
                "TRACEBRIDGE_UPSTREAM) cannot be used with %s, which defines listeners: "
                "remove one or the other\n",
                cfg->file);
        goto fail;
    }
    if (cfg->num_listeners == 0 && (!cfg->have_listen || !cfg->have_upstream)) {
        if (cfg->num_clusters > 0)
            fprintf(err,
                    "tracebridge: %s defines clusters but no listeners: a listener's "
                    "routes name the clusters\n",
                    cfg->file);
        else if (cfg->file[0] != '\0')
            fprintf(err,
                    "tracebridge: %s defines no listeners: add listeners: to the file, or "
                    "give --listen HOST:PORT and --upstream HOST:PORT\n",
                    cfg->file);
        else
            fprintf(err, "tracebridge: %s is required, or -c FILE (see --help)\n",
                    !cfg->have_listen ? "--listen HOST:PORT" : "--upstream HOST:PORT");
        goto fail;
    }
    if (tb_config_finish(cfg, err) != 0)
        goto fail;
    return TB_CONFIG_CLI_RUN;

fail:
    tb_config_free(cfg);
    return TB_CONFIG_CLI_ERROR;
}

int tb_config_check_main(int argc, char **argv, const char *(*get)(const char *name), FILE *out,
                         FILE *err)
{
    struct tb_config *cfg = tb_xmalloc(sizeof(*cfg));
    char **args = tb_xcalloc((size_t)argc + 3, sizeof(*args));
    int n = 0, status = 2;

    args[n++] = "tracebridge";
    if (argc >= 2 && argv[1][0] != '-') {
        /* The file given positionally goes first, so a later -c still wins. */
        args[n++] = "--config";
        args[n++] = argv[1];
        for (int i = 2; i < argc; i++)
            args[n++] = argv[i];
    } else {
        for (int i = 1; i < argc; i++)
            args[n++] = argv[i];
    }
    args[n] = NULL;
    switch (tb_config_load(cfg, n, args, get, out, err)) {
    case TB_CONFIG_CLI_RUN:
        tb_config_write_json(cfg, out);
        tb_config_free(cfg);
        status = fflush(out) == 0 ? 0 : 2;
        break;
    case TB_CONFIG_CLI_EXIT_OK:
        status = 0;
        break;
    case TB_CONFIG_CLI_ERROR:
        status = 2;
        break;
    }
    tb_free(args);
    tb_free(cfg);
    return status;
}

/* ------------------------------------------------------------------------ */
/* the effective configuration as JSON (check-config, admin /config)         */

static void json_seconds(struct tb_json *j, const char *key, uint64_t ms)
{
    tb_json_key(j, key);
    tb_json_double(j, (double)ms / 1000.0);
}

static void json_address(struct tb_json *j, const char *key, const struct tb_address *a)
{
    char buf[300];

    tb_address_format(a, buf, sizeof(buf));
    tb_json_key(j, key);
    tb_json_cstr(j, buf);
}

static void json_formats(struct tb_json *j, const char *key, const enum tb_format *list, size_t num)
{
    tb_json_key(j, key);
    tb_json_array_begin(j);
    for (size_t i = 0; i < num; i++)
        tb_json_cstr(j, tb_propagator_get(list[i])->name);
    tb_json_array_end(j);
}

static void json_propagation(struct tb_json *j, const struct tb_prop_policy *p)
{
    enum tb_format clear[TB_FORMAT_NUM];
    size_t num_clear = 0;

    for (unsigned f = 0; f < TB_FORMAT_NUM; f++)
        if (p->clear & TB_FORMAT_BIT(f))
            clear[num_clear++] = (enum tb_format)f;
    tb_json_key(j, "propagation");
    tb_json_object_begin(j);
    json_formats(j, "extract", p->extract, p->num_extract);
    json_formats(j, "inject", p->inject, p->num_inject);
    json_formats(j, "clear", clear, num_clear);
    tb_json_key(j, "mode");
    tb_json_cstr(j, p->mode == TB_INJECT_ADD ? "add" : "replace");
    tb_json_object_end(j);
}

static const char *sampler_name(enum tb_sampler_kind kind)
{
    switch (kind) {
    case TB_SAMPLER_ALWAYS_ON:
        return "always_on";
    case TB_SAMPLER_ALWAYS_OFF:
        return "always_off";
    case TB_SAMPLER_TRACEIDRATIO:
        return "traceidratio";
    case TB_SAMPLER_PARENTBASED_ALWAYS_ON:
        return "parentbased_always_on";
    case TB_SAMPLER_PARENTBASED_ALWAYS_OFF:
        return "parentbased_always_off";
    case TB_SAMPLER_PARENTBASED_TRACEIDRATIO:
        return "parentbased_traceidratio";
    }
    return "unknown";
}

static void json_sampler(struct tb_json *j, const struct tb_sampler *s)
{
    tb_json_key(j, "sampler");
    tb_json_cstr(j, sampler_name(s->kind));
    tb_json_key(j, "arg");
    tb_json_double(j, s->ratio);
}

static const char *role_name(unsigned role)
{
    return role == TB_SPAN_KIND_CLIENT ? "outbound" : "inbound";
}

static const char *trust_name(enum tb_trust trust)
{
    switch (trust) {
    case TB_TRUST_TRUST:
        return "trust";
    case TB_TRUST_IGNORE:
        return "ignore";
    case TB_TRUST_RESTART_LINK:
        return "restart-and-link";
    }
    return "unknown";
}

static void json_export(struct tb_json *j, const struct tb_export_config *ex)
{
    static const char *const names[TB_EXPORTER_NUM] = {"otlp", "zipkin", "skywalking", "file"};

    tb_json_key(j, "export");
    tb_json_object_begin(j);
    tb_json_key(j, "exporters");
    tb_json_array_begin(j);
    for (unsigned k = 0; k < TB_EXPORTER_NUM; k++)
        if (ex->enabled & TB_EXPORTER_BIT(k))
            tb_json_cstr(j, names[k]);
    tb_json_array_end(j);
    json_seconds(j, "timeout", ex->export_timeout_ms);
    tb_json_key(j, "otlp");
    tb_json_object_begin(j);
    tb_json_key(j, "endpoint");
    tb_json_cstr(j, ex->otlp_url);
    tb_json_key(j, "protocol");
    tb_json_cstr(j, ex->otlp_json ? "http/json" : "http/protobuf");
    tb_json_key(j, "compression");
    tb_json_cstr(j, ex->otlp_gzip ? "gzip" : "none");
    tb_json_key(j, "headers");
    tb_json_object_begin(j);
    for (size_t i = 0; i < ex->num_otlp_headers; i++) {
        tb_json_key(j, ex->otlp_headers[i].name);
        tb_json_cstr(j, ex->otlp_headers[i].value);
    }
    tb_json_object_end(j);
    tb_json_object_end(j);
    tb_json_key(j, "zipkin");
    tb_json_object_begin(j);
    tb_json_key(j, "endpoint");
    tb_json_cstr(j, ex->zipkin_url);
    tb_json_object_end(j);
    tb_json_key(j, "skywalking");
    tb_json_object_begin(j);
    tb_json_key(j, "endpoint");
    tb_json_cstr(j, ex->skywalking_url);
    tb_json_object_end(j);
    tb_json_key(j, "file");
    tb_json_object_begin(j);
    tb_json_key(j, "path");
    tb_json_cstr(j, ex->file_path[0] != '\0' ? ex->file_path : "-");
    tb_json_object_end(j);
    tb_json_key(j, "batch");
    tb_json_object_begin(j);
    tb_json_key(j, "max_queue_size");
    tb_json_uint(j, ex->max_queue);
    tb_json_key(j, "max_export_batch_size");
    tb_json_uint(j, ex->max_batch);
    json_seconds(j, "schedule_delay", ex->schedule_delay_ms);
    tb_json_object_end(j);
    tb_json_object_end(j);
}

static void json_route(struct tb_json *j, const struct tb_config *cfg,
                       const struct tb_route_config *r)
{
    tb_json_object_begin(j);
    tb_json_key(j, "name");
    tb_json_cstr(j, r->name);
    tb_json_key(j, "match");
    tb_json_object_begin(j);
    tb_json_key(j, "host");
    tb_json_cstr(j, r->host);
    tb_json_key(j, "path_prefix");
    tb_json_cstr(j, r->path_prefix);
    tb_json_object_end(j);
    tb_json_key(j, "cluster");
    tb_json_cstr(j,
                 r->cluster < cfg->num_clusters ? cfg->clusters[r->cluster].name : r->cluster_name);
    json_propagation(j, &r->propagation);
    tb_json_key(j, "sampling");
    tb_json_object_begin(j);
    json_sampler(j, &r->sampler);
    tb_json_object_end(j);
    tb_json_key(j, "timeouts");
    tb_json_object_begin(j);
    json_seconds(j, "connect", r->connect_timeout_ms);
    json_seconds(j, "upstream", r->upstream_timeout_ms);
    tb_json_object_end(j);
    tb_json_object_end(j);
}

void tb_config_write_json(const struct tb_config *cfg, FILE *out)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    struct tb_buf buf = {0};
    struct tb_json j;

    tb_json_init(&j, &buf);
    tb_json_object_begin(&j);
    tb_json_key(&j, "config_file");
    tb_json_cstr(&j, cfg->file);
    tb_json_key(&j, "workers");
    tb_json_uint(&j, cfg->workers);
    tb_json_key(&j, "log_level");
    tb_json_cstr(&j, cfg->log_level < TB_ARRAY_SIZE(levels) ? levels[cfg->log_level] : "info");
    tb_json_key(&j, "role");
    tb_json_cstr(&j, role_name(cfg->role));
    tb_json_key(&j, "trust");
    tb_json_cstr(&j, trust_name(cfg->trust));

    tb_json_key(&j, "service");
    tb_json_object_begin(&j);
    tb_json_key(&j, "name");
    tb_json_cstr(&j, cfg->service_name);
    tb_json_key(&j, "instance");
    tb_json_cstr(&j, cfg->service_instance);
    tb_json_object_end(&j);
    tb_json_key(&j, "resource");
    tb_json_object_begin(&j);
    tb_json_key(&j, "attributes");
    tb_json_cstr(&j, cfg->resource_attributes);
    tb_json_object_end(&j);

    tb_json_key(&j, "admin");
    tb_json_object_begin(&j);
    if (cfg->admin_enabled) {
        json_address(&j, "address", &cfg->admin);
    } else {
        tb_json_key(&j, "address");
        tb_json_cstr(&j, "off");
    }
    tb_json_object_end(&j);

    tb_json_key(&j, "access_log");
    tb_json_object_begin(&j);
    tb_json_key(&j, "path");
    tb_json_cstr(&j, cfg->access_log[0] != '\0' ? cfg->access_log : "off");
    tb_json_key(&j, "format");
    tb_json_cstr(&j, cfg->access_log_format == TB_ACCESS_LOG_TEMPLATE ? cfg->access_log_template
                                                                      : "json");
    tb_json_key(&j, "buffer_size");
    tb_json_uint(&j, cfg->access_log_buffer);
    json_seconds(&j, "flush_interval", cfg->access_log_flush_ms);
    tb_json_object_end(&j);

    tb_json_key(&j, "timeouts");
    tb_json_object_begin(&j);
    json_seconds(&j, "connect", cfg->connect_timeout_ms);
    json_seconds(&j, "header", cfg->header_timeout_ms);
    json_seconds(&j, "upstream", cfg->upstream_timeout_ms);
    json_seconds(&j, "idle", cfg->idle_timeout_ms);
    tb_json_object_end(&j);
    tb_json_key(&j, "shutdown");
    tb_json_object_begin(&j);
    json_seconds(&j, "delay", cfg->shutdown_delay_ms);
    json_seconds(&j, "drain_timeout", cfg->drain_timeout_ms);
    tb_json_object_end(&j);
    tb_json_key(&j, "limits");
    tb_json_object_begin(&j);
    tb_json_key(&j, "max_header_size");
    tb_json_uint(&j, cfg->max_header_size);
    tb_json_key(&j, "max_request_line");
    tb_json_uint(&j, cfg->max_request_line);
    tb_json_key(&j, "max_idle_upstream");
    tb_json_uint(&j, cfg->max_idle_upstream);
    tb_json_object_end(&j);

    json_propagation(&j, &cfg->propagation);
    tb_json_key(&j, "sampling");
    tb_json_object_begin(&j);
    json_sampler(&j, &cfg->sampler);
    tb_json_key(&j, "max_root_spans_per_second");
    tb_json_uint(&j, cfg->max_root_spans_per_second);
    tb_json_object_end(&j);
    json_export(&j, &cfg->export);

    tb_json_key(&j, "degradation");
    tb_json_object_begin(&j);
    tb_json_key(&j, "enabled");
    tb_json_bool(&j, cfg->degrade_enabled != 0);
    tb_json_key(&j, "queue_high");
    tb_json_uint(&j, cfg->degrade_queue_high);
    json_seconds(&j, "loop_lag", cfg->degrade_lag_ms);
    json_seconds(&j, "recover_after", cfg->degrade_recover_ms);
    tb_json_object_end(&j);

    tb_json_key(&j, "listeners");
    tb_json_array_begin(&j);
    for (size_t i = 0; i < cfg->num_listeners; i++) {
        const struct tb_listener_config *l = &cfg->listeners[i];

        tb_json_object_begin(&j);
        tb_json_key(&j, "name");
        tb_json_cstr(&j, l->name);
        json_address(&j, "address", &l->address);
        tb_json_key(&j, "role");
        tb_json_cstr(&j, role_name(l->role));
        tb_json_key(&j, "trust");
        tb_json_cstr(&j, trust_name(l->trust));
        tb_json_key(&j, "routes");
        tb_json_array_begin(&j);
        for (size_t k = 0; k < l->num_routes; k++)
            json_route(&j, cfg, &l->routes[k]);
        tb_json_array_end(&j);
        tb_json_object_end(&j);
    }
    tb_json_array_end(&j);

    tb_json_key(&j, "clusters");
    tb_json_array_begin(&j);
    for (size_t i = 0; i < cfg->num_clusters; i++) {
        const struct tb_cluster_config *c = &cfg->clusters[i];

        tb_json_object_begin(&j);
        tb_json_key(&j, "name");
        tb_json_cstr(&j, c->name);
        tb_json_key(&j, "endpoints");
        tb_json_array_begin(&j);
        for (size_t k = 0; k < c->num_endpoints; k++) {
            char addr[300];

            tb_address_format(&c->endpoints[k], addr, sizeof(addr));
            tb_json_cstr(&j, addr);
        }
        tb_json_array_end(&j);
        tb_json_key(&j, "ejection");
        tb_json_object_begin(&j);
        tb_json_key(&j, "consecutive_failures");
        tb_json_uint(&j, c->eject_after);
        json_seconds(&j, "base", c->eject_base_ms);
        json_seconds(&j, "max", c->eject_max_ms);
        tb_json_object_end(&j);
        tb_json_object_end(&j);
    }
    tb_json_array_end(&j);
    tb_json_object_end(&j);
    tb_buf_append_byte(&buf, '\n');
    fwrite(buf.data, 1, buf.len, out);
    tb_buf_free(&buf);
}
