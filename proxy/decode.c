/* SPDX-License-Identifier: MIT
 * The decode subcommand. Header lines are checked with the proxy's own rules
 * for names and values, so what decodes here is what the proxy would see.
 */
#include "proxy/decode.h"

#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/rand.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"
#include "propagators/sw8.h"
#include "propagators/tbstate.h"
#include "proxy/config.h"
#include "spans/sampler.h"

#define DECODE_MAX_INPUT (1u << 20)
#define DECODE_ARENA_CAP (16u << 20)

static const char *const sampling_names[] = {
    [TB_SAMPLING_DEFER] = "defer",
    [TB_SAMPLING_ACCEPT] = "accept",
    [TB_SAMPLING_DENY] = "deny",
    [TB_SAMPLING_DEBUG] = "debug",
};

/* --- output helpers --------------------------------------------------------- */

static void print_json_string(FILE *out, const char *p, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* Bytes outside visible ASCII printed as \xNN, so a table line stays one line. */
static void print_escaped(FILE *out, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

static void hex(const uint8_t *p, size_t len, char *buf)
{
    tb_hex_encode(p, len, buf);
    buf[2 * len] = '\0';
}

static void print_format_set(FILE *out, uint32_t set, bool json)
{
    const char *sep = "";

    if (json)
        fputc('[', out);
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        if (!(set & TB_FORMAT_BIT(f)))
            continue;
        fprintf(out, json ? "%s\"%s\"" : "%s%s", sep, tb_propagator_get((enum tb_format)f)->name);
        sep = json ? "," : ", ";
    }
    if (json)
        fputc(']', out);
    else if (*sep == '\0')
        fputs("none", out);
}

/* --- input ---------------------------------------------------------------------- */

static bool is_request_line(struct tb_iov line)
{
    const char *sp = memchr(line.base, ' ', line.len);

    return sp != NULL && line.len > 9 && memcmp(line.base + line.len - 9, " HTTP/1.", 8) == 0 &&
           memchr(line.base, ':', (size_t)(sp - line.base)) == NULL;
}

static int read_headers(struct tb_arena *arena, const char *input, size_t len,
                        struct tb_headers *hdrs, FILE *err)
{
    const char *p = input, *end = input + len;
    unsigned lineno = 0;

    tb_headers_init(hdrs);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct tb_iov line = {p, (size_t)((nl ? nl : end) - p)}, name, value;
        const char *colon;

        lineno++;
        p = nl ? nl + 1 : end;
        if (line.len > 0 && line.base[line.len - 1] == '\r')
            line.len--;
        if (line.len == 0)
            break;
        if (lineno == 1 && is_request_line(line))
            continue;
        colon = memchr(line.base, ':', line.len);
        if (colon == NULL || colon == line.base) {
            fprintf(err, "tracebridge decode: line %u: expected 'Name: value'\n", lineno);
            return 2;
        }
        name = (struct tb_iov){line.base, (size_t)(colon - line.base)};
        for (size_t i = 0; i < name.len; i++) {
            if (!tb_lex_is_tchar((unsigned char)name.base[i])) {
                fprintf(err, "tracebridge decode: line %u: invalid byte in header name\n", lineno);
                return 2;
            }
        }
        value =
            tb_lex_trim_ows((struct tb_iov){colon + 1, (size_t)(line.base + line.len - colon - 1)});
        for (size_t i = 0; i < value.len; i++) {
            unsigned char c = (unsigned char)value.base[i];

            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                fprintf(err, "tracebridge decode: line %u: control byte 0x%02x in value\n", lineno,
                        c);
                return 2;
            }
        }
        if (tb_headers_add(arena, hdrs, name, value) != TB_OK) {
            fprintf(err, "tracebridge decode: line %u: too many headers\n", lineno);
            return 2;
        }
    }
    return 0;
}

/* --- report ----------------------------------------------------------------------- */

