/* kf_source — several inputs merged by time (see kf_source.h).
 *
 * Every input becomes one or more "lanes": a plain file is one lane; a store contributes one
 * lane per node whose segments are read one after the other (they do not overlap in time); a
 * snapshot contributes one lane per node of its members. Lanes are merged with a binary
 * min-heap on the time stamp of each lane's pending packet (ties: lane order), so only one reader
 * per lane is open at a time. A packet handed out stays valid until the next call: its lane is
 * only advanced at the start of the next kf_source_next.
 *
 * Snapshot members are read as streams straight out of the archive, never held in memory or
 * copied to a temporary file (issue 21: 40 members of 50 MB took 2 GB of RAM, a 10 GiB member
 * of zeros 10 GB of $TMPDIR before failing "not a pcap"). Each lane owns its own handle on the
 * archive and moves it forward to its next member; a lane whose next member lies behind its
 * handle (members out of time order in the archive) reopens the archive. Several nodes in one
 * snapshot so decompress the archive once per node: memory stays bounded, time grows with the
 * node count. */
#include "kf_source.h"
#include "kf_grow.h"
#include "kf_snap.h"
#include "kf_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODE_TAG "kforensics-node: "

typedef struct sfile {
    char *path;             /* file to open, or NULL when held in memory */
    char *display;          /* name used in messages and kf_src_pkt.file */
    char *node;             /* node from the store/snapshot folder, or NULL (learn from the file) */
    const char *snap;              /* snapshot member: the archive (owned by the source) */
    char *member;                  /* ... the member's name */
    uint64_t ordinal;              /* ... its place among the archive's members (1-based) */
    uint64_t size;
    int64_t start_ns, end_ns;      /* store segments: covered time (KF_T_MIN/MAX unknown) */
    int open;                      /* a store's .part being written: a cut end is expected */
} sfile;

typedef struct lane {
    sfile *files; size_t nfiles, capfiles, cur;
    uint32_t input;
    kf_reader *r;
    const char *node;       /* owned by the source (strings list) */
    const char *display;
    uint32_t *ifmap; size_t nifmap, capifmap;   /* reader iface id -> global id */
    size_t dsb_taken, nrb_taken;
    int workload_names;     /* the open file is a kexport export (its NRB names are workloads') */
    kf_src_pkt pending;
    int have;               /* pending holds a packet */
    uint64_t done_bytes;    /* sizes of the lane's finished files */
    kf_snap *sn;            /* snapshot lanes: the lane's handle on the archive */
    uint64_t sn_ord;        /* ... the member it is at (0: none yet) */
    FILE *sf;               /* ... the member as a stream for the reader */
} lane;

struct kf_source {
    kf_source_opts o;
    lane *lanes; size_t nlanes, caplanes;
    size_t *heap; size_t nheap;
    ssize_t last;           /* lane of the packet handed out last, -1 none */
    kf_src_iface **ifs; size_t nifs, capifs;
    char **strs; size_t nstrs, capstrs;          /* owned strings */
    kf_dsb *dsbs; size_t ndsb, capdsb;
    kf_src_nrb *nrbs; size_t nnrb, capnrb;
    char **warns; size_t nwarn, capwarn, wpos;
    char *lastwarn;
    kf_meta *meta;
    uint64_t total;
    int started;
    FILE *stdin_snap;       /* a .ksnap that came on standard input, spooled (unlinked file) */
    char err[1024];
};

/* ---------- small helpers ---------- */

static const char *keep_str(kf_source *s, const char *v)
{
    if (!v) return NULL;
    char **ns = kf_grow(s->strs, &s->capstrs, s->nstrs + 1, sizeof *s->strs);
    if (!ns) return NULL;
    s->strs = ns;
    char *d = strdup(v);
    if (!d) return NULL;
    s->strs[s->nstrs++] = d;
    return d;
}

