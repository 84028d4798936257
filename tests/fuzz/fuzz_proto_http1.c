/* Fuzz target: kdissect's HTTP/1 dissector and the shared HTTP layer (header map, cookies, query
 * string, body decoding, GraphQL detection). The input drives one connection through the fake
 * engine (tests/l7/fake_engine.h: [direction/gap/EOF byte][length][bytes]…); the shared layer's
 * parsers also get the whole input. Fails on any sanitizer report, on consuming more than given,
 * on memory reported with kd_conn_mem that is not given back, and when kd_hmap_render's text
 * (or kd_http_query_render's, for the query string) differs from kd_hmap_json's. Seeds (corpus/fuzz_proto_http1):
 * requests with GraphQL bodies (application/graphql, JSON with a query, cut at the body limit),
 * chunked and gzip bodies, pipelining, CONNECT, Upgrade. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "../../tools/kdissect/proto/http_common.c"
#include "../../tools/kdissect/proto/http1.c"
#include "../l7/fake_engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char op[128], type[32];
    kd_http_graphql("/graphql", "application/graphql", data, size, 0, op, sizeof op, type, sizeof type);
    kd_http_graphql("/graphql", "application/json", data, size, size > 64, op, sizeof op, type, sizeof type);
    kd_hmap m = { 0 };
    kd_http_query(&m, (const char *)data, size);
    kd_http_cookies(&m, (const char *)data, size, size & 1);
    char *j = kd_hmap_json(&m);
    /* kd_hmap_render (http1's records) writes the text the writer does (http2's, kd_hmap_json) */
    size_t max = kd_hmap_render_max(&m);
    if (j && max != SIZE_MAX) {
        char *r = malloc(max);
        if (r) {
            size_t n = kd_hmap_render(&m, r);
            if (n != strlen(j) || memcmp(r, j, n) != 0 || n >= max) abort();
            free(r);
        }
    }
    free(j);
    kd_hmap_free(&m);
    {   /* an ordinary query string's object rendered from its bytes is the map's text */
        kd_hmap q = { 0 };
        kd_http_query(&q, (const char *)data, size);
        char *qj = kd_hmap_json(&q), *r = malloc(KD_HTTP_QUERY_RENDER_MAX(size));
        size_t n = r ? kd_http_query_render((const char *)data, size, r) : SIZE_MAX;
        if (qj && n != SIZE_MAX && (n != strlen(qj) || memcmp(r, qj, n) != 0)) abort();
        free(r);
        free(qj);
        kd_hmap_free(&q);
    }
    if (fe_fuzz(&kd_proto_http1, data, size, 80) != 0) abort();
    return 0;
}
