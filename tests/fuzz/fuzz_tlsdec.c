/* Fuzz target: kdissect's TLS record decryption (tools/kdissect/tlsdec.c).
 *
 * Input: suite selector(1) flags(1), then chunks ctl(1) len(2, big-endian) bytes[len]:
 *   ctl bit 0: sending side; bit 1: seal — the harness encrypts the bytes as that side's next
 *   record with the keys the decryptor holds right now (so the fuzzer reaches everything after
 *   authentication: TLS 1.3 inner type and padding, handshake walking, key changes, CBC padding
 *   and MAC), else the bytes go in as one raw record (header checks, failed authentication);
 *   bits 2-4: content type 20 + n; bits 5-7: TLS 1.3 zero padding (x 7 bytes).
 * Secrets come from a key log the harness writes for one client random. Fails on any sanitizer
 * report, on plaintext longer than a record can hold, and when a sealed record does not open. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include "../../tools/kdissect/tlsdec.c"

static void sink(void *arg, int dir, const uint8_t *p, size_t n, size_t ct_off)
{
    (void)arg;
    if (dir < 0 || dir > 1 || n == 0 || n > 16384 + 2048 || ct_off > 16) abort();
    volatile uint8_t x = 0;
    for (size_t i = 0; i < n; i++) x ^= p[i];
}

static kf_keylog *fz_keys(void)
{
    static kf_keylog *k;
    if (k) return k;
    k = kf_keylog_new();
    static const char *labels[] = { "CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                    "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0" };
    char line[400];
    for (int hl = 0; hl < 2; hl++)   /* the 1.3 secrets as SHA-256 and as SHA-384 (other random) */
        for (int i = 0; i < 5; i++) {
            int len = i == 0 ? 96 : hl ? 96 : 64;
            char sec[129];
            for (int j = 0; j < len; j++) sec[j] = "0123456789abcdef"[(i * 7 + j * 3) & 15];
            sec[len] = 0;
            snprintf(line, sizeof line, "%s %064x %s\n", labels[i], hl, sec);
            kf_keylog_add_text(k, line, strlen(line), NULL);
        }
    return k;
}

