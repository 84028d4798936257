#!/usr/bin/env bash
# bench/dissect_api.sh — kdissect on API-shaped traffic: many small calls, not a few big bodies.
#
# Makes (once, reused from bench/data/) two call-dense captures with real programs in a network
# namespace this script creates, captured by tcpdump on its loopback (MTU 1500, offloads off):
#   api-one.pcap   every client on one address pair (10.78.0.1 -> 10.78.0.1:8080): what one busy
#                  client/server pair looks like; -j shards it by connection (not by address pair)
#   api-spread.pcap the same load spread over 64 server addresses (10.78.1.1-64, 64 address pairs)
# The server is nginx (small JSON answers: 200 for /api/v1/{orders,users,items}/<id>, 201 for
# POSTs, 404 for /api/v1/missing/<id>, 503 for /api/v1/flaky/<id>, 429 sometimes); the clients are
# wrk with a Lua script (tests keep-alive calls: GET/POST mix, numeric and UUID ids, query
# strings, JSON bodies), ab without keep-alive (connection churn) and dnsperf against dnsmasq.
# Then for each capture: records/s and MB/s per core (CPU time) for -j 1 and -j 2, peak RSS, and
# the same capture through tshark -T fields and -T ek in the same run, as ratios.
#
# Goals (issue 15): >= 250k HTTP records/s per core with the default record, >= 200 MB/s per
# core; -j 2 >= 1.8x -j 1 on both shapes; peak RSS <= 128 MiB at -j 1, <= 256 MiB at -j 2.
# Needs root (netns) to make the captures, and nginx-light, wrk, apache2-utils, dnsperf,
# dnsmasq-base, tcpdump, tshark (apt-get install them; this script does not install anything).
# Env: KF_BIN, KF_BENCH_SECONDS (load per phase, default 12), KF_BENCH_RUNS (best of, default 3),
#      KF_BENCH_TSHARK_MB (tshark runs on this prefix, default 30), KF_BENCH_REMAKE=1.
. "$(dirname "$0")/lib.sh"
kf_bench_init dissect_api.sh
SECS=${KF_BENCH_SECONDS:-12}
TMB=${KF_BENCH_TSHARK_MB:-30}
KF_NEED_HINT="apt-get install nginx-light wrk apache2-utils dnsperf dnsmasq-base tcpdump tshark"
need() { kf_need "$@"; }

make_capture() { # $1 shape (one|spread) $2 output
  local shape=$1 out=$2 ns=kfapi$$ work
  [ "$(id -u)" -eq 0 ] || { echo "dissect_api.sh: making the capture needs root (network namespace)" >&2; exit 1; }
  need nginx wrk ab dnsperf dnsmasq tcpdump
  work=$(mktemp -d)
  cleanup() {
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    for _ in $(seq 30); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.1; done
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
  }
  trap 'cleanup; rm -rf "$WORK"' EXIT
  ip netns add "$ns"
  ip -n "$ns" link set lo mtu 1500 up
  ip netns exec "$ns" ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true
  ip -n "$ns" addr add 10.78.0.1/32 dev lo
  local targets=(10.78.0.1)
  if [ "$shape" = spread ]; then
    targets=()
    for i in $(seq 1 64); do ip -n "$ns" addr add "10.78.1.$i/32" dev lo; targets+=("10.78.1.$i"); done
  fi
  mkdir -p "$work/ng"
  cat > "$work/ng/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/ng/nginx.pid;
error_log $work/ng/error.log crit;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/ng; proxy_temp_path $work/ng; fastcgi_temp_path $work/ng;
  uwsgi_temp_path $work/ng; scgi_temp_path $work/ng;
  keepalive_requests 1000000;
  default_type application/json;
  server {
    listen 8080 reuseport;
    location ~ ^/api/v1/missing/ { return 404 '{"error":"not found"}'; }
    location ~ ^/api/v1/flaky/   { return 503 '{"error":"upstream unavailable"}'; }
    location ~ ^/api/v1/limited/ { return 429 '{"error":"slow down"}'; }
    location ~ ^/api/v1/ {
      if (\$request_method = POST) { return 201 '{"id":"c0ffee","status":"created"}'; }
      return 200 '{"id":42,"name":"widget","price":12.5,"tags":["a","b"],"owner":{"id":7}}';
    }
    location / { return 200 'ok'; }
  }
}
EOF
  cat > "$work/mix.lua" <<'EOF'
-- a GET/POST mix over templated paths: numeric ids, UUIDs, query strings, 4xx/5xx endpoints
local n = 0
local kinds = { "orders", "users", "items", "orders", "users", "missing", "flaky", "limited" }
local function uuid(i)
  return string.format("%08x-%04x-4%03x-a%03x-%012x", i * 2654435761 % 4294967296, i % 65536,
                       i % 4096, (i * 7) % 4096, i * 40503 % 281474976710656)
