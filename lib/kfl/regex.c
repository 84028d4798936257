/* regex.c — CEL's matches(): RE2 syntax, unanchored search, in time linear in the input. This
 * file translates RE2 syntax into ERE where they agree and refuses what ERE cannot express:
 *   \d \D \w \W \s \S (also inside [...]), \n \t \r \f \v \a \xHH \x{HHHH} \Q…\E, \A \z,
 *   (?:…) and named groups (?P<n>…) become plain groups, a leading (?i) becomes REG_ICASE,
 *   lazy quantifiers (*? +? ?? {n,m}?) become greedy ones (the same answer for a search),
 *   escaped punctuation becomes a literal, '{' that is not a repetition is a literal.
 * The translated pattern then runs on the linear-time matcher below (not the C library's).
 * Refused, as RE2 refuses: back-references \1…\9, a repetition without an operand, "**",
 * counts over 1000. Refused because ERE differs: \p{…} classes, flags other than a leading (?i).
 * Character classes work on bytes, so a multi-byte character inside [...] matches byte-wise.
 * Hand-written because no library on Debian maps RE2 syntax onto an engine we may link. */
#include "kfl.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    char *o; size_t n, cap;
    int fail;
    char *err; size_t errlen;
} rx_buf;

static void rx_put(rx_buf *b, const char *s, size_t n)
{
    if (b->fail) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2 + 64;
        char *o = realloc(b->o, cap);
        if (!o) { b->fail = 1; return; }
        b->o = o; b->cap = cap;
    }
    memcpy(b->o + b->n, s, n);
    b->n += n;
    b->o[b->n] = 0;
}
static void rx_putc(rx_buf *b, char c) { rx_put(b, &c, 1); }

static int rx_fail(rx_buf *b, const char *msg)
{
    if (!b->fail) snprintf(b->err, b->errlen, "%s", msg);
    b->fail = 1;
    return -1;
}

/* one literal byte outside brackets */
static void rx_lit(rx_buf *b, unsigned char c)
{
    if (c == 0) return;          /* NUL cannot be written into an ERE pattern */
    if (strchr(".[]()*+?{}|^$\\", c)) rx_putc(b, '\\');
    rx_putc(b, (char)c);
}

static int rx_hex(int c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; }

/* \xHH or \x{H…}: code point into UTF-8 bytes; returns the count of pattern bytes used after 'x' */
static int rx_xescape(const char *p, size_t n, size_t i, unsigned char *u8, int *u8n)
{
    uint32_t cp = 0; size_t j = i;
    if (j < n && p[j] == '{') {
        j++;
        int d = 0;
        while (j < n && p[j] != '}') { int h = rx_hex((unsigned char)p[j]); if (h < 0 || ++d > 6) return -1; cp = cp * 16 + (uint32_t)h; j++; }
        if (j >= n || d == 0) return -1;
        j++;
    } else {
        if (j + 1 >= n + 0 || j + 2 > n) return -1;
        int h1 = rx_hex((unsigned char)p[j]), h2 = rx_hex((unsigned char)p[j + 1]);
        if (h1 < 0 || h2 < 0) return -1;
        cp = (uint32_t)(h1 * 16 + h2); j += 2;
    }
    if (cp > 0x10FFFF) return -1;
    if (cp < 0x80) { u8[0] = (unsigned char)cp; *u8n = 1; }
    else if (cp < 0x800) { u8[0] = (unsigned char)(0xC0 | cp >> 6); u8[1] = (unsigned char)(0x80 | (cp & 0x3F)); *u8n = 2; }
    else if (cp < 0x10000) { u8[0] = (unsigned char)(0xE0 | cp >> 12); u8[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F)); u8[2] = (unsigned char)(0x80 | (cp & 0x3F)); *u8n = 3; }
    else { u8[0] = (unsigned char)(0xF0 | cp >> 18); u8[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F)); u8[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F)); u8[3] = (unsigned char)(0x80 | (cp & 0x3F)); *u8n = 4; }
    return (int)(j - i);
}

static void rx_set_range(unsigned char *set, int lo, int hi) { for (int c = lo; c <= hi; c++) set[c] = 1; }

