/* agg.c — the aggregator (agg.h). One KFL program holds every --by expression and the fields
 * kstat itself reads, as one list expression, so the selective scanner (lib/kfl/scan.c) walks
 * each line once and notes only those fields; values are decoded when read. Groups and map
 * edges live in open-addressing hash tables keyed by the serialized key. */
#include "agg.h"
#include "kfl.h"
#include "kf_time.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the fields kstat reads (after the --by expressions in the program's list) ---- */
#define KST_FIELDS(X) \
    X(PROTOCOL, "protocol") X(TS, "timestamp") X(ELAPSED, "elapsed_time") X(UNANSWERED, "unanswered") \
    X(FLOW, "flow") X(CONN, "conn") X(L7DET, "conn_l7_detected") X(TCPERR, "tcp_error_type") \
    X(STATUS, "status_code") X(GRPC, "grpc_status") X(METHOD, "method") X(PATH, "path") \
    X(DNSQ, "dns_questions") X(DNSQT, "dns_question_types") \
    X(REDIS_ERR, "redis_error") X(REDIS_CMD, "redis_command") \
    X(KAFKA_ERR, "kafka_error_code") X(KAFKA_API, "kafka_api_key_name") X(KAFKA_SUM, "kafka_request_summary") \
    X(AMQP_CODE, "amqp_reply_code") X(AMQP_METHOD, "amqp_method") \
    X(PG_ERR, "postgresql_error_code") X(PG_CMD, "postgresql_command") \
    X(MY_ERR, "mysql_error_code") X(MY_CMD, "mysql_command") \
    X(MG_OK, "mongodb_success") X(MG_NORESP, "mongodb_no_response") X(MG_CMD, "mongodb_command") \
    X(MG_COLL, "mongodb_collection") X(SNI, "tlsx_sni") X(WS_OP, "ws_opcode") \
    X(ICMP_TYPE, "icmp_type") X(ICMP_V6, "icmp_v6") X(ICMP_NAME, "icmp_type_name") X(DPORT, "dst.port") \
    X(S_OWNER, "src.pod.owner.name") X(S_PODNS, "src.pod.namespace") X(S_POD, "src.pod.name") \
    X(S_SVC, "src.service.name") X(S_SVCNS, "src.service.namespace") X(S_DNS, "src.dns") X(S_IP, "src.ip") \
    X(D_OWNER, "dst.pod.owner.name") X(D_PODNS, "dst.pod.namespace") X(D_POD, "dst.pod.name") \
    X(D_SVC, "dst.service.name") X(D_SVCNS, "dst.service.namespace") X(D_DNS, "dst.dns") X(D_IP, "dst.ip") \
    X(RQH, "request_headers_size") X(RQB, "request_body_size") X(RSH, "response_headers_size") X(RSB, "response_body_size") \
    X(DNS_RQ, "dns_request_length") X(DNS_RS, "dns_response_length") \
    X(REDIS_RQ, "redis_request_size") X(REDIS_RS, "redis_response_size") \
    X(KAFKA_RQ, "kafka_request_size") X(KAFKA_RS, "kafka_response_size") \
    X(AMQP_RQ, "amqp_request_length") X(AMQP_RS, "amqp_response_length") \
    X(PG_RQ, "postgresql_request_size") X(PG_RS, "postgresql_response_size") \
    X(MY_RQ, "mysql_request_size") X(MY_RS, "mysql_response_size") \
    X(MG_RQ, "mongodb_request_size") X(MG_RS, "mongodb_response_size") \
    X(WS_RQ, "ws_request_payload_length") X(WS_RS, "ws_response_payload_length") \
    X(ICMP_RQ, "icmp_request_length") X(ICMP_RS, "icmp_response_length")
#define X_ENUM(e, s) F_##e,
#define X_NAME(e, s) s,
enum { KST_FIELDS(X_ENUM) F_COUNT };
static const char *const kst_field_names[] = { KST_FIELDS(X_NAME) };

/* the derived keys a --by item may name */
enum { BY_EXPR, BY_SRC, BY_DST, BY_ENDPOINT };

typedef struct { char *p; size_t n, cap; } sbuf;

static int sb_put(sbuf *b, const char *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return -1;
        b->p = np; b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}
static int sb_str(sbuf *b, const char *s) { return sb_put(b, s, strlen(s)); }
static int sb_ch(sbuf *b, char c) { return sb_put(b, &c, 1); }

/* a JSON string literal */
static int sb_jstr(sbuf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (sb_ch(b, '"')) return -1;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
        if (sb_put(b, p + run, i - run)) return -1;
        run = i + 1;
        char e[7] = { '\\', 0 };
        switch (c) {
        case '"': e[1] = '"'; break; case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break; case '\r': e[1] = 'r'; break; case '\t': e[1] = 't'; break;
        default: e[1] = 'u'; e[2] = '0'; e[3] = '0'; e[4] = hex[c >> 4]; e[5] = hex[c & 15]; break;
        }
        if (sb_str(b, e)) return -1;
    }
    if (sb_put(b, p + run, n - run)) return -1;
    return sb_ch(b, '"');
}

