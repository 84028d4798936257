# bench/lib.sh — what the benchmarks share for measuring (sourced, not run: `make bench` skips it).
#
#   . "$(dirname "$0")/lib.sh"; kf_bench_init NAME
# sets ROOT (the checkout; the script runs from there), KF_BIN (default $ROOT/bin), DATA
# ($ROOT/bench/data, created: inputs are made once and reused), WORK (a temp dir removed on exit),
# TZ=UTC LC_ALL=C, and checks python3 (bench/rusage.py times the runs).
#
# The machine is shared (other builds, nice-19 fuzzers): compare CPU time (user + system), not
# wall time; a benchmark that prints wall times also prints kf_load_note.
#
#   kf_time OUT CMD...      one run of CMD (stdout to /dev/null unless redirected by the caller
#                           through kf_time_to), "wall user sys maxrss_kb" into OUT (seconds to the
#                           microsecond: bench/rusage.py; GNU time's hundredths are 5 % of 0.2 s)
#   kf_time_to OUT STDOUT CMD...  the same, CMD's stdout into STDOUT
#   kf_measure CMD...       best (least CPU) of KF_BENCH_RUNS runs (default 3): "wall cpu maxrss_kb"
#   kf_per N SECONDS        N / SECONDS, rounded
#   kf_need CMD...          exits 2 naming the first command missing
#   kf_warm FILE...         reads the files once (the page cache, not the disk, is measured)
#   kf_load_note            "machine load: …" (why wall times vary)

kf_bench_init() {
  KF_BENCH_NAME=$1
  set -euo pipefail
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  cd "$ROOT"
  KF_BIN=${KF_BIN:-$ROOT/bin}
  DATA=$ROOT/bench/data
  export TZ=UTC LC_ALL=C
  mkdir -p "$DATA"
  command -v python3 >/dev/null || { echo "$KF_BENCH_NAME: needs python3 (bench/rusage.py times the runs)" >&2; exit 2; }
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
}

kf_need() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null || { echo "$KF_BENCH_NAME: $c is not installed${KF_NEED_HINT:+ ($KF_NEED_HINT)}" >&2; exit 2; }
  done
}

kf_warm() { cat "$@" > /dev/null; }

kf_time() { local out=$1; shift; "$ROOT/bench/rusage.py" "$out" "$@" > /dev/null; }
kf_time_to() { local out=$1 so=$2; shift 2; "$ROOT/bench/rusage.py" "$out" "$@" > "$so"; }

kf_measure() {
  local best="" i out runs=${KF_BENCH_RUNS:-3}
  for ((i = 0; i < runs; i++)); do
    "$ROOT/bench/rusage.py" "$WORK/.time" "$@" > /dev/null 2>/dev/null || true
    out=$(tail -1 "$WORK/.time")
    out=$(awk '{ printf "%.3f %.3f %s", $1, $2 + $3, $4 }' <<< "$out")
    if [ -z "$best" ] || awk -v a="$(cut -d' ' -f2 <<< "$out")" -v b="$(cut -d' ' -f2 <<< "$best")" 'BEGIN { exit !(a < b) }'; then best=$out; fi
  done
  echo "$best"
}

kf_per() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }

kf_load_note() { echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wall times suffer when others run; CPU times are the measure)"; }
