/* kexport — write the packets that matter (by BPF, time, node, workload, or the API calls a kfl
 * query found) from captures, stores and snapshots, as one pcapng (or pcap) file that Wireshark
 * opens with Kubernetes names in it. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kexport.h"
#include "kf_atomic.h"
#include "kf_snap.h"
#include "kf_span.h"
#include "kf_store.h"
#include "kf_time.h"
#include "kf_tool.h"

#define DSB_TLS_KEYLOG 0x544c534bu

static void usage(FILE *f)
{
    fprintf(f,
"usage: kexport [OPTIONS] INPUT... [-o FILE]\n"
"Write the selected packets of pcap/pcapng files, capture store DIRs and .ksnap snapshots,\n"
"merged in time order, as one pcapng (default) or pcap file; standard output without -o\n"
"(so 'kexport ... | wireshark -k -i -' works).\n"
"\n"
"Selection (every kind given must match; repeats of one kind add up):\n"
"  -f, --filter BPF      tcpdump filter syntax, compiled by libpcap for each link type met\n"
"      --from T, --to T  time window (RFC 3339, local time, epoch, or relative: -15m, 2h ago)\n"
"      --node N          packets captured on node N (repeat)\n"
"      --workload NS/NAME  packets to or from the IPs of that pod, owner (Deployment...) or\n"
"                        service, only while it held them (repeat; needs metadata)\n"
"      --ip IP           packets to or from IP (repeat)\n"
"      --meta SOURCE     metadata (events NDJSON, kubectl JSON, store DIR or .ksnap) instead\n"
"                        of the one found in store/snapshot inputs\n"
"      --calls FILE|-    kdissect NDJSON records (e.g. from kfl): the packets of their\n"
"                        connections, handshake and teardown included\n"
"      --scope conn|whole|call  with --calls: conn (default) = the calls' packets with their\n"
"                        connection's handshake and teardown, not other calls' cleartext\n"
"                        data (TLS, HTTP/2 connections whole); whole = every packet of the\n"
"                        connection; call = only the call's own frames\n"
"\n"
"Output:\n"
"  -o, --output FILE     write FILE (whole or not at all); default standard output\n"
"  -F, --format pcapng|pcap  pcapng (default); pcap only when one link type matches\n"
"      --snaplen N       cut packets to N bytes\n"
"      --names / --no-names  an NRB naming each IP by its pod or service (pcapng default: on)\n"
"      --annotate        comment the first packet of each call (or connection) with both\n"
"                        sides' workloads\n"
"      --tls-keylog FILE carry a TLS key log as a DSB (so Wireshark decrypts)\n"
"      --stats           packets read, matched and written, per node, on standard error\n"
"  -v, --verbose         more messages\n"
"  -h, --help            this help\n"
"      --version\n"
"\n"
"Exit status: 0 packets written, 1 nothing matched (an empty capture is written),\n"
"2 bad usage or input, 3 I/O error writing.\n");
}

enum { O_FROM = 256, O_TO, O_NODE, O_WORKLOAD, O_IP, O_META, O_CALLS, O_SCOPE, O_SNAPLEN,
       O_NAMES, O_NO_NAMES, O_ANNOTATE, O_KEYLOG, O_STATS, O_VERSION };

static const struct option longopts[] = {
    { "filter", required_argument, 0, 'f' },
    { "from", required_argument, 0, O_FROM },
    { "to", required_argument, 0, O_TO },
    { "node", required_argument, 0, O_NODE },
    { "workload", required_argument, 0, O_WORKLOAD },
    { "ip", required_argument, 0, O_IP },
    { "meta", required_argument, 0, O_META },
    { "calls", required_argument, 0, O_CALLS },
    { "scope", required_argument, 0, O_SCOPE },
    { "output", required_argument, 0, 'o' },
    { "format", required_argument, 0, 'F' },
    { "snaplen", required_argument, 0, O_SNAPLEN },
    { "names", no_argument, 0, O_NAMES },
    { "no-names", no_argument, 0, O_NO_NAMES },
    { "annotate", no_argument, 0, O_ANNOTATE },
    { "tls-keylog", required_argument, 0, O_KEYLOG },
    { "stats", no_argument, 0, O_STATS },
    { "verbose", no_argument, 0, 'v' },
    { "help", no_argument, 0, 'h' },
    { "version", no_argument, 0, O_VERSION },
    { 0, 0, 0, 0 },
};

typedef struct strv { const char **v; size_t n; } strv;

static void strv_push(strv *s, const char *x)
{
    const char **nv = realloc(s->v, (s->n + 1) * sizeof *nv);
    if (!nv) kf_die(KF_EXIT_ERR, "out of memory");
    s->v = nv;
    s->v[s->n++] = x;
}

typedef struct node_stats {
    char *node;
    uint64_t read, matched, written;
} node_stats;

enum { SCOPE_CONN = 0, SCOPE_WHOLE = 1, SCOPE_CALL = 2 };

typedef struct ctx {
    /* options */
    const char *bpf_expr, *out_path, *calls_path, *keylog_path;
    strv nodes, workloads, ips, metas, inputs;
    int64_t from, to;
    const char *from_s, *to_s;  /* as given: relative ones are resolved against the input (kf_span) */
    int scope, scope_set, names, names_set, annotate, stats;
    enum kx_format format;
    uint32_t snaplen;
    /* state */
    kf_source *src;
    kf_source *meta_src;    /* a snapshot/store given with --meta */
    kf_meta *own_meta;
    const kf_meta *meta;
    kx_bpf *bpf;
    kx_calls calls;
    kx_endpoints eps;
    int use_eps, use_calls;
    kx_set named, conns, dsbs;
    /* IPs that more than one workload held within the export (names, NRB): named with all
     * holders; a packet comment says who held it wherever the holder changes */
    struct reused { kf_addr ip; char name[512]; char last[256]; size_t holders; } *reused;
    size_t nreused;
    int64_t name_end;       /* the export's end, for whom an IP's name must cover (KF_T_MIN: not yet known) */
    kx_set tls_setup, data_phase;   /* --scope conn: connections kept whole (TLS, HTTP/2) / others */
    kf_atomic out;
    int out_open;
    kx_out *w;
    size_t dsb_done;
    int dsb_warned;
    int *locks;             /* shared store locks held while reading */
    size_t nlocks;
    node_stats *ns;
    size_t nns;
    size_t ns_last;
    uint64_t read, matched, written;
} ctx;

