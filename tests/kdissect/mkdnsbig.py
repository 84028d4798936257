#!/usr/bin/env python3
"""mkdnsbig.py OUT — DNS responses with many and long records, for kdissect's dns_answers and
dns_records (proto/dns.c write_answers: at most 64 records, names cut at 1099 bytes, data at 599;
the answer section's data is kept in a 4 KiB buffer between the two lists and made again when it
does not fit, so these answers overflow it).

  1. TXT query for big.example.test, answered by 22 TXT records (one string of 200-255 letters
     each, then one of three 250-letter strings, longer than 599 once quoted) in the answer
     section, an SOA in the authority section, an A and an EDNS OPT record in the additional one
  2. A query for many.example.test, answered by 80 A records (past the 64-record cap)
"""
import os, struct, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mkcap import udp, eth, pcap  # noqa: E402

C, S = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 53])
T0 = 1700000000000000          # µs
ALPHA = b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'


def name(n):
    return b''.join(bytes([len(l)]) + l.encode() for l in n.split('.')) + b'\0'


def rr(owner, rtype, data, ttl=300):
    return owner + struct.pack('>HHIH', rtype, 1, ttl, len(data)) + data


def letters(i, n):
    return bytes(ALPHA[(i * 7 + k) % len(ALPHA)] for k in range(n))


def message(mid, flags, qname, qtype, an=(), ns=(), ar=()):
    h = struct.pack('>HHHHHH', mid, flags, 1, len(an), len(ns), len(ar))
    return h + name(qname) + struct.pack('>HH', qtype, 1) + b''.join(list(an) + list(ns) + list(ar))


def main(out):
    ptr = b'\xc0\x0c'   # the question's name
    txt = [rr(ptr, 16, bytes([n]) + letters(i, n)) for i, n in enumerate(range(200, 256, 8))]
    txt += [rr(ptr, 16, bytes([200 + i]) + letters(i, 200 + i)) for i in range(14)]
    txt.append(rr(ptr, 16, b''.join(bytes([250]) + letters(k, 250) for k in range(3))))
    soa = rr(name('example.test'), 6, name('ns1.example.test') + name('hostmaster.example.test') +
             struct.pack('>IIIII', 2024010101, 7200, 3600, 1209600, 300))
    glue = rr(name('ns1.example.test'), 1, bytes([192, 0, 2, 53]))
    opt = b'\0' + struct.pack('>HHIH', 41, 1232, 0, 0)
    many = [rr(ptr, 1, bytes([10, 9, i // 256, i % 256])) for i in range(80)]
    msgs = [
        (C, S, 40001, 53, message(0x1111, 0x0100, 'big.example.test', 16)),
        (S, C, 53, 40001, message(0x1111, 0x8180, 'big.example.test', 16, txt, [soa], [glue, opt])),
        (C, S, 40002, 53, message(0x2222, 0x0100, 'many.example.test', 1)),
        (S, C, 53, 40002, message(0x2222, 0x8180, 'many.example.test', 1, many)),
    ]
    pcap(out, [(T0 + i * 1000, eth(udp(s, d, sp, dp, m))) for i, (s, d, sp, dp, m) in enumerate(msgs)])


if __name__ == '__main__':
    main(sys.argv[1])
