/* SPDX-License-Identifier: MIT
 * Unit tests for proxy/config.c: command-line flags through the directive table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/config.h"

struct cli_run {
    struct tb_config cfg;
    enum tb_config_cli_result result;
    char out[16384];
    char err[1024];
};

/* Runs the parser over a NULL-terminated list of arguments. */
static void run_cli(struct cli_run *run, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    FILE *out = fmemopen(run->out, sizeof(run->out), "w");
    FILE *err = fmemopen(run->err, sizeof(run->err), "w");

    argv[argc++] = "tracebridge";
    while (*args != NULL && argc < 31)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    memset(run->out, 0, sizeof(run->out));
    memset(run->err, 0, sizeof(run->err));
    tb_config_defaults(&run->cfg);
    run->result = tb_config_parse_cli(&run->cfg, argc, argv, out, err);
    fclose(out);
    fclose(err);
}

static void test_tb_config_defaults__documented_values(void **state)
{
    struct tb_config cfg;

    (void)state;
    tb_config_defaults(&cfg);
    assert_int_equal(cfg.workers, 1);
    assert_int_equal(cfg.connect_timeout_ms, 5000);
    assert_int_equal(cfg.header_timeout_ms, 10000);
    assert_int_equal(cfg.upstream_timeout_ms, 60000);
    assert_int_equal(cfg.idle_timeout_ms, 60000);
    assert_int_equal(cfg.drain_timeout_ms, 30000);
    assert_int_equal(cfg.max_header_size, 65536);
    assert_int_equal(cfg.max_request_line, 8192);
    assert_int_equal(cfg.max_idle_upstream, 32);
}

static void test_tb_config_parse_cli__every_flag(void **state)
{
    static const char *const args[] = {"--listen",
                                       "127.0.0.1:8080",
                                       "--upstream=[::1]:9000",
                                       "--workers",
                                       "4",
                                       "--connect-timeout",
                                       "0.25",
                                       "--header-timeout",
                                       "1.5",
                                       "--upstream-timeout",
                                       "30",
                                       "--idle-timeout",
                                       "2",
                                       "--drain-timeout",
                                       "0",
                                       "--max-header-size",
                                       "32k",
                                       "--max-request-line",
                                       "4096",
                                       "--max-idle-upstream",
                                       "0",
                                       "--log-level",
                                       "debug",
                                       NULL};
    struct cli_run run;

    (void)state;
    run_cli(&run, args);
    assert_int_equal(run.result, TB_CONFIG_CLI_RUN);
    assert_string_equal(run.cfg.listen.host, "127.0.0.1");
    assert_string_equal(run.cfg.listen.port, "8080");
    assert_string_equal(run.cfg.upstream.host, "::1");
    assert_string_equal(run.cfg.upstream.port, "9000");
    assert_int_equal(run.cfg.workers, 4);
    assert_int_equal(run.cfg.connect_timeout_ms, 250);
    assert_int_equal(run.cfg.header_timeout_ms, 1500);
    assert_int_equal(run.cfg.upstream_timeout_ms, 30000);
    assert_int_equal(run.cfg.idle_timeout_ms, 2000);
    assert_int_equal(run.cfg.drain_timeout_ms, 0);
    assert_int_equal(run.cfg.max_header_size, 32768);
    assert_int_equal(run.cfg.max_request_line, 4096);
    assert_int_equal(run.cfg.max_idle_upstream, 0);
    assert_int_equal(run.cfg.log_level, 0);
}

