/* mysql.c — MySQL / MariaDB client/server protocol (dev.mysql.com/doc/dev/mysql-server/latest/
 * PAGE_PROTOCOL.html: "MySQL Packets", "Connection Phase", "Command Phase").
 *
 *   packet: payload_length(3, LE) | sequence_id(1) | payload
 *   server greeting (seq 0): 0x0a | server version\0 | thread id(4) | …
 *   client HandshakeResponse41 (seq 1): capabilities(4) max_packet(4) charset(1) filler(23)
 *                                        user\0 auth-response database\0 …   (SSLRequest: 32 bytes)
 *   command (seq 0): command byte | arguments;   responses: OK 0x00, ERR 0xff code(2) '#' state(5)
 *   message, EOF 0xfe (< 9 bytes), or a result set (column count, columns, rows, EOF/OK).
 *
 * A call is one command and every server packet up to the next command; the handshake (greeting,
 * response, authentication exchange up to OK/ERR) is one call named HANDSHAKE. CLIENT_SSL in the
 * handshake response hands the connection to the TLS dissector. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kf_cursor.h"

#define MY_QUERY_MAX 1024
#define MY_CLIENT_CONNECT_WITH_DB 0x8u
#define MY_CLIENT_SSL 0x800u
#define MY_CLIENT_PROTOCOL_41 0x200u
#define MY_CLIENT_PLUGIN_AUTH_LENENC 0x200000u
#define MY_CLIENT_SECURE_CONN 0x8000u

static const char *my_command_name(uint8_t c)
{
    static const char *const n[] = {
        "COM_SLEEP", "COM_QUIT", "COM_INIT_DB", "COM_QUERY", "COM_FIELD_LIST", "COM_CREATE_DB",
        "COM_DROP_DB", "COM_REFRESH", "COM_SHUTDOWN", "COM_STATISTICS", "COM_PROCESS_INFO",
        "COM_CONNECT", "COM_PROCESS_KILL", "COM_DEBUG", "COM_PING", "COM_TIME", "COM_DELAYED_INSERT",
        "COM_CHANGE_USER", "COM_BINLOG_DUMP", "COM_TABLE_DUMP", "COM_CONNECT_OUT",
        "COM_REGISTER_SLAVE", "COM_STMT_PREPARE", "COM_STMT_EXECUTE", "COM_STMT_SEND_LONG_DATA",
        "COM_STMT_CLOSE", "COM_STMT_RESET", "COM_SET_OPTION", "COM_STMT_FETCH", "COM_DAEMON",
        "COM_BINLOG_DUMP_GTID", "COM_RESET_CONNECTION"};
    return c < sizeof n / sizeof n[0] ? n[c] : NULL;
}

/* Length-encoded integer (§ "Integer Types"). */
static uint64_t my_lenenc(kf_cur *c)
{
    uint8_t b = kf_u8(c);
    if (b < 0xfb) return b;
    if (b == 0xfc) return kf_le16(c);
    if (b == 0xfd) { uint32_t v = kf_u8(c); v |= (uint32_t)kf_u8(c) << 8; v |= (uint32_t)kf_u8(c) << 16; return v; }
    if (b == 0xfe) return kf_le64(c);
    return 0;   /* 0xfb NULL, 0xff not an integer */
}

/* A packet header: payload length (3 bytes, little-endian) and sequence id. */
static size_t my_le24(kf_cur *c)
{
    size_t v = kf_u8(c);
    v |= (size_t)kf_u8(c) << 8;
    return v | (size_t)kf_u8(c) << 16;
}

