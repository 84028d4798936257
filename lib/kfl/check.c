/* check.c — turns the parsed AST into a program: resolves names (record variables, macro
 * variables), recognises functions and macros, computes static types and reports type errors
 * where both sides are known, folds constants (timestamp("…"), duration("…"), now(), literal lists,
 * arithmetic on literals), compiles constant regexes, and records the JSON paths the scanner must
 * find. Also renders a checked program for --explain. */
#include "kfl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CK_MAX_SCOPE 32

typedef struct { const char *name; size_t nlen; int slot; uint8_t type, elem; } ck_local;
typedef struct {
    kfl_prog *p;
    ck_local scope[CK_MAX_SCOPE]; int nscope;
    int failed;
} ck_state;

static int ck_fail(ck_state *s, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static int ck_fail(ck_state *s, size_t pos, const char *fmt, ...)
{
    if (s->failed) return -1;
    va_list ap; va_start(ap, fmt);
    vsnprintf(s->p->err, sizeof s->p->err, fmt, ap);
    va_end(ap);
    s->p->errpos = pos;
    s->failed = 1;
    return -1;
}

static int ck_isnum(int t) { return t == KT_INT || t == KT_UINT || t == KT_DOUBLE; }
static const char *tn(int t) { return kfl_type_name(t); }

/* ---- used variables ---- */
static int ck_use(ck_state *s, const kfl_var *v, const char *path, size_t plen, int type, int elem)
{
    kfl_prog *p = s->p;
    for (int i = 0; i < p->nused; i++)
        if (strlen(p->used[i].path) == plen && !memcmp(p->used[i].path, path, plen)) return i;
    if (p->nused == p->capused) {
        int cap = p->capused ? p->capused * 2 : 16;
        kfl_used *u = realloc(p->used, (size_t)cap * sizeof *u);
        if (!u) return ck_fail(s, 0, "out of memory");
        p->used = u; p->capused = cap;
    }
    char *cp = kfl_alloc(&p->ar, plen + 1);
    if (!cp) return ck_fail(s, 0, "out of memory");
    memcpy(cp, path, plen);
    p->used[p->nused] = (kfl_used){ .var = v, .path = cp, .type = type, .elem = elem };
    return p->nused++;
}

/* is there a declared variable below this one ("src" has "src.ip")? */
static int ck_has_children(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < kfl_nvars; i++)
        if (!strncmp(kfl_vars[i].name, name, n) && kfl_vars[i].name[n] == '.') return 1;
    return 0;
}

/* ---- deep copy of a folded value into the program's arena ---- */
static int ck_copy(kfl_arena *a, kfl_val *v)
{
    if (v->k == KT_STRING || v->k == KT_BYTES) {
        char *p = kfl_alloc(a, v->s.n + 1);
        if (!p) return -1;
        if (v->s.n) memcpy(p, v->s.p, v->s.n);
        v->s.p = p;
    } else if (v->k == KT_LIST) {
        kfl_list *l = kfl_alloc(a, sizeof *l);
        if (!l) return -1;
        l->n = v->l->n;
        l->v = l->n ? kfl_alloc(a, l->n * sizeof *l->v) : NULL;
        if (l->n && !l->v) return -1;
        for (size_t i = 0; i < l->n; i++) { l->v[i] = v->l->v[i]; if (ck_copy(a, &l->v[i])) return -1; }
        v->l = l;
    } else if (v->k == KT_MAP) {
        kfl_map *m = kfl_alloc(a, sizeof *m);
        if (!m) return -1;
        m->n = v->m->n;
        m->key = m->n ? kfl_alloc(a, m->n * sizeof *m->key) : NULL;
        m->val = m->n ? kfl_alloc(a, m->n * sizeof *m->val) : NULL;
        if (m->n && (!m->key || !m->val)) return -1;
        for (size_t i = 0; i < m->n; i++) {
            m->key[i] = v->m->key[i]; m->val[i] = v->m->val[i];
            if (ck_copy(a, &m->key[i]) || ck_copy(a, &m->val[i])) return -1;
        }
        v->m = m;
    }
    return 0;
}

static int ck_type_of_val(const kfl_val *v) { return v->k; }

