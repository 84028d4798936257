/* kf_json — streaming NDJSON writer (see kf_json.h).
 * Hand-written: jansson builds a tree per value, which is too slow for kdissect's hot path;
 * this appends bytes to one growable buffer. Parsing JSON stays with jansson. */
#include "kf_json.h"
#include "kf_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KF_JW_MAXDEPTH 63

void kf_jw_init(kf_jw *w)
{
    memset(w, 0, sizeof *w);
    w->first = 1;
}

void kf_jw_free(kf_jw *w)
{
    free(w->ext ? w->own : w->buf);
    kf_jw_init(w);
}

static void jw_empty(kf_jw *w)
{
    w->len = 0;
    if (w->buf) w->buf[0] = '\0';
    w->depth = 0;
    w->first = 1;
    w->after_key = 0;
    w->failed = 0;
}

void kf_jw_reset_into(kf_jw *w, char *mem, size_t cap)
{
    if (!w->ext) { w->own = w->buf; w->own_cap = w->cap; }
    w->ext = 1;
    w->buf = mem;
    w->cap = cap;
    jw_empty(w);
}

void kf_jw_reset(kf_jw *w)
{
    if (w->ext) { w->buf = w->own; w->cap = w->own_cap; w->ext = 0; }
    jw_empty(w);
}

/* Makes room for n more bytes plus a terminating NUL; 0 ok, -1 (sticky) on failure.
 * The common case (room already there) is inlined; growing is out of line. Measured on
 * bench/data/api-one.pcap: jw_reserve alone was 7 % of kdissect's instructions. */
static int jw_grow(kf_jw *w, size_t n)
{
    if (w->failed) return -1;
    if (n > SIZE_MAX / 2 - w->len) { w->failed = 1; return -1; }
    size_t need = w->len + n + 1;
    if (need <= w->cap) return 0;
    /* the own buffer grows (writing into the caller's memory, it may be big enough already) */
    char *own = w->ext ? w->own : w->buf;
    size_t have = w->ext ? w->own_cap : w->cap;
    size_t cap = have ? have : 256;
    while (cap < need) cap *= 2;
    char *nb = cap > have ? realloc(own, cap) : own;
    if (!nb) { w->failed = 1; return -1; }
    if (w->ext) { memcpy(nb, w->buf, w->len + 1); w->ext = 0; }   /* outgrew the caller's memory: on in the own buffer */
    w->buf = nb;
    w->cap = cap;
    return 0;
}

static inline int jw_reserve(kf_jw *w, size_t n)
{
    if (__builtin_expect(!w->failed && n < w->cap && w->len < w->cap - n, 1)) return 0;
    return jw_grow(w, n);
}

static void jw_put(kf_jw *w, const char *s, size_t n)
{
    if (jw_reserve(w, n) < 0) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static inline void jw_putc(kf_jw *w, char c)
{
    if (jw_reserve(w, 1) < 0) return;
    w->buf[w->len++] = c;
    w->buf[w->len] = '\0';
}

/* Called before every value or key: writes the separating comma when needed. */
static void jw_sep(kf_jw *w)
{
    if (w->after_key) { w->after_key = 0; return; }
    if (w->depth > KF_JW_MAXDEPTH) return;
    uint64_t bit = (uint64_t)1 << w->depth;
    if (w->first & bit) w->first &= ~bit;
    else if (w->depth > 0) jw_putc(w, ',');
    else jw_putc(w, ' ');   /* several top-level values on one line: keep them apart */
}

static void jw_open(kf_jw *w, char c)
{
    jw_sep(w);
    jw_putc(w, c);
    if (w->depth >= KF_JW_MAXDEPTH) { w->failed = 1; return; }
    w->depth++;
    w->first |= (uint64_t)1 << w->depth;
}

static void jw_close(kf_jw *w, char c)
{
    if (w->depth <= 0) { w->failed = 1; return; }
    w->first &= ~((uint64_t)1 << w->depth);
    w->depth--;
    w->after_key = 0;
    jw_putc(w, c);
}

void kf_jw_obj_begin(kf_jw *w) { jw_open(w, '{'); }
void kf_jw_obj_end(kf_jw *w) { jw_close(w, '}'); }
void kf_jw_arr_begin(kf_jw *w) { jw_open(w, '['); }
void kf_jw_arr_end(kf_jw *w) { jw_close(w, ']'); }

/* Length of the valid UTF-8 sequence starting at p (n bytes left), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return (n >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;          /* overlong */
        if (c == 0xED && p[1] >= 0xA0) return 0;         /* surrogates */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;          /* overlong */
        if (c == 0xF4 && p[1] >= 0x90) return 0;         /* above U+10FFFF */
        return 4;
    }
    return 0;
}

