/* kf_decode — link layer to L4 (see kf_decode.h).
 *
 * Hand-written: libpcap filters but does not decode, and no C library decodes headers from a
 * caller's buffer with bounded IP reassembly and without allocating per packet. Every byte is
 * read through kf_cursor. Specs: IEEE 802.3 / 802.1Q (Ethernet, VLAN, QinQ), the Linux
 * "cooked" headers (LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2), LINKTYPE_NULL/LOOP, RFC 791
 * (IPv4, fragments), RFC 8200 (IPv6, extension headers, fragments), RFC 6946 (atomic fragments),
 * RFC 9293 (TCP) with RFC 7323 (timestamps, window scale) and RFC 2018 (SACK), RFC 768 (UDP),
 * RFC 792 (ICMP), RFC 4443 (ICMPv6). */
#include "kf_decode.h"
#include "kf_capread.h"
#include "kf_cursor.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* ---------- reassembly table ---------- */

#define FR_SLOTS 64                      /* datagrams in flight */
#define FR_MAXDATA 65536u                /* payload bytes of one datagram */
#define FR_UNITS (FR_MAXDATA / 8)
#define FR_MAXHDR 512u                   /* IP header (+ IPv6 unfragmentable part) kept */
#define FR_MEMCAP (8u << 20)             /* all buffers together */
#define FR_TIMEOUT_NS (30LL * 1000000000LL)

typedef struct frag {
    int used;
    uint8_t ver, proto;                  /* v4: IP protocol; v6: next header after the frag header */
    kf_addr src, dst;
    uint32_t id;
    int64_t first_ts;
    uint8_t *data; uint32_t cap;          /* payload bytes at their offsets */
    uint8_t bits[FR_UNITS / 8];           /* 8-byte units received */
    uint32_t units;                       /* units set */
    uint32_t total;                       /* payload length, known once the last fragment came */
    int have_last, have_first;
    uint8_t hdr[FR_MAXHDR]; uint32_t hdrlen;
    uint32_t nh_off;                      /* v6: offset in hdr of the next-header byte naming 44 */
} frag;

struct kf_decoder {
    frag slots[FR_SLOTS];
    size_t mem;
    kf_decoder_stats st;
    uint8_t out[FR_MAXHDR + FR_MAXDATA + 8];   /* the last reassembled datagram */
};

kf_decoder *kf_decoder_new(void) { return calloc(1, sizeof(kf_decoder)); }

static void frag_drop(kf_decoder *d, frag *f)
{
    d->mem -= f->cap;
    free(f->data);
    memset(f, 0, sizeof *f);
}

void kf_decoder_free(kf_decoder *d)
{
    if (!d) return;
    for (int i = 0; i < FR_SLOTS; i++) free(d->slots[i].data);
    free(d);
}

void kf_decoder_stats_get(const kf_decoder *d, kf_decoder_stats *s)
{
    if (d) *s = d->st; else memset(s, 0, sizeof *s);
}

/* ---------- addresses ---------- */

const char *kf_addr_str(const kf_addr *a, char *buf, size_t len)
{
    /* IPv4 by hand: glibc's inet_ntop formats it with sprintf, which was 8.5 % of kdissect's
     * instructions on bench/data/api-one.pcap (two addresses per record). Same text as
     * inet_ntop (dotted decimal, no leading zeros); IPv6 keeps inet_ntop. */
    if (a->family != 6 && len >= 16) {
        char *o = buf;
        for (int i = 0; i < 4; i++) {
            unsigned v = a->a[i];
            if (v >= 100) { *o++ = (char)('0' + v / 100); v %= 100; *o++ = (char)('0' + v / 10); }
            else if (v >= 10) *o++ = (char)('0' + v / 10);
            *o++ = (char)('0' + v % 10);
            *o++ = i < 3 ? '.' : '\0';
        }
        return buf;
    }
    if (!inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->a, buf, (socklen_t)len)) {
        if (len) buf[0] = 0;
    }
    return buf;
}

