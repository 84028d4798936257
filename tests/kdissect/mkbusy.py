#!/usr/bin/env python3
"""mkbusy.py — a crafted capture of one busy client/server address pair (generated, never
committed), for kdissect -j: its connections spread over threads, their flows must come out as
with one thread.

  mkbusy.py OUT [SCALE]
    over ~200 s of capture time (flow intervals and idle expiry happen), from client 10.1.0.1:
    - 8 HTTP/1.1 keep-alive connections to 10.1.0.2:80 with 200*SCALE calls each, interleaved;
      two end with RST, two never end (closed at the end of the capture), the rest with FINs
    - 100*SCALE one-call connections to the same server (connection churn), some reusing a
      client port after the previous connection on it closed (a new SYN on a closed tuple)
    - DNS over UDP to 10.1.0.53:53 from 64 client ports (one flow, many connections; a port idle
      past 60 s is a new connection), answers naming 10.1.0.2 (api.busy.test) and others
    - DNS over TCP to 10.1.0.53:53 (several connections, two queries each)
    - DNS answers over UDP too big for one packet: IPv4 fragments, some sent last-first
"""
import struct, sys, os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mkcap import csum, tcp, eth, pcap  # noqa: E402

C, S, D = bytes([10, 1, 0, 1]), bytes([10, 1, 0, 2]), bytes([10, 1, 0, 53])


def ip4_frags(src, dst, proto, payload, ident, size=600):
    """payload as IPv4 fragments of at most size bytes of data (a multiple of 8)"""
    out, off = [], 0
    while off < len(payload):
        part = payload[off:off + size]
        more = off + size < len(payload)
        h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(part), ident, (0x2000 if more else 0) | (off // 8),
                        64, proto, 0, src, dst)
        h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
        out.append(h + part)
        off += size
    return out


def udp_payload(src, dst, sp, dp, data):
    u = struct.pack('!HHHH', sp, dp, 8 + len(data), 0) + data
    ph = src + dst + struct.pack('!BBH', 0, 17, len(u))
    return u[:6] + struct.pack('!H', csum(ph + u) or 0xffff) + u[8:]


def udp(src, dst, sp, dp, data):
    return ip4_frags(src, dst, 17, udp_payload(src, dst, sp, dp, data), 0, 65535)[0]


def qname(n):
    return b''.join(bytes([len(p)]) + p for p in n.encode().split(b'.')) + b'\0'


def dns_query(ident, name, qtype=1):
    return struct.pack('!HHHHHH', ident, 0x0100, 1, 0, 0, 0) + qname(name) + struct.pack('!HH', qtype, 1)


def dns_answer(ident, name, ip=None, txt=None):
    if txt is not None:
        chunks = b''.join(bytes([len(txt[i:i + 255])]) + txt[i:i + 255] for i in range(0, len(txt), 255))
        rr = b'\xc0\x0c' + struct.pack('!HHIH', 16, 1, 300, len(chunks)) + chunks
        q = qname(name) + struct.pack('!HH', 16, 1)
    else:
        rr = b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 300, 4) + ip
        q = qname(name) + struct.pack('!HH', 1, 1)
    return struct.pack('!HHHHHH', ident, 0x8180, 1, 1, 0, 0) + q + rr


class Conn:
    """a TCP connection built packet by packet"""
    def __init__(self, sp, dp=80, srv=S):
        self.sp, self.dp, self.srv = sp, dp, srv
        self.seq = [1000 + sp * 7, 50000 + sp * 13]

    def _p(self, d, flags, data=b''):
        src, dst, a, b = (C, self.srv, self.sp, self.dp) if d == 0 else (self.srv, C, self.dp, self.sp)
        f = tcp(src, dst, a, b, self.seq[d], self.seq[1 - d], flags, data)
        self.seq[d] += len(data) + (1 if flags & 0x03 else 0)
        return f

    def open(self):
        s0, s1 = self.seq
        self.seq = [s0, s1]
        a = tcp(C, self.srv, self.sp, self.dp, s0, 0, 0x02)
        b = tcp(self.srv, C, self.dp, self.sp, s1, s0 + 1, 0x12)
        self.seq = [s0 + 1, s1 + 1]
        c = tcp(C, self.srv, self.sp, self.dp, self.seq[0], self.seq[1], 0x10)
        return [a, b, c]

    def send(self, d, data):
        return [self._p(d, 0x18, data)]

    def fin(self):
        return [self._p(0, 0x11), self._p(1, 0x11), self._p(0, 0x10)]

    def rst(self):
        return [self._p(1, 0x04)]


