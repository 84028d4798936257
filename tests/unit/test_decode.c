/* Unit tests for kf_decode: hand-built frames for each link type, VLANs, IPv4 options and
 * fragments, IPv6 extension headers and fragments, TCP options, UDP, ICMP errors, truncation.
 * With "--dump FILE" prints one line per packet: "frame rc ipver src dst proto sport dport
 * paylen" (tests/bats/reader_decode.bats compares it with tshark). */
#include "t.h"
#include "kf_capread.h"
#include "kf_decode.h"

#include <arpa/inet.h>

static int dump(const char *path)
{
    char err[256];
    kf_reader *r = kf_reader_open(path, err, sizeof err);
    if (!r) { printf("error: %s\n", err); return 2; }
    kf_decoder *d = kf_decoder_new();
    kf_pkt p;
    kf_l4 l;
    int rc;
    while ((rc = kf_reader_next(r, &p)) == 1) {
        int dr = kf_decode(d, p.linktype, p.data, p.caplen, p.ts_ns, &l);
        char s[64] = "-", t[64] = "-";
        if (l.ipver) { kf_addr_str(&l.src, s, sizeof s); kf_addr_str(&l.dst, t, sizeof t); }
        printf("%" PRIu64 " %d %u %s %s %u %u %u %u%s\n", p.frame, dr, l.ipver, s, t, l.proto, l.sport,
               l.dport, l.paylen, l.reassembled ? " R" : "");
    }
    printf(rc < 0 ? "error: %s\n" : "end\n", kf_reader_error(r));
    kf_decoder_free(d);
    kf_reader_close(r);
    return 0;
}

