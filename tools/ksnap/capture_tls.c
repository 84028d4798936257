/* capture_tls.c — `ksnap capture --tls`: OpenSSL plaintext from uprobes (bpf/tls.bpf.c), written
 * into the same segments as synthetic TCP segments on an interface of its own ("ebpf_tls",
 * LINKTYPE_RAW), so that kdissect and Wireshark reassemble and dissect them like any TCP stream.
 *
 * Each connection (the socket's 5-tuple) gets a made-up three-way handshake when first seen,
 * then one segment per chunk of each call, with per-direction sequence numbers that advance by
 * the bytes every call moved: bytes past the per-call cap, or chunks the ring dropped, leave a
 * gap in the sequence space, as lost packets do. The client is the end with an ephemeral port
 * when exactly one end has one (>= 32768), else the end that sent the first plaintext. When both
 * ends of a connection run OpenSSL on this node, both see the same plaintext: the first SSL object
 * seen on the connection is kept and the other end's calls are left out.
 *
 * Where the uprobes or kprobes cannot attach (no libssl found, no permission, a kernel without
 * BTF) capture goes on without them and says so once. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include "../../bpf/tls.h"
#include "tls.skel.h"
#include "capture_int.h"
#include "kf_time.h"
#include "kf_tool.h"

static struct tls_bpf *skel;
static struct ring_buffer *rb;
static struct bpf_link **links;
static size_t nlinks;
static cap_ctx *g_ctx;
static int64_t g_offset;
static uint64_t cnt_seen[KF_TLS_CNT_N];   /* counters already accounted */
static uint64_t other_end;                 /* calls left out: the other end of a kept connection */

/* ---- connections ---- */
typedef struct tconn {
    struct tconn *next;
    uint16_t family;
    uint8_t addr[2][16];        /* [0] client, [1] server */
    uint16_t port[2];
    uint32_t pid;               /* the SSL object kept (see above) */
    uint64_t ssl;
    uint32_t seq[2];            /* next sequence number client->server [0], server->client [1] */
    uint32_t base[2];           /* the current call's first sequence number, per direction */
    uint64_t call_ts[2];        /* and that call's identity: its chunks share time stamp and thread */
    uint32_t call_tid[2];
    int64_t last;               /* ns, for eviction */
    int closed;                 /* SSL_free seen: FINs written */
} tconn;
#define TC_BUCKETS 4096
#define TC_MAX 65536
static tconn *tc_tab[TC_BUCKETS];
static size_t tc_n;
static uint16_t ip_id;

static unsigned addr_len(uint16_t fam) { return fam == 4 ? 4 : 16; }

static uint32_t tc_hash(uint16_t fam, const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
    /* symmetric: either orientation lands in the same bucket */
    uint32_t h = 2166136261u ^ fam, ha = 0, hb = 0;
    for (unsigned i = 0; i < addr_len(fam); i++) { ha = (ha ^ a[i]) * 16777619u; hb = (hb ^ b[i]) * 16777619u; }
    ha ^= pa * 2654435761u;
    hb ^= pb * 2654435761u;
    h ^= ha + hb;
    return h * 2654435761u;
}

static void tc_evict_oldest(void)
{
    tconn **best = NULL;
    for (size_t i = 0; i < TC_BUCKETS; i++)
        for (tconn **pp = &tc_tab[i]; *pp; pp = &(*pp)->next)
            if (!best || (*pp)->last < (*best)->last) best = pp;
    if (!best) return;
    tconn *t = *best;
    *best = t->next;
    free(t);
    tc_n--;
}

static void tc_free_all(void)
{
    for (size_t i = 0; i < TC_BUCKETS; i++) {
        while (tc_tab[i]) { tconn *t = tc_tab[i]; tc_tab[i] = t->next; free(t); }
    }
    tc_n = 0;
}