static node_stats *stats_for(ctx *c, const char *node)
{
    if (!node) node = "";
    if (c->nns && !strcmp(c->ns[c->ns_last].node, node)) return &c->ns[c->ns_last];
    for (size_t i = 0; i < c->nns; i++)
        if (!strcmp(c->ns[i].node, node)) { c->ns_last = i; return &c->ns[i]; }
    node_stats *nv = realloc(c->ns, (c->nns + 1) * sizeof *nv);
    if (!nv) kf_die(KF_EXIT_ERR, "out of memory");
    c->ns = nv;
    c->ns[c->nns].node = strdup(node);
    if (!c->ns[c->nns].node) kf_die(KF_EXIT_ERR, "out of memory");
    c->ns[c->nns].read = c->ns[c->nns].matched = c->ns[c->nns].written = 0;
    c->ns_last = c->nns;
    return &c->ns[c->nns++];
}

static void cleanup(ctx *c)
{
    if (c->w) { char e[256]; kx_out_close(c->w, e, sizeof e); c->w = NULL; }
    if (c->out_open) { kf_atomic_abort(&c->out); c->out_open = 0; }
    if (c->src) kf_source_close(c->src);
    if (c->meta_src) kf_source_close(c->meta_src);
    if (c->own_meta) kf_meta_free(c->own_meta);
    kx_bpf_free(c->bpf);
    kx_calls_free(&c->calls);
    kx_endpoints_free(&c->eps);
    kx_set_free(&c->named);
    free(c->reused);
    kx_set_free(&c->conns);
    kx_set_free(&c->dsbs);
    kx_set_free(&c->tls_setup);
    kx_set_free(&c->data_phase);
    for (size_t i = 0; i < c->nlocks; i++) kf_store_unlock(c->locks[i]);
    free(c->locks);
    for (size_t i = 0; i < c->nns; i++) free(c->ns[i].node);
    free(c->ns);
    free(c->nodes.v); free(c->workloads.v); free(c->ips.v); free(c->metas.v); free(c->inputs.v);
}

/* Fails: abort the output (no file left), free, exit. */
static void __attribute__((noreturn, format(printf, 3, 4))) fail(ctx *c, int code, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kf_err("%s", buf);
    cleanup(c);
    exit(code);
}

static int64_t parse_time_arg(const char *opt, const char *s)
{
    int64_t ns;
    char err[256] = "";
    if (kf_time_parse(s, kf_now_ns(), &ns, err, sizeof err) != 0)
        kf_usage_die("%s '%s': %s", opt, s, err[0] ? err : "not a time");
    return ns;
}

/* Relative times (--from -10m, now, 19:23) count from the input's "now": a snapshot's end, a
 * file's last packet, the wall clock for a live store (lib/kf_span.h, docs/time.md). */
static void resolve_relative(ctx *c)
{
    int rf = c->from_s && kf_time_is_relative(c->from_s), rt = c->to_s && kf_time_is_relative(c->to_s);
    if (!rf && !rt) return;
    kf_span sp;
    char err[2048];
    if (kf_span_of((const char *const *)c->inputs.v, c->inputs.n, 0, &sp, err, sizeof err) != 0)
        kf_die(KF_EXIT_ERR, "%s", err);
    if (!sp.known && !sp.live)
        kf_warn("relative times count from the wall clock: the end of standard input is not known");
    if (!sp.known || sp.live) return;     /* parsed against the wall clock already */
    if (rf) kf_time_parse(c->from_s, sp.now, &c->from, err, sizeof err);
    if (rt) kf_time_parse(c->to_s, sp.now, &c->to, err, sizeof err);
    if (kf_verbose) {
        char b[96];
        kf_warn("relative times count from the input's end, %s", kf_time_human(sp.now, 0, 3, b, sizeof b));
    }
}

/* The window selected no packet: say the window and what the input holds, in one line. */
static void report_empty_window(ctx *c)
{
    char a[96], b[96], f[96], l[96], err[2048];
    kf_span sp;
    kf_time_human(c->from, 0, 3, a, sizeof a);
    kf_time_human(c->to, 0, 3, b, sizeof b);
    const char *wa = c->from == KF_T_MIN ? "the start" : a, *wb = c->to == KF_T_MAX ? "the end" : b;
    if (kf_span_of((const char *const *)c->inputs.v, c->inputs.n, 1, &sp, err, sizeof err) != 0 || !sp.known)
        kf_warn("the window %s .. %s selected no packet", wa, wb);
    else if (sp.first > sp.last)
        kf_warn("the window %s .. %s selected no packet; the input holds no packet", wa, wb);
    else
        kf_warn("the window %s .. %s selected no packet; the input holds %s .. %s", wa, wb,
                kf_time_human(sp.first, 0, 3, f, sizeof f), kf_time_human(sp.last, 0, 3, l, sizeof l));
}