/* a KFL value as JSON text (errors, as a missing map key, are null) */
static int sb_val(sbuf *b, const kfl_val *v, int depth)
{
    char t[64];
    if (depth > 32) return sb_str(b, "null");
    switch (v->k) {
    case KT_NULL: case KT_ERR: return sb_str(b, "null");
    case KT_BOOL: return sb_str(b, v->b ? "true" : "false");
    case KT_INT: snprintf(t, sizeof t, "%lld", (long long)v->i); return sb_str(b, t);
    case KT_UINT: snprintf(t, sizeof t, "%llu", (unsigned long long)v->u); return sb_str(b, t);
    case KT_DOUBLE:
        if (!isfinite(v->d)) return sb_str(b, "null");
        snprintf(t, sizeof t, "%.17g", v->d); return sb_str(b, t);
    case KT_STRING: case KT_BYTES: return sb_jstr(b, v->s.p, v->s.n);
    case KT_TS: kf_time_rfc3339(v->i, t, sizeof t); return sb_jstr(b, t, strlen(t));
    case KT_DUR: kfl_dur_format(v->i, t, sizeof t); return sb_jstr(b, t, strlen(t));
    case KT_LIST:
        if (sb_ch(b, '[')) return -1;
        for (size_t i = 0; i < v->l->n; i++)
            if ((i && sb_ch(b, ',')) || sb_val(b, &v->l->v[i], depth + 1)) return -1;
        return sb_ch(b, ']');
    case KT_MAP:
        if (sb_ch(b, '{')) return -1;
        for (size_t i = 0; i < v->m->n; i++) {
            if (i && sb_ch(b, ',')) return -1;
            if (v->m->key[i].k == KT_STRING) { if (sb_val(b, &v->m->key[i], depth + 1)) return -1; }
            else {
                sbuf k = { 0 };
                int r = sb_val(&k, &v->m->key[i], depth + 1) || sb_jstr(b, k.p ? k.p : "", k.n);
                free(k.p);
                if (r) return -1;
            }
            if (sb_ch(b, ':') || sb_val(b, &v->m->val[i], depth + 1)) return -1;
        }
        return sb_ch(b, '}');
    default: return sb_str(b, "null");
    }
}

/* ---- the aggregator ---- */

struct kst_agg {
    kst_opts o;
    int nby;
    char **by_text; int *by_kind;
    kfl_prog *prog;
    kfl_ctx ctx;
    kfl_node **items;                   /* the list's elements: nby expressions, then F_COUNT fields */
    /* groups */
    kst_group **groups; size_t ngroups, capgroups;
    kst_group **gtab; size_t gmask;
    /* edges and nodes */
    kst_edge **edges; size_t nedges, capedges;
    kst_edge **etab; size_t emask;
    kst_node **nodes; size_t nnodes, capnodes;
    kst_node **ntab; size_t nmask;
    kst_stats total;
    uint64_t lines, counted, skipped;
    sbuf key, srcbuf, ekey, sside[2], ep;
    /* per record */
    const char *ns[2];                  /* the side's namespace, kind */
    const char *kind[2];
    int finished;
    /* map output scratch */
    kst_node **mnodes; kst_edge **medges;
};

/* ---- reading fields of the current record ---- */
static kfl_val fv(kst_agg *a, int f) { return kfl_eval(&a->ctx, a->items[a->nby + f]); }
static int ffound(kst_agg *a, int f) { return a->ctx.slots[a->items[a->nby + f]->idx].found; }
static int64_t fint(kst_agg *a, int f, int64_t dflt)
{
    if (!ffound(a, f)) return dflt;
    kfl_val v = fv(a, f);
    if (v.k == KT_INT) return v.i;
    if (v.k == KT_UINT) return v.u > INT64_MAX ? INT64_MAX : (int64_t)v.u;
    if (v.k == KT_DOUBLE && isfinite(v.d)) return (int64_t)v.d;
    return dflt;
}
static int fbool(kst_agg *a, int f)
{
    if (!ffound(a, f)) return 0;
    kfl_val v = fv(a, f);
    return v.k == KT_BOOL && v.b;
}
/* a string field: 1 and (p, n) when present and non-empty */
static int fstr(kst_agg *a, int f, const char **p, size_t *n)
{
    *p = ""; *n = 0;
    if (!ffound(a, f)) return 0;
    kfl_val v = fv(a, f);
    if (v.k != KT_STRING) return 0;
    *p = v.s.p; *n = v.s.n;
    return v.s.n > 0;
}
static int fstr_is(kst_agg *a, int f, const char *s)
{
    const char *p; size_t n;
    return fstr(a, f, &p, &n) && n == strlen(s) && !memcmp(p, s, n);
}
/* the first string of a list field */
static int flist0(kst_agg *a, int f, const char **p, size_t *n)
{
    *p = ""; *n = 0;
    if (!ffound(a, f)) return 0;
    kfl_val v = fv(a, f);
    if (v.k != KT_LIST || v.l->n == 0 || v.l->v[0].k != KT_STRING) return 0;
    *p = v.l->v[0].s.p; *n = v.l->v[0].s.n;
    return 1;
}

/* ---- per-protocol rules: errors, bytes, endpoint (the one table docs/kstat.md shows) ---- */
typedef struct {
    int err, client, unanswered, nx, has_lat;
    int64_t lat, rq, rs;
} kst_rec;

