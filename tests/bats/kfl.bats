#!/usr/bin/env bats
# kfl's command line: grep's conventions (stdin, files, -v -c -q -m -f, exit codes), gzip input,
# carets under errors, invalid lines, output written unchanged.
load helpers

setup() {
  KFL=$KF_BIN/kfl
  W=$BATS_TEST_TMPDIR
  cat > "$W/in.ndjson" <<'J'
{"id":"a","http":true,"status_code":500,"method":"GET"}
{"id":"b","http":true,"status_code":200,"method":"POST"}
{"id":"c","dns":true,"status_code":3}
{"id":"d","http":true,"status_code":503,"method":"GET"}
J
}

@test "kfl --help goes to stdout and exits 0; --version" {
  run "$KFL" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"Usage: kfl [OPTIONS] EXPR [FILE...]"* ]]
  run "$KFL" --version
  [ "$status" -eq 0 ]
  [[ "$output" == "kfl "* ]]
}

@test "kfl without an expression or with an unknown option: usage error, exit 2" {
  run "$KFL"
  [ "$status" -eq 2 ]
  [[ "$output" == *"kfl: no filter expression given"* ]]
  [[ "$output" == *"(see 'kfl --help')"* ]]
  run "$KFL" --frobnicate x
  [ "$status" -eq 2 ]
  run "$KFL" -m x http
  [ "$status" -eq 2 ]
  [[ "$output" == *"-m: not a count"* ]]
}

@test "kfl reads a file, writes the matching lines, exits 0" {
  run "$KFL" 'http && status_code >= 500' "$W/in.ndjson"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = '{"id":"a","http":true,"status_code":500,"method":"GET"}' ]
  [ "${lines[1]}" = '{"id":"d","http":true,"status_code":503,"method":"GET"}' ]
  [ "${#lines[@]}" -eq 2 ]
}

@test "kfl reads standard input by default and with '-'" {
  run bash -c "'$KFL' dns < '$W/in.ndjson'"
  [ "$status" -eq 0 ]
  [ "$output" = '{"id":"c","dns":true,"status_code":3}' ]
  run bash -c "cat '$W/in.ndjson' | '$KFL' -c http -"
  [ "$output" = 3 ]
}

@test "kfl exits 1 when nothing matched, with no output" {
  run "$KFL" 'status_code == 404' "$W/in.ndjson"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
}

@test "kfl -v inverts, -c counts, -q is quiet, -m stops after N" {
  run "$KFL" -v http "$W/in.ndjson"
  [ "$status" -eq 0 ]
  [ "$output" = '{"id":"c","dns":true,"status_code":3}' ]
  run "$KFL" -c http "$W/in.ndjson"
  [ "$output" = 3 ]
  [ "$status" -eq 0 ]
  run "$KFL" -c -v http "$W/in.ndjson"
  [ "$output" = 1 ]
  run "$KFL" -c kafka "$W/in.ndjson"
  [ "$output" = 0 ]
  [ "$status" -eq 1 ]
  run "$KFL" -q http "$W/in.ndjson"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run "$KFL" -q kafka "$W/in.ndjson"
  [ "$status" -eq 1 ]
  run "$KFL" -q -c http "$W/in.ndjson"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run "$KFL" -m 1 http "$W/in.ndjson"
  [ "$output" = '{"id":"a","http":true,"status_code":500,"method":"GET"}' ]
  run "$KFL" -c -m 2 http "$W/in.ndjson"
  [ "$output" = 2 ]
  run "$KFL" -m 0 http "$W/in.ndjson"
  [ "$status" -eq 1 ]
}

@test "kfl -c over several files prints file:count lines, like grep" {
  cp "$W/in.ndjson" "$W/two.ndjson"
  run "$KFL" -c http "$W/in.ndjson" "$W/two.ndjson"
  [ "${lines[0]}" = "$W/in.ndjson:3" ]
  [ "${lines[1]}" = "$W/two.ndjson:3" ]
}

@test "kfl -f reads the expression from a file, comments and several lines allowed" {
  printf '// 5xx from GET calls\nhttp &&\n  method == "GET" && // only GET\n  status_code >= 500\n' > "$W/f.kfl"
  run "$KFL" -c -f "$W/f.kfl" "$W/in.ndjson"
  [ "$status" -eq 0 ]
  [ "$output" = 2 ]
}