/* ---- synthetic packets ---- */
static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
    for (; n > 1; p += 2, n -= 2) s += (uint32_t)p[0] << 8 | p[1];
    if (n) s += (uint32_t)p[0] << 8;
    return s;
}
static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}
static void be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void be32(uint8_t *p, uint32_t v) { be16(p, (uint16_t)(v >> 16)); be16(p + 2, (uint16_t)v); }

enum { F_FIN = 1, F_SYN = 2, F_PSH = 8, F_ACK = 16 };

/* one segment from side `from` of t into the store; dir = the EPB direction */
static void emit(cap_ctx *c, cap_iface *ifc, tconn *t, int from, int64_t ts, int dir, uint8_t flags,
                 uint32_t seq, uint32_t ack, const uint8_t *data, uint32_t n)
{
    static uint8_t pkt[60 + KF_TLS_CHUNK];
    unsigned iph = t->family == 4 ? 20 : 40;
    uint8_t *ip = pkt, *tcp = pkt + iph;
    const uint8_t *src = t->addr[from], *dst = t->addr[!from];
    uint32_t tcplen = 20 + n;
    if (t->family == 4) {
        memset(ip, 0, 20);
        ip[0] = 0x45;
        be16(ip + 2, (uint16_t)(20 + tcplen));
        be16(ip + 4, ip_id++);
        be16(ip + 6, 0x4000);   /* DF */
        ip[8] = 64;
        ip[9] = 6;
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        be16(ip + 10, csum_fold(csum_add(0, ip, 20)));
    } else {
        memset(ip, 0, 40);
        ip[0] = 0x60;
        be16(ip + 4, (uint16_t)tcplen);
        ip[6] = 6;
        ip[7] = 64;
        memcpy(ip + 8, src, 16);
        memcpy(ip + 24, dst, 16);
    }
    memset(tcp, 0, 20);
    be16(tcp, t->port[from]);
    be16(tcp + 2, t->port[!from]);
    be32(tcp + 4, seq);
    be32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    be16(tcp + 14, 65535);
    if (n) memcpy(tcp + 20, data, n);
    /* the checksum over the pseudo-header, so tools that check it are content */
    uint32_t s = 0;
    unsigned al = addr_len(t->family);
    s = csum_add(s, src, al);
    s = csum_add(s, dst, al);
    s += 6 + tcplen;
    s = csum_add(s, tcp, tcplen);
    be16(tcp + 16, csum_fold(s));
    uint32_t caplen = iph + tcplen;
    cap_deliver(c, ifc, ts, dir, pkt, caplen, caplen);
}

