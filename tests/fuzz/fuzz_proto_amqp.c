/* Fuzz target: kdissect's amqp dissector. The input drives one connection through the fake engine
 * (tests/l7/fake_engine.h: [direction/gap/EOF byte][length][bytes]…); the raw parsers also get
 * the whole input. Fails on any sanitizer report, on consuming more than given, and on memory
 * reported with kd_conn_mem that is not given back. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/amqp.c"
#include "../l7/fake_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    amqp_method m;
    amqp_parse_method(data, size, &m);
    amqp_probe_bytes(data, size);
    if (fe_fuzz(&kd_proto_amqp, data, size, 5672) != 0) abort();
    return 0;
}
