/* SPDX-License-Identifier: MIT
 * Unit tests for spans/degrade.c, driven by a fake clock: a trigger (queue
 * fill or loop lag) raises the level one step per evaluation up to 3; calm
 * must last the recovery time before each step down; values between half
 * the mark and the mark neither raise nor lower it; a disabled controller
 * or a trigger set to 0 never acts; the stats and the log fields say what
 * happened; level 1's thinning keeps a deterministic tenth of the traces.
 */
#include <string.h>

#include "tb_test.h"

#include "spans/degrade.h"
#include "spans/sampler.h"

static const struct tb_degrade_config default_cfg = {
    .enabled = true,
    .queue_high = 0.80,
    .lag_ms = 100,
    .recover_ms = 5000,
};

static struct tb_degrade_sample sample(double fill, uint64_t lag_ms)
{
    return (struct tb_degrade_sample){.queue_fill = fill, .lag_ms = lag_ms};
}

/* Evaluates and asserts that nothing changed. */
static void hold(struct tb_degrade *d, uint64_t now, double fill, uint64_t lag, unsigned level)
{
    struct tb_degrade_change c = {.from = 99, .to = 99};
    struct tb_degrade_sample s = sample(fill, lag);

    assert_false(tb_degrade_eval(d, now, &s, &c));
    assert_int_equal(c.from, 99); /* untouched */
    assert_int_equal(tb_degrade_level(d), level);
}

/* Evaluates and asserts one change `from` → `to` for `reason`. */
static struct tb_degrade_change step(struct tb_degrade *d, uint64_t now, double fill, uint64_t lag,
                                     unsigned from, unsigned to, enum tb_degrade_reason reason)
{
    struct tb_degrade_change c;
    struct tb_degrade_sample s = sample(fill, lag);

    memset(&c, 0, sizeof(c));
    assert_true(tb_degrade_eval(d, now, &s, &c));
    assert_int_equal(c.from, from);
    assert_int_equal(c.to, to);
    assert_int_equal(c.reason, reason);
    assert_true(c.sample.queue_fill == fill);
    assert_int_equal(c.sample.lag_ms, lag);
    assert_int_equal(tb_degrade_level(d), to);
    return c;
}

static void test_tb_degrade_new__starts_normal(void **state)
{
    struct tb_degrade *d = tb_degrade_new(&default_cfg, 1234);
    struct tb_degrade_stats st;

    (void)state;
    assert_int_equal(tb_degrade_level(d), TB_DEGRADE_NORMAL);
    tb_degrade_stats(d, &st);
    assert_int_equal(st.level, 0);
    for (unsigned i = 0; i < TB_DEGRADE_NUM_LEVELS; i++)
        assert_int_equal(st.transitions[i], 0);
    assert_int_equal(st.entered_ms[0], 1234);
    assert_int_equal(st.entered_ms[1], 0);
    assert_int_equal(tb_degrade_level(NULL), TB_DEGRADE_NORMAL);
    tb_degrade_free(d);
    tb_degrade_free(NULL);
}

static void test_tb_degrade_eval__queue_escalates_one_step_per_evaluation(void **state)
{
    struct tb_degrade *d = tb_degrade_new(&default_cfg, 0);
    struct tb_degrade_stats st;

    (void)state;
    hold(d, 250, 0.79, 0, 0); /* just under the mark */
    step(d, 500, 0.80, 0, 0, 1, TB_DEGRADE_REASON_EXPORT_QUEUE);
    step(d, 750, 0.95, 0, 1, 2, TB_DEGRADE_REASON_EXPORT_QUEUE);
    step(d, 1000, 1.0, 0, 2, 3, TB_DEGRADE_REASON_EXPORT_QUEUE);
    hold(d, 1250, 1.0, 0, 3); /* 3 is the top */
    hold(d, 1500, 1.0, 0, 3);
    tb_degrade_stats(d, &st);
    assert_int_equal(st.level, 3);
    assert_int_equal(st.transitions[0], 0);
    assert_int_equal(st.transitions[1], 1);
    assert_int_equal(st.transitions[2], 1);
    assert_int_equal(st.transitions[3], 1);
    assert_int_equal(st.entered_ms[1], 500);
    assert_int_equal(st.entered_ms[2], 750);
    assert_int_equal(st.entered_ms[3], 1000);
    tb_degrade_free(d);
}

