#!/usr/bin/env bats
# kstat on a live capture: real HTTP/1 (with 5xx), gRPC (with a failing call), DNS (NOERROR,
# NXDOMAIN, REFUSED) and Redis (with an error reply) clients and servers in a network namespace
# this test creates, captured with tcpdump on its loopback, dissected by kdissect. Judges: what
# the clients were told to do, the Python oracle (tests/kstat/oracle.py) over the same records,
# and `tshark -z http,stat` on the same capture.
# Debian packages: tcpdump tshark python3 curl dnsmasq-base dnsutils redis-server redis-tools
# nodejs npm (npm: @grpc/grpc-js via tests/l7/grpc/setup.sh).
load helpers

setup() {
  require_live
  for t in tcpdump tshark curl dig dnsmasq redis-server redis-cli; do command -v $t >/dev/null || skip "$t not installed"; done
  NS=$(netns_make kstat)
  W=$BATS_TEST_TMPDIR
}

teardown() { netns_cleanup; }

in_ns() { ip netns exec "$NS" "$@"; }
wait_for() { # file text : until the server's log says it listens (5 s)
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "server did not start: $(cat "$1")"; return 1
}

@test "live kstat: HTTP/1, gRPC, DNS and Redis in a netns: counts, errors and exact percentiles as the oracle; HTTP statuses as tshark -z http,stat" {
  NP=$("$KF_ROOT/tests/l7/grpc/setup.sh") || skip "npm could not install @grpc/grpc-js"
  in_ns python3 "$KF_ROOT/tests/kstat/http_server.py" 127.0.0.1 8080 > "$W/http.log" 2>&1 &
  in_ns env NODE_PATH="$NP" node "$KF_ROOT/tests/l7/grpc/server.js" 127.0.0.1:50051 > "$W/gs.log" 2>&1 &
  in_ns redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize no > "$W/redis.log" 2>&1 &
  in_ns dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.1 --port=53 \
    --address=/ok.kf.test/10.9.8.7 --address=/ghost.kf.test/ --local=/kf.test/ --log-facility=- > "$W/dns.log" 2>&1 &
  wait_for "$W/http.log" listening
  wait_for "$W/gs.log" listening
  for _ in $(seq 100); do in_ns redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.05; done
  for _ in $(seq 100); do in_ns dig @127.0.0.1 +tries=1 +time=1 +short ok.kf.test 2>/dev/null | grep -q 10.9.8.7 && break; sleep 0.05; done

  ip netns exec "$NS" tcpdump -i lo --immediate-mode -U -s 0 -w "$W/live.pcap" "tcp or udp" 2> "$W/tcpdump.log" &
  tp=$!
  wait_for "$W/tcpdump.log" listening
  # HTTP/1: 5 x 200, 5 x 200 on /items/N, 3 x 404, 4 x 500, 2 x 503
  u=http://127.0.0.1:8080 urls=()
  for i in 1 2 3 4 5; do urls+=(-o /dev/null "$u/ok" -o /dev/null "$u/items/$((i * 1000 + 7))"); done
  for i in 1 2 3; do urls+=(-o /dev/null "$u/missing"); done
  for i in 1 2 3 4; do urls+=(-o /dev/null "$u/boom"); done
  for i in 1 2; do urls+=(-o /dev/null "$u/busy"); done
  in_ns curl -s "${urls[@]}"
  in_ns curl -s -o /dev/null -X POST http://127.0.0.1:8080/boom
  # gRPC: 20 SayHello (ok), Find (NOT_FOUND: an error inside HTTP 200), a Count stream
  in_ns env NODE_PATH="$NP" node "$KF_ROOT/tests/l7/grpc/client.js" 127.0.0.1:50051 20 > "$W/gc.log"
  [ "$(cat "$W/gc.log")" = "ok 20" ]
  # DNS: 3 answered, 2 NXDOMAIN, 1 REFUSED (no upstream: an error)
  for n in ok.kf.test ok.kf.test ok.kf.test ghost.kf.test ghost.kf.test example.org; do
    in_ns dig @127.0.0.1 +tries=1 +time=2 +retry=0 "$n" > /dev/null || true
  done
  # Redis: SET, GET, INCR on a string (an error reply), pipelined SET/INCR/GET
  cli="in_ns redis-cli -p 6379"
  $cli SET session:42 alice > /dev/null
  $cli GET session:42 > /dev/null
  $cli INCR session:42 > /dev/null || true
  printf 'SET a 1\r\nINCR a\r\nGET a\r\n' | $cli --pipe > /dev/null
  sleep 0.3
  kill -INT $tp; wait $tp || true

  "$KF_BIN/kdissect" "$W/live.pcap" > "$W/r.ndjson"
  record_fields "$W/r.ndjson"   # every key registered, none twice (issue 13)
  "$KF_BIN/kstat" --json "$W/r.ndjson" > "$W/k"
  python3 "$KF_ROOT/tests/kstat/oracle.py" < "$W/r.ndjson" > "$W/o"
  run python3 "$KF_ROOT/tests/kstat/compare.py" "$W/k" "$W/o"
  echo "$output"
  [ "$status" -eq 0 ]

  # the ground truth, per protocol
  "$KF_BIN/kstat" --json --by protocol "$W/r.ndjson" > "$W/p"
  cat "$W/p"
  pj() { jq -r --arg p "$1" "select(.key.protocol == \$p) | $2" "$W/p"; }
  # HTTP: 20 requests sent, 7 answered 5xx, 3 answered 404 — as tshark reads the capture (a
  # loaded machine may lose a packet; then both see the same loss)
  [ "$(pj HTTP .calls)" -eq "$(tshark -r "$W/live.pcap" -Y 'http.request' 2>/dev/null | wc -l)" ]
  [ "$(pj HTTP .errors)" -eq "$(tshark -r "$W/live.pcap" -Y 'http.response.code >= 500' 2>/dev/null | wc -l)" ]
  [ "$(pj HTTP .client_errors)" -eq "$(tshark -r "$W/live.pcap" -Y 'http.response.code >= 400 && http.response.code < 500' 2>/dev/null | wc -l)" ]
  [ "$(pj HTTP .calls)" -ge 19 ]
  [ "$(pj HTTP .errors)" -ge 6 ]
  [ "$(pj GRPC .calls)" -eq 22 ]
  [ "$(pj GRPC .errors)" -eq 1 ]            # NOT_FOUND, HTTP status 200
  [ "$(jq -s 'map(select(.protocol == "GRPC" and .grpc_status != 0)) | .[0].status_code' "$W/r.ndjson")" -eq 200 ]
  [ "$(pj DNS .calls)" -ge 6 ]              # dig's own retries may add some
  [ "$(pj DNS .nxdomain)" -eq "$(jq -s 'map(select(.dns_rcode == "NXDOMAIN")) | length' "$W/r.ndjson")" ]
  [ "$(pj DNS .nxdomain)" -ge 2 ]
  [ "$(pj DNS .errors)" -ge 1 ]
  [ "$(pj REDIS .errors)" -eq 1 ]
  "$KF_BIN/kfl" redis "$W/r.ndjson" | "$KF_BIN/kstat" --json --by endpoint > "$W/redis"
  [ "$(jq -r 'select(.key.endpoint == "SET") | .calls' "$W/redis")" -eq 2 ]
  [ "$(jq -r 'select(.key.endpoint == "GET") | .calls' "$W/redis")" -eq 2 ]
  [ "$(jq -r 'select(.key.endpoint == "INCR") | "\(.calls) \(.errors)"' "$W/redis")" = "2 1" ]
  # the 503s waited 20 ms: the p99 of HTTP is at least that
  [ "$(pj HTTP .p99_us)" -ge 20000 ]
  # templated endpoint
  [ "$("$KF_BIN/kstat" --json --by endpoint "$W/r.ndjson" | jq -r 'select(.key.endpoint == "GET /items/{id}") | .calls')" -eq 5 ]

  # HTTP responses by status as tshark counts them (-z http,stat), and requests by method
  tshark -r "$W/live.pcap" -q -z http,stat 2>/dev/null > "$W/ts"
  cat "$W/ts"
  t=$(sed -n '/Response Status Codes/,/Request Methods/p' "$W/ts" | awk '$1 ~ /^[0-9][0-9][0-9]$/ {print $1, $NF}' | sort)
  k=$("$KF_BIN/kfl" 'protocol == "HTTP" && status_code > 0' "$W/r.ndjson" | "$KF_BIN/kstat" --json --by status_code | jq -r '"\(.key.status_code) \(.calls)"' | sort)
  [ -n "$t" ]
  [ "$t" = "$k" ] || { diff <(echo "$t") <(echo "$k"); false; }
  t=$(sed -n '/Request Methods/,$p' "$W/ts" | awk '$1 ~ /^[A-Z]+$/ && NF == 2 {print $1, $2}' | sort)
  k=$("$KF_BIN/kfl" 'protocol == "HTTP"' "$W/r.ndjson" | "$KF_BIN/kstat" --json --by method | jq -r '"\(.key.method) \(.calls)"' | sort)
  [ "$t" = "$k" ] || { diff <(echo "$t") <(echo "$k"); false; }

  # the map: one edge per protocol between the loopback "workloads" (IPs here)
  "$KF_BIN/kstat" map --format json "$W/r.ndjson" > "$W/m"
  [ "$(jq '[.edges[] | select(.protocol == "HTTP")] | .[0].errors' "$W/m")" -eq "$(pj HTTP .errors)" ]
}
