/* engine.c — kdissect's engine: the connection table and dispatch (flow table, duplicate
 * suppression, probing and dissector calls, timers, expiry, lifecycle). Reassembly, record
 * writing and ordering live in engine_tcp.c, engine_record.c and engine_order.c (engine_int.h). */
#include "engine_int.h"
#include "kf_grow.h"

/* ------------------------------------------------------------------ small helpers */

/* word-at-a-time hash for the duplicate check (hot path) */
static uint64_t hash_words(uint64_t h, const uint8_t *p, size_t n)
{
    size_t k = n / 8;
    /* unrolled by four (the same hash, the same order): about twelve words a packet, the
     * loop's counting was 0.65M of 504M instructions on /tmp/api80k.pcap */
#pragma GCC unroll 4
    for (size_t i = 0; i < k; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 32;
    }
    p += 8 * k; n -= 8 * k;
    uint64_t w = 0;
    memcpy(&w, p, n);
    return (h ^ w ^ n) * 0x9E3779B97F4A7C15ULL;
}
static uint64_t intern_hash(const char *s)
{
    return s ? hash_bytes(KD_FNV_OFFSET, s, strlen(s)) : 0;
}
static int intern_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}
/* The index of s in t, added if new. On allocation failure 0 (the first name: a wrong file
 * name in records, never a crash). intern: the name of the packet before (every packet but the
 * first of a file or node), inline: the call was 0.7 % of kdissect's instructions on
 * bench/data/api-one.pcap. */
static uint32_t intern_find(struct kd_intern *t, const char *s)
{
    uint64_t h = intern_hash(s);
    size_t mask = t->nslot - 1, i = t->nslot ? h & mask : 0;
    if (t->nslot)
        for (; t->slot[i]; i = (i + 1) & mask)
            if (intern_same(t->v[t->slot[i] - 1], s)) {
                t->last = s; t->last_idx = t->slot[i] - 1;
                return t->last_idx;
            }
    if (t->n >= UINT32_MAX - 1) return 0;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : KD_NAMES_INTERN_MIN;
        const char **nv = realloc(t->v, nc * sizeof *nv);
        if (!nv) return 0;
        t->v = nv; t->cap = nc;
    }
    if ((t->n + 1) * 2 > t->nslot) {   /* grow and rehash: the table stays at most half full */
        size_t ns = t->nslot ? t->nslot * 2 : 2 * KD_NAMES_INTERN_MIN;
        uint32_t *nsl = calloc(ns, sizeof *nsl);
        if (!nsl) return 0;
        for (size_t k = 0; k < t->n; k++) {
            size_t j = intern_hash(t->v[k]) & (ns - 1);
            while (nsl[j]) j = (j + 1) & (ns - 1);
            nsl[j] = (uint32_t)k + 1;
        }
        free(t->slot);
        t->slot = nsl; t->nslot = ns; mask = ns - 1;
        for (i = h & mask; t->slot[i]; i = (i + 1) & mask) {}
    }
    t->v[t->n] = s;
    t->slot[i] = (uint32_t)t->n + 1;
    t->last = s; t->last_idx = (uint32_t)t->n;
    return (uint32_t)t->n++;
}
static inline uint32_t intern(struct kd_intern *t, const char *s)
{
    return s == t->last && t->n ? t->last_idx : intern_find(t, s);
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
    if (c->layer) return c->layer->stream_ref(c->layer->arg, dir, off, out);
    return kd_reflist_find(&c->dir[dir & 1].refs, off, out);
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
        size_t nc = e->thcap ? e->thcap * 2 : KD_TIMERS_MIN;
        kd_conn **nh = realloc(e->th, nc * sizeof *nh);
        if (!nh) return;
        e->th = nh; e->thcap = nc;
    }
    e->th[e->thn] = c; c->timer_idx = (int)e->thn++;
    th_up(e, (size_t)c->timer_idx);
}

/* live connections: min-heap by (first_ts, ft_ord) — a new one with the same first_ts as
 * others comes after them, as in the sorted list this replaces */
static int ft_less(const kd_conn *a, const kd_conn *b)
{
    return a->first_ts < b->first_ts || (a->first_ts == b->first_ts && a->ft_ord < b->ft_ord);
}
static void ft_set(kd_engine *e, size_t i, kd_conn *c) { e->ft[i] = c; c->ft_idx = i; }
static void ft_up(kd_engine *e, size_t i)
{
    kd_conn *c = e->ft[i];
    while (i > 0 && ft_less(c, e->ft[(i - 1) / 2])) { ft_set(e, i, e->ft[(i - 1) / 2]); i = (i - 1) / 2; }
    ft_set(e, i, c);
}
static void ft_down(kd_engine *e, size_t i)
{
    kd_conn *c = e->ft[i];
    for (;;) {
        size_t l = 2 * i + 1, m = l;
        if (l >= e->ftn) break;
        if (l + 1 < e->ftn && ft_less(e->ft[l + 1], e->ft[l])) m = l + 1;
        if (!ft_less(e->ft[m], c)) break;
        ft_set(e, i, e->ft[m]); i = m;
    }
    ft_set(e, i, c);
}
/* room for one more (conn_new, before the connection exists: ft_insert cannot fail) */
static int ft_reserve(kd_engine *e)
{
    size_t old = e->ftcap;
    kd_conn **n = kf_grow(e->ft, &e->ftcap, e->ftn + 1, sizeof *n);
    if (!n) return -1;
    e->ft = n;
    mem_add(e, (long)((e->ftcap - old) * sizeof *n));
    return 0;
}
static void ft_insert(kd_engine *e, kd_conn *c)
{
    c->ft_ord = e->ft_next++;
    ft_set(e, e->ftn++, c);
    ft_up(e, c->ft_idx);
}
static void ft_remove(kd_engine *e, kd_conn *c)
{
    if (c->ft_idx == SIZE_MAX) return;
    size_t i = c->ft_idx;
    c->ft_idx = SIZE_MAX;
    if (i == --e->ftn) return;
    kd_conn *m = e->ft[e->ftn];
    ft_set(e, i, m);
    ft_up(e, i); ft_down(e, m->ft_idx);
}