static void test_tb_degrade_eval__lag_escalates(void **state)
{
    struct tb_degrade *d = tb_degrade_new(&default_cfg, 0);

    (void)state;
    hold(d, 100, 0, 99, 0);
    step(d, 200, 0, 100, 0, 1, TB_DEGRADE_REASON_LOOP_LAG);
    step(d, 300, 0.1, 5000, 1, 2, TB_DEGRADE_REASON_LOOP_LAG);
    tb_degrade_free(d);
}

static void test_tb_degrade_eval__both_triggers_name_the_queue(void **state)
{
    struct tb_degrade *d = tb_degrade_new(&default_cfg, 0);

    (void)state;
    step(d, 100, 0.9, 300, 0, 1, TB_DEGRADE_REASON_EXPORT_QUEUE);
    tb_degrade_free(d);
}

static void test_tb_degrade_eval__recovers_after_the_calm_period(void **state)
{
    struct tb_degrade *d = tb_degrade_new(&default_cfg, 0);
    struct tb_degrade_change c;
    struct tb_degrade_stats st;

    (void)state;
    step(d, 0, 0.9, 0, 0, 1, TB_DEGRADE_REASON_EXPORT_QUEUE);
    hold(d, 250, 0.39, 49, 1); /* calm starts here */
    hold(d, 2500, 0.0, 0, 1);
    hold(d, 5249, 0.0, 0, 1);
    c = step(d, 5250, 0.01, 3, 1, 0, TB_DEGRADE_REASON_RECOVERED);
    assert_int_equal(c.calm_ms, 5000);
    hold(d, 20000, 0.0, 0, 0); /* 0 is the bottom */
    tb_degrade_stats(d, &st);
    assert_int_equal(st.transitions[0], 1);
    assert_int_equal(st.entered_ms[0], 5250);
    tb_degrade_free(d);
}

static void test_tb_degrade_eval__steps_down_one_level_per_calm_period(void **state)
{
    struct tb_degrade *d = tb_degrade_new(&default_cfg, 0);
    unsigned changes = 0;

    (void)state;
    step(d, 0, 1.0, 0, 0, 1, TB_DEGRADE_REASON_EXPORT_QUEUE);
    step(d, 250, 1.0, 0, 1, 2, TB_DEGRADE_REASON_EXPORT_QUEUE);
    step(d, 500, 1.0, 0, 2, 3, TB_DEGRADE_REASON_EXPORT_QUEUE);
    /* Calm from t=750: one step down at 5750, 10750 and 15750, no sooner. */
    for (uint64_t t = 750; t <= 30000; t += 250) {
        struct tb_degrade_change c;
        struct tb_degrade_sample s = sample(0, 0);

        if (tb_degrade_eval(d, t, &s, &c)) {
            changes++;
            assert_int_equal(c.reason, TB_DEGRADE_REASON_RECOVERED);
            assert_int_equal(c.from, 4 - changes);
            assert_int_equal(c.to, 3 - changes);
            assert_int_equal(t, 750 + 5000 * changes);
            assert_int_equal(c.calm_ms, 5000);
        }
    }
    assert_int_equal(changes, 3);
    assert_int_equal(tb_degrade_level(d), 0);
    tb_degrade_free(d);
}

static void test_tb_degrade_eval__between_half_and_mark_holds(void **state)
{
    struct tb_degrade *d = tb_degrade_new(&default_cfg, 0);

    (void)state;
    step(d, 0, 0.9, 0, 0, 1, TB_DEGRADE_REASON_EXPORT_QUEUE);
    /* Neither a trigger nor calm: the level holds however long it lasts. */
    for (uint64_t t = 250; t <= 60000; t += 250)
        hold(d, t, t % 500 == 0 ? 0.40 : 0.79, 0, 1);
    for (uint64_t t = 60250; t <= 120000; t += 250)
        hold(d, t, 0.0, t % 500 == 0 ? 50 : 99, 1); /* lag at half its mark is not calm */
    tb_degrade_free(d);
}

static void test_tb_degrade_eval__a_busy_moment_restarts_the_calm(void **state)
{
    struct tb_degrade *d = tb_degrade_new(&default_cfg, 0);

    (void)state;
    step(d, 0, 0.9, 0, 0, 1, TB_DEGRADE_REASON_EXPORT_QUEUE);
    hold(d, 1000, 0.0, 0, 1);  /* calm since 1000 */
    hold(d, 5000, 0.5, 0, 1);  /* not calm: starts over */
    hold(d, 6000, 0.0, 0, 1);  /* calm since 6000 */
    hold(d, 10999, 0.0, 0, 1); /* 1000 + 5000 has passed, but not 6000 + 5000 */
    step(d, 11000, 0.0, 0, 1, 0, TB_DEGRADE_REASON_RECOVERED);
    tb_degrade_free(d);
}

