/* map.c — `kstat map`: the workload dependency map as text, JSON, Graphviz DOT, Mermaid, or SVG
 * (DOT laid out by Graphviz's `dot`, run as a child process: no layout code of our own). */
#include "agg.h"
#include "kstat.h"
#include "kf_table.h"
#include "kf_tool.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { M_TEXT, M_JSON, M_DOT, M_MERMAID, M_SVG };

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void map_json(FILE *f, kst_node **nodes, size_t nn, kst_edge **edges, size_t ne, size_t more)
{
    fputs("{\"nodes\":[", f);
    for (size_t i = 0; i < nn; i++) {
        kst_node *n = nodes[i];
        fputs(i ? ",{\"id\":" : "{\"id\":", f); jstr(f, n->id);
        fputs(",\"label\":", f); jstr(f, n->label);
        fputs(",\"kind\":", f); jstr(f, n->kind);
        fputs(",\"namespace\":", f); jstr(f, n->ns);
        fprintf(f, ",\"calls_in\":%llu,\"calls_out\":%llu}", (unsigned long long)n->calls_in, (unsigned long long)n->calls_out);
    }
    fputs("],\"edges\":[", f);
    for (size_t i = 0; i < ne; i++) {
        kst_edge *e = edges[i];
        fputs(i ? ",{\"src\":" : "{\"src\":", f); jstr(f, e->src);
        fputs(",\"dst\":", f); jstr(f, e->dst);
        fputs(",\"protocol\":", f); jstr(f, e->protocol);
        int64_t p99 = kst_lat_quantile(&e->st.lat, 0.99);
        fprintf(f, ",\"calls\":%llu,\"errors\":%llu,\"error_ratio\":%.6g,\"p99_us\":", (unsigned long long)e->st.calls,
                (unsigned long long)e->st.errors, kst_stats_error_ratio(&e->st));
        if (p99 < 0) fputs("null}", f); else fprintf(f, "%lld}", (long long)p99);
    }
    fprintf(f, "],\"more_edges\":%zu}\n", more);
}

static void edge_label(kst_edge *e, char *b, size_t n)
{
    char p99[32];
    kst_human_us(kst_lat_quantile(&e->st.lat, 0.99), p99, sizeof p99);
    if (e->st.errors)
        snprintf(b, n, "%s %llu calls, %.1f%% errors, p99 %s", e->protocol, (unsigned long long)e->st.calls,
                 kst_stats_error_ratio(&e->st) * 100, p99);
    else snprintf(b, n, "%s %llu calls, p99 %s", e->protocol, (unsigned long long)e->st.calls, p99);
}

/* DOT string: quotes and backslashes escaped */
static void dstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s < 0x20) { fputc(' ', f); continue; }
        fputc(*s, f);
    }
    fputc('"', f);
}

static void map_dot(FILE *f, kst_node **nodes, size_t nn, kst_edge **edges, size_t ne, size_t more)
{
    fputs("digraph kstat {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];\n"
          "  edge [fontname=\"Helvetica\", fontsize=10];\n", f);
    for (size_t i = 0; i < nn; i++) {
        fputs("  ", f); dstr(f, nodes[i]->id);
        fputs(" [label=", f); dstr(f, nodes[i]->label);
        if (strcmp(nodes[i]->kind, "workload")) fprintf(f, ", fillcolor=\"%s\"", !strcmp(nodes[i]->kind, "service") ? "#eefbef" : "#f4f4f4");
        fputs("];\n", f);
    }
    for (size_t i = 0; i < ne; i++) {
        char l[256];
        edge_label(edges[i], l, sizeof l);
        fputs("  ", f); dstr(f, edges[i]->src); fputs(" -> ", f); dstr(f, edges[i]->dst);
        fputs(" [label=", f); dstr(f, l);
        if (edges[i]->st.errors) fputs(", color=\"#c0392b\", fontcolor=\"#c0392b\"", f);
        fputs("];\n", f);
    }
    if (more) fprintf(f, "  more [shape=plaintext, style=\"\", label=\"%zu more edges\"];\n", more);
    fputs("}\n", f);
}

