/* capture_int.h — what the parts of `ksnap capture` share: capture.c (options, main loop),
 * capture_ebpf.c and capture_pcap.c (backends), segment.c (segments, repair, retention),
 * netlink.c (interfaces). Also used by ls.c and prune.c for the retention rules. */
#ifndef KSNAP_CAPTURE_INT_H
#define KSNAP_CAPTURE_INT_H
#include <stdint.h>
#include <stdio.h>
#include <net/if.h>
#include "kf_pcapng.h"

typedef struct cap_iface {
    int ifindex;
    char name[IF_NAMESIZE];
    int linktype;           /* LINKTYPE_*; -1 when we cannot capture it */
    int loopback;           /* IFF_LOOPBACK: ingress only, as tcpdump keeps it */
    int up;
    int attached;           /* the backend captures it */
    int gone;               /* vanished; forgotten at the next rotation */
    int idb;                /* interface id in the open segment, -1 none */
    uint64_t seg_recv, seg_drop, seg_deliv;    /* since the open segment started */
    uint64_t tot_recv, tot_drop, tot_deliv;    /* since start (for --stats) */
    uint64_t pending_drop;  /* goes into the next EPB's epb_dropcount */
    void *be;               /* backend state */
} cap_iface;

typedef struct cap_ctx {
    /* options */
    const char *dir, *node;
    char **pats; size_t npats;   /* -i patterns; none = all up except loopback */
    uint32_t snaplen;
    const char *filter;
    uint64_t seg_size, retain_size;
    int64_t seg_time, retain_time, stats_every;
    uint64_t ring_size;
    int verbose;
    const char *capture;    /* how packets are captured ("ebpf", "af_packet"): each IDB's
                               "kforensics-capture: " comment (docs/store.md) */
    /* state */
    char *nodedir;
    int capfd;              /* DIR/<node>/.capture, locked */
    cap_iface **ifs; size_t nifs;
    /* -f compiled per link type for the offline filter (pcap's struct bpf_program; void here
     * because libbpf.h, which the eBPF backend includes, has a struct of the same name) */
    void *fprog_eth, *fprog_raw;
    uint32_t cap_len;       /* bytes the kernel side copies: max(snaplen, what -f reads) */
    /* -f for Ethernet as classic BPF instructions (the layout of linux/filter.h's struct
     * sock_filter), for the eBPF backend to run in the kernel; NULL none */
    const void *kfilter;
    unsigned kfilter_len;
    /* the open segment */
    FILE *f;
    kf_pcapng_w *w;
    char *part;             /* path of the .part */
    int64_t seg_start;
    int64_t last_start;
    uint64_t seg_pkts;
    int write_failed;
    int sync_close;         /* close segments in this thread (at exit) */
    uint64_t lost_write;    /* packets lost to write errors (disk full) */
    int64_t last_flush, last_retention;
    unsigned char *obuf;    /* EPBs not yet written (segment.c) */
    size_t olen;
    uint64_t obytes;        /* bytes of EPBs put in this segment */
    uint64_t sync_from;     /* file offset from which writeback has not been started */
    unsigned char *vbuf;    /* VLAN re-insertion buffer */
    size_t vbuf_len;
    /* --tls (capture_tls.c) */
    int tls;
    uint32_t tls_max_call;
    char **tls_libs; size_t ntls_libs;
    struct cap_iface *tls_ifc;       /* "ebpf_tls", NULL while uprobes are off */
    uint64_t tls_counts[4];          /* KF_TLS_CNT_* (bpf/tls.h) so far */
    uint64_t tls_other_end;          /* calls of the other end of a connection kept */
} cap_ctx;

/* capture.c */
cap_iface *cap_iface_by_index(cap_ctx *c, int ifindex);
/* Hands one packet to the store: filter, EPB, rotation. data starts at the MAC header. */
void cap_deliver(cap_ctx *c, cap_iface *ifc, int64_t ts_ns, int dir, const uint8_t *data,
                 uint32_t caplen, uint32_t origlen);
/* Drops counted by the backend since the last call. */
void cap_add_drops(cap_ctx *c, cap_iface *ifc, uint64_t n);

/* segment.c */
int seg_open(cap_ctx *c, int64_t now_ns);
/* The open segment holds no packet yet (an idle stretch): it starts again at start_ns (its
 * .part renamed) instead of closing empty, so idle time leaves no trail of empty segments.
 * 0 done; -1 not possible (it holds packets, a write failed, the rename failed): rotate. */
int seg_restart(cap_ctx *c, int64_t start_ns);
int seg_add_iface(cap_ctx *c, cap_iface *ifc);
/* One EPB (epb_flags = flags; epb_dropcount when dropcount > 0) into the open segment's buffer;
 * 0, or -1 with write_failed set. */
int seg_write_epb(cap_ctx *c, uint32_t iface, int64_t ts, uint32_t flags, const uint8_t *data,
                  uint32_t caplen, uint32_t origlen, uint64_t dropcount);
