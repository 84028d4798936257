/* Fuzz target: kdissect's MongoDB dissector. The input drives one connection through the fake
 * engine (tests/l7/fake_engine.h); the BSON scanner and the probe also get the whole input.
 * Fails on any sanitizer report, on consuming more than given, on unreturned kd_conn_mem memory. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/mongodb.c"
#include "../l7/fake_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mongo_doc d;
    memset(&d, 0, sizeof d);
    bson_scan(data, size, &d);
    mongo_probe_bytes(data, size);
    if (fe_fuzz(&kd_proto_mongodb, data, size, 27017) != 0) abort();
    return 0;
}
