/* engine.c — kdissect's engine: flow table, duplicate suppression, TCP reassembly and analysis,
 * dissector dispatch, record envelope with Kubernetes context, ordering, conn/flow records.
 * Hand-written: no library does TCP reassembly with per-byte packet references for us. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <inttypes.h>
#include "engine.h"
#include "kf_json.h"
#include "kf_time.h"

#define KD_PROBE_MAX 4096u           /* bytes per direction kept while probing */
#define KD_BUF_MAX (256u * 1024u)    /* unconsumed bytes per direction */
#define KD_OOO_MAX (1024u * 1024u)   /* out-of-order bytes per direction */
#define KD_UNACKED 16

/* ------------------------------------------------------------------ structures */

typedef struct kd_seg {
    struct kd_seg *next;
    uint64_t off;
    uint32_t len;
    kd_pref ref;
    uint8_t data[];
} kd_seg;

typedef struct kd_refent { uint64_t off; kd_pref ref; } kd_refent;

typedef struct kd_dir {
    /* reassembly */
    int have_base, ended, eof_sent, after_gap, fin_seen;
    uint32_t base;
    uint64_t next, fin_off;
    kd_seg *ooo;
    size_t ooo_bytes;
    uint8_t *buf;
    size_t blen, bcap;
    uint64_t boff;
    kd_refent *refs;
    size_t nref, refcap;
    int probe_no;                /* every dissector said no to this direction */
    /* counters */
    uint64_t pkts, bytes, payload;
    /* tcp.analysis (Wireshark's semantics) */
    int an_seen;
    uint32_t nextseq, lastack, win, maxseqtobeacked;
    int64_t nextseq_ts, lastack_ts;
    int wscale;                  /* -1 unknown */
    uint32_t dupacks;
    int last_keepalive;
    struct { uint32_t end; int64_t ts; } unacked[KD_UNACKED];
    int nunacked;
} kd_dir;

typedef struct kd_flow {
    struct kd_flow *hnext;
    uint64_t hash;
    uint32_t id;
    uint8_t ipproto;
    kf_addr ca, sa;              /* client, server */
    uint16_t sport;
    int64_t first_ts, last_ts, rec_start;
    uint64_t pkts[2], bytes[2];  /* [0] client side sent, [1] server side sent */
    uint32_t nconns, active;
    uint32_t l7;                 /* bitmask over the dissector table */
    const char *file; uint32_t file_idx, node_idx;
    kd_pref first_ref, last_ref;
    int dirty;
} kd_flow;

struct kd_conn {
    kd_conn_info info;
    kd_engine *e;
    struct kd_conn *hnext, *lprev, *lnext;
    struct kd_conn *tprev, *tnext;   /* live connections by first_ts (the watermark's list) */
    int lru;                     /* which list */
    uint64_t hash;
    uint32_t id;
    kd_flow *flow;
    int64_t first_ts, last_ts;
    kd_pref first_ref, last_ref, cur;
    uint32_t node_idx;
    const kd_dissector *d;
    void *st;
    int l7_state;                /* 0 probing, 1 active, 2 none */
    int udp_probes;
    uint32_t l7;                 /* detected, bitmask */
    const kd_dissector *up_d;    /* pending upgrade */
    void *up_st;
    int64_t pending_ts, timer_ts;
    int timer_idx;
    long mem;
    kd_dir dir[2];
    /* tcp */
    uint8_t syn[2], synack, fin[2], rst[2], hs_done, closed, refused;
    uint32_t completeness;
    int64_t syn_ts, synack_ts, hs_ack_ts, data_ts[2];
    uint64_t retrans, fast_retrans, spurious, ooo, dupacks, zerowin, winfull, lost, keepalive,
             rst_count, fin_count, data_pkts, goodput;
    uint64_t rtt_n, rtt_sum, rtt_min, rtt_max, jit_sum, rtt_last;
    int emitted;
};

typedef struct kd_rec { int64_t ts; uint64_t seq; size_t len; char data[]; } kd_rec;

typedef struct kd_name {
    struct kd_name *hnext;
    kf_addr ip;
    int64_t ts;
    char name[];
} kd_name;

enum { LRU_TCP, LRU_CLOSED, LRU_UDP, LRU_N };

struct kd_engine {
    kd_engine_opts o;
    kd_out_fn out; void *out_arg; int out_failed;
    kf_decoder *dec;
    kd_engine_stats st;
    const kd_dissector *const *dis; size_t ndis;
    /* conns */
    kd_conn **ht; size_t htcap, nconns;
    kd_conn *lru_head[LRU_N], *lru_tail[LRU_N];
    kd_conn *thead, *ttail;      /* by first_ts, oldest first */
    int pending_early;           /* a connection waits on a record older than its first packet */
    uint32_t next_conn_id, next_flow_id;
    kd_flow **fht; size_t fhtcap, nflows;
    /* timers: indexed min-heap of conns */
    kd_conn **th; size_t thn, thcap;
    /* dup table */
    struct dupent { uint64_t h; int64_t ts; uint32_t iface, node; } *dup;
    size_t dupmask;
    /* names */
    const char **files; size_t nfiles, capfiles; const char *last_file; uint32_t last_file_idx;
    const char **nodes; size_t nnodes, capnodes; const char *last_node; uint32_t last_node_idx;
    /* dns names */
    kd_name **nht; size_t nhtcap, nnames;
    /* records */
    kd_rec **heap; size_t hn, hcap; size_t heap_bytes; uint64_t rec_seq, out_index;
    struct kd_run { FILE *f; kd_rec *head; char *buf; } *runs;   /* sorted runs spilled to temp files */
    size_t nruns, capruns;
    kf_jw jw, idw;
    kd_conn *emitting; const kd_call *call;
    char idprefix[24];
    int64_t now, emit_ts, out_ts;
    int64_t watermark;           /* after flush_ready: nothing more will be written before this */
    int64_t natural;             /* after flush_ready: no record yet to be made starts before this */
    int64_t cap;                 /* -j: release nothing after this (other shards are behind) */
    uint64_t seen;               /* packets of the capture so far (all shards' with -j) */
    uint64_t mem;                /* accounted bytes */
    int finishing;
    /* node ip cache from metadata */
    int node_ips_built;
};

/* ------------------------------------------------------------------ small helpers */

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ULL; }
    return h;
}
/* word-at-a-time hash for the duplicate check (hot path) */
static uint64_t hash_words(uint64_t h, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 32;
        p += 8; n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    return (h ^ w ^ n) * 0x9E3779B97F4A7C15ULL;
}
static void mem_add(kd_engine *e, long d)
{
    e->mem = (uint64_t)((int64_t)e->mem + d);
    if (e->mem > e->st.peak_memory) e->st.peak_memory = e->mem;
}
static uint32_t intern(const char ***arr, size_t *n, size_t *cap, const char *s,
                       const char **last, uint32_t *last_idx)
{
    if (s == *last && *n) return *last_idx;
    for (size_t i = *n; i-- > 0;)
        if ((*arr)[i] == s || ((*arr)[i] && s && strcmp((*arr)[i], s) == 0)) {
            *last = s; *last_idx = (uint32_t)i; return (uint32_t)i;
        }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        const char **na = realloc(*arr, nc * sizeof *na);
        if (!na) return 0;
        *arr = na; *cap = nc;
    }
    (*arr)[*n] = s;
    *last = s; *last_idx = (uint32_t)*n;
    return (uint32_t)(*n)++;
}
static const char *file_name(const kd_engine *e, uint32_t i) { return i < e->nfiles && e->files[i] ? e->files[i] : ""; }
static const char *node_name(const kd_engine *e, uint32_t i) { return i < e->nnodes && e->nodes[i] ? e->nodes[i] : ""; }

static int dis_index(const kd_engine *e, const kd_dissector *d)
{
    for (size_t i = 0; i < e->ndis; i++) if (e->dis[i] == d) return (int)i;
    return -1;
}
static int dis_enabled(const kd_engine *e, const kd_dissector *d)
{
    int i = dis_index(e, d);
    return i >= 0 && (e->o.enabled >> i & 1);
}

void kd_engine_opts_default(kd_engine_opts *o)
{
    memset(o, 0, sizeof *o);
    o->d.body_limit = 4096;
    o->d.req_timeout_ns = 10 * KF_NS_PER_SEC;
    o->enabled = ~0ULL;
    o->max_memory = 96ULL << 20;
    o->tcp_idle_ns = 600 * KF_NS_PER_SEC;
    o->udp_idle_ns = 60 * KF_NS_PER_SEC;
    o->closed_linger_ns = 5 * KF_NS_PER_SEC;
    o->dup_window_ns = 50 * 1000000LL;
    o->flow_interval_ns = 60 * KF_NS_PER_SEC;
}

/* ------------------------------------------------------------------ record heap */

static int rec_less(const kd_rec *a, const kd_rec *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}
static void heap_push(kd_engine *e, kd_rec *r)
{
    if (e->hn == e->hcap) {
        size_t nc = e->hcap ? e->hcap * 2 : 1024;
        kd_rec **nh = realloc(e->heap, nc * sizeof *nh);
        if (!nh) { free(r); return; }
        e->heap = nh; e->hcap = nc;
    }
    size_t i = e->hn++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!rec_less(r, e->heap[p])) break;
        e->heap[i] = e->heap[p]; i = p;
    }
    e->heap[i] = r;
    e->heap_bytes += sizeof *r + r->len;
    mem_add(e, (long)(sizeof *r + r->len));
}
static kd_rec *heap_pop(kd_engine *e)
{
    if (!e->hn) return NULL;
    kd_rec *top = e->heap[0], *last = e->heap[--e->hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l >= e->hn) break;
        m = l;
        if (l + 1 < e->hn && rec_less(e->heap[l + 1], e->heap[l])) m = l + 1;
        if (!rec_less(e->heap[m], last)) break;
        e->heap[i] = e->heap[m]; i = m;
    }
    if (e->hn) e->heap[i] = last;
    e->heap_bytes -= sizeof *top + top->len;
    mem_add(e, -(long)(sizeof *top + top->len));
    return top;
}
/* Writes one record with its id in front. */
static void rec_output(kd_engine *e, kd_rec *r)
{
    e->out_ts = r->ts;
    if (e->o.raw_out) {   /* -j: the merge writes the id */
        if (!e->out_failed && e->out(e->out_arg, r->data, r->len) != 0) e->out_failed = 1;
        free(r);
        return;
    }
    if (!e->out_failed) {
        char id[64];
        snprintf(id, sizeof id, "%s-%06" PRIu64, e->idprefix, e->out_index++);
        size_t need = strlen(id) + r->len + 16;
        if (e->idw.cap < need) {
            char *nb = realloc(e->idw.buf, need);
            if (!nb) { e->out_failed = 1; free(r); return; }
            e->idw.buf = nb; e->idw.cap = need;
        }
        int k = snprintf(e->idw.buf, need, "{\"id\":\"%s\"%s", id, r->len > 3 ? "," : "");
        memcpy(e->idw.buf + k, r->data + 1, r->len - 1);
        if (e->out(e->out_arg, e->idw.buf, (size_t)k + r->len - 1) != 0) e->out_failed = 1;
    }
    free(r);
}

