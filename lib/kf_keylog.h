/* kf_keylog — TLS secrets in the NSS key log format (SSLKEYLOGFILE; the same text a pcapng
 * Decryption Secrets Block of type 0x544c534b carries), looked up by the ClientHello's random.
 *
 *   CLIENT_RANDOM <64 hex: client random> <96 hex: TLS 1.2 master secret>
 *   CLIENT_HANDSHAKE_TRAFFIC_SECRET / SERVER_HANDSHAKE_TRAFFIC_SECRET /
 *   CLIENT_TRAFFIC_SECRET_0 / SERVER_TRAFFIC_SECRET_0 <64 hex> <64 or 96 hex: TLS 1.3 secret>
 *
 * Other labels (EXPORTER_SECRET, CLIENT_EARLY_TRAFFIC_SECRET, RSA …) and comments are skipped.
 * Thread-safe: kdissect -j adds secrets from DSBs while workers look them up. Never prints. */
#ifndef KF_KEYLOG_H
#define KF_KEYLOG_H
#include <stdint.h>
#include <stddef.h>

#define KF_DSB_TLS_KEYLOG 0x544c534bu   /* "TLSK" */

enum kf_keylog_label {
    KF_KL_CLIENT_RANDOM,        /* TLS 1.2 master secret (48 bytes) */
    KF_KL_CLIENT_HS,            /* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
    KF_KL_SERVER_HS,            /* SERVER_HANDSHAKE_TRAFFIC_SECRET */
    KF_KL_CLIENT_AP0,           /* CLIENT_TRAFFIC_SECRET_0 */
    KF_KL_SERVER_AP0,           /* SERVER_TRAFFIC_SECRET_0 */
    KF_KL__N
};

typedef struct kf_keylog kf_keylog;

kf_keylog *kf_keylog_new(void);
void kf_keylog_free(kf_keylog *k);
/* Adds the secrets in text (lines of the format above). Returns how many were new; *bad (may be
 * NULL) gets the number of lines with a known label that could not be read. */
size_t kf_keylog_add_text(kf_keylog *k, const char *text, size_t len, size_t *bad);
/* Reads a key log file. 0, or -1 with "what went wrong" in err. */
int kf_keylog_load_file(kf_keylog *k, const char *path, char *err, size_t errlen);
/* The secret for label and client random: its length (32, 48 or 64), copied into out; 0 when
 * unknown. */
size_t kf_keylog_get(kf_keylog *k, enum kf_keylog_label label, const uint8_t client_random[32],
                     uint8_t out[64]);
/* Adds the TLS key logs among the DSBs a kf_source has read, from index *taken on (which
 * advances); returns how many secrets were new. */
struct kf_source;
size_t kf_keylog_add_dsbs(kf_keylog *k, struct kf_source *s, size_t *taken);
/* Number of secrets held. */
size_t kf_keylog_count(kf_keylog *k);
#endif
