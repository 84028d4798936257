/* ksnap info / verify / merge — reading and combining .ksnap archives (docs/snapshot.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "kf_tool.h"
#include "ksnap.h"
#include "kf_meta.h"
#include "kf_sha256.h"
#include "kf_snap.h"
#include "kf_time.h"

static int64_t jtime(const json_t *v)
{
    int64_t ns;
    const char *s = json_string_value(v);
    if (!s || kf_time_parse_rfc3339(s, strlen(s), &ns) != 0) return KF_T_MIN;
    return ns;
}

static const char *human(const json_t *v, int utc, char *buf, size_t len)
{
    int64_t ns = jtime(v);
    if (ns == KF_T_MIN) return "-";
    return kf_time_human(ns, utc, 3, buf, len);
}

/* ---------------- info ---------------- */
static void info_usage(FILE *f)
{
    fprintf(f, "usage: ksnap info FILE.ksnap [--json] [--utc]\n"
               "Shows a snapshot's manifest: window, nodes with their first/last packet, packets,\n"
               "bytes and segments, members. Times are local with UTC alongside (--utc: UTC only).\n"
               "  --json   the manifest itself, one line\n");
}

int cmd_info(int argc, char **argv)
{
    static const struct option lo[] = { { "json", 0, 0, 'j' }, { "utc", 0, 0, 'u' }, { "help", 0, 0, 'h' }, { 0 } };
    int json = 0, utc = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "juh", lo, NULL)) != -1) {
        if (c == 'j') json = 1;
        else if (c == 'u') utc = 1;
        else if (c == 'h') { info_usage(stdout); return 0; }
        else kf_usage_die("unknown option");
    }
    if (optind >= argc) kf_usage_die("a snapshot file is required");
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        char err[1024];
        json_t *m = kf_snap_read_manifest(argv[i], err, sizeof err);
        if (!m) { kf_err("%s: %s", argv[i], err); rc = KF_EXIT_ERR; continue; }
        if (json) {
            char *s = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (s) { puts(s); free(s); }
            json_decref(m);
            continue;
        }
        char b1[96], b2[96], d[64];
        json_t *w = json_object_get(m, "window");
        int64_t f = jtime(json_object_get(w, "from")), t = jtime(json_object_get(w, "to"));
        if (argc - optind > 1) printf("%s%s\n", i > optind ? "\n" : "", argv[i]);
        const char *id = json_string_value(json_object_get(m, "id"));
        printf("snapshot  %s\n", id ? id : "-");
        printf("created   %s\n", human(json_object_get(m, "created"), utc, b1, sizeof b1));
        printf("tool      %s\n", json_string_value(json_object_get(m, "tool")) ? json_string_value(json_object_get(m, "tool")) : "-");
        printf("window    %s .. %s", human(json_object_get(w, "from"), utc, b1, sizeof b1), human(json_object_get(w, "to"), utc, b2, sizeof b2));
        if (f != KF_T_MIN && t != KF_T_MIN) printf(" (%s)", kf_duration_human(t - f, d, sizeof d));
        printf("\n");
        const char *flt = json_string_value(json_object_get(m, "filter"));
        printf("filter    %s\n", flt ? flt : "-");
        json_t *nodes = json_object_get(m, "nodes"), *n;
        const char *name;
        printf("nodes     %zu\n", json_object_size(nodes));
        json_object_foreach(nodes, name, n) {
            printf("  %-20s %8lld packets %12lld bytes %3zu segments\n", name,
                   (long long)json_integer_value(json_object_get(n, "packets")),
                   (long long)json_integer_value(json_object_get(n, "bytes")),
                   json_array_size(json_object_get(n, "segments")));
            printf("  %-20s first %s\n", "", human(json_object_get(n, "first_packet"), utc, b1, sizeof b1));
            printf("  %-20s last  %s\n", "", human(json_object_get(n, "last_packet"), utc, b1, sizeof b1));
            const char *nf = json_string_value(json_object_get(n, "filter"));
            if (nf) printf("  %-20s filter %s\n", "", nf);
        }
        json_t *mem = json_object_get(m, "members"), *x;
        long long total = 0;
        json_object_foreach(mem, name, x) total += json_integer_value(json_object_get(x, "size"));
        printf("members   %zu (%lld bytes uncompressed)\n", json_object_size(mem), total);
        json_object_foreach(mem, name, x)
            printf("  %s  %10lld  %s\n", json_string_value(json_object_get(x, "sha256")) ? json_string_value(json_object_get(x, "sha256")) : "-",
                   (long long)json_integer_value(json_object_get(x, "size")), name);
        json_decref(m);
    }
    return rc;
}

