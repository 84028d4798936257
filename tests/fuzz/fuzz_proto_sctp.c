/* Fuzz target: SCTP decoding (kf_decode's common and chunk headers) and kdissect's SCTP
 * dissector (proto/sctp.c). The input is a sequence of IP datagrams, each [dir][len hi][len lo]
 * [bytes], decoded with kf_decode_ip and handed to on_packet; then the connection closes.
 * Fails on any sanitizer report or unbalanced memory. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/sctp.c"
#include "../l7/fake_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kd_conn c;
    fe_open(&c, &kd_proto_sctp, 0, 0, 0);
    c.ci.transport = KD_TRANSPORT_OTHER;
    c.ci.ipproto = 132;
    kd_pref ref = {1000, 1, 0};
    size_t i = 0;
    while (i + 3 <= size) {
        int dir = data[i] & 1;
        size_t n = (size_t)data[i + 1] << 8 | data[i + 2];
        i += 3;
        if (n > size - i) n = size - i;
        kf_l4 l4;
        memset(&l4, 0, sizeof l4);
        if (kf_decode_ip(data + i, (uint32_t)n, &l4) == KF_DEC_OK && l4.proto == 132)
            kd_proto_sctp.on_packet(&c, c.st, dir, &l4, &ref);
        ref.ts_ns += 1000; ref.frame++;
        i += n;
    }
    if (fe_close(&c) != 0) abort();
    fe_free(&c);
    return 0;
}
