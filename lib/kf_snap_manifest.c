/* kf_snap_manifest — building, checking and reading a snapshot's manifest.json. */
#include "kf_snap.h"
#include "kf_time.h"
#include "kf_limits.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static json_t *jtime(int64_t ns)
{
    char b[40];
    return json_string(kf_time_rfc3339(ns, b, sizeof b));
}

json_t *kf_manifest_new(int64_t from_ns, int64_t to_ns, const char *filter, const char *tool)
{
    uint8_t r[16];
    char id[33];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        int64_t t = kf_now_ns();
        for (int i = 0; i < 16; i++) r[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)(i * 37);
    }
    for (int i = 0; i < 16; i++) snprintf(id + 2 * i, 3, "%02x", r[i]);
    json_t *m = json_object(), *w = json_object();
    json_object_set_new(m, "format", json_string("kforensics-snapshot"));
    json_object_set_new(m, "version", json_integer(1));
    json_object_set_new(m, "id", json_string(id));
    json_object_set_new(m, "created", jtime(kf_now_ns()));
    json_object_set_new(m, "tool", json_string(tool ? tool : "ksnap"));
    json_object_set_new(w, "from", jtime(from_ns));
    json_object_set_new(w, "to", jtime(to_ns));
    json_object_set_new(m, "window", w);
    json_object_set_new(m, "filter", filter ? json_string(filter) : json_null());
    json_object_set_new(m, "nodes", json_object());
    json_object_set_new(m, "members", json_object());
    return m;
}

int kf_manifest_add_node(json_t *m, const char *node, int64_t first_ns, int64_t last_ns,
                         uint64_t packets, uint64_t bytes)
{
    json_t *nodes = json_object_get(m, "nodes");
    if (!json_is_object(nodes)) return -1;
    json_t *n = json_object_get(nodes, node);
    json_t *segs = n ? json_incref(json_object_get(n, "segments")) : NULL;
    n = json_object();
    json_object_set_new(n, "first_packet", packets ? jtime(first_ns) : json_null());
    json_object_set_new(n, "last_packet", packets ? jtime(last_ns) : json_null());
    json_object_set_new(n, "packets", json_integer((json_int_t)packets));
    json_object_set_new(n, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(n, "segments", json_is_array(segs) ? segs : json_array());
    if (segs && !json_is_array(segs)) json_decref(segs);
    return json_object_set_new(nodes, node, n);
}

int kf_manifest_add_member(json_t *m, const char *name, const char *node, int64_t size,
                           const uint8_t sha[32])
{
    json_t *mem = json_object_get(m, "members");
    if (!json_is_object(mem)) return -1;
    char hex[65];
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) { hex[2 * i] = hx[sha[i] >> 4]; hex[2 * i + 1] = hx[sha[i] & 15]; }
    hex[64] = 0;
    json_t *e = json_object();
    json_object_set_new(e, "size", json_integer(size));
    json_object_set_new(e, "sha256", json_string(hex));
    json_object_set_new(mem, name, e);
    if (node) {
        json_t *n = json_object_get(json_object_get(m, "nodes"), node);
        if (!n) { kf_manifest_add_node(m, node, 0, 0, 0, 0); n = json_object_get(json_object_get(m, "nodes"), node); }
        json_array_append_new(json_object_get(n, "segments"), json_string(name));
    }
    return 0;
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64) return 0;
    for (int i = 0; i < 64; i++) if (!strchr("0123456789abcdef", s[i])) return 0;
    return 1;
}

int kf_manifest_check(const json_t *m, char *err, size_t errlen)
{
    const char *f = json_string_value(json_object_get(m, "format"));
    if (!json_is_object(m) || !f || strcmp(f, "kforensics-snapshot")) { snprintf(err, errlen, "manifest.json: not a kforensics snapshot manifest"); return -1; }
    json_t *v = json_object_get(m, "version");
    if (!json_is_integer(v) || json_integer_value(v) != 1) { snprintf(err, errlen, "manifest.json: unsupported version"); return -1; }
    json_t *mem = json_object_get(m, "members"), *nodes = json_object_get(m, "nodes"), *x;
    if (!json_is_object(mem) || !json_is_object(nodes)) { snprintf(err, errlen, "manifest.json: members or nodes missing"); return -1; }
    const char *k;
    json_object_foreach(mem, k, x) {
        if (!kf_snap_name_ok(k) || !json_is_integer(json_object_get(x, "size")) ||
            json_integer_value(json_object_get(x, "size")) < 0 ||
            !is_hex64(json_string_value(json_object_get(x, "sha256")))) {
            snprintf(err, errlen, "manifest.json: member '%s': bad entry", k);
            return -1;
        }
    }
    return 0;
}

json_t *kf_snap_read_manifest(const char *path, char *err, size_t errlen)
{
    kf_snap *s = kf_snap_open(path, err, errlen);
    if (!s) return NULL;
    const char *name;
    int64_t size;
    int r = kf_snap_next(s, &name, &size);
    if (r <= 0 || strcmp(name, "manifest.json")) {
        snprintf(err, errlen, "%s", r < 0 ? kf_snap_error(s) : "first member is not manifest.json");
        kf_snap_close(s);
        return NULL;
    }
    uint8_t *buf; size_t len;
    if (kf_snap_read_max(s, &buf, &len, kf_limit(KF_LIMIT_MANIFEST, KF_LIMIT_MANIFEST_DEFAULT), KF_LIMIT_MANIFEST) != 0) {
        snprintf(err, errlen, "%s", kf_snap_error(s));
        kf_snap_close(s);
        return NULL;
    }
    kf_snap_close(s);
    json_error_t je;
    json_t *m = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!m) { snprintf(err, errlen, "manifest.json: line %d: %s", je.line, je.text); return NULL; }
    if (kf_manifest_check(m, err, errlen) != 0) { json_decref(m); return NULL; }
    return m;
}
