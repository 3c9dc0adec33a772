/* SPDX-License-Identifier: MIT
 * Unit tests for proxy/access_log.c: the exact JSON line of a fixed record
 * (the contract of docs/access-log.md), a root and a request the proxy
 * answered itself, templates (every variable, `$$`, `${}`, compile errors),
 * escaping of quotes, control bytes and UTF-8 in both modes, time and
 * duration formatting, the record filled from a hop, and the writer: one
 * write per line, buffering, the flush timer on a real event base, a failing
 * target (/dev/full), and the startup check.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "spans/json_check.h"

#include "common/reason.h"
#include "parsers/http1.h"
#include "propagators/policy.h"
#include "proxy/access_log.h"
#include "proxy/config.h"
#include "proxy/hop.h"

#define T "4bf92f3577b34da6a3ce929d0e0e4736"
#define P "00f067aa0ba902b7"
#define H "53ce929d0e0e4736"
#define START_NS 1700000000123456789ull /* 2023-11-14T22:13:20.123456789Z */

static void hex_to(const char *hex, uint8_t *out)
{
    for (size_t i = 0; hex[2 * i] != '\0'; i++) {
        unsigned v;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static struct sockaddr_in fix_client;

static const struct sockaddr *client_v4(const char *ip, unsigned port)
{
    memset(&fix_client, 0, sizeof(fix_client));
    fix_client.sin_family = AF_INET;
    fix_client.sin_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET, ip, &fix_client.sin_addr), 1);
    return (const struct sockaddr *)&fix_client;
}

#define IOV(s) ((struct tb_iov){(s), strlen(s)})

/* A continued W3C trace, proxied with a 200. */
static void fix_record(struct tb_access_record *r)
{
    memset(r, 0, sizeof(*r));
    r->start_ns = START_NS;
    r->end_ns = START_NS + 12345678;           /* 12.345678 ms */
    r->upstream_start_ns = START_NS + 1001999; /* 11.343679 ms before the end */
    hex_to(T, r->trace_id);
    hex_to(H, r->span_id);
    hex_to(P, r->parent_id);
    r->sampled = true;
    r->extracted = TB_FORMAT_TRACECONTEXT;
    r->injected[0] = TB_FORMAT_TRACECONTEXT;
    r->injected[1] = TB_FORMAT_BAGGAGE;
    r->num_injected = 2;
    r->listener = IOV("main");
    r->route = IOV("default");
    r->client = client_v4("127.0.0.1", 54321);
    r->method = IOV("GET");
    r->path = IOV("/api/items?id=7");
    r->version_major = 1;
    r->version_minor = 1;
    r->status = 200;
    r->bytes_received = 0;
    r->bytes_sent = 5120;
}

static struct tb_buf line_of(const char *tmpl, const struct tb_access_record *r)
{
    char why[256] = "";
    struct tb_access_format *fmt = tb_access_format_new(tmpl, why, sizeof(why));
    struct tb_buf buf = {0};

    if (fmt == NULL)
        fail_msg("template '%s' refused: %s", tmpl, why);
    tb_access_format_line(fmt, r, &buf);
    tb_access_format_free(fmt);
    return buf;
}

#define assert_line(tmpl, rec, expected)                                                           \
    do {                                                                                           \
        struct tb_buf b_ = line_of((tmpl), (rec));                                                 \
        bool ok_ = json_buf_matches(&b_, (expected));                                              \
        tb_buf_free(&b_);                                                                          \
        if (!ok_)                                                                                  \
            _fail(__FILE__, __LINE__);                                                             \
    } while (0)

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */

static void test_tb_access_format_line__json_exact(void **state)
{
    struct tb_access_record r;
    struct tb_buf b;

    (void)state;
    fix_record(&r);
    assert_line(NULL, &r,
                "{\"time\":\"2023-11-14T22:13:20.123Z\","
                "\"trace_id\":\"" T "\","
                "\"span_id\":\"" H "\","
                "\"parent_id\":\"" P "\","
                "\"sampled\":true,"
                "\"extracted\":\"tracecontext\","
                "\"injected\":[\"tracecontext\",\"baggage\"],"
                "\"listener\":\"main\","
                "\"route\":\"default\","
                "\"client\":\"127.0.0.1:54321\","
                "\"method\":\"GET\","
                "\"path\":\"/api/items?id=7\","
                "\"protocol\":\"HTTP/1.1\","
                "\"status\":200,"
                "\"duration_ms\":12.345,"
                "\"upstream_duration_ms\":11.343,"
                "\"bytes_received\":0,"
                "\"bytes_sent\":5120,"
                "\"error\":\"\",\"upstream\":\"\"}\n");
    b = line_of(NULL, &r);
    assert_json_lines_valid(&b, 1);
    tb_buf_free(&b);
}

