/* The dissector table: every protocol kdissect knows, in probing order. Each descriptor is a
 * weak reference, so a protocol is built in exactly when its proto/<name>.c defines it; adding
 * a protocol file needs no edit here as long as its name is listed below. */
#include <string.h>
#include "../dissector.h"

#define KD_WEAK(sym) extern const kd_dissector sym __attribute__((weak))
KD_WEAK(kd_proto_http1);
KD_WEAK(kd_proto_http2);
KD_WEAK(kd_proto_grpc);
KD_WEAK(kd_proto_websocket);
KD_WEAK(kd_proto_dns);
KD_WEAK(kd_proto_tls);
KD_WEAK(kd_proto_redis);
KD_WEAK(kd_proto_kafka);
KD_WEAK(kd_proto_amqp);
KD_WEAK(kd_proto_postgresql);
KD_WEAK(kd_proto_mysql);
KD_WEAK(kd_proto_mongodb);
KD_WEAK(kd_proto_icmp);
KD_WEAK(kd_proto_radius);
KD_WEAK(kd_proto_sctp);

/* Order matters only among dissectors whose probes could both accept the same bytes: the
 * stricter (binary, magic-checked) ones first, then the text protocols. */
static const kd_dissector *all[] = {
    &kd_proto_http2, &kd_proto_grpc, &kd_proto_tls, &kd_proto_http1, &kd_proto_radius, &kd_proto_dns,
    &kd_proto_postgresql, &kd_proto_mysql, &kd_proto_mongodb, &kd_proto_kafka,
    &kd_proto_amqp, &kd_proto_redis, &kd_proto_websocket, &kd_proto_sctp, &kd_proto_icmp,
};

const kd_dissector *const *kd_dissectors(size_t *n)
{
    static const kd_dissector *present[sizeof all / sizeof all[0] + 1];
    static size_t count = (size_t)-1;
    if (count == (size_t)-1) {   /* first call happens before any thread starts */
        size_t k = 0;
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (all[i]) present[k++] = all[i];
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
