/* inner.c — runs a dissector over a byte stream made inside a connection (the plaintext of a
 * decrypted TLS connection), as the engine runs one over TCP payload: it chooses the dissector
 * (the name the ALPN gives, else probing the first plaintext bytes of either side), keeps each
 * direction's unconsumed bytes and the packets they came in, and serves the dissector's engine
 * calls through a layer (dissector.h, kd_conn_layer): packet references of plaintext offsets,
 * upgrades (HTTP/1 to WebSocket inside TLS), and the TLS fields each record carries. */
#include <stdlib.h>
#include <string.h>
#include "tlsdec.h"

#define IN_PROBE_MAX 4096
#define IN_BUF_MAX (256u << 10)

typedef struct in_dir {
    uint8_t *buf; size_t len, cap;
    uint64_t off;               /* plaintext offset of buf[0] */
    kd_reflist refs;            /* packet references of the plaintext (dissector.h) */
    int after_gap, eof, probe_no;
} in_dir;

struct kd_inner {
    kd_conn *c;
    const kd_dissector *d; void *st;
    const kd_dissector *up_d; void *up_st;
    int state;                  /* 0 choosing, 1 running, 2 nothing to run */
    const char *hint;
    kd_layer layer;
    kd_inner_decorate_fn decorate; void *arg;
    in_dir dir[2];
};

static int in_stream_ref(void *arg, int dir, uint64_t off, kd_pref *out)
{
    return kd_reflist_find(&((kd_inner *)arg)->dir[dir & 1].refs, off, out);
}

static void in_decorate(void *arg, kf_jw *w)
{
    kd_inner *in = arg;
    if (in->decorate) in->decorate(in->arg, w);
}

/* a dissector to run on d's state; enters the layer named after it */
static int in_upgrade(void *arg, const char *name, const kd_upgrade *u)
{
    kd_inner *in = arg;
    if (!name) return -1;   /* back to detection (a CONNECT tunnel inside TLS): not done here */
    const kd_dissector *d = kd_dissector_find(name);
    if (!d || !(d->transports & KD_TRANSPORT_TCP) || in->up_d || !kd_conn_dissector_enabled(in->c, d)) return -1;
    void *st = calloc(1, d->state_size ? d->state_size : 1);
    if (!st) return -1;
    kd_conn_mem(in->c, (long)d->state_size);
    in->up_d = d; in->up_st = st;
    const kd_dissector *old = in->layer.d;
    in->layer.d = d;
    if (d->init) d->init(in->c, st);
    if (d->on_upgrade) d->on_upgrade(in->c, st, u);
    in->layer.d = old;
    return 0;
}

kd_inner *kd_inner_new(kd_conn *c, const char *hint, kd_inner_decorate_fn decorate, void *arg)
{
    kd_inner *in = calloc(1, sizeof *in);
    if (!in) return NULL;
    in->c = c;
    in->hint = hint;
    in->decorate = decorate; in->arg = arg;
    in->layer = (kd_layer){ NULL, in_stream_ref, in_upgrade, in_decorate, in };
    kd_conn_mem(c, (long)sizeof *in);
    return in;
}

static void in_free_dis(kd_inner *in, const kd_dissector *d, void *st)
{
    if (!d) return;
    const kd_layer *old = kd_conn_layer(in->c, &in->layer);
    if (d->destroy) d->destroy(in->c, st);
    kd_conn_layer(in->c, old);
    kd_conn_mem(in->c, -(long)d->state_size);
    free(st);
}

void kd_inner_free(kd_inner *in)
{
    if (!in) return;
    in_free_dis(in, in->d, in->st);
    in_free_dis(in, in->up_d, in->up_st);
    long mem = (long)sizeof *in;
    for (int i = 0; i < 2; i++) {
        mem += (long)(in->dir[i].cap + kd_reflist_mem(&in->dir[i].refs));
        free(in->dir[i].buf);
        free(in->dir[i].refs.v);
    }
    kd_conn_mem(in->c, -mem);
    free(in);
}

static void in_consume(in_dir *d, size_t k)
{
    if (k >= d->len) { d->off += d->len; d->len = 0; }
    else { memmove(d->buf, d->buf + k, d->len - k); d->len -= k; d->off += k; }
    kd_reflist_prune(&d->refs, d->off);
}

static int in_activate(kd_inner *in, const kd_dissector *d)
{
    in->st = calloc(1, d->state_size ? d->state_size : 1);
    if (!in->st) { in->state = 2; return -1; }
    kd_conn_mem(in->c, (long)d->state_size);
    in->d = d;
    in->layer.d = d;
    in->state = 1;
    const kd_layer *old = kd_conn_layer(in->c, &in->layer);
    if (d->init) d->init(in->c, in->st);
    kd_conn_layer(in->c, old);
    return 0;
}

/* chooses the dissector: the hint, else the first that recognises dir's bytes */
static void in_choose(kd_inner *in, int dir, int final)
{
    if (in->hint) {
        const kd_dissector *d = kd_dissector_find(in->hint);
        in->hint = NULL;
        if (d && (d->transports & KD_TRANSPORT_TCP) && kd_conn_dissector_enabled(in->c, d)) { in_activate(in, d); return; }
    }
    in_dir *id = &in->dir[dir];
    if (!id->len || id->probe_no) return;
    size_t n;
    const kd_dissector *const *tab = kd_dissectors(&n);
    const kd_conn_info *ci = kd_conn_get_info(in->c);
    int more = 0;
    for (size_t i = 0; i < n; i++) {
        const kd_dissector *d = tab[i];
        if (d->upgrade_only || !d->probe || !(d->transports & KD_TRANSPORT_TCP) || strcmp(d->name, "tls") == 0 ||
            !kd_conn_dissector_enabled(in->c, d))
            continue;
        int r = d->probe(ci, dir, id->buf, id->len);
        if (r == KD_PROBE_CLIENT || r == KD_PROBE_SERVER) {
            if (more && !final) return;
            in_activate(in, d);
            return;
        }
        if (r == KD_PROBE_MORE) more = 1;
    }
    if (!more || final || id->len >= IN_PROBE_MAX) id->probe_no = 1;
    if (in->dir[0].probe_no && in->dir[1].probe_no) in->state = 2;
}

