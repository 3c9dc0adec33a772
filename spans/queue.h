/* SPDX-License-Identifier: MIT
 * A bounded single-producer single-consumer ring of span records: one per
 * worker, the worker producing, the exporter thread consuming. The producer
 * fills a slot in place (reserve, then commit) and the consumer reads it in
 * place (peek, then release), so a span is never copied on the data path.
 * Nothing here blocks, locks or allocates after tb_queue_new; a full ring
 * makes reserve return NULL and the caller counts the drop. It does not
 * batch, wake anyone up, or know about exporters.
 */
#ifndef TB_SPANS_QUEUE_H
#define TB_SPANS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct tb_span;
struct tb_queue;

/**
 * Creates a ring of `capacity` span slots (at least 1; any value, not only
 * powers of two). Allocates the slots once (control path: out of memory is
 * fatal). Free with tb_queue_free.
 */
struct tb_queue *tb_queue_new(size_t capacity);

/** Frees the ring; spans still in it are discarded. `q` may be NULL. */
void tb_queue_free(struct tb_queue *q);

/**
 * Producer only. Returns the next free slot, or NULL when the ring is full.
 * The slot's contents are uninitialised (whatever an earlier span left) and
 * stay the producer's until tb_queue_commit; calling reserve again before
 * commit returns the same slot. Never blocks, never allocates.
 */
struct tb_span *tb_queue_reserve(struct tb_queue *q);

/**
 * Producer only. Publishes the slot of the last successful tb_queue_reserve
 * to the consumer (release ordering: the consumer sees every byte written to
 * it). Must follow a successful reserve.
 */
void tb_queue_commit(struct tb_queue *q);

/**
 * Consumer only. Returns the oldest committed span, or NULL when the ring is
 * empty. The span stays valid and in place until tb_queue_release; calling
 * peek again before release returns the same span.
 */
const struct tb_span *tb_queue_peek(struct tb_queue *q);

/**
 * Consumer only. Hands the slot of the last successful tb_queue_peek back to
 * the producer. Must follow a successful peek.
 */
void tb_queue_release(struct tb_queue *q);

/** Any thread: how many spans are committed and not yet released (a snapshot). */
size_t tb_queue_depth(const struct tb_queue *q);

/** Any thread: how many spans were ever committed (a snapshot). */
uint64_t tb_queue_num_committed(const struct tb_queue *q);

/** The capacity given to tb_queue_new. */
size_t tb_queue_capacity(const struct tb_queue *q);

#endif