/* ---------------- verify ---------------- */
/* Streams every member after the manifest, hashing it. Returns 0 all good, KF_EXIT_VERIFY on a
 * mismatch or damage (message names the member), KF_EXIT_ERR when the file is no snapshot. */
static int verify_one(const char *path, int quiet)
{
    char err[1024];
    kf_snap *s = kf_snap_open(path, err, sizeof err);
    if (!s) {
        /* libarchive reads the start to open it: damage there is damage to the first member */
        if (access(path, R_OK) == 0 && kf_snap_detect(path)) {
            kf_err("%s: member 'manifest.json' (archive start): %s", path, err);
            return KF_EXIT_VERIFY;
        }
        kf_err("%s: %s", path, err);
        return KF_EXIT_ERR;
    }
    const char *name;
    int64_t size;
    int r = kf_snap_next(s, &name, &size);
    if (r <= 0 || strcmp(name, "manifest.json")) {
        if (r < 0 && !strstr(kf_snap_error(s), "member '")) kf_err("%s: member 'manifest.json': %s", path, kf_snap_error(s));
        else kf_err("%s: %s", path, r < 0 ? kf_snap_error(s) : "first member is not manifest.json");
        kf_snap_close(s);
        return r < 0 ? KF_EXIT_VERIFY : KF_EXIT_ERR;
    }
    uint8_t *mb; size_t ml;
    if (kf_snap_read_all(s, &mb, &ml) != 0) { kf_err("%s: %s", path, kf_snap_error(s)); kf_snap_close(s); return KF_EXIT_VERIFY; }
    json_error_t je;
    json_t *m = json_loadb((const char *)mb, ml, 0, &je);
    free(mb);
    if (!m || kf_manifest_check(m, err, sizeof err) != 0) {
        kf_err("%s: member 'manifest.json': %s", path, m ? err : je.text);
        json_decref(m);
        kf_snap_close(s);
        return KF_EXIT_VERIFY;
    }
    json_t *mem = json_object_get(m, "members"), *seen = json_object();
    int rc = 0;
    size_t nver = 0;
    static uint8_t buf[1 << 16];
    while ((r = kf_snap_next(s, &name, &size)) == 1) {
        json_t *e = json_object_get(mem, name);
        if (!e) { kf_err("%s: member '%s': not in the manifest", path, name); rc = KF_EXIT_VERIFY; continue; }
        if (json_object_get(seen, name)) { kf_err("%s: member '%s': appears twice", path, name); rc = KF_EXIT_VERIFY; continue; }
        json_object_set_new(seen, name, json_true());
        kf_sha256 c;
        kf_sha256_init(&c);
        ssize_t n;
        int64_t got = 0;
        while ((n = kf_snap_read(s, buf, sizeof buf)) > 0) { kf_sha256_update(&c, buf, (size_t)n); got += n; }
        if (n < 0) { kf_err("%s: %s", path, kf_snap_error(s)); rc = KF_EXIT_VERIFY; break; }
        uint8_t d[32]; char hex[65];
        kf_sha256_final(&c, d);
        kf_sha256_hex(d, hex);
        const char *want = json_string_value(json_object_get(e, "sha256"));
        if (got != json_integer_value(json_object_get(e, "size"))) {
            kf_err("%s: member '%s': size %lld, manifest says %lld", path, name, (long long)got,
                   (long long)json_integer_value(json_object_get(e, "size")));
            rc = KF_EXIT_VERIFY;
        } else if (!want || strcmp(want, hex)) {
            kf_err("%s: member '%s': sha256 mismatch (%s, manifest says %s)", path, name, hex, want ? want : "-");
            rc = KF_EXIT_VERIFY;
        } else nver++;
    }
    if (r < 0) { kf_err("%s: %s", path, kf_snap_error(s)); rc = KF_EXIT_VERIFY; }
    if (r == 0) {
        const char *k; json_t *x;
        json_object_foreach(mem, k, x)
            if (!json_object_get(seen, k)) { kf_err("%s: member '%s': missing from the archive", path, k); rc = KF_EXIT_VERIFY; }
    }
    if (!rc && !quiet) printf("%s: OK, %zu members verified\n", path, nver);
    json_decref(seen);
    json_decref(m);
    kf_snap_close(s);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option lo[] = { { "quiet", 0, 0, 'q' }, { "help", 0, 0, 'h' }, { 0 } };
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
        if (c == 'q') quiet = 1;
        else if (c == 'h') {
            printf("usage: ksnap verify [-q] FILE.ksnap...\n"
                   "Recomputes the sha256 of every member and compares it with manifest.json.\n"
                   "Exit 0 all verified, 4 a member differs, is missing or is damaged (named on\n"
                   "stderr), 2 not a snapshot.\n");
            return 0;
        } else kf_usage_die("unknown option");
    }
    if (optind >= argc) kf_usage_die("a snapshot file is required");
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        int r = verify_one(argv[i], quiet);
        if (r > rc) rc = r;
    }
    return rc;
}

