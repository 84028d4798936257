/* lib/kf_keylog: NSS key log lines in, secrets out by label and client random. */
#include <stdio.h>
#include <unistd.h>
#include "t.h"
#include "kf_keylog.h"

static const char *CR1 = "0102030405060708091011121314151617181920212223242526272829303132";

int main(void)
{
    kf_keylog *k = kf_keylog_new();
    T_OK(k != NULL, "new");
    char text[2048];
    snprintf(text, sizeof text,
             "# comment line\n"
             "CLIENT_RANDOM %s aa%092xbb\r\n"
             "CLIENT_HANDSHAKE_TRAFFIC_SECRET %s 11%060xff\n"
             "SERVER_TRAFFIC_SECRET_0 %s 22%092xee\n"
             "EXPORTER_SECRET %s 33%060xff\n"
             "CLIENT_TRAFFIC_SECRET_0 %s nothex\n"
             "\n",
             CR1, 0, CR1, 0, CR1, 0, CR1, 0, CR1);
    size_t bad = 0;
    size_t added = kf_keylog_add_text(k, text, strlen(text), &bad);
    T_EQ_INT(added, 3, "three secrets with known labels added (comment, exporter secret skipped)");
    T_EQ_INT(bad, 1, "the line with a known label and a broken secret counted as bad");
    T_EQ_INT(kf_keylog_count(k), 3, "count");
    uint8_t cr[32], out[64];
    for (int i = 0; i < 32; i++) sscanf(CR1 + 2 * i, "%2hhx", &cr[i]);
    T_EQ_INT(kf_keylog_get(k, KF_KL_CLIENT_RANDOM, cr, out), 48, "TLS 1.2 master secret: 48 bytes");
    T_OK(out[0] == 0xaa && out[47] == 0xbb, "master secret bytes (CRLF line)");
    T_EQ_INT(kf_keylog_get(k, KF_KL_CLIENT_HS, cr, out), 32, "TLS 1.3 SHA-256 secret: 32 bytes");
    T_OK(out[0] == 0x11 && out[31] == 0xff, "handshake secret bytes");
    T_EQ_INT(kf_keylog_get(k, KF_KL_SERVER_AP0, cr, out), 48, "TLS 1.3 SHA-384 secret: 48 bytes");
    T_EQ_INT(kf_keylog_get(k, KF_KL_CLIENT_AP0, cr, out), 0, "the broken line gave nothing");
    cr[0] ^= 1;
    T_EQ_INT(kf_keylog_get(k, KF_KL_CLIENT_RANDOM, cr, out), 0, "another client random: nothing");
    T_EQ_INT(kf_keylog_add_text(k, text, strlen(text), NULL), 0, "the same lines again add nothing");
    /* many entries: the table grows */
    char line[256];
    for (int i = 0; i < 1000; i++) {
        snprintf(line, sizeof line, "CLIENT_RANDOM %064x %096x\n", i, i + 7);
        kf_keylog_add_text(k, line, strlen(line), NULL);
    }
    T_EQ_INT(kf_keylog_count(k), 1003, "1000 more");
    memset(cr, 0, 32); cr[30] = 0x03; cr[31] = 0xe7;   /* 999 */
    T_EQ_INT(kf_keylog_get(k, KF_KL_CLIENT_RANDOM, cr, out), 48, "entry 999 found after growing");
    T_OK(out[46] == 0x03 && out[47] == 0xee, "its secret (999 + 7 = 0x3ee)");
    /* truncated lines and odd lengths never read past the text */
    const char *cut = "CLIENT_RANDOM 0102";
    T_EQ_INT(kf_keylog_add_text(k, cut, strlen(cut), &bad), 0, "cut line");
    T_EQ_INT(bad, 1, "cut line is bad");
    /* files */
    char path[] = "/tmp/kf_keylog_XXXXXX";
    int fd = mkstemp(path);
    T_OK(fd >= 0, "temp file");
    snprintf(line, sizeof line, "SERVER_HANDSHAKE_TRAFFIC_SECRET %064x %064x\n", 5, 9);
    T_OK(write(fd, line, strlen(line)) == (ssize_t)strlen(line), "write");
    close(fd);
    char err[128];
    T_EQ_INT(kf_keylog_load_file(k, path, err, sizeof err), 0, "load file");
    memset(cr, 0, 32); cr[31] = 5;
    T_EQ_INT(kf_keylog_get(k, KF_KL_SERVER_HS, cr, out), 32, "its secret");
    unlink(path);
    T_EQ_INT(kf_keylog_load_file(k, path, err, sizeof err), -1, "a missing file fails");
    T_OK(strstr(err, "No such file") != NULL, "with the reason: %s", err);
    kf_keylog_free(k);
    T_DONE();
}
