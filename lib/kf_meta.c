/* kf_meta — Kubernetes metadata over time (docs/metadata.md).
 *
 * Loading keeps every event as (time, type, identity key, compact JSON text of the trimmed
 * object) plus the few facts resolution needs (IPs, node, owner, labels …). kf_meta_finish sorts
 * the events by time (stable: equal times keep load order) and replays them to build workloads
 * and "ip -> workload over [from, to)" bindings, sorted by ip then from, for binary search.
 *
 * Rules of the replay (the model the docs describe):
 * - a workload's IPs are its current ones; an IP that disappears (MODIFIED without it, DELETED,
 *   pod phase Succeeded/Failed: the sandbox and its IP are released) ends its binding at the
 *   event's time; a new IP starts at the event's time, or at the creation time when the event is
 *   the first one seen for the workload (a kubectl List taken long after the pod started);
 * - a pod IP belongs to one (non host-network) pod at a time: a new holder ends the previous
 *   one's open binding, and never starts before the previous one ended;
 * - an ADDED for a known object (a watch that restarted re-lists everything) is an update;
 * - host-network pods get bindings flagged by their workload's host_network (lookup never
 *   names them as the holder; it reports the sharing).
 * The hash map below is hand-written: jansson has no map with binary keys and size_t values,
 * and the project's dependencies include no general container library. */
#include "kf_meta.h"
#include "kf_grow.h"
#include "kf_time.h"
#include "kf_store.h"
#include "kf_limits.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------- a small open-addressing hash map: bytes -> size_t ---------- */
typedef struct hent { char *k; size_t klen; uint64_t h; size_t v; } hent;
typedef struct hmap { hent *e; size_t cap, n; } hmap;

static uint64_t hm_hash(const void *k, size_t n)
{
    const uint8_t *p = k;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h ? h : 1;
}

static hent *hm_slot(const hmap *m, const void *k, size_t n, uint64_t h)
{
    size_t i = h & (m->cap - 1);
    for (;;) {
        hent *e = &m->e[i];
        if (!e->k || (e->h == h && e->klen == n && memcmp(e->k, k, n) == 0)) return e;
        i = (i + 1) & (m->cap - 1);
    }
}

static int hm_get(const hmap *m, const void *k, size_t n, size_t *v)
{
    if (!m->cap) return 0;
    hent *e = hm_slot(m, k, n, hm_hash(k, n));
    if (!e->k) return 0;
    *v = e->v;
    return 1;
}

static int hm_put(hmap *m, const void *k, size_t n, size_t v)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        hent *ne = calloc(nc, sizeof *ne);
        if (!ne) return -1;
        hmap tmp = { ne, nc, 0 };
        for (size_t i = 0; i < m->cap; i++)
            if (m->e[i].k) { *hm_slot(&tmp, m->e[i].k, m->e[i].klen, m->e[i].h) = m->e[i]; tmp.n++; }
        free(m->e);
        *m = tmp;
    }
    uint64_t h = hm_hash(k, n);
    hent *e = hm_slot(m, k, n, h);
    if (!e->k) {
        e->k = malloc(n ? n : 1);
        if (!e->k) return -1;
        memcpy(e->k, k, n);
        e->klen = n; e->h = h;
        m->n++;
    }
    e->v = v;
    return 0;
}

static void hm_free(hmap *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->e[i].k);
    free(m->e);
    memset(m, 0, sizeof *m);
}

/* ---------- events ---------- */
enum { EV_ADDED = 1, EV_MODIFIED = 2, EV_DELETED = 3 };
enum { OK_OTHER = 0, OK_POD, OK_SVC, OK_NODE, OK_EP, OK_EPS, OK_CTRL };
static const char *const ev_names[] = { "", "ADDED", "MODIFIED", "DELETED" };

typedef struct mtarget { kf_addr ip; int has_ip; char *uid; } mtarget;

typedef struct mev {
    int64_t ts;
    uint64_t seq;
    uint8_t type, okind, host_network, terminated;
    char *key;                 /* identity: "Kind/uid" or "Kind/ns/name" */
    char *text;                /* compact JSON of the trimmed object */
    char *kind, *name, *ns, *uid, *node, *own_kind, *own_name;
    char *svc;                 /* endpoints: the service's name */
    json_t *labels, *annotations, *selector;
    int64_t created;
    kf_addr *ips;
    uint32_t nips, ntg;
    mtarget *tg;
} mev;

/* replay state of one workload */
typedef struct wl {
    kf_workload w;             /* first: kf_workload pointers are wl pointers */
    size_t *open;              /* indices of its open bindings */
    size_t nopen, capopen;
    int nevents;
    int soft;                  /* first seen already completed: its bindings end at an upper bound */
    char *own_kind_buf;        /* resolved owner kind/name (may point into events instead) */
} wl;

typedef struct memb {          /* "pod (uid or ip) is an endpoint of service ns/name" over time */
    const char *ns, *svc, *uid;
    kf_addr ip;
    int has_ip;
    int64_t from, to;
} memb;

typedef struct epstate { size_t *open; size_t nopen, capopen; int nevents; } epstate;