static const char hexd[] = "0123456789abcdef";

/* 1 for a byte that is copied as it is (0x20..0x7f except '"' and '\\'): one load per byte
 * instead of four compares in the loops below. */
static const unsigned char jw_plain[256] = {
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,1,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
};


#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define KF_JW_SWAR 1
#if defined(__SSE2__)
#define KF_JW_SSE2 1
#include <emmintrin.h>
#endif
/* High bit set in each byte of v that needs a look (< 0x20, >= 0x80, '"' or '\\'). Bytes above
 * the first such byte may be flagged falsely (borrows run upwards), the lowest flag is exact,
 * and only that one is used. */
static inline uint64_t swar_special(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    uint64_t m = (v - ones * 0x20) | (q - ones) | (b - ones);
    m &= ~v;
    return (m | v) & high;
}
/* The same for 4 bytes (the upper half of a zero-extended word would count as control bytes) */
static inline uint32_t swar_special4(uint32_t v)
{
    const uint32_t ones = 0x01010101u, high = 0x80808080u;
    uint32_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    uint32_t m = (v - ones * 0x20) | (q - ones) | (b - ones);
    m &= ~v;
    return (m | v) & high;
}
#endif

#ifdef KF_JW_SSE2
/* The bytes of the 16-byte block x from byte cur on, each '"' and '\\' among them (the bits of mq)
 * after a backslash, at o; returns the end. Stores run up to 16 bytes past it. */
static inline __attribute__((always_inline)) char *quote_runs(char *o, __m128i x, unsigned cur, unsigned mq)
{
    unsigned char blk[32];   /* the block, then zeros: runs are read from here */
    _mm_storeu_si128((__m128i *)blk, x);
    _mm_storeu_si128((__m128i *)(blk + 16), _mm_setzero_si128());
    while (mq) {
        unsigned k = (unsigned)__builtin_ctz(mq);
        _mm_storeu_si128((__m128i *)o, _mm_loadu_si128((const __m128i *)(blk + cur)));
        o += k - cur;
        *o++ = '\\';
        *o++ = (char)blk[k];
        cur = k + 1;
        mq &= mq - 1;
    }
    _mm_storeu_si128((__m128i *)o, _mm_loadu_si128((const __m128i *)(blk + cur)));
    return o + 16 - cur;
}
#endif

/* Escaping s[0..n) into out (which has room for 6*n bytes), returning the bytes written, is
 * escape_into below; this is its general loop, from s[i] on (s[0..i) went out as they are).
 * Hand-written fast path: runs of bytes that need no escaping (nearly all of an HTTP record)
 * are found and copied 8 bytes at a time (SWAR). Measured on a 50 000-packet prefix of
 * bench/data/api-one.pcap with callgrind: this loop went from 20.7 % of all instructions
 * (about 12 per output byte) to 9 %; escape_into's inline whole-string path took the rest.
 * A '"' or '\\' found so is escaped there and the words go on after it: JSON bodies are full
 * of quotes, and taking each through the byte loop cost about 960 instructions for a 72-byte
 * body on api-one (see the commit message). */
