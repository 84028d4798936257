/* lex.c — KFL tokens (CEL's lexical grammar): numbers (decimal, hex, u suffix, doubles), strings
 * in ' " ''' """ with r (raw) and b (bytes) prefixes and CEL's escapes, identifiers, keywords,
 * operators; // comments and whitespace skipped.
 * The lexer, parser, checker and evaluator are hand-written: CEL's implementations are in Go, C++
 * and Java (cel-go, cel-cpp, cel-java) and none is packaged for C on Debian. */
#include "kfl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lx_fail(kfl_lexer *lx, size_t pos, const char *msg)
{
    if (!lx->err[0]) { snprintf(lx->err, lx->errlen, "%s", msg); lx->errpos = pos; }
    return -1;
}

static int lx_isid(int c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
static int lx_hex(int c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; }

static size_t lx_utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) { o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F)); return 3; }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3F)); o[2] = (char)(0x80 | (cp >> 6 & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* a quoted literal starting at lx->pos (the opening quote) */
static int lx_string(kfl_lexer *lx, kfl_tok *t, int raw, int bytes)
{
    const char *s = lx->src;
    size_t n = lx->n, i = lx->pos;
    char q = s[i];
    int triple = i + 2 < n && s[i + 1] == q && s[i + 2] == q;
    i += triple ? 3 : 1;
    /* find the end first: the decoded text is never longer than the literal */
    size_t e = i;
    while (e < n && !(s[e] == q && (!triple || (e + 2 < n && s[e + 1] == q && s[e + 2] == q)))) e += (s[e] == '\\' && !raw) ? 2 : 1;
    if (e > n) e = n;
    char *o = kfl_alloc(lx->ar, e - i + 1);
    if (!o) return lx_fail(lx, t->pos, "out of memory");
    size_t on = 0;
    for (;;) {
        if (i >= n) return lx_fail(lx, t->pos, triple ? "unterminated string (missing closing triple quote)" : "unterminated string");
        char c = s[i];
        if (c == q && (!triple || (i + 2 < n && s[i + 1] == q && s[i + 2] == q))) { i += triple ? 3 : 1; break; }
        if (!triple && (c == '\n' || c == '\r')) return lx_fail(lx, i, "newline inside a string (use \\n or a triple-quoted string)");
        if (c != '\\' || raw) { o[on++] = c; i++; continue; }
        size_t epos = i;
        if (i + 1 >= n) return lx_fail(lx, epos, "unterminated string");
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'a': o[on++] = '\a'; break; case 'b': o[on++] = '\b'; break; case 'f': o[on++] = '\f'; break;
        case 'n': o[on++] = '\n'; break; case 'r': o[on++] = '\r'; break; case 't': o[on++] = '\t'; break;
        case 'v': o[on++] = '\v'; break; case '\\': o[on++] = '\\'; break; case '\'': o[on++] = '\''; break;
        case '"': o[on++] = '"'; break; case '`': o[on++] = '`'; break; case '?': o[on++] = '?'; break;
        case 'x': case 'X': case 'u': case 'U': {
            int digits = (e == 'x' || e == 'X') ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < digits; k++) {
                int h = i < n ? lx_hex((unsigned char)s[i]) : -1;
                if (h < 0) return lx_fail(lx, epos, "bad escape: expected hexadecimal digits");
                cp = cp * 16 + (uint32_t)h; i++;
            }
            if (digits == 2 && bytes) { o[on++] = (char)cp; break; }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return lx_fail(lx, epos, "bad escape: not a Unicode code point");
            on += lx_utf8(cp, o + on);
            break;
        }
        default:
            if (e >= '0' && e <= '3') {
                if (i + 1 >= n || s[i] < '0' || s[i] > '7' || s[i + 1] < '0' || s[i + 1] > '7')
                    return lx_fail(lx, epos, "bad escape: octal needs three digits");
                uint32_t cp = (uint32_t)((e - '0') * 64 + (s[i] - '0') * 8 + (s[i + 1] - '0'));
                i += 2;
                if (bytes) o[on++] = (char)cp; else on += lx_utf8(cp, o + on);
                break;
            }
            return lx_fail(lx, epos, "bad escape sequence");
        }
    }
    t->kind = bytes ? TK_BYTES : TK_STRING;
    t->s = o; t->slen = on;
    lx->pos = i;
    t->len = i - t->pos;
    return 0;
}

static int lx_number(kfl_lexer *lx, kfl_tok *t)
{
    const char *s = lx->src;
    size_t n = lx->n, i = lx->pos;
    if (s[i] == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        uint64_t v = 0; size_t d = 0;
        i += 2;
        while (i < n && lx_hex((unsigned char)s[i]) >= 0) {
            if (v >> 60) return lx_fail(lx, t->pos, "integer literal out of range");
            v = v * 16 + (uint64_t)lx_hex((unsigned char)s[i]); i++; d++;
        }
        if (!d) return lx_fail(lx, t->pos, "bad hexadecimal literal");
        t->kind = TK_INT; t->u = v;
    } else {
        size_t st = i;
        int isdbl = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i + 1 < n && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
            isdbl = 1; i++;
            while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            size_t j = i + 1;
            if (j < n && (s[j] == '+' || s[j] == '-')) j++;
            if (j < n && s[j] >= '0' && s[j] <= '9') {
                isdbl = 1; i = j;
                while (i < n && s[i] >= '0' && s[i] <= '9') i++;
            }
        }
        char buf[128];
        if (i - st >= sizeof buf) return lx_fail(lx, t->pos, "number literal too long");
        memcpy(buf, s + st, i - st); buf[i - st] = 0;
        if (isdbl) { t->kind = TK_DOUBLE; t->d = strtod(buf, NULL); }
        else {
            errno = 0;
            char *e;
            unsigned long long v = strtoull(buf, &e, 10);
            if (errno) return lx_fail(lx, t->pos, "integer literal out of range");
            t->kind = TK_INT; t->u = v;
        }
    }
    if (t->kind == TK_INT && i < n && (s[i] == 'u' || s[i] == 'U')) { t->kind = TK_UINT; i++; }
    if (i < n && lx_isid((unsigned char)s[i])) return lx_fail(lx, i, "unexpected character after a number");
    lx->pos = i;
    t->len = i - t->pos;
    return 0;
}

