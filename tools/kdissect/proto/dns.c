/* dns.c — DNS over UDP and TCP (RFC 1035; AAAA RFC 3596; SRV RFC 2782; EDNS RFC 6891;
 * TCP framing RFC 7766: a 2-byte length before each message).
 *
 *   header   id(16) | QR opcode(4) AA TC RD | RA Z AD CD rcode(4) | qd an ns ar counts (16 each)
 *   question qname qtype(16) qclass(16)
 *   RR       name type(16) class(16) ttl(32) rdlength(16) rdata
 *   names    labels (len ≤ 63) or a 14-bit pointer (0xC0) back into the message
 *
 * Queries and responses are matched by id within one connection (5-tuple). A query without a
 * response after kd_opts.req_timeout_ns is emitted with "unanswered": true. Compression
 * pointers are followed at most 64 times per name and a name is at most 255 bytes.
 * Answers A/AAAA teach the engine the names of addresses (src.dns / dst.dns).
 * Hand-written on kf_cursor: the C resolver libraries parse only well-formed answers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../dissector.h"
#include "kf_cursor.h"
#include "kf_json.h"

#define DNS_MAX_PENDING 16
#define DNS_MAX_RR 64

typedef struct dns_q {      /* a query waiting for its answer (in the engine's pending table) */
    uint16_t id;
    int dir;
    kd_pref first, last;
    uint32_t len;
    uint8_t *msg;          /* the query message (copied, ≤ 512 bytes kept) */
    uint32_t mlen;
} dns_q;

typedef struct dns_state {
    kd_framer fr;          /* TCP: the engine's framed mode (first) */
    kd_ptab q;             /* dns_q by id */
} dns_state;

static const uint16_t dns_ports[] = { 53, 5353, 5355, 0 };

int kd_dns_port(uint16_t port)
{
    for (const uint16_t *pp = dns_ports; *pp; pp++) if (port == *pp) return 1;
    return 0;
}

static void cpy(char *dst, size_t cap, const char *src)
{
    size_t l = strlen(src);
    if (l >= cap) l = cap - 1;
    memcpy(dst, src, l);
    dst[l] = 0;
}

/* ---------------------------------------------------------------- parsing */

/* Reads a (possibly compressed) name at *pos of msg into out (text, dotted, "." for root).
 * Advances *pos past the name in place. Returns 0, or -1 malformed. */
static int read_name(const uint8_t *msg, size_t mlen, size_t *pos, char *out, size_t outcap)
{
    size_t p = *pos, o = 0, wire = 0;
    int jumped = 0, jumps = 0;
    for (;;) {
        if (p >= mlen) return -1;
        uint8_t l = msg[p];
        if ((l & 0xC0) == 0xC0) {
            if (p + 1 >= mlen || ++jumps > 64) return -1;
            size_t np = (size_t)(l & 0x3F) << 8 | msg[p + 1];
            if (!jumped) *pos = p + 2;
            jumped = 1;
            if (np >= mlen) return -1;
            p = np;
            continue;
        }
        if (l & 0xC0) return -1;   /* 0x40/0x80: obsolete label types */
        p++;
        if (l == 0) break;
        if (p + l > mlen) return -1;
        wire += (size_t)l + 1;
        if (wire > 255) return -1;
        if (o && o + 1 < outcap) out[o++] = '.';
        for (size_t i = 0; i < l; i++) {
            uint8_t ch = msg[p + i];
            if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '*') {
                if (o + 1 < outcap) out[o++] = (char)ch;
            } else if (o + 5 < outcap) {   /* dig's \DDD */
                o += (size_t)snprintf(out + o, outcap - o, "\\%03u", ch);
            }
        }
        p += l;
    }
    if (!jumped) *pos = p;
    if (!o && outcap > 1) out[o++] = '.';
    out[o < outcap ? o : outcap - 1] = 0;
    return 0;
}

