/* Fuzz target: the Kubernetes metadata loader (kf_meta_load_buffer: event lines, kubectl Lists,
 * pretty-printed watch streams, malformed input and resynchronisation), then the replay and
 * every query over whatever was loaded. An odd first byte loads through the streaming loader
 * (kf_meta_load_stream) instead, in reads of 1..64 bytes, so values cross every boundary. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kf_meta.h"

typedef struct feed { const uint8_t *p; size_t n, step; } feed;
static ssize_t feed_read(void *ud, void *buf, size_t n)
{
    feed *f = ud;
    size_t k = f->n < n ? f->n : n;
    if (k > f->step) k = f->step;
    memcpy(buf, f->p, k);
    f->p += k; f->n -= k;
    return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kf_meta *m = kf_meta_new();
    char err[256];
    if (size > 1 && (data[0] & 1)) {
        feed f = { data + 1, size - 1, (size_t)(data[0] >> 2) + 1 };
        kf_meta_load_stream(m, feed_read, &f, 1773484200000000000LL, err, sizeof err);
    } else kf_meta_load_buffer(m, (const char *)data, size, 1773484200000000000LL, err, sizeof err);
    kf_meta_finish(m);
    const kf_binding *b;
    size_t nb = kf_meta_bindings(m, &b);
    for (size_t i = 0; i < nb && i < 64; i++) {
        kf_ipinfo in;
        kf_meta_lookup(m, &b[i].ip, b[i].from_ns, &in);
        kf_meta_lookup(m, &b[i].ip, b[i].to_ns == KF_T_MAX ? b[i].to_ns - 1 : b[i].to_ns, &in);
        if (in.pod) {
            const kf_workload *sv[8];
            kf_meta_pod_services(m, in.pod, b[i].from_ns, sv, 8);
        }
    }
    const kf_workload *const *ws;
    size_t nw = kf_meta_workloads(m, &ws);
    for (size_t i = 0; i < nw && i < 64; i++) {
        const kf_workload *sv[8];
        kf_meta_pod_services(m, ws[i], KF_T_MAX - 1, sv, 8);
    }
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        kf_meta_write_window(m, 1773484200000000000LL, 1773487800000000000LL, f);
        fclose(f);
    }
    kf_meta_free(m);
    return 0;
}
