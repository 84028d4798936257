#!/usr/bin/env bash
# bench/tls.sh — kdissect's TLS decryption against tshark with the same key log, in one run:
# CPU seconds (user + sys) and MB of capture per CPU second, best of KF_BENCH_RUNS (default 3).
# The capture is bench/data/tlsbulk.pcap + tlsbulk.keys: real curl (OpenSSL) fetching 1 MiB bodies
# over TLS 1.3 (three suites), TLS 1.2 (AES-GCM, ChaCha20-Poly1305, AES-CBC-SHA256) and HTTP/2,
# made in a network namespace by tests/l7live/capture-tlsbulk.sh when missing (needs root).
# Also: kdissect on the same capture without keys (the handshakes only), so the difference is
# what decrypting costs. Then what ksnap capture --tls costs per captured call (below).
# Env: KF_BIN, KF_BENCH_RUNS, KF_TLSBULK_N (bodies per connection, 8), KF_TLSCALLS_N.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KF_BIN=${KF_BIN:-$ROOT/bin}
DATA=$ROOT/bench/data
CAP=$DATA/tlsbulk.pcap KEYS=$DATA/tlsbulk.keys
RUNS=${KF_BENCH_RUNS:-3}
export TZ=UTC LC_ALL=C
if [ ! -s "$CAP" ] || [ ! -s "$KEYS" ]; then
  echo "tls.sh: $CAP missing: making it with tests/l7live/capture-tlsbulk.sh" >&2
  mkdir -p "$DATA"
  tests/l7live/capture-tlsbulk.sh "$DATA" >&2 || { echo "tls.sh: could not make the capture (root and netns needed)" >&2; exit 1; }
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mb=$(awk -v b="$(stat -c %s "$CAP")" 'BEGIN { printf "%.1f", b / 1048576 }')
cat "$CAP" > /dev/null

# CMD... -> "cpu wall" of the run with the least CPU among RUNS
measure() {
  local best="" i out
  for ((i = 0; i < RUNS; i++)); do
    /usr/bin/time -o "$work/time" -f "%U %S %e" "$@" > /dev/null 2>/dev/null || true
    out=$(tail -1 "$work/time" | awk '{ printf "%.2f %s", $1 + $2, $3 }')
    if [ -z "$best" ] || awk -v a="${out%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then best=$out; fi
  done
  echo "$best"
}
rate() { awk -v m="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.0f", m / t; else printf ">%.0f", m / 0.01 }'; }

ts=(tshark -r "$CAP" -o "tls.keylog_file:$KEYS" -Y 'http.request or http2.headers.method' -T fields -e http.request.uri -e http2.headers.path)
ours=$("$KF_BIN/kdissect" --no-conn --tls-keylog "$KEYS" "$CAP" | jq -r 'select(.tls) | .url // .path' | wc -l)
theirs=$("${ts[@]}" 2>/dev/null | wc -l)
echo "capture: $CAP ($mb MB); calls decrypted: kdissect $ours, tshark $theirs"
read -r kc kw <<< "$(measure "$KF_BIN/kdissect" --no-conn --tls-keylog "$KEYS" "$CAP")"
read -r nc nw <<< "$(measure "$KF_BIN/kdissect" --no-conn "$CAP")"
read -r tc tw <<< "$(measure "${ts[@]}")"
echo "kdissect --tls-keylog: cpu ${kc}s wall ${kw}s -> $(rate "$mb" "$kc") MB/s per core"
echo "kdissect, no keys:     cpu ${nc}s wall ${nw}s -> $(rate "$mb" "$nc") MB/s per core (handshakes only)"
echo "tshark with the keys:  cpu ${tc}s wall ${tw}s -> $(rate "$mb" "$tc") MB/s per core"
echo "ratio (tshark cpu / kdissect cpu, decrypting): $(awk -v a="$tc" -v b="$kc" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }')"

