/* http_common.c — the HTTP layer HTTP/1 and HTTP/2 share (http_common.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <zlib.h>
#include "../dissector.h"
#include "http_common.h"
#include "gql.h"

static int hmap_find(const kd_hmap *m, const char *name, size_t nl, int fold)
{
    for (int i = 0; i < m->n; i++) {
        const char *k = m->e[i].name;
        if (m->e[i].nl != nl) continue;
        if (fold ? strncasecmp(k, name, nl) == 0 : memcmp(k, name, nl) == 0) return i;
    }
    return -1;
}

/* n bytes from the map's arena (never moved, freed with the map), or NULL */
static char *hmap_alloc(kd_hmap *m, size_t n)
{
    if (!m->ab) { m->ab = m->ia; m->acap = sizeof m->ia; m->au = 0; }
    if (m->acap - m->au < n) {
        size_t hdr = sizeof(void *), bs = n + hdr > 4096 ? n + hdr : 4096;
        char *b = malloc(bs);
        if (!b) return NULL;
        memcpy(b, &m->blocks, hdr);
        m->blocks = b;
        m->ab = b + hdr; m->acap = bs - hdr; m->au = 0;
    }
    char *p = m->ab + m->au;
    m->au += n;
    return p;
}

/* Appends a[0..al) and b[0..bl) to entry h's value (a malloc of its own from now on). */
static void hent_append(kd_hent *h, const char *a, size_t al, const char *b, size_t bl)
{
    size_t need = h->vl + al + bl + 1;
    if (h->vcap < need) {
        size_t nc = h->vcap ? h->vcap : 64;
        while (nc < need) nc *= 2;
        char *j = h->vcap ? realloc(h->value, nc) : malloc(nc);
        if (!j) return;
        if (!h->vcap) memcpy(j, h->value, h->vl);
        h->value = j; h->vcap = nc;
    }
    memcpy(h->value + h->vl, a, al); memcpy(h->value + h->vl + al, b, bl);
    h->vl += al + bl; h->value[h->vl] = 0;
}

/* Adds name = val; fold: names lower-cased and compared without case. A repeated name gets
 * sep + val appended to its value. */
static void hmap_add(kd_hmap *m, int max, int fold, const char *name, size_t nl, const char *val, size_t vl,
                     const char *sep)
{
    int i = hmap_find(m, name, nl, fold);
    if (i >= 0) {
        kd_hent *h = &m->e[i];
        hent_append(h, sep, h->vl ? strlen(sep) : 0, val, vl);   /* after an empty value: no separator */
        return;
    }
    if (m->n >= max) return;
    if (!m->e) { m->e = m->ie; m->cap = KD_HMAP_INLINE; }
    if (m->n == m->cap) {
        int nc = m->cap * 2;
        kd_hent *ne = m->e == m->ie ? malloc((size_t)nc * sizeof *ne) : realloc(m->e, (size_t)nc * sizeof *ne);
        if (!ne) return;
        if (m->e == m->ie) memcpy(ne, m->ie, sizeof m->ie);
        m->e = ne; m->cap = nc;
    }
    char *k = hmap_alloc(m, nl + 1 + vl + 1);
    if (!k) return;
    char *v = k + nl + 1;
    if (fold) for (size_t x = 0; x < nl; x++) k[x] = (char)tolower((unsigned char)name[x]);
    else memcpy(k, name, nl);
    k[nl] = 0;
    memcpy(v, val, vl); v[vl] = 0;
    /* a name is what a C string of it holds (one with a NUL byte is cut there, as strlen cut it
     * before): an incoming name with a NUL then never equals a kept one, as before */
    const char *nul = memchr(k, 0, nl);
    m->e[m->n++] = (kd_hent){ k, v, nul ? (size_t)(nul - k) : nl, vl, 0 };
}

void kd_http_header(kd_hmap *h, const char *name, size_t nl, const char *val, size_t vl)
{
    int sc = nl == 10 && strncasecmp(name, "set-cookie", 10) == 0;
    hmap_add(h, KD_HTTP_MAX_FIELDS, 1, name, nl, val, vl, sc ? "\n" : ", ");
}

