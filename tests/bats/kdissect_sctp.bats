#!/usr/bin/env bats
# SCTP: kf_decode's common and chunk headers and kdissect's SCTP records (proto/sctp.c) against
# tshark on tests/l7/captures/sctp.pcap (made by tests/l7/make_sctp_pcap.py).
load helpers

F=$KF_ROOT/tests/l7/captures/sctp.pcap
TS() { tshark -o sctp.checksum:CRC-32C -r "$F" -Y sctp -T fields -E occurrence=f "$@" 2>/dev/null; }

@test "sctp: each control-chunk packet is a record with tshark's chunk type, length and checksum" {
  command -v tshark >/dev/null || fail "tshark is not installed"
  # tshark: frame, first chunk type (number), its length, the checksum; control chunks only
  TS -e frame.number -e sctp.chunk_type -e sctp.chunk_length -e sctp.checksum |
    awk '$2 != 0 && $2 != 3 && $2 != 4 && $2 != 5 { printf "%s %s %s %d\n", $1, $2, $3, strtonum($4) }' > "$BATS_TEST_TMPDIR/t"
  # and every checksum tshark checked is good (the capture is well formed, so ours are real values)
  [ "$(TS -e sctp.checksum.status | sort -u)" = 1 ]
  names='{"DATA":0,"INIT":1,"INIT_ACK":2,"SACK":3,"HEARTBEAT":4,"HEARTBEAT_ACK":5,"ABORT":6,"SHUTDOWN":7,"SHUTDOWN_ACK":8,"ERROR":9,"COOKIE_ECHO":10,"COOKIE_ACK":11,"SHUTDOWN_COMPLETE":14}'
  "$KF_BIN/kdissect" --no-conn "$F" | jq -r --argjson n "$names" 'select(.sctp and .sctp_packets == null) |
      "\(.capture.first_frame) \($n[.sctp_chunk_type]) \(.sctp_length) \(.sctp_checksum)"' > "$BATS_TEST_TMPDIR/k"
  [ "$(wc -l < "$BATS_TEST_TMPDIR/t")" -eq 9 ]
  diff "$BATS_TEST_TMPDIR/t" "$BATS_TEST_TMPDIR/k"
}

@test "sctp: DATA, SACK and HEARTBEAT packets are summed per direction as tshark counts them" {
  TS -e ip.src -e sctp.chunk_type -e sctp.chunk_length |
    awk '$2 == 0 || $2 == 3 || $2 == 4 || $2 == 5 { n[$1]++; b[$1] += $3 } END { for (s in n) print s, n[s], b[s] }' |
    sort > "$BATS_TEST_TMPDIR/t"
  "$KF_BIN/kdissect" --no-conn "$F" | jq -r 'select(.sctp_packets) | "\(.src.ip) \(.sctp_packets) \(.sctp_length)"' |
    sort > "$BATS_TEST_TMPDIR/k"
  diff "$BATS_TEST_TMPDIR/t" "$BATS_TEST_TMPDIR/k"
}

@test "sctp: Kubeshark's variables filter the records; the records validate; other traffic has no sctp" {
  "$KF_BIN/kdissect" "$F" > "$BATS_TEST_TMPDIR/r"
  run "$KF_BIN/kfl" -c 'sctp && sctp_chunk_type == "INIT"' "$BATS_TEST_TMPDIR/r"
  [ "$output" = 2 ]
  run "$KF_BIN/kfl" -c 'sctp && sctp_chunk_type == "ABORT" && sctp_length == 12' "$BATS_TEST_TMPDIR/r"
  [ "$output" = 1 ]
  run /usr/bin/python3 "$KF_ROOT/tests/golden/kdissect/validate.py" "$KF_ROOT/docs/record.schema.json" "$BATS_TEST_TMPDIR/r"
  assert_success
  run bash -c "'$KF_BIN/kdissect' '$KF_ROOT/tests/l7/captures/radius.pcap' | '$KF_BIN/kfl' -c sctp"
  [ "$output" = 0 ]
}
