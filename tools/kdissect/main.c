/* kdissect — captures in, one NDJSON record per API call and per L4 connection out.
 * See man/kdissect.1 and docs/schema.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <unistd.h>
#include <time.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include "kf_tool.h"
#include "kf_calls.h"
#include "kf_source.h"
#include "kf_meta.h"
#include "kf_snap.h"
#include "kf_time.h"
#include "kf_keylog.h"
#include "engine.h"
#include "parallel.h"

static void usage(FILE *f)
{
    fprintf(f,
"Usage: kdissect [OPTIONS] INPUT...\n"
"Turns captures into NDJSON records (docs/schema.md): one per API call (request and\n"
"response matched) and one per L4 connection and flow, with Kubernetes context.\n"
"INPUT: pcap, pcapng, gzip of either, .ksnap snapshot, store DIR, or - (stdin).\n"
"Several inputs are merged in time order.\n"
"\n"
"  --meta SOURCE       Kubernetes metadata (events NDJSON, kubectl JSON, store DIR, .ksnap);\n"
"                      default: the metadata inside snapshots/stores among the inputs\n"
"  -p, --protocols L   only these dissectors (comma list, e.g. http1,dns); 'list' lists\n"
"                      them (with --json: name, protocol, flag, transports, ports, about)\n"
"      --body-limit N  keep at most N bytes of each decoded body (default 4096)\n"
"      --no-conn       no conn/flow records\n"
"      --stats         counters on stderr at the end\n"
"      --json          NDJSON even on a terminal (there the default is a compact call\n"
"                      table: time, protocol, source -> destination, request, status,\n"
"                      latency; to a pipe or file always NDJSON)\n"
"      --progress      progress bar on stderr (when it is a terminal)\n"
"      --max-memory N  memory budget for flows, buffers and ordering (default 96M)\n"
"      --tls-keylog F  decrypt TLS with the secrets of this NSS key log (SSLKEYLOGFILE);\n"
"                      the inputs' Decryption Secrets Blocks are used too\n"
"  -j, --jobs N        worker threads (flows sharded across them; 0 = all cores)\n"
"  -h, --help          this help\n"
"      --version       version\n");
}

typedef struct outbuf { char *buf; size_t len, cap; int failed, werr; } outbuf;

static int out_write(void *arg, const char *p, size_t n)
{
    outbuf *o = arg;
    if (o->failed) return -1;
    if (o->len + n > o->cap) {
        if (o->len && fwrite(o->buf, 1, o->len, stdout) != o->len) { o->failed = 1; return -1; }
        o->len = 0;
        if (n > o->cap) {
            if (fwrite(p, 1, n, stdout) != n) { o->failed = 1; return -1; }
            return 0;
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return 0;
}
static int out_flush(outbuf *o)
{
    if (!o->failed && o->len && fwrite(o->buf, 1, o->len, stdout) != o->len) o->failed = 1;
    o->len = 0;
    return o->failed ? -1 : 0;
}

/* The engine's records (-j 1: id and record, engine_order.c; -j: the merge's pieces) go
 * straight to standard output, from where they are kept */
static int out_writev(void *arg, struct iovec *iov, int n)
{
    outbuf *o = arg;
    if (o->failed) return -1;
    if (out_flush(o) != 0 || fflush(stdout) != 0) { o->failed = 1; o->werr = errno; return -1; }
    while (n > 0) {
        ssize_t w = writev(STDOUT_FILENO, iov, n < IOV_MAX ? n : IOV_MAX);
        if (w < 0) {
            if (errno == EINTR) continue;
            o->failed = 1; o->werr = errno;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) { w -= (ssize_t)iov->iov_len; iov++; n--; }
        if (n > 0) { iov->iov_base = (char *)iov->iov_base + w; iov->iov_len -= (size_t)w; }
    }
    return 0;
}

