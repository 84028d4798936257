/* hpack.c — HPACK (RFC 7541): integers with N-bit prefixes (§5.1), string literals with
 * Huffman coding (§5.2, Appendix B), the static table (Appendix A) and the dynamic table
 * (§2.3.2, §4) with size updates (§6.3).
 *
 *   indexed          1xxxxxxx                      index (7-bit prefix)
 *   literal +index   01xxxxxx                      name index (6) or 0 + name; value
 *   size update      001xxxxx                      new max size (5)
 *   literal no-index 0000xxxx / never 0001xxxx     name index (4) or 0 + name; value
 *
 * Hand-written: no library on the build line (libpcap, libarchive, jansson, zlib) decodes
 * HPACK. The Huffman code is canonical, so the table below holds only the code length of each
 * symbol (RFC 7541 Appendix B, "len" column); codes are rebuilt from the lengths once. */
#include "hpack.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "kf_cursor.h"

struct kd_hpack_entry {
    size_t nlen, vlen;
    char data[];                /* name then value */
};

static const struct { const char *n, *v; } hp_static[61] = {
    {":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"},
    {":path", "/index.html"}, {":scheme", "http"}, {":scheme", "https"}, {":status", "200"},
    {":status", "204"}, {":status", "206"}, {":status", "304"}, {":status", "400"},
    {":status", "404"}, {":status", "500"}, {"accept-charset", ""}, {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""}, {"accept-ranges", ""}, {"accept", ""}, {"access-control-allow-origin", ""},
    {"age", ""}, {"allow", ""}, {"authorization", ""}, {"cache-control", ""},
    {"content-disposition", ""}, {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
    {"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""},
    {"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""},
    {"from", ""}, {"host", ""}, {"if-match", ""}, {"if-modified-since", ""},
    {"if-none-match", ""}, {"if-range", ""}, {"if-unmodified-since", ""}, {"last-modified", ""},
    {"link", ""}, {"location", ""}, {"max-forwards", ""}, {"proxy-authenticate", ""},
    {"proxy-authorization", ""}, {"range", ""}, {"referer", ""}, {"refresh", ""},
    {"retry-after", ""}, {"server", ""}, {"set-cookie", ""}, {"strict-transport-security", ""},
    {"transfer-encoding", ""}, {"user-agent", ""}, {"vary", ""}, {"via", ""},
    {"www-authenticate", ""},
};

/* Code length in bits of symbols 0..255 and EOS (256), RFC 7541 Appendix B. */
static const uint8_t hp_len[257] = {
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,   /*   0 */
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,   /*  16 */
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,           /*  32 */
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,                /*  48 */
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,                  /*  64 */
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,               /*  80 */
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,                  /*  96 */
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,              /* 112 */
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,   /* 128 */
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,   /* 144 */
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,   /* 160 */
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,   /* 176 */
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,   /* 192 */
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,   /* 208 */
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,   /* 224 */
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,   /* 240 */
    30,                                                               /* EOS */
};

/* Canonical decoding tables: for each length L, the first code of that length, how many codes
 * have it, and where its symbols start in hp_sym (symbols ordered by (length, value)). */
static struct {
    uint32_t first[31];
    uint16_t count[31], start[31];
    uint16_t sym[257];
} hp_dec;
static pthread_once_t hp_once = PTHREAD_ONCE_INIT;

static void hp_build(void)
{
    uint16_t k = 0;
    uint32_t code = 0;
    for (int len = 1; len <= 30; len++) {
        hp_dec.first[len] = code;
        hp_dec.start[len] = k;
        for (int s = 0; s < 257; s++)
            if (hp_len[s] == len) { hp_dec.sym[k++] = (uint16_t)s; hp_dec.count[len]++; }
        code = (code + hp_dec.count[len]) << 1;
    }
}

long kd_hpack_huffman(const uint8_t *p, size_t n, char *out, size_t cap)
{
    pthread_once(&hp_once, hp_build);
    size_t o = 0;
    uint32_t code = 0;
    int len = 0, ones = 1;   /* ones: every bit of the pending code is 1 (valid padding) */
    for (size_t i = 0; i < n; i++) {
        for (int b = 7; b >= 0; b--) {
            int bit = p[i] >> b & 1;
            code = code << 1 | (uint32_t)bit;
            ones &= bit;
            len++;
            if (len > 30) return -1;
            uint32_t d = code - hp_dec.first[len];
            if (code >= hp_dec.first[len] && d < hp_dec.count[len]) {
                uint16_t s = hp_dec.sym[hp_dec.start[len] + d];
                if (s == 256) return -1;          /* EOS inside a string (§5.2) */
                if (o >= cap) return -1;
                out[o++] = (char)s;
                code = 0; len = 0; ones = 1;
            }
        }
    }
    if (len > 7 || !ones) return -1;              /* padding: < 8 bits, all ones */
    return (long)o;
}

/* Integer with an N-bit prefix (§5.1); the first byte's prefix bits are in *c's first byte. */
static uint64_t hp_int(kf_cur *c, int nbits)
{
    uint8_t mask = (uint8_t)((1u << nbits) - 1);
    uint64_t v = kf_u8(c) & mask;
    if (v < mask) return v;
    for (int shift = 0; shift <= 56; shift += 7) {
        uint8_t b = kf_u8(c);
        if (c->err) return 0;
        v += (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    c->err = 1;
    return 0;
}

#define HP_STR_MAX 65536

/* Makes room for need bytes at h->buf + at. */
static char *hp_room(kd_hpack *h, size_t at, size_t need)
{
    if (at + need > h->buf_cap || !h->buf) {
        size_t cap = h->buf_cap ? h->buf_cap : 256;
        while (cap < at + need) cap *= 2;
        char *nb = realloc(h->buf, cap);
        if (!nb) return NULL;
        h->mem += (long)(cap - h->buf_cap);
        h->buf = nb; h->buf_cap = cap;
    }
    return h->buf + at;
}

/* Reads a string literal (§5.2) into h->buf + at (decoded if Huffman). Returns length or -1. */
static long hp_str(kd_hpack *h, kf_cur *c, size_t at)
{
    if (kf_cur_left(c) < 1) { c->err = 1; return -1; }
    int huff = c->p[0] & 0x80;
    uint64_t len = hp_int(c, 7);
    if (c->err || len > HP_STR_MAX) { c->err = 1; return -1; }
    const uint8_t *s = kf_cur_take(c, (size_t)len);
    if (!s) return -1;
    size_t need = huff ? (size_t)len * 8 / 5 + 1 : (size_t)len;
    char *out = hp_room(h, at, need);
    if (!out) return -1;
    if (huff) return kd_hpack_huffman(s, (size_t)len, out, need);
    memcpy(out, s, (size_t)len);
    return (long)len;
}

void kd_hpack_init(kd_hpack *h, size_t limit)
{
    memset(h, 0, sizeof *h);
    h->max_size = 4096;
    h->limit = limit < 4096 ? 4096 : limit > 65536 ? 65536 : limit;
}

static void hp_evict(kd_hpack *h, size_t want)
{
    while (h->count && h->size > want) {
        size_t idx = (h->head + h->count - 1) % h->cap;   /* oldest */
        kd_hpack_entry *e = h->ring[idx];
        h->size -= e->nlen + e->vlen + 32;
        h->mem -= (long)(sizeof *e + e->nlen + e->vlen);
        free(e);
        h->ring[idx] = NULL;
        h->count--;
    }
}

void kd_hpack_free(kd_hpack *h)
{
    hp_evict(h, 0);
    free(h->ring);
    free(h->buf);
    h->buf = NULL; h->buf_cap = 0;
    h->mem = 0;
    h->ring = NULL;
    h->cap = h->count = h->head = h->size = 0;
}

static void hp_insert(kd_hpack *h, const char *n, size_t nl, const char *v, size_t vl)
{
    size_t esz = nl + vl + 32;
    if (esz > h->max_size) { hp_evict(h, 0); return; }   /* §4.4: empties the table */
    hp_evict(h, h->max_size - esz);
    if (h->count == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 16;
        kd_hpack_entry **nr = malloc(ncap * sizeof *nr);
        if (!nr) return;
        for (size_t i = 0; i < h->count; i++) nr[i] = h->ring[(h->head + i) % h->cap];
        free(h->ring);
        h->mem += (long)((ncap - h->cap) * sizeof *nr);
        h->ring = nr; h->cap = ncap; h->head = 0;
    }
    kd_hpack_entry *e = malloc(sizeof *e + nl + vl);
    if (!e) return;
    e->nlen = nl; e->vlen = vl;
    memcpy(e->data, n, nl);
    memcpy(e->data + nl, v, vl);
    h->head = (h->head + h->cap - 1) % h->cap;
    h->ring[h->head] = e;
    h->count++;
    h->size += esz;
    h->mem += (long)(sizeof *e + nl + vl);
}

/* Looks up index i (1-based, §2.3.3). Returns 0 ok, 1 unknown dynamic entry, -1 invalid. */
static int hp_lookup(const kd_hpack *h, uint64_t i, const char **n, size_t *nl, const char **v, size_t *vl)
{
    if (i == 0) return -1;
    if (i <= 61) {
        *n = hp_static[i - 1].n; *nl = strlen(*n);
        *v = hp_static[i - 1].v; *vl = strlen(*v);
        return 0;
    }
    uint64_t d = i - 62;
    if (d >= h->count) {
        if (i > 62 + 65536 / 32) return -1;   /* more than any table could hold */
        *n = "?"; *nl = 1; *v = ""; *vl = 0;
        return 1;
    }
    const kd_hpack_entry *e = h->ring[(h->head + d) % h->cap];
    *n = e->data; *nl = e->nlen;
    *v = e->data + e->nlen; *vl = e->vlen;
    return 0;
}

int kd_hpack_decode(kd_hpack *h, const uint8_t *p, size_t n, kd_hpack_field_fn fn, void *ctx)
{
    kf_cur c = kf_cur_make(p, n);
    int rc = 0;
    while (kf_cur_left(&c) > 0) {
        uint8_t b = c.p[0];
        if (b & 0x80) {                                     /* indexed field */
            uint64_t i = hp_int(&c, 7);
            const char *nn, *vv; size_t nl, vl;
            int r = c.err ? -1 : hp_lookup(h, i, &nn, &nl, &vv, &vl);
            if (r < 0) { rc = -1; break; }
            if (r) h->unknown_refs++;
            fn(ctx, nn, nl, vv, vl, r);
        } else if ((b & 0xe0) == 0x20) {                    /* dynamic table size update */
            uint64_t sz = hp_int(&c, 5);
            if (c.err || sz > h->limit) { rc = -1; break; }
            h->max_size = (size_t)sz;
            hp_evict(h, h->max_size);
        } else {                                            /* literal */
            int incr = (b & 0xc0) == 0x40;
            uint64_t ni = hp_int(&c, incr ? 6 : 4);
            if (c.err) { rc = -1; break; }
            const char *nn; size_t nl; int unknown = 0;
            if (ni) {
                const char *vv; size_t vl;
                int r = hp_lookup(h, ni, &nn, &nl, &vv, &vl);
                if (r < 0) { rc = -1; break; }
                if (r) { h->unknown_refs++; unknown = 1; }
                char *d = hp_room(h, 0, nl);
                if (!d) { rc = -1; break; }
                memcpy(d, nn, nl);
            } else {
                long l = hp_str(h, &c, 0);
                if (l < 0) { rc = -1; break; }
                nl = (size_t)l;
            }
            long vl = hp_str(h, &c, nl);
            if (vl < 0) { rc = -1; break; }
            fn(ctx, h->buf, nl, h->buf + nl, (size_t)vl, unknown);
            if (incr) hp_insert(h, h->buf, nl, h->buf + nl, (size_t)vl);
        }
    }
    return rc;
}