/* the class escapes \d \w \s into a byte set; 0 when c is not one */
static int rx_class(int c, unsigned char *set, int *neg)
{
    unsigned char t[256] = { 0 };
    switch (c) {
    case 'd': case 'D': rx_set_range(t, '0', '9'); break;
    case 'w': case 'W': rx_set_range(t, '0', '9'); rx_set_range(t, 'A', 'Z'); rx_set_range(t, 'a', 'z'); t['_'] = 1; break;
    case 's': case 'S': t['\t'] = t['\n'] = t['\f'] = t['\r'] = t[' '] = 1; break;
    default: return 0;
    }
    *neg = c >= 'A' && c <= 'Z';
    memcpy(set, t, 256);
    return 1;
}

/* writes an ERE bracket expression for the byte set (negated when neg) */
static void rx_emit_set(rx_buf *b, const unsigned char *set, int neg)
{
    int count = 0, only = -1;
    for (int c = 1; c < 256; c++) if (set[c]) { count++; only = c; }
    if (count == 0) { rx_put(b, neg ? "(.|\n)" : "[^\x01-\xff]", neg ? 5 : 7); return; }
    if (count == 1 && !neg) { rx_lit(b, (unsigned char)only); return; }
    rx_putc(b, '[');
    if (neg) rx_putc(b, '^');
    if (set[']']) rx_putc(b, ']');
    for (int c = 1; c < 256; c++) {
        if (!set[c] || c == ']' || c == '^' || c == '-') continue;
        int e = c;
        while (e + 1 < 256 && set[e + 1] && e + 1 != ']' && e + 1 != '^' && e + 1 != '-') e++;
        rx_putc(b, (char)c);
        if (e > c + 1) { rx_putc(b, '-'); rx_putc(b, (char)e); }
        else if (e == c + 1) rx_putc(b, (char)e);
        c = e;
    }
    if (set['^']) {
        if (b->n && b->o[b->n - 1] == '[') { /* '^' would be first: put it after another member */
            if (set['-']) { rx_put(b, "-^]", 3); return; }
            /* the set is just '^' (negated): */
            rx_put(b, "\\^]", 3); /* glibc reads "\" and "^": acceptable superset only for [^^] */
            return;
        }
        rx_putc(b, '^');
    }
    if (set['-']) rx_putc(b, '-');
    rx_putc(b, ']');
}