static const char *type_name(uint16_t t, char *buf, size_t n)
{
    switch (t) {
    case 1: return "A"; case 2: return "NS"; case 5: return "CNAME"; case 6: return "SOA";
    case 12: return "PTR"; case 13: return "HINFO"; case 15: return "MX"; case 16: return "TXT";
    case 28: return "AAAA"; case 33: return "SRV"; case 35: return "NAPTR"; case 39: return "DNAME";
    case 41: return "OPT"; case 43: return "DS"; case 46: return "RRSIG"; case 47: return "NSEC";
    case 48: return "DNSKEY"; case 52: return "TLSA"; case 64: return "SVCB"; case 65: return "HTTPS";
    case 99: return "SPF"; case 249: return "TKEY"; case 250: return "TSIG"; case 251: return "IXFR";
    case 252: return "AXFR"; case 255: return "ANY"; case 257: return "CAA";
    default: snprintf(buf, n, "TYPE%u", t); return buf;
    }
}
static const char *rcode_name(unsigned r)
{
    /* RFC 6895 2.3 (IANA DNS RCODEs); 16 and up exist only with EDNS's extended bits */
    static const char *n[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
                               "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", "RCODE", "RCODE",
                               "RCODE", "RCODE", "BADVERS", "BADKEY", "BADTIME", "BADMODE", "BADNAME",
                               "BADALG", "BADTRUNC", "BADCOOKIE" };
    return r < sizeof n / sizeof n[0] ? n[r] : "RCODE";
}

typedef struct dns_hdr { uint16_t id, flags, qd, an, ns, ar; } dns_hdr;

static int read_hdr(const uint8_t *p, size_t n, dns_hdr *h)
{
    kf_cur c = kf_cur_make(p, n);
    h->id = kf_be16(&c); h->flags = kf_be16(&c);
    h->qd = kf_be16(&c); h->an = kf_be16(&c); h->ns = kf_be16(&c); h->ar = kf_be16(&c);
    return c.err ? -1 : 0;
}

/* Plausibility for probing: header sane and the question section parses. */
static int dns_plausible(const uint8_t *p, size_t n)
{
    dns_hdr h;
    if (read_hdr(p, n, &h) != 0) return 0;
    unsigned opcode = h.flags >> 11 & 15;
    if (opcode > 6 || opcode == 3) return 0;
    if (h.qd > 16 || h.an > 512 || h.ns > 512 || h.ar > 512) return 0;
    if (!(h.flags & 0x8000) && h.qd == 0 && opcode == 0) return 0;
    size_t pos = 12;
    char name[1100];
    for (unsigned i = 0; i < h.qd; i++) {
        if (read_name(p, n, &pos, name, sizeof name) != 0 || pos + 4 > n) return 0;
        pos += 4;
    }
    return 1;
}

static int dns_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    int hinted = 0;
    if (kd_dns_port(ci->port[0]) || kd_dns_port(ci->port[1])) hinted = 1;
    if (ci->transport == KD_TRANSPORT_TCP) {
        if (n < 2) return hinted ? KD_PROBE_MORE : KD_PROBE_NO;
        size_t l = kf_ld_be16(p);
        if (l < 12) return KD_PROBE_NO;
        if (n < 2 + 12) return hinted ? KD_PROBE_MORE : KD_PROBE_NO;
        if (!hinted) {
            /* Off DNS ports, only ask for more bytes when the header already looks like a DNS
             * query or answer (one question, few records): answering "more" on any stream holds
             * back the other dissectors (MySQL and PostgreSQL on their own ports were delayed). */
            dns_hdr h;
            read_hdr(p + 2, n - 2, &h);
            if (l > 4096 || h.qd != 1 || h.an > 256 || h.ns > 256 || h.ar > 256) return KD_PROBE_NO;
            if (n < 2 + l) return n < 512 ? KD_PROBE_MORE : KD_PROBE_NO;
        }
        if (!dns_plausible(p + 2, n - 2 < l ? n - 2 : l)) return KD_PROBE_NO;
        return (p[4] & 0x80) ? KD_PROBE_SERVER : KD_PROBE_CLIENT;
    }
    if (hinted) {   /* on a DNS port a header is enough (broken names are still DNS) */
        dns_hdr h;
        if (read_hdr(p, n, &h) != 0) return KD_PROBE_NO;
        return (p[2] & 0x80) ? KD_PROBE_SERVER : KD_PROBE_CLIENT;
    }
    if (!dns_plausible(p, n)) return KD_PROBE_NO;
    if (!hinted) {   /* off the usual ports: the datagram must parse to its end */
        dns_hdr h;
        read_hdr(p, n, &h);
        if (h.qd != 1) return KD_PROBE_NO;
    }
    return (p[2] & 0x80) ? KD_PROBE_SERVER : KD_PROBE_CLIENT;
}

