/* kresolve — workloads <-> IPs as of capture time, offline (Kubeshark's list_workloads and
 * list_ips over recorded metadata). Sources: .ksnap snapshots, store DIRs, event files
 * (docs/metadata.md), kubectl JSON. Output: NDJSON when piped, a table on a terminal, or a
 * tcpdump filter with --bpf. Exit 0 found, 1 nothing found, 2 bad usage or input. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "kf_tool.h"
#include "kf_grow.h"
#include "kf_limits.h"
#include "kf_meta.h"
#include "kf_snap.h"
#include "kf_span.h"
#include "kf_store.h"
#include "kf_time.h"
#include "focus.h"
#include "kfl.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>

/* One requirement of a kubectl label selector (-l): key=v, key==v, key!=v, key in (a,b),
 * key notin (a,b), key, !key. */
enum { LR_EQ, LR_NE, LR_IN, LR_NOTIN, LR_EXISTS, LR_NOT_EXISTS };
struct lreq { char *key; int op; char **vals; size_t nvals; };

typedef struct opts {
    int mode;                       /* 'w' workloads, 'i' ips */
    const char *name;
    const char **nss; size_t nns;
    kfl_regex *re;                  /* --name-regex: KFL's matches() engine (RE2 syntax, linear time) */
    struct lreq *reqs; size_t nreqs;  /* label selector requirements (all must hold) */
    int type;                       /* 0 any, KF_WK_* */
    int64_t at; int has_at;
    kf_addr *ips; size_t nips;
    int bpf, table;
} opts;

/* Parses a kubectl label selector into o->reqs; anything it does not support (gt, lt, a bad
 * key or value) is a usage error, never a silently empty answer. */
static void sel_skip(const char **p) { while (**p == ' ' || **p == '\t') (*p)++; }
static int sel_keych(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '/'; }
static char *sel_word(const char **p)
{
    const char *b = *p;
    while (sel_keych(**p)) (*p)++;
    return strndup(b, (size_t)(*p - b));
}
static void parse_selector(opts *o, const char *sel)
{
    const char *p = sel;
    for (;;) {
        sel_skip(&p);
        o->reqs = realloc(o->reqs, (o->nreqs + 1) * sizeof *o->reqs);
        struct lreq *q = &o->reqs[o->nreqs++];
        memset(q, 0, sizeof *q);
        int neg = *p == '!';
        if (neg) { p++; sel_skip(&p); }
        q->key = sel_word(&p);
        if (!q->key[0]) kf_usage_die("-l '%s': expected a label key at column %d", sel, (int)(p - sel) + 1);
        sel_skip(&p);
        if (neg) q->op = LR_NOT_EXISTS;
        else if (*p == ',' || !*p) q->op = LR_EXISTS;
        else if (p[0] == '!' && p[1] == '=') { q->op = LR_NE; p += 2; }
        else if (p[0] == '=' && p[1] == '=') { q->op = LR_EQ; p += 2; }
        else if (p[0] == '=') { q->op = LR_EQ; p += 1; }
        else if (!strncmp(p, "notin", 5) && !sel_keych(p[5])) { q->op = LR_NOTIN; p += 5; }
        else if (!strncmp(p, "in", 2) && !sel_keych(p[2])) { q->op = LR_IN; p += 2; }
        else kf_usage_die("-l '%s': unsupported selector at column %d (supported: =, ==, !=, in, notin, key, !key)",
                          sel, (int)(p - sel) + 1);
        if (q->op == LR_EQ || q->op == LR_NE) {
            sel_skip(&p);
            q->vals = malloc(sizeof *q->vals);
            q->vals[q->nvals++] = sel_word(&p);   /* an empty value is allowed, as in kubectl */
        } else if (q->op == LR_IN || q->op == LR_NOTIN) {
            sel_skip(&p);
            if (*p != '(') kf_usage_die("-l '%s': expected '(' after %s", sel, q->op == LR_IN ? "in" : "notin");
            p++;
            for (;;) {
                sel_skip(&p);
                q->vals = realloc(q->vals, (q->nvals + 1) * sizeof *q->vals);
                q->vals[q->nvals++] = sel_word(&p);
                sel_skip(&p);
                if (*p == ',') { p++; continue; }
                if (*p == ')') { p++; break; }
                kf_usage_die("-l '%s': expected ',' or ')' at column %d", sel, (int)(p - sel) + 1);
            }
        }
        sel_skip(&p);
        if (!*p) break;
        if (*p != ',') kf_usage_die("-l '%s': unsupported selector at column %d (supported: =, ==, !=, in, notin, key, !key)",
                                    sel, (int)(p - sel) + 1);
        p++;
    }
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: kresolve workloads SOURCE... [filters] [--at TIME] [--bpf]\n"
        "       kresolve ips SOURCE... [--ip IP]... [filters] [--at TIME] [--bpf]\n"
        "Answers who held which IP, and when, from recorded Kubernetes metadata.\n"
        "SOURCE: a .ksnap snapshot, a capture store DIR, an event file (ksnap meta format) or\n"
        "kubectl JSON (List, object, watch output); - reads standard input.\n"
        "filters:\n"
        "  --name N            exact name\n"
        "  -n, --namespace NS  namespace (repeatable: any of them)\n"
        "  --name-regex RE     regular expression searched in the name (RE2 syntax, as KFL's\n"
        "                      matches(): ^...$ for the whole name; linear time)\n"
        "  -l, --selector SEL  label selector, kubectl's syntax: k=v, k==v, k!=v, k in (a,b),\n"
        "                      k notin (a,b), k, !k, comma-separated (all of them; repeatable;\n"
        "                      --label is the same option)\n"
        "  --type pod|service|node\n"
        "  --ip IP             (ips) only this IP (repeatable)\n"
        "  --at TIME           as of TIME: only what existed then, and the IPs held then\n"
        "output:\n"
        "  --bpf               a tcpdump filter for the IPs found ('host a or host b')\n"
        "  --json / --table    force NDJSON / a table (default: table on a terminal)\n"
        "Exit: 0 found, 1 nothing found, 2 bad usage or input.\n");
}

