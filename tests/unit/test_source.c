/* Unit tests for kf_source: merging by time, node names, global interface numbering, window and
 * node filters, cut-file warnings, errors, DSBs, progress, store DIRs and .ksnap snapshots. */
#include "t.h"
#include "kf_source.h"
#include "kf_snap.h"
#include "kf_store.h"

#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpd[256];

/* ---------- little-endian file builders ---------- */
typedef struct wb { uint8_t d[1 << 16]; size_t n; } wb;
static void w8(wb *b, uint8_t v) { b->d[b->n++] = v; }
static void w16(wb *b, uint16_t v) { w8(b, (uint8_t)v); w8(b, (uint8_t)(v >> 8)); }
static void w32(wb *b, uint32_t v) { w16(b, (uint16_t)v); w16(b, (uint16_t)(v >> 16)); }
static void wn(wb *b, const void *p, size_t n) { memcpy(b->d + b->n, p, n); b->n += n; }
static void wpad(wb *b) { while (b->n & 3) w8(b, 0); }
static size_t bstart(wb *b, uint32_t t) { size_t at = b->n; w32(b, t); w32(b, 0); return at; }
static void bend(wb *b, size_t at)
{
    uint32_t tot = (uint32_t)(b->n - at + 4);
    memcpy(b->d + at + 4, &tot, 4);
    w32(b, tot);
}
static void ng_shb(wb *b, const char *comment)
{
    size_t at = bstart(b, 0x0A0D0D0A);
    w32(b, 0x1A2B3C4D); w16(b, 1); w16(b, 0); w32(b, 0xffffffff); w32(b, 0xffffffff);
    if (comment) { w16(b, 1); w16(b, (uint16_t)strlen(comment)); wn(b, comment, strlen(comment)); wpad(b); w32(b, 0); }
    bend(b, at);
}
static void ng_idb(wb *b, const char *name)
{
    size_t at = bstart(b, 1);
    w16(b, 1); w16(b, 0); w32(b, 0);
    w16(b, 2); w16(b, (uint16_t)strlen(name)); wn(b, name, strlen(name)); wpad(b);
    w16(b, 9); w16(b, 1); w8(b, 9); wpad(b); w32(b, 0);
    bend(b, at);
}
/* an IDB whose first option is an opt_comment (ksnap's "kforensics-capture: ebpf") */
static void ng_idb_c(wb *b, const char *name, const char *comment)
{
    size_t at = bstart(b, 1);
    w16(b, 1); w16(b, 0); w32(b, 0);
    w16(b, 1); w16(b, (uint16_t)strlen(comment)); wn(b, comment, strlen(comment)); wpad(b);
    w16(b, 2); w16(b, (uint16_t)strlen(name)); wn(b, name, strlen(name)); wpad(b);
    w32(b, 0);
    bend(b, at);
}
static const uint8_t FRAME[14] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x06 };
static void ng_epb(wb *b, uint32_t ifid, int64_t ts_ns)
{
    size_t at = bstart(b, 6);
    w32(b, ifid); w32(b, (uint32_t)((uint64_t)ts_ns >> 32)); w32(b, (uint32_t)ts_ns);
    w32(b, 14); w32(b, 14); wn(b, FRAME, 14); wpad(b);
    bend(b, at);
}
static void ng_dsb(wb *b)
{
    size_t at = bstart(b, 0x0A);
    w32(b, 0x544c534b); w32(b, 4); wn(b, "KEY\n", 4);
    bend(b, at);
}
static void pcap_file(wb *b, const int64_t *ts, int n)
{
    w32(b, 0xa1b23c4d); w16(b, 2); w16(b, 4); w32(b, 0); w32(b, 0); w32(b, 65535); w32(b, 1);
    for (int i = 0; i < n; i++) {
        w32(b, (uint32_t)(ts[i] / 1000000000)); w32(b, (uint32_t)(ts[i] % 1000000000)); w32(b, 14); w32(b, 14);
        wn(b, FRAME, 14);
    }
}
static char *write_file(const char *name, const wb *b)
{
    static char paths[32][512];
    static int k;
    char *p = paths[k++ % 32];
    snprintf(p, 512, "%s/%s", tmpd, name);
    FILE *f = fopen(p, "wb");
    fwrite(b->d, 1, b->n, f);
    fclose(f);
    return p;
}

