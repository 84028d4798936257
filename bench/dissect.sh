#!/usr/bin/env bash
# bench/dissect.sh — kdissect against tshark on the same HTTP/1.1 keep-alive + DNS capture, in
# one run: throughput (wall and CPU), peak RSS (and whether it stays flat when the input
# doubles), and -j scaling.
#
# The capture is bench/data/http-dns.pcap, made by real programs (a Python HTTP/1.1 keep-alive
# server, 16 curl clients and 4 dig clients, each with an address of its own, dnsmasq) in a
# network namespace by bench/read.sh; reused when present, made by running bench/read.sh once
# otherwise.
# tshark is timed on a prefix (KF_BENCH_TSHARK_MB, default 40 MB) because it runs at a few MB/s;
# its rate is per MB like ours. Goals (issue 5): >= 500 MB/s per core with NDJSON to /dev/null,
# peak RSS <= 128 MiB and flat when the input doubles, -j 2 >= 1.8x.
# Env: KF_BIN, KF_BENCH_FILE, KF_BENCH_RUNS (best of, default 2), KF_BENCH_JRUNS (-j runs, default 9),
# KF_BENCH_TSHARK_MB.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KF_BIN=${KF_BIN:-$ROOT/bin}
DATA=$ROOT/bench/data
CAP=${KF_BENCH_FILE:-$DATA/http-dns.pcap}
RUNS=${KF_BENCH_RUNS:-2}
TMB=${KF_BENCH_TSHARK_MB:-60}
export TZ=UTC LC_ALL=C

if [ ! -f "$CAP" ]; then
  echo "dissect.sh: $CAP missing: making it with bench/read.sh" >&2
  KF_BENCH_RUNS=1 bench/read.sh >&2
fi
[ -f "$CAP" ] || { echo "dissect.sh: no capture" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bytes=$(stat -c %s "$CAP")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')

# run CMD... -> "wall cpu maxrss_kb" of the best (lowest wall) of RUNS runs
measure() {
  local best="" i out
  for ((i = 0; i < RUNS; i++)); do
    /usr/bin/time -o "$work/time" -f "%e %U %S %M" "$@" > /dev/null 2>/dev/null || true
    out=$(tail -1 "$work/time")
    out=$(awk '{ printf "%s %.2f %s", $1, $2 + $3, $4 }' <<< "$out")
    if [ -z "$best" ] || awk -v a="${out%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then best=$out; fi
  done
  echo "$best"
}
rate() { awk -v m="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? m / t : 0) }'; }

# read the file once first: the page cache may have dropped it (some VMs reclaim idle cache), and a
# cold read is the disk's time, not ours
cat "$CAP" > /dev/null
echo "capture: $CAP ($mb MB, $(capinfos -c -M "$CAP" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}') packets)"
read -r kw kc kr <<< "$(measure "$KF_BIN/kdissect" "$CAP")"
read -r sw sc sr <<< "$(measure sh -c "'$KF_BIN/kdissect' - < '$CAP'")"
recs=$("$KF_BIN/kdissect" --stats "$CAP" 2>&1 >/dev/null | awk '/^records / {print $2}')
echo "kdissect:        wall ${kw}s  cpu ${kc}s  -> $(rate "$mb" "$kw") MB/s wall, $(rate "$mb" "$kc") MB/s per core (cpu); $recs records"
echo "kdissect (stdin): wall ${sw}s cpu ${sc}s; peak RSS $((sr / 1024)) MiB (file input, mmap'd pages counted: $((kr / 1024)) MiB)"

# input doubled vs this input: RSS must stay flat. The first half is made with editcap.
half=$work/half.pcap
total=$(capinfos -c -M "$CAP" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')
editcap -r "$CAP" "$half" "1-$((total / 2))" 2>/dev/null
read -r hw hc hr <<< "$(measure sh -c "'$KF_BIN/kdissect' - < '$half'")"
echo "RSS: half input $((hr / 1024)) MiB, full input $((sr / 1024)) MiB (ratio $(awk -v a="$sr" -v b="$hr" 'BEGIN { printf "%.2f", a / b }'))"

# -j 2 against -j 1, alternating (so both see the same machine), best of KF_BENCH_JRUNS each
# (and the median, since a VM's timings drift with its host). Wall time in ms from date(1):
# time(1)'s 10 ms steps alone move a 0.45 s run's ratio by 2%.
# The capture has 16 HTTP and 4 DNS clients of their own addresses: -j shards by address pair,
# so a capture of one busy pair cannot go faster.
JRUNS=${KF_BENCH_JRUNS:-9}
: > "$work/j1"; : > "$work/j2"
for ((i = 0; i < JRUNS; i++)); do
  for j in 1 2; do
    t0=$(date +%s%N)
    /usr/bin/time -o "$work/time" -f "%U %S" "$KF_BIN/kdissect" -j $j "$CAP" > /dev/null 2>/dev/null || true
    t1=$(date +%s%N)
    read -r u s < "$work/time"
    echo "$(( (t1 - t0) / 1000000 )) $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')" >> "$work/j$j"
  done
done
best() { sort -n "$1" | head -1; }
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
b1=$(best "$work/j1") b2=$(best "$work/j2") m1=$(median "$work/j1") m2=$(median "$work/j2")
echo "kdissect -j 1 / -j 2 (alternating, $JRUNS runs each): best wall ${b1%% *} / ${b2%% *} ms (cpu ${b1##* }s / ${b2##* }s) -> speed-up $(awk -v a="${b1%% *}" -v b="${b2%% *}" 'BEGIN { printf "%.2f", a / b }')x; median ${m1} / ${m2} ms -> $(awk -v a="$m1" -v b="$m2" 'BEGIN { printf "%.2f", a / b }')x (goal >= 1.8x on 2 cores)"

# tshark on a prefix
if command -v tshark >/dev/null; then
  pre=$work/prefix.pcap
  editcap -r "$CAP" "$pre" "1-$((total * TMB * 1048576 / bytes))" 2>/dev/null
  pmb=$(awk -v b="$(stat -c %s "$pre")" 'BEGIN { printf "%.1f", b / 1048576 }')
  RUNS=1 read -r tw tc tr <<< "$(RUNS=1 measure tshark -n -r "$pre" -T fields -e http.request.method -e http.response.code)"
  read -r pw pc pr <<< "$(measure "$KF_BIN/kdissect" "$pre")"
  tr_=$(rate "$pmb" "$tw"); kr_=$(rate "$pmb" "$pw")
  echo "tshark (first $pmb MB): wall ${tw}s cpu ${tc}s -> $tr_ MB/s wall, $(rate "$pmb" "$tc") MB/s cpu; kdissect on the same prefix: $kr_ MB/s wall"
  echo "ratio kdissect/tshark (whole-file rate vs tshark's, wall): $(awk -v a="$(rate "$mb" "$kw")" -v b="$tr_" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')x; cpu: $(awk -v a="$(rate "$mb" "$kc")" -v b="$(rate "$pmb" "$tc")" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')x"
fi
echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wall times suffer when others run)"
