/* SPDX-License-Identifier: MIT
 * The YAML file reader. Two passes over the bytes: libyaml's event parser
 * checks the syntax, the nesting depth and that no alias is used (aliases
 * could make a small file expand without bound, and anchors buy nothing in
 * a file this size); then libyaml's document loader builds the node tree,
 * which is walked against a schema. The top level's schema is the directive
 * table itself (its file keys); listeners, routes and clusters have small
 * tables of their own whose scalar keys borrow a flag's row, so a route's
 * `timeouts.connect` has exactly the range and parser of --connect-timeout.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/tb.h"
#include "proxy/config.h"
#include "proxy/config_file.h"

#define MAX_DEPTH 64
#define MAX_EVENTS 200000
#define MAX_SCALAR 4096 /* longer values are refused before any setter sees them */
#define DAY_MS (24ull * 3600 * 1000)

enum key_how {
    KEY_DIRECTIVE, /* a value through a directive row: `flag`'s or `own` */
    KEY_NAME,      /* listener, route or cluster name */
    KEY_HOST,      /* route match.host */
    KEY_PATH,      /* route match.path_prefix */
    KEY_CLUSTER,   /* route cluster (checked once every cluster is known) */
    KEY_ROUTES,    /* listener routes: a sequence of routes */
    KEY_ENDPOINTS, /* cluster endpoints: a sequence or a comma-separated string */
    KEY_LISTENERS, /* top level */
    KEY_CLUSTERS,  /* top level */
};

struct object_key {
    const char *key; /* dotted path inside the object */
    enum key_how how;
    const char *flag;               /* KEY_DIRECTIVE: the flag whose row it shares */
    const struct tb_directive *own; /* KEY_DIRECTIVE without a flag: its own row */
    size_t offset;                  /* of the field in the object */
    uint32_t set_bit;               /* recorded in the object's `set` */
    const char *form;               /* the accepted form, for messages */
};

#define LFIELD(f) offsetof(struct tb_listener_config, f)
#define RFIELD(f) offsetof(struct tb_route_config, f)
#define CFIELD(f) offsetof(struct tb_cluster_config, f)

static const struct object_key listener_keys[] = {
    {"name", KEY_NAME, NULL, NULL, LFIELD(name), 0, NULL},
    {"address", KEY_DIRECTIVE, "listen", NULL, LFIELD(address), 0, NULL},
    {"role", KEY_DIRECTIVE, "role", NULL, LFIELD(role), TB_LISTENER_SET_ROLE, NULL},
    {"trust", KEY_DIRECTIVE, "trust", NULL, LFIELD(trust), TB_LISTENER_SET_TRUST, NULL},
    {"routes", KEY_ROUTES, NULL, NULL, 0, 0, "a sequence of routes"},
};

static const struct object_key route_keys[] = {
    {"name", KEY_NAME, NULL, NULL, RFIELD(name), 0, NULL},
    {"match.host", KEY_HOST, NULL, NULL, 0, 0, NULL},
    {"match.path_prefix", KEY_PATH, NULL, NULL, 0, 0, NULL},
    {"cluster", KEY_CLUSTER, NULL, NULL, 0, 0, NULL},
    {"propagation.extract", KEY_DIRECTIVE, "extract", NULL, RFIELD(propagation),
     TB_ROUTE_SET_EXTRACT, NULL},
    {"propagation.inject", KEY_DIRECTIVE, "propagators", NULL, RFIELD(propagation),
     TB_ROUTE_SET_INJECT, NULL},
    {"propagation.clear", KEY_DIRECTIVE, "clear", NULL, RFIELD(propagation), TB_ROUTE_SET_CLEAR,
     NULL},
    {"propagation.mode", KEY_DIRECTIVE, "inject-mode", NULL, RFIELD(propagation), TB_ROUTE_SET_MODE,
     NULL},
    {"sampling.sampler", KEY_DIRECTIVE, "sampler", NULL, RFIELD(sampler), TB_ROUTE_SET_SAMPLER,
     NULL},
    {"sampling.arg", KEY_DIRECTIVE, "sampler-arg", NULL, RFIELD(sampler), TB_ROUTE_SET_SAMPLER_ARG,
     NULL},
    {"timeouts.connect", KEY_DIRECTIVE, "connect-timeout", NULL, RFIELD(connect_timeout_ms), 0,
     NULL},
    {"timeouts.upstream", KEY_DIRECTIVE, "upstream-timeout", NULL, RFIELD(upstream_timeout_ms), 0,
     NULL},
};

/* Cluster settings have no flag: their rows live here. */
static const struct tb_directive eject_after_row = {NULL,
                                                    "ejection.consecutive_failures",
                                                    NULL,
                                                    TB_DIRECTIVE_UINT,
                                                    CFIELD(eject_after),
                                                    1,
                                                    1000,
                                                    "N",
                                                    NULL,
                                                    NULL};
static const struct tb_directive eject_base_row = {
    NULL, "ejection.base", NULL, TB_DIRECTIVE_DURATION, CFIELD(eject_base_ms), 1, DAY_MS, "S", NULL,
    NULL};
static const struct tb_directive eject_max_row = {
    NULL, "ejection.max", NULL, TB_DIRECTIVE_DURATION, CFIELD(eject_max_ms), 1, DAY_MS,
    "S",  NULL,           NULL};

