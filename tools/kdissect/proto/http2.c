/* http2.c — HTTP/2 without TLS (h2c: prior knowledge, or after an HTTP/1.1 Upgrade) and gRPC
 * on top of it. RFC 9113 (framing), RFC 7541 (HPACK, hpack.c), gRPC PROTOCOL-HTTP2.md (grpc.c).
 *
 *   frame: Length(24) Type(8) Flags(8) R(1) Stream Identifier(31) | payload
 *   DATA 0  HEADERS 1  PRIORITY 2  RST_STREAM 3  SETTINGS 4  PUSH_PROMISE 5  PING 6  GOAWAY 7
 *   WINDOW_UPDATE 8  CONTINUATION 9;  END_STREAM 0x1  END_HEADERS 0x4  PADDED 0x8  PRIORITY 0x20
 *
 * One record per stream: request headers (+ body, + trailers) and response headers (+ body,
 * + trailers), matched by stream id. A capture that starts mid-connection misses the HPACK
 * dynamic table's earlier entries: such fields come out as "?" and the record says so
 * (http2_warning); streams whose HEADERS were not captured are emitted with what was seen. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kf_cursor.h"
#include "hpack.h"
#include "grpc.h"
#include "protobuf.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24
#define H2_MAX_FRAME (1u << 24)
#define H2_HDRBLOCK_MAX (256u << 10)
#define H2_MAX_STREAMS 1024   /* open streams kept per connection (pending-call table bound) */
#define H2_FIELDS_MAX (64u << 10)

enum { H2_DATA, H2_HEADERS, H2_PRIORITY, H2_RST, H2_SETTINGS, H2_PUSH, H2_PING, H2_GOAWAY,
       H2_WINDOW, H2_CONT };
enum { H2F_END_STREAM = 1, H2F_ACK = 1, H2F_END_HEADERS = 4, H2F_PADDED = 8, H2F_PRIORITY = 0x20 };

/* Checks a frame header at p (9 bytes). 1 plausible, 0 not. */
static int h2_frame_plausible(const uint8_t *p)
{
    uint32_t len = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    uint8_t type = p[3], flags = p[4];
    uint32_t sid = kf_ld_be32(p + 5);
    if (sid & 0x80000000u) return 0;
    switch (type) {
    case H2_DATA: return sid != 0 && !(flags & ~0x09) && len <= (1u << 20);
    case H2_HEADERS: return sid != 0 && !(flags & ~0x2d) && len <= (1u << 20);
    case H2_PRIORITY: return sid != 0 && len == 5;
    case H2_RST: return sid != 0 && len == 4;
    case H2_SETTINGS: return sid == 0 && len % 6 == 0 && !(flags & ~1) && len <= 600;
    case H2_PUSH: return sid != 0 && !(flags & ~0x0c);
    case H2_PING: return sid == 0 && len == 8 && !(flags & ~1);
    case H2_GOAWAY: return sid == 0 && len >= 8 && len <= 65536;
    case H2_WINDOW: return len == 4;
    case H2_CONT: return sid != 0 && !(flags & ~4);
    }
    return 0;
}

/* Probe. 2 client (preface, or a HEADERS frame carrying :method), 3 server (SETTINGS first,
 * or HEADERS carrying :status), 1 more bytes, 0 no. Without the preface, two plausible frame
 * headers in a row are required (or one that ends exactly at the end of the data). */
static int h2_probe_bytes(const uint8_t *p, size_t n)
{
    size_t pl = n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN;
    if (memcmp(p, H2_PREFACE, pl) == 0) return n >= H2_PREFACE_LEN ? 2 : 1;
    if (n < 9) return 1;
    if (!h2_frame_plausible(p)) return 0;
    uint32_t len = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    size_t next = 9 + (size_t)len;
    if (n < next) return n < 4096 ? 1 : 0;
    if (n >= next + 9 && !h2_frame_plausible(p + next)) return 0;
    if (n < next + 9 && n != next) return 1;
    uint8_t type = p[3], flags = p[4];
    if (type == H2_SETTINGS) return 3;
    if (type == H2_HEADERS && len > 0) {
        size_t off = 9;
        if (flags & H2F_PADDED) off++;
        if (flags & H2F_PRIORITY) off += 5;
        if (off >= next) return 0;
        /* a few bytes into the block: :method (static 2,3) or :status (8..14) */
        for (size_t i = off; i < next && i < off + 8; i++) {
            uint8_t b = p[i];
            if (b == 0x82 || b == 0x83 || b == 0x42 || b == 0x02 || b == 0x12) return 2;
            if ((b >= 0x88 && b <= 0x8e) || b == 0x48 || b == 0x08 || b == 0x18) return 3;
        }
        return 0;
    }
    return 0;
}