static void in_run(kd_inner *in, int dir, unsigned flags);

static void in_apply_upgrade(kd_inner *in)
{
    in_free_dis(in, in->d, in->st);
    in->d = in->up_d; in->st = in->up_st;
    in->up_d = NULL; in->up_st = NULL;
    in->layer.d = in->d;
    for (int k = 0; k < 2; k++) if (in->dir[k].len) in_run(in, k, 0);
}

static void in_run(kd_inner *in, int dir, unsigned flags)
{
    in_dir *d = &in->dir[dir];
    if (in->state != 1 || !kd_dissector_takes_data(in->d)) { in_consume(d, d->len); return; }
    if (!d->len && !(flags & KD_DATA_EOF)) return;
    static const uint8_t none[1];
    unsigned fl = flags | (d->after_gap ? KD_DATA_AFTER_GAP : 0);
    const kd_layer *old = kd_conn_layer(in->c, &in->layer);
    size_t k = kd_dissector_data(in->d, in->c, in->st, dir, d->buf ? d->buf : none, d->len, d->off, fl);
    if (k > d->len) k = d->len;
    if (k) d->after_gap = 0;
    in_consume(d, k);
    if (!in->up_d && d->len >= IN_BUF_MAX) {
        uint64_t off = d->off, len = d->len;
        in_consume(d, d->len);
        kd_dissector_gap(in->d, in->c, in->st, dir, off, len);
        d->after_gap = 1;
    }
    kd_conn_layer(in->c, old);
    if (in->up_d) in_apply_upgrade(in);
}

static int in_append(kd_inner *in, in_dir *d, const uint8_t *p, size_t n)
{
    if (d->len + n > d->cap) {
        size_t nc = d->cap ? d->cap : 4096;
        while (nc < d->len + n) nc *= 2;
        uint8_t *nb = realloc(d->buf, nc);
        if (!nb) return -1;
        kd_conn_mem(in->c, (long)(nc - d->cap));
        d->buf = nb; d->cap = nc;
    }
    memcpy(d->buf + d->len, p, n);
    d->len += n;
    return 0;
}

static void in_ref_push(kd_inner *in, in_dir *d, uint64_t off, const kd_pref *r)
{
    long grew = kd_reflist_push(&d->refs, off, r);
    if (grew > 0) kd_conn_mem(in->c, grew);
}

void kd_inner_data(kd_inner *in, int dir, const uint8_t *p, size_t n, const kd_pref *first, const kd_pref *last)
{
    dir &= 1;
    in_dir *d = &in->dir[dir];
    if (in->state == 2 || d->eof || !n) return;
    uint64_t at = d->off + d->len;
    in_ref_push(in, d, at, first);
    if (n > 1) in_ref_push(in, d, at + n - 1, last);
    if (in->state == 0 && d->len + n > IN_PROBE_MAX) n = IN_PROBE_MAX > d->len ? IN_PROBE_MAX - d->len : 0;
    if (in_append(in, d, p, n) < 0) { in->state = 2; return; }
    if (in->state == 0) {
        in_choose(in, dir, 0);
        if (in->state != 1) return;
        in_run(in, dir, 0);
        if (in->dir[!dir].len) in_run(in, !dir, 0);
        return;
    }
    in_run(in, dir, 0);
}

void kd_inner_gap(kd_inner *in, int dir)
{
    dir &= 1;
    in_dir *d = &in->dir[dir];
    if (d->eof) return;
    if (in->state == 1) {
        if (d->len) in_run(in, dir, KD_DATA_GAP_NEXT);
        uint64_t off = d->off + d->len;
        in_consume(d, d->len);
        const kd_layer *old = kd_conn_layer(in->c, &in->layer);
        kd_dissector_gap(in->d, in->c, in->st, dir, off, 1);
        kd_conn_layer(in->c, old);
        d->off = off + 1;
    } else in_consume(d, d->len);
    d->after_gap = 1;
    d->eof = 1;         /* nothing more is readable in this direction */
}

void kd_inner_eof(kd_inner *in, int dir)
{
    dir &= 1;
    in_dir *d = &in->dir[dir];
    if (in->state == 0) {
        for (int k = 0; k < 2 && in->state == 0; k++) in_choose(in, k == 0 ? dir : !dir, 1);
        if (in->state == 1) for (int k = 0; k < 2; k++) if (in->dir[k].len) in_run(in, k, 0);
    }
    if (d->eof == 2) return;
    if (in->state == 1) in_run(in, dir, KD_DATA_EOF);
    d->eof = 2;
}

void kd_inner_timer(kd_inner *in, int64_t now_ns)
{
    if (in->state != 1 || !in->d->on_timer) return;
    const kd_layer *old = kd_conn_layer(in->c, &in->layer);
    in->d->on_timer(in->c, in->st, now_ns);
    kd_conn_layer(in->c, old);
}

void kd_inner_close(kd_inner *in)
{
    for (int k = 0; k < 2; k++) kd_inner_eof(in, k);
    if (in->state != 1 || !in->d->on_close) return;
    const kd_layer *old = kd_conn_layer(in->c, &in->layer);
    in->d->on_close(in->c, in->st);
    kd_conn_layer(in->c, old);
}
