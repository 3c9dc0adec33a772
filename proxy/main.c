/* SPDX-License-Identifier: MIT
 * Entry point: flags, listening sockets, workers, signals. No proxy logic.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/tb.h"
#include "proxy/config.h"
#include "proxy/decode.h"
#include "proxy/log.h"
#include "proxy/monitor.h"
#include "proxy/worker.h"
#include "parsers/lex.h"
#include "spans/exporter.h"

#define LISTEN_BACKLOG 4096

/* Binds a listening socket. `port_override` replaces the configured port when
 * non-NULL, so workers 2..N share the port the kernel gave worker 1 for ":0". */
static int open_listener(const struct tb_address *addr, const char *port_override, char *bound_port,
                         size_t bound_port_size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    struct sockaddr_storage ss;
    socklen_t ss_len = sizeof(ss);
    int fd = -1, one = 1, err;

    err = getaddrinfo(addr->host, port_override ? port_override : addr->port, &hints, &res);
    if (err != 0) {
        tb_log(TB_LOG_ERROR, "listen_error", " address=%s:%s error=\"%s\"", addr->host, addr->port,
               gai_strerror(err));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        goto fail;
    /* SO_REUSEPORT gives every worker its own accept queue on one port. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &ss_len) != 0)
        goto fail;
    getnameinfo((struct sockaddr *)&ss, ss_len, NULL, 0, bound_port, (socklen_t)bound_port_size,
                NI_NUMERICSERV);
    freeaddrinfo(res);
    return fd;
fail:
    tb_log(TB_LOG_ERROR, "listen_error", " address=%s:%s error=\"%s\"", addr->host, addr->port,
           strerror(errno));
    if (fd != -1)
        close(fd);
    freeaddrinfo(res);
    return -1;
}

static int resolve_upstream(const struct tb_address *addr, struct sockaddr_storage *out,
                            socklen_t *out_len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int err = getaddrinfo(addr->host, addr->port, &hints, &res);

    if (err != 0) {
        tb_log(TB_LOG_ERROR, "upstream_error", " address=%s:%s error=\"%s\"", addr->host,
               addr->port, gai_strerror(err));
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *out_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

#define RESOURCE_MAX_ATTRS 48

/* The process's resource: OTEL_RESOURCE_ATTRIBUTES (percent-decoded values),
 * then service.name, service.instance.id, host.name and the Kubernetes
 * downward-API names, which win over the same keys in the variable. Strings
 * live in `store` (and the configuration) for the life of the process. */
static void build_resource(const struct tb_config *cfg, struct tb_resource *res,
                           struct tb_resource_attr *attrs, char *store, size_t store_size)
{
    static const struct {
        const char *key;
        const char *env[2];
    } k8s[] = {
        {"k8s.pod.name", {"K8S_POD_NAME", "POD_NAME"}},
        {"k8s.namespace.name", {"K8S_NAMESPACE_NAME", "POD_NAMESPACE"}},
        {"k8s.node.name", {"K8S_NODE_NAME", "NODE_NAME"}},
    };
    const char *service = cfg->service_name;
    size_t n = 0, used = 0;
    char *p, *host;

    /* Split "k=v,k2=v2" in place, in the store. */
    snprintf(store, store_size, "%s", cfg->resource_attributes);
    used = strlen(store) + 1;
    for (p = store; *p != '\0' && n < RESOURCE_MAX_ATTRS - 8;) {
        char *comma = strchr(p, ','), *eq;
        size_t len;

        if (comma != NULL)
            *comma = '\0';
        eq = strchr(p, '=');
        if (eq != NULL) {
            *eq = '\0';
            if (!tb_percent_decode((struct tb_iov){eq + 1, strlen(eq + 1)}, eq + 1, &len, false))
                len = strlen(eq + 1);
            eq[1 + len] = '\0';
            if (strcmp(p, "service.name") == 0) {
                /* The variable names the service unless a flag or OTEL_SERVICE_NAME did. */
                if (strcmp(cfg->service_name, "tracebridge") == 0)
                    service = eq + 1;
            } else if (strcmp(p, "service.instance.id") != 0 && strcmp(p, "host.name") != 0) {
                attrs[n++] = (struct tb_resource_attr){p, eq + 1};
            }
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    host = store + used;
    if (used + 256 > store_size || gethostname(host, 255) != 0)
        host = "localhost";
    else
        host[255] = '\0';
    attrs[n++] = (struct tb_resource_attr){"service.name", service};
    attrs[n++] = (struct tb_resource_attr){"service.instance.id", cfg->service_instance};
    attrs[n++] = (struct tb_resource_attr){"host.name", host};
    for (size_t i = 0; i < TB_ARRAY_SIZE(k8s); i++) {
        for (size_t j = 0; j < 2; j++) {
            const char *v = getenv(k8s[i].env[j]);

            if (v != NULL && v[0] != '\0') {
                attrs[n++] = (struct tb_resource_attr){k8s[i].key, v};
                break;
            }
        }
    }
    attrs[n++] = (struct tb_resource_attr){"telemetry.sdk.name", "tracebridge"};
    attrs[n++] = (struct tb_resource_attr){"telemetry.sdk.language", "c"};
    attrs[n++] = (struct tb_resource_attr){"telemetry.sdk.version", TB_VERSION};
    res->attrs = attrs;
    res->num_attrs = n;
    res->service_name = service;
    res->service_instance = cfg->service_instance;
}

static void log_export_stats(const struct tb_config *cfg, const struct tb_pipeline_stats *st,
                             const struct tb_worker *workers, unsigned num_workers)
{
    static const char *const names[TB_EXPORTER_NUM] = {"otlp", "zipkin", "skywalking", "file"};
    uint64_t started = 0, sampled = 0;

    for (unsigned k = 0; k < TB_EXPORTER_NUM; k++) {
        const struct tb_export_stats *e = &st->exporters[k];

        if (!(cfg->export.enabled & TB_EXPORTER_BIT(k)))
            continue;
        tb_log(TB_LOG_INFO, "export_stats",
               " exporter=%s exported=%llu failed=%llu requests=%llu retries=%llu errors=%llu",
               names[k], (unsigned long long)e->exported, (unsigned long long)e->failed,
               (unsigned long long)e->requests, (unsigned long long)e->retries,
               (unsigned long long)e->errors);
    }
    for (unsigned i = 0; i < num_workers; i++) {
        started += workers[i].hop_counters.spans_started;
        sampled += workers[i].hop_counters.spans_sampled;
    }
    tb_log(TB_LOG_INFO, "span_stats", " started=%llu sampled=%llu dropped_full=%llu",
           (unsigned long long)started, (unsigned long long)sampled,
           (unsigned long long)st->dropped_full);
}

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

/* "PID@HOSTNAME", the shape SkyWalking agents give an instance. */
static void default_instance(struct tb_config *cfg)
{
    char host[64] = "localhost";

    if (cfg->service_instance[0] != '\0')
        return;
    if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    snprintf(cfg->service_instance, sizeof(cfg->service_instance), "%ld@%s", (long)getpid(), host);
}

int main(int argc, char **argv)
{
    struct tb_config cfg;
    struct tb_worker *workers;
    struct sockaddr_storage upstream;
    socklen_t upstream_len = 0;
    sigset_t stop_signals;
    char port[sizeof(cfg.listen.port)] = "", listen_name[300];
    unsigned started = 0;
    struct tb_resource resource;
    struct tb_resource_attr resource_attrs[RESOURCE_MAX_ATTRS];
    static char resource_store[4096];
    struct tb_pipeline *pipeline;
    struct tb_pipeline_stats export_stats;
    struct tb_monitor *monitor;
    char err[256];
    int sig = 0, status = 0;

    if (argc > 1 && strcmp(argv[1], "decode") == 0)
        return tb_decode_main(argc - 1, argv + 1, stdin, stdout, stderr);
    tb_config_defaults(&cfg);
    if (tb_config_apply_env(&cfg, env_lookup, stderr) != 0)
        return 2;
    switch (tb_config_parse_cli(&cfg, argc, argv, stdout, stderr)) {
    case TB_CONFIG_CLI_RUN:
        break;
    case TB_CONFIG_CLI_EXIT_OK:
        return 0;
    case TB_CONFIG_CLI_ERROR:
        return 2;
    }
    if (tb_config_finish(&cfg, stderr) != 0) {
        tb_config_free(&cfg); /* the listeners it made before the error */
        return 2;
    }
    tb_log_set_level((enum tb_log_level)cfg.log_level);
    default_instance(&cfg);
    if (resolve_upstream(&cfg.upstream, &upstream, &upstream_len) != 0)
        return 1;

    /* Signals are taken by sigwait in this thread only; workers never see
     * them. A peer that closes mid-write must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    build_resource(&cfg, &resource, resource_attrs, resource_store, sizeof(resource_store));
    /* `--exporter none`: no queue at all, so the data path skips span work. */
    pipeline = cfg.export.enabled == 0
                   ? NULL
                   : tb_pipeline_start(&cfg.export, &resource, cfg.workers, err, sizeof(err));
    if (pipeline == NULL && cfg.export.enabled != 0) {
        tb_log(TB_LOG_ERROR, "export_start", " error=\"%s\"", err);
        return 1;
    }
    workers = tb_xcalloc(cfg.workers, sizeof(*workers));
    monitor = tb_monitor_new(&cfg);
    for (unsigned i = 0; i < cfg.workers; i++) {
        int fd = open_listener(&cfg.listen, i == 0 ? NULL : port, port, sizeof(port));

        if (fd < 0 || tb_worker_init(&workers[i], i, &cfg, fd, (struct sockaddr *)&upstream,
                                     upstream_len) != TB_OK) {
            status = 1;
            if (fd >= 0)
                tb_worker_join(&workers[i]);
            break;
        }
        workers[i].pipeline = pipeline;
        workers[i].degrade = tb_monitor_degrade(monitor);
        if (tb_worker_start(&workers[i]) != TB_OK) {
            status = 1;
            break;
        }
        started++;
    }
    if (status == 0)
        tb_monitor_start(monitor, pipeline, workers, started);
    if (status == 0) {
        struct tb_address bound = cfg.listen;

        snprintf(bound.port, sizeof(bound.port), "%s", port);
        tb_address_format(&bound, listen_name, sizeof(listen_name));
        for (unsigned i = 0; i < cfg.workers; i++)
            tb_log(TB_LOG_INFO, "listening", " address=%s worker=%u workers=%u version=%s",
                   listen_name, i, cfg.workers, TB_VERSION);
        while (sigwait(&stop_signals, &sig) != 0)
            ;
        tb_log(TB_LOG_INFO, "shutdown", " signal=%s drain_timeout_ms=%llu",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)cfg.drain_timeout_ms);
    }
    for (unsigned i = 0; i < started; i++)
        tb_worker_stop(&workers[i]);
    for (unsigned i = 0; i < started; i++)
        tb_worker_join(&workers[i]);
    tb_monitor_free(monitor);
    /* Spans still queued go out now, within a bounded time. */
    tb_pipeline_stop(pipeline,
                     cfg.export.export_timeout_ms < 5000 ? cfg.export.export_timeout_ms : 5000,
                     &export_stats);
    log_export_stats(&cfg, &export_stats, workers, started);
    tb_free(workers);
    tb_config_free(&cfg);
    libevent_global_shutdown();
    if (status == 0)
        tb_log(TB_LOG_INFO, "exit", " status=0");
    return status;
}
