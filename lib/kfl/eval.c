/* eval.c — evaluates a checked program over one record. Errors are values (CEL): a missing map
 * key, an overflow or a type mismatch makes an error that propagates, except through && || and
 * the exists/all macros, which are commutative over errors. A record matches only when the
 * result is true. */
#include "kfl.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kfl_list ev_empty_list;
static kfl_map ev_empty_map;

void kfl_ctx_init(kfl_ctx *c, const kfl_prog *p)
{
    memset(c, 0, sizeof *c);
    c->prog = p;
    c->slots = calloc((size_t)(p->nused > 0 ? p->nused : 1), sizeof *c->slots);
    c->locals = calloc((size_t)(p->nslots > 0 ? p->nslots : 1), sizeof *c->locals);
}

void kfl_ctx_free(kfl_ctx *c)
{
    free(c->slots); free(c->locals);
    kfl_regex_free(c->dyn_re);
    free(c->dyn_pat);
    kfl_arena_free(&c->ar);
    memset(c, 0, sizeof *c);
}

static kfl_val ev_default(int type)
{
    kfl_val v = { .k = (uint8_t)type };
    switch (type) {
    case KT_STRING: case KT_BYTES: v.s.p = ""; break;
    case KT_LIST: v.l = &ev_empty_list; break;
    case KT_MAP: v.m = &ev_empty_map; break;
    case KT_DYN: v.k = KT_NULL; break;
    default: break;     /* zero: 0, 0u, 0.0, false, epoch, 0s */
    }
    return v;
}

static kfl_val ev_var(kfl_ctx *c, const kfl_node *n)
{
    kfl_slot *sl = &c->slots[n->idx];
    if (sl->decoded) return sl->v;
    int type = c->prog->used[n->idx].type;
    kfl_val v;
    if (!sl->found) v = ev_default(type);
    else if (kfl_json_decode(&c->ar, sl->p, sl->n, &v)) v = kfl_err_val("invalid JSON value");
    else if (v.k == KT_NULL && type != KT_DYN) v = ev_default(type);
    else if (type == KT_TS && v.k == KT_STRING) {
        int64_t ns;
        if (kfl_ts_parse(v.s.p, v.s.n, &ns) == 0) { v.k = KT_TS; v.i = ns; }
        else v = kfl_err_val("not an RFC 3339 timestamp");
    }
    sl->v = v; sl->decoded = 1;
    return v;
}

static int ev_isnum(int k) { return k == KT_INT || k == KT_UINT || k == KT_DOUBLE; }
static double ev_dbl(const kfl_val *v) { return v->k == KT_INT ? (double)v->i : v->k == KT_UINT ? (double)v->u : v->d; }
static kfl_val ev_dval(double d) { kfl_val v = { .k = KT_DOUBLE }; v.d = d; return v; }
static kfl_val ev_uval(uint64_t u) { kfl_val v = { .k = KT_UINT }; v.u = u; return v; }
static kfl_val ev_tval(int k, int64_t i) { kfl_val v = { .k = (uint8_t)k }; v.i = i; return v; }

