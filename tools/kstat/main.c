/* kstat — API statistics and the workload dependency map over kdissect's NDJSON.
 *   kstat [OPTIONS] [FILE...]              statistics per group (--by KFL expressions)
 *   kstat map [OPTIONS] [FILE...]          who calls whom (text, json, dot, mermaid, svg)
 *   kstat report [OPTIONS] [FILE...]       the HTML report (report.c)
 * Exit: 0 ok, 1 no call counted, 2 bad usage or bad input, 3 output error. docs/kstat.md. */
#include "agg.h"
#include "kstat.h"
#include "kf_lines.h"
#include "kf_table.h"
#include "kf_time.h"
#include "kf_tool.h"
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the HTML report lives in report*.c; this keeps kstat linkable before it exists */
__attribute__((weak)) int kst_report_main(int argc, char **argv)
{
    (void)argc; (void)argv;
    kf_err("report: not built into this kstat");
    return KF_EXIT_ERR;
}

static void usage(void)
{
    printf("Usage: kstat [OPTIONS] [FILE...]\n"
           "       kstat map [--format text|json|dot|mermaid|svg] [--top-edges N] [FILE...]\n"
           "       kstat report [--title T] [-o OUT.html] [FILE...]\n"
           "Statistics of the calls in kdissect's NDJSON records: calls, rate, errors and error\n"
           "ratio (per protocol, docs/kstat.md), 4xx, unanswered, latency p50/p90/p95/p99/max,\n"
           "bytes, first and last time, per group. Reads standard input when no FILE (or '-');\n"
           "gzip is read transparently. On a terminal: an aligned table; to a pipe: NDJSON.\n"
           "\n"
           "  -b, --by EXPR[,EXPR...]  group by these KFL expressions (default: protocol,src,dst,\n"
           "                         endpoint); src/dst: the workload (namespace/owner, else\n"
           "                         service, DNS name, IP); endpoint: method and path ({id} for\n"
           "                         ids), gRPC method, DNS question, Redis command...\n"
           "  -n, --top N            only the first N groups (after sorting)\n"
           "  -s, --sort KEY         calls (default), rate, errors, error_ratio, p50, p90, p95,\n"
           "                         p99, max (largest first)\n"
           "  -e, --every DUR        a time series: the same per bucket of DUR (1m, 10s, 1h...)\n"
           "      --raw-paths        endpoints with the paths as sent (no {id})\n"
           "      --json             NDJSON, one object per group (and bucket)\n"
           "      --csv              CSV with a header line\n"
           "      --table            the aligned table even to a pipe\n"
           "      --skip-invalid     skip lines that are not kdissect records (counted on stderr)\n"
           "      --errors           print what counts as an error, per protocol, and exit\n"
           "  -h, --help             this help;  --version  the version\n"
           "\n"
           "Examples:\n"
           "  kdissect inc.ksnap | kfl 'dst.pod.namespace == \"prod\"' | kstat\n"
           "  kstat --by dst.service.name,method,path --top 10 --sort p99 calls.ndjson\n"
           "  kstat --every 1m --by dst.service.name calls.ndjson\n"
           "  kstat map --format svg calls.ndjson > map.svg\n"
           "Exit status: 0 ok, 1 no call counted, 2 bad usage or input, 3 output error.\n");
}

/* ---- reading ---- */
typedef struct {
    kst_agg *a;
    int skip_invalid;
    uint64_t invalid;
} feed;

static int feed_line(void *ctx, const char *name, const char *line, size_t n, long long lineno)
{
    feed *f = ctx;
    const char *why = "";
    int r = kst_agg_add(f->a, line, n, &why);
    if (r == KST_NOMEM) { kf_err("out of memory"); return -1; }
    if (r == KST_BAD) {
        if (f->skip_invalid) { f->invalid++; return 0; }
        kf_err("%s:%lld: %s", name, lineno, why);
        return -1;
    }
    return 0;
}