/* A request the proxy answered itself before the hop had ids (no trace),
 * the upstream never reached, HTTP/1.0, an IPv6 client. */
static void test_tb_access_format_line__json_proxy_answer_without_hop(void **state)
{
    struct tb_access_record r;
    struct sockaddr_in6 v6;

    (void)state;
    memset(&r, 0, sizeof(r));
    memset(&v6, 0, sizeof(v6));
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(8080);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr), 1);
    r.start_ns = 0;
    r.end_ns = 999; /* below a microsecond */
    r.extracted = -1;
    r.listener = IOV("edge");
    r.client = (const struct sockaddr *)&v6;
    r.method = IOV("POST");
    r.path = IOV("/");
    r.version_major = 1;
    r.status = 431;
    r.bytes_received = 3;
    r.bytes_sent = 52;
    r.error = "header_too_large";
    assert_line(NULL, &r,
                "{\"time\":\"1970-01-01T00:00:00.000Z\",\"trace_id\":\"\",\"span_id\":\"\","
                "\"parent_id\":\"\",\"sampled\":false,\"extracted\":\"\",\"injected\":[],"
                "\"listener\":\"edge\",\"route\":\"\",\"client\":\"[2001:db8::1]:8080\","
                "\"method\":\"POST\",\"path\":\"/\",\"protocol\":\"HTTP/1.0\",\"status\":431,"
                "\"duration_ms\":0.000,\"upstream_duration_ms\":null,\"bytes_received\":3,"
                "\"bytes_sent\":52,\"error\":\"header_too_large\",\"upstream\":\"\"}\n");
}

/* A new root: the parent is "", the trace and span ids are there. */
static void test_tb_access_format_line__json_root_has_empty_parent(void **state)
{
    struct tb_access_record r;
    struct tb_buf b;

    (void)state;
    fix_record(&r);
    memset(r.parent_id, 0, sizeof(r.parent_id));
    r.extracted = -1;
    r.sampled = false;
    b = line_of(NULL, &r);
    assert_true(json_buf_contains(&b, "\"trace_id\":\"" T "\",\"span_id\":\"" H "\","
                                      "\"parent_id\":\"\",\"sampled\":false,\"extracted\":\"\","));
    tb_buf_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Time and durations                                                        */

static void test_tb_access_format_line__time_and_durations(void **state)
{
    static const struct {
        uint64_t start, end, upstream;
        const char *expected;
    } cases[] = {
        {0, 0, 0, "1970-01-01T00:00:00.000Z 0.000 -"},
        /* milliseconds are cut, not rounded: still the same second */
        {1700000000999999999ull, 1700000001000000000ull, 1700000000999999999ull,
         "2023-11-14T22:13:20.999Z 0.000 0.000"},
        {951782400000000000ull, 951782400001000999ull, 951782400000000001ull,
         "2000-02-29T00:00:00.000Z 1.000 1.000"},
        /* a clock step back never gives a negative duration */
        {START_NS, START_NS - 5000000, START_NS + 1, "2023-11-14T22:13:20.123Z 0.000 0.000"},
        {START_NS, START_NS + 3723004005006ull, START_NS + 1000,
         "2023-11-14T22:13:20.123Z 3723004.005 3723004.004"},
    };
    struct tb_access_record r;
    char why[128];
    struct tb_access_format *fmt =
        tb_access_format_new("$time $duration_ms $upstream_duration_ms", why, sizeof(why));

    (void)state;
    assert_non_null(fmt);
    fix_record(&r);
    /* One format for every case: the cached second must follow the records. */
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        struct tb_buf b = {0};
        char expected[128];

        r.start_ns = cases[i].start;
        r.end_ns = cases[i].end;
        r.upstream_start_ns = cases[i].upstream;
        tb_access_format_line(fmt, &r, &b);
        snprintf(expected, sizeof(expected), "%s\n", cases[i].expected);
        if (!json_buf_matches(&b, expected))
            fail_msg("case %zu", i);
        tb_buf_free(&b);
    }
    tb_access_format_free(fmt);
}