static kfl_val ev_arith(kfl_ctx *c, int op, kfl_val a, kfl_val b)
{
    static const char *const ovf = "integer overflow", *const nov = "no such overload";
    if (a.k == KT_ERR) return a;
    if (b.k == KT_ERR) return b;
    if (ev_isnum(a.k) && ev_isnum(b.k)) {
        if (a.k != b.k) {     /* mixed numbers: computed as doubles (CEL would refuse) */
            if (op == N_MOD) return kfl_err_val(nov);
            a = ev_dval(ev_dbl(&a)); b = ev_dval(ev_dbl(&b));
        }
        if (a.k == KT_INT) {
            int64_t r;
            switch (op) {
            case N_ADD: if (__builtin_add_overflow(a.i, b.i, &r)) return kfl_err_val(ovf); return kfl_int(r);
            case N_SUB: if (__builtin_sub_overflow(a.i, b.i, &r)) return kfl_err_val(ovf); return kfl_int(r);
            case N_MUL: if (__builtin_mul_overflow(a.i, b.i, &r)) return kfl_err_val(ovf); return kfl_int(r);
            case N_DIV: case N_MOD:
                if (b.i == 0) return kfl_err_val(op == N_DIV ? "division by zero" : "modulus by zero");
                if (a.i == INT64_MIN && b.i == -1) return kfl_err_val(ovf);
                return kfl_int(op == N_DIV ? a.i / b.i : a.i % b.i);
            }
        } else if (a.k == KT_UINT) {
            uint64_t r;
            switch (op) {
            case N_ADD: if (__builtin_add_overflow(a.u, b.u, &r)) return kfl_err_val(ovf); return ev_uval(r);
            case N_SUB: if (__builtin_sub_overflow(a.u, b.u, &r)) return kfl_err_val(ovf); return ev_uval(r);
            case N_MUL: if (__builtin_mul_overflow(a.u, b.u, &r)) return kfl_err_val(ovf); return ev_uval(r);
            case N_DIV: case N_MOD:
                if (b.u == 0) return kfl_err_val(op == N_DIV ? "division by zero" : "modulus by zero");
                return ev_uval(op == N_DIV ? a.u / b.u : a.u % b.u);
            }
        } else {
            switch (op) {
            case N_ADD: return ev_dval(a.d + b.d);
            case N_SUB: return ev_dval(a.d - b.d);
            case N_MUL: return ev_dval(a.d * b.d);
            case N_DIV: return ev_dval(a.d / b.d);
            default: return kfl_err_val(nov);
            }
        }
    }
    int64_t r;
    if (op == N_ADD && a.k == b.k && (a.k == KT_STRING || a.k == KT_BYTES)) {
        char *p = kfl_alloc(&c->ar, a.s.n + b.s.n + 1);
        if (!p) return kfl_err_val("out of memory");
        if (a.s.n) memcpy(p, a.s.p, a.s.n);
        if (b.s.n) memcpy(p + a.s.n, b.s.p, b.s.n);
        kfl_val v = kfl_str(p, a.s.n + b.s.n); v.k = a.k;
        return v;
    }
    if (op == N_ADD && a.k == KT_LIST && b.k == KT_LIST) {
        kfl_list *l = kfl_alloc(&c->ar, sizeof *l);
        size_t n = a.l->n + b.l->n;
        if (!l || (n && !(l->v = kfl_alloc(&c->ar, n * sizeof *l->v)))) return kfl_err_val("out of memory");
        if (a.l->n) memcpy(l->v, a.l->v, a.l->n * sizeof *l->v);
        if (b.l->n) memcpy(l->v + a.l->n, b.l->v, b.l->n * sizeof *l->v);
        l->n = n;
        kfl_val v = { .k = KT_LIST }; v.l = l;
        return v;
    }
    if (op == N_ADD && ((a.k == KT_TS && b.k == KT_DUR) || (a.k == KT_DUR && b.k == KT_TS) || (a.k == KT_DUR && b.k == KT_DUR))) {
        if (__builtin_add_overflow(a.i, b.i, &r)) return kfl_err_val("timestamp overflow");
        return ev_tval(a.k == KT_DUR && b.k == KT_DUR ? KT_DUR : KT_TS, r);
    }
    if (op == N_SUB && ((a.k == KT_TS && (b.k == KT_DUR || b.k == KT_TS)) || (a.k == KT_DUR && b.k == KT_DUR))) {
        if (__builtin_sub_overflow(a.i, b.i, &r)) return kfl_err_val("timestamp overflow");
        return ev_tval(a.k == KT_TS && b.k == KT_DUR ? KT_TS : KT_DUR, r);
    }
    return kfl_err_val(nov);
}

static int ev_map_find(const kfl_map *m, const kfl_val *k)
{
    for (size_t i = 0; i < m->n; i++)
        if (kfl_val_eq(&m->key[i], k) == 1) return (int)i;
    return -1;
}