struct kf_meta {
    mev *ev;
    size_t nev, capev;
    uint64_t seq;
    int dirty;
    /* built by finish */
    wl **wls;
    size_t nwl, capwl;
    kf_binding *b;
    size_t nb, capb;
    memb *mb;
    size_t nmb, capmb;
    wl **svcs;                 /* the service workloads (pod_services scans only these) */
    size_t nsvcs;
};

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static const char *jstr(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int addr_parse(const char *s, kf_addr *a)
{
    memset(a, 0, sizeof *a);
    if (!s) return 0;
    if (inet_pton(AF_INET, s, a->a) == 1) { a->family = 4; return 1; }
    if (inet_pton(AF_INET6, s, a->a) == 1) { a->family = 6; return 1; }
    return 0;
}

static int addr_cmp(const kf_addr *x, const kf_addr *y)
{
    if (x->family != y->family) return x->family < y->family ? -1 : 1;
    return memcmp(x->a, y->a, 16);
}

static int64_t parse_ts(const char *s)
{
    int64_t ns;
    if (!s || kf_time_parse_rfc3339(s, strlen(s), &ns) != 0) return KF_T_MIN;
    return ns;
}

kf_meta *kf_meta_new(void)
{
    return calloc(1, sizeof(kf_meta));
}

static void mev_free(mev *e)
{
    free(e->key); free(e->text); free(e->kind); free(e->name); free(e->ns); free(e->uid);
    free(e->node); free(e->own_kind); free(e->own_name); free(e->svc); free(e->ips);
    for (uint32_t i = 0; i < e->ntg; i++) free(e->tg[i].uid);
    free(e->tg);
    json_decref(e->labels); json_decref(e->annotations); json_decref(e->selector);
}

static void model_clear(kf_meta *m)
{
    for (size_t i = 0; i < m->nwl; i++) {
        free(m->wls[i]->open);
        free(m->wls[i]->own_kind_buf);
        free(m->wls[i]);
    }
    free(m->wls); m->wls = NULL; m->nwl = m->capwl = 0;
    free(m->b); m->b = NULL; m->nb = m->capb = 0;
    free(m->mb); m->mb = NULL; m->nmb = m->capmb = 0;
    free(m->svcs); m->svcs = NULL; m->nsvcs = 0;
}

void kf_meta_free(kf_meta *m)
{
    if (!m) return;
    model_clear(m);
    for (size_t i = 0; i < m->nev; i++) mev_free(&m->ev[i]);
    free(m->ev);
    free(m);
}

/* ---------- trimming: keep what resolution needs ---------- */
static void copy_key(json_t *dst, const json_t *src, const char *k)
{
    json_t *v = json_object_get(src, k);
    if (v && !json_is_null(v)) json_object_set(dst, k, v);
}

static json_t *trim_refs(const json_t *refs)
{
    json_t *a = json_array();
    size_t i; json_t *r;
    json_array_foreach(refs, i, r) {
        if (!json_is_object(r)) continue;
        json_t *o = json_object();
        copy_key(o, r, "apiVersion"); copy_key(o, r, "kind"); copy_key(o, r, "name");
        copy_key(o, r, "uid"); copy_key(o, r, "controller");
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *trim_addrs(const json_t *addrs)    /* Endpoints subsets[].addresses[] */
{
    json_t *a = json_array();
    size_t i; json_t *x;
    json_array_foreach(addrs, i, x) {
        if (!json_is_object(x)) continue;
        json_t *o = json_object();
        copy_key(o, x, "ip"); copy_key(o, x, "nodeName"); copy_key(o, x, "hostname");
        json_t *tr = json_object_get(x, "targetRef");
        if (json_is_object(tr)) {
            json_t *t = json_object();
            copy_key(t, tr, "kind"); copy_key(t, tr, "name"); copy_key(t, tr, "namespace");
            copy_key(t, tr, "uid");
            json_object_set_new(o, "targetRef", t);
        }
        json_array_append_new(a, o);
    }
    return a;
}

json_t *kf_meta_trim_object(const json_t *obj)
{
    if (!json_is_object(obj)) return NULL;
    json_t *o = json_object();
    copy_key(o, obj, "apiVersion");
    copy_key(o, obj, "kind");
    const char *kind = jstr(obj, "kind");
    json_t *md = json_object_get(obj, "metadata");
    if (json_is_object(md)) {
        json_t *nm = json_object();
        copy_key(nm, md, "name"); copy_key(nm, md, "namespace"); copy_key(nm, md, "uid");
        copy_key(nm, md, "resourceVersion");
        copy_key(nm, md, "creationTimestamp"); copy_key(nm, md, "deletionTimestamp");
        copy_key(nm, md, "labels");
        json_t *an = json_object_get(md, "annotations");
        if (json_is_object(an)) {
            /* kubectl's last-applied-configuration repeats the whole manifest: dropped */
            if (json_object_get(an, "kubectl.kubernetes.io/last-applied-configuration")) {
                json_t *c = json_copy(an);
                json_object_del(c, "kubectl.kubernetes.io/last-applied-configuration");
                json_object_set_new(nm, "annotations", c);
            } else
                json_object_set(nm, "annotations", an);
        }
        json_t *refs = json_object_get(md, "ownerReferences");
        if (json_is_array(refs)) json_object_set_new(nm, "ownerReferences", trim_refs(refs));
        json_object_set_new(o, "metadata", nm);
    }
    json_t *spec = json_object_get(obj, "spec"), *st = json_object_get(obj, "status");
    if (!kind) return o;
    if (!strcmp(kind, "Pod")) {
        json_t *s = json_object(), *t = json_object();
        if (json_is_object(spec)) { copy_key(s, spec, "nodeName"); copy_key(s, spec, "hostNetwork"); }
        if (json_is_object(st)) {
            copy_key(t, st, "phase"); copy_key(t, st, "podIP"); copy_key(t, st, "podIPs");
            copy_key(t, st, "hostIP"); copy_key(t, st, "hostIPs");
        }
        json_object_set_new(o, "spec", s);
        json_object_set_new(o, "status", t);
    } else if (!strcmp(kind, "Service")) {
        json_t *s = json_object();
        if (json_is_object(spec)) {
            copy_key(s, spec, "type"); copy_key(s, spec, "selector"); copy_key(s, spec, "clusterIP");
            copy_key(s, spec, "clusterIPs"); copy_key(s, spec, "ports"); copy_key(s, spec, "externalIPs");
            copy_key(s, spec, "externalName");
        }
        json_object_set_new(o, "spec", s);
        json_t *lb = json_is_object(st) ? json_object_get(st, "loadBalancer") : NULL;
        if (json_is_object(lb) && json_object_size(lb)) {
            json_t *t = json_object();
            json_object_set(t, "loadBalancer", lb);
            json_object_set_new(o, "status", t);
        }
    } else if (!strcmp(kind, "Node")) {
        json_t *s = json_object(), *t = json_object();
        if (json_is_object(spec)) { copy_key(s, spec, "podCIDR"); copy_key(s, spec, "podCIDRs"); }
        if (json_is_object(st)) copy_key(t, st, "addresses");
        json_object_set_new(o, "spec", s);
        json_object_set_new(o, "status", t);
    } else if (!strcmp(kind, "Endpoints")) {
        json_t *subs = json_object_get(obj, "subsets"), *ns = json_array();
        size_t i; json_t *x;
        json_array_foreach(subs, i, x) {
            if (!json_is_object(x)) continue;
            json_t *so = json_object();
            json_t *a = json_object_get(x, "addresses"), *na = json_object_get(x, "notReadyAddresses");
            if (json_is_array(a)) json_object_set_new(so, "addresses", trim_addrs(a));
            if (json_is_array(na)) json_object_set_new(so, "notReadyAddresses", trim_addrs(na));
            copy_key(so, x, "ports");
            json_array_append_new(ns, so);
        }
        json_object_set_new(o, "subsets", ns);
    } else if (!strcmp(kind, "EndpointSlice")) {
        copy_key(o, obj, "addressType");
        copy_key(o, obj, "ports");
        json_t *eps = json_object_get(obj, "endpoints"), *ne = json_array();
        size_t i; json_t *x;
        json_array_foreach(eps, i, x) {
            if (!json_is_object(x)) continue;
            json_t *eo = json_object();
            copy_key(eo, x, "addresses"); copy_key(eo, x, "nodeName"); copy_key(eo, x, "conditions");
            json_t *tr = json_object_get(x, "targetRef");
            if (json_is_object(tr)) {
                json_t *t = json_object();
                copy_key(t, tr, "kind"); copy_key(t, tr, "name"); copy_key(t, tr, "namespace");
                copy_key(t, tr, "uid");
                json_object_set_new(eo, "targetRef", t);
            }
            json_array_append_new(ne, eo);
        }
        json_object_set_new(o, "endpoints", ne);
    }
    return o;
}

/* ---------- facts ---------- */
static int okind_of(const char *kind)
{
    if (!kind) return OK_OTHER;
    if (!strcmp(kind, "Pod")) return OK_POD;
    if (!strcmp(kind, "Service")) return OK_SVC;
    if (!strcmp(kind, "Node")) return OK_NODE;
    if (!strcmp(kind, "Endpoints")) return OK_EP;
    if (!strcmp(kind, "EndpointSlice")) return OK_EPS;
    if (!strcmp(kind, "ReplicaSet") || !strcmp(kind, "Job") || !strcmp(kind, "Deployment") ||
        !strcmp(kind, "StatefulSet") || !strcmp(kind, "DaemonSet") || !strcmp(kind, "CronJob"))
        return OK_CTRL;
    return OK_OTHER;
}

static int push_ip(mev *e, const char *s)
{
    kf_addr a;
    if (!addr_parse(s, &a)) return 0;
    for (uint32_t i = 0; i < e->nips; i++) if (!addr_cmp(&e->ips[i], &a)) return 0;
    kf_addr *n = realloc(e->ips, (e->nips + 1) * sizeof *n);
    if (!n) return -1;
    e->ips = n;
    e->ips[e->nips++] = a;
    return 0;
}

static int push_target(mev *e, const char *ip, const char *uid)
{
    mtarget t = { 0 };
    t.has_ip = addr_parse(ip, &t.ip);
    if (!t.has_ip && !uid) return 0;
    mtarget *n = realloc(e->tg, (e->ntg + 1) * sizeof *n);
    if (!n) return -1;
    e->tg = n;
    t.uid = xstrdup(uid);
    e->tg[e->ntg++] = t;
    return 0;
}

static void facts_from(mev *e, const json_t *o)
{
    json_t *md = json_object_get(o, "metadata");
    e->name = xstrdup(jstr(md, "name"));
    e->ns = xstrdup(jstr(md, "namespace"));
    e->uid = xstrdup(jstr(md, "uid"));
    e->created = parse_ts(jstr(md, "creationTimestamp"));
    json_t *l = json_object_get(md, "labels");
    e->labels = json_is_object(l) ? json_incref(l) : json_object();
    json_t *an = json_object_get(md, "annotations");
    e->annotations = json_is_object(an) ? json_incref(an) : json_object();
    json_t *refs = json_object_get(md, "ownerReferences"), *r, *pick = NULL;
    size_t i;
    json_array_foreach(refs, i, r) {
        if (!pick) pick = r;
        if (json_is_true(json_object_get(r, "controller"))) { pick = r; break; }
    }
    if (pick) { e->own_kind = xstrdup(jstr(pick, "kind")); e->own_name = xstrdup(jstr(pick, "name")); }
    json_t *spec = json_object_get(o, "spec"), *st = json_object_get(o, "status"), *x;
    switch (e->okind) {
    case OK_POD: {
        e->node = xstrdup(jstr(spec, "nodeName"));
        e->host_network = json_is_true(json_object_get(spec, "hostNetwork"));
        const char *ph = jstr(st, "phase");
        e->terminated = ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
        json_array_foreach(json_object_get(st, "podIPs"), i, x) push_ip(e, jstr(x, "ip"));
        push_ip(e, jstr(st, "podIP"));
        break;
    }
    case OK_SVC: {
        json_t *sel = json_object_get(spec, "selector");
        if (json_is_object(sel) && json_object_size(sel)) e->selector = json_incref(sel);
        json_array_foreach(json_object_get(spec, "clusterIPs"), i, x) push_ip(e, json_string_value(x));
        push_ip(e, jstr(spec, "clusterIP"));
        json_array_foreach(json_object_get(spec, "externalIPs"), i, x) push_ip(e, json_string_value(x));
        json_t *lb = json_object_get(st, "loadBalancer");
        json_array_foreach(json_object_get(lb, "ingress"), i, x) push_ip(e, jstr(x, "ip"));
        break;
    }
    case OK_NODE:
        e->node = xstrdup(e->name);
        json_array_foreach(json_object_get(st, "addresses"), i, x) {
            const char *ty = jstr(x, "type");
            if (ty && (!strcmp(ty, "InternalIP") || !strcmp(ty, "ExternalIP")))
                push_ip(e, jstr(x, "address"));
        }
        break;
    case OK_EP: {
        e->svc = xstrdup(e->name);
        json_t *sub, *a;
        size_t j;
        json_array_foreach(json_object_get(o, "subsets"), i, sub) {
            json_array_foreach(json_object_get(sub, "addresses"), j, a)
                push_target(e, jstr(a, "ip"), jstr(json_object_get(a, "targetRef"), "uid"));
            json_array_foreach(json_object_get(sub, "notReadyAddresses"), j, a)
                push_target(e, jstr(a, "ip"), jstr(json_object_get(a, "targetRef"), "uid"));
        }
        break;
    }
    case OK_EPS: {
        e->svc = xstrdup(jstr(e->labels, "kubernetes.io/service-name"));
        json_t *ep, *a;
        size_t j;
        json_array_foreach(json_object_get(o, "endpoints"), i, ep) {
            const char *uid = jstr(json_object_get(ep, "targetRef"), "uid");
            size_t na = json_array_size(json_object_get(ep, "addresses"));
            json_array_foreach(json_object_get(ep, "addresses"), j, a)
                push_target(e, json_string_value(a), uid);
            if (!na && uid) push_target(e, NULL, uid);
        }
        break;
    }
    default:
        break;
    }
}

static int ev_type_of(const char *t)
{
    if (!t) return 0;
    if (!strcmp(t, "ADDED")) return EV_ADDED;
    if (!strcmp(t, "MODIFIED")) return EV_MODIFIED;
    if (!strcmp(t, "DELETED")) return EV_DELETED;
    return 0;
}

/* rawobj: the object's compact JSON text when the caller has it (an interchange line as this
 * library writes it): then it is kept as is, saving a trim and a dump per event. */
const char *kf_meta_event_invalid(const char *type, const json_t *obj)
{
    if (!type || !ev_type_of(type)) return "type is not ADDED, MODIFIED or DELETED";
    if (!json_is_object(obj)) return "the object is not a JSON object";
    if (!jstr(obj, "kind")) return "no kind";
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) return "metadata is not an object";
    if (!jstr(md, "name") && !jstr(md, "uid")) return "metadata has neither name nor uid";
    return NULL;
}

static int add_event_impl(kf_meta *m, int64_t ts_ns, const char *type, json_t *obj,
                          const char *rawobj, size_t rawlen)
{
    int ty = ev_type_of(type);
    if (!m || kf_meta_event_invalid(type, obj)) return -1;
    const char *kind = jstr(obj, "kind");
    json_t *md = json_object_get(obj, "metadata");
    const char *name = jstr(md, "name"), *ns = jstr(md, "namespace"), *uid = jstr(md, "uid");
    if (m->nev == m->capev) {
        size_t nc = m->capev ? m->capev * 2 : 256;
        mev *n = realloc(m->ev, nc * sizeof *n);
        if (!n) return -1;
        m->ev = n; m->capev = nc;
    }
    json_t *t = rawobj ? json_incref(obj) : kf_meta_trim_object(obj);
    if (!t) return -1;
    mev *e = &m->ev[m->nev];
    memset(e, 0, sizeof *e);
    e->ts = ts_ns; e->seq = m->seq++; e->type = (uint8_t)ty;
    e->okind = (uint8_t)okind_of(kind);
    e->kind = strdup(kind);
    e->text = rawobj ? strndup(rawobj, rawlen) : json_dumps(t, JSON_COMPACT);
    size_t kl = strlen(kind) + (uid ? strlen(uid) : (ns ? strlen(ns) : 0) + strlen(name)) + 4;
    e->key = malloc(kl);
    if (!e->text || !e->key || !e->kind) { json_decref(t); mev_free(e); return -1; }
    if (uid) snprintf(e->key, kl, "%s/%s", kind, uid);
    else snprintf(e->key, kl, "%s/%s/%s", kind, ns ? ns : "", name);
    facts_from(e, t);
    json_decref(t);
    m->nev++;
    m->dirty = 1;
    return 0;
}

int kf_meta_add_event(kf_meta *m, int64_t ts_ns, const char *type, json_t *obj)
{
    return add_event_impl(m, ts_ns, type, obj, NULL, 0);
}

static int add_cb(void *ud, int64_t ts, const char *type, json_t *obj)
{
    return kf_meta_add_event(ud, ts, type, obj);
}

/* The object text inside an interchange line {"ts":"…","type":"…","object":{…}} on one line. */
static const char *raw_object(const char *v, size_t n, size_t *len)
{
    static const char p1[] = "{\"ts\":\"", p2[] = "\",\"type\":\"", p3[] = "\",\"object\":{";
    if (n < 40 || memcmp(v, p1, sizeof p1 - 1) || v[n - 1] != '}' || v[n - 2] != '}' || memchr(v, '\n', n)) return NULL;
    const char *a = memmem(v, n < 80 ? n : 80, p2, sizeof p2 - 1);
    if (!a) return NULL;
    const char *b = memmem(a, (size_t)(v + n - a) < 40 ? (size_t)(v + n - a) : 40, p3, sizeof p3 - 1);
    if (!b) return NULL;
    b += sizeof p3 - 2;   /* at the object's '{' */
    *len = (size_t)(v + n - 1 - b);
    return b;
}

/* ---------- loading ---------- */
typedef struct lerr { char *buf; size_t len; int n; } lerr;

static void lerr_set(lerr *le, const char *fmt, ...)
{
    if (le->n++ || !le->buf || !le->len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(le->buf, le->len, fmt, ap);
    va_end(ap);
}

/* One top-level JSON value: an event, a List, or an object. 0 ok, -1 not understood. */
static int load_value(json_t *v, int64_t at_ns, kf_meta_event_fn fn, void *ud, const char *raw, size_t rawn)
{
    if (!json_is_object(v)) return -1;
    json_t *obj = json_object_get(v, "object");
    const char *type = jstr(v, "type");
    if (json_is_object(obj) && type) {
        if (!strcmp(type, "BOOKMARK") || !strcmp(type, "ERROR")) return 0;
        int64_t ts = at_ns;
        const char *tss = jstr(v, "ts");
        if (tss && kf_time_parse_rfc3339(tss, strlen(tss), &ts) != 0) return -1;
        size_t rl;
        const char *ro = fn == add_cb ? raw_object(raw, rawn, &rl) : NULL;
        if (ro) return add_event_impl(ud, ts, type, obj, ro, rl) != 0 ? -1 : 0;
        return fn(ud, ts, type, obj) != 0 ? -1 : 0;
    }
    json_t *items = json_object_get(v, "items");
    if (json_is_array(items)) {
        const char *lk = jstr(v, "kind");
        char ik[64] = "";
        size_t ll = lk ? strlen(lk) : 0;
        if (ll > 4 && ll < sizeof ik && !strcmp(lk + ll - 4, "List")) { memcpy(ik, lk, ll - 4); ik[ll - 4] = 0; }
        size_t i; json_t *it;
        int bad = 0;
        json_array_foreach(items, i, it) {
            if (!json_is_object(it)) { bad = 1; continue; }
            if (!jstr(it, "kind") && ik[0]) json_object_set_new(it, "kind", json_string(ik));
            if (fn(ud, at_ns, "ADDED", it) != 0) bad = 1;
        }
        return bad ? -1 : 0;
    }
    if (jstr(v, "kind") && json_is_object(json_object_get(v, "metadata")))
        return fn(ud, at_ns, "ADDED", v) != 0 ? -1 : 0;
    return -1;
}

static int64_t line_at(const char *buf, size_t from, size_t to, int64_t line)
{
    const char *p = buf + from, *end = buf + to;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) { line++; p++; }
    return line;
}

static int parse_impl(const char *buf, size_t len, int64_t at_ns, int64_t first_line, size_t base,
                      kf_meta_event_fn fn, void *ud, char *err, size_t errlen);

int kf_meta_parse_buffer(const char *buf, size_t len, int64_t at_ns, int64_t first_line,
                         kf_meta_event_fn fn, void *ud, char *err, size_t errlen)
{
    return parse_impl(buf, len, at_ns, first_line, 0, fn, ud, err, errlen);
}

/* base: offset of buf in the caller's input, for messages */
static int parse_impl(const char *buf, size_t len, int64_t at_ns, int64_t first_line, size_t base,
                      kf_meta_event_fn fn, void *ud, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    lerr le = { err, errlen, 0 };
    size_t off = 0;
    int64_t line = first_line;
    while (off < len) {
        size_t s = off;
        while (s < len && (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\r' || buf[s] == '\n')) s++;
        line = line_at(buf, off, s, line);
        off = s;
        if (off >= len) break;
        json_error_t je;
        json_t *v = json_loadb(buf + off, len - off, JSON_DISABLE_EOF_CHECK, &je);
        if (v) {
            size_t used = (size_t)je.position;
            if (used == 0 || used > len - off) used = len - off;
            if (load_value(v, at_ns, fn, ud, buf + off, used) != 0)
                lerr_set(&le, "line %lld: not a Kubernetes object, List or watch event",
                         (long long)line);
            json_decref(v);
            line = line_at(buf, off, off + used, line);
            off += used;
            continue;
        }
        /* name the line where the broken value starts; where jansson noticed it, when later */
        if (je.line > 1)
            lerr_set(&le, "line %lld: %s (at line %lld, offset %zu)", (long long)line, je.text,
                     (long long)(line + je.line - 1), base + off + (size_t)(je.position > 0 ? je.position : 0));
        else
            lerr_set(&le, "line %lld (offset %zu): %s", (long long)line,
                     base + off + (size_t)(je.position > 0 ? je.position : 0), je.text);
        /* resynchronise at the next line that opens a top-level object */
        const char *p = buf + off + 1, *end = buf + len, *nx = NULL;
        while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
            if (p + 1 < end && p[1] == '{') { nx = p + 1; break; }
            p++;
        }
        if (!nx) break;
        line = line_at(buf, off, (size_t)(nx - buf), line);
        off = (size_t)(nx - buf);
    }
    return le.n ? -1 : 0;
}

/* Large inputs are parsed on two threads (jansson costs ~15 us per event): the buffer is split at
 * a line that opens a top-level object (where parsing resumes after an error anyway), the second
 * half goes into a model of its own, whose events are then appended in order. */
typedef struct half {
    kf_meta *m;
    const char *buf;
    size_t len;
    int64_t at_ns, first_line;
    size_t base;
    int rc;
    char err[512];
} half;

static void *parse_half(void *arg)
{
    half *h = arg;
    h->rc = parse_impl(h->buf, h->len, h->at_ns, h->first_line, h->base, add_cb, h->m, h->err, sizeof h->err);
    return NULL;
}

#define KF_META_PARALLEL_MIN (4u << 20)

int kf_meta_load_buffer(kf_meta *m, const char *buf, size_t len, int64_t at_ns, char *err, size_t errlen)
{
    if (at_ns == KF_T_MIN) at_ns = kf_now_ns();
    const char *split = NULL;
    if (len >= KF_META_PARALLEL_MIN) {
        const char *p = buf + len / 2, *end = buf + len;
        while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
            if (p + 1 < end && p[1] == '{') { split = p + 1; break; }
            p++;
        }
    }
    pthread_t th;
    half h2 = { 0 };
    if (split) {
        h2.m = kf_meta_new();
        h2.buf = split; h2.len = (size_t)(buf + len - split); h2.at_ns = at_ns;
        h2.first_line = line_at(buf, 0, (size_t)(split - buf), 1);
        h2.base = (size_t)(split - buf);
        json_object_seed(0);   /* before objects are made on two threads */
        if (!h2.m || pthread_create(&th, NULL, parse_half, &h2) != 0) { kf_meta_free(h2.m); split = NULL; }
    }
    if (!split) return kf_meta_parse_buffer(buf, len, at_ns, 1, add_cb, m, err, errlen);
    int rc = kf_meta_parse_buffer(buf, (size_t)(split - buf), at_ns, 1, add_cb, m, err, errlen);
    pthread_join(th, NULL);
    if (h2.rc != 0 && rc == 0) { if (err && errlen) snprintf(err, errlen, "%s", h2.err); rc = -1; }
    /* move the second half's events behind ours, keeping their order */
    kf_meta *o = h2.m;
    if (o->nev) {
        if (m->nev + o->nev > m->capev) {
            size_t nc = m->nev + o->nev;
            mev *n = realloc(m->ev, nc * sizeof *n);
            if (!n) { kf_meta_free(o); if (err && errlen) snprintf(err, errlen, "out of memory"); return -1; }
            m->ev = n; m->capev = nc;
        }
        for (size_t i = 0; i < o->nev; i++) {
            m->ev[m->nev] = o->ev[i];
            m->ev[m->nev++].seq = m->seq++;
        }
        o->nev = 0;
        m->dirty = 1;
    }
    kf_meta_free(o);
    return rc;
}

/* ---------- streaming: bounded memory whatever the input ----------
 * Bytes are scanned for the ends of top-level JSON values (depth of {} and [] outside strings);
 * complete values go to parse_impl in batches, the unfinished rest stays. A newline followed by
 * '{' at depth > 0 starts a new value (kubectl and our writers put a top-level '{' only in column
 * 0): a torn line ends there, is reported by parse_impl and skipped, and the next event is kept.
 * One value longer than KF_MAX_META_VALUE, a NUL byte (binary data), or more than
 * KF_MAX_META_TOTAL bytes in all stop the reading with a message naming the limit. */
typedef struct mscan {
    int depth, in_str, esc, nl;   /* nl: the last byte was '\n' */
} mscan;

/* Scans buf[from, len): returns the end of the last complete value (0 if none), -1 at a NUL */
static ssize_t scan_values(mscan *st, const char *buf, size_t from, size_t len)
{
    ssize_t cut = 0;
    for (size_t i = from; i < len; i++) {
        char c = buf[i];
        if (c == 0) return -1;
        if (st->in_str) {
            if (st->esc) st->esc = 0;
            else if (c == '\\') st->esc = 1;
            else if (c == '"') st->in_str = 0;
            else if (c == '\n') { st->in_str = 0; }   /* raw newline: not JSON; resync below */
            if (c != '\n') { st->nl = 0; continue; }
        }
        if (c == '{' && st->nl && st->depth > 0) { cut = (ssize_t)i; st->depth = 0; }
        st->nl = c == '\n';
        if (c == '"') st->in_str = 1;
        else if (c == '{' || c == '[') st->depth++;
        else if ((c == '}' || c == ']') && st->depth > 0) { if (--st->depth == 0) cut = (ssize_t)i + 1; }
        else if (c == '\n' && st->depth == 0) cut = (ssize_t)i + 1;
    }
    return cut;
}

int kf_meta_parse_stream(kf_meta_read_fn rd, void *rud, int64_t at_ns, kf_meta_event_fn fn, void *ud,
                         char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    uint64_t vmax = kf_limit(KF_LIMIT_META_VALUE, KF_LIMIT_META_VALUE_DEFAULT);
    uint64_t tmax = kf_limit(KF_LIMIT_META_TOTAL, KF_LIMIT_META_TOTAL_DEFAULT);
    size_t cap = 1 << 20, len = 0, scanned = 0;
    char *buf = malloc(cap);
    if (!buf) { snprintf(err, errlen, "out of memory"); return -1; }
    mscan st = { 0, 0, 0, 1 };
    int64_t line = 1;
    uint64_t base = 0;
    int rc = 0, stop = 0;
    char e1[512] = "", hb[32];
    for (;;) {
        if (len == cap) {
            size_t nc = cap * 2;
            char *nb = nc > vmax + (1u << 20) ? NULL : realloc(buf, nc);
            if (!nb) {
                snprintf(err, errlen, "line %lld (offset %llu): a JSON value longer than %s (limit %s); stopped reading",
                         (long long)line, (unsigned long long)base, kf_limit_human(vmax, hb, sizeof hb), KF_LIMIT_META_VALUE);
                rc = -1; break;
            }
            buf = nb; cap = nc;
        }
        ssize_t k = rd(rud, buf + len, cap - len);
        if (k < 0) { snprintf(err, errlen, "read error at offset %llu", (unsigned long long)(base + len)); rc = -1; break; }
        if (k == 0) stop = 1;
        len += (size_t)k;
        ssize_t cut = scan_values(&st, buf, scanned, len);
        scanned = len;
        if (cut < 0) {
            snprintf(err, errlen, "offset %llu: a NUL byte: binary data, not JSON; stopped reading",
                     (unsigned long long)(base + len));
            rc = -1; break;
        }
        if (stop) cut = (ssize_t)len;   /* the end: whatever is left is the last value */
        if (cut > 0 && (stop || len == cap || cut >= (ssize_t)(1 << 19))) {
            if (base + (uint64_t)cut > tmax) {
                snprintf(err, errlen, "more than %s of metadata (limit %s); stopped reading",
                         kf_limit_human(tmax, hb, sizeof hb), KF_LIMIT_META_TOTAL);
                rc = -1; break;
            }
            if (parse_impl(buf, (size_t)cut, at_ns, line, (size_t)base, fn, ud, e1, sizeof e1) != 0 && !rc) {
                snprintf(err, errlen, "%s", e1);
                rc = -1;
            }
            line = line_at(buf, 0, (size_t)cut, line);
            base += (uint64_t)cut;
            memmove(buf, buf + cut, len - (size_t)cut);
            len -= (size_t)cut;
            scanned = len;
        }
        if (stop) break;
    }
    free(buf);
    return rc;
}

typedef struct fdread { int fd; } fdread;
static ssize_t fd_read(void *ud, void *buf, size_t n)
{
    fdread *f = ud;
    for (;;) {
        ssize_t r = read(f->fd, buf, n);
        if (r < 0 && errno == EINTR) continue;
        return r;
    }
}

int kf_meta_load_stream(kf_meta *m, kf_meta_read_fn rd, void *rud, int64_t at_ns, char *err, size_t errlen)
{
    if (at_ns == KF_T_MIN) at_ns = kf_now_ns();
    return kf_meta_parse_stream(rd, rud, at_ns, add_cb, m, err, errlen);
}

static int read_all(const char *path, char **buf, size_t *len, int64_t *mtime, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(err, errlen, "%s", strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0) { snprintf(err, errlen, "%s", strerror(errno)); close(fd); return -1; }
    if (S_ISDIR(st.st_mode)) { snprintf(err, errlen, "is a directory"); close(fd); return -1; }
    *mtime = (int64_t)st.st_mtim.tv_sec * KF_NS_PER_SEC + st.st_mtim.tv_nsec;
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, n = 0;
    char *b = malloc(cap);
    if (!b) { snprintf(err, errlen, "out of memory"); close(fd); return -1; }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) { free(b); close(fd); snprintf(err, errlen, "out of memory"); return -1; }
            b = nb; cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            snprintf(err, errlen, "%s", strerror(errno)); free(b); close(fd); return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    *buf = b; *len = n;
    return 0;
}

int kf_meta_load_file(kf_meta *m, const char *path, int64_t at_ns, char *err, size_t errlen)
{
    char *buf; size_t len; int64_t mt;
    if (err && errlen) err[0] = 0;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode) &&
        (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > kf_limit(KF_LIMIT_META_VALUE, KF_LIMIT_META_VALUE_DEFAULT))) {
        /* a pipe, a device or a large file: streamed, in bounded memory */
        fdread f = { open(path, O_RDONLY | O_CLOEXEC) };
        if (f.fd < 0) { snprintf(err, errlen, "%s", strerror(errno)); return -1; }
        int64_t t = at_ns != KF_T_MIN ? at_ns : (S_ISREG(st.st_mode) ? (int64_t)st.st_mtim.tv_sec * KF_NS_PER_SEC + st.st_mtim.tv_nsec : KF_T_MIN);
        int rc = kf_meta_load_stream(m, fd_read, &f, t, err, errlen);
        close(f.fd);
        return rc;
    }
    if (read_all(path, &buf, &len, &mt, err, errlen) != 0) return -1;
    int rc = kf_meta_load_buffer(m, buf, len, at_ns == KF_T_MIN ? mt : at_ns, err, errlen);
    free(buf);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_event_file(const char *n)
{
    size_t l = strlen(n);
    if (n[0] == '.') return 0;
    return (l > 7 && !strcmp(n + l - 7, ".ndjson")) || (l > 12 && !strcmp(n + l - 12, ".ndjson.part"));
}

