/* http1.c — HTTP/1.0 and HTTP/1.1 (RFC 9112 message syntax, RFC 9110 semantics).
 *
 *   request   = method SP request-target SP HTTP-version CRLF *( field-line CRLF ) CRLF [ body ]
 *   response  = HTTP-version SP status-code SP [ reason ] CRLF *( field-line CRLF ) CRLF [ body ]
 *   body      = Transfer-Encoding chunked | Content-Length | (responses) until close
 *               none for HEAD responses, 1xx, 204, 304 (RFC 9112 §6.3)
 *
 * Requests and responses are matched in order per connection (pipelining); 1xx interim
 * responses do not consume the request; 101 hands the connection to websocket/http2 (h2c);
 * after a 2xx answer to CONNECT the tunnel's bytes go back to protocol detection (TLS, HTTP …).
 * Bodies: de-chunked, then kept by the shared HTTP layer (http_common.c: decoded from gzip/deflate
 * with zlib up to --body-limit, text when valid UTF-8, else base64), as HTTP/2's are.
 * Hand-written: no library parses HTTP/1 from a capture's byte stream with gaps for us (the
 * usual ones, llhttp/picohttpparser, are not packaged in Debian as C libraries we may use). */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "../dissector.h"
#include "http_common.h"
#include "kf_json.h"
#include "kf_cursor.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define H1_MAX_HEAD (64 * 1024)
#define H1_MAX_QUEUE 256
#define H1_ARENA 512            /* bytes of a message's text kept inside it (h1_msg.ai) */
#define H1_ARENA_BLOCK 2048     /* the least a block of more text holds */
#define H1_FAST_FIELDS 64      /* fields of a head head_fast takes (more: the map's way) */
#define H1_SCRATCH 8192         /* bytes on the stack a map is rendered into (more: a malloc) */

enum { ST_START, ST_CL, ST_CHUNK_SIZE, ST_CHUNK_DATA, ST_CHUNK_CRLF, ST_TRAILERS, ST_CLOSE, ST_RESYNC, ST_STOP };

/* A message. Its strings (NUL-terminated) are cut from its own arena: the first H1_ARENA bytes
 * inside it, then blocks of their own (a list through their first word), all freed with it.
 * Hand-written for the benchmark: a malloc and a free for each string and rendered map (about
 * eight per message, fourteen frees) were 7 % of kdissect's instructions on
 * bench/data/api-one.pcap. */
typedef struct h1_msg {
    int is_req, emitted, done, refs;
    kd_pref first, last;
    char method[32];
    char *url;
    size_t url_len, path_len;                /* path_len: the url up to '?' */
    char version[16];
    int status;
    char *reason;
    size_t reason_len;
    char *headers_json, *cookies_json;       /* rendered objects */
    size_t hj_len, cj_len;
    uint64_t head_size;
    kd_http_body b;                /* the body (shared HTTP layer: size, decoding, limit) */
    int cut;                       /* a partial head or a body gap: counted as truncated */
    char *content_encoding;
    char *content_type, *upgrade, *host, *ws_key, *ws_proto, *ws_ext, *h2settings;
    int chunked, has_cl, conn_close, conn_upgrade, expect100;
    int interim[4], ninterim;
    int incomplete;                /* ended (gap, end of capture) before the message did */
    uint64_t cl;
    char *ab; size_t au, acap;     /* the arena: where strings are cut now, used, size */
    void *blocks;                  /* its blocks of more text, */
    long amem;                     /* their bytes */
    char ai[H1_ARENA];             /* (last: not zeroed for a new message) */
} h1_msg;

typedef struct h1_side {
    int state;
    uint64_t remaining;
    h1_msg *m;           /* message being read */
} h1_side;

/* A request waiting for its response: the pending-call table's item (the table holds a reference). */
typedef struct h1_pend { h1_msg *m; } h1_pend;

typedef struct h1_state {
    h1_side side[2];     /* by direction */
    kd_ptab q;           /* requests waiting for their responses (h1_pend), in order, up to H1_MAX_QUEUE */
    int upgraded, tunnel;
} h1_state;

static const uint16_t h1_ports[] = { 80, 8080, 8000, 8008, 8888, 3128, 0 };

/* ---------------------------------------------------------------- helpers */

/* tchar (RFC 9110 5.6.2): ALPHA, DIGIT and "!#$%&'*+-.^_`|~" (2: a lower-case letter), as a
 * table (isalnum, strchr and islower per byte of each request's method were 0.8 % of kdissect's
 * instructions on bench/data/api-one.pcap) */
static const unsigned char tchar_tab[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 2,
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1,
    ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
};
static int is_tchar(int c)
{
    return tchar_tab[c & 255] != 0;
}
/* a byte of a method: a tchar, not a lower-case letter */
static int is_mchar(int c)
{
    return tchar_tab[c & 255] == 1;
}

/* Length of a request method token at p followed by a space, or 0. */
static size_t method_len(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < 24 && is_mchar(p[i])) i++;
    if (i < 3 || i >= n || p[i] != ' ') return 0;
    return i;
}

/* Methods recognised even when the request line is malformed (no or broken version), as
 * Wireshark does; other tokens need " HTTP/1.x" at the end of the line. */
static const char *const known_methods[] = {
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "PATCH", "PROPFIND",
    "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT", "CHECKOUT", "CHECKIN",
    "MERGE", "MKACTIVITY", "MKWORKSPACE", "VERSION-CONTROL", "BASELINE-CONTROL", "UPDATE", "LABEL",
    "UNCHECKOUT", "ACL", "ORDERPATCH", "MKCALENDAR", "BIND", "UNBIND", "REBIND", "NOTIFY", "SUBSCRIBE",
    "UNSUBSCRIBE", "POLL", "BMOVE", "BCOPY", "BDELETE", "BPROPFIND", "BPROPPATCH", "RPC_IN_DATA",
    "RPC_OUT_DATA", "CCM_POST", "M-SEARCH", "PURGE", "LINK", "UNLINK", "MKREDIRECTREF",
    "UPDATEREDIRECTREF", NULL,
};
static int known_method(const uint8_t *p, size_t n)
{
    for (const char *const *m = known_methods; *m; m++)
        if (strlen(*m) == n && memcmp(*m, p, n) == 0) return 1;
    return 0;
}

/* Whether a message's method (NUL-terminated in h1_msg.method) is lit, a literal of fewer
 * bytes than the array: its bytes and NUL compared inline (strcmp's call per response was
 * 0.2 % of kdissect's instructions on bench/data/api-one.pcap) */
#define METHOD_IS(method, lit) (memcmp((method), lit, sizeof lit) == 0)

