/* kf_time — parsing time arguments, durations and sizes; formatting times (see kf_time.h and
 * docs/time.md). Calendar arithmetic is done here (days from civil date and back) so that UTC
 * conversions need no libc zone state; local time goes through localtime_r/mktime, which follow
 * TZ. Hand-written because no C library parses this mix of absolute, epoch and relative forms. */
#include "kf_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS KF_NS_PER_SEC

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* floor division and modulo for possibly negative values */
static int64_t fdiv(int64_t a, int64_t b) { int64_t q = a / b; if ((a % b) && ((a < 0) != (b < 0))) q--; return q; }

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic: 400-year cycles). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = fdiv(y, 400);
    int64_t yoe = y - era * 400;                                   /* 0..399 */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = fdiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
static int days_in_month(int64_t y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

int64_t kf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* ---------- output ---------- */

/* Splits ns into UTC calendar parts. */
typedef struct { int64_t y; int mo, d, h, mi, s; int64_t frac; } civil;
static void ns_to_civil(int64_t ns, civil *c)
{
    int64_t sec = fdiv(ns, NS);
    c->frac = ns % NS;
    if (c->frac < 0) c->frac += NS;
    int64_t days = fdiv(sec, 86400), sod = sec - days * 86400;
    civil_from_days(days, &c->y, &c->mo, &c->d);
    c->h = (int)(sod / 3600);
    c->mi = (int)(sod / 60 % 60);
    c->s = (int)(sod % 60);
}

const char kf_digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
/* v (0..99) as two digits, from the table of pairs (a division and a remainder by 10 for each
 * digit of the fraction were 0.5 % of kdissect's instructions on bench/data/api-one.pcap, two
 * new times a record) */
static char *put2(char *p, int v) { memcpy(p, kf_digits2 + 2 * v, 2); return p + 2; }

size_t kf_time_rfc3339_put(int64_t ns, char *out)
{
    /* formatted by hand: this runs about six times per NDJSON record (kdissect), and the
     * "YYYY-MM-DDTHH:MM:SS." part is kept from the previous call of this thread when the second
     * is the same (the calendar arithmetic was a third of this function's cost on
     * bench/data/api-one.pcap, the time of day most of the rest) */
    static __thread int64_t last_sec = INT64_MIN, last_day = INT64_MIN;
    static __thread char last_pre[20];
    int64_t sec = fdiv(ns, NS), frac = ns % NS;
    if (frac < 0) frac += NS;
    if (sec != last_sec) {
        int64_t days = fdiv(sec, 86400), sod = sec - days * 86400;
        char *q = last_pre;
        if (days != last_day) {
            int64_t y64; int mo, d;
            civil_from_days(days, &y64, &mo, &d);
            int y = (int)y64;   /* 1677..2262 for any int64 ns */
            q = put2(q, y / 100); q = put2(q, y % 100); *q++ = '-';
            q = put2(q, mo); *q++ = '-'; q = put2(q, d); *q++ = 'T';
            last_day = days;
        }
        q = last_pre + 11;
        q = put2(q, (int)(sod / 3600)); *q++ = ':'; q = put2(q, (int)(sod / 60 % 60)); *q++ = ':';
        q = put2(q, (int)(sod % 60)); *q++ = '.';
        last_sec = sec;
    }
    memcpy(out, last_pre, 20);
    uint32_t f = (uint32_t)frac, hi = f / 100000, lo = f % 100000;   /* 4 + 5 digits */
    char *p = out + 20;
    p = put2(p, (int)(hi / 100)); p = put2(p, (int)(hi % 100));
    *p++ = (char)('0' + lo / 10000); p = put2(p, (int)(lo / 100 % 100)); p = put2(p, (int)(lo % 100));
    *p++ = 'Z';
    return 30;
}

char *kf_time_rfc3339(int64_t ns, char *buf, size_t len)
{
    char t[32];
    size_t n = kf_time_rfc3339_put(ns, t);
    if (len) {
        if (n > len - 1) n = len - 1;
        memcpy(buf, t, n);
        buf[n] = '\0';
    }
    return buf;
}

static void frac_str(int64_t frac, int digits, char *out, size_t outlen)
{
    if (digits <= 0) { out[0] = '\0'; return; }
    if (digits > 9) digits = 9;
    char b[16];
    snprintf(b, sizeof b, "%09lld", (long long)frac);
    snprintf(out, outlen, ".%.*s", digits, b);
}

char *kf_time_human(int64_t ns, int utc_only, int frac_digits, char *buf, size_t len)
{
    civil u;
    char fr[16];
    ns_to_civil(ns, &u);
    frac_str(u.frac, frac_digits, fr, sizeof fr);
    if (!utc_only) {
        time_t t = (time_t)fdiv(ns, NS);
        struct tm lt;
        if (localtime_r(&t, &lt) && !(lt.tm_gmtoff == 0 && lt.tm_zone && strcmp(lt.tm_zone, "UTC") == 0)) {
            const char *zone = lt.tm_zone ? lt.tm_zone : "";
            char zbuf[32];
            if (!*zone) {
                long off = lt.tm_gmtoff;
                snprintf(zbuf, sizeof zbuf, "%c%02ld%02ld", off < 0 ? '-' : '+', labs(off) / 3600, labs(off) / 60 % 60);
                zone = zbuf;
            }
            int same_day = lt.tm_year + 1900 == u.y && lt.tm_mon + 1 == u.mo && lt.tm_mday == u.d;
            if (same_day)
                snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d%s %s (%02d:%02d:%02d%s UTC)",
                         lt.tm_year + 1900, lt.tm_mon + 1, lt.tm_mday, lt.tm_hour, lt.tm_min, lt.tm_sec,
                         fr, zone, u.h, u.mi, u.s, fr);
            else
                snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d%s %s (%04lld-%02d-%02d %02d:%02d:%02d%s UTC)",
                         lt.tm_year + 1900, lt.tm_mon + 1, lt.tm_mday, lt.tm_hour, lt.tm_min, lt.tm_sec,
                         fr, zone, (long long)u.y, u.mo, u.d, u.h, u.mi, u.s, fr);
            return buf;
        }
    }
    snprintf(buf, len, "%04lld-%02d-%02d %02d:%02d:%02d%s UTC", (long long)u.y, u.mo, u.d, u.h, u.mi,
             u.s, fr);
    return buf;
}