/* Is this the server greeting (protocol 10)? 1 yes, 0 no, -1 more. */
static int my_is_greeting(const uint8_t *p, size_t n)
{
    if (n < 5) return -1;
    kf_cur c = kf_cur_make(p, n);
    size_t len = my_le24(&c);
    uint8_t seq = kf_u8(&c), proto = kf_u8(&c);
    if (seq != 0 || len < 20 || len > 1024) return 0;
    if (proto != 0x0a) return 0;
    if (n < 4 + len) return -1;
    /* server version: printable text ended by NUL, within the packet */
    kf_cur v = kf_cur_make(p + 5, len - 1);
    size_t k = 0;
    while (kf_cur_left(&v)) {
        uint8_t b = kf_u8(&v);
        if (!b) return k > 0 ? 1 : 0;
        if (b < 0x20 || b > 0x7e) return 0;
        k++;
    }
    return 0;
}

/* A command packet from a client mid-stream (seq 0, known command, text for COM_QUERY). */
static int my_is_command(const uint8_t *p, size_t n)
{
    if (n < 5) return -1;
    kf_cur c = kf_cur_make(p, n);
    size_t len = my_le24(&c);
    uint8_t seq = kf_u8(&c), cmd = kf_u8(&c);
    if (seq != 0 || len < 1) return 0;
    if (!my_command_name(cmd) || cmd == 0) return 0;
    if (cmd == 0x03 || cmd == 0x16) {
        if (len < 2) return 0;
        size_t e = 4 + len < n ? 4 + len : n;
        if (e > 4 + 64) e = 4 + 64;
        kf_cur t = kf_cur_make(p + 5, e - 5);   /* the text's first bytes */
        while (kf_cur_left(&t)) { uint8_t b = kf_u8(&t); if (b < 0x09 || b == 0x7f) return 0; }
        return n >= 4 + len || n >= 64 ? 1 : -1;
    }
    if (cmd == 0x01 || cmd == 0x0e || cmd == 0x09) return len == 1 ? 1 : 0;
    return n >= 4 + len ? 1 : -1;
}

/* HandshakeResponse41 at seq 1: 1 yes, 0 no, -1 more. */
static int my_is_handshake_response(const uint8_t *p, size_t n)
{
    if (n < 5) return -1;
    kf_cur c = kf_cur_make(p, n);
    size_t len = my_le24(&c);
    if (kf_u8(&c) != 1 || len < 32 || len > 8192) return 0;
    if (n < 36) return -1;
    uint32_t caps = kf_le32(&c);
    if (!(caps & MY_CLIENT_PROTOCOL_41)) return 0;
    kf_cur_skip(&c, 4 + 1);                              /* max packet size, character set */
    for (int i = 0; i < 23; i++) if (kf_u8(&c)) return 0;   /* 23 zero filler bytes */
    return c.err ? 0 : 1;
}

/* COM_QUERY with CLIENT_QUERY_ATTRIBUTES: parameter_count, parameter_set_count, then (when
 * count > 0) null bitmap, new_params_bind_flag, types and names, values; then the text.
 * Returns the offset of the query text in p (after the command byte), or 0 if not parseable. */
static size_t my_skip_query_attrs(const uint8_t *p, size_t len)
{
    kf_cur c = kf_cur_make(p, len);
    uint64_t n = my_lenenc(&c);
    my_lenenc(&c);   /* parameter_set_count, always 1 */
    if (c.err || n > 4096) return 0;
    if (n) {
        const uint8_t *nulls = kf_cur_take(&c, (size_t)((n + 7) / 8));
        uint8_t bind = kf_u8(&c);
        if (!nulls || !bind) return 0;
        uint16_t types[64];
        if (n > 64) return 0;
        for (uint64_t i = 0; i < n; i++) {
            types[i] = kf_le16(&c);
            kf_cur_skip(&c, (size_t)my_lenenc(&c));   /* name */
        }
        for (uint64_t i = 0; i < n && !c.err; i++) {
            if (nulls[i / 8] >> (i % 8) & 1) continue;
            switch (types[i] & 0xff) {
            case 1: kf_cur_skip(&c, 1); break;
            case 2: case 13: kf_cur_skip(&c, 2); break;
            case 3: case 4: case 9: kf_cur_skip(&c, 4); break;
            case 5: case 8: kf_cur_skip(&c, 8); break;
            case 6: break;
            case 7: case 10: case 11: case 12: kf_cur_skip(&c, kf_u8(&c)); break;
            default: kf_cur_skip(&c, (size_t)my_lenenc(&c)); break;
            }
        }
    }
    return c.err ? 0 : (size_t)(c.p - p);
}

