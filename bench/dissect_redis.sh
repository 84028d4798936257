#!/usr/bin/env bash
# Benchmark (not a test): kdissect vs tshark on the same Redis capture, made by redis-benchmark
# against redis-server in a network namespace (loopback), in one run. Prints both rates and the
# ratio. Needs root, redis-server, redis-tools, tcpdump, tshark. Env: KF_BIN, N (requests per test).
set -eu
: "${KF_BIN:=$(cd "$(dirname "$0")/.." && pwd)/bin}" "${N:=100000}"
w=$(mktemp -d); ns=kfbench_redis_$$
cleanup() { ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null; sleep 0.2; ip netns del "$ns" 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
ip netns add "$ns"; ip -n "$ns" link set lo up
ip netns exec "$ns" redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
for _ in $(seq 50); do ip netns exec "$ns" redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
ip netns exec "$ns" tcpdump -i lo --immediate-mode -s 0 -B 65536 -w "$w/r.pcap" tcp port 6379 2>"$w/td.log" &
tp=$!
for _ in $(seq 50); do grep -q listening "$w/td.log" && break; sleep 0.1; done
ip netns exec "$ns" redis-benchmark -q -n "$N" -P 16 -c 8 -t set,get,incr,lpush,hset -d 64 >/dev/null
sleep 0.5; kill -INT $tp; wait $tp || true
size=$(stat -c %s "$w/r.pcap")
# CPU time (user + sys) is compared: on a shared machine wall time mostly measures the neighbours
/usr/bin/time -f "%U %S %e %M" -o "$w/k.time" "$KF_BIN/kdissect" --no-conn -p redis "$w/r.pcap" > "$w/k.ndjson"
/usr/bin/time -f "%U %S %e %M" -o "$w/t.time" tshark -r "$w/r.pcap" -Y resp -T fields -e resp.bulk_string.value > /dev/null 2>&1
calls=$(grep -c '"redis":true' "$w/k.ndjson")
read -r ku ks kw km < "$w/k.time"; read -r tu ts tw tm < "$w/t.time"
awk -v s="$size" -v n="$calls" -v ku="$ku" -v ks="$ks" -v kw="$kw" -v km="$km" -v tu="$tu" -v ts="$ts" -v tw="$tw" -v tm="$tm" 'BEGIN {
  k = ku + ks; t = tu + ts; if (k <= 0) k = 0.01
  printf "redis capture: %.1f MB, %d calls\n", s / 1e6, n
  printf "kdissect: %.2f s CPU (%.2f s wall)  %.1f MB/s  peak RSS %d MiB\n", k, kw, s / 1e6 / k, km / 1024
  printf "tshark:   %.2f s CPU (%.2f s wall)  %.1f MB/s  peak RSS %d MiB\n", t, tw, s / 1e6 / t, tm / 1024
  printf "ratio (CPU): kdissect is %.1fx faster than tshark\n", t / k }'
