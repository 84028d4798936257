/* engine_int.h — kdissect engine internals shared by its parts (not for dissectors: they see
 * dissector.h; nor for main.c: it sees engine.h):
 *   engine.c         the connection table and dispatch (packets, probing, dissector API, timers,
 *                    expiry, flows, lifecycle)
 *   engine_tcp.c     TCP reassembly and analysis (stream buffers, out-of-order queue, gaps)
 *   engine_record.c  record writing (envelope with Kubernetes context, conn and flow records)
 *   engine_order.c   reordering and spill (records wait in a heap, spill sorted runs to disk)
 *   engine_pend.c, engine_frame.c  the pending-call table and the framed mode: they use only
 *                    the dissector API (dissector.h), so the stand-in engine of the tests links them
 * Hand-written: no library does TCP reassembly with per-byte packet references for us. */
#ifndef KD_ENGINE_INT_H
#define KD_ENGINE_INT_H
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stddef.h>
#include <inttypes.h>
#include "engine.h"
#include "kf_json.h"
#include "kf_time.h"
#include "kf_sort.h"

#define KD_PROBE_MAX 4096u           /* bytes per direction kept while probing */
#define KD_BUF_MAX (256u * 1024u)    /* unconsumed bytes per direction */
#define KD_OOO_MAX (1024u * 1024u)   /* out-of-order bytes per direction */
#define KD_UNACKED 16                /* unacknowledged segments remembered per direction (RTT) */
#define KD_BUF_SHRINK_OVER (64u * 1024u)  /* a buffer this big, once nearly empty, shrinks … */
#define KD_BUF_KEEP (16u * 1024u)         /* … to this */
#define KD_UDP_PROBES 8              /* datagrams no dissector wanted before a UDP conn is left undissected */
#define KD_UDP_PROBES_MAX 256        /* datagrams probed in all, counting those some dissector answered
                                      * KD_PROBE_MORE (STUN before DTLS: "not mine yet, keep asking") */
#define KD_UPGRADE_ROUNDS 4          /* dissector hand-overs (upgrades) within one delivery */
#define KD_L7_BITS 31                /* dissectors a conn's/flow's l7 bitmask can name */
#define KD_CONN_BUCKETS_MIN 4096     /* connection table: first size (grows at 3/4 load) */
#define KD_FLOW_BUCKETS 1024         /* flow table: first size (grows at 3/4 load) */
#define KD_NAME_BUCKETS 1024         /* names learned from DNS: buckets, */
#define KD_NAMES_MAX 65536           /* entries, */
#define KD_NAME_LEN_MAX 255          /* and a name's length */
#define KD_DUP_SLOTS (1u << 16)      /* duplicate check: direct-mapped slots, */
#define KD_DUP_SLOTS_MIN 4096        /* at least, */
#define KD_DUP_RING 1024             /* duplicate check: entries written to the table in one batch */
#define KD_DUP_SHARE 16              /* and at most 1/16 of --max-memory */
#define KD_PCACHE 4                  /* records' protocol and flags: texts kept (engine_record.c) */
#define KD_POOLS 4                   /* recycled blocks (engine.c kde_blk_get): sizes, */
#define KD_POOL_MAX 64               /* blocks kept of each */
#define KD_SWEEP_EVERY 256           /* packets between expiry/timer sweeps */
#define KD_RELEASE_EVERY 16384       /* packets between flow intervals and record releases */
#define KD_HEAP_MIN 1024             /* first sizes of growing arrays: waiting records, */
#define KD_TIMERS_MIN 256            /* timers, */
#define KD_RUNS_MIN 8                /* spilled runs, */
#define KD_RUNS_MAX 64               /* spilled runs waiting at once: at this many, */
#define KD_RUNS_FANIN_DIV 4          /* the smallest quarter of them are merged into one (engine_order.c) */
#define KD_MERGE_BUF (256u << 10)    /* write buffer of that merge */
#define KD_REFS_MIN 2                /* packet references per direction (zero-copy delivery holds 1-2; 8 kept
                                      * 384 B more per lingering connection: 4 MB of api-one.pcap's peak), */
