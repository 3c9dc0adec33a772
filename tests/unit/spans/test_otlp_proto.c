/* SPDX-License-Identifier: MIT
 * Unit tests for spans/otlp_proto.c. Every encoded request is decoded by a
 * real protobuf implementation, Debian's `protoc --decode`, against the
 * published opentelemetry-proto schema in tests/proto, and the test asserts on
 * protoc's text output; a few byte sequences are also checked against
 * hand-computed encodings. protoc rejects a `string` field holding invalid
 * UTF-8, so a clean decode also proves the U+FFFD repair.
 */
#define _GNU_SOURCE /* memmem */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb_test.h"

#include "common/tb.h"
#include "propagators/context.h"
#include "spans/buf.h"
#include "spans/encode.h"
#include "spans/span.h"

#define PROTO_FILE "opentelemetry/proto/collector/trace/v1/trace_service.proto"
#define PROTO_TYPE "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"

/* --- protoc ----------------------------------------------------------------- */

static int has_proto_dir(const char *dir)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof(path), "%s/tests/proto/%s", dir, PROTO_FILE) >= (int)sizeof(path))
        return 0;
    return access(path, R_OK) == 0;
}

/* Walks up from `dir` (modified in place) to a directory holding tests/proto. */
static int walk_up_to_root(char *dir)
{
    for (;;) {
        char *slash;

        if (has_proto_dir(dir))
            return 1;
        slash = strrchr(dir, '/');
        if (slash == NULL || slash == dir)
            return 0;
        *slash = '\0';
    }
}

/* The repository root: $TB_SRCDIR, else up from the cwd, else up from this
 * binary (build/<cfg>/tests/unit/spans/ lies inside the repository). */
static const char *repo_root(void)
{
    static char root[PATH_MAX];
    const char *env = getenv("TB_SRCDIR");
    ssize_t n;

    if (root[0] != '\0')
        return root;
    if (env != NULL && has_proto_dir(env)) {
        snprintf(root, sizeof(root), "%s", env);
        return root;
    }
    if (getcwd(root, sizeof(root)) != NULL && walk_up_to_root(root))
        return root;
    n = readlink("/proc/self/exe", root, sizeof(root) - 1);
    if (n > 0) {
        root[n] = '\0';
        if (walk_up_to_root(root))
            return root;
    }
    fail_msg("no tests/proto found: run from the repository or set TB_SRCDIR");
    return NULL;
}

/*
 * Runs protoc --decode on `data[0..len)` and returns its text output
 * (malloc'd, NUL-terminated; free it). Fails the test unless protoc exits 0:
 * a malformed message or a string with invalid UTF-8 makes it exit 1.
 */
