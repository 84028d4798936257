/* value.c — kfl's values: the arena they live in, CEL equality and ordering, decoding a JSON value
 * found by the scanner (jansson for anything with structure or escapes), rendering. */
#include "kfl.h"
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kfl_type_name(int t)
{
    static const char *const names[] = {
        [KT_DYN] = "dyn", [KT_ERR] = "error", [KT_NULL] = "null", [KT_BOOL] = "bool",
        [KT_INT] = "int", [KT_UINT] = "uint", [KT_DOUBLE] = "double", [KT_STRING] = "string",
        [KT_BYTES] = "bytes", [KT_LIST] = "list", [KT_MAP] = "map", [KT_TS] = "timestamp",
        [KT_DUR] = "duration",
    };
    return t >= 0 && t <= KT_DUR ? names[t] : "?";
}

/* ---- arena ---- */
void *kfl_alloc(kfl_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    kfl_arena_blk *b = a->cur;
    while (b && b->used + n > b->cap) {
        b = b->next;
        if (b) b->used = 0;
    }
    if (!b) {
        size_t cap = n > 60000 ? n : 60000;
        b = malloc(sizeof *b + cap + 16);
        if (!b) return NULL;
        b->cap = cap; b->used = 0; b->next = NULL;
        if (a->cur) { b->next = a->cur->next; a->cur->next = b; } else a->head = b;
    }
    a->cur = b;
    char *base = (char *)(((uintptr_t)(b + 1) + 15) & ~(uintptr_t)15);
    void *r = base + b->used;
    b->used += n;
    memset(r, 0, n);
    return r;
}

void kfl_arena_reset(kfl_arena *a)
{
    a->cur = a->head;
    if (a->head) a->head->used = 0;
}

void kfl_arena_free(kfl_arena *a)
{
    for (kfl_arena_blk *b = a->head, *nx; b; b = nx) { nx = b->next; free(b); }
    a->head = a->cur = NULL;
}

/* ---- constructors ---- */
kfl_val kfl_err_val(const char *msg) { kfl_val v = { .k = KT_ERR }; v.err = msg; return v; }
kfl_val kfl_bool(int b) { kfl_val v = { .k = KT_BOOL }; v.b = !!b; return v; }
kfl_val kfl_int(int64_t i) { kfl_val v = { .k = KT_INT }; v.i = i; return v; }
kfl_val kfl_str(const char *p, size_t n) { kfl_val v = { .k = KT_STRING }; v.s.p = p; v.s.n = n; return v; }

static int vl_isnum(int k) { return k == KT_INT || k == KT_UINT || k == KT_DOUBLE; }

/* numeric comparison across int, uint and double without losing precision */
static int vl_numcmp(const kfl_val *a, const kfl_val *b)
{
    if (a->k == b->k) {
        switch (a->k) {
        case KT_INT: return (a->i > b->i) - (a->i < b->i);
        case KT_UINT: return (a->u > b->u) - (a->u < b->u);
        default:
            if (isnan(a->d) || isnan(b->d)) return KFL_CMP_ERR;
            return (a->d > b->d) - (a->d < b->d);
        }
    }
    if (a->k == KT_INT && b->k == KT_UINT) return a->i < 0 ? -1 : (((uint64_t)a->i > b->u) - ((uint64_t)a->i < b->u));
    if (a->k == KT_UINT && b->k == KT_INT) return -vl_numcmp(b, a);
    if (a->k == KT_DOUBLE) { int r = vl_numcmp(b, a); return r == KFL_CMP_ERR ? r : -r; }
    /* a is int or uint, b is double */
    double d = b->d;
    if (isnan(d)) return KFL_CMP_ERR;
    if (a->k == KT_INT) {
        if (d >= 9223372036854775808.0) return -1;
        if (d < -9223372036854775808.0) return 1;
        int64_t t = (int64_t)d;                  /* truncates toward zero */
        if (a->i != t) return a->i < t ? -1 : 1;
        double frac = d - (double)t;
        return frac > 0 ? -1 : frac < 0 ? 1 : 0;
    }
    if (d >= 18446744073709551616.0) return -1;
    if (d < 0) return 1;
    uint64_t t = (uint64_t)d;
    if (a->u != t) return a->u < t ? -1 : 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : 0;
}

static int vl_bytecmp(const kfl_val *a, const kfl_val *b)
{
    size_t n = a->s.n < b->s.n ? a->s.n : b->s.n;
    int r = n ? memcmp(a->s.p, b->s.p, n) : 0;
    if (r) return r < 0 ? -1 : 1;
    return (a->s.n > b->s.n) - (a->s.n < b->s.n);
}

