/* libFuzzer target: bytes -> kf_reader (memory mode, and stream mode through fmemopen), every
 * packet read and decoded to L4 (with reassembly), every accessor touched. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "kf_capread.h"
#include "kf_decode.h"

static volatile uint64_t sink;

static void drain(kf_reader *r, kf_decoder *d)
{
    kf_pkt p;
    kf_l4 l;
    int n = 0;
    while (kf_reader_next(r, &p) == 1 && n++ < 100000) {
        sink += p.caplen + (uint64_t)p.ts_ns + (p.comment ? strlen(p.comment) : 0);
        for (uint32_t i = 0; i < p.caplen; i += 64) sink += p.data[i];
        if (p.caplen) sink += p.data[p.caplen - 1];
        if (kf_decode(d, p.linktype, p.data, p.caplen, p.ts_ns, &l) == KF_DEC_OK) {
            sink += l.paylen + l.sport;
            if (l.paylen) sink += l.payload[l.paylen - 1];
            if (l.icmp_inner) {
                kf_l4 in;
                kf_decode_ip(l.icmp_inner, l.icmp_inner_len, &in);
                sink += in.sport;
            }
        }
    }
    sink += kf_reader_pos(r) + kf_reader_good_end(r) + strlen(kf_reader_error(r)) + strlen(kf_reader_warning(r));
    for (size_t i = 0; i < kf_reader_iface_count(r); i++) {
        const kf_iface *f = kf_reader_iface(r, (uint32_t)i);
        sink += f->ts_per_sec + (f->name ? strlen(f->name) : 0) + (f->filter ? strlen(f->filter) : 0);
    }
    for (size_t i = 0; i < kf_reader_section_count(r); i++) {
        const kf_section *s = kf_reader_section(r, (uint32_t)i);
        sink += s->comment ? strlen(s->comment) : 0;
    }
    for (size_t i = 0; i < kf_reader_nrb_count(r); i++) sink += strlen(kf_reader_nrb(r, i)->name);
    for (size_t i = 0; i < kf_reader_dsb_count(r); i++) {
        const kf_dsb *x = kf_reader_dsb(r, i);
        if (x->len) sink += x->data[x->len - 1];
    }
    for (size_t i = 0; i < kf_reader_isb_count(r); i++) sink += kf_reader_isb(r, i)->ifrecv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    kf_decoder *d = kf_decoder_new();
    kf_reader *r = kf_reader_open_mem(data, size, err, sizeof err);
    if (r) { drain(r, d); kf_reader_close(r); }
    if (size > 0) {
        FILE *f = fmemopen((void *)data, size, "rb");
        if (f) {
            r = kf_reader_open_file(f, err, sizeof err);
            if (r) { drain(r, d); kf_reader_close(r); }
            fclose(f);
        }
    }
    kf_decoder_free(d);
    return 0;
}
