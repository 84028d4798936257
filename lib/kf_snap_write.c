/* kf_snap_write — writing .ksnap archives: libarchive pax tar + zstd into a kf_atomic file. */
#include "kf_snap.h"
#include "kf_atomic.h"
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct kf_snapw {
    struct archive *a;
    kf_atomic out;
    char err[1024];
    int failed;
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

kf_snapw *kf_snapw_open(const char *path, int level, int threads, char *err, size_t errlen)
{
    kf_snapw *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (kf_atomic_open(&w->out, path, 0440, err, errlen) != 0) { free(w); return NULL; }
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
    }
    return 0;
}

int kf_snapw_add(kf_snapw *w, const char *name, const void *buf, size_t n, int64_t mtime_ns)
{
    if (kf_snapw_begin(w, name, (int64_t)n, mtime_ns) != 0) return -1;
    return kf_snapw_write(w, buf, n);
}

const char *kf_snapw_error(const kf_snapw *w) { return w ? w->err : ""; }

int kf_snapw_commit(kf_snapw *w, char *err, size_t errlen)
{
    int rc = 0;
    if (w->failed) { snprintf(err, errlen, "%s", w->err); rc = -1; }
    else if (archive_write_close(w->a) != ARCHIVE_OK) {
        snprintf(err, errlen, "finishing the archive: %s", archive_error_string(w->a));
        rc = -1;
    }
    archive_write_free(w->a);
    if (rc == 0) rc = kf_atomic_commit(&w->out, err, errlen);
    else kf_atomic_abort(&w->out);
    free(w);
    return rc;
}

void kf_snapw_abort(kf_snapw *w)
{
    if (!w) return;
    archive_write_free(w->a);   /* closes the FILE stream writer; the temp file is removed below */
    kf_atomic_abort(&w->out);
    free(w);
}
