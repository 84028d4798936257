#!/usr/bin/env bash
# bench/export.sh — kexport against tcpdump, in one run.
#  1. full scan with a BPF filter over a several-hundred-MB capture:
#       tcpdump -r F -w out FILTER    vs   kexport -F pcap -f FILTER F -o out   (and pcapng)
#     both outputs must hold the same packets; prints MB/s and the ratio (goal: kexport >= 1x).
#  2. a 1-minute window over a store of 60 one-minute segments vs the full scan of that store:
#     the window must open only the segments that overlap it (counted with strace) and cost at
#     most 1/20 of the full scan.
# Makes bench/data/export-<MB>MB.pcap and bench/data/export-store-<MB>MB/ (reused when present).
# Env: KF_BIN (default ./bin), KF_BENCH_MB (capture size, default 400; 50 for a quick run),
#      KF_BENCH_RUNS (best of N, default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${KF_BIN:-$PWD/bin}
MB=${KF_BENCH_MB:-400}
RUNS=${KF_BENCH_RUNS:-3}
DATA=bench/data/export-${MB}MB.pcap
STORE=bench/data/export-store-${MB}MB
FILTER='tcp port 443 and greater 600'
mkdir -p bench/data
[ -x "$BIN/kexport" ] || { echo "bench/export.sh: $BIN/kexport not built (make tools)" >&2; exit 2; }
command -v tcpdump >/dev/null || { echo "bench/export.sh: tcpdump is not installed" >&2; exit 2; }

if [ ! -s "$DATA" ] || [ ! -d "$STORE/node-1" ]; then
  echo "generating $DATA and $STORE (${MB} MB each, 60 minutes of traffic)…" >&2
  rm -rf "$STORE"
  python3 - "$DATA.tmp" "$STORE" "$MB" <<'PY'
import os, random, struct, sys, time
out, store, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
random.seed(11)
T0 = 1773507600                      # 2026-03-14T17:00:00Z
target = mb * 1024 * 1024
# packets of a realistic mix: HTTPS (443), HTTP (8080), DNS, redis, postgres; sizes 60..1514
ports = [443] * 5 + [8080] * 3 + [53] * 2 + [6379, 5432]
payload = bytes(random.getrandbits(8) for _ in range(1500))
def frame(i):
    dport = random.choice(ports)
    n = random.choice((0, 0, 40, 120, 400, 900, 1448, 1448)) if dport != 53 else random.randrange(30, 200)
    src = bytes((10, 0, random.randrange(8), random.randrange(1, 255)))
    dst = bytes((10, 1, random.randrange(8), random.randrange(1, 255)))
    if dport == 53:
        l4 = struct.pack('!HHHH', 30000 + i % 30000, 53, 8 + n, 0) + payload[:n]; proto = 17
    else:
        l4 = struct.pack('!HHIIBBHHH', 30000 + i % 30000, dport, i, 7, 0x50, 0x18, 65535, 0, 0) + payload[:n]; proto = 6
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), i & 0xffff, 0x4000, 64, proto, 0, src, dst)
    return b'\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00' + ip + l4
