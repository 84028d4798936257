/* websocket.c — WebSocket after an HTTP/1.1 Upgrade (RFC 6455 §5; permessage-deflate RFC 7692).
 *
 *   byte 0: FIN | RSV1 RSV2 RSV3 | opcode(4)     0 continuation 1 text 2 binary 8 close 9 ping 10 pong
 *   byte 1: MASK | payload len(7)   126: 16-bit length follows; 127: 64-bit length follows
 *   [masking key(4) when MASK] payload
 *
 * One record per message (a data message's fragments joined; control frames, which may come
 * between fragments, are messages of their own). Client messages fill the ws_request_* fields,
 * server messages the ws_response_* fields. Compressed messages (RSV1 with permessage-deflate)
 * are inflated with zlib, keeping the window across messages unless no_context_takeover. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "kf_cursor.h"

static const char *ws_opcode_name(int op)
{
    switch (op) {
    case 0: return "continuation";
    case 1: return "text";
    case 2: return "binary";
    case 8: return "close";
    case 9: return "ping";
    case 10: return "pong";
    }
    return "reserved";
}

typedef struct ws_frame_hdr {
    int fin, rsv, opcode, masked;
    uint8_t key[4];
    uint64_t len;
    size_t hlen;                /* header bytes */
} ws_frame_hdr;

/* Frame header at p. 1 ok, 0 more, -1 invalid. */
static int ws_frame_header(const uint8_t *p, size_t n, ws_frame_hdr *h)
{
    if (n < 2) return 0;
    h->fin = p[0] >> 7;
    h->rsv = p[0] >> 4 & 7;
    h->opcode = p[0] & 15;
    h->masked = p[1] >> 7;
    uint64_t len = p[1] & 127;
    size_t o = 2;
    if (len == 126) { if (n < 4) return 0; len = kf_ld_be16(p + 2); o = 4; }
    else if (len == 127) {
        if (n < 10) return 0;
        len = (uint64_t)kf_ld_be32(p + 2) << 32 | kf_ld_be32(p + 6);
        if (len >> 63) return -1;
        o = 10;
    }
    if (h->masked) { if (n < o + 4) return 0; memcpy(h->key, p + o, 4); o += 4; }
    h->len = len;
    h->hlen = o;
    if ((h->opcode >= 3 && h->opcode <= 7) || h->opcode > 10) return -1;
    /* control frames must be unfragmented with <= 125 bytes (§5.5); such a frame is still
     * read, and the record says it broke the rule */
    return (h->opcode >= 8 && (!h->fin || len > 125)) ? 2 : 1;
}

/* --- dissector glue ---------------------------------------------------------------------- */
#ifndef KD_PARSE_ONLY
#include "../dissector.h"

typedef struct ws_msg {
    int active, opcode, compressed, frames, masked, violation;
    uint64_t length;            /* payload bytes on the wire */
    uint8_t *data; size_t dlen, dcap;   /* payload kept (unmasked), up to the body limit */
    int truncated;
    kd_pref first, last;
} ws_msg;

typedef struct ws_dir {
    ws_msg data;                /* a data message being assembled */
    ws_msg ctl;                 /* the current control frame */
    int in_frame;               /* inside a frame's payload */
    ws_frame_hdr fh;
    uint64_t frame_left, frame_pos;
    z_stream z; int z_init;
    int no_takeover;
} ws_dir;

typedef struct ws_state {
    kd_conn *conn;
    int client;
    int deflate;                /* permessage-deflate negotiated */
    ws_dir d[2];
    char url[256];
    char protocol[64];
    int dead[2];
    long mem;
} ws_state;

static void ws_mem(ws_state *s, long d) { s->mem += d; kd_conn_mem(s->conn, d); }

static void ws_keep(ws_state *s, ws_msg *m, const uint8_t *p, size_t n, size_t limit)
{
    if (m->dlen >= limit) { if (n) m->truncated = 1; return; }
    size_t take = n < limit - m->dlen ? n : limit - m->dlen;
    if (take < n) m->truncated = 1;
    if (m->dlen + take > m->dcap) {
        size_t cap = m->dcap ? m->dcap : 256;
        while (cap < m->dlen + take) cap *= 2;
        if (cap > limit) cap = limit;
        uint8_t *nb = realloc(m->data, cap);
        if (!nb) return;
        ws_mem(s, (long)(cap - m->dcap));
        m->data = nb; m->dcap = cap;
    }
    memcpy(m->data + m->dlen, p, take);
    m->dlen += take;
}

static int ws_is_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') return 0;
    return 1;   /* UTF-8 validity is left to the JSON writer (\xNN for bad bytes) */
}

