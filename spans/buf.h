/* SPDX-License-Identifier: MIT
 * A growable byte buffer for the exporter thread's encoders. It lives off
 * the data path, so it allocates with tb_xmalloc (out of memory is fatal) and
 * keeps its capacity across batches.
 */
#ifndef TB_SPANS_BUF_H
#define TB_SPANS_BUF_H

#include <stddef.h>
#include <stdint.h>

struct tb_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
};

/** Frees the storage and empties `buf`. */
void tb_buf_free(struct tb_buf *buf);

/** Makes room for `extra` more bytes; returns a pointer to the end. */
char *tb_buf_reserve(struct tb_buf *buf, size_t extra);

/** Appends `len` bytes. */
void tb_buf_append(struct tb_buf *buf, const void *p, size_t len);

/** Appends a NUL-terminated string (without its NUL). */
void tb_buf_append_str(struct tb_buf *buf, const char *s);

/** Appends one byte. */
void tb_buf_append_byte(struct tb_buf *buf, uint8_t byte);

#endif
