/* capture_ebpf.c — the eBPF backend of ksnap capture: bpf/capture.bpf.c on TC clsact ingress and
 * egress of each interface, one shared ring buffer. libbpf-bootstrap's tc.c way: create the
 * clsact hook tolerating EEXIST, remember what we created, remove only that on exit. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/types.h>
#include "../../bpf/capture.h"
#include "capture.skel.h"
#include "capture_int.h"
#include "kf_tool.h"

struct ebpf_if {
    struct bpf_tc_hook hook;
    struct bpf_tc_opts in, out;
    int has_in, has_out, created_hook;
    uint64_t drops_seen;
};

static struct capture_bpf *skel;
static cap_ctx *g_ctx;
static int64_t g_offset;         /* realtime - monotonic for this round */
static uint64_t g_events;
#define BATCH_MAX 65536           /* then back to the main loop (signals, flushes, stats) */

/* The ring buffer, read here rather than through libbpf's ring_buffer__consume: libbpf (1.1)
 * publishes the consumer position after every record, and that cache line is the one the
 * producing CPU reads on every reserve; here it is published every ring/64 bytes and at the end of
 * a batch. The layout is the kernel's (kernel/bpf/ringbuf.c, BPF_RINGBUF_* in linux/bpf.h):
 * page 0 the consumer position (ours to write), page 1 the producer position, then the data
 * area mapped twice in a row so that a record wrapping around reads as one piece. Each record:
 * u32 length (BUSY bit while the producer writes it, DISCARD bit), u32 page offset, the data,
 * rounded up to 8 bytes. */
static struct {
    int map_fd, epfd;
    unsigned long *cons, *prod;
    uint8_t *data;
    size_t size, mask, publish;
    void *cons_page, *prod_pages;
    size_t page, prod_len;
} ring = { .map_fd = -1, .epfd = -1 };

static void ring_close(void)
{
    if (ring.cons_page) munmap(ring.cons_page, ring.page);
    if (ring.prod_pages) munmap(ring.prod_pages, ring.prod_len);
    if (ring.epfd >= 0) close(ring.epfd);
    ring.cons_page = ring.prod_pages = NULL;
    ring.epfd = -1;
}

static int ring_open(int map_fd, size_t size)
{
    ring.map_fd = map_fd;
    ring.size = size;
    ring.mask = size - 1;
    ring.publish = size / 64;
    ring.page = (size_t)sysconf(_SC_PAGESIZE);
    ring.prod_len = ring.page + 2 * size;
    ring.cons_page = mmap(NULL, ring.page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
    if (ring.cons_page == MAP_FAILED) { ring.cons_page = NULL; return -1; }
    ring.prod_pages = mmap(NULL, ring.prod_len, PROT_READ, MAP_SHARED, map_fd, (off_t)ring.page);
    if (ring.prod_pages == MAP_FAILED) { ring.prod_pages = NULL; ring_close(); return -1; }
    ring.cons = ring.cons_page;
    ring.prod = ring.prod_pages;
    ring.data = (uint8_t *)ring.prod_pages + ring.page;
    /* epoll rather than poll on the map itself: the program wakes us only once enough is
     * waiting, and epoll reports the map ready on those wake-ups */
    ring.epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    if (ring.epfd < 0 || epoll_ctl(ring.epfd, EPOLL_CTL_ADD, map_fd, &ev) != 0) { ring_close(); return -1; }
    return 0;
}

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
    if (lvl == LIBBPF_DEBUG && kf_verbose < 2) return 0;
    if (!kf_verbose) return 0;
    return vfprintf(stderr, fmt, ap);
}

static cap_iface *last_ifc;   /* the interface of the previous record, within one consume */

static void on_event(const void *data, size_t size)
{
    const struct kf_cap_event *e = data;
    if (size < sizeof *e || e->caplen > size - sizeof *e) return;
    cap_iface *ifc = last_ifc;
    if (!ifc || ifc->ifindex != (int)e->ifindex) {
        ifc = cap_iface_by_index(g_ctx, (int)e->ifindex);
        if (!ifc) return;   /* an interface we let go */
        last_ifc = ifc;
    }
    g_events++;
    const uint8_t *pkt = (const uint8_t *)(e + 1);
    uint32_t caplen = e->caplen, len = e->len;
    if (e->vlan_present && ifc->linktype == 1 && caplen >= 12) {
        /* the kernel keeps an offloaded 802.1Q tag beside the packet; put it back in the
         * bytes as AF_PACKET/libpcap do, so the file holds what was on the wire */
        cap_ctx *c = g_ctx;
        if (c->vbuf_len < caplen + 4) {
            unsigned char *nb = realloc(c->vbuf, caplen + 4);
            if (!nb) return;
            c->vbuf = nb;
            c->vbuf_len = caplen + 4;
        }
        uint16_t proto = e->vlan_proto, tci = e->vlan_tci;   /* proto: network order already */
        memcpy(c->vbuf, pkt, 12);
        memcpy(c->vbuf + 12, &proto, 2);
        c->vbuf[14] = (uint8_t)(tci >> 8);
        c->vbuf[15] = (uint8_t)tci;
        memcpy(c->vbuf + 16, pkt + 12, caplen - 12);
        pkt = c->vbuf;
        caplen += 4;
        len += 4;
    }
    cap_deliver(g_ctx, ifc, (int64_t)e->ts_mono + g_offset, e->dir, pkt, caplen, len);
}

