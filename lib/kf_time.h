/* kf_time — time arguments and time output.
 * Times are int64 ns since the Unix epoch (UTC). */
#ifndef KF_TIME_H
#define KF_TIME_H
#include <stdint.h>
#include <stddef.h>

#define KF_NS_PER_SEC 1000000000LL

/* Parses a time argument into *ns. Accepted:
 *   RFC 3339 with a zone:      2026-03-14T17:23:45Z, 2026-03-14T19:23:45.5+02:00 (also ' ' for 'T')
 *   local time without a zone:  2026-03-14 19:23:45, 2026-03-14T19:23, 2026-03-14 (TZ's zone)
 *   epoch:                      1710436800 (s), 1710436800123 (ms), …123456789 (ns) by digit count,
 *                               or with a suffix: 1710436800s / ms / us / ns, or 1710436800.25
 *   relative to now_ns:         now, -15m, 15m ago, 2h ago, now-1h, +30s
 *   also: "… UTC"/"… GMT", the local zone's own name ("2026-03-14 19:23:45 IST"), a time of
 *   day alone ("19:23", today), and pasted kf_time_human output. docs/time.md has them all.
 * Returns 0, or -1 with a message in err. */
int kf_time_parse(const char *s, int64_t now_ns, int64_t *ns, char *err, size_t errlen);

/* Parses a duration: "90", "90s", "15m", "2h30m", "1d", "500ms", "1.5h", "24h". Bare numbers are
 * seconds. Units: ns us µs ms s m h d w. Returns 0 or -1. */
int kf_duration_parse(const char *s, int64_t *ns);
/* Parses a size: "64M", "2G", "1.5GiB", "4096" (bytes); K/M/G/T are powers of 1024. */
int kf_size_parse(const char *s, uint64_t *bytes);

/* RFC 3339 UTC with nanoseconds: 2026-03-14T17:23:45.123456789Z. buf >= 32 bytes. */
char *kf_time_rfc3339(int64_t ns, char *buf, size_t len);
/* The same 30 characters into out (room for 30, not NUL-terminated); returns 30. */
size_t kf_time_rfc3339_put(int64_t ns, char *out);
/* Human: local time with UTC in parentheses: "2026-03-14 19:23:45 IST (17:23:45 UTC)";
 * with utc_only: "2026-03-14 17:23:45 UTC". Shows the date in the UTC part when it differs.
 * When the local zone is UTC itself (TZ=UTC, as in tests) the UTC-only form is used.
 * buf >= 64 bytes. frac_digits 0..9 decimals after the seconds. */
char *kf_time_human(int64_t ns, int utc_only, int frac_digits, char *buf, size_t len);
/* Human form of a duration: "1h02m03s", "250ms". */
char *kf_duration_human(int64_t ns, char *buf, size_t len);
/* Parses RFC 3339 (any zone, optional fraction) strictly; 0 ok, -1 bad. */
int kf_time_parse_rfc3339(const char *s, size_t len, int64_t *ns);
int64_t kf_now_ns(void);
/* "00" "01" … "99": the hundred two-digit pairs, for writing numbers two digits at a time */
extern const char kf_digits2[201];
#endif