/* --- dissector glue ---------------------------------------------------------------------- */
#ifndef KD_PARSE_ONLY
#include "../dissector.h"

typedef struct my_call {
    int handshake;
    uint8_t cmd;
    char query[MY_QUERY_MAX]; size_t qlen;
    kd_pref first, last, rfirst, rlast;
    int has_resp, has_req;
    uint64_t req_size, resp_size;
    uint32_t stmt_id;           /* prepared statement: from STMT_PREPARE's OK, or the command's */
    int has_stmt;
    int error, ok;
    uint16_t err_code;
    char sqlstate[6], errmsg[256];
    uint64_t affected, columns, packets;
    int resultset;
    char user[64], db[64];
    int ssl;
} my_call;

#define MY_STMTS 16
typedef struct my_stmt { uint32_t id; char query[MY_QUERY_MAX]; size_t qlen; } my_stmt;

typedef struct my_state {
    kd_framer fr;               /* the engine's framed mode (first) */
    kd_conn *conn;
    int client;
    int phase;                  /* 0 connection phase (handshake), 1 command phase */
    kd_ptab q;                  /* the call in progress (my_call): MySQL has one at a time */
    my_call spare;              /* a call the table had no room for (no memory): not written */
    char user[64], db[64];
    char server_version[64];
    uint32_t caps;              /* client capabilities from the handshake response */
    int caps_known;
    my_stmt *stmts; unsigned nstmts;
    uint32_t pending_prepare;   /* a STMT_PREPARE waits for its OK with the statement id */
} my_state;

static const uint16_t my_ports[] = {3306, 3307, 33060, 0};

static void my_copy(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = 0;
}

/* COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA have no response; COM_QUIT is answered by
 * closing the connection */
static int my_no_response(const my_call *c)
{
    return !c->handshake && (c->cmd == 0x19 || c->cmd == 0x18 || c->cmd == 0x01);
}

static void my_write(my_state *s, my_call *c)
{
    kd_call call = {0};
    call.req_dir = s->client;
    call.has_req = c->has_req;
    call.has_resp = c->has_resp;
    call.req_first = c->first; call.req_last = c->last;
    call.resp_first = c->rfirst; call.resp_last = c->rlast;
    call.no_response = my_no_response(c);
    if (!call.has_req && !call.has_resp) return;
    kf_jw *w = kd_emit_begin(s->conn, &call);
    if (!w) return;
    const char *cn = c->handshake ? "HANDSHAKE" : my_command_name(c->cmd);
    char unk[16];
    if (!cn) { snprintf(unk, sizeof unk, "COM_0x%02X", c->cmd); cn = unk; }
    kf_jw_kstr(w, "mysql_command", cn);
    if (c->qlen) kf_jw_kstrn(w, "mysql_query", c->query, c->qlen);
    const char *db = c->db[0] ? c->db : s->db;
    const char *user = c->user[0] ? c->user : s->user;
    if (*db) kf_jw_kstr(w, "mysql_database", db);
    if (*user) kf_jw_kstr(w, "mysql_user", user);
    if (c->handshake && s->server_version[0]) kf_jw_kstr(w, "mysql_server_version", s->server_version);
    kf_jw_kbool(w, "mysql_success", c->has_resp && !c->error);
    if (c->error) {
        kf_jw_kint(w, "mysql_error_code", c->err_code);
        if (c->sqlstate[0]) kf_jw_kstr(w, "mysql_sqlstate", c->sqlstate);
        kf_jw_kstr(w, "mysql_error_message", c->errmsg);
    }
    if (c->ok && !c->resultset) kf_jw_kuint(w, "mysql_affected_rows", c->affected);
    if (c->resultset) kf_jw_kuint(w, "mysql_columns", c->columns);
    if (c->ssl) kf_jw_kbool(w, "mysql_ssl_request", 1);
    kf_jw_kuint(w, "mysql_request_size", c->req_size);
    kf_jw_kuint(w, "mysql_response_size", c->resp_size);
    kf_jw_kuint(w, "mysql_total_size", c->req_size + c->resp_size);
    if (c->has_stmt) kf_jw_kuint(w, "mysql_statement_id", c->stmt_id);
    kf_jw_kuint(w, "mysql_response_packets", c->packets);
    if (!c->has_resp && call.no_response) kf_jw_kbool(w, "mysql_no_response", 1);   /* else "unanswered" */
    kd_emit_end(s->conn);
}