# ---- ksnap capture --tls: what the uprobes cost, per captured call -----------------------------
# In a network namespace: one Python client making KF_TLSCALLS_N (default 3000) keep-alive HTTPS
# requests over one TLS 1.3 connection to tests/l7live/https_server.py, both on the system's
# libssl; ksnap capture -i lo runs without, then with --tls. Measured: ksnap's CPU, the client's
# and the server's CPU (the uprobes' traps are paid by the probed processes), and the calls
# ksnap captured (its --stats line). Needs root.
if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
  echo "ksnap --tls cost: skipped (needs root and network namespaces)"
  exit 0
fi
N=${KF_TLSCALLS_N:-3000}
NS=kfbench_tls_$$
ip netns add "$NS"
ip -n "$NS" link set lo up
trap 'ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=kf.test \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat > "$work/client.py" <<'PY'
import http.client, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx)
for i in range(int(sys.argv[2])):
    c.request("GET", "/bench/%d" % i); c.getresponse().read()
PY
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # user + system, clock ticks
HZ=$(getconf CLK_TCK)
one_run() { # extra ksnap options... -> "ksnap_cpu client_cpu server_cpu calls"
  local port=$((30000 + RANDOM % 20000)) st="$work/store$RANDOM"
  ip netns exec "$NS" python3 tests/l7live/https_server.py 127.0.0.1 "$port" "$work/cert.pem" "$work/key.pem" >/dev/null 2>&1 &
  local sv=$!
  for _ in $(seq 100); do ip netns exec "$NS" bash -c "exec 9<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break; sleep 0.1; done
  ip netns exec "$NS" "$KF_BIN/ksnap" capture --dir "$st" --node n1 -i lo --stats 1h -v -f "tcp port $port" "$@" 2>"$work/ks.err" &
  local ks=$!
  for _ in $(seq 100); do grep -q ': capturing' "$work/ks.err" && { [ $# -eq 0 ] || grep -q -- '--tls: uprobes\|--tls:.*without' "$work/ks.err"; } && break; sleep 0.1; done
  local s0 k0 c
  s0=$(ticks "$sv"); k0=$(ticks "$ks")
  c=$( { /usr/bin/time -f "%U %S" ip netns exec "$NS" python3 "$work/client.py" "$port" "$N" >/dev/null; } 2>&1 | tail -1 | awk '{ print $1 + $2 }')
  local s1 k1
  s1=$(ticks "$sv"); k1=$(ticks "$ks")
  kill -TERM "$ks"; wait "$ks" || true
  kill "$sv"; wait "$sv" 2>/dev/null || true
  local calls
  calls=$(sed -n 's/.*tls: \([0-9]*\) calls.*/\1/p' "$work/ks.err" | tail -1)
  echo "$(awk -v a="$k0" -v b="$k1" -v hz="$HZ" 'BEGIN { printf "%.3f", (b - a) / hz }') $c $(awk -v a="$s0" -v b="$s1" -v hz="$HZ" 'BEGIN { printf "%.3f", (b - a) / hz }') ${calls:-0}"
  rm -rf "$st"
}
read -r k_off c_off s_off _ <<< "$(one_run)"
read -r k_on c_on s_on calls <<< "$(one_run --tls)"
echo "ksnap --tls cost: $N HTTPS requests on one keep-alive connection; $calls calls captured with --tls"
echo "  ksnap CPU:           ${k_off}s without --tls, ${k_on}s with -> $(awk -v a="$k_off" -v b="$k_on" -v n="$calls" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / n; else printf "n/a" }') us per captured call"
echo "  client + server CPU: $(awk -v a="$c_off" -v b="$s_off" 'BEGIN { printf "%.2f", a + b }')s without, $(awk -v a="$c_on" -v b="$s_on" 'BEGIN { printf "%.2f", a + b }')s with -> $(awk -v a="$c_off" -v b="$s_off" -v c="$c_on" -v d="$s_on" -v n="$calls" 'BEGIN { if (n > 0) printf "%.1f", ((c + d) - (a + b)) * 1e6 / n; else printf "n/a" }') us per captured call (the uprobes' traps)"
