/* ksnap capture — capture a node's traffic into rotating, bounded pcapng segments
 * (docs/store.md). Options, interfaces, the main loop; backends in capture_ebpf.c and
 * capture_pcap.c, segments and retention in segment.c, netlink in netlink.c. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "../../bpf/capture.h"
#define KF_TLS_MAX_CALL_ (256u << 10)   /* bpf/tls.h's KF_TLS_MAX_CALL (that header needs linux/types.h) */
#include "capture_int.h"
#include "kf_source.h"
#include "kf_store.h"
#include "kf_time.h"
#include "kf_tool.h"
#include "ksnap.h"

static volatile sig_atomic_t exiting, rotate_now;
static void on_signal(int sig)
{
    if (sig == SIGHUP) rotate_now = 1;
    else exiting = 1;
}

static const cap_backend *be;

int64_t cap_mono_to_real(void)
{
    struct timespec m1, r, m2;
    clock_gettime(CLOCK_MONOTONIC, &m1);
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m2);
    int64_t mono = ((int64_t)m1.tv_sec * KF_NS_PER_SEC + m1.tv_nsec +
                    (int64_t)m2.tv_sec * KF_NS_PER_SEC + m2.tv_nsec) / 2;
    return (int64_t)r.tv_sec * KF_NS_PER_SEC + r.tv_nsec - mono;
}

static int64_t mono_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * KF_NS_PER_SEC + t.tv_nsec;
}

cap_iface *cap_iface_by_index(cap_ctx *c, int ifindex)
{
    for (size_t i = 0; i < c->nifs; i++)
        if (c->ifs[i]->ifindex == ifindex) return c->ifs[i];
    return NULL;
}

void cap_add_drops(cap_ctx *c, cap_iface *ifc, uint64_t n)
{
    ifc->seg_drop += n;
    ifc->tot_drop += n;
    ifc->seg_recv += n;
    ifc->tot_recv += n;
    ifc->pending_drop += n;
}

/* ---- rotation ---- */

static void do_retention(cap_ctx *c, int force_one);
static int64_t mono_now(void);
static void report_evict(void *arg, const char *path, uint64_t size, const char *why);

/* interfaces that vanished leave once no open segment describes them (called from the main
 * loop only, never while a packet of theirs is being handled) */
static void forget_gone(cap_ctx *c)
{
    size_t w = 0;
    for (size_t i = 0; i < c->nifs; i++) {
        if (c->ifs[i]->gone && c->ifs[i]->idb < 0) { free(c->ifs[i]); continue; }
        c->ifs[w++] = c->ifs[i];
    }
    c->nifs = w;
}

/* Before a segment opens: while the file system has less room than a whole segment (plus
 * 64 KiB), evict the oldest closed segment, so that a full disk costs old packets, not new ones.
 * (A write that fails anyway is handled by recover().) */
static void make_room(cap_ctx *c)
{
    for (int i = 0; i < 100000; i++) {
        struct statvfs v;
        if (statvfs(c->nodedir, &v) != 0) return;
        if ((uint64_t)v.f_bavail * v.f_frsize >= c->seg_size + (64 << 10)) return;
        size_t removed;
        uint64_t freed;
        char err[512];
        if (store_retention(c->dir, c->node, 0, 0, 0, kf_now_ns(), 1, 0, report_evict, c, &removed,
                            &freed, err, sizeof err) != 0 || removed == 0)
            return;
    }
}

static int rotate(cap_ctx *c, int64_t start)
{
    int64_t now = kf_now_ns();
    if (seg_close(c, now) == 1) do_retention(c, 1);   /* disk full: make room */
    make_room(c);
    int r = seg_open(c, start);
    /* after the open: the new segment counts as a whole one, beside the one still closing */
    if (c->retain_size || c->retain_time) do_retention(c, 0);
    return r;
}

/* A write failed (disk full) or no segment is open: close what is whole, evict the oldest
 * segment, open a new one. At most once a second, so a disk that stays full does not turn
 * every packet into a segment; packets meanwhile are counted as lost. */
static void recover(cap_ctx *c)
{
    static int64_t last;
    int64_t m = mono_now();
    if (last && m - last < KF_NS_PER_SEC) return;
    last = m;
    int64_t now = kf_now_ns();
    if (c->w) seg_close(c, now);
    do_retention(c, 1);
    make_room(c);
    if (seg_open(c, now) != 0) kf_err("%s: no segment open; packets are being lost", c->nodedir);
}