static void warnf(kf_source *s, const char *fmt, ...)
{
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    char **nw = kf_grow(s->warns, &s->capwarn, s->nwarn + 1, sizeof *s->warns);
    if (!nw) return;
    s->warns = nw;
    char *d = strdup(m);
    if (d) s->warns[s->nwarn++] = d;
}

static int node_wanted(const kf_source *s, const char *node)
{
    if (!s->o.nodes) return 1;
    for (size_t i = 0; i < s->o.nnodes; i++)
        if (node && strcmp(s->o.nodes[i], node) == 0) return 1;
    return 0;
}

/* "dir/x.pcapng.gz" -> "x" */
static char *base_node(const char *path)
{
    if (strcmp(path, "-") == 0) return strdup("stdin");
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *n = strdup(b);
    if (!n) return NULL;
    static const char *const ext[] = { ".gz", ".pcapng", ".pcap", ".cap", ".ntar", ".part" };
    for (int again = 1; again;) {
        again = 0;
        for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
            size_t l = strlen(n), e = strlen(ext[i]);
            if (l > e && strcmp(n + l - e, ext[i]) == 0) { n[l - e] = 0; again = 1; }
        }
    }
    return n;
}

static void sfile_free(sfile *f)
{
    free(f->path); free(f->display); free(f->node); free(f->member);
}

static lane *add_lane(kf_source *s, uint32_t input)
{
    lane *nl = kf_grow(s->lanes, &s->caplanes, s->nlanes + 1, sizeof *s->lanes);
    if (!nl) return NULL;
    s->lanes = nl;
    lane *l = &s->lanes[s->nlanes++];
    memset(l, 0, sizeof *l);
    l->input = input;
    return l;
}

static sfile *lane_add_file(lane *l)
{
    /* doubling: one member more each time was quadratic in copies for 100 000 members
     * (hidden by glibc's mremap, 4 minutes under ASan) */
    sfile *nf = kf_grow(l->files, &l->capfiles, l->nfiles + 1, sizeof *l->files);
    if (!nf) return NULL;
    l->files = nf;
    sfile *f = &nf[l->nfiles++];
    memset(f, 0, sizeof *f);
    f->start_ns = KF_T_MIN; f->end_ns = KF_T_MAX;
    return f;
}

/* ---------- lanes: opening files, interfaces ---------- */

/* Maps the reader's interfaces seen so far to global ids. */
static int lane_sync_ifaces(kf_source *s, lane *l)
{
    kf_reader *r = l->r;
    size_t want = kf_reader_format(r) == KF_FMT_PCAP ? 1 : kf_reader_iface_count(r);
    while (l->nifmap < want) {
        uint32_t *nm = kf_grow(l->ifmap, &l->capifmap, l->nifmap + 1, sizeof *l->ifmap);
        kf_src_iface **ni = kf_grow(s->ifs, &s->capifs, s->nifs + 1, sizeof *s->ifs);
        if (nm) l->ifmap = nm;
        if (ni) s->ifs = ni;
        kf_src_iface *g = calloc(1, sizeof *g);
        if (!nm || !ni || !g) { free(g); snprintf(s->err, sizeof s->err, "out of memory"); return -1; }
        g->id = (uint32_t)s->nifs;
        g->node = l->node;
        g->file = l->display;
        g->input = l->input;
        g->capture = KF_CAP_UNKNOWN;
        g->workload_names = l->workload_names;
        if (kf_reader_format(r) == KF_FMT_PCAP) {
            g->name = "pcap";
            g->linktype = kf_reader_linktype(r);
            g->snaplen = kf_reader_snaplen(r);
        } else {
            const kf_iface *i = kf_reader_iface(r, (uint32_t)l->nifmap);
            g->name = i->name ? keep_str(s, i->name) : "pcapng";
            g->description = keep_str(s, i->description);
            g->capture = kf_capture_parse(i->comment);
            g->linktype = i->linktype;
            g->snaplen = i->snaplen;
        }
        s->ifs[s->nifs++] = g;
        l->ifmap[l->nifmap++] = g->id;
    }
    return 0;
}

