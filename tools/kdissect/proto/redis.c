/* redis.c — Redis RESP2 and RESP3 (redis.io/docs/latest/develop/reference/protocol-spec):
 * requests are arrays of bulk strings or inline command lines; replies are matched to requests
 * in order (pipelining), with the exceptions the protocol makes: RESP3 push messages ('>') and
 * RESP2 pub/sub messages are not replies, SUBSCRIBE-like commands get one reply per channel,
 * CLIENT REPLY OFF/SKIP silences replies.
 *
 *   simple  +OK\r\n   -ERR msg\r\n   :42\r\n   _\r\n   ,3.14\r\n   #t\r\n   (12345\r\n
 *   blob    $5\r\nhello\r\n   !3\r\nerr\r\n   =7\r\ntxt:abc\r\n   ($-1 / *-1 = null)
 *   aggr    *N elems   ~N set   >N push   %N map (2N elems)   |N attribute (2N elems, then the value)
 *
 * Every byte goes through bounds checks; nested aggregates are walked with a counter, never by
 * recursion, so depth is not a stack risk. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kf_cursor.h"

#define RESP_MAX_LINE 65536
#define RESP_MAX_ELEMS (1L << 24)
#define REDIS_MAX_ARGS 8
#define REDIS_LINE_MAX 512
#define REDIS_KEY_MAX 64

/* Parses a decimal (optionally negative) integer: the whole of line. Returns 0 ok, -1 bad. */
static int resp_int(kf_cur line, long long *out)
{
    int neg = 0;
    long long v = 0;
    if (kf_cur_left(&line) && (*line.p == '-' || *line.p == '+')) neg = kf_u8(&line) == '-';
    if (!kf_cur_left(&line)) return -1;
    while (kf_cur_left(&line)) {
        uint8_t d = kf_u8(&line);
        if (d < '0' || d > '9') return -1;
        if (v > 1000000000000000LL) return -1;
        v = v * 10 + (d - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* The line at the cursor, ended by "\r\n": *line gets its bytes (without CR LF) and the cursor
 * moves past the LF. Returns 1, 0 when more bytes are needed (the cursor stays), -1 when the line
 * is too long or broken (no CR before the LF, or the LF first). */
static int resp_line(kf_cur *c, kf_cur *line)
{
    size_t left = kf_cur_left(c);
    const uint8_t *nl = memchr(c->p, '\n', left > RESP_MAX_LINE ? RESP_MAX_LINE : left);
    if (!nl) return left > RESP_MAX_LINE ? -1 : 0;
    size_t l = (size_t)(nl - c->p);
    if (l == 0 || nl[-1] != '\r') return -1;
    *line = kf_cur_sub(c, l - 1);
    kf_cur_skip(c, 2);
    return 1;
}

static int resp_is_type(uint8_t c)
{
    return c && strchr("+-:$*_,#!=(%~>|", c) != NULL;
}

/* Length of one complete RESP value at p. >0: bytes; 0: need more; -1: not RESP. */
static long resp_value_len(const uint8_t *p, size_t n)
{
    kf_cur c = kf_cur_make(p, n);
    long pending = 1;
    while (pending > 0) {
        if (!kf_cur_left(&c)) return 0;
        uint8_t t = kf_u8(&c);
        if (!resp_is_type(t)) return -1;
        kf_cur line;
        int r = resp_line(&c, &line);
        if (r == 0) return 0;
        if (r < 0) return -1;
        long long v = 0;
        switch (t) {
        case '+': case '-': case ':': case '_': case ',': case '#': case '(':
            pending--;
            break;
        case '$': case '!': case '=':
            if (resp_int(line, &v) < 0 || v < -1) return -1;
            if (v >= 0) {
                if ((unsigned long long)v > (1ULL << 30)) return -1;
                if (kf_cur_left(&c) < (size_t)v + 2) return 0;
                kf_cur_skip(&c, (size_t)v);
                if (kf_u8(&c) != '\r' || kf_u8(&c) != '\n') return -1;
            }
            pending--;
            break;
        case '*': case '~': case '>': case '%': case '|':
            if (resp_int(line, &v) < 0 || v < -1 || v > RESP_MAX_ELEMS) return -1;
            if (v < 0) { pending--; break; }
            if (t == '%') v *= 2;
            if (t == '|') pending += v * 2;     /* the attribute map, then the value it decorates */
            else pending += v - 1;
            if (pending > RESP_MAX_ELEMS) return -1;
            break;
        }
    }
    return (long)(c.p - p);
}

/* Incremental scanning of one value too large to buffer whole: only complete lines and the
 * bytes of bulk strings are consumed, so the value goes by in pieces. */
typedef struct resp_scan {
    long pending;               /* values still to read (1 at the start) */
    uint64_t bulk_left;         /* bytes of the current bulk string + CRLF still to skip */
} resp_scan;

/* Returns bytes consumed (>= 0) and sets *done when the value ended; -1 if not RESP. */
static long resp_scan_feed(resp_scan *sc, const uint8_t *p, size_t n, int *done)
{
    kf_cur c = kf_cur_make(p, n);
    *done = 0;
    for (;;) {
        if (sc->bulk_left) {
            size_t left = kf_cur_left(&c);
            size_t take = sc->bulk_left < left ? (size_t)sc->bulk_left : left;
            kf_cur_skip(&c, take);
            sc->bulk_left -= take;
            if (sc->bulk_left) return (long)(c.p - p);
            sc->pending--;
        }
        if (sc->pending <= 0) { *done = 1; return (long)(c.p - p); }
        if (!kf_cur_left(&c)) return (long)(c.p - p);
        kf_cur v = c;                   /* the next value's line; c stays before it until whole */
        uint8_t t = kf_u8(&v);
        if (!resp_is_type(t)) return -1;
        kf_cur line;
        int r = resp_line(&v, &line);
        if (r == 0) return (long)(c.p - p);
        if (r < 0) return -1;
        long long n2 = 0;
        switch (t) {
        case '$': case '!': case '=':
            if (resp_int(line, &n2) < 0 || n2 < -1) return -1;
            if (n2 >= 0) sc->bulk_left = (uint64_t)n2 + 2;
            else sc->pending--;
            break;
        case '*': case '~': case '>': case '%': case '|':
            if (resp_int(line, &n2) < 0 || n2 < -1 || n2 > RESP_MAX_ELEMS) return -1;
            if (n2 < 0) { sc->pending--; break; }
            if (t == '%') n2 *= 2;
            if (t == '|') sc->pending += n2 * 2; else sc->pending += n2 - 1;
            if (sc->pending > RESP_MAX_ELEMS) return -1;
            break;
        default:
            sc->pending--;
            break;
        }
        c = v;
    }
}

/* A parsed request (command) or reply summary. */
typedef struct redis_msg {
    int inline_cmd;
    int nargs;                          /* total arguments */
    char verb[32];                      /* upper-cased */
    char arg1[32];                      /* second word, upper-cased (CLIENT REPLY ...) */
    char arg2[16];
    char key[REDIS_KEY_MAX + 1]; size_t key_len;
    char line[REDIS_LINE_MAX + 1]; size_t line_len;
    /* reply */
    uint8_t type;                       /* first byte: '+', '-', '*', … */
    int is_error;
    int is_push;                        /* RESP3 push, or RESP2 pub/sub message array */
    char push_kind[16];                 /* first element of a push, upper-cased ("SUBSCRIBE") */
    char summary[160]; size_t summary_len;
    long long count;
} redis_msg;

static void redis_append(char *dst, size_t *len, size_t cap, const uint8_t *p, size_t n)
{
    if (*len >= cap) return;
    if (n > cap - *len) n = cap - *len;
    memcpy(dst + *len, p, n);
    *len += n;
    dst[*len] = 0;
}

static void redis_upper(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) dst[i] = (char)toupper(p[i]);
    dst[n] = 0;
}

static void redis_add_arg(redis_msg *m, const uint8_t *a, size_t al)
{
    if (m->nargs == 0) redis_upper(m->verb, sizeof m->verb, a, al);
    else if (m->nargs == 1) {
        redis_upper(m->arg1, sizeof m->arg1, a, al);
        m->key_len = al > REDIS_KEY_MAX ? REDIS_KEY_MAX : al;
        memcpy(m->key, a, m->key_len);
        m->key[m->key_len] = 0;
    } else if (m->nargs == 2) redis_upper(m->arg2, sizeof m->arg2, a, al);
    if (m->line_len) redis_append(m->line, &m->line_len, REDIS_LINE_MAX, (const uint8_t *)" ", 1);
    redis_append(m->line, &m->line_len, REDIS_LINE_MAX, a, al);
    m->nargs++;
}

/* Request at p (one complete value, or an inline line). len: its length. */
static void redis_parse_request(const uint8_t *p, size_t len, redis_msg *m)
{
    memset(m, 0, sizeof *m);
    kf_cur c = kf_cur_make(p, len);
    if (!kf_cur_left(&c)) return;
    if (*c.p != '*') {   /* inline: words separated by spaces, up to \r\n */
        m->inline_cmd = 1;
        size_t e = len;
        while (e > 0 && (p[e - 1] == '\n' || p[e - 1] == '\r')) e--;
        kf_cur w = kf_cur_make(p, e);
        while (kf_cur_left(&w)) {
            while (kf_cur_left(&w) && *w.p == ' ') kf_cur_skip(&w, 1);
            size_t k = 0, left = kf_cur_left(&w);
            while (k < left && w.p[k] != ' ') k++;
            if (k) redis_add_arg(m, kf_cur_take(&w, k), k);
        }
        return;
    }
    kf_cur_skip(&c, 1);
    kf_cur line;
    long long cnt = 0;
    if (resp_line(&c, &line) <= 0 || resp_int(line, &cnt) < 0) return;
    m->count = cnt;
    for (long long i = 0; i < cnt && !c.err && kf_cur_left(&c) > 0; i++) {
        long vl = resp_value_len(c.p, kf_cur_left(&c));
        if (vl <= 0) break;
        kf_cur e = kf_cur_sub(&c, (size_t)vl);   /* one whole element */
        uint8_t t = kf_u8(&e);
        if (t == '$' || t == '+' || t == ':') {
            kf_cur l2;
            if (resp_line(&e, &l2) <= 0) break;
            if (t == '$') {
                long long bl = 0;
                if (resp_int(l2, &bl) == 0 && bl >= 0) {
                    const uint8_t *a = kf_cur_take(&e, (size_t)bl);
                    if (a) redis_add_arg(m, a, (size_t)bl);
                }
            } else {
                size_t al = kf_cur_left(&l2);
                redis_add_arg(m, kf_cur_take(&l2, al), al);
            }
        } else {
            redis_add_arg(m, (const uint8_t *)"?", 1);
        }
    }
}

/* The upper-cased text of the first element of an aggregate at c (a bulk or simple string), or
 * nothing: push kinds and pub/sub message names. Returns its length (0: none) and *w its bytes. */
static size_t redis_first_word(kf_cur c, int bulk_only, const uint8_t **w)
{
    if (!kf_cur_left(&c)) return 0;
    uint8_t t = kf_u8(&c);
    if (t != '$' && (bulk_only || t != '+')) return 0;
    kf_cur line;
    if (resp_line(&c, &line) <= 0) return 0;
    if (t == '+') { *w = line.p; return kf_cur_left(&line); }
    long long sl = 0;
    if (resp_int(line, &sl) != 0 || sl <= 0 || kf_cur_left(&c) < (size_t)sl) return 0;
    *w = c.p;
    return (size_t)sl;
}

/* Reply summary: text of simple strings/errors/numbers, "(nil)", "array(N)", "bulk(N)". */
static void redis_parse_reply(const uint8_t *p, size_t len, redis_msg *m)
{
    memset(m, 0, sizeof *m);
    kf_cur c = kf_cur_make(p, len);
    /* skip a RESP3 attribute that decorates the reply */
    while (kf_cur_left(&c) && *c.p == '|') {
        kf_cur a = c;   /* the attribute map alone: walk it as a map */
        kf_cur_skip(&a, 1);
        kf_cur line;
        long long cnt = 0;
        if (resp_line(&a, &line) <= 0 || resp_int(line, &cnt) < 0 || cnt < 0) return;
        for (long long i = 0; i < 2 * cnt; i++) {
            long vl = resp_value_len(a.p, kf_cur_left(&a));
            if (vl <= 0) return;
            kf_cur_skip(&a, (size_t)vl);
        }
        c = a;
    }
    if (!kf_cur_left(&c)) return;
    uint8_t t = kf_u8(&c);
    m->type = t;
    kf_cur line;
    if (resp_line(&c, &line) <= 0) return;
    const uint8_t *body = line.p;
    size_t bl = kf_cur_left(&line);
    long long v = 0;
    switch (t) {
    case '-':
        m->is_error = 1;
        /* fallthrough */
    case '+': case ':': case ',': case '#': case '(':
        redis_append(m->summary, &m->summary_len, sizeof m->summary - 1, body, bl);
        break;
    case '_':
        redis_append(m->summary, &m->summary_len, sizeof m->summary - 1, (const uint8_t *)"(nil)", 5);
        break;
    case '$': case '!': case '=':
        if (resp_int(line, &v) < 0) break;
        m->count = v;
        if (v < 0) { redis_append(m->summary, &m->summary_len, sizeof m->summary - 1, (const uint8_t *)"(nil)", 5); break; }
        if (t == '!') m->is_error = 1;
        if (kf_cur_left(&c) >= (size_t)v)
            redis_append(m->summary, &m->summary_len, sizeof m->summary - 1, c.p, (size_t)v);
        break;
    case '*': case '~': case '%': case '>': {
        if (resp_int(line, &v) < 0) break;
        m->count = v;
        char b[48];
        int k = snprintf(b, sizeof b, v < 0 ? "(nil)" : "%s(%lld)",
                         t == '%' ? "map" : t == '~' ? "set" : t == '>' ? "push" : "array", v);
        redis_append(m->summary, &m->summary_len, sizeof m->summary - 1, (const uint8_t *)b, (size_t)k);
        const uint8_t *w = NULL;
        if (t == '>') {
            m->is_push = 1;
            size_t wl = redis_first_word(c, 0, &w);
            if (wl) redis_upper(m->push_kind, sizeof m->push_kind, w, wl);
        }
        /* RESP2 pub/sub delivery: *3 $7 message … / *4 $8 pmessage … / smessage */
        if (t == '*' && (v == 3 || v == 4)) {
            size_t wl = redis_first_word(c, 1, &w);
            if (wl && wl < 16 && ((wl == 7 && !memcmp(w, "message", 7)) || (wl == 8 && !memcmp(w, "pmessage", 8)) ||
                                  (wl == 8 && !memcmp(w, "smessage", 8))))
                m->is_push = 1;
        }
        break;
    }
    }
}

/* Commands that take no key as first argument (redis_key stays empty). */
static int redis_keyless(const char *verb)
{
    static const char *const v[] = {
        "AUTH", "PING", "ECHO", "SELECT", "CLIENT", "CONFIG", "INFO", "HELLO", "COMMAND", "QUIT",
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
        "PUBLISH", "SPUBLISH", "PUBSUB", "MULTI", "EXEC", "DISCARD", "SCRIPT", "EVAL", "EVALSHA",
        "FUNCTION", "FCALL", "DEBUG", "SLOWLOG", "MONITOR", "SAVE", "BGSAVE", "FLUSHALL", "FLUSHDB",
        "DBSIZE", "TIME", "LASTSAVE", "ROLE", "REPLICAOF", "SLAVEOF", "SYNC", "PSYNC", "CLUSTER",
        "ACL", "MEMORY", "LATENCY", "MODULE", "SHUTDOWN", "SWAPDB", "WAIT", "RESET", "KEYS", "SCAN",
        "RANDOMKEY", "READONLY", "READWRITE", "ASKING", "LOLWUT", "BGREWRITEAOF", "SENTINEL", NULL};
    for (int i = 0; v[i]; i++) if (!strcmp(v[i], verb)) return 1;
    return 0;
}

/* Inline commands are only recognised in the probe when they start with a known verb. */
static int redis_inline_verb(const uint8_t *p, size_t n)
{
    static const char *const v[] = {"PING", "SET", "GET", "AUTH", "HELLO", "CLIENT", "INFO", "DEL",
        "INCR", "DECR", "KEYS", "SELECT", "ECHO", "QUIT", "EXISTS", "EXPIRE", "TTL", "MGET", "MSET",
        "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "HSET", "HGET", "SUBSCRIBE", "PUBLISH", "MULTI",
        "EXEC", "FLUSHALL", "FLUSHDB", "DBSIZE", "CONFIG", "COMMAND", "MONITOR", NULL};
    kf_cur c = kf_cur_make(p, n);
    size_t w = 0;
    while (kf_cur_left(&c) && w < 16 && isalpha(*c.p)) { kf_cur_skip(&c, 1); w++; }
    if (w == 0 || !kf_cur_left(&c)) return 0;
    uint8_t e = kf_u8(&c);
    if (!(e == ' ' || e == '\r' || e == '\n')) return 0;
    char up[17];
    redis_upper(up, sizeof up, p, w);
    for (int i = 0; v[i]; i++) if (!strcmp(v[i], up)) return 1;
    return 0;
}

/* Probe: client request array "*N\r\n$L\r\n" or a known inline verb; server replies "+", "-",
 * ":", "$N\r\n" lines. 2 client, 3 server, 1 more, 0 no (numbers as KD_PROBE_*). */
static int redis_probe_bytes(const uint8_t *p, size_t n)
{
    kf_cur c = kf_cur_make(p, n);
    while (kf_cur_left(&c) && (*c.p == '\r' || *c.p == '\n')) kf_cur_skip(&c, 1);   /* empty inline lines */
    if (kf_cur_left(&c) < 3) return 1;
    const uint8_t *start = c.p;
    size_t left = kf_cur_left(&c);
    uint8_t t = kf_u8(&c);
    kf_cur line = { 0 };
    int r = resp_line(&c, &line);   /* c: after the first line, when r == 1 */
    long long v;
    if (t == '*') {
        if (r == 0) return left < 32 ? 1 : 0;
        if (r < 0 || resp_int(line, &v) < 0 || v < 0 || v > 1000000) return 0;
        if (v == 0) return 3;
        if (!kf_cur_left(&c)) return 1;
        if (*c.p == '$') return 2;     /* a command (or a bulk-string array reply) */
        return resp_is_type(*c.p) ? 3 : 0;
    }
    if (redis_inline_verb(start, left)) {
        /* "GET /x HTTP/1.1" is HTTP, not an inline GET */
        const uint8_t *nl = memchr(start, '\n', left);
        size_t e = nl ? (size_t)(nl - start) : left;
        return memmem(start, e, " HTTP/", 6) ? 0 : 2;
    }
    if (strchr("%~>|", t)) {          /* RESP3 aggregates only come from servers (a NUL too, as before) */
        if (r == 0) return left < 32 ? 1 : 0;
        if (r < 0 || resp_int(line, &v) < 0 || v < 0 || v > 1000000) return 0;
        if (!kf_cur_left(&c)) return 1;
        return resp_is_type(*c.p) ? 3 : 0;
    }
    if (t == '+' || t == '-' || t == ':' || t == '$') {
        if (r == 0) return left < 64 ? 1 : 0;
        if (r < 0) return 0;
        if (t == ':' || t == '$') return resp_int(line, &v) == 0 ? 3 : 0;
        size_t ll = kf_cur_left(&line);
        for (kf_cur k = line; kf_cur_left(&k);) { uint8_t b = kf_u8(&k); if (b < 0x20 || b == 0x7f) return 0; }
        if (t == '-') return ll && isupper(*line.p) ? 3 : 0;
        return ll ? 3 : 0;
    }
    return 0;
}

/* --- dissector glue ---------------------------------------------------------------------- */
#ifndef KD_PARSE_ONLY
#include "../dissector.h"

#define REDIS_QUEUE 256

typedef struct redis_req {
    redis_msg m;
    kd_pref first, last;
    size_t size;
    int replies_left;           /* SUBSCRIBE a b c: one reply per channel */
    size_t resp_size;
    int has_resp;
    kd_pref rfirst, rlast;
    redis_msg r;
    int silenced;               /* sent while CLIENT REPLY OFF/SKIP was in effect */
} redis_req;

typedef struct redis_state {
    kd_conn *conn;
    int client;                 /* side that sends commands */
    kd_ptab q;                  /* pending requests (redis_req), in order, up to REDIS_QUEUE */
    int reply_off, reply_skip;  /* CLIENT REPLY OFF / SKIP in effect */
    int dead[2];
    /* a value larger than we buffer, going by in pieces */
    int big[2];
    resp_scan scan[2];
    redis_msg big_msg[2];
    kd_pref big_first[2];
    uint64_t big_size[2];
} redis_state;

static const uint16_t redis_ports[] = {6379, 6380, 26379, 0};

static void redis_emit(redis_state *s, const redis_req *rq, const redis_msg *rs, size_t rs_size,
                       const kd_pref *rf, const kd_pref *rl)
{
    kd_call call = {0};
    call.req_dir = s->client;
    call.has_req = rq != NULL;
    call.has_resp = rs != NULL;
    if (rq) { call.req_first = rq->first; call.req_last = rq->last; }
    if (rs) { call.resp_first = *rf; call.resp_last = *rl; }
    call.no_response = rq && rq->silenced;
    kf_jw *w = kd_emit_begin(s->conn, &call);
    if (!w) return;
    size_t qs = rq ? rq->size : 0;
    if (rq) {
        kf_jw_kstr(w, "redis_type", rq->m.verb);
        kf_jw_kstrn(w, "redis_command", rq->m.line, rq->m.line_len);
        if (rq->m.nargs > 1 && !redis_keyless(rq->m.verb)) kf_jw_kstrn(w, "redis_key", rq->m.key, rq->m.key_len);
        if (rq->m.inline_cmd) kf_jw_kbool(w, "redis_inline", 1);
    } else if (rs) {
        kf_jw_kstr(w, "redis_type", rs->is_push ? "PUSH" : "REPLY");
    }
    kf_jw_kint(w, "redis_request_size", (int64_t)qs);
    kf_jw_kint(w, "redis_response_size", (int64_t)rs_size);
    kf_jw_kint(w, "redis_total_size", (int64_t)(qs + rs_size));
    if (rs) {
        char t[2] = {(char)rs->type, 0};
        kf_jw_kstr(w, "redis_response_type", t);
        kf_jw_kstrn(w, "redis_response", rs->summary, rs->summary_len);
        kf_jw_kbool(w, "redis_error", rs->is_error);
        if (rs->is_error) kf_jw_kstrn(w, "redis_error_message", rs->summary, rs->summary_len);
        if (rs->is_push) kf_jw_kbool(w, "redis_push", 1);
    } else if (rq && rq->silenced) {
        kf_jw_kbool(w, "redis_no_response", 1);   /* the client turned replies off; else "unanswered" */
    }
    kd_emit_end(s->conn);
}

/* the oldest request goes out, with what was seen of its replies */
static void redis_pop_emit(redis_state *s)
{
    redis_req *rq = kd_ptab_oldest(&s->q);
    if (!rq) return;
    redis_emit(s, rq, rq->has_resp ? &rq->r : NULL, rq->resp_size, &rq->rfirst, &rq->rlast);
    kd_ptab_done(&s->q, rq);
}

/* the pending table's: a request whose replies were not (all) seen */
static int redis_unanswered(kd_conn *c, void *st, void *item)
{
    redis_state *s = st;
    redis_req *rq = item;
    s->conn = c;
    redis_emit(s, rq, rq->has_resp ? &rq->r : NULL, rq->resp_size, &rq->rfirst, &rq->rlast);
    return !rq->has_resp;
}

static void redis_push_request(redis_state *s, const redis_msg *m, size_t len, const kd_pref *f,
                               const kd_pref *l)
{
    redis_req rq;
    memset(&rq, 0, sizeof rq);
    rq.m = *m;
    rq.first = *f; rq.last = *l; rq.size = len;
    rq.replies_left = 1;
    const char *v = rq.m.verb;
    if ((!strcmp(v, "SUBSCRIBE") || !strcmp(v, "PSUBSCRIBE") || !strcmp(v, "SSUBSCRIBE")) && rq.m.nargs > 2)
        rq.replies_left = rq.m.nargs - 1;
    int noreply = s->reply_off || s->reply_skip;
    if (s->reply_skip) s->reply_skip = 0;
    if (!strcmp(v, "CLIENT") && !strcmp(rq.m.arg1, "REPLY")) {
        if (!strcmp(rq.m.arg2, "OFF")) { s->reply_off = 1; noreply = 1; }
        else if (!strcmp(rq.m.arg2, "SKIP")) { s->reply_skip = 1; noreply = 1; }
        else if (!strcmp(rq.m.arg2, "ON")) { s->reply_off = 0; noreply = 0; }
    }
    if (noreply) { rq.silenced = 1; redis_emit(s, &rq, NULL, 0, NULL, NULL); return; }
    redis_req *slot = kd_ptab_add(&s->q, s->client, 0, f->ts_ns);   /* full: the oldest goes out unanswered */
    if (!slot) { redis_emit(s, &rq, NULL, 0, NULL, NULL); return; }
    *slot = rq;
}

static void redis_push_reply(redis_state *s, const redis_msg *rp, size_t len, const kd_pref *f,
                             const kd_pref *l)
{
    redis_msg r = *rp;
    redis_req *rq = kd_ptab_oldest(&s->q);
    /* RESP3 answers (UN)SUBSCRIBE with pushes of the same name: those are replies */
    if (r.is_push && rq && r.push_kind[0] && !strcmp(r.push_kind, rq->m.verb))
        r.is_push = 0;
    if (r.is_push || !rq) {
        redis_emit(s, NULL, &r, len, f, l);
        return;
    }
    if (!rq->has_resp) { rq->has_resp = 1; rq->r = r; rq->rfirst = *f; }
    else if (r.is_error && !rq->r.is_error) rq->r = r;
    rq->rlast = *l;
    rq->resp_size += len;
    if (--rq->replies_left <= 0) redis_pop_emit(s);
}

static void redis_on_request(redis_state *s, const uint8_t *p, size_t len, const kd_pref *f,
                             const kd_pref *l)
{
    redis_msg m;
    redis_parse_request(p, len, &m);
    redis_push_request(s, &m, len, f, l);
}

static void redis_on_reply(redis_state *s, const uint8_t *p, size_t len, const kd_pref *f,
                           const kd_pref *l)
{
    redis_msg r;
    redis_parse_reply(p, len, &r);
    redis_push_reply(s, &r, len, f, l);
}

static int redis_kd_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    int r = redis_probe_bytes(p, n);
    int to_port = 0, from_port = 0;
    for (const uint16_t *q = redis_ports; ci && *q; q++) {
        if (ci->port[dir ^ 1] == *q) to_port = 1;
        if (ci->port[dir] == *q) from_port = 1;
    }
    /* the port settles which side is the client when only one side uses a Redis port */
    if (r >= 2 && to_port && !from_port) r = 2;
    if (r >= 2 && from_port && !to_port) r = 3;
    /* on a Redis port, any printable text line from the client is an inline command */
    if (r == 0 && ci) {
        if (to_port && !from_port && (isalpha(p[0]) || resp_is_type(p[0]))) {
            size_t i = 0;
            while (i < n && i < 256 && p[i] >= 0x20 && p[i] < 0x7f) i++;
            if (i < n && p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') r = 2;
            else if (i == n && n < 256) r = 1;
        }
    }
    switch (r) {
    case 1: return KD_PROBE_MORE;
    case 2: return KD_PROBE_CLIENT;
    case 3: return KD_PROBE_SERVER;
    }
    return KD_PROBE_NO;
}

static void redis_kd_init(kd_conn *c, void *st)
{
    redis_state *s = st;
    s->conn = c;
    const kd_conn_info *ci = kd_conn_get_info(c);
    s->client = ci && ci->client >= 0 ? ci->client : 0;
    kd_ptab_init(&s->q, c, sizeof(redis_req), REDIS_QUEUE, redis_unanswered, NULL, s);
}

static size_t redis_kd_data(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t off,
                            unsigned flags)
{
    redis_state *s = st;
    s->conn = c;
    const kd_conn_info *ci = kd_conn_get_info(c);
    if (ci && ci->client >= 0) s->client = ci->client;
    if (s->dead[dir]) return n;
    size_t used = 0;
    int is_client = dir == s->client;
    if (flags & KD_DATA_AFTER_GAP) {
        /* resynchronise: skip to the next line that starts a RESP value */
        while (used < n) {
            if ((is_client ? p[used] == '*' : resp_is_type(p[used])) &&
                (used == 0 || p[used - 1] == '\n')) break;
            used++;
        }
        if (used) kd_stat_add(c, KD_STAT_RESYNCS, 1);
    }
    while (used < n) {
        const uint8_t *m = p + used;
        size_t left = n - used;
        long len;
        if (s->big[dir]) {
            int done = 0;
            long k = resp_scan_feed(&s->scan[dir], m, left, &done);
            if (k < 0) {
                s->big[dir] = 0;
                kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1);
                const uint8_t *nl = memchr(m, '\n', left);
                if (!nl) { used = n; break; }
                used += (size_t)(nl - m) + 1;
                continue;
            }
            s->big_size[dir] += (uint64_t)k;
            used += (size_t)k;
            if (!done) break;
            s->big[dir] = 0;
            kd_pref l;
            kd_stream_ref(c, dir, off + used - 1, &l);
            if (is_client) redis_push_request(s, &s->big_msg[dir], s->big_size[dir], &s->big_first[dir], &l);
            else redis_push_reply(s, &s->big_msg[dir], s->big_size[dir], &s->big_first[dir], &l);
            continue;
        }
        if (is_client && m[0] != '*') {   /* inline command line */
            const uint8_t *nl = memchr(m, '\n', left > RESP_MAX_LINE ? RESP_MAX_LINE : left);
            if (!nl) { len = left > RESP_MAX_LINE ? -1 : 0; }
            else len = (long)(nl - m) + 1;
        } else {
            len = resp_value_len(m, left);
        }
        if (len == 0 && left >= (8u << 10) && !(is_client && m[0] != '*')) {
            /* too large to wait for whole: summarise its head, then scan it in pieces */
            if (is_client) redis_parse_request(m, left, &s->big_msg[dir]);
            else redis_parse_reply(m, left, &s->big_msg[dir]);
            kd_stream_ref(c, dir, off + used, &s->big_first[dir]);
            memset(&s->scan[dir], 0, sizeof s->scan[dir]);
            s->scan[dir].pending = 1;
            s->big_size[dir] = 0;
            s->big[dir] = 1;
            continue;
        }
        if (len == 0) {
            if (flags & KD_DATA_EOF) { len = (long)left; }   /* truncated last message */
            else break;
        }
        if (len < 0) {
            kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1);
            /* skip this line and try the next */
            const uint8_t *nl = memchr(m, '\n', left);
            len = nl ? (long)(nl - m) + 1 : (long)left;
            if (!nl) { used = n; break; }
            used += (size_t)len;
            continue;
        }
        kd_pref f, l;
        kd_stream_ref(c, dir, off + used, &f);
        kd_stream_ref(c, dir, off + used + (size_t)len - 1, &l);
        if (is_client) {
            int blank = m[0] == '\r' || m[0] == '\n';
            if (!blank) redis_on_request(s, m, (size_t)len, &f, &l);
        } else {
            redis_on_reply(s, m, (size_t)len, &f, &l);
        }
        used += (size_t)len;
    }
    return used;
}

static void redis_kd_gap(kd_conn *c, void *st, int dir, uint64_t off, uint64_t len)
{
    redis_state *s = st;
    s->conn = c;
    /* replies lost in a gap cannot be paired: what waits goes out unanswered */
    if (dir != s->client) kd_ptab_flush(&s->q, -1);
}

static void redis_kd_close(kd_conn *c, void *st)
{
    redis_state *s = st;
    s->conn = c;
    kd_ptab_flush(&s->q, -1);
}

static void redis_kd_destroy(kd_conn *c, void *st) { kd_ptab_free(&((redis_state *)st)->q); }

const kd_dissector kd_proto_redis = {
    .name = "redis", .protocol = "REDIS", .flag = "redis", .l7_name = "REDIS",
    .transports = KD_TRANSPORT_TCP, .ports = redis_ports, .calls = 1, .state_size = sizeof(redis_state),
    .probe = redis_kd_probe, .init = redis_kd_init, .on_data = redis_kd_data, .on_gap = redis_kd_gap,
    .on_close = redis_kd_close, .destroy = redis_kd_destroy,
};
#endif /* KD_PARSE_ONLY */
