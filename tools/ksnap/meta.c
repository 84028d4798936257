/* ksnap meta record|import — Kubernetes metadata into DIR/meta/ (docs/metadata.md).
 *
 * record reads what `kubectl get pods,services,endpoints,endpointslices,nodes -A -o json --watch
 * --output-watch-events` prints: pretty-printed JSON values one after another. The stream is
 * framed here by counting brackets outside strings (jansson then parses each value); a value
 * cut short (kubectl killed and restarted mid-object) is reported and dropped when the next
 * top-level '{' arrives at the start of a line. Each event is stamped with its arrival time,
 * trimmed (kf_meta_trim_object) and appended to DIR/meta/<start>.ndjson.part, which is closed
 * (renamed to .ndjson) on rotation and at exit. A watch that restarts re-lists every object:
 * an object whose resourceVersion did not change since it was last stored is not stored again. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "kf_tool.h"
#include "kf_grow.h"
#include "ksnap.h"
#include "kf_atomic.h"
#include "kf_meta.h"
#include "kf_store.h"
#include "kf_time.h"

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

/* "20260314T172300.000000000Z.ndjson[.part]" -> start ns; 0 ok */
static int metaname_parse(const char *n, int64_t *ns)
{
    int Y, M, D, h, m, s; long frac;
    char z;
    if (sscanf(n, "%4d%2d%2dT%2d%2d%2d.%9ld%c", &Y, &M, &D, &h, &m, &s, &frac, &z) != 8 || z != 'Z') return -1;
    struct tm tm = { 0 };
    tm.tm_year = Y - 1900; tm.tm_mon = M - 1; tm.tm_mday = D; tm.tm_hour = h; tm.tm_min = m; tm.tm_sec = s;
    *ns = (int64_t)timegm(&tm) * KF_NS_PER_SEC + frac;
    return 0;
}

static void metaname_format(int64_t ns, char *buf, size_t len)
{
    char b[40];
    kf_segname_format(ns, b, sizeof b);
    snprintf(buf, len, "%s", b);
}

static char *pjoin(const char *a, const char *b)
{
    size_t l = strlen(a) + strlen(b) + 2;
    char *p = malloc(l);
    if (!p) kf_die(KF_EXIT_ERR, "out of memory");
    snprintf(p, l, "%s/%s", a, b);
    return p;
}

static int ensure_meta_dir(const char *dir, char **mdir)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) { kf_err("%s: %s", dir, strerror(errno)); return -1; }
    *mdir = pjoin(dir, "meta");
    if (mkdir(*mdir, 0750) != 0 && errno != EEXIST) { kf_err("%s: %s", *mdir, strerror(errno)); return -1; }
    return 0;
}

static int kept_kind(const char *k)
{
    static const char *const keep[] = { "Pod", "Service", "Endpoints", "EndpointSlice", "Node", "ReplicaSet",
                                        "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", NULL };
    for (int i = 0; k && keep[i]; i++) if (!strcmp(k, keep[i])) return 1;
    return 0;
}

/* ---------------- record ---------------- */
typedef struct rec {
    const char *dir;
    char *mdir;
    FILE *part;
    char *part_path;
    int64_t part_start;
    uint64_t part_size;
    int64_t rotate_ns, keep_ns;
    uint64_t rotate_size, max_size;
    json_t *seen;          /* uid -> last stored resourceVersion */
    uint64_t stored, skipped, errors;
    int io_failed;
} rec;

