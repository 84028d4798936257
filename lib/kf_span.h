/* kf_span — the time an input covers, so that a window given relative to "now" (--from -10m)
 * means the same on frozen data as it did when the data was live (docs/time.md):
 * - a snapshot's "now" is its window's end (when it was frozen), its range its packets';
 * - a plain capture file's "now" is its last packet;
 * - a capture store folder is live: "now" is the wall clock;
 * - standard input cannot be read twice: its span is unknown.
 * With several inputs, "now" is the latest of them (the wall clock as soon as one is live). */
#ifndef KF_SPAN_H
#define KF_SPAN_H
#include <stdint.h>
#include <stddef.h>

typedef struct kf_span {
    int64_t now;        /* what "now" means for these inputs */
    int64_t first, last;/* first and last packet (first > last: none, or unknown) */
    int live;           /* a store is among them */
    int known;          /* 0: standard input among them, now/first/last not known */
} kf_span;

/* Fills *sp. Plain files (and, with want_range, stores) are read once to find their packets'
 * times; snapshots need only their manifest. -1 with "file: what" in err. */
int kf_span_of(const char *const *inputs, size_t n, int want_range, kf_span *sp, char *err, size_t errlen);
/* 1 when the time argument s depends on "now" (now, -15m, 2h ago, a time of day). */
int kf_time_is_relative(const char *s);
#endif