static void print_headers(FILE *out, const struct tb_headers *h, bool json, const char *indent)
{
    for (size_t i = 0; i < h->num; i++) {
        const struct tb_header *e = &h->entries[i];

        if (json) {
            fputs(i ? ",[" : "[", out);
            print_json_string(out, e->name.base, e->name.len);
            fputc(',', out);
            print_json_string(out, e->value.base, e->value.len);
            fputc(']', out);
        } else {
            fputs(indent, out);
            print_escaped(out, e->name.base, e->name.len);
            fputs(": ", out);
            print_escaped(out, e->value.base, e->value.len);
            fputc('\n', out);
        }
    }
}

static void print_context(FILE *out, const struct tb_trace_ctx *ctx, bool json, bool has_parent)
{
    char trace[33], parent[17];

    hex(ctx->trace_id, 16, trace);
    hex(ctx->span_id, 8, parent);
    if (json) {
        fprintf(out, "{\"trace_id\":\"%s\",\"parent_id\":", trace);
        if (has_parent)
            fprintf(out, "\"%s\"", parent);
        else
            fputs("null", out);
        fprintf(out, ",\"sampling\":\"%s\",\"flags\":\"%02x\",\"id_width\":%u,\"tracestate\":",
                sampling_names[ctx->sampling], ctx->w3c_flags, ctx->id_width);
        print_json_string(out, ctx->tracestate.base, ctx->tracestate.len);
        fputs(",\"baggage\":[", out);
        for (size_t i = 0; i < ctx->baggage.num; i++) {
            const struct tb_baggage_item *b = &ctx->baggage.items[i];

            fputs(i ? ",{\"key\":" : "{\"key\":", out);
            print_json_string(out, b->key.base, b->key.len);
            fputs(",\"value\":", out);
            print_json_string(out, b->value.base, b->value.len);
            fputc('}', out);
        }
        fputs("]", out);
        if (ctx->sw8.trace_id.len > 0) {
            fputs(",\"sw8_trace_id\":", out);
            print_json_string(out, ctx->sw8.trace_id.base, ctx->sw8.trace_id.len);
        }
        if (ctx->eagleeye.trace_id.len > 0) {
            fputs(",\"eagleeye_trace_id\":", out);
            print_json_string(out, ctx->eagleeye.trace_id.base, ctx->eagleeye.trace_id.len);
        }
        fputc('}', out);
        return;
    }
    fprintf(out, "trace_id=%s parent_id=%s sampling=%s flags=%02x width=%u\n", trace,
            has_parent ? parent : "-", sampling_names[ctx->sampling], ctx->w3c_flags,
            ctx->id_width);
    if (ctx->tracestate.len > 0) {
        fputs("  tracestate: ", out);
        print_escaped(out, ctx->tracestate.base, ctx->tracestate.len);
        fputc('\n', out);
    }
    if (ctx->sw8.trace_id.len > 0) {
        fputs("  skywalking trace id: ", out);
        print_escaped(out, ctx->sw8.trace_id.base, ctx->sw8.trace_id.len);
        fputc('\n', out);
    }
    if (ctx->eagleeye.trace_id.len > 0) {
        fputs("  eagleeye trace id: ", out);
        print_escaped(out, ctx->eagleeye.trace_id.base, ctx->eagleeye.trace_id.len);
        fputc('\n', out);
    }
    for (size_t i = 0; i < ctx->baggage.num; i++) {
        const struct tb_baggage_item *b = &ctx->baggage.items[i];

        fputs("  baggage: ", out);
        print_escaped(out, b->key.base, b->key.len);
        fputc('=', out);
        print_escaped(out, b->value.base, b->value.len);
        fputc('\n', out);
    }
}

