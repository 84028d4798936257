/* kf_sha256 — SHA-256 (FIPS 180-4) for snapshot member hashes.
 * Hand-written: none of the project's link dependencies (libpcap, libbpf, libarchive, jansson,
 * zlib) exposes a hash API. Uses the x86 SHA extensions when the CPU has them. */
#ifndef KF_SHA256_H
#define KF_SHA256_H
#include <stdint.h>
#include <stddef.h>

typedef struct kf_sha256 {
    uint32_t h[8];
    uint64_t len;          /* bytes hashed */
    uint8_t buf[64];
    size_t nbuf;
} kf_sha256;

void kf_sha256_init(kf_sha256 *c);
void kf_sha256_update(kf_sha256 *c, const void *data, size_t n);
void kf_sha256_final(kf_sha256 *c, uint8_t out[32]);
/* out: 65 bytes, lowercase hex */
void kf_sha256_hex(const uint8_t d[32], char out[65]);
/* Forces the portable code (tests compare both paths). */
void kf_sha256_force_portable(int on);
#endif