/* 1 = a request line, 2 = maybe (need more bytes), 0 = no */
static int looks_request_line(const uint8_t *p, size_t n, int need_full)
{
    size_t m = method_len(p, n);
    if (!m) {   /* "OPTIONS\n": a known method alone on its line */
        size_t k = 0;
        while (k < n && k < 24 && is_mchar(p[k])) k++;
        if (k >= 3 && k < n && (p[k] == '\r' || p[k] == '\n') && known_method(p, k)) return 1;
        return n < 25 && n > 0 && is_tchar(p[0]) && !need_full ? 2 : 0;
    }
    const uint8_t *nl = memchr(p, '\n', n < 8192 ? n : 8192);
    if (!nl) return need_full ? 0 : (n < 8192 ? 2 : 0);
    if (known_method(p, m)) return 1;
    size_t l = (size_t)(nl - p);
    if (l && p[l - 1] == '\r') l--;
    /* ends with " HTTP/1.x" */
    if (l < m + 10) return 0;
    return memcmp(p + l - 9, " HTTP/1.", 8) == 0 && isdigit(p[l - 1]) ? 1 : 0;
}
static int looks_status_line(const uint8_t *p, size_t n)
{
    if (n < 12) return n >= 5 && memcmp(p, "HTTP/", 5) == 0 ? 2 : (memcmp(p, "HTTP/", n < 5 ? n : 5) == 0 ? 2 : 0);
    return memcmp(p, "HTTP/1.", 7) == 0 && isdigit(p[7]) && p[8] == ' ' && isdigit(p[9]) && isdigit(p[10]) && isdigit(p[11]);
}

static int h1_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    int r = looks_request_line(p, n, 0);
    if (r == 1) return KD_PROBE_CLIENT;
    int s = looks_status_line(p, n);
    if (s == 1) return KD_PROBE_SERVER;
    if (r == 2 || s == 2) return KD_PROBE_MORE;
    return KD_PROBE_NO;
}

/* A copy of p[0..n) with a NUL, cut from m's arena (NULL: no memory) */
static char *dupn(kd_conn *c, h1_msg *m, const void *p, size_t n)
{
    if (m->acap - m->au <= n) {
        size_t hdr = sizeof(void *), bs = n + 1 + hdr > H1_ARENA_BLOCK ? n + 1 + hdr : H1_ARENA_BLOCK;
        char *b = malloc(bs);
        if (!b) return NULL;
        memcpy(b, &m->blocks, hdr);
        m->blocks = b;
        m->ab = b + hdr; m->acap = bs - hdr; m->au = 0;
        m->amem += (long)bs;
        kd_conn_mem(c, (long)bs);
    }
    char *s = m->ab + m->au;
    m->au += n + 1;
    /* a short one (a URL, a reason, a header's value: nearly all) copied inline, in words of 8,
     * the last one overlapping: memcpy's call per string was 0.6 % of kdissect's instructions
     * on bench/data/api-one.pcap */
    const char *q = p;
    if (n >= 8 && n <= 64) {
        size_t i = 0;
        for (; i + 8 < n; i += 8) memcpy(s + i, q + i, 8);
        memcpy(s + n - 8, q + n - 8, 8);
    } else if (n >= 4 && n < 8) {
        memcpy(s, q, 4); memcpy(s + n - 4, q + n - 4, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++) s[i] = q[i];
    } else memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static h1_msg *msg_new(kd_conn *c)
{
    h1_msg *m = kd_conn_blk_get(c, sizeof *m);
    if (!m) return NULL;
    memset(m, 0, offsetof(h1_msg, ai));
    m->ab = m->ai; m->acap = sizeof m->ai;
    m->b.blk = c;
    kd_conn_mem(c, sizeof *m);
    return m;
}

static void msg_free(kd_conn *c, h1_msg *m)
{
    if (!m) return;
    for (void *b = m->blocks, *nx; b; b = nx) { memcpy(&nx, b, sizeof nx); free(b); }
    long before = m->b.mem;
    kd_http_body_free(&m->b);
    /* what the message held, given back in one call (every part is a decrease, so the peak
     * is the same as three calls' peak): three calls, each adding to the same two counters,
     * were 2 % of kdissect's time on bench/data/api-one.pcap */
    kd_conn_mem(c, -m->amem + (m->b.mem - before) - (long)sizeof *m);
    kd_conn_blk_put(c, m, sizeof *m);
}
static void msg_unref(kd_conn *c, h1_msg *m)
{
    if (m && --m->refs <= 0) msg_free(c, m);
}

/* Which of the tokens t0 (l0 bytes) and t1 (l1 bytes; NULL: none) a comma-separated list holds
 * (RFC 9110 5.6.1: OWS around each, case-insensitive): bit 0 t0, bit 1 t1. One walk of the list
 * for Connection's "close" and "upgrade" (two walks were 0.9 % of kdissect's instructions). */
static unsigned tokens(const char *v, const char *t0, size_t l0, const char *t1, size_t l1)
{
    unsigned got = 0;
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        size_t n = (size_t)(t - p);
        if (n == l0 && strncasecmp(p, t0, l0) == 0) got |= 1;
        else if (t1 && n == l1 && strncasecmp(p, t1, l1) == 0) got |= 2;
        p = e;
    }
    return got;
}
static int has_token(const char *v, const char *tok) { return tokens(v, tok, strlen(tok), NULL, 0) & 1; }

/* The next line of a head: its bytes without CR LF; the cursor moves past the LF (to the end
 * when there is none: *had_lf says which). NULL when nothing is left. Inline: the call per line
 * was 1.4 % of kdissect's instructions on bench/data/api-one.pcap. */
static inline const uint8_t *h1_line(kf_cur *c, size_t *len, int *had_lf)
{
    size_t left = kf_cur_left(c);
    if (!left) return NULL;
    const uint8_t *nl = memchr(c->p, '\n', left);
    size_t l = nl ? (size_t)(nl - c->p) : left;
    const uint8_t *s = kf_cur_take(c, l);
    if (nl) kf_cur_skip(c, 1);
    if (had_lf) *had_lf = nl != NULL;
    if (l && s[l - 1] == '\r') l--;
    *len = l;
    return s;
}

/* The line ends of a head, found by head_end in one pass over the head (16 bytes a step) and
 * used by parse_head, which then does not look for them again. Hand-written for the benchmark:
 * it replaces a memchr per line in head_end and another in parse_head (eleven calls a head).
 * Line i (0: the start line) ends at the LF nl[i]; n < 0: more than H1_LINES lines, not kept. */
#define H1_LINES (H1_FAST_FIELDS + 2)
typedef struct {
    int n;
    uint32_t nl[H1_LINES];
} h1_lines;

/* The first ':' of a field line q[0..l), the head's bytes going on to end: memchr's, with one
 * compare of 16 bytes when they are there (a field's name is most often shorter: memchr's call
 * per line was 1.5 % of kdissect's instructions on bench/data/api-one.pcap) */
static inline const uint8_t *field_colon(const uint8_t *q, size_t l, const uint8_t *end)
{
#if defined(__SSE2__)
    if (end - q >= 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)q), _mm_set1_epi8(':')));
        if (l < 16) m &= (1u << l) - 1;
        if (m) return q + __builtin_ctz(m);
        if (l <= 16) return NULL;
        const uint8_t *k = memchr(q + 16, ':', l - 16);
        return k;
    }
#endif
    (void)end;
    return memchr(q, ':', l);
}

/* The request line "method SP target SP HTTP/x.y" (lenient: spaces repeated, version or
 * target missing), read through a cursor over the line. Returns 0 ok, -1 malformed. */
