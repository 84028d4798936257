/* report — `kstat report`: one self-contained HTML page about an incident from kdissect's records.
 *   kdissect inc.ksnap | kstat report --title "INC-4711 checkout failures" -o inc.html
 * The numbers come from kstat's aggregator (agg.h): the same groups as `kstat --json`, the same
 * map as `kstat map --format json`, a per-service series as `kstat --by dst --every STEP`. Beside
 * it this file keeps what the aggregator does not: the slowest single calls, DNS failures by name,
 * TCP trouble per edge from connection records, capture nodes and the window.
 * The page: inline CSS, SVG (charts drawn in report_svg.c, the map laid out by Graphviz's dot),
 * a few lines of inline JavaScript for sorting tables, a Content-Security-Policy that allows
 * nothing else (no fetches, no other script even if an escape were missed). Every string from
 * the traffic goes through kr_esc (report_html.c). Sizes are bounded by --top/--top-edges. */
#include "agg.h"
#include "kf_atomic.h"
#include "kf_lines.h"
#include "kf_sha256.h"
#include "kf_time.h"
#include "kf_tool.h"
#include "report_html.h"
#include "report_svg.h"
#include <fcntl.h>
#include <getopt.h>
#include "kfl.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KR_MAX_KEYS 100000       /* distinct DNS names / TCP edges / nodes kept; the rest: "(other)" */
#define KR_CELL 160              /* characters of a string shown in a table cell */
#define KR_ATTR 2048             /* characters of a name in a data attribute */
#define KR_CMD_MAX 4096          /* bytes of a KFL selection given as a command */

/* ---- a string-keyed table: key -> index into the caller's array ---- */
typedef struct { char **keys; size_t *idx; size_t cap, n; } smap;

static uint64_t shash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h ^ h >> 29;
}

/* index of key (created as n when absent and *created set); (size_t)-1 when out of memory or full */
static size_t smap_get(smap *m, const char *k, size_t kn, int *created)
{
    *created = 0;
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        char **keys = calloc(cap, sizeof *keys);
        size_t *idx = calloc(cap, sizeof *idx);
        if (!keys || !idx) { free(keys); free(idx); return (size_t)-1; }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i]) continue;
            size_t j = shash(m->keys[i], strlen(m->keys[i])) & (cap - 1);
            while (keys[j]) j = (j + 1) & (cap - 1);
            keys[j] = m->keys[i];
            idx[j] = m->idx[i];
        }
        free(m->keys); free(m->idx);
        m->keys = keys; m->idx = idx; m->cap = cap;
    }
    size_t j = shash(k, kn) & (m->cap - 1);
    while (m->keys[j]) {
        if (strlen(m->keys[j]) == kn && !memcmp(m->keys[j], k, kn)) return m->idx[j];
        j = (j + 1) & (m->cap - 1);
    }
    if (m->n >= KR_MAX_KEYS) return (size_t)-1;
    char *c = strndup(k, kn);
    if (!c) return (size_t)-1;
    m->keys[j] = c;
    m->idx[j] = m->n;
    *created = 1;
    return m->n++;
}

static void smap_free(smap *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys); free(m->idx);
}

static int grow_arr(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 32;
    while (c < need) c *= 2;
    void *np = realloc(*p, c * elem);
    if (!np) return -1;
    memset((char *)np + *cap * elem, 0, (c - *cap) * elem);
    *p = np; *cap = c;
    return 0;
}

/* ---- what the report keeps beside the aggregator ---- */
typedef struct {
    int64_t us, ts;
    char *id, *protocol, *what, *status, *src, *dst, *source;
} slow_call;

typedef struct {
    char *name, *qtype, *rcode;
    uint64_t n;
    int64_t first, last;
    char *clients[3]; uint64_t more_clients;
    char *source;
} dns_fail;

typedef struct {
    char *src, *dst;
    uint64_t conns, refused, reset, timeout, half_open, retrans, pkts, zero_window, with_trouble;
    char *source;
} tcp_edge;

typedef struct { char *name; uint64_t records; } cap_node;

typedef struct {
    const char *title, *out;
    size_t top, top_edges, services;
    int64_t step_ns;
    char **files; int nfiles;

    kst_agg *ga, *sa;              /* groups + map; per-destination series */
    uint64_t lines, bad, records;
    int64_t tmin, tmax;

    smap nodes_m; cap_node *nodes; size_t nodes_cap;
    slow_call *slow; size_t nslow;            /* a min-heap on us, at most top */
    smap dns_m; dns_fail *dns; size_t dns_cap; uint64_t dns_other;
    smap tcp_m; tcp_edge *tcp; size_t tcp_cap;
    char *source0;                 /* the first record's capture (snapshot or file) */
    kfl_prog *prog; char *prog_src; kfl_node **items; kfl_ctx ctx; kfl_arena ar;   /* the fields read */
    int nomem;
} rep;

/* ---- record access: KFL's selective scanner (as agg.c), one list expression of the fields ---- */
#define RF(X) \
    X(ID, "id") X(TS, "timestamp") X(NODE, "node_name") X(CNODE, "capture.node") X(FILE, "capture.file") \
    X(PROTO, "protocol") X(CONN, "conn") X(FLOW, "flow") X(TCP, "tcp") X(DNS, "dns") \
    X(UNANS, "unanswered") X(ELAPSED, "elapsed_time") X(METHOD, "method") X(URL, "url") X(PATH, "path") \
    X(QT, "dns_question_types") X(Q, "dns_questions") X(REDIS, "redis_command") X(PGQ, "postgresql_query") \
    X(MYQ, "mysql_query") X(KAPI, "kafka_api_key_name") X(KSUM, "kafka_request_summary") \
    X(AMQP, "amqp_summary") X(MGC, "mongodb_command") X(MGCOLL, "mongodb_collection") X(SNI, "tlsx_sni") \
    X(GRPC, "grpc_status") X(STATUS, "status_code") X(RCODE, "dns_rcode") X(DNSRESP, "dns_response") \
    X(REDISERR, "redis_error") X(TCPERR, "tcp_error_type") X(RETR, "tcp_metrics.retransmissions") \
    X(ZW, "tcp_metrics.zero_window_events") X(LP, "conn_local_pkts") X(RP, "conn_remote_pkts") \
    X(S_OWNER, "src.pod.owner.name") X(S_PODNS, "src.pod.namespace") X(S_SVC, "src.service.name") \
    X(S_SVCNS, "src.service.namespace") X(S_POD, "src.pod.name") X(S_DNS, "src.dns") X(S_IP, "src.ip") \
    X(D_OWNER, "dst.pod.owner.name") X(D_PODNS, "dst.pod.namespace") X(D_SVC, "dst.service.name") \
    X(D_SVCNS, "dst.service.namespace") X(D_POD, "dst.pod.name") X(D_DNS, "dst.dns") X(D_IP, "dst.ip")
#define RF_ENUM(e, s) R_##e,
#define RF_NAME(e, s) s,
enum { RF(RF_ENUM) R_COUNT };
static const char *const rf_names[] = { RF(RF_NAME) };

static kfl_val rv(rep *R, int f) { return kfl_eval(&R->ctx, R->items[f]); }
/* a field the variable table knows as part of a map (capture.file) is a selection, not a slot */
static int rfound(rep *R, int f) { return R->items[f]->op != N_VAR || R->ctx.slots[R->items[f]->idx].found; }
/* a NUL-terminated copy (in the per-record arena) of a string field; "" when absent */
static const char *rcopy(rep *R, const char *p, size_t n)
{
    char *c = kfl_alloc(&R->ar, n + 1);
    if (!c) { R->nomem = 1; return ""; }
    memcpy(c, p, n);
    c[n] = 0;
    return c;
}
static const char *rstr(rep *R, int f)
{
    if (!rfound(R, f)) return "";
    kfl_val v = rv(R, f);
    return v.k == KT_STRING ? rcopy(R, v.s.p, v.s.n) : "";
}
static int64_t rnum(rep *R, int f)
{
    if (!rfound(R, f)) return 0;
    kfl_val v = rv(R, f);
    if (v.k == KT_INT) return v.i;
    if (v.k == KT_UINT) return v.u > INT64_MAX ? INT64_MAX : (int64_t)v.u;
    if (v.k == KT_DOUBLE && isfinite(v.d)) return (int64_t)v.d;
    return 0;
}
static int rbool(rep *R, int f)
{
    if (!rfound(R, f)) return 0;
    kfl_val v = rv(R, f);
    return v.k == KT_BOOL && v.b;
}
static const char *rlist0(rep *R, int f)
{
    if (!rfound(R, f)) return "";
    kfl_val v = rv(R, f);
    if (v.k != KT_LIST || !v.l->n || v.l->v[0].k != KT_STRING) return "";
    return rcopy(R, v.l->v[0].s.p, v.l->v[0].s.n);
}

