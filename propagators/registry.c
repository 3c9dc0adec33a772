/* SPDX-License-Identifier: MIT
 * The format registry: formats.def in order.
 */
#include "propagators/propagator.h"

#include <string.h>

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"

static const struct tb_propagator *const registry[TB_FORMAT_NUM] = {
#define TB_FORMAT_DEF(name, enum_name) [TB_FORMAT_##enum_name] = &tb_propagator_##name,
#include "propagators/formats.def"
#undef TB_FORMAT_DEF
};

const struct tb_propagator *tb_propagator_get(enum tb_format format)
{
    TB_ASSERT((unsigned)format < TB_FORMAT_NUM);
    TB_ASSERT(registry[format]->format == format);
    return registry[format];
}

const struct tb_propagator *tb_propagator_find(const char *name, size_t name_len)
{
    for (size_t i = 0; i < TB_FORMAT_NUM; i++)
        if (strlen(registry[i]->name) == name_len && memcmp(registry[i]->name, name, name_len) == 0)
            return registry[i];
    return NULL;
}