static const char *kind_name(int k)
{
    return k == KF_WK_POD ? "pod" : k == KF_WK_SERVICE ? "service" : k == KF_WK_NODE ? "node" : "?";
}

static int load_source(kf_meta *m, const char *src)
{
    char err[1024];
    struct stat st;
    if (stat(src, &st) != 0) { kf_err("%s: cannot open: %m", src); return -1; }
    if (S_ISDIR(st.st_mode)) {
        if (!kf_store_is_store(src)) { kf_err("%s: a directory but not a capture store", src); return -1; }
        int lfd = kf_store_lock(src, "meta", 0, 0);
        int rc = kf_meta_load_store(m, src, err, sizeof err);
        if (lfd >= 0) kf_store_unlock(lfd);
        if (rc != 0 && kf_meta_err_fatal(err)) { kf_err("%s", err); return -1; }
        if (rc != 0) kf_warn("%s (skipped; the rest is kept)", err);
        return 0;
    }
    if (kf_snap_detect(src)) {
        kf_snap *s = kf_snap_open(src, err, sizeof err);
        if (!s) { kf_err("%s: %s", src, err); return -1; }
        const char *name; int64_t size; int r, rc = 0, found = 0;
        while ((r = kf_snap_next(s, &name, &size)) == 1) {
            if (strcmp(name, "meta/events.ndjson")) continue;
            found = 1;
            if (kf_meta_load_stream(m, kf_snap_read_fn, s, KF_T_MIN, err, sizeof err) != 0) {
                if (strstr(err, "stopped reading") || strstr(kf_snap_error(s), "member '")) {
                    kf_err("%s: meta/events.ndjson: %s", src, kf_snap_error(s)[0] ? kf_snap_error(s) : err);
                    rc = -1;
                } else kf_warn("%s: meta/events.ndjson: %s (skipped; the rest is kept)", src, err);
            }
            break;   /* the last member: nothing after it to read */
        }
        if (r < 0) { kf_err("%s: %s", src, kf_snap_error(s)); rc = -1; }
        if (!found && rc == 0) kf_warn("%s: the snapshot holds no metadata", src);
        kf_snap_close(s);
        return rc;
    }
    if (kf_meta_load_file(m, src, KF_T_MIN, err, sizeof err) != 0) {
        if (kf_meta_err_fatal(err)) { kf_err("%s: %s", src, err); return -1; }
        kf_warn("%s: %s (skipped; the rest is kept)", src, err);
    }
    return 0;
}

