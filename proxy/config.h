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

struct tb_config {
    struct tb_address listen;
    struct tb_address upstream;
    unsigned workers;
    uint64_t connect_timeout_ms;       /* upstream connect */
    uint64_t header_timeout_ms;        /* a whole request head, from its first byte */
    uint64_t upstream_timeout_ms;      /* between two reads from the upstream, and sends to it */
    uint64_t idle_timeout_ms;          /* keep-alive, both sides; client sends and reads */
    uint64_t drain_timeout_ms;         /* SIGTERM/SIGINT: time left for in-flight requests */
    size_t max_header_size;            /* request head in bytes → 431 */
    size_t max_request_line;           /* request line in bytes → 414 */
    unsigned max_idle_upstream;        /* idle pooled upstream connections per worker */
    unsigned log_level;                /* enum tb_log_level */
    struct tb_prop_policy propagation; /* --extract, --propagators, --inject-mode, --clear */
    char service_name[TB_CONFIG_NAME_MAX]; /* sw8 parent service; "tracebridge" by default */
    char service_instance[TB_CONFIG_NAME_MAX];
    unsigned role;                  /* enum tb_span_kind: SERVER (inbound) or CLIENT (outbound) */
    struct tb_export_config export; /* exporters, endpoints, batching (OTEL_BSP_*) */
    int exporters_named;            /* --exporter or TRACEBRIDGE_EXPORTERS was given */
    struct tb_sampler sampler;      /* OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG */
    unsigned max_root_spans_per_second; /* 0: unlimited */
    char resource_attributes[2048];
    /* OTEL_RESOURCE_ATTRIBUTES, raw "k=v,k2=v2" */ /* sw8 parent instance; "<pid>@<host>" when
                                                       empty */
};

/** Fills `cfg` with the documented defaults (no listen or upstream address). */
void tb_config_defaults(struct tb_config *cfg);

/**
 * Applies the environment through `get` (getenv, or a test's lookup):
 * OTEL_PROPAGATORS (the inject list) and OTEL_SERVICE_NAME. Call between
 * tb_config_defaults and tb_config_parse_cli, so flags win. Prints an error
 * naming the variable to `err` and returns -1 when a value is invalid, else 0.
 */
int tb_config_apply_env(struct tb_config *cfg, const char *(*get)(const char *name), FILE *err);

enum tb_config_cli_result {
    TB_CONFIG_CLI_RUN = 0,     /* configuration complete: run the proxy */
    TB_CONFIG_CLI_EXIT_OK = 1, /* --help or --version was printed */
    TB_CONFIG_CLI_ERROR = 2,   /* an error was printed to `err` */
};

/**
 * Applies command-line flags (`--name value` or `--name=value`) to `cfg` and
 * checks that the required ones were given. Prints --help / --version to
 * `out` and errors (naming the flag and the accepted form) to `err`.
 * Never allocates.
 */
enum tb_config_cli_result tb_config_parse_cli(struct tb_config *cfg, int argc, char **argv,
                                              FILE *out, FILE *err);

/**
 * Completes the export settings after flags and environment: when no
 * exporter was named, every exporter with an endpoint is enabled, else
 * `file`; a named exporter without its endpoint is an error. Prints the
 * error to `err` and returns -1, else 0.
 */
int tb_config_finish(struct tb_config *cfg, FILE *err);

/**
 * As tb_config_parse_cli without requiring --listen and --upstream: for
 * tools that take the proxy's flags (`tracebridge decode`).
 */
enum tb_config_cli_result tb_config_parse_flags(struct tb_config *cfg, int argc, char **argv,
                                                FILE *out, FILE *err);

/** Writes "host:port", bracketing IPv6 literals, into `buf` (NUL-terminated). */
void tb_address_format(const struct tb_address *addr, char *buf, size_t buf_size);

#endif
