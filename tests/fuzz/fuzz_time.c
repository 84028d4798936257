/* libFuzzer target: kf_time_parse, kf_duration_parse, kf_size_parse and the strict RFC 3339
 * parser on arbitrary text, plus formatting of whatever they return. The first byte picks the
 * zone (UTC, a half-hour zone, a DST zone, a POSIX rule) so local-time paths run too. */
#include "kf_time.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *zones[] = { "UTC", "Asia/Kolkata", "America/New_York", "XYZ-3" };
    static int last = -1;
    if (size == 0) return 0;
    int z = data[0] & 3;
    if (z != last) { setenv("TZ", zones[z], 1); tzset(); last = z; }
    data++; size--;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char err[256], buf[128];
    int64_t ns, d;
    uint64_t b;
    const int64_t now = 1773509025123456789LL;
    err[0] = '\0';
    if (kf_time_parse(s, now, &ns, err, sizeof err) == 0) {
        kf_time_human(ns, 0, 9, buf, sizeof buf);
        kf_time_human(ns, 1, 3, buf, sizeof buf);
        /* RFC 3339 output must parse back to the same instant */
        kf_time_rfc3339(ns, buf, sizeof buf);
        int64_t back;
        if (kf_time_parse(buf, now, &back, err, sizeof err) != 0 || back != ns) abort();
    } else if (!err[0]) {
        abort();   /* every failure says why */
    }
    if (kf_duration_parse(s, &d) == 0) {
        if (d < 0) abort();
        kf_duration_human(d, buf, sizeof buf);
    }
    kf_size_parse(s, &b);
    kf_time_parse_rfc3339(s, size, &ns);
    /* tiny output buffers must not overflow */
    kf_time_human(now, 0, 9, buf, 5);
    kf_duration_human(-now, buf, 3);
    free(s);
    return 0;
}
