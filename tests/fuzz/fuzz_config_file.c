/* SPDX-License-Identifier: MIT
 * libFuzzer driver for the YAML configuration reader (proxy/config_file.c):
 * any bytes as a file, read over the defaults. A file that reads must give
 * a configuration the rest of the load accepts: listeners with routes whose
 * clusters exist and have endpoints; it is then finished and written as
 * JSON. Errors must be reported (a non-empty message), never a crash, a hang
 * or a leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/config_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static FILE *fuzz_null;

static void check_model(const struct tb_config *cfg)
{
    for (size_t i = 0; i < cfg->num_listeners; i++) {
        const struct tb_listener_config *l = &cfg->listeners[i];

        FUZZ_CHECK(l->name[0] != '\0' && l->num_routes > 0);
        for (size_t k = 0; k < l->num_routes; k++) {
            FUZZ_CHECK(l->routes[k].cluster < cfg->num_clusters);
            FUZZ_CHECK(
                strcmp(cfg->clusters[l->routes[k].cluster].name, l->routes[k].cluster_name) == 0);
            FUZZ_CHECK(l->routes[k].path_prefix[0] == '/');
        }
    }
    for (size_t i = 0; i < cfg->num_clusters; i++)
        FUZZ_CHECK(cfg->clusters[i].num_endpoints > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tb_config cfg;
    char err[4096];
    FILE *err_file;
    char *input;
    int status;

    if (fuzz_null == NULL) {
        fuzz_null = fopen("/dev/null", "w");
        FUZZ_CHECK(fuzz_null != NULL);
    }
    /* An exact-size copy: a read past the input is caught. */
    input = malloc(size ? size : 1);
    FUZZ_CHECK(input != NULL);
    if (size > 0)
        memcpy(input, data, size);
    memset(err, 0, sizeof(err));
    err_file = fmemopen(err, sizeof(err) - 1, "w");
    FUZZ_CHECK(err_file != NULL);
    tb_config_defaults(&cfg);
    status = tb_config_file_parse(&cfg, "fuzz.yaml", input, size, err_file);
    fclose(err_file);
    FUZZ_CHECK(status == 0 || status == -1);
    FUZZ_CHECK(status == 0 || strncmp(err, "tracebridge: fuzz.yaml", 22) == 0);
    if (status == 0 && cfg.num_listeners > 0) {
        FUZZ_CHECK(tb_config_finish(&cfg, fuzz_null) == 0 || cfg.exporters_named);
        check_model(&cfg);
        tb_config_write_json(&cfg, fuzz_null);
    }
    tb_config_free(&cfg);
    free(input);
    return 0;
}
