/* kmcp tools: one table row per MCP tool (name, description, input schema, handler).
 * Names and argument shapes follow Kubeshark's MCP tools where it has them. Every handler runs
 * the project's own tools (ksnap, kdissect, kfl, kresolve, kexport, kstat) as child processes;
 * kmcp itself only checks arguments, shapes results, caps them and pages them. */
#include "kmcp.h"
#include "kf_sha256.h"
#include "kf_grow.h"
#include "kf_time.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ results and arguments */
void kmcp_result_error(kmcp_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(res->text);
    res->text = NULL;
    if (vasprintf(&res->text, fmt, ap) < 0) res->text = NULL;
    va_end(ap);
    json_decref(res->structured);
    res->structured = NULL;
    res->is_error = 1;
}

static void ok(kmcp_result *res, json_t *structured, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ok(kmcp_result *res, json_t *structured, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&res->text, fmt, ap) < 0) res->text = NULL;
    va_end(ap);
    res->structured = structured;
}

int kmcp_valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 128 || !isalnum((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i])) return 0;
    return strstr(s, "..") == NULL;
}

/* "inc-4711" or "inc-4711.ksnap" -> "inc-4711" (static buffer per thread) */
static const char *base_name(const char *s)
{
    static __thread char b[160];
    size_t n = strlen(s);
    if (n > 6 && !strcmp(s + n - 6, ".ksnap")) n -= 6;
    snprintf(b, sizeof b, "%.*s", (int)(n < 150 ? n : 150), s);
    return b;
}

char *kmcp_snap_path(const char *name)
{
    char *p;
    if (!kmcp_valid_name(name) || asprintf(&p, "%s/%s.ksnap", g_cfg.snapdir, name) < 0) return NULL;
    return p;
}

typedef struct targs {
    json_t *a;
    kmcp_result *res;
    int bad;
} targs;

/* a string argument (or NULL when absent); a wrong type is an error result */
static const char *arg_str(targs *t, const char *key)
{
    json_t *v = json_object_get(t->a, key);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        if (!t->bad) kmcp_result_error(t->res, "Argument '%s' must be a string.", key);
        t->bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

static long long arg_int(targs *t, const char *key, long long def, long long lo, long long hi)
{
    json_t *v = json_object_get(t->a, key);
    if (!v || json_is_null(v)) return def;
    long long x;
    if (json_is_integer(v)) x = json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v)) x = (long long)json_real_value(v);
    else {
        if (!t->bad) kmcp_result_error(t->res, "Argument '%s' must be an integer.", key);
        t->bad = 1;
        return def;
    }
    if (x < lo || x > hi) {
        if (!t->bad) kmcp_result_error(t->res, "Argument '%s' must be between %lld and %lld.", key, lo, hi);
        t->bad = 1;
        return def;
    }
    return x;
}

static int arg_bool(targs *t, const char *key, int def)
{
    json_t *v = json_object_get(t->a, key);
    if (!v || json_is_null(v)) return def;
    if (!json_is_boolean(v)) {
        if (!t->bad) kmcp_result_error(t->res, "Argument '%s' must be true or false.", key);
        t->bad = 1;
        return def;
    }
    return json_is_true(v);
}

/* a list of strings: an array, or one string; *n = count. Returns a NULL-terminated array. */
static const char **arg_list(targs *t, const char *key, size_t *n)
{
    json_t *v = json_object_get(t->a, key);
    *n = 0;
    if (!v || json_is_null(v)) return NULL;
    if (json_is_string(v)) {
        const char **o = calloc(2, sizeof *o);
        o[0] = json_string_value(v);
        *n = 1;
        return o;
    }
    if (!json_is_array(v)) goto bad;
    const char **o = calloc(json_array_size(v) + 1, sizeof *o);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) { free(o); goto bad; }
        o[(*n)++] = json_string_value(e);
    }
    return o;
bad:
    if (!t->bad) kmcp_result_error(t->res, "Argument '%s' must be a list of strings.", key);
    t->bad = 1;
    *n = 0;
    return NULL;
}

/* a time: any form the CLIs accept (RFC 3339, local time, epoch s/ms/ns, -15m, 2h ago), or a
 * number (epoch, unit by digit count: Kubeshark passes Unix ms). 0 absent, 1 set, -1 bad. */
static int arg_time(targs *t, const char *key, int64_t *ns)
{
    json_t *v = json_object_get(t->a, key);
    char buf[64], err[200];
    const char *s;
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) { snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v)); s = buf; }
    else if (json_is_string(v)) s = json_string_value(v);
    else {
        if (!t->bad) kmcp_result_error(t->res, "Argument '%s' must be a time (a string such as 2026-03-14T17:05:00Z, -15m or 2h ago, or a Unix time number).", key);
        t->bad = 1;
        return -1;
    }
    if (kf_time_parse(s, kf_now_ns(), ns, err, sizeof err) != 0) {
        if (!t->bad) kmcp_result_error(t->res, "Argument '%s': %s.", key, err);
        t->bad = 1;
        return -1;
    }
    return 1;
}

static const char *arg_snapshot(targs *t, const char *key)
{
    const char *s = arg_str(t, key);
    if (!s && !t->bad && strcmp(key, "snapshot")) s = arg_str(t, "snapshot");
    if (!s && !t->bad && strcmp(key, "name")) s = arg_str(t, "name");
    if (!s && !t->bad) s = arg_str(t, "db");            /* Kubeshark's "<snapshot>/<dissection>" */
    if (t->bad) return NULL;
    if (!s) {
        kmcp_result_error(t->res, "Argument '%s' (the snapshot's name) is required.", key);
        t->bad = 1;
        return NULL;
    }
    static __thread char b[160];
    snprintf(b, sizeof b, "%s", s);
    char *sl = strchr(b, '/');
    if (sl && !strchr(sl + 1, '/') && kmcp_valid_name(sl + 1)) *sl = 0;
    const char *n = base_name(b);
    if (!kmcp_valid_name(n)) {
        kmcp_result_error(t->res, "Snapshot name '%.80s' is not valid: use letters, digits, '.', '_' and '-' (no '/' or '..').", s);
        t->bad = 1;
        return NULL;
    }
    return n;
}

/* the snapshot must exist as a regular file (not a link) under the snapshots folder */
static char *existing_snapshot(targs *t, const char *name)
{
    char *p = kmcp_snap_path(name);
    struct stat st;
    if (!p || lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
        kmcp_result_error(t->res, "No snapshot named '%s' in the snapshots folder (list_snapshots lists them).", name);
        free(p);
        t->bad = 1;
        return NULL;
    }
    return p;
}

static char *rfc(int64_t ns, char *b) { return kf_time_rfc3339(ns, b, 40); }

/* ------------------------------------------------------------------ running a tool for JSON */
static int collect_line(void *arg, char *line, size_t len)
{
    kmcp_buf *b = arg;
    kmcp_buf_add(b, line, len, 64u << 20);
    kmcp_buf_add(b, "\n", 1, 64u << 20);
    return 0;
}

typedef struct tick_ctx { kmcp_req *req; int64_t start; const char *what; } tick_ctx;
static void on_tick(void *arg)
{
    tick_ctx *c = arg;
    char m[128];
    double s = (double)(kf_now_ns() - c->start) / 1e9;
    snprintf(m, sizeof m, "%s: %.0f s", c->what, s);
    kmcp_progress(c->req, s, 0, m);
}

/* runs argv (a single stage), returning its stdout; exit codes in ok_mask are accepted
 * (bit n = exit n). On failure fills res with the tool's message and returns NULL. */
static char *run_capture(kmcp_req *req, kmcp_result *res, char **argv, unsigned ok_mask, int *status, const char *what)
{
    kmcp_buf b = {0};
    tick_ctx tc = {req, kf_now_ns(), what};
    kmcp_run r = {.argv = {argv}, .nstages = 1, .out_fd = -1, .on_line = collect_line, .arg = &b, .req = req,
                  .timeout_s = 3600, .on_tick = on_tick, .tick_arg = &tc};
    int rc = kmcp_run_pipeline(&r);
    if (status) *status = r.status[0];
    if (rc < 0 || r.cancelled || r.timed_out || r.status[0] < 0 || r.status[0] > 31 || !(ok_mask & (1u << r.status[0]))) {
        char *m = kmcp_run_message(&r);
        if (r.cancelled) kmcp_result_error(res, "Cancelled.");
        else if (r.timed_out) kmcp_result_error(res, "%s took longer than an hour and was stopped.", argv[0]);
        else kmcp_result_error(res, "%s", m && *m ? m : "the tool failed without a message");
        free(m);
        kmcp_run_free(&r);
        kmcp_buf_free(&b);
        return NULL;
    }
    kmcp_run_free(&r);
    if (!b.p) b.p = strdup("");
    return b.p;
}

/* "kfl: filter:1:24: expected …\n | …\n |   ^" -> a KFL error result with the caret lines */
static int check_kfl(kmcp_req *req, kmcp_result *res, const char *expr)
{
    if (!expr || !*expr) return 0;
    char *av[] = {"kfl", "--check", (char *)expr, NULL};
    kmcp_run r = {.argv = {av}, .nstages = 1, .out_fd = -1, .req = req, .timeout_s = 30};
    int rc = kmcp_run_pipeline(&r);
    if (rc == 0 && r.status[0] == 0) { kmcp_run_free(&r); return 0; }
    const char *m = r.err.p ? r.err.p : "kfl could not check the filter";
    if (!strncmp(m, "kfl: ", 5)) m += 5;
    size_t n = strlen(m);
    while (n && m[n - 1] == '\n') n--;
    kmcp_result_error(res, "The KFL filter is not valid: %.*s", (int)n, m);
    kmcp_run_free(&r);
    return -1;
}