/* Writes the questions (names and types) of msg. */
static void write_questions(kf_jw *w, const uint8_t *msg, size_t n, const dns_hdr *h, size_t *after)
{
    size_t pos = 12;
    char name[1100], tb[16];
    const char *names[16]; char nbuf[16][1100]; uint16_t types[16];
    unsigned k = 0;
    for (unsigned i = 0; i < h->qd && i < 16; i++) {
        if (read_name(msg, n, &pos, name, sizeof name) != 0 || pos + 4 > n) break;
        types[k] = kf_ld_be16(msg + pos);
        pos += 4;
        cpy(nbuf[k], sizeof nbuf[k], name);
        names[k] = nbuf[k];
        k++;
    }
    kf_jw_key(w, "dns_questions");
    kf_jw_arr_begin(w);
    for (unsigned i = 0; i < k; i++) kf_jw_str(w, names[i]);
    kf_jw_arr_end(w);
    kf_jw_key(w, "dns_question_types");
    kf_jw_arr_begin(w);
    for (unsigned i = 0; i < k; i++) kf_jw_str(w, type_name(types[i], tb, sizeof tb));
    kf_jw_arr_end(w);
    if (after) *after = pos;
}

/* rdata as text */
/* The address of an A or AAAA record (family 0 for any other). */
static void rdata_addr(const uint8_t *msg, size_t rd, size_t rdlen, uint16_t type, kf_addr *ip)
{
    memset(ip, 0, sizeof *ip);
    if (type == 1 && rdlen == 4) { ip->family = 4; memcpy(ip->a, msg + rd, 4); }
    else if (type == 28 && rdlen == 16) { ip->family = 6; memcpy(ip->a, msg + rd, 16); }
}

static void rdata_text(const uint8_t *msg, size_t n, size_t rd, size_t rdlen, uint16_t type, char *out, size_t cap)
{
    size_t pos = rd;
    char a[1100], b[1100];
    out[0] = 0;
    kf_cur c = kf_cur_make(msg + rd, rdlen);
    switch (type) {
    case 1: case 28:   /* kf_addr_str (IPv4 by hand there: snprintf was a third of a DNS answer's rendering) */
        if (rdlen == (type == 1 ? 4u : 16u)) { kf_addr x; rdata_addr(msg, rd, rdlen, type, &x); kf_addr_str(&x, out, cap); }
        return;
    case 2: case 5: case 12: case 39:
        if (read_name(msg, rd + rdlen <= n ? rd + rdlen : n, &pos, a, sizeof a) == 0) snprintf(out, cap, "%s", a);
        return;
    case 15: {
        uint16_t pref = kf_be16(&c);
        pos = rd + 2;
        if (!c.err && read_name(msg, rd + rdlen, &pos, a, sizeof a) == 0) snprintf(out, cap, "%u %s", pref, a);
        return;
    }
    case 33: {
        uint16_t pr = kf_be16(&c), wt = kf_be16(&c), port = kf_be16(&c);
        pos = rd + 6;
        if (!c.err && read_name(msg, rd + rdlen, &pos, a, sizeof a) == 0) snprintf(out, cap, "%u %u %u %s", pr, wt, port, a);
        return;
    }
    case 6: {
        if (read_name(msg, rd + rdlen, &pos, a, sizeof a) != 0 || read_name(msg, rd + rdlen, &pos, b, sizeof b) != 0) return;
        kf_cur t = kf_cur_make(msg + pos, rd + rdlen > pos ? rd + rdlen - pos : 0);
        uint32_t serial = kf_be32(&t), refresh = kf_be32(&t), retry = kf_be32(&t), expire = kf_be32(&t), min = kf_be32(&t);
        if (!t.err && snprintf(out, cap, "%s %s %u %u %u %u %u", a, b, serial, refresh, retry, expire, min) >= (int)cap) out[cap - 1] = 0;
        return;
    }
    case 16: case 99: {
        size_t o = 0;
        while (kf_cur_left(&c) > 0 && o + 4 < cap) {
            uint8_t l = kf_u8(&c);
            const uint8_t *s = kf_cur_take(&c, l);
            if (!s) break;
            if (o) out[o++] = ' ';
            out[o++] = '"';
            for (size_t i = 0; i < l && o + 6 < cap; i++) {
                if (s[i] == '"' || s[i] == '\\') { out[o++] = '\\'; out[o++] = (char)s[i]; }
                else if (s[i] >= 0x20 && s[i] < 0x7f) out[o++] = (char)s[i];
                else o += (size_t)snprintf(out + o, cap - o, "\\%03u", s[i]);
            }
            if (o + 1 < cap) out[o++] = '"';
        }
        out[o < cap ? o : cap - 1] = 0;
        return;
    }
    default: {   /* RFC 3597 generic form */
        size_t o = (size_t)snprintf(out, cap, "\\# %zu", rdlen);
        if (o < cap && rdlen) out[o++] = ' ';
        for (size_t i = 0; i < rdlen && i < 64 && o + 3 < cap; i++) o += (size_t)snprintf(out + o, cap - o, "%02x", msg[rd + i]);
        return;
    }
    }
}

