/* kf_lines.c — see kf_lines.h. zlib does the gzip; the blocks are 1 MiB and grow for a longer
 * line, up to KF_MAX_LINE. Hand-written rather than getline(3): blocks are searched with memchr
 * in place (no copy per line), which bench/kfl.sh measures. */
#include "kf_lines.h"
#include "kf_limits.h"
#include "kf_tool.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define KL_BLOCK (1u << 20)

typedef struct {
    int fd;
    const char *name;
    int gz, zinit, zend, eof;
    int flush;                  /* a pipe or terminal and the caller asked: flush stdout first */
    z_stream z;
    unsigned char *in; size_t incap;
} kl_in;

static ssize_t kl_raw(kl_in *in, void *dst, size_t cap)
{
    for (;;) {
        ssize_t r = read(in->fd, dst, cap);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) kf_err("%s: %s", in->name, strerror(errno));
        return r;
    }
}

/* up to cap bytes of (decompressed) data; 0 at the end, -1 on error (reported) */
static ssize_t kl_read(kl_in *in, char *dst, size_t cap)
{
    if (in->flush) fflush(stdout);
    if (!in->gz) return kl_raw(in, dst, cap);
    in->z.next_out = (unsigned char *)dst;
    in->z.avail_out = (uInt)(cap > (1u << 30) ? (1u << 30) : cap);
    while (in->z.avail_out > 0) {
        if (in->z.avail_in == 0 && !in->eof) {
            ssize_t r = kl_raw(in, in->in, in->incap);
            if (r < 0) return -1;
            if (r == 0) in->eof = 1;
            in->z.next_in = in->in; in->z.avail_in = (uInt)r;
        }
        if (in->zend) {
            if (in->z.avail_in == 0) break;               /* the end, after a whole member */
            if (inflateReset(&in->z) != Z_OK) { kf_err("%s: gzip: cannot reset", in->name); return -1; }
            in->zend = 0;                                  /* another gzip member follows */
        }
        if (in->z.avail_in == 0) { kf_err("%s: truncated gzip data", in->name); return -1; }
        int rc = inflate(&in->z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) in->zend = 1;
        else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            kf_err("%s: corrupt gzip data: %s", in->name, in->z.msg ? in->z.msg : "inflate failed");
            return -1;
        }
        /* return what there is rather than wait for more input */
        if ((char *)in->z.next_out > dst && in->z.avail_in == 0) break;
    }
    return (ssize_t)((char *)in->z.next_out - dst);
}

int kf_lines_read_opts(const char *path, const kf_lines_opts *o, kf_line_fn fn, void *ctx)
{
    kl_in in = { .name = path };
    size_t cap = KL_BLOCK, have = 0;
    char *buf = malloc(cap + 1);           /* + 1: the NUL after a last line without '\n' */
    long long lineno = 0;
    int rc = 0;
    uint64_t maxline = kf_limit(KF_LIMIT_LINE, KF_LIMIT_LINE_DEFAULT);
    if (!buf) { kf_err("out of memory"); return -1; }
    if (!strcmp(path, "-")) { in.fd = 0; in.name = "(standard input)"; }
    else if ((in.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) { kf_err("%s: %s", path, strerror(errno)); free(buf); return -1; }
    if (o && o->flush_stdout) {
        struct stat st;
        in.flush = fstat(in.fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
    }
    ssize_t got;
    do {                                   /* a pipe may give one byte first: two for the magic */
        got = kl_read(&in, buf + have, cap - have);
        if (got < 0) { rc = -1; goto out; }
        have += (size_t)got;
    } while (have < 2 && got > 0);
    if (have >= 2 && (unsigned char)buf[0] == 0x1f && (unsigned char)buf[1] == 0x8b) {
        in.incap = have > KL_BLOCK ? have : KL_BLOCK;
        if (!(in.in = malloc(in.incap))) { kf_err("out of memory"); rc = -1; goto out; }
        memcpy(in.in, buf, have);
        if (inflateInit2(&in.z, 16 + MAX_WBITS) != Z_OK) { kf_err("%s: gzip: cannot start", in.name); rc = -1; goto out; }
        in.zinit = in.gz = 1;
        in.z.next_in = in.in; in.z.avail_in = (uInt)have;
        got = kl_read(&in, buf, cap);
        if (got < 0) { rc = -1; goto out; }
        have = (size_t)got;
    }
    /* buf[0, clean) is known to hold no '\n' and no NUL: a partial line is not searched again */
    size_t clean = 0;
    for (;;) {
        int at_eof = got == 0;
        buf[have] = 0;
        /* a NUL byte: the lines before it are read, the one holding it is the error */
        const char *z = memchr(buf + clean, 0, have - clean);
        size_t lim = z ? (size_t)(z - buf) : have;
        if (z || at_eof || memchr(buf + clean, '\n', have - clean)) {
            size_t start = 0;
            while (start < lim) {
                const char *ls = buf + start;
                const char *nl = memchr(ls, '\n', lim - start);
                size_t ll;
                if (nl) ll = (size_t)(nl - ls);
                else if (at_eof && !z) ll = lim - start;   /* the last line, without '\n' */
                else break;
                lineno++;
                start += ll + (nl ? 1 : 0);
                size_t k = 0;
                while (k < ll && (ls[k] == ' ' || ls[k] == '\t' || ls[k] == '\r')) k++;
                if (k == ll) continue;                      /* blank line */
                int r = fn(ctx, in.name, ls, ll, lineno);
                if (r) { rc = r < 0 ? -1 : 0; goto out; }
            }
            if (z) {
                kf_err("%s:%lld: a NUL byte: binary data, not NDJSON", in.name, lineno + 1);
                rc = -1; goto out;
            }
            if (at_eof) break;
            /* keep the partial line (no '\n' in it), read more */
            if (start > 0) { memmove(buf, buf + start, have - start); have -= start; }
        }
        clean = have;
        if (have == cap) {
            if (cap >= maxline) {
                char hb[32];
                kf_err("%s:%lld: a line longer than %s (limit %s)", in.name, lineno + 1,
                       kf_limit_human(maxline, hb, sizeof hb), KF_LIMIT_LINE);
                rc = -1; goto out;
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { kf_err("%s:%lld: line too long (out of memory)", in.name, lineno + 1); rc = -1; goto out; }
            buf = nb; cap *= 2;
        }
        got = kl_read(&in, buf + have, cap - have);
        if (got < 0) { rc = -1; goto out; }
        have += (size_t)got;
    }
out:
    if (in.zinit) inflateEnd(&in.z);
    free(in.in);
    if (in.fd > 0) close(in.fd);
    free(buf);
    return rc;
}

int kf_lines_read(const char *path, kf_line_fn fn, void *ctx)
{
    return kf_lines_read_opts(path, NULL, fn, ctx);
}
