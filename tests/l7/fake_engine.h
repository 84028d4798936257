/* fake_engine.h — a stand-in for kdissect's engine (the dissector.h API) so unit tests and fuzz
 * targets can drive one protocol dissector with byte streams: bytes a direction sent are kept
 * until the dissector consumes them, as the engine does; records are collected as NDJSON.
 * Include after the dissector's .c file. Test-only: one connection at a time. */
#ifndef KF_FAKE_ENGINE_H
#define KF_FAKE_ENGINE_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../tools/kdissect/dissector.h"

struct kd_conn {
    kd_conn_info ci;
    kd_opts opts;
    const kd_dissector *d;
    void *st;
    kf_jw w;
    char *out; size_t outlen, outcap;   /* emitted records, NDJSON */
    int nrec;
    long mem;                           /* kd_conn_mem balance */
    uint8_t *buf[2]; size_t len[2], cap[2];
    uint64_t off[2];                    /* stream offset of buf[dir][0] */
    uint64_t frame;
    int64_t ts;
    int upgraded;
    int after_gap[2];                   /* a gap came: the next on_data says so until bytes are consumed */
    uint64_t stats[KD_STAT__N];
    int64_t pending, timer;             /* last kd_conn_pending / kd_conn_timer */
};

const kd_conn_info *kd_conn_get_info(const kd_conn *c) { return &c->ci; }
void kd_conn_set_client(kd_conn *c, int side) { c->ci.client = side; }
int kd_stream_ref(const kd_conn *c, int dir, uint64_t off, kd_pref *out)
{
    (void)dir;
    out->ts_ns = c->ts + (int64_t)off;   /* distinct, increasing */
    out->frame = c->frame;
    out->file = 0;
    return 0;
}
const kd_pref *kd_conn_cur_ref(const kd_conn *c) { static kd_pref r; r.ts_ns = c->ts; r.frame = c->frame; return &r; }
kf_jw *kd_emit_begin(kd_conn *c, const kd_call *call)
{
    kf_jw_reset(&c->w);
    kf_jw_obj_begin(&c->w);
    kf_jw_kstr(&c->w, "protocol", call->protocol ? call->protocol : c->d->protocol);
    kf_jw_kbool(&c->w, call->flag ? call->flag : c->d->flag, 1);
    kf_jw_kint(&c->w, "req_dir", call->req_dir);
    kf_jw_kbool(&c->w, "has_req", call->has_req);
    kf_jw_kbool(&c->w, "has_resp", call->has_resp);
    return &c->w;
}
void kd_emit_end(kd_conn *c)
{
    kf_jw_obj_end(&c->w);
    kf_jw_newline(&c->w);
    size_t n = kf_jw_len(&c->w);
    if (c->outlen + n + 1 > c->outcap) {
        size_t cap = c->outcap ? c->outcap : 4096;
        while (cap < c->outlen + n + 1) cap *= 2;
        char *nb = realloc(c->out, cap);
        if (!nb) return;
        c->out = nb; c->outcap = cap;
    }
    memcpy(c->out + c->outlen, kf_jw_data(&c->w), n);
    c->outlen += n;
    c->out[c->outlen] = 0;
    c->nrec++;
}
void kd_conn_pending(kd_conn *c, int64_t t) { c->pending = t; }
void kd_conn_timer(kd_conn *c, int64_t t) { c->timer = t; }
/* the engine's pending-call table, as the real engine links it */
#include "../../tools/kdissect/engine_pend.c"
/* and its framed mode */
#include "../../tools/kdissect/engine_frame.c"
int kd_conn_upgrade(kd_conn *c, const char *name, const kd_upgrade *u) { (void)name; (void)u; c->upgraded = 1; return -1; }
void kd_conn_mem(kd_conn *c, long d) { c->mem += d; }
void *kd_conn_blk_get(kd_conn *c, size_t size) { (void)c; return malloc(size); }
void kd_conn_blk_put(kd_conn *c, void *p, size_t size) { (void)c; (void)size; free(p); }
void kd_learn_name(kd_conn *c, const kf_addr *ip, const char *n, size_t l, int64_t t) { (void)c; (void)ip; (void)n; (void)l; (void)t; }
void kd_stat_add(kd_conn *c, enum kd_stat w, uint64_t n) { c->stats[w] += n; }

