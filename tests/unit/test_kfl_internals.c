/* Unit tests of kfl's hand-written parts: RFC 3339 and duration parsing, the RE2 → ERE
 * translation, exact numeric comparison across int/uint/double, JSON value decoding. */
#include "t.h"
#include "kf_time.h"
#include "../../lib/kfl/value.c"
#include "../../lib/kfl/ktime.c"
#include "../../lib/kfl/regex.c"

static int ts_ok(const char *s, int64_t want)
{
    int64_t ns = 0;
    return kfl_ts_parse(s, strlen(s), &ns) == 0 && ns == want;
}
static int ts_bad(const char *s) { int64_t ns; return kfl_ts_parse(s, strlen(s), &ns) != 0; }
static int dur_ok(const char *s, int64_t want) { int64_t ns = 0; return kfl_dur_parse(s, strlen(s), &ns) == 0 && ns == want; }
static int dur_bad(const char *s) { int64_t ns; return kfl_dur_parse(s, strlen(s), &ns) != 0; }
static int re(const char *pat, const char *s)
{
    char err[128];
    kfl_regex *r = kfl_regex_new(pat, strlen(pat), err, sizeof err);
    if (!r) return -1;
    int m = kfl_regex_search(r, s, strlen(s));
    kfl_regex_free(r);
    return m;
}
static int num_cmp(kfl_val a, kfl_val b) { return kfl_val_cmp(&a, &b); }
static kfl_val I(int64_t i) { return kfl_int(i); }
static kfl_val U(uint64_t u) { kfl_val v = { .k = KT_UINT }; v.u = u; return v; }
static kfl_val D(double d) { kfl_val v = { .k = KT_DOUBLE }; v.d = d; return v; }