static int64_t conn_min_pending(const kd_engine *e, const kd_conn *c)
{
    int64_t m = c->pending_ts;
    if (!e->o.no_conn && !c->emitted && c->first_ts < m) m = c->first_ts;
    return m;
}

/* Outputs every record no connection can precede any more. */
/* Spilled runs: when waiting records outgrow their budget they are written, sorted, to a temp
 * file; output merges the runs with the heap, so order holds with bounded memory. */
static kd_rec *run_read(FILE *f)
{
    int64_t ts; uint64_t seq, len;
    if (fread(&ts, sizeof ts, 1, f) != 1 || fread(&seq, sizeof seq, 1, f) != 1 || fread(&len, sizeof len, 1, f) != 1)
        return NULL;
    if (len > (1u << 30)) return NULL;
    kd_rec *r = malloc(sizeof *r + len);
    if (!r) return NULL;
    r->ts = ts; r->seq = seq; r->len = (size_t)len;
    if (fread(r->data, 1, (size_t)len, f) != len) { free(r); return NULL; }
    return r;
}
static int spill(kd_engine *e)
{
    if (e->nruns == e->capruns) {
        size_t nc = e->capruns ? e->capruns * 2 : 8;
        struct kd_run *nr = realloc(e->runs, nc * sizeof *nr);
        if (!nr) return -1;
        e->runs = nr; e->capruns = nc;
    }
    FILE *f = tmpfile();
    if (!f) return -1;
    /* glibc ignores setvbuf's size without a buffer (4 KiB writes then: a syscall each) */
    size_t bsz = (size_t)(e->o.max_memory / 384);
    if (bsz > (256u << 10)) bsz = 256u << 10;
    char *buf = bsz >= 4096 ? malloc(bsz) : NULL;
    if (buf) setvbuf(f, buf, _IOFBF, bsz);
    int ok = 1;
    while (e->hn) {
        kd_rec *r = heap_pop(e);
        uint64_t seq = r->seq, len = r->len;
        if (fwrite(&r->ts, sizeof r->ts, 1, f) != 1 || fwrite(&seq, sizeof seq, 1, f) != 1 ||
            fwrite(&len, sizeof len, 1, f) != 1 || fwrite(r->data, 1, r->len, f) != r->len) ok = 0;
        free(r);
    }
    if (fflush(f) != 0 || !ok) { fclose(f); free(buf); e->out_failed = 1; return -1; }
    rewind(f);
    e->runs[e->nruns].f = f;
    e->runs[e->nruns].buf = buf;
    e->runs[e->nruns].head = run_read(f);
    e->nruns++;
    e->st.spilled_runs++;
    return 0;
}

/* Outputs every record no connection can precede any more (all: everything). */
static void flush_ready(kd_engine *e, int all)
{
    int64_t w = INT64_MAX;
    if (!all) {
        if (!e->o.no_conn && !e->pending_early) {
            /* every live connection still owes its conn record, stamped first_ts, and waits on
             * nothing older: the oldest first_ts is the minimum */
            if (e->thead) w = e->thead->first_ts;
        } else {
            int early = 0;
            for (int l = 0; l < LRU_N; l++)
                for (kd_conn *c = e->lru_head[l]; c; c = c->lnext) {
                    int64_t m = conn_min_pending(e, c);
                    if (m < w) w = m;
                    if (c->pending_ts < c->first_ts) early = 1;
                }
            e->pending_early = early;
        }
        if (!e->o.no_conn)
            for (size_t i = 0; i < e->fhtcap; i++)
                for (kd_flow *f = e->fht[i]; f; f = f->hnext)
                    if (f->dirty && f->rec_start < w) w = f->rec_start;
    }
    if (all) w = INT64_MAX;
    e->natural = w;
    if (w > e->cap) w = e->cap;   /* -j: what other shards cannot precede yet stays here */
    for (;;) {
        kd_rec *best = e->hn ? e->heap[0] : NULL;
        size_t bi = (size_t)-1;
        for (size_t i = 0; i < e->nruns; i++)
            if (e->runs[i].head && (!best || rec_less(e->runs[i].head, best))) { best = e->runs[i].head; bi = i; }
        if (!best || best->ts > w) break;
        if (bi == (size_t)-1) rec_output(e, heap_pop(e));
        else { e->runs[bi].head = run_read(e->runs[bi].f); rec_output(e, best); }
    }
    /* drop exhausted runs */
    for (size_t i = 0; i < e->nruns;) {
        if (!e->runs[i].head) { fclose(e->runs[i].f); free(e->runs[i].buf); e->runs[i] = e->runs[--e->nruns]; }
        else i++;
    }
    /* bounded: a third of the memory budget for waiting records, the rest goes to disk. Not once
     * finishing: what waits then is what one engine holds at its end (every connection's last
     * record), and with -j it goes out as soon as the other shards get there too */
    if (!e->finishing && e->heap_bytes > e->o.max_memory / 3 && spill(e) != 0)
        while (e->hn && e->heap_bytes > e->o.max_memory / 3) {
            e->st.reorder_forced++;
            rec_output(e, heap_pop(e));
        }
    /* nothing more goes out before the oldest record still waiting, nor before a record yet
     * to be made */
    w = e->natural;
    if (e->hn && e->heap[0]->ts < w) w = e->heap[0]->ts;
    for (size_t i = 0; i < e->nruns; i++)
        if (e->runs[i].head && e->runs[i].head->ts < w) w = e->runs[i].head->ts;
    e->watermark = w;
}

/* ------------------------------------------------------------------ names learned from DNS */

static uint64_t addr_hash(const kf_addr *a) { return kd_mix64(hash_bytes(0xcbf29ce484222325ULL, a->a, a->family == 4 ? 4 : 16) ^ a->family); }

void kd_learn_name(kd_conn *c, const kf_addr *ip, const char *name, size_t len, int64_t ts_ns)
{
    kd_engine_learn_name(c->e, ip, name, len, ts_ns);
}
void kd_engine_learn_name(kd_engine *e, const kf_addr *ip, const char *name, size_t len, int64_t ts_ns)
{
    if (!len || len > 255) return;
    if (!e->nhtcap) {
        e->nhtcap = 1024;
        e->nht = calloc(e->nhtcap, sizeof *e->nht);
        if (!e->nht) { e->nhtcap = 0; return; }
    }
    size_t b = addr_hash(ip) & (e->nhtcap - 1);
    for (kd_name **pp = &e->nht[b]; *pp; pp = &(*pp)->hnext) {
        kd_name *n = *pp;
        if (kf_addr_eq(&n->ip, ip)) {
            if (strlen(n->name) == len && memcmp(n->name, name, len) == 0) { n->ts = ts_ns < n->ts ? ts_ns : n->ts; return; }
            *pp = n->hnext; free(n); e->nnames--;
            break;
        }
    }
    if (e->nnames >= 65536) return;
    kd_name *n = malloc(sizeof *n + len + 1);
    if (!n) return;
    n->ip = *ip; n->ts = ts_ns;
    memcpy(n->name, name, len); n->name[len] = 0;
    n->hnext = e->nht[b]; e->nht[b] = n; e->nnames++;
}
static const char *learned_name(const kd_engine *e, const kf_addr *ip)
{
    if (!e->nhtcap) return NULL;
    for (kd_name *n = e->nht[addr_hash(ip) & (e->nhtcap - 1)]; n; n = n->hnext)
        if (kf_addr_eq(&n->ip, ip)) return n->name;
    return NULL;
}

/* ------------------------------------------------------------------ record envelope */

typedef struct kd_side {
    kf_ipinfo ii;
    const kf_workload *svc;
    int found;
} kd_side;

static void write_json_obj(kf_jw *w, const char *key, json_t *obj)
{
    if (!obj || !json_is_object(obj)) return;
    char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!s) return;
    kf_jw_key(w, key);
    kf_jw_raw(w, s, strlen(s));
    free(s);
}

static void side_lookup(kd_engine *e, const kf_addr *ip, int64_t ts, kd_side *s)
{
    memset(s, 0, sizeof *s);
    if (!e->o.meta) return;
    s->found = kf_meta_lookup(e->o.meta, ip, ts, &s->ii);
    if (s->ii.pod) {
        const kf_workload *sv[1];
        if (kf_meta_pod_services(e->o.meta, s->ii.pod, ts, sv, 1) > 0) s->svc = sv[0];
    }
    if (!s->svc && s->ii.service) s->svc = s->ii.service;
}

static const char *node_ip_of(kd_engine *e, const char *node)
{
    if (!e->o.meta || !node || !*node) return NULL;
    const kf_binding *b;
    size_t n = kf_meta_bindings(e->o.meta, &b);
    for (size_t i = 0; i < n; i++)
        if (b[i].w && b[i].w->kind == KF_WK_NODE && b[i].w->name && strcmp(b[i].w->name, node) == 0) {
            static __thread char buf[64];
            return kf_addr_str(&b[i].ip, buf, sizeof buf);
        }
    return NULL;
}

static void write_endpoint(kd_engine *e, kf_jw *w, const char *key, const kf_addr *ip,
                           uint16_t port, const kd_side *s)
{
    char ab[64];
    kf_jw_key(w, key);
    kf_jw_obj_begin(w);
    kf_jw_kstr(w, "ip", kf_addr_str(ip, ab, sizeof ab));
    kf_jw_kint(w, "port", port);
    const kf_workload *pod = s->ii.pod, *svc = s->svc;
    const char *dns = learned_name(e, ip);
    const char *name = pod ? pod->name : svc ? svc->name : dns ? dns : "";
    const char *ns = pod ? pod->namespace_ : svc ? svc->namespace_ : NULL;
    kf_jw_kstr(w, "name", name ? name : "");
    if (ns) kf_jw_kstr(w, "namespace", ns);
    kf_jw_kstr(w, "dns", dns ? dns : "");
    if (pod || svc) {
        kf_jw_key(w, "pod");
        kf_jw_obj_begin(w);
        if (pod) {
            kf_jw_kstr(w, "name", pod->name);
            kf_jw_kstr(w, "namespace", pod->namespace_);
            if (pod->uid) kf_jw_kstr(w, "uid", pod->uid);
            write_json_obj(w, "labels", pod->labels);
            if (pod->owner_kind && pod->owner_name) {
                kf_jw_key(w, "owner");
                kf_jw_obj_begin(w);
                kf_jw_kstr(w, "kind", pod->owner_kind);
                kf_jw_kstr(w, "name", pod->owner_name);
                kf_jw_obj_end(w);
            }
        } else {   /* KFL: pod.name / pod.namespace fall back to the service's */
            kf_jw_kstr(w, "name", svc->name);
            kf_jw_kstr(w, "namespace", svc->namespace_);
        }
        kf_jw_obj_end(w);
    }
    if (svc) {
        kf_jw_key(w, "service");
        kf_jw_obj_begin(w);
        kf_jw_kstr(w, "name", svc->name);
        kf_jw_kstr(w, "namespace", svc->namespace_);
        kf_jw_obj_end(w);
    }
    const char *nodename = pod && pod->node ? pod->node : s->ii.node ? s->ii.node->name : NULL;
    if (nodename) {
        kf_jw_key(w, "node");
        kf_jw_obj_begin(w);
        kf_jw_kstr(w, "name", nodename);
        kf_jw_obj_end(w);
    }
    if (pod) kf_jw_kbool(w, "host_network", pod->host_network);
    kf_jw_obj_end(w);
}

