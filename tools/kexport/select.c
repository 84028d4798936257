/* kexport: connection keys, endpoint selection (--ip, --workload through the metadata) and the
 * workload names written into NRBs and packet comments. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "kexport.h"

static int addr_cmp(const kf_addr *x, const kf_addr *y)
{
    if (x->family != y->family) return x->family < y->family ? -1 : 1;
    return memcmp(x->a, y->a, 16);
}

void kx_conn_make(kx_conn *c, uint8_t proto, const kf_addr *x, uint16_t px, const kf_addr *y,
                  uint16_t py)
{
    memset(c, 0, sizeof *c);
    c->proto = proto;
    int d = addr_cmp(x, y);
    if (d < 0 || (d == 0 && px <= py)) {
        c->a = *x; c->pa = px; c->b = *y; c->pb = py;
    } else {
        c->a = *y; c->pa = py; c->b = *x; c->pb = px;
    }
}

int kx_conn_cmp_noports(const kx_conn *x, const kx_conn *y)
{
    if (x->proto != y->proto) return x->proto < y->proto ? -1 : 1;
    int d = addr_cmp(&x->a, &y->a);
    if (d) return d;
    return addr_cmp(&x->b, &y->b);
}

int kx_conn_cmp(const kx_conn *x, const kx_conn *y)
{
    int d = kx_conn_cmp_noports(x, y);
    if (d) return d;
    if (x->pa != y->pa) return x->pa < y->pa ? -1 : 1;
    if (x->pb != y->pb) return x->pb < y->pb ? -1 : 1;
    return 0;
}

static int addr_from_text(const char *s, size_t n, kf_addr *a)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, buf, a->a) == 1) { a->family = 4; return 0; }
    if (inet_pton(AF_INET6, buf, a->a) == 1) {
        /* an IPv4-mapped IPv6 address is the IPv4 address for matching */
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (!memcmp(a->a, mapped, 12)) {
            memmove(a->a, a->a + 12, 4);
            memset(a->a + 4, 0, 12);
            a->family = 4;
        } else {
            a->family = 6;
        }
        return 0;
    }
    return -1;
}

static int port_from_text(const char *s, uint16_t *port)
{
    if (!*s) return -1;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (unsigned)(*p - '0');
        if (v > 65535) return -1;
    }
    *port = (uint16_t)v;
    return 0;
}

int kx_endpoint_parse(const char *s, kf_addr *a, uint16_t *port)
{
    *port = 0;
    if (!s) return -1;
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e) return -1;
        if (addr_from_text(s + 1, (size_t)(e - s - 1), a) != 0) return -1;
        if (e[1] == 0) return 0;
        if (e[1] != ':') return -1;
        return port_from_text(e + 2, port);
    }
    const char *c = strchr(s, ':');
    if (c && !strchr(c + 1, ':')) {     /* exactly one colon: IPv4:port */
        if (addr_from_text(s, (size_t)(c - s), a) != 0) return -1;
        return port_from_text(c + 1, port);
    }
    return addr_from_text(s, strlen(s), a);  /* bare IPv4 or IPv6 */
}

int kx_proto_parse(const char *s)
{
    static const struct { const char *n; int v; } t[] = {
        { "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP },
        { "icmpv6", IPPROTO_ICMPV6 }, { "icmp6", IPPROTO_ICMPV6 }, { "sctp", IPPROTO_SCTP },
    };
    if (!s) return -1;
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (!strcasecmp(s, t[i].n)) return t[i].v;
    uint16_t v;
    if (port_from_text(s, &v) == 0 && v < 256) return v;
    return -1;
}

/* ---- endpoints */

void kx_endpoints_init(kx_endpoints *e) { memset(e, 0, sizeof *e); }
void kx_endpoints_free(kx_endpoints *e) { free(e->v); memset(e, 0, sizeof *e); }

static int push(kx_endpoints *e, const kf_addr *ip, int64_t from, int64_t to, const char *who)
{
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 16;
        kx_span *nv = realloc(e->v, nc * sizeof *nv);
        if (!nv) return -1;
        e->v = nv;
        e->cap = nc;
    }
    kx_span *s = &e->v[e->n++];
    s->ip = *ip;
    s->from = from;
    s->to = to;
    s->who = who;
    return 0;
}

int kx_endpoints_add_ip(kx_endpoints *e, const char *ip)
{
    kf_addr a;
    uint16_t port;
    if (kx_endpoint_parse(ip, &a, &port) != 0 || port != 0) return -1;
    return push(e, &a, KF_T_MIN, KF_T_MAX, NULL);
}

static int streq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