/* composes base && (user) && the time window, for kfl */
static char *kfl_expr(const char *base, const char *user, int64_t from, int64_t to)
{
    char *e = strdup(base ? base : "true"), *n;
    char b[40];
    if (user && *user) { if (asprintf(&n, "%s && (%s\n)", e, user) < 0) return e; free(e); e = n; }
    if (from) { if (asprintf(&n, "%s && timestamp >= timestamp(\"%s\")", e, rfc(from, b)) < 0) return e; free(e); e = n; }
    if (to) { if (asprintf(&n, "%s && timestamp <= timestamp(\"%s\")", e, rfc(to, b)) < 0) return e; free(e); e = n; }
    return e;
}

/* the completed dissection's calls file, or an error result telling what to do */
static char *need_dissection(targs *t, const char *name)
{
    char *snap = existing_snapshot(t, name);
    if (!snap) return NULL;
    free(snap);
    char *p = kmcp_dissect_file(name, "calls.ndjson.gz");
    if (p) return p;
    json_t *s = kmcp_dissect_status(name);
    const char *st = json_string_value(json_object_get(s, "status"));
    if (!strcmp(st, "running") || !strcmp(st, "running_elsewhere"))
        kmcp_result_error(t->res, "The dissection of '%s' is still running (%.0f%%): wait with get_snapshot_dissection_status.", name,
                          json_real_value(json_object_get(s, "progress")) * 100);
    else if (!strcmp(st, "failed"))
        kmcp_result_error(t->res, "The dissection of '%s' failed (%s): fix that and run start_snapshot_dissection again.", name,
                          json_string_value(json_object_get(s, "error")));
    else
        kmcp_result_error(t->res, "Snapshot '%s' is not dissected yet: call start_snapshot_dissection first.", name);
    json_decref(s);
    t->bad = 1;
    return NULL;
}

/* ------------------------------------------------------------------ snapshots */
static json_t *load_json(const char *s)
{
    return s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
}

static int t_get_data_boundaries(kmcp_req *req, targs *t)
{
    if (!g_cfg.store) { kmcp_result_error(t->res, "kmcp was started without --store, so there is no capture store to read."); return 0; }
    char *av[] = {"ksnap", "ls", "--json", g_cfg.store, NULL};
    char *out = run_capture(req, t->res, av, 1u << 0 | 1u << 1, NULL, "ksnap ls");
    if (!out) return 0;
    json_t *j = load_json(out);
    free(out);
    if (!json_is_object(j)) { json_decref(j); kmcp_result_error(t->res, "ksnap ls gave no JSON."); return 0; }
    json_t *cl = json_pack("{s:O, s:O}", "oldest", json_object_get(j, "oldest") ? json_object_get(j, "oldest") : json_null(),
                           "newest", json_object_get(j, "newest") ? json_object_get(j, "newest") : json_null());
    json_object_set_new(j, "cluster", cl);
    size_t i;
    json_t *nd;
    json_array_foreach(json_object_get(j, "nodes"), i, nd)      /* Kubeshark calls it name */
        if (json_object_get(nd, "node")) json_object_set(nd, "name", json_object_get(nd, "node"));
    const char *o = json_string_value(json_object_get(cl, "oldest")), *n = json_string_value(json_object_get(cl, "newest"));
    ok(t->res, j, "Cluster-wide data from %s to %s (UTC) on %zu node(s).", o ? o : "-", n ? n : "-",
       json_array_size(json_object_get(j, "nodes")));
    return 0;
}

static json_t *snap_info(kmcp_req *req, kmcp_result *res, const char *path)
{
    char *av[] = {"ksnap", "info", "--json", (char *)path, NULL};
    char *out = run_capture(req, res, av, 1u, NULL, "ksnap info");
    json_t *j = load_json(out);
    free(out);
    if (!j && !res->is_error) kmcp_result_error(res, "ksnap info gave no JSON.");
    return j;
}

/* a short view of a manifest: name, size, window, nodes, packets, created */
static json_t *snap_summary(const char *name, const char *path, json_t *m)
{
    struct stat st;
    json_t *o = json_pack("{s:s}", "name", name);
    if (stat(path, &st) == 0) json_object_set_new(o, "size", json_integer((json_int_t)st.st_size));
    json_object_set(o, "id", json_object_get(m, "id"));
    json_object_set(o, "created", json_object_get(m, "created"));
    json_object_set(o, "window", json_object_get(m, "window"));
    json_object_set(o, "filter", json_object_get(m, "filter"));
    json_t *nodes = json_object_get(m, "nodes"), *nl = json_array();
    const char *k;
    json_t *v;
    json_int_t pk = 0, by = 0;
    json_object_foreach(nodes, k, v) {
        json_array_append_new(nl, json_pack("{s:s, s:O, s:O, s:O, s:O}", "name", k, "first_packet", json_object_get(v, "first_packet"),
                                            "last_packet", json_object_get(v, "last_packet"), "packets", json_object_get(v, "packets"),
                                            "bytes", json_object_get(v, "bytes")));
        pk += json_integer_value(json_object_get(v, "packets"));
        by += json_integer_value(json_object_get(v, "bytes"));
    }
    json_object_set_new(o, "nodes", nl);
    json_object_set_new(o, "packets", json_integer(pk));
    json_object_set_new(o, "bytes", json_integer(by));
    json_object_set_new(o, "status", json_string("completed"));
    json_t *d = kmcp_dissect_status(name);
    json_object_set(o, "dissection", json_object_get(d, "status"));
    json_decref(d);
    return o;
}

static int t_create_snapshot(kmcp_req *req, targs *t)
{
    if (!g_cfg.store) { kmcp_result_error(t->res, "kmcp was started without --store, so snapshots cannot be made here."); return 0; }
    const char *name = arg_str(t, "name");
    int64_t from = 0, to = 0, dur = 0;
    int hf = arg_time(t, "start_time", &from), ht = arg_time(t, "end_time", &to);
    const char *ds = arg_str(t, "duration");
    size_t nn = 0;
    const char **nodes = arg_list(t, "nodes", &nn);
    const char *bpf = arg_str(t, "bpf_filter");
    if (t->bad) { free(nodes); return 0; }
    if (ds && kf_duration_parse(ds, &dur) != 0) { free(nodes); kmcp_result_error(t->res, "Argument 'duration' is not a duration (e.g. 30m, 1h)."); return 0; }
    if (!hf && !ht && !dur) { free(nodes); kmcp_result_error(t->res, "Give the window: start_time and end_time, or a duration (ending now)."); return 0; }
    if (!ht) to = hf && dur ? from + dur : kf_now_ns();
    if (!hf) from = to - (dur ? dur : 0);
    if (from > to) { free(nodes); kmcp_result_error(t->res, "start_time is after end_time."); return 0; }
    char gen[160], b1[40], b2[40];
    if (!name) {
        time_t s = (time_t)(kf_now_ns() / KF_NS_PER_SEC);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(gen, sizeof gen, "snapshot-%Y%m%dT%H%M%SZ", &tm);
        name = gen;
    }
    name = base_name(name);
    if (!kmcp_valid_name(name)) { free(nodes); kmcp_result_error(t->res, "Snapshot name '%.80s' is not valid: use letters, digits, '.', '_' and '-'.", name); return 0; }
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name);
    char *path = kmcp_snap_path(nm);
    if (access(path, F_OK) == 0) { free(nodes); free(path); kmcp_result_error(t->res, "A snapshot named '%s' already exists (snapshots are never overwritten).", nm); return 0; }
    char *av[64];
    int k = 0;
    av[k++] = "ksnap"; av[k++] = "freeze"; av[k++] = "--dir"; av[k++] = g_cfg.store;
    av[k++] = "--from"; av[k++] = rfc(from, b1); av[k++] = "--to"; av[k++] = rfc(to, b2);
    for (size_t i = 0; i < nn && k < 56; i++) { av[k++] = "--node"; av[k++] = (char *)nodes[i]; }
    if (bpf && *bpf) { av[k++] = "-f"; av[k++] = (char *)bpf; }
    av[k++] = "-o"; av[k++] = path; av[k] = NULL;
    kmcp_progress(req, 0.5, 0, "freezing the window");
    char *out = run_capture(req, t->res, av, 1u, NULL, "ksnap freeze");
    free(nodes);
    if (!out) { free(path); return 0; }
    free(out);
    json_t *m = snap_info(req, t->res, path);
    if (!m) { free(path); return 0; }
    json_t *s = snap_summary(nm, path, m);
    json_decref(m);
    ok(t->res, s, "Snapshot '%s' created: %s to %s (UTC), %lld packets.", nm, b1, b2,
       (long long)json_integer_value(json_object_get(s, "packets")));
    free(path);
    return 0;
}

static int t_list_snapshots(kmcp_req *req, targs *t)
{
    DIR *d = opendir(g_cfg.snapdir);
    if (!d) { kmcp_result_error(t->res, "Cannot read the snapshots folder: %s.", strerror(errno)); return 0; }
    json_t *list = json_array();
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= 6 || strcmp(e->d_name + l - 6, ".ksnap")) continue;
        char nm[256];
        snprintf(nm, sizeof nm, "%.*s", (int)(l - 6), e->d_name);
        if (!kmcp_valid_name(nm)) continue;
        char **nv = kf_grow(names, &cap, n + 1, sizeof *names);
        if (!nv) break;   /* out of memory: list what fits */
        names = nv;
        names[n++] = strdup(nm);
    }
    closedir(d);
    qsort(names, n, sizeof *names, (int (*)(const void *, const void *))strcmp);
    int truncated = 0;
    for (size_t i = 0; i < n; i++) {
        if (json_array_size(list) >= g_cfg.max_rows) { truncated = 1; free(names[i]); continue; }
        char *p = kmcp_snap_path(names[i]);
        kmcp_result r = {0};
        json_t *m = snap_info(req, &r, p);
        if (m) json_array_append_new(list, snap_summary(names[i], p, m));
        else json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", names[i], "status", "unreadable", "error", r.text ? r.text : ""));
        json_decref(m);
        free(r.text);
        free(p);
        free(names[i]);
        if (req->cancelled) break;
    }
    free(names);
    size_t cnt = json_array_size(list);
    ok(t->res, json_pack("{s:o, s:b}", "snapshots", list, "truncated", truncated), "%zu snapshot(s).", cnt);
    return 0;
}