int kf_meta_load_store(kf_meta *m, const char *dir, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    size_t dl = strlen(dir) + 8;
    char *md = malloc(dl);
    if (!md) { snprintf(err, errlen, "out of memory"); return -1; }
    snprintf(md, dl, "%s/meta", dir);
    DIR *d = opendir(md);
    if (!d) {
        int e = errno;
        free(md);
        if (e == ENOENT) return 0;   /* a store without metadata */
        snprintf(err, errlen, "%s/meta: %s", dir, strerror(e));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_event_file(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    /* readers hold the meta lock shared: retention (exclusive, non-blocking) skips a round */
    int lfd = kf_store_lock(dir, "meta", 0, 0);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pl = strlen(md) + strlen(names[i]) + 2;
        char *p = malloc(pl), e1[512];
        if (p) {
            snprintf(p, pl, "%s/%s", md, names[i]);
            if (kf_meta_load_file(m, p, KF_T_MIN, e1, sizeof e1) != 0 && rc == 0) {
                /* a .part being appended may end in a cut line: not an error */
                size_t nl = strlen(names[i]);
                int part = nl > 5 && !strcmp(names[i] + nl - 5, ".part");
                if (!part || i + 1 < n) { snprintf(err, errlen, "%s: %s", p, e1); rc = -1; }
            }
            free(p);
        }
        free(names[i]);
    }
    if (lfd >= 0) kf_store_unlock(lfd);
    free(names);
    free(md);
    return rc;
}

/* ---------- replay ---------- */
static int cmp_ev(const void *a, const void *b)
{
    const mev *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int push_open(size_t **v, size_t *n, size_t *cap, size_t x)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        size_t *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return -1;
        *v = nv; *cap = nc;
    }
    (*v)[(*n)++] = x;
    return 0;
}

