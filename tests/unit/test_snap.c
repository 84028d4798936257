/* Unit tests for snapshots: SHA-256 (FIPS vectors, one-shot and streaming), kf_snapw/kf_snap round trip,
 * the manifest, and refusal of unsafe members in crafted archives.
 * With "--make-store DIR" it instead writes a small synthetic capture store that the bats tests
 * freeze (two nodes, three 60 s segments each from 2026-03-14T17:00:00Z, one packet per second,
 * a .part cut in the middle of a block, a DSB, packet comments, and metadata events). */
#include "t.h"
#include "kf_meta.h"
#include "kf_pcapng.h"
#include "kf_sha256.h"
#include "kf_snap.h"
#include "kf_store.h"
#include "kf_time.h"
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static void hexs(const uint8_t d[32], char out[65]) { kf_sha256_hex(d, out); }

static void sha_of(const void *p, size_t n, char out[65])
{
    uint8_t d[32];
    T_EQ_INT(kf_sha256_buf(p, n, d), 0, "one-shot digest of %zu bytes", n);
    hexs(d, out);
}

static void test_sha(void)
{
    char h[65];
    sha_of("", 0, h);
    T_EQ_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256('')");
    sha_of("abc", 3, h);
    T_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256('abc')");
    const char *s448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_of(s448, strlen(s448), h);
    T_EQ_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "sha256(448 bits)");
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    kf_sha256 *c = kf_sha256_new();
    uint8_t d[32];
    T_OK(c != NULL, "streaming digest allocated");
    if (!c) { free(a); return; }
    kf_sha256_update(c, "stale", 5);
    kf_sha256_reset(c);   /* what was hashed before a reset does not count */
    for (size_t off = 0; off < 1000000; off += 777) kf_sha256_update(c, a + off, off + 777 > 1000000 ? 1000000 - off : 777);
    T_EQ_INT(kf_sha256_final(c, d), 0, "streaming final");
    hexs(d, h);
    T_EQ_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "sha256(million a) in odd pieces");
    kf_sha256_reset(c);
    kf_sha256_update(c, "ab", 2);
    kf_sha256_update(c, "c", 1);
    kf_sha256_final(c, d);
    hexs(d, h);
    T_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "reused after final and reset");
    kf_sha256_free(c);
    kf_sha256_free(NULL);
    free(a);
}

/* a crafted archive: one member of the given kind */
static int craft(const char *path, const char *name, int type, const char *link)
{
    struct archive *a = archive_write_new();
    archive_write_add_filter_zstd(a);
    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK) return -1;
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "manifest.json");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 2);
    archive_write_header(a, e);
    archive_write_data(a, "{}", 2);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, (mode_t)type);
    archive_entry_set_perm(e, 0644);
    if (type == AE_IFLNK) archive_entry_set_symlink(e, link);
    else if (link) archive_entry_set_hardlink(e, link);
    archive_entry_set_size(e, type == AE_IFREG && !link ? 1 : 0);
    archive_write_header(a, e);
    if (type == AE_IFREG && !link) archive_write_data(a, "x", 1);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    return 0;
}

static int refused(const char *path, const char *want)
{
    char err[256];
    kf_snap *s = kf_snap_open(path, err, sizeof err);
    if (!s) return 0;
    const char *n; int64_t sz; int r, got = 0;
    while ((r = kf_snap_next(s, &n, &sz)) == 1) ;
    if (r < 0 && strstr(kf_snap_error(s), want)) got = 1;
    if (r < 0) printf("# %s\n", kf_snap_error(s));
    kf_snap_close(s);
    return got;
}

static void test_unsafe(const char *tmp)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/dotdot.ksnap", tmp);
    craft(p, "nodes/../../x", AE_IFREG, NULL);
    T_OK(refused(p, "'nodes/../../x'"), "member with .. refused, named");
    snprintf(p, sizeof p, "%s/abs.ksnap", tmp);
    craft(p, "/etc/x", AE_IFREG, NULL);
    T_OK(refused(p, "'/etc/x'"), "absolute member refused, named");
    snprintf(p, sizeof p, "%s/sym.ksnap", tmp);
    craft(p, "nodes/a/link.pcapng", AE_IFLNK, "/etc/passwd");
    T_OK(refused(p, "links are not allowed"), "symlink refused");
    snprintf(p, sizeof p, "%s/hard.ksnap", tmp);
    craft(p, "nodes/a/hard.pcapng", AE_IFREG, "manifest.json");
    T_OK(refused(p, "links are not allowed"), "hard link refused");
    snprintf(p, sizeof p, "%s/fifo.ksnap", tmp);
    craft(p, "nodes/a/fifo", AE_IFIFO, NULL);
    T_OK(refused(p, "not a regular file"), "fifo refused");
    snprintf(p, sizeof p, "%s/dev.ksnap", tmp);
    craft(p, "nodes/a/dev", AE_IFCHR, NULL);
    T_OK(refused(p, "not a regular file"), "device refused");
}

