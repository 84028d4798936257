#!/usr/bin/env bats
# kdissect -j by connection (issue 15): one busy client/server address pair spreads over the
# threads, and the records (flows included) are one thread's. The oracle is jq: both outputs
# with their ids replaced by numbers given in content order (tests/kdissect/canon_ids.jq), so
# the same records with the same grouping into connections and flows compare equal.
load helpers

KD() { "$KF_BIN/kdissect" "$@"; }
CANON=$KF_ROOT/tests/kdissect/canon_ids.jq

setup() { TMP=$(mktemp -d); }
teardown() { rm -rf "$TMP"; }

canon() { jq -s -r -f "$CANON" "$@"; }

# $1 capture, rest: kdissect options; -j 1 against -j 2 and -j 3, and on stdin
same_as_one() {
  local f=$1; shift
  KD "$@" "$f" > "$TMP/one"
  [ -s "$TMP/one" ]
  canon "$TMP/one" > "$TMP/one.c"
  KD -j 2 "$@" "$f" > "$TMP/two"
  canon "$TMP/two" | diff "$TMP/one.c" -
  KD -j 3 "$@" "$f" | canon | diff "$TMP/one.c" -
  # read once and handed out (by address pair): against one thread on stdin (its file is "-")
  KD "$@" - < "$f" | canon > "$TMP/stdin.c"
  KD -j 2 "$@" - < "$f" | canon | diff "$TMP/stdin.c" -
}

@test "kdissect -j 2: one busy pair (keep-alive and churn connections, a port reused, RSTs, connections open at the end) spreads over the threads and gives one thread's records, flows included" {
  python3 "$KF_ROOT/tests/kdissect/mkbusy.py" "$TMP/busy.pcap" 10
  same_as_one "$TMP/busy.pcap"
  # it did spread: the HTTP connections of the one pair are on both threads (conn ids are
  # base + k * 2 per thread), and the 8 keep-alive ones (2000 calls each) 4 and 4
  odd='{ print (index("13579bdf", substr($NF, length($NF))) > 0) }'   # an id's parity: its thread
  run bash -c "jq -r 'select(.http) | .conn_id' '$TMP/two' | sort | uniq -c | awk '\$1 > 1000' | awk '$odd' | sort | uniq -c | awk '{ print \$1 }'"
  assert_output $'4\n4'
  [ "$(jq -r 'select(.http) | .conn_id' "$TMP/two" | sort -u | awk "$odd" | sort -u | wc -l)" -eq 2 ]
  # flows made of both threads' connections: interval records (open) and closing ones
  [ "$(jq -r 'select(.flow and .tcp and .dst.port == 80 and .flow_state == "open") | .flow_conns' "$TMP/two" | wc -l)" -ge 2 ]
  [ "$(jq -r 'select(.flow and .tcp and .dst.port == 80) | .flow_conns' "$TMP/two" | awk '{ s += $1 } END { print s }')" -ge 1000 ]
  # names learned from DNS over UDP on one thread name the HTTP records of the other
  [ "$(jq -r 'select(.http) | .dst.name' "$TMP/two" | sort -u)" = api.busy.test ]
  # in order, ids numbered in output order, the same output run after run
  run jq -s -r '[.[].timestamp] | . == sort' "$TMP/two"
  assert_output true
  [ "$(jq -r .id "$TMP/two" | awk -F- '{ if ($2 + 0 != NR - 1) bad = 1 } END { print bad + 0 }')" -eq 0 ]
  KD -j 2 "$TMP/busy.pcap" | cmp - "$TMP/two"
}

@test "kdissect -j 2: UDP flows of many connections, DNS over TCP and IP fragments (some last first) on one pair give one thread's records" {
  python3 "$KF_ROOT/tests/kdissect/mkbusy.py" "$TMP/busy.pcap" 3
  jq -c 'select(.dns or .udp)' < <(KD "$TMP/busy.pcap") > "$TMP/dns"
  # the capture has what the title says
  [ "$(jq -r 'select(.dns and .tcp) | .dns_questions[0]' "$TMP/dns" | grep -c '^tcp')" -ge 10 ]
  [ "$(jq -r 'select(.dns) | .dns_questions[0]' "$TMP/dns" | grep -c '^txt')" -ge 10 ]
  [ "$(jq -r 'select(.flow and .udp) | .flow_conns' "$TMP/dns" | awk '{ s += $1 } END { print s }')" -ge 64 ]
  same_as_one "$TMP/busy.pcap"
  same_as_one "$TMP/busy.pcap" -p dns
  same_as_one "$TMP/busy.pcap" --no-conn
}

@test "kdissect -j 2: corpus captures with fragments, DNS over TCP, and the sample node capture give one thread's records, ids grouped alike" {
  for f in "$KF_CORPUS/dns/ndpi__dns_fragmented.pcap" "$KF_CORPUS/dns/zeek__ipv6-fragmented-dns.pcap" \
           "$KF_CORPUS/dns/tcpdump__dns_tcp.pcap" "$KF_CORPUS/dns/deepflow__dns-tcp-multi.pcap" \
           "$SAMPLES/node-worker-1-cni0.pcap"; do
    [ -f "$f" ] || continue
    same_as_one "$f"
  done
}

@test "kdissect -j 2: by connection, records waiting past the merge budget go through a temp file and still get their flow's id" {
  python3 "$KF_ROOT/tests/kdissect/mkbusy.py" "$TMP/busy.pcap" 3
  KD "$TMP/busy.pcap" | canon > "$TMP/one.c"
  KDISSECT_MERGE_BUDGET=1 KD -j 2 "$TMP/busy.pcap" > "$TMP/two"
  canon "$TMP/two" | diff "$TMP/one.c" -
  run jq -s -r '[.[].timestamp] | . == sort' "$TMP/two"
  assert_output true
}

@test "kdissect -j 2: the bench's one-pair API capture gives one thread's records (bench/data/api-one.pcap, made by bench/dissect_api.sh)" {
  f=$KF_ROOT/bench/data/api-one.pcap
  [ -f "$f" ] || skip "no $f (bench/dissect_api.sh makes it, as root)"
  KD "$f" | canon > "$TMP/one.c"
  KD -j 2 "$f" | canon | diff "$TMP/one.c" -
}

@test "kdissect -j 2: a kexport export's workload names (NRB) name the flow records as with one thread" {
  "$KF_BIN/kexport" "$SAMPLES/demo.ksnap" --from -90s -o "$TMP/x.pcapng"
  [ "$(KD "$TMP/x.pcapng" | jq -r 'select(.flow) | .dst.name' | grep -c .)" -gt 0 ]
  same_as_one "$TMP/x.pcapng"
}
