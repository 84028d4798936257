/* kf_store — the capture store layout and its locks (docs/store.md). */
#include "kf_store.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000LL

char *kf_segname_format(int64_t start_ns, char *buf, size_t len)
{
    int64_t sec = start_ns / NS, frac = start_ns % NS;
    if (frac < 0) { frac += NS; sec--; }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        if (len) buf[0] = 0;
        return buf;
    }
    snprintf(buf, len, "%04d%02d%02dT%02d%02d%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
    return buf;
}

/* n decimal digits at s; -1 if any is not a digit */
static long digits(const char *s, int n)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int kf_segname_parse(const char *name, int64_t *start_ns, int *open)
{
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    /* YYYYMMDDTHHMMSS.NNNNNNNNNZ = 26 chars */
    if (strlen(b) < 26 || b[8] != 'T' || b[15] != '.' || b[25] != 'Z') return -1;
    long Y = digits(b, 4), M = digits(b + 4, 2), D = digits(b + 6, 2);
    long h = digits(b + 9, 2), m = digits(b + 11, 2), s = digits(b + 13, 2);
    long f = digits(b + 16, 9);
    if (Y < 0 || M < 1 || M > 12 || D < 1 || D > 31 || h < 0 || h > 23 || m < 0 || m > 59 ||
        s < 0 || s > 60 || f < 0)
        return -1;
    const char *ext = b + 26;
    int o;
    if (!strcmp(ext, ".pcapng")) o = 0;
    else if (!strcmp(ext, ".pcapng.part")) o = 1;
    else return -1;
    struct tm tm = { .tm_year = (int)Y - 1900, .tm_mon = (int)M - 1, .tm_mday = (int)D,
                     .tm_hour = (int)h, .tm_min = (int)m, .tm_sec = (int)s };
    time_t t = timegm(&tm);
    if (tm.tm_mday != D) return -1;   /* 20260231 normalised into March: not a real date */
    if (start_ns) *start_ns = (int64_t)t * NS + f;
    if (open) *open = o;
    return 0;
}

static void seterr(char *err, size_t errlen, const char *what, const char *path)
{
    if (err && errlen) snprintf(err, errlen, "%s: %s", path, what);
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = malloc(la + lb + 2);
    if (!r) return NULL;
    memcpy(r, a, la);
    size_t o = la;
    if (la && a[la - 1] != '/') r[o++] = '/';
    memcpy(r + o, b, lb + 1);
    return r;
}

/* 1 if folder p holds a segment or a store lock file */
static int looks_like_node(const char *p)
{
    DIR *d = opendir(p);
    if (!d) return 0;
    struct dirent *e;
    int yes = 0;
    while (!yes && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".lock") || !strcmp(e->d_name, ".capture") ||
            kf_segname_parse(e->d_name, NULL, NULL) == 0)
            yes = 1;
    }
    closedir(d);
    return yes;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kf_store_nodes(const char *dir, char ***nodes, size_t *n, char *err, size_t errlen)
{
    *nodes = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) { seterr(err, errlen, strerror(errno), dir); return -1; }
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "meta")) continue;
        char *p = join(dir, e->d_name);
        if (!p) { rc = -1; break; }
        int ok = is_dir(p) && looks_like_node(p);
        free(p);
        if (!ok) continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **nv = realloc(v, nc * sizeof *v);
            if (!nv) { rc = -1; break; }
            v = nv;
            cap = nc;
        }
        if (!(v[cnt] = strdup(e->d_name))) { rc = -1; break; }
        cnt++;
    }
    closedir(d);
    if (rc) {
        kf_strv_free(v, cnt);
        seterr(err, errlen, "out of memory", dir);
        return -1;
    }
    if (cnt) qsort(v, cnt, sizeof *v, cmp_str);
    *nodes = v;
    *n = cnt;
    return 0;
}

int kf_store_is_store(const char *dir)
{
    char *m = join(dir, "meta");
    int yes = m && is_dir(m);
    free(m);
    if (yes) return 1;
    char **v;
    size_t n;
    if (kf_store_nodes(dir, &v, &n, NULL, 0) != 0) return 0;
    kf_strv_free(v, n);
    return n > 0;
}

void kf_strv_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void kf_segments_free(kf_segment *segs, size_t n)
{
    if (!segs) return;
    for (size_t i = 0; i < n; i++) { free(segs[i].path); free(segs[i].node); }
    free(segs);
}

static int cmp_seg(const void *a, const void *b)
{
    const kf_segment *x = a, *y = b;
    int c = strcmp(x->node, y->node);
    if (c) return c;
    if (x->start_ns != y->start_ns) return x->start_ns < y->start_ns ? -1 : 1;
    return x->open - y->open;   /* a closed twin (rename race) sorts first */
}

typedef struct segv { kf_segment *v; size_t n, cap; } segv;

