/* icmp.c — ICMP (RFC 792, RFC 1122 §3.2.2) and ICMPv6 (RFC 4443).
 *
 *   type(1) code(1) checksum(2) rest-of-header(4) | data
 *   echo: rest = identifier(2) sequence(2); errors (v4: 3 unreachable, 4 source quench, 5 redirect,
 *   11 time exceeded, 12 parameter problem; v6: 1 unreachable, 2 packet too big, 3 time exceeded,
 *   4 parameter problem): data = the original IP header + at least 8 bytes of its payload.
 *
 * Records: an echo request with its reply (matched by identifier and sequence); each error
 * with the connection it concerns, read from the quoted packet (protocol, addresses, ports);
 * any other message alone. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "kf_cursor.h"
#include "kf_decode.h"

static const char *icmp_type_name(int v6, int t)
{
    if (!v6) {
        switch (t) {
        case 0: return "echo-reply"; case 3: return "destination-unreachable";
        case 4: return "source-quench"; case 5: return "redirect"; case 8: return "echo-request";
        case 9: return "router-advertisement"; case 10: return "router-solicitation";
        case 11: return "time-exceeded"; case 12: return "parameter-problem";
        case 13: return "timestamp"; case 14: return "timestamp-reply";
        }
    } else {
        switch (t) {
        case 1: return "destination-unreachable"; case 2: return "packet-too-big";
        case 3: return "time-exceeded"; case 4: return "parameter-problem";
        case 128: return "echo-request"; case 129: return "echo-reply";
        case 133: return "router-solicitation"; case 134: return "router-advertisement";
        case 135: return "neighbor-solicitation"; case 136: return "neighbor-advertisement";
        case 137: return "redirect"; case 143: return "mld2-report";
        }
    }
    return "other";
}

static const char *icmp_unreach_name(int v6, int code)
{
    if (!v6) {
        switch (code) {
        case 0: return "net-unreachable"; case 1: return "host-unreachable";
        case 2: return "protocol-unreachable"; case 3: return "port-unreachable";
        case 4: return "fragmentation-needed"; case 5: return "source-route-failed";
        case 9: case 10: case 13: return "administratively-prohibited";
        }
    } else {
        switch (code) {
        case 0: return "no-route"; case 1: return "administratively-prohibited";
        case 3: return "address-unreachable"; case 4: return "port-unreachable";
        case 5: return "source-address-failed-policy"; case 6: return "reject-route";
        }
    }
    return NULL;
}

static int icmp_is_error(int v6, int t)
{
    return v6 ? (t >= 1 && t <= 4) : (t == 3 || t == 4 || t == 5 || t == 11 || t == 12);
}
static int icmp_is_echo_req(int v6, int t) { return v6 ? t == 128 : t == 8; }
static int icmp_is_echo_rep(int v6, int t) { return v6 ? t == 129 : t == 0; }

/* --- dissector glue ---------------------------------------------------------------------- */
#ifndef KD_PARSE_ONLY
#include "../dissector.h"

#define ICMP_PENDING 16   /* echo requests waiting for their replies */

typedef struct icmp_echo {
    int dir;
    uint16_t id, seq;
    uint32_t len;
    kd_pref ref;
} icmp_echo;

typedef struct icmp_state {
    kd_conn *conn;
    kd_ptab echo;                /* icmp_echo by (identifier << 16 | sequence) */
} icmp_state;

static void icmp_addr(const kf_addr *a, char *out, size_t cap)
{
    if (!inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->a, out, (socklen_t)cap)) snprintf(out, cap, "?");
}

