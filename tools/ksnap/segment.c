/* segment.c — the open segment of `ksnap capture` (docs/store.md), repair of a segment left by
 * a crash, and the retention rules shared with `ksnap prune`. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "capture_int.h"
#include "kf_source.h"
#include "kf_store.h"
#include "kf_tool.h"


static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = malloc(la + lb + 2);
    if (!r) return NULL;
    memcpy(r, a, la);
    r[la] = '/';
    memcpy(r + la + 1, b, lb + 1);
    return r;
}

/* The end of a closed segment: its .part renamed once written and on disk (bad = 0), or, after a
 * failed write (bad = 1, errno e), cut to its last whole block as a crash repair does.
 * 0 ok, 1 cut after a failed write, -1 it could not be closed. */
static int seg_finish(const char *part, int bad, int e)
{
    int rc = 0;
    if (bad) {
        /* a write failed (disk full): keep what is whole, like a crash repair */
        uint64_t kept;
        char err[256];
        if (seg_repair(part, &kept, err, sizeof err) != 0) {
            kf_err("%s: %s", part, err);
            rc = -1;
        } else if (kept) {
            kf_err("%s: write failed (%s); segment closed at %llu bytes", part, strerror(e),
                   (unsigned long long)kept);
            rc = 1;
        } else {
            kf_err("%s: write failed (%s); nothing whole in it, removed", part, strerror(e));
            rc = 1;
        }
    } else {
        size_t l = strlen(part);
        char *closed = strndup(part, l - 5);
        if (!closed || rename(part, closed) != 0) {
            kf_err("%s: rename: %s", part, strerror(errno));
            rc = -1;
        }
        free(closed);
    }
    return rc;
}

/* gives back the blocks seg_open allocated past what was written (a truncate to the same size
 * frees them on ext4 and xfs) */
static void trim_prealloc(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && ftruncate(fd, st.st_size) != 0) {
        /* they stay allocated until the file is removed: space, not data */
    }
}

/* ---- the disk worker ----
 * A segment must be on disk (fdatasync) before its rename says it is complete. Done all at once
 * at close, that was a burst of writeback work (milliseconds of CPU for 64 MiB) and a wait for
 * the disk in which no packet was read: under a CPU limit (a DaemonSet's CFS quota) or at a few
 * hundred MB/s the ring overflowed at every rotation. So a thread starts the writeback of each
 * MiB soon after it is written (sync_file_range SYNC_FILE_RANGE_WRITE: the work spreads evenly
 * over the packets) and, at close, waits for the rest (fdatasync), closes and renames the
 * segment while capture goes on into the next one. A segment keeps its .part name until its data
 * is on disk; a crash in between leaves a whole .part that the next start repairs, keeping all of
 * it. The capture thread waits for the worker only at a close while several closes are not done
 * (segments closing faster than the disk takes them for a while; tcpdump, which never syncs,
 * would go on filling the page cache), and at exit. Started after privileges are dropped (capset
 * applies to one thread only). */
enum { JOB_RANGE, JOB_CLOSE, JOB_EXIT };
struct job { int kind; int fd; uint64_t off, len; FILE *f; char *part; };
#define NJOBS 64
#define SYNC_STEP (1u << 20)
static struct {
    pthread_mutex_t mu;
    pthread_cond_t more, done;
    struct job q[NJOBS];
    unsigned head, tail;   /* q[head % NJOBS] is being done or next; tail - head queued */
    unsigned closing;      /* JOB_CLOSEs queued or being done */
    unsigned max_closing;  /* a close waits while this many are */
    uint64_t closed;       /* JOB_CLOSEs done */
    int started;
    pthread_t t;
} wk = { .mu = PTHREAD_MUTEX_INITIALIZER, .more = PTHREAD_COND_INITIALIZER,
         .done = PTHREAD_COND_INITIALIZER };