#define S(x) ((int64_t)(x) * 1000000000LL)

static int drain(kf_source *s, int64_t *ts, const char **nodes, uint32_t *ifs, int max)
{
    kf_src_pkt p;
    int n = 0, rc;
    while ((rc = kf_source_next(s, &p)) == 1) {
        if (n < max) { ts[n] = p.pkt.ts_ns; if (nodes) nodes[n] = p.node; if (ifs) ifs[n] = p.pkt.iface; }
        n++;
    }
    return rc < 0 ? -1 : n;
}

static void test_merge(void)
{
    wb *b = calloc(1, sizeof *b);
    int64_t ta[] = { S(1), S(4), S(6) };
    pcap_file(b, ta, 3);
    char *fa = strdup(write_file("alpha.pcap", b));
    b->n = 0;
    ng_shb(b, "kforensics-node: worker-9");
    ng_idb(b, "eth0"); ng_idb(b, "eth1");
    ng_epb(b, 0, S(2)); ng_epb(b, 1, S(3)); ng_dsb(b); ng_epb(b, 0, S(5));
    char *fb = strdup(write_file("beta.pcapng", b));
    const char *in[] = { fa, fb };
    char err[512];
    kf_source *s = kf_source_open(in, 2, NULL, err, sizeof err);
    T_OK(s != NULL, "open two files (%s)", s ? "" : err);
    int64_t ts[16]; const char *nodes[16]; uint32_t ifs[16];
    int n = drain(s, ts, nodes, ifs, 16);
    T_EQ_INT(n, 6, "six packets");
    int sorted = 1;
    for (int i = 1; i < n; i++) sorted &= ts[i - 1] <= ts[i];
    T_OK(sorted && ts[0] == S(1) && ts[5] == S(6), "merged in time order");
    T_EQ_STR(nodes[0], "alpha", "node from base name");
    T_EQ_STR(nodes[1], "worker-9", "node from SHB comment");
    T_EQ_INT(kf_source_iface_count(s), 3, "three global interfaces");
    T_OK(ifs[0] == 0 && ifs[1] == 1 && ifs[2] == 2 && ifs[4] == 1, "interfaces renumbered globally");
    const kf_src_iface *i2 = kf_source_iface(s, 2);
    T_OK(i2 && strcmp(i2->name, "eth1") == 0 && strcmp(i2->node, "worker-9") == 0 && i2->input == 1 &&
         strcmp(i2->file, fb) == 0, "interface name, node, input, file");
    T_EQ_STR(kf_source_iface(s, 0)->name, "pcap", "classic pcap interface");
    T_EQ_INT(kf_source_dsb_count(s), 1, "DSB collected");
    uint64_t done, total;
    kf_source_progress(s, &done, &total);
    T_OK(total > 0 && done == total, "progress at the end: %llu of %llu", (unsigned long long)done,
         (unsigned long long)total);
    T_OK(kf_source_warning(s) == NULL, "no warnings");
    T_OK(kf_source_meta(s) == NULL, "no metadata from plain files");
    T_EQ_INT(kf_source_one_iface(s), 0, "a pcap and a pcapng: not one interface");
    kf_source_close(s);
    /* one interface: one classic pcap only (kdissect's duplicate check is off then) */
    const char *one_a[] = { fa }, *one_b[] = { fb }, *two_a[] = { fa, fa };
    s = kf_source_open(one_a, 1, NULL, err, sizeof err);
    T_EQ_INT(s ? kf_source_one_iface(s) : -1, 1, "one classic pcap: one interface");
    kf_source_close(s);
    s = kf_source_open(one_b, 1, NULL, err, sizeof err);
    T_EQ_INT(s ? kf_source_one_iface(s) : -1, 0, "one pcapng: not one interface (it may name more)");
    kf_source_close(s);
    s = kf_source_open(two_a, 2, NULL, err, sizeof err);
    T_EQ_INT(s ? kf_source_one_iface(s) : -1, 0, "a classic pcap twice: two interfaces");
    kf_source_close(s);

    /* window and node filters */
    kf_source_opts o = { S(2), S(4), NULL, 0, 0 };
    s = kf_source_open(in, 2, &o, err, sizeof err);
    n = drain(s, ts, NULL, NULL, 16);
    T_OK(n == 3 && ts[0] == S(2) && ts[2] == S(4), "window [2,4] keeps 3 packets (got %d)", n);
    kf_source_close(s);
    const char *only[] = { "worker-9" };
    kf_source_opts o2 = { KF_T_MIN, KF_T_MAX, only, 1, 0 };
    s = kf_source_open(in, 2, &o2, err, sizeof err);
    n = drain(s, ts, nodes, NULL, 16);
    T_OK(n == 3 && strcmp(nodes[0], "worker-9") == 0, "node filter keeps worker-9 only (got %d)", n);
    kf_source_close(s);

    /* a cut file: its packets, then a warning */
    b->n = 0;
    pcap_file(b, ta, 3);
    b->n -= 5;
    char *fc = strdup(write_file("cut.pcap", b));
    const char *in2[] = { fc, fb };
    s = kf_source_open(in2, 2, NULL, err, sizeof err);
    n = drain(s, ts, NULL, NULL, 16);
    T_EQ_INT(n, 5, "cut file: packets before the cut kept");
    const char *w = kf_source_warning(s);
    T_OK(w && strstr(w, "cut.pcap: cut short at offset"), "cut warning names the file (%s)", w ? w : "none");
    T_OK(kf_source_warning(s) == NULL, "one warning");
    kf_source_close(s);

    /* a corrupt file: error naming file and offset */
    b->n = 0;
    pcap_file(b, ta, 3);
    memcpy(b->d + 24 + 30 + 8, "\xff\xff\xff\x00", 4);
    char *fd = strdup(write_file("bad.pcap", b));
    const char *in3[] = { fd };
    s = kf_source_open(in3, 1, NULL, err, sizeof err);
    n = drain(s, ts, NULL, NULL, 16);
    T_EQ_INT(n, -1, "corrupt file: error");
    T_OK(strstr(kf_source_error(s), "bad.pcap: offset 54:") != NULL, "error names file and offset (%s)", kf_source_error(s));
    kf_source_close(s);
    /* missing file, not a store */
    const char *in4[] = { "/nonexistent.pcap" };
    s = kf_source_open(in4, 1, NULL, err, sizeof err);
    T_OK(!s && strstr(err, "/nonexistent.pcap: No such file"), "missing input (%s)", err);
    const char *in5[] = { "/proc" };
    s = kf_source_open(in5, 1, NULL, err, sizeof err);
    T_OK(!s && strstr(err, "not a capture store"), "plain directory refused (%s)", err);
    /* a named pipe (e.g. <(zcat x.gz)) is read as a stream, its first bytes not lost to sniffing */
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/pipe", tmpd);
    mkfifo(fifo, 0600);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *w = fopen(fifo, "wb");
        FILE *rf = fopen(fb, "rb");
        int ch;
        while ((ch = fgetc(rf)) != EOF) fputc(ch, w);
        fclose(rf); fclose(w);
        _exit(0);
    }
    const char *in6[] = { fifo };
    s = kf_source_open(in6, 1, NULL, err, sizeof err);
    n = s ? drain(s, ts, nodes, NULL, 16) : -2;
    T_OK(n == 3 && strcmp(nodes[0], "worker-9") == 0, "named pipe input read whole (got %d, %s)", n, s ? "" : err);
    kf_source_close(s);
    waitpid(pid, NULL, 0);
    free(fa); free(fb); free(fc); free(fd);
    free(b);
}