int kst_read_inputs(kst_agg *a, char **files, int nfiles, int skip_invalid)
{
    feed f = { a, skip_invalid, 0 };
    static char *stdin_only[] = { "-" };
    if (nfiles == 0) { files = stdin_only; nfiles = 1; }
    for (int i = 0; i < nfiles; i++)
        if (kf_lines_read(files[i], feed_line, &f)) return -1;
    if (f.invalid)
        kf_warn("%llu line%s kdissect record%s, skipped", (unsigned long long)f.invalid,
                f.invalid == 1 ? " was not a" : "s were not", f.invalid == 1 ? "" : "s");
    return kst_agg_finish(a);
}

/* ---- options shared by the subcommands ---- */
int kst_parse_by(const char *arg, char ***by, int *nby) { return kf_split_list(arg, by, nby); }

/* ---- statistics output ---- */
enum { OUT_TABLE, OUT_JSON, OUT_CSV };
enum { S_CALLS, S_RATE, S_ERRORS, S_RATIO, S_P50, S_P90, S_P95, S_P99, S_MAX };
static const char *const sort_names[] = { "calls", "rate", "errors", "error_ratio", "p50", "p90", "p95", "p99", "max" };

typedef struct { kst_group *g; double v; } ranked;
static int ranked_cmp(const void *x, const void *y)
{
    const ranked *a = x, *b = y;
    if (a->v != b->v) return a->v > b->v ? -1 : 1;
    return a < b ? -1 : a > b;      /* stable: the aggregator's order (calls, then key) */
}

static double sort_value(kst_group *g, int key)
{
    kst_stats *s = &g->st;
    switch (key) {
    case S_RATE: return kst_stats_rate(s, 0);
    case S_ERRORS: return (double)s->errors;
    case S_RATIO: return kst_stats_error_ratio(s);
    case S_P50: return (double)kst_lat_quantile(&s->lat, 0.50);
    case S_P90: return (double)kst_lat_quantile(&s->lat, 0.90);
    case S_P95: return (double)kst_lat_quantile(&s->lat, 0.95);
    case S_P99: return (double)kst_lat_quantile(&s->lat, 0.99);
    case S_MAX: return s->lat.n ? (double)s->lat.max : -1;
    default: return (double)s->calls;
    }
}

typedef struct {
    int64_t p50, p90, p95, p99, max;
} quants;
static quants get_quants(kst_stats *s)
{
    quants q = { kst_lat_quantile(&s->lat, 0.50), kst_lat_quantile(&s->lat, 0.90),
                 kst_lat_quantile(&s->lat, 0.95), kst_lat_quantile(&s->lat, 0.99), s->lat.n ? s->lat.max : -1 };
    return q;
}

static void json_num(const char *name, int64_t v)
{
    if (v < 0) printf(",\"%s\":null", name);
    else printf(",\"%s\":%lld", name, (long long)v);
}

static void json_double(const char *name, double v)
{
    char b[64];
    snprintf(b, sizeof b, "%.6g", v);
    printf(",\"%s\":%s", name, b);
}

static void print_json_key(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void print_json_row(kst_agg *a, kst_group *g, kst_stats *s, const int64_t *bucket, int64_t window)
{
    char t[64];
    printf("{\"key\":{");
    for (int i = 0; i < kst_agg_nkeys(a); i++) {
        if (i) putchar(',');
        print_json_key(kst_agg_key_name(a, i));
        printf(":%s", g->key[i]);
    }
    putchar('}');
    if (bucket) printf(",\"bucket\":\"%s\"", kf_time_rfc3339(*bucket, t, sizeof t));
    quants q = get_quants(s);
    printf(",\"calls\":%llu", (unsigned long long)s->calls);
    json_double("rate", kst_stats_rate(s, window));
    printf(",\"errors\":%llu", (unsigned long long)s->errors);
    json_double("error_ratio", kst_stats_error_ratio(s));
    printf(",\"client_errors\":%llu,\"unanswered\":%llu,\"nxdomain\":%llu", (unsigned long long)s->client_errors,
           (unsigned long long)s->unanswered, (unsigned long long)s->nxdomain);
    json_num("p50_us", q.p50); json_num("p90_us", q.p90); json_num("p95_us", q.p95);
    json_num("p99_us", q.p99); json_num("max_us", q.max);
    printf(",\"request_bytes\":%llu,\"response_bytes\":%llu", (unsigned long long)s->request_bytes,
           (unsigned long long)s->response_bytes);
    if (s->calls) {
        printf(",\"first\":\"%s\"", kf_time_rfc3339(s->first_ns, t, sizeof t));
        printf(",\"last\":\"%s\"", kf_time_rfc3339(s->last_ns, t, sizeof t));
    } else printf(",\"first\":null,\"last\":null");
    printf("}\n");
}

static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) { fputs(s, stdout); return; }
    putchar('"');
    for (; *s; s++) { if (*s == '"') putchar('"'); putchar(*s); }
    putchar('"');
}

