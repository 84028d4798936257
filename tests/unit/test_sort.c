/* Unit tests for lib/kf_sort: kf_tsseq_sort against libc's qsort with the same (ts, seq) order,
 * on shapes that take each of its paths: distinct times (radix passes only), a few items per
 * time in any seq order (insertion), many per time (the seq-first sort), one time for all, the
 * whole int64 range of times (every pass), a heap's array (what kdissect's spill sorts), 0-2 items. */
#include "t.h"
#include "kf_sort.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static int cmp(const void *a, const void *b)
{
    const kf_tsseq *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* sorts a copy both ways; every item (its pointer too) must be where qsort put it */
static void check(const kf_tsseq *in, size_t n, const char *what)
{
    kf_tsseq *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b), *tmp = malloc((n + 1) * sizeof *tmp);
    memcpy(a, in, n * sizeof *a); memcpy(b, in, n * sizeof *b);
    kf_tsseq_sort(a, tmp, n);
    qsort(b, n, sizeof *b, cmp);
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if (a[i].ts != b[i].ts || a[i].seq != b[i].seq || a[i].r != b[i].r) bad = i;
    T_OK(bad == n, "%s: %zu items in qsort's order", what, n);
    if (bad != n) printf("#   first difference at %zu: ts %lld seq %llu, want ts %lld seq %llu\n", bad,
                         (long long)a[bad].ts, (unsigned long long)a[bad].seq, (long long)b[bad].ts, (unsigned long long)b[bad].seq);
    free(a); free(b); free(tmp);
}

/* n items: ts from tsf, seq a permutation of 0..n-1 plus off (each item's own), r its index */
static kf_tsseq *make(size_t n, int64_t (*tsf)(size_t), uint64_t off)
{
    kf_tsseq *v = malloc((n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (kf_tsseq){ tsf(i), off + i, (void *)(uintptr_t)(i + 1) };
    for (size_t i = n; i > 1; i--) { size_t j = rnd() % i; uint64_t t = v[i - 1].seq; v[i - 1].seq = v[j].seq; v[j].seq = t; }
    return v;
}
static int64_t ts_distinct(size_t i) { (void)i; return 1700000000000000000LL + (int64_t)(rnd() % 8000000000ull); }
static int64_t ts_few(size_t i) { return 1700000000000000000LL + (int64_t)(i / 3) * 1000 + (int64_t)(rnd() % 2) * 7000; }
static int64_t ts_many(size_t i) { (void)i; return -5000 + (int64_t)(rnd() % 4) * 1000; }
static int64_t ts_one(size_t i) { (void)i; return 42; }
static int64_t ts_wide(size_t i)
{
    static const int64_t edge[] = { INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX };
    return i % 3 ? (int64_t)rnd() : edge[rnd() % 7];
}

int main(void)
{
    static const size_t sizes[] = { 0, 1, 2, 3, 33, 1000, 30000 };
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        kf_tsseq *v;
        v = make(n, ts_distinct, 0); check(v, n, "distinct times over 8 s"); free(v);
        v = make(n, ts_few, 7); check(v, n, "about 3 items a time, seq in any order"); free(v);
        v = make(n, ts_many, 1ull << 40); check(v, n, "4 times, negative, seq past 2^40"); free(v);
        v = make(n, ts_one, UINT64_MAX - 40000); check(v, n, "one time for all, seq near 2^64"); free(v);
        v = make(n, ts_wide, 0); check(v, n, "times over the whole int64 range"); free(v);
    }
    /* a binary min-heap's array, filled in seq order with times going back now and then (conn
     * records made late, stamped early): equal times end up out of seq order in the array */
    size_t n = 20000, hn = 0;
    kf_tsseq *h = malloc(n * sizeof *h);
    for (size_t s = 0; s < n; s++) {
        int64_t ts = s % 50 == 0 ? (int64_t)(s / 4 - rnd() % 2000) : (int64_t)(s / 4);
        kf_tsseq x = { ts, s, (void *)(uintptr_t)(s + 1) };
        size_t i = hn++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!(cmp(&x, &h[p]) < 0)) break;
            h[i] = h[p]; i = p;
        }
        h[i] = x;
    }
    size_t disorder = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n && j < i + 64; j++)
            if (h[j].ts == h[i].ts && h[j].seq < h[i].seq) disorder++;
    T_OK(disorder > 0, "the heap's array has equal times out of seq order (%zu pairs)", disorder);
    check(h, n, "a heap's array");
    free(h);
    T_DONE();
}
