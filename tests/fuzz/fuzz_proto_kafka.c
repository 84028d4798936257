/* Fuzz target: kdissect's kafka dissector. The input drives one connection through the fake engine
 * (tests/l7/fake_engine.h: [direction/gap/EOF byte][length][bytes]…); the raw parsers also get
 * the whole input. Fails on any sanitizer report, on consuming more than given, and on memory
 * reported with kd_conn_mem that is not given back. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/kafka.c"
#include "../l7/fake_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kafka_req r;
    kafka_parse_request(data, size, &r);
    kafka_response_error(size ? data[0] % 80 : 0, size > 1 ? data[1] % 16 : 0, data, size);
    kafka_probe_bytes(data, size);
    if (fe_fuzz(&kd_proto_kafka, data, size, 9092) != 0) abort();
    return 0;
}
