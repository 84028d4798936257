/* Fuzz target: kdissect's redis dissector. The input drives one connection through the fake engine
 * (tests/l7/fake_engine.h: [direction/gap/EOF byte][length][bytes]…); the raw parsers also get
 * the whole input. Fails on any sanitizer report, on consuming more than given, and on memory
 * reported with kd_conn_mem that is not given back. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/redis.c"
#include "../l7/fake_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    resp_value_len(data, size);
    redis_msg m;
    redis_parse_request(data, size, &m);
    redis_parse_reply(data, size, &m);
    redis_probe_bytes(data, size);
    if (fe_fuzz(&kd_proto_redis, data, size, 6379) != 0) abort();
    return 0;
}
