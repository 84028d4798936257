/* kexport output: pcapng through kf_pcapng (one IDB per (node, interface, link type), named
 * "node/interface"; NRB, DSB, packet comments), or classic pcap through kf_pcap_out (libpcap's
 * pcap_dump, nanosecond timestamps, one link type). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "kexport.h"
#include "kf_pcapng.h"
#include "kf_time.h"
#include "kf_tool.h"

typedef struct out_if {
    char *node, *name;
    int linktype;
    int capture;            /* enum kf_capture */
    int id;
} out_if;

struct kx_out {
    kx_out_opts o;
    FILE *f;
    kf_pcapng_w *png;
    /* pcap */
    kf_pcap_out *pcap;
    int pcap_linktype, default_linktype, default_capture;
    uint32_t default_snaplen;
    char *default_node, *default_name, *default_desc;
    /* interfaces */
    out_if *ifs;
    size_t nifs, capifs;
    int *by_src;            /* global source iface id -> output id, -1 unknown */
    size_t nby_src;
    int failed;
};

kx_out *kx_out_open(FILE *f, const kx_out_opts *o, char *err, size_t errlen)
{
    kx_out *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "out of memory"); return NULL; }
    w->o = *o;
    w->f = f;
    w->pcap_linktype = -1;
    w->default_linktype = KF_LT_EN10MB;
    w->default_capture = KF_CAP_UNKNOWN;
    if (o->format == KX_PCAPNG) {
        kf_shb_opts shb = { 0 };
        shb.userappl = "kforensics kexport " KF_VERSION;
        shb.comment = o->shb_comment;
        w->png = kf_pcapng_open(f, &shb);
        if (!w->png) {
            snprintf(err, errlen, "cannot start the pcapng output: %s", strerror(errno));
            free(w);
            return NULL;
        }
    }
    return w;
}

void kx_out_default_iface(kx_out *w, const kf_src_iface *f)
{
    if (!f) return;
    w->default_linktype = f->linktype;
    w->default_snaplen = f->snaplen;
    w->default_capture = f->capture;
    free(w->default_node);
    free(w->default_name);
    free(w->default_desc);
    w->default_node = f->node ? strdup(f->node) : NULL;
    w->default_name = f->name ? strdup(f->name) : NULL;
    w->default_desc = f->description ? strdup(f->description) : NULL;
}

static int pcap_start(kx_out *w, int linktype, uint32_t snaplen, char *err, size_t errlen)
{
    /* the header's snaplen must not cut what the inputs hold (tcpdump -w cuts nothing) */
    if (w->o.snaplen) snaplen = w->o.snaplen;
    else if (snaplen < 262144) snaplen = 262144;
    w->pcap = kf_pcap_out_open(w->f, linktype, snaplen, err, errlen);
    if (!w->pcap) return -1;
    w->pcap_linktype = linktype;
    return 0;
}

/* The output IDB for (node, interface name, link type, capture), written when new; it keeps
 * how the packets were captured in ksnap's "kforensics-capture:" comment (docs/store.md). */
static int iface_get(kx_out *w, const char *node, const char *name, int lt, uint32_t snaplen,
                     const char *description, int capture)
{
    int id = -1;
    for (size_t i = 0; i < w->nifs; i++)
        if (w->ifs[i].linktype == lt && w->ifs[i].capture == capture && !strcmp(w->ifs[i].node, node) &&
            !strcmp(w->ifs[i].name, name)) { id = w->ifs[i].id; break; }
    if (id < 0) {
        char full[512];
        if (*node) snprintf(full, sizeof full, "%s/%s", node, name);
        else snprintf(full, sizeof full, "%s", name);
        kf_idb_opts idb = { 0 };
        idb.linktype = lt;
        /* one snaplen for every IDB (unless an input's is larger): libpcap, and so tcpdump,
         * refuses a pcapng whose interfaces differ in snaplen */
        idb.snaplen = w->o.snaplen ? w->o.snaplen : (snaplen > 262144 ? snaplen : 262144);
        idb.name = full;
        idb.description = description;
        char cap[64] = "";
        if (kf_capture_name(capture)) snprintf(cap, sizeof cap, KF_CAPTURE_TAG "%s", kf_capture_name(capture));
        idb.comment = cap;
        idb.tsresol = 9;
        id = kf_pcapng_add_iface(w->png, &idb);
        if (id < 0) return -1;
        if (w->nifs == w->capifs) {
            size_t nc = w->capifs ? w->capifs * 2 : 8;
            out_if *nv = realloc(w->ifs, nc * sizeof *nv);
            if (!nv) return -1;
            w->ifs = nv;
            w->capifs = nc;
        }
        out_if *e = &w->ifs[w->nifs];
        e->node = strdup(node);
        e->name = strdup(name);
        if (!e->node || !e->name) { free(e->node); free(e->name); return -1; }
        e->linktype = lt;
        e->capture = capture;
        e->id = id;
        w->nifs++;
    }
    return id;
}

