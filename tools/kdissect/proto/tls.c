/* tls.c — TLS/SSL handshake metadata (`tlsx`): ClientHello and ServerHello only, nothing decrypted.
 * Specs: RFC 8446 (TLS 1.3) §4.1, RFC 5246 (TLS 1.2) §6.2 and §7.4, RFC 6066 §3 (server_name),
 * RFC 7301 (ALPN), RFC 8701 (GREASE), draft-hickman-netscape-ssl-00 (SSLv2 CLIENT-HELLO),
 * JA3 as published by Salesforce (github.com/salesforce/ja3 README: the string and its MD5).
 *
 *   record:     type(1)=22 | version(2) | length(2) | fragment …        (RFC 5246 §6.2.1)
 *   handshake:  msg_type(1) | length(3) | body …   (may span records)  (RFC 5246 §7.4)
 *   ClientHello: legacy_version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
 *                compression_methods<1..2^8-1> extensions<0..2^16-1>
 *   ServerHello: legacy_version(2) random(32) session_id<0..32> cipher_suite(2) compression(1)
 *                extensions<0..2^16-1>
 *
 * Everything is read through kf_cursor; lengths narrow the cursor before a sub-parser runs.
 * The parsing layer below has no dependency on the engine so unit tests and the fuzz target
 * can include this file with KD_PARSE_ONLY defined. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "kf_cursor.h"
#include "kf_keylog.h"

#define TLS_MAX_CIPHERS 160
#define TLS_MAX_EXTS 64
#define TLS_MAX_GROUPS 48
#define TLS_MAX_VERSIONS 16
#define TLS_MAX_ALPN 8

typedef struct tls_hello {
    int client;                 /* 1 ClientHello, 0 ServerHello */
    int sslv2;                  /* SSLv2-compatible CLIENT-HELLO */
    uint16_t legacy_version;
    uint16_t ciphers[TLS_MAX_CIPHERS]; int n_ciphers, ciphers_truncated;
    uint16_t exts[TLS_MAX_EXTS]; int n_exts;
    uint16_t groups[TLS_MAX_GROUPS]; int n_groups;
    uint8_t pformats[16]; int n_pformats;
    uint16_t versions[TLS_MAX_VERSIONS]; int n_versions;   /* supported_versions (43) */
    char sni[256];
    char alpn[TLS_MAX_ALPN][48]; int n_alpn;
    int has_sni, has_ech;
    int sslv2_kinds;            /* SSLv2-only cipher kinds offered */
    uint8_t random[32];
    int etm;                    /* encrypt_then_mac (22) among the extensions */
    uint16_t cipher;            /* ServerHello: the chosen suite */
    uint16_t selected_version;  /* ServerHello: supported_versions, else legacy_version */
    int hrr;                    /* ServerHello: a HelloRetryRequest (its random is the magic) */
} tls_hello;

/* --- names ----------------------------------------------------------------------------- */

/* IANA "TLS Cipher Suites" registry names for the suites seen in practice. Anything else is
 * written as "0xXXXX". The unit test checks the table against tshark's own names. */
