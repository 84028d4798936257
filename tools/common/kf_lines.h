/* kf_lines — read NDJSON input line by line: a file or '-' (standard input), plain or gzip
 * (detected by its magic, several members allowed), in large blocks, lines of any length.
 * Used by kstat (kfl keeps its own reader, which flushes selected lines before a pipe waits). */
#ifndef KF_LINES_H
#define KF_LINES_H
#include <stddef.h>

/* Called for each non-blank line (without its '\n'); lineno counts from 1; name is the file's
 * name for messages (control characters shown as \xNN). Returns 0 to go on,
 * 1 to stop reading this input, -1 to stop with an error (the callback reported it). */
typedef int (*kf_line_fn)(void *ctx, const char *name, const char *line, size_t n, long long lineno);

/* Reads path ("-" = standard input; then name is "(standard input)"). Returns 0 at the end (or when
 * the callback said 1), -1 on an I/O or gzip error (reported through kf_err) or a callback error. */
int kf_lines_read(const char *path, kf_line_fn fn, void *ctx);
#endif