@test "kfl: a syntax error prints the expression with a caret under the column" {
  run "$KFL" 'http && status_code >=' "$W/in.ndjson"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "kfl: filter:1:23: expected an operand (a name, literal, '(', '[' or '{'), found end of input" ]
  [ "${lines[1]}" = " | http && status_code >=" ]
  [ "${lines[2]}" = " |                       ^" ]
  [ "${#lines[@]}" -eq 3 ]
}

@test "kfl: a type error in a -f file points at its line and column" {
  printf 'http &&\n  status_code > "500"\n' > "$W/t.kfl"
  run "$KFL" -f "$W/t.kfl" "$W/in.ndjson"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "kfl: $W/t.kfl:2:15: '>' cannot compare int with string" ]
  [ "${lines[1]}" = " |   status_code > \"500\"" ]
  [ "${lines[2]}" = " |               ^" ]
}

@test "kfl: the caret counts characters, not bytes" {
  run "$KFL" --check '"héllo" == 1'
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "kfl: filter:1:9: '==' cannot compare string with int" ]
  [ "${lines[2]}" = " |         ^" ]
}

@test "kfl: an unknown variable is an error unless --allow-unknown" {
  run "$KFL" 'staus_code == 500' "$W/in.ndjson"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "kfl: filter:1:1: unknown variable 'staus_code'; did you mean 'status_code'?"* ]]
  run "$KFL" --allow-unknown -c 'staus_code == null' "$W/in.ndjson"
  [ "$status" -eq 0 ]
  [ "$output" = 4 ]
}

@test "kfl --check compiles only; --explain shows the tree and the variables" {
  run "$KFL" --check 'http && status_code >= 500'
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run "$KFL" --explain 'http && status_code >= 500 || (tcp && tcp_error_type != "")'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 'expression: ((http && (status_code >= 500)) || (tcp && (tcp_error_type != "")))' ]
  [ "${lines[1]}" = 'variables: http (bool), status_code (int), tcp (bool), tcp_error_type (string)' ]
  run "$KFL" --explain 'timestamp > timestamp("2026-03-14T22:00:00Z") - duration("5m")'
  [ "${lines[0]}" = 'expression: (timestamp > timestamp("2026-03-14T21:55:00Z"))' ]
}

@test "kfl --vars lists every variable of KFL.md's table with its type" {
  run "$KFL" --vars
  [ "$status" -eq 0 ]
  [[ "$output" == *"status_code                      int"* ]]
  [[ "$output" == *"dns_questions                    list(string)"* ]]
  [[ "$output" == *"request.headers                  map(string, string)"* ]]
  [[ "$output" == *"timestamp                        timestamp"* ]]
  for v in src.ip dst.port protocol src.pod.namespace dst.service.name namespaces node local_labels id elapsed_time \
           capture_source has_pcap http grpc tlsx udp_flow method url path http_version query_string \
           grpc_method grpc_status dns_answers tlsx_sni tlsx_cipher_suites redis_key kafka_api_key_name \
           amqp_method ldap_summary diameter_total_size postgresql_success mysql_error_code mongodb_collection \
           ws_opcode tcp_error_type icmp_type udp_length conn_state conn_l7_detected flow_remote_bps \
           retransmissions connection_completeness goodput_bytes; do
    echo "$output" | grep -qE "^$v " || { echo "missing $v"; false; }
  done
}

@test "kfl reads gzip input transparently, from a file and from standard input, several members too" {
  gzip -c "$W/in.ndjson" > "$W/in.ndjson.gz"
  run "$KFL" -c http "$W/in.ndjson.gz"
  [ "$output" = 3 ]
  cat "$W/in.ndjson.gz" "$W/in.ndjson.gz" > "$W/two.gz"
  run bash -c "'$KFL' -c http < '$W/two.gz'"
  [ "$output" = 6 ]
  run "$KFL" dns "$W/in.ndjson.gz"
  [ "$output" = '{"id":"c","dns":true,"status_code":3}' ]
}

@test "kfl: corrupt or truncated gzip is an error naming the file" {
  gzip -c "$W/in.ndjson" > "$W/in.gz"
  head -c 30 "$W/in.gz" > "$W/cut.gz"
  run "$KFL" http "$W/cut.gz"
  [ "$status" -eq 2 ]
  [[ "$output" == *"kfl: $W/cut.gz: truncated gzip data"* ]]
}