/* ---------- frame builder ---------- */
typedef struct fb { uint8_t d[70000]; uint32_t n; } fb;
static void b8(fb *b, uint8_t v) { b->d[b->n++] = v; }
static void b16(fb *b, uint16_t v) { b8(b, (uint8_t)(v >> 8)); b8(b, (uint8_t)v); }
static void b32(fb *b, uint32_t v) { b16(b, (uint16_t)(v >> 16)); b16(b, (uint16_t)v); }
static void bn(fb *b, const void *p, size_t n) { memcpy(b->d + b->n, p, n); b->n += (uint32_t)n; }
static void eth(fb *b, uint16_t et) { bn(b, "\x02\0\0\0\0\1\x02\0\0\0\0\2", 12); b16(b, et); }
/* IPv4 header with optional options; returns offset of the header */
static uint32_t ip4(fb *b, uint8_t proto, uint16_t total, uint16_t id, uint16_t frag, int optlen)
{
    uint32_t at = b->n;
    b8(b, (uint8_t)(0x40 | (5 + optlen / 4))); b8(b, 0); b16(b, total); b16(b, id); b16(b, frag);
    b8(b, 64); b8(b, proto); b16(b, 0);
    bn(b, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
    for (int i = 0; i < optlen; i++) b8(b, i == 0 ? 1 : 0);   /* NOP then EOL padding */
    return at;
}
static void ip6(fb *b, uint8_t nh, uint16_t plen)
{
    b32(b, 0x60000000); b16(b, plen); b8(b, nh); b8(b, 64);
    bn(b, "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    bn(b, "\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
}
static void tcp(fb *b, uint16_t sp, uint16_t dp, uint8_t flags, int opts)
{
    b16(b, sp); b16(b, dp); b32(b, 1000); b32(b, 2000);
    b8(b, (uint8_t)((opts ? 10 : 5) << 4)); b8(b, flags); b16(b, 65535); b16(b, 0); b16(b, 0);
    if (opts) {   /* MSS, SACK-perm, TS, NOP, WS = 20 bytes */
        b8(b, 2); b8(b, 4); b16(b, 1460);
        b8(b, 4); b8(b, 2);
        b8(b, 8); b8(b, 10); b32(b, 111); b32(b, 222);
        b8(b, 1); b8(b, 3); b8(b, 3); b8(b, 7);
    }
}
static void udp(fb *b, uint16_t sp, uint16_t dp, uint16_t len) { b16(b, sp); b16(b, dp); b16(b, len); b16(b, 0); }

static void test_link_types(void)
{
    fb *b = calloc(1, sizeof *b);
    kf_l4 l;
    /* Ethernet + IPv4 + TCP with options and payload */
    eth(b, 0x0800); ip4(b, 6, 20 + 40 + 5, 7, 0, 0); tcp(b, 1234, 80, KF_TCP_SYN | KF_TCP_ACK, 1); bn(b, "hello", 5);
    bn(b, "\0\0\0\0", 4);   /* Ethernet padding must not count as payload */
    T_EQ_INT(kf_decode(NULL, KF_LT_EN10MB, b->d, b->n, 0, &l), KF_DEC_OK, "eth/ipv4/tcp ok");
    T_EQ_INT(l.fragment, 0, "a whole datagram is no fragment");
    T_EQ_INT(l.ipver, 4, "ipv4"); T_EQ_INT(l.proto, 6, "tcp");
    T_OK(l.src.a[0] == 10 && l.src.a[3] == 1 && l.dst.a[3] == 2, "addresses");
    T_EQ_INT(l.sport, 1234, "sport"); T_EQ_INT(l.dport, 80, "dport");
    T_EQ_INT(l.tcp.seq, 1000, "seq"); T_EQ_INT(l.tcp.ack, 2000, "ack");
    T_EQ_INT(l.tcp.flags, KF_TCP_SYN | KF_TCP_ACK, "flags");
    T_EQ_INT(l.tcp.hdrlen, 40, "tcp header length");
    T_OK(l.tcp.has_mss && l.tcp.mss == 1460, "MSS");
    T_OK(l.tcp.has_wscale && l.tcp.wscale == 7, "window scale");
    T_OK(l.tcp.sack_permitted, "SACK permitted");
    T_OK(l.tcp.has_ts && l.tcp.tsval == 111 && l.tcp.tsecr == 222, "timestamps");
    T_EQ_INT(l.paylen, 5, "payload without Ethernet padding");
    T_OK(l.payload && memcmp(l.payload, "hello", 5) == 0, "payload bytes");
    T_EQ_INT(l.ttl, 64, "ttl"); T_EQ_INT(l.ip_id, 7, "ip id"); T_EQ_INT(l.ip_total_len, 65, "total len");
    /* SACK blocks */
    b->n = 0; eth(b, 0x0800); ip4(b, 6, 20 + 32, 1, 0, 0);
    b16(b, 1); b16(b, 2); b32(b, 0); b32(b, 0); b8(b, 8 << 4); b8(b, KF_TCP_ACK); b16(b, 1); b32(b, 0);
    b8(b, 1); b8(b, 1); b8(b, 5); b8(b, 10); b32(b, 100); b32(b, 200); b16(b, 0);
    T_EQ_INT(kf_decode(NULL, KF_LT_EN10MB, b->d, b->n, 0, &l), KF_DEC_OK, "sack ok");
    T_OK(l.tcp.sack_blocks == 1 && l.tcp.sack[0][0] == 100 && l.tcp.sack[0][1] == 200, "SACK block");
    /* NOP NOP TS (the fast path) and TS NOP NOP (the general one) give the same */
    for (int lay = 0; lay < 2; lay++) {
        b->n = 0; eth(b, 0x0800); ip4(b, 6, 20 + 32, 1, 0, 0);
        b16(b, 1); b16(b, 2); b32(b, 0); b32(b, 0); b8(b, 8 << 4); b8(b, KF_TCP_ACK); b16(b, 1); b32(b, 0);
        if (lay == 0) { b8(b, 1); b8(b, 1); }
        b8(b, 8); b8(b, 10); b32(b, 0xdeadbeef); b32(b, 7);
        if (lay == 1) { b8(b, 1); b8(b, 1); }
        T_OK(kf_decode(NULL, KF_LT_EN10MB, b->d, b->n, 0, &l) == KF_DEC_OK && l.tcp.has_ts &&
             l.tcp.tsval == 0xdeadbeef && l.tcp.tsecr == 7 && !l.tcp.has_mss, "timestamps, layout %d", lay);
    }
    /* VLAN and QinQ */
    b->n = 0; eth(b, 0x88A8); b16(b, 100); b16(b, 0x8100); b16(b, 0x2000 | 200); b16(b, 0x86DD);
    ip6(b, 17, 8 + 3); udp(b, 53, 5353, 11); bn(b, "abc", 3);
    T_EQ_INT(kf_decode(NULL, KF_LT_EN10MB, b->d, b->n, 0, &l), KF_DEC_OK, "qinq ipv6 udp");
    T_OK(l.nvlan == 2 && l.vlan[0] == 100 && l.vlan[1] == 200, "two VLAN ids (PCP masked)");
    T_EQ_INT(l.ethertype, 0x86DD, "inner ethertype");
    T_OK(l.ipver == 6 && l.proto == 17 && l.sport == 53 && l.dport == 5353 && l.udp_len == 11 && l.paylen == 3,
         "ipv6 udp fields");
    /* ARP: not IP */
    b->n = 0; eth(b, 0x0806); bn(b, "\0\1\x08\0\6\4\0\1", 8);
    T_EQ_INT(kf_decode(NULL, KF_LT_EN10MB, b->d, b->n, 0, &l), KF_DEC_NOT_IP, "arp is not IP");
    T_OK(l.l3 == NULL, "no l3 for ARP");
    /* 802.3 length field: LLC */
    b->n = 0; eth(b, 0x0040); bn(b, "\x42\x42\x03", 3);
    T_EQ_INT(kf_decode(NULL, KF_LT_EN10MB, b->d, b->n, 0, &l), KF_DEC_NOT_IP, "802.3/LLC is not IP");
    /* SLL outgoing */
    b->n = 0; b16(b, 4); b16(b, 1); b16(b, 6); bn(b, "\1\2\3\4\5\6\0\0", 8); b16(b, 0x0800);
    ip4(b, 17, 28, 0, 0, 0); udp(b, 1, 2, 8);
    T_EQ_INT(kf_decode(NULL, KF_LT_LINUX_SLL, b->d, b->n, 0, &l), KF_DEC_OK, "sll");
    T_EQ_INT(l.direction, KF_DIR_OUTBOUND, "sll outgoing");
    /* SLL2 incoming */
    b->n = 0; b16(b, 0x86DD); b16(b, 0); b32(b, 3); b16(b, 1); b8(b, 0); b8(b, 6); bn(b, "\1\2\3\4\5\6\0\0", 8);
    ip6(b, 6, 20); tcp(b, 443, 5000, KF_TCP_RST, 0);
    T_EQ_INT(kf_decode(NULL, KF_LT_LINUX_SLL2, b->d, b->n, 0, &l), KF_DEC_OK, "sll2");
    T_EQ_INT(l.direction, KF_DIR_INBOUND, "sll2 to us");
    T_OK(l.sport == 443 && l.tcp.flags == KF_TCP_RST, "sll2 tcp");
    /* NULL in both byte orders, LOOP */
    const uint8_t afle[4] = { 2, 0, 0, 0 }, afbe[4] = { 0, 0, 0, 2 }, af6le[4] = { 30, 0, 0, 0 };
    b->n = 0; bn(b, afle, 4); ip4(b, 17, 28, 0, 0, 0); udp(b, 1, 2, 8);
    T_EQ_INT(kf_decode(NULL, KF_LT_NULL, b->d, b->n, 0, &l), KF_DEC_OK, "null LE AF_INET");
    memcpy(b->d, afbe, 4);
    T_EQ_INT(kf_decode(NULL, KF_LT_NULL, b->d, b->n, 0, &l), KF_DEC_OK, "null BE AF_INET");
    T_EQ_INT(kf_decode(NULL, KF_LT_LOOP, b->d, b->n, 0, &l), KF_DEC_OK, "loop AF_INET");
    b->n = 0; bn(b, af6le, 4); ip6(b, 17, 8); udp(b, 1, 2, 8);
    T_EQ_INT(kf_decode(NULL, KF_LT_NULL, b->d, b->n, 0, &l), KF_DEC_OK, "null AF_INET6 (30)");
    T_EQ_INT(l.ipver, 6, "null v6");
    memcpy(b->d, "\7\0\0\0", 4);
    T_EQ_INT(kf_decode(NULL, KF_LT_NULL, b->d, b->n, 0, &l), KF_DEC_NOT_IP, "null other AF");
    /* RAW / IPV4 / IPV6 */
    b->n = 0; ip4(b, 1, 28, 0, 0, 0); b8(b, 8); b8(b, 0); b16(b, 0); b32(b, 0x00010001);
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, b->n, 0, &l), KF_DEC_OK, "raw v4 icmp echo");
    T_OK(l.icmp_type == 8 && l.icmp_inner == NULL, "echo request, no inner");
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV4, b->d, b->n, 0, &l), KF_DEC_OK, "ipv4 link type");
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV6, b->d, b->n, 0, &l), KF_DEC_BAD, "v4 bytes on IPV6 link type: bad version");
    T_EQ_INT(kf_decode(NULL, 147, b->d, b->n, 0, &l), KF_DEC_NOT_IP, "unknown link type");
    free(b);
}

