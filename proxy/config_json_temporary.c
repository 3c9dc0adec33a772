/* SPDX-License-Identifier: MIT
 * A minimal tb_config_write_json: listeners, routes, clusters and the main
 * scalars, enough for the admin endpoint /config. The full writer (every key
 * of the configuration reference) replaces this file.
 */
#include <stdio.h>

#include "proxy/config.h"
#include "spans/buf.h"
#include "spans/json.h"

static void write_address(struct tb_json *j, const char *key, const struct tb_address *addr)
{
    char text[300];

    tb_address_format(addr, text, sizeof(text));
    tb_json_key(j, key);
    tb_json_cstr(j, text);
}

void tb_config_write_json(const struct tb_config *cfg, FILE *out)
{
    struct tb_buf buf = {0};
    struct tb_json j;

    tb_json_init(&j, &buf);
    tb_json_object_begin(&j);
    tb_json_key(&j, "workers");
    tb_json_uint(&j, cfg->workers);
    tb_json_key(&j, "connect_timeout_ms");
    tb_json_uint(&j, cfg->connect_timeout_ms);
    tb_json_key(&j, "upstream_timeout_ms");
    tb_json_uint(&j, cfg->upstream_timeout_ms);
    tb_json_key(&j, "listeners");
    tb_json_array_begin(&j);
    for (size_t i = 0; i < cfg->num_listeners; i++) {
        const struct tb_listener_config *l = &cfg->listeners[i];

        tb_json_object_begin(&j);
        tb_json_key(&j, "name");
        tb_json_cstr(&j, l->name);
        write_address(&j, "address", &l->address);
        tb_json_key(&j, "routes");
        tb_json_array_begin(&j);
        for (size_t k = 0; k < l->num_routes; k++) {
            tb_json_object_begin(&j);
            tb_json_key(&j, "name");
            tb_json_cstr(&j, l->routes[k].name);
            tb_json_key(&j, "cluster");
            tb_json_cstr(&j, l->routes[k].cluster_name);
            tb_json_object_end(&j);
        }
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
            char text[300];

            tb_address_format(&c->endpoints[k], text, sizeof(text));
            tb_json_cstr(&j, text);
        }
        tb_json_array_end(&j);
        tb_json_object_end(&j);
    }
    tb_json_array_end(&j);
    tb_json_key(&j, "admin");
    if (cfg->admin_enabled) {
        char text[300];

        tb_address_format(&cfg->admin, text, sizeof(text));
        tb_json_cstr(&j, text);
    } else {
        tb_json_cstr(&j, "off");
    }
    tb_json_object_end(&j);
    tb_buf_append_byte(&buf, '\n');
    fwrite(buf.data, 1, buf.len, out);
    tb_buf_free(&buf);
}
