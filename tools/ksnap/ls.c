/* ksnap ls — what a store holds, per node: oldest and newest packet, segments, bytes, packets,
 * drops (Kubeshark calls it "data boundaries"). Reads every segment with kf_capread; drops are
 * the segments' ISB osdrop counts, or the EPBs' epb_dropcount where a segment has no ISB (a
 * crash-repaired or open one). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kf_capread.h"
#include "kf_json.h"
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
    int capturing, unreadable;
} node_sum;

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
    uint64_t epb_drops = 0;
    while ((rc = kf_reader_next(r, &p)) == 1) {
        s->packets++;
        if (p.ts_ns < s->oldest) s->oldest = p.ts_ns;
        if (p.ts_ns > s->newest) s->newest = p.ts_ns;
        epb_drops += p.dropcount;
    }
    if (rc < 0 && !g->open) { kf_err("%s: %s", g->path, kf_reader_error(r)); s->unreadable++; }
    size_t ni = kf_reader_isb_count(r);
    if (ni) {
        for (size_t i = 0; i < ni; i++) {
            const kf_isb *b = kf_reader_isb(r, i);
            if (b->osdrop != UINT64_MAX) s->drops += b->osdrop;
        }
    } else {
        s->drops += epb_drops;
    }
    kf_reader_close(r);
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: ksnap ls DIR... [--json] [--utc]\n"
"Per node of each store: oldest and newest packet (local time, UTC in parentheses),\n"
"segments, bytes, packets, drops, and whether a capture is running.\n"
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

int cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", 0, 0, 'j' }, { "utc", 0, 0, 'u' }, { "help", 0, 0, 'h' }, { 0 } };
    int json = 0, utc = 0, o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'j': json = 1; break;
        case 'u': utc = 1; break;
        case 'h': usage(stdout); return 0;
        default: kf_usage_die("unknown option");
        }
    }
    if (optind >= argc) kf_usage_die("which store? (ksnap ls DIR...)");
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
        if (n == 0) kf_warn("%s: no capture store here (no node folder with segments)", dir);
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