static void parse_args(ctx *c, int argc, char **argv)
{
    int o;
    while ((o = kf_getopt(argc, argv, "f:o:F:vh", longopts)) != -1) {
        switch (o) {
        case 'f': c->bpf_expr = optarg; break;
        case 'o': c->out_path = optarg; break;
        case 'F':
            if (!strcmp(optarg, "pcapng")) c->format = KX_PCAPNG;
            else if (!strcmp(optarg, "pcap")) c->format = KX_PCAP;
            else kf_usage_die("-F '%s': expected pcapng or pcap", optarg);
            break;
        case 'v': kf_verbose++; break;
        case 'h': usage(stdout); exit(kf_finish_stdout(KF_EXIT_OK));
        case O_VERSION: printf("kexport %s\n", KF_VERSION); exit(kf_finish_stdout(KF_EXIT_OK));
        case O_FROM: c->from = parse_time_arg("--from", optarg); c->from_s = optarg; break;
        case O_TO: c->to = parse_time_arg("--to", optarg); c->to_s = optarg; break;
        case O_NODE: strv_push(&c->nodes, optarg); break;
        case O_WORKLOAD: strv_push(&c->workloads, optarg); break;
        case O_IP: strv_push(&c->ips, optarg); break;
        case O_META: strv_push(&c->metas, optarg); break;
        case O_CALLS: c->calls_path = optarg; break;
        case O_SCOPE:
            if (!strcmp(optarg, "call")) c->scope = SCOPE_CALL;
            else if (!strcmp(optarg, "conn") || !strcmp(optarg, "connection")) c->scope = SCOPE_CONN;
            else if (!strcmp(optarg, "whole")) c->scope = SCOPE_WHOLE;
            else kf_usage_die("--scope '%s': expected conn, whole or call", optarg);
            c->scope_set = 1;
            break;
        case O_SNAPLEN: {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v == 0 || v > 0x7fffffffUL || optarg[0] == '-')
                kf_usage_die("--snaplen '%s': expected a number of bytes > 0", optarg);
            c->snaplen = (uint32_t)v;
            break;
        }
        case O_NAMES: c->names = 1; c->names_set = 1; break;
        case O_NO_NAMES: c->names = 0; c->names_set = 1; break;
        case O_ANNOTATE: c->annotate = 1; break;
        case O_KEYLOG: c->keylog_path = optarg; break;
        case O_STATS: c->stats = 1; break;
        default: kf_usage_die("unknown option");
        }
    }
    for (int i = optind; i < argc; i++) strv_push(&c->inputs, argv[i]);
    if (c->inputs.n == 0) kf_usage_die("no INPUT given (a pcap/pcapng file, a store DIR, a .ksnap, or -)");
    resolve_relative(c);
    if (c->from != KF_T_MIN && c->to != KF_T_MAX && c->from > c->to)
        kf_usage_die("--from is after --to");
    if (c->calls_path && !strcmp(c->calls_path, "-"))
        for (size_t i = 0; i < c->inputs.n; i++)
            if (!strcmp(c->inputs.v[i], "-"))
                kf_usage_die("--calls - and INPUT - cannot both read standard input");
    if (c->scope_set && !c->calls_path) kf_usage_die("--scope needs --calls");
    if (!c->names_set) c->names = c->format == KX_PCAPNG;
    if (c->names && c->format == KX_PCAP && c->names_set)
        kf_usage_die("--names needs pcapng (-F pcap has no place for names)");
}

/* The SHB comment: how this file was made. */
static char *describe_run(int argc, char **argv)
{
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    n = (size_t)snprintf(s, cap, "kforensics kexport:");
    for (int i = 1; i < argc && n < cap - 1; i++) {
        const char *a = argv[i];
        int plain = *a != 0;
        for (const char *p = a; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+", *p))
                plain = 0;
        n += (size_t)snprintf(s + n, cap - n, plain ? " %s" : " '%s'", a);
    }
    if (n >= cap) s[cap - 1] = 0;
    return s;
}

/* Store inputs: hold each node's lock shared while reading, so that retention and prune do
 * not delete a segment under us (docs/store.md). A store we cannot lock (read-only) is read
 * anyway. */
static void lock_stores(ctx *c)
{
    for (size_t i = 0; i < c->inputs.n; i++) {
        const char *d = c->inputs.v[i];
        struct stat st;
        if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode) || !kf_store_is_store(d)) continue;
        char **nodes = NULL, err[256];
        size_t n = 0;
        if (kf_store_nodes(d, &nodes, &n, err, sizeof err) != 0) continue;
        for (size_t j = 0; j < n; j++) {
            if (!strcmp(nodes[j], "meta")) continue;
            int fd = kf_store_lock(d, nodes[j], 0, 1);
            if (fd < 0 && errno == EWOULDBLOCK) {
                kf_warn("%s/%s: waiting for a prune to finish", d, nodes[j]);
                fd = kf_store_lock(d, nodes[j], 0, 0);
            }
            if (fd < 0) {
                if (kf_verbose) kf_warn("%s/%s: cannot lock (%s); reading anyway", d, nodes[j], strerror(errno));
                continue;
            }
            int *nv = realloc(c->locks, (c->nlocks + 1) * sizeof *nv);
            if (!nv) { kf_store_unlock(fd); continue; }
            c->locks = nv;
            c->locks[c->nlocks++] = fd;
        }
        kf_strv_free(nodes, n);
    }
}

/* When every packet can only come from one node, the SHB says so as ksnap does
 * ("kforensics-node: NODE", docs/store.md), so that tools reading the export back learn the
 * node. One node: a single --node, a snapshot or store of one node, or a single plain file.
 * Returns the comment (malloc'd) or NULL. */
