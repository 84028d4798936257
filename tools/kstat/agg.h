/* agg.h — kstat's aggregator, the in-process API that `kstat`, `kstat map` and `kstat report`
 * share (docs/kstat.md; the contract with the report and kmcp: /work/notes/KSTAT-CONTRACT.md).
 *
 *   kst_opts o = { .by = exprs, .nby = n, .every_ns = 60e9, .want_map = 1 };
 *   kst_agg *a = kst_agg_new(&o, err, sizeof err);        // NULL + err: a bad --by expression
 *   for each NDJSON line: kst_agg_add(a, line, len, &why); // counted, skipped, or bad
 *   kst_agg_finish(a);                                     // groups sorted, map built
 *   kst_agg_ngroups(a), kst_agg_group(a, i) ... kst_stats_quantile(&g->st, 0.99) ...
 *   kst_agg_free(a);
 *
 * What is counted ("calls"): every application-layer record (HTTP, HTTP2, GRPC, DNS, REDIS, …),
 * and connection records (`conn`, protocol TCP/UDP) that carried no application protocol or
 * ended in a connection error (refused, reset, timeout): those are calls nobody else counts.
 * Flow records (`flow`: summaries of connections) and connection records whose calls are
 * counted already are skipped. Errors per protocol: kst_errclass_at() (one table, docs/kstat.md).
 * Latencies are `elapsed_time` (µs) of answered calls (unanswered ones are counted apart).
 * Memory: bounded by the number of groups (and buckets), not of records.
 * Nothing here prints or exits. */
#ifndef KSTAT_AGG_H
#define KSTAT_AGG_H
#include <stddef.h>
#include <stdint.h>

/* ---- latency distribution: exact while small, then a mergeable log-bucket sketch ---- */
#define KST_EXACT_MAX 1024          /* values kept exactly per group/bucket before the sketch */
#define KST_SKETCH_ALPHA 0.005      /* the sketch's bucket error; quantiles in whole µs: <= 1% */
typedef struct {
    uint64_t n;                     /* values added */
    int64_t min, max;               /* exact, µs (valid when n > 0) */
    int64_t *exact; uint32_t nexact, capexact;   /* n <= KST_EXACT_MAX: the values themselves */
    uint32_t *bins; int32_t bmin, nbins;          /* sketch: counts of index bmin + i */
    uint64_t zeros;                 /* sketch: values <= 0 */
} kst_lat;
void kst_lat_add(kst_lat *l, int64_t us);
int kst_lat_merge(kst_lat *into, const kst_lat *from);    /* 0, -1 out of memory */
/* q in [0,1]: the nearest-rank quantile (the value at rank ceil(q*n), 1-based, of the sorted
 * values) — exact while n <= KST_EXACT_MAX, else within 1% relative error; -1 when
 * n == 0. Sorts the exact values in place (hence not const). */
int64_t kst_lat_quantile(kst_lat *l, double q);
void kst_lat_free(kst_lat *l);

/* ---- the statistics of one group (or one time bucket of it, or one map edge) ---- */
typedef struct {
    uint64_t calls;
    uint64_t errors;                /* per kst_errclass_at() */
    uint64_t client_errors;         /* HTTP 4xx (also on HTTP2/GRPC records) */
    uint64_t unanswered;            /* no response seen (`unanswered`) */
    uint64_t nxdomain;              /* DNS NXDOMAIN answers (not errors: search paths make many) */
    uint64_t request_bytes, response_bytes;
    int64_t first_ns, last_ns;      /* request timestamps, ns since the epoch */
    kst_lat lat;                    /* elapsed_time of answered calls */
} kst_stats;
/* calls per second over window_ns; window_ns <= 0: the stats' own window (last - first),
 * counted as at least one second */
double kst_stats_rate(const kst_stats *s, int64_t window_ns);
double kst_stats_error_ratio(const kst_stats *s);          /* errors / calls (0 when no calls) */
int kst_stats_merge(kst_stats *into, const kst_stats *from);

/* one time bucket of a group's series */
typedef struct { int64_t start_ns; kst_stats st; } kst_bucket;

/* ---- a group: one value per --by expression ---- */
typedef struct kst_group {
    char **key;                     /* nkeys values, each JSON text ("\"HTTP\"", "200", "null") */
    const char **key_text;          /* the same for people: strings without quotes, null as "" */
    kst_stats st;                   /* over all records */
    kst_bucket *buckets; size_t nbuckets, capbuckets;   /* every_ns > 0: sorted by start_ns */
    uint64_t hash;
} kst_group;