int main(void)
{
    /* timestamps */
    T_OK(ts_ok("1970-01-01T00:00:00Z", 0), "epoch");
    T_OK(ts_ok("2026-03-14T17:23:45.123456789Z", 1773509025123456789LL), "ns fraction");
    T_OK(ts_ok("2026-03-14T19:23:45.123456789+02:00", 1773509025123456789LL), "positive offset");
    T_OK(ts_ok("2026-03-14T12:53:45.123456789-04:30", 1773509025123456789LL), "negative offset");
    T_OK(ts_ok("2026-03-14t17:23:45.5z", 1773509025500000000LL), "lower-case t and z");
    T_OK(ts_ok("2026-03-14 17:23:45Z", 1773509025000000000LL), "space for T");
    T_OK(ts_ok("2026-03-14T17:23:45.1234567891234Z", 1773509025123456789LL), "digits past ns are dropped");
    T_OK(ts_ok("1969-12-31T23:59:59.5Z", -500000000LL), "before the epoch");
    T_OK(ts_ok("2024-02-29T00:00:00Z", 1709164800000000000LL), "leap day");
    T_OK(ts_ok("2262-04-11T23:47:16Z", 9223372036000000000LL), "near the int64 ns limit");
    T_OK(ts_bad("2025-02-29T00:00:00Z"), "no Feb 29 in 2025");
    T_OK(ts_bad("2026-02-30T00:00:00Z"), "no Feb 30");
    T_OK(ts_bad("2026-13-01T00:00:00Z"), "month 13");
    T_OK(ts_bad("2026-03-14T24:00:00Z"), "hour 24");
    T_OK(ts_bad("2026-03-14T17:23:45"), "zone is required");
    T_OK(ts_bad("2026-03-14T17:23:45+0200"), "offset needs a colon");
    T_OK(ts_bad("2026-03-14T17:23:45.Z"), "empty fraction");
    T_OK(ts_bad("2026-03-14T17:23:45Zjunk"), "trailing junk");
    T_OK(ts_bad("2026-3-14T17:23:45Z"), "one-digit month");
    T_OK(ts_bad("9999-12-31T23:59:59Z"), "past the int64 ns range");
    T_OK(ts_bad("2262-04-11T23:47:16.854775808Z"), "one ns past the int64 range");
    T_OK(ts_ok("1677-09-21T00:12:43.145224192Z", INT64_MIN), "the int64 minimum");
    T_OK(ts_bad(""), "empty");
    {   /* the same answers as lib/kf_time's strict RFC 3339 parser, written independently */
        static const char *const same[] = {
            "2026-03-14T17:23:45Z", "2026-03-14T17:23:45.123456789Z", "2026-03-14T19:23:45.5+02:00",
            "2026-03-14T12:53:45.1-04:30", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z",
            "2024-02-29T23:59:59.000000001Z", "2000-01-01T00:00:00+14:00",
        };
        for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
            int64_t a = 0, b = 1;
            int ra = kfl_ts_parse(same[i], strlen(same[i]), &a);
            int rb = kf_time_parse_rfc3339(same[i], strlen(same[i]), &b);
            T_OK(ra == 0 && rb == 0 && a == b, "agrees with kf_time_parse_rfc3339: %s", same[i]);
        }
    }
    char buf[64];
    kfl_ts_format(1773509025123456789LL, buf, sizeof buf);
    T_EQ_STR(buf, "2026-03-14T17:23:45.123456789Z", "format with ns");
    kfl_ts_format(1773509025500000000LL, buf, sizeof buf);
    T_EQ_STR(buf, "2026-03-14T17:23:45.5Z", "format trims zeros");
    kfl_ts_format(-500000000LL, buf, sizeof buf);
    T_EQ_STR(buf, "1969-12-31T23:59:59.5Z", "format before the epoch");

    /* durations */
    T_OK(dur_ok("5m", 300000000000LL), "5m");
    T_OK(dur_ok("1h2m3.5s", 3723500000000LL), "1h2m3.5s");
    T_OK(dur_ok("-5m", -300000000000LL), "-5m");
    T_OK(dur_ok("+5s", 5000000000LL), "+5s");
    T_OK(dur_ok("0", 0), "bare 0");
    T_OK(dur_ok("1.5h", 5400000000000LL), "1.5h");
    T_OK(dur_ok("250ms", 250000000LL), "ms");
    T_OK(dur_ok("3us", 3000LL) && dur_ok("3\xc2\xb5s", 3000LL), "us and µs");
    T_OK(dur_ok("7ns", 7), "ns");
    T_OK(dur_ok("0.000000001s", 1), "fraction to the ns");
    T_OK(dur_bad("") && dur_bad("5") && dur_bad("5x") && dur_bad("h") && dur_bad("1d") && dur_bad("-"), "bad durations");
    T_OK(dur_bad("9999999999999h"), "overflow is refused");
    kfl_dur_format(300000000000LL, buf, sizeof buf);
    T_EQ_STR(buf, "300s", "duration format");
    kfl_dur_format(-1500000000LL, buf, sizeof buf);
    T_EQ_STR(buf, "-1.5s", "negative fractional duration format");

    /* regex: RE2 syntax on POSIX ERE, unanchored search */
    T_EQ_INT(re("api", "/api/v1"), 1, "unanchored");
    T_EQ_INT(re("^api", "/api/v1"), 0, "anchored start");
    T_EQ_INT(re("\\d+", "abc123"), 1, "\\d");
    T_EQ_INT(re("^\\D+$", "abc1"), 0, "\\D");
    T_EQ_INT(re("^\\w+$", "a_B9"), 1, "\\w");
    T_EQ_INT(re("a\\sb", "a\tb"), 1, "\\s matches a tab");
    T_EQ_INT(re("[\\d.]+", "1.2"), 1, "\\d inside a class");
    T_EQ_INT(re("^[^\\d]+$", "abc"), 1, "negated class with \\d");
    T_EQ_INT(re("^[^\\d]+$", "ab1"), 0, "negated class with \\d refuses a digit");
    T_EQ_INT(re("[\\]]", "x]"), 1, "escaped ] in a class");
    T_EQ_INT(re("[]a]", "]"), 1, "leading ] in a class");
    T_EQ_INT(re("^[a^-]+$", "^-a"), 1, "^ and - as members");
    T_EQ_INT(re("^[\\^]$", "^"), 1, "a class of just ^");
    T_EQ_INT(re("(?i)HELLO", "say hello"), 1, "(?i)");
    T_EQ_INT(re("(?:ab)+c", "ababc"), 1, "non-capturing group");
    T_EQ_INT(re("(?P<x>a)b", "ab"), 1, "named group");
    T_EQ_INT(re("a+?b", "aaab"), 1, "lazy quantifier");
    T_EQ_INT(re("a{2}", "aa"), 1, "counted repetition");
    T_EQ_INT(re("a{,2}", "a{,2}"), 1, "{ that is not a repetition is a literal");
    T_EQ_INT(re("\\x41\\x{42}", "AB"), 1, "hex escapes");
    T_EQ_INT(re("\\x{e9}", "caf\xc3\xa9"), 1, "\\x{e9} is UTF-8 é");
    T_EQ_INT(re("\\Q.*\\E", "a.*b"), 1, "\\Q…\\E quotes");
    T_EQ_INT(re("\\Q.*\\E", "ab"), 0, "\\Q…\\E is literal");
    T_EQ_INT(re("\\.", "a.b"), 1, "escaped dot");
    T_EQ_INT(re("\\.", "ab"), 0, "escaped dot is literal");
    T_EQ_INT(re("\\Aab\\z", "ab"), 1, "\\A and \\z");
    T_EQ_INT(re("^[[:digit:]]+$", "42"), 1, "POSIX class");
    T_EQ_INT(re("\\/api", "/api"), 1, "escaped slash");
    T_EQ_INT(re("a|b", "b"), 1, "alternation");
    T_EQ_INT(re("\\1", "a"), -1, "back-reference refused");
    T_EQ_INT(re("*a", "a"), -1, "repetition of nothing refused");
    T_EQ_INT(re("a**", "a"), -1, "double repetition refused");
    T_EQ_INT(re("a{1001}", "a"), -1, "count over 1000 refused");
    T_EQ_INT(re("((a{1000}){1000})", "a"), -1, "blow-up refused");
    T_EQ_INT(re("\\pL", "a"), -1, "\\p refused");
    T_EQ_INT(re("(?s).", "a"), -1, "other flags refused");
    T_EQ_INT(re("(a", "a"), -1, "unbalanced (");
    T_EQ_INT(re("a)", "a"), -1, "unbalanced )");
    T_EQ_INT(re("[a", "a"), -1, "unterminated class");
    T_EQ_INT(re("[[:nope:]]", "a"), -1, "unknown POSIX class");
    T_EQ_INT(re("[z-a]", "a"), -1, "reversed range");
    {
        char err[64];
        kfl_regex *r = kfl_regex_new("b", 1, err, sizeof err);
        T_OK(r && kfl_regex_search(r, "a\0b", 3) == 1, "search sees past an embedded NUL");
        kfl_regex_free(r);
    }

    /* numbers compare exactly across kinds */
    T_EQ_INT(num_cmp(I(500), D(500.0)), 0, "500 == 500.0");
    T_EQ_INT(num_cmp(I(500), D(500.5)), -1, "500 < 500.5");
    T_EQ_INT(num_cmp(I(-1), D(-1.5)), 1, "-1 > -1.5");
    T_EQ_INT(num_cmp(I(INT64_MAX), D(9223372036854775808.0)), -1, "INT64_MAX < 2^63");
    T_EQ_INT(num_cmp(I(INT64_MIN), D(-9223372036854775808.0)), 0, "INT64_MIN == -2^63");
    T_EQ_INT(num_cmp(U(UINT64_MAX), D(18446744073709551616.0)), -1, "UINT64_MAX < 2^64");
    T_EQ_INT(num_cmp(U(UINT64_MAX), I(-1)), 1, "UINT64_MAX > -1");
    T_EQ_INT(num_cmp(I(-1), U(0)), -1, "-1 < 0u");
    T_EQ_INT(num_cmp(U(5), D(4.5)), 1, "5u > 4.5");
    T_EQ_INT(num_cmp(D(0.0 / 0.0), I(1)), KFL_CMP_ERR, "NaN does not order");

    /* JSON values */
    kfl_arena a = { 0 };
    kfl_val v;
    T_OK(kfl_json_decode(&a, "500", 3, &v) == 0 && v.k == KT_INT && v.i == 500, "int");
    T_OK(kfl_json_decode(&a, "18446744073709551615", 20, &v) == 0 && v.k == KT_UINT && v.u == UINT64_MAX, "beyond int64: uint");
    T_OK(kfl_json_decode(&a, "-1.5e1", 6, &v) == 0 && v.k == KT_DOUBLE && v.d == -15.0, "double");
    T_OK(kfl_json_decode(&a, "\"a\\u00e9\\n\"", 11, &v) == 0 && v.k == KT_STRING && v.s.n == 4 && !memcmp(v.s.p, "a\xc3\xa9\n", 4), "escapes decoded");
    T_OK(kfl_json_decode(&a, "\"plain\"", 7, &v) == 0 && v.s.n == 5, "plain string");
    T_OK(kfl_json_decode(&a, "[1,\"x\",{\"k\":true}]", 18, &v) == 0 && v.k == KT_LIST && v.l->n == 3 &&
         v.l->v[2].k == KT_MAP && v.l->v[2].m->val[0].b == 1, "list with a map");
    T_OK(kfl_json_decode(&a, "[1,", 3, &v) != 0, "bad JSON");
    T_OK(kfl_json_decode(&a, "truex", 5, &v) != 0, "bad literal");
    kfl_arena_reset(&a);
    for (int i = 0; i < 10000; i++) if (!kfl_alloc(&a, 1000)) break;
    kfl_arena_reset(&a);
    T_OK(kfl_alloc(&a, 100000) != NULL, "arena: large allocation after reset");
    kfl_arena_free(&a);
    T_DONE();
}