static const struct { uint16_t id; const char *name; } tls_suite_names[] = {
    {0x0000, "TLS_NULL_WITH_NULL_NULL"}, {0x0001, "TLS_RSA_WITH_NULL_MD5"},
    {0x0002, "TLS_RSA_WITH_NULL_SHA"}, {0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"},
    {0x0004, "TLS_RSA_WITH_RC4_128_MD5"}, {0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
    {0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"}, {0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"},
    {0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"}, {0x0009, "TLS_RSA_WITH_DES_CBC_SHA"},
    {0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"}, {0x000B, "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA"},
    {0x000C, "TLS_DH_DSS_WITH_DES_CBC_SHA"}, {0x000D, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA"},
    {0x000E, "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA"}, {0x000F, "TLS_DH_RSA_WITH_DES_CBC_SHA"},
    {0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA"}, {0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"},
    {0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"}, {0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"},
    {0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"}, {0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"},
    {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"}, {0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"},
    {0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"}, {0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA"},
    {0x001A, "TLS_DH_anon_WITH_DES_CBC_SHA"}, {0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"},
    {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"}, {0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA"},
    {0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA"}, {0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
    {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"}, {0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"}, {0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA"},
    {0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA"}, {0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
    {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"}, {0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA"},
    {0x003B, "TLS_RSA_WITH_NULL_SHA256"}, {0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
    {0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"}, {0x003E, "TLS_DH_DSS_WITH_AES_128_CBC_SHA256"},
    {0x003F, "TLS_DH_RSA_WITH_AES_128_CBC_SHA256"}, {0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"},
    {0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"}, {0x0042, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0043, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA"}, {0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"}, {0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA"},
    {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"}, {0x0068, "TLS_DH_DSS_WITH_AES_256_CBC_SHA256"},
    {0x0069, "TLS_DH_RSA_WITH_AES_256_CBC_SHA256"}, {0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"},
    {0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"}, {0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256"},
    {0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256"},
    {0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"}, {0x0085, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA"},
    {0x0086, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA"}, {0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA"},
    {0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"}, {0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA"},
    {0x008A, "TLS_PSK_WITH_RC4_128_SHA"}, {0x008B, "TLS_PSK_WITH_3DES_EDE_CBC_SHA"},
    {0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA"}, {0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA"},
    {0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"}, {0x0097, "TLS_DH_DSS_WITH_SEED_CBC_SHA"},
    {0x0098, "TLS_DH_RSA_WITH_SEED_CBC_SHA"}, {0x0099, "TLS_DHE_DSS_WITH_SEED_CBC_SHA"},
    {0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"}, {0x009B, "TLS_DH_anon_WITH_SEED_CBC_SHA"},
    {0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"}, {0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
    {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"}, {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0x00A0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256"}, {0x00A1, "TLS_DH_RSA_WITH_AES_256_GCM_SHA384"},
    {0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"}, {0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"},
    {0x00A4, "TLS_DH_DSS_WITH_AES_128_GCM_SHA256"}, {0x00A5, "TLS_DH_DSS_WITH_AES_256_GCM_SHA384"},
    {0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256"}, {0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"},
    {0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256"}, {0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384"},
    {0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"}, {0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"},
    {0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"}, {0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"},
    {0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
    {0x1301, "TLS_AES_128_GCM_SHA256"}, {0x1302, "TLS_AES_256_GCM_SHA384"},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256"}, {0x1304, "TLS_AES_128_CCM_SHA256"},
    {0x1305, "TLS_AES_128_CCM_8_SHA256"}, {0x5600, "TLS_FALLBACK_SCSV"},
    {0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA"}, {0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"},
    {0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"}, {0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"},
    {0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"}, {0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA"},
    {0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"}, {0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
    {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"}, {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
    {0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA"}, {0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA"},
    {0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"}, {0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"},
    {0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"}, {0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA"},
    {0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"}, {0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
    {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}, {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
    {0xC015, "TLS_ECDH_anon_WITH_NULL_SHA"}, {0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA"},
    {0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"}, {0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"},
    {0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"},
    {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"}, {0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
    {0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256"}, {0xC026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384"},
    {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"}, {0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
    {0xC029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256"}, {0xC02A, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384"},
    {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}, {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
    {0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"}, {0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384"},
    {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"}, {0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384"},
    {0xC09C, "TLS_RSA_WITH_AES_128_CCM"}, {0xC09D, "TLS_RSA_WITH_AES_256_CCM"},
    {0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM"}, {0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM"},
    {0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8"}, {0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8"},
    {0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8"}, {0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8"},
    {0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"}, {0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
    {0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"}, {0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"},
    {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"},
    {0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"},
};

static int tls_is_grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

/* Writes the IANA name of a suite (or "0xXXXX", or "GREASE") into out. */
static const char *tls_suite_name(uint16_t id, char *out, size_t cap)
{
    size_t lo = 0, hi = sizeof tls_suite_names / sizeof tls_suite_names[0];
    while (lo < hi) {   /* the table is sorted by id */
        size_t mid = (lo + hi) / 2;
        if (tls_suite_names[mid].id == id) return tls_suite_names[mid].name;
        if (tls_suite_names[mid].id < id) lo = mid + 1; else hi = mid;
    }
    if (tls_is_grease(id)) snprintf(out, cap, "GREASE_0x%04X", id);
    else snprintf(out, cap, "0x%04X", id);
    return out;
}

/* Weak: no encryption, export grade, RC4, RC2, single or triple DES, IDEA, anonymous key
 * exchange, or MD5 MACs. */
static int tls_suite_weak(uint16_t id)
{
    char b[16];
    const char *n = tls_suite_name(id, b, sizeof b);
    if (n == b) return 0;
    return strstr(n, "_NULL") || strstr(n, "EXPORT") || strstr(n, "RC4") || strstr(n, "RC2") ||
           strstr(n, "DES") || strstr(n, "IDEA") || strstr(n, "anon") || strstr(n, "_MD5");
}

static const char *tls_version_name(uint16_t v, char *out, size_t cap)
{
    switch (v) {
    case 0x0002: case 0x0200: return "SSL 2.0";
    case 0x0300: return "SSL 3.0";
    case 0x0301: return "TLS 1.0";
    case 0x0302: return "TLS 1.1";
    case 0x0303: return "TLS 1.2";
    case 0x0304: return "TLS 1.3";
    case 0xfeff: return "DTLS 1.0";
    case 0xfefd: return "DTLS 1.2";
    case 0xfefc: return "DTLS 1.3";
    }
    if ((v >> 8) == 0x7f) { snprintf(out, cap, "TLS 1.3 draft %u", v & 0xff); return out; }
    if (tls_is_grease(v)) { snprintf(out, cap, "GREASE_0x%04X", v); return out; }
    snprintf(out, cap, "0x%04X", v);
    return out;
}

/* SSL 2.0, SSL 3.0, TLS 1.0, TLS 1.1 are deprecated (RFC 6176, RFC 7568, RFC 8996). */
static int tls_version_deprecated(uint16_t v)
{
    return v == 0x0002 || v == 0x0200 || v == 0x0300 || v == 0x0301 || v == 0x0302 || v == 0xfeff;
}

/* JA3/JA3S: the MD5 of the string, in hex, from libcrypto (linked for decryption anyway).
 * An MD5 that libcrypto refuses (a FIPS-only configuration) leaves the field empty. */
static void tls_md5_hex(const void *data, size_t n, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = 0;
    if (!EVP_Digest(data, n, md, &mdlen, EVP_md5(), NULL) || mdlen != 16) return;
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hx[md[i] >> 4]; out[2 * i + 1] = hx[md[i] & 15];
    }
    out[32] = 0;
}

/* --- hello parsing ------------------------------------------------------------------------ */

/* RFC 8446 4.1.3: a HelloRetryRequest is a ServerHello whose random is SHA-256("HelloRetryRequest") */
static const uint8_t tls_hrr_random[32] = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

/* TLS 1.3 or one of its drafts */
static int tls_is_13(uint16_t v) { return v == 0x0304 || (v >> 8) == 0x7f; }

static void tls_copy_str(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    if (!p) { dst[0] = 0; return; }
    if (n >= cap) n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = 0;
    for (size_t i = 0; i < n; i++) if (dst[i] == 0) { dst[i] = 0; break; }
}

static void tls_parse_extensions(kf_cur *c, tls_hello *h)
{
    while (kf_cur_left(c) >= 4) {
        uint16_t type = kf_be16(c), len = kf_be16(c);
        kf_cur e = kf_cur_sub(c, len);
        if (e.err) { c->err = 1; return; }
        if (h->n_exts < TLS_MAX_EXTS) h->exts[h->n_exts++] = type;
        if (type == 22) h->etm = 1;
        switch (type) {
        case 0: { /* server_name: list<2> of (type(1), name<2>) */
            if (!h->client) break;
            kf_cur l = kf_cur_sub(&e, kf_be16(&e));
            while (!l.err && kf_cur_left(&l) >= 3) {
                uint8_t nt = kf_u8(&l);
                uint16_t nl = kf_be16(&l);
                const uint8_t *np = kf_cur_take(&l, nl);
                if (np && nt == 0 && !h->has_sni) { tls_copy_str(h->sni, sizeof h->sni, np, nl); h->has_sni = 1; }
            }
            break;
        }
        case 10: { /* supported_groups */
            kf_cur l = kf_cur_sub(&e, kf_be16(&e));
            while (!l.err && kf_cur_left(&l) >= 2) {
                uint16_t g = kf_be16(&l);
                if (h->n_groups < TLS_MAX_GROUPS) h->groups[h->n_groups++] = g;
            }
            break;
        }
        case 11: { /* ec_point_formats */
            kf_cur l = kf_cur_sub(&e, kf_u8(&e));
            while (!l.err && kf_cur_left(&l) >= 1) {
                uint8_t f = kf_u8(&l);
                if (h->n_pformats < 16) h->pformats[h->n_pformats++] = f;
            }
            break;
        }
        case 16: { /* ALPN: list<2> of name<1> */
            kf_cur l = kf_cur_sub(&e, kf_be16(&e));
            while (!l.err && kf_cur_left(&l) >= 1) {
                uint8_t nl = kf_u8(&l);
                const uint8_t *np = kf_cur_take(&l, nl);
                if (np && h->n_alpn < TLS_MAX_ALPN) tls_copy_str(h->alpn[h->n_alpn++], 48, np, nl);
            }
            break;
        }
        case 43: /* supported_versions: client list<1>, server a single version */
            if (h->client) {
                kf_cur l = kf_cur_sub(&e, kf_u8(&e));
                while (!l.err && kf_cur_left(&l) >= 2) {
                    uint16_t v = kf_be16(&l);
                    if (h->n_versions < TLS_MAX_VERSIONS) h->versions[h->n_versions++] = v;
                }
            } else if (kf_cur_left(&e) >= 2) {
                h->selected_version = kf_be16(&e);
            }
            break;
        case 0xfe0d: h->has_ech = 1; break;   /* encrypted_client_hello */
        }
    }
}

/* body: a ClientHello (client=1) or ServerHello (client=0) handshake body. 0 ok, -1 malformed
 * (what was read before the error is kept). */
static int tls_parse_hello_v(const uint8_t *body, size_t n, int client, int dtls, tls_hello *h)
{
    memset(h, 0, sizeof *h);
    h->client = client;
    kf_cur c = kf_cur_make(body, n);
    h->legacy_version = kf_be16(&c);
    const uint8_t *rnd = kf_cur_take(&c, 32);
    if (rnd) memcpy(h->random, rnd, 32);
    h->hrr = rnd && !client && !dtls && memcmp(rnd, tls_hrr_random, 32) == 0;
    if (dtls && client) {   /* DTLS ClientHello: session_id, then cookie<0..2^8-1> (RFC 6347 4.2.1) */
        kf_cur_skip(&c, kf_u8(&c));
        kf_cur_skip(&c, kf_u8(&c));
        goto suites;
    }
    /* a TLS 1.3 draft (< 22) ServerHello has neither session id nor compression method */
    int draft = !client && (h->legacy_version >> 8) == 0x7f && (h->legacy_version & 0xff) < 22;
    if (!draft) kf_cur_skip(&c, kf_u8(&c));   /* session id */
suites:
    if (client) {
        kf_cur cs = kf_cur_sub(&c, kf_be16(&c));
        while (!cs.err && kf_cur_left(&cs) >= 2) {
            uint16_t s = kf_be16(&cs);
            if (h->n_ciphers < TLS_MAX_CIPHERS) h->ciphers[h->n_ciphers++] = s;
            else h->ciphers_truncated++;
        }
        kf_cur_skip(&c, kf_u8(&c));   /* compression methods */
    } else {
        h->cipher = kf_be16(&c);
        if (!draft) kf_u8(&c);
    }
    if (c.err) return -1;
    h->selected_version = client ? 0 : h->legacy_version;
    if (kf_cur_left(&c) >= 2) {
        uint16_t el = kf_be16(&c);
        int cut = el > kf_cur_left(&c);      /* cut by the capture: read what is there */
        kf_cur ex = kf_cur_sub(&c, cut ? kf_cur_left(&c) : el);
        tls_parse_extensions(&ex, h);
        if (ex.err || c.err || cut) return -1;
    }
    return 0;
}

static int tls_parse_hello(const uint8_t *body, size_t n, int client, tls_hello *h)
{
    return tls_parse_hello_v(body, n, client, 0, h);
}

/* DTLS (RFC 6347 4.1, 4.2.2): records of 13 bytes of header (type, version, epoch, sequence
 * number(6), length) carrying handshake messages with 12 bytes of header (type, length(3),
 * message_seq, fragment_offset(3), fragment_length(3)). Calls fn for each handshake fragment
 * of epoch 0 in one datagram; returns the number of records read, -1 if it is not DTLS. */
typedef void (*dtls_frag_fn)(void *ctx, uint8_t type, uint32_t len, uint16_t seq, uint32_t off,
                             const uint8_t *p, uint32_t n);
static int dtls_datagram(const uint8_t *p, size_t n, dtls_frag_fn fn, void *ctx)
{
    kf_cur c = kf_cur_make(p, n);
    int records = 0;
    while (kf_cur_left(&c) >= 13) {
        uint8_t type = kf_u8(&c);
        uint16_t ver = kf_be16(&c);
        uint16_t epoch = kf_be16(&c);
        kf_cur_skip(&c, 6);
        uint16_t len = kf_be16(&c);
        if (type < 20 || type > 25 || (ver >> 8) != 0xfe) return records ? records : -1;
        kf_cur r = kf_cur_sub(&c, len);
        if (r.err) return records ? records : -1;
        records++;
        if (type != 22 || epoch != 0) continue;
        while (kf_cur_left(&r) >= 12) {
            uint8_t mt = kf_u8(&r);
            uint32_t ml = kf_be24(&r);
            uint16_t mseq = kf_be16(&r);
            uint32_t foff = kf_be24(&r), flen = kf_be24(&r);
            const uint8_t *body = kf_cur_take(&r, flen);
            if (!body) break;
            if ((mt == 1 || mt == 2) && foff <= ml && flen <= ml - foff) fn(ctx, mt, ml, mseq, foff, body, flen);
        }
    }
    return records;
}

/* SSLv2-compatible CLIENT-HELLO: p points at the 2-byte record header (high bit set).
 * Returns bytes used, 0 when more bytes are needed, -1 when it is not one. */
static long tls_parse_sslv2_hello(const uint8_t *p, size_t n, tls_hello *h)
{
    if (n < 2) return 0;
    if (!(p[0] & 0x80)) return -1;
    size_t rl = (size_t)(p[0] & 0x7f) << 8 | p[1];
    if (rl < 9) return -1;
    if (n < 2 + rl) return 0;
    kf_cur c = kf_cur_make(p + 2, rl);
    if (kf_u8(&c) != 1) return -1;
    memset(h, 0, sizeof *h);
    h->client = 1; h->sslv2 = 1;
    h->legacy_version = kf_be16(&c);
    uint16_t csl = kf_be16(&c), sidl = kf_be16(&c), chl = kf_be16(&c);
    if (csl % 3 || chl < 16 || chl > 32 || (h->legacy_version >> 8) > 3) return -1;
    kf_cur cs = kf_cur_sub(&c, csl);
    while (!cs.err && kf_cur_left(&cs) >= 3) {
        uint32_t s = kf_be24(&cs);
        /* 0x00XXYY is TLS suite XXYY; other values are SSLv2-only kinds, counted apart */
        if (s > 0xffff) h->sslv2_kinds++;
        else if (h->n_ciphers < TLS_MAX_CIPHERS) h->ciphers[h->n_ciphers++] = (uint16_t)s;
    }
    kf_cur_skip(&c, sidl);
    kf_cur_skip(&c, chl);
    if (c.err) return -1;
    return (long)(2 + rl);
}

/* JA3 string: SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurveFormats — decimal
 * values joined by '-', GREASE values left out. */
static size_t tls_ja3_string(const tls_hello *h, char *out, size_t cap)
{
    size_t n = 0;
#define JA3_PUT(...) do { int w_ = snprintf(out + n, n < cap ? cap - n : 0, __VA_ARGS__); \
        if (w_ > 0) n += (size_t)w_; } while (0)
    JA3_PUT("%u,", h->legacy_version);
    int first = 1;
    for (int i = 0; i < h->n_ciphers; i++)
        if (!tls_is_grease(h->ciphers[i])) { JA3_PUT("%s%u", first ? "" : "-", h->ciphers[i]); first = 0; }
    JA3_PUT(",");
    first = 1;
    for (int i = 0; i < h->n_exts; i++)
        if (!tls_is_grease(h->exts[i])) { JA3_PUT("%s%u", first ? "" : "-", h->exts[i]); first = 0; }
    JA3_PUT(",");
    first = 1;
    for (int i = 0; i < h->n_groups; i++)
        if (!tls_is_grease(h->groups[i])) { JA3_PUT("%s%u", first ? "" : "-", h->groups[i]); first = 0; }
    JA3_PUT(",");
    for (int i = 0; i < h->n_pformats; i++) JA3_PUT("%s%u", i ? "-" : "", h->pformats[i]);
#undef JA3_PUT
    if (n >= cap) n = cap ? cap - 1 : 0;
    return n;
}

/* The highest non-GREASE version the client offers (supported_versions, else legacy). */
static uint16_t tls_client_max_version(const tls_hello *h)
{
    uint16_t best = 0;
    for (int i = 0; i < h->n_versions; i++) {
        uint16_t v = h->versions[i];
        if (tls_is_grease(v)) continue;
        uint16_t rank = (v >> 8) == 0x7f ? 0x0304 : v;
        uint16_t brank = (best >> 8) == 0x7f ? 0x0304 : best;
        if (!best || rank > brank) best = v;
    }
    return best ? best : h->legacy_version;
}

/* --- record layer, per direction ------------------------------------------------------------
 * Handshake messages are gathered across records (a ClientHello may span several records and
 * several TCP segments). Once a direction sends ChangeCipherSpec or application data, its
 * remaining handshake is encrypted and ignored — except that in TLS 1.3 (tls13, set by the
 * caller once a ServerHello or HelloRetryRequest chose it) a ChangeCipherSpec is only the
 * middlebox-compatibility dummy (RFC 8446 D.4): the second ClientHello after a
 * HelloRetryRequest and the real ServerHello follow it in plaintext. */
#define TLS_HS_MAX (1u << 18)

typedef struct tls_dir {
    uint8_t *hs; size_t hs_len, hs_cap;
    int encrypted, bad;
    int records;
    int tls13;                  /* TLS 1.3 was chosen: ChangeCipherSpec changes nothing */
} tls_dir;

/* callbacks: each ClientHello / ServerHello found (last_off: stream offset of its last byte);
 * start of a handshake message (off: stream offset of the record that carries its first byte) */
typedef void (*tls_hello_fn)(void *ctx, const tls_hello *h, uint64_t last_off);
typedef void (*tls_start_fn)(void *ctx, uint64_t off);
/* every whole record (header included) at stream offset off, after the hellos in it were reported */
typedef void (*tls_rec_fn)(void *ctx, const uint8_t *rec, size_t len, uint64_t off);

static void tls_dir_free(tls_dir *d) { free(d->hs); memset(d, 0, sizeof *d); }

/* 1: bytes look like the start of a TLS handshake record or an SSLv2 CLIENT-HELLO; 0: not;
 * -1: too short to say. */
static int tls_probe(const uint8_t *p, size_t n)
{
    if (n < 1) return -1;
    if (p[0] == 0x16) {
        if (n < 6) return -1;
        if (p[1] != 3 || p[2] > 4) return 0;
        uint16_t len = kf_ld_be16(p + 3);
        if (len < 4 || len > 16384 + 2048) return 0;
        return p[5] == 1 || p[5] == 2 ? 1 : 0;
    }
    if (p[0] & 0x80) {
        if (n < 5) return -1;
        size_t rl = (size_t)(p[0] & 0x7f) << 8 | p[1];
        return rl >= 9 && p[2] == 1 && (p[3] == 0 || p[3] == 2 || p[3] == 3) ? 1 : 0;
    }
    return 0;
}

static int tls_hs_append(tls_dir *d, const uint8_t *p, size_t n)
{
    if (n == 0) return 0;
    if (d->hs_len + n > TLS_HS_MAX) return -1;
    if (d->hs_len + n > d->hs_cap) {
        size_t cap = d->hs_cap ? d->hs_cap : 4096;
        while (cap < d->hs_len + n) cap *= 2;
        uint8_t *nb = realloc(d->hs, cap);
        if (!nb) return -1;
        d->hs = nb; d->hs_cap = cap;
    }
    memcpy(d->hs + d->hs_len, p, n);
    d->hs_len += n;
    return 0;
}

/* Pull complete handshake messages out of d->hs; rec_end_off: offset of the last byte of the
 * record just appended. */
static void tls_hs_drain(tls_dir *d, uint64_t rec_end_off, tls_hello_fn fn, void *ctx)
{
    size_t off = 0;
    while (d->hs_len - off >= 4) {
        const uint8_t *m = d->hs + off;
        size_t ml = (size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3];
        if (ml > TLS_HS_MAX) { d->bad = 1; break; }
        if (d->hs_len - off < 4 + ml) break;
        if (m[0] == 1 || m[0] == 2) {
            tls_hello h;
            tls_parse_hello(m + 4, ml, m[0] == 1, &h);
            fn(ctx, &h, rec_end_off);
        }
        off += 4 + ml;
    }
    if (off) { memmove(d->hs, d->hs + off, d->hs_len - off); d->hs_len -= off; }
}

/* Feeds stream bytes of one direction; p[0] is at stream offset base. Returns the number of
 * bytes consumed (whole records); the caller keeps the rest and offers it again with more
 * data. Sets d->bad when the stream is not TLS (the caller should stop feeding). */
static size_t tls_dir_feed(tls_dir *d, const uint8_t *p, size_t n, uint64_t base, tls_hello_fn fn,
                           tls_start_fn start, tls_rec_fn rec, void *ctx)
{
    size_t off = 0;
    while (!d->bad && n - off >= 1) {
        const uint8_t *r = p + off;
        if (d->records == 0 && (r[0] & 0x80)) {
            tls_hello h;
            long used = tls_parse_sslv2_hello(r, n - off, &h);
            if (used == 0) break;
            if (used < 0) { d->bad = 1; break; }
            d->records++;
            if (start) start(ctx, base + off);
            fn(ctx, &h, base + off + (size_t)used - 1);
            off += (size_t)used;
            continue;
        }
        if (n - off < 5) break;
        uint8_t type = r[0];
        uint16_t rlen = kf_ld_be16(r + 3);
        if (type < 20 || type > 24 || r[1] != 3 || rlen > 16384 + 2048) { d->bad = 1; break; }
        if (n - off < 5 + (size_t)rlen) break;
        d->records++;
        if (type == 23 || (type == 20 && !d->tls13)) d->encrypted = 1;
        if (type == 22 && !d->encrypted) {
            if (d->hs_len == 0 && start) start(ctx, base + off);
            if (tls_hs_append(d, r + 5, rlen) < 0) d->bad = 1;
            else tls_hs_drain(d, base + off + 5 + rlen - 1, fn, ctx);
        }
        if (rec) rec(ctx, r, 5 + (size_t)rlen, base + off);
        off += 5 + (size_t)rlen;
    }
    return off;
}

/* --- dissector glue ---------------------------------------------------------------------- */
#ifndef KD_PARSE_ONLY
#include "../dissector.h"
#include "../tlsdec.h"

static const uint16_t tls_ports[] = {443, 8443, 6443, 10250, 9443, 2379, 636, 993, 995, 465, 0};

/* A ClientHello waiting for its ServerHello: the pending-call table's item. */
typedef struct tls_call {
    tls_hello ch;
    int dir;
    kd_pref first, last;
} tls_call;
#define TLS_PENDING 1   /* one handshake at a time: a second ClientHello writes the first unanswered */

typedef struct tls_state {
    tls_dir d[2];
    kd_conn *conn;
    int cur_dir;
    kd_pref start_ref[2];       /* packet of the first byte of the handshake message in progress */
    uint64_t base_off;          /* stream offset of p[0] in the current on_data call */
    kd_ptab q;                  /* the ClientHello waiting for its ServerHello (tls_call), one */
    int done[2];                /* direction is encrypted: consume without parsing */
    const kd_pref *dg_ref;      /* DTLS: packet of the datagram being read */
    int dtls;
    uint8_t *dbuf[2]; uint32_t dcap[2], dlen[2], dhave[2];   /* DTLS hello being reassembled */
    uint16_t dseq[2]; uint8_t dtype[2];
    /* decryption (tlsdec.c, inner.c), when the key log has this connection's secrets */
    kd_tlsdec *dec;
    kd_inner *inner;
    uint64_t rec_off;           /* stream offset of the record being decrypted */
    int dec_failed;
    uint16_t dec_version, dec_suite;
    char dec_sni[256], dec_alpn[48];
} tls_state;

static void tls_write_str_list_versions(kf_jw *w, const tls_hello *h)
{
    char b[32];
    kf_jw_key(w, "tlsx_versions");
    kf_jw_arr_begin(w);
    if (h->n_versions) {
        for (int i = 0; i < h->n_versions; i++)
            if (!tls_is_grease(h->versions[i])) kf_jw_str(w, tls_version_name(h->versions[i], b, sizeof b));
    } else {
        kf_jw_str(w, tls_version_name(h->legacy_version, b, sizeof b));
    }
    kf_jw_arr_end(w);
}

/* One handshake's record: the ClientHello (k, or NULL) and the ServerHello sent by side sh_dir
 * (sh, or NULL). */
static void tls_emit(tls_state *s, const tls_call *k, int sh_dir, const tls_hello *sh, const kd_pref *sh_first,
                     const kd_pref *sh_last)
{
    const tls_hello *ch = k ? &k->ch : NULL;
    kd_call call = {0};
    call.req_dir = k ? k->dir : sh_dir;   /* response only: src is the server (as before) */
    call.has_req = ch != NULL;
    call.has_resp = sh != NULL;
    if (ch) { call.req_first = k->first; call.req_last = k->last; }
    if (sh) { call.resp_first = *sh_first; call.resp_last = *sh_last; }
    kf_jw *w = kd_emit_begin(s->conn, &call);
    if (!w) return;
    char b[48], info[512], summary[512];
    size_t il = 0;
    info[0] = 0;
    uint16_t version = sh ? sh->selected_version : tls_client_max_version(ch);
    char vb[32];
    const char *vname = tls_version_name(version, vb, sizeof vb);
    kf_jw_kint(w, "tlsx_version", version);
    kf_jw_kstr(w, "tlsx_version_name", vname);
    int deprecated = tls_version_deprecated(version);
    if (deprecated) il += (size_t)snprintf(info + il, sizeof info - il, "deprecated version %s; ", vname);
    if (ch) {
        if (ch->has_sni) kf_jw_kstr(w, "tlsx_sni", ch->sni);
        kf_jw_kint(w, "tlsx_client_version", ch->legacy_version);
        tls_write_str_list_versions(w, ch);
        kf_jw_key(w, "tlsx_cipher_suites");
        kf_jw_arr_begin(w);
        for (int i = 0; i < ch->n_ciphers; i++) kf_jw_str(w, tls_suite_name(ch->ciphers[i], b, sizeof b));
        kf_jw_arr_end(w);
        int nweak = 0;
        kf_jw_key(w, "tlsx_weak_suites");
        kf_jw_arr_begin(w);
        for (int i = 0; i < ch->n_ciphers; i++)
            if (tls_suite_weak(ch->ciphers[i])) { kf_jw_str(w, tls_suite_name(ch->ciphers[i], b, sizeof b)); nweak++; }
        kf_jw_arr_end(w);
        if (nweak) il += (size_t)snprintf(info + il, il < sizeof info ? sizeof info - il : 0,
                                          "client offers %d weak suites; ", nweak);
        kf_jw_key(w, "tlsx_alpn_offered");
        kf_jw_arr_begin(w);
        for (int i = 0; i < ch->n_alpn; i++) kf_jw_str(w, ch->alpn[i]);
        kf_jw_arr_end(w);
        if (!ch->sslv2) {
            char ja3[4096], md5[33];
            size_t jl = tls_ja3_string(ch, ja3, sizeof ja3);
            tls_md5_hex(ja3, jl, md5);
            kf_jw_kstrn(w, "tlsx_ja3_string", ja3, jl);
            kf_jw_kstr(w, "tlsx_ja3", md5);
        } else {
            kf_jw_kbool(w, "tlsx_sslv2_hello", 1);
        }
        if (ch->has_ech) kf_jw_kbool(w, "tlsx_ech", 1);
    }
    const char *alpn = sh && sh->n_alpn ? sh->alpn[0] : (ch && ch->n_alpn ? ch->alpn[0] : "");
    if (*alpn) kf_jw_kstr(w, "tlsx_alpn", alpn);
    if (sh) {
        const char *cn = tls_suite_name(sh->cipher, b, sizeof b);
        kf_jw_kint(w, "tlsx_cipher_suite", sh->cipher);
        kf_jw_kstr(w, "tlsx_cipher_suite_name", cn);
        kf_jw_kint(w, "tlsx_server_version", sh->legacy_version);
        int weak = tls_suite_weak(sh->cipher);
        if (weak) il += (size_t)snprintf(info + il, il < sizeof info ? sizeof info - il : 0,
                                         "weak suite chosen %s; ", cn);
        kf_jw_kbool(w, "tlsx_weak", weak);
        char ja3s[1024], md5[33];
        size_t jl = (size_t)snprintf(ja3s, sizeof ja3s, "%u,%u,", sh->legacy_version, sh->cipher);
        for (int i = 0; i < sh->n_exts && jl < sizeof ja3s; i++)
            jl += (size_t)snprintf(ja3s + jl, sizeof ja3s - jl, "%s%u", i ? "-" : "", sh->exts[i]);
        if (jl >= sizeof ja3s) jl = sizeof ja3s - 1;
        tls_md5_hex(ja3s, jl, md5);
        kf_jw_kstr(w, "tlsx_ja3s", md5);
        if (sh->hrr) {
            kf_jw_kbool(w, "tlsx_hello_retry", 1);
            il += (size_t)snprintf(info + il, il < sizeof info ? sizeof info - il : 0,
                                   "server asked for another ClientHello (HelloRetryRequest); ");
        }
    } else {
        il += (size_t)snprintf(info + il, il < sizeof info ? sizeof info - il : 0, "no ServerHello seen; ");
    }
    if (!ch) il += (size_t)snprintf(info + il, il < sizeof info ? sizeof info - il : 0, "no ClientHello seen; ");
    kf_jw_kbool(w, "tlsx_deprecated", deprecated);
    if (il >= sizeof info) il = sizeof info - 1;
    while (il >= 2 && info[il - 2] == ';') { il -= 2; info[il] = 0; }
    kf_jw_kstrn(w, "tlsx_info", info, il);
    snprintf(summary, sizeof summary, "%s%s%s%s%s%s%s", vname,
             ch && ch->has_sni ? " " : "", ch && ch->has_sni ? ch->sni : "",
             *alpn ? " " : "", alpn, sh ? " " : "", sh ? tls_suite_name(sh->cipher, b, sizeof b) : "");
    kf_jw_kstr(w, "tlsx_summary", summary);
    kd_emit_end(s->conn);
}

/* the fields every record made of the plaintext carries */
static void tls_decorate(void *arg, kf_jw *w)
{
    tls_state *s = arg;
    char b[48];
    kf_jw_kbool(w, "tls", 1);
    if (s->dec_sni[0]) kf_jw_kstr(w, "tlsx_sni", s->dec_sni);
    kf_jw_kint(w, "tlsx_version", s->dec_version);
    kf_jw_kstr(w, "tlsx_version_name", tls_version_name(s->dec_version, b, sizeof b));
    kf_jw_kint(w, "tlsx_cipher_suite", s->dec_suite);
    kf_jw_kstr(w, "tlsx_cipher_suite_name", tls_suite_name(s->dec_suite, b, sizeof b));
    if (s->dec_alpn[0]) kf_jw_kstr(w, "tlsx_alpn", s->dec_alpn);
}

/* After a ServerHello answered a ClientHello: decrypt from here on if the keys are known. */
static void tls_dec_start(tls_state *s, const tls_hello *ch, int client_dir, const tls_hello *sh)
{
    const kd_conn_info *ci = kd_conn_get_info(s->conn);
    kf_keylog *keys = ci->opts ? ci->opts->tls_keys : NULL;
    if (!keys || s->dec || !kd_tlsdec_new || !kd_inner_new || !kf_keylog_count(keys)) return;
    kd_tls_params p = { .version = sh->selected_version, .suite = sh->cipher, .etm = sh->etm && ch->etm,
                        .client_dir = client_dir };
    memcpy(p.client_random, ch->random, 32);
    memcpy(p.server_random, sh->random, 32);
    int why = 0;
    s->dec = kd_tlsdec_new(&p, keys, &why);
    if (!s->dec) { kd_stat_add(s->conn, KD_STAT_TLS_UNDECRYPTED, 1); return; }
    kd_conn_mem(s->conn, (long)kd_tlsdec_mem(s->dec));
    const char *alpn = sh->n_alpn ? sh->alpn[0] : "";
    const char *hint = strcmp(alpn, "h2") == 0 ? "http2"
                       : strncmp(alpn, "http/1", 6) == 0 || strcmp(alpn, "http/0.9") == 0 ? "http1" : NULL;
    s->inner = kd_inner_new(s->conn, hint, tls_decorate, s);
    if (!s->inner) { kd_conn_mem(s->conn, -(long)kd_tlsdec_mem(s->dec)); kd_tlsdec_free(s->dec); s->dec = NULL; return; }
    s->dec_version = p.version;
    s->dec_suite = p.suite;
    snprintf(s->dec_sni, sizeof s->dec_sni, "%s", ch->has_sni ? ch->sni : "");
    /* as the TLS record names it: the server's choice (TLS 1.3 hides it), else the first offered */
    snprintf(s->dec_alpn, sizeof s->dec_alpn, "%s", *alpn ? alpn : ch->n_alpn ? ch->alpn[0] : "");
}

static void tls_on_plain(void *arg, int dir, const uint8_t *p, size_t n, size_t ct_off)
{
    tls_state *s = arg;
    kd_pref first, last;
    uint64_t at = s->rec_off + 5 + ct_off;
    kd_stream_ref(s->conn, dir, at, &first);
    kd_stream_ref(s->conn, dir, at + n - 1, &last);
    kd_inner_data(s->inner, dir, p, n, &first, &last);
}

static void tls_on_rec(void *ctx, const uint8_t *rec, size_t len, uint64_t off)
{
    tls_state *s = ctx;
    if (!s->dec || kd_tlsdec_dead(s->dec, s->cur_dir)) return;
    s->rec_off = off;
    if (kd_tlsdec_record(s->dec, s->cur_dir, rec, len, tls_on_plain, s) < 0) {
        s->dec_failed = 1;
        kd_inner_gap(s->inner, s->cur_dir);
    }
}

static void tls_on_start(void *ctx, uint64_t off)
{
    tls_state *s = ctx;
    kd_stream_ref(s->conn, s->cur_dir, off, &s->start_ref[s->cur_dir]);
}

static void tls_on_hello(void *ctx, const tls_hello *h, uint64_t last_off)
{
    tls_state *s = ctx;
    kd_pref last;
    if (s->dg_ref) last = *s->dg_ref;   /* DTLS: the datagram */
    else kd_stream_ref(s->conn, s->cur_dir, last_off, &last);
    if (h->client) {
        kd_conn_set_client(s->conn, s->cur_dir);
        const kd_pref *first = &s->start_ref[s->cur_dir];
        /* a second hello writes the first unanswered (the table holds one) */
        tls_call *k = kd_ptab_add(&s->q, s->cur_dir, 0, first->ts_ns);
        tls_call one;
        if (!k) k = &one;   /* no memory: written alone, unanswered */
        k->ch = *h;
        k->dir = s->cur_dir;
        k->first = *first;
        k->last = last;
        if (k == &one) tls_emit(s, k, 0, NULL, NULL, NULL);
    } else {
        if (!s->dtls && tls_is_13(h->selected_version)) {
            /* from here a ChangeCipherSpec is the dummy of middlebox compatibility mode */
            s->d[0].tls13 = s->d[1].tls13 = 1;
            /* a HelloRetryRequest refuses any early data: the second ClientHello is plaintext */
            if (h->hrr) s->d[s->cur_dir ^ 1].encrypted = 0;
        }
        tls_call *k = kd_ptab_oldest(&s->q);
        if (k && k->dir != s->cur_dir) {
            tls_emit(s, k, s->cur_dir, h, &s->start_ref[s->cur_dir], &last);
            tls_hello ch = k->ch;
            int client_dir = k->dir;
            kd_ptab_done(&s->q, k);
            /* after a HelloRetryRequest the keys follow the second ClientHello's ServerHello */
            if (!s->dtls && !h->hrr) tls_dec_start(s, &ch, client_dir, h);
        } else {
            tls_emit(s, NULL, s->cur_dir, h, &s->start_ref[s->cur_dir], &last);
        }
    }
}

static int tls_kd_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    if (ci && ci->transport == KD_TRANSPORT_UDP) {   /* DTLS: a handshake record of epoch 0 */
        /* STUN (RFC 8489 6: top bits 00, the magic cookie, a length of n - 20 in 4-byte units):
         * WebRTC's ICE checks come first on the 5-tuple that then carries DTLS (RFC 7983) */
        if (n >= 20 && p[0] < 4 && kf_ld_be32(p + 4) == 0x2112A442 && kf_ld_be16(p + 2) == n - 20 &&
            !(n & 3))
            return KD_PROBE_MORE;
        if (n < 26 || p[0] != 22 || p[1] != 0xfe || (p[2] != 0xff && p[2] != 0xfd && p[2] != 0xfc) ||
            p[3] || p[4])
            return KD_PROBE_NO;
        return p[13] == 1 ? KD_PROBE_CLIENT : (p[13] == 2 || p[13] == 3) ? KD_PROBE_SERVER : KD_PROBE_NO;
    }
    int r = tls_probe(p, n);
    if (r < 0) return KD_PROBE_MORE;
    if (r == 0) return KD_PROBE_NO;
    if (p[0] == 0x16 && p[5] == 2) return KD_PROBE_SERVER;
    return KD_PROBE_CLIENT;
}

/* the pending-call table's: a ClientHello without ServerHello */
static int tls_unanswered(kd_conn *c, void *st, void *item)
{
    tls_state *s = st;
    s->conn = c;
    tls_emit(s, item, 0, NULL, NULL, NULL);
    return 1;
}

static void tls_kd_init(kd_conn *c, void *st)
{
    tls_state *s = st;
    s->conn = c;
    kd_ptab_init(&s->q, c, sizeof(tls_call), TLS_PENDING, tls_unanswered, NULL, s);
}

static size_t tls_kd_data(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t off,
                          unsigned flags)
{
    tls_state *s = st;
    s->conn = c;
    if (s->done[dir]) {
        if (s->inner && (flags & KD_DATA_EOF)) kd_inner_eof(s->inner, dir);
        return n;
    }
    s->cur_dir = dir;
    tls_dir *d = &s->d[dir];
    size_t before = d->hs_cap;
    size_t used = tls_dir_feed(d, p, n, off, tls_on_hello, tls_on_start, tls_on_rec, s);
    if (d->hs_cap != before) kd_conn_mem(c, (long)d->hs_cap - (long)before);
    if (d->bad) {
        if (d->records == 0) kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1);
        s->done[dir] = 1;
        return n;
    }
    if (s->dec && !kd_tlsdec_dead(s->dec, dir)) {   /* decrypting: read every record */
        if (d->encrypted && d->hs_cap && d->hs_len == 0) {
            kd_conn_mem(c, -(long)d->hs_cap);
            free(d->hs); d->hs = NULL; d->hs_cap = 0;
        }
        if (flags & KD_DATA_EOF) kd_inner_eof(s->inner, dir);
        return used;
    }
    if (s->inner && (flags & KD_DATA_EOF)) kd_inner_eof(s->inner, dir);
    /* once both sides are encrypted nothing more is readable */
    const tls_call *k = kd_ptab_oldest(&s->q);
    if (d->encrypted && d->hs_len == 0 && (!k || k->dir != dir)) {
        kd_conn_mem(c, -(long)d->hs_cap);
        tls_dir_free(d);
        d->encrypted = 1;
        s->done[dir] = 1;
        return n;
    }
    return used;
}

/* Reassembles a hello from its fragments (in order or not; a byte map would be exact, the
 * count of new bytes is enough for hellos sent once), then reports it. */
static void dtls_on_frag(void *ctx, uint8_t type, uint32_t len, uint16_t seq, uint32_t off,
                         const uint8_t *p, uint32_t n)
{
    tls_state *s = ctx;
    int d = s->cur_dir;
    if (len > (64u << 10)) return;
    if (!s->dbuf[d] || s->dtype[d] != type || s->dseq[d] != seq || s->dlen[d] != len) {
        if (s->dcap[d] < len || !s->dbuf[d]) {
            uint8_t *nb = realloc(s->dbuf[d], len ? len : 1);
            if (!nb) return;
            kd_conn_mem(s->conn, (long)(len ? len : 1) - (long)s->dcap[d]);
            s->dbuf[d] = nb; s->dcap[d] = len ? len : 1;
        }
        s->dtype[d] = type; s->dseq[d] = seq; s->dlen[d] = len; s->dhave[d] = 0;
        s->start_ref[d] = *s->dg_ref;
    }
    memcpy(s->dbuf[d] + off, p, n);
    s->dhave[d] += n;
    if (s->dhave[d] >= len) {
        tls_hello h;
        tls_parse_hello_v(s->dbuf[d], len, type == 1, 1, &h);
        s->dtype[d] = 0;
        tls_on_hello(ctx, &h, 0);
    }
}

static void tls_kd_datagram(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, const kd_pref *ref)
{
    tls_state *s = st;
    s->conn = c;
    s->cur_dir = dir;
    s->dg_ref = ref;
    s->dtls = 1;
    dtls_datagram(p, n, dtls_on_frag, s);
    s->dg_ref = NULL;
}

static void tls_kd_gap(kd_conn *c, void *st, int dir, uint64_t off, uint64_t len)
{
    tls_state *s = st;
    s->conn = c;
    s->d[dir].hs_len = 0;
    s->done[dir] = 1;     /* records cannot be found again reliably after a gap */
    const tls_call *k = kd_ptab_oldest(&s->q);
    if (k && k->dir != dir) kd_ptab_flush(&s->q, -1);   /* its ServerHello cannot be read now */
    if (s->dec) { kd_tlsdec_kill(s->dec, dir); kd_inner_gap(s->inner, dir); }
}

static void tls_kd_timer(kd_conn *c, void *st, int64_t now)
{
    tls_state *s = st;
    if (s->inner) kd_inner_timer(s->inner, now);
}

static void tls_kd_close(kd_conn *c, void *st)
{
    tls_state *s = st;
    s->conn = c;
    kd_ptab_flush(&s->q, -1);   /* a ClientHello without ServerHello: unanswered */
    if (s->inner) kd_inner_close(s->inner);
}

static void tls_kd_destroy(kd_conn *c, void *st)
{
    tls_state *s = st;
    kd_ptab_free(&s->q);
    if (s->dec) {
        kd_stat_add(c, s->dec_failed || !kd_tlsdec_records(s->dec, NULL) ? KD_STAT_TLS_UNDECRYPTED
                                                                          : KD_STAT_TLS_DECRYPTED, 1);
        kd_inner_free(s->inner);
        kd_conn_mem(c, -(long)kd_tlsdec_mem(s->dec));
        kd_tlsdec_free(s->dec);
        s->inner = NULL; s->dec = NULL;
    }
    for (int i = 0; i < 2; i++) {
        if (s->d[i].hs_cap) kd_conn_mem(c, -(long)s->d[i].hs_cap);
        tls_dir_free(&s->d[i]);
        if (s->dcap[i]) kd_conn_mem(c, -(long)s->dcap[i]);
        free(s->dbuf[i]);
        s->dbuf[i] = NULL; s->dcap[i] = 0;
    }
}

const kd_dissector kd_proto_tls = {
    .name = "tls", .protocol = "TLS", .flag = "tlsx", .l7_name = "TLS",
    .transports = KD_TRANSPORT_TCP | KD_TRANSPORT_UDP, .ports = tls_ports, .calls = 1, .state_size = sizeof(tls_state),
    .probe = tls_kd_probe, .init = tls_kd_init, .on_data = tls_kd_data, .on_gap = tls_kd_gap,
    .on_datagram = tls_kd_datagram, .on_timer = tls_kd_timer,
    .on_close = tls_kd_close, .destroy = tls_kd_destroy,
};
#endif /* KD_PARSE_ONLY */
