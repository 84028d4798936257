/* scan.c — the selective scanner. One pass over a line checks that it is one JSON object and
 * notes where the values of the fields the expression uses are (a key tree built from their
 * paths), without building anything: strings are skipped eight bytes at a time, containers
 * nobody asked for are skipped by structure. Values are decoded later, only when the evaluator
 * reads them (value.c, with jansson for anything with structure or escapes).
 * Hand-written because no JSON library (jansson included) can skip what it is not asked for;
 * a full parse per line costs ten times more. What it checks: structure (braces, brackets,
 * commas, colons), string termination, escapes and control bytes, literals, number characters.
 * What it does not: UTF-8 validity inside strings (jansson checks those it decodes). */
#include "kfl.h"
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>   /* sixteen bytes at a time where the CPU has it (every x86-64) */
#endif

typedef struct { const char *k; size_t kl; struct kfl_trie *t; } sc_kid;
struct kfl_trie { int slot; int nkids, cap; sc_kid *kids; };

#define SC_MAX_DEPTH 2048     /* jansson's JSON_PARSER_MAX_DEPTH */

static struct kfl_trie *sc_new(kfl_arena *a)
{
    struct kfl_trie *t = kfl_alloc(a, sizeof *t);
    if (t) t->slot = -1;
    return t;
}

int kfl_scan_build(kfl_prog *p)
{
    p->trie = sc_new(&p->ar);
    if (!p->trie) return -1;
    for (int i = 0; i < p->nused; i++) {
        struct kfl_trie *t = p->trie;
        const char *s = p->used[i].path;
        for (;;) {
            const char *dot = strchr(s, '.');
            size_t kl = dot ? (size_t)(dot - s) : strlen(s);
            int k;
            for (k = 0; k < t->nkids; k++)
                if (t->kids[k].kl == kl && !memcmp(t->kids[k].k, s, kl)) break;
            if (k == t->nkids) {
                if (t->nkids == t->cap) {
                    int cap = t->cap ? t->cap * 2 : 4;
                    sc_kid *nk = kfl_alloc(&p->ar, (size_t)cap * sizeof *nk);
                    if (!nk) return -1;
                    if (t->nkids) memcpy(nk, t->kids, (size_t)t->nkids * sizeof *nk);
                    t->kids = nk; t->cap = cap;
                }
                t->kids[k].k = s; t->kids[k].kl = kl;
                t->kids[k].t = sc_new(&p->ar);
                if (!t->kids[k].t) return -1;
                t->nkids++;
            }
            t = t->kids[k].t;
            if (!dot) { t->slot = i; break; }
            s = dot + 1;
        }
    }
    return 0;
}

typedef struct {
    const char *p, *end;
    kfl_slot *slots;
    int depth;
} sc_st;

/* eight bytes at a time needs the first byte of a load in the low bits */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SC_SWAR 1
#else
#define SC_SWAR 0
#endif
#define SC_ONES 0x0101010101010101ULL
#define SC_HIGH 0x8080808080808080ULL
static inline uint64_t sc_haszero(uint64_t v) { return (v - SC_ONES) & ~v & SC_HIGH; }

/* JSON's whitespace; compact records have none, so the first test usually ends it */
static inline void sc_ws(sc_st *s)
{
    while (s->p < s->end && (unsigned char)*s->p <= ' ' &&
           (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

static int sc_hex4(const char *p) {
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
    }
    return 1;
}

/* s->p at the opening quote; on success s->p is past the closing quote and *esc tells whether
 * the string had escapes */
static inline __attribute__((always_inline)) int sc_string(sc_st *s, int *esc)
{
    const char *p = s->p + 1, *end = s->end;
    *esc = 0;
    for (;;) {
        unsigned char c;
#ifdef __SSE2__
        if (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
            __m128i x = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
                                     _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f)));
            unsigned m = mq | (unsigned)_mm_movemask_epi8(x);
            if (!m) { p += 16; continue; }
            unsigned i = (unsigned)__builtin_ctz(m);
            if (mq & (1u << i)) { s->p = p + i + 1; return 0; }   /* the closing quote: no reload */
            p += i;
            c = (unsigned char)*p;
        } else
#endif
        if (SC_SWAR && end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            /* the first '"', '\\' or byte < 0x20 among these eight (the lowest flagged byte of
             * each test is exact, so the lowest of their union is) */
            uint64_t t = sc_haszero(w ^ (SC_ONES * '"')) | sc_haszero(w ^ (SC_ONES * '\\')) |
                         ((w - SC_ONES * 0x20) & ~w & SC_HIGH);
            if (!t) { p += 8; continue; }
            unsigned sh = (unsigned)__builtin_ctzll(t) & ~7u;
            p += sh >> 3;
            c = (unsigned char)(w >> sh);     /* the byte itself, without reloading it */
        } else {
            while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) p++;
            if (p >= end) return -1;
            c = (unsigned char)*p;
        }
        if (c == '"') { s->p = p + 1; return 0; }
        if (c != '\\') return -1;                  /* a control byte */
        *esc = 1;
        if (p + 1 >= end) return -1;
        char e = p[1];
        if (e == 'u') {
            if (end - p < 6 || !sc_hex4(p + 2)) return -1;
            p += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') p += 2;
        else return -1;
    }
}

