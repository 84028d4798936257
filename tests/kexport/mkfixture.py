#!/usr/bin/env python3
"""Writes kexport's test fixtures into DIR (standard library only):
  worker-1.pcap        Ethernet/IPv4 traffic of node worker-1 (µs pcap):
                       conn A 10.0.1.2:40000 -> 10.0.1.7:8080 at 17:05 (pod orders-aaa holds .7):
                       two HTTP calls, GET /a -> 503 and GET /b -> 200, handshake and teardown;
                       conn B 10.0.1.2:40001 -> 10.0.1.7:8080 at 17:15 (pod payments-bbb holds .7
                       after orders-aaa was deleted at 17:10): GET /c -> 500;
                       UDP 10.0.1.3:5000 -> 10.0.1.4:53 noise every minute 17:00-17:19.
  worker-2.pcapng      node worker-2 (pcapng, ns, SHB comment "kforensics-node: worker-2"):
                       the server side of conn A and some ICMP, interleaved in time with worker-1.
  meta-events.ndjson   Kubernetes events telling who held which IP when.
  calls.ndjson         kdissect-like records (docs/schema.md) of the three HTTP calls.
  keylog.txt           a TLS key log line.
  store/               a capture store (docs/store.md) of worker-1.pcap's packets: worker-1/
                       holds one pcapng segment per 5 minutes (17:00 … 17:15), meta/ the events.
Frame numbers and timestamps in calls.ndjson are those of the packets written here."""
import json, os, struct, sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
T0 = 1773507600  # 2026-03-14T17:00:00Z

def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def ip4(a): return bytes(int(x) for x in a.split('.'))

def ipv4(src, dst, proto, payload, ident=1):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0, ip4(src), ip4(dst))
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload

def tcp(src, dst, sp, dp, seq, ack, flags, data=b''):
    h = struct.pack('!HHIIBBHHH', sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0)
    ph = ip4(src) + ip4(dst) + struct.pack('!BBH', 0, 6, len(h) + len(data))
    c = csum(ph + h + data)
    return ipv4(src, dst, 6, h[:16] + struct.pack('!H', c) + h[18:] + data)

def udp(src, dst, sp, dp, data):
    h = struct.pack('!HHHH', sp, dp, 8 + len(data), 0)
    ph = ip4(src) + ip4(dst) + struct.pack('!BBH', 0, 17, 8 + len(data))
    c = csum(ph + h + data) or 0xffff
    return ipv4(src, dst, 17, h[:6] + struct.pack('!H', c) + data)

def icmp_echo(src, dst, ident, seq):
    body = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + b'kforensics-ping!'
    body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
    return ipv4(src, dst, 1, body)

def eth(ipdata):
    return b'\x02\x00\x00\x00\x00\x02' + b'\x02\x00\x00\x00\x00\x01' + b'\x08\x00' + ipdata

FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16

def conversation(t, cli, srv, cp, sp, calls):
    """TCP connection with HTTP calls [(method, path, status)], one ms apart. Returns
    (packets [(ts_ns, frame)], per-call (first_idx, last_idx))."""
    pk, idx = [], []
    ns = t * 10**9
    step = 1000000
    cs, ss = 1000, 5000
    def add(frame):
        nonlocal ns
        pk.append((ns, eth(frame))); ns += step
    add(tcp(cli, srv, cp, sp, cs, 0, SYN)); cs += 1
    add(tcp(srv, cli, sp, cp, ss, cs, SYN | ACK)); ss += 1
    add(tcp(cli, srv, cp, sp, cs, ss, ACK))
    for m, p, st in calls:
        req = ('%s %s HTTP/1.1\r\nHost: %s\r\n\r\n' % (m, p, srv)).encode()
        body = b'{"ok":%s}' % (b'true' if st < 400 else b'false')
        resp = ('HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n' % (st, len(body))).encode() + body
        first = len(pk)
        add(tcp(cli, srv, cp, sp, cs, ss, PSH | ACK, req)); cs += len(req)
        add(tcp(srv, cli, sp, cp, ss, cs, ACK))
        add(tcp(srv, cli, sp, cp, ss, cs, PSH | ACK, resp)); ss += len(resp)
        last = len(pk) - 1
        add(tcp(cli, srv, cp, sp, cs, ss, ACK))
        idx.append((first, last))
    add(tcp(cli, srv, cp, sp, cs, ss, FIN | ACK)); cs += 1
    add(tcp(srv, cli, sp, cp, ss, cs, FIN | ACK)); ss += 1
    add(tcp(cli, srv, cp, sp, cs, ss, ACK))
    return pk, idx

