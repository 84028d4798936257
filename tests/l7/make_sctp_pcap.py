#!/usr/bin/python3
"""Writes tests/l7/captures/sctp.pcap, made by this script (no outside source): two SCTP
associations (RFC 9260) between 10.2.0.1 and 10.2.0.2 (IPv4) for kdissect's SCTP decoding with
tshark as the oracle. The first: INIT, INIT_ACK, COOKIE_ECHO, COOKIE_ACK, DATA (one packet with
DATA and a second DATA chunk bundled), SACK, HEARTBEAT, HEARTBEAT_ACK, SHUTDOWN, SHUTDOWN_ACK,
SHUTDOWN_COMPLETE; the second (other addresses): INIT, then ABORT. Checksums are CRC32c.
Usage: make_sctp_pcap.py OUT.pcap"""
import struct, sys

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

def chunk(ctype, flags, value=b""):
    c = struct.pack(">BBH", ctype, flags, 4 + len(value)) + value
    return c + b"\0" * (-len(c) % 4)

def sctp(sport, dport, vtag, chunks):
    pkt = struct.pack(">HHII", sport, dport, vtag, 0) + b"".join(chunks)
    return pkt[:8] + struct.pack("<I", crc32c(pkt)) + pkt[12:]   # CRC32c goes in little-endian order

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def ipv4(src, dst, payload, ipid):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ipid, 0, 64, 132, 0,
                    bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return h[:10] + struct.pack(">H", csum(h)) + h[12:] + payload

A, B = "10.2.0.1", "10.2.0.2"
init = struct.pack(">IIHHI", 0x1111, 65535, 10, 10, 1000)           # tag, a_rwnd, streams, TSN
init_ack = struct.pack(">IIHHI", 0x2222, 65535, 10, 10, 5000) + struct.pack(">HH", 7, 12) + b"cookie\0\0"
def data(tsn, sid, ssn, text): return chunk(0, 3, struct.pack(">IHHI", tsn, sid, ssn, 0) + text)
P = [
    (A, B, 3868, 3868, 0, [chunk(1, 0, init)]),
    (B, A, 3868, 3868, 0x1111, [chunk(2, 0, init_ack)]),
    (A, B, 3868, 3868, 0x2222, [chunk(10, 0, b"cookie\0\0")]),
    (B, A, 3868, 3868, 0x1111, [chunk(11, 0)]),
    (A, B, 3868, 3868, 0x2222, [data(1000, 0, 0, b"hello diameter")]),
    (A, B, 3868, 3868, 0x2222, [data(1001, 0, 1, b"second"), data(1002, 1, 0, b"bundled")]),
    (B, A, 3868, 3868, 0x1111, [chunk(3, 0, struct.pack(">IIHH", 1002, 65535, 0, 0))]),
    (A, B, 3868, 3868, 0x2222, [chunk(4, 0, struct.pack(">HH", 1, 12) + b"info1234")]),
    (B, A, 3868, 3868, 0x1111, [chunk(5, 0, struct.pack(">HH", 1, 12) + b"info1234")]),
    (A, B, 3868, 3868, 0x2222, [chunk(7, 0, struct.pack(">I", 1002))]),
    (B, A, 3868, 3868, 0x1111, [chunk(8, 0)]),
    (A, B, 3868, 3868, 0x2222, [chunk(14, 0)]),
    ("10.2.0.3", B, 2905, 2905, 0, [chunk(1, 0, struct.pack(">IIHHI", 0x3333, 65535, 1, 1, 1))]),
    (B, "10.2.0.3", 2905, 2905, 0x3333, [chunk(6, 0, struct.pack(">HH", 1, 8) + struct.pack(">HH", 0, 0))]),
]
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    t = 1773520000.0
    for i, (s, d, sp, dp, tag, ch) in enumerate(P):
        t += 0.001
        fr = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ipv4(s, d, sctp(sp, dp, tag, ch), i + 1)
        f.write(struct.pack("<IIII", int(t), int(round((t % 1) * 1e6)), len(fr), len(fr)) + fr)
