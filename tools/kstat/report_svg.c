/* report_svg — line charts and the Graphviz map for `kstat report` (see report_svg.h).
 * The charts are drawn here (a few polylines and ticks: no library among the chosen ones draws
 * SVG charts); the map's layout is Graphviz's. */
#include "report_svg.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Okabe–Ito: tells lines apart for colour-blind readers too */
static const char *const palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                      "#E69F00", "#56B4E9", "#000000", "#F0E442"};
const char *kr_color(size_t i) { return palette[i % (sizeof palette / sizeof *palette)]; }

static double nice_ceil(double x)
{
    if (!(x > 0)) return 1;
    double e = pow(10, floor(log10(x)));
    double steps[] = {1, 2, 2.5, 5, 10};
    for (size_t i = 0; i < 5; i++)
        if (x <= steps[i] * e * 1.0000001) return steps[i] * e;
    return 10 * e;
}

static void fmt_y(int kind, double v, char *buf, size_t len)
{
    if (kind == KR_Y_PERCENT) {
        if (v == 0) snprintf(buf, len, "0 %%");
        else if (v < 0.01) snprintf(buf, len, "%.2g %%", v * 100);
        else snprintf(buf, len, "%.3g %%", v * 100);
    } else kr_us_human((int64_t)llround(v), buf, len);
}

/* local time of day (with the date when the chart spans more than a day), and UTC when the
 * local zone is not UTC */
static void fmt_tick(int64_t ns, int with_date, char *loc, size_t ll, char *utc, size_t ul)
{
    time_t t = (time_t)(ns / 1000000000LL);
    struct tm lt, ut;
    localtime_r(&t, &lt);
    gmtime_r(&t, &ut);
    strftime(loc, ll, with_date ? "%m-%d %H:%M" : "%H:%M:%S", &lt);
    if (lt.tm_gmtoff == 0) utc[0] = 0;
    else strftime(utc, ul, with_date ? "(%m-%d %H:%M UTC)" : "(%H:%M:%S UTC)", &ut);
}

