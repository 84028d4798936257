/* kf_keylog — NSS key log secrets by client random (see kf_keylog.h).
 * Format: developer.mozilla.org "NSS Key Log Format"; RFC 9850 (the SSLKEYLOGFILE draft). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include "kf_keylog.h"
#include "kf_source.h"

typedef struct kl_ent {
    struct kl_ent *next;
    uint8_t label, len;
    uint8_t cr[32];
    uint8_t secret[64];
} kl_ent;

struct kf_keylog {
    pthread_mutex_t mu;
    kl_ent **ht;
    size_t cap, n;
};

static const struct { const char *name; enum kf_keylog_label label; } kl_labels[] = {
    { "CLIENT_RANDOM", KF_KL_CLIENT_RANDOM },
    { "CLIENT_HANDSHAKE_TRAFFIC_SECRET", KF_KL_CLIENT_HS },
    { "SERVER_HANDSHAKE_TRAFFIC_SECRET", KF_KL_SERVER_HS },
    { "CLIENT_TRAFFIC_SECRET_0", KF_KL_CLIENT_AP0 },
    { "SERVER_TRAFFIC_SECRET_0", KF_KL_SERVER_AP0 },
};

kf_keylog *kf_keylog_new(void)
{
    kf_keylog *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    pthread_mutex_init(&k->mu, NULL);
    return k;
}

void kf_keylog_free(kf_keylog *k)
{
    if (!k) return;
    for (size_t i = 0; i < k->cap; i++)
        for (kl_ent *e = k->ht[i], *nx; e; e = nx) { nx = e->next; free(e); }
    free(k->ht);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

static size_t kl_bucket(const kf_keylog *k, const uint8_t cr[32], int label)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)label;
    for (int i = 0; i < 32; i++) { h ^= cr[i]; h *= 0x100000001b3ULL; }
    return (size_t)(h ^ h >> 29) & (k->cap - 1);
}

static kl_ent *kl_find(const kf_keylog *k, const uint8_t cr[32], int label)
{
    if (!k->cap) return NULL;
    for (kl_ent *e = k->ht[kl_bucket(k, cr, label)]; e; e = e->next)
        if (e->label == label && memcmp(e->cr, cr, 32) == 0) return e;
    return NULL;
}

static int kl_grow(kf_keylog *k)
{
    size_t nc = k->cap ? k->cap * 2 : 64;
    kl_ent **nt = calloc(nc, sizeof *nt);
    if (!nt) return -1;
    kl_ent **old = k->ht;
    size_t oc = k->cap;
    k->ht = nt; k->cap = nc;
    for (size_t i = 0; i < oc; i++)
        for (kl_ent *e = old[i], *nx; e; e = nx) {
            nx = e->next;
            size_t b = kl_bucket(k, e->cr, e->label);
            e->next = nt[b]; nt[b] = e;
        }
    free(old);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* n hex digits at p into out (n/2 bytes); -1 on a non-hex digit */
static int unhex(const char *p, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i += 2) {
        int a = hexval((unsigned char)p[i]), b = hexval((unsigned char)p[i + 1]);
        if (a < 0 || b < 0) return -1;
        out[i / 2] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

/* One line (no newline). 1 added, 0 skipped or already known, -1 unreadable. Lock held. */
static int kl_line(kf_keylog *k, const char *p, size_t n)
{
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    if (!n || p[0] == '#') return 0;
    size_t sp = 0;
    while (sp < n && p[sp] != ' ') sp++;
    int label = -1;
    for (size_t i = 0; i < sizeof kl_labels / sizeof kl_labels[0]; i++)
        if (strlen(kl_labels[i].name) == sp && memcmp(kl_labels[i].name, p, sp) == 0) label = (int)kl_labels[i].label;
    if (label < 0) return 0;
    const char *a = p + sp + 1;
    if (sp + 1 + 64 + 1 > n || a[64] != ' ') return -1;
    const char *s = a + 65;
    size_t sl = (size_t)(p + n - s);
    if (sl != 64 && sl != 96 && sl != 128) return -1;
    if (label == KF_KL_CLIENT_RANDOM && sl != 96) return -1;
    kl_ent e = { .label = (uint8_t)label, .len = (uint8_t)(sl / 2) };
    if (unhex(a, 64, e.cr) < 0 || unhex(s, sl, e.secret) < 0) return -1;
    if (kl_find(k, e.cr, label)) return 0;
    if (k->n + 1 > k->cap / 2 && kl_grow(k) < 0) return -1;
    kl_ent *ne = malloc(sizeof *ne);
    if (!ne) return -1;
    *ne = e;
    size_t b = kl_bucket(k, ne->cr, label);
    ne->next = k->ht[b]; k->ht[b] = ne;
    k->n++;
    return 1;
}

size_t kf_keylog_add_text(kf_keylog *k, const char *text, size_t len, size_t *bad)
{
    size_t added = 0, nbad = 0, i = 0;
    pthread_mutex_lock(&k->mu);
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        int r = kl_line(k, text + i, j - i);
        if (r > 0) added++;
        else if (r < 0) nbad++;
        i = j + 1;
    }
    pthread_mutex_unlock(&k->mu);
    if (bad) *bad = nbad;
    return added;
}

int kf_keylog_load_file(kf_keylog *k, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s", strerror(errno)); return -1; }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) { fclose(f); snprintf(err, errlen, "out of memory"); return -1; }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (len < cap) break;
        if (cap >= (256u << 20)) { free(buf); fclose(f); snprintf(err, errlen, "larger than 256 MiB"); return -1; }
        char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb; cap *= 2;
    }
    int ioerr = ferror(f);
    fclose(f);
    if (ioerr) { free(buf); snprintf(err, errlen, "read error"); return -1; }
    size_t bad = 0;
    kf_keylog_add_text(k, buf, len, &bad);
    free(buf);
    if (bad) { snprintf(err, errlen, "%zu unreadable key log line%s", bad, bad == 1 ? "" : "s"); return -1; }
    return 0;
}

size_t kf_keylog_get(kf_keylog *k, enum kf_keylog_label label, const uint8_t client_random[32], uint8_t out[64])
{
    size_t n = 0;
    pthread_mutex_lock(&k->mu);
    kl_ent *e = kl_find(k, client_random, (int)label);
    if (e) { memcpy(out, e->secret, e->len); n = e->len; }
    pthread_mutex_unlock(&k->mu);
    return n;
}

size_t kf_keylog_count(kf_keylog *k)
{
    pthread_mutex_lock(&k->mu);
    size_t n = k->n;
    pthread_mutex_unlock(&k->mu);
    return n;
}

size_t kf_keylog_add_dsbs(kf_keylog *k, kf_source *s, size_t *taken)
{
    size_t n = kf_source_dsb_count(s), added = 0;
    for (; *taken < n; (*taken)++) {
        const kf_dsb *d = kf_source_dsb(s, *taken);
        if (d && d->type == KF_DSB_TLS_KEYLOG) added += kf_keylog_add_text(k, (const char *)d->data, d->len, NULL);
    }
    return added;
}
