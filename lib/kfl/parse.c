/* parse.c — recursive descent over CEL's grammar, producing the AST (kfl_node) in the program's
 * arena. Precedence, low to high: ?: ; || ; && ; == != < <= > >= in ; + - ; * / % ; ! - ; member. */
#include "kfl.h"
#include <stdio.h>
#include <string.h>

#define PS_MAX_DEPTH 120
#define PS_MAX_NODES 4000
#define PS_MAX_TREE 1000     /* operators chained (a || b || …, x.f().g()…): the tree's depth */

typedef struct {
    kfl_prog *p;
    kfl_lexer lx;
    kfl_tok t;          /* current token */
    int depth, nodes;
    int tree;           /* links of the operator chains being parsed: bounds the tree's depth */
    int failed;
} ps_state;

/* one more link in a chain (left-deep: each adds a level the checker and evaluator recurse on) */
static int ps_link(ps_state *s, int *k, size_t pos);

static const char *ps_tokname(const kfl_tok *t, char *buf, size_t len)
{
    static const char *const fixed[] = {
        [TK_EOF] = "end of input", [TK_INT] = "a number", [TK_UINT] = "a number", [TK_DOUBLE] = "a number",
        [TK_STRING] = "a string", [TK_BYTES] = "bytes", [TK_IDENT] = "a name", [TK_TRUE] = "'true'",
        [TK_FALSE] = "'false'", [TK_NULL] = "'null'", [TK_IN] = "'in'", [TK_LPAREN] = "'('",
        [TK_RPAREN] = "')'", [TK_LBRACKET] = "'['", [TK_RBRACKET] = "']'", [TK_LBRACE] = "'{'",
        [TK_RBRACE] = "'}'", [TK_DOT] = "'.'", [TK_COMMA] = "','", [TK_COLON] = "':'",
        [TK_QUESTION] = "'?'", [TK_OR] = "'||'", [TK_AND] = "'&&'", [TK_NOT] = "'!'", [TK_EQ] = "'=='",
        [TK_NE] = "'!='", [TK_LT] = "'<'", [TK_LE] = "'<='", [TK_GT] = "'>'", [TK_GE] = "'>='",
        [TK_PLUS] = "'+'", [TK_MINUS] = "'-'", [TK_STAR] = "'*'", [TK_SLASH] = "'/'", [TK_PERCENT] = "'%'",
    };
    if (t->kind == TK_IDENT) { snprintf(buf, len, "'%.*s'", (int)(t->slen > 40 ? 40 : t->slen), t->s); return buf; }
    if (t->kind >= 0 && t->kind < TK_ERROR && fixed[t->kind]) return fixed[t->kind];
    return "?";
}

static kfl_node *ps_fail(ps_state *s, size_t pos, const char *msg)
{
    if (!s->failed) {
        snprintf(s->p->err, sizeof s->p->err, "%s", msg);
        s->p->errpos = pos;
        s->failed = 1;
    }
    return NULL;
}

static kfl_node *ps_expected(ps_state *s, const char *what)
{
    char m[160], tb[64];
    snprintf(m, sizeof m, "expected %s, found %s", what, ps_tokname(&s->t, tb, sizeof tb));
    return ps_fail(s, s->t.pos, m);
}

static int ps_link(ps_state *s, int *k, size_t pos)
{
    ++*k;
    if (++s->tree > PS_MAX_TREE) { ps_fail(s, pos, "expression nested too deeply (chains of 1000 operations at most)"); return -1; }
    return 0;
}

static int ps_advance(ps_state *s)
{
    if (s->failed) return -1;
    if (kfl_lex_next(&s->lx, &s->t) != 0) {
        ps_fail(s, s->lx.errpos, s->lx.err);
        s->t.kind = TK_ERROR;
        return -1;
    }
    return 0;
}

static kfl_node *ps_node(ps_state *s, int op, size_t pos)
{
    /* a bound on the tree's size also bounds its depth (left-deep chains such as a+a+a…),
     * which the checker and the evaluator walk recursively */
    if (++s->nodes > PS_MAX_NODES) return ps_fail(s, pos, "expression too large (4000 terms at most)");
    kfl_node *n = kfl_alloc(&s->p->ar, sizeof *n);
    if (!n) return ps_fail(s, pos, "out of memory");
    n->op = (uint8_t)op; n->pos = pos; n->idx = -1;
    return n;
}

static kfl_node *ps_expr(ps_state *s);

