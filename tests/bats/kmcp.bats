#!/usr/bin/env bats
# kmcp, the MCP server, driven by real MCP clients from npm (tests/mcp): the official TypeScript
# SDK's client over stdio and Streamable HTTP, the MCP Inspector CLI, the conformance suite.
# Oracles beside them: tshark (the exported packets), sha256sum, jq over the raw JSON-RPC.
load helpers
load kmcp

setup() {
  T=$BATS_TEST_TMPDIR
  STORE=$T/store
  SNAPS=$T/snaps
  mkdir -p "$SNAPS"
}

teardown() {
  [ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null
  [ -n "${KD_PID_FILE:-}" ] && [ -s "$KD_PID_FILE" ] && kill "$(cat "$KD_PID_FILE")" 2>/dev/null
  true
}

TOOLS="create_snapshot delete_snapshot export_snapshot_pcap get_api_call get_api_stats get_data_boundaries get_l4_flow_summary get_service_map get_snapshot get_snapshot_dissection_status list_api_calls list_ips list_l4_flows list_snapshot_dissections list_snapshots list_workloads start_snapshot_dissection"

# every tool once, over the sample store: the steps (JSON for client.mjs)
every_tool_steps() {
  cat <<'EOF'
[{"list":true},
 {"call":"get_data_boundaries","label":"b"},
 {"call":"create_snapshot","args":{"name":"inc-1","start_time":"$b.cluster.oldest","end_time":"$b.cluster.newest"}},
 {"call":"list_snapshots"},
 {"call":"get_snapshot","args":{"name":"inc-1"}},
 {"call":"start_snapshot_dissection","args":{"snapshot":"inc-1","wait_seconds":120},"progress":true},
 {"call":"get_snapshot_dissection_status","args":{"snapshot":"inc-1"}},
 {"call":"list_snapshot_dissections"},
 {"call":"list_api_calls","args":{"snapshot":"inc-1","kfl":"http && status_code >= 500"},"label":"c"},
 {"call":"get_api_call","args":{"snapshot":"inc-1","id":"$c.calls.0.id"}},
 {"call":"get_api_stats","args":{"snapshot":"inc-1","sort":"errors"}},
 {"call":"get_service_map","args":{"snapshot":"inc-1"}},
 {"call":"list_workloads","args":{"snapshot":"inc-1","namespace":"shop","labels":{"app":"orders"}}},
 {"call":"list_ips","args":{"snapshot":"inc-1","ip":"10.0.53.150"}},
 {"call":"list_l4_flows","args":{"snapshot":"inc-1","kfl":"tcp_error_type == \"refused\""}},
 {"call":"get_l4_flow_summary","args":{"snapshot":"inc-1"}},
 {"call":"export_snapshot_pcap","args":{"snapshot":"inc-1","kfl":"http && status_code >= 500","output":"5xx"}},
 {"call":"list_api_calls","args":{"snapshot":"inc-1","kfl":"http && status_code >= 500","limit":2},"label":"p1"},
 {"call":"list_api_calls","args":{"snapshot":"inc-1","kfl":"http && status_code >= 500","limit":2,"cursor":"$p1.next_cursor"}},
 {"call":"delete_snapshot","args":{"name":"inc-1"}}]
EOF
}

check_every_tool() {
  # tools/list: exactly the 17 tools, each with an object input schema
  [ "$(step 0 | jq -r '[.tools[].name] | sort | join(" ")')" = "$TOOLS" ]
  [ "$(step 0 | jq '[.tools[] | select(.inputSchema.type == "object")] | length')" -eq 17 ]
  # no step came back as a protocol error
  [ "$(jq -c 'select(.error)' "$T/out.jsonl" | wc -l)" -eq 0 ] || { jq -c 'select(.error)' "$T/out.jsonl"; false; }
  # boundaries: the sample's first packet, as tshark reads it
  first=$(tshark -r "$SAMPLES/node-worker-1-cni0.pcap" -c1 -T fields -e frame.time_epoch 2>/dev/null)
  [ "$(sc 1 '.cluster.oldest')" = "$(date -u -d "@${first%.*}" +%Y-%m-%dT%H:%M:%S).${first#*.}Z" ] || { sc 1 .; echo "tshark: $first"; false; }
  [ "$(sc 1 '.nodes[0].name')" = worker-1 ]
  [ "$(sc 2 '.packets')" -eq 363 ]
  [ "$(sc 3 '.snapshots | length')" -eq 1 ]
  [ "$(sc 4 '.verification.verified')" = true ]
  [ "$(sc 5 '.status')" = completed ]
  [ "$(sc 6 '.status')" = completed ]
  [ "$(sc 7 '.dissections[0].snapshot')" = inc-1 ]
  # the four failing calls of the sample (tshark counts them in the export below)
  [ "$(sc 8 '[.calls[].status_code] | sort | join(" ")')" = "500 500 502 503" ]
  [ "$(sc 8 '.truncated')" = false ]
  [ "$(sc 9 '.call.status_code')" -ge 500 ]
  [ "$(sc 9 '.call.id')" = "$(sc 8 '.calls[0].id')" ]
  # kstat: groups when it is installed, else one clear sentence
  if [ -x "$KF_BIN/kstat" ]; then
    [ "$(iserr 10)" = false ]
    [ "$(sc 10 '.groups | length')" -ge 1 ]
    [ "$(iserr 11)" = false ]
    [ "$(sc 11 '.edges | length')" -ge 1 ]
  else
    [ "$(iserr 10)" = true ]
    txt 10 | grep -q 'kstat is not installed'
  fi
  [ "$(sc 12 '.workloads[0].owner.name')" = orders ]
  # the reused IP: two holders, each with its interval
  [ "$(sc 13 '.ips[0].records | length')" -eq 2 ]
  [ "$(sc 14 '.flows | length')" -ge 1 ]
  [ "$(sc 14 '[.flows[].tcp_error_type] | unique | join(",")')" = refused ]
  [ "$(sc 15 '.connections')" -ge 1 ]
  [ "$(sc 15 '.tcp_errors.refused')" -ge 1 ]
  # the export: tshark sees exactly the 4 failing responses; size, packets and sha256 are right
  pcap=$(sc 16 '.path')
  [ "$pcap" = "$SNAPS/exports/5xx.pcapng" ]
  codes=$(tshark -r "$pcap" -Y http.response -T fields -e http.response.code 2>/dev/null | sort | tr '\n' ' ')
  [ "$codes" = "500 500 502 503 " ]
  [ "$(tshark -r "$pcap" 2>/dev/null | wc -l)" -eq "$(sc 16 '.packets')" ]
  [ "$(sha256sum "$pcap" | cut -d' ' -f1)" = "$(sc 16 '.sha256')" ]
  [ "$(stat -c %s "$pcap")" -eq "$(sc 16 '.size')" ]
  # pages: 2 + 2, no overlap, the same 4 calls, the last page not truncated
  [ "$(sc 17 '.truncated')" = true ]
  [ "$(sc 18 '.truncated')" = false ]
  all=$(sc 8 '[.calls[].id] | join(" ")')
  paged=$( (sc 17 '.calls[].id'; sc 18 '.calls[].id') | tr '\n' ' ')
  [ "$paged" = "$all " ]
  [ "$(sc 19 '.deleted')" = true ]
  [ ! -e "$SNAPS/inc-1.ksnap" ]
  [ ! -e "$SNAPS/inc-1.dissection" ]
}

@test "kmcp: --help, and bad usage exits 2" {
  run "$KF_BIN/kmcp" --help
  assert_success
  assert_output --partial "claude mcp add"
  run "$KF_BIN/kmcp"
  [ "$status" -eq 2 ]
  run "$KF_BIN/kmcp" --snapshots "$SNAPS" --http 10.1.2.3:9
  [ "$status" -eq 2 ]
  assert_output --partial "not a loopback address"
}

@test "kmcp: SDK client over stdio lists the 17 tools and calls every one" {
  need_mcp_clients
  make_sample_store "$STORE"
  mcp_stdio "$(every_tool_steps)" --store "$STORE" --snapshots "$SNAPS"
  [ "$(step -1 | jq -r .server.name)" = kforensics ]
  check_every_tool
}

start_http() { # ARGS…: kmcp --http on a free loopback port; sets URL, HTTP_PID
  "${KMCP:-$KF_BIN/kmcp}" --http 127.0.0.1:0 "$@" 2>"$T/http.err" 3>&- &
  HTTP_PID=$!
  for _ in $(seq 100); do grep -q 'listening on' "$T/http.err" && break; sleep 0.05; done
  URL=$(sed -n 's/^kmcp: listening on //p' "$T/http.err")
  [ -n "$URL" ] || { cat "$T/http.err"; false; }
}

@test "kmcp: SDK client over Streamable HTTP with a bearer token calls every tool; no token, wrong token, foreign Origin refused" {
  need_mcp_clients
  make_sample_store "$STORE"
  head -c 24 /dev/urandom | base64 > "$T/token"
  start_http --store "$STORE" --snapshots "$SNAPS" --token-file "$T/token"
  every_tool_steps | "$MCP_NODE" "$MCP_DIR/client.mjs" --http "$URL" --token "$T/token" >"$T/out.jsonl" 2>"$T/client.err" 3>&-
  check_every_tool
  init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
  hdrs=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
  [ "$(curl -s -o /dev/null -w '%{http_code}' "${hdrs[@]}" -d "$init" "$URL")" = 401 ]
  [ "$(curl -s -o /dev/null -w '%{http_code}' "${hdrs[@]}" -H 'Authorization: Bearer wrong-token-123456' -d "$init" "$URL")" = 401 ]
  tok=$(cat "$T/token")
  [ "$(curl -s -o /dev/null -w '%{http_code}' "${hdrs[@]}" -H "Authorization: Bearer $tok" -H 'Origin: http://evil.example' -d "$init" "$URL")" = 403 ]
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$URL")" = 405 ]
  # DNS rebinding: a Host naming another host is refused on a loopback server
  [ "$(curl -s -o /dev/null -w '%{http_code}' "${hdrs[@]}" -H "Authorization: Bearer $tok" -H 'Host: evil.example:8765' -d "$init" "$URL")" = 403 ]
  # without a session: 400; a made-up session: 404
  ping='{"jsonrpc":"2.0","id":2,"method":"ping"}'
  [ "$(curl -s -o /dev/null -w '%{http_code}' "${hdrs[@]}" -H "Authorization: Bearer $tok" -d "$ping" "$URL")" = 400 ]
  [ "$(curl -s -o /dev/null -w '%{http_code}' "${hdrs[@]}" -H "Authorization: Bearer $tok" -H 'Mcp-Session-Id: 0123' -d "$ping" "$URL")" = 404 ]
  # a session from initialize answers ping; DELETE ends it
  sid=$(curl -s -D - -o /dev/null "${hdrs[@]}" -H "Authorization: Bearer $tok" -d "$init" "$URL" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
  [ -n "$sid" ]
  run curl -s "${hdrs[@]}" -H "Authorization: Bearer $tok" -H "Mcp-Session-Id: $sid" -d "$ping" "$URL"
  [ "$(jq -c .result <<<"$output")" = '{}' ]
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $tok" -H "Mcp-Session-Id: $sid" "$URL")" = 200 ]
  [ "$(curl -s -o /dev/null -w '%{http_code}' "${hdrs[@]}" -H "Authorization: Bearer $tok" -H "Mcp-Session-Id: $sid" -d "$ping" "$URL")" = 404 ]
}

