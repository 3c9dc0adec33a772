/* SPDX-License-Identifier: MIT
 * The SPSC span ring of queue.h. `tail` (next slot to fill) is written only by
 * the producer and `head` (next slot to read) only by the consumer; both are
 * free-running 64-bit positions, so full is `tail - head == cap` and empty is
 * `tail == head` without a wasted slot, and they never wrap in practice.
 * Each side keeps a private copy of the other's position and reloads it only
 * when the ring looks full (or empty): in steady state a reserve or a peek
 * touches no cache line the other thread writes.
 */
#include "spans/queue.h"

#include <stdatomic.h>

#include "common/tb.h"
#include "spans/span.h"

/* Keeps the producer's and the consumer's fields on separate cache lines. */
#define QUEUE_CACHE_LINE 64

struct tb_queue {
    struct tb_span *slots; /* owned: `cap` records */
    size_t cap;
    char pad0[QUEUE_CACHE_LINE];

    /* producer side */
    _Atomic uint64_t tail; /* published: slots below it are committed */
    uint64_t head_seen;    /* the producer's last look at `head` */
    char pad1[QUEUE_CACHE_LINE];

    /* consumer side */
    _Atomic uint64_t head; /* published: slots below it are released */
    uint64_t tail_seen;    /* the consumer's last look at `tail` */
    char pad2[QUEUE_CACHE_LINE];
};

struct tb_queue *tb_queue_new(size_t capacity)
{
    struct tb_queue *q = tb_xcalloc(1, sizeof(*q));

    TB_ASSERT(capacity > 0);
    q->slots = tb_xcalloc(capacity, sizeof(*q->slots));
    q->cap = capacity;
    atomic_init(&q->tail, 0);
    atomic_init(&q->head, 0);
    return q;
}

void tb_queue_free(struct tb_queue *q)
{
    if (q == NULL)
        return;
    tb_free(q->slots);
    tb_free(q);
}

struct tb_span *tb_queue_reserve(struct tb_queue *q)
{
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

    if (tail - q->head_seen == q->cap) {
        /* Acquire pairs with the consumer's release: it has finished reading
         * the slot before we overwrite it. */
        q->head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
        if (tail - q->head_seen == q->cap)
            return NULL;
    }
    return &q->slots[tail % q->cap];
}

void tb_queue_commit(struct tb_queue *q)
{
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

    TB_ASSERT(tail - q->head_seen < q->cap);
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
}

const struct tb_span *tb_queue_peek(struct tb_queue *q)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);

    if (head == q->tail_seen) {
        /* Acquire pairs with the producer's release in commit: the span's
         * bytes are visible before we read them. */
        q->tail_seen = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (head == q->tail_seen)
            return NULL;
    }
    return &q->slots[head % q->cap];
}

void tb_queue_release(struct tb_queue *q)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);

    TB_ASSERT(head != q->tail_seen);
    atomic_store_explicit(&q->head, head + 1, memory_order_release);
}

size_t tb_queue_depth(const struct tb_queue *q)
{
    /* Read head first: tail only grows, so a later tail is never below it. */
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);

    return tail > head ? (size_t)(tail - head) : 0;
}

uint64_t tb_queue_num_committed(const struct tb_queue *q)
{
    return atomic_load_explicit(&q->tail, memory_order_relaxed);
}

size_t tb_queue_capacity(const struct tb_queue *q)
{
    return q->cap;
}
