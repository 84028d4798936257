/* Fuzz target: kdissect's RADIUS dissector (proto/radius.c). The input is a sequence of
 * datagrams, each [ctl][len][len bytes]: ctl bit 0 = direction, bit 1 = probe it first, bit 2 =
 * run the request timer. Every datagram goes to on_datagram; then the connection closes and
 * every record must have been written (fe_close checks the memory balance). Fails on any
 * sanitizer report. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/radius.c"
#include "../l7/fake_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kd_conn c;
    fe_open(&c, &kd_proto_radius, 0, 40000, 1812);
    c.ci.transport = KD_TRANSPORT_UDP;
    c.ci.ipproto = 17;
    kd_pref ref = {1000, 1, 0};
    size_t i = 0;
    while (i + 2 <= size) {
        uint8_t ctl = data[i], n = data[i + 1];
        i += 2;
        if (n > size - i) n = (uint8_t)(size - i);
        int dir = ctl & 1;
        if (ctl & 2) (void)kd_proto_radius.probe(&c.ci, dir, data + i, n);
        kd_proto_radius.on_datagram(&c, c.st, dir, data + i, n, &ref);
        if (ctl & 4) kd_proto_radius.on_timer(&c, c.st, ref.ts_ns + 20000000000LL);
        ref.ts_ns += 1000; ref.frame++;
        i += n;
    }
    if (fe_close(&c) != 0) abort();
    fe_free(&c);
    return 0;
}
