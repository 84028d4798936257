/* engine.h — kdissect's engine as main.c (and the fuzz target) drive it: packets in, NDJSON
 * records out through a callback. The dissector-facing half is dissector.h. */
#ifndef KD_ENGINE_H
#define KD_ENGINE_H
#include <stdint.h>
#include <stddef.h>
#include <sys/uio.h>
#include <stdio.h>
#include <string.h>
#include "dissector.h"
#include "kf_source.h"
#include "kf_meta.h"
#include "kf_keylog.h"

/* 64-bit finaliser (MurmurHash3's fmix64) for the engine's and the -j balancer's hash tables. */
static inline uint64_t kd_mix64(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    return x;
}

typedef struct kd_engine kd_engine;

/* -j sharding by connection (parallel.c): a shard's connections do not keep flows; each keeps
 * what one engine would add to its flow and hands it, as these events, to a flow engine that
 * applies every shard's in the order of the capture (seq, phase, ka, kb; then the order sent) and
 * writes the flow records. */
enum kd_fev_type { KD_FEV_ATTACH, KD_FEV_DELTA, KD_FEV_CLOSE, KD_FEV_NAME, KD_FEV_WNAME, KD_FEV_TICK, KD_FEV_FINAL };
/* where in a packet's handling an event happened: before it (names of a kexport export), while
 * dissecting it, evicting, sweeping (ka: list, kb: its place), flow intervals, the end (ka: first_ts,
 * kb: first packet) */
enum kd_fev_phase { KD_PH_PRE, KD_PH_PACKET, KD_PH_EVICT, KD_PH_SWEEP, KD_PH_TICK, KD_PH_FINISH, KD_PH_FINAL };
typedef struct kd_fref { int64_t ts_ns; uint64_t frame; const char *file; } kd_fref;
typedef struct kd_fev {
    uint64_t seq; int64_t ka; uint64_t kb; uint8_t phase, type; uint16_t shard; uint32_t idx;   /* order */
    uint32_t conn_id;
    uint8_t ipproto, plain; int8_t capture;
    uint16_t sport;
    kf_addr ca, sa;             /* the flow's key: client, server (ATTACH) */
    const char *node;
    uint32_t l7; int dirty;
    uint64_t pkts[2], bytes[2];
    int64_t first_ts, last_ts;  /* DELTA: first / last packet; ATTACH: conn first_ts / the packet */
    uint64_t first_seq, last_seq;
    kd_fref first_ref, last_ref;
    kd_conn_info info;          /* CLOSE: the connection (the flow record's "any") */
    int64_t max_rec_ts;         /* CLOSE: no record of the connection is later than this */
    kf_addr ip; char *name; size_t namelen;   /* NAME, WNAME (name owned by the event) */
} kd_fev;
typedef void (*kd_fev_fn)(void *arg, kd_fev *ev);

typedef struct kd_engine_opts {
    kd_opts d;                  /* what dissectors see */
    uint64_t enabled;           /* bit i = kd_dissectors()[i] enabled (-p); all by default */
    int no_conn;                /* --no-conn: no conn/flow records */
    uint64_t max_memory;        /* --max-memory: flows + buffers + reorder (default 96 MiB) */
    int64_t tcp_idle_ns, udp_idle_ns, closed_linger_ns;
    int64_t dup_window_ns;      /* copies of one packet on several interfaces of a node (0: none looked for) */
    int64_t flow_interval_ns;   /* a flow record per active interval */
    const char *id_seed;        /* "name:size" of the first input: record ids hash it */
    kf_meta *meta;              /* borrowed; NULL = no Kubernetes context */
    uint32_t id_base, id_step;  /* conn/flow ids are base + k * step (-j shards); 0, 1 */
    int raw_out;                /* -j shards: records go out without their "id" (the merge adds it) */
    kd_fev_fn flow_sink;        /* -j by connection: flows as events to here (records' flow_id is
                                 * then the connection's id, for the merge to replace) */
    void *flow_arg;
} kd_engine_opts;

/* Output: called with complete NDJSON lines (one or more), in timestamp order. Returns 0, or
 * -1 to stop (write error). */
typedef int (*kd_out_fn)(void *arg, const char *buf, size_t len);
/* Output as pieces (optional, kd_engine_set_outv; same arg): iov[0..n) together are complete
 * NDJSON lines in timestamp order (a record's id and the rest of it), n <= IOV_MAX; the
 * function may change the iovecs. Returns 0, or -1 to stop. Not used with raw_out. Lets the
 * caller writev records from where the engine keeps them (one copy less per record). */
typedef int (*kd_outv_fn)(void *arg, struct iovec *iov, int n);

