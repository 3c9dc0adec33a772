/* SPDX-License-Identifier: MIT
 * A small streaming JSON writer (RFC 8259) over struct tb_buf for the JSON
 * span encoders (OTLP/JSON, Zipkin, SkyWalking, file). It places the commas
 * and colons, escapes strings and turns raw bytes into valid UTF-8, so an
 * encoder only says what to write. It also holds the one definition of the
 * span's attribute list (docs/spans.md) that every JSON encoder walks.
 */
#ifndef TB_SPANS_JSON_H
#define TB_SPANS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spans/buf.h"
#include "spans/span.h"

/* Deepest nesting of objects and arrays; the encoders need 8. */
#define TB_JSON_MAX_DEPTH 32

/* The writer's state; fields are private. Lives on the caller's stack. */
struct tb_json {
    struct tb_buf *out;
    unsigned depth;
    uint32_t is_object; /* bit d: level d is an object (else an array) */
    uint32_t has_items; /* bit d: level d already holds a member: the next needs a comma */
    bool after_key;     /* a key was written: a value must follow */
    bool in_string;     /* between tb_json_string_begin and tb_json_string_end */
};

/** Starts writing one JSON text at the end of `out` (which is not cleared). */
void tb_json_init(struct tb_json *j, struct tb_buf *out);

/**
 * Structure. A value (including begin) goes at the top level, into an array,
 * or after tb_json_key in an object; misuse is a bug (TB_ASSERT aborts).
 */
void tb_json_object_begin(struct tb_json *j);
void tb_json_object_end(struct tb_json *j);
void tb_json_array_begin(struct tb_json *j);
void tb_json_array_end(struct tb_json *j);

/** Writes an object member's key: `key[0..len)`, escaped like any string. */
void tb_json_key_n(struct tb_json *j, const char *key, size_t len);
/** tb_json_key_n for a NUL-terminated `key`. */
void tb_json_key(struct tb_json *j, const char *key);

/**
 * Writes the bytes `s[0..len)` as a string: `"` and `\` escaped, control
 * characters as \u00XX, and each maximal ill-formed UTF-8 subsequence
 * replaced by U+FFFD (Unicode §3.9), so the output is always valid UTF-8
 * JSON. `s` may be NULL when `len` is 0.
 */
void tb_json_string(struct tb_json *j, const char *s, size_t len);
/** tb_json_string for a NUL-terminated `s`; NULL writes "". */
void tb_json_cstr(struct tb_json *j, const char *s);

/**
 * One string value written in pieces: begin, any number of appends (each
 * piece is escaped and validated on its own), end. Nothing else may be
 * written in between.
 */
void tb_json_string_begin(struct tb_json *j);
void tb_json_string_append(struct tb_json *j, const char *s, size_t len);
void tb_json_string_end(struct tb_json *j);
/** Appends `n` bytes as 2 * `n` lower-case hex digits to the string in progress. */
void tb_json_string_append_hex(struct tb_json *j, const uint8_t *bytes, size_t n);

/** Numbers: decimal integers. */
void tb_json_uint(struct tb_json *j, uint64_t v);
void tb_json_int(struct tb_json *j, int64_t v);
/** A decimal integer in quotes: the protobuf JSON mapping of 64-bit integers. */
void tb_json_uint_string(struct tb_json *j, uint64_t v);
/** `n` bytes as a string of 2 * `n` lower-case hex digits. */
void tb_json_hex(struct tb_json *j, const uint8_t *bytes, size_t n);
void tb_json_bool(struct tb_json *j, bool v);
void tb_json_null(struct tb_json *j);
/** A number with up to 15 significant digits (0.1 stays 0.1); null when not finite. */
void tb_json_double(struct tb_json *j, double v);

/**
 * Appends `s[0..len)` to `out` escaped and made valid UTF-8 as in a JSON
 * string, without the quotes. The other functions build on it.
 */
void tb_json_escape(struct tb_buf *out, const char *s, size_t len);

/* ------------------------------------------------------------------------ */
/* The span's attributes, once for every encoder                             */

enum tb_span_attr_type {
    TB_SPAN_ATTR_STRING,  /* str[0..len) */
    TB_SPAN_ATTR_INT,     /* num */
    TB_SPAN_ATTR_FORMATS, /* formats: TB_FORMAT_BITs, a list of format names */
};

struct tb_span_attr {
    const char *key; /* OpenTelemetry name, a literal */
    enum tb_span_attr_type type;
    const char *str; /* borrowed from the span, a literal, or tb_span_attrs.scratch */
    size_t len;
    int64_t num;
    uint32_t formats;
};

#define TB_SPAN_MAX_ATTRS 20

/* The valid length of `span`'s string `field`, never beyond the field's
 * storage even in a damaged record. */
#define TB_SPAN_FIELD_LEN(span, field)                                                             \
    ((span)->field##_len < sizeof((span)->field) ? (size_t)(span)->field##_len                     \
                                                 : sizeof((span)->field))
/* `span`'s string `field` as the two arguments `ptr, len`. */
#define TB_SPAN_FIELD(span, field) (span)->field, TB_SPAN_FIELD_LEN(span, field)

/* The attributes of one span, in the order of docs/spans.md. Points into the
 * span and into itself: use it in place, never copy it. */
struct tb_span_attrs {
    struct tb_span_attr a[TB_SPAN_MAX_ATTRS];
    size_t num;
    char version[8]; /* network.protocol.version text */
};

/**
 * Fills `out` with `span`'s attributes as docs/spans.md lists them:
 * http.request.method, url.path, url.scheme, server.address, server.port,
 * client.address, client.port, network.peer.address, network.peer.port,
 * http.response.status_code, user_agent.original, network.protocol.version,
 * http.request.body.size, http.response.body.size,
 * tracebridge.extracted_format, tracebridge.injected_formats, error.type;
 * empty strings and zero ports and status are left out. A `reduced` span
 * gets only the essential ones: http.request.method, url.path, url.scheme,
 * server.address, server.port, http.response.status_code and error.type.
 * `out` borrows from `span`, which must outlive it. Never allocates.
 */
void tb_span_attrs_fill(struct tb_span_attrs *out, const struct tb_span *span);

/** How many of `span`'s links to encode: none for a `reduced` span, never beyond the array. */
size_t tb_span_num_links(const struct tb_span *span);

/** The codec name of format `f` ("b3", "sw8", ...), or "none" when `f` is not a format. */
const char *tb_span_format_name(int f);

/** Writes `attr`'s value as a JSON string: numbers in decimal, formats comma-joined. */
void tb_json_attr_as_string(struct tb_json *j, const struct tb_span_attr *attr);

/** Writes `attr`'s value typed: a string, a number, or an array of format names. */
void tb_json_attr_typed(struct tb_json *j, const struct tb_span_attr *attr);

#endif
