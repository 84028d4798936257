/* tlsdec.c — decrypts TLS 1.2 and TLS 1.3 records with secrets from an NSS key log.
 * Specs: RFC 5246 §6.2-6.3 (TLS 1.2 records, key block, CBC and MAC), RFC 5288 (AES-GCM nonce),
 * RFC 7905 (ChaCha20-Poly1305 nonce), RFC 7366 (encrypt-then-MAC), RFC 8446 §5 (TLS 1.3 records,
 * inner content type), §7.1 (HKDF-Expand-Label), §7.2 (key update), §7.3 (traffic keys).
 *
 * Every cryptographic operation is libcrypto's (EVP AEAD and CBC ciphers, EVP_MAC HMAC, EVP_KDF
 * TLS1-PRF and HKDF); this file only frames records, builds nonces and labels, and walks the
 * handshake messages that tell when keys change. Nothing here prints or touches the engine, so
 * the fuzz target includes it alone.
 *
 *   TLS 1.2 AEAD record:  type(1) version(2) length(2) | explicit nonce (GCM: 8) | ciphertext | tag(16)
 *           additional data = seq(8) type(1) version(2) plaintext length(2)
 *   TLS 1.2 CBC record:   header | IV(16) | E(content | MAC | padding | padding length)
 *           (encrypt-then-MAC: header | IV | E(content | padding | padding length) | MAC)
 *   TLS 1.3 record:       23 0303 length | E(content | type(1) | zeros) | tag(16)
 *           additional data = the 5 header bytes; nonce = iv XOR seq (right-aligned)
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include "tlsdec.h"

enum { C_GCM = 1, C_CHACHA, C_CBC };

typedef struct tls_suite {
    uint16_t id;
    uint8_t tls13, kind, key_len, mac_len;
    const char *cipher;         /* EVP name */
    const char *md;             /* PRF / HKDF hash; CBC: also the MAC's unless mac_md */
    const char *mac_md;
} tls_suite;

static const tls_suite tls_suites[] = {
    /* TLS 1.3 (RFC 8446 §B.4) */
    { 0x1301, 1, C_GCM, 16, 0, "AES-128-GCM", "SHA256", NULL },
    { 0x1302, 1, C_GCM, 32, 0, "AES-256-GCM", "SHA384", NULL },
    { 0x1303, 1, C_CHACHA, 32, 0, "ChaCha20-Poly1305", "SHA256", NULL },
    /* TLS 1.2 AES-GCM */
    { 0x009C, 0, C_GCM, 16, 0, "AES-128-GCM", "SHA256", NULL }, { 0x009D, 0, C_GCM, 32, 0, "AES-256-GCM", "SHA384", NULL },
    { 0x009E, 0, C_GCM, 16, 0, "AES-128-GCM", "SHA256", NULL }, { 0x009F, 0, C_GCM, 32, 0, "AES-256-GCM", "SHA384", NULL },
    { 0xC02B, 0, C_GCM, 16, 0, "AES-128-GCM", "SHA256", NULL }, { 0xC02C, 0, C_GCM, 32, 0, "AES-256-GCM", "SHA384", NULL },
    { 0xC02F, 0, C_GCM, 16, 0, "AES-128-GCM", "SHA256", NULL }, { 0xC030, 0, C_GCM, 32, 0, "AES-256-GCM", "SHA384", NULL },
    /* TLS 1.2 ChaCha20-Poly1305 */
    { 0xCCA8, 0, C_CHACHA, 32, 0, "ChaCha20-Poly1305", "SHA256", NULL },
    { 0xCCA9, 0, C_CHACHA, 32, 0, "ChaCha20-Poly1305", "SHA256", NULL },
    { 0xCCAA, 0, C_CHACHA, 32, 0, "ChaCha20-Poly1305", "SHA256", NULL },
    /* TLS 1.2 AES-CBC with HMAC-SHA1 / SHA256 / SHA384 (the PRF is SHA-256 unless the suite says SHA384) */
    { 0x002F, 0, C_CBC, 16, 20, "AES-128-CBC", "SHA256", "SHA1" }, { 0x0035, 0, C_CBC, 32, 20, "AES-256-CBC", "SHA256", "SHA1" },
    { 0x0033, 0, C_CBC, 16, 20, "AES-128-CBC", "SHA256", "SHA1" }, { 0x0039, 0, C_CBC, 32, 20, "AES-256-CBC", "SHA256", "SHA1" },
    { 0xC009, 0, C_CBC, 16, 20, "AES-128-CBC", "SHA256", "SHA1" }, { 0xC00A, 0, C_CBC, 32, 20, "AES-256-CBC", "SHA256", "SHA1" },
    { 0xC013, 0, C_CBC, 16, 20, "AES-128-CBC", "SHA256", "SHA1" }, { 0xC014, 0, C_CBC, 32, 20, "AES-256-CBC", "SHA256", "SHA1" },
    { 0x003C, 0, C_CBC, 16, 32, "AES-128-CBC", "SHA256", "SHA256" }, { 0x003D, 0, C_CBC, 32, 32, "AES-256-CBC", "SHA256", "SHA256" },
    { 0x0067, 0, C_CBC, 16, 32, "AES-128-CBC", "SHA256", "SHA256" }, { 0x006B, 0, C_CBC, 32, 32, "AES-256-CBC", "SHA256", "SHA256" },
    { 0xC023, 0, C_CBC, 16, 32, "AES-128-CBC", "SHA256", "SHA256" }, { 0xC027, 0, C_CBC, 16, 32, "AES-128-CBC", "SHA256", "SHA256" },
    { 0xC024, 0, C_CBC, 32, 48, "AES-256-CBC", "SHA384", "SHA384" }, { 0xC028, 0, C_CBC, 32, 48, "AES-256-CBC", "SHA384", "SHA384" },
};