/* Inflates a compressed message in place (bounded by limit). */
static void ws_inflate(ws_state *s, ws_dir *d, ws_msg *m, size_t limit)
{
    if (!d->z_init) {
        memset(&d->z, 0, sizeof d->z);
        if (inflateInit2(&d->z, -15) != Z_OK) return;
        d->z_init = 1;
        ws_mem(s, 48 << 10);   /* zlib's window and state, roughly */
    }
    static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
    size_t cap = limit ? limit : 4096;
    uint8_t *out = malloc(cap);
    if (!out) return;
    d->z.next_out = out; d->z.avail_out = (uInt)cap;
    d->z.next_in = m->data; d->z.avail_in = (uInt)m->dlen;
    int rc = inflate(&d->z, Z_SYNC_FLUSH);
    if (rc == Z_OK || rc == Z_BUF_ERROR || rc == Z_STREAM_END) {
        d->z.next_in = (Bytef *)tail; d->z.avail_in = 4;
        if (d->z.avail_out) inflate(&d->z, Z_SYNC_FLUSH);
        size_t got = cap - d->z.avail_out;
        if (got == cap) m->truncated = 1;
        if (got > m->dcap) {
            uint8_t *nb = realloc(m->data, got);
            if (!nb) { free(out); return; }
            ws_mem(s, (long)(got - m->dcap));
            m->data = nb; m->dcap = got;
        }
        memcpy(m->data, out, got);
        m->dlen = got;
    } else {
        m->compressed = 2;   /* could not inflate (e.g. the window from before the capture) */
    }
    free(out);
    if (d->no_takeover || m->compressed == 2) inflateReset(&d->z);
}

static void ws_emit(ws_state *s, int dir, ws_msg *m)
{
    int from_client = dir == s->client;
    kd_call call = {0};
    call.req_dir = s->client >= 0 ? s->client : 0;
    call.has_req = from_client;
    call.has_resp = !from_client;
    if (from_client) { call.req_first = m->first; call.req_last = m->last; }
    else { call.resp_first = m->first; call.resp_last = m->last; }
    const kd_conn_info *ci = kd_conn_get_info(s->conn);
    size_t limit = ci && ci->opts && ci->opts->body_limit ? ci->opts->body_limit : 4096;
    if (m->compressed == 1) ws_inflate(s, &s->d[dir], m, limit);
    kf_jw *w = kd_emit_begin(s->conn, &call);
    if (w) {
        kf_jw_kstr(w, "ws_opcode", ws_opcode_name(m->opcode));
        kf_jw_kbool(w, "ws_request", from_client);
        kf_jw_kbool(w, "ws_response", !from_client);
        const char *pre = from_client ? "ws_request_payload" : "ws_response_payload";
        char key[48];
        snprintf(key, sizeof key, "%s_length", pre);
        kf_jw_kuint(w, key, m->length);
        snprintf(key, sizeof key, "%s_data", pre);
        if (m->dlen) {
            if ((m->opcode == 1 || m->opcode == 8 || ws_is_text(m->data, m->dlen)) && m->opcode != 2 &&
                !(m->opcode == 8 && m->dlen >= 2))
                kf_jw_kstrn(w, key, (const char *)m->data, m->dlen);
            else if (m->opcode == 8) {
                kf_jw_kint(w, "ws_close_code", kf_ld_be16(m->data));
                kf_jw_kstrn(w, "ws_close_reason", (const char *)m->data + 2, m->dlen - 2);
            } else {
                kf_jw_key(w, key);
                kf_jw_base64(w, m->data, m->dlen);
                kf_jw_kstr(w, "ws_payload_encoding", "base64");
            }
        }
        if (m->truncated) kf_jw_kbool(w, "ws_payload_truncated", 1);
        kf_jw_kint(w, "ws_frames", m->frames);
        kf_jw_kbool(w, "ws_masked", m->masked);
        if (m->violation) kf_jw_kstr(w, "ws_warning", "control frame longer than 125 bytes or fragmented (RFC 6455 5.5)");
        if (m->compressed) kf_jw_kbool(w, "ws_compressed", 1);
        if (m->compressed == 2) kf_jw_kbool(w, "ws_inflate_failed", 1);
        if (s->url[0]) kf_jw_kstr(w, "url", s->url);
        if (s->protocol[0]) kf_jw_kstr(w, "ws_protocol", s->protocol);
        kd_emit_end(s->conn);
    }
    if (m->dcap) ws_mem(s, -(long)m->dcap);
    free(m->data);
    memset(m, 0, sizeof *m);
}

static void ws_upgrade(kd_conn *c, void *st, const kd_upgrade *u)
{
    ws_state *s = st;
    s->conn = c;
    s->client = u->client;
    if (u->url) snprintf(s->url, sizeof s->url, "%s", u->url);
    if (u->ws_protocol) snprintf(s->protocol, sizeof s->protocol, "%s", u->ws_protocol);
    if (u->ws_extensions && strstr(u->ws_extensions, "permessage-deflate")) {
        s->deflate = 1;
        if (strstr(u->ws_extensions, "client_no_context_takeover")) s->d[u->client].no_takeover = 1;
        if (strstr(u->ws_extensions, "server_no_context_takeover")) s->d[u->client ^ 1].no_takeover = 1;
    }
}

static void ws_init(kd_conn *c, void *st)
{
    ws_state *s = st;
    s->conn = c;
    const kd_conn_info *ci = kd_conn_get_info(c);
    s->client = ci && ci->client >= 0 ? ci->client : 0;
}