@test "kmcp: malformed JSON-RPC gets the spec's error codes; every listed protocol revision is negotiated" {
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  in='{not json
{"jsonrpc":"1.0","id":2,"method":"ping"}
{"jsonrpc":"2.0","id":3,"method":"no/such/method"}
{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}
{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"arguments":{}}}
[]
{"jsonrpc":"2.0","id":6,"method":"ping"}
{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}
{"jsonrpc":"2.0","method":"notifications/initialized"}'
  run raw "$in" --snapshots "$SNAPS"
  assert_success
  [ "$(jq -s 'length' <<<"$output")" -eq 8 ]       # the notification is not answered
  [ "$(jq -s -c '[.[] | select(.id == null) | .error.code] | sort' <<<"$output")" = '[-32700,-32600,-32600]' ]
  [ "$(jq -s -r '.[] | select(.id == 2) | .error.code' <<<"$output")" = -32600 ]
  [ "$(jq -s -r '.[] | select(.id == 3) | .error.code' <<<"$output")" = -32601 ]
  [ "$(jq -s -r '.[] | select(.id == 4) | .error.code' <<<"$output")" = -32602 ]
  [ "$(jq -s -r '.[] | select(.id == 5) | .error.code' <<<"$output")" = -32602 ]
  [ "$(jq -s -c '.[] | select(.id == 6) | .result' <<<"$output")" = '{}' ]
  for v in 2025-11-25 2025-06-18 2025-03-26 2024-11-05; do
    run raw "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$v\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}" --snapshots "$SNAPS"
    [ "$(jq -r .result.protocolVersion <<<"$output")" = "$v" ]
  done
  run raw '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' --snapshots "$SNAPS"
  [ "$(jq -r .result.protocolVersion <<<"$output")" = 2025-11-25 ]
  # 2024-11-05 has no structuredContent: the JSON rides in the text
  in='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}
{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_snapshots","arguments":{}}}'
  run raw "$in" --snapshots "$SNAPS"
  r=$(jq -s -c '.[] | select(.id == 2) | .result' <<<"$output")
  [ "$(jq 'has("structuredContent")' <<<"$r")" = false ]
  jq -r '.content[0].text' <<<"$r" | tail -1 | jq -e '.snapshots[0].name == "demo"'
}