static int t_get_snapshot(kmcp_req *req, targs *t)
{
    const char *name = arg_snapshot(t, "name");
    int verify = arg_bool(t, "verify", 1);
    if (t->bad) return 0;
    char *p = existing_snapshot(t, name);
    if (!p) return 0;
    json_t *m = snap_info(req, t->res, p);
    if (!m) {      /* unreadable: verification names the damaged member */
        free(t->res->text);
        t->res->text = NULL;
        t->res->is_error = 0;
        char *av[] = {"ksnap", "verify", "-q", p, NULL};
        kmcp_run r = {.argv = {av}, .nstages = 1, .out_fd = -1, .req = req, .timeout_s = 3600};
        kmcp_run_pipeline(&r);
        char *msg = kmcp_run_message(&r);
        kmcp_run_free(&r);
        json_t *s = json_pack("{s:s, s:s, s:{s:b, s:s}}", "name", name, "status", "verification_failed",
                              "verification", "verified", 0, "message", msg ? msg : "");
        ok(t->res, s, "Snapshot '%s' FAILED verification: %s", name, msg ? msg : "");
        t->res->is_error = 1;
        free(msg);
        free(p);
        return 0;
    }
    json_t *s = snap_summary(name, p, m);
    json_object_set(s, "members", json_object_get(m, "members"));
    json_object_set(s, "tool", json_object_get(m, "tool"));
    json_decref(m);
    if (verify) {
        char *av[] = {"ksnap", "verify", "-q", p, NULL};
        kmcp_run r = {.argv = {av}, .nstages = 1, .out_fd = -1, .req = req, .timeout_s = 3600};
        int rc = kmcp_run_pipeline(&r);
        if (r.cancelled) { json_decref(s); kmcp_run_free(&r); free(p); kmcp_result_error(t->res, "Cancelled."); return 0; }
        char *msg = kmcp_run_message(&r);
        int good = rc == 0 && r.status[0] == 0;
        json_object_set_new(s, "verification", json_pack("{s:b, s:s}", "verified", good, "message", good ? "every member's sha256 matches the manifest" : msg));
        if (!good) json_object_set_new(s, "status", json_string("verification_failed"));
        kmcp_run_free(&r);
        if (!good) {
            ok(t->res, s, "Snapshot '%s' FAILED verification: %s", name, msg);
            t->res->is_error = 1;
            free(msg);
            free(p);
            return 0;
        }
        free(msg);
    }
    ok(t->res, s, "Snapshot '%s': %s to %s (UTC), %lld packets%s.", name,
       json_string_value(json_object_get(json_object_get(s, "window"), "from")),
       json_string_value(json_object_get(json_object_get(s, "window"), "to")),
       (long long)json_integer_value(json_object_get(s, "packets")), verify ? ", verified" : "");
    free(p);
    return 0;
}

static int t_delete_snapshot(kmcp_req *req, targs *t)
{
    const char *name = arg_snapshot(t, "name");
    if (t->bad) return 0;
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name);
    char *p = existing_snapshot(t, nm);
    if (!p) return 0;
    kmcp_dissect_delete(nm);
    if (unlink(p) != 0) { kmcp_result_error(t->res, "Cannot delete snapshot '%s': %s.", nm, strerror(errno)); free(p); return 0; }
    free(p);
    ok(t->res, json_pack("{s:s, s:b}", "name", nm, "deleted", 1), "Snapshot '%s' and its dissection deleted.", nm);
    return 0;
}

/* ------------------------------------------------------------------ dissections */
static void status_text(kmcp_result *res, json_t *s)
{
    const char *st = json_string_value(json_object_get(s, "status"));
    const char *name = json_string_value(json_object_get(s, "snapshot"));
    if (!strcmp(st, "completed"))
        ok(res, s, "Dissection of '%s' completed: %lld API calls, %lld L4 records.", name,
           (long long)json_integer_value(json_object_get(s, "api_calls")), (long long)json_integer_value(json_object_get(s, "l4_records")));
    else if (!strcmp(st, "running"))
        ok(res, s, "Dissection of '%s' running (%s, %.0f%%, %lld records so far).", name,
           json_string_value(json_object_get(s, "phase")), json_real_value(json_object_get(s, "progress")) * 100,
           (long long)json_integer_value(json_object_get(s, "records")));
    else if (!strcmp(st, "failed") || !strcmp(st, "cancelled"))
        ok(res, s, "Dissection of '%s' %s: %s", name, st, json_string_value(json_object_get(s, "error")));
    else
        ok(res, s, "Dissection of '%s': %s.", name, st);
}

static int t_start_dissection(kmcp_req *req, targs *t)
{
    const char *name = arg_snapshot(t, "snapshot");
    long long wait = arg_int(t, "wait_seconds", 0, 0, 600);
    if (t->bad) return 0;
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name);
    char *p = existing_snapshot(t, nm);
    if (!p) return 0;
    free(p);
    char err[256];
    json_t *s = kmcp_dissect_start(nm, err, sizeof err);
    if (!s) { kmcp_result_error(t->res, "Cannot start the dissection: %s.", err); return 0; }
    int already = json_is_true(json_object_get(s, "already"));
    if (wait > 0) {
        json_decref(s);
        int w = kmcp_dissect_wait(req, nm, (int)wait);
        if (w < 0 && !already) {    /* the waiting client cancelled: stop what it started */
            kmcp_dissect_delete(nm);
            kmcp_result_error(t->res, "Cancelled: the dissection of '%s' was stopped and nothing of it was kept.", nm);
            return 0;
        }
        s = kmcp_dissect_status(nm);
    }
    status_text(t->res, s);
    if (!strcmp(json_string_value(json_object_get(s, "status")), "failed")) t->res->is_error = 1;
    return 0;
}

static int t_dissection_status(kmcp_req *req, targs *t)
{
    const char *name = arg_snapshot(t, "snapshot");
    long long wait = arg_int(t, "wait_seconds", 0, 0, 600);
    if (t->bad) return 0;
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name);
    char *p = existing_snapshot(t, nm);
    if (!p) return 0;
    free(p);
    if (wait > 0 && kmcp_dissect_wait(req, nm, (int)wait) < 0) { kmcp_result_error(t->res, "Cancelled (the dissection goes on)."); return 0; }
    status_text(t->res, kmcp_dissect_status(nm));
    return 0;
}

static int t_list_dissections(kmcp_req *req, targs *t)
{
    json_t *a = kmcp_dissect_list();
    size_t n = json_array_size(a);
    ok(t->res, json_pack("{s:o}", "dissections", a), "%zu dissection(s).", n);
    return 0;
}

/* ------------------------------------------------------------------ API calls */
static json_t *pick(json_t *rec, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = rec;
    for (char *s = buf, *dot; v && s; s = dot ? dot + 1 : NULL) {
        dot = strchr(s, '.');
        if (dot) *dot = 0;
        v = json_object_get(v, s);
    }
    return v;
}

static void set_path(json_t *o, const char *path, json_t *v)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *s = buf, *dot;
    while ((dot = strchr(s, '.'))) {
        *dot = 0;
        json_t *c = json_object_get(o, s);
        if (!json_is_object(c)) { c = json_object(); json_object_set_new(o, s, c); }
        o = c;
        s = dot + 1;
    }
    json_object_set(o, s, v);
}

static json_t *peer(json_t *e)
{
    json_t *o = json_object();
    static const char *k[] = {"name", "namespace", "ip", "port", NULL};
    for (int i = 0; k[i]; i++) {
        json_t *v = json_object_get(e, k[i]);
        if (v && !(json_is_string(v) && !*json_string_value(v))) json_object_set(o, k[i], v);
    }
    json_t *svc = json_object_get(json_object_get(e, "service"), "name");
    if (svc) json_object_set(o, "service", svc);
    json_t *own = json_object_get(json_object_get(e, "pod"), "owner");
    if (own) json_object_set(o, "workload", json_object_get(own, "name"));
    return o;
}

/* a small row: enough to choose which call to open with get_api_call */
static json_t *compact(json_t *rec)
{
    json_t *o = json_object();
    static const char *top[] = {"id", "timestamp", "protocol", "elapsed_time", "method", "path", "status_code",
                                "dns_rcode", "grpc_service", "grpc_method", "grpc_status", "unanswered", NULL};
    for (int i = 0; top[i]; i++) {
        json_t *v = json_object_get(rec, top[i]);
        if (v) json_object_set(o, top[i], v);
    }
    json_t *q = json_object_get(rec, "dns_questions");
    if (json_array_size(q)) json_object_set(o, "dns_question", json_array_get(q, 0));
    json_object_set_new(o, "src", peer(json_object_get(rec, "src")));
    json_object_set_new(o, "dst", peer(json_object_get(rec, "dst")));
    json_object_set(o, "node", json_object_get(json_object_get(rec, "node"), "name"));
    return o;
}

static long long kmcp_record_index_of(const char *id)
{
    const char *d = id ? strrchr(id, '-') : NULL;
    char *e;
    long long v = d ? strtoll(d + 1, &e, 10) : -1;
    return d && *e == 0 && d[1] ? v : -1;
}