void cap_deliver(cap_ctx *c, cap_iface *ifc, int64_t ts, int dir, const uint8_t *data,
                 uint32_t caplen, uint32_t origlen)
{
    if (c->fprog_eth || c->fprog_raw) {
        struct bpf_program *fp = ifc->linktype == 1 ? c->fprog_eth : c->fprog_raw;
        if (!fp) return;   /* the filter means nothing on this link type */
        struct pcap_pkthdr h = { .caplen = caplen, .len = origlen };
        if (!pcap_offline_filter(fp, &h, data)) return;
    }
    ifc->seg_recv++;
    ifc->tot_recv++;
    if (caplen > c->snaplen) caplen = c->snaplen;
    if (c->w && !c->write_failed) {
        if (c->seg_time && ts >= c->seg_start + c->seg_time) {
            /* contiguous: the next starts where this ends; after a gap, at the packet. A
             * segment still empty (idle since it opened) moves its start there instead */
            int64_t next = ts < c->seg_start + 2 * c->seg_time ? c->seg_start + c->seg_time : ts;
            if (seg_restart(c, next) != 0) rotate(c, next);
        } else if (c->seg_pkts && seg_bytes(c) + 64 + caplen > c->seg_size)
            rotate(c, ts);
    }
    if (!c->w || c->write_failed) recover(c);
    if (!c->w || c->write_failed) { c->lost_write++; return; }
    if (ifc->idb < 0 && seg_add_iface(c, ifc) != 0) { c->lost_write++; return; }
    if (seg_write_epb(c, (uint32_t)ifc->idb, ts, (uint32_t)dir, data, caplen, origlen,
                      ifc->pending_drop) != 0) {
        c->lost_write++;
        return;
    }
    ifc->pending_drop = 0;
    ifc->seg_deliv++;
    ifc->tot_deliv++;
    c->seg_pkts++;
}

/* ---- retention ---- */

static void report_evict(void *arg, const char *path, uint64_t size, const char *why)
{
    cap_ctx *c = arg;
    if (!strcmp(why, "disk full"))
        kf_err("%s: disk full: removed the oldest segment (%llu bytes) to keep capturing", path,
               (unsigned long long)size);
    else if (c->verbose)
        kf_warn("%s: removed (%s bound, %llu bytes)", path, why, (unsigned long long)size);
}

static void do_retention(cap_ctx *c, int force_one)
{
    size_t removed;
    uint64_t freed;
    char err[512];
    /* room for the open segment is kept, so the node's total stays under --retain-size */
    uint64_t reserve = c->retain_size > c->seg_size ? c->seg_size : 0;
    int r = store_retention(c->dir, c->node, c->retain_size, reserve, c->retain_time, kf_now_ns(), force_one,
                            0, report_evict, c, &removed, &freed, err, sizeof err);
    if (r < 0) kf_err("retention: %s", err);
    else if (r == 1 && c->verbose) kf_warn("retention: a reader holds the store; skipped this round");
}

/* ---- interfaces ---- */

static int linktype_of(int arphrd)
{
    switch (arphrd) {
    case ARPHRD_ETHER: case ARPHRD_LOOPBACK: return 1;
    case ARPHRD_NONE: case ARPHRD_TUNNEL: case ARPHRD_TUNNEL6: case ARPHRD_SIT:
    case ARPHRD_IPGRE: case 519 /* ARPHRD_RAWIP */: return 101;
    default: return -1;
    }
}

static int wanted(cap_ctx *c, const nl_link *l)
{
    if (linktype_of(l->arphrd) < 0) return 0;
    if (!c->npats) return (l->flags & IFF_UP) && !(l->flags & IFF_LOOPBACK);
    for (size_t i = 0; i < c->npats; i++)
        if (fnmatch(c->pats[i], l->name, 0) == 0) return 1;
    return 0;
}

static void release(cap_ctx *c, cap_iface *ifc)
{
    if (ifc->attached) be->detach(c, ifc);
    ifc->attached = 0;
}

/* .capture: the pid, then what the eBPF backend attached (for cleanup after a kill -9) */
static void write_capture_record(cap_ctx *c)
{
    char buf[65536];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (be == &cap_backend_ebpf) n += ebpf_attach_record(c, buf + n, sizeof buf - (size_t)n);
    if (pwrite(c->capfd, buf, (size_t)n, 0) != n || ftruncate(c->capfd, n) != 0) {
        /* informative: a failure only loses the cleanup hint */
    }
}

