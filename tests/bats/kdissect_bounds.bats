#!/usr/bin/env bats
# kdissect on hostile shapes of input (issue 21): linear time in the number of flows, bounded
# memory with -j, timestamps anywhere in int64. Captures are generated (tests/kdissect/mkcap.py).
load helpers

KD() { "$KF_BIN/kdissect" "$@"; }
MK=$KF_ROOT/tests/kdissect/mkcap.py

setup() { TMP=$(mktemp -d); }
teardown() { rm -rf "$TMP"; }

cpu() { # command... -> user+sys CPU seconds (best of 2)
  local best="" t
  for _ in 1 2; do
    /usr/bin/time -o "$TMP/time" -f '%U %S' "$@" > /dev/null 2>&1
    # a command that failed or timed out gets a line saying so before the times: 999 s
    t=$(awk 'NR > 1 { bad = 1 } { t = $1 + $2 } END { print bad ? 999 : t }' "$TMP/time")
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
  done
  echo "$best"
}

@test "kdissect: the flow table grows: 4x the distinct SYNs costs ~4x the time, not 16x" {
  python3 "$MK" syns 50000 "$TMP/a.pcap"
  python3 "$MK" syns 200000 "$TMP/b.pcap"
  # every SYN is a connection of its own with its flow
  run bash -c "'$KF_BIN/kdissect' '$TMP/b.pcap' | jq -r 'if .conn then \"conn\" else \"flow\" end' | sort | uniq -c | awk '{ print \$2, \$1 }'"
  assert_success
  assert_output $'conn 200000\nflow 200000'
  a=$(cpu "$KF_BIN/kdissect" "$TMP/a.pcap")
  b=$(cpu "$KF_BIN/kdissect" "$TMP/b.pcap")
  echo "# 50k SYNs: ${a}s, 200k: ${b}s" >&3
  # 1024 fixed buckets: ratio 8.8 (quadratic part); growing table: ~5 (records, heap log n)
  awk -v a="$a" -v b="$b" 'BEGIN { exit !(b < 6.5 * (a > 0.05 ? a : 0.05)) }'
}

@test "kdissect: capture time going backwards at every new connection costs ~n log n, not n^2; conn records in time order" {
  python3 "$MK" back-in-time 7500 "$TMP/a.pcap"
  python3 "$MK" back-in-time 30000 "$TMP/b.pcap"
  # the oracle reads the capture itself: a TCP connection per client address and port, its
  # first packet's time; conn records come oldest first, those of the same instant in capture order
  cat > "$TMP/oracle.py" <<'PY'
import struct, sys, time
d = open(sys.argv[1], 'rb').read()
assert struct.unpack_from('<I', d)[0] == 0xa1b2c3d4 and struct.unpack_from('<I', d, 20)[0] == 1
first, off = {}, 24
while off < len(d):
    sec, usec, incl, _ = struct.unpack_from('<IIII', d, off)
    p = d[off + 16:off + 16 + incl]; off += 16 + incl
    ip = p[14:]
    assert p[12:14] == b'\x08\x00' and ip[9] == 6
    ihl = (ip[0] & 15) * 4
    key = '%d.%d.%d.%d:%d' % (*ip[12:16], struct.unpack_from('!H', ip, ihl)[0])
    first.setdefault(key, (sec * 1000000 + usec, len(first)))
for key, (us, _) in sorted(first.items(), key=lambda kv: kv[1]):
    print(time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(us // 1000000)) + '.%06d000Z' % (us % 1000000), key)
PY
  conns() { jq -r 'select(.conn) | "\(.timestamp) \(.src.ip):\(.src.port)"'; }
  python3 "$TMP/oracle.py" "$TMP/b.pcap" > "$TMP/want"
  [ "$(wc -l < "$TMP/want")" -eq 30000 ]
  timeout 60 "$KF_BIN/kdissect" "$TMP/b.pcap" | conns > "$TMP/got"
  diff "$TMP/want" "$TMP/got"
  # -j 2 on the smaller one (on the larger the shards evict connections, which ones depending on
  # how far each got: the output differs from run to run, as it did at 0cb2b31)
  python3 "$TMP/oracle.py" "$TMP/a.pcap" > "$TMP/want"
  timeout 60 "$KF_BIN/kdissect" -j 2 "$TMP/a.pcap" | conns > "$TMP/got"
  diff "$TMP/want" "$TMP/got"
  # 0cb2b31 kept them in a list sorted on insert, walked back from the newest: 7500 connections
  # 1.0 s, 30000 75 s (cache misses on each connection walked over); a heap: 0.07 s and 0.32 s
  a=$(cpu timeout 20 "$KF_BIN/kdissect" -j 1 "$TMP/a.pcap")
  b=$(cpu timeout 20 "$KF_BIN/kdissect" -j 1 "$TMP/b.pcap")
  echo "# 7500 connections back in time: ${a}s, 30000: ${b}s" >&3
  awk -v a="$a" -v b="$b" 'BEGIN { exit !(b < 8 * (a > 0.1 ? a : 0.1)) }'
}

@test "kdissect: timestamps at the ends of int64 (pcapng ns): no overflow, no negative durations, -j 2 agrees" {
  python3 "$MK" extreme-ts "$TMP/x.pcapng"
  run KD "$TMP/x.pcapng"
  assert_success
  echo "$output" > "$TMP/j1"
  [ "$(wc -l < "$TMP/j1")" -eq 16 ]
  # signed overflow made elapsed_time negative (-16000000) and is undefined (SANITIZE=1 traps)
  run jq -s '[.[] | .elapsed_time, (.tcp_metrics // {} | .[]?) | select(type == "number" and . < 0)] | length' "$TMP/j1"
  assert_output 0
  jq -e -s 'map(select(.protocol == "HTTP" and .status_code == 200)) | length == 2' "$TMP/j1"
  jq -e -s 'map(select(.protocol == "DNS" and (.dns_response // false))) | length == 2' "$TMP/j1"
  run KD -j 2 "$TMP/x.pcapng"
  assert_success
  diff <(jq -c 'del(.id, .stream, .conn_id, .flow_id)' "$TMP/j1" | sort) <(echo "$output" | jq -c 'del(.id, .stream, .conn_id, .flow_id)' | sort)
}

@test "kdissect --max-memory bounds -j 8 too: accounted peak of all shards within the budget" {
  python3 "$MK" gaps 20000 "$TMP/g.pcap" 3
  for j in 1 8; do
    KD -j $j --max-memory 16M --stats "$TMP/g.pcap" 2> "$TMP/s$j" > "$TMP/o$j"
    peak=$(awk '$1 == "peak_memory" { print $2 }' "$TMP/s$j")
    echo "# -j $j: accounted peak $peak (all shards)" >&3
    # records of evicted connections piled up between releases: 47 MB of a 16 MiB budget
    [ "$peak" -le $((16 * 1048576 * 11 / 10)) ]
  done
  # the same connections come out either way
  [ "$(jq -r 'select(.conn) | .conn_id' "$TMP/o1" | wc -l)" -eq "$(jq -r 'select(.conn) | .conn_id' "$TMP/o8" | wc -l)" ]
  # whole process (printed, not asserted: RSS on a shared machine varies by tens of MB): 221 MB
  # before from stdin (fixed per-shard tables, queues and arenas), 128-170 MB after; -j 1: 26 MB
  /usr/bin/time -o "$TMP/t" -f '%M' "$KF_BIN/kdissect" -j 8 --max-memory 16M - < "$TMP/g.pcap" > /dev/null
  echo "# -j 8 from stdin: $(tail -1 "$TMP/t") KB peak RSS" >&3
}
