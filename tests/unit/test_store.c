/* kf_store: segment names, listing, locks. */
#include "t.h"
#include "kf_store.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void touch(const char *dir, const char *name, size_t size)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    for (size_t i = 0; i < size; i++) fputc('x', f);
    fclose(f);
}

int main(void)
{
    char buf[64];
    int64_t ns;
    int open;

    /* names */
    T_EQ_STR(kf_segname_format(1773509025123456789LL, buf, sizeof buf), "20260314T172345.123456789Z",
             "format a start time");
    T_EQ_STR(kf_segname_format(0, buf, sizeof buf), "19700101T000000.000000000Z", "format epoch");
    T_EQ_INT(kf_segname_parse("20260314T172345.123456789Z.pcapng", &ns, &open), 0, "parse closed");
    T_EQ_INT(ns, 1773509025123456789LL, "parsed start");
    T_EQ_INT(open, 0, "closed is not open");
    T_EQ_INT(kf_segname_parse("/x/y/20260314T172345.123456789Z.pcapng.part", &ns, &open), 0,
             "parse .part with a directory");
    T_EQ_INT(open, 1, ".part is open");
    T_EQ_INT(kf_segname_parse("20260314T172345.123456789Z.pcap", &ns, &open), -1, "wrong extension");
    T_EQ_INT(kf_segname_parse("20260314T172345.123456789Z.pcapng.tmp", &ns, &open), -1, "trailing junk");
    T_EQ_INT(kf_segname_parse("20260231T172345.123456789Z.pcapng", &ns, &open), -1, "Feb 31");
    T_EQ_INT(kf_segname_parse("2026031AT172345.123456789Z.pcapng", &ns, &open), -1, "non-digit");
    T_EQ_INT(kf_segname_parse("20260314T172345.12345678Z.pcapng", &ns, &open), -1, "short fraction");
    T_EQ_INT(kf_segname_parse("", &ns, &open), -1, "empty");
    for (int64_t t = 1700000000000000000LL; t < 1700000000000000000LL + 5 * 86400000000000LL;
         t += 86400000000000LL / 3 + 7) {
        kf_segname_format(t, buf, sizeof buf);
        strcat(buf, ".pcapng");
        int64_t back;
        if (kf_segname_parse(buf, &back, NULL) != 0 || back != t) { T_OK(0, "round trip %s", buf); break; }
    }
    T_OK(1, "round trips");

    /* a store */
    char dir[] = "/tmp/kf_store_testXXXXXX";
    T_OK(mkdtemp(dir) != NULL, "temp dir");
    T_EQ_INT(kf_store_is_store(dir), 0, "empty dir is not a store");
    char p[512];
    snprintf(p, sizeof p, "%s/nodeB", dir); mkdir(p, 0750);
    touch(p, "20260314T172400.000000000Z.pcapng.part", 10);
    touch(p, "20260314T172300.000000000Z.pcapng", 100);
    touch(p, "notes.txt", 3);
    snprintf(p, sizeof p, "%s/nodeA", dir); mkdir(p, 0750);
    touch(p, "20260314T170000.000000000Z.pcapng", 7);
    snprintf(p, sizeof p, "%s/empty", dir); mkdir(p, 0750);
    snprintf(p, sizeof p, "%s/meta", dir); mkdir(p, 0750);
    T_EQ_INT(kf_store_is_store(dir), 1, "now a store");

    char **nodes; size_t nn; char err[256];
    T_EQ_INT(kf_store_nodes(dir, &nodes, &nn, err, sizeof err), 0, "nodes");
    T_EQ_INT(nn, 2, "two nodes (meta and empty folders are not nodes)");
    if (nn == 2) { T_EQ_STR(nodes[0], "nodeA", "sorted 0"); T_EQ_STR(nodes[1], "nodeB", "sorted 1"); }
    kf_strv_free(nodes, nn);

    kf_segment *s; size_t n;
    T_EQ_INT(kf_store_segments(dir, NULL, &s, &n, err, sizeof err), 0, "all segments");
    T_EQ_INT(n, 3, "three segments");
    if (n == 3) {
        T_EQ_STR(s[0].node, "nodeA", "seg0 node");
        T_EQ_STR(s[1].node, "nodeB", "seg1 node");
        T_EQ_INT(s[1].start_ns, 1773508980000000000LL, "seg1 start");
        T_EQ_INT(s[1].end_ns, 1773509040000000000LL, "seg1 ends where seg2 starts");
        T_EQ_INT(s[1].size, 100, "seg1 size");
        T_EQ_INT(s[1].open, 0, "seg1 closed");
        T_EQ_INT(s[2].open, 1, "seg2 open");
        T_OK(s[2].end_ns >= s[2].start_ns, "last end from mtime");
        T_OK(s[0].end_ns >= s[0].start_ns, "nodeA last end from mtime");
    }
    kf_segments_free(s, n);
    T_EQ_INT(kf_store_segments(dir, "nodeB", &s, &n, err, sizeof err), 0, "one node");
    T_EQ_INT(n, 2, "nodeB has two");
    kf_segments_free(s, n);
    T_EQ_INT(kf_store_segments(dir, "nosuch", &s, &n, err, sizeof err), -1, "missing node fails");
    T_OK(strstr(err, "nosuch") != NULL, "error names the folder: %s", err);

    /* locks: shared + shared ok, shared blocks nonblocking exclusive */
    int a = kf_store_lock(dir, "nodeB", 0, 1);
    int b = kf_store_lock(dir, "nodeB", 0, 1);
    T_OK(a >= 0 && b >= 0, "two shared locks");
    int x = kf_store_lock(dir, "nodeB", 1, 1);
    T_OK(x < 0 && errno == EWOULDBLOCK, "exclusive refused while a reader holds it");
    kf_store_unlock(a); kf_store_unlock(b);
    x = kf_store_lock(dir, "nodeB", 1, 1);
    T_OK(x >= 0, "exclusive once readers are gone");
    kf_store_unlock(x);
    T_EQ_INT(kf_store_lock(dir, "nosuch", 0, 1), -1, "lock in a missing node fails");

    /* capture lock */
    T_EQ_INT(kf_store_capture_running(dir, "nodeB"), 0, "no capture yet");
    int c = kf_store_capture_lock(dir, "nodeB");
    T_OK(c >= 0, "capture lock");
    T_EQ_INT(kf_store_capture_running(dir, "nodeB"), 1, "capture seen running");
    pid_t pid = fork();
    if (pid == 0) _exit(kf_store_capture_lock(dir, "nodeB") >= 0 ? 1 : 0);
    int st; waitpid(pid, &st, 0);
    T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a second capture is refused");
    kf_store_unlock(c);
    T_EQ_INT(kf_store_capture_running(dir, "nodeB"), 0, "released");

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    T_EQ_INT(system(cmd), 0, "cleanup");
    T_DONE();
}
