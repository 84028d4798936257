/* parallel.c — kdissect -j N: N engines on N threads, each owning a share of the conversations,
 * and one merged output.
 *
 * Sharding, when the workers read the input in turn (scan mode, below): by connection. Every
 * packet of a connection (its 5-tuple; other IP protocols: the address pair), its copies on
 * other interfaces and its IP fragments (put together by the reader to find their connection)
 * land on one shard, so one busy client/server pair with many
 * connections (keep-alive clients, connection churn) spreads over the threads. A new
 * connection goes to the shard with the least expected load: bytes so far, plus a multiple of
 * what each shard's open connections (no FIN or RST seen) carried in the packets that followed
 * their first, up to a block or two ahead (the balancer places a block once the next one is
 * read), so a long, busy connection weighs more than a short one from its start and
 * connections that start together spread out; the choice depends only on the input, so the
 * same input always splits the same way.
 * A flow record (client IP, server IP:port) sums over connections that are now on several
 * shards, so the shards keep no flows: each connection keeps what one engine would add to its
 * flow (packets, bytes, first and last packet, protocols) and sends it, with the moments its
 * flow changes (joined, closed, names learned from DNS, flow intervals), as events tagged with
 * their place in the capture (packet number, then sweep order / the end's closing order) to
 * the flow engine: a kd_engine without connections that the merge thread drives. It applies
 * the events of all shards in that order once every shard has sent all of them up to a
 * release point (every RELEASE_PKTS packets: the shards hand them over there), so the flows
 * change as one engine's would and its flow records are one engine's. Records name their
 * flow by the connection's id; the merge writes the flow engine's flow id in its place (a
 * record waits until the flow engine has seen its connection join). The flows' memory comes
 * out of the shards' shares of --max-memory.
 * When the input is read once and handed out (stdin, gzip, snapshots): by address pair, as
 * before — a connection, its fragments, copies and flow on one shard, flows in the shards.
 *
 * Two ways to feed the shards:
 * - uncompressed capture files and store folders (scan mode): the workers read the source in
 *   turn, a block of packets at a time, and each block is gone through by every worker (see
 *   scan_fill). Before, every worker read the whole input itself (one shared mapping) and
 *   picked out its own packets: that walk, done once per worker, was most of what -j 2 cost
 *   over -j 1; a third thread reading and handing out had measured no faster;
 * - stdin, gzip and snapshots are read once, by this thread, which copies each packet into
 *   its shard's queue (decompressing twice would cost more than the copy).
 *
 * What a shard cannot see by itself reaches it in packet order, so it happens at the point in
 * the capture where one engine would do it:
 * - time: every PASS_PKTS packets each engine is told the capture's time (idle connections
 *   expire, timers fire), every RELEASE_PKTS it releases waiting records;
 * - names: ip -> name pairs of DNS answers over UDP dissected by another shard (src.name/dst.name).
 *
 * Each engine writes its records in timestamp order into a spool and, after each release, says
 * the time before which it will write nothing more. An engine releases nothing past the least
 * of all shards' "natural" watermarks (no record yet to be made starts before it; the flow
 * engine's counts its dirty flows and every shard's open connections as of the packet it has
 * reached), so what must wait for another shard waits in its own engine, and the merge can
 * write what it gets. This thread merges the spools record by record by (timestamp, shard): a
 * record goes out once no shard can still write an earlier one, in place (writev from the
 * spool), ids renumbered in output order. What still waits on a slower shard stays in memory up
 * to a budget (a quarter of --max-memory; workers over it wait a little), then goes to a temp
 * file, read back in order.
 *
 * Differences from -j 1 (man page): conn_id/stream numbers differ (unique, interleaved by
 * shard); records with the same timestamp may come in another order; names learned from DNS
 * over TCP reach only the records of their own shard (and the flow records); by address pair
 * (stdin, gzip, snapshots) flow_id numbers differ too and a flow's per-interval split may fall
 * on other packets (totals equal); with timestamps out of order in the capture, idle expiry
 * may close connections one engine would keep a little longer (it stops at the first
 * connection not idle, in each shard's own list). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <time.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>
#include "parallel.h"
#include "kf_grow.h"
#include "kf_keylog.h"
#include "kf_decode.h"
#include "kf_tool.h"

#define BATCH_ITEMS 1024
#define BATCH_BYTES (1u << 20)
#define QUEUE_MAX 8
#define RELEASE_PKTS 16384     /* the engines release waiting records this often (engine.c cadence) */
#define PASS_PKTS 256          /* and do their housekeeping this often */
#define OCHUNK (1u << 20)       /* spool chunk (each one handed over wakes the merge) */
#define MAX_SHARDS 64

enum { IT_PKT, IT_NAME, IT_PASS, IT_WNAME };

typedef struct item {
    int64_t ts;
    uint32_t caplen, origlen, iface, off;
    int linktype, kind;
    const char *file, *node;
    int capture;                    /* enum kf_capture of its interface */
    uint64_t frame;
    uint64_t seq;                   /* the packet's number in the capture (1-based) */
} item;

typedef struct batch {
    struct batch *next;
    size_t n, used, cap;
    item it[BATCH_ITEMS];
    uint8_t data[];
} batch;

/* Spool chunk: the records from the front of buf, their index from its back (entry i at
 * oc_ent(c, i)). The merge reads the index, dense and in order, and leaves the records to
 * writev: reading a header in front of each record cost a cache miss per record on the merge
 * thread (records are written on another core, ~1.5 KB apart). By connection the worker also
 * notes where the record's flow id is and its connection: the merge writes the flow engine's
 * id as a piece of its own, without reading or changing the record. */
typedef struct oent { int64_t ts; uint32_t off, len, foff, cid; } oent;   /* foff: 0 = no flow id */
typedef struct ochunk {
    struct ochunk *next;
    size_t len, cap;                /* record bytes used; size of buf (a multiple of 8) */
    uint32_t n, rd;                 /* index entries; the next one the merge takes */
    char buf[];
} ochunk;
static oent *oc_ent(ochunk *c, uint32_t i) { return (oent *)(void *)(c->buf + c->cap) - 1 - i; }
/* the temp file of the merge: [int64 ts][uint32 len][uint32 foff][uint32 cid] then the record */
#define SPHDR 20

struct prun;

typedef struct shard {
    int idx;
    struct prun *run;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv, cv_space;
    batch *head, *tail, *freel;     /* copy mode: queue to the worker; batches given back */
    int queued, done;
    batch *cur;                     /* copy mode, reader: being filled */
    kd_engine *e;
    /* worker side of the spool */
    ochunk *wcur;
    int wfailed;
    /* shared (under mu): published chunks, the time before which nothing more comes, finished */
    ochunk *ohead, *otail;
    int64_t safe;
    int finished;
    size_t outstanding;             /* bytes handed to the merge and not yet written or spilled */
    ochunk *ofree; int nofree;      /* chunks the merge is done with, for the worker to reuse */
    uint64_t pos;                   /* scan mode: packets gone through so far (UINT64_MAX: all) */
    pthread_cond_t cv_out;          /* the merge took some: a worker over its share may go on */
    int isfe;                       /* the flow engine's output (the merge thread writes it) */
    /* by connection: flow events. Worker side: made since the last release point; shared (under
     * mu): handed over, and every event up to packet ev_upto is in; the shard's natural
     * watermark at each release point (the flow engine's records wait for it) */
    kd_fev *wev; size_t nwev, capwev; uint32_t evidx;
    uint64_t wupto; int64_t wnat;
    kd_fev *pev; size_t npev, cappev;
    kd_fev *qev; size_t nqev, capqev;   /* merge side: taken from pev, not applied yet */
    uint64_t ev_upto;
    struct { uint64_t upto; int64_t nat; } *hist; size_t nhist, caphist;
    /* merger side */
    ochunk *mhead, *mtail;          /* taken from the worker, older than anything in the file */
    FILE *spf;                      /* overflow, in order */
    uint64_t spw, spr;              /* bytes written / read */
    int spilling;
    int has;                        /* a head record is loaded */
    int64_t hts;
    const char *hrec;
    size_t hlen;
    uint32_t hfoff, hcid;           /* where its flow id is (0: none), its connection */
    char *fbuf; size_t fcap;        /* head record read from the file */
} shard;

#define MV_IOV 512              /* pieces per write: 256 records */
#define MV_STAGE (1u << 20)     /* records read back from a temp file, kept until written */
typedef struct merger {
    shard *sh;
    int n;
    kd_outv_fn outv; void *out_arg;
    /* output on its way: pieces (ids here, records in the spools' chunks, which are released
     * once written), and copies of records read back from temp files */
    struct iovec iov[MV_IOV];
    int niov;
    char ids[MV_IOV / 2][64];       /* "{"id":"..." of each record */
    char fids[MV_IOV / 2][8];       /* and the flow engine's id in its flow_id */
    int nids;
    kd_idgen idg;                   /* ids are formatted by fixed-size copies (engine.h) */
    struct { shard *s; ochunk *c; } rel[MV_IOV];
    int nrel;
    char *stage; size_t stagelen;
    size_t mem, budget;
    pthread_mutex_t mu;             /* publications */
    pthread_cond_t cv;
    uint64_t pubs;
    char err[128];
    struct prun *x;
} merger;

/* by connection: connection id (the flow_id its records carry) -> its flow in the flow engine */
typedef struct fmapent { uint32_t cid, fid; void *flow; int64_t max_ts; uint8_t used, closed; } fmapent;
typedef struct fmap { fmapent *t; size_t cap, n, prune_at; } fmap;
#define FCACHE 4096

/* what the workers of one run share */
typedef struct prun {
    merger *m;
    int jobs, dns_on, scanned;
    size_t pairs_max;               /* balancer table limit */
    int qmax;                       /* copy mode: batches queued per shard (QUEUE_MAX, less on a small budget) */
    struct kf_keylog *keys;         /* TLS secrets: the DSBs read are added to them */
    struct scan *scan;              /* scan mode: the one pass over the input the workers share */
    pthread_mutex_t emu;
    int64_t natural[MAX_SHARDS + 1];   /* per shard (and the flow engine): no record yet to be made starts before this */
    /* by connection (scan mode): connections are spread over the shards, and their flows are
     * made by the flow engine, on the merge thread, from the shards' events */
    int byconn, remote;
    kd_engine *fe;
    kd_fev **sel; size_t capsel;     /* the events the flow engine applies in a turn, in order */
    uint64_t fe_upto;
    int fe_finishing, fe_done;
    int64_t fe_nat;
    fmap map;
    /* connection id -> flow id of the connections whose records go out now: a direct-mapped
     * copy of the map's (written on every ATTACH applied, so never stale while a record can
     * name the connection); the map's look-up missed the cache on every record (a third of
     * the merge thread's time on bench/data/api-one.pcap) */
    struct { uint32_t cid, fid; } fcache[FCACHE];
    uint64_t max_memory, fe_mem;      /* --max-memory; what the flow engine holds (its last turn) */
    uint64_t attaches[MAX_SHARDS], fe_attaches;   /* flows joined by each shard's connections; applied */
    uint64_t memnow[MAX_SHARDS + 1], peak_sum;    /* each engine's accounted bytes (sampled), their sum's peak */
    int rc;                         /* first failure: -1 / -2 */
    char err[512];
} prun;

static int out_failed(const prun *x) { return __atomic_load_n(&x->rc, __ATOMIC_RELAXED) == -1; }

static void run_fail(prun *x, int rc, const char *msg)
{
    pthread_mutex_lock(&x->emu);
    if (!x->rc) { snprintf(x->err, sizeof x->err, "%s", msg); __atomic_store_n(&x->rc, rc, __ATOMIC_RELAXED); }
    pthread_mutex_unlock(&x->emu);
    pthread_mutex_lock(&x->m->mu);   /* finished workers waiting for the others: look again */
    pthread_cond_broadcast(&x->m->cv);
    pthread_mutex_unlock(&x->m->mu);
}

/* ------------------------------------------------------------------ balance */

/* A packet as the balancer and the DNS name hand-over see it: kf_decode without reassembly (a
 * non-first fragment still has its addresses). (A hand-rolled Ethernet/IP fast path measured
 * no faster on bench/dissect.sh.) */
typedef struct pinfo { int rc; kf_l4 l4; } pinfo;

static void pkt_info(const kf_pkt *p, pinfo *pi)
{
    pi->rc = kf_decode(NULL, p->linktype, p->data, p->caplen, p->ts_ns, &pi->l4);
}

static int is_ip(const pinfo *pi) { return pi->rc != KF_DEC_NOT_IP && pi->l4.ipver; }

/* a whole UDP datagram (no fragment) to or from a DNS port with the response bit */
static int is_dns_answer(const pinfo *pi)
{
    const kf_l4 *l = &pi->l4;
    return pi->rc == KF_DEC_OK && l->ipver && l->proto == 17 && l->payload && !l->fragment && l->paylen > 12 &&
           (kd_dns_port(l->sport) || kd_dns_port(l->dport)) && (l->payload[2] & 0x80);
}

/* What the balancer reads of a packet: its addresses, ports (TCP, UDP), protocol and TCP flags.
 * ip = 0: not IP (shard 0). */
typedef struct bkey {
    uint8_t ip, ipver, proto, tflags;
    uint16_t sport, dport;
    uint8_t src[16], dst[16];
} bkey;