static void on_link(void *arg, const nl_link *l)
{
    cap_ctx *c = arg;
    cap_iface *ifc = cap_iface_by_index(c, l->ifindex);
    if (l->deleted) {
        if (ifc && !ifc->gone) {
            ifc->gone = 1;
            release(c, ifc);
            if (c->verbose) kf_warn("%s: gone", ifc->name);
            write_capture_record(c);
        }
        return;
    }
    if (ifc && ifc->gone) {           /* an index used again: a new interface */
        ifc->gone = 0;
        ifc->attached = 0;
        ifc->idb = -1;
    }
    int want = wanted(c, l);
    if (!ifc) {
        if (!want) return;
        ifc = calloc(1, sizeof *ifc);
        cap_iface **nv = realloc(c->ifs, (c->nifs + 1) * sizeof *nv);
        if (!ifc || !nv) { free(ifc); if (nv) c->ifs = nv; return; }
        c->ifs = nv;
        c->ifs[c->nifs++] = ifc;
        ifc->ifindex = l->ifindex;
        ifc->idb = -1;
    }
    if (ifc->attached && strcmp(ifc->name, l->name) != 0 && !want) {
        release(c, ifc);   /* renamed out of our patterns */
        return;
    }
    snprintf(ifc->name, sizeof ifc->name, "%s", l->name);
    ifc->loopback = !!(l->flags & IFF_LOOPBACK);
    ifc->up = !!(l->flags & IFF_UP);
    ifc->linktype = linktype_of(l->arphrd);
    if (want && !ifc->attached) {
        char err[512] = "";
        if (be->attach(c, ifc, err, sizeof err) != 0) {
            kf_err("%s: %s", l->name, err);
            be->detach(c, ifc);
            return;
        }
        ifc->attached = 1;
        ifc->idb = -1;
        seg_add_iface(c, ifc);
        write_capture_record(c);
        if (c->verbose) kf_warn("%s: capturing", ifc->name);
    }
}

/* ---- -f: tcpdump's syntax compiled by libpcap. The eBPF backend runs a translation of it in
 * the kernel where it can (capture_ebpf.c: packets it rejects never reach the ring); here it
 * runs on every packet that does reach user space, so the result is libpcap's in any case ---- */

/* How many leading bytes of a packet a classic BPF program can read; UINT32_MAX when it cannot
 * be bounded (an index register loaded from data or memory). The kernel side copies that many,
 * so pcap_offline_filter decides on the same bytes the kernel filter of tcpdump would. */
static uint32_t filter_reach(const struct bpf_program *p)
{
    uint64_t xmax = 0, need = 0;
    for (u_int i = 0; i < p->bf_len; i++) {
        const struct bpf_insn *in = &p->bf_insns[i];
        if (BPF_CLASS(in->code) == BPF_LDX) {
            switch (BPF_MODE(in->code)) {
            case BPF_IMM: if (in->k > xmax) xmax = in->k; break;
            case BPF_MSH: if (xmax < 60) xmax = 60; break;
            default: return UINT32_MAX;
            }
        } else if (BPF_CLASS(in->code) == BPF_MISC && BPF_MISCOP(in->code) == BPF_TAX) {
            return UINT32_MAX;
        }
    }
    for (u_int i = 0; i < p->bf_len; i++) {
        const struct bpf_insn *in = &p->bf_insns[i];
        int cls = BPF_CLASS(in->code), mode = BPF_MODE(in->code);
        uint64_t sz = BPF_SIZE(in->code) == BPF_W ? 4 : BPF_SIZE(in->code) == BPF_H ? 2 : 1;
        uint64_t end = 0;
        if (cls == BPF_LD && mode == BPF_ABS) end = (uint64_t)in->k + sz;
        else if (cls == BPF_LD && mode == BPF_IND) end = xmax + in->k + sz;
        else if (cls == BPF_LDX && mode == BPF_MSH) end = (uint64_t)in->k + 1;
        if (end > need) need = end;
    }
    return need > UINT32_MAX - 1 ? UINT32_MAX : (uint32_t)need;
}

