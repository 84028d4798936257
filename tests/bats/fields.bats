#!/usr/bin/env bats
# The field registry (docs/fields.tsv, docs/fields.md): generated files are current, every key of
# every record kdissect writes over the test captures is registered, every registered field is
# written by some record (or marked "other"), no record has a duplicate key (strict parse).
load helpers

F=$KF_ROOT/scripts/fields

# Fields our code writes in cases no test capture shows yet. Each one here is a gap in the tests;
# the list only shrinks (a capture that makes the field removes it).
# grpc_*_message.decoded_*: a gzip-compressed gRPC message; the live suite (kdissect_live.bats)
# makes one and checks its records with record_fields.
UNCOVERED="http2_pushed mongodb_no_response ws_inflate_failed grpc_request_message.decoded_from
  grpc_request_message.decoded_size grpc_response_message.decoded_from grpc_response_message.decoded_size"

setup_file() {
  # every capture the tests read: the public corpus, the samples, the captures vendored in tests/
  local out=$BATS_FILE_TMPDIR/records i=0 f
  mkdir -p "$out"
  while IFS= read -r f; do
    "$KF_BIN/kdissect" "$f" > "$out/r$i.ndjson" 2>/dev/null || true   # broken captures exit 2; what they wrote counts
    i=$((i + 1))
  done < <(find "$KF_CORPUS" "$KF_ROOT/tests" "$KF_ROOT/samples" -path '*/expected' -prune -o -type f \
             \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.ksnap' \) -print | sort -u)
  "$KF_BIN/kdissect" --meta "$KF_ROOT/samples/meta-events.ndjson" "$KF_ROOT/samples/demo.ksnap" > "$out/demo-meta.ndjson" 2>/dev/null
  echo "$i" > "$BATS_FILE_TMPDIR/n"
}

@test "fields: the registry parses; docs/record.schema.json, the docs' field tables and the dissector lists are generated and current" {
  run "$F" docs --check --kdissect "$KF_BIN/kdissect"
  echo "$output"
  assert_success
  # the check does see a hand edit, of a field table and of a dissector list
  cp -r "$KF_ROOT/docs" "$KF_ROOT/scripts" "$KF_ROOT/man" "$BATS_TEST_TMPDIR/"
  sed -i 's/"title": "kdissect record/"title": "kdissect  record/' "$BATS_TEST_TMPDIR/docs/record.schema.json"
  run "$BATS_TEST_TMPDIR/scripts/fields" docs --check --kdissect "$KF_BIN/kdissect"
  assert_failure
  [[ "$output" == *"docs/record.schema.json"* ]]
  cp "$KF_ROOT/docs/record.schema.json" "$BATS_TEST_TMPDIR/docs/"
  sed -i '/generated: dissectors-man/{n;d}' "$BATS_TEST_TMPDIR/man/kdissect.1"
  run "$BATS_TEST_TMPDIR/scripts/fields" docs --check --kdissect "$KF_BIN/kdissect"
  assert_failure
  [[ "$output" == *"man/kdissect.1"* ]]
  [[ "$output" != *"record.schema.json"* ]]
}

@test "fields: kfl's variable table is the registry (every name, path and type)" {
  run "$KF_BIN/kfl" --vars
  assert_success
  n=$(grep -vc '^#' <<< "$output")
  want=$(grep -v '^#' "$KF_ROOT/docs/fields.tsv" | grep -c .)
  [ "$n" -eq "$want" ] || { echo "kfl --vars lists $n, the registry has $want"; false; }
  # every registered name compiles as a filter
  while IFS=$'\t' read -r name _; do
    "$KF_BIN/kfl" --check "$name == $name" > /dev/null \
      || { echo "kfl rejects $name"; false; }
  done < <(grep -v '^#' "$KF_ROOT/docs/fields.tsv")
}

@test "fields: every key of every record is registered, no duplicate keys, every field is written" {
  [ "$(cat "$BATS_FILE_TMPDIR/n")" -ge 300 ]
  run "$F" records --coverage "$BATS_FILE_TMPDIR"/records/*.ndjson "$KF_ROOT"/tests/golden/kdissect/*.ndjson
  echo "$output" | tail -40
  # the only coverage errors allowed are the fields listed in UNCOVERED
  bad=$(grep -v ': no record carries it' <<< "$output" | grep -v ' records, ' || true)
  [ -z "$bad" ]
  while read -r l; do
    f=$(sed -E 's/^[^ ]+ ([^:]+): no record carries it.*/\1/' <<< "$l")
    [[ " $(echo $UNCOVERED) " == *" $f "* ]] || { echo "not written by any record: $f"; false; }
  done < <(grep ': no record carries it' <<< "$output")
  # a field in UNCOVERED that is now written must leave the list
  for f in $UNCOVERED; do
    grep -q " $f: no record carries it" <<< "$output" || { echo "$f is written now: take it out of UNCOVERED"; false; }
  done
  [ "$(tail -1 <<< "$output" | cut -d' ' -f1)" -ge 2000 ]
}

@test "fields: the check fails on an unregistered key, a duplicate key and an unwritten field" {
  printf '%s\n' '{"id":"a","protocol":"HTTP","http":true,"no_such_field":1}' > "$BATS_TEST_TMPDIR/u.ndjson"
  run "$F" records "$BATS_TEST_TMPDIR/u.ndjson"
  assert_failure
  [[ "$output" == *"key no_such_field is not in docs/fields.tsv"* ]]
  printf '%s\n' '{"id":"a","http":true,"request":{"headers":{"a":"1","a":"2"}}}' > "$BATS_TEST_TMPDIR/d.ndjson"
  run "$F" records "$BATS_TEST_TMPDIR/d.ndjson"
  assert_failure
  [[ "$output" == *"duplicate key 'a'"* ]]
  printf '%s\n' '{"id":"a"}' > "$BATS_TEST_TMPDIR/c.ndjson"
  run "$F" records --coverage "$BATS_TEST_TMPDIR/c.ndjson"
  assert_failure
  [[ "$output" == *"status_code: no record carries it"* ]]
  [[ "$output" != *"ldap_summary"* ]]   # writers "other": only other tools write it
}
