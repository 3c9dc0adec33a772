/* SPDX-License-Identifier: MIT
 * Entry point: flags, listening sockets, workers, signals. No proxy logic.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/tb.h"
#include "proxy/access_log.h"
#include "proxy/admin.h"
#include "proxy/metrics.h"
#include "proxy/config.h"
#include "proxy/decode.h"
#include "proxy/gen.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
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

/* The listening sockets of one configured listener, one per worker (each
 * worker accepts on its own SO_REUSEPORT socket). Kept by address across
 * reloads, so a listener that stays never closes its accept queue. */
struct listen_socks {
    char key[300]; /* "host:port" as configured */
    int *fds;      /* num_workers; owned by the workers once handed over */
};

struct listen_table {
    struct listen_socks *socks;
    size_t num;
};

/* Opens a listener's sockets, or finds them in `old` by address (a port 0
 * is always new). Returns 0, or -1 after closing what it opened. */
static int listen_socks_get(const struct tb_listener_config *l, unsigned num_workers,
                            const struct listen_table *old, struct listen_socks *out, bool *opened)
{
    char port[sizeof(l->address.port)] = "";

    tb_address_format(&l->address, out->key, sizeof(out->key));
    *opened = false;
    if (strcmp(l->address.port, "0") != 0 && old != NULL) {
        for (size_t i = 0; i < old->num; i++) {
            if (old->socks[i].fds != NULL && strcmp(old->socks[i].key, out->key) == 0) {
                out->fds = old->socks[i].fds;
                old->socks[i].fds = NULL; /* moved */
                return 0;
            }
        }
    }
    out->fds = tb_xcalloc(num_workers, sizeof(int));
    for (unsigned i = 0; i < num_workers; i++) {
        out->fds[i] = open_listener(&l->address, i == 0 ? NULL : port, port, sizeof(port));
        if (out->fds[i] < 0) {
            while (i-- > 0)
                close(out->fds[i]);
            tb_free(out->fds);
            out->fds = NULL;
            return -1;
        }
    }
    *opened = true;
    return 0;
}

static void listen_table_free(struct listen_table *t)
{
    for (size_t i = 0; i < t->num; i++)
        tb_free(t->socks[i].fds);
    tb_free(t->socks);
    t->socks = NULL;
    t->num = 0;
}

/* Builds the table for `cfg`, taking sockets from `old` where the address is
 * the same (they are then marked moved in `old`). On failure nothing new
 * stays open and `old` is unchanged in what it owns... except moved entries,
 * which are put back. Returns 0 or -1. */
static int listen_table_build(const struct tb_config *cfg, unsigned num_workers,
                              struct listen_table *old, struct listen_table *out)
{
    bool *opened = tb_xcalloc(cfg->num_listeners ? cfg->num_listeners : 1, sizeof(bool));
    size_t i;

    out->socks = tb_xcalloc(cfg->num_listeners ? cfg->num_listeners : 1, sizeof(*out->socks));
    out->num = cfg->num_listeners;
    for (i = 0; i < cfg->num_listeners; i++)
        if (listen_socks_get(&cfg->listeners[i], num_workers, old, &out->socks[i], &opened[i]) != 0)
            break;
    if (i == cfg->num_listeners) {
        tb_free(opened);
        return 0;
    }
    while (i-- > 0) {
        if (opened[i]) {
            for (unsigned w = 0; w < num_workers; w++)
                close(out->socks[i].fds[w]);
            continue;
        }
        for (size_t j = 0; j < old->num; j++) {
            if (old->socks[j].fds == NULL && strcmp(old->socks[j].key, out->socks[i].key) == 0) {
                old->socks[j].fds = out->socks[i].fds;
                out->socks[i].fds = NULL;
                break;
            }
        }
    }
    tb_free(opened);
    listen_table_free(out);
    return -1;
}