/* ---- raw gathering for the focus pre-filter ---- */
typedef struct srcs { focus_src *v; size_t n, cap; } srcs;

static void srcs_add(srcs *s, char *buf, size_t len, int64_t at, const char *name, int lenient)
{
    if (s->n == s->cap) { s->cap = s->cap ? s->cap * 2 : 8; s->v = realloc(s->v, s->cap * sizeof *s->v); if (!s->v) kf_die(KF_EXIT_ERR, "out of memory"); }
    focus_src *f = &s->v[s->n++];
    f->buf = buf; f->len = len; f->at_ns = at; f->name = strdup(name); f->lenient = lenient;
}

static int slurp(const char *path, char **buf, size_t *len, int64_t *mtime)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); return -1; }
    *mtime = (int64_t)st.st_mtim.tv_sec * KF_NS_PER_SEC + st.st_mtim.tv_nsec;
    /* the pre-filter holds whole files: at most KF_MAX_META_TOTAL (/dev/zero grew without end) */
    uint64_t max = kf_limit(KF_LIMIT_META_TOTAL, KF_LIMIT_META_TOTAL_DEFAULT);
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) { close(fd); errno = EFBIG; return -1; }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *b = malloc(cap);
    if (!b) { close(fd); errno = ENOMEM; return -1; }
    for (;;) {
        if (n == cap) {
            if (cap > max) { free(b); close(fd); errno = EFBIG; return -1; }
            char *nb = realloc(b, cap * 2); if (!nb) { free(b); close(fd); errno = ENOMEM; return -1; } b = nb; cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) { if (errno == EINTR) continue; free(b); close(fd); return -1; }
        if (r == 0) break;
        if (memchr(b + n, 0, (size_t)r)) { free(b); close(fd); errno = EILSEQ; return -1; }   /* /dev/zero */
        n += (size_t)r;
    }
    close(fd);
    *buf = b; *len = n;
    return 0;
}

static void slurp_err(const char *p)
{
    char hb[32];
    if (errno == EFBIG) kf_err("%s: more than %s of metadata (limit %s)", p,
                               kf_limit_human(kf_limit(KF_LIMIT_META_TOTAL, KF_LIMIT_META_TOTAL_DEFAULT), hb, sizeof hb), KF_LIMIT_META_TOTAL);
    else if (errno == EILSEQ) kf_err("%s: a NUL byte: binary data, not JSON", p);
    else kf_err("%s: %m", p);
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int gather_source(srcs *out, const char *src)
{
    char err[1024];
    struct stat st;
    if (stat(src, &st) != 0) { kf_err("%s: cannot open: %m", src); return -1; }
    if (S_ISDIR(st.st_mode)) {
        if (!kf_store_is_store(src)) { kf_err("%s: a directory but not a capture store", src); return -1; }
        size_t l = strlen(src) + 8;
        char *md = malloc(l);
        snprintf(md, l, "%s/meta", src);
        DIR *d = opendir(md);
        if (!d) { free(md); return 0; }
        char **names = NULL; size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t nl = strlen(de->d_name);
            if (de->d_name[0] == '.') continue;
            if (!(nl > 7 && !strcmp(de->d_name + nl - 7, ".ndjson")) && !(nl > 12 && !strcmp(de->d_name + nl - 12, ".ndjson.part"))) continue;
            char **nv = kf_grow(names, &cap, n + 1, sizeof *names);
            if (!nv) kf_die(KF_EXIT_ERR, "out of memory");
            names = nv;
            names[n++] = strdup(de->d_name);
        }
        closedir(d);
        if (n) qsort(names, n, sizeof *names, cmp_cstr);
        int lfd = kf_store_lock(src, "meta", 0, 0);
        for (size_t i = 0; i < n; i++) {
            size_t pl = strlen(md) + strlen(names[i]) + 2;
            char *p = malloc(pl), *b; size_t bl; int64_t mt;
            snprintf(p, pl, "%s/%s", md, names[i]);
            if (slurp(p, &b, &bl, &mt) == 0) srcs_add(out, b, bl, mt, p, strstr(names[i], ".part") && i + 1 == n);
            else slurp_err(p);
            free(p); free(names[i]);
        }
        if (lfd >= 0) kf_store_unlock(lfd);
        free(names); free(md);
        return 0;
    }
    if (kf_snap_detect(src)) {
        kf_snap *s = kf_snap_open(src, err, sizeof err);
        if (!s) { kf_err("%s: %s", src, err); return -1; }
        const char *name; int64_t size; int r, rc = 0;
        while ((r = kf_snap_next(s, &name, &size)) == 1) {
            if (strcmp(name, "meta/events.ndjson")) continue;
            uint8_t *b; size_t l;
            if (kf_snap_read_max(s, &b, &l, kf_limit(KF_LIMIT_META_TOTAL, KF_LIMIT_META_TOTAL_DEFAULT), KF_LIMIT_META_TOTAL) != 0) { kf_err("%s: %s", src, kf_snap_error(s)); rc = -1; break; }
            char dn[4200];
            snprintf(dn, sizeof dn, "%s: meta/events.ndjson", src);
            srcs_add(out, (char *)b, l, KF_T_MIN, dn, 0);
            break;
        }
        if (r < 0) { kf_err("%s: %s", src, kf_snap_error(s)); rc = -1; }
        kf_snap_close(s);
        return rc;
    }
    char *b; size_t bl; int64_t mt;
    if (slurp(src, &b, &bl, &mt) != 0) { slurp_err(src); return -1; }
    srcs_add(out, b, bl, mt, src, 0);
    return 0;
}