char *kf_duration_human(int64_t ns, char *buf, size_t len)
{
    const char *sign = "";
    uint64_t v;
    if (ns < 0) { sign = "-"; v = (uint64_t)0 - (uint64_t)ns; }
    else v = (uint64_t)ns;
    char tmp[64];
    if (v == 0) snprintf(tmp, sizeof tmp, "0s");
    else if (v < 1000) snprintf(tmp, sizeof tmp, "%lluns", (unsigned long long)v);
    else if (v < 60ULL * NS) {
        /* below a minute: the largest of us/ms/s with up to 3 decimals, zeros trimmed */
        const char *unit;
        uint64_t div;
        if (v < 1000000) { unit = "us"; div = 1000; }
        else if (v < (uint64_t)NS) { unit = "ms"; div = 1000000; }
        else { unit = "s"; div = NS; }
        uint64_t whole = v / div, milli = (v % div) / (div / 1000);
        if (milli) {
            char f[24];
            snprintf(f, sizeof f, "%03llu", (unsigned long long)(milli % 1000));
            for (int i = 2; i > 0 && f[i] == '0'; i--) f[i] = '\0';
            snprintf(tmp, sizeof tmp, "%llu.%s%s", (unsigned long long)whole, f, unit);
        } else {
            snprintf(tmp, sizeof tmp, "%llu%s", (unsigned long long)whole, unit);
        }
    } else {
        uint64_t s = v / NS;
        uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
        if (d) snprintf(tmp, sizeof tmp, "%llud%02lluh%02llum%02llus", (unsigned long long)d,
                        (unsigned long long)h, (unsigned long long)m, (unsigned long long)sec);
        else if (h) snprintf(tmp, sizeof tmp, "%lluh%02llum%02llus", (unsigned long long)h,
                             (unsigned long long)m, (unsigned long long)sec);
        else snprintf(tmp, sizeof tmp, "%llum%02llus", (unsigned long long)m, (unsigned long long)sec);
    }
    snprintf(buf, len, "%s%s", sign, tmp);
    return buf;
}

