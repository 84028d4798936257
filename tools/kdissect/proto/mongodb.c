/* mongodb.c — MongoDB wire protocol (mongodb.com/docs/manual/reference/mongodb-wire-protocol/)
 * and BSON (bsonspec.org/spec.html).
 *
 *   header: messageLength(int32 LE) requestID(int32) responseTo(int32) opCode(int32)
 *   OP_MSG 2013: flagBits(uint32) sections… [checksum(uint32) when flagBits & 1]
 *                section kind 0: one BSON document (the command); kind 1: size(int32)
 *                identifier(cstring) documents…
 *   OP_QUERY 2004: flags fullCollectionName(cstring) skip(int32) return(int32) query(BSON) …
 *   OP_REPLY 1:    responseFlags cursorID(int64) startingFrom(int32) numberReturned(int32) docs…
 *   OP_COMPRESSED 2012: originalOpcode uncompressedSize compressorId compressed message
 *
 * A request and its reply are matched by responseTo = requestID. The command is the first key of
 * the command document; "$db" names the database; the collection is the command's string value
 * (find, insert, update, delete, aggregate, count …). Replies: ok, errmsg, code, codeName. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kf_cursor.h"

#define MONGO_MAX_MSG (48u << 20)

/* Skips one BSON value of type t. 0 ok, -1 malformed. */
static int bson_skip(kf_cur *c, uint8_t t)
{
    int32_t l;
    switch (t) {
    case 0x01: case 0x09: case 0x11: case 0x12: kf_cur_skip(c, 8); break;
    case 0x02: case 0x0D: case 0x0E: l = (int32_t)kf_le32(c); if (l < 1) return -1; kf_cur_skip(c, (size_t)l); break;
    case 0x03: case 0x04: l = (int32_t)kf_le32(c); if (l < 5) return -1; kf_cur_skip(c, (size_t)l - 4); break;
    case 0x05: l = (int32_t)kf_le32(c); if (l < 0) return -1; kf_cur_skip(c, 1 + (size_t)l); break;
    case 0x06: case 0x0A: case 0x7F: case 0xFF: break;
    case 0x07: kf_cur_skip(c, 12); break;
    case 0x08: kf_cur_skip(c, 1); break;
    case 0x0B: for (int k = 0; k < 2; k++) { const uint8_t *z = memchr(c->p, 0, kf_cur_left(c)); if (!z) return -1; kf_cur_skip(c, (size_t)(z - c->p) + 1); } break;
    case 0x0C: l = (int32_t)kf_le32(c); if (l < 1) return -1; kf_cur_skip(c, (size_t)l + 12); break;
    case 0x0F: l = (int32_t)kf_le32(c); if (l < 14) return -1; kf_cur_skip(c, (size_t)l - 4); break;
    case 0x10: kf_cur_skip(c, 4); break;
    case 0x13: kf_cur_skip(c, 16); break;
    default: return -1;
    }
    return c->err ? -1 : 0;
}

typedef struct mongo_doc {
    char first_key[48];
    char first_str[128];        /* the first element's value when a string */
    char db[64];
    int has_ok; double ok;
    char errmsg[256];
    int has_code; int32_t code;
    char code_name[64];
    int write_errors;           /* writeErrors array present */
} mongo_doc;

static void mongo_cstr(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = 0;
}