static int parse_request_line(kd_conn *cn, h1_msg *m, const uint8_t *line, size_t ll)
{
    kf_cur c = kf_cur_make(line, ll);
    size_t ml = method_len(line, ll);
    if (!ml) {   /* a known method alone on its line */
        while (ml < ll && is_tchar(line[ml])) ml++;
        if (ml != ll || !known_method(line, ml)) return -1;
        memcpy(m->method, line, ml < sizeof m->method ? ml : sizeof m->method - 1);
        m->url = dupn(cn, m, "", 0);
        return 0;
    }
    const uint8_t *meth = kf_cur_take(&c, ml);
    memcpy(m->method, meth, ml < sizeof m->method ? ml : sizeof m->method - 1);
    while (kf_cur_left(&c) && *c.p == ' ') kf_cur_skip(&c, 1);
    /* the rest: the target, then the version after the last space */
    size_t rl = kf_cur_left(&c);
    const uint8_t *rest = kf_cur_take(&c, rl);
    const uint8_t *last_sp = rl ? memrchr(rest, ' ', rl) : NULL;
    kf_cur r = kf_cur_make(rest ? rest : line, rl);
    kf_cur target = r;                      /* no version: the whole rest */
    if (last_sp) {
        size_t tl = (size_t)(last_sp - rest);
        kf_cur t = kf_cur_sub(&r, tl);
        kf_cur_skip(&r, 1);
        size_t vl = kf_cur_left(&r);
        if (vl >= 6 && memcmp(r.p, "HTTP/", 5) == 0) {
            kf_cur_skip(&r, 5);
            memcpy(m->version, r.p, vl - 5 < sizeof m->version ? vl - 5 : sizeof m->version - 1);
            target = t;
        }
    } else if (rl >= 5 && memcmp(r.p, "HTTP/", 5) == 0) {   /* "OPTIONS HTTP/1.1": no target */
        kf_cur_skip(&r, 5);
        memcpy(m->version, r.p, rl - 5 < sizeof m->version ? rl - 5 : sizeof m->version - 1);
        target = kf_cur_make(line, 0);
    }
    size_t ul = kf_cur_left(&target);
    while (ul && target.p[ul - 1] == ' ') ul--;
    const uint8_t *u = kf_cur_take(&target, ul);
    m->url = dupn(cn, m, u ? u : line, ul);
    if (m->url) {   /* as a C string (a NUL byte in the target ends it, as it did) */
        m->url_len = strlen(m->url);
        const char *qm = memchr(m->url, '?', m->url_len);
        m->path_len = qm ? (size_t)(qm - m->url) : m->url_len;
    }
    return 0;
}

/* The status line "HTTP/x.y SP code [SP reason]". Returns 0 ok, -1 malformed. */
static int parse_status_line(kd_conn *cn, h1_msg *m, const uint8_t *line, size_t ll)
{
    if (ll < 12 || memcmp(line, "HTTP/", 5) != 0) return -1;
    kf_cur c = kf_cur_make(line, ll);
    kf_cur_skip(&c, 5);
    const uint8_t *sp = memchr(c.p, ' ', kf_cur_left(&c));
    if (!sp) return -1;
    size_t vl = (size_t)(sp - c.p);
    const uint8_t *ver = kf_cur_take(&c, vl);
    memcpy(m->version, ver, vl < sizeof m->version ? vl : sizeof m->version - 1);
    kf_cur_skip(&c, 1);
    const uint8_t *st = kf_cur_take(&c, 3);
    if (!st || !isdigit(st[0]) || !isdigit(st[1]) || !isdigit(st[2])) return -1;
    m->status = (st[0] - '0') * 100 + (st[1] - '0') * 10 + (st[2] - '0');
    if (kf_cur_left(&c) && *c.p == ' ') kf_cur_skip(&c, 1);
    size_t rl = kf_cur_left(&c);
    const uint8_t *rp = kf_cur_take(&c, rl);
    m->reason = dupn(cn, m, rp ? rp : line, rl);
    if (m->reason) m->reason_len = strlen(m->reason);
    return 0;
}

/* A map rendered into the state's scratch buffer, its text kept in m's arena (*len its length) */
static char *keep_map(kd_conn *c, h1_state *s, h1_msg *m, const kd_hmap *h, size_t *len)
{
    if (!h->n) {   /* most cookie maps */
        char *t = dupn(c, m, "{}", 2);
        if (t) *len = 2;
        return t;
    }
    size_t need = kd_hmap_render_max(h);
    if (need == SIZE_MAX) return NULL;
    char sb[H1_SCRATCH], *sc = need <= sizeof sb ? sb : malloc(need);
    if (!sc) return NULL;
    size_t n = kd_hmap_render(h, sc);
    char *t = dupn(c, m, sc, n);
    if (t) *len = n;
    if (sc != sb) free(sc);
    return t;
}

/* The header fields of a head (the cursor after its start line) into h: one entry per name
 * whatever its case (a duplicate JSON key before), obs-fold lines continuing the last value. */
static void head_map(kf_cur cur, kd_hmap *h)
{
    int have_field = 0;
    size_t l;
    const uint8_t *q;
    while ((q = h1_line(&cur, &l, NULL)) && l) {
        kf_cur fl = kf_cur_make(q, l);
        if ((q[0] == ' ' || q[0] == '\t') && have_field) {   /* obs-fold: continue the value */
            while (kf_cur_left(&fl) && (*fl.p == ' ' || *fl.p == '\t')) kf_cur_skip(&fl, 1);
            size_t k = kf_cur_left(&fl);
            kd_http_header_fold(h, (const char *)kf_cur_take(&fl, k), k);
            continue;
        }
        const uint8_t *colon = memchr(q, ':', l);
        if (!colon || colon == q) continue;
        size_t nlen = (size_t)(colon - q);
        const uint8_t *name = kf_cur_take(&fl, nlen);
        kf_cur_skip(&fl, 1);
        while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t')) nlen--;
        while (kf_cur_left(&fl) && (*fl.p == ' ' || *fl.p == '\t')) kf_cur_skip(&fl, 1);
        size_t vl = kf_cur_left(&fl);
        const uint8_t *v = kf_cur_take(&fl, vl);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
        kd_http_header(h, (const char *)name, nlen, (const char *)(v ? v : q), vl);
        have_field = 1;
    }
}

enum { F_NONE, F_CL, F_TE, F_CE, F_CONN, F_UPG, F_CT, F_HOST, F_WSK, F_WSP, F_WSE, F_H2S, F_EXPECT, F_COOKIE, F_SETCOOKIE };