static int rep_fields_init(rep *R, char *err, size_t errlen)
{
    kr_buf src = {0};
    kr_puts(&src, "[");
    for (int f = 0; f < R_COUNT; f++) { kr_puts(&src, rf_names[f]); kr_puts(&src, f + 1 < R_COUNT ? "," : "]"); }
    if (src.oom) { snprintf(err, errlen, "out of memory"); return -1; }
    size_t pos = 0;
    R->prog = kfl_compile_flags(src.p, src.n, KFL_VALUE | KFL_ALLOW_UNKNOWN, 0, err, errlen, &pos);
    R->prog_src = src.p;                   /* the program keeps pointers into its source */
    if (!R->prog) return -1;
    if (!R->prog->root || R->prog->root->op != N_LIST || R->prog->root->nargs != R_COUNT) {
        snprintf(err, errlen, "internal: report fields");
        return -1;
    }
    R->items = R->prog->root->args;
    kfl_ctx_init(&R->ctx, R->prog);
    if (!R->ctx.slots || !R->ctx.locals) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

/* The map's node id of one side, as agg.c's side_id: namespace/owner workload, else
 * namespace/service, else namespace/pod, else the DNS name, else the IP. */
static char *side_id(rep *R, int dst)
{
    int o = dst ? R_D_OWNER - R_S_OWNER : 0;
    const char *owner = rstr(R, R_S_OWNER + o), *podns = rstr(R, R_S_PODNS + o);
    const char *svc = rstr(R, R_S_SVC + o), *svcns = rstr(R, R_S_SVCNS + o);
    const char *pod = rstr(R, R_S_POD + o), *dns = rstr(R, R_S_DNS + o), *ip = rstr(R, R_S_IP + o);
    char *s = NULL;
    int k;
    if (*owner) k = asprintf(&s, "%s/%s", podns, owner);
    else if (*svc) k = asprintf(&s, "%s/%s", *svcns ? svcns : podns, svc);
    else if (*pod) k = asprintf(&s, "%s/%s", podns, pod);
    else k = asprintf(&s, "%s", *dns ? dns : *ip ? ip : "?");
    return k < 0 ? NULL : s;
}

/* where the packets are: the snapshot of "snap.ksnap:nodes/…", else the capture file itself */
static char *source_of(rep *R)
{
    const char *f = rstr(R, R_FILE);
    const char *k = strstr(f, ".ksnap:");
    return k ? strndup(f, (size_t)(k + 6 - f)) : strdup(f);
}

static char *what_of(rep *R, const char *proto)
{
    char *s = NULL;
    int k = -1;
    if (!strcmp(proto, "HTTP") || !strcmp(proto, "HTTP2")) {
        const char *u = rstr(R, R_URL);
        k = asprintf(&s, "%s %s", rstr(R, R_METHOD), *u ? u : rstr(R, R_PATH));
    } else if (!strcmp(proto, "GRPC")) k = asprintf(&s, "%s", rstr(R, R_PATH));
    else if (!strcmp(proto, "DNS")) k = asprintf(&s, "%s %s", rlist0(R, R_QT), rlist0(R, R_Q));
    else if (!strcmp(proto, "REDIS")) k = asprintf(&s, "%s", rstr(R, R_REDIS));
    else if (!strcmp(proto, "POSTGRESQL")) k = asprintf(&s, "%s", rstr(R, R_PGQ));
    else if (!strcmp(proto, "MYSQL")) k = asprintf(&s, "%s", rstr(R, R_MYQ));
    else if (!strcmp(proto, "KAFKA")) k = asprintf(&s, "%s %s", rstr(R, R_KAPI), rstr(R, R_KSUM));
    else if (!strcmp(proto, "AMQP")) k = asprintf(&s, "%s", rstr(R, R_AMQP));
    else if (!strcmp(proto, "MONGODB")) k = asprintf(&s, "%s %s", rstr(R, R_MGC), rstr(R, R_MGCOLL));
    else if (!strcmp(proto, "TLS")) k = asprintf(&s, "%s", rstr(R, R_SNI));
    else k = asprintf(&s, "%s", proto);
    return k < 0 ? NULL : s;
}

static char *status_of(rep *R, const char *proto)
{
    char *s = NULL;
    int k = -1;
    if (rbool(R, R_UNANS)) k = asprintf(&s, "no answer");
    else if (!strcmp(proto, "GRPC")) k = asprintf(&s, "grpc %lld (http %lld)", (long long)rnum(R, R_GRPC), (long long)rnum(R, R_STATUS));
    else if (!strcmp(proto, "DNS")) k = asprintf(&s, "%s", rstr(R, R_RCODE));
    else if (!strcmp(proto, "REDIS")) k = asprintf(&s, "%s", rbool(R, R_REDISERR) ? "error" : "ok");
    else if (rfound(R, R_STATUS)) k = asprintf(&s, "%lld", (long long)rnum(R, R_STATUS));
    else k = asprintf(&s, "%s", "");
    return k < 0 ? NULL : s;
}

static void slow_free(slow_call *c)
{
    free(c->id); free(c->protocol); free(c->what); free(c->status); free(c->src); free(c->dst); free(c->source);
}

static void heap_down(slow_call *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l].us < h[m].us) m = l;
        if (l + 1 < n && h[l + 1].us < h[m].us) m = l + 1;
        if (m == i) return;
        slow_call t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}