__attribute__((unused)) static void fe_open(kd_conn *c, const kd_dissector *d, int client, uint16_t cport, uint16_t sport)
{
    memset(c, 0, sizeof *c);
    c->d = d;
    c->opts.body_limit = 4096;
    c->opts.req_timeout_ns = 10000000000LL;
    c->ci.transport = KD_TRANSPORT_TCP;
    c->ci.ipproto = 6;
    c->ci.addr[0].family = c->ci.addr[1].family = 4;
    c->ci.port[client] = cport;
    c->ci.port[client ^ 1] = sport;   /* ports by side: the client's and the server's */
    c->ci.client = client;
    c->ci.opts = &c->opts;
    c->ts = 1000000000;
    c->pending = INT64_MAX;
    kf_jw_init(&c->w);
    c->st = calloc(1, d->state_size);
    if (d->init) d->init(c, c->st);
}

/* Bytes sent by side dir (appended to what it has not consumed yet). flags: KD_DATA_EOF. */
__attribute__((unused)) static void fe_data(kd_conn *c, int dir, const void *p, size_t n, unsigned flags)
{
    if (c->len[dir] + n > c->cap[dir] || !c->buf[dir]) {   /* never hand a NULL pointer over */
        size_t cap = c->cap[dir] ? c->cap[dir] : 1024;
        while (cap < c->len[dir] + n) cap *= 2;
        uint8_t *nb = realloc(c->buf[dir], cap);
        if (!nb) return;
        c->buf[dir] = nb; c->cap[dir] = cap;
    }
    if (n) memcpy(c->buf[dir] + c->len[dir], p, n);
    c->len[dir] += n;
    c->frame++;
    c->ts += 1000;
    if (!kd_dissector_takes_data(c->d)) { c->off[dir] += c->len[dir]; c->len[dir] = 0; return; }
    if (c->after_gap[dir]) flags |= KD_DATA_AFTER_GAP;   /* as the engine does */
    size_t used = kd_dissector_data(c->d, c, c->st, dir, c->buf[dir], c->len[dir], c->off[dir], flags);
    if (used) c->after_gap[dir] = 0;
    if (used > c->len[dir]) abort();   /* a dissector may never consume more than it got */
    memmove(c->buf[dir], c->buf[dir] + used, c->len[dir] - used);
    c->len[dir] -= used;
    c->off[dir] += used;
    if (c->len[dir] >= (256u << 10)) {   /* the engine's limit: drop and report a gap */
        uint64_t o = c->off[dir], l = c->len[dir];
        c->off[dir] += l;
        c->len[dir] = 0;
        kd_dissector_gap(c->d, c, c->st, dir, o, l);
        c->after_gap[dir] = 1;
    }
}

__attribute__((unused)) static void fe_gap(kd_conn *c, int dir, uint64_t len)
{
    uint64_t o = c->off[dir] + c->len[dir];
    c->len[dir] = 0;
    c->off[dir] = o + len;
    kd_dissector_gap(c->d, c, c->st, dir, o, len);
    c->after_gap[dir] = 1;
}

/* Closes: EOF for both directions, on_close, destroy. Returns the kd_conn_mem balance, which
 * must be 0 when the dissector released everything it reported. */
__attribute__((unused)) static long fe_close(kd_conn *c)
{
    for (int dir = 0; dir < 2; dir++) if (c->len[dir] && kd_dissector_takes_data(c->d)) fe_data(c, dir, NULL, 0, KD_DATA_EOF);
    if (c->d->on_close) c->d->on_close(c, c->st);
    if (c->d->destroy) c->d->destroy(c, c->st);
    free(c->st);
    free(c->buf[0]); free(c->buf[1]);
    kf_jw_free(&c->w);
    c->st = NULL;
    return c->mem;
}