@test "kmcp: bad tool input: wrong types, names and paths outside the roots, a KFL syntax error with its caret, no dissection yet" {
  need_mcp_clients
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  mkdir -p "$T/outside"
  cp "$SAMPLES/demo.ksnap" "$T/outside/secret.ksnap"
  steps='[
 {"call":"list_api_calls","args":{"snapshot":"demo"}},
 {"call":"start_snapshot_dissection","args":{"snapshot":"demo","wait_seconds":"soon"}},
 {"call":"get_snapshot","args":{"name":"../outside/secret"}},
 {"call":"get_snapshot","args":{"name":"/etc/passwd"}},
 {"call":"get_snapshot","args":{"name":42}},
 {"call":"start_snapshot_dissection","args":{"snapshot":"demo","wait_seconds":60}},
 {"call":"list_api_calls","args":{"snapshot":"demo","kfl":"http && status_code >= "}},
 {"call":"list_api_calls","args":{"snapshot":"demo","limit":"ten"}},
 {"call":"list_api_calls","args":{"snapshot":"demo","limit":100000}},
 {"call":"export_snapshot_pcap","args":{"snapshot":"demo","output":"../../escape","bpf_filter":"tcp"}},
 {"call":"export_snapshot_pcap","args":{"snapshot":"demo","bpf_filter":"tcp port ("}},
 {"call":"get_api_call","args":{"snapshot":"demo","id":"81454e68b61294f3-999999"}},
 {"call":"list_api_calls","args":{"snapshot":"demo","cursor":"garbage"}},
 {"call":"create_snapshot","args":{"name":"x","duration":"1h"}},
 {"call":"list_workloads","args":{"snapshot":"demo","labels":17}},
 {"call":"list_api_calls","args":{"snapshot":"demo","start_time":"yesterday-ish"}}]'
  mcp_stdio "$steps" --snapshots "$SNAPS"
  [ "$(jq -c 'select(.error)' "$T/out.jsonl" | wc -l)" -eq 0 ]
  for i in $(seq 0 15); do [ "$i" = 5 ] && continue; [ "$(iserr $i)" = true ] || { step $i; false; }; done
  txt 0 | grep -q 'call start_snapshot_dissection first'
  txt 1 | grep -q "'wait_seconds' must be an integer"
  txt 2 | grep -q 'is not valid'
  txt 3 | grep -q 'is not valid'
  txt 4 | grep -q "'name' must be a string"
  [ "$(sc 5 .status)" = completed ]
  # the caret message of kfl comes back whole
  txt 6 | grep -q 'The KFL filter is not valid: filter:1:24: expected an operand'
  txt 6 | grep -q '^ |  *\^$'
  txt 7 | grep -q "'limit' must be an integer"
  txt 8 | grep -q "'limit' must be between 1 and 1000"
  txt 9 | grep -q 'is not valid'
  txt 10 | grep -qi 'kexport'
  txt 11 | grep -q 'No call with id'
  txt 12 | grep -q 'cursor'
  txt 13 | grep -q 'without --store'
  txt 14 | grep -q "'labels' must be a list of strings"
  txt 15 | grep -q "'start_time'"
  # nothing was written outside the roots, no half-written export is left
  [ -z "$(find "$T" -name '*escape*')" ]
  [ -z "$(find "$SNAPS/exports" -name '.*' -type f)" ]
}