int kfl_val_eq(const kfl_val *a, const kfl_val *b)
{
    if (a->k == KT_ERR || b->k == KT_ERR) return -1;
    if (vl_isnum(a->k) && vl_isnum(b->k)) return vl_numcmp(a, b) == 0;
    if (a->k != b->k) return 0;        /* CEL's heterogeneous equality: different kinds differ */
    switch (a->k) {
    case KT_NULL: return 1;
    case KT_BOOL: return a->b == b->b;
    case KT_STRING: case KT_BYTES: return a->s.n == b->s.n && (a->s.n == 0 || memcmp(a->s.p, b->s.p, a->s.n) == 0);
    case KT_TS: case KT_DUR: return a->i == b->i;
    case KT_LIST:
        if (a->l->n != b->l->n) return 0;
        for (size_t i = 0; i < a->l->n; i++) {
            int r = kfl_val_eq(&a->l->v[i], &b->l->v[i]);
            if (r != 1) return r;
        }
        return 1;
    case KT_MAP:
        if (a->m->n != b->m->n) return 0;
        for (size_t i = 0; i < a->m->n; i++) {
            size_t j;
            for (j = 0; j < b->m->n; j++)
                if (kfl_val_eq(&a->m->key[i], &b->m->key[j]) == 1) break;
            if (j == b->m->n) return 0;
            int r = kfl_val_eq(&a->m->val[i], &b->m->val[j]);
            if (r != 1) return r;
        }
        return 1;
    default: return 0;
    }
}

int kfl_val_cmp(const kfl_val *a, const kfl_val *b)
{
    if (vl_isnum(a->k) && vl_isnum(b->k)) return vl_numcmp(a, b);
    if (a->k != b->k) return KFL_CMP_ERR;
    switch (a->k) {
    case KT_BOOL: return (a->b > b->b) - (a->b < b->b);
    case KT_STRING: case KT_BYTES: return vl_bytecmp(a, b);
    case KT_TS: case KT_DUR: return (a->i > b->i) - (a->i < b->i);
    default: return KFL_CMP_ERR;
    }
}

/* ---- JSON decoding ---- */
static int vl_from_json(kfl_arena *a, json_t *j, kfl_val *out, int depth)
{
    memset(out, 0, sizeof *out);
    if (depth > 200) { *out = kfl_err_val("JSON nested too deeply"); return 0; }
    switch (json_typeof(j)) {
    case JSON_NULL: out->k = KT_NULL; return 0;
    case JSON_TRUE: *out = kfl_bool(1); return 0;
    case JSON_FALSE: *out = kfl_bool(0); return 0;
    case JSON_INTEGER: *out = kfl_int(json_integer_value(j)); return 0;
    case JSON_REAL: out->k = KT_DOUBLE; out->d = json_real_value(j); return 0;
    case JSON_STRING: {
        size_t n = json_string_length(j);
        char *p = kfl_alloc(a, n + 1);
        if (!p) return -1;
        memcpy(p, json_string_value(j), n);
        *out = kfl_str(p, n);
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        kfl_list *l = kfl_alloc(a, sizeof *l);
        if (!l) return -1;
        l->v = n ? kfl_alloc(a, n * sizeof *l->v) : NULL;
        if (n && !l->v) return -1;
        l->n = n;
        for (size_t i = 0; i < n; i++)
            if (vl_from_json(a, json_array_get(j, i), &l->v[i], depth + 1)) return -1;
        out->k = KT_LIST; out->l = l;
        return 0;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        kfl_map *m = kfl_alloc(a, sizeof *m);
        if (!m) return -1;
        m->key = n ? kfl_alloc(a, n * sizeof *m->key) : NULL;
        m->val = n ? kfl_alloc(a, n * sizeof *m->val) : NULL;
        if (n && (!m->key || !m->val)) return -1;
        const char *k; json_t *v;
        json_object_foreach(j, k, v) {
            if (i >= n) break;
            size_t kl = strlen(k);
            char *kp = kfl_alloc(a, kl + 1);
            if (!kp) return -1;
            memcpy(kp, k, kl);
            m->key[i] = kfl_str(kp, kl);
            if (vl_from_json(a, v, &m->val[i], depth + 1)) return -1;
            i++;
        }
        m->n = i;
        out->k = KT_MAP; out->m = m;
        return 0;
    }
    }
    return -1;
}

/* numbers: int when it is an integer that fits, else uint, else double */
static int vl_number(const char *p, size_t n, kfl_val *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) {
        if (n >= sizeof buf) {  /* very long number: let strtod have it */
            char *t = malloc(n + 1);
            if (!t) return -1;
            memcpy(t, p, n); t[n] = 0;
            char *e; out->k = KT_DOUBLE; out->d = strtod(t, &e);
            int bad = *e != 0; free(t);
            return bad ? -1 : 0;
        }
        return -1;
    }
    memcpy(buf, p, n); buf[n] = 0;
    int isint = 1;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E') { isint = 0; break; }
    char *e;
    if (isint) {
        errno = 0;
        long long v = strtoll(buf, &e, 10);
        if (*e == 0 && errno == 0) { *out = kfl_int(v); return 0; }
        if (*e == 0 && buf[0] != '-') {
            errno = 0;
            unsigned long long u = strtoull(buf, &e, 10);
            if (*e == 0 && errno == 0) { out->k = KT_UINT; out->u = u; return 0; }
        }
    }
    out->k = KT_DOUBLE;
    out->d = strtod(buf, &e);
    return *e == 0 ? 0 : -1;
}

