/* kf_pcapng — pcapng writer. Hand-written because libpcap writes only classic pcap and no
 * well-kept C library writes pcapng with per-interface IDBs, EPB flags/comments, ISB, NRB, DSB.
 * Spec: draft-ietf-opsawg-pcapng. Output is little-endian, one section (more only through
 * kf_pcapng_new_section).
 * pcap output (single link type) goes through libpcap's pcap_dump (see kf_pcap_out below).
 *
 * Errors: functions return 0 on success, -1 on a write error (errno kept); kf_pcapng_error()
 * gives the text. The writer never closes the FILE it was given. */
#ifndef KF_PCAPNG_H
#define KF_PCAPNG_H
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

typedef struct kf_pcapng_w kf_pcapng_w;

typedef struct kf_shb_opts {
    const char *hardware;   /* shb_hardware */
    const char *os;         /* shb_os (default: uname) */
    const char *userappl;   /* shb_userappl, e.g. "kforensics ksnap 0.1" */
    const char *comment;    /* opt_comment, e.g. "kforensics-node: worker-1" (see docs/store.md) */
} kf_shb_opts;

typedef struct kf_idb_opts {
    int linktype;
    uint32_t snaplen;       /* 0 = 262144 */
    const char *name;       /* if_name, e.g. "worker-1/eth0" */
    const char *description;/* if_description */
    const char *filter;     /* if_filter (string, type 0) or NULL */
    uint8_t tsresol;        /* 9 = ns (the default when 0) */
    const char *comment;    /* opt_comment or NULL, e.g. "kforensics-capture: ebpf" (docs/store.md) */
} kf_idb_opts;

typedef struct kf_epb {
    uint32_t iface;
    int64_t ts_ns;
    uint32_t caplen, origlen;
    const uint8_t *data;
    uint32_t flags;         /* epb_flags; written when has_flags */
    int has_flags;
    uint64_t dropcount;     /* epb_dropcount; written when has_dropcount */
    int has_dropcount;
    const char *comment;    /* opt_comment or NULL */
    const char *const *comments;  /* further opt_comments, one option each (e.g. one per call) */
    size_t ncomments;
} kf_epb;

kf_pcapng_w *kf_pcapng_open(FILE *f, const kf_shb_opts *shb);
/* Returns the interface id (0, 1, …) or -1. */
int kf_pcapng_add_iface(kf_pcapng_w *w, const kf_idb_opts *idb);
int kf_pcapng_write_epb(kf_pcapng_w *w, const kf_epb *p);
/* ISB: counters with value UINT64_MAX are omitted. */
int kf_pcapng_write_isb(kf_pcapng_w *w, uint32_t iface, int64_t ts_ns, int64_t start_ns,
                        uint64_t ifrecv, uint64_t ifdrop, uint64_t osdrop, uint64_t usrdeliv);
int kf_pcapng_write_dsb(kf_pcapng_w *w, uint32_t type, const void *data, uint32_t len);
/* One NRB with n IPv4/IPv6 records (family 4 or 6, 16-byte addr, name). */
int kf_pcapng_write_nrb(kf_pcapng_w *w, size_t n, const int *family, const uint8_t (*addr)[16],
                        const char *const *name);
/* Starts a new section (a new SHB); interfaces of the previous section can no longer be used
 * and ids start again at 0. Only needed to keep several sections apart (e.g. a round trip). */
int kf_pcapng_new_section(kf_pcapng_w *w, const kf_shb_opts *shb);
int kf_pcapng_flush(kf_pcapng_w *w);
uint64_t kf_pcapng_bytes(const kf_pcapng_w *w);   /* bytes written so far */
const char *kf_pcapng_error(const kf_pcapng_w *w);
/* Flushes and frees; returns -1 if a write failed at any point. Does not fclose. */
int kf_pcapng_close(kf_pcapng_w *w);

/* kf_pcap_out — classic pcap output (nanosecond magic, one link type) through libpcap's
 * pcap_open_dead_with_tstamp_precision + pcap_dump_fopen. linktype is a LINKTYPE_ value
 * (KF_LT_*), snaplen 0 = 262144. Writes through a dup of f's descriptor, so f is never closed
 * (f is flushed first; write nothing else to f until kf_pcap_out_close). */
typedef struct kf_pcap_out kf_pcap_out;
/* Returns NULL with a message in err on failure. */
kf_pcap_out *kf_pcap_out_open(FILE *f, int linktype, uint32_t snaplen, char *err, size_t errlen);
/* caplen above snaplen is cut to snaplen. Returns 0, or -1 (see kf_pcap_out_error). */
int kf_pcap_out_write(kf_pcap_out *o, int64_t ts_ns, uint32_t caplen, uint32_t origlen,
                      const uint8_t *data);
const char *kf_pcap_out_error(const kf_pcap_out *o);
/* Flushes and frees; returns -1 if any write failed (errno kept). Does not close f. */
int kf_pcap_out_close(kf_pcap_out *o);
#endif
