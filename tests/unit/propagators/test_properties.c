/* SPDX-License-Identifier: MIT
 * Property tests over every codec of the registry. Random contexts (128-bit
 * and 64-bit-width ids, the four sampling states, baggage with arbitrary
 * bytes, native SkyWalking and EagleEye ids) are injected, sent on as an HTTP
 * hop would send them (names in random case, values OWS-trimmed) and
 * extracted again:
 *   - inject A → extract A gives back what A carries;
 *   - A → B → A keeps the trace id, sampling and baggage as far as both carry
 *     them;
 *   - a native sw8 / EagleEye id survives a tracecontext hop through the policy
 *     (tracebridge's tracestate member);
 *   - every injected header is a lower-case token with a value free of
 *     control bytes.
 * What each format carries is written out below as small rules taken from
 * protocols.md §3-§12, never derived by running the codecs twice.
 *
 * The PRNG is seeded with a fixed value, printed at start; TB_PROP_SEED=N
 * replays another seed, TB_PROP_SCALE=N multiplies the iteration counts and
 * TB_PROP_FORMATS=a,b limits the format loops to those formats.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/sha256.h"

#include "tb_test.h"

#include "common/arena.h"
#include "parsers/headers.h"
#include "parsers/hdr_names.h"
#include "propagators/context.h"
#include "propagators/policy.h"
#include "propagators/propagator.h"

#define IOV(s) ((struct tb_iov){(s), strlen(s)})

/* Iterations per test; TB_PROP_SCALE multiplies them. */
#define ITERS_IDENTITY 2000 /* per format */
#define ITERS_PAIR 500      /* per ordered pair (90 pairs), 3 hops each */
#define ITERS_NATIVE 1500   /* per native-id test */

/* ------------------------------------------------------------------------ */
/* Deterministic PRNG (splitmix64) and the failure report                   */

static uint64_t prop_seed = 0x74726163656272ull; /* "tracebr" */
static uint64_t prop_rng;
static unsigned prop_scale = 1;
static uint32_t prop_formats = ~0u; /* TB_PROP_FORMATS: the formats to run */

/* Where a failure happened, printed with it so that it can be replayed. */
static struct {
    const char *test;
    unsigned iter;
    char chain[96];
    const struct tb_headers *hops[6]; /* header tables of the hops so far */
    const char *labels[6];            /* what each table is */
    size_t num_hops;
} prop_where;

/* Records a header table to print if the case fails. */
static void prop_record(const char *label, const struct tb_headers *h)
{
    if (prop_where.num_hops < TB_ARRAY_SIZE(prop_where.hops)) {
        prop_where.labels[prop_where.num_hops] = label;
        prop_where.hops[prop_where.num_hops++] = h;
    }
}

static uint64_t rnd(void)
{
    uint64_t z = (prop_rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static bool rnd_chance(unsigned num, unsigned den)
{
    return rnd_below(den) < num;
}

static void rnd_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static void rnd_nonzero(uint8_t *p, size_t n)
{
    do
        rnd_bytes(p, n);
    while (all_zero(p, n));
}

/* Each test restarts the PRNG from the seed and its own name, so a test
 * replays alone with the same seed. */
static void prop_begin(const char *test)
{
    uint64_t h = prop_seed;

    for (const char *p = test; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    prop_rng = h;
    prop_where.test = test;
    prop_where.iter = 0;
    prop_where.chain[0] = '\0';
    prop_where.num_hops = 0;
}

static void prop_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void prop_report(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    print_error("property failed: %s\n  seed=%#" PRIx64 " test=%s iteration=%u chain=%s\n", msg,
                prop_seed, prop_where.test, prop_where.iter, prop_where.chain);
    for (size_t h = 0; h < prop_where.num_hops; h++) {
        const struct tb_headers *hdrs = prop_where.hops[h];

        print_error("  %s (%zu headers):\n", prop_where.labels[h], hdrs->num);
        for (size_t i = 0; i < hdrs->num; i++) {
            tb_test_print_bytes("    name:  ", hdrs->entries[i].name.base,
                                hdrs->entries[i].name.len);
            tb_test_print_bytes("    value: ", hdrs->entries[i].value.base,
                                hdrs->entries[i].value.len);
        }
    }
}

#define PROP_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            prop_report(__VA_ARGS__);                                                              \
            fail_msg("%s:%d: %s", __FILE__, __LINE__, #cond);                                      \
        }                                                                                          \
    } while (0)

static const char *hex_str(const uint8_t *p, size_t n, char *buf)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = digits[p[i] >> 4];
        buf[2 * i + 1] = digits[p[i] & 15];
    }
    buf[2 * n] = '\0';
    return buf;
}