/* Reads the top-level elements of a BSON document we report. 0 ok, -1 malformed. */
static int bson_scan(const uint8_t *p, size_t n, mongo_doc *d)
{
    kf_cur c = kf_cur_make(p, n);
    int32_t len = (int32_t)kf_le32(&c);
    if (c.err || len < 5 || (size_t)len > n) return -1;
    c.end = p + len;
    int first = 1;
    while (kf_cur_left(&c) > 1) {
        uint8_t t = kf_u8(&c);
        if (t == 0) break;
        const uint8_t *name = c.p;
        const uint8_t *z = memchr(c.p, 0, kf_cur_left(&c));
        if (!z) return -1;
        size_t nl = (size_t)(z - name);
        kf_cur_skip(&c, nl + 1);
        const uint8_t *vstart = c.p;
        if (first) mongo_cstr(d->first_key, sizeof d->first_key, name, nl);
        if (t == 0x02) {
            int32_t sl = (int32_t)kf_le32(&c);
            const uint8_t *sv = sl >= 1 ? kf_cur_take(&c, (size_t)sl) : NULL;
            if (!sv) return -1;
            size_t vl = (size_t)sl - 1;
            if (first) mongo_cstr(d->first_str, sizeof d->first_str, sv, vl);
            if (nl == 3 && !memcmp(name, "$db", 3)) mongo_cstr(d->db, sizeof d->db, sv, vl);
            else if (nl == 6 && !memcmp(name, "errmsg", 6)) mongo_cstr(d->errmsg, sizeof d->errmsg, sv, vl);
            else if (nl == 8 && !memcmp(name, "codeName", 8)) mongo_cstr(d->code_name, sizeof d->code_name, sv, vl);
        } else {
            if (nl == 2 && !memcmp(name, "ok", 2)) {
                d->has_ok = 1;
                if (t == 0x01) { uint64_t b = kf_le64(&c); double v; memcpy(&v, &b, 8); d->ok = v; c.p = vstart; }
                else if (t == 0x10) { d->ok = (int32_t)kf_le32(&c); c.p = vstart; }
                else if (t == 0x12) { d->ok = (double)(int64_t)kf_le64(&c); c.p = vstart; }
                else if (t == 0x08) { d->ok = kf_u8(&c); c.p = vstart; }
            } else if (nl == 4 && !memcmp(name, "code", 4) && t == 0x10) {
                d->has_code = 1; d->code = (int32_t)kf_le32(&c); c.p = vstart;
            } else if (nl == 11 && !memcmp(name, "writeErrors", 11)) {
                d->write_errors = 1;
            }
            if (bson_skip(&c, t) < 0) return -1;
        }
        first = 0;
    }
    return c.err ? -1 : 0;
}

/* Probe: a message header with a known opcode and a plausible first document. */
static int mongo_probe_bytes(const uint8_t *p, size_t n)
{
    if (n < 16) return 1;
    kf_cur c = kf_cur_make(p, n);
    uint32_t len = kf_le32(&c);
    kf_le32(&c);
    uint32_t resp_to = kf_le32(&c);
    uint32_t op = kf_le32(&c);
    if (len < 21 || len > MONGO_MAX_MSG) return 0;
    if (op != 2013 && op != 2004 && op != 1 && op != 2012) return 0;
    if (op == 2013 && n >= 21) {
        uint32_t flags = kf_le32(&c);
        if (flags & ~0x10003u) return 0;
        uint8_t kind = kf_u8(&c);
        if (kind > 2) return 0;
        if (kind == 0 && n >= 25) {
            uint32_t dl = kf_le32(&c);
            if (dl < 5 || dl > len - 20) return 0;
        }
    }
    if (op == 1) return 3;
    if (op == 2004) return 2;
    return resp_to == 0 ? 2 : 3;
}

/* --- dissector glue ---------------------------------------------------------------------- */
#ifndef KD_PARSE_ONLY
#include "../dissector.h"

#define MONGO_PENDING 32

typedef struct mongo_req {
    uint32_t id, op;
    mongo_doc doc;
    char collection[128];
    kd_pref first, last;
    uint64_t size;
} mongo_req;

typedef struct mongo_state {
    kd_framer fr;               /* the engine's framed mode (first) */
    kd_conn *conn;
    int client;
    kd_ptab pend;               /* mongo_req by requestID, up to MONGO_PENDING */
} mongo_state;

static const uint16_t mongo_ports[] = {27017, 27018, 27019, 0};

static const char *mongo_op_name(uint32_t op)
{
    switch (op) {
    case 2013: return "OP_MSG"; case 2004: return "OP_QUERY"; case 1: return "OP_REPLY";
    case 2012: return "OP_COMPRESSED";
    }
    return "OP_OTHER";
}