static void write_conn_tuple(kd_engine *e, kf_jw *w, const kd_conn *c)
{
    char a[64], b[64], buf[160];
    const kd_conn_info *ci = &c->info;
    int cl = ci->client >= 0 ? ci->client : 0;
    kf_addr_str(&ci->addr[cl], a, sizeof a);
    kf_addr_str(&ci->addr[!cl], b, sizeof b);
    kf_jw_key(w, "conn");
    kf_jw_obj_begin(w);
    kf_jw_kstr(w, "proto", ci->transport == KD_TRANSPORT_TCP ? "tcp" : ci->transport == KD_TRANSPORT_UDP ? "udp"
               : ci->ipproto == 1 ? "icmp" : ci->ipproto == 58 ? "icmp6" : "ip");
    int v6 = ci->addr[0].family == 6;
    snprintf(buf, sizeof buf, v6 ? "[%s]:%u" : "%s:%u", a, ci->port[cl]);
    kf_jw_kstr(w, "a", buf);
    snprintf(buf, sizeof buf, v6 ? "[%s]:%u" : "%s:%u", b, ci->port[!cl]);
    kf_jw_kstr(w, "b", buf);
    kf_jw_obj_end(w);
}

/* Opens a record and writes the fields every record has. src = side `srcside`. */
static kf_jw *envelope(kd_engine *e, kd_conn *c, int srcside, int64_t ts, int64_t elapsed_us,
                       const char *protocol, const char *flag, const char *flag2,
                       const kd_pref *first, const kd_pref *last)
{
    kf_jw *w = &e->jw;
    kf_jw_reset(w);
    kf_jw_obj_begin(w);
    kf_jw_ktime(w, "timestamp", ts);
    kf_jw_kint(w, "elapsed_time", elapsed_us);
    kf_jw_kstr(w, "protocol", protocol);
    if (flag) kf_jw_kbool(w, flag, 1);
    if (flag2) kf_jw_kbool(w, flag2, 1);
    char id[16];
    snprintf(id, sizeof id, "c-%08x", c->id);
    kf_jw_kstr(w, "stream", id);
    kf_jw_kstr(w, "conn_id", id);
    if (c->flow) { snprintf(id, sizeof id, "f-%08x", c->flow->id); kf_jw_kstr(w, "flow_id", id); }
    kf_jw_kstr(w, "capture_source", "af_packet");
    kf_jw_kbool(w, "has_pcap", 1);
    const char *node = node_name(e, c->node_idx);
    const char *nip = node_ip_of(e, node);
    kf_jw_key(w, "node");
    kf_jw_obj_begin(w);
    kf_jw_kstr(w, "name", node);
    kf_jw_kstr(w, "ip", nip ? nip : "");
    kf_jw_obj_end(w);
    kf_jw_kstr(w, "node_name", node);
    kf_jw_kstr(w, "node_ip", nip ? nip : "");
    const kd_conn_info *ci = &c->info;
    kd_side s[2];
    side_lookup(e, &ci->addr[srcside], ts, &s[0]);
    side_lookup(e, &ci->addr[!srcside], ts, &s[1]);
    write_endpoint(e, w, "src", &ci->addr[srcside], ci->port[srcside], &s[0]);
    write_endpoint(e, w, "dst", &ci->addr[!srcside], ci->port[!srcside], &s[1]);
    if (e->o.meta) {
        const char *lists[3][2];
        for (int i = 0; i < 2; i++) {
            const kf_workload *pod = s[i].ii.pod, *svc = s[i].svc;
            lists[0][i] = pod ? pod->namespace_ : svc ? svc->namespace_ : NULL;
            lists[1][i] = pod ? pod->name : NULL;
            lists[2][i] = svc ? svc->name : NULL;
        }
        static const char *keys[3] = { "namespaces", "pods", "services" };
        for (int k = 0; k < 3; k++) {
            kf_jw_key(w, keys[k]);
            kf_jw_arr_begin(w);
            for (int i = 0; i < 2; i++)
                if (lists[k][i] && *lists[k][i] && !(i == 1 && lists[k][0] && strcmp(lists[k][0], lists[k][1]) == 0))
                    kf_jw_str(w, lists[k][i]);
            kf_jw_arr_end(w);
        }
        /* local = the side whose pod runs on the capturing node (else the client side) */
        int local = 0;
        for (int i = 0; i < 2; i++) {
            const char *pn = s[i].ii.pod ? s[i].ii.pod->node : s[i].ii.node ? s[i].ii.node->name : NULL;
            if (pn && strcmp(pn, node) == 0) { local = i; break; }
        }
        const kf_workload *lp = s[local].ii.pod, *rp = s[!local].ii.pod;
        if (lp) { write_json_obj(w, "local_labels", lp->labels); write_json_obj(w, "local_annotations", lp->annotations); }
        if (rp) { write_json_obj(w, "remote_labels", rp->labels); write_json_obj(w, "remote_annotations", rp->annotations); }
    }
    kf_jw_key(w, "capture");
    kf_jw_obj_begin(w);
    kf_jw_kstr(w, "file", file_name(e, first->file));
    if (last->file != first->file) kf_jw_kstr(w, "last_file", file_name(e, last->file));
    kf_jw_kstr(w, "node", node);
    kf_jw_kuint(w, "first_frame", first->frame);
    kf_jw_kuint(w, "last_frame", last->frame);
    kf_jw_ktime(w, "first_ts", first->ts_ns);
    kf_jw_ktime(w, "last_ts", last->ts_ns);
    write_conn_tuple(e, w, c);
    kf_jw_ktime(w, "conn_first_ts", c->first_ts);
    kf_jw_ktime(w, "conn_last_ts", c->last_ts);
    kf_jw_obj_end(w);
    return w;
}

static void finish_record(kd_engine *e, int64_t ts)
{
    kf_jw *w = &e->jw;
    kf_jw_obj_end(w);
    kf_jw_newline(w);
    if (kf_jw_failed(w)) return;
    kd_rec *r = malloc(sizeof *r + w->len);
    if (!r) return;
    r->ts = ts; r->seq = e->rec_seq++; r->len = w->len;
    memcpy(r->data, w->buf, w->len);
    heap_push(e, r);
    e->st.records++;
}

static int pref_earlier(const kd_pref *a, const kd_pref *b)
{
    if (!b->frame && !b->ts_ns) return 1;
    if (!a->frame && !a->ts_ns) return 0;
    return a->ts_ns < b->ts_ns || (a->ts_ns == b->ts_ns && (a->file < b->file || (a->file == b->file && a->frame < b->frame)));
}

kf_jw *kd_emit_begin(kd_conn *c, const kd_call *call)
{
    kd_engine *e = c->e;
    e->emitting = c;
    e->call = call;
    const kd_pref *refs[4] = { &call->req_first, &call->req_last, &call->resp_first, &call->resp_last };
    int use[4] = { call->has_req, call->has_req, call->has_resp, call->has_resp };
    const kd_pref *first = NULL, *last = NULL;
    for (int i = 0; i < 4; i++) {
        if (!use[i] || (!refs[i]->frame && !refs[i]->ts_ns)) continue;
        if (!first || pref_earlier(refs[i], first)) first = refs[i];
        if (!last || pref_earlier(last, refs[i])) last = refs[i];
    }
    if (!first) first = last = &c->cur;
    int64_t ts = call->has_req ? call->req_first.ts_ns : call->resp_first.ts_ns;
    if (!call->has_req && !call->has_resp) ts = first->ts_ns;
    int64_t el = call->has_req && call->has_resp ? (call->resp_first.ts_ns - call->req_first.ts_ns) / 1000 : 0;
    if (el < 0) el = 0;
    const char *flag2 = c->info.transport == KD_TRANSPORT_TCP ? "tcp" : c->info.transport == KD_TRANSPORT_UDP ? "udp" : NULL;
    const kd_dissector *d = c->d ? c->d : c->up_d;
    int di = d ? dis_index(e, d) : -1;
    e->st.records_by_proto[di >= 0 && di < 31 ? di : 31]++;
    e->emit_ts = ts;
    return envelope(e, c, call->req_dir & 1, ts, el, call->protocol ? call->protocol : d ? d->protocol : "",
                    call->flag ? call->flag : d ? d->flag : NULL, flag2, first, last);
}

void kd_emit_end(kd_conn *c)
{
    kd_engine *e = c->e;
    if (e->emitting != c) return;
    finish_record(e, e->emit_ts);
    e->emitting = NULL;
}

/* ------------------------------------------------------------------ dissector-facing API */

const kd_conn_info *kd_conn_get_info(const kd_conn *c) { return &c->info; }
void kd_conn_set_client(kd_conn *c, int side) { c->info.client = side & 1; }
const kd_pref *kd_conn_cur_ref(const kd_conn *c) { return &c->cur; }
void kd_conn_mem(kd_conn *c, long delta) { c->mem += delta; mem_add(c->e, delta); }
void kd_stat_add(kd_conn *c, enum kd_stat what, uint64_t n) { if ((unsigned)what < KD_STAT__N) c->e->st.dstat[what] += n; }
void kd_conn_pending(kd_conn *c, int64_t ts)
{
    c->pending_ts = ts;
    if (ts < c->first_ts) c->e->pending_early = 1;   /* out-of-order input: flush_ready scans */
}

int kd_stream_ref(const kd_conn *c, int dir, uint64_t off, kd_pref *out)
{
    const kd_dir *d = &c->dir[dir & 1];
    size_t lo = 0, hi = d->nref;
    while (lo < hi) {   /* last entry with off <= target */
        size_t mid = (lo + hi) / 2;
        if (d->refs[mid].off <= off) lo = mid + 1; else hi = mid;
    }
    if (lo == 0) { memset(out, 0, sizeof *out); return -1; }
    *out = d->refs[lo - 1].ref;
    return 0;
}

/* timers: min-heap of connections by timer_ts */
static void th_swap(kd_engine *e, size_t a, size_t b)
{
    kd_conn *t = e->th[a]; e->th[a] = e->th[b]; e->th[b] = t;
    e->th[a]->timer_idx = (int)a; e->th[b]->timer_idx = (int)b;
}
static void th_up(kd_engine *e, size_t i)
{
    while (i > 0 && e->th[(i - 1) / 2]->timer_ts > e->th[i]->timer_ts) { th_swap(e, i, (i - 1) / 2); i = (i - 1) / 2; }
}
static void th_down(kd_engine *e, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < e->thn && e->th[l]->timer_ts < e->th[m]->timer_ts) m = l;
        if (l + 1 < e->thn && e->th[l + 1]->timer_ts < e->th[m]->timer_ts) m = l + 1;
        if (m == i) return;
        th_swap(e, i, m); i = m;
    }
}
static void th_remove(kd_engine *e, kd_conn *c)
{
    if (c->timer_idx < 0) return;
    size_t i = (size_t)c->timer_idx;
    c->timer_idx = -1;
    if (i != --e->thn) {
        e->th[i] = e->th[e->thn]; e->th[i]->timer_idx = (int)i;
        th_up(e, i); th_down(e, (size_t)e->th[i]->timer_idx);
    }
}
void kd_conn_timer(kd_conn *c, int64_t ts)
{
    kd_engine *e = c->e;
    th_remove(e, c);
    c->timer_ts = ts;
    if (!ts) return;
    if (e->thn == e->thcap) {
        size_t nc = e->thcap ? e->thcap * 2 : 256;
        kd_conn **nh = realloc(e->th, nc * sizeof *nh);
        if (!nh) return;
        e->th = nh; e->thcap = nc;
    }
    e->th[e->thn] = c; c->timer_idx = (int)e->thn++;
    th_up(e, (size_t)c->timer_idx);
}