static size_t ws_data(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t off,
                      unsigned flags)
{
    ws_state *s = st;
    s->conn = c;
    if (s->dead[dir]) return n;
    ws_dir *d = &s->d[dir];
    const kd_conn_info *ci = kd_conn_get_info(c);
    size_t limit = ci && ci->opts && ci->opts->body_limit ? ci->opts->body_limit : 4096;
    size_t used = 0;
    while (used < n) {
        if (!d->in_frame) {
            int r = ws_frame_header(p + used, n - used, &d->fh);
            if (r == 0) break;
            if (r < 0) { kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1); s->dead[dir] = 1; return n; }
            if (d->fh.opcode >= 8 && d->fh.len > (1u << 20)) { s->dead[dir] = 1; return n; }
            kd_pref f;
            kd_stream_ref(c, dir, off + used, &f);
            ws_msg *m;
            if (d->fh.opcode >= 8) {
                m = &d->ctl;
                if (m->active) ws_emit(s, dir, m);
                memset(m, 0, sizeof *m);
                m->active = 1; m->opcode = d->fh.opcode; m->first = f;
                m->masked = d->fh.masked;
                m->violation = r == 2;
            } else {
                m = &d->data;
                if (d->fh.opcode != 0 || !m->active) {
                    if (m->active) ws_emit(s, dir, m);     /* a new message before FIN */
                    m->active = 1;
                    m->opcode = d->fh.opcode;
                    m->first = f;
                    m->compressed = s->deflate && (d->fh.rsv & 4);
                    m->masked = d->fh.masked;
                }
            }
            m->frames++;
            m->length += d->fh.len;
            used += d->fh.hlen;
            d->in_frame = 1;
            d->frame_left = d->fh.len;
            d->frame_pos = 0;
        }
        ws_msg *m = d->fh.opcode >= 8 ? &d->ctl : &d->data;
        size_t take = d->frame_left < n - used ? (size_t)d->frame_left : n - used;
        if (take) {
            /* unmask what we keep (the key rotates with the position in the frame) */
            size_t keep_room = m->dlen < limit ? limit - m->dlen : 0;
            size_t k = take < keep_room ? take : keep_room;
            uint8_t tmp[4096];
            size_t done = 0;
            while (done < k) {
                size_t chunk = k - done < sizeof tmp ? k - done : sizeof tmp;
                for (size_t i = 0; i < chunk; i++) {
                    uint8_t b = p[used + done + i];
                    if (d->fh.masked) b ^= d->fh.key[(d->frame_pos + done + i) & 3];
                    tmp[i] = b;
                }
                ws_keep(s, m, tmp, chunk, limit);
                done += chunk;
            }
            if (k < take) m->truncated = 1;
            d->frame_pos += take;
            d->frame_left -= take;
            used += take;
        }
        if (d->frame_left) break;
        d->in_frame = 0;
        kd_pref l;
        kd_stream_ref(c, dir, off + used - (used ? 1 : 0), &l);
        m->last = l;
        if (d->fh.fin || d->fh.opcode >= 8) ws_emit(s, dir, m);   /* control frames stand alone */
    }
    if (flags & KD_DATA_EOF) {
        if (d->data.active) ws_emit(s, dir, &d->data);
        return n;
    }
    return used;
}

static void ws_gap(kd_conn *c, void *st, int dir, uint64_t off, uint64_t len)
{
    ws_state *s = st;
    s->conn = c;
    ws_dir *d = &s->d[dir];
    if (d->in_frame && d->frame_left > len) { d->frame_left -= len; d->frame_pos += len; d->data.truncated = 1; return; }
    /* frame boundaries are lost: stop reading this direction */
    if (d->data.active) ws_emit(s, dir, &d->data);
    s->dead[dir] = 1;
}

static void ws_close(kd_conn *c, void *st)
{
    ws_state *s = st;
    s->conn = c;
    for (int i = 0; i < 2; i++) if (s->d[i].data.active) ws_emit(s, i, &s->d[i].data);
    kd_conn_pending(c, INT64_MAX);
}

static void ws_destroy(kd_conn *c, void *st)
{
    ws_state *s = st;
    s->conn = c;
    for (int i = 0; i < 2; i++) {
        free(s->d[i].data.data);
        free(s->d[i].ctl.data);
        if (s->d[i].z_init) inflateEnd(&s->d[i].z);
    }
    kd_conn_mem(c, -s->mem);
    s->mem = 0;
}

const kd_dissector kd_proto_websocket = {
    .name = "websocket", .protocol = "WS", .flag = "ws", .l7_name = "WEBSOCKET",
    .transports = KD_TRANSPORT_TCP, .upgrade_only = 1, .state_size = sizeof(ws_state),
    .init = ws_init, .on_data = ws_data, .on_gap = ws_gap, .on_upgrade = ws_upgrade,
    .on_close = ws_close, .destroy = ws_destroy,
};
#endif /* KD_PARSE_ONLY */
