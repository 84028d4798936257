/* Fuzz target: kdissect's tls dissector. The input drives one connection through the fake engine
 * (tests/l7/fake_engine.h: [direction/gap/EOF byte][length][bytes]…); the raw parsers also get
 * the whole input. Fails on any sanitizer report, on consuming more than given, and on memory
 * reported with kd_conn_mem that is not given back. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/tls.c"
#include "../l7/fake_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
