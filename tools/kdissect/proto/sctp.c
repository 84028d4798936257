/* sctp.c — SCTP (RFC 9260) associations, from the common and chunk headers kf_decode reads
 * (lib/kf_decode.c, kf_l4.sctp_*). Nothing above SCTP is dissected.
 *
 * Records: one per packet whose first chunk is a control chunk (INIT, INIT_ACK, COOKIE_ECHO,
 * ABORT, SHUTDOWN …: the association's life, few packets), with that chunk's type, length and
 * the packet's checksum; packets whose first chunk is DATA, SACK, HEARTBEAT or HEARTBEAT_ACK
 * (the bulk) are counted and summed into one record per direction when the association ends
 * (sctp_packets; sctp_length = the bytes of their first chunks; sctp_chunk_type and
 * sctp_checksum those of the first such packet: DATA from a sender, SACK from its peer). Bounded: the
 * state is two counters per direction. */
#include <stdio.h>
#include <string.h>
#include "../dissector.h"

typedef struct sctp_bulk {
    uint64_t packets, bytes;
    kd_pref first, last;
    uint32_t checksum;        /* of the first such packet */
    uint8_t type;             /* first chunk type of the first such packet */
} sctp_bulk;

typedef struct sctp_state {
    sctp_bulk bulk[2];
} sctp_state;

static const char *sctp_chunk_name(unsigned t)
{
    static const char *const names[] = {
        "DATA", "INIT", "INIT_ACK", "SACK", "HEARTBEAT", "HEARTBEAT_ACK", "ABORT", "SHUTDOWN",
        "SHUTDOWN_ACK", "ERROR", "COOKIE_ECHO", "COOKIE_ACK", "ECNE", "CWR", "SHUTDOWN_COMPLETE",
        "AUTH",
    };
    if (t < sizeof names / sizeof names[0]) return names[t];
    switch (t) {
    case 64: return "I_DATA";
    case 128: return "ASCONF_ACK";
    case 130: return "RE_CONFIG";
    case 132: return "PAD";
    case 192: return "FORWARD_TSN";
    case 193: return "ASCONF";
    case 194: return "I_FORWARD_TSN";
    }
    return NULL;
}

static int sctp_is_bulk(unsigned t) { return t == 0 || t == 3 || t == 4 || t == 5 || t == 64; }

static int sctp_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    (void)dir; (void)p; (void)n;
    return ci->ipproto == 132 ? KD_PROBE_CLIENT : KD_PROBE_NO;
}

static void sctp_write(kf_jw *w, unsigned type, uint32_t len, uint32_t checksum)
{
    char b[16];
    const char *name = sctp_chunk_name(type);
    if (!name) { snprintf(b, sizeof b, "%u", type); name = b; }
    kf_jw_kstr(w, "sctp_chunk_type", name);
    kf_jw_kuint(w, "sctp_length", len);
    kf_jw_kuint(w, "sctp_checksum", checksum);
}

static void sctp_packet(kd_conn *c, void *stv, int dir, const kf_l4 *l4, const kd_pref *ref)
{
    sctp_state *s = stv;
    if (!l4->sctp_nchunks) { kd_stat_add(c, KD_STAT_PARSE_ERRORS, 1); return; }
    if (sctp_is_bulk(l4->sctp_chunk_type)) {
        sctp_bulk *b = &s->bulk[dir];
        if (!b->packets) { b->first = *ref; b->checksum = l4->sctp_checksum; b->type = l4->sctp_chunk_type; }
        b->packets++;
        b->bytes += l4->sctp_chunk_len;
        b->last = *ref;
        int64_t first = INT64_MAX;
        for (int d = 0; d < 2; d++) if (s->bulk[d].packets && s->bulk[d].first.ts_ns < first) first = s->bulk[d].first.ts_ns;
        kd_conn_pending(c, first);
        return;
    }
    kd_call call;
    memset(&call, 0, sizeof call);
    call.req_dir = dir; call.has_req = 1; call.req_first = call.req_last = *ref;
    kf_jw *w = kd_emit_begin(c, &call);
    if (!w) return;
    sctp_write(w, l4->sctp_chunk_type, l4->sctp_chunk_len, l4->sctp_checksum);
    kf_jw_kuint(w, "sctp_chunks", l4->sctp_nchunks);
    kf_jw_kuint(w, "sctp_verification_tag", l4->sctp_vtag);
    kd_emit_end(c);
}

static void sctp_close(kd_conn *c, void *stv)
{
    sctp_state *s = stv;
    for (int d = 0; d < 2; d++) {
        sctp_bulk *b = &s->bulk[d];
        if (!b->packets) continue;
        kd_call call;
        memset(&call, 0, sizeof call);
        call.req_dir = d; call.has_req = 1; call.req_first = b->first; call.req_last = b->last;
        kf_jw *w = kd_emit_begin(c, &call);
        if (!w) continue;
        sctp_write(w, b->type, b->bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)b->bytes, b->checksum);
        kf_jw_kuint(w, "sctp_packets", b->packets);
        kd_emit_end(c);
        memset(b, 0, sizeof *b);
    }
    kd_conn_pending(c, INT64_MAX);
}

const kd_dissector kd_proto_sctp = {
    .name = "sctp", .protocol = "SCTP", .flag = "sctp", .l7_name = "SCTP",
    .transports = KD_TRANSPORT_OTHER,
    .state_size = sizeof(sctp_state),
    .probe = sctp_probe, .on_packet = sctp_packet, .on_close = sctp_close,
};
