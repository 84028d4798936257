/* radius.c — RADIUS (RFC 2865 authentication, RFC 2866 accounting, RFC 5176 dynamic
 * authorization) over UDP: 1812/1813, the old 1645/1646, 3799.
 *
 * A packet: code (1), identifier (1), length (2, 20..4096), authenticator (16), attributes
 * (type, length >= 2, value). A request (Access-Request, Accounting-Request, Status-Server,
 * Disconnect-/CoA-Request) waits for the response with the same identifier from the other side;
 * a request unanswered after kd_opts.req_timeout_ns, or repeated with the same identifier, or
 * still waiting at the end, is emitted with "unanswered": true. Authenticators and hidden
 * attributes (User-Password) are never written: checking them needs the shared secret. */
#include <stdlib.h>
#include <string.h>
#include "../dissector.h"
#include "kf_cursor.h"

#define RAD_MAX_PENDING 64
#define RAD_SAVE 256          /* bytes of a request kept for its record (its attributes) */

typedef struct rad_req {      /* a request waiting for its response (the engine's pending table) */
    int dir;
    uint8_t id, code;
    uint32_t len;             /* the packet's length field */
    kd_pref ref;
    uint32_t mlen;
    uint8_t *msg;
} rad_req;

typedef struct rad_state {
    kd_ptab q;                /* rad_req by identifier */
} rad_state;

static const uint16_t rad_ports[] = { 1812, 1813, 1645, 1646, 3799, 0 };

static const char *rad_code_name(unsigned c)
{
    switch (c) {
    case 1: return "Access-Request";
    case 2: return "Access-Accept";
    case 3: return "Access-Reject";
    case 4: return "Accounting-Request";
    case 5: return "Accounting-Response";
    case 11: return "Access-Challenge";
    case 12: return "Status-Server";
    case 13: return "Status-Client";
    case 40: return "Disconnect-Request";
    case 41: return "Disconnect-ACK";
    case 42: return "Disconnect-NAK";
    case 43: return "CoA-Request";
    case 44: return "CoA-ACK";
    case 45: return "CoA-NAK";
    }
    return NULL;
}

static int rad_is_request(unsigned c) { return c == 1 || c == 4 || c == 12 || c == 13 || c == 40 || c == 43; }

/* The packet's length if p/n is a well-formed RADIUS packet (attributes walk exactly to the
 * length; bytes after it are UDP padding and ignored, RFC 2865 3), else 0. */
static uint32_t rad_valid(const uint8_t *p, size_t n)
{
    if (n < 20 || !rad_code_name(p[0])) return 0;
    uint32_t len = kf_ld_be16(p + 2);
    if (len < 20 || len > 4096 || len > n) return 0;
    size_t i = 20;
    while (i < len) {
        if (len - i < 2 || p[i + 1] < 2 || p[i + 1] > len - i) return 0;
        i += p[i + 1];
    }
    return len;
}

static int rad_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    if (ci->transport != KD_TRANSPORT_UDP || !rad_valid(p, n)) return KD_PROBE_NO;
    /* content alone is weak evidence (20 bytes with a plausible code); also want a RADIUS port */
    int port = 0;
    for (const uint16_t *q = rad_ports; *q; q++)
        if (ci->port[0] == *q || ci->port[1] == *q) port = 1;
    if (!port) return KD_PROBE_NO;
    return rad_is_request(p[0]) ? KD_PROBE_CLIENT : KD_PROBE_SERVER;
}

/* value of the first attribute `type` (NULL when absent) */
static const uint8_t *rad_attr(const uint8_t *p, uint32_t len, uint8_t type, size_t *vl)
{
    for (size_t i = 20; i + 2 <= len && p[i + 1] >= 2 && i + p[i + 1] <= len; i += p[i + 1])
        if (p[i] == type) { *vl = p[i + 1] - 2u; return p + i + 2; }
    return NULL;
}

static const char *rad_acct_status(uint32_t v)
{
    switch (v) {
    case 1: return "Start";
    case 2: return "Stop";
    case 3: return "Interim-Update";
    case 7: return "Accounting-On";
    case 8: return "Accounting-Off";
    }
    return NULL;
}