static void heap_up(slow_call *h, size_t i)
{
    while (i > 0 && h[(i - 1) / 2].us > h[i].us) {
        slow_call t = h[i]; h[i] = h[(i - 1) / 2]; h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static void take_slow(rep *R, const char *proto, int64_t ts, int64_t us)
{
    if (R->top == 0) return;
    if (R->nslow == R->top && us <= R->slow[0].us) return;
    slow_call c = {.us = us, .ts = ts};
    c.id = strdup(rstr(R, R_ID));
    c.protocol = strdup(proto);
    c.what = what_of(R, proto);
    c.status = status_of(R, proto);
    c.src = side_id(R, 0);
    c.dst = side_id(R, 1);
    c.source = source_of(R);
    if (!c.id || !c.protocol || !c.what || !c.status || !c.src || !c.dst || !c.source) { slow_free(&c); R->nomem = 1; return; }
    if (R->nslow < R->top) {
        R->slow[R->nslow] = c;
        heap_up(R->slow, R->nslow++);
    } else {
        slow_free(&R->slow[0]);
        R->slow[0] = c;
        heap_down(R->slow, R->nslow, 0);
    }
}

static void take_dns(rep *R, int64_t ts)
{
    int unans = rbool(R, R_UNANS);
    int64_t rc = rnum(R, R_STATUS);
    if (!unans && (rc == 0 || !rbool(R, R_DNSRESP))) return;
    const char *q = rlist0(R, R_Q), *qt = rlist0(R, R_QT);
    const char *rcode = unans ? "no answer" : rstr(R, R_RCODE);
    char rcbuf[32];
    if (!*rcode) { snprintf(rcbuf, sizeof rcbuf, "rcode %lld", (long long)rc); rcode = rcbuf; }
    kr_buf key = {0};
    kr_puts(&key, qt); kr_put(&key, "\x1f", 1); kr_puts(&key, q); kr_put(&key, "\x1f", 1); kr_puts(&key, rcode);
    if (key.oom) { R->nomem = 1; return; }
    int created;
    size_t i = smap_get(&R->dns_m, key.p, key.n, &created);
    kr_free(&key);
    if (i == (size_t)-1) { R->dns_other++; return; }
    if (grow_arr((void **)&R->dns, &R->dns_cap, i + 1, sizeof *R->dns) < 0) { R->nomem = 1; return; }
    dns_fail *d = &R->dns[i];
    if (created) {
        d->name = strdup(q); d->qtype = strdup(qt); d->rcode = strdup(rcode); d->source = source_of(R);
        d->first = d->last = ts;
        if (!d->name || !d->qtype || !d->rcode || !d->source) { R->nomem = 1; return; }
    }
    d->n++;
    if (ts < d->first) d->first = ts;
    if (ts > d->last) d->last = ts;
    char *c = side_id(R, 0);
    if (!c) { R->nomem = 1; return; }
    size_t k;
    for (k = 0; k < 3 && d->clients[k]; k++)
        if (!strcmp(d->clients[k], c)) break;
    if (k < 3 && !d->clients[k]) d->clients[k] = c;
    else { if (k == 3) d->more_clients++; free(c); }
}

static void take_tcp(rep *R)
{
    char *s = side_id(R, 0), *d = side_id(R, 1);
    if (!s || !d) { free(s); free(d); R->nomem = 1; return; }
    kr_buf key = {0};
    kr_puts(&key, s); kr_put(&key, "\x1f", 1); kr_puts(&key, d);
    int created;
    size_t i = key.oom ? (size_t)-1 : smap_get(&R->tcp_m, key.p, key.n, &created);
    kr_free(&key);
    if (i == (size_t)-1 || grow_arr((void **)&R->tcp, &R->tcp_cap, i + 1, sizeof *R->tcp) < 0) {
        free(s); free(d);
        return;
    }
    tcp_edge *e = &R->tcp[i];
    if (created) { e->src = s; e->dst = d; e->source = source_of(R); }
    else { free(s); free(d); }
    const char *et = rstr(R, R_TCPERR);
    e->conns++;
    e->refused += !strcmp(et, "refused");
    e->reset += !strcmp(et, "reset");
    e->timeout += !strcmp(et, "timeout");
    e->half_open += !strcmp(et, "half-open");
    uint64_t rt = (uint64_t)rnum(R, R_RETR), zw = (uint64_t)rnum(R, R_ZW);
    e->retrans += rt;
    e->zero_window += zw;
    e->pkts += (uint64_t)rnum(R, R_LP) + (uint64_t)rnum(R, R_RP);
    e->with_trouble += *et || rt || zw;
}

static int on_line(void *ctx, const char *name, const char *line, size_t n, long long lineno)
{
    rep *R = ctx;
    const char *why = NULL;
    R->lines++;
    int rc = kst_agg_add(R->ga, line, n, &why);
    if (rc == KST_NOMEM) { kf_err("%s: out of memory", name); return -1; }
    if (rc == KST_BAD) {                   /* as kstat: the first bad line stops, no page */
        R->bad++;
        kf_err("%s:%lld: %s", name, lineno, why ? why : "not a record");
        return -1;
    }
    if (kst_agg_add(R->sa, line, n, &why) == KST_NOMEM) { kf_err("%s: out of memory", name); return -1; }
    size_t off;
    kfl_arena_reset(&R->ar);
    kfl_arena_reset(&R->ctx.ar);
    if (kfl_scan_line(R->prog, line, n, R->ctx.slots, &off)) return 0;   /* agg.c read it: cannot be */
    R->records++;
    if (!R->source0 && !(R->source0 = source_of(R))) R->nomem = 1;
    int64_t ts = 0;
    if (rfound(R, R_TS)) {
        kfl_val tv = rv(R, R_TS);
        if (tv.k == KT_TS) {
            ts = tv.i;
            if (!R->tmin || ts < R->tmin) R->tmin = ts;
            if (ts > R->tmax) R->tmax = ts;
        }
    }
    const char *node = rstr(R, R_NODE);
    if (!*node) node = rstr(R, R_CNODE);
    int created;
    size_t ni = smap_get(&R->nodes_m, node, strlen(node), &created);
    if (ni != (size_t)-1 && grow_arr((void **)&R->nodes, &R->nodes_cap, ni + 1, sizeof *R->nodes) == 0) {
        if (created) R->nodes[ni].name = strdup(node);
        R->nodes[ni].records++;
    }
    const char *proto = rstr(R, R_PROTO);
    int conn = rbool(R, R_CONN), flow = rbool(R, R_FLOW);
    if (rc == KST_COUNTED && !conn && !flow && !rbool(R, R_UNANS)) {
        int64_t us = rnum(R, R_ELAPSED);
        if (us > 0) take_slow(R, proto, ts, us);
    }
    if (rbool(R, R_DNS) && !conn && !flow) take_dns(R, ts);
    if (conn && rbool(R, R_TCP)) take_tcp(R);
    if (R->nomem) { kf_err("%s: out of memory", name); return -1; }
    return 0;
}

/* ---- commands that reproduce a row ---- */

/* the input part: "kfl EXPR FILES" when the report read files, else "kdissect SRC | kfl EXPR" */
static void cmd_kfl(rep *R, kr_buf *c, const char *expr, const char *source)
{
    if (strlen(expr) + strlen(source) > KR_CMD_MAX) {   /* a giant path or name: no command to give */
        kr_printf(c, "# no command: it would be %zu bytes long (a name or path in it is that long)", strlen(expr) + strlen(source));
        return;
    }
    int from_files = R->nfiles > 0;
    for (int i = 0; i < R->nfiles; i++)
        if (!strcmp(R->files[i], "-")) from_files = 0;
    if (!from_files) {
        kr_puts(c, "kdissect ");
        kr_sh_quote(c, source, strlen(source));
        kr_puts(c, " | ");
    }
    kr_puts(c, "kfl ");
    kr_sh_quote(c, expr, strlen(expr));
    if (from_files)
        for (int i = 0; i < R->nfiles; i++) { kr_puts(c, " "); kr_sh_quote(c, R->files[i], strlen(R->files[i])); }
}

static void cmd_kexport(kr_buf *c, const char *source, const char *out)
{
    if (c->n && c->p[0] == '#') return;
    kr_puts(c, " | kexport ");
    kr_sh_quote(c, source, strlen(source));
    kr_puts(c, " --calls - -o ");
    kr_puts(c, out);
}

/* KFL for one side of a map node id of the given kind (agg.c's side_id). A workload is taken to be
 * an owner's pods (the usual case; a pod without an owner is its own workload and is not matched) */
static void kfl_side(kr_buf *e, const char *side, const char *id, const char *kind)
{
    const char *slash = strchr(id, '/');
    if ((!strcmp(kind, "workload") || !strcmp(kind, "service")) && slash) {
        const char *name = slash + 1;
        if (!strcmp(kind, "service")) kr_printf(e, "%s.pod.owner.name == \"\" && %s.service.name == ", side, side);
        else kr_printf(e, "%s.pod.owner.name == ", side);
        kr_kfl_str(e, name, strlen(name));
        kr_printf(e, " && %s.pod.namespace == ", side);
        kr_kfl_str(e, id, (size_t)(slash - id));
    } else if (!strcmp(kind, "dns")) {
        kr_printf(e, "%s.name == %s.dns && %s.dns == ", side, side, side);
        kr_kfl_str(e, id, strlen(id));
    } else {
        kr_printf(e, "%s.name == \"\" && %s.ip == ", side, side);
        kr_kfl_str(e, id, strlen(id));
    }
}

/* RE2 text matching exactly s */
static void re_quote(kr_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strchr("\\.+*?()|[]{}^$", s[i])) kr_put(b, "\\", 1);
        kr_put(b, s + i, 1);
    }
}

/* KFL selecting the records of an endpoint key (agg.c's ep_*); 0 when it cannot be said exactly */
static int kfl_endpoint(kr_buf *e, const char *proto, const char *ep)
{
    if (!strcmp(proto, "HTTP") || !strcmp(proto, "HTTP2")) {
        const char *path = ep, *sp = strchr(ep, ' ');
        if (sp && ep[0] != '/') {
            kr_puts(e, " && method == ");
            kr_kfl_str(e, ep, (size_t)(sp - ep));
            path = sp + 1;
        } else kr_puts(e, " && method == \"\"");
        if (!strstr(path, "{id}")) {
            kr_puts(e, " && path == ");
            kr_kfl_str(e, path, strlen(path));
            return 1;
        }
        /* agg.c's templating: numeric, UUID, or >= 12 hex characters with a digit */
        kr_buf re = {0};
        kr_puts(&re, "^");
        for (const char *p = path; *p;) {
            const char *id = strstr(p, "{id}");
            size_t k = id ? (size_t)(id - p) : strlen(p);
            re_quote(&re, p, k);
            p += k;
            if (id) {
                kr_puts(&re, "([0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]*[0-9][0-9a-fA-F]*)");
                p += 4;
            }
        }
        kr_puts(&re, "$");
        kr_puts(e, " && path.matches(");
        kr_kfl_str(e, re.p ? re.p : "", re.n);
        kr_puts(e, ")");
        kr_free(&re);
        return 1;
    }
    if (!strcmp(proto, "GRPC")) { kr_puts(e, " && path == "); kr_kfl_str(e, ep, strlen(ep)); return 1; }
    if (!strcmp(proto, "DNS")) {
        const char *sp = strchr(ep, ' ');
        if (!sp) { kr_puts(e, " && size(dns_questions) == 0"); return 1; }
        kr_puts(e, " && dns_question_types[0] == ");
        kr_kfl_str(e, ep, (size_t)(sp - ep));
        kr_puts(e, " && dns_questions[0] == ");
        kr_kfl_str(e, sp + 1, strlen(sp + 1));
        return 1;
    }
    if ((!strcmp(proto, "TCP") || !strcmp(proto, "UDP")) && ep[0] == ':') {
        /* kstat counts a connection record whose calls nobody else counts, or that failed */
        kr_printf(e, " && dst.port == %lld && conn && (size(conn_l7_detected) == 0 || "
                     "tcp_error_type in [\"refused\", \"reset\", \"timeout\"])", atoll(ep + 1));
        return 1;
    }
    static const struct { const char *p, *f; } one[] = {
        {"POSTGRESQL", "postgresql_command"}, {"MYSQL", "mysql_command"}, {"AMQP", "amqp_method"},
        {"TLS", "tlsx_sni"}, {"ICMP", "icmp_type_name"},
    };
    for (size_t i = 0; i < sizeof one / sizeof *one; i++)
        if (!strcmp(proto, one[i].p)) {
            kr_printf(e, " && %s == ", one[i].f);
            kr_kfl_str(e, ep, strlen(ep));
            return 1;
        }
    return 0;
}

