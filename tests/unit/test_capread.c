/* Unit tests for kf_capread: hand-built pcap/pcapng byte buffers for every format edge.
 * With "--dump FILE" it prints one line per packet instead ("frame ts_epoch caplen origlen
 * linktype", ts with 9 decimals, "-" when the packet has no time), then "end" / "cut: warning" /
 * "error: message" — tests/bats/corpus_read.bats compares that with tshark. */
#include "t.h"
#include "kf_capread.h"
#include "kf_decode.h"

#include <stdint.h>
#include <unistd.h>
#include <zlib.h>

/* ---------- dump mode ---------- */

static int dump(const char *path)
{
    char err[256];
    kf_reader *r = kf_reader_open(path, err, sizeof err);
    if (!r) { printf("error: %s\n", err); return 2; }
    kf_pkt p;
    int rc;
    while ((rc = kf_reader_next(r, &p)) == 1) {
        if (!kf_reader_last_has_ts(r)) {
            printf("%" PRIu64 " - %u %u %d\n", p.frame, p.caplen, p.origlen, p.linktype);
            continue;
        }
        int64_t s = p.ts_ns / 1000000000, f = p.ts_ns % 1000000000;
        if (f < 0) { f += 1000000000; s--; }
        printf("%" PRIu64 " %" PRId64 ".%09" PRId64 " %u %u %d\n", p.frame, s, f, p.caplen, p.origlen,
               p.linktype);
    }
    if (rc < 0) printf("error: %s\n", kf_reader_error(r));
    else if (kf_reader_warning(r)[0]) printf("cut: %s\n", kf_reader_warning(r));
    else printf("end\n");
    kf_reader_close(r);
    return rc < 0 ? 1 : 0;
}

/* ---------- builders ---------- */

typedef struct buf { uint8_t d[1 << 16]; size_t n; int be; } buf;

static void put8(buf *b, uint8_t v) { b->d[b->n++] = v; }
static void put16(buf *b, uint16_t v)
{
    if (b->be) { put8(b, (uint8_t)(v >> 8)); put8(b, (uint8_t)v); }
    else { put8(b, (uint8_t)v); put8(b, (uint8_t)(v >> 8)); }
}
static void put32(buf *b, uint32_t v)
{
    if (b->be) { put16(b, (uint16_t)(v >> 16)); put16(b, (uint16_t)v); }
    else { put16(b, (uint16_t)v); put16(b, (uint16_t)(v >> 16)); }
}
static void put64(buf *b, uint64_t v)
{
    if (b->be) { put32(b, (uint32_t)(v >> 32)); put32(b, (uint32_t)v); }
    else { put32(b, (uint32_t)v); put32(b, (uint32_t)(v >> 32)); }
}
static void putn(buf *b, const void *p, size_t n) { memcpy(b->d + b->n, p, n); b->n += n; }
static void pad4(buf *b) { while (b->n & 3) put8(b, 0); }
static void opt(buf *b, uint16_t code, const void *v, uint16_t len)
{
    put16(b, code); put16(b, len); putn(b, v, len); pad4(b);
}
static void opt_str(buf *b, uint16_t code, const char *s) { opt(b, code, s, (uint16_t)strlen(s)); }
static void opt_end(buf *b) { put16(b, 0); put16(b, 0); }

/* block: start returns the offset; end patches both lengths */
static size_t blk_start(buf *b, uint32_t type) { size_t at = b->n; put32(b, type); put32(b, 0); return at; }
static void blk_end(buf *b, size_t at)
{
    uint32_t total = (uint32_t)(b->n - at + 4);
    size_t save = b->n;
    b->n = at + 4; put32(b, total); b->n = save;
    put32(b, total);
}

