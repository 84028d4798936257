/* focus — a pre-filter that makes narrow questions ("who held 10.1.0.7", "where was pod x")
 * fast over large metadata stores. Parsing every event with jansson costs ~15 µs; a question
 * about one IP needs only the events of the pods that ever held it. On interchange lines
 * ({"ts":…,"type":…,"object":{…}} on one line), pod events are kept only when they belong
 * to a pod (by uid) whose events mention one of the needles (an IP, or "name":"N"), extended
 * once by the IPs those pods held (so a neighbour on the same IP still bounds the intervals).
 * Every other line (services, endpoints, nodes, other formats) is kept. Dropped lines become
 * blank, so line numbers in error messages stay right. This is a search over bytes, not JSON
 * parsing: kept lines are parsed by jansson as always. */
#include <string.h>
#include <stdlib.h>
#include <jansson.h>
#include "focus.h"

typedef struct sv { char **v; size_t n, cap; } sv;

static int sv_has(const sv *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++) if (!strcmp(s->v[i], x)) return 1;
    return 0;
}

static void sv_add(sv *s, const char *x)
{
    if (!x || sv_has(s, x)) return;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        char **n = realloc(s->v, nc * sizeof *n);
        if (!n) return;
        s->v = n; s->cap = nc;
    }
    s->v[s->n++] = strdup(x);
}

static void sv_free(sv *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

/* a pod event on one interchange line? */
static int is_pod_line(const char *l, size_t n)
{
    static const char p[] = "{\"ts\":\"";
    if (n < 40 || memcmp(l, p, sizeof p - 1)) return 0;
    const char *o = memmem(l, n < 120 ? n : 120, "\"object\":{", 10);
    if (!o) return 0;
    size_t left = (size_t)(l + n - o);
    return memmem(o, left < 80 ? left : 80, "\"kind\":\"Pod\"", 12) != NULL;
}

/* needle must appear as a whole JSON string value/IP, e.g. "10.1.0.7" with its quotes */
static int line_has(const char *l, size_t n, const sv *needles)
{
    for (size_t i = 0; i < needles->n; i++) if (memmem(l, n, needles->v[i], strlen(needles->v[i]))) return 1;
    return 0;
}

static void each_line(focus_src *src, size_t nsrc, void (*fn)(const char *, size_t, void *), void *ud)
{
    for (size_t s = 0; s < nsrc; s++) {
        const char *p = src[s].buf, *end = src[s].buf + src[s].len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            fn(p, n, ud);
            p += n + 1;
        }
    }
}

typedef struct p1 { const sv *needles; sv *uids; sv *ips; } p1;

static void collect(const char *l, size_t n, void *ud)
{
    p1 *c = ud;
    if (!is_pod_line(l, n) || !line_has(l, n, c->needles)) return;
    json_t *v = json_loadb(l, n, 0, NULL);
    json_t *o = json_object_get(v, "object");
    sv_add(c->uids, json_string_value(json_object_get(json_object_get(o, "metadata"), "uid")));
    if (c->ips) {
        json_t *st = json_object_get(o, "status"), *x;
        size_t i;
        char q[80];
        const char *ip = json_string_value(json_object_get(st, "podIP"));
        if (ip && strlen(ip) < 64) { snprintf(q, sizeof q, "\"%s\"", ip); sv_add(c->ips, q); }
        json_array_foreach(json_object_get(st, "podIPs"), i, x) {
            ip = json_string_value(json_object_get(x, "ip"));
            if (ip && strlen(ip) < 64) { snprintf(q, sizeof q, "\"%s\"", ip); sv_add(c->ips, q); }
        }
    }
    json_decref(v);
}

typedef struct p2 { const sv *keep; } p2;

static void blank(const char *l, size_t n, void *ud)
{
    p2 *c = ud;
    if (!is_pod_line(l, n) || line_has(l, n, c->keep)) return;
    memset((char *)l, ' ', n);
}

void focus_apply(focus_src *src, size_t nsrc, const char *const *needles, size_t nneedles, int expand)
{
    sv nd = { 0 }, uids = { 0 }, ips = { 0 }, keep = { 0 };
    for (size_t i = 0; i < nneedles; i++) sv_add(&nd, needles[i]);
    p1 c = { &nd, &uids, expand ? &ips : NULL };
    each_line(src, nsrc, collect, &c);
    if (expand && ips.n) {
        p1 c2 = { &ips, &uids, NULL };
        each_line(src, nsrc, collect, &c2);
    }
    for (size_t i = 0; i < uids.n; i++) {
        char q[600];
        snprintf(q, sizeof q, "\"uid\":\"%s\"", uids.v[i]);
        sv_add(&keep, q);
    }
    p2 b = { &keep };
    each_line(src, nsrc, blank, &b);
    sv_free(&nd); sv_free(&uids); sv_free(&ips); sv_free(&keep);
}