/* [...] starting at p[i] == '['; returns the index after ']' or -1 */
static long rx_bracket(rx_buf *b, const char *p, size_t n, size_t i)
{
    unsigned char set[256] = { 0 };
    int neg = 0, first = 1;
    i++;
    if (i < n && p[i] == '^') { neg = 1; i++; }
    for (;;) {
        if (i >= n) return rx_fail(b, "missing closing ]");
        unsigned char c = (unsigned char)p[i];
        if (c == ']' && !first) { i++; break; }
        first = 0;
        int lo = -1;
        if (c == '[' && i + 1 < n && p[i + 1] == ':') {
            static const struct { const char *n; const char *chars; } cls[] = {
                { "alpha", "azAZ" }, { "digit", "09" }, { "alnum", "azAZ09" }, { "upper", "AZ" },
                { "lower", "az" }, { "space", "\t\r  " }, { "xdigit", "09afAF" }, { "punct", "!/:@[`{~" },
                { "word", "azAZ09__" }, { "blank", "  \t\t" }, { "cntrl", "\x01\x1f\x7f\x7f" },
                { "print", " ~" }, { "graph", "!~" }, { "ascii", "\x01\x7f" },
            };
            const char *e = memchr(p + i + 2, ']', n - i - 2);
            if (!e || e < p + i + 3 || e[-1] != ':') return rx_fail(b, "bad character class");
            size_t nl = (size_t)(e - 1 - (p + i + 2));
            int cneg = nl && p[i + 2] == '^';
            const char *nm = p + i + 2 + cneg; size_t nml = nl - (size_t)cneg;
            unsigned char t[256] = { 0 };
            size_t k;
            for (k = 0; k < sizeof cls / sizeof cls[0]; k++)
                if (strlen(cls[k].n) == nml && !memcmp(cls[k].n, nm, nml)) break;
            if (k == sizeof cls / sizeof cls[0]) return rx_fail(b, "unknown character class");
            const char *r = cls[k].chars;
            for (size_t q = 0; r[q] && r[q + 1]; q += 2) rx_set_range(t, (unsigned char)r[q], (unsigned char)r[q + 1]);
            for (int x = 0; x < 256; x++) if (cneg ? !t[x] : t[x]) set[x] = 1;
            i = (size_t)(e - p) + 1;
            continue;
        }
        if (c == '\\') {
            if (i + 1 >= n) return rx_fail(b, "trailing backslash");
            unsigned char e = (unsigned char)p[i + 1];
            unsigned char t[256]; int cn;
            if (rx_class(e, t, &cn)) {
                for (int x = 0; x < 256; x++) if (cn ? !t[x] : t[x]) set[x] = 1;
                i += 2;
                continue;
            }
            i += 2;
            switch (e) {
            case 'n': lo = '\n'; break; case 't': lo = '\t'; break; case 'r': lo = '\r'; break;
            case 'f': lo = '\f'; break; case 'v': lo = '\v'; break; case 'a': lo = '\a'; break;
            case 'x': {
                unsigned char u8[4]; int u8n;
                int used = rx_xescape(p, n, i, u8, &u8n);
                if (used < 0) return rx_fail(b, "bad \\x escape");
                i += (size_t)used;
                if (u8n > 1) { for (int q = 0; q < u8n; q++) set[u8[q]] = 1; continue; }
                lo = u8[0];
                break;
            }
            default:
                if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
                    return rx_fail(b, "unsupported escape in [...]");
                lo = e;
            }
        } else { lo = c; i++; }
        if (i + 1 < n && p[i] == '-' && p[i + 1] != ']') {
            int hi;
            i++;
            if (p[i] == '\\') {
                if (i + 1 >= n) return rx_fail(b, "trailing backslash");
                unsigned char e = (unsigned char)p[i + 1];
                if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
                    if (e == 'n') hi = '\n'; else if (e == 't') hi = '\t'; else if (e == 'r') hi = '\r';
                    else if (e == 'x') {
                        unsigned char u8[4]; int u8n;
                        int used = rx_xescape(p, n, i + 2, u8, &u8n);
                        if (used < 0 || u8n != 1) return rx_fail(b, "bad range in [...]");
                        hi = u8[0]; i += (size_t)used;
                    } else return rx_fail(b, "bad range in [...]");
                } else hi = e;
                i += 2;
            } else { hi = (unsigned char)p[i]; i++; }
            if (hi < lo) return rx_fail(b, "bad range in [...]");
            rx_set_range(set, lo, hi);
        } else set[lo] = 1;
    }
    rx_emit_set(b, set, neg);
    return (long)i;
}