/* Which of the fields a message keeps something of n[0..nl) (lower case) names */
static int field_id(const char *n, size_t nl)
{
    /* the name's length first: a strcmp for each name of this list was 2 % of kdissect's time
     * on bench/data/api-one.pcap */
#define NAME_IS(lit) (memcmp(n, lit, sizeof lit - 1) == 0)
    switch (nl) {
    case 4: return NAME_IS("host") ? F_HOST : F_NONE;
    case 6: return NAME_IS("expect") ? F_EXPECT : NAME_IS("cookie") ? F_COOKIE : F_NONE;
    case 7: return NAME_IS("upgrade") ? F_UPG : F_NONE;
    case 10: return NAME_IS("connection") ? F_CONN : NAME_IS("set-cookie") ? F_SETCOOKIE : F_NONE;
    case 12: return NAME_IS("content-type") ? F_CT : F_NONE;
    case 14: return NAME_IS("content-length") ? F_CL : NAME_IS("http2-settings") ? F_H2S : F_NONE;
    case 16: return NAME_IS("content-encoding") ? F_CE : F_NONE;
    case 17: return NAME_IS("transfer-encoding") ? F_TE : NAME_IS("sec-websocket-key") ? F_WSK : F_NONE;
    case 22: return NAME_IS("sec-websocket-protocol") ? F_WSP : F_NONE;
    case 24: return NAME_IS("sec-websocket-extensions") ? F_WSE : F_NONE;
    }
#undef NAME_IS
    return F_NONE;
}

/* What m keeps of one header field: its name n[0..nl) (lower case), its value raw[0..vl), and v
 * the value as a C string or NULL (then a copy is cut from m's arena when needed, and kept). */
static void head_field(kd_conn *c, h1_msg *m, kd_hmap *ck, const char *n, size_t nl, const char *raw, size_t vl,
                       const char *v)
{
    int id = field_id(n, nl);
    if (id == F_NONE) return;
    if (id == F_COOKIE) { if (m->is_req) kd_http_cookies(ck, raw, vl, 0); return; }
    if (id == F_SETCOOKIE) { if (!m->is_req) kd_http_cookies(ck, raw, vl, 1); return; }
    if (id == F_CL && vl && vl <= 18) {
        /* digits only (nearly every one) read here, as strtoull below reads them, without the
         * copy it needs: the two were 0.7 % of kdissect's instructions on bench/data/api-one.pcap */
        uint64_t cl = 0;
        size_t i = 0;
        while (i < vl && raw[i] >= '0' && raw[i] <= '9') cl = cl * 10 + (uint64_t)(raw[i++] - '0');
        if (i == vl) { m->has_cl = 1; m->cl = cl; return; }
    }
    char *kept = NULL;
    if (!v) { if (!(kept = dupn(c, m, raw, vl))) return; v = kept; }
#define KEEP() (kept ? kept : dupn(c, m, v, vl))
    switch (id) {
    case F_CL: {
        /* repeated identical values are joined: take the first; invalid -> ignored */
        char *endp;
        unsigned long long cl = strtoull(v, &endp, 10);
        if (endp != v && (*endp == 0 || *endp == ',') && v[0] != '-' && cl < (1ULL << 62)) { m->has_cl = 1; m->cl = cl; }
        break;
    }
    case F_TE: {
        const char *last = strrchr(v, ',');
        last = last ? last + 1 : v;
        while (*last == ' ') last++;
        if (strncasecmp(last, "chunked", 7) == 0) m->chunked = 1;
        break;
    }
    case F_CE: m->content_encoding = KEEP(); break;
    case F_CONN: {
        unsigned got = tokens(v, "close", sizeof "close" - 1, "upgrade", sizeof "upgrade" - 1);
        if (got & 1) m->conn_close = 1;
        if (got & 2) m->conn_upgrade = 1;
        break;
    }
    case F_UPG: m->upgrade = KEEP(); break;
    case F_CT: m->content_type = KEEP(); break;
    case F_HOST: m->host = KEEP(); break;
    case F_WSK: m->ws_key = KEEP(); break;
    case F_WSP: m->ws_proto = KEEP(); break;
    case F_WSE: m->ws_ext = KEEP(); break;
    case F_H2S: m->h2settings = KEEP(); break;
    case F_EXPECT: if (has_token(v, "100-continue")) m->expect100 = 1; break;
    }
#undef KEEP
}


/* 8 bytes as a word: the high bit of each byte JSON escapes (< 0x20, >= 0x80, '"', '\\'); 0 when
 * none (exact: a borrow comes only from a flagged byte) */
static inline uint64_t name_special8(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    return ((((v - ones * 0x20) | (q - ones) | (b - ones)) & ~v) | v) & high;
}
/* The same word lower-cased as tolower does in the C locale (its bytes are < 0x80) */
static inline uint64_t name_lower8(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t ge_a = v + ones * (0x80 - 'A'), gt_z = v + ones * (0x80 - 'Z' - 1);
    return v | ((ge_a ^ gt_z) & high) >> 2;
}
/* n[0..nl) lower-cased into out (room for nl, and 8 when nl < 8); -1 when a byte would need JSON
 * escaping. A word at a time (8 bytes, the last one overlapping; 4..7 as two 4-byte halves of a
 * word): the byte loop was 4 % of kdissect's instructions on bench/data/api-one.pcap. */
static int name_lower(const uint8_t *n, size_t nl, char *out)
{
    uint64_t v;
    if (nl >= 8) {
        size_t i = 0;
        for (; i + 8 < nl; i += 8) {
            memcpy(&v, n + i, 8);
            if (name_special8(v)) return -1;
            v = name_lower8(v);
            memcpy(out + i, &v, 8);
        }
        memcpy(&v, n + nl - 8, 8);
        if (name_special8(v)) return -1;
        v = name_lower8(v);
        memcpy(out + nl - 8, &v, 8);
        return 0;
    }
    if (nl >= 4) {
        uint32_t a, b;
        memcpy(&a, n, 4); memcpy(&b, n + nl - 4, 4);
        v = (uint64_t)a | (uint64_t)b << 32;
        if (name_special8(v)) return -1;
        v = name_lower8(v);
        a = (uint32_t)v; b = (uint32_t)(v >> 32);
        memcpy(out, &a, 4); memcpy(out + nl - 4, &b, 4);
        return 0;
    }
    for (size_t x = 0; x < nl; x++) {
        unsigned ch = n[x];
        if (ch < 0x20 || ch >= 0x80 || ch == '"' || ch == '\\') return -1;
        out[x] = (char)(ch - 'A' < 26u ? ch + 32 : ch);
    }
    return 0;
}

/* The header fields of an ordinary head straight into m, without the map: the fields found in
 * the head's bytes, their object rendered from there (names lower-cased as the map does).
 * Ordinary: at most H1_FAST_FIELDS fields, no obs-fold, no name twice (without case), names of
 * bytes JSON writes as they are. Returns -1 (m untouched) for any other head: the map's way.
 * Hand-written for the benchmark: the map's copies (names lower-cased, values), its look-ups
 * and its rendering entry by entry were 12 % of kdissect's instructions on
 * bench/data/api-one.pcap (see the commit message). */
