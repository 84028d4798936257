/* kexport --calls: reads kdissect's NDJSON records (docs/schema.md), usually filtered by kfl,
 * and keeps from each record what selects its packets: the `capture` object (file, node,
 * first/last frame and timestamps, the connection 5-tuple and its first/last timestamps) and,
 * for --annotate, a short description of the call and of both sides. Parsing uses jansson. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "kf_lines.h"
#include "kexport.h"
#include "kf_time.h"

void kx_calls_init(kx_calls *c) { memset(c, 0, sizeof *c); }

static void call_free(kx_call *k)
{
    free(k->node);
    free(k->file);
    free(k->label);
    free(k->client);
    free(k->server);
}

void kx_calls_free(kx_calls *c)
{
    for (size_t i = 0; i < c->n; i++) call_free(&c->v[i]);
    free(c->v);
    memset(c, 0, sizeof *c);
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jtime(json_t *o, const char *k, int64_t *ns)
{
    json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;
    if (!json_is_string(v)) return -1;
    return kf_time_parse_rfc3339(json_string_value(v), json_string_length(v), ns);
}

static int juint(json_t *o, const char *k, uint64_t *out)
{
    json_t *v = json_is_object(o) ? json_object_get(o, k) : NULL;
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static char *dupnz(const char *s) { return s && *s ? strdup(s) : NULL; }

/* "orders-594487879c-7ddxf.prod 10.0.53.101:43512" from a src/dst object */
static char *side_text(json_t *side)
{
    if (!json_is_object(side)) return NULL;
    const char *name = jstr(side, "name"), *ns = jstr(side, "namespace");
    json_t *pod = json_object_get(side, "pod");
    json_t *owner = json_is_object(pod) ? json_object_get(pod, "owner") : NULL;
    const char *okind = jstr(owner, "kind"), *oname = jstr(owner, "name");
    const char *ip = jstr(side, "ip");
    json_t *port = json_object_get(side, "port");
    char ep[96] = "";
    if (ip) {
        if (json_is_integer(port))
            snprintf(ep, sizeof ep, strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip,
                     (long long)json_integer_value(port));
        else
            snprintf(ep, sizeof ep, "%s", ip);
    }
    char buf[1024];
    if (name && *name) {
        int n = snprintf(buf, sizeof buf, "%s%s%s", name, ns && *ns ? "." : "", ns && *ns ? ns : "");
        if (okind && oname && n > 0 && (size_t)n < sizeof buf)
            n += snprintf(buf + n, sizeof buf - (size_t)n, " (%s %s)", okind, oname);
        else if (n > 0 && (size_t)n < sizeof buf && json_is_object(pod))
            n += snprintf(buf + n, sizeof buf - (size_t)n, " (pod)");
        if (*ep && n > 0 && (size_t)n < sizeof buf)
            snprintf(buf + n, sizeof buf - (size_t)n, " %s", ep);
    } else if (*ep) {
        snprintf(buf, sizeof buf, "%s", ep);
    } else {
        return NULL;
    }
    return strdup(buf);
}

/* gRPC's status codes (grpc/doc/statuscodes.md) */
static const char *grpc_status_name(long long s)
{
    static const char *const names[] = { "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
        "DATA_LOSS", "UNAUTHENTICATED" };
    return s >= 0 && s < (long long)(sizeof names / sizeof names[0]) ? names[s] : "";
}

