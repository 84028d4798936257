/* kf_lines — read NDJSON input line by line: a file or '-' (standard input), plain or gzip
 * (detected by its magic, several members allowed), in large blocks. The one line reader of
 * kfl and kstat. Bounded: a line longer than KF_MAX_LINE (lib/kf_limits.h, docs/limits.md) or
 * a NUL byte (binary data, never NDJSON) ends the input with an error naming the line. A long
 * line arriving through a pipe in small reads is searched for its end once, not from its start
 * on every read. */
#ifndef KF_LINES_H
#define KF_LINES_H
#include <stddef.h>

/* Called for each non-blank line (without its '\n'); lineno counts from 1; name is the path as
 * given, or "(standard input)" for '-' (kf_err escapes it). line[n] can be read: it is the '\n'
 * or, for a last line without one, a NUL. Returns 0 to go on, 1 to stop reading this input,
 * -1 to stop with an error (the callback reported it). */
typedef int (*kf_line_fn)(void *ctx, const char *name, const char *line, size_t n, long long lineno);

typedef struct kf_lines_opts {
    /* when the input is a pipe or a terminal: fflush(stdout) before each read, so what was
     * written for the lines so far reaches its reader before this one waits for more (kfl) */
    int flush_stdout;
} kf_lines_opts;

/* Reads path ("-" = standard input). Returns 0 at the end (or when the callback said 1), -1 on
 * an I/O or gzip error, a limit (reported through kf_err) or a callback error. o may be NULL. */
int kf_lines_read_opts(const char *path, const kf_lines_opts *o, kf_line_fn fn, void *ctx);
/* The same with no options. */
int kf_lines_read(const char *path, kf_line_fn fn, void *ctx);
#endif