static void progress(kf_source *s, int final)
{
    uint64_t done = 0, total = 0;
    kf_source_progress(s, &done, &total);
    if (final) { fputs("\r\033[K", stderr); return; }
    if (total) {
        int pct = (int)(done * 100 / total), w = 40, k = pct * w / 100;
        fprintf(stderr, "\r[%.*s%*s] %3d%% %" PRIu64 "/%" PRIu64 " MB", k,
                "########################################", w - k, "", pct, done >> 20, total >> 20);
    } else fprintf(stderr, "\r%" PRIu64 " MB read", done >> 20);
}

static void print_stats(const kd_engine_stats *s, const kd_dissector *const *dis, size_t ndis)
{
        fprintf(stderr, "packets %" PRIu64 "\nbytes %" PRIu64 "\nduplicates %" PRIu64 "\nnon_ip %" PRIu64
                "\ndecode_errors %" PRIu64 "\nfragments_held %" PRIu64 "\ntcp_conns %" PRIu64 "\nudp_conns %" PRIu64
                "\nother_conns %" PRIu64 "\nflows %" PRIu64 "\ngaps %" PRIu64 "\ngap_bytes %" PRIu64
                "\nbuffer_overflows %" PRIu64 "\nooo_dropped_bytes %" PRIu64 "\nevicted_conns %" PRIu64
                "\nrecords %" PRIu64 "\nconn_records %" PRIu64 "\nflow_records %" PRIu64 "\nreorder_forced %" PRIu64 "\nspilled_runs %" PRIu64 "\nmerged_runs %" PRIu64
                "\ntruncated_bodies %" PRIu64 "\nparse_errors %" PRIu64 "\nresyncs %" PRIu64 "\nunanswered %" PRIu64
                "\ntls_decrypted %" PRIu64 "\ntls_undecrypted %" PRIu64 "\npeak_memory %" PRIu64 "\n",
                s->packets, s->bytes, s->duplicates, s->non_ip, s->decode_errors, s->held_fragments,
                s->tcp_conns, s->udp_conns, s->other_conns, s->flows, s->gaps, s->gap_bytes,
                s->buffer_overflows, s->ooo_dropped_bytes, s->evicted_conns, s->records, s->conn_records,
                s->flow_records, s->reorder_forced, s->spilled_runs, s->merged_runs, s->dstat[KD_STAT_TRUNCATED_BODIES],
                s->dstat[KD_STAT_PARSE_ERRORS], s->dstat[KD_STAT_RESYNCS], s->dstat[KD_STAT_UNANSWERED],
                s->dstat[KD_STAT_TLS_DECRYPTED], s->dstat[KD_STAT_TLS_UNDECRYPTED], s->peak_memory);
        for (size_t i = 0; i < ndis && i < 31; i++)
            if (s->records_by_proto[i]) fprintf(stderr, "records_%s %" PRIu64 "\n", dis[i]->name, s->records_by_proto[i]);
    }

/* -p list --json: the dissector table, one object per dissector in probing order (what
 * scripts/fields docs generates the dissector lists of the docs and the man page from). */
static int list_json(const kd_dissector *const *dis, size_t n)
{
    kf_jw w;
    kf_jw_init(&w);
    for (size_t i = 0; i < n; i++) {
        const kd_dissector *d = dis[i];
        kf_jw_obj_begin(&w);
        kf_jw_kstr(&w, "name", d->name);
        kf_jw_kstr(&w, "protocol", d->protocol);
        kf_jw_kstr(&w, "flag", d->flag);
        kf_jw_key(&w, "transports");
        kf_jw_arr_begin(&w);
        if (d->transports & KD_TRANSPORT_TCP) kf_jw_str(&w, "tcp");
        if (d->transports & KD_TRANSPORT_UDP) kf_jw_str(&w, "udp");
        if (d->transports & KD_TRANSPORT_OTHER) kf_jw_str(&w, "ip");
        kf_jw_arr_end(&w);
        kf_jw_key(&w, "ports");
        kf_jw_arr_begin(&w);
        for (const uint16_t *p = d->ports; p && *p; p++) kf_jw_uint(&w, *p);
        kf_jw_arr_end(&w);
        kf_jw_kbool(&w, "upgrade_only", d->upgrade_only);
        kf_jw_kbool(&w, "calls", d->calls);
        kf_jw_kstr(&w, "about", kd_dissector_about(d));
        kf_jw_obj_end(&w);
        kf_jw_newline(&w);
    }
    fwrite(kf_jw_data(&w), 1, kf_jw_len(&w), stdout);
    int failed = kf_jw_failed(&w);
    kf_jw_free(&w);
    if (failed) kf_die(KF_EXIT_IO, "out of memory");
    return kf_finish_stdout(KF_EXIT_OK);
}