static int wl_matches(const opts *o, const kf_workload *w)
{
    if (o->type && (int)w->kind != o->type) return 0;
    if (o->name && (!w->name || strcmp(o->name, w->name))) return 0;
    if (o->nns) {
        int ok = 0;
        for (size_t i = 0; i < o->nns; i++) if (w->namespace_ && !strcmp(o->nss[i], w->namespace_)) ok = 1;
        if (!ok) return 0;
    }
    if (o->re && (!w->name || kfl_regex_search(o->re, w->name, strlen(w->name)) != 1)) return 0;
    for (size_t i = 0; i < o->nreqs; i++) {
        const struct lreq *q = &o->reqs[i];
        json_t *v = json_object_get(w->labels, q->key);
        const char *sv = json_is_string(v) ? json_string_value(v) : NULL;
        int in = 0;
        for (size_t k = 0; sv && k < q->nvals; k++) if (!strcmp(sv, q->vals[k])) in = 1;
        switch (q->op) {   /* as Kubernetes: != and notin also select objects without the key */
        case LR_EXISTS: if (!v) return 0; break;
        case LR_NOT_EXISTS: if (v) return 0; break;
        case LR_EQ: case LR_IN: if (!in) return 0; break;
        case LR_NE: case LR_NOTIN: if (in) return 0; break;
        }
    }
    if (o->has_at && !((w->created_ns == KF_T_MIN || w->created_ns <= o->at) && o->at < w->deleted_ns)) return 0;
    return 1;
}

static int b_in(const opts *o, const kf_binding *b)
{
    return !o->has_at || (b->from_ns <= o->at && o->at < b->to_ns);
}

static json_t *jt(int64_t ns)
{
    char b[40];
    if (ns == KF_T_MIN || ns == KF_T_MAX) return json_null();
    return json_string(kf_time_rfc3339(ns, b, sizeof b));
}

static const char *tt(int64_t ns, char *b, size_t l)
{
    if (ns == KF_T_MIN) return "-";
    if (ns == KF_T_MAX) return "now";
    /* read by a person: local time first, UTC in parentheses (docs/time.md); ms when not whole */
    return kf_time_human(ns, 0, ns % KF_NS_PER_SEC ? 3 : 0, b, l);
}

static void emit(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s) { puts(s); free(s); }
    json_decref(o);
}