int kf_addr_parse(const char *s, kf_addr *a)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, a->a) == 1) { a->family = 4; return 1; }
    if (inet_pton(AF_INET6, s, a->a) == 1) { a->family = 6; return 1; }
    return 0;
}

int kf_addr_eq(const kf_addr *a, const kf_addr *b)
{
    if (a->family != b->family) return 0;
    return memcmp(a->a, b->a, a->family == 6 ? 16 : 4) == 0;
}

/* ---------- L4 ---------- */

static void tcp_opts(kf_cur c, kf_tcpinfo *t)
{
    while (kf_cur_left(&c) > 0) {
        uint8_t kind = kf_u8(&c);
        if (kind == 0) break;        /* end of option list */
        if (kind == 1) continue;     /* no-operation */
        uint8_t len = kf_u8(&c);
        if (c.err || len < 2) break;
        kf_cur o = kf_cur_sub(&c, len - 2u);
        if (o.err) break;
        switch (kind) {
        case 2: if (len == 4) { t->mss = kf_be16(&o); t->has_mss = 1; } break;
        case 3: if (len == 3) { t->wscale = kf_u8(&o); t->has_wscale = 1; } break;
        case 4: if (len == 2) t->sack_permitted = 1; break;
        case 5:
            for (int i = 0; i < 4 && kf_cur_left(&o) >= 8; i++) {
                t->sack[i][0] = kf_be32(&o);
                t->sack[i][1] = kf_be32(&o);
                t->sack_blocks = (uint8_t)(i + 1);
            }
            break;
        case 8: if (len == 10) { t->tsval = kf_be32(&o); t->tsecr = kf_be32(&o); t->has_ts = 1; } break;
        }
    }
}

static inline int icmp_is_error4(uint8_t t) { return t == 3 || t == 4 || t == 5 || t == 11 || t == 12; }
static inline int icmp_is_error6(uint8_t t) { return t >= 1 && t <= 4; }

