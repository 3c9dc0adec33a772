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
    char out[4096];
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_config_defaults__documented_values),
        cmocka_unit_test(test_tb_config_parse_cli__every_flag),
        cmocka_unit_test(test_tb_config_parse_cli__errors_name_the_flag),
        cmocka_unit_test(test_tb_config_parse_cli__help_lists_every_flag),
        cmocka_unit_test(test_tb_config_parse_cli__version),
        cmocka_unit_test(test_tb_address_format__brackets_ipv6),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
