/* dissector.h — the interface between kdissect's engine and its protocol dissectors.
 *
 * One file per protocol, tools/kdissect/proto/<name>.c, defining ONE descriptor:
 *
 *     const kd_dissector kd_proto_redis = { .name = "redis", .protocol = "REDIS", ... };
 *
 * and one line in the table (proto/table.c: its name and a line about it), which refers to every
 * descriptor through a weak extern, so a protocol exists as soon as its file defines the symbol.
 * Table order = probing order (after port hints, see below). Adding a protocol: docs/dissectors.md.
 *
 * THE ENGINE does: capture reading, link/IP decoding, flow table, TCP reassembly, duplicate
 * suppression, L4 (conn/flow) records, Kubernetes context, record ordering and output.
 * A DISSECTOR does: recognising its protocol from content, parsing messages, matching
 * requests with responses, and writing its own fields into records.
 *
 * Directions. A connection has two sides, A (dir 0) and B (dir 1). A is the side that sent the
 * SYN, else the sender of the first packet seen. `dir` always means "bytes sent by side dir".
 * A dissector says which side is the client through the probe result or kd_conn_set_client();
 * in records, src = the sender of the request (kd_call.req_dir).
 *
 * Lifecycle of one connection, as the dissector sees it:
 *   probe()        on the first payload of either direction until some dissector says yes
 *                  (content decides; ports only order the probing). After KD_PROBE_MORE the
 *                  engine re-probes with more bytes (up to 4 KiB per direction). UDP: each
 *                  datagram is probed alone; a connection is given up after 8 datagrams nobody
 *                  wanted, but one answered KD_PROBE_MORE ("not mine yet, look further": STUN
 *                  before DTLS) does not count, up to 256 datagrams probed.
 *   init()         once, with zeroed state of state_size bytes (engine allocates it).
 *   on_data()      TCP: reassembled in-order bytes of one direction (see contract below).
 *   on_gap()       TCP: bytes missing from one direction (never recovered).
 *   on_datagram()  UDP: one datagram.
 *   on_packet()    other IP protocols (ICMP): one decoded packet.
 *   on_timer()     when the capture clock passes the time asked with kd_conn_timer().
 *   on_close()     end of connection: both FINs, RST, idle expiry, end of input, memory
 *                  eviction. Emit everything still pending here (e.g. unanswered requests).
 *   destroy()      free what the dissector allocated itself (the engine frees `st`).
 *
 * Thread safety: with -j N, connections are sharded across threads; all callbacks of one
 * connection run on one thread. Dissectors must keep no mutable global/static state.
 *
 * Memory: keep what you buffer bounded (headers ≤ 64 KiB, bodies ≤ kd_opts.body_limit …).
 * Report heap you hold beyond `st` with kd_conn_mem() so --max-memory accounts for it.
 */
#ifndef KD_DISSECTOR_H
#define KD_DISSECTOR_H
#include <stdint.h>
#include <stddef.h>
#include "kf_decode.h"
#include "kf_json.h"

typedef struct kd_conn kd_conn;     /* engine-owned connection (opaque) */

enum { KD_TRANSPORT_TCP = 1, KD_TRANSPORT_UDP = 2, KD_TRANSPORT_OTHER = 4 };

/* A packet reference: where a byte or a message was captured. file is an engine index (the
 * engine turns it into capture.file); frame is Wireshark's 1-based number in that file. */
typedef struct kd_pref {
    int64_t ts_ns;
    uint64_t frame;
    uint32_t file;
} kd_pref;

/* Time arithmetic that saturates instead of overflowing (signed overflow is undefined, and a
 * capture's timestamps may sit anywhere in int64: pcapng's are 64-bit units): a - b, and a + d. */
