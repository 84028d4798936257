/* bench/read_pass.c — one timed pass of kf_capread + kf_decode over a capture: every packet read
 * and decoded to L4. Built by bench/read.sh against build/libkf.a.
 * Usage: read_pass FILE [runs]   prints the best run: "kf: P packets B bytes S s M MB/s". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "kf_capread.h"
#include "kf_decode.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: read_pass FILE [runs]\n"); return 2; }
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    double best = 1e99;
    unsigned long long pk = 0, bytes = 0, l4 = 0;
    for (int i = 0; i < runs; i++) {
        char err[256];
        double t0 = now();
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
        double t = now() - t0;
        if (t < best) best = t;
        if (sum == 42) fputc(' ', stderr);   /* keeps the decode from being optimised away */
    }
    printf("kf: %llu packets (%llu decoded to L4) %llu bytes %.3f s %.0f MB/s\n", pk, l4, bytes, best,
           (double)bytes / best / 1e6);
    return 0;
}
