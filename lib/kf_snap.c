/* kf_snap — reading .ksnap archives (docs/snapshot.md) with libarchive, streaming member by
 * member. Members that could escape an extraction directory or are not plain files are refused:
 * absolute paths, ".." components, hard and symbolic links, devices, fifos, sockets.
 * Directory entries (other tar writers add them) are skipped. */
#include "kf_snap.h"
#include "kf_limits.h"
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kf_snap {
    struct archive *a;
    char name[4096];
    int64_t size;
    int failed;
    char err[5200];
};

int kf_snap_detect(const char *path)
{
    size_t l = strlen(path);
    if (l > 6 && !strcmp(path + l - 6, ".ksnap")) return 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    unsigned char m[4];
    ssize_t n = read(fd, m, 4);
    close(fd);
    return n == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd;
}

static kf_snap *snap_new(char *err, size_t errlen)
{
    kf_snap *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return NULL; }
    s->a = archive_read_new();
    if (!s->a) { free(s); snprintf(err, errlen, "out of memory"); return NULL; }
    archive_read_support_filter_zstd(s->a);
    archive_read_support_filter_none(s->a);
    archive_read_support_format_tar(s->a);
    return s;
}

kf_snap *kf_snap_open_mem(const void *buf, size_t len, char *err, size_t errlen)
{
    kf_snap *s = snap_new(err, errlen);
    if (!s) return NULL;
    if (archive_read_open_memory(s->a, buf, len) != ARCHIVE_OK) {
        const char *e = archive_error_string(s->a);
        snprintf(err, errlen, "%s", e ? e : "cannot open archive");
        archive_read_free(s->a);
        free(s);
        return NULL;
    }
    return s;
}

kf_snap *kf_snap_open(const char *path, char *err, size_t errlen)
{
    /* our own words for a path that is not there (libarchive says only "Failed to open") */
    struct stat st;
    int is_stdin = !strcmp(path, "-");
    if (!is_stdin && stat(path, &st) != 0) { snprintf(err, errlen, "cannot open: %s", strerror(errno)); return NULL; }
    if (!is_stdin && S_ISDIR(st.st_mode)) { snprintf(err, errlen, "is a directory, not a snapshot"); return NULL; }
    kf_snap *s = snap_new(err, errlen);
    if (!s) return NULL;
    if ((is_stdin ? archive_read_open_fd(s->a, STDIN_FILENO, 1 << 16)
                  : archive_read_open_filename(s->a, path, 1 << 16)) != ARCHIVE_OK) {
        const char *e = archive_error_string(s->a);
        snprintf(err, errlen, "%s", e ? e : "cannot open archive");
        archive_read_free(s->a);
        free(s);
        return NULL;
    }
    return s;
}

/* 1 if the path is relative, non-empty and has no ".." component */
static int path_safe(const char *p)
{
    if (!p || !*p || p[0] == '/') return 0;
    const char *c = p;
    while (*c) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.') return 0;
        if (!e) break;
        c = e + 1;
    }
    return 1;
}

int kf_snap_next(kf_snap *s, const char **name, int64_t *size)
{
    if (s->failed) return -1;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(s->a, &e);
        if (r == ARCHIVE_EOF) return 0;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            const char *es = archive_error_string(s->a);
            if (s->name[0]) snprintf(s->err, sizeof s->err, "after member '%s': %s", s->name, es ? es : "corrupt archive");
            else snprintf(s->err, sizeof s->err, "archive start: %s", es ? es : "corrupt archive");
            s->failed = 1;
            return -1;
        }
        const char *p = archive_entry_pathname(e);
        if (!p) p = "";
        snprintf(s->name, sizeof s->name, "%s", p);
        mode_t ft = archive_entry_filetype(e);
        if (!path_safe(p)) {
            snprintf(s->err, sizeof s->err, "member '%s': unsafe path (absolute or '..')", p);
            s->failed = 1;
            return -1;
        }
        if (archive_entry_hardlink(e) || archive_entry_symlink(e) || ft == AE_IFLNK) {
            snprintf(s->err, sizeof s->err, "member '%s': links are not allowed", p);
            s->failed = 1;
            return -1;
        }
        if (ft == AE_IFDIR) continue;
        if (ft != AE_IFREG) {
            snprintf(s->err, sizeof s->err, "member '%s': not a regular file (device, fifo or socket)", p);
            s->failed = 1;
            return -1;
        }
        s->size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
        *name = s->name;
        if (size) *size = s->size;
        return 1;
    }
}

ssize_t kf_snap_read(kf_snap *s, void *buf, size_t n)
{
    if (s->failed) return -1;
    la_ssize_t r = archive_read_data(s->a, buf, n);
    if (r < 0) {
        const char *es = archive_error_string(s->a);
        snprintf(s->err, sizeof s->err, "member '%s': %s", s->name, es ? es : "read error");
        s->failed = 1;
        return -1;
    }
    return (ssize_t)r;
}

int kf_snap_read_all(kf_snap *s, uint8_t **buf, size_t *len)
{
    return kf_snap_read_max(s, buf, len, SIZE_MAX, NULL);
}

int kf_snap_read_max(kf_snap *s, uint8_t **buf, size_t *len, size_t max, const char *limit)
{
    if (max != SIZE_MAX && s->size > (int64_t)max) {
        char hb[32];
        snprintf(s->err, sizeof s->err, "member '%s': %lld bytes, more than %s (limit %s)", s->name,
                 (long long)s->size, kf_limit_human(max, hb, sizeof hb), limit ? limit : "");
        return -1;
    }
    /* the header's size is a hint only: never trust it for more than 256 MiB up front */
    size_t cap = s->size > 0 && s->size < (256 << 20) ? (size_t)s->size + 1 : 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) { snprintf(s->err, sizeof s->err, "out of memory"); return -1; }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) { free(b); snprintf(s->err, sizeof s->err, "out of memory"); return -1; }
            b = nb; cap *= 2;
        }
        ssize_t r = kf_snap_read(s, b + n, cap - n);
        if (r < 0) { free(b); return -1; }
        if (r == 0) break;
        n += (size_t)r;
        if (n > max) {
            char hb[32];
            snprintf(s->err, sizeof s->err, "member '%s': more than %s (limit %s)", s->name,
                     kf_limit_human(max, hb, sizeof hb), limit ? limit : "");
            free(b);
            return -1;
        }
    }
    *buf = b;
    *len = n;
    return 0;
}

ssize_t kf_snap_read_fn(void *s, void *buf, size_t n) { return kf_snap_read(s, buf, n); }

const char *kf_snap_error(const kf_snap *s) { return s ? s->err : ""; }

void kf_snap_close(kf_snap *s)
{
    if (!s) return;
    archive_read_free(s->a);
    free(s);
}
