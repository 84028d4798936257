/* ksnap — capture on a node, keep a bounded store, record Kubernetes metadata, freeze windows.
 * A command table maps each subcommand to its cmd_x() (git's way). */
#include <stdio.h>
#include <string.h>
#include "kf_tool.h"
#include "ksnap.h"

static const struct cmd { const char *name; int (*fn)(int, char **); const char *help; } cmds[] = {
    { "capture", cmd_capture, "capture a node's traffic into rotating pcapng segments" },
    { "ls",      cmd_ls,      "show each node's oldest/newest packet, segments, bytes, drops" },
    { "prune",   cmd_prune,   "apply retention once (cron), or prune old snapshots" },
    { "meta",    cmd_meta,    "record or import Kubernetes metadata (meta record|import)" },
    { "freeze",  cmd_freeze,  "freeze a time window into a hash-verified .ksnap archive" },
    { "info",    cmd_info,    "show a snapshot's manifest" },
    { "verify",  cmd_verify,  "recompute every hash of a snapshot" },
    { "merge",   cmd_merge,   "merge snapshots of several nodes into one" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: ksnap COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\n'ksnap COMMAND --help' for a command's options. Exit codes: 0 ok, 1 nothing found,\n"
               "2 bad usage or input, 3 I/O error, 4 verification failed.\n");
}

int main(int argc, char **argv)
{
    kf_set_prog(argv[0]);
    if (argc < 2) { usage(stderr); return KF_EXIT_ERR; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version")) { printf("ksnap %s\n", KF_VERSION); return 0; }
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            static char prog[64];
            snprintf(prog, sizeof prog, "ksnap %s", cmds[i].name);
            kf_prog = prog;
            return kf_finish_stdout(cmds[i].fn(argc - 1, argv + 1));
        }
    kf_usage_die("unknown command '%s'", argv[1]);
}