int kd_conn_upgrade(kd_conn *c, const char *name, const kd_upgrade *u)
{
    kd_engine *e = c->e;
    if (c->layer) return c->layer->upgrade ? c->layer->upgrade(c->layer->arg, name, u) : -1;
    if (!name) {   /* back to protocol detection for what follows (kde_apply_upgrade) */
        if (c->up_d || c->reprobe || c->info.transport != KD_TRANSPORT_TCP) return -1;
        c->reprobe = 1;
        return 0;
    }
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

const kd_layer *kd_conn_layer(kd_conn *c, const kd_layer *l)
{
    const kd_layer *old = c->layer;
    c->layer = l;
    int i = l && l->d ? dis_index(c->e, l->d) : -1;
    if (i >= 0 && i < KD_L7_BITS) { c->l7 |= 1u << i; if (c->flow) { c->flow->l7 |= 1u << i; kde_fev_mark(c->e, c); } }
    return old;
}
int kd_conn_dissector_enabled(const kd_conn *c, const kd_dissector *d) { return dis_enabled(c->e, d); }

/* ------------------------------------------------------------------ recycled blocks */

/* Blocks of a few sizes (a connection, a dissector's state, an HTTP/1 message) freed by a
 * connection are kept for the next one of their size instead of going back to malloc: on
 * bench/data/api-one.pcap (a short connection every few calls, two messages a call) malloc and
 * free were 5 % of kdissect's time, the connection's 1.5 KB too big for glibc's per-thread
 * cache. Hand-written for the benchmark (it replaces plain malloc/free of those blocks). Bound:
 * at most KD_POOL_MAX blocks of each of KD_POOLS sizes wait (about 200 KB in all here), given
 * back by kd_engine_free; a size met when all KD_POOLS are taken goes to free as before.
 * Blocks waiting are not counted in --max-memory (memory freed to malloc was not either). */
static struct kd_pool *pool_of(kd_engine *e, size_t size, int claim)
{
    for (int i = 0; i < KD_POOLS; i++)
        if (e->pool[i].size == size) return &e->pool[i];
    if (claim)
        for (int i = 0; i < KD_POOLS; i++)
            if (!e->pool[i].size) { e->pool[i].size = size; return &e->pool[i]; }
    return NULL;
}
/* An uninitialised block of size bytes (a recycled one, or malloc's); NULL: no memory. */
void *kde_blk_get(kd_engine *e, size_t size)
{
    struct kd_pool *pl = pool_of(e, size, 0);
    if (pl && pl->head) {
        void *p = pl->head;
        memcpy(&pl->head, p, sizeof(void *));
        pl->n--;
        return p;
    }
    return malloc(size);
}
/* Gives back p (NULL: nothing), a block of size bytes from kde_blk_get or malloc. */
void kde_blk_put(kd_engine *e, void *p, size_t size)
{
    if (!p) return;
    struct kd_pool *pl = size >= sizeof(void *) ? pool_of(e, size, 1) : NULL;
    if (!pl || pl->n >= KD_POOL_MAX) { free(p); return; }
    memcpy(p, &pl->head, sizeof(void *));
    pl->head = p;
    pl->n++;
}
static void pools_free(kd_engine *e)
{
    for (int i = 0; i < KD_POOLS; i++)
        for (void *p = e->pool[i].head, *n; p; p = n) { memcpy(&n, p, sizeof n); free(p); }
    memset(e->pool, 0, sizeof e->pool);
}
void *kd_conn_blk_get(kd_conn *c, size_t size) { return kde_blk_get(c->e, size); }
void kd_conn_blk_put(kd_conn *c, void *p, size_t size) { kde_blk_put(c->e, p, size); }

/* ------------------------------------------------------------------ connections */

static size_t conn_bucket(const kd_engine *e, uint64_t h) { return h & (e->htcap - 1); }

/* One endpoint's part of the connection key's hash: the address's 16 bytes as two words (an
 * FNV-1a byte loop over them was 2.4 % of kdissect's instructions on bench/data/api-one.pcap;
 * the hash only places connections in the table, nothing is ordered by it). */
static inline uint64_t ep_hash(const kf_addr *a, uint16_t port)
{
    uint64_t w0, w1;
    memcpy(&w0, a->a, 8); memcpy(&w1, a->a + 8, 8);
    return kd_mix64(w0 * 0x9E3779B97F4A7C15ULL ^ (w1 + port) * 0xC2B2AE3D27D4EB4FULL);
}
static uint64_t key_hash(uint8_t proto, const kf_addr *a, uint16_t pa, const kf_addr *b, uint16_t pb)
{
    /* symmetric: both directions hash the same */
    uint64_t ha = ep_hash(a, pa), hb = ep_hash(b, pb);
    return kd_mix64((ha ^ hb) + (ha < hb ? ha : hb) * 31 + proto);
}
/* kf_addr_eq, inlined for the table lookup (a call per compare) */
static inline int addr_eq(const kf_addr *a, const kf_addr *b)
{
    if (a->family != b->family) return 0;
    return a->family == 6 ? memcmp(a->a, b->a, 16) == 0 : memcmp(a->a, b->a, 4) == 0;
}
/* ksnap capture --tls stores OpenSSL's plaintext as TCP segments with the connection's real
 * addresses and ports (interface ebpf_tls, capture KF_CAP_EBPF_TLS), beside the same connection's
 * ciphertext on the real interface: the two are different streams, so the plaintext's connections
 * and flows are keyed apart (their hash salted, their match checked). */
#define KD_PLAIN_SALT 0x9e3779b97f4a7c15ull
static int is_plain(int capture) { return capture == KF_CAP_EBPF_TLS; }
static int conn_match(const kd_conn *c, uint8_t proto, const kf_addr *s, uint16_t sp, const kf_addr *d, uint16_t dp, int *dir)
{
    if (c->info.ipproto != proto) return 0;
    const kd_conn_info *ci = &c->info;
    if (ci->port[0] == sp && ci->port[1] == dp && addr_eq(&ci->addr[0], s) && addr_eq(&ci->addr[1], d)) { *dir = 0; return 1; }
    if (ci->port[1] == sp && ci->port[0] == dp && addr_eq(&ci->addr[1], s) && addr_eq(&ci->addr[0], d)) { *dir = 1; return 1; }
    return 0;
}

static int ht_grow(kd_engine *e)
{
    size_t nc = e->htcap ? e->htcap * 2 : KD_CONN_BUCKETS_MIN;
    kd_conn **nt = calloc(nc, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < e->htcap; i++)
        for (kd_conn *c = e->ht[i], *n; c; c = n) { n = c->hnext; c->hnext = nt[c->hash & (nc - 1)]; nt[c->hash & (nc - 1)] = c; }
    mem_add(e, (long)((nc - e->htcap) * sizeof *nt));
    free(e->ht); e->ht = nt; e->htcap = nc;
    return 0;
}

static int fht_grow(kd_engine *e)
{
    size_t nc = e->fhtcap ? e->fhtcap * 2 : KD_FLOW_BUCKETS;
    kd_flow **nt = calloc(nc, sizeof *nt);
    if (!nt) return -1;
    /* each chain moves in its order (appended at the tail), so flows of one bucket keep their
     * relative order: the order records of equal time are written in does not depend on when
     * the table grew */
    kd_flow **tail = NULL;
    if (e->fhtcap) { tail = calloc(nc, sizeof *tail); if (!tail) { free(nt); return -1; } }
    for (size_t i = 0; i < e->fhtcap; i++)
        for (kd_flow *f = e->fht[i], *n; f; f = n) {
            n = f->hnext; f->hnext = NULL;
            size_t b = f->hash & (nc - 1);
            if (tail[b]) tail[b]->hnext = f; else nt[b] = f;
            tail[b] = f;
        }
    free(tail);
    mem_add(e, (long)((nc - e->fhtcap) * sizeof *nt));
    free(e->fht); e->fht = nt; e->fhtcap = nc;
    return 0;
}

/* flows: client ip, server ip, server port, protocol (and whether TLS plaintext) */
static kd_flow *flow_get_key(kd_engine *e, uint8_t ipproto, const kf_addr *ca, const kf_addr *sa, uint16_t sp, int plain,
                             int64_t first_ts, kd_pref first_ref, uint32_t node_idx, int8_t capture)
{
    uint64_t h = kd_mix64(hash_bytes(hash_bytes(KD_FNV_OFFSET, ca->a, 16), sa->a, 16) ^ sp ^ ((uint64_t)ipproto << 16));
    if (plain) h ^= KD_PLAIN_SALT;
    if (!e->fhtcap && fht_grow(e) != 0) return NULL;
    for (kd_flow *f = e->fht[h & (e->fhtcap - 1)]; f; f = f->hnext)
        if (f->hash == h && f->ipproto == ipproto && f->sport == sp && kf_addr_eq(&f->ca, ca) && kf_addr_eq(&f->sa, sa) &&
            is_plain(f->capture) == plain)
            return f;
    /* the table doubles at 3/4 load: a lookup stays O(1) however many flows there are */
    if (e->nflows + 1 > e->fhtcap / 4 * 3) fht_grow(e);
    kd_flow *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->hash = h; f->ipproto = ipproto; f->ca = *ca; f->sa = *sa; f->sport = sp;
    f->id = e->o.id_base + e->next_flow_id++ * (e->o.id_step ? e->o.id_step : 1);
    f->first_ts = f->rec_start = first_ts; f->first_ref = first_ref;
    f->node_idx = node_idx;
    f->capture = capture;
    f->hnext = e->fht[h & (e->fhtcap - 1)]; e->fht[h & (e->fhtcap - 1)] = f;
    e->nflows++; e->st.flows++;
    mem_add(e, sizeof *f);
    return f;
}

static kd_flow *flow_get(kd_engine *e, kd_conn *c)
{
    int cl = c->info.client >= 0 ? c->info.client : 0;
    if (e->o.flow_sink) {   /* -j by connection: what this connection adds, for the flow engine */
        kd_flow *f = calloc(1, sizeof *f);
        if (!f) return NULL;
        f->ipproto = c->info.ipproto; f->ca = c->info.addr[cl]; f->sa = c->info.addr[!cl]; f->sport = c->info.port[!cl];
        f->id = c->id;   /* a token: the merge writes the flow engine's id in its place */
        f->first_ts = f->rec_start = c->first_ts; f->first_ref = c->first_ref;
        f->node_idx = c->node_idx; f->capture = c->capture;
        mem_add(e, sizeof *f);
        return f;
    }
    return flow_get_key(e, c->info.ipproto, &c->info.addr[cl], &c->info.addr[!cl], c->info.port[!cl], is_plain(c->capture),
                        c->first_ts, c->first_ref, c->node_idx, c->capture);
}

/* ------------------------------------------------------------------ flow events (-j by connection) */

static kd_fref fref_out(const kd_engine *e, const kd_pref *r)
{
    kd_fref o = { r->ts_ns, r->frame, r->file < e->files.n ? e->files.v[r->file] : NULL };
    return o;
}
static kd_pref fref_in(kd_engine *e, const kd_fref *r)
{
    kd_pref o = { r->ts_ns, r->frame, intern(&e->files, r->file) };
    return o;
}
static void fev_init(kd_engine *e, kd_fev *v, int type)
{
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)type;
    v->seq = e->ev_seq ? e->ev_seq : e->seen; v->phase = e->ev_phase ? e->ev_phase : KD_PH_PACKET;
    v->ka = e->ev_ka; v->kb = e->ev_kb;
}
/* moves what the connection added to its flow (counters, protocols) into the event */
static void fev_take(kd_flow *f, kd_fev *v)
{
    v->l7 = f->l7;
    memcpy(v->pkts, f->pkts, sizeof v->pkts); memcpy(v->bytes, f->bytes, sizeof v->bytes);
    f->dirty = 0; f->l7 = 0;
    memset(f->pkts, 0, sizeof f->pkts); memset(f->bytes, 0, sizeof f->bytes);
}
/* what the connection added to its flow since the last event: out, and start again */
static void fev_delta(kd_engine *e, kd_conn *c)
{
    kd_flow *f = c->flow;
    if (!f || (!f->dirty && !f->l7)) return;
    kd_fev v;
    fev_init(e, &v, KD_FEV_DELTA);
    if (f->dirty) { v.seq = f->first_seq; v.phase = KD_PH_PACKET; v.ka = 0; v.kb = 0; }
    v.conn_id = c->id;
    v.dirty = f->dirty;
    v.first_ts = f->rec_start; v.first_seq = f->first_seq; v.first_ref = fref_out(e, &f->first_ref);
    v.last_ts = f->last_ts; v.last_seq = f->last_seq; v.last_ref = fref_out(e, &f->last_ref);
    fev_take(f, &v);
    e->o.flow_sink(e->o.flow_arg, &v);
}
/* what the connection adds to its flow changed: it sends it at the next flow interval (a list,
 * not a walk over every connection: 20 000 lingering ones at each interval cost 2 % of -j 2) */