@test "kmcp: a snapshot that fails verification: get_snapshot says so, its dissection fails, nothing is left" {
  need_mcp_clients
  cp "$SAMPLES/demo.ksnap" "$SNAPS/bad.ksnap"
  chmod u+w "$SNAPS/bad.ksnap"
  sz=$(stat -c %s "$SNAPS/bad.ksnap")
  printf '\xff\xff\xff\xff' | dd of="$SNAPS/bad.ksnap" bs=1 seek=$((sz / 2)) conv=notrunc 2>/dev/null
  mcp_stdio '[{"call":"get_snapshot","args":{"name":"bad"}},{"call":"start_snapshot_dissection","args":{"snapshot":"bad","wait_seconds":60}},{"call":"list_api_calls","args":{"snapshot":"bad"}}]' --snapshots "$SNAPS"
  [ "$(iserr 0)" = true ]
  [ "$(sc 0 .verification.verified)" = false ]
  txt 0 | grep -q 'FAILED verification'
  [ "$(iserr 1)" = true ]
  [ "$(sc 1 .status)" = failed ]
  sc 1 .error | grep -q 'verification'
  txt 2 | grep -q 'failed'
  [ -z "$(ls -A "$SNAPS" | grep -v '^bad.ksnap$' | grep -v '^exports$')" ] || { ls -la "$SNAPS"; false; }
}