/* ------------------------------------------------------------------------ */
/* Templates                                                                 */

static void test_tb_access_format_line__template_every_variable(void **state)
{
    struct tb_access_record r;

    (void)state;
    fix_record(&r);
    r.error = "upstream_timeout";
    assert_line("$time|$trace_id|$span_id|$parent_id|$sampled|$extracted|$injected|$listener|"
                "$route|$client|$method|$path|$protocol|$status|$duration_ms|"
                "$upstream_duration_ms|$bytes_received|$bytes_sent|$error",
                &r,
                "2023-11-14T22:13:20.123Z|" T "|" H "|" P "|true|tracecontext|tracecontext,baggage|"
                "main|default|127.0.0.1:54321|GET|/api/items?id=7|HTTP/1.1|200|12.345|11.343|0|"
                "5120|upstream_timeout\n");
}

static void test_tb_access_format_line__template_braces_dollars_and_missing(void **state)
{
    struct tb_access_record r;

    (void)state;
    fix_record(&r);
    r.upstream_start_ns = 0;
    r.num_injected = 0;
    r.extracted = -1;
    assert_line("${status}xx $$5 $$$method ${duration_ms}ms up=$upstream_duration_ms "
                "inj=[$injected] ext=[$extracted]\t\"$path\"",
                &r, "200xx $5 $GET 12.345ms up=- inj=[] ext=[]\t\"/api/items?id=7\"\n");
    assert_line("plain text", &r, "plain text\n");
    assert_line("$$", &r, "$\n");
}

static void test_tb_access_log_template_check__errors(void **state)
{
    static const struct {
        const char *tmpl;
        const char *why; /* a part of the reason */
    } cases[] = {
        {"$nope", "unknown variable '$nope'"},
        {"$status $Status", "unknown variable '$Status'"},
        {"${status}${upstreams}", "unknown variable '$upstreams'"},
        {"$status_code", "unknown variable '$status_code'"}, /* longest name wins, as nginx */
        {"cost $", "'$' at offset 5"},
        {"$ status", "'$' at offset 0"},
        {"$-", "'$' at offset 0"},
        {"${status", "'${' at offset 0"},
        {"x ${}", "'${' at offset 2"},
        {"${sta tus}", "'${' at offset 0"},
        {"a\nb", "control character 0x0a at offset 1"},
        {"$status\r", "control character 0x0d at offset 7"},
        {"\x7f", "control character 0x7f at offset 0"},
        {"", "empty"},
    };

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        char why[256] = "";

        if (tb_access_log_template_check(cases[i].tmpl, why, sizeof(why)) != -1)
            fail_msg("case %zu '%s' was accepted", i, cases[i].tmpl);
        if (strstr(why, cases[i].why) == NULL)
            fail_msg("case %zu: reason '%s' lacks '%s'", i, why, cases[i].why);
        assert_null(tb_access_format_new(cases[i].tmpl, NULL, 0));
    }
}

static void test_tb_access_log_template_check__valid(void **state)
{
    static const char *const ok[] = {
        "$time",          "${time}",        "$$",     "$$$status", "tab\tseparated\t$path",
        "$status$status", "${bytes_sent}B", "$path?", "ü $method", "$method-$path",
        "$error.",
    };
    char why[256];

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(ok); i++)
        if (tb_access_log_template_check(ok[i], why, sizeof(why)) != 0)
            fail_msg("'%s' refused: %s", ok[i], why);
}

/* ------------------------------------------------------------------------ */
/* Escaping: one request is one line, whatever its bytes                     */

