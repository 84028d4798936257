/* amqp.c — AMQP 0-9-1 (the AMQP 0-9-1 specification, §4.2 "Protocol and framing", and its
 * class/method reference).
 *
 *   protocol header (client first): "AMQP" 0 0 9 1
 *   frame: type(1) channel(2) size(4) payload(size) frame-end(0xCE)
 *          1 method: class-id(2) method-id(2) arguments;  2 content header: class-id(2)
 *          weight(2) body-size(8) property flags, properties;  3 body;  8 heartbeat
 *
 * Records: a synchronous method and its -ok reply on the same channel make one record (a reply
 * can come from either side: the server opens the connection with start, tune); asynchronous
 * methods (basic.publish, deliver, ack …) are records without reply, and those that carry
 * content (publish, deliver, return, get-ok) wait for their content header and body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kf_cursor.h"

static const char *amqp_class_name(int c)
{
    switch (c) {
    case 10: return "connection";
    case 20: return "channel";
    case 40: return "exchange";
    case 50: return "queue";
    case 60: return "basic";
    case 85: return "confirm";
    case 90: return "tx";
    }
    return NULL;
}

static const char *amqp_method_name(int c, int m)
{
    switch (c * 1000 + m) {
    case 10010: return "start"; case 10011: return "start-ok"; case 10020: return "secure";
    case 10021: return "secure-ok"; case 10030: return "tune"; case 10031: return "tune-ok";
    case 10040: return "open"; case 10041: return "open-ok"; case 10050: return "close";
    case 10051: return "close-ok"; case 10060: return "blocked"; case 10061: return "unblocked";
    case 10070: return "update-secret"; case 10071: return "update-secret-ok";
    case 20010: return "open"; case 20011: return "open-ok"; case 20020: return "flow";
    case 20021: return "flow-ok"; case 20040: return "close"; case 20041: return "close-ok";
    case 40010: return "declare"; case 40011: return "declare-ok"; case 40020: return "delete";
    case 40021: return "delete-ok"; case 40030: return "bind"; case 40031: return "bind-ok";
    case 40040: return "unbind"; case 40051: return "unbind-ok";
    case 50010: return "declare"; case 50011: return "declare-ok"; case 50020: return "bind";
    case 50021: return "bind-ok"; case 50030: return "purge"; case 50031: return "purge-ok";
    case 50040: return "delete"; case 50041: return "delete-ok"; case 50050: return "unbind";
    case 50051: return "unbind-ok";
    case 60010: return "qos"; case 60011: return "qos-ok"; case 60020: return "consume";
    case 60021: return "consume-ok"; case 60030: return "cancel"; case 60031: return "cancel-ok";
    case 60040: return "publish"; case 60050: return "return"; case 60060: return "deliver";
    case 60070: return "get"; case 60071: return "get-ok"; case 60072: return "get-empty";
    case 60080: return "ack"; case 60090: return "reject"; case 60100: return "recover-async";
    case 60110: return "recover"; case 60111: return "recover-ok"; case 60120: return "nack";
    case 85010: return "select"; case 85011: return "select-ok";
    case 90010: return "select"; case 90011: return "select-ok"; case 90020: return "commit";
    case 90021: return "commit-ok"; case 90030: return "rollback"; case 90031: return "rollback-ok";
    }
    return NULL;
}

/* The reply method a synchronous method expects (0: asynchronous). */
static int amqp_reply_of(int c, int m)
{
    switch (c * 1000 + m) {
    case 10010: case 10020: case 10030: case 10040: case 10050: case 10070:
    case 20010: case 20020: case 20040:
    case 40010: case 40020: case 40030:
    case 50010: case 50020: case 50030: case 50040: case 50050:
    case 60010: case 60020: case 60030: case 60110:
    case 85010: case 90010: case 90020: case 90030:
        return m + 1;
    case 40040: return 51;          /* exchange.unbind → unbind-ok (51) */
    case 60070: return 71;          /* basic.get → get-ok (71) or get-empty (72) */
    }
    return 0;
}

