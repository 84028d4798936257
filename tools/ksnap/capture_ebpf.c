/* capture_ebpf.c — the eBPF backend of ksnap capture: bpf/capture.bpf.c on TC clsact ingress and
 * egress of each interface, one shared ring buffer, read directly (see ring below). A shared
 * ring keeps the records of all CPUs in about time order; per-CPU rings (not tried) would need a
 * merge and pay off only when many CPUs contend for the ring's lock. libbpf-bootstrap's
 * tc.c way: create the clsact hook tolerating EEXIST, remember what we created, remove only that
 * on exit. -f is translated to eBPF and runs in front of the capture program where it can. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/filter.h>
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
static int filt_fd[2] = { -1, -1 };   /* -f in the kernel: ingress, egress; -1 none */
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

/* ---- -f in the kernel ----
 * libpcap compiles tcpdump's syntax to classic BPF only; the kernel converts classic BPF for
 * socket filters but not for TC programs. So the classic program is translated here into an
 * eBPF TC program that decides and, for a packet it keeps, tail-calls the capture program
 * (capture_progs); a packet it rejects costs neither a ring record nor user-space time.
 * Hand-written because no library translates classic BPF to eBPF outside the kernel.
 * Semantics are libpcap's pcap_filter() on the packet as user space would see it: A and X 32-bit,
 * M[16] zeroed, a load past the packet's end or a division by zero rejects, a return of 0
 * rejects, anything else keeps. A packet whose VLAN tag the kernel holds aside (the filter reads
 * it in the bytes) goes to user space undecided; user space applies the filter to every packet
 * anyway, so the kernel side only ever removes packets the filter rejects. An instruction
 * outside what libpcap emits for a capture file's link type (ancillary loads, shifts of 32 or
 * more) makes the translation give up: -f then runs in user space only, as before.
 * Registers: r6 the skb, r7 A, r8 X; stack: M[] at fp-64..fp-4, a load's bytes at fp-72. */
enum { XL_REJECT = -1, XL_ACCEPT = -2 };
typedef struct {
    struct bpf_insn *v;
    size_t n, cap;
    struct { size_t at; long target; } *fix;   /* jumps to patch: classic index or XL_* */
    size_t nfix, capfix;
    int bad;
} xl_t;

static void xl_emit(xl_t *x, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 256;
        struct bpf_insn *nv = realloc(x->v, nc * sizeof *nv);
        if (!nv) { x->bad = 1; return; }
        x->v = nv;
        x->cap = nc;
    }
    x->v[x->n++] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

/* a jump instruction whose offset is patched to reach target later */
static void xl_jump(xl_t *x, uint8_t code, uint8_t dst, uint8_t src, int32_t imm, long target)
{
    if (x->nfix == x->capfix) {
        size_t nc = x->capfix ? x->capfix * 2 : 256;
        void *nf = realloc(x->fix, nc * sizeof *x->fix);
        if (!nf) { x->bad = 1; return; }
        x->fix = nf;
        x->capfix = nc;
    }
    x->fix[x->nfix].at = x->n;
    x->fix[x->nfix++].target = target;
    xl_emit(x, code, dst, src, 0, imm);
}

#define R0 BPF_REG_0
#define R1 BPF_REG_1
#define R2 BPF_REG_2
#define R3 BPF_REG_3
#define R4 BPF_REG_4
#define R6 BPF_REG_6
#define RA BPF_REG_7
#define RX BPF_REG_8
#define FP BPF_REG_10
#define MEM_OFF(k) ((int16_t)(-4 * ((int)(k) + 1)))
#define SCRATCH (-72)
#define TC_ACT_UNSPEC_ (-1)   /* linux/pkt_cls.h: the next filter runs, as if we were not there */

