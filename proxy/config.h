/* SPDX-License-Identifier: MIT
 * Configuration: a directive table maps each setting to a typed field of
 * struct tb_config. Command-line flags go through the same table and setters,
 * so names, ranges and defaults cannot drift apart. The result is immutable
 * once the workers start.
 */
#ifndef TB_PROXY_CONFIG_H
#define TB_PROXY_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "propagators/policy.h"
#include "spans/exporter.h"
#include "spans/sampler.h"

#define TB_CONFIG_NAME_MAX 128 /* service name and instance, NUL included */

struct tb_address {
    char host[256]; /* host name or IP literal, without brackets */
    char port[8];
};

#define TB_CONFIG_ID_MAX 64 /* listener, route and cluster names, NUL included */

/* Edge trust: what a listener does with the trace context a client sends. */
enum tb_trust {
    TB_TRUST_TRUST = 0,        /* continue the incoming trace (the default) */
    TB_TRUST_IGNORE = 1,       /* drop it: a new root, as if nothing came */
    TB_TRUST_RESTART_LINK = 2, /* a new root that links to the incoming context */
};

/* Which keys of a route's `propagation` block were set (the others inherit
 * the top-level policy when the configuration is finished). */
#define TB_ROUTE_SET_EXTRACT 0x01u
#define TB_ROUTE_SET_INJECT 0x02u
#define TB_ROUTE_SET_CLEAR 0x04u
#define TB_ROUTE_SET_MODE 0x08u
#define TB_ROUTE_SET_SAMPLER 0x10u     /* sampling.sampler: the kind */
#define TB_ROUTE_SET_SAMPLER_ARG 0x20u /* sampling.arg: the ratio */

/* Which keys of a listener were set (the others take the top-level value). */
#define TB_LISTENER_SET_ROLE 0x01u
#define TB_LISTENER_SET_TRUST 0x02u

struct tb_route_config {
    char name[TB_CONFIG_ID_MAX]; /* metrics label and span name; "" → the method is the span name */
    char host[256];              /* "" matches any Host; "*.example.com" a suffix; else exact
                                    (case-insensitive, port ignored) */
    char path_prefix[512];       /* "/" by default; matched byte for byte on the path */
    char cluster_name[TB_CONFIG_ID_MAX];
    unsigned cluster;                  /* index in tb_config.clusters, set by tb_config_finish */
    uint32_t set;                      /* TB_ROUTE_SET_* given for this route */
    struct tb_prop_policy propagation; /* effective after tb_config_finish */
    struct tb_sampler sampler;         /* effective after tb_config_finish */
    uint64_t connect_timeout_ms;       /* 0 until finished: then the top-level value if unset */
    uint64_t upstream_timeout_ms;
    unsigned source_line;  /* file line of the route, 0 when made from flags */
    unsigned metrics_slot; /* set by the metrics registry (proxy/metrics.h) */
};

struct tb_listener_config {
    char name[TB_CONFIG_ID_MAX];
    struct tb_address address;
    unsigned role; /* enum tb_span_kind: SERVER (inbound) or CLIENT (outbound) */
    enum tb_trust trust;
    struct tb_route_config *routes; /* first match wins, in file order */
    size_t num_routes;
    unsigned source_line;
    unsigned metrics_slot;
    uint32_t set; /* TB_LISTENER_SET_* given for this listener */
};

struct tb_cluster_config {
    char name[TB_CONFIG_ID_MAX];
    struct tb_address *endpoints; /* picked round-robin */
    size_t num_endpoints;
    unsigned eject_after;   /* consecutive connect failures that eject an endpoint (default 1) */
    uint64_t eject_base_ms; /* first ejection; doubles per ejection in a row (default 1000) */
    uint64_t eject_max_ms;  /* cap of the back-off (default 30000) */
    unsigned source_line;
    unsigned metrics_slot;
};

enum tb_access_log_format {
    TB_ACCESS_LOG_JSON = 0,     /* one JSON object per line, docs/access-log.md */
    TB_ACCESS_LOG_TEMPLATE = 1, /* access_log_template with $variables */
};