static const tls_suite *suite_find(uint16_t version, uint16_t id)
{
    for (size_t i = 0; i < sizeof tls_suites / sizeof tls_suites[0]; i++)
        if (tls_suites[i].id == id && tls_suites[i].tls13 == (version == 0x0304)) return &tls_suites[i];
    return NULL;
}

int kd_tlsdec_supported(uint16_t version, uint16_t suite)
{
    return (version == 0x0303 || version == 0x0304) && suite_find(version, suite) != NULL;
}

#define TLS_PLAIN_MAX (16384 + 2048)

typedef struct tdir {
    int active;                 /* records are encrypted from here on */
    int dead;
    uint64_t seq;
    EVP_CIPHER_CTX *ctx;
    EVP_MAC_CTX *mac;           /* CBC */
    uint8_t key[32], iv[12], mac_key[48];
    uint8_t secret[64];         /* TLS 1.3: current traffic secret */
    int epoch;                  /* TLS 1.3: 0 handshake keys, 1 application keys */
    /* TLS 1.3: walking the handshake messages of the decrypted records */
    uint8_t hh[4]; int hh_n;    /* header bytes of the message that starts */
    uint32_t hneed;             /* body bytes of the current message still to come */
    int switch_after;           /* 1: Finished or KeyUpdate seen: next keys after this record */
} tdir;

struct kd_tlsdec {
    const tls_suite *s;
    int client_dir;
    int etm;
    int hash_len;
    EVP_MAC *hmac;
    tdir d[2];                  /* by engine direction */
    uint64_t records, updates;
};

/* Plaintext of the record being opened: one buffer per thread (kdissect -j), not per connection
 * (a connection holds none between records; out_fn copies what it keeps). */
static __thread uint8_t tls_out[TLS_PLAIN_MAX];

/* ---- key derivation (libcrypto KDFs) */

static int kdf_run(const char *name, OSSL_PARAM *params, uint8_t *out, size_t n)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, name, NULL);
    if (!kdf) return -1;
    EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!kc) return -1;
    int ok = EVP_KDF_derive(kc, out, n, params) > 0;
    EVP_KDF_CTX_free(kc);
    return ok ? 0 : -1;
}

/* TLS 1.2 PRF (RFC 5246 §5) */
static int prf12(const char *md, const uint8_t *secret, size_t sl, const char *label, const uint8_t *s1,
                 const uint8_t *s2, uint8_t *out, size_t n)
{
    OSSL_PARAM p[6], *q = p;
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, sl);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)label, strlen(label));
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)s1, 32);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)s2, 32);
    *q = OSSL_PARAM_construct_end();
    return kdf_run(OSSL_KDF_NAME_TLS1_PRF, p, out, n);
}

