#!/usr/bin/env bats
# kexport --calls: kdissect NDJSON records (docs/schema.md `capture`) select connections and
# calls. Hand-written records (tests/kexport/mkfixture.py) first; then the real pipeline
# kdissect | kfl | kexport, checked with tshark as the oracle.
load helpers

setup_file() {
  export FX=$BATS_FILE_TMPDIR/fx
  python3 "$KF_ROOT/tests/kexport/mkfixture.py" "$FX"
}
setup() { KX=$KF_BIN/kexport; W=$BATS_TEST_TMPDIR; cd "$FX"; }
npk() { tcpdump -# -n -r "$1" 2>/dev/null | grep -cE '^ *[0-9]+  '; }
codes() { tshark -r "$1" -Y http.response -T fields -e http.response.code 2>/dev/null | sort | tr '\n' ' '; }
n5xx() { jq -c 'select(.status_code >= 500)' calls.ndjson; }

@test "kexport --calls: the call's connection with handshake and teardown, not the other calls' data" {
  jq -c 'select(.path == "/a")' calls.ndjson > "$W/a.ndjson"
  run "$KX" --calls "$W/a.ndjson" worker-1.pcap -o "$W/a.pcapng"
  assert_success
  # all of conn A but the /b request and its 200 response (2 data packets): 14 - 2
  [ "$(npk "$W/a.pcapng")" -eq 12 ]
  [ "$(tshark -r "$W/a.pcapng" -Y 'tcp.port != 40000' 2>/dev/null | wc -l)" -eq 0 ]
  [ "$(tshark -r "$W/a.pcapng" -Y 'tcp.flags.syn == 1' 2>/dev/null | wc -l)" -eq 2 ]
  [ "$(tshark -r "$W/a.pcapng" -Y 'tcp.flags.fin == 1' 2>/dev/null | wc -l)" -eq 2 ]
  [ "$(codes "$W/a.pcapng")" = "503 " ]
}

@test "kexport --calls --scope whole: every packet of the connection" {
  jq -c 'select(.path == "/a")' calls.ndjson > "$W/a.ndjson"
  run "$KX" --calls "$W/a.ndjson" --scope whole worker-1.pcap -o "$W/w.pcapng"
  assert_success
  [ "$(npk "$W/w.pcapng")" -eq 14 ]
  [ "$(codes "$W/w.pcapng")" = "200 503 " ]
}

@test "kexport --calls --scope call: only the call's frames" {
  jq -c 'select(.path == "/a")' calls.ndjson > "$W/a.ndjson"
  run "$KX" --calls "$W/a.ndjson" --scope call worker-1.pcap -o "$W/c.pcapng"
  assert_success
  first=$(jq '.capture.first_frame' "$W/a.ndjson"); last=$(jq '.capture.last_frame' "$W/a.ndjson")
  [ "$(npk "$W/c.pcapng")" -eq $((last - first + 1)) ]
  # the same bytes as those frames of the input
  cmp <(tcpdump -r "$W/c.pcapng" -w - 2>/dev/null | tail -c +25) \
      <(editcap -r worker-1.pcap - "$first-$last" 2>/dev/null | tcpdump -r - -w - 2>/dev/null | tail -c +25)
}

@test "kexport --calls - reads standard input; 5xx records give exactly the 5xx responses" {
  run bash -c "jq -c 'select(.status_code >= 500)' calls.ndjson | '$KX' --calls - worker-1.pcap -o '$W/e.pcapng'"
  assert_success
  [ "$(codes "$W/e.pcapng")" = "500 503 " ]
}

@test "kexport --calls: gzip-compressed NDJSON (kdissect | gzip, kept for later) selects the same" {
  n5xx | gzip -c > "$W/e.ndjson.gz"
  run "$KX" --calls "$W/e.ndjson.gz" worker-1.pcap -o "$W/z.pcapng"
  assert_success
  [ "$(codes "$W/z.pcapng")" = "500 503 " ]
  # a line over KF_MAX_LINE is refused, naming the line and the limit, nothing written
  { head -1 calls.ndjson; python3 -c "print('{\"x\":\"' + 'a' * 1100000 + '\"}')"; } > "$W/long.ndjson"
  KF_MAX_LINE=1M run "$KX" --calls "$W/long.ndjson" worker-1.pcap -o "$W/l.pcapng"
  assert_failure 2
  assert_output --partial "long.ndjson:2: a line longer than"
  assert_output --partial "KF_MAX_LINE"
  [ ! -e "$W/l.pcapng" ]
}

@test "kexport --calls: the call is taken from the node that saw it" {
  jq -c 'select(.path == "/a")' calls.ndjson > "$W/a.ndjson"
  # worker-2 saw conn A too, but the record names worker-1
  run "$KX" --calls "$W/a.ndjson" worker-2.pcapng -o "$W/n.pcapng"
  assert_failure 1
  assert_output --partial "1 of 1 calls selected no packet (first: line 1)"
  [ "$(npk "$W/n.pcapng")" -eq 0 ]
}

@test "kexport --calls --annotate: a comment on the first packet of each call, with both sides" {
  run bash -c "jq -c 'select(.status_code >= 500)' calls.ndjson | '$KX' --calls - --annotate --meta meta-events.ndjson worker-1.pcap -o '$W/a.pcapng'"
  assert_success
  # (10.0.1.7 changed hands: two more comments say who held it, names.bats checks those)
  run bash -c "tshark -r '$W/a.pcapng' -T fields -e frame.comment -e http.request.uri 2>/dev/null | awk -F'\t' '\$1 != \"\"' | grep -v 'IP reused'"
  [ "${#lines[@]}" -eq 2 ]
  assert_line "HTTP GET /a -> 503 [fixture-0]: client web-1.prod (pod) 10.0.1.2:40000 -> server orders-594487879c-aaaaa.prod (Deployment orders) 10.0.1.7:8080	/a"
  assert_line "HTTP GET /c -> 500 [fixture-2]: client web-1.prod (pod) 10.0.1.2:40001 -> server payments-bbb.prod (pod) 10.0.1.7:8080	/c"
}

@test "kexport --calls: a line that is not JSON is an error naming the line; records without capture are skipped" {
  { head -1 calls.ndjson; echo '{"protocol":'; } > "$W/bad.ndjson"
  run "$KX" --calls "$W/bad.ndjson" worker-1.pcap -o "$W/x.pcapng"
  assert_failure 2
  assert_output --partial "bad.ndjson: line 2: not JSON"
  [ ! -e "$W/x.pcapng" ]
  { echo '{"protocol":"HTTP"}'; echo; head -1 calls.ndjson; } > "$W/skip.ndjson"
  run "$KX" --calls "$W/skip.ndjson" worker-1.pcap -o "$W/x.pcapng"
  assert_success
  assert_output --partial "1 of 2 records have no usable capture.conn (first: line 1); skipped"
  echo '{"protocol":"HTTP"}' > "$W/none.ndjson"
  run "$KX" --calls "$W/none.ndjson" worker-1.pcap -o "$W/y.pcapng"
  assert_failure 1
}

@test "kexport --calls: fuzz seeds replay without a crash" {
  t=${KF_REPLAY:-$KF_ROOT/build/fuzz-replay}/fuzz_kexport_calls
  [ -x "$t" ] || skip "replay target not built"
  run "$t" "$KF_ROOT/tests/fuzz/corpus/fuzz_kexport_calls"
  assert_success
}

# The issue's proof: kdissect CAP | kfl 'http && status_code >= 500' | kexport CAP --calls -
# finds in tshark exactly the responses kfl selected, and no other HTTP response.
pipeline() { # capture kfl-expression
  local cap=$1
  "$KF_BIN/kdissect" "$cap" > "$W/all.ndjson" 2>"$W/kd.err" || true
  [ -s "$W/all.ndjson" ] || return 2
  "$KF_BIN/kfl" "$2" < "$W/all.ndjson" > "$W/sel.ndjson" || true
  "$KX" "$cap" --calls - -o "$W/p.pcapng" < "$W/sel.ndjson"
}

check_pipeline() { # expr captures...
  local expr=$1 n=0 cap rc want got; shift
  for cap in "$@"; do
    [ -f "$cap" ] || continue
    rc=0; pipeline "$cap" "$expr" || rc=$?
    [ $rc -eq 2 ] && continue
    [ $rc -le 1 ] || fail "$(basename "$cap"): kexport exited $rc"
    # a call kdissect decrypted ("tls": true) comes with its whole connection (kexport keeps TLS
    # connections whole: record sequence numbers enter the nonce), so every response of it is there
    want=$(jq -rn --slurpfile sel "$W/sel.ndjson" --slurpfile all "$W/all.ndjson" '
      ([$sel[] | select(.tls) | .conn_id] | unique) as $tc
      | ($sel[] | select((.tls | not) and .status_code != null) | .status_code),
        ($all[] | select(.tls and .status_code != null and (.conn_id as $c | $tc | index($c))) | .status_code)' |
      sort | tr '\n' ' ')
    got=$(codes "$W/p.pcapng")
    echo "# $(basename "$cap") [$expr]: kfl selected [${want}], tshark finds [${got}]" >&3
    [ "$got" = "$want" ] || fail "$(basename "$cap"): responses [$got], want [$want]"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ]
}

