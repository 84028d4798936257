/* kexport -f: tcpdump's filter syntax, compiled by libpcap once for each link type met, applied
 * with pcap_offline_filter exactly as `tcpdump -r FILE FILTER` applies it (optimizer on,
 * netmask 0 as tcpdump uses for saved files). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kexport.h"

typedef struct lt_prog {
    int linktype;
    int ok;
    struct bpf_program prog;
} lt_prog;

struct kx_bpf {
    char *expr;
    lt_prog *v;
    size_t n, cap;
    size_t last;            /* index of the last link type used */
    char **warn;            /* queued messages */
    size_t nwarn, warn_pos;
    char *first_error;
    char *popped;           /* the message handed out last */
};

/* libpcap maps pcap-file LINKTYPE_ values to its DLT_ values only when it opens a file, and the
 * mapping is not exported: so open a header-only pcap file held in memory. The handle then also
 * serves pcap_compile and pcap_dump_fopen with the DLT libpcap itself chose. */
pcap_t *kx_pcap_for_linktype(int linktype, uint32_t snaplen, int nano, char *err, size_t errlen)
{
    /* pcap file header in host byte order: magic, version 2.4, thiszone, sigfigs, snaplen,
     * linktype */
    uint8_t hdr[24];
    uint32_t magic = 0xa1b2c3d4u, zero = 0, snap = snaplen ? snaplen : 262144u,
             lt = (uint32_t)linktype;
    uint16_t vmaj = 2, vmin = 4;
    memcpy(hdr, &magic, 4);
    memcpy(hdr + 4, &vmaj, 2);
    memcpy(hdr + 6, &vmin, 2);
    memcpy(hdr + 8, &zero, 4);
    memcpy(hdr + 12, &zero, 4);
    memcpy(hdr + 16, &snap, 4);
    memcpy(hdr + 20, &lt, 4);
    /* fmemopen(NULL, …) owns its buffer; it is freed when pcap_close closes the stream */
    FILE *f = fmemopen(NULL, sizeof hdr, "w+");
    if (!f) { snprintf(err, errlen, "fmemopen: %s", strerror(errno)); return NULL; }
    if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "fmemopen: %s", strerror(errno));
        fclose(f);
        return NULL;
    }
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(
        f, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!p) {
        snprintf(err, errlen, "link type %d: %s", linktype, ebuf);
        fclose(f);
        return NULL;
    }
    return p;   /* pcap_close closes f */
}

const char *kx_linktype_name(int linktype, char *buf, size_t len)
{
    char err[256];
    pcap_t *p = kx_pcap_for_linktype(linktype, 0, 0, err, sizeof err);
    const char *n = p ? pcap_datalink_val_to_name(pcap_datalink(p)) : NULL;
    if (n) snprintf(buf, len, "%s (%d)", n, linktype);
    else snprintf(buf, len, "%d", linktype);
    if (p) pcap_close(p);
    return buf;
}

static void queue_warning(kx_bpf *b, const char *msg)
{
    char **nw = realloc(b->warn, (b->nwarn + 1) * sizeof *nw);
    if (!nw) return;
    b->warn = nw;
    b->warn[b->nwarn] = strdup(msg);
    if (b->warn[b->nwarn]) b->nwarn++;
}

/* Compiles expr for one link type into *prog. 0, or -1 with libpcap's message. */
static int compile_for(const char *expr, int linktype, struct bpf_program *prog, char *err,
                       size_t errlen)
{
    pcap_t *p = kx_pcap_for_linktype(linktype, 262144, 0, err, errlen);
    if (!p) return -1;
    int rc = pcap_compile(p, prog, expr, 1, 0);
    if (rc != 0) snprintf(err, errlen, "%s", pcap_geterr(p));
    pcap_close(p);
    return rc == 0 ? 0 : -1;
}

kx_bpf *kx_bpf_new(const char *expr, char *err, size_t errlen)
{
    /* A syntax error is one on every link type: find it now, before any output. Messages that
     * are about the link type (e.g. "802.11 link-layer types supported only on 802.11") are
     * left for the link types actually met. */
    struct bpf_program prog;
    char msg[PCAP_ERRBUF_SIZE + 64];
    if (compile_for(expr, KF_LT_EN10MB, &prog, msg, sizeof msg) == 0) {
        pcap_freecode(&prog);
    } else if (strstr(msg, "syntax error") || strstr(msg, "unknown") ||
               strstr(msg, "illegal") || strstr(msg, "parse")) {
        snprintf(err, errlen, "%s", msg);
        return NULL;
    }
    kx_bpf *b = calloc(1, sizeof *b);
    if (!b || !(b->expr = strdup(expr))) {
        free(b);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return b;
}

static lt_prog *find(kx_bpf *b, int linktype)
{
    if (b->n && b->v[b->last].linktype == linktype) return &b->v[b->last];
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].linktype == linktype) { b->last = i; return &b->v[i]; }
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4;
        lt_prog *nv = realloc(b->v, nc * sizeof *nv);
        if (!nv) return NULL;
        b->v = nv;
        b->cap = nc;
    }
    lt_prog *e = &b->v[b->n];
    memset(e, 0, sizeof *e);
    e->linktype = linktype;
    char msg[PCAP_ERRBUF_SIZE + 64];
    if (compile_for(b->expr, linktype, &e->prog, msg, sizeof msg) == 0) {
        e->ok = 1;
    } else {
        char ln[64], w[PCAP_ERRBUF_SIZE + 512];
        snprintf(w, sizeof w, "filter '%s' cannot be used on link type %s: %s; "
                 "its packets are not exported", b->expr,
                 kx_linktype_name(linktype, ln, sizeof ln), msg);
        queue_warning(b, w);
        if (!b->first_error) b->first_error = strdup(msg);
    }
    b->last = b->n++;
    return e;
}

int kx_bpf_prepare(kx_bpf *b, int linktype)
{
    lt_prog *e = find(b, linktype);
    return e && e->ok ? 0 : -1;
}

int kx_bpf_match(kx_bpf *b, int linktype, const uint8_t *data, uint32_t caplen, uint32_t origlen)
{
    lt_prog *e = find(b, linktype);
    if (!e || !e->ok) return 0;
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.caplen = caplen;
    h.len = origlen;
    return pcap_offline_filter(&e->prog, &h, data) != 0;
}

size_t kx_bpf_ok_count(const kx_bpf *b)
{
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) k += b->v[i].ok;
    return k;
}

size_t kx_bpf_failed_count(const kx_bpf *b) { return b->n - kx_bpf_ok_count(b); }

const char *kx_bpf_warning(kx_bpf *b)
{
    if (b->warn_pos >= b->nwarn) return NULL;
    free(b->popped);
    b->popped = b->warn[b->warn_pos];
    b->warn[b->warn_pos++] = NULL;
    return b->popped;
}

const char *kx_bpf_first_error(const kx_bpf *b) { return b->first_error ? b->first_error : ""; }

void kx_bpf_free(kx_bpf *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].ok) pcap_freecode(&b->v[i].prog);
    for (size_t i = 0; i < b->nwarn; i++) free(b->warn[i]);
    free(b->warn);
    free(b->popped);
    free(b->v);
    free(b->first_error);
    free(b->expr);
    free(b);
}
