#!/usr/bin/env python3
"""mkcap_framed.py — crafted captures for kdissect's framed protocols (generated, never committed).

  mkcap_framed.py mysql-unanswered OUT   MySQL: greeting, login, a query answered (OK), then
                                         `SELECT SLEEP(100)` whose answer never comes (the
                                         client closes); a second connection whose COM_QUERY is
                                         followed by another before any answer
  mkcap_framed.py h2-unanswered OUT      h2c (prior knowledge) on port 50051: stream 1 GET /a
                                         answered 200; stream 3 GET /b reset by the client
                                         (RST_STREAM CANCEL) before any answer; stream 5 GET /c
                                         never answered; stream 7 a gRPC call (POST, DATA) never
                                         answered; then both sides close
  mkcap_framed.py h2-grpc-status OUT     h2c on port 50051: four gRPC calls; three answered by an
                                         intermediary without grpc-status (:status 404, 503, 418),
                                         one by the server (200, trailers grpc-status 5)
  mkcap_framed.py dns-tcp-resync OUT     DNS over TCP: a query answered, 5 bytes of garbage, a
                                         second query answered
  mkcap_framed.py kafka-big OUT          Kafka: a Produce request of 300 KiB (more than a framed
                                         protocol buffers whole: its head is parsed, the rest
                                         skipped) answered, then a Metadata request answered
  mkcap_framed.py pg-resync OUT          PostgreSQL: a query answered, 64 bytes of garbage from
                                         the client (a bad frame), then a query answered
"""
import os, struct, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mkcap import tcp, eth, pcap   # the shared packet builders


def conv(c, s, cport, sport, talk, t0, close=True, seg=1400):
    """A TCP conversation: handshake, talk = [(0 client | 1 server, bytes)], FINs. Long data is cut
    into segments of seg bytes. Returns (ts_us, frame) pairs."""
    fr = [tcp(c, s, cport, sport, 100, 0, 0x02), tcp(s, c, sport, cport, 500, 101, 0x12),
          tcp(c, s, cport, sport, 101, 501, 0x10)]
    seq = [101, 501]
    for d, data in talk:
        src, dst, sp, dp = (c, s, cport, sport) if d == 0 else (s, c, sport, cport)
        for i in range(0, len(data), seg):
            piece = data[i:i + seg]
            fr.append(tcp(src, dst, sp, dp, seq[d], seq[1 - d], 0x18, piece))
            seq[d] += len(piece)
    if close:
        fr.append(tcp(c, s, cport, sport, seq[0], seq[1], 0x11))
        fr.append(tcp(s, c, sport, cport, seq[1], seq[0] + 1, 0x11))
        fr.append(tcp(c, s, cport, sport, seq[0] + 1, seq[1] + 1, 0x10))
    return [(t0 + 1000 * i, eth(f)) for i, f in enumerate(fr)]


C, S = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def my_pkt(seq, payload):
    return struct.pack('<I', len(payload))[:3] + bytes([seq]) + payload


def mysql_unanswered(out):
    greeting = (b'\x0a' + b'8.0.36\0' + struct.pack('<I', 7) + b'abcdefgh\0' + struct.pack('<H', 0xffff) +
                b'\x21' + struct.pack('<H', 2) + struct.pack('<H', 0xdfff) + b'\x15' + b'\0' * 10 +
                b'ijklmnopqrst\0' + b'mysql_native_password\0')
    caps = 0x000fa685 | 0x8   # CLIENT_PROTOCOL_41 … | CONNECT_WITH_DB
    login = (struct.pack('<IIB', caps, 16777216, 0x21) + b'\0' * 23 + b'app\0' + b'\x14' + b'p' * 20 +
             b'shop\0' + b'mysql_native_password\0')
    ok = b'\x00\x00\x00\x02\x00\x00\x00'
    q = lambda text: my_pkt(0, b'\x03' + text)
    talk = [(1, my_pkt(0, greeting)), (0, my_pkt(1, login)), (1, my_pkt(2, ok)),
            (0, q(b'UPDATE t SET a = 1')), (1, my_pkt(1, ok)),
            (0, q(b'SELECT SLEEP(100)'))]
    frames = conv(C, S, 40000, 3306, talk, 1700000000000000)
    # second connection: the answer to the first query is not seen before the next query
    talk2 = [(0, q(b'DELETE FROM t')), (0, q(b'UPDATE t SET b = 2')), (1, my_pkt(1, ok))]
    frames += conv(C, S, 40001, 3306, talk2, 1700000001000000)
    pcap(out, frames)


def h2_frame(typ, flags, sid, payload):
    return struct.pack('!I', len(payload))[1:] + bytes([typ, flags]) + struct.pack('!I', sid) + payload


def hpack_lit(idx, value):
    """literal header field without indexing, name from the static table (4-bit prefix index)"""
    assert idx < 15 and len(value) < 127
    return bytes([idx]) + bytes([len(value)]) + value


def h2_unanswered(out):
    def get(path):
        return b'\x82\x86' + hpack_lit(4, path) + hpack_lit(1, b'svc:50051')
    grpc_req = (b'\x83\x86' + hpack_lit(4, b'/pkg.Greeter/SayHello') + hpack_lit(1, b'svc:50051') +
                b'\x0f\x10' + bytes([16]) + b'application/grpc' + b'\x00\x02te\x08trailers')
    msg = b'\x0a\x05world'   # protobuf: field 1 = "world"
    talk = [(0, b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + h2_frame(4, 0, 0, b'')),
            (1, h2_frame(4, 0, 0, b'') + h2_frame(4, 1, 0, b'')),
            (0, h2_frame(4, 1, 0, b'')),
            (0, h2_frame(1, 0x05, 1, get(b'/a'))),
            (1, h2_frame(1, 0x05, 1, b'\x88')),                      # :status 200, END_STREAM
            (0, h2_frame(1, 0x05, 3, get(b'/b'))),
            (0, h2_frame(3, 0, 3, struct.pack('!I', 8))),            # RST_STREAM CANCEL
            (0, h2_frame(1, 0x05, 5, get(b'/c'))),
            (0, h2_frame(1, 0x04, 7, grpc_req) + h2_frame(0, 0x01, 7, b'\0' + struct.pack('!I', len(msg)) + msg))]
    pcap(out, conv(C, S, 40000, 50051, talk, 1700000000000000))