/* --- dissector glue ---------------------------------------------------------------------- */
#ifndef KD_PARSE_ONLY
#include <ctype.h>
#include <jansson.h>
#include <strings.h>
#include <zlib.h>
#include "../dissector.h"
#include "http_common.h"

/* Decoded header fields of one block: entries "name\0value\0" packed in a buffer. */
typedef struct h2_fields {
    char *buf; size_t len, cap;
    int n;
    uint64_t wire;              /* header block bytes on the wire */
} h2_fields;

typedef struct h2_stream {
    uint32_t id;
    int req_end, resp_end, reset, pushed, upgraded;
    int have_req_hdrs, have_resp_hdrs;
    int unknown;                /* fields from HPACK entries the capture never saw */
    int after_gap;              /* header fields decoded after a gap in the capture */
    int has_req, has_resp;
    kd_pref req_first, req_last, resp_first, resp_last;
    h2_fields req, resp, trailers, req_trailers;
    kd_http_body req_body, resp_body;   /* the shared HTTP layer's (http_common.c) */
    kd_grpc_dir g[2];           /* [0] request, [1] response messages */
    uint32_t rst_code;
    int grpc;
    long gmem;                  /* heap held by g[] */
} h2_stream;

typedef struct h2_state {
    kd_framer fr;               /* the engine's framed mode (first) */
    kd_conn *conn;
    int client;
    int started[2];
    int midstream;              /* the client preface was not seen */
    kd_hpack hp[2];             /* decoder for header blocks sent by side [dir] */
    int hp_init, hp_broken[2];
    /* header block being assembled (HEADERS/PUSH_PROMISE + CONTINUATION) per direction */
    uint8_t *hb[2]; size_t hb_len[2], hb_cap[2];
    uint32_t hb_stream[2], hb_promised[2];
    uint8_t hb_flags[2], hb_type[2];
    int hb_active[2];
    kd_pref hb_ref[2];
    kd_ptab q;                  /* open streams (h2_stream *) by stream id, oldest first */
    h2_stream *last;            /* the stream found last (frames of a stream come in runs) */
    uint32_t max_sid[2];        /* highest stream id opened, [0] even, [1] odd: ids are never
                                 * reused, so a lower unknown id is a closed stream */
    int gap[2];                 /* a gap was seen in this direction */
    long mem;
} h2_state;

static const uint16_t h2_ports[] = {50051, 8080, 80, 9090, 0};

static void h2_mem(h2_state *s, long d) { s->mem += d; kd_conn_mem(s->conn, d); }

static int h2_fields_add(h2_state *s, h2_fields *f, const char *n, size_t nl, const char *v, size_t vl)
{
    if (f->len + nl + vl + 2 > H2_FIELDS_MAX) return -1;
    if (f->len + nl + vl + 2 > f->cap) {
        size_t cap = f->cap ? f->cap : 512;
        while (cap < f->len + nl + vl + 2) cap *= 2;
        char *nb = realloc(f->buf, cap);
        if (!nb) return -1;
        h2_mem(s, (long)(cap - f->cap));
        f->buf = nb; f->cap = cap;
    }
    /* names are lower-case in HTTP/2; NULs inside values are replaced */
    for (size_t i = 0; i < nl; i++) f->buf[f->len++] = n[i] ? n[i] : '?';
    f->buf[f->len++] = 0;
    for (size_t i = 0; i < vl; i++) f->buf[f->len++] = v[i] ? v[i] : '?';
    f->buf[f->len++] = 0;
    f->n++;
    return 0;
}

/* Finds a field's value (first occurrence). */
static const char *h2_get(const h2_fields *f, const char *name)
{
    size_t i = 0;
    while (i < f->len) {
        const char *n = f->buf + i;
        size_t nl = strlen(n);
        const char *v = n + nl + 1;
        if (!strcmp(n, name)) return v;
        i += nl + 1 + strlen(v) + 1;
    }
    return NULL;
}