static bool iov_eq(struct tb_iov a, struct tb_iov b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

static const char *sampling_name(enum tb_sampling s)
{
    switch (s) {
    case TB_SAMPLING_DEFER:
        return "defer";
    case TB_SAMPLING_ACCEPT:
        return "accept";
    case TB_SAMPLING_DENY:
        return "deny";
    case TB_SAMPLING_DEBUG:
        return "debug";
    }
    return "?";
}

static int setup(void **state)
{
    *state = tb_arena_new(64 * 1024, 4u << 20);
    return 0;
}

static int teardown(void **state)
{
    tb_arena_free(*state);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* What each format carries (protocols.md §12), one rule per helper          */

static bool fmt_carries_ids(enum tb_format f)
{
    switch (f) {
    case TB_FORMAT_BAGGAGE:
        return false;
    case TB_FORMAT_TRACECONTEXT:
    case TB_FORMAT_B3:
    case TB_FORMAT_B3MULTI:
    case TB_FORMAT_JAEGER:
    case TB_FORMAT_XRAY:
    case TB_FORMAT_OTTRACE:
    case TB_FORMAT_DATADOG:
    case TB_FORMAT_SW8:
    case TB_FORMAT_EAGLEEYE:
    case TB_FORMAT_NUM:
        break;
    }
    return true;
}

/* The trace id A hands on for `in`: OT keeps the right-most 64 bits (§5,
 * §12.1) unless they are zero (then it sends all 32 digits rather than an
 * invalid all-zero id); every other id format carries all 128 (Datadog
 * through _dd.p.tid, sw8 and EagleEye as 32 hex digits). */
static void expect_trace(enum tb_format f, const uint8_t in[16], uint8_t out[16])
{
    memcpy(out, in, 16);
    if (f == TB_FORMAT_OTTRACE && !all_zero(in + 8, 8))
        memset(out, 0, 8);
}

/* Datadog's decimal trace id is the low half: when it is zero there is no
 * Datadog form and nothing is sent (§7, §12.1). */
static bool fmt_can_carry_trace(enum tb_format f, const uint8_t trace[16])
{
    if (f == TB_FORMAT_DATADOG)
        return !all_zero(trace + 8, 8);
    return true;
}

/* The sampling state extract(inject(s)) gives (§12.2). */
static enum tb_sampling expect_sampling(enum tb_format f, enum tb_sampling s)
{
    bool sampled = tb_sampling_is_sampled(s);

    switch (f) {
    case TB_FORMAT_BAGGAGE: /* carries none: unchanged */
    case TB_FORMAT_B3:      /* 1 / 0 / absent / d */
    case TB_FORMAT_B3MULTI: /* Sampled 1 / 0 / absent, Flags: 1 */
        return s;
    case TB_FORMAT_TRACECONTEXT: /* the sampled flag only */
    case TB_FORMAT_OTTRACE:      /* true / false */
        return sampled ? TB_SAMPLING_ACCEPT : TB_SAMPLING_DENY;
    case TB_FORMAT_JAEGER: /* flags 0 / 1 / 3: defer is sent as 0 */
        return s == TB_SAMPLING_DEFER ? TB_SAMPLING_DENY : s;
    case TB_FORMAT_XRAY:     /* Sampled=1 / 0 / ?: debug is sent as 1 */
    case TB_FORMAT_DATADOG:  /* priority 1 / 0 / omitted; debug as 2, a user keep */
    case TB_FORMAT_EAGLEEYE: /* s1 / s0 / no header: debug is sent as s1 */
        return s == TB_SAMPLING_DEBUG ? TB_SAMPLING_ACCEPT : s;
    case TB_FORMAT_SW8: /* field 1: defer is sent as 1 (agents ignore it) */
        return s == TB_SAMPLING_DENY ? TB_SAMPLING_DENY : TB_SAMPLING_ACCEPT;
    case TB_FORMAT_NUM:
        break;
    }
    return s;
}

/* Formats whose sampling can only say "sampled or not". */
static bool fmt_sampling_is_binary(enum tb_format f)
{
    return f == TB_FORMAT_TRACECONTEXT || f == TB_FORMAT_OTTRACE || f == TB_FORMAT_SW8;
}

static bool fmt_carries_baggage(enum tb_format f)
{
    switch (f) {
    case TB_FORMAT_BAGGAGE: /* baggage */
    case TB_FORMAT_JAEGER:  /* uberctx-<key> */
    case TB_FORMAT_OTTRACE: /* ot-baggage-<key> */
    case TB_FORMAT_SW8:     /* sw8-correlation */
        return true;
    case TB_FORMAT_TRACECONTEXT:
    case TB_FORMAT_B3:
    case TB_FORMAT_B3MULTI:
    case TB_FORMAT_XRAY:
    case TB_FORMAT_DATADOG:
    case TB_FORMAT_EAGLEEYE:
    case TB_FORMAT_NUM:
        break;
    }
    return false;
}

enum bag_fate {
    BAG_LOST,  /* the format has no baggage carrier */
    BAG_KEEP,  /* must come back, as `key_out` = `value_out` */
    BAG_MAYBE, /* may come back (then as `key_out` = `value_out`) or be dropped and counted */
    BAG_DROP,  /* the carrier cannot hold it: dropped and counted */
};

/* Bytes the W3C baggage header needs for `bag` (§2: each byte outside
 * baggage-octet, and '%', is sent as %XX), plus a separator per item. */
static size_t w3c_baggage_len(const struct tb_baggage *bag)
{
    size_t n = 0;

    for (size_t i = 0; i < bag->num; i++) {
        const struct tb_baggage_item *it = &bag->items[i];

        n += it->key.len + 2 + (it->props.len ? it->props.len + 1 : 0);
        for (size_t k = 0; k < it->value.len; k++) {
            unsigned char c = (unsigned char)it->value.base[k];
            bool octet = c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
                         (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);

            n += octet && c != '%' ? 1 : 3;
        }
    }
    return n;
}

static struct tb_iov lower_copy(struct tb_arena *arena, struct tb_iov s)
{
    char *p = tb_arena_alloc(arena, s.len ? s.len : 1);

    assert_non_null(p);
    for (size_t i = 0; i < s.len; i++)
        p[i] = (char)tolower((unsigned char)s.base[i]);
    return (struct tb_iov){p, s.len};
}

static bool has_ctl(struct tb_iov v)
{
    for (size_t i = 0; i < v.len; i++)
        if ((unsigned char)v.base[i] < 0x20 || v.base[i] == 0x7f)
            return true;
    return false;
}

static struct tb_iov trim_sp(struct tb_iov v)
{
    while (v.len > 0 && v.base[0] == ' ')
        v.base++, v.len--;
    while (v.len > 0 && v.base[v.len - 1] == ' ')
        v.len--;
    return v;
}

/* True when an earlier key of `bag` differs from item `index`'s only in case. */
static bool has_case_twin(const struct tb_baggage *bag, size_t index)
{
    const struct tb_iov key = bag->items[index].key;

    for (size_t j = 0; j < index; j++)
        if (bag->items[j].key.len == key.len &&
            tb_memcaseeq(bag->items[j].key.base, key.base, key.len))
            return true;
    return false;
}

/* What carrier `f` does with item `index` of `bag` (§12.3). */
static enum bag_fate bag_carry(struct tb_arena *arena, enum tb_format f,
                               const struct tb_baggage *bag, size_t index, struct tb_iov *key_out,
                               struct tb_iov *value_out)
{
    const struct tb_baggage_item *it = &bag->items[index];
    bool case_twin = has_case_twin(bag, index);

    *key_out = it->key;
    *value_out = it->value;
    switch (f) {
    case TB_FORMAT_BAGGAGE:
        /* Percent-encoded UTF-8: every value comes back, while the header
         * stays within the 8192-byte limit. */
        return w3c_baggage_len(bag) <= TB_BAGGAGE_MAX_BYTES ? BAG_KEEP : BAG_MAYBE;
    case TB_FORMAT_JAEGER:
        /* Header names are case-folded (the later of two case twins cannot
         * be sent); values URL-encoded. */
        *key_out = lower_copy(arena, it->key);
        if (case_twin)
            return BAG_DROP;
        return it->value.len > 0 ? BAG_KEEP : BAG_MAYBE;
    case TB_FORMAT_OTTRACE:
        /* Raw values: a control byte cannot travel; spaces at the ends are
         * trimmed by the receiving parser (docs/formats/ottrace.md). */
        *key_out = lower_copy(arena, it->key);
        if (case_twin || has_ctl(it->value))
            return BAG_DROP;
        *value_out = trim_sp(it->value);
        return value_out->len > 0 ? BAG_KEEP : BAG_MAYBE;
    case TB_FORMAT_SW8:
        /* base64 key and value; at most 3 keys, values up to 128 bytes, an
         * empty value removes the key (§8.3). */
        return index < 3 && it->value.len > 0 && it->value.len <= 128 ? BAG_KEEP : BAG_MAYBE;
    case TB_FORMAT_TRACECONTEXT:
    case TB_FORMAT_B3:
    case TB_FORMAT_B3MULTI:
    case TB_FORMAT_XRAY:
    case TB_FORMAT_DATADOG:
    case TB_FORMAT_EAGLEEYE:
    case TB_FORMAT_NUM:
        break;
    }
    return BAG_LOST;
}

/* ------------------------------------------------------------------------ */
/* Independent SkyWalking / EagleEye id mappings (protocols.md §8.4, §8.5, §11) */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Go's hex.Decode of `n` pairs, either case; false at the first bad pair. */
static bool hex_decode_any(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* strconv.Atoi for the plain non-negative decimals the generator makes. */
static bool atoi_plain(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* swStringToUUID(s, extra) for ids whose first 32 bytes are hex or whose first
 * byte is not (the generator makes no other kind). */
static void sw_string_to_uuid(struct tb_iov s, uint32_t extra, uint8_t uid[16])
{
    const char *dot1, *dot2 = NULL;
    uint64_t mid, last;

    memset(uid, 0, 16);
    if (s.len < 32 || !hex_decode_any(s.base, 16, uid)) {
        memset(uid, 0, 16);
        return;
    }
    for (int i = 0; i < 4; i++, extra >>= 8)
        uid[i] ^= (uint8_t)extra;
    if (s.len == 32)
        return;
    dot1 = memchr(s.base, '.', s.len);
    for (size_t i = s.len; i-- > 0;)
        if (s.base[i] == '.') {
            dot2 = s.base + i;
            break;
        }
    if (dot1 != s.base + 32 || dot2 == dot1 ||
        !atoi_plain(dot1 + 1, (size_t)(dot2 - dot1 - 1), &mid) ||
        !atoi_plain(dot2 + 1, (size_t)(s.base + s.len - dot2 - 1), &last)) {
        memset(uid, 0, 16);
        return;
    }
    for (int i = 4; i < 8; i++, mid >>= 8)
        uid[i] ^= (uint8_t)mid;
    for (int i = 8; i < 16; i++, last >>= 8)
        uid[i] ^= (uint8_t)last;
}

/* uuid.Parse for the two forms of length <= 36 it accepts there. */
static bool uuid_parse(struct tb_iov s, uint8_t out[16])
{
    if (s.len == 32)
        return hex_decode_any(s.base, 16, out);
    if (s.len == 36) {
        static const int groups[] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

        if (s.base[8] != '-' || s.base[13] != '-' || s.base[18] != '-' || s.base[23] != '-')
            return false;
        for (int i = 0; i < 16; i++)
            if (!hex_decode_any(s.base + groups[i], 1, out + i))
                return false;
        return true;
    }
    return false;
}

/* §8.5: the collector mapping, else the first 16 bytes of SHA-256. */
static void expect_sw_trace(struct tb_iov id, uint8_t out[16], bool *hashed)
{
    uint8_t digest[TB_SHA256_DIGEST_LEN];

    if (id.len <= 36) {
        if (!uuid_parse(id, out))
            memset(out, 0, 16);
    } else {
        sw_string_to_uuid(id, 0, out);
    }
    *hashed = all_zero(out, 16);
    if (*hashed) {
        tb_sha256(id.base, id.len, digest);
        memcpy(out, digest, 16);
    }
}

/* segmentIDToSpanID; false when the collector gives zero. */
static bool expect_sw_span(struct tb_iov segment, uint32_t span, uint8_t out[8])
{
    uint8_t uid[16];

    if (segment.len < 32)
        return false;
    sw_string_to_uuid(segment, span, uid);
    for (int i = 0; i < 8; i++)
        out[i] = uid[i] ^ uid[i + 8];
    return !all_zero(out, 8);
}

/* §11: 1 to 32 hex digits left-padded, else SHA-256. */
static void expect_ee_trace(struct tb_iov id, uint8_t out[16], bool *hashed)
{
    uint8_t digest[TB_SHA256_DIGEST_LEN];
    bool hex = id.len >= 1 && id.len <= 32;

    for (size_t i = 0; hex && i < id.len; i++)
        hex = hexval((unsigned char)id.base[i]) >= 0;
    memset(out, 0, 16);
    if (hex) {
        for (size_t i = 0; i < id.len; i++) {
            size_t nib = 32 - id.len + i;
            int v = hexval((unsigned char)id.base[i]);

            out[nib / 2] |= (uint8_t)(nib % 2 ? v : v << 4);
        }
    }
    *hashed = all_zero(out, 16);
    if (*hashed) {
        tb_sha256(id.base, id.len, digest);
        memcpy(out, digest, 16);
    }
}

static size_t b64_encode(bool url, const uint8_t *in, size_t len, char *out)
{
    const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;

        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = abc[v >> 6 & 63];
        else if (!url)
            out[o++] = '=';
        if (i + 2 < len)
            out[o++] = abc[v & 63];
        else if (!url)
            out[o++] = '=';
    }
    return o;
}

/* Standard base64, padding optional; false on anything else. */
static bool b64_decode(struct tb_iov in, char *out, size_t *out_len)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0, len = in.len;

    while (len > 0 && in.base[len - 1] == '=')
        len--;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in.base[i];
        const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = c ? strchr(abc, c) : NULL;

        if (p == NULL)
            return false;
        acc = acc << 6 | (uint32_t)(p - abc);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits);
        }
    }
    *out_len = o;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Random contexts                                                          */

static const char tchars[] = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
static const char portable_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789-_";

enum gen_baggage {
    GEN_BAG_NONE,
    GEN_BAG_PORTABLE, /* <= 3 items every carrier holds: [a-z0-9-_] keys, visible values */
    GEN_BAG_HARD,     /* any token key, values with any code point, sometimes past the limits */
};

struct gen {
    enum gen_baggage baggage;
    bool props;      /* W3C properties on some items */
    bool tracestate; /* a random tracestate and tracebridge member */
};

