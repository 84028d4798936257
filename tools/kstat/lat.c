/* lat.c — latency distributions: exact values while a group is small (KST_EXACT_MAX), then a
 * DDSketch-style log-bucket sketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable
 * quantile sketch with relative-error guarantees", VLDB 2019).
 * Hand-written: the sketch is ~80 lines, and the libraries that implement it (DataDog's
 * sketches-go/-java/-py, HdrHistogram_c) are not C-packaged in Debian, or (HdrHistogram) need a
 * fixed value range and significant-digit setting chosen up front where this needs none.
 * A value v > 0 goes to bucket i = ceil(log_gamma(v)) with gamma = (1+a)/(1-a); every value in
 * (gamma^(i-1), gamma^i] is then within relative error a of 2*gamma^i/(gamma+1), the estimate a
 * quantile returns. Buckets are counts in one dense array spanning the indexes seen (values are
 * µs: 1 µs .. 1 day is ~2300 buckets at a = 0.5%), so two sketches merge by adding counts.
 * a is 0.5% so that the estimate, rounded to a whole µs, stays within 1% of the true value
 * (|round(e) - v| <= min(2av, av + 0.5) for an integer v). */
#include "agg.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double lat_lg;     /* log(gamma), computed once */

static double lat_loggamma(void)
{
    if (lat_lg == 0) lat_lg = log((1 + KST_SKETCH_ALPHA) / (1 - KST_SKETCH_ALPHA));
    return lat_lg;
}

static int32_t lat_index(int64_t v) { return (int32_t)ceil(log((double)v) / lat_loggamma()); }

/* makes room for index i in the dense array; 0 or -1 */
static int lat_reach(kst_lat *l, int32_t i)
{
    if (l->bins && i >= l->bmin && i < l->bmin + l->nbins) return 0;
    int32_t lo = l->bins ? (i < l->bmin ? i : l->bmin) : i;
    int32_t hi = l->bins ? (i >= l->bmin + l->nbins ? i + 1 : l->bmin + l->nbins) : i + 1;
    /* grow by a margin so a run of rising values does not reallocate each time */
    if (l->bins) { if (lo < l->bmin) lo -= 16; else hi += 16; }
    uint32_t *nb = calloc((size_t)(hi - lo), sizeof *nb);
    if (!nb) return -1;
    if (l->bins) memcpy(nb + (l->bmin - lo), l->bins, (size_t)l->nbins * sizeof *nb);
    free(l->bins);
    l->bins = nb; l->bmin = lo; l->nbins = hi - lo;
    return 0;
}

static int lat_sketch_add(kst_lat *l, int64_t v, uint64_t count)
{
    if (v <= 0) { l->zeros += count; return 0; }
    int32_t i = lat_index(v);
    if (lat_reach(l, i)) return -1;
    l->bins[i - l->bmin] += (uint32_t)count;
    return 0;
}

/* exact → sketch, once the values no longer fit */
static int lat_to_sketch(kst_lat *l)
{
    for (uint32_t k = 0; k < l->nexact; k++)
        if (lat_sketch_add(l, l->exact[k], 1)) return -1;
    free(l->exact);
    l->exact = NULL; l->nexact = l->capexact = 0;
    return 0;
}

static int lat_is_exact(const kst_lat *l) { return l->n <= KST_EXACT_MAX && !l->bins && !l->zeros; }

void kst_lat_add(kst_lat *l, int64_t us)
{
    if (l->n == 0 || us < l->min) l->min = us;
    if (l->n == 0 || us > l->max) l->max = us;
    if (lat_is_exact(l) && l->n < KST_EXACT_MAX) {
        if (l->nexact == l->capexact) {
            uint32_t cap = l->capexact ? l->capexact * 2 : 8;
            if (cap > KST_EXACT_MAX) cap = KST_EXACT_MAX;
            int64_t *ne = realloc(l->exact, cap * sizeof *ne);
            if (!ne) goto sketch;
            l->exact = ne; l->capexact = cap;
        }
        l->exact[l->nexact++] = us;
        l->n++;
        return;
    }
sketch:
    if (l->exact && lat_to_sketch(l)) { l->n++; return; }   /* out of memory: the count stays right */
    lat_sketch_add(l, us, 1);
    l->n++;
}

int kst_lat_merge(kst_lat *into, const kst_lat *from)
{
    if (from->n == 0) return 0;
    if (into->n == 0 || from->min < into->min) into->min = from->min;
    if (into->n == 0 || from->max > into->max) into->max = from->max;
    if (lat_is_exact(into) && lat_is_exact(from) && into->n + from->n <= KST_EXACT_MAX) {
        if (into->capexact < into->nexact + from->nexact) {
            uint32_t cap = into->nexact + from->nexact;
            int64_t *ne = realloc(into->exact, cap * sizeof *ne);
            if (!ne) return -1;
            into->exact = ne; into->capexact = cap;
        }
        memcpy(into->exact + into->nexact, from->exact, from->nexact * sizeof *from->exact);
        into->nexact += from->nexact;
        into->n += from->n;
        return 0;
    }
    if (into->exact && lat_to_sketch(into)) return -1;
    for (uint32_t k = 0; k < from->nexact; k++)
        if (lat_sketch_add(into, from->exact[k], 1)) return -1;
    into->zeros += from->zeros;
    for (int32_t k = 0; k < from->nbins; k++) {
        if (!from->bins[k]) continue;
        int32_t i = from->bmin + k;
        if (lat_reach(into, i)) return -1;
        into->bins[i - into->bmin] += from->bins[k];
    }
    into->n += from->n;
    return 0;
}

static int lat_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t kst_lat_quantile(kst_lat *l, double q)
{
    if (l->n == 0) return -1;
    if (q <= 0) return l->min;
    if (q >= 1) return l->max;
    uint64_t rank = (uint64_t)ceil(q * (double)l->n - 1e-9);   /* 1-based nearest rank */
    if (rank < 1) rank = 1;
    if (rank > l->n) rank = l->n;
    if (l->exact && l->nexact == l->n) {
        qsort(l->exact, l->nexact, sizeof *l->exact, lat_cmp);
        return l->exact[rank - 1];
    }
    uint64_t seen = l->zeros;
    if (rank <= seen) return l->min < 0 ? l->min : 0;
    for (int32_t k = 0; k < l->nbins; k++) {
        seen += l->bins[k];
        if (seen >= rank) {
            double g = exp(lat_loggamma());
            double est = 2.0 * exp((double)(l->bmin + k) * lat_loggamma()) / (g + 1.0);
            int64_t v = (int64_t)llround(est);
            if (v < l->min) v = l->min;
            if (v > l->max) v = l->max;
            return v;
        }
    }
    return l->max;
}

void kst_lat_free(kst_lat *l)
{
    free(l->exact);
    free(l->bins);
    memset(l, 0, sizeof *l);
}