static struct bpf_program *compile_filter(cap_ctx *c, int dlt, char *err, size_t errlen)
{
    struct bpf_program *fp = calloc(1, sizeof *fp);
    pcap_t *d = pcap_open_dead(dlt, (int)c->snaplen);
    if (!d || !fp) { snprintf(err, errlen, "out of memory"); free(fp); if (d) pcap_close(d); return NULL; }
    if (pcap_compile(d, fp, c->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(d));
        free(fp);
        fp = NULL;
    }
    pcap_close(d);
    return fp;
}

static void free_filter(void **fp)
{
    if (*fp) { pcap_freecode(*fp); free(*fp); }
    *fp = NULL;
}

/* ---- privileges ---- */

static int drop_privileges(cap_ctx *c, const char *user, int capfd)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) { kf_err("--user %s: no such user", user); return -1; }
    uid_t u = pw->pw_uid;
    gid_t g = pw->pw_gid;
    /* the user must be able to write new segments and delete old ones in the node folder */
    char p[4096];
    /* DIR stays 0750 and gets the user's group so the user can reach DIR/<node> */
    int bad = chown(c->dir, (uid_t)-1, g) != 0;
    bad |= chown(c->nodedir, u, g) != 0;
    snprintf(p, sizeof p, "%s/.lock", c->nodedir);
    bad |= chown(p, u, g) != 0;
    bad |= fchown(capfd, u, g) != 0;
    if (c->f) bad |= fchown(fileno(c->f), u, g) != 0;
    if (bad) { kf_err("%s: cannot hand the store to %s: %s", c->nodedir, user, strerror(errno)); return -1; }
    /* keep CAP_NET_ADMIN (attach to interfaces that appear later) and CAP_NET_RAW (pcap
     * backend), nothing else */
    if (prctl(PR_SET_KEEPCAPS, 1) != 0 || initgroups(user, g) != 0 || setgid(g) != 0 || setuid(u) != 0)
        { kf_err("--user %s: %s", user, strerror(errno)); return -1; }
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct d[2] = { 0 };
    d[0].effective = d[0].permitted = (1u << CAP_NET_ADMIN) | (1u << CAP_NET_RAW);
    if (syscall(SYS_capset, &h, d) != 0)
        { kf_err("--user %s: capset: %s", user, strerror(errno)); return -1; }
    prctl(PR_SET_KEEPCAPS, 0);
    if (setuid(0) == 0) { kf_err("--user %s: could regain root", user); return -1; }
    if (access(c->nodedir, W_OK | X_OK) != 0)
        { kf_err("%s: %s cannot write there (a parent folder closed to it?)", c->nodedir, user); return -1; }
    return 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f,
"usage: ksnap capture --dir DIR [--node NAME] [-i IFACE|GLOB]... [--snaplen N] [-f FILTER]\n"
"                     [--segment-size 64M] [--segment-time 1m] [--retain-size 2G]\n"
"                     [--retain-time 24h] [--backend ebpf|pcap] [--ring-size 32M]\n"
"                     [--stats 10s] [--user USER] [--tls [--tls-max-call 64K] [--tls-lib PATH]...] [-v]\n"
"Capture this node's packets into DIR/NODE/<start-utc>.pcapng segments (docs/store.md).\n"
"  --dir DIR            the store\n"
"  --node NAME          node name (default: the host name)\n"
"  -i, --interface PAT  interface name or glob, repeatable (default: every interface that is up,\n"
"                       except lo); interfaces that appear later and match are captured too\n"
"  -s, --snaplen N      bytes kept of each packet (default 262144)\n"
"  -f, --filter EXPR    tcpdump filter syntax; the same packets tcpdump would keep\n"
"  --segment-size S     close a segment at this size (default 64M)\n"
"  --segment-time T     ... or after this long (default 1m)\n"
"  --retain-size S      delete oldest segments past this total (default 2G, 0 = no bound)\n"
"  --retain-time T      delete segments older than this (default 24h, 0 = no bound)\n"
"  --backend B          ebpf (TC clsact, default) or pcap (libpcap/AF_PACKET); the default\n"
"                       falls back to pcap with a warning when BPF may not be loaded\n"
"  --ring-size S        eBPF ring buffer size, a power of 2 (default 32M)\n"
"  --stats T            a statistics line on stderr this often\n"
"  --user USER          after attaching, run as USER (keeps only CAP_NET_ADMIN, CAP_NET_RAW)\n"
"  --tls                also the plaintext of OpenSSL's SSL_read/SSL_write (uprobes on libssl.so.3\n"
"                       and libssl.so.1.1), as TCP segments on an interface named ebpf_tls\n"
"  --tls-max-call S     plaintext bytes kept of one call (default 64K, at most 256K)\n"
"  --tls-lib PATH       the libssl to probe, repeatable (default: libssl.so.3/.so.1.1 in the\n"
"                       usual library folders and every libssl a running process maps)\n"
"  -v, --verbose        say what is attached, rotated, removed; -vv adds libbpf's messages\n"
"Signals: SIGINT/SIGTERM flush, close and detach, then exit 0; SIGHUP starts a new segment.\n");
}

