#!/usr/bin/env bash
# bench/tls.sh — kdissect's TLS decryption against tshark with the same key log, in one run:
# CPU seconds (user + sys) and MB of capture per CPU second, best of KF_BENCH_RUNS (default 3).
# The capture is bench/data/tlsbulk.pcap + tlsbulk.keys: real curl (OpenSSL) fetching 1 MiB bodies
# over TLS 1.3 (three suites), TLS 1.2 (AES-GCM, ChaCha20-Poly1305, AES-CBC-SHA256) and HTTP/2,
# made in a network namespace by tests/l7live/capture-tlsbulk.sh when missing (needs root).
# Also: kdissect on the same capture without keys (the handshakes only), so the difference is
# what decrypting costs. Env: KF_BIN, KF_BENCH_RUNS, KF_TLSBULK_N (bodies per connection, 8).
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
