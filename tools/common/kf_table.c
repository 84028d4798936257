/* kf_table.c — see kf_table.h */
#include "kf_table.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kf_table {
    int ncols;
    char **cells; size_t ncells, cap;
    int *right, *hidden, *hide_if_empty;
};

kf_table *kf_table_new(int ncols, const char *const *headers, const int *right)
{
    kf_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ncols = ncols;
    t->right = calloc((size_t)ncols, sizeof *t->right);
    t->hidden = calloc((size_t)ncols, sizeof *t->hidden);
    t->hide_if_empty = calloc((size_t)ncols, sizeof *t->hide_if_empty);
    if (!t->right || !t->hidden || !t->hide_if_empty) { kf_table_free(t); return NULL; }
    for (int i = 0; i < ncols; i++) {
        if (right) t->right[i] = right[i];
        if (kf_table_cell(t, headers[i])) { kf_table_free(t); return NULL; }
    }
    return t;
}

/* control bytes as \xNN so a cell never moves the cursor */
static char *tb_clean(const char *s)
{
    size_t n = strlen(s), extra = 0;
    for (size_t i = 0; i < n; i++) if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) extra += 3;
    char *o = malloc(n + extra + 1), *p = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) p += sprintf(p, "\\x%02x", c);
        else *p++ = (char)c;
    }
    *p = 0;
    return o;
}

int kf_table_cell(kf_table *t, const char *s)
{
    if (t->ncells == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **nc = realloc(t->cells, cap * sizeof *nc);
        if (!nc) return -1;
        t->cells = nc; t->cap = cap;
    }
    char *c = tb_clean(s ? s : "");
    if (!c) return -1;
    t->cells[t->ncells++] = c;
    return 0;
}

int kf_table_cellf(kf_table *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap; va_start(ap, fmt); vsnprintf(buf, sizeof buf, fmt, ap); va_end(ap);
    return kf_table_cell(t, buf);
}

size_t kf_table_rows(const kf_table *t) { return t->ncells / (size_t)t->ncols - 1; }
void kf_table_hide_empty(kf_table *t, int col) { if (col >= 0 && col < t->ncols) t->hide_if_empty[col] = 1; }

static size_t tb_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* the byte length of the first w characters */
static size_t tb_prefix(const char *s, size_t w)
{
    size_t i = 0, c = 0;
    while (s[i]) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) { if (c == w) break; c++; }
        i++;
    }
    return i;
}

void kf_table_print(kf_table *t, FILE *f, int max_width)
{
    size_t rows = t->ncells / (size_t)t->ncols;
    size_t *w = calloc((size_t)t->ncols, sizeof *w);
    if (!w) return;
    for (int c = 0; c < t->ncols; c++) {
        int empty = 1;
        for (size_t r = 0; r < rows; r++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            size_t l = tb_width(s);
            if (max_width > 0 && l > (size_t)max_width) l = (size_t)max_width;
            if (l > w[c]) w[c] = l;
            if (r > 0 && s[0] && strcmp(s, "0")) empty = 0;
        }
        t->hidden[c] = t->hide_if_empty[c] && empty;
    }
    int last = t->ncols - 1;
    while (last > 0 && t->hidden[last]) last--;
    for (size_t r = 0; r < rows; r++) {
        int first = 1;
        for (int c = 0; c <= last; c++) {
            if (t->hidden[c]) continue;
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            size_t l = tb_width(s), bytes = strlen(s);
            int cut = max_width > 0 && l > (size_t)max_width;
            if (cut) { bytes = tb_prefix(s, (size_t)max_width - 1); l = (size_t)max_width; }
            if (!first) fputs("  ", f);
            first = 0;
            size_t pad = w[c] - l;
            if (t->right[c]) for (size_t k = 0; k < pad; k++) fputc(' ', f);
            fwrite(s, 1, bytes, f);
            if (cut) fputs("…", f);
            if (!t->right[c] && c < last) for (size_t k = 0; k < pad; k++) fputc(' ', f);
        }
        fputc('\n', f);
    }
    free(w);
}

void kf_table_free(kf_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->ncells; i++) free(t->cells[i]);
    free(t->cells); free(t->right); free(t->hidden); free(t->hide_if_empty);
    free(t);
}

int kf_is_terminal(FILE *f) { return isatty(fileno(f)); }

int kf_split_list(const char *arg, char ***items, int *n)
{
    int depth = 0;
    char q = 0;
    const char *start = arg;
    for (const char *p = arg;; p++) {
        if (*p && q) { if (*p == '\\' && p[1]) p++; else if (*p == q) q = 0; continue; }
        if (*p == '"' || *p == '\'') { q = *p; continue; }
        if (*p == '(' || *p == '[' || *p == '{') depth++;
        if ((*p == ')' || *p == ']' || *p == '}') && depth > 0) depth--;
        if (*p == 0 || (*p == ',' && depth == 0)) {
            char **ni = realloc(*items, (size_t)(*n + 1) * sizeof *ni);
            if (!ni) return -1;
            *items = ni;
            size_t l = (size_t)(p - start);
            while (l && *start == ' ') { start++; l--; }
            while (l && start[l - 1] == ' ') l--;
            if (!((*items)[*n] = strndup(start, l))) return -1;
            (*n)++;
            start = p + 1;
        }
        if (*p == 0) break;
    }
    return 0;
}