/* p/avail: captured bytes of the L4 segment; wire: its length per the IP header. */
static int decode_l4(kf_l4 *out, const uint8_t *p, uint32_t avail, uint32_t wire)
{
    kf_cur c = kf_cur_make(p, avail);
    switch (out->proto) {
    case 6: {
        const uint8_t *h = kf_cur_take(&c, 20);
        if (!h) return KF_DEC_TRUNC;
        out->sport = kf_ld_be16(h);
        out->dport = kf_ld_be16(h + 2);
        kf_tcpinfo *t = &out->tcp;
        t->seq = kf_ld_be32(h + 4);
        t->ack = kf_ld_be32(h + 8);
        uint32_t hl = (uint32_t)(h[12] >> 4) * 4;
        t->flags = h[13];
        t->win = kf_ld_be16(h + 14);
        t->hdrlen = (uint8_t)hl;
        if (hl < 20) return KF_DEC_BAD;
        kf_cur o = kf_cur_sub(&c, hl - 20);
        if (o.err) {   /* options cut: read what is there */
            tcp_opts(kf_cur_make(h + 20, avail - 20), t);
            return KF_DEC_TRUNC;
        }
        if (hl == 32 && o.p[0] == 1 && o.p[1] == 1 && o.p[2] == 8 && o.p[3] == 10) {
            /* the usual layout of established-connection segments: NOP NOP TS */
            t->tsval = kf_ld_be32(o.p + 4);
            t->tsecr = kf_ld_be32(o.p + 8);
            t->has_ts = 1;
        } else if (hl > 20) tcp_opts(o, t);
        out->payload = c.p;
        out->paylen = (uint32_t)kf_cur_left(&c);
        out->wire_paylen = wire > hl ? wire - hl : 0;
        if (out->paylen > out->wire_paylen) out->paylen = out->wire_paylen;
        return KF_DEC_OK;
    }
    case 17: case 136: {   /* UDP, UDP-Lite (same header) */
        const uint8_t *h = kf_cur_take(&c, 8);
        if (!h) return KF_DEC_TRUNC;
        out->sport = kf_ld_be16(h);
        out->dport = kf_ld_be16(h + 2);
        out->udp_len = kf_ld_be16(h + 4);
        uint32_t ul = out->udp_len;
        if (ul == 0 || out->proto == 136) ul = wire;   /* jumbogram / UDP-Lite coverage */
        if (ul < 8) return KF_DEC_BAD;
        out->payload = c.p;
        out->wire_paylen = ul - 8;
        out->paylen = (uint32_t)kf_cur_left(&c);
        if (out->paylen > out->wire_paylen) out->paylen = out->wire_paylen;
        return KF_DEC_OK;
    }
    case 132: {   /* SCTP: common header, then chunks (type, flags, length; padded to 4) */
        const uint8_t *h = kf_cur_take(&c, 12);
        if (!h) return KF_DEC_TRUNC;
        out->sport = kf_ld_be16(h);
        out->dport = kf_ld_be16(h + 2);
        out->sctp_vtag = kf_ld_be32(h + 4);
        out->sctp_checksum = kf_ld_be32(h + 8);
        out->payload = c.p;
        out->paylen = (uint32_t)kf_cur_left(&c);
        out->wire_paylen = wire > 12 ? wire - 12 : 0;
        if (out->paylen > out->wire_paylen) out->paylen = out->wire_paylen;
        const uint8_t *q = out->payload;
        uint32_t left = out->paylen;
        while (left >= 4 && out->sctp_nchunks < 0xFFFF) {
            uint16_t cl = kf_ld_be16(q + 2);
            if (!out->sctp_nchunks) { out->sctp_chunk_type = q[0]; out->sctp_chunk_flags = q[1]; out->sctp_chunk_len = cl; }
            out->sctp_nchunks++;
            if (cl < 4) break;   /* malformed: counted, not walked past */
            uint32_t step = ((uint32_t)cl + 3u) & ~3u;
            if (step >= left) break;
            q += step; left -= step;
        }
        return KF_DEC_OK;
    }
    case 1: case 58: {
        const uint8_t *h = kf_cur_take(&c, 4);
        if (!h) return KF_DEC_TRUNC;
        out->icmp_type = h[0];
        out->icmp_code = h[1];
        if (!kf_cur_take(&c, 4)) return KF_DEC_TRUNC;
        out->payload = c.p;
        out->paylen = (uint32_t)kf_cur_left(&c);
        out->wire_paylen = wire > 8 ? wire - 8 : 0;
        if (out->paylen > out->wire_paylen) out->paylen = out->wire_paylen;
        if (out->proto == 1 ? icmp_is_error4(h[0]) : icmp_is_error6(h[0])) {
            if (out->paylen > 0) { out->icmp_inner = out->payload; out->icmp_inner_len = out->paylen; }
        }
        return KF_DEC_OK;
    }
    default:
        out->payload = p;
        out->paylen = avail < wire ? avail : wire;
        out->wire_paylen = wire;
        return KF_DEC_OK;
    }
}

/* ---------- reassembly ---------- */

static frag *frag_find(kf_decoder *d, uint8_t ver, const kf_l4 *out, uint32_t id, uint8_t proto, int64_t ts)
{
    frag *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < FR_SLOTS; i++) {
        frag *f = &d->slots[i];
        /* (unsigned difference: capture times come from the file and may be anything) */
        if (f->used && ts > f->first_ts && (uint64_t)ts - (uint64_t)f->first_ts > (uint64_t)FR_TIMEOUT_NS) {
            frag_drop(d, f);
            d->st.expired++;
        }
        if (!f->used) { if (!free_slot) free_slot = f; continue; }
        if (f->ver == ver && f->id == id && f->proto == proto && kf_addr_eq(&f->src, &out->src) &&
            kf_addr_eq(&f->dst, &out->dst))
            return f;
        if (!oldest || f->first_ts < oldest->first_ts) oldest = f;
    }
    frag *f = free_slot;
    if (!f) { frag_drop(d, oldest); d->st.dropped_mem++; f = oldest; }
    f->used = 1; f->ver = ver; f->proto = proto; f->id = id;
    f->src = out->src; f->dst = out->dst;
    f->first_ts = ts;
    return f;
}