static void shb(buf *b, const char *comment)
{
    size_t at = blk_start(b, 0x0A0D0D0A);
    put32(b, 0x1A2B3C4D); put16(b, 1); put16(b, 0); put64(b, UINT64_MAX);
    if (comment) { opt_str(b, 1, comment); opt_str(b, 2, "hw"); opt_str(b, 3, "os"); opt_str(b, 4, "app"); opt_end(b); }
    blk_end(b, at);
}
static void idb(buf *b, uint16_t lt, int tsresol, int64_t tsoffset, const char *name)
{
    size_t at = blk_start(b, 1);
    put16(b, lt); put16(b, 0); put32(b, 262144);
    if (name) opt_str(b, 2, name);
    if (tsresol >= 0) { uint8_t v = (uint8_t)tsresol; opt(b, 9, &v, 1); }
    if (tsoffset) { put16(b, 14); put16(b, 8); put64(b, (uint64_t)tsoffset); }
    if (name) {
        uint8_t f[8] = { 0, 't', 'c', 'p' };
        opt(b, 11, f, 4);
        opt_end(b);
    }
    blk_end(b, at);
}
static void epb(buf *b, uint32_t ifid, uint64_t units, const uint8_t *data, uint32_t cap, uint32_t orig,
                const char *comment, int flags, int64_t drops)
{
    size_t at = blk_start(b, 6);
    put32(b, ifid); put32(b, (uint32_t)(units >> 32)); put32(b, (uint32_t)units);
    put32(b, cap); put32(b, orig); putn(b, data, cap); pad4(b);
    if (comment || flags >= 0 || drops >= 0) {
        if (comment) opt_str(b, 1, comment);
        if (flags >= 0) { put16(b, 2); put16(b, 4); put32(b, (uint32_t)flags); }
        if (drops >= 0) { put16(b, 4); put16(b, 8); put64(b, (uint64_t)drops); }
        opt_end(b);
    }
    blk_end(b, at);
}

static void pcap_hdr(buf *b, int ns, uint32_t lt)
{
    put32(b, ns ? 0xa1b23c4d : 0xa1b2c3d4); put16(b, 2); put16(b, 4);
    put32(b, 0); put32(b, 0); put32(b, 65535); put32(b, lt);
}
static void pcap_rec(buf *b, uint32_t s, uint32_t f, const uint8_t *d, uint32_t cap, uint32_t orig)
{
    put32(b, s); put32(b, f); put32(b, cap); put32(b, orig); putn(b, d, cap);
}

static const uint8_t PKT[60] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00, 0x45 };

static kf_reader *open_buf(const buf *b, char *err)
{
    return kf_reader_open_mem(b->d, b->n, err, 256);
}

/* reads everything through a FILE* (stream mode) as well, checking the same outcome */
static int count_stream(const buf *b, int *rc_out, char *warn, size_t wl)
{
    FILE *f = fmemopen((void *)b->d, b->n, "rb");
    char err[256];
    kf_reader *r = kf_reader_open_file(f, err, sizeof err);
    if (!r) { fclose(f); *rc_out = -2; return 0; }
    kf_pkt p; int n = 0, rc;
    while ((rc = kf_reader_next(r, &p)) == 1) n++;
    *rc_out = rc;
    snprintf(warn, wl, "%s", kf_reader_warning(r));
    kf_reader_close(r);
    fclose(f);
    return n;
}

static void test_pcap(int be, int ns)
{
    buf *b = calloc(1, sizeof *b); b->be = be;
    pcap_hdr(b, ns, 1);
    pcap_rec(b, 1700000000, ns ? 123456789 : 123456, PKT, 60, 60);
    pcap_rec(b, 1700000001, 5, PKT, 20, 1514);
    char err[256];
    kf_reader *r = open_buf(b, err);
    T_OK(r != NULL, "pcap be=%d ns=%d opens", be, ns);
    if (!r) { free(b); return; }
    kf_pkt p;
    T_EQ_INT(kf_reader_next(r, &p), 1, "pcap be=%d ns=%d first packet", be, ns);
    T_EQ_INT(p.ts_ns, 1700000000LL * 1000000000 + (ns ? 123456789 : 123456000), "pcap be=%d ns=%d ts", be, ns);
    T_EQ_INT(p.caplen, 60, "caplen");
    T_OK(memcmp(p.data, PKT, 60) == 0, "data in place");
    T_EQ_INT(p.linktype, 1, "linktype");
    T_EQ_INT(p.frame, 1, "frame 1");
    T_EQ_INT(kf_reader_next(r, &p), 1, "second packet");
    T_EQ_INT(p.origlen, 1514, "origlen");
    T_EQ_INT(p.offset, 24 + 16 + 60, "record offset");
    T_EQ_INT(kf_reader_next(r, &p), 0, "end");
    T_EQ_STR(kf_reader_warning(r), "", "no warning at a clean end");
    T_EQ_INT(kf_reader_nanosecond(r), ns, "nanosecond flag");
    T_EQ_INT(kf_reader_format(r), KF_FMT_PCAP, "format");
    kf_reader_close(r);
    free(b);
}

