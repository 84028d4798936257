/* http_common.h — what HTTP/1 (http1.c) and HTTP/2 (http2.c) share, so the same request gives
 * the same `request`/`response` objects over either: the header map (RFC 9110 5.2/5.3: names
 * without case, repeated fields joined once), cookies (RFC 6265: names keep their case), the
 * query string (WHATWG urlencoded: '+' is a space) and GraphQL detection
 * (graphql.org/learn/serving-over-http). */
#ifndef KD_HTTP_COMMON_H
#define KD_HTTP_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include "kf_json.h"

/* A map being built: one entry per name, in first-seen order, values joined on repeats. Names
 * and values are NUL-terminated copies cut from the map's own arena (the first 2 KiB and 24
 * entries inside the struct, so a map on the stack costs no malloc for an ordinary head); a
 * value that grows by repeats moves to a malloc of its own (vcap its size). Start from
 * `kd_hmap m = { 0 }` or kd_hmap_init (which leaves the 3 KB of room as it is: zeroing them
 * was 3 % of kdissect's time), end with kd_hmap_free; do not copy a map. Hand-written for the benchmark:
 * malloc/free per name and value were 15 % of kdissect's time on bench/data/api-one.pcap. */
typedef struct kd_hent { char *name; char *value; size_t nl, vl, vcap; } kd_hent;
#define KD_HMAP_INLINE 24           /* entries inside the struct */
#define KD_HMAP_ARENA 2048          /* arena bytes inside the struct */
typedef struct kd_hmap {
    kd_hent *e; int n, cap;
    char *ab; size_t au, acap;      /* current arena block: start, used, size */
    void *blocks;                   /* malloc'd arena blocks (a list through their first word) */
    kd_hent ie[KD_HMAP_INLINE];
    char ia[KD_HMAP_ARENA];
} kd_hmap;
static inline void kd_hmap_init(kd_hmap *m)
{
    m->e = NULL; m->n = m->cap = 0;
    m->ab = NULL; m->au = m->acap = 0;
    m->blocks = NULL;
}

#define KD_HTTP_MAX_FIELDS 128      /* header names kept per message */
#define KD_HTTP_MAX_COOKIES 64      /* cookie names kept per message */
#define KD_HTTP_MAX_QUERY 64        /* query keys kept per request */

/* Header field: the name lower-cased, compared without case; a repeated name's values joined
 * with ", " (set-cookie: with "\n", its values may hold commas). */
void kd_http_header(kd_hmap *h, const char *name, size_t nl, const char *val, size_t vl);
/* Appends to the last value added (obs-fold continuation line): " " + text. */
void kd_http_header_fold(kd_hmap *h, const char *text, size_t n);
/* A header's value (name in lower case), or NULL. */
const char *kd_http_get(const kd_hmap *h, const char *lname);
/* Cookies of one Cookie value ("a=1; b=2") or Set-Cookie value(s) ("\n"-joined; the first pair
 * of each, attributes are not cookies). Names keep their case; repeats joined with ",". */
void kd_http_cookies(kd_hmap *ck, const char *v, size_t vl, int set_cookie);
/* A query string (without '?'): keys and values percent-decoded, '+' a space; a repeated key's
 * values joined with ","; a key without '=' has the value "". */
void kd_http_query(kd_hmap *q, const char *qs, size_t n);
/* Its object as kd_hmap_render writes the map (and a NUL) into out, room for
 * KD_HTTP_QUERY_RENDER_MAX(n) bytes, straight from the bytes when the query string is ordinary
 * (no '%', '+' or NUL, no key twice, at most KD_HTTP_MAX_QUERY keys, keys < 256 and values
 * < 2048 bytes); returns its length, or SIZE_MAX (nothing meant) for any other. */
#define KD_HTTP_QUERY_RENDER_MAX(n) (6 * (n) + 6 * KD_HTTP_MAX_QUERY + 3)
size_t kd_http_query_render(const char *qs, size_t n, char *out);
/* The object of a query string (the key written by the caller): rendered when ordinary, else
 * through the map. */
void kd_http_query_write(kf_jw *w, const char *qs, size_t n);
/* Writes the map as a JSON object (the key, if any, written by the caller). */
void kd_hmap_write(kf_jw *w, const kd_hmap *m);
/* The same text into out (room for kd_hmap_render_max(m) bytes: SIZE_MAX means too big), with a
 * NUL after it; returns its length. */
size_t kd_hmap_render_max(const kd_hmap *m);
size_t kd_hmap_render(const kd_hmap *m, char *out);
/* The map as JSON object text (malloc'd), or NULL. */
char *kd_hmap_json(const kd_hmap *m);
void kd_hmap_free(kd_hmap *m);
/* Percent-decodes s[0..n) into out (cap bytes, NUL-terminated); plus: '+' is a space. */
size_t kd_http_pct(const char *s, size_t n, char *out, size_t cap, int plus);

/* A message body as both versions keep it (RFC 9110 8.4): the bytes after de-chunking (HTTP/1)
 * or of the DATA frames (HTTP/2) counted in `size`, decoded from one gzip, x-gzip or deflate
 * content coding (zlib; "deflate" sent as raw deflate is accepted) as they arrive, and kept up
 * to the body limit. `mem` is the heap it holds (report changes with kd_conn_mem). */
typedef struct kd_http_body {
    uint8_t *buf; size_t len, cap;
    uint64_t size;              /* body bytes before content decoding */
    int truncated;              /* decoded bytes past the limit were dropped */
    int enc;                    /* 0 none, 1 gzip, 2 deflate (zlib), 3 deflate (raw) */
    int zfail, zdone, started;
    char enc_name[16];          /* the coding as the header named it (body_decoded_from) */
    struct z_stream_s *zs;
    long mem;
    /* set by the owner (NULL: malloc/free): a first buffer of KD_HTTP_BODY_BLK bytes comes from
     * this connection's recycled blocks (kd_conn_blk_get) and goes back to them. Hand-written for
     * the benchmark: on bench/data/api-one.pcap every body fits in one such buffer, and its
     * malloc and free per message were 1.2 % of kdissect's instructions. mem counts it as before. */
    struct kd_conn *blk;
} kd_http_body;
#define KD_HTTP_BODY_BLK 256   /* a body buffer's first size */
/* Adds body bytes; content_encoding: the message's Content-Encoding (or NULL), read once. */
void kd_http_body_add(kd_http_body *b, const char *content_encoding, const uint8_t *p, size_t n, size_t limit);
/* The body was cut by a gap: what follows cannot be decoded, the text is incomplete. */
void kd_http_body_gap(kd_http_body *b, uint64_t len);
/* Writes body (text, or base64 with body_encoding), body_truncated, body_decoded_from. */
void kd_http_body_write(kf_jw *w, const kd_http_body *b);
void kd_http_body_free(kd_http_body *b);

/* GraphQL over HTTP: target (url/:path), content type, request body (not NUL-terminated; cut:
 * the body was truncated). Returns 1 when the request is a GraphQL operation, with its type
 * ("query", "mutation", "subscription") and name ("" when anonymous). */
int kd_http_graphql(const char *target, const char *ctype, const uint8_t *body, size_t blen, int cut,
                    char *op, size_t opn, char *type, size_t tn);
#endif