static void test_tb_access_format_line__escaping(void **state)
{
    static const char path[] = "/a\"b\\c\nd\re\x01\x1f\x7f-\xc3\xa9-\xe2\x82\xac-\xff-\xc3";
    struct tb_access_record r;
    struct tb_buf b;

    (void)state;
    fix_record(&r);
    r.path = (struct tb_iov){path, sizeof(path) - 1};
    r.method = IOV("M\"X");
    /* JSON: quote and backslash escaped, controls as \u00XX, DEL kept (RFC
     * 8259 allows it), valid UTF-8 kept, each bad sequence one U+FFFD. */
    b = line_of(NULL, &r);
    assert_true(json_buf_contains(&b,
                                  "\"method\":\"M\\\"X\",\"path\":\"/a\\\"b\\\\c\\u000ad\\u000de"
                                  "\\u0001\\u001f\x7f-\xc3\xa9-\xe2\x82\xac-\xef\xbf\xbd-"
                                  "\xef\xbf\xbd\",\"protocol\""));
    assert_json_lines_valid(&b, 1);
    tb_buf_free(&b);
    /* A template escapes values the same way, so "$path" quoted is safe. */
    assert_line("\"$method\" \"$path\"", &r,
                "\"M\\\"X\" \"/a\\\"b\\\\c\\u000ad\\u000de\\u0001\\u001f\x7f-\xc3\xa9-"
                "\xe2\x82\xac-\xef\xbf\xbd-\xef\xbf\xbd\"\n");
    /* Names from the configuration are escaped too. */
    r.listener = IOV("in\"1");
    b = line_of("$listener", &r);
    assert_true(json_buf_matches(&b, "in\\\"1\n"));
    tb_buf_free(&b);
}

/* ------------------------------------------------------------------------ */
/* The record from the connection's state                                    */

static int read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, size - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
    return (int)n;
}

static int count_lines(const char *path)
{
    char buf[8192];
    int lines = 0;

    read_file(path, buf, sizeof(buf));
    for (char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    return lines;
}

struct writer_fx {
    char dir[64];
    char path[128];
    struct tb_config cfg;
};

static int writer_setup(void **state)
{
    struct writer_fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/tb-alog-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof(fx->path), "%s/access.log", fx->dir);
    tb_config_defaults(&fx->cfg);
    snprintf(fx->cfg.access_log, sizeof(fx->cfg.access_log), "%s", fx->path);
    fx->cfg.access_log_flush_ms = 1000;
    *state = fx;
    return 0;
}