static char *protoc_decode(const char *data, size_t len)
{
    char in_path[] = "/tmp/tb_otlp_proto_XXXXXX", cmd[PATH_MAX * 2 + 256];
    const char *root = repo_root();
    size_t cap = 4096, out_len = 0, n;
    char *out = malloc(cap);
    int fd = mkstemp(in_path), status;
    FILE *p;

    assert_non_null(out);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    assert_null(strchr(root, '\''));
    snprintf(cmd, sizeof(cmd), "cd '%s' && protoc --decode=%s -I tests/proto %s <%s 2>&1", root,
             PROTO_TYPE, PROTO_FILE, in_path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((n = fread(out + out_len, 1, cap - out_len - 1, p)) > 0) {
        out_len += n;
        if (cap - out_len - 1 == 0) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    out[out_len] = '\0';
    status = pclose(p);
    unlink(in_path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_error("protoc failed (status %d):\n%s\n", status, out);
        free(out);
        fail();
    }
    return out;
}

static char *encode_decode(const struct tb_resource *res, const struct tb_span *const *spans,
                           size_t num, struct tb_buf *out)
{
    assert_int_equal(tb_encode_otlp_proto(res, spans, num, out), TB_OK);
    return protoc_decode(out->data, out->len);
}

static size_t count_substr(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Reads the varint at `*p`, failing unless it is minimal (no trailing 0x80
 * groups: what a canonical protobuf writer emits). */
static uint64_t read_canonical_varint(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    unsigned shift = 0;
    const uint8_t *start = *p;

    for (;;) {
        assert_true(*p < end && shift < 64);
        v |= (uint64_t)(**p & 0x7f) << shift;
        shift += 7;
        if ((*(*p)++ & 0x80) == 0)
            break;
    }
    assert_true(*p - start == 1 || (*p)[-1] != 0);
    return v;
}

/* The two batch-wide lengths (ResourceSpans, ScopeSpans) are minimal varints
 * and each message ends exactly at the end of the request. */
static void assert_canonical_lengths(const struct tb_buf *buf)
{
    const uint8_t *p = (const uint8_t *)buf->data, *end = p + buf->len;
    uint64_t n;

    assert_int_equal(*p++, 0x0a); /* resource_spans */
    n = read_canonical_varint(&p, end);
    assert_int_equal(n, end - p);
    assert_int_equal(*p++, 0x0a); /* resource */
    n = read_canonical_varint(&p, end);
    p += n;
    assert_int_equal(*p++, 0x12); /* scope_spans */
    n = read_canonical_varint(&p, end);
    assert_int_equal(n, end - p);
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (strstr((hay), (needle)) == NULL) {                                                     \
            print_error("missing:\n%s\nin:\n%s\n", (needle), (hay));                               \
            fail();                                                                                \
        }                                                                                          \
    } while (0)
#define assert_not_contains(hay, needle)                                                           \
    do {                                                                                           \
        if (strstr((hay), (needle)) != NULL) {                                                     \
            print_error("unexpected:\n%s\nin:\n%s\n", (needle), (hay));                            \
            fail();                                                                                \
        }                                                                                          \
    } while (0)
/* `bytes` (a literal, may hold NULs) occurs in the encoded output. */
#define assert_has_bytes(buf, bytes)                                                               \
    do {                                                                                           \
        if (memmem((buf)->data, (buf)->len, (bytes), sizeof(bytes) - 1) == NULL) {                 \
            tb_test_print_bytes("missing bytes: ", (bytes), sizeof(bytes) - 1);                    \
            tb_test_print_bytes("in: ", (buf)->data, (buf)->len);                                  \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* --- span builders ------------------------------------------------------------ */

#define SET_STR(sp, f, str)                                                                        \
    do {                                                                                           \
        size_t n_ = sizeof(str) - 1;                                                               \
        assert_true(n_ <= sizeof((sp)->f));                                                        \
        memcpy((sp)->f, (str), n_);                                                                \
        (sp)->f##_len = (uint16_t)n_;                                                              \
    } while (0)

static const uint8_t trace_id[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                     0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
static const uint8_t span_id[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
static const uint8_t parent_id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
/* protoc prints bytes C-escaped: printable ASCII as is, the rest in octal. */
#define TRACE_ID_TEXT "K\\371/5w\\263M\\246\\243\\316\\222\\235\\016\\016G6"
#define SPAN_ID_TEXT "\\000\\360g\\252\\013\\251\\002\\267"
#define PARENT_ID_TEXT "\\001\\002\\003\\004\\005\\006\\007\\010"

static const struct tb_resource_attr resource_attrs[] = {
    {"service.name", "checkout"},
    {"deployment.environment.name", "prod"},
};
static const struct tb_resource resource = {resource_attrs, TB_ARRAY_SIZE(resource_attrs),
                                            "checkout", NULL};

/* An inbound request that arrived with W3C context and was re-injected in
 * three formats, with every attribute set. */
static void server_span(struct tb_span *s)
{
    memset(s, 0, sizeof(*s));
    memcpy(s->trace_id, trace_id, 16);
    memcpy(s->span_id, span_id, 8);
    memcpy(s->parent_span_id, parent_id, 8);
    s->w3c_flags = TB_W3C_FLAG_SAMPLED;
    s->sampled = true;
    s->kind = TB_SPAN_KIND_SERVER;
    s->start_ns = UINT64_C(1700000000123456789);
    s->end_ns = UINT64_C(1700000000125456789);
    SET_STR(s, name, "GET");
    SET_STR(s, tracestate, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    SET_STR(s, method, "GET");
    SET_STR(s, path, "/api/orders");
    SET_STR(s, server_address, "shop.example.com");
    s->server_port = 8080;
    SET_STR(s, client_address, "10.0.0.7");
    s->client_port = 51234;
    SET_STR(s, peer_address, "127.0.0.1");
    s->peer_port = 9000;
    SET_STR(s, user_agent, "curl/8.5.0");
    s->http_version_major = 1;
    s->http_version_minor = 1;
    s->status_code = 200;
    s->request_body_size = 0;
    s->response_body_size = 1234;
    s->extracted_format = TB_FORMAT_TRACECONTEXT;
    s->injected_formats = TB_FORMAT_BIT(TB_FORMAT_TRACECONTEXT) | TB_FORMAT_BIT(TB_FORMAT_B3MULTI) |
                          TB_FORMAT_BIT(TB_FORMAT_SW8);
}

/* A root outbound request that failed at the proxy: no context came in. */
static void client_error_span(struct tb_span *s)
{
    memset(s, 0, sizeof(*s));
    memcpy(s->trace_id, trace_id, 16);
    memcpy(s->span_id, span_id, 8);
    s->kind = TB_SPAN_KIND_CLIENT;
    s->start_ns = 1000;
    s->end_ns = 2000;
    SET_STR(s, name, "POST");
    SET_STR(s, method, "POST");
    SET_STR(s, path, "/pay");
    SET_STR(s, peer_address, "10.1.2.3");
    s->peer_port = 443;
    s->http_version_major = 1;
    s->http_version_minor = 0;
    s->status_code = 502;
    s->is_error = true;
    s->proxy_error = true;
    SET_STR(s, error_type, "connection_refused");
    s->request_body_size = 17;
    s->extracted_format = -1;
}

#define ATTR(indent, key, value_line)                                                              \
    indent "attributes {\n" indent "  key: \"" key "\"\n" indent "  value {\n" indent              \
           "    " value_line "\n" indent "  }\n" indent "}\n"
#define SPAN_ATTR_STR(key, v) ATTR("      ", key, "string_value: \"" v "\"")
#define SPAN_ATTR_INT(key, v) ATTR("      ", key, "int_value: " v)

/* --- tests ------------------------------------------------------------------ */

/* clang-format off */
/* server_span() with one b3multi link, as protoc prints it. */
static const char server_span_text[] =
    "resource_spans {\n"
    "  resource {\n"
    ATTR("    ", "service.name", "string_value: \"checkout\"")
    ATTR("    ", "deployment.environment.name", "string_value: \"prod\"")
    "  }\n"
    "  scope_spans {\n"
    "    scope {\n"
    "      name: \"tracebridge\"\n"
    "      version: \"" TB_VERSION "\"\n"
    "    }\n"
    "    spans {\n"
    "      trace_id: \"" TRACE_ID_TEXT "\"\n"
    "      span_id: \"" SPAN_ID_TEXT "\"\n"
    "      trace_state: \"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\"\n"
    "      parent_span_id: \"" PARENT_ID_TEXT "\"\n"
    "      name: \"GET\"\n"
    "      kind: SPAN_KIND_SERVER\n"
    "      start_time_unix_nano: 1700000000123456789\n"
    "      end_time_unix_nano: 1700000000125456789\n"
    SPAN_ATTR_STR("http.request.method", "GET")
    SPAN_ATTR_STR("url.path", "/api/orders")
    SPAN_ATTR_STR("url.scheme", "http")
    SPAN_ATTR_STR("server.address", "shop.example.com")
    SPAN_ATTR_INT("server.port", "8080")
    SPAN_ATTR_STR("client.address", "10.0.0.7")
    SPAN_ATTR_INT("client.port", "51234")
    SPAN_ATTR_STR("network.peer.address", "127.0.0.1")
    SPAN_ATTR_INT("network.peer.port", "9000")
    SPAN_ATTR_INT("http.response.status_code", "200")
    SPAN_ATTR_STR("user_agent.original", "curl/8.5.0")
    SPAN_ATTR_STR("network.protocol.version", "1.1")
    SPAN_ATTR_INT("http.request.body.size", "0")
    SPAN_ATTR_INT("http.response.body.size", "1234")
    SPAN_ATTR_STR("tracebridge.extracted_format", "tracecontext")
    "      attributes {\n"
    "        key: \"tracebridge.injected_formats\"\n"
    "        value {\n"
    "          array_value {\n"
    "            values {\n"
    "              string_value: \"tracecontext\"\n"
    "            }\n"
    "            values {\n"
    "              string_value: \"b3multi\"\n"
    "            }\n"
    "            values {\n"
    "              string_value: \"sw8\"\n"
    "            }\n"
    "          }\n"
    "        }\n"
    "      }\n"
    "      links {\n"
    "        trace_id: \"\\240\\241\\242\\243\\244\\245\\246\\247"
                      "\\250\\251\\252\\253\\254\\255\\256\\257\"\n"
    "        span_id: \"\\260\\261\\262\\263\\264\\265\\266\\267\"\n"
    "        attributes {\n"
    "          key: \"tracebridge.link.format\"\n"
    "          value {\n"
    "            string_value: \"b3multi\"\n"
    "          }\n"
    "        }\n"
    "      }\n"
    /* SAMPLED | HAS_IS_REMOTE | IS_REMOTE = 0x301 */
    "      flags: 769\n"
    "    }\n"
    "  }\n"
    "}\n";
/* clang-format on */

static void test_encode__server_span_decodes_with_every_attribute(void **state)
{
    struct tb_buf out = {0};
    struct tb_span span;
    const struct tb_span *spans[] = {&span};
    char *text;

    (void)state;
    server_span(&span);
    span.num_links = 1;
    for (int i = 0; i < 16; i++)
        span.links[0].trace_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 8; i++)
        span.links[0].span_id[i] = (uint8_t)(0xb0 + i);
    span.links[0].format = TB_FORMAT_B3MULTI;

    text = encode_decode(&resource, spans, 1, &out);
    assert_string_equal(text, server_span_text);
    free(text);
    tb_buf_free(&out);
}

/* Hand-computed encodings of a few fields inside the same span. */
static void test_encode__field_bytes(void **state)
{
    struct tb_buf out = {0};
    struct tb_span span;
    const struct tb_span *spans[] = {&span};

    (void)state;
    server_span(&span);
    span.num_links = 1;
    memset(span.links[0].trace_id, 0x11, 16);
    memset(span.links[0].span_id, 0x22, 8);
    span.links[0].format = TB_FORMAT_B3MULTI;
    assert_int_equal(tb_encode_otlp_proto(&resource, spans, 1, &out), TB_OK);

    /* Span.attributes (9, LEN) = KeyValue{key = "http.request.method",
     * value = AnyValue{string_value = "GET"}}: 2+19 + 2+5 = 28 bytes. */
    assert_has_bytes(&out, "\x4a\x1c\x0a\x13"
                           "http.request.method"
                           "\x12\x05\x0a\x03"
                           "GET");
    /* int_value (3, VARINT) 200 = C8 01: 2+25 + 2+3 = 32 bytes. */
    assert_has_bytes(&out, "\x4a\x20\x0a\x19"
                           "http.response.status_code"
                           "\x12\x03\x18\xc8\x01");
    /* kind (6, VARINT) 2, then the fixed64 times (7, 8), little-endian. */
    assert_has_bytes(&out, "\x30\x02"
                           "\x39\x15\xcd\x85\x3d\xfe\x9c\x97\x17"
                           "\x41\x95\x51\xa4\x3d\xfe\x9c\x97\x17");
    /* Span.links (13, LEN): ids, then attributes (4) = KeyValue{
     * "tracebridge.link.format": "b3multi"} (2+23 + 2+9 = 36); 18+10+2+36 = 66. */
    assert_has_bytes(&out, "\x6a\x42\x0a\x10\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11"
                           "\x11\x11\x11\x11\x12\x08\x22\x22\x22\x22\x22\x22\x22\x22"
                           "\x22\x24\x0a\x17"
                           "tracebridge.link.format"
                           "\x12\x09\x0a\x07"
                           "b3multi");
    /* flags (16, I32) = 0x301 ends the span: tag 85 01, then 4 bytes LE. */
    assert_int_equal(memcmp(out.data + out.len - 6, "\x85\x01\x01\x03\x00\x00", 6), 0);
    tb_buf_free(&out);
}

/* An empty batch still names the resource and scope: compared byte for byte. */
static void test_encode__empty_batch_bytes(void **state)
{
    static const struct tb_resource_attr attrs[] = {{"k", "v"}};
    const struct tb_resource res = {attrs, 1, "v", NULL};
    const size_t v_len = sizeof(TB_VERSION) - 1;
    struct tb_buf out = {0}, want = {0};
    char *text;

    (void)state;
    assert_true(v_len < 100); /* keeps every length below one varint byte */
    /* scope body: 0A 0B "tracebridge" 12 <v> version = 13 + 2 + v */
    /* ScopeSpans body: 0A <scope> = 2 + 15 + v; Resource body: KeyValue 0A 08 ... = 10 */
    /* ResourceSpans body: 0A 0A <resource> (12) + 12 <scope_spans> (2 + 17 + v) */
    tb_buf_append(&want, "\x0a", 1);
    tb_buf_append_byte(&want, (uint8_t)(12 + 2 + 17 + v_len));
    tb_buf_append(&want, "\x0a\x0a\x0a\x08\x0a\x01k\x12\x03\x0a\x01v", 12);
    tb_buf_append(&want, "\x12", 1);
    tb_buf_append_byte(&want, (uint8_t)(17 + v_len));
    tb_buf_append(&want, "\x0a", 1);
    tb_buf_append_byte(&want, (uint8_t)(15 + v_len));
    tb_buf_append(&want, "\x0a\x0btracebridge\x12", 14);
    tb_buf_append_byte(&want, (uint8_t)v_len);
    tb_buf_append(&want, TB_VERSION, v_len);

    assert_int_equal(tb_encode_otlp_proto(&res, NULL, 0, &out), TB_OK);
    if (out.len != want.len || memcmp(out.data, want.data, want.len) != 0) {
        tb_test_print_bytes("want: ", want.data, want.len);
        tb_test_print_bytes("got:  ", out.data, out.len);
        fail();
    }
    text = protoc_decode(out.data, out.len);
    assert_string_equal(
        text, "resource_spans {\n"
              "  resource {\n" ATTR("    ", "k",
                                    "string_value: \"v\"") "  }\n"
                                                           "  scope_spans {\n"
                                                           "    scope {\n"
                                                           "      name: \"tracebridge\"\n"
                                                           "      version: \"" TB_VERSION "\"\n"
                                                           "    }\n"
                                                           "  }\n"
                                                           "}\n");
    free(text);
    tb_buf_free(&out);
    tb_buf_free(&want);
}

/* A root span: no parent_span_id, no IS_REMOTE bit; an error status; the
 * optional attributes left out; no injected formats is an empty array. */
static void test_encode__root_client_error(void **state)
{
    struct tb_buf out = {0};
    struct tb_span span;
    const struct tb_span *spans[] = {&span};
    char *text;

    (void)state;
    client_error_span(&span);
    text = encode_decode(NULL, spans, 1, &out);
    assert_not_contains(text, "parent_span_id");
    assert_not_contains(text, "trace_state");
    assert_not_contains(text, "server.address");
    assert_not_contains(text, "server.port");
    assert_not_contains(text, "client.");
    assert_not_contains(text, "user_agent.original");
    assert_not_contains(text, "links");
    assert_contains(text, "      name: \"POST\"\n      kind: SPAN_KIND_CLIENT\n");
    assert_contains(text, "      start_time_unix_nano: 1000\n      end_time_unix_nano: 2000\n");
    assert_contains(text, SPAN_ATTR_STR("network.peer.address", "10.1.2.3")
                              SPAN_ATTR_INT("network.peer.port", "443")
                                  SPAN_ATTR_INT("http.response.status_code", "502"));
    assert_contains(text, SPAN_ATTR_STR("network.protocol.version", "1.0")
                              SPAN_ATTR_INT("http.request.body.size", "17")
                                  SPAN_ATTR_INT("http.response.body.size", "0")
                                      SPAN_ATTR_STR("tracebridge.extracted_format", "none"));
    assert_contains(text, "        key: \"tracebridge.injected_formats\"\n"
                          "        value {\n"
                          "          array_value {\n"
                          "          }\n");
    assert_contains(
        text, SPAN_ATTR_STR("error.type", "connection_refused") "      status {\n"
                                                                "        code: STATUS_CODE_ERROR\n"
                                                                "      }\n"
                                                                "      flags: 256\n");
    /* No resource attributes: an empty Resource. */
    assert_contains(text, "resource_spans {\n  resource {\n  }\n");

    /* error.type needs is_error; without it the status stays UNSET (omitted). */
    span.is_error = false;
    out.len = 0;
    free(text);
    text = encode_decode(NULL, spans, 1, &out);
    assert_not_contains(text, "error.type");
    assert_not_contains(text, "      status {");
    free(text);
    tb_buf_free(&out);
}

/* Raw bytes in the record come out as well-formed UTF-8 (protoc would
 * refuse to decode anything else): one U+FFFD per maximal subpart. */
static void test_encode__invalid_utf8_replaced(void **state)
{
    static const struct tb_resource_attr attrs[] = {{"host.\xffname", "caf\xc3\xa9\xe2\x82"}};
    const struct tb_resource res = {attrs, 1, NULL, NULL};
    struct tb_buf out = {0};
    struct tb_span span;
    const struct tb_span *spans[] = {&span};
    char *text;

    (void)state;
    server_span(&span);
    SET_STR(&span, path, "/a\xff/\xc0\xaf/\xed\xa0\x80/\xe2\x82");
    SET_STR(&span, user_agent, "bot\x01\x7f\xf0\x9f\x98\x80");
    SET_STR(&span, name, "\x80GET");
    SET_STR(&span, tracestate, "k=\xf4\x90\x80\x80");
    text = encode_decode(&res, spans, 1, &out);
    /* protoc prints non-ASCII bytes in octal: EF BF BD = \357\277\275. */
#define FFFD "\\357\\277\\275"
    assert_contains(text, "key: \"host." FFFD "name\"\n");
    assert_contains(text, "string_value: \"caf\\303\\251" FFFD "\"\n");
    assert_contains(text,
                    "string_value: \"/a" FFFD "/" FFFD FFFD "/" FFFD FFFD FFFD "/" FFFD "\"\n");
    /* Control bytes are valid UTF-8: kept (protoc escapes them for display). */
    assert_contains(text, "string_value: \"bot\\001\\177\\360\\237\\230\\200\"\n");
    assert_contains(text, "      name: \"" FFFD "GET\"\n");
    assert_contains(text, "      trace_state: \"k=" FFFD FFFD FFFD FFFD "\"\n");
#undef FFFD
    free(text);
    tb_buf_free(&out);
}

/* The worst case: every byte of every string is invalid, so each triples. */
static void test_encode__all_invalid_bytes_fit(void **state)
{
    struct tb_buf out = {0};
    struct tb_span *span = calloc(10, sizeof(*span));
    const struct tb_span *spans[10];
    char *text;

    (void)state;
    assert_non_null(span);
    for (int i = 0; i < 10; i++) {
        server_span(&span[i]);
#define FILL(f)                                                                                    \
    do {                                                                                           \
        memset(span[i].f, 0xff, sizeof(span[i].f));                                                \
        span[i].f##_len = sizeof(span[i].f);                                                       \
    } while (0)
        FILL(name);
        FILL(tracestate);
        FILL(method);
        FILL(path);
        FILL(server_address);
        FILL(client_address);
        FILL(peer_address);
        FILL(user_agent);
        FILL(error_type);
#undef FILL
        span[i].is_error = true;
        span[i].num_links = TB_SPAN_MAX_LINKS;
        span[i].injected_formats = (1u << TB_FORMAT_NUM) - 1;
        spans[i] = &span[i];
    }
    /* 10 spans of ~4 KiB outgrow the 2-byte ScopeSpans length the encoder
     * guessed from 10 typical spans: the patch-up must widen it. */
    text = encode_decode(&resource, spans, 10, &out);
    assert_true(out.len > 16384);
    assert_canonical_lengths(&out);
    assert_int_equal(count_substr(text, "\n    spans {\n"), 10);
    assert_int_equal(count_substr(text, "code: STATUS_CODE_ERROR"), 10);
    free(text);
    free(span);
    tb_buf_free(&out);
}

/* Many spans, each findable by name, in order. */
static void test_encode__many_spans(void **state)
{
    static const size_t counts[] = {1000, 28, 2};
    struct tb_span *span = calloc(1000, sizeof(*span));
    const struct tb_span **spans = calloc(1000, sizeof(*spans));
    struct tb_buf out = {0};

    (void)state;
    assert_non_null(span);
    assert_non_null(spans);
    for (size_t i = 0; i < 1000; i++) {
        server_span(&span[i]);
        span[i].name_len = (uint16_t)snprintf(span[i].name, sizeof(span[i].name), "op-%zu", i);
        span[i].start_ns += i;
        spans[i] = &span[i];
    }
    /* 28 tiny spans: the guess (28 typical spans) takes a 3-byte length, the
     * real one 2 bytes, so the patch-up must shrink it. */
    for (size_t i = 0; i < 28; i++) {
        span[i].tracestate_len = span[i].user_agent_len = span[i].server_address_len = 0;
        span[i].injected_formats = 0;
    }
    for (size_t c = 0; c < TB_ARRAY_SIZE(counts); c++) {
        char *text, *prev = NULL, want[64];

        out.len = 0;
        text = encode_decode(&resource, spans, counts[c], &out);
        assert_canonical_lengths(&out);
        if (counts[c] == 28)
            assert_true(out.len < 16384); /* a 2-byte length, guessed 3 */
        assert_int_equal(count_substr(text, "\n    spans {\n"), counts[c]);
        assert_int_equal(count_substr(text, "\n  scope_spans {\n"), 1);
        assert_int_equal(count_substr(text, "resource_spans {\n"), 1);
        for (size_t i = 0; i < counts[c]; i++) {
            char *at;

            snprintf(want, sizeof(want), "      name: \"op-%zu\"\n", i);
            at = strstr(text, want);
            assert_non_null(at);
            assert_true(prev == NULL || at > prev);
            prev = at;
        }
        snprintf(want, sizeof(want), "start_time_unix_nano: %llu\n",
                 (unsigned long long)(UINT64_C(1700000000123456789) + counts[c] - 1));
        assert_contains(text, want);
        free(text);
    }
    free(spans);
    free(span);
    tb_buf_free(&out);
}

/* Every link slot, each naming the format that carried it. */
static void test_encode__links(void **state)
{
    static const enum tb_format formats[TB_SPAN_MAX_LINKS] = {TB_FORMAT_B3, TB_FORMAT_XRAY,
                                                              TB_FORMAT_DATADOG, TB_FORMAT_SW8};
    static const char *const names[TB_SPAN_MAX_LINKS] = {"b3", "xray", "datadog", "sw8"};
    struct tb_buf out = {0};
    struct tb_span span;
    const struct tb_span *spans[] = {&span};
    char *text, *at;

    (void)state;
    server_span(&span);
    span.num_links = TB_SPAN_MAX_LINKS;
    for (int l = 0; l < TB_SPAN_MAX_LINKS; l++) {
        memset(span.links[l].trace_id, 'a' + l, 16);
        memset(span.links[l].span_id, 'A' + l, 8);
        span.links[l].format = formats[l];
    }
    text = encode_decode(&resource, spans, 1, &out);
    assert_int_equal(count_substr(text, "      links {\n"), TB_SPAN_MAX_LINKS);
    at = text;
    for (int l = 0; l < TB_SPAN_MAX_LINKS; l++) {
        char want[512];

        snprintf(want, sizeof(want),
                 "      links {\n"
                 "        trace_id: \"%.16s\"\n"
                 "        span_id: \"%.8s\"\n"
                 "        attributes {\n"
                 "          key: \"tracebridge.link.format\"\n"
                 "          value {\n"
                 "            string_value: \"%s\"\n"
                 "          }\n"
                 "        }\n"
                 "      }\n",
                 (const char *)span.links[l].trace_id, (const char *)span.links[l].span_id,
                 names[l]);
        at = strstr(at, want);
        if (at == NULL) {
            print_error("link %d missing:\n%s\nin:\n%s\n", l, want, text);
            fail();
        }
    }
    free(text);
    tb_buf_free(&out);
}

/* Degradation level 2: the essential attributes only (those of
 * tb_span_attrs_fill for a reduced span), no links, lengths still exact. */
static void test_encode__reduced_span(void **state)
{
    static const char *const kept[] = {"http.request.method", "url.path",
                                       "url.scheme",          "server.address",
                                       "server.port",         "http.response.status_code"};
    static const char *const cut[] = {"client.",   "network.",     "user_agent.",
                                      "body.size", "tracebridge.", "links {"};
    struct tb_buf out = {0};
    struct tb_span span;
    const struct tb_span *spans[] = {&span};
    char *text;

    (void)state;
    server_span(&span);
    span.num_links = 1;
    memset(span.links[0].trace_id, 'a', 16);
    memset(span.links[0].span_id, 'b', 8);
    span.links[0].format = TB_FORMAT_B3;
    span.reduced = true;
    text = encode_decode(&resource, spans, 1, &out);
    assert_canonical_lengths(&out);
    assert_int_equal(count_substr(text, "      attributes {\n"), TB_ARRAY_SIZE(kept));
    for (size_t i = 0; i < TB_ARRAY_SIZE(kept); i++) {
        char want[96];

        snprintf(want, sizeof(want), "key: \"%s\"", kept[i]);
        assert_int_equal(count_substr(text, want), 1);
    }
    for (size_t i = 0; i < TB_ARRAY_SIZE(cut); i++) {
        if (strstr(text, cut[i]) != NULL) {
            print_error("a reduced span has \"%s\":\n%s\n", cut[i], text);
            fail();
        }
    }
    assert_non_null(strstr(text, "trace_state: \"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\""));
    free(text);
    tb_buf_free(&out);

    /* An error keeps error.type. */
    client_error_span(&span);
    span.reduced = true;
    text = encode_decode(&resource, spans, 1, &out);
    assert_int_equal(count_substr(text, "key: \"error.type\""), 1);
    assert_null(strstr(text, "tracebridge."));
    free(text);
    tb_buf_free(&out);
}

/* The encoder appends: bytes already in `out` stay, the request follows. */
static void test_encode__appends_to_buffer(void **state)
{
    struct tb_buf out = {0}, alone = {0};
    struct tb_span span;
    const struct tb_span *spans[] = {&span};

    (void)state;
    server_span(&span);
    tb_buf_append(&out, "prefix", 6);
    assert_int_equal(tb_encode_otlp_proto(&resource, spans, 1, &out), TB_OK);
    assert_int_equal(tb_encode_otlp_proto(&resource, spans, 1, &alone), TB_OK);
    assert_int_equal(out.len, 6 + alone.len);
    assert_memory_equal(out.data, "prefix", 6);
    assert_memory_equal(out.data + 6, alone.data, alone.len);
    tb_buf_free(&out);
    tb_buf_free(&alone);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode__server_span_decodes_with_every_attribute),
        cmocka_unit_test(test_encode__field_bytes),
        cmocka_unit_test(test_encode__empty_batch_bytes),
        cmocka_unit_test(test_encode__root_client_error),
        cmocka_unit_test(test_encode__invalid_utf8_replaced),
        cmocka_unit_test(test_encode__all_invalid_bytes_fit),
        cmocka_unit_test(test_encode__many_spans),
        cmocka_unit_test(test_encode__links),
        cmocka_unit_test(test_encode__reduced_span),
        cmocka_unit_test(test_encode__appends_to_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
