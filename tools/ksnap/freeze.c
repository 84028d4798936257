/* ksnap freeze — freeze a time window of one or more stores into a .ksnap (docs/snapshot.md).
 *
 * Segments that cross the window's edges, every open .part (only its complete blocks) and all
 * segments when -f is given are cut into anonymous temporary files with kf_pcapng, keeping the
 * SHB options (the node comment), IDBs, DSBs and packet flags/comments. A segment wholly inside
 * the window is taken as it is. manifest.json is the first member but holds every member's
 * sha256 and packet counts: so the members are compressed into the archive body (kf_snapw
 * deferred head) while worker threads scan and hash them at the same time, and the manifest
 * is put in front last. If a segment taken as it is turns out to hold a packet outside the
 * window (clock skew), or the manifest outgrows its reserve, the archive is written again the
 * plain way. Store locks are held shared from the first read until the archive is renamed into
 * place, so retention cannot delete a segment being frozen. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kf_atomic.h"
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <jansson.h>
#include "kf_tool.h"
#include "ksnap.h"
#include "kf_capread.h"
#include "kf_meta.h"
#include "kf_pcapng.h"
#include "kf_sha256.h"
#include "kf_snap.h"
#include "kf_store.h"
#include "kf_time.h"
#include "kf_grow.h"

typedef struct fmember {
    char *name, *node;
    int64_t size, mtime;
    uint8_t sha[32];
    uint8_t *map;           /* mmap of the source file or the temporary cut */
    size_t maplen;
    int fd;
    int verbatim;           /* taken as it is: scanned (and checked) by the workers */
    int bad;                /* verbatim but a packet lies outside the window: must be cut */
    int64_t first, last;    /* packets in the member */
    uint64_t packets, bytes;
    kf_segment seg;         /* where it came from (path owned) */
} fmember;

typedef struct fnode {
    char *name;
    int64_t first, last;
    uint64_t packets, bytes;
} fnode;

typedef struct bpfc { int linktype; int ok; struct bpf_program prog; } bpfc;

typedef struct freezer {
    int64_t from, to;
    const char *filter;
    bpfc *progs;
    size_t nprogs;
    const char *tmpdir;
    fmember *m;
    size_t nm;
    fnode *nodes;
    size_t nn;
    int *locks;
    size_t nlocks;
    size_t capm, capn, capprogs, caplocks;
} freezer;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: ksnap freeze --dir DIR [--dir DIR]... --from TIME --to TIME [--node NODE]...\n"
        "                    [-f BPF] [--level N] -o FILE.ksnap\n"
        "Freezes the packets of [from, to] and the Kubernetes metadata of the window into one\n"
        "hash-verified archive (a zstd-compressed pax tar; see docs/snapshot.md).\n"
        "  --dir DIR       a capture store (several allowed)\n"
        "  --from, --to    the window (RFC 3339, local time, epoch, or relative like -15m)\n"
        "  --node NODE     only this node (repeatable)\n"
        "  -f, --filter BPF  keep only packets matching this tcpdump filter\n"
        "  --level N       zstd level (default 3)\n"
        "  -j, --threads N compression and hashing threads (default 2; 0 = all cores)\n"
        "  -o, --output FILE the archive to create (refuses to overwrite a file; '-', a pipe, FIFO or\n"
        "                  device is written through, the archive made in $TMPDIR first)\n");
}

static fnode *node_get(freezer *fz, const char *name)
{
    for (size_t i = 0; i < fz->nn; i++) if (!strcmp(fz->nodes[i].name, name)) return &fz->nodes[i];
    fnode *n = kf_grow(fz->nodes, &fz->capn, fz->nn + 1, sizeof *n);
    if (!n) kf_die(KF_EXIT_ERR, "out of memory");
    fz->nodes = n;
    n = &fz->nodes[fz->nn++];
    memset(n, 0, sizeof *n);
    n->name = strdup(name);
    n->first = KF_T_MAX; n->last = KF_T_MIN;
    return n;
}