/* One resource record's header at *pos (RFC 1035 4.1.3: NAME TYPE CLASS TTL RDLENGTH, then
 * RDATA): its owner name into name, type, ttl and where its data lies; *pos moves past the data.
 * Returns 0, or -1 when the record is malformed or runs past the message. */
typedef struct dns_rr { uint16_t type; uint32_t ttl; size_t rd; uint16_t rdlen; } dns_rr;
static int read_rr(const uint8_t *msg, size_t n, size_t *pos, char *name, size_t namecap, dns_rr *rr)
{
    if (read_name(msg, n, pos, name, namecap) != 0) return -1;
    kf_cur cu = kf_cur_make(msg + *pos, n - *pos);
    rr->type = kf_be16(&cu);
    kf_be16(&cu);   /* class */
    rr->ttl = kf_be32(&cu);
    rr->rdlen = kf_be16(&cu);
    if (cu.err || *pos + 10 + rr->rdlen > n) return -1;
    rr->rd = *pos + 10;
    *pos = rr->rd + rr->rdlen;
    return 0;
}

/* The response's full RCODE: the header's 4 bits, and with an EDNS OPT record (RFC 6891 6.1.3)
 * the upper 8 bits from its TTL field (BADVERS 16 read as NOERROR, BADCOOKIE 23 as YXRRSET
 * before). pos: the first record after the questions. */
static unsigned full_rcode(const uint8_t *msg, size_t n, const dns_hdr *h, size_t pos)
{
    unsigned rc = h->flags & 15, total = (unsigned)h->an + h->ns + h->ar;
    char name[1100];
    dns_rr rr;
    for (unsigned i = 0; i < total && i < 4096; i++) {
        if (read_rr(msg, n, &pos, name, sizeof name, &rr) != 0) break;
        if (rr.type == 41 && i >= (unsigned)h->an + h->ns) return (rr.ttl >> 24) << 4 | rc;
    }
    return rc;
}

/* Answers of a response message: the dns_answers list and the detailed records (names at most
 * 1099 bytes, data at most 599, as when they were copied into a table).
 * No heap: the records' places are found once (a small table on the stack) and their text made
 * as it is written; the answer section's data, which both lists show, is kept in a stack buffer
 * between the two when it fits. (Before, a 110 KB table was malloc'd and freed per response:
 * glibc gave the pages back at each free and every response faulted them in again, 3 % of
 * kdissect's CPU time on bench/data/api-one.pcap, dnsperf's traffic.) */
