/* Unit tests for lib/kf_pcapng: builds files in memory and checks their bytes block by block
 * (layout, option padding, little-endian, ns timestamps), the sticky write error, the libpcap
 * pcap output, and a write → read round trip through kf_capread.
 *
 * Also a helper for tests/bats/pcapng_write.bats (tshark/capinfos as the oracle):
 *   test_pcapng --write-sample OUT      writes a fixed demo pcapng (2 interfaces, comments,
 *                                       directions, NRB, DSB, ISB)
 *   test_pcapng --write-pcap OUT        writes the same packets as ns pcap through kf_pcap_out
 *   test_pcapng --roundtrip IN OUT      reads IN with kf_capread and writes everything to OUT
 *   test_pcapng --dump-dsb IN           prints the bytes of every DSB in IN */
#include "t.h"
#include "kf_capread.h"
#include "kf_pcapng.h"
#include "kf_time.h"
#include <pcap/pcap.h>
#include <errno.h>
#include <unistd.h>

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* ---- the demo capture: real-looking Ethernet/IPv4/TCP and UDP frames ---- */

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += (uint32_t)(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Ethernet + IPv4 + TCP or UDP with correct checksums; returns the frame length. */
static size_t mkframe(uint8_t *f, int udp, const uint8_t src[4], const uint8_t dst[4], uint16_t sport,
                      uint16_t dport, uint8_t tcpflags, uint32_t seq, const char *payload)
{
    size_t pl = payload ? strlen(payload) : 0, l4 = udp ? 8 : 20, iplen = 20 + l4 + pl;
    static const uint8_t mac1[6] = { 0x02, 0x42, 0x0a, 0x00, 0x35, 0x65 }, mac2[6] = { 0x02, 0x42, 0x0a, 0x00, 0x35, 0xcd };
    memcpy(f, mac2, 6);
    memcpy(f + 6, mac1, 6);
    f[12] = 0x08; f[13] = 0x00;
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45; ip[2] = (uint8_t)(iplen >> 8); ip[3] = (uint8_t)iplen;
    ip[4] = 0x12; ip[5] = 0x34; ip[6] = 0x40; ip[8] = 64; ip[9] = udp ? 17 : 6;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    uint16_t c = csum(ip, 20, 0);
    ip[10] = (uint8_t)(c >> 8); ip[11] = (uint8_t)c;
    uint8_t *l = ip + 20;
    memset(l, 0, l4);
    l[0] = (uint8_t)(sport >> 8); l[1] = (uint8_t)sport; l[2] = (uint8_t)(dport >> 8); l[3] = (uint8_t)dport;
    if (udp) {
        l[4] = (uint8_t)((8 + pl) >> 8); l[5] = (uint8_t)(8 + pl);
    } else {
        l[4] = (uint8_t)(seq >> 24); l[5] = (uint8_t)(seq >> 16); l[6] = (uint8_t)(seq >> 8); l[7] = (uint8_t)seq;
        l[12] = 0x50; l[13] = tcpflags; l[14] = 0xfa; l[15] = 0xf0;
    }
    if (pl) memcpy(l + l4, payload, pl);
    /* pseudo-header checksum */
    uint8_t ph[12];
    memcpy(ph, src, 4); memcpy(ph + 4, dst, 4);
    ph[8] = 0; ph[9] = udp ? 17 : 6; ph[10] = (uint8_t)((l4 + pl) >> 8); ph[11] = (uint8_t)(l4 + pl);
    uint32_t s = 0;
    for (int i = 0; i < 12; i += 2) s += (uint32_t)(ph[i] << 8 | ph[i + 1]);
    c = csum(l, l4 + pl, s);
    if (udp) { l[6] = (uint8_t)(c >> 8); l[7] = (uint8_t)c; }
    else { l[16] = (uint8_t)(c >> 8); l[17] = (uint8_t)c; }
    return 14 + iplen;
}

#define DEMO_T0 1773509025123456789LL   /* 2026-03-14T17:23:45.123456789Z */
static const char demo_keylog[] =
    "CLIENT_RANDOM 0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a "
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f\n";

typedef struct { uint8_t f[256]; size_t len; int64_t ts; uint32_t iface; int dir; const char *comment; } demo_pkt;

static int demo_packets(demo_pkt *p)
{
    static const uint8_t orders[4] = { 10, 0, 53, 101 }, payment[4] = { 10, 0, 53, 205 }, dns[4] = { 10, 0, 53, 10 };
    int n = 0;
    p[n].len = mkframe(p[n].f, 0, orders, payment, 40312, 8080, 0x02, 1000, NULL);
    p[n].ts = DEMO_T0; p[n].iface = 0; p[n].dir = KF_DIR_OUTBOUND; p[n].comment = "SYN from orders"; n++;
    p[n].len = mkframe(p[n].f, 0, payment, orders, 8080, 40312, 0x12, 5000, NULL);
    p[n].ts = DEMO_T0 + 1001; p[n].iface = 1; p[n].dir = KF_DIR_INBOUND; p[n].comment = NULL; n++;
    p[n].len = mkframe(p[n].f, 0, orders, payment, 40312, 8080, 0x18, 1001,
                       "POST /pay HTTP/1.1\r\nHost: payment\r\nContent-Length: 0\r\n\r\n");
    p[n].ts = DEMO_T0 + 2000002; p[n].iface = 0; p[n].dir = KF_DIR_OUTBOUND;
    p[n].comment = "request \xe2\x86\x92 payment (UTF-8 comment)"; n++;
    p[n].len = mkframe(p[n].f, 1, orders, dns, 53001, 53, 0, 0, NULL);
    p[n].ts = DEMO_T0 + 3000000003LL; p[n].iface = 1; p[n].dir = KF_DIR_UNKNOWN; p[n].comment = NULL; n++;
    return n;
}

static int write_demo(FILE *f)
{
    kf_shb_opts shb = { "x86_64 test rig", "Linux 6.1 (demo)", "kforensics test_pcapng", "kforensics-node: worker-1" };
    kf_pcapng_w *w = kf_pcapng_open(f, &shb);
    if (!w) return -1;
    kf_idb_opts i0 = { KF_LT_EN10MB, 262144, "worker-1/eth0", "node worker-1 uplink", "tcp port 8080", 0 };
    kf_idb_opts i1 = { KF_LT_EN10MB, 65535, "worker-1/cni0", "pod bridge", NULL, 9, "kforensics-capture: ebpf" };
    if (kf_pcapng_add_iface(w, &i0) != 0 || kf_pcapng_add_iface(w, &i1) != 1) { kf_pcapng_close(w); return -1; }
    int fam[2] = { 4, 6 };
    uint8_t addr[2][16] = { { 10, 0, 53, 205 }, { 0xfd, 0, [15] = 0x05 } };
    const char *names[2] = { "payment-7d9f8b6c5-x2x7k.shop", "payment-v6.shop" };
    kf_pcapng_write_nrb(w, 2, fam, (const uint8_t (*)[16])addr, names);
    kf_pcapng_write_dsb(w, 0x544c534b, demo_keylog, (uint32_t)strlen(demo_keylog));
    demo_pkt p[8];
    int n = demo_packets(p);
    for (int i = 0; i < n; i++) {
        kf_epb e = { .iface = p[i].iface, .ts_ns = p[i].ts, .caplen = (uint32_t)p[i].len, .origlen = (uint32_t)p[i].len,
                     .data = p[i].f, .flags = (uint32_t)p[i].dir, .has_flags = p[i].dir != 0,
                     .dropcount = (uint64_t)i, .has_dropcount = i == 2, .comment = p[i].comment };
        kf_pcapng_write_epb(w, &e);
    }
    kf_pcapng_write_isb(w, 0, DEMO_T0 + 4 * KF_NS_PER_SEC, DEMO_T0 - KF_NS_PER_SEC, 100, 1, 2, 97);
    kf_pcapng_write_isb(w, 1, DEMO_T0 + 4 * KF_NS_PER_SEC, 0, 50, UINT64_MAX, UINT64_MAX, 50);
    return kf_pcapng_close(w);
}

static int write_demo_pcap(FILE *f)
{
    char err[256];
    kf_pcap_out *o = kf_pcap_out_open(f, KF_LT_EN10MB, 0, err, sizeof err);
    if (!o) { fprintf(stderr, "test_pcapng: %s\n", err); return -1; }
    demo_pkt p[8];
    int n = demo_packets(p);
    for (int i = 0; i < n; i++) kf_pcap_out_write(o, p[i].ts, (uint32_t)p[i].len, (uint32_t)p[i].len, p[i].f);
    return kf_pcap_out_close(o);
}

/* ---- read → write: every interface, packet, comment, flag, NRB, DSB, ISB ---- */

static int roundtrip(const char *in, const char *out)
{
    char err[512];
    kf_reader *r = kf_reader_open(in, err, sizeof err);
    if (!r) { fprintf(stderr, "test_pcapng: %s: %s\n", in, err); return 2; }
    FILE *f = fopen(out, "wb");
    if (!f) { perror(out); kf_reader_close(r); return 2; }
    kf_pkt pkt;
    int rc;
    /* read the first packet (or the end) so the first section's header is known */
    rc = kf_reader_next(r, &pkt);
    kf_shb_opts shb = { 0 };
    if (kf_reader_section_count(r) > 0) {
        const kf_section *s = kf_reader_section(r, 0);
        shb.hardware = s->hardware; shb.os = s->os ? s->os : ""; shb.userappl = s->userappl; shb.comment = s->comment;
    } else {
        shb.os = "";
    }
    kf_pcapng_w *w = kf_pcapng_open(f, &shb);
    size_t nif = 0, nnrb = 0, ndsb = 0, cur_section = 0;
    int *map = NULL;   /* reader's global interface id -> id in our current section */
    for (;;) {
        /* interfaces, names and secrets seen so far, before the packet that may use them;
         * a new input section starts a new output section so interface ids stay the same */
        while (nif < kf_reader_iface_count(r)) {
            const kf_iface *ifc = kf_reader_iface(r, (uint32_t)nif);
            if (ifc->section != cur_section) {
                const kf_section *s = kf_reader_section(r, ifc->section);
                kf_shb_opts o = { s->hardware, s->os ? s->os : "", s->userappl, s->comment };
                kf_pcapng_new_section(w, &o);
                cur_section = ifc->section;
            }
            kf_idb_opts o = { ifc->linktype, ifc->snaplen, ifc->name, ifc->description, ifc->filter, 9 };
            if (kf_reader_format(r) == KF_FMT_PCAP) o.snaplen = kf_reader_snaplen(r);
            int *nm = realloc(map, (nif + 1) * sizeof *map);
            if (!nm) break;
            map = nm;
            map[nif] = kf_pcapng_add_iface(w, &o);
            nif++;
        }
        if (kf_reader_format(r) == KF_FMT_PCAP && nif == 0 && rc == 1) {
            kf_idb_opts o = { pkt.linktype, kf_reader_snaplen(r), NULL, NULL, NULL, 9 };
            map = calloc(1, sizeof *map);
            if (map) map[0] = kf_pcapng_add_iface(w, &o);
            nif++;
        }
        if (kf_reader_nrb_count(r) > nnrb) {
            size_t n = kf_reader_nrb_count(r) - nnrb;
            int *fam = calloc(n, sizeof *fam);
            uint8_t (*addr)[16] = calloc(n, 16);
            const char **names = calloc(n, sizeof *names);
            for (size_t i = 0; fam && addr && names && i < n; i++) {
                const kf_nrb_entry *e = kf_reader_nrb(r, nnrb + i);
                fam[i] = e->family;
                memcpy(addr[i], e->addr, 16);
                names[i] = e->name;
            }
            if (fam && addr && names) kf_pcapng_write_nrb(w, n, fam, (const uint8_t (*)[16])addr, names);
            free(fam); free(addr); free(names);
            nnrb += n;
        }
        while (ndsb < kf_reader_dsb_count(r)) {
            const kf_dsb *d = kf_reader_dsb(r, ndsb++);
            kf_pcapng_write_dsb(w, d->type, d->data, d->len);
        }
        if (rc != 1) break;
        if (pkt.iface >= nif || !map) { fprintf(stderr, "test_pcapng: %s: packet on unknown interface\n", in); rc = -1; break; }
        kf_epb e = { .iface = (uint32_t)map[pkt.iface], .ts_ns = pkt.ts_ns, .caplen = pkt.caplen, .origlen = pkt.origlen,
                     .data = pkt.data, .flags = pkt.flags, .has_flags = pkt.has_flags,
                     .dropcount = pkt.dropcount, .has_dropcount = pkt.dropcount != 0, .comment = pkt.comment };
        if (kf_pcapng_write_epb(w, &e) < 0) {
            fprintf(stderr, "test_pcapng: %s: frame %llu: %s\n", out, (unsigned long long)pkt.frame, kf_pcapng_error(w));
            rc = -1;
            break;
        }
        rc = kf_reader_next(r, &pkt);
    }
    int ret = 0;
    if (rc < 0 && kf_reader_error(r)[0]) { fprintf(stderr, "test_pcapng: %s: %s\n", in, kf_reader_error(r)); ret = 1; }
    for (size_t i = 0; ret == 0 && i < kf_reader_isb_count(r); i++) {
        const kf_isb *s = kf_reader_isb(r, i);
        const kf_iface *ifc = s->iface < nif ? kf_reader_iface(r, s->iface) : NULL;
        if (ifc && ifc->section == cur_section && map[s->iface] >= 0 && s->ts_ns >= 0)
            kf_pcapng_write_isb(w, (uint32_t)map[s->iface], s->ts_ns, 0, s->ifrecv, s->ifdrop, s->osdrop, s->usrdeliv);
    }
    if (kf_pcapng_close(w) < 0) ret = 1;
    if (fclose(f) != 0) ret = 1;
    kf_reader_close(r);
    free(map);
    return ret;
}

/* ---- byte-level unit tests ---- */

static uint8_t *build(size_t *len, int (*fn)(kf_pcapng_w *, void *), void *arg, kf_shb_opts *shb)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    kf_pcapng_w *w = kf_pcapng_open(f, shb);
    int r = fn ? fn(w, arg) : 0;
    int c = kf_pcapng_close(w);
    fclose(f);
    *len = n;
    if (r < 0 || c < 0) { free(buf); return NULL; }
    return (uint8_t *)buf;
}

