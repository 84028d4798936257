/* kf_grow.h — the one growth rule for the project's arrays: double the capacity (from 8) until
 * `need` elements fit, so appending n elements costs O(n) copies, not O(n^2). */
#ifndef KF_GROW_H
#define KF_GROW_H
#include <stdlib.h>
#include <stdint.h>

/* p: the array (NULL at first), *cap: its capacity in elements. Returns the array holding at
 * least `need` elements (p itself when it already does), *cap updated; NULL when out of memory
 * or the size would overflow (p and *cap untouched then, still valid). */
static inline void *kf_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return p;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2) return NULL;
        n *= 2;
    }
    if (elem && n > SIZE_MAX / elem) return NULL;
    void *q = realloc(p, n * elem);
    if (!q) return NULL;
    *cap = n;
    return q;
}
#endif