static void lane_take_dsbs(kf_source *s, lane *l)
{
    size_t n = kf_reader_dsb_count(l->r);
    for (; l->dsb_taken < n; l->dsb_taken++) {
        const kf_dsb *d = kf_reader_dsb(l->r, l->dsb_taken);
        kf_dsb *nd = kf_grow(s->dsbs, &s->capdsb, s->ndsb + 1, sizeof *s->dsbs);
        if (!nd) return;
        s->dsbs = nd;
        uint8_t *c = malloc(d->len ? d->len : 1);
        if (!c) return;
        memcpy(c, d->data, d->len);
        s->dsbs[s->ndsb++] = (kf_dsb){ d->type, d->len, c };
    }
}

static void lane_take_nrbs(kf_source *s, lane *l)
{
    size_t n = kf_reader_nrb_count(l->r);
    /* only exports name workloads (the only use); at most a million names kept */
    if (!l->workload_names || s->nnrb >= (1u << 20)) { l->nrb_taken = n; return; }
    for (; l->nrb_taken < n && s->nnrb < (1u << 20); l->nrb_taken++) {
        const kf_nrb_entry *e = kf_reader_nrb(l->r, l->nrb_taken);
        kf_src_nrb *nn = kf_grow(s->nrbs, &s->capnrb, s->nnrb + 1, sizeof *s->nrbs);
        if (!nn) return;
        s->nrbs = nn;
        const char *name = keep_str(s, e->name);
        if (!name) return;
        kf_src_nrb *d = &s->nrbs[s->nnrb++];
        d->family = e->family;
        memcpy(d->addr, e->addr, 16);
        d->name = name;
        d->node = l->node;
        d->workload_names = l->workload_names;
    }
}

static void lane_close_reader(kf_source *s, lane *l)
{
    if (!l->r) return;
    lane_take_dsbs(s, l);
    lane_take_nrbs(s, l);
    const char *w = kf_reader_warning(l->r);
    if (w[0] && !l->files[l->cur].open) warnf(s, "%s: %s", l->display, w);
    l->done_bytes += l->files[l->cur].size ? l->files[l->cur].size : kf_reader_pos(l->r);
    kf_reader_close(l->r);
    l->r = NULL;
    if (l->sf) { fclose(l->sf); l->sf = NULL; }
    l->nifmap = 0;
    l->dsb_taken = 0;
    l->nrb_taken = 0;
}

/* Opens the lane's file at l->cur. 1 ok, 0 skipped (node filter), -1 error. */
static ssize_t member_read(void *c, char *buf, size_t n)
{
    ssize_t r = kf_snap_read(c, buf, n);
    if (r < 0) { errno = EIO; return -1; }
    return r;
}

/* Moves the lane's archive handle to f's member and opens it as a stream in l->sf. */
static int lane_seek_member(kf_source *s, lane *l, const sfile *f)
{
    char e[512];
    if (l->sn && l->sn_ord >= f->ordinal) { kf_snap_close(l->sn); l->sn = NULL; }
    if (!l->sn) {
        if (!(l->sn = kf_snap_open(f->snap, e, sizeof e))) { snprintf(s->err, sizeof s->err, "%s: %s", f->snap, e); return -1; }
        l->sn_ord = 0;
    }
    const char *name;
    int64_t size;
    while (l->sn_ord < f->ordinal) {
        int rc = kf_snap_next(l->sn, &name, &size);
        if (rc <= 0) {
            snprintf(s->err, sizeof s->err, "%s: %s", f->snap, rc < 0 ? kf_snap_error(l->sn) : "archive ended early (changed while being read?)");
            return -1;
        }
        l->sn_ord++;
    }
    if (strcmp(name, f->member)) { snprintf(s->err, sizeof s->err, "%s: changed while being read", f->snap); return -1; }
    static const cookie_io_functions_t io = { .read = member_read };
    if (!(l->sf = fopencookie(l->sn, "r", io))) { snprintf(s->err, sizeof s->err, "out of memory"); return -1; }
    return 0;
}

