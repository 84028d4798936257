/* kmcp dissect: one background dissection per snapshot, kept beside it.
 *   SNAPDIR/NAME.ksnap                the snapshot
 *   SNAPDIR/.NAME.dissection.lock     flock'ed while a kmcp dissects NAME
 *   SNAPDIR/.NAME.dissection.tmp/     being written (removed when it fails or is cancelled)
 *   SNAPDIR/NAME.dissection/          complete: calls.ndjson.gz (kdissect's records, gzip),
 *                                     stats.ndjson and map.json (kstat's, when kstat is there),
 *                                     info.json (counts, window, times)
 * The folder appears by one rename, so a dissection is either complete or absent; a restart of
 * kmcp finds complete ones on disk and removes temporary folders nobody holds a lock on. */
#include "kmcp.h"
#include "kf_time.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

typedef struct job {
    char name[160];
    enum { J_RUNNING, J_FAILED, J_CANCELLED } state;
    char phase[32];
    char error[512];
    int64_t started_ns, finished_ns, win_from, win_to, last_ts;
    uint64_t records, api_calls, l4_records;
    volatile int cancel;
    int lockfd;
    pthread_t thread;
    int joined;
    struct job *next;
} job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static job *jobs;
static int shutting_down;

static char *path_of(const char *fmt, const char *name)
{
    char *p;
    if (asprintf(&p, fmt, g_cfg.snapdir, name) < 0) return NULL;
    return p;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p;
            if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) continue;
            unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static job *find(const char *name)
{
    for (job *j = jobs; j; j = j->next)
        if (!strcmp(j->name, name)) return j;
    return NULL;
}

void kmcp_dissect_startup(void)
{
    DIR *d = opendir(g_cfg.snapdir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        const char *suf = ".dissection.tmp";
        if (e->d_name[0] != '.' || n <= strlen(suf) + 1 || strcmp(e->d_name + n - strlen(suf), suf)) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(n - strlen(suf) - 1), e->d_name + 1);
        char *lock = path_of("%s/.%s.dissection.lock", name), *tmp = path_of("%s/.%s.dissection.tmp", name);
        int fd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {   /* nobody works on it: left by a killed kmcp */
            kmcp_log("removing the half-written dissection of %s", name);
            rm_rf(tmp);
            unlink(lock);
        }
        if (fd >= 0) close(fd);
        free(lock);
        free(tmp);
    }
    closedir(d);
}

/* --- the worker */
/* calls.ndjson.gz is written as gzip members of about CHUNK bytes of records each, and
 * index.tsv says where each member starts ("<first record index>\t<byte offset>"), so one record
 * or a page after a cursor is read from its member on, not from the start (concatenated members
 * are plain gzip to zcat, kfl and kstat). */
#define CHUNK (4u << 20)
typedef struct sink {
    job *j;
    gzFile gz;
    const char *path;
    FILE *index;
    size_t chunk_bytes, chunk;
    int failed, started;
} sink;

long long kmcp_record_index(const char *line, size_t len)
{
    const char *id = memmem(line, len < 200 ? len : 200, "\"id\":\"", 6);
    if (!id) return -1;
    id += 6;
    const char *q = memchr(id, '"', (size_t)(line + len - id));
    const char *d = q ? memrchr(id, '-', (size_t)(q - id)) : NULL;
    return d ? strtoll(d + 1, NULL, 10) : -1;
}

static int on_record(void *arg, char *line, size_t len)
{
    sink *s = arg;
    if (!len) return 0;
    if (!s->started || s->chunk_bytes >= s->chunk) {      /* a new member starts with this record */
        long long off = 0;
        if (s->started) {
            struct stat st;
            if (gzclose(s->gz) != Z_OK || stat(s->path, &st) < 0 || !(s->gz = gzopen(s->path, "ab3"))) { s->gz = NULL; s->failed = 1; return 1; }
            off = (long long)st.st_size;
        }
        if (fprintf(s->index, "%lld\t%lld\n", kmcp_record_index(line, len), off) < 0) { s->failed = 1; return 1; }
        s->started = 1;
        s->chunk_bytes = 0;
    }
    s->chunk_bytes += len + 1;
    if (gzwrite(s->gz, line, (unsigned)len) != (int)len || gzwrite(s->gz, "\n", 1) != 1) { s->failed = 1; return 1; }
    job *j = s->j;
    const char *t = strstr(line, "\"timestamp\":\"");
    int64_t ns;
    int l4 = strstr(line, "\"conn\":true") || strstr(line, "\"flow\":true");
    pthread_mutex_lock(&mu);
    j->records++;
    if (l4) j->l4_records++; else j->api_calls++;
    if (t && kf_time_parse_rfc3339(t + 13, strcspn(t + 13, "\""), &ns) == 0 && ns > j->last_ts) j->last_ts = ns;
    pthread_mutex_unlock(&mu);
    return 0;
}