static void test_pcap_edges(void)
{
    buf *b = calloc(1, sizeof *b);
    char err[256], warn[256];
    kf_pkt p;
    /* cut inside the last record */
    pcap_hdr(b, 0, 1);
    pcap_rec(b, 1, 0, PKT, 60, 60);
    pcap_rec(b, 2, 0, PKT, 60, 60);
    size_t full = b->n;
    b->n = full - 10;
    kf_reader *r = open_buf(b, err);
    T_EQ_INT(kf_reader_next(r, &p), 1, "cut pcap: first packet kept");
    T_EQ_INT(kf_reader_next(r, &p), 0, "cut pcap: then end (not error)");
    T_OK(strstr(kf_reader_warning(r), "cut short at offset 100") != NULL, "cut pcap: warning names offset (%s)", kf_reader_warning(r));
    T_EQ_INT(kf_reader_good_end(r), 100, "cut pcap: good_end after the last full record");
    kf_reader_close(r);
    int rc;
    T_EQ_INT(count_stream(b, &rc, warn, sizeof warn), 1, "cut pcap via stream: one packet");
    T_OK(rc == 0 && strstr(warn, "cut short"), "cut pcap via stream: warning");
    /* cut inside a record header */
    b->n = full - 60 - 16 + 5;
    r = open_buf(b, err);
    T_EQ_INT(kf_reader_next(r, &p), 1, "cut in header: packet kept");
    T_EQ_INT(kf_reader_next(r, &p), 0, "cut in header: end");
    T_OK(kf_reader_warning(r)[0] != 0, "cut in header: warning");
    kf_reader_close(r);
    /* absurd record length = corruption */
    b->n = 0;
    pcap_hdr(b, 0, 1);
    pcap_rec(b, 1, 0, PKT, 60, 60);
    put32(b, 2); put32(b, 0); put32(b, 8323328); put32(b, 8323328);
    r = open_buf(b, err);
    T_EQ_INT(kf_reader_next(r, &p), 1, "corrupt pcap: first packet");
    T_EQ_INT(kf_reader_next(r, &p), -1, "corrupt pcap: error");
    T_OK(strstr(kf_reader_error(r), "offset 100") != NULL, "corrupt pcap: error names offset (%s)", kf_reader_error(r));
    T_EQ_INT(kf_reader_next(r, &p), -1, "error is sticky");
    kf_reader_close(r);
    /* bad magic, short header, empty, bad version, reserved link-type bits */
    b->n = 0; put32(b, 0xdeadbeef); put32(b, 0); put32(b, 0);
    r = open_buf(b, err);
    T_OK(r == NULL && strstr(err, "not a pcap"), "bad magic refused (%s)", err);
    b->n = 0; pcap_hdr(b, 0, 1); b->n = 10;
    r = open_buf(b, err);
    T_OK(r == NULL, "short header refused (%s)", err);
    r = kf_reader_open_mem(b->d, 0, err, sizeof err);
    T_OK(r == NULL && strstr(err, "empty"), "empty refused (%s)", err);
    b->n = 0; pcap_hdr(b, 0, 1); b->d[4] = 1;
    r = open_buf(b, err);
    T_OK(r == NULL && strstr(err, "version 1.4"), "pcap 1.x refused (%s)", err);
    b->n = 0; pcap_hdr(b, 0, 0x00300001);
    r = open_buf(b, err);
    T_OK(r == NULL && strstr(err, "reserved"), "reserved link-type bits refused (%s)", err);
    b->n = 0; pcap_hdr(b, 0, 0x10000071); /* FCS length bits masked */
    r = open_buf(b, err);
    T_OK(r && kf_reader_linktype(r) == 113, "FCS bits of link type masked");
    kf_reader_close(r);
    /* header only */
    b->n = 0; pcap_hdr(b, 1, 101);
    r = open_buf(b, err);
    T_OK(r && kf_reader_next(r, &p) == 0 && kf_reader_warning(r)[0] == 0, "header-only pcap: clean end");
    kf_reader_close(r);
    free(b);
}

