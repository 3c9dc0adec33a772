/* SPDX-License-Identifier: MIT
 * Unit tests for spans/queue.c: the SPSC span ring keeps order, refuses a
 * reserve when full and takes one again after a release, wraps around for
 * any capacity, and under a real producer and consumer thread delivers every
 * committed span once, in order, with intact contents.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "tb_test.h"

#include "spans/queue.h"
#include "spans/span.h"

/* Marks a span with `seq` in two places, so a torn read shows. */
static void span_mark(struct tb_span *s, uint64_t seq)
{
    s->request_body_size = seq;
    s->response_body_size = ~seq;
    for (int i = 0; i < 8; i++)
        s->span_id[i] = (uint8_t)(seq >> (8 * (7 - i)));
    s->path_len =
        (uint16_t)snprintf(s->path, sizeof(s->path), "/item/%llu", (unsigned long long)seq);
}

static void span_check(const struct tb_span *s, uint64_t seq)
{
    char path[64];
    int n = snprintf(path, sizeof(path), "/item/%llu", (unsigned long long)seq);

    assert_int_equal(s->request_body_size, seq);
    assert_int_equal(s->response_body_size, ~seq);
    for (int i = 0; i < 8; i++)
        assert_int_equal(s->span_id[i], (uint8_t)(seq >> (8 * (7 - i))));
    assert_int_equal(s->path_len, n);
    assert_memory_equal(s->path, path, (size_t)n);
}

static void push(struct tb_queue *q, uint64_t seq)
{
    struct tb_span *s = tb_queue_reserve(q);

    assert_non_null(s);
    span_mark(s, seq);
    tb_queue_commit(q);
}

static void pop(struct tb_queue *q, uint64_t seq)
{
    const struct tb_span *s = tb_queue_peek(q);

    assert_non_null(s);
    span_check(s, seq);
    tb_queue_release(q);
}

static void test_tb_queue_new__empty(void **state)
{
    struct tb_queue *q = tb_queue_new(3);

    (void)state;
    assert_int_equal(tb_queue_capacity(q), 3);
    assert_int_equal(tb_queue_depth(q), 0);
    assert_int_equal(tb_queue_num_committed(q), 0);
    assert_null(tb_queue_peek(q));
    tb_queue_free(q);
    tb_queue_free(NULL);
}

static void test_tb_queue_reserve__same_slot_until_commit(void **state)
{
    struct tb_queue *q = tb_queue_new(2);
    struct tb_span *a = tb_queue_reserve(q);

    (void)state;
    assert_ptr_equal(tb_queue_reserve(q), a);
    /* Not committed: invisible to the consumer. */
    assert_null(tb_queue_peek(q));
    assert_int_equal(tb_queue_depth(q), 0);
    span_mark(a, 7);
    tb_queue_commit(q);
    assert_int_equal(tb_queue_depth(q), 1);
    assert_ptr_not_equal(tb_queue_reserve(q), a);
    tb_queue_free(q);
}

static void test_tb_queue_peek__fifo_order_and_same_until_release(void **state)
{
    struct tb_queue *q = tb_queue_new(4);
    const struct tb_span *s;

    (void)state;
    push(q, 1);
    push(q, 2);
    push(q, 3);
    s = tb_queue_peek(q);
    assert_ptr_equal(tb_queue_peek(q), s);
    pop(q, 1);
    pop(q, 2);
    pop(q, 3);
    assert_null(tb_queue_peek(q));
    assert_int_equal(tb_queue_num_committed(q), 3);
    tb_queue_free(q);
}

static void test_tb_queue_reserve__full_returns_null_until_release(void **state)
{
    struct tb_queue *q = tb_queue_new(3);

    (void)state;
    push(q, 0);
    push(q, 1);
    push(q, 2);
    assert_int_equal(tb_queue_depth(q), 3);
    assert_null(tb_queue_reserve(q));
    assert_null(tb_queue_reserve(q));
    /* Peeking alone frees nothing: the consumer may still be reading. */
    assert_non_null(tb_queue_peek(q));
    assert_null(tb_queue_reserve(q));
    pop(q, 0);
    push(q, 3);
    assert_null(tb_queue_reserve(q));
    pop(q, 1);
    pop(q, 2);
    pop(q, 3);
    assert_null(tb_queue_peek(q));
    tb_queue_free(q);
}