static void print_formats(FILE *out, const struct tb_extraction *ext, bool json)
{
    if (!json)
        fprintf(out, "%-13s %-8s %-32s %-16s %s\n", "FORMAT", "STATUS", "TRACE ID", "PARENT ID",
                "SAMPLING / REASON");
    else
        fputs("\"formats\":[", out);
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        const struct tb_prop_format_result *r = &ext->formats[f];
        const char *name = tb_propagator_get((enum tb_format)f)->name;
        const char *status = r->status == TB_OK       ? "valid"
                             : r->status == TB_EINVAL ? "invalid"
                                                      : "absent";
        bool ids = r->status == TB_OK && !tb_is_zero(r->ctx.trace_id, 16);
        char trace[33] = "-", parent[17] = "-";

        if (ids) {
            hex(r->ctx.trace_id, 16, trace);
            if (!tb_is_zero(r->ctx.span_id, 8))
                hex(r->ctx.span_id, 8, parent);
        }
        if (json) {
            fprintf(out, "%s{\"format\":\"%s\",\"status\":\"%s\"", f ? "," : "", name, status);
            if (r->status == TB_EINVAL)
                fprintf(out, ",\"reason\":\"%s\"", r->why);
            if (r->status == TB_OK) {
                fputs(",\"context\":", out);
                print_context(out, &r->ctx, true, !tb_is_zero(r->ctx.span_id, 8));
            }
            fputc('}', out);
            continue;
        }
        fprintf(out, "%-13s %-8s %-32s %-16s %s\n", name, status, trace, parent,
                r->status == TB_EINVAL ? r->why
                : r->status == TB_OK   ? sampling_names[r->ctx.sampling]
                                       : "");
    }
    if (json)
        fputs("],", out);
}