static int writer_teardown(void **state)
{
    struct writer_fx *fx = *state;

    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static struct tb_access_log *open_log(struct writer_fx *fx, struct event_base *base)
{
    struct tb_access_log *log = NULL;
    char why[256] = "";

    if (tb_access_log_open(&log, base, &fx->cfg, 0, why, sizeof(why)) != TB_OK)
        fail_msg("open: %s", why);
    assert_non_null(log);
    return log;
}

static void test_tb_access_log_request__fills_from_hop(void **state)
{
    struct writer_fx *fx = *state;
    struct tb_access_log *log;
    struct tb_hop_state hop;
    struct tb_hop_outcome o;
    struct tb_http_msg req;
    struct tb_prop_policy policy;
    struct tb_listener_config listener;
    struct tb_route_config route;
    struct tb_iov bad;
    char buf[2048];

    assert_int_equal(tb_prop_policy_defaults(&policy, "b3multi,tracecontext", &bad), TB_OK);
    memset(&hop, 0, sizeof(hop));
    hex_to(T, hop.ext.ctx.trace_id);
    hex_to(P, hop.ext.ctx.span_id);
    hex_to(H, hop.hop.span_id);
    hop.ext.winner = TB_FORMAT_B3;
    hop.sampled = true;
    hop.policy = &policy;
    /* Written: the list, then a format refreshed in add mode (jaeger). */
    hop.injected = TB_FORMAT_BIT(TB_FORMAT_TRACECONTEXT) | TB_FORMAT_BIT(TB_FORMAT_B3MULTI) |
                   TB_FORMAT_BIT(TB_FORMAT_JAEGER);
    memset(&req, 0, sizeof(req));
    req.method = IOV("PUT");
    req.target = IOV("/x?y");
    req.version_major = 1;
    req.version_minor = 1;
    memset(&o, 0, sizeof(o));
    o.start_ns = START_NS;
    o.end_ns = START_NS + 2000000;
    o.upstream_start_ns = START_NS + 500000;
    o.upstream_reached = true;
    o.status = 504;
    o.proxy_error = &tb_reason_upstream_timeout;
    o.request_body_bytes = 7;
    o.response_body_bytes = 44;
    o.client = client_v4("10.1.2.3", 4000);
    memset(&listener, 0, sizeof(listener));
    memset(&route, 0, sizeof(route));
    snprintf(listener.name, sizeof(listener.name), "inbound");
    snprintf(route.name, sizeof(route.name), "api");

    log = open_log(fx, NULL);
    tb_access_log_request(log, &req, &hop, &o, &listener, &route);
    /* The upstream not reached: no upstream duration whatever was stamped;
     * no hop and no names: empty ids and names. */
    o.upstream_reached = false;
    o.proxy_error = NULL;
    o.status = 502;
    tb_access_log_request(log, &req, NULL, &o, NULL, NULL);
    tb_access_log_close(log);
    read_file(fx->path, buf, sizeof(buf));
    assert_string_equal(
        buf,
        "{\"time\":\"2023-11-14T22:13:20.123Z\",\"trace_id\":\"" T "\",\"span_id\":\"" H "\","
        "\"parent_id\":\"" P "\",\"sampled\":true,\"extracted\":\"b3\","
        "\"injected\":[\"b3multi\",\"tracecontext\",\"jaeger\"],\"listener\":\"inbound\","
        "\"route\":\"api\",\"client\":\"10.1.2.3:4000\",\"method\":\"PUT\",\"path\":\"/x?y\","
        "\"protocol\":\"HTTP/1.1\",\"status\":504,\"duration_ms\":2.000,"
        "\"upstream_duration_ms\":1.500,\"bytes_received\":7,\"bytes_sent\":44,"
        "\"error\":\"upstream_timeout\",\"upstream\":\"\"}\n"
        "{\"time\":\"2023-11-14T22:13:20.123Z\",\"trace_id\":\"\",\"span_id\":\"\","
        "\"parent_id\":\"\",\"sampled\":false,\"extracted\":\"\",\"injected\":[],"
        "\"listener\":\"\",\"route\":\"\",\"client\":\"10.1.2.3:4000\",\"method\":\"PUT\","
        "\"path\":\"/x?y\",\"protocol\":\"HTTP/1.1\",\"status\":502,\"duration_ms\":2.000,"
        "\"upstream_duration_ms\":null,\"bytes_received\":7,\"bytes_sent\":44,\"error\":\"\",\"upstream\":\"\"}\n");
}

/* ------------------------------------------------------------------------ */
/* The writer                                                                */

static void write_n(struct tb_access_log *log, unsigned n)
{
    struct tb_access_record r;

    fix_record(&r);
    for (unsigned i = 0; i < n; i++) {
        r.status = (int)(200 + i);
        tb_access_log_write(log, &r);
    }
}

static void test_tb_access_log_write__unbuffered_line_is_out_at_once(void **state)
{
    struct writer_fx *fx = *state;
    struct tb_access_log *log;
    struct tb_access_log_stats st;
    char buf[4096];
    struct stat sb;

    mode_t mask = umask(0);

    fx->cfg.access_log_buffer = 0;
    log = open_log(fx, NULL);
    umask(mask);
    assert_int_equal(stat(fx->path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0644);
    write_n(log, 1);
    read_file(fx->path, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"status\":200,"));
    assert_int_equal(count_lines(fx->path), 1);
    write_n(log, 2);
    assert_int_equal(count_lines(fx->path), 3);
    read_file(fx->path, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"status\":201,"));
    tb_access_log_get_stats(log, &st);
    assert_int_equal(st.lines, 3);
    assert_int_equal(st.write_errors, 0);
    tb_access_log_close(log);
}

static void test_tb_access_log_write__buffer_fills_then_writes(void **state)
{
    struct writer_fx *fx = *state;
    struct tb_access_log *log;
    struct tb_buf one = {0};
    struct tb_access_record r;
    char buf[16384];
    size_t line_len;
    int n;

    fix_record(&r);
    r.status = 200;
    one = line_of(NULL, &r);
    line_len = one.len;
    tb_buf_free(&one);
    /* Room for two lines and a half: the third line does not fit. */
    fx->cfg.access_log_buffer = line_len * 5 / 2;
    log = open_log(fx, NULL); /* no base: no timer */
    write_n(log, 2);
    assert_int_equal(read_file(fx->path, buf, sizeof(buf)), 0);
    write_n(log, 1); /* the two buffered lines go, the new one waits */
    assert_int_equal(read_file(fx->path, buf, sizeof(buf)), (int)(2 * line_len));
    tb_access_log_flush(log);
    assert_int_equal(read_file(fx->path, buf, sizeof(buf)), (int)(3 * line_len));
    write_n(log, 1);
    tb_access_log_close(log); /* close writes what is left */
    n = read_file(fx->path, buf, sizeof(buf));
    assert_int_equal(n, (int)(4 * line_len));
    {
        struct tb_buf all = {0};

        tb_buf_append(&all, buf, (size_t)n);
        assert_json_lines_valid(&all, 4);
        tb_buf_free(&all);
    }
}

