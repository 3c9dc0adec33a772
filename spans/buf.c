/* SPDX-License-Identifier: MIT */
#include "spans/buf.h"

#include <string.h>

#include "common/tb.h"

void tb_buf_free(struct tb_buf *buf)
{
    tb_free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

char *tb_buf_reserve(struct tb_buf *buf, size_t extra)
{
    if (buf->cap - buf->len < extra) {
        size_t cap = buf->cap ? buf->cap : 4096;
        char *data;

        while (cap - buf->len < extra)
            cap *= 2;
        data = tb_xmalloc(cap);
        if (buf->len > 0)
            memcpy(data, buf->data, buf->len);
        tb_free(buf->data);
        buf->data = data;
        buf->cap = cap;
    }
    return buf->data + buf->len;
}

void tb_buf_append(struct tb_buf *buf, const void *p, size_t len)
{
    if (len == 0)
        return;
    memcpy(tb_buf_reserve(buf, len), p, len);
    buf->len += len;
}

void tb_buf_append_str(struct tb_buf *buf, const char *s)
{
    tb_buf_append(buf, s, strlen(s));
}

void tb_buf_append_byte(struct tb_buf *buf, uint8_t byte)
{
    *tb_buf_reserve(buf, 1) = (char)byte;
    buf->len++;
}