static void bkey_of(const pinfo *pi, bkey *k)
{
    k->ip = (uint8_t)is_ip(pi);
    if (!k->ip) return;
    k->ipver = pi->l4.ipver; k->proto = pi->l4.proto; k->tflags = pi->l4.tcp.flags;
    k->sport = pi->l4.sport; k->dport = pi->l4.dport;
    memcpy(k->src, pi->l4.src.a, 16); memcpy(k->dst, pi->l4.dst.a, 16);
}

/* The key of a plain Ethernet / IPv4 (no options, not a fragment) / TCP frame with its whole
 * TCP header, straight from the bytes: what bkey_of gives after kf_decode for such a frame
 * (addresses, ports, flags: decode_ip4 and decode_l4 read them from the same places). 0: any
 * other frame (kf_decode then). Scan mode picks the shard of every packet of the capture and
 * its owner decodes it again: for the shard this is all it needs (kf_decode and its zeroing of
 * a kf_l4 were a third of that pick on bench/data/api-one.pcap, where most packets are such
 * frames). Hand-written for that benchmark. */
static int bkey_fast(const kf_pkt *p, bkey *k)
{
    const uint8_t *d = p->data;
    if (p->linktype != KF_LT_EN10MB || p->caplen < 14 + 40 || d[12] != 0x08 || d[13] != 0x00 || d[14] != 0x45 ||
        d[23] != 6 || ((d[20] << 8 | d[21]) & 0x3fff))
        return 0;
    uint32_t have = p->caplen - 14, tot = (uint32_t)(d[16] << 8 | d[17]);
    if (tot == 0) tot = have;   /* (as decode_ip4: TSO) */
    if (tot < 40) return 0;     /* no whole TCP header in the datagram: kf_decode says what */
    const uint8_t *t = d + 34;
    k->ip = 1; k->ipver = 4; k->proto = 6; k->tflags = t[13];
    k->sport = (uint16_t)(t[0] << 8 | t[1]); k->dport = (uint16_t)(t[2] << 8 | t[3]);
    memset(k->src, 0, 16); memset(k->dst, 0, 16);
    memcpy(k->src, d + 26, 4); memcpy(k->dst, d + 30, 4);
    return 1;
}

/* address pair -> shard. Pairs are of a class (TCP, or anything else) by their first packet:
 * a TCP conversation and a UDP one (DNS, say) usually carry very different volumes. */
/* An entry is known by the 64-bit hash of its pair (or connection): two that hash alike would
 * share a shard (in every worker alike: only the balance would suffer). 16 bytes, not the 48
 * of the whole key: by connection the table keeps every connection of the capture (tens of
 * thousands on API traffic), and each packet's look-up missed the cache (40 % of bal_pick's
 * time on bench/data/api-one.pcap). A small direct-mapped copy of the entries used lately
 * answers most packets but a connection's first and last ones (its SYN, FIN, RST: the table's
 * count of open connections: its flag "ended" is the copy's while it is in the cache, and
 * goes back to the table entry it names by its slot when the copy is replaced), the few
 * connections busy at a time: a connection costs the table a look-up when it starts and a
 * write when it leaves the cache. An entry's shard and class never change once made. The
 * table is at most half full (runs of linear probing for every new connection). */
typedef struct pairent { uint64_t key; uint32_t slot, rate; int16_t shard; uint8_t cls, used : 1, ended : 1; } pairent;
#define BCACHE 512
typedef struct balancer {
    pairent *t; size_t cap, n;
    int nsh;
    int byconn;                      /* key: the connection (addresses, ports, protocol), not the pair */
    uint64_t load[MAX_SHARDS], pairs[2][MAX_SHARDS];
    uint64_t cbytes[2], cpairs[2];   /* per class: bytes and pairs so far */
    int ahead;                       /* scan mode: placed by what they carry next (bal_place) */
    uint64_t rate[MAX_SHARDS];       /* (then) the rates of each shard's open connections */
    pairent last;                    /* the previous packet's pair */
    uint64_t lasth;                  /* (its hash) */
    size_t maxcap;                   /* table size limit (PAIRS_MAX, less on a small budget) */
    pairent cache[BCACHE];           /* entries of the table used lately (used = 0: empty) */
} balancer;
#define PAIRS_MAX (1u << 18)
#define PAIR_PRIOR (1u << 20)   /* bytes a new pair is assumed to carry at least */
#define BAL_HORIZON 32          /* scan mode: an open connection's rate counts this many times */

static uint64_t pair_hash(const uint64_t w[5])
{
    return kd_mix64(w[0] * 0x9E3779B97F4A7C15ULL ^ w[1] * 0xC2B2AE3D27D4EB4FULL ^
                 w[2] * 0x165667B19E3779F9ULL ^ w[3] * 0x27D4EB2F165667C5ULL ^ w[4] * 0x94D049BB133111EBULL);
}

/* The cache's entry ce leaves it: what it knows goes back to the table. */
static void bc_evict(balancer *b, pairent *ce)
{
    if (ce->used) b->t[ce->slot] = *ce;   /* (its ended and rate change) */
    ce->used = 0;
}

static int pair_grow(balancer *b)
{
    size_t nc = b->cap ? b->cap * 2 : 4096;
    pairent *nt = calloc(nc, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < BCACHE; i++) bc_evict(b, &b->cache[i]);   /* (their slots move) */
    for (size_t i = 0; i < b->cap; i++)
        if (b->t[i].used) {
            size_t j = b->t[i].key & (nc - 1);
            while (nt[j].used) j = (j + 1) & (nc - 1);
            nt[j] = b->t[i];
            nt[j].slot = (uint32_t)j;
        }
    free(b->t); b->t = nt; b->cap = nc;
    b->last.used = 0;
    return 0;
}

/* A packet as bal_pick takes it: its pair's (connection's) key and hash, its cost in bytes. */
typedef struct bin { uint64_t h, ahead; uint32_t cost, off; uint8_t ip, proto, tflags, fl; } bin;

/* in's cost and flags; whether it is placed by its pair (in->ip) */
static inline int bal_in(const balancer *b, const bkey *pk, uint32_t bytes, bin *in)
{
    in->cost = bytes + 64;   /* + the per-packet cost, in bytes */
    in->ip = pk->ip && b->nsh > 1;
    if (!in->ip) return 0;
    in->proto = pk->proto; in->tflags = pk->tflags;
    return 1;
}

static void bal_key(const balancer *b, const bkey *pk, uint32_t bytes, bin *in)
{
    if (!bal_in(b, pk, bytes, in)) return;
    /* the pair in a fixed order (the smaller address first, compared as big-endian bytes) */
    uint64_t sa[2], da[2], w[5];
    memcpy(sa, pk->src, 16); memcpy(da, pk->dst, 16);
    uint16_t sp = 0, dp = 0;
    if (b->byconn && (pk->proto == 6 || pk->proto == 17)) { sp = pk->sport; dp = pk->dport; }
    int swap = sa[0] != da[0] ? __builtin_bswap64(sa[0]) > __builtin_bswap64(da[0])
             : sa[1] != da[1] ? __builtin_bswap64(sa[1]) > __builtin_bswap64(da[1]) : sp > dp;
    if (swap) { w[0] = da[0]; w[1] = da[1]; w[2] = sa[0]; w[3] = sa[1]; w[4] = (uint64_t)dp << 32 | (uint64_t)sp << 16; }
    else      { w[0] = sa[0]; w[1] = sa[1]; w[2] = da[0]; w[3] = da[1]; w[4] = (uint64_t)sp << 32 | (uint64_t)dp << 16; }
    if (b->byconn) w[4] |= pk->proto;   /* (by pair: every protocol of the pair together) */
    w[1] ^= (uint64_t)pk->ipver << 56;   /* keeps an IPv4 pair apart from the v4-mapped v6 one */
    in->h = pair_hash(w);
}

/* bal_key of a frame bkey_fast took (IPv4, TCP): in->h from a small direct-mapped cache by its
 * addresses and ports, which are all the hash depends on. Hand-written for
 * bench/data/api-one.pcap, where nearly every packet belongs to one of the few connections busy at
 * a time: it replaces bal_key's ordering of the pair and its hashing (about 85 instructions a
 * packet) for the packets of a connection seen lately. */
typedef struct kcent { uint32_t w[3], used; uint64_t h; } kcent;
#define KCACHE 1024
static void bal_key_fast(const balancer *b, kcent *kc, const bkey *pk, uint32_t bytes, bin *in)
{
    uint32_t w0, w1, w2 = (uint32_t)pk->sport << 16 | pk->dport;
    memcpy(&w0, pk->src, 4); memcpy(&w1, pk->dst, 4);
    kcent *c = &kc[(w0 * 0x9E3779B1u ^ w1 * 0x85EBCA77u ^ w2 * 0xC2B2AE3Du) >> 22];   /* (KCACHE: 2^10) */
    if (c->used && c->w[0] == w0 && c->w[1] == w1 && c->w[2] == w2) {
        if (bal_in(b, pk, bytes, in)) in->h = c->h;
        return;
    }
    bal_key(b, pk, bytes, in);
    if (!in->ip) return;
    c->w[0] = w0; c->w[1] = w1; c->w[2] = w2; c->used = 1; c->h = in->h;
}

/* The shard for a new pair (connection) of class cls. */
static int bal_place(const balancer *b, int cls)
{
    int k = 0, n = b->nsh;
    if (b->ahead) {
        /* Scan mode: the shard with the least load so far plus BAL_HORIZON times the bytes its
         * open connections carried over the packets after their first, up to a block or two
         * ahead (a rate each, taken off when it closes): from its start a long, busy connection
         * weighs on its shard more than a short one does. Counted at a prior (below), the 8 wrk
         * connections of bench/data/api-one.pcap, started among ab's short ones, fell 3 and 5
         * and the second shard carried a third more to the end (the short ones, over by
         * then, could not make up for it). */
        for (int i = 1; i < n; i++) {
            uint64_t ei = b->load[i] + b->rate[i] * BAL_HORIZON, ek = b->load[k] + b->rate[k] * BAL_HORIZON;
            uint64_t pi = b->pairs[0][i] + b->pairs[1][i], pk = b->pairs[0][k] + b->pairs[1][k];
            if (ei < ek || (ei == ek && pi < pk)) k = i;
        }
        return k;
    }
    /* Its future volume is unknown. Count each shard's pairs of this class at the class's
     * average so far (at least PAIR_PRIOR), plus what the shard carries: pairs that start
     * together spread out instead of following the first packets' bytes. */
    uint64_t avg = b->cpairs[cls] ? b->cbytes[cls] / b->cpairs[cls] : 0;
    if (avg < PAIR_PRIOR) avg = PAIR_PRIOR;   /* until the capture shows more */
    for (int i = 1; i < n; i++) {
        uint64_t ei = b->load[i] + b->pairs[cls][i] * avg, ek = b->load[k] + b->pairs[cls][k] * avg;
        if (ei < ek || (ei == ek && b->pairs[cls][i] < b->pairs[cls][k])) k = i;
    }
    return k;
}

/* bal_pick's first step: a packet of a connection in the cache, but for its first and last ones
 * (SYN, FIN, RST), takes its shard; -1: the rest of bal_pick. (It does not make the entry the
 * "last" one, a copy that only saved a look-up: an entry's shard and class never change.) For
 * bench/data/api-one.pcap, where it is nearly every packet: that copy and the checks before it
 * were about two thirds of bal_pick's instructions. */
static inline int bal_hit(balancer *b, const bin *in)
{
    if (!in->ip || (b->byconn && in->proto == 6 && (in->tflags & (KF_TCP_FIN | KF_TCP_RST | KF_TCP_SYN)))) return -1;
    const pairent *ce = &b->cache[(in->h >> 32) & (BCACHE - 1)];
    if (!ce->used || ce->key != in->h) return -1;
    b->load[ce->shard] += in->cost;
    b->cbytes[ce->cls] += in->cost;
    return ce->shard;
}

/* The shard of this packet; counts its bytes. ahead (scan mode): the bytes its connection
 * carries in the packets after it, up to a block or two ahead. Depends only on the packets
 * (before it, and those ahead), so every run on the same input computes the same split. */