static void *wk_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&wk.mu);
        while (wk.head == wk.tail) pthread_cond_wait(&wk.more, &wk.mu);
        struct job j = wk.q[wk.head % NJOBS];
        pthread_mutex_unlock(&wk.mu);
        if (j.kind == JOB_RANGE) {
            sync_file_range(j.fd, (off_t)j.off, (off_t)j.len, SYNC_FILE_RANGE_WRITE);
        } else if (j.kind == JOB_CLOSE) {
            trim_prealloc(fileno(j.f));
            int bad = fdatasync(fileno(j.f)) != 0;
            int e = errno;
            if (fclose(j.f) != 0 && !bad) { bad = 1; e = errno; }
            seg_finish(j.part, bad, e);
            free(j.part);
        }
        pthread_mutex_lock(&wk.mu);
        wk.head++;
        if (j.kind == JOB_CLOSE) { wk.closing--; wk.closed++; }
        pthread_cond_broadcast(&wk.done);
        pthread_mutex_unlock(&wk.mu);
        if (j.kind == JOB_EXIT) return NULL;
    }
}

void seg_worker_start(unsigned max_closing)
{
    wk.max_closing = max_closing ? max_closing : 1;
    if (!wk.started && pthread_create(&wk.t, NULL, wk_main, NULL) == 0) wk.started = 1;
}

uint64_t seg_closed_count(void)
{
    pthread_mutex_lock(&wk.mu);
    uint64_t n = wk.closed;
    pthread_mutex_unlock(&wk.mu);
    return n;
}

/* 0 queued; -1 no worker, or the queue is full and wait is 0. A close waits while max_closing
 * segments are still being closed (retention cannot remove those yet). */
static int wk_push(const struct job *j, int wait)
{
    if (!wk.started) return -1;
    pthread_mutex_lock(&wk.mu);
    while (wk.tail - wk.head >= NJOBS || (j->kind == JOB_CLOSE && wk.closing >= wk.max_closing)) {
        if (!wait) { pthread_mutex_unlock(&wk.mu); return -1; }
        pthread_cond_wait(&wk.done, &wk.mu);
    }
    wk.q[wk.tail++ % NJOBS] = *j;
    if (j->kind == JOB_CLOSE) wk.closing++;
    pthread_cond_signal(&wk.more);
    pthread_mutex_unlock(&wk.mu);
    return 0;
}

static void wk_drain(void)
{
    if (!wk.started) return;
    pthread_mutex_lock(&wk.mu);
    while (wk.head != wk.tail) pthread_cond_wait(&wk.done, &wk.mu);
    pthread_mutex_unlock(&wk.mu);
}

void seg_wait_closed(void)
{
    if (!wk.started) return;
    struct job j = { .kind = JOB_EXIT };
    wk_push(&j, 1);
    pthread_join(wk.t, NULL);
    wk.started = 0;
}

/* ---- EPBs: built in place here, not through kf_pcapng_write_epb ----
 * The capture's hot path. kf_pcapng builds each block in scratch memory and copies it into its
 * own buffer, option by option; at a few hundred thousand packets a second that was a third of
 * the capturer's CPU. Here an EPB is laid out once, straight into a large buffer that reaches the
 * file in big write(2)s. The bytes are the ones kf_pcapng_write_epb writes (pcapng EPB,
 * little-endian, if_tsresol 9 so the timestamp is the ns count):
 *   6 | total | iface | ts hi | ts lo | caplen | origlen | data, 0-padded to 4 |
 *   epb_flags (2, 4, flags) | [epb_dropcount (4, 8, u64)] | opt_endofopt (0, 0) | total
 * kf_pcapng still writes SHB, IDB and ISB: ours is written out before each of those and theirs
 * right after, so the blocks keep their order in the file. */
#define OBUF_SIZE (1u << 20)

static void le32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }

/* our buffer to the file; 0, or -1 with write_failed set and errno kept */
static int obuf_out(cap_ctx *c)
{
    size_t o = 0;
    int fd = fileno(c->f);
    while (o < c->olen) {
        ssize_t n = write(fd, c->obuf + o, c->olen - o);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = ENOSPC;
            c->write_failed = 1;
            c->olen = 0;
            return -1;
        }
        o += (size_t)n;
    }
    c->olen = 0;
    /* what the kf_pcapng writer had is out too (flushed after each of its blocks) */
    uint64_t end = kf_pcapng_bytes(c->w) + c->obytes;
    if (end - c->sync_from >= SYNC_STEP) {
        struct job j = { .kind = JOB_RANGE, .fd = fd, .off = c->sync_from, .len = end - c->sync_from };
        if (wk_push(&j, 0) == 0) c->sync_from = end;
    }
    return 0;
}