/* ---------- parsing helpers ---------- */

/* Reads exactly n digits; returns value or -1. */
static int digits(const char *p, const char *end, int n)
{
    int v = 0;
    if (end - p < n) return -1;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i])) return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Parses ".ddddddddd" (1-9 digits used, further digits ignored) at *pp; returns ns fraction. */
static int parse_frac(const char **pp, const char *end, int64_t *frac)
{
    const char *p = *pp;
    *frac = 0;
    if (p >= end || (*p != '.' && *p != ',')) return 0;
    p++;
    int n = 0;
    int64_t v = 0;
    while (p < end && isdigit((unsigned char)*p)) {
        if (n < 9) { v = v * 10 + (*p - '0'); n++; }
        p++;
    }
    if (n == 0) return -1;
    while (n < 9) { v *= 10; n++; }
    *frac = v;
    *pp = p;
    return 0;
}

typedef struct {
    int64_t y; int mo, d, h, mi, s;
    int64_t frac;
    int has_time;
} dt_parts;

/* Parses "YYYY-MM-DD[(T|t| )HH:MM[:SS[.frac]]]" at *pp. */
static int parse_datetime(const char **pp, const char *end, dt_parts *dt)
{
    const char *p = *pp;
    memset(dt, 0, sizeof *dt);
    int y = digits(p, end, 4);
    if (y < 0 || end - p < 10 || p[4] != '-' || p[7] != '-') return -1;
    dt->y = y;
    dt->mo = digits(p + 5, end, 2);
    dt->d = digits(p + 8, end, 2);
    if (dt->mo < 1 || dt->mo > 12 || dt->d < 1 || dt->d > days_in_month(dt->y, dt->mo)) return -1;
    p += 10;
    if (p < end && (*p == 'T' || *p == 't' || *p == ' ') && end - p >= 6 && isdigit((unsigned char)p[1])) {
        const char *q = p + 1;
        dt->h = digits(q, end, 2);
        if (dt->h < 0 || q + 2 >= end || q[2] != ':') return -1;
        dt->mi = digits(q + 3, end, 2);
        if (dt->mi < 0) return -1;
        q += 5;
        if (q < end && *q == ':') {
            dt->s = digits(q + 1, end, 2);
            if (dt->s < 0) return -1;
            q += 3;
            if (parse_frac(&q, end, &dt->frac) < 0) return -1;
        }
        if (dt->h > 23 || dt->mi > 59 || dt->s > 60) return -1;
        dt->has_time = 1;
        p = q;
    }
    *pp = p;
    return 0;
}

static int64_t dt_utc_sec(const dt_parts *dt)
{
    return days_from_civil(dt->y, dt->mo, dt->d) * 86400 + dt->h * 3600 + dt->mi * 60 + dt->s;
}

/* Local (TZ) wall time to epoch seconds; -1 with errno on failure. */
static int dt_local_sec(const dt_parts *dt, int64_t *sec)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = (int)dt->y - 1900;
    tm.tm_mon = dt->mo - 1;
    tm.tm_mday = dt->d;
    tm.tm_hour = dt->h;
    tm.tm_min = dt->mi;
    tm.tm_sec = dt->s;
    tm.tm_isdst = -1;
    tzset();
    errno = 0;
    time_t t = mktime(&tm);
    if (t == (time_t)-1 && errno) return -1;
    *sec = (int64_t)t;
    return 0;
}

