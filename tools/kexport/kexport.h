/* kexport — internal interfaces between the parts of the tool:
 *   bpf.c     tcpdump filter compiled by libpcap once per link type met
 *   calls.c   the --calls NDJSON reader (kdissect records, docs/schema.md `capture`)
 *   select.c  endpoint selection (--workload/--ip through the metadata), connection keys
 *   out.c     the output file: pcapng (kf_pcapng) or pcap (libpcap's pcap_dump)
 *   main.c    options and the packet loop */
#ifndef KEXPORT_H
#define KEXPORT_H
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <pcap/pcap.h>
#include "kf_decode.h"
#include "kf_meta.h"
#include "kf_source.h"

/* ---- bpf.c */
typedef struct kx_bpf kx_bpf;
/* Checks the syntax once (compiling for Ethernet); NULL with libpcap's message in err when the
 * expression cannot be parsed at all. Filters valid only on other link types pass. */
kx_bpf *kx_bpf_new(const char *expr, char *err, size_t errlen);
/* 1 when the packet matches, 0 when not or when the filter cannot compile for the link type
 * (kx_bpf_warning then reports that once per link type). */
int kx_bpf_match(kx_bpf *b, int linktype, const uint8_t *data, uint32_t caplen, uint32_t origlen);
/* Compiles for a link type now: 0 ok, -1 cannot (message kept for kx_bpf_warning). */
int kx_bpf_prepare(kx_bpf *b, int linktype);
/* Link types met so far where it compiled / where it did not. */
size_t kx_bpf_ok_count(const kx_bpf *b);
size_t kx_bpf_failed_count(const kx_bpf *b);
/* Pops the next "filter 'X' cannot be used on link type Y: why" message, or NULL. */
const char *kx_bpf_warning(kx_bpf *b);
/* The first compile error met (for "it compiled nowhere"). */
const char *kx_bpf_first_error(const kx_bpf *b);
void kx_bpf_free(kx_bpf *b);
/* A libpcap handle for a pcap LINKTYPE_ value (libpcap maps it to its DLT_ value itself),
 * usable with pcap_compile and pcap_dump_fopen. NULL with a message. */
pcap_t *kx_pcap_for_linktype(int linktype, uint32_t snaplen, int nano, char *err, size_t errlen);
/* Name of a LINKTYPE_ value, for messages ("EN10MB", or the number). */
const char *kx_linktype_name(int linktype, char *buf, size_t len);

/* ---- select.c: connection keys */
typedef struct kx_conn {
    uint8_t proto;          /* IPPROTO_*; 0 when not known */
    kf_addr a, b;           /* normalized: (a, pa) <= (b, pb) */
    uint16_t pa, pb;
} kx_conn;
/* Builds the normalized key of an endpoint pair. */
void kx_conn_make(kx_conn *c, uint8_t proto, const kf_addr *x, uint16_t px, const kf_addr *y,
                  uint16_t py);
int kx_conn_cmp(const kx_conn *x, const kx_conn *y);
/* Same addresses and protocol, ports ignored (for IP fragments after the first). */
int kx_conn_cmp_noports(const kx_conn *x, const kx_conn *y);
/* Parses "10.0.0.1:80", "[fd00::1]:80", "10.0.0.1" (port 0). 0 ok, -1 bad. */
int kx_endpoint_parse(const char *s, kf_addr *a, uint16_t *port);
/* "tcp"/"udp"/"icmp"/"icmpv6"/"sctp" or a number; -1 unknown */
int kx_proto_parse(const char *s);

/* ---- calls.c */
typedef struct kx_call {
    kx_conn conn;
    char *node;             /* capture.node or NULL */
    char *file;             /* capture.file or NULL */
    uint64_t first_frame, last_frame;   /* 0 when absent */
    int64_t first_ts, last_ts;          /* the call; KF_T_MIN/KF_T_MAX when absent */
    int64_t conn_first_ts, conn_last_ts;/* the connection; falls back to the call's */
    char *label;            /* "HTTP GET /x -> 503" style summary for --annotate */
    char *client, *server;  /* "name.ns (ip:port)" from the record's src/dst, or NULL */
    kf_addr client_ip, server_ip;
    uint16_t client_port, server_port;
    int has_endpoints;
    int annotated;          /* the first packet got its comment */
    int closed;             /* a new TCP connection reused the 5-tuple after conn_last_ts */
    uint64_t packets;       /* packets it selected */
    size_t line;            /* input line number */
} kx_call;

typedef struct kx_calls {
    kx_call *v;
    size_t n, cap;
    size_t skipped;         /* records without a usable capture object */
    size_t records;         /* JSON objects read */
    size_t first_skipped_line;
} kx_calls;

void kx_calls_init(kx_calls *c);
void kx_calls_free(kx_calls *c);
/* Parses NDJSON text (one record a line, blank lines ignored). Records without `capture.conn`
 * are counted in c->skipped. -1 with "line N: what" in err on a line that is not a JSON object. */
