/* kmcp run: the project's tools as child processes, from argument vectors (never a shell).
 * A pipeline of up to four stages shares one process group, so a cancelled request, a timeout
 * or a caller that has read enough ends all of it at once (SIGTERM, then SIGKILL). */
#include "kmcp.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ERR_CAP (16 * 1024)

void kmcp_buf_add(kmcp_buf *b, const void *p, size_t n, size_t limit)
{
    if (limit && b->n + n > limit) {
        b->truncated = 1;
        n = b->n < limit ? limit - b->n : 0;
    }
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n + 1) c *= 2;
        char *q = realloc(b->p, c);
        if (!q) { b->truncated = 1; return; }
        b->p = q; b->cap = c;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}

void kmcp_buf_free(kmcp_buf *b) { free(b->p); memset(b, 0, sizeof *b); }

char *kmcp_tool_path(const char *tool)
{
    char *p;
    if (strchr(tool, '/') || asprintf(&p, "%s/%s", g_cfg.bindir, tool) < 0) return NULL;
    if (access(p, X_OK) != 0) { free(p); return NULL; }
    return p;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int want_stop(kmcp_run *r)
{
    return kmcp_req_cancelled(r->req) || (r->cancel && *r->cancel);
}

int kmcp_run_pipeline(kmcp_run *r)
{
    char *paths[4] = {0};
    pid_t pids[4] = {0};
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, prev = -1, in = -1, rc = -1;
    pid_t pgid = 0;
    memset(r->status, 0, sizeof r->status);
    r->stopped = r->cancelled = r->timed_out = 0;

    for (int i = 0; i < r->nstages; i++) {
        paths[i] = kmcp_tool_path(r->argv[i][0]);
        if (!paths[i]) {
            char m[256];
            snprintf(m, sizeof m, "kmcp: %s is not installed beside kmcp (%s)\n", r->argv[i][0], g_cfg.bindir);
            kmcp_buf_add(&r->err, m, strlen(m), ERR_CAP);
            goto out;
        }
    }
    in = open(r->in_path ? r->in_path : "/dev/null", O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        char m[512];
        snprintf(m, sizeof m, "kmcp: %s: %s\n", r->in_path, strerror(errno));
        kmcp_buf_add(&r->err, m, strlen(m), ERR_CAP);
        goto out;
    }
    if (r->in_offset > 0 && lseek(in, (off_t)r->in_offset, SEEK_SET) < 0) goto out;
    if (pipe2(errp, O_CLOEXEC) < 0) goto out;
    if (r->out_fd < 0 && pipe2(outp, O_CLOEXEC) < 0) goto out;
    prev = in;
    for (int i = 0; i < r->nstages; i++) {
        int mid[2] = {-1, -1}, last = i == r->nstages - 1;
        if (!last && pipe2(mid, O_CLOEXEC) < 0) goto out;
        int out = last ? (r->out_fd >= 0 ? r->out_fd : outp[1]) : mid[1];
        pid_t pid = fork();
        if (pid < 0) { if (mid[0] >= 0) { close(mid[0]); close(mid[1]); } goto out; }
        if (pid == 0) {
            /* only async-signal-safe calls between fork and exec */
            sigset_t none;
            setpgid(0, pgid);
            signal(SIGPIPE, SIG_DFL);
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);      /* kmcp blocks SIGTERM for its signal thread */
            if (dup2(prev, 0) < 0 || dup2(out, 1) < 0 || dup2(errp[1], 2) < 0) _exit(127);
            execv(paths[i], r->argv[i]);
            _exit(127);
        }
        if (!pgid) pgid = pid;
        setpgid(pid, pgid);
        pids[i] = pid;
        if (prev != in) close(prev);
        if (!last) { close(mid[1]); prev = mid[0]; } else prev = -1;
    }
    if (prev >= 0 && prev != in) close(prev);
    close(in); in = -1;
    close(errp[1]); errp[1] = -1;
    if (outp[1] >= 0) { close(outp[1]); outp[1] = -1; }

    /* read stdout lines and stderr until both close */
    kmcp_buf line = {0};
    int64_t start = mono_ms(), last_tick = start, killed_at = 0;
    int open_out = outp[0] >= 0, open_err = 1;
    char buf[65536];
    while (open_out || open_err) {
        struct pollfd pf[2];
        int n = 0, io = -1, ie = -1;
        if (open_out) { pf[n].fd = outp[0]; pf[n].events = POLLIN; io = n++; }
        if (open_err) { pf[n].fd = errp[0]; pf[n].events = POLLIN; ie = n++; }
        int pr = poll(pf, n, 100);
        int64_t now = mono_ms();
        if (!killed_at) {
            int stop = 0;
            if (want_stop(r)) { r->cancelled = 1; stop = 1; }
            else if (r->timeout_s && now - start > (int64_t)r->timeout_s * 1000) { r->timed_out = 1; stop = 1; }
            if (stop) { kill(-pgid, SIGTERM); killed_at = now; }
        } else if (now - killed_at > 2000) {
            kill(-pgid, SIGKILL);
        }
        if (r->on_tick && now - last_tick >= 250) { r->on_tick(r->tick_arg); last_tick = now; }
        if (pr <= 0) continue;
        if (ie >= 0 && (pf[ie].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t k = read(errp[0], buf, sizeof buf);
            if (k <= 0) open_err = 0; else kmcp_buf_add(&r->err, buf, (size_t)k, ERR_CAP);
        }
        if (io >= 0 && (pf[io].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t k = read(outp[0], buf, sizeof buf);
            if (k <= 0) { open_out = 0; continue; }
            if (r->stopped) continue;             /* drain until the children are gone */
            char *p = buf, *e = buf + k;
            while (p < e && !r->stopped) {
                char *nl = memchr(p, '\n', (size_t)(e - p));
                if (!nl) { kmcp_buf_add(&line, p, (size_t)(e - p), 0); break; }
                kmcp_buf_add(&line, p, (size_t)(nl - p), 0);
                if (line.p && r->on_line && r->on_line(r->arg, line.p, line.n)) {
                    r->stopped = 1;
                    if (!killed_at) { kill(-pgid, SIGTERM); killed_at = mono_ms(); }
                }
                line.n = 0;
                if (line.p) line.p[0] = 0;
                p = nl + 1;
            }
        }
    }
    if (line.n && !r->stopped && r->on_line) r->on_line(r->arg, line.p, line.n);
    kmcp_buf_free(&line);
    for (int i = 0; i < r->nstages; i++) {
        int st;
        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR) {}
        r->status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        pids[i] = 0;
    }
    rc = 0;
out:
    for (int i = 0; i < 4; i++) {
        if (pids[i] > 0) { kill(pids[i], SIGKILL); waitpid(pids[i], NULL, 0); }
        free(paths[i]);
    }
    if (in >= 0) close(in);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0) close(outp[i]);
        if (errp[i] >= 0) close(errp[i]);
    }
    if (rc < 0 && !r->err.n) {
        char m[256];
        snprintf(m, sizeof m, "kmcp: could not start %s: %s\n", r->argv[0][0], strerror(errno));
        kmcp_buf_add(&r->err, m, strlen(m), ERR_CAP);
    }
    return rc;
}

void kmcp_run_free(kmcp_run *r) { kmcp_buf_free(&r->err); }

char *kmcp_run_message(const kmcp_run *r)
{
    const char *p = r->err.p ? r->err.p : "";
    while (*p == '\n') p++;
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char *o = malloc(n * 4 + 1), *q = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f) q += sprintf(q, "\\x%02x", c);
        else *q++ = (char)c;
    }
    *q = 0;
    return o;
}