void kd_engine_opts_default(kd_engine_opts *o);
kd_engine *kd_engine_new(const kd_engine_opts *o, kd_out_fn out, void *arg);
void kd_engine_set_outv(kd_engine *e, kd_outv_fn outv);
/* One captured frame. file/node are interned by pointer value and must stay valid until
 * kd_engine_free (kf_source guarantees that for its names). iface = global interface id;
 * capture = how it was captured (enum kf_capture; unknown is written as af_packet). */
void kd_engine_packet(kd_engine *e, int64_t ts_ns, int linktype, const uint8_t *data,
                      uint32_t caplen, uint32_t origlen, uint32_t iface, const char *file,
                      const char *node, int capture, uint64_t frame);
/* The same, for a frame the caller decoded with kf_decode(NULL, ...) (rc, *l4) that is not an
 * IP fragment (l4->fragment = 0): what this engine's decode would give. *l4 may be changed. */
void kd_engine_packet_l4(kd_engine *e, int64_t ts_ns, int rc, kf_l4 *l4, uint32_t origlen, uint32_t iface,
                         const char *file, const char *node, int capture, uint64_t frame);
/* End of input: closes every connection, emits everything, flushes output. Returns 0 / -1
 * (output callback failed). */
int kd_engine_finish(kd_engine *e);
/* errno of the first failure writing or reading back a run of waiting records spilled to a temp
 * file ($TMPDIR), 0 if none (then the output lacks records and kd_engine_finish returned -1). */
int kd_engine_spill_error(const kd_engine *e);
/* -j shards. kd_engine_pass: packet number seq of the capture (1-based, over all shards)
 * went to another shard at ts: keep the clock and the housekeeping (expiry,
 * timers, flow intervals, releasing waiting records) at the packets one engine would.
 * kd_engine_seq: the next kd_engine_packet is packet number seq + 1.
 * kd_engine_skip: packets up to number seq, the latest at ts, went to other shards, and
 * kd_engine_pass would have done nothing but count them and keep the time: none of them is a
 * multiple of 256 (housekeeping), and since the engine's last packet or pass nothing changed
 * its memory or its share of --max-memory (a pass checks them). */
void kd_engine_pass(kd_engine *e, int64_t ts, uint64_t seq);
void kd_engine_seq(kd_engine *e, uint64_t seq);
void kd_engine_skip(kd_engine *e, uint64_t seq, int64_t ts);
/* The time before which this engine will emit no more records, as of its last release of
 * waiting records (every 16384 packets of the capture, or kd_engine_release). */
int64_t kd_engine_watermark(const kd_engine *e);
/* As of that release: the time before which no record is yet to be made (records already made
 * may wait before it, held back by kd_engine_cap). */
int64_t kd_engine_natural(const kd_engine *e);
/* Releases no waiting record after cap (INT64_MAX, the default: no cap). -j: a shard keeps what
 * the merge could not write yet anyway, because another shard may still precede it. */
void kd_engine_cap(kd_engine *e, int64_t cap);
/* Releases waiting records now, up to the cap (after kd_engine_finish: all of them up to it). */
int kd_engine_release(kd_engine *e);
/* Inside the output callback: the timestamp of the record being written. */
int64_t kd_engine_out_ts(const kd_engine *e);
/* The part of every record id before "-<index>" (the same for every engine of one input). */
const char *kd_engine_id_prefix(const kd_engine *e);
/* Record ids as output writes them (-j 1's engine, the -j merge), {"id":"<prefix>-<index>",
 * the index (6 digits at least) counted in decimal in place, in ctr[cstart..23] (ctr has room
 * for a copy of 24 from any cstart), and copied with fixed sizes: the digits by division were
 * 0.8 % of kdissect's instructions on bench/data/api-one.pcap, two small memcpy calls of
 * variable length a sixth of the merge thread's. Hand-written for the benchmark. */