static int head_fast(kd_conn *c, h1_state *s, h1_msg *m, kf_cur cur, kd_hmap *ck, const uint8_t *p,
                     const h1_lines *L)
{
    struct { const uint8_t *n, *v; size_t nl, vl; const char *low; } f[H1_FAST_FIELDS];
    int nf = 0, have_field = 0, j = 1;
    size_t l, bound = 3;
    const uint8_t *q, *colon;
#ifdef KF_FUZZ
    kf_cur start = cur;
#endif
    for (;;) {
        if (L) {   /* the lines head_end found: field line j */
            if (j >= L->n) break;
            size_t b = L->nl[j - 1] + 1;
            q = p + b;
            l = L->nl[j] - b;
            if (l && q[l - 1] == '\r') l--;
            colon = l ? field_colon(q, l, p + L->nl[L->n - 1] + 1) : NULL;
            j++;
        } else {
            if (!(q = h1_line(&cur, &l, NULL))) break;
            colon = l ? memchr(q, ':', l) : NULL;
        }
        if (!l) break;
        if ((q[0] == ' ' || q[0] == '\t') && have_field) return -1;   /* obs-fold */
        if (!colon || colon == q) continue;
        if (nf == H1_FAST_FIELDS) return -1;
        size_t nlen = (size_t)(colon - q);
        while (nlen && (q[nlen - 1] == ' ' || q[nlen - 1] == '\t')) nlen--;
        const uint8_t *v = colon + 1, *e = q + l;
        while (v < e && (*v == ' ' || *v == '\t')) v++;
        size_t vl = (size_t)(e - v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
        f[nf].n = q; f[nf].nl = nlen; f[nf].v = v; f[nf].vl = vl;
        for (int j = 0; j < nf; j++)
            if (f[j].nl == nlen && strncasecmp((const char *)f[j].n, (const char *)q, nlen) == 0) return -1;
        nf++;
        bound += 6 * (nlen + vl) + 6;
        have_field = 1;
    }
    char sb[H1_SCRATCH], *sc = bound <= sizeof sb ? sb : malloc(bound);
    if (!sc) return -1;
    char *o = sc;
    *o++ = '{';
    for (int i = 0; i < nf; i++) {
        if (i) *o++ = ',';
        *o++ = '"';
        f[i].low = o;
        if (name_lower(f[i].n, f[i].nl, o) != 0) {   /* escaped, or cut (NUL) */
            if (sc != sb) free(sc);
            return -1;
        }
        o += f[i].nl;
        memcpy(o, "\":\"", 3); o += 3;
        o += kf_json_escape((const char *)f[i].v, f[i].vl, o, 6 * f[i].vl + 1);
        *o++ = '"';
    }
    *o++ = '}';
    size_t hj = (size_t)(o - sc);
    for (int i = 0; i < nf; i++) head_field(c, m, ck, f[i].low, f[i].nl, (const char *)f[i].v, f[i].vl, NULL);
    m->headers_json = dupn(c, m, sc, hj);
    if (m->headers_json) m->hj_len = hj;
    if (sc != sb) free(sc);
#ifdef KF_FUZZ
    {   /* the fuzz targets check it against the map's way: the same object */
        kd_hmap h;
        kd_hmap_init(&h);
        head_map(start, &h);
        char *j = kd_hmap_json(&h);
        if (j && m->headers_json && (strlen(j) != m->hj_len || memcmp(j, m->headers_json, m->hj_len) != 0)) abort();
        free(j);
        kd_hmap_free(&h);
    }
#endif
    return 0;
}

/* Parses the head (start line + fields) in p[0..hl), read line by line through a cursor.
 * Returns 0 ok, -1 malformed. */
static int parse_head(kd_conn *c, h1_state *s, h1_msg *m, const uint8_t *p, size_t hl, const h1_lines *L)
{
    kf_cur cur = kf_cur_make(p, hl);
    size_t ll;
    int lf;
    const uint8_t *line;
    if (L && L->n > 0) {   /* the start line ends at the first LF head_end found */
        line = p;
        ll = L->nl[0];
        kf_cur_skip(&cur, ll + 1);
        if (ll && line[ll - 1] == '\r') ll--;
    } else {
        L = NULL;
        line = h1_line(&cur, &ll, &lf);
        if (!line || !lf) return -1;
    }
    if ((m->is_req ? parse_request_line(c, m, line, ll) : parse_status_line(c, m, line, ll)) != 0) return -1;
    kd_hmap ck;
    kd_hmap_init(&ck);
    if (head_fast(c, s, m, cur, &ck, p, L) != 0) {
        kd_hmap h;
        kd_hmap_init(&h);
        head_map(cur, &h);
        for (int i = 0; i < h.n; i++)
            head_field(c, m, &ck, h.e[i].name, h.e[i].nl, h.e[i].value, h.e[i].vl, h.e[i].value);
        m->headers_json = keep_map(c, s, m, &h, &m->hj_len);
        kd_hmap_free(&h);
    }
    m->cookies_json = keep_map(c, s, m, &ck, &m->cj_len);
    kd_hmap_free(&ck);
    return 0;
}

/* ---------------------------------------------------------------- bodies */

static void body_data(kd_conn *c, h1_msg *m, const uint8_t *p, size_t n)
{
    long before = m->b.mem;
    kd_http_body_add(&m->b, m->content_encoding, p, n, kd_conn_get_info(c)->opts->body_limit);
    if (m->b.mem != before) kd_conn_mem(c, m->b.mem - before);
}

/* ---------------------------------------------------------------- records */

static void write_side(kf_jw *w, const char *key, size_t kn, const h1_msg *m)
{
    kf_jw_keyc(w, key, kn);   /* one of our literal keys (no escaping) */
    kf_jw_obj_begin(w);
    if (m) {
        if (m->headers_json) kf_jw_kraw(w, "headers", m->headers_json, m->hj_len);
        if (m->cookies_json) kf_jw_kraw(w, "cookies", m->cookies_json, m->cj_len);
        kf_jw_kuint(w, "headers_size", m->head_size);
        if (m->incomplete) kf_jw_kbool(w, "incomplete", 1);
        kf_jw_kuint(w, "body_size", m->b.size);
        kd_http_body_write(w, &m->b);
    }
    kf_jw_obj_end(w);
}

static void h1_emit(kd_conn *c, h1_state *s, int req_dir, h1_msg *rq, h1_msg *rs)
{
    kd_call call;
    memset(&call, 0, sizeof call);
    call.req_dir = req_dir;
    if (rq) { call.has_req = 1; call.req_first = rq->first; call.req_last = rq->last; }
    if (rs) { call.has_resp = 1; call.resp_first = rs->first; call.resp_last = rs->last; }
    char op[128], type[32];
    int gql = rq && kd_http_graphql(rq->url, rq->content_type, rq->b.buf, rq->b.len, rq->b.truncated,
                                     op, sizeof op, type, sizeof type);
    kf_jw *w = kd_emit_begin(c, &call);
    if (gql) {
        kf_jw_kbool(w, "gql", 1);
        kf_jw_kbool(w, "gqlv1", 1);   /* Kubeshark: GraphQL over HTTP/1 */
        kf_jw_kstr(w, "gql_operation", op);
        kf_jw_kstr(w, "gql_operation_type", type);
    }
    if (rq) {
        kf_jw_kstr(w, "method", rq->method);
        const char *url = rq->url ? rq->url : "";
        kf_jw_kstrn(w, "url", url, rq->url_len);
        /* path: the url without query; absolute-form (proxies) keeps its scheme://host */
        kf_jw_kstrn(w, "path", url, rq->path_len);
        if (rq->url && rq->path_len < rq->url_len) {   /* a '?' */
            kf_jw_key(w, "query_string");
            kd_http_query_write(w, url + rq->path_len + 1, rq->url_len - rq->path_len - 1);
        }
        if (rq->host) kf_jw_kstr(w, "host", rq->host);
    }
    char ver[24];
    const char *v = rq ? rq->version : rs->version;
    size_t vn = strlen(v);   /* < 16 (h1_msg.version); by hand: snprintf was 1 % of the time */
    if (vn) { memcpy(ver, "HTTP/", 5); memcpy(ver + 5, v, vn); vn += 5; }
    kf_jw_kstrn(w, "http_version", ver, vn);
    if (rs) {
        kf_jw_kint(w, "status_code", rs->status);
        kf_jw_kstrn(w, "status_text", rs->reason ? rs->reason : "", rs->reason_len);
    } else if (rq) kf_jw_kbool(w, "unanswered", 1);
    if (rq && rq->ninterim) {
        kf_jw_key(w, "informational");
        kf_jw_arr_begin(w);
        for (int i = 0; i < rq->ninterim; i++) kf_jw_int(w, rq->interim[i]);
        kf_jw_arr_end(w);
    }
    if (rq && rq->upgrade && rq->conn_upgrade) kf_jw_kstr(w, "upgrade", rq->upgrade);
    write_side(w, "request", sizeof "request" - 1, rq);
    write_side(w, "response", sizeof "response" - 1, rs);
    kf_jw_kuint(w, "request_headers_size", rq ? rq->head_size : 0);
    kf_jw_kuint(w, "request_body_size", rq ? rq->b.size : 0);
    kf_jw_kuint(w, "response_headers_size", rs ? rs->head_size : 0);
    kf_jw_kuint(w, "response_body_size", rs ? rs->b.size : 0);
    kd_emit_end(c);
    if (rq) rq->emitted = 1;
    (void)s;
}

/* The connection's ordering bound: the table keeps it at its earliest request; a message being
 * read that the table does not hold (a response) holds it too. */
static void update_pending(kd_conn *c, h1_state *s)
{
    int64_t t = INT64_MAX;
    for (int d = 0; d < 2; d++)
        if (s->side[d].m && !s->side[d].m->emitted && s->side[d].m->first.ts_ns < t) t = s->side[d].m->first.ts_ns;
    kd_ptab_hold(&s->q, t);
}

/* the pending-call table's: a request whose response was not seen (evicted, gap, close) */
static int h1_unanswered(kd_conn *c, void *st, void *item)
{
    h1_pend *p = item;
    if (!p->m || p->m->emitted) return 0;
    h1_emit(c, st, kd_ptab_dir(&((h1_state *)st)->q, item), p->m, NULL);
    return 1;
}
static void h1_release(kd_conn *c, void *st, void *item)
{
    h1_pend *p = item;
    msg_unref(c, p->m);
    p->m = NULL;
}

/* A request sent by side dir waits for its response (a full table writes its oldest unanswered). */
static void enqueue(kd_conn *c, h1_state *s, int dir, h1_msg *m)
{
    h1_pend *p = kd_ptab_add(&s->q, dir, 0, m->first.ts_ns);
    if (!p) return;   /* no memory: the request is not matched (nor written) */
    p->m = m;
    m->refs++;
}
/* The oldest waiting request, taken off the table (the caller owns its reference), or NULL. */
static h1_msg *dequeue(h1_state *s)
{
    h1_pend *p = kd_ptab_oldest(&s->q);
    if (!p) return NULL;
    h1_msg *m = p->m;
    p->m = NULL;
    kd_ptab_done(&s->q, p);
    return m;
}
/* the oldest / newest waiting request, or NULL */
static h1_msg *h1_oldest(const h1_state *s)
{
    const h1_pend *p = kd_ptab_oldest(&s->q);
    return p ? p->m : NULL;
}
static h1_msg *h1_newest(const h1_state *s)
{
    const h1_pend *p = kd_ptab_newest(&s->q);
    return p ? p->m : NULL;
}

/* A response completed: match it with the oldest request. */
static void response_done(kd_conn *c, h1_state *s, int dir, h1_msg *rs)
{
    int cdir = !dir;
    if (rs->status >= 100 && rs->status < 200 && rs->status != 101) {   /* interim */
        h1_msg *o = h1_oldest(s);
        if (o && o->ninterim < 4) o->interim[o->ninterim++] = rs->status;
        return;
    }
    h1_msg *rq = dequeue(s);
    if (!rq && s->side[cdir].m && !s->side[cdir].m->emitted && s->side[cdir].m->is_req) {
        rq = s->side[cdir].m; rq->refs++;   /* answered before the request finished */
    }
    h1_emit(c, s, cdir, rq, rs);
    if (rq && METHOD_IS(rq->method, "CONNECT") && rs->status >= 200 && rs->status < 300) {
        /* a tunnel: what follows is whatever the client speaks to the target (RFC 9110 9.3.6) */
        if (kd_conn_upgrade(c, NULL, NULL) == 0) s->upgraded = 1;
        else s->tunnel = 1;
    }
    if (rs->status == 101 && rq) {
        const char *tok = rs->upgrade ? rs->upgrade : rq->upgrade;
        const char *to = NULL;
        if (tok && has_token(tok, "websocket")) to = "websocket";
        else if (tok && (has_token(tok, "h2c") || has_token(tok, "h2"))) to = "http2";
        int ok = 0;
        if (to) {
            kd_upgrade u;
            memset(&u, 0, sizeof u);
            u.from = "http1"; u.token = tok; u.client = cdir;
            u.method = rq->method; u.url = rq->url; u.host = rq->host;
            uint8_t settings[512];
            size_t sl = 0;
            if (rq->h2settings) {   /* base64url without padding */
                static const char *b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                uint32_t acc = 0; int bits = 0;
                for (const char *p = rq->h2settings; *p && sl < sizeof settings; p++) {
                    const char *f = strchr(b64, *p == '+' ? '-' : *p == '/' ? '_' : *p);
                    if (!f || !*p) continue;
                    acc = acc << 6 | (uint32_t)(f - b64); bits += 6;
                    if (bits >= 8) { bits -= 8; settings[sl++] = (uint8_t)(acc >> bits); }
                }
                u.h2_settings = settings; u.h2_settings_len = sl;
            }
            u.ws_key = rq->ws_key; u.ws_protocol = rs->ws_proto ? rs->ws_proto : rq->ws_proto;
            u.ws_extensions = rs->ws_ext ? rs->ws_ext : rq->ws_ext;
            u.req_first = rq->first; u.resp_last = rs->last; u.req_ts_ns = rq->first.ts_ns;
            ok = kd_conn_upgrade(c, to, &u) == 0;
        }
        if (ok) s->upgraded = 1;
        else s->tunnel = 1;    /* not ours any more: skip the rest */
    }
    if (rq) msg_unref(c, rq);
}

/* ---------------------------------------------------------------- stream parsing */

/* An LF at k of p[0..lim) met by head_end: recorded in L; returns the head's length when the
 * next line is the blank one, -1 when the bytes end first, else 0. */
static inline long head_lf(h1_lines *L, const uint8_t *p, size_t k, size_t lim)
{
    if (L->n >= 0) {
        if (L->n < H1_LINES) L->nl[L->n++] = (uint32_t)k;
        else L->n = -1;
    }
    size_t left = lim - k - 1;
    if (!left) return -1;
    if (p[k + 1] == '\n') return (long)k + 2;
    if (p[k + 1] == '\r') {
        if (left < 2) return -1;
        if (p[k + 2] == '\n') return (long)k + 3;
    }
    return 0;
}

/* Finds the end of the head (after the blank line: LF LF or LF CR LF, the first LF ending the
 * last field line); 0 = need more, -1 = too long / bad. Records the lines' LFs in *L (h1_lines),
 * 16 bytes a step (the last 16 again for what is left). */
static long head_end(const uint8_t *p, size_t n, h1_lines *L)
{
    size_t lim = n < H1_MAX_HEAD ? n : H1_MAX_HEAD, i = 0;
    long more = n >= H1_MAX_HEAD ? -1 : 0, r;
    L->n = 0;
#if defined(__SSE2__)
    if (lim >= 16) {
        const __m128i lf = _mm_set1_epi8('\n');
        for (;;) {
            size_t at = i + 16 <= lim ? i : lim - 16;   /* the last block overlaps the one before */
            unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + at)), lf));
            m &= ~0u << (i - at);   /* not again what was looked at */
            while (m) {
                size_t k = at + (unsigned)__builtin_ctz(m);
                m &= m - 1;
                if ((r = head_lf(L, p, k, lim))) return r > 0 ? r : more;
            }
            i = at + 16;
            if (i >= lim) return more;
        }
    }