/* Capacities that are and are not powers of two, through many wraps. */
static void test_tb_queue__wraps_around(void **state)
{
    static const size_t caps[] = {1, 2, 3, 5, 8, 13};

    (void)state;
    for (size_t c = 0; c < TB_ARRAY_SIZE(caps); c++) {
        struct tb_queue *q = tb_queue_new(caps[c]);
        uint64_t in = 0, out = 0;

        for (int round = 0; round < 50; round++) {
            /* Fill completely, then drain a varying amount. */
            while (tb_queue_reserve(q) != NULL)
                push(q, in++);
            assert_int_equal(tb_queue_depth(q), caps[c]);
            for (size_t k = 0; k <= (size_t)round % caps[c]; k++)
                pop(q, out++);
        }
        while (out < in)
            pop(q, out++);
        assert_null(tb_queue_peek(q));
        assert_int_equal(tb_queue_num_committed(q), in);
        tb_queue_free(q);
    }
}

/* ------------------------------------------------------------------------ */
/* Two threads                                                              */

#define STRESS_COUNT 200000
#define STRESS_CAP 64

struct stress {
    struct tb_queue *q;
    bool lossless; /* the producer retries a full ring instead of dropping */
    atomic_bool producer_done;
    uint64_t dropped; /* producer's: reserves that found the ring full */
};

/* Offers STRESS_COUNT sequence numbers; a full ring drops one (and counts
 * it), as the pipeline does. Yields now and then so both sides get to see a
 * full and an empty ring. */
static void *stress_producer(void *arg)
{
    struct stress *st = arg;

    for (uint64_t seq = 0; seq < STRESS_COUNT; seq++) {
        struct tb_span *s = tb_queue_reserve(st->q);

        while (s == NULL && st->lossless) {
            sched_yield();
            s = tb_queue_reserve(st->q);
        }
        if (s == NULL) {
            st->dropped++;
        } else {
            span_mark(s, seq);
            tb_queue_commit(st->q);
        }
        if (seq % 4096 == 0)
            sched_yield();
    }
    atomic_store(&st->producer_done, true);
    return NULL;
}

static void stress_run(bool lossless)
{
    struct stress st = {.q = tb_queue_new(STRESS_CAP), .lossless = lossless};
    pthread_t producer;
    uint64_t received = 0, last = 0, bad = 0;
    bool first = true;

    atomic_init(&st.producer_done, false);
    assert_int_equal(pthread_create(&producer, NULL, stress_producer, &st), 0);
    for (;;) {
        /* Read `done` before peeking: once it is set, an empty ring is final. */
        bool done = atomic_load(&st.producer_done);
        const struct tb_span *s = tb_queue_peek(st.q);

        if (s == NULL) {
            if (done)
                break;
            sched_yield();
            continue;
        }
        /* Strictly increasing (drops leave gaps; without drops, none) and
         * intact. */
        if ((!first && s->request_body_size <= last) ||
            (lossless && s->request_body_size != received) ||
            s->response_body_size != ~s->request_body_size)
            bad++;
        first = false;
        last = s->request_body_size;
        span_check(s, last);
        received++;
        tb_queue_release(st.q);
        if (received % 1000 == 0)
            sched_yield();
    }
    assert_int_equal(pthread_join(producer, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(received + st.dropped, STRESS_COUNT);
    assert_int_equal(tb_queue_num_committed(st.q), received);
    assert_int_equal(tb_queue_depth(st.q), 0);
    assert_true(received > 0);
    if (lossless)
        assert_int_equal(st.dropped, 0);
    tb_queue_free(st.q);
}

static void test_tb_queue__two_threads_order_and_no_loss_but_counted_drops(void **state)
{
    (void)state;
    stress_run(false);
}

static void test_tb_queue__two_threads_lossless_exact_sequence(void **state)
{
    (void)state;
    stress_run(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tb_queue_new__empty),
        cmocka_unit_test(test_tb_queue_reserve__same_slot_until_commit),
        cmocka_unit_test(test_tb_queue_peek__fifo_order_and_same_until_release),
        cmocka_unit_test(test_tb_queue_reserve__full_returns_null_until_release),
        cmocka_unit_test(test_tb_queue__wraps_around),
        cmocka_unit_test(test_tb_queue__two_threads_order_and_no_loss_but_counted_drops),
        cmocka_unit_test(test_tb_queue__two_threads_lossless_exact_sequence),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
