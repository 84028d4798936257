#!/usr/bin/env python3
"""Prints the data of every TLS key log DSB (pcapng block 0x0A, secrets type 0x544c534b) of a
pcapng file: an independent reader, for the tests."""
import struct, sys
d = open(sys.argv[1], 'rb').read()
off, end = 0, '<'
while off + 12 <= len(d):
    t = struct.unpack('<I', d[off:off + 4])[0]
    if t == 0x0A0D0D0A:
        end = '<' if d[off + 8:off + 12] == b'\x4d\x3c\x2b\x1a' else '>'
    blen = struct.unpack(end + 'I', d[off + 4:off + 8])[0]
    if blen < 12: break
    if t == 0x0A or struct.unpack(end + 'I', d[off:off + 4])[0] == 0x0A:
        stype, slen = struct.unpack(end + 'II', d[off + 8:off + 16])
        if stype == 0x544c534b:
            sys.stdout.buffer.write(d[off + 16:off + 16 + slen])
    off += blen
