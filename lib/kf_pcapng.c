/* kf_pcapng — pcapng writer (see kf_pcapng.h).
 *
 * Hand-written: libpcap writes only classic pcap (one link type, no per-interface names, no
 * packet comments or direction flags, no ISB/NRB/DSB), and no maintained C library writes
 * pcapng with all of these. Block layouts follow draft-ietf-opsawg-pcapng:
 *
 *   every block:  type u32 | total length u32 | body … | total length u32   (4-byte aligned)
 *   option:       code u16 | length u16 | value, padded to 4 | … | opt_endofopt (0, 0)
 *
 * Output is little-endian and goes through a private buffer; the first write error sticks
 * (errno and text kept) and every later call returns -1. */
#include "kf_pcapng.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

enum {
    BT_IDB = 1, BT_NRB = 4, BT_ISB = 5, BT_EPB = 6, BT_DSB = 10, BT_SHB = 0x0A0D0D0A,
    OPT_END = 0, OPT_COMMENT = 1,
    SHB_HARDWARE = 2, SHB_OS = 3, SHB_USERAPPL = 4,
    IF_NAME = 2, IF_DESCRIPTION = 3, IF_TSRESOL = 9, IF_FILTER = 11,
    EPB_FLAGS = 2, EPB_DROPCOUNT = 4,
    ISB_STARTTIME = 2, ISB_ENDTIME = 3, ISB_IFRECV = 4, ISB_IFDROP = 5, ISB_OSDROP = 7, ISB_USRDELIV = 8,
    NRB_END = 0, NRB_IPV4 = 1, NRB_IPV6 = 2,
};

#define WBUF_SIZE (256 * 1024)

typedef struct wiface {
    uint64_t units_per_sec;   /* timestamp units per second (10^tsresol) */
} wiface;

struct kf_pcapng_w {
    FILE *f;
    uint8_t *buf;
    size_t len;
    uint64_t bytes;
    wiface *ifs;
    size_t nifs, capifs;
    int failed;               /* sticky write error */
    int err_no;
    char err[256];
    /* scratch for building one block */
    uint8_t *blk;
    size_t blen, bcap;
    int bfail;
};

static void seterr(kf_pcapng_w *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
}

static int out_flush(kf_pcapng_w *w)
{
    if (w->failed) return -1;
    if (w->len && fwrite(w->buf, 1, w->len, w->f) != w->len) {
        w->failed = 1;
        w->err_no = errno ? errno : EIO;
        seterr(w, "write error: %s", strerror(w->err_no));
        return -1;
    }
    w->len = 0;
    return 0;
}