static void test_tb_degrade_eval__a_trigger_during_recovery_escalates_again(void **state)
{
    struct tb_degrade *d = tb_degrade_new(&default_cfg, 0);

    (void)state;
    step(d, 0, 0.9, 0, 0, 1, TB_DEGRADE_REASON_EXPORT_QUEUE);
    step(d, 250, 0.9, 0, 1, 2, TB_DEGRADE_REASON_EXPORT_QUEUE);
    hold(d, 500, 0.0, 0, 2);
    step(d, 5000, 0.0, 200, 2, 3, TB_DEGRADE_REASON_LOOP_LAG);
    hold(d, 5250, 0.0, 0, 3);  /* calm since 5250 */
    hold(d, 10249, 0.0, 0, 3); /* the calm before the trigger does not count */
    step(d, 10250, 0.0, 0, 3, 2, TB_DEGRADE_REASON_RECOVERED);
    tb_degrade_free(d);
}

static void test_tb_degrade_eval__disabled_never_acts(void **state)
{
    struct tb_degrade_config cfg = default_cfg;
    struct tb_degrade *d;
    struct tb_degrade_stats st;

    (void)state;
    cfg.enabled = false;
    d = tb_degrade_new(&cfg, 0);
    for (uint64_t t = 0; t <= 10000; t += 250)
        hold(d, t, 1.0, 100000, 0);
    tb_degrade_stats(d, &st);
    for (unsigned i = 0; i < TB_DEGRADE_NUM_LEVELS; i++)
        assert_int_equal(st.transitions[i], 0);
    tb_degrade_free(d);
}

static void test_tb_degrade_eval__a_trigger_set_to_zero_is_off(void **state)
{
    struct tb_degrade_config cfg = default_cfg;
    struct tb_degrade *d;

    (void)state;
    cfg.queue_high = 0;
    d = tb_degrade_new(&cfg, 0);
    hold(d, 0, 1.0, 0, 0); /* a full queue is not a trigger */
    step(d, 250, 1.0, 100, 0, 1, TB_DEGRADE_REASON_LOOP_LAG);
    hold(d, 500, 1.0, 0, 1); /* nor a reason to stay */
    step(d, 5500, 1.0, 0, 1, 0, TB_DEGRADE_REASON_RECOVERED);
    tb_degrade_free(d);

    cfg = default_cfg;
    cfg.lag_ms = 0;
    d = tb_degrade_new(&cfg, 0);
    hold(d, 0, 0.0, 100000, 0);
    step(d, 250, 0.8, 100000, 0, 1, TB_DEGRADE_REASON_EXPORT_QUEUE);
    hold(d, 500, 0.0, 100000, 1);
    step(d, 5500, 0.0, 100000, 1, 0, TB_DEGRADE_REASON_RECOVERED);
    tb_degrade_free(d);
}

static void test_tb_degrade_describe__log_fields(void **state)
{
    char buf[128];
    struct tb_degrade_change up = {
        .from = 1, .to = 2, .reason = TB_DEGRADE_REASON_EXPORT_QUEUE, .sample = {0.934, 4}};
    struct tb_degrade_change lag = {
        .from = 0, .to = 1, .reason = TB_DEGRADE_REASON_LOOP_LAG, .sample = {0.0, 240}};
    struct tb_degrade_change down = {.from = 2,
                                     .to = 1,
                                     .reason = TB_DEGRADE_REASON_RECOVERED,
                                     .sample = {0.1, 1},
                                     .calm_ms = 5000};

    (void)state;
    assert_string_equal(tb_degrade_describe(&up, buf, sizeof(buf)),
                        " from=1 to=2 reason=export_queue fill=0.93 lag_ms=4");
    assert_string_equal(tb_degrade_describe(&lag, buf, sizeof(buf)),
                        " from=0 to=1 reason=loop_lag fill=0.00 lag_ms=240");
    assert_string_equal(tb_degrade_describe(&down, buf, sizeof(buf)),
                        " from=2 to=1 reason=recovered calm_ms=5000 fill=0.10 lag_ms=1");
    assert_string_equal(tb_degrade_describe(&up, buf, 10), " from=1 t");
}