/* ---- the dependency map ---- */
typedef struct {
    char *id;                       /* "ns/owner" workload, else "ns/service", else DNS name, else IP */
    char *label;
    const char *kind;               /* "workload" "service" "dns" "ip" */
    char *ns;                       /* namespace ("" when unknown) */
    uint64_t calls_in, calls_out;
} kst_node;
typedef struct {
    const char *src, *dst;          /* node ids */
    char *protocol;
    kst_stats st;
    uint64_t hash;
} kst_edge;

/* ---- error classification: one row per protocol (docs/kstat.md prints the same table) ---- */
typedef struct {
    const char *protocol;           /* the record's `protocol` */
    const char *error;              /* what counts as an error, in KFL-like words */
    const char *client_error;       /* what counts as a client error ("" none) */
    const char *endpoint;           /* what the endpoint key is made of */
} kst_errclass;
size_t kst_nerrclasses(void);
const kst_errclass *kst_errclass_at(size_t i);

/* ---- options and the aggregator ---- */
typedef struct {
    const char *const *by; int nby; /* --by: KFL expressions or the words src, dst, endpoint
                                       (kstat's derived keys); nby 0: protocol, src, dst, endpoint */
    int raw_paths;                  /* endpoint: no {id} templating */
    int64_t every_ns;               /* > 0: per-group buckets of this width (a time series) */
    int want_groups;                /* keep the --by groups (kstat, report) */
    int want_map;                   /* keep the map's edges (kstat map, report) */
    int64_t now_ns;                 /* now() in expressions; 0: the clock */
} kst_opts;

typedef struct kst_agg kst_agg;

/* Compiles the --by expressions. NULL on error, with one line in err (which expression, what is
 * wrong, e.g. "--by 'statsu': unknown variable 'statsu'; did you mean 'status_code'?"). */
kst_agg *kst_agg_new(const kst_opts *o, char *err, size_t errlen);

enum { KST_COUNTED = 0, KST_SKIPPED = 1, KST_BAD = -1, KST_NOMEM = -2 };
/* Feeds one NDJSON line. KST_COUNTED; KST_SKIPPED (a flow record, or a connection whose calls
 * are counted); KST_BAD with *why ("not a JSON object", "no 'protocol' field", "no valid
 * 'timestamp'"); KST_NOMEM. */
int kst_agg_add(kst_agg *a, const char *line, size_t n, const char **why);

/* After the last record: sorts groups (most calls first, then key) and edges, builds nodes. */
int kst_agg_finish(kst_agg *a);

int kst_agg_nkeys(const kst_agg *a);
const char *kst_agg_key_name(const kst_agg *a, int i);     /* the expression's text ("protocol") */
size_t kst_agg_ngroups(const kst_agg *a);
kst_group *kst_agg_group(const kst_agg *a, size_t i);
int64_t kst_agg_every(const kst_agg *a);
/* totals over everything counted; the records seen / counted / skipped */
kst_stats *kst_agg_total(kst_agg *a);
void kst_agg_counts(const kst_agg *a, uint64_t *lines, uint64_t *counted, uint64_t *skipped);

/* A group's series in buckets of width_ns (a multiple of every_ns; 0: every_ns), merged from
 * the base buckets; *out is malloc'd (free with kst_series_free). Empty buckets between the
 * first and the last are included (calls 0), so a chart has a point per step. */
int kst_group_series(const kst_agg *a, const kst_group *g, int64_t width_ns, kst_bucket **out, size_t *n);
void kst_series_free(kst_bucket *b, size_t n);

/* The map (want_map): nodes and edges after kst_agg_finish; edges sorted by calls (most first).
 * top_edges > 0 keeps that many, *more gets how many were left out; nodes are those the kept
 * edges touch, with calls_in/out over the kept edges. The arrays belong to the aggregator: valid
 * until the next kst_map_nodes call or kst_agg_free. */
size_t kst_map_nodes(const kst_agg *a, size_t top_edges, kst_node ***nodes, size_t *more);
size_t kst_map_edges(const kst_agg *a, size_t top_edges, kst_edge ***edges);

void kst_agg_free(kst_agg *a);

/* Endpoint templating (exposed for tests): numeric, UUID and long hex path segments become
 * {id}; out gets at most outlen-1 bytes. */
size_t kst_template_path(const char *p, size_t n, char *out, size_t outlen);

/* `kstat report`, defined in report*.c (weak fallback in main.c) */
int kst_report_main(int argc, char **argv);
#endif