@test "kfl: a line that is not JSON is an error naming file and line; --skip-invalid counts it" {
  { head -2 "$W/in.ndjson"; echo '{"id":"x","http":true,'; echo 'not json'; tail -2 "$W/in.ndjson"; } > "$W/bad.ndjson"
  run "$KFL" http "$W/bad.ndjson"
  [ "$status" -eq 2 ]
  [[ "$output" == *"kfl: $W/bad.ndjson:3: not a JSON object"* ]]
  run "$KFL" --skip-invalid -c http "$W/bad.ndjson"
  [ "$status" -eq 0 ]
  [[ "$output" == *"3"* ]]
  [[ "$output" == *"kfl: 2 lines were not JSON objects, skipped"* ]]
  run bash -c "echo '[1,2]' | '$KFL' true"
  [ "$status" -eq 2 ]
  [[ "$output" == *"kfl: (standard input):1: not a JSON object"* ]]
}

@test "kfl: invalid JSON is caught wherever it is in the line, also in fields the filter skips" {
  for bad in '{"a":1,}' '{"a":1' '{"a":tru}' '{"a":"x\q"}' '{"a":[1,2}' '{"a":01}' '{"a":1}x' '{"a" 1}' \
             '{"a":{"b":[1,{"c":nul}]}}' $'{"a":"tab\there"}' '{"a":1.}' '{"a":-}' '{"a":"\u12"}'; do
    run bash -c "printf '%s\n' '$bad' | '$KFL' 'http'"
    [ "$status" -eq 2 ] || { echo "accepted: $bad"; false; }
  done
  for good in '{}' ' {"a" : [ ] , "b":{ }} ' '{"a":"\u00e9\n\"\\\/"}' '{"a":-0.5e+3,"b":[true,false,null]}'; do
    run bash -c "printf '%s\n' '$good' | '$KFL' -c 'true'"
    [ "$output" = 1 ] || { echo "refused: $good"; false; }
  done
}

@test "kfl writes matching lines byte for byte, adds a newline only to an unterminated last line" {
  printf '{ "http" : true,"s":"caf\\u00e9 \\"x\\"" ,"n":1.50}\n\n   \n{"http":true}' > "$W/raw.ndjson"
  "$KFL" http "$W/raw.ndjson" > "$W/out"
  printf '{ "http" : true,"s":"caf\\u00e9 \\"x\\"" ,"n":1.50}\n{"http":true}\n' > "$W/want"
  cmp "$W/out" "$W/want"
}

@test "kfl: a missing file is reported, the others are still read, exit 2" {
  run "$KFL" -c http "$W/nope.ndjson" "$W/in.ndjson"
  [ "$status" -eq 2 ]
  [[ "$output" == *"kfl: $W/nope.ndjson: No such file or directory"* ]]
  [[ "$output" == *"$W/in.ndjson:3"* ]]
}

@test "kfl handles lines longer than its read buffer" {
  python3 -c 'import json; print(json.dumps({"pad": "x" * 3000000, "http": True, "status_code": 500})); print(json.dumps({"http": False}))' > "$W/long.ndjson"
  run "$KFL" -c 'http && status_code == 500' "$W/long.ndjson"
  [ "$output" = 1 ]
  run bash -c "cat '$W/long.ndjson' | '$KFL' -c 'size(request.body) == 0 && http'"
  [ "$output" = 1 ]
}

@test "kfl: a write error on standard output exits 3" {
  [ -w /dev/full ] || skip "no /dev/full"
  run bash -c "'$KFL' http '$W/in.ndjson' > /dev/full"
  [ "$status" -eq 3 ]
}

@test "kfl: the record's fields decode JSON escapes; keys with escapes are found" {
  printf '%s\n' '{"m\u0065thod":"G\u0045T","url":"/a\/b"}' > "$W/esc.ndjson"
  run "$KFL" -c 'method == "GET" && url == "/a/b"' "$W/esc.ndjson"
  [ "$output" = 1 ]
}

@test "kfl: the last occurrence of a repeated key wins (as jansson)" {
  echo '{"status_code":200,"status_code":500}' > "$W/dup.ndjson"
  run "$KFL" -c 'status_code == 500' "$W/dup.ndjson"
  [ "$output" = 1 ]
  [ "$(jq -c 'select(.status_code == 500)' "$W/dup.ndjson" | wc -l)" -eq 1 ]
}

@test "kfl: a field of the wrong JSON type does not match and is not an error" {
  echo '{"status_code":"500","http":"yes"}' > "$W/wt.ndjson"
  run "$KFL" 'status_code >= 500 || http' "$W/wt.ndjson"
  [ "$status" -eq 1 ]
  run "$KFL" -v 'status_code >= 500' "$W/wt.ndjson"
  [ "$status" -eq 0 ]
}

