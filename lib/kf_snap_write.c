/* kf_snap_write — writing .ksnap archives: libarchive pax tar + zstd into a kf_atomic file. */
#include "kf_snap.h"
#include "kf_atomic.h"
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kf_snapw {
    struct archive *a;
    kf_atomic out;
    char err[1024];
    int failed;
    int level;
    size_t reserve;     /* deferred head: bytes kept free at the start of the file */
    int64_t owed;       /* bytes the open member's header declared and not yet written */
};

int kf_snap_name_ok(const char *p)
{
    if (!p || !*p || p[0] == '/') return 0;
    const char *c = p;
    for (;;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 0 || (n == 2 && c[0] == '.' && c[1] == '.') || (n == 1 && c[0] == '.')) return 0;
        if (!e) return 1;
        c = e + 1;
    }
}

static void set_err(kf_snapw *w, const char *what)
{
    const char *es = archive_error_string(w->a);
    snprintf(w->err, sizeof w->err, "%s: %s", what, es ? es : "archive error");
    w->failed = 1;
}

static kf_snapw *snapw_open(const char *path, size_t reserve, int level, int threads, char *err, size_t errlen)
{
    kf_snapw *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (kf_atomic_open(&w->out, path, 0440, err, errlen) != 0) { free(w); return NULL; }
    w->level = level;
    w->reserve = reserve;
    if (reserve && fseeko(w->out.f, (off_t)reserve, SEEK_SET) != 0) {
        snprintf(err, errlen, "cannot seek in the output (a snapshot needs a seekable file, not a pipe or device)");
        kf_atomic_abort(&w->out);
        free(w);
        return NULL;
    }
    w->a = archive_write_new();
    char opt[64];
    if (!w->a || archive_write_add_filter_zstd(w->a) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK) {
        snprintf(err, errlen, "libarchive: %s", w->a && archive_error_string(w->a) ? archive_error_string(w->a) : "cannot set up zstd/pax");
        goto fail;
    }
    if (level > 0) {
        snprintf(opt, sizeof opt, "%d", level);
        archive_write_set_filter_option(w->a, "zstd", "compression-level", opt);
    }
    if (threads > 0) {   /* older libarchive lacks the option: then single-threaded */
        snprintf(opt, sizeof opt, "%d", threads);
        archive_write_set_filter_option(w->a, "zstd", "threads", opt);
    }
    archive_write_set_bytes_per_block(w->a, 1 << 20);
    archive_write_set_bytes_in_last_block(w->a, 1);
    if (archive_write_open_FILE(w->a, w->out.f) != ARCHIVE_OK) {
        snprintf(err, errlen, "libarchive: %s", archive_error_string(w->a));
        goto fail;
    }
    return w;
fail:
    if (w->a) archive_write_free(w->a);
    kf_atomic_abort(&w->out);
    free(w);
    return NULL;
}

kf_snapw *kf_snapw_open(const char *path, int level, int threads, char *err, size_t errlen)
{
    return snapw_open(path, 0, level, threads, err, errlen);
}

kf_snapw *kf_snapw_open_deferred(const char *path, size_t head_reserve, int level, int threads,
                                 char *err, size_t errlen)
{
    return snapw_open(path, head_reserve, level, threads, err, errlen);
}

/* The deferred head is stored as a zstd frame of raw (uncompressed) blocks, written here by
 * hand: libarchive cannot be told to make a frame of an exact size, and libzstd is not among the
 * project's link dependencies. An exact size means the reserve is filled completely: every byte
 * of the file belongs to a checked structure (zstd block headers, the tar header's checksum, the
 * manifest's JSON, which is padded with spaces to a multiple of 512 bytes so the tar member has no
 * padding either). Frame layout (RFC 8878): magic, descriptor 0xA0 (single segment, 4-byte
 * content size, no checksum), content size, then blocks of at most 128 KiB, each with a 3-byte
 * header (last-block bit, type 0 = raw, size). */
static size_t head_len(size_t max_len) { return (max_len + 1 + 511) / 512 * 512; }
static size_t frame_len(size_t content) { return 9 + content + 3 * ((content + 131071) / 131072 + (content == 0)); }

size_t kf_snap_head_reserve(size_t max_len)
{
    return frame_len(512 + head_len(max_len));
}

int kf_snapw_begin(kf_snapw *w, const char *name, int64_t size, int64_t mtime_ns)
{
    if (w->failed) return -1;
    if (!kf_snap_name_ok(name)) { snprintf(w->err, sizeof w->err, "member '%s': bad name", name); w->failed = 1; return -1; }
    struct archive_entry *e = archive_entry_new();
    if (!e) { snprintf(w->err, sizeof w->err, "out of memory"); w->failed = 1; return -1; }
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0440);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, (time_t)(mtime_ns / 1000000000LL), (long)(mtime_ns % 1000000000LL));
    archive_entry_set_uname(e, "kforensics");
    archive_entry_set_gname(e, "kforensics");
    int r = archive_write_header(w->a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK) { set_err(w, name); return -1; }
    w->owed = size > 0 ? size : 0;
    return 0;
}

int kf_snapw_write(kf_snapw *w, const void *buf, size_t n)
{
    if (w->failed) return -1;
    const char *p = buf;
    while (n) {
        la_ssize_t r = archive_write_data(w->a, p, n);
        if (r <= 0) { set_err(w, "write"); return -1; }
        p += r; n -= (size_t)r;
        w->owed = w->owed > r ? w->owed - r : 0;
    }
    return 0;
}