static int lane_open_cur(kf_source *s, lane *l)
{
    sfile *f = &l->files[l->cur];
    char e[256];
    if (f->snap) {
        if (lane_seek_member(s, l, f) < 0) return -1;
        l->r = kf_reader_open_file(l->sf, e, sizeof e);
        if (!l->r) { fclose(l->sf); l->sf = NULL; }
    } else l->r = kf_reader_open(f->path, e, sizeof e);
    if (!l->r) { snprintf(s->err, sizeof s->err, "%s: %s", f->display, e); return -1; }
    if (!f->size) f->size = kf_reader_size(l->r);
    l->display = keep_str(s, f->display);
    if (f->node) l->node = keep_str(s, f->node);
    else {
        const kf_section *sec = kf_reader_section(l->r, 0);
        if (sec && sec->comment && strncmp(sec->comment, NODE_TAG, strlen(NODE_TAG)) == 0 &&
            sec->comment[strlen(NODE_TAG)])
            l->node = keep_str(s, sec->comment + strlen(NODE_TAG));
        else {
            char *b = base_node(f->path ? f->path : f->display);
            l->node = keep_str(s, b ? b : "");
            free(b);
        }
    }
    if (!l->display || !l->node) { snprintf(s->err, sizeof s->err, "out of memory"); return -1; }
    {   /* kexport's exports name workloads in their NRBs (tools/kexport, docs/fields.md) */
        const kf_section *sec = kf_reader_section(l->r, 0);
        l->workload_names = sec && sec->userappl && !strncmp(sec->userappl, "kforensics kexport", 18);
    }
    if (!node_wanted(s, l->node)) { kf_reader_close(l->r); l->r = NULL; return 0; }
    return 1;
}

/* Loads the lane's next packet into l->pending (opening the following files as needed).
 * 1 packet, 0 lane finished, -1 error. */
static int lane_advance(kf_source *s, lane *l)
{
    l->have = 0;
    for (;;) {
        if (!l->r) {
            if (l->cur >= l->nfiles) return 0;
            sfile *f = &l->files[l->cur];
            /* segments wholly outside the window are not opened */
            if (f->end_ns < s->o.from_ns || f->start_ns > s->o.to_ns) {
                l->done_bytes += f->size;
                l->cur++;
                continue;
            }
            int rc = lane_open_cur(s, l);
            if (rc < 0) return -1;
            if (rc == 0) { l->done_bytes += f->size; l->cur++; continue; }
        }
        kf_pkt *p = &l->pending.pkt;
        int rc;
        while ((rc = kf_reader_next(l->r, p)) == 1) {
            if (p->ts_ns < s->o.from_ns || p->ts_ns > s->o.to_ns) continue;
            if (p->iface >= l->nifmap && lane_sync_ifaces(s, l) < 0) return -1;
            if (p->iface >= l->nifmap) continue;   /* cannot happen: the reader checked it */
            if (kf_reader_dsb_count(l->r) > l->dsb_taken) lane_take_dsbs(s, l);
            if (kf_reader_nrb_count(l->r) > l->nrb_taken) lane_take_nrbs(s, l);
            uint32_t g = l->ifmap[p->iface];
            p->iface = g;
            l->pending.iface = s->ifs[g];
            l->pending.node = l->node;
            l->pending.file = l->display;
            l->pending.frame = p->frame;
            l->have = 1;
            return 1;
        }
        if (rc < 0) {
            snprintf(s->err, sizeof s->err, "%s: %s", l->display, kf_reader_error(l->r));
            return -1;
        }
        if (kf_reader_format(l->r) == KF_FMT_PCAPNG || l->nifmap == 0) lane_sync_ifaces(s, l);
        lane_close_reader(s, l);
        l->cur++;
    }
}

/* ---------- heap ---------- */