/* HKDF-Expand-Label(secret, label, "", n) (RFC 8446 §7.1): the HkdfLabel structure is built here,
 * the expansion is libcrypto's HKDF in expand-only mode. */
static int expand_label(const char *md, const uint8_t *secret, size_t sl, const char *label, uint8_t *out, size_t n)
{
    uint8_t info[2 + 1 + 255 + 1];
    size_t ll = 6 + strlen(label);
    if (ll > 255) return -1;
    info[0] = (uint8_t)(n >> 8); info[1] = (uint8_t)n;
    info[2] = (uint8_t)ll;
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, label, ll - 6);
    info[3 + ll] = 0;   /* empty context */
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM p[5], *q = p;
    *q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, sl);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 4 + ll);
    *q = OSSL_PARAM_construct_end();
    return kdf_run(OSSL_KDF_NAME_HKDF, p, out, n);
}

static int cipher_init(tdir *d, const tls_suite *s)
{
    if (!d->ctx && !(d->ctx = EVP_CIPHER_CTX_new())) return -1;
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, s->cipher, NULL);
    if (!c) return -1;
    int ok = EVP_DecryptInit_ex2(d->ctx, c, d->key, NULL, NULL) > 0;
    EVP_CIPHER_free(c);
    if (ok && s->kind == C_CBC) EVP_CIPHER_CTX_set_padding(d->ctx, 0);
    return ok ? 0 : -1;
}

/* TLS 1.3: keys of the traffic secret in d->secret */
static int keys13(kd_tlsdec *t, tdir *d)
{
    if (expand_label(t->s->md, d->secret, (size_t)t->hash_len, "key", d->key, t->s->key_len) < 0 ||
        expand_label(t->s->md, d->secret, (size_t)t->hash_len, "iv", d->iv, 12) < 0)
        return -1;
    d->seq = 0;
    return cipher_init(d, t->s);
}

static int next_secret13(kd_tlsdec *t, tdir *d)
{
    uint8_t ns[64];
    if (expand_label(t->s->md, d->secret, (size_t)t->hash_len, "traffic upd", ns, (size_t)t->hash_len) < 0) return -1;
    memcpy(d->secret, ns, (size_t)t->hash_len);
    return keys13(t, d);
}

void kd_tlsdec_free(kd_tlsdec *t)
{
    if (!t) return;
    for (int i = 0; i < 2; i++) {
        EVP_CIPHER_CTX_free(t->d[i].ctx);
        EVP_MAC_CTX_free(t->d[i].mac);
    }
    EVP_MAC_free(t->hmac);
    OPENSSL_cleanse(t, sizeof *t);
    free(t);
}