static void fail(job *j, const char *fmt, const char *detail)
{
    pthread_mutex_lock(&mu);
    j->state = j->cancel ? J_CANCELLED : J_FAILED;
    snprintf(j->error, sizeof j->error, fmt, detail ? detail : "");
    j->finished_ns = kf_now_ns();
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&mu);
}

static void set_phase(job *j, const char *phase)
{
    pthread_mutex_lock(&mu);
    snprintf(j->phase, sizeof j->phase, "%s", phase);
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&mu);
}

static int collect(void *arg, char *line, size_t len)
{
    kmcp_buf_add(arg, line, len, 64u << 20);
    kmcp_buf_add(arg, "\n", 1, 64u << 20);
    return 0;
}

/* runs tool args… writing its stdout to path; 0 ok */
static int run_to_file(job *j, char **argv, const char *path, char **msg)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { *msg = strdup(strerror(errno)); return -1; }
    kmcp_run r = {.argv = {argv}, .nstages = 1, .out_fd = fd, .cancel = &j->cancel};
    int rc = kmcp_run_pipeline(&r);
    if (fsync(fd) < 0 || close(fd) < 0) rc = -1;
    if (rc < 0 || r.status[0] != 0) {
        *msg = kmcp_run_message(&r);
        rc = -1;
    }
    kmcp_run_free(&r);
    return rc;
}