static long add_binding(kf_meta *m, const kf_addr *ip, const kf_workload *w, int64_t from)
{
    if (m->nb == m->capb) {
        size_t nc = m->capb ? m->capb * 2 : 256;
        kf_binding *nb = realloc(m->b, nc * sizeof *nb);
        if (!nb) return -1;
        m->b = nb; m->capb = nc;
    }
    kf_binding *b = &m->b[m->nb];
    b->ip = *ip; b->w = w; b->from_ns = from; b->to_ns = KF_T_MAX;
    return (long)m->nb++;
}

static void close_binding(kf_binding *b, int64_t ts)
{
    if (b->to_ns != KF_T_MAX) return;
    b->to_ns = ts < b->from_ns ? b->from_ns : ts;
}

static int cmp_binding(const void *a, const void *b)
{
    const kf_binding *x = a, *y = b;
    int c = addr_cmp(&x->ip, &y->ip);
    if (c) return c;
    if (x->from_ns != y->from_ns) return x->from_ns < y->from_ns ? -1 : 1;
    if (x->w->kind != y->w->kind) return x->w->kind < y->w->kind ? -1 : 1;
    return 0;
}

static int cmp_wl(const void *a, const void *b)
{
    const kf_workload *x = *(kf_workload *const *)a, *y = *(kf_workload *const *)b;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    int c = strcmp(x->namespace_ ? x->namespace_ : "", y->namespace_ ? y->namespace_ : "");
    if (c) return c;
    c = strcmp(x->name ? x->name : "", y->name ? y->name : "");
    if (c) return c;
    return x->created_ns < y->created_ns ? -1 : x->created_ns > y->created_ns;
}

