/* kmcp — the toolkit as an MCP server: options, the stdio transport, signals.
 * See docs/kmcp.md for the design and man/kmcp.1 for the options. */
#include "kmcp.h"
#include "kf_tool.h"
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

kmcp_cfg g_cfg = {.max_rows = 1000, .max_bytes = 256 * 1024};

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
void kmcp_log(const char *fmt, ...)
{
    if (!g_cfg.verbose) return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&log_mu);
    fputs("kmcp: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_mu);
    va_end(ap);
}

static void usage(FILE *f)
{
    fputs("usage: kmcp [--store DIR] [--snapshots DIR] [--exports DIR] [--http ADDR [--token-file FILE]]\n"
          "An MCP server (Model Context Protocol, JSON-RPC 2.0) over a capture store and a folder of\n"
          "snapshots, so an AI agent can run an incident investigation: data boundaries, snapshots,\n"
          "dissection, KFL queries, API statistics, the service map, workloads and IPs, L4 flows and\n"
          "PCAP export. Speaks MCP on standard input/output unless --http is given.\n"
          "  --store DIR          capture store (ksnap capture's --dir); needed by get_data_boundaries\n"
          "                       and create_snapshot\n"
          "  --snapshots DIR      the snapshots folder (default: DIR/snapshots of --store); created\n"
          "  --exports DIR        where export_snapshot_pcap writes (default: SNAPSHOTS/exports)\n"
          "  --http ADDR          Streamable HTTP on ADDR (host:port; default host 127.0.0.1), path /mcp\n"
          "  --token-file FILE    require 'Authorization: Bearer <first line of FILE>' (HTTP)\n"
          "  --allow-remote       allow --http on an address other than loopback (needs --token-file)\n"
          "  --max-rows N         cap on rows in one result (default 1000)\n"
          "  --max-bytes N        cap on one result's size (default 256K)\n"
          "  -v, --verbose        log requests on standard error\n"
          "  -h, --help           this help;  --version  the version\n"
          "Add it to Claude Code:  claude mcp add kforensics -- kmcp --store /var/lib/kforensics\n"
          "Exit: 0 when the client closed the connection, 2 bad usage, 3 I/O error.\n", f);
}

static char *abs_dir(const char *d, int create, const char *what)
{
    if (create && mkdir(d, 0755) < 0 && errno != EEXIST) kf_die(KF_EXIT_IO, "%s: cannot create %s: %s", d, what, strerror(errno));
    char *r = realpath(d, NULL);
    struct stat st;
    if (!r || stat(r, &st) < 0 || !S_ISDIR(st.st_mode)) kf_die(KF_EXIT_ERR, "%s: %s is not a folder", d, what);
    return r;
}

/* --- stdio transport: one JSON-RPC message per line each way */
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static void stdio_send(void *sink, json_t *msg)
{
    (void)sink;
    char *s = json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(msg);
    if (!s) return;
    pthread_mutex_lock(&out_mu);
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
    free(s);
}

int kmcp_serve_stdio(void)
{
    kmcp_session s;
    kmcp_session_init(&s);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (!n) continue;
        json_error_t je;
        json_t *m = json_loadb(line, (size_t)n, JSON_DECODE_ANY, &je);
        if (!m) {
            char msg[300];
            snprintf(msg, sizeof msg, "Parse error: %s", je.text);
            stdio_send(NULL, kmcp_error_msg(NULL, -32700, msg));
            continue;
        }
        kmcp_handle(&s, m, stdio_send, NULL, 1);
        json_decref(m);
    }
    free(line);
    /* the client is gone: the answers being computed still go out (a shell's pipe reads them),
     * then main stops the background dissections and removes what they had half-written */
    kmcp_log("client closed standard input: finishing the requests in flight");
    kmcp_session_wait(&s);
    return ferror(stdout) ? KF_EXIT_IO : KF_EXIT_OK;
}

