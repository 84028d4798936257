#!/usr/bin/env python3
"""mkcap.py — crafted captures for kdissect's bounds tests (generated, never committed).

  mkcap.py syns N OUT          N TCP SYNs, each from its own address/port (N distinct flows)
  mkcap.py extreme-ts OUT      pcapng (ns resolution) whose packets sit near INT64_MIN/MAX:
                               a TCP conversation, a DNS query/answer, UDP, ICMP
  mkcap.py gaps N OUT [SEGS]   N TCP connections open at once, each with SEGS (1) out-of-order
                               segments after a hole never filled (held by reassembly)
  mkcap.py redis-noreply OUT   Redis: GET answered; CLIENT REPLY OFF, SET (no reply due); CLIENT
                               REPLY ON answered; then a GET whose reply the capture lacks
  mkcap.py dns-ext-rcode OUT   DNS queries answered with EDNS extended RCODEs: BADVERS (16),
                               BADCOOKIE (23), and a plain NXDOMAIN with an OPT record
  mkcap.py stun-dtls N OUT     WebRTC on one UDP 5-tuple (RFC 7983): N STUN binding requests and
                               responses (ICE checks), then a DTLS 1.2 ClientHello and ServerHello
                               (use_srtp), then a STUN consent check
  mkcap.py connect OUT         HTTP CONNECT through a proxy on port 3128: a tunnel carrying TLS
                               (ClientHello after the 200), one whose ClientHello rides with the
                               CONNECT, one carrying plain HTTP, and a CONNECT refused (407)
  mkcap.py http-escape OUT     HTTP/1 header, cookie and query names holding " and \ (JSON
                               escapes them once)
  mkcap.py http-lines OUT      HTTP/1 start lines and fields at the edges of the syntax (no target,
                               no version, spaces repeated, obs-fold, names without value), one
                               connection each, answered 404 or 200 with a spaced reason
  mkcap.py icmp-echo OUT       ICMP echo: host A pings B with sequences 1..4; B answers 2 (late)
                               and 4 only; C and D exchange 8500 answered pings from before A's
                               second request on (records are released mid-capture: 16384 packets)
  mkcap.py tls-unanswered OUT  TLS ClientHellos: answered; alone before the FINs; sent twice (the
                               second answered); followed by a gap in the server's bytes; and a
                               ServerHello alone (its ClientHello not captured)
  mkcap.py http-unanswered OUT HTTP/1: three pipelined requests answered in order; two pipelined, one
                               answered, then the FINs; a request whose response is lost in a gap,
                               then one answered after it; 300 pipelined requests never answered
  mkcap.py back-in-time N OUT  N TCP connections (a SYN and a data segment each, never closed), each
                               starting before the one above it: capture time goes backwards at
                               every new connection, in pairs starting at the same instant
  mkcap.py gql-body N OUT      an HTTP/1 POST of an application/graphql body of N spaces and its
                               200 (a body of exactly --body-limit bytes was read past its end)
"""
import struct, sys


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip4(src, dst, proto, payload):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload


