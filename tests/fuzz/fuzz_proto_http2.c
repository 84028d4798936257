/* Fuzz target: kdissect's HTTP/2 dissector with HPACK, gRPC framing and the protobuf dump. The
 * input drives one connection through the fake engine (tests/l7/fake_engine.h); the HPACK
 * decoder, the Huffman decoder and the protobuf dump also get the whole input. Fails on any
 * sanitizer report, on consuming more than given, and on unreturned kd_conn_mem memory. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/hpack.c"
#include "../../tools/kdissect/proto/grpc.c"
#include "../../tools/kdissect/proto/protobuf.c"
#include "../../tools/kdissect/proto/http_common.c"
#include "../../tools/kdissect/proto/http2.c"
#include "../l7/fake_engine.h"

static void fz_field(void *ctx, const char *n, size_t nl, const char *v, size_t vl, int unknown)
{
    (void)ctx; (void)n; (void)nl; (void)v; (void)vl; (void)unknown;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kd_hpack h;
    kd_hpack_init(&h, 4096);
    kd_hpack_decode(&h, data, size, fz_field, NULL);
    kd_hpack_decode(&h, data, size, fz_field, NULL);   /* again, with what the first inserted */
    kd_hpack_free(&h);
    char out[256];
    kd_hpack_huffman(data, size < 100 ? size : 100, out, sizeof out);
    kf_jw w;
    kf_jw_init(&w);
    kd_pb_dump(&w, data, size, 64);
    kf_jw_free(&w);
    kd_grpc_dir g = {0};
    kd_grpc_feed(&g, data, size, 64);
    kd_grpc_free(&g);
    h2_probe_bytes(data, size);
    if (fe_fuzz(&kd_proto_http2, data, size, 8080) != 0) abort();
    return 0;
}