static int local_ns(const dt_parts *dt, int64_t *ns)
{
    int64_t sec;
    if (dt_local_sec(dt, &sec) < 0) return -1;
    __int128 v = (__int128)sec * NS + dt->frac;
    if (v > INT64_MAX || v < INT64_MIN) return -1;
    *ns = (int64_t)v;
    return 0;
}

/* Zone suffix: Z, +HH:MM, +HHMM, +HH, or " UTC"/" GMT". Returns 0 and the offset in seconds,
 * 1 when there is no zone at all, -1 on a malformed zone. */
static int parse_zone(const char **pp, const char *end, int *off)
{
    const char *p = *pp;
    *off = 0;
    if (p == end) return 1;
    if (*p == 'Z' || *p == 'z') { *pp = p + 1; return 0; }
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int h = digits(p + 1, end, 2), m = 0;
        if (h < 0 || h > 23) return -1;
        const char *q = p + 3;
        if (q < end && *q == ':') { m = digits(q + 1, end, 2); q += 3; }
        else if (end - q >= 2 && isdigit((unsigned char)*q)) { m = digits(q, end, 2); q += 2; }
        if (m < 0 || m > 59) return -1;
        *off = sign * (h * 3600 + m * 60);
        *pp = q;
        return 0;
    }
    const char *q = p;
    while (q < end && *q == ' ') q++;
    if (end - q >= 3 && (strncmp(q, "UTC", 3) == 0 || strncmp(q, "GMT", 3) == 0)) { *pp = q + 3; return 0; }
    return -1;
}

/* ---------- durations and sizes ---------- */

typedef struct { const char *name; int64_t ns; } unit_def;
static const unit_def units[] = {
    { "nanoseconds", 1 }, { "nanosecond", 1 }, { "ns", 1 },
    { "microseconds", 1000 }, { "microsecond", 1000 }, { "us", 1000 }, { "\xc2\xb5s", 1000 },
    { "milliseconds", 1000000 }, { "millisecond", 1000000 }, { "ms", 1000000 },
    { "seconds", NS }, { "second", NS }, { "secs", NS }, { "sec", NS }, { "s", NS },
    { "minutes", 60 * NS }, { "minute", 60 * NS }, { "mins", 60 * NS }, { "min", 60 * NS }, { "m", 60 * NS },
    { "hours", 3600 * NS }, { "hour", 3600 * NS }, { "hrs", 3600 * NS }, { "hr", 3600 * NS }, { "h", 3600 * NS },
    { "days", 86400 * NS }, { "day", 86400 * NS }, { "d", 86400 * NS },
    { "weeks", 604800 * NS }, { "week", 604800 * NS }, { "w", 604800 * NS },
};

/* Parses a duration from s[0..n). Returns 0 or -1. */
static int duration_parse_n(const char *s, size_t n, int64_t *out)
{
    const char *p = s, *end = s + n;
    __int128 total = 0;
    int groups = 0, bare = 0;
    while (p < end && *p == ' ') p++;
    while (end > p && end[-1] == ' ') end--;
    if (p == end) return -1;
    while (p < end) {
        if (bare) return -1;   /* a unitless number only on its own */
        uint64_t whole = 0;
        int nd = 0;
        while (p < end && isdigit((unsigned char)*p)) {
            if (whole > (UINT64_MAX - 9) / 10) return -1;
            whole = whole * 10 + (uint64_t)(*p - '0');
            p++; nd++;
        }
        uint64_t fnum = 0, fden = 1;
        if (p < end && *p == '.') {
            p++;
            int nf = 0;
            while (p < end && isdigit((unsigned char)*p)) {
                if (fden < 1000000000000000000ULL) { fnum = fnum * 10 + (uint64_t)(*p - '0'); fden *= 10; }
                p++; nf++;
            }
            if (nf == 0 && nd == 0) return -1;
        } else if (nd == 0) {
            return -1;
        }
        while (p < end && *p == ' ') p++;
        int64_t unit = 0;
        size_t best = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t l = strlen(units[i].name);
            if ((size_t)(end - p) >= l && strncmp(p, units[i].name, l) == 0 && l > best &&
                (p + l == end || !isalpha((unsigned char)p[l]))) {
                best = l;
                unit = units[i].ns;
            }
        }
        if (!best) {
            if (groups > 0) return -1;
            unit = NS;
            bare = 1;
        }
        p += best;
        total += (__int128)whole * unit + (__int128)fnum * unit / fden;
        if (total > INT64_MAX) return -1;
        groups++;
        while (p < end && (*p == ' ' || *p == ',')) p++;
    }
    *out = (int64_t)total;
    return 0;
}