static void cl_http(kst_agg *a, kst_rec *r)
{
    int64_t st = fint(a, F_STATUS, 0);
    r->err = st >= 500;
    r->client = st >= 400 && st < 500;
    r->rq = fint(a, F_RQH, 0) + fint(a, F_RQB, 0);
    r->rs = fint(a, F_RSH, 0) + fint(a, F_RSB, 0);
}
static void cl_grpc(kst_agg *a, kst_rec *r)
{
    cl_http(a, r);
    if (fint(a, F_GRPC, 0) != 0) r->err = 1;
}
static void cl_dns(kst_agg *a, kst_rec *r)
{
    int64_t rc = r->unanswered ? 0 : fint(a, F_STATUS, 0);
    r->nx = rc == 3;
    r->err = rc != 0 && rc != 3;
    r->rq = fint(a, F_DNS_RQ, 0); r->rs = fint(a, F_DNS_RS, 0);
}
static void cl_redis(kst_agg *a, kst_rec *r)
{
    r->err = fbool(a, F_REDIS_ERR);
    r->rq = fint(a, F_REDIS_RQ, 0); r->rs = fint(a, F_REDIS_RS, 0);
}
static void cl_kafka(kst_agg *a, kst_rec *r)
{
    r->err = fint(a, F_KAFKA_ERR, 0) != 0;
    r->rq = fint(a, F_KAFKA_RQ, 0); r->rs = fint(a, F_KAFKA_RS, 0);
}
static void cl_amqp(kst_agg *a, kst_rec *r)
{
    r->err = fint(a, F_AMQP_CODE, 0) >= 300;
    r->rq = fint(a, F_AMQP_RQ, 0); r->rs = fint(a, F_AMQP_RS, 0);
}
static void cl_pg(kst_agg *a, kst_rec *r)
{
    const char *p; size_t n;
    r->err = fstr(a, F_PG_ERR, &p, &n);
    r->rq = fint(a, F_PG_RQ, 0); r->rs = fint(a, F_PG_RS, 0);
}
static void cl_mysql(kst_agg *a, kst_rec *r)
{
    r->err = fint(a, F_MY_ERR, 0) != 0;
    r->rq = fint(a, F_MY_RQ, 0); r->rs = fint(a, F_MY_RS, 0);
}
static void cl_mongo(kst_agg *a, kst_rec *r)
{
    r->err = ffound(a, F_MG_OK) && !fbool(a, F_MG_OK) && !fbool(a, F_MG_NORESP) && !r->unanswered;
    r->rq = fint(a, F_MG_RQ, 0); r->rs = fint(a, F_MG_RS, 0);
}
static void cl_conn(kst_agg *a, kst_rec *r)
{
    r->err = fstr_is(a, F_TCPERR, "refused") || fstr_is(a, F_TCPERR, "reset") || fstr_is(a, F_TCPERR, "timeout");
}
static void cl_icmp(kst_agg *a, kst_rec *r)
{
    int64_t t = fint(a, F_ICMP_TYPE, -1);
    r->err = fbool(a, F_ICMP_V6) ? (t == 1 || t == 3) : (t == 3 || t == 11);
    r->rq = fint(a, F_ICMP_RQ, 0); r->rs = fint(a, F_ICMP_RS, 0);
}
static void cl_ws(kst_agg *a, kst_rec *r) { r->rq = fint(a, F_WS_RQ, 0); r->rs = fint(a, F_WS_RS, 0); }
static void cl_none(kst_agg *a, kst_rec *r) { (void)a; (void)r; }

/* endpoint builders append to a->ep */
static size_t ep_word(const char *p, size_t n) { size_t i = 0; while (i < n && p[i] != ' ') i++; return i; }
static void ep_http(kst_agg *a)
{
    const char *m, *p; size_t mn, pn;
    if (fstr(a, F_METHOD, &m, &mn)) { sb_put(&a->ep, m, mn); sb_ch(&a->ep, ' '); }
    fstr(a, F_PATH, &p, &pn);
    if (a->o.raw_paths) { sb_put(&a->ep, p, pn); return; }
    char *t = malloc(pn * 4 + 1);                 /* "0" -> "{id}": at most four times longer */
    if (!t) return;
    size_t tn = kst_template_path(p, pn, t, pn * 4 + 1);
    sb_put(&a->ep, t, tn);
    free(t);
}
static void ep_grpc(kst_agg *a) { const char *p; size_t n; fstr(a, F_PATH, &p, &n); sb_put(&a->ep, p, n); }
static void ep_dns(kst_agg *a)
{
    const char *t, *q; size_t tn, qn;
    if (flist0(a, F_DNSQT, &t, &tn)) { sb_put(&a->ep, t, tn); sb_ch(&a->ep, ' '); }
    flist0(a, F_DNSQ, &q, &qn);
    sb_put(&a->ep, q, qn);
}
static void ep_redis(kst_agg *a)
{
    const char *c; size_t n;
    fstr(a, F_REDIS_CMD, &c, &n);
    n = ep_word(c, n);
    for (size_t i = 0; i < n; i++) sb_ch(&a->ep, c[i] >= 'a' && c[i] <= 'z' ? (char)(c[i] - 32) : c[i]);
}
static void ep_two(kst_agg *a, int f1, int f2)
{
    const char *p; size_t n;
    int one = fstr(a, f1, &p, &n);
    sb_put(&a->ep, p, n);
    if (f2 >= 0 && fstr(a, f2, &p, &n)) { if (one) sb_ch(&a->ep, ' '); sb_put(&a->ep, p, n); }
}
static void ep_kafka(kst_agg *a) { ep_two(a, F_KAFKA_API, F_KAFKA_SUM); }
static void ep_amqp(kst_agg *a) { ep_two(a, F_AMQP_METHOD, -1); }
static void ep_pg(kst_agg *a) { ep_two(a, F_PG_CMD, -1); }
static void ep_mysql(kst_agg *a) { ep_two(a, F_MY_CMD, -1); }
static void ep_mongo(kst_agg *a) { ep_two(a, F_MG_CMD, F_MG_COLL); }
static void ep_tls(kst_agg *a) { ep_two(a, F_SNI, -1); }
static void ep_ws(kst_agg *a) { ep_two(a, F_WS_OP, -1); }
static void ep_icmp(kst_agg *a) { ep_two(a, F_ICMP_NAME, -1); }
static void ep_port(kst_agg *a)
{
    char t[32];
    snprintf(t, sizeof t, ":%lld", (long long)fint(a, F_DPORT, 0));
    sb_str(&a->ep, t);
}

typedef struct {
    kst_errclass c;
    void (*classify)(kst_agg *, kst_rec *);
    void (*endpoint)(kst_agg *);
} kst_proto;