/* Mermaid ids must be plain: n0, n1...; labels in quotes (a quote becomes #quot;) */
static void mstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputs("#quot;", f);
        else if ((unsigned char)*s < 0x20) fputc(' ', f);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static void map_mermaid(FILE *f, kst_node **nodes, size_t nn, kst_edge **edges, size_t ne, size_t more)
{
    fputs("graph LR\n", f);
    for (size_t i = 0; i < nn; i++) { fprintf(f, "  n%zu[", i); mstr(f, nodes[i]->label); fputs("]\n", f); }
    size_t nerr = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t s = 0, d = 0;
        for (size_t k = 0; k < nn; k++) { if (!strcmp(nodes[k]->id, edges[i]->src)) s = k; if (!strcmp(nodes[k]->id, edges[i]->dst)) d = k; }
        char l[256];
        edge_label(edges[i], l, sizeof l);
        fprintf(f, "  n%zu -->|", s); mstr(f, l); fprintf(f, "| n%zu\n", d);
        if (edges[i]->st.errors) fprintf(f, "  linkStyle %zu stroke:#c0392b\n", i), nerr++;
    }
    if (more) fprintf(f, "  more[\"%zu more edges\"]\n", more);
}

static void map_text(FILE *f, kst_edge **edges, size_t ne, size_t more)
{
    static const char *const hdr[] = { "SRC", "", "DST", "PROTOCOL", "CALLS", "ERRORS", "ERR%", "P99" };
    static const int right[] = { 0, 0, 0, 0, 1, 1, 1, 1 };
    kf_table *t = kf_table_new(8, hdr, right);
    if (!t) return;
    for (size_t i = 0; i < ne; i++) {
        kst_edge *e = edges[i];
        char p99[32];
        kst_human_us(kst_lat_quantile(&e->st.lat, 0.99), p99, sizeof p99);
        kf_table_cell(t, e->src); kf_table_cell(t, "→"); kf_table_cell(t, e->dst); kf_table_cell(t, e->protocol);
        kf_table_cellf(t, "%llu", (unsigned long long)e->st.calls);
        kf_table_cellf(t, "%llu", (unsigned long long)e->st.errors);
        double r = kst_stats_error_ratio(&e->st) * 100;
        kf_table_cellf(t, r == 0 ? "0" : "%.1f%%", r);
        kf_table_cell(t, p99);
    }
    kf_table_print(t, f, 60);
    kf_table_free(t);
    if (more) fprintf(f, "(%zu more edges; --top-edges 0 shows all)\n", more);
}

/* dot -Tsvg: the DOT goes to its stdin through a temporary file (no deadlock on a big map),
 * its SVG to our stdout */
static int map_svg(kst_node **nodes, size_t nn, kst_edge **edges, size_t ne, size_t more)
{
    const char *dot = getenv("KSTAT_DOT");      /* tests point this at a missing program */
    if (!dot || !*dot) dot = "dot";
    FILE *tmp = tmpfile();
    if (!tmp) { kf_err("temporary file: %s", strerror(errno)); return KF_EXIT_IO; }
    map_dot(tmp, nodes, nn, edges, ne, more);
    if (fflush(tmp) || fseek(tmp, 0, SEEK_SET)) { kf_err("temporary file: %s", strerror(errno)); fclose(tmp); return KF_EXIT_IO; }
    fflush(stdout);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC)) { kf_err("pipe: %s", strerror(errno)); fclose(tmp); return KF_EXIT_IO; }
    pid_t pid = fork();
    if (pid < 0) { kf_err("fork: %s", strerror(errno)); fclose(tmp); return KF_EXIT_IO; }
    if (pid == 0) {
        dup2(fileno(tmp), 0);
        close(pfd[0]);
        execlp(dot, dot, "-Tsvg", (char *)NULL);
        int e = errno;
        (void)!write(pfd[1], &e, sizeof e);
        _exit(127);
    }
    close(pfd[1]);
    int childerr = 0;
    ssize_t r = read(pfd[0], &childerr, sizeof childerr);
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) ;
    fclose(tmp);
    if (r == (ssize_t)sizeof childerr) {
        if (childerr == ENOENT)
            kf_err("map --format svg needs Graphviz's '%s' program, which is not installed (Debian/Ubuntu: apt-get install graphviz); --format dot writes its input", dot);
        else kf_err("%s: %s", dot, strerror(childerr));
        return KF_EXIT_ERR;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { kf_err("%s -Tsvg failed (exit %d)", dot, WIFEXITED(st) ? WEXITSTATUS(st) : -1); return KF_EXIT_ERR; }
    return 0;
}