static const struct object_key cluster_keys[] = {
    {"name", KEY_NAME, NULL, NULL, CFIELD(name), 0, NULL},
    {"endpoints", KEY_ENDPOINTS, NULL, NULL, 0, 0, NULL},
    {"ejection.consecutive_failures", KEY_DIRECTIVE, NULL, &eject_after_row, CFIELD(eject_after), 0,
     NULL},
    {"ejection.base", KEY_DIRECTIVE, NULL, &eject_base_row, CFIELD(eject_base_ms), 0, NULL},
    {"ejection.max", KEY_DIRECTIVE, NULL, &eject_max_row, CFIELD(eject_max_ms), 0, NULL},
};

/* A schema: an object table, or (keys == NULL) the top level, which is the
 * directive table's file keys plus listeners and clusters. */
struct schema {
    const struct object_key *keys;
    size_t num;
};

struct marks {
    yaml_mark_t name; /* of the name's value */
    yaml_mark_t ref;  /* of a route's cluster value, of a listener's address value */
};

struct reader {
    struct tb_config *cfg;
    const char *name; /* the file, for messages */
    FILE *err;
    unsigned errors;
    yaml_document_t doc;
    char path[512]; /* key path of the node being read, e.g. listeners[0].routes[1] */
    size_t path_len;
    struct marks listener_marks[TB_CONFIG_MAX_LISTENERS];
    struct marks *route_marks[TB_CONFIG_MAX_LISTENERS];
    struct marks *cluster_marks;
};

/* ------------------------------------------------------------------------ */
/* messages                                                                  */

/* Untrusted text in a message: printable ASCII kept, the rest as '?', and
 * long values cut, so an error line stays one readable line. */
