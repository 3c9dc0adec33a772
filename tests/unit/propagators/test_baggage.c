/* SPDX-License-Identifier: MIT
 * Unit tests for propagators/baggage.c: the W3C baggage vectors of
 * protocols.md §16 (55, 56), member-by-member validation and drop counts,
 * percent-decoding with U+FFFD for ill-formed UTF-8, the 64-member and
 * 8192-byte limits on both sides, and byte-exact injected headers. The codec
 * is called through tb_propagator_baggage directly; input values sit right
 * before a PROT_NONE page so that an over-read faults.
 */
#include <stdlib.h>
#include <string.h>

#include "tb_test.h"

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/lex.h"
#include "propagators/propagator.h"

#define IOV(s) ((struct tb_iov){(s), strlen(s)})
#define FFFD "\xef\xbf\xbd"
#define MAX_GUARDED 16

struct fx {
    struct tb_arena *arena;
    struct tb_headers in;
    struct tb_headers out;
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    char *guarded[MAX_GUARDED];
    size_t guarded_len[MAX_GUARDED];
    size_t num_guarded;
};

static int setup(void **state)
{
    struct fx *fx = test_calloc(1, sizeof(*fx));

    fx->arena = tb_arena_new(4096, 1 << 20);
    tb_headers_init(&fx->in);
    tb_headers_init(&fx->out);
    tb_ctx_init(&fx->ctx, TB_FORMAT_BAGGAGE);
    memset(fx->hop.span_id, 0x11, sizeof(fx->hop.span_id));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    for (size_t i = 0; i < fx->num_guarded; i++)
        tb_test_guarded_free(fx->guarded[i], fx->guarded_len[i]);
    tb_arena_free(fx->arena);
    test_free(fx);
    return 0;
}

/* Adds `name: value` to the input table, the value in a guarded copy. */
static void add(struct fx *fx, const char *name, const char *value)
{
    size_t n = strlen(value);
    char *p = tb_test_guarded(value, n);

    assert_true(fx->num_guarded < MAX_GUARDED);
    fx->guarded[fx->num_guarded] = p;
    fx->guarded_len[fx->num_guarded++] = n;
    assert_int_equal(tb_headers_add(fx->arena, &fx->in, IOV(name), (struct tb_iov){p, n}), TB_OK);
}

static int extract(struct fx *fx, const char **why)
{
    *why = NULL;
    tb_ctx_init(&fx->ctx, TB_FORMAT_NUM);
    return tb_propagator_baggage.extract(&fx->in, fx->arena, &fx->ctx, why);
}

/* Extract must succeed as a baggage-only context with `num` items. */
static void assert_extracted(struct fx *fx, size_t num, size_t dropped)
{
    const char *why;
    uint8_t zero[16] = {0};

    assert_int_equal(extract(fx, &why), TB_OK);
    assert_memory_equal(fx->ctx.trace_id, zero, 16);
    assert_memory_equal(fx->ctx.span_id, zero, 8);
    assert_int_equal(fx->ctx.sampling, TB_SAMPLING_DEFER);
    assert_int_equal(fx->ctx.w3c_flags, 0);
    assert_int_equal(fx->ctx.format, TB_FORMAT_BAGGAGE);
    assert_true(fx->ctx.extras & TB_FORMAT_BIT(TB_FORMAT_BAGGAGE));
    assert_int_equal(fx->ctx.baggage.num, num);
    assert_int_equal(fx->ctx.baggage.dropped, dropped);
}

static void assert_item(const struct fx *fx, size_t i, const char *key, const char *value,
                        const char *props)
{
    assert_true(i < fx->ctx.baggage.num);
    assert_iov_equal(fx->ctx.baggage.items[i].key, key);
    assert_iov_equal(fx->ctx.baggage.items[i].value, value);
    assert_iov_equal(fx->ctx.baggage.items[i].props, props);
}

/* Appends an item to fx->ctx's baggage as a hand-built context would, past
 * any limit (the strings are literals or arena-owned). */
static void put(struct fx *fx, const char *key, const char *value, const char *props)
{
    struct tb_baggage *bag = &fx->ctx.baggage;

    if (bag->items == NULL) {
        bag->cap = 80;
        bag->items = tb_arena_alloc(fx->arena, bag->cap * sizeof(*bag->items));
    }
    assert_true(bag->num < bag->cap);
    bag->items[bag->num++] = (struct tb_baggage_item){IOV(key), IOV(value), IOV(props)};
}