/* ---- page parts ---- */

static const char *kind_of(kst_node **nodes, size_t nn, const char *id)
{
    for (size_t i = 0; i < nn; i++)
        if (!strcmp(nodes[i]->id, id)) return nodes[i]->kind;
    /* not among the drawn nodes: guess from its shape */
    if (strchr(id, '/')) return "workload";
    if (strspn(id, "0123456789.:abcdefABCDEF[]") == strlen(id)) return "ip";
    return "dns";
}

static void td_num(kr_buf *b, const char *k, uint64_t v)
{
    char c[32];
    kr_printf(b, "<td class=\"n\" data-k=\"%s\" data-v=\"%llu\">%s</td>", k, (unsigned long long)v, kr_count(v, c, sizeof c));
}
static void td_us(kr_buf *b, const char *k, int64_t v)
{
    char c[32];
    kr_printf(b, "<td class=\"n\" data-k=\"%s\" data-v=\"%lld\">%s</td>", k, (long long)v, kr_us_human(v, c, sizeof c));
}
static void td_ratio(kr_buf *b, const char *k, double v)
{
    char c[32];
    kr_printf(b, "<td class=\"n%s\" data-k=\"%s\" data-v=\"%.6g\">%s</td>", v >= 0.05 ? " bad" : v > 0 ? " warn" : "", k, v,
              kr_pct(v, c, sizeof c));
}
static void td_text(kr_buf *b, const char *k, const char *s)
{
    kr_printf(b, "<td data-k=\"%s\" title=\"", k);
    kr_escs(b, s, 1000);
    kr_puts(b, "\">");
    kr_escs(b, s, KR_CELL);
    kr_puts(b, "</td>");
}
/* the command that reproduces a row: a row of its own under it, the width of the table */
static void td_cmd(kr_buf *b, const kr_buf *cmd, int ncols)
{
    kr_printf(b, "</tr>\n<tr class=\"cmdrow\"><td class=\"cmd\" colspan=\"%d\"><code>", ncols);
    kr_esc(b, cmd->p ? cmd->p : "", cmd->n, 0);
    kr_puts(b, "</code></td>");
}

/* the row's reproduce-command row: "kfl EXPR …| kexport … -o STEM-N.pcapng" (and a trailing
 * note when given); frees expr; ends the row */
static void td_repro(rep *R, kr_buf *b, kr_buf *expr, const char *source, const char *stem, size_t n,
                     const char *note, int ncols)
{
    kr_buf cmd = {0};
    char out[64];
    snprintf(out, sizeof out, "%s-%zu.pcapng", stem, n);
    cmd_kfl(R, &cmd, expr->p ? expr->p : "", source);
    cmd_kexport(&cmd, source, out);
    if (note) kr_puts(&cmd, note);
    td_cmd(b, &cmd, ncols);
    kr_free(expr);
    kr_free(&cmd);
    kr_puts(b, "</tr>\n");
}

static void human_time(int64_t ns, char *buf, size_t len) { kf_time_human(ns, 0, 3, buf, len); }

static const char *edge_color(double r)
{
    return r <= 0 ? "#5b7fa3" : r < 0.01 ? "#e0a100" : r < 0.05 ? "#e06a00" : "#c8102e";
}

typedef struct { kst_node **nodes; kst_edge **edges; } map_ctx;

static void attr_node(void *ctx, size_t i, int what, kr_buf *out)
{
    map_ctx *m = ctx;
    if (what) {
        char a[32], b[32];
        kr_escs(out, m->nodes[i]->id, 200);
        kr_printf(out, " (%s): %s calls in, %s out", m->nodes[i]->kind, kr_count(m->nodes[i]->calls_in, a, sizeof a),
                  kr_count(m->nodes[i]->calls_out, b, sizeof b));
        return;
    }
    kr_puts(out, " data-id=\"");
    kr_escs(out, m->nodes[i]->id, KR_ATTR);
    kr_printf(out, "\" data-kind=\"%s\"", m->nodes[i]->kind);
}
static void attr_edge(void *ctx, size_t i, int what, kr_buf *out)
{
    map_ctx *m = ctx;
    kst_edge *e = m->edges[i];
    if (what) {
        char a[32], b[32], c[32], d[32];
        kr_escs(out, e->src, 200);
        kr_puts(out, " \xE2\x86\x92 ");
        kr_escs(out, e->dst, 200);
        kr_printf(out, ", ");
        kr_escs(out, e->protocol, 40);
        kr_printf(out, ": %s calls, %s errors (%s), p99 %s", kr_count(e->st.calls, a, sizeof a),
                  kr_count(e->st.errors, b, sizeof b), kr_pct(kst_stats_error_ratio(&e->st), c, sizeof c),
                  kr_us_human(kst_lat_quantile(&e->st.lat, 0.99), d, sizeof d));
        return;
    }
    kr_puts(out, " data-src=\"");
    kr_escs(out, e->src, KR_ATTR);
    kr_puts(out, "\" data-dst=\"");
    kr_escs(out, e->dst, KR_ATTR);
    kr_puts(out, "\" data-protocol=\"");
    kr_escs(out, e->protocol, KR_ATTR);
    kr_printf(out, "\" data-calls=\"%llu\" data-errors=\"%llu\" data-p99=\"%lld\"", (unsigned long long)e->st.calls,
              (unsigned long long)e->st.errors, (long long)kst_lat_quantile(&e->st.lat, 0.99));
}

static size_t node_index(kst_node **nodes, size_t nn, const char *id)
{
    for (size_t i = 0; i < nn; i++)
        if (!strcmp(nodes[i]->id, id)) return i;
    return (size_t)-1;
}

static void section_map(rep *R, kr_buf *b)
{
    kst_node **nodes = NULL;
    kst_edge **edges = NULL;
    size_t more = 0;
    size_t nn = kst_map_nodes(R->ga, R->top_edges, &nodes, &more);
    size_t ne = kst_map_edges(R->ga, R->top_edges, &edges);
    kr_puts(b, "<section id=\"map\"><h2>Dependency map</h2>\n");
    if (ne == 0) {
        kr_puts(b, "<p class=\"empty\">No calls between workloads.</p></section>\n");
        return;
    }
    uint64_t maxc = 1;
    for (size_t i = 0; i < ne; i++) if (edges[i]->st.calls > maxc) maxc = edges[i]->st.calls;
    kr_buf dot = {0};
    kr_puts(&dot, "digraph kstat {\n graph [rankdir=LR, bgcolor=\"transparent\", nodesep=0.35, ranksep=0.9, "
                  "fontname=\"Helvetica\"];\n node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", "
                  "fontsize=11, color=\"#4a5a6a\", fillcolor=\"#eef3f8\", penwidth=1];\n"
                  " edge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.7];\n");
    for (size_t i = 0; i < nn; i++) {
        kst_node *n = nodes[i];
        const char *fill = !strcmp(n->kind, "workload") ? "#eef3f8" : !strcmp(n->kind, "service") ? "#f1eefa"
                         : !strcmp(n->kind, "dns") ? "#eef8f0" : "#f6f6f6";
        kr_printf(&dot, " n%zu [id=\"kn%zu\", fillcolor=\"%s\", label=", i, i, fill);
        kr_dot_str(&dot, n->id, 48);
        kr_puts(&dot, "];\n");
    }
    for (size_t i = 0; i < ne; i++) {
        kst_edge *e = edges[i];
        size_t s = node_index(nodes, nn, e->src), d = node_index(nodes, nn, e->dst);
        if (s == (size_t)-1 || d == (size_t)-1) continue;
        double r = kst_stats_error_ratio(&e->st);
        char lab[200], c1[32], c2[32];
        int64_t p99 = kst_lat_quantile(&e->st.lat, 0.99);
        snprintf(lab, sizeof lab, "%s %s call%s%s%s%s p99 %s", e->protocol, kr_count(e->st.calls, c1, sizeof c1),
                 e->st.calls == 1 ? "" : "s",
                 e->st.errors ? ", " : "", e->st.errors ? kr_count(e->st.errors, c2, sizeof c2) : "",
                 e->st.errors ? " err," : ",", p99 >= 0 ? "" : "-");
        if (p99 >= 0) {
            char h[32];
            kr_us_human(p99, h, sizeof h);
            strncat(lab, h, sizeof lab - strlen(lab) - 1);
        }
        double pw = 1 + 3 * log((double)e->st.calls + 1) / log((double)maxc + 1);
        kr_printf(&dot, " n%zu -> n%zu [id=\"ke%zu\", color=\"%s\", fontcolor=\"%s\", penwidth=%.2f, label=", s, d, i,
                  edge_color(r), r > 0 ? edge_color(r) : "#333333", pw);
        kr_dot_str(&dot, lab, 0);
        kr_puts(&dot, "];\n");
    }
    kr_puts(&dot, "}\n");
    map_ctx mc = {nodes, edges};
    char err[256] = "";
    kr_puts(b, "<div class=\"map\">");
    if (dot.oom || kr_dot_svg(dot.p, dot.n, b, attr_node, attr_edge, &mc, 30000, err, sizeof err) < 0) {
        kf_warn("map: %s; the page lists the edges without a picture", err);
        kr_puts(b, "<p class=\"empty\">The map could not be drawn: ");
        kr_escs(b, err, 0);
        kr_puts(b, ". The edges are listed below.</p>");
    }
    kr_puts(b, "</div>\n<p class=\"legend\"><span class=\"sw\" style=\"background:#5b7fa3\"></span>no errors "
               "<span class=\"sw\" style=\"background:#e0a100\"></span>&lt; 1 % "
               "<span class=\"sw\" style=\"background:#e06a00\"></span>1&#8211;5 % "
               "<span class=\"sw\" style=\"background:#c8102e\"></span>&#8805; 5 % errors; line width: calls</p>\n");
    char c1[32];
    if (more) kr_printf(b, "<p class=\"note\" id=\"more-edges\" data-more=\"%zu\">%s more edges not drawn (the %zu busiest are).</p>\n",
                        more, kr_count(more, c1, sizeof c1), ne);
    kr_puts(b, "<details><summary>Edges as a table</summary><table class=\"sortable\" id=\"edges\"><thead><tr>"
               "<th>source</th><th>destination</th><th>protocol</th><th>calls</th><th>errors</th><th>error %</th>"
               "<th>p99</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < ne; i++) {
        kst_edge *e = edges[i];
        kr_puts(b, "<tr>");
        td_text(b, "src", e->src);
        td_text(b, "dst", e->dst);
        td_text(b, "protocol", e->protocol);
        td_num(b, "calls", e->st.calls);
        td_num(b, "errors", e->st.errors);
        td_ratio(b, "error_ratio", kst_stats_error_ratio(&e->st));
        td_us(b, "p99_us", kst_lat_quantile(&e->st.lat, 0.99));
        kr_puts(b, "</tr>\n");
    }
    kr_puts(b, "</tbody></table></details></section>\n");
    kr_free(&dot);                 /* nodes and edges belong to the aggregator */
}