static int rx_translate(rx_buf *b, const char *p, size_t n, int *icase)
{
    size_t i = 0;
    int have_atom = 0, last_quant = 0, depth = 0;
    long size = 0, atom_size = 0;
    long gstart[64];
    if (n >= 4 && !memcmp(p, "(?i)", 4)) { *icase = 1; i = 4; }
    while (i < n && !b->fail) {
        unsigned char c = (unsigned char)p[i];
        long before = size;
        switch (c) {
        case '\\': {
            if (i + 1 >= n) return rx_fail(b, "trailing backslash");
            unsigned char e = (unsigned char)p[i + 1];
            unsigned char set[256]; int neg;
            i += 2;
            if (rx_class(e, set, &neg)) { rx_emit_set(b, set, neg); }
            else switch (e) {
            case 'n': rx_lit(b, '\n'); break; case 't': rx_lit(b, '\t'); break;
            case 'r': rx_lit(b, '\r'); break; case 'f': rx_lit(b, '\f'); break;
            case 'v': rx_lit(b, '\v'); break; case 'a': rx_lit(b, '\a'); break;
            case 'A': rx_putc(b, '^'); have_atom = 0; last_quant = 0; continue;
            case 'z': rx_putc(b, '$'); have_atom = 0; last_quant = 0; continue;
            case 'b': case 'B': rx_putc(b, '\\'); rx_putc(b, (char)e); have_atom = 0; last_quant = 0; continue;
            case 'x': {
                unsigned char u8[4]; int u8n;
                int used = rx_xescape(p, n, i, u8, &u8n);
                if (used < 0) return rx_fail(b, "bad \\x escape");
                i += (size_t)used;
                if (u8n > 1) rx_putc(b, '(');
                for (int q = 0; q < u8n; q++) rx_lit(b, u8[q]);
                if (u8n > 1) rx_putc(b, ')');
                break;
            }
            case 'Q': {
                const char *end = NULL;
                for (size_t q = i; q + 1 < n; q++) if (p[q] == '\\' && p[q + 1] == 'E') { end = p + q; break; }
                size_t stop = end ? (size_t)(end - p) : n;
                if (stop == i) { i = end ? stop + 2 : stop; continue; }
                rx_putc(b, '(');
                for (; i < stop; i++) rx_lit(b, (unsigned char)p[i]);
                rx_putc(b, ')');
                size += (long)(stop - i) + 1;
                i = end ? stop + 2 : stop;
                break;
            }
            default:
                if (e >= '1' && e <= '9') return rx_fail(b, "back-references are not RE2 syntax");
                if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || e == '0') {
                    char m[64]; snprintf(m, sizeof m, "unsupported escape \\%c", e);
                    return rx_fail(b, m);
                }
                rx_lit(b, e);
            }
            size++;
            have_atom = 1; last_quant = 0; atom_size = size - before;
            continue;
        }
        case '[': {
            long r = rx_bracket(b, p, n, i);
            if (r < 0) return -1;
            i = (size_t)r;
            size++;
            have_atom = 1; last_quant = 0; atom_size = 1;
            continue;
        }
        case '(':
            if (depth >= 64) return rx_fail(b, "regex nested too deeply");
            if (i + 1 < n && p[i + 1] == '?') {
                if (i + 2 < n && p[i + 2] == ':') i += 3;
                else if (i + 3 < n && p[i + 2] == 'P' && p[i + 3] == '<') {
                    const char *e = memchr(p + i, '>', n - i);
                    if (!e) return rx_fail(b, "bad named group");
                    i = (size_t)(e - p) + 1;
                } else if (i + 2 < n && p[i + 2] == '<') {
                    const char *e = memchr(p + i, '>', n - i);
                    if (!e) return rx_fail(b, "bad named group");
                    i = (size_t)(e - p) + 1;
                } else return rx_fail(b, "flags other than a leading (?i) are not supported");
            } else i++;
            rx_putc(b, '(');
            gstart[depth++] = size;
            have_atom = 0; last_quant = 0;
            continue;
        case ')':
            if (depth == 0) return rx_fail(b, "unexpected )");
            depth--;
            rx_putc(b, ')');
            i++;
            have_atom = 1; last_quant = 0; atom_size = size - gstart[depth] + 1;
            size++;
            continue;
        case '|':
            rx_putc(b, '|'); i++; have_atom = 0; last_quant = 0; continue;
        case '^': case '$':
            rx_putc(b, (char)c); i++; have_atom = 0; last_quant = 0; continue;
        case '*': case '+': case '?': case '{': {
            long lo = 0, hi = 0; size_t j = i + 1;
            if (c == '{') {
                int ok = 0; long v = 0; int d = 0;
                while (j < n && p[j] >= '0' && p[j] <= '9') { v = v * 10 + (p[j] - '0'); if (v > 100000) v = 100000; j++; d++; }
                if (d) {
                    lo = hi = v;
                    if (j < n && p[j] == '}') ok = 1;
                    else if (j < n && p[j] == ',') {
                        j++; v = 0; int d2 = 0;
                        while (j < n && p[j] >= '0' && p[j] <= '9') { v = v * 10 + (p[j] - '0'); if (v > 100000) v = 100000; j++; d2++; }
                        hi = d2 ? v : -1;
                        if (j < n && p[j] == '}') ok = 1;
                    }
                }
                if (!ok) { rx_lit(b, '{'); i++; size++; have_atom = 1; last_quant = 0; atom_size = 1; continue; }
                j++;
                if (lo > 1000 || hi > 1000) return rx_fail(b, "bad repetition count (over 1000)");
                if (hi >= 0 && hi < lo) return rx_fail(b, "bad repetition range");
            }
            if (last_quant) {
                if (c == '?' && last_quant == 1) { i++; last_quant = 2; continue; }   /* lazy: same answer */
                return rx_fail(b, "bad repetition operator (two in a row)");
            }
            if (!have_atom) return rx_fail(b, "missing argument to repetition operator");
            if (c == '{') {
                long m = hi < 0 ? lo : hi;
                if (m > 1) size += atom_size * (m - 1);
                rx_put(b, p + i, j - i);
                i = j;
            } else { rx_putc(b, (char)c); i++; }
            if (size > 20000) return rx_fail(b, "regex too large");
            last_quant = 1;
            continue;
        }
        case '}': rx_lit(b, '}'); i++; size++; have_atom = 1; last_quant = 0; atom_size = 1; continue;
        case 0: i++; continue;      /* NUL cannot be expressed; RE2 would match it literally */
        default:
            rx_putc(b, (char)c); i++; size++; have_atom = 1; last_quant = 0; atom_size = 1;
            continue;
        }
    }
    if (!b->fail && depth) return rx_fail(b, "missing closing )");
    if (b->fail && !b->err[0]) snprintf(b->err, b->errlen, "out of memory");
    return b->fail ? -1 : 0;
}