int tb_decode(const char *input, size_t len, const struct tb_decode_options *opts, FILE *out,
              FILE *err)
{
    struct tb_arena *arena = tb_arena_new(64 * 1024, DECODE_ARENA_CAP);
    struct tb_headers in, proxied;
    struct tb_extraction *ext = tb_arena_alloc(arena, sizeof(*ext));
    struct tb_hop hop;
    uint32_t written;
    size_t dropped;
    int status = 2;
    bool json = opts->json;
    enum tb_sampling decision;

    if (ext == NULL || read_headers(arena, input, len, &in, err) != 0)
        goto done;
    if (tb_prop_extract(&opts->policy, &in, arena, ext) != TB_OK) {
        fprintf(err, "tracebridge decode: input too large\n");
        goto done;
    }
    tb_prop_start_root(ext, opts->trace_id);
    memset(&hop, 0, sizeof(hop));
    memcpy(hop.span_id, opts->span_id, sizeof(hop.span_id));
    hop.service = (struct tb_iov){opts->service, strlen(opts->service)};
    hop.instance = (struct tb_iov){opts->instance, strlen(opts->instance)};
    {
        size_t mlen = strlen(opts->method);
        size_t plen = tb_sw8_endpoint_path_len(mlen, opts->path, strlen(opts->path));
        char *endpoint = tb_arena_alloc(arena, mlen + 1 + plen);

        if (endpoint == NULL)
            goto done;
        memcpy(endpoint, opts->method, mlen);
        endpoint[mlen] = ':';
        memcpy(endpoint + mlen + 1, opts->path, plen);
        hop.endpoint = (struct tb_iov){endpoint, mlen + 1 + plen};
    }
    hop.target = (struct tb_iov){opts->target, strlen(opts->target)};

    if (json)
        fputc('{', out);
    print_formats(out, ext, json);
    if (json) {
        fprintf(out, "\"winner\":");
        if (ext->winner >= 0)
            fprintf(out, "\"%s\"", tb_propagator_get((enum tb_format)ext->winner)->name);
        else
            fputs("null", out);
        fputs(",\"merged\":", out);
        print_format_set(out, ext->merged, true);
        fputs(",\"conflicts\":", out);
        print_format_set(out, ext->conflicts, true);
        fprintf(out, ",\"new_root\":%s,\"context\":", ext->new_root ? "true" : "false");
        print_context(out, &ext->ctx, true, !tb_is_zero(ext->ctx.span_id, 8));
        /* The proxy's sampler decides what goes downstream (proxy/hop.c). */
        decision = tb_sampler_decide(&opts->sampler, ext->ctx.trace_id, ext->ctx.sampling,
                                     !ext->new_root || ext->ctx.sampling != TB_SAMPLING_DEFER);
        ext->ctx.sampling = decision;
        ext->ctx.w3c_flags &= TB_W3C_FLAG_RANDOM;
        if (tb_sampling_is_sampled(decision))
            ext->ctx.w3c_flags |= TB_W3C_FLAG_SAMPLED;
        fprintf(out, ",\"decision\":\"%s\",\"hop_span_id\":\"", sampling_names[decision]);
        for (int i = 0; i < 8; i++)
            fprintf(out, "%02x", hop.span_id[i]);
        fputs("\",\"inject\":{", out);
    } else {
        fprintf(out, "\nwinner: %s",
                ext->winner >= 0 ? tb_propagator_get((enum tb_format)ext->winner)->name
                                 : "none (a new trace starts)");
        fputs("   merged: ", out);
        print_format_set(out, ext->merged, false);
        fputs("   conflicts: ", out);
        print_format_set(out, ext->conflicts, false);
        fputs("\ncontext: ", out);
        print_context(out, &ext->ctx, false, !tb_is_zero(ext->ctx.span_id, 8));
        /* The proxy's sampler decides what goes downstream (proxy/hop.c). */
        decision = tb_sampler_decide(&opts->sampler, ext->ctx.trace_id, ext->ctx.sampling,
                                     !ext->new_root || ext->ctx.sampling != TB_SAMPLING_DEFER);
        ext->ctx.sampling = decision;
        ext->ctx.w3c_flags &= TB_W3C_FLAG_RANDOM;
        if (tb_sampling_is_sampled(decision))
            ext->ctx.w3c_flags |= TB_W3C_FLAG_SAMPLED;
        fprintf(out, "sampling decision sent downstream: %s\n", sampling_names[decision]);
        fputs("hop span_id: ", out);
        for (int i = 0; i < 8; i++)
            fprintf(out, "%02x", hop.span_id[i]);
        fputs("\n\nwhat each format would inject:\n", out);
    }
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        const struct tb_propagator *prop = tb_propagator_get((enum tb_format)f);
        struct tb_trace_ctx ctx = ext->ctx;
        struct tb_headers one;

        tb_headers_init(&one);
        dropped = 0;
        if (tb_tbstate_encode(&ctx, &hop, arena, &ctx.tbstate) != TB_OK ||
            prop->inject(&ctx, &hop, arena, &one, &dropped) != TB_OK)
            goto done;
        if (json) {
            fprintf(out, "%s\"%s\":[", f ? "," : "", prop->name);
            print_headers(out, &one, true, "");
            fputc(']', out);
        } else {
            fprintf(out, "  %s:%s\n", prop->name, one.num == 0 ? " (nothing)" : "");
            print_headers(out, &one, false, "    ");
        }
    }
    /* What the proxy itself would send upstream with this policy. */
    proxied = in;
    proxied.entries = tb_arena_alloc(arena, (in.num + 1) * sizeof(*in.entries));
    if (proxied.entries == NULL)
        goto done;
    if (in.num > 0)
        memcpy(proxied.entries, in.entries, in.num * sizeof(*in.entries));
    proxied.cap = in.num + 1;
    if (tb_prop_inject(&opts->policy, ext, &hop, arena, &proxied, &written, &dropped) != TB_OK)
        goto done;
    if (json) {
        fputs("},\"proxied\":{\"injected\":", out);
        print_format_set(out, written, true);
        fputs(",\"headers\":[", out);
        print_headers(out, &proxied, true, "");
        fprintf(out, "],\"baggage_dropped\":%zu}}\n", dropped + ext->ctx.baggage.dropped);
    } else {
        fputs("\nheaders the proxy would send (injected: ", out);
        print_format_set(out, written, false);
        fputs("):\n", out);
        print_headers(out, &proxied, false, "  ");
        if (dropped + ext->ctx.baggage.dropped > 0)
            fprintf(out, "baggage items dropped: %zu\n", dropped + ext->ctx.baggage.dropped);
    }
    status = 0;
