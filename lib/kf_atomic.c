/* kf_atomic — write-then-rename output files (see kf_atomic.h). */
#include "kf_atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void clear(kf_atomic *a)
{
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
}

int kf_atomic_open(kf_atomic *a, const char *path, mode_t mode, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (!path || !*path) { snprintf(err, errlen, "empty output path"); return -1; }
    if (strcmp(path, "-") == 0) {
        a->f = stdout;
        a->is_stdout = 1;
        return 0;
    }
    if (mode == 0) mode = 0640;
    char *d1 = strdup(path), *d2 = strdup(path);
    a->path = strdup(path);
    if (!d1 || !d2 || !a->path) {
        free(d1); free(d2); clear(a);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *dir = dirname(d1), *base = basename(d2);
    size_t n = strlen(dir) + strlen(base) + 32;
    a->tmp = malloc(n);
    if (!a->tmp) { free(d1); free(d2); clear(a); snprintf(err, errlen, "out of memory"); return -1; }
    snprintf(a->tmp, n, "%s/.%s.tmp.XXXXXX", dir, base);
    free(d1);
    free(d2);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a file beside it: %s", strerror(errno));
        clear(a);
        return -1;
    }
    if (fchmod(fd, mode) < 0 || !(a->f = fdopen(fd, "w"))) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        snprintf(err, errlen, "cannot open temporary file: %s", strerror(e));
        clear(a);
        return -1;
    }
    return 0;
}

int kf_atomic_commit(kf_atomic *a, char *err, size_t errlen)
{
    if (!a->f) { snprintf(err, errlen, "output not open"); return -1; }
    if (a->is_stdout) {
        int bad = fflush(a->f) != 0 || ferror(a->f);
        int e = errno;
        clear(a);
        if (bad) { snprintf(err, errlen, "write error on standard output: %s", strerror(e)); return -1; }
        return 0;
    }
    int e = 0;
    if (fflush(a->f) != 0 || ferror(a->f)) e = errno ? errno : EIO;
    if (!e && fsync(fileno(a->f)) < 0 && errno != EINVAL) e = errno;
    if (fclose(a->f) != 0 && !e) e = errno ? errno : EIO;
    a->f = NULL;
    if (e) {
        unlink(a->tmp);
        snprintf(err, errlen, "write error: %s", strerror(e));
        clear(a);
        return -1;
    }
    if (rename(a->tmp, a->path) < 0) {
        e = errno;
        unlink(a->tmp);
        snprintf(err, errlen, "cannot rename into place: %s", strerror(e));
        clear(a);
        return -1;
    }
    /* make the rename itself durable */
    char *d = strdup(a->path);
    if (d) {
        int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) { fsync(dfd); close(dfd); }
        free(d);
    }
    clear(a);
    return 0;
}

void kf_atomic_abort(kf_atomic *a)
{
    if (a->is_stdout) { if (a->f) fflush(a->f); clear(a); return; }
    if (a->f) { fclose(a->f); a->f = NULL; }
    if (a->tmp) unlink(a->tmp);
    clear(a);
}
