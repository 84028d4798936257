/* tlsdec.h — TLS record decryption with logged secrets (tlsdec.c), and the inner dissector that
 * reads the plaintext (inner.c). tls.c calls both through weak references: a program that links
 * neither (the tls unit test, its fuzz target) dissects handshakes only, as before. */
#ifndef KD_TLSDEC_H
#define KD_TLSDEC_H
#include <stdint.h>
#include <stddef.h>
#include "kf_keylog.h"
#include "dissector.h"

/* What the hellos negotiated. Sides: dir 0/1 as the engine numbers them. */
typedef struct kd_tls_params {
    uint16_t version;           /* 0x0303 TLS 1.2, 0x0304 TLS 1.3 */
    uint16_t suite;
    int etm;                    /* TLS 1.2: encrypt_then_mac (RFC 7366) in the ServerHello */
    int client_dir;             /* the side that sent the ClientHello */
    uint8_t client_random[32], server_random[32];
} kd_tls_params;

typedef struct kd_tlsdec kd_tlsdec;

enum kd_tlsdec_why { KD_TLSDEC_NOKEY = 1, KD_TLSDEC_UNSUPPORTED = 2, KD_TLSDEC_NOMEM = 3 };

/* 1 when the suite and version are ones tlsdec decrypts. */
int kd_tlsdec_supported(uint16_t version, uint16_t suite) __attribute__((weak));
/* A decryptor for one connection, or NULL with *why set (no secret logged for its client random,
 * an unsupported suite or version, no memory). */
kd_tlsdec *kd_tlsdec_new(const kd_tls_params *p, kf_keylog *keys, int *why) __attribute__((weak));
void kd_tlsdec_free(kd_tlsdec *t) __attribute__((weak));

/* Application data: n plaintext bytes; their first byte was ciphertext byte ct_off of the record. */
typedef void (*kd_tlsdec_out_fn)(void *arg, int dir, const uint8_t *p, size_t n, size_t ct_off);
/* One whole record (header included) sent by side dir, in stream order. Returns 0, or -1 when
 * it could not be decrypted (authentication failed, malformed): dir stays undecryptable. */
int kd_tlsdec_record(kd_tlsdec *t, int dir, const uint8_t *rec, size_t len, kd_tlsdec_out_fn out,
                     void *arg) __attribute__((weak));
/* 1 when dir can no longer be decrypted (a failure or a gap). */
int kd_tlsdec_dead(const kd_tlsdec *t, int dir) __attribute__((weak));
void kd_tlsdec_kill(kd_tlsdec *t, int dir) __attribute__((weak));
/* Heap bytes one decryptor holds (for kd_conn_mem). */
size_t kd_tlsdec_mem(const kd_tlsdec *t) __attribute__((weak));
/* Records decrypted so far, both directions (1.3 key updates: *updates). */
uint64_t kd_tlsdec_records(const kd_tlsdec *t, uint64_t *updates) __attribute__((weak));

/* ---- inner.c: a dissector over the plaintext of one connection (the engine's layer API) */
typedef struct kd_inner kd_inner;
typedef void (*kd_inner_decorate_fn)(void *arg, kf_jw *w);
/* hint: the dissector the ALPN names ("http1", "http2"), or NULL to probe the plaintext.
 * decorate(arg, w) adds the TLS fields to each record. */
kd_inner *kd_inner_new(kd_conn *c, const char *hint, kd_inner_decorate_fn decorate, void *arg)
    __attribute__((weak));
/* Plaintext of dir; first/last: packets of its first and last byte. */
void kd_inner_data(kd_inner *in, int dir, const uint8_t *p, size_t n, const kd_pref *first,
                   const kd_pref *last) __attribute__((weak));
/* dir lost plaintext (undecryptable from here) / ended */
void kd_inner_gap(kd_inner *in, int dir) __attribute__((weak));
void kd_inner_eof(kd_inner *in, int dir) __attribute__((weak));
void kd_inner_timer(kd_inner *in, int64_t now_ns) __attribute__((weak));
void kd_inner_close(kd_inner *in) __attribute__((weak));
void kd_inner_free(kd_inner *in) __attribute__((weak));
#endif
