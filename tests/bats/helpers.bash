# Shared bats helpers. Load with: load helpers
bats_load_library bats-support 2>/dev/null || load /usr/lib/bats/bats-support/load
bats_load_library bats-assert 2>/dev/null || load /usr/lib/bats/bats-assert/load
: "${KF_BIN:=$BATS_TEST_DIRNAME/../../bin}"
: "${KF_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${KF_CORPUS:=$KF_ROOT/tests/corpus}"
export TZ=UTC LC_ALL=C
SAMPLES=$KF_ROOT/samples

# Tests that need root, eBPF or network namespaces call this first. Without the means they skip
# loudly; with KF_REQUIRE_LIVE=1 (CI) that becomes a failure.
require_live() {
  local why=""
  [ "$(id -u)" -eq 0 ] || why="not root"
  [ -z "$why" ] && ! ip netns list >/dev/null 2>&1 && why="no network namespaces"
  if [ -n "$why" ]; then
    echo "# LIVE TEST NOT RUN: $BATS_TEST_DESCRIPTION: $why" >&3
    if [ "${KF_REQUIRE_LIVE:-0}" = 1 ]; then fail "KF_REQUIRE_LIVE=1 but live test cannot run: $why"; fi
    skip "live test needs root and netns: $why"
  fi
}

# stop_bounded PID [SECONDS]: SIGTERM, then wait at most SECONDS (10) for it to end; a process that
# ignores the signal is killed and the test fails (a capture that hangs must not hang the suite).
stop_bounded() {
  local pid=$1 n=$(( ${2:-10} * 10 ))
  kill -TERM "$pid" 2>/dev/null || true
  while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    fail "process $pid did not stop within ${2:-10} s of SIGTERM"
  fi
  wait "$pid"
}

# A network namespace owned by this test, removed in teardown via netns_cleanup.
netns_make() { # name
  local ns="kf$$_$1"
  ip netns add "$ns" && ip -n "$ns" link set lo up && echo "$ns"
}
netns_cleanup() { # kill processes inside, delete namespaces created by netns_make in this process
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^kf$$_"); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
    sleep 0.1
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
}

