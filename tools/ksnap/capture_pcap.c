/* capture_pcap.c — the libpcap (AF_PACKET) backend of ksnap capture, for where eBPF is not
 * allowed. Two handles per interface (pcap_setdirection in / out) so each packet keeps its
 * direction as the eBPF backend records it; loopback gets the inbound one only (libpcap itself
 * drops the outgoing copy there). -f is compiled on the live handle and runs in the kernel:
 * exactly tcpdump. */
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include "capture_int.h"
#include "kf_tool.h"

struct pcapbe_if {
    pcap_t *h[2];   /* 0 in, 1 out */
    uint64_t drops_seen[2];
};

static cap_ctx *g_ctx;

static int pc_init(cap_ctx *c, char *err, size_t errlen)
{
    g_ctx = c;
    return 0;
}

static pcap_t *open_dir(cap_ctx *c, cap_iface *ifc, pcap_direction_t d, char *err, size_t errlen)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(ifc->name, eb);
    if (!p) { snprintf(err, errlen, "%s", eb); return NULL; }
    pcap_set_snaplen(p, (int)c->snaplen);
    pcap_set_promisc(p, 0);   /* the eBPF path sees what the interface accepts; so do we */
    pcap_set_timeout(p, 100);
    pcap_set_buffer_size(p, c->ring_size ? (int)(c->ring_size / 2) : 16 << 20);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    int r = pcap_activate(p);
    if (r < 0) {
        snprintf(err, errlen, "%s", pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    if (pcap_setdirection(p, d) != 0 || pcap_setnonblock(p, 1, eb) != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    if (c->filter) {
        struct bpf_program fp;
        if (pcap_compile(p, &fp, c->filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(p, &fp) != 0) {
            snprintf(err, errlen, "-f: %s", pcap_geterr(p));
            pcap_close(p);
            return NULL;
        }
        pcap_freecode(&fp);
    }
    return p;
}

static int pc_attach(cap_ctx *c, cap_iface *ifc, char *err, size_t errlen)
{
    struct pcapbe_if *b = calloc(1, sizeof *b);
    if (!b) { snprintf(err, errlen, "out of memory"); return -1; }
    ifc->be = b;
    if (!(b->h[0] = open_dir(c, ifc, PCAP_D_IN, err, errlen))) return -1;
    if (!ifc->loopback && !(b->h[1] = open_dir(c, ifc, PCAP_D_OUT, err, errlen))) return -1;
    for (int k = 0; k < 2; k++)
        if (b->h[k]) {
            int dlt = pcap_datalink(b->h[k]);
            ifc->linktype = dlt == DLT_RAW ? 101 : dlt;   /* DLT_ and LINKTYPE_ agree otherwise here */
        }
    return 0;
}

static void pc_detach(cap_ctx *c, cap_iface *ifc)
{
    struct pcapbe_if *b = ifc->be;
    if (!b) return;
    for (int k = 0; k < 2; k++)
        if (b->h[k]) pcap_close(b->h[k]);
    free(b);
    ifc->be = NULL;
}

static int pc_fds(cap_ctx *c, int *fds, int max)
{
    int n = 0;
    for (size_t i = 0; i < c->nifs; i++) {
        struct pcapbe_if *b = c->ifs[i]->be;
        if (!b) continue;
        for (int k = 0; k < 2; k++)
            if (b->h[k] && n < max) fds[n++] = pcap_get_selectable_fd(b->h[k]);
    }
    return n;
}

struct pc_arg { cap_iface *ifc; int dir; };

static void on_pkt(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct pc_arg *a = (struct pc_arg *)user;
    int64_t ts = (int64_t)h->ts.tv_sec * 1000000000LL + h->ts.tv_usec;   /* ns precision set */
    cap_deliver(g_ctx, a->ifc, ts, a->dir, bytes, h->caplen, h->len);
}

static int pc_consume(cap_ctx *c)
{
    for (size_t i = 0; i < c->nifs; i++) {
        cap_iface *ifc = c->ifs[i];
        struct pcapbe_if *b = ifc->be;
        if (!b) continue;
        for (int k = 0; k < 2; k++) {
            if (!b->h[k]) continue;
            struct pc_arg a = { ifc, k == 0 ? 1 : 2 };
            int r = pcap_dispatch(b->h[k], -1, on_pkt, (u_char *)&a);
            if (r == PCAP_ERROR) {
                kf_err("%s: %s", ifc->name, pcap_geterr(b->h[k]));
                pcap_close(b->h[k]);   /* the interface went away under us */
                b->h[k] = NULL;
            }
        }
    }
    return 0;
}

static void pc_poll_drops(cap_ctx *c)
{
    for (size_t i = 0; i < c->nifs; i++) {
        cap_iface *ifc = c->ifs[i];
        struct pcapbe_if *b = ifc->be;
        if (!b) continue;
        for (int k = 0; k < 2; k++) {
            struct pcap_stat st;
            if (!b->h[k] || pcap_stats(b->h[k], &st) != 0) continue;
            uint64_t d = (uint64_t)st.ps_drop;
            if (d > b->drops_seen[k]) {
                cap_add_drops(c, ifc, d - b->drops_seen[k]);
                b->drops_seen[k] = d;
            }
        }
    }
}

static void pc_fini(cap_ctx *c) { (void)c; }

const cap_backend cap_backend_pcap = {
    .name = "pcap", .init = pc_init, .attach = pc_attach, .detach = pc_detach, .fds = pc_fds,
    .consume = pc_consume, .poll_drops = pc_poll_drops, .fini = pc_fini,
};