/* bpf: collect unique IP strings */
typedef struct strset { char **v; size_t n, cap; } strset;
static void ss_add(strset *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++) if (!strcmp(s->v[i], x)) return;
    if (s->n == s->cap) { s->cap = s->cap ? s->cap * 2 : 16; s->v = realloc(s->v, s->cap * sizeof *s->v); if (!s->v) kf_die(KF_EXIT_ERR, "out of memory"); }
    s->v[s->n++] = strdup(x);
}

static const char *ipstr(const kf_addr *a, char *b, size_t l)
{
    return inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, b, (socklen_t)l) ? b : "?";
}

typedef struct wb { const kf_workload *w; const kf_binding *b; } wb;
static int cmp_wb(const void *x, const void *y)
{
    const wb *a = x, *b = y;
    if (a->w != b->w) return a->w < b->w ? -1 : 1;
    return a->b->from_ns < b->b->from_ns ? -1 : a->b->from_ns > b->b->from_ns;
}

static const kf_binding *const *find_wb(const wb *v, size_t n, const kf_workload *w, size_t *cnt, size_t *start)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { size_t mid = (lo + hi) / 2; if (v[mid].w < w) lo = mid + 1; else hi = mid; }
    *start = lo;
    size_t e = lo;
    while (e < n && v[e].w == w) e++;
    *cnt = e - lo;
    return NULL;
}

static int run_workloads(const opts *o, kf_meta *m, strset *bpf)
{
    const kf_workload *const *ws;
    size_t nw = kf_meta_workloads(m, &ws);
    const kf_binding *bs;
    size_t nb = kf_meta_bindings(m, &bs);
    wb *v = malloc((nb ? nb : 1) * sizeof *v);
    if (!v) kf_die(KF_EXIT_ERR, "out of memory");
    for (size_t i = 0; i < nb; i++) { v[i].w = bs[i].w; v[i].b = &bs[i]; }
    qsort(v, nb, sizeof *v, cmp_wb);
    size_t found = 0;
    if (o->table && !o->bpf) printf("%-8s %-16s %-40s %-16s %-28s %s\n", "KIND", "NAMESPACE", "NAME", "NODE", "OWNER", "IPS");
    for (size_t i = 0; i < nw; i++) {
        const kf_workload *w = ws[i];
        if (!wl_matches(o, w)) continue;
        size_t cnt, st;
        find_wb(v, nb, w, &cnt, &st);
        found++;
        char b1[96], b2[96], ipb[64];
        if (o->bpf) {
            for (size_t k = st; k < st + cnt; k++) if (b_in(o, v[k].b)) ss_add(bpf, ipstr(&v[k].b->ip, ipb, sizeof ipb));
            continue;
        }
        if (o->table) {
            char own[200] = "-";
            if (w->owner_kind) snprintf(own, sizeof own, "%s/%s", w->owner_kind, w->owner_name ? w->owner_name : "?");
            printf("%-8s %-16s %-40s %-16s %-28s", kind_name(w->kind), w->namespace_ ? w->namespace_ : "-",
                   w->name ? w->name : "-", w->node ? w->node : "-", own);
            int any = 0;
            for (size_t k = st; k < st + cnt; k++) {
                if (!b_in(o, v[k].b)) continue;
                printf("%s%s [%s .. %s]", any ? ", " : " ", ipstr(&v[k].b->ip, ipb, sizeof ipb),
                       tt(v[k].b->from_ns, b1, sizeof b1), tt(v[k].b->to_ns, b2, sizeof b2));
                any = 1;
            }
            printf("%s%s\n", any ? "" : " -", w->host_network ? " (host network)" : "");
            continue;
        }
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(w->name ? w->name : ""));
        json_object_set_new(j, "namespace", w->namespace_ ? json_string(w->namespace_) : json_null());
        json_object_set_new(j, "kind", json_string(kind_name(w->kind)));
        json_object_set(j, "labels", w->labels ? w->labels : json_object());
        json_object_set_new(j, "node", w->node ? json_string(w->node) : json_null());
        if (w->owner_kind) {
            json_t *ow = json_object();
            json_object_set_new(ow, "kind", json_string(w->owner_kind));
            json_object_set_new(ow, "name", w->owner_name ? json_string(w->owner_name) : json_null());
            json_object_set_new(j, "owner", ow);
        } else json_object_set_new(j, "owner", json_null());
        json_object_set_new(j, "uid", w->uid ? json_string(w->uid) : json_null());
        if (w->kind == KF_WK_POD) json_object_set_new(j, "host_network", json_boolean(w->host_network));
        json_object_set_new(j, "created", jt(w->created_ns));
        json_object_set_new(j, "deleted", jt(w->deleted_ns));
        if (w->kind == KF_WK_POD) {
            const kf_workload *sv[32];
            int64_t ts = o->has_at ? o->at : w->deleted_ns != KF_T_MAX ? w->deleted_ns - 1 : KF_T_MAX - 1;
            size_t ns = ts == KF_T_MIN ? 0 : kf_meta_pod_services(m, w, ts, sv, 32);
            json_t *sa = json_array();
            for (size_t k = 0; k < ns; k++) json_array_append_new(sa, json_string(sv[k]->name));
            json_object_set_new(j, "services", sa);
        }
        if (w->kind == KF_WK_SERVICE && w->selector) json_object_set(j, "selector", w->selector);
        json_t *ia = json_array();
        for (size_t k = st; k < st + cnt; k++) {
            if (!b_in(o, v[k].b)) continue;
            json_t *x = json_object();
            json_object_set_new(x, "ip", json_string(ipstr(&v[k].b->ip, ipb, sizeof ipb)));
            json_object_set_new(x, "from", jt(v[k].b->from_ns));
            json_object_set_new(x, "to", jt(v[k].b->to_ns));
            json_array_append_new(ia, x);
        }
        json_object_set_new(j, "ips", ia);
        emit(j);
    }
    free(v);
    return found ? 0 : KF_EXIT_NONE;
}