static void *worker(void *arg)
{
    job *j = arg;
    char *snap = kmcp_snap_path(j->name);
    char *tmp = path_of("%s/.%s.dissection.tmp", j->name), *fin = path_of("%s/%s.dissection", j->name);
    char *calls = NULL, *msg = NULL;
    rm_rf(tmp);
    if (!snap || !tmp || !fin || mkdir(tmp, 0755) < 0) { fail(j, "cannot create the dissection folder: %s", strerror(errno)); goto out; }

    /* 1. the manifest (window for progress) and verification */
    set_phase(j, "verifying");
    {
        char *vv[] = {"ksnap", "verify", "-q", snap, NULL};
        kmcp_run v = {.argv = {vv}, .nstages = 1, .out_fd = -1, .cancel = &j->cancel};
        if (kmcp_run_pipeline(&v) < 0 || v.status[0] != 0) {
            msg = kmcp_run_message(&v);
            fail(j, v.cancelled ? "cancelled" : "the snapshot failed verification: %s", msg);
            kmcp_run_free(&v);
            goto out;
        }
        kmcp_run_free(&v);
        kmcp_buf b = {0};
        char *av[] = {"ksnap", "info", "--json", snap, NULL};
        kmcp_run r = {.argv = {av}, .nstages = 1, .out_fd = -1, .on_line = collect, .arg = &b, .cancel = &j->cancel};
        if (kmcp_run_pipeline(&r) < 0 || r.status[0] != 0) {
            msg = kmcp_run_message(&r);
            fail(j, "%s", msg);
            kmcp_run_free(&r); kmcp_buf_free(&b);
            goto out;
        }
        kmcp_run_free(&r);
        json_t *m = b.p ? json_loads(b.p, 0, NULL) : NULL;
        kmcp_buf_free(&b);
        json_t *w = json_object_get(m, "window");
        const char *f = json_string_value(json_object_get(w, "from")), *t = json_string_value(json_object_get(w, "to"));
        pthread_mutex_lock(&mu);
        if (f) kf_time_parse_rfc3339(f, strlen(f), &j->win_from);
        if (t) kf_time_parse_rfc3339(t, strlen(t), &j->win_to);
        pthread_mutex_unlock(&mu);
        json_decref(m);
    }

    /* 2. kdissect → calls.ndjson.gz */
    set_phase(j, "dissecting");
    if (asprintf(&calls, "%s/calls.ndjson.gz", tmp) < 0) goto out;
    {
        char *ixp = NULL;
        if (asprintf(&ixp, "%s/index.tsv", tmp) < 0) goto out;
        sink s = {.j = j, .gz = gzopen(calls, "wb3"), .path = calls, .index = fopen(ixp, "we"), .chunk = CHUNK};
        const char *cb = getenv("KMCP_CHUNK_BYTES");       /* tests: many members from a small input */
        if (cb && atoi(cb) > 0) s.chunk = (size_t)atoi(cb);
        free(ixp);
        if (!s.gz || !s.index) {
            fail(j, "cannot write calls.ndjson.gz: %s", strerror(errno));
            if (s.gz) gzclose(s.gz);
            if (s.index) fclose(s.index);
            goto out;
        }
        char *av[] = {"kdissect", snap, NULL};
        kmcp_run r = {.argv = {av}, .nstages = 1, .out_fd = -1, .on_line = on_record, .arg = &s, .cancel = &j->cancel};
        int rc = kmcp_run_pipeline(&r);
        int zc = s.gz ? gzclose(s.gz) : Z_ERRNO;
        if (fflush(s.index) != 0 || fsync(fileno(s.index)) < 0) s.failed = 1;
        if (fclose(s.index) != 0) s.failed = 1;
        if (rc < 0 || r.cancelled || s.failed || zc != Z_OK || (r.status[0] != 0 && r.status[0] != 1)) {
            msg = s.failed || zc != Z_OK ? strdup("writing calls.ndjson.gz failed (disk full?)") : kmcp_run_message(&r);
            fail(j, r.cancelled ? "cancelled" : "kdissect failed: %s", msg);
            kmcp_run_free(&r);
            goto out;
        }
        kmcp_run_free(&r);
    }

    /* 3. kstat's default statistics and map, when kstat is installed */
    char *kstat = kmcp_tool_path("kstat");
    if (kstat) {
        free(kstat);
        set_phase(j, "statistics");
        char *sp = NULL, *mp = NULL;
        if (asprintf(&sp, "%s/stats.ndjson", tmp) < 0 || asprintf(&mp, "%s/map.json", tmp) < 0) goto out;
        char *a1[] = {"kstat", "--json", calls, NULL};
        char *a2[] = {"kstat", "map", "--format", "json", calls, NULL};
        int bad = run_to_file(j, a1, sp, &msg) < 0 || run_to_file(j, a2, mp, &msg) < 0;
        free(sp); free(mp);
        if (bad) { fail(j, j->cancel ? "cancelled" : "kstat failed: %s", msg); goto out; }
    }

    /* 4. info.json, then one rename makes it visible */
    {
        char b1[40], b2[40], b3[40], *ip = NULL;
        pthread_mutex_lock(&mu);
        json_t *info = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "snapshot", j->name,
                                 "started", kf_time_rfc3339(j->started_ns, b1, sizeof b1),
                                 "finished", kf_time_rfc3339(kf_now_ns(), b2, sizeof b2),
                                 "records", (json_int_t)j->records, "api_calls", (json_int_t)j->api_calls,
                                 "l4_records", (json_int_t)j->l4_records);
        if (j->last_ts) json_object_set_new(info, "last_record", json_string(kf_time_rfc3339(j->last_ts, b3, sizeof b3)));
        pthread_mutex_unlock(&mu);
        if (asprintf(&ip, "%s/info.json", tmp) < 0 || json_dump_file(info, ip, JSON_COMPACT) < 0) {
            json_decref(info); free(ip);
            fail(j, "cannot write info.json%s", "");
            goto out;
        }
        json_decref(info);
        int fd = open(ip, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) { fsync(fd); close(fd); }
        free(ip);
        fd = open(calls, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) { fsync(fd); close(fd); }
    }
    if (j->cancel) { fail(j, "cancelled%s", ""); goto out; }
    rm_rf(fin);     /* a stale one (its snapshot deleted and made again) */
    if (rename(tmp, fin) < 0) { fail(j, "cannot rename the dissection folder: %s", strerror(errno)); goto out; }
    {
        int dfd = open(g_cfg.snapdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) { fsync(dfd); close(dfd); }
    }
    kmcp_log("dissection of %s complete", j->name);
    pthread_mutex_lock(&mu);
    /* complete: the folder on disk is the state from now on */
    j->state = J_RUNNING;
    snprintf(j->phase, sizeof j->phase, "completed");
    j->finished_ns = kf_now_ns();
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&mu);
out:
    if (tmp && strcmp(j->phase, "completed")) rm_rf(tmp);
    char *lock = path_of("%s/.%s.dissection.lock", j->name);
    if (lock) unlink(lock);
    free(lock);
    if (j->lockfd >= 0) close(j->lockfd);
    j->lockfd = -1;
    free(snap); free(tmp); free(fin); free(calls); free(msg);
    return NULL;
}