# a bin folder where kdissect writes its records, then hangs (a long dissection on a small input)
slow_bin() {
  mkdir -p "$T/bin"
  cp "$KF_BIN/kmcp" "$T/bin/kmcp"
  for t in ksnap kfl kresolve kexport kstat; do [ -x "$KF_BIN/$t" ] && ln -s "$KF_BIN/$t" "$T/bin/$t"; done
  KD_PID_FILE=$T/kd.pid
  cat > "$T/bin/kdissect" <<EOF
#!/bin/sh
"$KF_BIN/kdissect" "\$@"
echo \$\$ > "$KD_PID_FILE"
exec sleep 60
EOF
  chmod +x "$T/bin/kdissect"
}

@test "kmcp: a client that disconnects mid-dissection: the dissection stops, nothing half-written, a restart starts clean" {
  slow_bin
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  mkfifo "$T/in"
  "$T/bin/kmcp" --snapshots "$SNAPS" <"$T/in" >"$T/out" 2>"$T/err" 3>&- &
  kp=$!
  exec 4>"$T/in"
  echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' >&4
  echo '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"start_snapshot_dissection","arguments":{"snapshot":"demo"}}}' >&4
  for _ in $(seq 200); do [ -s "$KD_PID_FILE" ] && break; sleep 0.05; done
  [ -s "$KD_PID_FILE" ]
  [ -d "$SNAPS/.demo.dissection.tmp" ]
  exec 4>&-                                   # the client goes away
  for _ in $(seq 100); do kill -0 $kp 2>/dev/null || break; sleep 0.05; done
  ! kill -0 $kp 2>/dev/null
  wait $kp
  ! kill -0 "$(cat "$KD_PID_FILE")" 2>/dev/null    # its child was ended
  [ -z "$(ls -A "$SNAPS" | grep -v -e '^demo.ksnap$' -e '^exports$')" ] || { ls -la "$SNAPS"; false; }
  run raw '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_snapshot_dissection_status","arguments":{"snapshot":"demo"}}}' --snapshots "$SNAPS"
  [ "$(jq -r .result.structuredContent.status <<<"$output")" = not_started ]
}