struct tb_config {
    char file[512]; /* -c FILE, "" when none */
    /* --listen and --upstream: with both, one listener "main" to one cluster
     * "default". When the listeners come from the file, tb_config_finish sets
     * them to the first listener's address and the first endpoint of its
     * first route's cluster, for callers that serve one listener. */
    struct tb_address listen;
    struct tb_address upstream;
    int have_listen, have_upstream;
    struct tb_listener_config *listeners; /* owned; see tb_config_free */
    size_t num_listeners;
    struct tb_cluster_config *clusters;
    size_t num_clusters;
    unsigned workers;
    uint64_t connect_timeout_ms;       /* upstream connect */
    uint64_t header_timeout_ms;        /* a whole request head, from its first byte */
    uint64_t upstream_timeout_ms;      /* between two reads from the upstream, and sends to it */
    uint64_t idle_timeout_ms;          /* keep-alive, both sides; client sends and reads */
    uint64_t drain_timeout_ms;         /* SIGTERM/SIGINT: time left for in-flight requests */
    uint64_t shutdown_delay_ms;        /* SIGTERM: /readyz is 503 this long before the drain */
    size_t max_header_size;            /* request head in bytes → 431 */
    size_t max_request_line;           /* request line in bytes → 414 */
    unsigned max_idle_upstream;        /* idle pooled upstream connections per worker */
    unsigned log_level;                /* enum tb_log_level */
    struct tb_prop_policy propagation; /* --extract, --propagators, --inject-mode, --clear */
    char service_name[TB_CONFIG_NAME_MAX];     /* sw8 parent service; "tracebridge" by default */
    char service_instance[TB_CONFIG_NAME_MAX]; /* sw8 parent instance; "<pid>@<host>" when empty */
    unsigned role;                             /* default listener role: enum tb_span_kind */
    enum tb_trust trust;                       /* default listener trust */
    struct tb_export_config export;            /* exporters, endpoints, batching (OTEL_BSP_*) */
    int exporters_named;                       /* --exporter or TRACEBRIDGE_EXPORTERS was given */
    struct tb_sampler sampler;                 /* OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG */
    unsigned max_root_spans_per_second;        /* 0: unlimited */
    char resource_attributes[2048];            /* OTEL_RESOURCE_ATTRIBUTES, raw "k=v,k2=v2" */
    /* admin listener: /healthz /readyz /config /metrics */
    int admin_enabled;       /* 1 by default; --admin off clears it */
    struct tb_address admin; /* 127.0.0.1:9901 by default */
    /* access log */
    char access_log[512]; /* "" off (default), "-" standard output, else a file path */
    enum tb_access_log_format access_log_format;
    char access_log_template[1024];
    size_t access_log_buffer;     /* bytes buffered per worker before a write (default 0) */
    uint64_t access_log_flush_ms; /* buffered lines wait at most this long (default 1000) */
    /* dynamic degradation */
    int degrade_enabled;         /* 1 by default */
    unsigned degrade_queue_high; /* export queue fill, percent, that counts as saturated (80) */
    uint64_t degrade_lag_ms;     /* event-loop lag that counts as overload (100) */
    uint64_t degrade_recover_ms; /* calm time before stepping back one level (5000) */
};

/** Fills `cfg` with the documented defaults (no listen or upstream address). */
void tb_config_defaults(struct tb_config *cfg);

/**
 * Applies the environment through `get` (getenv, or a test's lookup): the
 * OTEL_* variables of the OpenTelemetry SDKs, then TRACEBRIDGE_<FLAG> for
 * every flag of the directive table (so those win over OTEL_ ones). Call
 * after the file and before the flags, so flags win. Prints an error naming
 * the variable to `err` and returns -1 at the first invalid value (earlier
 * ones stay applied), else 0. Never allocates.
 */
int tb_config_apply_env(struct tb_config *cfg, const char *(*get)(const char *name), FILE *err);

enum tb_config_cli_result {
    TB_CONFIG_CLI_RUN = 0,     /* configuration complete: run the proxy */
    TB_CONFIG_CLI_EXIT_OK = 1, /* --help or --version was printed */
    TB_CONFIG_CLI_ERROR = 2,   /* an error was printed to `err` */
};

