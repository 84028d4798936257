#!/usr/bin/env bats
# kdissect's RADIUS dissector (proto/radius.c) against tshark on tests/l7/captures/radius.pcap
# (made by tests/l7/make_radius_pcap.py): every RADIUS packet tshark decodes is in exactly one
# record with tshark's code, identifier, length and User-Name, and requests pair with responses
# as tshark pairs them (radius.reqframe).
load helpers

F=$KF_ROOT/tests/l7/captures/radius.pcap
kd() { "$KF_BIN/kdissect" --no-conn "$@"; }

@test "radius: every packet tshark decodes is in one record with the same code, identifier, length, User-Name" {
  command -v tshark >/dev/null || fail "tshark is not installed"
  tshark -r "$F" -Y radius -T fields -E separator=' ' -E occurrence=f \
    -e frame.number -e radius.code -e radius.id -e radius.length -e radius.User_Name 2>/dev/null |
    awk '{ print $1, $2, $3, $4, ($5 == "" ? "-" : $5) }' | sort -n > "$BATS_TEST_TMPDIR/t"
  # ours: the request's frame with the request's fields, the response's frame with the response's
  kd "$F" | jq -r 'select(.radius) |
      (if .radius_request then "\(.capture.first_frame) \(.radius_code) \(.radius_identifier) \(.radius_request_length) \(.radius_user_name // "-")" else empty end),
      (if .radius_response then "\(.capture.last_frame) \(.radius_response_code) \(.radius_identifier) \(.radius_response_length) -" else empty end)' |
    sort -n > "$BATS_TEST_TMPDIR/k"
  # tshark gives User-Name only where the packet has one; responses here carry none
  [ "$(wc -l < "$BATS_TEST_TMPDIR/t")" -eq 17 ]
  diff "$BATS_TEST_TMPDIR/t" "$BATS_TEST_TMPDIR/k"
}

@test "radius: requests pair with responses as tshark pairs them; unanswered ones say so" {
  # tshark: response frame -> its request frame. One known difference: a retransmitted request
  # (frames 13, 14, same identifier): tshark pairs the answer with the first copy, kdissect with
  # the retry (the first is emitted unanswered, as DNS retries are). tshark does not pair
  # Status-Server (frame 11) with its answer; RFC 5997 says the answer is matched by identifier.
  tshark -r "$F" -Y 'radius.reqframe' -T fields -e radius.reqframe -e frame.number 2>/dev/null |
    sed 's/^13\t15$/14\t15/' | sort -n > "$BATS_TEST_TMPDIR/t"
  echo "11	12" >> "$BATS_TEST_TMPDIR/t"; sort -n -o "$BATS_TEST_TMPDIR/t" "$BATS_TEST_TMPDIR/t"
  kd "$F" | jq -r 'select(.radius_request and .radius_response) | "\(.capture.first_frame)\t\(.capture.last_frame)"' |
    sort -n > "$BATS_TEST_TMPDIR/k"
  diff "$BATS_TEST_TMPDIR/t" "$BATS_TEST_TMPDIR/k"
  run bash -c "'$KF_BIN/kdissect' --no-conn '$F' | '$KF_BIN/kfl' -c 'radius && unanswered'"
  [ "$output" = 2 ]   # the first copy of the retry, and erin's request
  run bash -c "'$KF_BIN/kdissect' --no-conn '$F' | '$KF_BIN/kfl' -c 'radius && !radius_request && radius_response'"
  [ "$output" = 1 ]   # the Access-Accept whose request was not captured
}

@test "radius: Kubeshark's filters select the calls; names, sizes and accounting status" {
  kd "$F" > "$BATS_TEST_TMPDIR/r"
  run "$KF_BIN/kfl" -c 'radius && radius_code_name == "Access-Request"' "$BATS_TEST_TMPDIR/r"
  [ "$output" = 6 ]   # alice, bob, carol, dave twice (the retry), erin
  run "$KF_BIN/kfl" -c 'radius && radius_response_code_name == "Access-Reject"' "$BATS_TEST_TMPDIR/r"
  [ "$output" = 1 ]
  run jq -r 'select(.radius_acct_status_type) | "\(.radius_user_name) \(.radius_acct_status_type) \(.radius_total_size)"' "$BATS_TEST_TMPDIR/r"
  [ "${lines[0]}" = "alice Start 73" ]
  [ "${lines[1]}" = "alice Stop 79" ]
  # the protocol is RADIUS, over UDP, on the records and in conn_l7_detected
  run bash -c "'$KF_BIN/kdissect' '$F' | jq -r 'select(.conn) | .conn_l7_detected[]' | sort -u"
  [ "$output" = RADIUS ]
  run /usr/bin/python3 "$KF_ROOT/tests/golden/kdissect/validate.py" "$KF_ROOT/docs/record.schema.json" "$BATS_TEST_TMPDIR/r"
  assert_success
}