/* comma-separated expressions up to the closing token; *out gets an arena array */
static int ps_list(ps_state *s, int close, kfl_node ***out, int *count)
{
    kfl_node *items[256];
    int n = 0;
    while (s->t.kind != close) {
        if (n == 256) { ps_fail(s, s->t.pos, "too many items (256 at most)"); return -1; }
        kfl_node *e = ps_expr(s);
        if (!e) return -1;
        items[n++] = e;
        if (s->t.kind == TK_COMMA) { if (ps_advance(s)) return -1; continue; }
        if (s->t.kind != close) {
            ps_expected(s, close == TK_RPAREN ? "',' or ')'" : "',' or ']'");
            return -1;
        }
    }
    if (ps_advance(s)) return -1;
    *count = n;
    *out = NULL;
    if (n) {
        *out = kfl_alloc(&s->p->ar, (size_t)n * sizeof **out);
        if (!*out) { ps_fail(s, 0, "out of memory"); return -1; }
        memcpy(*out, items, (size_t)n * sizeof **out);
    }
    return 0;
}

static kfl_node *ps_primary(ps_state *s)
{
    kfl_tok t = s->t;
    kfl_node *n;
    switch (t.kind) {
    case TK_INT:
        if (t.u > (uint64_t)INT64_MAX) return ps_fail(s, t.pos, "integer literal out of range (use a u suffix for uint)");
        n = ps_node(s, N_LIT, t.pos); if (!n) return NULL;
        n->lit = kfl_int((int64_t)t.u);
        break;
    case TK_UINT:
        n = ps_node(s, N_LIT, t.pos); if (!n) return NULL;
        n->lit.k = KT_UINT; n->lit.u = t.u;
        break;
    case TK_DOUBLE:
        n = ps_node(s, N_LIT, t.pos); if (!n) return NULL;
        n->lit.k = KT_DOUBLE; n->lit.d = t.d;
        break;
    case TK_STRING: case TK_BYTES:
        n = ps_node(s, N_LIT, t.pos); if (!n) return NULL;
        n->lit = kfl_str(t.s, t.slen);
        if (t.kind == TK_BYTES) n->lit.k = KT_BYTES;
        break;
    case TK_TRUE: case TK_FALSE:
        n = ps_node(s, N_LIT, t.pos); if (!n) return NULL;
        n->lit = kfl_bool(t.kind == TK_TRUE);
        break;
    case TK_NULL:
        n = ps_node(s, N_LIT, t.pos); if (!n) return NULL;
        n->lit.k = KT_NULL;
        break;
    case TK_LPAREN:
        if (ps_advance(s)) return NULL;
        n = ps_expr(s);
        if (!n) return NULL;
        if (s->t.kind != TK_RPAREN) return ps_expected(s, "')'");
        break;
    case TK_LBRACKET:
        n = ps_node(s, N_LIST, t.pos); if (!n) return NULL;
        if (ps_advance(s)) return NULL;
        if (ps_list(s, TK_RBRACKET, &n->args, &n->nargs)) return NULL;
        return n;
    case TK_LBRACE: {
        kfl_node *items[512];
        int cnt = 0;
        n = ps_node(s, N_MAP, t.pos); if (!n) return NULL;
        if (ps_advance(s)) return NULL;
        while (s->t.kind != TK_RBRACE) {
            if (cnt == 512) return ps_fail(s, s->t.pos, "too many map entries (256 at most)");
            kfl_node *k = ps_expr(s);
            if (!k) return NULL;
            if (s->t.kind != TK_COLON) return ps_expected(s, "':' after a map key");
            if (ps_advance(s)) return NULL;
            kfl_node *v = ps_expr(s);
            if (!v) return NULL;
            items[cnt++] = k; items[cnt++] = v;
            if (s->t.kind == TK_COMMA) { if (ps_advance(s)) return NULL; continue; }
            if (s->t.kind != TK_RBRACE) return ps_expected(s, "',' or '}'");
        }
        if (cnt) {
            n->args = kfl_alloc(&s->p->ar, (size_t)cnt * sizeof *n->args);
            if (!n->args) return ps_fail(s, t.pos, "out of memory");
            memcpy(n->args, items, (size_t)cnt * sizeof *n->args);
        }
        n->nargs = cnt;
        break;
    }
    case TK_DOT:      /* a leading '.' names the root scope: same as without it here */
        if (ps_advance(s)) return NULL;
        if (s->t.kind != TK_IDENT) return ps_expected(s, "a name after '.'");
        return ps_primary(s);
    case TK_IDENT:
        if (ps_advance(s)) return NULL;
        if (s->t.kind == TK_LPAREN) {
            n = ps_node(s, N_CALL, t.pos); if (!n) return NULL;
            n->name = t.s; n->nlen = t.slen;
            if (ps_advance(s)) return NULL;
            if (ps_list(s, TK_RPAREN, &n->args, &n->nargs)) return NULL;
            return n;
        }
        n = ps_node(s, N_IDENT, t.pos); if (!n) return NULL;
        n->name = t.s; n->nlen = t.slen;
        return n;
    case TK_EOF:
        return ps_expected(s, "an operand (a name, literal, '(', '[' or '{')");
    default:
        return ps_expected(s, "an operand");
    }
    if (ps_advance(s)) return NULL;
    return n;
}