static int eb_init(cap_ctx *c, char *err, size_t errlen)
{
    g_ctx = c;
    libbpf_set_print(libbpf_print);
    skel = capture_bpf__open();
    if (!skel) {
        snprintf(err, errlen, "cannot open the BPF object: %s", strerror(errno));
        return errno == EPERM ? -2 : -1;
    }
    skel->rodata->cap_len = c->cap_len;
    /* each wake-up costs the reader a few microseconds: one per quarter of the ring, which
     * leaves the other three quarters for the time it takes to get going */
    skel->rodata->wake_bytes = (c->ring_size ? c->ring_size : 32 << 20) / 4;
    if (c->ring_size) bpf_map__set_max_entries(skel->maps.events, (uint32_t)c->ring_size);
    int r = capture_bpf__load(skel);
    if (r) {
        snprintf(err, errlen, "cannot load the BPF programs: %s", strerror(-r));
        capture_bpf__destroy(skel);
        skel = NULL;
        return (r == -EPERM || r == -EACCES) ? -2 : -1;
    }
    if (ring_open(bpf_map__fd(skel->maps.events), bpf_map__max_entries(skel->maps.events)) != 0) {
        snprintf(err, errlen, "cannot map the ring buffer: %s", strerror(errno));
        capture_bpf__destroy(skel);
        skel = NULL;
        return -1;
    }
    return 0;
}

static int tc_attach_one(struct bpf_tc_hook *h, enum bpf_tc_attach_point ap, int fd,
                         struct bpf_tc_opts *o)
{
    h->attach_point = ap;
    memset(o, 0, sizeof *o);
    o->sz = sizeof *o;
    o->prog_fd = fd;
    return bpf_tc_attach(h, o);
}

static void tc_detach_one(struct bpf_tc_hook *h, enum bpf_tc_attach_point ap, struct bpf_tc_opts *o)
{
    h->attach_point = ap;
    struct bpf_tc_opts d = { .sz = sizeof d, .handle = o->handle, .priority = o->priority };
    bpf_tc_detach(h, &d);
}

static int eb_attach(cap_ctx *c, cap_iface *ifc, char *err, size_t errlen)
{
    struct ebpf_if *b = calloc(1, sizeof *b);
    if (!b) { snprintf(err, errlen, "out of memory"); return -1; }
    b->hook.sz = sizeof b->hook;
    b->hook.ifindex = ifc->ifindex;
    b->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
    int r = bpf_tc_hook_create(&b->hook);
    if (r && r != -EEXIST) {
        snprintf(err, errlen, "cannot create the clsact hook: %s", strerror(-r));
        free(b);
        return -1;
    }
    b->created_hook = r == 0;
    {   /* counts of an older interface with the same index are not ours */
        int ncpu = libbpf_num_possible_cpus();
        __u32 key = (__u32)ifc->ifindex;
        if (ncpu > 0) {
            struct kf_cap_counts vals[ncpu];
            if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.drops), &key, vals) == 0)
                for (int k = 0; k < ncpu; k++) b->drops_seen += vals[k].drops;
        }
    }
    r = tc_attach_one(&b->hook, BPF_TC_INGRESS, bpf_program__fd(skel->progs.ksnap_ingress), &b->in);
    if (!r) b->has_in = 1;
    /* loopback: a packet passes egress, then ingress; keep it once, as tcpdump does (libpcap
     * drops the outgoing copy on the loopback device) */
    if (!r && !ifc->loopback) {
        r = tc_attach_one(&b->hook, BPF_TC_EGRESS, bpf_program__fd(skel->progs.ksnap_egress), &b->out);
        if (!r) b->has_out = 1;
    }
    ifc->be = b;
    if (r) {
        snprintf(err, errlen, "cannot attach the TC filter: %s", strerror(-r));
        return -1;   /* caller detaches what did attach */
    }
    return 0;
}

static void eb_detach(cap_ctx *c, cap_iface *ifc)
{
    struct ebpf_if *b = ifc->be;
    if (!b) return;
    if (!ifc->gone) {
        if (b->has_in) tc_detach_one(&b->hook, BPF_TC_INGRESS, &b->in);
        if (b->has_out) tc_detach_one(&b->hook, BPF_TC_EGRESS, &b->out);
        /* the clsact qdisc goes only if we made it and nobody else hung a filter on it since */
        if (b->created_hook && nl_count_tc_filters(ifc->ifindex, 0) == 0 &&
            nl_count_tc_filters(ifc->ifindex, 1) == 0) {
            b->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
            bpf_tc_hook_destroy(&b->hook);
        }
    }
    free(b);
    ifc->be = NULL;
}

static int eb_fds(cap_ctx *c, int *fds, int max)
{
    if (max < 1) return 0;
    fds[0] = ring.epfd;
    return 1;
}