typedef struct page {
    size_t limit, bytes_cap, bytes, matched;
    long long after;           /* cursor: skip ids up to this index */
    const char **fields;
    size_t nfields;
    int l4;                    /* rows of conn/flow records */
    json_t *rows;
    int truncated;
    long long last_index;
    char reason[64];
} page;

static json_t *l4_row(json_t *rec)
{
    json_t *o = json_object();
    static const char *top[] = {"id", "timestamp", "protocol", "elapsed_time", "conn_state", "flow_state", "tcp_error_type",
                                "conn_local_bytes", "conn_remote_bytes", "conn_local_pkts", "conn_remote_pkts",
                                "flow_conns", "flow_local_bytes", "flow_remote_bytes", "conn_l7_detected", NULL};
    for (int i = 0; top[i]; i++) {
        json_t *v = json_object_get(rec, top[i]);
        if (v) json_object_set(o, top[i], v);
    }
    json_t *m = json_object_get(rec, "tcp_metrics");
    if (m) {
        json_t *mm = json_object();
        static const char *mk[] = {"retransmissions", "retransmission_rate", "rst_count", "initial_rtt_us", "handshake_time_us", NULL};
        for (int i = 0; mk[i]; i++) if (json_object_get(m, mk[i])) json_object_set(mm, mk[i], json_object_get(m, mk[i]));
        json_object_set_new(o, "tcp_metrics", mm);
    }
    json_object_set_new(o, "src", peer(json_object_get(rec, "src")));
    json_object_set_new(o, "dst", peer(json_object_get(rec, "dst")));
    return o;
}

static int page_line(void *arg, char *line, size_t len)
{
    page *p = arg;
    long long ix = kmcp_record_index(line, len);       /* before parsing: skipping is cheap */
    if (ix >= 0 && ix <= p->after) return 0;
    json_t *rec = json_loadb(line, len, 0, NULL);
    if (!rec) return 0;
    if (json_array_size(p->rows) >= p->limit) {
        p->truncated = 1;
        snprintf(p->reason, sizeof p->reason, "limit");
        json_decref(rec);
        return 1;
    }
    json_t *row;
    if (p->nfields) {
        row = json_object();
        for (size_t i = 0; i < p->nfields; i++) {
            json_t *v = pick(rec, p->fields[i]);
            if (v) set_path(row, p->fields[i], v);
        }
        if (!json_object_get(row, "id")) json_object_set(row, "id", json_object_get(rec, "id"));
    } else {
        row = p->l4 ? l4_row(rec) : compact(rec);
    }
    char *s = json_dumps(row, JSON_COMPACT);
    size_t n = s ? strlen(s) : 0;
    free(s);
    if (p->bytes + n > p->bytes_cap && json_array_size(p->rows) > 0) {
        json_decref(row);
        json_decref(rec);
        p->truncated = 1;
        snprintf(p->reason, sizeof p->reason, "bytes");
        return 1;
    }
    p->bytes += n;
    json_array_append_new(p->rows, row);
    p->last_index = ix >= 0 ? ix : p->last_index;
    json_decref(rec);
    return 0;
}

static int list_records(kmcp_req *req, targs *t, int l4)
{
    const char *name = arg_snapshot(t, "snapshot");
    const char *kfl = arg_str(t, "kfl");
    if (!kfl && !t->bad) kfl = arg_str(t, "filter");
    int64_t from = 0, to = 0;
    arg_time(t, "start_time", &from);
    arg_time(t, "end_time", &to);
    if (!from) arg_time(t, "start", &from);
    if (!to) arg_time(t, "end", &to);
    long long limit = arg_int(t, "limit", 100, 1, (long long)g_cfg.max_rows);
    const char *cursor = arg_str(t, "cursor");
    size_t nf = 0;
    const char **fields = arg_list(t, "fields", &nf);
    if (t->bad) { free(fields); return 0; }
    long long after = -1;
    if (cursor && *cursor) {
        char *e;
        if (strncmp(cursor, "after:", 6) || (after = strtoll(cursor + 6, &e, 10), *e) || after < 0) {
            free(fields);
            kmcp_result_error(t->res, "Argument 'cursor' is not one this server gave (use next_cursor of the previous page).");
            return 0;
        }
    }
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name);
    char *calls = need_dissection(t, nm);
    if (!calls) { free(fields); return 0; }
    if (check_kfl(req, t->res, kfl) < 0) { free(calls); free(fields); return 0; }
    char *expr = kfl_expr(l4 ? "(conn || flow)" : "!(conn || flow)", kfl, from, to);
    page p = {.limit = (size_t)limit, .bytes_cap = g_cfg.max_bytes - 4096, .after = after, .fields = fields, .nfields = nf,
              .l4 = l4, .rows = json_array(), .last_index = after};
    /* after a cursor, kfl reads from the gzip member holding the next record on */
    char *av[] = {"kfl", expr, "-", NULL};
    kmcp_run r = {.argv = {av}, .nstages = 1, .out_fd = -1, .on_line = page_line, .arg = &p, .req = req, .timeout_s = 3600,
                  .in_path = calls, .in_offset = after >= 0 ? kmcp_dissect_offset(nm, after + 1) : 0};
    int rc = kmcp_run_pipeline(&r);
    if (rc < 0 || r.cancelled || (!r.stopped && r.status[0] != 0 && r.status[0] != 1)) {
        char *m = kmcp_run_message(&r);
        kmcp_result_error(t->res, r.cancelled ? "Cancelled." : "kfl failed: %s", m);
        free(m);
        json_decref(p.rows);
    } else {
        size_t n = json_array_size(p.rows);
        json_t *o = json_pack("{s:s, s:o, s:I, s:b}", "snapshot", nm, l4 ? "flows" : "calls", p.rows, "count", (json_int_t)n,
                              "truncated", p.truncated);
        char cur[48];
        snprintf(cur, sizeof cur, "after:%lld", p.last_index);
        if (p.truncated) {
            json_object_set_new(o, "next_cursor", json_string(cur));
            json_object_set_new(o, "truncated_by", json_string(p.reason));
        }
        json_object_set_new(o, "kfl", json_string(kfl ? kfl : ""));
        ok(t->res, o, "%zu %s%s%s.", n, l4 ? "L4 record(s)" : "API call(s)", p.truncated ? "; more: pass cursor=" : "",
           p.truncated ? cur : "");
    }
    kmcp_run_free(&r);
    free(expr);
    free(calls);
    free(fields);
    return 0;
}

static int t_list_api_calls(kmcp_req *req, targs *t) { return list_records(req, t, 0); }
static int t_list_l4_flows(kmcp_req *req, targs *t) { return list_records(req, t, 1); }

typedef struct one { const char *id; json_t *rec; } one;
static int one_line(void *arg, char *line, size_t len)
{
    one *o = arg;
    json_t *rec = json_loadb(line, len, 0, NULL);
    if (rec && !strcmp(json_string_value(json_object_get(rec, "id")) ? json_string_value(json_object_get(rec, "id")) : "", o->id)) {
        o->rec = rec;
        return 1;
    }
    json_decref(rec);
    return 0;
}

static int t_get_api_call(kmcp_req *req, targs *t)
{
    const char *name = arg_snapshot(t, "snapshot");
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name ? name : "");
    const char *id = arg_str(t, "id");
    if (t->bad) return 0;
    if (!id || !*id || strlen(id) > 64 || strspn(id, "0123456789abcdefABCDEF-") != strlen(id)) {
        kmcp_result_error(t->res, "Argument 'id' must be a call's id as list_api_calls gives it (hex digits, '-', digits).");
        return 0;
    }
    char *calls = need_dissection(t, nm);
    if (!calls) return 0;
    char *expr = NULL;
    if (asprintf(&expr, "id == \"%s\"", id) < 0) { free(calls); return 0; }
    one o = {id, NULL};
    /* from the gzip member that holds it (index.tsv), not from the start */
    char *av[] = {"kfl", "-m", "1", expr, "-", NULL};
    long long ix = kmcp_record_index_of(id);
    kmcp_run r = {.argv = {av}, .nstages = 1, .out_fd = -1, .on_line = one_line, .arg = &o, .req = req, .timeout_s = 3600,
                  .in_path = calls, .in_offset = ix >= 0 ? kmcp_dissect_offset(nm, ix) : 0};
    kmcp_run_pipeline(&r);
    if (r.cancelled) kmcp_result_error(t->res, "Cancelled.");
    else if (!o.rec) kmcp_result_error(t->res, "No call with id '%s' in snapshot '%s'.", id, nm);
    else {
        char *s = json_dumps(o.rec, JSON_COMPACT);
        size_t n = s ? strlen(s) : 0;
        free(s);
        int cut = 0;
        if (n > g_cfg.max_bytes) {     /* bodies are what makes a record big */
            const char *side[] = {"request", "response"};
            for (int i = 0; i < 2; i++) {
                json_t *m = json_object_get(o.rec, side[i]);
                if (json_object_get(m, "body")) { json_object_set_new(m, "body", json_string("(left out: over the size cap)")); cut = 1; }
            }
        }
        json_t *out = json_pack("{s:s, s:o, s:b}", "snapshot", nm, "call", o.rec, "truncated", cut);
        json_t *rec = json_object_get(out, "call");
        const char *proto = json_string_value(json_object_get(rec, "protocol"));
        ok(t->res, out, "%s call %s at %s: %s -> %s%s.", proto ? proto : "?", id,
           json_string_value(json_object_get(rec, "timestamp")) ? json_string_value(json_object_get(rec, "timestamp")) : "?",
           json_string_value(json_object_get(json_object_get(rec, "src"), "name")) ? json_string_value(json_object_get(json_object_get(rec, "src"), "name")) : "?",
           json_string_value(json_object_get(json_object_get(rec, "dst"), "name")) ? json_string_value(json_object_get(json_object_get(rec, "dst"), "name")) : "?",
           cut ? " (bodies left out: over the size cap)" : "");
    }
    kmcp_run_free(&r);
    free(expr);
    free(calls);
    return 0;
}