int kf_duration_parse(const char *s, int64_t *ns)
{
    if (!s) return -1;
    return duration_parse_n(s, strlen(s), ns);
}

int kf_size_parse(const char *s, uint64_t *bytes)
{
    if (!s) return -1;
    const char *p = s;
    while (*p == ' ') p++;
    uint64_t whole = 0, fnum = 0, fden = 1;
    int nd = 0, nf = 0;
    while (isdigit((unsigned char)*p)) {
        if (whole > (UINT64_MAX - 9) / 10) return -1;
        whole = whole * 10 + (uint64_t)(*p++ - '0');
        nd++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (fden < 1000000000000000000ULL) { fnum = fnum * 10 + (uint64_t)(*p - '0'); fden *= 10; }
            p++; nf++;
        }
    }
    if (nd == 0 && nf == 0) return -1;
    while (*p == ' ') p++;
    unsigned shift = 0;
    switch (*p) {
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    case 't': case 'T': shift = 40; p++; break;
    case 'p': case 'P': shift = 50; p++; break;
    default: break;
    }
    if (shift && (*p == 'i' || *p == 'I')) p++;
    if (*p == 'b' || *p == 'B') p++;
    while (*p == ' ') p++;
    if (*p) return -1;
    if (shift == 0 && nf) return -1;   /* fractional bytes */
    unsigned __int128 v = ((unsigned __int128)whole << shift) + (((unsigned __int128)fnum << shift) / fden);
    if (v > UINT64_MAX) return -1;
    *bytes = (uint64_t)v;
    return 0;
}

/* ---------- time arguments ---------- */

int kf_time_parse_rfc3339(const char *s, size_t len, int64_t *ns)
{
    const char *p = s, *end = s + len;
    dt_parts dt;
    int off;
    if (parse_datetime(&p, end, &dt) < 0 || !dt.has_time) return -1;
    if (p == end || *p == ' ') return -1;   /* needs a zone right after the time */
    if (parse_zone(&p, end, &off) != 0 || p != end) return -1;
    __int128 v = (__int128)(dt_utc_sec(&dt) - off) * NS + dt.frac;
    if (v > INT64_MAX || v < INT64_MIN) return -1;
    *ns = (int64_t)v;
    return 0;
}

/* The local zone's abbreviations right now ("IST", "CET"/"CEST"). */
static int is_local_abbr(const char *z, size_t n)
{
    tzset();
    for (int i = 0; i < 2; i++)
        if (tzname[i] && strlen(tzname[i]) == n && strncmp(tzname[i], z, n) == 0) return 1;
    return 0;
}

/* Pasted human output: "<date> <time> ABBR (<[date ]time> UTC)". The UTC part is
 * authoritative; its date, when absent, is the one within a day of the local part. */