/* ---------- the matcher: a Thompson NFA simulated over the translated (ERE) pattern ----------
 * glibc's regexec backtracks (issue 21: "[a-z]+$" over a 100 KB field took 38 s, "(a+)+$" 52 s),
 * while KFL promises RE2's guarantee: time linear in the input. RE2 itself is C++, PCRE2's DFA
 * matcher would be a new dependency; an NFA simulation (Thompson 1968; the "Pike VM" without
 * captures, as matches() only needs yes/no) is a few hundred lines, so it is written here.
 * The translated pattern is parsed into a tree, compiled into instructions (counted
 * repetitions expanded; the translator already bounds their size), and run over the input
 * once, byte by byte, keeping the set of live states: O(input x pattern), no backtracking.
 * Semantics kept from the ERE engine it replaces: bytes, not characters (C locale); '.' any
 * byte but NUL; ^ and $ only at the ends; \b \B on ASCII word bytes; (?i) folds ASCII. */
enum { RN_SET, RN_ANY, RN_BOL, RN_EOL, RN_WORDB, RN_NWORDB, RN_CAT, RN_ALT, RN_REP, RN_EMPTY };
typedef struct rnode {
    int type;
    int set;                    /* RN_SET: index into sets */
    struct rnode *a, *b;        /* CAT/ALT: a, b; REP: a */
    int lo, hi;                 /* REP: hi -1 = unbounded */
} rnode;

enum { RI_SET, RI_ANY, RI_ASSERT, RI_SPLIT, RI_JMP, RI_MATCH };
typedef struct rinst { unsigned char op, arg; int x, y; } rinst;   /* SET: x = set index */

#define RX_MAX_INST 500000
struct kfl_regex {
    rinst *prog; int nprog, capprog;
    unsigned char (*sets)[32]; int nsets, capsets;
    int icase;
    int *cur, *nxt, *mark, *stack; unsigned gen;
};

typedef struct rparse {
    const char *p; size_t n, i;
    kfl_regex *re;
    rnode **nodes; size_t nnodes, capnodes;
    int fail;
    char *err; size_t errlen;
} rparse;

static rnode *rn_new(rparse *ps, int type)
{
    if (ps->fail) return NULL;
    if (ps->nnodes == ps->capnodes) {
        size_t c = ps->capnodes ? ps->capnodes * 2 : 64;
        rnode **v = realloc(ps->nodes, c * sizeof *v);
        if (!v) { ps->fail = 1; return NULL; }
        ps->nodes = v; ps->capnodes = c;
    }
    rnode *r = calloc(1, sizeof *r);
    if (!r) { ps->fail = 1; return NULL; }
    r->type = type;
    ps->nodes[ps->nnodes++] = r;
    return r;
}

static int rx_newset(kfl_regex *re)
{
    if (re->nsets == re->capsets) {
        int c = re->capsets ? re->capsets * 2 : 16;
        void *v = realloc(re->sets, (size_t)c * sizeof *re->sets);
        if (!v) return -1;
        re->sets = v; re->capsets = c;
    }
    memset(re->sets[re->nsets], 0, 32);
    return re->nsets++;
}
static void set_add(unsigned char *set, int c, int icase)
{
    set[c >> 3] |= (unsigned char)(1u << (c & 7));
    if (icase && c >= 'a' && c <= 'z') set_add(set, c - 32, 0);
    else if (icase && c >= 'A' && c <= 'Z') set_add(set, c + 32, 0);
}