kd_tlsdec *kd_tlsdec_new(const kd_tls_params *p, kf_keylog *keys, int *why)
{
    const tls_suite *s = p->version == 0x0303 || p->version == 0x0304 ? suite_find(p->version, p->suite) : NULL;
    if (!s) { *why = KD_TLSDEC_UNSUPPORTED; return NULL; }
    uint8_t sec[4][64];
    size_t sl[4] = {0};
    if (s->tls13) {
        static const enum kf_keylog_label want[4] = { KF_KL_CLIENT_HS, KF_KL_SERVER_HS, KF_KL_CLIENT_AP0, KF_KL_SERVER_AP0 };
        for (int i = 0; i < 4; i++) sl[i] = kf_keylog_get(keys, want[i], p->client_random, sec[i]);
        /* the application secrets are needed; handshake ones only to follow to them */
        if (!sl[0] || !sl[1]) { *why = KD_TLSDEC_NOKEY; return NULL; }
    } else {
        sl[0] = kf_keylog_get(keys, KF_KL_CLIENT_RANDOM, p->client_random, sec[0]);
        if (sl[0] != 48) { *why = KD_TLSDEC_NOKEY; return NULL; }
    }
    kd_tlsdec *t = calloc(1, sizeof *t);
    if (!t) { *why = KD_TLSDEC_NOMEM; return NULL; }
    t->s = s;
    t->client_dir = p->client_dir & 1;
    t->etm = p->etm;
    int cd = t->client_dir, sd = !cd;
    if (s->tls13) {
        EVP_MD *md = EVP_MD_fetch(NULL, s->md, NULL);
        t->hash_len = md ? EVP_MD_get_size(md) : 0;
        EVP_MD_free(md);
        if (t->hash_len <= 0 || sl[0] != (size_t)t->hash_len || sl[1] != (size_t)t->hash_len) goto bad;
        memcpy(t->d[cd].secret, sec[0], sl[0]);
        memcpy(t->d[sd].secret, sec[1], sl[1]);
        /* keep the application secrets for when Finished is seen: derive them then (stored in
         * mac_key, unused in TLS 1.3); a missing one leaves that side undecryptable after the handshake */
        memcpy(t->d[cd].mac_key, sl[2] == (size_t)t->hash_len ? sec[2] : (uint8_t[48]){0}, (size_t)t->hash_len);
        memcpy(t->d[sd].mac_key, sl[3] == (size_t)t->hash_len ? sec[3] : (uint8_t[48]){0}, (size_t)t->hash_len);
        for (int i = 0; i < 2; i++) {
            if (keys13(t, &t->d[i]) < 0) goto bad;
            t->d[i].active = 1;   /* everything after the ServerHello that is type 23 */
        }
        if (sl[2] != (size_t)t->hash_len) t->d[cd].epoch = -1;
        if (sl[3] != (size_t)t->hash_len) t->d[sd].epoch = -1;
    } else {
        /* key_block = PRF(master, "key expansion", server_random + client_random):
         * client MAC key, server MAC key, client key, server key, client IV, server IV */
        uint8_t kb[2 * 48 + 2 * 32 + 2 * 4];
        size_t ivl = s->kind == C_GCM ? 4 : s->kind == C_CHACHA ? 12 : 0;
        size_t need = 2u * s->mac_len + 2u * s->key_len + 2 * ivl;
        if (prf12(s->md, sec[0], 48, "key expansion", p->server_random, p->client_random, kb, need) < 0) goto bad;
        const uint8_t *q = kb;
        memcpy(t->d[cd].mac_key, q, s->mac_len); q += s->mac_len;
        memcpy(t->d[sd].mac_key, q, s->mac_len); q += s->mac_len;
        memcpy(t->d[cd].key, q, s->key_len); q += s->key_len;
        memcpy(t->d[sd].key, q, s->key_len); q += s->key_len;
        memcpy(t->d[cd].iv, q, ivl); q += ivl;
        memcpy(t->d[sd].iv, q, ivl);
        OPENSSL_cleanse(kb, sizeof kb);
        if (s->kind == C_CBC) {
            if (!(t->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL))) goto bad;
            for (int i = 0; i < 2; i++) {
                OSSL_PARAM mp[2] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)s->mac_md, 0),
                                     OSSL_PARAM_construct_end() };
                if (!(t->d[i].mac = EVP_MAC_CTX_new(t->hmac)) ||
                    EVP_MAC_init(t->d[i].mac, t->d[i].mac_key, s->mac_len, mp) <= 0) goto bad;
            }
        }
        for (int i = 0; i < 2; i++)
            if (cipher_init(&t->d[i], s) < 0) goto bad;
    }
    OPENSSL_cleanse(sec, sizeof sec);
    return t;
bad:
    OPENSSL_cleanse(sec, sizeof sec);
    kd_tlsdec_free(t);
    *why = KD_TLSDEC_UNSUPPORTED;
    return NULL;
}

/* AEAD open: ct (ctlen bytes, then the 16-byte tag) into tls_out. Returns the plaintext length or -1. */
static long aead_open(kd_tlsdec *t, tdir *d, const uint8_t nonce[12], const uint8_t *aad, size_t aadlen,
                      const uint8_t *ct, size_t ctlen)
{
    int l = 0, l2 = 0;
    if (ctlen > TLS_PLAIN_MAX) return -1;
    if (EVP_DecryptInit_ex2(d->ctx, NULL, NULL, nonce, NULL) <= 0 ||
        EVP_DecryptUpdate(d->ctx, NULL, &l, aad, (int)aadlen) <= 0 ||
        EVP_DecryptUpdate(d->ctx, tls_out, &l, ct, (int)ctlen) <= 0 ||
        EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(ct + ctlen)) <= 0 ||
        EVP_DecryptFinal_ex(d->ctx, tls_out + l, &l2) <= 0)
        return -1;
    return (long)l + l2;
}