@test "kfl: memory stays flat over a large input" {
  # under ASan, freed memory waits in a quarantine: keep it small so the measure means something
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
  python3 -c '
import json
line = json.dumps({"http": True, "status_code": 500, "src": {"ip": "10.0.0.1", "pod": {"name": "p" * 200}}, "dns_questions": ["a.com"] * 20}) + "\n"
open("'"$W"'/big.ndjson", "w").write(line * 60000)'
  # kfl's peak RSS (VmHWM, KB): the input's writer holds the pipe open a moment after the data,
  # so kfl is still alive, with all the data read, when /proc is read for the last time
  peak() { # file → prints KB; kfl's count goes to $W/n
    ( cat "$1"; sleep 0.6 ) | "$KFL" -c 'http && "a.com" in dns_questions && src.pod.name.startsWith("pp")' > "$W/n" &
    local pid=$! hwm=0 v
    while kill -0 "$pid" 2>/dev/null; do
      v=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$v" ] && hwm=$v
      sleep 0.05
    done
    wait "$pid"
    echo "$hwm"
  }
  peak "$W/big.ndjson" > "$W/rss"
  [ "$(cat "$W/n")" = 60000 ]
  head -n 100 "$W/big.ndjson" > "$W/small.ndjson"
  peak "$W/small.ndjson" > "$W/rss2"
  [ "$(cat "$W/n")" = 100 ]
  echo "rss big $(cat "$W/rss") KB, small $(cat "$W/rss2") KB"
  [ "$(cat "$W/rss2")" -gt 0 ]
  [ "$(cat "$W/rss")" -lt $(( $(cat "$W/rss2") + 4096 )) ]
}

@test "kfl: on a long expression the caret line shows a window around the column" {
  e="http && $(printf 'status_code == 1 || %.0s' {1..10}) status_code = 2 || $(printf 'status_code == 3 || %.0s' {1..10}) false"
  run "$KFL" --check "$e"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "kfl: filter:1:222: unexpected '=' (comparison is '==')" ]
  [ "${lines[1]}" = " | ...= 1 || status_code == 1 || status_code == 1 ||  status_code = 2 || status_code == 3 || status_code == 3 || status_code =..." ]
  [ "${lines[2]}" = " |                                                                ^" ]
}

@test "kfl: an expression too large to be real is refused, not a crash" {
  python3 -c 'print("1" + "+1" * 5000 + " > 0")' > "$W/big.kfl"
  run "$KFL" --check -f "$W/big.kfl"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == *":1:2002: expression nested too deeply (chains of 1000 operations at most)" ]]
  python3 -c 'print("size(" + " + ".join(["[" + ", ".join(["1"] * 250) + "]"] * 20) + ") > 0")' > "$W/wide.kfl"
  run "$KFL" --check -f "$W/wide.kfl"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == *"expression too large (4000 terms at most)" ]]
  python3 -c 'print(" || ".join(["url == \"%d\"" % i for i in range(900)]))' > "$W/long.kfl"
  run "$KFL" -c -f "$W/long.kfl" "$W/in.ndjson"
  [ "$output" = 0 ]
  python3 -c 'print("(" * 5000 + "true" + ")" * 5000)' > "$W/deep.kfl"
  run "$KFL" --check -f "$W/deep.kfl"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == *"expression nested too deeply" ]]
}

@test "kfl: gzip is recognised even when a pipe delivers its first byte alone" {
  gzip -c "$W/in.ndjson" > "$W/in.gz"
  run bash -c "(head -c 1 '$W/in.gz'; sleep 0.2; tail -c +2 '$W/in.gz') | '$KFL' -c http"
  [ "$output" = 3 ]
  run bash -c "(printf '{'; sleep 0.2; printf '\"http\":true}\n') | '$KFL' -c http"
  [ "$output" = 1 ]
}

@test "kfl: reading a pipe, a selected line is written before kfl waits for more input" {
  mkfifo "$W/fifo"
  (
    exec 3> "$W/fifo"
    echo '{"http":true,"id":1}' >&3
    for _ in $(seq 100); do grep -q '"id":1' "$W/out" 2>/dev/null && { touch "$W/seen"; break; }; sleep 0.05; done
    echo '{"http":true,"id":2}' >&3
  ) &
  "$KFL" http < "$W/fifo" > "$W/out"
  wait
  [ -f "$W/seen" ]
  [ "$(wc -l < "$W/out")" -eq 2 ]
}
