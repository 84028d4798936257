/* ksnap ls — what a store holds, per node: oldest and newest packet, segments, bytes, packets,
 * drops (Kubeshark calls it "data boundaries"). Reads every segment with kf_capread; drops are
 * the segments' ISB osdrop counts, or the EPBs' epb_dropcount where a segment has no ISB (a
 * crash-repaired or open one). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <jansson.h>
#include <sys/stat.h>
#include "kf_capread.h"
#include "kf_snap.h"
#include "kf_json.h"
#include "kf_grow.h"
#include "kf_store.h"
#include "kf_time.h"
#include "kf_tool.h"
#include "ksnap.h"

typedef struct node_sum {
    const char *dir;
    char *node;
    int64_t oldest, newest;   /* INT64_MAX / INT64_MIN when no packet */
    size_t segments, open;
    uint64_t bytes, packets, drops;
    uint64_t tls_drops;       /* of those, on the ebpf_tls interface (ksnap capture --tls) */
    int has_tls;
    int capturing, unreadable;
} node_sum;

/* the interface ksnap capture --tls writes OpenSSL's plaintext on (its ring's drops are its own) */
static int is_tls_iface(const kf_reader *r, uint32_t id)
{
    const kf_iface *f = kf_reader_iface(r, id);
    return f && f->name && !strcmp(f->name, "ebpf_tls");
}

static void add_segment(node_sum *s, const kf_segment *g)
{
    s->segments++;
    s->open += g->open;
    s->bytes += g->size;
    char err[256];
    kf_reader *r = kf_reader_open(g->path, err, sizeof err);
    if (!r) {
        if (g->size) { kf_err("%s: %s", g->path, err); s->unreadable++; }
        return;
    }
    kf_pkt p;
    int rc;
    uint64_t epb_drops = 0, epb_tls_drops = 0;
    while ((rc = kf_reader_next(r, &p)) == 1) {
        s->packets++;
        if (p.ts_ns < s->oldest) s->oldest = p.ts_ns;
        if (p.ts_ns > s->newest) s->newest = p.ts_ns;
        epb_drops += p.dropcount;
        if (p.dropcount && is_tls_iface(r, p.iface)) epb_tls_drops += p.dropcount;
    }
    for (size_t i = 0; i < kf_reader_iface_count(r); i++)
        if (is_tls_iface(r, (uint32_t)i)) s->has_tls = 1;
    if (rc < 0 && !g->open) { kf_err("%s: %s", g->path, kf_reader_error(r)); s->unreadable++; }
    size_t ni = kf_reader_isb_count(r);
    if (ni) {
        for (size_t i = 0; i < ni; i++) {
            const kf_isb *b = kf_reader_isb(r, i);
            if (b->osdrop == UINT64_MAX) continue;
            s->drops += b->osdrop;
            if (is_tls_iface(r, b->iface)) s->tls_drops += b->osdrop;
        }
    } else {
        s->drops += epb_drops;
        s->tls_drops += epb_tls_drops;
    }
    kf_reader_close(r);
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: ksnap ls DIR... [--json] [--utc]\n"
"Per node of each store: oldest and newest packet (local time, UTC in parentheses),\n"
"segments, bytes, packets, drops (tls drops: of ksnap capture --tls), and whether a capture is running.\n"
"A folder of snapshots (or .ksnap files named directly): one line per snapshot, oldest\n"
"window first: its window, nodes, packets and size (read from each manifest).\n"
"  --json   one JSON object with every node and the cluster-wide oldest/newest packet\n"
"  --utc    times in UTC only\n");
}

static void human_bytes(uint64_t b, char *buf, size_t len)
{
    const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)b;
    int i = 0;
    while (v >= 1024 && i < 4) { v /= 1024; i++; }
    if (i == 0) snprintf(buf, len, "%" PRIu64 " B", b);
    else snprintf(buf, len, "%.1f %s", v, u[i]);
}

