/* kf_source — every tool's input: pcap/pcapng files (gzip too), "-", .ksnap snapshots and
 * store DIRs, several at once, merged into one packet stream in timestamp order.
 *
 * Each input contributes the packets of one or more nodes. The node of a packet: from a store
 * or snapshot, its node folder; from a pcapng written by ksnap, the SHB comment
 * "kforensics-node: NAME" (docs/store.md); otherwise the file's base name without extension.
 * How an interface's packets were captured: its IDB comment "kforensics-capture: ebpf" (ksnap
 * writes it, kexport and freeze keep it); unknown for files others wrote.
 * Interfaces are renumbered globally (kf_src_iface), one per (input file, IDB).
 * Time window and node filters skip whole segments that cannot match (by segment name/time) and
 * then single packets. Metadata found in snapshots and stores is loaded into kf_source_meta().
 *
 * Ownership: packet data is valid until the next kf_source_next; interfaces, file names and the
 * metadata model until kf_source_close. Never prints: warnings are queued (kf_source_warning). */
#ifndef KF_SOURCE_H
#define KF_SOURCE_H
#include <stdint.h>
#include <stddef.h>
#include "kf_capread.h"
#include "kf_meta.h"

/* opts may be NULL (every packet); a zeroed struct (from_ns = to_ns = 0) also means no window. */
typedef struct kf_source_opts {
    int64_t from_ns, to_ns;     /* window [from, to]; KF_T_MIN/KF_T_MAX for none */
    const char *const *nodes;   /* only these nodes (NULL = all) */
    size_t nnodes;
    int no_meta;                /* do not load metadata from snapshots/stores */
} kf_source_opts;

/* How packets were captured (Kubeshark's capture_source). */
enum kf_capture { KF_CAP_UNKNOWN = -1, KF_CAP_AF_PACKET = 0, KF_CAP_EBPF = 1, KF_CAP_EBPF_TLS = 2 };
#define KF_CAPTURE_TAG "kforensics-capture: "
/* "af_packet", "ebpf", "ebpf_tls"; NULL for KF_CAP_UNKNOWN or anything else. */
const char *kf_capture_name(int cap);
/* The capture an IDB comment names ("kforensics-capture: ebpf"), KF_CAP_UNKNOWN when the comment
 * is NULL, not the tag, or names none of them. */
int kf_capture_parse(const char *comment);

typedef struct kf_src_iface {
    uint32_t id;                /* global id */
    const char *node;
    const char *name;           /* if_name (or "pcap") */
    const char *description;
    int capture;                /* enum kf_capture (KF_CAP_UNKNOWN: the file does not say) */
    int workload_names;         /* its file is a kexport export (shb_userappl "kforensics kexport"):
                                   NRB names and "IP reused" packet comments name workloads */
    int linktype;
    uint32_t snaplen;
    const char *file;           /* display name of the file it came from */
    uint32_t input;             /* index of the input argument */
} kf_src_iface;

typedef struct kf_src_pkt {
    kf_pkt pkt;                 /* pkt.iface is the *global* interface id */
    const kf_src_iface *iface;
    const char *node;
    const char *file;           /* display name: path, or "snap.ksnap:nodes/n1/x.pcapng" */
    uint64_t frame;             /* 1-based frame number within that file */
} kf_src_pkt;

typedef struct kf_source kf_source;

/* Opens every input (nothing read yet beyond headers). NULL with "file: what" in err. */
kf_source *kf_source_open(const char *const *inputs, size_t n, const kf_source_opts *opts,
                          char *err, size_t errlen);
/* 1 packet, 0 end, -1 error ("file: offset N: what" in kf_source_error). */
int kf_source_next(kf_source *s, kf_src_pkt *out);
const char *kf_source_error(const kf_source *s);
/* Pops the next queued warning (e.g. "x.pcapng: cut short at offset 1234; 812 packets kept"),
 * or NULL. */
const char *kf_source_warning(kf_source *s);
size_t kf_source_iface_count(const kf_source *s);
/* 1 when every packet the source gives comes from one interface: one input of one file, a
 * classic pcap (gzip'd or not), which has no way to name a second one; 0 otherwise. */
int kf_source_one_iface(const kf_source *s);
const kf_src_iface *kf_source_iface(const kf_source *s, uint32_t id);
/* Metadata from snapshots/stores among the inputs (NULL if none); finished, ready to look up. */
kf_meta *kf_source_meta(kf_source *s);
/* NRB entries of the kexport exports among the inputs (workload_names) read so far, in the
 * order read (at most 2^20; other files' NRB names are not kept here). */
typedef struct kf_src_nrb {
    int family;                 /* 4 or 6 */
    uint8_t addr[16];
    const char *name;
    const char *node;           /* the node of the file it came from */
    int workload_names;         /* from a kexport export: the name is a workload's (below) */
} kf_src_nrb;
size_t kf_source_nrb_count(const kf_source *s);
const kf_src_nrb *kf_source_nrb(const kf_source *s, size_t i);
/* DSBs (e.g. TLS key logs) of all inputs read so far. */
size_t kf_source_dsb_count(const kf_source *s);
const kf_dsb *kf_source_dsb(const kf_source *s, size_t i);
/* Progress: bytes consumed / total (0 if unknown). */
void kf_source_progress(const kf_source *s, uint64_t *done, uint64_t *total);
void kf_source_close(kf_source *s);
#endif