/* the connection of an event, created (with its handshake) when new; NULL: leave the event out */
static tconn *conn_of(cap_ctx *c, cap_iface *ifc, const struct kf_tls_event *e, int64_t ts, int *local_side, int create)
{
    uint16_t fam;
    uint8_t la[16] = { 0 }, ra[16] = { 0 };
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (e->sk.family == 2) {
        fam = 4;
        memcpy(la, e->sk.laddr, 4);
        memcpy(ra, e->sk.raddr, 4);
    } else if (e->sk.family == 10 && !memcmp(e->sk.laddr, mapped, 12) && !memcmp(e->sk.raddr, mapped, 12)) {
        fam = 4;   /* an IPv4 peer on an IPv6 socket: as it went on the wire */
        memcpy(la, e->sk.laddr + 12, 4);
        memcpy(ra, e->sk.raddr + 12, 4);
    } else if (e->sk.family == 10) {
        fam = 6;
        memcpy(la, e->sk.laddr, 16);
        memcpy(ra, e->sk.raddr, 16);
    } else {
        return NULL;
    }
    uint16_t lp = e->sk.lport, rp = e->sk.rport;
    uint32_t b = tc_hash(fam, la, lp, ra, rp) % TC_BUCKETS;
    unsigned al = addr_len(fam);
    for (tconn **pp = &tc_tab[b]; *pp; pp = &(*pp)->next) {
        tconn *t = *pp;
        if (t->family != fam) continue;
        int side;
        if (!memcmp(t->addr[0], la, al) && t->port[0] == lp && !memcmp(t->addr[1], ra, al) && t->port[1] == rp) side = 0;
        else if (!memcmp(t->addr[1], la, al) && t->port[1] == lp && !memcmp(t->addr[0], ra, al) && t->port[0] == rp) side = 1;
        else continue;
        if (t->pid != e->pid || t->ssl != e->ssl || t->closed) {
            /* the other end of the connection (kept a minute after its end, so that calls of
             * that end which come late are still known as such), or a new connection on an old
             * tuple */
            if (!create) return NULL;
            if (!(t->pid == e->pid && t->ssl == e->ssl) && ts - t->last < 60 * KF_NS_PER_SEC) { other_end++; return NULL; }
            *pp = t->next;
            free(t);
            tc_n--;
            break;
        }
        t->last = ts;
        *local_side = side;
        return t;
    }
    if (!create) return NULL;
    if (tc_n >= TC_MAX) tc_evict_oldest();
    tconn *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    int local_client;
    if (lp >= 32768 && rp < 32768) local_client = 1;
    else if (rp >= 32768 && lp < 32768) local_client = 0;
    else local_client = e->dir == KF_TLS_DIR_WRITE;   /* the first to speak */
    int ls = local_client ? 0 : 1;
    t->family = fam;
    memcpy(t->addr[ls], la, al);
    memcpy(t->addr[!ls], ra, al);
    t->port[ls] = lp;
    t->port[!ls] = rp;
    t->pid = e->pid;
    t->ssl = e->ssl;
    t->last = ts;
    uint32_t h = tc_hash(fam, la, lp, ra, rp) ^ (uint32_t)ts;
    uint32_t isn_c = h * 2654435761u, isn_s = (h ^ 0x5bd1e995u) * 2246822519u;
    t->next = tc_tab[b];
    tc_tab[b] = t;
    tc_n++;
    /* the handshake, a microsecond apart before the first data */
    int cdir = local_client ? 2 : 1, sdir = local_client ? 1 : 2;
    emit(c, ifc, t, 0, ts - 3000, cdir, F_SYN, isn_c, 0, NULL, 0);
    emit(c, ifc, t, 1, ts - 2000, sdir, F_SYN | F_ACK, isn_s, isn_c + 1, NULL, 0);
    emit(c, ifc, t, 0, ts - 1000, cdir, F_ACK, isn_c + 1, isn_s + 1, NULL, 0);
    t->seq[0] = t->base[0] = isn_c + 1;
    t->seq[1] = t->base[1] = isn_s + 1;
    *local_side = ls;
    return t;
}

static int on_event(void *ctx, void *data, size_t size);

static int handle_event(void *ctx, void *data, size_t size)
{
    cap_ctx *c = g_ctx;
    const struct kf_tls_event *e = data;
    if (size < sizeof *e || e->caplen > size - sizeof *e || e->caplen > KF_TLS_CHUNK || !c->tls_ifc) return 0;
    int64_t ts = (int64_t)e->ts_mono + g_offset;
    int ls;
    tconn *t = conn_of(c, c->tls_ifc, e, ts, &ls, e->dir != KF_TLS_DIR_FREE);
    if (!t) return 0;
    if (e->dir == KF_TLS_DIR_FREE) {   /* both ends close, the owner first */
        int dl = 2;                    /* the local end sends: outbound */
        emit(c, c->tls_ifc, t, ls, ts, dl, F_FIN | F_ACK, t->seq[ls], t->seq[!ls], NULL, 0);
        emit(c, c->tls_ifc, t, !ls, ts + 1000, 3 - dl, F_FIN | F_ACK, t->seq[!ls], t->seq[ls] + 1, NULL, 0);
        emit(c, c->tls_ifc, t, ls, ts + 2000, dl, F_ACK, t->seq[ls] + 1, t->seq[!ls] + 1, NULL, 0);
        t->closed = 1;
        return 0;
    }
    int from = e->dir == KF_TLS_DIR_WRITE ? ls : !ls;
    if (e->ts_mono != t->call_ts[from] || e->tid != t->call_tid[from]) {
        /* a new call (even when the ring dropped its first chunk): it owns len bytes of its
         * direction's sequence space */
        t->call_ts[from] = e->ts_mono;
        t->call_tid[from] = e->tid;
        t->base[from] = t->seq[from];
        t->seq[from] += e->len;
    }
    /* bytes past the per-call cap are a gap in the sequence space, as lost packets are */
    emit(c, c->tls_ifc, t, from, ts, e->dir == KF_TLS_DIR_WRITE ? 2 : 1, F_PSH | F_ACK,
         t->base[from] + e->off, t->seq[!from], (const uint8_t *)(e + 1), e->caplen);
    return 0;
}