/* ------------------------------------------------------------------ kstat */
typedef struct lines { json_t *arr; size_t cap, bytes, bytes_cap; int truncated; } lines;
static int json_line(void *arg, char *line, size_t len)
{
    lines *l = arg;
    if (json_array_size(l->arr) >= l->cap || l->bytes + len > l->bytes_cap) { l->truncated = 1; return 1; }
    json_t *v = json_loadb(line, len, 0, NULL);
    if (v) { json_array_append_new(l->arr, v); l->bytes += len; }
    return 0;
}

/* kfl EXPR calls | kstat ARGS… -  (or kstat ARGS… calls when no filter) */
static int run_kstat(kmcp_req *req, targs *t, char **kargs, int nk, const char *calls, const char *expr, lines *l, kmcp_buf *whole)
{
    char *kfl[] = {"kfl", (char *)expr, (char *)calls, NULL};
    char *ks[40];
    int k = 0;
    ks[k++] = "kstat";
    for (int i = 0; i < nk && k < 37; i++) ks[k++] = kargs[i];
    ks[k++] = expr ? "-" : (char *)calls;
    ks[k] = NULL;
    kmcp_run r = {.nstages = expr ? 2 : 1, .out_fd = -1, .req = req, .timeout_s = 3600};
    if (expr) { r.argv[0] = kfl; r.argv[1] = ks; } else r.argv[0] = ks;
    if (l) { r.on_line = json_line; r.arg = l; } else { r.on_line = collect_line; r.arg = whole; }
    int rc = kmcp_run_pipeline(&r);
    int last = r.nstages - 1;
    /* kfl exits 1 when nothing matched: kstat then saw no record (its own exit decides) */
    if (rc < 0 || r.cancelled || (!r.stopped && (r.status[last] < 0 || r.status[last] > 1 || (expr && r.status[0] > 1)))) {
        /* kstat's whole message: a bad --by expression comes with its caret lines */
        const char *m = r.err.p ? r.err.p : "";
        size_t n = strlen(m);
        while (n && m[n - 1] == '\n') n--;
        if (r.cancelled) kmcp_result_error(t->res, "Cancelled.");
        else if (!n) kmcp_result_error(t->res, "kstat failed without a message.");
        else kmcp_result_error(t->res, "%.*s", (int)n, m);
        kmcp_run_free(&r);
        return -1;
    }
    kmcp_run_free(&r);
    return 0;
}

static int window_args(targs *t, int64_t *from, int64_t *to)
{
    arg_time(t, "start_time", from);
    arg_time(t, "end_time", to);
    if (!*from) arg_time(t, "start", from);
    if (!*to) arg_time(t, "end", to);
    return t->bad ? -1 : 0;
}

static int t_get_api_stats(kmcp_req *req, targs *t)
{
    const char *name = arg_snapshot(t, "snapshot");
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name ? name : "");
    const char *kfl = arg_str(t, "kfl");
    size_t nb = 0;
    const char **by = arg_list(t, "group_by", &nb);
    const char *sort = arg_str(t, "sort");
    const char *every = arg_str(t, "every");
    long long top = arg_int(t, "top", 50, 1, (long long)g_cfg.max_rows);
    int64_t from = 0, to = 0;
    window_args(t, &from, &to);
    if (t->bad) { free(by); return 0; }
    static const char *sorts[] = {"calls", "rate", "errors", "error_ratio", "p50", "p90", "p95", "p99", "max", NULL};
    if (sort) {
        int okk = 0;
        for (int i = 0; sorts[i]; i++) okk |= !strcmp(sort, sorts[i]);
        if (!okk) { free(by); kmcp_result_error(t->res, "Argument 'sort' must be one of calls, rate, errors, error_ratio, p50, p90, p95, p99, max."); return 0; }
    }
    char *calls = need_dissection(t, nm);
    if (!calls) { free(by); return 0; }
    if (check_kfl(req, t->res, kfl) < 0) { free(by); free(calls); return 0; }
    char *byj = NULL;
    for (size_t i = 0; i < nb; i++) {
        char *n;
        if (asprintf(&n, "%s%s%s", byj ? byj : "", byj ? "," : "", by[i]) < 0) break;
        free(byj);
        byj = n;
    }
    char topb[24];
    snprintf(topb, sizeof topb, "%lld", top);
    char *ka[16];
    int k = 0;
    ka[k++] = "--json";
    ka[k++] = "--top"; ka[k++] = topb;
    ka[k++] = "--sort"; ka[k++] = (char *)(sort ? sort : "calls");
    if (byj) { ka[k++] = "--by"; ka[k++] = byj; }
    if (every && *every) { ka[k++] = "--every"; ka[k++] = (char *)every; }
    char *expr = (kfl && *kfl) || from || to ? kfl_expr(NULL, kfl, from, to) : NULL;
    lines l = {.arr = json_array(), .cap = g_cfg.max_rows, .bytes_cap = g_cfg.max_bytes - 4096};
    if (run_kstat(req, t, ka, k, calls, expr, &l, NULL) == 0) {
        size_t n = json_array_size(l.arr);
        json_t *o = json_pack("{s:s, s:o, s:b}", "snapshot", nm, "groups", l.arr, "truncated", l.truncated);
        json_t *g0 = json_array_get(json_object_get(o, "groups"), 0);
        char first[300] = "";
        if (g0) {
            char *ks = json_dumps(json_object_get(g0, "key"), JSON_COMPACT);
            snprintf(first, sizeof first, " First: %s, %lld calls, %lld errors, p99 %lld us.", ks ? ks : "",
                     (long long)json_integer_value(json_object_get(g0, "calls")), (long long)json_integer_value(json_object_get(g0, "errors")),
                     (long long)json_integer_value(json_object_get(g0, "p99_us")));
            free(ks);
        }
        ok(t->res, o, "%zu group(s), sorted by %s.%s", n, sort ? sort : "calls", first);
    } else {
        json_decref(l.arr);
    }
    free(expr);
    free(byj);
    free(by);
    free(calls);
    return 0;
}

static int t_get_service_map(kmcp_req *req, targs *t)
{
    const char *name = arg_snapshot(t, "snapshot");
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name ? name : "");
    const char *kfl = arg_str(t, "kfl");
    long long top = arg_int(t, "top_edges", 100, 1, (long long)g_cfg.max_rows);
    int64_t from = 0, to = 0;
    window_args(t, &from, &to);
    if (t->bad) return 0;
    char *calls = need_dissection(t, nm);
    if (!calls) return 0;
    if (check_kfl(req, t->res, kfl) < 0) { free(calls); return 0; }
    char topb[24];
    snprintf(topb, sizeof topb, "%lld", top);
    char *ka[] = {"map", "--format", "json", "--top-edges", topb};
    char *expr = (kfl && *kfl) || from || to ? kfl_expr(NULL, kfl, from, to) : NULL;
    kmcp_buf b = {0};
    if (run_kstat(req, t, ka, 5, calls, expr, NULL, &b) == 0) {
        json_t *m = load_json(b.p);
        if (!json_is_object(m)) { json_decref(m); kmcp_result_error(t->res, "kstat map gave no JSON."); }
        else {
            json_object_set_new(m, "snapshot", json_string(nm));
            ok(t->res, m, "Service map: %zu node(s), %zu edge(s).", json_array_size(json_object_get(m, "nodes")),
               json_array_size(json_object_get(m, "edges")));
        }
    }
    kmcp_buf_free(&b);
    free(expr);
    free(calls);
    return 0;
}