#endif
    for (; i < lim; i++)
        if (p[i] == '\n' && (r = head_lf(L, p, i, lim))) return r > 0 ? r : more;
    return more;
}

/* Skips to the next line that starts a message of this direction's kind. */
static size_t resync(const uint8_t *p, size_t n, int is_req)
{
    for (size_t i = 0; i < n; i++) {
        if (i && p[i - 1] != '\n') continue;
        int ok = is_req ? looks_request_line(p + i, n - i, 0) : looks_status_line(p + i, n - i);
        if (ok) return i;   /* 1 = found, 2 = maybe (wait here) */
    }
    return n > 64 ? n - 64 : 0;
}

static void finish_msg(kd_conn *c, h1_state *s, int dir, int is_req)
{
    h1_side *sd = &s->side[dir];
    h1_msg *m = sd->m;
    sd->m = NULL;
    sd->state = ST_START;
    if (!m) return;
    m->done = 1;
    if (m->b.truncated || m->cut) kd_stat_add(c, KD_STAT_TRUNCATED_BODIES, 1);
    if (!is_req) response_done(c, s, dir, m);
    msg_unref(c, m);
}

static void set_last(kd_conn *c, h1_msg *m, int dir, uint64_t off_last_byte)
{
    kd_pref r;
    if (kd_stream_ref(c, dir, off_last_byte, &r) == 0) m->last = r;
}