typedef struct kd_idgen { char head[32]; size_t headlen; char ctr[48]; int cstart; } kd_idgen;
static inline void kd_idgen_init(kd_idgen *g, const char *prefix)
{
    int n = snprintf(g->head, sizeof g->head, "{\"id\":\"%s-", prefix);
    g->headlen = n > 0 && (size_t)n < sizeof g->head ? (size_t)n : sizeof g->head - 1;
    memset(g->ctr, '0', sizeof g->ctr);
    g->cstart = 24 - 6;
}
/* the next id into id (room for 64), with a ',' when more fields follow; its length */
static inline size_t kd_idgen_next(kd_idgen *g, char *id, int comma)
{
    size_t k = g->headlen, nd = 24 - (size_t)g->cstart;
    memcpy(id, g->head, sizeof g->head);
    memcpy(id + k, g->ctr + g->cstart, 24); k += nd;   /* (k + 24 <= 56) */
    id[k++] = '"';
    if (comma) id[k++] = ',';
    int i = 23;
    while (g->ctr[i] == '9') g->ctr[i--] = '0';
    g->ctr[i]++;
    if (i < g->cstart) g->cstart = i;
    return k;
}
/* A name a DNS answer gave ip (what kd_learn_name does, for answers another shard dissects). */
void kd_engine_learn_name(kd_engine *e, const kf_addr *ip, const char *name, size_t len, int64_t ts_ns);
/* Metadata of last resort (used only where metadata does not know an IP): a workload name a
 * kexport export gave ip in its NRB (from_ns = KF_T_MIN) or in an "IP reused" packet comment
 * (from_ns = that packet's time): "pod.namespace", "service.namespace.svc", or a node's name
 * (node = the node the file was captured on; a name equal to it is that node). */
void kd_engine_learn_workload(kd_engine *e, const kf_addr *ip, const char *name, size_t len, int64_t from_ns,
                              const char *node);
/* The workload names a kexport export gives — its NRB entries read since *taken, and the
 * packet's "IP reused" comment (p may be NULL) — each handed to fn as to kd_engine_learn_workload. */
typedef void (*kd_workload_fn)(void *arg, const kf_addr *ip, const char *name, size_t len, int64_t from_ns,
                               const char *node);
void kd_source_workloads_take(const kf_source *src, size_t *taken, const kf_src_pkt *p, kd_workload_fn fn, void *arg);
/* ... called (every packet) only when there can be something for it: an NRB entry not taken yet,
 * or a comment on a packet of an export's interface. The call for nothing, every packet, was 1 %
 * of kdissect's instructions on bench/data/api-one.pcap. */
static inline void kd_source_workloads(const kf_source *src, size_t *taken, const kf_src_pkt *p, kd_workload_fn fn,
                                       void *arg)
{
    if (kf_source_nrb_count(src) > *taken || (p && p->pkt.comment && p->iface && p->iface->workload_names))
        kd_source_workloads_take(src, taken, p, fn, arg);
}
/* The TLS key log DSBs the source read since *taken, into keys (NULL: none kept), as
 * kf_keylog_add_dsbs, called only when there is one (same reason). */
static inline void kd_source_dsbs(kf_keylog *keys, kf_source *src, size_t *taken)
{
    if (keys && kf_source_dsb_count(src) > *taken) kf_keylog_add_dsbs(keys, src, taken);
}
/* kd_workload_fn into an engine (arg = the kd_engine) */
void kd_workload_learn(void *engine, const kf_addr *ip, const char *name, size_t len, int64_t from_ns,
                       const char *node);
void kd_engine_free(kd_engine *e);
/* The flow engine of -j by connection: applies one event (in order). *flow: the connection's
 * flow (set by ATTACH, used by DELTA/CLOSE); *flow_id: its id (ATTACH). TICK: the flow
 * intervals of packet seq at ts; FINAL: the capture's last time (then kd_engine_finish). */
void kd_engine_flow_apply(kd_engine *e, const kd_fev *ev, void **flow, uint32_t *flow_id);
/* An unnamed temporary file for spilled records, in $TMPDIR (else /tmp) as docs/limits.md
 * says; -1 when there is none (engine_order.c; -j's merge spills through it too). */
int kd_spill_fd(void);
/* the latest packet time seen */
int64_t kd_engine_now(const kd_engine *e);
/* Bytes accounted now (flows, connections, buffers, waiting records), and a new --max-memory
 * share (-j by connection: the shards' shares shrink by what the flow engine holds). */
uint64_t kd_engine_mem(const kd_engine *e);
void kd_engine_set_budget(kd_engine *e, uint64_t max_memory);

typedef struct kd_engine_stats {
    uint64_t packets, bytes, non_ip, decode_errors, held_fragments, duplicates;
    uint64_t tcp_conns, udp_conns, other_conns, flows;
    uint64_t gaps, gap_bytes, ooo_dropped_bytes, evicted_conns, buffer_overflows;
    uint64_t records, records_by_proto[32], conn_records, flow_records;
    uint64_t reorder_forced;    /* records flushed early (out of order): no temp file for a spill */
    uint64_t spilled_runs;      /* sorted runs of waiting records written to temp files */
    uint64_t merged_runs;       /* runs merged into bigger ones (too many waiting at once) */
    uint64_t dstat[KD_STAT__N];
    uint64_t peak_memory;
} kd_engine_stats;
const kd_engine_stats *kd_engine_get_stats(const kd_engine *e);
#endif