static void seg(const char *dir, const char *node, int64_t start, const int64_t *ts, int n, const char *suffix)
{
    char p[512], name[64];
    snprintf(p, sizeof p, "%s/%s", dir, node);
    mkdir(p, 0750);
    kf_segname_format(start, name, sizeof name);
    snprintf(p, sizeof p, "%s/%s/%s%s", dir, node, name, suffix);
    wb *b = calloc(1, sizeof *b);
    char c[80];
    snprintf(c, sizeof c, "kforensics-node: %s", node);
    ng_shb(b, c); ng_idb(b, "eth0");
    for (int i = 0; i < n; i++) ng_epb(b, 0, ts[i]);
    FILE *f = fopen(p, "wb"); fwrite(b->d, 1, b->n, f); fclose(f);
    free(b);
}

/* How packets were captured: the IDB comment ksnap writes, per interface; unknown otherwise. */
static void test_capture(void)
{
    wb *b = calloc(1, sizeof *b);
    int64_t ta[] = { S(1) };
    pcap_file(b, ta, 1);
    char *fa = strdup(write_file("cap.pcap", b));
    b->n = 0;
    ng_shb(b, "kforensics-node: n1");
    ng_idb_c(b, "va", "kforensics-capture: ebpf");
    ng_idb_c(b, "tls", "kforensics-capture: ebpf_tls");
    ng_idb_c(b, "eth0", "kforensics-capture: af_packet");
    ng_idb_c(b, "eth1", "kforensics-capture: xdp");           /* a name we do not know */
    ng_idb_c(b, "eth2", "kforensics-capture: ebpf and more"); /* not exactly a name */
    ng_idb_c(b, "eth3", "captured on Tuesday");
    ng_idb(b, "eth4");
    for (uint32_t i = 0; i < 7; i++) ng_epb(b, i, S(2 + i));
    char *fb = strdup(write_file("cap.pcapng", b));
    const char *in[] = { fa, fb };
    char err[512];
    kf_source *s = kf_source_open(in, 2, NULL, err, sizeof err);
    T_OK(s != NULL, "capture: open (%s)", s ? "" : err);
    if (s) {
        kf_src_pkt p;
        int want[8] = { KF_CAP_UNKNOWN, KF_CAP_EBPF, KF_CAP_EBPF_TLS, KF_CAP_AF_PACKET, KF_CAP_UNKNOWN,
                        KF_CAP_UNKNOWN, KF_CAP_UNKNOWN, KF_CAP_UNKNOWN };
        int n = 0, ok = 1;
        while (kf_source_next(s, &p) == 1) {
            if (n >= 8 || !p.iface || p.iface->capture != want[n]) {
                printf("# packet %d: capture %d\n", n, p.iface ? p.iface->capture : -9);
                ok = 0;
            }
            n++;
        }
        T_OK(ok && n == 8, "capture: per interface from its IDB comment; unknown for pcap, no tag, an unknown name");
        kf_source_close(s);
    }
    T_EQ_STR(kf_capture_name(KF_CAP_EBPF), "ebpf", "capture name ebpf");
    T_EQ_STR(kf_capture_name(KF_CAP_EBPF_TLS), "ebpf_tls", "capture name ebpf_tls");
    T_EQ_STR(kf_capture_name(KF_CAP_AF_PACKET), "af_packet", "capture name af_packet");
    T_OK(kf_capture_name(KF_CAP_UNKNOWN) == NULL && kf_capture_name(3) == NULL, "no name for unknown");
    T_EQ_INT(kf_capture_parse(NULL), KF_CAP_UNKNOWN, "no comment: unknown");
    free(fa); free(fb); free(b);
}

