/* postgresql.c — PostgreSQL frontend/backend protocol 3.0 (postgresql.org/docs/current/protocol.html,
 * "Message Formats" and "Message Flow").
 *
 *   startup (no type byte): Int32 len | Int32 code (196608 = 3.0; 80877103 SSLRequest;
 *                           80877104 GSSENCRequest; 80877102 CancelRequest) | key\0value\0…\0
 *   every other message:    Byte1 type | Int32 len (counts itself) | body
 *
 * Calls: the startup with its authentication (until ReadyForQuery or ErrorResponse); each
 * simple Query ('Q') until ReadyForQuery; each extended-protocol cycle (Parse/Bind/Describe/
 * Execute… up to Sync) until ReadyForQuery; SSLRequest with its one-byte answer ('S' hands the
 * connection to the TLS dissector); CancelRequest (no answer). Errors carry the SQLSTATE. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kf_cursor.h"

#define PG_MAX_MSG (64u << 20)
#define PG_QUERY_MAX 1024
#define PG_SSL_CODE 80877103u
#define PG_GSS_CODE 80877104u
#define PG_CANCEL_CODE 80877102u
#define PG_V3 196608u

/* Message types a frontend / backend sends: 1 front, 2 back (a table: checked once per message) */
#define PG_F 1
#define PG_B 2
static const uint8_t pg_types[256] = {
    ['Q'] = PG_F, ['P'] = PG_F, ['B'] = PG_F, ['E'] = PG_F | PG_B, ['D'] = PG_F | PG_B,
    ['S'] = PG_F | PG_B, ['H'] = PG_F | PG_B, ['C'] = PG_F | PG_B, ['X'] = PG_F, ['p'] = PG_F,
    ['d'] = PG_F | PG_B, ['c'] = PG_F | PG_B, ['f'] = PG_F, ['F'] = PG_F,
    ['R'] = PG_B, ['K'] = PG_B, ['Z'] = PG_B, ['T'] = PG_B, ['N'] = PG_B, ['1'] = PG_B,
    ['2'] = PG_B, ['3'] = PG_B, ['n'] = PG_B, ['s'] = PG_B, ['t'] = PG_B, ['I'] = PG_B,
    ['G'] = PG_B, ['W'] = PG_B, ['A'] = PG_B, ['v'] = PG_B, ['V'] = PG_B,
};
static int pg_front_type(uint8_t t) { return pg_types[t] & PG_F; }
static int pg_back_type(uint8_t t) { return pg_types[t] & PG_B; }

/* The byte at p[i] of n bytes, read through a cursor (0 past the end). */
static uint8_t pg_byte_at(const uint8_t *p, size_t n, size_t i)
{
    kf_cur c = kf_cur_make(p, n);
    kf_cur_skip(&c, i);
    return kf_u8(&c);
}

/* 1: a startup-like message (len, code) at p; 0 no; -1 more. */
static int pg_is_startup(const uint8_t *p, size_t n)
{
    if (n < 8) return -1;
    kf_cur c = kf_cur_make(p, n);
    uint32_t len = kf_be32(&c), code = kf_be32(&c);
    if ((code == PG_SSL_CODE || code == PG_GSS_CODE) && len == 8) return 1;
    if (code == PG_CANCEL_CODE && len == 16) return 1;
    if ((code >> 16) == 3 && (code & 0xffff) < 16 && len >= 8 && len <= 10000) {
        if (n < len) return n < 10000 ? -1 : 0;
        return pg_byte_at(p, n, len - 1) == 0 ? 1 : 0;   /* parameter list ends with a NUL */
    }
    return 0;
}

/* Plausibility of a typed message at p. front: frontend. 1 yes, 0 no, -1 more. */
static int pg_typed_ok(const uint8_t *p, size_t n, int front)
{
    if (n < 5) return -1;
    kf_cur c = kf_cur_make(p, n);
    uint8_t t = kf_u8(&c);
    if (front ? !pg_front_type(t) : !pg_back_type(t)) return 0;
    uint32_t len = kf_be32(&c);
    if (len < 4 || len > (1u << 24)) return 0;
    if (n < 1 + (size_t)len) return n < 8192 ? -1 : 1;
    uint8_t last = pg_byte_at(p, n, len), b0 = kf_u8(&c);   /* the message's last and first body byte */
    switch (t) {
    case 'Q': return last == 0 && len > 4 ? 1 : 0;
    case 'Z': return len == 5 && (b0 == 'I' || b0 == 'T' || b0 == 'E');
    case 'R': return len >= 8;
    case 'E': case 'N': return len > 5 && last == 0;
    case 'C': return len > 4 && last == 0;
    case 'S': return front ? len == 4 : (len > 5 && last == 0);
    case 'K': return len == 12;
    case '1': case '2': case '3': case 'n': case 'I': case 'c': return len == 4;
    }
    return 1;
}