static void test_tb_config_parse_cli__errors_name_the_flag(void **state)
{
    static const struct {
        const char *args[6];
        const char *expected; /* substring of the error */
    } cases[] = {
        {{"--upstream", "h:1", NULL}, "--listen HOST:PORT is required"},
        {{"--listen", "h:1", NULL}, "--upstream HOST:PORT is required"},
        {{"--listen", "h", "--upstream", "h:1", NULL}, "'--listen'"},
        {{"--listen", "h:99999", "--upstream", "h:1", NULL}, "port from 0 to 65535"},
        {{"--listen", "h:1", "--upstream", "h:1", "--workers", NULL}, "needs a value"},
        {{"--listen", "h:1", "--upstream", "h:1", "--workers=0", NULL}, "from 1 to 256"},
        {{"--listen", "h:1", "--upstream", "h:1", "--idle-timeout=-1", NULL}, "seconds"},
        {{"--listen", "h:1", "--upstream", "h:1", "--header-timeout=abc", NULL}, "seconds"},
        {{"--listen", "h:1", "--upstream", "h:1", "--max-header-size=12q", NULL}, "byte count"},
        {{"--listen", "h:1", "--upstream", "h:1", "--log-level=loud", NULL}, "one of debug"},
        {{"--listen", "h:1", "--upstream", "h:1", "--frobnicate", NULL}, "unknown option"},
        {{"stray", NULL}, "unexpected argument"},
    };
    struct cli_run run;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_cli(&run, cases[i].args);
        if (run.result != TB_CONFIG_CLI_ERROR || strstr(run.err, cases[i].expected) == NULL)
            fail_msg("case %zu: result %d, error '%s', expected '%s'", i, run.result, run.err,
                     cases[i].expected);
    }
}

static void test_tb_config_parse_cli__help_lists_every_flag(void **state)
{
    static const char *const args[] = {"--help", NULL};
    static const char *const flags[] = {"--listen",
                                        "--upstream",
                                        "--workers",
                                        "--connect-timeout",
                                        "--header-timeout",
                                        "--upstream-timeout",
                                        "--idle-timeout",
                                        "--drain-timeout",
                                        "--max-header-size",
                                        "--max-request-line",
                                        "--max-idle-upstream",
                                        "--log-level",
                                        "--help",
                                        "--version"};
    struct cli_run run;

    (void)state;
    run_cli(&run, args);
    assert_int_equal(run.result, TB_CONFIG_CLI_EXIT_OK);
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (strstr(run.out, flags[i]) == NULL)
            fail_msg("--help does not list %s", flags[i]);
}

static void test_tb_config_parse_cli__version(void **state)
{
    static const char *const args[] = {"--version", NULL};
    struct cli_run run;

    (void)state;
    run_cli(&run, args);
    assert_int_equal(run.result, TB_CONFIG_CLI_EXIT_OK);
    assert_non_null(strstr(run.out, "tracebridge "));
}

static void test_tb_address_format__brackets_ipv6(void **state)
{
    struct tb_address v6 = {"::1", "80"}, v4 = {"10.0.0.1", "8080"};
    char buf[300];

    (void)state;
    tb_address_format(&v6, buf, sizeof(buf));
    assert_string_equal(buf, "[::1]:80");
    tb_address_format(&v4, buf, sizeof(buf));
    assert_string_equal(buf, "10.0.0.1:8080");
}

static void test_tb_config_parse_cli__propagation_flags(void **state)
{
    static const char *const args[] = {"--listen",
                                       "127.0.0.1:8080",
                                       "--upstream",
                                       "127.0.0.1:9000",
                                       "--propagators",
                                       "b3multi, sw8,b3multi",
                                       "--extract",
                                       "sw8,tracecontext",
                                       "--inject-mode",
                                       "add",
                                       "--clear",
                                       "jaeger,ottrace",
                                       "--service-name",
                                       "orders",
                                       "--service-instance",
                                       "orders-1@10.0.0.7",
                                       NULL};
    struct cli_run run;
    const struct tb_prop_policy *p = &run.cfg.propagation;

    (void)state;
    run_cli(&run, args);
    assert_int_equal(run.result, TB_CONFIG_CLI_RUN);
    assert_int_equal(p->num_inject, 2);
    assert_int_equal(p->inject[0], TB_FORMAT_B3MULTI);
    assert_int_equal(p->inject[1], TB_FORMAT_SW8);
    assert_int_equal(p->num_extract, 2);
    assert_int_equal(p->extract[0], TB_FORMAT_SW8);
    assert_int_equal(p->extract[1], TB_FORMAT_TRACECONTEXT);
    assert_int_equal(p->mode, TB_INJECT_ADD);
    assert_int_equal(p->clear, TB_FORMAT_BIT(TB_FORMAT_JAEGER) | TB_FORMAT_BIT(TB_FORMAT_OTTRACE));
    assert_string_equal(run.cfg.service_name, "orders");
    assert_string_equal(run.cfg.service_instance, "orders-1@10.0.0.7");
}