static int ip_wanted(const opts *o, const kf_addr *a)
{
    if (!o->nips) return 1;
    for (size_t i = 0; i < o->nips; i++)
        if (o->ips[i].family == a->family && !memcmp(o->ips[i].a, a->a, 16)) return 1;
    return 0;
}

static int run_ips(const opts *o, kf_meta *m, strset *bpf)
{
    const kf_binding *bs;
    size_t nb = kf_meta_bindings(m, &bs), found = 0;
    char ipb[64], b1[96], b2[96];
    if (o->table && !o->bpf) printf("%-40s %-8s %-16s %-40s %-16s %-30s %s\n", "IP", "KIND", "NAMESPACE", "NAME", "NODE", "FROM", "TO");
    for (size_t i = 0; i < nb;) {
        size_t e = i;
        while (e < nb && bs[e].ip.family == bs[i].ip.family && !memcmp(bs[e].ip.a, bs[i].ip.a, 16)) e++;
        if (!ip_wanted(o, &bs[i].ip)) { i = e; continue; }
        json_t *recs = NULL;
        int any = 0;
        ipstr(&bs[i].ip, ipb, sizeof ipb);
        for (size_t k = i; k < e; k++) {
            const kf_binding *b = &bs[k];
            if (!b_in(o, b) || !wl_matches(o, b->w)) continue;
            any = 1;
            if (o->bpf) break;
            const kf_workload *w = b->w;
            if (o->table) {
                printf("%-40s %-8s %-16s %-40s %-16s %-30s %s%s\n", ipb, kind_name(w->kind), w->namespace_ ? w->namespace_ : "-",
                       w->name ? w->name : "-", w->node ? w->node : "-", tt(b->from_ns, b1, sizeof b1),
                       tt(b->to_ns, b2, sizeof b2), w->host_network ? " (host network: shares the node IP)" : "");
                continue;
            }
            if (!recs) recs = json_array();
            json_t *r = json_object();
            json_object_set_new(r, "kind", json_string(kind_name(w->kind)));
            json_object_set_new(r, "name", json_string(w->name ? w->name : ""));
            json_object_set_new(r, "namespace", w->namespace_ ? json_string(w->namespace_) : json_null());
            json_object_set_new(r, "node", w->node ? json_string(w->node) : json_null());
            json_object_set(r, "labels", w->labels ? w->labels : json_object());
            json_object_set_new(r, "from", jt(b->from_ns));
            json_object_set_new(r, "to", jt(b->to_ns));
            if (w->kind == KF_WK_POD && w->host_network) json_object_set_new(r, "host_network", json_true());
            json_array_append_new(recs, r);
        }
        if (any) {
            found++;
            if (o->bpf) ss_add(bpf, ipb);
            else if (recs) {
                json_t *j = json_object();
                json_object_set_new(j, "ip", json_string(ipb));
                json_object_set_new(j, "records", recs);
                emit(j);
            }
        }
        i = e;
    }
    return found ? 0 : KF_EXIT_NONE;
}

