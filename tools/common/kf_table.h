/* kf_table — aligned text tables for people (kstat, kfl --fields, the call tables of kfl,
 * kdissect and kresolve on a terminal). Cells are copied; control characters are shown as \xNN;
 * widths count UTF-8 characters; columns marked numeric are right-aligned. */
#ifndef KF_TABLE_H
#define KF_TABLE_H
#include <stdio.h>
#include <stddef.h>

typedef struct kf_table kf_table;
/* ncols columns with these headers; right[i] nonzero: right-align column i (NULL: none) */
kf_table *kf_table_new(int ncols, const char *const *headers, const int *right);
/* adds a cell to the current row (a row is complete after ncols cells); 0 or -1 (no memory) */
int kf_table_cell(kf_table *t, const char *s);
int kf_table_cellf(kf_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t kf_table_rows(const kf_table *t);
/* hides columns whose cells are all empty or "0" (the header stays only if shown) */
void kf_table_hide_empty(kf_table *t, int col);
/* prints with two spaces between columns; max_width > 0 cuts wider cells with "…" */
void kf_table_print(kf_table *t, FILE *f, int max_width);
void kf_table_free(kf_table *t);
/* splits "a,b[1,2],f(\"x,y\")" at commas outside brackets and quotes, appending malloc'd
 * trimmed items to *items (kstat --by, kfl --fields); 0 or -1 (no memory) */
int kf_split_list(const char *arg, char ***items, int *n);
/* 1 when the stream is a terminal (the tools' rule: a table on a terminal, NDJSON to a pipe) */
int kf_is_terminal(FILE *f);
#endif