static void sanitize(char *out, size_t out_size, const char *s, size_t len)
{
    size_t n = 0, max = out_size > 84 ? 80 : out_size - 4;

    for (size_t i = 0; i < len && n < max; i++)
        out[n++] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
    if (len > max && n + 3 < out_size) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int give_up(const struct reader *r)
{
    return r->errors >= TB_CONFIG_MAX_ERRORS;
}

static void rerror(struct reader *r, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void rerror(struct reader *r, yaml_mark_t mark, const char *fmt, ...)
{
    va_list ap;

    r->errors++;
    if (r->errors > TB_CONFIG_MAX_ERRORS)
        return;
    fprintf(r->err, "tracebridge: %s:%zu:%zu: ", r->name, mark.line + 1, mark.column + 1);
    if (r->path_len > 0)
        fprintf(r->err, "%s: ", r->path);
    va_start(ap, fmt);
    vfprintf(r->err, fmt, ap);
    va_end(ap);
    fputc('\n', r->err);
    if (r->errors == TB_CONFIG_MAX_ERRORS)
        fprintf(r->err, "tracebridge: %s: too many errors, stopping\n", r->name);
}

/* Appends ".key" (or "key" at the top) or "[index]" to the key path; returns
 * the length to restore. */
static size_t push_key(struct reader *r, const char *key, size_t len)
{
    size_t old = r->path_len;
    char clean[100];
    int n;

    sanitize(clean, sizeof(clean), key, len);
    n = snprintf(r->path + old, sizeof(r->path) - old, "%s%s", old > 0 ? "." : "", clean);
    r->path_len =
        n < 0 || (size_t)n >= sizeof(r->path) - old ? sizeof(r->path) - 1 : old + (size_t)n;
    return old;
}

static size_t push_index(struct reader *r, size_t index)
{
    size_t old = r->path_len;
    int n = snprintf(r->path + old, sizeof(r->path) - old, "[%zu]", index);

    r->path_len =
        n < 0 || (size_t)n >= sizeof(r->path) - old ? sizeof(r->path) - 1 : old + (size_t)n;
    return old;
}

static void pop(struct reader *r, size_t old)
{
    r->path_len = old;
    r->path[old] = '\0';
}

static const char *type_name(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_NO_NODE:
        break;
    }
    return "nothing";
}

/* ------------------------------------------------------------------------ */
/* nodes                                                                     */

static yaml_node_t *node_at(struct reader *r, int index)
{
    return yaml_document_get_node(&r->doc, index);
}

static const char *scalar(const yaml_node_t *n, size_t *len)
{
    *len = n->data.scalar.length;
    return (const char *)n->data.scalar.value;
}

static int is_null(const yaml_node_t *n)
{
    size_t len;
    const char *s = scalar(n, &len);

    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 &&
            (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

/* A scalar value as a C string in `buf`, or NULL after an error. */
static const char *scalar_value(struct reader *r, const yaml_node_t *n, const char *form, char *buf,
                                size_t buf_size)
{
    size_t len;
    const char *s;

    if (n->type != YAML_SCALAR_NODE) {
        rerror(r, n->start_mark, "expected %s, found %s", form, type_name(n));
        return NULL;
    }
    if (is_null(n)) {
        rerror(r, n->start_mark, "a value is required: %s", form);
        return NULL;
    }
    s = scalar(n, &len);
    if (len >= buf_size || memchr(s, '\0', len) != NULL) {
        rerror(r, n->start_mark, "expected %s (at most %zu bytes, no NUL)", form, buf_size - 1);
        return NULL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return buf;
}

static int is_list_kind(enum tb_directive_kind kind)
{
    return kind == TB_DIRECTIVE_EXTRACT || kind == TB_DIRECTIVE_PROPAGATORS ||
           kind == TB_DIRECTIVE_CLEAR || kind == TB_DIRECTIVE_EXPORTERS;
}

static int is_pairs_kind(enum tb_directive_kind kind)
{
    return kind == TB_DIRECTIVE_HEADERS || kind == TB_DIRECTIVE_ATTRIBUTES;
}

static int append(char *buf, size_t size, size_t *used, const char *s, size_t len)
{
    if (*used + len >= size)
        return -1;
    memcpy(buf + *used, s, len);
    *used += len;
    buf[*used] = '\0';
    return 0;
}

/* A sequence of scalars joined with commas: the form the flags take. */
static const char *join_sequence(struct reader *r, const yaml_node_t *seq, char *buf, size_t size,
                                 const char *empty)
{
    size_t used = 0;

    buf[0] = '\0';
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        const yaml_node_t *item = node_at(r, *it);
        size_t len;
        const char *s;

        if (item == NULL || item->type != YAML_SCALAR_NODE) {
            rerror(r, item ? item->start_mark : seq->start_mark,
                   "expected a sequence of names, found %s in it",
                   item ? type_name(item) : "nothing");
            return NULL;
        }
        s = scalar(item, &len);
        if (memchr(s, ',', len) != NULL || memchr(s, '\0', len) != NULL ||
            (used > 0 && append(buf, size, &used, ",", 1) != 0) ||
            append(buf, size, &used, s, len) != 0) {
            rerror(r, item->start_mark, "expected one name per item (no commas), %zu bytes in all",
                   size - 1);
            return NULL;
        }
    }
    if (used == 0)
        snprintf(buf, size, "%s", empty);
    return buf;
}

/* A mapping {k: v} as "k=v,..." with the values percent-encoded, the form the
 * flags and OTEL_ variables take. */
static const char *join_pairs(struct reader *r, const yaml_node_t *map, char *buf, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0;

    buf[0] = '\0';
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = node_at(r, p->key), *v = node_at(r, p->value);
        size_t klen, vlen;
        const char *ks, *vs;

        if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE) {
            rerror(r, k ? k->start_mark : map->start_mark,
                   "expected a mapping of names to scalar values");
            return NULL;
        }
        ks = scalar(k, &klen);
        vs = scalar(v, &vlen);
        if (klen == 0 || memchr(ks, ',', klen) || memchr(ks, '=', klen) || memchr(ks, '\0', klen)) {
            rerror(r, k->start_mark, "expected a non-empty name without ',' or '='");
            return NULL;
        }
        if ((used > 0 && append(buf, size, &used, ",", 1) != 0) ||
            append(buf, size, &used, ks, klen) != 0 || append(buf, size, &used, "=", 1) != 0)
            goto too_long;
        for (size_t i = 0; i < vlen; i++) {
            unsigned char c = (unsigned char)vs[i];
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

            if (c > 0x20 && c < 0x7f && c != '%' && c != ',' && c != '=') {
                if (append(buf, size, &used, vs + i, 1) != 0)
                    goto too_long;
            } else if (append(buf, size, &used, esc, 3) != 0) {
                goto too_long;
            }
        }
    }
    return buf;
too_long:
    rerror(r, map->start_mark, "expected at most %zu bytes of name=value pairs", size - 1);
    return NULL;
}

/* Applies `value` to the field `d` describes. Returns 0, or -1 after an error. */
static int apply_node(struct reader *r, const struct tb_directive *d, void *field,
                      const yaml_node_t *value)
{
    char buf[MAX_SCALAR], hint[256], form_buf[160], shown[100];
    const char *text = NULL, *form;

    snprintf(form_buf, sizeof(form_buf), "%s (%s)",
             is_list_kind(d->kind)    ? "a sequence or a comma-separated string"
             : is_pairs_kind(d->kind) ? "a mapping or a comma-separated string"
                                      : "a scalar",
             d->arg);
    if (value->type == YAML_SEQUENCE_NODE && is_list_kind(d->kind))
        text = join_sequence(r, value, buf, sizeof(buf), "none");
    else if (value->type == YAML_MAPPING_NODE && is_pairs_kind(d->kind))
        text = join_pairs(r, value, buf, sizeof(buf));
    else
        text = scalar_value(r, value, form_buf, buf, sizeof(buf));
    if (text == NULL)
        return -1;
    if (is_pairs_kind(d->kind) && text[0] == '\0')
        return 0; /* an empty mapping: nothing to add */
    form = tb_directive_apply(r->cfg, d, field, text, hint, sizeof(hint));
    if (form != NULL) {
        sanitize(shown, sizeof(shown), text, strlen(text));
        rerror(r, value->start_mark, "invalid value '%s': expected %s", shown, form);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* schemas                                                                   */

static size_t schema_size(const struct schema *s)
{
    size_t n;

    if (s->keys != NULL)
        return s->num;
    tb_config_directives(&n);
    return n + 2;
}

/* Entry `i` of the schema; NULL key for a directive row that has no file key. */
static struct object_key schema_entry(const struct schema *s, size_t i)
{
    struct object_key k = {0};
    size_t n;
    const struct tb_directive *rows;

    if (s->keys != NULL)
        return s->keys[i];
    rows = tb_config_directives(&n);
    if (i == n) {
        k.key = "listeners";
        k.how = KEY_LISTENERS;
    } else if (i == n + 1) {
        k.key = "clusters";
        k.how = KEY_CLUSTERS;
    } else {
        k.key = rows[i].file_key;
        k.how = KEY_DIRECTIVE;
        k.own = &rows[i];
        k.offset = rows[i].offset;
    }
    return k;
}

static const struct tb_directive *entry_row(const struct object_key *k)
{
    return k->own != NULL ? k->own : tb_config_directive_by_name(k->flag);
}

/* The accepted keys under `prefix` (their next path segment), for messages. */
static void list_keys(const struct schema *s, const char *prefix, size_t prefix_len, char *out,
                      size_t out_size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < schema_size(s); i++) {
        struct object_key k = schema_entry(s, i);
        const char *seg;
        size_t seg_len;
        int seen = 0;

        if (k.key == NULL || strncmp(k.key, prefix, prefix_len) != 0)
            continue;
        seg = k.key + prefix_len;
        seg_len = strcspn(seg, ".");
        for (size_t j = 0; j < i && !seen; j++) {
            struct object_key e = schema_entry(s, j);

            seen = e.key != NULL && strncmp(e.key, prefix, prefix_len) == 0 &&
                   strncmp(e.key + prefix_len, seg, seg_len) == 0 &&
                   (e.key[prefix_len + seg_len] == '.' || e.key[prefix_len + seg_len] == '\0');
        }
        if (seen)
            continue;
        if (used > 0)
            append(out, out_size, &used, ", ", 2);
        append(out, out_size, &used, seg, seg_len);
    }
}

static void walk_object(struct reader *r, const yaml_node_t *map, const struct schema *s,
                        char *prefix, size_t prefix_len, void *obj, uint32_t *set);
static void read_listeners(struct reader *r, const yaml_node_t *seq);
static void read_clusters(struct reader *r, const yaml_node_t *seq);
static void read_routes(struct reader *r, const yaml_node_t *seq, size_t li);
static void read_endpoints(struct reader *r, const yaml_node_t *value, struct tb_cluster_config *c);

static int valid_name(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len >= TB_CONFIG_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static const char name_form[] = "a name of 1 to 63 letters, digits, '_', '-' or '.'";

/* Reads a key that is not a plain directive: names, match, cluster, lists. */
static void read_special(struct reader *r, const struct object_key *k, const yaml_node_t *value,
                         void *obj)
{
    char buf[MAX_SCALAR], shown[100];
    const char *text;

    switch (k->how) {
    case KEY_NAME:
    case KEY_CLUSTER:
        if ((text = scalar_value(r, value, name_form, buf, sizeof(buf))) == NULL)
            return;
        if (!valid_name(text)) {
            sanitize(shown, sizeof(shown), text, strlen(text));
            rerror(r, value->start_mark, "invalid name '%s': expected %s", shown, name_form);
            return;
        }
        if (k->how == KEY_NAME) {
            snprintf((char *)obj + k->offset, TB_CONFIG_ID_MAX, "%s", text);
        } else {
            struct tb_route_config *route = obj;

            snprintf(route->cluster_name, sizeof(route->cluster_name), "%s", text);
        }
        return;
    case KEY_HOST: {
        struct tb_route_config *route = obj;
        static const char form[] = "a host name, '*.suffix' or '*' (any)";
        size_t len;

        if ((text = scalar_value(r, value, form, buf, sizeof(buf))) == NULL)
            return;
        len = strlen(text);
        if (strcmp(text, "*") == 0) {
            route->host[0] = '\0';
            return;
        }
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)text[i];

            if (c <= 0x20 || c >= 0x7f || c == '/' || (c == '*' && (i != 0 || text[1] != '.')))
                len = 0;
        }
        if (len == 0 || len >= sizeof(route->host)) {
            sanitize(shown, sizeof(shown), text, strlen(text));
            rerror(r, value->start_mark, "invalid host '%s': expected %s", shown, form);
            return;
        }
        memcpy(route->host, text, len + 1);
        return;
    }
    case KEY_PATH: {
        struct tb_route_config *route = obj;
        static const char form[] = "a path starting with '/', without spaces";
        size_t len;

        if ((text = scalar_value(r, value, form, buf, sizeof(buf))) == NULL)
            return;
        len = strlen(text);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f)
                len = 0;
        if (len == 0 || text[0] != '/' || len >= sizeof(route->path_prefix)) {
            sanitize(shown, sizeof(shown), text, strlen(text));
            rerror(r, value->start_mark, "invalid path prefix '%s': expected %s", shown, form);
            return;
        }
        memcpy(route->path_prefix, text, len + 1);
        return;
    }
    case KEY_ROUTES:
        read_routes(r, value, (size_t)((struct tb_listener_config *)obj - r->cfg->listeners));
        return;
    case KEY_ENDPOINTS:
        read_endpoints(r, value, obj);
        return;
    case KEY_LISTENERS:
        read_listeners(r, value);
        return;
    case KEY_CLUSTERS:
        read_clusters(r, value);
        return;
    case KEY_DIRECTIVE:
        break;
    }
    tb_bug("key kind handled by walk_object");
}

