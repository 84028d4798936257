/* protobuf.h — schema-less dump of a Protocol Buffers message (encoding guide:
 * protobuf.dev/programming-guides/encoding), used for gRPC payloads when no .proto is given. */
#ifndef KD_PROTOBUF_H
#define KD_PROTOBUF_H
#include <stddef.h>
#include <stdint.h>
#include "kf_json.h"

/* 1 if p..n parses completely as a protobuf message (wire types 0, 1, 2, 5; field numbers
 * 1..2^29-1), 0 if not. */
int kd_pb_valid(const uint8_t *p, size_t n);
/* Writes the message as a JSON array of {"field":N,"wire_type":W,"value":V} where V is an
 * integer (varint, fixed32, fixed64), a nested array (a length-delimited field that is itself
 * a message), a string (printable UTF-8), or {"base64":…} for other bytes. At most max_fields
 * fields per level and 4 levels; more is marked {"truncated":true}. Writes null if invalid. */
void kd_pb_dump(kf_jw *w, const uint8_t *p, size_t n, int max_fields);
#endif
