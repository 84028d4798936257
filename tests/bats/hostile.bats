#!/usr/bin/env bats
# Hostile input (issue 21): crafted snapshots and files (tests/hostile/craft.py: python3 tarfile
# and the zstd command, none of our code; bombs are generated here, never committed) through
# every tool under a memory limit and a timeout (tests/hostile/hostile.bash: one-line errors,
# exit codes, nothing left behind, nothing written outside the output path).
load helpers
load ../hostile/hostile

setup_file() {
  load ../hostile/hostile
  hostile_craft
}
setup() { hostile_craft; }

merge_refuses() { # crafted-name what-stderr-says
  hrun 4 "$KF_BIN/ksnap" merge "$C/$1.ksnap" -o out.ksnap
  [[ "$err" == *"$2"* ]] || { echo "stderr: $err"; return 1; }
  [ ! -e "$W/out.ksnap" ]
}

@test "merge: verifies every member of every input, refuses (exit 4) and writes nothing" {
  hrun 0 --out out.ksnap "$KF_BIN/ksnap" merge "$C/good.ksnap" -o out.ksnap
  "$KF_BIN/ksnap" verify -q "$W/out.ksnap"
  merge_refuses tampered-events "member 'meta/events.ndjson': size 14159 in the archive, manifest says 14038"
  merge_refuses unlisted "member 'meta/extra.ndjson': not in the manifest"
  merge_refuses twice "appears twice"
  merge_refuses longer-than-manifest "manifest says 221506"
  merge_refuses shorter-than-manifest "manifest says 221526"
  merge_refuses missing "missing from the archive"
  merge_refuses negative-size "bad entry"
  merge_refuses events-bomb "member 'meta/events.ndjson'"
  merge_refuses zero-member "sha256 mismatch"
  merge_refuses manifest-bomb "(limit KF_MAX_MANIFEST)"
}

@test "merge: tampered metadata of the same size is caught by its sha256" {
  python3 - "$C/good.ksnap" "$BATS_TEST_TMPDIR/same-size.ksnap" <<'PY'
import io, subprocess, sys, tarfile
raw = subprocess.run(['zstd', '-dc', sys.argv[1]], check=True, capture_output=True).stdout
src = tarfile.open(fileobj=io.BytesIO(raw))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as dst:
    for ti in src.getmembers():
        data = src.extractfile(ti).read()
        if ti.name == 'meta/events.ndjson':
            data = data.replace(b'"ADDED"', b'"XDDED"', 1)
        dst.addfile(ti, io.BytesIO(data))
open(sys.argv[2], 'wb').write(subprocess.run(['zstd', '-q', '-c'], input=buf.getvalue(), check=True, capture_output=True).stdout)
PY
  run "$KF_BIN/ksnap" verify "$BATS_TEST_TMPDIR/same-size.ksnap"
  assert_failure 4
  hrun 4 "$KF_BIN/ksnap" merge "$BATS_TEST_TMPDIR/same-size.ksnap" -o out.ksnap
  [[ "$err" == *"member 'meta/events.ndjson': sha256 mismatch"* ]]
}

@test "merge: a declared size of 2^62 fails at once (no padding for ever)" {
  hrun 4 "$KF_BIN/ksnap" merge "$C/declared-2e62.ksnap" -o out.ksnap
  [ ! -e "$W/out.ksnap" ]
}

@test "verify, info: a manifest bomb stops at KF_MAX_MANIFEST in bounded memory" {
  hrun 4 "$KF_BIN/ksnap" verify "$C/manifest-bomb.ksnap"
  [[ "$err" == *"(limit KF_MAX_MANIFEST)"* ]]
  hrun 2 "$KF_BIN/ksnap" info "$C/manifest-bomb.ksnap"
  [[ "$err" == *"(limit KF_MAX_MANIFEST)"* ]]
  KF_MAX_MANIFEST=1K hrun 4 "$KF_BIN/ksnap" verify "$C/good.ksnap"
  [[ "$err" == *"more than 1 KiB (limit KF_MAX_MANIFEST)"* ]]
}

@test "messages: control characters of member names are escaped, one line" {
  hrun 4 "$KF_BIN/ksnap" verify "$C/control-names.ksnap"
  [[ "$err" == *'\x1b[2J\nEVIL.pcapng'* ]]
  hrun 4 "$KF_BIN/ksnap" merge "$C/control-names.ksnap" -o out.ksnap
  [[ "$err" == *'\x1b[2J\nEVIL.pcapng'* ]]
}