/**
 * Applies command-line flags (`--name value`, `--name=value`, `-c FILE`) to
 * `cfg` and checks that --listen and --upstream were given (by a flag or by
 * TRACEBRIDGE_LISTEN / TRACEBRIDGE_UPSTREAM). Reads no file: tb_config_load
 * does. Prints --help / --version to `out` and errors (naming the flag and
 * the accepted form) to `err`. Never allocates.
 */
enum tb_config_cli_result tb_config_parse_cli(struct tb_config *cfg, int argc, char **argv,
                                              FILE *out, FILE *err);

/**
 * Completes the configuration after every source: makes the flag listener
 * (--listen and --upstream, when no file defined listeners), gives each
 * listener its role and trust and each route its cluster index and its
 * effective policy, sampler and timeouts (key by key over the top level),
 * and completes the export settings: when no exporter was named, every
 * exporter with an endpoint is enabled, else `file`; a named exporter
 * without its endpoint is an error. Prints the error to `err` and returns
 * -1, else 0. Allocates the flag listener (freed by tb_config_free).
 */
int tb_config_finish(struct tb_config *cfg, FILE *err);

/**
 * As tb_config_parse_cli without requiring --listen and --upstream: for
 * tools that take the proxy's flags (`tracebridge decode`).
 */
enum tb_config_cli_result tb_config_parse_flags(struct tb_config *cfg, int argc, char **argv,
                                                FILE *out, FILE *err);

/**
 * The whole load, in precedence order: defaults, then the YAML file named by
 * `-c FILE` / `--config FILE` (found in argv first), then the environment
 * through `get` (OTEL_* and TRACEBRIDGE_*), then the flags, then
 * tb_config_finish. Used at startup and again on SIGHUP with the same argv.
 * Without a file (or with one that defines no listeners) --listen and
 * --upstream are required; with a file that defines listeners they are an
 * error. `cfg` need not be initialised: the defaults are written first.
 * Errors name file:line:column, the variable or the flag, and go to `err`;
 * --help and --version print to `out`. On TB_CONFIG_CLI_ERROR `cfg` holds
 * nothing to free. On success the caller owns what `cfg` points to and
 * releases it with tb_config_free.
 */
enum tb_config_cli_result tb_config_load(struct tb_config *cfg, int argc, char **argv,
                                         const char *(*get)(const char *name), FILE *out,
                                         FILE *err);

/** Frees the listeners, routes and clusters of `cfg` (not `cfg` itself). */
void tb_config_free(struct tb_config *cfg);

/**
 * Writes the effective configuration of a finished `cfg` as one JSON object
 * (every key of docs/configuration.md, durations in seconds) to `out`, then
 * a newline. For `check-config` and the admin endpoint /config.
 */
void tb_config_write_json(const struct tb_config *cfg, FILE *out);

/** Writes "host:port", bracketing IPv6 literals, into `buf` (NUL-terminated). */
void tb_address_format(const struct tb_address *addr, char *buf, size_t buf_size);

/**
 * `tracebridge check-config FILE [flags...]` (argv[0] is "check-config"):
 * loads FILE, the environment through `get` and the flags exactly as the
 * proxy would, binds nothing, and writes the effective configuration as JSON
 * to `out`. A first argument starting with '-' is a flag: the file then comes
 * from `-c` or TRACEBRIDGE_CONFIG, or there is none. Returns the exit status:
 * 0, or 2 after printing the errors to `err`.
 */
int tb_config_check_main(int argc, char **argv, const char *(*get)(const char *name), FILE *out,
                         FILE *err);

/* ------------------------------------------------------------------------ */
/* The directive table: one row per setting, shared by the flags, the
 * environment and the file (proxy/config_file.c), so a name, a range or a
 * parser exists once. */

