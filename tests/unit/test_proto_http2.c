/* HTTP/2 dissector through the fake engine: preface, SETTINGS, HEADERS split by CONTINUATION,
 * DATA, GraphQL detection, a gRPC trailers-only error, a stream reset by the server, probes. */
#include "t.h"
#include "../../tools/kdissect/proto/hpack.c"
#include "../../tools/kdissect/proto/grpc.c"
#include "../../tools/kdissect/proto/protobuf.c"
#include "../../tools/kdissect/proto/http_common.c"
#include "../../tools/kdissect/proto/http2.c"
#include "../l7/fake_engine.h"

static uint8_t b[8192];
static size_t bn;
static void frame(uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
    b[bn++] = (uint8_t)(n >> 16); b[bn++] = (uint8_t)(n >> 8); b[bn++] = (uint8_t)n;
    b[bn++] = type; b[bn++] = flags;
    b[bn++] = (uint8_t)(sid >> 24); b[bn++] = (uint8_t)(sid >> 16); b[bn++] = (uint8_t)(sid >> 8); b[bn++] = (uint8_t)sid;
    memcpy(b + bn, p, n); bn += n;
}
/* HPACK literal without indexing, new name (no Huffman) */
static size_t lit(uint8_t *o, const char *n, const char *v)
{
    size_t k = 0, nl = strlen(n), vl = strlen(v);
    o[k++] = 0; o[k++] = (uint8_t)nl; memcpy(o + k, n, nl); k += nl;
    o[k++] = (uint8_t)vl; memcpy(o + k, v, vl); k += vl;
    return k;
}
static void send(kd_conn *c, int dir) { fe_data(c, dir, b, bn, 0); bn = 0; }
static int has(const kd_conn *c, const char *s) { return c->out && strstr(c->out, s) != NULL; }

int main(void)
{
    kd_conn c;
    fe_open(&c, &kd_proto_http2, 0, 40000, 8080);
    memcpy(b, H2_PREFACE, H2_PREFACE_LEN); bn = H2_PREFACE_LEN;
    frame(H2_SETTINGS, 0, 0, "\0\1\0\0\x10\0", 6);
    T_EQ_INT(h2_probe_bytes(b, bn), 2, "probe: the preface is a client");
    send(&c, 0);
    /* stream 1: POST /graphql, headers split over HEADERS + CONTINUATION, then a JSON body */
    uint8_t hb[512];
    size_t hl = 0;
    hb[hl++] = 0x83;                        /* :method POST */
    hb[hl++] = 0x86;                        /* :scheme http */
    hl += lit(hb + hl, ":path", "/graphql?x=1");
    hl += lit(hb + hl, ":authority", "api");
    hl += lit(hb + hl, "content-type", "application/json");
    frame(H2_HEADERS, 0, 1, hb, 10);
    frame(H2_CONT, H2F_END_HEADERS, 1, hb + 10, hl - 10);
    const char *body = "{\"query\":\"query GetUser { user { id } }\"}";
    frame(H2_DATA, H2F_END_STREAM, 1, body, strlen(body));
    send(&c, 0);
    frame(H2_SETTINGS, 0, 0, "", 0);
    frame(H2_HEADERS, H2F_END_HEADERS, 1, "\x88", 1);           /* :status 200 */
    frame(H2_DATA, H2F_END_STREAM, 1, "{\"data\":{}}", 11);
    send(&c, 1);
    T_EQ_INT(c.nrec, 1, "one record for stream 1");
    T_OK(has(&c, "\"method\":\"POST\"") && has(&c, "\"path\":\"/graphql\"") && has(&c, "\"query_string\":{\"x\":\"1\"}"),
         "method, path, query string (headers across CONTINUATION)");
    T_OK(has(&c, "\"status_code\":200") && has(&c, "\"grpc_status\":-1"), "status; not gRPC: grpc_status -1");
    T_OK(has(&c, "\"gql\":true") && has(&c, "\"gql_operation\":\"GetUser\"") && has(&c, "\"gql_operation_type\":\"query\""), "GraphQL flagged with its operation");
    T_OK(has(&c, "\"body\":\"{\\\"data\\\":{}}\""), "response body");
    /* stream 3: gRPC with a trailers-only error response */
    hl = 0;
    hb[hl++] = 0x83; hb[hl++] = 0x86;
    hl += lit(hb + hl, ":path", "/pkg.Svc/Get");
    hl += lit(hb + hl, "content-type", "application/grpc");
    frame(H2_HEADERS, H2F_END_HEADERS, 3, hb, hl);
    frame(H2_DATA, H2F_END_STREAM, 3, "\0\0\0\0\4\x0a\x02hi", 9);   /* message: field 1 = "hi" */
    send(&c, 0);
    hl = 0;
    hb[hl++] = 0x88;
    hl += lit(hb + hl, "content-type", "application/grpc");
    hl += lit(hb + hl, "grpc-status", "5");
    hl += lit(hb + hl, "grpc-message", "not%20found");
    frame(H2_HEADERS, H2F_END_HEADERS | H2F_END_STREAM, 3, hb, hl);
    send(&c, 1);
    T_EQ_INT(c.nrec, 2, "gRPC record");
    T_OK(has(&c, "\"protocol\":\"GRPC\"") && has(&c, "\"grpc_method\":\"Get\"") && has(&c, "\"grpc_service\":\"pkg.Svc\""), "gRPC method and service");
    T_OK(has(&c, "\"grpc_status\":5") && has(&c, "\"grpc_message\":\"not found\""), "trailers-only status, message decoded");
    T_OK(has(&c, "\"fields\":[{\"field\":1,\"wire_type\":2,\"value\":\"hi\"}]"), "protobuf dump of the request");
    /* stream 5: reset by the server */
    hb[0] = 0x82; hb[1] = 0x86; hb[2] = 0x84;   /* GET http / */
    frame(H2_HEADERS, H2F_END_HEADERS | H2F_END_STREAM, 5, hb, 3);
    send(&c, 0);
    frame(H2_RST, 0, 5, "\0\0\0\x07", 4);      /* REFUSED_STREAM */
    send(&c, 1);
    T_EQ_INT(c.nrec, 3, "reset stream emitted");
    T_OK(has(&c, "\"http2_rst_code\":7"), "reset code");
    /* a late frame for the closed stream 5 opens nothing */
    frame(H2_DATA, H2F_END_STREAM, 5, "x", 1);
    send(&c, 1);
    T_EQ_INT(fe_close(&c), 0, "memory given back");
    T_EQ_INT(c.nrec, 3, "no record for a closed stream");
    fe_free(&c);

    /* mid-stream: a HEADERS frame referring to a dynamic entry never seen */
    fe_open(&c, &kd_proto_http2, 0, 40000, 8080);
    bn = 0;
    frame(H2_HEADERS, H2F_END_HEADERS | H2F_END_STREAM, 7, "\x82\x86\x84\xbe", 4);
    T_EQ_INT(h2_probe_bytes(b, bn), 2, "probe: HEADERS with :method is a client");
    send(&c, 0);
    frame(H2_HEADERS, H2F_END_HEADERS | H2F_END_STREAM, 7, "\x88", 1);
    send(&c, 1);
    T_OK(has(&c, "\"http2_midstream\":true"), "mid-connection start said so");
    T_EQ_INT(fe_close(&c), 0, "memory given back");
    fe_free(&c);
    T_EQ_INT(h2_probe_bytes((const uint8_t *)"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27), 0, "HTTP/1 is not HTTP/2");
    T_DONE();
}