int kx_endpoints_add_workload(kx_endpoints *e, const kf_meta *m, const char *spec, char *err,
                              size_t errlen)
{
    const char *slash = strchr(spec, '/');
    char ns[256] = "";
    const char *name = spec;
    if (slash) {
        size_t l = (size_t)(slash - spec);
        if (l == 0 || l >= sizeof ns || !slash[1] || strchr(slash + 1, '/')) {
            snprintf(err, errlen, "'%s' is not NAMESPACE/NAME", spec);
            return -1;
        }
        memcpy(ns, spec, l);
        ns[l] = 0;
        name = slash + 1;
    }
    if (!*name) { snprintf(err, errlen, "empty workload name"); return -1; }
    int node_ok = !slash || !strcmp(ns, "node");

    const kf_binding *b = NULL;
    size_t nb = kf_meta_bindings(m, &b);
    int added = 0;
    for (size_t i = 0; i < nb; i++) {
        const kf_workload *w = b[i].w;
        if (!w) continue;
        int hit = 0;
        switch (w->kind) {
        case KF_WK_POD:
            if (slash && !streq(w->namespace_, ns)) break;
            if (!slash) break;          /* pods need their namespace */
            if (streq(w->name, name) || streq(w->owner_name, name)) { hit = 1; break; }
            /* pods behind the service NAME while they held this IP */
            {
                const kf_workload *svc[16];
                int64_t at = b[i].from_ns;
                size_t k = kf_meta_pod_services(m, w, at, svc, 16);
                for (size_t j = 0; j < k && !hit; j++)
                    if (streq(svc[j]->name, name) && streq(svc[j]->namespace_, ns)) hit = 1;
            }
            break;
        case KF_WK_SERVICE:
            if (slash && streq(w->namespace_, ns) && streq(w->name, name)) hit = 1;
            break;
        case KF_WK_NODE:
            if (node_ok && streq(w->name, name)) hit = 1;
            break;
        }
        if (!hit) continue;
        if (push(e, &b[i].ip, b[i].from_ns, b[i].to_ns, w->name) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        added++;
    }
    return added;
}

static int span_cmp(const void *x, const void *y)
{
    const kx_span *a = x, *b = y;
    int d = addr_cmp(&a->ip, &b->ip);
    if (d) return d;
    return a->from < b->from ? -1 : a->from > b->from;
}

void kx_endpoints_index(kx_endpoints *e)
{
    if (e->n) qsort(e->v, e->n, sizeof *e->v, span_cmp);
}

int kx_endpoints_match(const kx_endpoints *e, const kf_addr *ip, int64_t ts)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {               /* first span with ip >= the address */
        size_t mid = lo + (hi - lo) / 2;
        if (addr_cmp(&e->v[mid].ip, ip) < 0) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = lo; i < e->n && addr_cmp(&e->v[i].ip, ip) == 0; i++) {
        if (e->v[i].from > ts) break;
        if (ts < e->v[i].to || e->v[i].to == KF_T_MAX) return 1;
    }
    return 0;
}

/* ---- names */

const char *kx_meta_name(const kf_meta *m, const kf_addr *ip, int64_t ts, char *buf, size_t len)
{
    kf_ipinfo in;
    if (!m || !kf_meta_lookup(m, ip, ts, &in)) return NULL;
    if (in.pod && !in.host_network_shared && in.pod->name) {
        if (in.pod->namespace_ && *in.pod->namespace_)
            snprintf(buf, len, "%s.%s", in.pod->name, in.pod->namespace_);
        else
            snprintf(buf, len, "%s", in.pod->name);
        return buf;
    }
    if (in.service && in.service->name) {
        snprintf(buf, len, "%s.%s.svc", in.service->name,
                 in.service->namespace_ ? in.service->namespace_ : "default");
        return buf;
    }
    if (in.node && in.node->name) { snprintf(buf, len, "%s", in.node->name); return buf; }
    return NULL;
}

const char *kx_meta_describe(const kf_meta *m, const kf_addr *ip, int64_t ts, char *buf,
                             size_t len)
{
    kf_ipinfo in;
    char name[256];
    if (!kx_meta_name(m, ip, ts, name, sizeof name) || !kf_meta_lookup(m, ip, ts, &in)) return NULL;
    if (in.pod && !in.host_network_shared) {
        if (in.pod->owner_kind && in.pod->owner_name)
            snprintf(buf, len, "%s (%s %s)", name, in.pod->owner_kind, in.pod->owner_name);
        else
            snprintf(buf, len, "%s (pod)", name);
    } else if (in.service) {
        snprintf(buf, len, "%s (service)", name);
    } else {
        snprintf(buf, len, "%s (node%s)", name, in.host_network_shared ? ", host network" : "");
    }
    return buf;
}

/* ---- a set of fixed-size byte keys: open addressing, FNV-1a */

void kx_set_init(kx_set *s, size_t key_size)
{
    memset(s, 0, sizeof *s);
    s->ksize = key_size;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}

static int set_grow(kx_set *s)
{
    size_t nc = s->cap ? s->cap * 2 : 256;
    uint8_t *nk = malloc(nc * s->ksize), *nu = calloc(nc, 1);
    if (!nk || !nu) { free(nk); free(nu); return -1; }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->used[i]) continue;
        const uint8_t *k = s->keys + i * s->ksize;
        size_t j = hash_bytes(k, s->ksize) & (nc - 1);
        while (nu[j]) j = (j + 1) & (nc - 1);
        nu[j] = 1;
        memcpy(nk + j * s->ksize, k, s->ksize);
    }
    free(s->keys);
    free(s->used);
    s->keys = nk;
    s->used = nu;
    s->cap = nc;
    return 0;
}

int kx_set_add(kx_set *s, const void *key)
{
    if ((s->n + 1) * 2 > s->cap && set_grow(s) != 0) return -1;
    size_t j = hash_bytes(key, s->ksize) & (s->cap - 1);
    while (s->used[j]) {
        if (!memcmp(s->keys + j * s->ksize, key, s->ksize)) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->used[j] = 1;
    memcpy(s->keys + j * s->ksize, key, s->ksize);
    s->n++;
    return 1;
}

int kx_set_has(const kx_set *s, const void *key)
{
    if (!s->n) return 0;
    size_t j = hash_bytes(key, s->ksize) & (s->cap - 1);
    while (s->used[j]) {
        if (!memcmp(s->keys + j * s->ksize, key, s->ksize)) return 1;
        j = (j + 1) & (s->cap - 1);
    }
    return 0;
}

void kx_set_free(kx_set *s)
{
    free(s->keys);
    free(s->used);
    memset(s, 0, sizeof *s);
}