/* replaces n by its value when every operand is a constant and evaluation succeeds */
static void ck_fold(ck_state *s, kfl_node *n)
{
    if (n->op == N_LIT) return;
    kfl_node *kids[3] = { n->a, n->b, n->c };
    for (int i = 0; i < 3; i++) if (kids[i] && kids[i]->op != N_LIT) return;
    for (int i = 0; i < n->nargs; i++) if (n->args[i]->op != N_LIT) return;
    switch (n->op) {
    case N_VAR: case N_LOCAL: case N_HAS_VAR: case N_MACRO: case N_IDENT: return;
    default: break;
    }
    kfl_ctx c;
    kfl_ctx_init(&c, s->p);
    kfl_val v = kfl_eval(&c, n);
    if (v.k != KT_ERR && ck_copy(&s->p->ar, &v) == 0) {
        n->op = N_LIT; n->lit = v;
        n->type = (uint8_t)ck_type_of_val(&v);
    }
    kfl_ctx_free(&c);
}

/* ---- functions ---- */
static const struct { const char *name; int fn, method, global, nmin, nmax; } ck_fns[] = {
    { "contains", F_CONTAINS, 1, 0, 1, 1 }, { "startsWith", F_STARTS, 1, 0, 1, 1 },
    { "endsWith", F_ENDS, 1, 0, 1, 1 }, { "matches", F_MATCHES, 1, 1, 1, 2 },
    { "lowerAscii", F_LOWER, 1, 0, 0, 0 }, { "upperAscii", F_UPPER, 1, 0, 0, 0 },
    { "size", F_SIZE, 1, 1, 0, 1 }, { "map_get", F_MAPGET, 0, 1, 3, 3 },
    { "timestamp", F_TIMESTAMP, 0, 1, 1, 1 }, { "duration", F_DURATION, 0, 1, 1, 1 },
    { "now", F_NOW, 0, 1, 0, 0 }, { "int", F_INT, 0, 1, 1, 1 }, { "uint", F_UINT, 0, 1, 1, 1 },
    { "double", F_DOUBLE, 0, 1, 1, 1 }, { "string", F_STRING, 0, 1, 1, 1 },
    { "bytes", F_BYTES, 0, 1, 1, 1 }, { "bool", F_BOOL, 0, 1, 1, 1 }, { "trim", F_TRIM, 1, 0, 0, 0 },
};

static int ck_node(ck_state *s, kfl_node **np);

static int ck_expect(ck_state *s, kfl_node *n, int want, const char *what)
{
    if (n->type == KT_DYN || n->type == want) return 0;
    if (want == KT_DOUBLE && ck_isnum(n->type)) return 0;
    return ck_fail(s, n->pos, "%s() expects a %s, found %s", what, tn(want), tn(n->type));
}

/* the receiver of x.f(…) (or the first argument of f(x, …)) */
static int ck_recv(ck_state *s, kfl_node *n, int want, const char *what)
{
    if (n->type == KT_DYN || n->type == want) return 0;
    return ck_fail(s, n->pos, "%s() applies to a %s, found %s", what, tn(want), tn(n->type));
}