static __attribute__((noinline)) size_t escape_from(const unsigned char *s, size_t n, char *out, size_t i)
{
    char *o = out + i;
    while (i < n) {
#ifdef KF_JW_SSE2
        /* 16 bytes at a time (SSE2, in every x86-64): a block with no byte to escape is stored
         * whole; one whose only such bytes are '"' and '\\' is written run by run, each of
         * them after its backslash, without leaving the block. Hand-written for the benchmark:
         * a JSON body (about one byte in four a quote) went through the 8-byte loop below a
         * quote at a time, 730 instructions for a 72-byte body on bench/data/api-one.pcap, 3 %
         * of kdissect's (see the commit message). Stores run up to 16 bytes past o: out has
         * room for 6 bytes a byte (a block only when 16 are left, so n >= 16). */
        if (n - i >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
            /* signed: control bytes and bytes >= 0x80 (negative) are below 0x20 */
            unsigned ms = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
            unsigned mq = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                                                   _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
            if (!(ms | mq)) { _mm_storeu_si128((__m128i *)o, x); o += 16; i += 16; continue; }
            if (!ms) { o = quote_runs(o, x, 0, mq); i += 16; continue; }
            /* a control byte or one >= 0x80 in it: the bytes before the first byte to look at
             * as they are, that byte by the byte code below */
            unsigned k = (unsigned)__builtin_ctz(ms | mq);
            _mm_storeu_si128((__m128i *)o, x);
            o += k; i += k;
            goto one_byte;
        }
        if (n >= 16 && (size_t)(o - out) + 48 <= 6 * n) {
            /* the last 1..15 bytes: the block ending at n, from s[i] on (bit `skip` of its
             * masks), as above. Hand-written for the benchmark: a JSON body's tail of quotes
             * went through the word loop below a quote at a time (escape_from was 1.7 % of
             * kdissect's instructions on bench/data/api-one.pcap). Stores: o moves at most
             * two bytes a byte, each store writes 16, so 48 bytes of room are enough. */
            size_t at = n - 16;
            unsigned skip = (unsigned)(i - at);
            __m128i x = _mm_loadu_si128((const __m128i *)(s + at));
            unsigned ms = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20))) >> skip << skip;
            unsigned mq = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                                                   _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')))) >> skip << skip;
            if (ms) {   /* the bytes before the first to look at as they are, that one below */
                unsigned char blk[32];   /* (the block, then zeros: not past the string's end) */
                _mm_storeu_si128((__m128i *)blk, x);
                _mm_storeu_si128((__m128i *)(blk + 16), _mm_setzero_si128());
                unsigned k = (unsigned)__builtin_ctz(ms | mq);
                _mm_storeu_si128((__m128i *)o, _mm_loadu_si128((const __m128i *)(blk + skip)));
                o += k - skip; i = at + k;
                goto one_byte;
            }
            o = quote_runs(o, x, skip, mq);
            i = n;
            continue;
        }
#endif
#ifdef KF_JW_SWAR
        /* the next 8 bytes, or the last 2..7 (the word ending at n, shifted down, the bytes past
         * n not looked at): stored whole, as 2 bytes left mean room for 12 */
        size_t left = n - i;
        if (left >= 2 && n >= 8) {
            uint64_t v, m;
            if (left >= 8) {
                memcpy(&v, s + i, 8);
                m = swar_special(v);
                left = 8;
            } else {
                memcpy(&v, s + n - 8, 8);
                v >>= 8 * (8 - left);
                m = swar_special(v) & (((uint64_t)1 << 8 * left) - 1);
            }
            memcpy(o, &v, 8);
            size_t k = m ? (unsigned)__builtin_ctzll(m) >> 3 : left;
            o += k; i += k;
            if (!m) continue;
            if (s[i] == '"' || s[i] == '\\') { *o++ = '\\'; *o++ = (char)s[i++]; continue; }
        }
#endif
#ifdef KF_JW_SSE2
    one_byte:;