static void retention(rec *r)
{
    if (!r->keep_ns && !r->max_size) return;
    int lfd = kf_store_lock(r->dir, "meta", 1, 1);
    if (lfd < 0) return;   /* a reader holds it: next round */
    DIR *d = opendir(r->mdir);
    if (!d) { kf_store_unlock(lfd); return; }
    struct ent { char *name; int64_t start; uint64_t size; } *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        int64_t st;
        if (de->d_name[0] == '.' || l < 8 || strcmp(de->d_name + l - 7, ".ndjson") || metaname_parse(de->d_name, &st)) continue;
        struct stat sb;
        char *p = pjoin(r->mdir, de->d_name);
        if (stat(p, &sb) == 0) {
            struct ent *nv = kf_grow(v, &cap, n + 1, sizeof *nv);
            if (nv) { v = nv; v[n].name = strdup(de->d_name); v[n].start = st; v[n].size = (uint64_t)sb.st_size; n++; }
        }
        free(p);
    }
    closedir(d);
    /* sort by start (names sort by time) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(v[j - 1].name, v[j].name) > 0; j--) { struct ent t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
    uint64_t total = r->part_size;
    for (size_t i = 0; i < n; i++) total += v[i].size;
    int64_t now = kf_now_ns();
    for (size_t i = 0; i < n; i++) {
        int64_t end = i + 1 < n ? v[i + 1].start : (r->part ? r->part_start : now);
        int old = r->keep_ns && end < now - r->keep_ns;
        int big = r->max_size && total > r->max_size;
        if (old || big) {
            char *p = pjoin(r->mdir, v[i].name);
            if (unlink(p) == 0) total -= v[i].size;
            free(p);
        }
        free(v[i].name);
    }
    free(v);
    kf_store_unlock(lfd);
}

static void part_close(rec *r)
{
    if (!r->part) return;
    if (fflush(r->part) != 0 || fsync(fileno(r->part)) != 0) { kf_err("%s: %s", r->part_path, strerror(errno)); r->io_failed = 1; }
    fclose(r->part);
    r->part = NULL;
    size_t l = strlen(r->part_path);
    char *closed = strndup(r->part_path, l - 5);
    if (!closed || rename(r->part_path, closed) != 0) { kf_err("%s: cannot close: %s", r->part_path, strerror(errno)); r->io_failed = 1; }
    free(closed);
    free(r->part_path);
    r->part_path = NULL;
    r->part_size = 0;
    retention(r);
}

static int part_open(rec *r, int64_t now)
{
    char nm[64], fn[96];
    metaname_format(now, nm, sizeof nm);
    snprintf(fn, sizeof fn, "%s.ndjson.part", nm);
    r->part_path = pjoin(r->mdir, fn);
    int fd = open(r->part_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0 || !(r->part = fdopen(fd, "a"))) {
        kf_err("%s: %s", r->part_path, strerror(errno));
        if (fd >= 0) close(fd);
        free(r->part_path); r->part_path = NULL;
        r->io_failed = 1;
        return -1;
    }
    r->part_start = now;
    r->part_size = 0;
    return 0;
}

/* A .part left by a recorder that died: cut to its last complete line and close it. */
static void recover_parts(rec *r)
{
    DIR *d = opendir(r->mdir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 13 || strcmp(de->d_name + l - 12, ".ndjson.part")) continue;
        char *p = pjoin(r->mdir, de->d_name);
        int fd = open(p, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            struct stat sb;
            if (fstat(fd, &sb) == 0 && sb.st_size > 0) {
                off_t end = sb.st_size, good = 0;
                char buf[4096];
                off_t pos = end;
                while (pos > 0 && !good) {
                    size_t k = pos > (off_t)sizeof buf ? sizeof buf : (size_t)pos;
                    pos -= (off_t)k;
                    if (pread(fd, buf, k, pos) != (ssize_t)k) break;
                    for (size_t i = k; i-- > 0;) if (buf[i] == '\n') { good = pos + (off_t)i + 1; break; }
                }
                if (good < end && ftruncate(fd, good) != 0) kf_warn("%s: %s", p, strerror(errno));
            }
            close(fd);
            char *closed = strndup(p, strlen(p) - 5);
            if (closed && rename(p, closed) == 0) kf_warn("%s: left by an earlier recorder; closed", p);
            free(closed);
        }
        free(p);
    }
    closedir(d);
}