static kfl_node *ps_member(ps_state *s)
{
    kfl_node *n = ps_primary(s);
    int k = 0;
    while (n) {
        if ((s->t.kind == TK_DOT || s->t.kind == TK_LBRACKET) && ps_link(s, &k, s->t.pos)) return NULL;
        if (s->t.kind == TK_DOT) {
            size_t dpos = s->t.pos;
            if (ps_advance(s)) return NULL;
            if (s->t.kind != TK_IDENT && s->t.kind != TK_IN && s->t.kind != TK_NULL && s->t.kind != TK_TRUE && s->t.kind != TK_FALSE)
                return ps_expected(s, "a field or method name after '.'");
            kfl_tok f = s->t;
            if (ps_advance(s)) return NULL;
            if (s->t.kind == TK_LPAREN) {
                kfl_node *c = ps_node(s, N_CALL, f.pos); if (!c) return NULL;
                c->name = f.s ? f.s : s->lx.src + f.pos; c->nlen = f.len;
                c->a = n; c->method = 1;
                if (ps_advance(s)) return NULL;
                if (ps_list(s, TK_RPAREN, &c->args, &c->nargs)) return NULL;
                n = c;
            } else {
                kfl_node *c = ps_node(s, N_SELECT, f.pos); if (!c) return NULL;
                c->name = s->lx.src + f.pos; c->nlen = f.len;
                c->a = n;
                (void)dpos;
                n = c;
            }
        } else if (s->t.kind == TK_LBRACKET) {
            kfl_node *c = ps_node(s, N_INDEX, s->t.pos); if (!c) return NULL;
            if (ps_advance(s)) return NULL;
            c->a = n;
            c->b = ps_expr(s);
            if (!c->b) return NULL;
            if (s->t.kind != TK_RBRACKET) return ps_expected(s, "']'");
            if (ps_advance(s)) return NULL;
            n = c;
        } else break;
    }
    s->tree -= k;
    return n;
}

static kfl_node *ps_unary(ps_state *s)
{
    kfl_node *r;
    if (s->t.kind == TK_NOT || s->t.kind == TK_MINUS) {
        if (++s->depth > PS_MAX_DEPTH) return ps_fail(s, s->t.pos, "expression nested too deeply");
        kfl_tok op = s->t;
        if (ps_advance(s)) return NULL;
        if (op.kind == TK_MINUS && s->t.kind == TK_INT) {
            /* -9223372036854775808 is a valid literal: fold the sign into the number */
            kfl_lexer save = s->lx; kfl_tok num = s->t;
            if (num.u > (uint64_t)INT64_MAX + 1) return ps_fail(s, num.pos, "integer literal out of range");
            if (ps_advance(s)) return NULL;
            if (s->t.kind != TK_DOT && s->t.kind != TK_LBRACKET) {
                r = ps_node(s, N_LIT, op.pos); if (!r) return NULL;
                r->lit = kfl_int(num.u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)num.u);
                s->depth--;
                return r;
            }
            s->lx = save; s->t = num;      /* -5.method(): the sign applies to the whole member */
        }
        kfl_node *a = ps_unary(s);
        if (!a) return NULL;
        r = ps_node(s, op.kind == TK_NOT ? N_NOT : N_NEG, op.pos); if (!r) return NULL;
        r->a = a;
        s->depth--;
    } else r = ps_member(s);
    return r;
}

static kfl_node *ps_bin(ps_state *s, int op, kfl_node *a, kfl_node *b, size_t pos)
{
    if (!a || !b) return NULL;
    kfl_node *n = ps_node(s, op, pos); if (!n) return NULL;
    n->a = a; n->b = b;
    return n;
}