static int amqp_is_reply(int c, int m)
{
    if (c == 60 && (m == 71 || m == 72)) return 1;
    const char *n = amqp_method_name(c, m);
    size_t l = n ? strlen(n) : 0;
    return l > 3 && !strcmp(n + l - 3, "-ok");
}

static int amqp_has_content(int c, int m) { return c == 60 && (m == 40 || m == 50 || m == 60 || m == 71); }

/* A parsed method: names and the arguments we report. */
typedef struct amqp_method {
    int cls, meth;
    char exchange[128], routing_key[128], queue[128], consumer_tag[64];
    char vhost[64], reply_text[160];
    int reply_code;
    int nowait;
    uint64_t delivery_tag;
} amqp_method;

static void amqp_shortstr(kf_cur *c, char *out, size_t cap)
{
    uint8_t l = kf_u8(c);
    const uint8_t *p = kf_cur_take(c, l);
    size_t n = p ? l : 0;
    if (n >= cap) n = cap - 1;
    if (p) memcpy(out, p, n);
    out[n] = 0;
}

static void amqp_parse_method(const uint8_t *p, size_t n, amqp_method *m)
{
    memset(m, 0, sizeof *m);
    kf_cur c = kf_cur_make(p, n);
    m->cls = kf_be16(&c);
    m->meth = kf_be16(&c);
    char tmp[128];
    uint8_t bits;
    switch (m->cls * 1000 + m->meth) {
    case 10040: amqp_shortstr(&c, m->vhost, sizeof m->vhost); break;
    case 10050: case 20040:                                  /* close: code, text, class, method */
        m->reply_code = kf_be16(&c);
        amqp_shortstr(&c, m->reply_text, sizeof m->reply_text);
        break;
    case 40010:                                              /* exchange.declare */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->exchange, sizeof m->exchange);
        amqp_shortstr(&c, tmp, sizeof tmp);
        bits = kf_u8(&c); m->nowait = bits >> 4 & 1;
        break;
    case 40020:                                              /* exchange.delete */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->exchange, sizeof m->exchange);
        bits = kf_u8(&c); m->nowait = bits >> 1 & 1;
        break;
    case 40030: case 40040:                                  /* exchange.bind / unbind */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->queue, sizeof m->queue);        /* destination */
        amqp_shortstr(&c, m->exchange, sizeof m->exchange);  /* source */
        amqp_shortstr(&c, m->routing_key, sizeof m->routing_key);
        bits = kf_u8(&c); m->nowait = bits & 1;
        break;
    case 50010:                                              /* queue.declare */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->queue, sizeof m->queue);
        bits = kf_u8(&c); m->nowait = bits >> 4 & 1;
        break;
    case 50011: amqp_shortstr(&c, m->queue, sizeof m->queue); break;   /* declare-ok */
    case 50020:                                              /* queue.bind */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->queue, sizeof m->queue);
        amqp_shortstr(&c, m->exchange, sizeof m->exchange);
        amqp_shortstr(&c, m->routing_key, sizeof m->routing_key);
        bits = kf_u8(&c); m->nowait = bits & 1;
        break;
    case 50050:                                              /* queue.unbind (no no-wait) */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->queue, sizeof m->queue);
        amqp_shortstr(&c, m->exchange, sizeof m->exchange);
        amqp_shortstr(&c, m->routing_key, sizeof m->routing_key);
        break;
    case 50030:                                              /* queue.purge */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->queue, sizeof m->queue);
        bits = kf_u8(&c); m->nowait = bits & 1;
        break;
    case 50040:                                              /* queue.delete */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->queue, sizeof m->queue);
        bits = kf_u8(&c); m->nowait = bits >> 2 & 1;
        break;
    case 60020:                                              /* basic.consume */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->queue, sizeof m->queue);
        amqp_shortstr(&c, m->consumer_tag, sizeof m->consumer_tag);
        bits = kf_u8(&c); m->nowait = bits >> 3 & 1;
        break;
    case 60021: amqp_shortstr(&c, m->consumer_tag, sizeof m->consumer_tag); break;
    case 60030:                                              /* basic.cancel */
        amqp_shortstr(&c, m->consumer_tag, sizeof m->consumer_tag);
        bits = kf_u8(&c); m->nowait = bits & 1;
        break;
    case 60040:                                              /* basic.publish */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->exchange, sizeof m->exchange);
        amqp_shortstr(&c, m->routing_key, sizeof m->routing_key);
        break;
    case 60050:                                              /* basic.return */
        m->reply_code = kf_be16(&c);
        amqp_shortstr(&c, m->reply_text, sizeof m->reply_text);
        amqp_shortstr(&c, m->exchange, sizeof m->exchange);
        amqp_shortstr(&c, m->routing_key, sizeof m->routing_key);
        break;
    case 60060:                                              /* basic.deliver */
        amqp_shortstr(&c, m->consumer_tag, sizeof m->consumer_tag);
        m->delivery_tag = kf_be64(&c);
        kf_u8(&c);
        amqp_shortstr(&c, m->exchange, sizeof m->exchange);
        amqp_shortstr(&c, m->routing_key, sizeof m->routing_key);
        break;
    case 60070:                                              /* basic.get */
        kf_cur_skip(&c, 2);
        amqp_shortstr(&c, m->queue, sizeof m->queue);
        break;
    case 60071:                                              /* basic.get-ok */
        m->delivery_tag = kf_be64(&c);
        kf_u8(&c);
        amqp_shortstr(&c, m->exchange, sizeof m->exchange);
        amqp_shortstr(&c, m->routing_key, sizeof m->routing_key);
        break;
    case 60080: case 60090: case 60120: m->delivery_tag = kf_be64(&c); break;
    case 85010: bits = kf_u8(&c); m->nowait = bits & 1; break;
    }
}