end
request = function()
  n = n + 1
  local k = kinds[n % #kinds + 1]
  local id = (n % 3 == 0) and uuid(n) or tostring(n * 7919 % 100000)
  if n % 5 == 0 then
    local body = string.format('{"sku":"SKU-%d","qty":%d,"note":"bench"}', n % 977, n % 9 + 1)
    return wrk.format("POST", "/api/v1/" .. k .. "/" .. id, { ["Content-Type"] = "application/json" }, body)
  end
  return wrk.format("GET", "/api/v1/" .. k .. "/" .. id .. "?page=" .. (n % 20) .. "&sort=desc",
                    { ["Accept"] = "application/json", ["X-Request-Id"] = tostring(n) })
end
EOF
  for i in $(seq 1 4000); do echo "svc$i.bench.test A"; echo "api-$i.svc.cluster.local AAAA"; echo "nx$i.missing.test A"; done > "$work/names"
  ip netns exec "$ns" nginx -c "$work/ng/nginx.conf" -p "$work/ng" &
  ip netns exec "$ns" dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=10.78.0.1 \
    --bind-interfaces --port=53 --address=/bench.test/10.78.0.9 --address=/svc.cluster.local/fd00::10 \
    --cache-size=0 --pid-file="$work/dnsmasq.pid" 2>/dev/null &
  local up=0
  for _ in $(seq 100); do
    ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/10.78.0.1/8080' 2>/dev/null && { up=1; break; }
    sleep 0.05
  done
  [ $up = 1 ] || { echo "dissect_api.sh: nginx did not start" >&2; exit 1; }
  ip netns exec "$ns" tcpdump -q -i lo -s 0 -B 65536 -w "$out.tmp" 2>"$work/tcpdump.log" &
  local tdpid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/tcpdump.log" 2>/dev/null && break; sleep 0.05; done
  local per=$(( ${#targets[@]} > 8 ? 1 : 8 )) clients=()
  for t in "${targets[@]}"; do
    ip netns exec "$ns" wrk -t1 -c"$per" -d"${SECS}s" -s "$work/mix.lua" "http://$t:8080" >/dev/null 2>&1 &
    clients+=($!)
  done
  # connection churn: one call per connection
  ip netns exec "$ns" ab -q -n 20000 -c 4 -t "$SECS" "http://10.78.0.1:8080/api/v1/orders/17?churn=1" >/dev/null 2>&1 &
  clients+=($!)
  ip netns exec "$ns" dnsperf -s 10.78.0.1 -d "$work/names" -l "$SECS" -Q 3000 >/dev/null 2>&1 &
  clients+=($!)
  wait "${clients[@]}" 2>/dev/null || true
  kill -INT "$tdpid" 2>/dev/null || true
  wait "$tdpid" 2>/dev/null || true
  cleanup
  trap 'rm -rf "$WORK"' EXIT
  mv "$out.tmp" "$out"
}

for shape in one spread; do
  f=$DATA/api-$shape.pcap
  if [ ! -s "$f" ] || [ "${KF_BENCH_REMAKE:-0}" = 1 ]; then
    echo "dissect_api.sh: making $f (${SECS}s of load)" >&2
    make_capture "$shape" "$f"
  fi
done

work=$WORK
measure() { kf_measure "$@"; }
per() { kf_per "$@"; }

for shape in one spread; do
  f=$DATA/api-$shape.pcap
  kf_warm "$f"
  bytes=$(stat -c %s "$f"); mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
  pk=$(capinfos -c -M "$f" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')
  "$KF_BIN/kdissect" "$f" > "$work/rec.ndjson" 2>/dev/null || true
  recs=$(wc -l < "$work/rec.ndjson")
  http=$(grep -c '"http":true' "$work/rec.ndjson" || true)
  outmb=$(awk -v b="$(stat -c %s "$work/rec.ndjson")" 'BEGIN { printf "%.0f", b / 1048576 }')
  echo "== $shape: $f ($mb MB, $pk packets): $recs records ($http HTTP), $outmb MB of NDJSON"
  read -r w1 c1 r1 <<< "$(measure "$KF_BIN/kdissect" -j 1 "$f")"
  read -r w2 c2 r2 <<< "$(measure "$KF_BIN/kdissect" -j 2 "$f")"
  echo "kdissect -j 1: wall ${w1}s cpu ${c1}s -> $(per "$recs" "$c1") records/s per core, $(per "$http" "$c1") HTTP records/s, $(per "$mb" "$c1") MB/s per core; peak RSS $((r1 / 1024)) MiB"
  echo "kdissect -j 2: wall ${w2}s cpu ${c2}s -> speed-up $(awk -v a="$w1" -v b="$w2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')x wall; peak RSS $((r2 / 1024)) MiB"
  if command -v tshark >/dev/null; then
    pre=$work/prefix.pcap
    editcap -r "$f" "$pre" "1-$(( pk * TMB * 1048576 / bytes + 1 ))" 2>/dev/null
    pmb=$(awk -v b="$(stat -c %s "$pre")" 'BEGIN { printf "%.2f", b / 1048576 }')
    read -r _ tc _ <<< "$(KF_BENCH_RUNS=1 measure tshark -n -r "$pre" -T fields -e http.request.method -e http.response.code)"
    read -r _ te _ <<< "$(KF_BENCH_RUNS=1 measure tshark -n -r "$pre" -T ek)"
    read -r _ kc _ <<< "$(measure "$KF_BIN/kdissect" "$pre")"
    echo "on the first $pmb MB: kdissect cpu ${kc}s, tshark -T fields ${tc}s ($(awk -v a="$tc" -v b="$kc" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')x), tshark -T ek ${te}s ($(awk -v a="$te" -v b="$kc" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')x)"
  fi
done
kf_load_note
