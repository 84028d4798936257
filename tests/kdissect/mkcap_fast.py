#!/usr/bin/env python3
"""mkcap_fast.py — crafted captures for the fast paths of kdissect's record writer (issue 15):
inputs each shortcut must treat as the slow path did (generated, never committed).

  mkcap_fast.py gql OUT      HTTP/1 POSTs of JSON bodies to /api (not a GraphQL path): with a
                             "query" key, with the key spelled with a JSON escape ("\\u0071uery"),
                             with "operationName" only, and with neither
  mkcap_fast.py hdrnames OUT an HTTP/1 call whose header names need JSON escaping (a quote, a
                             backslash, a control byte, a non-UTF-8 byte) beside plain ones
"""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mkcap import tcp, eth, pcap  # noqa: E402

C, S = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def calls(pairs, out):
    fr, t = [], 1700000000000000
    for i, (req, resp) in enumerate(pairs):
        sp = 40000 + i
        fr += [tcp(C, S, sp, 80, 100, 0, 0x02), tcp(S, C, 80, sp, 500, 101, 0x12),
               tcp(C, S, sp, 80, 101, 501, 0x10), tcp(C, S, sp, 80, 101, 501, 0x18, req),
               tcp(S, C, 80, sp, 501, 101 + len(req), 0x18, resp)]
    pcap(out, ((t + i, eth(f)) for i, f in enumerate(fr)))


def post(body):
    return (b'POST /api HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
            b'Content-Length: %d\r\n\r\n' % len(body)) + body


OK = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'

if __name__ == '__main__':
    if sys.argv[1] == 'gql':
        calls([(post(b'{"query":"query Plain { a }"}'), OK),
               (post(b'{"\\u0071uery":"mutation Escaped { a }","operationName":"Op"}'), OK),
               (post(b'{"operationName":"OnlyName"}'), OK),
               (post(b'{"id":1,"name":"widget"}'), OK)], sys.argv[2])
    elif sys.argv[1] == 'hdrnames':
        req = (b'GET /x HTTP/1.1\r\nHost: x\r\nX-Plain: a\r\nX-"Quoted": b\r\nX-Back\\slash: c\r\n'
               b'X-Ctl\x01: d\r\nX-Bin\xff: e\r\nX-Utf8-\xc3\xa9: f\r\n\r\n')
        calls([(req, OK)], sys.argv[2])
    else:
        sys.exit(__doc__)
