/* segment.c — the open segment of `ksnap capture` (docs/store.md), repair of a segment left by
 * a crash, and the retention rules shared with `ksnap prune`. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "capture_int.h"
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

int seg_add_iface(cap_ctx *c, cap_iface *ifc)
{
    if (!c->w || c->write_failed || ifc->idb >= 0 || ifc->linktype < 0) return 0;
    char desc[512];
    snprintf(desc, sizeof desc, "%s/%s", c->node, ifc->name);
    kf_idb_opts o = { .linktype = ifc->linktype, .snaplen = c->snaplen, .name = ifc->name,
                      .description = desc, .filter = c->filter, .tsresol = 9 };
    int id = kf_pcapng_add_iface(c->w, &o);
    if (id < 0) { c->write_failed = 1; return -1; }
    ifc->idb = id;
    ifc->seg_recv = ifc->seg_drop = ifc->seg_deliv = 0;
    return 0;
}

int seg_open(cap_ctx *c, int64_t now)
{
    if (now <= c->last_start) now = c->last_start + 1;   /* names stay unique and sorted */
    char name[64];
    kf_segname_format(now, name, sizeof name);
    strcat(name, ".pcapng.part");
    char *p = path_join(c->nodedir, name);
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
    struct utsname u;
    uname(&u);
    char comment[300], appl[64];
    snprintf(comment, sizeof comment, "kforensics-node: %s", c->node);
    snprintf(appl, sizeof appl, "kforensics ksnap %s", KF_VERSION);
    kf_shb_opts shb = { .hardware = u.machine, .userappl = appl, .comment = comment };
    kf_pcapng_w *w = kf_pcapng_open(f, &shb);
    if (!w) {
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
    for (size_t i = 0; i < c->nifs; i++) {
        c->ifs[i]->idb = -1;
        if (c->ifs[i]->attached && !c->ifs[i]->gone) seg_add_iface(c, c->ifs[i]);
    }
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
    int bad = c->write_failed;
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
    if (!bad && fdatasync(fileno(c->f)) != 0) bad = 1;
    int e = errno;
    fclose(c->f);
    c->f = NULL;
    int rc = 0;
    if (bad) {
        /* a write failed (disk full): keep what is whole, like a crash repair */
        uint64_t kept;
        char err[256];
        if (seg_repair(c->part, &kept, err, sizeof err) != 0) {
            kf_err("%s: %s", c->part, err);
            rc = -1;
        } else if (kept) {
            kf_err("%s: write failed (%s); segment closed at %llu bytes", c->part, strerror(e),
                   (unsigned long long)kept);
            rc = 1;
        } else {
            kf_err("%s: write failed (%s); nothing whole in it, removed", c->part, strerror(e));
            rc = 1;
        }
    } else {
        size_t l = strlen(c->part);
        char *closed = strndup(c->part, l - 5);
        if (!closed || rename(c->part, closed) != 0) {
            kf_err("%s: rename: %s", c->part, strerror(errno));
            rc = -1;
        }
        free(closed);
    }
    free(c->part);
    c->part = NULL;
    for (size_t i = 0; i < c->nifs; i++) c->ifs[i]->idb = -1;
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
    uint64_t total = 0, open = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].open) open += s[i].size;
        else total += s[i].size;
    }
    total += open > reserve ? open : reserve;
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