static void section_charts(rep *R, kr_buf *b)
{
    kr_puts(b, "<section id=\"charts\"><h2>Error rate and p99 latency over time</h2>\n");
    size_t ng = kst_agg_ngroups(R->sa);
    size_t k = ng < R->services ? ng : R->services;
    if (k == 0 || R->tmax <= R->tmin) {
        kr_puts(b, "<p class=\"empty\">Not enough calls over time for a chart.</p></section>\n");
        return;
    }
    /* bucket width: the step, widened so a chart has at most 120 points */
    int64_t span = R->tmax - R->tmin;
    static const int64_t mult[] = {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400};
    int64_t w = R->step_ns;
    for (size_t i = 0; i < sizeof mult / sizeof *mult && span / w > 120; i++) w = R->step_ns * mult[i];
    while (span / w > 120) w *= 2;
    int64_t t0 = R->tmin - (R->tmin % w + w) % w;
    int64_t t1 = R->tmax - (R->tmax % w + w) % w + w;
    kr_line *err = calloc(k, sizeof *err), *p99 = calloc(k, sizeof *p99);
    kst_bucket **bk = calloc(k, sizeof *bk);
    size_t *nb = calloc(k, sizeof *nb);
    int64_t **ts = calloc(k, sizeof *ts);
    double **ve = calloc(k, sizeof *ve), **vp = calloc(k, sizeof *vp);
    if (!err || !p99 || !bk || !nb || !ts || !ve || !vp) { R->nomem = 1; goto out; }
    for (size_t i = 0; i < k; i++) {
        kst_group *g = kst_agg_group(R->sa, i);
        if (kst_group_series(R->sa, g, w, &bk[i], &nb[i]) < 0) { R->nomem = 1; goto out; }
        ts[i] = calloc(nb[i] + 1, sizeof **ts);
        ve[i] = calloc(nb[i] + 1, sizeof **ve);
        vp[i] = calloc(nb[i] + 1, sizeof **vp);
        if (!ts[i] || !ve[i] || !vp[i]) { R->nomem = 1; goto out; }
        for (size_t j = 0; j < nb[i]; j++) {
            kst_stats *s = &bk[i][j].st;
            ts[i][j] = bk[i][j].start_ns + w / 2;
            ve[i][j] = s->calls ? (double)s->errors / (double)s->calls : NAN;
            int64_t q = s->lat.n ? kst_lat_quantile(&s->lat, 0.99) : -1;
            vp[i][j] = q >= 0 ? (double)q : NAN;
        }
        err[i] = (kr_line){g->key_text[0], nb[i], ts[i], ve[i]};
        p99[i] = (kr_line){g->key_text[0], nb[i], ts[i], vp[i]};
    }
    char wb[32];
    kf_duration_human(w, wb, sizeof wb);
    kr_printf(b, "<p class=\"note\">The %zu busiest destinations, per %s; a gap is a bucket without calls.</p>\n", k, wb);
    kr_puts(b, "<ul class=\"keys\">");
    for (size_t i = 0; i < k; i++) {
        kst_group *g = kst_agg_group(R->sa, i);
        char c[32];
        kr_printf(b, "<li><span class=\"sw\" style=\"background:%s\"></span>", kr_color(i));
        kr_escs(b, g->key_text[0], 80);
        kr_printf(b, " <span class=\"dim\">(%s calls)</span></li>", kr_count(g->st.calls, c, sizeof c));
    }
    kr_puts(b, "</ul>\n");
    kr_svg_chart(b, "Error rate", KR_Y_PERCENT, t0, t1, err, k);
    kr_svg_chart(b, "p99 latency", KR_Y_MICROS, t0, t1, p99, k);
out:
    for (size_t i = 0; i < k; i++) {
        if (bk && bk[i]) kst_series_free(bk[i], nb[i]);
        if (ts) free(ts[i]);
        if (ve) free(ve[i]);
        if (vp) free(vp[i]);
    }
    free(err); free(p99); free(bk); free(nb); free(ts); free(ve); free(vp);
    kr_puts(b, "</section>\n");
}

static int cmp_fail(const void *a, const void *b)
{
    const kst_group *x = *(kst_group *const *)a, *y = *(kst_group *const *)b;
    if (x->st.errors != y->st.errors) return x->st.errors > y->st.errors ? -1 : 1;
    if (x->st.calls != y->st.calls) return x->st.calls > y->st.calls ? -1 : 1;
    return 0;
}

static void section_endpoints(rep *R, kr_buf *b)
{
    kr_puts(b, "<section id=\"endpoints\"><h2>Top failing endpoints</h2>\n");
    size_t ng = kst_agg_ngroups(R->ga), nf = 0;
    kst_group **f = calloc(ng + 1, sizeof *f);
    if (!f) { R->nomem = 1; kr_puts(b, "</section>"); return; }
    for (size_t i = 0; i < ng; i++) {
        kst_group *g = kst_agg_group(R->ga, i);
        if (g->st.errors) f[nf++] = g;
    }
    if (!nf) {
        kr_puts(b, "<p class=\"empty\">No failing calls.</p></section>\n");
        free(f);
        return;
    }
    qsort(f, nf, sizeof *f, cmp_fail);
    kst_node **nodes = NULL;
    size_t more;
    size_t nn = kst_map_nodes(R->ga, 0, &nodes, &more);
    size_t shown = nf < R->top ? nf : R->top;
    char c[32];
    kr_printf(b, "<p class=\"note\">%s of %s groups (protocol, source, destination, endpoint) with errors; "
                 "the command selects the group's calls and writes their packets.</p>\n",
              kr_count(shown, c, sizeof c), kr_count(nf, c + 16, 16));
    kr_puts(b, "<table class=\"sortable\" id=\"failing\"><thead><tr><th>protocol</th><th>source</th><th>destination</th>"
               "<th>endpoint</th><th>calls</th><th>errors</th><th>error %</th><th>4xx</th><th>no answer</th>"
               "<th>p50</th><th>p99</th><th>max</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < shown; i++) {
        kst_group *g = f[i];
        const char *proto = g->key_text[0], *src = g->key_text[1], *dst = g->key_text[2], *ep = g->key_text[3];
        kr_puts(b, "<tr class=\"row\">");
        td_text(b, "protocol", proto);
        td_text(b, "src", src);
        td_text(b, "dst", dst);
        td_text(b, "endpoint", ep);
        td_num(b, "calls", g->st.calls);
        td_num(b, "errors", g->st.errors);
        td_ratio(b, "error_ratio", kst_stats_error_ratio(&g->st));
        td_num(b, "client_errors", g->st.client_errors);
        td_num(b, "unanswered", g->st.unanswered);
        td_us(b, "p50_us", kst_lat_quantile(&g->st.lat, 0.50));
        td_us(b, "p99_us", kst_lat_quantile(&g->st.lat, 0.99));
        td_us(b, "max_us", g->st.lat.n ? g->st.lat.max : -1);
        kr_buf e = {0};
        kr_puts(&e, "protocol == ");
        kr_kfl_str(&e, proto, strlen(proto));
        kr_puts(&e, " && ");
        kfl_side(&e, "src", src, kind_of(nodes, nn, src));
        kr_puts(&e, " && ");
        kfl_side(&e, "dst", dst, kind_of(nodes, nn, dst));
        int exact = kfl_endpoint(&e, proto, ep);
        td_repro(R, b, &e, R->source0 ? R->source0 : "SNAPSHOT", "failing", i + 1,
                 exact ? NULL : "   # every endpoint of this protocol between the two", 12);
    }
    kr_puts(b, "</tbody></table></section>\n");
    free(f);
}