/* the pending-call table's writer: returns 1 when the call went out without its response */
static int my_unanswered(kd_conn *conn, void *st, void *item)
{
    my_state *s = st;
    my_call *c = item;
    s->conn = conn;
    my_write(s, c);
    return c->has_req && !c->has_resp && !my_no_response(c);
}

/* Writes the call in progress, if any (answered or not). */
static void my_emit(my_state *s)
{
    my_call *c = kd_ptab_oldest(&s->q);
    if (!c) return;
    if (c->has_resp) { my_write(s, c); kd_ptab_done(&s->q, c); }
    else kd_ptab_unanswered(&s->q, c);   /* counted in --stats unanswered unless none is due */
}

/* A new call in progress (the previous one written first), started at ts, zeroed. */
static my_call *my_new(my_state *s, int64_t ts)
{
    my_emit(s);
    my_call *c = kd_ptab_add(&s->q, s->client, 0, ts);
    if (!c) { c = &s->spare; memset(c, 0, sizeof *c); }
    return c;
}

static const char *my_stmt_query(my_state *s, uint32_t id, size_t *ql)
{
    for (unsigned i = 0; i < s->nstmts; i++) if (s->stmts[i].id == id) { *ql = s->stmts[i].qlen; return s->stmts[i].query; }
    return NULL;
}