#define KD_BUF_MIN 1024              /* stream buffers, */
#define KD_NAMES_INTERN_MIN 16       /* interned file/node names (the hash table has twice as many slots) */
#define KD_RUN_RECORD_MAX (1u << 30) /* a spilled record longer than this is corrupt */
#define KD_SPILL_BUF_MAX (256u << 10) /* read block of a spilled run: max_memory / 384, at most this, */
#define KD_SPILL_BUF_DIV 384
#define KD_SPILL_BUF_MIN (16u << 10)  /* at least this (a longer record gets a block of its size) */
#define KD_SPILL_IOV 1024            /* records per writev when spilling (IOV_MAX) */
#define KD_OUT_RECS 512              /* records per delivery to the output (two pieces each), */
#define KD_OUT_BYTES (1u << 20)      /* … or this many bytes */
#define KD_REORDER_SHARE 3           /* waiting records may hold 1/3 of --max-memory … */
#define KD_CONN_SHARE_NUM 2          /* … connections 2/3 before the oldest are evicted */
#define KD_CONN_SHARE_DEN 3
#define KD_FNV_OFFSET 0xcbf29ce484222325ULL   /* FNV-1a */
#define KD_FNV_PRIME 0x100000001b3ULL
/* TCP analysis (Wireshark's defaults) */
#define KD_WSCALE_MAX 14             /* RFC 7323 */
#define KD_RTO_DEFAULT_NS 3000000    /* out-of-order threshold without a handshake RTT: 3 ms */
#define KD_FAST_RETRANS_NS 20000000  /* a fast retransmission follows the dup ACKs within 20 ms */
#define KD_ACK_AHEAD_MAX (1 << 30)   /* an ACK further ahead than this is not a capture loss */
/* tcp.completeness bits (Wireshark) */
enum { KD_CC_SYN = 1, KD_CC_SYNACK = 2, KD_CC_ACK = 4, KD_CC_DATA = 8, KD_CC_FIN = 16, KD_CC_RST = 32 };

/* ------------------------------------------------------------------ structures */

typedef struct kd_seg {
    struct kd_seg *next;
    uint64_t off;
    uint32_t len;
    kd_pref ref;
    uint8_t data[];
} kd_seg;

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
    kd_reflist refs;             /* packet references of the bytes in buf (dissector.h) */
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
    int8_t capture;              /* enum kf_capture of its first connection */
    kd_pref first_ref, last_ref;
    int dirty;
    uint64_t first_seq, last_seq;   /* packets (capture order) of first_ref / last_ref */
} kd_flow;

struct kd_conn {
    kd_conn_info info;
    kd_engine *e;
    struct kd_conn *hnext, *lprev, *lnext;
    size_t ft_idx;               /* its place in the engine's first_ts heap (ft) */
    uint64_t ft_ord;             /* … and its key's tie-break: the order connections were made */
    int lru;                     /* which list */
    uint64_t hash;
    uint32_t id;
    kd_flow *flow;
    int64_t first_ts, last_ts;
    kd_pref first_ref, last_ref, cur;
    uint32_t node_idx;
    int8_t capture;              /* enum kf_capture of its first packet (never unknown) */
    const kd_dissector *d;
    void *st;
    int l7_state;                /* 0 probing, 1 active, 2 none */
    int udp_probes;              /* UDP: datagrams probed, */
    int udp_probes_no;           /* … of which no dissector wanted more */
    int probe_more;              /* the last kde_probe that chose none: one asked for more bytes */
    uint32_t l7;                 /* detected, bitmask */
    const kd_dissector *up_d;    /* pending upgrade */
    void *up_st;
    int reprobe;                 /* kd_conn_upgrade(c, NULL, …): back to detection once the current
                                  * dissector returns (a CONNECT tunnel) */
    const kd_layer *layer;       /* entered layer (kd_conn_layer): serves its inner dissector */
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
    uint64_t first_seq, last_seq;    /* the capture's packet numbers of its first / last packet */
    int64_t max_rec_ts;              /* the latest timestamp of a record it made */
    int dq_idx;                      /* -j by connection: its place in the engine's dq, or -1 */
    struct kd_envc *envc;            /* its envelope's parts as written last (engine_record.c), or NULL */
};

/* A record waiting for its turn. Small ones live in chunks of KD_RCHUNK bytes (engine_order.c:
 * one malloc per record was 7 % of kdissect's time on bench/data/api-one.pcap, the records being
 * too big for glibc's per-thread cache); ch is their chunk, NULL for one of its own. */
struct kd_rchunk;
/* ts, seq, len and data follow each other without padding: that is also a record's form in a
 * spill file (KD_REC_HDR bytes, then the text), which is written straight from here (writev) */
typedef struct kd_rec { struct kd_rchunk *ch; int64_t ts; uint64_t seq; uint64_t len; char data[]; } kd_rec;
#define KD_REC_HDR (3 * sizeof(uint64_t))
_Static_assert(offsetof(kd_rec, data) == offsetof(kd_rec, ts) + KD_REC_HDR, "kd_rec: ts, seq, len, data contiguous");
/* what a waiting record counts against --max-memory (as before the chunks: header and text) */
#define KD_REC_BYTES(r) (KD_REC_HDR + (r)->len)
#define KD_RCHUNK (256u << 10)

typedef struct kd_name {
    struct kd_name *hnext;
    kf_addr ip;
    int64_t ts;
    uint64_t serial;             /* which name this is, never reused (the envelope cache) */
    char name[];
} kd_name;