static rnode *rp_alt(rparse *ps, int depth);

/* an ERE bracket expression as rx_emit_set writes it */
static rnode *rp_bracket(rparse *ps)
{
    const char *p = ps->p; size_t n = ps->n, i = ps->i + 1;
    int neg = 0, first = 1;
    unsigned char t[256] = { 0 };
    if (i < n && p[i] == '^') { neg = 1; i++; }
    for (;;) {
        if (i >= n) { ps->fail = 1; return NULL; }
        unsigned char c = (unsigned char)p[i];
        if (c == ']' && !first) { i++; break; }
        first = 0;
        if (i + 2 < n && p[i + 1] == '-' && p[i + 2] != ']') {
            unsigned char hi = (unsigned char)p[i + 2];
            for (int x = c; x <= hi; x++) t[x] = 1;
            i += 3;
        } else { t[c] = 1; i++; }
    }
    ps->i = i;
    int k = rx_newset(ps->re);
    rnode *r = rn_new(ps, RN_SET);
    if (k < 0 || !r) { ps->fail = 1; return NULL; }
    if (ps->re->icase)   /* fold first, then negate: (?i)[^c] excludes C as well */
        for (int x = 'a'; x <= 'z'; x++) if (t[x] || t[x - 32]) t[x] = t[x - 32] = 1;
    for (int x = 1; x < 256; x++)
        if (neg ? !t[x] : t[x]) set_add(ps->re->sets[k], x, 0);
    r->set = k;
    return r;
}

static rnode *rp_lit(rparse *ps, unsigned char c)
{
    int k = rx_newset(ps->re);
    rnode *r = rn_new(ps, RN_SET);
    if (k < 0 || !r) { ps->fail = 1; return NULL; }
    set_add(ps->re->sets[k], c, ps->re->icase);
    r->set = k;
    return r;
}

static rnode *rp_atom(rparse *ps, int depth)
{
    const char *p = ps->p;
    unsigned char c = (unsigned char)p[ps->i];
    switch (c) {
    case '(': {
        ps->i++;
        rnode *r = rp_alt(ps, depth + 1);
        if (ps->fail || ps->i >= ps->n || p[ps->i] != ')') { ps->fail = 1; return NULL; }
        ps->i++;
        return r;
    }
    case '[': return rp_bracket(ps);
    case '.': ps->i++; return rn_new(ps, RN_ANY);
    case '^': ps->i++; return rn_new(ps, RN_BOL);
    case '$': ps->i++; return rn_new(ps, RN_EOL);
    case '\\':
        if (ps->i + 1 >= ps->n) { ps->fail = 1; return NULL; }
        c = (unsigned char)p[ps->i + 1];
        ps->i += 2;
        if (c == 'b') return rn_new(ps, RN_WORDB);
        if (c == 'B') return rn_new(ps, RN_NWORDB);
        return rp_lit(ps, c);
    default:
        ps->i++;
        return rp_lit(ps, c);
    }
}

/* {n}, {n,}, {n,m} at ps->i; 1 and the bounds, or 0 (not a count: '{' is a literal) */
static int rp_count(rparse *ps, int *lo, int *hi)
{
    const char *p = ps->p; size_t n = ps->n, j = ps->i + 1;
    long a = 0, b; int d = 0;
    while (j < n && p[j] >= '0' && p[j] <= '9') { a = a * 10 + (p[j] - '0'); if (a > 100000) a = 100000; j++; d++; }
    if (!d) return 0;
    b = a;
    if (j < n && p[j] == ',') {
        j++; b = 0; int d2 = 0;
        while (j < n && p[j] >= '0' && p[j] <= '9') { b = b * 10 + (p[j] - '0'); if (b > 100000) b = 100000; j++; d2++; }
        if (!d2) b = -1;
    }
    if (j >= n || p[j] != '}') return 0;
    ps->i = j + 1;
    *lo = (int)a; *hi = (int)b;
    return 1;
}