void kd_http_header_fold(kd_hmap *h, const char *text, size_t n)
{
    if (!h->n) return;
    hent_append(&h->e[h->n - 1], " ", 1, text, n);
}

const char *kd_http_get(const kd_hmap *h, const char *lname)
{
    int i = hmap_find(h, lname, strlen(lname), 0);
    return i >= 0 ? h->e[i].value : NULL;
}

void kd_http_cookies(kd_hmap *ck, const char *v, size_t vl, int set_cookie)
{
    const char *p = v, *e = v + vl;
    while (p < e) {
        /* one pair: up to ';' (Cookie), or a whole Set-Cookie line, of which the first pair */
        const char *line_end = set_cookie ? memchr(p, '\n', (size_t)(e - p)) : NULL;
        if (!line_end) line_end = e;
        const char *semi = memchr(p, ';', (size_t)(line_end - p));
        const char *end = semi ? semi : line_end;
        const char *k = p;
        while (k < end && (*k == ' ' || *k == '\t')) k++;
        const char *eq = memchr(k, '=', (size_t)(end - k));
        if (eq && eq > k) {
            size_t kl = (size_t)(eq - k);
            while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t')) kl--;
            if (kl) hmap_add(ck, KD_HTTP_MAX_COOKIES, 0, k, kl, eq + 1, (size_t)(end - eq - 1), ",");
        }
        p = set_cookie ? line_end + 1 : end + 1;
    }
}

size_t kd_http_pct(const char *s, size_t n, char *out, size_t cap, int plus)
{
    size_t o = 0;
    if (!cap) return 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < n) {
            int hi = s[i + 1], lo = s[i + 2];
            int h = hi >= '0' && hi <= '9' ? hi - '0' : (hi | 32) >= 'a' && (hi | 32) <= 'f' ? (hi | 32) - 'a' + 10 : -1;
            int l = lo >= '0' && lo <= '9' ? lo - '0' : (lo | 32) >= 'a' && (lo | 32) <= 'f' ? (lo | 32) - 'a' + 10 : -1;
            if (h >= 0 && l >= 0) { out[o++] = (char)(h * 16 + l); i += 2; continue; }
        }
        out[o++] = plus && s[i] == '+' ? ' ' : s[i];
    }
    out[o] = 0;
    return o;
}

/* The next pair of a query string at *p (before e): its key k[0..*kl) and value v[0..*vl) as
 * they are written (v NULL: no '='); *p moves past its '&'. 0 when nothing is left. */
static int query_pair(const char **p, const char *e, const char **k, size_t *kl, const char **v, size_t *vl)
{
    if (*p >= e) return 0;
    const char *amp = memchr(*p, '&', (size_t)(e - *p));
    const char *end = amp ? amp : e;
    const char *eq = memchr(*p, '=', (size_t)(end - *p));
    *k = *p;
    *kl = eq ? (size_t)(eq - *p) : (size_t)(end - *p);
    *v = eq ? eq + 1 : NULL;
    *vl = eq ? (size_t)(end - eq - 1) : 0;
    *p = end + 1;
    return 1;
}

void kd_http_query(kd_hmap *q, const char *qs, size_t n)
{
    const char *p = qs, *e = qs + n, *kp, *vp;
    size_t kl, vl;
    while (query_pair(&p, e, &kp, &kl, &vp, &vl)) {
        if (!kl) continue;
        char k[256], v[2048];
        size_t kn = kd_http_pct(kp, kl, k, sizeof k, 1);
        size_t vn = vp ? kd_http_pct(vp, vl, v, sizeof v, 1) : 0;
        if (!vp) v[0] = 0;
        hmap_add(q, KD_HTTP_MAX_QUERY, 0, k, kn, v, vn, ",");
    }
}

/* What a query string's byte is to kd_http_query_render: 0 written as it is, 1 not ordinary
 * ('%', '+', NUL), 2 '&', 3 '=', 4 escaped in JSON (control bytes, '"', '\\', bytes >= 0x80) */
static const unsigned char query_cls[256] = {
    [0] = 1, [1 ... 31] = 4, ['"'] = 4, ['\\'] = 4, ['%'] = 1, ['+'] = 1, ['&'] = 2, ['='] = 3,
    [0x80 ... 0xff] = 4,
};

