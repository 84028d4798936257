#!/usr/bin/python3
"""Writes tests/l7/captures/fields.pcap, made by this script (no outside source), so that fields
kdissect writes only in cases the public corpus lacks are produced by a test capture
(tests/bats/fields.bats): GraphQL over HTTP/1 (gql, gqlv1, gql_operation…), GraphQL over
HTTP/2 with prior knowledge (gqlv2; HPACK literals, no Huffman), and an ICMP port unreachable
quoting a UDP datagram (icmp_code_name, icmp_conn, icmp_summary).
Usage: make_fields_pcap.py OUT.pcap"""
import json, struct, sys

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def ip4(a): return bytes(map(int, a.split(".")))

def ipv4(src, dst, proto, l4, ipid=1):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ipid, 0, 64, proto, 0, ip4(src), ip4(dst))
    return h[:10] + struct.pack(">H", csum(h)) + h[12:] + l4

def l4sum(src, dst, proto, seg):
    return csum(ip4(src) + ip4(dst) + struct.pack(">BBH", 0, proto, len(seg)) + seg)

def tcp(src, dst, sp, dp, seq, ack, flags, data=b""):
    seg = struct.pack(">HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    return ipv4(src, dst, 6, seg[:16] + struct.pack(">H", l4sum(src, dst, 6, seg)) + seg[18:])

def udp(src, dst, sp, dp, data):
    seg = struct.pack(">HHHH", sp, dp, 8 + len(data), 0) + data
    return ipv4(src, dst, 17, seg[:6] + struct.pack(">H", l4sum(src, dst, 17, seg) or 0xFFFF) + seg[8:])

frames, t = [], 1773510000.0
def emit(ipdg, dt=0.001):
    global t; t += dt
    frames.append((t, b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ipdg))

def conversation(cli, srv, cport, sport, msgs):
    """TCP handshake, then (from_client, bytes) messages each acknowledged, then FINs"""
    cs, ss = 1000, 5000
    emit(tcp(cli, srv, cport, sport, cs, 0, 0x02)); emit(tcp(srv, cli, sport, cport, ss, cs + 1, 0x12))
    cs += 1; ss += 1
    emit(tcp(cli, srv, cport, sport, cs, ss, 0x10))
    for from_client, data in msgs:
        if from_client:
            emit(tcp(cli, srv, cport, sport, cs, ss, 0x18, data)); cs += len(data)
            emit(tcp(srv, cli, sport, cport, ss, cs, 0x10))
        else:
            emit(tcp(srv, cli, sport, cport, ss, cs, 0x18, data)); ss += len(data)
            emit(tcp(cli, srv, cport, sport, cs, ss, 0x10))
    emit(tcp(cli, srv, cport, sport, cs, ss, 0x11)); emit(tcp(srv, cli, sport, cport, ss, cs + 1, 0x11))
    emit(tcp(cli, srv, cport, sport, cs + 1, ss + 1, 0x10))

C, S = "10.1.0.2", "10.1.0.3"
# GraphQL over HTTP/1
body = json.dumps({"query": "query GetOrder { order(id: 7) { id total } }", "operationName": "GetOrder"}).encode()
req = (b"POST /graphql HTTP/1.1\r\nHost: api:8080\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
       % len(body)) + body
rbody = b'{"data":{"order":{"id":7,"total":12}}}'
rsp = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(rbody) + rbody
conversation(C, S, 41000, 8080, [(1, req), (0, rsp)])

# GraphQL over HTTP/2 (h2c, prior knowledge)
def frame(ftype, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload
def hpack(headers):   # literal header field without indexing, new name, no Huffman
    out = b""
    for n, v in headers:
        out += b"\x00" + bytes([len(n)]) + n.encode() + bytes([len(v)]) + v.encode()
    return out
body2 = json.dumps({"query": "mutation AddItem { add(id: 1) { ok } }"}).encode()
creq = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"")
        + frame(1, 4, 1, hpack([(":method", "POST"), (":scheme", "http"), (":path", "/graphql"),
                                (":authority", "api:8081"), ("content-type", "application/json")]))
        + frame(0, 1, 1, body2))
srsp = (frame(4, 0, 0, b"") + frame(4, 1, 0, b"")
        + frame(1, 4, 1, hpack([(":status", "200"), ("content-type", "application/json")]))
        + frame(0, 1, 1, b'{"data":{"add":{"ok":true}}}'))
conversation(C, S, 41001, 8081, [(1, creq), (0, srsp)])

# ICMP port unreachable for a UDP datagram to a closed port
dgram = udp(C, S, 46603, 9999, b"hello")
emit(dgram)
icmp = b"\x03\x03\0\0\0\0\0\0" + dgram[:28]
icmp = icmp[:2] + struct.pack(">H", csum(icmp)) + icmp[4:]
emit(ipv4(S, C, 1, icmp))

with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for ts, fr in frames:
        f.write(struct.pack("<IIII", int(ts), int(round((ts % 1) * 1e6)), len(fr), len(fr)) + fr)
