/* kf_decode — decode a captured frame down to L4: Ethernet (802.1Q, QinQ), Linux SLL/SLL2,
 * NULL/LOOP, RAW/IPV4/IPV6 link types; IPv4 (options, fragments), IPv6 (extension headers,
 * fragments), TCP (with options), UDP, ICMP, ICMPv6. Every byte is read through kf_cursor.
 *
 * Fragments: kf_decoder keeps a bounded reassembly table (RFC 791 / RFC 8200 semantics,
 * first-fragment-wins on overlap, timeout 30 s of capture time). kf_decode() returns
 * KF_DEC_HELD for a fragment it keeps and KF_DEC_OK for the packet that completes a datagram,
 * whose payload then points into decoder-owned memory valid until the next call.
 * Ownership: the decoder owns reassembly buffers; everything else points into the frame. */
#ifndef KF_DECODE_H
#define KF_DECODE_H
#include <stdint.h>
#include <stddef.h>

enum kf_dec_rc {
    KF_DEC_OK = 0,        /* out is filled down to L4 (or L3 for other IP protocols) */
    KF_DEC_NOT_IP = 1,    /* not IPv4/IPv6 (ARP, LLDP …): out->l3 is NULL */
    KF_DEC_HELD = 2,      /* an IP fragment kept for reassembly */
    KF_DEC_TRUNC = 3,     /* cut before the headers ended: fields read so far are set */
    KF_DEC_BAD = 4,       /* malformed (bad version, header length …) */
};

enum { KF_TCP_FIN = 0x01, KF_TCP_SYN = 0x02, KF_TCP_RST = 0x04, KF_TCP_PSH = 0x08,
       KF_TCP_ACK = 0x10, KF_TCP_URG = 0x20, KF_TCP_ECE = 0x40, KF_TCP_CWR = 0x80 };

typedef struct kf_addr {
    uint8_t family;       /* 4 or 6 */
    uint8_t a[16];        /* IPv4 in the first 4 bytes, rest zero */
} kf_addr;

typedef struct kf_tcpinfo {
    uint32_t seq, ack;
    uint16_t win;         /* raw window field (unscaled) */
    uint8_t flags;        /* KF_TCP_* */
    uint8_t hdrlen;       /* bytes */
    uint8_t has_mss, has_wscale, sack_permitted, has_ts, sack_blocks;
    uint16_t mss;
    uint8_t wscale;
    uint32_t tsval, tsecr;
    uint32_t sack[4][2];  /* left, right edges of up to 4 SACK blocks */
} kf_tcpinfo;

typedef struct kf_l4 {
    /* L2 */
    uint16_t ethertype;       /* innermost ethertype */
    uint16_t vlan[2];         /* outer, inner VLAN id (0 = none) */
    uint8_t nvlan;
    uint8_t direction;        /* from SLL/SLL2 packet type when present: KF_DIR_*; else 0 */
    /* L3 */
    const uint8_t *l3;        /* start of the IP header */
    uint32_t l3len;           /* bytes of IP datagram available (caplen-limited) */
    uint8_t ipver;            /* 4 or 6, 0 if not IP */
    kf_addr src, dst;
    uint8_t proto;            /* IPPROTO_* of the L4 header (after IPv6 extension headers) */
    uint8_t ttl;
    uint16_t ip_id;
    uint32_t ip_total_len;    /* IP total length from the header (datagram length on the wire) */
    uint8_t reassembled;      /* 1 if the datagram was rebuilt from fragments */
    uint8_t fragment;         /* decoded without a kf_decoder: 1 if this is an IP fragment */
    /* L4 */
    uint16_t sport, dport;
    kf_tcpinfo tcp;           /* when proto == 6 */
    uint8_t icmp_type, icmp_code;   /* ICMP or ICMPv6 */
    const uint8_t *icmp_inner;      /* ICMP error: the quoted original IP header, or NULL */
    uint32_t icmp_inner_len;
    uint16_t udp_len;         /* UDP length field */
    /* SCTP (proto 132, RFC 9260): the common header's checksum and verification tag, the first
     * chunk's type, flags and length field, and how many chunks the packet holds */
    uint32_t sctp_checksum, sctp_vtag;
    uint8_t sctp_chunk_type, sctp_chunk_flags;
    uint16_t sctp_chunk_len;
    uint16_t sctp_nchunks;
    const uint8_t *payload;   /* L4 payload (bytes captured) */
    uint32_t paylen;          /* captured payload bytes */
    uint32_t wire_paylen;     /* payload length per the IP/L4 headers (may exceed paylen) */
} kf_l4;

typedef struct kf_decoder kf_decoder;

kf_decoder *kf_decoder_new(void);
void kf_decoder_free(kf_decoder *d);
/* Decodes one frame of the given link type captured at ts_ns. d may be NULL (no reassembly:
 * fragments other than the first come back as KF_DEC_HELD without being kept). */
int kf_decode(kf_decoder *d, int linktype, const uint8_t *data, uint32_t caplen, int64_t ts_ns,
              kf_l4 *out);
/* Decodes a bare IP datagram (used for ICMP quoted headers). */
int kf_decode_ip(const uint8_t *data, uint32_t len, kf_l4 *out);

/* Address helpers: text form into buf (INET6_ADDRSTRLEN), parse text (1 ok, 0 bad). */
const char *kf_addr_str(const kf_addr *a, char *buf, size_t len);
int kf_addr_parse(const char *s, kf_addr *a);
int kf_addr_eq(const kf_addr *a, const kf_addr *b);
/* Statistics of the reassembly table */
typedef struct kf_decoder_stats { uint64_t frags, reassembled, expired, dropped_mem; } kf_decoder_stats;
void kf_decoder_stats_get(const kf_decoder *d, kf_decoder_stats *s);
#endif
