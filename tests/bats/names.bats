#!/usr/bin/env bats
# Names in Wireshark (issue 20): an IP reused within an export is named with all its holders,
# a packet comment names the holder at that time, stderr says so; --annotate writes the
# protocol's own status (gRPC's grpc-status) and one comment per call starting in a packet.
# tshark is the oracle (-N n for the NRB, frame.comment for the comments).
load helpers

setup_file() {
  export FX=$BATS_FILE_TMPDIR/fx
  python3 "$KF_ROOT/tests/kexport/mkfixture.py" "$FX"
}
setup() { KX=$KF_BIN/kexport; W=$BATS_TEST_TMPDIR; cd "$FX"; }

@test "names: an IP reused in the export is named with all holders, comments name the holder, stderr says so" {
  run "$KX" --meta meta-events.ndjson worker-1.pcap -o "$W/n.pcapng"
  assert_success
  # one line on stderr for the reused IP
  [ "$(echo "$output" | grep -c 'had 2 holders')" -eq 1 ]
  assert_output --partial "kexport: 10.0.1.7 had 2 holders in this export"
  # the NRB: .7 carries both names, in the order they held it (tshark -N n)
  run bash -c "tshark -N n -r '$W/n.pcapng' -T fields -e ip.dst_host -e tcp.srcport 2>/dev/null | sort -u"
  assert_line "orders-594487879c-aaaaa.prod/payments-bbb.prod	40000"
  assert_line "orders-594487879c-aaaaa.prod/payments-bbb.prod	40001"
  # the comments: the first packet of each holder's time names that holder
  run bash -c "tshark -r '$W/n.pcapng' -Y frame.comment -T fields -e frame.number -e tcp.srcport -e frame.comment 2>/dev/null"
  [ "${#lines[@]}" -eq 2 ]
  [[ "${lines[0]}" == *"	40000	10.0.1.7 is orders-594487879c-aaaaa.prod here (IP reused: its name lists all 2 holders, orders-594487879c-aaaaa.prod/payments-bbb.prod)" ]]
  [[ "${lines[1]}" == *"	40001	10.0.1.7 is payments-bbb.prod here (IP reused"* ]]
  # no reuse within the window: a plain name, no comment, no warning
  run "$KX" --meta meta-events.ndjson worker-1.pcap --to 2026-03-14T17:09:00Z -o "$W/one.pcapng"
  refute_output --partial "holders"
  run bash -c "tshark -N n -r '$W/one.pcapng' -T fields -e ip.dst_host 2>/dev/null | sort -u"
  assert_line "orders-594487879c-aaaaa.prod"
  refute_output --partial "payments"
}

@test "names: README and man kexport say how to see the names (name resolution on: tshark -N n)" {
  grep -q -- "-N n" "$KF_ROOT/README.md"
  grep -q -- '\\-N n' "$KF_ROOT/man/kexport.1"
  grep -qi "Name Resolution" "$KF_ROOT/man/kexport.1"
}

@test "names: --annotate writes gRPC's grpc-status (not HTTP's 200), and each call starting in a packet gets its comment" {
  cap=$KF_CORPUS/grpc/deepflow__grpc-unary.pcap
  "$KF_BIN/kdissect" --no-conn "$cap" > "$W/calls.ndjson"
  [ "$(jq -r 'select(.grpc) | .status_code' "$W/calls.ndjson" | head -1)" = 200 ]
  # the same call, failed: grpc-status 5 in an HTTP 200 response
  jq -c 'select(.grpc) | .grpc_status = 5' "$W/calls.ndjson" > "$W/failed.ndjson"
  run "$KX" "$cap" --calls "$W/failed.ndjson" --annotate -o "$W/g.pcapng"
  assert_success
  run bash -c "tshark -r '$W/g.pcapng' -Y frame.comment -T fields -e frame.comment 2>/dev/null"
  assert_output --partial "-> grpc-status 5 NOT_FOUND (HTTP 200)"
  refute_output --partial "-> 200"
  # two calls (two records) starting in the same packet: two comments on it
  jq -c 'select(.grpc)' "$W/calls.ndjson" | head -1 > "$W/one.ndjson"
  jq -c '.id = "second" | .grpc_status = 14' "$W/one.ndjson" >> "$W/one.ndjson"
  run "$KX" "$cap" --calls "$W/one.ndjson" --annotate -o "$W/two.pcapng"
  assert_success
  first=$(tshark -r "$W/two.pcapng" -Y frame.comment -T fields -e frame.number 2>/dev/null | head -1)
  run bash -c "tshark -r '$W/two.pcapng' -Y 'frame.number == $first' -T fields -e frame.comment 2>/dev/null"
  [[ "$output" == *"grpc-status 0 OK"*","*"grpc-status 14 UNAVAILABLE"* ]] || [[ "$output" == *"grpc-status 14 UNAVAILABLE"*","*"grpc-status 0 OK"* ]]
  # DNS: the rcode
  run "$KX" --calls <("$KF_BIN/kdissect" --no-conn "$KF_CORPUS/dns/zeek__ech.pcap" | jq -c 'select(.dns)' | head -1) \
      "$KF_CORPUS/dns/zeek__ech.pcap" --annotate -o "$W/d.pcapng"
  run bash -c "tshark -r '$W/d.pcapng' -Y frame.comment -T fields -e frame.comment 2>/dev/null"
  assert_output --regexp '-> (NOERROR|NXDOMAIN|SERVFAIL|REFUSED)'
}