/* A line longer than the whole buffer is written at once, alone. */
static void test_tb_access_log_write__line_longer_than_buffer(void **state)
{
    struct writer_fx *fx = *state;
    struct tb_access_log *log;
    struct tb_access_record r;
    static char longpath[9000];
    static char buf[32768];

    fx->cfg.access_log_buffer = 1024;
    log = open_log(fx, NULL);
    write_n(log, 1);
    assert_int_equal(read_file(fx->path, buf, sizeof(buf)), 0);
    fix_record(&r);
    memset(longpath, 'p', sizeof(longpath));
    r.path = (struct tb_iov){longpath, sizeof(longpath)};
    tb_access_log_write(log, &r);
    assert_true(read_file(fx->path, buf, sizeof(buf)) > 9000);
    assert_int_equal(strchr(strchr(buf, '\n') + 1, '\n')[1], '\0'); /* two whole lines */
    tb_access_log_close(log);
}

/* The flush timer writes buffered lines, and leaves no event behind. */
static void test_tb_access_log_write__flush_timer(void **state)
{
    struct writer_fx *fx = *state;
    struct event_base *base = event_base_new();
    struct tb_access_log *log;

    assert_non_null(base);
    fx->cfg.access_log_buffer = 1 << 20;
    fx->cfg.access_log_flush_ms = 20;
    log = open_log(fx, base);
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
    write_n(log, 3);
    assert_int_equal(count_lines(fx->path), 0);
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 1);
    /* 1: the loop ended because no event was left, the timer having run. */
    assert_int_equal(event_base_dispatch(base), 1);
    assert_int_equal(count_lines(fx->path), 3);
    write_n(log, 2); /* the timer is armed again by the next first line */
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 1);
    assert_int_equal(event_base_dispatch(base), 1);
    assert_int_equal(count_lines(fx->path), 5);
    write_n(log, 1);
    tb_access_log_close(log);
    assert_int_equal(count_lines(fx->path), 6);
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(base);
}

/* A full disk: counted, never fatal, the writer goes on. */
static void test_tb_access_log_write__failed_writes_are_counted(void **state)
{
    struct writer_fx *fx = *state;
    struct tb_access_log *log;
    struct tb_access_log_stats st;

    if (access("/dev/full", W_OK) != 0)
        skip();
    snprintf(fx->cfg.access_log, sizeof(fx->cfg.access_log), "/dev/full");
    fx->cfg.access_log_buffer = 0;
    log = open_log(fx, NULL);
    write_n(log, 3);
    tb_access_log_get_stats(log, &st);
    assert_int_equal(st.lines, 3);
    assert_int_equal(st.write_errors, 3);
    assert_int_equal(st.lines_dropped, 3);
    tb_access_log_close(log);

    fx->cfg.access_log_buffer = 1 << 16;
    log = open_log(fx, NULL);
    write_n(log, 4);
    tb_access_log_flush(log);
    tb_access_log_get_stats(log, &st);
    assert_int_equal(st.write_errors, 1); /* one write for the four lines */
    assert_int_equal(st.lines_dropped, 4);
    tb_access_log_close(log);
}

static void test_tb_access_log_check_config__cases(void **state)
{
    struct writer_fx *fx = *state;
    char why[256];

    assert_int_equal(tb_access_log_check_config(&fx->cfg, why, sizeof(why)), TB_OK);
    assert_int_equal(access(fx->path, F_OK), 0); /* created at startup */
    fx->cfg.access_log_format = TB_ACCESS_LOG_TEMPLATE;
    snprintf(fx->cfg.access_log_template, sizeof(fx->cfg.access_log_template), "$status $nope");
    assert_int_equal(tb_access_log_check_config(&fx->cfg, why, sizeof(why)), TB_EINVAL);
    assert_non_null(strstr(why, "'$nope'"));
    snprintf(fx->cfg.access_log_template, sizeof(fx->cfg.access_log_template), "$status");
    snprintf(fx->cfg.access_log, sizeof(fx->cfg.access_log), "%s/no/such/dir/x.log", fx->dir);
    assert_int_equal(tb_access_log_check_config(&fx->cfg, why, sizeof(why)), TB_EIO);
    assert_non_null(strstr(why, "/no/such/dir/x.log"));
    snprintf(fx->cfg.access_log, sizeof(fx->cfg.access_log), "off");
    assert_int_equal(tb_access_log_check_config(&fx->cfg, why, sizeof(why)), TB_OK);
    assert_false(tb_access_log_enabled(&fx->cfg));
    fx->cfg.access_log[0] = '\0';
    assert_false(tb_access_log_enabled(&fx->cfg));
}