static void print_stats(cap_ctx *c, int64_t interval)
{
    char line[4096];
    size_t o = 0;
    uint64_t recv = 0, drop = 0, deliv = 0;
    for (size_t i = 0; i < c->nifs; i++) {
        recv += c->ifs[i]->tot_recv; drop += c->ifs[i]->tot_drop; deliv += c->ifs[i]->tot_deliv;
    }
    o += (size_t)snprintf(line + o, sizeof line - o, "stats: %llu packets written, %llu dropped, %llu lost to write errors;",
                          (unsigned long long)deliv, (unsigned long long)drop, (unsigned long long)c->lost_write);
    for (size_t i = 0; i < c->nifs && o < sizeof line - 128; i++) {
        cap_iface *f = c->ifs[i];
        if (!f->attached && !f->tot_recv) continue;
        o += (size_t)snprintf(line + o, sizeof line - o, " %s %llu/%llu", f->name,
                              (unsigned long long)f->tot_deliv, (unsigned long long)f->tot_drop);
    }
    if (c->tls_ifc && o < sizeof line - 200)
        o += (size_t)snprintf(line + o, sizeof line - o, "; tls: %llu calls, %llu cut at --tls-max-call, %llu without a socket, %llu of the other end",
                              (unsigned long long)c->tls_counts[0], (unsigned long long)c->tls_counts[2],
                              (unsigned long long)c->tls_counts[3], (unsigned long long)c->tls_other_end);
    (void)recv; (void)interval;
    kf_warn("%s", line);
}

enum { O_DIR = 256, O_NODE, O_SEGSIZE, O_SEGTIME, O_RETSIZE, O_RETTIME, O_BACKEND, O_STATS,
       O_USER, O_RING, O_TLS, O_TLS_MAX, O_TLS_LIB };