static void h2_fields_free(h2_state *s, h2_fields *f)
{
    if (f->cap) h2_mem(s, -(long)f->cap);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

static void h2_body_add(h2_state *s, kd_http_body *b, const char *enc, const uint8_t *p, size_t n, size_t limit)
{
    long before = b->mem;
    kd_http_body_add(b, enc, p, n, limit);
    if (b->mem != before) h2_mem(s, b->mem - before);
}

static void h2_body_free(h2_state *s, kd_http_body *b)
{
    long before = b->mem;
    kd_http_body_free(b);
    if (b->mem != before) h2_mem(s, b->mem - before);
}

/* The stream with this id; create: a new one, first seen at ts (a full table writes its oldest
 * first, unanswered when no response was seen). */
static h2_stream *h2_find(h2_state *s, uint32_t id, int create, int64_t ts)
{
    if (s->last && s->last->id == id) return s->last;
    h2_stream **e = kd_ptab_find(&s->q, -1, id);
    if (e) return s->last = *e;
    if (!create) return NULL;
    if (id <= s->max_sid[id & 1]) return NULL;   /* closed already: late frames are ignored */
    s->max_sid[id & 1] = id;
    h2_stream *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    h2_mem(s, (long)sizeof *t);
    t->id = id;
    e = kd_ptab_add(&s->q, s->client >= 0 ? s->client : 0, id, ts);
    if (!e) { free(t); h2_mem(s, -(long)sizeof *t); return NULL; }
    *e = t;
    return s->last = t;
}

static void h2_stream_free(h2_state *s, h2_stream *t)
{
    h2_fields_free(s, &t->req); h2_fields_free(s, &t->resp);
    h2_fields_free(s, &t->trailers); h2_fields_free(s, &t->req_trailers);
    h2_body_free(s, &t->req_body); h2_body_free(s, &t->resp_body);
    for (int i = 0; i < 2; i++) kd_grpc_free(&t->g[i]);
    h2_mem(s, -t->gmem);
    h2_mem(s, -(long)sizeof *t);
    free(t);
}

/* The message's header fields as the shared HTTP layer's map (http_common.h), pseudo-headers
 * included; cookies (ck: NULL = none) from every cookie field (RFC 9113 8.2.3 lets a client
 * split them). */
static void h2_maps(const h2_fields *f, kd_hmap *h, kd_hmap *ck, int response)
{
    const char *want = response ? "set-cookie" : "cookie";
    size_t i = 0;
    while (i < f->len) {
        const char *n = f->buf + i;
        size_t nl = strlen(n);
        const char *v = n + nl + 1;
        size_t vl = strlen(v);
        kd_http_header(h, n, nl, v, vl);
        if (ck && !strcmp(n, want)) kd_http_cookies(ck, v, vl, response);
        i += nl + 1 + vl + 1;
    }
}

/* Writes "headers" and "cookies" (the same objects HTTP/1 writes for the same fields). */
static void h2_write_headers(kf_jw *w, const h2_fields *f, int response)
{
    kd_hmap h = { 0 }, ck = { 0 };
    h2_maps(f, &h, &ck, response);
    kf_jw_key(w, "headers");
    kd_hmap_write(w, &h);
    kf_jw_key(w, "cookies");
    kd_hmap_write(w, &ck);
    kd_hmap_free(&h);
    kd_hmap_free(&ck);
}

/* A compressed gRPC message (gzip or deflate, per grpc-encoding) inflated, up to 64 KiB, and
 * dumped like an uncompressed one, as tshark does; other encodings are left as they are. */
static void h2_grpc_dump_compressed(kf_jw *w, const uint8_t *p, size_t n, const char *enc)
{
    if (!enc || (strcasecmp(enc, "gzip") && strcasecmp(enc, "deflate"))) return;
    size_t cap = 64 * 1024;
    uint8_t *out = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (!out || inflateInit2(&z, 15 + 32) != Z_OK) { free(out); return; }
    z.next_in = (Bytef *)p; z.avail_in = (uInt)n;
    z.next_out = out; z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_FINISH);
    size_t got = cap - z.avail_out;
    inflateEnd(&z);
    if (rc == Z_STREAM_END) {
        kf_jw_kstr(w, "decoded_from", enc);
        kf_jw_kuint(w, "decoded_size", got);
        kf_jw_key(w, "fields");
        kd_pb_dump(w, out, got, 64);
    }
    free(out);
}

static void h2_write_query(kf_jw *w, const char *q)
{
    kf_jw_key(w, "query_string");
    kd_http_query_write(w, q ? q : "", q ? strlen(q) : 0);
}

/* A gRPC response without grpc-status (an intermediary answered: a proxy's 404 or 503): the
 * status a gRPC client reports for its HTTP status (gRPC's doc/http-grpc-status-mapping.md).
 * 200 stays 0 (the trailers may simply not be in the capture). */
static int grpc_from_http(int http)
{
    switch (http) {
    case 200: return 0;
    case 400: return 13;                                    /* INTERNAL */
    case 401: return 16;                                    /* UNAUTHENTICATED */
    case 403: return 7;                                     /* PERMISSION_DENIED */
    case 404: return 12;                                    /* UNIMPLEMENTED */
    case 429: case 502: case 503: case 504: return 14;      /* UNAVAILABLE */
    default: return 2;                                      /* UNKNOWN */
    }
}