/* Adds [off, off+len) of payload; first fragment wins on overlap (bytes already there are kept).
 * Returns 1 when the datagram is complete, 0 held, -1 dropped (bad or over the limits). */
static int frag_add(kf_decoder *d, frag *f, uint32_t off, const uint8_t *p, uint32_t len, int more)
{
    if (more) len &= ~7u;   /* a non-last fragment carries whole 8-byte units */
    uint32_t end = off + len;
    if (end > FR_MAXDATA || (f->have_last && end > f->total) || (!more && f->have_last && end != f->total)) {
        frag_drop(d, f); return -1;
    }
    if (end > f->cap) {
        uint32_t nc = f->cap ? f->cap : 2048;
        while (nc < end) nc *= 2;
        if (nc > FR_MAXDATA) nc = FR_MAXDATA;
        if (d->mem + (nc - f->cap) > FR_MEMCAP) { d->st.dropped_mem++; frag_drop(d, f); return -1; }
        uint8_t *nd = realloc(f->data, nc);
        if (!nd) { frag_drop(d, f); return -1; }
        d->mem += nc - f->cap;
        f->data = nd; f->cap = nc;
    }
    for (uint32_t u = off / 8; u * 8 < end; u++) {
        if (f->bits[u >> 3] & (1u << (u & 7))) continue;
        uint32_t a = u * 8, b = a + 8 < end ? a + 8 : end;
        memcpy(f->data + a, p + (a - off), b - a);
        f->bits[u >> 3] |= (uint8_t)(1u << (u & 7));
        f->units++;
    }
    if (!more) {
        if (f->have_last == 0) {
            f->have_last = 1; f->total = end;
            /* units beyond the end (from overlapping junk) cannot exist: end checks above */
        }
    }
    return f->have_last && f->have_first && f->units == (f->total + 7) / 8;
}

/* ---------- IP ---------- */

static int decode_ip6_chain(kf_decoder *d, kf_cur c, uint8_t nh, const uint8_t *ip, uint32_t wire_left,
                            int64_t ts, kf_l4 *out, int depth);

static int decode_ip4(kf_decoder *d, kf_cur c, int64_t ts, kf_l4 *out, int depth)
{
    const uint8_t *ip = c.p;
    if (kf_cur_left(&c) >= 1 && (ip[0] >> 4) != 4) return KF_DEC_BAD;
    const uint8_t *h = kf_cur_take(&c, 20);
    if (!h) return KF_DEC_TRUNC;
    uint32_t hl = (uint32_t)(h[0] & 15) * 4;
    uint32_t tot = kf_ld_be16(h + 2);
    out->ipver = 4;
    out->l3 = ip;
    out->ip_id = kf_ld_be16(h + 4);
    uint16_t fo = kf_ld_be16(h + 6);
    out->ttl = h[8];
    out->proto = h[9];
    out->src.family = out->dst.family = 4;
    memcpy(out->src.a, h + 12, 4);
    memcpy(out->dst.a, h + 16, 4);
    if (hl < 20) return KF_DEC_BAD;
    size_t have = (size_t)(c.end - ip);
    if (tot == 0) tot = (uint32_t)have;   /* TSO: length left 0 by the capturing NIC */
    if (tot < hl) return KF_DEC_BAD;
    out->ip_total_len = tot;
    out->l3len = (uint32_t)(have < tot ? have : tot);
    if (!kf_cur_take(&c, hl - 20)) return KF_DEC_TRUNC;   /* options */
    const uint8_t *pl = c.p;
    uint32_t avail = out->l3len - hl, wire = tot - hl;
    uint32_t off = (uint32_t)(fo & 0x1fff) * 8;
    int more = (fo & 0x2000) != 0;
    if (off == 0 && !more) return decode_l4(out, pl, avail, wire);
    /* a fragment */
    if (!d || depth > 0) {
        out->fragment = 1;
        if (off == 0) return decode_l4(out, pl, avail, wire);   /* first fragment: its headers */
        return KF_DEC_HELD;
    }
    d->st.frags++;
    if (avail < wire) return KF_DEC_HELD;   /* fragment cut by the snap length: unusable */
    frag *f = frag_find(d, 4, out, out->ip_id, out->proto, ts);
    if (off == 0 && !f->have_first) {
        memcpy(f->hdr, ip, hl);
        f->hdrlen = hl;
        f->have_first = 1;
    }
    int rc = frag_add(d, f, off, pl, wire, more);
    if (rc <= 0) return KF_DEC_HELD;
    /* complete: rebuild the datagram as unfragmented */
    uint32_t n = f->hdrlen + f->total;
    memcpy(d->out, f->hdr, f->hdrlen);
    memcpy(d->out + f->hdrlen, f->data, f->total);
    if (n > 65535) { frag_drop(d, f); return KF_DEC_BAD; }
    d->out[2] = (uint8_t)(n >> 8); d->out[3] = (uint8_t)n;
    d->out[6] = 0; d->out[7] = 0;
    frag_drop(d, f);
    d->st.reassembled++;
    kf_l4 keep = *out;   /* L2 fields stay */
    memset(out, 0, sizeof *out);
    out->ethertype = keep.ethertype; out->nvlan = keep.nvlan;
    memcpy(out->vlan, keep.vlan, sizeof out->vlan);
    out->direction = keep.direction;
    int r2 = decode_ip4(d, kf_cur_make(d->out, n), ts, out, depth + 1);
    out->reassembled = 1;
    return r2;
}