static void my_client_packet(my_state *s, uint8_t seq, const uint8_t *p, size_t len, size_t size,
                             const kd_pref *f, const kd_pref *l)
{
    my_call *c = kd_ptab_oldest(&s->q);
    if (s->phase == 0) {
        /* connection phase: HandshakeResponse (seq 1) or auth data (later seqs) */
        if (seq == 1 && len >= 32) {
            if (!c || !c->handshake) { c = my_new(s, f->ts_ns); c->handshake = 1; }
            if (!c->has_req) { c->has_req = 1; c->first = *f; }
            /* the greeting came first; the call's response is the authentication result */
            c->has_resp = 0; c->resp_size = 0; c->packets = 0;
            c->last = *l;
            c->req_size += size;
            kf_cur cu = kf_cur_make(p, len);
            uint32_t caps = kf_le32(&cu);
            s->caps = caps; s->caps_known = 1;
            kf_cur_skip(&cu, 4 + 1 + 23);
            if (len == 32 && (caps & MY_CLIENT_SSL)) { c->ssl = 1; return; }
            const uint8_t *u = cu.p;
            const uint8_t *uz = u ? memchr(u, 0, kf_cur_left(&cu)) : NULL;
            if (!uz) return;
            my_copy(c->user, sizeof c->user, u, (size_t)(uz - u));
            snprintf(s->user, sizeof s->user, "%s", c->user);
            kf_cur_skip(&cu, (size_t)(uz - u) + 1);
            size_t al;
            if (caps & MY_CLIENT_PLUGIN_AUTH_LENENC) al = (size_t)my_lenenc(&cu);
            else if (caps & MY_CLIENT_SECURE_CONN) al = kf_u8(&cu);
            else { const uint8_t *z = memchr(cu.p, 0, kf_cur_left(&cu)); al = z ? (size_t)(z - cu.p) + 1 : kf_cur_left(&cu); }
            kf_cur_skip(&cu, al);
            if ((caps & MY_CLIENT_CONNECT_WITH_DB) && kf_cur_left(&cu) > 0) {
                const uint8_t *d = cu.p;
                const uint8_t *dz = memchr(d, 0, kf_cur_left(&cu));
                my_copy(c->db, sizeof c->db, d, dz ? (size_t)(dz - d) : kf_cur_left(&cu));
                snprintf(s->db, sizeof s->db, "%s", c->db);
            }
            return;
        }
        if (c && c->handshake && seq > 1) { c->last = *l; c->req_size += size; return; }
        if (seq != 0) return;
        s->phase = 1;     /* a command: we missed the end of the handshake */
    }
    if (seq != 0) {       /* more data of the current command (e.g. LOAD DATA, long packets) */
        if (c) { c->last = *l; c->req_size += size; }
        return;
    }
    c = my_new(s, f->ts_ns);
    c->has_req = 1;
    c->first = *f; c->last = *l;
    c->req_size = size;
    kf_cur pc = kf_cur_make(p, len);
    c->cmd = kf_u8(&pc);   /* 0 for an empty packet */
    if (len > 1 && (c->cmd == 0x03 || c->cmd == 0x16 || c->cmd == 0x02 || c->cmd == 0x05 || c->cmd == 0x06 ||
                    c->cmd == 0x04)) {
        /* COM_QUERY may carry query attributes (CLIENT_QUERY_ATTRIBUTES) before the text;
         * without the capability flags we show the text as sent */
        size_t qo = 1;
        /* CLIENT_QUERY_ATTRIBUTES (1 << 27); without the handshake, a query never starts with
         * a NUL byte, which is what "no attributes" (count 0, sets 1) looks like */
        kf_cur qa = pc;   /* after the command byte: parameter_count, parameter_set_count */
        uint8_t a0 = kf_u8(&qa), a1 = kf_u8(&qa);
        if (c->cmd == 0x03 && ((s->caps_known && (s->caps & (1u << 27))) ||
                               (!s->caps_known && len > 3 && !qa.err && a0 == 0 && a1 == 1)))
            qo = 1 + my_skip_query_attrs(p + 1, len - 1);
        if (qo < 1 || qo > len) qo = 1;
        my_copy(c->query, sizeof c->query, p + qo, len - qo);
        c->qlen = strlen(c->query);
        if (c->cmd == 0x02) my_copy(c->db, sizeof c->db, (const uint8_t *)c->query, c->qlen);
    } else if (c->cmd == 0x17 && len >= 5) {
        kf_cur ic = pc;
        uint32_t id = kf_le32(&ic);
        size_t ql;
        const char *q = my_stmt_query(s, id, &ql);
        if (q) { memcpy(c->query, q, ql); c->query[ql] = 0; c->qlen = ql; }
    }
    if ((c->cmd == 0x17 || c->cmd == 0x18 || c->cmd == 0x19 || c->cmd == 0x1a || c->cmd == 0x1c) && len >= 5) {
        kf_cur ic = pc;
        c->stmt_id = kf_le32(&ic);
        c->has_stmt = 1;   /* EXECUTE, SEND_LONG_DATA, CLOSE, RESET, FETCH name their statement */
    }
    if (c->cmd == 0x16) s->pending_prepare = 1;
    /* COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA have no response; COM_QUIT may not */
    if (c->cmd == 0x19 || c->cmd == 0x18) my_emit(s);
}

