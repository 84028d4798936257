/* grpc.h — gRPC over HTTP/2 (github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
 * Length-Prefixed-Message = Compressed-Flag(1) Message-Length(4, big endian) Message.
 * One kd_grpc_dir per stream direction; DATA frame payloads are fed in order. */
#ifndef KD_GRPC_H
#define KD_GRPC_H
#include <stddef.h>
#include <stdint.h>

typedef struct kd_grpc_dir {
    uint8_t hdr[5]; int hdr_have;
    uint32_t msg_len, msg_have;
    int in_msg;
    uint64_t messages;          /* complete messages */
    uint64_t compressed;        /* messages with the compressed flag */
    uint64_t bytes;             /* message bytes (without the 5-byte prefixes) */
    int bad;                    /* framing broken (flag not 0/1) */
    uint8_t *first;             /* the first message, up to keep bytes */
    size_t first_len, first_total;
    int first_compressed, first_done;
} kd_grpc_dir;

/* Feeds DATA payload bytes; keeps up to keep bytes of the first message. Returns the heap
 * bytes newly allocated (for memory accounting). */
long kd_grpc_feed(kd_grpc_dir *g, const uint8_t *p, size_t n, size_t keep);
void kd_grpc_free(kd_grpc_dir *g);
/* The method from a gRPC :path "/package.Service/Method": service and method parts. */
void kd_grpc_split_path(const char *path, size_t len, const char **svc, size_t *svc_len,
                        const char **method, size_t *method_len);
#endif
