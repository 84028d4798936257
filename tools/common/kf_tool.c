#include "kf_tool.h"
#include "kf_text.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *kf_prog = "kforensics";
int kf_verbose = 0;

void kf_set_prog(const char *argv0)
{
    const char *s = argv0 ? strrchr(argv0, '/') : NULL;
    kf_prog = s ? s + 1 : (argv0 ? argv0 : kf_prog);
}

static void vmsg(const char *fmt, va_list ap)
{
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s: ", kf_prog);
    vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    size_t l = strlen(buf);
    if (l && buf[l - 1] == '\n') buf[--l] = 0;
    /* messages quote names and text from the input: one line, no terminal controls */
    char safe[4 * sizeof buf];
    kf_text_escape(buf, safe, sizeof safe);
    fprintf(stderr, "%s\n", safe);
}

void kf_err(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vmsg(fmt, ap); va_end(ap); }
void kf_warn(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vmsg(fmt, ap); va_end(ap); }

void kf_die(int code, const char *fmt, ...)
{
    va_list ap; va_start(ap, fmt); vmsg(fmt, ap); va_end(ap);
    exit(code);
}

void kf_usage_die(const char *fmt, ...)
{
    char buf[2048], safe[4 * sizeof buf];
    va_list ap; va_start(ap, fmt); vsnprintf(buf, sizeof buf, fmt, ap); va_end(ap);
    kf_text_escape(buf, safe, sizeof safe);
    fprintf(stderr, "%s: %s\nTry '%s --help'.\n", kf_prog, safe, kf_prog);
    exit(KF_EXIT_ERR);
}

int kf_finish_stdout(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno == EPIPE) return rc;
        kf_err("standard output: %s", strerror(errno));
        return KF_EXIT_IO;
    }
    return rc;
}