size_t kd_http_query_render(const char *qs, size_t n, char *out)
{
    /* Ordinary: nothing to decode or cut, no key twice, at most KD_HTTP_MAX_QUERY keys (what
     * kd_http_query would change otherwise). Hand-written for the benchmark: the map's copies,
     * look-ups and rendering were about 1 100 instructions a request on bench/data/api-one.pcap
     * (see the commit message). One pass over the bytes (a table says what each is), each pair
     * copied as it is read; a pair with a byte JSON escapes is written again through
     * kf_json_escape. The pass replaced a check of every byte, kf_json_plain_len and two memchr
     * per pair (about 570 instructions a request there, now about 250). */
    const unsigned char *u = (const unsigned char *)qs;
    const char *keys[KD_HTTP_MAX_QUERY];
    size_t kls[KD_HTTP_MAX_QUERY];
    int nk = 0;
    char *o = out;
    *o++ = '{';
    size_t i = 0;
    while (i < n) {
        /* one pair, u[ks..i) up to its '&' or the end; its text goes at o: ',' (not the first)
         * '"' key '":"' value '"' */
        size_t ks = i, eq = SIZE_MAX;
        int esc = 0;
        char *t = o + (nk ? 1 : 0);
        *t++ = '"';
        char *kt = t;
        for (; i < n; i++) {
            unsigned c = u[i], k = query_cls[c];
            if (k) {
                if (k == 2) break;
                if (k == 1) return SIZE_MAX;
                if (k == 3 && eq == SIZE_MAX) { eq = i; memcpy(t, "\":\"", 3); t += 3; continue; }
                if (k == 4) esc = 1;
            }
            *t++ = (char)c;
        }
        size_t kl = (eq == SIZE_MAX ? i : eq) - ks, vl = eq == SIZE_MAX ? 0 : i - eq - 1;
        i++;   /* past the '&' (or the end) */
        if (!kl) continue;
        if (kl >= 256 || vl >= 2048 || nk == KD_HTTP_MAX_QUERY) return SIZE_MAX;
        const char *kp = qs + ks;
        for (int j = 0; j < nk; j++)
            if (kls[j] == kl && memcmp(keys[j], kp, kl) == 0) return SIZE_MAX;
        keys[nk] = kp; kls[nk] = kl;
        if (eq == SIZE_MAX) { memcpy(t, "\":\"", 3); t += 3; }   /* no '=': an empty value */
        if (esc) {   /* again, escaped */
            t = kt;
            t += kf_json_escape(kp, kl, t, 6 * kl + 1);
            memcpy(t, "\":\"", 3); t += 3;
            if (vl) t += kf_json_escape(qs + eq + 1, vl, t, 6 * vl + 1);
        }
        *t++ = '"';
        if (nk++) *o = ',';
        o = t;
    }
    *o++ = '}';
    *o = 0;
    return (size_t)(o - out);
}

void kd_http_query_write(kf_jw *w, const char *qs, size_t n)
{
    char sb[4096];
    size_t len = KD_HTTP_QUERY_RENDER_MAX(n) <= sizeof sb ? kd_http_query_render(qs, n, sb) : SIZE_MAX;
    if (len != SIZE_MAX) { kf_jw_raw(w, sb, len); return; }
    kd_hmap m;
    kd_hmap_init(&m);
    kd_http_query(&m, qs, n);
    kd_hmap_write(w, &m);
    kd_hmap_free(&m);
}

void kd_hmap_write(kf_jw *w, const kd_hmap *m)
{
    kf_jw_obj_begin(w);
    for (int i = 0; i < m->n; i++) {
        /* escapes the name (escaping it here first doubled \ and "). A name with nothing to
         * escape (nearly all) is written as it is, with its value, in one call: the key's own
         * look at it was a third of this function on bench/data/api-one.pcap. */
        size_t nl = m->e[i].nl;
        if (kf_json_plain_len(m->e[i].name, nl) == nl) {
            kf_jw_kc_strn(w, m->e[i].name, nl, m->e[i].value, m->e[i].vl);
            continue;
        }
        kf_jw_keyn(w, m->e[i].name, nl);
        kf_jw_strn(w, m->e[i].value, m->e[i].vl);
    }
    kf_jw_obj_end(w);
}