/* Walks the mapping `map` whose keys sit under `prefix` (e.g. "timeouts.")
 * in schema `s`, applying every value to `obj`. `*set` collects the set
 * bits of the directive keys applied. */
static void walk_object(struct reader *r, const yaml_node_t *map, const struct schema *s,
                        char *prefix, size_t prefix_len, void *obj, uint32_t *set)
{
    if (map->type != YAML_MAPPING_NODE) {
        char keys[400];

        list_keys(s, prefix, prefix_len, keys, sizeof(keys));
        rerror(r, map->start_mark, "expected a mapping with keys %s, found %s", keys,
               type_name(map));
        return;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top && !give_up(r); p++) {
        const yaml_node_t *kn = node_at(r, p->key), *value = node_at(r, p->value);
        const char *key;
        size_t key_len, old, full_len;
        int matched = 0, is_prefix = 0;
        struct object_key entry = {0};

        if (kn == NULL || value == NULL)
            continue;
        if (kn->type != YAML_SCALAR_NODE) {
            rerror(r, kn->start_mark, "expected a key (a scalar), found %s", type_name(kn));
            continue;
        }
        key = scalar(kn, &key_len);
        old = push_key(r, key, key_len);
        /* Duplicate keys: libyaml keeps both; the last would silently win. */
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const yaml_node_t *other = node_at(r, q->key);
            size_t other_len;
            const char *o;

            if (other == NULL || other->type != YAML_SCALAR_NODE)
                continue;
            o = scalar(other, &other_len);
            if (other_len == key_len && memcmp(o, key, key_len) == 0) {
                rerror(r, kn->start_mark, "duplicate key (first at line %zu)",
                       other->start_mark.line + 1);
                matched = -1;
                break;
            }
        }
        if (matched < 0) {
            pop(r, old);
            continue;
        }
        full_len = prefix_len + key_len;
        if (full_len < 200 && memchr(key, '\0', key_len) == NULL &&
            memchr(key, '.', key_len) == NULL) {
            memcpy(prefix + prefix_len, key, key_len);
            prefix[full_len] = '\0';
            for (size_t i = 0; i < schema_size(s) && !matched; i++) {
                entry = schema_entry(s, i);
                if (entry.key == NULL)
                    continue;
                if (strcmp(entry.key, prefix) == 0)
                    matched = 1;
                else if (strncmp(entry.key, prefix, full_len) == 0 && entry.key[full_len] == '.')
                    is_prefix = 1;
            }
        }
        if (matched && entry.how == KEY_DIRECTIVE) {
            const struct tb_directive *d = entry_row(&entry);

            if (apply_node(r, d, (char *)obj + entry.offset, value) == 0)
                *set |= entry.set_bit;
        } else if (matched) {
            read_special(r, &entry, value, obj);
        } else if (is_prefix) {
            prefix[full_len] = '.';
            prefix[full_len + 1] = '\0';
            walk_object(r, value, s, prefix, full_len + 1, obj, set);
        } else {
            char keys[400], shown[100];

            prefix[prefix_len] = '\0';
            list_keys(s, prefix, prefix_len, keys, sizeof(keys));
            sanitize(shown, sizeof(shown), key, key_len);
            pop(r, old);
            rerror(r, kn->start_mark, "unknown key '%s' (expected one of: %s)", shown, keys);
            continue;
        }
        prefix[prefix_len] = '\0';
        pop(r, old);
    }
}