/* The sockets of listener `i` for worker `w`, as a message's fd array. */
static int *listen_table_row(const struct listen_table *t, unsigned w)
{
    int *fds = tb_xcalloc(t->num ? t->num : 1, sizeof(int));

    for (size_t i = 0; i < t->num; i++)
        fds[i] = t->socks[i].fds[w];
    return fds;
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
        started += tb_counter_get(&workers[i].hop_counters.spans_started);
        sampled += tb_counter_get(&workers[i].hop_counters.spans_sampled);
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

/* Defaults, file, environment, flags: the whole configuration, at startup
 * and on SIGHUP. Errors go to `err`. */
static enum tb_config_cli_result load_config(struct tb_config *cfg, int argc, char **argv,
                                             FILE *err)
{
    enum tb_config_cli_result r = tb_config_load(cfg, argc, argv, env_lookup, stdout, err);

    if (r != TB_CONFIG_CLI_RUN)
        return r;
    default_instance(cfg);
    return TB_CONFIG_CLI_RUN;
}

/* The process as the main thread runs it. */
struct proxy {
    int argc;
    char **argv;
    struct tb_gen *gen; /* current generation: the main thread's reference */
    struct listen_table listeners;
    struct tb_worker *workers;
    unsigned num_workers; /* fixed at startup */
    struct tb_pipeline *pipeline;
    struct tb_metrics *metrics;
    struct tb_admin *admin;     /* NULL with --admin off */
    struct tb_monitor *monitor; /* degradation: queue fill and loop lag */
    uint64_t next_gen_id;
};

/* Keeps what a reload cannot change (threads, export queues, the resource
 * sent with every span, the admin socket) and says so once per key. */
static void keep_startup_settings(const struct tb_config *old, struct tb_config *cfg)
{
    static const struct {
        const char *key;
        size_t offset, size;
    } fixed[] = {
        {"workers", offsetof(struct tb_config, workers), sizeof(unsigned)},
        {"log_level", offsetof(struct tb_config, log_level), sizeof(unsigned)},
        {"degradation.enabled", offsetof(struct tb_config, degrade_enabled), sizeof(int)},
        {"degradation.queue_high", offsetof(struct tb_config, degrade_queue_high),
         sizeof(unsigned)},
        {"degradation.loop_lag", offsetof(struct tb_config, degrade_lag_ms), sizeof(uint64_t)},
        {"degradation.recover_after", offsetof(struct tb_config, degrade_recover_ms),
         sizeof(uint64_t)},
        {"export", offsetof(struct tb_config, export), sizeof(struct tb_export_config)},
        {"service.name", offsetof(struct tb_config, service_name), TB_CONFIG_NAME_MAX},
        {"service.instance", offsetof(struct tb_config, service_instance), TB_CONFIG_NAME_MAX},
        {"resource_attributes", offsetof(struct tb_config, resource_attributes),
         sizeof(old->resource_attributes)},
        {"admin.address", offsetof(struct tb_config, admin), sizeof(struct tb_address)},
        {"admin", offsetof(struct tb_config, admin_enabled), sizeof(int)},
    };

    for (size_t i = 0; i < TB_ARRAY_SIZE(fixed); i++) {
        const char *a = (const char *)old + fixed[i].offset;
        char *b = (char *)cfg + fixed[i].offset;

        if (memcmp(a, b, fixed[i].size) != 0) {
            tb_log(TB_LOG_WARN, "reload_ignored", " key=%s reason=\"needs a restart\"",
                   fixed[i].key);
            memcpy(b, a, fixed[i].size);
        }
    }
    cfg->exporters_named = old->exporters_named;
}

/* Collects what the configuration loader printed into one log line. */
static void log_reload_failure(struct proxy *px, const char *text)
{
    char line[1024];
    size_t n = 0;

    for (const char *p = text; *p != '\0' && n + 1 < sizeof(line); p++)
        line[n++] = (*p == '\n' || *p == '"') ? (*p == '"' ? '\'' : ' ') : *p;
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n] = '\0';
    tb_log(TB_LOG_ERROR, "config_reload_failed", " error=\"%s\" keeping_generation=1", line);
    tb_metrics_reload(px->metrics, false);
}

/* SIGHUP: a new generation from the same flags, environment and file. A
 * configuration that does not load, resolve or bind changes nothing. */