static void csv_num(int64_t v) { if (v >= 0) printf(",%lld", (long long)v); else putchar(','); }

static void print_csv_row(kst_agg *a, kst_group *g, kst_stats *s, const int64_t *bucket, int64_t window)
{
    char t[64];
    for (int i = 0; i < kst_agg_nkeys(a); i++) { if (i) putchar(','); csv_field(g->key_text[i]); }
    if (bucket) printf(",%s", kf_time_rfc3339(*bucket, t, sizeof t));
    quants q = get_quants(s);
    printf(",%llu,%.6g,%llu,%.6g,%llu,%llu,%llu", (unsigned long long)s->calls, kst_stats_rate(s, window),
           (unsigned long long)s->errors, kst_stats_error_ratio(s), (unsigned long long)s->client_errors,
           (unsigned long long)s->unanswered, (unsigned long long)s->nxdomain);
    csv_num(q.p50); csv_num(q.p90); csv_num(q.p95); csv_num(q.p99); csv_num(q.max);
    printf(",%llu,%llu", (unsigned long long)s->request_bytes, (unsigned long long)s->response_bytes);
    if (s->calls) {
        printf(",%s", kf_time_rfc3339(s->first_ns, t, sizeof t));
        printf(",%s\n", kf_time_rfc3339(s->last_ns, t, sizeof t));
    } else printf(",,\n");
}

void kst_human_us(int64_t us, char *b, size_t n)
{
    if (us < 0) { snprintf(b, n, "-"); return; }
    kf_duration_human(us * 1000, b, n);
}

static void human_rate(double r, char *b, size_t n)
{
    if (r >= 100) snprintf(b, n, "%.0f", r);
    else if (r >= 10) snprintf(b, n, "%.1f", r);
    else snprintf(b, n, "%.2f", r);
}

static void table_row(kf_table *t, kst_agg *a, kst_group *g, kst_stats *s, const int64_t *bucket, int64_t window)
{
    char b[96];
    if (bucket) kf_table_cell(t, kf_time_human(*bucket, 0, 0, b, sizeof b));
    for (int i = 0; i < kst_agg_nkeys(a); i++) kf_table_cell(t, g->key_text[i][0] ? g->key_text[i] : "-");
    quants q = get_quants(s);
    kf_table_cellf(t, "%llu", (unsigned long long)s->calls);
    human_rate(kst_stats_rate(s, window), b, sizeof b); kf_table_cell(t, b);
    kf_table_cellf(t, "%llu", (unsigned long long)s->errors);
    double er = kst_stats_error_ratio(s) * 100;
    kf_table_cellf(t, er == 0 ? "0" : er < 0.1 ? "%.2f%%" : "%.1f%%", er);
    kf_table_cellf(t, "%llu", (unsigned long long)s->client_errors);
    kf_table_cellf(t, "%llu", (unsigned long long)s->unanswered);
    kf_table_cellf(t, "%llu", (unsigned long long)s->nxdomain);
    kst_human_us(q.p50, b, sizeof b); kf_table_cell(t, b);
    kst_human_us(q.p90, b, sizeof b); kf_table_cell(t, b);
    kst_human_us(q.p99, b, sizeof b); kf_table_cell(t, b);
    kst_human_us(q.max, b, sizeof b); kf_table_cell(t, b);
}