static const bpfc *prog_for(freezer *fz, int linktype, uint32_t snaplen)
{
    for (size_t i = 0; i < fz->nprogs; i++) if (fz->progs[i].linktype == linktype) return &fz->progs[i];
    bpfc *n = kf_grow(fz->progs, &fz->capprogs, fz->nprogs + 1, sizeof *n);
    if (!n) kf_die(KF_EXIT_ERR, "out of memory");
    fz->progs = n;
    bpfc *c = &fz->progs[fz->nprogs++];
    memset(c, 0, sizeof *c);
    c->linktype = linktype;
    pcap_t *p = pcap_open_dead(linktype, snaplen ? (int)snaplen : 262144);
    if (!p) kf_die(KF_EXIT_ERR, "-f: cannot open libpcap for link type %d", linktype);
    if (pcap_compile(p, &c->prog, fz->filter, 1, PCAP_NETMASK_UNKNOWN) != 0)
        kf_die(KF_EXIT_ERR, "-f: %s", pcap_geterr(p));
    c->ok = 1;
    pcap_close(p);
    return c;
}

static int keep_pkt(freezer *fz, const kf_pkt *pk, const kf_iface *ifc)
{
    if (pk->ts_ns < fz->from || pk->ts_ns > fz->to) return 0;
    if (!fz->filter) return 1;
    const bpfc *c = prog_for(fz, pk->linktype, ifc ? ifc->snaplen : 0);
    struct pcap_pkthdr h;
    h.ts.tv_sec = pk->ts_ns / KF_NS_PER_SEC;
    h.ts.tv_usec = (pk->ts_ns % KF_NS_PER_SEC) / 1000;
    h.caplen = pk->caplen;
    h.len = pk->origlen;
    return pcap_offline_filter(&c->prog, &h, pk->data) != 0;
}

static void hash_map(fmember *m)
{
    if (kf_sha256_buf(m->map, m->maplen, m->sha) != 0) kf_die(KF_EXIT_ERR, "out of memory");
}

/* Workers: scan a verbatim member (packet counts, and check every packet is inside the window)
 * and hash every member, while the main thread compresses the members into the archive. */
typedef struct wjob { freezer *fz; atomic_size_t next; } wjob;

static void scan_member(freezer *fz, fmember *m)
{
    char err[256];
    kf_reader *r = kf_reader_open_mem(m->map, m->maplen, err, sizeof err);
    if (!r) { m->bad = 1; return; }
    kf_pkt pk;
    int rc;
    m->first = KF_T_MAX; m->last = KF_T_MIN; m->packets = m->bytes = 0;
    while ((rc = kf_reader_next(r, &pk)) == 1) {
        if (pk.ts_ns < fz->from || pk.ts_ns > fz->to) { m->bad = 1; break; }
        if (pk.ts_ns < m->first) m->first = pk.ts_ns;
        if (pk.ts_ns > m->last) m->last = pk.ts_ns;
        m->packets++; m->bytes += pk.caplen;
    }
    if (rc < 0 || kf_reader_warning(r)[0]) m->bad = 1;   /* damaged or cut: keep complete blocks only */
    kf_reader_close(r);
}

static void *work(void *arg)
{
    wjob *j = arg;
    size_t i;
    while ((i = atomic_fetch_add(&j->next, 1)) < j->fz->nm) {
        fmember *m = &j->fz->m[i];
        if (m->verbatim) scan_member(j->fz, m);
        hash_map(m);
    }
    return NULL;
}

typedef struct workers { wjob job; pthread_t th[16]; int n; } workers;

static void workers_start(workers *w, freezer *fz, int threads)
{
    w->job.fz = fz;
    atomic_init(&w->job.next, 0);
    w->n = 0;
    int nt = threads < 1 ? 1 : threads > 16 ? 16 : threads;
    for (int i = 0; i < nt; i++) if (pthread_create(&w->th[w->n], NULL, work, &w->job) == 0) w->n++;
}

static void workers_join(workers *w)
{
    if (!w->n) work(&w->job);   /* no thread could start: do it here */
    for (int i = 0; i < w->n; i++) pthread_join(w->th[i], NULL);
}

static fmember *member_new(freezer *fz, const char *node, const char *base)
{
    fmember *n = kf_grow(fz->m, &fz->capm, fz->nm + 1, sizeof *n);
    if (!n) kf_die(KF_EXIT_ERR, "out of memory");
    fz->m = n;
    fmember *m = &fz->m[fz->nm];
    memset(m, 0, sizeof *m);
    m->fd = -1;
    size_t l = strlen(node) + strlen(base) + 16;
    m->name = malloc(l);
    snprintf(m->name, l, "nodes/%s/%s", node, base);
    size_t bl = strlen(m->name);
    if (bl > 5 && !strcmp(m->name + bl - 5, ".part")) m->name[bl - 5] = 0;
    m->node = strdup(node);
    return m;
}