static void test_roundtrip(const char *tmp)
{
    char p[1024], err[256] = "";
    snprintf(p, sizeof p, "%s/rt.ksnap", tmp);
    kf_snapw *w = kf_snapw_open(p, 0, 0, err, sizeof err);
    T_OK(w != NULL, "writer opens (%s)", w ? "" : err);
    if (!w) return;
    json_t *m = kf_manifest_new(0, KF_NS_PER_SEC, NULL, "ksnap test");
    uint8_t d[32];
    kf_sha256_buf("hello", 5, d);
    kf_manifest_add_node(m, "n1", 1, 2, 1, 5);
    kf_manifest_add_member(m, "nodes/n1/a.pcapng", "n1", 5, d);
    T_EQ_INT(kf_manifest_check(m, err, sizeof err), 0, "manifest checks");
    T_EQ_INT(json_array_size(json_object_get(json_object_get(json_object_get(m, "nodes"), "n1"), "segments")), 1, "segment listed under its node");
    char *mt = json_dumps(m, 0);
    json_decref(m);
    T_EQ_INT(kf_snapw_add(w, "manifest.json", mt, strlen(mt), 0), 0, "add manifest");
    T_EQ_INT(kf_snapw_add(w, "nodes/n1/a.pcapng", "hello", 5, 0), 0, "add member");
    T_OK(kf_snapw_add(w, "../bad", "x", 1, 0) != 0, "writer refuses a bad name");
    kf_snapw_abort(w);
    T_OK(access(p, F_OK) != 0, "aborted: nothing left");
    w = kf_snapw_open(p, 3, 0, err, sizeof err);
    kf_snapw_add(w, "manifest.json", mt, strlen(mt), 0);
    kf_snapw_add(w, "nodes/n1/a.pcapng", "hello", 5, 0);
    T_EQ_INT(kf_snapw_commit(w, err, sizeof err), 0, "commit (%s)", err);
    struct stat st;
    T_OK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0440, "archive is read-only 0440");
    T_EQ_INT(kf_snap_detect(p), 1, "detected");
    json_t *rm = kf_snap_read_manifest(p, err, sizeof err);
    T_OK(rm != NULL, "manifest read back (%s)", rm ? "" : err);
    json_decref(rm);
    kf_snap *s = kf_snap_open(p, err, sizeof err);
    const char *n; int64_t sz; uint8_t *b; size_t bl;
    T_EQ_INT(kf_snap_next(s, &n, &sz), 1, "first member");
    T_EQ_STR(n, "manifest.json", "manifest first");
    T_EQ_INT(kf_snap_next(s, &n, &sz), 1, "second member");
    T_EQ_INT(sz, 5, "its size");
    T_OK(kf_snap_read_all(s, &b, &bl) == 0 && bl == 5 && !memcmp(b, "hello", 5), "its content");
    free(b);
    T_EQ_INT(kf_snap_next(s, &n, &sz), 0, "end");
    kf_snap_close(s);
    /* the same from memory */
    FILE *f = fopen(p, "rb");
    uint8_t mem[65536];
    size_t ml = f ? fread(mem, 1, sizeof mem, f) : 0;
    if (f) fclose(f);
    s = kf_snap_open_mem(mem, ml, err, sizeof err);
    int k = 0;
    while (s && kf_snap_next(s, &n, &sz) == 1) k++;
    T_EQ_INT(k, 2, "two members read from memory");
    kf_snap_close(s);
    free(mt);
}