static void h2_emit(h2_state *s, h2_stream *t)
{
    kd_call call = {0};
    call.req_dir = s->client >= 0 ? s->client : 0;
    call.has_req = t->has_req;
    call.has_resp = t->has_resp;
    call.req_first = t->req_first; call.req_last = t->req_last;
    call.resp_first = t->resp_first; call.resp_last = t->resp_last;
    const char *ct = h2_get(&t->req, "content-type");
    if (!ct) ct = h2_get(&t->resp, "content-type");
    t->grpc = ct && !strncmp(ct, "application/grpc", 16);
    if (t->grpc) { call.protocol = "GRPC"; call.flag = "grpc"; }
    kf_jw *w = kd_emit_begin(s->conn, &call);
    if (!w) return;
    if (t->grpc) kf_jw_kbool(w, "http", 1);   /* else the engine wrote it (the descriptor's flag) */
    kf_jw_kstr(w, "http_version", "2");
    kf_jw_kint(w, "http2_stream_id", t->id);
    const char *method = h2_get(&t->req, ":method");
    const char *path = h2_get(&t->req, ":path");
    const char *status = h2_get(&t->resp, ":status");
    const char *authority = h2_get(&t->req, ":authority");
    if (method) kf_jw_kstr(w, "method", method);
    if (path) {
        kf_jw_kstr(w, "url", path);
        const char *q = strchr(path, '?');
        kf_jw_kstrn(w, "path", path, q ? (size_t)(q - path) : strlen(path));
        h2_write_query(w, q ? q + 1 : NULL);
    }
    if (authority) kf_jw_kstr(w, "host", authority);
    if (status) kf_jw_kint(w, "status_code", atoi(status));
    if (!t->grpc) {
        char op[128], type[16];
        if (kd_http_graphql(path, h2_get(&t->req, "content-type"), t->req_body.buf, t->req_body.len, t->req_body.truncated,
                            op, sizeof op, type, sizeof type)) {
            kf_jw_kbool(w, "gql", 1);
            kf_jw_kbool(w, "gqlv2", 1);   /* Kubeshark: GraphQL over HTTP/2 */
            kf_jw_kstr(w, "gql_operation", op);
            kf_jw_kstr(w, "gql_operation_type", type);
        }
    }
    kf_jw_kuint(w, "request_headers_size", t->req.wire);
    kf_jw_kuint(w, "request_body_size", t->req_body.size);
    kf_jw_kuint(w, "response_headers_size", t->resp.wire);
    kf_jw_kuint(w, "response_body_size", t->resp_body.size);
    /* request and response are always present (docs/record.schema.json): empty when not seen */
    {
        kf_jw_key(w, "request");
        kf_jw_obj_begin(w);
        h2_write_headers(w, &t->req, 0);
        kf_jw_kuint(w, "body_size", t->req_body.size);
        if (!t->grpc) kd_http_body_write(w, &t->req_body);
        kf_jw_obj_end(w);
    }
    {
        kf_jw_key(w, "response");
        kf_jw_obj_begin(w);
        h2_write_headers(w, &t->resp, 1);
        kf_jw_kuint(w, "body_size", t->resp_body.size);
        if (!t->grpc) kd_http_body_write(w, &t->resp_body);
        if (t->trailers.n) {
            kd_hmap tr = { 0 };   /* repeated names joined: one key each */
            h2_maps(&t->trailers, &tr, NULL, 1);
            kf_jw_key(w, "trailers");
            kd_hmap_write(w, &tr);
            kd_hmap_free(&tr);
        }
        kf_jw_obj_end(w);
    }
    if (t->grpc) {
        const char *svc, *m;
        size_t sl, ml;
        if (path) {
            kd_grpc_split_path(path, strlen(path), &svc, &sl, &m, &ml);
            kf_jw_kstrn(w, "grpc_method", m, ml);
            kf_jw_kstrn(w, "grpc_service", svc, sl);
        }
        /* grpc-status: trailers, or a trailers-only response (in the headers) */
        const char *gs = h2_get(&t->trailers, "grpc-status");
        const char *gm = h2_get(&t->trailers, "grpc-message");
        if (!gs) { gs = h2_get(&t->resp, "grpc-status"); gm = h2_get(&t->resp, "grpc-message"); }
        kf_jw_kint(w, "grpc_status", gs ? atoi(gs) : status ? grpc_from_http(atoi(status)) : 0);
        if (gm) {   /* grpc-message is percent-encoded (PROTOCOL-HTTP2.md) */
            char msg[1024];
            size_t ml = kd_http_pct(gm, strlen(gm), msg, sizeof msg, 0);
            kf_jw_kstrn(w, "grpc_message", msg, ml);
        }
        kf_jw_kuint(w, "grpc_request_messages", t->g[0].messages);
        kf_jw_kuint(w, "grpc_response_messages", t->g[1].messages);
        for (int i = 0; i < 2; i++) {
            const kd_grpc_dir *g = &t->g[i];
            if (!g->first_done || !g->first) continue;
            kf_jw_key(w, i ? "grpc_response_message" : "grpc_request_message");
            kf_jw_obj_begin(w);
            kf_jw_kuint(w, "size", g->first_total);
            kf_jw_kbool(w, "compressed", g->first_compressed);
            if (!g->first_compressed && g->first_len == g->first_total) {
                kf_jw_key(w, "fields");
                kd_pb_dump(w, g->first, g->first_len, 64);
            } else if (g->first_compressed && g->first_len == g->first_total) {
                /* compressed with the message encoding the sender named (grpc-encoding) */
                const char *enc = h2_get(i ? &t->resp : &t->req, "grpc-encoding");
                h2_grpc_dump_compressed(w, g->first, g->first_len, enc);
            }
            kf_jw_obj_end(w);
        }
    } else {
        kf_jw_kint(w, "grpc_status", -1);
    }
    if (t->reset) kf_jw_kuint(w, "http2_rst_code", t->rst_code);
    if (t->pushed) kf_jw_kbool(w, "http2_pushed", 1);
    if (t->upgraded) kf_jw_kbool(w, "http2_upgraded", 1);   /* request sent as HTTP/1.1 Upgrade */
    if (t->after_gap) kf_jw_kstr(w, "http2_gap_warning", "header fields decoded after a gap in the capture may be wrong");
    if (t->unknown || (!t->has_req && s->midstream)) {
        kf_jw_kbool(w, "http2_midstream", 1);
        kf_jw_kstr(w, "http2_warning", t->unknown
                   ? "capture began mid-connection: some header fields refer to HPACK entries never captured"
                   : "capture began mid-connection: the request headers of this stream were not captured");
    }
    kd_emit_end(s->conn);
}