static int parse_human_paren(const dt_parts *local, const char *p, const char *end, int64_t *ns)
{
    /* p points at '(' */
    p++;
    const char *close = memchr(p, ')', (size_t)(end - p));
    if (!close) return -1;
    const char *q = close + 1;
    while (q < end && *q == ' ') q++;
    if (q != end) return -1;
    dt_parts u;
    const char *r = p;
    if (parse_datetime(&r, close, &u) == 0 && u.has_time) {
        /* full date given */
    } else {
        int h = digits(p, close, 2), mi = -1, se = 0;
        if (h < 0 || close - p < 5 || p[2] != ':') return -1;
        mi = digits(p + 3, close, 2);
        r = p + 5;
        if (r < close && *r == ':') { se = digits(r + 1, close, 2); r += 3; }
        if (mi < 0 || se < 0 || h > 23 || mi > 59 || se > 60) return -1;
        u = *local;
        u.h = h; u.mi = mi; u.s = se;
        u.frac = 0;
        if (parse_frac(&r, close, &u.frac) < 0) return -1;
        /* pick the UTC date nearest the local wall time (zones are within ±14 h) */
        int64_t lsec = dt_utc_sec(local), best = 0, bestd = INT64_MAX;
        for (int dd = -1; dd <= 1; dd++) {
            int64_t c = dt_utc_sec(&u) + dd * 86400, diff = c > lsec ? c - lsec : lsec - c;
            if (diff < bestd) { bestd = diff; best = c; }
        }
        if (bestd > 15 * 3600) return -1;
        while (r < close && *r == ' ') r++;
        if (close - r != 3 || strncmp(r, "UTC", 3) != 0) return -1;
        __int128 v = (__int128)best * NS + u.frac;   /* year 1013 does not fit: refused, not wrapped */
        if (v > INT64_MAX || v < INT64_MIN) return -1;
        *ns = (int64_t)v;
        return 0;
    }
    while (r < close && *r == ' ') r++;
    if (close - r != 3 || strncmp(r, "UTC", 3) != 0) return -1;
    __int128 v = (__int128)dt_utc_sec(&u) * NS + u.frac;
    if (v > INT64_MAX || v < INT64_MIN) return -1;
    *ns = (int64_t)v;
    return 0;
}

static int parse_absolute(const char *s, const char *end, int64_t now_ns, int64_t *ns)
{
    const char *p = s;
    dt_parts dt;
    int off, zr;
    if (end - p >= 5 && isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) && p[2] == ':') {
        /* time of day alone: today in the local zone */
        time_t t = (time_t)fdiv(now_ns, NS);
        struct tm lt;
        if (!localtime_r(&t, &lt)) return -1;
        char b[64];
        int n = snprintf(b, sizeof b, "%04d-%02d-%02d %.*s", lt.tm_year + 1900, lt.tm_mon + 1,
                         lt.tm_mday, (int)((end - p) > 40 ? 40 : end - p), p);
        return parse_absolute(b, b + n, now_ns, ns);
    }
    if (parse_datetime(&p, end, &dt) < 0) return -1;
    zr = parse_zone(&p, end, &off);
    if (zr == 0 && p == end) {
        __int128 v = (__int128)(dt_utc_sec(&dt) - off) * NS + dt.frac;
        if (v > INT64_MAX || v < INT64_MIN) return -1;
        *ns = (int64_t)v;
        return 0;
    }
    if (zr == 1) {
        return local_ns(&dt, ns);
    }
    /* " ABBR" or " ABBR (… UTC)" */
    const char *q = p;
    while (q < end && *q == ' ') q++;
    const char *z = q;
    while (q < end && (isalpha((unsigned char)*q) || *q == '+' || *q == '-' || isdigit((unsigned char)*q))) q++;
    size_t zl = (size_t)(q - z);
    if (!dt.has_time || zl == 0) return -1;
    while (q < end && *q == ' ') q++;
    if (q < end && *q == '(') return parse_human_paren(&dt, q, end, ns);
    if (q != end) return -1;
    if (is_local_abbr(z, zl)) {
        return local_ns(&dt, ns);
    }
    return -2;   /* unknown zone name */
}