/* ---------------- merge ---------------- */
static int copy_members(const char *in, json_t *take, kf_snapw *w, int64_t mtime)
{
    char err[1024];
    kf_snap *s = kf_snap_open(in, err, sizeof err);
    if (!s) { kf_err("%s: %s", in, err); return KF_EXIT_ERR; }
    const char *name;
    int64_t size;
    int r, rc = 0;
    static uint8_t buf[1 << 16];
    while ((r = kf_snap_next(s, &name, &size)) == 1) {
        json_t *e = json_object_get(take, name);
        if (!e) continue;
        int64_t want = json_integer_value(json_object_get(e, "size"));
        if (kf_snapw_begin(w, name, want, mtime) != 0) { kf_err("%s", kf_snapw_error(w)); rc = KF_EXIT_IO; break; }
        kf_sha256 c;
        kf_sha256_init(&c);
        ssize_t n;
        int64_t got = 0;
        while ((n = kf_snap_read(s, buf, sizeof buf)) > 0) {
            kf_sha256_update(&c, buf, (size_t)n);
            if (got + n > want) { n = want - got; }
            got += n;
            if (n > 0 && kf_snapw_write(w, buf, (size_t)n) != 0) { kf_err("%s", kf_snapw_error(w)); rc = KF_EXIT_IO; break; }
        }
        if (rc) break;
        if (n < 0) { kf_err("%s: %s", in, kf_snap_error(s)); rc = KF_EXIT_VERIFY; break; }
        uint8_t d[32]; char hex[65];
        kf_sha256_final(&c, d);
        kf_sha256_hex(d, hex);
        const char *sha = json_string_value(json_object_get(e, "sha256"));
        if (got != want || !sha || strcmp(sha, hex)) {
            kf_err("%s: member '%s': does not match its manifest (run ksnap verify)", in, name);
            rc = KF_EXIT_VERIFY;
            break;
        }
    }
    if (r < 0) { kf_err("%s: %s", in, kf_snap_error(s)); rc = KF_EXIT_VERIFY; }
    kf_snap_close(s);
    return rc;
}

