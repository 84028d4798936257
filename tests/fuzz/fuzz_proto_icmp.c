/* Fuzz target: kdissect's ICMP dissector. The input is an IP datagram (IPv4 or IPv6) decoded
 * with kf_decode_ip, handed to on_packet twice (both directions) through the fake engine, then
 * the connection closes. Fails on any sanitizer report. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/icmp.c"
#include "../l7/fake_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kf_l4 l4;
    memset(&l4, 0, sizeof l4);
    if (kf_decode_ip(data, (uint32_t)size, &l4) != KF_DEC_OK) return 0;
    kd_conn c;
    fe_open(&c, &kd_proto_icmp, 0, 0, 0);
    c.ci.transport = KD_TRANSPORT_OTHER;
    c.ci.ipproto = l4.proto;
    kd_pref ref = {1000, 1, 0};
    kd_proto_icmp.on_packet(&c, c.st, 0, &l4, &ref);
    ref.ts_ns += 10; ref.frame++;
    kd_proto_icmp.on_packet(&c, c.st, 1, &l4, &ref);
    if (fe_close(&c) != 0) abort();
    fe_free(&c);
    return 0;
}