static void test_pcapng(int be)
{
    buf *b = calloc(1, sizeof *b); b->be = be;
    char err[256];
    kf_pkt p;
    shb(b, "kforensics-node: n1");
    idb(b, 1, -1, 0, "eth0");                 /* default µs */
    idb(b, 113, 9, 0, NULL);                  /* ns */
    idb(b, 101, 0x80 | 20, 0, NULL);          /* 2^-20 s */
    idb(b, 1, 3, 100, NULL);                  /* ms, offset 100 s */
    epb(b, 0, 1700000000123456ULL, PKT, 60, 60, "hello", 2, 7);
    epb(b, 1, 1700000000123456789ULL, PKT, 33, 1000, NULL, -1, -1);
    epb(b, 2, (1700000000ULL << 20) | (1u << 19), PKT, 4, 4, NULL, -1, -1);
    epb(b, 3, 1700000000500ULL, PKT, 8, 8, NULL, 1, -1);
    /* custom block and an unknown block are skipped */
    size_t at = blk_start(b, 0x00000BAD); put32(b, 32473); put32(b, 42); blk_end(b, at);
    at = blk_start(b, 0x12345678); put32(b, 1); blk_end(b, at);
    /* NRB: one v4 with two names, one v6 */
    at = blk_start(b, 4);
    put16(b, 1); put16(b, 4 + 6 + 4); putn(b, "\x0a\x00\x00\x01" "host1\0" "alt\0", 14); pad4(b);
    put16(b, 2); put16(b, 16 + 3); putn(b, "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" "h6\0", 19); pad4(b);
    put16(b, 0); put16(b, 0);
    blk_end(b, at);
    /* DSB: TLS key log */
    at = blk_start(b, 0x0A);
    put32(b, 0x544c534b); put32(b, 5); putn(b, "CLNT\n", 5); pad4(b);
    blk_end(b, at);
    /* ISB */
    at = blk_start(b, 5);
    put32(b, 0); put32(b, 0); put32(b, 5);
    put16(b, 4); put16(b, 8); put64(b, 100); put16(b, 5); put16(b, 8); put64(b, 3); opt_end(b);
    blk_end(b, at);
    /* obsolete PB */
    at = blk_start(b, 2);
    put16(b, 0); put16(b, 9); put32(b, 0); put32(b, 1000000); put32(b, 4); put32(b, 4); putn(b, PKT, 4);
    blk_end(b, at);
    /* SPB (interface 0 of the section) */
    at = blk_start(b, 3);
    put32(b, 6); putn(b, PKT, 6); pad4(b);
    blk_end(b, at);
    /* second section in the other byte order */
    b->be = !be;
    shb(b, NULL);
    idb(b, 228, 6, 0, NULL);
    epb(b, 0, 42000000, PKT, 20, 20, NULL, -1, -1);

    kf_reader *r = open_buf(b, err);
    T_OK(r != NULL, "pcapng be=%d opens (%s)", be, r ? "" : err);
    if (!r) { free(b); return; }
    T_EQ_INT(kf_reader_format(r), KF_FMT_PCAPNG, "format pcapng");
    T_EQ_INT(kf_reader_next(r, &p), 1, "epb 1");
    T_EQ_INT(p.ts_ns, 1700000000123456000LL, "µs default tsresol");
    T_EQ_STR(p.comment, "hello", "opt_comment");
    T_OK(p.has_flags && p.flags == 2, "epb_flags outbound");
    T_EQ_INT(p.dropcount, 7, "epb_dropcount");
    T_EQ_INT(p.iface, 0, "iface 0");
    T_EQ_INT(kf_reader_next(r, &p), 1, "epb 2");
    T_EQ_INT(p.ts_ns, 1700000000123456789LL, "ns tsresol");
    T_EQ_INT(p.linktype, 113, "per-interface link type");
    T_EQ_INT(p.origlen, 1000, "origlen");
    T_OK(p.comment == NULL && !p.has_flags, "no options -> no comment/flags");
    T_EQ_INT(kf_reader_next(r, &p), 1, "epb 3");
    T_EQ_INT(p.ts_ns, 1700000000500000000LL, "binary tsresol 2^-20");
    T_EQ_INT(kf_reader_next(r, &p), 1, "epb 4");
    T_EQ_INT(p.ts_ns, 1700000100500000000LL, "ms tsresol + if_tsoffset");
    T_EQ_INT(kf_reader_next(r, &p), 1, "obsolete PB");
    T_EQ_INT(p.ts_ns, 1000000000LL, "PB time");
    T_EQ_INT(p.dropcount, 9, "PB drops count");
    T_EQ_INT(kf_reader_next(r, &p), 1, "SPB");
    T_EQ_INT(p.caplen, 6, "SPB length");
    T_EQ_INT(kf_reader_last_has_ts(r), 0, "SPB has no time");
    T_EQ_INT(kf_reader_next(r, &p), 1, "section 2 epb");
    T_EQ_INT(kf_reader_last_has_ts(r), 1, "EPB has a time");
    T_EQ_INT(p.iface, 4, "global interface numbering across sections");
    T_EQ_INT(p.ts_ns, 42000000000LL, "section 2 time");
    T_EQ_INT(p.linktype, 228, "section 2 link type");
    T_EQ_INT(p.frame, 8, "frame numbers count packets and the custom block, as Wireshark");
    T_EQ_INT(kf_reader_next(r, &p), 0, "end");
    T_EQ_STR(kf_reader_warning(r), "", "no warning");
    T_EQ_INT(kf_reader_section_count(r), 2, "two sections");
    const kf_section *s = kf_reader_section(r, 0);
    T_EQ_STR(s->comment, "kforensics-node: n1", "SHB comment");
    T_EQ_STR(s->hardware, "hw", "shb_hardware");
    T_EQ_STR(s->os, "os", "shb_os");
    T_EQ_STR(s->userappl, "app", "shb_userappl");
    T_EQ_INT(s->big_endian, be, "section 1 byte order");
    T_EQ_INT(kf_reader_section(r, 1)->big_endian, !be, "section 2 byte order");
    T_EQ_INT(kf_reader_iface_count(r), 5, "five interfaces");
    const kf_iface *i0 = kf_reader_iface(r, 0);
    T_EQ_STR(i0->name, "eth0", "if_name");
    T_EQ_STR(i0->filter, "tcp", "if_filter");
    T_EQ_INT(kf_reader_iface(r, 3)->tsoffset, 100, "if_tsoffset");
    T_EQ_INT(kf_reader_iface(r, 4)->section, 1, "iface section");
    T_EQ_INT(kf_reader_nrb_count(r), 3, "NRB entries (two names for one v4)");
    T_EQ_STR(kf_reader_nrb(r, 1)->name, "alt", "NRB second name");
    T_EQ_INT(kf_reader_nrb(r, 2)->family, 6, "NRB v6");
    T_EQ_INT(kf_reader_dsb_count(r), 1, "DSB kept");
    T_OK(kf_reader_dsb(r, 0)->type == 0x544c534b && kf_reader_dsb(r, 0)->len == 5 &&
         memcmp(kf_reader_dsb(r, 0)->data, "CLNT\n", 5) == 0, "DSB content");
    T_EQ_INT(kf_reader_isb_count(r), 1, "ISB");
    T_OK(kf_reader_isb(r, 0)->ifrecv == 100 && kf_reader_isb(r, 0)->ifdrop == 3 &&
         kf_reader_isb(r, 0)->osdrop == UINT64_MAX, "ISB counters");
    kf_reader_close(r);

    /* the same through a stream, and gzip'd through memory and stream */
    char warn[256]; int rc;
    T_EQ_INT(count_stream(b, &rc, warn, sizeof warn), 7, "pcapng via stream: 7 packets");
    T_EQ_INT(rc, 0, "pcapng via stream: clean end");
    uLongf zl = compressBound(b->n) + 64;
    uint8_t *z = malloc(zl);
    z_stream zs; memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = b->d; zs.avail_in = (uInt)b->n; zs.next_out = z; zs.avail_out = (uInt)zl;
    deflate(&zs, Z_FINISH);
    size_t zn = zs.total_out;
    deflateEnd(&zs);
    buf *g = calloc(1, sizeof *g);
    memcpy(g->d, z, zn); g->n = zn;
    r = open_buf(g, err);
    int n = 0;
    while (r && kf_reader_next(r, &p) == 1) n++;
    T_EQ_INT(n, 7, "gzip pcapng in memory: 7 packets");
    T_OK(r && kf_reader_warning(r)[0] == 0, "gzip: no warning");
    kf_reader_close(r);
    T_EQ_INT(count_stream(g, &rc, warn, sizeof warn), 7, "gzip pcapng via stream");
    /* two gzip members concatenated: the second one is read too */
    memcpy(g->d + zn, z, zn); g->n = 2 * zn;
    r = open_buf(g, err);
    n = 0;
    while (r && kf_reader_next(r, &p) == 1) n++;
    T_OK(n >= 7, "concatenated gzip members read on (got %d)", n);
    kf_reader_close(r);
    /* gzip cut in the middle: packets before the cut are kept, a warning */
    g->n = zn / 2;
    r = open_buf(g, err);
    n = 0;
    while (r && (rc = kf_reader_next(r, &p)) == 1) n++;
    T_OK(r && rc == 0 && kf_reader_warning(r)[0], "cut gzip: end with warning after %d packets", n);
    kf_reader_close(r);
    free(z); free(g);
    free(b);
}