int cmd_capture(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", 1, 0, O_DIR }, { "node", 1, 0, O_NODE }, { "interface", 1, 0, 'i' },
        { "snaplen", 1, 0, 's' }, { "filter", 1, 0, 'f' }, { "segment-size", 1, 0, O_SEGSIZE },
        { "segment-time", 1, 0, O_SEGTIME }, { "retain-size", 1, 0, O_RETSIZE },
        { "retain-time", 1, 0, O_RETTIME }, { "backend", 1, 0, O_BACKEND },
        { "stats", 1, 0, O_STATS }, { "user", 1, 0, O_USER }, { "ring-size", 1, 0, O_RING },
        { "tls", 0, 0, O_TLS }, { "tls-max-call", 1, 0, O_TLS_MAX }, { "tls-lib", 1, 0, O_TLS_LIB },
        { "verbose", 0, 0, 'v' }, { "help", 0, 0, 'h' }, { 0 } };
    static cap_ctx C;
    cap_ctx *c = &C;
    memset(c, 0, sizeof *c);
    c->snaplen = KF_CAP_MAX_SNAP;
    c->seg_size = 64ULL << 20;
    c->seg_time = 60 * KF_NS_PER_SEC;
    c->retain_size = 2ULL << 30;
    c->retain_time = 24 * 3600 * KF_NS_PER_SEC;
    c->ring_size = 32 << 20;
    c->tls_max_call = 64 << 10;
    const char *backend = NULL, *user = NULL;
    char hostname[256];
    int o;
    optind = 1;
    while ((o = kf_getopt(argc, argv, "i:s:f:vh", opts)) != -1) {
        uint64_t v;
        switch (o) {
        case O_DIR: c->dir = optarg; break;
        case O_NODE: c->node = optarg; break;
        case 'i': {
            char **nv = realloc(c->pats, (c->npats + 1) * sizeof *nv);
            if (!nv) kf_die(KF_EXIT_ERR, "out of memory");
            c->pats = nv;
            c->pats[c->npats++] = optarg;
            break;
        }
        case 's': {
            char *e;
            unsigned long n = strtoul(optarg, &e, 10);
            if (*e || n < 1) kf_usage_die("--snaplen: '%s' is not a positive number", optarg);
            c->snaplen = n > KF_CAP_MAX_SNAP ? KF_CAP_MAX_SNAP : (uint32_t)n;
            break;
        }
        case 'f': c->filter = optarg; break;
        case O_SEGSIZE:
            if (kf_size_parse(optarg, &c->seg_size) != 0 || c->seg_size < 4096)
                kf_usage_die("--segment-size: '%s' is not a size of at least 4K", optarg);
            break;
        case O_RETSIZE:
            if (kf_size_parse(optarg, &c->retain_size) != 0) kf_usage_die("--retain-size: '%s' is not a size", optarg);
            break;
        case O_RING:
            if (kf_size_parse(optarg, &v) != 0 || v < 4096 || (v & (v - 1)) || v > (1ULL << 31))
                kf_usage_die("--ring-size: '%s' is not a power of 2 between 4K and 2G", optarg);
            c->ring_size = v;
            break;
        case O_SEGTIME:
            if (kf_duration_parse(optarg, &c->seg_time) != 0 || c->seg_time < KF_NS_PER_SEC / 10)
                kf_usage_die("--segment-time: '%s' is not a duration of at least 100ms", optarg);
            break;
        case O_RETTIME:
            if (kf_duration_parse(optarg, &c->retain_time) != 0 || c->retain_time < 0)
                kf_usage_die("--retain-time: '%s' is not a duration", optarg);
            break;
        case O_STATS:
            if (kf_duration_parse(optarg, &c->stats_every) != 0 || c->stats_every <= 0)
                kf_usage_die("--stats: '%s' is not a duration", optarg);
            break;
        case O_BACKEND:
            if (strcmp(optarg, "ebpf") && strcmp(optarg, "pcap"))
                kf_usage_die("--backend: '%s' is neither ebpf nor pcap", optarg);
            backend = optarg;
            break;
        case O_USER: user = optarg; break;
        case O_TLS: c->tls = 1; break;
        case O_TLS_MAX:
            if (kf_size_parse(optarg, &v) != 0 || v < 1 || v > KF_TLS_MAX_CALL_)
                kf_usage_die("--tls-max-call: '%s' is not a size between 1 and 256K", optarg);
            c->tls_max_call = (uint32_t)v;
            break;
        case O_TLS_LIB: {
            char **nv = realloc(c->tls_libs, (c->ntls_libs + 1) * sizeof *nv);
            if (!nv) kf_die(KF_EXIT_ERR, "out of memory");
            c->tls_libs = nv;
            c->tls_libs[c->ntls_libs++] = optarg;
            break;
        }
        case 'v': c->verbose++; kf_verbose++; break;
        case 'h': usage(stdout); return 0;
        default: kf_usage_die("unknown option");
        }
    }
    if (optind < argc) kf_usage_die("unexpected argument '%s'", argv[optind]);
    if (!c->dir) kf_usage_die("--dir is required");
    if (!c->node) {
        if (gethostname(hostname, sizeof hostname) != 0) kf_die(KF_EXIT_ERR, "cannot get the host name; use --node");
        hostname[sizeof hostname - 1] = 0;
        c->node = hostname;
    }
    if (!c->node[0] || strchr(c->node, '/') || !strcmp(c->node, "meta") || c->node[0] == '.')
        kf_usage_die("--node: '%s' cannot name a folder of the store", c->node);

    /* the store */
    if (mkdir(c->dir, 0750) != 0 && errno != EEXIST) kf_die(KF_EXIT_IO, "%s: %s", c->dir, strerror(errno));
    if (asprintf(&c->nodedir, "%s/%s", c->dir, c->node) < 0) kf_die(KF_EXIT_ERR, "out of memory");
    if (mkdir(c->nodedir, 0750) != 0 && errno != EEXIST) kf_die(KF_EXIT_IO, "%s: %s", c->nodedir, strerror(errno));
    char *stale = NULL;   /* what a capture killed earlier recorded */
    {
        char *cp;
        if (asprintf(&cp, "%s/.capture", c->nodedir) >= 0) {
            FILE *sf = fopen(cp, "r");
            if (sf) {
                size_t sl = 0;
                stale = malloc(65537);
                if (stale) { sl = fread(stale, 1, 65536, sf); stale[sl] = 0; }
                fclose(sf);
            }
            free(cp);
        }
    }
    int capfd = kf_store_capture_lock(c->dir, c->node);
    c->capfd = capfd;
    if (capfd < 0) {
        if (errno == EWOULDBLOCK) kf_die(KF_EXIT_ERR, "%s: another capture of node %s is running", c->nodedir, c->node);
        kf_die(KF_EXIT_IO, "%s/.capture: %s", c->nodedir, strerror(errno));
    }
    if (stale) { ebpf_cleanup_stale(stale, c->verbose); free(stale); }
    int lk = kf_store_lock(c->dir, c->node, 0, 1);   /* creates .lock now so --user can own it */
    kf_store_unlock(lk);
    {   /* a crash left a .part: keep every complete block of it */
        kf_segment *s;
        size_t n;
        char err[512];
        if (kf_store_segments(c->dir, c->node, &s, &n, err, sizeof err) != 0) kf_die(KF_EXIT_IO, "%s", err);
        for (size_t i = 0; i < n; i++) {
            if (!s[i].open) continue;
            uint64_t kept;
            if (seg_repair(s[i].path, &kept, err, sizeof err) != 0)
                kf_die(KF_EXIT_IO, "%s: cannot repair: %s", s[i].path, err);
            if (kept)
                kf_warn("%s: left by a crash; kept %llu of %llu bytes and closed it", s[i].path,
                        (unsigned long long)kept, (unsigned long long)s[i].size);
            else
                kf_warn("%s: left by a crash without one complete block; removed it", s[i].path);
            if (s[i].start_ns > c->last_start) c->last_start = s[i].start_ns;
        }
        if (n) c->last_start = s[n - 1].start_ns > c->last_start ? s[n - 1].start_ns : c->last_start;
        kf_segments_free(s, n);
    }

    /* -f */
    be = backend && !strcmp(backend, "pcap") ? &cap_backend_pcap : &cap_backend_ebpf;
    c->cap_len = c->snaplen;
    char err[512] = "";
    if (c->filter) {
        if (!(c->fprog_eth = compile_filter(c, DLT_EN10MB, err, sizeof err)))
            kf_usage_die("-f: %s", err);
        c->fprog_raw = compile_filter(c, DLT_RAW, err, sizeof err);   /* may mean nothing there */
        c->kfilter = ((struct bpf_program *)c->fprog_eth)->bf_insns;
        c->kfilter_len = ((struct bpf_program *)c->fprog_eth)->bf_len;
        uint32_t r1 = filter_reach(c->fprog_eth), r2 = c->fprog_raw ? filter_reach(c->fprog_raw) : 0;
        uint32_t r = r1 > r2 ? r1 : r2;
        if (r > c->cap_len) c->cap_len = r > KF_CAP_MAX_SNAP ? KF_CAP_MAX_SNAP : r;
    }
    int r = be->init(c, err, sizeof err);
    if (r == -2 && !backend) {
        kf_warn("eBPF not allowed (%s); falling back to --backend pcap", err);
        be = &cap_backend_pcap;
        r = be->init(c, err, sizeof err);
    }
    if (r != 0) kf_die(KF_EXIT_ERR, "%s backend: %s", be->name, err);
    /* libpcap captures through an AF_PACKET socket on Linux */
    c->capture = kf_capture_name(be == &cap_backend_pcap ? KF_CAP_AF_PACKET : KF_CAP_EBPF);
    if (be == &cap_backend_pcap) {   /* the filter runs in the kernel there, as in tcpdump */
        c->kfilter = NULL;
        free_filter(&c->fprog_eth);
        free_filter(&c->fprog_raw);
    }

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int nlfd = nl_open_watch();
    if (nlfd < 0) kf_die(KF_EXIT_ERR, "netlink: %s", strerror(errno));
    if (nl_dump_links(on_link, c) != 0) kf_die(KF_EXIT_ERR, "netlink: cannot list interfaces: %s", strerror(errno));
    make_room(c);
    if (seg_open(c, kf_now_ns()) != 0) kf_die(KF_EXIT_IO, "%s: cannot open a segment", c->nodedir);
    size_t natt = 0;
    for (size_t i = 0; i < c->nifs; i++) natt += c->ifs[i]->attached;
    if (c->tls) tls_init(c);   /* after the first segment: its IDB goes into it */
    if (!natt) kf_warn("no interface to capture yet; waiting for %s", c->npats ? "one that matches -i" : "one to come up");
    int rc = KF_EXIT_OK;
    if (user && drop_privileges(c, user, capfd) != 0) { rc = KF_EXIT_ERR; exiting = 1; }
    {   /* closed segments may wait for the disk while they hold at most a quarter of the
         * retention bound (at most 8, at least 1): retention cannot remove them before */
        uint64_t q = c->retain_size ? c->retain_size / c->seg_size / 4 : 8;
        seg_worker_start(q < 1 ? 1 : q > 8 ? 8 : (unsigned)q);
    }

    int64_t now_m = mono_now();
    int64_t last_stats = now_m, last_flush = now_m, last_drops = now_m, last_ret = now_m;
    int more = 0;
    uint64_t last_closed = 0;
    while (!exiting) {
        struct pollfd pf[512];
        int fds[511];
        int nf = be->fds(c, fds, 510);
        if (tls_fd() >= 0) fds[nf++] = tls_fd();
        pf[0] = (struct pollfd){ .fd = nlfd, .events = POLLIN };
        for (int i = 0; i < nf; i++) pf[i + 1] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
        int pr = poll(pf, (nfds_t)nf + 1, more ? 0 : 50);
        if (pr < 0 && errno != EINTR) { kf_err("poll: %s", strerror(errno)); rc = KF_EXIT_ERR; break; }
        if (pr > 0 && (pf[0].revents & POLLIN)) nl_read_events(nlfd, on_link, c);
        more = be->consume(c);
        if (more < 0) { kf_err("reading packets failed"); rc = KF_EXIT_ERR; break; }
        int tmore = tls_consume(c);
        if (tmore < 0) { kf_err("reading TLS plaintext failed"); rc = KF_EXIT_ERR; break; }
        if (tmore > 0) more = 1;
        now_m = mono_now();
        int64_t now = kf_now_ns();
        if (c->write_failed || !c->w) recover(c);   /* disk full: evict the oldest, go on */
        if (rotate_now) { rotate_now = 0; rotate(c, now); }
        /* an idle capture keeps its one empty segment open instead of leaving a trail of empty
         * ones behind; the first packet past its time rotates it (cap_deliver) */
        else if (c->w && c->seg_pkts && c->seg_time && now >= c->seg_start + c->seg_time + KF_NS_PER_SEC / 5)
            rotate(c, now < c->seg_start + 2 * c->seg_time ? c->seg_start + c->seg_time : now);
        forget_gone(c);
        if (now_m - last_drops >= KF_NS_PER_SEC / 5) { be->poll_drops(c); tls_poll_drops(c); last_drops = now_m; }
        if (now_m - last_flush >= KF_NS_PER_SEC) {
            if (c->w) seg_flush(c);
            last_flush = now_m;
        }
        uint64_t closed = seg_closed_count();
        if (now_m - last_ret >= 10 * KF_NS_PER_SEC || closed != last_closed) {
            /* and once a segment the worker closed can go */
            if (c->retain_size || c->retain_time) do_retention(c, 0);
            last_ret = now_m;
            last_closed = closed;
        }
        if (c->stats_every && now_m - last_stats >= c->stats_every) { print_stats(c, now_m - last_stats); last_stats = now_m; }
    }
    /* detach first so nothing new comes, then drain what the ring still holds */
    if (be->drain) be->drain(c);   /* pcap: every block the kernel still holds */
    else be->consume(c);
    for (size_t i = 0; i < c->nifs; i++) release(c, c->ifs[i]);
    write_capture_record(c);
    be->poll_drops(c);
    while (be->consume(c) == 1)   /* eBPF: what the ring still holds */
        ;
    for (int i = 0; i < 64 && tls_consume(c) == 1; i++)   /* what the TLS ring still holds, bounded */
        ;
    tls_poll_drops(c);
    if (c->stats_every) print_stats(c, 0);
    c->sync_close = 1;
    if (seg_close(c, kf_now_ns()) != 0) rc = KF_EXIT_IO;   /* what could not be written is lost */
    seg_wait_closed();
    be->fini(c);
    tls_fini();
    close(nlfd);
    for (size_t i = 0; i < c->nifs; i++) free(c->ifs[i]);
    free(c->ifs);
    free(c->pats);
    free(c->tls_libs);
    free(c->vbuf);
    free(c->obuf);
    free(c->nodedir);
    free_filter(&c->fprog_eth);
    free_filter(&c->fprog_raw);
    kf_store_unlock(capfd);
    return rc;
}
