/* ksnap info / verify / merge — reading and combining .ksnap archives (docs/snapshot.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kf_atomic.h"
#include <jansson.h>
#include "kf_tool.h"
#include "ksnap.h"
#include "kf_meta.h"
#include "kf_sha256.h"
#include "kf_snap.h"
#include "kf_time.h"
#include "kf_limits.h"

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
    while ((c = kf_getopt(argc, argv, "juh", lo)) != -1) {
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
/* One pass over a snapshot: the manifest first, then every member checked against it (listed,
 * once, the size in its header and the bytes read equal to the manifest's size, sha256), and at
 * the end every listed member seen. verify, and both passes of merge, are this walk:
 *   meta:  meta/events.ndjson is streamed into it while being hashed (merge's first pass);
 *   w:     the members named in take are copied into it while being hashed (merge's second
 *          pass); expect: the manifest must be this one (it was read before).
 * A member whose header disagrees with the manifest is refused before a byte of it is copied
 * (a declared 2^62 bytes had merge pad zeros for ever). Returns 0, KF_EXIT_VERIFY (message
 * printed, naming the member), KF_EXIT_ERR (not a snapshot) or KF_EXIT_IO (writing w). */
typedef struct walk {
    kf_meta *meta;
    kf_snapw *w;
    const json_t *take, *expect;
    int64_t mtime;
    size_t nver;
} walk;

typedef struct hashread { kf_snap *s; kf_sha256 *c; int64_t got; } hashread;
static ssize_t hash_read(void *ud, void *buf, size_t n)
{
    hashread *h = ud;
    ssize_t r = kf_snap_read(h->s, buf, n);
    if (r > 0) { kf_sha256_update(h->c, buf, (size_t)r); h->got += r; }
    return r;
}