/* load size bytes at r2 into the scratch slot, reject if past the end; then into dst */
static void xl_load(xl_t *x, int size, uint8_t dst)
{
    xl_emit(x, BPF_ALU64 | BPF_MOV | BPF_X, R1, R6, 0, 0);
    xl_emit(x, BPF_ALU64 | BPF_MOV | BPF_X, R3, FP, 0, 0);
    xl_emit(x, BPF_ALU64 | BPF_ADD | BPF_K, R3, 0, 0, SCRATCH);
    xl_emit(x, BPF_ALU64 | BPF_MOV | BPF_K, R4, 0, 0, size);
    xl_emit(x, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_load_bytes);
    xl_jump(x, BPF_JMP | BPF_JNE | BPF_K, R0, 0, 0, XL_REJECT);
    uint8_t sz = size == 4 ? BPF_W : size == 2 ? BPF_H : BPF_B;
    xl_emit(x, BPF_LDX | BPF_MEM | sz, dst, FP, SCRATCH, 0);
    if (size > 1) xl_emit(x, BPF_ALU | BPF_END | BPF_TO_BE, dst, 0, 0, size * 8);   /* network order */
}

/* Returns the eBPF program (caller frees) or NULL when the classic program cannot be translated. */
static struct bpf_insn *xl_translate(const struct sock_filter *f, unsigned len, int map_fd,
                                     int slot, size_t *out_n)
{
    xl_t x = { 0 };
    size_t *start = calloc(len + 1, sizeof *start);
    if (!start || !len) { free(start); return NULL; }
    xl_emit(&x, BPF_ALU64 | BPF_MOV | BPF_X, R6, R1, 0, 0);
    xl_emit(&x, BPF_ALU64 | BPF_MOV | BPF_K, RA, 0, 0, 0);
    xl_emit(&x, BPF_ALU64 | BPF_MOV | BPF_K, RX, 0, 0, 0);
    for (int k = 0; k < 16; k++) xl_emit(&x, BPF_ST | BPF_MEM | BPF_W, FP, 0, MEM_OFF(k), 0);
    xl_emit(&x, BPF_LDX | BPF_MEM | BPF_W, R0, R6, offsetof(struct __sk_buff, vlan_present), 0);
    xl_jump(&x, BPF_JMP | BPF_JNE | BPF_K, R0, 0, 0, XL_ACCEPT);
    for (unsigned i = 0; i < len && !x.bad; i++) {
        const struct sock_filter *in = &f[i];
        uint32_t k = in->k;
        start[i] = x.n;
        uint16_t cls = BPF_CLASS(in->code);
        switch (cls) {
        case BPF_LD: case BPF_LDX: {
            uint8_t dst = cls == BPF_LD ? RA : RX;
            int mode = BPF_MODE(in->code);
            int size = BPF_SIZE(in->code) == BPF_W ? 4 : BPF_SIZE(in->code) == BPF_H ? 2 : 1;
            if (mode == BPF_IMM) {
                xl_emit(&x, BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, (int32_t)k);
            } else if (mode == BPF_MEM) {
                if (k >= 16) x.bad = 1;
                else xl_emit(&x, BPF_LDX | BPF_MEM | BPF_W, dst, FP, MEM_OFF(k), 0);
            } else if (mode == BPF_LEN && BPF_SIZE(in->code) == BPF_W) {
                xl_emit(&x, BPF_LDX | BPF_MEM | BPF_W, dst, R6, offsetof(struct __sk_buff, len), 0);
            } else if (cls == BPF_LD && mode == BPF_ABS) {
                if (k > 0x7fffffff) { x.bad = 1; break; }   /* ancillary data: not for files */
                xl_emit(&x, BPF_ALU64 | BPF_MOV | BPF_K, R2, 0, 0, (int32_t)k);
                xl_load(&x, size, RA);
            } else if (cls == BPF_LD && mode == BPF_IND) {
                if (k > 0x7fffffff) { x.bad = 1; break; }
                xl_emit(&x, BPF_ALU64 | BPF_MOV | BPF_X, R2, RX, 0, 0);
                xl_emit(&x, BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, (int32_t)k);
                xl_jump(&x, BPF_JMP | BPF_JGT | BPF_K, R2, 0, 0x7fffffff, XL_REJECT);
                xl_load(&x, size, RA);
            } else if (cls == BPF_LDX && mode == BPF_MSH && size == 1) {
                if (k > 0x7fffffff) { x.bad = 1; break; }
                xl_emit(&x, BPF_ALU64 | BPF_MOV | BPF_K, R2, 0, 0, (int32_t)k);
                xl_load(&x, 1, RX);
                xl_emit(&x, BPF_ALU | BPF_AND | BPF_K, RX, 0, 0, 0xf);
                xl_emit(&x, BPF_ALU | BPF_LSH | BPF_K, RX, 0, 0, 2);
            } else {
                x.bad = 1;
            }
            break;
        }
        case BPF_ST: case BPF_STX:
            if (k >= 16) { x.bad = 1; break; }
            xl_emit(&x, BPF_STX | BPF_MEM | BPF_W, FP, cls == BPF_ST ? RA : RX, MEM_OFF(k), 0);
            break;
        case BPF_ALU: {
            int op = BPF_OP(in->code), src = BPF_SRC(in->code);
            if (op == BPF_NEG) { xl_emit(&x, BPF_ALU | BPF_NEG, RA, 0, 0, 0); break; }
            if (op != BPF_ADD && op != BPF_SUB && op != BPF_MUL && op != BPF_DIV && op != BPF_MOD &&
                op != BPF_OR && op != BPF_AND && op != BPF_XOR && op != BPF_LSH && op != BPF_RSH)
                { x.bad = 1; break; }
            if (src == BPF_K) {
                if ((op == BPF_DIV || op == BPF_MOD) && k == 0) { xl_jump(&x, BPF_JMP | BPF_JA, 0, 0, 0, XL_REJECT); break; }
                if ((op == BPF_LSH || op == BPF_RSH) && k >= 32) { x.bad = 1; break; }
                xl_emit(&x, BPF_ALU | op | BPF_K, RA, 0, 0, (int32_t)k);
            } else {
                if (op == BPF_DIV || op == BPF_MOD) xl_jump(&x, BPF_JMP32 | BPF_JEQ | BPF_K, RX, 0, 0, XL_REJECT);
                if (op == BPF_LSH || op == BPF_RSH) { x.bad = 1; break; }   /* X could be >= 32 */
                xl_emit(&x, BPF_ALU | op | BPF_X, RA, RX, 0, 0);
            }
            break;
        }
        case BPF_JMP: {
            int op = BPF_OP(in->code);
            if (op == BPF_JA) {
                if (k >= len - i - 1) { x.bad = 1; break; }
                xl_jump(&x, BPF_JMP | BPF_JA, 0, 0, 0, (long)(i + 1 + k));
                break;
            }
            if ((op != BPF_JEQ && op != BPF_JGT && op != BPF_JGE && op != BPF_JSET) ||
                i + 1 + in->jt >= len || i + 1 + in->jf >= len)
                { x.bad = 1; break; }
            if (BPF_SRC(in->code) == BPF_K)
                xl_jump(&x, BPF_JMP32 | op | BPF_K, RA, 0, (int32_t)k, (long)(i + 1 + in->jt));
            else
                xl_jump(&x, BPF_JMP32 | op | BPF_X, RA, RX, 0, (long)(i + 1 + in->jt));
            if (in->jf) xl_jump(&x, BPF_JMP | BPF_JA, 0, 0, 0, (long)(i + 1 + in->jf));
            break;
        }
        case BPF_RET:
            if (BPF_RVAL(in->code) == BPF_K) {
                xl_jump(&x, BPF_JMP | BPF_JA, 0, 0, 0, k ? XL_ACCEPT : XL_REJECT);
            } else if (BPF_RVAL(in->code) == BPF_A) {
                xl_jump(&x, BPF_JMP32 | BPF_JEQ | BPF_K, RA, 0, 0, XL_REJECT);
                xl_jump(&x, BPF_JMP | BPF_JA, 0, 0, 0, XL_ACCEPT);
            } else {
                x.bad = 1;
            }
            break;
        case BPF_MISC:
            if (BPF_MISCOP(in->code) == BPF_TAX) xl_emit(&x, BPF_ALU | BPF_MOV | BPF_X, RX, RA, 0, 0);
            else xl_emit(&x, BPF_ALU | BPF_MOV | BPF_X, RA, RX, 0, 0);
            break;
        default:
            x.bad = 1;
        }
    }
    /* a classic program ends in a return; falling off its end is not possible */
    size_t reject = x.n;
    xl_emit(&x, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, TC_ACT_UNSPEC_);
    xl_emit(&x, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    size_t accept = x.n;
    xl_emit(&x, BPF_ALU64 | BPF_MOV | BPF_X, R1, R6, 0, 0);
    xl_emit(&x, BPF_LD | BPF_DW | BPF_IMM, R2, BPF_PSEUDO_MAP_FD, 0, map_fd);
    xl_emit(&x, 0, 0, 0, 0, 0);
    xl_emit(&x, BPF_ALU64 | BPF_MOV | BPF_K, R3, 0, 0, slot);
    xl_emit(&x, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call);
    xl_emit(&x, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, TC_ACT_UNSPEC_);
    xl_emit(&x, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    for (size_t j = 0; j < x.nfix && !x.bad; j++) {
        long t = x.fix[j].target;
        size_t to = t == XL_REJECT ? reject : t == XL_ACCEPT ? accept : start[t];
        long off = (long)to - (long)x.fix[j].at - 1;
        if (off < 0 || off > 32767) x.bad = 1;
        else x.v[x.fix[j].at].off = (int16_t)off;
    }
    free(start);
    free(x.fix);
    if (x.bad) { free(x.v); return NULL; }
    *out_n = x.n;
    return x.v;
}

/* Loads the translated -f for both directions; on any failure -f stays in user space only. */
static void kfilter_load(cap_ctx *c)
{
    if (!c->kfilter || !c->kfilter_len) return;
    int pa = bpf_map__fd(skel->maps.capture_progs);
    int progs[2] = { bpf_program__fd(skel->progs.ksnap_ingress), bpf_program__fd(skel->progs.ksnap_egress) };
    static const char *names[2] = { "ksnap_ingress", "ksnap_egress" };   /* ours, for cleanup */
    for (int d = 0; d < 2; d++) {
        __u32 key = (__u32)d;
        if (bpf_map_update_elem(pa, &key, &progs[d], BPF_ANY) != 0) goto fail;
        size_t n;
        struct bpf_insn *v = xl_translate(c->kfilter, c->kfilter_len, pa, d, &n);
        if (!v) goto fail;
        int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, names[d], "GPL", v, n, NULL);
        free(v);
        if (fd < 0) goto fail;
        filt_fd[d] = fd;
    }
    if (c->verbose) kf_warn("-f runs in the kernel (and in user space on what it keeps)");
    return;
fail:
    for (int d = 0; d < 2; d++) {
        if (filt_fd[d] >= 0) close(filt_fd[d]);
        filt_fd[d] = -1;
    }
    if (c->verbose) kf_warn("-f runs in user space only (the kernel would not take it)");
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
    kfilter_load(c);
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
    /* with -f translated: its programs on Ethernet links (the filter was compiled for those) */
    int kf = ifc->linktype == 1 && filt_fd[0] >= 0;
    r = tc_attach_one(&b->hook, BPF_TC_INGRESS, kf ? filt_fd[0] : bpf_program__fd(skel->progs.ksnap_ingress), &b->in);
    if (!r) b->has_in = 1;
    /* loopback: a packet passes egress, then ingress; keep it once, as tcpdump does (libpcap
     * drops the outgoing copy on the loopback device) */
    if (!r && !ifc->loopback) {
        r = tc_attach_one(&b->hook, BPF_TC_EGRESS, kf ? filt_fd[1] : bpf_program__fd(skel->progs.ksnap_egress), &b->out);
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
    for (int d = 0; d < 2; d++) {
        if (filt_fd[d] >= 0) close(filt_fd[d]);
        filt_fd[d] = -1;
    }
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