static int iface_for(kx_out *w, const kf_src_pkt *p)
{
    uint32_t gid = p->pkt.iface;
    if (gid < w->nby_src && w->by_src[gid] >= 0) return w->by_src[gid];
    const char *node = p->node ? p->node : (p->iface && p->iface->node ? p->iface->node : "");
    const char *name = p->iface && p->iface->name ? p->iface->name : "pcap";
    int id = iface_get(w, node, name, p->pkt.linktype, p->iface ? p->iface->snaplen : 0,
                       p->iface && p->iface->description ? p->iface->description : p->file,
                       p->iface ? p->iface->capture : KF_CAP_UNKNOWN);
    if (id < 0) return -1;
    if (gid >= w->nby_src) {
        size_t nn = gid + 16;
        int *nv = realloc(w->by_src, nn * sizeof *nv);
        if (!nv) return -1;
        for (size_t i = w->nby_src; i < nn; i++) nv[i] = -1;
        w->by_src = nv;
        w->nby_src = nn;
    }
    w->by_src[gid] = id;
    return id;
}

int kx_out_packet(kx_out *w, const kf_src_pkt *p, const char *const *comments, size_t ncomments,
                  char *err, size_t errlen)
{
    uint32_t caplen = p->pkt.caplen;
    if (w->o.snaplen && caplen > w->o.snaplen) caplen = w->o.snaplen;
    if (w->o.format == KX_PCAP) {
        if (w->pcap_linktype < 0) {
            if (pcap_start(w, p->pkt.linktype, p->iface ? p->iface->snaplen : 0, err, errlen) != 0)
                return -1;
        } else if (p->pkt.linktype != w->pcap_linktype) {
            char a[64], b[64];
            snprintf(err, errlen, "-F pcap holds one link type, but packets of link types %s "
                     "and %s match: use -F pcapng, or narrow the selection",
                     kx_linktype_name(w->pcap_linktype, a, sizeof a),
                     kx_linktype_name(p->pkt.linktype, b, sizeof b));
            return -2;
        }
        if (kf_pcap_out_write(w->pcap, p->pkt.ts_ns, caplen, p->pkt.origlen, p->pkt.data) != 0) {
            snprintf(err, errlen, "%s", kf_pcap_out_error(w->pcap));
            return -1;
        }
        return 0;
    }
    int id = iface_for(w, p);
    if (id < 0) {
        snprintf(err, errlen, "%s", kf_pcapng_error(w->png));
        return -1;
    }
    kf_epb e = { 0 };
    e.iface = (uint32_t)id;
    e.ts_ns = p->pkt.ts_ns;
    e.caplen = caplen;
    e.origlen = p->pkt.origlen;
    e.data = p->pkt.data;
    e.flags = p->pkt.flags;
    e.has_flags = p->pkt.has_flags;
    e.dropcount = p->pkt.dropcount;
    e.has_dropcount = p->pkt.dropcount != 0;
    /* ours first, each its own opt_comment (one per call), then the packet's own */
    const char *all[KX_MAX_COMMENTS + 1];
    size_t n = 0;
    for (size_t i = 0; i < ncomments && n < KX_MAX_COMMENTS; i++) if (comments[i]) all[n++] = comments[i];
    if (p->pkt.comment) all[n++] = p->pkt.comment;
    e.comment = n ? all[0] : NULL;
    e.comments = n > 1 ? all + 1 : NULL;
    e.ncomments = n > 1 ? n - 1 : 0;
    if (kf_pcapng_write_epb(w->png, &e) != 0) {
        snprintf(err, errlen, "%s", kf_pcapng_error(w->png));
        return -1;
    }
    return 0;
}

int kx_out_dsb(kx_out *w, uint32_t type, const void *data, uint32_t len)
{
    if (!w->png) return 1;
    return kf_pcapng_write_dsb(w->png, type, data, len);
}

int kx_out_nrb(kx_out *w, size_t n, const int *family, const uint8_t (*addr)[16],
               const char *const *name)
{
    if (!w->png || n == 0) return 0;
    return kf_pcapng_write_nrb(w->png, n, family, addr, name);
}

size_t kx_out_ifaces(const kx_out *w) { return w->o.format == KX_PCAP ? (w->pcap ? 1 : 0) : w->nifs; }

int kx_out_close(kx_out *w, char *err, size_t errlen)
{
    int rc = 0;
    if (w->o.format == KX_PCAP) {
        if (!w->pcap && pcap_start(w, w->default_linktype, w->default_snaplen, err, errlen) != 0)
            rc = -1;
        if (w->pcap && kf_pcap_out_close(w->pcap) != 0 && rc == 0) {
            snprintf(err, errlen, "%s", strerror(errno));
            rc = -1;
        }
    } else if (w->png) {
        if (w->nifs == 0 &&
            iface_get(w, w->default_node ? w->default_node : "",
                      w->default_name ? w->default_name : "pcap", w->default_linktype,
                      w->default_snaplen, w->default_desc, w->default_capture) < 0 && rc == 0) {
            snprintf(err, errlen, "%s", kf_pcapng_error(w->png));
            rc = -1;
        }
        if (kf_pcapng_close(w->png) != 0 && rc == 0) {
            snprintf(err, errlen, "%s", strerror(errno));
            rc = -1;
        }
    }
    for (size_t i = 0; i < w->nifs; i++) { free(w->ifs[i].node); free(w->ifs[i].name); }
    free(w->ifs);
    free(w->by_src);
    free(w->default_node);
    free(w->default_name);
    free(w->default_desc);
    free(w);
    return rc;
}
