/* kf_capread — read pcap, pcapng and gzip of either, from a file, memory or a stream.
 *
 * Formats: pcap (both byte orders, µs and ns magic, any link type; the FCS/reserved bits of the
 * link-type field are masked), pcapng (SHB in either byte order, several sections, several IDBs
 * with their own link types, if_tsresol decimal or binary, if_tsoffset, EPB, SPB, obsolete PB,
 * NRB, ISB, DSB, unknown/custom blocks skipped; options incl. comments, epb_flags, epb_dropcount).
 * gzip input (either format) is detected by magic and inflated with zlib.
 * Regular files are mmap'd; "-" reads standard input.
 *
 * A file cut short inside its last block is normal (a capture killed mid-write): kf_reader_next
 * returns 0 (end) and kf_reader_warning() says where it stopped. Corruption (bad magic, a block
 * length that does not fit, an EPB naming an interface that does not exist) returns -1 and
 * kf_reader_error() names the byte offset.
 *
 * Ownership: the reader owns everything it hands out. A kf_pkt's data and comment pointers stay
 * valid until the next kf_reader_next call or kf_reader_close. Interfaces, NRB entries and DSBs
 * stay valid until kf_reader_close. The library never prints and never exits. */
#ifndef KF_CAPREAD_H
#define KF_CAPREAD_H
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

/* LINKTYPE_* values (pcap/pcapng link types, not DLT_ where they differ) */
enum {
    KF_LT_NULL = 0, KF_LT_EN10MB = 1, KF_LT_RAW = 101, KF_LT_LOOP = 108,
    KF_LT_LINUX_SLL = 113, KF_LT_IPV4 = 228, KF_LT_IPV6 = 229, KF_LT_LINUX_SLL2 = 276,
};

enum kf_format { KF_FMT_PCAP = 1, KF_FMT_PCAPNG = 2 };

/* epb_flags direction bits (pcapng: bits 0-1) */
enum { KF_DIR_UNKNOWN = 0, KF_DIR_INBOUND = 1, KF_DIR_OUTBOUND = 2 };

typedef struct kf_iface {
    uint32_t id;            /* index in the reader's global interface list (across sections) */
    uint32_t section;       /* 0-based section number this IDB belongs to */
    int linktype;
    uint32_t snaplen;
    char *name;             /* if_name or NULL */
    char *description;      /* if_description or NULL */
    char *filter;           /* if_filter (string form) or NULL */
    char *os;               /* if_os or NULL */
    char *comment;          /* first opt_comment or NULL (ksnap's "kforensics-capture: ebpf") */
    uint8_t tsresol;        /* raw if_tsresol byte (6 when absent) */
    uint64_t ts_per_sec;    /* units per second derived from tsresol (0 if not representable) */
    int64_t tsoffset;       /* if_tsoffset seconds */
} kf_iface;

typedef struct kf_section {
    int big_endian;
    char *hardware, *os, *userappl;  /* shb_* options or NULL */
    char *comment;                   /* first opt_comment of the SHB or NULL */
} kf_section;

typedef struct kf_pkt {
    int64_t ts_ns;          /* ns since the Unix epoch, UTC (if_tsoffset applied) */
    uint32_t caplen;        /* bytes in data */
    uint32_t origlen;       /* length on the wire */
    const uint8_t *data;
    uint32_t iface;         /* kf_iface.id; 0 for classic pcap */
    int linktype;
    uint32_t flags;         /* epb_flags (0 when absent) */
    int has_flags;
    uint64_t dropcount;     /* epb_dropcount (0 when absent) */
    const char *comment;    /* first opt_comment or NULL */
    uint64_t frame;         /* 1-based frame number in this file, as Wireshark numbers them
                               (pcapng custom blocks count, as Wireshark shows them as frames) */
    uint64_t offset;        /* byte offset of the record/block in the (decompressed) stream */
} kf_pkt;

typedef struct kf_nrb_entry {
    int family;             /* 4 or 6 */
    uint8_t addr[16];
    char *name;
} kf_nrb_entry;

typedef struct kf_dsb {
    uint32_t type;          /* e.g. 0x544c534b TLS key log */
    uint32_t len;
    uint8_t *data;
} kf_dsb;

typedef struct kf_isb {
    uint32_t iface;
    int64_t ts_ns;
    uint64_t ifrecv, ifdrop, filteraccept, osdrop, usrdeliv;  /* UINT64_MAX when absent */
} kf_isb;

typedef struct kf_reader kf_reader;

/* Opens path ("-" = stdin). Returns NULL on failure with a message "<what went wrong>" in err
 * (the caller adds the tool and file name). */
kf_reader *kf_reader_open(const char *path, char *err, size_t errlen);
/* Reads from a buffer the caller keeps alive until close (no copy). */
kf_reader *kf_reader_open_mem(const void *buf, size_t len, char *err, size_t errlen);
/* Reads from a stream (not mmap'd); the reader does not close f. */
kf_reader *kf_reader_open_file(FILE *f, char *err, size_t errlen);

/* 1 = a packet in *pkt, 0 = end of input (check kf_reader_warning for a cut file), -1 = error. */
int kf_reader_next(kf_reader *r, kf_pkt *pkt);

const char *kf_reader_error(const kf_reader *r);    /* "" when none */
const char *kf_reader_warning(const kf_reader *r);  /* "" when none */
enum kf_format kf_reader_format(const kf_reader *r);
int kf_reader_nanosecond(const kf_reader *r);       /* classic pcap: ns magic */
uint32_t kf_reader_snaplen(const kf_reader *r);     /* classic pcap snaplen */

size_t kf_reader_iface_count(const kf_reader *r);
const kf_iface *kf_reader_iface(const kf_reader *r, uint32_t id);
size_t kf_reader_section_count(const kf_reader *r);
const kf_section *kf_reader_section(const kf_reader *r, uint32_t i);
/* NRB entries, DSBs and ISBs seen so far (all of them once the reader hit the end). */
size_t kf_reader_nrb_count(const kf_reader *r);
const kf_nrb_entry *kf_reader_nrb(const kf_reader *r, size_t i);
size_t kf_reader_dsb_count(const kf_reader *r);
const kf_dsb *kf_reader_dsb(const kf_reader *r, size_t i);
size_t kf_reader_isb_count(const kf_reader *r);
const kf_isb *kf_reader_isb(const kf_reader *r, size_t i);
/* Bytes consumed so far and total size when known (for progress), 0 when unknown. */
uint64_t kf_reader_pos(const kf_reader *r);
uint64_t kf_reader_size(const kf_reader *r);
/* Byte offset just past the last complete block/record (for repair of a cut file). */
uint64_t kf_reader_good_end(const kf_reader *r);
/* Classic pcap: the file's link type (pcapng: 0; see each interface). */
int kf_reader_linktype(const kf_reader *r);
/* 0 if the packet last returned carried no time stamp (a pcapng SPB): its ts_ns is then the
 * previous packet's, so merged order is kept. 1 otherwise. */
int kf_reader_last_has_ts(const kf_reader *r);

void kf_reader_close(kf_reader *r);
#endif
