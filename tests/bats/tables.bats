#!/usr/bin/env bats
# Output for people vs pipes (kfl, kdissect): on a terminal (a pty made by script(1)) a compact
# call table or, with kfl --fields, an aligned table of the fields; to a pipe NDJSON or TSV.
# Judges: jq over the same records.
load helpers

setup() {
  command -v script >/dev/null || skip "script (bsdutils) not installed"
  W=$BATS_TEST_TMPDIR
  if [ ! -s "$BATS_FILE_TMPDIR/demo.ndjson" ]; then
    "$KF_BIN/kdissect" "$SAMPLES/demo.ksnap" > "$BATS_FILE_TMPDIR/demo.ndjson"
  fi
  D=$BATS_FILE_TMPDIR/demo.ndjson
}

tty() { script -qec "$*" /dev/null | tr -d '\r'; }

@test "kfl --fields to a pipe: TSV of the KFL expressions, as jq computes them" {
  "$KF_BIN/kfl" --fields 'timestamp,protocol,src.pod.owner.name,path,status_code,elapsed_time / 1000,dns_questions' 'http || dns' "$D" > "$W/k"
  jq -r 'select(.protocol == "HTTP" or .protocol == "DNS" or .protocol == "GRPC") | [.timestamp, .protocol, .src.pod.owner.name, (.path // ""),
         (.status_code // 0 | tostring), (.elapsed_time / 1000 | floor | tostring), ((.dns_questions // []) | join(","))] | join("\t")' "$D" > "$W/j"
  diff "$W/k" "$W/j"
  [ "$(wc -l < "$W/k")" -ge 40 ]
  # tabs and newlines inside a value are escaped, so a row stays a row
  echo '{"protocol":"HTTP","path":"/a\tb\nc"}' | "$KF_BIN/kfl" --fields 'path,protocol' true > "$W/e"
  [ "$(cat "$W/e")" = '/a\tb\nc	HTTP' ]
  run "$KF_BIN/kfl" --fields 'stauts_code' http "$D"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--fields:1:1: unknown variable 'stauts_code'; did you mean 'status_code'?"* ]]
}

@test "kfl --fields on a terminal: an aligned table with the expressions as headers, times local with UTC" {
  TZ=Asia/Kolkata tty "$KF_BIN/kfl" --fields "timestamp,src.pod.owner.name,path,status_code" "'http && status_code >= 500'" "$D" > "$W/t"
  cat "$W/t"
  head -1 "$W/t" | grep -q '^timestamp  *src.pod.owner.name  *path  *status_code$'
  [ "$(wc -l < "$W/t")" -eq 5 ]
  grep -q '^2026-11-26 12:25:49.873 IST (06:55:49.873 UTC)  orders  *GET\? */api/refunds  *503$\|^2026-11-26 12:25:49.873 IST (06:55:49.873 UTC)  orders  */api/refunds  *503$' "$W/t"
  # every row has its columns where the header has them
  c=$(head -1 "$W/t" | awk '{print index($0, "path")}')
  tail -n +2 "$W/t" | while IFS= read -r l; do [ "${l:$((c - 1)):1}" = / ]; done
}

@test "kfl on a terminal: a compact call table (time, protocol, source → destination, request, status, latency); --json and pipes: NDJSON" {
  TZ=Asia/Kolkata tty "$KF_BIN/kfl" "'http && status_code >= 500'" "$D" > "$W/t"
  cat "$W/t"
  head -1 "$W/t" | grep -q '^TIME  *PROTOCOL  *SOURCE  *DESTINATION  *REQUEST  *STATUS  *LATENCY$'
  [ "$(tail -n +2 "$W/t" | wc -l)" -eq "$(jq -s 'map(select(.http and .status_code >= 500)) | length' "$D")" ]
  grep -q '^2026-11-26 12:25:49.873 IST (06:55:49.873 UTC)  *HTTP  *shop/orders-594487879c-7xkqp  *→ shop/payment-7d9f8b6c5-x2x7k  *GET /api/refunds  *503  *94us$' "$W/t"
  # the time column fits India's widest time, with the UTC date when it differs (57
  # characters), whatever the hour the test runs at: it was as wide as the time now, 46 when
  # the two dates agreed, and the rows' columns moved with the hour of the day
  [ "$(head -1 "$W/t" | awk '{print index($0, "PROTOCOL")}')" -eq 60 ]
  tail -n +2 "$W/t" | while IFS= read -r l; do [ "${l:59:4}" = HTTP ]; done
  # statuses and latencies are the records' own
  a=$(tail -n +2 "$W/t" | awk '{print $(NF-1)}' | sort | paste -sd,)
  [ "$a" = "$(jq -r 'select(.http and .status_code >= 500) | .status_code' "$D" | sort | paste -sd,)" ]
  # --json on a terminal, and any pipe: the lines unchanged
  tty "$KF_BIN/kfl" --json "'http && status_code >= 500'" "$D" > "$W/j"
  "$KF_BIN/kfl" 'http && status_code >= 500' "$D" > "$W/p"
  diff "$W/j" "$W/p"
  jq -e . "$W/p" > /dev/null
  # counting on a terminal prints the count, not a table
  [ "$(tty "$KF_BIN/kfl" -c http "$D")" = "$("$KF_BIN/kfl" -c http "$D")" ]
  # one row per protocol's summary: gRPC status inside HTTP 200, DNS rcode, Redis
  TZ=UTC tty "$KF_BIN/kfl" "'grpc || dns || redis'" "$D" > "$W/all"
  grep -q 'GRPC  .*/shop.fraud.v1.FraudCheck/Score  *grpc 14 ' "$W/all"
  grep -q 'DNS  .*A orders.shop.svc.cluster.local  *NOERROR ' "$W/all"
  grep -q 'REDIS  .*GET session:123  *OK ' "$W/all"
}

@test "kdissect on a terminal: the call table, one row per record; --json or a pipe: NDJSON" {
  TZ=UTC tty "$KF_BIN/kdissect" "$SAMPLES/demo.ksnap" > "$W/t"
  [ "$(tail -n +2 "$W/t" | wc -l)" -eq "$(wc -l < "$D")" ]
  head -1 "$W/t" | grep -q '^TIME  *PROTOCOL'
  grep -q '^2026-11-26 06:55:53.1[0-9][0-9] UTC  GRPC ' "$W/t"
  tty "$KF_BIN/kdissect" --json "$SAMPLES/demo.ksnap" > "$W/j"
  diff "$W/j" "$D"
  # an error alone: its line, no header
  run script -qec "$KF_BIN/kdissect /nonexistent.pcap" /dev/null
  [[ "$output" == *"kdissect: /nonexistent.pcap: No such file or directory"* ]]
  [[ "$output" != *TIME* ]]
}
