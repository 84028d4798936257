#!/usr/bin/env python3
"""Crafts hostile inputs for tests/hostile (issue 21): snapshots that lie about their members,
bombs that unpack to gigabytes from a few hundred KB, names with terminal controls.
Nothing here is committed output: every file is generated into OUTDIR when the tests run.

usage: craft.py OUTDIR [--bomb-mib N]   (bomb size for the "unpacks to N MiB" cases, default 4096)
       craft.py --many N FILE            (a snapshot of N one-packet members, see many_members)

The base is samples/demo.ksnap (one node, one segment, meta/events.ndjson). Each variant is a
pax tar written with Python's tarfile and compressed by the zstd command, as ksnap writes them.
"""
import hashlib, io, json, os, subprocess, sys, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, '..', '..', 'samples', 'demo.ksnap')
ZERO_BLOCK = b'\0' * 512


def load_base():
    raw = subprocess.run(['zstd', '-dc', DEMO], check=True, capture_output=True).stdout
    members = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode='r:') as t:
        for ti in t.getmembers():
            members.append((ti.name, t.extractfile(ti).read()))
    return members


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Writer:
    """A zstd-compressed pax tar, written member by member (data may be a generator)."""

    def __init__(self, path):
        self.f = open(path, 'wb')
        self.z = subprocess.Popen(['zstd', '-q', '-c', '-1', '-T2'], stdin=subprocess.PIPE, stdout=self.f)

    def header(self, name, size):
        ti = tarfile.TarInfo(name)
        ti.size = size
        ti.mode = 0o440
        ti.mtime = 1764140413
        self.z.stdin.write(ti.tobuf(tarfile.PAX_FORMAT, 'utf-8', 'surrogateescape'))

    def add(self, name, data, size=None):
        if isinstance(data, bytes):
            data = [data]
        n = 0
        self.header(name, size if size is not None else sum(len(d) for d in data))
        for d in data:
            self.z.stdin.write(d)
            n += len(d)
        if n % 512:
            self.z.stdin.write(b'\0' * (512 - n % 512))

    def add_stream(self, name, size, chunks):
        self.header(name, size)
        n = 0
        for d in chunks:
            self.z.stdin.write(d)
            n += len(d)
        assert n == size
        if n % 512:
            self.z.stdin.write(b'\0' * (512 - n % 512))

    def raw(self, b):
        self.z.stdin.write(b)

    def close(self, end=True):
        if end:
            self.z.stdin.write(ZERO_BLOCK * 2)
        self.z.stdin.close()
        self.z.wait()
        self.f.close()


def manifest_of(members, edit=None):
    man = json.loads(dict(members)['manifest.json'])
    if edit:
        edit(man)
    return json.dumps(man, indent=1).encode()


def write(path, members, man=None):
    w = Writer(path)
    for name, data in members:
        w.add(name, man if (name == 'manifest.json' and man is not None) else data)
    w.close()