@test "kmcp: progress notifications while waiting; a cancelled wait stops the dissection it started and keeps nothing" {
  need_mcp_clients
  slow_bin
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  steps='[{"call":"start_snapshot_dissection","args":{"snapshot":"demo","wait_seconds":60},"progress":true,"cancel_after_ms":2500},
          {"sleep_ms":1000},
          {"call":"get_snapshot_dissection_status","args":{"snapshot":"demo"}},
          {"call":"list_api_calls","args":{"snapshot":"demo"}}]'
  printf '%s' "$steps" | "$MCP_NODE" "$MCP_DIR/client.mjs" --stdio "$T/bin/kmcp" --snapshots "$SNAPS" >"$T/out.jsonl" 2>"$T/client.err" 3>&-
  # the SDK reports the cancellation as an error of the call; progress came before it
  step 0 | jq -e '.error.message | test("cancel|abort"; "i")'
  [ "$(sc 2 .status)" = not_started ] || { step 2; false; }
  txt 3 | grep -q 'start_snapshot_dissection'
  ! kill -0 "$(cat "$KD_PID_FILE")" 2>/dev/null
  [ -z "$(ls -A "$SNAPS" | grep -v -e '^demo.ksnap$' -e '^exports$')" ] || { ls -la "$SNAPS"; false; }
  # progress: the same wait, not cancelled, for 2 s: notifications with a total of 100
  steps='[{"call":"start_snapshot_dissection","args":{"snapshot":"demo","wait_seconds":2},"progress":true}]'
  printf '%s' "$steps" | "$MCP_NODE" "$MCP_DIR/client.mjs" --stdio "$T/bin/kmcp" --snapshots "$SNAPS" >"$T/out.jsonl" 2>"$T/client.err" 3>&-
  [ "$(sc 0 .status)" = running ]
  [ "$(sc 0 .records)" -ge 100 ]
  [ "$(step 0 | jq '.progress | length')" -ge 1 ]
  [ "$(step 0 | jq '.progress[0].total')" -eq 100 ]
  step 0 | jq -e '.progress[-1].message | test("dissecting: [0-9]+ records")'
}

@test "kmcp: progress over Streamable HTTP comes as an event stream before the answer" {
  need_mcp_clients
  slow_bin
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  KMCP=$T/bin/kmcp start_http --snapshots "$SNAPS"
  echo '[{"call":"start_snapshot_dissection","args":{"snapshot":"demo","wait_seconds":2},"progress":true}]' |
    "$MCP_NODE" "$MCP_DIR/client.mjs" --http "$URL" >"$T/out.jsonl" 2>"$T/client.err" 3>&-
  [ "$(sc 0 .status)" = running ]
  [ "$(step 0 | jq '.progress | length')" -ge 1 ]
  # the same with curl: text/event-stream, the progress notification, then the answer
  init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
  hdrs=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
  sid=$(curl -s -D - -o /dev/null "${hdrs[@]}" -d "$init" "$URL" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
  call='{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"get_snapshot_dissection_status","arguments":{"snapshot":"demo","wait_seconds":1},"_meta":{"progressToken":"p1"}}}'
  curl -s -D "$T/h" "${hdrs[@]}" -H "Mcp-Session-Id: $sid" -d "$call" "$URL" >"$T/sse"
  grep -qi '^content-type: text/event-stream' "$T/h"
  sed -n 's/^data: //p' "$T/sse" | head -1 | jq -e '.method == "notifications/progress" and .params.progressToken == "p1"'
  sed -n 's/^data: //p' "$T/sse" | tail -1 | jq -e '.id == 9 and .result.structuredContent.status == "running"'
}

@test "kmcp: an HTTP client that disconnects while waiting for its dissection: the dissection stops, nothing is left" {
  slow_bin
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  KMCP=$T/bin/kmcp start_http --snapshots "$SNAPS"
  init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
  hdrs=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
  sid=$(curl -s -D - -o /dev/null "${hdrs[@]}" -d "$init" "$URL" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
  call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"start_snapshot_dissection","arguments":{"snapshot":"demo","wait_seconds":60}}}'
  run curl -s --max-time 2 "${hdrs[@]}" -H "Mcp-Session-Id: $sid" -d "$call" "$URL"
  [ "$status" -eq 28 ]                          # curl gave up: the connection is closed
  status_call='{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_snapshot_dissection_status","arguments":{"snapshot":"demo"}}}'
  for _ in $(seq 50); do
    st=$(curl -s "${hdrs[@]}" -H "Mcp-Session-Id: $sid" -d "$status_call" "$URL" | jq -r .result.structuredContent.status)
    [ "$st" = not_started ] && break
    sleep 0.1
  done
  [ "$st" = not_started ]
  ! kill -0 "$(cat "$KD_PID_FILE")" 2>/dev/null
  [ -z "$(ls -A "$SNAPS" | grep -v -e '^demo.ksnap$' -e '^exports$')" ] || { ls -la "$SNAPS"; false; }
}