static int bal_pick(balancer *b, const bin *in, uint64_t ahead)
{
    int k = bal_hit(b, in);
    if (k >= 0) return k;
    int n = b->nsh, cls;
    k = 0;
    uint64_t cost = in->cost;
    if (!in->ip) { b->load[0] += cost; return 0; }
    uint32_t rate = ahead > UINT32_MAX ? UINT32_MAX : (uint32_t)ahead;
    /* by connection, a TCP connection's end (FIN, RST) or new start (SYN) on a known 5-tuple:
     * the shard counts the connections still open (a shard with fewer gets the next one) */
    int edge = b->byconn && in->proto == 6 && (in->tflags & (KF_TCP_FIN | KF_TCP_RST | KF_TCP_SYN));
    if (!edge && b->last.used && in->h == b->lasth) {   /* runs of one conversation stop here */
        k = b->last.shard; cls = b->last.cls;
        goto done;
    }
    uint64_t h = in->h;
    pairent *ce = &b->cache[(h >> 32) & (BCACHE - 1)];
    b->lasth = h;
    pairent *p = NULL;
    if (!ce->used || ce->key != h) {   /* into the cache from the table, if it is there */
        if (b->cap)
            for (size_t j = h & (b->cap - 1);; j = (j + 1) & (b->cap - 1)) {
                if (!b->t[j].used) break;
                if (b->t[j].key == h) { p = &b->t[j]; break; }
            }
        if (p) { bc_evict(b, ce); *ce = *p; }
    } else p = ce;
    if (p) {
        if (edge) {
            int end = (in->tflags & (KF_TCP_FIN | KF_TCP_RST)) != 0;
            if (end && !ce->ended) { ce->ended = 1; b->pairs[ce->cls][ce->shard]--; b->rate[ce->shard] -= ce->rate; }
            else if (!end && ce->ended && !(in->tflags & KF_TCP_ACK)) {   /* a new connection on its tuple */
                ce->ended = 0; b->pairs[ce->cls][ce->shard]++;
                ce->rate = rate; b->rate[ce->shard] += rate;
            }
        }
        b->last = *ce; k = ce->shard; cls = ce->cls; goto done;
    }
    cls = in->proto == 6 ? 0 : 1;
    k = bal_place(b, cls);
    if ((b->n + 1) * 2 > b->cap && (b->cap >= b->maxcap || pair_grow(b) != 0)) {
        k = (int)(h % (uint64_t)n);   /* table full: by hash, not remembered */
        b->last.used = 0;
        goto done;
    }
    b->pairs[cls][k]++; b->cpairs[cls]++;
    b->rate[k] += rate;
    size_t j = h & (b->cap - 1);
    while (b->t[j].used) j = (j + 1) & (b->cap - 1);
    p = &b->t[j];
    p->key = h; p->slot = (uint32_t)j; p->used = 1; p->shard = (int16_t)k; p->cls = (uint8_t)cls; p->ended = 0; p->rate = rate;
    b->n++;
    bc_evict(b, ce);
    b->last = *p; *ce = *p;
done:
    b->load[k] += cost;
    b->cbytes[cls] += cost;
    return k;
}

/* ------------------------------------------------------------------ worker side */

/* an engine's flow event (kd_engine_opts.flow_sink): kept until the next release point */
static void shard_fev(void *arg, kd_fev *ev)
{
    shard *s = arg;
    if (s->wfailed) return;
    if (s->nwev == s->capwev) {
        size_t nc = s->capwev ? s->capwev * 2 : 256;
        kd_fev *nv = realloc(s->wev, nc * sizeof *nv);
        if (!nv) { s->wfailed = 1; return; }
        s->wev = nv; s->capwev = nc;
    }
    kd_fev *v = &s->wev[s->nwev];
    *v = *ev;
    if (ev->type == KD_FEV_ATTACH) __atomic_add_fetch(&s->run->attaches[s->idx], 1, __ATOMIC_RELAXED);
    v->shard = (uint16_t)s->idx; v->idx = s->evidx++;
    if (ev->type == KD_FEV_NAME || ev->type == KD_FEV_WNAME) {
        if (!(v->name = malloc(ev->namelen + 1))) { s->wfailed = 1; return; }
        memcpy(v->name, ev->name, ev->namelen); v->name[ev->namelen] = 0;
    }
    s->nwev++;
}

/* Appends the events src holds to dst and empties src; when dst is empty the two arrays change
 * places (no copy, and src gets an empty one back). -1: out of memory (nothing moved). Flow
 * events go worker -> handed over (pev) -> merge (qev) this way. */
static int fev_move(kd_fev **dv, size_t *dn, size_t *dcap, kd_fev **sv, size_t *sn, size_t *scap)
{
    if (!*sn) return 0;
    if (!*dn) {
        kd_fev *t = *dv; size_t tc = *dcap;
        *dv = *sv; *dcap = *scap; *dn = *sn;
        *sv = t; *scap = tc; *sn = 0;
        return 0;
    }
    kd_fev *nv = kf_grow(*dv, dcap, *dn + *sn, sizeof *nv);
    if (!nv) return -1;
    *dv = nv;
    memcpy(nv + *dn, *sv, *sn * sizeof *nv);
    *dn += *sn; *sn = 0;
    return 0;
}