/* ---- libraries ---- */

/* the library files tried so far, one per inode (/lib and /usr/lib are often one folder; a
 * container's libssl is a file of its own) */
typedef struct { dev_t dev; ino_t ino; } fid;
static fid *tried;
static size_t ntried;
#define TRIED_MAX 4096

/* -1 no such regular file, 1 tried before, 0 new (now marked tried) */
static int seen_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    for (size_t i = 0; i < ntried; i++)
        if (tried[i].dev == st.st_dev && tried[i].ino == st.st_ino) return 1;
    if (ntried >= TRIED_MAX) return 1;
    if (!tried && !(tried = malloc(TRIED_MAX * sizeof *tried))) return 1;
    tried[ntried++] = (fid){ st.st_dev, st.st_ino };
    return 0;
}

static int add_link(struct bpf_link *l)
{
    struct bpf_link **nv = realloc(links, (nlinks + 1) * sizeof *nv);
    if (!nv) { bpf_link__destroy(l); return -1; }
    links = nv;
    links[nlinks++] = l;
    return 0;
}

/* the four functions of one library; 1 attached (SSL_read and SSL_write at least), 0 not */
static int attach_lib(const char *path, char *why, size_t whylen)
{
    static const struct { const char *fn; int ex, rd; } fns[] = {
        { "SSL_write", 0, 0 }, { "SSL_read", 0, 1 }, { "SSL_write_ex", 1, 0 }, { "SSL_read_ex", 1, 1 } };
    LIBBPF_OPTS(bpf_uprobe_opts, of, .func_name = "SSL_free", .retprobe = false);
    struct bpf_link *lf = bpf_program__attach_uprobe_opts(skel->progs.ssl_free_enter, -1, path, 0, &of);
    if (lf) add_link(lf);   /* without it, streams end when kdissect's idle timer ends them */
    int ok = 0;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        struct bpf_program *enter = fns[i].ex ? (fns[i].rd ? skel->progs.ssl_read_ex_enter : skel->progs.ssl_write_ex_enter)
                                              : (fns[i].rd ? skel->progs.ssl_read_enter : skel->progs.ssl_write_enter);
        LIBBPF_OPTS(bpf_uprobe_opts, o1, .func_name = fns[i].fn, .retprobe = false);
        struct bpf_link *l1 = bpf_program__attach_uprobe_opts(enter, -1, path, 0, &o1);
        if (!l1) {
            if (!fns[i].ex) snprintf(why, whylen, "%s: %s: %s", path, fns[i].fn, strerror(errno));
            continue;
        }
        LIBBPF_OPTS(bpf_uprobe_opts, o2, .func_name = fns[i].fn, .retprobe = true);
        struct bpf_link *l2 = bpf_program__attach_uprobe_opts(skel->progs.ssl_ret, -1, path, 0, &o2);
        if (!l2) {
            snprintf(why, whylen, "%s: %s (return): %s", path, fns[i].fn, strerror(errno));
            bpf_link__destroy(l1);
            continue;
        }
        if (add_link(l1) != 0 || add_link(l2) != 0) continue;
        if (!fns[i].ex) ok++;
    }
    return ok == 2;
}