static int decode_ip6(kf_decoder *d, kf_cur c, int64_t ts, kf_l4 *out, int depth)
{
    const uint8_t *ip = c.p;
    if (kf_cur_left(&c) >= 1 && (ip[0] >> 4) != 6) return KF_DEC_BAD;
    const uint8_t *h = kf_cur_take(&c, 40);
    if (!h) return KF_DEC_TRUNC;
    out->ipver = 6;
    out->l3 = ip;
    uint32_t plen = kf_ld_be16(h + 4);
    size_t have = (size_t)(c.end - ip);
    if (plen == 0) plen = (uint32_t)(have - 40);   /* jumbogram (or TSO): what was captured */
    out->ip_total_len = plen + 40;
    out->l3len = (uint32_t)(have < plen + 40u ? have : plen + 40u);
    out->ttl = h[7];
    out->src.family = out->dst.family = 6;
    memcpy(out->src.a, h + 8, 16);
    memcpy(out->dst.a, h + 24, 16);
    c.end = ip + out->l3len;
    return decode_ip6_chain(d, c, h[6], ip, plen, ts, out, depth);
}

/* Walks IPv6 extension headers from nh at c; wire_left = bytes of the datagram after c.p. */
static int decode_ip6_chain(kf_decoder *d, kf_cur c, uint8_t nh, const uint8_t *ip, uint32_t wire_left,
                            int64_t ts, kf_l4 *out, int depth)
{
    const uint8_t *nhp = ip + 6;   /* where the current next-header value sits */
    for (int guard = 0; guard < 32; guard++) {
        out->proto = nh;
        switch (nh) {
        case 0: case 43: case 60: case 135: case 139: case 140: case 51: {
            const uint8_t *e = kf_cur_take(&c, 2);
            if (!e) return KF_DEC_TRUNC;
            uint32_t len = nh == 51 ? ((uint32_t)e[1] + 2) * 4 : ((uint32_t)e[1] + 1) * 8;
            if (len > wire_left) return KF_DEC_BAD;
            if (!kf_cur_take(&c, len - 2)) return KF_DEC_TRUNC;
            wire_left -= len;
            nhp = e;
            nh = e[0];
            continue;
        }
        case 44: {
            const uint8_t *e = kf_cur_take(&c, 8);
            if (!e) return KF_DEC_TRUNC;
            if (wire_left < 8) return KF_DEC_BAD;
            wire_left -= 8;
            uint16_t fo = kf_ld_be16(e + 2);
            uint32_t off = fo & 0xfff8u;
            int more = fo & 1;
            uint32_t id = kf_ld_be32(e + 4);
            out->ip_id = (uint16_t)id;
            if (off == 0 && !more) { nhp = e; nh = e[0]; continue; }   /* atomic fragment (RFC 6946) */
            out->proto = e[0];
            uint32_t avail = (uint32_t)kf_cur_left(&c);
            if (!d || depth > 0) {
                out->fragment = 1;
                if (off == 0) { nh = e[0]; nhp = e; continue; }   /* first fragment: its headers */
                return KF_DEC_HELD;
            }
            d->st.frags++;
            if (avail < wire_left) return KF_DEC_HELD;
            frag *f = frag_find(d, 6, out, id, e[0], ts);
            if (off == 0 && !f->have_first) {
                uint32_t ul = (uint32_t)(e - ip);   /* unfragmentable part */
                if (ul > FR_MAXHDR) { frag_drop(d, f); return KF_DEC_HELD; }
                memcpy(f->hdr, ip, ul);
                f->hdrlen = ul;
                f->nh_off = (uint32_t)(nhp - ip);
                f->have_first = 1;
            }
            int rc = frag_add(d, f, off, c.p, wire_left, more);
            if (rc <= 0) return KF_DEC_HELD;
            uint32_t n = f->hdrlen + f->total;
            memcpy(d->out, f->hdr, f->hdrlen);
            memcpy(d->out + f->hdrlen, f->data, f->total);
            d->out[f->nh_off] = f->proto;   /* the header that named the fragment header */
            uint32_t pl = n - 40;
            if (pl > 65535) { frag_drop(d, f); return KF_DEC_BAD; }
            d->out[4] = (uint8_t)(pl >> 8); d->out[5] = (uint8_t)pl;
            frag_drop(d, f);
            d->st.reassembled++;
            kf_l4 keep = *out;
            memset(out, 0, sizeof *out);
            out->ethertype = keep.ethertype; out->nvlan = keep.nvlan;
            memcpy(out->vlan, keep.vlan, sizeof out->vlan);
            out->direction = keep.direction;
            int r2 = decode_ip6(d, kf_cur_make(d->out, n), ts, out, depth + 1);
            out->reassembled = 1;
            return r2;
        }
        case 59:   /* no next header */
            out->payload = c.p; out->paylen = 0; out->wire_paylen = 0;
            return KF_DEC_OK;
        default:
            return decode_l4(out, c.p, (uint32_t)kf_cur_left(&c), wire_left);
        }
    }
    return KF_DEC_BAD;
}

