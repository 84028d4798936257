/* kf_limits — the input limits every reader enforces (docs/limits.md lists them all, with their
 * defaults and how to change them). A limit is read once from its environment variable, a byte
 * count with an optional K, M or G suffix (powers of 1024); unset or unparsable means the
 * default. Messages that hit a limit name the variable, so the user knows what to raise. */
#ifndef KF_LIMITS_H
#define KF_LIMITS_H
#include <stdint.h>

/* one JSON value of metadata (a watch event, an object, a whole kubectl List) */
#define KF_LIMIT_META_VALUE "KF_MAX_META_VALUE"
#define KF_LIMIT_META_VALUE_DEFAULT (64ull << 20)
/* all metadata text one model loads (events of a store, a snapshot, files given) */
#define KF_LIMIT_META_TOTAL "KF_MAX_META_TOTAL"
#define KF_LIMIT_META_TOTAL_DEFAULT (1ull << 30)
/* a snapshot's manifest.json */
#define KF_LIMIT_MANIFEST "KF_MAX_MANIFEST"
#define KF_LIMIT_MANIFEST_DEFAULT (32ull << 20)
/* one line of NDJSON records (kfl input, kexport --calls) */
#define KF_LIMIT_LINE "KF_MAX_LINE"
#define KF_LIMIT_LINE_DEFAULT (256ull << 20)
/* members of one snapshot */
#define KF_LIMIT_MEMBERS "KF_MAX_MEMBERS"
#define KF_LIMIT_MEMBERS_DEFAULT 1000000ull

/* The limit named env (default dflt). */
uint64_t kf_limit(const char *env, uint64_t dflt);
/* "64 MiB" style text for messages. */
const char *kf_limit_human(uint64_t v, char *buf, unsigned len);
#endif
