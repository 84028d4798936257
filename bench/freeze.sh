#!/usr/bin/env bash
# bench/freeze.sh — ksnap freeze of ~1 GB of segments vs `tar --zstd -cf` on the same files,
# in the same run. Goal: freeze <= 1.2x tar. Size: KF_BENCH_MB (default 1024).
# Two freezes are timed: the whole store (segments stored as they are) and a window that cuts
# the first and last segment (those are re-written packet by packet).
set -euo pipefail
: "${KF_BIN:=$(cd "$(dirname "$0")/.." && pwd)/bin}"
MB=${KF_BENCH_MB:-1024}
W=$(mktemp -d /tmp/kf-bench-freeze.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/st/node-1"
# segments of 64 MB: pcapng, one IDB, EPBs of 60..1514 bytes; payload half random (like TLS),
# half repetitive text (like HTTP headers), one packet every 50 us
python3 - "$W/st/node-1" "$MB" <<'PY'
import os, struct, sys, random, datetime
d, mb = sys.argv[1], int(sys.argv[2])
random.seed(1)
def opt(code, val):
    pad = (4 - len(val) % 4) % 4
    return struct.pack('<HH', code, len(val)) + val + b'\0' * pad
def block(t, body):
    n = 12 + len(body)
    return struct.pack('<II', t, n) + body + struct.pack('<I', n)
shb = block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1) + opt(1, b'kforensics-node: node-1') + opt(4, b'kforensics ksnap bench') + opt(0, b''))
idb = block(1, struct.pack('<HHI', 1, 0, 262144) + opt(2, b'eth0') + opt(9, b'\x09') + opt(0, b''))
text = (b'GET /api/v1/orders?id=12345 HTTP/1.1\r\nHost: orders.shop.svc.cluster.local\r\n'
        b'User-Agent: curl/8.5\r\nAccept: */*\r\nX-Request-Id: 5f1c2a\r\n\r\n') * 20
rnd = os.urandom(1 << 20)
hdr = bytes.fromhex('020000000002020000000001080045000000000040000640000a0000050a000064')
t0 = int(datetime.datetime(2026, 3, 14, 17, 0, tzinfo=datetime.timezone.utc).timestamp()) * 10**9
seg, t, left = 64 << 20, t0, mb << 20
while left > 0:
    name = datetime.datetime.fromtimestamp(t // 10**9, datetime.timezone.utc).strftime('%Y%m%dT%H%M%S') + '.%09dZ.pcapng' % (t % 10**9)
    out = [shb, idb]; size = len(shb) + len(idb); i = 0
    while size < min(seg, left):
        L = random.choice((60, 66, 120, 583, 1514, 1514))
        src = rnd if i % 2 else text
        off = (i * 1499) % (len(src) - 1600)
        data = hdr + src[off:off + L - len(hdr)]
        pad = (4 - len(data) % 4) % 4
        b = block(6, struct.pack('<IIIII', 0, t >> 32, t & 0xffffffff, len(data), len(data)) + data + b'\0' * pad)
        out.append(b); size += len(b); t += 50000; i += 1
    open(os.path.join(d, name), 'wb').write(b''.join(out))
    left -= size
PY
total=$(du -sb "$W/st/node-1" | cut -f1)
cat "$W"/st/node-1/* > /dev/null   # warm the page cache for both
# elapsed and CPU (user+sys, children included): on a shared machine the CPU time is the
# steadier number; each is measured RUNS times (default 3), the best kept
RUNS=${KF_BENCH_RUNS:-3}
best() { sort -n | head -1; }
measure() { # label cmd...
  local i out e c
  : > "$W/$1.e"; : > "$W/$1.c"
  for i in $(seq "$RUNS"); do
    rm -f "$W/out.$1"
    /usr/bin/time -o "$W/time" -f "%e %U %S" "${@:2}" "$W/out.$1" >/dev/null 2>&1
    out=$(tail -1 "$W/time")
    echo "$out" | awk '{print $1}' >> "$W/$1.e"
    echo "$out" | awk '{print $2 + $3}' >> "$W/$1.c"
  done
  printf '%s %s\n' "$(best < "$W/$1.e")" "$(best < "$W/$1.c")"
}
run_tar() { (cd "$W/st" && tar --zstd -cf "$1" node-1); }
run_frz() { "$KF_BIN/ksnap" freeze --dir "$W/st" --from 2026-03-14T00:00:00Z --to 2026-03-15T00:00:00Z -o "$1"; }
run_cut() { "$KF_BIN/ksnap" freeze --dir "$W/st" --from 2026-03-14T17:00:01Z --to 2026-03-14T17:59:00Z -o "$1"; }
export -f run_tar run_frz run_cut; export W KF_BIN
read -r te tc < <(measure tar bash -c 'run_tar "$0"')
read -r fe fc < <(measure frz bash -c 'run_frz "$0"')
read -r ce cc < <(measure cut bash -c 'run_cut "$0"')
printf 'data      %d MB in %d segments (load average %s)\n' $((total >> 20)) "$(ls "$W/st/node-1" | wc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
printf 'tar --zstd -cf           %6.2f s elapsed  %6.2f s CPU\n' "$te" "$tc"
printf 'ksnap freeze (whole)     %6.2f s elapsed  %6.2f s CPU\n' "$fe" "$fc"
printf 'ksnap freeze (cut ends)  %6.2f s elapsed  %6.2f s CPU\n' "$ce" "$cc"
printf 'ratio freeze/tar: elapsed %.2f, CPU %.2f (goal <= 1.2); cut window: elapsed %.2f, CPU %.2f\n' \
  "$(echo "$fe / $te" | bc -l)" "$(echo "$fc / $tc" | bc -l)" "$(echo "$ce / $te" | bc -l)" "$(echo "$cc / $tc" | bc -l)"