static int completed_on_disk(const char *name, json_t **info)
{
    char *p = path_of("%s/%s.dissection/info.json", name);
    json_t *i = p ? json_load_file(p, 0, NULL) : NULL;
    free(p);
    if (info) *info = i; else json_decref(i);
    return i != NULL;
}

static json_t *status_locked(const char *name)
{
    json_t *info = NULL;
    job *j = find(name);
    char b[40];
    if (completed_on_disk(name, &info) && (!j || !strcmp(j->phase, "completed") || j->state != J_RUNNING)) {
        json_t *o = json_pack("{s:s, s:s, s:f}", "snapshot", name, "status", "completed", "progress", 1.0);
        json_object_update(o, info);
        json_decref(info);
        return o;
    }
    json_decref(info);
    if (!j) {
        char *lock = path_of("%s/.%s.dissection.lock", name), *tmp = path_of("%s/.%s.dissection.tmp", name);
        struct stat st;
        int elsewhere = 0;
        if (tmp && stat(tmp, &st) == 0) {
            int fd = open(lock, O_RDWR | O_CLOEXEC);
            if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) elsewhere = 1;
            if (fd >= 0) close(fd);
        }
        free(lock); free(tmp);
        return json_pack("{s:s, s:s}", "snapshot", name, "status", elsewhere ? "running_elsewhere" : "not_started");
    }
    const char *st = j->state == J_FAILED ? "failed" : j->state == J_CANCELLED ? "cancelled" : "running";
    double prog = 0;
    if (j->state == J_RUNNING && j->win_to > j->win_from && j->last_ts > j->win_from) {
        prog = (double)(j->last_ts - j->win_from) / (double)(j->win_to - j->win_from);
        if (prog > 0.99) prog = 0.99;
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:f, s:I, s:I, s:I, s:s}", "snapshot", name, "status", st,
                          "phase", j->phase, "progress", prog, "records", (json_int_t)j->records,
                          "api_calls", (json_int_t)j->api_calls, "l4_records", (json_int_t)j->l4_records,
                          "started", kf_time_rfc3339(j->started_ns, b, sizeof b));
    if (j->last_ts) json_object_set_new(o, "records_up_to", json_string(kf_time_rfc3339(j->last_ts, b, sizeof b)));
    if (j->state != J_RUNNING) json_object_set_new(o, "error", json_string(j->error));
    return o;
}

json_t *kmcp_dissect_status(const char *name)
{
    pthread_mutex_lock(&mu);
    json_t *o = status_locked(name);
    pthread_mutex_unlock(&mu);
    return o;
}

json_t *kmcp_dissect_start(const char *name, char *err, size_t errlen)
{
    pthread_mutex_lock(&mu);
    if (shutting_down) { pthread_mutex_unlock(&mu); snprintf(err, errlen, "kmcp is shutting down"); return NULL; }
    job *j = find(name);
    json_t *cur = status_locked(name);
    const char *st = json_string_value(json_object_get(cur, "status"));
    if (!strcmp(st, "completed") || !strcmp(st, "running") || !strcmp(st, "running_elsewhere")) {
        json_object_set_new(cur, "already", json_true());
        pthread_mutex_unlock(&mu);
        return cur;
    }
    json_decref(cur);
    char *lock = path_of("%s/.%s.dissection.lock", name);
    int fd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
    free(lock);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (fd >= 0) close(fd);
        pthread_mutex_unlock(&mu);
        snprintf(err, errlen, "another kmcp is dissecting %s", name);
        return NULL;
    }
    if (j) {   /* a failed or cancelled one before: reuse its slot */
        if (!j->joined) { pthread_join(j->thread, NULL); j->joined = 1; }
    } else {
        j = calloc(1, sizeof *j);
        if (!j) { close(fd); pthread_mutex_unlock(&mu); snprintf(err, errlen, "out of memory"); return NULL; }
        snprintf(j->name, sizeof j->name, "%s", name);
        j->next = jobs;
        jobs = j;
    }
    j->state = J_RUNNING;
    snprintf(j->phase, sizeof j->phase, "starting");
    j->error[0] = 0;
    j->records = j->api_calls = j->l4_records = 0;
    j->last_ts = j->win_from = j->win_to = 0;
    j->started_ns = kf_now_ns();
    j->finished_ns = 0;
    j->cancel = 0;
    j->lockfd = fd;
    j->joined = 0;
    if (pthread_create(&j->thread, NULL, worker, j) != 0) {
        j->state = J_FAILED;
        snprintf(j->error, sizeof j->error, "cannot start a thread");
        j->joined = 1;
        close(fd);
        j->lockfd = -1;
    }
    json_t *o = status_locked(name);
    pthread_mutex_unlock(&mu);
    return o;
}

