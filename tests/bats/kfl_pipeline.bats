#!/usr/bin/env bats
# kfl over real records: kdissect's output for the public corpus captures. Every record must be
# accepted, and each filter must select as many records as the same predicate in jq.
load helpers

setup_file() {
  R=$BATS_FILE_TMPDIR/real.ndjson
  [ -x "$KF_BIN/kdissect" ] || return 0
  [ -d "$KF_CORPUS/dns" ] || return 0
  for d in dns http1 http2 grpc kafka amqp redis tls postgres mysql websocket; do
    [ -d "$KF_CORPUS/$d" ] || continue
    for f in "$KF_CORPUS/$d"/*.pcap*; do [ -f "$f" ] && "$KF_BIN/kdissect" "$f" 2>/dev/null || true; done
  done > "$R"
}

setup() {
  KFL=$KF_BIN/kfl
  R=$BATS_FILE_TMPDIR/real.ndjson
  [ -x "$KF_BIN/kdissect" ] || skip "kdissect not built"
  [ -d "$KF_CORPUS/dns" ] || skip "no corpus at $KF_CORPUS"
  [ -s "$R" ] || skip "kdissect produced no records"
}

@test "kfl accepts every record kdissect writes for the corpus captures" {
  n=$(wc -l < "$R")
  run "$KFL" -c true "$R"
  [ "$status" -eq 0 ]
  [ "$output" = "$n" ]
}

@test "kfl and jq select the same records of kdissect's output" {
  n=0 bad=0 some=0
  while IFS=$'\t' read -r filter jqexpr; do
    case "$filter" in '#'*|'') continue;; esac
    n=$((n + 1))
    a=$("$KFL" -c -- "$filter" "$R" || true)
    b=$(jq -c "select($jqexpr)" "$R" | wc -l)
    [ "$b" -gt 0 ] && some=$((some + 1))
    if [ "$a" != "$b" ]; then echo "kfl $a, jq $b: $filter"; bad=$((bad + 1)); fi
  done < "$KF_ROOT/tests/kfl/pipeline.tsv"
  echo "$n filters, $some selecting something"
  [ "$bad" -eq 0 ]
  [ "$some" -ge 5 ]
}