#define DNS_DATA_MAX 599
#define DNS_ANS_CACHE 4096
static void write_answers(kf_jw *w, const uint8_t *msg, size_t n, const dns_hdr *h, size_t pos)
{
    char name[1100], data[1400], tb[16];
    struct { size_t npos, rd; uint32_t ttl; uint16_t type, rdlen; uint8_t sect; int16_t cl; int32_t co; } rr[DNS_MAX_RR];
    char cache[DNS_ANS_CACHE];
    size_t cused = 0;
    unsigned k = 0, total = (unsigned)h->an + h->ns + h->ar;
    for (unsigned i = 0; i < total && k < DNS_MAX_RR; i++) {
        size_t npos = pos;
        dns_rr one;
        if (read_rr(msg, n, &pos, name, sizeof name, &one) != 0) break;
        if (one.type == 41) continue;    /* OPT pseudo-record */
        rr[k].npos = npos; rr[k].rd = one.rd; rr[k].rdlen = one.rdlen;
        rr[k].type = one.type; rr[k].ttl = one.ttl; rr[k].cl = -1; rr[k].co = 0;
        rr[k].sect = (uint8_t)(i < h->an ? 0 : i < (unsigned)h->an + h->ns ? 1 : 2);
        k++;
    }
    kf_jw_key(w, "dns_answers");
    kf_jw_arr_begin(w);
    for (unsigned i = 0; i < k; i++) {
        if (rr[i].sect != 0) continue;
        rdata_text(msg, n, rr[i].rd, rr[i].rdlen, rr[i].type, data, sizeof data);
        size_t dl = strlen(data);
        if (dl > DNS_DATA_MAX) dl = DNS_DATA_MAX;
        kf_jw_strn(w, data, dl);
        if (cused + dl <= sizeof cache) { memcpy(cache + cused, data, dl); rr[i].co = (int32_t)cused; rr[i].cl = (int16_t)dl; cused += dl; }
    }
    kf_jw_arr_end(w);
    kf_jw_key(w, "dns_records");
    kf_jw_arr_begin(w);
    static const char *sn[3] = { "answer", "authority", "additional" };
    for (unsigned i = 0; i < k; i++) {
        size_t np = rr[i].npos;
        if (read_name(msg, n, &np, name, sizeof name) != 0) name[0] = 0;   /* (parsed above) */
        kf_jw_obj_begin(w);
        kf_jw_kstr(w, "section", sn[rr[i].sect]);
        kf_jw_kstr(w, "name", name);
        kf_jw_kstr(w, "type", type_name(rr[i].type, tb, sizeof tb));
        kf_jw_kuint(w, "ttl", rr[i].ttl);
        if (rr[i].cl >= 0) kf_jw_kstrn(w, "data", cache + rr[i].co, (size_t)rr[i].cl);
        else {
            rdata_text(msg, n, rr[i].rd, rr[i].rdlen, rr[i].type, data, sizeof data);
            size_t dl = strlen(data);
            kf_jw_kstrn(w, "data", data, dl > DNS_DATA_MAX ? DNS_DATA_MAX : dl);
        }
        kf_jw_obj_end(w);
    }
    kf_jw_arr_end(w);
}

/* ---------------------------------------------------------------- names for -j */

/* The names a response teaches: each answer-section A/AAAA address under the first question's
 * name, else the record's own name. The dissector learns them through this (dns_emit), and -j
 * hands them to the shards that do not dissect the datagram, so both learn the same. msg is one
 * DNS message; queries and malformed messages teach nothing. Returns the count. */
unsigned kd_dns_names(const uint8_t *msg, size_t n, kd_name_fn fn, void *arg)
{
    dns_hdr h;
    if (read_hdr(msg, n, &h) != 0 || !(h.flags & 0x8000) || !h.an) return 0;
    char qname[1100], name[1100];
    qname[0] = 0;
    size_t pos = 12;
    for (unsigned i = 0; i < h.qd; i++) {
        char *dst = i == 0 ? qname : name;
        if (read_name(msg, n, &pos, dst, sizeof name) != 0 || pos + 4 > n) {
            if (i == 0) qname[0] = 0;
            break;
        }
        pos += 4;
    }
    unsigned k = 0, learned = 0;
    for (unsigned i = 0; i < h.an && k < DNS_MAX_RR; i++) {
        dns_rr rr;
        if (read_rr(msg, n, &pos, name, sizeof name, &rr) != 0) break;
        if (rr.type == 41) continue;
        k++;
        kf_addr ip;
        rdata_addr(msg, rr.rd, rr.rdlen, rr.type, &ip);
        if (!ip.family) continue;
        const char *learn = *qname ? qname : name;
        fn(arg, &ip, learn, strlen(learn));
        learned++;
    }
    return learned;
}