static int b_iface_epb(kf_pcapng_w *w, void *arg)
{
    kf_idb_opts o = { KF_LT_EN10MB, 0, "eth0", NULL, NULL, 0 };
    if (kf_pcapng_add_iface(w, &o) != 0) return -1;
    uint8_t data[5] = { 1, 2, 3, 4, 5 };
    kf_epb e = { .iface = 0, .ts_ns = 0x0000000100000002LL, .caplen = 5, .origlen = 60, .data = data,
                 .flags = 2, .has_flags = 1, .comment = "hi" };
    return kf_pcapng_write_epb(w, &e);
}

static int b_bad_iface(kf_pcapng_w *w, void *arg)
{
    kf_epb e = { .iface = 3, .ts_ns = 1 };
    int r = kf_pcapng_write_epb(w, &e);
    *(int *)arg = r;
    strncpy((char *)arg + sizeof(int), kf_pcapng_error(w), 60);
    return 0;
}

/* walks blocks; returns count and checks every length is aligned and matched by its trailer */
static int walk(const uint8_t *p, size_t n, uint32_t *types, int max)
{
    size_t off = 0;
    int k = 0;
    while (off + 12 <= n) {
        uint32_t len = rd32(p + off + 4);
        if (len < 12 || len % 4 || off + len > n || rd32(p + off + len - 4) != len) return -1;
        if (k < max) types[k] = rd32(p + off);
        k++;
        off += len;
    }
    return off == n ? k : -1;
}