int kd_conn_upgrade(kd_conn *c, const char *name, const kd_upgrade *u)
{
    kd_engine *e = c->e;
    const kd_dissector *d = kd_dissector_find(name);
    if (!d || !dis_enabled(e, d) || c->up_d) return -1;
    void *st = calloc(1, d->state_size ? d->state_size : 1);
    if (!st) return -1;
    c->up_d = d; c->up_st = st;
    kd_conn_mem(c, (long)d->state_size);
    /* the new dissector runs with c->d pointing at it during its callbacks */
    const kd_dissector *old = c->d; void *oldst = c->st;
    c->d = d; c->st = st;
    if (d->init) d->init(c, st);
    if (d->on_upgrade) d->on_upgrade(c, st, u);
    c->d = old; c->st = oldst;
    int i = dis_index(e, d);
    if (i >= 0) c->l7 |= 1u << i;
    return 0;
}

/* ------------------------------------------------------------------ connections */

static size_t conn_bucket(const kd_engine *e, uint64_t h) { return h & (e->htcap - 1); }

static uint64_t key_hash(uint8_t proto, const kf_addr *a, uint16_t pa, const kf_addr *b, uint16_t pb)
{
    /* symmetric: both directions hash the same */
    uint64_t ha = hash_bytes(0xcbf29ce484222325ULL, a->a, 16) ^ ((uint64_t)pa << 7);
    uint64_t hb = hash_bytes(0xcbf29ce484222325ULL, b->a, 16) ^ ((uint64_t)pb << 7);
    return kd_mix64((ha ^ hb) + (ha < hb ? ha : hb) * 31 + proto);
}
static int conn_match(const kd_conn *c, uint8_t proto, const kf_addr *s, uint16_t sp, const kf_addr *d, uint16_t dp, int *dir)
{
    if (c->info.ipproto != proto) return 0;
    const kd_conn_info *ci = &c->info;
    if (ci->port[0] == sp && ci->port[1] == dp && kf_addr_eq(&ci->addr[0], s) && kf_addr_eq(&ci->addr[1], d)) { *dir = 0; return 1; }
    if (ci->port[1] == sp && ci->port[0] == dp && kf_addr_eq(&ci->addr[1], s) && kf_addr_eq(&ci->addr[0], d)) { *dir = 1; return 1; }
    return 0;
}

static void lru_unlink(kd_engine *e, kd_conn *c)
{
    if (c->lprev) c->lprev->lnext = c->lnext; else e->lru_head[c->lru] = c->lnext;
    if (c->lnext) c->lnext->lprev = c->lprev; else e->lru_tail[c->lru] = c->lprev;
    c->lprev = c->lnext = NULL;
}
static void lru_append(kd_engine *e, kd_conn *c, int l)
{
    c->lru = l;
    c->lnext = NULL; c->lprev = e->lru_tail[l];
    if (e->lru_tail[l]) e->lru_tail[l]->lnext = c; else e->lru_head[l] = c;
    e->lru_tail[l] = c;
}

static int ht_grow(kd_engine *e)
{
    size_t nc = e->htcap ? e->htcap * 2 : 4096;
    kd_conn **nt = calloc(nc, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < e->htcap; i++)
        for (kd_conn *c = e->ht[i], *n; c; c = n) { n = c->hnext; c->hnext = nt[c->hash & (nc - 1)]; nt[c->hash & (nc - 1)] = c; }
    mem_add(e, (long)((nc - e->htcap) * sizeof *nt));
    free(e->ht); e->ht = nt; e->htcap = nc;
    return 0;
}

/* flows: client ip, server ip, server port, protocol */
static kd_flow *flow_get(kd_engine *e, kd_conn *c)
{
    int cl = c->info.client >= 0 ? c->info.client : 0;
    const kf_addr *ca = &c->info.addr[cl], *sa = &c->info.addr[!cl];
    uint16_t sp = c->info.port[!cl];
    uint64_t h = kd_mix64(hash_bytes(hash_bytes(0xcbf29ce484222325ULL, ca->a, 16), sa->a, 16) ^ sp ^ ((uint64_t)c->info.ipproto << 16));
    if (!e->fhtcap) {
        e->fhtcap = 1024;
        e->fht = calloc(e->fhtcap, sizeof *e->fht);
        if (!e->fht) { e->fhtcap = 0; return NULL; }
    }
    for (kd_flow *f = e->fht[h & (e->fhtcap - 1)]; f; f = f->hnext)
        if (f->hash == h && f->ipproto == c->info.ipproto && f->sport == sp && kf_addr_eq(&f->ca, ca) && kf_addr_eq(&f->sa, sa))
            return f;
    kd_flow *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->hash = h; f->ipproto = c->info.ipproto; f->ca = *ca; f->sa = *sa; f->sport = sp;
    f->id = e->o.id_base + e->next_flow_id++ * (e->o.id_step ? e->o.id_step : 1);
    f->first_ts = f->rec_start = c->first_ts; f->first_ref = c->first_ref;
    f->node_idx = c->node_idx;
    f->hnext = e->fht[h & (e->fhtcap - 1)]; e->fht[h & (e->fhtcap - 1)] = f;
    e->nflows++; e->st.flows++;
    mem_add(e, sizeof *f);
    return f;
}

static void l7_list(kf_jw *w, const char *key, const kd_engine *e, uint32_t mask)
{
    kf_jw_key(w, key);
    kf_jw_arr_begin(w);
    for (size_t i = 0; i < e->ndis && i < 31; i++)
        if (mask >> i & 1) kf_jw_str(w, e->dis[i]->l7_name ? e->dis[i]->l7_name : e->dis[i]->protocol);
    kf_jw_arr_end(w);
}

/* local side without metadata: the client; with metadata, the side whose pod is on the node */
static int local_side(kd_engine *e, const kd_conn *c)
{
    int cl = c->info.client >= 0 ? c->info.client : 0;
    if (!e->o.meta) return cl;
    const char *node = node_name(e, c->node_idx);
    for (int i = 0; i < 2; i++) {
        kf_ipinfo ii;
        if (kf_meta_lookup(e->o.meta, &c->info.addr[i], c->first_ts, &ii)) {
            const char *pn = ii.pod ? ii.pod->node : ii.node ? ii.node->name : NULL;
            if (pn && strcmp(pn, node) == 0) return i;
        }
    }
    return cl;
}

static void emit_flow(kd_engine *e, kd_flow *f, const kd_conn *any)
{
    if (e->o.no_conn || !f->dirty || !any) return;
    /* a fake conn view carrying the flow's endpoints and node */
    kd_conn fc;
    memset(&fc, 0, sizeof fc);
    fc.e = e; fc.id = any->id; fc.flow = f; fc.node_idx = f->node_idx;
    fc.info = any->info;
    int cl = any->info.client >= 0 ? any->info.client : 0;
    fc.info.client = 0;
    fc.info.addr[0] = f->ca; fc.info.addr[1] = f->sa;
    fc.info.port[0] = any->info.port[cl]; fc.info.port[1] = f->sport;
    fc.first_ts = f->rec_start; fc.last_ts = f->last_ts;
    int tcp = any->info.transport == KD_TRANSPORT_TCP;
    int local = local_side(e, &fc);
    kf_jw *w = envelope(e, &fc, 0, f->rec_start, (f->last_ts - f->rec_start) / 1000, tcp ? "TCP" : any->info.transport == KD_TRANSPORT_UDP ? "UDP" : "IP",
                        "flow", tcp ? "tcp_flow" : any->info.transport == KD_TRANSPORT_UDP ? "udp_flow" : NULL, &f->first_ref, &f->last_ref);
    kf_jw_kbool(w, tcp ? "tcp" : "udp", 1);
    kf_jw_kstr(w, "flow_state", f->active ? "open" : "closed");
    double dur = (double)(f->last_ts - f->rec_start) / 1e9;
    if (dur < 1.0) dur = 1.0;
    const char *side[2] = { "local", "remote" };
    for (int s = 0; s < 2; s++) {
        int k = s == 0 ? local : !local;
        char key[32];
        snprintf(key, sizeof key, "flow_%s_pkts", side[s]); kf_jw_kuint(w, key, f->pkts[k]);
        snprintf(key, sizeof key, "flow_%s_bytes", side[s]); kf_jw_kuint(w, key, f->bytes[k]);
        snprintf(key, sizeof key, "flow_%s_pps", side[s]); kf_jw_kdouble(w, key, (double)f->pkts[k] / dur);
        snprintf(key, sizeof key, "flow_%s_bps", side[s]); kf_jw_kdouble(w, key, (double)f->bytes[k] * 8 / dur);
    }
    kf_jw_kuint(w, "flow_conns", f->nconns);
    l7_list(w, "flow_l7_detected", e, f->l7);
    finish_record(e, f->rec_start);
    e->st.flow_records++;
    f->dirty = 0;
    memset(f->pkts, 0, sizeof f->pkts); memset(f->bytes, 0, sizeof f->bytes);
    f->nconns = f->active;
    f->rec_start = f->last_ts;
}