# a pool of frames reused (generation speed), timestamps spread evenly over 60 minutes
pool = [frame(i) for i in range(4096)]
avg = sum(len(f) for f in pool) / len(pool) + 16
npk = int(target / avg)
step = 3600 * 10**9 // npk
os.makedirs(os.path.join(store, 'node-1'), exist_ok=True)
def blk(t, body): return struct.pack('<II', t, 12 + len(body)) + body + struct.pack('<I', 12 + len(body))
def opt(c, v): return struct.pack('<HH', c, len(v)) + v + b'\0' * ((4 - len(v) % 4) % 4)
shb = blk(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1) + opt(1, b'kforensics-node: node-1') + opt(0, b''))
idb = blk(1, struct.pack('<HHI', 1, 0, 262144) + opt(2, b'eth0') + opt(9, b'\x09') + opt(0, b''))
seg = None; segmin = -1
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b23c4d, 2, 4, 0, 0, 262144, 1))   # ns pcap
    buf, sbuf = [], []
    for i in range(npk):
        ns = T0 * 10**9 + i * step
        fr = pool[i % len(pool)]
        buf.append(struct.pack('<IIII', ns // 10**9, ns % 10**9, len(fr), len(fr)) + fr)
        m = (ns // 10**9 - T0) // 60
        if m != segmin:
            if seg: seg.write(b''.join(sbuf)); sbuf = []; seg.close()
            segmin = m
            name = time.strftime('%Y%m%dT%H%M%S', time.gmtime(T0 + 60 * m)) + '.000000000Z.pcapng'
            seg = open(os.path.join(store, 'node-1', name), 'wb'); seg.write(shb + idb)
        pad = (4 - len(fr) % 4) % 4
        sbuf.append(blk(6, struct.pack('<IIIII', 0, ns >> 32, ns & 0xffffffff, len(fr), len(fr)) + fr + b'\0' * pad))
        if len(buf) >= 4096:
            f.write(b''.join(buf)); buf = []
            seg.write(b''.join(sbuf)); sbuf = []
    f.write(b''.join(buf)); seg.write(b''.join(sbuf)); seg.close()
PY
  mv "$DATA.tmp" "$DATA"
fi

size=$(stat -c %s "$DATA")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat "$DATA" "$STORE"/node-1/* > /dev/null          # warm the page cache for both sides

# best of RUNS runs of "$@" by wall time: prints "wall cpu" (cpu = user + system seconds)
best() {
  local b="" bc="" w u s
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %U %S' -o "$W/time" "$@" >/dev/null 2>&1 || true
    read -r w u s < <(tail -1 "$W/time")
    if [ -z "$b" ] || [ "$(echo "$w < $b" | bc -l)" = 1 ]; then b=$w; bc=$(echo "$u + $s" | bc -l); fi
  done
  echo "$b $bc"
}
# best of RUNS for a command writing standard output into a file
best_stdout() { # out cmd...
  local o=$1; shift
  best bash -c '"$@" > "$0"' "$o" "$@"
}
mbs() { echo "scale=1; $size / 1048576 / $1" | bc -l; }
line() { # label wall cpu [ref_wall ref_cpu]
  if [ $# -gt 3 ]; then
    printf '  %-34s %6.2f s wall %7s MB/s  %5.2f s cpu   ratio %.2fx wall, %.2fx cpu\n' "$1" "$2" "$(mbs "$2")" "$3" \
      "$(echo "$4 / $2" | bc -l)" "$(echo "$5 / $3" | bc -l)"
  else
    printf '  %-34s %6.2f s wall %7s MB/s  %5.2f s cpu\n' "$1" "$2" "$(mbs "$2")" "$3"
  fi
}

echo "== full scan, -f '$FILTER', $((size / 1048576)) MB capture, best of $RUNS (ratio > 1: kexport faster)"
read -r t_td c_td < <(best tcpdump -r "$DATA" -w "$W/td.pcap" "$FILTER")
read -r t_kp c_kp < <(best "$BIN/kexport" -F pcap -f "$FILTER" "$DATA" -o "$W/kx.pcap")
read -r t_ks c_ks < <(best_stdout "$W/kxs.pcap" "$BIN/kexport" -F pcap -f "$FILTER" "$DATA")
read -r t_kn c_kn < <(best "$BIN/kexport" -f "$FILTER" "$DATA" -o "$W/kx.pcapng")
n_td=$(tcpdump -n -r "$W/td.pcap" 2>/dev/null | wc -l)
n_kx=$(tcpdump -n -r "$W/kx.pcapng" 2>/dev/null | wc -l)
[ "$n_td" = "$n_kx" ] || { echo "MISMATCH: tcpdump wrote $n_td packets, kexport $n_kx" >&2; exit 1; }
cmp -s <(tail -c +25 "$W/td.pcap") <(tcpdump -r "$W/kxs.pcap" -w - 2>/dev/null | tail -c +25) ||
  { echo "MISMATCH: kexport's packets differ from tcpdump's" >&2; exit 1; }
line "tcpdump -r F -w out" "$t_td" "$c_td"
echo "    ($n_td packets written; the same bytes from kexport)"
line "kexport -F pcap -o out (fsync)" "$t_kp" "$c_kp" "$t_td" "$c_td"
line "kexport -F pcap > out" "$t_ks" "$c_ks" "$t_td" "$c_td"
line "kexport -o out.pcapng (fsync)" "$t_kn" "$c_kn" "$t_td" "$c_td"

echo "== store of 60 one-minute segments: a 1-minute window vs the full scan"
FROM=2026-03-14T17:30:00Z TO=2026-03-14T17:30:59.999999999Z
read -r t_full c_full < <(best "$BIN/kexport" -F pcap -f "$FILTER" "$STORE" -o "$W/full.pcap")
read -r t_win c_win < <(best "$BIN/kexport" -F pcap -f "$FILTER" --from $FROM --to $TO "$STORE" -o "$W/win.pcap")
strace -f -e trace=openat -o "$W/strace" "$BIN/kexport" -F pcap -f "$FILTER" --from $FROM --to $TO "$STORE" -o "$W/win2.pcap" 2>/dev/null || true
segs=$(grep -v ENOENT "$W/strace" | grep -o '[0-9T.]*Z\.pcapng' | sort -u | tr '\n' ' ')
opened=$(wc -w <<<"$segs")
n_win=$(tcpdump -n -r "$W/win.pcap" 2>/dev/null | wc -l)
printf '  full scan (60 segments)  %6.3f s wall  %6.3f s cpu\n' "$t_full" "$c_full"
printf '  window (1 minute)        %6.3f s wall  %6.3f s cpu  = 1/%.0f (wall), 1/%.0f (cpu) of the full scan\n' \
  "$t_win" "$c_win" "$(echo "$t_full / $t_win" | bc -l)" "$(echo "$c_full / ($c_win + 0.005)" | bc -l)"
printf '  segments opened by the window: %s of 60 (%s); %s packets written\n' "$opened" "$segs" "$n_win"
ok=$(echo "$t_win * 20 <= $t_full" | bc -l)
[ "$ok" = 1 ] && echo "  goal (window <= 1/20 of the full scan, wall): met" || echo "  goal (window <= 1/20 of the full scan, wall): NOT met"
[ "$opened" -le 2 ] || echo "  segments outside the window were opened"