static void publish(shard *s, int64_t safe, int finished)
{
    merger *m = s->run->m;
    ochunk *c = s->wcur;
    s->wcur = NULL;
    pthread_mutex_lock(&s->mu);
    if (c && c->len) {
        c->next = NULL;
        if (s->otail) s->otail->next = c; else s->ohead = c;
        s->otail = c;
        __atomic_add_fetch(&s->outstanding, c->cap, __ATOMIC_RELAXED);
        c = NULL;
    }
    if (safe > s->safe) s->safe = safe;
    if (finished) __atomic_store_n(&s->finished, 1, __ATOMIC_RELAXED);
    int evfail = 0;
    if (s->run->remote && !s->isfe) {   /* flow events: handed over, up to where this shard is */
        if (fev_move(&s->pev, &s->npev, &s->cappev, &s->wev, &s->nwev, &s->capwev) < 0) evfail = 1;
        if (!evfail && s->wupto > s->ev_upto) {
            void *nh = kf_grow(s->hist, &s->caphist, s->nhist + 1, sizeof *s->hist);
            if (nh) s->hist = nh; else evfail = 1;
            if (!evfail) {
                s->hist[s->nhist].upto = s->wupto; s->hist[s->nhist].nat = s->wnat; s->nhist++;
                s->ev_upto = s->wupto;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (evfail) run_fail(s->run, -1, "out of memory");
    free(c);
    pthread_mutex_lock(&m->mu);
    m->pubs++;
    pthread_cond_broadcast(&m->cv);   /* the merge, and finished workers waiting for a cap */
    pthread_mutex_unlock(&m->mu);
}

/* What no shard can precede any more: the least of their natural watermarks. */
static int64_t global_cap(prun *x)
{
    int64_t c = INT64_MAX;
    for (int i = 0; i < x->jobs + (x->remote ? 1 : 0); i++) {
        int64_t v = __atomic_load_n(&x->natural[i], __ATOMIC_ACQUIRE);
        if (v < c) c = v;
    }
    return c;
}

/* By connection: the flows the flow engine holds (and those it is yet to make) come out of the
 * shards' shares of --max-memory, as they would out of one engine's: its memory as of its last
 * turn, and a flow's worth for each connection that joined one since. */
#define FLOW_BYTES 256
/* The shards' and the flow engine's memory peak at different times (the shards' early, the
 * flow engine's flows later, and the shards' shares shrink by them): the peak of the sum, as
 * sampled every PASS_PKTS packets, is what --stats reports as peak_memory. */
static void mem_sample(prun *x, int idx, uint64_t mem)
{
    __atomic_store_n(&x->memnow[idx], mem, __ATOMIC_RELAXED);
    uint64_t sum = 0;
    for (int i = 0; i <= x->jobs; i++) sum += __atomic_load_n(&x->memnow[i], __ATOMIC_RELAXED);
    uint64_t p = __atomic_load_n(&x->peak_sum, __ATOMIC_RELAXED);
    while (sum > p && !__atomic_compare_exchange_n(&x->peak_sum, &p, sum, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
}
static void share_budget(shard *s)
{
    prun *x = s->run;
    uint64_t est = __atomic_load_n(&x->fe_mem, __ATOMIC_RELAXED), sent = 0;
    for (int i = 0; i < x->jobs; i++) sent += __atomic_load_n(&x->attaches[i], __ATOMIC_RELAXED);
    uint64_t done = __atomic_load_n(&x->fe_attaches, __ATOMIC_RELAXED);
    if (sent > done) est += (sent - done) * FLOW_BYTES;
    uint64_t floor = x->max_memory / (uint64_t)(4 * x->jobs);
    uint64_t left = x->max_memory > est ? (x->max_memory - est) / (uint64_t)x->jobs : 0;
    kd_engine_set_budget(s->e, left > floor ? left : floor);
    mem_sample(x, s->idx, kd_engine_mem(s->e));
}

/* After the engine released waiting records: the others learn how far this shard will make
 * nothing earlier, the merge gets what was released, and the next release is capped at what
 * no shard can precede. So the merge can write what it gets at once: records that wait for a
 * shard that is behind wait in their own engine (in this worker's memory, or its temp files),
 * not in the merge's. */
static void release_point(shard *s, uint64_t n)
{
    prun *x = s->run;
    s->wupto = n; s->wnat = kd_engine_natural(s->e);
    __atomic_store_n(&x->natural[s->idx], kd_engine_natural(s->e), __ATOMIC_RELEASE);
    publish(s, kd_engine_watermark(s->e), 0);
    kd_engine_cap(s->e, global_cap(x));
}

/* End of this shard's input: its connections close; what it holds goes out as the other
 * shards come along (this worker waits for them between releases), the rest at the end. */
static void finish_shard(shard *s)
{
    prun *x = s->run;
    merger *m = x->m;
    kd_engine_finish(s->e);
    if (x->remote && s->idx == 0) {   /* the flow engine closes its flows at the capture's last time */
        kd_fev v;
        memset(&v, 0, sizeof v);
        v.type = KD_FEV_FINAL; v.seq = UINT64_MAX; v.phase = KD_PH_FINAL; v.first_ts = kd_engine_now(s->e);
        shard_fev(s, &v);
    }
    s->wupto = UINT64_MAX; s->wnat = INT64_MAX;   /* every event is in */
    __atomic_store_n(&x->natural[s->idx], INT64_MAX, __ATOMIC_RELEASE);
    for (;;) {
        int64_t cap = global_cap(x);
        kd_engine_cap(s->e, cap);
        kd_engine_release(s->e);
        if (cap == INT64_MAX) break;
        publish(s, kd_engine_watermark(s->e), 0);
        pthread_mutex_lock(&m->mu);
        while (global_cap(x) == cap && !out_failed(x)) pthread_cond_wait(&m->cv, &m->mu);
        pthread_mutex_unlock(&m->mu);
        if (out_failed(x)) break;
    }
    publish(s, INT64_MAX, 1);
}

/* scan mode: is another unfinished shard well behind this one in the capture? (When this
 * one has walked all of it: is another one not done yet?) */
static int others_behind(const shard *s)
{
    merger *m = s->run->m;
    uint64_t me = __atomic_load_n(&s->pos, __ATOMIC_RELAXED);
    for (int i = 0; i < m->n; i++) {
        const shard *o = &m->sh[i];
        if (me == UINT64_MAX) {
            if (o != s && !__atomic_load_n(&o->finished, __ATOMIC_RELAXED)) return 1;
            continue;
        }
        if (o == s || __atomic_load_n(&o->pos, __ATOMIC_RELAXED) == UINT64_MAX) continue;
        if (__atomic_load_n(&o->pos, __ATOMIC_RELAXED) + 4 * RELEASE_PKTS < me) return 1;
    }
    return 0;
}

/* Bytes handed to the merge and not written yet, over all shards (read without their locks:
 * an estimate, enough to decide whether to wait). */
static size_t total_outstanding(const merger *m)
{
    size_t t = 0;
    for (int i = 0; i < m->n; i++) t += __atomic_load_n(&m->sh[i].outstanding, __ATOMIC_RELAXED);
    return t;
}

/* By connection a record names its flow by its connection's id ("flow_id":"f-<8 hex>" in its
 * first 512 bytes): where those 8 digits are (0: nowhere) and the id. The key's 'w' is found
 * with memchr (memmem was 20 % of the merge thread's instructions); the first 'w' that is the
 * key's is the first occurrence of the key, as memmem would find it. */
static uint32_t flow_ref(const char *rec, size_t len, uint32_t *cid)
{
    static const char key[] = "\"flow_id\":\"f-";
    enum { KL = sizeof key - 1, W = 4 };   /* key[W] == 'w' */
    size_t lim = len < 512 ? len : 512;
    if (lim < KL) return 0;
    const char *p = rec + W, *end = rec + lim - KL + W + 1;   /* the 'w' of a key that fits */
    while (p < end && (p = memchr(p, 'w', (size_t)(end - p)))) {
        const char *k = p - W;
        if (memcmp(k, key, KL) == 0) {
            size_t off = (size_t)(k - rec) + KL;
            if (off + 8 > len) return 0;
            uint32_t v = 0;
            for (int i = 0; i < 8; i++) {
                char c = rec[off + (size_t)i];
                v = v << 4 | (uint32_t)(c >= 'a' ? c - 'a' + 10 : c - '0');
            }
            *cid = v;
            return (uint32_t)off;
        }
        p++;
    }
    return 0;
}

static int shard_out(void *arg, const char *buf, size_t len)
{
    shard *s = arg;
    if (out_failed(s->run)) return -1;   /* nothing more is written: keep nothing */
    int64_t ts = kd_engine_out_ts(s->e);
    size_t need = sizeof(oent) + len;
    if (s->wcur && s->wcur->len + (s->wcur->n + 1) * sizeof(oent) + len > s->wcur->cap) publish(s, INT64_MIN, 0);
    if (!s->wcur && s->run->scanned && !s->isfe) {
        /* Far ahead of the merge: if that is because another shard is behind us in the
         * capture, wait for it to catch up rather than have the merge write our records to its
         * temp file and read them back. A shard that is not behind but held back by an open
         * connection is not waited for (that can last minutes): the merge spills. */
        merger *m = s->run->m;
        pthread_mutex_lock(&s->mu);
        for (int waited = 0; s->outstanding && total_outstanding(m) + OCHUNK > m->budget && waited < 200 &&
                             others_behind(s); waited++) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_nsec += 1000000L;   /* 1 ms, then look again */
            if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&s->cv_out, &s->mu, &dl);
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (!s->wcur && need <= OCHUNK) {
        pthread_mutex_lock(&s->mu);
        if ((s->wcur = s->ofree)) { s->ofree = s->wcur->next; s->nofree--; }
        pthread_mutex_unlock(&s->mu);
        if (s->wcur) { s->wcur->next = NULL; s->wcur->len = 0; s->wcur->n = s->wcur->rd = 0; }
    }
    if (!s->wcur) {
        size_t cap = need > OCHUNK ? (need + 7) & ~(size_t)7 : OCHUNK;
        s->wcur = malloc(sizeof *s->wcur + cap);
        if (!s->wcur) { s->wfailed = 1; return -1; }
        s->wcur->next = NULL; s->wcur->len = 0; s->wcur->n = s->wcur->rd = 0; s->wcur->cap = cap;
    }
    ochunk *c = s->wcur;
    oent *en = oc_ent(c, c->n++);
    en->ts = ts; en->off = (uint32_t)c->len; en->len = (uint32_t)len; en->cid = 0;
    en->foff = s->run->remote && !s->isfe ? flow_ref(buf, len, &en->cid) : 0;
    memcpy(c->buf + c->len, buf, len);
    c->len += len;
    return 0;
}

typedef struct learnctx { kd_engine *e; int64_t ts; } learnctx;
static void learn_here(void *arg, const kf_addr *ip, const char *name, size_t len)
{
    learnctx *lc = arg;
    kd_engine_learn_name(lc->e, ip, name, len, lc->ts);
}

/* A worker's malloc arena grows its heap a page range at a time (an mprotect each: thousands
 * in a run) and the trim threshold set in kd_run_parallel keeps what it grew. Growing it once,
 * up front, by blocks under the mmap threshold, costs no memory until used.
 * The range grown is then backed by transparent huge pages where the kernel allows them
 * (MADV_HUGEPAGE; the system's setting is "madvise" on Debian): the first touch of each 4 KiB
 * page was a page fault, 11k more a -j 2 run than at -j 1 on bench/data/api-one.pcap (two
 * engines, two spools), about a tenth of its CPU time; with huge pages that run takes 15k
 * faults instead of 29k, for a few MiB more RSS (partly used huge pages). */
#define ARENA_PREGROW (56u << 20)
static size_t arena_pregrow_bytes = ARENA_PREGROW;   /* kd_run_parallel: at most the shard's budget */
static void arena_pregrow(void)
{
    enum { BLK = 120u << 10, N = ARENA_PREGROW / BLK };
    void *b[N];
    int n = 0, want = (int)(arena_pregrow_bytes / BLK);
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    while (n < want && n < (int)N && (b[n] = malloc(BLK))) {
        if ((uintptr_t)b[n] < lo) lo = (uintptr_t)b[n];
        if ((uintptr_t)b[n] + BLK > hi) hi = (uintptr_t)b[n] + BLK;
        n++;
    }
#ifdef MADV_HUGEPAGE
    /* (the blocks are the arena's heap, one after the other: the range is all mapped; a
     * failure changes nothing but the speed) */
    lo = (lo + 4095) & ~(uintptr_t)4095; hi &= ~(uintptr_t)4095;
    if (n > 1 && hi > lo && hi - lo <= (uintptr_t)n * 2 * BLK) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#endif
    while (n) free(b[--n]);
}

/* by connection, shard 0: a kexport export's names, for its engine and the flow engine's */
typedef struct wlctx { shard *s; uint64_t seq; } wlctx;
static void workload_here(void *arg, const kf_addr *ip, const char *name, size_t len, int64_t from, const char *node)
{
    wlctx *w = arg;
    kd_workload_learn(w->s->e, ip, name, len, from, node);
    kd_fev v;
    memset(&v, 0, sizeof v);
    v.type = KD_FEV_WNAME; v.seq = w->seq; v.phase = KD_PH_PRE;
    v.ip = *ip; v.name = (char *)name; v.namelen = len; v.first_ts = from; v.node = node;
    shard_fev(w->s, &v);
}

/* ------------------------------------------------------------------ scan mode */

/* Scan mode (capture files and folders): the input is read once, in blocks of packets that the
 * workers take in turn. Whichever worker first needs the next block reads it from the source,
 * picks each packet's shard with the one balancer, puts IP fragments together, and copies the
 * packets (and the names a kexport export gives) into the block; then every worker goes
 * through the block, dissects its own packets and tells its engine the capture's time at the
 * others where that does something (names from other shards' DNS answers too; scan_place lists
 * those entries for each worker). So the balancing and the walk through the
 * capture are done once, shared between the workers, instead of once by every worker (each
 * walked every packet to find its own: on bench/data/api-one.pcap that walk was ~40 % of
 * what -j 2 cost over -j 1). The copy costs less than the walk it saves, and it leaves the input
 * with one reader: its mapping is given back right behind it, and what is read but not yet
 * dissected is at most the ring of blocks (SCAN_SLOTS), however far apart the workers drift.
 * A block's slot is refilled once every worker is done with it: a worker that far ahead
 * waits. */
#define SCAN_PKTS 2048             /* packets a block (about 300 KB of API traffic) */
#define SCAN_BYTES (1u << 20)      /* and at most this much data, but for one big packet */
#define SCAN_SLOTS 8
enum { SE_PKT, SE_WNAME };
#define SH_PENDING (-2)
/* The balancer places a block's packets once the next block is read: what a connection carries
 * in the packets ahead (to the end of the next block) tells a long, busy one from a short one
 * when it starts (bal_place). */
#define AHEAD_BITS 13              /* the bytes ahead of each connection, counted in a table of 2^13 (2 blocks of SCAN_PKTS fill half at most) */
enum { SF_DNS = 1, SF_L4 = 2 };
/* bin.fl (scan mode): the balancer places the entry (else: not a packet, or a fragment held);
 * every worker takes it (scan_place); and the one after it */
enum { BF_PENDING = 1, BF_ALL = 2, BF_NEXT = 4 };
#define LE_OWN 0x80000000u         /* lent.i: the worker's own packet */
typedef struct sent {
    int64_t ts;
    int64_t tsmax;                  /* the latest ts of the packets before this entry (INT64_MIN: none) */
    uint64_t seq;                   /* the packet's number in the capture; WNAME: the next one's */
    uint64_t frame;
    const char *file, *node;        /* (the source's: kept until it is closed) */
    uint32_t caplen, origlen, iface, off;   /* off: the packet's bytes in the block (WNAME: its kf_addr then the name; caplen: the name's length) */
    uint32_t l4off;                 /* SF_L4: where the decoded datagram is (a kf_l4, then its bytes) */
    int linktype, capture, rc;
    uint8_t kind, flags;
} sent;
typedef struct sblock {
    sent *e; size_t n, cap;
    bin *in; size_t incap;          /* entry i as the balancer and scan_place take it */
    uint8_t *data; size_t used, dcap;
    int eof;                        /* the source ends after this block */
    /* the entries each worker goes through (scan_place): shard k's at lst[k * lcap], nl[k] of
     * them; each with where its bytes are in data (the worker prefetches them); i | LE_OWN: the
     * worker's own packet */
    struct lent { uint32_t i, off; } *lst; size_t lcap, nl[MAX_SHARDS];
} sblock;
typedef struct scan {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int waiters;
    kf_source *src;                 /* read by the worker holding the scan (scanning), one at a time */
    balancer *b;
    kf_decoder *fdec;               /* IP fragments put together to find their connection */
    size_t dsbs, nrbs;
    uint64_t n;                     /* packets read */
    int64_t tsmax;                  /* the latest ts of those (INT64_MIN: none) */
    int carry;                      /* (scan_place) the next entry is everyone's */
    kcent kc[KCACHE];               /* (scan_fill) the balancer's keys of connections seen lately */
    /* under mu */
    int scanning, eof;
    uint64_t ready;                 /* blocks 0 .. ready-1 are filled and placed (block k in slot k % SCAN_SLOTS) */
    uint64_t nread;                 /* blocks read (ready, or ready + 1: the last one waits to be placed) */
    struct aent { uint64_t h; uint32_t bytes, gen; } *ahead;   /* bytes ahead by connection, up to UINT32_MAX (AHEAD_BITS; scan_place) */
    uint32_t agen;
    uint64_t done[MAX_SHARDS];      /* blocks each worker went through (UINT64_MAX: it stopped) */
    sblock slot[SCAN_SLOTS];
} scan;

/* room for len more bytes (aligned to 8) in the block's data: their offset, or -1 */
static inline long sb_room(sblock *b, size_t len)
{
    size_t at = (b->used + 7) & ~(size_t)7;
    if (at + len > b->dcap) {
        size_t nc = b->dcap ? b->dcap : SCAN_BYTES;
        while (nc < at + len) nc *= 2;
        uint8_t *nd = realloc(b->data, nc);
        if (!nd) return -1;
        b->data = nd; b->dcap = nc;
    }
    b->used = at + len;
    return (long)at;
}
static inline sent *sb_ent(sblock *b)
{
    if (b->n == b->cap) {   /* (SCAN_PKTS, and more for the names of a kexport export) */
        sent *ne = kf_grow(b->e, &b->cap, b->n + (b->cap ? 1 : SCAN_PKTS + 64), sizeof *ne);
        if (!ne) return NULL;
        b->e = ne;
        bin *ni = realloc(b->in, b->cap * sizeof *ni);
        if (!ni) { b->cap = b->incap; return NULL; }   /* (e keeps its room: only cap says less) */
        b->in = ni; b->incap = b->cap;
    }
    b->in[b->n].fl = 0;
    return &b->e[b->n++];
}

typedef struct wnctx { sblock *b; uint64_t seq; int64_t tsmax; int failed; } wnctx;
static void scan_wname(void *arg, const kf_addr *ip, const char *name, size_t len, int64_t from, const char *node)
{
    wnctx *w = arg;
    sent *e = sb_ent(w->b);
    long off = e ? sb_room(w->b, sizeof *ip + len) : -1;   /* (a name from a packet comment is the reader's: copied) */
    if (off < 0) { w->failed = 1; if (e) w->b->n--; return; }
    memcpy(w->b->data + off, ip, sizeof *ip);
    memcpy(w->b->data + off + sizeof *ip, name, len);
    memset(e, 0, sizeof *e);
    e->kind = SE_WNAME; e->seq = w->seq; e->ts = from; e->caplen = (uint32_t)len; e->node = node;
    e->tsmax = w->tsmax;
    w->b->in[w->b->n - 1].fl = BF_ALL | BF_NEXT;
    e->off = (uint32_t)off;
}

/* The decoded datagram l4 (of a packet whose bytes are at pkt in the block) into the block: the
 * kf_l4 and where its pointers point, as offsets into the block's data (into the packet's
 * bytes, or into a copy of what they name elsewhere: a datagram put together from fragments). */
typedef struct sl4 { kf_l4 l4; uint32_t o[3]; } sl4;   /* l3, payload, icmp_inner; UINT32_MAX: NULL */
static long sb_put_l4(sblock *b, const kf_l4 *l4, uint32_t pkt, const uint8_t *pdata, uint32_t caplen)
{
    const uint8_t *ptr[3] = { l4->l3, l4->payload, l4->icmp_inner };
    size_t len[3] = { l4->l3len, l4->paylen, l4->icmp_inner_len };
    long off = sb_room(b, sizeof(sl4));
    if (off < 0) return -1;
    uint32_t o[3];
    for (int i = 0; i < 3; i++) {
        if (!ptr[i]) o[i] = UINT32_MAX;
        else if (ptr[i] >= pdata && ptr[i] + len[i] <= pdata + caplen) o[i] = pkt + (uint32_t)(ptr[i] - pdata);
        else {
            long c = sb_room(b, len[i]);
            if (c < 0) return -1;
            memcpy(b->data + c, ptr[i], len[i]);
            o[i] = (uint32_t)c;
        }
    }
    sl4 *d = (sl4 *)(void *)(b->data + off);
    d->l4 = *l4;
    memcpy(d->o, o, sizeof o);
    return off;
}

/* The decoded datagram of entry e, its pointers into the block. */
static void sb_l4(const sblock *b, const sent *e, kf_l4 *l4)
{
    const sl4 *d = (const sl4 *)(const void *)(b->data + e->l4off);
    *l4 = d->l4;
    l4->l3 = d->o[0] == UINT32_MAX ? NULL : b->data + d->o[0];
    l4->payload = d->o[1] == UINT32_MAX ? NULL : b->data + d->o[1];
    l4->icmp_inner = d->o[2] == UINT32_MAX ? NULL : b->data + d->o[2];
}

/* The shards of block a's packets, next: the block read after it (NULL: none); and the entries
 * of a each worker goes through (lst). 0, or -1: out of memory.
 * A worker needs its own packets, and of the others' only those where its engine does more
 * than count the packet and keep the latest time (kd_engine_skip does that for a run of them
 * at once): every PASS_PKTS-th packet (housekeeping, release points), DNS answers (names),
 * a kexport export's names, and the packet after a housekeeping packet or a name from an
 * export (its engine checks there whether it holds more than its share of --max-memory, which
 * what came before may have changed; elsewhere nothing changed it since the last check). Each
 * worker went through every entry of every block (~80 bytes each, written on the other
 * core) and called kd_engine_pass for every other shard's packet: on bench/data/api-one.pcap
 * that walk was about an eighth of what -j 2 cost over -j 1. */
static int scan_place(scan *sc, sblock *a, const sblock *next)
{
    /* (by connection, not by a slice of its hash without keys: the connections of a window
     * that shared a count, and so their placement, put records of one instant out of capture
     * order at -j 2 in kdissect_bounds.bats's back-in-time capture: see merge's tie-break) */
    struct aent *t = sc->ahead;
    const size_t mask = ((size_t)1 << AHEAD_BITS) - 1;
    if (++sc->agen == 0) { memset(t, 0, sizeof *t << AHEAD_BITS); sc->agen = 1; }
    uint32_t gen = sc->agen;
    for (int pass = 0; pass < 2; pass++) {   /* backwards: next, then a */
        sblock *b = pass ? a : (sblock *)next;
        if (!b) continue;
        for (size_t i = b->n; i-- > 0;) {
            bin *in = &b->in[i];
            if (!(in->fl & BF_PENDING) || !in->ip) continue;
            size_t j = in->h & mask;
            while (t[j].gen == gen && t[j].h != in->h) j = (j + 1) & mask;
            if (t[j].gen != gen) { t[j].gen = gen; t[j].h = in->h; t[j].bytes = 0; }
            in->ahead = t[j].bytes;
            /* (bal_pick takes at most UINT32_MAX: the sum stops there) */
            t[j].bytes = t[j].bytes + in->cost < t[j].bytes ? UINT32_MAX : t[j].bytes + in->cost;
        }
    }
    int nsh = sc->b->nsh;
    if (a->lcap < a->n) {
        struct lent *nl = malloc((size_t)nsh * a->n * sizeof *nl);
        if (!nl) return -1;
        free(a->lst); a->lst = nl; a->lcap = a->n;
    }
    for (int k = 0; k < nsh; k++) a->nl[k] = 0;
    for (size_t i = 0; i < a->n; i++) {   /* (from the bins only: the entries may be in the other core's cache) */
        const bin *in = &a->in[i];
        int k = -1;   /* a held fragment, a name: nobody's */
        if (in->fl & BF_PENDING) k = bal_pick(sc->b, in, in->ip ? in->ahead : 0);
        if (sc->carry || (in->fl & BF_ALL))
            for (int j = 0; j < nsh; j++)
                a->lst[(size_t)j * a->lcap + a->nl[j]++] = (struct lent){ (uint32_t)i | (j == k ? LE_OWN : 0), in->off };
        else if (k >= 0)
            a->lst[(size_t)k * a->lcap + a->nl[k]++] = (struct lent){ (uint32_t)i | LE_OWN, in->off };
        sc->carry = (in->fl & BF_NEXT) != 0;
    }
    return 0;
}

/* Reads the next block from the source (the caller holds the scan); its packets wait to be
 * placed (scan_place). 0, or -1: out of memory. */
static int scan_fill(prun *x, scan *sc, sblock *b)
{
    b->n = 0; b->used = 0; b->eof = 0;
    kf_source *src = sc->src;
    balancer *bal = sc->b;
    kf_src_pkt p;
    int r = 1;
    while (b->n < SCAN_PKTS && b->used < SCAN_BYTES) {
        if ((r = kf_source_next(src, &p)) != 1) break;
        kd_source_dsbs(x->keys, src, &sc->dsbs);
        wnctx wc = { b, sc->n + 1, sc->tsmax, 0 };
        kd_source_workloads(src, &sc->nrbs, &p, scan_wname, &wc);   /* a kexport export's names */
        if (wc.failed) return -1;
        pinfo pi;
        bkey bk;
        int k = SH_PENDING, whole = 0, fast = bkey_fast(&p.pkt, &bk);   /* whole: pi is the datagram the fragments made */
        if (!fast) {
            pkt_info(&p.pkt, &pi);
            if (pi.l4.fragment && sc->fdec) {
                pi.rc = kf_decode(sc->fdec, p.pkt.linktype, p.pkt.data, p.pkt.caplen, p.pkt.ts_ns, &pi.l4);
                whole = pi.rc != KF_DEC_HELD;
                if (whole) bkey_of(&pi, &bk);
                else k = -1;   /* held: nobody's yet */
            } else
                bkey_of(&pi, &bk);
        }
        sc->n++;
        sent *e = sb_ent(b);
        long off = e ? sb_room(b, p.pkt.caplen) : -1;
        if (off < 0) return -1;
        bin *in = &b->in[b->n - 1];
        if (k == SH_PENDING) {   /* placed by scan_place */
            if (fast) bal_key_fast(bal, sc->kc, &bk, p.pkt.caplen, in);
            else bal_key(bal, &bk, p.pkt.caplen, in);
            in->fl = BF_PENDING;
        }
        in->off = (uint32_t)off;
        if (sc->n % PASS_PKTS == 0) in->fl |= BF_ALL | BF_NEXT;
        memcpy(b->data + off, p.pkt.data, p.pkt.caplen);
        e->kind = SE_PKT; e->seq = sc->n; e->ts = p.pkt.ts_ns; e->frame = p.frame;
        e->tsmax = sc->tsmax;
        if (p.pkt.ts_ns > sc->tsmax) sc->tsmax = p.pkt.ts_ns;
        e->file = p.file; e->node = p.node;
        e->caplen = p.pkt.caplen; e->origlen = p.pkt.origlen; e->iface = p.pkt.iface; e->off = (uint32_t)off;
        e->linktype = p.pkt.linktype; e->capture = p.iface ? p.iface->capture : KF_CAP_UNKNOWN;
        e->flags = 0;
        if (whole) {   /* the datagram as the fragments made it: its owner dissects it, the others may learn names from it */
            long lo = sb_put_l4(b, &pi.l4, (uint32_t)off, p.pkt.data, p.pkt.caplen);
            if (lo < 0) return -1;
            e->l4off = (uint32_t)lo; e->rc = pi.rc; e->flags |= SF_L4;
        }
        if (!fast && x->dns_on && is_dns_answer(&pi)) { e->flags |= SF_DNS; in->fl |= BF_ALL; }   /* (a fast one is TCP) */
        const char *w;
        while ((w = kf_source_warning(src))) kf_warn("%s", w);
    }
    if (r < 0) run_fail(x, -2, kf_source_error(src));
    if (r != 1) b->eof = 1;
    return 0;
}

/* The block this worker goes through next (its k-th), once it is filled: by another worker, or
 * by this one. Whoever gets here while the block after its next one is not filled yet, nobody
 * is filling one and that block's slot is free, fills it now, one block ahead: so a worker
 * rarely waits for the other to finish filling the block it needs (in lockstep they would
 * reach every block together). NULL: no more (the input ended, or the run stopped). */
static sblock *scan_next(prun *x, scan *sc, uint64_t k)
{
    sblock *b = NULL;
    pthread_mutex_lock(&sc->mu);
    for (;;) {
        uint64_t r = sc->nread;
        int fill = !sc->scanning && !sc->eof && !out_failed(x) && sc->ready <= k + 1;
        if (fill && r >= SCAN_SLOTS)   /* every worker is done with the block the slot held */
            for (int i = 0; i < x->jobs; i++) if (sc->done[i] < r - SCAN_SLOTS + 1) fill = 0;
        if (fill) {
            sc->scanning = 1;
            pthread_mutex_unlock(&sc->mu);
            sblock *nb = &sc->slot[r % SCAN_SLOTS];
            int rc = scan_fill(x, sc, nb);
            /* the block before is placed now; the last one too at the end */
            if (rc == 0 && r > 0) rc = scan_place(sc, &sc->slot[(r - 1) % SCAN_SLOTS], nb);
            if (rc == 0 && nb->eof) rc = scan_place(sc, nb, NULL);
            if (rc != 0) run_fail(x, -1, "out of memory");
            pthread_mutex_lock(&sc->mu);
            sc->scanning = 0;
            if (rc == 0) { sc->nread++; if (r > 0) sc->ready++; if (nb->eof) sc->ready++; }
            if (rc != 0 || nb->eof) sc->eof = 1;
            if (sc->waiters) pthread_cond_broadcast(&sc->cv);
            continue;
        }
        if (k < sc->ready) { b = &sc->slot[k % SCAN_SLOTS]; break; }
        if (sc->eof || out_failed(x)) break;
        sc->waiters++;
        pthread_cond_wait(&sc->cv, &sc->mu);
        sc->waiters--;
    }
    pthread_mutex_unlock(&sc->mu);
    return b;
}

static void scan_done(scan *sc, int idx, uint64_t v)
{
    pthread_mutex_lock(&sc->mu);
    sc->done[idx] = v;
    if (sc->waiters) pthread_cond_broadcast(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
}

/* scan mode: this worker goes through every block, dissects its own packets and passes the
 * others' on to its engine where that does something there (scan_place) */
static void *scan_worker(void *arg)
{
    shard *s = arg;
    arena_pregrow();
    prun *x = s->run;
    scan *sc = x->scan;
    int stop = 0;
    uint64_t last = 0;   /* the packet its engine has reached */
    for (uint64_t k = 0; !stop; k++) {
        sblock *b = scan_next(x, sc, k);
        if (!b) break;
        const struct lent *lst = b->lst + (size_t)s->idx * b->lcap;
        size_t nl = b->nl[s->idx];
        for (size_t li = 0; li < nl && !stop; li++) {
            const sent *e = &b->e[lst[li].i & ~LE_OWN];
            /* The block was written on the other core, or long enough ago to have left this
             * one's caches: the entries and packets this worker takes next are fetched while it
             * dissects this one (kf_decode and the entry's fields waited on them) */
            if (li + 2 < nl) {
                const uint8_t *d = b->data + lst[li + 2].off;
                __builtin_prefetch(&b->e[lst[li + 2].i & ~LE_OWN]);
                __builtin_prefetch(d);
                __builtin_prefetch(d + 64);
                __builtin_prefetch(d + 128);
            }
            if (e->seq - 1 > last) kd_engine_skip(s->e, e->seq - 1, e->tsmax);   /* the packets between */
            if (e->kind == SE_WNAME) {
                kf_addr ip;
                memcpy(&ip, b->data + e->off, sizeof ip);
                const char *name = (const char *)b->data + e->off + sizeof ip;
                if (x->remote && s->idx == 0) {
                    wlctx wc = { s, e->seq };
                    workload_here(&wc, &ip, name, e->caplen, e->ts, e->node);
                } else
                    kd_workload_learn(s->e, &ip, name, e->caplen, e->ts, e->node);
                continue;
            }
            uint64_t n = last = e->seq;
            if (lst[li].i & LE_OWN) {
                if (e->flags & SF_L4) {   /* put together from fragments */
                    kf_l4 l4;
                    sb_l4(b, e, &l4);
                    kd_engine_packet_l4(s->e, e->ts, e->rc, &l4, e->origlen, e->iface, e->file, e->node, e->capture, e->frame);
                } else
                    kd_engine_packet(s->e, e->ts, e->linktype, b->data + e->off, e->caplen, e->origlen, e->iface,
                                     e->file, e->node, e->capture, e->frame);
            } else {
                if (e->flags & SF_DNS) {   /* another shard's DNS answer: its names here too */
                    pinfo pi;
                    if (e->flags & SF_L4) { pi.rc = e->rc; sb_l4(b, e, &pi.l4); }
                    else {
                        kf_pkt pk;
                        memset(&pk, 0, sizeof pk);
                        pk.linktype = e->linktype; pk.data = b->data + e->off; pk.caplen = e->caplen; pk.ts_ns = e->ts;
                        pkt_info(&pk, &pi);
                    }
                    learnctx lc = { s->e, e->ts };
                    kd_dns_names(pi.l4.payload, pi.l4.paylen, learn_here, &lc);
                }
                kd_engine_pass(s->e, e->ts, n);
            }
            if (n % RELEASE_PKTS == 0) {
                if (x->remote && s->idx == 0) {   /* the flow engine's flow intervals at this packet */
                    kd_fev v;
                    memset(&v, 0, sizeof v);
                    v.type = KD_FEV_TICK; v.seq = n; v.phase = KD_PH_TICK; v.first_ts = e->ts;
                    shard_fev(s, &v);
                }
                release_point(s, n);
            }
            if ((n & 1023) == 0) __atomic_store_n(&s->pos, n, __ATOMIC_RELAXED);
            if (x->remote && n % PASS_PKTS == 0) share_budget(s);
            if (out_failed(x)) stop = 1;   /* output failed: stop reading */
        }
        scan_done(sc, s->idx, stop ? UINT64_MAX : k + 1);
    }
    /* the packets after its last one (once the input is read: n and tsmax are the reader's) */
    pthread_mutex_lock(&sc->mu);
    if (!stop && sc->eof && !sc->scanning && sc->n > last) kd_engine_skip(s->e, sc->n, sc->tsmax);
    pthread_mutex_unlock(&sc->mu);
    scan_done(sc, s->idx, UINT64_MAX);   /* nobody waits for us now */
    __atomic_store_n(&s->pos, UINT64_MAX, __ATOMIC_RELAXED);
    finish_shard(s);
    return NULL;
}

/* copy mode: packets and the rest come through the queue */
static void *queue_worker(void *arg)
{
    shard *s = arg;
    arena_pregrow();
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->done) pthread_cond_wait(&s->cv, &s->mu);
        batch *b = s->head;
        if (b) { s->head = b->next; if (!s->head) s->tail = NULL; s->queued--; pthread_cond_signal(&s->cv_space); }
        pthread_mutex_unlock(&s->mu);
        if (!b) break;
        for (size_t i = 0; i < b->n; i++) {
            item *m = &b->it[i];
            if (m->kind == IT_WNAME) {
                kf_addr ip;
                memcpy(&ip, b->data + m->off, sizeof ip);
                kd_engine_learn_workload(s->e, &ip, (const char *)b->data + m->off + sizeof ip, m->caplen, m->ts, m->node);
                continue;
            }
            if (m->kind == IT_NAME) {
                kf_addr ip;
                memcpy(&ip, b->data + m->off, sizeof ip);
                kd_engine_learn_name(s->e, &ip, (const char *)b->data + m->off + sizeof ip, m->caplen, m->ts);
                continue;
            }
            if (m->kind == IT_PKT) {
                kd_engine_seq(s->e, m->seq - 1);
                kd_engine_packet(s->e, m->ts, m->linktype, b->data + m->off, m->caplen, m->origlen, m->iface,
                                 m->file, m->node, m->capture, m->frame);
            } else
                kd_engine_pass(s->e, m->ts, m->seq);
            if (m->seq % RELEASE_PKTS == 0) release_point(s, m->seq);
        }
        if (b->cap == BATCH_BYTES) {   /* give it back for reuse */
            pthread_mutex_lock(&s->mu);
            b->next = s->freel; s->freel = b;
            pthread_mutex_unlock(&s->mu);
        } else free(b);
    }
    finish_shard(s);
    return NULL;
}

/* ------------------------------------------------------------------ copy mode, reader side */

static void push(shard *s)
{
    batch *b = s->cur;
    s->cur = NULL;
    if (!b) return;
    if (!b->n) { free(b); return; }
    pthread_mutex_lock(&s->mu);
    while (s->queued >= s->run->qmax) pthread_cond_wait(&s->cv_space, &s->mu);
    b->next = NULL;
    if (s->tail) s->tail->next = b; else s->head = b;
    s->tail = b; s->queued++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* room for one item with len bytes in the shard's current batch; NULL = out of memory */
static item *slot(shard *s, size_t len)
{
    if (s->cur && (s->cur->n == BATCH_ITEMS || s->cur->used + len > s->cur->cap)) push(s);
    if (!s->cur) {
        batch *b = NULL;
        if (len <= BATCH_BYTES) {
            pthread_mutex_lock(&s->mu);
            if ((b = s->freel)) s->freel = b->next;
            pthread_mutex_unlock(&s->mu);
            if (!b) { b = malloc(sizeof *b + BATCH_BYTES); if (b) b->cap = BATCH_BYTES; }
        } else if ((b = malloc(sizeof *b + len))) b->cap = len;   /* a giant packet: a batch of its own */
        if (!b) return NULL;
        b->n = b->used = 0;
        s->cur = b;
    }
    item *m = &s->cur->it[s->cur->n++];
    m->off = (uint32_t)s->cur->used;
    s->cur->used += len;
    return m;
}

typedef struct namectx { shard *sh; int n, owner; int64_t ts; int failed; } namectx;

static void name_to_others(void *arg, const kf_addr *ip, const char *name, size_t len)
{
    namectx *nc = arg;
    if (!len || len > 255) return;
    for (int i = 0; i < nc->n; i++) {
        if (i == nc->owner) continue;
        item *m = slot(&nc->sh[i], sizeof *ip + len);
        if (!m) { nc->failed = 1; return; }
        m->kind = IT_NAME; m->ts = nc->ts; m->caplen = (uint32_t)len;
        memcpy(nc->sh[i].cur->data + m->off, ip, sizeof *ip);
        memcpy(nc->sh[i].cur->data + m->off + sizeof *ip, name, len);
    }
}

/* a workload name a kexport export gives: to every shard, before the packet that follows */
static void workload_to_all(void *arg, const kf_addr *ip, const char *name, size_t len, int64_t from,
                            const char *node)
{
    namectx *nc = arg;
    if (!len || len > 255) return;
    for (int i = 0; i < nc->n; i++) {
        item *m = slot(&nc->sh[i], sizeof *ip + len);
        if (!m) { nc->failed = 1; return; }
        m->kind = IT_WNAME; m->ts = from; m->caplen = (uint32_t)len; m->node = node;
        memcpy(nc->sh[i].cur->data + m->off, ip, sizeof *ip);
        memcpy(nc->sh[i].cur->data + m->off + sizeof *ip, name, len);
    }
}

/* ------------------------------------------------------------------ merger */

/* the merge is done with cap bytes of this shard's output: a worker waiting on it goes on */
static void outstanding_sub(shard *s, size_t cap)
{
    pthread_mutex_lock(&s->mu);
    __atomic_sub_fetch(&s->outstanding, cap, __ATOMIC_RELAXED);
    pthread_cond_signal(&s->cv_out);
    pthread_mutex_unlock(&s->mu);
}

/* Chunks go back to their worker: fresh memory for each (an mmap, and a fault per page) cost
 * more than the copy into it. */
#define OFREE_MAX 8
static void spool_drop(merger *m, shard *s, ochunk *c)
{
    m->mem -= c->cap;
    outstanding_sub(s, c->cap);
    if (c->cap == OCHUNK) {
        pthread_mutex_lock(&s->mu);
        if (s->nofree < OFREE_MAX) { c->next = s->ofree; s->ofree = c; s->nofree++; c = NULL; }
        pthread_mutex_unlock(&s->mu);
    }
    free(c);
}

static int flush_out(merger *m);

/* Takes what the worker published into the merger's side (memory, or the file past the budget). */
static int take(merger *m, shard *s, int64_t *safe, int *finished)
{
    pthread_mutex_lock(&s->mu);
    ochunk *c = s->ohead;
    s->ohead = s->otail = NULL;
    *safe = s->safe;
    *finished = s->finished;
    pthread_mutex_unlock(&s->mu);
    while (c) {
        ochunk *nx = c->next;
        c->next = NULL;
        /* (workers wait at the budget; the slack covers the chunk each may still hand over) */
        if (s->spilling || m->mem + c->cap > m->budget + (size_t)m->n * 2 * OCHUNK) {
            if (!s->spf) {   /* in $TMPDIR, as the engines' runs (tmpfile() ignores it), else as before */
                int fd = kd_spill_fd();
                if (fd >= 0 && !(s->spf = fdopen(fd, "w+b"))) close(fd);
                if (!s->spf && !(s->spf = tmpfile())) { snprintf(m->err, sizeof m->err, "cannot create a temporary file"); return -1; }
            }
            int bad = fseeko(s->spf, (off_t)s->spw, SEEK_SET) != 0;
            for (uint32_t i = 0; i < c->n && !bad; i++) {
                const oent *en = oc_ent(c, i);
                unsigned char hdr[SPHDR];
                memcpy(hdr, &en->ts, 8); memcpy(hdr + 8, &en->len, 4); memcpy(hdr + 12, &en->foff, 4); memcpy(hdr + 16, &en->cid, 4);
                if (fwrite(hdr, 1, SPHDR, s->spf) != SPHDR || fwrite(c->buf + en->off, 1, en->len, s->spf) != en->len) bad = 1;
                s->spw += SPHDR + (uint64_t)en->len;
            }
            if (bad) { snprintf(m->err, sizeof m->err, "cannot write a temporary file"); free(c); return -1; }
            s->spilling = 1;
            outstanding_sub(s, c->cap);
            free(c);
        } else {
            m->mem += c->cap;
            if (s->mtail) s->mtail->next = c; else s->mhead = c;
            s->mtail = c;
        }
        c = nx;
    }
    return 0;
}

/* Loads the shard's next record as its head, if it has one on hand. */
static int load(merger *m, shard *s)
{
    if (s->has) return 0;
    while (s->mhead && s->mhead->rd >= s->mhead->n) {
        ochunk *c = s->mhead;
        s->mhead = c->next;
        if (!s->mhead) s->mtail = NULL;
        if (m->nrel == MV_IOV && flush_out(m) != 0) return -1;
        m->rel[m->nrel].s = s; m->rel[m->nrel].c = c;   /* its records may be on their way out */
        m->nrel++;
    }
    if (s->mhead) {
        ochunk *c = s->mhead;
        const oent *en = oc_ent(c, c->rd++);
        s->hts = en->ts; s->hrec = c->buf + en->off; s->hlen = en->len; s->hfoff = en->foff; s->hcid = en->cid;
        s->has = 1;
        return 0;
    }
    if (s->spilling && s->spr < s->spw) {
        unsigned char hdr[SPHDR];
        uint32_t l;
        if (fseeko(s->spf, (off_t)s->spr, SEEK_SET) != 0 || fread(hdr, 1, SPHDR, s->spf) != SPHDR) goto bad;
        memcpy(&s->hts, hdr, 8); memcpy(&l, hdr + 8, 4); memcpy(&s->hfoff, hdr + 12, 4); memcpy(&s->hcid, hdr + 16, 4);
        if (s->hfoff && (uint64_t)s->hfoff + 8 > l) goto bad;
        if (l > s->fcap) {
            char *nb = realloc(s->fbuf, l);
            if (!nb) { snprintf(m->err, sizeof m->err, "out of memory"); return -1; }
            s->fbuf = nb; s->fcap = l;
        }
        if (fread(s->fbuf, 1, l, s->spf) != l) goto bad;
        s->spr += SPHDR + (uint64_t)l;
        s->hrec = s->fbuf; s->hlen = l;
        s->has = 1;
        if (s->spr == s->spw) { s->spr = s->spw = 0; s->spilling = 0; }   /* drained: memory again */
        return 0;
    }
    return 0;
bad:
    snprintf(m->err, sizeof m->err, "cannot read a temporary file");
    return -1;
}

/* ------------------------------------------------------------------ flow engine (by connection) */

/* A connection's slot: its id itself. Ids are handed out in turn (shard + k * jobs), so the
 * connections of a time sit side by side in the table and its look-ups (one per flow event
 * and per record) hit the cache; a hash spread them over the table (a miss each). */
static size_t fmap_slot(uint32_t cid, size_t cap) { return cid & (cap - 1); }

static fmapent *fmap_find(fmap *mp, uint32_t cid)
{
    if (!mp->cap) return NULL;
    for (size_t j = fmap_slot(cid, mp->cap);; j = (j + 1) & (mp->cap - 1)) {
        if (!mp->t[j].used) return NULL;
        if (mp->t[j].cid == cid) return &mp->t[j];
    }
}
static fmapent *fmap_put(fmap *mp, uint32_t cid)
{
    if ((mp->n + 1) * 2 > mp->cap) {
        size_t nc = mp->cap ? mp->cap * 2 : 4096;
        fmapent *nt = calloc(nc, sizeof *nt);
        if (!nt) return NULL;
        for (size_t i = 0; i < mp->cap; i++)
            if (mp->t[i].used) {
                size_t j = fmap_slot(mp->t[i].cid, nc);
                while (nt[j].used) j = (j + 1) & (nc - 1);
                nt[j] = mp->t[i];
            }
        free(mp->t); mp->t = nt; mp->cap = nc;
    }
    fmapent *f = fmap_find(mp, cid);
    if (f) return f;
    size_t j = fmap_slot(cid, mp->cap);
    while (mp->t[j].used) j = (j + 1) & (mp->cap - 1);
    mp->t[j].used = 1; mp->t[j].cid = cid; mp->n++;
    return &mp->t[j];
}
/* Forgets closed connections none of whose records can still be on their way (all are older
 * than what every shard may still write). */
static void fmap_prune(fmap *mp, int64_t low)
{
    if (mp->n < mp->prune_at || mp->n < 4096) return;
    size_t keep = 0, nc = 4096;
    for (size_t i = 0; i < mp->cap; i++)
        if (mp->t[i].used && (!mp->t[i].closed || mp->t[i].max_ts >= low)) keep++;
    while ((keep + 1) * 2 > nc) nc *= 2;   /* one table of the right size (not grown from 4096) */
    fmapent *nt = calloc(nc, sizeof *nt);
    if (!nt) return;   /* (kept as it is: pruning is only to bound it) */
    for (size_t i = 0; i < mp->cap; i++) {
        fmapent *o = &mp->t[i];
        if (!o->used || (o->closed && o->max_ts < low)) continue;
        size_t j = fmap_slot(o->cid, nc);
        while (nt[j].used) j = (j + 1) & (nc - 1);
        nt[j] = *o;
    }
    free(mp->t);
    mp->t = nt; mp->cap = nc; mp->n = keep;
    mp->prune_at = mp->n * 2;
}

static int fev_cmp(const void *pa, const void *pb)
{
    const kd_fev *a = *(kd_fev *const *)pa, *b = *(kd_fev *const *)pb;
    if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
    if (a->phase != b->phase) return a->phase < b->phase ? -1 : 1;
    if (a->ka != b->ka) return a->ka < b->ka ? -1 : 1;
    if (a->kb != b->kb) return a->kb < b->kb ? -1 : 1;
    if (a->shard != b->shard) return a->shard < b->shard ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The merge thread's turn of the flow engine: takes the shards' events, applies (in the
 * capture's order) those every shard has sent all of, releases its records up to what no
 * shard can precede. 0, or -1 (m->err). */
static int fe_step(merger *m)
{
    prun *x = m->x;
    if (!x || !x->remote || x->fe_done) return 0;
    shard *fs = &m->sh[x->jobs];
    uint64_t P = UINT64_MAX;
    int64_t natP = INT64_MAX;
    size_t npend = 0;
    for (int i = 0; i < x->jobs; i++) {
        shard *s = &m->sh[i];
        pthread_mutex_lock(&s->mu);
        if (fev_move(&s->qev, &s->nqev, &s->capqev, &s->pev, &s->npev, &s->cappev) < 0) {
            pthread_mutex_unlock(&s->mu); snprintf(m->err, sizeof m->err, "out of memory"); return -1;
        }
        npend += s->nqev;
        if (s->ev_upto < P) P = s->ev_upto;
        pthread_mutex_unlock(&s->mu);
    }
    int changed = 0;
    if (P > x->fe_upto) {
        for (int i = 0; i < x->jobs; i++) {   /* each shard's natural watermark as of packet P */
            shard *s = &m->sh[i];
            int64_t nat = INT64_MIN;
            pthread_mutex_lock(&s->mu);
            size_t k = 0;
            while (k < s->nhist && s->hist[k].upto <= P) nat = s->hist[k++].nat;
            if (k > 1) { memmove(s->hist, s->hist + k - 1, (s->nhist - k + 1) * sizeof *s->hist); s->nhist -= k - 1; }
            pthread_mutex_unlock(&s->mu);
            if (nat < natP) natP = nat;
        }
        /* every shard has sent all its events up to packet P: those, in order */
        size_t nsel = 0;
        if (npend > x->capsel) {
            size_t nc = x->capsel ? x->capsel : 1024;
            while (nc < npend) nc *= 2;
            kd_fev **nv = realloc(x->sel, nc * sizeof *nv);
            if (!nv) { snprintf(m->err, sizeof m->err, "out of memory"); return -1; }
            x->sel = nv; x->capsel = nc;
        }
        kd_fev **sel = x->sel;
        for (int j = 0; j < x->jobs; j++) {
            shard *s = &m->sh[j];
            for (size_t i = 0; i < s->nqev; i++) if (s->qev[i].seq <= P) sel[nsel++] = &s->qev[i];
        }
        qsort(sel, nsel, sizeof *sel, fev_cmp);
        for (size_t i = 0; i < nsel; i++) {
            kd_fev *v = sel[i];
            fmapent *f = NULL;
            if (v->type == KD_FEV_ATTACH) {
                f = fmap_put(&x->map, v->conn_id);
                if (!f) { free(sel); snprintf(m->err, sizeof m->err, "out of memory"); return -1; }
                f->closed = 0; f->flow = NULL;
                kd_engine_flow_apply(x->fe, v, &f->flow, &f->fid);
                if (v->conn_id != UINT32_MAX) { x->fcache[v->conn_id & (FCACHE - 1)].cid = v->conn_id; x->fcache[v->conn_id & (FCACHE - 1)].fid = f->fid; }
                __atomic_add_fetch(&x->fe_attaches, 1, __ATOMIC_RELAXED);
            } else if (v->type == KD_FEV_DELTA || v->type == KD_FEV_CLOSE) {
                if ((f = fmap_find(&x->map, v->conn_id))) {
                    kd_engine_flow_apply(x->fe, v, &f->flow, NULL);
                    if (v->type == KD_FEV_CLOSE) { f->closed = 1; f->max_ts = v->max_rec_ts; f->flow = NULL; }
                }
            } else
                kd_engine_flow_apply(x->fe, v, NULL, NULL);
            if (v->type == KD_FEV_NAME || v->type == KD_FEV_WNAME) free(v->name);
        }
        for (int j = 0; j < x->jobs; j++) {   /* what is left, in the order sent */
            shard *s = &m->sh[j];
            size_t k = 0;
            for (size_t i = 0; i < s->nqev; i++)
                if (s->qev[i].seq > P) { if (k != i) s->qev[k] = s->qev[i]; k++; }
            s->nqev = k;
        }
        x->fe_upto = P;
        if (P == UINT64_MAX) { kd_engine_finish(x->fe); x->fe_finishing = 1; }
        x->fe_nat = natP;
        changed = 1;
    }
    /* nothing the flow engine is yet to make starts before its dirty flows, nor before a
     * connection a shard still had open at packet P */
    int64_t nat = x->fe_finishing ? INT64_MAX : kd_engine_natural(x->fe);
    if (x->fe_nat < nat) nat = x->fe_nat;
    if (nat != x->natural[x->jobs]) { __atomic_store_n(&x->natural[x->jobs], nat, __ATOMIC_RELEASE); changed = 1; }
    int64_t cap = global_cap(x);
    kd_engine_cap(x->fe, cap);
    if (kd_engine_release(x->fe) != 0 && !fs->wfailed) { snprintf(m->err, sizeof m->err, "write error"); return -1; }
    if (fs->wfailed) { snprintf(m->err, sizeof m->err, "out of memory"); return -1; }
    __atomic_store_n(&x->fe_mem, kd_engine_mem(x->fe), __ATOMIC_RELAXED);
    mem_sample(x, x->jobs, kd_engine_mem(x->fe));
    int64_t safe = kd_engine_watermark(x->fe);
    if (!x->fe_finishing && x->fe_nat < safe) safe = x->fe_nat;
    if (x->fe_finishing && cap == INT64_MAX) { publish(fs, INT64_MAX, 1); x->fe_done = 1; }
    else if (changed || (fs->wcur && fs->wcur->len) || safe > fs->safe) publish(fs, safe, 0);
    return 0;
}

/* by connection: a shard's record names its flow by its connection's id: the flow engine's id
 * goes in its place. 0 when that is not known yet (the flow engine is behind). */
static int patch_flow(merger *m, shard *s, uint32_t *fid)
{
    prun *x = m->x;
    if (!x || !x->remote || s->isfe || !s->hfoff) return 1;
    uint32_t cid = s->hcid;
    if (x->fcache[cid & (FCACHE - 1)].cid == cid && cid != UINT32_MAX) { *fid = x->fcache[cid & (FCACHE - 1)].fid; return 1; }
    fmapent *f = fmap_find(&x->map, cid);
    if (!f) return 0;
    *fid = f->fid;
    if (cid != UINT32_MAX) { x->fcache[cid & (FCACHE - 1)].cid = cid; x->fcache[cid & (FCACHE - 1)].fid = f->fid; }
    return 1;
}

/* Writes what is on its way out, then releases the chunks it came from. */
static int flush_out(merger *m)
{
    int rc = 0;
    if (m->niov && m->outv(m->out_arg, m->iov, m->niov) != 0) {
        snprintf(m->err, sizeof m->err, "write error");
        rc = -1;
    }
    m->niov = m->nids = 0;
    m->stagelen = 0;
    for (int i = 0; i < m->nrel; i++) spool_drop(m, m->rel[i].s, m->rel[i].c);
    m->nrel = 0;
    return rc;
}

/* The head record goes out with its id: {"id":"<prefix>-<index in the output>", then the
 * record (the engines write it without one), in place in its chunk. */
static int emit(merger *m, shard *s, int patch, uint32_t fid)
{
    const char *l = s->hrec;
    size_t len = s->hlen, foff = s->hfoff;
    s->has = 0;
    if (m->niov + 4 > MV_IOV && flush_out(m) != 0) return -1;
    int unstaged = 0;   /* read back from the temp file into a buffer the next record reuses */
    if (l == s->fbuf && len > 1) {
        if (m->stagelen + len > MV_STAGE && flush_out(m) != 0) return -1;
        if (len <= MV_STAGE) {
            memcpy(m->stage + m->stagelen, l, len);
            l = m->stage + m->stagelen;
            m->stagelen += len;
        } else unstaged = 1;
    }
    char *id = m->ids[m->nids], *f = m->fids[m->nids];
    m->nids++;
    size_t k = kd_idgen_next(&m->idg, id, len > 3);
    m->iov[m->niov].iov_base = id; m->iov[m->niov++].iov_len = k;
    if (patch && foff > 1 && foff + 8 <= len) {   /* the record with the flow engine's id in place of its own */
        static const char hx[] = "0123456789abcdef";
        for (int j = 0; j < 8; j++) f[j] = hx[(fid >> (28 - 4 * j)) & 15];
        m->iov[m->niov].iov_base = (void *)(l + 1); m->iov[m->niov++].iov_len = foff - 1;
        m->iov[m->niov].iov_base = f; m->iov[m->niov++].iov_len = 8;
        if (len > foff + 8) { m->iov[m->niov].iov_base = (void *)(l + foff + 8); m->iov[m->niov++].iov_len = len - foff - 8; }
    } else if (len > 1) { m->iov[m->niov].iov_base = (void *)(l + 1); m->iov[m->niov++].iov_len = len - 1; }
    if (unstaged) return flush_out(m);   /* too big to stage: out now */
    return 0;
}

/* Writes every record no shard can still precede. final: wait for the workers until all is
 * out. 0, or -1 (m->err). */
static int merge(merger *m, int final)
{
    int64_t safe[MAX_SHARDS];
    int fin[MAX_SHARDS];
    for (;;) {
        uint64_t seen;
        pthread_mutex_lock(&m->mu);
        seen = m->pubs;
        pthread_mutex_unlock(&m->mu);
        if (fe_step(m) != 0) return -1;
        for (int i = 0; i < m->n; i++)
            if (take(m, &m->sh[i], &safe[i], &fin[i]) != 0 || load(m, &m->sh[i]) != 0) return -1;
        int all_done = 1;
        for (;;) {
            int best = -1;
            for (int i = 0; i < m->n; i++)
                if (m->sh[i].has && (best < 0 || m->sh[i].hts < m->sh[best].hts)) best = i;
            all_done = 1;
            for (int i = 0; i < m->n; i++) if (m->sh[i].has || !fin[i] || m->sh[i].spilling) all_done = 0;
            if (best < 0) break;
            int64_t t = m->sh[best].hts;
            int ok = 1;
            for (int i = 0; i < m->n && ok; i++) {
                shard *s = &m->sh[i];
                if (i == best || s->has || fin[i]) continue;
                /* nothing on hand: it may still write from safe[i] on */
                if (safe[i] < t || (safe[i] == t && i < best)) ok = 0;
            }
            uint32_t fid = 0;
            if (!ok || !patch_flow(m, &m->sh[best], &fid)) break;
            if (emit(m, &m->sh[best], m->sh[best].hfoff != 0, fid) != 0 || load(m, &m->sh[best]) != 0) return -1;
        }
        if (m->x && m->x->remote) {   /* what no record on its way can name any more */
            int64_t low = INT64_MAX;
            for (int i = 0; i < m->x->jobs; i++) {
                shard *s = &m->sh[i];
                int64_t v = s->has ? s->hts : fin[i] && !s->spilling ? INT64_MAX : safe[i];
                if (v < low) low = v;
            }
            fmap_prune(&m->x->map, low);
        }
        /* out before waiting: workers may be waiting for the chunks it releases */
        if (flush_out(m) != 0) return -1;
        if (all_done || !final) return 0;
        pthread_mutex_lock(&m->mu);
        while (m->pubs == seen) pthread_cond_wait(&m->cv, &m->mu);
        pthread_mutex_unlock(&m->mu);
    }
}

/* ------------------------------------------------------------------ run */

/* Scan mode (by connection) for uncompressed capture files and folders; stdin, gzip and
 * snapshots stay in copy mode (by address pair), as they were. */
static int scannable(const char *path)
{
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0) return 0;
    if (S_ISDIR(st.st_mode)) return 1;
    if (!S_ISREG(st.st_mode)) return 0;
    unsigned char m[4];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t k = read(fd, m, 4);
    close(fd);
    if (k != 4) return 0;
    uint32_t v = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
    return v == 0xa1b2c3d4 || v == 0xd4c3b2a1 || v == 0xa1b23c4d || v == 0x4d3cb2a1 || v == 0x0a0d0d0a;
}

/* copy mode: this thread reads, hands packets out, merges between ticks */
static int dispatch(kf_source *src, prun *x, shard *sh, int jobs, char *err, size_t errlen)
{
    merger *m = x->m;
    balancer *b = calloc(1, sizeof *b);
    if (!b) { snprintf(err, errlen, "out of memory"); return -1; }
    b->nsh = jobs; b->maxcap = x->pairs_max;
    int rc = 0, r;
    kf_src_pkt p;
    uint64_t n = 0;
    int64_t last_ts = 0;
    int last_owner = -1;
    size_t dsbs = 0, nrbs = 0;
    while ((r = kf_source_next(src, &p)) == 1) {
        kd_source_dsbs(x->keys, src, &dsbs);
        {   /* a kexport export's names, to every shard before this packet */
            namectx wc = { sh, jobs, -1, 0, 0 };
            kd_source_workloads(src, &nrbs, &p, workload_to_all, &wc);
            if (wc.failed) { snprintf(err, errlen, "out of memory"); rc = -1; break; }
        }
        pinfo pi;
        pkt_info(&p.pkt, &pi);
        bkey bk;
        bkey_of(&pi, &bk);
        bin in;
        bal_key(b, &bk, p.pkt.caplen, &in);
        int k = bal_pick(b, &in, 0);
        shard *s = &sh[k];
        item *it = slot(s, p.pkt.caplen);
        if (!it) { snprintf(err, errlen, "out of memory"); rc = -1; break; }
        it->kind = IT_PKT;
        it->ts = p.pkt.ts_ns; it->caplen = p.pkt.caplen; it->origlen = p.pkt.origlen; it->iface = p.pkt.iface;
        it->linktype = p.pkt.linktype; it->file = p.file; it->node = p.node; it->frame = p.frame;
        it->capture = p.iface ? p.iface->capture : KF_CAP_UNKNOWN;
        it->seq = ++n;
        memcpy(s->cur->data + it->off, p.pkt.data, p.pkt.caplen);
        last_ts = p.pkt.ts_ns; last_owner = k;
        if (x->dns_on && is_dns_answer(&pi)) {
            namectx nc = { sh, jobs, k, p.pkt.ts_ns, 0 };
            kd_dns_names(pi.l4.payload, pi.l4.paylen, name_to_others, &nc);
            if (nc.failed) { snprintf(err, errlen, "out of memory"); rc = -1; break; }
        }
        if (n % PASS_PKTS == 0) {   /* the others' housekeeping at this packet */
            for (int i = 0; i < jobs && rc == 0; i++) {
                if (i == k) continue;
                item *t = slot(&sh[i], 0);
                if (!t) { snprintf(err, errlen, "out of memory"); rc = -1; break; }
                t->kind = IT_PASS; t->ts = p.pkt.ts_ns; t->seq = n;
            }
            if (rc) break;
        }
        if (n % RELEASE_PKTS == 0) {
            for (int i = 0; i < jobs; i++) push(&sh[i]);
            if (merge(m, 0) != 0) { snprintf(err, errlen, "%s", m->err); rc = -1; break; }
        }
        const char *w;
        while ((w = kf_source_warning(src))) kf_warn("%s", w);
    }
    if (r < 0 && rc == 0) { snprintf(err, errlen, "%s", kf_source_error(src)); rc = -2; }
    /* the others learn the capture's last packet (its time closes flows at the end) */
    if (rc != -1 && n % PASS_PKTS != 0)
        for (int i = 0; i < jobs; i++) {
            if (i == last_owner) continue;
            item *t = slot(&sh[i], 0);
            if (!t) { snprintf(err, errlen, "out of memory"); rc = -1; break; }
            t->kind = IT_PASS; t->ts = last_ts; t->seq = n;
        }
    free(b->t);
    free(b);
    return rc;
}

int kd_run_parallel(kf_source *src, const char *const *inputs, size_t ninputs,
                    const kd_engine_opts *o, int jobs, kd_outv_fn outv, void *out_arg,
                    kd_engine_stats *agg, char *err, size_t errlen)
{
    if (jobs > MAX_SHARDS) jobs = MAX_SHARDS;
    shard *sh = calloc((size_t)jobs + 1, sizeof *sh);   /* + the flow engine's output */
    if (!sh) { snprintf(err, errlen, "out of memory"); return -1; }
    merger m;
    memset(&m, 0, sizeof m);
    m.sh = sh; m.n = jobs; m.outv = outv; m.out_arg = out_arg;
    m.stage = malloc(MV_STAGE);
    if (!m.stage) { free(sh); snprintf(err, errlen, "out of memory"); return -1; }
    m.budget = (size_t)(o->max_memory / 4);
    pthread_mutex_init(&m.mu, NULL);
    pthread_cond_init(&m.cv, NULL);
    prun x;
    memset(&x, 0, sizeof x);
    for (size_t i = 0; i < FCACHE; i++) x.fcache[i].cid = UINT32_MAX;   /* (no connection has that id in it) */
    x.m = &m; x.jobs = jobs;
    x.keys = o->d.tls_keys;
    pthread_mutex_init(&x.emu, NULL);
    {   /* names from DNS answers go to other shards only when the DNS dissector is on */
        size_t nd;
        const kd_dissector *const *dis = kd_dissectors(&nd);
        const kd_dissector *dd = kd_dissector_find("dns");
        for (size_t i = 0; i < nd && i < 64; i++) if (dis[i] == dd && (o->enabled >> i & 1)) x.dns_on = 1;
    }
    /* Worker threads get malloc arenas of their own, which glibc grows and shrinks by a little
     * at a time (an mprotect each): a wide pad and no trimming took 10% off a -j 2 run. */
    /* Both scale with the budget: --max-memory bounds the whole process, and each arena may keep
     * up to its trim threshold free (at 16M, -j 8 took 260 MB with a fixed 32 MiB pad and 56 MiB
     * pregrowth per worker). Together the arenas keep at most half the budget. A worker's
     * arena is grown up front to its share (to half of it, it went on a page at a time past
     * that: 6,300 mprotect calls a -j 2 run on bench/data/api-one.pcap; now 750). */
    {
        uint64_t per = o->max_memory / (uint64_t)jobs;
        uint64_t pad = per / 8 < (32u << 20) ? per / 8 : (32u << 20);
        mallopt(M_TOP_PAD, (int)pad);
        mallopt(M_TRIM_THRESHOLD, (int)(pad * 4));
        arena_pregrow_bytes = per < ARENA_PREGROW ? (size_t)per : ARENA_PREGROW;
        /* copy mode: packets queued for a shard take at most a quarter of its budget */
        uint64_t q = per / 4 / BATCH_BYTES;
        x.qmax = q < 2 ? 2 : q > QUEUE_MAX ? QUEUE_MAX : (int)q;
        /* the balancer's pair table: at most a quarter of a shard's budget (2^18 pairs of 48
         * bytes, 10 MiB in each worker, took 80 MB at -j 8 whatever the budget; 16 bytes, one
         * table now) */
        x.pairs_max = PAIRS_MAX;
        while (x.pairs_max > 4096 && x.pairs_max * sizeof(pairent) > per / 4) x.pairs_max /= 2;
    }
    const char *mb = getenv("KDISSECT_MERGE_BUDGET");   /* tests: make the merger spill early */
    if (mb && *mb) m.budget = (size_t)strtoull(mb, NULL, 10);
    int scanned = 1;
    for (size_t i = 0; i < ninputs; i++) if (!scannable(inputs[i])) scanned = 0;
    x.scanned = scanned;
    /* Read by every worker: connections (not address pairs) are spread, the flows are made by
     * the flow engine. Read once and handed out: by address pair, flows in the shards. */
    x.byconn = scanned && jobs > 1;
    x.remote = x.byconn && !o->no_conn;
    x.max_memory = o->max_memory;
    m.x = &x;
    scan sc;   /* scan mode: the source, read in blocks by the workers in turn */
    memset(&sc, 0, sizeof sc);
    pthread_mutex_init(&sc.mu, NULL);
    pthread_cond_init(&sc.cv, NULL);
    sc.src = src;
    sc.tsmax = INT64_MIN;
    if (scanned) {
        x.scan = &sc;
        sc.b = calloc(1, sizeof *sc.b);
        sc.fdec = x.byconn ? kf_decoder_new() : NULL;
        sc.ahead = calloc((size_t)1 << AHEAD_BITS, sizeof *sc.ahead);
        if (sc.b) { sc.b->nsh = jobs; sc.b->maxcap = x.pairs_max; sc.b->byconn = x.byconn; sc.b->ahead = 1; }
    }
    int rc = 0;
    if (scanned && (!sc.b || !sc.ahead || (x.byconn && !sc.fdec))) { snprintf(err, errlen, "out of memory"); rc = -1; }
    kd_engine_opts so = *o;
    so.max_memory = o->max_memory / (uint64_t)jobs;
    so.raw_out = 1;
    for (int i = 0; i < jobs; i++) {
        shard *s = &sh[i];
        s->idx = i; s->run = &x;
        s->safe = INT64_MIN;
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        pthread_cond_init(&s->cv_space, NULL);
        pthread_cond_init(&s->cv_out, NULL);
        so.id_base = (uint32_t)i; so.id_step = (uint32_t)jobs;   /* unique conn/flow ids */
        if (x.remote) { so.flow_sink = shard_fev; so.flow_arg = s; }
        s->e = kd_engine_new(&so, shard_out, s);
        if (!s->e) { snprintf(err, errlen, "out of memory"); rc = -1; break; }
        x.natural[i] = INT64_MIN;
        kd_engine_cap(s->e, INT64_MIN);   /* until every shard has said where it is */
        kd_idgen_init(&m.idg, kd_engine_id_prefix(s->e));
    }
    if (rc == 0 && x.remote) {   /* the flow engine: flows of every shard's connections */
        shard *s = &sh[jobs];
        s->idx = jobs; s->run = &x; s->isfe = 1;
        s->safe = INT64_MIN; s->pos = UINT64_MAX;
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        pthread_cond_init(&s->cv_space, NULL);
        pthread_cond_init(&s->cv_out, NULL);
        kd_engine_opts fo = so;
        fo.flow_sink = NULL; fo.flow_arg = NULL; fo.id_base = 0; fo.id_step = 1;
        fo.max_memory = o->max_memory / (uint64_t)(jobs + 1);   /* its waiting records spill past a third of it */
        s->e = x.fe = kd_engine_new(&fo, shard_out, s);
        if (!s->e) { snprintf(err, errlen, "out of memory"); rc = -1; }
        else kd_engine_cap(s->e, INT64_MIN);
        x.natural[jobs] = INT64_MIN;
        m.n = jobs + 1;
    }
    int started = 0;
    for (; rc == 0 && started < jobs; started++)
        if (pthread_create(&sh[started].th, NULL, scanned ? scan_worker : queue_worker, &sh[started]) != 0) {
            snprintf(err, errlen, "cannot start worker %d", started); rc = -1; break;
        }
    if (rc == 0 && !scanned) rc = dispatch(src, &x, sh, jobs, err, errlen);
    if (rc == -1) run_fail(&x, -1, err);   /* the workers keep nothing more */
    if (!scanned)
        for (int i = 0; i < started; i++) {
            if (rc == 0) push(&sh[i]);
            pthread_mutex_lock(&sh[i].mu);
            sh[i].done = 1;
            pthread_cond_signal(&sh[i].cv);
            pthread_mutex_unlock(&sh[i].mu);
        }
    if (rc != -1 && started == jobs && merge(&m, 1) != 0) {
        snprintf(err, errlen, "%s", m.err);
        rc = -1;
        run_fail(&x, -1, m.err);   /* scan mode workers stop reading */
    }
    for (int i = 0; i < started; i++) pthread_join(sh[i].th, NULL);
    if (rc == 0 && x.rc) { rc = x.rc; snprintf(err, errlen, "%s", x.err); }
    memset(agg, 0, sizeof *agg);
    for (int i = 0; i < jobs + (x.remote ? 1 : 0); i++) {
        shard *s = &sh[i];
        for (size_t k = 0; k < s->nwev; k++) if (s->wev[k].type == KD_FEV_NAME || s->wev[k].type == KD_FEV_WNAME) free(s->wev[k].name);
        for (size_t k = 0; k < s->npev; k++) if (s->pev[k].type == KD_FEV_NAME || s->pev[k].type == KD_FEV_WNAME) free(s->pev[k].name);
        for (size_t k = 0; k < s->nqev; k++) if (s->qev[k].type == KD_FEV_NAME || s->qev[k].type == KD_FEV_WNAME) free(s->qev[k].name);
        free(s->wev); free(s->pev); free(s->qev); free(s->hist);
        if (s->wfailed && rc == 0) { snprintf(err, errlen, "out of memory"); rc = -1; }
        if (s->e && kd_engine_spill_error(s->e) && rc == 0) {   /* its waiting records are lost: as -j 1 */
            snprintf(err, errlen, "temporary file for waiting records ($TMPDIR): %s", strerror(kd_engine_spill_error(s->e)));
            rc = -3;
        }
        if (s->e) {
            const kd_engine_stats *st = kd_engine_get_stats(s->e);
            const uint64_t *a = (const uint64_t *)st;
            uint64_t *b = (uint64_t *)agg;
            for (size_t k = 0; k < sizeof *st / sizeof(uint64_t); k++) b[k] += a[k];
            kd_engine_free(s->e);
        }
        for (batch *b = s->head, *nx; b; b = nx) { nx = b->next; free(b); }
        for (batch *b = s->freel, *nx; b; b = nx) { nx = b->next; free(b); }
        free(s->cur);
        for (ochunk *c = s->ohead, *nx; c; c = nx) { nx = c->next; free(c); }
        for (ochunk *c = s->mhead, *nx; c; c = nx) { nx = c->next; free(c); }
        for (ochunk *c = s->ofree, *nx; c; c = nx) { nx = c->next; free(c); }
        free(s->wcur);
        free(s->fbuf);
        if (s->spf) fclose(s->spf);
        pthread_mutex_destroy(&s->mu); pthread_cond_destroy(&s->cv); pthread_cond_destroy(&s->cv_space); pthread_cond_destroy(&s->cv_out);
    }
    if (x.remote) agg->peak_memory = x.peak_sum;   /* (not the sum of peaks at different times) */
    for (int i = 0; i < m.nrel; i++) free(m.rel[i].c);   /* after a failed write */
    free(x.sel);
    free(x.map.t);
    free(m.stage);
    if (sc.b) free(sc.b->t);
    free(sc.b);
    if (sc.fdec) kf_decoder_free(sc.fdec);
    for (int i = 0; i < SCAN_SLOTS; i++) { free(sc.slot[i].e); free(sc.slot[i].in); free(sc.slot[i].data); free(sc.slot[i].lst); }
    free(sc.ahead);
    pthread_mutex_destroy(&sc.mu); pthread_cond_destroy(&sc.cv);
    pthread_mutex_destroy(&m.mu); pthread_cond_destroy(&m.cv);
    pthread_mutex_destroy(&x.emu);
    free(sh);
    return rc;
}