/* Injects fx->ctx; returns what was added to a drop counter starting at 5. */
static size_t inject(struct fx *fx)
{
    size_t dropped = 5;

    assert_int_equal(
        tb_propagator_baggage.inject(&fx->ctx, &fx->hop, fx->arena, &fx->out, &dropped), TB_OK);
    return dropped - 5;
}

/* A NUL-terminated string of `n` copies of `c` in the arena. */
static char *repeat(struct fx *fx, char c, size_t n)
{
    char *s = tb_arena_alloc(fx->arena, n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ------------------------------------------------------------------------ */
/* extract                                                                  */

/* §16.55 */
static void test_extract__spec_example_percent(void **state)
{
    struct fx *fx = *state;

    add(fx, "baggage", "userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false");
    assert_extracted(fx, 3, 0);
    assert_item(fx, 0, "userId", "Am\xc3\xa9lie", "");
    assert_item(fx, 1, "serverNode", "DF 28", "");
    assert_item(fx, 2, "isProduction", "false", "");
}

/* §16.56 */
static void test_extract__spec_example_properties(void **state)
{
    struct fx *fx = *state;
    const char *value =
        "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue";

    assert_int_equal(strlen(value), 86);
    add(fx, "baggage", value);
    assert_extracted(fx, 3, 0);
    assert_item(fx, 0, "key1", "value1", "property1;property2");
    assert_item(fx, 1, "key2", "value2", "");
    assert_item(fx, 2, "key3", "value3", "propertyKey=propertyValue");
    assert_int_equal(fx->ctx.baggage.bytes, 29 + 10 + 35);
}

/* Several fields are one list, in arrival order. */
static void test_extract__multiple_headers(void **state)
{
    struct fx *fx = *state;

    add(fx, "baggage", "a=1,b=2");
    add(fx, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    add(fx, "Baggage", "");
    add(fx, "BAGGAGE", "c=3");
    assert_extracted(fx, 3, 0);
    assert_item(fx, 0, "a", "1", "");
    assert_item(fx, 1, "b", "2", "");
    assert_item(fx, 2, "c", "3", "");
}

struct value_case {
    const char *in;    /* one member */
    const char *key;   /* expected key */
    const char *value; /* expected decoded value */
    const char *props; /* expected props */
};

static const struct value_case value_cases[] = {
    /* OWS around '=' and ';' is not part of key, value or properties */
    {" \tk \t= \tv \t", "k", "v", ""},
    {"k=v \t; \tp \t", "k", "v", "p"},
    {"k=v;p1 ; p2=x", "k", "v", "p1 ; p2=x"},
    /* a HTAB inside the properties is OWS: they are re-joined without it */
    {"k=v;\tp1\t;p2 \t= x", "k", "v", "p1;p2=x"},
    /* split on the first '=': the value may hold more */
    {"k=a=b==", "k", "a=b==", ""},
    {"k==", "k", "=", ""},
    /* the value may be empty (§2 grammar: *baggage-octet) */
    {"k=", "k", "", ""},
    {"k=;p", "k", "", "p"},
    /* percent-encoding, not form encoding; any hex case */
    {"k=a+b%2Bc%2bd", "k", "a+b+c+d", ""},
    {"k=%25%2C%3B%22%5C%20", "k", "%,;\"\\ ", ""},
    {"k=%00x%7f", "k", "\0x\x7f", ""},
    /* keys are tokens, kept as they are (case-sensitive, never decoded) */
    {"K!#$%&'*+-.^_`|~9=1", "K!#$%&'*+-.^_`|~9", "1", ""},
    /* valid UTF-8 survives */
    {"k=%F0%9F%98%80%E2%82%AC%C3%A9", "k", "\xf0\x9f\x98\x80\xe2\x82\xac\xc3\xa9", ""},
    {"k=%EF%BF%BD", "k", FFFD, ""},
    /* each maximal ill-formed subpart becomes one U+FFFD (§2) */
    {"k=%FF", "k", FFFD, ""},
    {"k=a%C3", "k", "a" FFFD, ""},
    {"k=%C3x", "k", FFFD "x", ""},
    {"k=%E2%82", "k", FFFD, ""},
    {"k=%E2%82x", "k", FFFD "x", ""},
    {"k=%F0%9F%98", "k", FFFD, ""},
    {"k=%80%80", "k", FFFD FFFD, ""},
    {"k=%C0%AF", "k", FFFD FFFD, ""},         /* overlong */
    {"k=%E0%80%AF", "k", FFFD FFFD FFFD, ""}, /* overlong */
    {"k=%ED%A0%80", "k", FFFD FFFD FFFD, ""},
    {"k=%F0%8F%BF%BF", "k", FFFD FFFD FFFD FFFD, ""},
    /* overlong */                                    /* surrogate */
    {"k=%F4%90%80%80", "k", FFFD FFFD FFFD FFFD, ""}, /* above U+10FFFF */
    {"k=%F5%80", "k", FFFD FFFD, ""},
    {"k=%C3%A9%FF%C3%A9", "k", "\xc3\xa9" FFFD "\xc3\xa9", ""},
};

static void test_extract__values(void **state)
{
    for (size_t i = 0; i < TB_ARRAY_SIZE(value_cases); i++) {
        const struct value_case *c = &value_cases[i];
        struct fx *fx;

        teardown(state);
        setup(state);
        fx = *state;
        print_message("case %zu: \"%s\"\n", i, c->in);
        add(fx, "baggage", c->in);
        assert_extracted(fx, 1, 0);
        assert_iov_equal(fx->ctx.baggage.items[0].key, c->key);
        /* values may hold NUL: compare lengths and bytes */
        if (strcmp(c->in, "k=%00x%7f") == 0) {
            assert_int_equal(fx->ctx.baggage.items[0].value.len, 3);
            assert_memory_equal(fx->ctx.baggage.items[0].value.base, "\0x\x7f", 3);
        } else {
            assert_iov_equal(fx->ctx.baggage.items[0].value, c->value);
        }
        assert_iov_equal(fx->ctx.baggage.items[0].props, c->props);
    }
}

/* Malformed members are dropped one by one and counted. */
static const char *const invalid_members[] = {
    "k",                                       /* no '=' */
    "=v",                                      /* empty key */
    " = v",                                    /* empty key after OWS */
    "k v=1",                                   /* space in key */
    "k(=1",                                    /* not a tchar */
    "k\x80=1",                                 /* not a tchar */
    "k=a b",                                   /* space in value */
    "k=a\tb",                                  /* HTAB in value */
    "k=\"v\"",                                 /* DQUOTE is not a baggage-octet */
    "k=a\\b",                                  /* nor is backslash */
    "k=\xc3\xa9",                              /* nor raw non-ASCII */
    "k=%",                                     /* bad escapes */
    "k=%4",       "k=%zz",  "k=%4g",   "k=v;", /* a property must follow ';' */
    "k=v;;p",     "k=v;=x", "k=v;p q", "k=v;p=a b", "k=v;p=\"x\"", "k=v;p(=1",
};

static void test_extract__invalid_members(void **state)
{
    for (size_t i = 0; i < TB_ARRAY_SIZE(invalid_members); i++) {
        struct fx *fx;
        char value[128];

        teardown(state);
        setup(state);
        fx = *state;
        print_message("case %zu: \"%s\"\n", i, invalid_members[i]);
        snprintf(value, sizeof(value), "a=1,%s,b=2", invalid_members[i]);
        add(fx, "baggage", value);
        assert_extracted(fx, 2, 1);
        assert_item(fx, 0, "a", "1", "");
        assert_item(fx, 1, "b", "2", "");
    }
}

/* Empty list elements carry nothing: skipped, not counted. */
static void test_extract__empty_members(void **state)
{
    struct fx *fx = *state;

    add(fx, "baggage", ", a=1,, \t ,b=2,");
    assert_extracted(fx, 2, 0);
    assert_item(fx, 0, "a", "1", "");
    assert_item(fx, 1, "b", "2", "");
}

/* Duplicate keys: the last one wins, in the first one's place. */
static void test_extract__duplicate_keys(void **state)
{
    struct fx *fx = *state;

    add(fx, "baggage", "k=1,x=2");
    add(fx, "baggage", "k=3;p");
    assert_extracted(fx, 2, 0);
    assert_item(fx, 0, "k", "3", "p");
    assert_item(fx, 1, "x", "2", "");
}

static void test_extract__absent(void **state)
{
    struct fx *fx = *state;
    const char *why;

    add(fx, "ot-baggage-k", "v");
    add(fx, "uberctx-k", "v");
    assert_int_equal(extract(fx, &why), TB_ENOTFOUND);
}

/* Present, but nothing usable: the header is invalid. */
static void test_extract__nothing_valid(void **state)
{
    static const char *const cases[] = {"", " , ,", "k", "k=a b,=1", "k=%zz"};

    for (size_t i = 0; i < TB_ARRAY_SIZE(cases); i++) {
        struct fx *fx;
        const char *why;

        teardown(state);
        setup(state);
        fx = *state;
        print_message("case %zu: \"%s\"\n", i, cases[i]);
        add(fx, "baggage", cases[i]);
        assert_int_equal(extract(fx, &why), TB_EINVAL);
        assert_non_null(why);
    }
}

/* §2: 64 members; the 65th is dropped whole and counted. */
static void test_extract__limit_members(void **state)
{
    struct fx *fx = *state;
    char *value = tb_arena_alloc(fx->arena, 66 * 16);
    size_t o = 0;

    for (size_t i = 0; i < 66; i++)
        o += (size_t)sprintf(value + o, "%sk%zu=%zu", i > 0 ? "," : "", i, i);
    add(fx, "baggage", value);
    assert_extracted(fx, 64, 2);
    assert_item(fx, 0, "k0", "0", "");
    assert_item(fx, 63, "k63", "63", "");
    /* an existing key is still replaced past the member limit */
    add(fx, "baggage", "k5=new");
    assert_extracted(fx, 64, 2);
    assert_item(fx, 5, "k5", "new", "");
}

/* §2: 8192 bytes of key + value + properties; members are never cut. */
static void test_extract__limit_bytes(void **state)
{
    struct fx *fx = *state;
    char *value = tb_arena_alloc(fx->arena, 9000);

    /* "a" + 8000 = 8001 bytes; "b" + 191 would make 8193; "c" + 190 makes
     * exactly 8192; then even "d" + "" is one too many. */
    sprintf(value, "a=%s,b=%s,c=%s,d=", repeat(fx, 'x', 8000), repeat(fx, 'y', 191),
            repeat(fx, 'z', 190));
    add(fx, "baggage", value);
    assert_extracted(fx, 2, 2);
    assert_iov_equal(fx->ctx.baggage.items[0].key, "a");
    assert_iov_equal(fx->ctx.baggage.items[1].key, "c");
    assert_int_equal(fx->ctx.baggage.bytes, 8192);
}

/* The limit applies to decoded values: "%41" counts as one byte. */
static void test_extract__limit_counts_decoded_bytes(void **state)
{
    struct fx *fx = *state;
    char *value = tb_arena_alloc(fx->arena, 3 * 8191 + 16);

    memcpy(value, "k=", 2);
    for (size_t i = 0; i < 8191; i++)
        memcpy(value + 2 + 3 * i, "%41", 3);
    value[2 + 3 * 8191] = '\0';
    add(fx, "baggage", value);
    assert_extracted(fx, 1, 0);
    assert_int_equal(fx->ctx.baggage.items[0].value.len, 8191);
    assert_int_equal(fx->ctx.baggage.bytes, 8192);
}

/* A single member larger than the limit is syntactically valid: the result
 * is an empty, successful extraction that reports the drop. */
static void test_extract__only_member_too_large(void **state)
{
    struct fx *fx = *state;
    char *value = tb_arena_alloc(fx->arena, 9000);

    sprintf(value, "k=%s", repeat(fx, 'x', 8192));
    add(fx, "baggage", value);
    assert_extracted(fx, 0, 1);
}

static void test_extract__arena_full(void **state)
{
    struct fx *fx = *state;
    const char *why;

    add(fx, "baggage", "k=%41");
    while (tb_arena_alloc(fx->arena, 1) != NULL)
        ;
    assert_int_equal(extract(fx, &why), TB_ENOSPC);
}

/* ------------------------------------------------------------------------ */
/* inject                                                                   */

/* §16.55 in reverse: byte-exact, uppercase hex. */
static void test_inject__spec_example(void **state)
{
    struct fx *fx = *state;

    put(fx, "userId", "Am\xc3\xa9lie", "");
    put(fx, "serverNode", "DF 28", "");
    put(fx, "isProduction", "false", "");
    assert_int_equal(inject(fx), 0);
    assert_headers(&fx->out, "baggage", "userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false");
    assert_int_equal(fx->out.entries[0].token, TB_HDR_BAGGAGE);
}

/* §16.56 through extract and inject: properties travel raw, OWS goes. */
static void test_inject__roundtrip_properties(void **state)
{
    struct fx *fx = *state;
    const char *why;

    add(fx, "baggage",
        "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue");
    assert_int_equal(extract(fx, &why), TB_OK);
    assert_int_equal(inject(fx), 0);
    assert_headers(&fx->out, "baggage",
                   "key1=value1;property1;property2,key2=value2,key3=value3;propertyKey="
                   "propertyValue");
}

/* Every byte outside baggage-octet, and '%', is encoded; the rest is not. */
static void test_inject__encoding(void **state)
{
    struct fx *fx = *state;
    static const char all_kept[] = "!#$&'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
                                   "abcdefghijklmnopqrstuvwxyz{|}~";

    put(fx, "a", all_kept, "");
    put(fx, "b", "%,;\"\\ \t\r\n\x7f\x80\xff", "");
    put(fx, "c", "", "");
    put(fx, "d", "", "");
    fx->ctx.baggage.items[3].value = (struct tb_iov){"x\0y", 3};
    assert_int_equal(inject(fx), 0);
    assert_headers(&fx->out, "baggage",
                   "a=!#$&'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
                   "abcdefghijklmnopqrstuvwxyz{|}~,"
                   "b=%25%2C%3B%22%5C%20%09%0D%0A%7F%80%FF,c=,d=x%00y");
}

static void test_inject__properties(void **state)
{
    struct fx *fx = *state;

    put(fx, "k1", "v 1", "p1;p2=x y");
    put(fx, "k2", "", "p");
    assert_int_equal(inject(fx), 0);
    assert_headers(&fx->out, "baggage", "k1=v%201;p1;p2=x y,k2=;p");
}

/* Keys that are not tokens and properties that are not wire-safe are
 * dropped (they cannot be encoded) and counted. */
static void test_inject__unsendable_items(void **state)
{
    struct fx *fx = *state;

    put(fx, "ok1", "1", "");
    put(fx, "", "empty key", "");
    put(fx, "a b", "1", "");
    put(fx, "k,", "1", "");
    put(fx, "k\xc3\xa9", "1", "");
    put(fx, "p1", "1", "a,b");
    put(fx, "p2", "1", "a\tb");
    put(fx, "p3", "1", "a\r\nX-Evil: 1");
    put(fx, "p4", "1", "\x7f");
    put(fx, "ok2", "2", "p=~ !");
    assert_int_equal(inject(fx), 8);
    assert_headers(&fx->out, "baggage", "ok1=1,ok2=2;p=~ !");
}

static void test_inject__nothing_to_send(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(inject(fx), 0);
    assert_int_equal(fx->out.num, 0);

    put(fx, "a b", "1", "");
    assert_int_equal(inject(fx), 1);
    assert_int_equal(fx->out.num, 0);
}

/* 8192 bytes of header value: an item that would pass it is dropped whole,
 * a later one that fits is still sent. */
static void test_inject__limit_bytes(void **state)
{
    struct fx *fx = *state;
    /* "a=" + 8000 = 8002; ",b=" + 188 = 191 would make 8193; ",c=" + 187 =
     * 190 makes exactly 8192. */
    char *a = repeat(fx, 'x', 8000), *b = repeat(fx, 'y', 188), *c = repeat(fx, 'z', 187);
    char *expect = tb_arena_alloc(fx->arena, 9000);

    put(fx, "a", a, "");
    put(fx, "b", b, "");
    put(fx, "c", c, "");
    put(fx, "d", "1", "");
    assert_int_equal(inject(fx), 2);
    sprintf(expect, "a=%s,c=%s", a, c);
    assert_headers(&fx->out, "baggage", expect);
    assert_int_equal(fx->out.entries[0].value.len, 8192);
}

/* The limit is on the encoded bytes: a value that fits decoded may not. */
static void test_inject__limit_counts_encoded_bytes(void **state)
{
    struct fx *fx = *state;

    put(fx, "a", repeat(fx, ' ', 2729), ""); /* 2 + 3 * 2729 = 8189 */
    put(fx, "b", "", "");                    /* ",b=": 8192 */
    put(fx, "c", "", "");                    /* 8195: dropped */
    assert_int_equal(inject(fx), 1);
    assert_int_equal(fx->out.num, 1);
    assert_int_equal(fx->out.entries[0].value.len, 8192);
    assert_memory_equal(fx->out.entries[0].value.base + 8189, ",b=", 3);

    /* one item alone over the limit: no header at all */
    tb_ctx_init(&fx->ctx, TB_FORMAT_BAGGAGE);
    tb_headers_init(&fx->out);
    put(fx, "a", repeat(fx, '%', 2731), "");
    assert_int_equal(inject(fx), 1);
    assert_int_equal(fx->out.num, 0);
}

/* 64 members; a context built by hand with more loses the excess. */
static void test_inject__limit_members(void **state)
{
    struct fx *fx = *state;
    struct tb_baggage_item *items = tb_arena_alloc(fx->arena, 66 * sizeof(*items));
    char *expect = tb_arena_alloc(fx->arena, 66 * 16);
    size_t o = 0;

    for (size_t i = 0; i < 66; i++) {
        char *key = tb_arena_alloc(fx->arena, 8);

        sprintf(key, "k%zu", i);
        items[i] = (struct tb_baggage_item){IOV(key), TB_IOV_LIT("v"), {NULL, 0}};
        if (i < 64)
            o += (size_t)sprintf(expect + o, "%sk%zu=v", i > 0 ? "," : "", i);
    }
    fx->ctx.baggage = (struct tb_baggage){.items = items, .num = 66, .cap = 66};
    assert_int_equal(inject(fx), 2);
    assert_headers(&fx->out, "baggage", expect);

    /* with an unsendable item among them, the 65th takes its place */
    tb_headers_init(&fx->out);
    items[3].key = TB_IOV_LIT("bad key");
    fx->ctx.baggage.num = 65;
    o = 0;
    for (size_t i = 0; i < 65; i++)
        if (i != 3)
            o += (size_t)sprintf(expect + o, "%sk%zu=v", i > 0 ? "," : "", i);
    assert_int_equal(inject(fx), 1);
    assert_headers(&fx->out, "baggage", expect);
}

/* Inject appends and removes nothing. */
static void test_inject__appends(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(
        tb_headers_add(fx->arena, &fx->out, TB_IOV_LIT("baggage"), TB_IOV_LIT("old=1")), TB_OK);
    put(fx, "k", "v", "");
    assert_int_equal(inject(fx), 0);
    assert_headers(&fx->out, "baggage", "old=1", "baggage", "k=v");
}

static void test_inject__arena_full(void **state)
{
    struct fx *fx = *state;
    size_t dropped = 0;

    put(fx, "k", "v", "");
    while (tb_arena_alloc(fx->arena, 1) != NULL)
        ;
    assert_int_equal(
        tb_propagator_baggage.inject(&fx->ctx, &fx->hop, fx->arena, &fx->out, &dropped), TB_ENOSPC);
    assert_int_equal(fx->out.num, 0);
    assert_int_equal(dropped, 0);
}

static void test_propagator__descriptor(void **state)
{
    const struct tb_propagator *p = &tb_propagator_baggage;

    (void)state;
    assert_string_equal(p->name, "baggage");
    assert_int_equal(p->format, TB_FORMAT_BAGGAGE);
    assert_int_equal(p->num_tokens, 1);
    assert_int_equal(p->tokens[0], TB_HDR_BAGGAGE);
    assert_null(p->baggage_prefix);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_extract__spec_example_percent),
        TEST(test_extract__spec_example_properties),
        TEST(test_extract__multiple_headers),
        TEST(test_extract__values),
        TEST(test_extract__invalid_members),
        TEST(test_extract__empty_members),
        TEST(test_extract__duplicate_keys),
        TEST(test_extract__absent),
        TEST(test_extract__nothing_valid),
        TEST(test_extract__limit_members),
        TEST(test_extract__limit_bytes),
        TEST(test_extract__limit_counts_decoded_bytes),
        TEST(test_extract__only_member_too_large),
        TEST(test_extract__arena_full),
        TEST(test_inject__spec_example),
        TEST(test_inject__roundtrip_properties),
        TEST(test_inject__encoding),
        TEST(test_inject__properties),
        TEST(test_inject__unsendable_items),
        TEST(test_inject__nothing_to_send),
        TEST(test_inject__limit_bytes),
        TEST(test_inject__limit_counts_encoded_bytes),
        TEST(test_inject__limit_members),
        TEST(test_inject__appends),
        TEST(test_inject__arena_full),
        cmocka_unit_test(test_propagator__descriptor),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
