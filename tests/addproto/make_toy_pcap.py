#!/usr/bin/python3
"""Writes the toy protocol's test capture (tests/addproto/toy.c) as a pcap: one TCP connection
10.0.0.1:40000 -> 10.0.0.2:7777 with a handshake, "TOY PING" answered "OK", "TOY GET x" answered
"ERR no such key", "TOY QUIT" not answered, then FINs. Usage: make_toy_pcap.py OUT.pcap
Standard library only."""
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, data=b""):
    sip, dip = bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    pseudo = sip + dip + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, sip, dip)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + ip + tcp


def main(out):
    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 7777)
    cs, ss = 1000, 5000
    pkts = []

    def send(frm, to, seq, ack, flags, data=b""):
        pkts.append(frame(frm[0], to[0], frm[1], to[1], seq, ack, flags, data))

    SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
    send(c, s, cs, 0, SYN); cs += 1
    send(s, c, ss, cs, SYN | ACK); ss += 1
    send(c, s, cs, ss, ACK)
    for req, resp in ((b"TOY PING\n", b"OK\n"), (b"TOY GET x\n", b"ERR no such key\n"), (b"TOY QUIT\n", None)):
        send(c, s, cs, ss, PSH | ACK, req); cs += len(req)
        if resp:
            send(s, c, ss, cs, PSH | ACK, resp); ss += len(resp)
    send(c, s, cs, ss, FIN | ACK); cs += 1
    send(s, c, ss, cs, FIN | ACK); ss += 1
    send(c, s, cs, ss, ACK)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        t = 1773509025  # 2026-03-14T17:23:45Z
        for i, p in enumerate(pkts):
            f.write(struct.pack("<IIII", t, i * 1000, len(p), len(p)) + p)


if __name__ == "__main__":
    main(sys.argv[1])
