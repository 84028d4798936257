/* The dissector table: every protocol kdissect knows, in probing order, each with one line about
 * it. This list is the one place a protocol is registered: `kdissect -p list` prints it (with
 * --json: every descriptor's name, protocol, flag, transports, hint ports and this line), and
 * what lists the dissectors is generated from that (scripts/fields docs: man kdissect's list, the
 * table in docs/dissectors.md, docs/schema-l7.md's section of a protocol without a hand-written
 * one; the fuzz target tests/fuzz/fuzz_proto.c fuzzes every entry). Each descriptor is a weak
 * reference, so a protocol is built in exactly when its proto/<name>.c defines kd_proto_<name>.
 *
 * Order matters only among dissectors whose probes could both accept the same bytes: the
 * stricter (binary, magic-checked) ones first, then the text protocols. */
#include <string.h>
#include "../dissector.h"

#define KD_TABLE(X)                                                                              \
    X(http2, "HTTP/2 with HPACK; gRPC and GraphQL calls inside it")                              \
    X(grpc, "gRPC (reached through http2)")                                                       \
    X(tls, "the TLS and DTLS handshake: SNI, ALPN, versions, cipher suites, JA3; with keys, the plaintext") \
    X(http1, "HTTP/1.0 and 1.1; a CONNECT tunnel's bytes are detected again")                    \
    X(radius, "RADIUS over UDP")                                                                 \
    X(dns, "DNS over UDP and TCP")                                                               \
    X(postgresql, "PostgreSQL's frontend/backend protocol")                                      \
    X(mysql, "MySQL and MariaDB's client/server protocol")                                       \
    X(mongodb, "MongoDB's wire protocol")                                                        \
    X(kafka, "Apache Kafka")                                                                     \
    X(amqp, "AMQP 0-9-1, as RabbitMQ speaks it")                                                \
    X(redis, "RESP2 and RESP3")                                                                  \
    X(websocket, "WebSocket, after an HTTP upgrade")                                             \
    X(sctp, "SCTP common and chunk headers: control chunks, per-association totals")             \
    X(icmp, "ICMP and ICMPv6")

#define KD_WEAK(name, about) extern const kd_dissector kd_proto_##name __attribute__((weak));
KD_TABLE(KD_WEAK)
#define KD_ENTRY(name, about) { &kd_proto_##name, about },
static const struct { const kd_dissector *d; const char *about; } all[] = { KD_TABLE(KD_ENTRY) };

const kd_dissector *const *kd_dissectors(size_t *n)
{
    static const kd_dissector *present[sizeof all / sizeof all[0] + 1];
    static size_t count = (size_t)-1;
    if (count == (size_t)-1) {   /* first call happens before any thread starts */
        size_t k = 0;
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (all[i].d) present[k++] = all[i].d;
        present[k] = NULL;
        count = k;
    }
    if (n) *n = count;
    return present;
}

const kd_dissector *kd_dissector_find(const char *name)
{
    size_t n;
    const kd_dissector *const *d = kd_dissectors(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(d[i]->name, name) == 0) return d[i];
    return NULL;
}

const char *kd_dissector_about(const kd_dissector *d)
{
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i].d == d) return all[i].about;
    return "";
}