static const kst_proto kst_protos[] = {
    { { "HTTP", "status_code >= 500", "status_code 400-499", "method and path ({id} for ids)" }, cl_http, ep_http },
    { { "HTTP2", "status_code >= 500", "status_code 400-499", "method and path ({id} for ids)" }, cl_http, ep_http },
    { { "GRPC", "grpc_status != 0, or status_code >= 500 (a failed call is often HTTP 200)", "status_code 400-499", "path (/package.Service/Method)" }, cl_grpc, ep_grpc },
    { { "DNS", "rcode != 0 except NXDOMAIN (SERVFAIL, REFUSED, FORMERR...); NXDOMAIN is counted apart (nxdomain)", "", "first question type and name" }, cl_dns, ep_dns },
    { { "REDIS", "an error reply (redis_error)", "", "command name" }, cl_redis, ep_redis },
    { { "KAFKA", "kafka_error_code != 0", "", "API name and topics/group" }, cl_kafka, ep_kafka },
    { { "AMQP", "amqp_reply_code >= 300 (a close or return with an error code)", "", "class.method" }, cl_amqp, ep_amqp },
    { { "POSTGRESQL", "an ErrorResponse (postgresql_error_code)", "", "command tag" }, cl_pg, ep_pg },
    { { "MYSQL", "an ERR packet (mysql_error_code != 0)", "", "command" }, cl_mysql, ep_mysql },
    { { "MONGODB", "an answer without ok:1 or with errmsg/writeErrors (mongodb_success == false)", "", "command and collection" }, cl_mongo, ep_mongo },
    { { "TCP", "connection refused, reset or timed out (tcp_error_type)", "", ":port of the server" }, cl_conn, ep_port },
    { { "UDP", "none", "", ":port of the server" }, cl_none, ep_port },
    { { "ICMP", "destination unreachable, time exceeded (ICMPv6: types 1 and 3)", "", "ICMP type" }, cl_icmp, ep_icmp },
    { { "TLS", "none (handshake records)", "", "server name (SNI)" }, cl_none, ep_tls },
    { { "WS", "none", "", "frame opcode" }, cl_ws, ep_ws },
};
#define KST_NPROTOS (sizeof kst_protos / sizeof kst_protos[0])

size_t kst_nerrclasses(void) { return KST_NPROTOS; }
const kst_errclass *kst_errclass_at(size_t i) { return i < KST_NPROTOS ? &kst_protos[i].c : NULL; }

/* ---- templating ---- */
static int tp_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int tp_is_id(const char *s, size_t n)
{
    if (n == 0) return 0;
    size_t digits = 0, hex = 0;
    for (size_t i = 0; i < n; i++) { digits += s[i] >= '0' && s[i] <= '9'; hex += tp_hex(s[i]); }
    if (digits == n) return 1;                                     /* numeric */
    if (n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && hex == 32) return 1;   /* UUID */
    if (n >= 12 && hex == n && digits > 0) return 1;               /* long hex: object ids, hashes */
    return 0;
}

size_t kst_template_path(const char *p, size_t n, char *out, size_t outlen)
{
    size_t o = 0, i = 0;
    if (outlen == 0) return 0;
    while (i < n) {
        if (p[i] == '/') { if (o + 1 < outlen) out[o++] = '/'; i++; continue; }
        size_t j = i;
        while (j < n && p[j] != '/') j++;
        const char *seg = p + i; size_t sl = j - i;
        if (tp_is_id(seg, sl)) { seg = "{id}"; sl = 4; }
        for (size_t k = 0; k < sl && o + 1 < outlen; k++) out[o++] = seg[k];
        i = j;
    }
    out[o] = 0;
    return o;
}

/* ---- workloads (map nodes and the src/dst keys) ---- */
/* writes the side's id into b; sets a->ns[side] and a->kind[side] (pointers into the record or
 * static) */
static void side_id(kst_agg *a, int side, sbuf *b)
{
    int o = side ? F_D_OWNER - F_S_OWNER : 0;
    const char *owner, *podns, *svc, *svcns, *pod, *dns, *ip;
    size_t ownl, podnsl, svcl, svcnsl, podl, dnsl, ipl;
    fstr(a, F_S_OWNER + o, &owner, &ownl);
    fstr(a, F_S_PODNS + o, &podns, &podnsl);
    b->n = 0; sb_put(b, "", 0);
    if (ownl) {
        sb_put(b, podns, podnsl); sb_ch(b, '/'); sb_put(b, owner, ownl);
        a->kind[side] = "workload";
    } else if (fstr(a, F_S_SVC + o, &svc, &svcl)) {
        if (!fstr(a, F_S_SVCNS + o, &svcns, &svcnsl)) { svcns = podns; svcnsl = podnsl; }
        sb_put(b, svcns, svcnsl); sb_ch(b, '/'); sb_put(b, svc, svcl);
        a->kind[side] = "service";
        podns = svcns; podnsl = svcnsl;
    } else if (fstr(a, F_S_POD + o, &pod, &podl)) {
        sb_put(b, podns, podnsl); sb_ch(b, '/'); sb_put(b, pod, podl);
        a->kind[side] = "workload";
    } else if (fstr(a, F_S_DNS + o, &dns, &dnsl)) {
        sb_put(b, dns, dnsl); a->kind[side] = "dns"; podnsl = 0;
    } else {
        fstr(a, F_S_IP + o, &ip, &ipl);
        sb_put(b, ipl ? ip : "?", ipl ? ipl : 1); a->kind[side] = "ip"; podnsl = 0;
    }
    /* the namespace goes after the id's NUL, so one buffer holds both */
    sb_ch(b, 0);
    sb_put(b, podnsl ? podns : "", podnsl);
    a->ns[side] = b->p + strlen(b->p) + 1;
}

/* ---- hashing ---- */
static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;          /* FNV-1a, then a finalizer for the table index */
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 0x100000001b3ULL; }
    h ^= h >> 33; h *= 0xff51afd7ed558ccdULL; h ^= h >> 33;
    return h;
}

static void stats_add(kst_stats *s, const kst_rec *r, int64_t ts)
{
    if (s->calls == 0 || ts < s->first_ns) s->first_ns = ts;
    if (s->calls == 0 || ts > s->last_ns) s->last_ns = ts;
    s->calls++;
    s->errors += r->err;
    s->client_errors += r->client;
    s->unanswered += r->unanswered;
    s->nxdomain += r->nx;
    s->request_bytes += (uint64_t)(r->rq > 0 ? r->rq : 0);
    s->response_bytes += (uint64_t)(r->rs > 0 ? r->rs : 0);
    if (r->has_lat) kst_lat_add(&s->lat, r->lat);
}