@test "kmcp: every time form the CLIs take (epoch ms as a number, local time, RFC 3339 with an offset) selects the same calls jq does" {
  need_mcp_clients
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  from_ms=$(date -u -d 2026-11-26T06:55:50Z +%s)000
  steps='[{"call":"start_snapshot_dissection","args":{"snapshot":"demo","wait_seconds":60}},
 {"call":"list_api_calls","args":{"snapshot":"demo","kfl":"http","start_time":'$from_ms',"end_time":"2026-11-26 06:55:55.4"}},
 {"call":"list_api_calls","args":{"snapshot":"demo","kfl":"http","start_time":"2026-11-26T08:55:50+02:00","end_time":"2026-11-26T06:55:55.400Z"}}]'
  mcp_stdio "$steps" --snapshots "$SNAPS"
  want=$(zcat "$SNAPS/demo.dissection/calls.ndjson.gz" | jq -r 'select(.http and .timestamp >= "2026-11-26T06:55:50" and .timestamp <= "2026-11-26T06:55:55.4") | .id' | tr '\n' ' ')
  [ -n "$want" ]
  [ "$(sc 1 '.calls[].id' | tr '\n' ' ')" = "$want" ]
  [ "$(sc 2 '.calls[].id' | tr '\n' ' ')" = "$want" ]
}

@test "kmcp: results are capped by bytes too: truncated, a cursor, and the pages add up to every call" {
  need_mcp_clients
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  steps='[{"call":"start_snapshot_dissection","args":{"snapshot":"demo","wait_seconds":60}},
 {"call":"list_api_calls","args":{"snapshot":"demo","limit":1000},"label":"p1"},
 {"call":"list_api_calls","args":{"snapshot":"demo","limit":1000,"cursor":"$p1.next_cursor"},"label":"p2"},
 {"call":"list_api_calls","args":{"snapshot":"demo","limit":1000,"cursor":"$p2.next_cursor"},"label":"p3"},
 {"call":"list_api_calls","args":{"snapshot":"demo","limit":1000,"cursor":"$p3.next_cursor"},"label":"p4"},
 {"call":"list_api_calls","args":{"snapshot":"demo","limit":1000,"cursor":"$p4.next_cursor"}}]'
  # the dissection in gzip members of 4 KiB of records (index.tsv says where each starts), so
  # the pages after a cursor start reading in the middle of the file
  KMCP_CHUNK_BYTES=4096 mcp_stdio "$steps" --snapshots "$SNAPS" --max-bytes 16K
  [ "$(wc -l < "$SNAPS/demo.dissection/index.tsv")" -ge 10 ]
  [ "$(zcat "$SNAPS/demo.dissection/calls.ndjson.gz" | wc -l)" -eq "$("$KF_BIN/kdissect" "$SNAPS/demo.ksnap" | wc -l)" ]
  [ "$(sc 1 .truncated)" = true ]
  [ "$(sc 1 .truncated_by)" = bytes ]
  got= last=0
  for i in 1 2 3 4 5; do
    step $i | jq -e '(.result.structuredContent | tostring | length) <= 16384' >/dev/null
    got+=$(sc $i '.calls[].id' | tr '\n' ' ')
    [ "$(sc $i .truncated)" = false ] && { last=$i; break; }
  done
  [ "$last" -ge 2 ]                     # more than one page, and the last one says so
  want=$(zcat "$SNAPS/demo.dissection/calls.ndjson.gz" | jq -r 'select((.conn // false | not) and (.flow // false | not)) | .id' | tr '\n' ' ')
  [ "$got" = "$want" ] || { echo "got  $got"; echo "want $want"; false; }
  # every call found by its id from its member
  ids=$(zcat "$SNAPS/demo.dissection/calls.ndjson.gz" | jq -r .id | awk 'NR % 9 == 1')
  steps=$(for id in $ids; do printf '{"call":"get_api_call","args":{"snapshot":"demo","id":"%s"}}\n' "$id"; done | jq -s -c .)
  mcp_stdio "$steps" --snapshots "$SNAPS"
  [ "$(jq -r '.result.structuredContent.call.id' "$T/out.jsonl" | grep -v null | tr '\n' ' ')" = "$(echo $ids) " ]
}