/* A workload a kexport export names (NRB, "IP reused" comment): metadata of last resort */
typedef struct kd_wname {
    struct kd_wname *next;
    kf_addr ip;
    int64_t from;                /* holds ip from then on (KF_T_MIN: the NRB's name) */
    kf_workload w;               /* kind, name, namespace_ (pointing into buf) */
    char buf[];
} kd_wname;

enum { LRU_TCP, LRU_CLOSED, LRU_UDP, LRU_N };

/* Interned file and node names: an index per distinct name (by content; NULL is a name of its
 * own), found through an open-addressing hash table (a snapshot of 100 000 members gives 100 000
 * file names: the linear search this replaces took 26 s there, issue 21). */
struct kd_intern {
    const char **v; size_t n, cap;   /* names by index (the caller's strings, not copied) */
    uint32_t *slot; size_t nslot;    /* index + 1, 0 empty; nslot a power of two, at most half full */
    const char *last; uint32_t last_idx;
};

struct kd_engine {
    kd_engine_opts o;
    kd_out_fn out; void *out_arg; int out_failed;
    kd_outv_fn outv;             /* kd_engine_set_outv: output as pieces (engine_order.c) */
    struct kd_outq *oq;          /* records on their way to the output (engine_order.c) */
    int spill_err;               /* errno of the first failure writing or reading back a run */
    kf_decoder *dec;
    kd_engine_stats st;
    const kd_dissector *const *dis; size_t ndis;
    /* conns */
    kd_conn **ht; size_t htcap, nconns;
    kd_conn *lru_head[LRU_N], *lru_tail[LRU_N];
    /* live connections by (first_ts, ft_ord), an indexed min-heap: ft[0] is the oldest, the
     * watermark's. It was a list sorted on insert, walked back from the newest: when capture
     * time goes backwards (mergecap -a, a crafted capture) each new connection walked over
     * every live one, O(n^2) */
    kd_conn **ft; size_t ftn, ftcap; uint64_t ft_next;
    int pending_early;           /* a connection waits on a record older than its first packet */
    uint32_t next_conn_id, next_flow_id;
    kd_flow **fht; size_t fhtcap, nflows;
    /* timers: indexed min-heap of conns */
    kd_conn **th; size_t thn, thcap;
    /* dup table */
    struct dupent { uint64_t h; int64_t ts; uint32_t iface, node; } *dup;
    size_t dupmask;
    /* while every packet so far came from one interface of one node none can be a copy: their
     * entries wait in a ring and go to the table in batches (engine.c is_duplicate) */
    struct dupent *dring; size_t dringn;
    int dup_multi, dup_seen; uint32_t dup_iface, dup_node;
    /* freed blocks of a few sizes kept for the next of their size (engine.c kde_blk_get) */
    struct kd_pool { size_t size; void *head; unsigned n; } pool[KD_POOLS];
    /* names */
    struct kd_intern files, nodes;
    /* dns names */
    kd_name **nht; size_t nhtcap, nnames;
    kd_wname **wht; size_t nwnames;   /* KD_NAME_BUCKETS buckets when any */
    /* records */
    kf_tsseq *heap;              /* records waiting, each key beside its pointer (kf_sort.h): */
    size_t hn, hcap;             /* sifting reads no record (a cache miss each, 7 % of the time) */ size_t heap_bytes; uint64_t rec_seq;
    kf_tsseq *stmp; size_t stmpcap;   /* the spill's radix sort copy of the heap (engine_order.c), kept */
    kd_idgen ids;                /* the output's record ids */
    struct kd_rchunk *rcur, *rspare; size_t rchunk_bytes, nspare;   /* record chunks (engine_order.c) */
    struct kd_rslab *rslabs;     /* ... and the slabs they are cut from */
    /* sorted runs spilled to the engine's temp file, one after the other (engine_order.c): read
     * back a block at a time from [roff, rend); the head, the run's next record, points into the
     * block (loaded: 0 before the first block is read, when only its key is known, from the spill) */
    struct kd_run { int has, loaded; int64_t ts; uint64_t seq, len; const char *data;
                    uint64_t start, roff, rend; char *blk; size_t bcap, bpos, bend; } *runs;
    size_t nruns, capruns, runs_max;   /* (runs_max: KD_RUNS_MAX, or a test's, read at the first spill) */
    int spill_fd, spill_open;    /* the temp file (spill_open: spill_fd is it) */
    uint64_t spill_end;          /* where the next run goes (0 again once every run was read) */
    kf_jw jw, idw;
    /* the text of "protocol" and the flags as last written for a few (protocol, flag, flag2)
     * addresses (string literals: engine_record.c envelope) */
    struct kd_pcache { const char *p, *f, *f2; size_t len; char txt[88]; } pc[KD_PCACHE];
    unsigned pc_next;
    uint64_t name_serial;        /* the last kd_name's serial */
    kd_conn *emitting; const kd_call *call;
    char idprefix[24];
    int64_t now, emit_ts, out_ts;
    int64_t watermark;           /* after flush_ready: nothing more will be written before this */
    int64_t natural;             /* after flush_ready: no record yet to be made starts before this */
    int64_t cap;                 /* -j: release nothing after this (other shards are behind) */
    uint64_t seen;               /* packets of the capture so far (all shards' with -j) */
    uint64_t mem;                /* accounted bytes */
    int finishing;
    /* -j by connection (o.flow_sink): where events happen now (kd_fev order) */
    uint8_t ev_phase; int64_t ev_ka; uint64_t ev_kb; uint64_t ev_seq;
    kd_conn **dq; size_t ndq, capdq;   /* connections whose flow share changed since the last interval */
    /* node ip cache from metadata */
    int node_ips_built;
};