static int ev_map_find_str(const kfl_map *m, const char *s, size_t n)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->key[i].k == KT_STRING && m->key[i].s.n == n && (n == 0 || !memcmp(m->key[i].s.p, s, n))) return (int)i;
    return -1;
}

static size_t ev_utf8_len(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)p[i] & 0xC0) != 0x80;
    return c;
}

static kfl_val ev_fn(kfl_ctx *c, const kfl_node *n)
{
    kfl_val a[3];
    int na = n->nargs > 3 ? 3 : n->nargs;
    if (n->fn == F_NOW) return ev_tval(KT_TS, c->prog->now);
    for (int i = 0; i < na; i++) {
        if (n->fn == F_MAPGET && i == 2) break;    /* the default is evaluated only when needed */
        a[i] = kfl_eval(c, n->args[i]);
        if (a[i].k == KT_ERR) return a[i];
    }
    static const char *const nov = "no such overload";
    switch (n->fn) {
    case F_CONTAINS: case F_STARTS: case F_ENDS: {
        if (a[0].k != KT_STRING || a[1].k != KT_STRING) return kfl_err_val(nov);
        const kfl_val *s = &a[0], *t = &a[1];
        if (t->s.n > s->s.n) return kfl_bool(0);
        if (t->s.n == 0) return kfl_bool(1);
        if (n->fn == F_STARTS) return kfl_bool(!memcmp(s->s.p, t->s.p, t->s.n));
        if (n->fn == F_ENDS) return kfl_bool(!memcmp(s->s.p + s->s.n - t->s.n, t->s.p, t->s.n));
        return kfl_bool(memmem(s->s.p, s->s.n, t->s.p, t->s.n) != NULL);
    }
    case F_MATCHES: {
        if (a[0].k != KT_STRING || a[1].k != KT_STRING) return kfl_err_val(nov);
        kfl_regex *re = n->re;
        if (!re) {    /* a pattern computed per record: keep the last one compiled */
            if (!c->dyn_re || c->dyn_len != a[1].s.n || (a[1].s.n && memcmp(c->dyn_pat, a[1].s.p, a[1].s.n))) {
                kfl_regex_free(c->dyn_re); c->dyn_re = NULL;
                free(c->dyn_pat); c->dyn_pat = NULL;
                char err[128];
                c->dyn_re = kfl_regex_new(a[1].s.p, a[1].s.n, err, sizeof err);
                if (!c->dyn_re) return kfl_err_val("bad regular expression");
                c->dyn_pat = malloc(a[1].s.n + 1);
                if (!c->dyn_pat) { kfl_regex_free(c->dyn_re); c->dyn_re = NULL; return kfl_err_val("out of memory"); }
                if (a[1].s.n) memcpy(c->dyn_pat, a[1].s.p, a[1].s.n);
                c->dyn_len = a[1].s.n;
            }
            re = c->dyn_re;
        }
        return kfl_bool(kfl_regex_search(re, a[0].s.p, a[0].s.n));
    }
    case F_LOWER: case F_UPPER: case F_TRIM: {
        if (a[0].k != KT_STRING) return kfl_err_val(nov);
        if (n->fn == F_TRIM) {
            const char *p = a[0].s.p; size_t l = a[0].s.n;
            while (l && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) { p++; l--; }
            while (l && (p[l - 1] == ' ' || p[l - 1] == '\t' || p[l - 1] == '\n' || p[l - 1] == '\r')) l--;
            return kfl_str(p, l);
        }
        char *p = kfl_alloc(&c->ar, a[0].s.n + 1);
        if (!p) return kfl_err_val("out of memory");
        for (size_t i = 0; i < a[0].s.n; i++) {
            char ch = a[0].s.p[i];
            if (n->fn == F_LOWER && ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
            if (n->fn == F_UPPER && ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
            p[i] = ch;
        }
        return kfl_str(p, a[0].s.n);
    }
    case F_SIZE:
        switch (a[0].k) {
        case KT_STRING: return kfl_int((int64_t)ev_utf8_len(a[0].s.p, a[0].s.n));
        case KT_BYTES: return kfl_int((int64_t)a[0].s.n);
        case KT_LIST: return kfl_int((int64_t)a[0].l->n);
        case KT_MAP: return kfl_int((int64_t)a[0].m->n);
        default: return kfl_err_val(nov);
        }
    case F_MAPGET: {
        if (a[0].k != KT_MAP) return kfl_err_val(nov);
        int i = ev_map_find(a[0].m, &a[1]);
        if (i >= 0) return a[0].m->val[i];
        return kfl_eval(c, n->args[2]);
    }
    case F_TIMESTAMP: {
        int64_t ns;
        if (a[0].k == KT_TS) return a[0];
        if (a[0].k == KT_INT) {
            if (a[0].i > 9223372035LL || a[0].i < -9223372035LL) return kfl_err_val("timestamp overflow");
            return ev_tval(KT_TS, a[0].i * 1000000000LL);
        }
        if (a[0].k != KT_STRING) return kfl_err_val(nov);
        /* a literal (the filter's own words) takes every form of docs/time.md; a string computed
         * from the record stays strict RFC 3339, as CEL has it */
        int lit = n->args[0]->op == N_LIT;
        if (lit ? kfl_ts_parse_any(a[0].s.p, a[0].s.n, c->prog->now, &ns) : kfl_ts_parse(a[0].s.p, a[0].s.n, &ns))
            return kfl_err_val("bad timestamp");
        return ev_tval(KT_TS, ns);
    }
    case F_DURATION: {
        int64_t ns;
        if (a[0].k == KT_DUR) return a[0];
        if (a[0].k != KT_STRING) return kfl_err_val(nov);
        if (kfl_dur_parse(a[0].s.p, a[0].s.n, &ns)) return kfl_err_val("bad duration");
        return ev_tval(KT_DUR, ns);
    }
    case F_INT: case F_UINT: case F_DOUBLE: {
        kfl_val v = a[0];
        if (v.k == KT_STRING) {
            char buf[64];
            if (v.s.n == 0 || v.s.n >= sizeof buf) return kfl_err_val("not a number");
            memcpy(buf, v.s.p, v.s.n); buf[v.s.n] = 0;
            if (kfl_json_decode(&c->ar, buf, v.s.n, &v) || !ev_isnum(v.k)) return kfl_err_val("not a number");
            if (n->fn != F_DOUBLE && v.k == KT_DOUBLE) return kfl_err_val("not an integer");
        } else if (v.k == KT_TS && n->fn == F_INT) {
            int64_t s = v.i / 1000000000LL;
            if (v.i % 1000000000LL < 0) s--;
            return kfl_int(s);
        } else if (v.k == KT_DUR && n->fn == F_INT) return kfl_int(v.i);
        else if (v.k == KT_BOOL && n->fn != F_DOUBLE) return n->fn == F_INT ? kfl_int(v.b) : ev_uval((uint64_t)v.b);
        if (!ev_isnum(v.k)) return kfl_err_val(nov);
        if (n->fn == F_DOUBLE) return ev_dval(ev_dbl(&v));
        if (n->fn == F_INT) {
            if (v.k == KT_INT) return v;
            if (v.k == KT_UINT) return v.u > (uint64_t)INT64_MAX ? kfl_err_val("int overflow") : kfl_int((int64_t)v.u);
            if (!(v.d > -9223372036854775808.0 && v.d < 9223372036854775808.0)) return kfl_err_val("int overflow");
            return kfl_int((int64_t)v.d);
        }
        if (v.k == KT_UINT) return v;
        if (v.k == KT_INT) return v.i < 0 ? kfl_err_val("uint overflow") : ev_uval((uint64_t)v.i);
        if (!(v.d > -1.0 && v.d < 18446744073709551616.0)) return kfl_err_val("uint overflow");
        return ev_uval((uint64_t)v.d);
    }
    case F_STRING: case F_BYTES: {
        kfl_val v = a[0];
        if (v.k == KT_STRING || v.k == KT_BYTES) { v.k = n->fn == F_STRING ? KT_STRING : KT_BYTES; return v; }
        if (n->fn == F_BYTES) return kfl_err_val(nov);
        char buf[64];
        switch (v.k) {
        case KT_INT: snprintf(buf, sizeof buf, "%lld", (long long)v.i); break;
        case KT_UINT: snprintf(buf, sizeof buf, "%llu", (unsigned long long)v.u); break;
        case KT_DOUBLE: snprintf(buf, sizeof buf, "%.17g", v.d); break;
        case KT_BOOL: snprintf(buf, sizeof buf, "%s", v.b ? "true" : "false"); break;
        case KT_TS: kfl_ts_format(v.i, buf, sizeof buf); break;
        case KT_DUR: kfl_dur_format(v.i, buf, sizeof buf); break;
        default: return kfl_err_val(nov);
        }
        size_t l = strlen(buf);
        char *p = kfl_alloc(&c->ar, l + 1);
        if (!p) return kfl_err_val("out of memory");
        memcpy(p, buf, l);
        return kfl_str(p, l);
    }
    case F_BOOL:
        if (a[0].k == KT_BOOL) return a[0];
        if (a[0].k == KT_STRING) {
            static const char *const t[] = { "1", "t", "true", "TRUE", "True" }, *const f[] = { "0", "f", "false", "FALSE", "False" };
            for (int i = 0; i < 5; i++) {
                if (strlen(t[i]) == a[0].s.n && !memcmp(t[i], a[0].s.p, a[0].s.n)) return kfl_bool(1);
                if (strlen(f[i]) == a[0].s.n && !memcmp(f[i], a[0].s.p, a[0].s.n)) return kfl_bool(0);
            }
            return kfl_err_val("not a bool");
        }
        return kfl_err_val(nov);
    }
    return kfl_err_val(nov);
}

static kfl_val ev_macro(kfl_ctx *c, const kfl_node *n)
{
    kfl_val r = kfl_eval(c, n->a);
    if (r.k == KT_ERR) return r;
    if (r.k != KT_LIST && r.k != KT_MAP) return kfl_err_val("no such overload");
    size_t cnt = r.k == KT_LIST ? r.l->n : r.m->n;
    const kfl_val *items = r.k == KT_LIST ? r.l->v : r.m->key;
    kfl_val err = { .k = KT_NULL };
    int have_err = 0;
    size_t trues = 0;
    kfl_list *out = NULL;
    if (n->fn == M_FILTER || n->fn == M_MAP) {
        out = kfl_alloc(&c->ar, sizeof *out);
        if (!out || (cnt && !(out->v = kfl_alloc(&c->ar, cnt * sizeof *out->v)))) return kfl_err_val("out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        c->locals[n->idx] = items[i];
        kfl_val p = kfl_eval(c, n->args[1]);
        if (n->fn == M_MAP) {
            if (n->nargs == 3) {
                if (p.k == KT_ERR) return p;
                if (p.k != KT_BOOL) return kfl_err_val("no such overload");
                if (!p.b) continue;
                c->locals[n->idx] = items[i];
                p = kfl_eval(c, n->args[2]);
            }
            if (p.k == KT_ERR) return p;
            out->v[out->n++] = p;
            continue;
        }
        if (p.k != KT_BOOL && p.k != KT_ERR) p = kfl_err_val("no such overload");
        if (p.k == KT_ERR) {
            if (n->fn == M_FILTER || n->fn == M_EXISTS_ONE) return p;
            if (!have_err) { err = p; have_err = 1; }
            continue;
        }
        switch (n->fn) {
        case M_EXISTS: if (p.b) return kfl_bool(1); break;
        case M_ALL: if (!p.b) return kfl_bool(0); break;
        case M_EXISTS_ONE: trues += p.b; break;
        case M_FILTER: if (p.b) out->v[out->n++] = items[i]; break;
        }
    }
    switch (n->fn) {
    case M_EXISTS: return have_err ? err : kfl_bool(0);
    case M_ALL: return have_err ? err : kfl_bool(1);
    case M_EXISTS_ONE: return kfl_bool(trues == 1);
    default: { kfl_val v = { .k = KT_LIST }; v.l = out; return v; }
    }
}

kfl_val kfl_eval(kfl_ctx *c, const kfl_node *n)
{
    static const char *const nov = "no such overload";
    switch (n->op) {
    case N_LIT: return n->lit;
    case N_VAR: return ev_var(c, n);
    case N_LOCAL: return c->locals[n->idx];
    case N_HAS_VAR: return kfl_bool(c->slots[n->idx].found);
    case N_HAS_KEY: {
        kfl_val m = kfl_eval(c, n->a);
        if (m.k == KT_ERR) return m;
        if (m.k != KT_MAP) return kfl_err_val("has() needs a map");
        return kfl_bool(ev_map_find_str(m.m, n->name, n->nlen) >= 0);
    }
    case N_SELECT: {
        kfl_val m = kfl_eval(c, n->a);
        if (m.k == KT_ERR) return m;
        if (m.k != KT_MAP) return kfl_err_val("no such field");
        int i = ev_map_find_str(m.m, n->name, n->nlen);
        return i < 0 ? kfl_err_val("no such key") : m.m->val[i];
    }
    case N_INDEX: {
        kfl_val a = kfl_eval(c, n->a);
        if (a.k == KT_ERR) return a;
        kfl_val k = kfl_eval(c, n->b);
        if (k.k == KT_ERR) return k;
        if (a.k == KT_MAP) {
            int i = ev_map_find(a.m, &k);
            return i < 0 ? kfl_err_val("no such key") : a.m->val[i];
        }
        if (a.k == KT_LIST) {
            int64_t i;
            if (k.k == KT_INT) i = k.i;
            else if (k.k == KT_UINT) i = k.u > (uint64_t)INT64_MAX ? -1 : (int64_t)k.u;
            else if (k.k == KT_DOUBLE && k.d == floor(k.d) && k.d >= 0 && k.d < 9e18) i = (int64_t)k.d;
            else return kfl_err_val(nov);
            if (i < 0 || (uint64_t)i >= a.l->n) return kfl_err_val("index out of range");
            return a.l->v[i];
        }
        return kfl_err_val(nov);
    }
    case N_NOT: {
        kfl_val a = kfl_eval(c, n->a);
        if (a.k == KT_ERR) return a;
        return a.k == KT_BOOL ? kfl_bool(!a.b) : kfl_err_val(nov);
    }
    case N_NEG: {
        kfl_val a = kfl_eval(c, n->a);
        switch (a.k) {
        case KT_ERR: return a;
        case KT_INT: return a.i == INT64_MIN ? kfl_err_val("integer overflow") : kfl_int(-a.i);
        case KT_DOUBLE: return ev_dval(-a.d);
        case KT_DUR: return a.i == INT64_MIN ? kfl_err_val("duration overflow") : ev_tval(KT_DUR, -a.i);
        default: return kfl_err_val(nov);
        }
    }
    case N_AND: case N_OR: {
        int stop = n->op == N_OR;      /* the value that decides: false for &&, true for || */
        kfl_val a = kfl_eval(c, n->a);
        if (a.k == KT_BOOL && a.b == stop) return a;
        kfl_val b = kfl_eval(c, n->b);
        if (b.k == KT_BOOL && b.b == stop) return b;
        if (a.k == KT_ERR) return a;
        if (b.k == KT_ERR) return b;
        if (a.k != KT_BOOL || b.k != KT_BOOL) return kfl_err_val(nov);
        return kfl_bool(!stop);
    }
    case N_COND: {
        kfl_val a = kfl_eval(c, n->a);
        if (a.k == KT_ERR) return a;
        if (a.k != KT_BOOL) return kfl_err_val(nov);
        return kfl_eval(c, a.b ? n->b : n->c);
    }
    case N_EQ: case N_NE: {
        kfl_val a = kfl_eval(c, n->a);
        if (a.k == KT_ERR) return a;
        kfl_val b = kfl_eval(c, n->b);
        if (b.k == KT_ERR) return b;
        int r = kfl_val_eq(&a, &b);
        if (r < 0) return kfl_err_val(nov);
        return kfl_bool(n->op == N_EQ ? r : !r);
    }
    case N_LT: case N_LE: case N_GT: case N_GE: {
        kfl_val a = kfl_eval(c, n->a);
        if (a.k == KT_ERR) return a;
        kfl_val b = kfl_eval(c, n->b);
        if (b.k == KT_ERR) return b;
        int r = kfl_val_cmp(&a, &b);
        if (r == KFL_CMP_ERR) return kfl_err_val(nov);
        switch (n->op) {
        case N_LT: return kfl_bool(r < 0);
        case N_LE: return kfl_bool(r <= 0);
        case N_GT: return kfl_bool(r > 0);
        default: return kfl_bool(r >= 0);
        }
    }
    case N_IN: {
        kfl_val a = kfl_eval(c, n->a);
        if (a.k == KT_ERR) return a;
        kfl_val b = kfl_eval(c, n->b);
        if (b.k == KT_ERR) return b;
        if (b.k == KT_MAP) return kfl_bool(ev_map_find(b.m, &a) >= 0);
        if (b.k != KT_LIST) return kfl_err_val(nov);
        for (size_t i = 0; i < b.l->n; i++)
            if (kfl_val_eq(&a, &b.l->v[i]) == 1) return kfl_bool(1);
        return kfl_bool(0);
    }
    case N_ADD: case N_SUB: case N_MUL: case N_DIV: case N_MOD: {
        kfl_val a = kfl_eval(c, n->a);
        if (a.k == KT_ERR) return a;
        return ev_arith(c, n->op, a, kfl_eval(c, n->b));
    }
    case N_LIST: {
        kfl_list *l = kfl_alloc(&c->ar, sizeof *l);
        if (!l || (n->nargs && !(l->v = kfl_alloc(&c->ar, (size_t)n->nargs * sizeof *l->v)))) return kfl_err_val("out of memory");
        for (int i = 0; i < n->nargs; i++) {
            l->v[i] = kfl_eval(c, n->args[i]);
            if (l->v[i].k == KT_ERR) return l->v[i];
        }
        l->n = (size_t)n->nargs;
        kfl_val v = { .k = KT_LIST }; v.l = l;
        return v;
    }
    case N_MAP: {
        kfl_map *m = kfl_alloc(&c->ar, sizeof *m);
        size_t cnt = (size_t)n->nargs / 2;
        if (!m || (cnt && (!(m->key = kfl_alloc(&c->ar, cnt * sizeof *m->key)) || !(m->val = kfl_alloc(&c->ar, cnt * sizeof *m->val)))))
            return kfl_err_val("out of memory");
        for (size_t i = 0; i < cnt; i++) {
            kfl_val k = kfl_eval(c, n->args[2 * i]);
            if (k.k == KT_ERR) return k;
            if (k.k != KT_STRING && k.k != KT_INT && k.k != KT_UINT && k.k != KT_BOOL) return kfl_err_val("bad map key");
            if (ev_map_find(m, &k) >= 0) return kfl_err_val("repeated map key");
            kfl_val v = kfl_eval(c, n->args[2 * i + 1]);
            if (v.k == KT_ERR) return v;
            m->key[m->n] = k; m->val[m->n] = v; m->n++;
        }
        kfl_val v = { .k = KT_MAP }; v.m = m;
        return v;
    }
    case N_FN: return ev_fn(c, n);
    case N_MACRO: return ev_macro(c, n);
    default: return kfl_err_val("cannot evaluate");
    }
}

int kfl_match(kfl_ctx *c)
{
    if (!c->prog->root) return 1;
    kfl_val v = kfl_eval(c, c->prog->root);
    return v.k == KT_BOOL && v.b;
}

int kfl_match_line(kfl_ctx *c, const char *line, size_t n)
{
    size_t off;
    kfl_arena_reset(&c->ar);
    if (kfl_scan_line(c->prog, line, n, c->slots, &off)) return -1;
    return kfl_match(c);
}