/* ------------------------------------------------------------------ workloads and IPs */
static int resolve(kmcp_req *req, targs *t, int ips)
{
    const char *name = arg_snapshot(t, "snapshot");
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name ? name : "");
    const char *wname = arg_str(t, ips ? "__none" : "name");
    const char *ns = arg_str(t, "namespace");
    size_t nns = 0, nl = 0, nip = 0;
    const char **nss = arg_list(t, "namespaces", &nns);
    const char *rx = arg_str(t, "name_regex");
    const char *type = arg_str(t, "type");
    const char *ip = arg_str(t, ips ? "ip" : "__none");
    const char **ipl = ips ? arg_list(t, "ips", &nip) : NULL;
    const char **labels = NULL;
    json_t *lv = json_object_get(t->a, "labels");
    int64_t at = 0;
    int hat = arg_time(t, "at", &at);
    long long limit = arg_int(t, "limit", 200, 1, (long long)g_cfg.max_rows);
    if (json_is_object(lv)) {          /* {"app":"orders"} -> app=orders */
        labels = calloc(json_object_size(lv) + 1, sizeof *labels);
        const char *k;
        json_t *v;
        json_object_foreach(lv, k, v) {
            char *s = NULL;
            if (json_is_string(v) && *json_string_value(v)) { if (asprintf(&s, "%s=%s", k, json_string_value(v)) < 0) s = NULL; }
            else s = strdup(k);
            labels[nl++] = s;
        }
    } else if (lv && !json_is_null(lv)) {
        const char **l0 = arg_list(t, "labels", &nl);
        labels = calloc(nl + 1, sizeof *labels);
        for (size_t i = 0; i < nl; i++) labels[i] = strdup(l0[i]);
        free(l0);
    }
    char *av[96];
    int k = 0;
    char *snap = t->bad ? NULL : existing_snapshot(t, nm);
    if (type && strcmp(type, "pod") && strcmp(type, "service") && strcmp(type, "node") && !t->bad) {
        kmcp_result_error(t->res, "Argument 'type' must be pod, service or node.");
        t->bad = 1;
    }
    if (t->bad || !snap) goto out;
    av[k++] = "kresolve"; av[k++] = ips ? "ips" : "workloads"; av[k++] = snap; av[k++] = "--json";
    if (wname) { av[k++] = "--name"; av[k++] = (char *)wname; }
    if (ns) { av[k++] = "--namespace"; av[k++] = (char *)ns; }
    for (size_t i = 0; i < nns && k < 60; i++) { av[k++] = "--namespace"; av[k++] = (char *)nss[i]; }
    if (rx) { av[k++] = "--name-regex"; av[k++] = (char *)rx; }
    if (type) { av[k++] = "--type"; av[k++] = (char *)type; }
    if (ip) { av[k++] = "--ip"; av[k++] = (char *)ip; }
    for (size_t i = 0; i < nip && k < 76; i++) { av[k++] = "--ip"; av[k++] = (char *)ipl[i]; }
    for (size_t i = 0; i < nl && k < 90; i++) { av[k++] = "--label"; av[k++] = (char *)labels[i]; }
    char atb[40];
    if (hat > 0) { av[k++] = "--at"; av[k++] = rfc(at, atb); }
    av[k] = NULL;
    lines l = {.arr = json_array(), .cap = (size_t)limit, .bytes_cap = g_cfg.max_bytes - 4096};
    kmcp_run r = {.argv = {av}, .nstages = 1, .out_fd = -1, .on_line = json_line, .arg = &l, .req = req, .timeout_s = 600};
    int rc = kmcp_run_pipeline(&r);
    if (rc < 0 || r.cancelled || (!r.stopped && r.status[0] != 0 && r.status[0] != 1)) {
        char *m = kmcp_run_message(&r);
        kmcp_result_error(t->res, r.cancelled ? "Cancelled." : "%s", m);
        free(m);
        json_decref(l.arr);
    } else {
        size_t n = json_array_size(l.arr);
        json_t *o = json_pack("{s:s, s:o, s:b}", "snapshot", nm, ips ? "ips" : "workloads", l.arr, "truncated", l.truncated);
        if (ips) {
            size_t reused = 0;
            json_t *e;
            size_t i;
            json_array_foreach(json_object_get(o, "ips"), i, e) reused += json_array_size(json_object_get(e, "records")) > 1;
            ok(t->res, o, "%zu IP(s)%s; %zu held by more than one workload over time (see each record's from/to).", n,
               l.truncated ? " (truncated)" : "", reused);
        } else {
            ok(t->res, o, "%zu workload(s)%s.", n, l.truncated ? " (truncated)" : "");
        }
    }
    kmcp_run_free(&r);
out:
    free(snap);
    free(nss);
    free(ipl);
    for (size_t i = 0; i < nl; i++) free((char *)labels[i]);
    free(labels);
    return 0;
}
static int t_list_workloads(kmcp_req *req, targs *t) { return resolve(req, t, 0); }
static int t_list_ips(kmcp_req *req, targs *t) { return resolve(req, t, 1); }

/* ------------------------------------------------------------------ L4 summary */
typedef struct talker { char *key; json_int_t conns, bytes, resets, retrans, segs; } talker;
typedef struct l4sum {
    json_int_t conns, tcp, udp, flows, bytes, resets, refused, timeouts, retrans, data_segs;
    talker *t;
    size_t nt, capt;
    int64_t *rtt;
    size_t nrtt, caprtt;
    json_t *errors;      /* tcp_error_type -> count */
} l4sum;

static talker *talker_get(l4sum *s, const char *key)
{
    for (size_t i = 0; i < s->nt; i++) if (!strcmp(s->t[i].key, key)) return &s->t[i];
    if (s->nt >= 100000) return NULL;
    if (s->nt == s->capt) { s->capt = s->capt ? s->capt * 2 : 64; s->t = realloc(s->t, s->capt * sizeof *s->t); }
    talker *t = &s->t[s->nt++];
    memset(t, 0, sizeof *t);
    t->key = strdup(key);
    return t;
}

static const char *ep_name(json_t *e, char *b, size_t n)
{
    const char *ns = json_string_value(json_object_get(e, "namespace"));
    json_t *own = json_object_get(json_object_get(json_object_get(e, "pod"), "owner"), "name");
    const char *nm = own ? json_string_value(own) : json_string_value(json_object_get(e, "name"));
    if (nm && *nm) snprintf(b, n, "%s%s%s", ns && *ns ? ns : "", ns && *ns ? "/" : "", nm);
    else snprintf(b, n, "%s", json_string_value(json_object_get(e, "ip")) ? json_string_value(json_object_get(e, "ip")) : "?");
    return b;
}

static int sum_line(void *arg, char *line, size_t len)
{
    l4sum *s = arg;
    json_t *r = json_loadb(line, len, 0, NULL);
    if (!r) return 0;
    if (json_is_true(json_object_get(r, "flow"))) { s->flows++; json_decref(r); return 0; }
    s->conns++;
    int tcp = json_is_true(json_object_get(r, "tcp"));
    if (tcp) s->tcp++; else s->udp++;
    json_int_t by = json_integer_value(json_object_get(r, "conn_local_bytes")) + json_integer_value(json_object_get(r, "conn_remote_bytes"));
    s->bytes += by;
    json_t *m = json_object_get(r, "tcp_metrics");
    json_int_t rst = json_integer_value(json_object_get(m, "rst_count"));
    json_int_t re = json_integer_value(json_object_get(m, "retransmissions"));
    double rate = json_number_value(json_object_get(m, "retransmission_rate"));
    json_int_t segs = rate > 0 ? (json_int_t)(re / rate + 0.5) : 0;
    const char *et = json_string_value(json_object_get(r, "tcp_error_type"));
    if (et) {
        json_object_set_new(s->errors, et, json_integer(json_integer_value(json_object_get(s->errors, et)) + 1));
        if (!strcmp(et, "reset")) s->resets++;
        if (!strcmp(et, "refused")) s->refused++;
        if (!strcmp(et, "timeout")) s->timeouts++;
    }
    s->retrans += re;
    s->data_segs += segs;
    json_t *rtt = json_object_get(m, "initial_rtt_us");
    if (json_is_integer(rtt) && json_integer_value(rtt) > 0 && s->nrtt < 1000000) {
        if (s->nrtt == s->caprtt) { s->caprtt = s->caprtt ? s->caprtt * 2 : 256; s->rtt = realloc(s->rtt, s->caprtt * sizeof *s->rtt); }
        s->rtt[s->nrtt++] = json_integer_value(rtt);
    }
    char a[200], b[200], key[420];
    json_t *dst = json_object_get(r, "dst");
    snprintf(key, sizeof key, "%s -> %s:%lld", ep_name(json_object_get(r, "src"), a, sizeof a), ep_name(dst, b, sizeof b),
             (long long)json_integer_value(json_object_get(dst, "port")));
    talker *t = talker_get(s, key);
    if (t) {
        t->conns++;
        t->bytes += by;
        t->resets += (et && (!strcmp(et, "reset") || !strcmp(et, "refused"))) || rst > 0;
        t->retrans += re;
        t->segs += segs;
    }
    json_decref(r);
    return 0;
}

static int cmp64(const void *a, const void *b) { int64_t x = *(const int64_t *)a, y = *(const int64_t *)b; return (x > y) - (x < y); }
static int by_bytes(const void *a, const void *b) { const talker *x = a, *y = b; return (y->bytes > x->bytes) - (y->bytes < x->bytes); }
static int by_resets(const void *a, const void *b) { const talker *x = a, *y = b; return (y->resets > x->resets) - (y->resets < x->resets); }
static int by_retr(const void *a, const void *b)
{
    const talker *x = a, *y = b;
    double rx = x->segs ? (double)x->retrans / x->segs : 0, ry = y->segs ? (double)y->retrans / y->segs : 0;
    return (ry > rx) - (ry < rx);
}

static json_t *talkers(l4sum *s, int (*cmp)(const void *, const void *), size_t top, int what)
{
    qsort(s->t, s->nt, sizeof *s->t, cmp);
    json_t *a = json_array();
    for (size_t i = 0; i < s->nt && json_array_size(a) < top; i++) {
        talker *t = &s->t[i];
        if (what == 1 && !t->resets) break;
        if (what == 2 && !t->retrans) break;
        json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:I, s:I, s:f}", "pair", t->key, "connections", t->conns, "bytes", t->bytes,
                                           "resets", t->resets, "retransmissions", t->retrans,
                                           "retransmission_rate", t->segs ? (double)t->retrans / t->segs : 0.0));
    }
    return a;
}

