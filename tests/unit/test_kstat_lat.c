/* kstat's latency distribution (tools/kstat/lat.c): exact nearest-rank percentiles while small,
 * the sketch within 1% on a million synthetic latencies (log-normal, uniform, heavy-tailed),
 * and merging equals adding (endpoint templating: tests/bats/kstat.bats). */
#include "t.h"
#include "../../tools/kstat/lat.c"
#include <math.h>

static uint64_t rng = 88172645463325252ULL;
static uint64_t xs(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static double unif(void) { return (double)(xs() >> 11) / 9007199254740992.0; }

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t truth(const int64_t *sorted, size_t n, double q)
{
    size_t r = (size_t)ceil(q * (double)n - 1e-9);
    if (r < 1) r = 1;
    return sorted[r - 1];
}

static const double qs[] = { 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999 };

static void check_million(const char *what, int64_t (*gen)(void))
{
    size_t n = 1000000;
    int64_t *v = malloc(n * sizeof *v);
    kst_lat l = { 0 };
    for (size_t i = 0; i < n; i++) { v[i] = gen(); kst_lat_add(&l, v[i]); }
    qsort(v, n, sizeof *v, cmp64);
    double worst = 0;
    for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
        int64_t t = truth(v, n, qs[k]), e = kst_lat_quantile(&l, qs[k]);
        double err = t ? fabs((double)e - (double)t) / (double)t : (double)(e != 0);
        if (err > worst) worst = err;
    }
    T_OK(worst <= 0.01, "%s: a million values, every quantile within 1%% (worst %.4f%%)", what, worst * 100);
    T_EQ_INT(kst_lat_quantile(&l, 1.0), v[n - 1], "%s: max exact", what);
    T_OK(l.exact == NULL && l.nbins > 0 && l.nbins < 20000, "%s: a sketch of %d buckets, not the values", what, l.nbins);
    kst_lat_free(&l);
    free(v);
}

static int64_t g_lognormal(void)
{
    double u1 = unif(), u2 = unif();
    double z = sqrt(-2 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
    return (int64_t)exp(6.5 + 1.2 * z) + 1;       /* median ~665 µs */
}
static int64_t g_uniform(void) { return (int64_t)(unif() * 5000000); }
static int64_t g_pareto(void) { return (int64_t)(50.0 / pow(unif() + 1e-12, 1.0 / 1.1)); }   /* heavy tail */

int main(void)
{
    /* exact mode: nearest rank */
    kst_lat l = { 0 };
    T_EQ_INT(kst_lat_quantile(&l, 0.5), -1, "no values: -1");
    int64_t vals[] = { 50, 10, 40, 20, 30 };
    for (int i = 0; i < 5; i++) kst_lat_add(&l, vals[i]);
    T_EQ_INT(kst_lat_quantile(&l, 0.5), 30, "p50 of 10..50 is the 3rd value");
    T_EQ_INT(kst_lat_quantile(&l, 0.9), 50, "p90 of five values is the 5th (ceil(4.5))");
    T_EQ_INT(kst_lat_quantile(&l, 0.2), 10, "p20 of five values is the 1st");
    T_EQ_INT(kst_lat_quantile(&l, 0.21), 20, "p21 of five values is the 2nd");
    T_OK(l.exact != NULL && l.bins == NULL, "five values stay exact");
    kst_lat_free(&l);

    /* exactly KST_EXACT_MAX values stay exact; one more becomes a sketch */
    for (int i = 1; i <= KST_EXACT_MAX; i++) kst_lat_add(&l, i);
    T_EQ_INT(kst_lat_quantile(&l, 0.99), (int64_t)ceil(0.99 * KST_EXACT_MAX), "p99 of 1..%d exact", KST_EXACT_MAX);
    T_OK(l.bins == NULL, "%d values: still exact", KST_EXACT_MAX);
    kst_lat_add(&l, 0);
    T_OK(l.exact == NULL && l.bins != NULL && l.zeros == 1, "one more: a sketch (zero counted apart)");
    T_EQ_INT(kst_lat_quantile(&l, 0.0), 0, "min exact after the switch");
    kst_lat_free(&l);

    check_million("log-normal", g_lognormal);
    check_million("uniform 0-5s", g_uniform);
    check_million("pareto", g_pareto);

    /* merging: two halves merged give what one distribution of all gives */
    kst_lat a = { 0 }, b = { 0 }, all = { 0 };
    for (int i = 0; i < 200000; i++) {
        int64_t v = g_lognormal();
        kst_lat_add(i % 2 ? &a : &b, v);
        kst_lat_add(&all, v);
    }
    T_OK(kst_lat_merge(&a, &b) == 0, "merge");
    int same = a.n == all.n && a.min == all.min && a.max == all.max;
    for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) same &= kst_lat_quantile(&a, qs[k]) == kst_lat_quantile(&all, qs[k]);
    T_OK(same, "merged halves answer every quantile as the whole");
    kst_lat_free(&a); kst_lat_free(&b); kst_lat_free(&all);

    /* merging small exact ones stays exact */
    kst_lat c = { 0 }, d = { 0 };
    kst_lat_add(&c, 5); kst_lat_add(&d, 7); kst_lat_add(&d, 1);
    kst_lat_merge(&c, &d);
    T_OK(c.exact && c.nexact == 3 && kst_lat_quantile(&c, 0.5) == 5, "small merges stay exact");
    kst_lat_free(&c); kst_lat_free(&d);
    T_DONE();
}