#endif
        unsigned c = s[i];
        if (jw_plain[c]) { *o++ = (char)c; i++; continue; }
        if (c >= 0x80) {
            size_t k = utf8_seq(s + i, n - i);
            if (k) { memcpy(o, s + i, k); o += k; i += k; continue; }
            /* invalid byte: the text \xNN, its backslash escaped for JSON */
            *o++ = '\\'; *o++ = '\\'; *o++ = 'x'; *o++ = hexd[c >> 4]; *o++ = hexd[c & 15];
            i++;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\t': *o++ = 't'; break;
        case '\r': *o++ = 'r'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default: *o++ = 'u'; *o++ = '0'; *o++ = '0'; *o++ = hexd[c >> 4]; *o++ = hexd[c & 15]; break;
        }
        i++;
    }
    return (size_t)(o - out);
}

/* Escapes s[0..n) into out (room for 6*n bytes); returns the bytes written. A whole string that
 * needs no escaping (nearly every one of a record: about 25 per record, most shorter than 16
 * bytes) is copied here, inline, without the general loop's call and setup: words of 8, the last
 * one overlapping; 4..7 bytes as two overlapping 4-byte words; fewer one by one. Measured with
 * callgrind on a 30 000-packet prefix of bench/data/api-one.pcap: the general loop for every
 * string cost about 70 instructions a call; 278 -> 270 M instructions in all. */
static inline __attribute__((always_inline)) size_t escape_into(const unsigned char *s, size_t n, char *out)
{
#ifdef KF_JW_SSE2
    if (n >= 16) {
        /* 16 bytes a step (SSE2), the last block overlapping the one before: a URL, a date or
         * a header's value of 16..40 bytes was three to five words of the SWAR loop below, 1 %
         * of kdissect's instructions on bench/data/api-one.pcap. Signed compare: control bytes
         * and bytes >= 0x80 (negative) are below 0x20. */
        size_t i = 0;
        for (;;) {
            size_t at = i + 16 <= n ? i : n - 16;
            __m128i x = _mm_loadu_si128((const __m128i *)(s + at));
            __m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                                       _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                                    _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
            if (_mm_movemask_epi8(bad)) return escape_from(s, n, out, i);   /* out[0..i) written */
            _mm_storeu_si128((__m128i *)(out + at), x);
            i = at + 16;
            if (i >= n) return n;
        }
    }
#endif
#ifdef KF_JW_SWAR
    if (n >= 8) {
        size_t i = 0;
        uint64_t v;
        for (; i + 8 <= n; i += 8) {
            memcpy(&v, s + i, 8);
            if (swar_special(v)) return escape_from(s, n, out, i);
            memcpy(out + i, &v, 8);
        }
        if (i == n) return n;
        memcpy(&v, s + n - 8, 8);
        if (swar_special(v)) return escape_from(s, n, out, i);
        memcpy(out + n - 8, &v, 8);
        return n;
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4); memcpy(&b, s + n - 4, 4);
        if (swar_special4(a) | swar_special4(b)) return escape_from(s, n, out, 0);
        memcpy(out, &a, 4); memcpy(out + n - 4, &b, 4);
        return n;
    }
#endif
    for (size_t i = 0; i < n; i++) {
        if (!jw_plain[s[i]]) return escape_from(s, n, out, i);
        out[i] = (char)s[i];
    }
    return n;
}

size_t kf_json_plain_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
#ifdef KF_JW_SWAR
    while (i + 8 <= n) {
        uint64_t v;
        memcpy(&v, u + i, 8);
        uint64_t m = swar_special(v);
        if (m) return i + ((unsigned)__builtin_ctzll(m) >> 3);
        i += 8;
    }
#endif
    while (i < n && jw_plain[u[i]]) i++;
    return i;
}