/* The stream is over: written, then freed (h2_release). */
static void h2_finish(h2_state *s, h2_stream *t)
{
    h2_emit(s, t);
    h2_stream **e = kd_ptab_find(&s->q, -1, t->id);
    if (e) kd_ptab_done(&s->q, e);
}

/* the pending-call table's callbacks: a stream written at close or when evicted (1: it had no
 * response), and a stream's memory given back */
static int h2_unanswered(kd_conn *c, void *st, void *item)
{
    h2_state *s = st;
    h2_stream *t = *(h2_stream **)item;
    s->conn = c;
    h2_emit(s, t);
    return t->has_req && !t->has_resp;
}

static void h2_release(kd_conn *c, void *st, void *item)
{
    h2_state *s = st;
    s->conn = c;
    if (s->last == *(h2_stream **)item) s->last = NULL;
    h2_stream_free(s, *(h2_stream **)item);
}

static void h2_maybe_done(h2_state *s, h2_stream *t)
{
    /* a stream reset by the server ends; one reset by the client may still see the response
     * frames already in flight, so it ends with them (or at close) */
    if ((t->reset == 2) || (t->reset == 1 && (t->resp_end || (!t->have_resp_hdrs && t->has_resp))) ||
        (t->req_end && t->resp_end) || (t->resp_end && !t->has_req))
        h2_finish(s, t);
}

typedef struct h2_hctx { h2_state *s; h2_fields *f; int unknown; } h2_hctx;

static void h2_on_field(void *ctx, const char *n, size_t nl, const char *v, size_t vl, int unknown)
{
    h2_hctx *c = ctx;
    if (unknown) c->unknown = 1;
    h2_fields_add(c->s, c->f, n, nl, v, vl);
}