static int decode_l3(kf_decoder *d, uint16_t et, kf_cur c, int64_t ts, kf_l4 *out)
{
    out->ethertype = et;
    if (et == 0x0800) return decode_ip4(d, c, ts, out, 0);
    if (et == 0x86DD) return decode_ip6(d, c, ts, out, 0);
    return KF_DEC_NOT_IP;
}

static int decode_raw(kf_decoder *d, kf_cur c, int64_t ts, kf_l4 *out)
{
    if (kf_cur_left(&c) < 1) return KF_DEC_TRUNC;
    uint8_t v = c.p[0] >> 4;
    if (v == 4) return decode_l3(d, 0x0800, c, ts, out);
    if (v == 6) return decode_l3(d, 0x86DD, c, ts, out);
    return KF_DEC_NOT_IP;
}

/* ethertype chain with VLAN tags (802.1Q 0x8100, 802.1ad 0x88A8, old QinQ 0x9100) */
static int decode_ethertype(kf_decoder *d, uint16_t et, kf_cur c, int64_t ts, kf_l4 *out)
{
    while (et == 0x8100 || et == 0x88A8 || et == 0x9100) {
        uint16_t tci = kf_be16(&c);
        uint16_t inner = kf_be16(&c);
        if (c.err) { out->ethertype = et; return KF_DEC_TRUNC; }
        if (out->nvlan < 2) out->vlan[out->nvlan] = tci & 0x0fff;
        if (out->nvlan < 255) out->nvlan++;
        et = inner;
    }
    return decode_l3(d, et, c, ts, out);
}