static inline int lane_less(const kf_source *s, size_t a, size_t b)
{
    int64_t ta = s->lanes[a].pending.pkt.ts_ns, tb = s->lanes[b].pending.pkt.ts_ns;
    return ta < tb || (ta == tb && a < b);
}

static void heap_down(kf_source *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && lane_less(s, s->heap[l], s->heap[m])) m = l;
        if (r < s->nheap && lane_less(s, s->heap[r], s->heap[m])) m = r;
        if (m == i) return;
        size_t t = s->heap[i]; s->heap[i] = s->heap[m]; s->heap[m] = t;
        i = m;
    }
}

static void heap_up(kf_source *s, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!lane_less(s, s->heap[i], s->heap[p])) return;
        size_t t = s->heap[i]; s->heap[i] = s->heap[p]; s->heap[p] = t;
        i = p;
    }
}

/* ---------- inputs ---------- */

static int add_plain(kf_source *s, const char *path, uint32_t input)
{
    lane *l = add_lane(s, input);
    sfile *f = l ? lane_add_file(l) : NULL;
    if (!f) { snprintf(s->err, sizeof s->err, "out of memory"); return -1; }
    f->path = strdup(path);
    f->display = strdup(path);
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) f->size = (uint64_t)st.st_size;
    if (!f->path || !f->display) { snprintf(s->err, sizeof s->err, "out of memory"); return -1; }
    return 0;
}

static int add_store(kf_source *s, const char *dir, uint32_t input)
{
    kf_segment *segs = NULL;
    size_t n = 0;
    char e[512];
    if (kf_store_segments(dir, NULL, &segs, &n, e, sizeof e) != 0) {
        snprintf(s->err, sizeof s->err, "%s: %s", dir, e);
        return -1;
    }
    lane *l = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!node_wanted(s, segs[i].node)) continue;
        if (!l || strcmp(l->files[0].node, segs[i].node) != 0) {
            l = add_lane(s, input);
            if (!l) break;
        }
        sfile *f = lane_add_file(l);
        if (!f) break;
        f->path = strdup(segs[i].path);
        f->display = strdup(segs[i].path);
        f->node = strdup(segs[i].node);
        f->size = segs[i].size;
        f->start_ns = segs[i].start_ns;
        /* a segment covers [start, next start); packets at the very edge may carry the next
         * start, so end is inclusive; the open .part and the last segment run to "now" */
        f->end_ns = segs[i].open ? KF_T_MAX : segs[i].end_ns;
        f->open = segs[i].open;
        if (!f->path || !f->display || !f->node) break;
        l = &s->lanes[s->nlanes - 1];
    }
    kf_segments_free(segs, n);
    if (!s->o.no_meta) {
        if (!s->meta) s->meta = kf_meta_new();
        if (s->meta && kf_meta_load_store(s->meta, dir, e, sizeof e) != 0)
            warnf(s, "%s: metadata: %s", dir, e);
    }
    return 0;
}