int kfl_json_decode(kfl_arena *a, const char *p, size_t n, kfl_val *out)
{
    memset(out, 0, sizeof *out);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n')) n--;
    while (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) { p++; n--; }
    if (n == 0) return -1;
    switch (*p) {
    case 't': if (n == 4 && !memcmp(p, "true", 4)) { *out = kfl_bool(1); return 0; } return -1;
    case 'f': if (n == 5 && !memcmp(p, "false", 5)) { *out = kfl_bool(0); return 0; } return -1;
    case 'n': if (n == 4 && !memcmp(p, "null", 4)) { out->k = KT_NULL; return 0; } return -1;
    case '"':
        if (n >= 2 && p[n - 1] == '"' && !memchr(p + 1, '\\', n - 2)) {   /* no escapes: zero-copy */
            *out = kfl_str(p + 1, n - 2);
            return 0;
        }
        break;
    case '[': case '{': break;
    default: return vl_number(p, n, out);
    }
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j) return -1;
    int r = vl_from_json(a, j, out, 0);
    json_decref(j);
    return r;
}

/* ---- rendering ---- */
static void vl_quote(const char *p, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    if (len < 3) { if (len) buf[0] = 0; return; }
    buf[o++] = '"';
    for (size_t i = 0; i < n && o + 7 < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') { buf[o++] = '\\'; buf[o++] = (char)c; }
        else if (c == '\n') { buf[o++] = '\\'; buf[o++] = 'n'; }
        else if (c == '\t') { buf[o++] = '\\'; buf[o++] = 't'; }
        else if (c < 0x20 || c == 0x7f) o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
        else buf[o++] = (char)c;
    }
    buf[o++] = '"';
    buf[o] = 0;
}

void kfl_val_format(const kfl_val *v, char *buf, size_t len)
{
    if (!len) return;
    buf[0] = 0;
    switch (v->k) {
    case KT_ERR: snprintf(buf, len, "error(%s)", v->err); break;
    case KT_NULL: snprintf(buf, len, "null"); break;
    case KT_BOOL: snprintf(buf, len, "%s", v->b ? "true" : "false"); break;
    case KT_INT: snprintf(buf, len, "%lld", (long long)v->i); break;
    case KT_UINT: snprintf(buf, len, "%lluu", (unsigned long long)v->u); break;
    case KT_DOUBLE: {
        snprintf(buf, len, "%.17g", v->d);
        if (!strpbrk(buf, ".eEin") && strlen(buf) + 3 < len) strcat(buf, ".0");
        break;
    }
    case KT_STRING: vl_quote(v->s.p, v->s.n, buf, len); break;
    case KT_BYTES:
        if (len > 1) { buf[0] = 'b'; vl_quote(v->s.p, v->s.n, buf + 1, len - 1); }
        break;
    case KT_TS: {
        char t[48]; kfl_ts_format(v->i, t, sizeof t);
        snprintf(buf, len, "timestamp(\"%s\")", t);
        break;
    }
    case KT_DUR: {
        char t[48]; kfl_dur_format(v->i, t, sizeof t);
        snprintf(buf, len, "duration(\"%s\")", t);
        break;
    }
    case KT_LIST: case KT_MAP: {
        size_t o = 0, n = v->k == KT_LIST ? v->l->n : v->m->n;
        o += (size_t)snprintf(buf, len, v->k == KT_LIST ? "[" : "{");
        for (size_t i = 0; i < n && o + 4 < len; i++) {
            if (i) o += (size_t)snprintf(buf + o, len - o, ", ");
            if (o >= len) break;
            if (v->k == KT_LIST) kfl_val_format(&v->l->v[i], buf + o, len - o);
            else {
                kfl_val_format(&v->m->key[i], buf + o, len - o);
                o += strlen(buf + o);
                if (o + 2 < len) { o += (size_t)snprintf(buf + o, len - o, ": "); }
                if (o < len) kfl_val_format(&v->m->val[i], buf + o, len - o);
            }
            o += strlen(buf + o);
        }
        if (o + 2 <= len) snprintf(buf + o, len - o, v->k == KT_LIST ? "]" : "}");
        break;
    }
    default: snprintf(buf, len, "?"); break;
    }
}