static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    int sig = 0;
    sigwait(set, &sig);
    kmcp_log("signal %d: stopping", sig);
    kmcp_dissect_shutdown();
    _exit(0);
    return NULL;
}

int main(int argc, char **argv)
{
    kf_set_prog(argv[0]);
    enum { O_STORE = 256, O_SNAP, O_EXP, O_HTTP, O_TOKEN, O_REMOTE, O_ROWS, O_BYTES, O_VERSION };
    static const struct option opts[] = {
        {"store", required_argument, 0, O_STORE}, {"snapshots", required_argument, 0, O_SNAP},
        {"exports", required_argument, 0, O_EXP}, {"http", required_argument, 0, O_HTTP},
        {"token-file", required_argument, 0, O_TOKEN}, {"allow-remote", no_argument, 0, O_REMOTE},
        {"max-rows", required_argument, 0, O_ROWS}, {"max-bytes", required_argument, 0, O_BYTES},
        {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0}};
    const char *store = NULL, *snaps = NULL, *exps = NULL, *http = NULL, *token = NULL;
    int remote = 0, c;
    while ((c = kf_getopt(argc, argv, "vh", opts)) != -1) {
        switch (c) {
        case O_STORE: store = optarg; break;
        case O_SNAP: snaps = optarg; break;
        case O_EXP: exps = optarg; break;
        case O_HTTP: http = optarg; break;
        case O_TOKEN: token = optarg; break;
        case O_REMOTE: remote = 1; break;
        case O_ROWS: {
            char *e;
            long v = strtol(optarg, &e, 10);
            if (*e || v < 1 || v > 100000) kf_usage_die("--max-rows: a number from 1 to 100000");
            g_cfg.max_rows = (size_t)v;
            break;
        }
        case O_BYTES: {
            uint64_t b;
            extern int kf_size_parse(const char *, uint64_t *);
            if (kf_size_parse(optarg, &b) < 0 || b < 4096 || b > (64u << 20)) kf_usage_die("--max-bytes: a size from 4K to 64M");
            g_cfg.max_bytes = (size_t)b;
            break;
        }
        case 'v': g_cfg.verbose++; break;
        case 'h': usage(stdout); return 0;
        case O_VERSION: printf("kmcp %s\n", KF_VERSION); return 0;
        default: kf_usage_die("unknown option");
        }
    }
    if (optind < argc) kf_usage_die("unexpected argument '%s'", argv[optind]);
    if (!store && !snaps) kf_usage_die("give --store DIR or --snapshots DIR");
    if (token && !http) kf_usage_die("--token-file goes with --http");
    if (store) g_cfg.store = abs_dir(store, 0, "capture store");
    if (!snaps) {
        char *d;
        if (asprintf(&d, "%s/snapshots", g_cfg.store) < 0) return KF_EXIT_IO;
        g_cfg.snapdir = abs_dir(d, 1, "snapshots folder");
        free(d);
    } else {
        g_cfg.snapdir = abs_dir(snaps, 1, "snapshots folder");
    }
    if (!exps) {
        char *d;
        if (asprintf(&d, "%s/exports", g_cfg.snapdir) < 0) return KF_EXIT_IO;
        g_cfg.exportdir = abs_dir(d, 1, "exports folder");
        free(d);
    } else {
        g_cfg.exportdir = abs_dir(exps, 1, "exports folder");
    }
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) kf_die(KF_EXIT_IO, "cannot find its own binary: %s", strerror(errno));
    self[k] = 0;
    g_cfg.bindir = strdup(dirname(self));

    signal(SIGPIPE, SIG_IGN);
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t st;
    pthread_create(&st, NULL, signal_thread, &set);
    pthread_detach(st);

    kmcp_dissect_startup();
    int rc = http ? kmcp_serve_http(http, token, remote) : kmcp_serve_stdio();
    kmcp_dissect_shutdown();
    return rc;
}