static void emit_conn(kd_engine *e, kd_conn *c)
{
    if (e->o.no_conn || c->emitted) return;
    c->emitted = 1;
    int tcp = c->info.transport == KD_TRANSPORT_TCP, udp = c->info.transport == KD_TRANSPORT_UDP;
    if (!tcp && !udp) return;
    int cl = c->info.client >= 0 ? c->info.client : 0;
    kf_jw *w = envelope(e, c, cl, c->first_ts, (c->last_ts - c->first_ts) / 1000, tcp ? "TCP" : "UDP", "conn",
                        tcp ? "tcp_conn" : "udp_conn", &c->first_ref, &c->last_ref);
    kf_jw_kbool(w, tcp ? "tcp" : "udp", 1);
    const char *state;
    if (tcp) {
        if (c->rst[0] || c->rst[1] || (c->fin[0] && c->fin[1])) state = "closed";
        else if (c->syn[0] || c->syn[1] ? !c->hs_done : 0) state = "in_progress";
        else state = "open";
    } else state = e->finishing ? "open" : "closed";
    kf_jw_kstr(w, "conn_state", state);
    int local = local_side(e, c);
    kf_jw_kuint(w, "conn_local_pkts", c->dir[local].pkts);
    kf_jw_kuint(w, "conn_local_bytes", c->dir[local].bytes);
    kf_jw_kuint(w, "conn_remote_pkts", c->dir[!local].pkts);
    kf_jw_kuint(w, "conn_remote_bytes", c->dir[!local].bytes);
    l7_list(w, "conn_l7_detected", e, c->l7);
    if (tcp) {
        const char *et = NULL, *em = NULL;
        int srv = !cl;
        if (c->refused) { et = "refused"; em = "connection refused (SYN answered by RST)"; }
        else if (c->rst[0] || c->rst[1]) { et = "reset"; em = c->rst[srv] ? "reset by server" : "reset by client"; }
        else if ((c->syn[0] || c->syn[1]) && !c->synack) { et = "timeout"; em = "SYN not answered"; }
        else if ((c->fin[0] != c->fin[1])) { et = "half-open"; em = c->fin[cl] ? "client closed, server did not" : "server closed, client did not"; }
        if (et) { kf_jw_kstr(w, "tcp_error_type", et); kf_jw_kstr(w, "tcp_error_message", em); }
        kf_jw_key(w, "tcp_metrics");
        kf_jw_obj_begin(w);
        uint64_t rt = c->retrans + c->fast_retrans + c->spurious;
        kf_jw_kuint(w, "retransmissions", rt);
        kf_jw_kuint(w, "fast_retransmissions", c->fast_retrans);
        kf_jw_kdouble(w, "retransmission_rate", c->data_pkts ? (double)rt / (double)c->data_pkts : 0.0);
        kf_jw_kuint(w, "zero_window_events", c->zerowin);
        kf_jw_kuint(w, "window_full_events", c->winfull);
        kf_jw_kuint(w, "out_of_order", c->ooo);
        kf_jw_kuint(w, "dup_acks", c->dupacks);
        kf_jw_kuint(w, "missing_segments", c->lost);
        kf_jw_kuint(w, "rst_count", c->rst_count);
        kf_jw_kuint(w, "fin_count", c->fin_count);
        kf_jw_kuint(w, "keepalive_count", c->keepalive);
        kf_jw_kuint(w, "connection_completeness", c->completeness);
        if (c->syn_ts && c->hs_ack_ts) kf_jw_kint(w, "initial_rtt_us", (c->hs_ack_ts - c->syn_ts) / 1000);
        if (c->syn_ts && c->synack_ts) kf_jw_kint(w, "handshake_time_us", (c->synack_ts - c->syn_ts) / 1000);
        if (c->data_ts[cl] && c->data_ts[!cl] && c->data_ts[!cl] >= c->data_ts[cl])
            kf_jw_kint(w, "time_to_first_byte_us", (c->data_ts[!cl] - c->data_ts[cl]) / 1000);
        if (c->rtt_n) {
            kf_jw_kuint(w, "rtt_min_us", c->rtt_min / 1000);
            kf_jw_kuint(w, "rtt_avg_us", c->rtt_sum / c->rtt_n / 1000);
            kf_jw_kuint(w, "rtt_max_us", c->rtt_max / 1000);
            kf_jw_kuint(w, "jitter_us", c->rtt_n > 1 ? c->jit_sum / (c->rtt_n - 1) / 1000 : 0);
        }
        kf_jw_kuint(w, "goodput_bytes", c->goodput);
        kf_jw_obj_end(w);
    } else {
        kf_jw_kuint(w, "udp_length", c->dir[0].payload + c->dir[1].payload);
    }
    finish_record(e, c->first_ts);
    e->st.conn_records++;
}

/* ---- delivery of in-order bytes */

static int refs_push(kd_engine *e, kd_conn *c, kd_dir *d, uint64_t off)
{
    if (d->nref && d->refs[d->nref - 1].ref.frame == c->cur.frame && d->refs[d->nref - 1].ref.file == c->cur.file) return 0;
    if (d->nref == d->refcap) {
        size_t nc = d->refcap ? d->refcap * 2 : 8;
        kd_refent *nr = realloc(d->refs, nc * sizeof *nr);
        if (!nr) return -1;
        mem_add(e, (long)((nc - d->refcap) * sizeof *nr)); c->mem += (long)((nc - d->refcap) * sizeof *nr);
        d->refs = nr; d->refcap = nc;
    }
    d->refs[d->nref].off = off; d->refs[d->nref].ref = c->cur;
    d->nref++;
    return 0;
}
static void refs_prune(kd_dir *d, uint64_t upto)
{
    size_t k = 0;   /* keep the last entry at or before upto, and everything after */
    while (k + 1 < d->nref && d->refs[k + 1].off <= upto) k++;
    if (k) { memmove(d->refs, d->refs + k, (d->nref - k) * sizeof *d->refs); d->nref -= k; }
}
static int buf_append(kd_engine *e, kd_conn *c, kd_dir *d, const uint8_t *p, size_t n)
{
    if (d->blen + n > d->bcap) {
        size_t nc = d->bcap ? d->bcap : 1024;
        while (nc < d->blen + n) nc *= 2;
        uint8_t *nb = realloc(d->buf, nc);
        if (!nb) return -1;
        mem_add(e, (long)(nc - d->bcap)); c->mem += (long)(nc - d->bcap);
        d->buf = nb; d->bcap = nc;
    }
    memcpy(d->buf + d->blen, p, n);
    d->blen += n;
    return 0;
}
static void buf_consume(kd_dir *d, size_t k)
{
    if (k >= d->blen) { d->boff += d->blen; d->blen = 0; }
    else { memmove(d->buf, d->buf + k, d->blen - k); d->blen -= k; d->boff += k; }
    refs_prune(d, d->boff);
}
static void buf_release(kd_engine *e, kd_conn *c, kd_dir *d)
{
    if (d->bcap > 64 * 1024 && d->blen < 16 * 1024) {  /* give memory back after a big message */
        uint8_t *nb = realloc(d->buf, 16 * 1024);
        if (nb) { mem_add(e, -(long)(d->bcap - 16 * 1024)); c->mem -= (long)(d->bcap - 16 * 1024); d->buf = nb; d->bcap = 16 * 1024; }
    }
}

static void apply_upgrade(kd_engine *e, kd_conn *c);

/* Presents the direction's buffer (already holding all bytes) to the dissector. */
static void run_dissector(kd_engine *e, kd_conn *c, int dir, unsigned flags)
{
    kd_dir *d = &c->dir[dir];
    for (int rounds = 0; rounds < 4; rounds++) {
        if (!c->d || c->l7_state != 1) return;
        if (!d->blen && !(flags & KD_DATA_EOF)) return;
        unsigned fl = flags | (d->after_gap ? KD_DATA_AFTER_GAP : 0);
        static const uint8_t none[1];   /* never hand a dissector a NULL pointer */
        size_t k = c->d->on_data ? c->d->on_data(c, c->st, dir, d->buf ? d->buf : none, d->blen, d->boff, fl) : d->blen;
        if (k > d->blen) k = d->blen;
        if (k) d->after_gap = 0;
        buf_consume(d, k);
        if (c->up_d) { apply_upgrade(e, c); continue; }  /* the new one sees what is left */
        if (d->blen >= KD_BUF_MAX) {
            e->st.buffer_overflows++;
            uint64_t off = d->boff, len = d->blen;
            buf_consume(d, d->blen);
            if (c->d->on_gap) c->d->on_gap(c, c->st, dir, off, len);
            d->after_gap = 1;
        }
        buf_release(e, c, d);
        return;
    }
}

static void apply_upgrade(kd_engine *e, kd_conn *c)
{
    if (c->d && c->d->destroy) c->d->destroy(c, c->st);
    if (c->d) kd_conn_mem(c, -(long)c->d->state_size);
    free(c->st);
    c->d = c->up_d; c->st = c->up_st;
    c->up_d = NULL; c->up_st = NULL;
    for (int dir = 0; dir < 2; dir++)
        if (c->dir[dir].blen) run_dissector(e, c, dir, 0);
}

static void activate(kd_engine *e, kd_conn *c, const kd_dissector *d, int idx)
{
    c->d = d;
    c->st = calloc(1, d->state_size ? d->state_size : 1);
    if (!c->st) { c->l7_state = 2; c->d = NULL; return; }
    kd_conn_mem(c, (long)d->state_size);
    c->l7_state = 1;
    if (idx >= 0 && idx < 31) c->l7 |= 1u << idx;
    if (c->flow && idx >= 0 && idx < 31) c->flow->l7 |= 1u << idx;
    if (d->init) d->init(c, c->st);
}

/* Tries the dissectors on dir's bytes (p, n). Returns 1 when one was chosen. */
static int probe(kd_engine *e, kd_conn *c, int dir, const uint8_t *p, size_t n, int final)
{
    int more = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < e->ndis; i++) {
            const kd_dissector *d = e->dis[i];
            if (!(e->o.enabled >> i & 1) || d->upgrade_only || !d->probe || !(d->transports & c->info.transport)) continue;
            int hinted = 0;
            for (const uint16_t *pp = d->ports; pp && *pp; pp++)
                if (*pp == c->info.port[0] || *pp == c->info.port[1]) hinted = 1;
            if (hinted != (pass == 0)) continue;
            int r = d->probe(&c->info, dir, p, n);
            /* an earlier (stricter or port-hinted) dissector still needs bytes: wait for it */
            if ((r == KD_PROBE_CLIENT || r == KD_PROBE_SERVER) && more && !final) return 0;
            if (r == KD_PROBE_CLIENT || r == KD_PROBE_SERVER) {
                if (c->info.client < 0 || c->info.transport != KD_TRANSPORT_TCP || !(c->syn[0] || c->syn[1]))
                    c->info.client = r == KD_PROBE_CLIENT ? dir : !dir;
                activate(e, c, d, (int)i);
                return 1;
            }
            if (r == KD_PROBE_MORE) more = 1;
        }
    }
    if (!more || final) c->dir[dir].probe_no = 1;
    return 0;
}

/* In-order TCP bytes [off, off+n) of dir, from the current packet. */
static void tcp_deliver(kd_engine *e, kd_conn *c, int dir, const uint8_t *p, size_t n, uint64_t off)
{
    kd_dir *d = &c->dir[dir];
    c->goodput += n;
    if (c->l7_state == 2) { d->boff = off + n; return; }
    if (d->blen == 0) d->boff = off;
    if (d->blen && d->boff + d->blen != off) {
        /* bytes were dropped while the other direction was still being probed: a gap */
        uint64_t from = d->boff + d->blen;
        if (c->l7_state == 1) run_dissector(e, c, dir, KD_DATA_GAP_NEXT);
        buf_consume(d, d->blen);
        if (c->l7_state == 1 && c->d && c->d->on_gap && off > from) c->d->on_gap(c, c->st, dir, from, off - from);
        d->boff = off;
        d->after_gap = 1;
    }
    if (c->l7_state == 0) {
        if (d->probe_no) { if (!d->blen) d->boff = off + n; d->after_gap = 1; return; }
        size_t take = n;
        if (d->blen + take > KD_PROBE_MAX) take = KD_PROBE_MAX > d->blen ? KD_PROBE_MAX - d->blen : 0;
        refs_push(e, c, d, off);
        buf_append(e, c, d, p, take);
        if (!probe(e, c, dir, d->buf, d->blen, d->blen >= KD_PROBE_MAX)) {
            /* neither side looks like anything we know: stop; else keep these bytes, the
             * other direction may still name the protocol */
            if (d->probe_no && c->dir[!dir].probe_no) {
                c->l7_state = 2;
                for (int k = 0; k < 2; k++) buf_consume(&c->dir[k], c->dir[k].blen);
            }
            return;
        }
        /* chosen: the probe buffer holds dir's bytes (maybe cut at the probe limit) */
        if (take < n) {
            /* rare: the rest of this segment */
            buf_append(e, c, d, p + take, n - take);
        }
        run_dissector(e, c, dir, 0);
        if (c->dir[!dir].blen) run_dissector(e, c, !dir, 0);
        return;
    }
    refs_push(e, c, d, off);
    if (d->blen == 0 && c->d->on_data && !c->up_d) {
        /* zero-copy: present the payload directly; keep only what is not consumed */
        unsigned fl = d->after_gap ? KD_DATA_AFTER_GAP : 0;
        size_t k = c->d->on_data(c, c->st, dir, p, n, off, fl);
        if (k > n) k = n;
        if (k) d->after_gap = 0;
        d->boff = off + k;
        refs_prune(d, d->boff);
        if (k < n) buf_append(e, c, d, p + k, n - k);
        if (c->up_d) apply_upgrade(e, c);
        else if (d->blen >= KD_BUF_MAX) run_dissector(e, c, dir, 0);
        return;
    }
    buf_append(e, c, d, p, n);
    run_dissector(e, c, dir, 0);
}