int kfl_lex_next(kfl_lexer *lx, kfl_tok *t)
{
    const char *s = lx->src;
    size_t n = lx->n;
    memset(t, 0, sizeof *t);
    for (;;) {   /* whitespace and comments */
        while (lx->pos < n && (s[lx->pos] == ' ' || s[lx->pos] == '\t' || s[lx->pos] == '\n' || s[lx->pos] == '\r' || s[lx->pos] == '\f'))
            lx->pos++;
        if (lx->pos + 1 < n && s[lx->pos] == '/' && s[lx->pos + 1] == '/') {
            while (lx->pos < n && s[lx->pos] != '\n') lx->pos++;
            continue;
        }
        break;
    }
    t->pos = lx->pos;
    if (lx->pos >= n) { t->kind = TK_EOF; return 0; }
    size_t i = lx->pos;
    unsigned char c = (unsigned char)s[i];
    if (c >= '0' && c <= '9') return lx_number(lx, t);
    if (c == '.' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') return lx_number(lx, t);
    if (c == '"' || c == '\'') return lx_string(lx, t, 0, 0);
    if (lx_isid(c)) {
        size_t j = i;
        while (j < n && lx_isid((unsigned char)s[j])) j++;
        /* string prefixes: r, b, rb, br (any case) directly before a quote */
        if (j < n && (s[j] == '"' || s[j] == '\'') && j - i <= 2) {
            int raw = 0, bytes = 0, ok = 1;
            for (size_t k = i; k < j; k++) {
                if ((s[k] == 'r' || s[k] == 'R') && !raw) raw = 1;
                else if ((s[k] == 'b' || s[k] == 'B') && !bytes) bytes = 1;
                else ok = 0;
            }
            if (ok) { lx->pos = j; int r = lx_string(lx, t, raw, bytes); t->pos = i; t->len = lx->pos - i; return r; }
        }
        t->kind = TK_IDENT;
        t->s = (char *)s + i; t->slen = j - i;
        if (j - i == 4 && !memcmp(s + i, "true", 4)) t->kind = TK_TRUE;
        else if (j - i == 5 && !memcmp(s + i, "false", 5)) t->kind = TK_FALSE;
        else if (j - i == 4 && !memcmp(s + i, "null", 4)) t->kind = TK_NULL;
        else if (j - i == 2 && !memcmp(s + i, "in", 2)) t->kind = TK_IN;
        lx->pos = j; t->len = j - i;
        return 0;
    }
    int two = i + 1 < n ? s[i + 1] : 0;
    int k = -1, len = 1;
    switch (c) {
    case '(': k = TK_LPAREN; break; case ')': k = TK_RPAREN; break;
    case '[': k = TK_LBRACKET; break; case ']': k = TK_RBRACKET; break;
    case '{': k = TK_LBRACE; break; case '}': k = TK_RBRACE; break;
    case '.': k = TK_DOT; break; case ',': k = TK_COMMA; break; case ':': k = TK_COLON; break;
    case '?': k = TK_QUESTION; break; case '+': k = TK_PLUS; break; case '-': k = TK_MINUS; break;
    case '*': k = TK_STAR; break; case '/': k = TK_SLASH; break; case '%': k = TK_PERCENT; break;
    case '|': if (two == '|') { k = TK_OR; len = 2; } break;
    case '&': if (two == '&') { k = TK_AND; len = 2; } break;
    case '=': if (two == '=') { k = TK_EQ; len = 2; } break;
    case '!': if (two == '=') { k = TK_NE; len = 2; } else k = TK_NOT; break;
    case '<': if (two == '=') { k = TK_LE; len = 2; } else k = TK_LT; break;
    case '>': if (two == '=') { k = TK_GE; len = 2; } else k = TK_GT; break;
    }
    if (k < 0) {
        char m[64];
        if (c == '=' ) snprintf(m, sizeof m, "unexpected '=' (comparison is '==')");
        else if (c == '|' || c == '&') snprintf(m, sizeof m, "unexpected '%c' (did you mean '%c%c'?)", c, c, c);
        else if (c >= 0x20 && c < 0x7f) snprintf(m, sizeof m, "unexpected character '%c'", c);
        else snprintf(m, sizeof m, "unexpected byte 0x%02x", c);
        return lx_fail(lx, i, m);
    }
    t->kind = k; t->len = (size_t)len;
    lx->pos = i + (size_t)len;
    return 0;
}
