/* SPDX-License-Identifier: MIT
 * Unit tests for parsers/http1.c. Heads and bodies are table-driven and always
 * parsed from guarded copies, so reading one byte past the input faults. Each
 * table walker reports every mismatching row before failing, so one broken
 * rule does not hide the others.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"
#include "common/reason.h"
#include "parsers/headers.h"
#include "parsers/http1.h"

/* clang-format off */
#define IN(s) {(s), sizeof(s) - 1}
/* clang-format on */
#define HDRS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_HDRS ((const char *const[]){NULL})

/* 1.1 is what an origin-form request head normally looks like. */
#define GET11 "GET / HTTP/1.1\r\nHost: a\r\n"

static const char *reason_code(const struct tb_reason *r)
{
    return r != NULL ? r->code : "(none)";
}

static void case_error(const char *table, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void case_error(const char *table, const char *name, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    print_error("%s/%s: %s\n", table, name, msg);
}

/* ------------------------------------------------------------------------ */
/* tb_http1_find_head_end                                                   */

struct find_case {
    const char *name;
    struct tb_iov in;
    size_t from;
    size_t expected; /* 0: incomplete */
};

static void test_tb_http1_find_head_end__table(void **state)
{
    static const struct find_case cases[] = {
        {"crlf", IN("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0, 27},
        {"crlf_then_body", IN("POST / HTTP/1.1\r\nHost: a\r\n\r\nhello"), 0, 28},
        {"bare_lf", IN("GET / HTTP/1.1\nHost: a\n\n"), 0, 24},
        {"lf_then_crlf", IN("GET / HTTP/1.1\nHost: a\n\r\n"), 0, 25},
        {"crlf_then_lf", IN("GET / HTTP/1.1\r\nHost: a\r\n\n"), 0, 26},
        {"start_line_only", IN("GET / HTTP/1.1\r\n\r\n"), 0, 18},
        {"incomplete_no_empty_line", IN("GET / HTTP/1.1\r\nHost: a\r\n"), 0, 0},
        {"incomplete_trailing_cr", IN("GET / HTTP/1.1\r\nHost: a\r\n\r"), 0, 0},
        {"incomplete_mid_line", IN("GET / HTTP/1.1\r\nHo"), 0, 0},
        {"cr_cr_lf_is_not_an_end", IN("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"), 0, 0},
        {"empty", IN(""), 0, 0},
        {"single_lf", IN("\n"), 0, 0},
        {"from_near_end", IN("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 24, 27},
        {"from_past_end_is_clamped", IN("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 1000, 0},
        {"first_of_two_heads", IN("A / HTTP/1.1\r\n\r\nB / HTTP/1.1\r\n\r\n"), 0, 16},
        {"from_after_first_head", IN("A / HTTP/1.1\r\n\r\nB / HTTP/1.1\r\n\r\n"), 16, 32},
    };
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        const struct find_case *c = &cases[i];
        char *buf = tb_test_guarded(c->in.base, c->in.len);
        size_t got = tb_http1_find_head_end(buf, c->in.len, c->from);

        if (got != c->expected) {
            case_error("find_head_end", c->name, "returned %zu, expected %zu", got, c->expected);
            failed = 1;
        }
        tb_test_guarded_free(buf, c->in.len);
    }
    assert_false(failed);
}

static void test_tb_http1_find_head_end__incremental_arrival(void **state)
{
    static const char head[] = "GET /p HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
    size_t n = sizeof(head) - 1;

    (void)state;
    /* Data arrives a byte at a time; the caller rescans from a little before
     * the previous end, as the contract describes. */
    for (size_t have = 1; have <= n; have++) {
        char *buf = tb_test_guarded(head, have);
        size_t from = have > 4 ? have - 4 : 0;
        size_t got = tb_http1_find_head_end(buf, have, from);

        assert_int_equal(got, have == n ? n : 0);
        tb_test_guarded_free(buf, have);
    }
}

/* ------------------------------------------------------------------------ */
/* tb_http1_parse_head                                                      */

struct head_case {
    const char *name;
    struct tb_iov in;              /* exactly one complete head */
    const struct tb_reason *error; /* NULL: TB_OK expected, else TB_EINVAL with this reason */
    unsigned parse_flags;          /* TB_HTTP1_F_* */
    /* Checked after TB_OK only; NULL or 0 means "not checked". */
    const char *method, *target, *authority;
    int status;
    const char *reason;
    int version; /* 10 for HTTP/1.0, 11 for HTTP/1.1 */
    uint32_t flags_set, flags_clear;
    uint64_t content_length; /* checked when flags_set holds TB_MSG_F_CONTENT_LENGTH */
    const char *const *headers;
};

static int check_msg(const char *table, const struct head_case *c, const struct tb_http_msg *msg)
{
    int ok = 1;

#define CHECK_IOV(field)                                                                           \
    do {                                                                                           \
        if (c->field != NULL && !tb_test_iov_eq(msg->field, c->field)) {                           \
            case_error(table, c->name, #field " mismatch");                                        \
            tb_test_print_bytes("  actual:   ", msg->field.base, msg->field.len);                  \
            tb_test_print_bytes("  expected: ", c->field, strlen(c->field));                       \
            ok = 0;                                                                                \
        }                                                                                          \
    } while (0)
    CHECK_IOV(method);
    CHECK_IOV(target);
    CHECK_IOV(authority);
    CHECK_IOV(reason);
#undef CHECK_IOV
    if (c->status != 0 && msg->status != c->status) {
        case_error(table, c->name, "status %d, expected %d", msg->status, c->status);
        ok = 0;
    }
    if (c->version != 0 &&
        (msg->version_major != c->version / 10 || msg->version_minor != c->version % 10)) {
        case_error(table, c->name, "version %u.%u, expected %d.%d", msg->version_major,
                   msg->version_minor, c->version / 10, c->version % 10);
        ok = 0;
    }
    if ((msg->flags & c->flags_set) != c->flags_set || (msg->flags & c->flags_clear) != 0) {
        case_error(table, c->name, "flags 0x%04x: want set 0x%04x, clear 0x%04x",
                   (unsigned)msg->flags, (unsigned)c->flags_set, (unsigned)c->flags_clear);
        ok = 0;
    }
    if ((c->flags_set & TB_MSG_F_CONTENT_LENGTH) && msg->content_length != c->content_length) {
        case_error(table, c->name, "content_length %llu, expected %llu",
                   (unsigned long long)msg->content_length, (unsigned long long)c->content_length);
        ok = 0;
    }
    if (c->headers != NULL && !tb_test_headers_match(c->name, &msg->headers, c->headers))
        ok = 0;
    return ok;
}

static int run_head_case(const char *table, enum tb_http1_kind kind, const struct head_case *c)
{
    char *buf = tb_test_guarded(c->in.base, c->in.len);
    struct tb_arena *arena = tb_arena_new(256, 1 << 16);
    int want = c->error != NULL ? TB_EINVAL : TB_OK;
    struct tb_http1_parser p;
    struct tb_http_msg msg;
    size_t end;
    int ret, ok = 1;

    end = tb_http1_find_head_end(buf, c->in.len, 0);
    if (end != c->in.len) {
        case_error(table, c->name, "find_head_end %zu, expected %zu (bad table row?)", end,
                   c->in.len);
        ok = 0;
    }
    tb_http1_parser_init(&p, kind);
    ret = tb_http1_parse_head(&p, arena, buf, c->in.len, c->parse_flags, &msg);
    if (ret != want || (want == TB_EINVAL && p.error != c->error)) {
        case_error(table, c->name, "returned %d reason %s, expected %d reason %s", ret,
                   ret == TB_OK ? "(none)" : reason_code(p.error), want, reason_code(c->error));
        ok = 0;
    } else if (ret == TB_OK) {
        ok &= check_msg(table, c, &msg);
    }
    tb_arena_free(arena);
    tb_test_guarded_free(buf, c->in.len);
    return ok;
}

static void run_head_cases(const char *table, enum tb_http1_kind kind,
                           const struct head_case *cases, size_t n)
{
    int failed = 0;

    for (size_t i = 0; i < n; i++)
        failed |= !run_head_case(table, kind, &cases[i]);
    assert_false(failed);
}

#define RUN_REQUESTS(cases) run_head_cases(__func__, TB_HTTP1_REQUEST, cases, TB_ARRAY_SIZE(cases))
#define RUN_RESPONSES(cases)                                                                       \
    run_head_cases(__func__, TB_HTTP1_RESPONSE, cases, TB_ARRAY_SIZE(cases))

/* RFC 9112 §2.2 (bare CR, bare LF), §5.2 (obs-fold), RFC 9110 §5.5 (CTLs). */
static void test_tb_http1_parse_head__request_byte_rules(void **state)
{
    const struct head_case cases[] = {
        {.name = "bare_cr_in_value",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"),
         .error = &tb_reason_bare_cr},
        {.name = "bare_cr_in_request_line",
         .in = IN("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_bare_cr},
        {.name = "bare_cr_in_name",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX\r-Y: 1\r\n\r\n"),
         .error = &tb_reason_bare_cr},
        {.name = "bare_cr_end_of_value",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\r\n\r\n"),
         .error = &tb_reason_bare_cr},
        {.name = "bare_lf_after_request_line",
         .in = IN("GET / HTTP/1.1\nHost: a\r\n\r\n"),
         .error = &tb_reason_bare_lf},
        {.name = "bare_lf_after_field",
         .in = IN("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"),
         .error = &tb_reason_bare_lf},
        {.name = "bare_lf_everywhere",
         .in = IN("GET / HTTP/1.1\nHost: a\n\n"),
         .error = &tb_reason_bare_lf},
        {.name = "bare_lf_before_final_crlf",
         .in = IN("GET / HTTP/1.1\r\nHost: a\n\r\n"),
         .error = &tb_reason_bare_lf},
        {.name = "bare_lf_as_final_empty_line",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\n\n"),
         .error = &tb_reason_bare_lf},
        {.name = "obs_fold_space",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"),
         .error = &tb_reason_obs_fold},
        {.name = "obs_fold_tab",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n"),
         .error = &tb_reason_obs_fold},
        {.name = "whitespace_before_first_field",
         .in = IN("GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
         .error = &tb_reason_obs_fold},
        {.name = "ctl_soh_in_value",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n"),
         .error = &tb_reason_control_char},
        {.name = "nul_in_value",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\0z\r\n\r\n"),
         .error = &tb_reason_control_char},
        {.name = "del_in_value",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fz\r\n\r\n"),
         .error = &tb_reason_control_char},
        {.name = "esc_in_value",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n"),
         .error = &tb_reason_control_char},
        {.name = "nul_in_name",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX\0Y: 1\r\n\r\n"),
         .error = &tb_reason_control_char},
        {.name = "ctl_in_target",
         .in = IN("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "nul_in_method",
         .in = IN("G\0T / HTTP/1.1\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "tab_in_value_is_fine",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n"),
         .headers = HDRS("Host", "a", "X", "a\tb")},
        {.name = "obs_text_in_value_is_fine",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n"),
         .headers = HDRS("Host", "a", "X", "caf\xc3\xa9")},
    };

    (void)state;
    RUN_REQUESTS(cases);
}

/* RFC 9110 §5.1 / RFC 9112 §5.1: a field name is a token, then a colon. */
static void test_tb_http1_parse_head__request_field_names(void **state)
{
    const struct head_case cases[] = {
        {.name = "space_before_colon",
         .in = IN("GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "tab_before_colon",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX\t: 1\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "empty_name",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "no_colon",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nHostname\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "separator_in_name",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "at_in_name",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX@: 1\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "high_byte_in_name",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: 1\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "every_tchar",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: 1\r\n\r\n"),
         .headers = HDRS("Host", "a", "!#$%&'*+-.^_`|~09azAZ", "1")},
    };

    (void)state;
    RUN_REQUESTS(cases);
}

/* RFC 9112 §6.1-6.3: framing headers must be unambiguous. */
static void test_tb_http1_parse_head__request_framing(void **state)
{
    const struct head_case cases[] = {
        {.name = "content_length",
         .in = IN("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"),
         .method = "POST",
         .flags_set = TB_MSG_F_CONTENT_LENGTH,
         .flags_clear = TB_MSG_F_CHUNKED | TB_MSG_F_NO_BODY | TB_MSG_F_BODY_UNTIL_EOF,
         .content_length = 5},
        {.name = "content_length_zero",
         .in = IN("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
         .flags_set = TB_MSG_F_CONTENT_LENGTH | TB_MSG_F_NO_BODY,
         .content_length = 0},
        {.name = "content_length_large",
         .in = IN("PUT /u HTTP/1.1\r\nHost: a\r\ncontent-length: 1099511627776\r\n\r\n"),
         .flags_set = TB_MSG_F_CONTENT_LENGTH,
         .flags_clear = TB_MSG_F_NO_BODY,
         .content_length = 1099511627776ull},
        {.name = "chunked",
         .in = IN("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
         .flags_set = TB_MSG_F_CHUNKED,
         .flags_clear = TB_MSG_F_CONTENT_LENGTH | TB_MSG_F_NO_BODY},
        {.name = "chunked_any_case",
         .in = IN("POST /u HTTP/1.1\r\nHost: a\r\ntransfer-encoding: ChUnKeD\r\n\r\n"),
         .flags_set = TB_MSG_F_CHUNKED},
        {.name = "no_framing_no_body",
         .in = IN("POST /u HTTP/1.1\r\nHost: a\r\n\r\n"),
         .flags_set = TB_MSG_F_NO_BODY,
         .flags_clear = TB_MSG_F_CHUNKED | TB_MSG_F_CONTENT_LENGTH | TB_MSG_F_BODY_UNTIL_EOF},
        {.name = "cl_then_te",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n"),
         .error = &tb_reason_cl_and_te},
        {.name = "te_then_cl",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 5\r\n\r\n"),
         .error = &tb_reason_cl_and_te},
        {.name = "te_gzip_then_cl",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                  "Content-Length: 5\r\n\r\n"),
         .error = &tb_reason_cl_and_te},
        {.name = "duplicate_cl_equal",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
         .error = &tb_reason_duplicate_content_length},
        {.name = "duplicate_cl_different",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n"),
         .error = &tb_reason_duplicate_content_length},
        {.name = "cl_not_a_number",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "cl_overflow",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "te_gzip_chunked",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
         .error = &tb_reason_bad_transfer_encoding},
        {.name = "te_chunked_gzip",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
         .error = &tb_reason_bad_transfer_encoding},
        {.name = "te_chunked_twice_in_one",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
         .error = &tb_reason_bad_transfer_encoding},
        {.name = "te_two_headers",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n"),
         .error = &tb_reason_bad_transfer_encoding},
        {.name = "te_gzip_header_then_chunked_header",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n"),
         .error = &tb_reason_bad_transfer_encoding},
        {.name = "te_identity",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n"),
         .error = &tb_reason_bad_transfer_encoding},
        {.name = "te_empty",
         .in = IN("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n"),
         .error = &tb_reason_bad_transfer_encoding},
    };

    (void)state;
    RUN_REQUESTS(cases);
}

/* RFC 9112 §3.2: exactly one Host in HTTP/1.1. */
static void test_tb_http1_parse_head__request_host(void **state)
{
    const struct head_case cases[] = {
        {.name = "missing_on_1_1",
         .in = IN("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"),
         .error = &tb_reason_host_missing},
        {.name = "missing_no_fields",
         .in = IN("GET / HTTP/1.1\r\n\r\n"),
         .error = &tb_reason_host_missing},
        {.name = "repeated",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_host_repeated},
        {.name = "repeated_other_case",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nhOST: b\r\n\r\n"),
         .error = &tb_reason_host_repeated},
        {.name = "repeated_on_1_0",
         .in = IN("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
         .error = &tb_reason_host_repeated},
        {.name = "absent_on_1_0_is_fine",
         .in = IN("GET / HTTP/1.0\r\n\r\n"),
         .method = "GET",
         .target = "/",
         .version = 10,
         .headers = NO_HDRS},
        {.name = "single_on_1_0",
         .in = IN("GET / HTTP/1.0\r\nHost: a\r\n\r\n"),
         .version = 10,
         .headers = HDRS("Host", "a")},
        {.name = "empty_host_value",
         .in = IN("GET / HTTP/1.1\r\nHost:\r\n\r\n"),
         .headers = HDRS("Host", "")},
    };

    (void)state;
    RUN_REQUESTS(cases);
}

/* RFC 9112 §3.1-3.2: method token and request-target forms. */
static void test_tb_http1_parse_head__request_line(void **state)
{
    const struct head_case cases[] = {
        {.name = "origin_form",
         .in = IN("GET /a/b?c=d HTTP/1.1\r\nHost: a\r\n\r\n"),
         .method = "GET",
         .target = "/a/b?c=d",
         .authority = "",
         .version = 11,
         .flags_clear = TB_MSG_F_ABSOLUTE_FORM},
        {.name = "delete_method",
         .in = IN("DELETE /r HTTP/1.1\r\nHost: a\r\n\r\n"),
         .method = "DELETE",
         .target = "/r"},
        {.name = "absolute_form",
         .in = IN("GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"),
         .target = "/p?q=1",
         .authority = "example.com:8080",
         .flags_set = TB_MSG_F_ABSOLUTE_FORM},
        {.name = "absolute_form_query_without_path",
         .in = IN("GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n"),
         .target = "/?q",
         .authority = "h",
         .flags_set = TB_MSG_F_ABSOLUTE_FORM},
        {.name = "absolute_form_no_path",
         .in = IN("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n"),
         .target = "/",
         .authority = "h",
         .flags_set = TB_MSG_F_ABSOLUTE_FORM},
        {.name = "absolute_form_https_upper_case_scheme",
         .in = IN("GET HTTPS://H:443/x HTTP/1.1\r\nHost: H:443\r\n\r\n"),
         .target = "/x",
         .authority = "H:443",
         .flags_set = TB_MSG_F_ABSOLUTE_FORM},
        {.name = "absolute_form_on_1_0_without_host",
         .in = IN("GET http://h/x HTTP/1.0\r\n\r\n"),
         .target = "/x",
         .authority = "h",
         .version = 10},
        {.name = "absolute_form_empty_authority",
         .in = IN("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "absolute_form_other_scheme",
         .in = IN("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "asterisk_form_options",
         .in = IN("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
         .method = "OPTIONS",
         .target = "*",
         .flags_clear = TB_MSG_F_ABSOLUTE_FORM},
        {.name = "asterisk_form_get",
         .in = IN("GET * HTTP/1.1\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "relative_target",
         .in = IN("GET x/y HTTP/1.1\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "connect",
         .in = IN("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
         .error = &tb_reason_connect_not_supported},
        {.name = "invalid_method_char",
         .in = IN("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "lower_case_method",
         .in = IN("get / HTTP/1.1\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "unknown_method",
         .in = IN("FROB / HTTP/1.1\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "extra_token_after_version",
         .in = IN("GET / HTTP/1.1 x\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "response_line_to_request_parser",
         .in = IN("HTTP/1.1 200 OK\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "only_empty_lines", .in = IN("\r\n\r\n"), .error = &tb_reason_bad_request},
    };

    (void)state;
    RUN_REQUESTS(cases);
}

/* RFC 9112 §9.3 (persistence), RFC 9110 §10.1.1 (Expect), §7.8 (Upgrade). */
static void test_tb_http1_parse_head__request_flags(void **state)
{
    const struct head_case cases[] = {
        {.name = "keep_alive_1_1_default",
         .in = IN(GET11 "\r\n"),
         .flags_set = TB_MSG_F_KEEP_ALIVE | TB_MSG_F_NO_BODY,
         .flags_clear = TB_MSG_F_UPGRADE | TB_MSG_F_EXPECT_CONTINUE | TB_MSG_F_BODY_UNTIL_EOF},
        {.name = "keep_alive_1_1_close",
         .in = IN(GET11 "Connection: close\r\n\r\n"),
         .flags_clear = TB_MSG_F_KEEP_ALIVE},
        {.name = "keep_alive_1_1_close_in_list",
         .in = IN(GET11 "Connection: x-foo, Close\r\n\r\n"),
         .flags_clear = TB_MSG_F_KEEP_ALIVE},
        /* llhttp does not trim a tab when it interprets framing headers:
         * such values are refused rather than framed two ways. */
        {.name = "keep_alive_1_1_close_trailing_tab",
         .in = IN(GET11 "Connection: close\t\r\n\r\n"),
         .error = &tb_reason_bad_request},
        {.name = "keep_alive_1_0_default",
         .in = IN("GET / HTTP/1.0\r\n\r\n"),
         .flags_clear = TB_MSG_F_KEEP_ALIVE},
        {.name = "keep_alive_1_0_keep_alive",
         .in = IN("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
         .flags_set = TB_MSG_F_KEEP_ALIVE},
        {.name = "keep_alive_1_0_keep_alive_any_case",
         .in = IN("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
         .flags_set = TB_MSG_F_KEEP_ALIVE},
        {.name = "expect_continue",
         .in = IN("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"),
         .flags_set = TB_MSG_F_EXPECT_CONTINUE | TB_MSG_F_CONTENT_LENGTH,
         .content_length = 3},
        {.name = "expect_continue_any_case",
         .in = IN("PUT / HTTP/1.1\r\nHost: a\r\nexpect: 100-Continue\r\nContent-Length: 3\r\n\r\n"),
         .flags_set = TB_MSG_F_EXPECT_CONTINUE},
        {.name = "expect_other",
         .in = IN("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-not\r\n"
                  "Content-Length: 3\r\n\r\n"),
         .flags_clear = TB_MSG_F_EXPECT_CONTINUE},
        {.name = "upgrade",
         .in = IN("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                  "Upgrade: websocket\r\n\r\n"),
         .flags_set = TB_MSG_F_UPGRADE | TB_MSG_F_NO_BODY,
         .headers = HDRS("Host", "a", "Connection", "Upgrade", "Upgrade", "websocket")},
        {.name = "upgrade_header_without_connection_option",
         .in = IN("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"),
         .flags_clear = TB_MSG_F_UPGRADE},
    };

    (void)state;
    RUN_REQUESTS(cases);
}

/* RFC 9110 §5.5: values lose surrounding whitespace; order and repeats stay. */
static void test_tb_http1_parse_head__request_fields(void **state)
{
    const struct head_case cases[] = {
        {.name = "ows_trimmed",
         .in = IN("GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v 1 \t\r\nX-B:v\r\nX-Empty:\r\n"
                  "X-Blank: \t \r\n\r\n"),
         .headers = HDRS("Host", "a", "X-A", "v 1", "X-B", "v", "X-Empty", "", "X-Blank", "")},
        {.name = "order_repeats_and_casing_kept",
         .in = IN("GET / HTTP/1.1\r\nX-Dup: 1\r\nhost: a\r\naccept: */*\r\nx-dup: 2\r\n"
                  "X-DUP: 3\r\n\r\n"),
         .headers = HDRS("X-Dup", "1", "host", "a", "accept", "*/*", "x-dup", "2", "X-DUP", "3")},
        {.name = "value_with_colons",
         .in = IN("GET / HTTP/1.1\r\nHost: a:80\r\nX: a: b:c\r\n\r\n"),
         .headers = HDRS("Host", "a:80", "X", "a: b:c")},
    };

    (void)state;
    RUN_REQUESTS(cases);
}

static void test_tb_http1_parse_head__request_tokens_set(void **state)
{
    static const char head[] =
        "GET / HTTP/1.1\r\nHOST: a\r\nx-forwarded-for: 1\r\nX-Other: 2\r\n\r\n";
    char *buf = tb_test_guarded(head, sizeof(head) - 1);
    struct tb_arena *arena = tb_arena_new(256, 1 << 16);
    struct tb_http1_parser p;
    struct tb_http_msg msg;

    (void)state;
    tb_http1_parser_init(&p, TB_HTTP1_REQUEST);
    assert_int_equal(tb_http1_parse_head(&p, arena, buf, sizeof(head) - 1, 0, &msg), TB_OK);
    assert_int_equal(msg.headers.num, 3);
    assert_int_equal(msg.headers.entries[0].token, TB_HDR_HOST);
    assert_int_equal(msg.headers.entries[1].token, TB_HDR_X_FORWARDED_FOR);
    assert_int_equal(msg.headers.entries[2].token, TB_HDR_UNKNOWN);
    /* The views borrow from the head. */
    assert_ptr_equal(msg.headers.entries[0].name.base, buf + 16);
    assert_ptr_equal(msg.method.base, buf);
    tb_arena_free(arena);
    tb_test_guarded_free(buf, sizeof(head) - 1);
}

static void test_tb_http1_parse_head__exhausted_arena(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    struct tb_arena *arena = tb_arena_new(64, 64);
    struct tb_http1_parser p;
    struct tb_http_msg msg;
    char *buf;

    (void)state;
    buf = tb_test_guarded(req, sizeof(req) - 1);
    tb_http1_parser_init(&p, TB_HTTP1_REQUEST);
    assert_int_equal(tb_http1_parse_head(&p, arena, buf, sizeof(req) - 1, 0, &msg), TB_ENOSPC);
    assert_ptr_equal(p.error, &tb_reason_header_too_large);
    tb_test_guarded_free(buf, sizeof(req) - 1);

    buf = tb_test_guarded(resp, sizeof(resp) - 1);
    tb_http1_parser_init(&p, TB_HTTP1_RESPONSE);
    assert_int_equal(tb_http1_parse_head(&p, arena, buf, sizeof(resp) - 1, 0, &msg), TB_ENOSPC);
    assert_ptr_equal(p.error, &tb_reason_upstream_header_too_large);
    tb_test_guarded_free(buf, sizeof(resp) - 1);
    tb_arena_free(arena);
}

/* RFC 9112 §6.3 and RFC 9110 §6.4.1: how a response body is delimited. */
static void test_tb_http1_parse_head__response_framing(void **state)
{
    const struct head_case cases[] = {
        {.name = "content_length",
         .in = IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
         .status = 200,
         .reason = "OK",
         .version = 11,
         .flags_set = TB_MSG_F_CONTENT_LENGTH | TB_MSG_F_KEEP_ALIVE,
         .flags_clear = TB_MSG_F_NO_BODY | TB_MSG_F_BODY_UNTIL_EOF | TB_MSG_F_CHUNKED,
         .content_length = 5,
         .headers = HDRS("Content-Length", "5")},
        {.name = "content_length_zero",
         .in = IN("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
         .flags_set = TB_MSG_F_NO_BODY | TB_MSG_F_KEEP_ALIVE,
         .flags_clear = TB_MSG_F_BODY_UNTIL_EOF},
        {.name = "chunked",
         .in = IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
         .flags_set = TB_MSG_F_CHUNKED | TB_MSG_F_KEEP_ALIVE,
         .flags_clear = TB_MSG_F_NO_BODY | TB_MSG_F_BODY_UNTIL_EOF | TB_MSG_F_CONTENT_LENGTH},
        {.name = "chunked_trailing_tab",
         .in = IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "close_trailing_tab",
         .in = IN("HTTP/1.1 200 OK\r\nConnection: close\t\r\nContent-Length: 0\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "until_eof",
         .in = IN("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n"),
         .flags_set = TB_MSG_F_BODY_UNTIL_EOF,
         .flags_clear =
             TB_MSG_F_NO_BODY | TB_MSG_F_KEEP_ALIVE | TB_MSG_F_CHUNKED | TB_MSG_F_CONTENT_LENGTH},
        {.name = "until_eof_1_0",
         .in = IN("HTTP/1.0 200 OK\r\n\r\n"),
         .version = 10,
         .flags_set = TB_MSG_F_BODY_UNTIL_EOF,
         .flags_clear = TB_MSG_F_KEEP_ALIVE},
        {.name = "keep_alive_1_0_with_length",
         .in = IN("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n"),
         .flags_set = TB_MSG_F_KEEP_ALIVE | TB_MSG_F_CONTENT_LENGTH,
         .content_length = 2},
        {.name = "close_1_1",
         .in = IN("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n"),
         .flags_clear = TB_MSG_F_KEEP_ALIVE},
        {.name = "no_content_204",
         .in = IN("HTTP/1.1 204 No Content\r\n\r\n"),
         .status = 204,
         .reason = "No Content",
         .flags_set = TB_MSG_F_NO_BODY | TB_MSG_F_KEEP_ALIVE,
         .flags_clear = TB_MSG_F_BODY_UNTIL_EOF},
        {.name = "not_modified_304_with_length",
         .in = IN("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n"),
         .flags_set = TB_MSG_F_NO_BODY,
         .flags_clear = TB_MSG_F_CONTENT_LENGTH | TB_MSG_F_CHUNKED | TB_MSG_F_BODY_UNTIL_EOF},
        {.name = "continue_100",
         .in = IN("HTTP/1.1 100 Continue\r\n\r\n"),
         .status = 100,
         .flags_set = TB_MSG_F_NO_BODY,
         .flags_clear = TB_MSG_F_BODY_UNTIL_EOF},
        {.name = "early_hints_103",
         .in = IN("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"),
         .status = 103,
         .flags_set = TB_MSG_F_NO_BODY,
         .headers = HDRS("Link", "</s.css>; rel=preload")},
        {.name = "head_with_length",
         .in = IN("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
         .parse_flags = TB_HTTP1_F_RESPONSE_TO_HEAD,
         .flags_set = TB_MSG_F_NO_BODY | TB_MSG_F_KEEP_ALIVE,
         .flags_clear = TB_MSG_F_CONTENT_LENGTH | TB_MSG_F_BODY_UNTIL_EOF},
        {.name = "head_with_chunked",
         .in = IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
         .parse_flags = TB_HTTP1_F_RESPONSE_TO_HEAD,
         .flags_set = TB_MSG_F_NO_BODY,
         .flags_clear = TB_MSG_F_CHUNKED | TB_MSG_F_BODY_UNTIL_EOF},
        {.name = "head_without_framing",
         .in = IN("HTTP/1.1 200 OK\r\n\r\n"),
         .parse_flags = TB_HTTP1_F_RESPONSE_TO_HEAD,
         .flags_set = TB_MSG_F_NO_BODY,
         .flags_clear = TB_MSG_F_BODY_UNTIL_EOF},
        {.name = "switching_protocols_101",
         .in = IN("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                  "Upgrade: websocket\r\n\r\n"),
         .status = 101,
         .reason = "Switching Protocols",
         .flags_set = TB_MSG_F_UPGRADE | TB_MSG_F_NO_BODY},
    };

    (void)state;
    RUN_RESPONSES(cases);
}

static void test_tb_http1_parse_head__response_status_line(void **state)
{
    const struct head_case cases[] = {
        {.name = "reason_with_spaces",
         .in = IN("HTTP/1.1 404 Not Found Here\r\nContent-Length: 0\r\n\r\n"),
         .status = 404,
         .reason = "Not Found Here"},
        {.name = "empty_reason",
         .in = IN("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"),
         .status = 200,
         .reason = ""},
        {.name = "fields_trimmed_and_ordered",
         .in = IN("HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nServer:  s \r\nSet-Cookie: b=2\r\n"
                  "Content-Length: 0\r\n\r\n"),
         .headers =
             HDRS("set-cookie", "a=1", "Server", "s", "Set-Cookie", "b=2", "Content-Length", "0")},
        {.name = "status_below_100",
         .in = IN("HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "status_000",
         .in = IN("HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "two_digit_status",
         .in = IN("HTTP/1.1 20 OK\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "request_line_to_response_parser",
         .in = IN("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "only_empty_lines",
         .in = IN("\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
    };

    (void)state;
    RUN_RESPONSES(cases);
}

static void test_tb_http1_parse_head__response_strict_rules(void **state)
{
    const struct head_case cases[] = {
        {.name = "bare_lf",
         .in = IN("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "bare_lf_final_line",
         .in = IN("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "bare_cr",
         .in = IN("HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "obs_fold",
         .in = IN("HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "ctl_in_value",
         .in = IN("HTTP/1.1 200 OK\r\nX: a\x01\r\nContent-Length: 0\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "space_before_colon",
         .in = IN("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "cl_then_te",
         .in = IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "te_then_cl",
         .in = IN("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "duplicate_cl_equal",
         .in = IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "duplicate_cl_different",
         .in = IN("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
        {.name = "cl_and_te_on_204",
         .in = IN("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n"),
         .error = &tb_reason_upstream_bad_response},
    };

    (void)state;
    RUN_RESPONSES(cases);
}

/* ------------------------------------------------------------------------ */
/* tb_http1_parse_body                                                      */

struct sink {
    char data[512];
    size_t len;
    size_t calls;
    int overflow;
    size_t abort_after; /* return -1 once this many bytes were seen; 0: never */
};

static int sink_on_body(void *arg, const char *data, size_t len)
{
    struct sink *s = arg;

    s->calls++;
    if (len > sizeof(s->data) - s->len) {
        s->overflow = 1;
        return -1;
    }
    memcpy(s->data + s->len, data, len);
    s->len += len;
    return s->abort_after != 0 && s->len >= s->abort_after ? -1 : 0;
}

/* A message head parsed and ready for its body. */
struct fixture {
    char *head;
    size_t head_len;
    struct tb_arena *arena;
    struct tb_http1_parser p;
    struct tb_http_msg msg;
    struct sink sink;
};

static void fixture_start(struct fixture *f, enum tb_http1_kind kind, const char *head,
                          unsigned flags)
{
    memset(&f->sink, 0, sizeof(f->sink));
    f->head_len = strlen(head);
    f->head = tb_test_guarded(head, f->head_len);
    f->arena = tb_arena_new(256, 1 << 16);
    tb_http1_parser_init(&f->p, kind);
    f->p.on_body = sink_on_body;
    f->p.on_body_arg = &f->sink;
    assert_int_equal(tb_http1_parse_head(&f->p, f->arena, f->head, f->head_len, flags, &f->msg),
                     TB_OK);
}

static void fixture_end(struct fixture *f)
{
    tb_arena_free(f->arena);
    f->arena = NULL;
    tb_test_guarded_free(f->head, f->head_len);
    f->head = NULL;
}

/* Feeds `data[0..len)` from a guarded copy. */
static int feed(struct fixture *f, const char *data, size_t len, size_t *consumed)
{
    char *buf = tb_test_guarded(data, len);
    int ret;

    *consumed = (size_t)-1;
    ret = tb_http1_parse_body(&f->p, buf, len, consumed);
    tb_test_guarded_free(buf, len);
    return ret;
}

struct body_case {
    const char *name;
    enum tb_http1_kind kind;
    const char *head;
    struct tb_iov body;    /* exactly the message body, framing included */
    const char *decoded;   /* what on_body must receive */
    const char *pipelined; /* bytes of the next message, never consumed */
};

static const struct body_case body_cases[] = {
    {"request_content_length", TB_HTTP1_REQUEST,
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", IN("hello world"), "hello world",
     "GET / HTTP/1.1\r\n"},
    {"request_content_length_binary", TB_HTTP1_REQUEST,
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n",
     IN("a\0\r\n\xff"
        "b"),
     NULL, "X"},
    {"request_chunked", TB_HTTP1_REQUEST,
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
     IN("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world", "GET / HTTP/1.1\r\n"},
    {"request_chunked_extensions", TB_HTTP1_REQUEST,
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
     IN("5;name=value\r\nhello\r\n6;flag\r\n world\r\n0;last=1\r\n\r\n"), "hello world", "P"},
    {"request_chunked_trailers", TB_HTTP1_REQUEST,
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
     IN("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: d e\r\n\r\n"), "hello", "NEXT"},
    {"request_chunked_hex_sizes", TB_HTTP1_REQUEST,
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
     IN("A\r\n0123456789\r\n0005\r\nabcde\r\nb\r\nfghijklmnop\r\n0\r\n\r\n"),
     "0123456789abcdefghijklmnop", ""},
    {"response_content_length", TB_HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
     IN("abc"), "abc", "HTTP/1.1 200 OK\r\n"},
    {"response_chunked_trailers", TB_HTTP1_RESPONSE,
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     IN("3;x=y\r\nabc\r\n0\r\nServer-Timing: db;dur=53\r\n\r\n"), "abc", "HTTP"},
};

static int check_decoded(const struct body_case *c, const char *how, const struct fixture *f)
{
    const char *want = c->decoded != NULL ? c->decoded : c->body.base;
    size_t want_len = c->decoded != NULL ? strlen(c->decoded) : c->body.len;

    if (f->sink.overflow || f->sink.len != want_len || memcmp(f->sink.data, want, want_len) != 0) {
        case_error("parse_body", c->name, "%s: on_body received other bytes", how);
        tb_test_print_bytes("  actual:   ", f->sink.data, f->sink.len);
        tb_test_print_bytes("  expected: ", want, want_len);
        return 0;
    }
    return 1;
}

/* The body and the next message arrive together. */
static int body_case_whole(const struct body_case *c)
{
    size_t pipelined_len = strlen(c->pipelined), len = c->body.len + pipelined_len;
    char all[512];
    struct fixture f;
    size_t consumed;
    int ret, ok = 1;

    memcpy(all, c->body.base, c->body.len);
    memcpy(all + c->body.len, c->pipelined, pipelined_len);
    fixture_start(&f, c->kind, c->head, 0);
    ret = feed(&f, all, len, &consumed);
    if (ret != TB_OK || consumed != c->body.len) {
        case_error("parse_body", c->name, "whole: returned %d consumed %zu, expected 0 and %zu",
                   ret, consumed, c->body.len);
        ok = 0;
    }
    ok &= check_decoded(c, "whole", &f);
    /* Nothing more belongs to this message. */
    ret = feed(&f, c->pipelined, pipelined_len, &consumed);
    if (ret != TB_OK || consumed != 0) {
        case_error("parse_body", c->name, "after end: returned %d consumed %zu", ret, consumed);
        ok = 0;
    }
    fixture_end(&f);
    return ok;
}

/* The body arrives one byte per call. */
static int body_case_bytewise(const struct body_case *c)
{
    struct fixture f;
    size_t consumed;
    int ret, ok = 1;

    fixture_start(&f, c->kind, c->head, 0);
    for (size_t i = 0; i < c->body.len && ok; i++) {
        int last = i + 1 == c->body.len;

        ret = feed(&f, c->body.base + i, 1, &consumed);
        if (ret != (last ? TB_OK : TB_EAGAIN) || consumed != 1) {
            case_error("parse_body", c->name, "bytewise at %zu: returned %d consumed %zu", i, ret,
                       consumed);
            ok = 0;
        }
    }
    ok &= check_decoded(c, "bytewise", &f);
    ret = feed(&f, c->pipelined, strlen(c->pipelined), &consumed);
    if (ret != TB_OK || consumed != 0) {
        case_error("parse_body", c->name, "bytewise after end: returned %d consumed %zu", ret,
                   consumed);
        ok = 0;
    }
    fixture_end(&f);
    return ok;
}

/* Body plus pipelined bytes, cut in two at every position. */
static int body_case_split(const struct body_case *c)
{
    size_t pipelined_len = strlen(c->pipelined), len = c->body.len + pipelined_len;
    char all[512];
    int ok = 1;

    memcpy(all, c->body.base, c->body.len);
    memcpy(all + c->body.len, c->pipelined, pipelined_len);
    for (size_t cut = 1; cut < len && ok; cut++) {
        struct fixture f;
        size_t consumed, total = 0;
        int ret;

        fixture_start(&f, c->kind, c->head, 0);
        ret = feed(&f, all, cut, &consumed);
        if (cut < c->body.len) {
            if (ret != TB_EAGAIN || consumed != cut) {
                case_error("parse_body", c->name, "cut %zu first: returned %d consumed %zu", cut,
                           ret, consumed);
                ok = 0;
            }
            total = consumed;
            ret = feed(&f, all + cut, len - cut, &consumed);
        }
        total += consumed;
        if (ret != TB_OK || total != c->body.len) {
            case_error("parse_body", c->name, "cut %zu: returned %d, consumed %zu of %zu", cut, ret,
                       total, c->body.len);
            ok = 0;
        }
        ok &= check_decoded(c, "split", &f);
        fixture_end(&f);
    }
    return ok;
}

static void test_tb_http1_parse_body__whole(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(body_cases); i++)
        failed |= !body_case_whole(&body_cases[i]);
    assert_false(failed);
}

static void test_tb_http1_parse_body__byte_by_byte(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(body_cases); i++)
        failed |= !body_case_bytewise(&body_cases[i]);
    assert_false(failed);
}

static void test_tb_http1_parse_body__every_split(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(body_cases); i++)
        failed |= !body_case_split(&body_cases[i]);
    assert_false(failed);
}

struct bad_body_case {
    const char *name;
    enum tb_http1_kind kind;
    const char *head;
    struct tb_iov body;
    const struct tb_reason *error; /* NULL: any reason */
};

#define CHUNKED_REQ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
#define CHUNKED_RESP "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

static const struct bad_body_case bad_body_cases[] = {
    {"bad_chunk_size", TB_HTTP1_REQUEST, CHUNKED_REQ, IN("zz\r\nhello\r\n0\r\n\r\n"),
     &tb_reason_bad_chunk},
    {"overflowing_chunk_size", TB_HTTP1_REQUEST, CHUNKED_REQ,
     IN("ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), &tb_reason_bad_chunk},
    {"negative_chunk_size", TB_HTTP1_REQUEST, CHUNKED_REQ, IN("-5\r\nhello\r\n0\r\n\r\n"),
     &tb_reason_bad_chunk},
    {"empty_chunk_size", TB_HTTP1_REQUEST, CHUNKED_REQ, IN("\r\nhello\r\n0\r\n\r\n"),
     &tb_reason_bad_chunk},
    {"bad_chunk_size_after_good_chunk", TB_HTTP1_REQUEST, CHUNKED_REQ,
     IN("3\r\nabc\r\nx\r\n0\r\n\r\n"), &tb_reason_bad_chunk},
    {"chunk_longer_than_size", TB_HTTP1_REQUEST, CHUNKED_REQ, IN("3\r\nabcde\r\n0\r\n\r\n"), NULL},
    /* llhttp rejects these before any callback sees them: rejection is what
     * matters, reported as a chunk or a control-character error. */
    {"trailer_control_char", TB_HTTP1_REQUEST, CHUNKED_REQ, IN("0\r\nX: a\x01z\r\n\r\n"), NULL},
    {"trailer_del_char", TB_HTTP1_REQUEST, CHUNKED_REQ, IN("0\r\nX: a\x7fz\r\n\r\n"), NULL},
    {"trailer_bare_lf", TB_HTTP1_REQUEST, CHUNKED_REQ, IN("0\r\nX: a\nY: b\r\n\r\n"), NULL},
    {"trailer_obs_fold", TB_HTTP1_REQUEST, CHUNKED_REQ, IN("0\r\nX: a\r\n b\r\n\r\n"), NULL},
    {"response_bad_chunk_size", TB_HTTP1_RESPONSE, CHUNKED_RESP, IN("zz\r\n"),
     &tb_reason_upstream_bad_response},
    {"response_overflowing_chunk_size", TB_HTTP1_RESPONSE, CHUNKED_RESP,
     IN("ffffffffffffffffff\r\n"), &tb_reason_upstream_bad_response},
};

static int check_bad_body(const struct bad_body_case *c, const char *how, int ret,
                          const struct tb_reason *error)
{
    if (ret != TB_EINVAL || error == NULL || (c->error != NULL && error != c->error)) {
        case_error("parse_body", c->name, "%s: returned %d reason %s, expected %d reason %s", how,
                   ret, reason_code(error), TB_EINVAL,
                   c->error != NULL ? reason_code(c->error) : "(any)");
        return 0;
    }
    return 1;
}

static void test_tb_http1_parse_body__bad_framing(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(bad_body_cases); i++) {
        const struct bad_body_case *c = &bad_body_cases[i];
        struct fixture f;
        size_t consumed;
        int ret = TB_EAGAIN;

        fixture_start(&f, c->kind, c->head, 0);
        ret = feed(&f, c->body.base, c->body.len, &consumed);
        failed |= !check_bad_body(c, "whole", ret, f.p.error);
        fixture_end(&f);

        fixture_start(&f, c->kind, c->head, 0);
        ret = TB_EAGAIN;
        for (size_t k = 0; k < c->body.len && ret == TB_EAGAIN; k++)
            ret = feed(&f, c->body.base + k, 1, &consumed);
        failed |= !check_bad_body(c, "bytewise", ret, f.p.error);
        fixture_end(&f);
    }
    assert_false(failed);
}

static void test_tb_http1_parse_body__on_body_abort(void **state)
{
    static const char body[] = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    struct fixture f;
    size_t consumed;

    (void)state;
    fixture_start(&f, TB_HTTP1_REQUEST, CHUNKED_REQ, 0);
    f.sink.abort_after = 5;
    assert_int_equal(feed(&f, body, sizeof(body) - 1, &consumed), TB_EINVAL);
    assert_non_null(f.p.error);
    /* The callback saw the first chunk, and nothing after it aborted. */
    assert_int_equal(f.sink.calls, 1);
    assert_memory_equal(f.sink.data, "hello", 5);
    fixture_end(&f);
}

static void test_tb_http1_parse_body__without_callback(void **state)
{
    static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n";
    struct fixture f;
    size_t consumed;

    (void)state;
    fixture_start(&f, TB_HTTP1_REQUEST, head, 0);
    f.p.on_body = NULL;
    assert_int_equal(feed(&f, "abcdEF", 6, &consumed), TB_OK);
    assert_int_equal(consumed, 4);
    assert_int_equal(f.sink.calls, 0);
    fixture_end(&f);
}

static void test_tb_http1_parse_body__empty_input(void **state)
{
    static const char head[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n";
    struct fixture f;
    size_t consumed;

    (void)state;
    fixture_start(&f, TB_HTTP1_REQUEST, head, 0);
    assert_int_equal(feed(&f, "", 0, &consumed), TB_EAGAIN);
    assert_int_equal(consumed, 0);
    assert_int_equal(feed(&f, "ok", 2, &consumed), TB_OK);
    assert_int_equal(consumed, 2);
    fixture_end(&f);
}

static void test_tb_http1_parse_body__after_bodyless_message(void **state)
{
    struct fixture f;
    size_t consumed;

    (void)state;
    fixture_start(&f, TB_HTTP1_REQUEST, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    assert_true(f.msg.flags & TB_MSG_F_NO_BODY);
    assert_int_equal(feed(&f, "GET /2 HTTP/1.1\r\n", 17, &consumed), TB_OK);
    assert_int_equal(consumed, 0);
    fixture_end(&f);

    fixture_start(&f, TB_HTTP1_RESPONSE, "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                  0);
    assert_int_equal(feed(&f, "HTTP/1.1 200 OK\r\n", 17, &consumed), TB_OK);
    assert_int_equal(consumed, 0);
    assert_int_equal(f.sink.calls, 0);
    fixture_end(&f);
}

static void test_tb_http1_parse_body__parser_reuse_for_pipelined_message(void **state)
{
    static const char stream[] = "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                                 "GET /2 HTTP/1.1\r\nHost: b\r\n\r\n";
    size_t len = sizeof(stream) - 1;
    char *buf = tb_test_guarded(stream, len);
    struct tb_arena *arena = tb_arena_new(256, 1 << 16);
    struct tb_http1_parser p;
    struct tb_http_msg msg;
    size_t head_len, consumed, off;

    (void)state;
    head_len = tb_http1_find_head_end(buf, len, 0);
    tb_http1_parser_init(&p, TB_HTTP1_REQUEST);
    assert_int_equal(tb_http1_parse_head(&p, arena, buf, head_len, 0, &msg), TB_OK);
    assert_iov_equal(msg.target, "/1");
    assert_int_equal(tb_http1_parse_body(&p, buf + head_len, len - head_len, &consumed), TB_OK);
    assert_int_equal(consumed, 3);
    off = head_len + consumed;
    tb_arena_reset(arena);
    tb_http1_parser_init(&p, TB_HTTP1_REQUEST);
    assert_int_equal(tb_http1_find_head_end(buf + off, len - off, 0), len - off);
    assert_int_equal(tb_http1_parse_head(&p, arena, buf + off, len - off, 0, &msg), TB_OK);
    assert_iov_equal(msg.target, "/2");
    assert_headers(&msg.headers, "Host", "b");
    tb_arena_free(arena);
    tb_test_guarded_free(buf, len);
}

/* ------------------------------------------------------------------------ */
/* tb_http1_finish                                                          */

static void test_tb_http1_finish__until_eof_response(void **state)
{
    struct fixture f;
    size_t consumed;

    (void)state;
    fixture_start(&f, TB_HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\n\r\n", 0);
    assert_true(f.msg.flags & TB_MSG_F_BODY_UNTIL_EOF);
    assert_int_equal(feed(&f, "abc", 3, &consumed), TB_EAGAIN);
    assert_int_equal(consumed, 3);
    assert_int_equal(feed(&f, "de", 2, &consumed), TB_EAGAIN);
    assert_int_equal(tb_http1_finish(&f.p), TB_OK);
    assert_int_equal(f.sink.len, 5);
    assert_memory_equal(f.sink.data, "abcde", 5);
    fixture_end(&f);
}

static void test_tb_http1_finish__until_eof_empty_body(void **state)
{
    struct fixture f;

    (void)state;
    fixture_start(&f, TB_HTTP1_RESPONSE, "HTTP/1.0 200 OK\r\nServer: s\r\n\r\n", 0);
    assert_int_equal(tb_http1_finish(&f.p), TB_OK);
    assert_int_equal(f.sink.len, 0);
    fixture_end(&f);
}

static void test_tb_http1_finish__truncated_content_length(void **state)
{
    struct fixture f;
    size_t consumed;

    (void)state;
    fixture_start(&f, TB_HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0);
    assert_int_equal(feed(&f, "ab", 2, &consumed), TB_EAGAIN);
    assert_int_equal(tb_http1_finish(&f.p), TB_EINVAL);
    fixture_end(&f);
}

static void test_tb_http1_finish__truncated_chunked(void **state)
{
    struct fixture f;
    size_t consumed;

    (void)state;
    fixture_start(&f, TB_HTTP1_RESPONSE, CHUNKED_RESP, 0);
    assert_int_equal(feed(&f, "5\r\nab", 5, &consumed), TB_EAGAIN);
    assert_int_equal(tb_http1_finish(&f.p), TB_EINVAL);
    fixture_end(&f);
}

static void test_tb_http1_finish__truncated_request_body(void **state)
{
    struct fixture f;
    size_t consumed;

    (void)state;
    fixture_start(&f, TB_HTTP1_REQUEST, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n",
                  0);
    assert_int_equal(feed(&f, "ab", 2, &consumed), TB_EAGAIN);
    assert_int_equal(tb_http1_finish(&f.p), TB_EINVAL);
    fixture_end(&f);
}

static void test_tb_http1_finish__after_complete_message(void **state)
{
    struct fixture f;
    size_t consumed;

    (void)state;
    fixture_start(&f, TB_HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", 0);
    assert_int_equal(feed(&f, "ok", 2, &consumed), TB_OK);
    assert_int_equal(tb_http1_finish(&f.p), TB_OK);
    fixture_end(&f);

    fixture_start(&f, TB_HTTP1_RESPONSE, "HTTP/1.1 204 No Content\r\n\r\n", 0);
    assert_int_equal(tb_http1_finish(&f.p), TB_OK);
    fixture_end(&f);
}

/* ------------------------------------------------------------------------ */
/* tb_http1_remove_hop_by_hop                                               */

static void msg_with_headers(struct tb_arena *arena, struct tb_http_msg *msg,
                             const char *const *pairs)
{
    memset(msg, 0, sizeof(*msg));
    tb_headers_init(&msg->headers);
    tb_test_headers_build(arena, &msg->headers, pairs);
}

#define MSG(arena, msg, ...)                                                                       \
    msg_with_headers((arena), (msg), (const char *const[]){__VA_ARGS__, NULL})

static int setup_arena(void **state)
{
    *state = tb_arena_new(1024, 1 << 16);
    return 0;
}

static int teardown_arena(void **state)
{
    tb_arena_free(*state);
    return 0;
}

static void test_tb_http1_remove_hop_by_hop__fixed_names(void **state)
{
    struct tb_http_msg msg;

    MSG(*state, &msg, "Host", "a", "Connection", "close", "Keep-Alive", "timeout=5", "Accept",
        "*/*", "Proxy-Connection", "keep-alive", "TE", "trailers", "Trailer", "X-Sum", "Upgrade",
        "h2c", "X-Trace", "1", "keep-alive", "max=1", "Transfer-Encoding", "chunked");
    tb_http1_remove_hop_by_hop(&msg, 0);
    assert_headers(&msg.headers, "Host", "a", "Accept", "*/*", "X-Trace", "1", "Transfer-Encoding",
                   "chunked");
}

static void test_tb_http1_remove_hop_by_hop__connection_options(void **state)
{
    struct tb_http_msg msg;

    MSG(*state, &msg, "X-Foo", "1", "Connection", "X-Foo, x-BAR ,, x-baz", "x-bar", "2", "X-Keep",
        "3", "X-BAZ", "4", "x-foo", "5");
    tb_http1_remove_hop_by_hop(&msg, 0);
    assert_headers(&msg.headers, "X-Keep", "3");
}

static void test_tb_http1_remove_hop_by_hop__several_connection_headers(void **state)
{
    struct tb_http_msg msg;

    MSG(*state, &msg, "connection", "x-a", "A", "1", "X-A", "2", "X-B", "3", "CONNECTION", "X-B",
        "B", "4", "Connection", "keep-alive", "Keep-Alive", "timeout=1");
    tb_http1_remove_hop_by_hop(&msg, 0);
    assert_headers(&msg.headers, "A", "1", "B", "4");
}

static void test_tb_http1_remove_hop_by_hop__connection_naming_connection(void **state)
{
    struct tb_http_msg msg;

    /* The first Connection header names "connection"; the options of the
     * second must still be honoured. */
    MSG(*state, &msg, "Connection", "connection, x-a", "Connection", "x-b", "X-A", "1", "X-B", "2",
        "Keep", "3");
    tb_http1_remove_hop_by_hop(&msg, 0);
    assert_headers(&msg.headers, "Keep", "3");
}

static void test_tb_http1_remove_hop_by_hop__nothing_to_remove(void **state)
{
    struct tb_http_msg msg;

    MSG(*state, &msg, "Host", "a", "X", "1", "Y", "2", "x", "3");
    tb_http1_remove_hop_by_hop(&msg, 0);
    assert_headers(&msg.headers, "Host", "a", "X", "1", "Y", "2", "x", "3");

    MSG(*state, &msg, "Connection", "close");
    tb_http1_remove_hop_by_hop(&msg, 0);
    assert_int_equal(msg.headers.num, 0);
}

static void test_tb_http1_remove_hop_by_hop__upgrade_removed(void **state)
{
    struct tb_http_msg msg;

    MSG(*state, &msg, "Host", "a", "Connection", "Upgrade", "Upgrade", "websocket", "X", "1");
    tb_http1_remove_hop_by_hop(&msg, 0);
    assert_headers(&msg.headers, "Host", "a", "X", "1");
}

static void test_tb_http1_remove_hop_by_hop__upgrade_kept(void **state)
{
    struct tb_http_msg msg;

    MSG(*state, &msg, "Host", "a", "Connection", "Upgrade", "Upgrade", "websocket", "X", "1",
        "Keep-Alive", "timeout=1");
    tb_http1_remove_hop_by_hop(&msg, 1);
    /* Upgrade stays; Connection goes (the caller adds Connection: upgrade). */
    assert_headers(&msg.headers, "Host", "a", "Upgrade", "websocket", "X", "1");
}

static void test_tb_http1_remove_hop_by_hop__upgrade_kept_drops_other_options(void **state)
{
    struct tb_http_msg msg;

    MSG(*state, &msg, "Connection", "upgrade, x-secret", "Upgrade", "websocket", "X-Secret", "s",
        "Host", "a");
    tb_http1_remove_hop_by_hop(&msg, 1);
    assert_int_equal(tb_headers_find(&msg.headers, TB_STRLIT("x-secret"), 0), -1);
    assert_true(tb_headers_find_token(&msg.headers, TB_HDR_UPGRADE, 0) >= 0);
    assert_true(tb_headers_find_token(&msg.headers, TB_HDR_HOST, 0) >= 0);
}

/* RFC 9110 §7.6.1: a connection option must not name a field intended for
 * every recipient. Removing the framing headers because the client listed
 * them would forward a body whose length the next hop cannot see. */
static void test_tb_http1_remove_hop_by_hop__framing_headers_survive(void **state)
{
    struct tb_http_msg msg;

    MSG(*state, &msg, "Host", "a", "Connection", "Content-Length, Transfer-Encoding, x-a",
        "Content-Length", "5", "X-A", "1");
    tb_http1_remove_hop_by_hop(&msg, 0);
    assert_headers(&msg.headers, "Host", "a", "Content-Length", "5");

    MSG(*state, &msg, "Host", "a", "Connection", "transfer-encoding", "Transfer-Encoding",
        "chunked");
    tb_http1_remove_hop_by_hop(&msg, 0);
    assert_headers(&msg.headers, "Host", "a", "Transfer-Encoding", "chunked");
}

/* ------------------------------------------------------------------------ */
/* serialization                                                            */

/* Formats into a guarded buffer of exactly the announced size: writing one
 * byte more faults. Returns the buffer; the caller frees it with `size`. */
static char *format_guarded(const struct tb_http_msg *msg, int is_request, size_t *size)
{
    char *buf, *end;

    *size = is_request ? tb_http1_request_head_size(msg) : tb_http1_response_head_size(msg);
    {
        char zeros[4096] = {0};

        assert_true(*size <= sizeof(zeros));
        buf = tb_test_guarded(zeros, *size);
    }
    end = is_request ? tb_http1_format_request_head(msg, buf)
                     : tb_http1_format_response_head(msg, buf);
    assert_int_equal(end - buf, *size);
    return buf;
}

static void test_tb_http1_format_request_head__exact_bytes(void **state)
{
    static const char want[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    struct tb_http_msg msg;
    size_t size;
    char *buf;

    MSG(*state, &msg, "Host", "a");
    msg.method = TB_IOV_LIT("GET");
    msg.target = TB_IOV_LIT("/x");
    msg.version_major = 1;
    msg.version_minor = 1;
    buf = format_guarded(&msg, 1, &size);
    assert_int_equal(size, sizeof(want) - 1);
    assert_memory_equal(buf, want, size);
    tb_test_guarded_free(buf, size);
}

static void test_tb_http1_format_request_head__no_headers_and_http10(void **state)
{
    static const char want[] = "POST /a?b HTTP/1.1\r\n\r\n";
    struct tb_http_msg msg;
    size_t size;
    char *buf;

    (void)state;
    memset(&msg, 0, sizeof(msg));
    tb_headers_init(&msg.headers);
    msg.method = TB_IOV_LIT("POST");
    msg.target = TB_IOV_LIT("/a?b");
    msg.version_major = 1;
    msg.version_minor = 0; /* always sent as HTTP/1.1 */
    buf = format_guarded(&msg, 1, &size);
    assert_int_equal(size, sizeof(want) - 1);
    assert_memory_equal(buf, want, size);
    tb_test_guarded_free(buf, size);
}

static void test_tb_http1_format_request_head__order_and_empty_values(void **state)
{
    static const char want[] =
        "PUT /p HTTP/1.1\r\nHost: h\r\nx-a: 1\r\nX-Empty: \r\nX-A: 2\r\n\r\n";
    struct tb_http_msg msg;
    size_t size;
    char *buf;

    MSG(*state, &msg, "Host", "h", "x-a", "1", "X-Empty", "", "X-A", "2");
    msg.method = TB_IOV_LIT("PUT");
    msg.target = TB_IOV_LIT("/p");
    buf = format_guarded(&msg, 1, &size);
    assert_int_equal(size, sizeof(want) - 1);
    assert_memory_equal(buf, want, size);
    tb_test_guarded_free(buf, size);
}

static void test_tb_http1_format_response_head__exact_bytes(void **state)
{
    static const char want[] = "HTTP/1.1 204 No Content\r\nServer: s\r\nX-A: 1\r\n\r\n";
    struct tb_http_msg msg;
    size_t size;
    char *buf;

    MSG(*state, &msg, "Server", "s", "X-A", "1");
    msg.status = 204;
    msg.reason = TB_IOV_LIT("No Content");
    buf = format_guarded(&msg, 0, &size);
    assert_int_equal(size, sizeof(want) - 1);
    assert_memory_equal(buf, want, size);
    tb_test_guarded_free(buf, size);
}

static void test_tb_http1_format_response_head__empty_reason(void **state)
{
    static const char want[] = "HTTP/1.1 200 \r\n\r\n";
    struct tb_http_msg msg;
    size_t size;
    char *buf;

    (void)state;
    memset(&msg, 0, sizeof(msg));
    tb_headers_init(&msg.headers);
    msg.status = 200;
    msg.reason = (struct tb_iov){"", 0};
    buf = format_guarded(&msg, 0, &size);
    assert_int_equal(size, sizeof(want) - 1);
    assert_memory_equal(buf, want, size);
    tb_test_guarded_free(buf, size);
}

static void test_tb_http1_format_response_head__status_digits(void **state)
{
    static const int statuses[] = {100, 101, 200, 302, 404, 418, 500, 503, 599};
    struct tb_http_msg msg;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(statuses); i++) {
        char want[32];
        size_t size;
        char *buf;

        memset(&msg, 0, sizeof(msg));
        tb_headers_init(&msg.headers);
        msg.status = statuses[i];
        msg.reason = TB_IOV_LIT("R");
        snprintf(want, sizeof(want), "HTTP/1.1 %d R\r\n\r\n", statuses[i]);
        buf = format_guarded(&msg, 0, &size);
        assert_int_equal(size, strlen(want));
        assert_memory_equal(buf, want, size);
        tb_test_guarded_free(buf, size);
    }
}

/* ------------------------------------------------------------------------ */
/* round trip: parse → format → parse                                       */

struct round_trip_case {
    const char *name;
    enum tb_http1_kind kind;
    const char *head;
    unsigned parse_flags;
};

static int msgs_equal(const char *name, const struct tb_http_msg *a, const struct tb_http_msg *b)
{
    int ok = a->method.len == b->method.len &&
             memcmp(a->method.base, b->method.base, a->method.len) == 0 &&
             a->target.len == b->target.len &&
             memcmp(a->target.base, b->target.base, a->target.len) == 0 &&
             a->reason.len == b->reason.len &&
             memcmp(a->reason.base, b->reason.base, a->reason.len) == 0 && a->status == b->status &&
             a->method_id == b->method_id && a->flags == b->flags &&
             a->content_length == b->content_length && a->headers.num == b->headers.num;

    for (size_t i = 0; ok && i < a->headers.num; i++) {
        const struct tb_header *x = &a->headers.entries[i], *y = &b->headers.entries[i];

        ok = x->name.len == y->name.len && memcmp(x->name.base, y->name.base, x->name.len) == 0 &&
             x->value.len == y->value.len &&
             memcmp(x->value.base, y->value.base, x->value.len) == 0 && x->token == y->token;
    }
    if (!ok)
        case_error("round_trip", name, "re-parsed message differs (flags 0x%x vs 0x%x)",
                   (unsigned)a->flags, (unsigned)b->flags);
    return ok;
}

static int round_trip(const struct round_trip_case *c)
{
    int is_request = c->kind == TB_HTTP1_REQUEST;
    size_t len = strlen(c->head), size;
    char *in = tb_test_guarded(c->head, len), *out;
    struct tb_arena *arena = tb_arena_new(256, 1 << 16);
    struct tb_http1_parser p;
    struct tb_http_msg first, second;
    int ok = 1;

    tb_http1_parser_init(&p, c->kind);
    if (tb_http1_parse_head(&p, arena, in, len, c->parse_flags, &first) != TB_OK) {
        case_error("round_trip", c->name, "first parse failed: %s", reason_code(p.error));
        ok = 0;
        goto out;
    }
    out = format_guarded(&first, is_request, &size);
    tb_http1_parser_init(&p, c->kind);
    if (tb_http1_find_head_end(out, size, 0) != size ||
        tb_http1_parse_head(&p, arena, out, size, c->parse_flags, &second) != TB_OK) {
        case_error("round_trip", c->name, "second parse failed: %s", reason_code(p.error));
        tb_test_print_bytes("  formatted: ", out, size);
        ok = 0;
    } else {
        ok = msgs_equal(c->name, &first, &second);
    }
    tb_test_guarded_free(out, size);
out:
    tb_arena_free(arena);
    tb_test_guarded_free(in, len);
    return ok;
}

static void test_tb_http1_format_request_head__round_trip(void **state)
{
    static const struct round_trip_case cases[] = {
        {"get", TB_HTTP1_REQUEST, "GET /x?y=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n", 0},
        {"post_cl", TB_HTTP1_REQUEST,
         "POST /u HTTP/1.1\r\nhost: a\r\nContent-Length: 12\r\nX-A: 1\r\nx-a: 2\r\n\r\n", 0},
        {"chunked", TB_HTTP1_REQUEST,
         "PUT /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
         0},
        {"trimmed_values", TB_HTTP1_REQUEST,
         "GET / HTTP/1.1\r\nHost:  a \r\nX-Empty:\r\nX:\t v \t\r\nConnection: close\r\n\r\n", 0},
        {"options_asterisk", TB_HTTP1_REQUEST, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0},
        {"upgrade", TB_HTTP1_REQUEST,
         "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", 0},
    };
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++)
        failed |= !round_trip(&cases[i]);
    assert_false(failed);
}

static void test_tb_http1_format_response_head__round_trip(void **state)
{
    static const struct round_trip_case cases[] = {
        {"response_cl", TB_HTTP1_RESPONSE,
         "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nSet-Cookie: a\r\nset-cookie: b\r\n\r\n", 0},
        {"response_chunked", TB_HTTP1_RESPONSE,
         "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
        {"response_until_eof", TB_HTTP1_RESPONSE, "HTTP/1.1 500 \r\nServer: s\r\n\r\n", 0},
        {"response_204", TB_HTTP1_RESPONSE, "HTTP/1.1 204 No Content\r\nX: y\r\n\r\n", 0},
        {"response_to_head", TB_HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
         TB_HTTP1_F_RESPONSE_TO_HEAD},
        {"response_101", TB_HTTP1_RESPONSE,
         "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n", 0},
    };
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++)
        failed |= !round_trip(&cases[i]);
    assert_false(failed);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_arena, teardown_arena)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_http1_find_head_end__table),
        cmocka_unit_test(test_tb_http1_find_head_end__incremental_arrival),
        cmocka_unit_test(test_tb_http1_parse_head__request_byte_rules),
        cmocka_unit_test(test_tb_http1_parse_head__request_field_names),
        cmocka_unit_test(test_tb_http1_parse_head__request_framing),
        cmocka_unit_test(test_tb_http1_parse_head__request_host),
        cmocka_unit_test(test_tb_http1_parse_head__request_line),
        cmocka_unit_test(test_tb_http1_parse_head__request_flags),
        cmocka_unit_test(test_tb_http1_parse_head__request_fields),
        cmocka_unit_test(test_tb_http1_parse_head__request_tokens_set),
        cmocka_unit_test(test_tb_http1_parse_head__exhausted_arena),
        cmocka_unit_test(test_tb_http1_parse_head__response_framing),
        cmocka_unit_test(test_tb_http1_parse_head__response_status_line),
        cmocka_unit_test(test_tb_http1_parse_head__response_strict_rules),
        cmocka_unit_test(test_tb_http1_parse_body__whole),
        cmocka_unit_test(test_tb_http1_parse_body__byte_by_byte),
        cmocka_unit_test(test_tb_http1_parse_body__every_split),
        cmocka_unit_test(test_tb_http1_parse_body__bad_framing),
        cmocka_unit_test(test_tb_http1_parse_body__on_body_abort),
        cmocka_unit_test(test_tb_http1_parse_body__without_callback),
        cmocka_unit_test(test_tb_http1_parse_body__empty_input),
        cmocka_unit_test(test_tb_http1_parse_body__after_bodyless_message),
        cmocka_unit_test(test_tb_http1_parse_body__parser_reuse_for_pipelined_message),
        cmocka_unit_test(test_tb_http1_finish__until_eof_response),
        cmocka_unit_test(test_tb_http1_finish__until_eof_empty_body),
        cmocka_unit_test(test_tb_http1_finish__truncated_content_length),
        cmocka_unit_test(test_tb_http1_finish__truncated_chunked),
        cmocka_unit_test(test_tb_http1_finish__truncated_request_body),
        cmocka_unit_test(test_tb_http1_finish__after_complete_message),
        T(test_tb_http1_remove_hop_by_hop__fixed_names),
        T(test_tb_http1_remove_hop_by_hop__connection_options),
        T(test_tb_http1_remove_hop_by_hop__several_connection_headers),
        T(test_tb_http1_remove_hop_by_hop__connection_naming_connection),
        T(test_tb_http1_remove_hop_by_hop__nothing_to_remove),
        T(test_tb_http1_remove_hop_by_hop__upgrade_removed),
        T(test_tb_http1_remove_hop_by_hop__upgrade_kept),
        T(test_tb_http1_remove_hop_by_hop__upgrade_kept_drops_other_options),
        T(test_tb_http1_remove_hop_by_hop__framing_headers_survive),
        T(test_tb_http1_format_request_head__exact_bytes),
        T(test_tb_http1_format_request_head__no_headers_and_http10),
        T(test_tb_http1_format_request_head__order_and_empty_values),
        T(test_tb_http1_format_response_head__exact_bytes),
        T(test_tb_http1_format_response_head__empty_reason),
        T(test_tb_http1_format_response_head__status_digits),
        cmocka_unit_test(test_tb_http1_format_request_head__round_trip),
        cmocka_unit_test(test_tb_http1_format_response_head__round_trip),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