connA, idxA = conversation(T0 + 300, '10.0.1.2', '10.0.1.7', 40000, 8080, [('GET', '/a', 503), ('GET', '/b', 200)])
connB, idxB = conversation(T0 + 900, '10.0.1.2', '10.0.1.7', 40001, 8080, [('GET', '/c', 500)])
noise = [((T0 + 60 * i) * 10**9 + 500000000, eth(udp('10.0.1.3', '10.0.1.4', 5000, 53, b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01')))
         for i in range(20)]
w1 = sorted(connA + connB + noise, key=lambda x: x[0])

def write_pcap(path, pkts):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for ns, fr in pkts:
            f.write(struct.pack('<IIII', ns // 10**9, (ns % 10**9) // 1000, len(fr), len(fr)) + fr)

write_pcap(os.path.join(out, 'worker-1.pcap'), w1)

# worker-2: server side of conn A (shifted 100 µs later) plus pings, pcapng with ns resolution
def opt(code, val):
    pad = (4 - len(val) % 4) % 4
    return struct.pack('<HH', code, len(val)) + val + b'\0' * pad

def block(t, body):
    return struct.pack('<II', t, 12 + len(body)) + body + struct.pack('<I', 12 + len(body))

w2 = [(ns + 100000, fr) for ns, fr in connA]
w2 += [((T0 + 301) * 10**9 + 123456789 + i * 7, eth(icmp_echo('10.0.2.9', '10.0.1.7', 7, i))) for i in range(3)]
w2.sort(key=lambda x: x[0])
with open(os.path.join(out, 'worker-2.pcapng'), 'wb') as f:
    f.write(block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1) +
                  opt(1, b'kforensics-node: worker-2') + opt(0, b'')))
    f.write(block(1, struct.pack('<HHI', 1, 0, 262144) + opt(2, b'eth0') + opt(9, b'\x09') + opt(0, b'')))
    for ns, fr in w2:
        pad = (4 - len(fr) % 4) % 4
        f.write(block(6, struct.pack('<IIIII', 0, ns >> 32, ns & 0xffffffff, len(fr), len(fr)) + fr + b'\0' * pad))

def rfc(ns):
    s, f = divmod(ns, 10**9)
    import time
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(s)) + '.%09dZ' % f

# metadata: orders-aaa holds 10.0.1.7 17:00-17:10, payments-bbb from 17:12
def pod(name, ip, owner=None, labels=None, node='worker-1', phase='Running'):
    md = {'name': name, 'namespace': 'prod', 'uid': 'uid-' + name, 'labels': labels or {},
          'creationTimestamp': rfc(T0 * 10**9).split('.')[0] + 'Z'}
    if owner:
        md['ownerReferences'] = [{'kind': 'ReplicaSet', 'name': owner + '-594487879c', 'controller': True}]
    return {'kind': 'Pod', 'apiVersion': 'v1', 'metadata': md, 'spec': {'nodeName': node},
            'status': {'phase': phase, 'podIP': ip, 'podIPs': [{'ip': ip}]}}

rs = {'kind': 'ReplicaSet', 'apiVersion': 'apps/v1',
      'metadata': {'name': 'orders-594487879c', 'namespace': 'prod', 'uid': 'uid-rs',
                   'ownerReferences': [{'kind': 'Deployment', 'name': 'orders', 'controller': True}]}}
svc = {'kind': 'Service', 'apiVersion': 'v1', 'metadata': {'name': 'orders', 'namespace': 'prod', 'uid': 'uid-svc'},
       'spec': {'clusterIP': '10.96.0.10', 'selector': {'app': 'orders'}}}
ev = [
    (T0, 'ADDED', rs), (T0, 'ADDED', svc),
    (T0, 'ADDED', pod('web-1', '10.0.1.2', labels={'app': 'web'})),
    (T0, 'ADDED', pod('orders-594487879c-aaaaa', '10.0.1.7', owner='orders', labels={'app': 'orders'})),
    (T0 + 600, 'DELETED', pod('orders-594487879c-aaaaa', '10.0.1.7', owner='orders', labels={'app': 'orders'})),
    (T0 + 720, 'ADDED', pod('payments-bbb', '10.0.1.7', labels={'app': 'payments'}, node='worker-2')),
]
with open(os.path.join(out, 'meta-events.ndjson'), 'w') as f:
    for t, ty, o in ev:
        f.write(json.dumps({'ts': rfc(t * 10**9), 'type': ty, 'object': o}) + '\n')

# calls as kdissect writes them (frames are 1-based positions in worker-1.pcap)
pos = {id(x): i + 1 for i, x in enumerate(w1)}
recs = []
for conn, idx, calls, cp in ((connA, idxA, [('GET', '/a', 503), ('GET', '/b', 200)], 40000),
                             (connB, idxB, [('GET', '/c', 500)], 40001)):
    for (first, last), (m, p, st) in zip(idx, calls):
        f0, f1 = conn[first], conn[last]
        recs.append({
            'id': 'fixture-%d' % len(recs), 'protocol': 'HTTP', 'http': True, 'tcp': True,
            'timestamp': rfc(f0[0]), 'elapsed_time': (f1[0] - f0[0]) // 1000,
            'method': m, 'path': p, 'status_code': st, 'conn_id': 'c-%d' % cp,
            'node': {'name': 'worker-1'},
            'src': {'ip': '10.0.1.2', 'port': cp, 'name': 'web-1', 'namespace': 'prod'},
            'dst': {'ip': '10.0.1.7', 'port': 8080},
            'capture': {'file': 'worker-1.pcap', 'node': 'worker-1',
                        'first_frame': pos[id(f0)], 'last_frame': pos[id(f1)],
                        'first_ts': rfc(f0[0]), 'last_ts': rfc(f1[0]),
                        'conn': {'proto': 'tcp', 'a': '10.0.1.2:%d' % cp, 'b': '10.0.1.7:8080'},
                        'conn_first_ts': rfc(conn[0][0]), 'conn_last_ts': rfc(conn[-1][0])}})
with open(os.path.join(out, 'calls.ndjson'), 'w') as f:
    for r in recs:
        f.write(json.dumps(r) + '\n')
with open(os.path.join(out, 'keylog.txt'), 'w') as f:
    f.write('CLIENT_RANDOM ' + '11' * 32 + ' ' + '22' * 48 + '\n')

# the store: worker-1's packets in 5-minute segments, metadata events in meta/
sd = os.path.join(out, 'store', 'worker-1')
os.makedirs(sd, exist_ok=True)
os.makedirs(os.path.join(out, 'store', 'meta'), exist_ok=True)
import time as _t
def segname(t): return _t.strftime('%Y%m%dT%H%M%S', _t.gmtime(t)) + '.000000000Z'
for k in range(4):
    lo, hi = (T0 + 300 * k) * 10**9, (T0 + 300 * (k + 1)) * 10**9
    with open(os.path.join(sd, segname(T0 + 300 * k) + '.pcapng'), 'wb') as f:
        f.write(block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1) +
                      opt(1, b'kforensics-node: worker-1') + opt(0, b'')))
        f.write(block(1, struct.pack('<HHI', 1, 0, 65535) + opt(2, b'eth0') + opt(9, b'\x09') + opt(0, b'')))
        for ns, fr in w1:
            if lo <= ns < hi:
                pad = (4 - len(fr) % 4) % 4
                f.write(block(6, struct.pack('<IIIII', 0, ns >> 32, ns & 0xffffffff, len(fr), len(fr)) + fr + b'\0' * pad))
with open(os.path.join(out, 'store', 'meta', segname(T0) + '.ndjson'), 'w') as f:
    for t, ty, o in ev:
        f.write(json.dumps({'ts': rfc(t * 10**9), 'type': ty, 'object': o}) + '\n')