/* Probe: the protocol header, or a plausible frame (type, size, frame-end). */
static int amqp_probe_bytes(const uint8_t *p, size_t n)
{
    size_t k = n < 8 ? n : 8;
    if (memcmp(p, "AMQP\0\0\x09\x01", k) == 0) return n >= 8 ? 2 : 1;
    if (n < 4 || memcmp(p, "AMQP", 4)) {
        if (n < 7) return 1;
        uint8_t t = p[0];
        uint32_t size = kf_ld_be32(p + 3);
        if (!(t == 1 || t == 2 || t == 3 || t == 8) || size > (1u << 20)) return 0;
        if (n < 8 + (size_t)size) return n < 4096 ? 1 : 0;
        if (p[7 + size] != 0xCE) return 0;
        if (t == 1 && size >= 4) {
            uint16_t c = kf_ld_be16(p + 7), m = kf_ld_be16(p + 9);
            if (!amqp_method_name(c, m)) return 0;
            /* who sent it: connection.start / tune / open-ok and deliver come from servers */
            if ((c == 10 && (m == 10 || m == 30 || m == 41)) || (c == 60 && (m == 60 || m == 71 || m == 72))) return 3;
            return amqp_is_reply(c, m) ? 3 : 2;
        }
        return 0;
    }
    return 0;
}

/* --- dissector glue ---------------------------------------------------------------------- */
#ifndef KD_PARSE_ONLY
#include "../dissector.h"

#define AMQP_PENDING 16

typedef struct amqp_call {
    int dir;                    /* side that sent the method */
    uint16_t channel;
    amqp_method m, reply;
    int has_reply;
    kd_pref first, last, rfirst, rlast;
    uint64_t req_len, resp_len;
    /* content (publish, deliver, return, get-ok) */
    int want_content, have_header;
    uint64_t body_size, body_got;
    char content_type[64];
    uint8_t body[256]; size_t blen;
} amqp_call;

typedef struct amqp_state {
    kd_framer fr;               /* the engine's framed mode (first) */
    kd_conn *conn;
    int client;
    kd_ptab calls;              /* amqp_call by channel: waiting for a reply or content */
    int header_seen[2];
} amqp_state;

static const uint16_t amqp_ports[] = {5672, 0};