/* A complete header block from side dir for stream sid (type HEADERS or PUSH_PROMISE). */
static void h2_header_block(h2_state *s, int dir, uint32_t sid, uint8_t type, uint32_t promised,
                            uint8_t flags, const uint8_t *p, size_t n, const kd_pref *first,
                            const kd_pref *last)
{
    if (s->hp_broken[dir]) return;
    int from_client = dir == s->client;
    h2_fields tmp = {0};
    h2_hctx c = {s, &tmp, 0};
    long before = s->hp[dir].mem;
    if (kd_hpack_decode(&s->hp[dir], p, n, h2_on_field, &c) < 0) {
        s->hp_broken[dir] = 1;
        kd_stat_add(s->conn, KD_STAT_PARSE_ERRORS, 1);
    }
    h2_mem(s, s->hp[dir].mem - before);
    tmp.wire = n;
    if (type == H2_PUSH) {
        h2_stream *t = h2_find(s, promised, 1, first->ts_ns);
        if (t && !t->have_req_hdrs) {
            t->req = tmp; tmp.buf = NULL; tmp.cap = 0;
            t->have_req_hdrs = 1; t->has_req = 1; t->pushed = 1; t->req_end = 1;
            t->req_first = *first; t->req_last = *last;
            if (c.unknown) t->unknown = 1;
        }
        h2_fields_free(s, &tmp);
        return;
    }
    h2_stream *t = h2_find(s, sid, 1, first->ts_ns);
    if (!t) { h2_fields_free(s, &tmp); return; }
    if (c.unknown) t->unknown = 1;
    if (s->gap[dir]) t->after_gap = 1;
    /* which side is the client: the one sending :method (overrides a guess from the probe) */
    int cl = h2_get(&tmp, ":method") ? dir : h2_get(&tmp, ":status") ? dir ^ 1 : -1;
    if (cl >= 0 && cl != s->client) {
        s->client = cl;
        kd_conn_set_client(s->conn, cl);
        from_client = dir == s->client;
    }
    if (from_client) {
        if (!t->have_req_hdrs) {
            t->req = tmp; tmp.buf = NULL; tmp.cap = 0;
            t->have_req_hdrs = 1; t->has_req = 1;
            t->req_first = *first;
        } else {
            h2_fields_free(s, &t->req_trailers);
            t->req_trailers = tmp; tmp.buf = NULL; tmp.cap = 0;
        }
        t->req_last = *last;
        if (flags & H2F_END_STREAM) t->req_end = 1;
    } else {
        const char *st = h2_get(&tmp, ":status");
        if (st && st[0] == '1' && !t->have_resp_hdrs) {   /* 1xx interim: not the response */
            h2_fields_free(s, &tmp);
            return;
        }
        if (!t->have_resp_hdrs) {
            t->resp = tmp; tmp.buf = NULL; tmp.cap = 0;
            t->have_resp_hdrs = 1;
            if (!t->has_resp) { t->has_resp = 1; t->resp_first = *first; }
        } else {
            h2_fields_free(s, &t->trailers);
            t->trailers = tmp; tmp.buf = NULL; tmp.cap = 0;
        }
        t->resp_last = *last;
        if (flags & H2F_END_STREAM) t->resp_end = 1;
    }
    h2_fields_free(s, &tmp);
    h2_maybe_done(s, t);
}

static void h2_hb_append(h2_state *s, int dir, const uint8_t *p, size_t n)
{
    if (n == 0) return;
    if (s->hb_len[dir] + n > H2_HDRBLOCK_MAX) { s->hp_broken[dir] = 1; return; }
    if (s->hb_len[dir] + n > s->hb_cap[dir]) {
        size_t cap = s->hb_cap[dir] ? s->hb_cap[dir] : 1024;
        while (cap < s->hb_len[dir] + n) cap *= 2;
        uint8_t *nb = realloc(s->hb[dir], cap);
        if (!nb) { s->hp_broken[dir] = 1; return; }
        h2_mem(s, (long)(cap - s->hb_cap[dir]));
        s->hb[dir] = nb; s->hb_cap[dir] = cap;
    }
    memcpy(s->hb[dir] + s->hb_len[dir], p, n);
    s->hb_len[dir] += n;
}

