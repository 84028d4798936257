/* Unit tests for lib/kf_time: every accepted time form, zones (TZ set in the test), durations,
 * sizes, RFC 3339 and human output. */
#include "t.h"
#include "kf_time.h"
#include <time.h>
#include <unistd.h>

#define T0 1773509025LL   /* 2026-03-14T17:23:45Z */
#define S KF_NS_PER_SEC

static void set_tz(const char *tz) { setenv("TZ", tz, 1); tzset(); }

static void ok_parse(const char *in, int64_t now, int64_t want)
{
    char err[256] = "";
    int64_t got = 0;
    int r = kf_time_parse(in, now, &got, err, sizeof err);
    T_OK(r == 0 && got == want, "parse '%s' [TZ=%s]", in, getenv("TZ"));
    if (r != 0) printf("#   error: %s\n", err);
    else if (got != want) printf("#   got %lld, want %lld\n", (long long)got, (long long)want);
}

static void bad_parse(const char *in)
{
    char err[256] = "";
    int64_t got = 0;
    int r = kf_time_parse(in, T0 * S, &got, err, sizeof err);
    T_OK(r == -1 && err[0], "reject '%s' (%s)", in, err);
}

static void dur(const char *in, int64_t want)
{
    int64_t got = -7;
    int r = kf_duration_parse(in, &got);
    T_OK(r == 0 && got == want, "duration '%s'", in);
    if (r == 0 && got != want) printf("#   got %lld, want %lld\n", (long long)got, (long long)want);
}

static void size(const char *in, uint64_t want)
{
    uint64_t got = 7;
    int r = kf_size_parse(in, &got);
    T_OK(r == 0 && got == want, "size '%s'", in);
    if (r == 0 && got != want) printf("#   got %llu, want %llu\n", (unsigned long long)got, (unsigned long long)want);
}