/* Appends the segments of one node folder; mtimes go to a side array for the last end_ns. */
static int scan_node(const char *dir, const char *node, segv *sv, int64_t **mt, char *err,
                     size_t errlen)
{
    char *nd = join(dir, node);
    if (!nd) { seterr(err, errlen, "out of memory", dir); return -1; }
    DIR *d = opendir(nd);
    if (!d) { seterr(err, errlen, strerror(errno), nd); free(nd); return -1; }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        int64_t start;
        int open;
        if (kf_segname_parse(e->d_name, &start, &open) != 0) continue;
        char *p = join(nd, e->d_name);
        if (!p) { rc = -1; break; }
        struct stat st;
        if (stat(p, &st) != 0 && open) {
            /* the .part was renamed while we looked: take the closed name */
            size_t l = strlen(p);
            p[l - 5] = 0;
            open = 0;
        }
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) { free(p); continue; }
        if (sv->n == sv->cap) {
            size_t nc = sv->cap ? sv->cap * 2 : 64;
            kf_segment *nv = realloc(sv->v, nc * sizeof *nv);
            int64_t *nm = realloc(*mt, nc * sizeof *nm);
            if (nv) sv->v = nv;
            if (nm) *mt = nm;
            if (!nv || !nm) { free(p); rc = -1; break; }
            sv->cap = nc;
        }
        kf_segment *s = &sv->v[sv->n];
        memset(s, 0, sizeof *s);
        s->path = p;
        if (!(s->node = strdup(node))) { free(p); rc = -1; break; }
        s->start_ns = start;
        s->size = (uint64_t)st.st_size;
        s->open = open;
        (*mt)[sv->n] = (int64_t)st.st_mtim.tv_sec * NS + st.st_mtim.tv_nsec;
        sv->n++;
    }
    closedir(d);
    if (rc) seterr(err, errlen, "out of memory", nd);
    free(nd);
    return rc;
}

int kf_store_segments(const char *dir, const char *node, kf_segment **segs, size_t *n,
                      char *err, size_t errlen)
{
    *segs = NULL;
    *n = 0;
    segv sv = { 0 };
    int64_t *mt = NULL;
    int rc = 0;
    if (node) {
        rc = scan_node(dir, node, &sv, &mt, err, errlen);
    } else {
        char **nodes;
        size_t nn;
        if (kf_store_nodes(dir, &nodes, &nn, err, errlen) != 0) return -1;
        for (size_t i = 0; i < nn && !rc; i++) rc = scan_node(dir, nodes[i], &sv, &mt, err, errlen);
        kf_strv_free(nodes, nn);
    }
    if (rc) { kf_segments_free(sv.v, sv.n); free(mt); return -1; }
    /* sort with the mtimes alongside: sort an index */
    if (sv.n > 1) {
        for (size_t i = 0; i < sv.n; i++) sv.v[i].end_ns = mt[i];   /* carry mtime in end_ns */
        qsort(sv.v, sv.n, sizeof *sv.v, cmp_seg);
        /* drop a .part whose closed twin is also listed (seen during a rename) */
        size_t w = 0;
        for (size_t i = 0; i < sv.n; i++) {
            if (w && !strcmp(sv.v[w - 1].node, sv.v[i].node) &&
                sv.v[w - 1].start_ns == sv.v[i].start_ns) {
                free(sv.v[i].path);
                free(sv.v[i].node);
                continue;
            }
            sv.v[w++] = sv.v[i];
        }
        sv.n = w;
    } else if (sv.n == 1) {
        sv.v[0].end_ns = mt[0];
    }
    free(mt);
    for (size_t i = 0; i < sv.n; i++) {
        int last = i + 1 == sv.n || strcmp(sv.v[i + 1].node, sv.v[i].node) != 0;
        if (!last) sv.v[i].end_ns = sv.v[i + 1].start_ns;
        else if (sv.v[i].end_ns < sv.v[i].start_ns) sv.v[i].end_ns = sv.v[i].start_ns;
    }
    *segs = sv.v;
    *n = sv.n;
    return 0;
}

static char *lockpath(const char *dir, const char *node, const char *file)
{
    char *nd = join(dir, node);
    if (!nd) return NULL;
    char *p = join(nd, file);
    free(nd);
    return p;
}

static int open_lockfile(const char *p)
{
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
        fd = open(p, O_RDONLY | O_CLOEXEC);   /* a reader without write access may still flock */
    return fd;
}

int kf_store_lock(const char *dir, const char *node, int exclusive, int nonblock)
{
    char *p = lockpath(dir, node, ".lock");
    if (!p) { errno = ENOMEM; return -1; }
    int fd = open_lockfile(p);
    free(p);
    if (fd < 0) return -1;
    int op = (exclusive ? LOCK_EX : LOCK_SH) | (nonblock ? LOCK_NB : 0);
    int r;
    while ((r = flock(fd, op)) != 0 && errno == EINTR && !nonblock)
        ;
    if (r != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

void kf_store_unlock(int fd)
{
    if (fd >= 0) close(fd);   /* closing the only fd releases the flock */
}

int kf_store_capture_lock(const char *dir, const char *node)
{
    char *p = lockpath(dir, node, ".capture");
    if (!p) { errno = ENOMEM; return -1; }
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    free(p);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    char buf[32];
    int l = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)l, 0) != l) {
        /* the pid inside is informative only; the flock is what counts */
    }
    return fd;
}

int kf_store_capture_running(const char *dir, const char *node)
{
    char *p = lockpath(dir, node, ".capture");
    if (!p) return 0;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    free(p);
    if (fd < 0) return 0;
    int running = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return running;
}