static inline int64_t kd_ts_diff(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) return a > b ? INT64_MAX : INT64_MIN;
    return r;
}
static inline int64_t kd_ts_add(int64_t a, int64_t d)
{
    int64_t r;
    if (__builtin_add_overflow(a, d, &r)) return d > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* Options the user gave that dissectors honour. */
typedef struct kd_opts {
    size_t body_limit;          /* --body-limit: bytes of decoded body kept in a record (4096) */
    int64_t req_timeout_ns;     /* a request unanswered this long is emitted as such (DNS: 10 s) */
    struct kf_keylog *tls_keys; /* TLS secrets (--tls-keylog, the inputs' DSBs); NULL: none */
} kd_opts;

/* The connection as a dissector may see it. addr/port [0] = side A, [1] = side B. */
typedef struct kd_conn_info {
    uint8_t transport;          /* KD_TRANSPORT_* */
    uint8_t ipproto;            /* 6, 17, 1, 58 … */
    kf_addr addr[2];
    uint16_t port[2];
    int client;                 /* side that is the client (0 or 1; -1 not known yet) */
    const kd_opts *opts;
} kd_conn_info;

/* Probe results. CLIENT/SERVER: "mine, and these bytes were sent by the client / the server". */
enum kd_probe_rc { KD_PROBE_NO = 0, KD_PROBE_MORE = 1, KD_PROBE_CLIENT = 2, KD_PROBE_SERVER = 3 };

/* Flags for on_data */
enum {
    KD_DATA_EOF = 1,            /* the direction ended (FIN/RST/close/expiry); last call for dir:
                                 * consume what you can (close-delimited bodies end here) */
    KD_DATA_AFTER_GAP = 2,      /* bytes follow a gap: resynchronise on a message start */
    KD_DATA_GAP_NEXT = 4,       /* a gap follows these bytes: take what you can of a partial
                                 * message now (what is left is dropped, then on_gap) */
};

/* What an HTTP/1 Upgrade hands to the next dissector (kd_conn_upgrade). Strings live only for
 * the duration of the on_upgrade() call; copy what you keep. */
typedef struct kd_upgrade {
    const char *from;           /* "http1" */
    const char *token;          /* Upgrade header value, e.g. "h2c", "websocket" */
    int client;                 /* client side (0/1) */
    const char *method, *url, *host;
    const uint8_t *h2_settings; /* h2c: decoded HTTP2-Settings header, or NULL */
    size_t h2_settings_len;
    const char *ws_key, *ws_protocol, *ws_extensions;   /* websocket headers, or NULL */
    kd_pref req_first, resp_last;   /* the upgrade request's first / 101 response's last packet */
    int64_t req_ts_ns;
} kd_upgrade;

/* One record's envelope. The dissector fills it; the engine writes the common fields. */
typedef struct kd_call {
    int req_dir;                /* side that sent the request (its endpoint is src) */
    int has_req, has_resp;      /* a response-only record (mid-stream start) has has_req = 0 */
    kd_pref req_first, req_last;    /* request's first and last packet */
    kd_pref resp_first, resp_last;  /* response's (when has_resp) */
    const char *protocol;       /* NULL = descriptor's .protocol; e.g. "GRPC" from http2.c */
    const char *flag;           /* NULL = descriptor's .flag; the engine writes "<flag>": true */
                                /* (both, as the descriptor's: string literals, text that never
                                 * changes; the engine keeps what it wrote by their address) */
    int no_response;            /* the request expects no response (CLIENT REPLY OFF, acks=0 …):
                                 * not "unanswered" (dissectors with .calls) */
} kd_call;
/* The engine derives: timestamp = req_first.ts (resp_first.ts without a request),
 * elapsed_time = (resp_first.ts - req_first.ts) / 1000 when both exist, else 0,
 * capture.first_frame/first_ts from the earliest of the refs, last_* from the latest. */

typedef struct kd_dissector {
    const char *name;           /* -p name, lower case: "http1", "dns", "redis" … */
    const char *protocol;       /* record "protocol": "HTTP", "DNS", "REDIS" … (a literal) */
    const char *flag;           /* record flag: "http", "dns", "redis" … (a literal) */
    const char *l7_name;        /* name in conn_l7_detected (NULL = protocol) */
    unsigned transports;        /* KD_TRANSPORT_* it handles */
    const uint16_t *ports;      /* hint ports, 0-terminated (NULL = none): probed first */
    int upgrade_only;           /* 1: never probed; only reached through kd_conn_upgrade */
    int calls;                  /* 1: records are calls; the engine writes "unanswered": true on
                                 * a request without response (has_req, !has_resp, !no_response) */
    size_t state_size;          /* per-connection state, zeroed by the engine */

    /* p/n: the first bytes seen in direction dir (TCP: in order, from the stream's start as
     * captured; UDP: one datagram). Must not keep p. Pure function. */
    int (*probe)(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n);

    void (*init)(kd_conn *c, void *st);

    /* TCP bytes of direction dir in order. p[0] is at stream offset `off` (bytes counted from
     * the first byte the engine saw in that direction, gaps included). Return how many bytes
     * were consumed (0..n). Unconsumed bytes stay buffered and are presented again, followed
     * by the newer ones, on the next call for that direction. If n reaches 256 KiB and nothing
     * is consumed, the engine drops the buffer and reports a gap: consume bodies as they come.
     * Packet references of any byte not yet consumed: kd_stream_ref(). */
    size_t (*on_data)(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n,
                      uint64_t off, unsigned flags);
    /* TCP: `len` bytes at stream offset `off` are missing in dir (unconsumed bytes before the
     * gap were first offered with KD_DATA_GAP_NEXT, then discarded). The next on_data has KD_DATA_AFTER_GAP. */
    void (*on_gap)(kd_conn *c, void *st, int dir, uint64_t off, uint64_t len);
    /* UDP: one datagram (payload only) sent by side dir, captured in packet ref. */
    void (*on_datagram)(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n,
                        const kd_pref *ref);
    /* Other transports (ICMP, ICMPv6): one decoded packet sent by side dir. */
    void (*on_packet)(kd_conn *c, void *st, int dir, const kf_l4 *l4, const kd_pref *ref);
    /* A connection handed over by another dissector (HTTP/1 Upgrade). Called right after
     * init(); bytes after the upgrade come through on_data as usual. */
    void (*on_upgrade)(kd_conn *c, void *st, const kd_upgrade *u);
    void (*on_timer)(kd_conn *c, void *st, int64_t now_ns);
    void (*on_close)(kd_conn *c, void *st);
    void (*destroy)(kd_conn *c, void *st);

    /* Framed mode (engine_frame.c, "Framed mode" below), for a protocol whose messages carry
     * their length: set frame and on_frame instead of on_data (frame_sync optional); the
     * state (state_size bytes) then begins with a kd_framer. */
    int64_t (*frame)(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n);
    int (*on_frame)(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t len,
                    const kd_pref *first, const kd_pref *last);
    int (*frame_sync)(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n);
} kd_dissector;

/* ---- Framed mode (engine_frame.c) ----
 * Kafka, MongoDB, PostgreSQL, MySQL, AMQP, HTTP/2 and DNS over TCP send frames whose header says how long they
 * are. Such a dissector says where a frame ends and what a frame means; the engine does the
 * rest: it buffers until a frame is whole, bounds oversize frames, skips what it does not keep,
 * and resynchronises after a gap or a bad frame. The dissector declares
 *   frame(p, n)       p: the bytes of direction dir from a frame's start (n > 0). Returns the
 *                     frame's whole length (header included, > 0), KD_FRAME_MORE (these bytes
 *                     cannot tell yet) or KD_FRAME_BAD (no frame starts here). May note in st
 *                     what kind of frame it saw (on_frame follows for the same bytes).
 *   on_frame(p, n, len, first, last)
 *                     a complete frame (n == len), or the HEAD of an oversize one (n < len):
 *                     a frame longer than KD_FRAME_MAX is not buffered whole; once at least
 *                     KD_FRAME_HEAD of its bytes are there, they go to on_frame and the engine
 *                     skips the rest as it arrives. first/last: packets of p[0] and p[n-1].
 *                     Returns KD_FRAME_OK, KD_FRAME_STOP (the dissector handed the connection
 *                     over with kd_conn_upgrade: the bytes after this frame are not its own) or
 *                     KD_FRAME_END (stop dissecting this connection).
 *   frame_sync(p, n)  after a gap (KD_DATA_AFTER_GAP) or a bad frame: KD_SYNC_YES when a frame
 *                     plausibly starts at p, KD_SYNC_NO, KD_SYNC_MORE (wait for more bytes) or
 *                     KD_SYNC_NEVER (this direction cannot be resynchronised: give it up). The
 *                     engine tries every byte offset until one says yes. NULL: never.
 * --stats: a bad frame counts in parse_errors, each resynchronisation in resyncs. on_gap, when
 * set, is still called after the engine's own gap handling (the skipped part shrinks by the gap).
 * The limits are the same for every framed protocol: */
#define KD_FRAME_MAX (192u << 10)   /* longest frame buffered whole (below the engine's 256 KiB
                                     * per direction, so a frame and the start of the next fit) */