static int ck_call(ck_state *s, kfl_node *n)
{
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(n->nlen > 60 ? 60 : n->nlen), n->name);
    /* macros: x.exists(v, p) … and has(x.f) */
    static const struct { const char *n; int m, nargs; } macros[] = {
        { "exists", M_EXISTS, 2 }, { "all", M_ALL, 2 }, { "exists_one", M_EXISTS_ONE, 2 },
        { "existsOne", M_EXISTS_ONE, 2 }, { "filter", M_FILTER, 2 }, { "map", M_MAP, 2 },
    };
    if (n->method) {
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
            if (strcmp(name, macros[i].n)) continue;
            int want = macros[i].nargs;
            if (!(n->nargs == want || (macros[i].m == M_MAP && n->nargs == 3)))
                return ck_fail(s, n->pos, "%s() takes %d arguments (a variable name and an expression)", name, want);
            if (ck_node(s, &n->a)) return -1;
            if (n->a->type != KT_DYN && n->a->type != KT_LIST && n->a->type != KT_MAP)
                return ck_fail(s, n->pos, "%s() applies to a list or map, found %s", name, tn(n->a->type));
            kfl_node *v = n->args[0];
            if (v->op != N_IDENT) return ck_fail(s, v->pos, "expected a variable name as the first argument of %s()", name);
            if (s->nscope >= CK_MAX_SCOPE) return ck_fail(s, n->pos, "macros nested too deeply");
            ck_local *l = &s->scope[s->nscope];
            l->name = v->name; l->nlen = v->nlen; l->slot = s->nscope;
            l->type = n->a->type == KT_MAP ? KT_STRING : n->a->elem;
            l->elem = KT_DYN;
            s->nscope++;
            if (s->nscope > s->p->nslots) s->p->nslots = s->nscope;
            int r = 0;
            for (int k = 1; k < n->nargs && !r; k++) {
                r = ck_node(s, &n->args[k]);
                int pred = macros[i].m != M_MAP || (n->nargs == 3 && k == 1);
                if (!r && pred && n->args[k]->type != KT_DYN && n->args[k]->type != KT_BOOL)
                    r = ck_fail(s, n->args[k]->pos, "the condition of %s() must be a bool, found %s", name, tn(n->args[k]->type));
            }
            s->nscope--;
            if (r) return -1;
            n->op = N_MACRO; n->fn = (uint8_t)macros[i].m; n->idx = l->slot;
            switch (macros[i].m) {
            case M_FILTER: n->type = KT_LIST; n->elem = l->type; break;
            case M_MAP: n->type = KT_LIST; n->elem = n->args[n->nargs - 1]->type; break;
            default: n->type = KT_BOOL;
            }
            return 0;
        }
    }
    if (!n->method && !strcmp(name, "has")) {
        if (n->nargs != 1 || n->args[0]->op != N_SELECT)
            return ck_fail(s, n->pos, "has() takes one field selection, as in has(request.headers.host)");
        kfl_node *sel = n->args[0];
        if (ck_node(s, &n->args[0])) return -1;
        kfl_node *r = n->args[0];
        if (r->op == N_VAR) { n->op = N_HAS_VAR; n->idx = r->idx; n->name = r->name; n->nlen = r->nlen; n->type = KT_BOOL; return 0; }
        if (r->op == N_SELECT) { n->op = N_HAS_KEY; n->a = r->a; n->name = r->name; n->nlen = r->nlen; n->type = KT_BOOL; return 0; }
        (void)sel;
        return ck_fail(s, n->pos, "has() takes one field selection");
    }
    size_t i;
    for (i = 0; i < sizeof ck_fns / sizeof ck_fns[0]; i++)
        if (!strcmp(name, ck_fns[i].name) && (n->method ? ck_fns[i].method : ck_fns[i].global)) break;
    if (i == sizeof ck_fns / sizeof ck_fns[0]) {
        for (i = 0; i < sizeof ck_fns / sizeof ck_fns[0]; i++)
            if (!strcmp(name, ck_fns[i].name))
                return ck_fail(s, n->pos, n->method ? "%s is a function, not a method: write %s(x)" : "%s is a method: write x.%s(…)", name, name);
        return ck_fail(s, n->pos, "unknown function '%s'", name);
    }
    int fn = ck_fns[i].fn;
    /* method form x.f(args) and global form f(x, args) both become args[0] = x */
    if (n->method) {
        kfl_node **a = kfl_alloc(&s->p->ar, (size_t)(n->nargs + 1) * sizeof *a);
        if (!a) return ck_fail(s, n->pos, "out of memory");
        a[0] = n->a;
        for (int k = 0; k < n->nargs; k++) a[k + 1] = n->args[k];
        n->args = a; n->nargs++; n->a = NULL;
    }
    int want_min = ck_fns[i].nmin + (n->method ? 1 : 0), want_max = ck_fns[i].nmax + (n->method ? 1 : 0);
    if (fn == F_MATCHES || fn == F_SIZE) { want_min = want_max = fn == F_MATCHES ? 2 : 1; }
    if (n->nargs < want_min || n->nargs > want_max)
        return ck_fail(s, n->pos, "%s() takes %d argument%s", name, want_min - (n->method ? 1 : 0), want_min - (n->method ? 1 : 0) == 1 ? "" : "s");
    for (int k = 0; k < n->nargs; k++) if (ck_node(s, &n->args[k])) return -1;
    kfl_node **a = n->args;
    n->op = N_FN; n->fn = (uint8_t)fn;
    switch (fn) {
    case F_CONTAINS: case F_STARTS: case F_ENDS: case F_MATCHES:
        if (ck_recv(s, a[0], KT_STRING, name) || ck_expect(s, a[1], KT_STRING, name)) return -1;
        n->type = KT_BOOL;
        if (fn == F_MATCHES && a[1]->op == N_LIT && a[1]->lit.k == KT_STRING) {
            char err[160];
            n->re = kfl_regex_new(a[1]->lit.s.p, a[1]->lit.s.n, err, sizeof err);
            if (!n->re) return ck_fail(s, a[1]->pos, "bad regular expression: %s", err);
            kfl_prog *p = s->p;
            if (p->nregs == p->capregs) {
                int cap = p->capregs ? p->capregs * 2 : 4;
                kfl_regex **r = realloc(p->regs, (size_t)cap * sizeof *r);
                if (!r) { kfl_regex_free(n->re); n->re = NULL; return ck_fail(s, n->pos, "out of memory"); }
                p->regs = r; p->capregs = cap;
            }
            p->regs[p->nregs++] = n->re;
        }
        break;
    case F_LOWER: case F_UPPER: case F_TRIM:
        if (ck_recv(s, a[0], KT_STRING, name)) return -1;
        n->type = KT_STRING;
        break;
    case F_SIZE: {
        int t = a[0]->type;
        if (t != KT_DYN && t != KT_STRING && t != KT_BYTES && t != KT_LIST && t != KT_MAP)
            return ck_fail(s, a[0]->pos, "size() applies to a string, bytes, list or map, found %s", tn(t));
        n->type = KT_INT;
        break;
    }
    case F_MAPGET:
        if (a[0]->type != KT_DYN && a[0]->type != KT_MAP)
            return ck_fail(s, a[0]->pos, "map_get() expects a map first, found %s", tn(a[0]->type));
        n->type = a[0]->elem != KT_DYN && a[0]->elem == a[2]->type ? a[0]->elem : a[2]->type;
        break;
    case F_TIMESTAMP:
        if (a[0]->type != KT_DYN && a[0]->type != KT_STRING && a[0]->type != KT_INT && a[0]->type != KT_TS)
            return ck_fail(s, a[0]->pos, "timestamp() expects a string, found %s", tn(a[0]->type));
        n->type = KT_TS;
        if (a[0]->op == N_LIT && a[0]->lit.k == KT_STRING) {
            int64_t ns;
            if (kfl_ts_parse_any(a[0]->lit.s.p, a[0]->lit.s.n, s->p->now, &ns))
                return ck_fail(s, a[0]->pos, "bad timestamp: expected RFC 3339 (\"2026-03-14T22:00:00Z\"), "
                               "local time (\"2026-03-14 19:23:45\"), epoch seconds or a relative time (docs/time.md)");
        }
        break;
    case F_DURATION:
        if (ck_expect(s, a[0], KT_STRING, name)) return -1;
        n->type = KT_DUR;
        if (a[0]->op == N_LIT) {
            int64_t ns;
            if (kfl_dur_parse(a[0]->lit.s.p, a[0]->lit.s.n, &ns))
                return ck_fail(s, a[0]->pos, "bad duration: expected a number with a unit (h m s ms us ns), as in \"5m\" or \"1h30m\"");
        }
        break;
    case F_NOW: n->type = KT_TS; break;
    case F_INT: n->type = KT_INT; break;
    case F_UINT: n->type = KT_UINT; break;
    case F_DOUBLE: n->type = KT_DOUBLE; break;
    case F_STRING: n->type = KT_STRING; break;
    case F_BYTES: n->type = KT_BYTES; break;
    case F_BOOL: n->type = KT_BOOL; break;
    }
    return 0;
}