/* xorshift64*: reproducible trace ids. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static void random_id(uint64_t *s, uint8_t id[16])
{
    uint64_t hi = next_rand(s), lo = next_rand(s);

    for (int i = 0; i < 8; i++) {
        id[i] = (uint8_t)(hi >> (8 * i));
        id[8 + i] = (uint8_t)(lo >> (8 * i));
    }
}

#define THIN_TRIALS 100000

static void test_tb_degrade_thin_keeps__a_tenth_of_the_default_samplers_traces(void **state)
{
    struct tb_sampler sampler;
    uint64_t seed = 42;
    unsigned kept = 0;

    (void)state;
    tb_sampler_default(&sampler);
    for (unsigned i = 0; i < THIN_TRIALS; i++) {
        uint8_t id[16];
        bool k;

        random_id(&seed, id);
        k = tb_degrade_thin_keeps(&sampler, id, TB_SAMPLING_ACCEPT);
        /* Deterministic: the same id, the same answer. */
        assert_int_equal(k, tb_degrade_thin_keeps(&sampler, id, TB_SAMPLING_ACCEPT));
        assert_true(tb_degrade_thin_keeps(&sampler, id, TB_SAMPLING_DEBUG));
        kept += k;
    }
    /* 10 % of 100000 has a standard deviation under 100: allow 5 of them. */
    assert_in_range(kept, THIN_TRIALS / 10 - 500, THIN_TRIALS / 10 + 500);
}

static void test_tb_degrade_thin_keeps__a_tenth_of_a_ratio_samplers_traces(void **state)
{
    struct tb_sampler sampler;
    const char *why = NULL;
    uint64_t seed = 7;
    unsigned sampled = 0, kept = 0;

    (void)state;
    assert_int_equal(tb_sampler_parse(&sampler, "traceidratio", "0.5", &why), TB_OK);
    for (unsigned i = 0; i < THIN_TRIALS; i++) {
        uint8_t id[16];
        bool yes;

        random_id(&seed, id);
        yes = tb_sampler_decide(&sampler, id, TB_SAMPLING_DEFER, false) == TB_SAMPLING_ACCEPT;
        sampled += yes;
        if (tb_degrade_thin_keeps(&sampler, id, TB_SAMPLING_ACCEPT)) {
            assert_true(yes); /* never a trace the sampler itself would drop */
            kept++;
        }
    }
    assert_in_range(kept, sampled / 10 - 350, sampled / 10 + 350);
}

static void test_tb_degrade_thin_keeps__edges_of_the_id_space(void **state)
{
    struct tb_sampler sampler;
    uint8_t id[16];

    (void)state;
    tb_sampler_default(&sampler);
    memset(id, 0, sizeof(id));
    id[15] = 1;
    assert_true(tb_degrade_thin_keeps(&sampler, id, TB_SAMPLING_ACCEPT));
    memset(id, 0xff, sizeof(id));
    assert_false(tb_degrade_thin_keeps(&sampler, id, TB_SAMPLING_ACCEPT));
    /* Only the low 63 bits count, as in the sampler: the high half does not. */
    memset(id, 0xff, 8);
    memset(id + 8, 0, 8);
    assert_true(tb_degrade_thin_keeps(&sampler, id, TB_SAMPLING_ACCEPT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_degrade_new__starts_normal),
        cmocka_unit_test(test_tb_degrade_eval__queue_escalates_one_step_per_evaluation),
        cmocka_unit_test(test_tb_degrade_eval__lag_escalates),
        cmocka_unit_test(test_tb_degrade_eval__both_triggers_name_the_queue),
        cmocka_unit_test(test_tb_degrade_eval__recovers_after_the_calm_period),
        cmocka_unit_test(test_tb_degrade_eval__steps_down_one_level_per_calm_period),
        cmocka_unit_test(test_tb_degrade_eval__between_half_and_mark_holds),
        cmocka_unit_test(test_tb_degrade_eval__a_busy_moment_restarts_the_calm),
        cmocka_unit_test(test_tb_degrade_eval__a_trigger_during_recovery_escalates_again),
        cmocka_unit_test(test_tb_degrade_eval__disabled_never_acts),
        cmocka_unit_test(test_tb_degrade_eval__a_trigger_set_to_zero_is_off),
        cmocka_unit_test(test_tb_degrade_describe__log_fields),
        cmocka_unit_test(test_tb_degrade_thin_keeps__a_tenth_of_the_default_samplers_traces),
        cmocka_unit_test(test_tb_degrade_thin_keeps__a_tenth_of_a_ratio_samplers_traces),
        cmocka_unit_test(test_tb_degrade_thin_keeps__edges_of_the_id_space),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
