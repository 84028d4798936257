/* kf_sha256 — SHA-256 for snapshot member hashes, through libcrypto (OpenSSL 3's EVP digest,
 * which uses the CPU's SHA instructions where it has them). libcrypto is already a dependency
 * (TLS decryption); this header only keeps the callers' code short. */
#ifndef KF_SHA256_H
#define KF_SHA256_H
#include <stdint.h>
#include <stddef.h>

/* One-shot: out = SHA-256 of p[0..n). Returns 0, or -1 (libcrypto failed: out of memory). */
int kf_sha256_buf(const void *p, size_t n, uint8_t out[32]);

/* Streaming, for data read in pieces. new() starts a digest (NULL: out of memory); reset()
 * starts over on the same object; final() writes the digest (then reset() to reuse);
 * free(NULL) is a no-op. update/final return 0, or -1 when libcrypto failed. */
typedef struct kf_sha256 kf_sha256;
kf_sha256 *kf_sha256_new(void);
int kf_sha256_reset(kf_sha256 *c);
int kf_sha256_update(kf_sha256 *c, const void *data, size_t n);
int kf_sha256_final(kf_sha256 *c, uint8_t out[32]);
void kf_sha256_free(kf_sha256 *c);
/* out: 65 bytes, lowercase hex */
void kf_sha256_hex(const uint8_t d[32], char out[65]);
#endif