static void reload(struct proxy *px)
{
    struct tb_config cfg;
    struct listen_table table;
    struct tb_gen *gen;
    char *text = NULL, err[512];
    size_t text_len = 0;
    FILE *errs = open_memstream(&text, &text_len);
    enum tb_config_cli_result r;

    if (errs == NULL) {
        tb_log(TB_LOG_ERROR, "config_reload_failed", " error=\"out of memory\"");
        return;
    }
    r = load_config(&cfg, px->argc, px->argv, errs);
    fclose(errs);
    if (r != TB_CONFIG_CLI_RUN) {
        log_reload_failure(px, text != NULL ? text : "invalid configuration");
        free(text);
        return;
    }
    free(text);
    keep_startup_settings(&px->gen->cfg, &cfg);
    gen = tb_gen_new(&cfg, px->num_workers, px->next_gen_id, err, sizeof(err));
    if (gen == NULL) {
        tb_config_free(&cfg);
        log_reload_failure(px, err);
        return;
    }
    /* Slots by name, before any worker counts into them. */
    if (tb_metrics_bind(px->metrics, &gen->cfg, err, sizeof(err)) != TB_OK) {
        tb_gen_unref(gen);
        log_reload_failure(px, err);
        return;
    }
    if (listen_table_build(&gen->cfg, px->num_workers, &px->listeners, &table) != 0) {
        tb_gen_unref(gen);
        log_reload_failure(px, "a listener could not be bound (see listen_error)");
        return;
    }
    px->next_gen_id++;
    for (unsigned i = 0; i < px->num_workers; i++) {
        struct tb_worker_msg *msg = tb_xcalloc(1, sizeof(*msg));

        msg->type = TB_WORKER_MSG_CONFIG;
        msg->gen = gen;
        msg->fds = listen_table_row(&table, i);
        tb_gen_ref(gen);
        if (tb_worker_send(&px->workers[i], msg) != TB_OK) {
            tb_gen_unref(gen);
            tb_free(msg->fds);
            tb_free(msg);
        }
    }
    /* Sockets of dropped listeners now belong to the workers, which close them. */
    listen_table_free(&px->listeners);
    px->listeners = table;
    /* The admin thread reads the configuration: it lets go of the old one
     * before the old generation may be freed. */
    tb_admin_set_config(px->admin, &gen->cfg);
    tb_gen_unref(px->gen);
    px->gen = gen;
    tb_metrics_reload(px->metrics, true);
    tb_log(TB_LOG_INFO, "config_reloaded", " generation=%llu listeners=%zu routes=%zu clusters=%zu",
           (unsigned long long)gen->id, gen->cfg.num_listeners,
           gen->cfg.num_listeners ? gen->cfg.listeners[0].num_routes : 0, gen->cfg.num_clusters);
}

static void log_listening(const struct proxy *px)
{
    const struct tb_config *cfg = &px->gen->cfg;

    for (size_t l = 0; l < cfg->num_listeners; l++) {
        struct tb_address bound = cfg->listeners[l].address;
        struct sockaddr_storage ss;
        socklen_t ss_len = sizeof(ss);
        char name[300];

        if (getsockname(px->listeners.socks[l].fds[0], (struct sockaddr *)&ss, &ss_len) == 0)
            getnameinfo((struct sockaddr *)&ss, ss_len, NULL, 0, bound.port, sizeof(bound.port),
                        NI_NUMERICSERV);
        tb_address_format(&bound, name, sizeof(name));
        for (unsigned i = 0; i < px->num_workers; i++)
            tb_log(TB_LOG_INFO, "listening",
                   " address=%s listener=%s role=%s worker=%u workers=%u version=%s", name,
                   cfg->listeners[l].name,
                   cfg->listeners[l].role == TB_SPAN_KIND_CLIENT ? "outbound" : "inbound", i,
                   px->num_workers, TB_VERSION);
    }
}

