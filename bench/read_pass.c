/* bench/read_pass.c — one timed pass of kf_capread + kf_decode over a capture: every packet read
 * and decoded to L4. Built by bench/read.sh against build/libkf.a.
 * Usage: read_pass FILE [runs]   prints the best run:
 *   "kf: P packets (D decoded to L4) B bytes cpu C s M MB/s wall W s N MB/s"
 * CPU time is the measure (the machine may be shared); wall-clock is shown beside it. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/resource.h>
#include "kf_capread.h"
#include "kf_decode.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU time (user + system) of this process: what "per core" means on a shared machine */
static double cpu(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: read_pass FILE [runs]\n"); return 2; }
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    double best = 1e99, bestwall = 1e99;
    unsigned long long pk = 0, bytes = 0, l4 = 0;
    for (int i = 0; i < runs; i++) {
        char err[256];
        double t0 = now(), c0 = cpu();
        kf_reader *r = kf_reader_open(argv[1], err, sizeof err);
        if (!r) { fprintf(stderr, "read_pass: %s: %s\n", argv[1], err); return 1; }
        kf_decoder *d = kf_decoder_new();
        kf_pkt p;
        kf_l4 l;
        pk = 0; l4 = 0;
        unsigned long long sum = 0;
        int rc;
        while ((rc = kf_reader_next(r, &p)) == 1) {
            pk++;
            if (kf_decode(d, p.linktype, p.data, p.caplen, p.ts_ns, &l) == KF_DEC_OK) {
                l4++;
                sum += l.sport ^ l.dport ^ l.paylen;
            }
        }
        if (rc < 0) { fprintf(stderr, "read_pass: %s: %s\n", argv[1], kf_reader_error(r)); return 1; }
        bytes = kf_reader_size(r);
        kf_decoder_free(d);
        kf_reader_close(r);
        double t = cpu() - c0, w = now() - t0;
        if (t < best) best = t;
        if (w < bestwall) bestwall = w;
        if (sum == 42) fputc(' ', stderr);   /* keeps the decode from being optimised away */
    }
    printf("kf: %llu packets (%llu decoded to L4) %llu bytes cpu %.3f s %.0f MB/s wall %.3f s %.0f MB/s\n",
           pk, l4, bytes, best, (double)bytes / best / 1e6, bestwall, (double)bytes / bestwall / 1e6);
    return 0;
}