/* the error classification as a Markdown table (docs/kstat.md holds the same, checked by a test) */
static void print_errors(void)
{
    printf("| protocol | error | client error | endpoint |\n|---|---|---|---|\n");
    for (size_t i = 0; i < kst_nerrclasses(); i++) {
        const kst_errclass *e = kst_errclass_at(i);
        printf("| %s | %s | %s | %s |\n", e->protocol, e->error, *e->client_error ? e->client_error : "-", e->endpoint);
    }
}

static int cmd_stats(int argc, char **argv)
{
    enum { O_JSON = 256, O_CSV, O_TABLE, O_RAW, O_SKIP, O_VERSION, O_ERRORS };
    static const struct option opts[] = {
        { "by", required_argument, 0, 'b' }, { "top", required_argument, 0, 'n' },
        { "sort", required_argument, 0, 's' }, { "every", required_argument, 0, 'e' },
        { "raw-paths", no_argument, 0, O_RAW }, { "json", no_argument, 0, O_JSON },
        { "csv", no_argument, 0, O_CSV }, { "table", no_argument, 0, O_TABLE },
        { "skip-invalid", no_argument, 0, O_SKIP }, { "help", no_argument, 0, 'h' },
        { "version", no_argument, 0, O_VERSION }, { "errors", no_argument, 0, O_ERRORS }, { 0, 0, 0, 0 },
    };
    char **by = NULL; int nby = 0;
    long long top = 0;
    int sort = S_CALLS, out = kf_is_terminal(stdout) ? OUT_TABLE : OUT_JSON, skip = 0, c;
    kst_opts o = { .want_groups = 1 };
    while ((c = kf_getopt(argc, argv, "b:n:s:e:h", opts)) != -1) {
        switch (c) {
        case 'b': if (kst_parse_by(optarg, &by, &nby)) kf_die(KF_EXIT_ERR, "out of memory"); break;
        case 'n': {
            char *e; errno = 0;
            top = strtoll(optarg, &e, 10);
            if (*e || errno || top < 0) kf_usage_die("--top: not a count: '%s'", optarg);
            break;
        }
        case 's': {
            size_t k;
            for (k = 0; k < sizeof sort_names / sizeof *sort_names; k++) if (!strcmp(optarg, sort_names[k])) break;
            if (k == sizeof sort_names / sizeof *sort_names)
                kf_usage_die("--sort: unknown key '%s' (calls, rate, errors, error_ratio, p50, p90, p95, p99, max)", optarg);
            sort = (int)k;
            break;
        }
        case 'e':
            if (kf_duration_parse(optarg, &o.every_ns) || o.every_ns <= 0)
                kf_usage_die("--every: not a duration: '%s' (e.g. 10s, 1m, 1h)", optarg);
            break;
        case O_RAW: o.raw_paths = 1; break;
        case O_JSON: out = OUT_JSON; break;
        case O_CSV: out = OUT_CSV; break;
        case O_TABLE: out = OUT_TABLE; break;
        case O_SKIP: skip = 1; break;
        case 'h': usage(); return kf_finish_stdout(KF_EXIT_OK);
        case O_VERSION: printf("kstat %s\n", KF_VERSION); return kf_finish_stdout(KF_EXIT_OK);
        case O_ERRORS: print_errors(); return kf_finish_stdout(KF_EXIT_OK);
        default: kf_usage_die("unknown option");
        }
    }
    o.by = (const char *const *)by; o.nby = nby;
    char err[512];
    kst_agg *a = kst_agg_new(&o, err, sizeof err);
    if (!a) kf_err("%s", err);
    if (!a || kst_read_inputs(a, argv + optind, argc - optind, skip)) {
        kst_agg_free(a);
        for (int i = 0; i < nby; i++) free(by[i]);
        free(by);
        return KF_EXIT_ERR;
    }

    size_t ng = kst_agg_ngroups(a);
    ranked *rk = calloc(ng ? ng : 1, sizeof *rk);
    if (!rk) kf_die(KF_EXIT_ERR, "out of memory");
    for (size_t i = 0; i < ng; i++) { rk[i].g = kst_agg_group(a, i); rk[i].v = sort_value(rk[i].g, sort); }
    if (sort != S_CALLS) qsort(rk, ng, sizeof *rk, ranked_cmp);
    size_t shown = top > 0 && (size_t)top < ng ? (size_t)top : ng;
    int64_t every = o.every_ns;
    int nk = kst_agg_nkeys(a);

    if (out == OUT_JSON) {
        for (size_t i = 0; i < shown; i++) {
            kst_group *g = rk[i].g;
            if (!every) print_json_row(a, g, &g->st, NULL, 0);
            else for (size_t b = 0; b < g->nbuckets; b++)
                print_json_row(a, g, &g->buckets[b].st, &g->buckets[b].start_ns, every);
        }
    } else if (out == OUT_CSV) {
        for (int i = 0; i < nk; i++) { if (i) putchar(','); csv_field(kst_agg_key_name(a, i)); }
        if (every) printf(",bucket");
        printf(",calls,rate,errors,error_ratio,client_errors,unanswered,nxdomain,p50_us,p90_us,p95_us,p99_us,max_us,"
               "request_bytes,response_bytes,first,last\n");
        for (size_t i = 0; i < shown; i++) {
            kst_group *g = rk[i].g;
            if (!every) print_csv_row(a, g, &g->st, NULL, 0);
            else for (size_t b = 0; b < g->nbuckets; b++)
                print_csv_row(a, g, &g->buckets[b].st, &g->buckets[b].start_ns, every);
        }
    } else {
        kst_stats *tot = kst_agg_total(a);
        char f1[96], f2[96];
        uint64_t lines, counted, skipped;
        kst_agg_counts(a, &lines, &counted, &skipped);
        if (counted) {
            printf("%llu calls in %zu group%s", (unsigned long long)counted, ng, ng == 1 ? "" : "s");
            if (shown < ng) printf(" (the first %zu by %s)", shown, sort_names[sort]);
            printf(", %s to %s\n", kf_time_human(tot->first_ns, 0, 0, f1, sizeof f1),
                   kf_time_human(tot->last_ns, 0, 0, f2, sizeof f2));
        }
        int ncols = (every ? 1 : 0) + nk + 11;
        const char **hdr = calloc((size_t)ncols, sizeof *hdr);
        int *right = calloc((size_t)ncols, sizeof *right);
        if (!hdr || !right) kf_die(KF_EXIT_ERR, "out of memory");
        int k = 0;
        if (every) hdr[k++] = "BUCKET";
        for (int i = 0; i < nk; i++) hdr[k++] = kst_agg_key_name(a, i);
        static const char *const stat_hdr[] = { "CALLS", "RATE/s", "ERRORS", "ERR%", "4XX", "UNANSWERED", "NXDOMAIN",
                                                "P50", "P90", "P99", "MAX" };
        int first_stat = k;
        for (int i = 0; i < 11; i++) { right[k] = 1; hdr[k++] = stat_hdr[i]; }
        kf_table *t = kf_table_new(ncols, hdr, right);
        if (!t) kf_die(KF_EXIT_ERR, "out of memory");
        kf_table_hide_empty(t, first_stat + 4);
        kf_table_hide_empty(t, first_stat + 5);
        kf_table_hide_empty(t, first_stat + 6);
        for (size_t i = 0; i < shown; i++) {
            kst_group *g = rk[i].g;
            if (!every) table_row(t, a, g, &g->st, NULL, 0);
            else for (size_t b = 0; b < g->nbuckets; b++)
                table_row(t, a, g, &g->buckets[b].st, &g->buckets[b].start_ns, every);
        }
        kf_table_print(t, stdout, 60);
        kf_table_free(t);
        free(hdr); free(right);
    }
    uint64_t counted;
    kst_agg_counts(a, NULL, &counted, NULL);
    free(rk);
    kst_agg_free(a);
    for (int i = 0; i < nby; i++) free(by[i]);
    free(by);
    return kf_finish_stdout(counted ? KF_EXIT_OK : KF_EXIT_NONE);
}

int main(int argc, char **argv)
{
    kf_set_prog(argv[0]);
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    if (argc > 1 && !strcmp(argv[1], "map")) return kst_map_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "report")) return kst_report_main(argc - 1, argv + 1);
    return cmd_stats(argc, argv);
}