static void put_seq(uint8_t *p, uint64_t seq) { for (int i = 7; i >= 0; i--) { p[i] = (uint8_t)seq; seq >>= 8; } }

static int hmac_check(tdir *d, const tls_suite *s, uint64_t seq, uint8_t type, const uint8_t *ver,
                      const uint8_t *data, size_t n, const uint8_t *want)
{
    uint8_t hdr[13], mac[64];
    size_t ml = 0;
    put_seq(hdr, seq);
    hdr[8] = type; hdr[9] = ver[0]; hdr[10] = ver[1];
    hdr[11] = (uint8_t)(n >> 8); hdr[12] = (uint8_t)n;
    if (EVP_MAC_init(d->mac, NULL, 0, NULL) <= 0 || EVP_MAC_update(d->mac, hdr, 13) <= 0 ||
        EVP_MAC_update(d->mac, data, n) <= 0 || EVP_MAC_final(d->mac, mac, &ml, sizeof mac) <= 0 ||
        ml != s->mac_len)
        return -1;
    return memcmp(mac, want, ml) == 0 ? 0 : -1;
}

/* TLS 1.2 record: plaintext into tls_out. Returns its length, -1 on failure; *skip: ciphertext
 * bytes before the plaintext's first one. */
static long open12(kd_tlsdec *t, tdir *d, const uint8_t *rec, size_t len, size_t *skip)
{
    const tls_suite *s = t->s;
    const uint8_t *body = rec + 5;
    size_t bl = len - 5;
    uint8_t nonce[12], aad[13];
    put_seq(aad, d->seq);
    aad[8] = rec[0]; aad[9] = rec[1]; aad[10] = rec[2];
    if (s->kind == C_GCM) {
        if (bl < 8 + 16) return -1;
        memcpy(nonce, d->iv, 4);
        memcpy(nonce + 4, body, 8);
        size_t pl = bl - 8 - 16;
        aad[11] = (uint8_t)(pl >> 8); aad[12] = (uint8_t)pl;
        *skip = 8;
        return aead_open(t, d, nonce, aad, 13, body + 8, pl);
    }
    if (s->kind == C_CHACHA) {
        if (bl < 16) return -1;
        memcpy(nonce, d->iv, 12);
        uint8_t sq[8];
        put_seq(sq, d->seq);
        for (int i = 0; i < 8; i++) nonce[4 + i] ^= sq[i];
        size_t pl = bl - 16;
        aad[11] = (uint8_t)(pl >> 8); aad[12] = (uint8_t)pl;
        *skip = 0;
        return aead_open(t, d, nonce, aad, 13, body, pl);
    }
    /* CBC: explicit IV, then whole blocks */
    size_t ml = s->mac_len;
    size_t enc = bl;
    if (t->etm) {
        if (bl < 16 + 16 + ml) return -1;
        enc = bl - ml;
        if (hmac_check(d, s, d->seq, rec[0], rec + 1, body, enc, body + enc) < 0) return -1;
    }
    if (enc < 32 || (enc - 16) % 16 || enc - 16 > TLS_PLAIN_MAX) return -1;
    int l = 0, l2 = 0;
    if (EVP_DecryptInit_ex2(d->ctx, NULL, NULL, body, NULL) <= 0 || EVP_CIPHER_CTX_set_padding(d->ctx, 0) <= 0 ||
        EVP_DecryptUpdate(d->ctx, tls_out, &l, body + 16, (int)(enc - 16)) <= 0 ||
        EVP_DecryptFinal_ex(d->ctx, tls_out + l, &l2) <= 0)
        return -1;
    size_t n = (size_t)l + (size_t)l2;
    size_t pad = tls_out[n - 1];
    if (pad + 1 > n) return -1;
    for (size_t i = 0; i <= pad; i++) if (tls_out[n - 1 - i] != pad) return -1;
    n -= pad + 1;
    if (!t->etm) {
        if (n < ml) return -1;
        n -= ml;
        if (hmac_check(d, s, d->seq, rec[0], rec + 1, tls_out, n, tls_out + n) < 0) return -1;
    }
    *skip = 16;
    return (long)n;
}