static char *single_node(ctx *c)
{
    const char *node = NULL;
    char *owned = NULL;
    struct stat sst;
    const char *in0 = c->inputs.v[0];
    if (c->nodes.n == 1) {
        node = c->nodes.v[0];
    } else if (c->inputs.n == 1 && strcmp(in0, "-") && stat(in0, &sst) == 0 &&
               (S_ISDIR(sst.st_mode) || kf_snap_detect(in0))) {
        /* a snapshot (its manifest) or a store (its node folders) holding one node */
        char err[1024];
        if (S_ISDIR(sst.st_mode)) {
            char **nodes = NULL;
            size_t n = 0, real = 0;
            if (kf_store_nodes(in0, &nodes, &n, err, sizeof err) != 0) return NULL;
            for (size_t i = 0; i < n; i++)
                if (strcmp(nodes[i], "meta")) { real++; if (!owned) owned = strdup(nodes[i]); }
            kf_strv_free(nodes, n);
            if (real != 1) { free(owned); return NULL; }
        } else {
            json_t *m = kf_snap_read_manifest(in0, err, sizeof err);
            json_t *nodes = m ? json_object_get(m, "nodes") : NULL;
            if (nodes && json_object_size(nodes) == 1) {
                void *it = json_object_iter(nodes);
                owned = strdup(json_object_iter_key(it));
            }
            json_decref(m);
            if (!owned) return NULL;
        }
        node = owned;
    } else {
        /* one plain file (a file has one node; interfaces of further inputs may not be
         * known before their first packet) */
        struct stat st;
        const char *in = c->inputs.v[0];
        if (c->inputs.n != 1 ||
            (strcmp(in, "-") && (stat(in, &st) != 0 || !S_ISREG(st.st_mode) || kf_snap_detect(in))))
            return NULL;
        size_t n = kf_source_iface_count(c->src);
        for (size_t i = 0; i < n; i++) {
            const kf_src_iface *f = kf_source_iface(c->src, (uint32_t)i);
            if (!f || !f->node || !*f->node) return NULL;
            if (node && strcmp(node, f->node)) return NULL;
            node = f->node;
        }
    }
    if (!node) return NULL;
    char *s;
    if (asprintf(&s, "kforensics-node: %s", node) < 0) s = NULL;
    free(owned);
    return s;
}

static void load_meta(ctx *c)
{
    char err[1024] = "";
    if (c->metas.n == 0) {
        c->meta = kf_source_meta(c->src);
        return;
    }
    for (size_t i = 0; i < c->metas.n; i++) {
        const char *p = c->metas.v[i];
        struct stat st;
        if (stat(p, &st) != 0) fail(c, KF_EXIT_ERR, "%s: %s", p, strerror(errno));
        int is_snap = !S_ISDIR(st.st_mode) && kf_snap_detect(p);
        if (is_snap) {
            if (c->metas.n != 1)
                fail(c, KF_EXIT_ERR, "%s: a snapshot given to --meta must be the only --meta", p);
            kf_source_opts so = { KF_T_MIN, KF_T_MAX, NULL, 0, 0 };
            const char *one[1] = { p };
            c->meta_src = kf_source_open(one, 1, &so, err, sizeof err);
            if (!c->meta_src) fail(c, KF_EXIT_ERR, "%s", err);
            c->meta = kf_source_meta(c->meta_src);
            if (!c->meta) fail(c, KF_EXIT_ERR, "%s: no metadata in this snapshot", p);
            return;
        }
        if (!c->own_meta && !(c->own_meta = kf_meta_new())) fail(c, KF_EXIT_ERR, "out of memory");
        int rc = S_ISDIR(st.st_mode) ? kf_meta_load_store(c->own_meta, p, err, sizeof err)
                                     : kf_meta_load_file(c->own_meta, p, KF_T_MIN, err, sizeof err);
        if (rc != 0 && kf_meta_err_fatal(err)) fail(c, KF_EXIT_ERR, "%s: %s", p, err);
        if (rc != 0) kf_warn("%s: %s (skipped; the rest is kept)", p, err);
    }
    kf_meta_finish(c->own_meta);
    c->meta = c->own_meta;
}

static void build_endpoints(ctx *c)
{
    char err[512];
    kx_endpoints_init(&c->eps);
    for (size_t i = 0; i < c->ips.n; i++)
        if (kx_endpoints_add_ip(&c->eps, c->ips.v[i]) != 0)
            fail(c, KF_EXIT_ERR, "--ip '%s': not an IP address", c->ips.v[i]);
    if (c->workloads.n && !c->meta)
        fail(c, KF_EXIT_ERR, "--workload needs metadata: give a store or snapshot input, or --meta");
    for (size_t i = 0; i < c->workloads.n; i++) {
        int k = kx_endpoints_add_workload(&c->eps, c->meta, c->workloads.v[i], err, sizeof err);
        if (k < 0) fail(c, KF_EXIT_ERR, "--workload %s", err);
        if (k == 0)
            fail(c, KF_EXIT_ERR, "--workload '%s': no pod, owner, service or node by that name "
                 "held an IP in the metadata%s", c->workloads.v[i],
                 strchr(c->workloads.v[i], '/') ? "" : " (pods and services are NAMESPACE/NAME)");
        if (kf_verbose) kf_warn("--workload %s: %d IP interval(s)", c->workloads.v[i], k);
    }
    kx_endpoints_index(&c->eps);
    c->use_eps = c->ips.n || c->workloads.n;
}

/* Writes a DSB unless one with the same content was written (by FNV-1a of type and data). */
static void put_dsb(ctx *c, uint32_t type, const uint8_t *data, uint32_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t i = 0; i < len; i++) { h ^= data[i]; h *= 1099511628211ULL; }
    uint64_t key[2] = { h, (uint64_t)type << 32 | len };
    int r = kx_set_add(&c->dsbs, key);
    if (r < 0) fail(c, KF_EXIT_ERR, "out of memory");
    if (r == 0) return;
    if (kx_out_dsb(c->w, type, data, len) != 0)
        fail(c, KF_EXIT_IO, "%s: %s", c->out_path ? c->out_path : "standard output", strerror(errno));
}

static void write_keylog(ctx *c)
{
    FILE *f = fopen(c->keylog_path, "rb");
    if (!f) fail(c, KF_EXIT_ERR, "%s: %s", c->keylog_path, strerror(errno));
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            if (cap >= (1u << 30)) { free(buf); buf = NULL; break; }
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; } else buf = nb;
        }
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) { free(buf); fail(c, KF_EXIT_ERR, "%s: cannot read (or larger than 1 GiB)", c->keylog_path); }
    if (n == 0) { free(buf); fail(c, KF_EXIT_ERR, "%s: empty TLS key log", c->keylog_path); }
    if (c->format == KX_PCAP) {
        kf_warn("%s: -F pcap cannot carry a TLS key log; use pcapng", c->keylog_path);
        free(buf);
        return;
    }
    put_dsb(c, DSB_TLS_KEYLOG, buf, (uint32_t)n);
    free(buf);
}

