/* hpack.h — HPACK header decompression for HTTP/2 (RFC 7541), used by http2.c.
 * One kd_hpack per direction of a connection (each side has its own encoder). */
#ifndef KD_HPACK_H
#define KD_HPACK_H
#include <stddef.h>
#include <stdint.h>

typedef struct kd_hpack_entry kd_hpack_entry;

typedef struct kd_hpack {
    kd_hpack_entry **ring;      /* dynamic table, ring[(head + i) % cap] = i-th newest */
    size_t cap, count, head;
    size_t size;                /* RFC 7541 §4.1 size: sum of name + value + 32 */
    size_t max_size;            /* current limit (dynamic table size update) */
    size_t limit;               /* largest limit accepted (SETTINGS_HEADER_TABLE_SIZE, capped) */
    uint64_t unknown_refs;      /* references to entries this capture never saw (mid-stream) */
    char *buf; size_t buf_cap;  /* scratch for decoded name + value */
    long mem;                   /* heap bytes held */
} kd_hpack;

/* Called per decoded field; name/value are not NUL-terminated and live only during the call.
 * unknown = 1 when the field came from a dynamic-table entry inserted before the capture. */
typedef void (*kd_hpack_field_fn)(void *ctx, const char *name, size_t nlen, const char *value,
                                  size_t vlen, int unknown);

void kd_hpack_init(kd_hpack *h, size_t limit);
void kd_hpack_free(kd_hpack *h);
/* Decodes one complete header block. Returns 0, or -1 on a decoding error (the table may then
 * be out of step with the encoder; the caller should stop trusting it). */
int kd_hpack_decode(kd_hpack *h, const uint8_t *p, size_t n, kd_hpack_field_fn fn, void *ctx);
/* Huffman-decodes (RFC 7541 §5.2, Appendix B) into out; returns the length, or -1 (bad code,
 * EOS inside the string, bad padding, or out too small). */
long kd_hpack_huffman(const uint8_t *p, size_t n, char *out, size_t cap);
#endif
