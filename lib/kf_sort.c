/* kf_sort.c — items sorted by (ts, seq) (see kf_sort.h). */
#include <string.h>
#include "kf_sort.h"

/* One stable pass of an LSD radix sort, 11 bits of the key at shift (ts less the batch's
 * smallest, or seq) from src into dst. */
#define SORT_BITS 11
static void radix_pass(const kf_tsseq *src, kf_tsseq *dst, size_t n, int by_seq, uint64_t base, int shift)
{
    size_t cnt[1u << SORT_BITS] = { 0 };
    const uint64_t mask = (1u << SORT_BITS) - 1;
#define SORT_DIGIT(x) ((((by_seq ? (x).seq : (uint64_t)(x).ts - base)) >> shift) & mask)
    for (size_t i = 0; i < n; i++) cnt[SORT_DIGIT(src[i])]++;
    size_t sum = 0;
    for (size_t d = 0; d <= mask; d++) { size_t c = cnt[d]; cnt[d] = sum; sum += c; }
    for (size_t i = 0; i < n; i++) dst[cnt[SORT_DIGIT(src[i])]++] = src[i];
#undef SORT_DIGIT
}
/* Records sorted by ts that share one: by seq, by insertion, where no more than SORT_TIES share
 * one (a handful do: a packet's records, a microsecond's). 1, or 0 where more do (not sorted). */
#define SORT_TIES 32
static int ties_by_seq(kf_tsseq *a, size_t n)
{
    for (size_t i = 1, run = 1; i < n; i++) {
        if (a[i].ts != a[i - 1].ts) { run = 1; continue; }
        if (++run > SORT_TIES) return 0;
        kf_tsseq x = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1].ts == x.ts && a[j - 1].seq > x.seq; j--) a[j] = a[j - 1];
        a[j] = x;
    }
    return 1;
}
/* An LSD radix sort on ts less the smallest, 11 bits a pass and only as many passes as the range
 * of ts needs (3 for the up to 8.6 s, in ns, that a spill of bench/data/api-one.pcap spans, its
 * oldest being the conn records of connections open since the start). Items that share a ts are
 * then put in seq order by insertion; where more than SORT_TIES share one, the whole sort again,
 * seq first: still a bounded number of passes, however many share one ts (a capture whose
 * timestamps are all the same). Hand-written for the benchmark: qsort was about 470
 * instructions a record (14 comparisons through a pointer, 24-byte elements moved by memcpy) and
 * 2.8 % of kdissect's on bench/data/api-one.pcap, where nearly every record is spilled; this is
 * about 100. */
void kf_tsseq_sort(kf_tsseq *a, kf_tsseq *tmp, size_t n)
{
    if (n < 2) return;
    int64_t lo = a[0].ts, hi = a[0].ts;
    uint64_t smax = a[0].seq;
    for (size_t i = 1; i < n; i++) {
        if (a[i].ts < lo) lo = a[i].ts;
        if (a[i].ts > hi) hi = a[i].ts;
        if (a[i].seq > smax) smax = a[i].seq;
    }
    uint64_t base = (uint64_t)lo, range = (uint64_t)hi - base;
    for (int by_seq = 0; by_seq < 2; by_seq++) {
        kf_tsseq *src = a, *dst = tmp;
        if (by_seq)   /* seq first, then ts: stable, so equal ts keep the seq order */
            for (int sh = 0; sh < 64 && (smax >> sh); sh += SORT_BITS) {
                radix_pass(src, dst, n, 1, 0, sh);
                kf_tsseq *t = src; src = dst; dst = t;
            }
        for (int sh = 0; sh < 64 && (range >> sh); sh += SORT_BITS) {
            radix_pass(src, dst, n, 0, base, sh);
            kf_tsseq *t = src; src = dst; dst = t;
        }
        if (src != a) memcpy(a, src, n * sizeof *a);
        if (by_seq || ties_by_seq(a, n)) return;
    }
}