static void tcp_gap(kd_engine *e, kd_conn *c, int dir, uint64_t upto)
{
    kd_dir *d = &c->dir[dir];
    if (upto <= d->next) return;
    uint64_t len = upto - d->next;
    e->st.gaps++; e->st.gap_bytes += len;
    if (d->blen && c->l7_state == 1) run_dissector(e, c, dir, KD_DATA_GAP_NEXT);
    if (d->blen) buf_consume(d, d->blen);
    if (c->l7_state == 1 && c->d && c->d->on_gap) c->d->on_gap(c, c->st, dir, d->next, len);
    d->next = upto;
    d->boff = upto;
    d->after_gap = 1;
    d->nref = 0;
}

/* Delivers queued out-of-order segments that became in order. */
static void ooo_drain(kd_engine *e, kd_conn *c, int dir)
{
    kd_dir *d = &c->dir[dir];
    while (d->ooo && d->ooo->off <= d->next) {
        kd_seg *s = d->ooo;
        d->ooo = s->next;
        d->ooo_bytes -= s->len;
        mem_add(e, -(long)(sizeof *s + s->len)); c->mem -= (long)(sizeof *s + s->len);
        if (s->off + s->len > d->next) {
            size_t skip = (size_t)(d->next - s->off);
            kd_pref save = c->cur;
            c->cur = s->ref;
            uint64_t o = d->next;
            d->next += s->len - skip;
            tcp_deliver(e, c, dir, s->data + skip, s->len - skip, o);
            c->cur = save;
        }
        free(s);
    }
}
static void ooo_insert(kd_engine *e, kd_conn *c, int dir, const uint8_t *p, uint32_t n, uint64_t off)
{
    kd_dir *d = &c->dir[dir];
    kd_seg **pp = &d->ooo;
    while (*pp && (*pp)->off < off) pp = &(*pp)->next;
    if (*pp && (*pp)->off == off && (*pp)->len >= n) return;   /* same data again */
    kd_seg *s = malloc(sizeof *s + n);
    if (!s) { e->st.ooo_dropped_bytes += n; return; }
    s->off = off; s->len = n; s->ref = c->cur;
    memcpy(s->data, p, n);
    s->next = *pp; *pp = s;
    d->ooo_bytes += n;
    mem_add(e, (long)(sizeof *s + n)); c->mem += (long)(sizeof *s + n);
    while (d->ooo_bytes > KD_OOO_MAX && d->ooo) {   /* too much held: skip the hole */
        tcp_gap(e, c, dir, d->ooo->off);
        ooo_drain(e, c, dir);
    }
}

/* Ends a direction: skips holes up to what we have, then EOF to the dissector. */
static void dir_end(kd_engine *e, kd_conn *c, int dir)
{
    kd_dir *d = &c->dir[dir];
    while (d->ooo) { tcp_gap(e, c, dir, d->ooo->off); ooo_drain(e, c, dir); }
    if (d->eof_sent) return;
    d->eof_sent = 1;
    if (c->l7_state == 0 && c->info.transport == KD_TRANSPORT_TCP) {
        /* last chance: probers that wanted more bytes decide on what there is */
        for (int k = 0; k < 2 && c->l7_state == 0; k++) {
            int dd = k == 0 ? dir : !dir;
            if (c->dir[dd].blen && probe(e, c, dd, c->dir[dd].buf, c->dir[dd].blen, 1)) {
                run_dissector(e, c, dd, 0);
                if (c->dir[!dd].blen) run_dissector(e, c, !dd, 0);
            }
        }
    }
    if (c->l7_state == 1 && c->d) {
        if (c->info.transport == KD_TRANSPORT_TCP) run_dissector(e, c, dir, KD_DATA_EOF);
    }
}

static void conn_free(kd_engine *e, kd_conn *c)
{
    if (c->tprev) c->tprev->tnext = c->tnext; else if (e->thead == c) e->thead = c->tnext;
    if (c->tnext) c->tnext->tprev = c->tprev; else if (e->ttail == c) e->ttail = c->tprev;
    for (int i = 0; i < 2; i++) {
        kd_dir *d = &c->dir[i];
        for (kd_seg *s = d->ooo, *n; s; s = n) { n = s->next; free(s); }
        free(d->buf); free(d->refs);
    }
    if (c->up_st) { if (c->up_d && c->up_d->destroy) c->up_d->destroy(c, c->up_st); free(c->up_st); }
    if (c->st) { if (c->d && c->d->destroy) c->d->destroy(c, c->st); free(c->st); }
    mem_add(e, -c->mem - (long)sizeof *c);
    free(c);
}

static void conn_close(kd_engine *e, kd_conn *c)
{
    th_remove(e, c);
    /* unlink from the table */
    kd_conn **pp = &e->ht[conn_bucket(e, c->hash)];
    while (*pp && *pp != c) pp = &(*pp)->hnext;
    if (*pp) *pp = c->hnext;
    lru_unlink(e, c);
    e->nconns--;
    for (int dir = 0; dir < 2; dir++) dir_end(e, c, dir);
    if (c->l7_state == 1 && c->d && c->d->on_close) c->d->on_close(c, c->st);
    c->pending_ts = INT64_MAX;
    emit_conn(e, c);
    if (c->flow) {
        kd_flow *f = c->flow;
        if (f->active) f->active--;
        if (!f->active) emit_flow(e, f, c);
    }
    conn_free(e, c);
}

static kd_conn *conn_new(kd_engine *e, const kf_l4 *l4, uint8_t transport, uint64_t h)
{
    if (e->nconns + 1 > e->htcap / 2 * 1 + e->htcap / 4 && ht_grow(e) != 0) return NULL;
    if (!e->htcap && ht_grow(e) != 0) return NULL;
    kd_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    mem_add(e, sizeof *c);
    c->e = e;
    c->hash = h;
    c->info.transport = transport;
    c->info.ipproto = l4->proto;
    c->info.addr[0] = l4->src; c->info.addr[1] = l4->dst;
    c->info.port[0] = l4->sport; c->info.port[1] = l4->dport;
    c->info.client = -1;
    c->info.opts = &e->o.d;
    c->id = e->o.id_base + e->next_conn_id++ * (e->o.id_step ? e->o.id_step : 1);
    c->pending_ts = INT64_MAX;
    c->timer_idx = -1;
    c->dir[0].wscale = c->dir[1].wscale = -1;
    c->hnext = e->ht[conn_bucket(e, h)];
    e->ht[conn_bucket(e, h)] = c;
    e->nconns++;
    if (transport == KD_TRANSPORT_TCP) e->st.tcp_conns++;
    else if (transport == KD_TRANSPORT_UDP) e->st.udp_conns++;
    else e->st.other_conns++;
    lru_append(e, c, transport == KD_TRANSPORT_TCP ? LRU_TCP : LRU_UDP);
    return c;
}

/* ------------------------------------------------------------------ TCP */

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)

/* Wireshark's tcp.analysis flags for one segment (packet-tcp.c tcp_analyze_sequence_number,
 * reimplemented from its documented behaviour). */
static void tcp_analyze(kd_engine *e, kd_conn *c, int dir, const kf_tcpinfo *t, uint32_t seglen, int64_t ts)
{
    kd_dir *f = &c->dir[dir], *r = &c->dir[!dir];
    uint8_t fl = t->flags;
    int sfr = fl & (KF_TCP_SYN | KF_TCP_FIN | KF_TCP_RST);
    int keepalive = 0, dupack = 0;
    uint32_t win = t->win;
    if (!(fl & KF_TCP_SYN) && f->wscale >= 0 && r->wscale >= 0) win = (uint32_t)t->win << f->wscale;
    if (fl & KF_TCP_SYN) {
        if (t->has_wscale) f->wscale = t->wscale > 14 ? 14 : t->wscale;
        else f->wscale = -2;
    }
    if (f->an_seen) {
        /* zero window probe */
        if (seglen == 1 && t->seq == f->nextseq && r->an_seen && r->win == 0) goto done;
        if (t->win == 0 && !sfr) c->zerowin++;
        if (f->nextseq && SEQ_GT(t->seq, f->nextseq) && !(fl & KF_TCP_RST)) c->lost++;
        if (seglen <= 1 && !(fl & (KF_TCP_SYN | KF_TCP_FIN | KF_TCP_RST)) && t->seq == f->nextseq - 1) {
            keepalive = 1; c->keepalive++; goto done;
        }
        /* window update */
        if (seglen == 0 && t->win && win != f->win && t->seq == f->nextseq && t->ack == f->lastack && !sfr) goto done;
        if (seglen > 0 && r->an_seen && !sfr && r->wscale != -1 &&
            t->seq + seglen == r->lastack + r->win) c->winfull++;
        /* keep-alive ack */
        if (seglen == 0 && win == f->win && t->seq == f->nextseq && t->ack == f->lastack && r->last_keepalive && !sfr) goto done;
        if (seglen == 0 && t->win && win == f->win && t->seq == f->nextseq && t->ack == f->lastack && !sfr) {
            dupack = 1; f->dupacks++; c->dupacks++;
        }
    }
done:
    if (!dupack) f->dupacks = 0;
    /* a segment with data (or SYN/FIN) that does not advance the sequence: fast retransmission,
     * out of order, spurious retransmission or retransmission, in that order of tests */
    if ((seglen > 0 || (fl & (KF_TCP_SYN | KF_TCP_FIN))) && !keepalive && f->an_seen) {
        int not_adv = f->nextseq && SEQ_LT(t->seq, f->nextseq);
        if (seglen > 1 && f->nextseq - 1 == t->seq) not_adv = 0;
        int64_t thres = c->syn_ts && c->hs_ack_ts ? c->hs_ack_ts - c->syn_ts : 3000000;
        if (thres <= 0) thres = 3000000;
        if (not_adv && r->dupacks >= 2 && r->lastack == t->seq && ts - r->lastack_ts < 20000000) c->fast_retrans++;
        else if (not_adv && ts - f->nextseq_ts < thres &&
                 f->nextseq != t->seq + seglen + ((fl & (KF_TCP_SYN | KF_TCP_FIN)) ? 1 : 0)) c->ooo++;
        else if (seglen > 0 && r->an_seen && r->lastack && SEQ_LE(t->seq + seglen, r->lastack)) c->spurious++;
        else if (not_adv) c->retrans++;
    }
    {
        uint32_t nxt = t->seq + seglen + ((fl & (KF_TCP_SYN | KF_TCP_FIN)) ? 1 : 0);
        if (seglen > 0 && f->nunacked < KD_UNACKED && !keepalive) {
            f->unacked[f->nunacked].end = nxt; f->unacked[f->nunacked].ts = ts; f->nunacked++;
        }
        if (!f->an_seen || SEQ_GT(nxt, f->nextseq) || !f->nextseq) { f->nextseq = nxt; f->nextseq_ts = ts; }
        if (!f->an_seen || t->seq == f->maxseqtobeacked || !f->maxseqtobeacked) f->maxseqtobeacked = f->nextseq;
    }
    if (seglen > 0) c->data_pkts++;
    /* ACK: RTT from the newest segment it acknowledges */
    if (fl & KF_TCP_ACK) {
        int k = 0, hit = -1;
        while (k < r->nunacked && SEQ_LE(r->unacked[k].end, t->ack)) { hit = k; k++; }
        if (hit >= 0) {
            uint64_t rtt = (uint64_t)(ts - r->unacked[hit].ts);
            if (!c->rtt_n || rtt < c->rtt_min) c->rtt_min = rtt;
            if (rtt > c->rtt_max) c->rtt_max = rtt;
            if (c->rtt_n) c->jit_sum += rtt > c->rtt_last ? rtt - c->rtt_last : c->rtt_last - rtt;
            c->rtt_sum += rtt; c->rtt_n++; c->rtt_last = rtt;
            memmove(r->unacked, r->unacked + k, (size_t)(r->nunacked - k) * sizeof r->unacked[0]);
            r->nunacked -= k;
        }
        f->lastack = t->ack; f->lastack_ts = ts;
    }
    f->last_keepalive = keepalive;
    f->win = win;
    f->an_seen = 1;
}

