/* capture_pcap.c — the libpcap (AF_PACKET) backend of ksnap capture, for where eBPF is not
 * allowed. Two handles per interface (pcap_setdirection in / out) so each packet keeps its
 * direction as the eBPF backend records it; loopback gets the inbound one only (libpcap itself
 * drops the outgoing copy there). -f is compiled on the live handle and runs in the kernel:
 * exactly tcpdump.
 *
 * Order: the kernel hands a handle's packets over in blocks (TPACKET_V3), a block once it is full
 * or its timer (TOV_MS) has run out, for two periods at most (the timer retires a block it found
 * open at its previous run). Read as they come, one handle's block would go into the segment
 * before older packets of the other direction still in an open block. So packets are held in a
 * heap by time stamp and written once HOLD_NS old (more than two periods and the time the kernel
 * may take to hand a packet to the socket), or sooner when more than HOLD_MAX_BYTES wait. "Old"
 * is measured on the monotonic clock, so a step of the wall clock cannot keep packets held.
 * At stop, the handles are read for two periods and a margin more (DRAIN_NS), so every block the
 * kernel had is retired and read, then everything held is written, in order. */
#include <poll.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "capture_int.h"
#include "kf_grow.h"
#include "kf_time.h"
#include "kf_tool.h"

#define TOV_MS 20
#define HOLD_NS (120 * 1000000LL)
#define DRAIN_NS (2 * TOV_MS * 1000000LL + 80 * 1000000LL)
#define HOLD_MAX_BYTES (64u << 20)

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
    pcap_set_timeout(p, TOV_MS);   /* the block timer (see above) */
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

/* ---- the packets held back, a min-heap by (time stamp, arrival) ---- */
typedef struct held {
    int64_t ts;
    int64_t due;        /* monotonic ns when it may be written */
    uint64_t seq;
    cap_iface *ifc;
    int dir;
    uint32_t caplen, origlen;
    uint8_t data[];
} held;
static held **heap;
static size_t nheap, heapcap;
static uint64_t held_bytes, seqno;
static int64_t real_minus_mono;   /* at the current read */

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * KF_NS_PER_SEC + t.tv_nsec;
}

static int held_lt(const held *a, const held *b) { return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq); }

static int heap_push(held *h)
{
    held **nv = kf_grow(heap, &heapcap, nheap + 1, sizeof *nv);
    if (!nv) return -1;
    heap = nv;
    size_t i = nheap++;
    while (i > 0 && held_lt(h, heap[(i - 1) / 2])) { heap[i] = heap[(i - 1) / 2]; i = (i - 1) / 2; }
    heap[i] = h;
    held_bytes += h->caplen;
    return 0;
}

static held *heap_pop(void)
{
    held *top = heap[0], *last = heap[--nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l >= nheap) break;
        m = l + 1 < nheap && held_lt(heap[l + 1], heap[l]) ? l + 1 : l;
        if (!held_lt(heap[m], last)) break;
        heap[i] = heap[m];
        i = m;
    }
    if (nheap) heap[i] = last;
    held_bytes -= top->caplen;
    return top;
}

/* writes the held packets due by `now` (monotonic; all: INT64_MAX), oldest first */
static void release_held(cap_ctx *c, int64_t now)
{
    while (nheap && (heap[0]->due <= now || held_bytes > HOLD_MAX_BYTES)) {
        held *h = heap_pop();
        cap_deliver(c, h->ifc, h->ts, h->dir, h->data, h->caplen, h->origlen);
        free(h);
    }
}

static void pc_detach(cap_ctx *c, cap_iface *ifc)
{
    struct pcapbe_if *b = ifc->be;
    if (!b) return;
    release_held(c, INT64_MAX);   /* some may be this interface's, which may be forgotten next */
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
    held *p = malloc(sizeof *p + h->caplen);
    if (!p) {   /* written now, out of order, rather than lost */
        cap_deliver(g_ctx, a->ifc, ts, a->dir, bytes, h->caplen, h->len);
        return;
    }
    *p = (held){ .ts = ts, .due = ts - real_minus_mono + HOLD_NS, .seq = seqno++, .ifc = a->ifc, .dir = a->dir, .caplen = h->caplen, .origlen = h->len };
    memcpy(p->data, bytes, h->caplen);
    if (heap_push(p) != 0) {
        cap_deliver(g_ctx, a->ifc, ts, a->dir, bytes, h->caplen, h->len);
        free(p);
    }
}

static void read_all(cap_ctx *c)
{
    real_minus_mono = kf_now_ns() - mono_ns();
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
}

static int pc_consume(cap_ctx *c)
{
    read_all(c);
    release_held(c, mono_ns());
    return 0;
}

/* at stop: every block the kernel still has, then all that is held, in order */
static void pc_drain(cap_ctx *c)
{
    int64_t end = mono_ns() + DRAIN_NS;
    for (;;) {
        read_all(c);
        int64_t left = end - mono_ns();
        if (left <= 0) break;
        int fds[510];
        struct pollfd pf[510];
        int n = pc_fds(c, fds, 510);
        for (int i = 0; i < n; i++) pf[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
        poll(pf, (nfds_t)n, (int)(left / 1000000) + 1);
    }
    release_held(c, INT64_MAX);
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

static void pc_fini(cap_ctx *c)
{
    release_held(c, INT64_MAX);   /* nothing is held by now (drain, detach); as a guard */
    free(heap);
    heap = NULL;
    nheap = heapcap = 0;
}

const cap_backend cap_backend_pcap = {
    .name = "pcap", .init = pc_init, .attach = pc_attach, .detach = pc_detach, .fds = pc_fds,
    .consume = pc_consume, .poll_drops = pc_poll_drops, .fini = pc_fini, .drain = pc_drain,
};
