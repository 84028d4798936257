#include "kf_tool.h"
#include "kf_text.h"
#include <errno.h>
#include <getopt.h>
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
    opterr = 0;     /* getopt's own messages (with the full path) never: kf_getopt words them */
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
    fprintf(stderr, "%s: %s (see '%s --help')\n", kf_prog, safe, kf_prog);
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

int kf_getopt(int argc, char *const *argv, const char *optstring, const struct option *longopts)
{
    int c = getopt_long(argc, argv, optstring, longopts, NULL);
    if (c != '?') return c;
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (strncmp(arg, "--", 2) == 0) {
        int n = (int)strcspn(arg, "=");
        if (optopt) kf_usage_die("option '%.*s' needs a value", n, arg);
        kf_usage_die("unknown option '%.*s'", n, arg);
    }
    const char *os = optstring;
    while (*os == '+' || *os == '-' || *os == ':') os++;
    const char *p = optopt ? strchr(os, optopt) : NULL;
    if (p && p[1] == ':') kf_usage_die("option '-%c' needs a value", optopt);
    if (optopt > 32 && optopt < 127) kf_usage_die("unknown option '-%c'", optopt);
    kf_usage_die("unknown option '%s'", arg);
}
