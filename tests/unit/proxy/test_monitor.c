/* SPDX-License-Identifier: MIT
 * Unit tests for proxy/monitor.c: the lag of a worker between two snapshots
 * is the mean lateness of its ticks, or how overdue its next tick is when a
 * callback holds the loop; a loop that is not running has none. And the
 * monitor's life cycle: a disabled monitor starts no thread, an enabled one
 * starts and stops promptly with its controller at level 0 when all is calm.
 */
#include <string.h>
#include <time.h>

#include "tb_test.h"

#include "proxy/config.h"
#include "proxy/monitor.h"
#include "proxy/worker.h"
#include "spans/degrade.h"

static struct tb_worker_lag lag(uint64_t total, uint64_t ticks, uint64_t last)
{
    return (struct tb_worker_lag){.total_ms = total, .ticks = ticks, .last_ms = last};
}

static void test_tb_monitor_loop_lag__mean_of_the_ticks_in_between(void **state)
{
    struct tb_worker_lag prev = lag(1000, 40, 9000), cur = lag(1600, 43, 10000);

    (void)state;
    /* 600 ms late over 3 ticks; the last tick is not overdue yet. */
    assert_int_equal(tb_monitor_loop_lag(&prev, &cur, 10010), 200);
    /* One very late tick among many is diluted. */
    cur = lag(1000 + 400, 40 + 8, 10000);
    assert_int_equal(tb_monitor_loop_lag(&prev, &cur, 10000), 50);
    /* The first evaluation compares with nothing: all the ticks so far. */
    memset(&prev, 0, sizeof(prev));
    cur = lag(30, 10, 10000);
    assert_int_equal(tb_monitor_loop_lag(&prev, &cur, 10000), 3);
}

static void test_tb_monitor_loop_lag__a_stuck_loop_is_overdue(void **state)
{
    struct tb_worker_lag prev = lag(0, 10, 10000), cur = lag(0, 10, 10000);

    (void)state;
    assert_int_equal(tb_monitor_loop_lag(&prev, &cur, 10000 + TB_WORKER_LAG_TICK_MS), 0);
    assert_int_equal(tb_monitor_loop_lag(&prev, &cur, 10000 + TB_WORKER_LAG_TICK_MS + 1), 1);
    assert_int_equal(tb_monitor_loop_lag(&prev, &cur, 10000 + TB_WORKER_LAG_TICK_MS + 700), 700);
    /* Whichever says more: a tick that was late, then nothing since. */
    cur = lag(90, 11, 10000);
    assert_int_equal(tb_monitor_loop_lag(&prev, &cur, 10000 + TB_WORKER_LAG_TICK_MS + 20), 90);
}

static void test_tb_monitor_loop_lag__a_loop_not_running_has_none(void **state)
{
    struct tb_worker_lag prev = lag(0, 10, 10000), cur = lag(5000, 20, 0);

    (void)state;
    assert_int_equal(tb_monitor_loop_lag(&prev, &cur, 999999), 0);
}

static void test_tb_monitor__disabled_or_without_exporter_stays_off(void **state)
{
    struct tb_config cfg;
    struct tb_monitor *m;

    (void)state;
    tb_config_defaults(&cfg);
    cfg.degrade_enabled = 1;
    cfg.export.enabled = 0; /* --exporter none: nothing to shed */
    m = tb_monitor_new(&cfg);
    assert_int_equal(tb_degrade_level(tb_monitor_degrade(m)), 0);
    assert_int_equal(tb_monitor_start(m, NULL, NULL, 0, NULL), TB_OK);
    tb_monitor_free(m);
    tb_monitor_free(NULL);
    tb_config_free(&cfg);
}

static void test_tb_monitor__starts_and_stops(void **state)
{
    struct tb_config cfg;
    struct tb_worker workers[2];
    struct tb_monitor *m;
    struct timespec three_periods = {0, 3 * TB_MONITOR_PERIOD_MS * 1000000L};
    uint64_t t0;

    (void)state;
    tb_config_defaults(&cfg);
    cfg.workers = 2;
    cfg.degrade_enabled = 1;
    cfg.degrade_queue_high = 80;
    cfg.degrade_lag_ms = 100;
    cfg.degrade_recover_ms = 5000;
    cfg.export.enabled = TB_EXPORTER_BIT(TB_EXPORTER_FILE);
    memset(workers, 0, sizeof(workers)); /* loops not running: no lag */
    m = tb_monitor_new(&cfg);
    assert_int_equal(tb_monitor_start(m, NULL, workers, 2, NULL), TB_OK);
    /* Let it evaluate a few times: nothing is late, nothing queued. */
    nanosleep(&three_periods, NULL);
    assert_int_equal(tb_degrade_level(tb_monitor_degrade(m)), 0);
    t0 = tb_worker_now_ms();
    tb_monitor_free(m);
    assert_true(tb_worker_now_ms() - t0 < 2 * TB_MONITOR_PERIOD_MS);
    tb_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_monitor_loop_lag__mean_of_the_ticks_in_between),
        cmocka_unit_test(test_tb_monitor_loop_lag__a_stuck_loop_is_overdue),
        cmocka_unit_test(test_tb_monitor_loop_lag__a_loop_not_running_has_none),
        cmocka_unit_test(test_tb_monitor__disabled_or_without_exporter_stays_off),
        cmocka_unit_test(test_tb_monitor__starts_and_stops),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