/* DSBs met in the inputs so far: carried once each (same content once). */
static void copy_dsbs(ctx *c)
{
    size_t n = kf_source_dsb_count(c->src);
    for (; c->dsb_done < n; c->dsb_done++) {
        const kf_dsb *d = kf_source_dsb(c->src, c->dsb_done);
        if (!d || !d->len) continue;
        if (c->format == KX_PCAP) {
            if (!c->dsb_warned++)
                kf_warn("secrets blocks (DSB) in the input are not carried by -F pcap; use pcapng");
            continue;
        }
        put_dsb(c, d->type, d->data, d->len);
    }
}

/* New names for the packet's addresses, as one NRB before the packet. */
static int addr_eq(const kf_addr *a, const kf_addr *b)
{
    return a->family == b->family && !memcmp(a->a, b->a, a->family == 4 ? 4 : 16);
}

/* The end of what the export can hold: --to, else the inputs' end when it is cheap to know
 * (snapshots: their manifest; stores: now), else no bound (plain files: every later holder the
 * metadata knows). */
static int64_t export_end(ctx *c)
{
    if (c->name_end != KF_T_MIN) return c->name_end;
    c->name_end = KF_T_MAX;
    if (c->to != KF_T_MAX) return c->name_end = c->to;
    for (size_t i = 0; i < c->inputs.n; i++) {
        struct stat st;
        const char *in = c->inputs.v[i];
        if (!strcmp(in, "-") || stat(in, &st) != 0 || (!S_ISDIR(st.st_mode) && kf_snap_detect(in) != 1))
            return c->name_end;
    }
    kf_span sp;
    char err[1024];
    if (kf_span_of((const char *const *)c->inputs.v, c->inputs.n, 0, &sp, err, sizeof err) == 0 && sp.known)
        c->name_end = sp.now;
    return c->name_end;
}

/* The names of every holder of ip from ts to the export's end, in time order, "a/b"; the count. */
static size_t holders_of(ctx *c, const kf_addr *ip, int64_t ts, char *out, size_t len)
{
    const kf_binding *b;
    size_t nb = kf_meta_bindings(c->meta, &b), n = 0;
    int64_t end = export_end(c);
    struct { int64_t t; char name[256]; } h[8];
    for (size_t i = 0; i < nb && n < 8; i++) {
        if (!addr_eq(&b[i].ip, ip) || b[i].to_ns <= ts || b[i].from_ns > end) continue;
        int64_t t = b[i].from_ns > ts ? b[i].from_ns : ts;
        char nm[256];
        if (!kx_meta_name(c->meta, ip, t, nm, sizeof nm)) continue;
        size_t k = 0;
        while (k < n && strcmp(h[k].name, nm)) k++;
        if (k < n) { if (t < h[k].t) h[k].t = t; continue; }
        h[n].t = t;
        snprintf(h[n].name, sizeof h[n].name, "%s", nm);
        n++;
    }
    for (size_t i = 1; i < n; i++)          /* a handful: insertion sort by time */
        for (size_t j = i; j > 0 && h[j].t < h[j - 1].t; j--) { __typeof__(h[0]) t = h[j]; h[j] = h[j - 1]; h[j - 1] = t; }
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && o < len; i++) o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "/" : "", h[i].name);
    return n;
}

/* A packet comment where a reused IP's holder changes: who holds it at this packet. */
static const char *reuse_comment(ctx *c, const kf_l4 *l4, int64_t ts, char *buf, size_t len)
{
    const kf_addr *a[2] = { &l4->src, &l4->dst };
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < c->nreused; k++) {
            struct reused *r = &c->reused[k];
            if (!addr_eq(&r->ip, a[i])) continue;
            char now[256], ab[64];
            if (!kx_meta_name(c->meta, a[i], ts, now, sizeof now) || !strcmp(now, r->last)) break;
            snprintf(r->last, sizeof r->last, "%s", now);
            if (o < len)
                o += (size_t)snprintf(buf + o, len - o, "%s%s is %s here (IP reused: its name lists all %zu holders, %s)",
                                      o ? "; " : "", kf_addr_str(a[i], ab, sizeof ab), now, r->holders, r->name);
            break;
        }
    return buf[0] ? buf : NULL;
}

static void name_addrs(ctx *c, const kf_l4 *l4, int64_t ts)
{
    const kf_addr *a[2] = { &l4->src, &l4->dst };
    int fam[2];
    uint8_t addr[2][16];
    char names[2][512];
    const char *np[2];
    size_t k = 0;
    for (int i = 0; i < 2; i++) {
        kf_addr key = *a[i];
        int r = kx_set_add(&c->named, &key);
        if (r < 0) fail(c, KF_EXIT_ERR, "out of memory");
        if (r == 0) continue;
        if (!kx_meta_name(c->meta, a[i], ts, names[k], sizeof names[k])) continue;
        char all[512];
        size_t nh = holders_of(c, a[i], ts, all, sizeof all);
        if (nh > 1) {
            struct reused *nv = realloc(c->reused, (c->nreused + 1) * sizeof *nv);
            if (!nv) fail(c, KF_EXIT_ERR, "out of memory");
            c->reused = nv;
            struct reused *r = &c->reused[c->nreused++];
            memset(r, 0, sizeof *r);
            r->ip = *a[i];
            r->holders = nh;
            snprintf(r->name, sizeof r->name, "%s", all);
            snprintf(names[k], sizeof names[k], "%s", all);
        }
        fam[k] = a[i]->family;
        memcpy(addr[k], a[i]->a, 16);
        np[k] = names[k];
        k++;
    }
    if (k && kx_out_nrb(c->w, k, fam, (const uint8_t (*)[16])addr, np) != 0)
        fail(c, KF_EXIT_IO, "%s: %s", c->out_path ? c->out_path : "standard output",
             strerror(errno));
}

/* Frame numbers are trusted only in the very file the record names: the same display name
 * (a segment of a snapshot is cut, so its frames differ from the store's segment of the same
 * name). Elsewhere the call's timestamps alone delimit it. */