static int record_event(void *ud, int64_t ts, const char *type, json_t *obj)
{
    rec *r = ud;
    json_t *md = json_object_get(obj, "metadata");
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!kept_kind(kind)) { r->skipped++; return 0; }
    const char *why = kf_meta_event_invalid(type, obj);
    if (why) {   /* what readers would refuse is not stored (one such line cost a store its metadata) */
        kf_warn("standard input: %s %s: %s; not stored", type, kind, why);
        r->skipped++;
        return 0;
    }
    const char *uid = json_string_value(json_object_get(md, "uid"));
    const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
    if (uid && rv && strcmp(type, "DELETED")) {
        const char *last = json_string_value(json_object_get(r->seen, uid));
        if (last && !strcmp(last, rv)) { r->skipped++; return 0; }   /* re-listed unchanged */
        json_object_set_new(r->seen, uid, json_string(rv));
    } else if (uid && !strcmp(type, "DELETED")) json_object_del(r->seen, uid);
    char *line = kf_meta_event_line(ts, type, obj);
    if (!line) return -1;
    if (r->part && ((r->rotate_ns && ts - r->part_start >= r->rotate_ns) || (r->rotate_size && r->part_size >= r->rotate_size)))
        part_close(r);
    if (!r->part && part_open(r, ts) != 0) { free(line); return 0; }
    /* whole lines only: a write that fails half-way (disk full) is cut back to the last complete
     * line, so the next event never lands glued to a torn one */
    size_t l = strlen(line), done = 0;
    int fd = fileno(r->part);
    off_t good = lseek(fd, 0, SEEK_END);
    int werr = fflush(r->part) != 0 || good < 0 ? errno : 0;
    while (!werr && done < l) {
        ssize_t k = write(fd, line + done, l - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) { werr = k < 0 ? errno : EIO; break; }
        done += (size_t)k;
    }
    if (werr) {
        if (good >= 0 && ftruncate(fd, good) != 0 && !r->io_failed) kf_warn("%s: %s", r->part_path, strerror(errno));
        if (!r->io_failed) kf_err("%s: %s (the event is lost; the file keeps whole lines)", r->part_path, strerror(werr));
        r->io_failed = 1;
        free(line);
        return 0;
    }
    r->part_size += l;
    r->stored++;
    free(line);
    return 0;
}

static void record_value(rec *r, const char *buf, size_t len, int64_t line)
{
    char err[512];
    if (kf_meta_parse_buffer(buf, len, kf_now_ns(), line, record_event, r, err, sizeof err) != 0) {
        kf_err("standard input: %s", err);
        r->errors++;
    }
}

static void record_usage(FILE *f)
{
    fprintf(f,
        "usage: kubectl get pods,services,endpoints,endpointslices,nodes -A -o json --watch \\\n"
        "         --output-watch-events | ksnap meta record --dir DIR [options]\n"
        "Stamps each event with its arrival time and appends what resolution needs to DIR/meta/.\n"
        "Also reads plain `kubectl get -o json` Lists and single objects.\n"
        "  --rotate DUR         start a new event file after DUR (default 1h; alias --segment-time)\n"
        "  --rotate-size SIZE   ... or after SIZE bytes (default 16M; alias --segment-size)\n"
        "  --retention DUR      delete event files older than DUR (default 7d; 0 keeps all;\n"
        "                       alias --retain-time)\n"
        "  --max-size SIZE      keep DIR/meta/ under SIZE (default 0 = no limit; alias --retain-size)\n");
}