/* Appends one UTF-8 code point of a random class to buf; returns its length. */
static size_t gen_codepoint(char *buf)
{
    uint32_t cp;

    switch (rnd_below(10)) {
    case 0: /* controls, NUL rarely */
        cp = rnd_chance(1, 8) ? 0 : 1 + rnd_below(0x1f);
        if (rnd_chance(1, 6))
            cp = 0x7f;
        break;
    case 1: /* bytes that need percent- or URL-encoding */
        cp = (unsigned char)" %,;=\"\\+/?&#:"[rnd_below(13)];
        break;
    case 2:
        cp = 0x80 + rnd_below(0x800 - 0x80);
        break;
    case 3:
        do
            cp = 0x800 + rnd_below(0x10000 - 0x800);
        while (cp >= 0xd800 && cp <= 0xdfff);
        break;
    case 4:
        cp = 0x10000 + rnd_below(0x110000 - 0x10000);
        break;
    default:
        cp = 0x21 + rnd_below(0x7f - 0x21);
        break;
    }
    if (cp < 0x80) {
        buf[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        buf[0] = (char)(0xc0 | cp >> 6);
        buf[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        buf[0] = (char)(0xe0 | cp >> 12);
        buf[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        buf[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    buf[0] = (char)(0xf0 | cp >> 18);
    buf[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    buf[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    buf[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static struct tb_iov gen_value(struct tb_arena *arena, bool portable)
{
    size_t target = portable ? 1 + rnd_below(16) : rnd_below(25);
    char *buf;
    size_t n = 0;

    if (!portable && rnd_chance(1, 20))
        target = 100 + rnd_below(300);
    buf = tb_arena_alloc(arena, target + 4);
    assert_non_null(buf);
    while (n < target) {
        if (portable)
            buf[n++] =
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"[rnd_below(66)];
        else
            n += gen_codepoint(buf + n);
    }
    return (struct tb_iov){buf, n};
}

static bool key_taken(const struct tb_baggage *bag, const char *key, size_t len)
{
    for (size_t i = 0; i < bag->num; i++)
        if (bag->items[i].key.len == len && tb_memcaseeq(bag->items[i].key.base, key, len))
            return true;
    return false;
}

static struct tb_iov gen_key(struct tb_arena *arena, const struct tb_baggage *bag, bool portable)
{
    /* Sometimes the case variant of a key already there: W3C keys are
     * case-sensitive, header-name carriers can hold only one of the two. */
    if (!portable && bag->num > 0 && rnd_chance(1, 10)) {
        struct tb_iov old = bag->items[rnd_below((uint32_t)bag->num)].key;
        char *key = tb_arena_alloc(arena, old.len);
        bool changed = false;

        assert_non_null(key);
        for (size_t i = 0; i < old.len; i++) {
            unsigned char c = (unsigned char)old.base[i];

            key[i] = (char)(islower(c) ? toupper(c) : tolower(c));
            changed |= key[i] != old.base[i];
        }
        if (changed && tb_baggage_find(bag, (struct tb_iov){key, old.len}) < 0)
            return (struct tb_iov){key, old.len};
    }
    for (;;) {
        size_t len = 1 + rnd_below(12);
        char *key = tb_arena_alloc(arena, len);

        assert_non_null(key);
        for (size_t i = 0; i < len; i++)
            key[i] = portable ? portable_chars[rnd_below(sizeof(portable_chars) - 1)]
                              : tchars[rnd_below(sizeof(tchars) - 1)];
        if (portable)
            key[0] = (char)('a' + rnd_below(26));
        if (!key_taken(bag, key, len))
            return (struct tb_iov){key, len};
    }
}

static struct tb_iov gen_props(void)
{
    static const char *const props[] = {"p", "p1;p2=v2", "prop=1", "a;b;c=d"};
    const char *p = props[rnd_below(TB_ARRAY_SIZE(props))];

    return IOV(p);
}

static void gen_baggage(struct tb_arena *arena, struct tb_baggage *bag, const struct gen *g)
{
    size_t num;

    if (g->baggage == GEN_BAG_NONE)
        return;
    if (g->baggage == GEN_BAG_PORTABLE) {
        num = rnd_below(4);
    } else {
        num = rnd_below(7);
        if (rnd_chance(1, 25))
            num = 60 + rnd_below(10); /* around the 64-item limit */
    }
    for (size_t i = 0; i < num; i++) {
        bool portable = g->baggage == GEN_BAG_PORTABLE;
        struct tb_iov key = gen_key(arena, bag, portable);
        struct tb_iov value = gen_value(arena, portable);
        struct tb_iov props = {NULL, 0};

        if (g->props && rnd_chance(1, 4))
            props = gen_props();
        assert_int_equal(tb_baggage_put(arena, bag, key, value, props), TB_OK);
    }
}

/* A valid W3C tracestate (Level 2 keys, §1.4): 0 to 4 members, sometimes
 * close to the 32-member limit. */
static struct tb_iov gen_tracestate(struct tb_arena *arena)
{
    static const char *const keys[] = {"congo", "rojo", "v1@sys", "dd", "a_b-c*d/e"};
    char *buf = tb_arena_alloc(arena, 1024);
    size_t n = 0, members = rnd_chance(1, 8) ? 30 + rnd_below(3) : rnd_below(5);

    assert_non_null(buf);
    for (size_t m = 0; m < members; m++) {
        n += (size_t)snprintf(buf + n, 1024 - n, "%s%s%zu=", m ? "," : "",
                              keys[rnd_below(TB_ARRAY_SIZE(keys))], m);
        for (size_t k = 1 + rnd_below(12); k > 0; k--) {
            char c = (char)(0x21 + rnd_below(0x7e - 0x21 + 1));

            buf[n++] = c == ',' || c == '=' ? '.' : c;
        }
    }
    return (struct tb_iov){buf, n};
}

/* §1.4: at most 32 members leave; ours goes first and pushes the right-most
 * member out of a full list. */
static struct tb_iov expect_tracestate(struct tb_iov ts, bool has_ours)
{
    size_t keep = has_ours ? 31 : 32, members = 0;

    for (size_t i = 0; i < ts.len; i++) {
        if (ts.base[i] == ',' && ++members == keep)
            return (struct tb_iov){ts.base, i};
    }
    return ts;
}

static void sync_sampled_flag(struct tb_trace_ctx *ctx)
{
    ctx->w3c_flags &= TB_W3C_FLAG_RANDOM;
    if (tb_sampling_is_sampled(ctx->sampling))
        ctx->w3c_flags |= TB_W3C_FLAG_SAMPLED;
}

static void gen_ctx(struct tb_arena *arena, struct tb_trace_ctx *ctx, const struct gen *g)
{
    tb_ctx_init(ctx, TB_FORMAT_TRACECONTEXT);
    switch (rnd_below(16)) {
    case 0:
    case 1:
    case 2:
    case 3: /* a 64-bit id from B3, Jaeger, OT or Datadog */
        ctx->id_width = 64;
        rnd_nonzero(ctx->trace_id + 8, 8);
        break;
    case 4: /* a 128-bit id whose high half happens to be zero */
        rnd_nonzero(ctx->trace_id + 8, 8);
        break;
    case 5: /* a 128-bit id whose low half is zero */
        if (rnd_chance(1, 2)) {
            rnd_nonzero(ctx->trace_id, 8);
            break;
        }
        /* fall through */
    default:
        rnd_nonzero(ctx->trace_id, 16);
        break;
    }
    rnd_nonzero(ctx->span_id, 8);
    ctx->sampling = (enum tb_sampling)rnd_below(4);
    if (ctx->id_width == 128 && rnd_chance(1, 2))
        ctx->w3c_flags = TB_W3C_FLAG_RANDOM;
    sync_sampled_flag(ctx);
    gen_baggage(arena, &ctx->baggage, g);
    if (g->tracestate) {
        ctx->tracestate = gen_tracestate(arena);
        if (rnd_chance(1, 3))
            ctx->tbstate = IOV("w:64;future:field");
    }
}

static void gen_hop(struct tb_hop *hop)
{
    memset(hop, 0, sizeof(*hop));
    rnd_nonzero(hop->span_id, 8);
    hop->service = TB_IOV_LIT("frontend");
    hop->instance = TB_IOV_LIT("frontend-1@10.0.0.1");
    hop->endpoint = TB_IOV_LIT("GET:/api/orders");
    hop->target = TB_IOV_LIT("orders:8080");
}

/* ------------------------------------------------------------------------ */
/* Hops                                                                     */

static bool is_tchar(unsigned char c)
{
    return c != 0 && strchr(tchars, c) != NULL;
}

/* Every injected header: a lower-case token name owned by format `f`, and a
 * value without CR, LF, NUL or any other control byte. */
static void check_injected(enum tb_format f, const struct tb_headers *h, size_t from)
{
    const struct tb_propagator *prop = tb_propagator_get(f);

    for (size_t i = from; i < h->num; i++) {
        const struct tb_header *e = &h->entries[i];
        bool owned = false;

        PROP_CHECK(e->name.len > 0, "%s injected an empty header name", prop->name);
        for (size_t k = 0; k < e->name.len; k++) {
            unsigned char c = (unsigned char)e->name.base[k];

            PROP_CHECK(is_tchar(c) && !(c >= 'A' && c <= 'Z'),
                       "%s injected header name byte %#x, not a lower-case token", prop->name, c);
        }
        for (size_t k = 0; k < e->value.len; k++) {
            unsigned char c = (unsigned char)e->value.base[k];

            PROP_CHECK(c >= 0x20 && c != 0x7f, "%s injected control byte %#x in %.*s", prop->name,
                       c, (int)e->name.len, e->name.base);
        }
        for (size_t t = 0; t < prop->num_tokens; t++)
            owned |= e->token != TB_HDR_UNKNOWN && e->token == prop->tokens[t];
        if (e->token == TB_HDR_UNKNOWN && prop->baggage_prefix != NULL) {
            size_t plen = strlen(prop->baggage_prefix);

            owned = e->name.len > plen && memcmp(e->name.base, prop->baggage_prefix, plen) == 0;
        }
        PROP_CHECK(owned, "%s injected %.*s, a header it does not own", prop->name,
                   (int)e->name.len, e->name.base);
    }
}

/* Copies `in[from..]` to `out` as the next hop receives it: names in random
 * case, values OWS-trimmed, tokens looked up again. */
static void transmit(struct tb_arena *arena, const struct tb_headers *in, size_t from,
                     struct tb_headers *out)
{
    tb_headers_init(out);
    for (size_t i = from; i < in->num; i++) {
        struct tb_iov name = in->entries[i].name, value = in->entries[i].value;
        char *n = tb_arena_alloc(arena, name.len ? name.len : 1);

        assert_non_null(n);
        for (size_t k = 0; k < name.len; k++) {
            unsigned char c = (unsigned char)name.base[k];

            n[k] = (char)(rnd_chance(1, 3) ? toupper(c) : c);
        }
        while (value.len > 0 && (value.base[0] == ' ' || value.base[0] == '\t'))
            value.base++, value.len--;
        while (value.len > 0 &&
               (value.base[value.len - 1] == ' ' || value.base[value.len - 1] == '\t'))
            value.len--;
        assert_int_equal(tb_headers_add(arena, out, (struct tb_iov){n, name.len}, value), TB_OK);
    }
}

struct hop_result {
    int status; /* of the extractor */
    struct tb_trace_ctx ctx;
    struct tb_headers *sent; /* what the hop sent (arena) */
    size_t dropped;          /* baggage the injector could not carry */
};

/* One hop through format `f`: inject `in` with `hop`, check the headers, send
 * them, extract with `f`. */
static void hop_through(struct tb_arena *arena, enum tb_format f, const struct tb_trace_ctx *in,
                        const struct tb_hop *hop, struct hop_result *r)
{
    const struct tb_propagator *prop = tb_propagator_get(f);
    struct tb_headers out;
    struct tb_trace_ctx ctx = *in;
    const char *why = NULL;

    r->sent = tb_arena_alloc(arena, sizeof(*r->sent));
    assert_non_null(r->sent);
    sync_sampled_flag(&ctx);
    tb_headers_init(&out);
    r->dropped = 0;
    PROP_CHECK(prop->inject(&ctx, hop, arena, &out, &r->dropped) == TB_OK, "%s inject failed",
               prop->name);
    check_injected(f, &out, 0);
    transmit(arena, &out, 0, r->sent);
    prop_record("injected and sent", r->sent);
    tb_ctx_init(&r->ctx, f);
    r->status = prop->extract(r->sent, arena, &r->ctx, &why);
    PROP_CHECK(r->status == TB_OK || r->status == TB_ENOTFOUND,
               "%s rejects its own output (status %d: %s)", prop->name, r->status, why ? why : "?");
    PROP_CHECK(r->status == TB_OK || r->sent->num == 0, "%s finds nothing in its own %zu headers",
               prop->name, r->sent->num);
    if (fmt_carries_ids(f) && !all_zero(in->trace_id, 16) && fmt_can_carry_trace(f, in->trace_id))
        PROP_CHECK(r->status == TB_OK, "%s sent no context for a trace id", prop->name);
}

/* The context the next hop would inject from: what `f` carried, the rest
 * (which in a real request other headers carry) from `in`. */
static void hop_next(enum tb_format f, const struct tb_trace_ctx *in, const struct hop_result *r,
                     struct tb_trace_ctx *next)
{
    *next = r->status == TB_OK ? r->ctx : *in;
    if (!fmt_carries_ids(f)) {
        memcpy(next->trace_id, in->trace_id, 16);
        memcpy(next->span_id, in->span_id, 8);
        next->id_width = in->id_width;
        next->sampling = in->sampling;
        next->w3c_flags = in->w3c_flags;
    }
    if (!fmt_carries_baggage(f))
        next->baggage = in->baggage;
}

/* Checks the baggage `f` extracted (`got`) against what it was given. */
static void check_baggage(struct tb_arena *arena, enum tb_format f, const struct tb_baggage *sent,
                          const struct tb_baggage *got, size_t dropped)
{
    size_t missing = 0, matched = 0;
    const char *name = tb_propagator_get(f)->name;

    for (size_t i = 0; i < sent->num; i++) {
        const struct tb_baggage_item *it = &sent->items[i];
        struct tb_iov key, value;
        enum bag_fate fate = bag_carry(arena, f, sent, i, &key, &value);
        ptrdiff_t at = tb_baggage_find(got, key);

        if (fate == BAG_LOST) {
            PROP_CHECK(at < 0, "%s has no baggage carrier but extracted %.*s", name, (int)key.len,
                       key.base);
            continue;
        }
        if (fate == BAG_DROP && has_case_twin(sent, i)) {
            /* Under its folded name stands the earlier twin's value. */
            missing++;
            continue;
        }
        if (at < 0 || fate == BAG_DROP) {
            if (fate == BAG_KEEP || (fate == BAG_DROP && at >= 0)) {
                tb_test_print_bytes("  key:   ", it->key.base, it->key.len);
                tb_test_print_bytes("  value: ", it->value.base, it->value.len);
            }
            PROP_CHECK(fate != BAG_KEEP, "%s lost baggage item %zu", name, i);
            PROP_CHECK(at < 0, "%s carried baggage item %zu, which it cannot hold", name, i);
            missing++;
            continue;
        }
        matched++;
        if (!iov_eq(got->items[at].value, value)) {
            tb_test_print_bytes("  key:      ", it->key.base, it->key.len);
            tb_test_print_bytes("  sent:     ", it->value.base, it->value.len);
            tb_test_print_bytes("  expected: ", value.base, value.len);
            tb_test_print_bytes("  received: ", got->items[at].value.base,
                                got->items[at].value.len);
            PROP_CHECK(false, "%s changed the value of baggage item %zu", name, i);
        }
        if (f == TB_FORMAT_BAGGAGE)
            PROP_CHECK(iov_eq(got->items[at].props, it->props),
                       "baggage changed the properties of item %zu", i);
    }
    PROP_CHECK(matched == got->num, "%s extracted %zu baggage items, %zu of them not sent", name,
               got->num, got->num - matched);
    if (fmt_carries_baggage(f))
        PROP_CHECK(missing == dropped + got->dropped,
                   "%s: %zu baggage items missing, %zu counted as dropped", name, missing,
                   dropped + got->dropped);
}

static void check_trace(enum tb_format f, const uint8_t expect[16], const uint8_t got[16],
                        const char *what)
{
    char e[33], g[33];

    PROP_CHECK(memcmp(expect, got, 16) == 0, "%s: %s trace id %s, expected %s",
               tb_propagator_get(f)->name, what, hex_str(got, 16, g), hex_str(expect, 16, e));
}

static void check_sampling(enum tb_format f, enum tb_sampling expect, enum tb_sampling got,
                           const char *what)
{
    if (fmt_sampling_is_binary(f))
        PROP_CHECK(tb_sampling_is_sampled(expect) == tb_sampling_is_sampled(got),
                   "%s: %s sampling %s, expected %s (sampled bit)", tb_propagator_get(f)->name,
                   what, sampling_name(got), sampling_name(expect));
    else
        PROP_CHECK(expect == got, "%s: %s sampling %s, expected %s", tb_propagator_get(f)->name,
                   what, sampling_name(got), sampling_name(expect));
}

/* ------------------------------------------------------------------------ */
/* inject A → extract A                                                     */

static void identity_one(struct tb_arena *arena, enum tb_format f)
{
    const struct tb_propagator *prop = tb_propagator_get(f);
    struct gen g = {.baggage = GEN_BAG_HARD,
                    .props = f == TB_FORMAT_BAGGAGE,
                    .tracestate = f == TB_FORMAT_TRACECONTEXT};
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    struct hop_result r;
    uint8_t expect[16];
    char s1[17], s2[17];

    gen_ctx(arena, &ctx, &g);
    gen_hop(&hop);
    hop_through(arena, f, &ctx, &hop, &r);
    if (!fmt_carries_ids(f)) {
        if (r.status == TB_ENOTFOUND) {
            PROP_CHECK(ctx.baggage.num == 0, "baggage sent nothing for %zu items", ctx.baggage.num);
            return;
        }
        PROP_CHECK(all_zero(r.ctx.trace_id, 16), "baggage extracted a trace id");
        check_baggage(arena, f, &ctx.baggage, &r.ctx.baggage, r.dropped);
        return;
    }
    if (!fmt_can_carry_trace(f, ctx.trace_id)) {
        /* Nothing to compare; the headers were still checked. */
        return;
    }
    PROP_CHECK(r.status == TB_OK, "%s extracted nothing", prop->name);
    expect_trace(f, ctx.trace_id, expect);
    check_trace(f, expect, r.ctx.trace_id, "inject→extract");
    PROP_CHECK(memcmp(r.ctx.span_id, hop.span_id, 8) == 0, "%s: parent %s, expected the hop's %s",
               prop->name, hex_str(r.ctx.span_id, 8, s1), hex_str(hop.span_id, 8, s2));
    check_sampling(f, expect_sampling(f, ctx.sampling), r.ctx.sampling, "inject→extract");
    check_baggage(arena, f, &ctx.baggage, &r.ctx.baggage, r.dropped);
    if (f == TB_FORMAT_TRACECONTEXT) {
        /* The random flag is copied unchanged (§1.3), tracestate forwarded,
         * our member moved back out of it. */
        PROP_CHECK((r.ctx.w3c_flags & TB_W3C_FLAG_RANDOM) == (ctx.w3c_flags & TB_W3C_FLAG_RANDOM),
                   "tracecontext: random flag %d, expected %d", r.ctx.w3c_flags & 2,
                   ctx.w3c_flags & 2);
        struct tb_iov ts = expect_tracestate(ctx.tracestate, ctx.tbstate.len > 0);

        PROP_CHECK(iov_eq(r.ctx.tracestate, ts), "tracecontext: tracestate '%.*s', expected '%.*s'",
                   (int)r.ctx.tracestate.len, r.ctx.tracestate.base, (int)ts.len, ts.base);
        PROP_CHECK(iov_eq(r.ctx.tbstate, ctx.tbstate),
                   "tracecontext: tracebridge member '%.*s', expected '%.*s'",
                   (int)r.ctx.tbstate.len, r.ctx.tbstate.base, (int)ctx.tbstate.len,
                   ctx.tbstate.base);
    }
    if (f == TB_FORMAT_OTTRACE || f == TB_FORMAT_B3 || f == TB_FORMAT_B3MULTI ||
        f == TB_FORMAT_JAEGER) {
        /* 64-bit ids travel as 16 hex digits and come back 64 bits wide. */
        if (ctx.id_width == 64 || (f == TB_FORMAT_OTTRACE && !all_zero(ctx.trace_id + 8, 8)))
            PROP_CHECK(r.ctx.id_width == 64, "%s: width %u, expected 64", prop->name,
                       r.ctx.id_width);
    }
}

static void test_property__inject_extract_identity(void **state)
{
    struct tb_arena *arena = *state;

    prop_begin(__func__);
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        if (!(prop_formats & TB_FORMAT_BIT(f)))
            continue;
        snprintf(prop_where.chain, sizeof(prop_where.chain), "%s",
                 tb_propagator_get((enum tb_format)f)->name);
        for (unsigned i = 0; i < ITERS_IDENTITY * prop_scale; i++) {
            prop_where.iter = i;
            prop_where.num_hops = 0;
            tb_arena_reset(arena);
            identity_one(arena, (enum tb_format)f);
        }
    }
}

/* sw8 carrying a native trace id (not 32 hex) hands it back unchanged. */
static struct tb_iov gen_sw_id(struct tb_arena *arena, unsigned kind);

static void test_property__sw8_native_id_identity(void **state)
{
    struct tb_arena *arena = *state;
    struct gen g = {.baggage = GEN_BAG_NONE};

    prop_begin(__func__);
    snprintf(prop_where.chain, sizeof(prop_where.chain), "sw8");
    for (unsigned i = 0; i < ITERS_NATIVE * prop_scale; i++) {
        struct tb_trace_ctx ctx;
        struct tb_hop hop;
        struct hop_result r;
        struct tb_iov id;
        bool hashed;

        prop_where.iter = i;
        prop_where.num_hops = 0;
        tb_arena_reset(arena);
        gen_ctx(arena, &ctx, &g);
        gen_hop(&hop);
        id = gen_sw_id(arena, rnd_below(5));
        ctx.extras |= TB_FORMAT_BIT(TB_FORMAT_SW8);
        ctx.sw8.trace_id = id;
        expect_sw_trace(id, ctx.trace_id, &hashed);
        ctx.id_width = 128;
        hop_through(arena, TB_FORMAT_SW8, &ctx, &hop, &r);
        PROP_CHECK(r.status == TB_OK, "sw8 extracted nothing");
        check_trace(TB_FORMAT_SW8, ctx.trace_id, r.ctx.trace_id, "native id");
        PROP_CHECK(iov_eq(r.ctx.sw8.trace_id, id), "sw8: native trace id '%.*s', expected '%.*s'",
                   (int)r.ctx.sw8.trace_id.len, r.ctx.sw8.trace_id.base, (int)id.len, id.base);
        PROP_CHECK(memcmp(r.ctx.span_id, hop.span_id, 8) == 0, "sw8: parent is not the hop");
    }
}

/* ------------------------------------------------------------------------ */
/* A → B → A                                                                */

static void pair_one(struct tb_arena *arena, enum tb_format a, enum tb_format b, bool hard)
{
    struct gen g = {.baggage = hard ? GEN_BAG_HARD : GEN_BAG_PORTABLE};
    struct tb_trace_ctx c0, c1, c2;
    struct tb_hop hops[3];
    struct hop_result r1, r2, r3;
    uint8_t t1[16], t2[16], t3[16];
    enum tb_sampling s;
    char x[17];

    gen_ctx(arena, &c0, &g);
    for (int i = 0; i < 3; i++)
        gen_hop(&hops[i]);
    hop_through(arena, a, &c0, &hops[0], &r1);
    hop_next(a, &c0, &r1, &c1);
    hop_through(arena, b, &c1, &hops[1], &r2);
    hop_next(b, &c1, &r2, &c2);
    hop_through(arena, a, &c2, &hops[2], &r3);

    /* Expected values: the rules of each hop composed. */
    expect_trace(a, c0.trace_id, t1);
    expect_trace(b, t1, t2);
    expect_trace(a, t2, t3);
    s = expect_sampling(a, expect_sampling(b, expect_sampling(a, c0.sampling)));

    if (!fmt_can_carry_trace(a, c0.trace_id) || !fmt_can_carry_trace(b, t1))
        return;
    if (fmt_carries_ids(a)) {
        PROP_CHECK(r3.status == TB_OK, "%s extracted nothing on the third hop",
                   tb_propagator_get(a)->name);
        check_trace(a, t3, r3.ctx.trace_id, "A→B→A");
        check_sampling(a, s, r3.ctx.sampling, "A→B→A");
        PROP_CHECK(memcmp(r3.ctx.span_id, hops[2].span_id, 8) == 0,
                   "%s: parent %s is not the third hop's", tb_propagator_get(a)->name,
                   hex_str(r3.ctx.span_id, 8, x));
    }
    if (fmt_carries_baggage(a) && fmt_carries_baggage(b) && !hard) {
        /* Portable baggage passes every carrier unchanged. */
        static const struct tb_baggage none;
        const struct tb_baggage *got = r3.status == TB_OK ? &r3.ctx.baggage : &none;

        PROP_CHECK(got->num == c0.baggage.num, "%zu baggage items, %zu sent", got->num,
                   c0.baggage.num);
        for (size_t i = 0; i < c0.baggage.num; i++) {
            const struct tb_baggage_item *it = &c0.baggage.items[i];
            ptrdiff_t at = tb_baggage_find(got, it->key);

            PROP_CHECK(at >= 0 && iov_eq(got->items[at].value, it->value),
                       "baggage item '%.*s' lost or changed", (int)it->key.len, it->key.base);
        }
    } else if (fmt_carries_baggage(a) && fmt_carries_baggage(b) && r3.status == TB_OK) {
        /* Whatever comes back of hard baggage is what was sent, maybe with
         * its key lower-cased. */
        for (size_t i = 0; i < r3.ctx.baggage.num; i++) {
            const struct tb_baggage_item *it = &r3.ctx.baggage.items[i];
            bool found = false;

            for (size_t k = 0; k < c0.baggage.num && !found; k++) {
                const struct tb_baggage_item *o = &c0.baggage.items[k];

                /* OT's raw values lose spaces at their ends. */
                found = o->key.len == it->key.len &&
                        tb_memcaseeq(o->key.base, it->key.base, it->key.len) &&
                        (iov_eq(o->value, it->value) || iov_eq(trim_sp(o->value), it->value));
            }
            PROP_CHECK(found, "baggage item '%.*s' came back changed", (int)it->key.len,
                       it->key.base);
        }
    }
}

static void test_property__pairs_preserve_what_both_carry(void **state)
{
    struct tb_arena *arena = *state;

    prop_begin(__func__);
    for (unsigned a = 0; a < TB_FORMAT_NUM; a++) {
        for (unsigned b = 0; b < TB_FORMAT_NUM; b++) {
            if (a == b || !(prop_formats & TB_FORMAT_BIT(a)) || !(prop_formats & TB_FORMAT_BIT(b)))
                continue;
            snprintf(prop_where.chain, sizeof(prop_where.chain), "%s→%s→%s",
                     tb_propagator_get((enum tb_format)a)->name,
                     tb_propagator_get((enum tb_format)b)->name,
                     tb_propagator_get((enum tb_format)a)->name);
            for (unsigned i = 0; i < ITERS_PAIR * prop_scale; i++) {
                prop_where.iter = i;
                prop_where.num_hops = 0;
                tb_arena_reset(arena);
                pair_one(arena, (enum tb_format)a, (enum tb_format)b, i % 4 == 3);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Native ids through a tracecontext hop, with the policy                   */

static const char hexdigits[] = "0123456789abcdef";

static char *gen_hex(struct tb_arena *arena, size_t n, bool upper)
{
    char *p = tb_arena_alloc(arena, n);

    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        p[i] = hexdigits[rnd_below(16)];
        if (upper && rnd_chance(1, 2))
            p[i] = (char)toupper((unsigned char)p[i]);
    }
    return p;
}

/* kind 0: 32 lower-case hex; 1: 32 hex, mixed case; 2: a UUID with dashes;
 * 3: Java agent "<32 hex>.<thread>.<millis*10000+seq>"; 4: anything else. */
static struct tb_iov gen_sw_id(struct tb_arena *arena, unsigned kind)
{
    char *p;
    size_t n;

    switch (kind) {
    case 0:
    case 1:
        return (struct tb_iov){gen_hex(arena, 32, kind == 1), 32};
    case 2:
        p = gen_hex(arena, 36, rnd_chance(1, 4));
        p[8] = p[13] = p[18] = p[23] = '-';
        return (struct tb_iov){p, 36};
    case 3:
        p = tb_arena_alloc(arena, 80);
        assert_non_null(p);
        memcpy(p, gen_hex(arena, 32, false), 32);
        n = 32 + (size_t)snprintf(p + 32, 48, ".%u.%" PRIu64, rnd_below(300),
                                  (uint64_t)16563474296430000ull + rnd_below(10000000));
        return (struct tb_iov){p, n};
    default:
        /* Arbitrary text; the first byte is never a hex digit, so the
         * collector mapping gives zero and the hash applies. */
        n = rnd_chance(1, 20) ? 190 + rnd_below(100) : 1 + rnd_below(80);
        p = tb_arena_alloc(arena, n + 4);
        assert_non_null(p);
        p[0] = "ghijklmnopqrstuvwxyz.-_=+/ !~"[rnd_below(29)];
        for (size_t i = 1; i < n;)
            i += rnd_chance(1, 8) && i + 4 <= n ? gen_codepoint(p + i)
                                                : (p[i] = (char)(0x20 + rnd_below(0x5f)), 1);
        /* gen_codepoint may emit NUL or controls: keep it printable text. */
        for (size_t i = 1; i < n; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                p[i] = '#';
        return (struct tb_iov){p, n};
    }
}

/* The value of header `name` in `h`; fails unless there is exactly one. */
static struct tb_iov one_header(const struct tb_headers *h, const char *name)
{
    ptrdiff_t at = tb_headers_find(h, name, strlen(name), 0);

    PROP_CHECK(at >= 0, "no %s header", name);
    PROP_CHECK(tb_headers_find(h, name, strlen(name), (size_t)at + 1) < 0, "two %s headers", name);
    return h->entries[at].value;
}

static bool has_header(const struct tb_headers *h, const char *name)
{
    return tb_headers_find(h, name, strlen(name), 0) >= 0;
}

static void add_header(struct tb_arena *arena, struct tb_headers *h, const char *name,
                       struct tb_iov value)
{
    assert_int_equal(tb_headers_add(arena, h, IOV(name), value), TB_OK);
}

/* Ordinary request headers, around which the context headers travel. */
static void add_ordinary(struct tb_arena *arena, struct tb_headers *h)
{
    add_header(arena, h, "Host", TB_IOV_LIT("orders:8080"));
    add_header(arena, h, "User-Agent", TB_IOV_LIT("curl/8.5.0"));
    add_header(arena, h, "Accept", TB_IOV_LIT("*/*"));
}

static struct tb_iov b64_field(struct tb_arena *arena, struct tb_iov s, bool url)
{
    char *p = tb_arena_alloc(arena, (s.len + 2) / 3 * 4 + 1);

    assert_non_null(p);
    return (struct tb_iov){p, b64_encode(url, (const uint8_t *)s.base, s.len, p)};
}

/* An sw8 value built by hand (§8.1). */
static struct tb_iov build_sw8(struct tb_arena *arena, int sample, struct tb_iov trace,
                               struct tb_iov segment, unsigned span)
{
    struct tb_iov f[6] = {b64_field(arena, trace, false),
                          b64_field(arena, segment, false),
                          b64_field(arena, TB_IOV_LIT("svc-a"), false),
                          b64_field(arena, TB_IOV_LIT("inst-a@10.0.0.5"), false),
                          b64_field(arena, TB_IOV_LIT("/a/get"), false),
                          b64_field(arena, TB_IOV_LIT("10.0.0.6:8080"), false)};
    size_t cap = 32, n;
    char *p;

    for (int i = 0; i < 6; i++)
        cap += f[i].len + 1;
    p = tb_arena_alloc(arena, cap);
    assert_non_null(p);
    n = (size_t)snprintf(p, cap, "%d-%.*s-%.*s-%u-%.*s-%.*s-%.*s-%.*s", sample, (int)f[0].len,
                         f[0].base, (int)f[1].len, f[1].base, span, (int)f[2].len, f[2].base,
                         (int)f[3].len, f[3].base, (int)f[4].len, f[4].base, (int)f[5].len,
                         f[5].base);
    return (struct tb_iov){p, n};
}

/* Splits an sw8 value into its 8 fields; false unless there are 8. */
static bool split_sw8(struct tb_iov v, struct tb_iov fields[8])
{
    size_t n = 0;
    const char *p = v.base, *end = v.base + v.len;

    while (n < 8) {
        const char *dash = n < 7 ? memchr(p, '-', (size_t)(end - p)) : NULL;

        fields[n++] = (struct tb_iov){p, (size_t)((dash ? dash : end) - p)};
        if (dash == NULL)
            break;
        p = dash + 1;
    }
    return n == 8;
}

/* Parses "00-<32 hex>-<16 hex>-<2 hex>". */
static bool parse_traceparent(struct tb_iov v, uint8_t trace[16], uint8_t parent[8], uint8_t *flags)
{
    if (v.len != 55 || memcmp(v.base, "00-", 3) != 0 || v.base[35] != '-' || v.base[52] != '-')
        return false;
    for (size_t i = 0; i < v.len; i++)
        if (v.base[i] != '-' && !(v.base[i] >= '0' && v.base[i] <= '9') &&
            !(v.base[i] >= 'a' && v.base[i] <= 'f'))
            return false;
    return hex_decode_any(v.base + 3, 16, trace) && hex_decode_any(v.base + 36, 8, parent) &&
           hex_decode_any(v.base + 53, 1, flags);
}

/* The tracebridge member of a tracestate value, or an empty view. */
static struct tb_iov tbstate_member(struct tb_iov ts)
{
    static const char key[] = "tracebridge=";
    const char *p = ts.base, *end = ts.base + ts.len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        struct tb_iov m = {p, (size_t)((comma ? comma : end) - p)};

        while (m.len > 0 && (m.base[0] == ' ' || m.base[0] == '\t'))
            m.base++, m.len--;
        if (m.len >= sizeof(key) - 1 && memcmp(m.base, key, sizeof(key) - 1) == 0)
            return (struct tb_iov){m.base + sizeof(key) - 1, m.len - (sizeof(key) - 1)};
        p = comma ? comma + 1 : end;
    }
    return (struct tb_iov){NULL, 0};
}

static bool is_plain_hex_of(struct tb_iov id, const uint8_t trace[16])
{
    char h[33];

    return id.len == 32 && memcmp(id.base, hex_str(trace, 16, h), 32) == 0;
}

static void policy_with(struct tb_prop_policy *p, enum tb_format inject)
{
    struct tb_iov bad;

    assert_int_equal(tb_prop_policy_defaults(p, NULL, &bad), TB_OK);
    p->inject[0] = inject;
    p->num_inject = 1;
}

/* Runs the policy over `in` for one hop and returns the rewritten table. */
static struct tb_headers *policy_hop(struct tb_arena *arena, const struct tb_prop_policy *p,
                                     const struct tb_headers *in, const struct tb_hop *hop,
                                     struct tb_extraction *ext)
{
    struct tb_headers *recv = tb_arena_alloc(arena, sizeof(*recv));
    struct tb_headers *out = tb_arena_alloc(arena, sizeof(*out));
    uint8_t root[16];
    uint32_t written;
    size_t dropped;

    assert_non_null(recv);
    assert_non_null(out);
    transmit(arena, in, 0, recv);
    prop_record("received", recv);
    PROP_CHECK(tb_prop_extract(p, recv, arena, ext) == TB_OK, "tb_prop_extract failed");
    /* The rewrite works on a copy, so that the report shows both tables. */
    *out = *recv;
    out->entries = tb_arena_alloc(arena, (recv->num + 1) * sizeof(*out->entries));
    assert_non_null(out->entries);
    memcpy(out->entries, recv->entries, recv->num * sizeof(*out->entries));
    out->cap = recv->num + 1;
    prop_record("rewritten and sent", out);
    rnd_nonzero(root, 16);
    tb_prop_start_root(ext, root);
    PROP_CHECK(tb_prop_inject(p, ext, hop, arena, out, &written, &dropped) == TB_OK,
               "tb_prop_inject failed");
    return out;
}

static void test_property__sw8_native_id_survives_tracecontext_hop(void **state)
{
    struct tb_arena *arena = *state;
    struct tb_prop_policy to_w3c, to_sw8;

    prop_begin(__func__);
    snprintf(prop_where.chain, sizeof(prop_where.chain), "sw8→tracecontext→sw8 (policy)");
    policy_with(&to_w3c, TB_FORMAT_TRACECONTEXT);
    policy_with(&to_sw8, TB_FORMAT_SW8);
    for (unsigned i = 0; i < ITERS_NATIVE * prop_scale; i++) {
        struct tb_headers in, *mid, *out;
        struct tb_extraction *ext = tb_arena_alloc(arena, sizeof(*ext));
        struct tb_hop hop1, hop2;
        struct tb_iov id, segment, member, fields[8];
        uint8_t trace[16], parent[8], got_trace[16], got_parent[8], flags;
        int sample = rnd_chance(3, 4);
        unsigned span = rnd_below(20);
        bool hashed, fits;
        char buf[512], x1[33], x2[33];
        size_t len;

        prop_where.iter = i;
        prop_where.num_hops = 0;
        assert_non_null(ext);
        id = gen_sw_id(arena, rnd_below(5));
        segment = gen_sw_id(arena, rnd_chance(1, 2) ? 0 : 3);
        expect_sw_trace(id, trace, &hashed);
        gen_hop(&hop1);
        gen_hop(&hop2);
        tb_headers_init(&in);
        add_ordinary(arena, &in);
        add_header(arena, &in, "sw8", build_sw8(arena, sample, id, segment, span));

        /* Hop 1: sw8 in, tracecontext out. */
        mid = policy_hop(arena, &to_w3c, &in, &hop1, ext);
        PROP_CHECK(ext->winner == TB_FORMAT_SW8, "winner %d, expected sw8", ext->winner);
        check_trace(TB_FORMAT_SW8, trace, ext->ctx.trace_id, "sw8 mapping");
        if (expect_sw_span(segment, span, parent))
            PROP_CHECK(memcmp(ext->ctx.span_id, parent, 8) == 0, "parent %s, expected %s",
                       hex_str(ext->ctx.span_id, 8, x1), hex_str(parent, 8, x2));
        PROP_CHECK(!has_header(mid, "sw8"), "sw8 not removed in replace mode");
        PROP_CHECK(parse_traceparent(one_header(mid, "traceparent"), got_trace, got_parent, &flags),
                   "bad traceparent");
        check_trace(TB_FORMAT_TRACECONTEXT, trace, got_trace, "traceparent");
        PROP_CHECK(memcmp(got_parent, hop1.span_id, 8) == 0, "traceparent parent is not hop 1");
        PROP_CHECK((flags & TB_W3C_FLAG_SAMPLED) == (sample ? TB_W3C_FLAG_SAMPLED : 0),
                   "sampled flag %d for sw8 sample %d", flags & 1, sample);
        if (hashed)
            PROP_CHECK(!(flags & TB_W3C_FLAG_RANDOM), "random flag on a hashed trace id");
        /* Our member: sw:<base64url(id)>, unless the id is the trace id's own
         * 32 lower-case hex digits, or would take the member past 256. */
        len = b64_encode(true, (const uint8_t *)id.base, id.len, buf + 3);
        memcpy(buf, "sw:", 3);
        fits = len + 3 <= 256;
        member = has_header(mid, "tracestate") ? tbstate_member(one_header(mid, "tracestate"))
                                               : (struct tb_iov){NULL, 0};
        if (is_plain_hex_of(id, trace))
            PROP_CHECK(member.len == 0, "a tracebridge member for a plain hex id");
        else if (fits)
            PROP_CHECK(iov_eq(member, (struct tb_iov){buf, len + 3}),
                       "tracebridge member '%.*s', expected '%.*s'", (int)member.len, member.base,
                       (int)len + 3, buf);

        /* Hop 2: tracecontext in, sw8 out. */
        out = policy_hop(arena, &to_sw8, mid, &hop2, ext);
        PROP_CHECK(ext->winner == TB_FORMAT_TRACECONTEXT, "winner %d, expected tracecontext",
                   ext->winner);
        PROP_CHECK(!has_header(out, "traceparent"), "traceparent not removed");
        PROP_CHECK(split_sw8(one_header(out, "sw8"), fields), "sw8 without 8 fields");
        PROP_CHECK(b64_decode(fields[1], buf, &len), "sw8 trace id not base64");
        if (fits || is_plain_hex_of(id, trace))
            PROP_CHECK(iov_eq((struct tb_iov){buf, len}, id),
                       "native id '%.*s' came back as '%.*s'", (int)id.len, id.base, (int)len, buf);
        else
            PROP_CHECK(is_plain_hex_of((struct tb_iov){buf, len}, trace),
                       "an id too long for tracestate must leave as the trace id's hex");
        PROP_CHECK(iov_eq(fields[0], sample ? TB_IOV_LIT("1") : TB_IOV_LIT("0")),
                   "sw8 sample '%.*s', expected %d", (int)fields[0].len, fields[0].base, sample);
        /* §8.5: the parent segment names hop 2's span id, span 0. */
        PROP_CHECK(b64_decode(fields[2], buf, &len), "sw8 segment not base64");
        hex_str(hop2.span_id, 8, x1);
        memcpy(x1 + 16, "0000000000000000", 17);
        PROP_CHECK(iov_eq((struct tb_iov){buf, len}, IOV(x1)), "parent segment '%.*s'", (int)len,
                   buf);
        PROP_CHECK(iov_eq(fields[3], TB_IOV_LIT("0")), "parent span '%.*s'", (int)fields[3].len,
                   fields[3].base);
        tb_arena_reset(arena);
    }
}

/* EagleEye ids are 16 to 64 ASCII letters and digits (docs/formats/eagleeye.md).
 * kind 0: 32 lower-case hex (ARMS shape), 1: 30 hex (observed), 2: 16 to 32
 * hex of mixed case, 3: letters and digits that are not all hex. */
static struct tb_iov gen_ee_id(struct tb_arena *arena, unsigned kind)
{
    static const char alnum[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    size_t n;
    char *p;

    switch (kind) {
    case 0:
        return (struct tb_iov){gen_hex(arena, 32, false), 32};
    case 1:
        return (struct tb_iov){gen_hex(arena, 30, false), 30};
    case 2:
        n = 16 + rnd_below(17);
        return (struct tb_iov){gen_hex(arena, n, true), n};
    default:
        n = 16 + rnd_below(49);
        p = tb_arena_alloc(arena, n);
        assert_non_null(p);
        for (size_t i = 0; i < n; i++)
            p[i] = alnum[rnd_below(sizeof(alnum) - 1)];
        p[rnd_below((uint32_t)n)] = 'z';
        return (struct tb_iov){p, n};
    }
}

static void test_property__eagleeye_native_id_survives_tracecontext_hop(void **state)
{
    struct tb_arena *arena = *state;
    struct tb_prop_policy to_w3c, to_ee;

    prop_begin(__func__);
    snprintf(prop_where.chain, sizeof(prop_where.chain), "eagleeye→tracecontext→eagleeye");
    policy_with(&to_w3c, TB_FORMAT_TRACECONTEXT);
    policy_with(&to_ee, TB_FORMAT_EAGLEEYE);
    for (unsigned i = 0; i < ITERS_NATIVE * prop_scale; i++) {
        struct tb_headers in, *mid, *out;
        struct tb_extraction *ext = tb_arena_alloc(arena, sizeof(*ext));
        struct tb_hop hop1, hop2;
        struct tb_iov id;
        uint8_t trace[16];
        bool hashed;

        prop_where.iter = i;
        prop_where.num_hops = 0;
        assert_non_null(ext);
        id = gen_ee_id(arena, rnd_below(4));
        expect_ee_trace(id, trace, &hashed);
        gen_hop(&hop1);
        gen_hop(&hop2);
        tb_headers_init(&in);
        add_ordinary(arena, &in);
        add_header(arena, &in, "EagleEye-TraceId", id);
        add_header(arena, &in, "EagleEye-RpcId", TB_IOV_LIT("0.1"));

        mid = policy_hop(arena, &to_w3c, &in, &hop1, ext);
        PROP_CHECK(ext->winner == TB_FORMAT_EAGLEEYE, "winner %d, expected eagleeye", ext->winner);
        check_trace(TB_FORMAT_EAGLEEYE, trace, ext->ctx.trace_id, "eagleeye mapping");
        out = policy_hop(arena, &to_ee, mid, &hop2, ext);
        PROP_CHECK(ext->winner == TB_FORMAT_TRACECONTEXT, "winner %d, expected tracecontext",
                   ext->winner);
        PROP_CHECK(iov_eq(one_header(out, "eagleeye-traceid"), id),
                   "EagleEye id '%.*s' came back as '%.*s'", (int)id.len, id.base,
                   (int)one_header(out, "eagleeye-traceid").len,
                   one_header(out, "eagleeye-traceid").base);
        tb_arena_reset(arena);
    }
}

/* A 64-bit B3 id keeps its width across a tracecontext hop (w:64 member). */
static void test_property__b3_64bit_width_survives_tracecontext_hop(void **state)
{
    struct tb_arena *arena = *state;
    struct tb_prop_policy to_w3c, to_b3;

    prop_begin(__func__);
    snprintf(prop_where.chain, sizeof(prop_where.chain), "b3(64)→tracecontext→b3");
    policy_with(&to_w3c, TB_FORMAT_TRACECONTEXT);
    policy_with(&to_b3, TB_FORMAT_B3);
    for (unsigned i = 0; i < ITERS_NATIVE * prop_scale; i++) {
        struct tb_headers in, *mid, *out;
        struct tb_extraction *ext = tb_arena_alloc(arena, sizeof(*ext));
        struct tb_hop hop1, hop2;
        uint8_t trace[8], span[8];
        char value[64], t[17], s[17], expect[64];
        struct tb_iov b3;

        prop_where.iter = i;
        prop_where.num_hops = 0;
        assert_non_null(ext);
        rnd_nonzero(trace, 8);
        rnd_nonzero(span, 8);
        snprintf(value, sizeof(value), "%s-%s-1", hex_str(trace, 8, t), hex_str(span, 8, s));
        gen_hop(&hop1);
        gen_hop(&hop2);
        tb_headers_init(&in);
        add_ordinary(arena, &in);
        add_header(arena, &in, "b3", IOV(value));
        mid = policy_hop(arena, &to_w3c, &in, &hop1, ext);
        PROP_CHECK(ext->winner == TB_FORMAT_B3 && ext->ctx.id_width == 64, "b3 64-bit not read");
        out = policy_hop(arena, &to_b3, mid, &hop2, ext);
        PROP_CHECK(ext->ctx.id_width == 64, "width %u after the tracecontext hop",
                   ext->ctx.id_width);
        b3 = one_header(out, "b3");
        snprintf(expect, sizeof(expect), "%s-%s-1", t, hex_str(hop2.span_id, 8, s));
        PROP_CHECK(iov_eq(b3, IOV(expect)), "b3 '%.*s', expected '%s'", (int)b3.len, b3.base,
                   expect);
        tb_arena_reset(arena);
    }
}

/* ------------------------------------------------------------------------ */
/* Several formats of one context through the policy                       */

/* One request carrying a random subset of formats, all written from one
 * context (as by an upstream tracebridge with several --propagators), read
 * with a random --extract list. The first enabled format with ids wins;
 * the others merge when they name the same trace id (OT's truncated copy
 * does not) and are conflicts otherwise; a deferred winner takes the first
 * merged decision; the baggage of the winner, the merged carriers and W3C
 * baggage is one set. */
struct merge_stats {
    unsigned roots, merged, conflicts, deferred_filled, with_baggage;
};

static void policy_merge_one(struct tb_arena *arena, struct merge_stats *st)
{
    struct gen g = {.baggage = GEN_BAG_PORTABLE};
    struct tb_trace_ctx ctx;
    struct tb_hop hop;
    struct tb_headers raw, *in = tb_arena_alloc(arena, sizeof(*in));
    struct tb_extraction *ext = tb_arena_alloc(arena, sizeof(*ext));
    struct tb_prop_policy policy;
    struct tb_iov bad;
    uint32_t sent = 0, sources, merged = 0, conflicts = 0, bag_from;
    uint8_t win_trace[16], t[16];
    enum tb_sampling s;
    int winner = -1;
    char x1[33], x2[33];

    assert_non_null(in);
    assert_non_null(ext);
    gen_ctx(arena, &ctx, &g);
    gen_hop(&hop);
    tb_headers_init(&raw);
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        size_t before = raw.num, dropped = 0;

        if (!rnd_chance(1, 2))
            continue;
        assert_int_equal(
            tb_propagator_get((enum tb_format)f)->inject(&ctx, &hop, arena, &raw, &dropped), TB_OK);
        if (raw.num > before)
            sent |= TB_FORMAT_BIT(f);
    }
    transmit(arena, &raw, 0, in);
    prop_record("received", in);

    /* A random --extract list: each format enabled with odds 3/4, in a
     * random order. */
    assert_int_equal(tb_prop_policy_defaults(&policy, NULL, &bad), TB_OK);
    policy.num_extract = 0;
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++)
        if (rnd_chance(3, 4))
            policy.extract[policy.num_extract++] = (enum tb_format)f;
    for (size_t i = policy.num_extract; i > 1; i--) {
        size_t j = rnd_below((uint32_t)i);
        enum tb_format tmp = policy.extract[i - 1];

        policy.extract[i - 1] = policy.extract[j];
        policy.extract[j] = tmp;
    }
    {
        size_t n = 0;

        for (size_t i = 0; i < policy.num_extract; i++)
            n += (size_t)snprintf(prop_where.chain + n, sizeof(prop_where.chain) - n, "%s%s",
                                  i ? "," : "extract=", tb_propagator_get(policy.extract[i])->name);
    }
    PROP_CHECK(tb_prop_extract(&policy, in, arena, ext) == TB_OK, "tb_prop_extract failed");

    /* The `b3` codec reads X-B3-* when there is no `b3` header. */
    sources = sent & ~TB_FORMAT_BIT(TB_FORMAT_BAGGAGE);
    if (sent & TB_FORMAT_BIT(TB_FORMAT_B3MULTI))
        sources |= TB_FORMAT_BIT(TB_FORMAT_B3);
    s = TB_SAMPLING_DEFER;
    for (size_t i = 0; i < policy.num_extract; i++) {
        enum tb_format f = policy.extract[i];

        if (!(sources & TB_FORMAT_BIT(f)))
            continue;
        expect_trace(f, ctx.trace_id, t);
        if (winner < 0) {
            winner = (int)f;
            memcpy(win_trace, t, 16);
            s = expect_sampling(f, ctx.sampling);
        } else if (memcmp(t, win_trace, 16) == 0) {
            merged |= TB_FORMAT_BIT(f);
            if (s == TB_SAMPLING_DEFER)
                s = expect_sampling(f, ctx.sampling);
        } else {
            conflicts |= TB_FORMAT_BIT(f);
        }
    }
    PROP_CHECK(ext->winner == winner, "winner %d, expected %d (sent %#x)", ext->winner, winner,
               sent);
    PROP_CHECK(ext->merged == merged, "merged %#x, expected %#x", ext->merged, merged);
    PROP_CHECK(ext->conflicts == conflicts, "conflicts %#x, expected %#x", ext->conflicts,
               conflicts);
    PROP_CHECK(ext->invalid == 0, "invalid %#x", ext->invalid);
    st->roots += winner < 0;
    st->merged += merged != 0;
    st->conflicts += conflicts != 0;
    st->deferred_filled += winner >= 0 && expect_sampling(winner, ctx.sampling) != s;
    if (winner < 0)
        return;
    PROP_CHECK(memcmp(ext->ctx.trace_id, win_trace, 16) == 0, "trace id %s, expected %s",
               hex_str(ext->ctx.trace_id, 16, x1), hex_str(win_trace, 16, x2));
    PROP_CHECK(memcmp(ext->ctx.span_id, hop.span_id, 8) == 0, "parent %s, expected %s",
               hex_str(ext->ctx.span_id, 8, x1), hex_str(hop.span_id, 8, x2));
    PROP_CHECK(ext->ctx.sampling == s, "sampling %s, expected %s", sampling_name(ext->ctx.sampling),
               sampling_name(s));
    /* Portable baggage is the same in every carrier: one set when any
     * enabled carrier that counts sent it. */
    bag_from = (TB_FORMAT_BIT(winner) | merged) | (sent & TB_FORMAT_BIT(TB_FORMAT_BAGGAGE));
    for (unsigned f = 0; f < TB_FORMAT_NUM; f++) {
        bool enabled = false;

        for (size_t i = 0; i < policy.num_extract; i++)
            enabled |= policy.extract[i] == (enum tb_format)f;
        if (!enabled || !fmt_carries_baggage((enum tb_format)f))
            bag_from &= ~TB_FORMAT_BIT(f);
    }
    PROP_CHECK(ext->ctx.baggage.num == (bag_from ? ctx.baggage.num : 0),
               "%zu baggage items, expected %zu (carriers %#x)", ext->ctx.baggage.num,
               bag_from ? ctx.baggage.num : 0, bag_from);
    st->with_baggage += bag_from && ctx.baggage.num;
    for (size_t i = 0; bag_from && i < ctx.baggage.num; i++) {
        ptrdiff_t at = tb_baggage_find(&ext->ctx.baggage, ctx.baggage.items[i].key);

        PROP_CHECK(at >= 0 && iov_eq(ext->ctx.baggage.items[at].value, ctx.baggage.items[i].value),
                   "baggage item '%.*s' lost or changed", (int)ctx.baggage.items[i].key.len,
                   ctx.baggage.items[i].key.base);
    }
}

static void test_property__policy_merges_formats_that_agree(void **state)
{
    struct tb_arena *arena = *state;
    struct merge_stats st = {0};
    unsigned n = ITERS_NATIVE * prop_scale;

    prop_begin(__func__);
    for (unsigned i = 0; i < n; i++) {
        prop_where.iter = i;
        prop_where.num_hops = 0;
        tb_arena_reset(arena);
        policy_merge_one(arena, &st);
    }
    /* The cases must have covered every rule. */
    printf("  %u requests: %u new roots, %u with merges, %u with conflicts, %u deferred "
           "winners decided by a merge, %u with baggage\n",
           n, st.roots, st.merged, st.conflicts, st.deferred_filled, st.with_baggage);
    assert_true(st.roots > 0 && st.merged > 0 && st.conflicts > 0 && st.deferred_filled > 0 &&
                st.with_baggage > 0);
}

/* ------------------------------------------------------------------------ */
/* Sanity of the independent helpers against protocols.md §16               */

static void test_helpers__match_protocol_vectors(void **state)
{
    uint8_t t[16], s[8];
    char x[33];
    bool hashed;

    (void)state;
    expect_sw_trace(IOV("de5980b8-fce3-4a37-aab9-b4ac3af7eedd"), t, &hashed);
    assert_string_equal(hex_str(t, 16, x), "de5980b8fce34a37aab9b4ac3af7eedd");
    expect_sw_trace(IOV("de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430001"), t, &hashed);
    assert_string_equal(hex_str(t, 16, x), "de5980b8fde34a371be41bcd5e2fd4dd");
    assert_false(hashed);
    expect_sw_trace(IOV("de59"), t, &hashed);
    assert_true(hashed);
    assert_true(
        expect_sw_span(IOV("4f2f27748b8e44ecaf18fe0347194e86.33.16560607369950066"), 123, s));
    assert_string_equal(hex_str(s, 8, x), "e9c455a82542306a");
    assert_true(expect_sw_span(IOV("4f2f27748b8e44ecaf18fe0347194e86"), 123, s));
    assert_string_equal(hex_str(s, 8, x), "9b37d977cc970a6a");
    assert_false(expect_sw_span(IOV("16560607369950066"), 12, s));
    assert_true(expect_sw_span(IOV("de5980b8fce34a37aab9b4ac3af7eedd.1.16563474296430000"), 2, s));
    assert_string_equal(hex_str(s, 8, x), "c6bd9b75a3cc9eea");
    expect_ee_trace(IOV("ac11000117422788513302623e007d"), t, &hashed);
    assert_string_equal(hex_str(t, 16, x), "00ac11000117422788513302623e007d");
}

int main(void)
{
    const char *seed = getenv("TB_PROP_SEED"), *scale = getenv("TB_PROP_SCALE");
    const char *formats = getenv("TB_PROP_FORMATS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helpers__match_protocol_vectors),
        cmocka_unit_test_setup_teardown(test_property__inject_extract_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_property__sw8_native_id_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_property__pairs_preserve_what_both_carry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_property__sw8_native_id_survives_tracecontext_hop,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_property__eagleeye_native_id_survives_tracecontext_hop,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_property__b3_64bit_width_survives_tracecontext_hop,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_property__policy_merges_formats_that_agree, setup,
                                        teardown),
    };

    if (seed != NULL)
        prop_seed = strtoull(seed, NULL, 0);
    if (scale != NULL && atoi(scale) > 0)
        prop_scale = (unsigned)atoi(scale);
    if (formats != NULL) {
        enum tb_format list[TB_FORMAT_NUM];
        struct tb_iov bad;
        size_t num;

        if (tb_prop_parse_list(formats, list, &num, &bad) != TB_OK) {
            fprintf(stderr, "TB_PROP_FORMATS: unknown format '%.*s'\n", (int)bad.len, bad.base);
            return 2;
        }
        prop_formats = 0;
        for (size_t i = 0; i < num; i++)
            prop_formats |= TB_FORMAT_BIT(list[i]);
    }
    printf("test_properties: seed=%#" PRIx64 " scale=%u (TB_PROP_SEED / TB_PROP_SCALE)\n",
           prop_seed, prop_scale);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