size_t kf_json_escape(const char *s, size_t n, char *out, size_t outcap)
{
    /* like snprintf: writes whole escapes only, NUL-terminates when outcap > 0, returns the
     * full length (without NUL) */
    const unsigned char *u = (const unsigned char *)s;
    /* fast path: room for the worst case (6 bytes per input byte), so escape in one go */
    if (out && n < (SIZE_MAX - 1) / 6 && outcap > 6 * n) {
        size_t m = escape_into(u, n, out);
        out[m] = '\0';
        return m;
    }
    size_t need = 0, wrote = 0, i = 0;
    int room = out && outcap > 0;
    char tmp[8];
    while (i < n) {
        size_t k = 1, m;
        const char *src;
        if (u[i] >= 0x80) k = utf8_seq(u + i, n - i);
        if (k <= 1) { k = 1; m = escape_into(u + i, 1, tmp); src = tmp; }
        else { m = k; src = (const char *)u + i; }
        if (room && wrote + m < outcap) { memcpy(out + wrote, src, m); wrote += m; }
        else room = 0;
        need += m;
        i += k;
    }
    if (out && outcap > 0) out[wrote] = '\0';
    return need;
}

static void jw_string(kf_jw *w, const char *s, size_t n)
{
    if (n > (SIZE_MAX - 8) / 6 || jw_reserve(w, n * 6 + 2) < 0) { w->failed = 1; return; }
    char *o = w->buf + w->len;
    *o++ = '"';
    o += escape_into((const unsigned char *)s, n, o);
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

/* Keys are short (a record has about 150 of them, 5 bytes on average), so the per-call cost
 * dominated: one reservation for quote, key and colon, and a table-driven copy that hands
 * over to escape_into only at a byte that needs escaping. Measured with callgrind on a
 * 50 000-packet prefix of bench/data/api-one.pcap: see the commit message. */
void kf_jw_keyn(kf_jw *w, const char *k, size_t n)
{
    jw_sep(w);
    if (n > (SIZE_MAX - 8) / 6 || jw_reserve(w, n * 6 + 3) < 0) { w->failed = 1; return; }
    char *o = w->buf + w->len;
    const unsigned char *u = (const unsigned char *)k;
    size_t i = 0;
    *o++ = '"';
    while (i < n && jw_plain[u[i]]) *o++ = (char)u[i++];
    if (i < n) o += escape_into(u + i, n - i, o);
    *o++ = '"';
    *o++ = ':';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
    w->after_key = 1;
}

void kf_jw_str(kf_jw *w, const char *s)
{
    if (!s) { kf_jw_null(w); return; }
    kf_jw_strn(w, s, strlen(s));
}

void kf_jw_strn(kf_jw *w, const char *s, size_t n)
{
    if (!s && n == 0) s = "";
    if (!s) { kf_jw_null(w); return; }
    jw_sep(w);
    jw_string(w, s, n);
}

void kf_jw_int(kf_jw *w, int64_t v)
{
    char b[24], *p = b + sizeof b;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do { *--p = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) *--p = '-';
    jw_sep(w);
    jw_put(w, p, (size_t)(b + sizeof b - p));
}

void kf_jw_uint(kf_jw *w, uint64_t v)
{
    char b[24], *p = b + sizeof b;
    do { *--p = (char)('0' + v % 10); v /= 10; } while (v);
    jw_sep(w);
    jw_put(w, p, (size_t)(b + sizeof b - p));
}

void kf_jw_double(kf_jw *w, double v)
{
    if (!isfinite(v)) { kf_jw_null(w); return; }
    if (fabs(v) < 1e15 && v == (double)(int64_t)v && !(v == 0 && signbit(v))) {
        /* a whole number: what %.15g writes, without stdio (every conn record has one) */
        kf_jw_int(w, (int64_t)v);
        return;
    }
    char b[40];
    /* shortest of %.15g / %.17g that reads back as the same double */
    int n = snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v) n = snprintf(b, sizeof b, "%.17g", v);
    jw_sep(w);
    jw_put(w, b, (size_t)n);
}

void kf_jw_bool(kf_jw *w, int v)
{
    jw_sep(w);
    if (v) jw_put(w, "true", 4);
    else jw_put(w, "false", 5);
}