/* Waits for SIGHUP (reload), SIGTERM or SIGINT; returns the stopping signal. */
static int serve_signals(struct proxy *px, const sigset_t *signals)
{
    for (;;) {
        int sig = 0;

        if (sigwait(signals, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            tb_log(TB_LOG_INFO, "reload", " signal=SIGHUP");
            reload(px);
            continue;
        }
        return sig;
    }
}

/* SIGTERM, as Kubernetes sends it: first stop looking ready, and keep
 * serving through the shutdown delay while endpoints are withdrawn; a second
 * SIGTERM or a SIGINT ends the delay early. SIGINT (an operator's ^C) skips
 * the delay. */
static void shutdown_delay(const struct proxy *px, int sig, const sigset_t *signals)
{
    uint64_t delay = px->gen->cfg.shutdown_delay_ms;
    struct timespec until, now;

    tb_log(TB_LOG_INFO, "shutdown", " signal=%s delay_ms=%llu drain_timeout_ms=%llu",
           sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)(sig == SIGTERM ? delay : 0),
           (unsigned long long)px->gen->cfg.drain_timeout_ms);
    if (sig != SIGTERM || delay == 0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(delay / 1000);
    until.tv_nsec += (long)(delay % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    for (;;) {
        struct timespec left;
        int got;

        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > until.tv_sec ||
            (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
            break;
        left.tv_sec = until.tv_sec - now.tv_sec;
        left.tv_nsec = until.tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000;
        }
        got = sigtimedwait(signals, NULL, &left);
        if (got == SIGTERM || got == SIGINT) {
            tb_log(TB_LOG_INFO, "shutdown_delay_cut", " signal=%s",
                   got == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (got == SIGHUP)
            tb_log(TB_LOG_WARN, "reload_ignored", " reason=\"shutting down\"");
    }
}

int main(int argc, char **argv)
{
    struct proxy px = {.argc = argc, .argv = argv, .next_gen_id = 1};
    struct tb_config cfg;
    sigset_t signals;
    unsigned started = 0;
    struct tb_resource resource;
    struct tb_resource_attr resource_attrs[RESOURCE_MAX_ATTRS];
    static char resource_store[4096];
    struct tb_pipeline_stats export_stats;
    char err[512];
    int status = 0;

    if (argc > 1 && strcmp(argv[1], "decode") == 0)
        return tb_decode_main(argc - 1, argv + 1, stdin, stdout, stderr);
    if (argc > 1 && strcmp(argv[1], "check-config") == 0)
        return tb_config_check_main(argc - 1, argv + 1, env_lookup, stdout, stderr);
    switch (load_config(&cfg, argc, argv, stderr)) {
    case TB_CONFIG_CLI_RUN:
        break;
    case TB_CONFIG_CLI_EXIT_OK:
        return 0;
    case TB_CONFIG_CLI_ERROR:
        return 2;
    }
    /* A bad template is a configuration error; an access log that cannot be
     * opened fails the start, as an unusable listen address does. */
    switch (tb_access_log_check_config(&cfg, err, sizeof(err))) {
    case TB_OK:
        break;
    case TB_EINVAL:
        fprintf(stderr, "tracebridge: %s\n", err);
        tb_config_free(&cfg);
        return 2;
    default:
        tb_log(TB_LOG_ERROR, "access_log_error", " error=\"%s\"", err);
        tb_config_free(&cfg);
        return 1;
    }
    tb_log_set_level((enum tb_log_level)cfg.log_level);
    px.num_workers = cfg.workers;
    px.gen = tb_gen_new(&cfg, px.num_workers, px.next_gen_id++, err, sizeof(err));
    if (px.gen == NULL) {
        tb_log(TB_LOG_ERROR, "upstream_error", " error=\"%s\"", err);
        tb_config_free(&cfg);
        return 1;
    }
    px.metrics = tb_metrics_new(px.num_workers);
    if (tb_metrics_bind(px.metrics, &px.gen->cfg, err, sizeof(err)) != TB_OK) {
        fprintf(stderr, "tracebridge: %s\n", err);
        tb_metrics_free(px.metrics);
        tb_gen_unref(px.gen);
        return 2;
    }

    /* Signals are taken by sigwait in this thread only; workers never see
     * them. A peer that closes mid-write must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    build_resource(&px.gen->cfg, &resource, resource_attrs, resource_store, sizeof(resource_store));
    /* `--exporter none`: no queue at all, so the data path skips span work. */
    if (px.gen->cfg.export.enabled != 0) {
        px.pipeline =
            tb_pipeline_start(&px.gen->cfg.export, &resource, px.num_workers, err, sizeof(err));
        if (px.pipeline == NULL) {
            tb_log(TB_LOG_ERROR, "export_start", " error=\"%s\"", err);
            tb_metrics_free(px.metrics);
            tb_gen_unref(px.gen);
            return 1;
        }
    }
    tb_metrics_set_pipeline(px.metrics, px.pipeline, px.gen->cfg.export.enabled);
    /* Before the workers: an admin address that cannot be bound is a startup
     * error, as a listener's is. */
    if (px.gen->cfg.admin_enabled) {
        px.admin = tb_admin_start(&px.gen->cfg.admin, px.metrics, &px.gen->cfg, err, sizeof(err));
        if (px.admin == NULL) {
            tb_log(TB_LOG_ERROR, "admin_start", " error=\"%s\"", err);
            status = 1;
        } else {
            struct tb_address bound = px.gen->cfg.admin;
            char name[300];

            snprintf(bound.port, sizeof(bound.port), "%u", tb_admin_port(px.admin));
            tb_address_format(&bound, name, sizeof(name));
            tb_log(TB_LOG_INFO, "admin_listening", " address=%s", name);
        }
    }
    if (status == 0 && listen_table_build(&px.gen->cfg, px.num_workers, NULL, &px.listeners) != 0)
        status = 1;
    px.workers = tb_xcalloc(px.num_workers, sizeof(*px.workers));
    px.monitor = tb_monitor_new(&px.gen->cfg);
    for (unsigned i = 0; i < px.num_workers && status == 0; i++) {
        int *fds = listen_table_row(&px.listeners, i);

        tb_gen_ref(px.gen);
        if (tb_worker_init(&px.workers[i], i, px.gen, fds) != TB_OK) {
            tb_free(fds);
            tb_worker_join(&px.workers[i]);
            /* Sockets of the workers not started are still the table's. */
            for (unsigned j = i + 1; j < px.num_workers; j++)
                for (size_t l = 0; l < px.listeners.num; l++)
                    close(px.listeners.socks[l].fds[j]);
            status = 1;
            break;
        }
        tb_free(fds);
        px.workers[i].pipeline = px.pipeline;
        px.workers[i].metrics = tb_metrics_worker(px.metrics, i, &px.workers[i].hop_counters);
        px.workers[i].degrade = tb_monitor_degrade(px.monitor);
        if (tb_worker_start(&px.workers[i]) != TB_OK) {
            tb_worker_join(&px.workers[i]);
            for (unsigned j = i + 1; j < px.num_workers; j++)
                for (size_t l = 0; l < px.listeners.num; l++)
                    close(px.listeners.socks[l].fds[j]);
            status = 1;
            break;
        }
        started++;
    }
    if (status == 0)
        tb_monitor_start(px.monitor, px.pipeline, px.workers, started, px.metrics);
    if (status == 0) {
        int sig;

        log_listening(&px);
        tb_admin_set_ready(px.admin, true);
        sig = serve_signals(&px, &signals);
        /* First of all, look unready: load balancers stop sending. */
        tb_admin_set_ready(px.admin, false);
        shutdown_delay(&px, sig, &signals);
    }
    for (unsigned i = 0; i < started; i++)
        tb_worker_stop(&px.workers[i]);
    for (unsigned i = 0; i < started; i++)
        tb_worker_join(&px.workers[i]);
    tb_admin_stop(px.admin);
    tb_metrics_set_pipeline(px.metrics, NULL, 0);
    tb_monitor_free(px.monitor);
    /* Spans still queued go out now, within a bounded time. */
    tb_pipeline_stop(
        px.pipeline,
        px.gen->cfg.export.export_timeout_ms < 5000 ? px.gen->cfg.export.export_timeout_ms : 5000,
        &export_stats);
    log_export_stats(&px.gen->cfg, &export_stats, px.workers, started);
    tb_free(px.workers);
    tb_metrics_free(px.metrics);
    listen_table_free(&px.listeners);
    tb_gen_unref(px.gen);
    libevent_global_shutdown();
    if (status == 0)
        tb_log(TB_LOG_INFO, "exit", " status=0");
    return status;
}