int kx_calls_parse(kx_calls *c, const char *buf, size_t len, char *err, size_t errlen);
/* Reads path ("-" = standard input; plain or gzip) through kf_lines and parses it. -1 with
 * "line N: what" in err, or with err empty when kf_lines already reported the error (I/O, a
 * line over KF_MAX_LINE, a NUL byte). */
int kx_calls_load(kx_calls *c, const char *path, char *err, size_t errlen);
/* Sorts by connection key; must be called before kx_calls_find. */
void kx_calls_index(kx_calls *c);
/* Index range [*lo, *hi) of the calls of this connection (ports ignored when noports). */
void kx_calls_find(const kx_calls *c, const kx_conn *k, int noports, size_t *lo, size_t *hi);

/* ---- select.c: endpoints (--ip, --workload) */
typedef struct kx_span { kf_addr ip; int64_t from, to; const char *who; } kx_span;
typedef struct kx_endpoints {
    kx_span *v;
    size_t n, cap;
} kx_endpoints;
void kx_endpoints_init(kx_endpoints *e);
void kx_endpoints_free(kx_endpoints *e);
/* Adds an IP for all time. -1 when ip is not an address. */
int kx_endpoints_add_ip(kx_endpoints *e, const char *ip);
/* Adds every (IP, interval) a workload held, per the metadata. "NS/NAME" matches, in namespace
 * NS: pods named NAME, pods whose top owner is NAME, the service NAME (its cluster IP) and the
 * pods behind it; "node/NAME" or a bare NAME without namespace also matches a node.
 * Returns the number of spans added (0: nothing by that name), -1 on a bad argument. */
int kx_endpoints_add_workload(kx_endpoints *e, const kf_meta *m, const char *spec, char *err,
                              size_t errlen);
void kx_endpoints_index(kx_endpoints *e);
/* 1 if ip held by a selected endpoint at ts. */
int kx_endpoints_match(const kx_endpoints *e, const kf_addr *ip, int64_t ts);

/* Workload text of an IP at ts from the metadata: "orders-594487879c-7ddxf.prod" (pod),
 * "orders.prod.svc" (service), node name; NULL when unknown. For the NRB. buf >= 256. */
const char *kx_meta_name(const kf_meta *m, const kf_addr *ip, int64_t ts, char *buf, size_t len);
/* Longer form for comments: "orders-594487879c-7ddxf.prod (Deployment orders)",
 * "web-1.prod (pod)", "orders.prod.svc (service)", "worker-1 (node)". */
const char *kx_meta_describe(const kf_meta *m, const kf_addr *ip, int64_t ts, char *buf,
                             size_t len);

/* ---- select.c: a set of fixed-size keys (connections seen, IPs named) */
typedef struct kx_set {
    uint8_t *keys;
    uint8_t *used;
    size_t ksize, cap, n;
} kx_set;
void kx_set_init(kx_set *s, size_t key_size);
/* 1 added, 0 was there, -1 out of memory. Keys are compared as bytes (zero any padding). */
int kx_set_add(kx_set *s, const void *key);
int kx_set_has(const kx_set *s, const void *key);
void kx_set_free(kx_set *s);

/* ---- out.c */
enum kx_format { KX_PCAPNG = 1, KX_PCAP = 2 };
typedef struct kx_out kx_out;
typedef struct kx_out_opts {
    enum kx_format format;
    uint32_t snaplen;           /* 0 = keep */
    const char *shb_comment;    /* pcapng: a comment saying how it was made */
} kx_out_opts;
/* f stays the caller's. pcapng: the SHB is written now; pcap: at the first packet or at close. */
kx_out *kx_out_open(FILE *f, const kx_out_opts *o, char *err, size_t errlen);
#define KX_MAX_COMMENTS 16       /* comments of ours on one packet (calls starting in it) */
/* Writes one packet (its interface's IDB first if new) with comments[0..ncomments) of ours,
 * each its own opt_comment, before the packet's own comment.
 * Returns 0, -1 on a write error, -2 when -F pcap meets a second link type (message in err). */
int kx_out_packet(kx_out *w, const kf_src_pkt *p, const char *const *comments, size_t ncomments,
                  char *err, size_t errlen);
/* pcapng: a DSB (ignored for pcap, returns 1). */
int kx_out_dsb(kx_out *w, uint32_t type, const void *data, uint32_t len);
/* pcapng: an NRB of n names; pcap: ignored. */
int kx_out_nrb(kx_out *w, size_t n, const int *family, const uint8_t (*addr)[16],
               const char *const *name);
/* The interface an empty output describes (pcap: its header's link type; pcapng: one IDB, as
 * libpcap refuses a pcapng without any). f may be NULL (Ethernet). Copied. */
void kx_out_default_iface(kx_out *w, const kf_src_iface *f);
size_t kx_out_ifaces(const kx_out *w);
/* Finishes the file (header of an empty pcap), flushes. 0 or -1 (message in err). Frees w. */
int kx_out_close(kx_out *w, char *err, size_t errlen);
#endif