/* Probe: 2 client, 3 server, 1 more, 0 no. A typed message must be followed by another
 * plausible one (or end the data exactly). */
static int pg_probe_bytes(const uint8_t *p, size_t n)
{
    int s = pg_is_startup(p, n);
    if (s == 1) return 2;
    if (n >= 8) {
        uint32_t len = kf_ld_be32(p), code = kf_ld_be32(p + 4);
        if (s == -1 && (code >> 16) == 3 && len <= 10000) return 1;
    }
    for (int front = 1; front >= 0; front--) {
        int r = pg_typed_ok(p, n, front);
        if (r == -1) return 1;
        if (r == 0) continue;
        uint32_t len = kf_ld_be32(p + 1);
        size_t next = 1 + (size_t)len;
        if (next == n) return front ? 2 : 3;
        int r2 = pg_typed_ok(p + next, n - next, front);
        if (r2 == 1) return front ? 2 : 3;
        if (r2 == -1) return 1;
    }
    return 0;
}

/* --- dissector glue ---------------------------------------------------------------------- */
#ifndef KD_PARSE_ONLY
#include "../dissector.h"

enum { PG_K_STARTUP, PG_K_SSL, PG_K_GSS, PG_K_CANCEL, PG_K_SIMPLE, PG_K_EXTENDED, PG_K_FUNC };
static const char *const pg_kind_name[] = {"STARTUP", "SSLREQUEST", "GSSENCREQUEST", "CANCEL",
                                           "QUERY", "EXTENDED", "FUNCTION_CALL"};

typedef struct pg_call {
    int kind;
    char query[PG_QUERY_MAX]; size_t qlen;
    int prepared;               /* query taken from an earlier Parse of a named statement */
    int nqueries;               /* Parse messages in an extended cycle (query = all, "; ") */
    uint16_t qend[8];           /* end of each of the first 8 in query */
    char msgs[24]; int nmsgs;   /* frontend message types of the call */
    kd_pref first, last, rfirst, rlast;
    int has_resp;
    uint64_t req_size, resp_size;
    char command[48];           /* from the first CommandComplete tag, else the query's verb */
    char tags[256]; size_t tlen;
    long long rows; int has_rows;
    uint64_t data_rows;
    int error;
    char code[8], severity[16], errmsg[256];
    char user[64], database[64], application[64];
    int auth;                   /* authentication type requested (R message) */
    char ssl_answer;
} pg_call;

#define PG_QUEUE 8             /* calls waiting for their responses */
#define PG_STMTS 16

typedef struct pg_stmt { char name[48]; char query[PG_QUERY_MAX]; size_t qlen; } pg_stmt;

typedef struct pg_state {
    kd_framer fr;               /* the engine's framed mode (first) */
    kd_conn *conn;
    int client;
    int startup_phase;          /* client still sends untyped startup messages */
    int expect_ssl_answer;      /* server owes one byte ('S'/'N') */
    pg_call building;           /* extended-protocol cycle before Sync */
    int has_building;
    kd_ptab q;                  /* calls waiting for ReadyForQuery (pg_call), in order */
    pg_call spare;              /* a call the table had no room for (no memory): not written */
    pg_stmt *stmts;             /* named prepared statements (heap, lazily) */
    unsigned nstmts;
    char user[64], database[64];
} pg_state;

static const uint16_t pg_ports[] = {5432, 0};

static void pg_copy(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = 0;
}

/* The first word of a query (after comments and parentheses), upper-cased. */
static void pg_verb(const char *q, size_t n, char *out, size_t cap)
{
    size_t i = 0;
    for (;;) {
        while (i < n && (isspace((unsigned char)q[i]) || q[i] == '(' || q[i] == ';')) i++;
        if (i + 1 < n && q[i] == '-' && q[i + 1] == '-') { while (i < n && q[i] != '\n') i++; continue; }
        if (i + 1 < n && q[i] == '/' && q[i + 1] == '*') {
            i += 2;
            while (i + 1 < n && !(q[i] == '*' && q[i + 1] == '/')) i++;
            i += 2;
            continue;
        }
        break;
    }
    size_t o = 0;
    while (i < n && isalpha((unsigned char)q[i]) && o + 1 < cap) out[o++] = (char)toupper((unsigned char)q[i++]);
    out[o] = 0;
}