static void my_server_packet(my_state *s, uint8_t seq, const uint8_t *p, size_t len, size_t size,
                             const kd_pref *f, const kd_pref *l)
{
    my_call *c = kd_ptab_oldest(&s->q);
    kf_cur pc = kf_cur_make(p, len);
    uint8_t h = kf_u8(&pc);   /* the packet's first byte (0 when empty) */
    if (s->phase == 0 && seq == 0 && len > 1 && h == 0x0a) {   /* greeting */
        const uint8_t *z = memchr(p + 1, 0, len - 1);
        my_copy(s->server_version, sizeof s->server_version, p + 1, z ? (size_t)(z - p - 1) : len - 1);
        c = my_new(s, f->ts_ns);
        c->handshake = 1;
        c->has_resp = 1; c->rfirst = *f; c->rlast = *l;
        c->packets = 1; c->resp_size = size;
        return;
    }
    if (!c) {
        c = my_new(s, f->ts_ns);
        if (s->phase == 0 && seq == 0 && len >= 3 && h == 0xff)
            c->handshake = 1;   /* ERR in place of the greeting: the server refused the host */
        else
            c->cmd = 0x03;      /* mid-stream: a response without its command */
    }
    if (!c->has_resp) { c->rfirst = *f; c->has_resp = 1; }
    c->rlast = *l;
    c->resp_size += size;
    c->packets++;
    if (len == 0) return;
    if (h == 0xff && len >= 3) {
        c->error = 1;
        kf_cur ec = pc;
        c->err_code = kf_le16(&ec);
        size_t mo = 3;
        if (len >= 9 && kf_u8(&ec) == '#') { my_copy(c->sqlstate, sizeof c->sqlstate, p + 4, 5); mo = 9; }
        my_copy(c->errmsg, sizeof c->errmsg, p + mo, len - mo);
        if (c->handshake) { s->phase = 1; my_emit(s); }
        return;
    }
    if (c->handshake) {
        if (h == 0x00 && seq >= 2) {          /* authentication succeeded */
            c->ok = 1;
            s->phase = 1;
            /* the handshake's request is the client's response: timestamps from there */
            my_emit(s);
        }
        return;
    }
    if (c->packets == 1) {
        if (h == 0x00) {
            c->ok = 1;
            kf_cur cu = pc;   /* after the OK header */
            if (c->cmd == 0x16 && s->pending_prepare && len >= 5) {
                uint32_t id = kf_le32(&cu);   /* COM_STMT_PREPARE_OK: statement id */
                s->pending_prepare = 0;
                c->stmt_id = id; c->has_stmt = 1;
                if (!s->stmts) {
                    s->stmts = calloc(MY_STMTS, sizeof *s->stmts);
                    if (s->stmts) kd_conn_mem(s->conn, (long)(MY_STMTS * sizeof *s->stmts));
                }
                if (s->stmts) {
                    unsigned i = s->nstmts < MY_STMTS ? s->nstmts++ : MY_STMTS - 1;
                    s->stmts[i].id = id;
                    memcpy(s->stmts[i].query, c->query, c->qlen);
                    s->stmts[i].qlen = c->qlen;
                }
            } else {
                c->affected = my_lenenc(&cu);
            }
        } else if (h != 0xfe && h != 0xfb) {
            kf_cur cu = kf_cur_make(p, len);
            c->columns = my_lenenc(&cu);
            c->resultset = 1;
        }
    }
}