/* a chain of selections on a name: a.b.c → record variable (longest known prefix), macro
 * variable, or (with --allow-unknown) an unknown field */
static int ck_chain(ck_state *s, kfl_node **np)
{
    kfl_node *chain[64];
    int len = 0;
    kfl_node *n = *np;
    while (n->op == N_SELECT) {
        if (len == 63) return ck_fail(s, n->pos, "field chain too long");
        chain[len++] = n;
        n = n->a;
    }
    if (n->op != N_IDENT) {    /* selection on an expression: a dynamic map field */
        if (ck_node(s, &chain[len - 1]->a)) return -1;
        goto selects;
    }
    chain[len++] = n;   /* chain[len-1] is the identifier, chain[0] the outermost select */
    for (int i = s->nscope - 1; i >= 0; i--) {
        if (s->scope[i].nlen == n->nlen && !memcmp(s->scope[i].name, n->name, n->nlen)) {
            n->op = N_LOCAL; n->idx = s->scope[i].slot; n->type = s->scope[i].type; n->elem = s->scope[i].elem;
            len--;
            goto selects;
        }
    }
    {
        char path[512]; size_t pl = 0;
        size_t ends[64];
        for (int k = len - 1; k >= 0; k--) {
            kfl_node *c = chain[k];
            if (pl + c->nlen + 2 >= sizeof path) return ck_fail(s, c->pos, "field name too long");
            if (k != len - 1) path[pl++] = '.';
            memcpy(path + pl, c->name, c->nlen);
            pl += c->nlen;
            ends[len - 1 - k] = pl;
        }
        path[pl] = 0;
        /* longest declared prefix */
        int found = -1; const kfl_var *v = NULL;
        for (int k = len - 1; k >= 0; k--) {
            v = kfl_var_find(path, ends[k]);
            if (v) { found = k; break; }
        }
        if (v && found < len - 1 && ck_has_children(v->name) && !s->p->allow_unknown) {
            /* src.pod.nmae: a typo below an object whose fields we know */
            char m[80];
            snprintf(m, sizeof m, "%.*s", (int)(ends[found + 1] > 70 ? 70 : ends[found + 1]), path);
            const char *sug = kfl_var_suggest(m, strlen(m));
            return ck_fail(s, chain[len - 1]->pos, "unknown variable '%s'%s%s%s (kfl --vars lists them)", m,
                           sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
        }
        if (v && !(found < len - 1 && ck_has_children(v->name))) {
            /* chain[len-1-found] is the node standing for the variable */
            kfl_node *vn = chain[len - 1 - found];
            int idx = ck_use(s, v, v->path, strlen(v->path), v->type, v->elem);
            if (idx < 0) return -1;
            vn->op = N_VAR; vn->idx = idx; vn->type = v->type; vn->elem = v->elem;
            vn->name = v->name; vn->nlen = strlen(v->name);
            vn->pos = chain[len - 1]->pos;
            vn->a = NULL;
            len = len - 1 - found;
            goto selects;
        }
        if (!s->p->allow_unknown) {
            char m[80];
            snprintf(m, sizeof m, "%.*s", (int)(pl > 70 ? 70 : pl), path);
            const char *sug = kfl_var_suggest(m, strlen(m));
            return ck_fail(s, chain[len - 1]->pos, "unknown variable '%s'%s%s%s (kfl --vars lists them)", m,
                           sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "");
        }
        /* unknown, allowed: the whole chain is one field of unknown type */
        kfl_node *vn = chain[0];
        int idx = ck_use(s, NULL, path, pl, KT_DYN, KT_DYN);
        if (idx < 0) return -1;
        char *nm = s->p->used[idx].path;
        vn->op = N_VAR; vn->idx = idx; vn->type = KT_DYN; vn->elem = KT_DYN;
        vn->name = nm; vn->nlen = pl; vn->pos = chain[len - 1]->pos; vn->a = NULL;
        return 0;
    }
selects:
    /* chain[0..len) are N_SELECT nodes (outermost first) on an already-checked operand */
    for (int k = len - 1; k >= 0; k--) {
        kfl_node *c = chain[k];
        if (c->op != N_SELECT) continue;
        int t = c->a->type;
        if (t != KT_DYN && t != KT_MAP)
            return ck_fail(s, c->pos, "cannot select field '%.*s' of a %s", (int)c->nlen, c->name, tn(t));
        c->type = t == KT_MAP ? c->a->elem : KT_DYN;
        c->elem = KT_DYN;
    }
    return 0;
}

static int ck_node(ck_state *s, kfl_node **np)
{
    kfl_node *n = *np;
    switch (n->op) {
    case N_LIT: n->type = n->lit.k; return 0;
    case N_IDENT: case N_SELECT: return ck_chain(s, np);
    case N_CALL: if (ck_call(s, n)) return -1; break;
    case N_LIST: {
        int t = -1;
        for (int i = 0; i < n->nargs; i++) {
            if (ck_node(s, &n->args[i])) return -1;
            int it = n->args[i]->type;
            t = t == -1 ? it : t == it ? t : KT_DYN;
        }
        n->type = KT_LIST; n->elem = (uint8_t)(t < 0 ? KT_DYN : t);
        break;
    }
    case N_MAP: {
        int t = -1;
        for (int i = 0; i < n->nargs; i++) {
            if (ck_node(s, &n->args[i])) return -1;
            int it = n->args[i]->type;
            if (i % 2 == 0) {
                if (it != KT_DYN && it != KT_STRING && it != KT_INT && it != KT_UINT && it != KT_BOOL)
                    return ck_fail(s, n->args[i]->pos, "a map key must be a string, int, uint or bool, found %s", tn(it));
            } else t = t == -1 ? it : t == it ? t : KT_DYN;
        }
        n->type = KT_MAP; n->elem = (uint8_t)(t < 0 ? KT_DYN : t);
        break;
    }
    case N_NOT:
        if (ck_node(s, &n->a)) return -1;
        if (n->a->type != KT_DYN && n->a->type != KT_BOOL) return ck_fail(s, n->pos, "'!' expects a bool, found %s", tn(n->a->type));
        n->type = KT_BOOL;
        break;
    case N_NEG: {
        if (ck_node(s, &n->a)) return -1;
        int t = n->a->type;
        if (t != KT_DYN && t != KT_INT && t != KT_DOUBLE && t != KT_DUR) return ck_fail(s, n->pos, "'-' expects a number, found %s", tn(t));
        n->type = (uint8_t)t;
        break;
    }
    case N_AND: case N_OR:
        if (ck_node(s, &n->a) || ck_node(s, &n->b)) return -1;
        for (int k = 0; k < 2; k++) {
            kfl_node *o = k ? n->b : n->a;
            if (o->type != KT_DYN && o->type != KT_BOOL)
                return ck_fail(s, o->pos, "'%s' expects bool operands, found %s", n->op == N_AND ? "&&" : "||", tn(o->type));
        }
        n->type = KT_BOOL;
        break;
    case N_COND:
        if (ck_node(s, &n->a) || ck_node(s, &n->b) || ck_node(s, &n->c)) return -1;
        if (n->a->type != KT_DYN && n->a->type != KT_BOOL) return ck_fail(s, n->a->pos, "the condition of '?:' must be a bool, found %s", tn(n->a->type));
        n->type = n->b->type == n->c->type ? n->b->type : KT_DYN;
        n->elem = n->b->elem == n->c->elem ? n->b->elem : KT_DYN;
        break;
    case N_EQ: case N_NE: case N_LT: case N_LE: case N_GT: case N_GE: {
        if (ck_node(s, &n->a) || ck_node(s, &n->b)) return -1;
        int a = n->a->type, b = n->b->type;
        static const char *const opn[] = { [N_EQ] = "==", [N_NE] = "!=", [N_LT] = "<", [N_LE] = "<=", [N_GT] = ">", [N_GE] = ">=" };
        if (n->op == N_EQ || n->op == N_NE) {
            if (a != KT_DYN && b != KT_DYN && a != KT_NULL && b != KT_NULL && a != b && !(ck_isnum(a) && ck_isnum(b)))
                return ck_fail(s, n->pos, "'%s' cannot compare %s with %s", opn[n->op], tn(a), tn(b));
        } else {
            for (int k = 0; k < 2; k++) {
                int t = k ? b : a;
                if (t == KT_NULL || t == KT_LIST || t == KT_MAP)
                    return ck_fail(s, n->pos, "'%s' cannot order %s values", opn[n->op], tn(t));
            }
            if (a != KT_DYN && b != KT_DYN && a != b && !(ck_isnum(a) && ck_isnum(b)))
                return ck_fail(s, n->pos, "'%s' cannot compare %s with %s", opn[n->op], tn(a), tn(b));
        }
        n->type = KT_BOOL;
        break;
    }
    case N_IN:
        if (ck_node(s, &n->a) || ck_node(s, &n->b)) return -1;
        if (n->b->type != KT_DYN && n->b->type != KT_LIST && n->b->type != KT_MAP)
            return ck_fail(s, n->pos, "'in' expects a list or map on its right, found %s", tn(n->b->type));
        if (n->b->type == KT_LIST && n->b->elem != KT_DYN && n->a->type != KT_DYN && n->a->type != n->b->elem &&
            !(ck_isnum(n->a->type) && ck_isnum(n->b->elem)))
            return ck_fail(s, n->pos, "'in' looks for a %s in a list of %s", tn(n->a->type), tn(n->b->elem));
        n->type = KT_BOOL;
        break;
    case N_ADD: case N_SUB: case N_MUL: case N_DIV: case N_MOD: {
        if (ck_node(s, &n->a) || ck_node(s, &n->b)) return -1;
        int a = n->a->type, b = n->b->type, t = -1;
        static const char *const opn[] = { [N_ADD] = "+", [N_SUB] = "-", [N_MUL] = "*", [N_DIV] = "/", [N_MOD] = "%" };
        if (a == KT_DYN || b == KT_DYN) {
            int k = a == KT_DYN ? b : a;
            if (k == KT_NULL || k == KT_BOOL || k == KT_MAP || ((k == KT_STRING || k == KT_BYTES || k == KT_LIST) && n->op != N_ADD))
                t = -2;
            else t = (k == KT_STRING || k == KT_BYTES || k == KT_LIST) ? k : KT_DYN;
        } else if (ck_isnum(a) && ck_isnum(b)) {
            if (n->op == N_MOD && (a == KT_DOUBLE || b == KT_DOUBLE)) t = -2;
            else t = a == b ? a : KT_DOUBLE;
        } else if (n->op == N_ADD && a == b && (a == KT_STRING || a == KT_BYTES || a == KT_LIST || a == KT_DUR)) t = a;
        else if (n->op == N_ADD && ((a == KT_TS && b == KT_DUR) || (a == KT_DUR && b == KT_TS))) t = KT_TS;
        else if (n->op == N_SUB && a == KT_TS && b == KT_DUR) t = KT_TS;
        else if (n->op == N_SUB && a == KT_TS && b == KT_TS) t = KT_DUR;
        else if (n->op == N_SUB && a == KT_DUR && b == KT_DUR) t = KT_DUR;
        else t = -2;
        if (t == -2) return ck_fail(s, n->pos, "'%s' does not apply to %s and %s", opn[n->op], tn(a), tn(b));
        n->type = (uint8_t)t;
        if (t == KT_LIST) n->elem = n->a->elem == n->b->elem ? n->a->elem : KT_DYN;
        break;
    }
    case N_INDEX: {
        if (ck_node(s, &n->a) || ck_node(s, &n->b)) return -1;
        int a = n->a->type, b = n->b->type;
        if (a == KT_LIST) {
            if (b != KT_DYN && b != KT_INT && b != KT_UINT && b != KT_DOUBLE)
                return ck_fail(s, n->b->pos, "a list index must be an int, found %s", tn(b));
            n->type = n->a->elem;
        } else if (a == KT_MAP) n->type = n->a->elem;
        else if (a == KT_DYN) n->type = KT_DYN;
        else return ck_fail(s, n->pos, "cannot index a %s", tn(a));
        n->elem = KT_DYN;
        break;
    }
    default:
        return ck_fail(s, n->pos, "internal error: unexpected node");
    }
    ck_fold(s, *np);
    return 0;
}

int kfl_check(kfl_prog *p)
{
    ck_state s = { .p = p };
    if (!p->root) return 0;
    if (ck_node(&s, &p->root)) return -1;
    if (!p->any_type && p->root->type != KT_DYN && p->root->type != KT_BOOL)
        return ck_fail(&s, p->root->pos, "a filter must be a bool expression, this one is %s", tn(p->root->type));
    return 0;
}

kfl_prog *kfl_compile(const char *src, size_t n, int allow_unknown, int64_t now_ns,
                      char *err, size_t errlen, size_t *errpos)
{
    return kfl_compile_flags(src, n, allow_unknown ? KFL_ALLOW_UNKNOWN : 0, now_ns, err, errlen, errpos);
}

kfl_prog *kfl_compile_flags(const char *src, size_t n, int flags, int64_t now_ns,
                            char *err, size_t errlen, size_t *errpos)
{
    kfl_prog *p = calloc(1, sizeof *p);
    if (!p) { snprintf(err, errlen, "out of memory"); *errpos = 0; return NULL; }
    p->allow_unknown = !!(flags & KFL_ALLOW_UNKNOWN);
    p->any_type = !!(flags & KFL_VALUE);
    p->now = now_ns;
    p->src = src; p->srclen = n;
    p->root = kfl_parse(p, src, n);
    if ((!p->root && p->err[0]) || kfl_check(p) || kfl_scan_build(p)) {
        snprintf(err, errlen, "%s", p->err[0] ? p->err : "out of memory");
        *errpos = p->errpos;
        kfl_prog_free(p);
        return NULL;
    }
    return p;
}

void kfl_prog_free(kfl_prog *p)
{
    if (!p) return;
    for (int i = 0; i < p->nregs; i++) kfl_regex_free(p->regs[i]);
    free(p->regs);
    free(p->used);
    kfl_arena_free(&p->ar);
    free(p);
}

/* ---- --explain ---- */
typedef struct { char *b; size_t n, len; } ck_out;
static void ck_put(ck_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ck_put(ck_out *o, const char *fmt, ...)
{
    if (o->n + 1 >= o->len) return;
    va_list ap; va_start(ap, fmt);
    int r = vsnprintf(o->b + o->n, o->len - o->n, fmt, ap);
    va_end(ap);
    if (r > 0) o->n = o->n + (size_t)r >= o->len ? o->len - 1 : o->n + (size_t)r;
}

static void ck_render(ck_out *o, const kfl_node *n)
{
    static const char *const bin[] = {
        [N_AND] = "&&", [N_OR] = "||", [N_EQ] = "==", [N_NE] = "!=", [N_LT] = "<", [N_LE] = "<=",
        [N_GT] = ">", [N_GE] = ">=", [N_IN] = "in", [N_ADD] = "+", [N_SUB] = "-", [N_MUL] = "*",
        [N_DIV] = "/", [N_MOD] = "%",
    };
    static const char *const macro[] = { "exists", "all", "exists_one", "filter", "map" };
    char vb[256];
    switch (n->op) {
    case N_LIT: kfl_val_format(&n->lit, vb, sizeof vb); ck_put(o, "%s", vb); break;
    case N_VAR: ck_put(o, "%.*s", (int)n->nlen, n->name); break;
    case N_LOCAL: case N_IDENT: ck_put(o, "%.*s", (int)n->nlen, n->name); break;
    case N_SELECT: ck_render(o, n->a); ck_put(o, ".%.*s", (int)n->nlen, n->name); break;
    case N_HAS_VAR: ck_put(o, "has(%.*s)", (int)n->nlen, n->name); break;
    case N_HAS_KEY: ck_put(o, "has("); ck_render(o, n->a); ck_put(o, ".%.*s)", (int)n->nlen, n->name); break;
    case N_INDEX: ck_render(o, n->a); ck_put(o, "["); ck_render(o, n->b); ck_put(o, "]"); break;
    case N_NOT: ck_put(o, "!"); ck_render(o, n->a); break;
    case N_NEG: ck_put(o, "-"); ck_render(o, n->a); break;
    case N_COND: ck_put(o, "("); ck_render(o, n->a); ck_put(o, " ? "); ck_render(o, n->b); ck_put(o, " : "); ck_render(o, n->c); ck_put(o, ")"); break;
    case N_LIST: case N_MAP:
        ck_put(o, n->op == N_LIST ? "[" : "{");
        for (int i = 0; i < n->nargs; i++) {
            if (i) ck_put(o, n->op == N_MAP && i % 2 ? ": " : ", ");
            ck_render(o, n->args[i]);
        }
        ck_put(o, n->op == N_LIST ? "]" : "}");
        break;
    case N_FN: case N_CALL:
        ck_put(o, "%.*s(", (int)n->nlen, n->name);
        for (int i = 0; i < n->nargs; i++) { if (i) ck_put(o, ", "); ck_render(o, n->args[i]); }
        ck_put(o, ")");
        break;
    case N_MACRO:
        ck_render(o, n->a);
        ck_put(o, ".%s(", macro[n->fn]);
        for (int i = 0; i < n->nargs; i++) { if (i) ck_put(o, ", "); ck_render(o, n->args[i]); }
        ck_put(o, ")");
        break;
    default:
        if (n->op < sizeof bin / sizeof bin[0] && bin[n->op]) {
            ck_put(o, "("); ck_render(o, n->a); ck_put(o, " %s ", bin[n->op]); ck_render(o, n->b); ck_put(o, ")");
        } else ck_put(o, "?");
    }
}

void kfl_explain(const kfl_prog *p, char *buf, size_t len)
{
    ck_out o = { buf, 0, len };
    if (!len) return;
    buf[0] = 0;
    if (!p->root) { ck_put(&o, "true  (empty filter: every record)"); return; }
    ck_render(&o, p->root);
}