static const char *tm(int64_t ns, int utc, char *buf, size_t len)
{
    if (ns == INT64_MAX || ns == INT64_MIN) return "-";
    return kf_time_human(ns, utc, 3, buf, len);
}

/* ---- a folder of snapshots ---- */
typedef struct snap_row { char *path; json_t *m; int64_t from, to; uint64_t size; } snap_row;

static int64_t mtime_of(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    int64_t ns;
    if (!json_is_string(v) || kf_time_parse_rfc3339(json_string_value(v), json_string_length(v), &ns) != 0) return INT64_MIN;
    return ns;
}

static int row_cmp(const void *a, const void *b)
{
    const snap_row *x = a, *y = b;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int add_snap(snap_row **v, size_t *n, size_t *cap, const char *path)
{
    char err[1024];
    json_t *m = kf_snap_read_manifest(path, err, sizeof err);
    if (!m) { kf_err("%s: %s", path, err); return -1; }
    struct stat st;
    snap_row *nv = kf_grow(*v, cap, *n + 1, sizeof *nv);
    if (!nv) kf_die(KF_EXIT_ERR, "out of memory");
    *v = nv;
    snap_row *r = &nv[(*n)++];
    r->path = strdup(path);
    r->m = m;
    json_t *w = json_object_get(m, "window");
    r->from = mtime_of(w, "from");
    r->to = mtime_of(w, "to");
    r->size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

/* Lists the snapshots among args (files, or folders holding *.ksnap); -1 when an arg is
 * neither, 0 listed, 1 nothing found. */
static int list_snapshots(char **args, int nargs, int json, int utc)
{
    snap_row *v = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;
    for (int a = 0; a < nargs; a++) {
        struct stat st;
        if (stat(args[a], &st) != 0) { kf_err("%s: cannot open: %m", args[a]); bad = 1; continue; }
        if (!S_ISDIR(st.st_mode)) { if (add_snap(&v, &n, &cap, args[a]) != 0) bad = 1; continue; }
        DIR *d = opendir(args[a]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (e->d_name[0] == '.' || l < 7 || strcmp(e->d_name + l - 6, ".ksnap")) continue;
            char *p = malloc(strlen(args[a]) + l + 2);
            if (!p) kf_die(KF_EXIT_ERR, "out of memory");
            sprintf(p, "%s/%s", args[a], e->d_name);
            if (add_snap(&v, &n, &cap, p) != 0) bad = 1;
            free(p);
        }
        if (d) closedir(d);
    }
    if (n) qsort(v, n, sizeof *v, row_cmp);
    if (!json && n) printf("%-40s %-50s %5s %10s %10s\n", "SNAPSHOT", "WINDOW", "NODES", "PACKETS", "SIZE");
    for (size_t i = 0; i < n; i++) {
        snap_row *r = &v[i];
        json_t *nodes = json_object_get(r->m, "nodes"), *nd;
        const char *name;
        uint64_t pk = 0;
        json_object_foreach(nodes, name, nd) pk += (uint64_t)json_integer_value(json_object_get(nd, "packets"));
        if (json) {
            json_t *o = json_pack("{s:s, s:O?, s:O?, s:I, s:I, s:I}", "path", r->path,
                                  "id", json_object_get(r->m, "id"), "window", json_object_get(r->m, "window"),
                                  "nodes", (json_int_t)json_object_size(nodes), "packets", (json_int_t)pk,
                                  "bytes", (json_int_t)r->size);
            char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            if (t) puts(t);
            free(t);
            json_decref(o);
        } else {
            char b1[96], b2[96], win[200], hb[32];
            snprintf(win, sizeof win, "%s .. %s", tm(r->from == INT64_MIN ? INT64_MAX : r->from, utc, b1, sizeof b1),
                     tm(r->to == INT64_MIN ? INT64_MAX : r->to, utc, b2, sizeof b2));
            human_bytes(r->size, hb, sizeof hb);
            printf("%-40s %-50s %5zu %10" PRIu64 " %10s\n", r->path, win, json_object_size(nodes), pk, hb);
        }
        free(r->path);
        json_decref(r->m);
    }
    free(v);
    if (bad) return -1;
    return n ? 0 : 1;
}

/* Is this argument a store (a node folder with segments), or something ksnap ls lists as
 * snapshots? */
static int is_snapshot_arg(const char *a)
{
    struct stat st;
    if (stat(a, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return kf_snap_detect(a) == 1;
    if (kf_store_is_store(a)) return 0;
    DIR *d = opendir(a);
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        found = l > 6 && !strcmp(e->d_name + l - 6, ".ksnap");
    }
    if (d) closedir(d);
    return found;
}

int cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", 0, 0, 'j' }, { "utc", 0, 0, 'u' }, { "help", 0, 0, 'h' }, { 0 } };
    int json = 0, utc = 0, o;
    optind = 1;
    while ((o = kf_getopt(argc, argv, "h", opts)) != -1) {
        switch (o) {
        case 'j': json = 1; break;
        case 'u': utc = 1; break;
        case 'h': usage(stdout); return 0;
        default: kf_usage_die("unknown option");
        }
    }
    if (optind >= argc) kf_usage_die("which store? (ksnap ls DIR...)");
    int snaps = 0;
    for (int a = optind; a < argc; a++) snaps += is_snapshot_arg(argv[a]);
    if (snaps == argc - optind) {
        int r = list_snapshots(argv + optind, argc - optind, json, utc);
        return r < 0 ? KF_EXIT_ERR : r ? KF_EXIT_NONE : KF_EXIT_OK;
    }
    if (snaps) kf_usage_die("give either stores or snapshots, not both");
    node_sum *ns = NULL;
    size_t nn = 0;
    int rc = KF_EXIT_OK;
    for (int a = optind; a < argc; a++) {
        const char *dir = argv[a];
        char **nodes;
        size_t n;
        char err[512];
        if (kf_store_nodes(dir, &nodes, &n, err, sizeof err) != 0) {
            kf_err("%s", err);
            rc = KF_EXIT_ERR;
            continue;
        }
        if (n == 0) kf_warn("%s: no capture store here (no node folder with segments) and no .ksnap", dir);
        for (size_t i = 0; i < n; i++) {
            node_sum *nv = realloc(ns, (nn + 1) * sizeof *nv);
            if (!nv) kf_die(KF_EXIT_ERR, "out of memory");
            ns = nv;
            node_sum *s = &ns[nn++];
            memset(s, 0, sizeof *s);
            s->dir = dir;
            s->node = nodes[i];
            nodes[i] = NULL;
            s->oldest = INT64_MAX;
            s->newest = INT64_MIN;
            s->capturing = kf_store_capture_running(dir, s->node);
            /* a reader: hold the node's lock shared so retention leaves these files alone */
            int lk = kf_store_lock(dir, s->node, 0, 0);
            kf_segment *g;
            size_t ng;
            if (kf_store_segments(dir, s->node, &g, &ng, err, sizeof err) != 0) {
                kf_err("%s", err);
                rc = KF_EXIT_ERR;
            } else {
                for (size_t k = 0; k < ng; k++) add_segment(s, &g[k]);
                kf_segments_free(g, ng);
            }
            kf_store_unlock(lk);
            if (s->unreadable) rc = KF_EXIT_ERR;
        }
        kf_strv_free(nodes, n);
    }
    int64_t co = INT64_MAX, cn = INT64_MIN;
    uint64_t cb = 0, cp = 0, cd = 0;
    size_t cs = 0;
    for (size_t i = 0; i < nn; i++) {
        if (ns[i].oldest < co) co = ns[i].oldest;
        if (ns[i].newest > cn) cn = ns[i].newest;
        cb += ns[i].bytes; cp += ns[i].packets; cd += ns[i].drops; cs += ns[i].segments;
    }
    if (json) {
        kf_jw w;
        kf_jw_init(&w);
        kf_jw_obj_begin(&w);
        kf_jw_key(&w, "nodes");
        kf_jw_arr_begin(&w);
        for (size_t i = 0; i < nn; i++) {
            node_sum *s = &ns[i];
            kf_jw_obj_begin(&w);
            kf_jw_kstr(&w, "node", s->node);
            kf_jw_kstr(&w, "dir", s->dir);
            if (s->packets) { kf_jw_ktime(&w, "oldest", s->oldest); kf_jw_ktime(&w, "newest", s->newest); }
            else { kf_jw_key(&w, "oldest"); kf_jw_null(&w); kf_jw_key(&w, "newest"); kf_jw_null(&w); }
            kf_jw_kuint(&w, "segments", s->segments);
            kf_jw_kuint(&w, "open_segments", s->open);
            kf_jw_kuint(&w, "bytes", s->bytes);
            kf_jw_kuint(&w, "packets", s->packets);
            kf_jw_kuint(&w, "drops", s->drops);
            kf_jw_kuint(&w, "tls_drops", s->tls_drops);
            kf_jw_kbool(&w, "capturing", s->capturing);
            kf_jw_obj_end(&w);
        }
        kf_jw_arr_end(&w);
        if (cp) { kf_jw_ktime(&w, "oldest", co); kf_jw_ktime(&w, "newest", cn); }
        else { kf_jw_key(&w, "oldest"); kf_jw_null(&w); kf_jw_key(&w, "newest"); kf_jw_null(&w); }
        kf_jw_kuint(&w, "segments", cs);
        kf_jw_kuint(&w, "bytes", cb);
        kf_jw_kuint(&w, "packets", cp);
        kf_jw_kuint(&w, "drops", cd);
        kf_jw_obj_end(&w);
        kf_jw_newline(&w);
        if (kf_jw_failed(&w)) kf_die(KF_EXIT_ERR, "out of memory");
        fwrite(kf_jw_data(&w), 1, kf_jw_len(&w), stdout);
        kf_jw_free(&w);
    } else {
        char b1[96], b2[96], hb[32];
        for (size_t i = 0; i < nn; i++) {
            node_sum *s = &ns[i];
            human_bytes(s->bytes, hb, sizeof hb);
            printf("%s%s (%s/%s)%s\n", i ? "\n" : "", s->node, s->dir, s->node,
                   s->capturing ? ", capture running" : "");
            printf("  oldest packet  %s\n", tm(s->packets ? s->oldest : INT64_MAX, utc, b1, sizeof b1));
            printf("  newest packet  %s\n", tm(s->packets ? s->newest : INT64_MAX, utc, b2, sizeof b2));
            printf("  segments       %zu%s\n", s->segments, s->open ? " (1 open)" : "");
            printf("  bytes          %" PRIu64 " (%s)\n", s->bytes, hb);
            printf("  packets        %" PRIu64 "\n", s->packets);
            printf("  drops          %" PRIu64 "\n", s->drops);
            if (s->has_tls) printf("  tls drops      %" PRIu64 " (of those: TLS plaintext calls, ksnap capture --tls)\n", s->tls_drops);
        }
        if (nn > 1) {
            human_bytes(cb, hb, sizeof hb);
            printf("\nall %zu nodes\n", nn);
            printf("  oldest packet  %s\n", tm(cp ? co : INT64_MAX, utc, b1, sizeof b1));
            printf("  newest packet  %s\n", tm(cp ? cn : INT64_MAX, utc, b2, sizeof b2));
            printf("  segments       %zu\n  bytes          %" PRIu64 " (%s)\n  packets        %" PRIu64
                   "\n  drops          %" PRIu64 "\n", cs, cb, hb, cp, cd);
        }
    }
    for (size_t i = 0; i < nn; i++) free(ns[i].node);
    free(ns);
    if (rc == KF_EXIT_OK && nn == 0) rc = KF_EXIT_NONE;
    return rc;
}
