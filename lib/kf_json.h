/* kf_json — a streaming NDJSON writer into a growable buffer.
 * jansson is used for everything that parses JSON; this writer exists because building a
 * jansson tree per record on the hot path of kdissect costs far more than appending bytes.
 *
 * Strings: valid UTF-8 passes through; ", \ and control bytes are escaped (\n \t \r \b \f,
 * others \u00XX); each byte that is not part of valid UTF-8 is written as the six characters
 * "\\xNN" (a backslash, x, two hex digits; in JSON text: "\\xNN"), as Zeek does, so a line is
 * always valid JSON and UTF-8. Binary payloads are carried as base64 in a separate field with
 * an "encoding":"base64" marker (see docs/schema.md).
 *
 * Commas are inserted automatically (values written at the top level of one line are separated
 * by a space). The buffer grows with realloc and is kept NUL-terminated once anything was
 * written; allocation failure, nesting deeper than 63 or an unbalanced end sets a sticky error
 * (kf_jw_failed, cleared by kf_jw_reset). Nothing is printed; the caller writes
 * kf_jw_data()/kf_jw_len(). */
#ifndef KF_JSON_H
#define KF_JSON_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>

typedef struct kf_jw {
    char *buf;
    size_t len, cap;
    int depth;
    uint64_t first;   /* bit per depth: next item is the first in its container */
    int after_key;
    int failed;
    /* the last two times written by kf_jw_kc_time, as text (a record's five times repeat two
     * of their values, e.g. timestamp and first_ts: formatting them again was 1 % of kdissect's
     * instructions on bench/data/api-one.pcap); tc_valid: bit per slot */
    int64_t tc_ns[2];
    unsigned tc_valid, tc_next;
    char tc_txt[2][32];
    /* ext: buf is memory of the caller's (kf_jw_reset_into); own/own_cap: the writer's own
     * buffer meanwhile, taken back when the text outgrows buf or at the next reset */
    int ext;
    char *own;
    size_t own_cap;
} kf_jw;

void kf_jw_init(kf_jw *w);
void kf_jw_free(kf_jw *w);
void kf_jw_reset(kf_jw *w);                   /* empty the buffer, keep memory */
/* Empties the writer and writes into the caller's mem[0..cap) (cap >= 1) instead of its own
 * buffer, until the text and its NUL outgrow cap: then the text moves to the writer's own buffer
 * (kf_jw_in_ext turns 0) and goes on there; kf_jw_reset goes back to the own buffer too. The
 * caller keeps mem alive and untouched meanwhile. Hand-written for the benchmark: kdissect writes
 * a record straight into its place among the waiting records, instead of copying it there
 * (about 170 instructions a record on bench/data/api-one.pcap, 1.18 GB of text). */
void kf_jw_reset_into(kf_jw *w, char *mem, size_t cap);
static inline int kf_jw_in_ext(const kf_jw *w) { return w->ext; }
void kf_jw_obj_begin(kf_jw *w);
void kf_jw_obj_end(kf_jw *w);
void kf_jw_arr_begin(kf_jw *w);
void kf_jw_arr_end(kf_jw *w);
void kf_jw_keyn(kf_jw *w, const char *k, size_t n);   /* escaped as a string value is */
void kf_jw_str(kf_jw *w, const char *s);       /* NULL writes null */
void kf_jw_strn(kf_jw *w, const char *s, size_t n);
void kf_jw_int(kf_jw *w, int64_t v);
void kf_jw_uint(kf_jw *w, uint64_t v);
void kf_jw_double(kf_jw *w, double v);         /* non-finite written as null */
void kf_jw_bool(kf_jw *w, int v);
void kf_jw_null(kf_jw *w);
void kf_jw_time(kf_jw *w, int64_t ns);         /* RFC 3339 UTC with ns, as a string */
void kf_jw_base64(kf_jw *w, const uint8_t *p, size_t n);
void kf_jw_raw(kf_jw *w, const char *json, size_t n); /* an already-encoded JSON value */
/* Appends bytes as they are, with no separator and no change of state: for a run of items this
 * writer made earlier (from the same state, ending in it), e.g. ",\"a\":1,\"b\":{}" copied
 * out of kf_jw_data() after a first item of the object. The caller keeps the text valid. */
void kf_jw_append(kf_jw *w, const char *s, size_t n);
/* Appends s[0..n), one or more whole items of a container (`"k":v,"k2":v2` in an object, `v,v2`
 * in an array) as this writer wrote them earlier without the separator before the first, as
 * the next items of the current container: the separator when they are not its first, then the
 * state after an item. The caller keeps the text valid (e.g. copied out of kf_jw_data() from
 * right after an item's separator, or an opening brace, to the end of an item). */