#define KD_FRAME_HEAD 4096u         /* bytes of an oversize frame gathered before its head goes
                                     * to on_frame (all there are by then, up to the buffer) */
enum { KD_FRAME_MORE = 0, KD_FRAME_BAD = -1 };
enum { KD_FRAME_OK = 0, KD_FRAME_STOP = 1, KD_FRAME_END = 2 };
enum { KD_SYNC_NO = 0, KD_SYNC_YES = 1, KD_SYNC_MORE = 2, KD_SYNC_NEVER = 3 };
typedef struct kd_framer {
    /* private: the engine's, per direction */
    uint64_t skip[2];           /* bytes of an oversize frame still to skip */
    uint8_t dead[2];            /* given up */
    uint8_t resync[2];          /* looking for a frame start (2: counted in --stats resyncs) */
} kd_framer;
/* The engine's and layers' entry points: on_data / on_gap, or the framed mode for a dissector
 * with .frame (a dissector never calls these). */
size_t kd_dissector_data(const kd_dissector *d, kd_conn *c, void *st, int dir, const uint8_t *p,
                         size_t n, uint64_t off, unsigned flags);
void kd_dissector_gap(const kd_dissector *d, kd_conn *c, void *st, int dir, uint64_t off, uint64_t len);
static inline int kd_dissector_takes_data(const kd_dissector *d) { return d->on_data || d->frame; }