static int map_file(fmember *m, int fd, const char *what)
{
    struct stat st;
    if (fstat(fd, &st) != 0) { kf_err("%s: %s", what, strerror(errno)); return -1; }
    m->fd = fd;
    m->maplen = (size_t)st.st_size;
    m->size = (int64_t)m->maplen;
    if (!m->maplen) { m->map = NULL; return 0; }
    m->map = mmap(NULL, m->maplen, PROT_READ, MAP_SHARED, fd, 0);
    if (m->map == MAP_FAILED) { m->map = NULL; kf_err("%s: %s", what, strerror(errno)); return -1; }
    madvise(m->map, m->maplen, MADV_WILLNEED);   /* two readers at different offsets: no free-behind */
    return 0;
}

/* Cuts segment sg into a temporary file: packets inside the window (and -f). Fills m (map,
 * counts). 1 kept, 0 nothing of it in the window, -1 error (message printed). */
static int cut_segment(freezer *fz, const kf_segment *sg, const char *node, fmember *m)
{
    char err[512];
    kf_reader *r = kf_reader_open(sg->path, err, sizeof err);
    if (!r) { kf_err("%s: %s", sg->path, err); return -1; }
    int fd = open(fz->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char tmpl[] = "/tmp/ksnap-freeze.XXXXXX";
        fd = mkstemp(tmpl);
        if (fd >= 0) unlink(tmpl);
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
    if (!f) { kf_err("%s: temporary file: %s", fz->tmpdir, strerror(errno)); if (fd >= 0) close(fd); kf_reader_close(r); return -1; }
    kf_pcapng_w *w = NULL;
    size_t nif = 0, ndsb = 0;
    kf_pkt pk;
    int rc;
    m->first = KF_T_MAX; m->last = KF_T_MIN; m->packets = m->bytes = 0;
    while ((rc = kf_reader_next(r, &pk)) == 1) {
        const kf_iface *ifc = kf_reader_iface(r, pk.iface);
        if (!keep_pkt(fz, &pk, ifc)) continue;
        if (!w) {
            const kf_section *sec = kf_reader_section_count(r) ? kf_reader_section(r, 0) : NULL;
            kf_shb_opts so = { 0 };
            if (sec) { so.hardware = sec->hardware; so.os = sec->os; so.userappl = sec->userappl; so.comment = sec->comment; }
            char nc[300];
            if (!so.comment) { snprintf(nc, sizeof nc, "kforensics-node: %s", node); so.comment = nc; }
            w = kf_pcapng_open(f, &so);
            if (!w) { kf_err("%s: cannot start the cut segment", sg->path); break; }
        }
        for (size_t n = kf_reader_iface_count(r); nif < n; nif++) {
            const kf_iface *x = kf_reader_iface(r, (uint32_t)nif);
            kf_idb_opts io = { 0 };
            io.linktype = x->linktype; io.snaplen = x->snaplen; io.name = x->name;
            io.description = x->description; io.filter = x->filter; io.comment = x->comment;
            io.tsresol = 9;
            if (kf_pcapng_add_iface(w, &io) < 0) break;
        }
        for (size_t n = kf_reader_dsb_count(r); ndsb < n; ndsb++) {
            const kf_dsb *d = kf_reader_dsb(r, ndsb);
            kf_pcapng_write_dsb(w, d->type, d->data, d->len);
        }
        kf_epb e = { 0 };
        e.iface = pk.iface; e.ts_ns = pk.ts_ns; e.caplen = pk.caplen; e.origlen = pk.origlen;
        e.data = pk.data; e.flags = pk.flags; e.has_flags = pk.has_flags;
        e.dropcount = pk.dropcount; e.has_dropcount = pk.dropcount != 0; e.comment = pk.comment;
        if (kf_pcapng_write_epb(w, &e) != 0) break;
        if (pk.ts_ns < m->first) m->first = pk.ts_ns;
        if (pk.ts_ns > m->last) m->last = pk.ts_ns;
        m->packets++; m->bytes += pk.caplen;
    }
    if (rc < 0) {
        kf_err("%s: %s", sg->path, kf_reader_error(r));
        if (w) kf_pcapng_close(w);
        fclose(f); kf_reader_close(r);
        return -1;
    }
    kf_reader_close(r);
    if (!w) { fclose(f); return 0; }
    if (kf_pcapng_close(w) != 0 || fflush(f) != 0) {
        kf_err("%s: writing the cut: %s", fz->tmpdir, strerror(errno));
        fclose(f);
        return -1;
    }
    int mfd = dup(fileno(f));
    fclose(f);
    if (mfd < 0 || map_file(m, mfd, "temporary file") != 0) return -1;
    m->mtime = sg->end_ns > 0 ? sg->end_ns : kf_now_ns();
    m->verbatim = 0;
    return 1;
}

/* 1 the member was added, 0 nothing of it in the window, -1 error (message printed) */
static int do_segment(freezer *fz, const kf_segment *sg, const char *node)
{
    int verbatim = !sg->open && !fz->filter && sg->start_ns >= fz->from && sg->end_ns <= fz->to;
    const char *base = strrchr(sg->path, '/');
    base = base ? base + 1 : sg->path;
    node_get(fz, node);
    fmember *m = member_new(fz, node, base);
    m->seg = *sg;
    m->seg.path = strdup(sg->path);
    m->seg.node = NULL;
    if (verbatim) {
        int fd = open(sg->path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) { kf_err("%s: %s", sg->path, strerror(errno)); if (fd >= 0) close(fd); return -1; }
        if (map_file(m, fd, sg->path) != 0) return -1;
        m->mtime = (int64_t)st.st_mtim.tv_sec * KF_NS_PER_SEC + st.st_mtim.tv_nsec;
        m->verbatim = 1;
        fz->nm++;
        return 1;
    }
    int r = cut_segment(fz, sg, node, m);
    if (r == 1) fz->nm++;
    else free(m->seg.path), free(m->name), free(m->node);
    return r;
}

static void member_unmap(fmember *m)
{
    if (m->map) munmap(m->map, m->maplen);
    m->map = NULL;
    if (m->fd >= 0) close(m->fd);
    m->fd = -1;
}

/* Writes the members (and the events) into w's body. 0 or -1 (message printed). */
static int write_body(freezer *fz, kf_snapw *w, const char *ev, size_t evl, int64_t created, const char *out)
{
    for (size_t i = 0; i < fz->nm; i++) {
        fmember *m = &fz->m[i];
        if (kf_snapw_begin(w, m->name, m->size, m->mtime) != 0) goto fail;
        for (size_t off = 0; off < m->maplen; off += 1 << 20) {
            size_t k = m->maplen - off < (1 << 20) ? m->maplen - off : (1 << 20);
            if (kf_snapw_write(w, m->map + off, k) != 0) goto fail;
        }
    }
    if (kf_snapw_add(w, "meta/events.ndjson", ev, evl, created) != 0) goto fail;
    return 0;
fail:
    kf_err("%s: %s", out, kf_snapw_error(w));
    return -1;
}

static char *make_manifest(freezer *fz, const char *ev, size_t evl)
{
    json_t *man = kf_manifest_new(fz->from, fz->to, fz->filter, "ksnap " KF_VERSION);
    for (size_t i = 0; i < fz->nn; i++) {
        fnode *n = &fz->nodes[i];
        n->first = KF_T_MAX; n->last = KF_T_MIN; n->packets = n->bytes = 0;
        for (size_t k = 0; k < fz->nm; k++) {
            fmember *m = &fz->m[k];
            if (strcmp(m->node, n->name) || !m->packets) continue;
            if (m->first < n->first) n->first = m->first;
            if (m->last > n->last) n->last = m->last;
            n->packets += m->packets; n->bytes += m->bytes;
        }
        if (n->packets) kf_manifest_add_node(man, n->name, n->first, n->last, n->packets, n->bytes);
    }
    for (size_t i = 0; i < fz->nm; i++) kf_manifest_add_member(man, fz->m[i].name, fz->m[i].node, fz->m[i].size, fz->m[i].sha);
    uint8_t evsha[32];
    if (kf_sha256_buf(ev, evl, evsha) != 0) kf_die(KF_EXIT_ERR, "out of memory");
    kf_manifest_add_member(man, "meta/events.ndjson", NULL, (int64_t)evl, evsha);
    char *t = json_dumps(man, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(man);
    if (!t) kf_die(KF_EXIT_ERR, "out of memory");
    return t;
}

/* the finished archive in fd, copied to out (written through in place: a pipe, FIFO, device) */
static int copy_through(int fd, const char *out, char *err, size_t errlen)
{
    kf_atomic a;
    if (kf_atomic_open(&a, out, 0440, err, errlen) != 0) return -1;
    static char buf[1 << 16];
    ssize_t n;
    off_t off = 0;
    while ((n = pread(fd, buf, sizeof buf, off)) > 0) {
        if (fwrite(buf, 1, (size_t)n, a.f) != (size_t)n) break;
        off += n;
    }
    if (n != 0) {
        snprintf(err, errlen, "%s", n < 0 ? strerror(errno) : "write failed");
        kf_atomic_abort(&a);
        return -1;
    }
    return kf_atomic_commit(&a, err, errlen);
}

static int wanted(char **nodes, size_t nnodes, const char *n)
{
    if (!nnodes) return 1;
    for (size_t i = 0; i < nnodes; i++) if (!strcmp(nodes[i], n)) return 1;
    return 0;
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const fmember *)a)->name, ((const fmember *)b)->name);
}