static inline uint8_t sll_dir(uint16_t pkttype)
{
    return pkttype == 4 ? KF_DIR_OUTBOUND : pkttype <= 3 ? KF_DIR_INBOUND : KF_DIR_UNKNOWN;
}

/* Zeroes *out with plain vector stores: GCC turns a memset of this size into "rep stos", whose
 * start-up cost was 40% of kf_decode in bench/read.sh. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static void l4_zero(kf_l4 *out)
{
    typedef uint64_t v16 __attribute__((vector_size(16), aligned(1), may_alias));
    unsigned char *p = (unsigned char *)out;
    size_t i = 0;
    /* unrolled: the loop's counting was two thirds of its instructions (one packet each) */
#pragma GCC unroll 64
    for (; i + 16 <= sizeof *out; i += 16) *(v16 *)(p + i) = (v16){ 0, 0 };
    for (; i < sizeof *out; i++) p[i] = 0;
}

int kf_decode(kf_decoder *d, int linktype, const uint8_t *data, uint32_t caplen, int64_t ts_ns, kf_l4 *out)
{
    l4_zero(out);
    kf_cur c = kf_cur_make(data, caplen);
    switch (linktype) {
    case KF_LT_EN10MB: {
        const uint8_t *h = kf_cur_take(&c, 14);
        if (!h) return KF_DEC_TRUNC;
        uint16_t et = kf_ld_be16(h + 12);
        if (et < 0x0600) { out->ethertype = et; return KF_DEC_NOT_IP; }   /* 802.3 length: LLC */
        return decode_ethertype(d, et, c, ts_ns, out);
    }
    case KF_LT_LINUX_SLL: {
        const uint8_t *h = kf_cur_take(&c, 16);
        if (!h) return KF_DEC_TRUNC;
        out->direction = sll_dir(kf_ld_be16(h));
        uint16_t hatype = kf_ld_be16(h + 2), et = kf_ld_be16(h + 14);
        if (hatype == 778 /* ARPHRD_IPGRE */ && et == 0x6558) return KF_DEC_NOT_IP;
        return decode_ethertype(d, et, c, ts_ns, out);
    }
    case KF_LT_LINUX_SLL2: {
        const uint8_t *h = kf_cur_take(&c, 20);
        if (!h) return KF_DEC_TRUNC;
        out->direction = sll_dir(h[10]);
        return decode_ethertype(d, kf_ld_be16(h), c, ts_ns, out);
    }
    case KF_LT_NULL: case KF_LT_LOOP: {
        const uint8_t *h = kf_cur_take(&c, 4);
        if (!h) return KF_DEC_TRUNC;
        /* the AF value is in the capturing host's byte order (NULL) or network order (LOOP);
         * files exist with either: take the reading whose value is small */
        uint32_t le = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        uint32_t af = (le & 0xFFFF0000u) ? kf_ld_be32(h) : le;
        if (af == 2) return decode_l3(d, 0x0800, c, ts_ns, out);
        if (af == 10 || af == 24 || af == 28 || af == 30) return decode_l3(d, 0x86DD, c, ts_ns, out);
        return KF_DEC_NOT_IP;
    }
    case KF_LT_RAW: case 12: case 14:   /* DLT_RAW as some systems number it in files */
        return decode_raw(d, c, ts_ns, out);
    case KF_LT_IPV4:
        return decode_l3(d, 0x0800, c, ts_ns, out);
    case KF_LT_IPV6:
        return decode_l3(d, 0x86DD, c, ts_ns, out);
    default:
        return KF_DEC_NOT_IP;
    }
}

int kf_decode_ip(const uint8_t *data, uint32_t len, kf_l4 *out)
{
    memset(out, 0, sizeof *out);
    return decode_raw(NULL, kf_cur_make(data, len), 0, out);
}