/* TLS 1.3: follows the handshake messages in a decrypted record; Finished (20) ends the
 * handshake keys, KeyUpdate (24) the current application keys, both after this record. */
static void walk_hs13(tdir *d, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (d->hneed) {
            size_t k = n - i < d->hneed ? n - i : d->hneed;
            i += k; d->hneed -= (uint32_t)k;
            continue;
        }
        d->hh[d->hh_n++] = p[i++];
        if (d->hh_n < 4) continue;
        d->hh_n = 0;
        d->hneed = (uint32_t)d->hh[1] << 16 | (uint32_t)d->hh[2] << 8 | d->hh[3];
        if ((d->hh[0] == 20 && d->epoch == 0) || (d->hh[0] == 24 && d->epoch > 0)) d->switch_after = 1;
    }
}

int kd_tlsdec_record(kd_tlsdec *t, int dir, const uint8_t *rec, size_t len, kd_tlsdec_out_fn out, void *arg)
{
    tdir *d = &t->d[dir & 1];
    if (d->dead) return -1;
    if (len < 5 || len - 5 != ((size_t)rec[3] << 8 | rec[4])) { d->dead = 1; return -1; }
    uint8_t type = rec[0];
    if (t->s->tls13) {
        if (type != 23) return 0;           /* ClientHello, ServerHello, compatibility CCS, alerts in clear */
        if (d->epoch < 0) { d->dead = 1; return -1; }
        size_t bl = len - 5;
        if (bl < 17) { d->dead = 1; return -1; }
        uint8_t nonce[12], sq[8];
        memcpy(nonce, d->iv, 12);
        put_seq(sq, d->seq);
        for (int i = 0; i < 8; i++) nonce[4 + i] ^= sq[i];
        long n = aead_open(t, d, nonce, rec, 5, rec + 5, bl - 16);
        if (n < 0) { d->dead = 1; return -1; }
        d->seq++;
        t->records++;
        while (n > 0 && tls_out[n - 1] == 0) n--;   /* padding */
        if (n == 0) { d->dead = 1; return -1; }
        uint8_t inner = tls_out[--n];
        if (inner == 23 && d->epoch > 0) { if (n && out) out(arg, dir & 1, tls_out, (size_t)n, 0); }
        else if (inner == 22) {
            walk_hs13(d, tls_out, (size_t)n);
            if (d->switch_after && !d->hneed && !d->hh_n) {
                d->switch_after = 0;
                if (d->epoch == 0) {
                    memcpy(d->secret, d->mac_key, (size_t)t->hash_len);
                    d->epoch = 1;
                    if (keys13(t, d) < 0) { d->dead = 1; return -1; }
                } else {
                    if (next_secret13(t, d) < 0) { d->dead = 1; return -1; }
                    d->epoch++;
                    t->updates++;
                }
            }
        }
        return 0;
    }
    if (!d->active) {
        if (type == 20) { d->active = 1; d->seq = 0; }   /* ChangeCipherSpec: the next record is encrypted */
        return 0;
    }
    size_t skip = 0;
    long n = open12(t, d, rec, len, &skip);
    if (n < 0) { d->dead = 1; return -1; }
    d->seq++;
    t->records++;
    if (type == 23 && n > 0 && out) out(arg, dir & 1, tls_out, (size_t)n, skip);
    return 0;
}

int kd_tlsdec_dead(const kd_tlsdec *t, int dir) { return t->d[dir & 1].dead; }
size_t kd_tlsdec_mem(const kd_tlsdec *t) { (void)t; return sizeof *t + 2048; }   /* + libcrypto's contexts */
void kd_tlsdec_kill(kd_tlsdec *t, int dir) { t->d[dir & 1].dead = 1; }
uint64_t kd_tlsdec_records(const kd_tlsdec *t, uint64_t *updates)
{
    if (updates) *updates = t->updates;
    return t->records;
}