@test "kexport: kdissect | kfl 'http && status_code >= 500' | kexport --calls - gives exactly those responses" {
  "$KF_BIN/kdissect" --help >/dev/null 2>&1 && "$KF_BIN/kfl" --help >/dev/null 2>&1 ||
    skip "kdissect or kfl not built yet"
  check_pipeline 'http && status_code >= 500' "$FX/worker-1.pcap" "$KF_ROOT"/samples/*.pcap*
}

@test "kexport: the pipeline on keep-alive connections keeps the other calls' responses out" {
  "$KF_BIN/kdissect" --help >/dev/null 2>&1 && "$KF_BIN/kfl" --help >/dev/null 2>&1 ||
    skip "kdissect or kfl not built yet"
  check_pipeline 'http && status_code >= 400' "$KF_CORPUS/http1/zeek__methods.pcap" "$FX/worker-1.pcap"
  # (HTTP/1 only: tshark does not find cleartext HTTP/2 on the samples' gRPC port by itself)
  check_pipeline 'http && protocol == "HTTP" && status_code < 300' "$FX/worker-1.pcap" "$KF_ROOT"/samples/*.pcap*
}

@test "kexport --calls on HTTPS: the TLS connection is kept whole and its key log carried, so tshark decrypts the call" {
  cap=$KF_ROOT/samples/node-worker-1-tls.pcapng
  [ -f "$cap" ] || skip "samples not made yet"
  # a record for the 503 call, made from what tshark decrypts (the sample carries a DSB)
  read -r rq rt cip cport sip sport < <(tshark -r "$cap" -Y 'http.request.uri == "/api/refunds"' \
      -T fields -e frame.number -e frame.time_epoch -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport 2>/dev/null)
  read -r sn st < <(tshark -r "$cap" -Y 'http.response.code == 503' -T fields -e frame.number -e frame.time_epoch 2>/dev/null)
  [ -n "$rq" ] && [ -n "$sn" ] || fail "tshark does not decrypt the sample"
  syn=$(tshark -r "$cap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e frame.time_epoch 2>/dev/null | head -1)
  iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.%NZ; }
  # conn_last_ts as a streaming writer knows it: the call's last packet (teardown comes later)
  jq -cn --arg a "$cip:$cport" --arg b "$sip:$sport" --arg f "$(iso "$rt")" --arg l "$(iso "$st")" \
    --arg c0 "$(iso "$syn")" --argjson ff "$rq" --argjson lf "$sn" \
    '{protocol:"HTTP",method:"GET",path:"/api/refunds",status_code:503,timestamp:$f,
      capture:{file:"node-worker-1-tls.pcapng",first_frame:$ff,last_frame:$lf,first_ts:$f,last_ts:$l,
               conn:{proto:"tcp",a:$a,b:$b},conn_first_ts:$c0,conn_last_ts:$l}}' > "$W/503.ndjson"
  run "$KX" --calls "$W/503.ndjson" "$cap" -o "$W/t.pcapng"
  assert_success
  [ "$(npk "$W/t.pcapng")" -eq "$(npk "$cap")" ]
  [[ "$(codes "$W/t.pcapng")" == *503* ]]
  # --scope call: only the call's frames
  run "$KX" --calls "$W/503.ndjson" --scope call "$cap" -o "$W/c.pcapng"
  assert_success
  [ "$(npk "$W/c.pcapng")" -eq $((sn - rq + 1)) ]
}

@test "kexport --calls on HTTP/2 (gRPC): the connection is kept whole, so Wireshark can decode its headers" {
  cap=$KF_ROOT/samples/node-worker-1-cni0.pcap
  [ -f "$cap" ] || skip "samples not made yet"
  "$KF_BIN/kdissect" "$cap" 2>/dev/null | "$KF_BIN/kfl" 'grpc' > "$W/g.ndjson" || true
  [ -s "$W/g.ndjson" ] || skip "no gRPC call found in the samples"
  jq -c 'select(.grpc_status != 0)' "$W/g.ndjson" | head -1 > "$W/one.ndjson"
  [ -s "$W/one.ndjson" ] || head -1 "$W/g.ndjson" > "$W/one.ndjson"
  port=$(jq -r '.capture.conn.b | sub(".*:"; "")' "$W/one.ndjson")
  cport=$(jq -r '.capture.conn.a | sub(".*:"; "")' "$W/one.ndjson")
  run "$KX" --calls "$W/one.ndjson" "$cap" -o "$W/g.pcapng"
  assert_success
  want=$(tshark -r "$cap" -Y "tcp.port == $port && tcp.port == $cport" 2>/dev/null | wc -l)
  [ "$(npk "$W/g.pcapng")" -eq "$want" ]
  [ "$(tshark -d "tcp.port==$port,http2" -r "$W/g.pcapng" -Y 'http2.type == 1' 2>/dev/null | wc -l)" -gt 0 ]
}
