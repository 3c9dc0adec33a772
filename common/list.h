/* SPDX-License-Identifier: MIT
 * Intrusive circular doubly-linked list (the kernel's and h2o's linklist shape).
 * Types only plus a few inline operations; never allocates.
 */
#ifndef TB_COMMON_LIST_H
#define TB_COMMON_LIST_H

#include <stddef.h>

struct tb_list {
    struct tb_list *prev, *next;
};

static inline void tb_list_init(struct tb_list *head)
{
    head->prev = head->next = head;
}

static inline int tb_list_is_empty(const struct tb_list *head)
{
    return head->next == head;
}

/** True when `node` is linked into some list (it was initialized with tb_list_init). */
static inline int tb_list_is_linked(const struct tb_list *node)
{
    return node->next != node;
}

static inline void tb_list_insert_head(struct tb_list *head, struct tb_list *node)
{
    node->next = head->next;
    node->prev = head;
    head->next->prev = node;
    head->next = node;
}

/** Unlinks `node` and leaves it self-linked, so unlinking twice is harmless. */
static inline void tb_list_unlink(struct tb_list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

#endif