size_t kd_hmap_render_max(const kd_hmap *m)
{
    size_t n = 3;
    for (int i = 0; i < m->n; i++) {
        size_t nl = m->e[i].nl, vl = m->e[i].vl;
        if (nl > SIZE_MAX / 16 || vl > SIZE_MAX / 16) return SIZE_MAX;
        n += 6 * nl + 6 * vl + 6;
        if (n > SIZE_MAX / 2) return SIZE_MAX;
    }
    return n;
}

size_t kd_hmap_render(const kd_hmap *m, char *out)
{
    /* '{' "name":"value" joined by ',' '}', each escaped as kf_jw escapes a string: the text
     * kd_hmap_write writes, without a writer's separator, reservation and key logic per entry
     * (hand-written for the benchmark: those were a third of the 260 instructions an entry cost
     * on bench/data/api-one.pcap). kf_json_escape with room for the worst case escapes in one go. */
    char *o = out;
    *o++ = '{';
    for (int i = 0; i < m->n; i++) {
        const kd_hent *e = &m->e[i];
        if (i) *o++ = ',';
        *o++ = '"';
        o += kf_json_escape(e->name, e->nl, o, 6 * e->nl + 1);
        memcpy(o, "\":\"", 3); o += 3;
        o += kf_json_escape(e->value, e->vl, o, 6 * e->vl + 1);
        *o++ = '"';
    }
    *o++ = '}';
    *o = 0;
    return (size_t)(o - out);
}

char *kd_hmap_json(const kd_hmap *m)
{
    /* The writer starts with room for the whole object when nothing needs escaping (and the
     * escaper's worst case for the longest value), and its buffer is the result: growing a
     * new writer and copying its text out, three maps per HTTP message, was 2 % of kdissect's
     * time on bench/data/api-one.pcap. */
    kf_jw w;
    kf_jw_init(&w);
    size_t cap = 64, maxv = 0;
    for (int i = 0; i < m->n; i++) {
        cap += m->e[i].nl + m->e[i].vl + 6;
        if (m->e[i].vl > maxv) maxv = m->e[i].vl;
    }
    if (maxv < (1u << 20) && cap < (1u << 22) && (w.buf = malloc(cap + 6 * maxv))) {
        w.cap = cap + 6 * maxv;
        w.buf[0] = 0;
    }
    kd_hmap_write(&w, m);
    if (kf_jw_failed(&w) || !w.buf) { kf_jw_free(&w); return NULL; }
    return w.buf;   /* NUL-terminated, the caller frees it */
}

void kd_hmap_free(kd_hmap *m)
{
    for (int i = 0; i < m->n; i++) if (m->e[i].vcap) free(m->e[i].value);
    if (m->e != m->ie) free(m->e);
    for (void *b = m->blocks, *nx; b; b = nx) { memcpy(&nx, b, sizeof nx); free(b); }
    m->e = NULL; m->n = m->cap = 0;
    m->ab = NULL; m->au = m->acap = 0;
    m->blocks = NULL;
}

/* Whether p[0..n) holds "query", "operationName" or a backslash: one walk, stopping only at a
 * 'q', an 'o' or a backslash. Hand-written for the benchmark: it replaces two memmem and a
 * memchr over each JSON request body (0.4 % of kdissect's instructions on api-one.pcap). */
static int gql_may_name(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *k = p + i;
        if (*k == '\\') return 1;
        if (*k == 'q' && n - i >= 5 && memcmp(k, "query", 5) == 0) return 1;
        if (*k == 'o' && n - i >= 13 && memcmp(k, "operationName", 13) == 0) return 1;
    }
    return 0;
}