int kst_map_main(int argc, char **argv)
{
    enum { O_SKIP = 256 };
    static const struct option opts[] = {
        { "format", required_argument, 0, 'f' }, { "top-edges", required_argument, 0, 'n' },
        { "skip-invalid", no_argument, 0, O_SKIP }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int fmt = kf_is_terminal(stdout) ? M_TEXT : M_JSON, skip = 0, c;
    long long top = 0;
    while ((c = kf_getopt(argc, argv, "f:n:h", opts)) != -1) {
        switch (c) {
        case 'f':
            if (!strcmp(optarg, "text")) fmt = M_TEXT;
            else if (!strcmp(optarg, "json")) fmt = M_JSON;
            else if (!strcmp(optarg, "dot")) fmt = M_DOT;
            else if (!strcmp(optarg, "mermaid")) fmt = M_MERMAID;
            else if (!strcmp(optarg, "svg")) fmt = M_SVG;
            else kf_usage_die("map --format: unknown format '%s' (text, json, dot, mermaid, svg)", optarg);
            break;
        case 'n': {
            char *e; errno = 0;
            top = strtoll(optarg, &e, 10);
            if (*e || errno || top < 0) kf_usage_die("--top-edges: not a count: '%s'", optarg);
            break;
        }
        case O_SKIP: skip = 1; break;
        case 'h':
            printf("Usage: kstat map [--format text|json|dot|mermaid|svg] [--top-edges N] [FILE...]\n"
                   "Who calls whom in kdissect's NDJSON records: nodes are workloads (namespace/owner,\n"
                   "else namespace/service, else DNS name, else IP); an edge per caller, callee and\n"
                   "protocol with calls, errors, error ratio and p99 latency. On a terminal: a text\n"
                   "list; to a pipe: JSON. svg runs Graphviz's dot (package graphviz).\n"
                   "  -f, --format F      text, json, dot, mermaid, svg\n"
                   "  -n, --top-edges N   only the N busiest edges (more_edges says how many were left)\n"
                   "      --skip-invalid  skip lines that are not kdissect records\n");
            return kf_finish_stdout(KF_EXIT_OK);
        default: kf_usage_die("unknown option");
        }
    }
    kst_opts o = { .want_map = 1 };
    char err[512];
    kst_agg *a = kst_agg_new(&o, err, sizeof err);
    if (!a) { kf_err("%s", err); return KF_EXIT_ERR; }
    if (kst_read_inputs(a, argv + optind, argc - optind, skip)) { kst_agg_free(a); return KF_EXIT_ERR; }
    kst_node **nodes; kst_edge **edges; size_t more = 0;
    size_t nn = kst_map_nodes(a, (size_t)top, &nodes, &more);
    size_t ne = kst_map_edges(a, (size_t)top, &edges);
    int rc = 0;
    switch (fmt) {
    case M_JSON: map_json(stdout, nodes, nn, edges, ne, more); break;
    case M_DOT: map_dot(stdout, nodes, nn, edges, ne, more); break;
    case M_MERMAID: map_mermaid(stdout, nodes, nn, edges, ne, more); break;
    case M_SVG: rc = map_svg(nodes, nn, edges, ne, more); break;
    default: map_text(stdout, edges, ne, more); break;
    }
    uint64_t counted;
    kst_agg_counts(a, NULL, &counted, NULL);
    kst_agg_free(a);
    if (rc) return rc;
    return kf_finish_stdout(counted ? KF_EXIT_OK : KF_EXIT_NONE);
}