static int meta_record(int argc, char **argv)
{
    static const struct option lo[] = {
        { "dir", 1, 0, 'd' }, { "rotate", 1, 0, 'r' }, { "rotate-size", 1, 0, 's' },
        { "retention", 1, 0, 'k' }, { "max-size", 1, 0, 'm' },
        /* the names ksnap capture uses for the same things */
        { "segment-time", 1, 0, 'r' }, { "segment-size", 1, 0, 's' },
        { "retain-time", 1, 0, 'k' }, { "retain-size", 1, 0, 'm' }, { "help", 0, 0, 'h' }, { 0 } };
    rec r = { 0 };
    r.rotate_ns = 3600 * KF_NS_PER_SEC;
    r.rotate_size = 16 << 20;
    r.keep_ns = 7 * 86400 * KF_NS_PER_SEC;
    int c;
    optind = 1;
    while ((c = kf_getopt(argc, argv, "d:h", lo)) != -1) {
        switch (c) {
        case 'd': r.dir = optarg; break;
        case 'r': if (kf_duration_parse(optarg, &r.rotate_ns) != 0) kf_usage_die("--rotate: bad duration '%s'", optarg); break;
        case 's': if (kf_size_parse(optarg, &r.rotate_size) != 0) kf_usage_die("--rotate-size: bad size '%s'", optarg); break;
        case 'k': if (kf_duration_parse(optarg, &r.keep_ns) != 0) kf_usage_die("--retention: bad duration '%s'", optarg); break;
        case 'm': if (kf_size_parse(optarg, &r.max_size) != 0) kf_usage_die("--max-size: bad size '%s'", optarg); break;
        case 'h': record_usage(stdout); return 0;
        default: kf_usage_die("unknown option");
        }
    }
    if (!r.dir) kf_usage_die("--dir is required");
    if (optind < argc) kf_usage_die("unexpected argument '%s' (record reads standard input)", argv[optind]);
    if (ensure_meta_dir(r.dir, &r.mdir) != 0) return KF_EXIT_IO;
    char *lp = pjoin(r.mdir, ".record");
    int lfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0)
        kf_die(KF_EXIT_ERR, "%s: another 'ksnap meta record' is writing here", r.mdir);
    free(lp);
    recover_parts(&r);
    r.seen = json_object();
    struct sigaction sa = { 0 };
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* framing state */
    size_t cap = 1 << 16, len = 0, vstart = 0, scan = 0;
    char *buf = malloc(cap);
    int depth = 0, in_str = 0, esc = 0, junk = 0;
    int64_t line = 1, vline = 1;
    if (!buf) kf_die(KF_EXIT_ERR, "out of memory");
    while (!stop_flag) {
        if (len == cap) {
            if (vstart > 0) { memmove(buf, buf + vstart, len - vstart); len -= vstart; scan -= vstart; vstart = 0; }
            else {
                if (cap >= (256u << 20)) {   /* one value over 256 MiB: not kubectl output */
                    kf_err("standard input: line %lld: a JSON value larger than 256 MiB; skipped", (long long)vline);
                    r.errors++;
                    len = scan = vstart = 0; depth = 0; in_str = esc = 0; junk = 1;
                    continue;
                }
                char *nb = realloc(buf, cap * 2);
                if (!nb) kf_die(KF_EXIT_ERR, "out of memory");
                buf = nb; cap *= 2;
            }
        }
        ssize_t n = read(0, buf + len, cap - len);
        if (n < 0) { if (errno == EINTR) continue; kf_err("standard input: %s", strerror(errno)); break; }
        if (n == 0) break;
        len += (size_t)n;
        for (; scan < len; scan++) {
            char ch = buf[scan];
            int bol = scan == 0 || buf[scan - 1] == '\n';
            if (ch == '\n') line++;
            if (depth == 0) {
                if (ch == '{' || ch == '[') {
                    if (junk) { junk = 0; }
                    vstart = scan; vline = line; depth = 1; in_str = esc = 0;
                } else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n' && !junk) {
                    kf_err("standard input: line %lld: unexpected '%c' between JSON values; skipped to the next object", (long long)line, ch);
                    r.errors++;
                    junk = 1;
                    vstart = scan + 1;
                } else vstart = scan + 1;
                continue;
            }
            if (in_str) {
                if (esc) esc = 0;
                else if (ch == '\\') esc = 1;
                else if (ch == '"') in_str = 0;
                else if (ch == '\n') in_str = 0;   /* JSON strings hold no raw newline: broken value */
                continue;
            }
            if (bol && ch == '{' && scan > vstart) {
                /* a new top-level object while one is open: the open one was cut short */
                kf_err("standard input: line %lld: JSON value cut short (watch restarted?); dropped", (long long)vline);
                r.errors++;
                vstart = scan; vline = line; depth = 1;
                continue;
            }
            if (ch == '"') in_str = 1;
            else if (ch == '{' || ch == '[') depth++;
            else if (ch == '}' || ch == ']') {
                if (--depth == 0) {
                    record_value(&r, buf + vstart, scan + 1 - vstart, vline);
                    vstart = scan + 1;
                }
            }
        }
        if (depth == 0) { len = scan = vstart = 0; }
    }
    if (depth > 0 && !stop_flag) {
        kf_err("standard input: line %lld: input ended inside a JSON value; dropped", (long long)vline);
        r.errors++;
    }
    free(buf);
    part_close(&r);
    json_decref(r.seen);
    free(r.mdir);
    close(lfd);
    if (r.io_failed) return KF_EXIT_IO;
    return r.errors ? KF_EXIT_ERR : 0;
}