static void test_pcapng_edges(void)
{
    buf *b = calloc(1, sizeof *b);
    char err[256];
    kf_pkt p;
    kf_reader *r;
    /* EPB naming an interface that does not exist */
    shb(b, NULL); idb(b, 1, -1, 0, NULL);
    epb(b, 0, 1, PKT, 10, 10, NULL, -1, -1);
    size_t good = b->n;
    epb(b, 3, 1, PKT, 10, 10, NULL, -1, -1);
    r = open_buf(b, err);
    T_EQ_INT(kf_reader_next(r, &p), 1, "good EPB");
    T_EQ_INT(kf_reader_next(r, &p), -1, "EPB with unknown interface: error");
    char want[64]; snprintf(want, sizeof want, "offset %zu:", good);
    T_OK(strstr(kf_reader_error(r), want) != NULL, "error names the offset (%s)", kf_reader_error(r));
    kf_reader_close(r);
    /* cut in the last block */
    b->n = good + 20;
    r = open_buf(b, err);
    T_EQ_INT(kf_reader_next(r, &p), 1, "cut pcapng: packet kept");
    T_EQ_INT(kf_reader_next(r, &p), 0, "cut pcapng: end");
    T_OK(strstr(kf_reader_warning(r), "cut short") != NULL, "cut pcapng: warning (%s)", kf_reader_warning(r));
    T_EQ_INT(kf_reader_good_end(r), good, "cut pcapng: good_end");
    kf_reader_close(r);
    /* cut inside the block header (5 bytes) */
    b->n = good + 5;
    r = open_buf(b, err);
    T_OK(r && kf_reader_next(r, &p) == 1 && kf_reader_next(r, &p) == 0 && kf_reader_warning(r)[0],
         "cut in block header: end with warning");
    kf_reader_close(r);
    /* trailer mismatch */
    b->n = good;
    epb(b, 0, 1, PKT, 10, 10, NULL, -1, -1);
    b->d[b->n - 1] ^= 0x40;
    r = open_buf(b, err);
    T_OK(r && kf_reader_next(r, &p) == 1 && kf_reader_next(r, &p) == -1 && strstr(kf_reader_error(r), "trailer"),
         "block trailer mismatch is an error");
    kf_reader_close(r);
    /* bad block length (not a multiple of 4) */
    b->n = good;
    put32(b, 6); put32(b, 30); put32(b, 0);
    r = open_buf(b, err);
    T_OK(r && kf_reader_next(r, &p) == 1 && kf_reader_next(r, &p) == -1, "block length not multiple of 4");
    kf_reader_close(r);
    /* captured length past the block */
    b->n = good;
    size_t at = blk_start(b, 6);
    put32(b, 0); put32(b, 0); put32(b, 0); put32(b, 500); put32(b, 500); putn(b, PKT, 8);
    blk_end(b, at);
    r = open_buf(b, err);
    T_OK(r && kf_reader_next(r, &p) == 1 && kf_reader_next(r, &p) == -1, "EPB caplen past block");
    kf_reader_close(r);
    /* option running past the block */
    b->n = good;
    at = blk_start(b, 6);
    put32(b, 0); put32(b, 0); put32(b, 0); put32(b, 4); put32(b, 4); putn(b, PKT, 4);
    put16(b, 1); put16(b, 200); put32(b, 0);
    blk_end(b, at);
    r = open_buf(b, err);
    T_OK(r && kf_reader_next(r, &p) == 1 && kf_reader_next(r, &p) == -1, "option past the block");
    kf_reader_close(r);
    /* SHB versions */
    b->n = 0; shb(b, NULL); b->d[14] = 1;  /* minor 1 (LE) */
    r = open_buf(b, err);
    T_OK(r == NULL && strstr(err, "version 1.1"), "pcapng 1.1 refused (%s)", err);
    b->n = 0; shb(b, NULL); b->d[14] = 2;
    r = open_buf(b, err);
    T_OK(r != NULL, "pcapng 1.2 accepted");
    kf_reader_close(r);
    /* bad byte-order magic */
    b->n = 0; shb(b, NULL); b->d[8] = 0;
    r = open_buf(b, err);
    T_OK(r == NULL && strstr(err, "byte-order"), "bad byte-order magic (%s)", err);
    /* SHB cut */
    b->n = 0; shb(b, "x"); b->n = 20;
    r = open_buf(b, err);
    T_OK(r == NULL, "SHB cut: nothing to read (%s)", err);
    /* tsresol 10^-12 and unrepresentable 10^-25 */
    b->n = 0; shb(b, NULL); idb(b, 1, 12, 0, NULL); idb(b, 1, 25, 0, NULL);
    epb(b, 0, 1500000000000ULL, PKT, 4, 4, NULL, -1, -1);
    epb(b, 1, 77, PKT, 4, 4, NULL, -1, -1);
    r = open_buf(b, err);
    T_OK(r && kf_reader_next(r, &p) == 1 && p.ts_ns == 1500000000LL, "ps resolution");
    T_OK(r && kf_reader_next(r, &p) == 1 && kf_reader_iface(r, 1)->ts_per_sec == 0, "10^-25 not representable, still read");
    kf_reader_close(r);
    free(b);
}