static void test_store(void)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/store", tmpd);
    mkdir(dir, 0750);
    int64_t a1[] = { S(1000), S(1010) }, a2[] = { S(1060), S(1070) }, b1[] = { S(1005), S(1065) };
    seg(dir, "n1", S(1000), a1, 2, ".pcapng");
    seg(dir, "n1", S(1060), a2, 2, ".pcapng.part");
    seg(dir, "n2", S(1000), b1, 2, ".pcapng");
    /* the open .part is cut in its last block, as while a capture writes it */
    char name[64], pp[512];
    kf_segname_format(S(1060), name, sizeof name);
    snprintf(pp, sizeof pp, "%s/n1/%s.pcapng.part", dir, name);
    struct stat st;
    if (stat(pp, &st) != 0 || truncate(pp, st.st_size - 5) != 0) printf("# truncate failed\n");
    char mdir[320];
    snprintf(mdir, sizeof mdir, "%s/meta", dir);
    mkdir(mdir, 0750);
    const char *in[] = { dir };
    char err[512];
    kf_source *s = kf_source_open(in, 1, NULL, err, sizeof err);
    T_OK(s != NULL, "store opens (%s)", s ? "" : err);
    if (!s) return;
    int64_t ts[16]; const char *nodes[16];
    int n = drain(s, ts, nodes, NULL, 16);
    T_EQ_INT(n, 5, "store: all complete packets of both nodes");
    T_OK(ts[0] == S(1000) && ts[1] == S(1005) && ts[4] == S(1065), "store: merged by time");
    T_OK(kf_source_warning(s) == NULL, "store: a cut .part is no warning");
    T_OK(strcmp(nodes[0], "n1") == 0 && strcmp(nodes[1], "n2") == 0, "store: node from folder");
    T_EQ_INT(kf_source_iface_count(s), 3, "store: one interface per segment");
    T_OK(kf_source_meta(s) != NULL, "store: metadata model present");
    kf_source_close(s);
    /* window: only the second n1 segment and n2 */
    kf_source_opts o = { S(1060), S(1100), NULL, 0, 0 };
    s = kf_source_open(in, 1, &o, err, sizeof err);
    n = drain(s, ts, NULL, NULL, 16);
    T_OK(n == 2 && ts[0] == S(1060), "store window keeps 2 (got %d)", n);
    kf_source_close(s);
    const char *only[] = { "n2" };
    kf_source_opts o2 = { KF_T_MIN, KF_T_MAX, only, 1, 1 };
    s = kf_source_open(in, 1, &o2, err, sizeof err);
    n = drain(s, ts, nodes, NULL, 16);
    T_OK(n == 2 && strcmp(nodes[0], "n2") == 0 && kf_source_meta(s) == NULL, "store node filter, no_meta");
    kf_source_close(s);
}