static rnode *rp_concat(rparse *ps, int depth)
{
    if (depth > 200) { ps->fail = 1; return NULL; }
    rnode *acc = NULL;
    while (!ps->fail && ps->i < ps->n && ps->p[ps->i] != '|' && ps->p[ps->i] != ')') {
        rnode *at = rp_atom(ps, depth);
        for (;;) {
            if (ps->fail || ps->i >= ps->n) break;
            char q = ps->p[ps->i];
            int lo, hi;
            if (q == '*') { lo = 0; hi = -1; ps->i++; }
            else if (q == '+') { lo = 1; hi = -1; ps->i++; }
            else if (q == '?') { lo = 0; hi = 1; ps->i++; }
            else if (q == '{' && rp_count(ps, &lo, &hi)) {}
            else break;
            rnode *r = rn_new(ps, RN_REP);
            if (!r) break;
            r->a = at; r->lo = lo; r->hi = hi;
            at = r;
        }
        if (ps->fail) return NULL;
        if (!acc) acc = at;
        else {
            rnode *c = rn_new(ps, RN_CAT);
            if (!c) return NULL;
            c->a = acc; c->b = at;
            acc = c;
        }
    }
    return acc ? acc : rn_new(ps, RN_EMPTY);
}

static rnode *rp_alt(rparse *ps, int depth)
{
    rnode *l = rp_concat(ps, depth);
    while (!ps->fail && ps->i < ps->n && ps->p[ps->i] == '|') {
        ps->i++;
        rnode *r = rp_concat(ps, depth);
        rnode *a = rn_new(ps, RN_ALT);
        if (!a) return NULL;
        a->a = l; a->b = r;
        l = a;
    }
    return l;
}

static int emit(kfl_regex *re, int op, int arg, int x, int y)
{
    if (re->nprog >= RX_MAX_INST) return -1;
    if (re->nprog == re->capprog) {
        int c = re->capprog ? re->capprog * 2 : 64;
        rinst *v = realloc(re->prog, (size_t)c * sizeof *v);
        if (!v) return -1;
        re->prog = v; re->capprog = c;
    }
    re->prog[re->nprog] = (rinst){ (unsigned char)op, (unsigned char)arg, x, y };
    return re->nprog++;
}

/* code for n; -1 when the program grows too large */
static int gen(kfl_regex *re, const rnode *n)
{
    int k;
    switch (n->type) {
    case RN_EMPTY: return 0;
    case RN_SET: return emit(re, RI_SET, 0, n->set, 0) < 0 ? -1 : 0;
    case RN_ANY: return emit(re, RI_ANY, 0, 0, 0) < 0 ? -1 : 0;
    case RN_BOL: case RN_EOL: case RN_WORDB: case RN_NWORDB:
        return emit(re, RI_ASSERT, n->type, 0, 0) < 0 ? -1 : 0;
    case RN_CAT: return gen(re, n->a) < 0 || gen(re, n->b) < 0 ? -1 : 0;
    case RN_ALT: {
        int sp = emit(re, RI_SPLIT, 0, 0, 0);
        if (sp < 0) return -1;
        re->prog[sp].x = re->nprog;
        if (gen(re, n->a) < 0) return -1;
        int j = emit(re, RI_JMP, 0, 0, 0);
        if (j < 0) return -1;
        re->prog[sp].y = re->nprog;
        if (gen(re, n->b) < 0) return -1;
        re->prog[j].x = re->nprog;
        return 0;
    }
    case RN_REP: {
        for (k = 0; k < n->lo; k++) if (gen(re, n->a) < 0) return -1;
        if (n->hi < 0) {   /* L: split body, out; body; jmp L */
            int sp = emit(re, RI_SPLIT, 0, 0, 0);
            if (sp < 0) return -1;
            re->prog[sp].x = re->nprog;
            if (gen(re, n->a) < 0) return -1;
            if (emit(re, RI_JMP, 0, sp, 0) < 0) return -1;
            re->prog[sp].y = re->nprog;
            return 0;
        }
        for (k = n->lo; k < n->hi; k++) {   /* optional copies: split body, out */
            int sp = emit(re, RI_SPLIT, 0, 0, 0);
            if (sp < 0) return -1;
            re->prog[sp].x = re->nprog;
            if (gen(re, n->a) < 0) return -1;
            re->prog[sp].y = re->nprog;
        }
        return 0;
    }
    }
    return -1;
}