void kde_fev_mark(kd_engine *e, kd_conn *c)
{
    if (!e->o.flow_sink || c->dq_idx >= 0) return;
    kd_conn **nd = kf_grow(e->dq, &e->capdq, e->ndq + 1, sizeof *nd);
    if (!nd) return;   /* (then the close sends it: a flow interval may split elsewhere) */
    e->dq = nd;
    c->dq_idx = (int)e->ndq;
    e->dq[e->ndq++] = c;
}
static void fev_unmark(kd_engine *e, kd_conn *c)
{
    if (c->dq_idx < 0) return;
    size_t i = (size_t)c->dq_idx;
    e->dq[i] = e->dq[--e->ndq];
    e->dq[i]->dq_idx = (int)i;
    c->dq_idx = -1;
}
static void fev_attach(kd_engine *e, kd_conn *c)
{
    kd_flow *f = c->flow;
    kd_fev v;
    fev_init(e, &v, KD_FEV_ATTACH);
    v.conn_id = c->id;
    v.ipproto = f->ipproto; v.plain = (uint8_t)is_plain(c->capture); v.capture = c->capture;
    v.ca = f->ca; v.sa = f->sa; v.sport = f->sport;
    v.node = c->node_idx < e->nodes.n ? e->nodes.v[c->node_idx] : NULL;
    v.first_ts = c->first_ts; v.first_ref = fref_out(e, &c->first_ref);
    v.last_ts = f->last_ts; v.last_ref = fref_out(e, &f->last_ref);
    fev_take(f, &v);
    e->o.flow_sink(e->o.flow_arg, &v);
}
void kde_fev_name(kd_engine *e, const kf_addr *ip, const char *name, size_t len, int64_t ts)
{
    kd_fev v;
    fev_init(e, &v, KD_FEV_NAME);
    v.ip = *ip; v.name = (char *)name; v.namelen = len; v.first_ts = ts;   /* the sink copies the name */
    e->o.flow_sink(e->o.flow_arg, &v);
}
static void fev_ctx(kd_engine *e, int phase, int64_t ka, uint64_t kb, uint64_t seq)
{
    e->ev_phase = (uint8_t)phase; e->ev_ka = ka; e->ev_kb = kb; e->ev_seq = seq;
}