/* Top owner: ReplicaSet -> Deployment (from a seen ReplicaSet object, else the name pattern
 * "<deployment>-<pod-template-hash>"), Job -> CronJob when the Job object was seen. */
static void resolve_owner(kf_meta *m, hmap *ctrl, wl *w, const mev *e)
{
    w->w.owner_kind = e->own_kind;
    w->w.owner_name = e->own_name;
    if (!e->own_kind || !e->own_name) return;
    if (strcmp(e->own_kind, "ReplicaSet") && strcmp(e->own_kind, "Job")) return;
    char key[600];
    snprintf(key, sizeof key, "%s/%s/%s", e->own_kind, e->ns ? e->ns : "", e->own_name);
    size_t idx;
    if (hm_get(ctrl, key, strlen(key), &idx) && m->ev[idx].own_kind && m->ev[idx].own_name) {
        w->w.owner_kind = m->ev[idx].own_kind;
        w->w.owner_name = m->ev[idx].own_name;
        return;
    }
    if (!strcmp(e->own_kind, "ReplicaSet")) {
        const char *h = jstr(e->labels, "pod-template-hash");
        size_t nl = strlen(e->own_name), hl = h ? strlen(h) : 0;
        if (h && hl && nl > hl + 1 && e->own_name[nl - hl - 1] == '-' && !strcmp(e->own_name + nl - hl, h)) {
            free(w->own_kind_buf);
            w->own_kind_buf = malloc(nl - hl);
            if (!w->own_kind_buf) return;
            memcpy(w->own_kind_buf, e->own_name, nl - hl - 1);
            w->own_kind_buf[nl - hl - 1] = 0;
            w->w.owner_kind = "Deployment";
            w->w.owner_name = w->own_kind_buf;
        }
    }
}