static void icmp_emit(icmp_state *s, int dir, const kf_l4 *l4, const kd_pref *ref, const icmp_echo *req)
{
    const kd_conn_info *ci = kd_conn_get_info(s->conn);
    int v6 = ci && ci->ipproto == 58;
    kd_call call = {0};
    if (req) {
        call.req_dir = req->dir;
        call.has_req = 1; call.req_first = req->ref; call.req_last = req->ref;
        call.has_resp = l4 != NULL;
        if (l4) { call.resp_first = *ref; call.resp_last = *ref; }
    } else {   /* a message alone: nothing is due back (not "unanswered") */
        call.req_dir = dir; call.has_req = 1; call.req_first = *ref; call.req_last = *ref;
        call.no_response = 1;
    }
    kf_jw *w = kd_emit_begin(s->conn, &call);
    if (!w) return;
    int type = req ? (v6 ? 128 : 8) : l4->icmp_type;
    int code = req ? 0 : l4->icmp_code;
    kf_jw_kint(w, "icmp_type", type);
    kf_jw_kint(w, "icmp_code", code);
    kf_jw_kstr(w, "icmp_type_name", icmp_type_name(v6, type));
    kf_jw_kbool(w, "icmp_v6", v6);
    kf_jw_kint(w, "icmp_version", v6 ? 6 : 4);
    kf_jw_kuint(w, "icmp_length", 8u + (req ? req->len : l4->wire_paylen));   /* header + data */
    if (req) {
        kf_jw_kint(w, "icmp_echo_id", req->id);
        kf_jw_kint(w, "icmp_echo_seq", req->seq);
        kf_jw_kuint(w, "icmp_request_length", req->len);
        kf_jw_kbool(w, "icmp_echo_reply", l4 != NULL);
        if (l4) kf_jw_kuint(w, "icmp_response_length", l4->paylen);
    } else if (icmp_is_error(v6, type)) {
        if ((v6 && type == 1) || (!v6 && type == 3)) {
            const char *cn = icmp_unreach_name(v6, code);
            if (cn) kf_jw_kstr(w, "icmp_code_name", cn);
        }
        kf_l4 in;
        memset(&in, 0, sizeof in);
        if (l4->icmp_inner && kf_decode_ip(l4->icmp_inner, l4->icmp_inner_len, &in) != KF_DEC_BAD && in.ipver) {
            char a[64], b[64], conn[200];
            icmp_addr(&in.src, a, sizeof a);
            icmp_addr(&in.dst, b, sizeof b);
            const char *pn = in.proto == 6 ? "tcp" : in.proto == 17 ? "udp" : in.proto == 1 ? "icmp" : in.proto == 58 ? "icmp6" : "ip";
            kf_jw_key(w, "icmp_conn");
            kf_jw_obj_begin(w);
            kf_jw_kstr(w, "proto", pn);
            kf_jw_kstr(w, "src_ip", a);
            kf_jw_kstr(w, "dst_ip", b);
            if (in.proto == 6 || in.proto == 17) {
                kf_jw_kint(w, "src_port", in.sport);
                kf_jw_kint(w, "dst_port", in.dport);
                snprintf(conn, sizeof conn, in.src.family == 6 ? "%s [%s]:%u -> [%s]:%u" : "%s %s:%u -> %s:%u",
                         pn, a, in.sport, b, in.dport);
            } else {
                snprintf(conn, sizeof conn, "%s %s -> %s", pn, a, b);
            }
            kf_jw_obj_end(w);
            kf_jw_kstr(w, "icmp_summary", conn);
        }
    }
    kd_emit_end(s->conn);
}

static void icmp_packet(kd_conn *c, void *st, int dir, const kf_l4 *l4, const kd_pref *ref)
{
    icmp_state *s = st;
    s->conn = c;
    if (l4->proto != 1 && l4->proto != 58) return;    /* other IP protocols are not ours */
    const kd_conn_info *ci = kd_conn_get_info(c);
    int v6 = (ci && ci->ipproto == 58) || l4->proto == 58;
    int t = l4->icmp_type;
    /* the identifier and sequence are the 4 bytes before the payload (rest of the header) */
    uint16_t id = 0, seq = 0;
    if ((icmp_is_echo_req(v6, t) || icmp_is_echo_rep(v6, t)) && l4->payload && l4->l3 &&
        l4->payload >= l4->l3 + 4) {
        id = kf_ld_be16(l4->payload - 4);
        seq = kf_ld_be16(l4->payload - 2);
    }
    if (icmp_is_echo_req(v6, t)) {
        icmp_echo *e = kd_ptab_add(&s->echo, dir, (uint32_t)id << 16 | seq, ref->ts_ns);
        if (!e) { icmp_echo lone = { dir, id, seq, l4->paylen, *ref }; icmp_emit(s, dir, NULL, NULL, &lone); return; }
        e->dir = dir; e->id = id; e->seq = seq; e->len = l4->paylen; e->ref = *ref;
        return;
    }
    if (icmp_is_echo_rep(v6, t)) {
        icmp_echo *e = kd_ptab_find(&s->echo, -1, (uint32_t)id << 16 | seq);   /* (same side on loopback) */
        if (e) {
            icmp_emit(s, dir, l4, ref, e);
            kd_ptab_done(&s->echo, e);
            return;
        }
    }
    icmp_emit(s, dir, l4, ref, NULL);
}

static int icmp_unanswered(kd_conn *c, void *st, void *item)
{
    icmp_state *s = st;
    s->conn = c;
    icmp_emit(s, 0, NULL, NULL, item);
    return 1;
}

static void icmp_init(kd_conn *c, void *st)
{
    icmp_state *s = st;
    s->conn = c;
    kd_ptab_init(&s->echo, c, sizeof(icmp_echo), ICMP_PENDING, icmp_unanswered, NULL, s);
}

static void icmp_close(kd_conn *c, void *st)
{
    icmp_state *s = st;
    s->conn = c;
    kd_ptab_flush(&s->echo, -1);
}

static void icmp_destroy(kd_conn *c, void *st) { kd_ptab_free(&((icmp_state *)st)->echo); }

const kd_dissector kd_proto_icmp = {
    .name = "icmp", .protocol = "ICMP", .flag = "icmp", .l7_name = "ICMP",
    .transports = KD_TRANSPORT_OTHER, .calls = 1, .state_size = sizeof(icmp_state),
    .init = icmp_init, .on_packet = icmp_packet, .on_close = icmp_close, .destroy = icmp_destroy,
};
#endif /* KD_PARSE_ONLY */