/* Epoch forms: digits[.digits][s|ms|us|ns]. Returns 0, -1 not epoch-shaped, -2 out of range. */
static int parse_epoch(const char *p, const char *end, int64_t *ns)
{
    const char *q = p;
    uint64_t whole = 0;
    int nd = 0;
    while (q < end && isdigit((unsigned char)*q)) {
        if (nd >= 19) return -2;
        whole = whole * 10 + (uint64_t)(*q - '0');
        q++; nd++;
    }
    if (nd == 0) return -1;
    int64_t fnum = 0;
    int nf = 0, has_dot = 0;
    if (q < end && *q == '.') {
        has_dot = 1;
        q++;
        while (q < end && isdigit((unsigned char)*q)) {
            if (nf < 9) { fnum = fnum * 10 + (*q - '0'); nf++; }
            q++;
        }
    }
    int64_t unit;
    size_t rest = (size_t)(end - q);
    if (rest == 0) {
        if (has_dot || nd <= 11) unit = NS;         /* seconds */
        else if (nd <= 14) unit = 1000000;          /* milliseconds */
        else if (nd <= 17) unit = 1000;             /* microseconds */
        else unit = 1;                              /* nanoseconds */
    } else if (rest == 1 && *q == 's') unit = NS;
    else if (rest == 2 && strncmp(q, "ms", 2) == 0) unit = 1000000;
    else if (rest == 2 && strncmp(q, "us", 2) == 0) unit = 1000;
    else if (rest == 2 && strncmp(q, "ns", 2) == 0) unit = 1;
    else return -1;
    for (int i = nf; i < 9; i++) fnum *= 10;
    __int128 v = (__int128)whole * unit + (__int128)fnum * unit / NS;
    if (v > INT64_MAX) return -2;
    *ns = (int64_t)v;
    return 0;
}

static const char *time_forms =
    "use RFC 3339 (2026-03-14T17:23:45Z), local time (2026-03-14 19:23:45), epoch seconds/ms/ns, "
    "or relative (now, -15m, 2h ago, now-1h)";

int kf_time_parse(const char *s, int64_t now_ns, int64_t *ns, char *err, size_t errlen)
{
    if (!s) { seterr(err, errlen, "no time given"); return -1; }
    const char *p = s, *end = s + strlen(s);
    while (p < end && isspace((unsigned char)*p)) p++;
    while (end > p && isspace((unsigned char)end[-1])) end--;
    if (p == end) { seterr(err, errlen, "empty time; %s", time_forms); return -1; }
    int64_t d;
    /* relative: now, now-1h, now + 30m */
    if (end - p >= 3 && strncasecmp(p, "now", 3) == 0) {
        const char *q = p + 3;
        while (q < end && *q == ' ') q++;
        if (q == end) { *ns = now_ns; return 0; }
        if (*q == '-' || *q == '+') {
            int neg = *q == '-';
            if (duration_parse_n(q + 1, (size_t)(end - q - 1), &d) == 0) {
                *ns = neg ? now_ns - d : now_ns + d;
                return 0;
            }
        }
        seterr(err, errlen, "bad relative time '%s': expected now, now-1h, now+30m", s);
        return -1;
    }
    /* relative: -15m, +30s */
    if (*p == '-' || *p == '+') {
        if (duration_parse_n(p + 1, (size_t)(end - p - 1), &d) == 0) {
            *ns = *p == '-' ? now_ns - d : now_ns + d;
            return 0;
        }
        seterr(err, errlen, "bad relative time '%s': expected a duration like -15m, +30s, -1h30m", s);
        return -1;
    }
    /* relative: 2h ago, 15 minutes ago */
    if (end - p > 4 && strncasecmp(end - 4, " ago", 4) == 0) {
        if (duration_parse_n(p, (size_t)(end - p - 4), &d) == 0) { *ns = now_ns - d; return 0; }
        seterr(err, errlen, "bad relative time '%s': expected a duration like 2h ago, 15m ago", s);
        return -1;
    }
    int r = parse_epoch(p, end, ns);
    if (r == 0) return 0;
    if (r == -2) { seterr(err, errlen, "epoch time '%s' out of range", s); return -1; }
    r = parse_absolute(p, end, now_ns, ns);
    if (r == 0) return 0;
    if (r == -2) {
        seterr(err, errlen, "unknown time zone name in '%s'; give an offset (+05:30) or Z, or the local zone's name", s);
        return -1;
    }
    seterr(err, errlen, "bad time '%s': %s", s, time_forms);
    return -1;
}