/* ------------------------------------------------------------------------ */
/* listeners, routes, clusters                                               */

static const struct schema listener_schema = {listener_keys, TB_ARRAY_SIZE(listener_keys)};
static const struct schema route_schema = {route_keys, TB_ARRAY_SIZE(route_keys)};
static const struct schema cluster_schema = {cluster_keys, TB_ARRAY_SIZE(cluster_keys)};

/* The value of key `key` in mapping `map`, or NULL. */
static const yaml_node_t *value_of(struct reader *r, const yaml_node_t *map, const char *key)
{
    if (map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = node_at(r, p->key), *v = node_at(r, p->value);
        size_t len;

        if (k != NULL && v != NULL && k->type == YAML_SCALAR_NODE &&
            strlen(key) == (len = k->data.scalar.length) &&
            memcmp(k->data.scalar.value, key, len) == 0)
            return v;
    }
    return NULL;
}

/* The mark of the value of key `key` in mapping `map`, else the map's own. */
static yaml_mark_t mark_of(struct reader *r, const yaml_node_t *map, const char *key)
{
    const yaml_node_t *v = value_of(r, map, key);

    return v != NULL ? v->start_mark : map->start_mark;
}

/* Reports a missing required key, or a present but empty sequence. */
static void require(struct reader *r, const yaml_node_t *map, const char *key, const char *what)
{
    const yaml_node_t *v = value_of(r, map, key);

    if (map->type != YAML_MAPPING_NODE)
        return; /* already reported */
    if (v == NULL)
        rerror(r, map->start_mark, "missing key '%s' (%s)", key, what);
    else if (v->type == YAML_SEQUENCE_NODE &&
             v->data.sequence.items.top == v->data.sequence.items.start)
        rerror(r, v->start_mark, "'%s' is empty: %s", key, what);
}