# a tool stopped by SIGINT/TERM/HUP while writing leaves no temporary file beside its output
signal_leaves_nothing() { # signal cmd...
  local sig=$1; shift
  local d=$BATS_TEST_TMPDIR/sig.$sig
  rm -rf "$d"; mkdir -p "$d"
  ( cd "$d" && exec "$@" ) 2>/dev/null &
  local pid=$! i
  for i in $(seq 1 200); do ls -A "$d" | grep -q '\.tmp\.' && break; sleep 0.05; done
  ls -A "$d" | grep -q '\.tmp\.' || { echo "no temporary file appeared"; return 1; }
  kill -"$sig" "$pid"; wait "$pid" || true
  [ -z "$(ls -A "$d")" ] || { echo "left behind after SIG$sig: $(ls -A "$d")"; return 1; }
}

@test "signals: kexport -o and ksnap merge remove their temporary files on INT, TERM, HUP" {
  for sig in INT TERM HUP; do
    mkfifo "$BATS_TEST_TMPDIR/slow.$sig"   # one each: a killed reader leaves the writer's rest
    # kexport reads a pcap from a FIFO that gives 23 MB of packets (more than the reader buffers) and then waits: the output is open
    ( python3 -c 'import sys,struct,time
o = sys.stdout.buffer
o.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
pkt = bytes(14) + bytes([0x45]) + bytes(45)
o.write(b"".join(struct.pack("<IIII", 1773507600 + i // 1000, i % 1000, 60, 60) + pkt for i in range(300000)))
o.flush(); time.sleep(15)' > "$BATS_TEST_TMPDIR/slow.$sig" & )
    signal_leaves_nothing $sig "$KF_BIN/kexport" "$BATS_TEST_TMPDIR/slow.$sig" -o out.pcapng
  done
  # a large member makes merge and freeze take long enough to be stopped while writing
  python3 - "$BATS_TEST_TMPDIR/big.ksnap" <<'PY'
import hashlib, io, json, os, subprocess, sys, tarfile
n = 600 << 20
data_sha = hashlib.sha256()
chunk = os.urandom(1 << 20)
for i in range(n >> 20): data_sha.update(chunk)
man = {"format": "kforensics-snapshot", "version": 1, "id": "0"*32, "created": "2026-03-14T17:00:00Z",
       "tool": "test", "window": {"from": "2026-03-14T17:00:00Z", "to": "2026-03-14T17:01:00Z"}, "filter": None,
       "nodes": {"n1": {"first_packet": None, "last_packet": None, "packets": 0, "bytes": 0, "segments": ["nodes/n1/20260314T170000.000000000Z.pcapng"]}},
       "members": {"nodes/n1/20260314T170000.000000000Z.pcapng": {"size": n, "sha256": data_sha.hexdigest()}}}
z = subprocess.Popen(['zstd', '-q', '-c', '-1', '-T2'], stdin=subprocess.PIPE, stdout=open(sys.argv[1], 'wb'))
def add(name, size):
    ti = tarfile.TarInfo(name); ti.size = size; ti.mode = 0o440
    z.stdin.write(ti.tobuf(tarfile.PAX_FORMAT))
mb = json.dumps(man).encode()
add('manifest.json', len(mb)); z.stdin.write(mb + b'\0' * (-len(mb) % 512))
add('nodes/n1/20260314T170000.000000000Z.pcapng', n)
for i in range(n >> 20): z.stdin.write(chunk)
z.stdin.write(b'\0' * 1024); z.stdin.close(); z.wait()
PY
  for sig in INT TERM HUP; do
    signal_leaves_nothing $sig "$KF_BIN/ksnap" merge "$BATS_TEST_TMPDIR/big.ksnap" -o out.ksnap
  done
}

@test "signals: ksnap freeze removes its temporary files on INT, TERM, HUP" {
  # a store of one 8 MiB segment of random packets, compressed at zstd level 19 on one thread:
  # seconds of work (the temporary archive beside the output exists all that time)
  python3 - "$BATS_TEST_TMPDIR/st" <<'PY'
import calendar, os, struct, sys
d = sys.argv[1] + '/n1'
os.makedirs(d, exist_ok=True)
p = d + '/20260314T170000.000000000Z.pcapng'
def blk(t, body):
    body += b'\0' * (-len(body) % 4)
    return struct.pack('<II', t, 12 + len(body)) + body + struct.pack('<I', 12 + len(body))
t0 = calendar.timegm((2026, 3, 14, 17, 0, 0))
udp = bytes(12) + b'\x08\x00' + bytes([0x45, 0, 0x23, 0x1c, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]) + struct.pack('>HHHH', 40000, 9999, 9008, 0)
with open(p, 'wb') as f:
    f.write(blk(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1)))
    f.write(blk(1, struct.pack('<HHI', 1, 0, 65535)))
    for i in range(932):   # 8 MiB of 9000-byte payloads, one a millisecond (microsecond stamps)
        pkt = udp + os.urandom(9000)
        ts = t0 * 1000000 + i * 1000
        f.write(blk(6, struct.pack('<IIIII', 0, ts >> 32, ts & 0xffffffff, len(pkt), len(pkt)) + pkt))
os.utime(p, (t0 + 600, t0 + 600))   # closed at 17:10: taken whole into the window
PY
  for sig in INT TERM HUP; do
    local td=$BATS_TEST_TMPDIR/tmp.$sig
    mkdir -p "$td"
    TMPDIR=$td signal_leaves_nothing $sig "$KF_BIN/ksnap" freeze --dir "$BATS_TEST_TMPDIR/st" \
      --from 2026-03-14T17:00:00Z --to 2026-03-14T18:00:00Z --level 19 -j 1 -o out.ksnap
    [ -z "$(ls -A "$td")" ] || { echo "left in TMPDIR after SIG$sig: $(ls -A "$td")"; return 1; }
  done
  # the same freeze left alone completes (what the signal interrupted was real work)
  run "$KF_BIN/ksnap" freeze --dir "$BATS_TEST_TMPDIR/st" --from 2026-03-14T17:00:00Z --to 2026-03-14T18:00:00Z -o "$BATS_TEST_TMPDIR/whole.ksnap"
  assert_success
  run "$KF_BIN/ksnap" verify "$BATS_TEST_TMPDIR/whole.ksnap"
  assert_output --partial "OK, 2 members verified"
}

@test "kfl matches(): RE2 semantics (Python re as the oracle) in linear time on backtracking bombs" {
  run timeout 300 python3 "$KF_ROOT/tests/kfl/regex_oracle.py" "$KF_BIN/kfl" 400
  echo "$output" | tail -20
  assert_success
}

@test "time: a pasted UTC date beyond int64 nanoseconds is refused, not wrapped" {
  run env TZ=Asia/Kolkata "$KF_BIN/kexport" "$SAMPLES/node-worker-1-pods.pcapng" --from '2026-03-15 01:00:00 IST (1013-03-14 19:30:00 UTC)' -o "$BATS_TEST_TMPDIR/x.pcapng"
  assert_failure 2
  [[ "${lines[0]}" == *"bad time"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/x.pcapng" ]
}

@test "snapshots are read as streams: 8 members of 48 MB in bounded memory, a GiB of zeros fails at once" {
  for t in kdissect "kexport -o out.pcap"; do
    # (held in memory before: 400 MB RSS for kdissect and kexport)
    KF_HOSTILE_AS=$((256 << 20)) hrun 0 --out out.pcap "$KF_BIN/"$t "$C/big-members.ksnap"
  done
  [ "$(echo "$output" | wc -l)" -ge 1 ]
  # a member of zeros named like a capture: refused at its first bytes, nothing spilled to disk
  for t in kdissect "kexport -o out.pcap"; do
    KF_HOSTILE_FSIZE=$((1 << 20)) hrun 2 "$KF_BIN/"$t "$C/zero-member.ksnap"
    [[ "$err" == *"not a pcap or pcapng file"* ]]
  done
}

@test "metadata bombs: a snapshot's events line of a GiB is cut at KF_MAX_META_VALUE, packets still read" {
  KF_HOSTILE_AS=$((384 << 20)) hrun 0 "$KF_BIN/kdissect" "$C/events-bomb.ksnap"
  [[ "$err" == *"(limit KF_MAX_META_VALUE)"* ]]
  [ -n "$output" ]
  KF_HOSTILE_AS=$((384 << 20)) hrun 0 --out out.pcapng "$KF_BIN/kexport" --names "$C/events-bomb.ksnap" -o out.pcapng
  [[ "$err" == *"(limit KF_MAX_META_VALUE)"* ]]
  KF_HOSTILE_AS=$((384 << 20)) hrun 4 "$KF_BIN/ksnap" merge "$C/events-bomb.ksnap" -o out.ksnap
}

@test "readers of /dev/zero stop at once with one line naming what they hit (they grew without end)" {
  hrun 2 "$KF_BIN/kresolve" workloads /dev/zero
  [[ "$err" == *"NUL byte"* ]]
  hrun 2 "$KF_BIN/kresolve" workloads --name x /dev/zero
  hrun 2 "$KF_BIN/kdissect" --meta /dev/zero "$SAMPLES/node-worker-1-pods.pcapng"
  mkdir -p "$BATS_TEST_TMPDIR/st"
  hrun 2 "$KF_BIN/ksnap" meta import --dir "$BATS_TEST_TMPDIR/st" /dev/zero
  hrun 2 "$KF_BIN/kexport" "$SAMPLES/node-worker-1-pods.pcapng" --calls /dev/zero -o out.pcapng
  [[ "$err" == *"/dev/zero:1: a NUL byte"* ]]
  hrun 2 "$KF_BIN/kfl" true /dev/zero
  # a line without end: stopped at KF_MAX_LINE
  KF_MAX_LINE=1M hrun 2 sh -c "tr '\\0' a < /dev/zero | '$KF_BIN/kfl' true"
  [[ "$err" == *"(limit KF_MAX_LINE)"* ]]
  # kstat reads through the same line reader (tools/common/kf_lines.c)
  hrun 2 "$KF_BIN/kstat" /dev/zero
  [[ "$err" == *"/dev/zero:1: a NUL byte"* ]]
  KF_MAX_LINE=1M hrun 2 sh -c "tr '\\0' a < /dev/zero | '$KF_BIN/kstat'"
  [[ "$err" == *"(limit KF_MAX_LINE)"* ]]
  # the lines before a NUL byte are read, and the message names the line that holds it
  hrun 2 sh -c "printf '{\"a\":1}\\n{\"b\":2}\\n\\0\\n' | '$KF_BIN/kfl' true"
  [ "$output" = $'{"a":1}\n{"b":2}' ]
  [[ "$err" == *"(standard input):3: a NUL byte"* ]]
}

@test "kfl: a long line through a pipe is searched once (200 MB: 85 s before)" {
  python3 -c "import json,sys; sys.stdout.write(json.dumps({'http':True,'url':'a'*60000000})+'\n')" > "$BATS_TEST_TMPDIR/long.ndjson"
  KF_HOSTILE_TIMEOUT=15 hrun 0 sh -c "cat '$BATS_TEST_TMPDIR/long.ndjson' | '$KF_BIN/kfl' http | wc -c"
  [ "$output" -eq 60000026 ]
}

@test "kresolve: a directory that is no store is bad input (exit 2, said), not 'nothing found'" {
  mkdir -p "$BATS_TEST_TMPDIR/NOT_A_STORE"
  hrun 2 "$KF_BIN/kresolve" workloads "$BATS_TEST_TMPDIR/NOT_A_STORE"
  [[ "$err" == *"not a capture store"* ]]
}

@test "metadata writers: whole lines only on a failed write, nothing readers refuse; readers skip a bad line" {
  local st=$BATS_TEST_TMPDIR/st
  mkdir -p "$st"
  # the file size limit makes a write fail half-way, as a full disk does (SIGXFSZ ignored: EFBIG)
  run bash -c "trap '' XFSZ; prlimit --fsize=3000 '$KF_BIN/ksnap' meta record --dir '$st' < '$SAMPLES/meta-events.ndjson'"
  assert_failure 3
  python3 -c "
import glob, json, sys
n = 0
for f in glob.glob(sys.argv[1] + '/meta/*.ndjson*'):
    data = open(f, 'rb').read()
    assert data == b'' or data.endswith(b'\n'), f + ': ends in a torn line'
    for l in data.splitlines():
        json.loads(l); n += 1
assert n > 0
" "$st"
  # a Pod whose metadata is an array: refused by the writers, not stored
  run "$KF_BIN/ksnap" meta record --dir "$st" < "$C/bad-pod.json"
  [[ "$output" == *"metadata is not an object; not stored"* ]]
  ! grep -q '"spec":{},"status":{}' "$st"/meta/*
  run "$KF_BIN/ksnap" meta import --dir "$st" "$C/bad-pod.json"
  assert_failure 2
  # a torn line with the next event glued on: readers warn, keep the rest, exit 0
  hrun 0 "$KF_BIN/kresolve" workloads "$C/torn-events.ndjson"
  [[ "$err" == *"skipped; the rest is kept"* ]]
  [ "$(echo "$output" | wc -l)" -ge 3 ]
  hrun 0 "$KF_BIN/kdissect" --meta "$C/torn-events.ndjson" "$SAMPLES/node-worker-1-pods.pcapng"
  [[ "$err" == *"skipped; the rest is kept"* ]]
}

@test "kexport: a time stamp before 1970 in the input is bad input (exit 2, naming the input), not an I/O error" {
  hrun 2 "$KF_BIN/kexport" "$C/pre1970.pcapng" -o out.pcapng
  [[ "$err" == *"pre1970.pcapng: frame 1: time stamp before 1970"* ]]
  [ ! -e "$W/out.pcapng" ]
}

cpu_seconds() { # command... -> its user+sys CPU seconds
  /usr/bin/time -o "$BATS_TEST_TMPDIR/time" -f '%U %S' "$@" > /dev/null 2>&1
  awk '{ print $1 + $2 }' "$BATS_TEST_TMPDIR/time"
}

@test "snapshots of 100 000 members: names interned by hash (kdissect took 85 s, quadratic), each record names its member" {
  # generated here (tests/hostile/craft.py --many): member k holds one datagram of a flow of its own
  python3 "$KF_ROOT/tests/hostile/craft.py" --many 25000 "$BATS_TEST_TMPDIR/m25k.ksnap"
  python3 "$KF_ROOT/tests/hostile/craft.py" --many 100000 "$BATS_TEST_TMPDIR/m100k.ksnap"
  # 20 s each (kdissect took 85 s before); an ASan build opens and closes 100 000 readers at
  # about 0.4 ms each (kexport: 40 s), so 150 s there: the CPU ratio below still sees a square
  local t=20
  if hostile_asan; then t=150; fi
  KF_HOSTILE_TIMEOUT=$t hrun 0 "$KF_BIN/ksnap" verify "$BATS_TEST_TMPDIR/m100k.ksnap"
  KF_HOSTILE_TIMEOUT=$t hrun 0 --out out.pcapng "$KF_BIN/kexport" "$BATS_TEST_TMPDIR/m100k.ksnap" -o out.pcapng
  [ "$(tcpdump -qnr "$W/out.pcapng" 2>/dev/null | wc -l)" -eq 100000 ]   # tcpdump as the oracle
  KF_HOSTILE_TIMEOUT=$t hrun 0 "$KF_BIN/kdissect" -j 2 "$BATS_TEST_TMPDIR/m100k.ksnap"
  KF_HOSTILE_TIMEOUT=$t hrun 0 "$KF_BIN/kdissect" "$BATS_TEST_TMPDIR/m100k.ksnap"
  # every member's datagram is a connection whose record names that member (by its time stamp)
  run jq -s 'map(select(.conn)) | [length, (map(.capture.file) | unique | length),
      (map(select((.capture.file | sub(".*/"; "") | sub("\\.pcap$"; "")) != (.capture.first_ts | gsub("[-:]"; "")))) | length)]
      | map(tostring) | join(" ")' -r "$W.out"   # (hrun's $output is cut at 100 KB)
  assert_output "100000 100000 0"
  # 4x the members costs about 4x the CPU, not 16x
  local a b
  a=$(cpu_seconds "$KF_BIN/kdissect" "$BATS_TEST_TMPDIR/m25k.ksnap")
  b=$(cpu_seconds "$KF_BIN/kdissect" "$BATS_TEST_TMPDIR/m100k.ksnap")
  echo "# kdissect CPU: 25k members ${a}s, 100k ${b}s" >&3
  awk -v a="$a" -v b="$b" 'BEGIN { exit !(b < 8 * (a > 0.1 ? a : 0.1)) }'
}