static int has_ip(const mev *e, const kf_addr *a)
{
    for (uint32_t i = 0; i < e->nips; i++) if (!addr_cmp(&e->ips[i], a)) return 1;
    return 0;
}

static int replay_workload(kf_meta *m, hmap *wmap, hmap *ipmap, hmap *ctrl, const mev *e)
{
    size_t idx;
    wl *w;
    if (hm_get(wmap, e->key, strlen(e->key), &idx)) w = m->wls[idx];
    else {
        w = calloc(1, sizeof *w);
        if (!w) return -1;
        if (m->nwl == m->capwl) {
            size_t nc = m->capwl ? m->capwl * 2 : 64;
            wl **nw = realloc(m->wls, nc * sizeof *nw);
            if (!nw) { free(w); return -1; }
            m->wls = nw; m->capwl = nc;
        }
        w->w.kind = e->okind == OK_POD ? KF_WK_POD : e->okind == OK_SVC ? KF_WK_SERVICE : KF_WK_NODE;
        w->w.created_ns = KF_T_MIN;
        w->w.deleted_ns = KF_T_MAX;
        if (hm_put(wmap, e->key, strlen(e->key), m->nwl) != 0) { free(w); return -1; }
        m->wls[m->nwl++] = w;
    }
    int first = w->nevents++ == 0;
    w->w.name = e->name;
    if (e->okind != OK_NODE) w->w.namespace_ = e->ns;
    w->w.uid = e->uid;
    if (e->node) w->w.node = e->node;
    w->w.host_network = e->host_network;
    w->w.labels = e->labels;
    w->w.annotations = e->annotations;
    w->w.selector = e->selector;
    if (e->created != KF_T_MIN) w->w.created_ns = e->created;
    if (e->okind == OK_POD) resolve_owner(m, ctrl, w, e);
    else { w->w.owner_kind = e->own_kind; w->w.owner_name = e->own_name; }
    int gone = e->type == EV_DELETED || (e->okind == OK_POD && e->terminated);
    if (e->type == EV_DELETED) w->w.deleted_ns = e->ts;
    /* end bindings whose IP went away */
    for (size_t i = 0; i < w->nopen;) {
        kf_binding *b = &m->b[w->open[i]];
        if (gone || !has_ip(e, &b->ip)) {
            close_binding(b, e->ts);
            w->open[i] = w->open[--w->nopen];
        } else i++;
    }
    if (gone && first && e->type != EV_DELETED && e->nips) {
        /* first seen already completed (a List): it held its IPs from its creation until some
         * time before now; end them here, and (after the replay) at the next holder's start */
        w->soft = 1;
        for (uint32_t k = 0; k < e->nips; k++) {
            int64_t from = e->created != KF_T_MIN && e->created < e->ts ? e->created : e->ts;
            long bi = add_binding(m, &e->ips[k], &w->w, from);
            if (bi < 0) return -1;
            close_binding(&m->b[bi], e->ts);
        }
    }
    if (gone) return 0;
    for (uint32_t k = 0; k < e->nips; k++) {
        const kf_addr *ip = &e->ips[k];
        int already = 0;
        for (size_t i = 0; i < w->nopen; i++)
            if (!addr_cmp(&m->b[w->open[i]].ip, ip)) { already = 1; break; }
        if (already) continue;
        int64_t from = e->ts;
        if (first && e->created != KF_T_MIN && e->created < e->ts) from = e->created;
        int exclusive = e->okind == OK_POD && !e->host_network;
        size_t prev;
        if (exclusive && hm_get(ipmap, ip, sizeof *ip, &prev)) {
            kf_binding *pb = &m->b[prev];
            if (pb->to_ns == KF_T_MAX) {
                /* a new holder ends the previous one (e.g. a completed pod never deleted) */
                close_binding(pb, from);
                wl *pw = (wl *)pb->w;
                for (size_t i = 0; i < pw->nopen; i++)
                    if (pw->open[i] == prev) { pw->open[i] = pw->open[--pw->nopen]; break; }
            }
            if (from < pb->to_ns) from = pb->to_ns;
        }
        long bi = add_binding(m, ip, &w->w, from);
        if (bi < 0 || push_open(&w->open, &w->nopen, &w->capopen, (size_t)bi) != 0) return -1;
        if (exclusive && hm_put(ipmap, ip, sizeof *ip, (size_t)bi) != 0) return -1;
    }
    return 0;
}