static int eb_consume(cap_ctx *c)
{
    g_offset = cap_mono_to_real();
    last_ifc = NULL;
    unsigned long cons = *ring.cons, published = cons;
    unsigned long prod = __atomic_load_n(ring.prod, __ATOMIC_ACQUIRE);
    unsigned n = 0;
    int more = 0;
    while (cons < prod) {
        const uint32_t *hdr = (const uint32_t *)(ring.data + (cons & ring.mask));
        uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
        if (len & BPF_RINGBUF_BUSY_BIT) break;   /* being written: the next round */
        uint32_t dlen = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
        if (dlen > ring.size) return -1;          /* cannot happen with a sane kernel */
        if (!(len & BPF_RINGBUF_DISCARD_BIT)) on_event(hdr + 2, dlen);
        cons += (dlen + BPF_RINGBUF_HDR_SZ + 7) & ~7ul;
        if (cons - published >= ring.publish) {
            __atomic_store_n(ring.cons, cons, __ATOMIC_RELEASE);
            published = cons;
        }
        if (cons == prod) prod = __atomic_load_n(ring.prod, __ATOMIC_ACQUIRE);
        if (++n >= BATCH_MAX) { more = cons < prod; break; }
    }
    __atomic_store_n(ring.cons, cons, __ATOMIC_RELEASE);
    return more;
}

static void eb_poll_drops(cap_ctx *c)
{
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) return;
    struct kf_cap_counts vals[ncpu];
    int fd = bpf_map__fd(skel->maps.drops);
    for (size_t i = 0; i < c->nifs; i++) {
        cap_iface *ifc = c->ifs[i];
        struct ebpf_if *b = ifc->be;
        if (!b) continue;
        __u32 key = (__u32)ifc->ifindex;
        if (bpf_map_lookup_elem(fd, &key, vals) != 0) continue;
        uint64_t sum = 0;
        for (int k = 0; k < ncpu; k++) sum += vals[k].drops;
        if (sum > b->drops_seen) {
            cap_add_drops(c, ifc, sum - b->drops_seen);
            b->drops_seen = sum;
        }
    }
}

static void eb_fini(cap_ctx *c)
{
    ring_close();
    if (skel) capture_bpf__destroy(skel);
    skel = NULL;
}

int ebpf_attach_record(cap_ctx *c, char *buf, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < c->nifs && o + 96 < len; i++) {
        struct ebpf_if *b = c->ifs[i]->be;
        if (!b || !c->ifs[i]->attached) continue;
        if (b->has_in)
            o += (size_t)snprintf(buf + o, len - o, "%d ingress %u %u %d\n", c->ifs[i]->ifindex,
                                  b->in.handle, b->in.priority, b->created_hook);
        if (b->has_out)
            o += (size_t)snprintf(buf + o, len - o, "%d egress %u %u %d\n", c->ifs[i]->ifindex,
                                  b->out.handle, b->out.priority, b->created_hook);
    }
    return (int)o;
}

/* 1 if the filter at (hook, handle, prio) runs ksnap_ingress or ksnap_egress: the filter's
 * name, which libbpf sets to "<program>:[<id>]" (readable without CAP_SYS_ADMIN) */
static int is_ours(struct bpf_tc_hook *h, uint32_t handle, uint32_t prio)
{
    char name[128];
    if (nl_tc_filter_name(h->ifindex, h->attach_point == BPF_TC_EGRESS, handle, prio, name,
                          sizeof name) != 0)
        return 0;
    return !strncmp(name, "ksnap_ingress:", 14) || !strncmp(name, "ksnap_egress:", 13);
}

void ebpf_cleanup_stale(const char *text, int verbose)
{
    const char *p = strchr(text, '\n');   /* skip the pid line */
    while (p && *++p) {
        int ifindex, created;
        char dir[16];
        unsigned handle, prio;
        if (sscanf(p, "%d %15s %u %u %d", &ifindex, dir, &handle, &prio, &created) == 5) {
            struct bpf_tc_hook h = { .sz = sizeof h, .ifindex = ifindex,
                                     .attach_point = !strcmp(dir, "egress") ? BPF_TC_EGRESS : BPF_TC_INGRESS };
            if (is_ours(&h, handle, prio)) {
                struct bpf_tc_opts d = { .sz = sizeof d, .handle = handle, .priority = prio };
                if (bpf_tc_detach(&h, &d) == 0 && verbose)
                    kf_warn("ifindex %d: removed the %s filter a killed capture left", ifindex, dir);
                if (created && nl_count_tc_filters(ifindex, 0) == 0 && nl_count_tc_filters(ifindex, 1) == 0) {
                    h.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
                    bpf_tc_hook_destroy(&h);
                }
            }
        }
        p = strchr(p, '\n');
    }
}

const cap_backend cap_backend_ebpf = {
    .name = "ebpf", .init = eb_init, .attach = eb_attach, .detach = eb_detach, .fds = eb_fds,
    .consume = eb_consume, .poll_drops = eb_poll_drops, .fini = eb_fini,
};