void kf_jw_null(kf_jw *w)
{
    jw_sep(w);
    jw_put(w, "null", 4);
}

void kf_jw_time(kf_jw *w, int64_t ns)
{
    /* straight into the buffer: two per record */
    jw_sep(w);
    if (jw_reserve(w, 48) < 0) return;
    char *o = w->buf + w->len;
    *o++ = '"';
    o += kf_time_rfc3339_put(ns, o);
    *o++ = '"';
    *o = '\0';
    w->len = (size_t)(o - w->buf);
}

void kf_jw_base64(kf_jw *w, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    jw_sep(w);
    if (n > (SIZE_MAX / 4) * 3 - 16) { w->failed = 1; return; }
    size_t out = (n + 2) / 3 * 4;
    if (jw_reserve(w, out + 2) < 0) return;
    char *o = w->buf + w->len;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18]; *o++ = tab[(v >> 12) & 63]; *o++ = tab[(v >> 6) & 63]; *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = tab[v >> 18]; *o++ = tab[(v >> 12) & 63]; *o++ = '='; *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = tab[v >> 18]; *o++ = tab[(v >> 12) & 63]; *o++ = tab[(v >> 6) & 63]; *o++ = '=';
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

void kf_jw_raw(kf_jw *w, const char *json, size_t n)
{
    jw_sep(w);
    jw_put(w, json, n);
}

void kf_jw_append(kf_jw *w, const char *s, size_t n)
{
    jw_put(w, s, n);
}

void kf_jw_items(kf_jw *w, const char *s, size_t n)
{
    w->after_key = 0;   /* (items never follow a key) */
    jw_sep(w);
    jw_put(w, s, n);
}

/* ---- constant keys with their values (kf_json.h: hand-written for the benchmark) ---- */

/* Separator, reservation for the key and `more` bytes of value, and "k": written as it is.
 * Returns where the value goes, or NULL (failed). Leaves after_key clear: the value is
 * written by the caller, without another separator. */
static inline char *jw_kc(kf_jw *w, const char *k, size_t n, size_t more)
{
    /* one reservation for the separator, the key and the value (two were 3 % of kdissect's
     * instructions on bench/data/api-one.pcap) */
    if (n > SIZE_MAX / 4 || more > SIZE_MAX / 4 || jw_reserve(w, n + 4 + more) < 0) { w->failed = 1; return NULL; }
    char *o = w->buf + w->len;
    if (w->after_key) w->after_key = 0;   /* a key after a key: as kf_jw_keyn, no comma */
    else if (w->depth <= KF_JW_MAXDEPTH) {
        uint64_t bit = (uint64_t)1 << w->depth;
        if (w->first & bit) w->first &= ~bit;
        else *o++ = w->depth > 0 ? ',' : ' ';
    }
    *o++ = '"';
    /* the key (a literal, short) copied inline: memcpy of a length not known here was a libc
     * call per key, 1 % of kdissect's instructions on bench/data/api-one.pcap */
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 < n; i += 8) memcpy(o + i, k + i, 8);
        memcpy(o + n - 8, k + n - 8, 8);
    } else if (n >= 4) {
        memcpy(o, k, 4); memcpy(o + n - 4, k + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++) o[i] = k[i];
    }
    o += n;
    *o++ = '"';
    *o++ = ':';
    return o;
}