/* One complete frame of side dir; first/last: packets of its first and last byte. */
static void h2_frame(h2_state *s, int dir, const uint8_t *f, size_t flen, const kd_pref *first,
                     const kd_pref *last)
{
    uint32_t len = (uint32_t)f[0] << 16 | (uint32_t)f[1] << 8 | f[2];
    uint8_t type = f[3], flags = f[4];
    uint32_t sid = kf_ld_be32(f + 5) & 0x7fffffffu;
    kf_cur c = kf_cur_make(f + 9, len);
    int from_client = dir == s->client;
    size_t limit = 4096;
    const kd_conn_info *ci = kd_conn_get_info(s->conn);
    if (ci && ci->opts && ci->opts->body_limit) limit = ci->opts->body_limit;

    if (s->hb_active[dir] && type != H2_CONT) {   /* CONTINUATION expected: protocol error */
        s->hb_active[dir] = 0; s->hb_len[dir] = 0; s->hp_broken[dir] = 1;
    }
    switch (type) {
    case H2_DATA: {
        size_t pad = 0;
        if (flags & H2F_PADDED) pad = kf_u8(&c);
        size_t dl = kf_cur_left(&c) >= pad ? kf_cur_left(&c) - pad : 0;
        const uint8_t *d = c.p;
        h2_stream *t = h2_find(s, sid, 1, first->ts_ns);
        if (!t) break;
        if (s->client < 0) { s->client = (sid & 1) ? dir : dir ^ 1; from_client = dir == s->client; }
        if (from_client) {
            if (!t->has_req) { t->has_req = 1; t->req_first = *first; }
            t->req_last = *last;
            h2_body_add(s, &t->req_body, h2_get(&t->req, "content-encoding"), d, dl, limit);
            long a = kd_grpc_feed(&t->g[0], d, dl, limit);
            t->gmem += a; h2_mem(s, a);
            if (flags & H2F_END_STREAM) t->req_end = 1;
        } else {
            if (!t->has_resp) { t->has_resp = 1; t->resp_first = *first; }
            t->resp_last = *last;
            h2_body_add(s, &t->resp_body, h2_get(&t->resp, "content-encoding"), d, dl, limit);
            long a = kd_grpc_feed(&t->g[1], d, dl, limit);
            t->gmem += a; h2_mem(s, a);
            if (flags & H2F_END_STREAM) t->resp_end = 1;
        }
        h2_maybe_done(s, t);
        break;
    }
    case H2_HEADERS: case H2_PUSH: {
        size_t pad = 0;
        uint32_t promised = 0;
        if (flags & H2F_PADDED) pad = kf_u8(&c);
        if (type == H2_HEADERS && (flags & H2F_PRIORITY)) kf_cur_skip(&c, 5);
        if (type == H2_PUSH) promised = kf_be32(&c) & 0x7fffffffu;
        if (c.err || kf_cur_left(&c) < pad) { s->hp_broken[dir] = 1; break; }
        size_t bl = kf_cur_left(&c) - pad;
        if (flags & H2F_END_HEADERS) {
            h2_header_block(s, dir, sid, type, promised, flags, c.p, bl, first, last);
        } else {
            s->hb_active[dir] = 1; s->hb_len[dir] = 0;
            s->hb_stream[dir] = sid; s->hb_type[dir] = type; s->hb_flags[dir] = flags;
            s->hb_promised[dir] = promised; s->hb_ref[dir] = *first;
            h2_hb_append(s, dir, c.p, bl);
        }
        break;
    }
    case H2_CONT:
        if (!s->hb_active[dir] || sid != s->hb_stream[dir]) { s->hp_broken[dir] = 1; break; }
        h2_hb_append(s, dir, c.p, len);
        if (flags & H2F_END_HEADERS) {
            s->hb_active[dir] = 0;
            h2_header_block(s, dir, sid, s->hb_type[dir], s->hb_promised[dir], s->hb_flags[dir],
                            s->hb[dir], s->hb_len[dir], &s->hb_ref[dir], last);
            s->hb_len[dir] = 0;
        }
        break;
    case H2_RST: {
        h2_stream *t = h2_find(s, sid, 0, 0);
        if (!t) break;
        t->reset = from_client ? 1 : 2;
        t->rst_code = kf_be32(&c);
        if (from_client) t->req_last = *last;
        else { if (!t->has_resp) { t->has_resp = 1; t->resp_first = *first; } t->resp_last = *last; }
        h2_maybe_done(s, t);
        break;
    }
    case H2_SETTINGS:
        if (flags & H2F_ACK) break;
        while (kf_cur_left(&c) >= 6) {
            uint16_t id = kf_be16(&c);
            uint32_t v = kf_be32(&c);
            /* SETTINGS_HEADER_TABLE_SIZE limits what the peer's encoder may use */
            if (id == 1) s->hp[dir ^ 1].limit = v < 4096 ? 4096 : v > 65536 ? 65536 : v;
        }
        break;
    default:
        break;
    }
    (void)flen;
}

static int h2_kd_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    int r = h2_probe_bytes(p, n);
    /* control frames (SETTINGS, PING, WINDOW_UPDATE) mid-connection do not tell the side:
     * guess that the smaller port is the server's; HEADERS later settle it */
    if (r == 3 && ci && n >= 9 && p[3] != H2_HEADERS && ci->port[dir] > ci->port[dir ^ 1]) r = 2;
    switch (r) {
    case 1: return KD_PROBE_MORE;
    case 2: return KD_PROBE_CLIENT;
    case 3: return KD_PROBE_SERVER;
    }
    return KD_PROBE_NO;
}

static void h2_kd_init(kd_conn *c, void *st)
{
    h2_state *s = st;
    s->conn = c;
    const kd_conn_info *ci = kd_conn_get_info(c);
    s->client = ci ? ci->client : -1;
    kd_hpack_init(&s->hp[0], 4096);
    kd_hpack_init(&s->hp[1], 4096);
    s->hp_init = 1;
    kd_ptab_init(&s->q, c, sizeof(h2_stream *), H2_MAX_STREAMS, h2_unanswered, h2_release, s);
}