static void amqp_emit(amqp_state *s, amqp_call *k)
{
    kd_call call = {0};
    int from_client = k->dir == s->client;
    /* the record's request is the method that started it; a server-initiated exchange
     * (connection.start …) is still a request of the server */
    call.req_dir = k->dir;
    call.has_req = 1;
    call.has_resp = k->has_reply;
    /* a method with no reply (publish, deliver, ack …) or sent no-wait: nothing is due */
    call.no_response = !amqp_reply_of(k->m.cls, k->m.meth) || k->m.nowait;
    call.req_first = k->first; call.req_last = k->last;
    call.resp_first = k->rfirst; call.resp_last = k->rlast;
    kf_jw *w = kd_emit_begin(s->conn, &call);
    if (w) {
        char name[64];
        const char *cn = amqp_class_name(k->m.cls), *mn = amqp_method_name(k->m.cls, k->m.meth);
        if (cn && mn) snprintf(name, sizeof name, "%s.%s", cn, mn);
        else snprintf(name, sizeof name, "%d.%d", k->m.cls, k->m.meth);
        kf_jw_kstr(w, "amqp_method", name);
        kf_jw_kint(w, "amqp_class_id", k->m.cls);
        kf_jw_kint(w, "amqp_method_id", k->m.meth);
        kf_jw_kint(w, "amqp_channel", k->channel);
        if (k->has_reply) {
            const char *rn = amqp_method_name(k->reply.cls, k->reply.meth);
            snprintf(name, sizeof name, "%s.%s", cn ? cn : "?", rn ? rn : "?");
            kf_jw_kstr(w, "amqp_reply_method", name);
            kf_jw_kint(w, "amqp_reply_method_id", k->reply.meth);
        }
        const amqp_method *m = &k->m;
        char summary[512];
        if (m->cls == 60 && (m->meth == 40 || m->meth == 60 || m->meth == 50 || m->meth == 71))
            snprintf(summary, sizeof summary, "%s %s", m->exchange[0] ? m->exchange : "(default)", m->routing_key);
        else if (m->queue[0] && m->exchange[0])
            snprintf(summary, sizeof summary, "%s %s %s", m->queue, m->exchange, m->routing_key);
        else if (m->queue[0]) snprintf(summary, sizeof summary, "%s", m->queue);
        else if (k->has_reply && k->reply.queue[0]) snprintf(summary, sizeof summary, "%s", k->reply.queue);
        else if (m->exchange[0]) snprintf(summary, sizeof summary, "%s", m->exchange);
        else if (m->vhost[0]) snprintf(summary, sizeof summary, "%s", m->vhost);
        else if (m->reply_code) snprintf(summary, sizeof summary, "%d %s", m->reply_code, m->reply_text);
        else summary[0] = 0;
        kf_jw_kstr(w, "amqp_summary", summary);
        if (m->exchange[0]) kf_jw_kstr(w, "amqp_exchange", m->exchange);
        if (m->routing_key[0]) kf_jw_kstr(w, "amqp_routing_key", m->routing_key);
        const char *q = m->queue[0] ? m->queue : k->reply.queue;
        if (q[0]) kf_jw_kstr(w, "amqp_queue", q);
        const char *ct = m->consumer_tag[0] ? m->consumer_tag : k->reply.consumer_tag;
        if (ct[0]) kf_jw_kstr(w, "amqp_consumer_tag", ct);
        if (m->reply_code) { kf_jw_kint(w, "amqp_reply_code", m->reply_code); kf_jw_kstr(w, "amqp_reply_text", m->reply_text); }
        if (k->have_header) {
            kf_jw_kuint(w, "amqp_body_size", k->body_size);
            if (k->content_type[0]) kf_jw_kstr(w, "amqp_content_type", k->content_type);
            if (k->blen) kf_jw_kstrn(w, "amqp_body", (const char *)k->body, k->blen);
        }
        kf_jw_kbool(w, "amqp_request", 1);
        kf_jw_kbool(w, "amqp_response", k->has_reply);
        kf_jw_kbool(w, "amqp_from_client", from_client);
        kf_jw_kuint(w, "amqp_request_length", k->req_len);
        kf_jw_kuint(w, "amqp_response_length", k->resp_len);
        kf_jw_kuint(w, "amqp_total_size", k->req_len + k->resp_len);
        kd_emit_end(s->conn);
    }
}