static void test_ip_details(void)
{
    fb *b = calloc(1, sizeof *b);
    kf_l4 l;
    /* IPv4 options */
    ip4(b, 17, 24 + 8 + 2, 0, 0, 4); udp(b, 7, 9, 10); bn(b, "xy", 2);
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, b->n, 0, &l), KF_DEC_OK, "ipv4 with options");
    T_OK(l.sport == 7 && l.paylen == 2, "udp after options");
    /* bad IHL, bad version */
    b->d[0] = 0x44;
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, b->n, 0, &l), KF_DEC_BAD, "ihl < 5");
    b->d[0] = 0x46;
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV4, b->d, b->n, 0, &l), KF_DEC_OK, "ihl 6 ok");
    b->d[0] = 0x55;
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV4, b->d, b->n, 0, &l), KF_DEC_BAD, "version 5 bad");
    /* truncations: IP header, TCP header, payload */
    b->n = 0; ip4(b, 6, 20 + 20 + 100, 0, 0, 0); tcp(b, 1, 2, 0, 0); bn(b, "0123456789", 10);
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, b->n, 0, &l), KF_DEC_OK, "payload cut by snaplen still OK");
    T_OK(l.paylen == 10 && l.wire_paylen == 100, "paylen 10 of 100 on the wire");
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, 30, 0, &l), KF_DEC_TRUNC, "tcp header cut");
    T_OK(l.ipver == 4 && l.proto == 6 && l.src.a[3] == 1, "L3 fields set on truncation");
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, 12, 0, &l), KF_DEC_TRUNC, "ip header cut");
    T_EQ_INT(kf_decode(NULL, KF_LT_EN10MB, b->d, 5, 0, &l), KF_DEC_TRUNC, "ethernet cut");
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, 0, 0, &l), KF_DEC_TRUNC, "empty");
    /* TCP data offset < 5 */
    b->d[20 + 12] = 0x40;
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, b->n, 0, &l), KF_DEC_BAD, "tcp data offset 4");
    /* TCP options cut short by the capture */
    b->n = 0; ip4(b, 6, 60, 0, 0, 0); tcp(b, 1, 2, KF_TCP_SYN, 1);
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, 20 + 20 + 4, 0, &l), KF_DEC_TRUNC, "tcp options cut");
    T_OK(l.tcp.has_mss && l.tcp.mss == 1460, "options before the cut read");
    /* a malformed option length does not loop or overrun */
    b->d[40 + 1] = 0;
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, b->n, 0, &l), KF_DEC_OK, "option length 0 stops option parsing");
    /* IPv6 extension headers: hop-by-hop, routing, dest opts, then TCP */
    b->n = 0; ip6(b, 0, 8 + 24 + 8 + 20);
    b8(b, 43); b8(b, 0); bn(b, "\1\4\0\0\0\0", 6);
    b8(b, 60); b8(b, 2); b8(b, 0); b8(b, 0); bn(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
    b8(b, 6); b8(b, 0); bn(b, "\1\4\0\0\0\0", 6);
    tcp(b, 22, 2222, KF_TCP_PSH | KF_TCP_ACK, 0);
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV6, b->d, b->n, 0, &l), KF_DEC_OK, "ipv6 ext headers");
    T_OK(l.proto == 6 && l.sport == 22 && l.dport == 2222, "tcp after hop/routing/dstopts");
    /* AH (length in 4-octet units) */
    b->n = 0; ip6(b, 51, 12 + 8); b8(b, 17); b8(b, 1); b16(b, 0); b32(b, 1); b32(b, 1); udp(b, 5, 6, 8);
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV6, b->d, b->n, 0, &l), KF_DEC_OK, "ipv6 AH");
    T_OK(l.proto == 17 && l.sport == 5, "udp after AH");
    /* no next header */
    b->n = 0; ip6(b, 59, 0);
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV6, b->d, b->n, 0, &l), KF_DEC_OK, "no next header");
    /* ext header longer than the payload length */
    b->n = 0; ip6(b, 0, 8); b8(b, 6); b8(b, 3); bn(b, "\0\0\0\0\0\0", 6);
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV6, b->d, b->n, 0, &l), KF_DEC_BAD, "ext header past payload length");
    /* atomic fragment (RFC 6946): offset 0, M=0 */
    b->n = 0; ip6(b, 44, 8 + 8); b8(b, 17); b8(b, 0); b16(b, 0); b32(b, 99); udp(b, 1, 2, 8);
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV6, b->d, b->n, 0, &l), KF_DEC_OK, "atomic fragment is processed at once");
    T_OK(l.proto == 17 && l.sport == 1 && !l.reassembled && !l.fragment, "atomic fragment fields (not a fragment)");
    /* ICMP error quoting an IPv4/UDP header */
    b->n = 0; ip4(b, 1, 20 + 8 + 28, 0, 0, 0); b8(b, 3); b8(b, 3); b16(b, 0); b32(b, 0);
    ip4(b, 17, 28, 5, 0, 0); udp(b, 4444, 53, 8);
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, b->n, 0, &l), KF_DEC_OK, "icmp port unreachable");
    T_OK(l.icmp_type == 3 && l.icmp_code == 3 && l.icmp_inner && l.icmp_inner_len == 28, "icmp inner header");
    kf_l4 in;
    T_EQ_INT(kf_decode_ip(l.icmp_inner, l.icmp_inner_len, &in), KF_DEC_OK, "inner decodes");
    T_OK(in.sport == 4444 && in.dport == 53 && in.ip_id == 5, "inner udp ports");
    /* ICMPv6 packet too big quoting IPv6/TCP */
    b->n = 0; ip6(b, 58, 8 + 40 + 20); b8(b, 2); b8(b, 0); b16(b, 0); b32(b, 1280); ip6(b, 6, 20); tcp(b, 8080, 99, 0, 0);
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV6, b->d, b->n, 0, &l), KF_DEC_OK, "icmpv6 error");
    T_OK(l.icmp_type == 2 && l.icmp_inner_len == 60, "icmpv6 inner");
    T_OK(kf_decode_ip(l.icmp_inner, l.icmp_inner_len, &in) == KF_DEC_OK && in.sport == 8080, "icmpv6 inner tcp");
    /* icmpv6 echo: no inner */
    b->n = 0; ip6(b, 58, 8); b8(b, 128); b8(b, 0); b16(b, 0); b32(b, 0);
    T_OK(kf_decode(NULL, KF_LT_IPV6, b->d, b->n, 0, &l) == KF_DEC_OK && l.icmp_type == 128 && !l.icmp_inner, "echo6");
    /* other protocol: L3 only */
    b->n = 0; ip4(b, 47, 24, 0, 0, 0); b32(b, 0x00000800);
    T_OK(kf_decode(NULL, KF_LT_RAW, b->d, b->n, 0, &l) == KF_DEC_OK && l.proto == 47 && l.paylen == 4, "GRE: L3 only");
    /* address helpers */
    char s[64];
    kf_addr a, c;
    T_OK(kf_addr_parse("10.1.2.3", &a) && a.family == 4, "parse v4");
    T_EQ_STR(kf_addr_str(&a, s, sizeof s), "10.1.2.3", "format v4");
    T_OK(kf_addr_parse("fd00::1", &c) && c.family == 6, "parse v6");
    T_EQ_STR(kf_addr_str(&c, s, sizeof s), "fd00::1", "format v6");
    {   /* IPv4 is formatted by hand (the benchmark): inet_ntop is the oracle, every octet value in
         * every position and 100 000 pseudo-random addresses */
        int bad = 0;
        uint32_t x = 12345;
        for (int i = 0; i < 256 * 4 + 100000; i++) {
            kf_addr v = { .family = 4 };
            if (i < 1024) { memset(v.a, 7, 4); v.a[i / 256] = (uint8_t)(i % 256); }
            else { x = x * 1103515245u + 12345u; memcpy(v.a, &x, 4); }
            char want[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET, v.a, want, sizeof want);
            if (strcmp(kf_addr_str(&v, s, sizeof s), want) != 0) bad++;
        }
        T_OK(bad == 0, "format v4 as inet_ntop does (%d differ)", bad);
    }
    T_OK(!kf_addr_parse("10.1.2", &a), "bad address refused");
    kf_addr_parse("10.1.2.3", &a); kf_addr_parse("10.1.2.3", &c);
    T_OK(kf_addr_eq(&a, &c), "eq");
    free(b);
}

