/* kf_calls — kdissect's NDJSON call records as a compact table for people on a terminal: local
 * time (UTC in parentheses), protocol, source → destination, the request (method and path, or
 * the protocol's summary), status, latency. The tools' rule (kfl, kdissect, kresolve): a table
 * on a terminal, the full NDJSON to a pipe or file (--json forces it on a terminal). */
#ifndef KF_CALLS_H
#define KF_CALLS_H
#include <stddef.h>
#include <stdio.h>

/* When standard output is a terminal: forks a formatter that reads the NDJSON the tool writes
 * (fd 1 becomes a pipe to it) and prints the table on the terminal; at exit, stdout is flushed
 * and closed and the formatter waited for. Returns 1 when it did so, 0 otherwise (not a terminal,
 * or it could not: then the tool writes NDJSON as usual). Call before anything is written. */
int kf_calls_tty_begin(void);

/* The table: the header, and one row per record line (a line that is not a JSON object is
 * printed as it is). */
void kf_calls_header(FILE *out);
void kf_calls_row(const char *line, size_t n, FILE *out);
#endif