/* the call is complete: written and out of the table */
static void amqp_done(amqp_state *s, amqp_call *k)
{
    amqp_emit(s, k);
    kd_ptab_done(&s->calls, k);
}

/* the pending table's: a call whose reply or content was not (all) seen */
static int amqp_unanswered(kd_conn *c, void *st, void *item)
{
    amqp_state *s = st;
    amqp_call *k = item;
    s->conn = c;
    amqp_emit(s, k);
    return amqp_reply_of(k->m.cls, k->m.meth) && !k->m.nowait && !k->has_reply;
}

/* The call waiting for content on this channel from this side. */
static amqp_call *amqp_content_call(amqp_state *s, int dir, uint16_t ch)
{
    for (amqp_call *k = kd_ptab_next(&s->calls, NULL); k; k = kd_ptab_next(&s->calls, k)) {
        if (k->channel != ch) continue;
        if (k->want_content && k->dir == dir) return k;
        if (k->has_reply && k->want_content && k->dir != dir) return k;   /* get → get-ok content */
    }
    return NULL;
}

static void amqp_frame(amqp_state *s, int dir, uint8_t type, uint16_t ch, const uint8_t *p, size_t n,
                       size_t flen, const kd_pref *f, const kd_pref *l)
{
    if (type == 1) {
        amqp_method m;
        amqp_parse_method(p, n, &m);
        /* a reply: to the oldest matching request on this channel from the other side */
        if (amqp_is_reply(m.cls, m.meth)) {
            amqp_call *best = NULL;
            for (amqp_call *k = kd_ptab_next(&s->calls, NULL); k && !best; k = kd_ptab_next(&s->calls, k)) {
                if (k->has_reply || k->dir == dir || k->channel != ch || k->m.cls != m.cls) continue;
                int want = amqp_reply_of(k->m.cls, k->m.meth);
                if (want == m.meth || (want == 71 && m.meth == 72)) best = k;   /* the oldest */
            }
            if (best) {
                best->has_reply = 1; best->reply = m; best->rfirst = *f; best->rlast = *l;
                best->resp_len += flen;
                if (m.cls == 60 && m.meth == 71) {   /* get-ok: its content follows */
                    best->want_content = 1;
                    if (m.exchange[0]) memcpy(best->m.exchange, m.exchange, sizeof m.exchange);
                    if (m.routing_key[0]) memcpy(best->m.routing_key, m.routing_key, sizeof m.routing_key);
                } else {
                    amqp_done(s, best);
                }
                return;
            }
        }
        amqp_call one, *k = kd_ptab_add(&s->calls, dir, ch, f->ts_ns);   /* full: the oldest goes out */
        if (!k) { memset(&one, 0, sizeof one); k = &one; }
        k->dir = dir; k->channel = ch; k->m = m;
        k->first = *f; k->last = *l; k->req_len = flen;
        k->want_content = amqp_has_content(m.cls, m.meth);
        if (k == &one) amqp_emit(s, k);
        else if (!k->want_content && (!amqp_reply_of(m.cls, m.meth) || m.nowait)) amqp_done(s, k);
        return;
    }
    amqp_call *k = amqp_content_call(s, dir, ch);
    if (!k) return;
    int reply_side = k->dir != dir;
    if (reply_side) { k->rlast = *l; k->resp_len += flen; } else { k->last = *l; k->req_len += flen; }
    if (type == 2) {
        kf_cur c = kf_cur_make(p, n);
        kf_cur_skip(&c, 4);
        k->body_size = kf_be64(&c);
        uint16_t flags = kf_be16(&c);
        if (flags & 0x8000) amqp_shortstr(&c, k->content_type, sizeof k->content_type);
        k->have_header = 1;
        if (k->body_size == 0) amqp_done(s, k);
    } else if (type == 3) {
        size_t room = sizeof k->body - k->blen;
        size_t take = n < room ? n : room;
        memcpy(k->body + k->blen, p, take);
        k->blen += take;
        k->body_got += flen - 8;   /* all of it, also when only its head was read */
        if (k->have_header && k->body_got >= k->body_size) amqp_done(s, k);
    }
}