static size_t h1_data(kd_conn *c, void *stv, int dir, const uint8_t *p, size_t n, uint64_t off, unsigned flags)
{
    h1_state *s = stv;
    h1_side *sd = &s->side[dir];
    const kd_conn_info *ci = kd_conn_get_info(c);
    int is_req = ci->client < 0 ? 1 : dir == ci->client;
    size_t i = 0;
    if ((flags & KD_DATA_AFTER_GAP) && sd->state == ST_START) sd->state = ST_RESYNC;
    if (s->tunnel || sd->state == ST_STOP) { return n; }
    while (i < n || (flags & KD_DATA_EOF)) {
        if (s->upgraded) return i;    /* the rest belongs to the next protocol */
        if (s->tunnel) return n;
        const uint8_t *q = p + i;
        size_t left = n - i;
        switch (sd->state) {
        case ST_RESYNC: {
            size_t k = resync(q, left, is_req);
            i += k;
            if (k < left && (is_req ? looks_request_line(p + i, n - i, 0) == 1 : looks_status_line(p + i, n - i) == 1)) {
                sd->state = ST_START;
                kd_stat_add(c, KD_STAT_RESYNCS, 1);
                continue;
            }
            if (flags & KD_DATA_EOF) return n;
            return i;
        }
        case ST_START: {
            if (!left) goto eof;
            /* skip stray CRLFs between messages */
            kf_cur st = kf_cur_make(q, left);
            uint8_t b = kf_u8(&st);
            if (b == '\r' || b == '\n') { i++; continue; }
            h1_msg *last_rq = is_req ? h1_newest(s) : NULL;
            if (last_rq && last_rq->upgrade && last_rq->conn_upgrade) return i;  /* wait for 101 */
            if (last_rq && METHOD_IS(last_rq->method, "CONNECT")) return i;  /* tunnel or not: its answer says */
            h1_lines lines;
            long he = head_end(q, left, &lines);
            int partial = 0;
            if (he == 0 && (flags & (KD_DATA_EOF | KD_DATA_GAP_NEXT)) &&
                (is_req ? looks_request_line(q, left, 1) == 1 : looks_status_line(q, left) == 1)) {
                he = (long)left; partial = 1;   /* the head is cut by a gap or the end: keep what we have */
            }
            if (he == 0) { if (flags & KD_DATA_EOF) { i = n; goto eof; } return i; }
            if (he < 0 || (is_req ? looks_request_line(q, left, 1) != 1 : looks_status_line(q, left) != 1)) {
                kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1);
                sd->state = ST_RESYNC; i++; continue;
            }
            h1_msg *m = msg_new(c);
            if (!m) return n;
            m->is_req = is_req; m->refs = 1;
            kd_stream_ref(c, dir, off + i, &m->first);
            set_last(c, m, dir, off + i + (size_t)he - 1);
            m->head_size = (uint64_t)he;
            if (parse_head(c, s, m, q, (size_t)he, partial ? NULL : &lines) != 0) {
                msg_free(c, m);
                kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1);
                sd->state = ST_RESYNC; i++; continue;
            }
            i += (size_t)he;
            sd->m = m;
            if (partial) {
                m->cut = 1; m->incomplete = 1;
                if (is_req) { enqueue(c, s, dir, m); finish_msg(c, s, dir, 1); }
                else sd->state = ST_CLOSE;
                update_pending(c, s);
                continue;
            }
            if (is_req) {
                enqueue(c, s, dir, m);
                if (m->chunked) sd->state = ST_CHUNK_SIZE;
                else if (m->has_cl && m->cl) { sd->state = ST_CL; sd->remaining = m->cl; }
                else { finish_msg(c, s, dir, 1); }
            } else {
                /* which request does this answer? (HEAD, CONNECT need it) */
                h1_msg *rq = h1_oldest(s);
                int nobody = (m->status >= 100 && m->status < 200) || m->status == 204 || m->status == 304 ||
                             (rq && METHOD_IS(rq->method, "HEAD")) ||
                             (rq && METHOD_IS(rq->method, "CONNECT") && m->status >= 200 && m->status < 300);
                if (nobody) finish_msg(c, s, dir, 0);
                else if (m->chunked) sd->state = ST_CHUNK_SIZE;
                else if (m->has_cl) { if (m->cl) { sd->state = ST_CL; sd->remaining = m->cl; } else finish_msg(c, s, dir, 0); }
                else sd->state = ST_CLOSE;
            }
            update_pending(c, s);
            continue;
        }
        case ST_CL: {
            if (!left) goto eof;
            size_t k = left < sd->remaining ? left : (size_t)sd->remaining;
            body_data(c, sd->m, q, k);
            set_last(c, sd->m, dir, off + i + k - 1);
            i += k; sd->remaining -= k;
            if (!sd->remaining) finish_msg(c, s, dir, is_req);
            continue;
        }
        case ST_CLOSE: {
            if (left) {
                body_data(c, sd->m, q, left);
                set_last(c, sd->m, dir, off + n - 1);
                i = n;
            }
            if (flags & KD_DATA_EOF) { finish_msg(c, s, dir, 0); update_pending(c, s); return n; }
            return i;
        }
        case ST_CHUNK_SIZE: case ST_TRAILERS: {
            if (!left) goto eof;
            kf_cur cc = kf_cur_make(q, left < 4096 ? left : 4096);
            const uint8_t *nl = memchr(cc.p, '\n', kf_cur_left(&cc));
            if (!nl) {
                if (left >= 4096) { sd->state = ST_RESYNC; kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1); if (sd->m) finish_msg(c, s, dir, is_req); sd->state = ST_RESYNC; continue; }
                if (flags & KD_DATA_EOF) { i = n; goto eof; }
                return i;
            }
            size_t ll = (size_t)(nl - q) + 1;
            kf_cur line = kf_cur_sub(&cc, ll);   /* the chunk-size (or trailer) line, LF included */
            set_last(c, sd->m, dir, off + i + ll - 1);
            if (sd->state == ST_TRAILERS) {
                i += ll;
                if (ll <= 2) finish_msg(c, s, dir, is_req);   /* empty line ends the trailers */
                continue;
            }
            char *endp;
            char tmp[32];
            size_t tl = ll < sizeof tmp ? ll : sizeof tmp - 1;
            memcpy(tmp, kf_cur_take(&line, tl), tl); tmp[tl] = 0;   /* strtoull as before (0x, overflow) */
            unsigned long long sz = strtoull(tmp, &endp, 16);
            if (endp == tmp || !isxdigit((unsigned char)tmp[0])) {
                kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1);
                finish_msg(c, s, dir, is_req);
                sd->state = ST_RESYNC;
                continue;
            }
            i += ll;
            if (sz == 0) sd->state = ST_TRAILERS;
            else { sd->state = ST_CHUNK_DATA; sd->remaining = sz; }
            continue;
        }
        case ST_CHUNK_DATA: {
            if (!left) goto eof;
            size_t k = left < sd->remaining ? left : (size_t)sd->remaining;
            body_data(c, sd->m, q, k);
            set_last(c, sd->m, dir, off + i + k - 1);
            i += k; sd->remaining -= k;
            if (!sd->remaining) sd->state = ST_CHUNK_CRLF;
            continue;
        }
        case ST_CHUNK_CRLF: {
            if (!left) goto eof;
            kf_cur cr = kf_cur_make(q, left);
            uint8_t b = kf_u8(&cr);
            if (b == '\r') { i++; continue; }
            if (b == '\n') { i++; sd->state = ST_CHUNK_SIZE; continue; }
            sd->state = ST_CHUNK_SIZE;   /* lenient: missing CRLF */
            continue;
        }
        default:
            return n;
        }
    eof:
        if (flags & KD_DATA_EOF) {
            if (sd->m && sd->state != ST_CLOSE) sd->m->incomplete = 1;
            if (sd->m) finish_msg(c, s, dir, is_req);
            update_pending(c, s);
            return n;
        }
        break;
    }
    update_pending(c, s);
    return i;
}

