/* engine_record.c — kdissect engine: record writing (names learned from DNS, envelope, conn and flow records) (see engine_int.h for the parts). */
#include "engine_int.h"
#include "kf_grow.h"

/* ------------------------------------------------------------------ names learned from DNS */

/* An address's hash for the name tables: its bytes as words (IPv4: the first 4). The byte loop
 * (FNV-1a) this replaces was 0.6 % of kdissect's instructions on bench/data/api-one.pcap (two
 * look-ups per record); it only places names in buckets, nothing is ordered by it. */
static uint64_t addr_hash(const kf_addr *a)
{
    if (a->family == 4) {
        uint32_t v;
        memcpy(&v, a->a, 4);
        return kd_mix64(v * 0x9E3779B97F4A7C15ULL ^ 4);
    }
    uint64_t w0, w1;
    memcpy(&w0, a->a, 8); memcpy(&w1, a->a + 8, 8);
    return kd_mix64(w0 * 0x9E3779B97F4A7C15ULL ^ w1 * 0xC2B2AE3D27D4EB4FULL ^ a->family);
}

void kd_learn_name(kd_conn *c, const kf_addr *ip, const char *name, size_t len, int64_t ts_ns)
{
    kd_engine_learn_name(c->e, ip, name, len, ts_ns);
    if (c->e->o.flow_sink) kde_fev_name(c->e, ip, name, len, ts_ns);   /* the flow engine's records name it too */
}
void kd_engine_learn_name(kd_engine *e, const kf_addr *ip, const char *name, size_t len, int64_t ts_ns)
{
    if (!len || len > KD_NAME_LEN_MAX) return;
    if (!e->nhtcap) {
        e->nhtcap = KD_NAME_BUCKETS;
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
    if (e->nnames >= KD_NAMES_MAX) return;
    kd_name *n = malloc(sizeof *n + len + 1);
    if (!n) return;
    n->ip = *ip; n->ts = ts_ns; n->serial = ++e->name_serial;
    memcpy(n->name, name, len); n->name[len] = 0;
    n->hnext = e->nht[b]; e->nht[b] = n; e->nnames++;
}
static const kd_name *learned(const kd_engine *e, const kf_addr *ip)
{
    if (!e->nhtcap) return NULL;
    for (kd_name *n = e->nht[addr_hash(ip) & (e->nhtcap - 1)]; n; n = n->hnext)
        if (kf_addr_eq(&n->ip, ip)) return n;
    return NULL;
}
static const char *learned_name(const kd_engine *e, const kf_addr *ip)
{
    const kd_name *n = learned(e, ip);
    return n ? n->name : NULL;
}

/* ------------------------------------------------------------------ workloads a kexport export names */

void kd_engine_learn_workload(kd_engine *e, const kf_addr *ip, const char *name, size_t len, int64_t from,
                              const char *node)
{
    if (!len || len > KD_NAME_LEN_MAX || e->nwnames >= KD_NAMES_MAX) return;
    const char *slash = memchr(name, '/', len);
    if (slash && from == KF_T_MIN) len = (size_t)(slash - name);   /* several holders: the first
                                                                     until a comment says otherwise */
    if (!len) return;
    if (!e->wht && !(e->wht = calloc(KD_NAME_BUCKETS, sizeof *e->wht))) return;
    size_t b = addr_hash(ip) & (KD_NAME_BUCKETS - 1);
    for (kd_wname *n = e->wht[b]; n; n = n->next)   /* known already (every shard hears it) */
        if (kf_addr_eq(&n->ip, ip) && n->from == from) return;
    kd_wname *n = calloc(1, sizeof *n + len + 1);
    if (!n) return;
    n->ip = *ip;
    n->from = from;
    memcpy(n->buf, name, len);
    char *s = n->buf, *dot;
    /* kexport's names (tools/kexport/select.c kx_meta_name): service.namespace.svc, pod.namespace
     * (a pod name may hold dots, a namespace not), a node's bare name. A node name with dots
     * other than the capturing node's reads as pod.namespace: --meta gives the truth. */
    if (len > 4 && !strcmp(s + len - 4, ".svc") && (dot = strchr(s, '.')) && dot < s + len - 4) {
        s[len - 4] = 0;
        *dot = 0;
        n->w.kind = KF_WK_SERVICE; n->w.name = s; n->w.namespace_ = dot + 1;
    } else if ((!node || strcmp(s, node)) && (dot = strrchr(s, '.')) && dot > s && dot[1]) {
        *dot = 0;
        n->w.kind = KF_WK_POD; n->w.name = s; n->w.namespace_ = dot + 1;
    } else {
        n->w.kind = KF_WK_NODE; n->w.name = s; n->w.node = s;
    }
    n->w.created_ns = KF_T_MIN; n->w.deleted_ns = KF_T_MAX;
    n->next = e->wht[b];
    e->wht[b] = n;
    e->nwnames++;
}

/* The workload a kexport export names for ip at ts: the latest holder from before ts, else the
 * earliest one. */
static const kf_workload *named_workload(const kd_engine *e, const kf_addr *ip, int64_t ts)
{
    if (!e->wht) return NULL;
    const kd_wname *best = NULL, *first = NULL;
    for (const kd_wname *n = e->wht[addr_hash(ip) & (KD_NAME_BUCKETS - 1)]; n; n = n->next) {
        if (!kf_addr_eq(&n->ip, ip)) continue;
        if (!first || n->from < first->from) first = n;
        if (n->from <= ts && (!best || n->from > best->from)) best = n;
    }
    return best ? &best->w : first ? &first->w : NULL;
}

void kd_workload_learn(void *e, const kf_addr *ip, const char *name, size_t len, int64_t from, const char *node)
{
    kd_engine_learn_workload(e, ip, name, len, from, node);
}

void kd_source_workloads_take(const kf_source *src, size_t *taken, const kf_src_pkt *p, kd_workload_fn fn, void *arg)
{
    for (size_t n = kf_source_nrb_count(src); *taken < n; (*taken)++) {
        const kf_src_nrb *r = kf_source_nrb(src, *taken);
        if (!r->workload_names) continue;
        kf_addr ip;
        memset(&ip, 0, sizeof ip);
        ip.family = (uint8_t)r->family;
        memcpy(ip.a, r->addr, r->family == 4 ? 4 : 16);
        fn(arg, &ip, r->name, strlen(r->name), KF_T_MIN, r->node);
    }
    if (!p || !p->pkt.comment || !p->iface || !p->iface->workload_names) return;
    /* kexport (main.c reuse_comment): "IP is NAME here (IP reused: ...)", several joined by "; " */
    static const char here[] = " here (IP reused";
    const char *c = p->pkt.comment;
    while (c && *c) {
        const char *is = strstr(c, " is "), *h = is ? strstr(is + 4, here) : NULL;
        if (!h) return;
        char ipb[64];
        size_t il = (size_t)(is - c);
        kf_addr ip;
        if (il < sizeof ipb) {
            memcpy(ipb, c, il);
            ipb[il] = 0;
            if (kf_addr_parse(ipb, &ip) == 1) fn(arg, &ip, is + 4, (size_t)(h - (is + 4)), p->pkt.ts_ns, p->node);
        }
        c = strstr(h, "; ");
        if (c) c += 2;
    }
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
    kf_jw_keyc(w, key, strlen(key));   /* one of our literal keys (no escaping) */
    kf_jw_raw(w, s, strlen(s));
    free(s);
}

static void side_lookup(kd_engine *e, const kf_addr *ip, int64_t ts, kd_side *s)
{
    memset(s, 0, sizeof *s);
    if (!e->o.meta || !(s->found = kf_meta_lookup(e->o.meta, ip, ts, &s->ii))) {
        const kf_workload *w = named_workload(e, ip, ts);   /* metadata of last resort */
        if (!w) return;
        s->found = 1;
        if (w->kind == KF_WK_POD) s->ii.pod = w;
        else if (w->kind == KF_WK_SERVICE) s->ii.service = s->svc = w;
        else s->ii.node = w;
        return;
    }
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
    kf_jw_keyc(w, key, strlen(key));   /* one of our literal keys (no escaping) */
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

/* "addr:port" ("[addr]:port" for IPv6) into out (room for addr + 9); returns its length.
 * By hand, like the ids below: snprintf was 5 % of kdissect's time on bench/data/api-one.pcap
 * (several per record). */
static size_t hostport(char *out, const char *addr, int v6, unsigned port)
{
    char *o = out;
    size_t n = strlen(addr);
    if (v6) *o++ = '[';
    memcpy(o, addr, n); o += n;
    if (v6) *o++ = ']';
    *o++ = ':';
    char d[8]; int k = 0;
    do { d[k++] = (char)('0' + port % 10); port /= 10; } while (port);
    while (k) *o++ = d[--k];
    *o = 0;
    return (size_t)(o - out);
}

/* "<p>-%08x" of id into out (12 bytes); returns 10 */
static size_t hex_id(char *out, char p, uint32_t id)
{
    static const char hx[] = "0123456789abcdef";
    out[0] = p; out[1] = '-';
    for (int i = 0; i < 8; i++) out[2 + i] = hx[(id >> (28 - 4 * i)) & 15];
    out[10] = 0;
    return 10;
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
    kf_jw_kstrn(w, "a", buf, hostport(buf, a, v6, ci->port[cl]));
    kf_jw_kstrn(w, "b", buf, hostport(buf, b, v6, ci->port[!cl]));
    kf_jw_obj_end(w);
}

/* The envelope cache: the run of fields from "stream" to "dns_resolutions", the capture's "file"
 * and "node" (while the record's first and last packets come from the same files as before) and
 * the capture's "conn" tuple with "conn_first_ts" are the same for every call of a connection as
 * long as the names DNS taught for its two addresses are the same (the same kd_name, known by its
 * serial), so they are written once and copied after that, kept by the connection (c->envc, counted in
 * its memory, freed with it). Not with metadata or names from a kexport export: what they say of an address depends on
 * the time. Hand-written for the benchmark: these fields were 11 % of kdissect's time on
 * bench/data/api-one.pcap; a table of 256 slots shared by the connections (the cache before
 * this one) missed on half the records there (wrk's connections took each other's slots, the
 * conn record of a one-call connection found its slot taken), a miss costing about 6 000
 * instructions more than a hit. */
struct kd_envc {
    uint64_t dns[2]; int64_t flow; uint32_t node, file[2];
    int side, client, capture;
    size_t alen, tlen, flen, cap;   /* the three parts' lengths, buf's size */
    char buf[];                 /* the part after the first fields, the tuple, the capture's first items */
};
static int envc_hit(const struct kd_envc *es, const kd_conn *c, int srcside, uint64_t d0, uint64_t d1,
                    const kd_pref *first, const kd_pref *last)
{
    return es && es->side == srcside && es->dns[0] == d0 && es->dns[1] == d1 &&
           es->flow == (c->flow ? (int64_t)c->flow->id : -1) && es->node == c->node_idx &&
           es->capture == (int)c->capture && es->client == c->info.client &&
           es->file[0] == first->file && es->file[1] == last->file;
}
/* Keeps w's text [a0, a0 + alen), [t0, t0 + tlen) and [f0, f0 + flen) as c's envelope parts (on
 * no memory: not). */
static void envc_keep(kd_conn *c, const kf_jw *w, size_t a0, size_t alen, size_t t0, size_t tlen, size_t f0,
                      size_t flen, int srcside, uint64_t d0, uint64_t d1, const kd_pref *first, const kd_pref *last)
{
    if (kf_jw_failed(w)) return;
    struct kd_envc *es = c->envc;
    size_t need = alen + tlen + flen;
    if (!es || es->cap < need) {
        size_t old = es ? sizeof *es + es->cap : 0;
        struct kd_envc *n = realloc(es, sizeof *es + need);
        if (!n) return;
        es = c->envc = n;
        es->cap = need;
        kd_conn_mem(c, (long)(sizeof *es + need) - (long)old);
    }
    memcpy(es->buf, w->buf + a0, alen);
    memcpy(es->buf + alen, w->buf + t0, tlen);
    memcpy(es->buf + alen + tlen, w->buf + f0, flen);
    es->alen = alen; es->tlen = tlen; es->flen = flen;
    es->file[0] = first->file; es->file[1] = last->file;
    es->side = srcside; es->dns[0] = d0; es->dns[1] = d1;
    es->flow = c->flow ? (int64_t)c->flow->id : -1; es->node = c->node_idx;
    es->capture = (int)c->capture; es->client = c->info.client;
}

/* Opens a record and writes the fields every record has. src = side `srcside`. cache: 0 c is a
 * flow's stand-in; 1 c is a connection of the table, its parts may be kept (struct kd_envc) and
 * used; 2 used if kept already (its last record: keeping them now is of no use). */
static kf_jw *envelope(kd_engine *e, kd_conn *c, int srcside, int64_t ts, int64_t elapsed_us,
                       const char *protocol, const char *flag, const char *flag2,
                       const kd_pref *first, const kd_pref *last, int cache)
{
    kf_jw *w = &e->jw;
    /* written where the record will wait, when there is room (finish_record) */
    size_t room;
    char *at = kde_rec_room(e, &room);
    if (at) kf_jw_reset_into(w, at, room);
    else kf_jw_reset(w);
    kf_jw_obj_begin(w);
    kf_jw_ktime(w, "timestamp", ts);
    kf_jw_kint(w, "elapsed_time", elapsed_us);
    /* "protocol" and the flags: string literals (dissector.h), so their text is kept by address
     * in a few slots of the engine and copied when the same three come again (every record
     * wrote them through three calls, 1 % of kdissect's instructions on bench/data/api-one.pcap,
     * where a short connection's conn record follows its HTTP one: two slots in turn) */
    struct kd_pcache *pc = NULL;
    for (int i = 0; i < KD_PCACHE; i++)
        if (e->pc[i].len && e->pc[i].p == protocol && e->pc[i].f == flag && e->pc[i].f2 == flag2) { pc = &e->pc[i]; break; }
    if (pc) kf_jw_items(w, pc->txt, pc->len);
    else {
        size_t p0 = w->len;
        kf_jw_kstr(w, "protocol", protocol);
        /* the flags are names from the dissector table (no escaping): as constant keys */
        if (flag) kf_jw_kc_bool(w, flag, strlen(flag), 1);
        if (flag2) kf_jw_kc_bool(w, flag2, strlen(flag2), 1);
        if (p0 < w->len && w->buf[p0] == ',') p0++;   /* (after elapsed_time: always) */
        pc = &e->pc[e->pc_next++ % KD_PCACHE];
        pc->len = 0;
        if (!kf_jw_failed(w) && w->len - p0 <= sizeof pc->txt && protocol) {
            memcpy(pc->txt, w->buf + p0, w->len - p0);
            pc->len = w->len - p0;
            pc->p = protocol; pc->f = flag; pc->f2 = flag2;
        }
    }
    if (e->o.meta || e->wht) cache = 0;
    const kd_name *n0 = cache ? learned(e, &c->info.addr[srcside]) : NULL;
    const kd_name *n1 = cache ? learned(e, &c->info.addr[!srcside]) : NULL;
    uint64_t dns0 = n0 ? n0->serial : 0, dns1 = n1 ? n1->serial : 0;
    const struct kd_envc *es = cache ? c->envc : NULL;
    int hit = envc_hit(es, c, srcside, dns0, dns1, first, last);
    const char *node = node_name(e, c->node_idx);
    kd_side s[2];
    size_t a0 = w->len, a1 = 0;
    if (hit) {
        kf_jw_append(w, es->buf, es->alen);
        goto after_sides;
    }
    char id[16];
    size_t idn = hex_id(id, 'c', c->id);
    kf_jw_kstrn(w, "stream", id, idn);
    kf_jw_kstrn(w, "conn_id", id, idn);
    if (c->flow) { idn = hex_id(id, 'f', c->flow->id); kf_jw_kstrn(w, "flow_id", id, idn); }
    /* how the connection's first packet was captured (ksnap's IDB comment; af_packet when the
     * capture does not say); the backend family: ebpf_tls is ebpf */
    const char *cs = kf_capture_name(c->capture);
    kf_jw_kstr(w, "capture_source", cs ? cs : "af_packet");
    kf_jw_kstr(w, "capture_backend", c->capture == KF_CAP_EBPF_TLS ? "ebpf" : cs ? cs : "af_packet");
    /* made of TLS plaintext that ksnap capture --tls took from OpenSSL (Kubeshark's tls) */
    if (c->capture == KF_CAP_EBPF_TLS) kf_jw_kbool(w, "tls", 1);
    kf_jw_kbool(w, "has_pcap", 1);
    const char *nip = node_ip_of(e, node);
    kf_jw_key(w, "node");
    kf_jw_obj_begin(w);
    kf_jw_kstr(w, "name", node);
    kf_jw_kstr(w, "ip", nip ? nip : "");
    kf_jw_obj_end(w);
    kf_jw_kstr(w, "node_name", node);
    kf_jw_kstr(w, "node_ip", nip ? nip : "");
    const kd_conn_info *ci = &c->info;
    side_lookup(e, &ci->addr[srcside], ts, &s[0]);
    side_lookup(e, &ci->addr[!srcside], ts, &s[1]);
    write_endpoint(e, w, "src", &ci->addr[srcside], ci->port[srcside], &s[0]);
    write_endpoint(e, w, "dst", &ci->addr[!srcside], ci->port[!srcside], &s[1]);
    {   /* dns_resolutions: both sides' DNS names, once each (Kubeshark's KFL) */
        const char *d0 = learned_name(e, &ci->addr[srcside]), *d1 = learned_name(e, &ci->addr[!srcside]);
        if ((d0 && *d0) || (d1 && *d1)) {
            kf_jw_key(w, "dns_resolutions");
            kf_jw_arr_begin(w);
            if (d0 && *d0) kf_jw_str(w, d0);
            if (d1 && *d1 && !(d0 && strcmp(d0, d1) == 0)) kf_jw_str(w, d1);
            kf_jw_arr_end(w);
        }
    }
    a1 = w->len;
after_sides:
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
            kf_jw_keyc(w, keys[k], strlen(keys[k]));
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
        for (int i = 0; i < 2; i++) {   /* each side's node, and whether the metadata knew the IP */
            const kd_side *sd = &s[i == 0 ? local : !local];
            const char *pn = sd->ii.pod ? sd->ii.pod->node : sd->ii.node ? sd->ii.node->name : NULL;
            if (pn && *pn) kf_jw_kstr(w, i == 0 ? "local_node_name" : "remote_node_name", pn);
            kf_jw_kstr(w, i == 0 ? "local_resolution_status" : "remote_resolution_status",
                       sd->ii.pod || sd->svc || sd->ii.node ? "" : "not_found");
        }
        if (lp) { write_json_obj(w, "local_labels", lp->labels); write_json_obj(w, "local_annotations", lp->annotations); }
        if (rp) { write_json_obj(w, "remote_labels", rp->labels); write_json_obj(w, "remote_annotations", rp->annotations); }
    }
    kf_jw_key(w, "capture");
    kf_jw_obj_begin(w);
    /* the capture's file(s) and node: the same for the connection's records while its files are
     * (part of the cache's key), kept with the other parts */
    size_t f0 = w->len;
    if (hit) kf_jw_items(w, es->buf + es->alen + es->tlen, es->flen);
    else {
        kf_jw_kstr(w, "file", file_name(e, first->file));
        if (last->file != first->file) kf_jw_kstr(w, "last_file", file_name(e, last->file));
        kf_jw_kstr(w, "node", node);
    }
    size_t f1 = w->len;
    kf_jw_kuint(w, "first_frame", first->frame);
    kf_jw_kuint(w, "last_frame", last->frame);
    kf_jw_ktime(w, "first_ts", first->ts_ns);
    kf_jw_ktime(w, "last_ts", last->ts_ns);
    if (hit) kf_jw_append(w, es->buf + es->alen, es->tlen);
    else {
        size_t t0 = w->len;
        write_conn_tuple(e, w, c);
        kf_jw_ktime(w, "conn_first_ts", c->first_ts);   /* the connection's: kept with the tuple */
        if (cache == 1) envc_keep(c, w, a0, a1 - a0, t0, w->len - t0, f0, f1 - f0, srcside, dns0, dns1, first, last);
    }
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
    kd_rec *r = kf_jw_in_ext(w) ? kde_rec_placed(e, w->buf, w->len) : NULL;
    if (!r) {
        if (!(r = kde_rec_alloc(e, w->len))) return;
        /* memmove: the text may still be in the chunk kde_rec_alloc cuts from (not placed because
         * the budget changed meanwhile: not seen, but then the two may overlap) */
        memmove(r->data, w->buf, w->len);
    }
    r->ts = ts; r->seq = e->rec_seq++; r->len = w->len;
    kde_heap_push(e, r);
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
    int64_t el = call->has_req && call->has_resp ? kd_ts_diff(call->resp_first.ts_ns, call->req_first.ts_ns) / 1000 : 0;
    if (el < 0) el = 0;
    const char *flag2 = c->info.transport == KD_TRANSPORT_TCP ? "tcp" : c->info.transport == KD_TRANSPORT_UDP ? "udp" : NULL;
    const kd_dissector *d = c->layer ? c->layer->d : c->d ? c->d : c->up_d;
    int di = d ? dis_index(e, d) : -1;
    e->st.records_by_proto[di >= 0 && di < KD_L7_BITS ? di : KD_L7_BITS]++;
    e->emit_ts = ts;
    return envelope(e, c, call->req_dir & 1, ts, el, call->protocol ? call->protocol : d ? d->protocol : "",
                    call->flag ? call->flag : d ? d->flag : NULL, flag2, first, last, 1);
}

void kd_emit_end(kd_conn *c)
{
    kd_engine *e = c->e;
    if (e->emitting != c) return;
    /* one rule for every protocol that has calls: a request whose response was not seen */
    const kd_dissector *d = c->d ? c->d : c->up_d;
    const kd_call *call = e->call;
    if (d && d->calls && call && call->has_req && !call->has_resp && !call->no_response)
        kf_jw_kbool(&e->jw, "unanswered", 1);
    if (c->layer && c->layer->decorate) c->layer->decorate(c->layer->arg, &e->jw);
    finish_record(e, e->emit_ts);
    if (e->emit_ts > c->max_rec_ts) c->max_rec_ts = e->emit_ts;
    e->emitting = NULL;
}

static void l7_list(kf_jw *w, const char *key, const kd_engine *e, uint32_t mask)
{
    kf_jw_keyc(w, key, strlen(key));   /* one of our literal keys (no escaping) */
    kf_jw_arr_begin(w);
    for (size_t i = 0; i < e->ndis && i < KD_L7_BITS; i++)
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

void kde_emit_flow(kd_engine *e, kd_flow *f, const kd_conn *any)
{
    if (e->o.no_conn || !f->dirty || !any) return;
    /* a fake conn view carrying the flow's endpoints and node */
    kd_conn fc;
    memset(&fc, 0, sizeof fc);
    fc.e = e; fc.id = any->id; fc.flow = f; fc.node_idx = f->node_idx; fc.capture = f->capture;
    fc.info = any->info;
    int cl = any->info.client >= 0 ? any->info.client : 0;
    fc.info.client = 0;
    fc.info.addr[0] = f->ca; fc.info.addr[1] = f->sa;
    fc.info.port[0] = any->info.port[cl]; fc.info.port[1] = f->sport;
    fc.first_ts = f->rec_start; fc.last_ts = f->last_ts;
    int tcp = any->info.transport == KD_TRANSPORT_TCP;
    int local = local_side(e, &fc);
    kf_jw *w = envelope(e, &fc, 0, f->rec_start, kd_ts_diff(f->last_ts, f->rec_start) / 1000, tcp ? "TCP" : any->info.transport == KD_TRANSPORT_UDP ? "UDP" : "IP",
                        "flow", tcp ? "tcp_flow" : any->info.transport == KD_TRANSPORT_UDP ? "udp_flow" : NULL, &f->first_ref, &f->last_ref, 0);
    kf_jw_kc_bool(w, tcp ? "tcp" : "udp", 3, 1);
    kf_jw_kstr(w, "flow_state", f->active ? "open" : "closed");
    double dur = (double)kd_ts_diff(f->last_ts, f->rec_start) / 1e9;
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

void kde_emit_conn(kd_engine *e, kd_conn *c)
{
    if (e->o.no_conn || c->emitted) return;
    c->emitted = 1;
    int tcp = c->info.transport == KD_TRANSPORT_TCP, udp = c->info.transport == KD_TRANSPORT_UDP;
    if (!tcp && !udp) return;
    int cl = c->info.client >= 0 ? c->info.client : 0;
    kf_jw *w = envelope(e, c, cl, c->first_ts, kd_ts_diff(c->last_ts, c->first_ts) / 1000, tcp ? "TCP" : "UDP", "conn",
                        tcp ? "tcp_conn" : "udp_conn", &c->first_ref, &c->last_ref, 2);
    kf_jw_kc_bool(w, tcp ? "tcp" : "udp", 3, 1);
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
        if (c->syn_ts && c->hs_ack_ts) kf_jw_kint(w, "initial_rtt_us", kd_ts_diff(c->hs_ack_ts, c->syn_ts) / 1000);
        if (c->syn_ts && c->synack_ts) kf_jw_kint(w, "handshake_time_us", kd_ts_diff(c->synack_ts, c->syn_ts) / 1000);
        if (c->data_ts[cl] && c->data_ts[!cl] && c->data_ts[!cl] >= c->data_ts[cl])
            kf_jw_kint(w, "time_to_first_byte_us", kd_ts_diff(c->data_ts[!cl], c->data_ts[cl]) / 1000);
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
    if (c->first_ts > c->max_rec_ts) c->max_rec_ts = c->first_ts;
    e->st.conn_records++;
}