/* ---- libraries that running processes map ----
 * A container's libssl.so.3 is a file of its own in its image, not the host's. Every process's
 * /proc/PID/maps names the libraries it maps; /proc/PID/root + that path reaches the file from
 * here. Scanned at start, then every 2 s the processes not seen before, and every 60 s all of them
 * again (a process that loads libssl late, as Python does on `import ssl`). A process younger
 * than YOUNG_NS that maps no libssl yet is read again at the next scan: it may be a fork that has
 * not exec'd yet (`ip netns exec`, `env`, a shell) or a program whose loader has not reached
 * libssl; marked seen then, it would wait for the 60 s round, and its calls meanwhile be lost. */
static int scanning;
static uint8_t *pid_seen;           /* bitmap over pids */
#define PID_BITS (1u << 22)         /* pid_max's upper bound */
#define YOUNG_NS (5 * KF_NS_PER_SEC)
static int64_t last_scan, last_full;

/* ns since the process started (/proc/PID/stat's starttime against CLOCK_BOOTTIME); -1 unknown */
static int64_t proc_age(unsigned long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lu/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');   /* the command name may hold spaces and parentheses */
    if (!p) return -1;
    for (int f = 2; f < 22 && p; f++) p = strchr(p + 1, ' ');   /* to field 22, starttime */
    if (!p) return -1;
    unsigned long long ticks = strtoull(p + 1, NULL, 10);
    long hz = sysconf(_SC_CLK_TCK);
    struct timespec b;
    if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &b) != 0) return -1;
    int64_t boot = (int64_t)b.tv_sec * KF_NS_PER_SEC + b.tv_nsec;
    return boot - (int64_t)(ticks / (unsigned long long)hz) * KF_NS_PER_SEC -
           (int64_t)(ticks % (unsigned long long)hz) * KF_NS_PER_SEC / hz;
}

static size_t scan_proc(cap_ctx *c, int all)
{
    if (!pid_seen && !(pid_seen = calloc(PID_BITS / 8, 1))) return 0;
    if (all) memset(pid_seen, 0, PID_BITS / 8);
    DIR *d = opendir("/proc");
    if (!d) return 0;
    size_t n = 0;
    struct dirent *de;
    char line[4608], path[4700], why[600];
    while ((de = readdir(d))) {
        char *e;
        unsigned long pid = strtoul(de->d_name, &e, 10);
        if (*e || !pid || pid >= PID_BITS) continue;
        if (pid_seen[pid / 8] & (1u << (pid % 8))) continue;
        pid_seen[pid / 8] |= (uint8_t)(1u << (pid % 8));
        snprintf(path, sizeof path, "/proc/%lu/maps", pid);
        FILE *f = fopen(path, "re");
        if (!f) continue;
        int ssl = 0;
        while (fgets(line, sizeof line, f)) {
            char *p = strchr(line, '/');
            if (!p) continue;
            p[strcspn(p, "\n")] = 0;
            const char *base = strrchr(p, '/') + 1;
            if (strncmp(base, "libssl.so", 9) != 0 || strstr(p, " (deleted)")) continue;
            ssl = 1;
            snprintf(path, sizeof path, "/proc/%lu/root%s", pid, p);
            if (seen_file(path) != 0) continue;
            if (attach_lib(path, why, sizeof why)) {
                n++;
                if (c->verbose) kf_warn("--tls: uprobes on %s (mapped by pid %lu)", p, pid);
            }
        }
        fclose(f);
        if (!ssl) {
            int64_t age = proc_age(pid);
            if (age >= 0 && age < YOUNG_NS) pid_seen[pid / 8] &= (uint8_t)~(1u << (pid % 8));
        }
    }
    closedir(d);
    return n;
}

static int libbpf_print_tls(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
    if (kf_verbose < 2) return 0;
    return vfprintf(stderr, fmt, ap);
}

static void tls_off(const char *why)
{
    kf_warn("--tls: %s; capturing without TLS plaintext", why);
    tls_fini();
}