/* Everything buffered to the file (not synced); 0 / -1 with write_failed set. */
int seg_flush(cap_ctx *c);
/* Bytes of the open segment so far, buffered ones included. */
uint64_t seg_bytes(const cap_ctx *c);
/* ISBs, then fdatasync and rename: in a thread of its own unless sync_close is set (see
 * segment.c). 0 ok (or handed to the thread); 1 a write had failed (disk full): the segment was
 * cut to its last whole block, as a repair does; -1 it could not be closed. */
int seg_close(cap_ctx *c, int64_t now_ns);
/* The thread that writes segments back to disk and closes them (see segment.c); without it,
 * closes happen in the calling thread. */
void seg_worker_start(unsigned max_closing);   /* a close waits while max_closing are pending */
/* Segments the worker has closed so far (retention runs after each). */
uint64_t seg_closed_count(void);
/* Waits for the segments being closed in the background; stops the worker. */
void seg_wait_closed(void);
/* Truncates a left-over .part to its last complete block and renames it to .pcapng (removes
 * it when not even the section header is whole). 0 ok, -1 with err. *kept_bytes set. */
int seg_repair(const char *part, uint64_t *kept_bytes, char *err, size_t errlen);
/* Byte offset just past the last complete pcapng block of the file at fd (0 if no SHB). */
uint64_t seg_good_end(int fd);

typedef void (*store_report_fn)(void *arg, const char *path, uint64_t size, const char *why);
/* Retention on one node: deletes whole oldest closed segments while the node's total passes
 * max_bytes (0 = no bound; the open segment counts as at least reserve bytes, so a capture can
 * keep room for the segment it is writing) or a segment ends before now - max_age (0 = no bound); with
 * force_one, removes the oldest closed segment regardless (disk full). Takes the node lock
 * exclusive without waiting; returns 1 if a reader holds it (nothing deleted), 0 done, -1 error.
 * *removed / *freed count what was (or, with dry_run, would be) removed. */
int store_retention(const char *dir, const char *node, uint64_t max_bytes, uint64_t reserve,
                    int64_t max_age, int64_t now_ns, int force_one, int dry_run, store_report_fn report, void *arg,
                    size_t *removed, uint64_t *freed, char *err, size_t errlen);

/* netlink.c */
typedef struct nl_link {
    int ifindex;
    char name[IF_NAMESIZE];
    unsigned flags;         /* IFF_* */
    int arphrd;             /* ARPHRD_* */
    int deleted;            /* RTM_DELLINK */
} nl_link;
typedef void (*nl_link_fn)(void *arg, const nl_link *l);
int nl_open_watch(void);                              /* socket subscribed to link events */
int nl_dump_links(nl_link_fn fn, void *arg);          /* every current link, 0 / -1 */
int nl_read_events(int fd, nl_link_fn fn, void *arg); /* drain pending events, 0 / -1 */
/* Number of TC filters on the ifindex's clsact ingress (egress=0) or egress hook, -1 error. */
int nl_count_tc_filters(int ifindex, int egress);
/* The name of the cls_bpf filter (handle, prio) on a clsact hook ("prog:[id]"), 0 / -1. */
int nl_tc_filter_name(int ifindex, int egress, uint32_t handle, uint32_t prio, char *out, size_t outlen);

/* backends: a vtable so the main loop does not care which one runs */
typedef struct cap_backend {
    const char *name;
    int (*init)(cap_ctx *c, char *err, size_t errlen);   /* -2: no privilege (fall back) */
    int (*attach)(cap_ctx *c, cap_iface *ifc, char *err, size_t errlen);
    void (*detach)(cap_ctx *c, cap_iface *ifc);          /* also when the interface is gone */
    int (*fds)(cap_ctx *c, int *fds, int max);           /* descriptors to poll */
    int (*consume)(cap_ctx *c);   /* read what is ready: 0 all, 1 more waiting, <0 error */
    void (*poll_drops)(cap_ctx *c);
    void (*fini)(cap_ctx *c);
    void (*drain)(cap_ctx *c);    /* at stop, before detach: all the kernel still has (NULL: consume) */
} cap_backend;
extern const cap_backend cap_backend_ebpf, cap_backend_pcap;

/* capture_ebpf.c: what is attached, kept in DIR/<node>/.capture so that the next start after a
 * kill -9 can remove exactly the TC filters the dead capture left ("ifindex ingress|egress
 * handle priority created-hook" lines after the pid line). */
int ebpf_attach_record(cap_ctx *c, char *buf, size_t len);
/* Removes the filters listed in an old .capture text if they still run one of our programs. */
void ebpf_cleanup_stale(const char *text, int verbose);

int64_t cap_mono_to_real(void);   /* current CLOCK_REALTIME - CLOCK_MONOTONIC, ns */

/* capture_tls.c: --tls. tls_init attaches the uprobes and adds the "ebpf_tls" interface to
 * c->ifs; where it cannot, it says so once and capture goes on without them. */
#define KF_TLS_IFACE "ebpf_tls"
void tls_init(cap_ctx *c);
int tls_fd(void);                  /* the ring's descriptor to poll, -1 none */
int tls_consume(cap_ctx *c);       /* 0, 1 a full batch (more may wait), -1 error */
void tls_poll_drops(cap_ctx *c);
void tls_fini(void);
#endif
