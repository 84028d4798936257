/* Fuzz target: kdissect's tls dissector and the DTLS datagram parser. The input drives one connection
 * through the fake engine (tests/l7/fake_engine.h: [direction/gap/EOF byte][length][bytes]…); the raw
 * parsers also get the whole input. Fails on any sanitizer report, on consuming more than given, and on memory
 * reported with kd_conn_mem that is not given back. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/tls.c"
#include "../l7/fake_engine.h"

static void fz_frag(void *ctx, uint8_t type, uint32_t len, uint16_t seq, uint32_t off, const uint8_t *p,
                    uint32_t n)
{
    (void)ctx; (void)type; (void)seq;
    if (off > len || n > len - off) abort();   /* dtls_datagram promises fragments inside the message */
    volatile uint8_t x = 0;
    for (uint32_t i = 0; i < n; i++) x ^= p[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dtls_datagram(data, size, fz_frag, NULL);
    tls_hello h;
    tls_parse_hello(data, size, size && (data[0] & 1), &h);
    char ja3[4096], md5[33];
    size_t jl = tls_ja3_string(&h, ja3, sizeof ja3);
    tls_md5_hex(ja3, jl, md5);
    tls_parse_sslv2_hello(data, size, &h);
    tls_probe(data, size);
    if (fe_fuzz(&kd_proto_tls, data, size, 443) != 0) abort();
    return 0;
}