static int walk_snapshot(const char *path, walk *wk)
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
    if (kf_snap_read_max(s, &mb, &ml, kf_limit(KF_LIMIT_MANIFEST, KF_LIMIT_MANIFEST_DEFAULT), KF_LIMIT_MANIFEST) != 0) {
        kf_err("%s: %s", path, kf_snap_error(s));
        kf_snap_close(s);
        return KF_EXIT_VERIFY;
    }
    json_error_t je;
    json_t *m = json_loadb((const char *)mb, ml, JSON_REJECT_DUPLICATES, &je);
    free(mb);
    if (!m || kf_manifest_check(m, err, sizeof err) != 0) {
        kf_err("%s: member 'manifest.json': %s", path, m ? err : je.text);
        json_decref(m);
        kf_snap_close(s);
        return KF_EXIT_VERIFY;
    }
    if (wk->expect && !json_equal(m, (json_t *)wk->expect)) {
        kf_err("%s: member 'manifest.json': changed while being read", path);
        json_decref(m);
        kf_snap_close(s);
        return KF_EXIT_VERIFY;
    }
    json_t *mem = json_object_get(m, "members"), *seen = json_object();
    int rc = 0;
    uint64_t nmem = 0, maxmem = kf_limit(KF_LIMIT_MEMBERS, KF_LIMIT_MEMBERS_DEFAULT);
    static uint8_t buf[1 << 16];
    kf_sha256 *c = kf_sha256_new();
    if (!c) r = -2;
    else
    while ((r = kf_snap_next(s, &name, &size)) == 1) {
        json_t *e = json_object_get(mem, name);
        if (++nmem > maxmem) { kf_err("%s: more than %llu members (limit %s)", path, (unsigned long long)maxmem, KF_LIMIT_MEMBERS); rc = KF_EXIT_VERIFY; break; }
        if (!e) { kf_err("%s: member '%s': not in the manifest", path, name); rc = KF_EXIT_VERIFY; if (wk->w || wk->meta) break; continue; }
        if (json_object_get(seen, name)) { kf_err("%s: member '%s': appears twice", path, name); rc = KF_EXIT_VERIFY; if (wk->w || wk->meta) break; continue; }
        json_object_set_new(seen, name, json_true());
        int64_t want = json_integer_value(json_object_get(e, "size"));
        if (size != want) {
            kf_err("%s: member '%s': size %lld in the archive, manifest says %lld", path, name, (long long)size, (long long)want);
            rc = KF_EXIT_VERIFY;
            if (wk->w || wk->meta) break;
            continue;
        }
        int copy = wk->w && wk->take && json_object_get(wk->take, name);
        if (copy && kf_snapw_begin(wk->w, name, want, wk->mtime) != 0) { kf_err("%s", kf_snapw_error(wk->w)); rc = KF_EXIT_IO; break; }
        if (kf_sha256_reset(c) != 0) { kf_err("out of memory"); rc = KF_EXIT_ERR; break; }
        ssize_t n = 0;
        int64_t got = 0;
        char merr[1024] = "";
        if (wk->meta && !strcmp(name, "meta/events.ndjson")) {
            hashread h = { s, c, 0 };
            if (kf_meta_load_stream(wk->meta, hash_read, &h, KF_T_MIN, merr, sizeof merr) != 0 && !merr[0])
                snprintf(merr, sizeof merr, "not valid");
            while ((n = hash_read(&h, buf, sizeof buf)) > 0) {}   /* the rest, hashed */
            got = h.got;
            if (n < 0) { kf_err("%s: %s", path, kf_snap_error(s)); rc = KF_EXIT_VERIFY; break; }
        } else {
            while ((n = kf_snap_read(s, buf, sizeof buf)) > 0) {
                kf_sha256_update(c, buf, (size_t)n);
                got += n;
                if (got > want) break;
                if (copy && kf_snapw_write(wk->w, buf, (size_t)n) != 0) { kf_err("%s", kf_snapw_error(wk->w)); rc = KF_EXIT_IO; break; }
            }
            if (rc) break;
            if (n < 0) { kf_err("%s: %s", path, kf_snap_error(s)); rc = KF_EXIT_VERIFY; break; }
        }
        uint8_t d[32]; char hex[65];
        if (kf_sha256_final(c, d) != 0) { kf_err("out of memory"); rc = KF_EXIT_ERR; break; }
        kf_sha256_hex(d, hex);
        const char *wsha = json_string_value(json_object_get(e, "sha256"));
        if (got != want) {
            kf_err("%s: member '%s': size %lld, manifest says %lld", path, name, (long long)got, (long long)want);
            rc = KF_EXIT_VERIFY;
        } else if (!wsha || strcmp(wsha, hex)) {
            kf_err("%s: member '%s': sha256 mismatch (%s, manifest says %s)", path, name, hex, wsha ? wsha : "-");
            rc = KF_EXIT_VERIFY;
        } else {
            wk->nver++;
            if (strstr(merr, "stopped reading")) { kf_err("%s: meta/events.ndjson: %s", path, merr); rc = KF_EXIT_ERR; }
            else if (merr[0]) kf_warn("%s: meta/events.ndjson: %s (skipped; the rest is kept)", path, merr);
        }
        if (rc && (wk->w || wk->meta)) break;
    }
    if (r == -2) { kf_err("out of memory"); rc = KF_EXIT_ERR; }
    else if (r < 0) { kf_err("%s: %s", path, kf_snap_error(s)); rc = KF_EXIT_VERIFY; }
    kf_sha256_free(c);
    if (r == 0 && !rc) {
        const char *k; json_t *x;
        json_object_foreach(mem, k, x)
            if (!json_object_get(seen, k)) { kf_err("%s: member '%s': missing from the archive", path, k); rc = KF_EXIT_VERIFY; }
    }
    json_decref(seen);
    json_decref(m);
    kf_snap_close(s);
    return rc;
}

/* Streams every member after the manifest, hashing it. Returns 0 all good, KF_EXIT_VERIFY on a
 * mismatch or damage (message names the member), KF_EXIT_ERR when the file is no snapshot. */