/* ------------------------------------------------------------------ dispatch */

/* Presents the direction's buffer (already holding all bytes) to the dissector. */
void kde_run_dissector(kd_engine *e, kd_conn *c, int dir, unsigned flags)
{
    kd_dir *d = &c->dir[dir];
    for (int rounds = 0; rounds < KD_UPGRADE_ROUNDS; rounds++) {
        if (!c->d || c->l7_state != 1) return;
        if (!d->blen && !(flags & KD_DATA_EOF)) return;
        unsigned fl = flags | (d->after_gap ? KD_DATA_AFTER_GAP : 0);
        static const uint8_t none[1];   /* never hand a dissector a NULL pointer */
        size_t k = kd_dissector_data(c->d, c, c->st, dir, d->buf ? d->buf : none, d->blen, d->boff, fl);
        if (k > d->blen) k = d->blen;
        if (k) d->after_gap = 0;
        kde_buf_consume(d, k);
        if (c->up_d || c->reprobe) { kde_apply_upgrade(e, c); continue; }  /* the new one sees what is left */
        if (d->blen >= KD_BUF_MAX) {
            e->st.buffer_overflows++;
            uint64_t off = d->boff, len = d->blen;
            kde_buf_consume(d, d->blen);
            kd_dissector_gap(c->d, c, c->st, dir, off, len);
            d->after_gap = 1;
        }
        kde_buf_release(e, c, d);
        return;
    }
}

void kde_apply_upgrade(kd_engine *e, kd_conn *c)
{
    if (c->d && c->d->destroy) c->d->destroy(c, c->st);
    if (c->d) kd_conn_mem(c, -(long)c->d->state_size);
    free(c->st);
    if (c->reprobe) {
        /* the dissectors probe the bytes left in each direction as at a connection's start */
        c->reprobe = 0;
        c->d = NULL; c->st = NULL;
        c->l7_state = 0;
        for (int dir = 0; dir < 2; dir++) c->dir[dir].probe_no = 0;
        for (int dir = 0; dir < 2 && c->l7_state == 0; dir++) {
            kd_dir *d = &c->dir[dir];
            if (d->blen && kde_probe(e, c, dir, d->buf, d->blen, d->blen >= KD_PROBE_MAX)) {
                kde_run_dissector(e, c, dir, 0);
                if (c->dir[!dir].blen) kde_run_dissector(e, c, !dir, 0);
            }
        }
        if (c->l7_state == 0 && c->dir[0].probe_no && c->dir[1].probe_no) {   /* nothing we know */
            c->l7_state = 2;
            for (int k = 0; k < 2; k++) kde_buf_consume(&c->dir[k], c->dir[k].blen);
        }
        return;
    }
    c->d = c->up_d; c->st = c->up_st;
    c->up_d = NULL; c->up_st = NULL;
    for (int dir = 0; dir < 2; dir++)
        if (c->dir[dir].blen) kde_run_dissector(e, c, dir, 0);
}