static int cmp_start(const void *a, const void *b)
{
    const sfile *x = a, *y = b;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static int add_snapshot(kf_source *s, const char *path, uint32_t input)
{
    char e[512];
    kf_snap *sn = kf_snap_open(path, e, sizeof e);
    if (!sn) { snprintf(s->err, sizeof s->err, "%s: %s", path, e); return -1; }
    const char *name;
    int64_t size;
    int rc, got_meta = 0;
    size_t first_lane = s->nlanes;
    uint64_t ord = 0;
    const char *spath = keep_str(s, path);
    if (!spath) { snprintf(s->err, sizeof s->err, "out of memory"); kf_snap_close(sn); return -1; }
    while ((rc = kf_snap_next(sn, &name, &size)) == 1) {
        ord++;
        if (strncmp(name, "nodes/", 6) == 0) {
            const char *nb = name + 6, *sl = strchr(nb, '/');
            if (!sl || sl == nb || strchr(sl + 1, '/')) continue;
            size_t nl = strlen(name);
            if (!(nl > 7 && strcmp(name + nl - 7, ".pcapng") == 0) &&
                !(nl > 5 && strcmp(name + nl - 5, ".pcap") == 0))
                continue;
            char node[256];
            snprintf(node, sizeof node, "%.*s", (int)(sl - nb), nb);
            if (!node_wanted(s, node)) continue;
            int64_t start;
            int open;
            if (kf_segname_parse(sl + 1, &start, &open) == 0 && start > s->o.to_ns) continue;
            lane *l = NULL;
            for (size_t i = first_lane; i < s->nlanes; i++)
                if (strcmp(s->lanes[i].files[0].node, node) == 0) l = &s->lanes[i];
            if (!l) l = add_lane(s, input);
            sfile *f = l ? lane_add_file(l) : NULL;
            if (!f) { snprintf(s->err, sizeof s->err, "out of memory"); kf_snap_close(sn); return -1; }
            f->node = strdup(node);
            size_t dl = strlen(path) + strlen(name) + 2;
            f->display = malloc(dl);
            if (!f->node || !f->display) { snprintf(s->err, sizeof s->err, "out of memory"); kf_snap_close(sn); return -1; }
            snprintf(f->display, dl, "%s:%s", path, name);
            if (kf_segname_parse(sl + 1, &start, &open) == 0) f->start_ns = start;
            f->snap = spath;
            f->ordinal = ord;
            f->size = size > 0 ? (uint64_t)size : 0;
            if (!(f->member = strdup(name))) { snprintf(s->err, sizeof s->err, "out of memory"); kf_snap_close(sn); return -1; }
            if (size == 0) {   /* empty member: nothing to read */
                sfile_free(f);
                l->nfiles--;
                if (l->nfiles == 0) s->nlanes--;
            }
        } else if (strcmp(name, "meta/events.ndjson") == 0 && !s->o.no_meta) {
            if (!s->meta) s->meta = kf_meta_new();
            if (s->meta && kf_meta_load_stream(s->meta, kf_snap_read_fn, sn, KF_T_MIN, e, sizeof e) != 0) {
                if (strstr(kf_snap_error(sn), "member '")) {   /* the archive itself is damaged */
                    snprintf(s->err, sizeof s->err, "%s: %s", path, kf_snap_error(sn));
                    kf_snap_close(sn);
                    return -1;
                }
                warnf(s, "%s:meta/events.ndjson: %s", path, e);
            }
            got_meta = 1;
        }
    }
    if (rc < 0) {
        snprintf(s->err, sizeof s->err, "%s: %s", path, kf_snap_error(sn));
        kf_snap_close(sn);
        return -1;
    }
    kf_snap_close(sn);
    (void)got_meta;
    for (size_t i = first_lane; i < s->nlanes; i++)   /* a node's segments in time order */
        qsort(s->lanes[i].files, s->lanes[i].nfiles, sizeof(sfile), cmp_start);
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_regular(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Standard input holding a .ksnap (`cat x.ksnap | kdissect -`): its first bytes are the zstd
 * magic. A snapshot is read by members, so it is spooled to an unlinked temporary file and read
 * from there (path: that file's /proc/self/fd entry). Anything else: the peeked bytes go back
 * (glibc takes several ungetc) for the capture reader. 1 snapshot (path set), 0 not, -1 error. */
static int stdin_snapshot(kf_source *s, char *path, size_t len)
{
    unsigned char m[4];
    size_t k = fread(m, 1, 4, stdin);
    int snap = k == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd;
    if (!snap) {
        for (size_t i = k; i > 0; i--) ungetc(m[i - 1], stdin);
        return 0;
    }
    FILE *t = tmpfile();
    if (!t) { snprintf(s->err, sizeof s->err, "stdin: cannot spool the snapshot: %s", strerror(errno)); return -1; }
    static char buf[1 << 16];
    size_t r = 4;
    int bad = fwrite(m, 1, 4, t) != 4;
    memcpy(buf, m, 4);
    while (!bad && (r = fread(buf, 1, sizeof buf, stdin)) > 0) bad = fwrite(buf, 1, r, t) != r;
    if (bad || ferror(stdin) || fflush(t) != 0) {
        snprintf(s->err, sizeof s->err, "stdin: cannot spool the snapshot: %s", strerror(errno ? errno : EIO));
        fclose(t);
        return -1;
    }
    s->stdin_snap = t;
    snprintf(path, len, "/proc/self/fd/%d", fileno(t));
    return 1;
}

kf_source *kf_source_open(const char *const *inputs, size_t n, const kf_source_opts *opts,
                          char *err, size_t errlen)
{
    kf_source *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (opts) s->o = *opts;
    else { s->o.from_ns = KF_T_MIN; s->o.to_ns = KF_T_MAX; }
    if (s->o.from_ns == 0 && s->o.to_ns == 0) { s->o.from_ns = KF_T_MIN; s->o.to_ns = KF_T_MAX; }
    s->last = -1;
    for (size_t i = 0; i < n; i++) {
        const char *in = inputs[i];
        int rc;
        char spool[64];
        if (strcmp(in, "-") == 0 && !s->stdin_snap && (rc = stdin_snapshot(s, spool, sizeof spool)) != 0) {
            if (rc > 0) rc = add_snapshot(s, spool, (uint32_t)i);
        } else if (strcmp(in, "-") != 0 && is_dir(in)) {
            if (!kf_store_is_store(in)) {
                snprintf(s->err, sizeof s->err, "%s: a directory but not a capture store", in);
                rc = -1;
            } else rc = add_store(s, in, (uint32_t)i);
        } else if (strcmp(in, "-") != 0 && is_regular(in) && kf_snap_detect(in)) {
            /* (only regular files are sniffed: reading a pipe's first bytes would lose them) */
            rc = add_snapshot(s, in, (uint32_t)i);
        } else {
            rc = add_plain(s, in, (uint32_t)i);
        }
        if (rc < 0) {
            snprintf(err, errlen, "%s", s->err);
            kf_source_close(s);
            return NULL;
        }
    }
    for (size_t i = 0; i < s->nlanes; i++)
        for (size_t k = 0; k < s->lanes[i].nfiles; k++) s->total += s->lanes[i].files[k].size;
    /* open the first file of every lane now, so a bad input fails here */
    s->heap = calloc(s->nlanes ? s->nlanes : 1, sizeof *s->heap);
    if (!s->heap) { snprintf(err, errlen, "out of memory"); kf_source_close(s); return NULL; }
    for (size_t i = 0; i < s->nlanes; i++) {
        lane *l = &s->lanes[i];
        int rc = 0;
        while (l->cur < l->nfiles && !l->r) {
            sfile *f = &l->files[l->cur];
            if (f->end_ns < s->o.from_ns || f->start_ns > s->o.to_ns) { l->done_bytes += f->size; l->cur++; continue; }
            rc = lane_open_cur(s, l);
            if (rc < 0) break;
            if (rc == 0) { l->done_bytes += f->size; l->cur++; }
        }
        if (rc < 0) { snprintf(err, errlen, "%s", s->err); kf_source_close(s); return NULL; }
        if (l->r) lane_sync_ifaces(s, l);
    }
    if (s->meta) kf_meta_finish(s->meta);
    return s;
}

int kf_source_next(kf_source *s, kf_src_pkt *out)
{
    if (s->err[0]) return -1;
    if (!s->started) {
        s->started = 1;
        for (size_t i = 0; i < s->nlanes; i++) {
            int rc = lane_advance(s, &s->lanes[i]);
            if (rc < 0) return -1;
            if (rc == 1) { s->heap[s->nheap++] = i; heap_up(s, s->nheap - 1); }
        }
    } else if (s->last >= 0) {
        /* advance the lane whose packet went out last; it is at the top of the heap */
        int rc = lane_advance(s, &s->lanes[s->last]);
        if (rc < 0) return -1;
        if (rc == 1) heap_down(s, 0);
        else {
            s->heap[0] = s->heap[--s->nheap];
            if (s->nheap) heap_down(s, 0);
        }
        s->last = -1;
    }
    if (s->nheap == 0) return 0;
    size_t top = s->heap[0];
    *out = s->lanes[top].pending;
    s->last = (ssize_t)top;
    return 1;
}

const char *kf_source_error(const kf_source *s) { return s->err; }

const char *kf_source_warning(kf_source *s)
{
    if (s->wpos >= s->nwarn) return NULL;
    free(s->lastwarn);
    if (s->stdin_snap) fclose(s->stdin_snap);
    s->lastwarn = s->warns[s->wpos];
    s->warns[s->wpos++] = NULL;
    return s->lastwarn;
}

size_t kf_source_iface_count(const kf_source *s) { return s->nifs; }
int kf_source_one_iface(const kf_source *s)
{
    return s->nlanes == 1 && s->lanes[0].nfiles == 1 && s->lanes[0].r && kf_reader_format(s->lanes[0].r) == KF_FMT_PCAP;
}
static const char *const capture_names[] = { "af_packet", "ebpf", "ebpf_tls" };

const char *kf_capture_name(int cap)
{
    return cap >= 0 && cap < (int)(sizeof capture_names / sizeof *capture_names) ? capture_names[cap] : NULL;
}

int kf_capture_parse(const char *comment)
{
    size_t tl = strlen(KF_CAPTURE_TAG);
    if (!comment || strncmp(comment, KF_CAPTURE_TAG, tl)) return KF_CAP_UNKNOWN;
    for (int i = 0; i < (int)(sizeof capture_names / sizeof *capture_names); i++)
        if (!strcmp(comment + tl, capture_names[i])) return i;
    return KF_CAP_UNKNOWN;
}

const kf_src_iface *kf_source_iface(const kf_source *s, uint32_t id) { return id < s->nifs ? s->ifs[id] : NULL; }
kf_meta *kf_source_meta(kf_source *s) { return s->meta; }

size_t kf_source_nrb_count(const kf_source *s) { return s->nnrb; }
const kf_src_nrb *kf_source_nrb(const kf_source *s, size_t i) { return i < s->nnrb ? &s->nrbs[i] : NULL; }
size_t kf_source_dsb_count(const kf_source *s) { return s->ndsb; }
const kf_dsb *kf_source_dsb(const kf_source *s, size_t i) { return i < s->ndsb ? &s->dsbs[i] : NULL; }

void kf_source_progress(const kf_source *s, uint64_t *done, uint64_t *total)
{
    uint64_t d = 0;
    for (size_t i = 0; i < s->nlanes; i++) {
        const lane *l = &s->lanes[i];
        d += l->done_bytes;
        if (l->r) d += kf_reader_pos(l->r);
    }
    if (done) *done = d;
    if (total) *total = s->total;
}

void kf_source_close(kf_source *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nlanes; i++) {
        lane *l = &s->lanes[i];
        if (l->r) kf_reader_close(l->r);
        if (l->sf) fclose(l->sf);
        kf_snap_close(l->sn);
        for (size_t k = 0; k < l->nfiles; k++) sfile_free(&l->files[k]);
        free(l->files);
        free(l->ifmap);
    }
    free(s->lanes);
    free(s->heap);
    for (size_t i = 0; i < s->nifs; i++) free(s->ifs[i]);
    free(s->ifs);
    for (size_t i = 0; i < s->nstrs; i++) free(s->strs[i]);
    free(s->strs);
    for (size_t i = 0; i < s->ndsb; i++) free(s->dsbs[i].data);
    free(s->dsbs);
    free(s->nrbs);
    for (size_t i = 0; i < s->nwarn; i++) free(s->warns[i]);
    free(s->warns);
    free(s->lastwarn);
    if (s->meta) kf_meta_free(s->meta);
    free(s);
}
