#!/usr/bin/env bash
# bench/kfl.sh — kfl against jq on the same predicate, in one run.
# Makes bench/data/kfl-<MB>MB.ndjson (realistic kdissect-like records; reused when present),
# then times:  kfl 'http && status_code >= 500' | wc -l
#        and:  jq -c 'select(.http == true and .status_code >= 500)' | wc -l
# prints MB/s for both and the ratio, and checks both selected the same count.
# Env: KF_BIN (folder with kfl, default ./bin), KF_BENCH_MB (size, default 1024; 100 for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${KF_BIN:-$PWD/bin}
MB=${KF_BENCH_MB:-1024}
DATA=bench/data/kfl-${MB}MB.ndjson
mkdir -p bench/data
command -v jq >/dev/null || { echo "bench/kfl.sh: jq is not installed" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/kfl.sh: needs /usr/bin/time (Debian package 'time')" >&2; exit 2; }
[ -x "$BIN/kfl" ] || { echo "bench/kfl.sh: $BIN/kfl not built (make tools)" >&2; exit 2; }

if [ ! -s "$DATA" ]; then
  echo "generating $DATA (${MB} MB)…" >&2
  python3 tests/kfl/gen_records.py "$DATA.tmp" "$MB"
  mv "$DATA.tmp" "$DATA"
fi

bytes=$(stat -c %s "$DATA")
cat "$DATA" > /dev/null   # warm the page cache for both
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# elapsed, user and system seconds of each; the machine may be shared, so both wall-clock and
# CPU-time ("per core") rates are printed
/usr/bin/time -f '%e %U %S' -o "$T/kfl" "$BIN/kfl" 'http && status_code >= 500' "$DATA" | wc -l > "$T/n_kfl"
/usr/bin/time -f '%e %U %S' -o "$T/jq" jq -c 'select(.http == true and .status_code >= 500)' "$DATA" | wc -l > "$T/n_jq"
/usr/bin/time -f '%M' -o "$T/rss" "$BIN/kfl" -c 'http && status_code >= 500' "$DATA" > /dev/null
read -r ek uk sk < "$T/kfl"; read -r ej uj sj < "$T/jq"
awk -v b="$bytes" -v ek="$ek" -v uk="$uk" -v sk="$sk" -v ej="$ej" -v uj="$uj" -v sj="$sj" \
    -v nk="$(tr -d ' ' < "$T/n_kfl")" -v nj="$(tr -d ' ' < "$T/n_jq")" -v rss="$(cat "$T/rss")" 'BEGIN {
  mb = b / 1048576; ck = uk + sk; cj = uj + sj
  if (ek <= 0) ek = 0.01
  if (ck <= 0) ck = 0.01
  if (cj <= 0) cj = 0.01
  printf "input: %.0f MB, predicate: http && status_code >= 500\n", mb
  printf "kfl: %8.1f MB/s wall (%.2f s), %8.1f MB/s per core (%.2f s CPU), %d selected, max RSS %d KB\n", mb / ek, ek, mb / ck, ck, nk, rss
  printf "jq:  %8.1f MB/s wall (%.2f s), %8.1f MB/s per core (%.2f s CPU), %d selected\n", mb / ej, ej, mb / cj, cj, nj
  printf "ratio kfl/jq: %.1fx wall, %.1fx CPU\n", ej / ek, cj / ck
  if (nk != nj) { print "MISMATCH: kfl and jq selected different counts"; exit 1 }
}'