static int cmp_slow(const void *a, const void *b)
{
    const slow_call *x = a, *y = b;
    return x->us != y->us ? (x->us > y->us ? -1 : 1) : strcmp(x->id, y->id);
}

static void section_slow(rep *R, kr_buf *b)
{
    kr_puts(b, "<section id=\"slow\"><h2>Slowest calls</h2>\n");
    if (!R->nslow) { kr_puts(b, "<p class=\"empty\">No answered calls.</p></section>\n"); return; }
    qsort(R->slow, R->nslow, sizeof *R->slow, cmp_slow);
    kr_puts(b, "<table class=\"sortable\" id=\"slowest\"><thead><tr><th>time</th><th>protocol</th><th>request</th>"
               "<th>status</th><th>latency</th><th>source &#8594; destination</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < R->nslow; i++) {
        slow_call *c = &R->slow[i];
        char tb[96];
        human_time(c->ts, tb, sizeof tb);
        kr_puts(b, "<tr class=\"row\" data-id=\"");
        kr_escs(b, c->id, KR_ATTR);
        kr_puts(b, "\">");
        td_text(b, "time", tb);
        td_text(b, "protocol", c->protocol);
        td_text(b, "request", c->what);
        td_text(b, "status", c->status);
        td_us(b, "elapsed_us", c->us);
        kr_puts(b, "<td data-k=\"path\">");
        kr_escs(b, c->src, 60);
        kr_puts(b, " &#8594; ");
        kr_escs(b, c->dst, 60);
        kr_puts(b, "</td>");
        kr_buf e = {0};
        kr_puts(&e, "id == ");
        kr_kfl_str(&e, c->id, strlen(c->id));
        td_repro(R, b, &e, c->source, "slow", i + 1, NULL, 6);
    }
    kr_puts(b, "</tbody></table></section>\n");
}

static int cmp_dns(const void *a, const void *b)
{
    const dns_fail *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (!c) c = strcmp(x->rcode, y->rcode);
    return c ? c : strcmp(x->qtype, y->qtype);
}

static void section_dns(rep *R, kr_buf *b)
{
    size_t n = R->dns_m.n;
    kr_puts(b, "<section id=\"dns\"><h2>DNS failures</h2>\n");
    if (!n) { kr_puts(b, "<p class=\"empty\">No failed DNS queries.</p></section>\n"); return; }
    qsort(R->dns, n, sizeof *R->dns, cmp_dns);
    size_t shown = n < R->top ? n : R->top;
    char c1[32], c2[32];
    kr_printf(b, "<p class=\"note\">%s of %s names with an error answer (NXDOMAIN, SERVFAIL, …) or none.%s</p>\n",
              kr_count(shown, c1, sizeof c1), kr_count(n, c2, sizeof c2),
              R->dns_other ? " Some names beyond the report's limit are not counted." : "");
    kr_puts(b, "<table class=\"sortable\" id=\"dnsfail\"><thead><tr><th>name</th><th>type</th><th>answer</th><th>queries</th>"
               "<th>clients</th><th>first</th><th>last</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < shown; i++) {
        dns_fail *d = &R->dns[i];
        kr_puts(b, "<tr class=\"row\">");
        td_text(b, "name", d->name);
        td_text(b, "qtype", d->qtype);
        td_text(b, "rcode", d->rcode);
        td_num(b, "queries", d->n);
        kr_puts(b, "<td data-k=\"clients\">");
        for (int k = 0; k < 3 && d->clients[k]; k++) {
            if (k) kr_puts(b, ", ");
            kr_escs(b, d->clients[k], 60);
        }
        if (d->more_clients) kr_puts(b, ", …");
        kr_puts(b, "</td>");
        char tb[96];
        human_time(d->first, tb, sizeof tb);
        td_text(b, "first", tb);
        human_time(d->last, tb, sizeof tb);
        td_text(b, "last", tb);
        kr_buf e = {0};
        kr_puts(&e, "dns && dns_questions[0] == ");
        kr_kfl_str(&e, d->name, strlen(d->name));
        if (!strcmp(d->rcode, "no answer")) kr_puts(&e, " && unanswered");
        else {
            kr_puts(&e, " && dns_response && dns_rcode == ");
            kr_kfl_str(&e, d->rcode, strlen(d->rcode));
        }
        kr_puts(&e, " && dns_question_types[0] == ");
        kr_kfl_str(&e, d->qtype, strlen(d->qtype));
        td_repro(R, b, &e, d->source, "dns", i + 1, NULL, 7);
    }
    kr_puts(b, "</tbody></table></section>\n");
}

static uint64_t tcp_score(const tcp_edge *e) { return (e->refused + e->reset + e->timeout) * 1000000 + e->retrans * 10 + e->zero_window; }
static int cmp_tcp(const void *a, const void *b)
{
    const tcp_edge *x = a, *y = b;
    uint64_t sx = tcp_score(x), sy = tcp_score(y);
    if (sx != sy) return sx > sy ? -1 : 1;
    if (x->conns != y->conns) return x->conns > y->conns ? -1 : 1;
    int c = strcmp(x->src, y->src);
    return c ? c : strcmp(x->dst, y->dst);
}

static void section_tcp(rep *R, kr_buf *b)
{
    kr_puts(b, "<section id=\"tcp\"><h2>TCP trouble per edge</h2>\n");
    size_t n = R->tcp_m.n, nt = 0;
    for (size_t i = 0; i < n; i++) nt += R->tcp[i].with_trouble > 0;
    if (!nt) {
        kr_printf(b, "<p class=\"empty\">No refused, reset or timed-out connections, retransmissions or zero windows%s.</p></section>\n",
                  n ? "" : " (no TCP connection records in the input)");
        return;
    }
    qsort(R->tcp, n, sizeof *R->tcp, cmp_tcp);
    kr_puts(b, "<p class=\"note\">From connection records (<code>tcp_conn</code>); retransmissions as a share of all "
               "packets of the edge's connections.</p>\n");
    kr_puts(b, "<table class=\"sortable\" id=\"tcptrouble\"><thead><tr><th>source</th><th>destination</th><th>connections</th>"
               "<th>refused</th><th>reset</th><th>timed out</th><th>half-open</th><th>retransmissions</th>"
               "<th>retrans. %</th><th>zero windows</th></tr></thead><tbody>\n");
    size_t shown = 0;
    for (size_t i = 0; i < n && shown < R->top; i++) {
        tcp_edge *e = &R->tcp[i];
        if (!e->with_trouble) continue;
        shown++;
        kr_puts(b, "<tr class=\"row\">");
        td_text(b, "src", e->src);
        td_text(b, "dst", e->dst);
        td_num(b, "conns", e->conns);
        td_num(b, "refused", e->refused);
        td_num(b, "reset", e->reset);
        td_num(b, "timeout", e->timeout);
        td_num(b, "half_open", e->half_open);
        td_num(b, "retransmissions", e->retrans);
        td_ratio(b, "retrans_ratio", e->pkts ? (double)e->retrans / (double)e->pkts : 0);
        td_num(b, "zero_window", e->zero_window);
        kr_buf x = {0};
        kr_puts(&x, "tcp_conn && ");
        kfl_side(&x, "src", e->src, kind_of(NULL, 0, e->src));
        kr_puts(&x, " && ");
        kfl_side(&x, "dst", e->dst, kind_of(NULL, 0, e->dst));
        kr_puts(&x, " && (tcp_error_type != \"\" || tcp_metrics.retransmissions > 0 || tcp_metrics.zero_window_events > 0)");
        td_repro(R, b, &x, e->source, "tcp", shown, NULL, 10);
    }
    kr_puts(b, "</tbody></table></section>\n");
}