/* ---- Engine API for dissectors (implemented in engine.c) ---- */

const kd_conn_info *kd_conn_get_info(const kd_conn *c);
/* Sets which side is the client (when the probe could not tell). */
void kd_conn_set_client(kd_conn *c, int side);
/* Packet reference of the byte at stream offset off of direction dir. Valid for bytes not yet
 * consumed and for the bytes of the current on_data call. Returns 0, or -1 (ref zeroed). */
int kd_stream_ref(const kd_conn *c, int dir, uint64_t off, kd_pref *out);
/* Packet references of a byte stream: for each packet that brought bytes of one direction, the
 * stream offset of its first byte, ascending (what kd_stream_ref answers from). The engine keeps
 * one per TCP direction; a layer making its own stream (inner.c: decrypted TLS plaintext) keeps
 * its own and answers its layer's stream_ref with kd_reflist_find. Implemented in engine_tcp.c. */
typedef struct kd_refent { uint64_t off; kd_pref ref; } kd_refent;
typedef struct kd_reflist { kd_refent *v; size_t n, cap; } kd_reflist;
/* Adds (off, ref) unless the last entry is the same packet. Returns the heap bytes the list grew
 * by (account them: kd_conn_mem), 0, or -1 when out of memory (nothing added). */
long kd_reflist_push(kd_reflist *l, uint64_t off, const kd_pref *ref);
/* The packet of the byte at off: the last entry at or before it. 0, or -1 (out zeroed). */
int kd_reflist_find(const kd_reflist *l, uint64_t off, kd_pref *out);
/* Bytes before upto were consumed: keeps the last entry at or before upto and the later ones. */
void kd_reflist_prune(kd_reflist *l, uint64_t upto);
/* Heap bytes held (cap entries). */
static inline size_t kd_reflist_mem(const kd_reflist *l) { return l->cap * sizeof *l->v; }
/* Reference of the packet currently being processed. */
const kd_pref *kd_conn_cur_ref(const kd_conn *c);

/* Records. Between begin and end, write your protocol's fields (KFL names, docs/schema.md)
 * into the returned writer with kf_jw_k*(); the top-level object is open. Never write the
 * common keys (id, timestamp, elapsed_time, src, dst, node*, capture*, conn_id, flow_id,
 * stream, protocol, tcp, udp, the flag of kd_call, has_pcap, namespaces, pods, services,
 * local_*, remote_*). Records may be emitted in any order: the engine sorts by timestamp. */
kf_jw *kd_emit_begin(kd_conn *c, const kd_call *call);
void kd_emit_end(kd_conn *c);

/* Ordering: the earliest timestamp of a record this connection may still emit (INT64_MAX =
 * none pending). Records later than the minimum over all connections wait; call it whenever
 * a request starts waiting for its response and when nothing is pending any more. */