int kst_stats_merge(kst_stats *into, const kst_stats *from)
{
    if (from->calls == 0) return 0;
    if (into->calls == 0 || from->first_ns < into->first_ns) into->first_ns = from->first_ns;
    if (into->calls == 0 || from->last_ns > into->last_ns) into->last_ns = from->last_ns;
    into->calls += from->calls;
    into->errors += from->errors;
    into->client_errors += from->client_errors;
    into->unanswered += from->unanswered;
    into->nxdomain += from->nxdomain;
    into->request_bytes += from->request_bytes;
    into->response_bytes += from->response_bytes;
    return kst_lat_merge(&into->lat, &from->lat);
}

double kst_stats_rate(const kst_stats *s, int64_t window_ns)
{
    if (s->calls == 0) return 0;
    if (window_ns <= 0) window_ns = s->last_ns - s->first_ns;
    if (window_ns < 1000000000LL) window_ns = 1000000000LL;
    return (double)s->calls / ((double)window_ns / 1e9);
}

double kst_stats_error_ratio(const kst_stats *s) { return s->calls ? (double)s->errors / (double)s->calls : 0; }

/* ---- construction ---- */
static const char *const kst_default_by[] = { "protocol", "src", "dst", "endpoint" };

kst_agg *kst_agg_new(const kst_opts *o, char *err, size_t errlen)
{
    kst_agg *a = calloc(1, sizeof *a);
    if (!a) { snprintf(err, errlen, "out of memory"); return NULL; }
    a->o = *o;
    const char *const *by = o->nby > 0 ? o->by : kst_default_by;
    a->nby = o->nby > 0 ? o->nby : 4;
    a->by_text = calloc((size_t)a->nby, sizeof *a->by_text);
    a->by_kind = calloc((size_t)a->nby, sizeof *a->by_kind);
    if (!a->by_text || !a->by_kind) { snprintf(err, errlen, "out of memory"); goto fail; }
    int64_t now = o->now_ns ? o->now_ns : kf_now_ns();
    sbuf src = { 0 };
    sb_ch(&src, '[');
    for (int i = 0; i < a->nby; i++) {
        const char *e = by[i];
        a->by_text[i] = strdup(e);
        if (!a->by_text[i]) { snprintf(err, errlen, "out of memory"); free(src.p); goto fail; }
        size_t k = 0;
        while (e[k] == ' ' || e[k] == '\t') k++;
        if (!strcmp(e + k, "src")) a->by_kind[i] = BY_SRC;
        else if (!strcmp(e + k, "dst")) a->by_kind[i] = BY_DST;
        else if (!strcmp(e + k, "endpoint")) a->by_kind[i] = BY_ENDPOINT;
        else {
            /* checked on its own, so the message and position are about what the user wrote */
            char m[256]; size_t pos = 0;
            if (!e[k]) { snprintf(err, errlen, "--by: an empty expression"); free(src.p); goto fail; }
            kfl_prog *p = kfl_compile_flags(e, strlen(e), KFL_VALUE, now, m, sizeof m, &pos);
            if (!p) { snprintf(err, errlen, "--by '%s': %s (at column %zu)", e, m, pos + 1); free(src.p); goto fail; }
            kfl_prog_free(p);
        }
        sb_ch(&src, '(');
        sb_str(&src, a->by_kind[i] == BY_EXPR ? e : "null");
        sb_str(&src, "),");
    }
    for (int f = 0; f < F_COUNT; f++) { sb_str(&src, kst_field_names[f]); sb_ch(&src, f + 1 < F_COUNT ? ',' : ']'); }
    if (!src.p) { snprintf(err, errlen, "out of memory"); goto fail; }
    char m[256]; size_t pos = 0;
    a->prog = kfl_compile_flags(src.p, src.n, KFL_VALUE | KFL_ALLOW_UNKNOWN, now, m, sizeof m, &pos);
    if (!a->prog) { snprintf(err, errlen, "--by: %s", m); free(src.p); goto fail; }
    /* the program keeps pointers into its source (names): keep it */
    a->srcbuf = src;
    if (!a->prog->root || a->prog->root->op != N_LIST || a->prog->root->nargs != a->nby + F_COUNT) {
        snprintf(err, errlen, "--by: an expression with a top-level comma (put it in parentheses)");
        goto fail;
    }
    a->items = a->prog->root->args;
    for (int f = 0; f < F_COUNT; f++)
        if (a->items[a->nby + f]->op != N_VAR) { snprintf(err, errlen, "internal: field %s", kst_field_names[f]); goto fail; }
    kfl_ctx_init(&a->ctx, a->prog);
    if (!a->ctx.slots || !a->ctx.locals) { snprintf(err, errlen, "out of memory"); goto fail; }
    return a;
fail:
    kst_agg_free(a);
    return NULL;
}

/* ---- tables ---- */
static int tab_grow(void ***tab, size_t *mask, void **items, size_t nitems, uint64_t (*hashof)(void *))
{
    size_t cap = *mask ? (*mask + 1) * 2 : 1024;
    void **nt = calloc(cap, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < nitems; i++) {
        size_t j = hashof(items[i]) & (cap - 1);
        while (nt[j]) j = (j + 1) & (cap - 1);
        nt[j] = items[i];
    }
    free(*tab);
    *tab = nt; *mask = cap - 1;
    return 0;
}
/* room for one more item: the index at most half full */
static int tab_room(void ***tab, size_t *mask, void **items, size_t nitems, uint64_t (*hashof)(void *))
{
    return (!*tab || (nitems + 1) * 2 > *mask + 1) ? tab_grow(tab, mask, items, nitems, hashof) : 0;
}
/* the item array with room for one more (doubled when full); NULL when out of memory */
static void *grow_items(void *items, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return items;
    size_t c = *cap ? *cap * 2 : 64;
    void *ni = realloc(items, c * elem);
    if (ni) *cap = c;
    return ni;
}
static void tab_put(void **tab, size_t mask, uint64_t h, void *item)
{
    size_t j = h & mask;
    while (tab[j]) j = (j + 1) & mask;
    tab[j] = item;
}
static uint64_t g_hash(void *p) { return ((kst_group *)p)->hash; }
static uint64_t e_hash(void *p) { return ((kst_edge *)p)->hash; }
static uint64_t n_hash(void *p) { return hash_bytes(((kst_node *)p)->id, strlen(((kst_node *)p)->id)); }