static int load_events(const char *in, kf_meta *meta)
{
    char err[1024];
    kf_snap *s = kf_snap_open(in, err, sizeof err);
    if (!s) { kf_err("%s: %s", in, err); return KF_EXIT_ERR; }
    const char *name;
    int64_t size;
    int r, rc = 0;
    while ((r = kf_snap_next(s, &name, &size)) == 1) {
        if (strcmp(name, "meta/events.ndjson")) continue;
        uint8_t *b; size_t l;
        if (kf_snap_read_all(s, &b, &l) != 0) { kf_err("%s: %s", in, kf_snap_error(s)); rc = KF_EXIT_VERIFY; break; }
        if (kf_meta_load_buffer(meta, (const char *)b, l, KF_T_MIN, err, sizeof err) != 0) {
            kf_err("%s: meta/events.ndjson: %s", in, err);
            rc = KF_EXIT_ERR;
        }
        free(b);
    }
    if (r < 0) { kf_err("%s: %s", in, kf_snap_error(s)); rc = KF_EXIT_VERIFY; }
    kf_snap_close(s);
    return rc;
}

/* 1 if node n has the same segments (names, sizes, hashes) in both manifests */
static int same_node(json_t *a, json_t *b, const char *node)
{
    json_t *sa = json_object_get(json_object_get(json_object_get(a, "nodes"), node), "segments");
    json_t *sb = json_object_get(json_object_get(json_object_get(b, "nodes"), node), "segments");
    if (json_array_size(sa) != json_array_size(sb)) return 0;
    size_t i; json_t *x;
    json_array_foreach(sa, i, x) {
        const char *nm = json_string_value(x);
        json_t *ea = json_object_get(json_object_get(a, "members"), nm ? nm : "");
        json_t *eb = json_object_get(json_object_get(b, "members"), nm ? nm : "");
        if (!ea || !eb || !json_equal(ea, eb)) return 0;
    }
    return 1;
}