static int push_memb(kf_meta *m, const mev *e, const mtarget *t, int64_t from)
{
    if (m->nmb == m->capmb) {
        size_t nc = m->capmb ? m->capmb * 2 : 64;
        memb *n = realloc(m->mb, nc * sizeof *n);
        if (!n) return -1;
        m->mb = n; m->capmb = nc;
    }
    memb *b = &m->mb[m->nmb++];
    b->ns = e->ns; b->svc = e->svc; b->uid = t->uid; b->ip = t->ip; b->has_ip = t->has_ip;
    b->from = from; b->to = KF_T_MAX;
    return 0;
}

static int same_target(const memb *b, const mtarget *t)
{
    if (b->uid && t->uid) return !strcmp(b->uid, t->uid) && (!b->has_ip || !t->has_ip || !addr_cmp(&b->ip, &t->ip));
    if (b->uid || t->uid) return 0;
    return b->has_ip && t->has_ip && !addr_cmp(&b->ip, &t->ip);
}

static int replay_endpoints(kf_meta *m, hmap *epmap, epstate **eps, size_t *neps, size_t *capeps, const mev *e)
{
    size_t idx;
    if (!hm_get(epmap, e->key, strlen(e->key), &idx)) {
        epstate *n = kf_grow(*eps, capeps, *neps + 1, sizeof *n);
        if (!n) return -1;
        *eps = n;
        memset(&n[*neps], 0, sizeof *n);
        idx = (*neps)++;
        if (hm_put(epmap, e->key, strlen(e->key), idx) != 0) return -1;
    }
    epstate *s = &(*eps)[idx];
    int first = s->nevents++ == 0;
    int gone = e->type == EV_DELETED || !e->svc;
    for (size_t i = 0; i < s->nopen;) {
        memb *b = &m->mb[s->open[i]];
        int keep = 0;
        for (uint32_t k = 0; !gone && k < e->ntg; k++) if (same_target(b, &e->tg[k])) { keep = 1; break; }
        if (!keep) {
            b->to = e->ts < b->from ? b->from : e->ts;
            s->open[i] = s->open[--s->nopen];
        } else i++;
    }
    if (gone) return 0;
    for (uint32_t k = 0; k < e->ntg; k++) {
        int have = 0;
        for (size_t i = 0; i < s->nopen; i++) if (same_target(&m->mb[s->open[i]], &e->tg[k])) { have = 1; break; }
        if (have) continue;
        int64_t from = first && e->created != KF_T_MIN && e->created < e->ts ? e->created : e->ts;
        if (push_memb(m, e, &e->tg[k], from) != 0) return -1;
        if (push_open(&s->open, &s->nopen, &s->capopen, m->nmb - 1) != 0) return -1;
    }
    return 0;
}

void kf_meta_finish(kf_meta *m)
{
    if (!m || (!m->dirty && m->wls)) return;
    model_clear(m);
    m->dirty = 0;
    if (m->nev > 1) qsort(m->ev, m->nev, sizeof *m->ev, cmp_ev);
    hmap wmap = { 0 }, ipmap = { 0 }, ctrl = { 0 }, epmap = { 0 };
    epstate *eps = NULL;
    size_t neps = 0, capeps = 0;
    /* controllers: the latest event of each seen ReplicaSet/Job says who owns it */
    for (size_t i = 0; i < m->nev; i++) {
        mev *e = &m->ev[i];
        if (e->okind != OK_CTRL || !e->name) continue;
        char key[600];
        snprintf(key, sizeof key, "%s/%s/%s", e->kind, e->ns ? e->ns : "", e->name);
        hm_put(&ctrl, key, strlen(key), i);
    }
    for (size_t i = 0; i < m->nev; i++) {
        mev *e = &m->ev[i];
        if (e->okind == OK_POD || e->okind == OK_SVC || e->okind == OK_NODE)
            replay_workload(m, &wmap, &ipmap, &ctrl, e);
        else if (e->okind == OK_EP || e->okind == OK_EPS)
            replay_endpoints(m, &epmap, &eps, &neps, &capeps, e);
    }
    for (size_t i = 0; i < neps; i++) free(eps[i].open);
    free(eps);
    for (size_t i = 0; i < m->nwl; i++) { free(m->wls[i]->open); m->wls[i]->open = NULL; m->wls[i]->nopen = m->wls[i]->capopen = 0; }
    hm_free(&wmap); hm_free(&ipmap); hm_free(&ctrl); hm_free(&epmap);
    if (m->nb > 1) qsort(m->b, m->nb, sizeof *m->b, cmp_binding);
    for (size_t i = 0; i < m->nb; i++) {   /* soft ends: not past the next pod holder's start */
        kf_binding *b = &m->b[i];
        if (b->w->kind != KF_WK_POD || !((const wl *)b->w)->soft) continue;
        for (size_t j = i + 1; j < m->nb && !addr_cmp(&m->b[j].ip, &b->ip); j++) {
            const kf_workload *o = m->b[j].w;
            if (o->kind != KF_WK_POD || o->host_network || ((const wl *)o)->soft) continue;
            if (m->b[j].from_ns < b->to_ns) b->to_ns = m->b[j].from_ns < b->from_ns ? b->from_ns : m->b[j].from_ns;
            break;
        }
    }
    if (m->nwl > 1) qsort(m->wls, m->nwl, sizeof *m->wls, cmp_wl);
    if (!m->wls) m->wls = calloc(1, sizeof *m->wls);   /* marks "finished" even when empty */
    m->svcs = malloc((m->nwl ? m->nwl : 1) * sizeof *m->svcs);
    for (size_t i = 0; m->svcs && i < m->nwl; i++)
        if (m->wls[i]->w.kind == KF_WK_SERVICE) m->svcs[m->nsvcs++] = m->wls[i];
}

/* ---------- lookups ---------- */
static size_t lower_bound_ip(const kf_meta *m, const kf_addr *ip)
{
    size_t lo = 0, hi = m->nb;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (addr_cmp(&m->b[mid].ip, ip) < 0) lo = mid + 1; else hi = mid;
    }
    return lo;
}