static inline void jw_end_at(kf_jw *w, char *o)
{
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

void kf_jw_keyc(kf_jw *w, const char *k, size_t n)
{
    char *o = jw_kc(w, k, n, 0);
    if (!o) return;
    jw_end_at(w, o);
    w->after_key = 1;
}

void kf_jw_kc_strn(kf_jw *w, const char *k, size_t kn, const char *v, size_t n)
{
    if (!v && n == 0) v = "";
    if (!v || n > (SIZE_MAX - 8) / 6) { kf_jw_keyc(w, k, kn); kf_jw_strn(w, v, n); return; }
    char *o = jw_kc(w, k, kn, n * 6 + 2);
    if (!o) return;
    *o++ = '"';
    o += escape_into((const unsigned char *)v, n, o);
    *o++ = '"';
    jw_end_at(w, o);
}

/* v in decimal at o (room for 20), two digits a step (kf_digits2, the table of the hundred
 * pairs): about ten numbers per record, the digit loop was 2 % of kdissect's instructions on
 * api-one.pcap */
static char *jw_u64(char *o, uint64_t v)
{
    /* the number of digits first (from the bits: 1233 / 4096 is just above log10(2)), then
     * written from the end where they go (no copy) */
    static const uint64_t p10[20] = {
        1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000, 10000000000ull,
        100000000000ull, 1000000000000ull, 10000000000000ull, 100000000000000ull, 1000000000000000ull,
        10000000000000000ull, 100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
    };
    if (v < 100) {   /* one or two digits (sizes, counts, zeros): half the numbers of a record */
        if (v < 10) { *o = (char)('0' + v); return o + 1; }
        memcpy(o, kf_digits2 + 2 * v, 2);
        return o + 2;
    }
    unsigned t = (unsigned)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;
    unsigned n = t + ((v | 1) >= p10[t]);
    char *p = o + n;
    while (v >= 100) { unsigned r = (unsigned)(v % 100); v /= 100; p -= 2; memcpy(p, kf_digits2 + 2 * r, 2); }
    if (v >= 10) { p -= 2; memcpy(p, kf_digits2 + 2 * v, 2); }
    else *--p = (char)('0' + v);
    return o + n;
}

void kf_jw_kc_uint(kf_jw *w, const char *k, size_t kn, uint64_t v)
{
    char *o = jw_kc(w, k, kn, 24);
    if (o) jw_end_at(w, jw_u64(o, v));
}

void kf_jw_kc_int(kf_jw *w, const char *k, size_t kn, int64_t v)
{
    char *o = jw_kc(w, k, kn, 24);
    if (!o) return;
    if (v < 0) { *o++ = '-'; o = jw_u64(o, (uint64_t)0 - (uint64_t)v); }
    else o = jw_u64(o, (uint64_t)v);
    jw_end_at(w, o);
}

void kf_jw_kc_bool(kf_jw *w, const char *k, size_t kn, int v)
{
    char *o = jw_kc(w, k, kn, 5);
    if (!o) return;
    if (v) { memcpy(o, "true", 4); o += 4; } else { memcpy(o, "false", 5); o += 5; }
    jw_end_at(w, o);
}

void kf_jw_kc_time(kf_jw *w, const char *k, size_t kn, int64_t ns)
{
    char *o = jw_kc(w, k, kn, 48);
    if (!o) return;
    *o++ = '"';
    int slot = (w->tc_valid & 1) && w->tc_ns[0] == ns ? 0 : (w->tc_valid & 2) && w->tc_ns[1] == ns ? 1 : -1;
    if (slot >= 0) {
        memcpy(o, w->tc_txt[slot], 30);
        o += 30;
    } else {
        size_t n = kf_time_rfc3339_put(ns, o);
        if (n == 30) {   /* always (years 1677..2262): the slots hold 30 bytes */
            unsigned s = w->tc_next & 1;
            memcpy(w->tc_txt[s], o, 30);
            w->tc_ns[s] = ns;
            w->tc_valid |= 1u << s;
            w->tc_next = s ^ 1;
        }
        o += n;
    }
    *o++ = '"';
    jw_end_at(w, o);
}

void kf_jw_kc_raw(kf_jw *w, const char *k, size_t kn, const char *json, size_t n)
{
    char *o = jw_kc(w, k, kn, n);
    if (!o) return;
    memcpy(o, json, n);
    jw_end_at(w, o + n);
}

void kf_jw_newline(kf_jw *w)
{
    jw_putc(w, '\n');
    w->depth = 0;
    w->first = 1;
    w->after_key = 0;
}