__attribute__((unused)) static void fe_free(kd_conn *c) { free(c->out); c->out = NULL; }

/* The fuzz drivers' input, one piece at a time: [control byte][len byte][len bytes] (len cut to
 * what is left). 1 and *ctl, *p, *n set while a piece remains at *i (moved past it); 0 at the end. */
static inline int fe_piece(const uint8_t *data, size_t size, size_t *i, uint8_t *ctl, const uint8_t **p, uint8_t *n)
{
    if (*i + 2 > size) return 0;
    *ctl = data[*i]; *n = data[*i + 1];
    *i += 2;
    if (*n > size - *i) *n = (uint8_t)(size - *i);
    *p = data + *i;
    *i += *n;
    return 1;
}

/* Fuzz input format: a sequence of [control byte][len byte][len bytes]: bit 0 of the control is
 * the direction, bit 1 a gap before the data, bit 2 EOF with it. Drives one TCP connection (the
 * probe on the first piece says which side is the client). Returns the kd_conn_mem balance;
 * *nrec (when not NULL): the records written, those at close included. */
__attribute__((unused)) static long fe_fuzz_tcp(const kd_dissector *d, const uint8_t *data, size_t size,
                                                uint16_t sport, int *nrec)
{
    kd_conn c;
    int client = 0;
    if (size > 2 && d->probe) {   /* the probe on the first piece says which side is the client */
        kd_conn_info ci = {0};
        ci.transport = KD_TRANSPORT_TCP; ci.port[0] = 40000; ci.port[1] = sport; ci.client = -1;
        size_t n = data[1] < size - 2 ? data[1] : size - 2;
        if (d->probe(&ci, data[0] & 1, data + 2, n) == KD_PROBE_SERVER) client = (data[0] & 1) ^ 1;
        else client = data[0] & 1;
    }
    fe_open(&c, d, client, 40000, sport);
    size_t i = 0;
    uint8_t ctl, n;
    const uint8_t *p;
    while (fe_piece(data, size, &i, &ctl, &p, &n)) {
        int dir = ctl & 1;
        if (ctl & 2) fe_gap(&c, dir, 100);
        fe_data(&c, dir, p, n, (ctl & 4) ? KD_DATA_EOF : 0);
    }
    long mem = fe_close(&c);
    if (nrec) *nrec = c.nrec;
    fe_free(&c);
    return mem;
}

__attribute__((unused)) static long fe_fuzz(const kd_dissector *d, const uint8_t *data, size_t size, uint16_t sport)
{
    return fe_fuzz_tcp(d, data, size, sport, NULL);
}

/* The same for UDP: [ctl][len][len bytes]…, each a datagram; ctl bit 0 the side, bit 1 probe the
 * datagram first, bit 2 run the timer 20 s later. */
__attribute__((unused)) static long fe_fuzz_udp(const kd_dissector *d, const uint8_t *data, size_t size,
                                                uint16_t sport, int *nrec)
{
    kd_conn c;
    fe_open(&c, d, 0, 40000, sport);
    c.ci.transport = KD_TRANSPORT_UDP;
    c.ci.ipproto = 17;
    kd_pref ref = {1000, 1, 0};
    size_t i = 0;
    uint8_t ctl, n;
    const uint8_t *p;
    while (fe_piece(data, size, &i, &ctl, &p, &n)) {
        int dir = ctl & 1;
        if ((ctl & 2) && d->probe) (void)d->probe(&c.ci, dir, p, n);
        if (d->on_datagram) d->on_datagram(&c, c.st, dir, p, n, &ref);
        if ((ctl & 4) && d->on_timer) d->on_timer(&c, c.st, ref.ts_ns + 20000000000LL);
        ref.ts_ns += 1000; ref.frame++;
    }
    long mem = fe_close(&c);
    if (nrec) *nrec = c.nrec;
    fe_free(&c);
    return mem;
}
#endif
