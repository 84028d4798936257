/* kf_tool — what every command-line tool shares: its name in messages, exit codes, version.
 * All messages go through kf_msg/kf_warn/kf_err so each line starts with "tool: ". */
#ifndef KF_TOOL_H
#define KF_TOOL_H
#include <stdarg.h>

#define KF_VERSION "0.1.0"

/* Exit codes, the same in every tool (grep's convention where it applies). */
enum {
    KF_EXIT_OK = 0,         /* success / something matched or found */
    KF_EXIT_NONE = 1,       /* nothing matched / found (not an error) */
    KF_EXIT_ERR = 2,        /* bad usage or bad input */
    KF_EXIT_IO = 3,         /* I/O error writing output, disk full */
    KF_EXIT_VERIFY = 4,     /* ksnap verify: a hash did not match */
};

extern const char *kf_prog;
void kf_set_prog(const char *argv0);
/* "tool: message\n" on stderr */
void kf_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kf_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* kf_err then exit(code) */
void kf_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* "tool: …  (see 'tool --help')\n", one line, then exit(KF_EXIT_ERR) */
void kf_usage_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* getopt_long that words its own errors in one line and exits 2: "tool: unknown option '--x'",
 * "tool: option '--from' needs a value" (getopt's messages are off: kf_set_prog sets opterr 0).
 * Every tool parses its options with it, so a new tool gets the same words. */
struct option;
int kf_getopt(int argc, char *const *argv, const char *optstring, const struct option *longopts);
/* Checks stdout for a write error (EPIPE is quiet); returns KF_EXIT_IO on failure, else rc. */
int kf_finish_stdout(int rc);
/* 1 if the global --verbose/-v count asks for libraries' messages */
extern int kf_verbose;
#endif