int seg_write_epb(cap_ctx *c, uint32_t iface, int64_t ts, uint32_t flags, const uint8_t *data,
                  uint32_t caplen, uint32_t origlen, uint64_t dropcount)
{
    if (ts < 0) { c->write_failed = 1; return -1; }   /* as kf_pcapng: not representable */
    uint32_t padded = (caplen + 3) & ~3u;
    uint32_t total = 28 + padded + 8 + (dropcount ? 12 : 0) + 4 + 4;
    if (c->olen + total > OBUF_SIZE && obuf_out(c) != 0) return -1;
    uint8_t *p = c->obuf + c->olen;
    le32(p, 6);
    le32(p + 4, total);
    le32(p + 8, iface);
    le32(p + 12, (uint32_t)((uint64_t)ts >> 32));
    le32(p + 16, (uint32_t)ts);
    le32(p + 20, caplen);
    le32(p + 24, origlen);
    memcpy(p + 28, data, caplen);
    memset(p + 28 + caplen, 0, padded - caplen);
    p += 28 + padded;
    le32(p, 2 | 4u << 16);   /* epb_flags, length 4 */
    le32(p + 4, flags);
    p += 8;
    if (dropcount) {
        le32(p, 4 | 8u << 16);   /* epb_dropcount, length 8 */
        le32(p + 4, (uint32_t)dropcount);
        le32(p + 8, (uint32_t)(dropcount >> 32));
        p += 12;
    }
    le32(p, 0);   /* opt_endofopt */
    le32(p + 4, total);
    c->olen += total;
    c->obytes += total;
    return 0;
}

int seg_flush(cap_ctx *c)
{
    if (!c->w || c->write_failed) return c->write_failed ? -1 : 0;
    if (obuf_out(c) != 0) return -1;
    if (kf_pcapng_flush(c->w) != 0) { c->write_failed = 1; return -1; }
    return 0;
}

uint64_t seg_bytes(const cap_ctx *c)
{
    return c->w ? kf_pcapng_bytes(c->w) + c->obytes : 0;
}

int seg_add_iface(cap_ctx *c, cap_iface *ifc)
{
    if (!c->w || c->write_failed || ifc->idb >= 0 || ifc->linktype < 0) return 0;
    if (obuf_out(c) != 0) return -1;   /* our EPBs before the IDB */
    char desc[512];
    snprintf(desc, sizeof desc, "%s/%s", c->node, ifc->name);
    /* how its packets are captured: the backend's, or the TLS uprobes' plaintext (--tls) */
    const char *how = ifc == c->tls_ifc ? kf_capture_name(KF_CAP_EBPF_TLS) : c->capture;
    char capture[64] = "";
    if (how) snprintf(capture, sizeof capture, KF_CAPTURE_TAG "%s", how);
    kf_idb_opts o = { .linktype = ifc->linktype, .snaplen = c->snaplen, .name = ifc->name,
                      .description = desc, .filter = c->filter, .comment = capture, .tsresol = 9 };
    int id = kf_pcapng_add_iface(c->w, &o);
    if (id < 0 || kf_pcapng_flush(c->w) != 0) { c->write_failed = 1; return -1; }
    ifc->idb = id;
    ifc->seg_recv = ifc->seg_drop = ifc->seg_deliv = 0;
    return 0;
}

/* DIR/NODE/START.pcapng.part for a segment starting at *start, moved past the last start so that
 * names stay unique and sorted; NULL when out of memory */
static char *part_path(cap_ctx *c, int64_t *start)
{
    if (*start <= c->last_start) *start = c->last_start + 1;
    char name[64];
    kf_segname_format(*start, name, sizeof name);
    strcat(name, ".pcapng.part");
    return path_join(c->nodedir, name);
}

