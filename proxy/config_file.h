/* SPDX-License-Identifier: MIT
 * The YAML configuration file (docs/configuration.md), read with libyaml.
 * Scalar settings go through the directive table of proxy/config.c, so a
 * file key, its flag and its environment variable share one parser and one
 * range; listeners, routes and clusters exist only in the file.
 */
#ifndef TB_PROXY_CONFIG_FILE_H
#define TB_PROXY_CONFIG_FILE_H

#include <stddef.h>
#include <stdio.h>

struct tb_config;

/* Limits that keep any input cheap to read. */
#define TB_CONFIG_FILE_MAX_BYTES (1u << 20)
#define TB_CONFIG_MAX_LISTENERS 64
#define TB_CONFIG_MAX_ROUTES 1024 /* per listener */
#define TB_CONFIG_MAX_CLUSTERS 1024
#define TB_CONFIG_MAX_ENDPOINTS 256 /* per cluster */
#define TB_CONFIG_MAX_ERRORS 20     /* reported before the reader gives up */

/**
 * Reads the file `path` into `cfg`, which holds the defaults (or what
 * earlier sources set): top-level settings, listeners, routes and clusters.
 * Listeners, routes and clusters are allocated into `cfg` and released by
 * tb_config_free, after an error too. Each error is one line on `err`:
 * "tracebridge: FILE:LINE:COLUMN: KEY.PATH: message" (1-based line and
 * column), or "tracebridge: FILE: cannot read: <strerror>". Returns 0, or -1
 * after printing at least one error.
 */
int tb_config_file_read(struct tb_config *cfg, const char *path, FILE *err);

/**
 * tb_config_file_read over the bytes `data[0..len)` (need not be
 * NUL-terminated, not retained); `name` stands for the file in messages.
 * Never crashes or loops on any input: the fuzz target's entry point.
 */
int tb_config_file_parse(struct tb_config *cfg, const char *name, const char *data, size_t len,
                         FILE *err);

#endif