/* ---------- synthetic store ---------- */
static size_t frame(uint8_t *f, int src, int dst, uint16_t sport, uint16_t dport, const char *pl)
{
    size_t pn = strlen(pl), n = 0;
    static const uint8_t mac[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
    memcpy(f, mac, 12); f[12] = 0x08; f[13] = 0; n = 14;
    uint8_t *ip = f + n;
    memset(ip, 0, 20);
    ip[0] = 0x45; ip[2] = (uint8_t)((20 + 8 + pn) >> 8); ip[3] = (uint8_t)(20 + 8 + pn);
    ip[8] = 64; ip[9] = 17;
    ip[12] = 10; ip[13] = 0; ip[14] = 0; ip[15] = (uint8_t)src;
    ip[16] = 10; ip[17] = 0; ip[18] = 0; ip[19] = (uint8_t)dst;
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = (uint8_t)(~sum >> 8); ip[11] = (uint8_t)~sum;
    n += 20;
    uint8_t *u = f + n;
    u[0] = (uint8_t)(sport >> 8); u[1] = (uint8_t)sport; u[2] = (uint8_t)(dport >> 8); u[3] = (uint8_t)dport;
    u[4] = (uint8_t)((8 + pn) >> 8); u[5] = (uint8_t)(8 + pn); u[6] = u[7] = 0;
    n += 8;
    memcpy(f + n, pl, pn);
    return n + pn;
}

static int make_store(const char *dir)
{
    int64_t t0;
    kf_time_parse_rfc3339("2026-03-14T17:00:00Z", 20, &t0);
    mkdir(dir, 0750);
    const char *nodes[2] = { "worker-1", "worker-2" };
    for (int ni = 0; ni < 2; ni++) {
        char nd[1024];
        snprintf(nd, sizeof nd, "%s/%s", dir, nodes[ni]);
        mkdir(nd, 0750);
        for (int s = 0; s < 3; s++) {
            int64_t st = t0 + (int64_t)s * 60 * KF_NS_PER_SEC;
            char name[64], p[1200], comment[128];
            kf_segname_format(st, name, sizeof name);
            int part = ni == 0 && s == 2;
            snprintf(p, sizeof p, "%s/%s.pcapng%s", nd, name, part ? ".part" : "");
            FILE *f = fopen(p, "wb");
            if (!f) { perror(p); return 1; }
            snprintf(comment, sizeof comment, "kforensics-node: %s", nodes[ni]);
            kf_shb_opts so = { "test", "Linux", "kforensics ksnap 0.1.0", comment };
            kf_pcapng_w *w = kf_pcapng_open(f, &so);
            char desc[64];
            snprintf(desc, sizeof desc, "%s/eth0", nodes[ni]);
            kf_idb_opts io = { 1, 0, "eth0", desc, NULL, 9 };
            kf_pcapng_add_iface(w, &io);
            if (s == 1) kf_pcapng_write_dsb(w, 0x544c534b, "CLIENT_RANDOM 00 11\n", 20);
            for (int i = 0; i < 60; i++) {
                uint8_t fr[200];
                char pl[64];
                snprintf(pl, sizeof pl, "pkt %s %d %d", nodes[ni], s, i);
                int src = 5 + (i % 3);     /* 10.0.0.5, .6, .7 */
                size_t fl = frame(fr, src, 100 + ni, (uint16_t)(40000 + i), 53, pl);
                kf_epb e = { 0 };
                e.ts_ns = st + (int64_t)i * KF_NS_PER_SEC + 500000;
                e.caplen = e.origlen = (uint32_t)fl; e.data = fr;
                e.flags = 1; e.has_flags = 1;
                e.comment = i == 30 ? "a packet comment" : NULL;
                kf_pcapng_write_epb(w, &e);
            }
            if (!part) kf_pcapng_write_isb(w, 0, st + 60 * KF_NS_PER_SEC, st, 60, 0, UINT64_MAX, UINT64_MAX);
            kf_pcapng_close(w);
            if (part) {   /* cut in the middle of the last block, as a killed capture leaves it */
                long len = ftell(f);
                fflush(f);
                if (ftruncate(fileno(f), len - 10) != 0) { perror("ftruncate"); return 1; }
            }
            fclose(f);
        }
    }
    char md[1024], mp[1200];
    snprintf(md, sizeof md, "%s/meta", dir);
    mkdir(md, 0750);
    snprintf(mp, sizeof mp, "%s/20260314T165000.000000000Z.ndjson", md);
    FILE *f = fopen(mp, "w");
    if (!f) { perror(mp); return 1; }
    fputs("{\"ts\":\"2026-03-14T16:50:00Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"orders-1\",\"namespace\":\"shop\",\"uid\":\"ua\",\"creationTimestamp\":\"2026-03-14T16:50:00Z\"},\"spec\":{\"nodeName\":\"worker-1\"},\"status\":{\"podIP\":\"10.0.0.5\",\"phase\":\"Running\"}}}\n"
          "{\"ts\":\"2026-03-14T17:01:00Z\",\"type\":\"DELETED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"orders-1\",\"namespace\":\"shop\",\"uid\":\"ua\",\"creationTimestamp\":\"2026-03-14T16:50:00Z\"},\"spec\":{\"nodeName\":\"worker-1\"},\"status\":{\"podIP\":\"10.0.0.5\",\"phase\":\"Running\"}}}\n"
          "{\"ts\":\"2026-03-14T17:02:00Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"payment-1\",\"namespace\":\"pay\",\"uid\":\"ub\",\"creationTimestamp\":\"2026-03-14T17:02:00Z\"},\"spec\":{\"nodeName\":\"worker-2\"},\"status\":{\"podIP\":\"10.0.0.5\",\"phase\":\"Running\"}}}\n"
          "{\"ts\":\"2026-03-14T16:00:00Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"name\":\"worker-1\",\"uid\":\"n1\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.100\"}]}}}\n"
          "{\"ts\":\"2026-03-14T16:00:00Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"name\":\"worker-2\",\"uid\":\"n2\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.101\"}]}}}\n", f);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--make-store")) return make_store(argv[2]);
    char tmp[] = "/tmp/test_snap.XXXXXX";
    if (!mkdtemp(tmp)) { perror("mkdtemp"); return 1; }
    test_sha();
    test_unsafe(tmp);
    test_roundtrip(tmp);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmp);
    T_DONE();
}