int kf_meta_lookup(const kf_meta *m, const kf_addr *ip, int64_t ts_ns, kf_ipinfo *out)
{
    memset(out, 0, sizeof *out);
    if (!m || !ip) return 0;
    kf_addr key = { 0 };
    key.family = ip->family;
    memcpy(key.a, ip->a, ip->family == 4 ? 4 : 16);
    int hn = 0;
    int64_t best = KF_T_MIN;
    for (size_t i = lower_bound_ip(m, &key); i < m->nb && !addr_cmp(&m->b[i].ip, &key); i++) {
        const kf_binding *b = &m->b[i];
        if (ts_ns < b->from_ns || ts_ns >= b->to_ns) continue;
        switch (b->w->kind) {
        case KF_WK_POD:
            if (b->w->host_network) hn = 1;
            else if (!out->pod || b->from_ns >= best) { out->pod = b->w; best = b->from_ns; }
            break;
        case KF_WK_SERVICE: out->service = b->w; break;
        case KF_WK_NODE: out->node = b->w; break;
        }
    }
    out->host_network_shared = hn;
    return out->pod || out->service || out->node || hn;
}

static int alive(const kf_workload *w, int64_t ts)
{
    return (w->created_ns == KF_T_MIN || w->created_ns <= ts) && ts < w->deleted_ns;
}

static int selector_matches(const json_t *sel, const json_t *labels)
{
    if (!json_is_object(sel) || !json_object_size(sel)) return 0;
    const char *k; json_t *v;
    json_object_foreach((json_t *)sel, k, v) {
        const char *lv = jstr(labels, k);
        if (!lv || !json_is_string(v) || strcmp(lv, json_string_value(v))) return 0;
    }
    return 1;
}

static int pod_has_ip_at(const kf_meta *m, const kf_workload *pod, const kf_addr *ip, int64_t ts)
{
    for (size_t i = lower_bound_ip(m, ip); i < m->nb && !addr_cmp(&m->b[i].ip, ip); i++)
        if (m->b[i].w == pod && m->b[i].from_ns <= ts && ts < m->b[i].to_ns) return 1;
    return 0;
}

size_t kf_meta_pod_services(const kf_meta *m, const kf_workload *pod, int64_t ts_ns,
                            const kf_workload **out, size_t max)
{
    size_t n = 0;
    if (!m || !pod || pod->kind != KF_WK_POD) return 0;
    for (size_t i = 0; i < m->nsvcs && n < max; i++) {
        const kf_workload *s = &m->svcs[i]->w;
        if (!alive(s, ts_ns)) continue;
        if (!s->namespace_ || !pod->namespace_ || strcmp(s->namespace_, pod->namespace_)) continue;
        if (selector_matches(s->selector, pod->labels)) out[n++] = s;
    }
    for (size_t j = 0; j < m->nmb && n < max; j++) {
        const memb *b = &m->mb[j];
        if (ts_ns < b->from || ts_ns >= b->to || !b->svc) continue;
        int match = b->uid ? (pod->uid && !strcmp(b->uid, pod->uid))
                           : (b->has_ip && pod_has_ip_at(m, pod, &b->ip, ts_ns));
        if (!match) continue;
        for (size_t i = 0; i < m->nsvcs; i++) {
            const kf_workload *s = &m->svcs[i]->w;
            if (!alive(s, ts_ns) || strcmp(s->name, b->svc) ||
                !s->namespace_ || !b->ns || strcmp(s->namespace_, b->ns)) continue;
            int dup = 0;
            for (size_t k = 0; k < n; k++) if (out[k] == s) dup = 1;
            if (!dup && n < max) out[n++] = s;
        }
    }
    return n;
}

size_t kf_meta_bindings(const kf_meta *m, const kf_binding **out)
{
    *out = m ? m->b : NULL;
    return m ? m->nb : 0;
}

size_t kf_meta_workloads(const kf_meta *m, const kf_workload *const **out)
{
    *out = m ? (const kf_workload *const *)m->wls : NULL;
    return m ? m->nwl : 0;
}

size_t kf_meta_event_count(const kf_meta *m) { return m ? m->nev : 0; }

/* ---------- writing ---------- */
static int write_line(FILE *f, int64_t ts, int type, const char *text)
{
    char tb[40];
    kf_time_rfc3339(ts, tb, sizeof tb);
    return fprintf(f, "{\"ts\":\"%s\",\"type\":\"%s\",\"object\":%s}\n", tb, ev_names[type], text) < 0 ? -1 : 0;
}

char *kf_meta_event_line(int64_t ts_ns, const char *type, const json_t *obj)
{
    if (!ev_type_of(type)) return NULL;
    json_t *t = kf_meta_trim_object(obj);
    if (!t) return NULL;
    char *text = json_dumps(t, JSON_COMPACT);
    json_decref(t);
    if (!text) return NULL;
    char tb[40];
    kf_time_rfc3339(ts_ns, tb, sizeof tb);
    size_t l = strlen(text) + strlen(tb) + 48;
    char *line = malloc(l);
    if (line) snprintf(line, l, "{\"ts\":\"%s\",\"type\":\"%s\",\"object\":%s}\n", tb, type, text);
    free(text);
    return line;
}

static const mev **sorted_events(const kf_meta *m)
{
    const mev **v = malloc((m->nev ? m->nev : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < m->nev; i++) v[i] = &m->ev[i];
    /* insertion-friendly: the array is usually sorted already (after finish) */
    int sorted = 1;
    for (size_t i = 1; i < m->nev && sorted; i++) if (cmp_ev(v[i - 1], v[i]) > 0) sorted = 0;
    if (!sorted) {
        /* qsort on pointers */
        for (size_t gap = m->nev / 2; gap > 0; gap /= 2)   /* shell sort: stable order by seq anyway */
            for (size_t i = gap; i < m->nev; i++)
                for (size_t j = i; j >= gap && cmp_ev(v[j - gap], v[j]) > 0; j -= gap) {
                    const mev *t = v[j]; v[j] = v[j - gap]; v[j - gap] = t;
                }
    }
    return v;
}

int kf_meta_write_window(const kf_meta *m, int64_t t0, int64_t t1, FILE *f)
{
    if (!m || !f) return -1;
    const mev **v = sorted_events(m);
    if (!v) return -1;
    hmap last = { 0 };
    size_t i = 0;
    int rc = 0;
    for (; i < m->nev && v[i]->ts <= t0; i++)
        if (hm_put(&last, v[i]->key, strlen(v[i]->key), i) != 0) { rc = -1; break; }
    size_t start = i;
    for (size_t j = 0; rc == 0 && j < start; j++) {
        size_t li;
        if (!hm_get(&last, v[j]->key, strlen(v[j]->key), &li) || li != j) continue;
        if (v[j]->type == EV_DELETED) continue;
        if (write_line(f, t0, EV_ADDED, v[j]->text) != 0) rc = -1;
    }
    /* events inside; an event identical to the one last written for its object (snapshots
     * merged from overlapping windows carry the same events twice) is written once */
    for (i = start; rc == 0 && i < m->nev && v[i]->ts <= t1; i++) {
        size_t li;
        if (hm_get(&last, v[i]->key, strlen(v[i]->key), &li)) {
            const mev *p = v[li];
            if (p->ts == v[i]->ts && p->type == v[i]->type && !strcmp(p->text, v[i]->text)) continue;
        }
        if (hm_put(&last, v[i]->key, strlen(v[i]->key), i) != 0) { rc = -1; break; }
        if (write_line(f, v[i]->ts, v[i]->type, v[i]->text) != 0) rc = -1;
    }
    hm_free(&last);
    free(v);
    return rc;
}