static int t_l4_summary(kmcp_req *req, targs *t)
{
    const char *name = arg_snapshot(t, "snapshot");
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name ? name : "");
    const char *kfl = arg_str(t, "kfl");
    long long top = arg_int(t, "top", 10, 1, 100);
    int64_t from = 0, to = 0;
    window_args(t, &from, &to);
    if (t->bad) return 0;
    char *calls = need_dissection(t, nm);
    if (!calls) return 0;
    if (check_kfl(req, t->res, kfl) < 0) { free(calls); return 0; }
    char *expr = kfl_expr("(conn || flow)", kfl, from, to);
    l4sum s = {.errors = json_object()};
    char *av[] = {"kfl", expr, calls, NULL};
    kmcp_run r = {.argv = {av}, .nstages = 1, .out_fd = -1, .on_line = sum_line, .arg = &s, .req = req, .timeout_s = 3600};
    int rc = kmcp_run_pipeline(&r);
    if (rc < 0 || r.cancelled || (r.status[0] != 0 && r.status[0] != 1)) {
        char *m = kmcp_run_message(&r);
        kmcp_result_error(t->res, r.cancelled ? "Cancelled." : "kfl failed: %s", m);
        free(m);
        json_decref(s.errors);
    } else {
        qsort(s.rtt, s.nrtt, sizeof *s.rtt, cmp64);
        json_t *rtt = json_object();
        if (s.nrtt) {
            static const struct { const char *k; double q; } qs[] = {{"p50_us", .5}, {"p90_us", .9}, {"p99_us", .99}, {"max_us", 1}};
            for (int i = 0; i < 4; i++) {
                size_t ix = (size_t)(qs[i].q * (double)(s.nrtt - 1) + 0.5);
                json_object_set_new(rtt, qs[i].k, json_integer(s.rtt[ix]));
            }
            json_object_set_new(rtt, "samples", json_integer((json_int_t)s.nrtt));
        }
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:o}, s:{s:I, s:I, s:f}, s:o}",
                              "snapshot", nm, "connections", s.conns, "tcp_connections", s.tcp, "udp_connections", s.udp,
                              "flow_records", s.flows, "bytes", s.bytes,
                              "tcp_errors", "resets", s.resets, "refused", s.refused, "timeouts", s.timeouts, "by_type", s.errors,
                              "retransmissions", "segments", s.retrans, "data_segments", s.data_segs,
                              "rate", s.data_segs ? (double)s.retrans / s.data_segs : 0.0,
                              "handshake_rtt", rtt);
        json_object_set_new(o, "top_talkers", talkers(&s, by_bytes, (size_t)top, 0));
        json_object_set_new(o, "top_resets", talkers(&s, by_resets, (size_t)top, 1));
        json_object_set_new(o, "top_retransmissions", talkers(&s, by_retr, (size_t)top, 2));
        ok(t->res, o, "%lld connection(s), %lld reset, %lld refused, retransmission rate %.2f%%, handshake RTT p50 %lld us.",
           (long long)s.conns, (long long)s.resets, (long long)s.refused, s.data_segs ? 100.0 * s.retrans / s.data_segs : 0.0,
           (long long)json_integer_value(json_object_get(rtt, "p50_us")));
    }
    for (size_t i = 0; i < s.nt; i++) free(s.t[i].key);
    free(s.t);
    free(s.rtt);
    kmcp_run_free(&r);
    free(expr);
    free(calls);
    return 0;
}

/* ------------------------------------------------------------------ PCAP export */
static int sha256_file(const char *path, char hex[65], long long *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    kf_sha256 *c = kf_sha256_new();
    if (!c) { close(fd); return -1; }
    char buf[1 << 16];
    ssize_t n;
    *size = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) { kf_sha256_update(c, buf, (size_t)n); *size += n; }
    close(fd);
    uint8_t d[32];
    int rc = n < 0 || kf_sha256_final(c, d) != 0 ? -1 : 0;
    kf_sha256_free(c);
    if (!rc) kf_sha256_hex(d, hex);
    return rc;
}

static int t_export_pcap(kmcp_req *req, targs *t)
{
    const char *name = arg_snapshot(t, "snapshot");
    char nm[160];
    snprintf(nm, sizeof nm, "%s", name ? name : "");
    const char *out = arg_str(t, "output");
    const char *bpf = arg_str(t, "bpf_filter");
    const char *kfl = arg_str(t, "kfl");
    const char *scope = arg_str(t, "scope");
    const char *fmt = arg_str(t, "format");
    size_t nn = 0, nw = 0, ni = 0;
    const char **nodes = arg_list(t, "nodes", &nn);
    const char **wls = arg_list(t, "workloads", &nw);
    const char **ips = arg_list(t, "ips", &ni);
    int64_t from = 0, to = 0;
    window_args(t, &from, &to);
    char *snap = NULL, *calls = NULL, *expr = NULL, *path = NULL, *tmp = NULL;
    int tfd = -1;
    if (t->bad) goto out;
    if (fmt && strcmp(fmt, "pcapng") && strcmp(fmt, "pcap")) { kmcp_result_error(t->res, "Argument 'format' must be pcapng or pcap."); goto out; }
    if (scope && strcmp(scope, "conn") && strcmp(scope, "whole") && strcmp(scope, "call")) { kmcp_result_error(t->res, "Argument 'scope' must be conn, whole or call."); goto out; }
    const char *ext = fmt && !strcmp(fmt, "pcap") ? ".pcap" : ".pcapng";
    char gen[200];
    if (!out) {
        time_t sec = (time_t)(kf_now_ns() / KF_NS_PER_SEC);
        struct tm tm;
        gmtime_r(&sec, &tm);
        char ts[40];
        strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(gen, sizeof gen, "%s-%s", nm, ts);
    } else {
        size_t l = strlen(out), el = strlen(ext);
        snprintf(gen, sizeof gen, "%.*s", (int)(l > el && !strcmp(out + l - el, ext) ? l - el : l), out);
    }
    if (!kmcp_valid_name(gen)) { kmcp_result_error(t->res, "Output name '%.80s' is not valid: a file name (letters, digits, '.', '_', '-') inside the export folder.", out ? out : gen); goto out; }
    snap = existing_snapshot(t, nm);
    if (!snap) goto out;
    if (kfl && *kfl) {
        calls = need_dissection(t, nm);
        if (!calls) goto out;
        if (check_kfl(req, t->res, kfl) < 0) goto out;
        expr = kfl_expr("!(conn || flow)", kfl, 0, 0);
    }
    if (asprintf(&path, "%s/%s%s", g_cfg.exportdir, gen, ext) < 0 || asprintf(&tmp, "%s/.%s%s.tmp", g_cfg.exportdir, gen, ext) < 0) goto out;
    char *kx[96], b1[40], b2[40];
    int k = 0;
    kx[k++] = "kexport"; kx[k++] = snap;
    if (bpf && *bpf) { kx[k++] = "-f"; kx[k++] = (char *)bpf; }
    if (from) { kx[k++] = "--from"; kx[k++] = rfc(from, b1); }
    if (to) { kx[k++] = "--to"; kx[k++] = rfc(to, b2); }
    for (size_t i = 0; i < nn && k < 40; i++) { kx[k++] = "--node"; kx[k++] = (char *)nodes[i]; }
    for (size_t i = 0; i < nw && k < 60; i++) { kx[k++] = "--workload"; kx[k++] = (char *)wls[i]; }
    for (size_t i = 0; i < ni && k < 80; i++) { kx[k++] = "--ip"; kx[k++] = (char *)ips[i]; }
    if (expr) { kx[k++] = "--calls"; kx[k++] = "-"; if (scope) { kx[k++] = "--scope"; kx[k++] = (char *)scope; } }
    kx[k++] = "-F"; kx[k++] = (char *)(ext + 1);
    kx[k++] = "--stats";
    kx[k] = NULL;
    /* kexport writes standard output into our temporary file, renamed when complete */
    tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (tfd < 0) { kmcp_result_error(t->res, "Cannot write in the export folder: %s.", strerror(errno)); goto out; }
    char *kf[] = {"kfl", expr, calls, NULL};
    kmcp_run r = {.nstages = expr ? 2 : 1, .out_fd = tfd, .req = req, .timeout_s = 3600};
    if (expr) { r.argv[0] = kf; r.argv[1] = kx; } else r.argv[0] = kx;
    kmcp_progress(req, 0.5, 0, "exporting packets");
    int rc = kmcp_run_pipeline(&r);
    int last = r.nstages - 1;
    int wr = fsync(tfd);
    close(tfd);
    tfd = -1;
    if (rc < 0 || r.cancelled || r.timed_out || wr < 0 || r.status[last] < 0 || r.status[last] > 1 || (expr && r.status[0] > 1)) {
        char *m = kmcp_run_message(&r);
        unlink(tmp);
        kmcp_result_error(t->res, r.cancelled ? "Cancelled: nothing was written." : "The export failed: %s", m && *m ? m : "kexport failed");
        free(m);
        kmcp_run_free(&r);
        goto out;
    }
    /* packets written, from kexport --stats: "kexport: read N packets, matched M, wrote W (…)" */
    long long written = -1;
    const char *w = r.err.p ? strstr(r.err.p, ", wrote ") : NULL;
    if (w) written = strtoll(w + 8, NULL, 10);
    kmcp_run_free(&r);
    if (rename(tmp, path) < 0) { unlink(tmp); kmcp_result_error(t->res, "Cannot rename the export into place: %s.", strerror(errno)); goto out; }
    char hex[65];
    long long size = 0;
    if (sha256_file(path, hex, &size) < 0) { kmcp_result_error(t->res, "Cannot read the export back: %s.", strerror(errno)); goto out; }
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "snapshot", nm, "path", path, "file", strrchr(path, '/') + 1,
                          "size", (json_int_t)size, "packets", (json_int_t)written, "sha256", hex, "format", ext + 1);
    if (kfl && *kfl) json_object_set_new(o, "kfl", json_string(kfl));
    ok(t->res, o, written == 0 ? "No packet matched; an empty capture was written to %s." : "Wrote %s: %lld packets, %lld bytes, sha256 %s.",
       path, written, size, hex);
    if (written == 0) {
        free(t->res->text);
        if (asprintf(&t->res->text, "No packet matched; an empty capture was written to %s.", path) < 0) t->res->text = NULL;
    }
out:
    if (tfd >= 0) { close(tfd); unlink(tmp); }
    free(nodes); free(wls); free(ips);
    free(snap); free(calls); free(expr); free(path); free(tmp);
    return 0;
}

/* ------------------------------------------------------------------ the table */
typedef struct tool {
    const char *name, *title, *desc, *schema;
    int read_only, destructive;
    int (*fn)(kmcp_req *, targs *);
} tool;