static char *label_text(json_t *r)
{
    char buf[1024];
    const char *proto = jstr(r, "protocol");
    int n = snprintf(buf, sizeof buf, "%s", proto ? proto : "call");
    const char *method = jstr(r, "method"), *path = jstr(r, "path");
    if (!path) path = jstr(r, "url");
    if (method && n > 0 && (size_t)n < sizeof buf) n += snprintf(buf + n, sizeof buf - (size_t)n, " %s", method);
    if (path && n > 0 && (size_t)n < sizeof buf) {
        /* keep comments short: long URLs are cut */
        n += snprintf(buf + n, sizeof buf - (size_t)n, " %.200s", path);
    }
    /* the protocol's own status: gRPC's grpc-status (an HTTP 200 can carry a failure), DNS's
     * rcode, a database's error code; HTTP's status code otherwise */
    json_t *st = json_object_get(r, "status_code"), *gs = json_object_get(r, "grpc_status");
    const char *rc = jstr(r, "dns_rcode");
    if (n > 0 && (size_t)n < sizeof buf) {
        size_t left = sizeof buf - (size_t)n;
        if (json_is_integer(gs) && (json_is_true(json_object_get(r, "grpc")) || json_integer_value(gs) >= 0)) {
            long long g = json_integer_value(gs);
            n += snprintf(buf + n, left, " -> grpc-status %lld %s", g, grpc_status_name(g));
            if (json_is_integer(st)) n += snprintf(buf + n, sizeof buf - (size_t)n, " (HTTP %lld)", (long long)json_integer_value(st));
        } else if (rc) {
            n += snprintf(buf + n, left, " -> %.32s", rc);
        } else if (json_is_false(json_object_get(r, "postgresql_success")) && jstr(r, "postgresql_error_code")) {
            n += snprintf(buf + n, left, " -> error %.16s", jstr(r, "postgresql_error_code"));
        } else if (json_is_false(json_object_get(r, "mysql_success")) && json_is_integer(json_object_get(r, "mysql_error_code"))) {
            n += snprintf(buf + n, left, " -> error %lld", (long long)json_integer_value(json_object_get(r, "mysql_error_code")));
        } else if (json_is_integer(st)) {
            n += snprintf(buf + n, left, " -> %lld", (long long)json_integer_value(st));
        }
    }
    const char *id = jstr(r, "id");
    if (id && n > 0 && (size_t)n < sizeof buf)
        snprintf(buf + n, sizeof buf - (size_t)n, " [%.64s]", id);
    return strdup(buf);
}

/* One record. 1 kept, 0 skipped (no usable capture), -1 out of memory. */
static int add_record(kx_calls *c, json_t *r, size_t line)
{
    json_t *cap = json_object_get(r, "capture");
    json_t *conn = json_is_object(cap) ? json_object_get(cap, "conn") : NULL;
    const char *a = jstr(conn, "a"), *b = jstr(conn, "b"), *proto = jstr(conn, "proto");
    kf_addr aa, ba;
    uint16_t pa, pb;
    int pr = kx_proto_parse(proto);
    if (!a || !b || pr < 0 || kx_endpoint_parse(a, &aa, &pa) != 0 ||
        kx_endpoint_parse(b, &ba, &pb) != 0 || aa.family != ba.family) {
        if (!c->skipped++) c->first_skipped_line = line;
        return 0;
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        kx_call *nv = realloc(c->v, nc * sizeof *nv);
        if (!nv) return -1;
        c->v = nv;
        c->cap = nc;
    }
    kx_call *k = &c->v[c->n];
    memset(k, 0, sizeof *k);
    k->line = line;
    kx_conn_make(&k->conn, (uint8_t)pr, &aa, pa, &ba, pb);
    k->node = dupnz(jstr(cap, "node"));
    if (!k->node) {
        json_t *node = json_object_get(r, "node");
        k->node = dupnz(jstr(node, "name"));
        if (!k->node) k->node = dupnz(jstr(r, "node_name"));
    }
    k->file = dupnz(jstr(cap, "file"));
    if (juint(cap, "first_frame", &k->first_frame) != 0) k->first_frame = 0;
    if (juint(cap, "last_frame", &k->last_frame) != 0) k->last_frame = 0;
    if (k->last_frame < k->first_frame) k->last_frame = 0;

    int64_t ts;
    k->first_ts = KF_T_MIN;
    k->last_ts = KF_T_MAX;
    if (jtime(cap, "first_ts", &ts) == 0) k->first_ts = ts;
    else if (jtime(r, "timestamp", &ts) == 0) k->first_ts = ts;
    if (jtime(cap, "last_ts", &ts) == 0) k->last_ts = ts;
    else if (k->first_ts != KF_T_MIN) {
        json_t *el = json_object_get(r, "elapsed_time");
        if (json_is_integer(el) && json_integer_value(el) >= 0 &&
            json_integer_value(el) < INT64_MAX / 1000 - 1 &&
            k->first_ts <= INT64_MAX - json_integer_value(el) * 1000)
            k->last_ts = k->first_ts + json_integer_value(el) * 1000;
    }
    if (k->last_ts < k->first_ts) k->last_ts = k->first_ts;
    k->conn_first_ts = jtime(cap, "conn_first_ts", &ts) == 0 ? ts : k->first_ts;
    k->conn_last_ts = jtime(cap, "conn_last_ts", &ts) == 0 ? ts : k->last_ts;
    if (k->conn_first_ts > k->first_ts) k->conn_first_ts = k->first_ts;
    if (k->conn_last_ts < k->last_ts) k->conn_last_ts = k->last_ts;

    json_t *src = json_object_get(r, "src"), *dst = json_object_get(r, "dst");
    k->label = label_text(r);
    k->client = side_text(src);
    k->server = side_text(dst);
    uint16_t p;
    if (json_is_object(src) && json_is_object(dst) &&
        kx_endpoint_parse(jstr(src, "ip"), &k->client_ip, &p) == 0 &&
        kx_endpoint_parse(jstr(dst, "ip"), &k->server_ip, &p) == 0) {
        json_t *sp = json_object_get(src, "port"), *dp = json_object_get(dst, "port");
        k->client_port = json_is_integer(sp) ? (uint16_t)json_integer_value(sp) : 0;
        k->server_port = json_is_integer(dp) ? (uint16_t)json_integer_value(dp) : 0;
        k->has_endpoints = 1;
    }
    if (!k->label) { call_free(k); return -1; }
    c->n++;
    return 1;
}

