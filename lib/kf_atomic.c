/* kf_atomic — output paths: write-then-rename for files, write-through for devices and FIFOs,
 * symlinks followed (see kf_atomic.h). */
#include "kf_atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Temporary files still open, removed when SIGINT, SIGTERM or SIGHUP ends the process (an
 * interrupted kexport -o or ksnap freeze left hundreds of MB beside the output). The handler
 * is installed only where the signal's action is the default one (a tool with its own handler,
 * ksnap capture, keeps it); it unlinks every registered name (unlink is async-signal-safe), then
 * restores the default action and raises the signal again so the exit status stays "killed by". */
#define KF_ATOMIC_SLOTS 64
static _Atomic(char *) live[KF_ATOMIC_SLOTS];
static const int cleanup_sigs[] = { SIGINT, SIGTERM, SIGHUP };

static void on_signal(int sig)
{
    int e = errno;
    for (int i = 0; i < KF_ATOMIC_SLOTS; i++) {
        char *t = atomic_load(&live[i]);
        if (t) unlink(t);
    }
    signal(sig, SIG_DFL);
    errno = e;
    raise(sig);
}

static void install_once(void)
{
    for (size_t i = 0; i < sizeof cleanup_sigs / sizeof *cleanup_sigs; i++) {
        struct sigaction old, sa;
        if (sigaction(cleanup_sigs[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigfillset(&sa.sa_mask);
        sigaction(cleanup_sigs[i], &sa, NULL);
    }
}

static void track(char *tmp)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_once);
    for (int i = 0; i < KF_ATOMIC_SLOTS; i++) {
        char *expect = NULL;
        if (atomic_compare_exchange_strong(&live[i], &expect, tmp)) return;
    }
    /* more than 64 outputs open at once: the rest are not cleaned up on a signal */
}

static void untrack(const char *tmp)
{
    if (!tmp) return;
    for (int i = 0; i < KF_ATOMIC_SLOTS; i++) {
        char *expect = (char *)tmp;
        if (atomic_compare_exchange_strong(&live[i], &expect, NULL)) return;
    }
}

static void clear(kf_atomic *a)
{
    untrack(a->tmp);
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
}

/* The descriptor a path names when it is one of the process's own (/dev/stdout, /dev/fd/N,
 * /proc/self/fd/N), else -1. Opening those anew would start a second file position (and
 * clobber a `>>` append); writing to the descriptor itself keeps the shell's redirection. */
static int fd_alias(const char *path)
{
    if (strcmp(path, "/dev/stdout") == 0) return 1;
    if (strcmp(path, "/dev/stderr") == 0) return 2;
    const char *n = NULL;
    if (strncmp(path, "/dev/fd/", 8) == 0) n = path + 8;
    else if (strncmp(path, "/proc/self/fd/", 14) == 0) n = path + 14;
    if (!n || !*n || strlen(n) > 6 || strspn(n, "0123456789") != strlen(n)) return -1;
    return atoi(n);
}

/* The last target of a chain of symbolic links (the path itself when it is none), even when that
 * target does not exist yet; NULL with errno set (ELOOP after 40 links). */
static char *follow_links(const char *path)
{
    char *cur = strdup(path);
    for (int hops = 0; cur; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
        if (hops == 40) { free(cur); errno = ELOOP; return NULL; }
        char t[4096];
        ssize_t n = readlink(cur, t, sizeof t - 1);
        if (n < 0) { free(cur); return NULL; }
        t[n] = 0;
        char *next;
        if (t[0] == '/') next = strdup(t);
        else {
            char *d = strdup(cur);
            next = d ? malloc(strlen(d) + (size_t)n + 2) : NULL;
            if (next) sprintf(next, "%s/%s", dirname(d), t);
            free(d);
        }
        free(cur);
        cur = next;
    }
    errno = ENOMEM;
    return NULL;
}

int kf_atomic_replaces(const char *path)
{
    if (!path || strcmp(path, "-") == 0 || fd_alias(path) >= 0) return 0;
    char *real = follow_links(path);
    if (!real) return -1;
    struct stat st;
    int r = stat(real, &st) == 0 && S_ISREG(st.st_mode);
    free(real);
    return r;
}

int kf_atomic_in_place(const char *path)
{
    if (!path || strcmp(path, "-") == 0 || fd_alias(path) >= 0) return 1;
    char *real = follow_links(path);
    if (!real) return 0;
    struct stat st;
    int r = stat(real, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
    free(real);
    return r;
}

int kf_atomic_open(kf_atomic *a, const char *path, mode_t mode, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (!path || !*path) { snprintf(err, errlen, "empty output path"); return -1; }
    int alias = strcmp(path, "-") == 0 ? 1 : fd_alias(path);
    if (alias == 1) {
        a->f = stdout;
        a->is_stdout = 1;
        return 0;
    }
    if (alias >= 0) {
        int fd = dup(alias);
        if (fd < 0 || !(a->f = fdopen(fd, "w"))) {
            snprintf(err, errlen, "descriptor %d is not open for writing", alias);
            if (fd >= 0) close(fd);
            return -1;
        }
        a->in_place = 1;
        return 0;
    }
    if (mode == 0) mode = 0640;
    char *real = follow_links(path);
    if (!real) { snprintf(err, errlen, "cannot follow the symbolic link: %s", strerror(errno)); return -1; }
    struct stat st;
    if (stat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) { free(real); snprintf(err, errlen, "is a directory"); return -1; }
        /* a device, FIFO or socket: write through it, in place (a FIFO waits for its reader) */
        int fd = open(real, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || !(a->f = fdopen(fd, "w"))) {
            snprintf(err, errlen, "cannot open: %s", strerror(errno));
            if (fd >= 0) close(fd);
            free(real);
            return -1;
        }
        a->path = real;
        a->in_place = 1;
        return 0;
    }
    char *d1 = strdup(real), *d2 = strdup(real);
    a->path = real;
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
    track(a->tmp);
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
    if (a->in_place) {
        if (fflush(a->f) != 0 || ferror(a->f)) e = errno ? errno : EIO;
        if (fclose(a->f) != 0 && !e) e = errno ? errno : EIO;
        a->f = NULL;
        clear(a);
        if (e) { snprintf(err, errlen, "write error: %s", strerror(e)); return -1; }
        return 0;
    }
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
    if (a->tmp) unlink(a->tmp);   /* in place: nothing to remove, and what was written stays */
    clear(a);
}