int kd_http_graphql(const char *target, const char *ctype, const uint8_t *body, size_t blen, int cut,
                    char *op, size_t opn, char *type, size_t tn)
{
    op[0] = type[0] = 0;
    int ct_gql = ctype && strstr(ctype, "graphql");
    int hint = (target && strstr(target, "graphql")) || ct_gql;
    const char *query = NULL;
    size_t qn = 0;
    char qbuf[512];
    json_t *j = NULL;
    /* Parsed only when it could name "query" or "operationName": a JSON object without either
     * string (written plainly or with an escape, hence the backslash) gives neither, and
     * parsing every JSON body with jansson was 2.5 % of kdissect's time on
     * bench/data/api-one.pcap. */
    if (blen && body[0] == '{' && !cut && gql_may_name(body, blen)) {
        j = json_loadb((const char *)body, blen, 0, NULL);
        if (j && json_is_object(j)) {
            json_t *q = json_object_get(j, "query");
            if (json_is_string(q)) { query = json_string_value(q); qn = json_string_length(q); }
            json_t *on = json_object_get(j, "operationName");
            if (json_is_string(on)) snprintf(op, opn, "%s", json_string_value(on));
        }
    }
    if (!query && ct_gql && strstr(ctype, "application/graphql") && blen) { query = (const char *)body; qn = blen; }
    if (!query && target && hint) {
        const char *qp = strstr(target, "query=");
        if (qp) { qn = kd_http_pct(qp + 6, strcspn(qp + 6, "&"), qbuf, sizeof qbuf, 1); query = qbuf; }
    }
    int is = kd_gql_classify(query, qn, type, tn, op, opn);
    if (j) json_decref(j);
    return is;
}

/* ---- bodies ---------------------------------------------------------------------------- */

#define KD_HTTP_ZMEM (48 * 1024)    /* what an inflate stream holds, as counted for --max-memory */

/* The one content coding we decode: a single gzip, x-gzip or deflate ("identity" aside). A
 * list of several codings (gzip, br) is left alone: they would have to be undone in order. */
static int body_coding(const char *v, char *name, size_t cap)
{
    int enc = 0, codings = 0;
    name[0] = 0;
    for (const char *p = v; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        size_t l = (size_t)(t - p);
        if (l && !(l == 8 && !strncasecmp(p, "identity", 8))) {
            codings++;
            enc = (l == 4 && !strncasecmp(p, "gzip", 4)) || (l == 6 && !strncasecmp(p, "x-gzip", 6)) ? 1
                  : l == 7 && !strncasecmp(p, "deflate", 7) ? 2 : 0;
            if (enc) {
                size_t k = l < cap - 1 ? l : cap - 1;
                memcpy(name, p, k);
                name[k] = 0;
            }
        }
        p = e;
    }
    if (codings != 1) { name[0] = 0; return 0; }
    return enc;
}