static kfl_node *ps_mul(ps_state *s)
{
    int k = 0;
    kfl_node *n = ps_unary(s);
    while (n && (s->t.kind == TK_STAR || s->t.kind == TK_SLASH || s->t.kind == TK_PERCENT)) {
        kfl_tok op = s->t;
        if (ps_link(s, &k, s->t.pos) || ps_advance(s)) return NULL;
        n = ps_bin(s, op.kind == TK_STAR ? N_MUL : op.kind == TK_SLASH ? N_DIV : N_MOD, n, ps_unary(s), op.pos);
    }
    s->tree -= k;
    return n;
}

static kfl_node *ps_add(ps_state *s)
{
    int k = 0;
    kfl_node *n = ps_mul(s);
    while (n && (s->t.kind == TK_PLUS || s->t.kind == TK_MINUS)) {
        kfl_tok op = s->t;
        if (ps_link(s, &k, s->t.pos) || ps_advance(s)) return NULL;
        n = ps_bin(s, op.kind == TK_PLUS ? N_ADD : N_SUB, n, ps_mul(s), op.pos);
    }
    s->tree -= k;
    return n;
}

static kfl_node *ps_rel(ps_state *s)
{
    int k = 0;
    kfl_node *n = ps_add(s);
    for (;;) {
        if (!n) return NULL;
        int op;
        switch (s->t.kind) {
        case TK_EQ: op = N_EQ; break; case TK_NE: op = N_NE; break; case TK_LT: op = N_LT; break;
        case TK_LE: op = N_LE; break; case TK_GT: op = N_GT; break; case TK_GE: op = N_GE; break;
        case TK_IN: op = N_IN; break;
        default: s->tree -= k; return n;
        }
        size_t pos = s->t.pos;
        if (ps_link(s, &k, pos) || ps_advance(s)) return NULL;
        n = ps_bin(s, op, n, ps_add(s), pos);
    }
}

static kfl_node *ps_and(ps_state *s)
{
    int k = 0;
    kfl_node *n = ps_rel(s);
    while (n && s->t.kind == TK_AND) {
        size_t pos = s->t.pos;
        if (ps_link(s, &k, s->t.pos) || ps_advance(s)) return NULL;
        n = ps_bin(s, N_AND, n, ps_rel(s), pos);
    }
    s->tree -= k;
    return n;
}

static kfl_node *ps_or(ps_state *s)
{
    int k = 0;
    kfl_node *n = ps_and(s);
    while (n && s->t.kind == TK_OR) {
        size_t pos = s->t.pos;
        if (ps_link(s, &k, s->t.pos) || ps_advance(s)) return NULL;
        n = ps_bin(s, N_OR, n, ps_and(s), pos);
    }
    s->tree -= k;
    return n;
}

static kfl_node *ps_expr(ps_state *s)
{
    if (++s->depth > PS_MAX_DEPTH) return ps_fail(s, s->t.pos, "expression nested too deeply");
    kfl_node *n = ps_or(s);
    if (n && s->t.kind == TK_QUESTION) {
        kfl_node *c = ps_node(s, N_COND, s->t.pos); if (!c) return NULL;
        if (ps_advance(s)) return NULL;
        c->a = n;
        c->b = ps_or(s);
        if (!c->b) return NULL;
        if (s->t.kind != TK_COLON) return ps_expected(s, "':' in a ?: conditional");
        if (ps_advance(s)) return NULL;
        c->c = ps_expr(s);
        if (!c->c) return NULL;
        n = c;
    }
    s->depth--;
    return n;
}

kfl_node *kfl_parse(kfl_prog *p, const char *src, size_t n)
{
    ps_state s = { .p = p };
    s.lx.src = src; s.lx.n = n; s.lx.ar = &p->ar;
    char lerr[200] = "";
    s.lx.err = lerr; s.lx.errlen = sizeof lerr;
    p->err[0] = 0;
    if (ps_advance(&s)) return NULL;
    if (s.t.kind == TK_EOF) return NULL;     /* empty filter (p->err stays empty) */
    kfl_node *root = ps_expr(&s);
    if (!root) return NULL;
    if (s.t.kind != TK_EOF) {
        char m[160], tb[64];
        const char *what = s.t.kind == TK_IDENT ? "an operator ('&&', '||', '==', …)" : "an operator or the end";
        snprintf(m, sizeof m, "expected %s, found %s", what, ps_tokname(&s.t, tb, sizeof tb));
        ps_fail(&s, s.t.pos, m);
        return NULL;
    }
    return root;
}