static int verify_one(const char *path, int quiet)
{
    walk wk = { 0 };
    int rc = walk_snapshot(path, &wk);
    if (!rc && !quiet) printf("%s: OK, %zu members verified\n", path, wk.nver);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option lo[] = { { "quiet", 0, 0, 'q' }, { "help", 0, 0, 'h' }, { 0 } };
    int quiet = 0, c;
    optind = 1;
    while ((c = kf_getopt(argc, argv, "qh", lo)) != -1) {
        if (c == 'q') quiet = 1;
        else if (c == 'h') {
            printf("usage: ksnap verify [-q] FILE.ksnap...\n"
                   "Recomputes the sha256 of every member and compares it with manifest.json.\n"
                   "Exit 0 all verified, 4 a member differs, is missing or is damaged (named on\n"
                   "stderr), 2 not a snapshot. FILE - reads standard input.\n"
                   "  -q, --quiet  print nothing on success\n");
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

/* Windows that do not overlap merge into one window with a stretch nobody captured: said, in
 * one line per gap, so that "no packet" there is not read as "no traffic". */
static void warn_gaps(char **in, json_t **mans, int nin)
{
    int *ord = malloc((size_t)nin * sizeof *ord);
    if (!ord) return;
    for (int i = 0; i < nin; i++) ord[i] = i;
    for (int i = 1; i < nin; i++)       /* insertion sort by window start: a handful of inputs */
        for (int j = i; j > 0; j--) {
            int64_t a = jtime(json_object_get(json_object_get(mans[ord[j - 1]], "window"), "from"));
            int64_t b = jtime(json_object_get(json_object_get(mans[ord[j]], "window"), "from"));
            if (a <= b) break;
            int t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
        }
    int64_t reach = KF_T_MIN;
    int last = -1;
    for (int k = 0; k < nin; k++) {
        json_t *w = json_object_get(mans[ord[k]], "window");
        int64_t f = jtime(json_object_get(w, "from")), t = jtime(json_object_get(w, "to"));
        if (last >= 0 && f != KF_T_MIN && reach != KF_T_MIN && f > reach) {
            char a[96], b[96], d[64];
            kf_warn("warning: the windows of %s and %s do not overlap: nothing was captured from %s to %s (%s)",
                    in[last], in[ord[k]], kf_time_human(reach, 0, 3, a, sizeof a), kf_time_human(f, 0, 3, b, sizeof b),
                    kf_duration_human(f - reach, d, sizeof d));
        }
        if (t > reach || last < 0) { reach = t; last = ord[k]; }
    }
    free(ord);
}

int cmd_merge(int argc, char **argv)
{
    static const struct option lo[] = { { "output", 1, 0, 'o' }, { "help", 0, 0, 'h' }, { 0 } };
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = kf_getopt(argc, argv, "o:h", lo)) != -1) {
        if (c == 'o') out = optarg;
        else if (c == 'h') {
            printf("usage: ksnap merge A.ksnap B.ksnap... -o C.ksnap\n"
                   "Merges snapshots of one incident taken on different nodes into one: the union of\n"
                   "the nodes (the same node twice only when identical), the union of the windows,\n"
                   "the metadata events of all. Every copied member is checked against its hash.\n"
                   "Windows that do not overlap are merged with a warning naming the gap.\n"
                   "  -o, --output FILE  the snapshot to create (never overwritten; '-', a pipe or device is\n"
                   "                     written through)\n");
            return 0;
        } else kf_usage_die("unknown option");
    }
    int nin = argc - optind;
    if (nin < 1) kf_usage_die("snapshots to merge are required");
    if (!out) kf_usage_die("-o FILE is required");
    if ((!strcmp(out, "-") || !strcmp(out, "/dev/stdout")) && isatty(STDOUT_FILENO))
        kf_usage_die("not writing an archive to a terminal: give -o FILE or a pipe");
    int rep = kf_atomic_replaces(out);
    if (rep != 0) kf_die(KF_EXIT_ERR, "%s: %s", out, rep < 0 ? "cannot follow the symbolic link" : "already exists (snapshots are never overwritten)");
    char **in = argv + optind;
    json_t **mans = calloc((size_t)nin, sizeof *mans);
    json_t **take = calloc((size_t)nin, sizeof *take);
    if (!mans || !take) kf_die(KF_EXIT_ERR, "out of memory");
    char err[1024];
    json_t *man = NULL, *owner = NULL;
    kf_meta *meta = NULL;
    kf_snapw *w = NULL;
    char *ev = NULL, *mt = NULL;
    size_t evl = 0;
    int rc = 0;
    int64_t from = KF_T_MAX, to = KF_T_MIN;
    const char *filter = NULL;
    int filter_mixed = 0;
    for (int i = 0; i < nin; i++) {
        mans[i] = kf_snap_read_manifest(in[i], err, sizeof err);
        if (!mans[i]) {
            kf_err("%s: %s", in[i], err);
            rc = access(in[i], R_OK) == 0 && kf_snap_detect(in[i]) ? KF_EXIT_VERIFY : KF_EXIT_ERR;
            goto done;
        }
        json_t *w = json_object_get(mans[i], "window");
        int64_t f = jtime(json_object_get(w, "from")), t = jtime(json_object_get(w, "to"));
        if (f < from) from = f;
        if (t > to) to = t;
        const char *fl = json_string_value(json_object_get(mans[i], "filter"));
        if (i == 0) filter = fl;
        else if ((fl == NULL) != (filter == NULL) || (fl && strcmp(fl, filter))) filter_mixed = 1;
    }
    warn_gaps(in, mans, nin);
    man = kf_manifest_new(from, to, filter_mixed ? NULL : filter, "ksnap " KF_VERSION);
    owner = json_object();   /* node -> index of the input that provides it */
    for (int i = 0; i < nin; i++) {
        take[i] = json_object();
        json_t *nodes = json_object_get(mans[i], "nodes"), *n;
        const char *name;
        json_object_foreach(nodes, name, n) {
            json_t *prev = json_object_get(owner, name);
            if (prev) {
                int j = (int)json_integer_value(prev);
                if (!same_node(mans[j], mans[i], name)) {
                    kf_err("node '%s' is in %s and %s with different contents: not merged", name, in[j], in[i]);
                    rc = KF_EXIT_ERR;
                    goto done;
                }
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
                if (!e) {
                    kf_err("%s: member 'manifest.json': lists segment '%s' without a member entry", in[i], sn ? sn : "?");
                    rc = KF_EXIT_VERIFY;
                    goto done;
                }
                if (json_object_get(json_object_get(man, "members"), sn)) {
                    kf_err("member '%s' comes from two snapshots", sn);
                    rc = KF_EXIT_ERR;
                    goto done;
                }
                json_object_set(json_object_get(man, "members"), sn, e);
                json_object_set(take[i], sn, e);
            }
        }
    }
    /* first pass: every input verified whole (each member against its manifest) and its
     * metadata events replayed together, before anything is written */
    meta = kf_meta_new();
    if (!meta) { kf_err("out of memory"); rc = KF_EXIT_ERR; goto done; }
    for (int i = 0; i < nin && !rc; i++) {
        walk wk = { .meta = meta, .expect = mans[i] };
        rc = walk_snapshot(in[i], &wk);
    }
    if (rc) goto done;   /* (the message named the input; nothing was written) */
    kf_meta_finish(meta);
    FILE *mf = open_memstream(&ev, &evl);
    if (!mf) { kf_err("out of memory"); rc = KF_EXIT_ERR; goto done; }
    int werr = kf_meta_write_window(meta, from, to, mf);
    if (fclose(mf) != 0 || werr != 0) { kf_err("writing metadata: out of memory"); rc = KF_EXIT_ERR; goto done; }
    kf_meta_free(meta);
    meta = NULL;
    uint8_t d[32];
    if (kf_sha256_buf(ev, evl, d) != 0) { kf_err("out of memory"); rc = KF_EXIT_ERR; goto done; }
    kf_manifest_add_member(man, "meta/events.ndjson", NULL, (int64_t)evl, d);
    mt = json_dumps(man, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    int64_t now = kf_now_ns();
    /* second pass: the members copied, each verified again as it is copied (the inputs may
     * change between the passes); any mismatch removes the output */
    w = kf_snapw_open(out, 0, 2, err, sizeof err);
    if (!w) { kf_err("%s: %s", out, err); rc = KF_EXIT_IO; goto done; }
    rc = kf_snapw_add(w, "manifest.json", mt, strlen(mt), now) == 0 ? 0 : KF_EXIT_IO;
    if (rc) kf_err("%s: %s", out, kf_snapw_error(w));
    for (int i = 0; !rc && i < nin; i++) {
        if (!json_object_size(take[i])) continue;
        walk wk = { .w = w, .take = take[i], .expect = mans[i], .mtime = now };
        rc = walk_snapshot(in[i], &wk);
    }
    if (!rc && kf_snapw_add(w, "meta/events.ndjson", ev, evl, now) != 0) { kf_err("%s: %s", out, kf_snapw_error(w)); rc = KF_EXIT_IO; }
    if (rc) kf_snapw_abort(w);
    else if (kf_snapw_commit(w, err, sizeof err) != 0) { kf_err("%s: %s", out, err); rc = KF_EXIT_IO; }
    w = NULL;
done:
    if (w) kf_snapw_abort(w);
    kf_meta_free(meta);
    for (int i = 0; i < nin; i++) { json_decref(mans[i]); json_decref(take[i]); }
    free(mans); free(take);
    json_decref(man); json_decref(owner);
    free(mt); free(ev);
    return rc;
}