static void body_keep(kd_http_body *b, const uint8_t *p, size_t n, size_t limit)
{
    if (b->len >= limit) { if (n) b->truncated = 1; return; }
    if (n > limit - b->len) { n = limit - b->len; b->truncated = 1; }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : KD_HTTP_BODY_BLK;
        while (nc < b->len + n) nc *= 2;
        if (nc > limit) nc = limit;
        /* (any block of KD_HTTP_BODY_BLK bytes, recycled or not, is malloc's: realloc grows it) */
        uint8_t *nb = !b->cap && nc == KD_HTTP_BODY_BLK && b->blk ? kd_conn_blk_get(b->blk, nc) : realloc(b->buf, nc);
        if (!nb) return;
        b->mem += (long)(nc - b->cap);
        b->buf = nb; b->cap = nc;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void body_zend(kd_http_body *b)
{
    if (!b->zs) return;
    inflateEnd(b->zs);
    free(b->zs);
    b->zs = NULL;
    b->mem -= KD_HTTP_ZMEM;
}

void kd_http_body_add(kd_http_body *b, const char *content_encoding, const uint8_t *p, size_t n, size_t limit)
{
    if (!b->started) { b->started = 1; b->enc = body_coding(content_encoding, b->enc_name, sizeof b->enc_name); }
    b->size += n;
    if (!n) return;
    if (!b->enc || b->zfail) { body_keep(b, p, n, limit); return; }
    if (b->zdone || b->len >= limit) { if (b->len >= limit) b->truncated = 1; return; }
    if (!b->zs) {
        b->zs = calloc(1, sizeof *b->zs);
        /* 15 + 32: a zlib or gzip header, detected */
        if (!b->zs || inflateInit2(b->zs, 15 + 32) != Z_OK) { free(b->zs); b->zs = NULL; b->zfail = 1; body_keep(b, p, n, limit); return; }
        b->mem += KD_HTTP_ZMEM;
    }
    uint8_t out[4096];
    b->zs->next_in = (Bytef *)(uintptr_t)p;
    b->zs->avail_in = (uInt)n;
    while (b->zs->avail_in && b->len < limit) {
        b->zs->next_out = out; b->zs->avail_out = sizeof out;
        int r = inflate(b->zs, Z_NO_FLUSH);
        size_t got = sizeof out - b->zs->avail_out;
        if (got) body_keep(b, out, got, limit);
        if (r == Z_STREAM_END) { b->zdone = 1; break; }
        if (r == Z_DATA_ERROR && b->enc == 2 && !b->len && b->zs->total_in == (uLong)(n - b->zs->avail_in) &&
            b->size == n) {
            /* "deflate" sent as raw deflate (no zlib header): again from the start */
            inflateEnd(b->zs);
            memset(b->zs, 0, sizeof *b->zs);
            if (inflateInit2(b->zs, -15) != Z_OK) { free(b->zs); b->zs = NULL; b->mem -= KD_HTTP_ZMEM; b->zfail = 1; break; }
            b->enc = 3;
            b->zs->next_in = (Bytef *)(uintptr_t)p; b->zs->avail_in = (uInt)n;
            continue;
        }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            b->zfail = 1;
            if (!b->len) body_keep(b, p, n, limit);   /* not compressed after all: the bytes as they are */
            break;
        }
        if (r == Z_BUF_ERROR && !got) break;
    }
    if (b->zs && b->len >= limit && (b->zs->avail_in || !b->zdone)) b->truncated = 1;
    if (b->zfail || b->zdone || b->len >= limit) body_zend(b);   /* nothing more will be decoded */
}

void kd_http_body_gap(kd_http_body *b, uint64_t len)
{
    b->size += len;
    b->truncated = 1;
    if (b->enc && !b->zdone) { b->zfail = 1; body_zend(b); }
}

/* UTF-8 text without NUL or control bytes but \t \n \r \f; cut: a character cut at the end (by
 * the body limit) is fine. */
static int body_is_text(const uint8_t *p, size_t n, int cut)
{
    size_t i = 0;
    while (i < n) {
        /* runs of printable ASCII 8 bytes at a time (a JSON API body is nothing else): the byte
         * loop was 2 % of kdissect's instructions on bench/data/api-one.pcap. A word with a byte
         * >= 0x80 or < 0x20 (a borrow flags it) goes to the byte loop. */
        while (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            if ((v | (v - 0x2020202020202020ull)) & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t c = p[i];
        if (c < 0x80) { if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f') return 0; i++; continue; }
        size_t k = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!k || c == 0xC0 || c == 0xC1 || c > 0xF4) return 0;
        if (i + k > n) return cut;
        for (size_t j = 1; j < k; j++) if ((p[i + j] & 0xC0) != 0x80) return 0;
        i += k;
    }
    return 1;
}

void kd_http_body_write(kf_jw *w, const kd_http_body *b)
{
    if (!b->len) return;
    if (b->enc && !b->zfail) kf_jw_kstr(w, "body_decoded_from", b->enc_name);
    if (body_is_text(b->buf, b->len, b->truncated)) kf_jw_kstrn(w, "body", (const char *)b->buf, b->len);
    else { kf_jw_key(w, "body"); kf_jw_base64(w, b->buf, b->len); kf_jw_kstr(w, "body_encoding", "base64"); }
    if (b->truncated) kf_jw_kbool(w, "body_truncated", 1);
}

void kd_http_body_free(kd_http_body *b)
{
    body_zend(b);
    if (b->blk && b->cap == KD_HTTP_BODY_BLK) kd_conn_blk_put(b->blk, b->buf, KD_HTTP_BODY_BLK);
    else free(b->buf);
    b->mem -= (long)b->cap;
    b->buf = NULL; b->len = b->cap = 0;
}