void tls_init(cap_ctx *c)
{
    g_ctx = c;
    char why[600] = "";
    libbpf_print_fn_t old = libbpf_set_print(libbpf_print_tls);
    /* the socket probes: fentry (BPF trampolines), else kprobes, else the raw sys_enter
     * tracepoint; the reasons each could not are kept for the one message */
    const char *how = "";
    static const char *hows[] = { "fentry", "kprobe", "sys_enter" };
    char whys[3][160] = { "", "", "" };
    for (int kp = 0; kp < 3 && !how[0]; kp++) {
        skel = tls_bpf__open();
        if (!skel) { snprintf(why, sizeof why, "cannot open the BPF object: %s", strerror(errno)); break; }
        skel->rodata->max_call = c->tls_max_call;
        struct bpf_program *p1[3] = { skel->progs.tls_tcp_sendmsg_f, skel->progs.tls_tcp_sendmsg, skel->progs.tls_sys_enter };
        struct bpf_program *p2[3] = { skel->progs.tls_tcp_recvmsg_f, skel->progs.tls_tcp_recvmsg, NULL };
        for (int k = 0; k < 3; k++) {
            bpf_program__set_autoload(p1[k], k == kp);
            if (p2[k]) bpf_program__set_autoload(p2[k], k == kp);
        }
        int r = tls_bpf__load(skel);
        struct bpf_link *k1 = NULL, *k2 = NULL;
        if (r) {
            snprintf(whys[kp], sizeof whys[kp], "%s: %s", hows[kp], strerror(-r));
        } else {
            k1 = bpf_program__attach(p1[kp]);
            k2 = k1 && p2[kp] ? bpf_program__attach(p2[kp]) : NULL;
            if (!k1 || (p2[kp] && !k2)) snprintf(whys[kp], sizeof whys[kp], "%s: %s", hows[kp], strerror(errno));
        }
        if (k1 && (k2 || !p2[kp])) {
            add_link(k1);
            if (k2) add_link(k2);
            how = hows[kp];
            break;
        }
        if (k1) bpf_link__destroy(k1);
        tls_bpf__destroy(skel);
        skel = NULL;
    }
    libbpf_set_print(old);
    if (!skel) {
        if (!why[0]) snprintf(why, sizeof why, "cannot attach the socket probes (%s; %s; %s)", whys[0], whys[1], whys[2]);
        tls_off(why);
        return;
    }
    if (c->verbose) kf_warn("--tls: sockets through %s", how);
    why[0] = 0;
    /* the libraries */
    size_t nlib = 0;
    if (c->ntls_libs) {
        for (size_t i = 0; i < c->ntls_libs; i++) {
            int s = seen_file(c->tls_libs[i]);
            if (s < 0) { kf_warn("--tls-lib %s: %s", c->tls_libs[i], strerror(errno)); continue; }
            if (s == 1) continue;
            if (attach_lib(c->tls_libs[i], why, sizeof why)) {
                nlib++;
                if (c->verbose) kf_warn("--tls: uprobes on %s", c->tls_libs[i]);
            }
        }
    } else {
        static const char *dirs[] = { "/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib",
                                      "/usr/local/lib64", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                                      "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu" };
        static const char *names[] = { "libssl.so.3", "libssl.so.1.1" };
        for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++)
            for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
                char p[256];
                snprintf(p, sizeof p, "%s/%s", dirs[d], names[n]);
                if (seen_file(p) != 0) continue;
                if (attach_lib(p, why, sizeof why)) {
                    nlib++;
                    if (c->verbose) kf_warn("--tls: uprobes on %s", p);
                }
            }
    }
    if (!c->ntls_libs) {   /* and the ones running processes map (containers have their own) */
        scanning = 1;
        nlib += scan_proc(c, 1);
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        last_full = last_scan = (int64_t)t.tv_sec * KF_NS_PER_SEC + t.tv_nsec;
    }
    if (!nlib && !scanning) {
        if (!why[0]) snprintf(why, sizeof why, "no libssl.so.3 or libssl.so.1.1 found%s", c->ntls_libs ? " at --tls-lib" : "");
        tls_off(why);
        return;
    }
    if (!nlib) kf_warn("--tls: no libssl found yet%s%s; probing each one a process maps from now on",
                       why[0] ? ": " : "", why);
    rb = ring_buffer__new(bpf_map__fd(skel->maps.tls_events), on_event, NULL, NULL);
    if (!rb) { tls_off("cannot map the ring buffer"); return; }
    /* the interface the plaintext goes on, in every segment */
    cap_iface *ifc = calloc(1, sizeof *ifc);
    cap_iface **nv = ifc ? realloc(c->ifs, (c->nifs + 1) * sizeof *nv) : NULL;
    if (!nv) { free(ifc); tls_off("out of memory"); return; }
    c->ifs = nv;
    c->ifs[c->nifs++] = ifc;
    ifc->ifindex = 0;   /* no real interface has index 0 */
    snprintf(ifc->name, sizeof ifc->name, "%s", KF_TLS_IFACE);
    ifc->linktype = 101;
    ifc->up = 1;
    ifc->attached = 1;
    ifc->idb = -1;
    c->tls_ifc = ifc;
    if (c->w) seg_add_iface(c, ifc);
}