static void tcp_packet(kd_engine *e, kd_conn *c, int dir, const kf_l4 *l4, int64_t ts)
{
    const kf_tcpinfo *t = &l4->tcp;
    kd_dir *d = &c->dir[dir];
    uint8_t fl = t->flags;
    uint32_t seglen = l4->wire_paylen;   /* on the wire (analysis); captured bytes: l4->paylen */
    tcp_analyze(e, c, dir, t, seglen, ts);
    if (fl & KF_TCP_SYN) {
        if (!(fl & KF_TCP_ACK)) {
            if (!c->syn[dir]) { c->syn_ts = c->syn_ts ? c->syn_ts : ts; }
            c->syn[dir] = 1; c->completeness |= 1;
            if (c->info.client < 0) c->info.client = dir;
            if (!c->dir[0].pkts && !c->dir[1].pkts) c->info.client = dir;
        } else {
            c->synack = 1; c->completeness |= 2;
            if (!c->synack_ts) c->synack_ts = ts;
            c->info.client = !dir;
        }
        d->have_base = 1; d->base = t->seq + 1; d->next = 0; d->boff = 0;
    } else if (!d->have_base) {
        d->have_base = 1; d->base = t->seq; d->next = 0; d->boff = 0;
    }
    if ((fl & KF_TCP_ACK) && !(fl & KF_TCP_SYN) && c->synack && !c->hs_done && dir == c->info.client) {
        c->hs_done = 1; c->hs_ack_ts = ts; c->completeness |= 4;
    }
    if (fl & KF_TCP_RST) {
        c->rst[dir] = 1; c->rst_count++; c->completeness |= 32;
        if (c->syn[!dir] && !c->synack && !c->dir[dir].payload) c->refused = 1;
    }
    if (fl & KF_TCP_FIN) { c->fin_count++; c->completeness |= 16; }
    /* the peer acknowledged bytes of ours we never saw: lost in the capture */
    if ((fl & KF_TCP_ACK) && c->dir[!dir].have_base && !c->dir[!dir].ended) {
        kd_dir *o = &c->dir[!dir];
        int64_t ad = (int32_t)(t->ack - (o->base + (uint32_t)o->next));
        if (ad > 0 && ad < (1 << 30)) {
            uint64_t upto = o->next + (uint64_t)ad;
            if (o->ooo && o->ooo->off < upto) upto = o->ooo->off;
            if (o->fin_seen && upto > o->fin_off) upto = o->fin_off;
            tcp_gap(e, c, !dir, upto);
            ooo_drain(e, c, !dir);
        }
    }
    /* payload into the stream */
    uint32_t n = l4->paylen;
    if (n && (fl & KF_TCP_SYN) && !(fl & KF_TCP_ACK)) n = 0;   /* data on SYN: ignore (TFO) */
    int64_t delta = (int32_t)(t->seq + ((fl & KF_TCP_SYN) ? 1 : 0) - (d->base + (uint32_t)d->next));
    int64_t off = (int64_t)d->next + delta;
    if (n) {
        c->completeness |= 8;
        if (!c->data_ts[dir]) c->data_ts[dir] = ts;
        d->payload += n;
        const uint8_t *p = l4->payload;
        if (off < 0) { if ((int64_t)n + off <= 0) n = 0; else { p -= off; n = (uint32_t)((int64_t)n + off); off = 0; } }
        if (n && (uint64_t)off + n > d->next && !d->ended) {
            if ((uint64_t)off <= d->next) {
                size_t skip = (size_t)(d->next - (uint64_t)off);
                uint64_t o = d->next;
                d->next += n - skip;
                tcp_deliver(e, c, dir, p + skip, n - skip, o);
                ooo_drain(e, c, dir);
            } else {
                ooo_insert(e, c, dir, p, n, (uint64_t)off);
            }
        }
        if (l4->wire_paylen > l4->paylen && !d->ended) {
            /* bytes not captured (snaplen): a gap right away */
            uint64_t end = (uint64_t)(off < 0 ? 0 : off) + l4->wire_paylen;
            if (end > d->next && !d->ooo) tcp_gap(e, c, dir, end);
        }
    }
    if (fl & KF_TCP_FIN) {
        uint64_t fo = (uint64_t)(off < 0 ? 0 : off) + l4->wire_paylen;
        if (!d->fin_seen) { d->fin_seen = 1; d->fin_off = fo; }
        c->fin[dir] = 1;
    }
    if (d->fin_seen && !d->ended && d->next >= d->fin_off) { d->ended = 1; dir_end(e, c, dir); }
    if (fl & KF_TCP_RST) {
        for (int k = 0; k < 2; k++) if (!c->dir[k].ended) { c->dir[k].ended = 1; dir_end(e, c, k); }
    }
    if ((c->rst[0] || c->rst[1] || (c->fin[0] && c->fin[1])) && c->lru != LRU_CLOSED) {
        lru_unlink(e, c); lru_append(e, c, LRU_CLOSED);
    }
}

/* ------------------------------------------------------------------ packets */

/* A copy of one packet seen on another interface of the same node: same IP datagram (TTL and
 * checksum aside), same first bytes of L4, within dup_window. */
static int is_duplicate(kd_engine *e, const kf_l4 *l4, int64_t ts, uint32_t iface, uint32_t node)
{
    if (!e->dup || !l4->l3 || e->o.dup_window_ns <= 0) return 0;
    const uint8_t *p = l4->l3;
    size_t n = l4->l3len;
    size_t hl = l4->ipver == 4 ? (size_t)(p[0] & 15) * 4 : 40;
    size_t take = hl + 20 + 64 < n ? hl + 20 + 64 : n;
    uint64_t h = 0xcbf29ce484222325ULL;
    if (l4->ipver == 4 && take >= 20) {
        h = hash_words(h, p, 8);           /* version … fragment */
        h = hash_words(h, p + 9, 1);       /* protocol (skip TTL) */
        h = hash_words(h, p + 12, take - 12);
    } else if (take >= 8) {
        h = hash_words(h, p, 7);           /* skip hop limit */
        h = hash_words(h, p + 8, take - 8);
    } else return 0;
    h = kd_mix64(h ^ n ^ (uint64_t)node << 48);
    struct dupent *de = &e->dup[h & e->dupmask];
    /* copies on different interfaces may come out of the file slightly out of time order */
    int64_t dt = ts >= de->ts ? ts - de->ts : de->ts - ts;
    if (de->h == h && de->node == node && de->iface != iface && dt <= e->o.dup_window_ns) return 1;
    de->h = h; de->ts = ts; de->iface = iface; de->node = node;
    return 0;
}

static void sweep(kd_engine *e, int64_t now)
{
    static const int lists[LRU_N] = { LRU_TCP, LRU_CLOSED, LRU_UDP };
    for (int li = 0; li < LRU_N; li++) {
        int l = lists[li];
        int64_t idle = l == LRU_TCP ? e->o.tcp_idle_ns : l == LRU_CLOSED ? e->o.closed_linger_ns : e->o.udp_idle_ns;
        while (e->lru_head[l] && e->lru_head[l]->last_ts + idle < now) conn_close(e, e->lru_head[l]);
    }
    while (e->thn && e->th[0]->timer_ts <= now) {
        kd_conn *c = e->th[0];
        th_remove(e, c);
        c->timer_ts = 0;
        if (c->l7_state == 1 && c->d && c->d->on_timer) c->d->on_timer(c, c->st, now);
    }
    /* memory: evict the least recently used connections */
    while (e->mem - e->heap_bytes > e->o.max_memory * 2 / 3 && e->nconns > 1) {
        kd_conn *v = e->lru_head[LRU_CLOSED] ? e->lru_head[LRU_CLOSED] : e->lru_head[LRU_UDP] ? e->lru_head[LRU_UDP] : e->lru_head[LRU_TCP];
        if (!v) break;
        e->st.evicted_conns++;
        conn_close(e, v);
    }
}

static void flows_interval(kd_engine *e, int64_t now, int all);

static void packet_l4(kd_engine *e, int64_t ts, int rc, kf_l4 *l4, uint32_t origlen, uint32_t iface,
                      const char *file, const char *node, uint64_t frame);

/* Housekeeping by the capture's packet count (every packet, whoever dissects it, so that -j
 * shards do it at the same packets as one engine): expiry and timers every 256 packets,
 * flow intervals and the release of waiting records every 16384. */
static void cadence(kd_engine *e, int64_t ts)
{
    if (e->seen % 16384 == 0) {
        sweep(e, ts);
        if (!e->o.no_conn) flows_interval(e, ts, 0);
        flush_ready(e, 0);
    } else if (e->seen % 256 == 0) {
        sweep(e, ts);
    }
}

void kd_engine_packet(kd_engine *e, int64_t ts, int linktype, const uint8_t *data, uint32_t caplen,
                      uint32_t origlen, uint32_t iface, const char *file, const char *node, uint64_t frame)
{
    kf_l4 l4;
    int rc = kf_decode(e->dec, linktype, data, caplen, ts, &l4);
    kd_engine_packet_l4(e, ts, rc, &l4, origlen, iface, file, node, frame);
}