static int parse_line(kx_calls *c, const char *s, size_t len, size_t line, char *err,
                      size_t errlen)
{
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r')) len--;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i == len) return 0;                 /* blank line */
    json_error_t je;
    json_t *r = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
    if (!r) {
        snprintf(err, errlen, "line %zu: not JSON: %s", line, je.text);
        return -1;
    }
    if (!json_is_object(r)) {
        json_decref(r);
        snprintf(err, errlen, "line %zu: not a JSON object", line);
        return -1;
    }
    c->records++;
    int rc = add_record(c, r, line);
    json_decref(r);
    if (rc < 0) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

int kx_calls_parse(kx_calls *c, const char *buf, size_t len, char *err, size_t errlen)
{
    size_t line = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        line++;
        if (parse_line(c, buf + pos, end - pos, line, err, errlen) != 0) return -1;
        pos = nl ? end + 1 : len;
    }
    return 0;
}

typedef struct load_ctx { kx_calls *c; char *err; size_t errlen; } load_ctx;

static int load_line(void *ctx, const char *name, const char *line, size_t n, long long lineno)
{
    load_ctx *l = ctx;
    char e[512];
    if (parse_line(l->c, line, n, (size_t)lineno, e, sizeof e) == 0) return 0;
    snprintf(l->err, l->errlen, "%s", e);
    return -1;
}

/* Through kf_lines, the NDJSON reader of kfl and kstat: bounded lines (KF_MAX_LINE), a NUL byte
 * stops at once (getline() on /dev/zero grew without end), gzip input. Its own errors (I/O,
 * limits, NUL) it reports itself; then err is left empty. */
int kx_calls_load(kx_calls *c, const char *path, char *err, size_t errlen)
{
    err[0] = 0;
    load_ctx l = { c, err, errlen };
    return kf_lines_read(path, load_line, &l) == 0 ? 0 : -1;
}

static int call_cmp(const void *x, const void *y)
{
    const kx_call *a = x, *b = y;
    int d = kx_conn_cmp(&a->conn, &b->conn);
    if (d) return d;
    if (a->first_ts != b->first_ts) return a->first_ts < b->first_ts ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line;
}

void kx_calls_index(kx_calls *c)
{
    if (c->n) qsort(c->v, c->n, sizeof *c->v, call_cmp);
}

void kx_calls_find(const kx_calls *c, const kx_conn *k, int noports, size_t *lo, size_t *hi)
{
    int (*cmp)(const kx_conn *, const kx_conn *) = noports ? kx_conn_cmp_noports : kx_conn_cmp;
    size_t l = 0, h = c->n;
    while (l < h) {
        size_t m = l + (h - l) / 2;
        if (cmp(&c->v[m].conn, k) < 0) l = m + 1;
        else h = m;
    }
    size_t e = l;
    while (e < c->n && cmp(&c->v[e].conn, k) == 0) e++;
    *lo = l;
    *hi = e;
}