void kd_conn_pending(kd_conn *c, int64_t earliest_ts_ns);
/* Calls on_timer once the capture clock passes ts (one timer per connection; 0 cancels). */
void kd_conn_timer(kd_conn *c, int64_t ts_ns);
/* Hands the connection to another dissector by name (e.g. "http2", "websocket"). Call from
 * on_data after consuming the last byte that belongs to you; the new dissector is initialised
 * and gets on_upgrade(u) immediately; everything after (in both directions) goes to it.
 * Returns 0, or -1 if that dissector is not built in or disabled by -p (keep parsing, or
 * stop consuming). name NULL: back to protocol detection — once on_data returns, the
 * dissectors probe what follows in each direction as at a connection's start (the tunnel
 * after a 2xx answer to CONNECT); u is not used. TCP only; -1 inside a layer. */
int kd_conn_upgrade(kd_conn *c, const char *name, const kd_upgrade *u);
/* Heap bytes held beyond st (+ when allocating, - when freeing), for --max-memory. */
void kd_conn_mem(kd_conn *c, long delta);
/* A block of size bytes, uninitialised, from the engine's recycled blocks of that size or
 * malloc (NULL: no memory); kd_conn_blk_put gives it back (to be recycled, or freed) with the
 * same size. For blocks a dissector makes and frees often (HTTP/1 messages): cheaper than
 * malloc/free. Count them with kd_conn_mem as any other heap. */
void *kd_conn_blk_get(kd_conn *c, size_t size);
void kd_conn_blk_put(kd_conn *c, void *p, size_t size);
/* DNS: an answer mapping ip -> name seen at ts (feeds src.dns/dst.dns and src.name/dst.name). */
void kd_learn_name(kd_conn *c, const kf_addr *ip, const char *name, size_t len, int64_t ts_ns);
/* proto/dns.c, for the -j dispatcher: the ip -> name pairs a DNS response message teaches. */
typedef void (*kd_name_fn)(void *arg, const kf_addr *ip, const char *name, size_t len);
unsigned kd_dns_names(const uint8_t *msg, size_t n, kd_name_fn fn, void *arg);
int kd_dns_port(uint16_t port);   /* 53, 5353, 5355: the ports DNS is hinted on */
/* --stats counters a dissector may bump. */
enum kd_stat { KD_STAT_PARSE_ERRORS, KD_STAT_TRUNCATED_BODIES, KD_STAT_RESYNCS,
               KD_STAT_UNANSWERED, KD_STAT_TLS_DECRYPTED, KD_STAT_TLS_UNDECRYPTED, KD_STAT__N };
void kd_stat_add(kd_conn *c, enum kd_stat what, uint64_t n);

/* ---- The pending-call table (engine_pend.c) ----
 * Requests waiting for their responses, for every dissector with calls: one bounded table per
 * connection (or per layer), kept in the dissector's state and reached only through these
 * functions. An entry is the dissector's own request record (item_size bytes, zeroed when added)
 * plus what the table needs: the side that sent it, a match key (an id, or 0 for in-order
 * protocols) and its time. The table
 *   - matches by key (kd_ptab_find) or in order (kd_ptab_oldest: the earliest added);
 *   - is bounded: adding to a full table emits its oldest entry unanswered first;
 *   - keeps the connection's ordering bound (kd_conn_pending) at its EARLIEST entry's time, and,
 *     with a timeout, the connection's timer (kd_conn_timer) at that time + timeout;
 *   - emits entries unanswered through the dissector's `unanswered` callback (which writes the
 *     record: has_req, !has_resp; with .calls the engine adds "unanswered": true) and counts
 *     them (--stats unanswered), oldest first at a gap (kd_ptab_flush) and at close.
 * Item pointers stay valid until the next kd_ptab_add (the callbacks must add none). A dissector using a table leaves
 * kd_conn_pending (and, with a timeout, kd_conn_timer) to it. */
/* unanswered: writes the entry's record; returns 1 when it went out without any response (it is
 * then counted in --stats unanswered), 0 when part of one was seen (a multi-reply call cut off).
 * release: frees what the entry holds. */