int seg_open(cap_ctx *c, int64_t now)
{
    char *p = part_path(c, &now);
    if (!p) return -1;
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        kf_err("%s: %s", p, strerror(errno));
        free(p);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) { close(fd); unlink(p); free(p); return -1; }
    setvbuf(f, NULL, _IONBF, 0);   /* kf_pcapng buffers already */
    /* Blocks for the whole segment up front (the size stays that of what is written; the rest is
     * given back at close, or by the repair after a crash): writes then skip the file system's
     * delayed-allocation bookkeeping, ~15% of the capturer's CPU. Room for a whole segment is
     * what make_room() keeps anyway; where the file system cannot, writes allocate as usual. */
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)c->seg_size) != 0) {
        /* not supported, or no room: nothing lost */
    }
    struct utsname u;
    uname(&u);
    char comment[300], appl[64];
    snprintf(comment, sizeof comment, "kforensics-node: %s", c->node);
    snprintf(appl, sizeof appl, "kforensics ksnap %s", KF_VERSION);
    kf_shb_opts shb = { .hardware = u.machine, .userappl = appl, .comment = comment };
    kf_pcapng_w *w = kf_pcapng_open(f, &shb);
    if (!c->obuf && !(c->obuf = malloc(OBUF_SIZE))) { if (w) kf_pcapng_close(w); w = NULL; }
    if (!w || kf_pcapng_flush(w) != 0) {
        if (w) kf_pcapng_close(w);
        kf_err("%s: cannot start a pcapng section", p);
        fclose(f); unlink(p); free(p);
        return -1;
    }
    c->f = f;
    c->w = w;
    c->part = p;
    c->seg_start = c->last_start = now;
    c->seg_pkts = 0;
    c->write_failed = 0;
    c->olen = 0;
    c->obytes = 0;
    c->sync_from = 0;
    for (size_t i = 0; i < c->nifs; i++) {
        c->ifs[i]->idb = -1;
        if (c->ifs[i]->attached && !c->ifs[i]->gone) seg_add_iface(c, c->ifs[i]);
    }
    return 0;
}

int seg_restart(cap_ctx *c, int64_t start)
{
    if (!c->w || !c->part || c->seg_pkts || c->write_failed) return -1;
    char *p = part_path(c, &start);
    if (!p) return -1;
    if (renameat2(AT_FDCWD, c->part, AT_FDCWD, p, RENAME_NOREPLACE) != 0) { free(p); return -1; }
    free(c->part);
    c->part = p;
    c->seg_start = c->last_start = start;
    return 0;
}

/* pcapng block framing only (type, length, trailing length): enough to find where a file was
 * cut. Hand-written because it must run on a file no reader may open whole (a crash tail). */
uint64_t seg_good_end(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return 0;
    uint64_t size = (uint64_t)st.st_size, off = 0, good = 0;
    int swap = -1;
    for (;;) {
        uint8_t h[12];
        if (off + 12 > size || pread(fd, h, 12, (off_t)off) != 12) break;
        uint32_t type, len, bom;
        memcpy(&type, h, 4);
        memcpy(&len, h + 4, 4);
        memcpy(&bom, h + 8, 4);
        if (type == 0x0A0D0D0A) {   /* SHB: byte order from its magic */
            if (bom == 0x1A2B3C4D) swap = 0;
            else if (bom == 0x4D3C2B1A) swap = 1;
            else break;
        } else if (swap < 0) {
            break;                  /* must start with an SHB */
        }
        if (swap) { len = __builtin_bswap32(len); }
        if (len < 12 || len % 4 || len > size - off) break;
        uint32_t tail;
        if (pread(fd, &tail, 4, (off_t)(off + len - 4)) != 4) break;
        if (swap) tail = __builtin_bswap32(tail);
        if (tail != len) break;
        off += len;
        good = off;
    }
    return good;
}