static void test_snapshot(void)
{
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/x.ksnap", tmpd);
    kf_snapw *w = kf_snapw_open(path, 0, 0, err, sizeof err);
    T_OK(w != NULL, "snapshot writer (%s)", w ? "" : err);
    if (!w) return;
    wb *b = calloc(1, sizeof *b);
    kf_snapw_add(w, "manifest.json", "{}", 2, 0);
    char name[64], mem[128];
    int64_t t2[] = { S(2000), S(2002) }, t1[] = { S(2001), S(2003) }, t0[] = { S(1999) };
    /* n1's later segment first in the archive: the reader orders by segment start */
    ng_shb(b, NULL); ng_idb(b, "eth0"); for (int i = 0; i < 2; i++) ng_epb(b, 0, t2[i]);
    kf_segname_format(S(2000), name, sizeof name);
    snprintf(mem, sizeof mem, "nodes/n1/%s.pcapng", name);
    kf_snapw_add(w, mem, b->d, b->n, 0);
    b->n = 0; ng_shb(b, NULL); ng_idb(b, "eth0"); ng_epb(b, 0, t0[0]);
    kf_segname_format(S(1999), name, sizeof name);
    snprintf(mem, sizeof mem, "nodes/n1/%s.pcapng", name);
    kf_snapw_add(w, mem, b->d, b->n, 0);
    b->n = 0; ng_shb(b, NULL); ng_idb(b, "eth0"); for (int i = 0; i < 2; i++) ng_epb(b, 0, t1[i]);
    snprintf(mem, sizeof mem, "nodes/n2/%s.pcapng", name);
    kf_snapw_add(w, mem, b->d, b->n, 0);
    const char *ev = "{\"ts\":\"2026-03-14T17:00:00Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
                     "\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"u1\"},"
                     "\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"podIP\":\"10.0.0.5\"}}}\n";
    kf_snapw_add(w, "meta/events.ndjson", ev, strlen(ev), 0);
    err[0] = 0;
    T_OK(kf_snapw_commit(w, err, sizeof err) == 0, "snapshot written (%s)", err);
    const char *in[] = { path };
    kf_source *s = kf_source_open(in, 1, NULL, err, sizeof err);
    T_OK(s != NULL, "snapshot opens (%s)", s ? "" : err);
    if (!s) { free(b); return; }
    int64_t ts[16]; const char *nodes[16];
    kf_src_pkt p;
    int n = 0;
    const char *file0 = NULL;
    char f0[512] = "";
    while (kf_source_next(s, &p) == 1) {
        if (n < 16) { ts[n] = p.pkt.ts_ns; nodes[n] = p.node; }
        if (n == 0) { file0 = p.file; snprintf(f0, sizeof f0, "%s", file0); }
        n++;
    }
    T_EQ_INT(n, 5, "snapshot: all packets");
    int sorted = 1;
    for (int i = 1; i < n && i < 16; i++) sorted &= ts[i - 1] <= ts[i];
    T_OK(sorted && ts[0] == S(1999), "snapshot: time order across members");
    T_OK(strcmp(nodes[0], "n1") == 0 && strcmp(nodes[2], "n2") == 0, "snapshot: node from folder");
    T_OK(strstr(f0, "x.ksnap:nodes/n1/") != NULL, "snapshot: file display name (%s)", f0);
    kf_meta *m = kf_source_meta(s);
    T_OK(m && kf_meta_event_count(m) >= 1, "snapshot: metadata loaded");
    kf_source_close(s);
    /* members spilled to unlinked temporary files instead of memory: the same packets */
    setenv("KF_SPILL_MEM_MAX", "0", 1);
    s = kf_source_open(in, 1, NULL, err, sizeof err);
    int n2 = 0;
    int64_t last = INT64_MIN;
    int ord = 1;
    while (s && kf_source_next(s, &p) == 1) { ord &= p.pkt.ts_ns >= last; last = p.pkt.ts_ns; n2++; }
    T_OK(s && n2 == 5 && ord, "snapshot through temporary files: %d packets in order", n2);
    kf_source_close(s);
    unsetenv("KF_SPILL_MEM_MAX");
    /* node filter on a snapshot: n2 only */
    const char *only[] = { "n2" };
    kf_source_opts o = { KF_T_MIN, KF_T_MAX, only, 1, 0 };
    s = kf_source_open(in, 1, &o, err, sizeof err);
    n2 = 0;
    while (s && kf_source_next(s, &p) == 1) n2 += strcmp(p.node, "n2") == 0 ? 1 : 100;
    T_EQ_INT(n2, 2, "snapshot node filter");
    kf_source_close(s);
    free(b);
}

int main(void)
{
    snprintf(tmpd, sizeof tmpd, "/tmp/kf-test-source-XXXXXX");
    if (!mkdtemp(tmpd)) { printf("not ok 1 - mkdtemp\n"); return 1; }
    test_merge();
    test_capture();
    test_store();
    test_snapshot();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpd);
    if (system(cmd) != 0) printf("# cleanup failed\n");
    T_DONE();
}