int main(int argc, char **argv)
{
    kf_set_prog(argv[0]);
    kd_engine_opts o;
    kd_engine_opts_default(&o);
    const char *meta_src = NULL, *protos = NULL;
    int stats = 0, prog = 0, jobs = 1;
    enum { O_META = 256, O_BODY, O_NOCONN, O_STATS, O_PROGRESS, O_MAXMEM, O_VERSION, O_JSON, O_KEYLOG };
    int json = 0;
    const char *keylog = NULL;
    static const struct option lo[] = {
        { "meta", required_argument, 0, O_META }, { "protocols", required_argument, 0, 'p' },
        { "body-limit", required_argument, 0, O_BODY }, { "no-conn", no_argument, 0, O_NOCONN },
        { "stats", no_argument, 0, O_STATS }, { "progress", no_argument, 0, O_PROGRESS },
        { "max-memory", required_argument, 0, O_MAXMEM }, { "jobs", required_argument, 0, 'j' },
        { "tls-keylog", required_argument, 0, O_KEYLOG },
        { "help", no_argument, 0, 'h' }, { "version", no_argument, 0, O_VERSION },
        { "json", no_argument, 0, O_JSON }, { 0, 0, 0, 0 },
    };
    int ch;
    uint64_t v;
    while ((ch = kf_getopt(argc, argv, "p:j:h", lo)) != -1) {
        switch (ch) {
        case O_META: meta_src = optarg; break;
        case 'p': protos = optarg; break;
        case O_BODY:
            if (kf_size_parse(optarg, &v) != 0 || v > (1ULL << 30)) kf_usage_die("--body-limit: not a size: %s", optarg);
            o.d.body_limit = (size_t)v; break;
        case O_NOCONN: o.no_conn = 1; break;
        case O_STATS: stats = 1; break;
        case O_JSON: json = 1; break;
        case O_KEYLOG: keylog = optarg; break;
        case O_PROGRESS: prog = 1; break;
        case O_MAXMEM:
            if (kf_size_parse(optarg, &v) != 0 || v < (4ULL << 20)) kf_usage_die("--max-memory: need a size of at least 4M: %s", optarg);
            o.max_memory = v; break;
        case 'j': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || end == optarg || n < 0 || n > 64) kf_usage_die("-j: not a thread count (0 = all cores, up to 64): %s", optarg);
            if (n == 0) { n = sysconf(_SC_NPROCESSORS_ONLN); n = n < 1 ? 1 : n > 64 ? 64 : n; }
            jobs = (int)n; break;
        }
        case 'h': usage(stdout); return kf_finish_stdout(KF_EXIT_OK);
        case O_VERSION: printf("kdissect %s\n", KF_VERSION); return kf_finish_stdout(KF_EXIT_OK);
        default: kf_usage_die("unknown option");
        }
    }
    size_t ndis;
    const kd_dissector *const *dis = kd_dissectors(&ndis);
    if (protos) {
        if (strcmp(protos, "list") == 0) {
            if (json) return list_json(dis, ndis);
            for (size_t i = 0; i < ndis; i++) printf("%s\t%s\n", dis[i]->name, dis[i]->protocol);
            return kf_finish_stdout(KF_EXIT_OK);
        }
        o.enabled = 0;
        char *copy = strdup(protos), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            size_t i;
            const char *want = strcasecmp(t, "http") == 0 ? "http1" : t;
            for (i = 0; i < ndis; i++)
                if (strcasecmp(dis[i]->name, want) == 0 || strcasecmp(dis[i]->protocol, want) == 0) break;
            if (i == ndis) {
                char bad[64];
                snprintf(bad, sizeof bad, "%s", t);
                free(copy);
                kf_usage_die("-p: unknown protocol: %s (kdissect -p list)", bad);
            }
            o.enabled |= 1ULL << i;
        }
        free(copy);
    }
    if (optind >= argc) kf_usage_die("no INPUT given");
    if (!json) kf_calls_tty_begin();     /* a terminal: a call table, not 2 KB JSON lines */
    const char *const *inputs = (const char *const *)argv + optind;
    size_t ninputs = (size_t)(argc - optind);

    /* stable ids: the first input's name and size */
    char seed[512];
    struct stat sb;
    const char *base = strrchr(inputs[0], '/');
    base = base && base[1] ? base + 1 : inputs[0];
    snprintf(seed, sizeof seed, "%s:%lld", base, stat(inputs[0], &sb) == 0 && S_ISREG(sb.st_mode) ? (long long)sb.st_size : 0LL);
    o.id_seed = seed;

    char err[512];
    /* TLS secrets: --tls-keylog's, and those of the inputs' DSBs as they are read */
    kf_keylog *keys = kf_keylog_new();
    if (!keys) kf_die(KF_EXIT_ERR, "out of memory");
    if (keylog && kf_keylog_load_file(keys, keylog, err, sizeof err) != 0) kf_die(KF_EXIT_ERR, "%s: %s", keylog, err);
    o.d.tls_keys = keys;
    kf_source_opts so = { .from_ns = KF_T_MIN, .to_ns = KF_T_MAX };
    so.no_meta = meta_src != NULL;
    kf_source *src = kf_source_open(inputs, ninputs, &so, err, sizeof err);
    if (!src) kf_die(KF_EXIT_ERR, "%s", err);
    kf_meta *own = NULL;
    kf_source *meta_snap = NULL;    /* --meta X.ksnap: the snapshot's metadata, as kexport's */
    struct stat ms;
    if (meta_src && stat(meta_src, &ms) == 0 && S_ISREG(ms.st_mode) && kf_snap_detect(meta_src) == 1) {
        kf_source_opts mo = { KF_T_MIN, KF_T_MAX, NULL, 0, 0 };
        const char *one[1] = { meta_src };
        if (!(meta_snap = kf_source_open(one, 1, &mo, err, sizeof err))) kf_die(KF_EXIT_ERR, "%s", err);
        if (!(o.meta = kf_source_meta(meta_snap))) kf_die(KF_EXIT_ERR, "%s: no metadata in this snapshot", meta_src);
    } else if (meta_src) {
        own = kf_meta_new();
        if (!own) kf_die(KF_EXIT_ERR, "out of memory");
        int rc = stat(meta_src, &ms) == 0 && S_ISDIR(ms.st_mode)
                 ? kf_meta_load_store(own, meta_src, err, sizeof err)
                 : kf_meta_load_file(own, meta_src, KF_T_MIN, err, sizeof err);
        if (rc != 0 && kf_meta_err_fatal(err)) kf_die(KF_EXIT_ERR, "%s: %s", meta_src, err);
        /* a bad line among good ones is skipped; a file with no event at all is not metadata */
        if (rc != 0 && kf_meta_event_count(own) == 0) kf_die(KF_EXIT_ERR, "%s: not metadata: %s", meta_src, err);
        if (rc != 0) kf_warn("%s: %s (skipped; the rest is kept)", meta_src, err);
        kf_meta_finish(own);
        o.meta = own;
    } else {
        o.meta = kf_source_meta(src);
    }
    /* one classic pcap has one interface: no packet can be another interface's copy of one, and
     * the check's hash and table writes, every packet, were 4 % of kdissect's time on
     * bench/data/api-one.pcap */
    if (kf_source_one_iface(src)) o.dup_window_ns = 0;
    outbuf ob = { malloc(1 << 20), 0, 1 << 20, 0 };
    if (!ob.buf) kf_die(KF_EXIT_ERR, "out of memory");
    kd_engine *e = kd_engine_new(&o, out_write, &ob);
    if (!e) kf_die(KF_EXIT_ERR, "out of memory");
    kd_engine_set_outv(e, out_writev);   /* records writev'd from where the engine keeps them */
    kd_engine_stats pstats;
    int parallel = jobs > 1;
    if (parallel) {
        kd_engine_free(e);
        e = NULL;
        int prc = kd_run_parallel(src, inputs, ninputs, &o, jobs, out_writev, &ob, &pstats, err, sizeof err);
        int st2 = KF_EXIT_OK;
        if (prc == -2) { kf_err("%s", err); st2 = KF_EXIT_ERR; }
        else if (prc == -3) { kf_err("%s", err); st2 = KF_EXIT_IO; }   /* a shard's temp file */
        else if (prc != 0) { if (!ob.failed) kf_err("%s", err); st2 = ob.failed ? KF_EXIT_IO : KF_EXIT_ERR; }   /* a failed write: as -j 1 */
        if (ob.werr && ob.werr != EPIPE) kf_err("standard output: %s", strerror(ob.werr));
        const char *w2;
        while ((w2 = kf_source_warning(src))) kf_warn("%s", w2);
        if (out_flush(&ob) != 0) st2 = KF_EXIT_IO;
        if (stats) print_stats(&pstats, dis, ndis);
        kf_source_close(src);
        kf_source_close(meta_snap);
        if (own) kf_meta_free(own);
        kf_keylog_free(keys);
        free(ob.buf);
        return kf_finish_stdout(st2);
    }
    int show = prog && isatty(2);
    kf_src_pkt p;
    int rc, status = KF_EXIT_OK;
    uint64_t n = 0;
    time_t last = 0;
    size_t dsbs = 0, nrbs = 0;
    while ((rc = kf_source_next(src, &p)) == 1) {
        kd_source_dsbs(keys, src, &dsbs);
        kd_source_workloads(src, &nrbs, &p, kd_workload_learn, e);   /* a kexport export's names */
        kd_engine_packet(e, p.pkt.ts_ns, p.pkt.linktype, p.pkt.data, p.pkt.caplen, p.pkt.origlen,
                         p.pkt.iface, p.file, p.node, p.iface ? p.iface->capture : KF_CAP_UNKNOWN, p.frame);
        if (show && (++n & 4095) == 0) {
            time_t t = time(NULL);
            if (t != last) { last = t; progress(src, 0); }
        }
        if (ob.failed) break;
        const char *w;
        while ((w = kf_source_warning(src))) kf_warn("%s", w);
    }
    if (rc < 0) { kf_err("%s", kf_source_error(src)); status = KF_EXIT_ERR; }
    const char *w;
    while ((w = kf_source_warning(src))) kf_warn("%s", w);
    if (kd_engine_finish(e) != 0 || out_flush(&ob) != 0) status = KF_EXIT_IO;
    if (ob.werr && ob.werr != EPIPE) kf_err("standard output: %s", strerror(ob.werr));   /* writev's (stdio's: kf_finish_stdout) */
    if (kd_engine_spill_error(e)) kf_err("temporary file for waiting records ($TMPDIR): %s", strerror(kd_engine_spill_error(e)));
    if (show) progress(src, 1);
    if (stats) print_stats(kd_engine_get_stats(e), dis, ndis);
    kd_engine_free(e);
    kf_source_close(src);
    kf_source_close(meta_snap);
    if (own) kf_meta_free(own);
    kf_keylog_free(keys);
    free(ob.buf);
    return kf_finish_stdout(status);
}