#define SNAP_ARG "\"snapshot\":{\"type\":\"string\",\"description\":\"snapshot name (as list_snapshots shows it)\"}"
#define TIME_ARGS "\"start_time\":{\"type\":[\"string\",\"integer\"],\"description\":\"window start: RFC 3339 (2026-03-14T17:05:00Z), local time, Unix time (s/ms/ns by digits) or relative (-15m, 2h ago)\"}," \
                  "\"end_time\":{\"type\":[\"string\",\"integer\"],\"description\":\"window end, same forms\"}"
#define KFL_ARG "\"kfl\":{\"type\":\"string\",\"description\":\"KFL filter, e.g. http && status_code >= 500 (fields: docs/schema.md)\"}"

static const tool tools[] = {
    {"get_data_boundaries", "Data boundaries", "Oldest and newest captured packet per node and cluster-wide in the capture store (UTC), with segments, bytes, packets and drops. Snapshots can only cover this range.",
     "{\"type\":\"object\",\"properties\":{}}", 1, 0, t_get_data_boundaries},
    {"create_snapshot", "Create snapshot", "Freeze a time window of the capture store (all nodes or some, optionally a BPF filter) into a hash-verified snapshot in the snapshots folder. Give start_time and end_time (take the incident window with a buffer) or a duration ending now.",
     "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"description\":\"snapshot name (letters, digits, . _ -); default snapshot-<UTC time>\"}," TIME_ARGS ",\"duration\":{\"type\":\"string\",\"description\":\"instead of start_time: e.g. 30m, 1h\"},\"nodes\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"bpf_filter\":{\"type\":\"string\",\"description\":\"tcpdump filter syntax\"}}}", 0, 0, t_create_snapshot},
    {"list_snapshots", "List snapshots", "Every snapshot in the snapshots folder: name, size, window, nodes, packets, dissection status.",
     "{\"type\":\"object\",\"properties\":{}}", 1, 0, t_list_snapshots},
    {"get_snapshot", "Get snapshot", "A snapshot's manifest (window, nodes, members) and its verification: every member's sha256 recomputed (verify=false skips that).",
     "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"verify\":{\"type\":\"boolean\",\"default\":true}},\"required\":[\"name\"]}", 1, 0, t_get_snapshot},
    {"delete_snapshot", "Delete snapshot", "Delete a snapshot and its dissection (a running dissection is stopped first).",
     "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}", 0, 1, t_delete_snapshot},
    {"start_snapshot_dissection", "Start dissection", "Dissect a snapshot in the background (verification, then every API call and connection as a record, then statistics), once per snapshot; kept beside it across restarts of the server. list_api_calls, get_api_call, get_api_stats, get_service_map and the L4 tools need it. wait_seconds waits with progress notifications.",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG ",\"wait_seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":600}},\"required\":[\"snapshot\"]}", 0, 0, t_start_dissection},
    {"get_snapshot_dissection_status", "Dissection status", "Status of a snapshot's dissection: not_started, running (phase, progress 0..1, records so far), completed (counts), failed or cancelled (why). wait_seconds waits for the end with progress notifications.",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG ",\"wait_seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":600}},\"required\":[\"snapshot\"]}", 1, 0, t_dissection_status},
    {"list_snapshot_dissections", "List dissections", "Every dissection, completed or running, with its status.",
     "{\"type\":\"object\",\"properties\":{}}", 1, 0, t_list_dissections},
    {"list_api_calls", "List API calls", "API calls of a dissected snapshot matching a KFL filter and time window, in time order, as small rows (id, time, protocol, method/path/status, elapsed_time in microseconds, src/dst); get_api_call gives the whole record. Pages: limit rows, then next_cursor.",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG "," KFL_ARG "," TIME_ARGS ",\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":100},\"cursor\":{\"type\":\"string\",\"description\":\"next_cursor of the previous page\"},\"fields\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"return these record fields (dotted paths, e.g. request.headers.host) instead of the default row\"}},\"required\":[\"snapshot\"]}", 1, 0, t_list_api_calls},
    {"get_api_call", "Get API call", "One whole record (headers, bodies, timing, Kubernetes context, where its packets are) by id.",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG ",\"id\":{\"type\":\"string\"}},\"required\":[\"snapshot\",\"id\"]}", 1, 0, t_get_api_call},
    {"get_api_stats", "API statistics", "kstat's groups over a dissected snapshot (by default per protocol, source, destination and endpoint): calls, rate, errors, error_ratio, p50/p90/p95/p99/max latency in microseconds, bytes, first/last. Optional KFL filter, time window, group_by (KFL expressions), sort, top, every (time buckets).",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG "," KFL_ARG "," TIME_ARGS ",\"group_by\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"sort\":{\"type\":\"string\",\"enum\":[\"calls\",\"rate\",\"errors\",\"error_ratio\",\"p50\",\"p90\",\"p95\",\"p99\",\"max\"]},\"top\":{\"type\":\"integer\",\"minimum\":1},\"every\":{\"type\":\"string\",\"description\":\"bucket width, e.g. 1m\"}},\"required\":[\"snapshot\"]}", 1, 0, t_get_api_stats},
    {"get_service_map", "Service map", "Who calls whom in a dissected snapshot: nodes (workloads, services, DNS names, IPs) and edges with calls, errors, error_ratio and p99 latency.",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG "," KFL_ARG "," TIME_ARGS ",\"top_edges\":{\"type\":\"integer\",\"minimum\":1}},\"required\":[\"snapshot\"]}", 1, 0, t_get_service_map},
    {"list_workloads", "List workloads", "Pods, services and nodes recorded in a snapshot's metadata, as of capture time: one (name + namespace) or a filtered scan (namespaces, name_regex, labels, type), with their IPs and when they held them; at = as of that time.",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG ",\"name\":{\"type\":\"string\"},\"namespace\":{\"type\":\"string\"},\"namespaces\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"name_regex\":{\"type\":\"string\"},\"labels\":{\"type\":[\"object\",\"array\"],\"description\":\"{\\\"app\\\":\\\"orders\\\"} or [\\\"app=orders\\\"]\"},\"type\":{\"type\":\"string\",\"enum\":[\"pod\",\"service\",\"node\"]},\"at\":{\"type\":[\"string\",\"integer\"]},\"limit\":{\"type\":\"integer\",\"minimum\":1}},\"required\":[\"snapshot\"]}", 1, 0, t_list_workloads},
    {"list_ips", "List IPs", "Who held which IP in a snapshot, with from/to intervals (an IP reused by several pods has several records): one IP, several, or a filtered scan (namespaces, name_regex, labels).",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG ",\"ip\":{\"type\":\"string\"},\"ips\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"namespace\":{\"type\":\"string\"},\"namespaces\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"name_regex\":{\"type\":\"string\"},\"labels\":{\"type\":[\"object\",\"array\"]},\"at\":{\"type\":[\"string\",\"integer\"]},\"limit\":{\"type\":\"integer\",\"minimum\":1}},\"required\":[\"snapshot\"]}", 1, 0, t_list_ips},
    {"list_l4_flows", "List L4 flows", "TCP/UDP connection and flow records of a dissected snapshot (state, bytes and packets per side, errors such as reset or refused, retransmissions, handshake RTT), filtered with KFL (e.g. tcp_error_type == \"reset\"), paged like list_api_calls.",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG "," KFL_ARG "," TIME_ARGS ",\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000},\"cursor\":{\"type\":\"string\"},\"fields\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},\"required\":[\"snapshot\"]}", 1, 0, t_list_l4_flows},
    {"get_l4_flow_summary", "L4 summary", "Connections of a dissected snapshot summed up: counts, bytes, TCP errors (resets, refused, timeouts), retransmission rate, handshake RTT percentiles, top talkers, top resets, top retransmitters.",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG "," KFL_ARG "," TIME_ARGS ",\"top\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100}},\"required\":[\"snapshot\"]}", 1, 0, t_l4_summary},
    {"export_snapshot_pcap", "Export PCAP", "Write the selected packets of a snapshot as a pcapng (or pcap) file in the export folder, for Wireshark: BPF filter, nodes, workloads (namespace/name), IPs, time window, or a KFL filter over API calls (their connections' packets; needs the dissection). Returns path, size, packets and sha256.",
     "{\"type\":\"object\",\"properties\":{" SNAP_ARG ",\"output\":{\"type\":\"string\",\"description\":\"file name in the export folder (default <snapshot>-<UTC time>)\"},\"bpf_filter\":{\"type\":\"string\"},\"nodes\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"workloads\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"ips\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}," TIME_ARGS "," KFL_ARG ",\"scope\":{\"type\":\"string\",\"enum\":[\"conn\",\"whole\",\"call\"]},\"format\":{\"type\":\"string\",\"enum\":[\"pcapng\",\"pcap\"]}},\"required\":[\"snapshot\"]}", 0, 0, t_export_pcap},
};

json_t *kmcp_tools_list(void)
{
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
        json_t *schema = json_loads(tools[i].schema, 0, NULL);
        if (!schema) { kmcp_log("bad schema for %s", tools[i].name); schema = json_pack("{s:s}", "type", "object"); }
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:b, s:b, s:b, s:b}}", "name", tools[i].name,
                                           "title", tools[i].title, "description", tools[i].desc, "inputSchema", schema,
                                           "annotations", "title", tools[i].title, "readOnlyHint", tools[i].read_only,
                                           "destructiveHint", tools[i].destructive, "idempotentHint", tools[i].read_only,
                                           "openWorldHint", 0));
    }
    return a;
}

int kmcp_tool_call(kmcp_req *r, const char *name, json_t *args, kmcp_result *res)
{
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
        if (strcmp(tools[i].name, name)) continue;
        targs t = {args, res, 0};
        kmcp_log("call %s", name);
        tools[i].fn(r, &t);
        if (!res->text) res->text = strdup(res->is_error ? "The tool failed." : "Done.");
        if (!res->is_error && !res->structured) res->structured = json_object();
        return 0;
    }
    return -1;
}