static const char CSS[] =
    ":root{--fg:#1b2430;--dim:#5d6b7a;--line:#d8dee5;--bad:#c8102e;--warn:#b35c00;--bg2:#f5f7f9}\n"
    "*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,Helvetica,Arial,sans-serif;"
    "color:var(--fg);margin:0 auto;max-width:1200px;padding:16px 24px}\n"
    "h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}\n"
    ".sub,.note,.dim{color:var(--dim)}.note{font-size:12.5px;margin:4px 0}.empty{color:var(--dim);font-style:italic}\n"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}dt{color:var(--dim)}dd{margin:0}\n"
    "table{border-collapse:collapse;width:100%;font-size:12.5px;margin:6px 0}th,td{border-bottom:1px solid var(--line);"
    "padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:var(--bg2);cursor:pointer;"
    "user-select:none;white-space:nowrap}th.asc::after{content:\" \\25B2\"}th.desc::after{content:\" \\25BC\"}\n"
    "td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}td.bad{color:var(--bad);font-weight:600}"
    "td.warn{color:var(--warn)}\n"
    "tr.row td{border-bottom:none}tr.cmdrow td{padding:0 6px 6px 18px}td.cmd code{font:11px/1.35 ui-monospace,Menlo,"
    "Consolas,monospace;color:#4a5866;word-break:break-all;white-space:pre-wrap}td.cmd code::before{content:\"$ \";"
    "color:#9aa6b2}tbody tr.row:hover td,tbody tr.row:hover+tr.cmdrow td{background:#f7f9fb}\n"
    ".map{overflow:auto;border:1px solid var(--line);border-radius:6px;padding:8px;background:#fff}"
    ".map svg{max-width:100%;height:auto;display:block;margin:auto}\n"
    ".map g.edge:hover path{stroke-width:4}.map g.edge:hover text{font-weight:700}\n"
    ".sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin:0 4px 0 10px}\n"
    ".legend{font-size:12px;color:var(--dim)}ul.keys{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;"
    "gap:2px 8px;font-size:12.5px}\n"
    "svg.chart{width:100%;height:auto;display:block;margin:6px 0 14px}svg.chart .grid{stroke:#e5e9ee}"
    "svg.chart .axis,svg.chart .tick{stroke:#8895a3}svg.chart text{font-size:11px;fill:#4a5866}"
    "svg.chart .ct{font-size:13px;font-weight:600;fill:var(--fg)}svg.chart .yl{text-anchor:end}svg.chart .xu{fill:#8a96a3}"
    "svg.chart polyline{stroke-width:1.8}svg.chart circle{stroke:none}svg.chart circle:hover{r:5}\n"
    ".badge{display:inline-block;padding:1px 8px;border-radius:10px;background:var(--bg2);margin-right:6px}"
    ".badge.bad{background:#fbe3e6;color:var(--bad)}\n"
    "footer{margin-top:32px;font-size:12px;color:var(--dim);border-top:1px solid var(--line);padding-top:8px}\n"
    "@media print{body{max-width:none;padding:0;font-size:11px}th{cursor:auto}section{break-inside:auto}"
    ".map,svg.chart,tr{break-inside:avoid}details>summary{display:none}h2{break-after:avoid}}\n";

/* sorting: a click on a header sorts by that column (numbers by data-v); printing unfolds <details> */
static const char JS[] =
    "document.querySelectorAll('table.sortable').forEach(function(t){"
    "t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){"
    "var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),d=th.classList.contains('desc')?1:-1;"
    "t.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc')});"
    "th.classList.add(d>0?'asc':'desc');"
    "rows=rows.filter(function(r){return !r.classList.contains('cmdrow')});"
    "rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];var u=a.dataset.v,v=c.dataset.v;"
    "if(u!==undefined&&v!==undefined)return d*(parseFloat(u)-parseFloat(v));"
    "return d*a.textContent.localeCompare(c.textContent)});"
    "rows.forEach(function(r){var n=r.nextElementSibling;b.appendChild(r);"
    "if(n&&n.classList.contains('cmdrow'))b.appendChild(n)})})})});"
    "window.addEventListener('beforeprint',function(){document.querySelectorAll('details').forEach(function(d){d.open=true})});";

static void page(rep *R, kr_buf *b)
{
    uint8_t h[32];
    char h64[48];
    if (kf_sha256_buf(JS, sizeof JS - 1, h) != 0) memset(h, 0, sizeof h);   /* out of memory: the CSP hash will not match and the browser blocks the script */
    kr_base64(h, 32, h64);
    kst_stats *tot = kst_agg_total(R->ga);
    uint64_t lines, counted, skipped;
    kst_agg_counts(R->ga, &lines, &counted, &skipped);
    const char *title = R->title ? R->title : "Incident report";
    kr_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    kr_printf(b, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
                 "script-src 'sha256-%s'; base-uri 'none'; form-action 'none'\">\n", h64);
    kr_printf(b, "<meta name=\"generator\" content=\"kstat report %s\">\n<title>", KF_VERSION);
    kr_escs(b, title, 200);
    kr_printf(b, "</title>\n<style>%s</style>\n</head><body>\n<header><h1 id=\"title\">", CSS);
    kr_escs(b, title, 200);
    kr_puts(b, "</h1>\n");
    char t1[96], t2[96], d[32], c1[32], c2[32], c3[32];
    if (R->records) {
        human_time(R->tmin, t1, sizeof t1);
        human_time(R->tmax, t2, sizeof t2);
        kf_duration_human(R->tmax - R->tmin, d, sizeof d);
        kr_printf(b, "<p class=\"sub\" id=\"window\">%s &#8211; %s (%s)</p>\n", t1, t2, d);
        double er = kst_stats_error_ratio(tot);
        kr_printf(b, "<p><span class=\"badge\">%s calls</span><span class=\"badge%s\">%s errors (%s)</span>"
                     "<span class=\"badge\">%s unanswered</span><span class=\"badge\">%s NXDOMAIN</span></p>\n",
                  kr_count(tot->calls, c1, sizeof c1), tot->errors ? " bad" : "", kr_count(tot->errors, c2, sizeof c2),
                  kr_pct(er, c3, sizeof c3), kr_count(tot->unanswered, d, sizeof d), kr_count(tot->nxdomain, t1, sizeof t1));
    }
    kr_puts(b, "</header>\n<section id=\"summary\"><h2>Window and capture</h2>\n");
    if (!R->records) {
        kr_puts(b, "<p class=\"empty\" id=\"no-records\">The input held no records, so there is nothing to report. "
                   "Make records with <code>kdissect SNAPSHOT</code>.</p>\n");
    } else {
        kr_puts(b, "<dl class=\"facts\">");
        human_time(R->tmin, t1, sizeof t1);
        kr_printf(b, "<dt>first record</dt><dd data-ts=\"%lld\">%s</dd>", (long long)R->tmin, t1);
        human_time(R->tmax, t1, sizeof t1);
        kr_printf(b, "<dt>last record</dt><dd data-ts=\"%lld\">%s</dd>", (long long)R->tmax, t1);
        kf_time_rfc3339(R->tmin, t1, sizeof t1);
        kf_time_rfc3339(R->tmax, t2, sizeof t2);
        kr_printf(b, "<dt>in RFC 3339</dt><dd><code>%s</code> &#8211; <code>%s</code></dd>", t1, t2);
        kr_printf(b, "<dt>records</dt><dd id=\"records\" data-v=\"%llu\">%s (%s counted as calls, the rest are "
                     "connection and flow summaries)</dd>",
                  (unsigned long long)R->records, kr_count(R->records, c1, sizeof c1), kr_count(counted, c2, sizeof c2));
        kr_puts(b, "</dl>\n<table id=\"nodes\"><thead><tr><th>capture node</th><th>records</th></tr></thead><tbody>");
        for (size_t i = 0; i < R->nodes_m.n; i++) {
            kr_puts(b, "<tr>");
            td_text(b, "node", R->nodes[i].name && *R->nodes[i].name ? R->nodes[i].name : "(unknown)");
            td_num(b, "records", R->nodes[i].records);
            kr_puts(b, "</tr>");
        }
        kr_puts(b, "</tbody></table>\n");
    }
    kr_puts(b, "</section>\n");
    if (R->records) {
        section_map(R, b);
        section_charts(R, b);
        section_endpoints(R, b);
        section_slow(R, b);
        section_dns(R, b);
        section_tcp(R, b);
    }
    kr_printf(b, "<footer>Made by <code>kstat report</code> (kforensics %s) from kdissect's records. Errors per protocol "
                 "as in kstat (HTTP: status &#8805; 500; gRPC: grpc_status &#8800; 0; DNS: an error rcode other than "
                 "NXDOMAIN; TCP: refused, reset, timed out). Latencies are request to response (elapsed_time). "
                 "In commands, SNAPSHOT stands for the capture the records came from.</footer>\n",
              KF_VERSION);
    kr_printf(b, "<script>%s</script>\n</body></html>\n", JS);
}

