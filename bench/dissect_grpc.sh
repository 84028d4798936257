#!/usr/bin/env bash
# Benchmark (not a test): kdissect vs tshark on the same gRPC capture, made by the @grpc/grpc-js
# client and server of tests/l7/grpc in a network namespace, in one run. Prints CPU time, rate,
# peak RSS and the ratio. Needs root, node, npm (first run), tcpdump, tshark.
# Env: KF_BIN, N (unary calls; default 20000).
set -eu
here=$(cd "$(dirname "$0")/../tests/l7" && pwd)
: "${KF_BIN:=$here/../../bin}" "${N:=20000}"
np=$("$here/grpc/setup.sh")
w=$(mktemp -d); ns=kfbench_grpc_$$
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null; sleep 0.2; ip netns del "$ns" 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
ip netns add "$ns"; ip -n "$ns" link set lo up
ip netns exec "$ns" env NODE_PATH="$np" node "$here/grpc/server.js" 127.0.0.1:50051 >"$w/gs.log" 2>&1 &
for _ in $(seq 100); do grep -q listening "$w/gs.log" 2>/dev/null && break; sleep 0.1; done
ip netns exec "$ns" tcpdump -i lo --immediate-mode -s 0 -B 65536 -w "$w/g.pcap" tcp port 50051 2>"$w/td.log" &
tp=$!
for _ in $(seq 50); do grep -q listening "$w/td.log" && break; sleep 0.1; done
ip netns exec "$ns" env NODE_PATH="$np" node "$here/grpc/client.js" 127.0.0.1:50051 "$N" >/dev/null
sleep 0.5; kill -INT $tp; wait $tp || true
size=$(stat -c %s "$w/g.pcap")
/usr/bin/time -f "%U %S %e %M" -o "$w/k.time" "$KF_BIN/kdissect" --no-conn -p http2 "$w/g.pcap" > "$w/k.ndjson"
/usr/bin/time -f "%U %S %e %M" -o "$w/t.time" tshark -r "$w/g.pcap" -d tcp.port==50051,http2 -Y grpc \
  -T fields -e http2.headers.path -e grpc.message_length > /dev/null 2>&1
calls=$(grep -c '"grpc":true' "$w/k.ndjson")
read -r ku ks kw km < "$w/k.time"; read -r tu ts tw tm < "$w/t.time"
awk -v s="$size" -v n="$calls" -v ku="$ku" -v ks="$ks" -v kw="$kw" -v km="$km" -v tu="$tu" -v ts="$ts" -v tw="$tw" -v tm="$tm" 'BEGIN {
  k = ku + ks; t = tu + ts; if (k <= 0) k = 0.01
  printf "grpc capture: %.1f MB, %d calls\n", s / 1e6, n
  printf "kdissect: %.2f s CPU (%.2f s wall)  %.1f MB/s  peak RSS %d MiB\n", k, kw, s / 1e6 / k, km / 1024
  printf "tshark:   %.2f s CPU (%.2f s wall)  %.1f MB/s  peak RSS %d MiB\n", t, tw, s / 1e6 / t, tm / 1024
  printf "ratio (CPU): kdissect is %.1fx faster than tshark\n", t / k }'