static int file_same(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static int is_tls_control(const kf_l4 *l4)
{
    /* a TLS record header: change_cipher_spec 20, alert 21, handshake 22; version 3.x */
    return l4->paylen >= 3 && l4->payload[0] >= 20 && l4->payload[0] <= 22 &&
           l4->payload[1] == 3 && l4->payload[2] <= 4;
}

/* The start of an HTTP/2 connection (RFC 9113 3.4): the client preface, or a server's
 * SETTINGS frame (type 4, stream 0, length a multiple of 6) when it speaks first. */
static int is_h2_preface(const kf_l4 *l4)
{
    const uint8_t *p = l4->payload;
    if (l4->paylen >= 16 && !memcmp(p, "PRI * HTTP/2.0\r\n", 16)) return 1;
    if (l4->paylen < 9) return 0;
    uint32_t len = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return p[3] == 4 && (p[4] & ~1u) == 0 && !p[5] && !p[6] && !p[7] && !p[8] && len % 6 == 0 &&
           len <= 16384;
}

/* --scope conn: must this payload packet of a selected connection be kept even outside the
 * selected calls? Yes on a connection whose state spans calls, so that Wireshark can decode
 * the selected ones: TLS (record sequence numbers enter the nonce) and HTTP/2 (HPACK's dynamic
 * table) connections, told by their first payload, are kept whole. No on other ones: other
 * calls' data stays out. Called for every payload packet of a selected connection. */
static int conn_setup(ctx *c, const kx_conn *k, const kf_l4 *l4)
{
    if (kx_set_has(&c->tls_setup, k)) return 1;
    if (kx_set_has(&c->data_phase, k)) return 0;
    int tls = is_tls_control(l4) || is_h2_preface(l4);
    if (kx_set_add(tls ? &c->tls_setup : &c->data_phase, k) < 0) fail(c, KF_EXIT_ERR, "out of memory");
    return tls;
}

/* --calls: does the packet belong to a selected call's connection (or, with --scope call, to
 * the call's own frames)? *first: the call whose first packet this is (for --annotate). */
/* Whether the packet belongs to a selected call; the calls whose first packet it is (up to
 * KX_MAX_COMMENTS: several calls can start in one packet, HTTP/2 or pipelining) go to starts. */
static int calls_match(ctx *c, const kf_src_pkt *p, const kf_l4 *l4, int dec, kx_call **starts, size_t *nstarts)
{
    *nstarts = 0;
    if (!l4->ipver) return 0;
    int ported = l4->proto == 6 || l4->proto == 17 || l4->proto == 132;
    int noports = dec == KF_DEC_HELD;     /* a later IP fragment: ports unknown */
    kx_conn k;
    kx_conn_make(&k, l4->proto, &l4->src, ported ? l4->sport : 0, &l4->dst,
                 ported ? l4->dport : 0);
    size_t lo, hi;
    kx_calls_find(&c->calls, &k, noports, &lo, &hi);
    if (lo == hi) return 0;
    int64_t ts = p->pkt.ts_ns;
    int has_payload = l4->wire_paylen > 0 || l4->paylen > 0 || noports;
    int setup = c->scope == SCOPE_CONN && has_payload && !noports ? conn_setup(c, &k, l4) : 0;
    int hit = 0;
    for (size_t i = lo; i < hi; i++) {
        kx_call *x = &c->calls.v[i];
        if (x->node && p->node && strcmp(x->node, p->node)) continue;
        int same_file = x->first_frame && file_same(x->file, p->file);
        int in_call = ts >= x->first_ts && ts <= x->last_ts &&
                      !(same_file && (p->frame < x->first_frame ||
                                      (x->last_frame && p->frame > x->last_frame)));
        if (c->scope == SCOPE_CALL) {
            if (!in_call) continue;
        } else {
            if (ts < x->conn_first_ts) continue;
            /* A record written while its connection was still open (kdissect streams) knows
             * the connection's end only so far: a TCP connection goes on until its 5-tuple
             * starts a new one (a SYN without ACK), so its teardown is included. */
            if (ts > x->conn_last_ts) {
                if (l4->proto != 6 || x->closed) continue;
                if ((l4->tcp.flags & (KF_TCP_SYN | KF_TCP_ACK)) == KF_TCP_SYN) {
                    x->closed = 1;
                    continue;
                }
            }
            if (c->scope == SCOPE_CONN && has_payload && !in_call && !setup) continue;
        }
        hit = 1;
        x->packets++;
        if (!x->annotated && ts >= x->first_ts && (!same_file || p->frame >= x->first_frame)) {
            x->annotated = 1;
            if (*nstarts < KX_MAX_COMMENTS) starts[(*nstarts)++] = x;
        }
    }
    return hit;
}

/* One side of a call for a comment: the metadata's view at the call's time, else what the
 * record said, then the endpoint. */
static const char *side_desc(ctx *c, const char *rec, const kf_addr *ip, uint16_t port, int have,
                             int64_t ts, char *buf, size_t len)
{
    char d[300], a[64];
    if (have && c->meta && kx_meta_describe(c->meta, ip, ts, d, sizeof d)) {
        kf_addr_str(ip, a, sizeof a);
        snprintf(buf, len, ip->family == 6 ? "%s [%s]:%u" : "%s %s:%u", d, a, port);
        return buf;
    }
    return rec ? rec : "?";
}

static const char *call_comment(ctx *c, const kx_call *x, int64_t ts, char *buf, size_t len)
{
    char cli[512], srv[512];
    snprintf(buf, len, "%s: client %s -> server %s", x->label,
             side_desc(c, x->client, &x->client_ip, x->client_port, x->has_endpoints, ts, cli,
                       sizeof cli),
             side_desc(c, x->server, &x->server_ip, x->server_port, x->has_endpoints, ts, srv,
                       sizeof srv));
    return buf;
}

/* --annotate without --calls: the first packet of each connection, both sides' workloads. */
static const char *conn_comment(ctx *c, const kf_l4 *l4, int64_t ts, char *buf, size_t len)
{
    if (!l4->ipver) return NULL;
    int ported = l4->proto == 6 || l4->proto == 17 || l4->proto == 132;
    kx_conn k;
    kx_conn_make(&k, l4->proto, &l4->src, ported ? l4->sport : 0, &l4->dst, ported ? l4->dport : 0);
    int r = kx_set_add(&c->conns, &k);
    if (r < 0) fail(c, KF_EXIT_ERR, "out of memory");
    if (r == 0) return NULL;
    char a[300], b[300], sa[300], sb[300];
    if (!kx_meta_describe(c->meta, &l4->src, ts, a, sizeof a) &&
        !kx_meta_describe(c->meta, &l4->dst, ts, b, sizeof b)) return NULL;
    snprintf(buf, len, "%s -> %s",
             side_desc(c, NULL, &l4->src, ported ? l4->sport : 0, 1, ts, sa, sizeof sa),
             side_desc(c, NULL, &l4->dst, ported ? l4->dport : 0, 1, ts, sb, sizeof sb));
    return buf;
}

int main(int argc, char **argv)
{
    kf_set_prog(argv[0]);
    ctx c;
    memset(&c, 0, sizeof c);
    c.from = KF_T_MIN;
    c.to = KF_T_MAX;
    c.name_end = KF_T_MIN;
    c.format = KX_PCAPNG;
    kx_calls_init(&c.calls);
    kx_set_init(&c.named, sizeof(kf_addr));
    kx_set_init(&c.conns, sizeof(kx_conn));
    kx_set_init(&c.dsbs, 2 * sizeof(uint64_t));
    kx_set_init(&c.tls_setup, sizeof(kx_conn));
    kx_set_init(&c.data_phase, sizeof(kx_conn));
    parse_args(&c, argc, argv);
    char err[2048] = "";

    if (!c.out_path && isatty(STDOUT_FILENO))
        kf_usage_die("not writing a capture to a terminal: give -o FILE or a pipe");

    if (c.bpf_expr && !(c.bpf = kx_bpf_new(c.bpf_expr, err, sizeof err)))
        fail(&c, KF_EXIT_ERR, "-f '%s': %s", c.bpf_expr, err);

    if (c.calls_path) {
        if (kx_calls_load(&c.calls, c.calls_path, err, sizeof err) != 0) {
            if (!err[0]) { cleanup(&c); exit(KF_EXIT_ERR); }   /* kf_lines said what */
            fail(&c, KF_EXIT_ERR, "%s: %s", strcmp(c.calls_path, "-") ? c.calls_path : "(standard input)", err);
        }
        if (c.calls.skipped)
            kf_warn("%s: %zu of %zu records have no usable capture.conn (first: line %zu); skipped",
                    strcmp(c.calls_path, "-") ? c.calls_path : "standard input",
                    c.calls.skipped, c.calls.records, c.calls.first_skipped_line);
        kx_calls_index(&c.calls);
        c.use_calls = 1;
    }

    int need_meta = c.workloads.n || c.names || c.annotate;
    kf_source_opts so = { c.from, c.to, c.nodes.n ? c.nodes.v : NULL, c.nodes.n,
                          !need_meta || c.metas.n > 0 };
    lock_stores(&c);
    c.src = kf_source_open(c.inputs.v, c.inputs.n, &so, err, sizeof err);
    if (!c.src) fail(&c, KF_EXIT_ERR, "%s", err);
    if (need_meta) load_meta(&c);
    if (c.names && c.names_set && !c.meta)
        kf_warn("--names: no metadata (give a store or snapshot input, or --meta): no names written");
    build_endpoints(&c);

    /* the filter must fit at least one link type among those known now */
    if (c.bpf) {
        size_t n = kf_source_iface_count(c.src);
        for (size_t i = 0; i < n; i++) {
            const kf_src_iface *f = kf_source_iface(c.src, (uint32_t)i);
            if (f) kx_bpf_prepare(c.bpf, f->linktype);
        }
        if (n && kx_bpf_ok_count(c.bpf) == 0)
            fail(&c, KF_EXIT_ERR, "-f '%s': %s", c.bpf_expr, kx_bpf_first_error(c.bpf));
    }

    const char *outname = c.out_path ? c.out_path : "standard output";
    if (kf_atomic_open(&c.out, c.out_path ? c.out_path : "-", 0, err, sizeof err) != 0)
        fail(&c, KF_EXIT_IO, "%s: %s", outname, err);
    c.out_open = 1;
    static char obuf[1 << 20];
    setvbuf(c.out.f, obuf, _IOFBF, sizeof obuf);
    char *desc = single_node(&c);
    if (!desc) desc = describe_run(argc, argv);
    kx_out_opts oo = { c.format, c.snaplen, desc };
    c.w = kx_out_open(c.out.f, &oo, err, sizeof err);
    free(desc);
    if (!c.w) fail(&c, KF_EXIT_IO, "%s: %s", outname, err);
    if (kf_source_iface_count(c.src)) kx_out_default_iface(c.w, kf_source_iface(c.src, 0));
    if (c.keylog_path) write_keylog(&c);

    int decode = c.use_eps || c.use_calls || (c.names && c.meta) || (c.annotate && c.meta) ||
                 (c.annotate && c.use_calls);
    kf_src_pkt p;
    int rc;
    const char *wmsg;
    static char cbufs[KX_MAX_COMMENTS][2048];
    while ((rc = kf_source_next(c.src, &p)) == 1) {
        while ((wmsg = kf_source_warning(c.src))) kf_warn("%s", wmsg);
        if (c.dsb_done < kf_source_dsb_count(c.src)) copy_dsbs(&c);
        c.read++;
        /* A record longer than its interface's snaplen is cut to it, as libpcap (and so
         * tcpdump) does: nothing beyond snaplen was captured, whatever the record says. */
        if (p.iface && p.iface->snaplen && p.pkt.caplen > p.iface->snaplen)
            p.pkt.caplen = p.iface->snaplen;
        node_stats *st = c.stats ? stats_for(&c, p.node) : NULL;
        if (st) st->read++;
        if (c.bpf) {
            int m = kx_bpf_match(c.bpf, p.pkt.linktype, p.pkt.data, p.pkt.caplen, p.pkt.origlen);
            while ((wmsg = kx_bpf_warning(c.bpf))) kf_warn("%s", wmsg);
            if (!m) continue;
        }
        kf_l4 l4;
        int dec = -1;
        l4.ipver = 0;
        if (decode) {
            memset(&l4, 0, sizeof l4);
            dec = kf_decode(NULL, p.pkt.linktype, p.pkt.data, p.pkt.caplen, p.pkt.ts_ns, &l4);
            if (dec == KF_DEC_BAD || dec == KF_DEC_NOT_IP) l4.ipver = 0;
        }
        if (c.use_eps) {
            if (!l4.ipver) continue;
            if (!kx_endpoints_match(&c.eps, &l4.src, p.pkt.ts_ns) &&
                !kx_endpoints_match(&c.eps, &l4.dst, p.pkt.ts_ns)) continue;
        }
        kx_call *starts[KX_MAX_COMMENTS];
        size_t nstarts = 0;
        if (c.use_calls && !calls_match(&c, &p, &l4, dec, starts, &nstarts)) continue;
        c.matched++;
        if (st) st->matched++;
        const char *comments[KX_MAX_COMMENTS + 1];
        size_t ncomments = 0;
        if (c.annotate) {
            for (size_t k = 0; k < nstarts; k++)
                comments[ncomments++] = call_comment(&c, starts[k], p.pkt.ts_ns, cbufs[k], sizeof cbufs[k]);
            if (!nstarts && !c.use_calls && c.meta &&
                (comments[0] = conn_comment(&c, &l4, p.pkt.ts_ns, cbufs[0], sizeof cbufs[0])))
                ncomments = 1;
        }
        if (c.names && c.meta && l4.ipver) {
            name_addrs(&c, &l4, p.pkt.ts_ns);
            static char rbuf[1200];
            if (c.nreused && ncomments < KX_MAX_COMMENTS &&
                (comments[ncomments] = reuse_comment(&c, &l4, p.pkt.ts_ns, rbuf, sizeof rbuf)))
                ncomments++;
        }
        /* pcap and pcapng hold no time before 1970: that is the input's fault, not the output's */
        if (p.pkt.ts_ns < 0)
            fail(&c, KF_EXIT_ERR, "%s: frame %llu: time stamp before 1970, which pcap/pcapng cannot hold",
                 p.file, (unsigned long long)p.frame);
        int wr = kx_out_packet(c.w, &p, comments, ncomments, err, sizeof err);
        if (wr == -2) fail(&c, KF_EXIT_ERR, "%s", err);
        if (wr != 0) fail(&c, KF_EXIT_IO, "%s: %s", outname, err);
        c.written++;
        if (st) st->written++;
    }
    while ((wmsg = kf_source_warning(c.src))) kf_warn("%s", wmsg);
    if (rc < 0) fail(&c, KF_EXIT_ERR, "%s", kf_source_error(c.src));
    if (c.bpf) {
        while ((wmsg = kx_bpf_warning(c.bpf))) kf_warn("%s", wmsg);
        if (kx_bpf_ok_count(c.bpf) == 0 && kx_bpf_failed_count(c.bpf) > 0)
            fail(&c, KF_EXIT_ERR, "-f '%s': %s", c.bpf_expr, kx_bpf_first_error(c.bpf));
    }
    if (c.dsb_done < kf_source_dsb_count(c.src)) copy_dsbs(&c);

    size_t nif = kx_out_ifaces(c.w);
    kx_out *w = c.w;
    c.w = NULL;
    if (kx_out_close(w, err, sizeof err) != 0) fail(&c, KF_EXIT_IO, "%s: %s", outname, err);
    if (kf_atomic_commit(&c.out, err, sizeof err) != 0) {
        c.out_open = 0;
        fail(&c, KF_EXIT_IO, "%s: %s", outname, err);
    }
    c.out_open = 0;

    if (c.stats) {
        kf_warn("read %llu packets, matched %llu, wrote %llu (%s, %zu interface%s)",
                (unsigned long long)c.read, (unsigned long long)c.matched,
                (unsigned long long)c.written, c.format == KX_PCAP ? "pcap" : "pcapng", nif,
                nif == 1 ? "" : "s");
        for (size_t i = 0; i < c.nns; i++)
            kf_warn("node %s: read %llu, matched %llu, wrote %llu",
                    c.ns[i].node[0] ? c.ns[i].node : "(none)", (unsigned long long)c.ns[i].read,
                    (unsigned long long)c.ns[i].matched, (unsigned long long)c.ns[i].written);
    }
    for (size_t k = 0; k < c.nreused; k++) {
        char ab[64];
        kf_warn("%s had %zu holders in this export: a Name Resolution Block cannot change over time, so it "
                "names the IP '%s'; a packet comment names the holder wherever it changes",
                kf_addr_str(&c.reused[k].ip, ab, sizeof ab), c.reused[k].holders, c.reused[k].name);
    }
    int code = c.written ? KF_EXIT_OK : KF_EXIT_NONE;
    if (!c.read && (c.from != KF_T_MIN || c.to != KF_T_MAX)) report_empty_window(&c);
    if (c.use_calls && c.calls.n == 0) kf_warn("no usable call records: nothing selected");
    if (c.use_calls && c.calls.n) {
        size_t none = 0, line = 0;
        for (size_t i = 0; i < c.calls.n; i++)
            if (!c.calls.v[i].packets && (!none++ || c.calls.v[i].line < line)) line = c.calls.v[i].line;
        if (none)
            kf_warn("%zu of %zu calls selected no packet (first: line %zu): "
                    "are these the captures (and nodes) they came from?", none, c.calls.n, line);
    }
    cleanup(&c);
    return code;
}