int kf_snapw_add(kf_snapw *w, const char *name, const void *buf, size_t n, int64_t mtime_ns)
{
    if (kf_snapw_begin(w, name, (int64_t)n, mtime_ns) != 0) return -1;
    return kf_snapw_write(w, buf, n);
}

const char *kf_snapw_error(const kf_snapw *w) { return w ? w->err : ""; }

int kf_snapw_commit_head(kf_snapw *w, const char *name, const void *buf, size_t n, int64_t mtime_ns,
                         char *err, size_t errlen)
{
    if (w->failed) { snprintf(err, errlen, "%s", w->err); return -1; }
    if (!w->reserve) { snprintf(err, errlen, "not a deferred writer"); return -1; }
    /* the member length L that fills the reserve exactly */
    size_t L = 0;
    for (size_t l = 512; frame_len(512 + l) <= w->reserve; l += 512)
        if (frame_len(512 + l) == w->reserve) { L = l; break; }
    if (!L || n + 1 > L) return 1;
    uint8_t *padded = malloc(L), *tar = NULL, *frame = NULL;
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    size_t cap = 512 + L + 4096, used = 0;
    int rc = -1;
    if (!padded || !a || !e || !(tar = calloc(1, cap))) { snprintf(err, errlen, "out of memory"); goto out; }
    memcpy(padded, buf, n);
    memset(padded + n, ' ', L - n - 1);
    padded[L - 1] = '\n';
    /* 1: the tar header (ustar: second-resolution mtime keeps it to one block) */
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_none(a);
    archive_write_set_bytes_per_block(a, 512);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0440);
    archive_entry_set_size(e, (la_int64_t)L);
    archive_entry_set_mtime(e, (time_t)(mtime_ns / 1000000000LL), 0);
    archive_entry_set_uname(e, "kforensics");
    archive_entry_set_gname(e, "kforensics");
    if (archive_write_open_memory(a, tar, cap, &used) != ARCHIVE_OK || archive_write_header(a, e) != ARCHIVE_OK ||
        archive_write_data(a, padded, L) != (la_ssize_t)L || archive_write_close(a) != ARCHIVE_OK) {
        snprintf(err, errlen, "head member: %s", archive_error_string(a) ? archive_error_string(a) : "libarchive error");
        goto out;
    }
    if (used != 512 + L + 1024) { rc = 1; goto out; }   /* not a single ustar header: plain way */
    size_t content = 512 + L;
    /* 2: the frame */
    frame = malloc(w->reserve);
    if (!frame) { snprintf(err, errlen, "out of memory"); goto out; }
    size_t o = 0;
    static const uint8_t magic[4] = { 0x28, 0xB5, 0x2F, 0xFD };
    memcpy(frame, magic, 4); o = 4;
    frame[o++] = 0xA0;
    for (int i = 0; i < 4; i++) frame[o++] = (uint8_t)(content >> (8 * i));
    for (size_t off = 0; off < content;) {
        size_t k = content - off < 131072 ? content - off : 131072;
        uint32_t bh = (uint32_t)(k << 3) | (off + k == content ? 1u : 0u);
        frame[o++] = (uint8_t)bh; frame[o++] = (uint8_t)(bh >> 8); frame[o++] = (uint8_t)(bh >> 16);
        memcpy(frame + o, tar + off, k);
        o += k; off += k;
    }
    if (o != w->reserve) { snprintf(err, errlen, "head frame: size %zu, reserve %zu", o, w->reserve); goto out; }
    /* 3: finish the body, then put the frame in front */
    if (archive_write_close(w->a) != ARCHIVE_OK) {
        snprintf(err, errlen, "finishing the archive: %s", archive_error_string(w->a));
        goto out;
    }
    if (fflush(w->out.f) != 0) { snprintf(err, errlen, "write error: %s", strerror(errno)); goto out; }
    if (pwrite(fileno(w->out.f), frame, o, 0) != (ssize_t)o) { snprintf(err, errlen, "write error: %s", strerror(errno)); goto out; }
    rc = 0;
out:
    if (e) archive_entry_free(e);
    if (a) archive_write_free(a);
    free(tar); free(frame); free(padded);
    if (rc == 0) {
        archive_write_free(w->a);
        w->a = NULL;
        rc = kf_atomic_commit(&w->out, err, errlen);
        free(w);
    }
    return rc;
}

int kf_snapw_commit(kf_snapw *w, char *err, size_t errlen)
{
    int rc = 0;
    if (w->failed) { snprintf(err, errlen, "%s", w->err); rc = -1; }
    else if (w->reserve) { snprintf(err, errlen, "a deferred writer needs kf_snapw_commit_head"); rc = -1; }
    else if (archive_write_close(w->a) != ARCHIVE_OK) {
        snprintf(err, errlen, "finishing the archive: %s", archive_error_string(w->a));
        rc = -1;
    }
    archive_write_free(w->a);
    w->a = NULL;
    if (rc == 0) rc = kf_atomic_commit(&w->out, err, errlen);
    else kf_atomic_abort(&w->out);
    free(w);
    return rc;
}

void kf_snapw_abort(kf_snapw *w)
{
    if (!w) return;
    /* a member cut short is marked failed first: a plain free finishes the open member, padding
     * it with zeros up to its declared size (2^62 bytes declared: for ever). libarchive then
     * skips closing its filters and keeps their buffers (about 1 MiB, leaked once, on that
     * error path only); a complete member is freed the ordinary way, which frees them. */
    if (w->a) {
        if (w->owed > 0) archive_write_fail(w->a);
        archive_write_free(w->a);   /* the temp file is removed below */
    }
    kf_atomic_abort(&w->out);
    free(w);
}