static int out_write(kf_pcapng_w *w, const void *p, size_t n)
{
    if (w->failed) return -1;
    if (w->len + n > WBUF_SIZE) {
        if (out_flush(w) < 0) return -1;
        if (n > WBUF_SIZE) {
            if (fwrite(p, 1, n, w->f) != n) {
                w->failed = 1;
                w->err_no = errno ? errno : EIO;
                seterr(w, "write error: %s", strerror(w->err_no));
                return -1;
            }
            w->bytes += n;
            return 0;
        }
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    w->bytes += n;
    return 0;
}

/* ---- block builder: the body of one block in w->blk ---- */

static void b_reset(kf_pcapng_w *w) { w->blen = 0; w->bfail = 0; }

static uint8_t *b_grow(kf_pcapng_w *w, size_t n)
{
    if (w->bfail) return NULL;
    if (w->blen + n > w->bcap) {
        size_t cap = w->bcap ? w->bcap : 4096;
        while (cap < w->blen + n) {
            if (cap > SIZE_MAX / 2) { w->bfail = 1; return NULL; }
            cap *= 2;
        }
        uint8_t *nb = realloc(w->blk, cap);
        if (!nb) { w->bfail = 1; return NULL; }
        w->blk = nb;
        w->bcap = cap;
    }
    uint8_t *p = w->blk + w->blen;
    w->blen += n;
    return p;
}

static void b_bytes(kf_pcapng_w *w, const void *src, size_t n)
{
    uint8_t *p = b_grow(w, n);
    if (p && n) memcpy(p, src, n);
}

static void b_pad(kf_pcapng_w *w)
{
    size_t pad = (4 - (w->blen & 3)) & 3;
    uint8_t *p = b_grow(w, pad);
    if (p) memset(p, 0, pad);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static void b_u16(kf_pcapng_w *w, uint16_t v) { uint8_t *p = b_grow(w, 2); if (p) put16(p, v); }
static void b_u32(kf_pcapng_w *w, uint32_t v) { uint8_t *p = b_grow(w, 4); if (p) put32(p, v); }
static void b_u64(kf_pcapng_w *w, uint64_t v) { uint8_t *p = b_grow(w, 8); if (p) put64(p, v); }

static void b_opt(kf_pcapng_w *w, uint16_t code, const void *val, size_t n)
{
    if (n > 0xFFFF) { n = 0xFFFF; }   /* option length is 16 bits: longer values are cut */
    b_u16(w, code);
    b_u16(w, (uint16_t)n);
    b_bytes(w, val, n);
    b_pad(w);
}

static void b_opt_str(kf_pcapng_w *w, uint16_t code, const char *s)
{
    if (s && *s) b_opt(w, code, s, strlen(s));
}

static void b_opt_u64(kf_pcapng_w *w, uint16_t code, uint64_t v)
{
    uint8_t t[8];
    put64(t, v);
    b_opt(w, code, t, 8);
}

/* timestamp option in EPB layout: high 32 bits, then low 32 bits */
static void b_opt_ts(kf_pcapng_w *w, uint16_t code, uint64_t ts)
{
    uint8_t t[8];
    put32(t, (uint32_t)(ts >> 32));
    put32(t + 4, (uint32_t)ts);
    b_opt(w, code, t, 8);
}

static void b_opt_end(kf_pcapng_w *w) { b_u32(w, 0); }

/* Writes type | len | body | len. */
static int emit_block(kf_pcapng_w *w, uint32_t type)
{
    if (w->failed) return -1;
    if (w->bfail) { seterr(w, "out of memory building a block"); return -1; }
    b_pad(w);
    if (w->blen > 0xFFFFFFFFu - 12) { seterr(w, "block too large"); return -1; }
    uint8_t hdr[8], tail[4];
    uint32_t total = (uint32_t)w->blen + 12;
    put32(hdr, type);
    put32(hdr + 4, total);
    put32(tail, total);
    if (out_write(w, hdr, 8) < 0 || out_write(w, w->blk, w->blen) < 0 || out_write(w, tail, 4) < 0)
        return -1;
    return 0;
}

static int write_shb(kf_pcapng_w *w, const kf_shb_opts *shb)
{
    char osbuf[300];
    const char *os = shb ? shb->os : NULL;
    if (!os) {
        struct utsname u;
        if (uname(&u) == 0) {
            snprintf(osbuf, sizeof osbuf, "%s %s", u.sysname, u.release);
            os = osbuf;
        }
    }
    b_reset(w);
    b_u32(w, 0x1A2B3C4D);          /* byte-order magic */
    b_u16(w, 1);                   /* major */
    b_u16(w, 0);                   /* minor */
    b_u64(w, UINT64_MAX);          /* section length: not given */
    if (shb) {
        b_opt_str(w, SHB_HARDWARE, shb->hardware);
        b_opt_str(w, SHB_OS, os);
        b_opt_str(w, SHB_USERAPPL, shb->userappl);
        b_opt_str(w, OPT_COMMENT, shb->comment);
    } else {
        b_opt_str(w, SHB_OS, os);
    }
    b_opt_end(w);
    return emit_block(w, BT_SHB);
}

kf_pcapng_w *kf_pcapng_open(FILE *f, const kf_shb_opts *shb)
{
    kf_pcapng_w *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->f = f;
    w->buf = malloc(WBUF_SIZE);
    if (!w->buf) { free(w); return NULL; }
    write_shb(w, shb);
    return w;   /* a write error here is kept and reported by every later call */
}

int kf_pcapng_new_section(kf_pcapng_w *w, const kf_shb_opts *shb)
{
    if (w->failed) return -1;
    if (write_shb(w, shb) < 0) return -1;
    w->nifs = 0;
    return 0;
}

int kf_pcapng_add_iface(kf_pcapng_w *w, const kf_idb_opts *idb)
{
    if (w->failed) return -1;
    uint8_t tsresol = idb->tsresol ? idb->tsresol : 9;
    if (tsresol > 19) { seterr(w, "unsupported if_tsresol %u", tsresol); return -1; }
    if (idb->linktype < 0 || idb->linktype > 0xFFFF) { seterr(w, "bad link type %d", idb->linktype); return -1; }
    if (w->nifs == w->capifs) {
        size_t cap = w->capifs ? w->capifs * 2 : 8;
        wiface *n = realloc(w->ifs, cap * sizeof *n);
        if (!n) { seterr(w, "out of memory"); return -1; }
        w->ifs = n;
        w->capifs = cap;
    }
    uint64_t ups = 1;
    for (int i = 0; i < tsresol; i++) ups *= 10;
    b_reset(w);
    b_u16(w, (uint16_t)idb->linktype);
    b_u16(w, 0);
    b_u32(w, idb->snaplen ? idb->snaplen : 262144);
    b_opt_str(w, IF_NAME, idb->name);
    b_opt_str(w, IF_DESCRIPTION, idb->description);
    b_opt_str(w, OPT_COMMENT, idb->comment);
    b_opt(w, IF_TSRESOL, &tsresol, 1);
    if (idb->filter && *idb->filter) {
        size_t n = strlen(idb->filter);
        if (n > 0xFFFE) n = 0xFFFE;
        uint8_t *t = malloc(n + 1);
        if (!t) { seterr(w, "out of memory"); return -1; }
        t[0] = 0;                  /* filter given as a libpcap filter string */
        memcpy(t + 1, idb->filter, n);
        b_opt(w, IF_FILTER, t, n + 1);
        free(t);
    }
    b_opt_end(w);
    if (emit_block(w, BT_IDB) < 0) return -1;
    w->ifs[w->nifs].units_per_sec = ups;
    return (int)w->nifs++;
}

/* ns since the epoch to the interface's units; -1 when not representable */
static int to_units(kf_pcapng_w *w, uint32_t iface, int64_t ns, uint64_t *out)
{
    if (ns < 0) { seterr(w, "timestamp before 1970 cannot be written"); return -1; }
    uint64_t ups = w->ifs[iface].units_per_sec;
    if (ups == 1000000000ULL) *out = (uint64_t)ns;
    else if (ups < 1000000000ULL) *out = (uint64_t)ns / (1000000000ULL / ups);
    else {
        unsigned __int128 v = (unsigned __int128)(uint64_t)ns * (ups / 1000000000ULL);
        if (v > UINT64_MAX) { seterr(w, "timestamp does not fit"); return -1; }
        *out = (uint64_t)v;
    }
    return 0;
}

static int check_iface(kf_pcapng_w *w, uint32_t iface)
{
    if (w->failed) return -1;
    if (iface >= w->nifs) { seterr(w, "interface %u was not added", iface); return -1; }
    return 0;
}

int kf_pcapng_write_epb(kf_pcapng_w *w, const kf_epb *p)
{
    uint64_t ts;
    if (check_iface(w, p->iface) < 0 || to_units(w, p->iface, p->ts_ns, &ts) < 0) return -1;
    if (p->caplen && !p->data) { seterr(w, "packet without data"); return -1; }
    b_reset(w);
    uint8_t *h = b_grow(w, 20);
    if (h) {
        put32(h, p->iface);
        put32(h + 4, (uint32_t)(ts >> 32));
        put32(h + 8, (uint32_t)ts);
        put32(h + 12, p->caplen);
        put32(h + 16, p->origlen);   /* kept as given, even below caplen */
    }
    b_bytes(w, p->data, p->caplen);
    b_pad(w);
    int opts = 0;
    if (p->comment && *p->comment) { b_opt_str(w, OPT_COMMENT, p->comment); opts = 1; }
    for (size_t i = 0; i < p->ncomments; i++)
        if (p->comments[i] && *p->comments[i]) { b_opt_str(w, OPT_COMMENT, p->comments[i]); opts = 1; }
    if (p->has_flags) { uint8_t t[4]; put32(t, p->flags); b_opt(w, EPB_FLAGS, t, 4); opts = 1; }
    if (p->has_dropcount) { b_opt_u64(w, EPB_DROPCOUNT, p->dropcount); opts = 1; }
    if (opts) b_opt_end(w);
    return emit_block(w, BT_EPB);
}

int kf_pcapng_write_isb(kf_pcapng_w *w, uint32_t iface, int64_t ts_ns, int64_t start_ns,
                        uint64_t ifrecv, uint64_t ifdrop, uint64_t osdrop, uint64_t usrdeliv)
{
    uint64_t ts, st = 0;
    if (check_iface(w, iface) < 0 || to_units(w, iface, ts_ns, &ts) < 0) return -1;
    if (start_ns > 0 && to_units(w, iface, start_ns, &st) < 0) return -1;
    b_reset(w);
    b_u32(w, iface);
    b_u32(w, (uint32_t)(ts >> 32));
    b_u32(w, (uint32_t)ts);
    if (start_ns > 0) b_opt_ts(w, ISB_STARTTIME, st);
    b_opt_ts(w, ISB_ENDTIME, ts);
    if (ifrecv != UINT64_MAX) b_opt_u64(w, ISB_IFRECV, ifrecv);
    if (ifdrop != UINT64_MAX) b_opt_u64(w, ISB_IFDROP, ifdrop);
    if (osdrop != UINT64_MAX) b_opt_u64(w, ISB_OSDROP, osdrop);
    if (usrdeliv != UINT64_MAX) b_opt_u64(w, ISB_USRDELIV, usrdeliv);
    b_opt_end(w);
    return emit_block(w, BT_ISB);
}

int kf_pcapng_write_dsb(kf_pcapng_w *w, uint32_t type, const void *data, uint32_t len)
{
    if (w->failed) return -1;
    if (len && !data) { seterr(w, "secrets without data"); return -1; }
    b_reset(w);
    b_u32(w, type);
    b_u32(w, len);
    b_bytes(w, data, len);
    b_pad(w);
    return emit_block(w, BT_DSB);
}

int kf_pcapng_write_nrb(kf_pcapng_w *w, size_t n, const int *family, const uint8_t (*addr)[16],
                        const char *const *name)
{
    if (w->failed) return -1;
    b_reset(w);
    for (size_t i = 0; i < n; i++) {
        size_t alen = family[i] == 6 ? 16 : 4;
        if (family[i] != 4 && family[i] != 6) { seterr(w, "NRB record %zu: family %d", i, family[i]); return -1; }
        size_t nl = name[i] ? strlen(name[i]) : 0;
        if (alen + nl + 1 > 0xFFFF) nl = 0xFFFF - alen - 1;
        b_u16(w, family[i] == 6 ? NRB_IPV6 : NRB_IPV4);
        b_u16(w, (uint16_t)(alen + nl + 1));
        b_bytes(w, addr[i], alen);
        b_bytes(w, name[i] ? name[i] : "", nl);
        b_bytes(w, "", 1);
        b_pad(w);
    }
    b_u16(w, NRB_END);
    b_u16(w, 0);
    return emit_block(w, BT_NRB);
}

int kf_pcapng_flush(kf_pcapng_w *w)
{
    if (out_flush(w) < 0) return -1;
    if (fflush(w->f) != 0) {
        w->failed = 1;
        w->err_no = errno ? errno : EIO;
        seterr(w, "write error: %s", strerror(w->err_no));
        return -1;
    }
    return 0;
}

uint64_t kf_pcapng_bytes(const kf_pcapng_w *w) { return w->bytes; }

const char *kf_pcapng_error(const kf_pcapng_w *w) { return w->err; }

int kf_pcapng_close(kf_pcapng_w *w)
{
    if (!w) return -1;
    int r = kf_pcapng_flush(w);
    int e = w->err_no;
    if (w->failed) r = -1;
    free(w->buf);
    free(w->blk);
    free(w->ifs);
    free(w);
    if (r < 0) errno = e ? e : EIO;   /* the first write error, for the caller's message */
    return r;
}

/* ---------- classic pcap output through libpcap ---------- */

struct kf_pcap_out {
    pcap_t *pd;
    pcap_dumper_t *d;
    FILE *own;        /* our stream on a dup of the caller's descriptor; pcap_dump_close closes it */
    uint32_t snaplen;
    int failed, err_no;
    char err[256];
};

/* LINKTYPE_ value to libpcap's DLT_ value where they differ on this platform */
static int lt_to_dlt(int lt)
{
    switch (lt) {
    case 101: return DLT_RAW;
#ifdef DLT_LOOP
    case 108: return DLT_LOOP;
#endif
    default: return lt;
    }
}

kf_pcap_out *kf_pcap_out_open(FILE *f, int linktype, uint32_t snaplen, char *err, size_t errlen)
{
    kf_pcap_out *o = calloc(1, sizeof *o);
    if (!o) { snprintf(err, errlen, "out of memory"); return NULL; }
    o->snaplen = snaplen ? snaplen : 262144;
    o->pd = pcap_open_dead_with_tstamp_precision(lt_to_dlt(linktype), (int)o->snaplen,
                                                 PCAP_TSTAMP_PRECISION_NANO);
    if (!o->pd) { snprintf(err, errlen, "libpcap cannot write link type %d", linktype); free(o); return NULL; }
    if (fflush(f) != 0) { snprintf(err, errlen, "write error: %s", strerror(errno)); goto fail; }
    int fd = dup(fileno(f));
    if (fd < 0 || !(o->own = fdopen(fd, "w"))) {
        if (fd >= 0) close(fd);
        snprintf(err, errlen, "cannot open output: %s", strerror(errno));
        goto fail;
    }
    o->d = pcap_dump_fopen(o->pd, o->own);
    if (!o->d) {
        snprintf(err, errlen, "libpcap: %s", pcap_geterr(o->pd));
        fclose(o->own);
        goto fail;
    }
    return o;
fail:
    pcap_close(o->pd);
    free(o);
    return NULL;
}

int kf_pcap_out_write(kf_pcap_out *o, int64_t ts_ns, uint32_t caplen, uint32_t origlen,
                      const uint8_t *data)
{
    if (o->failed) return -1;
    if (ts_ns < 0) { snprintf(o->err, sizeof o->err, "timestamp before 1970 cannot be written"); return -1; }
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(ts_ns / 1000000000LL);
    h.ts.tv_usec = (suseconds_t)(ts_ns % 1000000000LL);   /* ns: the dumper is nanosecond */
    h.caplen = caplen > o->snaplen ? o->snaplen : caplen;
    h.len = origlen < caplen ? caplen : origlen;
    pcap_dump((u_char *)o->d, &h, data);
    if (ferror(o->own)) {
        o->failed = 1;
        o->err_no = errno ? errno : EIO;
        snprintf(o->err, sizeof o->err, "write error: %s", strerror(o->err_no));
        return -1;
    }
    return 0;
}

const char *kf_pcap_out_error(const kf_pcap_out *o) { return o->err; }

int kf_pcap_out_close(kf_pcap_out *o)
{
    if (!o) return -1;
    int r = o->failed ? -1 : 0, e = o->err_no;
    if (pcap_dump_flush(o->d) != 0 || ferror(o->own)) {
        r = -1;
        if (!e) e = errno ? errno : EIO;
    }
    pcap_dump_close(o->d);   /* closes o->own, not the caller's stream */
    pcap_close(o->pd);
    free(o);
    if (r < 0) errno = e ? e : EIO;   /* the first write error, for the caller's message */
    return r;
}