/* IPv4 datagram with UDP of n payload bytes, split in fragments of fl bytes (multiple of 8) */
static int frag4(fb *out, uint32_t *lens, uint16_t id, const uint8_t *udpdg, uint32_t n, uint32_t fl)
{
    int k = 0;
    uint32_t pos = 0;
    out->n = 0;
    while (pos < n) {
        uint32_t len = n - pos > fl ? fl : n - pos;
        uint32_t start = out->n;
        ip4(out, 17, (uint16_t)(20 + len), id, (uint16_t)((pos / 8) | (pos + len < n ? 0x2000 : 0)), 0);
        bn(out, udpdg + pos, len);
        lens[k++] = out->n - start;
        pos += len;
    }
    return k;
}

static void test_reassembly(void)
{
    fb *b = calloc(1, sizeof *b), *u = calloc(1, sizeof *u);
    kf_l4 l;
    /* UDP datagram 8 + 3000 bytes */
    udp(u, 1111, 2222, 3008);
    for (int i = 0; i < 3000; i++) b8(u, (uint8_t)(i * 7));
    uint32_t lens[16];
    int k = frag4(b, lens, 77, u->d, u->n, 1480);
    T_EQ_INT(k, 3, "three fragments");
    kf_decoder *d = kf_decoder_new();
    uint32_t off = 0;
    int rc = -1;
    for (int i = 0; i < k; i++) { rc = kf_decode(d, KF_LT_RAW, b->d + off, lens[i], 1000, &l); off += lens[i];
        if (i < k - 1) T_EQ_INT(rc, KF_DEC_HELD, "fragment %d held", i); }
    T_EQ_INT(rc, KF_DEC_OK, "last fragment completes");
    T_OK(l.reassembled && l.sport == 1111 && l.dport == 2222 && l.paylen == 3000, "reassembled udp");
    T_OK(l.payload && memcmp(l.payload, u->d + 8, 3000) == 0, "reassembled bytes");
    T_EQ_INT(l.ip_total_len, 3028, "reassembled total length");
    /* out of order: last, first, middle */
    uint32_t o1 = lens[0], o2 = lens[0] + lens[1];
    T_EQ_INT(kf_decode(d, KF_LT_RAW, b->d + o2, lens[2], 2000, &l), KF_DEC_HELD, "ooo: last held");
    T_EQ_INT(kf_decode(d, KF_LT_RAW, b->d, lens[0], 2000, &l), KF_DEC_HELD, "ooo: first held");
    T_EQ_INT(kf_decode(d, KF_LT_RAW, b->d + o1, lens[1], 2000, &l), KF_DEC_OK, "ooo: middle completes");
    T_OK(l.reassembled && memcmp(l.payload, u->d + 8, 3000) == 0, "ooo bytes");
    /* overlap: first fragment wins. Send first, then a rogue copy of the middle with other bytes
     * overlapping... the middle fragment (original) first, then a rogue, then the rest */
    fb *rogue = calloc(1, sizeof *rogue);
    memcpy(rogue->d, b->d + o1, lens[1]); rogue->n = lens[1];
    for (uint32_t i = 20; i < rogue->n; i++) rogue->d[i] = 0xEE;
    kf_decode(d, KF_LT_RAW, b->d + o1, lens[1], 3000, &l);
    kf_decode(d, KF_LT_RAW, rogue->d, rogue->n, 3000, &l);
    kf_decode(d, KF_LT_RAW, b->d, lens[0], 3000, &l);
    rc = kf_decode(d, KF_LT_RAW, b->d + o2, lens[2], 3000, &l);
    T_OK(rc == KF_DEC_OK && memcmp(l.payload, u->d + 8, 3000) == 0, "overlap: first fragment's bytes kept");
    free(rogue);
    /* timeout: a fragment then the rest 31 s later: not reassembled */
    T_EQ_INT(kf_decode(d, KF_LT_RAW, b->d, lens[0], 10LL * 1000000000, &l), KF_DEC_HELD, "timeout: first");
    kf_decode(d, KF_LT_RAW, b->d + o1, lens[1], 41LL * 1000000000 + 1, &l);
    rc = kf_decode(d, KF_LT_RAW, b->d + o2, lens[2], 41LL * 1000000000 + 2, &l);
    T_EQ_INT(rc, KF_DEC_HELD, "timeout: expired datagram not completed");
    kf_decoder_stats st;
    kf_decoder_stats_get(d, &st);
    T_OK(st.expired >= 1 && st.reassembled == 3, "stats: %llu expired, %llu reassembled",
         (unsigned long long)st.expired, (unsigned long long)st.reassembled);
    /* without a decoder: first fragment gives its headers, others held */
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d, lens[0], 0, &l), KF_DEC_OK, "no decoder: first fragment decoded");
    T_EQ_INT(l.sport, 1111, "no decoder: ports from first fragment");
    T_EQ_INT(l.fragment, 1, "no decoder: first fragment said to be one");
    T_EQ_INT(kf_decode(NULL, KF_LT_RAW, b->d + o1, lens[1], 0, &l), KF_DEC_HELD, "no decoder: later fragment held");
    /* table pressure: 200 unfinished datagrams do not grow memory without bound */
    for (int i = 0; i < 200; i++) kf_decode(d, KF_LT_RAW, b->d, lens[0], 50LL * 1000000000, &l), b->d[5]++;
    kf_decoder_stats_get(d, &st);
    T_OK(st.dropped_mem > 0, "table full: oldest dropped (%llu)", (unsigned long long)st.dropped_mem);
    /* a fragment that would end past 64 KiB is dropped */
    fb *big = calloc(1, sizeof *big);
    ip4(big, 17, 20 + 16, 5, 0x2000 | 8190, 0); bn(big, "0123456789abcdef", 16);
    T_EQ_INT(kf_decode(d, KF_LT_RAW, big->d, big->n, 0, &l), KF_DEC_HELD, "fragment past 64 KiB held/dropped");
    free(big);

    /* IPv6 fragments with a destination options header in the unfragmentable part */
    fb *v = calloc(1, sizeof *v);
    uint32_t at[3], vl[3];
    uint32_t half = 1600;
    for (int i = 0; i < 2; i++) {
        at[i] = v->n;
        uint32_t len = i == 0 ? half : u->n - half;
        ip6(v, 60, (uint16_t)(8 + 8 + len));
        b8(v, 44); b8(v, 0); bn(v, "\1\4\0\0\0\0", 6);
        b8(v, 17); b8(v, 0); b16(v, (uint16_t)((i == 0 ? 0 : half) | (i == 0 ? 1 : 0))); b32(v, 0xabcdef);
        bn(v, u->d + (i == 0 ? 0 : half), len);
        vl[i] = v->n - at[i];
    }
    T_EQ_INT(kf_decode(d, KF_LT_IPV6, v->d + at[1], vl[1], 0, &l), KF_DEC_HELD, "v6: second fragment held");
    rc = kf_decode(d, KF_LT_IPV6, v->d + at[0], vl[0], 0, &l);
    T_EQ_INT(rc, KF_DEC_OK, "v6: first fragment completes");
    T_OK(l.reassembled && l.proto == 17 && l.sport == 1111 && l.paylen == 3000 &&
         memcmp(l.payload, u->d + 8, 3000) == 0, "v6 reassembled udp");
    T_OK(l.l3 && l.l3[6] == 60 && l.l3[40] == 17, "v6 rebuilt datagram names UDP after dest opts");
    T_EQ_INT(l.ip_total_len, 40 + 8 + 3008, "v6 rebuilt length");
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV6, v->d + at[0], vl[0], 0, &l), KF_DEC_OK, "v6 no decoder: first fragment decoded");
    T_OK(l.fragment && l.sport == 1111, "v6 no decoder: first fragment said to be one");
    T_EQ_INT(kf_decode(NULL, KF_LT_IPV6, v->d + at[1], vl[1], 0, &l), KF_DEC_HELD, "v6 no decoder: second fragment held");
    free(v);
    kf_decoder_free(d);
    free(b); free(u);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--dump") == 0) return dump(argv[2]);
    test_link_types();
    test_ip_details();
    test_reassembly();
    T_DONE();
}