json_t *kmcp_dissect_list(void)
{
    json_t *a = json_array();
    DIR *d = opendir(g_cfg.snapdir);
    pthread_mutex_lock(&mu);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t n = strlen(e->d_name);
            const char *suf = ".dissection";
            if (e->d_name[0] == '.' || n <= strlen(suf) || strcmp(e->d_name + n - strlen(suf), suf)) continue;
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(n - strlen(suf)), e->d_name);
            if (find(name) || !kmcp_valid_name(name)) continue;
            json_array_append_new(a, status_locked(name));
        }
        closedir(d);
    }
    for (job *j = jobs; j; j = j->next) json_array_append_new(a, status_locked(j->name));
    pthread_mutex_unlock(&mu);
    return a;
}

/* cancels a running dissection of name (waits for it) and removes what is on disk */
int kmcp_dissect_delete(const char *name)
{
    pthread_mutex_lock(&mu);
    job *j = find(name);
    if (j && !j->joined) {
        j->cancel = 1;
        pthread_mutex_unlock(&mu);
        pthread_join(j->thread, NULL);
        pthread_mutex_lock(&mu);
        j->joined = 1;
    }
    if (j) {   /* forget it */
        for (job **pp = &jobs; *pp; pp = &(*pp)->next)
            if (*pp == j) { *pp = j->next; break; }
        free(j);
    }
    pthread_mutex_unlock(&mu);
    char *fin = path_of("%s/%s.dissection", name);
    if (fin) rm_rf(fin);
    free(fin);
    return 0;
}

char *kmcp_dissect_file(const char *name, const char *file)
{
    if (!completed_on_disk(name, NULL)) return NULL;
    char *p;
    if (asprintf(&p, "%s/%s.dissection/%s", g_cfg.snapdir, name, file) < 0) return NULL;
    if (access(p, R_OK) != 0) { free(p); return NULL; }
    return p;
}

int kmcp_dissect_wait(kmcp_req *r, const char *name, int timeout_s)
{
    int64_t until = kf_now_ns() + (int64_t)timeout_s * KF_NS_PER_SEC;
    for (;;) {
        pthread_mutex_lock(&mu);
        json_t *s = status_locked(name);
        pthread_mutex_unlock(&mu);
        const char *st = json_string_value(json_object_get(s, "status"));
        double p = json_real_value(json_object_get(s, "progress"));
        char m[160];
        snprintf(m, sizeof m, "%s: %lld records", json_string_value(json_object_get(s, "phase")) ?
                 json_string_value(json_object_get(s, "phase")) : st,
                 (long long)json_integer_value(json_object_get(s, "records")));
        int done = strcmp(st, "running") && strcmp(st, "running_elsewhere");
        if (!done) kmcp_progress(r, p * 100.0, 100.0, m);
        json_decref(s);
        if (done) return 0;
        if (kmcp_req_cancelled(r)) return -1;
        if (kf_now_ns() > until) return 1;
        usleep(200000);
    }
}

void kmcp_dissect_shutdown(void)
{
    pthread_mutex_lock(&mu);
    shutting_down = 1;
    for (job *j = jobs; j; j = j->next) j->cancel = 1;
    for (job *j = jobs; j; j = j->next) {
        if (j->joined) continue;
        pthread_mutex_unlock(&mu);
        pthread_join(j->thread, NULL);
        pthread_mutex_lock(&mu);
        j->joined = 1;
    }
    pthread_mutex_unlock(&mu);
}

long long kmcp_dissect_offset(const char *name, long long ix)
{
    char *p = kmcp_dissect_file(name, "index.tsv");
    FILE *f = p ? fopen(p, "re") : NULL;
    free(p);
    if (!f) return 0;
    long long first, off, best = 0;
    while (fscanf(f, "%lld\t%lld\n", &first, &off) == 2) {
        if (first > ix) break;
        best = off;
    }
    fclose(f);
    return best;
}
