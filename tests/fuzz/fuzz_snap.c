/* Fuzz target: reading a .ksnap from untrusted bytes — libarchive's tar/zstd reading under our
 * member checks (kf_snap_next refusing unsafe members), member reads, and the manifest check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "kf_snap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    kf_snap *s = kf_snap_open_mem(data, size, err, sizeof err);
    if (!s) return 0;
    const char *name;
    int64_t sz;
    int n = 0;
    while (n++ < 64 && kf_snap_next(s, &name, &sz) == 1) {
        if (!strcmp(name, "manifest.json")) {
            uint8_t *b; size_t l;
            if (kf_snap_read_all(s, &b, &l) != 0) break;
            json_t *m = json_loadb((const char *)b, l, 0, NULL);
            if (m) { kf_manifest_check(m, err, sizeof err); json_decref(m); }
            free(b);
        } else {
            uint8_t buf[4096];
            ssize_t r;
            while ((r = kf_snap_read(s, buf, sizeof buf)) > 0) ;
            if (r < 0) break;
        }
    }
    kf_snap_close(s);
    return 0;
}