int main(int argc, char **argv)
{
    kf_set_prog(argv[0]);
    if (argc < 2) { usage(stderr); return KF_EXIT_ERR; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version")) { printf("kresolve %s\n", KF_VERSION); return 0; }
    opts o = { 0 };
    if (!strcmp(argv[1], "workloads") || !strcmp(argv[1], "list_workloads")) o.mode = 'w';
    else if (!strcmp(argv[1], "ips") || !strcmp(argv[1], "list_ips")) o.mode = 'i';
    else kf_usage_die("unknown command '%s' (workloads or ips)", argv[1]);
    static const struct option lo[] = {
        { "name", 1, 0, 'm' }, { "namespace", 1, 0, 'n' }, { "name-regex", 1, 0, 'r' },
        { "selector", 1, 0, 'l' }, { "label", 1, 0, 'l' }, { "type", 1, 0, 't' }, { "at", 1, 0, 'a' }, { "ip", 1, 0, 'i' },
        { "bpf", 0, 0, 'b' }, { "json", 0, 0, 'j' }, { "table", 0, 0, 'T' }, { "help", 0, 0, 'h' }, { 0 } };
    int c, force = -1;
    const char *at_s = NULL;
    char err[512];
    optind = 2;
    while ((c = kf_getopt(argc, argv, "n:N:r:l:t:a:i:bjTh", lo)) != -1) {
        switch (c) {
        case 'm': o.name = optarg; break;
        case 'n': case 'N': o.nss = realloc(o.nss, (o.nns + 1) * sizeof *o.nss); o.nss[o.nns++] = optarg; break;
        case 'r': {
            /* the last one given counts, as for the other single-valued options */
            kfl_regex_free(o.re);
            o.re = kfl_regex_new(optarg, strlen(optarg), err, sizeof err);
            if (!o.re) kf_usage_die("--name-regex: %s", err);
            break;
        }
        case 'l': parse_selector(&o, optarg); break;
        case 't':
            if (!strcmp(optarg, "pod")) o.type = KF_WK_POD;
            else if (!strcmp(optarg, "service") || !strcmp(optarg, "svc")) o.type = KF_WK_SERVICE;
            else if (!strcmp(optarg, "node")) o.type = KF_WK_NODE;
            else kf_usage_die("--type: pod, service or node");
            break;
        case 'a':
            if (kf_time_parse(optarg, kf_now_ns(), &o.at, err, sizeof err) != 0) kf_usage_die("--at: %s", err);
            o.has_at = 1;
            at_s = optarg;
            break;
        case 'i': {
            kf_addr a = { 0 };
            if (inet_pton(AF_INET, optarg, a.a) == 1) a.family = 4;
            else if (inet_pton(AF_INET6, optarg, a.a) == 1) a.family = 6;
            else kf_usage_die("--ip: '%s' is not an IP address", optarg);
            o.ips = realloc(o.ips, (o.nips + 1) * sizeof *o.ips);
            o.ips[o.nips++] = a;
            break;
        }
        case 'b': o.bpf = 1; break;
        case 'j': force = 0; break;
        case 'T': force = 1; break;
        case 'h': usage(stdout); return 0;
        default: kf_usage_die("unknown option");
        }
    }
    if (o.nips && o.mode != 'i') kf_usage_die("--ip belongs to 'kresolve ips'");
    if (optind >= argc) kf_usage_die("a SOURCE is required (snapshot, store DIR, event file or kubectl JSON)");
    /* SOURCE "-": standard input (a snapshot, events or kubectl JSON), spooled to an unlinked
     * temporary file so that every loader can read it like a file */
    static char stdin_path[64];
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "-")) continue;
        if (!stdin_path[0]) {
            FILE *t = tmpfile();
            char buf[65536];
            size_t r;
            int bad = !t;
            while (!bad && (r = fread(buf, 1, sizeof buf, stdin)) > 0) bad = fwrite(buf, 1, r, t) != r;
            if (bad || ferror(stdin) || fflush(t) != 0) kf_die(KF_EXIT_ERR, "standard input: cannot read: %m");
            snprintf(stdin_path, sizeof stdin_path, "/proc/self/fd/%d", fileno(t));
        }
        argv[i] = stdin_path;
    }
    if (at_s && kf_time_is_relative(at_s)) {
        /* --at -10m on snapshots counts from their end (when they were frozen); on a store, an
         * event file or kubectl JSON from the wall clock (docs/time.md) */
        int snaps = 0, other = 0;
        for (int i = optind; i < argc; i++) {
            if (strcmp(argv[i], "-") && kf_snap_detect(argv[i]) == 1) snaps++;
            else other++;
        }
        kf_span sp;
        if (snaps && !other && kf_span_of((const char *const *)argv + optind, (size_t)(argc - optind), 0, &sp, err, sizeof err) == 0)
            kf_time_parse(at_s, sp.now, &o.at, err, sizeof err);
    }
    o.table = force >= 0 ? force : isatty(1);
    kf_meta *m = kf_meta_new();
    int bad = 0;
    /* narrow questions go through the focus pre-filter (focus.c) */
    const char **needles = NULL;
    size_t nneedles = 0;
    char ipb[64];
    if (o.mode == 'i' && o.nips) {
        needles = calloc(o.nips, sizeof *needles);
        for (size_t i = 0; i < o.nips; i++) {
            char q[80];
            snprintf(q, sizeof q, "\"%s\"", ipstr(&o.ips[i], ipb, sizeof ipb));
            needles[nneedles++] = strdup(q);
        }
    } else if (o.mode == 'w' && o.name && strlen(o.name) < 300 && !strpbrk(o.name, "\"\\")) {
        char q[400];
        snprintf(q, sizeof q, "\"name\":\"%s\"", o.name);
        needles = calloc(1, sizeof *needles);
        needles[nneedles++] = strdup(q);
    }
    if (nneedles) {
        srcs sv = { 0 };
        for (int i = optind; i < argc; i++) if (gather_source(&sv, argv[i]) != 0) bad = 1;
        focus_apply(sv.v, sv.n, needles, nneedles, o.mode == 'w');
        for (size_t i = 0; i < sv.n; i++) {
            if (kf_meta_load_buffer(m, sv.v[i].buf, sv.v[i].len, sv.v[i].at_ns, err, sizeof err) != 0 && !sv.v[i].lenient)
                kf_warn("%s: %s (skipped; the rest is kept)", sv.v[i].name, err);
            free(sv.v[i].buf); free(sv.v[i].name);
        }
        free(sv.v);
        for (size_t i = 0; i < nneedles; i++) free((char *)needles[i]);
    } else
        for (int i = optind; i < argc; i++) if (load_source(m, argv[i]) != 0) bad = 1;
    free(needles);
    kf_meta_finish(m);
    strset bpf = { 0 };
    int rc = o.mode == 'w' ? run_workloads(&o, m, &bpf) : run_ips(&o, m, &bpf);
    if (o.bpf && bpf.n) {
        for (size_t i = 0; i < bpf.n; i++) printf("%shost %s", i ? " or " : "", bpf.v[i]);
        printf("\n");
    } else if (o.bpf) rc = KF_EXIT_NONE;
    for (size_t i = 0; i < bpf.n; i++) free(bpf.v[i]);
    free(bpf.v);
    kf_meta_free(m);
    kfl_regex_free(o.re);
    for (size_t i = 0; i < o.nreqs; i++) {
        free(o.reqs[i].key);
        for (size_t k = 0; k < o.reqs[i].nvals; k++) free(o.reqs[i].vals[k]);
        free(o.reqs[i].vals);
    }
    free(o.nss); free(o.reqs); free(o.ips);
    if (bad) rc = KF_EXIT_ERR;
    return kf_finish_stdout(rc);
}