/* The document of an OP_MSG (kind 0 section) or OP_QUERY / OP_REPLY (first document). */
static int mongo_body_doc(uint32_t op, const uint8_t *p, size_t n, mongo_doc *d, char *coll, size_t ccap)
{
    memset(d, 0, sizeof *d);
    if (coll) coll[0] = 0;
    kf_cur c = kf_cur_make(p, n);
    if (op == 2013) {
        kf_le32(&c);
        while (kf_cur_left(&c) > 0) {
            uint8_t kind = kf_u8(&c);
            if (kind == 0) return bson_scan(c.p, kf_cur_left(&c), d);
            if (kind != 1) return -1;
            int32_t sl = (int32_t)kf_le32(&c);
            if (sl < 4) return -1;
            kf_cur_skip(&c, (size_t)sl - 4);
            if (c.err) return -1;
        }
        return -1;
    }
    if (op == 2004) {
        kf_le32(&c);
        const uint8_t *z = memchr(c.p, 0, kf_cur_left(&c));
        if (!z) return -1;
        size_t nl = (size_t)(z - c.p);
        /* fullCollectionName "db.collection" */
        const uint8_t *dot = memchr(c.p, '.', nl);
        char db[64];
        mongo_cstr(db, sizeof db, c.p, dot ? (size_t)(dot - c.p) : nl);
        if (coll && dot) mongo_cstr(coll, ccap, dot + 1, nl - (size_t)(dot - c.p) - 1);
        kf_cur_skip(&c, nl + 1 + 8);
        int r = bson_scan(c.p, kf_cur_left(&c), d);
        if (!d->db[0]) snprintf(d->db, sizeof d->db, "%s", db);
        return r;
    }
    if (op == 1) {
        kf_cur_skip(&c, 4 + 8 + 4);
        int32_t nret = (int32_t)kf_le32(&c);
        if (nret < 1) return c.err ? -1 : 0;
        return bson_scan(c.p, kf_cur_left(&c), d);
    }
    return -1;
}

static void mongo_emit(mongo_state *s, mongo_req *q, int has_resp, uint32_t rop, const mongo_doc *rd,
                       const kd_pref *rf, const kd_pref *rl, uint64_t rsize, int silent)
{
    kd_call call = {0};
    call.no_response = silent;   /* OP_MSG moreToCome: no reply due (else "unanswered") */
    call.req_dir = s->client;
    call.has_req = q != NULL;
    call.has_resp = has_resp;
    if (q) { call.req_first = q->first; call.req_last = q->last; }
    if (has_resp) { call.resp_first = *rf; call.resp_last = *rl; }
    kf_jw *w = kd_emit_begin(s->conn, &call);
    if (!w) return;
    if (q) {
        const char *cmd = q->doc.first_key;
        /* legacy OP_QUERY against "<db>.$cmd" carries a command; otherwise it is a find */
        if (q->op == 2004 && strcmp(q->collection, "$cmd")) cmd = "find";
        kf_jw_kstr(w, "mongodb_command", cmd);
        kf_jw_kstr(w, "mongodb_op", mongo_op_name(q->op));
        if (q->doc.db[0]) kf_jw_kstr(w, "mongodb_database", q->doc.db);
        const char *coll = q->op == 2004 && strcmp(q->collection, "$cmd") ? q->collection : q->doc.first_str;
        if (coll[0]) kf_jw_kstr(w, "mongodb_collection", coll);
        kf_jw_kuint(w, "mongodb_request_id", q->id);
    }
    if (has_resp && rd) {
        int ok = rd->has_ok ? rd->ok == 1.0 : 1;
        if (rd->write_errors) ok = 0;
        kf_jw_kbool(w, "mongodb_success", ok && !rd->errmsg[0]);
        if (rd->has_code) kf_jw_kint(w, "mongodb_error_code", rd->code);
        if (rd->errmsg[0]) kf_jw_kstr(w, "mongodb_error_message", rd->errmsg);
        if (rd->code_name[0]) kf_jw_kstr(w, "mongodb_error_name", rd->code_name);
        kf_jw_kstr(w, "mongodb_reply_op", mongo_op_name(rop));
    } else {
        kf_jw_kbool(w, "mongodb_success", 0);
        if (silent) kf_jw_kbool(w, "mongodb_no_response", 1);
    }
    kf_jw_kuint(w, "mongodb_request_size", q ? q->size : 0);
    kf_jw_kuint(w, "mongodb_response_size", rsize);
    kf_jw_kuint(w, "mongodb_total_size", (q ? q->size : 0) + rsize);
    kd_emit_end(s->conn);
}

static int mongo_unanswered(kd_conn *c, void *st, void *item)
{
    mongo_state *s = st;
    s->conn = c;
    mongo_emit(s, item, 0, 0, NULL, NULL, NULL, 0, 0);
    return 1;
}