void kd_engine_packet_l4(kd_engine *e, int64_t ts, int rc, kf_l4 *l4, uint32_t origlen, uint32_t iface,
                         const char *file, const char *node, uint64_t frame)
{
    e->seen++;
    if (ts > e->now) e->now = ts;
    packet_l4(e, ts, rc, l4, origlen, iface, file, node, frame);
    cadence(e, ts);
}

void kd_engine_pass(kd_engine *e, int64_t ts, uint64_t seq)
{
    e->seen = seq;
    if (ts > e->now) e->now = ts;
    cadence(e, ts);
}

void kd_engine_seq(kd_engine *e, uint64_t seq) { e->seen = seq; }

/* The frame decoded (rc, *l4: kf_decode's; *l4 may be changed). */
static void packet_l4(kd_engine *e, int64_t ts, int rc, kf_l4 *l4, uint32_t origlen, uint32_t iface,
                      const char *file, const char *node, uint64_t frame)
{
    e->st.packets++;
    e->st.bytes += origlen;
    if (rc == KF_DEC_NOT_IP) { e->st.non_ip++; return; }
    if (rc == KF_DEC_HELD) { e->st.held_fragments++; return; }
    if (rc == KF_DEC_BAD || (rc == KF_DEC_TRUNC && !l4->ipver)) { e->st.decode_errors++; return; }
    if (rc == KF_DEC_TRUNC && (l4->proto == 6 || l4->proto == 17) && !l4->sport && !l4->dport) { e->st.decode_errors++; return; }
    uint32_t fidx = intern(&e->files, &e->nfiles, &e->capfiles, file, &e->last_file, &e->last_file_idx);
    uint32_t nidx = intern(&e->nodes, &e->nnodes, &e->capnodes, node, &e->last_node, &e->last_node_idx);
    if (is_duplicate(e, l4, ts, iface, nidx)) { e->st.duplicates++; return; }
    uint8_t transport = l4->proto == 6 ? KD_TRANSPORT_TCP : l4->proto == 17 ? KD_TRANSPORT_UDP : KD_TRANSPORT_OTHER;
    if (transport == KD_TRANSPORT_OTHER) {
        /* ICMP etc: one conn per address pair (ports 0) */
        l4->sport = l4->dport = 0;
    }
    if (rc == KF_DEC_TRUNC && transport == KD_TRANSPORT_TCP && !l4->tcp.hdrlen) { e->st.decode_errors++; return; }
    uint64_t h = key_hash(l4->proto, &l4->src, l4->sport, &l4->dst, l4->dport);
    kd_conn *c = NULL;
    int dir = 0;
    if (e->htcap)
        for (c = e->ht[conn_bucket(e, h)]; c; c = c->hnext)
            if (c->hash == h && conn_match(c, l4->proto, &l4->src, l4->sport, &l4->dst, l4->dport, &dir)) break;
    /* a new SYN on a closed connection's tuple starts a new connection */
    if (c && transport == KD_TRANSPORT_TCP && (l4->tcp.flags & (KF_TCP_SYN | KF_TCP_ACK)) == KF_TCP_SYN &&
        c->lru == LRU_CLOSED) {
        conn_close(e, c); c = NULL;
    }
    kd_pref cur = { ts, frame, fidx };
    if (!c) {
        c = conn_new(e, l4, transport, h);
        if (!c) { e->st.evicted_conns++; return; }
        dir = 0;
        c->first_ts = ts; c->first_ref = cur; c->node_idx = nidx;
        /* into the first_ts list: at the tail unless the input went back in time */
        kd_conn *t = e->ttail;
        while (t && t->first_ts > ts) t = t->tprev;
        c->tprev = t;
        c->tnext = t ? t->tnext : e->thead;
        if (c->tnext) c->tnext->tprev = c; else e->ttail = c;
        if (t) t->tnext = c; else e->thead = c;
        if (transport == KD_TRANSPORT_TCP && (l4->tcp.flags & (KF_TCP_SYN | KF_TCP_ACK)) == (KF_TCP_SYN | KF_TCP_ACK))
            c->info.client = 1;
    } else {
        lru_unlink(e, c); lru_append(e, c, c->lru);
    }
    c->cur = cur;
    c->last_ts = ts; c->last_ref = cur;
    kd_dir *d = &c->dir[dir];
    d->pkts++;
    d->bytes += origlen;
    if (transport == KD_TRANSPORT_TCP) tcp_packet(e, c, dir, l4, ts);
    else if (transport == KD_TRANSPORT_UDP) {
        d->payload += l4->paylen;
        if (c->l7_state == 0 && c->udp_probes < 8 && l4->paylen) {
            c->udp_probes++;
            if (!probe(e, c, dir, l4->payload, l4->paylen, 1) && c->udp_probes >= 8) c->l7_state = 2;
        }
        if (c->l7_state == 1 && c->d && c->d->on_datagram) c->d->on_datagram(c, c->st, dir, l4->payload, l4->paylen, &c->cur);
    } else {
        if (c->l7_state == 0) {
            for (size_t i = 0; i < e->ndis; i++)
                if ((e->o.enabled >> i & 1) && (e->dis[i]->transports & KD_TRANSPORT_OTHER) && e->dis[i]->on_packet) {
                    activate(e, c, e->dis[i], (int)i); break;
                }
            if (c->l7_state == 0) c->l7_state = 2;
        }
        if (c->l7_state == 1 && c->d->on_packet) c->d->on_packet(c, c->st, dir, l4, &c->cur);
    }
    /* flows */
    if (!e->o.no_conn) {
        if (!c->flow && (c->info.client >= 0 || transport != KD_TRANSPORT_TCP || d->pkts + c->dir[!dir].pkts > 2 || l4->paylen)) {
            c->flow = flow_get(e, c);
            if (c->flow) { c->flow->nconns++; c->flow->active++; c->flow->l7 |= c->l7;
                           /* count this conn's packets so far */
                           int cl = c->info.client >= 0 ? c->info.client : 0;
                           for (int k = 0; k < 2; k++) { c->flow->pkts[k == cl ? 0 : 1] += c->dir[k].pkts; c->flow->bytes[k == cl ? 0 : 1] += c->dir[k].bytes; }
                           c->flow->dirty = 1; c->flow->last_ts = ts; c->flow->last_ref = cur;
                           if (!c->flow->first_ref.frame) c->flow->first_ref = cur; }
        } else if (c->flow) {
            int cl = c->info.client >= 0 ? c->info.client : 0;
            kd_flow *f = c->flow;
            f->pkts[dir == cl ? 0 : 1]++; f->bytes[dir == cl ? 0 : 1] += origlen;
            if (!f->dirty) { f->dirty = 1; f->rec_start = ts; f->first_ref = cur; }
            f->last_ts = ts; f->last_ref = cur;
            f->l7 |= c->l7;
        }
    }
}

static void flows_interval(kd_engine *e, int64_t now, int all)
{
    for (size_t i = 0; i < e->fhtcap; i++) {
        for (kd_flow **pp = &e->fht[i]; *pp;) {
            kd_flow *f = *pp;
            if (f->dirty && (all || now - f->rec_start >= e->o.flow_interval_ns)) {
                /* find any connection of the flow to take the endpoints from */
                kd_conn any;
                memset(&any, 0, sizeof any);
                any.e = e; any.info.transport = f->ipproto == 6 ? KD_TRANSPORT_TCP : f->ipproto == 17 ? KD_TRANSPORT_UDP : KD_TRANSPORT_OTHER;
                any.info.ipproto = f->ipproto; any.info.client = 0;
                any.info.addr[0] = f->ca; any.info.addr[1] = f->sa; any.info.port[0] = 0; any.info.port[1] = f->sport;
                any.id = 0; any.node_idx = f->node_idx;
                emit_flow(e, f, &any);
            }
            if (!f->active && !f->dirty && (all || now - f->last_ts > e->o.udp_idle_ns)) {
                *pp = f->hnext; free(f); e->nflows--; mem_add(e, -(long)sizeof *f);
                continue;
            }
            pp = &f->hnext;
        }
    }
}

/* ------------------------------------------------------------------ lifecycle */

kd_engine *kd_engine_new(const kd_engine_opts *o, kd_out_fn out, void *arg)
{
    kd_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->o = *o;
    e->out = out; e->out_arg = arg;
    e->cap = INT64_MAX;
    e->dec = kf_decoder_new();
    e->dis = kd_dissectors(&e->ndis);
    e->dupmask = (1u << 16) - 1;
    e->dup = calloc(e->dupmask + 1, sizeof *e->dup);
    kf_jw_init(&e->jw);
    kf_jw_init(&e->idw);
    uint64_t h = hash_bytes(0xcbf29ce484222325ULL, o->id_seed ? o->id_seed : "", o->id_seed ? strlen(o->id_seed) : 0);
    snprintf(e->idprefix, sizeof e->idprefix, "%016" PRIx64, kd_mix64(h));
    if (!e->dec || !e->dup || ht_grow(e) != 0) { kd_engine_free(e); return NULL; }
    return e;
}

int64_t kd_engine_watermark(const kd_engine *e)
{
    return e->watermark < e->now ? e->watermark : e->now;
}

int64_t kd_engine_natural(const kd_engine *e)
{
    return e->natural < e->now ? e->natural : e->now;
}

void kd_engine_cap(kd_engine *e, int64_t cap) { e->cap = cap; }

int kd_engine_release(kd_engine *e)
{
    flush_ready(e, e->finishing);
    return e->out_failed ? -1 : 0;
}

int64_t kd_engine_out_ts(const kd_engine *e) { return e->out_ts; }
const char *kd_engine_id_prefix(const kd_engine *e) { return e->idprefix; }

int kd_engine_finish(kd_engine *e)
{
    e->finishing = 1;
    /* close connections oldest first (by first packet, then creation) for stable output */
    while (e->thead) conn_close(e, e->thead);
    for (int l = 0; l < LRU_N; l++) while (e->lru_head[l]) conn_close(e, e->lru_head[l]);   /* none left */
    if (!e->o.no_conn) flows_interval(e, e->now, 1);
    flush_ready(e, 1);
    return e->out_failed ? -1 : 0;
}

void kd_engine_free(kd_engine *e)
{
    if (!e) return;
    for (int l = 0; l < LRU_N; l++)
        for (kd_conn *c = e->lru_head[l], *n; c; c = n) { n = c->lnext; conn_free(e, c); }
    for (size_t i = 0; i < e->fhtcap; i++)
        for (kd_flow *f = e->fht[i], *n; f; f = n) { n = f->hnext; free(f); }
    for (size_t i = 0; i < e->nhtcap; i++)
        for (kd_name *n = e->nht[i], *x; n; n = x) { x = n->hnext; free(n); }
    for (size_t i = 0; i < e->hn; i++) free(e->heap[i]);
    for (size_t i = 0; i < e->nruns; i++) { free(e->runs[i].head); fclose(e->runs[i].f); free(e->runs[i].buf); }
    free(e->runs);
    free(e->heap); free(e->ht); free(e->fht); free(e->nht); free(e->th); free(e->dup);
    free(e->files); free(e->nodes);
    kf_jw_free(&e->jw); kf_jw_free(&e->idw);
    if (e->dec) kf_decoder_free(e->dec);
    free(e);
}

const kd_engine_stats *kd_engine_get_stats(const kd_engine *e) { return &e->st; }