def repeat(unit, total):
    """total bytes made of unit repeated, in 1 MiB chunks"""
    block = unit * (max(1, (1 << 20) // len(unit)))
    left = total
    while left > 0:
        b = block[:left]
        left -= len(b)
        yield b


def big_members(path, count, size):
    """count members of about size bytes each: valid pcaps, one node, consecutive segments"""
    import struct
    eth_ip_udp = (b'\x02' * 6 + b'\x04' * 6 + b'\x08\x00' +
                  bytes([0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]) +
                  struct.pack('>HHHH', 40000, 9999, 26, 0) + b'x' * 18)
    recs = []
    nrec = (size - 24) // (16 + len(eth_ip_udp))
    t0 = 1773507600
    members = []
    for k in range(count):
        body = bytearray(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        base = t0 + k * 60
        for i in range(nrec):
            body += struct.pack('<IIII', base + i * 50 // nrec, (i * 997) % 1000000, len(eth_ip_udp), len(eth_ip_udp))
            body += eth_ip_udp
        name = 'nodes/n1/%s.pcap' % __import__('time').strftime('%Y%m%dT%H%M%S.000000000Z', __import__('time').gmtime(base))
        members.append((name, bytes(body)))
    man = {"format": "kforensics-snapshot", "version": 1, "id": "0" * 32, "created": "2026-03-14T17:00:00Z",
           "tool": "craft", "window": {"from": "2026-03-14T17:00:00Z", "to": "2026-03-14T18:00:00Z"}, "filter": None,
           "nodes": {"n1": {"first_packet": None, "last_packet": None, "packets": nrec * count, "bytes": 0,
                            "segments": [n for n, _ in members]}},
           "members": {n: {"size": len(b), "sha256": sha(b)} for n, b in members}}
    w = Writer(path)
    w.add('manifest.json', json.dumps(man).encode())
    for n, b in members:
        w.add(n, b)
    w.close()


def many_members(path, count):
    """count members of one packet each (one node, a segment per second): member k holds one UDP
    datagram 10.0.0.1:(10000 + k % 50000) -> 10.0.0.2:9999, so every member starts a flow of its
    own whose record names that member as its capture file"""
    import struct, time
    t0 = 1773507600
    members = []
    for k in range(count):
        pkt = (b'\x02' * 6 + b'\x04' * 6 + b'\x08\x00' +
               bytes([0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]) +
               struct.pack('>HHHH', 10000 + k % 50000, 9999, 26, 0) + b'x' * 18)
        body = (struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1) +
                struct.pack('<IIII', t0 + k, 0, len(pkt), len(pkt)) + pkt)
        members.append(('nodes/n1/%s.pcap' % time.strftime('%Y%m%dT%H%M%S.000000000Z', time.gmtime(t0 + k)), body))
    man = {"format": "kforensics-snapshot", "version": 1, "id": "0" * 32, "created": "2026-03-14T17:00:00Z",
           "tool": "craft", "window": {"from": "2026-03-14T17:00:00Z", "to": "2026-03-14T17:00:00Z"}, "filter": None,
           "nodes": {"n1": {"first_packet": None, "last_packet": None, "packets": count, "bytes": 0,
                            "segments": [n for n, _ in members]}},
           "members": {n: {"size": len(b), "sha256": sha(b)} for n, b in members}}
    w = Writer(path)
    w.add('manifest.json', json.dumps(man).encode())
    for n, b in members:
        w.add(n, b)
    w.close()


def main():
    if sys.argv[1] == '--many':
        many_members(sys.argv[3], int(sys.argv[2]))
        return
    out = sys.argv[1]
    bomb = 4096 << 20
    if '--bomb-mib' in sys.argv:
        bomb = int(sys.argv[sys.argv.index('--bomb-mib') + 1]) << 20
    os.makedirs(out, exist_ok=True)
    base = load_base()
    d = dict(base)
    seg = [n for n, _ in base if n.startswith('nodes/')][0]
    P = lambda n: os.path.join(out, n)

    write(P('good.ksnap'), base)
    # 1: tampered metadata (manifest kept), an unlisted member, a member twice, sizes that lie,
    #    a listed member missing, a negative size, a declared size of 2^62
    write(P('tampered-events.ksnap'), [(n, v + b'{"ts":"2026-11-26T06:56:00Z","type":"DELETED","object":{"kind":"Pod","metadata":{"name":"x","namespace":"y","uid":"u"}}}\n' if n == 'meta/events.ndjson' else v) for n, v in base])
    write(P('unlisted.ksnap'), base + [('meta/extra.ndjson', b'{}\n')])
    write(P('twice.ksnap'), base[:2] + [(seg, d[seg])] + base[2:])

    def size_delta(k):
        def e(m):
            m['members'][seg]['size'] += k
        return e
    write(P('longer-than-manifest.ksnap'), base, manifest_of(base, size_delta(-10)))
    write(P('shorter-than-manifest.ksnap'), base, manifest_of(base, size_delta(+10)))
    write(P('missing.ksnap'), [(n, v) for n, v in base if n != seg])

    def neg(m):
        m['members'][seg]['size'] = -1
    write(P('negative-size.ksnap'), base, manifest_of(base, neg))

    def huge(m):
        m['members'][seg]['size'] = 1 << 62
    w = Writer(P('declared-2e62.ksnap'))
    w.add('manifest.json', manifest_of(base, huge))
    w.header(seg, 1 << 62)
    w.raw(d[seg][:65536])
    w.close(end=False)
    # 9: member names with a newline and an escape sequence
    w = Writer(P('control-names.ksnap'))
    w.add('manifest.json', d['manifest.json'])
    w.add('nodes/worker-1/\x1b[2J\nEVIL.pcapng', d[seg])
    w.close()

    # 2: a metadata line that unpacks to `bomb` bytes; a manifest of `bomb` bytes
    head = b'{"ts":"2026-11-26T06:56:00Z","type":"ADDED","object":{"kind":"Pod","metadata":{"name":"'
    tail = b'"}}}\n'
    body = bomb - len(head) - len(tail)
    ev_chunks = lambda: [head] + list(repeat(b'a', body)) + [tail]

    def mevents(m):
        m['members']['meta/events.ndjson'] = {'size': bomb, 'sha256': '0' * 64}
    w = Writer(P('events-bomb.ksnap'))
    w.add('manifest.json', manifest_of(base, mevents))
    w.add(seg, d[seg])
    w.header('meta/events.ndjson', bomb)
    for c in [head]:
        w.raw(c)
    for c in repeat(b'a', body):
        w.raw(c)
    w.raw(tail)
    if bomb % 512:
        w.raw(b'\0' * (512 - bomb % 512))
    w.close()

    man = d['manifest.json']
    w = Writer(P('manifest-bomb.ksnap'))
    w.header('manifest.json', len(man) + bomb)
    w.raw(man)
    for c in repeat(b' ', bomb):
        w.raw(c)
    if (len(man) + bomb) % 512:
        w.raw(b'\0' * (512 - (len(man) + bomb) % 512))
    w.add(seg, d[seg])
    w.close()

    # 3: a member of `bomb` zero bytes named like a capture (not a pcap: must fail at once)
    def mzero(m):
        m['members'][seg] = {'size': bomb, 'sha256': '0' * 64}
    w = Writer(P('zero-member.ksnap'))
    w.add('manifest.json', manifest_of(base, mzero))
    w.header(seg, bomb)
    for c in repeat(b'\0', bomb):
        w.raw(c)
    w.raw(d['meta/events.ndjson'] and b'')
    w.add('meta/events.ndjson', d['meta/events.ndjson'])
    w.close()

    # 3: many large valid members (pcap of small UDP packets), to measure memory while reading
    big_members(P('big-members.ksnap'), 8, 48 << 20)

    # 8: a pcapng whose interface's if_tsoffset puts its packet 100 years before 1970
    import struct

    def blk(t, body):
        body += b'\0' * ((-len(body)) % 4)
        return struct.pack('<II', t, 12 + len(body)) + body + struct.pack('<I', 12 + len(body))
    shb = blk(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1))
    idb = blk(1, struct.pack('<HHI', 1, 0, 65535) + struct.pack('<HH', 14, 8) + struct.pack('<q', -3155760000) + b'\0' * 4)
    pkt = bytes(14) + bytes([0x45]) + bytes(45)
    ts = 1000 * 1000000
    epb = blk(6, struct.pack('<IIIII', 0, ts >> 32, ts & 0xffffffff, len(pkt), len(pkt)) + pkt)
    open(P('pre1970.pcapng'), 'wb').write(shb + idb + epb)

    # 5: a store-like metadata file with a torn line and the next event glued on, and a Pod
    #    whose metadata is an array (the writer accepted it, every reader refused the file)
    evs = d['meta/events.ndjson'].split(b'\n')
    torn = b'\n'.join(evs[:3]) + b'\n' + evs[3][: len(evs[3]) // 2] + evs[4] + b'\n' + b'\n'.join(evs[5:])
    open(P('torn-events.ndjson'), 'wb').write(torn)
    open(P('bad-pod.json'), 'wb').write(b'{"type":"ADDED","object":{"kind":"Pod","metadata":[]}}\n')


if __name__ == '__main__':
    main()