/* a key with escapes, decoded for comparison (keys we look for are short ASCII) */
static size_t sc_unescape(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap; i++) {
        if (p[i] != '\\') { out[o++] = p[i]; continue; }
        if (++i >= n) break;
        switch (p[i]) {
        case 'b': out[o++] = '\b'; break; case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break; case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned v = 0;
            for (int k = 1; k <= 4 && i + (size_t)k < n; k++) {
                char c = p[i + k];
                v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
            }
            i += 4;
            if (v < 0x80) out[o++] = (char)v;
            else out[o++] = '?';    /* non-ASCII never equals one of our names */
            break;
        }
        default: out[o++] = p[i];
        }
    }
    return o;
}

static inline int sc_scalar(sc_st *s)
{
    const char *p = s->p, *e = s->end;
    switch (*p) {
    case 't': if (e - p >= 4 && !memcmp(p, "true", 4)) { s->p += 4; return 0; } return -1;
    case 'f': if (e - p >= 5 && !memcmp(p, "false", 5)) { s->p += 5; return 0; } return -1;
    case 'n': if (e - p >= 4 && !memcmp(p, "null", 4)) { s->p += 4; return 0; } return -1;
    default: break;
    }
    /* number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    if (*p == '-') p++;
    if (p >= e || *p < '0' || *p > '9') return -1;
    if (*p == '0') p++;
    else while (p < e && *p >= '0' && *p <= '9') p++;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || *p < '0' || *p > '9') return -1;
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || *p < '0' || *p > '9') return -1;
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    s->p = p;
    return 0;
}

/* skips (and checks) a whole object or array nobody asked about, without recursion */
static int sc_skip(sc_st *s)
{
    char stack[SC_MAX_DEPTH];
    int d = 0, esc;
open:
    if (d == SC_MAX_DEPTH) return -1;
    stack[d++] = *s->p == '{' ? '}' : ']';
    s->p++;
    sc_ws(s);
    if (s->p >= s->end) return -1;
    if (*s->p == stack[d - 1]) { s->p++; d--; goto after; }
element:
    if (stack[d - 1] == '}') {
        if (s->p >= s->end || *s->p != '"' || sc_string(s, &esc)) return -1;
        if (s->p < s->end && *s->p == ':') s->p++;         /* compact: "key":value */
        else {
            sc_ws(s);
            if (s->p >= s->end || *s->p != ':') return -1;
            s->p++;
        }
        sc_ws(s);
    }
    if (s->p >= s->end) return -1;
    switch (*s->p) {
    case '"': if (sc_string(s, &esc)) return -1; break;
    case '{': case '[': goto open;
    default: if (sc_scalar(s)) return -1;
    }
after:
    if (d == 0) return 0;
    sc_ws(s);
    if (s->p >= s->end) return -1;
    if (*s->p == ',') { s->p++; if (s->p < s->end && *s->p == '"') goto element; sc_ws(s); goto element; }
    if (*s->p == stack[d - 1]) { s->p++; d--; goto after; }
    return -1;
}

static int sc_object(sc_st *s, const struct kfl_trie *t);

static inline int sc_value(sc_st *s, const struct kfl_trie *t)
{
    if (s->p >= s->end) return -1;
    int esc;
    switch (*s->p) {
    case '"': return sc_string(s, &esc);
    case '{': if (t && t->nkids) return sc_object(s, t); return sc_skip(s);
    case '[': return sc_skip(s);
    default: return sc_scalar(s);
    }
}

/* an object whose keys we look up in t (t has children) */
static int sc_object(sc_st *s, const struct kfl_trie *t)
{
    if (++s->depth > SC_MAX_DEPTH) return -1;
    s->p++;                             /* '{' */
    sc_ws(s);
    if (s->p < s->end && *s->p == '}') { s->p++; s->depth--; return 0; }
    for (;;) {
        if (s->p >= s->end || *s->p != '"') return -1;
        const char *k = s->p + 1;
        int esc;
        if (sc_string(s, &esc)) return -1;
        size_t kl = (size_t)(s->p - 1 - k);
        sc_ws(s);
        if (s->p >= s->end || *s->p != ':') return -1;
        s->p++;
        sc_ws(s);
        const struct kfl_trie *kid = NULL;
        char kb[128];
        if (esc) { kl = sc_unescape(k, kl, kb, sizeof kb); k = kb; }
        for (int i = 0; i < t->nkids; i++)
            if (t->kids[i].kl == kl && !memcmp(t->kids[i].k, k, kl)) { kid = t->kids[i].t; break; }
        const char *vstart = s->p;
        if (sc_value(s, kid)) return -1;
        if (kid && kid->slot >= 0) {
            kfl_slot *sl = &s->slots[kid->slot];
            sl->p = vstart; sl->n = (uint32_t)(s->p - vstart); sl->found = 1;
        }
        sc_ws(s);
        if (s->p >= s->end) return -1;
        if (*s->p == ',') { s->p++; sc_ws(s); continue; }
        if (*s->p == '}') { s->p++; s->depth--; return 0; }
        return -1;
    }
}

int kfl_scan_line(const kfl_prog *p, const char *line, size_t n, kfl_slot *slots, size_t *erroff)
{
    for (int i = 0; i < p->nused; i++) { slots[i].found = 0; slots[i].decoded = 0; }
    sc_st s = { line, line + n, slots, 0 };
    sc_ws(&s);
    if (s.p >= s.end || *s.p != '{') goto bad;
    if (p->trie->nkids ? sc_object(&s, p->trie) : sc_skip(&s)) goto bad;
    sc_ws(&s);
    if (s.p != s.end) goto bad;
    return 0;
bad:
    if (erroff) *erroff = (size_t)(s.p - line);
    return -1;
}