/* the key buffer holds nby JSON values separated by '\x1f' (never raw inside JSON text) */
static int key_eq(char *const *key, int nkeys, const char *kb, size_t kn)
{
    size_t off = 0;
    for (int i = 0; i < nkeys; i++) {
        size_t l = strlen(key[i]);
        if (off + l > kn || memcmp(kb + off, key[i], l)) return 0;
        off += l;
        if (i + 1 < nkeys) { if (off >= kn || kb[off] != '\x1f') return 0; off++; }
    }
    return off == kn;
}

static char *key_human(const char *j)
{
    /* JSON text -> text for people: a string without quotes and escapes, null as "" */
    if (!strcmp(j, "null")) return strdup("");
    if (j[0] != '"') return strdup(j);
    kfl_arena ar = { 0 };
    kfl_val v;
    char *r = NULL;
    if (kfl_json_decode(&ar, j, strlen(j), &v) == 0 && v.k == KT_STRING) {
        r = malloc(v.s.n + 1);
        if (r) { memcpy(r, v.s.p, v.s.n); r[v.s.n] = 0; }
    }
    kfl_arena_free(&ar);
    return r ? r : strdup(j);
}

static kst_group *group_get(kst_agg *a, const char *kb, size_t kn)
{
    uint64_t h = hash_bytes(kb, kn);
    if (a->gtab) {
        for (size_t j = h & a->gmask; a->gtab[j]; j = (j + 1) & a->gmask) {
            kst_group *g = a->gtab[j];
            if (g->hash == h && key_eq(g->key, a->nby, kb, kn)) return g;
        }
    }
    if (tab_room((void ***)&a->gtab, &a->gmask, (void **)a->groups, a->ngroups, g_hash)) return NULL;
    kst_group **ng = grow_items(a->groups, &a->capgroups, a->ngroups, sizeof *ng);
    if (!ng) return NULL;
    a->groups = ng;
    kst_group *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->hash = h;
    g->key = calloc((size_t)a->nby, sizeof *g->key);
    g->key_text = calloc((size_t)a->nby, sizeof *g->key_text);
    if (!g->key || !g->key_text) { free(g->key); free(g->key_text); free(g); return NULL; }
    size_t off = 0;
    for (int i = 0; i < a->nby; i++) {
        const char *e = memchr(kb + off, '\x1f', kn - off);
        size_t l = e ? (size_t)(e - (kb + off)) : kn - off;
        g->key[i] = strndup(kb + off, l);
        g->key_text[i] = g->key[i] ? key_human(g->key[i]) : NULL;
        if (!g->key[i] || !g->key_text[i]) return NULL;      /* out of memory: give up (leaks this group) */
        off += l + 1;
    }
    a->groups[a->ngroups++] = g;
    tab_put((void **)a->gtab, a->gmask, h, g);
    return g;
}

static kst_stats *bucket_get(kst_group *g, int64_t start)
{
    size_t lo = 0, hi = g->nbuckets;
    if (hi && g->buckets[hi - 1].start_ns == start) return &g->buckets[hi - 1].st;
    if (hi && g->buckets[hi - 1].start_ns < start) lo = hi;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->buckets[mid].start_ns < start) lo = mid + 1; else hi = mid;
    }
    if (lo < g->nbuckets && g->buckets[lo].start_ns == start) return &g->buckets[lo].st;
    if (g->nbuckets == g->capbuckets) {
        size_t cap = g->capbuckets ? g->capbuckets * 2 : 8;
        kst_bucket *nb = realloc(g->buckets, cap * sizeof *nb);
        if (!nb) return NULL;
        g->buckets = nb; g->capbuckets = cap;
    }
    memmove(g->buckets + lo + 1, g->buckets + lo, (g->nbuckets - lo) * sizeof *g->buckets);
    memset(&g->buckets[lo], 0, sizeof g->buckets[lo]);
    g->buckets[lo].start_ns = start;
    g->nbuckets++;
    return &g->buckets[lo].st;
}

static kst_node *node_get(kst_agg *a, const char *id, const char *ns, const char *kind)
{
    uint64_t h = hash_bytes(id, strlen(id));
    if (a->ntab)
        for (size_t j = h & a->nmask; a->ntab[j]; j = (j + 1) & a->nmask)
            if (!strcmp(a->ntab[j]->id, id)) return a->ntab[j];
    if (tab_room((void ***)&a->ntab, &a->nmask, (void **)a->nodes, a->nnodes, n_hash)) return NULL;
    kst_node **nn = grow_items(a->nodes, &a->capnodes, a->nnodes, sizeof *nn);
    if (!nn) return NULL;
    a->nodes = nn;
    kst_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->id = strdup(id); n->label = strdup(id); n->ns = strdup(ns); n->kind = kind;
    if (!n->id || !n->label || !n->ns) return NULL;
    a->nodes[a->nnodes++] = n;
    tab_put((void **)a->ntab, a->nmask, h, n);
    return n;
}

