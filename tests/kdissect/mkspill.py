#!/usr/bin/env python3
"""mkspill.py — a capture that makes kdissect spill nearly every record, and the oracle for it.

  mkspill.py make N OUT [K] one keep-alive HTTP/1 connection open from the first packet to the last
                           (its conn record, stamped with its first packet, comes out first: every
                           later record waits for it), carrying a GET every 16 calls; around it N
                           short connections, one POST each whose body has a length drawn from
                           0..80000 (records from 200 bytes to more than the 16 KiB read block of
                           a spilled run at a small --max-memory), answered 200. With K, K such
                           keep-alive connections one after the other, each for N/K calls, with
                           17000 ARP frames over 340 s between them (what waited for one goes out once it
                           closed, before anything waits for the next)
  mkspill.py check N [K]   reads kdissect's NDJSON (run with --body-limit 100000) on stdin: every
                           call's path and body as made, in the order of the requests; ids
                           <prefix>-000000 on, one apart; timestamps never decreasing; the first
                           long connection's conn record first; N + K conn records
"""
import json, os, random, struct, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mkcap import tcp, eth, pcap  # noqa: E402

T0 = 1700000000000000          # µs
C, S = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
MSS = 1460


ALPHA = b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
FAST = bytes(ALPHA[x % len(ALPHA)] for x in range(256))


def body(i, fast=False):
    r = random.Random(i)
    n = r.choice([r.randrange(0, 600), r.randrange(600, 16000), r.randrange(16000, 80000)])
    if fast:   # K > 1: longer captures, bytes drawn at once (the default capture stays as it was)
        return r.randbytes(n).translate(FAST)
    return bytes(ALPHA[r.randrange(len(ALPHA))] for _ in range(n))


def calls(n, fast=False):
    """(path, body, long-connection?) in request order"""
    out = []
    for i in range(n):
        if i % 16 == 0:
            out.append(('/long/%d' % i, b'', True))
        out.append(('/short/%d' % i, body(i, fast), False))
    return out


class Conn:
    def __init__(self, frames, sp):
        self.f, self.sp, self.seq = frames, sp, [101, 501]

    def send(self, t, d, data):
        src, dst, a, b = (C, S, self.sp, 80) if d == 0 else (S, C, 80, self.sp)
        for k in range(0, max(len(data), 1), MSS):
            seg = data[k:k + MSS]
            self.f.append((t, eth(tcp(src, dst, a, b, self.seq[d], self.seq[1 - d], 0x18, seg))))
            self.seq[d] += len(seg)
            t += 1
        return t

    def open(self, t):
        self.f.append((t, eth(tcp(C, S, self.sp, 80, 100, 0, 0x02))))
        self.f.append((t + 1, eth(tcp(S, C, 80, self.sp, 500, 101, 0x12))))
        self.f.append((t + 2, eth(tcp(C, S, self.sp, 80, 101, 501, 0x10))))
        return t + 3

    def close(self, t):
        s0, s1 = self.seq
        self.f.append((t, eth(tcp(C, S, self.sp, 80, s0, s1, 0x11))))
        self.f.append((t + 1, eth(tcp(S, C, 80, self.sp, s1, s0 + 1, 0x11))))
        self.f.append((t + 2, eth(tcp(C, S, self.sp, 80, s0 + 1, s1 + 1, 0x10))))
        return t + 3


def make(n, out, k=1):
    fr = []
    long_ = Conn(fr, 40000)
    t = long_.open(T0)
    seg = 0
    for i, (path, b, on_long) in enumerate(calls(n, k > 1)):
        if on_long and i and int(path.split('/')[2]) * k // n > seg:
            seg += 1
            t = long_.close(t + 1000)
            # then a pause of ARP frames (no records), 340 s: past kdissect's release of waiting
            # records every 16384 packets and past the flow's 60 s interval (its flow record holds
            # back what follows it too): every run is read back before the next is written
            for _ in range(17000):
                t += 20000
                fr.append((t, b'\xff' * 6 + b'\x02\0\0\0\0\x01\x08\x06' + bytes(28)))
            long_ = Conn(fr, 40000 + seg)
            t = long_.open(t + 1000)
        t += 1000
        if on_long:
            t = long_.send(t, 0, b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path.encode())
            t = long_.send(t + 10, 1, b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
        else:
            c = Conn(fr, 41000 + i)
            t = c.open(t)
            req = (b'POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n'
                   % (path.encode(), len(b))) + b
            t = c.send(t, 0, req)
            t = c.send(t + 10, 1, b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
            t = c.close(t + 10)
    long_.close(t + 1000)
    pcap(out, fr)


def check(n, nlong=1):
    recs = [json.loads(l) for l in sys.stdin]
    want = [(p, b.decode()) for p, b, _ in calls(n, nlong > 1)]
    got = [(r['path'], r['request'].get('body', '')) for r in recs if r.get('http')]
    assert len(got) == len(want), 'calls: %d, made %d' % (len(got), len(want))
    for k, (g, w) in enumerate(zip(got, want)):
        assert g == w, 'call %d: %s (%d bytes), made %s (%d bytes)' % (k, g[0], len(g[1]), w[0], len(w[1]))
    prefix = recs[0]['id'].rsplit('-', 1)[0]
    for k, r in enumerate(recs):
        assert r['id'] == '%s-%06d' % (prefix, k), 'record %d: id %s' % (k, r['id'])
        assert k == 0 or recs[k - 1]['timestamp'] <= r['timestamp'], 'record %d: time goes back' % k
    conns = [r for r in recs if r.get('tcp_conn')]
    assert len(conns) == n + nlong, 'conn records: %d' % len(conns)
    assert recs[0].get('tcp_conn') and recs[0]['capture']['conn']['a'] == '10.0.0.1:40000', 'first: not the long conn'
    big = max(len(json.dumps(r)) for r in recs)
    assert big > 65536, 'no record longer than 64 KiB (%d): the test lost its point' % big
    print('ok %d records, %d calls, largest %d bytes' % (len(recs), len(got), max(len(json.dumps(r)) for r in recs)))


if __name__ == '__main__':
    if sys.argv[1] == 'make':
        make(int(sys.argv[2]), sys.argv[3], *(int(a) for a in sys.argv[4:5]))
    elif sys.argv[1] == 'check':
        check(int(sys.argv[2]), *(int(a) for a in sys.argv[3:4]))
    else:
        sys.exit(__doc__)
