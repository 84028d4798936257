/* kf_limits — input limits from the environment (see kf_limits.h). */
#include "kf_limits.h"
#include <stdio.h>
#include <stdlib.h>

uint64_t kf_limit(const char *env, uint64_t dflt)
{
    const char *s = env ? getenv(env) : NULL;
    if (!s || !*s) return dflt;
    char *e;
    unsigned long long v = strtoull(s, &e, 10);
    if (e == s) return dflt;
    int sh = 0;
    if (*e == 'k' || *e == 'K') sh = 10;
    else if (*e == 'm' || *e == 'M') sh = 20;
    else if (*e == 'g' || *e == 'G') sh = 30;
    else if (*e) return dflt;
    if (sh && e[1] && !((e[1] == 'i' || e[1] == 'B') )) return dflt;
    if (sh && v > (UINT64_MAX >> sh)) return UINT64_MAX;
    return (uint64_t)v << sh;
}

const char *kf_limit_human(uint64_t v, char *buf, unsigned len)
{
    if (v && !(v & ((1ull << 30) - 1))) snprintf(buf, len, "%llu GiB", (unsigned long long)(v >> 30));
    else if (v && !(v & ((1ull << 20) - 1))) snprintf(buf, len, "%llu MiB", (unsigned long long)(v >> 20));
    else if (v && !(v & 1023)) snprintf(buf, len, "%llu KiB", (unsigned long long)(v >> 10));
    else snprintf(buf, len, "%llu bytes", (unsigned long long)v);
    return buf;
}