static kst_edge *edge_get(kst_agg *a, const char *proto, size_t pn)
{
    sbuf *k = &a->ekey;
    const char *sid = a->sside[0].p, *did = a->sside[1].p;
    k->n = 0;
    sb_str(k, sid); sb_ch(k, '\x1f'); sb_str(k, did); sb_ch(k, '\x1f'); sb_put(k, proto, pn);
    if (!k->p) return NULL;
    uint64_t h = hash_bytes(k->p, k->n);
    if (a->etab)
        for (size_t j = h & a->emask; a->etab[j]; j = (j + 1) & a->emask) {
            kst_edge *e = a->etab[j];
            if (e->hash == h && !strcmp(e->src, sid) && !strcmp(e->dst, did) &&
                strlen(e->protocol) == pn && !memcmp(e->protocol, proto, pn)) return e;
        }
    kst_node *sn = node_get(a, sid, a->ns[0], a->kind[0]);
    kst_node *dn = node_get(a, did, a->ns[1], a->kind[1]);
    if (!sn || !dn) return NULL;
    if (tab_room((void ***)&a->etab, &a->emask, (void **)a->edges, a->nedges, e_hash)) return NULL;
    kst_edge **ne = grow_items(a->edges, &a->capedges, a->nedges, sizeof *ne);
    if (!ne) return NULL;
    a->edges = ne;
    kst_edge *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->src = sn->id; e->dst = dn->id; e->hash = h;
    e->protocol = strndup(proto, pn);
    if (!e->protocol) { free(e); return NULL; }
    a->edges[a->nedges++] = e;
    tab_put((void **)a->etab, a->emask, h, e);
    return e;
}

/* ---- one record ---- */
int kst_agg_add(kst_agg *a, const char *line, size_t n, const char **why)
{
    size_t off;
    a->lines++;
    kfl_arena_reset(&a->ctx.ar);
    if (kfl_scan_line(a->prog, line, n, a->ctx.slots, &off)) { *why = "not a JSON object"; return KST_BAD; }
    const char *proto; size_t pn;
    if (!fstr(a, F_PROTOCOL, &proto, &pn)) { *why = "no 'protocol' field (not a kdissect record)"; return KST_BAD; }
    kfl_val tsv = fv(a, F_TS);
    if (!ffound(a, F_TS) || tsv.k != KT_TS) { *why = "no valid 'timestamp' field (not a kdissect record)"; return KST_BAD; }
    int64_t ts = tsv.i;
    if (fbool(a, F_FLOW)) { a->skipped++; return KST_SKIPPED; }
    kst_rec r = { 0 };
    r.unanswered = fbool(a, F_UNANSWERED);
    const kst_proto *pr = NULL;
    for (size_t i = 0; i < KST_NPROTOS; i++)
        if (strlen(kst_protos[i].c.protocol) == pn && !memcmp(kst_protos[i].c.protocol, proto, pn)) { pr = &kst_protos[i]; break; }
    if (fbool(a, F_CONN)) {
        /* a connection: counted when nothing else counts its calls, or it failed */
        int l7 = 0;
        if (ffound(a, F_L7DET)) { kfl_val v = fv(a, F_L7DET); l7 = v.k == KT_LIST && v.l->n > 0; }
        cl_conn(a, &r);
        if (l7 && !r.err) { a->skipped++; return KST_SKIPPED; }
    } else if (pr) pr->classify(a, &r);
    if (!r.unanswered && ffound(a, F_ELAPSED)) { r.has_lat = 1; r.lat = fint(a, F_ELAPSED, 0); }
    a->counted++;
    stats_add(&a->total, &r, ts);
    int need_sides = a->o.want_map;
    for (int i = 0; i < a->nby; i++) need_sides |= a->by_kind[i] == BY_SRC || a->by_kind[i] == BY_DST;
    if (need_sides) { side_id(a, 0, &a->sside[0]); side_id(a, 1, &a->sside[1]); }
    if (a->o.want_groups) {
        sbuf *k = &a->key;
        k->n = 0;
        for (int i = 0; i < a->nby; i++) {
            if (i) sb_ch(k, '\x1f');
            switch (a->by_kind[i]) {
            case BY_SRC: case BY_DST: {
                const char *id = a->sside[a->by_kind[i] == BY_DST].p;
                sb_jstr(k, id, strlen(id));
                break;
            }
            case BY_ENDPOINT:
                a->ep.n = 0; sb_put(&a->ep, "", 0);
                if (pr && !fbool(a, F_CONN)) pr->endpoint(a);
                else ep_port(a);
                sb_jstr(k, a->ep.p ? a->ep.p : "", a->ep.n);
                break;
            default: {
                kfl_val v = kfl_eval(&a->ctx, a->items[i]);
                sb_val(k, &v, 0);
            }
            }
        }
        if (!k->p) return KST_NOMEM;
        kst_group *g = group_get(a, k->p, k->n);
        if (!g) return KST_NOMEM;
        stats_add(&g->st, &r, ts);
        if (a->o.every_ns > 0) {
            int64_t b = ts / a->o.every_ns * a->o.every_ns;
            if (ts < 0 && b != ts) b -= a->o.every_ns;
            kst_stats *bs = bucket_get(g, b);
            if (!bs) return KST_NOMEM;
            stats_add(bs, &r, ts);
        }
    }
    if (a->o.want_map) {
        kst_edge *e = edge_get(a, proto, pn);
        if (!e) return KST_NOMEM;
        stats_add(&e->st, &r, ts);
    }
    return KST_COUNTED;
}

/* ---- after the last record ---- */
static int group_cmp(const void *x, const void *y)
{
    const kst_group *a = *(kst_group *const *)x, *b = *(kst_group *const *)y;
    if (a->st.calls != b->st.calls) return a->st.calls > b->st.calls ? -1 : 1;
    for (size_t i = 0; a->key[i] && b->key[i]; i++) {     /* keys are NULL-terminated below */
        int r = strcmp(a->key[i], b->key[i]);
        if (r) return r;
    }
    return 0;
}
static int edge_cmp(const void *x, const void *y)
{
    const kst_edge *a = *(kst_edge *const *)x, *b = *(kst_edge *const *)y;
    if (a->st.calls != b->st.calls) return a->st.calls > b->st.calls ? -1 : 1;
    int r = strcmp(a->src, b->src);
    if (!r) r = strcmp(a->dst, b->dst);
    if (!r) r = strcmp(a->protocol, b->protocol);
    return r;
}

