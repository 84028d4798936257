#!/usr/bin/env bats
# kdissect's fast paths (issue 15) on the inputs their shortcuts must not change: GraphQL found
# in JSON bodies however the key is spelled (jansson is only skipped when the body cannot name
# it), header maps with names that need escaping. Captures: tests/kdissect/mkcap_fast.py.
load helpers

MK=$KF_ROOT/tests/kdissect/mkcap_fast.py
setup() { TMP=$(mktemp -d); }
teardown() { rm -rf "$TMP"; }

@test "kdissect: GraphQL in a JSON body, its key plain or escaped (RFC 8259: \\u0071uery is query)" {
  python3 "$MK" gql "$TMP/g.pcap"
  run bash -c "'$KF_BIN/kdissect' --no-conn '$TMP/g.pcap' | jq -r '[.gql // false, .gql_operation // \"-\", .gql_operation_type // \"-\"] | @tsv'"
  assert_success
  assert_output $'true\tPlain\tquery\ntrue\tOp\tmutation\nfalse\t-\t-\nfalse\t-\t-'
}

@test "kdissect: header names that need escaping beside plain ones: valid JSON, plain ones as sent" {
  python3 "$MK" hdrnames "$TMP/h.pcap"
  run bash -c "'$KF_BIN/kdissect' --no-conn '$TMP/h.pcap' | jq -r '.request.headers | (length | tostring), .[\"x-plain\"], .[\"x-utf8-\\u00e9\"], .host'"
  assert_success
  assert_output $'7\na\nf\nx'
}