static int amqp_kd_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    switch (amqp_probe_bytes(p, n)) {
    case 1: return KD_PROBE_MORE;
    case 2: return KD_PROBE_CLIENT;
    case 3: return KD_PROBE_SERVER;
    }
    return KD_PROBE_NO;
}

static void amqp_kd_init(kd_conn *c, void *st)
{
    amqp_state *s = st;
    s->conn = c;
    const kd_conn_info *ci = kd_conn_get_info(c);
    s->client = ci && ci->client >= 0 ? ci->client : 0;
    kd_ptab_init(&s->calls, c, sizeof(amqp_call), AMQP_PENDING, amqp_unanswered, NULL, s);
}

/* Framed mode: type(1) channel(2) size(4) | payload(size) | frame-end 0xCE, after the
 * protocol header "AMQP" 0 0 9 1 that may open each direction. */
#define AMQP_FRAME_END 0xCE
#define AMQP_SIZE_MAX (1u << 20)   /* a larger size field is not AMQP (frame_max is 128 KiB) */
static int64_t amqp_kd_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    amqp_state *s = st;
    if (!s->header_seen[dir]) {
        if (n < 4 && !memcmp(p, "AMQP", n)) return KD_FRAME_MORE;
        if (n >= 4 && !memcmp(p, "AMQP", 4)) return n < 8 ? KD_FRAME_MORE : 8;
        s->header_seen[dir] = 1;
    }
    if (n < 7) return KD_FRAME_MORE;
    uint32_t size = kf_ld_be32(p + 3);
    if (size >= AMQP_SIZE_MAX) return KD_FRAME_BAD;
    size_t total = 8 + (size_t)size;
    if (n >= total && p[total - 1] != AMQP_FRAME_END) return KD_FRAME_BAD;
    return (int64_t)total;
}

/* after a gap: a known frame type whose frame-end byte is where its size says */
static int amqp_kd_sync(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    if (n < 8) return KD_SYNC_MORE;
    uint32_t size = kf_ld_be32(p + 3);
    uint8_t t = p[0];
    if (!(t == 1 || t == 2 || t == 3 || t == 8) || size >= AMQP_SIZE_MAX) return KD_SYNC_NO;
    if (n < 8 + (size_t)size) return 8 + (size_t)size <= KD_FRAME_MAX ? KD_SYNC_MORE : KD_SYNC_NO;
    return p[7 + size] == AMQP_FRAME_END ? KD_SYNC_YES : KD_SYNC_NO;
}

/* A frame, or the head of one too big to buffer (n < len). */
static int amqp_kd_on_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t len,
                            const kd_pref *f, const kd_pref *l)
{
    amqp_state *s = st;
    s->conn = c;
    if (!s->header_seen[dir]) { s->header_seen[dir] = 1; return KD_FRAME_OK; }   /* the protocol header */
    uint8_t type = p[0];
    uint16_t ch = kf_ld_be16(p + 1);
    size_t pl = n == len ? (size_t)len - 8 : n - 7;
    if (type != 8) amqp_frame(s, dir, type, ch, p + 7, pl, (size_t)len, f, l);
    return KD_FRAME_OK;
}

static void amqp_kd_close(kd_conn *c, void *st)
{
    amqp_state *s = st;
    s->conn = c;
    kd_ptab_flush(&s->calls, -1);   /* oldest first */
}

static void amqp_kd_destroy(kd_conn *c, void *st) { kd_ptab_free(&((amqp_state *)st)->calls); }

const kd_dissector kd_proto_amqp = {
    .name = "amqp", .protocol = "AMQP", .flag = "amqp", .l7_name = "AMQP",
    .transports = KD_TRANSPORT_TCP, .ports = amqp_ports, .calls = 1, .state_size = sizeof(amqp_state),
    .probe = amqp_kd_probe, .init = amqp_kd_init, .frame = amqp_kd_frame, .on_frame = amqp_kd_on_frame,
    .frame_sync = amqp_kd_sync, .on_close = amqp_kd_close, .destroy = amqp_kd_destroy,
};
#endif /* KD_PARSE_ONLY */
