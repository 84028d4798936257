/* report_svg — pictures for `kstat report`: line charts drawn here, the dependency map laid out
 * by Graphviz's dot (run as a child with an argument vector, never through a shell). */
#ifndef KSTAT_REPORT_SVG_H
#define KSTAT_REPORT_SVG_H
#include "report_html.h"
#include <stdint.h>

/* one line of a chart: n points at times t_ns[i] (bucket starts) with values v[i]; a NaN value
 * is a gap (no calls in that bucket) */
typedef struct {
    const char *name;
    size_t n;
    const int64_t *t_ns;
    const double *v;
} kr_line;

enum { KR_Y_PERCENT, KR_Y_MICROS };

/* A line chart over [t0_ns, t1_ns] (the same for every chart of the page, so they line up), one
 * colour per line (kr_color(i)), a point per bucket with a native tooltip. */
void kr_svg_chart(kr_buf *b, const char *title, int ykind, int64_t t0_ns, int64_t t1_ns,
                  const kr_line *lines, size_t nlines);
const char *kr_color(size_t i);

/* Runs `dot -Tsvg` on the DOT text src (dot from PATH, or the program KSTAT_DOT names) with a
 * time limit and appends the <svg> element it prints to out (XML prolog and comments dropped).
 * Nodes and edges the DOT text gave id="knN" / id="keN" get the attributes attr_node(ctx, N, 0,
 * out) / attr_edge(…) write (already escaped, e.g. ` data-id="…"`) added to their <g>, and the
 * text they write with what = 1 (escaped) as the group's <title> (the hover text) in place of
 * dot's internal name. 0, or -1 with a message in err (dot missing, failed, timed out). */
typedef void (*kr_attr_fn)(void *ctx, size_t idx, int what, kr_buf *out);
int kr_dot_svg(const char *src, size_t n, kr_buf *out, kr_attr_fn attr_node, kr_attr_fn attr_edge,
               void *ctx, int timeout_ms, char *err, size_t errlen);
#endif