static void activate(kd_engine *e, kd_conn *c, const kd_dissector *d, int idx)
{
    c->d = d;
    size_t ss = d->state_size ? d->state_size : 1;
    c->st = kde_blk_get(e, ss);
    if (!c->st) { c->l7_state = 2; c->d = NULL; return; }
    memset(c->st, 0, ss);
    kd_conn_mem(c, (long)d->state_size);
    c->l7_state = 1;
    if (idx >= 0 && idx < KD_L7_BITS) c->l7 |= 1u << idx;
    if (c->flow && idx >= 0 && idx < KD_L7_BITS) { c->flow->l7 |= 1u << idx; kde_fev_mark(e, c); }
    if (d->init) d->init(c, c->st);
}

/* Tries the dissectors on dir's bytes (p, n). Returns 1 when one was chosen. */
int kde_probe(kd_engine *e, kd_conn *c, int dir, const uint8_t *p, size_t n, int final)
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
    c->probe_more = more;
    if (!more || final) c->dir[dir].probe_no = 1;
    return 0;
}

static void conn_free(kd_engine *e, kd_conn *c)
{
    ft_remove(e, c);
    for (int i = 0; i < 2; i++) {
        kd_dir *d = &c->dir[i];
        for (kd_seg *s = d->ooo, *n; s; s = n) { n = s->next; free(s); }
        free(d->buf); free(d->refs.v);
    }
    if (c->up_st) { if (c->up_d && c->up_d->destroy) c->up_d->destroy(c, c->up_st); free(c->up_st); }
    if (c->st) {
        if (c->d && c->d->destroy) c->d->destroy(c, c->st);
        if (c->d && c->d->state_size) kde_blk_put(e, c->st, c->d->state_size); else free(c->st);
    }
    if (c->flow && e->o.flow_sink) { free(c->flow); mem_add(e, -(long)sizeof(kd_flow)); }   /* not closed (freed early) */
    fev_unmark(e, c);
    free(c->envc);   /* counted in c->mem (engine_record.c envelope) */
    mem_add(e, -c->mem - (long)sizeof *c);
    kde_blk_put(e, c, sizeof *c);
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
    for (int dir = 0; dir < 2; dir++) kde_dir_end(e, c, dir);
    if (c->l7_state == 1 && c->d && c->d->on_close) c->d->on_close(c, c->st);
    c->pending_ts = INT64_MAX;
    kde_emit_conn(e, c);
    if (c->flow && e->o.flow_sink) {   /* the flow engine does what follows */
        fev_delta(e, c);
        kd_fev v;
        fev_init(e, &v, KD_FEV_CLOSE);
        v.conn_id = c->id; v.info = c->info; v.max_rec_ts = c->max_rec_ts;
        e->o.flow_sink(e->o.flow_arg, &v);
        free(c->flow); c->flow = NULL; mem_add(e, -(long)sizeof(kd_flow));
    } else if (c->flow) {
        kd_flow *f = c->flow;
        if (f->active) f->active--;
        if (!f->active) kde_emit_flow(e, f, c);
    }
    conn_free(e, c);
}

static kd_conn *conn_new(kd_engine *e, const kf_l4 *l4, uint8_t transport, uint64_t h)
{
    if (e->nconns + 1 > e->htcap / 2 * 1 + e->htcap / 4 && ht_grow(e) != 0) return NULL;
    if (!e->htcap && ht_grow(e) != 0) return NULL;
    if (ft_reserve(e) != 0) return NULL;
    kd_conn *c = kde_blk_get(e, sizeof *c);
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
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
    c->max_rec_ts = INT64_MIN;
    c->dq_idx = -1;
    c->timer_idx = -1;
    c->ft_idx = SIZE_MAX;
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

/* ------------------------------------------------------------------ packets */

/* A copy of one packet seen on another interface of the same node: same IP datagram (TTL and
 * checksum aside), same first bytes of L4, within dup_window. */
static void dup_drain(kd_engine *e)
{
    for (size_t i = 0; i < e->dringn; i++) e->dup[e->dring[i].h & e->dupmask] = e->dring[i];
    e->dringn = 0;
}
static int is_duplicate(kd_engine *e, const kf_l4 *l4, int64_t ts, uint32_t iface, uint32_t node)
{
    if (!e->dup || !l4->l3 || e->o.dup_window_ns <= 0) return 0;
    const uint8_t *p = l4->l3;
    size_t n = l4->l3len;
    size_t hl = l4->ipver == 4 ? (size_t)(p[0] & 15) * 4 : 40;
    size_t take = hl + 20 + 64 < n ? hl + 20 + 64 : n;
    uint64_t h = KD_FNV_OFFSET;
    if (l4->ipver == 4 && take >= 20) {
        h = hash_words(h, p, 8);           /* version … fragment */
        h = hash_words(h, p + 9, 1);       /* protocol (skip TTL) */
        h = hash_words(h, p + 12, take - 12);
    } else if (take >= 8) {
        h = hash_words(h, p, 7);           /* skip hop limit */
        h = hash_words(h, p + 8, take - 8);
    } else return 0;
    h = kd_mix64(h ^ n ^ (uint64_t)node << 48);
    if (!e->dup_multi) {
        /* One interface of one node so far: no entry can be another interface's (an empty
         * one is zero), so nothing is a copy and the table only records. The records wait in
         * a ring and are written in a batch: independent stores, where a load, compare and
         * store per packet waited on a cache miss each time (11 % of kdissect's time on
         * bench/data/api-one.pcap). The table ends up the same as written one by one. */
        if (!e->dup_seen) { e->dup_seen = 1; e->dup_iface = iface; e->dup_node = node; }
        if (iface == e->dup_iface && node == e->dup_node) {
            if (e->dringn == KD_DUP_RING) dup_drain(e);
            e->dring[e->dringn++] = (struct dupent){ h, ts, iface, node };
            return 0;
        }
        dup_drain(e);
        e->dup_multi = 1;
    }
    struct dupent *de = &e->dup[h & e->dupmask];
    /* copies on different interfaces may come out of the file slightly out of time order */
    int64_t dt = ts >= de->ts ? kd_ts_diff(ts, de->ts) : kd_ts_diff(de->ts, ts);
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
        while (e->lru_head[l] && kd_ts_add(e->lru_head[l]->last_ts, idle) < now) {
            if (e->o.flow_sink) fev_ctx(e, KD_PH_SWEEP, li, e->lru_head[l]->last_seq, e->seen);
            conn_close(e, e->lru_head[l]);
        }
    }
    if (e->o.flow_sink) fev_ctx(e, KD_PH_SWEEP, LRU_N, 0, e->seen);
    while (e->thn && e->th[0]->timer_ts <= now) {
        kd_conn *c = e->th[0];
        th_remove(e, c);
        c->timer_ts = 0;
        if (c->l7_state == 1 && c->d && c->d->on_timer) c->d->on_timer(c, c->st, now);
    }
    if (e->o.flow_sink) fev_ctx(e, 0, 0, 0, 0);
}