static void rad_emit(kd_conn *c, const rad_req *q, int rdir, const uint8_t *resp, uint32_t rlen, const kd_pref *rref)
{
    kd_call call;
    memset(&call, 0, sizeof call);
    call.req_dir = q ? q->dir : !rdir;
    if (q) { call.has_req = 1; call.req_first = call.req_last = q->ref; }
    if (resp) { call.has_resp = 1; call.resp_first = call.resp_last = *rref; }
    kf_jw *w = kd_emit_begin(c, &call);
    if (!w) return;
    unsigned code = q ? q->code : resp[0];
    kf_jw_kint(w, "radius_code", code);
    kf_jw_kstr(w, "radius_code_name", rad_code_name(code));
    kf_jw_kint(w, "radius_identifier", q ? q->id : resp[1]);
    kf_jw_kbool(w, "radius_request", q != NULL);
    kf_jw_kbool(w, "radius_response", resp != NULL);
    if (resp) {
        kf_jw_kint(w, "radius_response_code", resp[0]);
        kf_jw_kstr(w, "radius_response_code_name", rad_code_name(resp[0]));
    }
    kf_jw_kuint(w, "radius_request_length", q ? q->len : 0);
    kf_jw_kuint(w, "radius_response_length", resp ? rlen : 0);
    kf_jw_kuint(w, "radius_total_size", (q ? q->len : 0) + (resp ? rlen : 0));
    const uint8_t *m = q && q->msg ? q->msg : resp;
    uint32_t ml = q && q->msg ? q->mlen : resp ? rlen : 0;
    size_t vl;
    const uint8_t *v;
    if (m && (v = rad_attr(m, ml, 1, &vl)) != NULL) kf_jw_kstrn(w, "radius_user_name", (const char *)v, vl);
    if (m && (v = rad_attr(m, ml, 40, &vl)) != NULL && vl == 4) {
        uint32_t st = kf_ld_be32(v);
        const char *sn = rad_acct_status(st);
        if (sn) kf_jw_kstr(w, "radius_acct_status_type", sn);
    }
    if (q && !resp) kf_jw_kbool(w, "unanswered", 1);
    kd_emit_end(c);
}

/* the pending table's callbacks */
static void rad_release(kd_conn *c, void *st, void *item)
{
    rad_req *q = item;
    if (q->msg) kd_conn_mem(c, -(long)q->mlen);
    free(q->msg);
    q->msg = NULL;
}
static int rad_unanswered(kd_conn *c, void *st, void *item)
{
    rad_emit(c, item, 0, NULL, 0, NULL);
    return 1;
}

static void rad_datagram(kd_conn *c, void *stv, int dir, const uint8_t *p, size_t n, const kd_pref *ref)
{
    rad_state *s = stv;
    uint32_t len = rad_valid(p, n);
    if (!len) { kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1); return; }
    if (rad_is_request(p[0])) {
        rad_req *q;
        while ((q = kd_ptab_find(&s->q, dir, p[1]))) kd_ptab_unanswered(&s->q, q);   /* a retry */
        rad_req one;
        q = kd_ptab_add(&s->q, dir, p[1], ref->ts_ns);   /* full: the oldest goes out unanswered */
        if (!q) { memset(&one, 0, sizeof one); q = &one; }
        q->dir = dir; q->id = p[1]; q->code = p[0]; q->len = len; q->ref = *ref;
        if (q == &one) { kd_stat_add(c, KD_STAT_UNANSWERED, 1); rad_emit(c, q, 0, NULL, 0, NULL); return; }
        q->mlen = len < RAD_SAVE ? len : RAD_SAVE;
        q->msg = malloc(q->mlen);
        if (q->msg) { memcpy(q->msg, p, q->mlen); kd_conn_mem(c, (long)q->mlen); } else q->mlen = 0;
        return;
    }
    rad_req *q = kd_ptab_find(&s->q, !dir, p[1]);
    if (q) {
        rad_emit(c, q, dir, p, len, ref);
        kd_ptab_done(&s->q, q);
        return;
    }
    rad_emit(c, NULL, dir, p, len, ref);   /* a response to a request not captured */
}

static void rad_init(kd_conn *c, void *stv)
{
    rad_state *s = stv;
    kd_ptab_init(&s->q, c, sizeof(rad_req), RAD_MAX_PENDING, rad_unanswered, rad_release, s);
    kd_ptab_set_timeout(&s->q, kd_conn_get_info(c)->opts->req_timeout_ns);
}
static void rad_timer(kd_conn *c, void *stv, int64_t now) { kd_ptab_timer(&((rad_state *)stv)->q, now); }
static void rad_close(kd_conn *c, void *stv) { kd_ptab_flush(&((rad_state *)stv)->q, -1); }   /* oldest first */
static void rad_destroy(kd_conn *c, void *stv) { kd_ptab_free(&((rad_state *)stv)->q); }

const kd_dissector kd_proto_radius = {
    .name = "radius", .protocol = "RADIUS", .flag = "radius", .l7_name = "RADIUS",
    .transports = KD_TRANSPORT_UDP, .ports = rad_ports,
    .state_size = sizeof(rad_state),
    .probe = rad_probe, .init = rad_init, .on_datagram = rad_datagram,
    .on_timer = rad_timer, .on_close = rad_close, .destroy = rad_destroy,
};