static void pg_emit(pg_state *s, pg_call *c)
{
    kd_call call = {0};
    call.req_dir = s->client;
    call.has_req = 1;
    call.has_resp = c->has_resp;
    call.no_response = c->kind == PG_K_CANCEL;   /* the server answers by closing (else "unanswered") */
    call.req_first = c->first; call.req_last = c->last;
    call.resp_first = c->rfirst; call.resp_last = c->rlast;
    kf_jw *w = kd_emit_begin(s->conn, &call);
    if (!w) return;
    const char *cmd = c->command;
    char verb[48];
    if (!*cmd && c->qlen) { pg_verb(c->query, c->qlen, verb, sizeof verb); cmd = verb; }
    if (!*cmd) cmd = pg_kind_name[c->kind];
    kf_jw_kstr(w, "postgresql_command", cmd);
    kf_jw_kstr(w, "postgresql_message", pg_kind_name[c->kind]);
    if (c->qlen) kf_jw_kstrn(w, "postgresql_query", c->query, c->qlen);
    if (c->nqueries > 1) {
        kf_jw_kint(w, "postgresql_statements", c->nqueries);
        kf_jw_key(w, "postgresql_queries");
        kf_jw_arr_begin(w);
        size_t start = 0;
        for (int i = 0; i < c->nqueries && i < 8; i++) {
            size_t e = c->qend[i] <= c->qlen ? c->qend[i] : c->qlen;
            if (e >= start) kf_jw_strn(w, c->query + start, e - start);
            start = e + 2;
            if (start > c->qlen) break;
        }
        kf_jw_arr_end(w);
    }
    if (c->prepared) kf_jw_kbool(w, "postgresql_prepared", 1);
    const char *user = c->user[0] ? c->user : s->user;
    const char *db = c->database[0] ? c->database : s->database;
    if (*user) kf_jw_kstr(w, "postgresql_user", user);
    if (*db) kf_jw_kstr(w, "postgresql_database", db);
    if (c->application[0]) kf_jw_kstr(w, "postgresql_application", c->application);
    kf_jw_kstrn(w, "postgresql_frontend_messages", c->msgs, (size_t)c->nmsgs);
    int success = c->has_resp && !c->error;
    if (c->kind == PG_K_SSL || c->kind == PG_K_GSS) success = c->has_resp;
    if (c->kind == PG_K_CANCEL) success = 1;
    kf_jw_kbool(w, "postgresql_success", success);
    if (c->error) {
        kf_jw_kstr(w, "postgresql_error_code", c->code);
        kf_jw_kstr(w, "postgresql_error_message", c->errmsg);
        kf_jw_kstr(w, "postgresql_error_severity", c->severity);
    }
    if (c->tlen) kf_jw_kstrn(w, "postgresql_tags", c->tags, c->tlen);
    if (c->has_rows) kf_jw_kint(w, "postgresql_rows", c->rows);
    if (c->data_rows) kf_jw_kuint(w, "postgresql_data_rows", c->data_rows);
    if (c->kind == PG_K_STARTUP && c->auth >= 0) kf_jw_kint(w, "postgresql_auth_type", c->auth);
    if (c->ssl_answer) { char a[2] = {c->ssl_answer, 0}; kf_jw_kstr(w, "postgresql_ssl_response", a); }
    kf_jw_kuint(w, "postgresql_request_size", c->req_size);
    kf_jw_kuint(w, "postgresql_response_size", c->resp_size);
    kf_jw_kuint(w, "postgresql_total_size", c->req_size + c->resp_size);
    if (!c->has_resp && call.no_response) kf_jw_kbool(w, "postgresql_no_response", 1);
    kd_emit_end(s->conn);
}

/* the extended-protocol cycle being built is pending too */
static void pg_pending(pg_state *s)
{
    int64_t e = kd_ptab_earliest(&s->q);
    if (s->has_building && s->building.first.ts_ns < e) e = s->building.first.ts_ns;
    kd_conn_pending(s->conn, e);
}