/* ---------------------------------------------------------------- records */

typedef struct learnctx { kd_conn *c; int64_t ts; } learnctx;
static void learn_name(void *arg, const kf_addr *ip, const char *name, size_t len)
{
    learnctx *lc = arg;
    kd_learn_name(lc->c, ip, name, len, lc->ts);
}

static void dns_emit(kd_conn *c, int qdir, const dns_q *q, const uint8_t *resp, size_t rlen, const kd_pref *rfirst, const kd_pref *rlast)
{
    kd_call call;
    memset(&call, 0, sizeof call);
    call.req_dir = qdir;
    if (q) { call.has_req = 1; call.req_first = q->first; call.req_last = q->last; }
    if (resp) { call.has_resp = 1; call.resp_first = *rfirst; call.resp_last = *rlast; }
    kf_jw *w = kd_emit_begin(c, &call);
    dns_hdr qh, rh;
    const uint8_t *qm = q ? q->msg : NULL;
    int qok = qm && read_hdr(qm, q->mlen, &qh) == 0;
    int rok = resp && read_hdr(resp, rlen, &rh) == 0;
    size_t after = 12;
    if (rok) {
        write_questions(w, resp, rlen, &rh, &after);
        learnctx lc = { c, rfirst->ts_ns };
        kd_dns_names(resp, rlen, learn_name, &lc);
    } else if (qok) {
        write_questions(w, qm, q->mlen, &qh, NULL);
    }
    kf_jw_kbool(w, "dns_request", q != NULL);
    kf_jw_kbool(w, "dns_response", resp != NULL);
    kf_jw_kuint(w, "dns_id", q ? q->id : rok ? rh.id : 0);
    const dns_hdr *hh = rok ? &rh : qok ? &qh : NULL;
    if (hh) kf_jw_kuint(w, "dns_opcode", hh->flags >> 11 & 15);
    kf_jw_kuint(w, "dns_request_length", q ? q->len : 0);
    kf_jw_kuint(w, "dns_response_length", resp ? rlen : 0);
    kf_jw_kuint(w, "dns_total_size", (q ? q->len : 0) + (resp ? rlen : 0));
    if (rok) {
        unsigned rc = full_rcode(resp, rlen, &rh, after);
        kf_jw_kint(w, "status_code", rc);
        kf_jw_kstr(w, "dns_rcode", rcode_name(rc));
        kf_jw_kbool(w, "dns_truncated", (rh.flags & 0x0200) != 0);
        kf_jw_kbool(w, "dns_authoritative", (rh.flags & 0x0400) != 0);
        write_answers(w, resp, rlen, &rh, after);
    } else {
        kf_jw_kint(w, "status_code", 0);
        kf_jw_key(w, "dns_answers"); kf_jw_arr_begin(w); kf_jw_arr_end(w);
        if (q) kf_jw_kbool(w, "unanswered", 1);
    }
    kd_emit_end(c);
}

/* the pending table's callbacks */
static void q_release(kd_conn *c, void *s, void *item)
{
    dns_q *q = item;
    if (q->msg) kd_conn_mem(c, -(long)q->mlen);
    free(q->msg);
    q->msg = NULL;
}
static int q_unanswered(kd_conn *c, void *s, void *item)
{
    dns_q *q = item;
    dns_emit(c, q->dir, q, NULL, 0, NULL, NULL);
    return 1;
}