typedef int (*kd_ptab_emit_fn)(kd_conn *c, void *ctx, void *item);
typedef void (*kd_ptab_fn)(kd_conn *c, void *ctx, void *item);
typedef struct kd_ptab {
    /* private: the engine's */
    kd_conn *c;
    void *ctx;
    kd_ptab_emit_fn unanswered;
    kd_ptab_fn release;
    size_t isize;
    unsigned max, n;
    int64_t timeout_ns, hold, last_ts;
    int mono;                   /* entries were added in time order */
    struct kd_pslot *slot;      /* the queue, in the order added: [head, tail) of qcap */
    unsigned head, tail, qcap;
    unsigned char *items;       /* the items' pool: icap of isize bytes */
    unsigned *ipos, *ifree;     /* an item's queue place; the free items */
    unsigned icap, nfree;
} kd_ptab;
/* max entries (at most KD_PTAB_MAX); release may be NULL; ctx is handed to both callbacks. */
#define KD_PTAB_MAX 4096u
void kd_ptab_init(kd_ptab *t, kd_conn *c, size_t item_size, unsigned max,
                  kd_ptab_emit_fn unanswered, kd_ptab_fn release, void *ctx);
/* Requests still pending timeout_ns after they were sent are emitted unanswered (the table sets
 * the connection's timer; call kd_ptab_timer from on_timer). 0: never (the default). */
void kd_ptab_set_timeout(kd_ptab *t, int64_t timeout_ns);
/* A new request sent by side dir at ts: a zeroed item to fill, or NULL when no memory (the
 * caller then emits the request alone). A full table first emits its oldest unanswered. */
void *kd_ptab_add(kd_ptab *t, int dir, uint64_t key, int64_t ts);
/* The earliest added entry with this key sent by dir (dir < 0: by either side), or NULL. */
void *kd_ptab_find(const kd_ptab *t, int dir, uint64_t key);
/* The earliest / latest added entry, or NULL; the one added after prev (prev NULL: the
 * earliest), to walk the entries oldest first when a match needs more than key and side. */
void *kd_ptab_oldest(const kd_ptab *t);
void *kd_ptab_newest(const kd_ptab *t);
void *kd_ptab_next(const kd_ptab *t, const void *prev);
/* An entry's side, key and time. */
int kd_ptab_dir(const kd_ptab *t, const void *item);
int64_t kd_ptab_ts(const kd_ptab *t, const void *item);
/* Answered (the dissector wrote its record): releases and removes the entry. */
void kd_ptab_done(kd_ptab *t, void *item);
/* Emits the entry unanswered, counts it, removes it. */
void kd_ptab_unanswered(kd_ptab *t, void *item);
/* Emits every entry sent by dir (dir < 0: all) unanswered, oldest first: at a gap in the
 * responses and at close. */
void kd_ptab_flush(kd_ptab *t, int dir);
/* From on_timer: emits unanswered what waited at least the timeout by now. */
void kd_ptab_timer(kd_ptab *t, int64_t now_ns);
/* A record the dissector may still write at ts that no entry stands for (a response being read
 * whose request it does not hold): the connection's ordering bound is the earlier of ts and the
 * earliest entry. INT64_MAX: none (the default). */
void kd_ptab_hold(kd_ptab *t, int64_t ts);
unsigned kd_ptab_count(const kd_ptab *t);
int64_t kd_ptab_earliest(const kd_ptab *t);   /* INT64_MAX: empty */
/* Releases every entry without emitting (destroy) and frees the table's memory. */
void kd_ptab_free(kd_ptab *t);

/* Layers: a dissector that runs inside another one's bytes (the plaintext of a decrypted TLS
 * connection, inner.c). While a layer is entered, the engine API serves the inner dissector:
 * kd_stream_ref and kd_conn_upgrade go to the layer's functions, records are named after
 * layer->d and get layer->decorate's fields before they close. */
typedef struct kd_layer {
    const kd_dissector *d;
    int (*stream_ref)(void *arg, int dir, uint64_t off, kd_pref *out);
    int (*upgrade)(void *arg, const char *name, const kd_upgrade *u);
    void (*decorate)(void *arg, kf_jw *w);
    void *arg;
} kd_layer;
/* Enters l (NULL: leaves) for the calls that follow; returns the layer entered before. */
const kd_layer *kd_conn_layer(kd_conn *c, const kd_layer *l);
/* The options and the dissector table as -p enabled it: 1 when d may run. */
int kd_conn_dissector_enabled(const kd_conn *c, const kd_dissector *d);

/* ---- The table (proto/table.c) ---- */
/* Every built-in dissector, in probing order; NULL-terminated. */
const kd_dissector *const *kd_dissectors(size_t *n);
const kd_dissector *kd_dissector_find(const char *name);
/* Its line in the table ("" for one not in it). */
const char *kd_dissector_about(const kd_dissector *d);
#endif