static void pg_pop(pg_state *s)
{
    pg_call *c = kd_ptab_oldest(&s->q);
    if (!c) return;
    pg_emit(s, c);
    kd_ptab_done(&s->q, c);
}

/* a new call sent at ts (a full table writes its oldest unanswered) */
static pg_call *pg_push(pg_state *s, int64_t ts)
{
    pg_call *c = kd_ptab_add(&s->q, s->client, 0, ts);
    return c ? c : &s->spare;
}

static int pg_unanswered(kd_conn *c, void *st, void *item)
{
    pg_state *s = st;
    pg_call *call = item;
    s->conn = c;
    pg_emit(s, call);
    return !call->has_resp;
}

static void pg_call_init(pg_call *c, int kind, const kd_pref *f, const kd_pref *l)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->first = *f; c->last = *l;
    c->auth = -1;
}

static void pg_add_msg(pg_call *c, uint8_t t, size_t size, const kd_pref *l)
{
    if (c->nmsgs < (int)sizeof c->msgs) c->msgs[c->nmsgs++] = (char)t;
    c->req_size += size;
    c->last = *l;
}

static const char *pg_stmt_find(pg_state *s, const char *name, size_t *qlen)
{
    for (unsigned i = 0; i < s->nstmts; i++)
        if (!strcmp(s->stmts[i].name, name)) { *qlen = s->stmts[i].qlen; return s->stmts[i].query; }
    return NULL;
}

static void pg_stmt_put(pg_state *s, const char *name, const char *q, size_t qlen)
{
    if (!name[0]) return;   /* the unnamed statement lives only until the next Parse */
    if (!s->stmts) {
        s->stmts = calloc(PG_STMTS, sizeof *s->stmts);
        if (!s->stmts) return;
        kd_conn_mem(s->conn, (long)(PG_STMTS * sizeof *s->stmts));
    }
    unsigned i;
    for (i = 0; i < s->nstmts; i++) if (!strcmp(s->stmts[i].name, name)) break;
    if (i == s->nstmts) {
        if (s->nstmts < PG_STMTS) s->nstmts++;
        else i = s->nstmts - 1;   /* full: replace the last */
    }
    snprintf(s->stmts[i].name, sizeof s->stmts[i].name, "%s", name);
    memcpy(s->stmts[i].query, q, qlen);
    s->stmts[i].qlen = qlen;
}

/* Frontend message (typed). body/blen: after the length. */
static void pg_front(pg_state *s, uint8_t t, const uint8_t *body, size_t blen, size_t size,
                     const kd_pref *f, const kd_pref *l)
{
    kf_cur c = kf_cur_make(body, blen);
    switch (t) {
    case 'Q': {
        pg_call *call = pg_push(s, f->ts_ns);
        pg_call_init(call, PG_K_SIMPLE, f, l);
        size_t ql = blen && body[blen - 1] == 0 ? blen - 1 : blen;
        pg_copy(call->query, sizeof call->query, body, ql);
        call->qlen = strlen(call->query);
        pg_add_msg(call, t, size, l);
        break;
    }
    case 'F': {
        pg_call *call = pg_push(s, f->ts_ns);
        pg_call_init(call, PG_K_FUNC, f, l);
        pg_add_msg(call, t, size, l);
        break;
    }
    case 'P': case 'B': case 'E': case 'D': case 'C': case 'H': case 'S': {
        if (!s->has_building) {
            pg_call_init(&s->building, PG_K_EXTENDED, f, l);
            s->has_building = 1;
        }
        pg_call *b = &s->building;
        pg_add_msg(b, t, size, l);
        if (t == 'P') {
            const uint8_t *nm = c.p;
            const uint8_t *z = memchr(c.p, 0, kf_cur_left(&c));
            if (z) {
                char name[48];
                pg_copy(name, sizeof name, nm, (size_t)(z - nm));
                const uint8_t *q = z + 1;
                const uint8_t *z2 = memchr(q, 0, (size_t)(body + blen - q));
                size_t ql = z2 ? (size_t)(z2 - q) : (size_t)(body + blen - q);
                if (b->prepared || !b->nqueries) { b->qlen = 0; b->prepared = 0; }
                if (b->qlen && b->qlen + 2 < sizeof b->query) { memcpy(b->query + b->qlen, "; ", 2); b->qlen += 2; }
                size_t room = sizeof b->query - 1 - b->qlen;
                size_t k = ql < room ? ql : room;
                memcpy(b->query + b->qlen, q, k);
                b->qlen += k;
                b->query[b->qlen] = 0;
                b->qlen = strlen(b->query);
                if (b->nqueries < 8) b->qend[b->nqueries] = (uint16_t)b->qlen;
                b->nqueries++;
                char tmp[PG_QUERY_MAX];
                pg_copy(tmp, sizeof tmp, q, ql);
                pg_stmt_put(s, name, tmp, strlen(tmp));
            }
        } else if (t == 'B' && !b->qlen) {
            /* Bind: portal\0 statement\0 … — the statement names an earlier Parse */
            const uint8_t *z = memchr(c.p, 0, kf_cur_left(&c));
            if (z) {
                const uint8_t *st = z + 1;
                const uint8_t *z2 = memchr(st, 0, (size_t)(body + blen - st));
                if (z2) {
                    char name[48];
                    pg_copy(name, sizeof name, st, (size_t)(z2 - st));
                    size_t ql;
                    const char *q = pg_stmt_find(s, name, &ql);
                    if (q) { memcpy(b->query, q, ql); b->query[ql] = 0; b->qlen = ql; b->prepared = 1; }
                }
            }
        }
        if (t == 'S') {
            pg_call *call = pg_push(s, b->first.ts_ns);
            *call = *b;
            s->has_building = 0;
        }
        break;
    }
    case 'p': case 'd': case 'c': case 'f': {
        /* password / SASL during startup, COPY data: part of the call in progress */
        pg_call *cur = kd_ptab_newest(&s->q);
        if (!cur && s->has_building) cur = &s->building;
        if (cur) pg_add_msg(cur, t, size, l);
        break;
    }
    case 'X':
        break;
    }
    pg_pending(s);
}