/* Memory: evicts the least recently used connections while connections and their buffers hold
 * more than their share of --max-memory. Checked after every packet (a compare), so the bound
 * holds between sweeps too: 20k connections each holding out-of-order bytes passed it
 * several times over in the 256 packets between two sweeps. */
static void evict_over_budget(kd_engine *e)
{
    while (e->mem - e->heap_bytes > e->o.max_memory * KD_CONN_SHARE_NUM / KD_CONN_SHARE_DEN && e->nconns > 1) {
        kd_conn *v = e->lru_head[LRU_CLOSED] ? e->lru_head[LRU_CLOSED] : e->lru_head[LRU_UDP] ? e->lru_head[LRU_UDP] : e->lru_head[LRU_TCP];
        if (!v) break;
        e->st.evicted_conns++;
        if (e->o.flow_sink) fev_ctx(e, KD_PH_EVICT, 0, v->last_seq, e->seen);
        conn_close(e, v);
    }
    if (e->o.flow_sink) fev_ctx(e, 0, 0, 0, 0);
}

static void flows_interval(kd_engine *e, int64_t now, int all);

static void packet_l4(kd_engine *e, int64_t ts, int rc, kf_l4 *l4, uint32_t origlen, uint32_t iface,
                      const char *file, const char *node, int capture, uint64_t frame);

/* Housekeeping by the capture's packet count (every packet, whoever dissects it, so that -j
 * shards do it at the same packets as one engine): expiry and timers every KD_SWEEP_EVERY
 * packets, flow intervals and the release of waiting records every KD_RELEASE_EVERY. */
static void cadence(kd_engine *e, int64_t ts)
{
    if (e->mem - e->heap_bytes > e->o.max_memory * KD_CONN_SHARE_NUM / KD_CONN_SHARE_DEN) evict_over_budget(e);
    if (e->seen % KD_RELEASE_EVERY == 0) {
        sweep(e, ts);
        if (e->o.flow_sink) {   /* the flow engine's intervals come next: what the flows gained */
            for (size_t i = 0; i < e->ndq; i++) { e->dq[i]->dq_idx = -1; fev_delta(e, e->dq[i]); }
            e->ndq = 0;
        }
        if (!e->o.no_conn) flows_interval(e, ts, 0);
        kde_flush_ready(e, 0);
    } else if (e->seen % KD_SWEEP_EVERY == 0) {
        sweep(e, ts);
    }
}

void kd_engine_packet(kd_engine *e, int64_t ts, int linktype, const uint8_t *data, uint32_t caplen,
                      uint32_t origlen, uint32_t iface, const char *file, const char *node, int capture,
                      uint64_t frame)
{
    kf_l4 l4;
    int rc = kf_decode(e->dec, linktype, data, caplen, ts, &l4);
    kd_engine_packet_l4(e, ts, rc, &l4, origlen, iface, file, node, capture, frame);
}

void kd_engine_packet_l4(kd_engine *e, int64_t ts, int rc, kf_l4 *l4, uint32_t origlen, uint32_t iface,
                         const char *file, const char *node, int capture, uint64_t frame)
{
    e->seen++;
    if (ts > e->now) e->now = ts;
    packet_l4(e, ts, rc, l4, origlen, iface, file, node, capture, frame);
    cadence(e, ts);
}

void kd_engine_skip(kd_engine *e, uint64_t seq, int64_t ts)
{
    e->seen = seq;
    if (ts > e->now) e->now = ts;
}

void kd_engine_pass(kd_engine *e, int64_t ts, uint64_t seq)
{
    kd_engine_skip(e, seq, ts);
    cadence(e, ts);
}

void kd_engine_seq(kd_engine *e, uint64_t seq) { e->seen = seq; }

