#!/usr/bin/python3
"""Writes tests/l7/captures/radius.pcap: a synthetic RADIUS conversation (RFC 2865/2866) made by
this script (no outside source), for kdissect's RADIUS dissector and tshark as its oracle.
NAS 10.0.0.10 talks to the server 10.0.0.1 on 1812 (authentication) and 1813 (accounting):
  Access-Request alice -> Access-Accept; bob -> Access-Reject; carol -> Access-Challenge;
  Accounting-Request Start -> Accounting-Response; Stop -> Accounting-Response;
  Status-Server -> Access-Accept; an Access-Request sent twice (a retry) and then answered;
  an Access-Request never answered; an Access-Accept whose request was not captured.
Usage: make_radius_pcap.py OUT.pcap"""
import struct, sys, hashlib

def attrs(*kv):
    out = b""
    for t, v in kv:
        out += bytes([t, len(v) + 2]) + v
    return out

def radius(code, ident, a, auth=None):
    auth = auth or hashlib.md5(bytes([code, ident]) + a).digest()
    return struct.pack(">BBH", code, ident, 20 + len(a)) + auth + a

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def udp_frame(src, dst, sport, dport, payload, ipid):
    ip_src, ip_dst = bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))
    ulen = 8 + len(payload)
    pseudo = ip_src + ip_dst + struct.pack(">BBH", 0, 17, ulen)
    u = struct.pack(">HHHH", sport, dport, ulen, 0) + payload
    u = u[:6] + struct.pack(">H", csum(pseudo + u) or 0xFFFF) + u[8:]
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ipid, 0, 64, 17, 0, ip_src, ip_dst)
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + ip + u

NAS, SRV = "10.0.0.10", "10.0.0.1"
pw = attrs((2, b"\x11" * 16))            # User-Password: hidden with the secret (opaque here)
nas = attrs((4, bytes([10, 0, 0, 10])), (5, struct.pack(">I", 7)))
pkts = []   # (time, src, dst, sport, dport, payload)
t = 1773510000.0
def req(sport, dport, payload, dt=0.001):
    global t; t += dt; pkts.append((t, NAS, SRV, sport, dport, payload))
def rsp(sport, dport, payload, dt=0.0005):
    global t; t += dt; pkts.append((t, SRV, NAS, dport, sport, payload))
req(40001, 1812, radius(1, 1, attrs((1, b"alice")) + pw + nas)); rsp(40001, 1812, radius(2, 1, attrs((18, b"welcome"))))
req(40001, 1812, radius(1, 2, attrs((1, b"bob")) + pw + nas));   rsp(40001, 1812, radius(3, 2, attrs((18, b"denied"))))
req(40001, 1812, radius(1, 3, attrs((1, b"carol")) + pw + nas)); rsp(40001, 1812, radius(11, 3, attrs((24, b"state-1"))))
req(40002, 1813, radius(4, 7, attrs((1, b"alice"), (40, struct.pack(">I", 1)), (44, b"sess-1")) + nas))
rsp(40002, 1813, radius(5, 7, b""))
req(40002, 1813, radius(4, 8, attrs((1, b"alice"), (40, struct.pack(">I", 2)), (44, b"sess-1"), (46, struct.pack(">I", 60))) + nas))
rsp(40002, 1813, radius(5, 8, b""))
req(40001, 1812, radius(12, 9, attrs((80, b"\0" * 16))));        rsp(40001, 1812, radius(2, 9, b""))
req(40001, 1812, radius(1, 10, attrs((1, b"dave")) + pw + nas))
req(40001, 1812, radius(1, 10, attrs((1, b"dave")) + pw + nas), dt=3.0)   # the retry
rsp(40001, 1812, radius(2, 10, b""), dt=0.002)
req(40001, 1812, radius(1, 11, attrs((1, b"erin")) + pw + nas))          # never answered
rsp(40003, 1812, radius(2, 99, b""), dt=0.5)                              # request not captured
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, (ts, s, d, sp, dp, pl) in enumerate(pkts):
        fr = udp_frame(s, d, sp, dp, pl, i + 1)
        f.write(struct.pack("<IIII", int(ts), int(round((ts % 1) * 1e6)), len(fr), len(fr)) + fr)