static void h2_kd_upgrade(kd_conn *c, void *st, const kd_upgrade *u)
{
    h2_state *s = st;
    s->conn = c;
    s->client = u->client;
    /* RFC 7540 §3.2: the upgraded request is stream 1; its response comes over HTTP/2 */
    h2_stream *t = h2_find(s, 1, 1, u->req_first.ts_ns);
    if (!t) return;
    if (u->method) h2_fields_add(s, &t->req, ":method", 7, u->method, strlen(u->method));
    if (u->url) h2_fields_add(s, &t->req, ":path", 5, u->url, strlen(u->url));
    if (u->host) h2_fields_add(s, &t->req, ":authority", 10, u->host, strlen(u->host));
    t->have_req_hdrs = 1; t->has_req = 1; t->req_end = 1; t->upgraded = 1;
    t->req_first = u->req_first; t->req_last = u->req_first;
    s->started[u->client ^ 1] = 1;
}

/* Framed mode: Length(24) Type(8) Flags(8) Stream(32) | payload, after the client's preface. */
static int64_t h2_kd_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    h2_state *s = st;
    s->conn = c;
    if (!s->hp_init) h2_kd_init(c, st);
    if (s->client < 0) {
        const kd_conn_info *ci = kd_conn_get_info(c);
        if (ci && ci->client >= 0) s->client = ci->client;
    }
    if (!s->started[dir]) {
        if (n < H2_PREFACE_LEN && !memcmp(p, H2_PREFACE, n)) return KD_FRAME_MORE;
        if (n >= H2_PREFACE_LEN && !memcmp(p, H2_PREFACE, H2_PREFACE_LEN)) return H2_PREFACE_LEN;   /* on_frame */
        if (dir == s->client || s->client < 0) s->midstream = 1;
        s->started[dir] = 1;
    }
    if (n < 9) return KD_FRAME_MORE;
    uint32_t len = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    if (p[3] > 9 && len > 65536) return KD_FRAME_BAD;
    return 9 + (int64_t)len;
}

/* after a gap: a plausible frame header followed by another one (or by the end of the data) */
static int h2_kd_sync(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    if (n < 9) return KD_SYNC_MORE;
    if (!h2_frame_plausible(p)) return KD_SYNC_NO;
    size_t next = 9 + ((size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2]);
    if (n == next) return KD_SYNC_YES;
    if (n < next + 9) return next + 9 <= KD_FRAME_MAX ? KD_SYNC_MORE : KD_SYNC_NO;
    return h2_frame_plausible(p + next) ? KD_SYNC_YES : KD_SYNC_NO;
}

/* A frame, the preface, or the head of a frame too big to buffer (n < len: skipped whole,
 * counted as a truncated body). */
static int h2_kd_on_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t len,
                          const kd_pref *first, const kd_pref *last)
{
    h2_state *s = st;
    s->conn = c;
    if (!s->started[dir]) {   /* the preface */
        s->started[dir] = 1;
        if (s->client < 0) s->client = dir;
        return KD_FRAME_OK;
    }
    if (n < len) { kd_stat_add(c, KD_STAT_TRUNCATED_BODIES, 1); return KD_FRAME_OK; }
    h2_frame(s, dir, p, n, first, last);
    return KD_FRAME_OK;
}

static void h2_kd_gap(kd_conn *c, void *st, int dir, uint64_t off, uint64_t len)
{
    h2_state *s = st;
    s->conn = c;
    s->hb_active[dir] = 0;   /* a header block cut by the gap is lost */
    /* a header block lost in a gap leaves HPACK out of step: later fields may be wrong.
     * Decoding goes on (a gap inside DATA is harmless); records say so. */
    s->gap[dir] = 1;
}

static void h2_kd_close(kd_conn *c, void *st)
{
    h2_state *s = st;
    s->conn = c;
    kd_ptab_flush(&s->q, -1);   /* open streams, oldest first: "unanswered" without a response */
}

static void h2_kd_destroy(kd_conn *c, void *st)
{
    h2_state *s = st;
    s->conn = c;
    kd_ptab_free(&s->q);   /* frees the streams left (h2_release) */
    for (int i = 0; i < 2; i++) {
        if (s->hp_init) kd_hpack_free(&s->hp[i]);
        free(s->hb[i]);
        s->hb[i] = NULL;
    }
    kd_conn_mem(c, -s->mem);
    s->mem = 0;
}

const kd_dissector kd_proto_http2 = {
    .name = "http2", .protocol = "HTTP2", .flag = "http", .l7_name = "HTTP2",
    .transports = KD_TRANSPORT_TCP, .ports = h2_ports, .calls = 1, .state_size = sizeof(h2_state),
    .probe = h2_kd_probe, .init = h2_kd_init, .frame = h2_kd_frame, .on_frame = h2_kd_on_frame,
    .frame_sync = h2_kd_sync, .on_gap = h2_kd_gap,
    .on_upgrade = h2_kd_upgrade, .on_close = h2_kd_close, .destroy = h2_kd_destroy,
};
#endif /* KD_PARSE_ONLY */