int kst_agg_finish(kst_agg *a)
{
    if (a->finished) return 0;
    a->finished = 1;
    /* group keys compare up to nby entries: give each key array a NULL end */
    for (size_t i = 0; i < a->ngroups; i++) {
        char **k = realloc(a->groups[i]->key, (size_t)(a->nby + 1) * sizeof *k);
        if (!k) return -1;
        k[a->nby] = NULL;
        a->groups[i]->key = k;
    }
    if (a->ngroups) qsort(a->groups, a->ngroups, sizeof *a->groups, group_cmp);
    if (a->nedges) qsort(a->edges, a->nedges, sizeof *a->edges, edge_cmp);
    /* the tables' slots now point at moved entries only through pointers: still valid */
    return 0;
}

int kst_agg_nkeys(const kst_agg *a) { return a->nby; }
const char *kst_agg_key_name(const kst_agg *a, int i) { return i >= 0 && i < a->nby ? a->by_text[i] : NULL; }
size_t kst_agg_ngroups(const kst_agg *a) { return a->ngroups; }
kst_group *kst_agg_group(const kst_agg *a, size_t i) { return i < a->ngroups ? a->groups[i] : NULL; }
int64_t kst_agg_every(const kst_agg *a) { return a->o.every_ns; }
kst_stats *kst_agg_total(kst_agg *a) { return &a->total; }
void kst_agg_counts(const kst_agg *a, uint64_t *lines, uint64_t *counted, uint64_t *skipped)
{
    if (lines) *lines = a->lines;
    if (counted) *counted = a->counted;
    if (skipped) *skipped = a->skipped;
}

int kst_group_series(const kst_agg *a, const kst_group *g, int64_t width_ns, kst_bucket **out, size_t *n)
{
    *out = NULL; *n = 0;
    int64_t base = a->o.every_ns;
    if (base <= 0 || g->nbuckets == 0) return base <= 0 ? -1 : 0;
    if (width_ns <= 0) width_ns = base;
    if (width_ns % base) return -1;
    int64_t first = g->buckets[0].start_ns / width_ns * width_ns;
    int64_t last = g->buckets[g->nbuckets - 1].start_ns / width_ns * width_ns;
    size_t cnt = (size_t)((last - first) / width_ns) + 1;
    if (cnt > 10000000) return -1;
    kst_bucket *b = calloc(cnt, sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i < cnt; i++) b[i].start_ns = first + (int64_t)i * width_ns;
    for (size_t i = 0; i < g->nbuckets; i++) {
        size_t k = (size_t)((g->buckets[i].start_ns / width_ns * width_ns - first) / width_ns);
        if (kst_stats_merge(&b[k].st, &g->buckets[i].st)) { kst_series_free(b, cnt); return -1; }
    }
    *out = b; *n = cnt;
    return 0;
}

void kst_series_free(kst_bucket *b, size_t n)
{
    for (size_t i = 0; i < n; i++) kst_lat_free(&b[i].st.lat);
    free(b);
}

size_t kst_map_edges(const kst_agg *a, size_t top_edges, kst_edge ***edges)
{
    *edges = a->edges;
    return top_edges > 0 && top_edges < a->nedges ? top_edges : a->nedges;
}

size_t kst_map_nodes(const kst_agg *a, size_t top_edges, kst_node ***nodes, size_t *more)
{
    kst_agg *m = (kst_agg *)a;
    size_t ne = kst_map_edges(a, top_edges, &(kst_edge **){ NULL });
    if (more) *more = a->nedges - ne;
    for (size_t i = 0; i < a->nnodes; i++) a->nodes[i]->calls_in = a->nodes[i]->calls_out = 0;
    free(m->mnodes);
    m->mnodes = calloc(a->nnodes ? a->nnodes : 1, sizeof *m->mnodes);
    if (!m->mnodes) { *nodes = NULL; return 0; }
    size_t nn = 0;
    /* nodes in the order the kept edges first name them (the busiest first) */
    for (size_t i = 0; i < ne; i++) {
        const kst_edge *e = a->edges[i];
        for (int side = 0; side < 2; side++) {
            const char *id = side ? e->dst : e->src;
            kst_node *n = NULL;
            uint64_t h = hash_bytes(id, strlen(id));
            for (size_t j = h & a->nmask; a->ntab[j]; j = (j + 1) & a->nmask)
                if (a->ntab[j]->id == id || !strcmp(a->ntab[j]->id, id)) { n = a->ntab[j]; break; }
            if (!n) continue;
            if (n->calls_in == 0 && n->calls_out == 0) {
                size_t k;
                for (k = 0; k < nn && m->mnodes[k] != n; k++) ;
                if (k == nn) m->mnodes[nn++] = n;
            }
            if (side) n->calls_in += e->st.calls; else n->calls_out += e->st.calls;
        }
    }
    *nodes = m->mnodes;
    return nn;
}

void kst_agg_free(kst_agg *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->ngroups; i++) {
        kst_group *g = a->groups[i];
        for (int k = 0; k < a->nby; k++) { free(g->key[k]); free((char *)g->key_text[k]); }
        free(g->key); free(g->key_text);
        kst_lat_free(&g->st.lat);
        for (size_t b = 0; b < g->nbuckets; b++) kst_lat_free(&g->buckets[b].st.lat);
        free(g->buckets);
        free(g);
    }
    free(a->groups); free(a->gtab);
    for (size_t i = 0; i < a->nedges; i++) { free(a->edges[i]->protocol); kst_lat_free(&a->edges[i]->st.lat); free(a->edges[i]); }
    free(a->edges); free(a->etab);
    for (size_t i = 0; i < a->nnodes; i++) { free(a->nodes[i]->id); free(a->nodes[i]->label); free(a->nodes[i]->ns); free(a->nodes[i]); }
    free(a->nodes); free(a->ntab); free(a->mnodes);
    kst_lat_free(&a->total.lat);
    if (a->prog) { kfl_ctx_free(&a->ctx); kfl_prog_free(a->prog); }
    for (int i = 0; i < a->nby && a->by_text; i++) free(a->by_text[i]);
    free(a->by_text); free(a->by_kind);
    free(a->key.p); free(a->srcbuf.p); free(a->ekey.p); free(a->sside[0].p); free(a->sside[1].p); free(a->ep.p);
    free(a);
}
