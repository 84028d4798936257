/* kf_sha256 — SHA-256 through libcrypto's EVP interface (see kf_sha256.h). */
#include "kf_sha256.h"
#include <openssl/evp.h>

struct kf_sha256 { EVP_MD_CTX *ctx; };

int kf_sha256_buf(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

kf_sha256 *kf_sha256_new(void)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return NULL;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) { EVP_MD_CTX_free(ctx); return NULL; }
    kf_sha256 *c = (kf_sha256 *)OPENSSL_malloc(sizeof *c);
    if (!c) { EVP_MD_CTX_free(ctx); return NULL; }
    c->ctx = ctx;
    return c;
}

int kf_sha256_reset(kf_sha256 *c)
{
    return EVP_DigestInit_ex(c->ctx, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int kf_sha256_update(kf_sha256 *c, const void *data, size_t n)
{
    return EVP_DigestUpdate(c->ctx, data, n) == 1 ? 0 : -1;
}

int kf_sha256_final(kf_sha256 *c, uint8_t out[32])
{
    unsigned int len = 0;
    return EVP_DigestFinal_ex(c->ctx, out, &len) == 1 && len == 32 ? 0 : -1;
}

void kf_sha256_free(kf_sha256 *c)
{
    if (!c) return;
    EVP_MD_CTX_free(c->ctx);
    OPENSSL_free(c);
}

void kf_sha256_hex(const uint8_t d[32], char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) { out[2 * i] = hx[d[i] >> 4]; out[2 * i + 1] = hx[d[i] & 15]; }
    out[64] = 0;
}
