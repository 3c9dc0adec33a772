/* SPDX-License-Identifier: MIT
 * Unit tests for spans/http_client.c: the Retry-After parser (delta-seconds
 * and IMF-fixdate) and the URL checks of tb_http_client_new. The POST path
 * itself is exercised against a loopback server in test_pipeline.c.
 */
#include <string.h>

#include "tb_test.h"

#include <event2/event.h>

#include "spans/http_client.h"

/* 2024-03-01 12:00:00 UTC */
#define NOW ((time_t)1709294400)

static void test_tb_http_parse_retry_after__table(void **state)
{
    static const struct {
        const char *value;
        int64_t expected_ms;
    } cases[] = {
        {"1", 1000},
        {"0", 0},
        {"120", 120000},
        {" 7\t", 7000},
        {"0003", 3000},
        {"86400", 86400000},
        {"99999999999999999999999", 86400000}, /* capped at a day, no overflow */
        {"Fri, 01 Mar 2024 12:00:05 GMT", 5000},
        {"Fri, 01 Mar 2024 13:00:00 GMT", 3600000},
        {"Fri, 01 Mar 2024 11:59:00 GMT", 0}, /* in the past: now */
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"", -1},
        {"   ", -1},
        {"-1", -1},
        {"1.5", -1},
        {"1 2", -1},
        {"soon", -1},
        {"Fri, 01 Mar 2024 12:00:05 UTC", -1},
        {"Fri, 1 Mar 2024 12:00:05 GMT", -1},
        {"Fri, 01 Foo 2024 12:00:05 GMT", -1},
        {"Fri, 01 Mar 2024 25:00:05 GMT", -1},
        {"Friday, 01-Mar-24 12:00:05 GMT", -1}, /* obsolete RFC 850 form */
        {"Fri Mar  1 12:00:05 2024", -1},       /* obsolete asctime form */
    };

    (void)state;
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        int64_t got = tb_http_parse_retry_after(cases[i].value, NOW);

        if (got != cases[i].expected_ms) {
            print_error("case %zu \"%s\": got %lld, expected %lld\n", i, cases[i].value,
                        (long long)got, (long long)cases[i].expected_ms);
            fail();
        }
    }
    assert_int_equal(tb_http_parse_retry_after(NULL, NOW), -1);
}

static void test_tb_http_client_new__urls(void **state)
{
    static const struct {
        const char *url;
        bool ok;
        const char *err_part; /* expected in the reason when !ok */
    } cases[] = {
        {"http://127.0.0.1:4318/v1/traces", true, NULL},
        {"http://localhost/api/v2/spans", true, NULL},
        {"HTTP://127.0.0.1:9411", true, NULL},
        {"http://[::1]:4318/v1/traces?x=1", true, NULL},
        {"https://collector:4318/v1/traces", false, "\"https://collector:4318/v1/traces\": https"},
        {"ftp://collector/", false, "not an http:// URL"},
        {"collector:4318", false, "collector:4318"},
        {"", false, "\"\""},
        {"http:///v1/traces", false, "no host"},
        {"http://a b/", false, "a b"},
    };
    struct event_base *base = event_base_new();

    (void)state;
    assert_non_null(base);
    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        char err[256] = "";
        struct tb_http_client *c = tb_http_client_new(base, cases[i].url, 1000, err, sizeof(err));

        if ((c != NULL) != cases[i].ok ||
            (!cases[i].ok && strstr(err, cases[i].err_part) == NULL)) {
            print_error("case %zu \"%s\": client %p, err \"%s\"\n", i, cases[i].url, (void *)c,
                        err);
            fail();
        }
        if (c != NULL)
            assert_false(tb_http_client_is_busy(c));
        tb_http_client_free(c);
    }
    tb_http_client_free(NULL);
    /* libevent finishes freeing a connection from the loop. */
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_http_parse_retry_after__table),
        cmocka_unit_test(test_tb_http_client_new__urls),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