@test "kmcp: killed mid-dissection (SIGKILL): the next start removes the half-written folder" {
  slow_bin
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  mkfifo "$T/in"
  "$T/bin/kmcp" --snapshots "$SNAPS" <"$T/in" >"$T/out" 2>"$T/err" 3>&- &
  kp=$!
  exec 4>"$T/in"
  echo '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"start_snapshot_dissection","arguments":{"snapshot":"demo"}}}' >&4
  for _ in $(seq 200); do [ -s "$KD_PID_FILE" ] && break; sleep 0.05; done
  [ -d "$SNAPS/.demo.dissection.tmp" ]
  kill -9 $kp
  wait $kp || true
  exec 4>&-
  kill "$(cat "$KD_PID_FILE")"
  [ -d "$SNAPS/.demo.dissection.tmp" ]
  run raw '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_snapshot_dissection_status","arguments":{"snapshot":"demo"}}}' --snapshots "$SNAPS"
  [ "$(jq -r .result.structuredContent.status <<<"$output")" = not_started ]
  [ ! -e "$SNAPS/.demo.dissection.tmp" ]
  # and a new dissection completes (with the real kdissect) and survives a restart
  run raw '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"start_snapshot_dissection","arguments":{"snapshot":"demo","wait_seconds":60}}}' --snapshots "$SNAPS"
  [ "$(jq -r .result.structuredContent.status <<<"$output")" = completed ]
  run raw '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_snapshot_dissections","arguments":{}}}' --snapshots "$SNAPS"
  [ "$(jq -r '.result.structuredContent.dissections[0].status' <<<"$output")" = completed ]
  [ "$(jq -r '.result.structuredContent.dissections[0].api_calls' <<<"$output")" -eq "$(zcat "$SNAPS/demo.dissection/calls.ndjson.gz" | jq -s '[.[] | select((.conn // false) == false and (.flow // false) == false)] | length')" ]
}

@test "kmcp: the MCP Inspector CLI lists the tools and calls one" {
  need_mcp_clients
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  run timeout 120 mcp-inspector --cli "$KF_BIN/kmcp" --snapshots "$SNAPS" --method tools/list
  assert_success
  [ "$(sed -n '/^{/,/^}/p' <<<"$output" | jq -r '[.tools[].name] | sort | join(" ")')" = "$TOOLS" ]
  run timeout 120 mcp-inspector --cli "$KF_BIN/kmcp" --snapshots "$SNAPS" --method tools/call --tool-name start_snapshot_dissection --tool-arg snapshot=demo wait_seconds=60
  assert_success
  run timeout 120 mcp-inspector --cli "$KF_BIN/kmcp" --snapshots "$SNAPS" --method tools/call --tool-name list_api_calls --tool-arg snapshot=demo 'kfl=dns && dns_rcode == "NXDOMAIN"'
  assert_success
  n=$(sed -n '/^{/,/^}/p' <<<"$output" | jq '.structuredContent.calls | length')
  [ "$n" -eq "$(zcat "$SNAPS/demo.dissection/calls.ndjson.gz" | jq -s '[.[] | select(.dns_rcode == "NXDOMAIN")] | length')" ]
  [ "$n" -ge 1 ]
}

# the conformance suite's server scenarios that apply to a server with tools only (the others
# test example tools, resources, prompts, sampling or elicitation a conformance server must have)
CONFORMANCE_SCENARIOS="server-initialize ping tools-list logging-set-level resources-list prompts-list dns-rebinding-protection server-sse-multiple-streams"

@test "kmcp: the conformance suite's server scenarios that apply pass (Streamable HTTP)" {
  need_mcp_clients
  cp "$SAMPLES/demo.ksnap" "$SNAPS/"
  start_http --snapshots "$SNAPS"
  for s in $CONFORMANCE_SCENARIOS; do
    run timeout 120 conformance server --url "$URL" --scenario "$s"
    echo "$output" | tail -3
    assert_success
    assert_output --regexp 'Passed: ([0-9]+)/\1, 0 failed'
  done
}