static void test_files(void)
{
    /* a real file through mmap and through a pipe, from the corpus */
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/http1/zeek__get.pcap", t_corpus());
    if (access(path, R_OK) != 0) { T_OK(1, "# SKIP corpus not found"); return; }
    kf_reader *r = kf_reader_open(path, err, sizeof err);
    kf_pkt p; int n = 0;
    while (r && kf_reader_next(r, &p) == 1) n++;
    T_EQ_INT(n, 14, "zeek__get.pcap: 14 packets via mmap");
    T_EQ_INT(kf_reader_pos(r), kf_reader_size(r), "pos reaches size");
    kf_reader_close(r);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "gzip -c '%s'", path);
    FILE *f = popen(cmd, "r");
    r = kf_reader_open_file(f, err, sizeof err);
    n = 0;
    while (r && kf_reader_next(r, &p) == 1) n++;
    T_EQ_INT(n, 14, "gzip'd through a pipe: 14 packets");
    kf_reader_close(r);
    pclose(f);
    r = kf_reader_open("/nonexistent/x.pcap", err, sizeof err);
    T_OK(r == NULL && strstr(err, "No such file"), "missing file (%s)", err);
    r = kf_reader_open("/", err, sizeof err);
    T_OK(r == NULL, "directory refused (%s)", err);
}