/* The frame decoded (rc, *l4: kf_decode's; *l4 may be changed). */
static void packet_l4(kd_engine *e, int64_t ts, int rc, kf_l4 *l4, uint32_t origlen, uint32_t iface,
                      const char *file, const char *node, int capture, uint64_t frame)
{
    e->st.packets++;
    e->st.bytes += origlen;
    if (rc == KF_DEC_NOT_IP) { e->st.non_ip++; return; }
    if (rc == KF_DEC_HELD) { e->st.held_fragments++; return; }
    if (rc == KF_DEC_BAD || (rc == KF_DEC_TRUNC && !l4->ipver)) { e->st.decode_errors++; return; }
    if (rc == KF_DEC_TRUNC && (l4->proto == 6 || l4->proto == 17) && !l4->sport && !l4->dport) { e->st.decode_errors++; return; }
    uint32_t fidx = intern(&e->files, file);
    uint32_t nidx = intern(&e->nodes, node);
    if (is_duplicate(e, l4, ts, iface, nidx)) { e->st.duplicates++; return; }
    uint8_t transport = l4->proto == 6 ? KD_TRANSPORT_TCP : l4->proto == 17 ? KD_TRANSPORT_UDP : KD_TRANSPORT_OTHER;
    if (transport == KD_TRANSPORT_OTHER) {
        /* ICMP etc: one conn per address pair (ports 0) */
        l4->sport = l4->dport = 0;
    }
    if (rc == KF_DEC_TRUNC && transport == KD_TRANSPORT_TCP && !l4->tcp.hdrlen) { e->st.decode_errors++; return; }
    uint64_t h = key_hash(l4->proto, &l4->src, l4->sport, &l4->dst, l4->dport);
    int plain = is_plain(capture);
    if (plain) h ^= KD_PLAIN_SALT;
    kd_conn *c = NULL;
    int dir = 0;
    if (e->htcap)
        for (c = e->ht[conn_bucket(e, h)]; c; c = c->hnext)
            if (c->hash == h && is_plain(c->capture) == plain &&
                conn_match(c, l4->proto, &l4->src, l4->sport, &l4->dst, l4->dport, &dir)) break;
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
        c->first_seq = e->seen;
        c->capture = (int8_t)(capture > KF_CAP_UNKNOWN ? capture : KF_CAP_AF_PACKET);
        ft_insert(e, c);   /* by first_ts (room made by conn_new) */
        if (transport == KD_TRANSPORT_TCP && (l4->tcp.flags & (KF_TCP_SYN | KF_TCP_ACK)) == (KF_TCP_SYN | KF_TCP_ACK))
            c->info.client = 1;
    } else {
        lru_unlink(e, c); lru_append(e, c, c->lru);
    }
    c->cur = cur;
    c->last_ts = ts; c->last_ref = cur;
    c->last_seq = e->seen;
    kd_dir *d = &c->dir[dir];
    d->pkts++;
    d->bytes += origlen;
    if (transport == KD_TRANSPORT_TCP) kde_tcp_packet(e, c, dir, l4, ts);
    else if (transport == KD_TRANSPORT_UDP) {
        d->payload += l4->paylen;
        /* each datagram is probed alone; a datagram some dissector answered KD_PROBE_MORE for (TLS
         * on STUN, which precedes DTLS on a WebRTC 5-tuple) does not use up the budget of
         * KD_UDP_PROBES unwanted ones, up to KD_UDP_PROBES_MAX datagrams in all */
        if (c->l7_state == 0 && l4->paylen) {
            c->udp_probes++;
            if (!kde_probe(e, c, dir, l4->payload, l4->paylen, 1)) {
                if (!c->probe_more) c->udp_probes_no++;
                if (c->udp_probes_no >= KD_UDP_PROBES || c->udp_probes >= KD_UDP_PROBES_MAX) c->l7_state = 2;
            }
        }
        if (c->l7_state == 1 && c->d && c->d->on_datagram) c->d->on_datagram(c, c->st, dir, l4->payload, l4->paylen, &c->cur);
    } else {
        if (c->l7_state == 0) {
            for (size_t i = 0; i < e->ndis; i++)
                if ((e->o.enabled >> i & 1) && (e->dis[i]->transports & KD_TRANSPORT_OTHER) && e->dis[i]->on_packet &&
                    (!e->dis[i]->probe || e->dis[i]->probe(&c->info, dir, l4->payload, l4->paylen) != KD_PROBE_NO)) {
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
                           if (!c->flow->first_ref.frame) c->flow->first_ref = cur;
                           if (e->o.flow_sink) fev_attach(e, c); }
        } else if (c->flow) {
            int cl = c->info.client >= 0 ? c->info.client : 0;
            kd_flow *f = c->flow;
            f->pkts[dir == cl ? 0 : 1]++; f->bytes[dir == cl ? 0 : 1] += origlen;
            if (!f->dirty) { f->dirty = 1; f->rec_start = ts; f->first_ref = cur; f->first_seq = e->seen; kde_fev_mark(e, c); }
            f->last_ts = ts; f->last_ref = cur; f->last_seq = e->seen;
            f->l7 |= c->l7;
        }
    }
}

