/* vars.c — the variables KFL knows: every field of the record. The table is generated at build
 * time from the field registry, docs/fields.tsv (scripts/fields gen-c -> build/gen/kfl_vars.h,
 * sorted by name for the binary search below); docs/fields.md says how to add a field. A name's
 * path is where it sits in the JSON record ("src.pod.name" is {"src":{"pod":{"name":…}}}); the
 * TCP metrics are also known by their bare names, as Kubeshark's docs write them. */
#include "kfl.h"
#include <string.h>

#include "kfl_vars.h"
const size_t kfl_nvars = sizeof kfl_vars / sizeof kfl_vars[0];

const kfl_var *kfl_var_find(const char *name, size_t n)
{
    size_t lo = 0, hi = kfl_nvars;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *v = kfl_vars[mid].name;
        int r = strncmp(v, name, n);
        if (r == 0) r = v[n] ? 1 : 0;
        if (r == 0) return &kfl_vars[mid];
        if (r < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

/* edit distance, for "did you mean" */
static size_t vr_dist(const char *a, size_t an, const char *b, size_t bn)
{
    size_t row[64], i, j;
    if (an >= 63 || bn >= 63) return 99;
    for (j = 0; j <= bn; j++) row[j] = j;
    for (i = 1; i <= an; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (j = 1; j <= bn; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[bn];
}

const char *kfl_var_suggest(const char *name, size_t n)
{
    const char *best = NULL;
    size_t bd = n < 4 ? 1 : n < 8 ? 2 : 3;
    for (size_t i = 0; i < kfl_nvars; i++) {
        size_t d = vr_dist(name, n, kfl_vars[i].name, strlen(kfl_vars[i].name));
        if (d <= bd && (!best || d < bd)) { best = kfl_vars[i].name; bd = d; }
    }
    return best;
}