static int is_word(int c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

/* adds pc and everything reachable from it without reading a byte (at position i of s) */
static void addthread(kfl_regex *re, int *list, int *nl, int pc, const unsigned char *s, size_t i, size_t n)
{
    int sp = 0;
    re->stack[sp++] = pc;
    while (sp) {
        pc = re->stack[--sp];
        if (re->mark[pc] == (int)re->gen) continue;
        re->mark[pc] = (int)re->gen;
        const rinst *in = &re->prog[pc];
        switch (in->op) {
        case RI_JMP: re->stack[sp++] = in->x; break;
        case RI_SPLIT: re->stack[sp++] = in->y; re->stack[sp++] = in->x; break;
        case RI_ASSERT: {
            int ok;
            if (in->arg == RN_BOL) ok = i == 0;
            else if (in->arg == RN_EOL) ok = i == n;
            else {
                int wb = (i > 0 && is_word(s[i - 1])) != (i < n && is_word(s[i]));
                ok = in->arg == RN_WORDB ? wb : !wb;
            }
            if (ok) re->stack[sp++] = pc + 1;
            break;
        }
        default: list[(*nl)++] = pc;
        }
    }
}

static int nfa_search(kfl_regex *re, const unsigned char *s, size_t n)
{
    int nc = 0, nn;
    re->gen++;
    addthread(re, re->cur, &nc, 0, s, 0, n);
    for (size_t i = 0;; i++) {
        for (int k = 0; k < nc; k++) if (re->prog[re->cur[k]].op == RI_MATCH) return 1;
        if (i >= n) return 0;
        unsigned c = s[i];
        nn = 0;
        re->gen++;
        for (int k = 0; k < nc; k++) {
            const rinst *in = &re->prog[re->cur[k]];
            int ok = in->op == RI_ANY ? c != 0 : in->op == RI_SET && (re->sets[in->x][c >> 3] >> (c & 7) & 1);
            if (ok) addthread(re, re->nxt, &nn, re->cur[k] + 1, s, i + 1, n);
        }
        addthread(re, re->nxt, &nn, 0, s, i + 1, n);   /* unanchored: a match may start here */
        int *t = re->cur; re->cur = re->nxt; re->nxt = t;
        nc = nn;
        if (re->gen > 0x7ffffff0u) { re->gen = 1; memset(re->mark, 0, (size_t)re->nprog * sizeof *re->mark); }
    }
}

kfl_regex *kfl_regex_new(const char *pat, size_t n, char *err, size_t errlen)
{
    rx_buf b = { .err = err, .errlen = errlen };
    int icase = 0;
    if (errlen) err[0] = 0;
    rx_put(&b, "", 0);
    if (rx_translate(&b, pat, n, &icase) != 0) { free(b.o); return NULL; }
    kfl_regex *re = calloc(1, sizeof *re);
    if (!re) { free(b.o); snprintf(err, errlen, "out of memory"); return NULL; }
    re->icase = icase;
    rparse ps = { .p = b.o, .n = b.n, .re = re, .err = err, .errlen = errlen };
    rnode *root = rp_alt(&ps, 0);
    int bad = ps.fail || !root || ps.i != ps.n;
    if (!bad && (gen(re, root) < 0 || emit(re, RI_MATCH, 0, 0, 0) < 0)) {
        snprintf(err, errlen, "regex too large");
        bad = 2;
    }
    for (size_t i = 0; i < ps.nnodes; i++) free(ps.nodes[i]);
    free(ps.nodes);
    free(b.o);
    if (!bad) {
        size_t np = (size_t)re->nprog;
        re->cur = malloc(np * sizeof *re->cur);
        re->nxt = malloc(np * sizeof *re->nxt);
        re->mark = calloc(np, sizeof *re->mark);
        re->stack = malloc(2 * np * sizeof *re->stack + 2 * sizeof *re->stack);
        if (!re->cur || !re->nxt || !re->mark || !re->stack) { snprintf(err, errlen, "out of memory"); bad = 2; }
    }
    if (bad) {
        if (bad == 1) snprintf(err, errlen, "invalid regular expression");
        kfl_regex_free(re);
        return NULL;
    }
    return re;
}

int kfl_regex_search(kfl_regex *re, const char *s, size_t n)
{
    return nfa_search(re, (const unsigned char *)s, n);
}

void kfl_regex_free(kfl_regex *re)
{
    if (!re) return;
    free(re->prog); free(re->sets);
    free(re->cur); free(re->nxt); free(re->mark); free(re->stack);
    free(re);
}