static int my_kd_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    int r = my_is_greeting(p, n);
    if (r == 1) return KD_PROBE_SERVER;
    /* a server refusing the connection sends ERR (seq 0) instead of the greeting */
    kf_cur c = kf_cur_make(p, n);
    size_t len = my_le24(&c);
    uint8_t seq = kf_u8(&c), first = kf_u8(&c);
    if (n >= 13 && seq == 0 && first == 0xff && len + 4 == n) {
        uint16_t code = kf_le16(&c);
        if (code >= 1000 && code < 5000) return KD_PROBE_SERVER;
    }
    int r2 = my_is_handshake_response(p, n);
    if (r2 == 1) return KD_PROBE_CLIENT;
    int r3 = my_is_command(p, n);
    if (r3 == 1) {
        /* a bare command is weak evidence: require a MySQL port on the other side, or a query */
        int port = 0;
        for (const uint16_t *q = my_ports; ci && *q; q++) if (ci->port[dir ^ 1] == *q) port = 1;
        if (port || first == 0x03 || first == 0x16) return KD_PROBE_CLIENT;
        return KD_PROBE_NO;
    }
    if (r == -1 || r2 == -1 || r3 == -1) return KD_PROBE_MORE;
    return KD_PROBE_NO;
}

static void my_kd_init(kd_conn *c, void *st)
{
    my_state *s = st;
    s->conn = c;
    const kd_conn_info *ci = kd_conn_get_info(c);
    s->client = ci && ci->client >= 0 ? ci->client : 0;
    kd_ptab_init(&s->q, c, sizeof(my_call), 1, my_unanswered, NULL, s);
}

/* Framed mode: payload_length(3, little-endian) sequence_id(1) | payload. After a gap the
 * client's commands can be recognised again; the server's packets cannot. */
static int64_t my_kd_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    if (n < 4) return KD_FRAME_MORE;
    kf_cur hc = kf_cur_make(p, n);
    return 4 + (int64_t)my_le24(&hc);
}

static int my_kd_sync(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    my_state *s = st;
    if (dir != s->client) return KD_SYNC_NEVER;
    int r = my_is_command(p, n);
    return r == 1 ? KD_SYNC_YES : r < 0 ? KD_SYNC_MORE : KD_SYNC_NO;
}

/* A packet, or the head of one too big to buffer (n < len: a large row or blob, counted whole). */
static int my_kd_on_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t len,
                          const kd_pref *f, const kd_pref *l)
{
    my_state *s = st;
    s->conn = c;
    uint8_t seq = p[3];
    if (dir != s->client) {
        my_server_packet(s, seq, p + 4, n - 4, len, f, l);
        return KD_FRAME_OK;
    }
    my_client_packet(s, seq, p + 4, n - 4, len, f, l);
    my_call *cur = kd_ptab_oldest(&s->q);
    if (n == len && cur && cur->ssl && s->phase == 0) {
        /* SSLRequest: TLS follows in both directions */
        kd_upgrade u = {0};
        u.from = "mysql"; u.token = "tls"; u.client = s->client;
        u.req_first = *f; u.resp_last = *l; u.req_ts_ns = f->ts_ns;
        my_emit(s);
        return kd_conn_upgrade(c, "tls", &u) == 0 ? KD_FRAME_STOP : KD_FRAME_END;
    }
    return KD_FRAME_OK;
}

static void my_kd_close(kd_conn *c, void *st)
{
    my_state *s = st;
    s->conn = c;
    my_emit(s);   /* a command whose response was not seen goes out "unanswered" */
}

static void my_kd_destroy(kd_conn *c, void *st)
{
    my_state *s = st;
    kd_ptab_free(&s->q);
    if (s->stmts) kd_conn_mem(c, -(long)(MY_STMTS * sizeof *s->stmts));
    free(s->stmts);
    s->stmts = NULL;
}

const kd_dissector kd_proto_mysql = {
    .name = "mysql", .protocol = "MYSQL", .flag = "mysql", .l7_name = "MYSQL",
    .transports = KD_TRANSPORT_TCP, .ports = my_ports, .calls = 1, .state_size = sizeof(my_state),
    .probe = my_kd_probe, .init = my_kd_init, .frame = my_kd_frame, .on_frame = my_kd_on_frame,
    .frame_sync = my_kd_sync, .on_close = my_kd_close, .destroy = my_kd_destroy,
};
#endif /* KD_PARSE_ONLY */