/* A stream bigger than the reader's buffer, records of many sizes (up to 200 KB, so the buffer
 * grows and compacts): the stream path returns exactly what the memory path returns. */
static void test_stream_big(void)
{
    size_t cap = 8u << 20, n = 0;
    uint8_t *f = malloc(cap);
    uint32_t hdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 262144, 1 };
    memcpy(f, hdr, 24); n = 24;
    uint32_t seed = 1;
    int count = 0;
    while (n < cap - 300000) {
        seed = seed * 1103515245 + 12345;
        uint32_t len = (seed >> 8) % (count % 7 == 0 ? 200000 : 1600);
        uint32_t rh[4] = { (uint32_t)count, 0, len, len };
        memcpy(f + n, rh, 16); n += 16;
        for (uint32_t i = 0; i < len; i++) f[n + i] = (uint8_t)(i * 13 + (uint32_t)count);
        n += len;
        count++;
    }
    char err[256];
    kf_reader *a = kf_reader_open_mem(f, n, err, sizeof err);
    FILE *fp = fmemopen(f, n, "rb");
    kf_reader *b = kf_reader_open_file(fp, err, sizeof err);
    kf_pkt pa, pb;
    int same = 1, k = 0, ra, rb;
    while ((ra = kf_reader_next(a, &pa)) == 1) {
        rb = kf_reader_next(b, &pb);
        if (rb != 1 || pa.caplen != pb.caplen || pa.ts_ns != pb.ts_ns || pa.offset != pb.offset ||
            memcmp(pa.data, pb.data, pa.caplen) != 0) { same = 0; break; }
        k++;
    }
    rb = kf_reader_next(b, &pb);
    T_OK(same && k == count && ra == 0 && rb == 0, "big stream (%d records, %zu bytes): stream == memory", k, n);
    T_EQ_INT(kf_reader_pos(b), n, "stream position at the end");
    kf_reader_close(a); kf_reader_close(b); fclose(fp);
    /* the same gzip'd, inflated from memory and from a stream */
    uLong zl = compressBound(n) + 64;
    uint8_t *z = malloc(zl);
    z_stream zs; memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = f; zs.avail_in = (uInt)n; zs.next_out = z; zs.avail_out = (uInt)zl;
    deflate(&zs, Z_FINISH);
    size_t zn = zs.total_out;
    deflateEnd(&zs);
    for (int mode = 0; mode < 2; mode++) {
        FILE *zf = mode ? fmemopen(z, zn, "rb") : NULL;
        kf_reader *g = mode ? kf_reader_open_file(zf, err, sizeof err) : kf_reader_open_mem(z, zn, err, sizeof err);
        int m = 0, rg;
        uint64_t sum = 0;
        while ((rg = kf_reader_next(g, &pb)) == 1) { m++; sum += pb.caplen ? pb.data[pb.caplen - 1] : 0; }
        T_OK(g && m == count && rg == 0 && kf_reader_warning(g)[0] == 0, "big gzip via %s: %d records", mode ? "stream" : "memory", m);
        kf_reader_close(g);
        if (zf) fclose(zf);
    }
    free(z);
    free(f);
}