def h2_grpc_status(out):
    """gRPC calls answered by an intermediary without grpc-status (404, 503, 418) and by the
    server (200 + trailers grpc-status 5)"""
    def call(path):
        return (b'\x83\x86' + hpack_lit(4, path) + hpack_lit(1, b'svc:50051') +
                b'\x0f\x10' + bytes([16]) + b'application/grpc' + b'\x00\x02te\x08trailers')
    msg = b'\x0a\x05world'
    def req(sid, path):
        return h2_frame(1, 0x04, sid, call(path)) + h2_frame(0, 0x01, sid, b'\0' + struct.pack('!I', len(msg)) + msg)
    grpc_ct = b'\x0f\x10' + bytes([16]) + b'application/grpc'
    trailer = b'\x00' + bytes([11]) + b'grpc-status' + bytes([1]) + b'5'
    talk = [(0, b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + h2_frame(4, 0, 0, b'')),
            (1, h2_frame(4, 0, 0, b'') + h2_frame(4, 1, 0, b'')),
            (0, h2_frame(4, 1, 0, b'')),
            (0, req(1, b'/shop.Items/Get')),
            (1, h2_frame(1, 0x05, 1, b'\x8d')),                        # :status 404, END_STREAM
            (0, req(3, b'/shop.Items/List')),
            (1, h2_frame(1, 0x05, 3, hpack_lit(8, b'503'))),            # :status 503
            (0, req(5, b'/shop.Items/Brew')),
            (1, h2_frame(1, 0x05, 5, hpack_lit(8, b'418'))),            # :status 418
            (0, req(7, b'/shop.Items/Put')),
            (1, h2_frame(1, 0x04, 7, b'\x88' + grpc_ct) + h2_frame(1, 0x05, 7, trailer))]
    pcap(out, conv(C, S, 40000, 50051, talk, 1700000000000000))


def dns_tcp_resync(out):
    """DNS over TCP: a query answered, 5 bytes of garbage from the client (a length below a DNS
    header's 12), then a second query answered"""
    def msg(qid, flags, name, answer=b''):
        q = b''.join(bytes([len(x)]) + x for x in name.split(b'.')) + b'\0' + struct.pack('!HH', 1, 1)
        body = struct.pack('!HHHHHH', qid, flags, 1, 1 if answer else 0, 0, 0) + q + answer
        return struct.pack('!H', len(body)) + body
    a = lambda ip: b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 60, 4) + bytes(ip)
    talk = [(0, msg(1, 0x0100, b'orders.shop')), (1, msg(1, 0x8180, b'orders.shop', a([10, 0, 0, 7]))),
            (0, b'\x00\x03abc'),
            (0, msg(2, 0x0100, b'cart.shop')), (1, msg(2, 0x8180, b'cart.shop', a([10, 0, 0, 8])))]
    pcap(out, conv(C, S, 40000, 53, talk, 1700000000000000))


def kafka_big(out):
    def req(key, ver, corr, body):
        h = struct.pack('!hhi', key, ver, corr) + struct.pack('!h', 6) + b'client'
        return struct.pack('!I', len(h) + len(body)) + h + body
    records = b'\x00' * (300 << 10)
    produce = (struct.pack('!hi', 1, 1000) + struct.pack('!i', 1) + struct.pack('!h', 6) + b'orders' +
               struct.pack('!i', 1) + struct.pack('!i', 0) + struct.pack('!i', len(records)) + records)
    metadata = struct.pack('!i', 1) + struct.pack('!h', 6) + b'orders'
    resp = lambda corr: struct.pack('!I', 4 + 6) + struct.pack('!i', corr) + b'\0' * 6
    talk = [(0, req(0, 2, 1, produce)), (1, resp(1)), (0, req(3, 1, 2, metadata)), (1, resp(2))]
    pcap(out, conv(C, S, 40000, 9092, talk, 1700000000000000))


def pg_resync(out):
    def msg(t, body):
        return t + struct.pack('!I', 4 + len(body)) + body
    startup = struct.pack('!I', 196608) + b'user\0app\0database\0shop\0\0'
    startup = struct.pack('!I', 4 + len(startup)) + startup
    ready = msg(b'Z', b'I')
    answer = lambda tag: msg(b'C', tag + b'\0') + ready
    talk = [(0, startup), (1, msg(b'R', struct.pack('!I', 0)) + ready),
            (0, msg(b'Q', b'SELECT 1\0')), (1, answer(b'SELECT 1')),
            (0, b'\xff' * 64),
            (0, msg(b'Q', b'SELECT 2\0')), (1, answer(b'SELECT 1'))]
    pcap(out, conv(C, S, 40000, 5432, talk, 1700000000000000))


if __name__ == '__main__':
    what, out = sys.argv[1], sys.argv[2]
    {'mysql-unanswered': mysql_unanswered, 'h2-unanswered': h2_unanswered, 'h2-grpc-status': h2_grpc_status,
     'dns-tcp-resync': dns_tcp_resync,
     'kafka-big': kafka_big, 'pg-resync': pg_resync}[what](out)