static void test_tb_access_log_open__off_gives_null(void **state)
{
    struct writer_fx *fx = *state;
    struct tb_access_log *log = (struct tb_access_log *)fx;
    char why[64];

    snprintf(fx->cfg.access_log, sizeof(fx->cfg.access_log), "off");
    assert_int_equal(tb_access_log_open(&log, NULL, &fx->cfg, 0, why, sizeof(why)), TB_OK);
    assert_null(log);
    tb_access_log_close(NULL);
}

/* Reopen: buffered lines go to the old file, new lines to the new one in
 * the new format; a failed reopen keeps the old writer. */
static void test_tb_access_log_reopen__switches_between_lines(void **state)
{
    struct writer_fx *fx = *state;
    struct tb_access_log *log;
    char rotated[160], buf[4096], why[256];

    fx->cfg.access_log_buffer = 1 << 16;
    log = open_log(fx, NULL);
    write_n(log, 2);
    snprintf(rotated, sizeof(rotated), "%s.1", fx->path);
    assert_int_equal(rename(fx->path, rotated), 0); /* as logrotate does */
    fx->cfg.access_log_format = TB_ACCESS_LOG_TEMPLATE;
    snprintf(fx->cfg.access_log_template, sizeof(fx->cfg.access_log_template), "s=$status");
    assert_int_equal(tb_access_log_reopen(&log, NULL, &fx->cfg, 0, why, sizeof(why)), TB_OK);
    write_n(log, 1);
    snprintf(fx->cfg.access_log_template, sizeof(fx->cfg.access_log_template), "$bad");
    assert_int_equal(tb_access_log_reopen(&log, NULL, &fx->cfg, 0, why, sizeof(why)), TB_EINVAL);
    assert_non_null(log);
    write_n(log, 1);
    tb_access_log_close(log);
    assert_int_equal(count_lines(rotated), 2);
    read_file(fx->path, buf, sizeof(buf));
    assert_string_equal(buf, "s=200\ns=200\n");
    unlink(rotated);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_access_format_line__json_exact),
        cmocka_unit_test(test_tb_access_format_line__json_proxy_answer_without_hop),
        cmocka_unit_test(test_tb_access_format_line__json_root_has_empty_parent),
        cmocka_unit_test(test_tb_access_format_line__time_and_durations),
        cmocka_unit_test(test_tb_access_format_line__template_every_variable),
        cmocka_unit_test(test_tb_access_format_line__template_braces_dollars_and_missing),
        cmocka_unit_test(test_tb_access_log_template_check__errors),
        cmocka_unit_test(test_tb_access_log_template_check__valid),
        cmocka_unit_test(test_tb_access_format_line__escaping),
        cmocka_unit_test_setup_teardown(test_tb_access_log_request__fills_from_hop, writer_setup,
                                        writer_teardown),
        cmocka_unit_test_setup_teardown(test_tb_access_log_write__unbuffered_line_is_out_at_once,
                                        writer_setup, writer_teardown),
        cmocka_unit_test_setup_teardown(test_tb_access_log_write__buffer_fills_then_writes,
                                        writer_setup, writer_teardown),
        cmocka_unit_test_setup_teardown(test_tb_access_log_write__line_longer_than_buffer,
                                        writer_setup, writer_teardown),
        cmocka_unit_test_setup_teardown(test_tb_access_log_write__flush_timer, writer_setup,
                                        writer_teardown),
        cmocka_unit_test_setup_teardown(test_tb_access_log_write__failed_writes_are_counted,
                                        writer_setup, writer_teardown),
        cmocka_unit_test_setup_teardown(test_tb_access_log_check_config__cases, writer_setup,
                                        writer_teardown),
        cmocka_unit_test_setup_teardown(test_tb_access_log_open__off_gives_null, writer_setup,
                                        writer_teardown),
        cmocka_unit_test_setup_teardown(test_tb_access_log_reopen__switches_between_lines,
                                        writer_setup, writer_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