static void body_gap(kd_conn *c, h1_msg *m, uint64_t len)
{
    long before = m->b.mem;
    kd_http_body_gap(&m->b, len);
    if (m->b.mem != before) kd_conn_mem(c, m->b.mem - before);
    m->incomplete = 1;
}

static void h1_gap(kd_conn *c, void *stv, int dir, uint64_t off, uint64_t len)
{
    h1_state *s = stv;
    h1_side *sd = &s->side[dir];
    if ((sd->state == ST_CL || sd->state == ST_CHUNK_DATA) && len < sd->remaining) {
        sd->remaining -= len;   /* a hole inside a body: keep going, the body is incomplete */
        body_gap(c, sd->m, len);
        return;
    }
    if (sd->state == ST_CL && len == sd->remaining) {
        body_gap(c, sd->m, len);
        finish_msg(c, s, dir, sd->m->is_req);
        return;
    }
    if (sd->state == ST_CLOSE) { body_gap(c, sd->m, len); return; }
    if (sd->m) { sd->m->incomplete = 1; finish_msg(c, s, dir, sd->m->is_req); }
    sd->state = ST_RESYNC;
    /* responses lost in a gap cannot be told apart: the requests still waiting would take the
     * responses of later ones (every later call of the connection mismatched), so they go out
     * unanswered, oldest first, and what follows the gap is matched afresh */
    const kd_conn_info *ci = kd_conn_get_info(c);
    if (ci->client >= 0 && dir != ci->client) kd_ptab_flush(&s->q, -1);
    update_pending(c, s);
}

static void h1_init(kd_conn *c, void *stv)
{
    h1_state *s = stv;
    kd_ptab_init(&s->q, c, sizeof(h1_pend), H1_MAX_QUEUE, h1_unanswered, h1_release, s);
}

static void h1_close(kd_conn *c, void *stv)
{
    h1_state *s = stv;
    for (int d = 0; d < 2; d++) {
        h1_side *sd = &s->side[d];
        if (sd->m && !sd->m->is_req && sd->state != ST_START) {
            if (sd->state != ST_CLOSE) sd->m->incomplete = 1;
            finish_msg(c, s, d, 0);
        }
    }
    kd_ptab_flush(&s->q, -1);   /* requests without response, oldest first */
    kd_ptab_hold(&s->q, INT64_MAX);
}

static void h1_destroy(kd_conn *c, void *stv)
{
    h1_state *s = stv;
    kd_ptab_free(&s->q);
    for (int d = 0; d < 2; d++) { msg_unref(c, s->side[d].m); s->side[d].m = NULL; }
}

const kd_dissector kd_proto_http1 = {
    .name = "http1", .protocol = "HTTP", .flag = "http", .l7_name = "HTTP",
    .transports = KD_TRANSPORT_TCP, .ports = h1_ports,
    .state_size = sizeof(h1_state),
    .probe = h1_probe, .init = h1_init, .on_data = h1_data, .on_gap = h1_gap,
    .on_close = h1_close, .destroy = h1_destroy,
};
