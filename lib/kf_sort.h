/* kf_sort.h — items sorted by (ts, seq): kdissect's records on their way to a spilled run. */
#ifndef KF_SORT_H
#define KF_SORT_H
#include <stddef.h>
#include <stdint.h>

/* an item's key (a time, then the order it was made in) beside a pointer to it */
typedef struct kf_tsseq { int64_t ts; uint64_t seq; void *r; } kf_tsseq;

/* a[0..n) in (ts, seq) order; tmp has room for n items (its contents are lost) */
void kf_tsseq_sort(kf_tsseq *a, kf_tsseq *tmp, size_t n);

#endif