/* ------------------------------------------------------------------ small helpers */

static inline uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= KD_FNV_PRIME; }
    return h;
}
static inline void mem_add(kd_engine *e, long d)
{
    e->mem = (uint64_t)((int64_t)e->mem + d);
    if (e->mem > e->st.peak_memory) e->st.peak_memory = e->mem;
}
static inline const char *file_name(const kd_engine *e, uint32_t i) { return i < e->files.n && e->files.v[i] ? e->files.v[i] : ""; }
static inline const char *node_name(const kd_engine *e, uint32_t i) { return i < e->nodes.n && e->nodes.v[i] ? e->nodes.v[i] : ""; }

static inline int dis_index(const kd_engine *e, const kd_dissector *d)
{
    for (size_t i = 0; i < e->ndis; i++) if (e->dis[i] == d) return (int)i;
    return -1;
}
static inline void lru_unlink(kd_engine *e, kd_conn *c)
{
    if (c->lprev) c->lprev->lnext = c->lnext; else e->lru_head[c->lru] = c->lnext;
    if (c->lnext) c->lnext->lprev = c->lprev; else e->lru_tail[c->lru] = c->lprev;
    c->lprev = c->lnext = NULL;
}
static inline void lru_append(kd_engine *e, kd_conn *c, int l)
{
    c->lru = l;
    c->lnext = NULL; c->lprev = e->lru_tail[l];
    if (e->lru_tail[l]) e->lru_tail[l]->lnext = c; else e->lru_head[l] = c;
    e->lru_tail[l] = c;
}

/* ------------------------------------------------------------------ between the parts */

/* engine_order.c */
void kde_heap_push(kd_engine *e, kd_rec *r);
kd_rec *kde_rec_alloc(kd_engine *e, size_t len);
/* Writing a record in place (hand-written for the benchmark: it replaces kde_rec_alloc and a
 * copy of the text, about 170 instructions a record on bench/data/api-one.pcap). kde_rec_room:
 * where the next record's text may be written (its kd_rec before it), in the current chunk, and
 * *cap, the room for the text and a NUL; NULL when none. kde_rec_placed: the record whose text of
 * len bytes was written at the place kde_rec_room gave, if kde_rec_alloc(e, len) would have put
 * it there now (nothing else was cut since), cut as kde_rec_alloc would; NULL: not (then
 * kde_rec_alloc and a copy). */
char *kde_rec_room(kd_engine *e, size_t *cap);
kd_rec *kde_rec_placed(kd_engine *e, const char *text, size_t len);
void kde_rec_free(kd_engine *e, kd_rec *r);
void kde_rec_arena_free(kd_engine *e);
void kde_flush_ready(kd_engine *e, int all);
void kde_order_free(kd_engine *e);
/* engine_record.c */
void kde_emit_flow(kd_engine *e, kd_flow *f, const kd_conn *any);
void kde_emit_conn(kd_engine *e, kd_conn *c);
/* engine_tcp.c */
void kde_tcp_packet(kd_engine *e, kd_conn *c, int dir, const kf_l4 *l4, int64_t ts);
void kde_dir_end(kd_engine *e, kd_conn *c, int dir);
void kde_buf_consume(kd_dir *d, size_t k);
void kde_buf_release(kd_engine *e, kd_conn *c, kd_dir *d);
/* engine.c */
void kde_fev_name(kd_engine *e, const kf_addr *ip, const char *name, size_t len, int64_t ts);
void kde_fev_mark(kd_engine *e, kd_conn *c);
void kde_run_dissector(kd_engine *e, kd_conn *c, int dir, unsigned flags);
void kde_apply_upgrade(kd_engine *e, kd_conn *c);
int kde_probe(kd_engine *e, kd_conn *c, int dir, const uint8_t *p, size_t n, int final);
void *kde_blk_get(kd_engine *e, size_t size);
void kde_blk_put(kd_engine *e, void *p, size_t size);
#endif