/* One complete DNS message from side dir. */
static void dns_message(kd_conn *c, dns_state *s, int dir, const uint8_t *m, size_t n, uint32_t wirelen,
                        const kd_pref *first, const kd_pref *last)
{
    dns_hdr h;
    if (read_hdr(m, n, &h) != 0) { kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1); return; }
    if (!(h.flags & 0x8000)) {
        /* a query: wait for its answer. The same id again from the same side (a retry): the
         * earlier attempt went unanswered */
        dns_q *old;
        while ((old = kd_ptab_find(&s->q, dir, h.id))) kd_ptab_unanswered(&s->q, old);
        dns_q *q = kd_ptab_add(&s->q, dir, h.id, first->ts_ns);
        dns_q lone;
        if (!q) { memset(&lone, 0, sizeof lone); q = &lone; }
        q->id = h.id; q->dir = dir; q->first = *first; q->last = *last; q->len = wirelen;
        if (q == &lone) { kd_stat_add(c, KD_STAT_UNANSWERED, 1); dns_emit(c, dir, q, NULL, 0, NULL, NULL); return; }
        q->mlen = (uint32_t)(n < 512 ? n : 512);
        q->msg = malloc(q->mlen);
        if (q->msg) { memcpy(q->msg, m, q->mlen); kd_conn_mem(c, (long)q->mlen); } else q->mlen = 0;
        return;
    }
    dns_q *q = kd_ptab_find(&s->q, !dir, h.id);
    if (q) {
        dns_emit(c, q->dir, q, m, n, first, last);
        kd_ptab_done(&s->q, q);
        return;
    }
    dns_emit(c, !dir, NULL, m, n, first, last);   /* a response to a query we did not see */
}

static void dns_datagram(kd_conn *c, void *stv, int dir, const uint8_t *p, size_t n, const kd_pref *ref)
{
    dns_message(c, stv, dir, p, n, (uint32_t)n, ref, ref);
}

/* TCP (RFC 1035 4.2.2, RFC 7766): each message behind a two-byte length, in the engine's framed
 * mode. A message is at least its 12-byte header and at most 65535 bytes (below KD_FRAME_MAX). */
static int64_t dns_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    if (n < 2) return KD_FRAME_MORE;
    size_t l = kf_ld_be16(p);
    return l < 12 ? KD_FRAME_BAD : 2 + (int64_t)l;
}

/* after a gap or a bad frame: a length prefix followed by a sane header */
static int dns_sync(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    if (n < 2 + 12) return KD_SYNC_MORE;
    size_t l = kf_ld_be16(p);
    return l >= 12 && dns_plausible(p + 2, n - 2 < l ? n - 2 : l) ? KD_SYNC_YES : KD_SYNC_NO;
}

static int dns_on_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t len,
                        const kd_pref *first, const kd_pref *last)
{
    dns_message(c, st, dir, p + 2, n - 2, (uint32_t)(len - 2), first, last);
    return KD_FRAME_OK;
}

static void dns_timer(kd_conn *c, void *stv, int64_t now)
{
    dns_state *s = stv;
    kd_ptab_timer(&s->q, now);   /* unanswered after kd_opts.req_timeout_ns */
}

static void dns_init(kd_conn *c, void *stv)
{
    dns_state *s = stv;
    kd_ptab_init(&s->q, c, sizeof(dns_q), DNS_MAX_PENDING, q_unanswered, q_release, s);
    kd_ptab_set_timeout(&s->q, kd_conn_get_info(c)->opts->req_timeout_ns);
}

static void dns_close(kd_conn *c, void *stv)
{
    dns_state *s = stv;
    kd_ptab_flush(&s->q, -1);   /* what is still pending, oldest first */
}

static void dns_destroy(kd_conn *c, void *stv)
{
    dns_state *s = stv;
    kd_ptab_free(&s->q);
}

const kd_dissector kd_proto_dns = {
    .name = "dns", .protocol = "DNS", .flag = "dns", .l7_name = "DNS",
    .transports = KD_TRANSPORT_TCP | KD_TRANSPORT_UDP, .ports = dns_ports,
    .state_size = sizeof(dns_state),
    .probe = dns_probe, .init = dns_init, .frame = dns_frame, .on_frame = dns_on_frame,
    .frame_sync = dns_sync, .on_datagram = dns_datagram,
    .on_timer = dns_timer, .on_close = dns_close, .destroy = dns_destroy,
};
