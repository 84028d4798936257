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
    if (fe_fuzz_udp(&kd_proto_radius, data, size, 1812, NULL) != 0) abort();
    return 0;
}
