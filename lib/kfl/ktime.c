/* ktime.c — timestamps and durations for KFL. Hand-written (small): RFC 3339 → ns since the
 * epoch, and CEL's duration syntax (a sequence of decimal numbers with units h m s ms us ns),
 * which differs from lib/kf_time's argument syntax (no days, no bare numbers). */
#include "kfl.h"
#include "kf_time.h"
#include <stdio.h>
#include <string.h>

static int64_t tm_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void tm_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int tm_digits(const char *s, size_t n, size_t at, int count, int *out)
{
    int v = 0;
    if (at + (size_t)count > n) return -1;
    for (int i = 0; i < count; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

int kfl_ts_parse(const char *s, size_t n, int64_t *ns)
{
    int Y, M, D, h, mi, sec;
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (tm_digits(s, n, 0, 4, &Y) || n < 19 || s[4] != '-' || tm_digits(s, n, 5, 2, &M) || s[7] != '-' ||
        tm_digits(s, n, 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        tm_digits(s, n, 11, 2, &h) || s[13] != ':' || tm_digits(s, n, 14, 2, &mi) || s[16] != ':' ||
        tm_digits(s, n, 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 60) return -1;
    if (M == 2 && D == 29 && !(Y % 4 == 0 && (Y % 100 != 0 || Y % 400 == 0))) return -1;
    if (sec == 60) sec = 59;                 /* leap second: as CEL does, clamp */
    size_t i = 19;
    int64_t frac = 0;
    if (i < n && s[i] == '.') {
        int nd = 0;
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (nd < 9) { frac = frac * 10 + (s[i] - '0'); nd++; }
            i++;
        }
        if (nd == 0) return -1;
        while (nd++ < 9) frac *= 10;
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) i++;
    else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (tm_digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' || tm_digits(s, n, i + 4, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        off = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else return -1;
    if (i != n) return -1;
    int64_t days = tm_days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - off;
    /* int64 ns covers 1677..2262; outside that range the value would wrap: refuse it */
    int64_t t;
    if (secs < 0 && frac > 0) { secs++; frac -= 1000000000LL; }   /* keep the product in range */
    if (__builtin_mul_overflow(secs, 1000000000LL, &t) || __builtin_add_overflow(t, frac, &t)) return -1;
    *ns = t;
    return 0;
}

void kfl_ts_format(int64_t ns, char *buf, size_t len)
{
    int64_t secs = ns / 1000000000LL, frac = ns % 1000000000LL;
    if (frac < 0) { frac += 1000000000LL; secs--; }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) { rem += 86400; days--; }
    int64_t y; unsigned m, d;
    tm_civil_from_days(days, &y, &m, &d);
    int o = snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d", (long long)y, m, d,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    if (o < 0 || (size_t)o >= len) return;
    if (frac) {
        char f[16]; snprintf(f, sizeof f, "%09lld", (long long)frac);
        for (int k = 8; k > 0 && f[k] == '0'; k--) f[k] = 0;
        o += snprintf(buf + o, len - o, ".%s", f);
    }
    if ((size_t)o < len) snprintf(buf + o, len - o, "Z");
}

int kfl_dur_parse(const char *s, size_t n, int64_t *ns)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) { neg = s[i] == '-'; i++; }
    if (i == n) return -1;
    if (n - i == 1 && s[i] == '0') { *ns = 0; return 0; }
    /* total in ns, with overflow checks; fractions kept to the ns */
    __int128 total = 0;
    while (i < n) {
        uint64_t whole = 0; int64_t fracnum = 0, fracden = 1; int any = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (whole > 1000000000000000000ULL) return -1;
            whole = whole * 10 + (uint64_t)(s[i] - '0'); i++; any = 1;
        }
        if (i < n && s[i] == '.') {
            i++;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (fracden < 1000000000000000000LL) { fracnum = fracnum * 10 + (s[i] - '0'); fracden *= 10; }
                i++; any = 1;
            }
        }
        if (!any) return -1;
        int64_t unit;
        if (i + 1 < n && s[i] == 'm' && s[i + 1] == 's') { unit = 1000000LL; i += 2; }
        else if (i + 1 < n && s[i] == 'u' && s[i + 1] == 's') { unit = 1000LL; i += 2; }
        else if (i + 2 < n && (unsigned char)s[i] == 0xc2 && (unsigned char)s[i + 1] == 0xb5 && s[i + 2] == 's') { unit = 1000LL; i += 3; }
        else if (i + 1 < n && s[i] == 'n' && s[i + 1] == 's') { unit = 1LL; i += 2; }
        else if (i < n && s[i] == 'h') { unit = 3600000000000LL; i++; }
        else if (i < n && s[i] == 'm') { unit = 60000000000LL; i++; }
        else if (i < n && s[i] == 's') { unit = 1000000000LL; i++; }
        else return -1;
        total += (__int128)whole * unit + (__int128)fracnum * unit / fracden;
        if (total > (__int128)INT64_MAX) return -1;
    }
    *ns = (int64_t)(neg ? -total : total);
    return 0;
}

void kfl_dur_format(int64_t ns, char *buf, size_t len)
{
    /* CEL prints durations as seconds: "300s", "1.5s" */
    uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    uint64_t s = a / 1000000000ULL, f = a % 1000000000ULL;
    if (!f) { snprintf(buf, len, "%s%llus", ns < 0 ? "-" : "", (unsigned long long)s); return; }
    char fs[16]; snprintf(fs, sizeof fs, "%09llu", (unsigned long long)f);
    for (int k = 8; k > 0 && fs[k] == '0'; k--) fs[k] = 0;
    snprintf(buf, len, "%s%llu.%ss", ns < 0 ? "-" : "", (unsigned long long)s, fs);
}

/* timestamp("…") beyond RFC 3339: every time form docs/time.md lists (local time without a zone,
 * "… UTC", epoch numbers, pasted human output, relative to now), through lib/kf_time, with
 * now_ns as "now". */
int kfl_ts_parse_any(const char *s, size_t n, int64_t now_ns, int64_t *ns)
{
    if (kfl_ts_parse(s, n, ns) == 0) return 0;
    char buf[160], err[256];
    if (n >= sizeof buf || memchr(s, 0, n)) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return kf_time_parse(buf, now_ns, ns, err, sizeof err) == 0 ? 0 : -1;
}