static size_t sequence_length(const yaml_node_t *seq)
{
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

/* Checks that `value` is a sequence of at most `max` items. */
static int check_sequence(struct reader *r, const yaml_node_t *value, const char *what, size_t max)
{
    if (value->type != YAML_SEQUENCE_NODE) {
        rerror(r, value->start_mark, "expected a sequence of %s, found %s", what, type_name(value));
        return -1;
    }
    if (sequence_length(value) > max) {
        rerror(r, value->start_mark, "at most %zu %s", max, what);
        return -1;
    }
    return 0;
}

static void read_routes(struct reader *r, const yaml_node_t *seq, size_t li)
{
    struct tb_listener_config *l = &r->cfg->listeners[li];
    size_t n;
    char prefix[256];

    if (check_sequence(r, seq, "routes", TB_CONFIG_MAX_ROUTES) != 0)
        return;
    n = sequence_length(seq);
    if (n == 0)
        return; /* "a listener without routes" is reported by the listener */
    l->routes = tb_xcalloc(n, sizeof(*l->routes));
    l->num_routes = n;
    r->route_marks[li] = tb_xcalloc(n, sizeof(*r->route_marks[li]));
    for (size_t i = 0; i < n && !give_up(r); i++) {
        struct tb_route_config *route = &l->routes[i];
        const yaml_node_t *item = node_at(r, seq->data.sequence.items.start[i]);
        size_t old = push_index(r, i);
        uint32_t set = 0;

        snprintf(route->path_prefix, sizeof(route->path_prefix), "/");
        if (item != NULL) {
            route->source_line = (unsigned)item->start_mark.line + 1;
            r->route_marks[li][i].name = mark_of(r, item, "name");
            r->route_marks[li][i].ref = mark_of(r, item, "cluster");
            prefix[0] = '\0';
            walk_object(r, item, &route_schema, prefix, 0, route, &set);
            route->set = set;
            require(r, item, "cluster", "the name of a cluster");
        }
        pop(r, old);
    }
}

static void read_listeners(struct reader *r, const yaml_node_t *seq)
{
    struct tb_config *cfg = r->cfg;
    size_t n;
    char prefix[256];

    if (check_sequence(r, seq, "listeners", TB_CONFIG_MAX_LISTENERS) != 0)
        return;
    n = sequence_length(seq);
    if (n == 0) {
        rerror(r, seq->start_mark, "expected at least one listener");
        return;
    }
    cfg->listeners = tb_xcalloc(n, sizeof(*cfg->listeners));
    cfg->num_listeners = n;
    for (size_t i = 0; i < n && !give_up(r); i++) {
        struct tb_listener_config *l = &cfg->listeners[i];
        const yaml_node_t *item = node_at(r, seq->data.sequence.items.start[i]);
        size_t old = push_index(r, i);
        uint32_t set = 0;

        if (item != NULL) {
            l->source_line = (unsigned)item->start_mark.line + 1;
            r->listener_marks[i].name = mark_of(r, item, "name");
            r->listener_marks[i].ref = mark_of(r, item, "address");
            prefix[0] = '\0';
            walk_object(r, item, &listener_schema, prefix, 0, l, &set);
            l->set = set;
            require(r, item, "name", name_form);
            require(r, item, "address", "HOST:PORT");
            require(r, item, "routes", "a listener needs at least one route");
        }
        pop(r, old);
    }
}

static void read_endpoints(struct reader *r, const yaml_node_t *value, struct tb_cluster_config *c)
{
    const struct tb_directive *row = tb_config_directive_by_name("upstream");
    char buf[MAX_SCALAR], *p;
    size_t n = 0;

    if (value->type == YAML_SEQUENCE_NODE) {
        if (check_sequence(r, value, "endpoints", TB_CONFIG_MAX_ENDPOINTS) != 0)
            return;
        n = sequence_length(value);
        if (n == 0)
            return;
        c->endpoints = tb_xcalloc(n, sizeof(*c->endpoints));
        c->num_endpoints = n;
        for (size_t i = 0; i < n; i++) {
            const yaml_node_t *item = node_at(r, value->data.sequence.items.start[i]);
            size_t old = push_index(r, i);

            if (item != NULL)
                apply_node(r, row, &c->endpoints[i], item);
            pop(r, old);
        }
        return;
    }
    if (scalar_value(r, value, "HOST:PORT items (a sequence or a comma-separated string)", buf,
                     sizeof(buf)) == NULL)
        return;
    for (p = buf; p != NULL; p = strchr(p, ','), p = p ? p + 1 : NULL)
        n++;
    if (n > TB_CONFIG_MAX_ENDPOINTS) {
        rerror(r, value->start_mark, "at most %d endpoints", TB_CONFIG_MAX_ENDPOINTS);
        return;
    }
    c->endpoints = tb_xcalloc(n, sizeof(*c->endpoints));
    c->num_endpoints = n;
    p = buf;
    for (size_t i = 0; i < n; i++) {
        char *comma = strchr(p, ','), hint[128], shown[100];
        const char *form;

        if (comma != NULL)
            *comma = '\0';
        while (*p == ' ')
            p++;
        for (size_t len = strlen(p); len > 0 && p[len - 1] == ' '; len--)
            p[len - 1] = '\0';
        form = tb_directive_apply(r->cfg, row, &c->endpoints[i], p, hint, sizeof(hint));
        if (form != NULL) {
            sanitize(shown, sizeof(shown), p, strlen(p));
            rerror(r, value->start_mark, "invalid endpoint '%s': expected %s", shown, form);
        }
        p = comma != NULL ? comma + 1 : p;
    }
}

static void read_clusters(struct reader *r, const yaml_node_t *seq)
{
    struct tb_config *cfg = r->cfg;
    size_t n;
    char prefix[256];

    if (check_sequence(r, seq, "clusters", TB_CONFIG_MAX_CLUSTERS) != 0)
        return;
    n = sequence_length(seq);
    if (n == 0)
        return;
    cfg->clusters = tb_xcalloc(n, sizeof(*cfg->clusters));
    cfg->num_clusters = n;
    r->cluster_marks = tb_xcalloc(n, sizeof(*r->cluster_marks));
    for (size_t i = 0; i < n && !give_up(r); i++) {
        struct tb_cluster_config *c = &cfg->clusters[i];
        const yaml_node_t *item = node_at(r, seq->data.sequence.items.start[i]);
        size_t old = push_index(r, i);
        uint32_t set = 0;

        c->eject_after = 1;
        c->eject_base_ms = 1000;
        c->eject_max_ms = 30000;
        if (item != NULL) {
            c->source_line = (unsigned)item->start_mark.line + 1;
            r->cluster_marks[i].name = mark_of(r, item, "name");
            prefix[0] = '\0';
            walk_object(r, item, &cluster_schema, prefix, 0, c, &set);
            require(r, item, "name", name_form);
            require(r, item, "endpoints",
                    "a cluster needs at least one endpoint: [HOST:PORT, ...]");
            if (item->type == YAML_MAPPING_NODE) {
                if (c->eject_max_ms < c->eject_base_ms)
                    rerror(r, mark_of(r, item, "ejection"),
                           "ejection.max must not be below ejection.base");
            }
        }
        pop(r, old);
    }
}

/* Checks that need the whole file: unique names and addresses, and every
 * route's cluster defined. */
static void check_references(struct reader *r)
{
    struct tb_config *cfg = r->cfg;
    char names[300];
    size_t used = 0;

    names[0] = '\0';
    for (size_t k = 0; k < cfg->num_clusters; k++) {
        if (cfg->clusters[k].name[0] == '\0')
            continue;
        if (used > 0)
            append(names, sizeof(names), &used, ", ", 2);
        append(names, sizeof(names), &used, cfg->clusters[k].name, strlen(cfg->clusters[k].name));
    }
    for (size_t i = 0; i < cfg->num_clusters && !give_up(r); i++) {
        for (size_t j = 0; j < i; j++) {
            if (cfg->clusters[i].name[0] != '\0' &&
                strcmp(cfg->clusters[i].name, cfg->clusters[j].name) == 0) {
                r->path_len = (size_t)snprintf(r->path, sizeof(r->path), "clusters[%zu].name", i);
                rerror(r, r->cluster_marks[i].name,
                       "duplicate cluster name '%s' (first at line %zu)", cfg->clusters[i].name,
                       r->cluster_marks[j].name.line + 1);
                break;
            }
        }
    }
    for (size_t i = 0; i < cfg->num_listeners && !give_up(r); i++) {
        struct tb_listener_config *l = &cfg->listeners[i];
        char base[64];

        snprintf(base, sizeof(base), "listeners[%zu]", i);
        for (size_t j = 0; j < i; j++) {
            const struct tb_listener_config *o = &cfg->listeners[j];

            r->path_len = (size_t)snprintf(r->path, sizeof(r->path), "%s.name", base);
            if (l->name[0] != '\0' && strcmp(l->name, o->name) == 0)
                rerror(r, r->listener_marks[i].name,
                       "duplicate listener name '%s' (first at line %zu)", l->name,
                       r->listener_marks[j].name.line + 1);
            r->path_len = (size_t)snprintf(r->path, sizeof(r->path), "%s.address", base);
            if (l->address.port[0] != '\0' && strcmp(l->address.port, "0") != 0 &&
                strcmp(l->address.host, o->address.host) == 0 &&
                strcmp(l->address.port, o->address.port) == 0)
                rerror(r, r->listener_marks[i].ref, "listeners '%s' and '%s' use the same address",
                       o->name, l->name);
        }
        for (size_t k = 0; k < l->num_routes && r->route_marks[i] != NULL; k++) {
            struct tb_route_config *route = &l->routes[k];
            int found = 0;

            for (size_t j = 0; j < k; j++) {
                if (route->name[0] != '\0' && strcmp(route->name, l->routes[j].name) == 0) {
                    r->path_len =
                        (size_t)snprintf(r->path, sizeof(r->path), "%s.routes[%zu].name", base, k);
                    rerror(r, r->route_marks[i][k].name,
                           "duplicate route name '%s' in this listener (first at line %zu)",
                           route->name, r->route_marks[i][j].name.line + 1);
                    break;
                }
            }
            if (route->cluster_name[0] == '\0')
                continue; /* missing: already reported */
            for (size_t c = 0; c < cfg->num_clusters && !found; c++)
                found = strcmp(cfg->clusters[c].name, route->cluster_name) == 0;
            if (!found) {
                r->path_len =
                    (size_t)snprintf(r->path, sizeof(r->path), "%s.routes[%zu].cluster", base, k);
                rerror(r, r->route_marks[i][k].ref, "unknown cluster '%s' (clusters: %s)",
                       route->cluster_name, used > 0 ? names : "none defined");
            }
        }
    }
    pop(r, 0);
}

/* ------------------------------------------------------------------------ */
/* the two passes                                                            */

static void yaml_problem(struct reader *r, const yaml_parser_t *parser, const char *data,
                         size_t len)
{
    const char *problem = parser->problem != NULL ? parser->problem : "invalid YAML";

    if (parser->error == YAML_READER_ERROR) {
        /* The reader (encoding) errors carry a byte offset, not a mark. */
        yaml_mark_t mark = {0, 0, 0};

        for (size_t i = 0; i < parser->problem_offset && i < len; i++) {
            mark.column++;
            if (data[i] == '\n') {
                mark.line++;
                mark.column = 0;
            }
        }
        if (parser->problem_value >= 0)
            rerror(r, mark, "%s (byte 0x%02x)", problem, (unsigned)parser->problem_value & 0xffu);
        else
            rerror(r, mark, "%s", problem);
    } else if (parser->context != NULL)
        rerror(r, parser->problem_mark, "%s %s (line %zu)", problem, parser->context,
               parser->context_mark.line + 1);
    else
        rerror(r, parser->problem_mark, "%s", problem);
}

/* Syntax, depth and aliases, over events. Returns 0 when loading may go on. */
static int prescan(struct reader *r, const char *data, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t event;
    int depth = 0, done = 0, status = 0;
    size_t events = 0;

    if (!yaml_parser_initialize(&parser))
        tb_fatal("libyaml: out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    while (!done && status == 0) {
        if (!yaml_parser_parse(&parser, &event)) {
            yaml_problem(r, &parser, data, len);
            status = -1;
            break;
        }
        switch (event.type) {
        case YAML_ALIAS_EVENT:
            rerror(r, event.start_mark, "aliases are not supported: repeat the value");
            status = -1;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > MAX_DEPTH) {
                rerror(r, event.start_mark, "nesting deeper than %d levels", MAX_DEPTH);
                status = -1;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (events > 2) {
                rerror(r, event.start_mark, "one YAML document expected; a second starts here");
                status = -1;
            }
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        if (++events > MAX_EVENTS && status == 0) {
            rerror(r, event.start_mark, "more than %d YAML events: not a configuration file",
                   MAX_EVENTS);
            status = -1;
        }
        yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);
    return status;
}

int tb_config_file_parse(struct tb_config *cfg, const char *name, const char *data, size_t len,
                         FILE *err)
{
    struct reader *r = tb_xcalloc(1, sizeof(*r));
    yaml_parser_t parser;
    yaml_node_t *root;
    int status;

    r->cfg = cfg;
    r->name = name;
    r->err = err;
    if (prescan(r, data, len) != 0)
        goto out;
    if (!yaml_parser_initialize(&parser))
        tb_fatal("libyaml: out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &r->doc)) {
        yaml_problem(r, &parser, data, len);
        yaml_parser_delete(&parser);
        goto out;
    }
    yaml_parser_delete(&parser);
    root = yaml_document_get_root_node(&r->doc);
    if (root != NULL && !(root->type == YAML_SCALAR_NODE && is_null(root))) {
        static const struct schema top = {NULL, 0};
        char prefix[256] = "";
        uint32_t set = 0;

        if (root->type != YAML_MAPPING_NODE)
            rerror(r, root->start_mark,
                   "the file must be a mapping of settings (workers: 2, listeners: [...]), not "
                   "%s",
                   type_name(root));
        else
            walk_object(r, root, &top, prefix, 0, cfg, &set);
        if (!give_up(r))
            check_references(r);
    }
    yaml_document_delete(&r->doc);
out:
    status = r->errors == 0 ? 0 : -1;
    for (size_t i = 0; i < TB_CONFIG_MAX_LISTENERS; i++)
        tb_free(r->route_marks[i]);
    tb_free(r->cluster_marks);
    tb_free(r);
    return status;
}

int tb_config_file_read(struct tb_config *cfg, const char *path, FILE *err)
{
    FILE *f = fopen(path, "rb");
    char *data;
    size_t len;
    int status;

    if (f == NULL) {
        fprintf(err, "tracebridge: %s: cannot read: %s\n", path, strerror(errno));
        return -1;
    }
    data = tb_xmalloc(TB_CONFIG_FILE_MAX_BYTES + 1);
    len = fread(data, 1, TB_CONFIG_FILE_MAX_BYTES + 1, f);
    if (ferror(f)) {
        fprintf(err, "tracebridge: %s: cannot read: %s\n", path, strerror(errno));
        status = -1;
    } else if (len > TB_CONFIG_FILE_MAX_BYTES) {
        fprintf(err, "tracebridge: %s: cannot read: larger than %u bytes\n", path,
                TB_CONFIG_FILE_MAX_BYTES);
        status = -1;
    } else {
        status = tb_config_file_parse(cfg, path, data, len, err);
    }
    fclose(f);
    tb_free(data);
    return status;
}