int cmd_freeze(int argc, char **argv)
{
    static const struct option lo[] = {
        { "dir", 1, 0, 'd' }, { "from", 1, 0, 'F' }, { "to", 1, 0, 'T' }, { "node", 1, 0, 'n' },
        { "filter", 1, 0, 'f' }, { "output", 1, 0, 'o' }, { "level", 1, 0, 'L' },
        { "threads", 1, 0, 'j' }, { "help", 0, 0, 'h' }, { 0 } };
    char **dirs = NULL, **nodes = NULL;
    size_t ndirs = 0, nnodes = 0;
    const char *from_s = NULL, *to_s = NULL, *out = NULL;
    int level = 0, threads = 2, c;
    freezer fz = { 0 };
    optind = 1;
    while ((c = kf_getopt(argc, argv, "d:F:T:n:f:o:L:j:h", lo)) != -1) {
        switch (c) {
        case 'd': dirs = realloc(dirs, (ndirs + 1) * sizeof *dirs); dirs[ndirs++] = optarg; break;
        case 'n': nodes = realloc(nodes, (nnodes + 1) * sizeof *nodes); nodes[nnodes++] = optarg; break;
        case 'F': from_s = optarg; break;
        case 'T': to_s = optarg; break;
        case 'f': fz.filter = optarg; break;
        case 'o': out = optarg; break;
        case 'L': level = atoi(optarg); if (level < 1 || level > 22) kf_usage_die("--level: 1..22"); break;
        case 'j': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || end == optarg || n < 0 || n > 64) kf_usage_die("--threads: 0 (all cores) .. 64: %s", optarg);
            if (n == 0) { n = sysconf(_SC_NPROCESSORS_ONLN); n = n < 1 ? 1 : n > 64 ? 64 : n; }
            threads = (int)n;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: kf_usage_die("unknown option");
        }
    }
    for (; optind < argc; optind++) {   /* --dir DIR DIR2 …: the extra ones are stores too */
        dirs = realloc(dirs, (ndirs + 1) * sizeof *dirs);
        dirs[ndirs++] = argv[optind];
    }
    if (!ndirs) kf_usage_die("--dir is required");
    if (!from_s || !to_s) kf_usage_die("--from and --to are required");
    if (!out) kf_usage_die("-o FILE is required");
    char err[512];
    int64_t now = kf_now_ns();
    if (kf_time_parse(from_s, now, &fz.from, err, sizeof err) != 0) kf_usage_die("--from: %s", err);
    if (kf_time_parse(to_s, now, &fz.to, err, sizeof err) != 0) kf_usage_die("--to: %s", err);
    if (fz.from > fz.to) kf_usage_die("--from is after --to");
    if ((!strcmp(out, "-") || !strcmp(out, "/dev/stdout")) && isatty(STDOUT_FILENO))
        kf_usage_die("not writing an archive to a terminal: give -o FILE or a pipe");
    int rep = kf_atomic_replaces(out);
    if (rep != 0) kf_die(KF_EXIT_ERR, "%s: %s", out, rep < 0 ? "cannot follow the symbolic link" : "already exists (snapshots are never overwritten)");
    /* the cut segments wait beside the archive; one written through a pipe or device waits in $TMPDIR */
    char *od = strdup(out);
    const char *td = getenv("TMPDIR");
    fz.tmpdir = kf_atomic_in_place(out) ? (td && *td ? td : "/tmp") : dirname(od);
    if (fz.filter) prog_for(&fz, KF_LT_EN10MB, 0);   /* a bad expression fails now, not mid-way */
    int *matched = calloc(nnodes + 1, sizeof *matched);

    kf_meta *meta = kf_meta_new();
    int bad = 0;
    for (size_t i = 0; i < ndirs; i++) {
        if (!kf_store_is_store(dirs[i])) { kf_err("%s: not a capture store", dirs[i]); bad = 1; continue; }
        int mfd = kf_store_lock(dirs[i], "meta", 0, 0);
        if (kf_meta_load_store(meta, dirs[i], err, sizeof err) != 0) kf_warn("%s: metadata: %s (the rest is kept)", dirs[i], err);
        if (mfd >= 0) kf_store_unlock(mfd);
        char **nv; size_t nnv;
        if (kf_store_nodes(dirs[i], &nv, &nnv, err, sizeof err) != 0) { kf_err("%s: %s", dirs[i], err); bad = 1; continue; }
        for (size_t j = 0; j < nnv; j++) {
            if (!wanted(nodes, nnodes, nv[j])) continue;
            for (size_t q = 0; q < nnodes; q++) if (!strcmp(nodes[q], nv[j])) matched[q] = 1;
            int lfd = kf_store_lock(dirs[i], nv[j], 0, 0);
            if (lfd < 0 && (errno == EROFS || errno == EACCES))
                kf_warn("%s/%s: read-only store, frozen without its lock", dirs[i], nv[j]);
            else if (lfd < 0) { kf_err("%s/%s: cannot take the store lock: %s", dirs[i], nv[j], strerror(errno)); bad = 1; continue; }
            else {
                int *nl = kf_grow(fz.locks, &fz.caplocks, fz.nlocks + 1, sizeof *nl);
                if (!nl) kf_die(KF_EXIT_ERR, "out of memory");
                fz.locks = nl;
                fz.locks[fz.nlocks++] = lfd;
            }
            kf_segment *sg; size_t ns;
            if (kf_store_segments(dirs[i], nv[j], &sg, &ns, err, sizeof err) != 0) { kf_err("%s/%s: %s", dirs[i], nv[j], err); bad = 1; continue; }
            for (size_t k = 0; k < ns; k++) {
                int64_t end = sg[k].open ? now : sg[k].end_ns;
                if (sg[k].start_ns > fz.to || end < fz.from) continue;
                if (do_segment(&fz, &sg[k], nv[j]) < 0) bad = 1;
            }
            kf_segments_free(sg, ns);
        }
        kf_strv_free(nv, nnv);
    }
    for (size_t q = 0; q < nnodes; q++)
        if (!matched[q]) { kf_err("--node %s: no such node in the store(s)", nodes[q]); bad = 1; }
    free(matched);
    if (bad) kf_die(KF_EXIT_ERR, "%s: not written", out);
    kf_meta_finish(meta);
    char *ev = NULL; size_t evl = 0;
    FILE *mf = open_memstream(&ev, &evl);
    if (!mf || kf_meta_write_window(meta, fz.from, fz.to, mf) != 0) kf_die(KF_EXIT_ERR, "writing metadata: out of memory");
    fclose(mf);
    kf_meta_free(meta);
    if (!fz.nm && !evl) { kf_err("nothing in the window (no packets, no metadata): %s not written", out); return KF_EXIT_NONE; }
    if (fz.nm > 1) qsort(fz.m, fz.nm, sizeof *fz.m, cmp_member);
    for (size_t i = 1; i < fz.nm; i++)   /* sorted by name: a segment two stores hold is adjacent */
        if (!strcmp(fz.m[i - 1].name, fz.m[i].name)) kf_die(KF_EXIT_ERR, "%s: the same segment comes from two stores", fz.m[i].name);
    int64_t created = kf_now_ns();

    /* the body is compressed while workers scan and hash the members; the manifest goes in
     * front at the end. Its reserve: a generous bound of its size (hashes have fixed width). */
    size_t est = 1024;
    for (size_t i = 0; i < fz.nm; i++) est += 2 * strlen(fz.m[i].name) + 192;
    for (size_t i = 0; i < fz.nn; i++) est += strlen(fz.nodes[i].name) + 320;
    if (fz.filter) est += 2 * strlen(fz.filter);
    /* A pipe, FIFO or device cannot take the manifest in front at the end: the archive is made
     * in an unnamed temporary file ($TMPDIR; gone by itself on any exit) and then copied through. */
    int tfd = -1;
    char tpath[64];
    const char *wout = out;
    if (kf_atomic_in_place(out)) {
        tfd = open(fz.tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (tfd < 0) kf_die(KF_EXIT_IO, "%s: temporary file: %s", fz.tmpdir, strerror(errno));
        snprintf(tpath, sizeof tpath, "/proc/self/fd/%d", tfd);
        wout = tpath;
    }
    kf_snapw *w = kf_snapw_open_deferred(wout, kf_snap_head_reserve(est), level, threads, err, sizeof err);
    if (!w) kf_die(KF_EXIT_IO, "%s: %s", out, err);
    workers wk;
    workers_start(&wk, &fz, threads > 1 ? (threads + 1) / 2 : 1);   /* the rest compress */
    int ok = write_body(&fz, w, ev, evl, created, out) == 0;
    workers_join(&wk);
    if (!ok) { kf_snapw_abort(w); return KF_EXIT_IO; }
    int redo = 0;
    for (size_t i = 0; i < fz.nm; i++) {
        fmember *m = &fz.m[i];
        if (!m->verbatim || !m->bad) continue;
        /* a packet outside the window in a segment named inside it: cut it after all */
        member_unmap(m);
        int r = cut_segment(&fz, &m->seg, m->node, m);
        if (r < 0) { kf_snapw_abort(w); kf_die(KF_EXIT_ERR, "%s: not written", out); }
        if (r == 0) { m->packets = 0; m->size = 0; m->maplen = 0; }
        hash_map(m);
        redo = 1;
    }
    if (redo) {   /* drop members left empty by the cut */
        size_t k = 0;
        for (size_t i = 0; i < fz.nm; i++) {
            if (fz.m[i].packets || fz.m[i].maplen) fz.m[k++] = fz.m[i];
            else { free(fz.m[i].name); free(fz.m[i].node); free(fz.m[i].seg.path); }
        }
        fz.nm = k;
    }
    char *mtext = make_manifest(&fz, ev, evl);
    uint64_t total = 0;
    for (size_t i = 0; i < fz.nn; i++) total += fz.nodes[i].packets;
    if (!total) kf_warn("no packets in the window; the snapshot holds metadata only");
    int r = redo ? 1 : kf_snapw_commit_head(w, "manifest.json", mtext, strlen(mtext), created, err, sizeof err);
    if (r < 0) { kf_snapw_abort(w); kf_die(KF_EXIT_IO, "%s: %s", out, err); }
    if (r == 1) {
        /* the plain way: manifest, members, events, in one zstd stream */
        kf_snapw_abort(w);
        if (tfd >= 0 && (ftruncate(tfd, 0) != 0 || lseek(tfd, 0, SEEK_SET) != 0))
            kf_die(KF_EXIT_IO, "%s: temporary file: %s", fz.tmpdir, strerror(errno));
        w = kf_snapw_open(wout, level, threads, err, sizeof err);
        if (!w) kf_die(KF_EXIT_IO, "%s: %s", out, err);
        if (kf_snapw_add(w, "manifest.json", mtext, strlen(mtext), created) != 0) { kf_err("%s: %s", out, kf_snapw_error(w)); kf_snapw_abort(w); return KF_EXIT_IO; }
        if (write_body(&fz, w, ev, evl, created, out) != 0) { kf_snapw_abort(w); return KF_EXIT_IO; }
        if (kf_snapw_commit(w, err, sizeof err) != 0) kf_die(KF_EXIT_IO, "%s: %s", out, err);
    }
    if (tfd >= 0) {
        if (copy_through(tfd, out, err, sizeof err) != 0) kf_die(KF_EXIT_IO, "%s: %s", out, err);
        close(tfd);
    }
    for (size_t i = 0; i < fz.nlocks; i++) kf_store_unlock(fz.locks[i]);
    for (size_t i = 0; i < fz.nm; i++) { member_unmap(&fz.m[i]); free(fz.m[i].name); free(fz.m[i].node); free(fz.m[i].seg.path); }
    for (size_t i = 0; i < fz.nn; i++) free(fz.nodes[i].name);
    for (size_t i = 0; i < fz.nprogs; i++) pcap_freecode(&fz.progs[i].prog);
    free(fz.progs); free(fz.m); free(fz.nodes); free(fz.locks);
    free(mtext); free(ev); free(od); free(dirs); free(nodes);
    return 0;
}