static void mongo_message(mongo_state *s, int dir, const uint8_t *m, size_t have, uint64_t size,
                          const kd_pref *f, const kd_pref *l)
{
    kf_cur c = kf_cur_make(m, have);
    kf_le32(&c);
    uint32_t id = kf_le32(&c), resp_to = kf_le32(&c), op = kf_le32(&c);
    if (c.err) return;
    const uint8_t *body = m + 16;
    size_t blen = have - 16;
    if (dir == s->client && resp_to == 0) {
        mongo_req r;
        memset(&r, 0, sizeof r);
        r.id = id; r.op = op; r.first = *f; r.last = *l; r.size = size;
        if (mongo_body_doc(op, body, blen, &r.doc, r.collection, sizeof r.collection) < 0)
            kd_stat_add(s->conn, KD_STAT_PARSE_ERRORS, 1);
        /* OP_MSG with moreToCome (flag bit 1) expects no reply */
        if (op == 2013 && blen >= 4 && (body[0] & 0x02)) { mongo_emit(s, &r, 0, 0, NULL, NULL, NULL, 0, 1); return; }
        mongo_req *q = kd_ptab_add(&s->pend, dir, id, f->ts_ns);   /* full: the oldest goes out unanswered */
        if (q) *q = r;
        else mongo_emit(s, &r, 0, 0, NULL, NULL, NULL, 0, 0);
        return;
    }
    mongo_doc rd;
    mongo_body_doc(op, body, blen, &rd, NULL, 0);
    mongo_req *q = kd_ptab_find(&s->pend, -1, resp_to);
    mongo_emit(s, q, 1, op, &rd, f, l, size, 0);
    if (q) kd_ptab_done(&s->pend, q);
}

static int mongo_kd_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    switch (mongo_probe_bytes(p, n)) {
    case 1: return KD_PROBE_MORE;
    case 2: return KD_PROBE_CLIENT;
    case 3: return KD_PROBE_SERVER;
    }
    return KD_PROBE_NO;
}

static void mongo_kd_init(kd_conn *c, void *st)
{
    mongo_state *s = st;
    s->conn = c;
    const kd_conn_info *ci = kd_conn_get_info(c);
    s->client = ci && ci->client >= 0 ? ci->client : 0;
    kd_ptab_init(&s->pend, c, sizeof(mongo_req), MONGO_PENDING, mongo_unanswered, NULL, s);
}

/* Framed mode: messageLength(int32, little-endian, header included) | … */
static int64_t mongo_kd_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    if (n < 16) return KD_FRAME_MORE;
    kf_cur cu = kf_cur_make(p, n);
    uint32_t len = kf_le32(&cu);
    if (len < 16 || len > MONGO_MAX_MSG) return KD_FRAME_BAD;
    return len;
}

static int mongo_kd_sync(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    int r = mongo_probe_bytes(p, n);
    return r >= 2 ? KD_SYNC_YES : r == 1 ? KD_SYNC_MORE : KD_SYNC_NO;
}

/* A message, or the head of one too big to buffer (n < len). */
static int mongo_kd_on_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t len,
                             const kd_pref *f, const kd_pref *l)
{
    mongo_state *s = st;
    s->conn = c;
    mongo_message(s, dir, p, n, len, f, l);
    return KD_FRAME_OK;
}

static void mongo_kd_close(kd_conn *c, void *st)
{
    mongo_state *s = st;
    s->conn = c;
    kd_ptab_flush(&s->pend, -1);   /* unanswered requests, oldest first */
}

static void mongo_kd_destroy(kd_conn *c, void *st) { kd_ptab_free(&((mongo_state *)st)->pend); }

const kd_dissector kd_proto_mongodb = {
    .name = "mongodb", .protocol = "MONGODB", .flag = "mongodb", .l7_name = "MONGODB",
    .transports = KD_TRANSPORT_TCP, .ports = mongo_ports, .calls = 1, .state_size = sizeof(mongo_state),
    .probe = mongo_kd_probe, .init = mongo_kd_init, .frame = mongo_kd_frame, .on_frame = mongo_kd_on_frame,
    .frame_sync = mongo_kd_sync, .on_close = mongo_kd_close, .destroy = mongo_kd_destroy,
};
#endif /* KD_PARSE_ONLY */