/* ---------------- import ---------------- */
typedef struct imp { char **lines; int64_t *ts; size_t n, cap; uint64_t skipped; } imp;

static ssize_t file_read(void *f, void *buf, size_t n)
{
    size_t k = fread(buf, 1, n, f);
    return k == 0 && ferror((FILE *)f) ? -1 : (ssize_t)k;
}

static int import_event(void *ud, int64_t ts, const char *type, json_t *obj)
{
    imp *im = ud;
    if (!kept_kind(json_string_value(json_object_get(obj, "kind")))) { im->skipped++; return 0; }
    if (kf_meta_event_invalid(type, obj)) return -1;   /* readers would refuse it: not stored */
    char *l = kf_meta_event_line(ts, type, obj);
    if (!l) return -1;
    if (im->n == im->cap) {
        im->cap = im->cap ? im->cap * 2 : 256;
        im->lines = realloc(im->lines, im->cap * sizeof *im->lines);
        im->ts = realloc(im->ts, im->cap * sizeof *im->ts);
        if (!im->lines || !im->ts) kf_die(KF_EXIT_ERR, "out of memory");
    }
    im->lines[im->n] = l;
    im->ts[im->n++] = ts;
    return 0;
}

static int meta_import(int argc, char **argv)
{
    static const struct option lo[] = { { "dir", 1, 0, 'd' }, { "at", 1, 0, 'a' }, { "help", 0, 0, 'h' }, { 0 } };
    const char *dir = NULL, *at_s = NULL;
    int c;
    optind = 1;
    while ((c = kf_getopt(argc, argv, "d:a:h", lo)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'a': at_s = optarg; break;
        case 'h':
            printf("usage: ksnap meta import --dir DIR [--at TIME] FILE...\n"
                   "Imports stored events ({\"ts\",\"type\",\"object\"} lines, docs/metadata.md) and\n"
                   "kubectl JSON (Lists, objects, watch output) into DIR/meta/. Objects without an\n"
                   "event time are stamped with --at (default: the file's modification time).\n");
            return 0;
        default: kf_usage_die("unknown option");
        }
    }
    if (!dir) kf_usage_die("--dir is required");
    if (optind >= argc) kf_usage_die("files to import are required");
    int64_t at = KF_T_MIN;
    char err[512];
    if (at_s && kf_time_parse(at_s, kf_now_ns(), &at, err, sizeof err) != 0) kf_usage_die("--at: %s", err);
    imp im = { 0 };
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        FILE *f = strcmp(argv[i], "-") ? fopen(argv[i], "rb") : stdin;
        if (!f) { kf_err("%s: %s", argv[i], strerror(errno)); rc = KF_EXIT_ERR; continue; }
        struct stat sb;
        int64_t t = at;
        if (t == KF_T_MIN) t = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)
                                   ? (int64_t)sb.st_mtim.tv_sec * KF_NS_PER_SEC + sb.st_mtim.tv_nsec : kf_now_ns();
        /* streamed: bounded memory whatever the file (/dev/zero grew without end) */
        int perr = kf_meta_parse_stream(file_read, f, t, import_event, &im, err, sizeof err);
        if (ferror(f)) { kf_err("%s: %s", argv[i], strerror(errno)); rc = KF_EXIT_ERR; }
        else if (perr != 0) {
            if (strstr(err, "stopped reading")) kf_err("%s: %s", argv[i], err);
            else kf_err("%s: %s (the valid events are kept)", argv[i], err);
            rc = KF_EXIT_ERR;
        }
        if (f != stdin) fclose(f);
    }
    if (!im.n) {
        if (!rc) kf_err("no Kubernetes events in the input");
        return rc ? rc : KF_EXIT_NONE;
    }
    /* stable sort by time (insertion sort over an index is fine for what people import; merge
     * sort would be needed for millions: use qsort on pairs with the original index) */
    size_t *ix = malloc(im.n * sizeof *ix);
    for (size_t i = 0; i < im.n; i++) ix[i] = i;
    int64_t *tsv = im.ts;
    /* shell-free stable sort: bottom-up merge */
    size_t *tmpv = malloc(im.n * sizeof *tmpv);
    for (size_t w = 1; w < im.n; w *= 2) {
        for (size_t lo = 0; lo < im.n; lo += 2 * w) {
            size_t mid = lo + w < im.n ? lo + w : im.n, hi = lo + 2 * w < im.n ? lo + 2 * w : im.n;
            size_t a = lo, bb = mid, o = lo;
            while (a < mid && bb < hi) tmpv[o++] = tsv[ix[bb]] < tsv[ix[a]] ? ix[bb++] : ix[a++];
            while (a < mid) tmpv[o++] = ix[a++];
            while (bb < hi) tmpv[o++] = ix[bb++];
        }
        memcpy(ix, tmpv, im.n * sizeof *ix);
    }
    free(tmpv);
    char *mdir;
    if (ensure_meta_dir(dir, &mdir) != 0) return KF_EXIT_IO;
    int64_t start = im.ts[ix[0]];
    char *path = NULL;
    for (int tries = 0; tries < 1000; tries++, start++) {
        char nm[64], fn[96];
        metaname_format(start, nm, sizeof nm);
        snprintf(fn, sizeof fn, "%s.ndjson", nm);
        free(path);
        path = pjoin(mdir, fn);
        if (access(path, F_OK) != 0) break;
    }
    kf_atomic a;
    if (kf_atomic_open(&a, path, 0640, err, sizeof err) != 0) kf_die(KF_EXIT_IO, "%s: %s", path, err);
    for (size_t i = 0; i < im.n; i++) fputs(im.lines[ix[i]], a.f);
    if (kf_atomic_commit(&a, err, sizeof err) != 0) { kf_err("%s: %s", path, err); rc = KF_EXIT_IO; }
    for (size_t i = 0; i < im.n; i++) free(im.lines[i]);
    free(im.lines); free(im.ts); free(ix); free(path); free(mdir);
    return rc;
}

int cmd_meta(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: ksnap meta record --dir DIR [options] < kubectl-watch-output\n"
                   "       ksnap meta import --dir DIR [--at TIME] FILE...\n"
                   "'ksnap meta record --help', 'ksnap meta import --help' for details.\n");
        return argc < 2 ? KF_EXIT_ERR : 0;
    }
    if (!strcmp(argv[1], "record")) return meta_record(argc - 1, argv + 1);
    if (!strcmp(argv[1], "import")) return meta_import(argc - 1, argv + 1);
    kf_usage_die("unknown meta command '%s' (record or import)", argv[1]);
}