static void put16(uint8_t *p, size_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* the record the sending side's peer would write next (the decryptor's own keys and sequence) */
static size_t seal(kd_tlsdec *t, int dir, uint8_t type, size_t pad, const uint8_t *pt, size_t n, uint8_t *out)
{
    tdir *d = &t->d[dir];
    const tls_suite *s = t->s;
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, s->cipher, NULL);
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    size_t len = 0;
    int l = 0;
    uint8_t nonce[12], sq[8], aad[13];
    put_seq(sq, d->seq);
    if (!c || !x) goto done;
    if (s->tls13 || s->kind == C_CHACHA) {
        memcpy(nonce, d->iv, 12);
        for (int i = 0; i < 8; i++) nonce[4 + i] ^= sq[i];
    }
    if (s->tls13) {
        uint8_t in[16384 + 64];
        if (n > 16384) n = 16384;
        memcpy(in, pt, n);
        in[n] = type;
        memset(in + n + 1, 0, pad);
        size_t il = n + 1 + pad;
        out[0] = 23; out[1] = 3; out[2] = 3; put16(out + 3, il + 16);
        if (EVP_EncryptInit_ex2(x, c, d->key, nonce, NULL) <= 0 || EVP_EncryptUpdate(x, NULL, &l, out, 5) <= 0 ||
            EVP_EncryptUpdate(x, out + 5, &l, in, (int)il) <= 0 || EVP_EncryptFinal_ex(x, out + 5 + l, &l) <= 0 ||
            EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, out + 5 + il) <= 0)
            goto done;
        len = 5 + il + 16;
        goto done;
    }
    if (n > 16384) n = 16384;
    memcpy(aad, sq, 8); aad[8] = type; aad[9] = 3; aad[10] = 3; put16(aad + 11, n);
    out[0] = type; out[1] = 3; out[2] = 3;
    if (s->kind != C_CBC) {
        size_t ex = 0;
        if (s->kind == C_GCM) { memcpy(nonce, d->iv, 4); memcpy(nonce + 4, sq, 8); memcpy(out + 5, sq, 8); ex = 8; }
        if (EVP_EncryptInit_ex2(x, c, d->key, nonce, NULL) <= 0 || EVP_EncryptUpdate(x, NULL, &l, aad, 13) <= 0 ||
            EVP_EncryptUpdate(x, out + 5 + ex, &l, pt, (int)n) <= 0 || EVP_EncryptFinal_ex(x, out + 5 + ex + l, &l) <= 0 ||
            EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, out + 5 + ex + n) <= 0)
            goto done;
        len = 5 + ex + n + 16;
        put16(out + 3, len - 5);
        goto done;
    }
    /* CBC: IV of zeros; MAC-then-encrypt, or encrypt-then-MAC */
    uint8_t in[16384 + 128], iv[16] = {0}, mac[64];
    size_t ml = s->mac_len, il = n;
    size_t macl = 0;
    EVP_MAC_CTX *m = EVP_MAC_CTX_dup(d->mac);
    if (!m) goto done;
    memcpy(in, pt, n);
    if (!t->etm) {
        EVP_MAC_init(m, NULL, 0, NULL); EVP_MAC_update(m, aad, 13); EVP_MAC_update(m, pt, n);
        EVP_MAC_final(m, in + il, &macl, sizeof mac);
        il += ml;
    }
    size_t p = 15 - il % 16;
    memset(in + il, (int)p, p + 1);
    il += p + 1;
    memcpy(out + 5, iv, 16);
    int ok = EVP_EncryptInit_ex2(x, c, d->key, iv, NULL) > 0 && EVP_CIPHER_CTX_set_padding(x, 0) > 0 &&
             EVP_EncryptUpdate(x, out + 21, &l, in, (int)il) > 0;
    len = 21 + il;
    if (ok && t->etm) {
        put16(aad + 11, 16 + il);
        EVP_MAC_init(m, NULL, 0, NULL); EVP_MAC_update(m, aad, 13); EVP_MAC_update(m, out + 5, 16 + il);
        EVP_MAC_final(m, out + len, &macl, sizeof mac);
        len += ml;
    }
    EVP_MAC_CTX_free(m);
    if (!ok) len = 0;
    else put16(out + 3, len - 5);
done:
    EVP_CIPHER_CTX_free(x);
    EVP_CIPHER_free(c);
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t ns = sizeof tls_suites / sizeof tls_suites[0];
    const tls_suite *s = &tls_suites[data[0] % ns];
    kd_tls_params p = { .version = s->tls13 ? 0x0304 : 0x0303, .suite = s->id, .etm = data[1] & 1,
                        .client_dir = (data[1] >> 1) & 1 };
    memset(p.client_random, 0, 32);
    if (s->tls13 && strcmp(s->md, "SHA384") == 0) p.client_random[31] = 1;
    memset(p.server_random, data[1], 32);
    int why = 0;
    kd_tlsdec *t = kd_tlsdec_new(&p, fz_keys(), &why);
    if (!t) abort();   /* every suite of the table has its secrets here */
    static uint8_t rec[16384 + 512];
    size_t i = 2;
    while (i + 3 <= size) {
        uint8_t ctl = data[i];
        size_t n = (size_t)data[i + 1] << 8 | data[i + 2];
        i += 3;
        if (n > size - i) n = size - i;
        int dir = ctl & 1;
        if (ctl & 2) {
            size_t rl = kd_tlsdec_dead(t, dir) ? 0 : seal(t, dir, (uint8_t)(20 + (ctl >> 2 & 7) % 5), (size_t)(ctl >> 5) * 7,
                                                         data + i, n, rec);
            /* what the peer sealed with the right keys must open: a round trip through libcrypto */
            if (rl && kd_tlsdec_record(t, dir, rec, rl, sink, NULL) != 0) abort();
        } else {
            kd_tlsdec_record(t, dir, data + i, n, sink, NULL);
        }
        i += n;
    }
    kd_tlsdec_records(t, NULL);
    kd_tlsdec_free(t);
    return 0;
}