# The field registry's check on records a test produced (issue 13: tests fail when a record any
# test produces carries a key docs/fields.tsv lacks, or a duplicate key). fields.bats checks what
# kdissect writes over every capture in the tree; the live suites dissect captures that exist only
# while they run, so they check their records here. Give kdissect's own NDJSON, not jq's
# re-serialization of it (jq keeps one of two duplicate keys).
#   record_fields FILE...   the strict check now (empty or missing files pass: a test may expect
#                           no record); a bad key fails the test, naming the record
#   ... | keep_records | ...  a pipe stage: passes the NDJSON on and keeps a copy that
#   records_checked         (call it in teardown) checks
record_fields() {
  local f files=() out
  for f in "$@"; do [ -s "$f" ] && files+=("$f"); done
  [ ${#files[@]} -eq 0 ] && return 0
  out=$("$KF_ROOT/scripts/fields" records "${files[@]}" 2>&1) && return 0
  printf '%s\n' "$out" | tail -20 >&2
  fail "records this test produced carry keys the field registry lacks, or duplicate keys (docs/fields.tsv)"
}
keep_records() { tee -a "$BATS_TEST_TMPDIR/kept-records.ndjson"; }
records_checked() { record_fields "$BATS_TEST_TMPDIR/kept-records.ndjson"; }
# kdissect ARGS... with its NDJSON also kept for records_checked; returns kdissect's exit status
kdissect_kept() { "$KF_BIN/kdissect" "$@" | keep_records; return "${PIPESTATUS[0]}"; }

# tshark_http_calls FILE [tshark options]: "METHOD PATH STATUS" per HTTP/1 and HTTP/2 call tshark
# sees, sorted (HTTP/1: a response names its request's frame; HTTP/2: HEADERS frames, a response's
# stream the last one other than 0 listed in its packet: a WINDOW_UPDATE[0] may come after it)
tshark_http_calls() {
  local ts=(tshark -r "$@")
  {
    join -t ' ' \
      <("${ts[@]}" -Y http.request -T fields -E separator=' ' -e frame.number -e http.request.method -e http.request.uri 2>/dev/null | sort -k1,1) \
      <("${ts[@]}" -Y http.response -T fields -E separator=' ' -e http.request_in -e http.response.code 2>/dev/null | sort -k1,1) |
      cut -d' ' -f2-
    "${ts[@]}" -Y 'http2.type == 1' -T fields -E separator='|' -e tcp.stream -e http2.streamid -e http2.headers.method \
      -e http2.headers.path -e http2.headers.status 2>/dev/null |
      awk -F'|' '{ n = split($2, s, ","); while (n > 1 && s[n] == 0) n--; k = $1 "/" s[n]
                   if ($3 != "") { m[k] = $3; p[k] = $4 } if ($5 != "") st[k] = $5 }
                 END { for (k in m) print m[k], p[k], st[k] }'
  } | sort
}

# grpctls_capture W: the gRPC-over-TLS capture (tests/l7live/capture-grpctls.sh) into W/g and
# tshark's decryption of it with the key log into W/oracle (3 calls, grpc-status 0, 5, 12).
# The three calls happened (the script checks curl's answers), so an oracle without them is the
# live capture's fault, not the code under test's: CI saw it twice (unexplained; 0 in 180 runs here).
# Then what tshark saw is shown (# lines: its calls, the key log's connections, the capture's TCP
# connections and packets) and the capture is taken once more; a second such miss fails the test.
grpctls_capture() {
  local w=$1 try
  /usr/bin/python3 -c 'import grpc' 2>/dev/null || skip "python3-grpcio not installed"
  for try in 1 2; do
    rm -rf "$w/g"
    KF_BIN=$KF_BIN "$KF_ROOT/tests/l7live/capture-grpctls.sh" "$w/g" >"$w/capture.log" 2>&1 || fail "capture failed: $(cat "$w/capture.log")"
    tshark_grpc_calls "$w/g/grpctls.pcap" 50443 -o "tls.keylog_file:$w/g/grpctls.keys" >"$w/oracle"
    cat "$w/oracle" >&3
    [ "$(wc -l <"$w/oracle")" -eq 3 ] && [ "$(cut -d' ' -f4 "$w/oracle" | tr '\n' ' ')" = "0 5 12 " ] && return 0
    printf '# capture %d: tshark decrypted %s call(s), want 3 with grpc-status 0 5 12: %s\n' "$try" \
      "$(wc -l <"$w/oracle")" "$(tr '\n' ';' <"$w/oracle")" >&3
    printf '# key log: %s connections; capture: %s TCP connections, %s packets; capture log: %s\n' \
      "$(grep -c '^CLIENT_TRAFFIC_SECRET_0 ' "$w/g/grpctls.keys")" \
      "$(tshark -n -r "$w/g/grpctls.pcap" -T fields -e tcp.stream 2>/dev/null | sort -u | wc -l)" \
      "$(tshark -n -r "$w/g/grpctls.pcap" 2>/dev/null | wc -l)" "$(tr '\n' ';' <"$w/capture.log")" >&3
  done
  fail "tshark's decryption of two captures in a row lacked the 3 gRPC calls (see the # lines above)"
}

# grpc_calls_jq SELECT FILE: kdissect's gRPC calls in tshark_grpc_calls's form, sorted, of the
# records SELECT (a jq condition) keeps
grpc_calls_jq() {
  jq -r "select($1) | \"\\(.method) \\(.path) \\(.status_code) \\(.grpc_status) \\(.grpc_request_messages) \\(.grpc_response_messages) \\(.grpc_message // \"\")\"" "$2" | sort
}

# tshark_grpc_calls FILE PORT [tshark options]: "METHOD PATH STATUS GRPC_STATUS REQ_MSGS RESP_MSGS
# GRPC_MESSAGE" per gRPC call (HTTP/2 stream) tshark sees, sorted: grpc-status and grpc-message from
# the response's HEADERS frames (headers or trailers), the message counts from tshark's gRPC
# dissector (messages sent to PORT are requests). A packet's frames belong to one call (the last
# stream id other than 0): curl and gRPC open one connection per call here.
tshark_grpc_calls() {
  local f=$1 port=$2; shift 2
  local ts=(tshark -n -r "$f" "$@")
  {
    "${ts[@]}" -Y 'http2.type == 1' -T fields -E separator='|' -E aggregator=$'\x1f' -e tcp.stream -e http2.streamid \
      -e http2.headers.method -e http2.headers.path -e http2.headers.status -e http2.header.name -e http2.header.value 2>/dev/null |
      sed 's/^/H|/'
    "${ts[@]}" -Y grpc -T fields -E separator='|' -E occurrence=a -E aggregator=$'\x1f' -e tcp.stream -e http2.streamid \
      -e tcp.dstport -e grpc.message_length 2>/dev/null | sed 's/^/G|/'
  } | awk -F'|' -v port="$port" '
      { n = split($3, s, "\x1f"); while (n > 1 && s[n] == 0) n--; k = $2 "/" s[n] }   # not stream 0 (WINDOW_UPDATE[0] after)
      $1 == "H" { if ($4 != "") { m[k] = $4; p[k] = $5 } if ($6 != "") st[k] = $6
                  nn = split($7, hn, "\x1f"); split($8, hv, "\x1f")
                  for (i = 1; i <= nn; i++) { if (hn[i] == "grpc-status") gs[k] = hv[i]; if (hn[i] == "grpc-message") gm[k] = hv[i] } }
      $1 == "G" { c = split($5, x, "\x1f"); if ($4 == port) rq[k] += c; else rs[k] += c }
      END { for (k in m) print m[k], p[k], st[k], gs[k], rq[k] + 0, rs[k] + 0, gm[k] }' | sort
}
