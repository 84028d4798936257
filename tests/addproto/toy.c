/* toy.c — a toy L7 protocol for tests/bats/add_protocol.bats (NOT built into kdissect: the test
 * copies it to tools/kdissect/proto/ of a copy of the tree). Over TCP, one line per message:
 * the client sends "TOY <command>\n", the server answers "OK\n" or "ERR <reason>\n", in order.
 * One record per request with its answer: toy_command, toy_status, toy_request_size,
 * toy_response_size; a request whose answer was not seen is written unanswered. */
#include <stdlib.h>
#include <string.h>
#include "../dissector.h"

#define TOY_LINE_MAX 256
#define TOY_PENDING 64

typedef struct { kd_pref first, last; char cmd[64]; size_t len; } toy_req;
typedef struct { kd_ptab q; } toy_state;

static const uint16_t toy_ports[] = { 7777, 0 };

static int toy_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    if (n < 4) return memcmp(p, "TOY ", n) == 0 ? KD_PROBE_MORE : KD_PROBE_NO;
    return memcmp(p, "TOY ", 4) == 0 ? KD_PROBE_CLIENT : KD_PROBE_NO;
}

static void toy_emit(kd_conn *c, const toy_req *q, const uint8_t *resp, size_t rlen, const kd_pref *rf, const kd_pref *rl)
{
    kd_call call;
    memset(&call, 0, sizeof call);
    call.req_dir = kd_conn_get_info(c)->client < 0 ? 0 : kd_conn_get_info(c)->client;
    if (q) { call.has_req = 1; call.req_first = q->first; call.req_last = q->last; }
    if (resp) { call.has_resp = 1; call.resp_first = *rf; call.resp_last = *rl; }
    kf_jw *w = kd_emit_begin(c, &call);
    if (!w) return;
    kf_jw_kstr(w, "toy_command", q ? q->cmd : "");
    if (resp) kf_jw_kstrn(w, "toy_status", (const char *)resp, rlen >= 2 && !memcmp(resp, "OK", 2) ? 2 : 3);
    kf_jw_kuint(w, "toy_request_size", q ? q->len : 0);
    kf_jw_kuint(w, "toy_response_size", resp ? rlen : 0);
    kd_emit_end(c);
}

static int toy_unanswered(kd_conn *c, void *ctx, void *item) { toy_emit(c, item, NULL, 0, NULL, NULL); return 1; }

static size_t toy_data(kd_conn *c, void *stv, int dir, const uint8_t *p, size_t n, uint64_t off, unsigned flags)
{
    toy_state *s = stv;
    size_t used = 0;
    for (;;) {
        const uint8_t *nl = memchr(p + used, '\n', n - used);
        if (!nl) break;
        size_t len = (size_t)(nl - (p + used)) + 1;
        kd_pref first, last;
        kd_stream_ref(c, dir, off + used, &first);
        kd_stream_ref(c, dir, off + used + len - 1, &last);
        int client = kd_conn_get_info(c)->client;
        if (dir == (client < 0 ? 0 : client)) {
            toy_req *q = kd_ptab_add(&s->q, dir, 0, first.ts_ns);
            if (q) {
                q->first = first; q->last = last; q->len = len;
                size_t k = len - 1 > 4 ? len - 1 - 4 : 0;
                if (k >= sizeof q->cmd) k = sizeof q->cmd - 1;
                if (k) memcpy(q->cmd, p + used + 4, k);
                q->cmd[k] = 0;
            }
        } else {
            toy_req *q = kd_ptab_oldest(&s->q);
            toy_emit(c, q, p + used, len, &first, &last);
            if (q) kd_ptab_done(&s->q, q);
        }
        used += len;
    }
    if (n - used > TOY_LINE_MAX || (flags & KD_DATA_EOF)) used = n;   /* not a line: skip it */
    return used;
}

static void toy_gap(kd_conn *c, void *stv, int dir, uint64_t off, uint64_t len) { kd_ptab_flush(&((toy_state *)stv)->q, -1); }
static void toy_init(kd_conn *c, void *stv)
{
    kd_ptab_init(&((toy_state *)stv)->q, c, sizeof(toy_req), TOY_PENDING, toy_unanswered, NULL, stv);
}
static void toy_close(kd_conn *c, void *stv) { kd_ptab_flush(&((toy_state *)stv)->q, -1); }
static void toy_destroy(kd_conn *c, void *stv) { kd_ptab_free(&((toy_state *)stv)->q); }

const kd_dissector kd_proto_toy = {
    .name = "toy", .protocol = "TOY", .flag = "toy",
    .transports = KD_TRANSPORT_TCP, .ports = toy_ports, .calls = 1, .state_size = sizeof(toy_state),
    .probe = toy_probe, .init = toy_init, .on_data = toy_data, .on_gap = toy_gap,
    .on_close = toy_close, .destroy = toy_destroy,
};
