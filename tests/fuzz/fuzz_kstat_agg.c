/* Fuzz target: kstat's aggregator (tools/kstat/agg.c, lat.c). Input: --by expressions on the
 * first line (comma-separated, may be empty: the default), then NDJSON lines. Every line goes
 * through kst_agg_add with groups, a map and time buckets; then the results are read (quantiles,
 * series merged at twice the width, map nodes). Checks, besides memory safety: the groups' calls
 * add up to the counted records, and every quantile lies between the group's min and max. */
#include "../../lib/kfl/value.c"
#include "../../lib/kfl/ktime.c"
#include "../../lib/kfl/regex.c"
#include "../../lib/kfl/vars.c"
#include "../../lib/kfl/lex.c"
#include "../../lib/kfl/parse.c"
#include "../../lib/kfl/check.c"
#include "../../lib/kfl/scan.c"
#include "../../lib/kfl/eval.c"
#include "../../tools/kstat/lat.c"
#include "../../tools/kstat/agg.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t elen = nl ? (size_t)(nl - s) : size;
    char first[512];
    if (elen >= sizeof first) return 0;
    memcpy(first, s, elen); first[elen] = 0;
    const char *by[8]; int nby = 0;
    for (char *save = NULL, *t = strtok_r(first, ",", &save); t && nby < 8; t = strtok_r(NULL, ",", &save)) by[nby++] = t;
    kst_opts o = { .by = by, .nby = nby, .want_groups = 1, .want_map = 1, .every_ns = 1000000000LL,
                   .now_ns = 1773509025000000000LL };
    char err[512];
    kst_agg *a = kst_agg_new(&o, err, sizeof err);
    if (!a) return 0;
    size_t off = nl ? elen + 1 : size;
    while (off < size) {
        const char *ls = s + off;
        const char *e = memchr(ls, '\n', size - off);
        size_t len = e ? (size_t)(e - ls) : size - off;
        const char *why;
        if (kst_agg_add(a, ls, len, &why) == KST_NOMEM) break;
        off += len + 1;
    }
    kst_agg_finish(a);
    uint64_t counted, sum = 0;
    kst_agg_counts(a, NULL, &counted, NULL);
    for (size_t i = 0; i < kst_agg_ngroups(a); i++) {
        kst_group *g = kst_agg_group(a, i);
        sum += g->st.calls;
        for (double q = 0; q <= 1.0; q += 0.25) {
            int64_t v = kst_lat_quantile(&g->st.lat, q);
            if (g->st.lat.n && (v < g->st.lat.min || v > g->st.lat.max)) __builtin_trap();
        }
        kst_bucket *b; size_t nb;
        if (kst_group_series(a, g, 2000000000LL, &b, &nb) == 0) kst_series_free(b, nb);
    }
    if (sum != counted) __builtin_trap();
    kst_node **nodes; kst_edge **edges; size_t more;
    kst_map_nodes(a, 3, &nodes, &more);
    size_t ne = kst_map_edges(a, 0, &edges);
    for (size_t i = 0; i < ne; i++) kst_lat_quantile(&edges[i]->st.lat, 0.99);
    kst_agg_free(a);
    return 0;
}