static void pg_error_fields(pg_call *c, const uint8_t *body, size_t blen)
{
    kf_cur cu = kf_cur_make(body, blen);
    while (kf_cur_left(&cu)) {
        uint8_t code = kf_u8(&cu);   /* field type; 0 ends the list */
        if (!code) break;
        const uint8_t *v = cu.p;
        size_t left = kf_cur_left(&cu);
        const uint8_t *z = left ? memchr(v, 0, left) : NULL;
        size_t vl = z ? (size_t)(z - v) : left;
        if (code == 'C') pg_copy(c->code, sizeof c->code, v, vl);
        else if (code == 'M') pg_copy(c->errmsg, sizeof c->errmsg, v, vl);
        else if (code == 'V' || (code == 'S' && !c->severity[0])) pg_copy(c->severity, sizeof c->severity, v, vl);
        kf_cur_skip(&cu, z ? vl + 1 : vl);
        if (!z) break;
    }
}

/* Backend message. */
static void pg_back(pg_state *s, uint8_t t, const uint8_t *body, size_t blen, size_t size,
                    const kd_pref *f, const kd_pref *l)
{
    pg_call *c = kd_ptab_oldest(&s->q);
    if (!c && s->has_building) c = &s->building;
    if (!c) {
        if (t == 'A' || t == 'N' || t == 'S') return;   /* asynchronous */
        /* mid-stream: a response without its request; start a placeholder call */
        c = pg_push(s, f->ts_ns);
        pg_call_init(c, PG_K_SIMPLE, f, f);
        c->req_size = 0;
    }
    if (!c->has_resp) { c->has_resp = 1; c->rfirst = *f; }
    c->rlast = *l;
    c->resp_size += size;
    kf_cur cu = kf_cur_make(body, blen);
    switch (t) {
    case 'R': c->auth = (int)kf_be32(&cu); break;
    case 'C': {
        size_t tl = blen && body[blen - 1] == 0 ? blen - 1 : blen;
        if (c->tlen && c->tlen + 1 < sizeof c->tags) c->tags[c->tlen++] = ';';
        size_t room = sizeof c->tags - 1 - c->tlen;
        size_t k = tl < room ? tl : room;
        memcpy(c->tags + c->tlen, body, k);
        c->tlen += k;
        c->tags[c->tlen] = 0;
        if (!c->command[0]) {
            /* "INSERT 0 5", "SELECT 3", "CREATE TABLE": words before the numbers */
            size_t e = tl;
            while (e > 0 && (isdigit(body[e - 1]) || body[e - 1] == ' ')) e--;
            pg_copy(c->command, sizeof c->command, body, e);
            size_t ns = e;
            while (ns < tl && !isdigit(body[ns])) ns++;
            size_t last = tl;
            while (last > ns && isdigit(body[last - 1])) last--;
            if (last < tl) { c->rows = atoll((const char *)body + last); c->has_rows = 1; }
        }
        break;
    }
    case 'D': c->data_rows++; break;
    case 'E':
        if (!c->error) { c->error = 1; pg_error_fields(c, body, blen); }
        if (c->kind == PG_K_STARTUP) {   /* a failed login ends there */
            if (c == &s->building) s->has_building = 0; else pg_pop(s);
        }
        break;
    case 'Z':
        if (c == &s->building) { pg_emit(s, c); s->has_building = 0; }
        else pg_pop(s);
        break;
    }
    pg_pending(s);
}