static void flows_interval(kd_engine *e, int64_t now, int all)
{
    for (size_t i = 0; i < e->fhtcap; i++) {
        for (kd_flow **pp = &e->fht[i]; *pp;) {
            kd_flow *f = *pp;
            if (f->dirty && (all || kd_ts_diff(now, f->rec_start) >= e->o.flow_interval_ns)) {
                /* find any connection of the flow to take the endpoints from */
                kd_conn any;
                memset(&any, 0, sizeof any);
                any.e = e; any.info.transport = f->ipproto == 6 ? KD_TRANSPORT_TCP : f->ipproto == 17 ? KD_TRANSPORT_UDP : KD_TRANSPORT_OTHER;
                any.info.ipproto = f->ipproto; any.info.client = 0;
                any.info.addr[0] = f->ca; any.info.addr[1] = f->sa; any.info.port[0] = 0; any.info.port[1] = f->sport;
                any.id = 0; any.node_idx = f->node_idx; any.capture = f->capture;
                kde_emit_flow(e, f, &any);
            }
            if (!f->active && !f->dirty && (all || kd_ts_diff(now, f->last_ts) > e->o.udp_idle_ns)) {
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
    /* the duplicate check's table: KD_DUP_SLOTS, fewer on a small budget (-j shards get a
     * share each: eight full tables took 12 MB of a 16M budget) */
    size_t slots = KD_DUP_SLOTS;
    while (slots > KD_DUP_SLOTS_MIN && slots * sizeof *e->dup > o->max_memory / KD_DUP_SHARE) slots /= 2;
    e->dupmask = slots - 1;
    int dups = o->dup_window_ns > 0;   /* (0: no duplicate check, no table) */
    e->dup = dups ? calloc(e->dupmask + 1, sizeof *e->dup) : NULL;
    e->dring = dups ? malloc(KD_DUP_RING * sizeof *e->dring) : NULL;
    kf_jw_init(&e->jw);
    kf_jw_init(&e->idw);
    uint64_t h = hash_bytes(KD_FNV_OFFSET, o->id_seed ? o->id_seed : "", o->id_seed ? strlen(o->id_seed) : 0);
    snprintf(e->idprefix, sizeof e->idprefix, "%016" PRIx64, kd_mix64(h));
    kd_idgen_init(&e->ids, e->idprefix);
    if (!e->dec || (dups && (!e->dup || !e->dring)) || ht_grow(e) != 0) { kd_engine_free(e); return NULL; }
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
    kde_flush_ready(e, e->finishing);
    return e->out_failed ? -1 : 0;
}

int64_t kd_engine_out_ts(const kd_engine *e) { return e->out_ts; }
const char *kd_engine_id_prefix(const kd_engine *e) { return e->idprefix; }

int kd_engine_finish(kd_engine *e)
{
    e->finishing = 1;
    /* close connections oldest first (by first packet, then creation) for stable output */
    while (e->ftn) {
        kd_conn *c = e->ft[0];
        if (e->o.flow_sink) fev_ctx(e, KD_PH_FINISH, c->first_ts, c->first_seq, UINT64_MAX);
        conn_close(e, c);
    }
    for (int l = 0; l < LRU_N; l++) while (e->lru_head[l]) conn_close(e, e->lru_head[l]);   /* none left */
    if (!e->o.no_conn) flows_interval(e, e->now, 1);
    kde_flush_ready(e, 1);
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
    for (size_t i = 0; e->wht && i < KD_NAME_BUCKETS; i++)
        for (kd_wname *n = e->wht[i], *x; n; n = x) { x = n->next; free(n); }
    free(e->wht);
    for (size_t i = 0; i < e->hn; i++) kde_rec_free(e, e->heap[i].r);
    kde_rec_arena_free(e);
    kde_order_free(e);
    free(e->dq);
    free(e->heap); free(e->stmp); free(e->ht); free(e->fht); free(e->nht); free(e->th); free(e->ft); free(e->dup); free(e->dring);
    free(e->files.v); free(e->files.slot); free(e->nodes.v); free(e->nodes.slot);
    kf_jw_free(&e->jw); kf_jw_free(&e->idw);
    if (e->dec) kf_decoder_free(e->dec);
    pools_free(e);
    free(e);
}

const kd_engine_stats *kd_engine_get_stats(const kd_engine *e) { return &e->st; }

int64_t kd_engine_now(const kd_engine *e) { return e->now; }
uint64_t kd_engine_mem(const kd_engine *e) { return e->mem; }
void kd_engine_set_budget(kd_engine *e, uint64_t max_memory) { e->o.max_memory = max_memory; }

/* The flow engine: each event does to the flows what packet_l4 / conn_close / cadence do to
 * them with one engine. */
void kd_engine_flow_apply(kd_engine *e, const kd_fev *v, void **flowp, uint32_t *flow_id)
{
    kd_flow *f = flowp ? *flowp : NULL;
    switch (v->type) {
    case KD_FEV_ATTACH: {
        kd_pref cfr = fref_in(e, &v->first_ref), cur = fref_in(e, &v->last_ref);
        f = flow_get_key(e, v->ipproto, &v->ca, &v->sa, v->sport, v->plain, v->first_ts, cfr,
                         intern(&e->nodes, v->node), v->capture);
        if (flowp) *flowp = f;
        if (!f) { if (flow_id) *flow_id = 0; return; }
        f->nconns++; f->active++; f->l7 |= v->l7;
        for (int k = 0; k < 2; k++) { f->pkts[k] += v->pkts[k]; f->bytes[k] += v->bytes[k]; }
        f->dirty = 1;
        /* (a delta applied before, at its first packet, may end later) */
        if (v->seq > f->last_seq) { f->last_ts = v->last_ts; f->last_ref = cur; f->last_seq = v->seq; }
        if (!f->first_ref.frame) f->first_ref = cur;
        if (flow_id) *flow_id = f->id;
        return;
    }
    case KD_FEV_DELTA:
        if (!f) return;
        f->l7 |= v->l7;
        if (!v->dirty) return;
        for (int k = 0; k < 2; k++) { f->pkts[k] += v->pkts[k]; f->bytes[k] += v->bytes[k]; }
        if (!f->dirty) { f->dirty = 1; f->rec_start = v->first_ts; f->first_ref = fref_in(e, &v->first_ref); }
        if (v->last_seq > f->last_seq) { f->last_ts = v->last_ts; f->last_ref = fref_in(e, &v->last_ref); f->last_seq = v->last_seq; }
        return;
    case KD_FEV_CLOSE: {
        if (!f) return;
        kd_conn any;
        memset(&any, 0, sizeof any);
        any.e = e; any.info = v->info; any.id = v->conn_id;
        if (f->active) f->active--;
        if (!f->active) kde_emit_flow(e, f, &any);
        return;
    }
    case KD_FEV_NAME:
        kd_engine_learn_name(e, &v->ip, v->name, v->namelen, v->first_ts);
        return;
    case KD_FEV_WNAME:
        kd_engine_learn_workload(e, &v->ip, v->name, v->namelen, v->first_ts, v->node);
        return;
    case KD_FEV_TICK:
        kd_engine_pass(e, v->first_ts, v->seq);
        return;
    case KD_FEV_FINAL:
        if (v->first_ts > e->now) e->now = v->first_ts;
        return;
    }
}
