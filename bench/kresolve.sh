#!/usr/bin/env bash
# bench/kresolve.sh — kresolve over a store of 100 000 pod events (KF_BENCH_EVENTS): the goal
# is an answer in under a second. Peer: jq over the same events for the same question (which
# pods held this IP), in the same run. Also shown: the full listing (every workload).
set -euo pipefail
: "${KF_BIN:=$(cd "$(dirname "$0")/.." && pwd)/bin}"
N=${KF_BENCH_EVENTS:-100000}
W=$(mktemp -d /tmp/kf-bench-kresolve.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/st/meta"
# pods created, modified, deleted over a day, IPs drawn from a pool of 5000 so IPs are reused
python3 - "$W/st/meta/20260101T000000.000000000Z.ndjson" "$N" <<'PY'
import json, sys
out, n = open(sys.argv[1], 'w'), int(sys.argv[2])
def ts(s): return "2026-01-01T%02d:%02d:%02d.%09dZ" % (s // 3600 % 24, s // 60 % 60, s % 60, (s * 7919) % 10**9)
i = written = 0
while written < n:
    ip = "10.%d.%d.%d" % (1 + i % 5000 // 62500, i % 5000 // 250, 1 + i % 250)
    c = i * 86000 // (n // 3 + 1)
    o = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app-%d-7d9f8-x%06d" % (i % 500, i), "namespace": "ns%d" % (i % 40),
         "uid": "uid-%d" % i, "resourceVersion": str(i), "creationTimestamp": ts(c)[:19] + "Z",
         "labels": {"app": "app-%d" % (i % 500), "pod-template-hash": "7d9f8"},
         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "app-%d-7d9f8" % (i % 500), "uid": "rs-%d" % (i % 500), "controller": True}]},
         "spec": {"nodeName": "node-%d" % (i % 50)}, "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "192.168.0.%d" % (i % 50)}}
    for ty, d in (("ADDED", 0), ("MODIFIED", 2), ("DELETED", 40)):
        if written < n:
            out.write(json.dumps({"ts": ts(c + d), "type": ty, "object": o}, separators=(',', ':')) + "\n"); written += 1
    i += 1
PY
F=$W/st/meta/20260101T000000.000000000Z.ndjson
ip=10.1.0.7
# elapsed, and CPU (user+sys) in $W/cpu.<n> — on a shared machine the CPU time is steadier
t() { /usr/bin/time -o "$W/time" -f "%e %U %S" "$@" > "$W/out" || true; tail -1 "$W/time" | awk '{print $2 + $3}' > "$W/cpu"; tail -1 "$W/time" | awk '{print $1}'; }
k1=$(t "$KF_BIN/kresolve" ips "$W/st" --ip "$ip"); c1=$(cat "$W/cpu")
holders=$(jq '.records | length' "$W/out")
k2=$(t "$KF_BIN/kresolve" ips "$W/st" --ip "$ip" --at 2026-01-01T12:00:00Z)
k3=$(t "$KF_BIN/kresolve" workloads "$W/st" --name app-7-7d9f8-x000007)
k4=$(t "$KF_BIN/kresolve" workloads "$W/st"); c4=$(cat "$W/cpu")
nw=$(wc -l < "$W/out")
j1=$(t jq -c --arg ip "$ip" 'select(.object.status.podIP == $ip) | [.ts, .type, .object.metadata.name]' "$F")
printf 'events    %d (%d MB), pods %d, IP %s held by %d pods in turn (load average %s)\n' "$N" $(( $(stat -c %s "$F") >> 20 )) "$nw" "$ip" "$holders" "$(cut -d' ' -f1 /proc/loadavg)"
printf 'kresolve ips --ip              %6.3f s  (CPU %.3f s)\n' "$k1" "$c1"
printf 'kresolve ips --ip --at         %6.3f s\n' "$k2"
printf 'kresolve workloads --name      %6.3f s\n' "$k3"
printf 'kresolve workloads (all)       %6.3f s  (CPU %.3f s)\n' "$k4" "$c4"
printf 'jq select on podIP (peer)      %6.3f s\n' "$j1"
printf 'ratio kresolve ips / jq: %.2f (goal: under 1 s: %s)\n' "$(echo "$k1 / $j1" | bc -l)" "$(echo "$k1 < 1" | bc | sed 's/1/yes/;s/0/no/')"