int seg_repair(const char *part, uint64_t *kept, char *err, size_t errlen)
{
    *kept = 0;
    int fd = open(part, O_RDWR | O_CLOEXEC);
    if (fd < 0) { snprintf(err, errlen, "%s", strerror(errno)); return -1; }
    uint64_t good = seg_good_end(fd);
    if (good == 0) {   /* not even a section header: nothing to keep */
        close(fd);
        if (unlink(part) != 0) { snprintf(err, errlen, "%s", strerror(errno)); return -1; }
        return 0;
    }
    if (ftruncate(fd, (off_t)good) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    size_t l = strlen(part);
    char *closed = strndup(part, l - 5);   /* strip ".part" */
    if (!closed) { snprintf(err, errlen, "out of memory"); return -1; }
    int r = rename(part, closed);
    if (r != 0) snprintf(err, errlen, "%s", strerror(errno));
    free(closed);
    *kept = good;
    return r;
}

int seg_close(cap_ctx *c, int64_t now)
{
    if (!c->w) return 0;
    int bad = c->write_failed || obuf_out(c) != 0;   /* our EPBs before the ISBs */
    for (size_t i = 0; i < c->nifs && !bad; i++) {
        cap_iface *ifc = c->ifs[i];
        if (ifc->idb < 0) continue;
        if (kf_pcapng_write_isb(c->w, (uint32_t)ifc->idb, now, c->seg_start, ifc->seg_recv,
                                UINT64_MAX, ifc->seg_drop, ifc->seg_deliv) != 0)
            bad = 1;
    }
    if (kf_pcapng_close(c->w) != 0) bad = 1;
    c->w = NULL;
    if (fflush(c->f) != 0) bad = 1;
    for (size_t i = 0; i < c->nifs; i++) c->ifs[i]->idb = -1;
    if (!bad && !c->sync_close) {
        struct job j = { .kind = JOB_CLOSE, .f = c->f, .part = c->part };
        if (wk_push(&j, 1) == 0) {
            c->f = NULL;
            c->part = NULL;
            return 0;
        }
    }
    wk_drain();   /* no writeback of this file still queued */
    if (!bad) trim_prealloc(fileno(c->f));
    if (!bad && fdatasync(fileno(c->f)) != 0) bad = 1;
    int e = errno;
    fclose(c->f);
    c->f = NULL;
    int rc = seg_finish(c->part, bad, e);
    free(c->part);
    c->part = NULL;
    return rc;
}

int store_retention(const char *dir, const char *node, uint64_t max_bytes, uint64_t reserve,
                    int64_t max_age, int64_t now, int force_one, int dry_run, store_report_fn report, void *arg,
                    size_t *removed, uint64_t *freed, char *err, size_t errlen)
{
    *removed = 0;
    *freed = 0;
    int lk = kf_store_lock(dir, node, 1, 1);
    if (lk < 0) {
        if (errno == EWOULDBLOCK) return 1;
        snprintf(err, errlen, "%s/%s/.lock: %s", dir, node, strerror(errno));
        return -1;
    }
    kf_segment *s;
    size_t n;
    if (kf_store_segments(dir, node, &s, &n, err, errlen) != 0) { kf_store_unlock(lk); return -1; }
    /* the newest .part is the one being written: it counts as at least reserve bytes; an older
     * one is a segment whose close is finishing, at its size */
    uint64_t total = 0;
    size_t newest_open = n;
    for (size_t i = 0; i < n; i++)
        if (s[i].open) newest_open = i;
    for (size_t i = 0; i < n; i++)
        total += i == newest_open && s[i].size < reserve ? reserve : s[i].size;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].open) continue;   /* the open segment is never deleted */
        const char *why = NULL;
        if (force_one && *removed == 0) why = "disk full";
        else if (max_bytes && total > max_bytes) why = "size";
        else if (max_age && s[i].end_ns < now - max_age) why = "age";
        if (!why) break;   /* oldest first: once one stays, the newer ones stay too */
        if (!dry_run && unlink(s[i].path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", s[i].path, strerror(errno));
            rc = -1;
            break;
        }
        if (report) report(arg, s[i].path, s[i].size, why);
        total -= s[i].size;
        *freed += s[i].size;
        (*removed)++;
    }
    kf_segments_free(s, n);
    kf_store_unlock(lk);
    return rc;
}