void kf_jw_items(kf_jw *w, const char *s, size_t n);
/* key + value shorthands. Inline so that a constant key's length is known where it is written:
 * a key that is a string literal (a compile-time constant) is copied as it is, without being
 * looked at for escapes, together with its value in one call. Hand-written for the benchmark:
 * keys were 15 % of kdissect's instructions on bench/data/api-one.pcap (about 150 per record).
 * So a literal key must need no escaping (no '"', '\\' or control bytes; ours are
 * [A-Za-z0-9_.:-]); any other key goes through the escaper. */
void kf_jw_keyc(kf_jw *w, const char *k, size_t n);   /* k needs no escaping */
void kf_jw_kc_strn(kf_jw *w, const char *k, size_t kn, const char *v, size_t n);
void kf_jw_kc_int(kf_jw *w, const char *k, size_t kn, int64_t v);
void kf_jw_kc_uint(kf_jw *w, const char *k, size_t kn, uint64_t v);
void kf_jw_kc_bool(kf_jw *w, const char *k, size_t kn, int v);
void kf_jw_kc_time(kf_jw *w, const char *k, size_t kn, int64_t ns);
void kf_jw_kc_raw(kf_jw *w, const char *k, size_t kn, const char *json, size_t n);   /* as kf_jw_raw */
#define KF_JW_CONSTKEY(k, n) __builtin_constant_p(n)
static inline void kf_jw_key(kf_jw *w, const char *k)
{
    size_t n = strlen(k);
    if (KF_JW_CONSTKEY(k, n)) kf_jw_keyc(w, k, n); else kf_jw_keyn(w, k, n);
}
static inline void kf_jw_kstrn(kf_jw *w, const char *k, const char *v, size_t n)
{
    size_t kn = strlen(k);
    if (KF_JW_CONSTKEY(k, kn)) kf_jw_kc_strn(w, k, kn, v, n);
    else { kf_jw_keyn(w, k, kn); kf_jw_strn(w, v, n); }
}
static inline void kf_jw_kstr(kf_jw *w, const char *k, const char *v)
{
    if (v) kf_jw_kstrn(w, k, v, strlen(v));
    else { kf_jw_key(w, k); kf_jw_null(w); }
}
static inline void kf_jw_kint(kf_jw *w, const char *k, int64_t v)
{
    size_t kn = strlen(k);
    if (KF_JW_CONSTKEY(k, kn)) kf_jw_kc_int(w, k, kn, v); else { kf_jw_keyn(w, k, kn); kf_jw_int(w, v); }
}
static inline void kf_jw_kuint(kf_jw *w, const char *k, uint64_t v)
{
    size_t kn = strlen(k);
    if (KF_JW_CONSTKEY(k, kn)) kf_jw_kc_uint(w, k, kn, v); else { kf_jw_keyn(w, k, kn); kf_jw_uint(w, v); }
}
static inline void kf_jw_kbool(kf_jw *w, const char *k, int v)
{
    size_t kn = strlen(k);
    if (KF_JW_CONSTKEY(k, kn)) kf_jw_kc_bool(w, k, kn, v); else { kf_jw_keyn(w, k, kn); kf_jw_bool(w, v); }
}
static inline void kf_jw_ktime(kf_jw *w, const char *k, int64_t ns)
{
    size_t kn = strlen(k);
    if (KF_JW_CONSTKEY(k, kn)) kf_jw_kc_time(w, k, kn, ns); else { kf_jw_keyn(w, k, kn); kf_jw_time(w, ns); }
}
static inline void kf_jw_kraw(kf_jw *w, const char *k, const char *json, size_t n)
{
    size_t kn = strlen(k);
    if (KF_JW_CONSTKEY(k, kn)) kf_jw_kc_raw(w, k, kn, json, n); else { kf_jw_keyn(w, k, kn); kf_jw_raw(w, json, n); }
}
static inline void kf_jw_kdouble(kf_jw *w, const char *k, double v) { kf_jw_key(w, k); kf_jw_double(w, v); }
void kf_jw_newline(kf_jw *w);                  /* ends the record: "\n", resets nesting state */
static inline const char *kf_jw_data(const kf_jw *w) { return w->buf; }
static inline size_t kf_jw_len(const kf_jw *w) { return w->len; }
static inline int kf_jw_failed(const kf_jw *w) { return w->failed; }
/* Length of the prefix of s[0..n) that is written as it is (needs no escaping); n: all of it. */
size_t kf_json_plain_len(const char *s, size_t n);
/* Escapes into a caller buffer as above, without quotes; returns needed length. Like snprintf:
 * writes whole escapes only, NUL-terminates when outcap > 0; out may be NULL to measure. */
size_t kf_json_escape(const char *s, size_t n, char *out, size_t outcap);
#endif