/* The time of a record line from its "timestamp" member (kdissect writes it near the start). */
static int line_ts(const char *p, size_t n, int64_t *ts)
{
    const char *k = memmem(p, n, "\"timestamp\":\"", 13);
    if (!k) return -1;
    k += 13;
    const char *e = memchr(k, '"', (size_t)(p + n - k));
    return e ? kf_time_parse_rfc3339(k, (size_t)(e - k), ts) : -1;
}

/* The span of a plain (not compressed) regular file of records, from its first and last line
 * (kdissect writes records in time order); -1 when it cannot be told cheaply. */
static int file_span(const char *path, int64_t *first, int64_t *last)
{
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 2) {
        ssize_t k = pread(fd, buf, sizeof buf, 0);
        if (k > 2 && !((unsigned char)buf[0] == 0x1f && (unsigned char)buf[1] == 0x8b)) {
            const char *nl = memchr(buf, '\n', (size_t)k);
            size_t l1 = nl ? (size_t)(nl - buf) : (size_t)k;
            off_t off = st.st_size > (off_t)sizeof buf ? st.st_size - (off_t)sizeof buf : 0;
            ssize_t m = line_ts(buf, l1, first) == 0 ? pread(fd, buf, sizeof buf, off) : -1;
            while (m > 0 && buf[m - 1] == '\n') m--;
            if (m > 0) {
                const char *q = memrchr(buf, '\n', (size_t)m);
                const char *ls = q ? q + 1 : (off == 0 ? buf : NULL);
                if (ls && line_ts(ls, (size_t)(buf + m - ls), last) == 0 && *last >= *first) rc = 0;
            }
        }
    }
    close(fd);
    return rc;
}

/* the charts' step when none is given: 1 s, or for files whose span can be read, the round step
 * that gives at most about 120 points (so a window of days keeps few buckets per destination) */
static int64_t auto_step(char **files, int nfiles)
{
    static const int64_t steps[] = {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400};
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    if (nfiles == 0) return KF_NS_PER_SEC;
    for (int i = 0; i < nfiles; i++) {
        int64_t a, b;
        if (!strcmp(files[i], "-") || file_span(files[i], &a, &b) < 0) return KF_NS_PER_SEC;
        if (a < lo) lo = a;
        if (b > hi) hi = b;
    }
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
        if ((hi - lo) / (steps[i] * KF_NS_PER_SEC) <= 120) return steps[i] * KF_NS_PER_SEC;
    return 86400 * KF_NS_PER_SEC;
}

static void usage(void)
{
    printf("Usage: kstat report [OPTIONS] [FILE...]\n"
           "Write one self-contained HTML page about the calls in kdissect's records (FILE or standard\n"
           "input; gzip is detected): the window and capture nodes, the dependency map (Graphviz), error\n"
           "rate and p99 latency over time for the busiest destinations, the top failing endpoints, the\n"
           "slowest calls, DNS failures and TCP trouble per edge, each row with the kfl/kexport command\n"
           "that reproduces it. The page needs no network and no other file; it opens in any browser.\n"
           "\n"
           "  -o, --output FILE    write the page to FILE (default: standard output)\n"
           "  -t, --title TEXT     the page's title (default \"Incident report\")\n"
           "      --top N          rows per table (default 15)\n"
           "      --top-edges N    edges drawn on the map, the busiest (default 40; the rest are counted)\n"
           "      --services N     destinations in the charts (default 6)\n"
           "      --step DUR       the charts' finest time step (default: 1s, or for plain files the\n"
           "                       round step giving about 120 points; a long window read from a pipe\n"
           "                       takes less memory with --step 1m); widened to at most 120 points\n"
           "  -h, --help           this help\n"
           "\n"
           "Example:\n"
           "  kdissect inc-4711.ksnap | kstat report --title \"INC-4711 checkout failures\" -o inc-4711.html\n"
           "Exit status: 0 the page was written (an empty input gives a page that says so), 2 bad usage or\n"
           "input, 3 I/O error. Graphviz's dot lays out the map (KSTAT_DOT names another program).\n");
}

static int parse_count(const char *s, size_t *out)
{
    char *e;
    long long v = strtoll(s, &e, 10);
    if (!*s || *e || v < 0 || v > 100000) return -1;
    *out = (size_t)v;
    return 0;
}

static void rep_free(rep *R)
{
    kst_agg_free(R->ga);
    kst_agg_free(R->sa);
    for (size_t i = 0; i < R->nslow; i++) slow_free(&R->slow[i]);
    free(R->slow);
    for (size_t i = 0; i < R->nodes_m.n; i++) free(R->nodes[i].name);
    free(R->nodes);
    smap_free(&R->nodes_m);
    for (size_t i = 0; i < R->dns_m.n; i++) {
        free(R->dns[i].name); free(R->dns[i].qtype); free(R->dns[i].rcode); free(R->dns[i].source);
        for (int k = 0; k < 3; k++) free(R->dns[i].clients[k]);
    }
    free(R->dns);
    smap_free(&R->dns_m);
    for (size_t i = 0; i < R->tcp_m.n; i++) { free(R->tcp[i].src); free(R->tcp[i].dst); free(R->tcp[i].source); }
    free(R->tcp);
    smap_free(&R->tcp_m);
    free(R->source0);
    kfl_ctx_free(&R->ctx);
    kfl_prog_free(R->prog);
    free(R->prog_src);
    kfl_arena_free(&R->ar);
}

int kst_report_main(int argc, char **argv)
{
    rep R = {.top = 15, .top_edges = 40, .services = 6, .step_ns = 0};
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"title", required_argument, 0, 't'},
        {"top", required_argument, 0, 'T'}, {"top-edges", required_argument, 0, 'E'},
        {"services", required_argument, 0, 'S'}, {"step", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = kf_getopt(argc, argv, "o:t:h", opts)) != -1) {
        switch (c) {
        case 'o': R.out = optarg; break;
        case 't': R.title = optarg; break;
        case 'T': if (parse_count(optarg, &R.top) < 0) kf_usage_die("--top: not a count: %s", optarg); break;
        case 'E': if (parse_count(optarg, &R.top_edges) < 0 || !R.top_edges) kf_usage_die("--top-edges: not a count: %s", optarg); break;
        case 'S': if (parse_count(optarg, &R.services) < 0) kf_usage_die("--services: not a count: %s", optarg); break;
        case 'P':
            if (kf_duration_parse(optarg, &R.step_ns) < 0 || R.step_ns < 1000000) kf_usage_die("--step: not a duration of 1ms or more: %s", optarg);
            break;
        case 'h': usage(); return kf_finish_stdout(KF_EXIT_OK);
        default: kf_usage_die("unknown option");
        }
    }
    R.files = argv + optind;
    R.nfiles = argc - optind;
    if (!R.step_ns) R.step_ns = auto_step(R.files, R.nfiles);
    char err[512];
    kst_opts go = {.want_groups = 1, .want_map = 1};
    R.ga = kst_agg_new(&go, err, sizeof err);
    static const char *const by_dst[] = {"dst"};
    kst_opts so = {.by = by_dst, .nby = 1, .every_ns = R.step_ns, .want_groups = 1};
    R.sa = R.ga ? kst_agg_new(&so, err, sizeof err) : NULL;
    if (!R.ga || !R.sa || rep_fields_init(&R, err, sizeof err) < 0) kf_die(KF_EXIT_ERR, "%s", err);
    if (R.top && !(R.slow = calloc(R.top, sizeof *R.slow))) kf_die(KF_EXIT_ERR, "out of memory");
    int rc = 0;
    if (R.nfiles == 0) rc = kf_lines_read("-", on_line, &R);
    for (int i = 0; i < R.nfiles && rc == 0; i++) rc = kf_lines_read(R.files[i], on_line, &R);
    if (rc < 0) { rep_free(&R); return R.bad ? KF_EXIT_ERR : KF_EXIT_IO; }
    if (kst_agg_finish(R.ga) < 0 || kst_agg_finish(R.sa) < 0) kf_die(KF_EXIT_ERR, "out of memory");
    kr_buf b = {0};
    page(&R, &b);
    if (b.oom || R.nomem) kf_die(KF_EXIT_ERR, "out of memory while writing the page");
    kf_atomic out;
    const char *path = R.out ? R.out : "-";
    if (kf_atomic_open(&out, path, 0644, err, sizeof err) < 0) {
        kf_err("%s", err);
        kr_free(&b);
        rep_free(&R);
        return KF_EXIT_IO;
    }
    if (fwrite(b.p, 1, b.n, out.f) != b.n) {
        kf_err("%s: write failed", path);
        kf_atomic_abort(&out);
        kr_free(&b);
        rep_free(&R);
        return KF_EXIT_IO;
    }
    int ok = kf_atomic_commit(&out, err, sizeof err) == 0;
    if (!ok) kf_err("%s", err);
    kr_free(&b);
    rep_free(&R);
    return ok ? KF_EXIT_OK : KF_EXIT_IO;
}