static void test_tb_config_parse_cli__propagation_defaults_and_none(void **state)
{
    static const char *const args[] = {
        "--listen",      "127.0.0.1:8080", "--upstream", "127.0.0.1:9000",
        "--propagators", "none",           NULL};
    struct tb_config cfg;
    struct cli_run run;

    (void)state;
    tb_config_defaults(&cfg);
    assert_int_equal(cfg.propagation.num_inject, 2);
    assert_int_equal(cfg.propagation.inject[0], TB_FORMAT_TRACECONTEXT);
    assert_int_equal(cfg.propagation.inject[1], TB_FORMAT_BAGGAGE);
    assert_int_equal(cfg.propagation.num_extract, TB_FORMAT_NUM);
    assert_int_equal(cfg.propagation.mode, TB_INJECT_REPLACE);
    assert_int_equal(cfg.propagation.clear, 0);
    assert_string_equal(cfg.service_name, "tracebridge");
    run_cli(&run, args);
    assert_int_equal(run.result, TB_CONFIG_CLI_RUN);
    assert_int_equal(run.cfg.propagation.num_inject, 0);
}

static void test_tb_config_parse_cli__propagation_errors(void **state)
{
    static const struct {
        const char *flag, *value, *message;
    } cases[] = {
        {"--propagators", "tracecontext,zipkin", "'zipkin' is not one"},
        {"--propagators", "none,b3", "'none' is not one"},
        {"--extract", "b3,,jaeger", "is not one"},
        {"--clear", "w3c", "'w3c' is not one"},
        {"--inject-mode", "merge", "replace or add"},
        {"--service-name", "has space", "visible ASCII"},
        {"--service-name", "", "1 to 127 characters"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[] = {"--listen",    "127.0.0.1:1",  "--upstream", "127.0.0.1:2",
                              cases[i].flag, cases[i].value, NULL};
        struct cli_run run;

        run_cli(&run, args);
        assert_int_equal(run.result, TB_CONFIG_CLI_ERROR);
        if (strstr(run.err, cases[i].flag) == NULL || strstr(run.err, cases[i].message) == NULL)
            fail_msg("%s %s: got '%s'", cases[i].flag, cases[i].value, run.err);
    }
}

static const char *fake_env_value;
static const char *fake_env_name;

static const char *fake_getenv(const char *name)
{
    return strcmp(name, fake_env_name) == 0 ? fake_env_value : NULL;
}

static void test_tb_config_apply_env__otel_variables(void **state)
{
    struct tb_config cfg;
    char err[512] = "";
    FILE *f;

    (void)state;
    tb_config_defaults(&cfg);
    fake_env_name = "OTEL_PROPAGATORS";
    fake_env_value = "b3,jaeger";
    assert_int_equal(tb_config_apply_env(&cfg, fake_getenv, stderr), 0);
    assert_int_equal(cfg.propagation.num_inject, 2);
    assert_int_equal(cfg.propagation.inject[0], TB_FORMAT_B3);
    assert_int_equal(cfg.propagation.inject[1], TB_FORMAT_JAEGER);

    fake_env_name = "OTEL_SERVICE_NAME";
    fake_env_value = "checkout";
    assert_int_equal(tb_config_apply_env(&cfg, fake_getenv, stderr), 0);
    assert_string_equal(cfg.service_name, "checkout");

    fake_env_name = "OTEL_PROPAGATORS";
    fake_env_value = "b3,nope";
    f = fmemopen(err, sizeof(err), "w");
    assert_int_equal(tb_config_apply_env(&cfg, fake_getenv, f), -1);
    fclose(f);
    assert_non_null(strstr(err, "OTEL_PROPAGATORS"));
    assert_non_null(strstr(err, "'nope'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_config_defaults__documented_values),
        cmocka_unit_test(test_tb_config_parse_cli__every_flag),
        cmocka_unit_test(test_tb_config_parse_cli__errors_name_the_flag),
        cmocka_unit_test(test_tb_config_parse_cli__help_lists_every_flag),
        cmocka_unit_test(test_tb_config_parse_cli__version),
        cmocka_unit_test(test_tb_address_format__brackets_ipv6),
        cmocka_unit_test(test_tb_config_parse_cli__propagation_flags),
        cmocka_unit_test(test_tb_config_parse_cli__propagation_defaults_and_none),
        cmocka_unit_test(test_tb_config_parse_cli__propagation_errors),
        cmocka_unit_test(test_tb_config_apply_env__otel_variables),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