done:
    tb_arena_free(arena);
    return status;
}

static void decode_usage(FILE *out)
{
    fputs("usage: tracebridge decode [--json] [--extract LIST] [--propagators LIST]\n"
          "                          [--inject-mode replace|add] [--clear LIST]\n"
          "                          [--span-id HEX16] [--trace-id HEX32]\n"
          "                          [--service-name NAME] [--service-instance NAME]\n"
          "                          [--method M] [--path P] [--target HOST:PORT] < headers\n\n"
          "Reads header lines (Name: value) on standard input and prints what every\n"
          "trace-context format extracted or why it was rejected, the winning context,\n"
          "the headers each format would inject, and the headers the proxy would send\n"
          "upstream with the given policy. Random ids are used unless given.\n",
          out);
}

static const char *decode_getenv(const char *name)
{
    return getenv(name);
}

int tb_decode_main(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    struct tb_config cfg;
    struct tb_decode_options opts;
    struct tb_rng rng;
    char *buf;
    size_t len = 0, n;
    int status;

    tb_config_defaults(&cfg);
    if (tb_config_apply_env(&cfg, decode_getenv, err) != 0)
        return 2;
    memset(&opts, 0, sizeof(opts));
    if (tb_rng_seed(&rng) != TB_OK) {
        fprintf(err, "tracebridge decode: no entropy for ids\n");
        return 1;
    }
    tb_rng_span_id(&rng, opts.span_id);
    tb_rng_trace_id(&rng, opts.trace_id);
    opts.method = "GET";
    opts.path = "/";
    opts.target = "upstream:80";
    opts.instance = "tracebridge-decode";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *flagv[3] = {"tracebridge", NULL, NULL};

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            decode_usage(out);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            opts.json = true;
            continue;
        }
        if (v == NULL || strncmp(a, "--", 2) != 0) {
            fprintf(err, "tracebridge decode: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--span-id") == 0 || strcmp(a, "--trace-id") == 0) {
            bool span = a[2] == 's';

            if (!tb_lex_hex((struct tb_iov){v, strlen(v)}, span ? opts.span_id : opts.trace_id,
                            span ? 8 : 16, false)) {
                fprintf(err, "tracebridge decode: %s needs %d lower-case hex digits\n", a,
                        span ? 16 : 32);
                return 2;
            }
        } else if (strcmp(a, "--method") == 0) {
            opts.method = v;
        } else if (strcmp(a, "--path") == 0) {
            opts.path = v;
        } else if (strcmp(a, "--target") == 0) {
            opts.target = v;
        } else {
            /* The propagation flags mean what they mean to the proxy. */
            flagv[1] = (char *)a;
            flagv[2] = (char *)v;
            if (tb_config_parse_flags(&cfg, 3, flagv, out, err) != TB_CONFIG_CLI_RUN)
                return 2;
        }
    }
    opts.policy = cfg.propagation;
    opts.sampler = cfg.sampler;
    opts.service = cfg.service_name;
    if (cfg.service_instance[0] != '\0')
        opts.instance = cfg.service_instance;

    buf = tb_xmalloc(DECODE_MAX_INPUT);
    while (len < DECODE_MAX_INPUT && (n = fread(buf + len, 1, DECODE_MAX_INPUT - len, in)) > 0)
        len += n;
    if (len == DECODE_MAX_INPUT) {
        fprintf(err, "tracebridge decode: more than %u bytes of input\n", DECODE_MAX_INPUT);
        tb_free(buf);
        return 2;
    }
    status = tb_decode(buf, len, &opts, out, err);
    tb_free(buf);
    return status;
}