void kr_svg_chart(kr_buf *b, const char *title, int ykind, int64_t t0, int64_t t1,
                  const kr_line *lines, size_t nl)
{
    const double W = 900, H = 230, L = 70, R = 16, T = 26, B = 46;
    double pw = W - L - R, ph = H - T - B;
    if (t1 <= t0) t1 = t0 + 1000000000LL;
    double ymax = 0;
    for (size_t i = 0; i < nl; i++)
        for (size_t k = 0; k < lines[i].n; k++)
            if (!isnan(lines[i].v[k]) && lines[i].v[k] > ymax) ymax = lines[i].v[k];
    if (ykind == KR_Y_PERCENT) ymax = ymax > 0 ? fmin(1, nice_ceil(ymax)) : 0.01;
    else ymax = nice_ceil(ymax > 0 ? ymax : 1000);
    kr_printf(b, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", W, H);
    kr_escs(b, title, 0);
    kr_puts(b, "\"><text class=\"ct\" x=\"4\" y=\"16\">");
    kr_escs(b, title, 0);
    kr_puts(b, "</text>\n");
    char buf[64], ub[64];
    for (int i = 0; i <= 4; i++) {         /* y grid */
        double v = ymax * i / 4, y = T + ph - ph * i / 4;
        fmt_y(ykind, v, buf, sizeof buf);
        kr_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                     "<text class=\"yl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                  L, L + pw, y, y, L - 6, y + 4, buf);
    }
    int with_date = t1 - t0 > 86400LL * 1000000000LL;
    for (int i = 0; i <= 4; i++) {         /* x ticks: local time, UTC below */
        int64_t t = t0 + (int64_t)((double)(t1 - t0) * i / 4);
        double x = L + pw * i / 4;
        fmt_tick(t, with_date, buf, sizeof buf, ub, sizeof ub);
        const char *anchor = i == 0 ? "start" : i == 4 ? "end" : "middle";
        kr_printf(b, "<line class=\"tick\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                     "<text class=\"xl\" text-anchor=\"%s\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                  x, x, T + ph, T + ph + 4, anchor, x, T + ph + 17, buf);
        if (ub[0]) kr_printf(b, "<text class=\"xl xu\" text-anchor=\"%s\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                             anchor, x, T + ph + 31, ub);
        kr_puts(b, "\n");
    }
    for (size_t i = 0; i < nl; i++) {
        const kr_line *ln = &lines[i];
        kr_printf(b, "<g class=\"series\" data-series=\"%zu\" stroke=\"%s\" fill=\"%s\">", i, kr_color(i), kr_color(i));
        int open = 0;
        for (size_t k = 0; k < ln->n; k++) {   /* one polyline per run without gaps */
            if (isnan(ln->v[k])) {
                if (open) kr_puts(b, "\"/>");
                open = 0;
                continue;
            }
            double x = L + pw * (double)(ln->t_ns[k] - t0) / (double)(t1 - t0);
            double y = T + ph - ph * fmin(ln->v[k], ymax) / ymax;
            if (!open) kr_puts(b, "<polyline fill=\"none\" points=\"");
            kr_printf(b, "%s%.1f,%.1f", open ? " " : "", x, y);
            open = 1;
        }
        if (open) kr_puts(b, "\"/>");
        for (size_t k = 0; k < ln->n; k++) {   /* points with a tooltip */
            if (isnan(ln->v[k])) continue;
            double x = L + pw * (double)(ln->t_ns[k] - t0) / (double)(t1 - t0);
            double y = T + ph - ph * fmin(ln->v[k], ymax) / ymax;
            fmt_y(ykind, ln->v[k], buf, sizeof buf);
            fmt_tick(ln->t_ns[k], with_date, ub, sizeof ub, ub + 32, 32);
            kr_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"><title>", x, y);
            kr_escs(b, ln->name, 120);
            kr_printf(b, " %s: %s</title></circle>", ub, buf);
        }
        kr_puts(b, "</g>\n");
    }
    kr_printf(b, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", L, L + pw, T + ph, T + ph);
    kr_puts(b, "</svg>\n");
}

/* ---- dot as a child ---- */

static void put_svg(kr_buf *out, const char *s, size_t n, kr_attr_fn an, kr_attr_fn ae, void *ctx)
{
    const char *end = s + n;
    const char *p = memmem(s, n, "<svg", 4);
    if (!p) return;
    while (p < end) {
        const char *c = memmem(p, (size_t)(end - p), "<!--", 4);
        const char *g = memmem(p, (size_t)(end - p), "<g id=\"k", 8);
        const char *next = c && (!g || c < g) ? c : g;
        if (!next) { kr_put(out, p, (size_t)(end - p)); break; }
        kr_put(out, p, (size_t)(next - p));
        if (next == c) {                       /* drop comments (dot writes node names in them) */
            const char *e = memmem(c, (size_t)(end - c), "-->", 3);
            p = e ? e + 3 : end;
            continue;
        }
        /* <g id="knN" or <g id="keN": copy up to the id's closing quote, then the attributes */
        const char *q = g + 8;                 /* at 'n' or 'e' */
        char kind = *q;
        char *num_end;
        unsigned long idx = strtoul(q + 1, &num_end, 10);
        if ((kind != 'n' && kind != 'e') || num_end == q + 1 || *num_end != '"') {
            kr_put(out, g, 8);
            p = g + 8;
            continue;
        }
        kr_put(out, g, (size_t)(num_end + 1 - g));
        kr_attr_fn fn = kind == 'n' ? an : ae;
        if (fn) fn(ctx, idx, 0, out);
        p = num_end + 1;
        /* dot's <title> of the group holds its internal name (n3, n0->n1): ours instead */
        const char *t = memmem(p, (size_t)(end - p), "<title>", 7);
        const char *nextg = memmem(p, (size_t)(end - p), "<g ", 3);
        const char *te = t ? memmem(t, (size_t)(end - t), "</title>", 8) : NULL;
        if (fn && t && te && (!nextg || t < nextg)) {
            kr_put(out, p, (size_t)(t + 7 - p));
            fn(ctx, idx, 1, out);
            p = te;
        }
    }
}

int kr_dot_svg(const char *src, size_t n, kr_buf *out, kr_attr_fn an, kr_attr_fn ae, void *ctx,
               int timeout_ms, char *err, size_t errlen)
{
    const char *dot = getenv("KSTAT_DOT");
    if (!dot || !*dot) dot = "dot";
    char tmpl[] = "/tmp/kstat-report-XXXXXX";
    int in = mkstemp(tmpl);
    if (in < 0) { snprintf(err, errlen, "temporary file: %s", strerror(errno)); return -1; }
    unlink(tmpl);
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(in, src + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { snprintf(err, errlen, "temporary file: %s", strerror(errno)); close(in); return -1; }
        off += (size_t)w;
    }
    lseek(in, 0, SEEK_SET);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) { snprintf(err, errlen, "pipe: %s", strerror(errno)); close(in); return -1; }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    char *argv[] = {(char *)dot, (char *)"-Tsvg", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, dot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in);
    close(pfd[1]);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run %s (Graphviz): %s", dot, strerror(rc));
        close(pfd[0]);
        return -1;
    }
    kr_buf svg = {0};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int timed_out = 0;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0) { timed_out = 1; break; }
        struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
        int k = poll(&pf, 1, (int)left);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) { timed_out = 1; break; }
        char chunk[65536];
        ssize_t r = read(pfd[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (svg.n > 64u << 20) { timed_out = 2; break; }     /* bounded: the map has top-N edges */
        kr_put(&svg, chunk, (size_t)r);
    }
    close(pfd[0]);
    if (timed_out) kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (timed_out) {
        snprintf(err, errlen, "%s %s", dot, timed_out == 1 ? "took too long (killed)" : "wrote too much (killed)");
        kr_free(&svg);
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || svg.oom || !svg.n || !memmem(svg.p, svg.n, "</svg>", 6)) {
        if (WIFEXITED(st) && WEXITSTATUS(st) == 127) snprintf(err, errlen, "cannot run %s (Graphviz not installed?)", dot);
        else snprintf(err, errlen, "%s -Tsvg failed (status %d)", dot, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        kr_free(&svg);
        return -1;
    }
    put_svg(out, svg.p, svg.n, an, ae, ctx);
    kr_free(&svg);
    return 0;
}