static int pg_kd_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    switch (pg_probe_bytes(p, n)) {
    case 1: return KD_PROBE_MORE;
    case 2: return KD_PROBE_CLIENT;
    case 3: return KD_PROBE_SERVER;
    }
    return KD_PROBE_NO;
}

static void pg_kd_init(kd_conn *c, void *st)
{
    pg_state *s = st;
    s->conn = c;
    const kd_conn_info *ci = kd_conn_get_info(c);
    s->client = ci && ci->client >= 0 ? ci->client : 0;
    s->startup_phase = 1;
    kd_ptab_init(&s->q, c, sizeof(pg_call), PG_QUEUE, pg_unanswered, NULL, s);
}

/* Framed mode. The client's first messages are untyped (length | code | …: StartupMessage,
 * SSLRequest, GSSENCRequest, CancelRequest); the server answers an SSLRequest with one byte;
 * everything else is typed: type(1) | length(4, itself included) | body. */
static int64_t pg_kd_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    pg_state *s = st;
    int front = dir == s->client;
    /* after SSLRequest the client waits for the one-byte answer; bytes it sends meanwhile
     * (the ClientHello, seen first when the answer is delayed) belong to what follows it */
    if (front && s->expect_ssl_answer) return KD_FRAME_MORE;
    if (front && s->startup_phase) {
        int r = pg_is_startup(p, n);
        if (r == -1) return KD_FRAME_MORE;
        if (r == 1) return kf_ld_be32(p);
        s->startup_phase = 0;   /* typed from here on */
    }
    if (!front && s->expect_ssl_answer) return 1;
    if (n < 5) return KD_FRAME_MORE;
    uint8_t type = p[0];
    uint32_t len = kf_ld_be32(p + 1);
    if (len < 4 || len > PG_MAX_MSG || (front ? !pg_front_type(type) : !pg_back_type(type))) return KD_FRAME_BAD;
    return 1 + (int64_t)len;
}

static int pg_kd_sync(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    pg_state *s = st;
    int front = dir == s->client;
    if (front) s->startup_phase = 0;
    int r = pg_typed_ok(p, n, front);
    return r == 1 ? KD_SYNC_YES : r < 0 ? KD_SYNC_MORE : KD_SYNC_NO;
}

/* A message, or the head of one too big to buffer (n < len: a big DataRow or CopyData, counted
 * once whole, its body not read). */