def call(i):
    kind = ('orders', 'users', 'items', 'missing')[i % 4]
    if i % 5 == 0:
        body = b'{"sku":"SKU-%d","qty":%d}' % (i % 97, i % 9 + 1)
        req = b'POST /api/v1/%s/%d HTTP/1.1\r\nHost: api.busy.test\r\nContent-Type: application/json\r\n' \
              b'Content-Length: %d\r\n\r\n' % (kind.encode(), i, len(body)) + body
    else:
        req = b'GET /api/v1/%s/%d?page=%d HTTP/1.1\r\nHost: api.busy.test\r\nAccept: application/json\r\n\r\n' \
              % (kind.encode(), i, i % 7)
    code = b'404 Not Found' if kind == 'missing' else b'201 Created' if i % 5 == 0 else b'200 OK'
    body = b'{"id":%d,"ok":true}' % i
    resp = b'HTTP/1.1 ' + code + b'\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body) + body
    return req, resp


def main(out, scale):
    T0 = 1700000000 * 1000000
    ev = []   # (ts_us, order, ip packet)
    n = 0

    def at(ts, pkts, step=50):
        nonlocal n
        for k, p in enumerate(pkts):
            ev.append((ts + k * step, n, p))
            n += 1

    # keep-alive connections
    calls = 200 * scale
    for j in range(8):
        c = Conn(40000 + j)
        t = T0 + j * 1000
        at(t, c.open())
        for i in range(calls):
            req, resp = call(j * calls + i)
            at(t + 5000 + i * (190000000 // calls), c.send(0, req) + c.send(1, resp), 200)
        tend = t + 5000 + calls * (190000000 // calls)
        if j in (2, 5):
            at(tend, c.rst())
        elif j not in (3, 6):
            at(tend, c.fin())
    # churn: one call per connection, ports reused once the previous connection is closed
    for i in range(100 * scale):
        c = Conn(30000 + (i - 1 if i % 10 == 0 and i else i) % (40 * scale))   # every 10th: the port just closed
        t = T0 + 300000 + i * (185000000 // (100 * scale))
        req, resp = call(100000 + i)
        at(t, c.open() + c.send(0, req) + c.send(1, resp) + c.fin(), 100)
    # DNS over UDP: one flow (client -> 10.1.0.53:53), many 5-tuples; some ports idle past 60 s
    names = [('api.busy.test', S), ('db.busy.test', bytes([10, 1, 0, 7])), ('cache.busy.test', bytes([10, 1, 0, 8]))]
    for i in range(40 * scale):
        sp = 20000 + (i % 64 if i < 30 * scale else 100 + i % 3)
        t = T0 + 200 + i * (195000000 // (40 * scale))
        nm, ip = names[i % len(names)]
        at(t, [udp(C, D, sp, 53, dns_query(i, nm)), udp(D, C, 53, sp, dns_answer(i, nm, ip))], 300)
    # big answers: fragmented, every third one last fragment first
    for i in range(6 * scale):
        sp = 21000 + i % 5
        t = T0 + 2000000 + i * (180000000 // (6 * scale))
        nm = 'txt%d.busy.test' % i
        q = udp(C, D, sp, 53, dns_query(5000 + i, nm, 16))
        frags = ip4_frags(D, C, 17, udp_payload(D, C, 53, sp, dns_answer(5000 + i, nm, txt=b'x' * (1400 + 37 * i))),
                          0x4000 + i)
        if i % 3 == 0:
            frags = frags[::-1]
        at(t, [q] + frags, 100)
    # DNS over TCP: two queries per connection
    for i in range(4 * scale):
        c = Conn(25000 + i, 53, D)
        t = T0 + 1500000 + i * (170000000 // (4 * scale))
        pk = c.open()
        for k in range(2):
            nm = 'tcp%d-%d.busy.test' % (i, k)
            q, a = dns_query(9000 + 2 * i + k, nm), dns_answer(9000 + 2 * i + k, nm, bytes([10, 1, 1, i % 250]))
            pk += c.send(0, struct.pack('!H', len(q)) + q) + c.send(1, struct.pack('!H', len(a)) + a)
        at(t, pk + c.fin(), 100)
    ev.sort()
    pcap(out, ((t, eth(p)) for t, _, p in ev))


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10)
