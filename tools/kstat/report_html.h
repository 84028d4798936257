/* report_html — the output side of `kstat report`: a growable buffer and the escapes every string
 * from the traffic goes through before it reaches the page (HTML text and attributes, KFL string
 * literals inside shell single quotes, Graphviz quoted strings).
 * Paths, headers, DNS names, pod names: all attacker-controlled. Nothing is written to the page
 * raw except the report's own markup. */
#ifndef KSTAT_REPORT_HTML_H
#define KSTAT_REPORT_HTML_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *p;
    size_t n, cap;
    int oom;                        /* sticky: an allocation failed, the content is incomplete */
} kr_buf;

void kr_put(kr_buf *b, const char *s, size_t n);
void kr_puts(kr_buf *b, const char *s);
void kr_printf(kr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kr_free(kr_buf *b);

/* HTML text or a double/single-quoted attribute value: & < > " ' as entities; control characters,
 * DEL, bytes that are not UTF-8 and the bidirectional overrides (U+202A-E, U+2066-9) as visible
 * text (\xNN, \u202E) so nothing can hide or reorder what a reader sees. At most max_chars
 * characters (0: no limit); a longer string ends in "…". Returns 1 when it cut. */
int kr_esc(kr_buf *b, const char *s, size_t n, size_t max_chars);
int kr_escs(kr_buf *b, const char *s, size_t max_chars);     /* NUL-terminated; NULL is "" */

/* A KFL double-quoted string literal for s ("…" with \" \\ \n \t \uXXXX), into out. */
void kr_kfl_str(kr_buf *out, const char *s, size_t n);
/* s single-quoted for a POSIX shell ('…' with ' as '\''). */
void kr_sh_quote(kr_buf *out, const char *s, size_t n);
/* A Graphviz double-quoted string: " and \ escaped (so no \N, \G, \l expansions), control
 * characters dropped, at most max_chars characters. */
void kr_dot_str(kr_buf *out, const char *s, size_t max_chars);

/* Human numbers: "1.2 ms", "850 µs", "3.4 s"; "-" for a negative (no value) latency. */
char *kr_us_human(int64_t us, char *buf, size_t len);
/* "12.5 %", "0 %", "< 0.1 %" */
char *kr_pct(double ratio, char *buf, size_t len);
/* "1,234,567" */
char *kr_count(uint64_t v, char *buf, size_t len);
/* standard base64 of n bytes into out (>= 4*ceil(n/3)+1) */
void kr_base64(const uint8_t *p, size_t n, char *out);
#endif