/* libbpf's ring_buffer__consume reads until the ring is empty and starts over while the producers
 * keep adding (machine-wide TLS traffic, -f only filters after reading): under load it never
 * returned, and the capture loop never saw SIGTERM. A batch of TLS_BATCH events, then back to the
 * loop: the callback's negative answer makes libbpf stop after the event it has just handed over
 * (that one is consumed and already handled). */
#define TLS_BATCH 4096
static unsigned batch;
static int on_event(void *ctx, void *data, size_t size)
{
    handle_event(ctx, data, size);
    return ++batch >= TLS_BATCH ? -EAGAIN : 0;
}

int tls_fd(void) { return rb ? ring_buffer__epoll_fd(rb) : -1; }

int tls_consume(cap_ctx *c)
{
    if (!rb) return 0;
    g_offset = cap_mono_to_real();
    batch = 0;
    int n = ring_buffer__consume(rb);
    if (n == -EAGAIN) return 1;     /* a full batch: more may wait */
    return n < 0 ? -1 : 0;
}

void tls_poll_drops(cap_ctx *c)
{
    if (!skel || !c->tls_ifc) return;
    if (scanning) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t now = (int64_t)t.tv_sec * KF_NS_PER_SEC + t.tv_nsec;
        if (now - last_full >= 60 * KF_NS_PER_SEC) { scan_proc(c, 1); last_full = last_scan = now; }
        else if (now - last_scan >= 2 * KF_NS_PER_SEC) { scan_proc(c, 0); last_scan = now; }
    }
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) return;
    uint64_t vals[ncpu];
    for (__u32 k = 0; k < KF_TLS_CNT_N; k++) {
        if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.tls_counts), &k, vals) != 0) continue;
        uint64_t sum = 0;
        for (int i = 0; i < ncpu; i++) sum += vals[i];
        if (sum > cnt_seen[k]) {
            uint64_t d = sum - cnt_seen[k];
            if (k == KF_TLS_CNT_DROPS) cap_add_drops(c, c->tls_ifc, d);
            c->tls_counts[k] += d;
            cnt_seen[k] = sum;
        }
    }
    c->tls_other_end = other_end;
}

void tls_fini(void)
{
    if (rb) ring_buffer__free(rb);
    rb = NULL;
    for (size_t i = nlinks; i-- > 0;) bpf_link__destroy(links[i]);
    free(links);
    links = NULL;
    nlinks = 0;
    if (skel) tls_bpf__destroy(skel);
    skel = NULL;
    tc_free_all();
    free(tried);
    tried = NULL;
    ntried = 0;
    free(pid_seen);
    pid_seen = NULL;
    scanning = 0;
}