def tcp(src, dst, sp, dp, seq, ack, flags, data=b''):
    t = struct.pack('!HHIIBBHHH', sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    ph = src + dst + struct.pack('!BBH', 0, 6, len(t))
    t = t[:16] + struct.pack('!H', csum(ph + t)) + t[18:]
    return ip4(src, dst, 6, t)


def udp(src, dst, sp, dp, data):
    u = struct.pack('!HHHH', sp, dp, 8 + len(data), 0) + data
    return ip4(src, dst, 17, u)


def eth(frame):
    return b'\x02\0\0\0\0\x02' + b'\x02\0\0\0\0\x01' + b'\x08\x00' + frame


def addr(i):
    return struct.pack('!I', (10 << 24) | (i & 0xffffff))


SRV = bytes([10, 255, 255, 1])


def pcap(out, frames):
    """frames: (ts_us, ethernet frame) pairs"""
    with open(out, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
        for ts, fr in frames:
            f.write(struct.pack('<IIII', ts // 1000000, ts % 1000000, len(fr), len(fr)))
            f.write(fr)


def pcapng(out, frames):
    """frames: (ts_ns as a signed 64-bit value, ethernet frame); if_tsresol = 9 (ns)"""
    def block(t, body):
        body += b'\0' * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack('<II', t, n) + body + struct.pack('<I', n)
    with open(out, 'wb') as f:
        f.write(block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1)))
        opt = struct.pack('<HH', 9, 1) + b'\x09\0\0\0' + struct.pack('<HH', 0, 0)
        f.write(block(1, struct.pack('<HHI', 1, 0, 262144) + opt))
        for ts, fr in frames:
            u = ts & 0xffffffffffffffff
            f.write(block(6, struct.pack('<IIIII', 0, u >> 32, u & 0xffffffff, len(fr), len(fr)) + fr))


def syns(n, out):
    pcap(out, ((1700000000000000 + i, eth(tcp(addr(i), SRV, 1024 + i % 60000, 80, i * 7919, 0, 0x02)))
               for i in range(n)))


def extreme(out):
    c, s = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    conv = [tcp(c, s, 40000, 80, 100, 0, 0x02), tcp(s, c, 80, 40000, 500, 101, 0x12),
            tcp(c, s, 40000, 80, 101, 501, 0x10),
            tcp(c, s, 40000, 80, 101, 501, 0x18, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
            tcp(s, c, 80, 40000, 501, 128, 0x18, b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
            tcp(c, s, 40000, 80, 128, 540, 0x11), tcp(s, c, 80, 40000, 540, 129, 0x11)]
    dnsq = struct.pack('!HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0) + b'\x01x\0\0\x01\0\x01'
    dnsr = struct.pack('!HHHHHH', 0x1234, 0x8180, 1, 1, 0, 0) + b'\x01x\0\0\x01\0\x01' + \
        b'\xc0\x0c\0\x01\0\x01\0\0\0\x3c\0\x04\x0a\0\0\x09'
    other = [udp(c, s, 5000, 53, dnsq), udp(s, c, 53, 5000, dnsr),
             ip4(c, s, 1, b'\x08\0\xf7\xff\0\x01\0\x01'), ip4(s, c, 1, b'\0\0\xff\xff\0\x01\0\x01')]
    lo, hi = -(1 << 63), (1 << 63) - 1
    frames = []
    for base, step in ((lo, 1), (hi - 40 * 10**9, 3 * 10**9)):
        t = base
        for fr in conv + other:
            frames.append((t, eth(fr)))
            t += step
    frames.append((hi, eth(tcp(c, s, 40001, 80, 1, 0, 0x02))))
    frames.append((lo, eth(udp(c, s, 5001, 9999, b'x'))))   # back in time by the whole range
    pcapng(out, frames)


def gaps(n, out, segs=1):
    """n connections open at once, each with a 1000-byte hole then segs out-of-order segments of
    1400 bytes, round-robin over the connections (all held by reassembly until the end)"""
    def frames():
        t = 1700000000000000
        for i in range(n):
            c = addr(i)
            yield t, eth(tcp(c, SRV, 2000 + i % 60000, 80, 0, 0, 0x02)); t += 1
            yield t, eth(tcp(SRV, c, 80, 2000 + i % 60000, 0, 1, 0x12)); t += 1
        for k in range(segs):
            for i in range(n):
                yield t, eth(tcp(addr(i), SRV, 2000 + i % 60000, 80, 1001 + 1400 * k, 1, 0x18, b'x' * 1400)); t += 1
    pcap(out, frames())


def back_in_time(n, out):
    """connection i (client addr(i), port 3000 + i % 60000, server SRV:5555) opens with a SYN at
    T0 + 10 * (n // 2 - i // 2) us (connections 2k and 2k+1 at the same instant) and sends 8 bytes
    1 us later; all stay open"""
    def frames():
        t0 = 1700000000000000
        for i in range(n):
            t = t0 + 10 * (n // 2 - i // 2)
            c, sp = addr(i), 3000 + i % 60000
            yield t, eth(tcp(c, SRV, sp, 5555, 1000, 0, 0x02))
            yield t + 1, eth(tcp(c, SRV, sp, 5555, 1001, 0, 0x18, b'back in '))
    pcap(out, frames())


def gql_body(n, out):
    c, s_ = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    req = (b'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/graphql\r\n'
           b'Content-Length: %d\r\n\r\n' % n) + b' ' * n
    resp = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
    fr = [tcp(c, s_, 40000, 80, 100, 0, 0x02), tcp(s_, c, 80, 40000, 500, 101, 0x12),
          tcp(c, s_, 40000, 80, 101, 501, 0x10), tcp(c, s_, 40000, 80, 101, 501, 0x18, req),
          tcp(s_, c, 80, 40000, 501, 101 + len(req), 0x18, resp)]
    pcap(out, ((1700000000000000 + i, eth(f)) for i, f in enumerate(fr)))


def stun(kind, txid, attrs):
    """a STUN message (RFC 8489): attrs [(type, value)], then MESSAGE-INTEGRITY (zeros: no key)
    and FINGERPRINT (CRC-32 of what precedes, xor 0x5354554E)"""
    import zlib
    def attr(t, v):
        return struct.pack('!HH', t, len(v)) + v + b'\0' * (-len(v) % 4)
    body = b''.join(attr(t, v) for t, v in attrs) + attr(0x0008, b'\0' * 20)
    head = struct.pack('!HHI', kind, len(body) + 8, 0x2112A442) + txid
    crc = (zlib.crc32(head + body) ^ 0x5354554E) & 0xffffffff
    return head + body + attr(0x8028, struct.pack('!I', crc))


def dtls_hs(mtype, seq, body):
    """one DTLS 1.2 handshake record of epoch 0 holding one whole message (RFC 6347 4.1, 4.2.2)"""
    hs = struct.pack('!B', mtype) + len(body).to_bytes(3, 'big') + struct.pack('!H', seq) + \
        (0).to_bytes(3, 'big') + len(body).to_bytes(3, 'big') + body
    return struct.pack('!BHH', 22, 0xfefd, 0) + seq.to_bytes(6, 'big') + struct.pack('!H', len(hs)) + hs


def stun_dtls(n, out):
    a, b = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    pa, pb = 50123, 61456
    def ext(t, v):
        return struct.pack('!HH', t, len(v)) + v
    srtp = ext(14, b'\x00\x02\x00\x01\x00')    # use_srtp: SRTP_AES128_CM_HMAC_SHA1_80, no MKI
    ch_ext = ext(10, b'\x00\x04\x00\x1d\x00\x17') + ext(11, b'\x01\x00') + srtp + ext(23, b'') + \
        ext(65281, b'\x00')
    ch = struct.pack('!H', 0xfefd) + bytes(range(32)) + b'\x00' + b'\x00' + \
        struct.pack('!H', 4) + b'\xc0\x2b\xc0\x2f' + b'\x01\x00' + struct.pack('!H', len(ch_ext)) + ch_ext
    sh_ext = srtp + ext(23, b'') + ext(65281, b'\x00') + ext(11, b'\x01\x00')
    sh = struct.pack('!H', 0xfefd) + bytes(range(32, 64)) + b'\x00' + b'\xc0\x2b' + b'\x00' + \
        struct.pack('!H', len(sh_ext)) + sh_ext
    dgs = []
    for i in range(n):   # requests from alternating sides, each answered
        src = i % 2
        txid = struct.pack('!III', 0x6b660000 + i, i, 7)
        req = stun(0x0001, txid, [(0x0006, b'abcd:efgh'), (0x0024, struct.pack('!I', 0x6e7f1eff)),
                                  (0x802A if src == 0 else 0x8029, struct.pack('!Q', 42))])
        port, ip = (pa, a) if src == 0 else (pb, b)
        xport = port ^ 0x2112
        xip = bytes(x ^ y for x, y in zip(ip, b'\x21\x12\xa4\x42'))
        resp = stun(0x0101, txid, [(0x0020, b'\x00\x01' + struct.pack('!H', xport) + xip)])
        dgs += [(src, req), (1 - src, resp)]
    dgs += [(0, dtls_hs(1, 0, ch)), (1, dtls_hs(2, 0, sh))]
    dgs += [(0, stun(0x0001, b'consent-chk1', [(0x0006, b'abcd:efgh')]))]
    fr = [udp(a, b, pa, pb, d) if s == 0 else udp(b, a, pb, pa, d) for s, d in dgs]
    pcap(out, ((1700000000000000 + 20000 * i, eth(f)) for i, f in enumerate(fr)))


def tls_hello(client, sni=b''):
    """a TLS 1.2 ClientHello (with SNI) or ServerHello in one handshake record"""
    def ext(t, v):
        return struct.pack('!HH', t, len(v)) + v
    if client:
        sn = struct.pack('!BH', 0, len(sni)) + sni
        exts = ext(0, struct.pack('!H', len(sn)) + sn) + ext(10, b'\x00\x04\x00\x1d\x00\x17') + \
            ext(11, b'\x01\x00') + ext(65281, b'\x00')
        body = b'\x03\x03' + bytes(range(32)) + b'\x00' + b'\x00\x04\xc0\x2f\xc0\x30' + b'\x01\x00' + \
            struct.pack('!H', len(exts)) + exts
    else:
        exts = ext(65281, b'\x00') + ext(11, b'\x01\x00')
        body = b'\x03\x03' + bytes(range(32, 64)) + b'\x00' + b'\xc0\x2f' + b'\x00' + \
            struct.pack('!H', len(exts)) + exts
    hs = bytes([1 if client else 2]) + len(body).to_bytes(3, 'big') + body
    return b'\x16\x03\x01' + struct.pack('!H', len(hs)) + hs


def tcp_talk(c, s_, sp, dp, talk, t0):
    """a TCP connection: handshake, talk [(0 client | 1 server, bytes)], FINs; (ts, frame) pairs"""
    fr = [tcp(c, s_, sp, dp, 100, 0, 0x02), tcp(s_, c, dp, sp, 500, 101, 0x12), tcp(c, s_, sp, dp, 101, 501, 0x10)]
    seq = [101, 501]
    for d, data in talk:
        src, dst, a, b = (c, s_, sp, dp) if d == 0 else (s_, c, dp, sp)
        fr.append(tcp(src, dst, a, b, seq[d], seq[1 - d], 0x18, data))
        seq[d] += len(data)
    fr.append(tcp(c, s_, sp, dp, seq[0], seq[1], 0x11))
    fr.append(tcp(s_, c, dp, sp, seq[1], seq[0] + 1, 0x11))
    fr.append(tcp(c, s_, sp, dp, seq[0] + 1, seq[1] + 1, 0x10))
    return [(t0 + 1000 * i, f) for i, f in enumerate(fr)]


def tls_unanswered(out):
    c, s_ = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    appdata = b'\x17\x03\x03\x00\x10' + bytes(16)
    frames = []
    frames += tcp_talk(c, s_, 42001, 443, [(0, tls_hello(1, b'ok.kf.test')), (1, tls_hello(0))], 1700000000000000)
    frames += tcp_talk(c, s_, 42002, 443, [(0, tls_hello(1, b'alone.kf.test'))], 1700000001000000)
    frames += tcp_talk(c, s_, 42003, 443, [(0, tls_hello(1, b'twice.kf.test')), (0, tls_hello(1, b'twice.kf.test')),
                                           (1, tls_hello(0))], 1700000002000000)
    # the server's first segment (its ServerHello) is not in the capture: a gap, then appdata
    g = tcp_talk(c, s_, 42004, 443, [(0, tls_hello(1, b'gap.kf.test')), (1, tls_hello(0)), (1, appdata)],
                 1700000003000000)
    del g[4]
    frames += g
    frames += tcp_talk(c, s_, 42005, 443, [(1, tls_hello(0))], 1700000004000000)
    pcap(out, ((t, eth(f)) for t, f in frames))


def http_unanswered(out):
    c, s_ = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    def req(path):
        return b'GET %s HTTP/1.1\r\nHost: api.kf.test\r\n\r\n' % path
    def resp(code, body):
        return b'HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s' % (code, len(body), body)
    frames = []
    frames += tcp_talk(c, s_, 43001, 80, [(0, req(b'/p1') + req(b'/p2') + req(b'/p3')),
                                          (1, resp(200, b'one') + resp(201, b'two') + resp(202, b'three'))],
                       1700000000000000)
    frames += tcp_talk(c, s_, 43002, 80, [(0, req(b'/a1') + req(b'/a2')), (1, resp(200, b'a1'))], 1700000001000000)
    g = tcp_talk(c, s_, 43003, 80, [(0, req(b'/lost')), (1, resp(500, b'lost')), (0, req(b'/after')),
                                    (1, resp(204, b''))], 1700000002000000)
    del g[4]   # the server's first segment (the response to /lost) is not in the capture
    frames += g
    frames += tcp_talk(c, s_, 43004, 80, [(0, req(b'/n%d' % i)) for i in range(300)], 1700000003000000)
    pcap(out, ((t, eth(f)) for t, f in frames))


def connect(out):
    c, s_ = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    def conn(target):
        return b'CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mkcap\r\n\r\n' % (target, target)
    ok = b'HTTP/1.1 200 Connection established\r\n\r\n'
    appdata = b'\x17\x03\x03\x00\x10' + bytes(16)
    ccs = b'\x14\x03\x03\x00\x01\x01'
    frames = []
    frames += tcp_talk(c, s_, 40001, 3128, [
        (0, conn(b'api.kf.test:443')), (1, ok), (0, tls_hello(1, b'api.kf.test')),
        (1, tls_hello(0) + ccs), (0, ccs + appdata), (1, appdata)], 1700000000000000)
    frames += tcp_talk(c, s_, 40002, 3128, [
        (0, conn(b'eager.kf.test:443') + tls_hello(1, b'eager.kf.test')), (1, ok + tls_hello(0))],
        1700000001000000)
    frames += tcp_talk(c, s_, 40003, 3128, [
        (0, conn(b'plain.kf.test:80')), (1, ok),
        (0, b'GET /inside HTTP/1.1\r\nHost: plain.kf.test\r\n\r\n'),
        (1, b'HTTP/1.1 204 No Content\r\n\r\n')], 1700000002000000)
    frames += tcp_talk(c, s_, 40004, 3128, [
        (0, conn(b'secret.kf.test:443')),
        (1, b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n')],
        1700000003000000)
    pcap(out, ((t, eth(f)) for t, f in frames))


def http_escape(out):
    c, s_ = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    req = (b'GET /q?k%22ey=1&b%5C=2 HTTP/1.1\r\nHost: x\r\nX-"Q\\: v1\r\nCookie: a"b=1; c\\d=2\r\n\r\n')
    resp = b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nWeird\\Name": z\r\n\r\n'
    pcap(out, ((t, eth(f)) for t, f in tcp_talk(c, s_, 40000, 80, [(0, req), (1, resp)], 1700000000000000)))


def http_lines(out):
    c, s_ = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    reqs = [b'OPTIONS HTTP/1.1\r\n\r\n', b'GET /a b HTTP/1.1\r\n\r\n', b'GET   /x   HTTP/1.0\r\n\r\n',
            b'GET /nover\r\n\r\n', b'FOO /x HTTP/1.1\r\nA:b\r\n c\r\n\t d\r\n:nohdr\r\nnocolon\r\n  X : y \r\n\r\n',
            b'OPTIONS\r\n\r\n', b'GET HTTP/1.1 HTTP/1.1\r\n\r\n', b'GET /x HTTP/1.1extra\r\n\r\n', b'PUT /y HTTP/\r\n\r\n']
    frames = []
    for i, r in enumerate(reqs):
        resp = b'HTTP/1.1 200  spaced reason \r\nContent-Length: 0\r\n\r\n' if i % 2 else b'HTTP/1.0 404\r\n\r\n'
        frames += tcp_talk(c, s_, 41000 + i, 80, [(0, r), (1, resp)], 1700000000000000 + i * 1000000)
    pcap(out, ((t, eth(f)) for t, f in frames))


def redis_noreply(out):
    c, s_ = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    def cmd(*a):
        return b'*%d\r\n' % len(a) + b''.join(b'$%d\r\n%s\r\n' % (len(x), x) for x in a)
    talk = [(0, cmd(b'GET', b'k')), (1, b'$1\r\nv\r\n'), (0, cmd(b'CLIENT', b'REPLY', b'OFF')),
            (0, cmd(b'SET', b'a', b'1')), (0, cmd(b'CLIENT', b'REPLY', b'ON')), (1, b'+OK\r\n'),
            (0, cmd(b'GET', b'lost'))]
    fr = [tcp(c, s_, 40000, 6379, 100, 0, 0x02), tcp(s_, c, 6379, 40000, 500, 101, 0x12),
          tcp(c, s_, 40000, 6379, 101, 501, 0x10)]
    seq = [101, 501]
    for d, data in talk:
        src, dst, sp, dp = (c, s_, 40000, 6379) if d == 0 else (s_, c, 6379, 40000)
        fr.append(tcp(src, dst, sp, dp, seq[d], seq[1 - d], 0x18, data))
        seq[d] += len(data)
    pcap(out, ((1700000000000000 + 1000 * i, eth(f)) for i, f in enumerate(fr)))


def dns_ext_rcode(out):
    c, s_ = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    q = b'\x07example\x03com\x00\x00\x01\x00\x01'
    def opt(ext):   # root name, type OPT, UDP size 1232, TTL = ext rcode | version | flags
        return b'\x00\x00\x29\x04\xd0' + struct.pack('!BBHH', ext, 0, 0, 0)
    fr = []
    for i, (ext, rc) in enumerate(((1, 0), (1, 7), (0, 3))):
        qid = 0x100 + i
        fr.append(udp(c, s_, 5000 + i, 53, struct.pack('!HHHHHH', qid, 0x0100, 1, 0, 0, 1) + q + opt(0)))
        fr.append(udp(s_, c, 53, 5000 + i, struct.pack('!HHHHHH', qid, 0x8180 | rc, 1, 0, 0, 1) + q + opt(ext)))
    pcap(out, ((1700000000000000 + 1000 * i, eth(f)) for i, f in enumerate(fr)))


def icmp_echo(out):
    def echo(src, dst, typ, ident, seq):
        h = struct.pack('!BBHHH', typ, 0, 0, ident, seq) + b'ping-data-32-bytes..............'
        h = h[:2] + struct.pack('!H', csum(h)) + h[4:]
        return ip4(src, dst, 1, h)
    a, b, c, d = (bytes([10, 0, 0, i]) for i in (1, 2, 3, 4))
    t0 = 1700000000000000
    fr = [(t0, echo(a, b, 8, 7, 1)), (t0 + 505, echo(a, b, 8, 7, 2)), (t0 + 400050, echo(b, a, 0, 7, 2))]
    for i in range(8500):   # C <-> D, each ping answered, from before A's second request on
        fr.append((t0 + 10 + 20 * i, echo(c, d, 8, 9, i & 0xffff)))
        fr.append((t0 + 20 + 20 * i, echo(d, c, 0, 9, i & 0xffff)))
    fr += [(t0 + 400000, echo(a, b, 8, 7, 3)), (t0 + 400100, echo(a, b, 8, 7, 4)), (t0 + 400200, echo(b, a, 0, 7, 4))]
    fr.sort(key=lambda x: x[0])
    pcap(out, ((t, eth(f)) for t, f in fr))


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'syns':
        syns(int(sys.argv[2]), sys.argv[3])
    elif cmd == 'extreme-ts':
        extreme(sys.argv[2])
    elif cmd == 'gaps':
        gaps(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    elif cmd == 'redis-noreply':
        redis_noreply(sys.argv[2])
    elif cmd == 'dns-ext-rcode':
        dns_ext_rcode(sys.argv[2])
    elif cmd == 'stun-dtls':
        stun_dtls(int(sys.argv[2]), sys.argv[3])
    elif cmd == 'connect':
        connect(sys.argv[2])
    elif cmd == 'http-unanswered':
        http_unanswered(sys.argv[2])
    elif cmd == 'tls-unanswered':
        tls_unanswered(sys.argv[2])
    elif cmd == 'http-escape':
        http_escape(sys.argv[2])
    elif cmd == 'http-lines':
        http_lines(sys.argv[2])
    elif cmd == 'icmp-echo':
        icmp_echo(sys.argv[2])
    elif cmd == 'back-in-time':
        back_in_time(int(sys.argv[2]), sys.argv[3])
    elif cmd == 'gql-body':
        gql_body(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