enum tb_directive_kind {
    TB_DIRECTIVE_CONFIG,           /* -c FILE: read before everything else */
    TB_DIRECTIVE_ADDRESS,          /* HOST:PORT or [IPv6]:PORT, port 0 to 65535 */
    TB_DIRECTIVE_ENDPOINT,         /* HOST:PORT or [IPv6]:PORT, port 1 to 65535 */
    TB_DIRECTIVE_UINT,             /* decimal integer in [min, max], into an unsigned */
    TB_DIRECTIVE_COUNT,            /* decimal integer in [min, max], into a size_t */
    TB_DIRECTIVE_SIZE,             /* bytes, optional k/m suffix (KiB/MiB), in [min, max] */
    TB_DIRECTIVE_DURATION,         /* seconds, or a number with ms/s/m/h, in [min, max] ms */
    TB_DIRECTIVE_BOOL,             /* true/false, on/off */
    TB_DIRECTIVE_LOG_LEVEL,        /* debug, info, warn, error */
    TB_DIRECTIVE_EXTRACT,          /* format list: enabled extractors, in precedence order */
    TB_DIRECTIVE_PROPAGATORS,      /* format list: injected formats */
    TB_DIRECTIVE_CLEAR,            /* format list: removed and never injected */
    TB_DIRECTIVE_INJECT_MODE,      /* replace | add */
    TB_DIRECTIVE_STRING,           /* char[128]: visible ASCII, 1 to 127 bytes */
    TB_DIRECTIVE_ROLE,             /* inbound | outbound */
    TB_DIRECTIVE_TRUST,            /* trust | ignore | restart-and-link */
    TB_DIRECTIVE_SAMPLER,          /* a sampler name: sets the kind, keeps the ratio */
    TB_DIRECTIVE_RATIO,            /* a sampler's ratio from 0 to 1 */
    TB_DIRECTIVE_EXPORTERS,        /* otlp,zipkin,skywalking,file or none */
    TB_DIRECTIVE_URL,              /* char[512]: http://host[:port]/path */
    TB_DIRECTIVE_PATH,             /* char[512]: a file path, or - */
    TB_DIRECTIVE_OTLP_PROTOCOL,    /* http/protobuf | http/json */
    TB_DIRECTIVE_COMPRESSION,      /* gzip | none */
    TB_DIRECTIVE_HEADERS,          /* OTLP headers: name=value,... (values percent-encoded) */
    TB_DIRECTIVE_ATTRIBUTES,       /* resource attributes: key=value,... */
    TB_DIRECTIVE_ADMIN,            /* HOST:PORT or off */
    TB_DIRECTIVE_ACCESS_LOG,       /* a path, - or off */
    TB_DIRECTIVE_ACCESS_LOG_FORMAT /* json or a template containing $variables */
};

struct tb_directive {
    const char *name;     /* flag without "--"; NULL for a key that exists in the file only */
    const char *file_key; /* dotted key path in the file ("timeouts.connect"); NULL: none */
    const char *env;      /* NULL: TRACEBRIDGE_ + the name upper-cased, '-' as '_' */
    enum tb_directive_kind kind;
    size_t offset; /* of the field in struct tb_config (or in the object for file-only keys) */
    uint64_t min, max;
    const char *arg;   /* placeholder shown in --help */
    const char *help;  /* one line for --help, default included */
    const char *group; /* set on the first row of a --help section: its title */
};

/** The flag table, in --help order; `*num` receives its length. Static storage. */
const struct tb_directive *tb_config_directives(size_t *num);

/** The row whose file key is `key[0..len)`, or NULL. */
const struct tb_directive *tb_config_directive_by_key(const char *key, size_t len);

/** The row whose flag name is `name` (without "--"), or NULL. */
const struct tb_directive *tb_config_directive_by_name(const char *name);

/**
 * Parses `value` as `d` says and stores it in `field` (the member of `cfg`,
 * or of a listener, route or cluster, that `d` describes). `cfg` receives
 * the side effects some kinds have (exporters named). Returns NULL on
 * success, else the accepted form: a literal, or `hint` (`hint_size` bytes)
 * filled in; the field is then unchanged. Never allocates.
 */
const char *tb_directive_apply(struct tb_config *cfg, const struct tb_directive *d, void *field,
                               const char *value, char *hint, size_t hint_size);

/** The environment variable of a row with a flag: d->env or the derived name, into `buf`. */
const char *tb_directive_env_name(const struct tb_directive *d, char *buf, size_t buf_size);

#endif