/* Readers sharing one mapping (kdissect -j): each reads exactly what a reader of its own reads,
 * whatever the others do — one far ahead (the pages behind it are given back: the one behind
 * faults them in again), one closing early, the file mapped again after every reader closed. */
/* A pass over a mapped file gives back the pages behind it (release_behind): what stays
 * resident at the end is a window, not the whole 96 MiB file, and every packet reads as written. */
static void test_release_behind(void)
{
    char path[] = "/tmp/kf_test_release_XXXXXX";
    int fd = mkstemp(path);
    FILE *w = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!w) { T_OK(0, "temp file"); return; }
    uint32_t hdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };
    fwrite(hdr, 4, 6, w);
    static uint8_t buf[1500];
    int count = 0;
    for (size_t n = 24; n < (96u << 20); count++) {   /* past several give-back steps */
        uint32_t len = 200 + (uint32_t)(count * 37) % 1300;
        uint32_t rh[4] = { (uint32_t)count, 0, len, len };
        for (uint32_t i = 0; i < len; i++) buf[i] = (uint8_t)(i * 7 + (uint32_t)count);
        fwrite(rh, 4, 4, w); fwrite(buf, 1, len, w);
        n += 16 + len;
    }
    fclose(w);
    char err[256];
    kf_reader *r = kf_reader_open(path, err, sizeof err);
    T_OK(r != NULL, "open: %s", r ? "" : err);
    if (!r) { unlink(path); return; }
    kf_pkt p;
    int k = 0, bad = 0;
    while (kf_reader_next(r, &p) == 1) {
        uint32_t want = 200 + (uint32_t)(k * 37) % 1300;
        bad += p.caplen != want || p.data[0] != (uint8_t)k || p.data[want - 1] != (uint8_t)((want - 1) * 7 + (uint32_t)k);
        k++;
    }
    T_OK(k == count && !bad, "every packet as written (%d of %d, %d bad)", k, count, bad);
    long rss_file = -1;
    FILE *st = fopen("/proc/self/status", "r");
    char line[256];
    while (st && fgets(line, sizeof line, st)) if (strncmp(line, "RssFile:", 8) == 0) rss_file = atol(line + 8);
    if (st) fclose(st);
    T_OK(rss_file >= 0 && rss_file < 40 * 1024, "mapping given back behind the reader: %ld KiB resident at the end (of 98304)", rss_file);
    kf_reader_close(r);
    unlink(path);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--dump") == 0) return dump(argv[2]);
    test_pcap(0, 0); test_pcap(1, 0); test_pcap(0, 1); test_pcap(1, 1);
    test_pcap_edges();
    test_pcapng(0); test_pcapng(1);
    test_pcapng_edges();
    test_files();
    test_stream_big();
    test_release_behind();
    T_DONE();
}