static int pg_kd_on_frame(kd_conn *c, void *st, int dir, const uint8_t *m, size_t n, uint64_t total,
                          const kd_pref *fp, const kd_pref *lp)
{
    pg_state *s = st;
    s->conn = c;
    int front = dir == s->client;
    kd_pref f = *fp, l = *lp;
    if (front && s->startup_phase) {
        kf_cur sc = kf_cur_make(m, n);
        uint32_t len = kf_be32(&sc), code = kf_be32(&sc);
        pg_call cancel, *call = code == PG_CANCEL_CODE ? &cancel : pg_push(s, f.ts_ns);
        if (code == PG_SSL_CODE || code == PG_GSS_CODE) {
            pg_call_init(call, code == PG_SSL_CODE ? PG_K_SSL : PG_K_GSS, &f, &l);
            s->expect_ssl_answer = 1;
        } else if (code == PG_CANCEL_CODE) {
            pg_call_init(call, PG_K_CANCEL, &f, &l);   /* no answer comes: emit now */
            call->req_size = len;
            pg_emit(s, call);
            return KD_FRAME_OK;
        } else {
            pg_call_init(call, PG_K_STARTUP, &f, &l);
            /* parameters: key\0value\0 … \0 */
            kf_cur pc = kf_cur_make(m + 8, len - 8);
            while (kf_cur_left(&pc)) {
                const uint8_t *k = pc.p;
                const uint8_t *kz = memchr(k, 0, kf_cur_left(&pc));
                if (!kz || kz == k) break;   /* the list's closing NUL */
                kf_cur_skip(&pc, (size_t)(kz - k) + 1);
                const uint8_t *v = pc.p;
                size_t vleft = kf_cur_left(&pc);
                const uint8_t *vz = vleft ? memchr(v, 0, vleft) : NULL;
                if (!vz) break;
                if (!strcmp((const char *)k, "user")) pg_copy(call->user, sizeof call->user, v, (size_t)(vz - v));
                else if (!strcmp((const char *)k, "database")) pg_copy(call->database, sizeof call->database, v, (size_t)(vz - v));
                else if (!strcmp((const char *)k, "application_name")) pg_copy(call->application, sizeof call->application, v, (size_t)(vz - v));
                kf_cur_skip(&pc, (size_t)(vz - v) + 1);
            }
            snprintf(s->user, sizeof s->user, "%s", call->user);
            snprintf(s->database, sizeof s->database, "%s", call->database);
            if (!s->database[0]) snprintf(s->database, sizeof s->database, "%s", call->user);
            s->startup_phase = 0;
        }
        pg_add_msg(call, '0', len, &l);
        call->nmsgs = 0;
        pg_pending(s);
        return KD_FRAME_OK;
    }
    if (!front && s->expect_ssl_answer) {
        /* one byte: 'S' (TLS follows) or 'N' */
        s->expect_ssl_answer = 0;
        pg_call *call = kd_ptab_oldest(&s->q);
        uint8_t answer = m[0];
        if (call && (call->kind == PG_K_SSL || call->kind == PG_K_GSS)) {
            call->has_resp = 1; call->rfirst = f; call->rlast = f;
            call->resp_size = 1; call->ssl_answer = (char)answer;
            pg_pop(s);
        }
        pg_pending(s);
        if (answer == 'S' || answer == 'G') {
            kd_upgrade u = {0};
            u.from = "postgresql"; u.token = "tls"; u.client = s->client;
            u.req_first = f; u.resp_last = f; u.req_ts_ns = f.ts_ns;
            return kd_conn_upgrade(c, "tls", &u) == 0 ? KD_FRAME_STOP : KD_FRAME_END;
        }
        s->startup_phase = 1;   /* 'N': the client sends its StartupMessage next */
        return KD_FRAME_OK;
    }
    size_t blen = n == total ? (size_t)total - 5 : 0;
    if (front) pg_front(s, m[0], m + 5, blen, total, &f, &l);
    else pg_back(s, m[0], m + 5, blen, total, &f, &l);
    return KD_FRAME_OK;
}

static void pg_kd_close(kd_conn *c, void *st)
{
    pg_state *s = st;
    s->conn = c;
    kd_ptab_flush(&s->q, -1);   /* calls whose ReadyForQuery was not seen, oldest first */
    if (s->has_building && s->building.nmsgs) {   /* an extended cycle without its Sync */
        kd_stat_add(c, KD_STAT_UNANSWERED, !s->building.has_resp);
        pg_emit(s, &s->building);
        s->has_building = 0;
    }
    kd_conn_pending(c, INT64_MAX);
}

static void pg_kd_destroy(kd_conn *c, void *st)
{
    pg_state *s = st;
    kd_ptab_free(&s->q);
    if (s->stmts) kd_conn_mem(c, -(long)(PG_STMTS * sizeof *s->stmts));
    free(s->stmts);
    s->stmts = NULL;
}

const kd_dissector kd_proto_postgresql = {
    .name = "postgresql", .protocol = "POSTGRESQL", .flag = "postgresql", .l7_name = "POSTGRESQL",
    .transports = KD_TRANSPORT_TCP, .ports = pg_ports, .calls = 1, .state_size = sizeof(pg_state),
    .probe = pg_kd_probe, .init = pg_kd_init, .frame = pg_kd_frame, .on_frame = pg_kd_on_frame,
    .frame_sync = pg_kd_sync, .on_close = pg_kd_close, .destroy = pg_kd_destroy,
};
#endif /* KD_PARSE_ONLY */
