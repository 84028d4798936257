/* Fuzz target: kdissect's websocket dissector. The input drives one connection through the fake engine
 * (tests/l7/fake_engine.h: [direction/gap/EOF byte][length][bytes]…); the raw parsers also get
 * the whole input. Fails on any sanitizer report, on consuming more than given, and on memory
 * reported with kd_conn_mem that is not given back. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/websocket.c"
#include "../l7/fake_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ws_frame_hdr h;
    ws_frame_header(data, size, &h);
    if (fe_fuzz(&kd_proto_websocket, data, size, 80) != 0) abort();
    return 0;
}