int main(void)
{
    char b[128];
    int64_t now = T0 * S + 500000000;

    set_tz("UTC");
    /* RFC 3339 with a zone */
    ok_parse("2026-03-14T17:23:45Z", 0, T0 * S);
    ok_parse("2026-03-14t17:23:45z", 0, T0 * S);
    ok_parse("2026-03-14T19:23:45.5+02:00", 0, T0 * S + 500000000);
    ok_parse("2026-03-14 22:53:45.123456789+05:30", 0, T0 * S + 123456789);
    ok_parse("2026-03-14T12:23:45-0500", 0, T0 * S);
    ok_parse("2026-03-14T12:23:45-05", 0, T0 * S);
    ok_parse("2026-03-14 17:23:45 GMT", 0, T0 * S);
    ok_parse("2026-03-14 17:23:45.250", 0, T0 * S + 250000000);
    ok_parse("now - 90s", now, now - 90 * S);
    ok_parse("-1h30m", now, now - 5400 * S);
    ok_parse("2026-03-14T17:23:45.1234567891234Z", 0, T0 * S + 123456789);
    ok_parse("2026-03-14 17:23:45 UTC", 0, T0 * S);
    ok_parse("  2026-03-14T17:23:45Z\t ", 0, T0 * S);
    ok_parse("1969-12-31T23:59:59.999999999Z", 0, -1);
    ok_parse("2024-02-29T00:00:00Z", 0, 1709164800LL * S);
    ok_parse("2016-12-31T23:59:60Z", 0, 1483228800LL * S);
    /* epoch */
    ok_parse("1773509025", 0, T0 * S);
    ok_parse("1773509025123", 0, T0 * S + 123000000);
    ok_parse("1773509025123456", 0, T0 * S + 123456000);
    ok_parse("1773509025123456789", 0, T0 * S + 123456789);
    ok_parse("1773509025.25", 0, T0 * S + 250000000);
    ok_parse("1773509025s", 0, T0 * S);
    ok_parse("1773509025000ms", 0, T0 * S);
    ok_parse("1773509025000000us", 0, T0 * S);
    ok_parse("1773509025000000000ns", 0, T0 * S);
    ok_parse("0", 0, 0);
    /* relative */
    ok_parse("now", now, now);
    ok_parse("NOW", now, now);
    ok_parse("-15m", now, now - 900 * S);
    ok_parse("+30s", now, now + 30 * S);
    ok_parse("15m ago", now, now - 900 * S);
    ok_parse("2h ago", now, now - 7200 * S);
    ok_parse("2 hours ago", now, now - 7200 * S);
    ok_parse("now-1h", now, now - 3600 * S);
    ok_parse("now - 1h30m", now, now - 5400 * S);
    ok_parse("now+500ms", now, now + 500000000);
    /* local without zone, UTC */
    ok_parse("2026-03-14 17:23:45", 0, T0 * S);
    ok_parse("2026-03-14T17:23", 0, (T0 - 45) * S);
    ok_parse("2026-03-14", 0, 1773446400LL * S);
    ok_parse("17:23:45", now, T0 * S);

    /* the zone tests need the tz database (Debian package tzdata, in scripts/install-deps) */
    T_OK(access("/usr/share/zoneinfo/Asia/Kolkata", R_OK) == 0 && access("/usr/share/zoneinfo/America/New_York", R_OK) == 0,
         "tzdata installed (zone tests below depend on it)");

    /* local without zone, India (no DST, +05:30) */
    set_tz("Asia/Kolkata");
    ok_parse("2026-03-14 22:53:45", 0, T0 * S);
    ok_parse("2026-03-14T22:53:45.000000001", 0, T0 * S + 1);
    ok_parse("2026-03-14 22:53:45 IST", 0, T0 * S);
    ok_parse("2026-03-14T17:23:45Z", 0, T0 * S);     /* a zone given wins over TZ */
    ok_parse("22:53:45", now, T0 * S);
    /* pasted human output */
    ok_parse("2026-03-14 22:53:45 IST (17:23:45 UTC)", 0, T0 * S);
    ok_parse("2026-03-15 01:00:00 IST (2026-03-14 19:30:00 UTC)", 0, 1773516600LL * S);
    ok_parse("2026-03-15 01:00:00.5 IST (19:30:00.5 UTC)", 0, 1773516600LL * S + 500000000);
    bad_parse("2026-03-14 22:53:45 PST");
    /* issue 21: a pasted UTC date out of int64 nanoseconds is refused (it wrapped silently) */
    bad_parse("2026-03-15 01:00:00 IST (1013-03-14 19:30:00 UTC)");
    bad_parse("2026-03-15 01:00:00 IST (9999-03-14 19:30:00 UTC)");
    T_EQ_STR(kf_time_human(T0 * S, 0, 0, b, sizeof b), "2026-03-14 22:53:45 IST (17:23:45 UTC)", "human IST");
    T_EQ_STR(kf_time_human(T0 * S + 123456789, 0, 3, b, sizeof b), "2026-03-14 22:53:45.123 IST (17:23:45.123 UTC)",
             "human IST with ms");
    T_EQ_STR(kf_time_human(1773516600LL * S, 0, 0, b, sizeof b), "2026-03-15 01:00:00 IST (2026-03-14 19:30:00 UTC)",
             "human IST shows the UTC date when it differs");
    T_EQ_STR(kf_time_human(T0 * S, 1, 0, b, sizeof b), "2026-03-14 17:23:45 UTC", "human --utc");

    /* DST: New York. 2026-03-08 02:30 does not exist; 2026-07-01 12:00 EDT = 16:00Z */
    set_tz("America/New_York");
    ok_parse("2026-07-01 12:00:00", 0, 1782921600LL * S);
    ok_parse("2026-01-15 12:00:00", 0, 1768496400LL * S);
    ok_parse("2026-07-01 12:00:00 EDT", 0, 1782921600LL * S);
    T_EQ_STR(kf_time_human(1782921600LL * S, 0, 0, b, sizeof b), "2026-07-01 12:00:00 EDT (16:00:00 UTC)", "human EDT");
    T_EQ_STR(kf_time_human(1768496400LL * S, 0, 0, b, sizeof b), "2026-01-15 12:00:00 EST (17:00:00 UTC)", "human EST");

    /* a zone given as POSIX rule string */
    set_tz("XYZ-3");
    ok_parse("2026-03-14 20:23:45", 0, T0 * S);
    T_EQ_STR(kf_time_human(T0 * S, 0, 0, b, sizeof b), "2026-03-14 20:23:45 XYZ (17:23:45 UTC)", "human POSIX zone");

    set_tz("UTC");
    T_EQ_STR(kf_time_human(T0 * S, 0, 0, b, sizeof b), "2026-03-14 17:23:45 UTC", "human in UTC has no parenthesis");
    T_EQ_STR(kf_time_human(T0 * S + 7, 0, 9, b, sizeof b), "2026-03-14 17:23:45.000000007 UTC", "human ns");
    T_EQ_STR(kf_time_human(-1, 1, 3, b, sizeof b), "1969-12-31 23:59:59.999 UTC", "human before 1970");

    /* rejects */
    bad_parse("");
    bad_parse("yesterday-ish");
    bad_parse("2026-13-01T00:00:00Z");
    bad_parse("2026-02-30");
    bad_parse("2025-02-29T00:00:00Z");
    bad_parse("2026-03-14T24:00:00Z");
    bad_parse("2026-03-14T17:60:00Z");
    bad_parse("2026-03-14T17:23:45+25:00");
    bad_parse("2026-03-14T17:23:45.Z");
    bad_parse("2026-03-14T17:23:45Zjunk");
    bad_parse("17734x");
    bad_parse("99999999999999999999");
    bad_parse("-");
    bad_parse("now-");
    bad_parse("now-abc");
    bad_parse("15x ago");
    bad_parse("1773509025fs");
    {
        char e[256];
        int64_t x;
        kf_time_parse("yesterday", 0, &x, e, sizeof e);
        T_OK(strstr(e, "bad time 'yesterday': use RFC 3339") == e, "error names the forms: %s", e);
    }

    /* strict RFC 3339 */
    int64_t v = 0;
    T_OK(kf_time_parse_rfc3339("2026-03-14T17:23:45.123456789Z", 30, &v) == 0 && v == T0 * S + 123456789, "rfc3339 strict ok");
    T_OK(kf_time_parse_rfc3339("2026-03-14T17:23:45+01:00", 25, &v) == 0 && v == (T0 - 3600) * S, "rfc3339 strict offset");
    T_OK(kf_time_parse_rfc3339("2026-03-14T17:23:45", 19, &v) == -1, "rfc3339 strict needs a zone");
    T_OK(kf_time_parse_rfc3339("2026-03-14", 10, &v) == -1, "rfc3339 strict needs a time");
    T_OK(kf_time_parse_rfc3339("2026-03-14T17:23:45Zx", 20, &v) == 0, "rfc3339 strict honours len");

    /* output */
    T_EQ_STR(kf_time_rfc3339(T0 * S + 5, b, sizeof b), "2026-03-14T17:23:45.000000005Z", "rfc3339 out");
    T_EQ_STR(kf_time_rfc3339(INT64_MIN, b, sizeof b), "1677-09-21T00:12:43.145224192Z", "rfc3339 earliest");
    T_EQ_STR(kf_time_rfc3339(INT64_MAX, b, sizeof b), "2262-04-11T23:47:16.854775807Z", "rfc3339 latest");
    ok_parse("2262-04-11T23:47:16.854775807Z", 0, INT64_MAX);
    bad_parse("2262-04-11T23:47:16.854775808Z");
    bad_parse("9999-12-31");
    /* round trip of output through the parser across a range of instants */
    int rt = 1;
    for (int64_t t = -86400LL * 800 * S; t < 86400LL * 365 * 290 * S; t += 86400LL * 37 * S + 123456789) {
        int64_t back;
        char e[128];
        kf_time_rfc3339(t, b, sizeof b);
        if (kf_time_parse(b, 0, &back, e, sizeof e) != 0 || back != t) { rt = 0; printf("#   %s\n", b); break; }
    }
    T_OK(rt, "rfc3339 output parses back to the same ns (1967..2259)");
    {   /* the date part is kept from call to call within a day: gmtime_r + strftime is the oracle,
         * over instants that stay in a day, cross midnight both ways and jump around */
        int bad = 0;
        uint64_t x = 88172645463325252ull;
        int64_t t = 1700000000LL * S;
        for (int i = 0; i < 200000; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            switch (x % 4) {
            case 0: t += (int64_t)(x % (3600ull * S)); break;          /* forward within hours */
            case 1: t -= (int64_t)(x % (86400ull * S)); break;         /* back up to a day */
            case 2: t = (int64_t)(x % (4000000000ull)) * S - 100000000LL * S + (int64_t)(x % S); break;
            default: t = (t / (86400LL * S)) * 86400LL * S - (int64_t)(x % 3); break;   /* at midnight */
            }
            time_t sec = (time_t)(t >= 0 ? t / S : (t - (S - 1)) / S);
            int64_t frac = t - (int64_t)sec * S;
            struct tm tm;
            char want[64], date[40];
            gmtime_r(&sec, &tm);
            strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(want, sizeof want, "%s.%09lldZ", date, (long long)frac);
            if (strcmp(kf_time_rfc3339(t, b, sizeof b), want) != 0) { if (!bad) printf("#   %s want %s\n", b, want); bad++; }
        }
        T_OK(bad == 0, "rfc3339 output as gmtime_r/strftime across days (%d differ)", bad);
    }

    /* durations */
    dur("90", 90 * S);
    dur("90s", 90 * S);
    dur("15m", 900 * S);
    dur("2h30m", 9000 * S);
    dur("2h 30m", 9000 * S);
    dur("1d", 86400 * S);
    dur("1w", 604800 * S);
    dur("500ms", 500000000);
    dur("1.5h", 5400 * S);
    dur("24h", 86400 * S);
    dur("250us", 250000);
    dur("250\xc2\xb5s", 250000);
    dur("7ns", 7);
    dur("0.000000001s", 1);
    dur(".5s", 500000000);
    dur("3 minutes", 180 * S);
    dur("1m30s", 90 * S);
    int64_t d;
    T_OK(kf_duration_parse("", &d) == -1, "duration empty rejected");
    T_OK(kf_duration_parse("abc", &d) == -1, "duration abc rejected");
    T_OK(kf_duration_parse("5x", &d) == -1, "duration unknown unit rejected");
    T_OK(kf_duration_parse("1h30", &d) == -1, "duration trailing bare number rejected");
    T_OK(kf_duration_parse("-5m", &d) == -1, "negative duration rejected");
    T_OK(kf_duration_parse("999999999999w", &d) == -1, "duration overflow rejected");
    T_OK(kf_duration_parse("5mss", &d) == -1, "duration 5mss rejected");

    T_EQ_STR(kf_duration_human(0, b, sizeof b), "0s", "dur human 0");
    T_EQ_STR(kf_duration_human(999, b, sizeof b), "999ns", "dur human ns");
    T_EQ_STR(kf_duration_human(1500, b, sizeof b), "1.5us", "dur human us");
    T_EQ_STR(kf_duration_human(250000000, b, sizeof b), "250ms", "dur human ms");
    T_EQ_STR(kf_duration_human(1234567, b, sizeof b), "1.234ms", "dur human 1.234ms");
    T_EQ_STR(kf_duration_human(1500000000, b, sizeof b), "1.5s", "dur human 1.5s");
    T_EQ_STR(kf_duration_human(59 * S, b, sizeof b), "59s", "dur human 59s");
    T_EQ_STR(kf_duration_human(62 * S, b, sizeof b), "1m02s", "dur human 1m02s");
    T_EQ_STR(kf_duration_human(3723 * S, b, sizeof b), "1h02m03s", "dur human 1h02m03s");
    T_EQ_STR(kf_duration_human(90061 * S, b, sizeof b), "1d01h01m01s", "dur human days");
    T_EQ_STR(kf_duration_human(-250000000, b, sizeof b), "-250ms", "dur human negative");
    T_EQ_STR(kf_duration_human(INT64_MIN, b, sizeof b), "-106751d23h47m16s", "dur human INT64_MIN");

    /* sizes */
    size("4096", 4096);
    size("64M", 64ULL << 20);
    size("2G", 2ULL << 30);
    size("1.5GiB", 3ULL << 29);
    size("10k", 10240);
    size("10KB", 10240);
    size("512 MiB", 512ULL << 20);
    size("1T", 1ULL << 40);
    size("100B", 100);
    size("1P", 1ULL << 50);
    size("2g", 2ULL << 30);
    uint64_t z;
    T_OK(kf_size_parse("", &z) == -1, "size empty rejected");
    T_OK(kf_size_parse("1.5", &z) == -1, "fractional bytes rejected");
    T_OK(kf_size_parse("12X", &z) == -1, "size unit X rejected");
    T_OK(kf_size_parse("99999999999999999999", &z) == -1, "size overflow rejected");
    T_OK(kf_size_parse("16777216T", &z) == -1, "size shift overflow rejected");
    T_OK(kf_size_parse("-1M", &z) == -1, "negative size rejected");

    int64_t n1 = kf_now_ns(), n2 = kf_now_ns();
    T_OK(n1 > 1700000000LL * S && n2 >= n1, "kf_now_ns is the wall clock");
    T_DONE();
}