static void unit_tests(void)
{
    size_t n;
    kf_shb_opts shb = { "hw", "os1", "app", NULL };
    uint8_t *b = build(&n, NULL, NULL, &shb);
    /* SHB: 28 fixed + hw(4+4) + os(4+4) + app(4+4) + end(4) = 56 */
    static const uint8_t want_shb[] = {
        0x0a, 0x0d, 0x0d, 0x0a, 56, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        2, 0, 2, 0, 'h', 'w', 0, 0,
        3, 0, 3, 0, 'o', 's', '1', 0,
        4, 0, 3, 0, 'a', 'p', 'p', 0,
        0, 0, 0, 0, 56, 0, 0, 0 };
    T_OK(b && n == sizeof want_shb && memcmp(b, want_shb, n) == 0, "SHB bytes exactly (magic, version, options, padding)");
    free(b);

    b = build(&n, b_iface_epb, NULL, &shb);
    uint32_t types[8];
    T_EQ_INT(walk(b, n, types, 8), 3, "SHB + IDB + EPB, each length aligned and repeated");
    T_OK(types[0] == 0x0A0D0D0A && types[1] == 1 && types[2] == 6, "block types in order");
    const uint8_t *idb = b + 56;
    /* IDB: 8 hdr + linktype/res/snaplen 8 + if_name(4+4) + if_tsresol(4+4) + end 4 + trailer 4 = 40 */
    T_EQ_INT(rd32(idb + 4), 40, "IDB length");
    T_EQ_INT(rd16(idb + 8), 1, "IDB link type EN10MB");
    T_EQ_INT(rd32(idb + 12), 262144, "IDB default snaplen");
    T_OK(rd16(idb + 16) == 2 && rd16(idb + 18) == 4 && memcmp(idb + 20, "eth0", 4) == 0, "if_name option");
    T_OK(rd16(idb + 24) == 9 && rd16(idb + 26) == 1 && idb[28] == 9 && idb[29] == 0, "if_tsresol = 9, padded");
    const uint8_t *epb = idb + 40;
    /* EPB: 8 hdr + 20 fixed + 8 data(5 padded) + comment(4+4) + flags(4+4) + end 4 + trailer 4 = 60 */
    T_EQ_INT(rd32(epb + 4), 60, "EPB length");
    T_OK(rd32(epb + 12) == 1 && rd32(epb + 16) == 2, "EPB timestamp high/low words in ns");
    T_OK(rd32(epb + 20) == 5 && rd32(epb + 24) == 60, "EPB caplen/origlen");
    T_OK(memcmp(epb + 28, "\1\2\3\4\5\0\0\0", 8) == 0, "EPB data padded with zeros");
    T_OK(rd16(epb + 36) == 1 && rd16(epb + 38) == 2 && memcmp(epb + 40, "hi\0\0", 4) == 0, "EPB opt_comment");
    T_OK(rd16(epb + 44) == 2 && rd16(epb + 46) == 4 && rd32(epb + 48) == 2, "EPB epb_flags outbound");
    T_OK(rd32(epb + 52) == 0, "EPB opt_endofopt");
    free(b);

    char res[80] = { 0 };
    b = build(&n, b_bad_iface, res, &shb);
    T_EQ_INT(*(int *)res, -1, "EPB on an interface not added fails");
    T_OK(strstr(res + sizeof(int), "not added") != NULL, "and says so: %s", res + sizeof(int));
    free(b);

    /* full demo: ISB option layout, NRB records, DSB */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    T_EQ_INT(write_demo(f), 0, "demo file written");
    fclose(f);
    uint32_t t[16];
    int k = walk((uint8_t *)buf, len, t, 16);
    T_EQ_INT(k, 11, "demo has SHB, 2 IDB, NRB, DSB, 4 EPB, 2 ISB");
    T_OK(k == 11 && t[3] == 4 && t[4] == 10 && t[5] == 6 && t[8] == 6 && t[9] == 5 && t[10] == 5, "NRB, DSB, EPBs, ISB order");
    /* find the DSB and check type, length and content */
    size_t off = 0;
    int found_dsb = 0, isb_ok = 0, nrb_ok = 0;
    while (off + 12 <= len) {
        const uint8_t *blk = (uint8_t *)buf + off;
        uint32_t bl = rd32(blk + 4);
        if (rd32(blk) == 10 && rd32(blk + 8) == 0x544c534b && rd32(blk + 12) == strlen(demo_keylog) &&
            memcmp(blk + 16, demo_keylog, strlen(demo_keylog)) == 0)
            found_dsb = 1;
        if (rd32(blk) == 4 && rd16(blk + 8) == 1 && rd16(blk + 10) == 4 + 29 &&
            memcmp(blk + 12, "\x0a\x00\x35\xcd", 4) == 0 && strcmp((char *)blk + 16, "payment-7d9f8b6c5-x2x7k.shop") == 0)
            nrb_ok = 1;
        if (rd32(blk) == 5 && !isb_ok) {
            /* first ISB: iface 0, options starttime, endtime, ifrecv 100 … */
            uint64_t end = DEMO_T0 + 4 * KF_NS_PER_SEC;
            isb_ok = rd32(blk + 8) == 0 && rd32(blk + 12) == (uint32_t)(end >> 32) && rd32(blk + 16) == (uint32_t)end &&
                     rd16(blk + 20) == 2 && rd16(blk + 22) == 8 && rd16(blk + 32) == 3 && rd16(blk + 44) == 4 &&
                     rd32(blk + 48) == 100;
        }
        off += bl;
    }
    T_OK(found_dsb, "DSB carries the TLS key log bytes");
    T_OK(nrb_ok, "NRB IPv4 record with name");
    T_OK(isb_ok, "ISB with starttime, endtime, ifrecv");

    /* read back with kf_capread */
    char err[256];
    kf_reader *r = kf_reader_open_mem(buf, len, err, sizeof err);
    T_OK(r != NULL, "kf_capread opens the demo");
    if (r) {
        kf_pkt p;
        int np = 0, ok = 1;
        demo_pkt d[8];
        int nd = demo_packets(d);
        while (kf_reader_next(r, &p) == 1) {
            if (np < nd && (p.ts_ns != d[np].ts || p.iface != d[np].iface || p.caplen != d[np].len ||
                            memcmp(p.data, d[np].f, p.caplen) != 0 || (int)(p.flags & 3) != d[np].dir ||
                            (d[np].comment ? !p.comment || strcmp(p.comment, d[np].comment) : p.comment != NULL)))
                ok = 0;
            np++;
        }
        T_OK(ok && np == nd, "every packet reads back with ns time, iface, data, direction, comment");
        T_EQ_INT(kf_reader_iface_count(r), 2, "two interfaces read back");
        const kf_iface *i0 = kf_reader_iface(r, 0);
        T_OK(i0 && i0->name && strcmp(i0->name, "worker-1/eth0") == 0 && i0->filter &&
             strcmp(i0->filter, "tcp port 8080") == 0 && i0->tsresol == 9, "interface name, filter, tsresol");
        const kf_iface *i1 = kf_reader_iface(r, 1);
        T_OK(i0 && !i0->comment && i1 && i1->comment && strcmp(i1->comment, "kforensics-capture: ebpf") == 0,
             "interface comment read back (only where one was written)");
        T_EQ_INT(kf_reader_dsb_count(r), 1, "one DSB read back");
        T_EQ_INT(kf_reader_nrb_count(r), 2, "two NRB entries read back");
        T_EQ_INT(kf_reader_isb_count(r), 2, "two ISBs read back");
        const kf_isb *is = kf_reader_isb_count(r) ? kf_reader_isb(r, 0) : NULL;
        T_OK(is && is->ifrecv == 100 && is->ifdrop == 1 && is->osdrop == 2 && is->usrdeliv == 97, "ISB counters read back");
        const kf_section *s = kf_reader_section(r, 0);
        T_OK(s && s->comment && strcmp(s->comment, "kforensics-node: worker-1") == 0, "SHB comment read back");
        kf_reader_close(r);
    }
    free(buf);

    /* sticky write error: a stream that fails */
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        setvbuf(full, NULL, _IONBF, 0);
        kf_pcapng_w *w = kf_pcapng_open(full, &shb);
        kf_idb_opts o = { KF_LT_RAW, 0, NULL, NULL, NULL, 0 };
        kf_pcapng_add_iface(w, &o);
        uint8_t big[70000] = { 0x45 };
        kf_epb e = { .iface = 0, .ts_ns = 1, .caplen = sizeof big, .origlen = sizeof big, .data = big };
        int r1 = 0;
        for (int i = 0; i < 8; i++) r1 |= kf_pcapng_write_epb(w, &e);
        T_OK(r1 == -1 || kf_pcapng_flush(w) == -1, "write error on a full device is reported");
        T_OK(strstr(kf_pcapng_error(w), "No space") != NULL, "error text: %s", kf_pcapng_error(w));
        errno = 0;
        T_EQ_INT(kf_pcapng_close(w), -1, "close reports the earlier failure");
        T_EQ_INT(errno, ENOSPC, "close leaves the write error in errno");
        fclose(full);
    }

    /* microsecond interface: timestamps scaled */
    buf = NULL;
    f = open_memstream(&buf, &len);
    kf_pcapng_w *w = kf_pcapng_open(f, NULL);
    kf_idb_opts o6 = { KF_LT_RAW, 0, NULL, NULL, NULL, 6 };
    kf_pcapng_add_iface(w, &o6);
    uint8_t pk[20] = { 0x45 };
    kf_epb e6 = { .iface = 0, .ts_ns = 1500000999, .caplen = 20, .origlen = 20, .data = pk };
    kf_pcapng_write_epb(w, &e6);
    kf_epb eneg = { .iface = 0, .ts_ns = -5, .caplen = 20, .origlen = 20, .data = pk };
    T_EQ_INT(kf_pcapng_write_epb(w, &eneg), -1, "negative timestamp refused");
    T_EQ_INT(kf_pcapng_close(w), 0, "a refused packet does not poison the file");
    fclose(f);
    r = kf_reader_open_mem(buf, len, err, sizeof err);
    kf_pkt p;
    T_OK(r && kf_reader_next(r, &p) == 1 && p.ts_ns == 1500000000, "tsresol 6 writes microseconds");
    T_OK(r && kf_reader_next(r, &p) == 0, "only one packet");
    kf_reader_close(r);
    free(buf);

    /* pcap output through libpcap, read back with libpcap in ns */
    char tmpl[] = "/tmp/kf_pcapout.XXXXXX";
    int fd = mkstemp(tmpl);
    f = fdopen(fd, "w");
    T_EQ_INT(write_demo_pcap(f), 0, "pcap written");
    T_OK(fputs("", f) >= 0 && fflush(f) == 0, "caller's stream still usable after kf_pcap_out_close");
    fclose(f);
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(tmpl, PCAP_TSTAMP_PRECISION_NANO, perr);
    T_OK(pc != NULL, "libpcap opens our pcap");
    if (pc) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int np = 0, ok = 1;
        demo_pkt d[8];
        demo_packets(d);
        while (pcap_next_ex(pc, &h, &data) == 1) {
            int64_t ts = (int64_t)h->ts.tv_sec * KF_NS_PER_SEC + h->ts.tv_usec;
            if (np >= 4 || ts != d[np].ts || h->caplen != d[np].len || memcmp(data, d[np].f, h->caplen)) ok = 0;
            np++;
        }
        T_OK(ok && np == 4, "pcap packets with ns timestamps");
        T_EQ_INT(pcap_datalink(pc), DLT_EN10MB, "pcap link type");
        pcap_close(pc);
    }
    unlink(tmpl);

    /* pcap output on a full device: the error comes back from write or close, with errno */
    full = fopen("/dev/full", "w");
    if (full) {
        char e2[256];
        kf_pcap_out *o = kf_pcap_out_open(full, KF_LT_RAW, 0, e2, sizeof e2);
        T_OK(o != NULL, "pcap output opens on /dev/full");
        if (o) {
            static uint8_t big[65536] = { 0x45 };
            int bad = 0;
            for (int i = 0; i < 4; i++) bad |= kf_pcap_out_write(o, 1, sizeof big, sizeof big, big) != 0;
            errno = 0;
            int c = kf_pcap_out_close(o);
            T_OK(bad || c != 0, "pcap write error reported");
            T_OK(c != 0 && errno == ENOSPC, "pcap close gives -1 with errno ENOSPC (errno %d)", errno);
        }
        fclose(full);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-sample") == 0) {
        FILE *f = fopen(argv[2], "wb");
        if (!f) { perror(argv[2]); return 2; }
        int r = write_demo(f);
        return (fclose(f) != 0 || r != 0) ? 1 : 0;
    }
    if (argc == 3 && strcmp(argv[1], "--write-pcap") == 0) {
        FILE *f = fopen(argv[2], "wb");
        if (!f) { perror(argv[2]); return 2; }
        int r = write_demo_pcap(f);
        return (fclose(f) != 0 || r != 0) ? 1 : 0;
    }
    if (argc == 4 && strcmp(argv[1], "--roundtrip") == 0) return roundtrip(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "--dump-dsb") == 0) {
        /* every DSB's bytes, in order, on stdout (type and length on stderr) */
        char err[512];
        kf_reader *r = kf_reader_open(argv[2], err, sizeof err);
        if (!r) { fprintf(stderr, "test_pcapng: %s: %s\n", argv[2], err); return 2; }
        kf_pkt p;
        while (kf_reader_next(r, &p) == 1) {}
        for (size_t i = 0; i < kf_reader_dsb_count(r); i++) {
            const kf_dsb *d = kf_reader_dsb(r, i);
            fprintf(stderr, "dsb type=0x%08x len=%u\n", d->type, d->len);
            fwrite(d->data, 1, d->len, stdout);
        }
        kf_reader_close(r);
        return 0;
    }
    if (argc > 1) { fprintf(stderr, "usage: test_pcapng [--write-sample OUT | --write-pcap OUT | --roundtrip IN OUT | --dump-dsb IN]\n"); return 2; }
    unit_tests();
    T_DONE();
}