int cmd_merge(int argc, char **argv)
{
    static const struct option lo[] = { { "output", 1, 0, 'o' }, { "help", 0, 0, 'h' }, { 0 } };
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        if (c == 'o') out = optarg;
        else if (c == 'h') {
            printf("usage: ksnap merge A.ksnap B.ksnap... -o C.ksnap\n"
                   "Merges snapshots of one incident taken on different nodes into one: the union of\n"
                   "the nodes (the same node twice only when identical), the union of the windows,\n"
                   "the metadata events of all. Every copied member is checked against its hash.\n");
            return 0;
        } else kf_usage_die("unknown option");
    }
    int nin = argc - optind;
    if (nin < 1) kf_usage_die("snapshots to merge are required");
    if (!out) kf_usage_die("-o FILE is required");
    if (access(out, F_OK) == 0) kf_die(KF_EXIT_ERR, "%s: already exists (snapshots are never overwritten)", out);
    char **in = argv + optind;
    json_t **mans = calloc((size_t)nin, sizeof *mans);
    json_t **take = calloc((size_t)nin, sizeof *take);
    char err[1024];
    int64_t from = KF_T_MAX, to = KF_T_MIN;
    const char *filter = NULL;
    int filter_mixed = 0;
    for (int i = 0; i < nin; i++) {
        mans[i] = kf_snap_read_manifest(in[i], err, sizeof err);
        if (!mans[i]) kf_die(KF_EXIT_ERR, "%s: %s", in[i], err);
        json_t *w = json_object_get(mans[i], "window");
        int64_t f = jtime(json_object_get(w, "from")), t = jtime(json_object_get(w, "to"));
        if (f < from) from = f;
        if (t > to) to = t;
        const char *fl = json_string_value(json_object_get(mans[i], "filter"));
        if (i == 0) filter = fl;
        else if ((fl == NULL) != (filter == NULL) || (fl && strcmp(fl, filter))) filter_mixed = 1;
    }
    json_t *man = kf_manifest_new(from, to, filter_mixed ? NULL : filter, "ksnap " KF_VERSION);
    json_t *owner = json_object();   /* node -> index of the input that provides it */
    for (int i = 0; i < nin; i++) {
        take[i] = json_object();
        json_t *nodes = json_object_get(mans[i], "nodes"), *n;
        const char *name;
        json_object_foreach(nodes, name, n) {
            json_t *prev = json_object_get(owner, name);
            if (prev) {
                int j = (int)json_integer_value(prev);
                if (!same_node(mans[j], mans[i], name))
                    kf_die(KF_EXIT_ERR, "node '%s' is in %s and %s with different contents: not merged", name, in[j], in[i]);
                continue;   /* identical: taken once */
            }
            json_object_set_new(owner, name, json_integer(i));
            json_t *nn = json_deep_copy(n);
            if (filter_mixed) {
                const char *fl = json_string_value(json_object_get(mans[i], "filter"));
                json_object_set_new(nn, "filter", fl ? json_string(fl) : json_null());
            }
            json_object_set_new(json_object_get(man, "nodes"), name, nn);
            size_t k; json_t *sg;
            json_array_foreach(json_object_get(n, "segments"), k, sg) {
                const char *sn = json_string_value(sg);
                json_t *e = json_object_get(json_object_get(mans[i], "members"), sn ? sn : "");
                if (!e) kf_die(KF_EXIT_ERR, "%s: manifest lists '%s' without a member entry", in[i], sn ? sn : "?");
                if (json_object_get(json_object_get(man, "members"), sn))
                    kf_die(KF_EXIT_ERR, "member '%s' comes from two snapshots", sn);
                json_object_set(json_object_get(man, "members"), sn, e);
                json_object_set(take[i], sn, e);
            }
        }
    }
    /* metadata: every input's events, replayed together, written for the merged window */
    kf_meta *meta = kf_meta_new();
    for (int i = 0; i < nin; i++) {
        int r = load_events(in[i], meta);
        if (r) kf_die(r, "%s: not written", out);
    }
    kf_meta_finish(meta);
    char *ev = NULL; size_t evl = 0;
    FILE *mf = open_memstream(&ev, &evl);
    if (!mf || kf_meta_write_window(meta, from, to, mf) != 0) kf_die(KF_EXIT_ERR, "out of memory");
    fclose(mf);
    kf_meta_free(meta);
    uint8_t d[32];
    kf_sha256 hc;
    kf_sha256_init(&hc); kf_sha256_update(&hc, ev, evl); kf_sha256_final(&hc, d);
    kf_manifest_add_member(man, "meta/events.ndjson", NULL, (int64_t)evl, d);
    char *mt = json_dumps(man, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    int64_t now = kf_now_ns();
    kf_snapw *w = kf_snapw_open(out, 0, 2, err, sizeof err);
    if (!w) kf_die(KF_EXIT_IO, "%s: %s", out, err);
    int rc = kf_snapw_add(w, "manifest.json", mt, strlen(mt), now) == 0 ? 0 : KF_EXIT_IO;
    if (rc) kf_err("%s: %s", out, kf_snapw_error(w));
    for (int i = 0; !rc && i < nin; i++)
        if (json_object_size(take[i])) rc = copy_members(in[i], take[i], w, now);
    if (!rc && kf_snapw_add(w, "meta/events.ndjson", ev, evl, now) != 0) { kf_err("%s: %s", out, kf_snapw_error(w)); rc = KF_EXIT_IO; }
    if (rc) { kf_snapw_abort(w); kf_err("%s: not written", out); }
    else if (kf_snapw_commit(w, err, sizeof err) != 0) { kf_err("%s: %s", out, err); rc = KF_EXIT_IO; }
    for (int i = 0; i < nin; i++) { json_decref(mans[i]); json_decref(take[i]); }
    free(mans); free(take);
    json_decref(man); json_decref(owner);
    free(mt); free(ev);
    return rc;
}
